"""Operators that consume W&B artifact versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from .._airflow import default_download_root, translate_errors, version_xcom
from ..links import XCOM_URL_KEY, WandbArtifactLink

MODES = ("merge", "checkout")


class UseArtifactOperator(BaseOperator):
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
        return {"path": result.root, **version_xcom(version), "bytes_downloaded": result.bytes_downloaded,
                "bytes_from_cache": result.bytes_from_cache}
