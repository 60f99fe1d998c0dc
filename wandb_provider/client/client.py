"""``WandbClient``: the façade the Airflow layer (and anyone else) calls. Framework-free."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _queries as q
from ._hashing_files import DEFAULT_MULTIPART_THRESHOLD
from .config import DEFAULT_BASE_URL, ClientConfig
from .errors import ArtifactNotFoundError, BadRequestError, MalformedResponseError, NotFoundError, WandbError
from .manifest import Manifest, check_entry_path
from .models import (
    TTL,
    AliasChange,
    ArtifactVersion,
    DeleteOutcome,
    DownloadResult,
    FileUrl,
    ProgressUpdate,
    TTLChange,
    VerifyReport,
    Viewer,
    WandbRun,
)
from .paths import ArtifactPath
from .promotion import PREVIOUS_PREFIX

if TYPE_CHECKING:
    from ._aliases import AliasRequest
    from ._graphql import GraphQLClient
    from ._storage import Storage
    from ._transport import Transport
    from .gates import GateReport, Subject
    from .object_stores import ObjectStore

ArtifactRef = ArtifactVersion | str
PAGE_SIZE = 100
FILE_PAGE_SIZE = 5000
METADATA_RETRIES = 3  # read-merge-write again after a concurrent merge undid ours (see update())


class WandbClient:
    """A client for W&B artifacts over W&B's GraphQL API and storage URLs.

    :param base_url: The W&B API root, e.g. ``https://api.wandb.ai`` or a dedicated instance.
    :param api_key: The API key (sent as HTTP Basic ``api:<key>``; never logged).
    :param entity: Default entity for paths that name none.
    :param project: Default project for paths that name none.
    :param object_stores: ``{"s3": store, "gs": store}``: how ``s3://`` and ``gs://`` reference entries
        are read and logged (``wandb_provider.client.object_stores``); without one they are refused.
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
        object_stores: Mapping[str, ObjectStore] | None = None,
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
        self._in_flight: set[threading.Event] = set()  # cancel events of this client's running transfers
        self._in_flight_lock = threading.RLock()  # reentrant: cancel() may run in a signal handler
        self._storage: Storage | None = None
        self._default_entity: str | None = self.config.entity
        self._org_entities: dict[str | None, str] = {}
        self._object_stores: dict[str, ObjectStore] = dict(object_stores or {})

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

    def cancel(self) -> None:
        """Stop this client's transfers in flight (downloads and uploads, in any thread) within about a
        second: each raises ``CancelledError`` and leaves its root as it was. Safe to call from a signal
        handler (Airflow's ``on_kill``) or another thread; the client stays usable for new calls."""
        with self._in_flight_lock:
            events = list(self._in_flight)
        for event in events:
            event.set()

    @contextlib.contextmanager
    def _cancellable(self, event: threading.Event) -> Iterator[threading.Event]:
        """Register ``event`` as a running transfer's cancel event, for ``cancel``."""
        with self._in_flight_lock:
            self._in_flight.add(event)
        try:
            yield event
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(event)

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
        progress_interval: float = 5.0,
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
        :param progress_interval: Seconds between two ``progress`` calls (a terminal's progress bar
            wants fractions of a second; a log wants several seconds).
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
        if isinstance(progress_interval, bool) or not isinstance(progress_interval, (int, float)) \
                or not 0 < progress_interval < float("inf"):
            raise BadRequestError(f"progress_interval must be a positive number of seconds, not {progress_interval!r}.")
        target = resolve_root(root)
        version = self._version(artifact)
        manifest = self.manifest(version)
        entries = select(manifest, include, exclude, allow_empty=allow_empty)
        return self._download_entries(version, entries, target, mode=mode, verify=verify, cache=cache,
                                      max_workers=max_workers, progress=progress, remove_foreign=remove_foreign,
                                      link_from_cache=link_from_cache, progress_interval=progress_interval)

    def _download_entries(self, version: ArtifactVersion, entries: list[Any], root: Path, *, mode: str,
                          verify: bool, cache: bool, max_workers: int | None,
                          progress: Callable[[ProgressUpdate], None] | None, remove_foreign: bool,
                          link_from_cache: bool, progress_interval: float = 5.0) -> DownloadResult:
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
            policy=ReferencePolicy.of(self.config.allowed_file_reference_roots, self.config.allowed_reference_hosts,
                                      self._object_stores),
            lock_wait=self.config.deadline,
            verify=verify,
            link_from_cache=link_from_cache,
            progress_interval=progress_interval,
            backoff=(self.config.backoff_min, self.config.backoff_max),
            cache_scope=self.config.base_url,
            ledger_keys=self._ledger_keys(),
        )
        with self._cancellable(downloader.cancel):
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

    def verify(self, artifact: ArtifactRef, root: str | os.PathLike[str], *,
               include: str | Sequence[str] | None = None,
               exclude: str | Sequence[str] | None = None,
               allow_unverifiable: bool = False) -> VerifyReport:
        """Compare a folder with a version: missing, unexpected and mismatched files.

        ``include``/``exclude`` (globs, exact paths or folders, as for ``download``) check only the
        entries they select, and must select some; the version's other files are then neither missing
        nor unexpected. Links are not followed, and the provider's ``.wandb-provider/`` folder is ignored.
        A reference (http, S3, GCS) is checked by the MD5 recorded when the provider placed it; one
        without such a record is listed in ``unverifiable`` and the report is not ``ok`` unless
        ``allow_unverifiable=True`` (its size alone proves nothing).
        """
        from ._download import select, verify_root
        from ._roots import resolve_root

        target = resolve_root(root)
        whole = self.manifest(self._version(artifact))
        selected = whole
        if include is not None or exclude is not None:
            chosen = select(whole, include, exclude, allow_empty=False)
            selected = Manifest(entries={e.path: e for e in chosen}, storage_layout=whole.storage_layout)
        report = verify_root(selected, target, allow_unverifiable=allow_unverifiable, ledger_keys=self._ledger_keys())
        if selected is whole:
            return report
        # The version's files that the selection left out are not "unexpected".
        return dataclasses.replace(report, unexpected=tuple(p for p in report.unexpected if p not in whole.entries))

    def _ledger_keys(self) -> Path:
        """Where roots' ledger keys are kept: the provider's state folder, outside every root."""
        from ._roots import default_key_dir

        return default_key_dir()

    # --- aliases ----------------------------------------------------------------------------

    def update_aliases(
        self,
        artifact: ArtifactRef,
        *,
        add: str | Sequence[str] = (),
        remove: str | Sequence[str] = (),
        only_if_current: Mapping[str, str | None] | None = None,
        require: Mapping[str, Any] | None = None,
        on_missing: str = "fail",
    ) -> AliasChange:
        """Add and remove aliases on one version, behind an optional metadata gate and holder guard.

        Everything is checked before any request: alias names by W&B's rules (``latest`` and ``vN``
        are W&B's own and refused), guard values, the gate's shape. Then one read gives the version,
        its metadata and who holds each alias; the gate and the guard are decided on that read, and
        one request adds, one removes. Nothing is sent when the aliases are already in place, so a
        re-run costs one read.

        After writing, the holders and the metadata are read back (after a short wait, see
        ``_writes.settle``). If another writer raced this one (an added alias is elsewhere, a removed
        one is back, or the guard or the gate no longer holds), the aliases this call moved are put
        back where they were, unless someone has moved them since, and ``AliasConflictError`` names
        the versions involved.

        What W&B cannot guarantee: it has no compare-and-set, so the read, the write and the
        read-back are separate requests. Two writers that both read before either writes are told
        apart by their read-backs, as long as neither write lands after the other's read-back; the
        wait before the read-back makes that unlikely, not impossible.

        :param only_if_current: ``{"production": "v11"}``: each alias must sit on that version
            (``None``: on no version) or already on this one; otherwise ``AliasConflictError`` is
            raised and nothing changes.
        :param require: A metadata gate, e.g. ``{"eval.accuracy": {">=": 0.9}}`` (see ``conditions``).
            A term whose value is empty (None, ``""``, ``"None"``) is refused before any request.
        :param on_missing: ``"fail"`` (default): a gate key the metadata lacks raises
            ``MissingMetadataKeyError`` (with the keys it has and a did-you-mean); ``"skip"``: it is a
            condition that does not hold (``ConditionNotMetError``).
        :raises ConditionNotMetError: The gate does not hold; ``failures`` names each failed condition.
        :raises AliasConflictError: The guard failed before the write, or another writer raced it.
        :raises ProtectedAliasError: A protected registry alias and a caller who is not a registry admin.
        """
        import time

        from ._aliases import AliasRequest, check_gate, plan
        from ._writes import settle

        request = AliasRequest.of(add, remove, only_if_current, require, on_missing)
        started = time.monotonic()
        version, holders, holder_ids = self._version_and_holders(artifact, request.watched)
        check_gate(request, version, self._gate_report(version, request))
        change = plan(request, version, holders)
        if not change.changed:
            return change
        self._write_aliases(version, version.id, change.added, add=True)
        try:
            self._write_aliases(version, version.id, change.removed, add=False)
        except WandbError as exc:  # e.g. a protected alias: take back what was added, then say why
            if change.added:
                added_only = dataclasses.replace(change, removed=())
                exc.message += " " + self._undo_aliases(
                    added_only, {**holders, **dict.fromkeys(change.added, version.version)}, holder_ids)
            raise
        settle(time.monotonic() - started)
        return self._confirm_aliases(request, change, holder_ids)

    def _gate_report(self, version: ArtifactVersion, request: AliasRequest) -> GateReport | None:
        """The decided gate when it reads runs or other versions (None: metadata alone decides)."""
        from .gates import reads

        if not request.gate or not reads(request.gate).any:
            return None
        return self.evaluate_gate(version, request.gate, on_missing=request.on_missing)

    def _write_aliases(self, seen: ArtifactVersion, artifact_id: str, aliases: Sequence[str], *, add: bool) -> None:
        """Add (or remove) ``aliases`` on the version ``artifact_id`` in the collection ``seen`` belongs to."""
        if not aliases:
            return
        target = {"artifactCollectionName": seen.name, "entityName": seen.entity, "projectName": seen.project}
        operation = q.ADD_ALIASES if add else q.DELETE_ALIASES
        what = f"{'add' if add else 'remove'} aliases {list(aliases)} in {seen.entity}/{seen.project}/{seen.name}"
        self._graphql.execute(operation, {"input": {"artifactID": artifact_id, "aliases": [
            {"alias": a, **target} for a in aliases]}}, what=what)

    def _confirm_aliases(
        self, request: AliasRequest, change: AliasChange, holder_ids: dict[str, str | None]
    ) -> AliasChange:
        """Read back after an alias write; on a race, undo what we moved and raise ``AliasConflictError``."""
        from ._aliases import races
        from .errors import AliasConflictError

        version = change.artifact
        try:
            now, holders, _ = self._version_and_holders(self._pinned(version), request.watched)
        except ArtifactNotFoundError:
            raise AliasConflictError(
                f"moved aliases {list(change.added + change.removed)} of {version.qualified_name}, but the version "
                "can no longer be found: another writer deleted it meanwhile.",
                hint="Resolve the artifact again and decide again.",
            ) from None
        problems = races(request, now, holders)
        if not problems:
            return dataclasses.replace(change, artifact=now, after=holders)
        undone = self._undo_aliases(change, holders, holder_ids)
        raise AliasConflictError(
            f"another writer raced this alias change on {version.qualified_name}: " + "; ".join(problems)
            + f". {undone}",
            hint="W&B has no compare-and-set; resolve the artifact again and decide again.",
        )

    def _undo_aliases(self, change: AliasChange, holders: dict[str, str | None],
                      holder_ids: dict[str, str | None]) -> str:
        """Put the aliases ``change`` moved back where they were, unless another writer has moved them
        since (best effort); say what was done and where they are now."""
        version = change.artifact
        notes: list[str] = []
        try:
            for alias in change.added:
                previous, previous_id = change.before.get(alias), holder_ids.get(alias)
                if holders.get(alias) != version.version:
                    notes.append(f"left {alias!r} on {holders.get(alias) or 'no version'}, where another writer put it")
                elif previous and previous_id:
                    self._write_aliases(version, previous_id, [alias], add=True)
                    notes.append(f"put {alias!r} back on {previous}")
                else:
                    self._write_aliases(version, version.id, [alias], add=False)
                    notes.append(f"took {alias!r} off {version.version} again")
            for alias in change.removed:
                if holders.get(alias) is None:
                    self._write_aliases(version, version.id, [alias], add=True)
                    notes.append(f"put {alias!r} back on {version.version}")
            moved = list(change.added + change.removed)
            _, final, _ = self._version_and_holders(self._pinned(version), moved)
            notes.append("now " + ", ".join(f"{a!r} is on {final[a] or 'no version'}" for a in moved))
        except WandbError as exc:
            notes.append(f"could not finish putting the aliases back ({exc.message}); check them")
        return ("Undo: " + "; ".join(notes) + ".") if notes else ""

    @staticmethod
    def _pinned(version: ArtifactVersion) -> ArtifactPath:
        """The path of exactly this version in the collection it was seen through."""
        return ArtifactPath(version.entity, version.project, version.name, version.version)

    def _version_and_holders(
        self, artifact: ArtifactRef | ArtifactPath, aliases: Sequence[str]
    ) -> tuple[ArtifactVersion, dict[str, str | None], dict[str, str | None]]:
        """One request: a version (with its metadata, for a gate) and, for each alias, which version of
        its collection holds it (``vN`` or None) and that version's artifact id."""
        from ._writes import strict_answer

        target = self._pinned(artifact) if isinstance(artifact, ArtifactVersion) else self.resolve_path(artifact)
        operation = q.artifact_with_alias_holders(len(aliases))
        variables: dict[str, Any] = {"entity": target.entity, "project": target.project,
                                     "name": target.membership_name, "collection": target.name}
        variables.update({f"h{i}": alias for i, alias in enumerate(aliases)})
        what = f"resolve artifact {str(target)!r}"
        data = self._graphql.execute(operation, variables, what=what)
        with strict_answer(what, operation.name):
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
            holder_ids: dict[str, str | None] = {}
            for i, alias in enumerate(aliases):
                holder = slots.get(f"h{i}")
                index = holder["versionIndex"] if holder else None
                if holder and (not isinstance(index, int) or isinstance(index, bool)):
                    raise TypeError(f"alias {alias!r} is held by versionIndex {index!r}")
                holders[alias] = f"v{index}" if holder else None
                holder_ids[alias] = str(holder["artifact"]["id"]) if holder else None
        return version, holders, holder_ids

    # --- edits ------------------------------------------------------------------------------

    def update(
        self,
        artifact: ArtifactRef,
        *,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        metadata_mode: str = "merge",
        tags_add: str | Sequence[str] = (),
        tags_remove: str | Sequence[str] = (),
    ) -> ArtifactVersion:
        """Update a version's description, metadata and tags.

        ``metadata_mode="merge"`` merges deeply: nested dicts merge key by key, so
        ``{"eval": {"f1": 0.5}}`` keeps ``eval.accuracy``; any other value replaces. ``"replace"``
        writes the dict as given. Values are checked before any request; nothing is sent when
        nothing would change.

        W&B has no compare-and-set, so a metadata write is read, merge, write, read back: the
        metadata is read just before writing, and read again after a short wait. When a concurrent
        merge undid ours (our keys gone or back to their old values), the read-merge-write runs
        again, up to 3 more times. When another writer set our keys to values of its own, a
        ``replace`` was overwritten, or the retries run out, ``MetadataConflictError`` (transient:
        a re-run merges again) says so; the other writer's values are left in place.
        """
        import logging
        import time

        from ._metadata import CONFLICT, UpdateRequest
        from ._writes import settle
        from .errors import MetadataConflictError

        request = UpdateRequest.of(description, metadata, metadata_mode, tags_add, tags_remove)
        started = time.monotonic()
        view = self._version(artifact)
        current = self._reread(view) if isinstance(artifact, ArtifactVersion) else view
        attempts = 1 + METADATA_RETRIES
        for attempt in range(1, attempts + 1):
            changes = request.changes_for(current)
            if not changes:
                return current
            written = self._write_version(current, changes)
            if request.metadata is None:
                return written
            settle(time.monotonic() - started)
            now = self._reread(view)
            problem = request.lost(current.metadata, now.metadata)
            if problem is None:
                return now
            kind, keys = problem
            if kind == CONFLICT:
                raise MetadataConflictError(
                    f"update {view.qualified_name}: another writer changed the metadata at the same time and "
                    f"set {keys} to values of its own; its values were kept.",
                    hint="W&B has no compare-and-set; re-run to write these values again.",
                )
            if attempt < attempts:
                logging.getLogger("wandb_provider.client.writes").warning(
                    "update %s: a concurrent metadata write undid %s; merging again (attempt %d of %d)",
                    view.qualified_name, keys, attempt + 1, attempts)
            started = time.monotonic()
            current = now
        raise MetadataConflictError(
            f"update {view.qualified_name}: concurrent metadata writes undid this merge {attempts} times in a row.",
            hint="Another process keeps rewriting this version's metadata; re-run later.",
        )

    def _reread(self, view: ArtifactVersion) -> ArtifactVersion:
        """``view`` with its description, metadata, tags and state read fresh (one request, by id)."""
        from ._writes import strict_answer

        what = f"read {view.qualified_name}"
        data = self._graphql.execute(q.ARTIFACT_BY_ID, {"id": view.id}, what=what)
        with strict_answer(what, q.ARTIFACT_BY_ID.name):
            node = data.get("artifact")
            if node is None:
                raise ArtifactNotFoundError(f"{what}: the version no longer exists.", operation=q.ARTIFACT_BY_ID.name)
            fresh = ArtifactVersion.from_graphql(node, base_url=self.config.base_url, aliases=[])
        return dataclasses.replace(view, description=fresh.description, metadata=fresh.metadata, tags=fresh.tags,
                                   state=fresh.state, updated_at=fresh.updated_at)

    def _write_version(self, version: ArtifactVersion, changes: dict[str, Any]) -> ArtifactVersion:
        from ._writes import strict_answer

        what = f"update {version.qualified_name}"
        data = self._graphql.execute(q.UPDATE_ARTIFACT, {"input": {"artifactID": version.id, **changes}}, what=what)
        with strict_answer(what, q.UPDATE_ARTIFACT.name):
            node = data["updateArtifact"]["artifact"]
            fresh = ArtifactVersion.from_graphql(node, base_url=self.config.base_url, aliases=[])
        return dataclasses.replace(version, description=fresh.description, metadata=fresh.metadata,
                                   tags=fresh.tags, updated_at=fresh.updated_at)

    def delete(self, artifact: ArtifactRef, *, delete_aliases: bool = False) -> None:
        """Delete a version (soft, as W&B does).

        W&B refuses a version that holds aliases unless ``delete_aliases=True``, which removes
        whatever aliases it holds at that moment, in every collection. Retention should use
        ``delete_if_unclaimed``, which re-checks the version first and never drops an alias it did not see.
        """
        if not isinstance(delete_aliases, bool):
            raise BadRequestError(f"delete_aliases must be True or False, not {delete_aliases!r}.")
        version = self._version(artifact)
        self._graphql.execute(q.DELETE_ARTIFACT, {"input": {"artifactID": version.id,
                                                            "deleteAliases": delete_aliases}},
                              what=f"delete {version.qualified_name}")

    def set_ttl(self, artifact: ArtifactRef, ttl: TTL, *, may_drop: str | Sequence[str] = (),
                protected_aliases: str | Sequence[str] = ()) -> TTLChange:
        """Set a version's time-to-live (W&B's ``ttl``): seconds > 0, ``None`` for no TTL (even when
        the team has a default), or ``"inherit"`` for the team's default.

        W&B counts the TTL from the version's creation and deletes it soon after it runs out. Like the
        official SDK, a version seen through a link (a registry or portfolio) is refused: its TTL is
        the source version's. The TTL is read first (nothing is sent when it is already so), written,
        then read back; when another writer changed it meanwhile, ``MetadataConflictError`` says so.

        A TTL is a delete on a timer, so it gets ``delete_if_unclaimed``'s protections (README,
        "Safety"): a TTL other than None is refused (``BadRequestError``, nothing written) when the
        version, re-read just before, holds a protected alias (``protected_aliases``; in a registry
        every alias but ``latest``), an alias other than ``latest`` and ``may_drop``, is linked into
        another collection, or is not COMMITTED.
        """
        import time

        from ._ttl import check_ttl, ttl_from_wire, ttl_to_wire
        from ._writes import settle, strict_answer
        from .errors import MetadataConflictError

        wanted = check_ttl(ttl)
        rules = _claim_rules(may_drop, protected_aliases)
        version = self._version(artifact)
        if version.is_link:
            raise BadRequestError(
                f"set the TTL of {version.qualified_name}: it is a link; W&B keeps a TTL on the source version.",
                hint=f"Pass the source version, {version.source_entity}/{version.source_project}/"
                     f"{version.source_name}:{version.source_version}.")
        started = time.monotonic()
        before = self._ttl_of(version)
        if before == wanted:
            return TTLChange(version, before, before, changed=False)
        what = f"set the TTL of {version.qualified_name}"
        if wanted is not None:
            refusal = self._unclaimed(version, rules)
            if refusal is not None:
                raise BadRequestError(
                    f"{what} to {wanted!r}: refused, {refusal}; when its TTL ran out W&B would delete it.",
                    hint="Move the alias off it first, or name the aliases it may lose with it (may_drop / "
                         "drop_aliases); a protected alias always keeps its version.")
        data = self._graphql.execute(q.UPDATE_ARTIFACT_TTL, {"input": {
            "artifactID": version.id, "ttlDurationSeconds": ttl_to_wire(wanted)}}, what=what)
        with strict_answer(what, q.UPDATE_ARTIFACT_TTL.name):
            ttl_from_wire(data["updateArtifact"]["artifact"])
        settle(time.monotonic() - started)
        after = self._ttl_of(version)
        if after != wanted:
            raise MetadataConflictError(
                f"{what} to {wanted!r}: read back {after!r}; another writer changed it at the same time.",
                hint="W&B has no compare-and-set; re-run to write it again.")
        return TTLChange(version, before, after, changed=True)

    def _ttl_of(self, version: ArtifactVersion) -> TTL:
        from ._ttl import ttl_from_wire
        from ._writes import strict_answer

        what = f"read the TTL of {version.qualified_name}"
        data = self._graphql.execute(q.ARTIFACT_TTL, {"id": version.id}, what=what)
        with strict_answer(what, q.ARTIFACT_TTL.name):
            node = data.get("artifact")
            if node is None or node["state"] == "DELETED":
                raise ArtifactNotFoundError(f"{what}: the version no longer exists.", operation=q.ARTIFACT_TTL.name)
            return ttl_from_wire(node)

    def delete_if_unclaimed(
        self,
        artifact: ArtifactRef,
        *,
        may_drop: str | Sequence[str] = (),
        protected_aliases: str | Sequence[str] = (),
        dry_run: bool = False,
    ) -> DeleteOutcome:
        """Delete a version (in a link collection: unlink it) unless something claims it right now.

        The version is read again just before, and kept when it now: holds an alias other than
        ``latest`` and ``may_drop`` (the aliases the caller saw and agreed to lose); holds a
        protected alias, whatever the key's role (``protected_aliases``, and in a registry every
        alias but ``latest``, since W&B does not tell clients which of them are protected); is
        linked into any other collection (deleting it would take it out of that registry or
        portfolio too); or is not COMMITTED.

        Aliases in ``may_drop`` are removed by name first, and the delete asks W&B to drop aliases
        only when ``latest`` is on the version, so an alias gained after the re-read makes W&B
        refuse, and the version is kept. W&B has no such refusal for unlinking: an alias added to a
        link in the instant between the re-read and the unlink goes with it.

        :param dry_run: Re-check and decide, but change nothing (``would_delete``, ``would_unlink``).
        :return: What happened: ``deleted``, ``unlinked``, ``kept`` (with the reason) or ``gone``
            (someone else deleted or unlinked it first).
        """
        from .errors import ProtectedAliasError

        rules = _claim_rules(may_drop, protected_aliases)
        version = self._version(artifact)
        name = version.qualified_name
        claims = self._claims(version)
        if claims is None:
            return DeleteOutcome(name, "gone", "no longer in the collection: deleted or unlinked by someone else")
        _, here, _, collection_id = claims
        refusal = _claim_refusal(version, claims, *rules)
        if refusal is not None:
            return DeleteOutcome(name, "kept", refusal)
        if dry_run:
            return DeleteOutcome(name, "would_unlink" if version.is_link else "would_delete", "")
        try:
            if version.is_link:
                self._graphql.execute(q.UNLINK_ARTIFACT, {"input": {
                    "artifactID": version.id, "artifactPortfolioID": collection_id}}, what=f"unlink {name}")
                return DeleteOutcome(name, "unlinked", "")
            dropped = [a for a in here if a != "latest"]
            self._write_aliases(version, version.id, dropped, add=False)
            try:
                self._graphql.execute(q.DELETE_ARTIFACT, {"input": {
                    "artifactID": version.id, "deleteAliases": "latest" in here}}, what=f"delete {name}")
            except WandbError as exc:
                self._restore_dropped(version, dropped)
                if type(exc) is not BadRequestError:
                    raise
                return DeleteOutcome(name, "kept", f"W&B refused to delete it (it gained an alias?): {exc.message}")
        except ProtectedAliasError as exc:
            return DeleteOutcome(name, "kept", f"it holds a protected alias: {exc.message}")
        return DeleteOutcome(name, "deleted", "")

    def _unclaimed(self, version: ArtifactVersion, rules: tuple[set[str], set[str]]) -> str | None:
        """Why ``version`` may not be deleted now (re-read), or None (see ``delete_if_unclaimed``)."""
        claims = self._claims(version)
        if claims is None:
            raise ArtifactNotFoundError(f"re-check {version.qualified_name}: it is no longer in its collection.")
        return _claim_refusal(version, claims, *rules)

    def _claims(self, version: ArtifactVersion) -> tuple[str, list[str], list[str], str] | None:
        """``(state, aliases here, other collections, this collection's id)``; None when it is no longer
        a member of the collection it was seen through."""
        from ._writes import strict_answer
        from .paths import is_version

        what = f"re-check {version.qualified_name} before deleting it"
        data = self._graphql.execute(q.ARTIFACT_CLAIMS, {"id": version.id}, what=what)
        with strict_answer(what, q.ARTIFACT_CLAIMS.name):
            node = data.get("artifact")
            if node is None or node["state"] == "DELETED":
                return None

            def where(collection: Any) -> str:
                project = collection["project"]
                return f"{project['entity']['name']}/{project['name']}/{collection['name']}"

            target = f"{version.entity}/{version.project}/{version.name}"
            memberships = node["artifactMemberships"]
            collections = [edge["node"]["artifactCollection"] for edge in memberships["edges"]]
            mine = [c for c in collections if where(c) == target]
            if not mine:
                return None
            elsewhere = sorted({where(c) for c in collections} - {target})
            # An alias whose collection W&B does not name counts as held here: it keeps the version.
            here = sorted({a["alias"] for a in node["aliases"] if not is_version(a["alias"])
                           and (a.get("artifactCollection") is None or where(a["artifactCollection"]) == target)})
            return str(node["state"]), here, elsewhere, str(mine[0]["id"])

    def _restore_dropped(self, version: ArtifactVersion, dropped: list[str]) -> None:
        """Best effort: put back aliases removed before a delete W&B then refused, where nobody took them."""
        if not dropped:
            return
        try:
            _, holders, _ = self._version_and_holders(self._pinned(version), dropped)
            self._write_aliases(version, version.id, [a for a in dropped if holders[a] is None], add=True)
        except WandbError:
            pass

    # --- links ------------------------------------------------------------------------------

    def link(self, artifact: ArtifactRef, target: str, *, aliases: str | Sequence[str] = ()) -> ArtifactVersion:
        """Link a version into a collection (created on first link): ``project/collection``,
        ``entity/project/collection``, or a registry path ``[org/]wandb-registry-<name>/<collection>``.

        A target that names no project (``"churn"``) is refused before any request: W&B would
        create a collection in some default project. Linking a version that is already there adds
        no second membership (only the aliases). ``latest`` and ``vN`` are W&B's and refused.
        :return: The version as seen in the target collection (its index there).
        """
        from ._aliases import check_alias_names
        from ._features import MEMBERSHIP_IN_LINK_RESPONSE
        from ._writes import strict_answer
        from .errors import AliasConflictError

        names = check_alias_names(aliases, "aliases")
        destination = self.resolve_path(_link_target(target))
        version = self._version(artifact)
        what = f"link {version.qualified_name} into {destination}"
        answers_membership = self._graphql.features.enabled(MEMBERSHIP_IN_LINK_RESPONSE)
        operation = q.LINK_ARTIFACT if answers_membership else q.LINK_ARTIFACT_INDEX
        data = self._graphql.execute(operation, {"input": {
            "artifactID": version.id, "artifactPortfolioName": destination.name,
            "entityName": destination.entity, "projectName": destination.project,
            "aliases": [{"alias": a, "artifactCollectionName": destination.name} for a in names],
        }}, what=what)
        with strict_answer(what, operation.name):
            result = data["linkArtifact"]
            if answers_membership:
                membership = result["artifactMembership"]
                if membership is None:
                    raise MalformedResponseError(
                        f"{what}: W&B's answer has no field 'linkArtifact.artifactMembership'.",
                        operation=operation.name)
                linked = ArtifactVersion.from_membership(membership, base_url=self.config.base_url)
            else:
                index = result["versionIndex"]
                if not isinstance(index, int) or isinstance(index, bool):
                    raise MalformedResponseError(f"{what}: W&B's answer has no field 'linkArtifact.versionIndex'.",
                                                 operation=operation.name)
        if not answers_membership:  # an older W&B Server: read the new membership back
            linked = self.artifact(f"{destination.entity}/{destination.project}/{destination.name}:v{index}")
        if missing := sorted(set(names) - set(linked.aliases)):
            raise AliasConflictError(
                f"{what}: linked as {linked.qualified_name}, but {missing} did not stay on it: another writer "
                "moved them at the same time.", hint="Check the target's aliases and link again if needed.",
            )
        return linked

    def unlink(self, artifact: ArtifactRef) -> None:
        """Remove a linked version from the portfolio it was resolved through."""
        from ._writes import strict_answer

        version = self._version(artifact)
        if not version.is_link:
            raise BadRequestError(
                f"{version.qualified_name} is in the collection it was logged into, not a link.",
                hint="Resolve it through the linked collection (e.g. the registry path), or use delete().",
            )
        collection = self._collection(ArtifactPath(version.entity, version.project, version.name))
        with strict_answer(f"unlink {version.qualified_name}", q.COLLECTION.name):
            collection_id = str(collection["id"])
        self._graphql.execute(q.UNLINK_ARTIFACT, {"input": {"artifactID": version.id,
                                                            "artifactPortfolioID": collection_id}},
                              what=f"unlink {version.qualified_name}")

    # --- collections ------------------------------------------------------------------------

    def _collection(self, path: ArtifactPath) -> dict[str, Any]:
        from ._writes import strict_answer

        what = f"find collection {path.entity}/{path.project}/{path.name}"
        data = self._graphql.execute(q.COLLECTION, {"entity": path.entity, "project": path.project,
                                                    "collection": path.name}, what=what)
        with strict_answer(what, q.COLLECTION.name):
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
        tags_add: str | Sequence[str] = (),
        tags_remove: str | Sequence[str] = (),
    ) -> dict[str, Any]:
        """Update a collection's description, name and tags; returns its new state as a dict."""
        from ._metadata import check_tags
        from ._writes import strict_answer
        from .paths import check_name

        if description is not None and not isinstance(description, str):
            raise BadRequestError(f"description must be text, not {type(description).__name__}.")
        if new_name is not None:
            if not isinstance(new_name, str):
                raise BadRequestError(f"new_name must be text, not {type(new_name).__name__}.")
            check_name("collection", new_name)
        added, removed = check_tags(tags_add, "tags_add"), check_tags(tags_remove, "tags_remove")
        if both := sorted(set(added) & set(removed)):
            raise BadRequestError(f"tags {both} are both added and removed.")
        target = self.resolve_path(path)
        node = self._collection(target)
        what = f"update collection {target}"
        with strict_answer(what, q.COLLECTION.name):
            current_tags = {e["node"]["name"] for e in node["tags"]["edges"]}
            name = str(node["name"])
            sequence = node["__typename"] == "ArtifactSequence"
            collection_id = node["id"]
        if (description is not None and description != node.get("description")) or (new_name and new_name != name):
            operation = q.UPDATE_SEQUENCE if sequence else q.UPDATE_PORTFOLIO
            id_key = "artifactSequenceID" if sequence else "artifactPortfolioID"
            data = self._graphql.execute(operation, {"input": {
                id_key: collection_id, "name": new_name or name,
                "description": description if description is not None else node.get("description"),
            }}, what=what)
            with strict_answer(what, operation.name):
                node = next(iter(data.values()))["artifactCollection"]
                name = str(node["name"])
        where = {"entityName": target.entity, "projectName": target.project, "artifactCollectionName": name}
        if new_tags := [t for t in added if t not in current_tags]:
            self._graphql.execute(q.ADD_COLLECTION_TAGS, {"input": {**where, "tags": [
                {"tagName": t} for t in new_tags]}}, what=f"tag collection {target}")
        if old_tags := [t for t in removed if t in current_tags]:
            self._graphql.execute(q.DELETE_COLLECTION_TAGS, {"input": {**where, "tags": [
                {"tagName": t} for t in old_tags]}}, what=f"untag collection {target}")
        tags = (current_tags | set(added)) - set(removed)
        return {"entity": target.entity, "project": target.project, "name": name, "kind": node.get("__typename"),
                "description": node.get("description"), "tags": sorted(tags)}

    # --- logging ----------------------------------------------------------------------------

    def log_artifact(
        self,
        name: str,
        type: str,
        files: Any = None,
        *,
        project: str | None = None,
        entity: str | None = None,
        references: Any = (),
        metadata: Mapping[str, Any] | str | None = None,
        description: str | None = None,
        aliases: str | Sequence[str] = (),
        tags: str | Sequence[str] = (),
        run: WandbRun | Mapping[str, Any] | None = None,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        max_workers: int | None = None,
        progress: Callable[[ProgressUpdate], None] | None = None,
        cancel: threading.Event | None = None,
        created: Callable[[bool], None] | None = None,
        digest_algorithm: str = "MD5",
    ) -> ArtifactVersion:
        """Log a new version of ``entity/project/name`` from local files (and references); return it.

        :param files: A path, a folder (its files keep their relative names), a glob, a list of those,
            or a mapping ``{name in the artifact: path, folder or glob}``. Symlinks inside a folder are
            followed only when they stay inside it.
        :param references: ``http(s)://`` URLs (ETag and size recorded, nothing downloaded; private
            addresses only if ``allowed_reference_hosts`` allows them) and ``file://`` paths under
            ``allowed_file_reference_roots``; a list (named after the URL's last segment) or a
            mapping ``{name: url}``. ``s3://`` and ``gs://`` through ``object_stores``, as the SDK's
            ``add_reference``: an item may be ``{"uri", "name", "checksum", "max_objects"}``.
        :param aliases: Added to the version; ``latest`` is always added, as W&B's SDK does.
        :param run: Log the version as an output of this run (``upsert_run``); the run's project is
            the default ``project``.
        :param multipart_threshold: Files of this size and more are uploaded in parallel parts
            (W&B's default 2 GiB).
        :param created: Called once before returning, with True when a new version was created and
            False when an existing version with the same content was returned.
        :param digest_algorithm: ``"MD5"`` (the default) or ``"XXH128"``, as the SDK's
            ``wandb.Artifact(digest_algorithm=...)``: files' entries get XXH128 digests (storage still
            checks their MD5). As the SDK does, MD5 is used instead when the entity does not allow
            XXH128 digests or the collection already holds MD5 versions (logged at INFO).

        Everything is checked before any request (names, paths, metadata, aliases, tags); files are
        hashed once (MD5, streamed). The same content as an existing version gives that version back
        (no new version, no file bytes sent; the requested aliases are still added). Only files W&B
        lacks are uploaded; a file that changes while it is logged raises ``LocalFileError``
        (transient) and nothing is committed. A failed or killed upload commits nothing, and a
        re-run finishes the same version.
        """
        import logging

        from ._upload import Destination, Uploader

        plan = self._log_plan(name, type, files, project, entity, references, metadata, description, aliases,
                              tags, run, multipart_threshold, max_workers)
        plan.algorithm = _digest_algorithm(digest_algorithm)
        cancel = cancel if cancel is not None else threading.Event()
        with self._cancellable(cancel):
            dest_entity = plan.entity or self.default_entity()
            if plan.algorithm != "md5":
                plan.algorithm = self._allowed_digest_algorithm(plan, dest_entity)
            hashed, reference_entries = plan.prepare(self._transport, cancel)
            dest = Destination(dest_entity, plan.project, name, type, plan.run.run_id if plan.run else None)
            uploader = Uploader(self._graphql, self._transport, plan.workers, progress, cancel)
            outcome = uploader.run(dest, hashed, reference_entries, plan.create_input(dest_entity), plan.algorithm)
        path = f"{dest_entity}/{plan.project}/{name}:v{outcome.version_index}"
        version = self.artifact(path)
        log = logging.getLogger("wandb_provider.client.upload")
        if created is not None:
            created(not outcome.deduplicated)
        if outcome.deduplicated:
            log.info("log artifact %s: %s already has exactly this content; no new version was created and no "
                     "file was uploaded.", f"{dest_entity}/{plan.project}/{name}", version.qualified_name)
            version = self._apply_to_existing(version, plan, log)
            if missing := [a for a in plan.aliases if a != "latest" and a not in version.aliases]:
                version = self.update_aliases(version, add=missing).artifact
        else:
            log.info("log artifact %s: committed %s (%d file(s), %d bytes uploaded).", dest.name,
                     version.qualified_name, outcome.files_uploaded, outcome.bytes_uploaded)
        return version

    def _allowed_digest_algorithm(self, plan: _LogPlan, entity: str) -> str:
        """``plan.algorithm`` if W&B allows it here, else ``"md5"``, decided as wandb-core decides: the
        server must report ARTIFACT_DIGEST_ALGORITHM, the entity allow XXH128 digests, and an existing
        collection keeps its own algorithm. A server that does not know the question gets MD5."""
        import logging

        from . import _queries as q
        from ._features import DIGEST_ALGORITHM

        log = logging.getLogger("wandb_provider.client.upload")
        where = f"{entity}/{plan.project}/{plan.name}"
        if not self._graphql.features.enabled(DIGEST_ALGORITHM):
            log.info("log artifact %s: this W&B server has no per-file digest algorithms; logging with MD5, as "
                     "the SDK does.", where)
            return "md5"
        try:
            data = self._graphql.execute(q.XXHASH_DIGESTS_ENABLED, {"entityName": entity},
                                         what=f"log artifact {where}: may it use XXH128 digests")
            allowed = bool((data.get("entity") or {}).get("xxhashDigestsEnabled"))
        except (BadRequestError, MalformedResponseError):
            allowed = False
        if not allowed:
            log.info("log artifact %s: W&B does not allow XXH128 digests for %s; logging with MD5, as the SDK "
                     "does.", where, entity)
            return "md5"
        data = self._graphql.execute(q.FETCH_ARTIFACT_DIGEST_ALGORITHM, {
            "entityName": entity, "projectName": plan.project, "artifactTypeName": plan.type,
            "artifactCollectionName": plan.name}, what=f"log artifact {where}: read its digest algorithm")
        collection = (((data.get("project") or {}).get("artifactType") or {}).get("artifactCollection") or {})
        existing = collection.get("digestAlgorithm")
        if existing == "MANIFEST_MD5":
            log.info("log artifact %s: the collection holds MD5 versions; logging with MD5, as the SDK does.", where)
            return "md5"
        return plan.algorithm

    def _apply_to_existing(self, version: ArtifactVersion, plan: _LogPlan, log: Any) -> ArtifactVersion:
        """The metadata, description and tags asked for, applied to the existing version with the same
        content (W&B returns that version instead of a new one, and they must not be dropped
        silently). Metadata merges (keys written since, e.g. evaluation results, are kept)."""
        description = plan.description if plan.description and plan.description != version.description else None
        tags = [t for t in plan.tags if t not in version.tags]
        if not plan.metadata and description is None and not tags:
            return version
        updated = self.update(version, description=description, metadata=plan.metadata or None, tags_add=tags)
        applied = [what for what, before, after in (("metadata", version.metadata, updated.metadata),
                                                    ("description", version.description, updated.description),
                                                    ("tags", version.tags, updated.tags)) if before != after]
        if applied:
            log.warning("log artifact %s: the content is unchanged, so no new version was made; applied the new %s "
                        "to the existing version.", version.qualified_name, ", ".join(applied))
        return updated

    def _log_plan(self, name: str, type: str, files: Any, project: str | None, entity: str | None,
                  references: Any, metadata: Mapping[str, Any] | str | None, description: str | None,
                  aliases: str | Sequence[str], tags: str | Sequence[str], run: Any,
                  multipart_threshold: int, max_workers: int | None) -> _LogPlan:
        """Check every argument of ``log_artifact`` (no request)."""
        import json as jsonlib

        from ._metadata import check_metadata, check_tags
        from .paths import REGISTRY_PREFIX, check_alias, check_entity, check_name, check_project
        from .rules import name_list

        for kind, value in (("artifact", name), ("artifact type", type)):
            if not isinstance(value, str):
                raise BadRequestError(f"the {kind} name must be text, not {value!r}.")
            check_name(kind, value)
        if type.startswith("wandb-") or type == "job":
            raise BadRequestError(f"artifact type {type!r} is reserved by W&B.", hint="Choose another type name.")
        run = _as_run(run) if run is not None else None
        project = project or (run.project if run else None) or self.config.project
        entity = entity or (run.entity if run else None) or self.config.entity
        if not project:
            raise BadRequestError("log_artifact needs a project: pass project= or set WANDB_PROJECT.")
        _check_texts(project=project, entity=entity)
        check_project(project)
        if project.startswith(REGISTRY_PREFIX):
            raise BadRequestError(f"{project!r} is a registry: versions are logged into a project and then linked "
                                  "into a registry.", hint="Log into a project, then call link(version, ...).")
        if entity is not None:
            check_entity(entity)
        if run is not None and (run.project != project or (entity is not None and run.entity != entity)):
            raise BadRequestError(f"run {run.path} logs into its own project, not {entity}/{project}.",
                                  hint="Leave project/entity unset, or use a run of that project.")
        names = [a for a in name_list(aliases, "aliases") if a != "latest"]
        for alias in names:
            check_alias(alias, allow_version=False)
        tag_names = check_tags(tags, "tags")
        if isinstance(metadata, str):
            text = metadata
            try:
                metadata = jsonlib.loads(text) if text.strip() else None
            except ValueError as exc:  # says where, never what: the text may hold secrets (a mistaken .env)
                raise BadRequestError(f"metadata is not JSON ({_json_problem(exc)}).",
                                      hint="Pass a JSON object, e.g. '{\"rows\": 2}'.") from None
        meta = check_metadata(metadata) if metadata is not None else {}
        if description is not None and not isinstance(description, str):
            raise BadRequestError(f"description must be text, not {description.__class__.__name__}.")
        threshold = _positive_int(multipart_threshold, "multipart_threshold")
        workers = _positive_int(max_workers, "max_workers") if max_workers is not None else self.config.max_workers
        local, refs = self.check_sources(files, references)
        if clash := sorted({f.name for f in local} & {r.name for r in refs}):
            raise BadRequestError(f"{clash[0]!r} is both a file and a reference of the artifact.")
        if not local and not refs:
            raise BadRequestError("log_artifact got no files and no references: nothing to log.")
        return _LogPlan(name, type, project, entity, [*names, "latest"], tag_names, meta, description, run,
                        threshold, workers, local, refs)

    def check_sources(self, files: Any = None, references: Any = ()) -> tuple[list[Any], list[Any]]:
        """Check ``log_artifact``'s files (they exist, names follow W&B's rules) and references (schemes,
        the address policy, an object store for ``s3://``/``gs://``), with no request; e.g. before a run
        is recorded. Returns what ``log_artifact`` would upload and reference."""
        from ._log_references import parse_references
        from ._sources import collect

        local = collect(files) if files not in (None, "", (), []) else []
        refs = (parse_references(references, self.config, self._object_stores)
                if references not in (None, "", (), []) else [])
        return local, refs

    # --- runs and lineage -------------------------------------------------------------------

    def upsert_run(
        self,
        entity: str | None,
        project: str,
        run_id: str,
        *,
        job_type: str | None = None,
        group: str | None = None,
        config: Mapping[str, Any] | None = None,
        display_name: str | None = None,
        state: str = "running",
        used: Sequence[ArtifactVersion] = (),
    ) -> WandbRun:
        """Create the run ``entity/project/run_id``, or update it when it exists (one request).

        Safe to call again (an Airflow retry resumes the same run): the run gets ``state`` and its
        config is replaced. ``config`` is stored as W&B stores a run's config
        (``{key: {"value": ...}}``), so ``wandb.Api().run(path).config`` reads it back. ``used``
        versions are declared used by the run in the same request (W&B's ``useArtifact``).
        """
        import json as jsonlib

        from ._metadata import check_metadata
        from .paths import check_entity, check_project

        _check_texts(project=project, entity=entity)
        check_project(project)
        if entity is not None:
            check_entity(entity)
        _check_run_id(run_id)
        for label, value in (("job_type", job_type), ("group", group), ("display_name", display_name)):
            if value is not None and (not isinstance(value, str) or len(value) > 128):
                raise BadRequestError(f"{label} must be text of at most 128 characters, not {value!r}.")
        values = check_metadata(config) if config is not None else None
        _check_state(state)
        entity = entity or self.default_entity()
        spec: dict[str, Any] = {"name": run_id, "entityName": entity, "modelName": project, "state": state}
        optional = {"jobType": job_type, "groupName": group, "displayName": display_name,
                    "config": jsonlib.dumps({k: {"value": v, "desc": None} for k, v in values.items()})
                    if values is not None else None}
        spec.update({k: v for k, v in optional.items() if v is not None})
        return self._upsert_bucket(spec, used, f"record run {entity}/{project}/{run_id}")

    def finish_run(self, run: WandbRun | Mapping[str, Any], *, failed: bool,
                   used: Sequence[ArtifactVersion] = ()) -> WandbRun:
        """Mark the run ``finished`` or ``failed`` (one request, with any ``used`` versions declared);
        what ``wandb.Api().run(...).state`` reads."""
        run = _as_run(run)
        if not isinstance(failed, bool):
            raise BadRequestError(f"finish_run needs failed=True or False, not {failed!r}.")
        state = "failed" if failed else "finished"
        return self._upsert_bucket({"name": run.run_id, "entityName": run.entity, "modelName": run.project,
                                    "state": state}, used, f"mark run {run.path} {state}")

    def _upsert_bucket(self, spec: dict[str, Any], used: Sequence[ArtifactVersion], what: str) -> WandbRun:
        from ._writes import strict_answer

        versions = list({v.id: v for v in used}.values())
        if any(not isinstance(v, ArtifactVersion) for v in versions):
            raise BadRequestError("used must hold resolved ArtifactVersion objects.")
        # One mutation per request, as the SDK sends them: the run first, then each use. A use that
        # fails leaves the run recorded; calling again is safe (both writes are idempotent).
        names = {"entityName": "entity", "modelName": "project"}
        variables = {names.get(key, key): value for key, value in spec.items()}
        data = self._graphql.execute(q.UPSERT_RUN, variables, what=what)
        with strict_answer(what, q.UPSERT_RUN.name):
            run = WandbRun.from_graphql(data["upsertBucket"]["bucket"], base_url=self.config.base_url)
        for version in versions:
            self._graphql.execute(q.USE_ARTIFACT, {"input": {
                "entityName": spec["entityName"], "projectName": spec["modelName"], "runName": spec["name"],
                "artifactID": version.id,
            }}, what=f"{what}: record that it used {version.qualified_name}")
        return run

    def use_artifact(self, run: WandbRun | Mapping[str, Any], artifact: ArtifactRef) -> ArtifactVersion:
        """Declare that ``run`` consumed a version (W&B's ``useArtifact``): it appears in ``used_by()``."""
        run = _as_run(run)
        version = self._version(artifact)
        self._graphql.execute(q.USE_ARTIFACT, {"input": {
            "entityName": run.entity, "projectName": run.project, "runName": run.run_id, "artifactID": version.id,
        }}, what=f"record that run {run.path} used {version.qualified_name}")
        return version

    def producer(self, artifact: ArtifactRef) -> WandbRun | None:
        """The run that logged a version (``logged_by()``), or None when no run did (one request)."""
        version = self._version(artifact)
        what = f"find the run that logged {version.qualified_name}"
        creator = self._creating_run(q.ARTIFACT_PRODUCER, version, what)
        return None if creator is None else WandbRun.from_graphql(creator, base_url=self.config.base_url)

    def _creating_run(self, operation: q.Operation, version: ArtifactVersion, what: str) -> dict[str, Any] | None:
        """``createdBy`` of ``version`` as ``operation`` selects it when a run created it, else None;
        a version gone meanwhile is ``ArtifactNotFoundError``, a malformed answer is typed."""
        from ._writes import strict_answer

        data = self._graphql.execute(operation, {"id": version.id}, what=what)
        with strict_answer(what, operation.name):
            node = data["artifact"]
            if node is None:
                raise ArtifactNotFoundError(f"{what}: the version no longer exists.", operation=operation.name)
            creator = node.get("createdBy")
            return creator if creator and creator.get("__typename") == "Run" else None

    def gate_subject(self, artifact: ArtifactRef, *, with_run: bool) -> Subject:
        """A version as a gate reads it: its metadata and (``with_run``) its producing run's summary
        and config, in one request (``ArtifactProducerValues``)."""
        import json

        from ._writes import strict_answer
        from .gates import Subject, run_config_values

        version = self._version(artifact)
        subject = Subject(qualified_name=version.qualified_name, version=version.version, id=version.id,
                          metadata=version.metadata)
        if not with_run:
            return subject
        what = f"read the run that logged {version.qualified_name}"
        creator = self._creating_run(q.ARTIFACT_PRODUCER_VALUES, version, what)
        if creator is None:
            return dataclasses.replace(subject, run_read=True)
        with strict_answer(what, q.ARTIFACT_PRODUCER_VALUES.name):
            run = WandbRun.from_graphql(creator, base_url=self.config.base_url)
            summary, config = (json.loads(creator.get(k) or "{}") for k in ("summaryMetrics", "config"))
            if not isinstance(summary, dict) or not isinstance(config, dict):
                raise TypeError("summaryMetrics and config must be JSON objects")
        return dataclasses.replace(subject, run_read=True, run_path=run.path, summary=summary,
                                   config=run_config_values(config))

    def alias_holder(self, artifact: ArtifactRef | ArtifactPath, alias: str) -> ArtifactVersion | None:
        """The version of a collection (named by one of its versions or its path) that holds
        ``alias`` now, or None (one request)."""
        where = artifact if isinstance(artifact, ArtifactVersion) else self.resolve_path(artifact)
        try:
            return self.artifact(ArtifactPath(where.entity, where.project, where.name, alias))
        except ArtifactNotFoundError:
            return None

    def evaluate_gate(
        self,
        artifact: ArtifactRef,
        require: Mapping[str, Any] | None,
        *,
        if_no_holder: str = "pass",
        holders: Mapping[str, ArtifactVersion | None] | None = None,
        on_missing: str = "fail",
    ) -> GateReport:
        """Decide a gate on a version term by term, reading what its terms need: the producing run
        (``run.summary.*``, ``run.config.*``) and the holders of the aliases it compares with
        (``{">=": {"production": "+0.01"}}``; ``holders`` gives those already resolved). See
        ``gates`` for the language; the report names both values of every term."""
        from .conditions import validate_gate
        from .gates import GateReport, decide, reads

        gate = validate_gate(require)
        if not gate:
            return GateReport(passed=True, terms=())
        needs = reads(gate)
        version = self._version(artifact)
        candidate = self.gate_subject(version, with_run=needs.run)
        known = dict(holders or {})
        subjects = {}
        for alias in needs.aliases:
            holder = known[alias] if alias in known else self.alias_holder(version, alias)
            subjects[alias] = None if holder is None else (
                candidate if holder.id == version.id else self.gate_subject(holder, with_run=needs.run))
        return decide(gate, candidate, subjects, if_no_holder=if_no_holder, on_missing=on_missing)

    def run_inputs(self, run: WandbRun | Mapping[str, Any]) -> list[ArtifactVersion]:
        """The versions ``run`` used (``useArtifact``), as seen through the collections they were logged into."""
        from ._writes import strict_answer

        run = _as_run(run)
        what = f"list the versions run {run.path} used"
        found: list[ArtifactVersion] = []
        cursor: str | None = None
        while True:
            data = self._graphql.execute(q.RUN_INPUTS, {"entity": run.entity, "project": run.project,
                                                         "run": run.run_id, "cursor": cursor, "perPage": PAGE_SIZE},
                                         what=what)
            with strict_answer(what, q.RUN_INPUTS.name):
                node = (data.get("project") or {}).get("run")
                if node is None:
                    raise NotFoundError(f"{what}: no such run.", operation=q.RUN_INPUTS.name)
                page = node["inputArtifacts"]
                found += [ArtifactVersion.from_graphql(e["node"], base_url=self.config.base_url)
                          for e in page["edges"]]
                if not page["pageInfo"]["hasNextPage"] or not page["pageInfo"].get("endCursor"):
                    return found
                cursor = page["pageInfo"]["endCursor"]

    def lineage(self, artifact: ArtifactRef) -> dict[str, Any]:
        """``{"logged_by": WandbRun or None, "used_by": [WandbRun, ...]}`` of a version, from W&B."""
        from ._writes import strict_answer

        version = self._version(artifact)
        what = f"read the lineage of {version.qualified_name}"
        logged_by: WandbRun | None = None
        data = self._graphql.execute(q.ARTIFACT_LINEAGE, {"id": version.id}, what=what)
        with strict_answer(what, q.ARTIFACT_LINEAGE.name):
            node = data["artifact"]
            if node is None:
                raise ArtifactNotFoundError(f"{what}: the version no longer exists.", operation=q.ARTIFACT_LINEAGE.name)
            creator = node.get("createdBy")
            if creator and creator.get("__typename") == "Run":
                logged_by = WandbRun.from_graphql(creator, base_url=self.config.base_url)
            used_by = [WandbRun.from_graphql(e["node"], base_url=self.config.base_url)
                       for e in node["usedBy"]["edges"]]
        return {"logged_by": logged_by, "used_by": used_by}

