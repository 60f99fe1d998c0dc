"""What a streamed PUT body checks: without ``Content-MD5`` the bytes sent are hashed again, so a file
rewritten in place with its size and mtime restored is still caught; with it, storage checks the
bytes and the reader checks the length and the file's signature."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wandb_provider.client import LocalFileError
from wandb_provider.client._hashing_files import SliceReader, hash_file

MIB = 1 << 20


def _rewrite_keeping_size_and_mtime(path: Path) -> None:
    info = path.stat()
    with open(path, "r+b") as fh:
        fh.write(b"X" * 4096)  # in place: same inode, same size
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def _send(path: Path, *, rehash: bool, tamper: bool) -> SliceReader:
    hashed = hash_file(path.name, path, threshold=1 << 40)
    reader = SliceReader(hashed, 0, hashed.size, hashed.md5, rehash=rehash)
    try:
        if tamper:
            _rewrite_keeping_size_and_mtime(path)
        assert sum(len(chunk) for chunk in reader) == hashed.size
    finally:
        reader.close()
    return reader


def test_hashed_again_catches_a_rewrite_that_keeps_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(os.urandom(3 * MIB))
    _send(path, rehash=True, tamper=False).check()
    reader = _send(path, rehash=True, tamper=True)
    with pytest.raises(LocalFileError, match="the bytes sent differ from the bytes hashed"):
        reader.check()


def test_without_hashing_again_the_length_and_signature_are_still_checked(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(os.urandom(3 * MIB))
    reader = _send(path, rehash=False, tamper=False)
    reader.check()
    path.write_bytes(os.urandom(3 * MIB + 1))  # another size: the signature differs whatever the clock's tick
    with pytest.raises(LocalFileError, match="changed while it was being logged"):
        reader.check()
