"""The local server as a service: exposure, body limits, the admin routes and crash recovery.

Binding a non-loopback address warns and refuses the well-known default key; request bodies are
limited while they stream (413, nothing stored); ``/_admin`` takes JSON only, from loopback, from
no other origin; an upload cut by SIGKILL leaves no debris after a restart on the same data dir and
its version does not stay PENDING, and a re-run of the upload commits (read back with ``wandb.Api``).
Servers run as real subprocesses where start-up or a crash is what is tested; no test sends
traffic anywhere but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from wandb_provider.testing import DEFAULT_API_KEY, LocalWandbServer, ServerConfig

from ._http import TIMEOUT, begin_upload, data, error_messages, file_urls, gql, log_artifact, snapshot
from ._process import MODULE, START_TIMEOUT, Remote

ALICE_KEY = "alice-" + "a1" * 20
STATE = "query State($id: ID!) { artifact(id: $id) { state versionIndex } }"
VIEWER = "query Viewer { viewer { username } }"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command to completion (it must refuse to start); ``--port 0`` first."""
    return subprocess.run([*MODULE, "--port", "0", *args], capture_output=True, text=True, timeout=START_TIMEOUT)


def assert_refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode == 2, done
    assert done.stdout == ""  # never ready
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("wandb-provider-server: error:"), done.stderr
    for word in words:
        assert word in last, last
    return last


def raw_request(url: str, method: str, headers: dict[str, str], body: bytes = b"") -> socket.socket:
    """Send a request's head and ``body`` (maybe only part of what the head announces); return the socket."""
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port
    sock = socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    head = "".join(f"{name}: {value}\r\n" for name, value in {"Host": parts.netloc, **headers}.items())
    sock.sendall(f"{method} {target} HTTP/1.1\r\n{head}\r\n".encode() + body)
    return sock


def read_status(sock: socket.socket) -> int:
    """The status code of the answer on ``sock`` (its first line)."""
    received = b""
    while b"\r\n" not in received:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return int(received.split(b" ", 2)[1])


def temp_files(blobs: Path) -> list[Path]:
    return sorted(blobs.glob(".upload-*"))


def blob_path(blobs: Path, body: bytes) -> Path:
    md5_hex = hashlib.md5(body).hexdigest()
    return blobs / md5_hex[:2] / md5_hex


