"""Download roots the provider owns only in part: resolution, ledger, lock, and a plan that never
touches what the user put there.

A root keeps one hidden folder, ``.wandb-provider/``, with a ledger of the files the provider placed
(their digests, sizes, inode and times, and the version that placed them) and the lock that
serialises downloads into the root. The ledger is signed (HMAC-SHA256) with a secret of that root
kept outside it, in the provider's state folder (``default_key_dir``): a ledger written by hand,
copied from another root or left without its key claims nothing, and every file in the root is the
user's. Files the ledger does not name, or that changed since they were placed, belong to the user:
a merge never removes or overwrites them, a checkout removes only what the ledger names, and any
clash (a user's file with other bytes, a folder where a file goes, a symbolic link anywhere on the
way) is a ``RootConflictError`` raised before anything changes. Every change is made through folder
descriptors opened without following links, so a link planted inside the root cannot redirect a
write or a removal outside it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._localfs import local_errors, local_file_error
from .errors import InvalidValueError, LocalFileError, RootBusyError, RootConflictError
from .manifest import ManifestEntry, check_entry_path

log = logging.getLogger("wandb_provider.client.download")

LEDGER_DIR = ".wandb-provider"
LEDGER_FILE = "ledger.json"
LOCK_FILE = "lock"
LEDGER_FORMAT = 1
ENV_KEY_DIR = "WANDB_PROVIDER_LEDGER_KEYS_DIR"
_key_warned: set[str] = set()
SHOWN = 5  # how many conflicting entries an error names

DIR, FILE, LINK, OTHER = "folder", "file", "symbolic link", "special file"
Hasher = Callable[[Path, str], str]


# --- the root itself --------------------------------------------------------------------------


def resolve_root(root: object) -> Path:
    """The absolute root folder for ``root``; refuse what cannot be a download root (no writes).

    Refused: an empty value, ``/``, the home folder and its ancestors, and a path that exists but
    is not a folder. ``~`` is expanded; a relative path is taken from the current folder.
    """
    if isinstance(root, bytes) or not isinstance(root, (str, os.PathLike)):
        raise InvalidValueError(f"root must be a folder path (str or os.PathLike), not {type(root).__name__}.",
                                hint="Pass the folder to download into, e.g. '/data/models/churn'.")
    text = os.fspath(root)
    if not isinstance(text, str) or not text.strip():
        raise InvalidValueError("root is empty: refusing to download into the current folder by accident.",
                                hint="Pass the folder to download into, e.g. '/data/models/churn'.")
    if "\x00" in text:
        raise InvalidValueError(f"root {text!r} contains NUL.", hint="Pass a valid folder path.")
    try:
        path = Path(os.path.abspath(os.path.expanduser(text)))
    except OSError as exc:  # a relative root and a current folder that no longer exists
        raise local_file_error(exc, f"resolve the root {text!r} against the current folder") from exc
    real = os.path.realpath(path)
    homes = {os.path.realpath(os.path.expanduser("~"))}
    if os.environ.get("HOME"):
        homes.add(os.path.realpath(os.environ["HOME"]))
    if real == os.path.realpath("/") or any(real == home or _is_under(home, real) for home in homes):
        raise InvalidValueError(
            f"refusing root {text!r} ({real}): it is the filesystem root, a home folder or a folder holding one.",
            hint="Download into a folder of its own, e.g. '/data/models/churn'.",
        )
    try:
        if os.path.lexists(path) and not os.path.isdir(path):
            what = "a broken symbolic link" if not os.path.exists(path) else "a file, not a folder"
            raise LocalFileError(f"root {str(path)!r} is {what}.", path=str(path),
                                 hint="Pass a folder (it is created if missing), or move the file away.")
    except OSError as exc:
        raise local_file_error(exc, "inspect the root", path) from exc
    return path


def _is_under(path: str, folder: str) -> bool:
    return path != folder and os.path.commonpath([path, folder]) == folder


# --- the ledger -------------------------------------------------------------------------------


Signature = tuple[int, int, int, int]


def signature(st: os.stat_result) -> Signature:
    """What changes whenever a file's bytes can have changed (size, mtime, ctime, inode)."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass
