"""Reference entries are data from outside: what they may read and reach, and redirects."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.client._roots_helpers import user_view
from wandb_provider.client import (
    ArtifactIntegrityError,
    ReferenceNotAllowedError,
    UnsupportedReferenceError,
    WandbClient,
)
from wandb_provider.client._references import ReferencePolicy
from wandb_provider.client.manifest import ManifestEntry
from wandb_provider.testing import SeedFile

BODY = b"the real referenced bytes\n"
ETAG = '"real-etag"'


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # http.server's name
        self.hits.append(self.path)
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[str]:
    """A plain HTTP server on loopback: a file, redirects to it, and bad redirects."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{server.server_port}"
    html = b"<html><body>Moved <a href='/file'>here</a></body></html>"
    _Handler.hits = []
    _Handler.routes = {
        "/file": (200, {"ETag": ETAG}, BODY),
        "/redirect": (302, {"Location": "/file"}, html),
        "/redirect-twice": (301, {"Location": f"{base}/redirect"}, html),
        "/loop": (302, {"Location": "/loop"}, html),
        "/to-other-loopback": (302, {"Location": f"http://127.0.0.2:{server.server_port}/file"}, html),
        "/to-metadata": (307, {"Location": "http://169.254.169.254/latest/meta-data/"}, html),
        "/to-file": (302, {"Location": "file:///etc/passwd"}, html),
        "/no-location": (302, {}, html),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()


def _client(server, tmp_path: Path, **options) -> WandbClient:
    return WandbClient(server.base_url, server.api_key, entity="demo", project="p", cache_dir=str(tmp_path / "cache"),
                       backoff_min=0.01, backoff_max=0.05, **options)


def _http_ref(server, name: str, url: str) -> None:
    server.seed_artifact(name, {"h.txt": SeedFile("h.txt", ref=url, digest=ETAG.strip('"'), size=len(BODY),
                                                  extra={"etag": ETAG})}, project="p")


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


# --- http(s) ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/redirect", "/redirect-twice"])
def test_redirects_are_followed_and_the_final_bytes_checked(wandb_server, tmp_path: Path, origin: str,
                                                            path: str) -> None:
    _http_ref(wandb_server, "ref", origin + path)
    client = _client(wandb_server, tmp_path, allowed_reference_hosts=("127.0.0.1",))
    client.download("ref", tmp_path / "out")
    assert (tmp_path / "out" / "h.txt").read_bytes() == BODY  # never the redirect's HTML
    client.download("ref", tmp_path / "out")  # a re-run trusts what it placed, checked by its own MD5
    assert (tmp_path / "out" / "h.txt").read_bytes() == BODY


@pytest.mark.parametrize(("path", "error", "words"), [
    ("/loop", UnsupportedReferenceError, "redirected more than 5 times"),
    ("/to-other-loopback", ReferenceNotAllowedError, "127.0.0.2"),
    ("/to-metadata", ReferenceNotAllowedError, "169.254.169.254"),
    ("/to-file", ReferenceNotAllowedError, "file URL"),
    ("/no-location", UnsupportedReferenceError, "without a Location"),
])
def test_every_redirect_hop_is_checked(wandb_server, tmp_path: Path, origin: str, path: str, error: type,
                                       words: str) -> None:
    _http_ref(wandb_server, "ref", origin + path)
    client = _client(wandb_server, tmp_path, allowed_reference_hosts=("127.0.0.1",))
    with pytest.raises(error, match=words):
        client.download("ref", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_reference_whose_bytes_changed_is_refused(wandb_server, tmp_path: Path, origin: str) -> None:
    wandb_server.seed_artifact("ref", {"h.txt": SeedFile("h.txt", ref=origin + "/redirect", digest="old-etag",
                                                         size=len(BODY), extra={"etag": '"old-etag"'})}, project="p")
    client = _client(wandb_server, tmp_path, allowed_reference_hosts=("127.0.0.0/8",))
    with pytest.raises(ArtifactIntegrityError, match="changed since it was logged"):
        client.download("ref", tmp_path / "out")


def test_loopback_references_are_refused_by_default_without_a_request(wandb_server, tmp_path: Path,
                                                                      origin: str) -> None:
    _http_ref(wandb_server, "ref", origin + "/file?X-Signature=secret")
    with pytest.raises(ReferenceNotAllowedError) as caught:
        _client(wandb_server, tmp_path).download("ref", tmp_path / "out")
    message = str(caught.value)
    assert "'h.txt'" in message and "allowed_reference_hosts" in message and "127.0.0.1" in message
    assert "secret" not in message
    assert _Handler.hits == []
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://127.1.2.3:8080/x", "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://0/",
    "http://0.0.0.0/", "http://[::]/", "http://224.0.0.1/", "http://100.64.0.1/", "http://[fd00::1]/",
    "http://[fe80::1]/", "http://localhost/", "http://LOCALHOST./", "https://user:pw@127.0.0.1/",
    "http://240.0.0.1/", "http://[2002:7f00:1::]/",
])
def test_private_addresses_are_refused(url: str) -> None:
    entry = ManifestEntry("h.txt", "etag", 1, ref=url)
    with pytest.raises(ReferenceNotAllowedError, match="allowed_reference_hosts"):
        ReferencePolicy().check_http(entry, url)