# --- exposure --------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]", "192.0.2.10", ""])
def test_non_loopback_host_refuses_the_default_key(host: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    last = assert_refused(run_cli("--host", host, "--data-dir", str(state)), "not a loopback address",
                          "default API key", "--user NAME:API_KEY", "'demo'")
    assert DEFAULT_API_KEY not in last
    assert not (state / "wandb.sqlite3").exists()  # refused before anything was written


def test_non_loopback_host_refuses_the_default_key_given_explicitly() -> None:
    assert_refused(run_cli("--host", "0.0.0.0", "--user", f"demo:{DEFAULT_API_KEY}"), "--user NAME:API_KEY")


def test_non_loopback_host_refuses_a_data_dir_user_left_with_the_default_key(start: Any, tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    first = start("--data-dir", state)  # loopback: the default user 'demo' is created with the default key
    assert first.stop()[0] == 0
    assert_refused(run_cli("--host", "0.0.0.0", "--data-dir", state, "--user", f"alice:{ALICE_KEY}"),
                   "'demo'", "--user NAME:API_KEY")
    new_demo_key = "demo-" + "d2" * 20
    second = start("--host", "0.0.0.0", "--data-dir", state, "--user", f"demo:{new_demo_key}",
                   "--user", f"alice:{ALICE_KEY}")
    assert second.host == "0.0.0.0"
    local = second.local
    assert gql(Remote(local.base_url, DEFAULT_API_KEY), VIEWER).status_code == 401  # the old key is gone
    assert data(gql(Remote(local.base_url, new_demo_key), VIEWER))["viewer"] == {"username": "demo"}
    code, _, stderr = second.stop()
    assert code == 0
    assert "warning:" in stderr and "not a loopback address" in stderr and "emulator" in stderr
    assert new_demo_key not in stderr and ALICE_KEY not in stderr  # keys of one's own are not echoed


def test_non_loopback_host_with_own_users_warns_and_serves(start: Any) -> None:
    server = start("--host", "0.0.0.0", "--user", f"alice:{ALICE_KEY}")
    assert data(gql(Remote(server.local.base_url, ALICE_KEY), VIEWER))["viewer"] == {"username": "alice"}
    by_name = requests.post(f"{server.local.base_url}/graphql", json={"query": VIEWER}, auth=("api", ALICE_KEY),
                            headers={"Host": f"wandb-server:{server.port}"}, timeout=TIMEOUT)
    assert data(by_name)["viewer"] == {"username": "alice"}  # as a container's service name would
    code, _, stderr = server.stop()
    assert code == 0
    assert "wandb-provider-server: warning: listening on 0.0.0.0:" in stderr
    assert "without real security" in stderr


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.0.0.2", "localhost",
     pytest.param("::1", marks=pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback"))],
)
def test_loopback_hosts_keep_the_default_key_and_do_not_warn(start: Any, host: str) -> None:
    server = start("--host", host)
    assert data(gql(server.remote, VIEWER))["viewer"] == {"username": "demo"}
    code, _, stderr = server.stop()
    assert code == 0
    assert "warning" not in stderr
    assert DEFAULT_API_KEY in stderr  # as before: the well-known key is told


def test_loopback_server_refuses_requests_addressed_by_another_name(wandb_server: LocalWandbServer) -> None:
    """A page on a DNS-rebound name must not reach GraphQL with the well-known key from a browser."""
    port = urlsplit(wandb_server.base_url).port
    for host in (f"rebound.example:{port}", "rebound.example"):
        reply = requests.post(f"{wandb_server.base_url}/graphql", json={"query": VIEWER}, auth=_auth(wandb_server),
                              headers={"Host": host}, timeout=TIMEOUT)
        assert reply.status_code == 403, reply.text
        assert "localhost" in error_messages(reply)[0]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        reply = requests.post(f"{wandb_server.base_url}/graphql", json={"query": VIEWER}, auth=_auth(wandb_server),
                              headers={"Host": host}, timeout=TIMEOUT)
        assert data(reply)["viewer"] == {"username": "demo"}


def test_python_api_refuses_the_default_key_on_a_non_loopback_host() -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        LocalWandbServer(ServerConfig(host="0.0.0.0"))


# --- body limits -----------------------------------------------------------------------------

BODY_LIMIT, UPLOAD_LIMIT = 4096, 64 * 1024


@pytest.fixture(scope="module")
def limited() -> Iterator[LocalWandbServer]:
    with LocalWandbServer(ServerConfig(max_body_bytes=BODY_LIMIT, max_upload_bytes=UPLOAD_LIMIT)) as server:
        yield server


def _padded_viewer(size: int) -> bytes:
    body = b'{"query": "query Viewer { viewer { username } }", "pad": "'
    return body + b"x" * (size - len(body) - 2) + b'"}'


def _auth(server: Any) -> tuple[str, str]:
    return ("api", server.api_key)


def _assert_413(reply: requests.Response, option: str) -> None:
    assert reply.status_code == 413, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    message = error_messages(reply)[0]
    assert "too large" in message and option in message, message


def test_graphql_body_at_the_limit_passes_and_over_it_is_413(limited: LocalWandbServer) -> None:
    url = f"{limited.base_url}/graphql"
    headers = {"Content-Type": "application/json"}
    at_limit = requests.post(url, data=_padded_viewer(BODY_LIMIT), headers=headers, auth=_auth(limited),
                             timeout=TIMEOUT)
    assert data(at_limit)["viewer"] == {"username": "demo"}
    limited.reset_stats()
    over = requests.post(url, data=_padded_viewer(BODY_LIMIT + 1), headers=headers, auth=_auth(limited),
                         timeout=TIMEOUT)
    _assert_413(over, "--max-body-bytes")
    chunked = requests.post(url, data=iter([_padded_viewer(3 * BODY_LIMIT)[i:i + 1000]
                                            for i in range(0, 3 * BODY_LIMIT, 1000)]),
                            headers=headers, auth=_auth(limited), timeout=TIMEOUT)
    assert "chunked" in chunked.request.headers.get("Transfer-Encoding", "")
    _assert_413(chunked, "--max-body-bytes")


@pytest.mark.parametrize("route", ["graphql", "upload"])
def test_limits_are_enforced_before_the_body_has_arrived(limited: LocalWandbServer, route: str) -> None:
    if route == "graphql":
        url, limit = f"{limited.base_url}/graphql", BODY_LIMIT
    else:
        upload = begin_upload(limited, "demo", "limits", "early", {"big.bin": os.urandom(UPLOAD_LIMIT + 1)})
        url, limit = upload.slots["big.bin"]["uploadUrl"], UPLOAD_LIMIT
    # A declared length over the limit is answered at once: none of the body is ever sent.
    declared = raw_request(url, "PUT" if route == "upload" else "POST", {"Content-Length": str(10**12)})
    with declared:
        assert read_status(declared) == 413
    # A chunked body is answered as soon as it passes the limit, long before it ends.
    chunk = b"x" * (limit + 1)
    streaming = raw_request(url, "PUT" if route == "upload" else "POST", {"Transfer-Encoding": "chunked"},
                            f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    with streaming:
        assert read_status(streaming) == 413
    assert temp_files(limited.store.blobs.root) == []


def test_upload_over_the_limit_is_413_and_stores_nothing(limited: LocalWandbServer) -> None:
    fits, too_big = os.urandom(UPLOAD_LIMIT), os.urandom(UPLOAD_LIMIT + 1)
    upload = begin_upload(limited, "demo", "limits", "uploads", {"fits.bin": fits, "big.bin": too_big})
    big_url = upload.slots["big.bin"]["uploadUrl"]
    _assert_413(requests.put(big_url, data=too_big, timeout=TIMEOUT), "--max-upload-bytes")
    chunks = iter([too_big[i:i + 8192] for i in range(0, len(too_big), 8192)])
    _assert_413(requests.put(big_url, data=chunks, timeout=TIMEOUT), "--max-upload-bytes")
    blobs = limited.store.blobs
    assert not blob_path(blobs.root, too_big).exists()
    assert temp_files(blobs.root) == []
    upload.put("fits.bin")  # a file of exactly the limit is accepted
    assert blob_path(blobs.root, fits).exists()


def test_admin_and_file_stream_bodies_over_the_limit_are_413(limited: LocalWandbServer) -> None:
    before = limited.faults.describe()
    padded = b'{"rules": [], "seed": "' + b"x" * BODY_LIMIT + b'"}'
    reply = requests.post(f"{limited.base_url}/_admin/faults", data=padded,
                          headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    _assert_413(reply, "--max-body-bytes")
    assert limited.faults.describe() == before
    stream = requests.post(f"{limited.base_url}/files/demo/limits/run-1/file_stream", data=b"{" + b" " * BODY_LIMIT,
                           auth=_auth(limited), timeout=TIMEOUT)
    _assert_413(stream, "--max-body-bytes")


def test_body_limit_options_on_the_command_line(start: Any) -> None:
    server = start("--max-body-bytes", "1KiB", "--max-upload-bytes", "2MiB")
    url = f"{server.remote.base_url}/graphql"
    headers = {"Content-Type": "application/json"}
    assert requests.post(url, data=_padded_viewer(1024), headers=headers, auth=_auth(server.remote),
                         timeout=TIMEOUT).status_code == 200
    _assert_413(requests.post(url, data=_padded_viewer(1025), headers=headers, auth=_auth(server.remote),
                              timeout=TIMEOUT), "--max-body-bytes")
    assert server.stop()[0] == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["--max-body-bytes", "0"], ["--max-body-bytes", "'0'"], id="body-zero"),
        pytest.param(["--max-body-bytes", "-5"], ["--max-body-bytes"], id="body-negative"),
        pytest.param(["--max-upload-bytes", "lots"], ["--max-upload-bytes", "'lots'"], id="upload-not-a-size"),
        pytest.param(["--max-upload-bytes", "5TB"], ["--max-upload-bytes", "KiB, MiB or GiB"], id="upload-unit"),
        pytest.param(["--pending-ttl", "0"], ["--pending-ttl"], id="ttl-zero"),
        pytest.param(["--pending-ttl", "soon"], ["--pending-ttl", "'soon'"], id="ttl-not-a-duration"),
        pytest.param(["--pending-ttl", "nan"], ["--pending-ttl"], id="ttl-nan"),
    ],
)
def test_bad_limit_options_exit_2(args: list[str], words: list[str]) -> None:
    assert_refused(run_cli(*args), *words)


# --- admin routes ----------------------------------------------------------------------------


@pytest.fixture
def admin_state(wandb_server: LocalWandbServer) -> Callable[[], Any]:
    """Faults set, stats non-zero and a project to protect aliases in; returns a snapshot function."""
    wandb_server.seed_artifact("ds", {"a.txt": b"a"}, project="p")
    wandb_server.set_faults({"seed": 1, "rules": [{"route": "graphql", "kind": "delay", "seconds": 0.01,
                                                   "path": "/never"}]})
    gql(wandb_server, VIEWER)

    def state() -> Any:
        return (wandb_server.faults.describe(), wandb_server.stats(), wandb_server.signer.ttl_seconds,
                snapshot(wandb_server.store))

    return state


ADMIN_POSTS = [
    ("faults", b'{"rules": []}'),
    ("signed-urls", b'{"ttl_seconds": -1}'),
    ("stats/reset", b"{}"),
    ("protected-aliases", b'{"entity": "demo", "project": "p", "aliases": ["production"]}'),
]


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "text/plain", "text/plain;charset=UTF-8",
     None],
)
def test_admin_posts_that_are_not_json_are_415_and_change_nothing(
    wandb_server: LocalWandbServer, admin_state: Callable[[], Any], content_type: str | None
) -> None:
    before = admin_state()
    headers = {"Content-Type": content_type} if content_type else {}
    for action, body in ADMIN_POSTS:
        reply = requests.post(f"{wandb_server.base_url}/_admin/{action}", data=body, headers=headers,
                              timeout=TIMEOUT)
        assert reply.status_code == 415, (action, reply.text)
        assert "application/json" in error_messages(reply)[0]
    assert admin_state() == before


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "http://localhost:{port}",
                                    "https://127.0.0.1:{port}"])
