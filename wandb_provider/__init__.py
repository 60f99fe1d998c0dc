"""Apache Airflow provider for Weights & Biases Artifacts.

Importing this package is cheap on purpose: DAG files import it at parse time.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``wandb_provider.materialize`` and ``wandb_provider.task_run`` load their modules (and Airflow)
    only when used."""
    if name == "materialize":
        from .pins import materialize

        return materialize
    if name == "task_run":
        from ._runs import task_run

        return task_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
