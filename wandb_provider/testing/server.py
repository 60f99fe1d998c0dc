"""Run the local W&B server in a background thread: the Python API behind the CLI and fixture."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .app import ServerState, create_app
from .config import DEFAULT_API_KEY, ServerConfig, is_loopback_address, is_loopback_host
from .faults import FaultState
from .identity import IdentityFederation
from .pending import PendingReaper
from .profiles import profile_named
from .seed import seed_demo
from .store import SeedFile, Store
from .store._db import Database
from .store.records import User, Version
from .urls import UrlSigner

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, one server per data dir is up to the user
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_FILE = "server.lock"
EXPOSED_WARNING = (
    "listening on {where}, which is not a loopback address: other machines can reach this server. It is "
    "an emulator of W&B for tests and demos, without real security (API keys kept in plain text, no TLS, "
    "no rate limits, no audit); expose it only to networks you trust, or bind 127.0.0.1."
)


class DataDirBusy(OSError):
    """The data folder cannot be locked: another server holds it, or the lock file cannot be made."""


def _lock_data_dir(root: Path) -> IO[str] | None:
    """Hold ``root``'s lock for the life of the server (the OS drops it when the process dies).

    Two servers on one data folder would each take the other's half-written uploads for debris.
    """
    if fcntl is None:
        return None
    try:  # never through a symlink: the lock file is written
        fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise DataDirBusy(f"cannot lock the data dir {root}: {exc.strerror} ({root / LOCK_FILE})") from None
    handle = os.fdopen(fd, "r+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise DataDirBusy(f"the data dir {root} is in use by another wandb-provider-server (pid {holder}); "
                          "stop that server first, or give another --data-dir") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _open_store(config: ServerConfig) -> tuple[Store, Path | None, IO[str] | None]:
    """Open the persistent store in ``data_dir`` (locked), or an in-memory one (blobs in a temp folder)."""
    if config.data_dir:
        root = Path(config.data_dir)
        root.mkdir(parents=True, exist_ok=True)
        lock = _lock_data_dir(root)
        try:
            return Store(str(root / "wandb.sqlite3"), root / "blobs"), None, lock
        except BaseException:
            if lock is not None:
                lock.close()
            raise
    scratch = Path(tempfile.mkdtemp(prefix="wandb-provider-server-"))
    return Store(":memory:", scratch / "blobs"), scratch, None


def _recover(store: Store) -> None:
    """Clear what a killed server left behind in its data folder, before serving anything.

    Half-written uploads (temporary files) are deleted; versions still PENDING are dropped, since
    the process that was receiving their uploads is gone; blobs that no version's file record or
    manifest names (and that predate this start) are deleted. A blob that any version names, in
    any state, is kept.
    """
    started = time.time()
    temp = store.blobs.remove_temp_files()
    with store.db.transaction():
        dropped = store.uploads.expire_pending()
    orphans = store.blobs.remove_unreferenced(store.versions.referenced_blobs(), older_than=started)
    if temp or dropped or orphans:
        log.warning("recovered the data dir: removed %d unfinished upload(s) and %d unreferenced file(s); "
                    "%d version(s) left PENDING by an interrupted upload are now DELETED",
                    len(temp), len(orphans), len(dropped))


def _refuse_default_key(config: ServerConfig, holders: list[str]) -> None:
    if holders:
        raise ValueError(
            f"refusing to listen on {config.host}, which is not a loopback address, while user(s) "
            f"{', '.join(repr(h) for h in holders)} have the well-known default API key (it is in this "
            "project's README, so anyone who can reach the server could use it). Give each an API key of your "
            "own with --user NAME:API_KEY (ServerConfig.users), at least 40 characters of [A-Za-z0-9_-], e.g. "
            "from: python -c \"import secrets; print(secrets.token_hex(24))\"; or bind 127.0.0.1"
        )


def _url_secret(store: Store) -> bytes:
    """The signing secret, kept in the store so URLs handed out stay valid across restarts."""
    with store.db.transaction():
        value = store.db.scalar("SELECT value FROM settings WHERE key = 'url_secret'")
        if value is None:
            value = secrets.token_hex(32)
            store.db.execute("INSERT INTO settings (key, value) VALUES ('url_secret', ?)", (value,))
    return bytes.fromhex(value)


class _Pristine:
    """An in-memory store's state just after start-up (database and seed files), to return to."""

    def __init__(self, store: Store) -> None:
        self._db = Database(":memory:")
        store.db.copy_into(self._db)
        self._blobs = {md5: store.blobs.path(md5).read_bytes() for md5, _ in store.blobs.stored()}

    def restore(self, store: Store) -> None:
        """Put ``store`` back (call while no request is under way): every row as it was, the seed's
        files with their bytes, nothing else stored, no multipart upload open."""
        self._db.copy_into(store.db)
        store.multipart.clear()
        store.blobs.remove_temp_files()
        for md5, _ in list(store.blobs.stored()):
            if md5 not in self._blobs:
                store.blobs.path(md5).unlink()
        for md5, data in self._blobs.items():
            path = store.blobs.path(md5)
            if not path.is_file() or path.read_bytes() != data:  # a test damaged or removed it
                path.parent.mkdir(exist_ok=True)
                path.unlink(missing_ok=True)
                path.write_bytes(data)