def test_admin_requests_from_another_origin_are_403_and_change_nothing(
    wandb_server: LocalWandbServer, admin_state: Callable[[], Any], origin: str
) -> None:
    before = admin_state()
    headers = {"Origin": origin.format(port=urlsplit(wandb_server.base_url).port)}
    for action, body in ADMIN_POSTS:
        reply = requests.post(f"{wandb_server.base_url}/_admin/{action}", data=body,
                              headers={**headers, "Content-Type": "application/json"}, timeout=TIMEOUT)
        assert reply.status_code == 403, (action, reply.text)
        assert "origin" in error_messages(reply)[0]
    assert requests.get(f"{wandb_server.base_url}/_admin/stats", headers=headers, timeout=TIMEOUT).status_code == 403
    assert admin_state() == before


@pytest.mark.parametrize(
    "headers",
    [pytest.param({"Host": "rebound.example:{port}"}, id="dns-rebinding-host"),
     pytest.param({"Sec-Fetch-Site": "cross-site"}, id="sec-fetch-cross-site"),
     pytest.param({"Sec-Fetch-Site": "same-site"}, id="sec-fetch-same-site")],
)
def test_admin_requests_from_browsers_elsewhere_are_403(
    wandb_server: LocalWandbServer, admin_state: Callable[[], Any], headers: dict[str, str]
) -> None:
    before = admin_state()
    port = urlsplit(wandb_server.base_url).port
    sent = {name: value.format(port=port) for name, value in headers.items()}
    reply = requests.post(f"{wandb_server.base_url}/_admin/faults", json={"rules": []}, headers=sent,
                          timeout=TIMEOUT)
    assert reply.status_code == 403, reply.text
    assert admin_state() == before


