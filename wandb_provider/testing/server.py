"""Run the local W&B server in a background thread: the Python API behind the CLI and fixture."""

from __future__ import annotations

import logging
import secrets
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from .app import ServerState, create_app
from .config import ServerConfig
from .faults import FaultState
from .seed import seed_demo
from .store import SeedFile, Store
from .store.records import User, Version
from .urls import UrlSigner

log = logging.getLogger(__name__)


def _open_store(config: ServerConfig) -> tuple[Store, Path | None]:
    """Open the persistent store in ``data_dir``, or an in-memory one (blobs in a temp folder)."""
    if config.data_dir:
        root = Path(config.data_dir)
        root.mkdir(parents=True, exist_ok=True)
        return Store(str(root / "wandb.sqlite3"), root / "blobs"), None
    scratch = Path(tempfile.mkdtemp(prefix="wandb-provider-server-"))
    return Store(":memory:", scratch / "blobs"), scratch


def _url_secret(store: Store) -> bytes:
    """The signing secret, kept in the store so URLs handed out stay valid across restarts."""
    with store.db.transaction():
        value = store.db.scalar("SELECT value FROM settings WHERE key = 'url_secret'")
        if value is None:
            value = secrets.token_hex(32)
            store.db.execute("INSERT INTO settings (key, value) VALUES ('url_secret', ?)", (value,))
    return bytes.fromhex(value)


class LocalWandbServer:
    """A W&B-compatible artifacts server on loopback, for tests, demos and users' own DAG tests.

    Use as a context manager::

        with LocalWandbServer(ServerConfig(seed="demo")) as server:
            os.environ["WANDB_BASE_URL"] = server.base_url
    """

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.store, self._scratch = _open_store(self.config)
        try:
            self.faults = FaultState()
            self.faults.configure(self.config.faults)
            self.signer = UrlSigner(_url_secret(self.store), self.config.signed_url_seconds)
            self._setup_accounts()
        except BaseException:
            self._close_store()
            raise
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # --- accounts ---------------------------------------------------------------------------

    def _setup_accounts(self) -> None:
        """Create the configured accounts and seed data, all or nothing."""
        if self.config.seed not in (None, "demo"):
            raise ValueError(f"unknown seed {self.config.seed!r}; the only seed is 'demo'")
        db = self.store.db
        with db.transaction():
            for user in self.config.effective_users():
                self.store.add_user(user.name, user.api_key)
            for team in self.config.teams:
                self.store.add_team(team.name, team.members)
            for org in self.config.orgs:
                self.store.add_organization(org.name, org.team)
            # A --data-dir is seeded once: seeding again on restart would move aliases the user has
            # since changed back to their demo versions.
            if self.config.seed and db.scalar("SELECT value FROM settings WHERE key = 'seeded'") is None:
                seed_demo(self.store, self.username)
                db.execute("INSERT INTO settings (key, value) VALUES ('seeded', ?)", (self.config.seed,))

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

    def user(self, name: str | None = None) -> User:
        user = self.store.user_by_name(name or self.username)
        if user is None:
            raise KeyError(f"no user {name!r} on this server")
        return user

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> LocalWandbServer:
        import uvicorn

        sock = socket.socket(socket.AF_INET6 if ":" in self.config.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            sock.close()
            where = f"{self.config.host}:{self.config.port}"
            raise OSError(exc.errno, f"cannot listen on {where}: {exc.strerror}") from exc
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{port}"
        state = ServerState(self.store, self.signer, self.faults)
        uv_config = uvicorn.Config(
            create_app(state), log_level="warning", lifespan="off", access_log=False,
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
        return self.store.seed_artifact(
            self.user(user), entity or self.entity, project, name, type, seeded,
            aliases=list(aliases), metadata=metadata, description=description,
        )

    def set_faults(self, spec: dict[str, Any] | list[Any] | None) -> None:
        self.faults.configure(spec)

    def stats(self) -> dict[str, Any]:
        return self.faults.stats()

    def reset_stats(self) -> None:
        self.faults.reset_stats()
