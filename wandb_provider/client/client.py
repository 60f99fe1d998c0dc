"""``WandbClient``: the façade the Airflow layer (and anyone else) calls. Framework-free."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _queries as q
from .config import DEFAULT_BASE_URL, ClientConfig
from .errors import ArtifactNotFoundError, BadRequestError, NotFoundError
from .manifest import Manifest, check_entry_path
from .models import AliasChange, ArtifactVersion, DownloadResult, FileUrl, ProgressUpdate, VerifyReport, Viewer
from .paths import ArtifactPath, check_alias

if TYPE_CHECKING:
    from ._graphql import GraphQLClient
    from ._storage import Storage
    from ._transport import Transport

ArtifactRef = ArtifactVersion | str
PAGE_SIZE = 100
FILE_PAGE_SIZE = 5000


class WandbClient:
    """A client for W&B artifacts over W&B's GraphQL API and storage URLs.

    :param base_url: The W&B API root, e.g. ``https://api.wandb.ai`` or a dedicated instance.
    :param api_key: The API key (sent as HTTP Basic ``api:<key>``; never logged).
    :param entity: Default entity for paths that name none.
    :param project: Default project for paths that name none.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str = "",
        *,
        entity: str | None = None,
        project: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 8,
        verify: bool | str = True,
        config: ClientConfig | None = None,
        **options: Any,
    ) -> None:
        self.config = config or ClientConfig(
            base_url=base_url, api_key=api_key, entity=entity, project=project, timeout=timeout,
            max_retries=max_retries, verify=verify, **options,
        )
        # requests, urllib3 and tenacity load here, not at import: DAG files import us at parse time.
        from ._graphql import GraphQLClient
        from ._transport import Transport

        self._transport: Transport = Transport(self.config)
        self._graphql: GraphQLClient = GraphQLClient(self._transport)
        self._lock = threading.Lock()
        self._storage: Storage | None = None
        self._default_entity: str | None = self.config.entity
        self._org_entities: dict[str | None, str] = {}

    @classmethod
    def from_env(cls, **overrides: Any) -> WandbClient:
        """Build from ``WANDB_API_KEY``, ``WANDB_BASE_URL``, ``WANDB_ENTITY``, ``WANDB_PROJECT``."""
        return cls(config=ClientConfig.from_env(**overrides))

    def __repr__(self) -> str:
        return f"WandbClient(base_url={self.config.base_url!r}, entity={self.config.entity!r})"

    def close(self) -> None:
        self._transport.close()
        if self._storage is not None:
            self._storage.close()

    def _file_storage(self) -> Storage:
        """The pooled storage client for file transfers, made on first download."""
        with self._lock:
            if self._storage is None:
                from ._storage import Storage

                self._storage = Storage(self._transport, pool_size=max(32, self.config.max_workers))
            return self._storage

    def __enter__(self) -> WandbClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- identity ---------------------------------------------------------------------------

    def viewer(self) -> Viewer:
        """Who the API key belongs to (one request)."""
        data = self._graphql.execute(q.VIEWER, what="look up the API key's user")
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

    # --- paths ------------------------------------------------------------------------------

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
        data = self._graphql.execute(q.ORGANIZATION_OF_ENTITY, {"entity": self.default_entity()},
                                     what="find the organization that owns W&B registries")
        node = data.get("entity") or {}
        orgs = [node["organization"]] if node.get("organization") else []
        orgs += (node.get("user") or {}).get("organizations") or []
        matches = [o for o in orgs if org is None or org in (o["name"], (o.get("orgEntity") or {}).get("name"))]
        if org is None and len({o["name"] for o in matches}) > 1:
            raise BadRequestError(
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

    # --- reads ------------------------------------------------------------------------------

    def artifact(self, path: str | ArtifactPath) -> ArtifactVersion:
        """Resolve ``[entity/][project/]name[:alias|:vN]`` (default alias ``latest``) in one request."""
        target = self.resolve_path(path)
        what = f"resolve artifact {str(target)!r}"
        data = self._graphql.execute(
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
        data = self._graphql.execute(q.ARTIFACT_BY_ID, {"id": artifact_id}, what=what)
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
        for page, node in self._pages(q.COLLECTION_VERSIONS, variables, PAGE_SIZE, what, page_of):
            for edge in page["edges"]:
                yield ArtifactVersion.from_graphql(
                    edge["node"], base_url=self.config.base_url, collection=node,
                    version_index=int(edge["version"][1:]),
                )

    def _pages(
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
            data = self._graphql.execute(operation, {**variables, "cursor": cursor, "perPage": per_page}, what=what)
            page, parent = page_of(data)
            yield page, parent
            if not page["pageInfo"]["hasNextPage"]:
                return
            cursor = page["pageInfo"]["endCursor"]

    def _version(self, artifact: ArtifactRef) -> ArtifactVersion:
        return artifact if isinstance(artifact, ArtifactVersion) else self.artifact(artifact)

    def manifest(self, artifact: ArtifactRef) -> Manifest:
        """Fetch, check and parse a version's manifest.

        The manifest must be a version-1 W&B manifest whose entries hash to the version's digest;
        a damaged one is fetched once more, then refused.

        :raises ArtifactIntegrityError: Not JSON, a field of the wrong type (the entry is named), or
            entries that do not hash to the version's digest.
        :raises UnsafePathError: An entry path that is not a plain relative path.
        """
        from ._transport import raise_for_status
        from .errors import ArtifactIntegrityError

        version = self._version(artifact)
        what = f"fetch the manifest of {version.qualified_name}"
        refreshed = False
        damaged: ArtifactIntegrityError | None = None
        while True:
            data = self._graphql.execute(q.MANIFEST_URL, {"id": version.id}, what=what)
            url = (((data.get("artifact") or {}).get("currentManifest") or {}).get("file") or {}).get("directUrl")
            if not url:
                raise NotFoundError(f"{what}: the version has no manifest (is it still PENDING?).",
                                    operation=q.MANIFEST_URL.name)
            # Signed storage URLs are fetched without credentials.
            response = self._transport.send("GET", url, operation="GetManifest", authenticated=False)
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
        version = self._version(artifact)
        what = f"list the files of {version.qualified_name}"

        def page_of(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            membership = ((data.get("project") or {}).get("artifactCollection") or {}).get("artifactMembership")
            if membership is None:
                raise ArtifactNotFoundError(f"{what}: the version no longer exists.", operation=q.FILE_URLS.name)
            return membership["files"], membership

        variables = {"entity": version.entity, "project": version.project, "collection": version.name,
                     "version": version.version}
        return [FileUrl(e["node"]["name"], e["node"]["directUrl"])
                for page, _ in self._pages(q.FILE_URLS, variables, FILE_PAGE_SIZE, what, page_of)
                for e in page["edges"] if e.get("node")]

    # --- downloads --------------------------------------------------------------------------

    def download(
        self,
        artifact: ArtifactRef,
        root: str | os.PathLike[str],
        *,
        include: Sequence[str] | str | None = None,
        exclude: Sequence[str] | str | None = None,
        mode: str = "merge",
        verify: bool = True,
        cache: bool = True,
        max_workers: int | None = None,
        progress: Callable[[ProgressUpdate], None] | None = None,
        allow_empty: bool = False,
        remove_foreign: bool = False,
        link_from_cache: bool = False,
    ) -> DownloadResult:
        """Download a version (or the entries matching ``include``/``exclude``) into ``root``.

        Files are fetched in parallel, hashed while streaming and checked against the manifest,
        then moved into ``root`` together; on any failure or cancellation ``root`` is left as it was.
        Files already in ``root`` with the right bytes are not fetched again. The provider records
        what it placed in ``root/.wandb-provider/`` and never removes or overwrites anything else:
        a user's file, folder or link in the way is a ``RootConflictError`` and nothing changes. A
        file the provider placed and the user edited since is the user's from then on.

        :param root: The folder to download into (created if missing). ``/``, a home folder, an empty
            value and a file are refused.
        :param mode: ``"merge"`` adds the version's files and keeps everything else (two versions of
            one collection are never mixed); ``"checkout"`` also removes files that earlier downloads
            placed and this selection does not have.
        :param verify: Re-hash files already in ``root`` before trusting them (with ``False`` a file of
            the right size is trusted). Downloaded bytes are always checked.
        :param cache: Use the content-addressed cache (``cache_dir``, ``WANDB_PROVIDER_CACHE_DIR``).
        :param allow_empty: Accept an ``include``/``exclude`` that selects no file.
        :param remove_foreign: Let the download remove or replace entries it did not place (a checkout
            into a folder holding other files; a clash).
        :param link_from_cache: Hard-link files from the cache instead of copying them; linked files
            are made read-only, since editing one would change every root and the cache.
        :raises RootConflictError: Something in ``root`` the provider did not place is in the way.
        :raises RootBusyError: Another download held ``root`` for longer than the client's deadline.
        :raises ArtifactIntegrityError: A file or the manifest kept arriving with the wrong digest.
        :raises UnsafePathError: The manifest has a path that is not a plain relative path.
        :raises ReferenceNotAllowedError: A reference entry outside the allowed folders or hosts.
        :raises LocalFileError: A local filesystem problem (permissions, space, names).
        """
        from ._download import check_options, select
        from ._roots import resolve_root

        check_options(mode, max_workers, progress, include, exclude, verify=verify, cache=cache,
                      allow_empty=allow_empty, remove_foreign=remove_foreign, link_from_cache=link_from_cache)
        target = resolve_root(root)
        version = self._version(artifact)
        manifest = self.manifest(version)
        entries = select(manifest, include, exclude, allow_empty=allow_empty)
        return self._download_entries(version, entries, target, mode=mode, verify=verify, cache=cache,
                                      max_workers=max_workers, progress=progress, remove_foreign=remove_foreign,
                                      link_from_cache=link_from_cache)

    def _download_entries(self, version: ArtifactVersion, entries: list[Any], root: Path, *, mode: str,
                          verify: bool, cache: bool, max_workers: int | None,
                          progress: Callable[[ProgressUpdate], None] | None, remove_foreign: bool,
                          link_from_cache: bool) -> DownloadResult:
        from ._cache import BlobCache
        from ._download import Downloader, download_entries
        from ._references import ReferencePolicy

        blob_cache = BlobCache(self.config.cache_dir, self.config.cache_max_bytes) if cache else None
        downloader = Downloader(
            self._file_storage(),
            lambda: {u.name: u.url for u in self.file_urls(version)},
            blob_cache,
            max_workers=max_workers or self.config.max_workers,
            max_attempts=self.config.max_retries + 1,
            progress=progress,
            policy=ReferencePolicy.of(self.config.allowed_file_reference_roots, self.config.allowed_reference_hosts),
            lock_wait=self.config.deadline,
            verify=verify,
            link_from_cache=link_from_cache,
        )
        return download_entries(downloader, version, entries, root, mode=mode, remove_foreign=remove_foreign,
                                cache=blob_cache)

    def download_file(self, artifact: ArtifactRef, path: str, root: str | os.PathLike[str], **options: Any) -> Path:
        """Download one entry of a version into ``root`` and return its local path.

        ``options`` are ``download()``'s: ``mode``, ``verify``, ``cache``, ``max_workers``, ``progress``,
        ``remove_foreign``, ``link_from_cache``.
        """
        from ._download import check_options
        from ._roots import resolve_root

        allowed = {"mode", "verify", "cache", "max_workers", "progress", "remove_foreign", "link_from_cache"}
        if unknown := sorted(set(options) - allowed):
            raise BadRequestError(f"download_file() takes no option {', '.join(unknown)}.",
                                  hint=f"Its options are {', '.join(sorted(allowed))}.")
        settings: dict[str, Any] = {"mode": "merge", "verify": True, "cache": True, "max_workers": None,
                                    "progress": None, "remove_foreign": False, "link_from_cache": False, **options}
        check_options(settings["mode"], settings["max_workers"], settings["progress"], verify=settings["verify"],
                      cache=settings["cache"], remove_foreign=settings["remove_foreign"],
                      link_from_cache=settings["link_from_cache"])
        check_entry_path(path)
        target = resolve_root(root)
        version = self._version(artifact)
        entry = self.manifest(version).entries.get(path)
        if entry is None:
            raise NotFoundError(f"{version.qualified_name} has no file {path!r}.",
                                hint="client.manifest(version).entries lists its files.")
        self._download_entries(version, [entry], target, **settings)
        return target / path

    def verify(self, artifact: ArtifactRef, root: str | os.PathLike[str]) -> VerifyReport:
        """Compare a folder with a version: missing, unexpected and mismatched files.

        Links are not followed, and the provider's ``.wandb-provider/`` folder is ignored.
        """
        from ._download import verify_root
        from ._roots import resolve_root

        target = resolve_root(root)
        return verify_root(self.manifest(self._version(artifact)), target)

    # --- aliases ----------------------------------------------------------------------------

    def update_aliases(
        self,
        artifact: ArtifactRef,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        only_if_current: dict[str, str | None] | None = None,
    ) -> AliasChange:
        """Add and remove aliases on one version, optionally guarded (compare-and-set).

        One request reads the version and who holds each alias; one request adds, one removes.
        Nothing is sent when the version already has the requested aliases, so re-runs are free.

        :param only_if_current: ``{"production": "v11"}``: each alias must sit on that version
            (``None``: on no version) or already on this one; otherwise ``AliasConflictError`` is
            raised and nothing changes. W&B has no server-side compare-and-set: the check and the
            write are two requests.
        :raises ProtectedAliasError: A protected registry alias and a caller who is not a registry admin.
        """
        from ._aliases import AliasRequest, plan

        request = AliasRequest.of(add, remove, only_if_current)
        version, holders = self._version_and_holders(artifact, request.watched)
        change = plan(request, version, holders)
        target = {"artifactCollectionName": version.name, "entityName": version.entity,
                  "projectName": version.project}
        what = f"change aliases of {version.qualified_name}"
        for operation, aliases in ((q.ADD_ALIASES, change.added), (q.DELETE_ALIASES, change.removed)):
            if aliases:
                self._graphql.execute(operation, {"input": {"artifactID": version.id, "aliases": [
                    {"alias": a, **target} for a in aliases]}}, what=what)
        return change

    def _version_and_holders(
        self, artifact: ArtifactRef, aliases: Sequence[str]
    ) -> tuple[ArtifactVersion, dict[str, str | None]]:
        """Resolve a version and which version of its collection holds each alias, in one request."""
        if isinstance(artifact, ArtifactVersion):
            target = ArtifactPath(artifact.entity, artifact.project, artifact.name, artifact.version)
        else:
            target = self.resolve_path(artifact)
        operation = q.artifact_with_alias_holders(len(aliases))
        variables: dict[str, Any] = {"entity": target.entity, "project": target.project,
                                     "name": target.membership_name, "collection": target.name}
        variables.update({f"h{i}": alias for i, alias in enumerate(aliases)})
        what = f"resolve artifact {str(target)!r}"
        data = self._graphql.execute(operation, variables, what=what)
        project = data.get("project")
        membership = (project or {}).get("artifactCollectionMembership")
        if membership is None or membership.get("artifact") is None:
            raise ArtifactNotFoundError(
                f"{what}: no version of {target.name!r} in {target.entity}/{target.project} has alias or "
                f"version {target.alias or 'latest'!r}.", operation=operation.name,
                hint="Check the collection name and alias; client.versions() lists what exists.",
            )
        version = ArtifactVersion.from_membership(membership, base_url=self.config.base_url)
        slots = (project or {}).get("artifactCollection") or {}
        holders: dict[str, str | None] = {}
        for i, alias in enumerate(aliases):
            holder = slots.get(f"h{i}")
            holders[alias] = f"v{holder['versionIndex']}" if holder else None
        return version, holders

    # --- edits ------------------------------------------------------------------------------

    def update(
        self,
        artifact: ArtifactRef,
        *,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        metadata_mode: str = "merge",
        tags_add: Sequence[str] = (),
        tags_remove: Sequence[str] = (),
    ) -> ArtifactVersion:
        """Update a version's description, metadata (``"merge"`` the given keys or ``"replace"``) and tags.

        Values are validated before any request; nothing is sent when nothing would change.
        """
        from ._metadata import UpdateRequest

        request = UpdateRequest.of(description, metadata, metadata_mode, tags_add, tags_remove)
        version = self._version(artifact)
        changes = request.changes_for(version)
        if not changes:
            return version
        data = self._graphql.execute(q.UPDATE_ARTIFACT, {"input": {"artifactID": version.id, **changes}},
                                     what=f"update {version.qualified_name}")
        node = data["updateArtifact"]["artifact"]
        fresh = ArtifactVersion.from_graphql(node, base_url=self.config.base_url, aliases=[])
        return dataclasses.replace(version, description=fresh.description, metadata=fresh.metadata,
                                   tags=fresh.tags, updated_at=fresh.updated_at)

    def delete(self, artifact: ArtifactRef, *, delete_aliases: bool = False) -> None:
        """Delete a version (soft, as W&B does). A version with aliases needs ``delete_aliases=True``."""
        version = self._version(artifact)
        self._graphql.execute(q.DELETE_ARTIFACT, {"input": {"artifactID": version.id,
                                                            "deleteAliases": delete_aliases}},
                              what=f"delete {version.qualified_name}")

    # --- links ------------------------------------------------------------------------------

    def link(self, artifact: ArtifactRef, target: str, *, aliases: Sequence[str] = ()) -> ArtifactVersion:
        """Link a version into a collection (created on first link): ``[entity/]project/collection``
        or a registry path ``[org/]wandb-registry-<name>/<collection>``.

        Linking a version that is already there adds no second membership (only the aliases).
        :return: The version as seen in the target collection (its index there).
        """
        from .errors import BadRequestError

        for alias in aliases:
            check_alias(alias, allow_version=False)
        destination = self.resolve_path(target if ":" not in target else _no_alias(target))
        version = self._version(artifact)
        data = self._graphql.execute(q.LINK_ARTIFACT, {"input": {
            "artifactID": version.id, "artifactPortfolioName": destination.name,
            "entityName": destination.entity, "projectName": destination.project,
            "aliases": [{"alias": a, "artifactCollectionName": destination.name} for a in aliases],
        }}, what=f"link {version.qualified_name} into {destination}")
        membership = data["linkArtifact"].get("artifactMembership")
        if membership is None:
            raise BadRequestError("W&B did not return the linked membership.")
        return ArtifactVersion.from_membership(membership, base_url=self.config.base_url)

    def unlink(self, artifact: ArtifactRef) -> None:
        """Remove a linked version from the portfolio it was resolved through."""
        from .errors import BadRequestError

        version = self._version(artifact)
        if not version.is_link:
            raise BadRequestError(
                f"{version.qualified_name} is in the collection it was logged into, not a link.",
                hint="Resolve it through the linked collection (e.g. the registry path), or use delete().",
            )
        collection = self._collection(ArtifactPath(version.entity, version.project, version.name))
        self._graphql.execute(q.UNLINK_ARTIFACT, {"input": {"artifactID": version.id,
                                                            "artifactPortfolioID": collection["id"]}},
                              what=f"unlink {version.qualified_name}")

    # --- collections ------------------------------------------------------------------------

    def _collection(self, path: ArtifactPath) -> dict[str, Any]:
        what = f"find collection {path.entity}/{path.project}/{path.name}"
        data = self._graphql.execute(q.COLLECTION, {"entity": path.entity, "project": path.project,
                                                    "collection": path.name}, what=what)
        node = (data.get("project") or {}).get("artifactCollection")
        if node is None:
            raise NotFoundError(f"{what}: it does not exist or this API key cannot see it.",
                                operation=q.COLLECTION.name)
        return dict(node)

    def update_collection(
        self,
        path: str | ArtifactPath,
        *,
        description: str | None = None,
        new_name: str | None = None,
        tags_add: Sequence[str] = (),
        tags_remove: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Update a collection's description, name and tags; returns its new state as a dict."""
        from ._metadata import check_tags
        from .paths import check_name

        if new_name is not None:
            check_name("collection", new_name)
        tags_add, tags_remove = check_tags(tags_add), check_tags(tags_remove)
        target = self.resolve_path(path)
        node = self._collection(target)
        current_tags = {e["node"]["name"] for e in node["tags"]["edges"]}
        name = node["name"]
        if (description is not None and description != node.get("description")) or (new_name and new_name != name):
            sequence = node["__typename"] == "ArtifactSequence"
            operation = q.UPDATE_SEQUENCE if sequence else q.UPDATE_PORTFOLIO
            id_key = "artifactSequenceID" if sequence else "artifactPortfolioID"
            data = self._graphql.execute(operation, {"input": {
                id_key: node["id"], "name": new_name or name,
                "description": description if description is not None else node.get("description"),
            }}, what=f"update collection {target}")
            node = next(iter(data.values()))["artifactCollection"]
            name = node["name"]
        where = {"entityName": target.entity, "projectName": target.project, "artifactCollectionName": name}
        if new_tags := [t for t in tags_add if t not in current_tags]:
            self._graphql.execute(q.ADD_COLLECTION_TAGS, {"input": {**where, "tags": [
                {"tagName": t} for t in new_tags]}}, what=f"tag collection {target}")
        if old_tags := [t for t in tags_remove if t in current_tags]:
            self._graphql.execute(q.DELETE_COLLECTION_TAGS, {"input": {**where, "tags": [
                {"tagName": t} for t in old_tags]}}, what=f"untag collection {target}")
        tags = (current_tags | set(tags_add)) - set(tags_remove)
        return {"entity": target.entity, "project": target.project, "name": name, "kind": node["__typename"],
                "description": node.get("description"), "tags": sorted(tags)}


def _no_alias(path: str) -> str:
    from .errors import InvalidArtifactPathError

    raise InvalidArtifactPathError(
        f"link target {path!r} names an alias; a target is a collection: '[entity/]project/collection'.",
        hint="Pass aliases with aliases=[...].",
    )