def test_admin_accepts_json_from_scripts_and_its_own_origin(wandb_server: LocalWandbServer) -> None:
    base = wandb_server.base_url
    own = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
    reply = requests.post(f"{base}/_admin/signed-urls", data=b'{"ttl_seconds": 60}',
                          headers={**own, "Content-Type": "application/json; charset=utf-8"}, timeout=TIMEOUT)
    assert reply.status_code == 200 and wandb_server.signer.ttl_seconds == 60
    assert requests.post(f"{base}/_admin/stats/reset", timeout=TIMEOUT).status_code == 200  # no body, no type
    localhost = f"http://localhost:{urlsplit(base).port}"
    assert requests.get(f"{localhost}/_admin/stats", timeout=TIMEOUT).status_code == 200


def test_artifact_files_are_served_sandboxed(wandb_server: LocalWandbServer) -> None:
    """An HTML artifact file opened in a browser gets an opaque origin, so it cannot drive /_admin."""
    wandb_server.seed_artifact("site", {"report.html": b"<script>fetch('/_admin/faults')</script>"}, project="p")
    url = file_urls(wandb_server, wandb_server.entity, "p", "site", "v0")["report.html"]
    reply = requests.get(url, timeout=TIMEOUT)
    assert reply.status_code == 200
    assert reply.headers["content-security-policy"] == "sandbox"
    assert reply.headers["x-content-type-options"] == "nosniff"


