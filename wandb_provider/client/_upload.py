"""Logging an artifact version: hash once, build the manifest, then W&B's upload sequence.

The sequence is the one W&B's own SDK sends (W&B docs, "Create an artifact"; wandb-core's artifact
saver): ``createArtifact`` (with digest deduplication: the same content gives back the existing
version) → ``createArtifactManifest`` (empty digest, no upload) → ``createArtifactFiles`` in growing
batches (an edge without ``uploadUrl`` means W&B already has those bytes) → parallel PUTs
(multipart above a threshold, completed with ``completeMultipartUploadArtifact``) →
``createArtifactManifest`` again with the manifest's MD5 → PUT of the manifest → ``commitArtifact``.

PUTs carry what the SDK's carry (docs/protocol.rst, "Uploads"): a whole file or the manifest only
the ``uploadHeaders`` W&B gave with its URL (W&B signs the MD5 it was told into them as
``Content-MD5``, so storage refuses other bytes); a part of a multipart upload its own
``Content-MD5`` and the ``Content-Type`` of ``uploadHeaders``. ``Content-Length`` is HTTP's framing
of the body. A ``Content-MD5`` W&B asks for must be the bytes' MD5 (checked before sending); a PUT
W&B asked none for is checked from storage's answer (an ETag that is an MD5 must be the bytes'). Part
ETags are passed back to W&B exactly as storage gave them.

A version stays PENDING (invisible under any alias) until the commit, which comes last: an upload
that fails or is killed commits nothing. The ``clientID`` is derived from the request, so a re-run of
the same request finds the PENDING version again and finishes it instead of making a second one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _queries as q
from ._features import DIGEST_ALGORITHM
from ._hashing import CHUNK, b64, new_hasher
from ._hashing_files import HashedFile, SliceReader, read_checked
from ._redact import redact_url
from ._transport import raise_for_status
from ._workers import WorkerPool
from .errors import (
    ArtifactIntegrityError,
    CancelledError,
    InvalidValueError,
    MalformedResponseError,
    NotFoundError,
    WandbError,
)
from .models import ProgressUpdate

if TYPE_CHECKING:
    from ._graphql import GraphQLClient
    from ._transport import Transport

log = logging.getLogger("wandb_provider.client.upload")

FIRST_BATCH, MAX_BATCH = 25, 2000  # createArtifactFiles batches grow from 25 to 2000 files, as the SDK's do
PROGRESS_EVERY = 5.0
MANIFEST_HEADER = "wandb-artifact-manifest-v1\n"
DIGEST_ALGORITHMS = {"md5": "MANIFEST_MD5", "xxh128": "MANIFEST_XXH128"}  # W&B's ArtifactDigestAlgorithm


def artifact_digest(contents: dict[str, dict[str, Any]], algorithm: str = "md5") -> str:
    """W&B's artifact digest: MD5 (or XXH128) over a header and ``path:digest`` lines sorted by path (hex)."""
    hasher = new_hasher(algorithm)
    hasher.update(MANIFEST_HEADER.encode())
    for path in sorted(contents):
        hasher.update(f"{path}:{contents[path]['digest']}\n".encode())
    return str(hasher.hexdigest())


def manifest_bytes(contents: dict[str, dict[str, Any]]) -> bytes:
    """The manifest file (version 1, storage layout V2), compact, keys in W&B's order."""
    order = ("digest", "ref", "size", "birthArtifactID", "extra")
    entries = {path: {k: contents[path][k] for k in order if k in contents[path]} for path in sorted(contents)}
    document = {"version": 1, "storagePolicy": "wandb-storage-policy-v1",
                "storagePolicyConfig": {"storageLayout": "V2"}, "contents": entries}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


# Headers the storage URL's answer may not set: framing and credentials are ours to decide.
_REFUSED_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "authorization", "cookie",
                    "proxy-authorization", "expect"}


def upload_headers(raw: Any) -> dict[str, str]:
    """W&B's ``uploadHeaders``: ``"Name:Value"`` strings, split at the first colon; malformed entries,
    line breaks and framing or credential headers are skipped."""
    headers: dict[str, str] = {}
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, str) and ":" in item and "\r" not in item and "\n" not in item:
            name, _, value = item.partition(":")
            name = name.strip()
            if name and name.isascii() and " " not in name and name.lower() not in _REFUSED_HEADERS:
                headers[name] = value.strip()
    return headers


