"""s3:// references through Airflow's S3Hook against a real S3 API (moto's server, started here),
with the official SDK's own S3 handler as the observer of what we log and the source of what we read.

Needs the ``test-amazon`` extra (the Amazon provider and ``moto[server]``); skipped without it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow._fakes import sdk
from wandb_provider.client import ArtifactIntegrityError, NotFoundError, WandbClient
from wandb_provider.client.errors import PermissionDeniedError
from wandb_provider.testing import SeedFile

pytestmark = pytest.mark.wandb_server(seed="demo")

ACCESS_KEY, SECRET_KEY = "AKIAMOTOTESTKEY00001", "moto-test-secret-never-printed"


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[Any]:
    """moto's S3 server on a free loopback port, with an unversioned and a versioned bucket."""
    pytest.importorskip("airflow.providers.amazon.aws.hooks.s3", reason="needs the 'amazon' extra")
    server_module = pytest.importorskip("moto.server", reason="needs moto[server] (the 'test-amazon' extra)")
    import boto3

    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                      aws_secret_access_key=SECRET_KEY)
    s3.create_bucket(Bucket="plain")
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    s3.endpoint = endpoint
    try:
        yield s3
    finally:
        server.stop()


@pytest.fixture
def aws(moto_s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The Airflow connection ``aws_moto`` and the SDK's boto3 environment, both pointed at moto."""
    conn = {"conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
            "extra": {"endpoint_url": moto_s3.endpoint, "region_name": "us-east-1"}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_MOTO", json.dumps(conn))
    monkeypatch.setenv("WANDB_PROVIDER_CACHE_DIR", str(tmp_path / "cache"))  # this test's own cache
    for key, value in {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                       "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_S3_ENDPOINT_URL": moto_s3.endpoint, "AWS_ENDPOINT_URL": moto_s3.endpoint}.items():
        monkeypatch.setenv(key, value)
    return moto_s3


def hook_client(server: Any, **kwargs: Any) -> WandbClient:
    from wandb_provider.hooks.wandb import WandbHook

    return WandbHook().get_client(aws_conn_id="aws_moto", **kwargs)


def sdk_entries(uri: str, **options: Any) -> dict[str, Any]:
    """What the SDK's own S3 handler records for ``add_reference(uri, **options)`` (boto3 against moto)."""
    from wandb.sdk.artifacts.storage_handlers.s3_handler import S3Handler

    entries = S3Handler().store_path(None, uri, **options)
    return {str(e.path): e for e in entries}


def _shape(entry: Any) -> tuple[Any, ...]:
    return (str(entry.path), entry.ref, entry.digest, entry.size, dict(entry.extra or {}))


def test_logged_references_are_what_the_sdk_records_and_the_sdk_downloads_them(
        wandb_env: Any, aws: Any, tmp_path: Path) -> None:
    aws.put_object(Bucket="versioned", Key="ds/train.csv", Body=b"a,b\n1,2\n")
    aws.put_object(Bucket="versioned", Key="ds/sub/val.csv", Body=b"a,b\n3,4\n")
    aws.put_object(Bucket="plain", Key="one/model.bin", Body=b"\x00weights")
    with hook_client(wandb_env) as client:
        version = client.log_artifact("s3-logged", "dataset", project="p", references=[
            "s3://versioned/ds", "s3://plain/one/model.bin",
            {"uri": "s3://plain/one/model.bin", "name": "unchecked.bin", "checksum": False}])
        ours = {e.path: e for e in client.manifest(version)}
    expected = {**sdk_entries("s3://versioned/ds"), **sdk_entries("s3://plain/one/model.bin"),
                **sdk_entries("s3://plain/one/model.bin", name="unchecked.bin", checksum=False)}
    assert {p: _shape(e) for p, e in ours.items()} == {p: _shape(e) for p, e in expected.items()}
    assert ours["train.csv"].extra["versionID"]  # a versioned bucket: pinned to this version

    aws.put_object(Bucket="versioned", Key="ds/train.csv", Body=b"overwritten")  # the SDK reads the old version
    artifact = sdk(wandb_env).artifact(f"{wandb_env.entity}/p/s3-logged:v0")
    # (the SDK cannot download its own checksum=False s3 entries: it looks for a version with their ETag)
    got = {name: Path(artifact.get_entry(name).download(root=str(tmp_path / "sdk"))).read_bytes()
           for name in ("train.csv", "sub/val.csv", "model.bin")}
    assert got == {"train.csv": b"a,b\n1,2\n", "sub/val.csv": b"a,b\n3,4\n", "model.bin": b"\x00weights"}


def test_sdk_logged_references_download_through_the_hook(wandb_env: Any, aws: Any, tmp_path: Path) -> None:
    aws.put_object(Bucket="versioned", Key="v/data.bin", Body=b"version one")
    aws.put_object(Bucket="plain", Key="p/a.txt", Body=b"alpha")
    aws.put_object(Bucket="plain", Key="p/b.txt", Body=b"beta")
    entries = {**sdk_entries("s3://versioned/v/data.bin"), **sdk_entries("s3://plain/p")}
    wandb_env.seed_artifact("s3-sdk", {path: SeedFile(path, ref=e.ref, digest=e.digest, size=e.size,
                                                      extra=dict(e.extra)) for path, e in entries.items()},
                            project="p")
    aws.put_object(Bucket="versioned", Key="v/data.bin", Body=b"version two, longer")
    root = tmp_path / "out"
    with hook_client(wandb_env) as client:
        result = client.download(f"{wandb_env.entity}/p/s3-sdk:v0", root)
        assert client.verify(f"{wandb_env.entity}/p/s3-sdk:v0", root).ok
    assert (root / "data.bin").read_bytes() == b"version one"  # the recorded version, not the newest
    assert (root / "a.txt").read_bytes() == b"alpha" and (root / "b.txt").read_bytes() == b"beta"
    assert result.bytes_downloaded == len(b"version onealphabeta")

    aws.put_object(Bucket="plain", Key="p/a.txt", Body=b"ALPHA")  # same size, new bytes, no versions kept
    with hook_client(wandb_env) as client, pytest.raises(ArtifactIntegrityError, match="a.txt.*changed"):
        client.download(f"{wandb_env.entity}/p/s3-sdk:v0", tmp_path / "again")
    assert not (tmp_path / "again" / "b.txt").exists()  # nothing published


def test_missing_object_and_prefix(wandb_env: Any, aws: Any, tmp_path: Path) -> None:
    aws.put_object(Bucket="plain", Key="gone/x.bin", Body=b"x")
    entry = sdk_entries("s3://plain/gone/x.bin")["x.bin"]
    wandb_env.seed_artifact("s3-gone", {"x.bin": SeedFile("x.bin", ref=entry.ref, digest=entry.digest,
                                                          size=entry.size, extra=dict(entry.extra))}, project="p")
    aws.delete_object(Bucket="plain", Key="gone/x.bin")
    with hook_client(wandb_env) as client:
        with pytest.raises(NotFoundError, match=r"x\.bin.*s3://plain/gone/x\.bin"):
            client.download(f"{wandb_env.entity}/p/s3-gone:v0", tmp_path / "out")
        with pytest.raises(NotFoundError, match="no object"):
            client.log_artifact("nothing", "dataset", project="p", references="s3://plain/no/such/prefix")
        with pytest.raises(NotFoundError):
            client.log_artifact("nothing", "dataset", project="p", references="s3://no-such-bucket/k")
        for i in range(3):
            aws.put_object(Bucket="plain", Key=f"many/{i}.bin", Body=b"m")
        from wandb_provider.client.errors import InvalidValueError

        with pytest.raises(InvalidValueError, match="more than 2 objects"):
            client.log_artifact("many", "dataset", project="p",
                                references=[{"uri": "s3://plain/many", "max_objects": 2}])
        version = client.log_artifact("many", "dataset", project="p",
                                      references=[{"uri": "s3://plain/many/", "max_objects": 3}])
        assert sorted(e.path for e in client.manifest(version)) == ["0.bin", "1.bin", "2.bin"]


def test_bad_credentials_fail_without_retries_or_secrets(wandb_env: Any, aws: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    from moto import settings

    aws.put_object(Bucket="plain", Key="auth/x.bin", Body=b"x")
    entry = sdk_entries("s3://plain/auth/x.bin")["x.bin"]
    wandb_env.seed_artifact("s3-auth", {"x.bin": SeedFile("x.bin", ref=entry.ref, digest=entry.digest,
                                                          size=entry.size, extra=dict(entry.extra))}, project="p")
    monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # moto now checks keys: ours are unknown
    with hook_client(wandb_env) as client:
        with pytest.raises(PermissionDeniedError, match="aws_moto") as denied:
            client.download(f"{wandb_env.entity}/p/s3-auth:v0", tmp_path / "out")
        with pytest.raises(PermissionDeniedError):
            client.log_artifact("auth", "dataset", project="p", references="s3://plain/auth/x.bin")
    assert not denied.value.transient and SECRET_KEY not in str(denied.value)
    assert "retrying" not in caplog.text and SECRET_KEY not in caplog.text
    assert not (tmp_path / "out" / "x.bin").exists()


def test_dag_downloads_s3_references_with_aws_conn_id(wandb_env: Any, aws: Any, run_dag: Any, out: Path) -> None:
    aws.put_object(Bucket="plain", Key="dag/rows.csv", Body=b"id\n1\n2\n")
    entry = sdk_entries("s3://plain/dag/rows.csv")["rows.csv"]
    wandb_env.seed_artifact("s3-dataset", {"rows.csv": SeedFile("rows.csv", ref=entry.ref, digest=entry.digest,
                                                                size=entry.size, extra=dict(entry.extra))},
                            project="churn", entity="acme")
    assert run_dag("s3_references_use").state == "success"
    result = json.loads(out.read_text())
    assert (Path(result["path"]) / "rows.csv").read_bytes() == b"id\n1\n2\n"

    wandb_env.reset_stats()
    assert run_dag("s3_references_no_connection").state == "failed"  # refused at once, not retried
    assert wandb_env.stats()["graphql"]["operations"].get("ArtifactByName") == 1


def test_a_missing_provider_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb_provider.hooks.object_stores import ObjectStoreExtraMissingError, object_stores_for

    monkeypatch.setitem(sys.modules, "airflow.providers.amazon.aws.hooks.s3", None)
    monkeypatch.setitem(sys.modules, "airflow.providers.google.cloud.hooks.gcs", None)
    with pytest.raises(ObjectStoreExtraMissingError, match=r"airflow-provider-wandb\[amazon\]") as missing:
        object_stores_for(aws_conn_id="aws_default")
    assert isinstance(missing.value, ImportError) and not missing.value.transient
    with pytest.raises(ObjectStoreExtraMissingError, match=r"airflow-provider-wandb\[google\]"):
        object_stores_for(gcp_conn_id="google_cloud_default")
    assert object_stores_for() == {}
