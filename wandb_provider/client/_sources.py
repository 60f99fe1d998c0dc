"""What ``log_artifact`` uploads: local files named inside the artifact. Pure filesystem; no network.

``files`` is a path (file or folder), a glob, a list of those, or a mapping ``{name in the artifact:
local path, folder or glob}``. Folders are walked; a symlink inside a folder is followed only when
its target stays inside that folder (anything else is skipped with a warning, so a link can never
pull in ``/etc`` or a neighbour's data). Every name is checked by the rules downloads apply to
manifest paths, so what we log can always be downloaded again.
"""

from __future__ import annotations

import glob
import logging
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import BadRequestError, LocalFileError, UnsafePathError
from .manifest import check_entry_path
from .values import as_str_list, looks_like_list, parse_literal

log = logging.getLogger("wandb_provider.client.upload")

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class LocalFile:
    """One file to log: its name in the artifact and where it is read from."""

    name: str
    path: Path
    size: int = -1  # as listed (-1: unknown); only used to share out the hashing work


def collect(files: Any) -> list[LocalFile]:
    """Expand ``files`` into named local files, sorted by name; every problem raised before any request."""
    found: dict[str, LocalFile] = {}
    for name, source in _sources(files):
        for item in _expand(name, source):
            check_name(item.name)
            previous = found.get(item.name)
            if previous is not None and os.path.realpath(previous.path) != os.path.realpath(item.path):
                raise BadRequestError(
                    f"two files would have the same name {item.name!r} in the artifact: {previous.path} and "
                    f"{item.path}.", hint="Give them different names with a mapping {name: path}.",
                )
            found[item.name] = item
    return [found[name] for name in sorted(found)]


def check_name(name: str) -> str:
    """A name inside an artifact: relative POSIX path, no ``..``, no backslash or NUL, no empty parts."""
    if not isinstance(name, str):
        raise BadRequestError(f"a name in the artifact must be text, not {type(name).__name__}.")
    try:
        check_entry_path(name)
    except UnsafePathError as exc:
        raise BadRequestError(f"invalid name {name!r} in the artifact: {exc.message.split(': ', 1)[-1]}",
                              hint="Use a relative path with '/' separators, e.g. 'data/train.csv'.") from None
    parts = name.split("/")
    if any(not char.isprintable() for char in name):
        raise BadRequestError(f"invalid name {name!r} in the artifact: it contains control or invisible characters.",
                              hint="Rename the file; W&B lists and hashes names line by line.")
    if any(part in ("", ".") for part in parts) or len(name.encode()) > 1024:
        raise BadRequestError(f"invalid name {name!r} in the artifact: empty or '.' path segments, or too long.",
                              hint="Use a relative path with '/' separators, e.g. 'data/train.csv'.")
    return name


def _sources(files: Any) -> Iterator[tuple[str | None, str]]:
    """``(name or None, source)`` pairs from every accepted shape of ``files``."""
    if isinstance(files, str) and files.strip().startswith("{") and files.strip().endswith("}"):
        files = parse_literal(files, "files")
    if isinstance(files, Mapping):
        if not files:
            raise BadRequestError("files is an empty mapping: nothing to log.")
        for name, source in files.items():
            if not isinstance(name, str):
                raise BadRequestError(f"files: every name must be text, not {name!r}.")
            yield (name.rstrip("/") or None) if name != "/" else None, _source_text(source)
        return
    if isinstance(files, (str, os.PathLike)):
        if isinstance(files, str) and looks_like_list(files):
            for item in as_str_list(files, "files"):
                yield None, item
            return
        yield None, _source_text(files)
        return
    if isinstance(files, (list, tuple)):
        if not files:
            raise BadRequestError("files is an empty list: nothing to log.")
        for item in files:
            yield None, _source_text(item)
        return
    raise BadRequestError(f"files must be a path, a glob, a list of them or a mapping, not {type(files).__name__}.")


def _source_text(source: Any) -> str:
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if not isinstance(source, str) or not source.strip():
        raise BadRequestError(f"files: {source!r} is not a path.", hint="Give a local path, folder or glob.")
    return source


def _expand(name: str | None, source: str) -> Iterator[LocalFile]:
    source = os.path.expanduser(source)
    if _GLOB_CHARS & set(source):
        matches = sorted(glob.glob(source, recursive=True))
        if not matches:
            raise LocalFileError(f"files: the pattern {source!r} matches no file.", path=source,
                                 hint="Check the pattern and the working directory.")
        base = _glob_base(source)
        real_base = os.path.realpath(base)
        for match in matches:
            if os.path.commonpath([real_base, os.path.realpath(match)]) != real_base:
                log.warning("skipping %s: a symlink that leads outside %s", match, base)
                continue
            relative = os.path.relpath(match, base).replace(os.sep, "/")
            inner = relative if name is None else f"{name}/{relative}"
            if os.path.isdir(match):
                yield from _walk(Path(match), inner)
            elif (size := _regular_size(Path(match))) >= 0:
                yield LocalFile(inner, Path(match), size)
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
        yield from _walk(path, name)
    elif stat.S_ISREG(info.st_mode):
        yield LocalFile(name or path.name, path, info.st_size)
    else:
        raise LocalFileError(f"files: {source!r} is not a regular file or folder.", path=source)


def _glob_base(pattern: str) -> str:
    """The folder part of a pattern before its first wildcard: names are relative to it."""
    parts = Path(pattern).parts
    kept: list[str] = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        kept.append(part)
    return os.path.join(*kept) if kept else "."


def _walk(root: Path, prefix: str | None) -> Iterator[LocalFile]:
    """Every regular file under ``root``; symlinks only when they resolve inside ``root``."""
    real_root = os.path.realpath(root)
    seen_dirs = {real_root}
    stack = [(root, "")]
    while stack:
        folder, relative = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise LocalFileError(f"files: cannot list {str(folder)!r} ({exc.strerror or exc}).",
                                 path=str(folder)) from None
        for entry in entries:
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
            if (size := _regular_size(path)) >= 0:
                yield LocalFile(inner if prefix is None else str(PurePosixPath(prefix, inner)), path, size)
            else:
                log.warning("skipping %s: not a regular file", path)


def _regular_size(path: Path) -> int:
    """The size of a regular file (symlinks followed); -1 for anything else."""
    try:
        info = path.stat()
    except OSError:
        return -1
    return info.st_size if stat.S_ISREG(info.st_mode) else -1