def test_all_resolved_addresses_are_checked_and_allow_lists_apply() -> None:
    names = {"public.example": ["93.184.216.34"], "mixed.example": ["93.184.216.34", "10.0.0.7"],
             "intranet.example": ["10.1.2.3"], "v6.example": ["2606:4700::1111"]}

    def resolver(host: str, port: int) -> list[str]:
        return names.get(host, [host])

    entry = ManifestEntry("h.txt", "etag", 1, ref="x")
    ReferencePolicy(resolver=resolver).check_http(entry, "https://public.example/a")
    ReferencePolicy(resolver=resolver).check_http(entry, "https://v6.example/a")
    ReferencePolicy(resolver=resolver).check_http(entry, "http://93.184.216.34/a")
    for url in ("https://mixed.example/a", "https://intranet.example/a"):
        with pytest.raises(ReferenceNotAllowedError, match="10.0.0.7|10.1.2.3"):
            ReferencePolicy(resolver=resolver).check_http(entry, url)
    for allowed in (("intranet.example",), ("10.0.0.0/8",), ("10.1.2.3",), ("INTRANET.example",)):
        ReferencePolicy(hosts=allowed, resolver=resolver).check_http(entry, "https://intranet.example/a")
    ReferencePolicy(hosts=("::1",)).check_http(entry, "http://[::1]:9000/a")
    with pytest.raises(ReferenceNotAllowedError):
        ReferencePolicy(hosts=("10.0.0.0/8",), resolver=resolver).check_http(entry, "http://127.0.0.1/")


# --- file:// ----------------------------------------------------------------------------------------


def _file_ref(server, name: str, uri: str, data: bytes = b"") -> None:
    server.seed_artifact(name, {"f.txt": SeedFile("f.txt", ref=uri, digest=_md5(data), size=len(data))},
                         project="p")