class Record:
    """One file the provider placed: the version that placed it and the bytes it had."""

    version: str
    alg: str
    digest: str  # of the bytes placed, in ``alg``
    size: int
    source: str  # the manifest entry's digest (an ETag for http references)
    sig: Signature | None = None

    def to_json(self) -> dict[str, Any]:
        return {"v": self.version, "alg": self.alg, "digest": self.digest, "size": self.size,
                "source": self.source, "sig": list(self.sig) if self.sig else None}

    @classmethod
    def from_json(cls, raw: Any) -> Record | None:
        try:
            sig = raw.get("sig")
            return cls(str(raw["v"]), str(raw["alg"]), str(raw["digest"]), int(raw["size"]), str(raw["source"]),
                       tuple(int(x) for x in sig) if isinstance(sig, list) and len(sig) == 4 else None)  # type: ignore[arg-type]
        except (AttributeError, KeyError, TypeError, ValueError):
            return None


@dataclass
class Ledger:
    """What the provider placed in one root (kept in ``<root>/.wandb-provider/ledger.json``)."""

    found: bool = False
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    files: dict[str, Record] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, folder: Path, key: bytes | None = None) -> Ledger:
        """The ledger in ``folder``; one not signed with ``key`` claims no file (a warning says so)."""
        path = folder / LEDGER_FILE
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise RootConflictError(f"the ledger {str(path)!r} is a symbolic link; the provider did not make it.",
                                        path=str(path), hint="Remove the link.") from None
            raise local_file_error(exc, "read the root's ledger", path) from exc
        try:
            with local_errors("read the root's ledger", path):
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise RootConflictError(f"the ledger {str(path)!r} is not a file; the provider did not make it.",
                                            path=str(path), hint="Move it away.")
                chunks = []
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                data = b"".join(chunks)
        finally:
            os.close(fd)
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != LEDGER_FORMAT:
                raise ValueError("unknown ledger format")
            mac = doc.pop("mac", None)
            if key is None or not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(key, doc)):
                log.warning("The ledger %s is not signed with this root's key (written by hand, copied from another "
                            "root, or its key in the cache folder is gone); every file in the root is treated as the "
                            "user's.", path)
                return cls(found=True)
            ledger = cls(found=True)
            for key, value in (doc.get("versions") or {}).items():
                if isinstance(value, dict):
                    ledger.versions[str(key)] = {str(k): str(v) for k, v in value.items()}
            for rel, raw in (doc.get("files") or {}).items():
                record = Record.from_json(raw)
                if record is not None and _safe_rel(rel):
                    ledger.files[rel] = record
            ledger.dirs = {d for d in doc.get("dirs") or [] if isinstance(d, str) and _safe_rel(d)}
            return ledger
        except (ValueError, AttributeError, TypeError):
            log.warning("The ledger %s is damaged; every file in the root is treated as the user's.", path)
            return cls(found=True)

    def save(self, folder: Path, key: bytes | None = None) -> None:
        used = {record.version for record in self.files.values()}
        doc = {
            "format": LEDGER_FORMAT,
            "note": "Files the airflow-provider-wandb placed in this folder; it removes no other file.",
            "versions": {key: value for key, value in self.versions.items() if key in used},
            "files": {rel: self.files[rel].to_json() for rel in sorted(self.files)},
            "dirs": sorted(self.dirs),
        }
        if key is not None:
            doc["mac"] = _mac(key, doc)
        tmp = folder / f".{LEDGER_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        with local_errors("write the root's ledger", folder / LEDGER_FILE):
            try:
                data = json.dumps(doc, separators=(",", ":")).encode()  # one C-encoded write, not many small ones
                with open(tmp, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, folder / LEDGER_FILE)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()


def _mac(key: bytes, doc: dict[str, Any]) -> str:
    return hmac.new(key, json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(), hashlib.sha256).hexdigest()


def default_key_dir() -> Path:
    """Where each root's ledger key is kept: ``WANDB_PROVIDER_LEDGER_KEYS_DIR``, else the provider's
    state folder (``$XDG_STATE_HOME`` or ``~/.local/state``); never inside a root."""
    configured = os.environ.get(ENV_KEY_DIR)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "airflow-provider-wandb" / "ledger-keys"


