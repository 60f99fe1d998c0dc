"""The one transport: deadlines over the whole exchange, cancellation, logged retries, environment
trust, redaction. Servers here are real sockets on loopback: the W&B emulator where it can play the
part, a few-line server (``_tiny_http``) for what it cannot (trickling bodies, TLS, proxies)."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from wandb_provider.client import CancelledError, ServerError, WandbClient, WandbError

from ._tiny_http import answer, self_signed_cert, serve, trickle

VIEWER = json.dumps({"data": {"viewer": {"id": "VXNlcjox", "username": "demo", "entity": "demo", "email": None,
                                         "teams": {"edges": []}}}}).encode()


def test_deadline_bounds_a_trickling_body() -> None:
    with serve(lambda request: trickle(request, VIEWER, every=0.3)) as url:
        client = WandbClient(url, "k" * 40, timeout=2, deadline=3, max_retries=5)
        started = time.monotonic()
        with pytest.raises(ServerError) as info:
            client.viewer()
        elapsed = time.monotonic() - started
    assert elapsed < 5, f"the 3 s deadline was not honoured: {elapsed:.1f}s"
    assert info.value.transient
    assert "deadline" in str(info.value)


def test_closing_the_client_cancels_a_call_in_another_thread() -> None:
    arrived = threading.Event()

    def handle(request: Any) -> None:
        arrived.set()  # the call is under way: the server has its request
        trickle(request, VIEWER, every=0.5)

    with serve(handle) as url:
        client = WandbClient(url, "k" * 40, timeout=30, deadline=120)
        errors: list[BaseException] = []

        def call() -> None:
            try:
                client.viewer()
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=call)
        thread.start()
        assert arrived.wait(30), "the call never reached the server"
        closed_at = time.monotonic()
        client.close()
        thread.join(10)
        stopped_after = time.monotonic() - closed_at
    assert not thread.is_alive()
    assert stopped_after < 2, f"the call went on for {stopped_after:.1f}s after close()"
    assert len(errors) == 1 and isinstance(errors[0], CancelledError), errors


@pytest.mark.wandb_server(seed="demo")
def test_every_retry_is_logged_with_attempt_and_wait(wandb_server, caplog: pytest.LogCaptureFixture) -> None:
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="acme", project="churn",
                         backoff_min=0.01, backoff_max=0.02)
    wandb_server.set_faults([{"route": "graphql", "kind": "status", "status": 503, "times": 2}])
    with caplog.at_level(logging.WARNING, logger="wandb_provider.client"):
        client.artifact("churn-model:production")
    lines = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(lines) == 2, lines
    assert "attempt 1 of 9" in lines[0] and "attempt 2 of 9" in lines[1]
    assert "HTTP 503" in lines[0]


def test_server_down_is_retried_visibly_and_ends_transient(caplog: pytest.LogCaptureFixture) -> None:
    with serve(lambda request: answer(request, 200, VIEWER)) as url:
        pass  # the port is free again: connections are refused
    client = WandbClient(url, "k" * 40, max_retries=2, backoff_min=0.01, backoff_max=0.02)
    with caplog.at_level(logging.WARNING, logger="wandb_provider.client"), pytest.raises(ServerError) as info:
        client.viewer()
    assert info.value.transient
    assert len([r for r in caplog.records if "retrying in" in r.getMessage()]) == 2
    assert "after 3 attempts" in str(info.value)


@pytest.mark.wandb_server(seed="demo")
def test_retry_after_longer_than_the_time_left_fails_at_once(wandb_server) -> None:
    client = WandbClient(wandb_server.base_url, wandb_server.api_key, entity="acme", project="churn", deadline=30)
    wandb_server.set_faults([{"route": "graphql", "kind": "status", "status": 429, "retry_after": 86400}])
    wandb_server.reset_stats()
    started = time.monotonic()
    with pytest.raises(ServerError) as info:
        client.artifact("churn-model:production")
    assert time.monotonic() - started < 5
    assert wandb_server.stats()["graphql"]["total"] == 1
    assert info.value.transient and "86400" in str(info.value)


def test_the_api_key_and_signed_urls_never_reach_messages() -> None:
    key = "secret-" + "s" * 33

    def echo(request) -> None:  # a server that echoes what it got, including a signed URL
        body = json.dumps({"errors": [{"message": f"bad auth {request.headers.get('Authorization')} "
                                                  f"key={key} see https://storage.example/f?X-Sig=abc123"}]})
        answer(request, 400, body.encode())

    with serve(echo) as url:
        client = WandbClient(url, key)
        with pytest.raises(WandbError) as info:
            client.viewer()
    text = str(info.value) + repr(info.value)
    assert key not in text and "abc123" not in text
    assert "storage.example/f" in text


def _system_bundle() -> str:
    import certifi

    return certifi.where()


def _viewer_and_file(request) -> None:
    if request.path.startswith("/graphql"):
        answer(request, 200, VIEWER)
    else:
        answer(request, 200, b"bytes", content_type="application/octet-stream")


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_ca_bundle_from_the_environment_is_trusted_by_every_kind_of_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    cert, key = self_signed_cert(tmp_path)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    with serve(_viewer_and_file, tls=(cert, key)) as url:
        with pytest.raises(WandbError) as info:
            WandbClient(url, "k" * 40).viewer()
        assert "TLS verification" in str(info.value) and not info.value.transient
        other = "SSL_CERT_FILE" if variable == "REQUESTS_CA_BUNDLE" else "REQUESTS_CA_BUNDLE"
        monkeypatch.setenv(other, _system_bundle())  # another store named too: both are trusted
        monkeypatch.setenv(variable, str(cert))
        client = WandbClient(url, "k" * 40)
        assert client.viewer().username == "demo"
        with client._transport.request("GET", f"{url}/file?sig=1", operation="DownloadFile",
                                       authenticated=False, stream=True) as response:
            assert response.status == 200 and response.content == b"bytes"


def test_proxy_from_the_environment_carries_api_calls_and_file_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def proxy(request) -> None:  # a forward proxy only needs to see absolute-form targets here
        seen.append(request.path)
        if "/graphql" in request.path:
            answer(request, 200, VIEWER)
        else:
            answer(request, 200, b"bytes", content_type="application/octet-stream")

    with serve(proxy) as proxy_url:
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        client = WandbClient("http://wandb.invalid", "k" * 40)
        assert client.viewer().username == "demo"
        with client._transport.request("GET", "http://files.invalid/blob?sig=1", operation="DownloadFile",
                                       authenticated=False, stream=True) as response:
            assert response.content == b"bytes"
    assert seen == ["http://wandb.invalid/graphql", "http://files.invalid/blob?sig=1"]


def test_a_proxy_page_instead_of_json_is_a_malformed_answer_not_a_refusal() -> None:
    from wandb_provider.client import InvalidValueError, MalformedResponseError

    page = b"<html>login</html>"
    with serve(lambda request: answer(request, 200, page, content_type="text/html")) as url, \
            pytest.raises(MalformedResponseError) as info:
        WandbClient(url, "k" * 40).viewer()
    assert not isinstance(info.value, InvalidValueError)
    assert info.value.transient


@pytest.mark.parametrize("options", [{"timeout": float("nan")}, {"timeout": float("inf")}, {"deadline": 0},
                                     {"timeout": -1}, {"max_retries": -1}, {"max_retries": 1.5},
                                     {"max_workers": 0}, {"cache_max_bytes": -5}, {"timeout": "60"}])
def test_nonsense_settings_are_refused_before_any_request(options: dict) -> None:
    from wandb_provider.client import InvalidValueError

    with pytest.raises(InvalidValueError) as info:
        WandbClient("http://127.0.0.1:9", "k" * 40, **options)
    assert next(iter(options)) in str(info.value)


@pytest.mark.parametrize("prefix", ["", "/w%20b", "/w b", "/wé"])
def test_every_request_target_reaches_the_server_encoded_once_on_a_kept_connection(prefix: str) -> None:
    """Plain URLs take the transport's direct path (the target sent as it is); others are encoded by
    urllib3 first. Either way the server sees one valid target, the key, and one kept-alive connection."""
    seen: list[tuple[str, str | None, int]] = []

    def handle(request: Any) -> None:
        seen.append((request.path, request.headers.get("Authorization"), request.client_address[1]))
        answer(request, 200, VIEWER)

    with serve(handle) as url:
        client = WandbClient(url + prefix, "k" * 40)
        for _ in range(3):
            assert client.viewer().username == "demo"
        client.close()
    encoded = prefix.replace(" ", "%20").replace("é", "%C3%A9")
    assert [path for path, _, _ in seen] == [f"{encoded}/graphql"] * 3
    assert all(auth and auth.startswith("Basic ") for _, auth, _ in seen)
    assert len({port for _, _, port in seen}) == 1, "each request opened a new connection"


@pytest.mark.parametrize("where", ["refused", "unknown host"])
def test_an_unreachable_host_is_a_transient_server_error_never_an_authentication_error(
        where: str, caplog: pytest.LogCaptureFixture) -> None:
    import socket

    from wandb_provider.client import AuthenticationError

    if where == "refused":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    else:
        url = "http://wandb.unreachable.invalid"
    client = WandbClient(url, "local-" + "1" * 40, max_retries=1, backoff_min=0.01, backoff_max=0.02, deadline=10)
    with caplog.at_level(logging.WARNING, logger="wandb_provider.client.retry"), pytest.raises(ServerError) as info:
        client.viewer()
    assert info.value.transient and not isinstance(info.value, AuthenticationError)
    assert "attempt 1 of 2" in caplog.text  # the retry was logged


def test_storage_downloads_keep_one_connection_and_decode_a_content_coding() -> None:
    """Signed storage URLs take the transport's lean path: one kept-alive connection for every GET,
    a half-read answer never handed to the next request, and a gzip body decoded as before."""
    import gzip

    seen: list[int] = []

    def handle(request: Any) -> None:
        seen.append(request.client_address[1])
        if request.path.startswith("/gz"):
            answer(request, 200, gzip.compress(b"zipped"), content_type="application/octet-stream",
                   headers={"Content-Encoding": "gzip"})
        else:
            answer(request, 200, b"x" * 100_000, content_type="application/octet-stream")

    with serve(handle) as url:
        client = WandbClient(url, "k" * 40)

        def get(address: str) -> Any:
            return client._transport.request("GET", address, operation="DownloadFile", authenticated=False,
                                             stream=True)

        for _ in range(3):
            with get(f"{url}/blob?sig=1") as response:
                assert response.content == b"x" * 100_000
        with get(f"{url}/gz?sig=1") as response:
            assert response.content == b"zipped"
        assert len(set(seen)) == 1, "each request opened a new connection"
        with get(f"{url}/blob?sig=2") as response:
            assert next(response.chunks(10)) == b"x" * 10  # closed half-read: its connection is dropped
        with get(f"{url}/blob?sig=3") as response:
            assert response.content == b"x" * 100_000
        client.close()
    assert len(set(seen)) == 2
