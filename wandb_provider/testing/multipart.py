"""Multipart uploads, as W&B hands them out for large files (S3-style; W&B docs and wandb-core).

``createArtifactFiles`` with ``uploadPartsInput`` (part numbers and hex MD5s) answers one signed URL
per part; each part is PUT with ``Content-MD5`` and answered with its ETag (the quoted hex MD5, as
S3 does); ``completeMultipartUploadArtifact`` lists every part with its ETag, and only then are the
parts joined into one stored file. A completion whose parts do not match what was declared and
uploaded is refused, and nothing is stored. Uploads under way live in memory: a restarted server
has forgotten them (their part files are temporary files, removed at the next start).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .blobs import BlobStore, BlobWriter
from .errors import InvalidInput, NotFound

MAX_PARTS = 10_000


@dataclass
class MultipartUpload:
    upload_id: str
    artifact_id: int
    name: str
    declared: dict[int, str]  # part number -> hex MD5 from uploadPartsInput
    received: dict[int, tuple[Path, str]] = field(default_factory=dict)  # part number -> (temp file, hex MD5)
    result: tuple[str, int] | None = None  # (hex MD5, size) once completed: a retried completion gets it again

    @property
    def storage_path(self) -> str:
        return f"wandb_artifacts/multipart/{self.upload_id}"


def check_parts(name: str, parts: list[dict[str, object]]) -> dict[int, str]:
    """The declared parts: numbers 1..N, each with a hex MD5; at most 10,000."""
    declared: dict[int, str] = {}
    for part in parts:
        number, md5 = part.get("partNumber"), str(part.get("hexMD5") or "").lower()
        if not isinstance(number, int) or isinstance(number, bool) or number < 1 or number in declared:
            raise InvalidInput(f"file {name!r}: invalid or repeated part number {number!r}")
        if len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5):
            raise InvalidInput(f"file {name!r}: part {number} has no hex MD5 ({md5!r})")
        declared[number] = md5
    if sorted(declared) != list(range(1, len(declared) + 1)) or not 1 <= len(declared) <= MAX_PARTS:
        raise InvalidInput(f"file {name!r}: parts must be numbered 1..N with 1 <= N <= {MAX_PARTS}")
    return declared


class MultipartUploads:
    """Uploads under way, by upload id."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs
        self._uploads: dict[str, MultipartUpload] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every upload under way (a reset; their part files are temporary files, removed apart)."""
        with self._lock:
            self._uploads.clear()

    def start(self, artifact_id: int, name: str, declared: dict[int, str]) -> MultipartUpload:
        upload = MultipartUpload(secrets.token_hex(16), artifact_id, name, declared)
        with self._lock:
            self._uploads[upload.upload_id] = upload
        return upload

    def get(self, upload_id: str) -> MultipartUpload:
        with self._lock:
            upload = self._uploads.get(upload_id)
        if upload is None:
            raise NotFound(f"no multipart upload {upload_id!r} is under way")
        return upload

    def receive_part(self, upload_id: str, number: int, writer: BlobWriter) -> str:
        """Keep an uploaded part if it is declared and its MD5 matches; return its ETag."""
        upload = self.get(upload_id)
        if upload.result is not None:
            writer.abort()
            raise InvalidInput(f"multipart upload {upload_id!r} of {upload.name!r} is already complete")
        expected = upload.declared.get(number)
        if expected is None:
            writer.abort()
            raise InvalidInput(f"part {number} was not declared for {upload.name!r}")
        if writer.md5_hex != expected:
            writer.abort()
            raise InvalidInput(f"part {number} of {upload.name!r} has MD5 {writer.md5_hex}, declared {expected}")
        path = writer.keep()
        with self._lock:
            previous = upload.received.get(number)
            upload.received[number] = (path, writer.md5_hex)
        if previous is not None:
            previous[0].unlink(missing_ok=True)
        return f'"{writer.md5_hex}"'

    def complete(self, upload_id: str, artifact_id: int, storage_path: str,
                 completed: list[dict[str, object]]) -> tuple[str, int]:
        """Join the parts into one stored file; return its hex MD5 and size. Refused (and nothing
        stored) unless the list names every declared part, in order, with the ETag it was given."""
        upload = self.get(upload_id)
        if upload.artifact_id != artifact_id or storage_path != upload.storage_path:
            raise InvalidInput(f"multipart upload {upload_id!r} belongs to another artifact or storage path")
        if upload.result is not None:
            return upload.result
        listed = [(p.get("partNumber"), str(p.get("hexMD5") or "").strip().strip('"').lower()) for p in completed]
        if [n for n, _ in listed] != sorted(upload.declared):
            raise InvalidInput(f"completion of {upload.name!r} lists parts {[n for n, _ in listed][:10]}, "
                               f"expected 1..{len(upload.declared)}")
        for number, etag in listed:
            got = upload.received.get(number)  # type: ignore[call-overload]
            if got is None:
                raise InvalidInput(f"part {number} of {upload.name!r} was never uploaded")
            if etag != got[1]:
                raise InvalidInput(f"part {number} of {upload.name!r}: ETag {etag!r} is not the uploaded part's")
        writer = self._blobs.writer()
        try:
            for number in sorted(upload.received):
                with open(upload.received[number][0], "rb") as part:
                    while chunk := part.read(1 << 20):
                        writer.write(chunk)
            size = writer.size
            md5_hex = writer.commit()
        except BaseException:
            writer.abort()
            raise
        upload.result = (md5_hex, size)
        for path, _ in upload.received.values():
            path.unlink(missing_ok=True)
        upload.received.clear()
        return upload.result