def ledger_key(root: Path, key_dir: Path | None) -> bytes | None:
    """The secret that signs ``root``'s ledger: ``<key_dir>/<sha256 of the root's real path>``, made on
    first use (mode 0600). None when it cannot be kept: the ledger is then never trusted."""
    if key_dir is None:
        return None
    folder = Path(key_dir)
    path = folder / hashlib.sha256(os.fsencode(os.path.realpath(root))).hexdigest()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            tmp = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
                try:
                    os.write(fd, secrets.token_bytes(32))
                finally:
                    os.close(fd)
                with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                    os.link(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            secret = os.read(fd, 64)
        finally:
            os.close(fd)
    except OSError as exc:
        if str(folder) not in _key_warned:
            _key_warned.add(str(folder))
            log.warning("Cannot keep the ledger key of %s in %s (%s); its ledger will not be trusted by later "
                        "downloads (set %s to a writable folder).", root, folder, exc.strerror or exc, ENV_KEY_DIR)
        return None
    return secret if len(secret) == 32 else None


def _safe_rel(rel: object) -> bool:
    try:
        check_entry_path(rel)  # type: ignore[arg-type]
    except ValueError:
        return False
    return isinstance(rel, str) and rel.split("/", 1)[0] != LEDGER_DIR


# --- the lock and the session -----------------------------------------------------------------


class RootSession:
    """Create the root and its ledger folder, take the lock, stage inside; undo on failure.

    The staging folder lives in the ledger folder, on the root's own filesystem (a mount point or a
    root under a read-only parent works), so publishing is a rename. If the download fails before
    anything is published, the folders this session created are removed again.
    """

    def __init__(self, root: Path, wait: float, key_dir: Path | None = None) -> None:
        self.root = root
        self.ledger_dir = root / LEDGER_DIR
        self.wait = wait
        self.key_dir = key_dir
        self.key: bytes | None = None  # the ledger's signing key, read once the root exists
        self.created: list[Path] = []
        self.published = False
        self.staging: Path | None = None
        self.stale: list[Path] = []  # staging folders of killed downloads: salvaged, then removed
        self._lock_fd: int | None = None

    def __enter__(self) -> RootSession:
        try:
            with local_errors("create the download root", self.root):
                self._make_dirs(self.root)
            self._make_ledger_dir()
            self._lock()
            self.key = ledger_key(self.root, self.key_dir)
            self._find_stale_staging()
        except BaseException:
            self._cleanup(failed=True)
            raise
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._cleanup(failed=exc_type is not None)

    def _make_dirs(self, path: Path) -> None:
        missing = []
        while not os.path.isdir(path):
            missing.append(path)
            if path.parent == path:
                break
            path = path.parent
        for folder in reversed(missing):
            try:
                os.mkdir(folder)
                self.created.append(folder)
            except FileExistsError:
                if not os.path.isdir(folder):
                    raise

    def _make_ledger_dir(self) -> None:
        with local_errors("create the root's ledger folder", self.ledger_dir):
            try:
                os.mkdir(self.ledger_dir)
                if self.ledger_dir not in self.created:
                    self.created.append(self.ledger_dir)
            except FileExistsError:
                pass
            if not stat.S_ISDIR(os.lstat(self.ledger_dir).st_mode):
                raise RootConflictError(
                    f"{str(self.ledger_dir)!r} is not a folder, but the provider keeps its ledger there.",
                    path=str(self.ledger_dir), hint="Move it away, or choose another root.")

    def _lock(self) -> None:
        path = self.ledger_dir / LOCK_FILE
        deadline = time.monotonic() + self.wait
        delay = 0.02
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            except FileNotFoundError:  # another download removed the empty ledger folder meanwhile
                self._make_ledger_dir()
                continue
            except OSError as exc:
                raise local_file_error(exc, "open the root's lock", path) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise RootBusyError(
                        f"another download is writing into {str(self.root)!r} (its lock {str(path)!r} has been "
                        f"held for over {self.wait:.0f}s).", path=str(self.root),
                        hint="Wait for it to finish (the task can be retried), or download into another root.",
                    ) from None
                time.sleep(delay)
                delay = min(0.25, delay * 2)
                continue
            except OSError as exc:
                os.close(fd)
                raise local_file_error(exc, "lock the root", path) from exc
            try:  # the previous holder may have removed the file after we opened it: lock the current one
                same = os.fstat(fd).st_ino == os.lstat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._lock_fd = fd
                return
            os.close(fd)

    def _unlock(self) -> None:
        if self._lock_fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.ledger_dir / LOCK_FILE)  # while still held: waiters notice and lock the new file
        os.close(self._lock_fd)
        self._lock_fd = None

    def _find_stale_staging(self) -> None:
        """Under the lock no other download is staging: any staging folder is a killed run's. Its
        complete files may be salvaged (``Downloader``); ``drop_stale`` removes the folders."""
        with contextlib.suppress(OSError):
            self.stale = sorted(self.ledger_dir / name for name in os.listdir(self.ledger_dir)
                                if name.startswith("staging-"))

    def drop_stale(self) -> None:
        """Remove the staging folders killed downloads left (only ours: ``staging-*`` in the ledger folder)."""
        for folder in self.stale:
            shutil.rmtree(folder, ignore_errors=True)
        self.stale = []

    def make_staging(self) -> Path:
        with local_errors("create a staging folder in the root", self.ledger_dir):
            self.staging = self.ledger_dir / f"staging-{os.getpid()}-{secrets.token_hex(4)}"
            os.mkdir(self.staging)
        return self.staging

    def _cleanup(self, *, failed: bool) -> None:
        """Remove the staging folder and the lock; then the folders this session made, unless the
        download placed or recorded something (on success the root itself always stays)."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        self.drop_stale()
        self._unlock()
        if self.published:
            return
        undo = self.created if failed else [d for d in self.created if d == self.ledger_dir]
        for folder in reversed(undo):
            with contextlib.suppress(OSError):
                os.rmdir(folder)


# --- looking at the root without following links ----------------------------------------------


class Tree:
    """An ``lstat`` view of the root: never follows a link, looks at each path once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._kinds: dict[str, str | None] = {}
        self._stats: dict[str, os.stat_result] = {}

    def kind(self, rel: str) -> str | None:
        """``DIR``/``FILE``/``LINK``/``OTHER``, or None when absent (or below a non-folder)."""
        if rel in self._kinds:
            return self._kinds[rel]
        for folder in ancestors(rel):  # top down, so no lstat ever passes through a link
            if self._lstat(folder) != DIR:
                self._kinds[rel] = None
                return None
        return self._lstat(rel)

    def _lstat(self, rel: str) -> str | None:
        if rel in self._kinds:
            return self._kinds[rel]
        try:
            st = os.lstat(self.root / rel)
        except (FileNotFoundError, NotADirectoryError):
            self._kinds[rel] = None
            return None
        except OSError as exc:
            raise local_file_error(exc, "inspect the root", self.root / rel) from exc
        self._stats[rel] = st
        kind = self._kinds[rel] = _kind(st.st_mode)
        return kind

    def stat(self, rel: str) -> os.stat_result | None:
        """The ``lstat`` of a regular file at ``rel``, else None."""
        if self.kind(rel) != FILE:
            return None
        if rel not in self._stats:
            with local_errors("inspect the root", self.root / rel):
                self._stats[rel] = os.lstat(self.root / rel)
        return self._stats[rel]

    def walk(self) -> dict[str, str]:
        """Every entry under the root but the ledger folder, by relative path (links not followed)."""
        found: dict[str, str] = {}
        if self.kind_of_root() != DIR:
            return found
        pending = [(str(self.root), "")]
        with local_errors("list the root", self.root):
            while pending:  # a stack, not recursion: a user's tree may be deeper than Python's recursion limit
                folder, prefix = pending.pop()
                with os.scandir(folder) as it:
                    for item in it:
                        if not prefix and item.name == LEDGER_DIR:
                            continue
                        rel = prefix + item.name
                        if item.is_symlink():
                            kind = LINK
                        elif item.is_dir(follow_symlinks=False):
                            kind = DIR
                            pending.append((item.path, rel + "/"))
                        elif item.is_file(follow_symlinks=False):
                            kind = FILE
                        else:
                            kind = OTHER
                        found[rel] = self._kinds[rel] = kind
        return found

    def kind_of_root(self) -> str | None:
        try:
            return _kind(os.stat(self.root).st_mode)
        except FileNotFoundError:
            return None


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return LINK
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISREG(mode):
        return FILE
    return OTHER


