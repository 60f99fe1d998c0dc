"""One function per command: ``cmd_<name>(client, args) -> exit code``. Results on stdout, the rest on stderr."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _exit
from ._parser import PROG
from ._progress import Progress
from ._text import printable

if TYPE_CHECKING:
    from ..client import WandbClient
    from ..client.models import ArtifactVersion, VerifyReport


class UsageError(Exception):
    """An argument the command cannot use (exit 2); raised before any write."""


def _out(text: str) -> None:
    print(printable(text), flush=True)


def _note(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"{PROG}: {printable(text)}", file=sys.stderr, flush=True)


def _json(value: Any) -> None:
    _out(json.dumps(value, indent=2, sort_keys=True, default=str))


def _size(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{nbytes} B"  # pragma: no cover


# --- get ----------------------------------------------------------------------------------------


def cmd_get(client: WandbClient, args: argparse.Namespace) -> int:
    from ..client.errors import ArtifactNotFoundError

    version = client.artifact(args.artifact)
    if args.type is not None and version.type != args.type:
        raise ArtifactNotFoundError(f"{version.qualified_name} is of type {version.type!r}, not {args.type!r}.",
                                    hint="Check --type, or leave it out.")
    root = Path(args.root) if args.root else Path("artifacts") / f"{version.name}:{version.version}"
    with Progress(f"get {version.qualified_name}", enabled=not args.quiet and not args.json) as progress:
        result = client.download(version, root, include=args.include, exclude=args.exclude, mode=args.mode,
                                 verify=args.verify, cache=args.cache, max_workers=args.workers, progress=progress,
                                 progress_interval=progress.interval)
        progress.finish()
    _note(args, f"{version.qualified_name}: {len(result.files)} file(s) in {result.root} "
                f"({_size(result.bytes_downloaded)} downloaded, {_size(result.bytes_from_cache)} from the cache, "
                f"{result.skipped_existing} already there) in {result.seconds:.1f}s")
    if args.json:
        _json({"artifact": version.to_dict(), **result.to_dict()})
    else:
        _out(result.root)
    return _exit.OK


# --- verify -------------------------------------------------------------------------------------


def cmd_verify(client: WandbClient, args: argparse.Namespace) -> int:
    version = client.artifact(args.artifact)
    report = _verify(client, version, args.root, args.include, args.exclude)
    failed = not report.ok or (args.strict and bool(report.unexpected))
    if args.json:
        _json({"artifact": version.qualified_name, "digest": version.digest, "root": report.root,
               "checked": report.checked, "ok": not failed, "missing": list(report.missing),
               "mismatched": list(report.mismatched), "unexpected": list(report.unexpected)})
    else:
        for label, paths in (("missing", report.missing), ("changed", report.mismatched),
                             ("unexpected", report.unexpected)):
            for path in paths:
                _out(f"{label}\t{path}")
    summary = (f"{report.root} against {version.qualified_name}: {report.checked} file(s) checked, "
               f"{len(report.missing)} missing, {len(report.mismatched)} changed, "
               f"{len(report.unexpected)} not in the version")
    if failed:
        print(f"{PROG}: error: {printable(summary)}.", file=sys.stderr, flush=True)
        return _exit.INTEGRITY
    _note(args, f"OK: {summary}.")
    return _exit.OK


def _verify(client: WandbClient, version: ArtifactVersion, root: str, include: list[str] | None,
            exclude: list[str] | None) -> VerifyReport:
    """``client.verify`` on the entries ``include``/``exclude`` select (``get``'s selection rules)."""
    target = Path(root).expanduser().absolute()
    if not target.is_dir():
        from ..client.errors import NotFoundError

        raise NotFoundError(f"verify {version.qualified_name}: {target} is not a folder.",
                            hint="Name the folder the version was downloaded into.")
    return client.verify(version, root, include=include or (), exclude=exclude or ())


# --- versions -----------------------------------------------------------------------------------


def cmd_versions(client: WandbClient, args: argparse.Namespace) -> int:
    if ":" in args.collection:
        raise UsageError(f"{args.collection!r} names a version; 'versions' takes a collection "
                         "([entity/][project/]name).")
    rows: list[ArtifactVersion] = []
    for version in client.versions(args.collection):
        rows.append(version)
        if args.limit is not None and len(rows) >= args.limit:
            break
    if args.json:
        _json([v.to_dict() for v in rows])
        return _exit.OK
    table = [("VERSION", "ALIASES", "DIGEST", "CREATED", "SIZE", "FILES")]
    table += [(v.version, ",".join(v.aliases) or "-", v.digest,
               v.created_at.to_iso8601_string() if v.created_at else "-", _size(v.size), str(v.file_count))
              for v in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        _out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return _exit.OK


# --- log ----------------------------------------------------------------------------------------


def cmd_log(client: WandbClient, args: argparse.Namespace) -> int:
    if not args.paths and not args.references:
        raise UsageError("log needs at least one PATH or --reference.")
    metadata = _metadata(args.metadata)
    with Progress(f"log {args.name}", enabled=not args.quiet and not args.json) as progress:
        version = client.log_artifact(args.name, args.type, args.paths or None, project=args.project,
                                      entity=args.entity, references=args.references or (), metadata=metadata,
                                      description=args.description, aliases=args.aliases, tags=args.tags,
                                      max_workers=args.workers, progress=progress, cancel=args.cancel)
        progress.finish()
    _note(args, f"logged {version.qualified_name} ({version.file_count} file(s), {_size(version.size)}, "
                f"aliases {', '.join(version.aliases) or 'none'})")
    if args.json:
        _json(version.to_dict())
    else:
        _out(version.qualified_name)
    return _exit.OK


def _metadata(value: str | None) -> str | None:
    """``--metadata`` as JSON text (``@FILE`` reads it from a file); the client checks it."""
    if value is None or not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--metadata {value}: cannot read the file ({exc.__class__.__name__}: {exc}).") from None


# --- alias --------------------------------------------------------------------------------------

_CONDITION = re.compile(r"^\s*([^<>=!\s]+)\s*(>=|<=|==|!=|>|<)\s*(.*?)\s*$", re.DOTALL)


def cmd_alias(client: WandbClient, args: argparse.Namespace) -> int:
    if not args.add and not args.remove:
        raise UsageError("alias needs --add or --remove.")
    change = client.update_aliases(args.artifact, add=args.add, remove=args.remove,
                                   only_if_current=_guard(args.only_if_current) if args.only_if_current else None,
                                   require=_gate(args.require) if args.require else None)
    version = change.artifact.qualified_name
    if args.json:
        _json(change.to_dict())
    else:
        for alias in change.added:
            _out(f"added\t{alias}\t{version}\t(was on {change.before.get(alias) or 'no version'})")
        for alias in change.removed:
            _out(f"removed\t{alias}\t{version}")
    if not change.changed:
        _note(args, f"nothing to change: {version} already has the requested aliases.")
    return _exit.OK


def _guard(items: list[str]) -> dict[str, str | None]:
    """``ALIAS=vN`` / ``ALIAS=none`` pairs, as the operator's ``only_if_current`` dict."""
    guard: dict[str, str | None] = {}
    for item in items:
        alias, sep, holder = item.partition("=")
        if not sep or not alias.strip():
            raise UsageError(f"--only-if-current {item!r}: write ALIAS=vN, or ALIAS=none for 'on no version'.")
        if alias.strip() in guard:
            raise UsageError(f"--only-if-current names {alias.strip()!r} twice.")
        guard[alias.strip()] = None if holder.strip().lower() in ("", "none", "null") else holder.strip()
    return guard


def _gate(items: list[str]) -> dict[str, Any]:
    """``KEY>=VALUE`` conditions and JSON gates, merged into the operator's ``require`` dict."""
    gate: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.lstrip().startswith("{"):
            try:
                parsed = json.loads(item)
            except ValueError as exc:
                raise UsageError(f"--require {item!r} is not valid JSON ({exc}).") from None
            if not isinstance(parsed, dict):
                raise UsageError(f"--require {item!r} must be a JSON object.")
            parts = list(parsed.items())
        else:
            match = _CONDITION.match(item)
            if match is None or not match.group(3):
                raise UsageError(f"--require {item!r}: write KEY>=VALUE (operators > >= < <= == !=) or a JSON "
                                 "gate like '{\"eval.acc\": {\">=\": 0.9}}'.")
            parts = [(match.group(1), {match.group(2): match.group(3)})]
        for key, conditions in parts:
            if not isinstance(conditions, dict):
                raise UsageError(f"--require {item!r}: the conditions of {key!r} must be an object like "
                                 "{\">=\": 0.9}.")
            for op, value in conditions.items():
                if op in gate.setdefault(key, {}):
                    raise UsageError(f"--require gives {key} {op} twice.")
                gate[key][op] = value
    return gate


# --- link and lineage ---------------------------------------------------------------------------


def cmd_link(client: WandbClient, args: argparse.Namespace) -> int:
    linked = client.link(args.artifact, args.target, aliases=args.aliases)
    _note(args, f"linked {args.artifact} as {linked.qualified_name} (aliases {', '.join(linked.aliases) or 'none'})")
    if args.json:
        _json(linked.to_dict())
    else:
        _out(linked.qualified_name)
    return _exit.OK


def cmd_lineage(client: WandbClient, args: argparse.Namespace) -> int:
    version = client.artifact(args.artifact)
    lineage = client.lineage(version)
    logged_by, used_by = lineage["logged_by"], lineage["used_by"]
    if args.json:
        _json({"artifact": version.qualified_name, "logged_by": logged_by.to_dict() if logged_by else None,
               "used_by": [run.to_dict() for run in used_by]})
        return _exit.OK
    _out(f"logged_by\t{logged_by.path if logged_by else '-'}")
    for run in used_by:
        _out(f"used_by\t{run.path}")
    return _exit.OK
