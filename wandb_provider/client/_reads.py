"""The client's reads: who the key is, paths, versions, manifests and file URLs.

``Reads`` is also the context every feature module of the client takes (``_alias_moves``,
``_metadata_writes``, ``_retention``, ``_collections``, ``_log_artifact``, ``_materialize``, ``_runs``,
``_lineage``, ``_gate_reads``): it holds the config, the one transport, the GraphQL client and the
object stores, and it resolves paths (entity and registry lookups are made once and kept).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from . import _queries as q
from .errors import ArtifactNotFoundError, InvalidValueError, NotFoundError
from .manifest import Manifest
from .models import ArtifactVersion, FileUrl, Viewer
from .paths import ArtifactPath

if TYPE_CHECKING:
    from ._graphql import GraphQLClient
    from ._transport import Transport
    from .config import ClientConfig
    from .object_stores import ObjectStore

ArtifactRef = ArtifactVersion | str
PAGE_SIZE = 100
FILE_PAGE_SIZE = 5000


class Reads:
    """Reads of W&B through one transport and GraphQL client, with the lookups they share cached."""

    def __init__(self, config: ClientConfig, transport: Transport, graphql: GraphQLClient,
                 object_stores: Mapping[str, ObjectStore]) -> None:
        self.config = config
        self.transport = transport
        self.graphql = graphql
        self.object_stores: dict[str, ObjectStore] = dict(object_stores)
        self._lock = threading.Lock()
        self._default_entity: str | None = config.entity
        self._org_entities: dict[str | None, str] = {}

    def viewer(self) -> Viewer:
        """Who the API key belongs to (one request)."""
        data = self.graphql.execute(q.VIEWER, what="look up the API key's user")
        node = data.get("viewer")
        if not node:
            from .errors import AuthenticationError

            raise AuthenticationError(
                "look up the API key's user: W&B did not recognise the API key.",
                operation=q.VIEWER.name, hint="Check the connection's API key or WANDB_API_KEY.",
            )
        teams = tuple(e["node"]["name"] for e in (node.get("teams") or {}).get("edges", []) if e.get("node"))
        return Viewer(id=node["id"], username=node.get("username") or "", entity=node.get("entity") or "",
                      email=node.get("email"), teams=teams)

    def default_entity(self) -> str:
        """The configured entity, else the key's own entity (looked up once)."""
        with self._lock:
            if self._default_entity:
                return self._default_entity
        entity = self.viewer().entity
        with self._lock:
            self._default_entity = entity
        return entity

    def parse_path(self, path: str | ArtifactPath) -> ArtifactPath:
        """Parse with this client's defaults (no request)."""
        if isinstance(path, ArtifactPath):
            return path
        return ArtifactPath.parse(path, default_entity=self.config.entity, default_project=self.config.project)

    def resolve_path(self, path: str | ArtifactPath) -> ArtifactPath:
        """Parse and fill the entity: the default, or the organization's entity for registries."""
        parsed = self.parse_path(path)
        if parsed.is_registry:
            return parsed.with_entity(self._registry_entity(parsed.entity))
        if parsed.entity is None:
            return parsed.with_entity(self.default_entity())
        return parsed

    def _registry_entity(self, org: str | None) -> str:
        """The org entity that owns registries, from an org name, org entity name or None."""
        with self._lock:
            if org in self._org_entities:
                return self._org_entities[org]
        data = self.graphql.execute(q.ORGANIZATION_OF_ENTITY, {"entity": self.default_entity()},
                                    what="find the organization that owns W&B registries")
        node = data.get("entity") or {}
        orgs = [node["organization"]] if node.get("organization") else []
        orgs += (node.get("user") or {}).get("organizations") or []
        matches = [o for o in orgs if org is None or org in (o["name"], (o.get("orgEntity") or {}).get("name"))]
        if org is None and len({o["name"] for o in matches}) > 1:
            raise InvalidValueError(
                f"registry paths need an organization: this key belongs to {sorted({o['name'] for o in orgs})}.",
                hint="Write the path as 'ORG/wandb-registry-NAME/COLLECTION'.",
            )
        if not matches or not (matches[0].get("orgEntity") or {}).get("name"):
            raise NotFoundError(
                f"no organization {org!r} is visible to this API key, so its registries cannot be reached.",
                hint="Check the organization name in the registry path.",
            )
        entity = str(matches[0]["orgEntity"]["name"])
        with self._lock:
            self._org_entities[org] = entity
        return entity

    def artifact(self, path: str | ArtifactPath) -> ArtifactVersion:
        """Resolve ``[entity/][project/]name[:alias|:vN]`` (default alias ``latest``) in one request."""
        target = self.resolve_path(path)
        what = f"resolve artifact {str(target)!r}"
        data = self.graphql.execute(
            q.ARTIFACT_BY_NAME,
            {"entity": target.entity, "project": target.project, "name": target.membership_name},
            what=what,
        )
        project = data.get("project")
        if project is None:
            raise NotFoundError(
                f"{what}: project {target.entity}/{target.project} does not exist or this API key cannot see it.",
                operation=q.ARTIFACT_BY_NAME.name, hint="Check the entity and project names.",
            )
        membership = project.get("artifactCollectionMembership")
        if membership is None or membership.get("artifact") is None:
            raise ArtifactNotFoundError(
                f"{what}: no version of {target.name!r} in {target.entity}/{target.project} "
                f"has alias or version {target.alias or 'latest'!r}.",
                operation=q.ARTIFACT_BY_NAME.name,
                hint="Check the collection name and alias; client.versions() lists what exists.",
            )
        return ArtifactVersion.from_membership(membership, base_url=self.config.base_url)

    def artifact_by_id(self, artifact_id: str) -> ArtifactVersion:
        """Fetch a version by its W&B id, as seen through the sequence it was logged into."""
        what = f"fetch artifact id {artifact_id!r}"
        data = self.graphql.execute(q.ARTIFACT_BY_ID, {"id": artifact_id}, what=what)
        node = data.get("artifact")
        if node is None:
            raise ArtifactNotFoundError(f"{what}: no such artifact is visible to this API key.",
                                        operation=q.ARTIFACT_BY_ID.name)
        return ArtifactVersion.from_graphql(node, base_url=self.config.base_url)

    def versions(self, collection: str | ArtifactPath, *, type: str | None = None) -> Iterator[ArtifactVersion]:
        """Iterate over every version of a collection (all pages), newest first."""
        target = self.resolve_path(collection)
        what = f"list versions of {target.entity}/{target.project}/{target.name}"

        def page_of(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            node = (data.get("project") or {}).get("artifactCollection")
            if node is None:
                raise NotFoundError(f"{what}: the collection does not exist or this API key cannot see it.",
                                    operation=q.COLLECTION_VERSIONS.name)
            if type is not None and node["defaultArtifactType"]["name"] != type:
                raise ArtifactNotFoundError(
                    f"{what}: the collection holds type {node['defaultArtifactType']['name']!r}, not {type!r}.",
                    operation=q.COLLECTION_VERSIONS.name,
                )
            return node["artifacts"], node

        variables = {"entity": target.entity, "project": target.project, "collection": target.name}
        for page, node in self.pages(q.COLLECTION_VERSIONS, variables, PAGE_SIZE, what, page_of):
            for edge in page["edges"]:
                yield ArtifactVersion.from_graphql(
                    edge["node"], base_url=self.config.base_url, collection=node,
                    version_index=int(edge["version"][1:]),
                )

    def pages(
        self,
        operation: q.Operation,
        variables: dict[str, Any],
        per_page: int,
        what: str,
        page_of: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]],
    ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """Follow a Relay connection: ``page_of(data)`` finds (connection, its parent) in each answer."""
        cursor: str | None = None
        while True:
            data = self.graphql.execute(operation, {**variables, "cursor": cursor, "perPage": per_page}, what=what)
            page, parent = page_of(data)
            yield page, parent
            if not page["pageInfo"]["hasNextPage"]:
                return
            cursor = page["pageInfo"]["endCursor"]

    def version(self, artifact: ArtifactRef) -> ArtifactVersion:
        return artifact if isinstance(artifact, ArtifactVersion) else self.artifact(artifact)

    def manifest(self, artifact: ArtifactRef) -> Manifest:
        """The version's manifest, checked and parsed (``WandbClient.manifest`` says what is refused)."""
        from ._transport import raise_for_status
        from .errors import ArtifactIntegrityError

        version = self.version(artifact)
        what = f"fetch the manifest of {version.qualified_name}"
        refreshed = False
        damaged: ArtifactIntegrityError | None = None
        while True:
            data = self.graphql.execute(q.MANIFEST_URL, {"id": version.id}, what=what)
            url = (((data.get("artifact") or {}).get("currentManifest") or {}).get("file") or {}).get("directUrl")
            if not url:
                raise NotFoundError(f"{what}: the version has no manifest (is it still PENDING?).",
                                    operation=q.MANIFEST_URL.name)
            # Signed storage URLs are fetched without credentials.
            response = self.transport.send("GET", url, operation="GetManifest", authenticated=False)
            with response:
                if response.status_code in (401, 403) and not refreshed:
                    refreshed = True
                    continue  # an expired signed URL: ask for a fresh one, once
                raise_for_status(response, "GetManifest", what)
                body = response.content
            try:
                return Manifest.from_json(body, digest=version.digest or None)
            except ArtifactIntegrityError as exc:
                if damaged is not None:
                    raise ArtifactIntegrityError(f"{what}: {exc.message.rstrip('.')} (fetched twice).",
                                                 operation="GetManifest",
                                                 hint=exc.hint) from None
                damaged = exc

    def file_urls(self, artifact: ArtifactRef) -> list[FileUrl]:
        """Signed download URLs of every file of a version (all pages)."""
        version = self.version(artifact)
        what = f"list the files of {version.qualified_name}"

        def page_of(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            membership = ((data.get("project") or {}).get("artifactCollection") or {}).get("artifactMembership")
            if membership is None:
                raise ArtifactNotFoundError(f"{what}: the version no longer exists.", operation=q.FILE_URLS.name)
            return membership["files"], membership

        variables = {"entity": version.entity, "project": version.project, "collection": version.name,
                     "version": version.version}
        return [FileUrl(e["node"]["name"], e["node"]["directUrl"])
                for page, _ in self.pages(q.FILE_URLS, variables, FILE_PAGE_SIZE, what, page_of)
                for e in page["edges"] if e.get("node")]

    def alias_holder(self, artifact: ArtifactRef | ArtifactPath, alias: str) -> ArtifactVersion | None:
        """The version of a collection (named by one of its versions or its path) that holds
        ``alias`` now, or None (one request)."""
        where = artifact if isinstance(artifact, ArtifactVersion) else self.resolve_path(artifact)
        try:
            return self.artifact(ArtifactPath(where.entity, where.project, where.name, alias))
        except ArtifactNotFoundError:
            return None


#: ``WandbClient``'s registration of a transfer's cancel event, so that ``cancel()`` reaches it.
Cancellable = Callable[[threading.Event], AbstractContextManager[threading.Event]]
