"""gs:// references through Airflow's GCSHook against a local GCS emulator (``gcp-storage-emulator``),
with the official SDK's GCS handler as the observer of what we log.

Needs the ``test-google`` extra (the Google provider and the emulator); skipped without it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import ArtifactIntegrityError, NotFoundError, WandbClient
from wandb_provider.testing import SeedFile

pytestmark = pytest.mark.wandb_server(seed="demo")


@pytest.fixture(scope="module")
def gcs_emulator() -> Iterator[str]:
    """The emulator on a free loopback port; yields its URL."""
    pytest.importorskip("airflow.providers.google.cloud.hooks.gcs", reason="needs the 'google' extra")
    emulator = pytest.importorskip("gcp_storage_emulator.server", reason="needs the 'test-google' extra")
    server = emulator.create_server("127.0.0.1", 0, in_memory=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._api._httpd.server_port}"
    finally:
        server.stop()


@pytest.fixture
def gcs(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The Airflow connection ``gcp_emulator`` (anonymous) and a storage client, both on the emulator."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    monkeypatch.setenv("WANDB_PROVIDER_CACHE_DIR", str(tmp_path / "cache"))  # this test's own cache
    monkeypatch.setenv("AIRFLOW_CONN_GCP_EMULATOR", json.dumps(
        {"conn_type": "google_cloud_platform", "extra": {"is_anonymous": True, "project": "test"}}))
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    bucket = client.bucket("gbkt")
    if not bucket.exists():
        client.create_bucket("gbkt")
    return client


def hook_client() -> WandbClient:
    from wandb_provider.hooks.wandb import WandbHook

    return WandbHook().get_client(gcp_conn_id="gcp_emulator")


def test_log_and_download_gcs_references(wandb_env: Any, gcs: Any, tmp_path: Path) -> None:
    bucket = gcs.bucket("gbkt")
    bucket.blob("ds/a.txt").upload_from_string(b"alpha")
    bucket.blob("ds/sub/b.txt").upload_from_string(b"beta")
    with hook_client() as client:
        version = client.log_artifact("gcs-logged", "dataset", project="p", references=["gs://gbkt/ds"])
        entries = {e.path: e for e in client.manifest(version)}
        assert set(entries) == {"a.txt", "sub/b.txt"}
        a = entries["a.txt"]
        blob = bucket.get_blob("ds/a.txt")
        assert (a.ref, a.digest, a.size, a.extra) == ("gs://gbkt/ds/a.txt", blob.etag, 5,
                                                       {"versionID": blob.generation})
        root = tmp_path / "out"
        client.download(version, root)
        assert (root / "a.txt").read_bytes() == b"alpha" and (root / "sub/b.txt").read_bytes() == b"beta"

        from wandb.sdk.artifacts.storage_handlers.gcs_handler import GCSHandler

        sdk = {str(e.path): (e.ref, e.digest, e.size, dict(e.extra))
               for e in GCSHandler().store_path(None, "gs://gbkt/ds")}
        assert {p: (e.ref, e.digest, e.size, dict(e.extra)) for p, e in entries.items()} == sdk  # the SDK's entries

        bucket.blob("ds/a.txt").upload_from_string(b"ALPHA")  # a new generation: the old one is gone here
        with pytest.raises((ArtifactIntegrityError, NotFoundError)):
            client.download(version, tmp_path / "again")
        with pytest.raises(NotFoundError):
            client.log_artifact("none", "dataset", project="p", references="gs://gbkt/no/such")


def test_sdk_logged_gcs_entries_download_through_the_hook(wandb_env: Any, gcs: Any, tmp_path: Path) -> None:
    bucket = gcs.bucket("gbkt")
    bucket.blob("sdk/c.bin").upload_from_string(b"\x01\x02\x03")
    blob = bucket.get_blob("sdk/c.bin")
    # the entry exactly as the SDK's GCS handler records it (digest = etag, versionID = generation)
    wandb_env.seed_artifact("gcs-sdk", {"c.bin": SeedFile("c.bin", ref="gs://gbkt/sdk/c.bin", digest=blob.etag,
                                                          size=3, extra={"versionID": blob.generation})},
                            project="p")
    with hook_client() as client:
        client.download(f"{wandb_env.entity}/p/gcs-sdk:v0", tmp_path / "out")
    assert (tmp_path / "out" / "c.bin").read_bytes() == b"\x01\x02\x03"