def _folders_of(paths: Iterable[str]) -> set[str]:
    """Every folder above any of ``paths`` (each folder visited once, however many paths share it)."""
    folders: set[str] = set()
    for path in paths:
        parent = path.rpartition("/")[0]
        while parent and parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    return folders


def ancestors(rel: str) -> Iterator[str]:
    """``a``, ``a/b`` for ``a/b/c``."""
    parts = rel.split("/")
    for depth in range(1, len(parts)):
        yield "/".join(parts[:depth])


# --- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Which version a download places: its id, its collection (sequence) and its name."""

    key: str
    sequence: str
    name: str
    digest: str


@dataclass
class Plan:
    """What a download will change in the root; made before anything is written."""

    fetch: list[ManifestEntry] = field(default_factory=list)
    clear_first: list[tuple[str, str]] = field(default_factory=list)  # (rel, "unlink"|"rmdir"|"rmtree")
    mkdirs: list[str] = field(default_factory=list)
    remove_after: list[tuple[str, str]] = field(default_factory=list)
    prune_dirs: list[str] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    foreign_left: int = 0
    ledger_existed: bool = False


def _conflict(root: Path, problem: str, items: list[str], hint: str) -> RootConflictError:
    shown = ", ".join(items[:SHOWN]) + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")
    return RootConflictError(f"refusing to download into {str(root)!r}: {problem}: {shown}. Nothing was changed.",
                             path=str(root), hint=hint)


