"""``s3://``/``gs://`` references through the client's object-store interface (an in-memory store here;
the real S3 API through the Airflow hook is in ``tests/airflow/test_s3_references.py``)."""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import (
    ArtifactIntegrityError,
    NotFoundError,
    UnsupportedReferenceError,
    WandbClient,
)
from wandb_provider.client.errors import InvalidValueError, ServerError
from wandb_provider.client.object_stores import ObjectInfo, ObjectLocation, ObjectStore
from wandb_provider.testing import SeedFile


class MemoryStore:
    """An object store in memory: versioned buckets, ETag = MD5 hex, like S3 for single-part objects."""

    def __init__(self, scheme: str = "s3") -> None:
        self.scheme = scheme
        self.objects: dict[tuple[str, str], list[tuple[str, bytes]]] = {}  # newest last
        self.ids = itertools.count(1)
        self.corrupt = False  # send other bytes than the ones announced
        self.fail_opens = 0  # transient failures before an open succeeds
        self.opened: list[tuple[str, str, str | None]] = []

    def put(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        self.objects.setdefault((bucket, key), []).append((str(next(self.ids)), data))
        return self.head(bucket, key)

    def _info(self, key: str, version: str, data: bytes) -> ObjectInfo:
        md5 = hashlib.md5(data)
        return ObjectInfo(key=key, size=len(data), etag=md5.hexdigest(), version_id=version,
                          content_md5=base64.b64encode(md5.digest()).decode())

    def _find(self, bucket: str, key: str, version_id: str | None) -> tuple[str, bytes]:
        versions = self.objects.get((bucket, key), [])
        for version, data in reversed(versions):
            if version_id is None or version == version_id:
                return version, data
        raise NotFoundError(f"{self.scheme}://{bucket}/{key}: no such object.")

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        return self._info(key, *self._find(bucket, key, version_id))

    @contextmanager
    def open(self, bucket: str, key: str, version_id: str | None = None) -> Iterator[Any]:
        self.opened.append((bucket, key, version_id))
        if self.fail_opens:
            self.fail_opens -= 1
            raise ServerError("the store is busy", hint="retry")
        version, data = self._find(bucket, key, version_id)
        info = self._info(key, version, data)
        body = data[::-1] if self.corrupt else data

        class Reader:
            def __init__(self) -> None:
                self.info = info

            def chunks(self, size: int) -> Iterator[bytes]:
                for start in range(0, len(body), size):
                    yield body[start:start + size]

        yield Reader()

    def list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        for (b, key) in sorted(self.objects):
            if b == bucket and key.startswith(prefix):
                yield self.head(b, key)


def _md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def make_client(server: Any, tmp_path: Path, **stores: ObjectStore) -> WandbClient:
    return WandbClient(server.base_url, server.api_key, entity=server.entity if hasattr(server, "entity") else "demo",
                       project="p", cache_dir=str(tmp_path / "cache"), backoff_min=0.01, backoff_max=0.05,
                       max_retries=2, object_stores=stores)


def _seed_ref(server: Any, name: str, path: str, info: ObjectInfo, uri: str) -> None:
    extra: dict[str, Any] = {"etag": info.etag}
    if info.version_id:
        extra["versionID"] = info.version_id
    server.seed_artifact(name, {path: SeedFile(path, ref=uri, digest=info.etag, size=info.size, extra=extra)},
                         project="p")


def _user_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] != ".wandb-provider"}


def test_protocol_is_satisfied_by_a_plain_class(store: MemoryStore) -> None:
    assert isinstance(store, ObjectStore)
    assert ObjectLocation.parse("s3://b/k/x.csv?versionId=v1") == ObjectLocation("s3", "b", "k/x.csv", "v1")
    assert ObjectLocation.parse("gs://b/k#1712").version_id == "1712"
    with pytest.raises(InvalidValueError):
        ObjectLocation.parse("s3:///key")


