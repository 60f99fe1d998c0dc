"""Stand-ins for Airflow runtime objects where a test calls an operator method directly."""

from __future__ import annotations

from typing import Any


class RecordingTI:
    """Stands in for the task instance: records what the task pushes to XCom."""

    dag_id, task_id, run_id = "d", "t", "r"

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def sdk(server: Any) -> Any:
    """The official SDK pointed at the local server: the independent observer of W&B state."""
    import wandb

    return wandb.Api(api_key=server.api_key, overrides={"base_url": server.base_url})