def _top_foreign(rels: Iterable[str], keep_dirs: set[str], kinds: dict[str, str]) -> list[str]:
    """The highest foreign entries (``.git/`` rather than every file in it), sorted."""
    tops = set()
    for rel in rels:
        top = rel
        for folder in ancestors(rel):
            if folder not in keep_dirs:
                top = folder
                break
        tops.add(top + ("/" if kinds.get(top) == DIR else ""))
    return sorted(tops, key=lambda t: (t.count("/"), t))


class Planner:
    """Decides, for one download, what to fetch, replace, remove and refuse."""

    def __init__(self, root: Path, ledger: Ledger, identity: Identity, *, mode: str, remove_foreign: bool,
                 verify: bool, hasher: Hasher) -> None:
        self.root = root
        self.tree = Tree(root)
        self.old = ledger
        self.identity = identity
        self.mode = mode
        self.remove_foreign = remove_foreign
        self.verify = verify
        self.hash = hasher
        self.hashed: set[str] = set()

    def _hash(self, rel: str, alg: str) -> str | None:
        try:
            return self.hash(self.root / rel, alg)
        except OSError:
            return None

    def _owned(self) -> dict[str, Record]:
        """Ledger records whose files are still there with the bytes the provider placed."""
        owned = {}
        for rel, record in self.old.files.items():
            st = self.tree.stat(rel)
            if st is None:
                continue  # gone, or replaced by a folder or link: not ours any more
            if record.sig is not None and signature(st) == record.sig:
                owned[rel] = record
            elif (st.st_size == record.size and (record.sig is None or record.sig[3] == st.st_ino)
                  and self._hash(rel, record.alg) == record.digest):  # the same file (inode), touched since
                record.sig = signature(st)
                self.hashed.add(rel)
                owned[rel] = record
            # else: edited since it was placed, so it is the user's now
        return owned

    def plan(self, wants: list[ManifestEntry], describe: Callable[[ManifestEntry], tuple[str, str]]) -> Plan:
        """``describe(entry)`` gives the (algorithm, digest) its bytes are checked with ("", "" if none)."""
        owned = self._owned()
        checkout = self.mode == "checkout"
        plan = Plan()
        if not checkout:
            self._refuse_mixing(owned)
        wanted = {entry.path for entry in wants}
        wanted_dirs = _folders_of(wanted)
        our_dirs = {d for d in self.old.dirs if self.tree.kind(d) == DIR}
        kinds: dict[str, str] = {}
        removals: dict[str, str] = {}  # rel -> how, for everything a checkout takes away
        if checkout:
            kinds = self.tree.walk()
            holding_foreign = _folders_of(rel for rel, kind in kinds.items() if kind != DIR and rel not in owned)
            foreign = [rel for rel, kind in kinds.items()
                       if rel not in owned and rel not in wanted and rel not in wanted_dirs
                       and not (kind == DIR and (rel in our_dirs or rel not in holding_foreign))]
            for rel in owned:
                if rel not in wanted:
                    removals[rel] = "unlink"
            if foreign:
                if self.remove_foreign:
                    covered: set[str] = set()
                    for rel in foreign:  # walk order: a folder comes before what it holds
                        if rel.rpartition("/")[0] not in covered:
                            removals[rel] = "rmtree" if kinds[rel] == DIR else "unlink"
                        if kinds[rel] == DIR:
                            covered.add(rel)
                elif not self.old.found:
                    raise _conflict(
                        self.root, "it is not empty and holds no ledger of a previous download, so a checkout "
                        "would have to remove entries the provider did not put there",
                        _top_foreign(foreign, wanted_dirs, kinds),
                        "Download into an empty or new folder, use mode='merge', or pass remove_foreign=True to "
                        "let the checkout delete them.",
                    )
                else:
                    plan.foreign_left = len(foreign)
        clashes: list[str] = []
        clear: dict[str, str] = {}
        records: dict[str, Record] = {rel: record for rel, record in owned.items() if rel not in removals}
        for entry in wants:
            self._plan_entry(entry, owned, removals, clear, records, clashes, plan, describe, kinds, our_dirs)
        if clashes:
            raise _conflict(
                self.root, "entries in the way belong to the user (the provider did not place them, or they were "
                "edited since)", clashes,
                "Move them away or choose another root; pass remove_foreign=True to let the download replace them.",
            )
        for gone in clear:
            for rel in [r for r in records if r == gone or r.startswith(gone + "/")]:
                del records[rel]
        plan.clear_first = sorted(clear.items(), key=lambda item: -item[0].count("/"))
        made = {folder for entry in plan.fetch for folder in ancestors(entry.path)
                if self.tree.kind(folder) != DIR or folder in clear}
        plan.mkdirs = sorted(made, key=lambda d: (d.count("/"), d))
        plan.remove_after = sorted(((rel, how) for rel, how in removals.items() if rel not in clear),
                                   key=lambda item: -item[0].count("/"))
        if checkout:
            candidates = set(our_dirs)
            if self.remove_foreign:
                candidates |= {rel for rel, kind in kinds.items() if kind == DIR}
            removed_trees: set[str] = set()
            for rel in kinds:  # walk order: a folder comes before what it holds
                if removals.get(rel) == "rmtree" or rel.rpartition("/")[0] in removed_trees:
                    removed_trees.add(rel)
            plan.prune_dirs = sorted((d for d in candidates if d not in wanted_dirs and d not in clear
                                      and d not in removed_trees), key=lambda d: (-d.count("/"), d))
        ledger = Ledger(found=True, versions=dict(self.old.versions), files=records,
                        dirs=(our_dirs - {rel for rel, _ in plan.clear_first}) | made)
        ledger.versions[self.identity.key] = {"artifact": self.identity.name, "sequence": self.identity.sequence,
                                              "digest": self.identity.digest}
        plan.ledger = ledger
        plan.ledger_existed = self.old.found
        return plan

    def _refuse_mixing(self, owned: dict[str, Record]) -> None:
        """A merge must not leave two versions of one collection mixed in a root."""
        others = sorted(rel for rel, record in owned.items() if record.version != self.identity.key
                        and self.old.versions.get(record.version, {}).get("sequence") == self.identity.sequence)
        if others:
            placed = {self.old.versions[owned[rel].version].get("artifact", "?") for rel in others}
            raise _conflict(
                self.root, f"it holds files of {', '.join(sorted(placed))}, another version of "
                f"{self.identity.sequence}; merging {self.identity.name} would mix two versions", others,
                "Use mode='checkout' to replace that version, or download each version into its own root.",
            )

    def _plan_entry(self, entry: ManifestEntry, owned: dict[str, Record], removals: dict[str, str],
                    clear: dict[str, str], records: dict[str, Record], clashes: list[str], plan: Plan,
                    describe: Callable[[ManifestEntry], tuple[str, str]], kinds: dict[str, str],
                    our_dirs: set[str]) -> None:
        rel = entry.path
        tree = self.tree
        for folder in ancestors(rel):
            kind = tree.kind(folder)
            if kind is None or folder in clear:
                plan.fetch.append(entry)
                return
            if kind == DIR:
                continue
            if folder in removals or self.remove_foreign:
                clear[folder] = "unlink"
                plan.fetch.append(entry)
                return
            clashes.append(f"{folder!r} is a {kind} where the folder for {rel!r} goes")
            return
        kind = tree.kind(rel)
        if kind is None:
            plan.fetch.append(entry)
            return
        if kind == DIR:
            if self.mode == "checkout" and self._removable_dir(rel, kinds, removals, our_dirs):
                for below, how in sorted(removals.items()):
                    if below.startswith(rel + "/"):
                        clear[below] = how
                for folder, folder_kind in kinds.items():
                    if folder.startswith(rel + "/") and folder_kind == DIR:
                        clear[folder] = "rmdir"
                clear[rel] = "rmdir"
            elif self.remove_foreign:
                clear[rel] = "rmtree"
            else:
                clashes.append(f"{rel!r} is a folder where the file {rel!r} goes")
                return
            plan.fetch.append(entry)
            return
        if kind != FILE:
            if self.remove_foreign:
                clear[rel] = "unlink"
                plan.fetch.append(entry)
            else:
                clashes.append(f"{rel!r} is a {kind} where the file {rel!r} goes")
            return
        alg, digest = describe(entry)
        record = owned.get(rel)
        if record is not None:
            if record.source == entry.digest and (entry.size is None or record.size == entry.size):
                if not self.verify or rel in self.hashed or self._hash(rel, record.alg) == record.digest:
                    record.version = self.identity.key
                    records[rel] = record
                    return  # ours and intact: nothing to fetch
                plan.fetch.append(entry)  # ours but damaged (unchanged metadata): fetch it again
                return
            if self.mode == "checkout" or record.version == self.identity.key or self.remove_foreign:
                plan.fetch.append(entry)
                return
            placed = self.old.versions.get(record.version, {}).get("artifact", "another download")
            clashes.append(f"{rel!r} holds other bytes, placed by {placed}")
            return
        st = tree.stat(rel)
        assert st is not None
        if self._foreign_matches(entry, rel, st, alg, digest):
            if self.remove_foreign and digest:
                records[rel] = Record(self.identity.key, alg, digest, st.st_size, entry.digest, signature(st))
            return  # the user's file already holds exactly these bytes
        if self.remove_foreign:
            plan.fetch.append(entry)
            return
        clashes.append(f"{rel!r} is a file the provider did not place (or that was edited since) with other bytes")

    def _foreign_matches(self, entry: ManifestEntry, rel: str, st: os.stat_result, alg: str, digest: str) -> bool:
        if entry.size is not None and st.st_size != entry.size:
            return False
        if not self.verify and entry.size is not None:
            return True  # verify=False trusts a file of the right size
        return bool(digest) and self._hash(rel, alg) == digest

    def _removable_dir(self, rel: str, kinds: dict[str, str], removals: dict[str, str], our_dirs: set[str]) -> bool:
        """A folder a checkout empties entirely (only files it removes, only folders it made)."""
        prefix = rel + "/"
        if rel not in our_dirs:
            return False
        for below, kind in kinds.items():
            if below.startswith(prefix):
                if kind == DIR and below not in our_dirs:
                    return False
                if kind != DIR and below not in removals:
                    return False
        return True