def test_download_checks_etag_size_and_bytes(wandb_server, store: MemoryStore, tmp_path: Path) -> None:
    info = store.put("bkt", "data/train.csv", b"a,b\n1,2\n")
    _seed_ref(wandb_server, "ref", "train.csv", info, "s3://bkt/data/train.csv")
    root = tmp_path / "out"
    without = make_client(wandb_server, tmp_path)
    with pytest.raises(UnsupportedReferenceError, match=r"object store for s3://.*object_stores=\{'s3'") as raised:
        without.download("ref", root)
    assert raised.value.missing_store == "s3"
    assert not root.exists()  # refused before the root was touched

    result = make_client(wandb_server, tmp_path, s3=store).download("ref", root)
    assert _user_files(root) == {"train.csv": b"a,b\n1,2\n"}
    assert result.bytes_downloaded == 8
    assert store.opened == [("bkt", "data/train.csv", info.version_id)]  # the recorded version


def test_the_cache_serves_a_second_root_and_a_damaged_blob_is_replaced(wandb_server, store: MemoryStore,
                                                                       tmp_path: Path) -> None:
    info = store.put("bkt", "big.bin", b"payload" * 100)
    _seed_ref(wandb_server, "cached", "big.bin", info, "s3://bkt/big.bin")
    client = make_client(wandb_server, tmp_path, s3=store)
    first = client.download("cached", tmp_path / "one")
    second = client.download("cached", tmp_path / "two")
    assert (first.bytes_downloaded, first.bytes_from_cache) == (700, 0)
    assert (second.bytes_downloaded, second.bytes_from_cache) == (0, 700)  # the object's ETag was still checked
    assert len(store.opened) == 2
    blob = next(p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.stat().st_size == 700)
    blob.chmod(0o644)
    blob.write_bytes(b"X" * 700)  # damaged in the cache: not served, fetched again
    third = client.download("cached", tmp_path / "three")
    assert third.bytes_downloaded == 700 and (tmp_path / "three/big.bin").read_bytes() == b"payload" * 100


def test_a_versioned_reference_reads_the_recorded_version(wandb_server, store: MemoryStore, tmp_path: Path) -> None:
    old = store.put("bkt", "m.bin", b"old")
    store.put("bkt", "m.bin", b"newer bytes")
    _seed_ref(wandb_server, "pinned", "m.bin", old, "s3://bkt/m.bin")
    root = tmp_path / "out"
    make_client(wandb_server, tmp_path, s3=store).download("pinned", root)
    assert (root / "m.bin").read_bytes() == b"old"


def test_a_changed_object_is_an_integrity_error(wandb_server, store: MemoryStore, tmp_path: Path) -> None:
    info = store.put("bkt", "m.bin", b"logged")
    unversioned = ObjectInfo(info.key, info.size, info.etag)  # an unversioned bucket records no version
    _seed_ref(wandb_server, "moved", "m.bin", unversioned, "s3://bkt/m.bin")
    store.put("bkt", "m.bin", b"replaced")
    root = tmp_path / "out"
    with pytest.raises(ArtifactIntegrityError, match="changed since it was logged"):
        make_client(wandb_server, tmp_path, s3=store).download("moved", root)
    assert _user_files(root) == {} if root.exists() else True


def test_bytes_that_do_not_match_the_store_md5_are_refused(wandb_server, store: MemoryStore, tmp_path: Path) -> None:
    info = store.put("bkt", "m.bin", b"0123456789")
    _seed_ref(wandb_server, "bad", "m.bin", info, "s3://bkt/m.bin")
    store.corrupt = True
    root = tmp_path / "out"
    with pytest.raises(ArtifactIntegrityError, match="MD5"):
        make_client(wandb_server, tmp_path, s3=store).download("bad", root)
    assert not (root / "m.bin").exists()


def test_transient_store_errors_are_retried_and_missing_objects_are_not(wandb_server, store: MemoryStore,
                                                                       tmp_path: Path, caplog) -> None:
    info = store.put("bkt", "m.bin", b"x" * 10)
    _seed_ref(wandb_server, "flaky", "m.bin", info, "s3://bkt/m.bin")
    store.fail_opens = 2
    make_client(wandb_server, tmp_path, s3=store).download("flaky", tmp_path / "out")
    assert len(store.opened) == 3 and "retrying" in caplog.text

    _seed_ref(wandb_server, "gone", "n.bin", info, "s3://bkt/never-written.bin")
    with pytest.raises(NotFoundError, match="'n.bin'"):
        make_client(wandb_server, tmp_path, s3=store).download("gone", tmp_path / "out2")


