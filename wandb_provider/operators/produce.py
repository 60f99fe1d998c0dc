"""``LogArtifactOperator``: log local files (and references) as a new W&B artifact version.

Templated arguments are read as users write them (``wandb_provider._values``); everything that can
be checked without the files is checked when the DAG file is parsed, and again (with the files) after
rendering, before any request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._airflow import version_xcom
from .._runs import PROVENANCE_KEY, provenance
from .._values import (
    InvalidValueError,
    alias_list,
    is_empty,
    items,
    mapping,
    optional_text,
    required_text,
    sources,
    text_list,
    typed_from_template,
)
from ._base import ArgumentCheck, WandbBaseOperator

if TYPE_CHECKING:
    from ..client import ArtifactVersion, WandbClient
    from ..client.models import WandbRun


def artifact_name(name: str, value: Any) -> str:
    """``[entity/][project/]collection``: no alias, no registry (versions are logged into a project).
    Each part is checked by W&B's naming rules (``client.rules``), whose errors name the value."""
    from ..client.rules import REGISTRY_PREFIX, check_entity, check_name, check_project

    text = required_text(name, value)
    if ":" in text:
        raise InvalidValueError(f"{name} {text!r} names an alias or version; it names the collection to log into.",
                                hint="Pass aliases with aliases=[...].")
    parts = text.split("/")
    if len(parts) > 3 or any(not part for part in parts):
        raise InvalidValueError(f"{name} {text!r} is not '[entity/][project/]collection'.")
    if len(parts) > 1 and parts[-2].startswith(REGISTRY_PREFIX):
        raise InvalidValueError(f"{name} {text!r} is a registry: versions are logged into a project, then linked.",
                                hint="Log into a project and link the version with LinkArtifactOperator.")
    check_name("artifact", parts[-1], text)
    if len(parts) > 1:
        check_project(parts[-2], text)
    if len(parts) == 3:
        check_entity(parts[0], text)
    return text


def artifact_type(name: str, value: Any) -> str:
    from ..client.rules import check_artifact_type

    return check_artifact_type(required_text(name, value))


def _metadata(name: str, value: Any) -> dict[str, Any] | None:
    from ..client.rules import check_metadata

    meta = mapping(name, value)
    if meta is None:
        return None
    if PROVENANCE_KEY in meta:
        raise InvalidValueError(
            f"{name}: the key {PROVENANCE_KEY!r} is where the operator records the Airflow task that logged "
            "the version.", hint=f"Rename your key {PROVENANCE_KEY!r}.")
    return check_metadata(meta)


def _tags(name: str, value: Any) -> list[str]:
    from ..client.rules import check_tags

    return check_tags(text_list(name, value), name)


def _inputs(name: str, value: Any) -> list[dict[str, Any] | str]:
    """``inputs``: versions the new one is made from: pins (the XCom of an upstream W&B task: its
    ``id`` and ``digest``, read by ``pins.pin_of``) or artifact paths; one or a list, or a rendered
    literal of either (``_values.items``)."""
    from ..pins import pin_of

    result: list[dict[str, Any] | str] = []
    for item in items(name, value):
        if isinstance(item, Mapping):
            pin_of(item)
            result.append(dict(item))
        else:
            result.append(required_text(name, item))
    return result


