"""Operators that consume W&B artifact versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from .._airflow import default_download_root, translate_errors, version_xcom
from ..links import XCOM_URL_KEY, WandbArtifactLink

MODES = ("merge", "checkout")


class _Lineage:
    """OpenLineage for the W&B operators: the collections a task read and wrote (set by ``execute``)."""

    _lineage: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from ..assets import operator_lineage

        inputs, outputs = self._lineage
        return operator_lineage(inputs, outputs)


class UseArtifactOperator(_Lineage, BaseOperator):
    """
    Download an artifact version (verified, cached, published atomically) for downstream tasks.

    :param artifact: Version to download, e.g. ``"acme/churn/churn-dataset:training"``. (templated)
    :param wandb_conn_id: The W&B connection.
    :param root: Folder to download into; default: a per-DAG-run folder under ``[wandb] download_root``
        (or ``WANDB_PROVIDER_DOWNLOAD_ROOT``, else the temp folder). (templated)
    :param include: Glob patterns, paths or folders to download (default: everything). (templated)
    :param exclude: Glob patterns, paths or folders to skip. (templated)
    :param mode: ``"merge"`` keeps unrelated files in ``root``; ``"checkout"`` removes them.
    :param verify: Re-check the files in ``root`` against the manifest after the download.
    :param use_cache: Use the content-addressed download cache.
    :param max_workers: Parallel file downloads (default 16).
    :param expected_type: Fail fast unless the version has this artifact type (e.g. ``"dataset"``).
    :return: JSON-safe dict: ``path`` and the version's identity, aliases, metadata, size and URL,
        plus ``bytes_downloaded`` and ``bytes_from_cache``; never the file list.
    """

    template_fields: Sequence[str] = ("artifact", "root", "include", "exclude")
    operator_extra_links = (WandbArtifactLink(),)
    ui_color = "#ffcc33"

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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.artifact = artifact
        self.wandb_conn_id = wandb_conn_id
        self.root = root
        self.include = include
        self.exclude = exclude
        self.mode = mode
        self.verify = verify
        self.use_cache = use_cache
        self.max_workers = max_workers
        self.expected_type = expected_type

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from ..hooks.wandb import WandbHook

        if self.mode not in MODES:
            raise AirflowFailException(f"mode must be one of {MODES}, not {self.mode!r}")
        with translate_errors(), WandbHook(wandb_conn_id=self.wandb_conn_id).get_client() as client:
            version = client.artifact(self.artifact)
            context["ti"].xcom_push(key=XCOM_URL_KEY, value=version.url)
            if self.expected_type and version.type != self.expected_type:
                raise AirflowFailException(
                    f"{version.qualified_name} has type {version.type!r}, but this task expects "
                    f"{self.expected_type!r}; check the artifact path or expected_type."
                )
            root = self.root or str(default_download_root(context, version.name))
            self.log.info("Downloading %s (%d files, %d bytes) into %s", version.qualified_name,
                          version.file_count, version.size, root)
            result = client.download(version, root, include=self.include, exclude=self.exclude, mode=self.mode,
                                     verify=self.verify, cache=self.use_cache, max_workers=self.max_workers)
        self.log.info("Downloaded %d bytes, %d from cache, %d files already present, in %.2fs",
                      result.bytes_downloaded, result.bytes_from_cache, result.skipped_existing, result.seconds)
        self._lineage = ([version_xcom(version)], [])
        return {"path": result.root, **version_xcom(version), "bytes_downloaded": result.bytes_downloaded,
                "bytes_from_cache": result.bytes_from_cache}


class UpdateArtifactAliasesOperator(_Lineage, BaseOperator):
    """
    Move aliases onto one artifact version, guarded by an optional metadata gate and compare-and-set.

    :param artifact: Version to promote, e.g. ``"acme/churn/churn-model:candidate"``. (templated)
    :param add: Aliases to put on the version; each leaves the version that held it. (templated)
    :param remove: Aliases to take off the version. (templated)
    :param only_if_current: ``{"production": "v11"}``: proceed only if each alias sits on that
        version (``None``: on none) or already on this one; else fail. (templated)
    :param require: Conditions on the version's metadata, e.g. ``{"accuracy": {">=": 0.9}}``
        (operators ``> >= < <= == != in``; dotted keys reach nested metadata). (templated)
    :param on_gate_failure: ``"skip"`` (default) skips the task when a condition fails; ``"fail"`` fails it.
    :return: JSON-safe dict: the version, ``added``/``removed``, each alias's holder ``before`` and
        ``after``, and ``changed`` (False on an idempotent re-run).
    """

    template_fields: Sequence[str] = ("artifact", "add", "remove", "only_if_current", "require")
    template_fields_renderers = {"only_if_current": "json", "require": "json"}
    operator_extra_links = (WandbArtifactLink(),)
    ui_color = "#ffcc33"

    def __init__(
        self,
        *,
        artifact: str,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        only_if_current: dict[str, str | None] | None = None,
        require: dict[str, Any] | None = None,
        on_gate_failure: str = "skip",
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.artifact = artifact
        self.add = add
        self.remove = remove
        self.only_if_current = only_if_current
        self.require = require
        self.on_gate_failure = on_gate_failure
        self.wandb_conn_id = wandb_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from ..client.conditions import evaluate_gate, validate_gate
        from ..hooks.wandb import WandbHook

        if self.on_gate_failure not in ("skip", "fail"):
            raise AirflowFailException(f"on_gate_failure must be 'skip' or 'fail', not {self.on_gate_failure!r}")
        add, remove = _as_list(self.add), _as_list(self.remove)
        with translate_errors(), WandbHook(wandb_conn_id=self.wandb_conn_id).get_client() as client:
            target: Any = self.artifact
            if self.require:
                validate_gate(self.require)
                target = client.artifact(self.artifact)
                context["ti"].xcom_push(key=XCOM_URL_KEY, value=target.url)
                gate = evaluate_gate(target.metadata, self.require)
                if not gate.passed:
                    message = f"Not promoting {target.qualified_name}: {gate.describe()}"
                    self.log.warning("%s", message)
                    if self.on_gate_failure == "fail":
                        raise AirflowFailException(message)
                    raise AirflowSkipException(message)
                self.log.info("Gate passed for %s: %s", target.qualified_name, gate.describe())
            change = client.update_aliases(target, add=add, remove=remove, only_if_current=self.only_if_current)
        context["ti"].xcom_push(key=XCOM_URL_KEY, value=change.artifact.url)
        for alias in change.added:
            self.log.info("Moved %r from %s to %s", alias, change.before[alias] or "no version",
                          change.artifact.qualified_name)
        for alias in change.removed:
            self.log.info("Removed %r from %s", alias, change.artifact.qualified_name)
        if not change.changed:
            self.log.info("Nothing to change: %s already has the requested aliases", change.artifact.qualified_name)
        result = change.to_dict()
        result["artifact"] = version_xcom(change.artifact)
        self._lineage = ([], [result["artifact"]])
        return result


class UpdateArtifactOperator(_Lineage, BaseOperator):
    """
    Update a version's description, metadata and tags.

    :param artifact: The version, e.g. ``"acme/churn/churn-model:v3"``. (templated)
    :param description: New description. (templated)
    :param metadata: Keys to set (``metadata_mode="merge"``) or the whole new dict (``"replace"``). (templated)
    :param tags_add: Tags to add. (templated)
    :param tags_remove: Tags to remove. (templated)
    :return: JSON-safe dict with the version ``before`` and ``after``.
    """

    template_fields: Sequence[str] = ("artifact", "description", "metadata", "tags_add", "tags_remove")
    template_fields_renderers = {"metadata": "json"}
    operator_extra_links = (WandbArtifactLink(),)

    def __init__(
        self,
        *,
        artifact: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        metadata_mode: str = "merge",
        tags_add: Sequence[str] = (),
        tags_remove: Sequence[str] = (),
        wandb_conn_id: str = "wandb_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.artifact = artifact
        self.description = description
        self.metadata = metadata
        self.metadata_mode = metadata_mode
        self.tags_add = tags_add
        self.tags_remove = tags_remove
        self.wandb_conn_id = wandb_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from ..hooks.wandb import WandbHook

        with translate_errors(), WandbHook(wandb_conn_id=self.wandb_conn_id).get_client() as client:
            before = client.artifact(self.artifact)
            context["ti"].xcom_push(key=XCOM_URL_KEY, value=before.url)
            after = client.update(before, description=self.description, metadata=self.metadata,
                                  metadata_mode=self.metadata_mode, tags_add=_as_list(self.tags_add),
                                  tags_remove=_as_list(self.tags_remove))
        self.log.info("Updated %s%s", before.qualified_name, "" if after != before else " (nothing to change)")
        self._lineage = ([], [version_xcom(after)])
        return {"before": version_xcom(before), "after": version_xcom(after), "changed": after != before}


class LinkArtifactOperator(_Lineage, BaseOperator):
    """
    Link a version into another collection, typically a registry: promotion across projects.

    :param artifact: The version, e.g. ``"acme/churn/churn-model:production"``. (templated)
    :param target: ``[entity/]project/collection`` or ``[org/]wandb-registry-<name>/<collection>``. (templated)
    :param aliases: Aliases to give the version in the target collection. (templated)
    :return: JSON-safe dict: the ``source`` version and the ``linked`` version (its index in the target).
    """

    template_fields: Sequence[str] = ("artifact", "target", "aliases")
    operator_extra_links = (WandbArtifactLink(),)

    def __init__(self, *, artifact: str, target: str, aliases: Sequence[str] = (),
                 wandb_conn_id: str = "wandb_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.artifact = artifact
        self.target = target
        self.aliases = aliases
        self.wandb_conn_id = wandb_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from ..hooks.wandb import WandbHook

        with translate_errors(), WandbHook(wandb_conn_id=self.wandb_conn_id).get_client() as client:
            source = client.artifact(self.artifact)
            linked = client.link(source, self.target, aliases=_as_list(self.aliases))
        context["ti"].xcom_push(key=XCOM_URL_KEY, value=linked.url)
        self.log.info("Linked %s as %s", source.qualified_name, linked.qualified_name)
        self._lineage = ([version_xcom(source)], [version_xcom(linked)])
        return {"source": version_xcom(source), "linked": version_xcom(linked)}


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    """Templated list arguments may arrive as one string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return list(value)