# --- uploads that are refused store nothing ----------------------------------------------------


def test_upload_of_other_bytes_than_the_url_names_stores_nothing(wandb_server: LocalWandbServer) -> None:
    upload = begin_upload(wandb_server, "demo", "p", "ds", {"a.txt": b"expected bytes"})
    other = b"other bytes, never to be kept"
    reply = requests.put(upload.slots["a.txt"]["uploadUrl"], data=other, timeout=TIMEOUT)
    assert reply.status_code == 400
    assert not blob_path(wandb_server.store.blobs.root, other).exists()
    assert temp_files(wandb_server.store.blobs.root) == []


def test_manifest_upload_refused_for_a_committed_version_stores_nothing(wandb_server: LocalWandbServer) -> None:
    committed = log_artifact(wandb_server, "demo", "p", "ds", {"a.txt": b"a"})
    stray = b'{"version": 1, "contents": {}, "stray": true}'
    url = wandb_server.base_url + wandb_server.signer.sign(f"/storage/manifests/{committed}")
    reply = requests.put(url, data=stray, timeout=TIMEOUT)
    assert reply.status_code == 404
    assert not blob_path(wandb_server.store.blobs.root, stray).exists()


# --- crash recovery and abandoned versions -----------------------------------------------------


@pytest.fixture
def sdk_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """``sdk_api(base_url)``: a fresh official ``wandb.Api`` on that server, its files under tmp_path."""
    wandb = pytest.importorskip("wandb")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_DIR", "WANDB_ARTIFACT_DIR"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
    monkeypatch.setenv("WANDB_SILENT", "true")

    def api(base_url: str) -> Any:
        from wandb.sdk.artifacts.artifact_instance_cache import artifact_instance_cache

        artifact_instance_cache.clear()
        return wandb.Api(api_key=DEFAULT_API_KEY, overrides={"base_url": base_url})

    yield api
    wandb.teardown()