class LogArtifactOperator(WandbBaseOperator):
    """
    Log local files and references as a new version of a W&B artifact, recorded as made by this task.

    The same content as an existing version gives that version back (no new version, no bytes
    uploaded; the aliases still land), so a retried or re-run task never makes a duplicate. The
    version's metadata gets the Airflow coordinates of the task under ``"airflow"``, and, unless
    ``record_run=False`` (or the connection's ``record_runs`` extra is false), the task's W&B run is
    its producer (``logged_by()``).

    :param name: ``[entity/][project/]collection`` to log into (default entity and project: the
        connection's). (templated)
    :param type: The artifact type, e.g. ``"dataset"`` or ``"model"``. (templated)
    :param files: A file, a folder (its files keep their relative names), a glob, a list of those, or
        a mapping ``{name in the artifact: path, folder or glob}``; a rendered list or dict literal
        too. (templated)
    :param references: ``http(s)://`` URLs (and ``file://`` under the connection's
        ``allowed_file_reference_roots``), a list or a mapping ``{name: url}``. (templated)
    :param metadata: A dict (or a template rendering a dict literal); values whose template renders a
        number, boolean, list or dict are stored as such; NaN and Infinity are refused. (templated)
    :param description: The version's description. (templated)
    :param aliases: Aliases for the new version (``latest`` is W&B's and always added). (templated)
    :param tags: Tags of the version. (templated)
    :param multipart_threshold: Files of this size and more go in parallel parts (W&B's default 2 GiB).
    :param max_workers: Parallel uploads (default: the client's).
    :param digest_algorithm: ``"MD5"`` (default) or ``"XXH128"``, as the SDK's
        ``wandb.Artifact(digest_algorithm=...)`` (MD5 when W&B does not allow XXH128 there).
    :param inputs: The versions the new one is made from: the XComs of upstream W&B tasks (e.g.
        ``UseArtifactOperator(...).output``; each pins its version by ``id`` and ``digest``, and a
        changed digest fails the task) or artifact paths. This task's run declares them used, so
        ``logged_by().used_artifacts()`` names them, and OpenLineage sees them as inputs. (templated)
    :return: JSON-safe dict: the version (as ``UseArtifactOperator``'s XCom, without ``path``),
        ``created`` (False when the same content was already a version) and ``run`` (the W&B run of
        this task, or None).
    """

    template_fields: Sequence[str] = ("name", "type", "files", "references", "metadata", "description",
                                      "aliases", "tags", "inputs")
    template_fields_renderers = {"metadata": "json"}
    argument_checks: ClassVar[Mapping[str, ArgumentCheck]] = {
        "name": artifact_name,
        "type": artifact_type,
        "files": sources,
        "references": sources,
        "metadata": _metadata,
        "description": optional_text,
        "aliases": alias_list,
        "tags": _tags,
        "inputs": _inputs,
    }

    def __init__(
        self,
        *,
        name: str,
        type: str,
        files: Any = None,
        references: Any = None,
        metadata: dict[str, Any] | str | None = None,
        description: str | None = None,
        aliases: Sequence[str] | str = (),
        tags: Sequence[str] | str = (),
        multipart_threshold: int | None = None,
        max_workers: int | None = None,
        inputs: Any = None,
        digest_algorithm: str = "MD5",
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(wandb_conn_id=wandb_conn_id, **kwargs)
        self.inputs = inputs
        self.name = name
        self.type = type
        self.files = files
        self.references = references
        self.metadata = metadata
        self.description = description
        self.aliases = aliases
        self.tags = tags
        self.multipart_threshold = multipart_threshold
        self.max_workers = max_workers
        self.digest_algorithm = digest_algorithm
        with self.checking():
            from ..client import rules

            rules.digest_algorithm(digest_algorithm)
            for label, number in (("multipart_threshold", multipart_threshold), ("max_workers", max_workers)):
                if number is not None:
                    rules.positive_int(number, label)
            if all(is_empty(v) or v in ((), [], {}) for v in (files, references)):
                raise InvalidValueError("files and references are both empty: nothing to log.",
                                        hint="Give files=... (a path, folder, glob, list or mapping) or references.")
        self.check_plain_arguments()

    def run_checked(self, context: Any, args: dict[str, Any]) -> dict[str, Any]:
        files, references = args["files"], args["references"]
        if files is None and references is None:
            raise InvalidValueError(
                f"files and references both rendered empty (files={self.files!r}, "
                f"references={self.references!r}): nothing to log.",
                hint="Check what the templates render.")
        metadata = args["metadata"]
        if metadata is not None:
            metadata = _metadata("metadata", typed_from_template(self.unrendered("metadata"), metadata))
        metadata = {**(metadata or {}), PROVENANCE_KEY: provenance(context)}
        with self.wandb_client() as client:
            entity, project, collection = self._destination(client, args["name"])
            options: dict[str, Any] = {}
            if self.multipart_threshold is not None:
                options["multipart_threshold"] = self.multipart_threshold
            self._check_sources(client, files, references)
            sources = [self._input_version(client, item) for item in args["inputs"]]
            run = self.begin_run(client, entity, project)
            outcomes: list[bool] = []
            version = client.log_artifact(
                collection, args["type"], files, project=project, entity=entity, references=references,
                metadata=metadata, description=args["description"], aliases=args["aliases"], tags=args["tags"],
                run=run, max_workers=self.max_workers, created=outcomes.append,
                digest_algorithm=self.digest_algorithm, **options)
        created = bool(outcomes and outcomes[0])
        self.logged(version)
        self.push_link(context, version)
        self.log.info("%s %s", "Logged" if created else "Same content as the existing version",
                      version.qualified_name)
        self.record_lineage(sources, [version])
        self.publish_asset_event(context, version, "log", created)
        return {**version_xcom(version), "created": created, "run": _run_xcom(run)}

    def _destination(self, client: WandbClient, name: str) -> tuple[str | None, str, str]:
        parts = name.split("/")
        entity = parts[0] if len(parts) == 3 else client.config.entity
        project = parts[-2] if len(parts) > 1 else client.config.project
        if not project:
            raise InvalidValueError(f"name {name!r} names no project and connection {self.wandb_conn_id!r} has no "
                                    "default project.", hint="Write 'project/collection' or set the extra 'project'.")
        return entity, project, parts[-1]

    @staticmethod
    def _input_version(client: WandbClient, item: dict[str, Any] | str) -> ArtifactVersion:
        """The version an ``inputs`` item names: a pin is read by id and must still have its digest."""
        from ..pins import pinned_version

        if isinstance(item, str):
            return client.artifact(item)
        return pinned_version(client, item, "record the input of the logged version")

    @staticmethod
    def _check_sources(client: WandbClient, files: Any, references: Any) -> None:
        """The files exist and the references are allowed, before any request (the run included)."""
        client.check_sources(files, references)


def _run_xcom(run: WandbRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {key: value for key, value in run.to_dict().items() if key in ("entity", "project", "run_id", "url")}