def _claim_rules(may_drop: str | Sequence[str], protected_aliases: str | Sequence[str]) -> tuple[set[str], set[str]]:
    """``(aliases the caller agrees to lose, protected aliases)``, checked before any request."""
    from ._aliases import check_alias_names
    from .rules import name_list

    droppable = set(name_list(may_drop, "may_drop"))
    protected = set(check_alias_names([a for a in name_list(protected_aliases, "protected_aliases")
                                       if a != "latest"], "protected_aliases"))
    return droppable, protected


def _claim_refusal(version: ArtifactVersion, claims: tuple[str, list[str], list[str], str],
                   droppable: set[str], protected: set[str]) -> str | None:
    """What keeps ``version`` from being deleted (now, or by a TTL): the one set of rules of
    ``delete_if_unclaimed`` and ``set_ttl``; None when nothing claims it."""
    from .paths import REGISTRY_PREFIX

    state, here, elsewhere, _ = claims
    if state != "COMMITTED":
        return f"it is {state}"
    if version.project.startswith(REGISTRY_PREFIX):
        protected = protected | {a for a in here if a != "latest"}
    protected = protected | {a for a in here if a.startswith(PREVIOUS_PREFIX)}  # a rollback's target
    if held := sorted(set(here) & protected):
        return f"it holds protected alias(es) {held}"
    if extra := sorted(set(here) - {"latest"} - droppable):
        return f"it holds alias(es) {extra}"
    if elsewhere and not version.is_link:
        return f"it is linked into {elsewhere}; deleting it would remove it there too"
    return None