class LocalWandbServer:
    """A W&B-compatible artifacts server on loopback, for tests, demos and users' own DAG tests.

    Use as a context manager::

        with LocalWandbServer(ServerConfig(seed="demo")) as server:
            os.environ["WANDB_BASE_URL"] = server.base_url
    """

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.config.check_limits()
        self.profile = profile_named(self.config.profile)  # refused before anything is written
        self.exposed = not is_loopback_host(self.config.host)
        if self.exposed:  # refused before anything is written
            _refuse_default_key(self.config, [u.name for u in self.config.effective_users()
                                              if u.api_key == DEFAULT_API_KEY])
        self.store, self._scratch, self._lock = _open_store(self.config)
        try:
            if self.config.data_dir:
                _recover(self.store)
            self.faults = FaultState()
            self.faults.configure(self.config.faults)
            self.signer = UrlSigner(_url_secret(self.store), self.config.signed_url_seconds)
            self.identity = IdentityFederation(_url_secret(self.store),
                                               lambda name: self.store.accounts.user_by_name(name) is not None)
            self._setup_accounts()
        except BaseException:
            self._close_store()
            raise
        self._server: Any = None
        self._state: ServerState | None = None
        self._thread: threading.Thread | None = None
        self._pristine: _Pristine | None = None if self.config.data_dir else _Pristine(self.store)
        self.base_url = ""

    # --- accounts ---------------------------------------------------------------------------

    def _setup_accounts(self) -> None:
        """Create the configured accounts and seed data, all or nothing."""
        if self.config.seed not in (None, "demo"):
            raise ValueError(f"unknown seed {self.config.seed!r}; the only seed is 'demo'")
        db = self.store.db
        with db.transaction():
            for user in self.config.effective_users():
                self.store.accounts.add_user(user.name, user.api_key)
            for team in self.config.teams:
                self.store.accounts.add_team(team.name, team.members)
            for org in self.config.orgs:
                self.store.accounts.add_organization(org.name, org.team)
            # A --data-dir is seeded once: seeding again on restart would move aliases the user has
            # since changed back to their demo versions.
            if self.config.seed and db.scalar("SELECT value FROM settings WHERE key = 'seeded'") is None:
                seed_demo(self.store, self.username)
                db.execute("INSERT INTO settings (key, value) VALUES ('seeded', ?)", (self.config.seed,))
            if self.exposed:
                # A --data-dir may keep the default user from an earlier run on loopback.
                stale = db.all("SELECT username FROM users WHERE api_key = ? ORDER BY username", (DEFAULT_API_KEY,))
                _refuse_default_key(self.config, [str(row[0]) for row in stale])

    @property
    def username(self) -> str:
        return self.config.effective_users()[0].name

    @property
    def api_key(self) -> str:
        """The first user's API key."""
        return self.config.effective_users()[0].api_key

    @property
    def entity(self) -> str:
        """The first user's personal entity."""
        return self.username

    def identity_token(self, user: str | None = None, *, lifetime: float = 3600.0, **claims: Any) -> str:
        """A JWT of identity federation for ``user`` (default: the server's first user) that this
        server's ``/oidc/token`` exchanges for an access token; ``claims`` override its claims
        (say ``iss``, or ``exp`` in the past) to make one it refuses."""
        return self.identity.mint(self.user(user).username, lifetime=lifetime, **claims)

    def user(self, name: str | None = None) -> User:
        user = self.store.accounts.user_by_name(name or self.username)
        if user is None:
            raise KeyError(f"no user {name!r} on this server")
        return user

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> LocalWandbServer:
        import uvicorn

        bind_host = self.config.host.strip().strip("[]")
        sock = socket.socket(socket.AF_INET6 if ":" in bind_host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((bind_host, self.config.port))
        except OSError as exc:
            sock.close()
            where = f"{self.config.host}:{self.config.port}"
            raise OSError(exc.errno, f"cannot listen on {where}: {exc.strerror}") from exc
        host, port = sock.getsockname()[:2]
        if not self.exposed and not is_loopback_address(host):
            sock.close()  # the name resolved differently at bind time: not what was checked
            raise ValueError(f"{self.config.host} bound to {host}, which is not a loopback address; "
                             "give an IP address with --host")
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{port}"
        if self.exposed:
            log.warning(EXPOSED_WARNING.format(where=f"{self.config.host}:{port}"))
        state = ServerState(
            self.store, self.signer, self.faults, max_body_bytes=self.config.max_body_bytes,
            max_upload_bytes=self.config.max_upload_bytes, pending_ttl_seconds=self.config.pending_ttl_seconds,
            loopback_only=not self.exposed, profile=self.profile,
        )
        state.identity = self.identity
        if not self.config.data_dir:
            state.reset = self.reset
        self._state = state
        uv_config = uvicorn.Config(
            create_app(state), log_level="warning", lifespan="off", access_log=False, proxy_headers=False,
            timeout_keep_alive=30, backlog=2048, timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(uv_config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="wandb-local-server", daemon=True
        )
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the local W&B server did not start on {self.base_url}")
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._close_store()

    def _close_store(self) -> None:
        self.store.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.close()  # releases the data dir
            self._lock = None

    @property
    def running(self) -> bool:
        """Whether the server is serving (started, not stopped)."""
        return self._thread is not None and self._thread.is_alive() and not self._server.should_exit

    def reset(self) -> None:
        """Fresh state at the same address, as just after start-up: the configured accounts and seed,
        fault rules and signed-URL lifetime, zeroed counters, no uploads under way, and only the
        seed's stored files. A fraction of the cost of a stop and a start; ``POST /_admin/reset``
        calls it. Never for a ``data_dir`` server: its data is the user's."""
        if self._pristine is None:
            raise ValueError("a server with a data_dir keeps its data: restart it instead of resetting it")
        self._pristine.restore(self.store)
        if self._state is not None:
            self._state.pending = PendingReaper(self.store, self.config.pending_ttl_seconds)
        self.faults.release()  # what an earlier test left held goes on
        self.faults.configure(self.config.faults)
        self.faults.reset_stats()
        self.signer.ttl_seconds = self.config.signed_url_seconds
        if self.identity is not None:
            self.identity.reset()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server stops, or ``timeout`` seconds pass; True when it has stopped."""
        assert self._thread is not None
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def request_stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    def __enter__(self) -> LocalWandbServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- helpers for tests ------------------------------------------------------------------

    def seed_artifact(
        self,
        name: str,
        files: dict[str, bytes | str | Path | SeedFile],
        *,
        type: str = "dataset",
        project: str = "test-project",
        entity: str | None = None,
        aliases: list[str] | tuple[str, ...] = (),
        metadata: dict[str, Any] | None = None,
        description: str | None = None,
        user: str | None = None,
    ) -> Version:
        """Log a version made of ``files`` directly.

        ``files`` maps artifact paths to bytes, text, a local file, or a ``SeedFile`` (e.g. a reference).
        """
        seeded = []
        for path, content in files.items():
            if isinstance(content, SeedFile):
                seeded.append(content)
                continue
            if isinstance(content, Path):
                content = content.read_bytes()
            elif isinstance(content, str):
                content = content.encode()
            seeded.append(SeedFile(path, content))
        return self.store.seeder.seed_artifact(
            self.user(user), entity or self.entity, project, name, type, seeded,
            aliases=list(aliases), metadata=metadata, description=description,
        )

    def set_faults(self, spec: dict[str, Any] | list[Any] | None) -> None:
        self.faults.configure(spec)

    def wait_held(self, count: int = 1, timeout: float = 30.0) -> bool:
        """Wait until ``count`` GraphQL requests are kept executing by a ``hold`` fault rule."""
        return self.faults.wait_held(count, timeout)

    def release_held(self) -> None:
        """Let every request a ``hold`` fault rule keeps executing go on."""
        self.faults.release()

    def stats(self) -> dict[str, Any]:
        return self.faults.stats()

    def reset_stats(self) -> None:
        self.faults.reset_stats()

    def upload_requests(self) -> list[dict[str, str]]:
        """The headers (lower-case names) and ``path`` of the storage PUTs since the last ``reset_stats``."""
        with self.faults._lock:
            return [dict(item) for item in self.faults.upload_headers]

    def graphql_requests(self) -> list[dict[str, Any]]:
        """Every distinct GraphQL request shape received so far (``recorder.py``)."""
        return self._state.recorder.requests() if self._state is not None else []

