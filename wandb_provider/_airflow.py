"""The one mapping from client errors to Airflow outcomes, shared by operators and sensors."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .client.errors import WandbError
from .client.models import ArtifactVersion

ENV_DOWNLOAD_ROOT = "WANDB_PROVIDER_DOWNLOAD_ROOT"


@contextmanager
def translate_errors() -> Iterator[None]:
    """Fail the task at once on permanent W&B errors; let transient ones reach Airflow's retries.

    Bad input, authentication, permission, not-found and integrity errors will not heal by retrying,
    so they become ``AirflowFailException`` (no retry). ``ServerError`` is re-raised unchanged.
    """
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except WandbError as err:
        if err.transient:
            raise
        raise AirflowFailException(str(err)) from err


def version_xcom(version: ArtifactVersion) -> dict[str, Any]:
    """The JSON-safe XCom of a resolved version (shared by operators and the sensor)."""
    data = version.to_dict()
    keys = ("entity", "project", "name", "version", "qualified_name", "id", "type", "digest", "aliases",
            "metadata", "size", "file_count", "url")
    return {key: data[key] for key in keys}


def download_base() -> Path:
    """Where default download roots live: ``[wandb] download_root``, the env, or the temp folder."""
    from airflow.sdk import conf

    configured = conf.get("wandb", "download_root", fallback=None) or os.environ.get(ENV_DOWNLOAD_ROOT)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "airflow-provider-wandb"


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", part).strip("._") or "_"


def default_download_root(context: Mapping[str, Any], collection: str) -> Path:
    """A per-DAG-run folder: ``<base>/<dag_id>/<run_id>/<task_id>/<collection>``."""
    ti = context["ti"]
    return download_base() / _safe(ti.dag_id) / _safe(str(context.get("run_id") or ti.run_id)) / _safe(
        ti.task_id) / _safe(collection)
