"""Artifact manifests: entries, digests, W&B's artifact digest and the safe-path check.

A manifest is checked whole when it is parsed (JSON shape, field types, the artifact digest it must
hash to, every entry path), so a damaged or hostile manifest is refused before anything is written.
"""

from __future__ import annotations

import base64
import hashlib
import json
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import ArtifactIntegrityError, UnsafePathError

MANIFEST_HEADER = b"wandb-artifact-manifest-v1\n"
NAME_MAX_BYTES = 255  # the longest file or folder name Linux and macOS filesystems accept
PATH_MAX_BYTES = 4096  # the longest path Linux accepts


def check_entry_path(path: str) -> str:
    """Refuse any entry path that is not a plain relative ``a/b/c`` path.

    Absolute paths (``/x``, or a Windows drive ``C:x``; ``1:2.txt`` is a plain name), ``..``, ``.``,
    empty components (``a//b``, ``dir/``), backslashes, NUL and over-long names are refused: such an
    entry could land outside the root, collide with another entry, or name the root itself.
    """
    problem = _path_problem(path)
    if problem:
        raise UnsafePathError(
            f"refusing manifest entry {path!r}: {problem}.",
            hint="The artifact's manifest is malformed; re-log it with plain relative paths like 'dir/file.txt'.",
        )
    return path