def _link_target(target: str) -> str:
    """A link target must name its project or registry: ``project/collection`` at least."""
    from .errors import InvalidArtifactPathError

    forms = "'project/collection', 'entity/project/collection' or '[org/]wandb-registry-NAME/collection'"
    if not isinstance(target, str) or not target.strip():
        raise InvalidArtifactPathError(f"link target {target!r} is empty; write {forms}.")
    if ":" in target:
        raise InvalidArtifactPathError(
            f"link target {target!r} names an alias; a target is a collection: {forms}.",
            hint="Pass aliases with aliases=[...].",
        )
    if "/" not in target:
        raise InvalidArtifactPathError(
            f"link target {target!r} names no project or registry, so W&B would create a collection in a "
            f"default project; write {forms}.",
        )
    return target


def _positive_int(value: Any, what: str) -> int:
    """A whole number >= 1 (text such as ``"5242880"`` from a template included)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequestError(f"{what} must be a whole number >= 1, not {value!r}.")
    return value


def _check_texts(**values: Any) -> None:
    """Names that must be text when given (a number from a template would otherwise fail deep inside)."""
    for label, value in values.items():
        if value is not None and not isinstance(value, str):
            raise BadRequestError(f"{label} must be text, not {value!r}.")


def _json_problem(exc: ValueError) -> str:
    """Where JSON text fails to parse, without quoting the text."""
    import json

    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return type(exc).__name__


def _as_run(run: Any) -> WandbRun:
    """A ``WandbRun``, or its ``to_dict()`` (as it comes back from an XCom)."""
    from .paths import check_entity, check_project

    if isinstance(run, Mapping) and {"entity", "project", "run_id"} <= set(run):
        run = WandbRun(entity=str(run["entity"]), project=str(run["project"]), run_id=str(run["run_id"]),
                       id=str(run.get("id") or ""))
    if not isinstance(run, WandbRun):
        raise BadRequestError(f"run must be a WandbRun from upsert_run() (or its to_dict()), not {run!r}.")
    check_entity(run.entity)
    check_project(run.project)
    _check_run_id(run.run_id)
    return run


RUN_STATES = ("running", "finished", "failed")


def _check_state(state: Any) -> str:
    if state not in RUN_STATES:
        raise BadRequestError(f"a run's state must be one of {RUN_STATES}, not {state!r}.")
    return str(state)


def _digest_algorithm(value: Any) -> str:
    """``"MD5"`` or ``"XXH128"`` (any case, templated text too) as ``"md5"``/``"xxh128"``."""
    text = value.strip().upper() if isinstance(value, str) else None
    if text not in ("MD5", "XXH128"):
        raise BadRequestError(f"digest_algorithm must be 'MD5' or 'XXH128', not {value!r}.",
                              hint="Leave it unset for MD5, W&B's default.")
    return text.lower()


_RUN_ID_FORBIDDEN = set("/\\#?%:")


def _check_run_id(run_id: str) -> str:
    """W&B run ids: 1-128 characters, none of ``/ \\ # ? % :``, no whitespace or control characters."""
    if not isinstance(run_id, str) or not run_id or len(run_id) > 128 or set(run_id) & _RUN_ID_FORBIDDEN \
            or any(c.isspace() or not c.isprintable() for c in run_id):
        raise BadRequestError(f"invalid W&B run id {run_id!r}: 1-128 characters without spaces or / \\ # ? % :.",
                              hint="Derive it from letters, digits, '-', '_' and '.'.")
    return run_id


