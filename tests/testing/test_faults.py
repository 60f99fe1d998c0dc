"""Fault injection and request statistics, as a client observes them.

Rules come from ``POST /_admin/faults`` (or the ``faults`` config): ``status`` answers with a
status (and ``Retry-After``), ``reset`` drops the connection, ``delay`` waits first, ``truncate``
cuts the body off halfway, ``corrupt`` flips bytes and keeps the length. ``path`` and ``times``
narrow a rule; a ``seed`` makes the random choices repeatable. ``/_admin/stats`` counts GraphQL
requests (by operation name), file GETs and uploads.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from wandb_provider.testing import LocalWandbServer, ServerConfig

from ._http import TIMEOUT, error_messages, file_urls, gql

BIG = random.Random(1).randbytes(1 << 20)  # streamed in several chunks
SMALL = b"0123456789abcdef" * 1024  # 16 KiB, one chunk
VIEWER = "query Viewer { viewer { username } }"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalWandbServer]:
    with LocalWandbServer(ServerConfig()) as running:
        running.seed_artifact("blobs", {"big.bin": BIG, "small.txt": SMALL})
        yield running


@pytest.fixture(autouse=True)
def no_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts and ends without rules and with zeroed counters."""
    if "server" not in request.fixturenames:
        yield
        return
    server: LocalWandbServer = request.getfixturevalue("server")
    server.set_faults(None)
    server.reset_stats()
    yield
    server.set_faults(None)


@pytest.fixture
def urls(server: LocalWandbServer) -> dict[str, str]:
    return file_urls(server, "demo", "test-project", "blobs", "v0")


def set_faults(server: LocalWandbServer, spec: Any) -> dict[str, Any]:
    reply = requests.post(f"{server.base_url}/_admin/faults", json=spec, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    described: dict[str, Any] = reply.json()
    return described


def rule(**fields: Any) -> dict[str, Any]:
    return {"rules": [fields]}


def viewer(server: LocalWandbServer) -> requests.Response:
    return gql(server, VIEWER, operation_name="Viewer")


def upload_url(server: LocalWandbServer, body: bytes) -> str:
    md5_hex = hashlib.md5(body).hexdigest()
    gid = base64.b64encode(b"Artifact:1").decode()
    return server.base_url + server.signer.sign(f"/storage/uploads/{gid}/{md5_hex}")


# --- each kind, seen by a client -----------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "status", "retry_after", "header"),
    [
        pytest.param("files", 503, 7, "7", id="files-503"),
        pytest.param("graphql", 429, 1.5, "1.5", id="graphql-429"),
        pytest.param("uploads", 500, None, None, id="uploads-500-no-retry-after"),
    ],
)
def test_status_fault(
    server: LocalWandbServer, urls: dict[str, str], route: str, status: int, retry_after: float | None,
    header: str | None,
) -> None:
    set_faults(server, rule(route=route, kind="status", status=status, retry_after=retry_after))
    if route == "files":
        reply = requests.get(urls["small.txt"], timeout=TIMEOUT)
    elif route == "graphql":
        reply = viewer(server)
    else:
        reply = requests.put(upload_url(server, b"payload"), data=b"payload", timeout=TIMEOUT)
    assert reply.status_code == status
    assert reply.headers.get("Retry-After") == header
    assert str(status) in error_messages(reply)[0]
    if route == "uploads":
        assert not server.store.blobs.has(hashlib.md5(b"payload").hexdigest())
    # Only the named route is affected.
    assert requests.get(urls["big.bin"], timeout=TIMEOUT).ok == (route != "files")
    assert viewer(server).ok == (route != "graphql")


@pytest.mark.parametrize("route", ["files", "graphql", "uploads"])
def test_reset_fault_drops_the_connection(server: LocalWandbServer, urls: dict[str, str], route: str) -> None:
    set_faults(server, rule(route=route, kind="reset"))
    with pytest.raises(requests.exceptions.ConnectionError):
        if route == "files":
            requests.get(urls["small.txt"], timeout=TIMEOUT)
        elif route == "graphql":
            viewer(server)
        else:
            requests.put(upload_url(server, b"payload"), data=b"payload", timeout=TIMEOUT)
    set_faults(server, None)
    assert requests.get(urls["small.txt"], timeout=TIMEOUT).content == SMALL  # the server lives on


