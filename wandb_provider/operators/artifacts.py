"""Operators that consume, update, promote and link W&B artifact versions.

Templated arguments are read as users write them (``wandb_provider._values``): list arguments take
a rendered list literal, ``None``/empty text means unset, and a required value that renders empty
fails before any request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .._airflow import default_download_root, version_xcom
from .._values import (
    InvalidValueError,
    alias_list,
    collection_target,
    gate,
    mapping,
    metadata_mapping,
    optional_update,
    required_text,
    text_list,
    typed_from_template,
)
from ._base import ArgumentCheck, WandbBaseOperator

MODES = ("merge", "checkout")
GATE_FAILURE_OUTCOMES = ("skip", "fail")
METADATA_MODES = ("merge", "replace")
MAX_WORKERS_LIMIT = 256


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValueError(f"{name} must be True or False, not {type(value).__name__} {value!r}.")
    return value


def _choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InvalidValueError(f"{name} must be one of {tuple(choices)}, not {value!r}.")
    return str(value)


def _optional_list(name: str, value: Any) -> list[str] | None:
    """``None`` (not given) stays None; anything else is a list (possibly empty once rendered)."""
    return None if value is None else text_list(name, value)


class UseArtifactOperator(WandbBaseOperator):
    """
    Download an artifact version (verified, cached, published atomically) for downstream tasks.

    :param artifact: Version to download, e.g. ``"acme/churn/churn-dataset:training"``. (templated)
    :param wandb_conn_id: The W&B connection.
    :param root: Folder to download into. Default: one folder per task, map index and version,
        ``<base>/<dag_id>/<run_id>/<task_id>/<map_index or ->/<entity>/<project>/<collection>/<vN>``
        under ``[wandb] download_root`` (or ``WANDB_PROVIDER_DOWNLOAD_ROOT``, else the temp folder),
        so mapped tasks and different versions never share a folder. (templated)
    :param include: Glob patterns, paths or folders to download (default: everything); a list, a
        rendered list literal or one pattern. An ``include`` that selects no file fails the task
        unless ``allow_empty=True``. (templated)
    :param exclude: Glob patterns, paths or folders to skip. (templated)
    :param mode: ``"merge"`` keeps unrelated files in ``root``; ``"checkout"`` also removes files
        the provider placed there earlier that this version does not have.
    :param verify: Re-hash files already present in ``root`` before trusting them. Downloaded bytes
        are always checked against the manifest's digests while they arrive, whatever this says.
    :param use_cache: Use the content-addressed download cache.
    :param max_workers: Parallel file downloads (default: the client's, 2 per CPU).
    :param expected_type: Fail fast unless the version has this artifact type (e.g. ``"dataset"``).
    :param allow_empty: Succeed (with nothing downloaded) when ``include`` selects no file.
    :param remove_foreign: With ``mode="checkout"``, also remove files in ``root`` that the provider
        did not put there (explicit opt-in; otherwise such a root is refused).
    :param link_from_cache: Hard-link files from the cache instead of copying them (read-only
        files that share storage with the cache; explicit opt-in).
    :return: JSON-safe dict: ``path`` and the version's identity, aliases, metadata, size and URL,
        ``logged_by`` (the run that logged it: ``entity``, ``project``, ``run_id``, ``url``; or None),
        plus ``bytes_downloaded`` and ``bytes_from_cache``; never the file list.
    """

    template_fields: Sequence[str] = ("artifact", "root", "include", "exclude")
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "artifact": required_text,
        "root": lambda name, value: None if value is None else required_text(name, value),
        "include": _optional_list,
        "exclude": text_list,
    }

    def __init__(
        self,
        *,
        artifact: str,
        wandb_conn_id: str = "wandb_default",
        root: str | None = None,
        include: str | list[str] | None = None,
        exclude: str | list[str] | None = None,
        mode: str = "merge",
        verify: bool = True,
        use_cache: bool = True,
        max_workers: int | None = None,
        expected_type: str | None = None,
        allow_empty: bool = False,
        remove_foreign: bool = False,
        link_from_cache: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.artifact = artifact
        self.root = root
        self.include = include
        self.exclude = exclude
        self.mode = mode
        self.verify = verify
        self.use_cache = use_cache
        self.max_workers = max_workers
        self.expected_type = expected_type
        self.allow_empty = allow_empty
        self.remove_foreign = remove_foreign
        self.link_from_cache = link_from_cache
        with self.checking():
            _choice("mode", mode, MODES)
            for flag in ("verify", "use_cache", "allow_empty", "remove_foreign", "link_from_cache"):
                _flag(flag, getattr(self, flag))
            if max_workers is not None and (isinstance(max_workers, bool) or not isinstance(max_workers, int)
                                            or not 1 <= max_workers <= MAX_WORKERS_LIMIT):
                raise InvalidValueError(
                    f"max_workers must be a whole number from 1 to {MAX_WORKERS_LIMIT}, not {max_workers!r}.")
            if expected_type is not None:
                required_text("expected_type", expected_type)
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        include: list[str] | None = args["include"]
        nothing_selected = include == []
        if nothing_selected and not self.allow_empty:
            raise InvalidValueError(
                f"include is empty (it is {self.include!r}), so no file would be downloaded.",
                hint="Leave include unset (None) to download everything, or pass allow_empty=True.",
            )
        with self.wandb_client() as client:
            version = client.artifact(args["artifact"])
            self.push_link(context, version)
            if self.expected_type and version.type != self.expected_type:
                raise InvalidValueError(
                    f"{version.qualified_name} has type {version.type!r}, but this task expects "
                    f"{self.expected_type!r}; check the artifact path or expected_type."
                )
            root = args["root"] or str(default_download_root(context, version))
            logged_by = self.producing_run(client, version)
            if nothing_selected:
                self.log.info("include selects nothing and allow_empty=True: nothing downloaded for %s",
                              version.qualified_name)
                self.record_lineage([version], [])
                return {"path": root, **version_xcom(version), "logged_by": logged_by, "bytes_downloaded": 0,
                        "bytes_from_cache": 0}
            self.log.info("Downloading %s (%d files, %d bytes) into %s", version.qualified_name,
                          version.file_count, version.size, root)
            result = client.download(version, root, include=include, exclude=args["exclude"], mode=self.mode,
                                     verify=self.verify, cache=self.use_cache, max_workers=self.max_workers,
                                     allow_empty=self.allow_empty, remove_foreign=self.remove_foreign,
                                     link_from_cache=self.link_from_cache)
        self.log.info("Downloaded %d bytes, %d from cache, %d files already present, in %.2fs",
                      result.bytes_downloaded, result.bytes_from_cache, result.skipped_existing, result.seconds)
        self.record_lineage([version], [])
        return {"path": result.root, **version_xcom(version), "logged_by": logged_by,
                "bytes_downloaded": result.bytes_downloaded, "bytes_from_cache": result.bytes_from_cache}


def _guard(name: str, value: Any) -> dict[str, str | None] | None:
    """``only_if_current``, read as written or rendered (a dict literal): alias -> ``"vN"``, or None
    (or the text ``"none"``) for "held by no version"; checked by the client's rules, which refuse
    an empty expected value (what a template renders for a missing one, not a choice)."""
    from ..client.rules import check_alias_names, check_holder

    guard = mapping(name, value)
    if guard is None:
        return None
    check_alias_names(list(guard), name)
    return {alias: check_holder(alias, expected) for alias, expected in guard.items()}


def _gate(name: str, value: Any) -> dict[str, Any] | None:
    """``require``: read as written or rendered (``_values.gate``), checked by the client's gate rules."""
    from ..client.conditions import validate_gate

    require = gate(name, value)
    return validate_gate(require) if require is not None else None


class UpdateArtifactAliasesOperator(WandbBaseOperator):
    """
    Move aliases onto one artifact version, guarded by an optional metadata gate and compare-and-set.

    The gate and the guard are evaluated by the client on one read taken just before the write;
    W&B has no compare-and-set, so the client reads back after writing and fails with
    ``AliasConflictError`` if another writer raced.

    :param artifact: Version to promote, e.g. ``"acme/churn/churn-model:candidate"``. (templated)
    :param add: Aliases to put on the version; each leaves the version that held it. A list, a
        rendered list literal (``"['qa', 'eu']"``) or one alias. ``latest`` and ``vN`` are W&B's. (templated)
    :param remove: Aliases to take off the version, in the same forms. (templated)
    :param only_if_current: ``{"production": "v11"}``: proceed only if each alias sits on that
        version (``None`` written in the DAG file, or the text ``"none"``: on none) or already on this
        one; else fail. A value whose template renders empty (``None``) fails the task before any
        write. (templated)
    :param require: Conditions on the version's metadata, e.g. ``{"accuracy": {">=": 0.9}}``
        (operators ``> >= < <= == != in``; dotted keys reach nested metadata). Numbers rendered as
        text compare as numbers. A gate, or a term's value, that renders empty fails the task
        before any write (gates fail closed). (templated)
    :param on_gate_failure: ``"skip"`` (default) skips the task when a condition fails; ``"fail"`` fails it.
    :param on_missing: ``"fail"`` (default) fails the task when the metadata lacks a gate key (naming
        the keys it has and the closest match); ``"skip"`` counts it as a failed condition.
    :param allow_empty: Opt out of failing closed: a gate or term whose template renders empty is
        dropped, a guard value that does is read as "held by no version".
    :return: JSON-safe dict: the version, ``added``/``removed``, each alias's holder ``before`` and
        ``after``, and ``changed`` (False on an idempotent re-run).
    """

    template_fields: Sequence[str] = ("artifact", "add", "remove", "only_if_current", "require")
    template_fields_renderers = {"only_if_current": "json", "require": "json"}
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "artifact": required_text,
        "add": alias_list,
        "remove": alias_list,
        "only_if_current": _guard,
        "require": _gate,
    }
    fail_closed = ("only_if_current", "require")
    fail_closed_as_none = ("only_if_current",)

    def __init__(
        self,
        *,
        artifact: str,
        add: Sequence[str] | str = (),
        remove: Sequence[str] | str = (),
        only_if_current: dict[str, str | None] | str | None = None,
        require: dict[str, Any] | str | None = None,
        on_gate_failure: str = "skip",
        on_missing: str = "fail",
        allow_empty: bool = False,
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.artifact = artifact
        self.add = add
        self.remove = remove
        self.only_if_current = only_if_current
        self.require = require
        self.on_gate_failure = on_gate_failure
        self.on_missing = on_missing
        self.allow_empty = allow_empty
        with self.checking():
            from ..client.conditions import ON_MISSING

            _choice("on_gate_failure", on_gate_failure, GATE_FAILURE_OUTCOMES)
            _choice("on_missing", on_missing, ON_MISSING)
            _flag("allow_empty", allow_empty)
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        from .._compat import AirflowFailException, AirflowSkipException
        from ..client.errors import ConditionNotMetError

        if not args["add"] and not args["remove"]:
            raise InvalidValueError(
                f"add and remove are both empty (add={self.add!r}, remove={self.remove!r}): nothing to do.",
                hint="Name at least one alias; if they come from templates, check what they render.",
            )
        with self.wandb_client() as client:
            try:
                change = client.update_aliases(args["artifact"], add=args["add"], remove=args["remove"],
                                               only_if_current=args["only_if_current"], require=args["require"],
                                               on_missing=self.on_missing)
            except ConditionNotMetError as err:
                message = f"Not changing aliases of {args['artifact']}: {err}"
                self.log.warning("%s", message)
                if self.on_gate_failure == "fail":
                    raise AirflowFailException(message) from err
                raise AirflowSkipException(message) from err
        self.push_link(context, change.artifact)
        if args["require"]:
            self.log.info("Gate passed for %s", change.artifact.qualified_name)
        for alias in change.added:
            self.log.info("Moved %r from %s to %s", alias, change.before[alias] or "no version",
                          change.artifact.qualified_name)
        for alias in change.removed:
            self.log.info("Removed %r from %s", alias, change.artifact.qualified_name)
        if not change.changed:
            self.log.info("Nothing to change: %s already has the requested aliases", change.artifact.qualified_name)
        result = change.to_dict()
        result["artifact"] = version_xcom(change.artifact)
        self.record_lineage([], [change.artifact])
        self.publish_asset_event(context, change.artifact, "aliases", change.changed)
        return result


class UpdateArtifactOperator(WandbBaseOperator):
    """
    Update a version's description, metadata and tags.

    Metadata values keep their types: without ``render_template_as_native_obj`` Jinja renders text,
    so a value whose template rendered a JSON or Python literal (``"0.895"``, ``"true"``, ``"None"``,
    ``"[1, 2]"``) is stored as that number, boolean, null, list or dict; text you wrote yourself
    (``"0.895"`` without ``{{ }}``) stays text. A ``metadata`` template that renders a whole dict
    literal is read as that dict.

    :param artifact: The version, e.g. ``"acme/churn/churn-model:v3"``. (templated)
    :param description: New description (None, or a template that renders ``None``: unchanged). (templated)
    :param metadata: Keys to set (``metadata_mode="merge"``) or the whole new dict (``"replace"``). (templated)
    :param metadata_mode: ``"merge"`` or ``"replace"``.
    :param tags_add: Tags to add: a list, a rendered list literal or one tag. (templated)
    :param tags_remove: Tags to remove, in the same forms. (templated)
    :return: JSON-safe dict with the version ``before`` and ``after``.
    """

    template_fields: Sequence[str] = ("artifact", "description", "metadata", "tags_add", "tags_remove")
    template_fields_renderers = {"metadata": "json"}
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "artifact": required_text,
        "metadata": metadata_mapping,
        "tags_add": text_list,
        "tags_remove": text_list,
    }

    def __init__(
        self,
        *,
        artifact: str,
        description: str | None = None,
        metadata: dict[str, Any] | str | None = None,
        metadata_mode: str = "merge",
        tags_add: Sequence[str] | str = (),
        tags_remove: Sequence[str] | str = (),
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.artifact = artifact
        self.description = description
        self.metadata = metadata
        self.metadata_mode = metadata_mode
        self.tags_add = tags_add
        self.tags_remove = tags_remove
        with self.checking():
            _choice("metadata_mode", metadata_mode, METADATA_MODES)
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        metadata = args["metadata"]
        if metadata is not None:
            metadata = typed_from_template(self.unrendered("metadata"), metadata)
        description = optional_update("description", self.unrendered("description"), self.description)
        with self.wandb_client() as client:
            before = client.artifact(args["artifact"])
            self.push_link(context, before)
            after = client.update(before, description=description, metadata=metadata,
                                  metadata_mode=self.metadata_mode, tags_add=args["tags_add"],
                                  tags_remove=args["tags_remove"])
        self.log.info("Updated %s%s", before.qualified_name, "" if after != before else " (nothing to change)")
        self.record_lineage([], [after])
        self.publish_asset_event(context, after, "update", after != before)
        return {"before": version_xcom(before), "after": version_xcom(after), "changed": after != before}


class LinkArtifactOperator(WandbBaseOperator):
    """
    Link a version into another collection, typically a registry: promotion across projects.

    :param artifact: The version, e.g. ``"acme/churn/churn-model:production"``. (templated)
    :param target: ``[entity/]project/collection`` or ``[org/]wandb-registry-<name>/<collection>``;
        a bare collection name (``"churn"``) is refused, so a typo never creates a collection in
        the connection's default project. (templated)
    :param aliases: Aliases to give the version in the target collection (not ``latest`` or ``vN``). (templated)
    :return: JSON-safe dict: the ``source`` version and the ``linked`` version (its index in the target).
    """

    template_fields: Sequence[str] = ("artifact", "target", "aliases")
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "artifact": required_text,
        "target": collection_target,
        "aliases": alias_list,
    }

    def __init__(self, *, artifact: str, target: str, aliases: Sequence[str] | str = (),
                 wandb_conn_id: str = "wandb_default", **kwargs: Any) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.artifact = artifact
        self.target = target
        self.aliases = aliases
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        with self.wandb_client() as client:
            source = client.artifact(args["artifact"])
            linked = client.link(source, args["target"], aliases=args["aliases"])
        self.push_link(context, linked)
        self.log.info("Linked %s as %s", source.qualified_name, linked.qualified_name)
        self.record_lineage([source], [linked])
        self.publish_asset_event(context, linked, "link")
        return {"source": version_xcom(source), "linked": version_xcom(linked)}