@pytest.mark.timeout(180)
def test_upload_cut_by_sigkill_leaves_no_orphan_and_no_pending_version(
    start: Any, tmp_path: Path, sdk_api: Callable[[str], Any]
) -> None:
    state = tmp_path / "state"
    blobs = state / "blobs"
    first = start("--data-dir", str(state))
    kept = {"kept.txt": b"committed before the crash\n"}
    log_artifact(first.remote, "demo", "proj", "kept", kept)
    files = {"a.bin": os.urandom(64 * 1024), "b.bin": os.urandom(4 << 20)}
    upload = begin_upload(first.remote, "demo", "proj", "cut", files)
    upload.put("a.bin")
    cut = raw_request(upload.slots["b.bin"]["uploadUrl"], "PUT", {"Content-Length": str(len(files["b.bin"]))},
                      files["b.bin"][: 1 << 20])
    with cut:
        wait_for(lambda: any(p.stat().st_size > 0 for p in temp_files(blobs)), "the upload to reach the disk")
        first.proc.kill()
        first.proc.wait(timeout=TIMEOUT)
    assert temp_files(blobs), "the killed server left its half-written upload behind (the case under test)"

    second = start("--data-dir", str(state))
    assert temp_files(blobs) == []
    assert data(gql(second.remote, STATE, {"id": upload.artifact_id}))["artifact"] is None  # not PENDING
    rerun = log_artifact(second.remote, "demo", "proj", "cut", files)  # the same upload again completes
    assert rerun != upload.artifact_id

    api = sdk_api(second.remote.base_url)
    artifact = api.artifact("demo/proj/cut:latest")
    assert (artifact.state, artifact.version) == ("COMMITTED", "v1")
    root = Path(artifact.download(root=str(tmp_path / "cut")))
    assert {name: (root / name).read_bytes() for name in files} == files
    old = api.artifact("demo/proj/kept:v0")  # committed before the crash: untouched
    assert (Path(old.download(root=str(tmp_path / "kept"))) / "kept.txt").read_bytes() == kept["kept.txt"]
    code, _, stderr = second.stop()
    assert code == 0
    assert "unfinished upload" in stderr and "now DELETED" in stderr