@pytest.mark.parametrize("route", ["files", "graphql"])
def test_delay_fault_is_measurable(server: LocalWandbServer, urls: dict[str, str], route: str) -> None:
    def timed() -> tuple[float, requests.Response]:
        start = time.monotonic()
        reply = requests.get(urls["small.txt"], timeout=TIMEOUT) if route == "files" else viewer(server)
        return time.monotonic() - start, reply

    quick, _ = timed()
    set_faults(server, rule(route=route, kind="delay", seconds=0.4))
    slow, reply = timed()
    assert reply.ok
    assert reply.content == SMALL if route == "files" else reply.json()["data"]["viewer"]["username"] == "demo"
    assert quick < 0.4 <= slow < 0.4 + 5


@pytest.mark.parametrize(("name", "content"), [("small.txt", SMALL), ("big.bin", BIG)])
def test_truncate_fault_gives_a_short_read(
    server: LocalWandbServer, urls: dict[str, str], name: str, content: bytes
) -> None:
    set_faults(server, rule(route="files", kind="truncate"))
    received = 0
    with requests.get(urls[name], stream=True, timeout=TIMEOUT) as reply:
        assert reply.status_code == 200
        assert int(reply.headers["Content-Length"]) == len(content)  # promised in full...
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
            for chunk in reply.iter_content(8192):
                received += len(chunk)
    assert received <= len(content) // 2  # ...cut off halfway


def test_truncate_fault_on_graphql(server: LocalWandbServer) -> None:
    set_faults(server, rule(route="graphql", kind="truncate"))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        viewer(server)


@pytest.mark.parametrize(("name", "content"), [("small.txt", SMALL), ("big.bin", BIG)])
def test_corrupt_fault_keeps_length_changes_md5(
    server: LocalWandbServer, urls: dict[str, str], name: str, content: bytes
) -> None:
    set_faults(server, rule(route="files", kind="corrupt"))
    reply = requests.get(urls[name], timeout=TIMEOUT)
    assert reply.status_code == 200
    assert len(reply.content) == int(reply.headers["Content-Length"]) == len(content)
    assert hashlib.md5(reply.content).digest() != hashlib.md5(content).digest()
    set_faults(server, None)
    assert requests.get(urls[name], timeout=TIMEOUT).content == content


# --- narrowing: path, times, rate and seed -------------------------------------------------


def test_path_limits_a_rule(server: LocalWandbServer, urls: dict[str, str]) -> None:
    set_faults(server, rule(route="files", kind="status", status=500, path="small.txt"))
    assert requests.get(urls["small.txt"], timeout=TIMEOUT).status_code == 500
    assert requests.get(urls["big.bin"], timeout=TIMEOUT).content == BIG


def test_times_limits_injections(server: LocalWandbServer, urls: dict[str, str]) -> None:
    set_faults(server, rule(route="files", kind="status", status=503, times=2))
    codes = [requests.get(urls["small.txt"], timeout=TIMEOUT).status_code for _ in range(4)]
    assert codes == [503, 503, 200, 200]
    (left,) = requests.get(f"{server.base_url}/_admin/faults", timeout=TIMEOUT).json()["rules"]
    assert left["times"] == 0


def test_after_lets_requests_through_first(server: LocalWandbServer, urls: dict[str, str]) -> None:
    set_faults(server, rule(route="files", kind="status", status=503, after=2, times=1))
    codes = [requests.get(urls["small.txt"], timeout=TIMEOUT).status_code for _ in range(4)]
    assert codes == [200, 200, 503, 200]


