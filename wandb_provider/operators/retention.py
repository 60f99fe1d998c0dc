"""Retention: delete old versions of a collection on a schedule, safely by default."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from .._airflow import translate_errors


def _age_limit(older_than: dt.timedelta | int | float | str | None) -> dt.timedelta | None:
    if older_than is None or older_than == "":
        return None
    if isinstance(older_than, dt.timedelta):
        return older_than
    if isinstance(older_than, (int, float)):
        return dt.timedelta(seconds=older_than)
    import pendulum

    duration = pendulum.parse(older_than)
    if not isinstance(duration, dt.timedelta):
        raise ValueError(f"older_than {older_than!r} is not a duration (seconds, timedelta or ISO 8601 'P30D')")
    return duration


class DeleteArtifactVersionsOperator(BaseOperator):
    """
    Delete all but the newest ``keep_last`` versions of a collection (dry run by default).

    Never deletes a version holding a protected alias (W&B refuses; the version is reported as
    kept), nor, with ``keep_aliased=True``, one holding any alias other than ``latest``. In a link
    collection (a portfolio, e.g. a registry) versions are unlinked, not deleted.

    :param collection: ``[entity/]project/collection``. (templated)
    :param keep_last: How many of the newest versions to keep whatever their age.
    :param keep_aliased: Keep every version that has an alias other than ``latest``.
    :param older_than: Only delete versions created longer ago than this (seconds, timedelta or
        ISO 8601 duration such as ``"P30D"``). (templated)
    :param dry_run: Log and return what would be deleted, and delete nothing.
    :return: JSON-safe dict: ``deleted`` (or ``would_delete``), ``kept`` and why.
    """

    template_fields: Sequence[str] = ("collection", "older_than")

    def __init__(
        self,
        *,
        collection: str,
        keep_last: int,
        keep_aliased: bool = True,
        older_than: dt.timedelta | int | float | str | None = None,
        dry_run: bool = True,
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.collection = collection
        self.keep_last = keep_last
        self.keep_aliased = keep_aliased
        self.older_than = older_than
        # Not `self.dry_run`: BaseOperator already has a dry_run() method.
        self.report_only = dry_run
        self.wandb_conn_id = wandb_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        import pendulum
        from airflow.sdk.exceptions import AirflowFailException

        from ..client.errors import ProtectedAliasError
        from ..hooks.wandb import WandbHook

        if not isinstance(self.keep_last, int) or self.keep_last < 0:
            raise AirflowFailException(f"keep_last must be a whole number >= 0, not {self.keep_last!r}")
        try:
            limit = _age_limit(self.older_than)
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        cutoff = pendulum.now("UTC") - limit if limit else None
        kept: dict[str, str] = {}
        doomed = []
        with translate_errors(), WandbHook(wandb_conn_id=self.wandb_conn_id).get_client() as client:
            versions = sorted(client.versions(self.collection), key=lambda v: v.version_index, reverse=True)
            for position, version in enumerate(versions):
                user_aliases = [a for a in version.aliases if a != "latest"]
                if position < self.keep_last:
                    kept[version.version] = f"among the newest {self.keep_last}"
                elif self.keep_aliased and user_aliases:
                    kept[version.version] = f"has aliases {user_aliases}"
                elif cutoff and version.created_at and version.created_at > cutoff:
                    kept[version.version] = f"newer than {self.older_than}"
                else:
                    doomed.append(version)
            deleted = []
            for version in doomed:
                if self.report_only:
                    self.log.info("Dry run: would delete %s (aliases %s)", version.qualified_name,
                                  list(version.aliases))
                    continue
                try:
                    if version.is_link:
                        client.unlink(version)
                    else:
                        client.delete(version, delete_aliases=True)
                except ProtectedAliasError as exc:
                    kept[version.version] = "holds a protected alias"
                    self.log.warning("Keeping %s: %s", version.qualified_name, exc)
                    continue
                deleted.append(version.version)
                self.log.info("Deleted %s", version.qualified_name)
        names = [v.version for v in doomed]
        return {"collection": self.collection, "dry_run": self.report_only,
                "would_delete" if self.report_only else "deleted": names if self.report_only else deleted,
                "kept": kept}
