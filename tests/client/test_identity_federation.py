"""W&B identity federation: a JWT file exchanged for an access token at ``/oidc/token`` (as the SDK
does), sent as Bearer, kept until 5 minutes before it expires; bad JWTs refused; no secret in errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import WandbClient
from wandb_provider.client.errors import AuthenticationError

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def token_file(wandb_server: Any, tmp_path: Path) -> Path:
    path = tmp_path / "jwt"
    path.write_text(wandb_server.identity_token() + "\n")
    return path


def federated(server: Any, token_file: Path, **options: Any) -> WandbClient:
    return WandbClient(server.base_url, identity_token_file=str(token_file), entity=server.entity, project="fed",
                       max_retries=2, backoff_min=0.01, backoff_max=0.02, **options)


def test_a_jwt_is_exchanged_once_and_its_token_authenticates(wandb_server: Any, token_file: Path,
                                                             tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("federated\n")
    with federated(wandb_server, token_file) as client:
        version = client.log_artifact("fed-ds", "dataset", tmp_path / "a.txt")
        assert client.artifact("fed-ds:latest").id == version.id
        client.download("fed-ds", tmp_path / "out")
    assert (tmp_path / "out" / "a.txt").read_text() == "federated\n"
    assert wandb_server.identity.exchanges == 1  # one exchange for every request of the client


def test_a_token_with_5_minutes_left_is_exchanged_again_from_the_file_read_afresh(
        wandb_server: Any, token_file: Path) -> None:
    wandb_server.identity.access_token_seconds = 300  # already within the SDK's 5-minute margin
    with federated(wandb_server, token_file) as client:
        client.viewer()
        token_file.write_text(wandb_server.identity_token(lifetime=7200))  # the provider rotated the JWT
        client.viewer()
    assert wandb_server.identity.exchanges == 2


@pytest.mark.parametrize("claims", [{"exp": 1}, {"iss": "https://elsewhere.example"}, {"sub": "nobody"}, None])
def test_a_jwt_the_server_refuses_is_an_authentication_error_without_secrets(
        wandb_server: Any, tmp_path: Path, claims: dict[str, Any] | None, caplog: pytest.LogCaptureFixture) -> None:
    if claims is None:
        jwt = "not-a-jwt." + "x" * 40
    elif "sub" in claims:
        jwt = wandb_server.identity.mint("nobody")
    else:
        jwt = wandb_server.identity_token(**claims)
    path = tmp_path / "jwt"
    path.write_text(jwt)
    caplog.set_level(logging.DEBUG)
    with federated(wandb_server, path) as client, pytest.raises(AuthenticationError) as raised:
        client.artifact("fed-ds:latest")
    error = raised.value
    assert error.status == 400 and "invalid_grant" in str(error) and str(path) in str(error)
    for secret in (jwt, *jwt.split(".")):
        assert secret not in str(error) and secret not in repr(error) and secret not in caplog.text
    assert wandb_server.identity.exchanges == 0


def test_an_unreadable_token_file_says_which_file(wandb_server: Any, tmp_path: Path) -> None:
    with federated(wandb_server, tmp_path / "missing") as client, \
            pytest.raises(AuthenticationError, match="cannot read the identity token file .*missing"):
        client.artifact("fed-ds:latest")
    (tmp_path / "empty").write_text("  \n")
    with federated(wandb_server, tmp_path / "empty") as client, pytest.raises(AuthenticationError, match="empty"):
        client.artifact("fed-ds:latest")


def test_the_access_token_never_appears_in_an_error(wandb_server: Any, token_file: Path) -> None:
    with federated(wandb_server, token_file) as client:
        client.viewer()
        (token,) = [t for t in client._transport._credentials.secrets() if "." not in t]
        text = client._transport.scrub(f"boom {token} and {token_file.read_text().strip()}")
    assert token not in text and "***" in text


def test_the_command_line_and_an_operator_use_the_identity_token_file(
        wandb_server: Any, token_file: Path, tmp_path: Path, run_dag: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb_provider.cli import main

    wandb_server.seed_artifact("fed-ds", {"data.txt": "seeded\n"}, project="fed")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_BASE_URL", wandb_server.base_url)
    monkeypatch.setenv("WANDB_ENTITY", wandb_server.entity)
    monkeypatch.setenv("WANDB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("WANDB_PROVIDER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    assert main(["get", "fed/fed-ds:latest", "--root", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "data.txt").read_text() == "seeded\n"

    conn = {"conn_type": "wandb", "host": wandb_server.base_url,
            "extra": {"entity": wandb_server.entity, "identity_token_file": str(token_file)}}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_FEDERATED", json.dumps(conn))
    monkeypatch.setenv("WANDB_PROVIDER_TEST_OUT", str(tmp_path / "xcom.json"))
    monkeypatch.setenv("WANDB_PROVIDER_DOWNLOAD_ROOT", str(tmp_path / "downloads"))
    assert run_dag("identity_federation_use").state == "success"
    result = json.loads((tmp_path / "xcom.json").read_text())
    assert (Path(result["path"]) / "data.txt").read_text() == "seeded\n"


@pytest.mark.sdk
def test_the_sdk_exchanges_the_same_jwt_with_the_local_server(wandb_server: Any, token_file: Path,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wandb = pytest.importorskip("wandb")
    wandb_server.seed_artifact("fed-ds", {"data.txt": "seeded\n"}, project="fed")
    for key in ("WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WANDB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("WANDB_CREDENTIALS_FILE", str(tmp_path / "credentials.json"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    api = wandb.Api(overrides={"base_url": wandb_server.base_url})
    artifact = api.artifact(f"{wandb_server.entity}/fed/fed-ds:latest")
    root = artifact.download(root=str(tmp_path / "sdk"))
    assert (Path(root) / "data.txt").read_text() == "seeded\n"
    assert wandb_server.identity.exchanges >= 1
