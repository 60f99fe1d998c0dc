"""Airflow 3.1 to 3.3 in one place: the names that moved between releases, and features by release.

Every Airflow-layer module imports these names from here, never from their release-specific homes:

* ``conf`` is in ``airflow.sdk`` from 3.2 (``airflow.configuration`` before);
* the task outcome exceptions (fail, skip, not found, sensor timeout, deferral) are in
  ``airflow.sdk.exceptions`` from 3.2 (``airflow.exceptions`` before). They are taken together from
  one module, so that ``AirflowFailException`` is always a subclass of the ``AirflowException`` we catch;
* ``DatasetFacet`` is OpenLineage's when ``openlineage-python`` is installed, else a stand-in, so the
  provider's facet classes import (and are simply never emitted) without it.

Features that need a newer Airflow than the oldest supported one are listed in ``compatibility.json``
(the README's compatibility table and the CI legs come from the same file); ``require_airflow`` refuses them
at DAG parse time with a typed error naming the feature and the release it needs.

Names not listed here live at the same path on every supported release (``airflow.sdk.BaseOperator``,
``airflow.sdk.log.mask_secret``, ``airflow.triggers.base.BaseEventTrigger``...) and are imported directly.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from ._compat_data import compatibility, release
from .client.errors import WandbError

if TYPE_CHECKING:  # the newest release's homes, which the type checker sees
    from airflow.sdk import BaseHook, conf
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
    from openlineage.client.generated.base import DatasetFacet
else:
    from airflow.sdk import BaseHook
    try:  # Airflow >= 3.2
        from airflow.sdk import conf
    except ImportError:  # Airflow 3.1
        from airflow.configuration import conf
    try:  # Airflow >= 3.2
        from airflow.sdk.exceptions import (
            AirflowException,
            AirflowFailException,
            AirflowNotFoundException,
            AirflowSensorTimeout,
            AirflowSkipException,
            TaskDeferred,
        )
    except ImportError:  # Airflow 3.1
        from airflow.exceptions import (
            AirflowException,
            AirflowFailException,
            AirflowNotFoundException,
            AirflowSensorTimeout,
            AirflowSkipException,
            TaskDeferred,
        )

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "AirflowVersionError",
    "BaseHook",
    "DatasetFacet",
    "TaskDeferred",
    "airflow_version",
    "conf",
    "feature_available",
    "require_airflow",
]


class AirflowVersionError(WandbError):
    """A provider feature used on an Airflow release that lacks it; raised when the DAG is parsed."""


@cache
def airflow_version() -> tuple[int, int]:
    """The running Airflow's ``(major, minor)``."""
    from airflow import __version__

    return release(__version__)


def _feature(key: str) -> dict[str, Any]:
    for feature in compatibility()["features"]:
        if feature["key"] == key:
            return dict(feature)
    raise KeyError(f"no such feature in compatibility.json: {key!r}")


def feature_available(key: str) -> bool:
    """Whether the running Airflow has the feature ``key`` of ``compatibility.json`` (e.g. ``"hitl"``)."""
    return airflow_version() >= release(_feature(key)["since"])


def require_airflow(key: str, used_by: str) -> None:
    """Refuse ``used_by`` (e.g. ``"ApprovalOperator"``) when the running Airflow lacks the feature ``key``.

    Call it where the DAG file is parsed (an operator's ``__init__``), so the DAG shows an import error
    naming the feature and the release it needs, instead of a task failing later.
    """
    if feature_available(key):
        return
    feature = _feature(key)
    have = ".".join(map(str, airflow_version()))
    raise AirflowVersionError(
        f"{used_by} needs {feature['name']}, which Airflow {feature['since']} added; this is Airflow {have}.",
        hint=f"Upgrade to apache-airflow>={feature['since']}, or remove {used_by} from the DAG.",
    )


def __getattr__(name: str) -> Any:
    """``DatasetFacet`` is looked up only when used: importing OpenLineage costs parse time."""
    if name == "DatasetFacet":
        try:
            from openlineage.client.generated.base import DatasetFacet
        except ImportError:  # openlineage-python not installed: a plain base; such facets are never emitted
            return object
        return DatasetFacet
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
