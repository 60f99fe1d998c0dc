"""Hashing local files once for an upload, and streaming them to a PUT while checking they did not change.

A file is identified by its size, modification time, inode and device at hashing time (its
*signature*). The upload re-hashes the bytes it sends and checks the signature again afterwards; any
difference means the file changed under us, and nothing is committed (``FileChangedError``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._hashing import CHUNK, b64, new_hasher
from .errors import LocalFileError

Signature = tuple[int, int, int, int]

MIB = 1 << 20
DEFAULT_MULTIPART_THRESHOLD = 2 << 30  # W&B's SDK uploads files of 2 GiB and more in parts
DEFAULT_PART_SIZE = 100 * MIB  # the SDK's part size ...
MIN_PART_SIZE = 5 * MIB  # ... and the smallest part S3-style storage accepts (but the last)
MAX_PARTS = 10_000
PART_ALIGNMENT = 4096  # a part grown for a huge file is a multiple of 4 KiB, as the SDK rounds it
MAX_MULTIPART_SIZE = 5 << 40  # 5 TiB: the largest object S3-style storage keeps


def part_size_for(size: int, threshold: int) -> int:
    """0 below ``threshold``; else the part size of W&B's SDK (wandb-core's multipart upload).

    Parts are 100 MiB (scaled down to a smaller ``threshold``, never under 5 MiB); a file that
    would need more than 10,000 of them gets parts of ``ceil(size / 10,000)`` rounded up to a
    multiple of 4096 bytes. Files over 5 TiB are refused by ``check_multipart_size``.
    """
    if size < threshold:
        return 0
    part = max(MIN_PART_SIZE, min(DEFAULT_PART_SIZE, threshold))
    if size <= part * MAX_PARTS:
        return part
    grown = -(-size // MAX_PARTS)
    return -(-grown // PART_ALIGNMENT) * PART_ALIGNMENT


def check_multipart_size(path: Path, size: int) -> None:
    """Refuse a file larger than storage keeps (5 TiB) before anything is sent, as the SDK does."""
    if size > MAX_MULTIPART_SIZE:
        raise LocalFileError(f"{path} is {size} bytes, more than the 5 TiB W&B's storage keeps in one file.",
                             path=str(path), hint="Split the file into smaller ones.")


def signature(info: os.stat_result) -> Signature:
    return (info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev)


def file_changed(path: Path, detail: str) -> LocalFileError:
    """The error for a file that changed while we read it: transient, since a re-run after the writer
    has finished logs the new content."""
    return LocalFileError(
        f"{path} changed while it was being logged ({detail}); nothing was committed.",
        path=str(path), transient=True,
        hint="Log files only once whatever writes them has finished; a re-run logs the new content.",
    )


def unreadable(path: Path, exc: OSError) -> LocalFileError:
    return LocalFileError(f"cannot read {path} ({exc.strerror or exc}).", path=str(path),
                          hint="Check that the file exists and the worker may read it.")


@dataclass(frozen=True)
class HashedFile:
    """A local file with its MD5 (and, for a multipart upload, each part's MD5)."""

    name: str
    path: Path
    size: int
    md5: bytes
    signature: Signature
    part_size: int = 0  # 0: uploaded in one PUT
    part_md5s: tuple[bytes, ...] = ()
    xxh128: bytes | None = None  # also hashed with XXH128 when the artifact is logged so

    @property
    def b64(self) -> str:
        return b64(self.md5)

    @property
    def entry_digest(self) -> str:
        """The manifest entry's digest: base64 of the XXH128 when hashed so, else of the MD5."""
        return b64(self.xxh128) if self.xxh128 is not None else b64(self.md5)

    @property
    def multipart(self) -> bool:
        return bool(self.part_md5s)

    def part_range(self, number: int) -> tuple[int, int]:
        """``(offset, length)`` of part ``number`` (1-based)."""
        offset = (number - 1) * self.part_size
        return offset, min(self.part_size, self.size - offset)

    def open(self) -> int:
        """A descriptor of the very file hashed (no link followed), else ``FileChangedError``."""
        try:
            fd = open_unlinked(self.path, (self.signature[3], self.signature[2]))
        except OSError as exc:
            raise file_changed(self.path, f"it can no longer be read: {exc.strerror or exc}") from None
        if signature(os.fstat(fd)) != self.signature:
            os.close(fd)
            raise file_changed(self.path, "its size, modification time or inode changed")
        return fd

    def check_unchanged(self) -> None:
        """Raise ``FileChangedError`` when the file on disk is no longer the one hashed."""
        try:
            now = signature(os.lstat(self.path))
        except OSError as exc:
            raise file_changed(self.path, f"it can no longer be read: {exc.strerror or exc}") from None
        if now != self.signature:
            raise file_changed(self.path, "its size, modification time or inode changed")


def open_unlinked(path: Path, expected: tuple[int, int] | None) -> int:
    """A descriptor of the regular file at ``path``, opened without following a link; refused when it
    is not the file listed (``expected``: its device and inode), so a link or another file swapped in
    after listing is never read (the bytes hashed and sent are that file's own)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise file_changed(path, "it was replaced by a symbolic link after it was listed") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or (expected is not None and (info.st_dev, info.st_ino) != expected):
        os.close(fd)
        raise file_changed(path, "another file was put in its place after it was listed")
    return fd


def hash_file(name: str, path: Path, threshold: int, ident: tuple[int, int] | None = None,
              xxh128: bool = False) -> HashedFile:
    """MD5 of the whole file (and of each part when its size reaches ``threshold``; and its XXH128
    when ``xxh128``: storage checks MD5s, so XXH128 comes on top, never instead), read once.

    The file is read up to the size it had when opened; a file that grows, shrinks or is rewritten
    meanwhile changes its signature (size, mtime, inode), compared once the bytes are read. It is
    opened without following a link and must be the file listed (``ident``: device and inode).
    """
    try:
        with open(open_unlinked(path, ident), "rb", buffering=0) as fh:
            before = signature(os.fstat(fh.fileno()))
            size = before[0]
            check_multipart_size(path, size)
            part_size = part_size_for(size, threshold)
            whole = hashlib.md5()
            fast = new_hasher("xxh128") if xxh128 else None
            parts: list[bytes] = []
            part = hashlib.md5()
            in_part = 0
            done = 0
            while done < size:
                want = min(CHUNK, size - done) if not part_size else min(CHUNK, part_size - in_part, size - done)
                chunk = fh.read(want)
                if not chunk:
                    raise file_changed(path, f"{done} bytes were read, its size was {size}")
                whole.update(chunk)
                if fast is not None:
                    fast.update(chunk)
                done += len(chunk)
                if part_size:
                    part.update(chunk)
                    in_part += len(chunk)
                    if in_part == part_size:
                        parts.append(part.digest())
                        part, in_part = hashlib.md5(), 0
            if part_size and (in_part or not parts):
                parts.append(part.digest())
    except OSError as exc:
        raise unreadable(path, exc) from None
    hashed = HashedFile(name, path, size, whole.digest(), before, part_size, tuple(parts),
                        fast.digest() if fast is not None else None)
    hashed.check_unchanged()
    return hashed


def read_checked(hashed: HashedFile, offset: int, length: int, expected: bytes) -> bytes:
    """A small slice read whole and checked against its MD5 before anything is sent."""
    try:
        with open(hashed.open(), "rb") as fh:
            fh.seek(offset)
            data = fh.read(length)
    except OSError as exc:
        raise file_changed(hashed.path, f"it can no longer be read: {exc.strerror or exc}") from None
    if len(data) != length or hashlib.md5(data).digest() != expected:
        raise file_changed(hashed.path, "its bytes differ from the bytes hashed")
    return data


class SliceReader:
    """The bytes ``[offset, offset + length)`` of a file as 1 MiB chunks, checked once they are sent.

    A file cut short while it is sent raises ``FileChangedError`` (the request is abandoned, not
    padded); ``check()`` afterwards compares what was sent with the MD5 hashed before. With
    ``rehash=False`` (the PUT carries ``Content-MD5``, so storage refuses any other bytes, see
    ``_upload.check_stored``) the bytes are not hashed again: ``check()`` then compares the length
    and the file's signature, which a rewrite changes. That second MD5 pass was a third of the
    client's CPU in a big upload.
    """

    def __init__(self, hashed: HashedFile, offset: int, length: int, expected: bytes, *, rehash: bool = True) -> None:
        self.hashed = hashed
        self.offset = offset
        self.length = length
        self.expected = expected
        self.sent = 0
        self._md5 = hashlib.md5() if rehash else None
        self._file = open(hashed.open(), "rb")  # noqa: SIM115 - closed by close(), called by the transport

    def __iter__(self) -> Iterator[bytes]:
        self._file.seek(self.offset)
        remaining = self.length
        while remaining > 0:
            chunk = self._file.read(min(CHUNK, remaining))
            if not chunk:
                raise file_changed(self.hashed.path, "it became shorter")
            if self._md5 is not None:
                self._md5.update(chunk)
            self.sent += len(chunk)
            remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self._file.close()

    def check(self) -> None:
        if self.sent != self.length or (self._md5 is not None and self._md5.digest() != self.expected):
            raise file_changed(self.hashed.path, "the bytes sent differ from the bytes hashed")
        self.hashed.check_unchanged()

    def check_bytes(self) -> None:
        """Read the slice again and compare its MD5 (after storage refused the bytes sent without
        them being hashed again): a file rewritten in place within one tick of the clock keeps its
        signature, but not its bytes."""
        md5 = hashlib.md5()
        remaining = self.length
        with open(self.hashed.open(), "rb") as fh:
            try:
                fh.seek(self.offset)
                while remaining > 0 and (chunk := fh.read(min(CHUNK, remaining))):
                    md5.update(chunk)
                    remaining -= len(chunk)
            except OSError as exc:
                raise file_changed(self.hashed.path, f"it can no longer be read: {exc.strerror or exc}") from None
        if remaining or md5.digest() != self.expected:
            raise file_changed(self.hashed.path, "its bytes differ from the bytes hashed")
