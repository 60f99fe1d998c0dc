"""The ``wandb-provider-server`` command: ready line, health, signals, ``--data-dir`` and bad arguments.

Each test runs the real command in a subprocess (``python -m wandb_provider.testing``, or the
installed console script), as a user's CI job or a benchmark would.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from wandb_provider.testing import DEFAULT_API_KEY

from ._http import ADD_ALIASES, TIMEOUT, artifact, data, file_urls, gql, log_artifact
from ._process import MODULE, SCRIPT, START_TIMEOUT, Remote


@pytest.mark.parametrize(
    "command",
    [pytest.param(MODULE, id="python-m"),
     pytest.param([SCRIPT], id="console-script", marks=pytest.mark.skipif(SCRIPT is None, reason="not installed"))],
)
@pytest.mark.parametrize(
    "signum", [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")]
)
def test_ready_line_health_and_clean_stop(start: Any, command: list[str], signum: int) -> None:
    server = start(command=command)
    assert requests.get(f"{server.remote.base_url}/healthz", timeout=TIMEOUT).status_code == 200
    assert data(gql(server.remote, "query Viewer { viewer { username } }"))["viewer"] == {"username": "demo"}
    began = time.monotonic()
    code, stdout, stderr = server.stop(signum)
    assert code == 0, stderr
    assert time.monotonic() - began < 5
    assert stdout == ""  # exactly one line on stdout, ever
    assert "Traceback" not in stderr
    assert DEFAULT_API_KEY in stderr  # the key to use is told on stderr, not stdout
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{server.remote.base_url}/healthz", timeout=TIMEOUT)


def test_default_host_is_loopback(start: Any) -> None:
    server = start()
    assert server.remote.base_url.startswith("http://127.0.0.1:")
    code, _, _ = server.stop()
    assert code == 0


def test_users_teams_and_orgs_from_the_command_line(start: Any) -> None:
    alice, bob = "a" * 40, "b" * 40
    server = start("--user", f"alice:{alice}", "--user", f"bob:{bob}", "--team", "ml:alice:admin,bob:viewer",
                   "--org", "ml-corp:ml")
    remote = server.remote
    query = "query V { viewer { username teams { edges { node { name } } } organizations { name } } }"
    seen = data(gql(remote, query, key=bob))["viewer"]
    assert seen == {"username": "bob", "teams": {"edges": [{"node": {"name": "ml"}}]},
                    "organizations": [{"name": "ml-corp"}]}
    reply = gql(remote, query)  # the default user exists only when no --user is given
    assert reply.status_code == 401
    log_artifact(Remote(remote.base_url, alice), "ml", "proj", "ds", {"a.txt": b"by alice"})
    refused = gql(remote, "mutation U($input: UpdateArtifactInput!) { updateArtifact(input: $input) { artifact "
                  "{ id } } }", {"input": {"artifactID": artifact(remote, "ml", "proj", "ds:v0", key=alice)["id"],
                                           "description": "by bob"}}, key=bob)
    assert "viewer" in refused.json()["errors"][0]["message"]
    assert server.stop()[0] == 0


def test_data_dir_state_survives_a_restart(start: Any, tmp_path: Path) -> None:
    args = ("--data-dir", str(tmp_path / "state"), "--seed", "demo")
    first = start(*args)
    remote = first.remote
    v0 = artifact(remote, "acme", "churn", "churn-model:v0")
    production = {"alias": "production", "artifactCollectionName": "churn-model", "entityName": "acme",
                  "projectName": "churn"}
    data(gql(remote, ADD_ALIASES, {"input": {"artifactID": v0["id"], "aliases": [production]}}))
    logged = log_artifact(remote, "demo", "scratch", "uploaded", {"data/a.txt": b"uploaded over HTTP\n"})
    old_urls = file_urls(remote, "acme", "churn", "churn-model", "production")
    old_bytes = {name: requests.get(url, timeout=TIMEOUT).content for name, url in old_urls.items()}
    assert first.stop()[0] == 0

    second = start(*args)  # same arguments: --seed must not re-seed an existing data dir
    remote = second.remote
    assert artifact(remote, "acme", "churn", "churn-model:production")["id"] == v0["id"]
    assert {"alias": "production"} not in artifact(remote, "acme", "churn", "churn-model:v1")["aliases"]
    assert artifact(remote, "acme", "churn", "churn-model:v3") is None  # no second copy of the demo data
    assert artifact(remote, "demo", "scratch", "uploaded:latest")["id"] == logged
    new_urls = file_urls(remote, "acme", "churn", "churn-model", "production")
    assert {name: requests.get(url, timeout=TIMEOUT).content for name, url in new_urls.items()} == old_bytes
    uploaded = file_urls(remote, "demo", "scratch", "uploaded", "v0")
    assert requests.get(uploaded["data/a.txt"], timeout=TIMEOUT).content == b"uploaded over HTTP\n"
    # URLs signed before the restart stay valid (the signing secret is kept in the data dir).
    rebased = old_urls["model.json"].replace(f":{first.port}/", f":{second.port}/")
    assert requests.get(rebased, timeout=TIMEOUT).content == old_bytes["model.json"]
    assert second.stop()[0] == 0


def test_without_data_dir_state_is_in_memory(start: Any) -> None:
    first = start()
    log_artifact(first.remote, "demo", "scratch", "gone", {"a.txt": b"x"})
    assert first.stop()[0] == 0
    second = start()
    assert data(gql(second.remote, '{ project(name: "scratch", entityName: "demo") { id } }'))["project"] is None
    assert second.stop()[0] == 0


def test_faults_option(start: Any) -> None:
    server = start("--faults", '{"seed": 3, "rules": [{"route": "graphql", "kind": "status", "status": 503, '
                   '"retry_after": 2, "times": 1}]}')
    reply = gql(server.remote, "query Viewer { viewer { username } }")
    assert (reply.status_code, reply.headers.get("Retry-After")) == (503, "2")
    assert gql(server.remote, "query Viewer { viewer { username } }").status_code == 200
    assert server.stop()[0] == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["--user", "alice"], ["--user", "NAME:API_KEY"], id="user-without-key"),
        pytest.param(["--user", ":" + "k" * 40], ["--user"], id="user-without-name"),
        pytest.param(["--user", "a:" + "k" * 40, "--user", "b:" + "k" * 40], ["API key", "once"], id="user-key-twice"),
        pytest.param(["--team", "ml"], ["--team", "TEAM:USER"], id="team-without-members"),
        pytest.param(["--team", "ml:demo:owner"], ["'owner'", "admin, member or viewer"], id="team-unknown-role"),
        pytest.param(["--team", "ml:ghost"], ["'ghost'", "--user"], id="team-unknown-user"),
        pytest.param(["--team", "ml:,demo"], ["empty user name"], id="team-empty-member"),
        pytest.param(["--org", "corp"], ["--org", "ORG:TEAM"], id="org-without-team"),
        pytest.param(["--org", "corp:nobody"], ["'nobody'", "--team"], id="org-unknown-team"),
        pytest.param(["--faults", "{rules"], ["--faults", "JSON"], id="faults-not-json"),
        pytest.param(["--faults", '[{"route": "files", "kind": "melt"}]'], ["--faults", "'melt'"],
                     id="faults-bad-rule"),
        pytest.param(["--seed", "lots"], ["--seed", "'lots'"], id="unknown-seed"),
        pytest.param(["--server-profile", "ancient"], ["--server-profile", "'ancient'"], id="unknown-profile"),
        pytest.param(["--port", "70000"], ["--port", "70000"], id="port-out-of-range"),
        pytest.param(["--port", "http"], ["--port", "'http'"], id="port-not-a-number"),
    ],
)
def test_bad_arguments_exit_non_zero_with_a_clear_message(args: list[str], words: list[str]) -> None:
    # --port 0 first, so a case's own --port wins.
    done = subprocess.run([*MODULE, "--port", "0", *args], capture_output=True, text=True, timeout=START_TIMEOUT)
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("wandb-provider-server: error:"), done.stderr
    for word in words:
        assert word in last, last


def test_port_in_use_is_a_clear_error(start: Any) -> None:
    server = start()
    done = subprocess.run([*MODULE, "--port", str(server.port)], capture_output=True, text=True,
                          timeout=START_TIMEOUT)
    assert done.returncode == 2 and done.stdout == ""
    assert f"cannot listen on 127.0.0.1:{server.port}" in done.stderr
    assert "Traceback" not in done.stderr
    assert server.stop()[0] == 0


FEATURES = "query ServerFeaturesQuery { serverInfo { features { name isEnabled } } }"


@pytest.mark.parametrize(("args", "enabled"), [([], True), (["--server-profile", "legacy"], False)])
def test_the_server_profile_sets_the_features_it_reports(start: Any, args: list[str], enabled: bool) -> None:
    server = start(*args)
    features = {f["name"]: f["isEnabled"] for f in data(gql(server.remote, FEATURES))["serverInfo"]["features"]}
    assert features["ARTIFACT_DIGEST_ALGORITHM"] is enabled
    assert features["ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE"] is enabled
    link = gql(server.remote, "mutation L($input: LinkArtifactInput!) { linkArtifact(input: $input) "
                              "{ artifactMembership { versionIndex } } }", {"input": {}})
    assert (link.status_code == 400) is not enabled  # the legacy schema has no such field
    assert server.stop()[0] == 0


def test_the_profile_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from wandb_provider.testing.cli import parse_config

    monkeypatch.setenv("WANDB_PROVIDER_SERVER_PROFILE", "legacy")
    assert parse_config([]).profile == "legacy"
    assert parse_config(["--server-profile", "latest"]).profile == "latest"
    monkeypatch.setenv("WANDB_PROVIDER_SERVER_PROFILE", "nope")
    with pytest.raises(SystemExit):
        parse_config([])