def _path_problem(path: object) -> str | None:
    if not isinstance(path, str):
        return "it is not a string"
    if not path:
        return "it is empty"
    if "\x00" in path:
        return "it contains NUL"
    if "\\" in path:
        return "it contains a backslash"
    if len(path.encode("utf-8", "surrogatepass")) > PATH_MAX_BYTES:
        return f"it is longer than {PATH_MAX_BYTES} bytes"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":" and path[0].isascii() and path[0].isalpha()):
        return "it is absolute, so it could be written outside the download root"
    for part in path.split("/"):
        if part == "":
            return "it has an empty component ('a//b', a trailing '/')"
        if part == "..":
            return "it contains '..', so it could be written outside the download root"
        if part == ".":
            return "it contains a '.' component"
        if len(part.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES:
            return f"its component {part[:40]!r}... is longer than {NAME_MAX_BYTES} bytes"
    return None


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a version: stored bytes (``ref`` None) or a reference."""

    path: str
    digest: str
    size: int | None = None
    ref: str | None = None
    birth_artifact_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def algorithm(self) -> str:
        """``md5`` unless the entry says ``extra.alg == "XXH128"``."""
        return "xxh128" if self.extra.get("alg") == "XXH128" else "md5"

    @property
    def cache_key(self) -> str | None:
        """The download cache's name for a stored entry's bytes: its hex MD5, or ``xxh128-<hex>``
        for an XXH128 entry (kept apart, as the SDK's cache keeps ``obj/md5`` and ``obj/xxh128``)."""
        if self.algorithm == "md5":
            return self.md5_hex
        if self.ref is not None:
            return None
        try:
            raw = base64.b64decode(self.digest, validate=True)
        except ValueError:
            return None
        return f"xxh128-{raw.hex()}" if len(raw) == 16 else None

    @property
    def md5_hex(self) -> str | None:
        """Hex MD5 of a stored MD5 entry (cache key and URL form), else None."""
        if self.ref is not None or self.algorithm != "md5":
            return None
        try:
            raw = base64.b64decode(self.digest, validate=True)
        except ValueError:
            return None
        return raw.hex() if len(raw) == 16 else None


def artifact_digest(entries: Iterable[ManifestEntry], algorithm: str = "md5") -> str:
    """W&B's artifact digest: a hex hash over the header and ``path:digest`` lines sorted by path."""
    if algorithm == "md5":
        hasher: Any = hashlib.md5()
    else:
        from ._hashing import new_hasher

        hasher = new_hasher(algorithm)
    hasher.update(MANIFEST_HEADER)
    for entry in sorted(entries, key=lambda e: e.path):
        hasher.update(f"{entry.path}:{entry.digest}\n".encode())
    return str(hasher.hexdigest()).lower()


def _integrity(message: str) -> ArtifactIntegrityError:
    return ArtifactIntegrityError(
        f"the artifact manifest {message}.",
        hint="The stored manifest is damaged or was altered (or a proxy changed it); nothing was written. "
             "Re-log the artifact if this persists.",
    )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise UnsafePathError(
                f"refusing manifest entry {key!r}: it appears twice in the manifest.",
                hint="The artifact's manifest is malformed; re-log it.",
            )
        doc[key] = value
    return doc


def _entry(path: str, raw: Any) -> ManifestEntry:
    """Build one entry, refusing fields of the wrong type (naming the entry and the field)."""
    if not isinstance(raw, dict):
        raise _integrity(f"entry {path!r} is a {type(raw).__name__}, not an object")
    digest = raw.get("digest")
    if not isinstance(digest, str) or not digest:
        raise _integrity(f"entry {path!r} has no digest (field 'digest' is {digest!r})")
    size = raw.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise _integrity(f"entry {path!r} has size {size!r}, not a whole number of bytes")
    for name in ("ref", "birthArtifactID"):
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise _integrity(f"entry {path!r} has {name} {value!r}, not a string")
    extra = raw.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise _integrity(f"entry {path!r} has extra {extra!r}, not an object")
    return ManifestEntry(path=path, digest=digest, size=size, ref=raw.get("ref"),
                         birth_artifact_id=raw.get("birthArtifactID"), extra=dict(extra or {}))


def check_digest(entries: Iterable[ManifestEntry], expected: str, algorithm: str | None = None) -> None:
    """Raise ``ArtifactIntegrityError`` unless the entries hash to the version's digest.

    ``algorithm`` is ``"md5"`` or ``"xxh128"`` when the version says which; when it is not known
    either is accepted (the digest names no algorithm itself).
    """
    entries = list(entries)
    expected = expected.strip().lower()
    candidates = [algorithm] if algorithm else ["md5", "xxh128"]
    seen = []
    for candidate in candidates:
        actual = artifact_digest(entries, candidate)
        if actual == expected:
            return
        seen.append(actual)
    raise _integrity(f"does not match the version: its entries hash to {seen[0] if seen else '?'}, "
                     f"but the version's digest is {expected}")


@dataclass(frozen=True)
class Manifest:
    entries: dict[str, ManifestEntry]
    storage_layout: str | None = None

    @classmethod
    def from_json(cls, data: bytes | str, *, digest: str | None = None, algorithm: str | None = None) -> Manifest:
        """Parse and check a manifest; with ``digest``, also check it against the version's digest.

        :raises ArtifactIntegrityError: Not JSON, not a version-1 manifest, a field of the wrong type,
            or entries that do not hash to ``digest``.
        :raises UnsafePathError: An entry path that is not a plain relative path, or two entries
            that would land on the same file.
        """
        try:
            doc = json.loads(data, object_pairs_hook=_no_duplicate_keys)
        except UnsafePathError:
            raise
        except (ValueError, TypeError, RecursionError) as exc:
            raise _integrity(f"is not JSON ({type(exc).__name__})") from None
        if not isinstance(doc, dict) or doc.get("version") != 1 or not isinstance(doc.get("contents"), dict):
            raise _integrity("is not a version-1 W&B manifest")
        entries = {path: _entry(path, raw) for path, raw in doc["contents"].items()}
        if digest:
            check_digest(entries.values(), digest, algorithm)
        _check_paths(entries)
        config = doc.get("storagePolicyConfig")
        layout = config.get("storageLayout") if isinstance(config, dict) else None
        return cls(entries=entries, storage_layout=layout if isinstance(layout, str) else None)

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries[path] for path in sorted(self.entries))

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def total_size(self) -> int:
        return sum(entry.size or 0 for entry in self.entries.values())


def _check_paths(entries: dict[str, ManifestEntry]) -> None:
    """Every path safe; no two paths naming one file (Unicode forms), no file that is also a folder."""
    normal: dict[str, str] = {}
    for path in entries:
        check_entry_path(path)
        key = unicodedata.normalize("NFC", path)
        if key in normal:
            raise UnsafePathError(
                f"refusing manifest entry {path!r}: it names the same file as {normal[key]!r}.",
                hint="The artifact's manifest is malformed; re-log it.",
            )
        normal[key] = path
    for key, path in normal.items():
        parts = key.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder in normal:
                raise UnsafePathError(
                    f"refusing manifest entry {normal[folder]!r}: it is a file, but entry {path!r} needs it "
                    "to be a folder.",
                    hint="The artifact's manifest is malformed; re-log it.",
                )