def test_hold_keeps_a_request_until_the_test_releases_it(server: LocalWandbServer, urls: dict[str, str]) -> None:
    set_faults(server, rule(route="files", kind="hold", seconds=120, path="small.txt"))
    answers: list[bytes] = []
    getter = threading.Thread(target=lambda: answers.append(requests.get(urls["small.txt"], timeout=60).content))
    getter.start()
    assert server.faults.wait_held(timeout=60)
    assert answers == [] and requests.get(urls["big.bin"], timeout=TIMEOUT).content == BIG  # others go on
    reply = requests.post(f"{server.base_url}/_admin/faults/release", json={}, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    getter.join(timeout=60)
    assert answers == [SMALL] and server.faults.held == 0
    assert requests.get(urls["small.txt"], timeout=TIMEOUT).content == SMALL  # released until reconfigured


def _pattern(server: LocalWandbServer, url: str, spec: dict[str, Any], count: int = 40) -> list[int]:
    set_faults(server, spec)
    return [requests.get(url, timeout=TIMEOUT).status_code for _ in range(count)]


def test_same_seed_same_sequence(server: LocalWandbServer, urls: dict[str, str]) -> None:
    spec = {"seed": 42, "rules": [{"route": "files", "kind": "status", "status": 503, "rate": 0.5}]}
    first = _pattern(server, urls["small.txt"], spec)
    assert _pattern(server, urls["small.txt"], spec) == first
    assert {200, 503} == set(first)  # rate 0.5 really mixes
    other = _pattern(server, urls["small.txt"], {**spec, "seed": 43})
    assert other != first
    assert _pattern(server, urls["small.txt"], {**spec, "seed": 43}) == other


@pytest.mark.parametrize(("rate", "expected"), [(0, {200}), (1, {503})])
def test_rate_bounds(server: LocalWandbServer, urls: dict[str, str], rate: float, expected: set[int]) -> None:
    spec = rule(route="files", kind="status", status=503, rate=rate)
    assert set(_pattern(server, urls["small.txt"], spec, count=10)) == expected


@pytest.mark.wandb_server(faults={"seed": 1, "rules": [{"route": "graphql", "kind": "status", "status": 502}]})
def test_rules_from_the_config_apply_from_the_start(wandb_server: LocalWandbServer) -> None:
    assert gql(wandb_server, VIEWER).status_code == 502
    wandb_server.set_faults(None)
    assert gql(wandb_server, VIEWER).status_code == 200


def test_rules_are_replaced_not_merged(server: LocalWandbServer, urls: dict[str, str]) -> None:
    set_faults(server, rule(route="files", kind="status", status=500))
    described = set_faults(server, rule(route="graphql", kind="delay", seconds=0.01))
    assert [r["route"] for r in described["rules"]] == ["graphql"]
    assert requests.get(urls["small.txt"], timeout=TIMEOUT).status_code == 200


# --- invalid rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        pytest.param(rule(route="blobs", kind="status"), ["route", "'blobs'"], id="unknown-route"),
        pytest.param(rule(route="files", kind="explode"), ["kind", "'explode'"], id="unknown-kind"),
        pytest.param(rule(route="files", kind="status", rate=1.5), ["rate", "1.5"], id="rate-above-1"),
        pytest.param(rule(route="files", kind="status", rate=-0.1), ["rate"], id="rate-negative"),
        pytest.param(rule(route="files", kind="status", rate="0.5"), ["rate"], id="rate-string"),
        pytest.param(rule(route="files"), ["kind"], id="kind-missing"),
        pytest.param(rule(kind="status"), ["route"], id="route-missing"),
        pytest.param(rule(route="files", kind="status", sttus=503), ["sttus"], id="unknown-key"),
        pytest.param(rule(route="files", kind="status", status=999), ["status", "999"], id="status-out-of-range"),
        pytest.param(rule(route="files", kind="status", status="503"), ["status"], id="status-string"),
        pytest.param(rule(route="files", kind="delay", seconds=-1), ["seconds"], id="seconds-negative"),
        pytest.param(rule(route="files", kind="status", retry_after="soon"), ["retry_after"], id="retry-after-text"),
        pytest.param(rule(route="files", kind="status", times=-1), ["times"], id="times-negative"),
        pytest.param(rule(route="files", kind="status", times=1.5), ["times"], id="times-fraction"),
        pytest.param(rule(route="files", kind="status", path=5), ["path"], id="path-number"),
        pytest.param({"rules": "all"}, ["rules"], id="rules-not-list"),
        pytest.param({"rules": ["status"]}, ["rule"], id="rule-not-object"),
        pytest.param({"rulez": []}, ["rulez"], id="unknown-top-level-key"),
        pytest.param({"seed": 1.5, "rules": []}, ["seed"], id="seed-fraction"),
        pytest.param("everything", ["faults"], id="not-an-object"),
    ],
)
def test_invalid_rules_are_400_and_keep_the_current_rules(
    server: LocalWandbServer, spec: Any, words: list[str]
) -> None:
    current = set_faults(server, rule(route="graphql", kind="delay", seconds=0.01, path="/nothing"))
    reply = requests.post(f"{server.base_url}/_admin/faults", json=spec, timeout=TIMEOUT)
    assert reply.status_code == 400
    message = error_messages(reply)[0]
    assert all(word in message for word in words), message
    assert requests.get(f"{server.base_url}/_admin/faults", timeout=TIMEOUT).json() == current


