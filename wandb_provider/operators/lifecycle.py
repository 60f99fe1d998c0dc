"""Operators on a version's life: its time-to-live (W&B's ``ttl``) and deleting it safely."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .._airflow import version_xcom
from .._values import InvalidValueError, alias_list, required_text, ttl
from ._base import ArgumentCheck, WandbBaseOperator
from .artifacts import _flag
from .retention import DEFAULT_PROTECTED_ALIASES


def _version_by_index(name: str, value: Any) -> str:
    """A version named by its index (``...:vN``): an alias could point at another version on a retry.
    A path that breaks W&B's rules is the client's ``InvalidArtifactPathError`` (naming the path)."""
    from ..client.paths import ArtifactPath

    text = required_text(name, value)
    path = ArtifactPath.parse(text, default_entity="entity", default_project="project")
    if not path.is_version:
        raise InvalidValueError(
            f"{name} {text!r} does not name a version index; deleting through an alias could delete another "
            "version when the task is retried.",
            hint="Name the version, e.g. 'acme/churn/churn-model:v3' (an upstream XCom's 'qualified_name').")
    return text


def _refuse_protected_drops(drop_aliases: Sequence[str], protected_aliases: Sequence[str]) -> None:
    if protected := sorted(set(drop_aliases) & set(protected_aliases)):
        raise InvalidValueError(f"drop_aliases {protected} are protected_aliases; a protected alias always "
                                "keeps its version.")


class SetArtifactTTLOperator(WandbBaseOperator):
    """
    Set or clear a version's time-to-live (W&B's ``ttl``): W&B deletes the version soon after its
    TTL, counted from its creation, runs out.

    :param artifact: The version, e.g. ``"acme/churn/churn-dataset:v3"``; not a link (a registry
        view): W&B keeps the TTL on the source version. (templated)
    :param ttl: A duration: seconds, a ``timedelta`` or ISO 8601 text such as ``"P30D"``; ``None``
        (written in the DAG file) for no TTL, even if the team has a default; ``"inherit"`` for the
        team's default. A template that renders empty is refused. (templated)
    :param drop_aliases: Aliases the version may hold when its TTL runs out (W&B then deletes them
        with it); never a protected one. (templated)
    :param protected_aliases: Aliases that always keep a version (default ``("production",)``; in a
        registry every alias but ``latest``).

    A TTL is a delete on a timer, so it follows ``DeleteArtifactVersionOperator``'s rules: a TTL (not
    ``None``) is refused, failing the task with nothing written, when the version holds a protected
    alias, an alias not in ``drop_aliases``, is linked into another collection, or is not COMMITTED.

    :return: JSON-safe dict: the version, the TTL ``before`` and ``after`` (seconds, None or
        ``"inherit"``) and ``changed``.
    """

    template_fields: Sequence[str] = ("artifact", "ttl", "drop_aliases")
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {"artifact": required_text, "ttl": ttl,
                                                              "drop_aliases": alias_list}

    def __init__(self, *, artifact: str, ttl: Any, drop_aliases: Sequence[str] | str = (),
                 protected_aliases: Sequence[str] = DEFAULT_PROTECTED_ALIASES,
                 wandb_conn_id: str = "wandb_default", **kwargs: Any) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.artifact = artifact
        self.ttl = ttl
        self.drop_aliases = drop_aliases
        with self.checking():
            from ..client.rules import check_alias_names

            self.protected_aliases = list(check_alias_names(protected_aliases, "protected_aliases"))
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        _refuse_protected_drops(args["drop_aliases"], self.protected_aliases)
        with self.wandb_client() as client:
            version = client.artifact(args["artifact"])
            self.push_link(context, version)
            change = client.set_ttl(version, args["ttl"], may_drop=args["drop_aliases"],
                                    protected_aliases=self.protected_aliases)
        self.log.info("TTL of %s: %s -> %s%s", version.qualified_name, change.before, change.after,
                      "" if change.changed else " (nothing to change)")
        self.record_lineage([], [version])
        return {**change.to_dict(), "artifact": version_xcom(version)}


class DeleteArtifactVersionOperator(WandbBaseOperator):
    """
    Delete one version (through a link: unlink it), with the retention operator's safety rules.

    The version is read again just before (``WandbClient.delete_if_unclaimed``) and kept, failing
    the task, when it holds a protected alias, an alias not in ``drop_aliases``, is linked into
    another collection, or is not COMMITTED. The version is named by its index (``:vN``), so a
    retry never deletes another one (see below for a retry that no longer finds it).

    :param artifact: The version, e.g. ``"acme/churn/churn-model:v3"``. (templated)
    :param drop_aliases: Aliases it may lose with it (never a protected one). (templated)
    :param protected_aliases: Aliases that always keep it (default ``("production",)``; in a
        registry every alias but ``latest``).
    :param dry_run: Re-check and report, delete nothing.

    On a retry, a version that is no longer found counts as ``gone`` only when an earlier try of
    this task instance recorded that it was deleting that very path (an Airflow Variable, dropped
    when the task ends) and W&B no longer has the recorded id; any other path that is not found
    (a typo, a version that never existed) fails as NotFound.

    :return: JSON-safe dict: ``version``, ``action`` (``deleted``, ``unlinked``, ``gone``,
        ``would_delete``, ``would_unlink``), ``reason`` and ``dry_run``.
    """

    template_fields: Sequence[str] = ("artifact", "drop_aliases")
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "artifact": _version_by_index,
        "drop_aliases": alias_list,
    }

    def __init__(
        self,
        *,
        artifact: str,
        drop_aliases: Sequence[str] | str = (),
        protected_aliases: Sequence[str] = DEFAULT_PROTECTED_ALIASES,
        dry_run: bool = False,
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.artifact = artifact
        self.drop_aliases = drop_aliases
        # Not `self.dry_run`: BaseOperator already has a dry_run() method.
        self.report_only = dry_run
        self._record: _DeleteRecord | None = None
        with self.checking():
            from ..client.rules import check_alias_names

            _flag("dry_run", dry_run)
            self.protected_aliases = list(check_alias_names(protected_aliases, "protected_aliases"))
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        from .._compat import AirflowFailException
        from ..client.errors import ArtifactNotFoundError

        _refuse_protected_drops(args["drop_aliases"], self.protected_aliases)
        result: dict[str, Any] = {"version": args["artifact"], "dry_run": self.report_only}
        record = self._record = _DeleteRecord(context)
        with self.wandb_client() as client:
            try:
                version = client.artifact(args["artifact"])
            except ArtifactNotFoundError:
                if not record.proves_gone(client, args["artifact"]):
                    raise
                self.log.info("%s is gone: an earlier try of this task deleted it", args["artifact"])
                record.forget()
                return {**result, "action": "gone", "reason": "deleted by an earlier try of this task"}
            self.push_link(context, version)
            if not self.report_only:
                record.remember(args["artifact"], version)
            outcome = client.delete_if_unclaimed(version, may_drop=args["drop_aliases"],
                                                 protected_aliases=self.protected_aliases, dry_run=self.report_only)
        if outcome.action not in ("deleted", "unlinked"):
            record.forget()
        result.update(outcome.to_dict(), artifact=version_xcom(version))
        if outcome.action == "kept":
            raise AirflowFailException(f"Not deleting {version.qualified_name}: {outcome.reason}.")
        self.log.info("%s: %s%s", version.qualified_name, outcome.action, f" ({outcome.reason})" * bool(outcome.reason))
        return result

    def execute(self, context: Any) -> Any:
        """The work, then the record of what this try deleted is dropped: the task instance is done."""
        self._record = None
        result = super().execute(context)
        if self._record is not None:
            self._record.forget()
        return result


class _DeleteRecord:
    """What a try of one task instance is about to delete (path and id), in an Airflow Variable: the
    one record that outlives the try (XComs are cleared when a task is retried) and reaches every
    worker. A retry that no longer finds the path counts it ``gone`` only when this record names
    the same path and W&B no longer has that id: a typo'd or never-existing path stays NotFound."""

    PREFIX = "wandb_provider.deleting."

    def __init__(self, context: Any) -> None:
        import hashlib
        import json

        from .._runs import TaskCoordinates

        where = TaskCoordinates.from_context(context)
        identity = json.dumps([where.dag_id, where.run_id, where.task_id, where.map_index]).encode()
        self.key = self.PREFIX + hashlib.sha256(identity).hexdigest()[:32]

    def remember(self, path: str, version: Any) -> None:
        import logging

        from airflow.sdk import Variable

        try:
            Variable.set(self.key, {"path": path, "id": version.id, "qualified_name": version.qualified_name},
                         description="wandb-provider: a version this task instance is deleting (dropped when it ends)",
                         serialize_json=True)
        except Exception as exc:  # no record: a retry that finds nothing then fails as NotFound (the safe side)
            logging.getLogger(__name__).warning("Could not record the version being deleted (%s): a retry will "
                                                "not count it as gone", exc)

    def proves_gone(self, client: Any, path: str) -> bool:
        from airflow.sdk import Variable

        from ..client.errors import ArtifactNotFoundError

        try:
            seen = Variable.get(self.key, default=None, deserialize_json=True)
        except Exception:  # no record can be read: nothing is proved
            return False
        if not isinstance(seen, dict) or seen.get("path") != path or not isinstance(seen.get("id"), str):
            return False
        try:
            client.artifact_by_id(seen["id"])
        except ArtifactNotFoundError:
            return True  # the version this task set out to delete no longer exists
        return False

    def forget(self) -> None:
        import contextlib

        from airflow.sdk import Variable

        with contextlib.suppress(Exception):  # nothing was recorded
            Variable.delete(self.key)