def test_restart_removes_unreferenced_blobs_only(start: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    blobs = state / "blobs"
    first = start("--data-dir", str(state))
    files = {"kept.txt": b"in the manifest\n", "extra.bin": b"declared and uploaded, left out of the manifest\n"}
    upload = begin_upload(first.remote, "demo", "proj", "ds", files, listed=["kept.txt"])
    upload.put("kept.txt")
    upload.put("extra.bin")
    replaced = b'{"version": 1, "contents": {}, "note": "a first manifest, replaced"}'
    upload.put_manifest(replaced)
    upload.put_manifest()
    upload.commit()
    for body in (files["extra.bin"], replaced, files["kept.txt"]):
        assert blob_path(blobs, body).exists()
    # Files that are not blobs of this store: never touched.
    outside = tmp_path / "outside.txt"
    outside.write_text("not the server's\n")
    lookalike = blob_path(blobs, b"no record names this")
    lookalike.parent.mkdir(parents=True, exist_ok=True)
    lookalike.symlink_to(outside)
    foreign = [blobs / "README.txt", blobs / "zz" / ("0" * 32), blobs / lookalike.parent.name / "notes.txt"]
    for path in foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("mine\n")
    assert first.stop()[0] == 0

    second = start("--data-dir", str(state))
    assert not blob_path(blobs, files["extra.bin"]).exists()
    assert not blob_path(blobs, replaced).exists()
    url = file_urls(second.remote, "demo", "proj", "ds", "v0")["kept.txt"]
    assert requests.get(url, timeout=TIMEOUT).content == files["kept.txt"]
    assert lookalike.is_symlink() and outside.read_text() == "not the server's\n"
    assert all(path.read_text() == "mine\n" for path in foreign)
    assert second.stop()[0] == 0


def test_a_second_server_on_the_same_data_dir_is_refused(start: Any, tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    first = start("--data-dir", state)
    assert_refused(run_cli("--data-dir", state), "in use", "--data-dir")
    assert data(gql(first.remote, VIEWER))["viewer"] == {"username": "demo"}  # the first one is unharmed
    assert first.stop()[0] == 0
    second = start("--data-dir", state)  # free again once the first has stopped
    assert second.stop()[0] == 0


def test_lock_file_symlinked_out_of_the_data_dir_is_not_followed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("the user's\n")
    (state / "server.lock").symlink_to(outside)
    assert_refused(run_cli("--data-dir", str(state)), "cannot lock the data dir")
    assert outside.read_text() == "the user's\n"


def test_abandoned_pending_version_expires_after_the_ttl_but_not_while_uploading() -> None:
    with LocalWandbServer(ServerConfig(pending_ttl_seconds=1.0)) as server:
        idle = begin_upload(server, "demo", "p", "idle", {"a.txt": b"never uploaded"}, client_id="client-1")
        big = os.urandom(1 << 20)
        busy = begin_upload(server, "demo", "p", "busy", {"big.bin": big})
        half = len(big) // 2
        sock = raw_request(busy.slots["big.bin"]["uploadUrl"], "PUT", {"Content-Length": str(len(big))}, big[:half])
        with sock:
            assert data(gql(server, STATE, {"id": idle.artifact_id}))["artifact"]["state"] == "PENDING"
            time.sleep(1.6)
            assert data(gql(server, STATE, {"id": idle.artifact_id}))["artifact"] is None
            assert data(gql(server, STATE, {"id": busy.artifact_id}))["artifact"]["state"] == "PENDING"
            sock.sendall(big[half:])
            assert read_status(sock) == 200
        busy.put_manifest()
        busy.commit()
        # The client runs the dropped upload again with the same client ID, and retries that request
        # once: one new version, which commits.
        again = begin_upload(server, "demo", "p", "idle", {"a.txt": b"never uploaded"}, client_id="client-1")
        retried = begin_upload(server, "demo", "p", "idle", {"a.txt": b"never uploaded"}, client_id="client-1")
        assert again.artifact_id == retried.artifact_id != idle.artifact_id
        again.put("a.txt")
        again.put_manifest()
        again.commit()
        assert data(gql(server, STATE, {"id": again.artifact_id}))["artifact"] == {"state": "COMMITTED",
                                                                                   "versionIndex": 1}


def test_python_api_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="--max-upload-bytes"):
        LocalWandbServer(ServerConfig(max_upload_bytes=0))
    with pytest.raises(ValueError, match="--pending-ttl"):
        LocalWandbServer(ServerConfig(pending_ttl_seconds=float("nan")))


LARGE = "query Large($entity: String!, $project: String!, $name: String!) { project(name: $project, " \
        "entityName: $entity) { artifact(name: $name) { id digest } } }"


def test_a_tiny_query_answers_while_a_large_one_is_still_executing() -> None:
    """No head-of-line blocking: a ``hold`` fault keeps the large query executing; the tiny one is
    answered meanwhile, and the large one completes once released."""
    import concurrent.futures

    with LocalWandbServer(ServerConfig()) as server:
        server.seed_artifact("big", {"a.txt": "a"})
        server.set_faults([{"route": "graphql", "kind": "hold", "path": "#Large", "seconds": 60}])
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            large = pool.submit(gql, server, LARGE, {"entity": "demo", "project": "test-project", "name": "big:v0"})
            assert server.wait_held(1, timeout=TIMEOUT)
            tiny = pool.submit(gql, server, VIEWER)
            try:
                answer = tiny.result(timeout=TIMEOUT)  # a bound for a failing run only; it answers at once
                assert answer.status_code == 200 and answer.json()["data"]["viewer"]["username"]
                assert not large.done()  # still held: the tiny query did not wait for it
            finally:
                server.release_held()
            done = large.result(timeout=TIMEOUT)
            assert done.status_code == 200 and done.json()["data"]["project"]["artifact"]["digest"]
