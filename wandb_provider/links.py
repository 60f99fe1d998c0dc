"""``WandbArtifactLink``: a button on the task that opens the artifact version in W&B."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink

XCOM_URL_KEY = "wandb_artifact_url"


class WandbArtifactLink(BaseOperatorLink):
    """Reads the URL the task pushed under ``wandb_artifact_url`` (runs on the worker at finalize)."""

    name = "W&B Artifact"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=XCOM_URL_KEY) or ""
