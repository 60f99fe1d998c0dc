"""``WandbBaseSensor``: the W&B sensors' thin class over ``BaseSensorOperator``.

Everything a W&B task shares (the connection and its client, the one mapping of errors to Airflow
outcomes, the W&B link button, fail-closed templated arguments, OpenLineage) is
``wandb_provider._base.WandbBaseMixin``, which the operators stand on too.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseSensorOperator

from .._base import WandbBaseMixin


class WandbBaseSensor(WandbBaseMixin, BaseSensorOperator):
    """Base class of the W&B sensors.

    :param wandb_conn_id: The W&B connection (type ``wandb``).
    """

    def __init__(self, *, wandb_conn_id: str = "wandb_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.init_wandb(wandb_conn_id)
