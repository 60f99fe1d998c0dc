"""``WandbClient``: the façade the Airflow layer (and anyone else) calls. Framework-free.

Each method checks nothing and sends nothing itself: it hands its arguments to the feature module that
does the work, every one of them taking the client's ``Reads`` (config, transport, GraphQL client,
cached lookups) rather than the client:

* ``_reads``: who the key is, paths, versions, manifests, file URLs;
* ``_materialize``: ``download``, ``download_file``, ``verify`` (the engine is ``_download``);
* ``_alias_moves``: alias moves with their read-back and undo; ``_metadata_writes``: ``update``;
* ``_retention``: ``delete``, ``delete_if_unclaimed``, ``set_ttl``; ``_collections``: links and collections;
* ``_log_artifact``: ``log_artifact`` (the upload sequence is ``_upload``);
* ``_runs``, ``_lineage``, ``_gate_reads``: runs, lineage, and what a gate reads.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import (
    _alias_moves,
    _collections,
    _gate_reads,
    _lineage,
    _log_artifact,
    _materialize,
    _metadata_writes,
    _retention,
    _runs,
)
from ._hashing_files import DEFAULT_MULTIPART_THRESHOLD
from ._reads import ArtifactRef, Reads
from .config import DEFAULT_BASE_URL, ClientConfig

if TYPE_CHECKING:
    from ._graphql import GraphQLClient
    from ._transport import Transport
    from .gates import GateReport, Subject
    from .manifest import Manifest
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
    from .object_stores import ObjectStore
    from .paths import ArtifactPath


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
        self._reads = Reads(self.config, self._transport, self._graphql, object_stores or {})
        self._in_flight: set[threading.Event] = set()  # cancel events of this client's running transfers
        self._in_flight_lock = threading.RLock()  # reentrant: cancel() may run in a signal handler

    @classmethod
    def from_env(cls, **overrides: Any) -> WandbClient:
        """Build from ``WANDB_API_KEY``, ``WANDB_BASE_URL``, ``WANDB_ENTITY``, ``WANDB_PROJECT``."""
        return cls(config=ClientConfig.from_env(**overrides))

    def __repr__(self) -> str:
        return f"WandbClient(base_url={self.config.base_url!r}, entity={self.config.entity!r})"

    def close(self) -> None:
        """Close the transport's connection pools; calls in flight stop."""
        self._transport.close()

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

    def __enter__(self) -> WandbClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- identity and paths ----------------------------------------------------------------------

    def viewer(self) -> Viewer:
        """Who the API key belongs to (one request)."""
        return self._reads.viewer()

    def default_entity(self) -> str:
        """The configured entity, else the key's own entity (looked up once)."""
        return self._reads.default_entity()

    def parse_path(self, path: str | ArtifactPath) -> ArtifactPath:
        """Parse with this client's defaults (no request)."""
        return self._reads.parse_path(path)

    def resolve_path(self, path: str | ArtifactPath) -> ArtifactPath:
        """Parse and fill the entity: the default, or the organization's entity for registries."""
        return self._reads.resolve_path(path)

    # --- reads -----------------------------------------------------------------------------------

    def artifact(self, path: str | ArtifactPath) -> ArtifactVersion:
        """Resolve ``[entity/][project/]name[:alias|:vN]`` (default alias ``latest``) in one request."""
        return self._reads.artifact(path)

    def artifact_by_id(self, artifact_id: str) -> ArtifactVersion:
        """Fetch a version by its W&B id, as seen through the sequence it was logged into."""
        return self._reads.artifact_by_id(artifact_id)

    def versions(self, collection: str | ArtifactPath, *, type: str | None = None) -> Iterator[ArtifactVersion]:
        """Iterate over every version of a collection (all pages), newest first."""
        return self._reads.versions(collection, type=type)

    def manifest(self, artifact: ArtifactRef) -> Manifest:
        """Fetch, check and parse a version's manifest.

        The manifest must be a version-1 W&B manifest whose entries hash to the version's digest;
        a damaged one is fetched once more, then refused.

        :raises ArtifactIntegrityError: Not JSON, a field of the wrong type (the entry is named), or
            entries that do not hash to the version's digest.
        :raises UnsafePathError: An entry path that is not a plain relative path.
        """
        return self._reads.manifest(artifact)

    def file_urls(self, artifact: ArtifactRef) -> list[FileUrl]:
        """Signed download URLs of every file of a version (all pages)."""
        return self._reads.file_urls(artifact)

    def alias_holder(self, artifact: ArtifactRef | ArtifactPath, alias: str) -> ArtifactVersion | None:
        """The version of a collection (named by one of its versions or its path) that holds
        ``alias`` now, or None (one request)."""
        return self._reads.alias_holder(artifact, alias)

    # --- downloads -------------------------------------------------------------------------------

    def download(self, artifact: ArtifactRef, root: str | os.PathLike[str], *,
                 include: Sequence[str] | str | None = None, exclude: Sequence[str] | str | None = None,
                 mode: str = "merge", verify: bool = True, cache: bool = True, max_workers: int | None = None,
                 progress: Callable[[ProgressUpdate], None] | None = None, allow_empty: bool = False,
                 remove_foreign: bool = False, link_from_cache: bool = False,
                 progress_interval: float = 5.0) -> DownloadResult:
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
        return _materialize.download(self._reads, self._cancellable, artifact, root, include=include, exclude=exclude,
                                     mode=mode, verify=verify, cache=cache, max_workers=max_workers, progress=progress,
                                     allow_empty=allow_empty, remove_foreign=remove_foreign,
                                     link_from_cache=link_from_cache, progress_interval=progress_interval)

    def download_file(self, artifact: ArtifactRef, path: str, root: str | os.PathLike[str], **options: Any) -> Path:
        """Download one entry of a version into ``root`` and return its local path.

        ``options`` are ``download()``'s: ``mode``, ``verify``, ``cache``, ``max_workers``, ``progress``,
        ``remove_foreign``, ``link_from_cache``.
        """
        return _materialize.download_file(self._reads, self._cancellable, artifact, path, root, options)

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
        return _materialize.verify(self._reads, artifact, root, include=include, exclude=exclude,
                                   allow_unverifiable=allow_unverifiable)

    # --- aliases and edits -----------------------------------------------------------------------

    def update_aliases(self, artifact: ArtifactRef, *, add: str | Sequence[str] = (), remove: str | Sequence[str] = (),
                       only_if_current: Mapping[str, str | None] | None = None,
                       require: Mapping[str, Any] | None = None, on_missing: str = "fail") -> AliasChange:
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
        return _alias_moves.update_aliases(self._reads, artifact, add=add, remove=remove,
                                           only_if_current=only_if_current, require=require, on_missing=on_missing)

    def update(self, artifact: ArtifactRef, *, description: str | None = None,
               metadata: Mapping[str, Any] | None = None, metadata_mode: str = "merge",
               tags_add: str | Sequence[str] = (), tags_remove: str | Sequence[str] = ()) -> ArtifactVersion:
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
        return _metadata_writes.update(self._reads, artifact, description=description, metadata=metadata,
                                       metadata_mode=metadata_mode, tags_add=tags_add, tags_remove=tags_remove)

    # --- deletes and TTLs ------------------------------------------------------------------------

    def delete(self, artifact: ArtifactRef, *, delete_aliases: bool = False) -> None:
        """Delete a version (soft, as W&B does).

        W&B refuses a version that holds aliases unless ``delete_aliases=True``, which removes
        whatever aliases it holds at that moment, in every collection. Retention should use
        ``delete_if_unclaimed``, which re-checks the version first and never drops an alias it did not see.
        """
        _retention.delete(self._reads, artifact, delete_aliases=delete_aliases)

    def set_ttl(self, artifact: ArtifactRef, ttl: TTL, *, may_drop: str | Sequence[str] = (),
                protected_aliases: str | Sequence[str] = ()) -> TTLChange:
        """Set a version's time-to-live (W&B's ``ttl``): seconds > 0, ``None`` for no TTL (even when
        the team has a default), or ``"inherit"`` for the team's default.

        W&B counts the TTL from the version's creation and deletes it soon after it runs out. Like the
        official SDK, a version seen through a link (a registry or portfolio) is refused: its TTL is
        the source version's. The TTL is read first (nothing is sent when it is already so), written,
        then read back; when another writer changed it meanwhile, ``MetadataConflictError`` says so.

        A TTL is a delete on a timer, so it gets ``delete_if_unclaimed``'s protections (README,
        "Safety"): a TTL other than None is refused (``InvalidValueError``, nothing written) when the
        version, re-read just before, holds a protected alias (``protected_aliases``; in a registry
        every alias but ``latest``), an alias other than ``latest`` and ``may_drop``, is linked into
        another collection, or is not COMMITTED.
        """
        return _retention.set_ttl(self._reads, artifact, ttl, may_drop=may_drop, protected_aliases=protected_aliases)

    def delete_if_unclaimed(self, artifact: ArtifactRef, *, may_drop: str | Sequence[str] = (),
                            protected_aliases: str | Sequence[str] = (), dry_run: bool = False) -> DeleteOutcome:
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
        return _retention.delete_if_unclaimed(self._reads, artifact, may_drop=may_drop,
                                              protected_aliases=protected_aliases, dry_run=dry_run)

    # --- links and collections -------------------------------------------------------------------

    def link(self, artifact: ArtifactRef, target: str, *, aliases: str | Sequence[str] = ()) -> ArtifactVersion:
        """Link a version into a collection (created on first link): ``project/collection``,
        ``entity/project/collection``, or a registry path ``[org/]wandb-registry-<name>/<collection>``.

        A target that names no project (``"churn"``) is refused before any request: W&B would
        create a collection in some default project. Linking a version that is already there adds
        no second membership (only the aliases). ``latest`` and ``vN`` are W&B's and refused.
        :return: The version as seen in the target collection (its index there).
        """
        return _collections.link(self._reads, artifact, target, aliases=aliases)

    def unlink(self, artifact: ArtifactRef) -> None:
        """Remove a linked version from the portfolio it was resolved through."""
        _collections.unlink(self._reads, artifact)

    def update_collection(self, path: str | ArtifactPath, *, description: str | None = None,
                          new_name: str | None = None, tags_add: str | Sequence[str] = (),
                          tags_remove: str | Sequence[str] = ()) -> dict[str, Any]:
        """Update a collection's description, name and tags; returns its new state as a dict."""
        return _collections.update_collection(self._reads, path, description=description, new_name=new_name,
                                              tags_add=tags_add, tags_remove=tags_remove)

    # --- logging ---------------------------------------------------------------------------------

    def log_artifact(self, name: str, type: str, files: Any = None, *, project: str | None = None,
                     entity: str | None = None, references: Any = (), metadata: Mapping[str, Any] | None = None,
                     description: str | None = None, aliases: str | Sequence[str] = (), tags: str | Sequence[str] = (),
                     run: WandbRun | Mapping[str, Any] | None = None,
                     multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD, max_workers: int | None = None,
                     progress: Callable[[ProgressUpdate], None] | None = None, cancel: threading.Event | None = None,
                     created: Callable[[bool], None] | None = None, digest_algorithm: str = "MD5") -> ArtifactVersion:
        """Log a new version of ``[entity/][project/]name`` from local files (and references); return it.

        :param name: The collection, as a path names it: ``name``, ``project/name`` or ``entity/project/name``;
            the parts it leaves out come from ``project``/``entity``, then ``run``, then the config. A
            part given both ways must agree (two projects for one call is an ``InvalidValueError``).
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
        return _log_artifact.log_artifact(self._reads, self._cancellable, name, type, files, project=project,
                                          entity=entity, references=references, metadata=metadata,
                                          description=description, aliases=aliases, tags=tags, run=run,
                                          multipart_threshold=multipart_threshold, max_workers=max_workers,
                                          progress=progress, cancel=cancel, created=created,
                                          digest_algorithm=digest_algorithm)

    def check_sources(self, files: Any = None, references: Any = ()) -> tuple[list[Any], list[Any]]:
        """Check ``log_artifact``'s files (they exist, names follow W&B's rules) and references (schemes,
        the address policy, an object store for ``s3://``/``gs://``), with no request; e.g. before a run
        is recorded. Returns what ``log_artifact`` would upload and reference."""
        return _log_artifact.check_sources(self._reads, files, references)

    # --- runs, lineage and gates -----------------------------------------------------------------

    def upsert_run(self, entity: str | None, project: str, run_id: str, *, job_type: str | None = None,
                   group: str | None = None, config: Mapping[str, Any] | None = None, display_name: str | None = None,
                   state: str = "running", used: Sequence[ArtifactVersion] = ()) -> WandbRun:
        """Create the run ``entity/project/run_id``, or update it when it exists (one request).

        Safe to call again (an Airflow retry resumes the same run): the run gets ``state`` and its
        config is replaced. ``config`` is stored as W&B stores a run's config
        (``{key: {"value": ...}}``), so ``wandb.Api().run(path).config`` reads it back. ``used``
        versions are declared used by the run in the same request (W&B's ``useArtifact``).
        """
        return _runs.upsert_run(self._reads, entity, project, run_id, job_type=job_type, group=group, config=config,
                                display_name=display_name, state=state, used=used)

    def finish_run(self, run: WandbRun | Mapping[str, Any], *, failed: bool,
                   used: Sequence[ArtifactVersion] = ()) -> WandbRun:
        """Mark the run ``finished`` or ``failed`` (one request, with any ``used`` versions declared);
        what ``wandb.Api().run(...).state`` reads."""
        return _runs.finish_run(self._reads, run, failed=failed, used=used)

    def use_artifact(self, run: WandbRun | Mapping[str, Any], artifact: ArtifactRef) -> ArtifactVersion:
        """Declare that ``run`` consumed a version (W&B's ``useArtifact``): it appears in ``used_by()``."""
        return _runs.use_artifact(self._reads, run, artifact)

    def producer(self, artifact: ArtifactRef) -> WandbRun | None:
        """The run that logged a version (``logged_by()``), or None when no run did (one request)."""
        return _lineage.producer(self._reads, artifact)

    def run_inputs(self, run: WandbRun | Mapping[str, Any]) -> list[ArtifactVersion]:
        """The versions ``run`` used (``useArtifact``), as seen through the collections they were logged into."""
        return _lineage.run_inputs(self._reads, run)

    def lineage(self, artifact: ArtifactRef) -> dict[str, Any]:
        """``{"logged_by": WandbRun or None, "used_by": [WandbRun, ...]}`` of a version, from W&B."""
        return _lineage.lineage(self._reads, artifact)

    def gate_subject(self, artifact: ArtifactRef, *, with_run: bool) -> Subject:
        """A version as a gate reads it: its metadata and (``with_run``) its producing run's summary
        and config, in one request (``ArtifactProducerValues``)."""
        return _gate_reads.gate_subject(self._reads, artifact, with_run=with_run)

    def evaluate_gate(self, artifact: ArtifactRef, require: Mapping[str, Any] | None, *,
                      if_no_holder: str = "pass", holders: Mapping[str, ArtifactVersion | None] | None = None,
                      on_missing: str = "fail") -> GateReport:
        """Decide a gate on a version term by term, reading what its terms need: the producing run
        (``run.summary.*``, ``run.config.*``) and the holders of the aliases it compares with
        (``{">=": {"production": "+0.01"}}``; ``holders`` gives those already resolved). See
        ``gates`` for the language; the report names both values of every term."""
        return _gate_reads.evaluate_gate(self._reads, artifact, require, if_no_holder=if_no_holder, holders=holders,
                                         on_missing=on_missing)
