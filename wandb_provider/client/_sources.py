"""What ``log_artifact`` uploads: local files named inside the artifact. Pure filesystem; no network.

``files`` is a path (file or folder), a glob, a list of those, or a mapping ``{name in the artifact:
local path, folder or glob}``. Folders are walked; a symlink inside a folder is followed only when
its target stays inside that folder (anything else is skipped with a warning, so a link can never
pull in ``/etc`` or a neighbour's data). Every name is checked by the rules downloads apply to
manifest paths, so what we log can always be downloaded again.

What ``files`` may reach (README, "Safety"):

* a path that exists is taken literally, even when it holds ``*``, ``?`` or ``[`` (``run[1]/model.bin``,
  ``[draft].csv``); only a path that does not exist is read as a glob, and the files a glob matched
  are logged at INFO, so a pattern never silently stands in for a file;
* the filesystem root, the home folder (or a folder holding it) and system folders (``/etc``,
  ``/usr``, ...) are refused as folders or glob bases (``UnsafePathError``), so ``files="~"`` or
  ``"/**/x"`` cannot sweep up ``.ssh`` or walk the whole disk;
* a walk or glob looks at no more than ``MAX_ENTRIES_LISTED`` entries (``LocalFileError`` beyond);
* each file is listed with its identity (device, inode): the hashing opens it without following a
  link and refuses a file swapped meanwhile, and the upload sends only bytes of that same file.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import InvalidValueError, LocalFileError, UnsafePathError
from .manifest import check_entry_path

log = logging.getLogger("wandb_provider.client.upload")

_GLOB_CHARS = set("*?[")
MAX_ENTRIES_LISTED = 1_000_000  # folder entries one call may look at while walking folders and globs
# Folders never logged whole: what they hold is the system's, not an artifact's.
SYSTEM_FOLDERS = frozenset({"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/opt", "/proc",
                            "/root", "/run", "/sbin", "/srv", "/sys", "/usr", "/var", "/private", "/System",
                            "/Users", "/home"})


@dataclass(frozen=True)
class LocalFile:
    """One file to log: its name in the artifact and where it is read from."""

    name: str
    path: Path  # the file itself, never a link to it: hashing opens it without following links
    size: int = -1  # as listed (-1: unknown); only used to share out the hashing work
    ident: tuple[int, int] | None = None  # (device, inode) as listed; hashing refuses another file


def collect(files: Any) -> list[LocalFile]:
    """Expand ``files`` into named local files, sorted by name; every problem raised before any request."""
    found: dict[str, LocalFile] = {}
    budget = _Budget()
    for name, source in _sources(files):
        for item in _expand(name, source, budget):
            check_name(item.name)
            previous = found.get(item.name)
            if previous is not None and os.path.realpath(previous.path) != os.path.realpath(item.path):
                raise InvalidValueError(
                    f"two files would have the same name {item.name!r} in the artifact: {previous.path} and "
                    f"{item.path}.", hint="Give them different names with a mapping {name: path}.",
                )
            found[item.name] = item
    return [found[name] for name in sorted(found)]


def check_name(name: str) -> str:
    """A name inside an artifact: relative POSIX path, no ``..``, no backslash or NUL, no empty parts."""
    if not isinstance(name, str):
        raise InvalidValueError(f"a name in the artifact must be text, not {type(name).__name__}.")
    try:
        check_entry_path(name)
    except UnsafePathError as exc:
        raise InvalidValueError(f"invalid name {name!r} in the artifact: {exc.message.split(': ', 1)[-1]}",
                                hint="Use a relative path with '/' separators, e.g. 'data/train.csv'.") from None
    parts = name.split("/")
    if any(not char.isprintable() for char in name):
        raise InvalidValueError(f"invalid name {name!r} in the artifact: it contains control or invisible characters.",
                                hint="Rename the file; W&B lists and hashes names line by line.")
    if any(part in ("", ".") for part in parts) or len(name.encode()) > 1024:
        raise InvalidValueError(f"invalid name {name!r} in the artifact: empty or '.' path segments, or too long.",
                                hint="Use a relative path with '/' separators, e.g. 'data/train.csv'.")
    return name


def _sources(files: Any) -> Iterator[tuple[str | None, str]]:
    """``(name or None, source)`` pairs from every accepted shape of ``files`` (typed: one ``str`` is
    one path or glob, never a list literal to parse)."""
    if isinstance(files, Mapping):
        if not files:
            raise InvalidValueError("files is an empty mapping: nothing to log.")
        for name, source in files.items():
            if not isinstance(name, str):
                raise InvalidValueError(f"files: every name must be text, not {name!r}.")
            yield (name.rstrip("/") or None) if name != "/" else None, _source_text(source)
        return
    if isinstance(files, (str, os.PathLike)):
        yield None, _source_text(files)
        return
    if isinstance(files, (list, tuple)):
        if not files:
            raise InvalidValueError("files is an empty list: nothing to log.")
        for item in files:
            yield None, _source_text(item)
        return
    raise InvalidValueError(f"files must be a path, a glob, a list of them or a mapping, not {type(files).__name__}.")


def _source_text(source: Any) -> str:
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str) or not source.strip():
        raise InvalidValueError(f"files: {source!r} is not a path.", hint="Give a local path, folder or glob.")
    return source


class _Budget:
    """How many folder entries one ``collect`` may still look at (``MAX_ENTRIES_LISTED``)."""

    def __init__(self) -> None:
        self.left = MAX_ENTRIES_LISTED

    def spend(self, count: int, where: str) -> None:
        self.left -= count
        if self.left < 0:
            raise LocalFileError(
                f"files: listing {where!r} looked at more than {MAX_ENTRIES_LISTED} folder entries; refusing to "
                "walk further.", path=where,
                hint="Name the folder or files to log more narrowly (a glob rooted deeper, or a list of paths).")

    def scandir(self, folder: Path | str) -> list[os.DirEntry[str]]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise LocalFileError(f"files: cannot list {str(folder)!r} ({exc.strerror or exc}).",
                                 path=str(folder)) from None
        self.spend(len(entries), str(folder))
        return entries


def _homes() -> set[str]:
    homes = {os.path.realpath(os.path.expanduser("~"))}
    if os.environ.get("HOME"):
        homes.add(os.path.realpath(os.environ["HOME"]))
    return homes


def refuse_far_reach(source: str, folder: str, what: str = "folder") -> None:
    """``UnsafePathError`` when ``folder`` is the filesystem root, a system folder, a home folder or a
    folder holding one: logging it would sweep up keys, credentials and the whole disk."""
    real = os.path.realpath(folder)
    holds_home = any(real == home or os.path.commonpath([home, real]) == real for home in _homes())
    if real in SYSTEM_FOLDERS or holds_home:
        raise UnsafePathError(
            f"files: refusing {source!r}: its {what} {real!r} is the filesystem root, a system folder, a home "
            "folder or a folder holding one, and would log whatever it holds (keys, credentials, the whole disk).",
            hint="Name the folder or files to log, e.g. files='/data/run-7/model' or files='out/*.csv'.")


def _expand(name: str | None, source: str, budget: _Budget) -> Iterator[LocalFile]:
    source = os.path.expanduser(source)
    if _GLOB_CHARS & set(source) and not os.path.lexists(source):
        yield from _expand_glob(name, source, budget)
        return
    path = Path(source)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise LocalFileError(f"files: {source!r} does not exist.", path=source,
                             hint="Check the path; relative paths start at the worker's current directory.") from None
    except OSError as exc:
        raise LocalFileError(f"files: cannot read {source!r} ({exc.strerror or exc}).", path=source) from None
    if stat.S_ISDIR(info.st_mode):
        refuse_far_reach(source, source)
        yield from _walk(path, name, budget)
    elif stat.S_ISREG(info.st_mode):
        yield LocalFile(name or path.name, _unlinked(path), info.st_size, (info.st_dev, info.st_ino))
    else:
        raise LocalFileError(f"files: {source!r} is not a regular file or folder.", path=source)


def _expand_glob(name: str | None, source: str, budget: _Budget) -> Iterator[LocalFile]:
    """The files a pattern matches below its base (the folder before its first wildcard)."""
    base, segments = _glob_base(source)
    refuse_far_reach(source, base, "glob's base folder")
    matches = sorted(_match(base, segments, budget))
    if not matches:
        raise LocalFileError(f"files: {source!r} does not exist, and as a pattern it matches no file.", path=source,
                             hint="Check the path or pattern and the working directory.")
    log.info("files: the pattern %r matched %d path(s): %s", source, len(matches),
             ", ".join(matches[:10]) + (", ..." if len(matches) > 10 else ""))
    real_base = os.path.realpath(base)
    for match in matches:
        if os.path.commonpath([real_base, os.path.realpath(match)]) != real_base:
            log.warning("skipping %s: a symlink that leads outside %s", match, base)
            continue
        relative = os.path.relpath(match, base).replace(os.sep, "/")
        inner = relative if name is None else f"{name}/{relative}"
        if os.path.isdir(match):
            yield from _walk(Path(match), inner, budget)
        elif (item := _regular(Path(match), inner)) is not None:
            yield item


def _match(folder: str, segments: list[str], budget: _Budget) -> set[str]:
    """Paths below ``folder`` matching ``segments`` (``*``, ``?``, ``[...]`` within a name; ``**`` any
    number of folders). As ``glob``: hidden names only match a segment starting with ``.``; ``**``
    does not descend into linked folders. Every folder listed is counted against ``budget``."""
    if not segments:
        return {folder}
    head, rest = segments[0], segments[1:]
    found: set[str] = set()
    if head == "**":
        found |= _match(folder, rest, budget) if rest else set()
        for entry in budget.scandir(folder):
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            if not rest:
                found.add(entry.path)
            found |= _match(entry.path, segments, budget)
        return found
    if not (_GLOB_CHARS & set(head)):
        child = os.path.join(folder, head)
        return _match(child, rest, budget) if os.path.lexists(child) else set()
    if not os.path.isdir(folder):
        return set()
    for entry in budget.scandir(folder):
        if entry.name.startswith(".") and not head.startswith("."):
            continue
        if fnmatch.fnmatchcase(entry.name, head):
            found |= _match(entry.path, rest, budget) if rest else {entry.path}
    return found


def _glob_base(pattern: str) -> tuple[str, list[str]]:
    """The folder part of a pattern before its first wildcard (names are relative to it), and the rest."""
    parts = Path(pattern).parts
    kept: list[str] = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        kept.append(part)
    return (os.path.join(*kept) if kept else "."), list(parts[len(kept):])


def _walk(root: Path, prefix: str | None, budget: _Budget | None = None) -> Iterator[LocalFile]:
    """Every regular file under ``root``; symlinks only when they resolve inside ``root``."""
    budget = budget or _Budget()
    real_root = os.path.realpath(root)
    seen_dirs = {real_root}
    stack = [(root, "")]
    while stack:
        folder, relative = stack.pop()
        for entry in budget.scandir(folder):
            path = Path(entry.path)
            inner = f"{relative}{entry.name}"
            if entry.is_symlink():
                target = os.path.realpath(path)
                if os.path.commonpath([real_root, target]) != real_root or not os.path.exists(target):
                    log.warning("skipping %s: a symlink that leads outside %s (or nowhere)", path, root)
                    continue
                if os.path.isdir(target):
                    if target in seen_dirs:
                        continue  # a loop, or a folder already walked through another link
                    seen_dirs.add(target)
                    stack.append((path, inner + "/"))
                    continue
            elif entry.is_dir(follow_symlinks=False):
                seen_dirs.add(os.path.realpath(path))
                stack.append((path, inner + "/"))
                continue
            if (item := _regular(path, inner if prefix is None else str(PurePosixPath(prefix, inner)))) is not None:
                yield item
            else:
                log.warning("skipping %s: not a regular file", path)


def _regular(path: Path, name: str) -> LocalFile | None:
    """A regular file (a link resolved to the file it names, and that file's identity); None otherwise."""
    try:
        info = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return LocalFile(name, _unlinked(path), info.st_size, (info.st_dev, info.st_ino))


def _unlinked(path: Path) -> Path:
    """The file a link names (links were judged when listed), so hashing can refuse links."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path