def test_log_one_object_a_prefix_and_uri_only(wandb_env, store: MemoryStore, tmp_path: Path) -> None:
    one = store.put("bkt", "data/train.csv", b"t")
    store.put("bkt", "data/sub/val.csv", b"vv")
    store.put("bkt", "data/empty", b"")  # empty objects are skipped, as the SDK does
    store.put("bkt", "database/other.csv", b"not under data/")
    client = make_client(wandb_env, tmp_path, s3=store)
    version = client.log_artifact("s3refs", "dataset", references=[
        "s3://bkt/data/train.csv",
        {"uri": "s3://bkt/data", "name": "all"},
        {"uri": "s3://bkt/data/sub", "max_objects": 1},
        {"uri": "s3://bkt/data/sub/val.csv", "name": "loose/val.csv", "checksum": False},
    ])
    entries = {e.path: e for e in client.manifest(version)}
    assert set(entries) == {"train.csv", "all/train.csv", "all/sub/val.csv", "val.csv", "loose/val.csv"}
    train = entries["train.csv"]
    assert (train.ref, train.digest, train.size) == ("s3://bkt/data/train.csv", one.etag, 1)
    assert train.extra == {"etag": one.etag, "versionID": one.version_id}
    assert entries["all/sub/val.csv"].ref == "s3://bkt/data/sub/val.csv"
    loose = entries["loose/val.csv"]
    assert (loose.digest, loose.ref, loose.size) == ("s3://bkt/data/sub/val.csv", "s3://bkt/data/sub/val.csv", None)

    again = client.log_artifact("s3refs", "dataset", references=[
        "s3://bkt/data/train.csv", {"uri": "s3://bkt/data", "name": "all"}, {"uri": "s3://bkt/data/sub"},
        {"uri": "s3://bkt/data/sub/val.csv", "name": "loose/val.csv", "checksum": False},
    ])
    assert again.version == version.version  # same objects: the same version, no duplicate

    root = tmp_path / "out"
    client.download(version, root)  # what we log, we read (the URI-only entry unchecked)
    assert (root / "all/sub/val.csv").read_bytes() == b"vv" and (root / "loose/val.csv").read_bytes() == b"vv"


def test_log_refuses_too_many_objects_missing_ones_and_no_store(wandb_env, store: MemoryStore,
                                                                tmp_path: Path) -> None:
    for i in range(3):
        store.put("bkt", f"p/{i}.bin", b"x")
    client = make_client(wandb_env, tmp_path, s3=store)
    with pytest.raises(InvalidValueError, match="more than 2 objects"):
        client.log_artifact("many", "dataset", references={"p": {"uri": "s3://bkt/p/", "max_objects": 2}})
    with pytest.raises(NotFoundError, match="no object"):
        client.log_artifact("none", "dataset", references="s3://bkt/q")
    with pytest.raises(InvalidValueError, match="max_objects"):
        client.log_artifact("bad", "dataset", references=[{"uri": "s3://bkt/p", "max_objects": 0}])
    with pytest.raises(InvalidValueError, match="max_objects"):  # typed values: text is not a number here
        client.log_artifact("bad", "dataset", references=[{"uri": "s3://bkt/p", "max_objects": "2"}])
    with pytest.raises(InvalidValueError, match="checksum"):
        client.log_artifact("bad", "dataset", references=[{"uri": "s3://bkt/p", "checksum": "false"}])
    with pytest.raises(InvalidValueError, match="s3:// and gs://"):
        client.log_artifact("bad", "dataset", references=[{"uri": "https://example.com/x", "checksum": False}])
    with pytest.raises(UnsupportedReferenceError, match="object store for gs://"):
        client.log_artifact("gcs", "dataset", references="gs://bkt/p/0.bin")
    assert store.opened == []


def test_gcs_entries_have_the_sdk_shape(wandb_env, tmp_path: Path) -> None:
    store = MemoryStore("gs")
    store.put("bkt", "m/a.txt", b"abc")
    client = make_client(wandb_env, tmp_path, gs=store)
    version = client.log_artifact("gcsrefs", "dataset", references="gs://bkt/m")
    (entry,) = client.manifest(version)
    assert (entry.path, entry.ref, entry.size) == ("a.txt", "gs://bkt/m/a.txt", 3)
    assert entry.extra == {"versionID": 1}  # the generation, a number, and no etag extra (as the SDK writes)
    root = tmp_path / "out"
    client.download(version, root)
    assert (root / "a.txt").read_bytes() == b"abc" and store.opened[-1] == ("bkt", "m/a.txt", "1")
