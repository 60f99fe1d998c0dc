"""Triggers run HTTP in a bounded pool of their own: a hung or trickling W&B host cannot starve the
triggers of other hosts, and a call abandoned at its deadline gives its thread back."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from wandb_provider.triggers._polling import THREADS_PER_HOST
from wandb_provider.triggers.artifacts import ArtifactVersionTrigger

pytestmark = pytest.mark.wandb_server(seed="demo")


class StuckServer:
    """Accepts HTTP requests and never finishes answering: silent (``trickle=False``) or one header
    byte every 0.2 s (``trickle=True``, which defeats per-read timeouts). Once ``heal``ed, the
    connections it accepts from then on are relayed to a healthy server."""

    def __init__(self, *, trickle: bool) -> None:
        self.trickle = trickle
        self.stopped = threading.Event()
        self.healthy: tuple[str, int] | None = None
        self.accepted = threading.Semaphore(0)  # released once per connection accepted
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.sock.settimeout(0.1)
        self.connections: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections.append(conn)
            self.accepted.release()
            target = self._answer if self.healthy is None else self._relay
            thread = threading.Thread(target=target, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            if self.trickle:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.stopped.wait(0.2):
                    conn.sendall(b"X")
            else:
                self.stopped.wait()
        except OSError:
            pass

    def heal(self, base_url: str) -> None:
        """Relay the connections accepted from now on to ``base_url``."""
        parts = urlsplit(base_url)
        assert parts.hostname is not None and parts.port is not None
        self.healthy = (parts.hostname, parts.port)

    def _relay(self, conn: socket.socket) -> None:
        assert self.healthy is not None
        upstream = socket.create_connection(self.healthy)
        self.connections.append(upstream)

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        back = threading.Thread(target=pipe, args=(upstream, conn), daemon=True)
        self.threads.append(back)
        back.start()
        pipe(conn, upstream)

    def close(self) -> None:
        self.stopped.set()
        for conn in self.connections:
            conn.close()
        self.sock.close()
        for thread in self.threads:
            thread.join(timeout=5)


def _stuck(monkeypatch: pytest.MonkeyPatch, *, trickle: bool) -> Iterator[StuckServer]:
    server = StuckServer(trickle=trickle)
    conn = {"conn_type": "wandb", "host": server.base_url, "password": "k" * 40}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_STUCK", json.dumps(conn))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def trickling(monkeypatch: pytest.MonkeyPatch) -> Iterator[StuckServer]:
    yield from _stuck(monkeypatch, trickle=True)


@pytest.fixture
def silent(monkeypatch: pytest.MonkeyPatch) -> Iterator[StuckServer]:
    yield from _stuck(monkeypatch, trickle=False)


async def _first_event(trigger: ArtifactVersionTrigger, started: float) -> tuple[dict[str, Any], float]:
    event = await trigger.run().__anext__()
    return event.payload, time.monotonic() - started


def test_a_trickling_host_does_not_starve_other_triggers(wandb_env: Any, trickling: StuckServer) -> None:
    def stuck(i: int) -> ArtifactVersionTrigger:  # one poll loop each: their calls take every thread of the host
        return ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", wandb_conn_id="wandb_stuck",
                                      poll_interval=0.05 + i / 1000, end_time=time.time() + 4)

    def healthy() -> ArtifactVersionTrigger:
        return ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", poll_interval=0.3,
                                      end_time=time.time() + 60)

    async def main() -> tuple[list[Any], list[Any]]:
        started = time.monotonic()
        stuck_runs = [asyncio.create_task(_first_event(stuck(i), started)) for i in range(3 * THREADS_PER_HOST)]
        # the stuck host's calls are under way (it has accepted a connection: its count, no timer)
        assert await asyncio.to_thread(trickling.accepted.acquire, timeout=30), "the stuck host was never called"
        healthy_runs = [asyncio.create_task(_first_event(healthy(), started)) for _ in range(3)]
        done = await asyncio.wait_for(asyncio.gather(*healthy_runs), timeout=30)
        ended = await asyncio.wait_for(asyncio.gather(*stuck_runs), timeout=30)
        return list(done), list(ended)

    done, ended = asyncio.run(main())
    for payload, seconds in done:
        assert payload["status"] == "success" and payload["version"]["version"] == "v1"
        assert seconds < 10, f"a healthy trigger waited {seconds:.1f}s behind a trickling host"
    for payload, seconds in ended:
        assert payload["status"] == "timeout" and seconds < 10


def test_an_abandoned_call_gives_its_thread_back_by_its_deadline(wandb_env: Any, silent: StuckServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls on a hung host take every thread that host may have (one poll loop per interval, each
    calling at once); once they are abandoned at their deadline, the host, healthy again, is polled
    through the threads they gave back. (Another trigger waits throughout, as in a busy triggerer:
    the pool is the same one all along.)"""
    conn = {"conn_type": "wandb", "host": silent.base_url, "password": wandb_env.api_key}
    monkeypatch.setenv("AIRFLOW_CONN_WANDB_STUCK", json.dumps(conn))

    async def main() -> tuple[list[Any], dict[str, Any], float]:
        started = time.monotonic()
        busy = asyncio.create_task(_first_event(ArtifactVersionTrigger(
            artifact="acme/churn/churn-model:production", newer_than="v9", poll_interval=0.5,
            end_time=time.time() + 60), started))
        stuck = [ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", wandb_conn_id="wandb_stuck",
                                        poll_interval=0.05 + i / 1000, end_time=time.time() + 3)
                 for i in range(THREADS_PER_HOST)]
        waits = [asyncio.create_task(_first_event(t, started)) for t in stuck]
        for _ in range(THREADS_PER_HOST):  # every thread the host may have holds a call that will not end
            assert await asyncio.to_thread(silent.accepted.acquire, timeout=20)
        silent.heal(wandb_env.base_url)
        later = ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", wandb_conn_id="wandb_stuck",
                                       poll_interval=0.5, end_time=time.time() + 20)
        payload, _ = await asyncio.wait_for(_first_event(later, started), timeout=30)
        events = await asyncio.wait_for(asyncio.gather(*waits), timeout=20)
        assert not busy.done()
        busy.cancel()
        await asyncio.gather(busy, return_exceptions=True)
        return [p for p, _ in events], payload, time.monotonic() - started

    ended, payload, seconds = asyncio.run(main())
    assert [p["status"] for p in ended] == ["timeout"] * THREADS_PER_HOST
    assert payload["status"] == "success" and payload["version"]["version"] == "v1"
    assert seconds < 10


@pytest.mark.parametrize(("arguments", "named"), [({"created_after": "yesterday-ish"}, "created_after"),
                                                   ({"newer_than": "latest"}, "newer_than"),
                                                   ({"artifact": "None"}, "artifact")])
def test_bad_arguments_end_the_wait_with_an_error_event(arguments: dict[str, Any], named: str) -> None:
    trigger = ArtifactVersionTrigger(**{"artifact": "acme/churn/churn-model:production", **arguments},
                                     poll_interval=0.05, end_time=time.time() + 10)
    payload, _ = asyncio.run(asyncio.wait_for(_first_event(trigger, time.monotonic()), timeout=10))
    assert payload["status"] == "error" and named in payload["message"]


def test_none_rendered_conditions_mean_no_condition(wandb_env: Any) -> None:
    trigger = ArtifactVersionTrigger(artifact="acme/churn/churn-model:production", created_after="None",
                                     newer_than="", poll_interval=0.05, end_time=time.time() + 10)
    payload, _ = asyncio.run(asyncio.wait_for(_first_event(trigger, time.monotonic()), timeout=10))
    assert payload["status"] == "success" and payload["version"]["version"] == "v1"