def expected_md5(headers: dict[str, str], md5: bytes, what: str) -> None:
    """Raise ``ArtifactIntegrityError`` before sending when W&B signed another MD5 than the bytes' into
    the URL (its ``Content-MD5`` upload header): storage would refuse them, or W&B was told other bytes."""
    for name, value in headers.items():
        if name.lower() == "content-md5" and value != b64(md5):
            raise ArtifactIntegrityError(
                f"{what}: W&B expects bytes with MD5 {value}, not the {b64(md5)} about to be sent.",
                hint="The file changed since it was announced to W&B, or a proxy altered the answer; log it again.")


def check_stored(etag: str | None, md5: bytes, what: str, headers: dict[str, str]) -> None:
    """Raise ``ArtifactIntegrityError`` when storage's answer shows it kept other bytes than ``md5``.

    A PUT that carried ``Content-MD5`` was checked by storage itself (which refuses other bytes), and
    its ETag need not be an MD5 (S3 with SSE-KMS encryption). Without one, an ETag that is an MD5 (S3
    and GCS answer a plain PUT so) must be ``md5``; other ETags (Azure's) say nothing about the bytes.
    """
    if any(name.lower() == "content-md5" for name in headers):
        return
    tag = (etag or "").strip().removeprefix("W/").strip('"').lower()
    if len(tag) == 32 and all(c in "0123456789abcdef" for c in tag) and tag != md5.hex():
        raise ArtifactIntegrityError(
            f"{what}: storage stored bytes with MD5 {tag}, not the {md5.hex()} that was sent.",
            hint="Storage or a proxy altered the upload; log the artifact again (nothing was committed).")


@dataclass
class Destination:
    entity: str
    project: str
    name: str
    type: str
    run_name: str | None


@dataclass
class LogOutcome:
    artifact_id: str
    version_index: int
    deduplicated: bool
    bytes_uploaded: int = 0
    files_uploaded: int = 0


@dataclass
class _Progress:
    """Counts uploaded files and bytes; reports to a callback and the log at most every 5 s."""

    files_total: int
    bytes_total: int
    callback: Callable[[ProgressUpdate], None] | None
    what: str
    files_done: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.monotonic)
    last: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, files: int, size: int) -> None:
        with self.lock:
            self.files_done += files
            self.bytes_done += size
            now = time.monotonic()
            if now - self.last < PROGRESS_EVERY and self.files_done < self.files_total:
                return
            self.last = now
            elapsed = max(now - self.started, 1e-6)
            rate = self.bytes_done / elapsed
            left = self.bytes_total - self.bytes_done
            update = ProgressUpdate(self.files_done, self.files_total, self.bytes_done, self.bytes_total,
                                    rate / 1e6, left / rate if rate > 0 else None, action="uploaded")
        log.info("%s: %s", self.what, update.describe())
        if self.callback is not None:
            self.callback(update)