def test_faults_body_not_json_is_400(server: LocalWandbServer) -> None:
    reply = requests.post(f"{server.base_url}/_admin/faults", data=b"{rules", timeout=TIMEOUT,
                          headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert "JSON" in error_messages(reply)[0]


# --- statistics ----------------------------------------------------------------------------


def test_stats_count_requests_by_route_and_operation(server: LocalWandbServer, urls: dict[str, str]) -> None:
    server.reset_stats()
    gql(server, VIEWER, operation_name="Viewer")  # named by operationName
    gql(server, VIEWER, operation_name="")  # Python documents: operationName "", named by the document
    gql(server, VIEWER, operation_name=None)
    gql(server, "query A { viewer { id } }\nquery B { viewer { username } }", operation_name="B")
    gql(server, "mutation\tCreateArtifact ($x: ID) { __typename }", operation_name="")  # gqlparser re-print style
    requests.get(urls["small.txt"], timeout=TIMEOUT)
    requests.get(urls["big.bin"], timeout=TIMEOUT)
    requests.get(urls["big.bin"] + "0", timeout=TIMEOUT)  # refused (bad signature) but still a file request
    requests.put(upload_url(server, b"counted"), data=b"counted", timeout=TIMEOUT)
    requests.get(f"{server.base_url}/healthz", timeout=TIMEOUT)  # not counted

    reply = requests.get(f"{server.base_url}/_admin/stats", timeout=TIMEOUT)
    assert reply.json() == {
        "graphql": {"total": 5, "operations": {"Viewer": 3, "B": 1, "CreateArtifact": 1}},
        "files": 3,
        "uploads": 1,
        "upload_bytes": len(b"counted"),
    }


def test_stats_count_faulted_requests_too(server: LocalWandbServer, urls: dict[str, str]) -> None:
    set_faults(server, rule(route="files", kind="reset", times=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(urls["small.txt"], timeout=TIMEOUT)
    assert requests.get(urls["small.txt"], timeout=TIMEOUT).ok
    assert server.stats()["files"] == 2


def test_stats_reset(server: LocalWandbServer, urls: dict[str, str]) -> None:
    viewer(server)
    requests.get(urls["small.txt"], timeout=TIMEOUT)
    assert server.stats()["graphql"]["operations"]["Viewer"] == 1 and server.stats()["files"] == 1
    reply = requests.post(f"{server.base_url}/_admin/stats/reset", timeout=TIMEOUT)
    zero = {"graphql": {"total": 0, "operations": {}}, "files": 0, "uploads": 0, "upload_bytes": 0}
    assert reply.status_code == 200 and reply.json() == zero
    assert requests.get(f"{server.base_url}/_admin/stats", timeout=TIMEOUT).json() == zero


# --- concurrency ---------------------------------------------------------------------------


def test_file_downloads_never_wait_for_the_database(server: LocalWandbServer, urls: dict[str, str]) -> None:
    """A GraphQL request holding (or waiting for) the store must not stall file transfers."""
    answers: dict[str, requests.Response] = {}
    worker = threading.Thread(target=lambda: answers.update(graphql=viewer(server)))
    seen = server.stats()["graphql"]["total"]
    with server.store.db.transaction():  # hold the store's lock, as a long mutation would
        worker.start()
        deadline = time.monotonic() + TIMEOUT
        while server.stats()["graphql"]["total"] == seen:  # until the request has reached the server
            assert time.monotonic() < deadline, "the GraphQL request never arrived"
            worker.join(timeout=0.01)
        assert requests.get(urls["small.txt"], timeout=60).content == SMALL
        assert requests.get(urls["big.bin"], timeout=60).content == BIG
        assert requests.get(f"{server.base_url}/healthz", timeout=60).ok
        assert "graphql" not in answers  # still waiting for the store
    worker.join(timeout=TIMEOUT)
    assert answers["graphql"].json()["data"]["viewer"]["username"] == "demo"
