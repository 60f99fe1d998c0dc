"""``wandb://`` Asset URIs and their OpenLineage form: one URI per artifact collection.

``wandb://<entity>/<project>/<collection>`` names a collection (a version is a point in it, so
versions are not part of the URI). OpenLineage sees namespace ``wandb://<entity>`` and name
``<project>/<collection>``; a dataset about one version carries it in the standard ``version``
facet and the custom ``wandb_artifactVersion`` facet (version, digest, aliases, id, qualified name,
type, URL; schema ``wandb_provider/openlineage-facets.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

if TYPE_CHECKING:
    from airflow.sdk import Asset

    from .client.models import ArtifactVersion

SCHEME = "wandb"


def collection_uri(entity: str, project: str, collection: str) -> str:
    return f"{SCHEME}://{entity}/{project}/{collection}"


def event_extra(version: ArtifactVersion, reason: str) -> dict[str, Any]:
    """The extra of an asset event about ``version``: its identity, and why the event happened.

    The same keys whether the event comes from ``ArtifactEventTrigger`` (a watcher saw it) or from
    an operator's outlet (a task wrote it). Airflow stores a watcher's extra under ``payload``
    (``{"from_trigger": true, "payload": {...}}``): ``event_version`` reads either alike."""
    return {
        "reason": reason, "collection": collection_uri(version.entity, version.project, version.name),
        "qualified_name": version.qualified_name, "id": version.id, "digest": version.digest,
        "aliases": list(version.aliases), "version": version.version, "entity": version.entity,
        "project": version.project, "name": version.name, "type": version.type, "url": version.url,
    }


def event_version(event: Any) -> dict[str, Any]:
    """The version an asset event names (``event_extra``'s keys), from an ``AssetEvent`` of
    ``triggering_asset_events`` or its ``extra``: a watcher's event (``payload`` inside) and a
    writer's event alike; ``{}`` when the event names no version (e.g. one made by hand)."""
    extra = getattr(event, "extra", event)
    if not isinstance(extra, Mapping):
        return {}
    payload = extra.get("payload")
    if isinstance(payload, Mapping) and "id" not in extra:
        extra = payload
    return dict(extra) if isinstance(extra.get("id"), str) else {}


def artifact_asset(path: str) -> Asset:
    """The ``wandb://`` asset of the collection an artifact path names, for an operator's ``outlets``.

    ``artifact_asset("acme/churn/churn-model:candidate")`` is ``Asset("wandb://acme/churn/churn-model")``.
    The path must name its entity and project (outlets are fixed when the DAG is parsed, before any
    template renders or connection is read); for a collection known only at run time, declare an
    ``AssetAlias`` outlet instead and the operator attaches the asset it changed to it."""
    from airflow.sdk import Asset

    from .client.errors import InvalidArtifactPathError
    from .client.paths import ArtifactPath

    if not isinstance(path, str) or "{{" in path or "{%" in path:
        raise InvalidArtifactPathError(f"artifact_asset needs a plain artifact path, not {path!r}.",
                                       hint="Use an AssetAlias outlet for a path known only at run time.")
    parsed = ArtifactPath.parse(path)
    if parsed.entity is None or parsed.project is None or parsed.is_registry:
        raise InvalidArtifactPathError(
            f"artifact_asset needs 'entity/project/collection', not {path!r}.",
            hint="Name the entity and project (registries: use an AssetAlias outlet, the org entity is "
                 "resolved at run time).")
    return Asset(uri=collection_uri(parsed.entity, parsed.project, parsed.name))


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


def names_version(data: Any) -> bool:
    """Whether a mapping (a version's XCom dict, an asset event's extra) names one version: its
    ``version`` (``vN``), ``digest`` and ``id`` as text."""
    from collections.abc import Mapping

    return isinstance(data, Mapping) and all(isinstance(data.get(key), str) and data[key]
                                             for key in ("version", "digest", "id"))


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> Any:
    """The OpenLineage dataset of a ``wandb://`` asset; when its extra names a version (e.g. an
    ``event_extra``), the dataset carries that version's facets."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    split = urlsplit(asset.uri)
    facets = _version_facets(asset.extra) if names_version(asset.extra) else {}
    return Dataset(namespace=f"{SCHEME}://{split.netloc}", name=split.path.lstrip("/"), facets=facets)


def _version_facets(version: Any) -> dict[str, Any]:
    from ._openlineage import version_facets

    return version_facets(dict(version))


def openlineage_dataset(version: dict[str, Any], facets: dict[str, Any] | None = None) -> Any:
    """The OpenLineage dataset of a version's collection, from the XCom dict of a version (or any
    dict with ``entity``, ``project`` and ``name``). A dict that names a version gives the dataset
    the standard ``version`` facet and ``wandb_artifactVersion`` (version, digest, aliases, id,
    qualified name, type, URL); ``facets`` are added."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    all_facets = {**(_version_facets(version) if names_version(version) else {}), **(facets or {})}
    return Dataset(namespace=f"{SCHEME}://{version['entity']}", name=f"{version['project']}/{version['name']}",
                   facets=all_facets)


def operator_lineage(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> Any:
    """``OperatorLineage`` for versions read and written by a task (needs the openlineage provider)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=[openlineage_dataset(v) for v in inputs],
                           outputs=[openlineage_dataset(v) for v in outputs])


def retention_lineage(collection: dict[str, Any] | None, deleted: list[dict[str, Any]]) -> Any:
    """``OperatorLineage`` of a retention run: it read ``collection`` (a dict with ``entity``,
    ``project`` and ``name``; None when it was never resolved) and, when it deleted versions,
    changed it: the output carries ``wandb_deletedVersions``."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    from ._openlineage import deleted_facets

    if collection is None:
        return OperatorLineage()
    where = {key: collection[key] for key in ("entity", "project", "name")}
    outputs = [openlineage_dataset(where, deleted_facets(deleted))] if deleted else []
    return OperatorLineage(inputs=[openlineage_dataset(where)], outputs=outputs)