# --- carrying the plan out --------------------------------------------------------------------


class DirFds:
    """Folder descriptors below the root, each opened without following a link."""

    FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fds: dict[str, int] = {"": os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)}

    def get(self, rel_dir: str) -> int:
        fd = self.fds.get(rel_dir)
        if fd is not None:
            return fd
        fd = self.fds[""]
        for folder in [*ancestors(rel_dir), rel_dir]:  # top down, each step without following a link
            known = self.fds.get(folder)
            if known is None:
                known = self.fds[folder] = os.open(folder.rpartition("/")[2], self.FLAGS, dir_fd=fd)
            fd = known
        return fd

    def parent(self, rel: str) -> tuple[int, str]:
        folder, _, name = rel.rpartition("/")
        return self.get(folder), name

    def forget(self, rel_dir: str) -> None:
        for key in [k for k in self.fds if k == rel_dir or k.startswith(rel_dir + "/")]:
            os.close(self.fds.pop(key))

    def close(self) -> None:
        for fd in self.fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()


def apply(plan: Plan, root: Path, staged: dict[str, str], records: dict[str, Record], session: RootSession) -> None:
    """Carry out ``plan``: make way, make folders, move staged files in, remove, prune; then the ledger.

    ``staged`` maps entry paths to verified files in the staging folder; ``records`` their ledger
    records. The ledger is written first with every path about to be placed, so a run killed midway
    still knows what it placed.
    """
    ledger = plan.ledger
    intent = Ledger(found=True, versions=ledger.versions, files={**plan.ledger.files, **records},
                    dirs=ledger.dirs | set(plan.mkdirs))
    if staged or plan.clear_first or plan.remove_after:
        session.published = True
        intent.save(session.ledger_dir, session.key)
    fds = DirFds(root)
    current = "make way in the root"
    try:
        for rel, how in plan.clear_first:
            current = f"remove {rel!r} from the root"
            _remove(fds, rel, how)
        for folder in plan.mkdirs:
            current = f"create folder {folder!r} in the root"
            parent_fd, name = fds.parent(folder)
            os.mkdir(name, 0o777, dir_fd=parent_fd)
        for rel, source in staged.items():
            current = f"place {rel!r} in the root"
            parent_fd, name = fds.parent(rel)
            try:
                os.replace(source, name, dst_dir_fd=parent_fd)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                _copy_in(source, parent_fd, name)  # a folder of the root is another mount: copy, then rename
        for rel, how in plan.remove_after:
            current = f"remove {rel!r} from the root"
            _remove(fds, rel, how)
        for folder in plan.prune_dirs:
            try:
                parent_fd, name = fds.parent(folder)
                fds.forget(folder)
                os.rmdir(name, dir_fd=parent_fd)
                ledger.dirs.discard(folder)
            except OSError:
                pass  # not empty (the user's files), or already gone: keep it
        current = "record the placed files"
        for rel in staged:
            parent_fd, name = fds.parent(rel)
            records[rel].sig = signature(os.stat(name, dir_fd=parent_fd, follow_symlinks=False))
    except OSError as exc:
        raise local_file_error(exc, current, root) from exc
    finally:
        fds.close()
    ledger.files.update(records)
    ledger.dirs |= set(plan.mkdirs)
    if ledger.files or ledger.dirs or session.published or plan.ledger_existed:
        ledger.save(session.ledger_dir, session.key)
        session.published = True