def test_proc_self_environ_is_never_read_by_default(wandb_server, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "secret-key-0123456789")
    _file_ref(wandb_server, "env", "file:///proc/self/environ")
    for client in (_client(wandb_server, tmp_path), _client(wandb_server, tmp_path,
                                                            allowed_file_reference_roots=(str(tmp_path),))):
        with pytest.raises(ReferenceNotAllowedError, match="allowed_file_reference_roots") as caught:
            client.download("env", tmp_path / "out")
        assert "'f.txt'" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_file_references_outside_the_allowed_folders_are_refused(wandb_server, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"secret")
    (allowed / "link.txt").symlink_to(secret)
    (allowed / "ok.txt").write_bytes(b"ok")
    client = _client(wandb_server, tmp_path, allowed_file_reference_roots=(str(allowed),))
    for name, uri in [("outside", secret.as_uri()), ("link", (allowed / "link.txt").as_uri()),
                      ("dotdot", f"file://{allowed}/../secret.txt"), ("remote", f"file://otherhost{secret}"),
                      ("sibling", f"file://{allowed}-evil/x")]:
        _file_ref(wandb_server, name, uri, b"secret")
        with pytest.raises(ReferenceNotAllowedError, match="allowed_file_reference_roots"):
            client.download(name, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    _file_ref(wandb_server, "ok", (allowed / "ok.txt").as_uri(), b"ok")
    client.download("ok", tmp_path / "out")
    assert user_view(tmp_path / "out") == {"f.txt": b"ok"}


def test_a_fifo_reference_is_refused_without_hanging(wandb_server, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    _file_ref(wandb_server, "fifo", (tmp_path / "pipe").as_uri(), b"x")
    client = _client(wandb_server, tmp_path, allowed_file_reference_roots=(str(tmp_path),))
    with pytest.raises(ReferenceNotAllowedError, match="not a regular file"):
        client.download("fifo", tmp_path / "out")


def test_verify_checks_an_http_reference_by_its_recorded_md5_never_by_size_alone(
        wandb_server, tmp_path: Path, origin: str) -> None:
    _http_ref(wandb_server, "ref", origin + "/file")
    client = _client(wandb_server, tmp_path, allowed_reference_hosts=("127.0.0.1",))
    root = tmp_path / "out"
    client.download("ref", root)
    assert client.verify("ref", root).ok
    placed = root / "h.txt"
    placed.write_bytes(BODY.upper())  # a same-size edit: size and ETag say nothing about it
    report = client.verify("ref", root)
    assert not report.ok and report.mismatched == ("h.txt",)
    copy = tmp_path / "copy"  # a folder the provider did not fill has no record of the bytes it holds
    copy.mkdir()
    (copy / "h.txt").write_bytes(BODY)
    report = client.verify("ref", copy)
    assert not report.ok and report.unverifiable == ("h.txt",) and report.mismatched == ()
    assert client.verify("ref", copy, allow_unverifiable=True).ok


def _rebinding_dns(monkeypatch: pytest.MonkeyPatch, name: str, answers: list[str]) -> list[str]:
    """Make ``name`` resolve to ``answers[0]`` for the provider's address check and to ``answers[1]``
    when the HTTP library resolves it to connect (DNS rebinding: a short TTL and a second answer);
    lookups of other names are left alone. Returns the lookups the connection made of ``name``."""
    import socket
    import sys

    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host == name:
            by_connection = sys._getframe(1).f_globals.get("__name__", "").startswith("urllib3")
            if by_connection:
                asked.append(host)
            return real(answers[1] if by_connection else answers[0], port, *args, **kwargs)
        if host in answers[1:] and host != "127.0.0.1":
            raise socket.gaierror(socket.EAI_NONAME, "unreachable in this test")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_reference_connects_to_the_address_that_was_checked(wandb_server, tmp_path: Path, origin: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    port = origin.rsplit(":", 1)[1]
    _http_ref(wandb_server, "ref", f"http://files.rebind.test:{port}/file")
    client = _client(wandb_server, tmp_path, allowed_reference_hosts=("127.0.0.0/8",), max_retries=1)
    manifest = client.manifest("ref")  # W&B's own requests resolve as usual
    asked = _rebinding_dns(monkeypatch, "files.rebind.test", ["127.0.0.1", "10.9.9.9"])
    client.download("ref", tmp_path / "out")  # checked 127.0.0.1 (allowed), so connected there
    assert (tmp_path / "out" / "h.txt").read_bytes() == BODY and manifest
    assert asked == []  # the connection never asked DNS again


def test_dns_rebinding_never_reaches_an_internal_address(wandb_server, tmp_path: Path, origin: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    port = origin.rsplit(":", 1)[1]
    _http_ref(wandb_server, "ref", f"http://files.rebind.test:{port}/file")
    client = _client(wandb_server, tmp_path, max_retries=1)
    client.manifest("ref")
    _Handler.hits = []
    # public for the check, loopback for a second lookup: the connection must go to the public one
    _rebinding_dns(monkeypatch, "files.rebind.test", ["93.184.216.34", "127.0.0.1"])
    monkeypatch.setattr("socket.create_connection", _refuse_public(monkeypatch))
    with pytest.raises(Exception) as info:
        client.download("ref", tmp_path / "out")
    assert _Handler.hits == []  # the internal server never answered
    assert not (tmp_path / "out" / "h.txt").exists()
    assert "93.184.216.34" in _ATTEMPTED and "127.0.0.1" not in _ATTEMPTED, info.value


_ATTEMPTED: list[str] = []


def _refuse_public(monkeypatch: pytest.MonkeyPatch):
    """urllib3 connects through its own create_connection; record the address each attempt uses."""
    import urllib3.util.connection as connection

    real = connection.create_connection
    _ATTEMPTED.clear()

    def create_connection(address, *args, **kwargs):
        _ATTEMPTED.append(address[0])
        if address[0] == "93.184.216.34":
            raise ConnectionRefusedError(111, "no route in this test")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(connection, "create_connection", create_connection)
    return __import__("socket").create_connection
