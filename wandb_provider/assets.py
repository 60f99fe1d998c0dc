"""``wandb://`` Asset URIs and their OpenLineage form: one URI per artifact collection.

``wandb://<entity>/<project>/<collection>`` names a collection (a version is a point in it, so
versions are not part of the URI). OpenLineage sees namespace ``wandb://<entity>`` and name
``<project>/<collection>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from airflow.sdk import Asset

SCHEME = "wandb"


def collection_uri(entity: str, project: str, collection: str) -> str:
    return f"{SCHEME}://{entity}/{project}/{collection}"


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's URI handler: ``wandb://entity/project/collection``, entity lower-cased as W&B does."""
    parts = [p for p in uri.path.split("/") if p]
    if not uri.netloc or len(parts) != 2:
        raise ValueError(f"{uri.geturl()!r}: a W&B asset URI is wandb://<entity>/<project>/<collection>")
    return uri._replace(netloc=uri.netloc.lower(), path="/" + "/".join(parts))


def create_asset(*, entity: str, project: str, collection: str, extra: dict[str, Any] | None = None) -> Asset:
    """``Asset`` factory for ``wandb://`` URIs (registered in provider info)."""
    from airflow.sdk import Asset

    return Asset(uri=collection_uri(entity, project, collection), extra=extra)


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> Any:
    from airflow.providers.common.compat.openlineage.facet import Dataset

    split = urlsplit(asset.uri)
    return Dataset(namespace=f"{SCHEME}://{split.netloc}", name=split.path.lstrip("/"))


def openlineage_dataset(version: dict[str, Any]) -> Any:
    """The OpenLineage dataset of a version's collection, from the XCom dict of a version."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return Dataset(namespace=f"{SCHEME}://{version['entity']}", name=f"{version['project']}/{version['name']}")


def operator_lineage(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> Any:
    """``OperatorLineage`` for versions read and written by a task (needs the openlineage provider)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=[openlineage_dataset(v) for v in inputs],
                           outputs=[openlineage_dataset(v) for v in outputs])
