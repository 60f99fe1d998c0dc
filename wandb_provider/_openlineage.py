"""OpenLineage custom dataset facets of the provider: which W&B version a task read or wrote.

Imported only by ``wandb_provider.assets`` when OpenLineage asks for lineage (the openlineage
provider is optional). Custom facets follow OpenLineage's rules
(https://openlineage.io/docs/spec/facets/custom-facets): the prefix ``wandb``, keys
``wandb_<name>``, classes ``Wandb<Name>DatasetFacet``, a ``_producer`` naming this package and
version, and a ``_schemaURL`` into ``openlineage-facets.json``, the JSON Schema shipped with it.
"""

from __future__ import annotations

from typing import Any

import attr

from . import __version__
from ._compat import DatasetFacet

PRODUCER = f"https://pypi.org/project/airflow-provider-wandb/{__version__}/"
SCHEMA_URL = ("https://raw.githubusercontent.com/airflow-provider-wandb/airflow-provider-wandb/"
              f"v{__version__}/wandb_provider/openlineage-facets.json")
VERSION_FACET = "wandb_artifactVersion"
DELETED_FACET = "wandb_deletedVersions"


@attr.define
class WandbArtifactVersionDatasetFacet(DatasetFacet):
    """The artifact version of a ``wandb://`` dataset (the collection) that a task read or wrote."""

    version: str
    """The version's index in the collection, e.g. ``v3``."""
    digest: str
    """W&B's content digest of the version (32 hex digits)."""
    aliases: list[str]
    """The collection's aliases on the version when the task saw it (``latest`` included)."""
    id: str
    """W&B's id of the version: the same across every collection it is linked into."""
    qualifiedName: str  # OpenLineage facet fields are camelCase
    """``entity/project/collection:vN``."""
    type: str
    """The artifact type, e.g. ``dataset`` or ``model``."""
    url: str
    """The version's page in W&B."""

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_URL}#/$defs/WandbArtifactVersionDatasetFacet"


@attr.define
class WandbDeletedVersionsDatasetFacet(DatasetFacet):
    """Versions of a ``wandb://`` dataset (the collection) that a task deleted (retention)."""

    versions: list[dict[str, str]]
    """Each deleted version: its ``version`` (``vN``), ``digest`` and ``id``."""

    @staticmethod
    def _get_schema() -> str:
        return f"{SCHEMA_URL}#/$defs/WandbDeletedVersionsDatasetFacet"


def version_facets(version: dict[str, Any]) -> dict[str, Any]:
    """The standard ``version`` facet and ``wandb_artifactVersion`` of a version's XCom dict."""
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    qualified = version.get("qualified_name") or (
        f"{version['entity']}/{version['project']}/{version['name']}:{version['version']}")
    return {
        "version": DatasetVersionDatasetFacet(datasetVersion=str(version["version"]), producer=PRODUCER),
        VERSION_FACET: WandbArtifactVersionDatasetFacet(
            version=str(version["version"]), digest=str(version["digest"]),
            aliases=[str(alias) for alias in version.get("aliases") or ()], id=str(version["id"]),
            qualifiedName=str(qualified), type=str(version.get("type") or ""), url=str(version.get("url") or ""),
            producer=PRODUCER),
    }


def deleted_facets(versions: list[dict[str, Any]]) -> dict[str, Any]:
    """``wandb_deletedVersions`` for the XCom dicts of deleted versions."""
    deleted = [{"version": str(v["version"]), "digest": str(v["digest"]), "id": str(v["id"])} for v in versions]
    return {DELETED_FACET: WandbDeletedVersionsDatasetFacet(versions=deleted, producer=PRODUCER)}
