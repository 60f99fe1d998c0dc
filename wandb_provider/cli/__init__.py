"""``wandb-artifacts``: the command line on the same client as the operators. Never imports Airflow.

>>> from wandb_provider.cli import main
>>> main(["versions", "acme/churn/churn-model", "--json"])
"""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
