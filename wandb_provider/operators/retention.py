"""Retention: delete old versions of a collection on a schedule, safely by default."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._values import duration
from ._base import ArgumentCheck, WandbBaseOperator

if TYPE_CHECKING:
    from ..client import ArtifactVersion

DEFAULT_PROTECTED_ALIASES = ("production",)


def _collection(name: str, value: Any) -> str:
    """A whole collection, ``[entity/]project/collection``: no alias or version."""
    from ..client.errors import InvalidArtifactPathError, InvalidValueError
    from ..client.paths import ArtifactPath

    if not isinstance(value, str):
        raise InvalidValueError(f"{name} must be text, not {type(value).__name__}.")
    path = ArtifactPath.parse(value.strip(), default_entity="e", default_project="p")
    if path.alias is not None:
        raise InvalidArtifactPathError(
            f"{name} {value!r} names an alias; retention works on a whole collection.")
    return value.strip()


class DeleteArtifactVersionsOperator(WandbBaseOperator):
    """
    Delete all but the newest ``keep_last`` versions of a collection (dry run by default).

    The plan comes from one listing; then each version is read again immediately before it is
    deleted, and kept if it now holds an alias other than ``latest`` (with ``keep_aliased=True``),
    holds a protected alias (with any ``keep_aliased`` and whatever the key's role, admins
    included), is linked into any other collection (a registry or portfolio: deleting it would
    empty that link), or gained an alias since the listing. Only ``latest`` is ever dropped with a
    delete; W&B then refuses the delete if the version gained an alias meanwhile. In a link
    collection (a portfolio, e.g. a registry) versions are unlinked, not deleted. See
    ``WandbClient.delete_if_unclaimed`` for what W&B cannot guarantee.

    :param collection: ``[entity/]project/collection``. (templated)
    :param keep_last: How many of the newest versions to keep whatever their age.
    :param keep_aliased: Keep every version that has an alias other than ``latest``. With ``False``,
        aliased versions may go (their aliases with them), except those holding a protected alias;
        ``keep_last=0`` with ``keep_aliased=False`` is refused unless it is a dry run.
    :param protected_aliases: Aliases that always keep a version (default ``("production",)``). In
        a registry every alias but ``latest`` counts as protected: W&B does not tell clients which are.
    :param older_than: Only delete versions created longer ago than this (seconds, timedelta or
        ISO 8601 duration such as ``"P30D"``). (templated)
    :param dry_run: Log and return what would be deleted, and delete nothing.
    :return: JSON-safe dict: ``deleted`` (or ``would_delete``), ``kept`` and why, and ``gone``
        (versions someone else removed first).
    """

    template_fields: Sequence[str] = ("collection", "older_than")
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "collection": _collection,
        "older_than": duration,
    }

    def __init__(
        self,
        *,
        collection: str,
        keep_last: int,
        keep_aliased: bool = True,
        protected_aliases: Sequence[str] = DEFAULT_PROTECTED_ALIASES,
        older_than: dt.timedelta | int | float | str | None = None,
        dry_run: bool = True,
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        if not isinstance(wandb_conn_id, str) or not wandb_conn_id.strip():
            from ..client.errors import InvalidValueError

            raise InvalidValueError(f"{type(self).__name__}(task_id={kwargs.get('task_id')!r}): wandb_conn_id must be "
                                    f"a connection id, not {wandb_conn_id!r}.")
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.collection = collection
        self.keep_last = keep_last
        self.keep_aliased = keep_aliased
        self.protected_aliases = protected_aliases
        self.older_than = older_than
        # Not `self.dry_run`: BaseOperator already has a dry_run() method.
        self.report_only = dry_run
        self._read: dict[str, str] | None = None  # the collection listed, for OpenLineage
        self._deleted: list[dict[str, Any]] = []
        self._check_arguments()

    def _check_arguments(self) -> None:
        """Arguments are checked here, when the DAG file is parsed (templated ones again after
        rendering, ``argument_checks``); a bad one raises ``InvalidValueError`` naming the task."""
        from ..client.errors import InvalidValueError
        from ..client.rules import check_alias_names

        where = f"{type(self).__name__}(task_id={self.task_id!r})"
        if not isinstance(self.collection, str) or not self.collection.strip():
            raise InvalidValueError(f"{where}: collection must be a non-empty '[entity/]project/collection'.")
        if not isinstance(self.keep_last, int) or isinstance(self.keep_last, bool) or self.keep_last < 0:
            raise InvalidValueError(f"{where}: keep_last must be a whole number >= 0, not {self.keep_last!r}.")
        for name in ("keep_aliased", "report_only"):
            if not isinstance(getattr(self, name), bool):
                shown = "dry_run" if name == "report_only" else name
                raise InvalidValueError(f"{where}: {shown} must be True or False, not {getattr(self, name)!r}.")
        self.protected_aliases = list(check_alias_names(self.protected_aliases, "protected_aliases"))
        if self.keep_last == 0 and not self.keep_aliased and not self.report_only:
            raise InvalidValueError(
                f"{where}: keep_last=0 with keep_aliased=False would delete every version of the collection.",
                hint="Keep at least one (keep_last=1), keep aliased versions, or make it a dry run.",
            )
        if not isinstance(self.older_than, str):
            try:
                duration("older_than", self.older_than)
            except InvalidValueError as exc:
                raise InvalidValueError(f"{where}: {exc.message}", hint=exc.hint) from None

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        import pendulum

        limit, collection = args["older_than"], args["collection"]
        try:
            cutoff = pendulum.now("UTC") - limit if limit else None
        except OverflowError:  # older than anything a calendar holds: no version is that old
            cutoff = pendulum.datetime(1, 1, 1, tz="UTC")
        self._read, self._deleted = None, []
        kept: dict[str, str] = {}
        doomed: list[ArtifactVersion] = []
        removed: list[str] = []
        gone: list[str] = []
        with self.wandb_client() as client:
            versions = sorted(client.versions(collection), key=lambda v: v.version_index, reverse=True)
            target = client.resolve_path(collection)  # no request: versions() resolved it already
            self._read = {"entity": str(target.entity), "project": target.project, "name": target.name}
            for position, version in enumerate(versions):
                user_aliases = [a for a in version.aliases if a != "latest"]
                if position < self.keep_last:
                    kept[version.version] = f"among the newest {self.keep_last}"
                elif self.keep_aliased and user_aliases:
                    kept[version.version] = f"has aliases {user_aliases}"
                elif version.state != "COMMITTED":
                    kept[version.version] = f"is {version.state}"
                elif cutoff and (version.created_at is None or version.created_at > cutoff):
                    kept[version.version] = f"newer than {self.older_than}"
                else:
                    doomed.append(version)
            for version in doomed:
                outcome = client.delete_if_unclaimed(
                    version, may_drop=() if self.keep_aliased else version.aliases,
                    protected_aliases=self.protected_aliases, dry_run=self.report_only,
                )
                if outcome.action == "kept":
                    kept[version.version] = outcome.reason
                    self.log.warning("Keeping %s: %s", version.qualified_name, outcome.reason)
                elif outcome.action == "gone":
                    gone.append(version.version)
                    self.log.info("%s is already gone: %s", version.qualified_name, outcome.reason)
                else:
                    removed.append(version.version)
                    if not self.report_only:
                        self._deleted.append(version.to_dict())
                    self.log.info("%s %s (aliases %s)", "Dry run: would remove" if self.report_only else "Removed",
                                  version.qualified_name, list(version.aliases))
        return {"collection": collection, "dry_run": self.report_only,
                "would_delete" if self.report_only else "deleted": removed, "kept": kept, "gone": gone}

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the collection this task read and, when it deleted versions, changed (its output
        carries ``wandb_deletedVersions``: each deleted version's index, digest and id)."""
        from ..assets import retention_lineage

        return retention_lineage(self._read, self._deleted)
