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
               "mismatched": list(report.mismatched), "unexpected": list(report.unexpected),
               "unverifiable": list(report.unverifiable)})
    else:
        for label, paths in (("missing", report.missing), ("changed", report.mismatched),
                             ("unexpected", report.unexpected), ("unverifiable", report.unverifiable)):
            for path in paths:
                _out(f"{label}\t{path}")
    summary = (f"{report.root} against {version.qualified_name}: {report.checked} file(s) checked, "
               f"{len(report.missing)} missing, {len(report.mismatched)} changed, "
               f"{len(report.unexpected)} not in the version"
               + (f", {len(report.unverifiable)} reference(s) no recorded checksum can verify"
                  if report.unverifiable else ""))
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
    columns = [c.strip() for c in (args.columns or "").split(",") if c.strip()]
    if args.json:
        _json([{**v.to_dict(), **({"columns": {c: _column(v, c) for c in columns}} if columns else {})}
               for v in rows])
        return _exit.OK
    table = [("VERSION", "ALIASES", "DIGEST", "CREATED", "SIZE", "FILES", *(c.upper() for c in columns))]
    table += [(v.version, ",".join(v.aliases) or "-", v.digest,
               v.created_at.isoformat() if v.created_at else "-", _size(v.size), str(v.file_count),
               *(_cell(_column(v, c)) for c in columns))
              for v in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        _out("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return _exit.OK


def _column(version: ArtifactVersion, key: str) -> Any:
    from ..client.conditions import MISSING, lookup

    value = lookup(version.metadata, key)
    return None if value is MISSING else value


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


# --- log ----------------------------------------------------------------------------------------


def cmd_log(client: WandbClient, args: argparse.Namespace) -> int:
    if not args.paths and not args.references:
        raise UsageError("log needs at least one PATH or --reference.")
    metadata = _metadata(args.metadata)
    with Progress(f"log {args.name}", enabled=not args.quiet and not args.json) as progress:
        version = client.log_artifact(args.name, args.type, args.paths or None, project=args.project,
                                      entity=args.entity, references=args.references or (), metadata=metadata,
                                      description=args.description, aliases=args.aliases, tags=args.tags,
                                      max_workers=args.workers, progress=progress, cancel=args.cancel,
                                      digest_algorithm=args.digest_algorithm)
        progress.finish()
    _note(args, f"logged {version.qualified_name} ({version.file_count} file(s), {_size(version.size)}, "
                f"aliases {', '.join(version.aliases) or 'none'})")
    if args.json:
        _json(version.to_dict())
    else:
        _out(version.qualified_name)
    return _exit.OK


def _metadata(value: str | None) -> dict[str, Any] | None:
    """``--metadata`` read as the JSON object it holds (``@FILE`` reads it from a file); the client
    checks the dict (``client.rules.check_metadata``). Errors say where, never what: a mistaken
    ``@.env`` or a secret pasted inline must not be printed."""
    if value is None:
        return None
    text, where = value, "--metadata"
    if value.startswith("@"):
        where = f"--metadata {value}: the file"
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--metadata {value}: cannot read the file ({exc.__class__.__name__}: "
                             f"{exc.strerror or 'error'}).") from None
        except UnicodeDecodeError:
            raise UsageError(f"--metadata {value}: the file is not UTF-8 text.") from None
    if not text.strip():
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                         "its contents are not shown.") from None
    if not isinstance(parsed, dict):
        raise UsageError(f"{where} must be a JSON object (e.g. '{{\"rows\": 2}}'), not {type(parsed).__name__}.")
    return parsed


# --- alias --------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^([A-Za-z][\w.-]*)\s*([+-])\s*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)$")
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
        if not holder.strip():  # e.g. production=$PROD with PROD unset: fail closed, never "on no version"
            raise UsageError(f"--only-if-current {item!r}: the expected version is empty; write ALIAS=vN, or "
                             "ALIAS=none for 'on no version'.")
        guard[alias.strip()] = None if holder.strip().lower() in ("none", "null") else holder.strip()
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
            value: Any = _scalar(match.group(3))
            relative = _RELATIVE.match(value) if isinstance(value, str) else None
            if relative is not None and match.group(2) in ("<", "<=", ">", ">="):  # accuracy>=production+0.01
                value = {relative.group(1): f"{relative.group(2)}{relative.group(3)}"}
            parts = [(match.group(1), {match.group(2): value})]
        for key, conditions in parts:
            if not isinstance(conditions, dict):
                raise UsageError(f"--require {item!r}: the conditions of {key!r} must be an object like "
                                 "{\">=\": 0.9}.")
            for op, value in conditions.items():
                if op in gate.setdefault(key, {}):
                    raise UsageError(f"--require gives {key} {op} twice.")
                gate[key][op] = value
    return gate


def _scalar(text: str) -> Any:
    """A condition's value as typed: a JSON number, ``true``/``false`` or ``null`` (refused by the
    gate's rules as no value); any other text stays text (``test``, ``007``, ``production+0.01``)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if value is None or isinstance(value, (bool, int, float)) else text


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
    upstream = _upstream(client, logged_by, args.depth - 1, {version.id}) if args.depth > 1 else []
    if args.json:
        _json({"artifact": version.qualified_name, "type": version.type,
               "logged_by": logged_by.to_dict() if logged_by else None,
               "used_by": [run.to_dict() for run in used_by], "upstream": upstream})
        return _exit.OK
    _out(f"artifact\t{version.qualified_name}\t{version.type}")
    _out(f"logged_by\t{logged_by.path if logged_by else '-'}\t{_run_name(logged_by)}")
    for run in used_by:
        _out(f"used_by\t{run.path}\t{_run_name(run)}")
    _print_upstream(upstream, 1)
    return _exit.OK


def _upstream(client: WandbClient, run: Any, hops: int, seen: set[str]) -> list[dict[str, Any]]:
    """The versions ``run`` used and, ``hops`` - 1 more times, the runs that logged those and what they used."""
    if run is None or hops < 1:
        return []
    found = []
    for version in client.run_inputs(run):
        if version.id in seen:  # a cycle or a diamond: each version once
            continue
        seen.add(version.id)
        producer = client.producer(version)
        found.append({"artifact": version.qualified_name, "type": version.type,
                      "logged_by": producer.to_dict() if producer else None,
                      "upstream": _upstream(client, producer, hops - 1, seen)})
    return found


def _print_upstream(items: list[dict[str, Any]], level: int) -> None:
    for item in items:
        producer = item["logged_by"]
        name = "-" if producer is None else " ".join(
            p for p in (producer["display_name"] or producer["run_id"],
                        f"[{producer['job_type']}]" if producer["job_type"] else "", producer["state"] or "") if p)
        _out(f"{'  ' * level}input\t{item['artifact']}\t{item['type']}")
        _out(f"{'  ' * level}  logged_by\t{producer['path'] if producer else '-'}\t{name}")
        _print_upstream(item["upstream"], level + 1)


def _run_name(run: Any) -> str:
    if run is None:
        return "-"
    return " ".join(part for part in (run.display_name or run.run_id, f"[{run.job_type}]" if run.job_type else "",
                                      run.state or "") if part)


# --- diff and rollback --------------------------------------------------------------------------


def cmd_diff(client: WandbClient, args: argparse.Namespace) -> int:
    a, b = client.artifact(args.a), client.artifact(args.b)
    files_a = {e.path: e.digest for e in client.manifest(a)}
    files_b = {e.path: e.digest for e in client.manifest(b)}
    flat_a, flat_b = _flatten(a.metadata), _flatten(b.metadata)
    result: dict[str, Any] = {
        "a": a.qualified_name, "b": b.qualified_name,
        "files": {"added": sorted(set(files_b) - set(files_a)), "removed": sorted(set(files_a) - set(files_b)),
                  "changed": sorted(p for p in set(files_a) & set(files_b) if files_a[p] != files_b[p])},
        "metadata": {"added": sorted(set(flat_b) - set(flat_a)), "removed": sorted(set(flat_a) - set(flat_b)),
                     "changed": {k: {"a": flat_a[k], "b": flat_b[k]} for k in sorted(set(flat_a) & set(flat_b))
                                 if flat_a[k] != flat_b[k]}},
    }
    if args.json:
        _json(result)
        return _exit.OK
    _out(f"a\t{a.qualified_name}\t{a.digest}")
    _out(f"b\t{b.qualified_name}\t{b.digest}")
    for kind in ("added", "removed", "changed"):
        for path in result["files"][kind]:
            _out(f"file\t{kind}\t{path}")
    for kind in ("added", "removed"):
        for key in result["metadata"][kind]:
            _out(f"metadata\t{kind}\t{key}")
    for key, values in result["metadata"]["changed"].items():
        _out(f"metadata\tchanged\t{key}\t{_cell(values['a'])} -> {_cell(values['b'])}")
    return _exit.OK


def _flatten(metadata: Any, prefix: str = "") -> dict[str, Any]:
    """``{"eval": {"acc": 1}}`` as ``{"eval.acc": 1}``: a change deep down names its key."""
    if not isinstance(metadata, dict) or not metadata:
        return {prefix: metadata} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in metadata.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def cmd_rollback(client: WandbClient, args: argparse.Namespace) -> int:
    import getpass

    from ..client.promotion import rollback

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    result = rollback(client, args.collection, args.alias, previous_alias=args.previous_alias,
                      actor={"user": user, "tool": "wandb-artifacts rollback"}, only_if_current=args.only_if_current)
    if args.json:
        _json(result)
    else:
        replaced = result["replaced"]
        _out(f"rolled_back\t{args.alias}\t{result['restored']['qualified_name']}\t"
             f"(was on {replaced['version'] if replaced else 'no version'})")
    return _exit.OK
