"""``HashBehind``: the MD5 of a big download computed on a helper thread is the stream's MD5, and
without a thread to be had it hashes inline instead of failing the download."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from wandb_provider.client._hashing import HashBehind, new_hasher

CHUNKS = [os.urandom(1 << 20) for _ in range(12)] + [b"tail"]
EXPECTED = hashlib.md5(b"".join(CHUNKS)).digest()
BIG = sum(len(chunk) for chunk in CHUNKS)  # over HASH_BEHIND_FROM: hashed on the helper thread


def test_the_digest_behind_is_the_streams() -> None:
    with HashBehind("md5", BIG, depth=2) as behind:
        for chunk in CHUNKS:
            behind.update(chunk)
        assert behind.digest() == EXPECTED


def test_leaving_early_stops_the_thread() -> None:
    before = threading.active_count()
    with pytest.raises(KeyError), HashBehind("md5", BIG) as behind:
        behind.update(CHUNKS[0])
        raise KeyError("the download failed midway")
    assert threading.active_count() == before


def test_without_a_thread_it_hashes_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with HashBehind("md5", BIG) as behind:
        for chunk in CHUNKS:
            behind.update(chunk)
        assert behind.digest() == EXPECTED


@pytest.mark.parametrize(("algorithm", "size"), [("md5", 1024), ("md5", None), ("xxh128", BIG)],
                         ids=["small", "unknown-size", "xxh128"])
def test_small_unknown_or_fast_streams_are_hashed_inline(algorithm: str, size: int | None) -> None:
    before = threading.active_count()
    with HashBehind(algorithm, size) as behind:
        assert threading.active_count() == before
        for chunk in CHUNKS:
            behind.update(chunk)
        expected = new_hasher(algorithm)
        for chunk in CHUNKS:
            expected.update(chunk)
        assert behind.digest() == expected.digest()
