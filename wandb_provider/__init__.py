"""Apache Airflow provider for Weights & Biases Artifacts.

Importing this package is cheap on purpose: DAG files import it at parse time.
"""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``wandb_provider.materialize`` loads its module (and Airflow) only when used."""
    if name == "materialize":
        from .pins import materialize

        return materialize
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