@dataclasses.dataclass
class _LogPlan:
    """The checked arguments of one ``log_artifact`` call."""

    name: str
    type: str
    project: str
    entity: str | None
    aliases: list[str]
    tags: list[str]
    metadata: dict[str, Any]
    description: str | None
    run: WandbRun | None
    threshold: int
    workers: int
    files: list[Any]
    references: list[Any]
    algorithm: str = "md5"  # entries' digests: "md5" or "xxh128"

    def prepare(self, transport: Transport, cancel: threading.Event | None) -> tuple[list[Any], dict[str, Any]]:
        """Hash the files (in parallel, once) and read the references' ETags and sizes."""
        from concurrent.futures import ThreadPoolExecutor

        from ._hashing_files import hash_file
        from ._log_references import file_entries, http_entry, object_entries
        from .object_stores import SCHEMES as OBJECT_SCHEMES

        def hash_some(items: list[Any]) -> list[Any]:
            out = []
            for item in items:
                if cancel is not None and cancel.is_set():
                    from .errors import CancelledError

                    raise CancelledError("log artifact: cancelled while hashing files.")
                out.append(hash_file(item.name, item.path, self.threshold, item.ident,
                                     xxh128=self.algorithm == "xxh128"))
            return out

        # Small files are hashed in tasks of up to 64 files or 4 MiB (a task per small file costs more
        # than hashing it); large files each in their own task, in parallel.
        tasks: list[list[Any]] = [[]]
        task_bytes = 0
        for item in self.files:
            if tasks[-1] and (len(tasks[-1]) >= 64 or task_bytes + max(item.size, 0) > 4 << 20):
                tasks.append([])
                task_bytes = 0
            tasks[-1].append(item)
            task_bytes += max(item.size, 0)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="wandb-hash") as pool:
            hashed = [h for some in pool.map(hash_some, tasks) for h in some]
        entries: dict[str, Any] = {}
        for ref in self.references:
            if ref.scheme == "file":
                for entry_name, path, uri in file_entries(ref):
                    local = hash_file(entry_name, Path(os.path.realpath(path)), 1 << 62)  # whole; a link: its file
                    entries[entry_name] = {"digest": local.b64, "ref": uri, "size": local.size}
            elif ref.scheme in OBJECT_SCHEMES:
                found = object_entries(ref, cancel)
                if clash := sorted(set(found) & set(entries)):
                    raise BadRequestError(f"{clash[0]!r} is named by two references of the artifact.")
                entries.update(found)
            else:
                entries[ref.name] = http_entry(transport, ref, cancel)
        if clash := sorted(set(entries) & {h.name for h in hashed}):
            raise BadRequestError(f"{clash[0]!r} is both a file and a reference of the artifact.")
        return hashed, entries

    def create_input(self, entity: str) -> dict[str, Any]:
        """``CreateArtifactInput`` with the fields W&B's SDK sends (digest and client ids added later)."""
        import json as jsonlib

        spec: dict[str, Any] = {
            "entityName": entity, "projectName": self.project, "artifactTypeName": self.type,
            "artifactCollectionName": self.name, "artifactCollectionNames": None,
            "aliases": [{"alias": a, "artifactCollectionName": self.name} for a in self.aliases],
            "description": self.description, "metadata": jsonlib.dumps(self.metadata) if self.metadata else None,
            "runName": self.run.run_id if self.run else None, "historyStep": None, "ttlDurationSeconds": None,
            "labels": None, "distributedID": None, "storageRegion": None, "clientMutationId": None,
        }
        if self.tags:
            spec["tags"] = [{"tagName": t} for t in self.tags]
        return spec