def _copy_in(source: str, parent_fd: int, name: str) -> None:
    """Copy ``source`` next to ``name`` in ``parent_fd``, then rename it into place (atomic there)."""
    from ._localfs import copy_fd

    tmp = f".{name[:200]}.wandb-{secrets.token_hex(4)}.tmp"
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666,
                      dir_fd=parent_fd)
        try:
            copy_fd(src, out)
            os.fchmod(out, stat.S_IMODE(os.fstat(src).st_mode))
        finally:
            os.close(out)
        os.replace(tmp, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=parent_fd)
        raise
    finally:
        os.close(src)
    with contextlib.suppress(OSError):
        os.unlink(source)


def _remove(fds: DirFds, rel: str, how: str) -> None:
    parent_fd, name = fds.parent(rel)
    if how == "unlink":
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=parent_fd)
    elif how == "rmdir":
        fds.forget(rel)
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(name, dir_fd=parent_fd)
    else:
        fds.forget(rel)
        _rmtree_at(parent_fd, name)


def _rmtree_at(parent_fd: int, name: str) -> None:
    """``rm -r`` of the folder ``name`` in ``parent_fd``, never following a link (a stack, not recursion)."""
    stack = [(parent_fd, name, os.open(name, DirFds.FLAGS, dir_fd=parent_fd))]
    try:
        while stack:
            _, _, fd = stack[-1]
            with os.scandir(fd) as it:
                items = [(item.name, item.is_dir(follow_symlinks=False)) for item in it]
            deeper = None
            for child, is_dir in items:
                if is_dir:
                    deeper = child
                else:
                    os.unlink(child, dir_fd=fd)
            if deeper is not None:
                stack.append((fd, deeper, os.open(deeper, DirFds.FLAGS, dir_fd=fd)))
                continue
            above, done, _ = stack.pop()
            os.close(fd)
            os.rmdir(done, dir_fd=above)
    finally:
        for _, _, fd in stack:
            with contextlib.suppress(OSError):
                os.close(fd)