class Uploader:
    """One ``log_artifact`` call's network part; the inputs are already checked and hashed."""

    def __init__(self, graphql: GraphQLClient, transport: Transport, max_workers: int,
                 progress: Callable[[ProgressUpdate], None] | None, cancel: threading.Event | None) -> None:
        self.graphql = graphql
        self.transport = transport
        self.max_workers = max_workers
        self.progress_callback = progress
        self.user_cancel = cancel
        self.stop = threading.Event()
        self.algorithm = "md5"  # set by run(): the entries' digests, "md5" or "xxh128"
        self.digest_algorithm = False  # set by run(): whether W&B takes per-file digests
        self.manifest_id: str | None = None  # set by run(): the manifest createArtifactManifest made

    # --- the sequence ----------------------------------------------------------------------

    def run(self, dest: Destination, files: list[HashedFile], references: dict[str, dict[str, Any]],
            create_input: dict[str, Any], algorithm: str = "md5") -> LogOutcome:
        """Log the version; with ``algorithm`` ``"xxh128"`` (the files hashed so too) its entries'
        and its own digest are XXH128, as the SDK's ``digest_algorithm="XXH128"``: each file entry's
        ``extra`` says ``{"alg": "XXH128"}`` and storage still gets (and checks) each file's MD5."""
        where = f"{dest.entity}/{dest.project}/{dest.name}"
        self.algorithm = algorithm
        tagged = {"extra": {"alg": "XXH128"}} if algorithm == "xxh128" else {}
        contents: dict[str, dict[str, Any]] = {f.name: {"digest": f.entry_digest, "size": f.size, **tagged}
                                               for f in files}
        contents.update(references)
        digest = artifact_digest(contents, algorithm)
        # createArtifact always names the algorithm (the SDK does, on every server it supports); the
        # per-file digests of createArtifactFiles go only where W&B reports the feature (_features.py).
        self.digest_algorithm = self.graphql.features.enabled(DIGEST_ALGORITHM)
        create_input = {**create_input, "digest": digest, "digestAlgorithm": DIGEST_ALGORITHMS[algorithm],
                        "enableDigestDeduplication": True}
        identity = json.dumps(create_input, sort_keys=True)
        create_input["clientID"] = hashlib.sha512(b"client\n" + identity.encode()).hexdigest()
        create_input["sequenceClientID"] = hashlib.sha512(b"sequence\n" + identity.encode()).hexdigest()
        what = f"log artifact {where}"
        data = self.graphql.execute(q.CREATE_ARTIFACT, {"input": create_input}, what=what)
        artifact = self._field(data, ("createArtifact", "artifact"), what, q.CREATE_ARTIFACT.name)
        artifact_id, state = str(artifact["id"]), artifact.get("state")
        index = artifact.get("versionIndex")
        if not isinstance(index, int):
            raise MalformedResponseError(f"{what}: W&B's answer has no version index.",
                                         operation=q.CREATE_ARTIFACT.name)
        if state == "COMMITTED":
            return LogOutcome(artifact_id, index, deduplicated=True)
        if state != "PENDING":
            raise MalformedResponseError(f"{what}: W&B created the version in state {state!r}, not PENDING.",
                                         operation=q.CREATE_ARTIFACT.name, hint="Try again later.")
        latest = ((artifact.get("artifactSequence") or {}).get("latestArtifact") or {}).get("id")
        base_id = latest if latest and latest != artifact_id else None
        manifest_vars = {"artifactID": artifact_id, "baseArtifactID": base_id, "name": "wandb_manifest.json",
                         "digest": "", "entityName": dest.entity, "projectName": dest.project,
                         "runName": dest.run_name or "", "manifestType": "FULL", "includeUpload": False}
        data = self.graphql.execute(q.CREATE_ARTIFACT_MANIFEST, manifest_vars, what=f"{what}: create its manifest")
        manifest = self._field(data, ("createArtifactManifest", "artifactManifest"), what,
                               q.CREATE_ARTIFACT_MANIFEST.name)
        if not manifest.get("id"):
            raise MalformedResponseError(
                f"{what}: W&B's answer has no field 'createArtifactManifest.artifactManifest.id'.",
                operation=q.CREATE_ARTIFACT_MANIFEST.name)
        self.manifest_id = str(manifest["id"])
        outcome = LogOutcome(artifact_id, index, deduplicated=False)
        try:
            self._upload_files(artifact_id, files, contents, outcome, what)
            for hashed in files:  # also those W&B had already: the manifest must describe the files as they are
                hashed.check_unchanged()
            self._commit(artifact_id, contents, manifest_vars, digest, what)
        except (InvalidValueError, NotFoundError):
            # The same request running elsewhere (an Airflow retry while the first try still runs) may
            # have committed this very version first; then W&B refuses our late writes to it.
            if not self._committed_by_another(artifact_id, digest, what):
                raise
            log.info("%s: a concurrent run of the same request committed it first.", what)
            return LogOutcome(artifact_id, index, deduplicated=True)
        return outcome

    def _commit(self, artifact_id: str, contents: dict[str, dict[str, Any]], manifest_vars: dict[str, Any],
                digest: str, what: str) -> None:
        """Register and upload the manifest, then commit the version."""
        body = manifest_bytes(contents)
        manifest_md5 = b64(hashlib.md5(body).digest())
        data = self.graphql.execute(q.CREATE_ARTIFACT_MANIFEST, {**manifest_vars, "digest": manifest_md5,
                                                                 "includeUpload": True},
                                    what=f"{what}: register its manifest")
        file = self._field(data, ("createArtifactManifest", "artifactManifest", "file"), what,
                           q.CREATE_ARTIFACT_MANIFEST.name)
        if not file.get("uploadUrl"):
            raise MalformedResponseError(f"{what}: W&B gave no upload URL for the manifest.",
                                         operation=q.CREATE_ARTIFACT_MANIFEST.name)
        headers = upload_headers(file.get("uploadHeaders"))
        expected_md5(headers, hashlib.md5(body).digest(), f"{what}: upload its manifest")
        self._check_cancel(what)
        response = self.transport.request("PUT", file["uploadUrl"], operation="upload manifest",
                                          what=f"{what}: upload its manifest", authenticated=False, body=body,
                                          headers=headers, cancel=self.user_cancel)
        raise_for_status(response, "upload manifest", f"{what}: upload its manifest")
        check_stored(response.header("ETag"), hashlib.md5(body).digest(), f"{what}: upload its manifest", headers)
        self._check_cancel(what)
        data = self.graphql.execute(q.COMMIT_ARTIFACT, {"artifactID": artifact_id}, what=f"{what}: commit it")
        committed = self._field(data, ("commitArtifact", "artifact"), what, q.COMMIT_ARTIFACT.name)
        if committed.get("digest") not in (None, digest):
            raise ArtifactIntegrityError(
                f"{what}: W&B committed digest {committed.get('digest')}, but the files hash to {digest}.",
                operation=q.COMMIT_ARTIFACT.name, hint="Check the version in W&B and log it again.")

    def _committed_by_another(self, artifact_id: str, digest: str, what: str) -> bool:
        """Whether the version is now COMMITTED with our digest (one read)."""
        try:
            data = self.graphql.execute(q.ARTIFACT_BY_ID, {"id": artifact_id}, what=f"{what}: read it again")
        except WandbError:
            return False
        node = data.get("artifact") or {}
        return bool(node.get("state") == "COMMITTED" and node.get("digest") == digest)

    @staticmethod
    def _field(data: dict[str, Any], keys: tuple[str, ...], what: str, operation: str) -> dict[str, Any]:
        node: Any = data
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict) or ("id" not in node and keys[-1] != "file"):
            raise MalformedResponseError(f"{what}: W&B's answer has no {'.'.join(keys)}.", operation=operation,
                                         hint="A proxy may have answered instead of W&B; try again.")
        return node

    def _check_cancel(self, what: str) -> None:
        if self.user_cancel is not None and self.user_cancel.is_set():
            raise CancelledError(f"{what}: cancelled; nothing was committed.")

    # --- files -----------------------------------------------------------------------------

    def _upload_files(self, artifact_id: str, files: list[HashedFile], contents: dict[str, dict[str, Any]],
                      outcome: LogOutcome, what: str) -> None:
        """``createArtifactFiles`` in growing batches; each batch's PUTs start while the next is asked for.

        The client's one worker pool (``_workers``) takes PUTs from one queue. At most two batches
        of upload URLs wait in the queue, so the URLs asked for ahead are never many and never stale.
        """
        progress = _Progress(len(files), sum(f.size for f in files), self.progress_callback, what)
        work: WorkerPool[tuple[HashedFile, dict[str, Any]]] = WorkerPool(
            self._put_one(artifact_id, progress, outcome), workers=self.max_workers, stop=self.stop,
            name="wandb-upload", cancel=self.user_cancel,
            cancelled=lambda: CancelledError("log artifact: cancelled; nothing was committed."))
        try:
            start, batch = 0, FIRST_BATCH
            while start < len(files):
                chunk = files[start:start + batch]
                start, batch = start + len(chunk), min(MAX_BATCH, batch * 2)
                work.wait_below(2 * MAX_BATCH)
                for hashed, node in zip(chunk, self._create_files(artifact_id, chunk, what), strict=True):
                    birth = (node.get("artifact") or {}).get("id")
                    if birth:
                        contents[hashed.name]["birthArtifactID"] = str(birth)
                    if node.get("uploadUrl") or node.get("uploadMultipartUrls"):
                        work.put((hashed, node))
                    else:
                        progress.add(1, 0)
            work.finish()
        except BaseException:
            self.stop.set()
            work.close()
            raise

    def _put_one(self, artifact_id: str, progress: _Progress,
                 outcome: LogOutcome) -> Callable[[tuple[HashedFile, dict[str, Any]]], None]:
        lock = threading.Lock()

        def put(item: tuple[HashedFile, dict[str, Any]]) -> None:
            sent = self._put(artifact_id, item[0], item[1], progress)
            with lock:
                outcome.files_uploaded += 1
                outcome.bytes_uploaded += sent
        return put

    def _create_files(self, artifact_id: str, chunk: list[HashedFile], what: str) -> list[dict[str, Any]]:
        specs = []
        for hashed in chunk:
            # As the SDK sends them: the manifest's id, the file's MD5 (multipart files too), and
            # its digest (the entry's: MD5 or XXH128) only where W&B reports ARTIFACT_DIGEST_ALGORITHM.
            spec: dict[str, Any] = {"artifactID": artifact_id, "artifactManifestID": self.manifest_id,
                                    "name": hashed.name, "md5": hashed.b64, "mimetype": None,
                                    "uploadPartsInput": None}
            if self.digest_algorithm:
                spec["digest"] = hashed.entry_digest
            if hashed.multipart:
                spec["uploadPartsInput"] = [{"partNumber": n, "hexMD5": md5.hex()}
                                            for n, md5 in enumerate(hashed.part_md5s, 1)]
            specs.append(spec)
        files_input: dict[str, Any] = {"artifactFiles": specs, "storageLayout": "V2"}
        if self.digest_algorithm:
            files_input["digestAlgorithm"] = DIGEST_ALGORITHMS[self.algorithm]
        data = self.graphql.execute(q.CREATE_ARTIFACT_FILES, {"input": files_input},
                                    what=f"{what}: ask where to upload {len(chunk)} file(s)")
        edges = ((data.get("createArtifactFiles") or {}).get("files") or {}).get("edges")
        if not isinstance(edges, list) or len(edges) != len(chunk) \
                or not all(isinstance(e, dict) and isinstance(e.get("node"), dict) for e in edges):
            raise MalformedResponseError(
                f"{what}: W&B answered createArtifactFiles with {len(edges) if isinstance(edges, list) else 'no'} "
                f"upload slots for {len(chunk)} files.", operation=q.CREATE_ARTIFACT_FILES.name,
                hint="Try again later.")
        return [e["node"] for e in edges]

    def _put(self, artifact_id: str, hashed: HashedFile, node: dict[str, Any], progress: _Progress) -> int:
        if self.stop.is_set():
            raise CancelledError(f"upload of {hashed.name!r} stopped: another file failed or the call was cancelled.")
        headers = upload_headers(node.get("uploadHeaders"))
        multipart = node.get("uploadMultipartUrls")
        if multipart:
            sent = self._put_parts(artifact_id, hashed, node, multipart, headers, progress)
        else:
            what = f"upload {hashed.name!r}"
            expected_md5(headers, hashed.md5, what)
            etag = self._put_range(node["uploadUrl"], hashed, 0, hashed.size, hashed.md5, headers, what)
            check_stored(etag, hashed.md5, what, headers)
            sent = hashed.size
            progress.add(1, hashed.size)
        return sent

    def _put_range(self, url: str, hashed: HashedFile, offset: int, length: int, md5: bytes,
                   given: dict[str, str], what: str) -> str | None:
        """PUT ``length`` bytes of the file from ``offset`` with the ``given`` headers (and
        ``Content-Length``, the body's framing), checked against ``md5``; returns the raw ETag.

        Up to 1 MiB is read whole and checked before it is sent; more is streamed in 1 MiB chunks and
        checked once sent (hashed again only when no ``Content-MD5`` lets storage check the bytes; if
        storage refuses them, the slice is read again to tell a changed file from a refusal). Either
        way the file's size, mtime and inode are compared afterwards.
        """
        headers = {k: v for k, v in given.items() if k.lower() != "content-length"}
        headers["Content-Length"] = str(length)
        readers: list[SliceReader] = []
        storage_checks = any(name.lower() == "content-md5" for name in headers)  # see check_stored

        def opener() -> bytes | SliceReader:
            if length <= CHUNK:
                return read_checked(hashed, offset, length, md5)
            readers.append(SliceReader(hashed, offset, length, md5, rehash=not storage_checks))
            return readers[-1]

        response = self.transport.request("PUT", url, operation="upload file", what=what, authenticated=False,
                                          body=opener, headers=headers, cancel=self.stop, expected_size=length)
        if readers:
            readers[-1].check()  # before the status: a file that changed explains a refused Content-MD5
            if response.status == 400 and storage_checks:
                readers[-1].check_bytes()  # storage refused the bytes: were they the file's hashed ones?
        hashed.check_unchanged()
        raise_for_status(response, "upload file", what)
        return response.header("ETag")

    def _put_parts(self, artifact_id: str, hashed: HashedFile, node: dict[str, Any], multipart: dict[str, Any],
                   headers: dict[str, str], progress: _Progress) -> int:
        what = f"upload {hashed.name!r} in parts"
        try:
            upload_id = str(multipart["uploadID"])
            urls = {int(p["partNumber"]): str(p["uploadUrl"]) for p in multipart["uploadUrlParts"]}
        except (KeyError, TypeError, ValueError):
            raise MalformedResponseError(f"{what}: W&B's multipart answer is malformed.",
                                         operation=q.CREATE_ARTIFACT_FILES.name) from None
        if sorted(urls) != list(range(1, len(hashed.part_md5s) + 1)):
            raise MalformedResponseError(f"{what}: W&B gave URLs for parts {sorted(urls)[:5]}..., expected "
                                         f"1-{len(hashed.part_md5s)}.", operation=q.CREATE_ARTIFACT_FILES.name)
        # A part carries its own MD5 and the file's Content-Type, nothing else of uploadHeaders (as the SDK).
        part_headers = {k: v for k, v in headers.items() if k.lower() == "content-type"}
        etags: dict[int, str] = {}

        def put_part(number: int) -> None:
            if self.stop.is_set():
                raise CancelledError(f"{what}: stopped.")
            offset, length = hashed.part_range(number)
            md5 = hashed.part_md5s[number - 1]
            sent = {**part_headers, "Content-MD5": b64(md5)}  # storage checks each part's bytes
            etag = self._put_range(urls[number], hashed, offset, length, md5, sent, f"{what}: part {number}")
            if not etag:
                raise MalformedResponseError(f"{what}: storage answered part {number} without an ETag "
                                             f"({redact_url(urls[number])}).")
            etags[number] = etag  # raw, quotes and all: W&B hands it to storage's completion as it is
            progress.add(0, length)

        parts: WorkerPool[int] = WorkerPool(put_part, workers=min(len(urls), max(1, self.max_workers // 2)),
                                            stop=self.stop, name="wandb-part",
                                            cancelled=lambda: CancelledError(f"{what}: stopped."))
        try:
            for number in sorted(urls):
                parts.put(number)
            parts.finish()
        except BaseException:
            parts.close()
            raise
        hashed.check_unchanged()
        storage_path = node.get("storagePath") or ""
        birth = str((node.get("artifact") or {}).get("id") or artifact_id)  # the SDK completes on the file's artifact
        data = self.graphql.execute(q.COMPLETE_MULTIPART_UPLOAD, {
            "completeMultipartAction": "Complete", "artifactID": birth, "storagePath": storage_path,
            "uploadID": upload_id,
            "completedParts": [{"partNumber": n, "hexMD5": etags[n]} for n in sorted(etags)],
        }, what=f"{what}: complete the upload")
        completed = (data.get("completeMultipartUploadArtifact") or {}).get("digest")
        if completed is None:
            raise MalformedResponseError(f"{what}: W&B did not confirm the multipart upload.",
                                         operation=q.COMPLETE_MULTIPART_UPLOAD.name)
        progress.add(1, 0)
        return hashed.size
