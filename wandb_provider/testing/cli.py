"""``wandb-provider-server``: run the local W&B-compatible server until SIGINT or SIGTERM.

Prints exactly one line on stdout when ready: ``WANDB_BASE_URL=http://HOST:PORT``. Everything
else (the API key to use, warnings, errors) goes to stderr. Bad arguments exit with status 2, and
so does a non-loopback ``--host`` while any user has the well-known default API key.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .config import (
    DEFAULT_API_KEY,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_PENDING_TTL_SECONDS,
    OrgSpec,
    ServerConfig,
    TeamSpec,
    UserSpec,
)
from .errors import EmulatorError

PROG = "wandb-provider-server"
# The SDK refuses keys whose secret (after an optional "<prefix>-") is not >= 40 chars of [\w-]
#; JWTs (a.b.c) are exempt.
_SDK_KEY = re.compile(r"(?:[^-]*-)?[\w-]{40,}|[\w-]+\.[\w-]+\.[\w-]+")
_SIZE = re.compile(r"(\d+)\s*(|b|k|kib|m|mib|g|gib)", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(|s|m|h|d)", re.IGNORECASE)
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Local W&B-compatible artifacts server (an emulator)."
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1); a non-loopback address warns, and needs "
                             "--user: the default user's key is well known")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free port)")
    parser.add_argument("--data-dir", help="keep state here (SQLite + blobs); in memory when omitted")
    parser.add_argument("--user", action="append", default=[], metavar="NAME:API_KEY",
                        help="a user with a personal entity NAME (repeatable); default user 'demo'")
    parser.add_argument("--team", action="append", default=[], metavar="TEAM:USER[:ROLE],...",
                        help="a team entity and its members (roles admin, member, viewer)")
    parser.add_argument("--org", action="append", default=[], metavar="ORG:TEAM",
                        help="an organization owning TEAM; its org entity owns wandb-registry-* projects")
    parser.add_argument("--seed", choices=["demo"], help="load demo data (once per --data-dir)")
    parser.add_argument("--server-profile", metavar="NAME", choices=["latest", "legacy"], default=None,
                        help="which W&B Server to emulate: 'latest' (default) or 'legacy', the oldest W&B Server "
                             "the wandb SDK 0.31 supports (0.70.0: no ARTIFACT_DIGEST_ALGORITHM, no "
                             "ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE); default from "
                             "$WANDB_PROVIDER_SERVER_PROFILE")
    parser.add_argument("--faults", metavar="JSON",
                        help='fault-injection rules, e.g. \'{"seed": 1, "rules": [{"route": "files", '
                             '"kind": "status", "status": 503, "rate": 0.2}]}\'')
    parser.add_argument("--max-body-bytes", metavar="SIZE", default=str(DEFAULT_MAX_BODY_BYTES),
                        help="largest GraphQL or admin request body, in bytes or with KiB/MiB/GiB "
                             "(default 16MiB); larger ones get HTTP 413")
    parser.add_argument("--max-upload-bytes", metavar="SIZE", default=str(DEFAULT_MAX_UPLOAD_BYTES),
                        help="largest upload of one file or manifest (default 5GiB); larger ones get HTTP 413")
    parser.add_argument("--pending-ttl", metavar="DURATION", default=str(DEFAULT_PENDING_TTL_SECONDS),
                        help="a PENDING version whose upload nothing touched for this long (seconds, or with "
                             "s/m/h/d; default 24h) is dropped (state DELETED), as every PENDING version is at "
                             "start-up")
    return parser


def _size(option: str, text: str) -> int:
    match = _SIZE.fullmatch(text.strip())
    value = int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()] if match else 0
    if value <= 0:
        raise ValueError(f"{option} {text!r}: expected a size > 0 in bytes, or with KiB, MiB or GiB (e.g. 16MiB)")
    return value


def _duration(option: str, text: str) -> float:
    match = _DURATION.fullmatch(text.strip())
    value = float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()] if match else 0.0
    if not 0 < value < math.inf:
        raise ValueError(f"{option} {text!r}: expected a duration > 0 in seconds, or with s, m, h or d (e.g. 24h)")
    return value


def _unique_users(users: tuple[UserSpec, ...]) -> tuple[UserSpec, ...]:
    names = [u.name for u in users]
    keys = [u.api_key for u in users]
    for what, values in (("user name", names), ("API key", keys)):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            shown = repeated if what == "user name" else [f"{v[:6]}..." for v in repeated]
            raise ValueError(f"--user: each {what} may be given once, repeated: {', '.join(shown)}")
    return users


def _faults(text: str | None) -> dict[str, object] | None:
    if not text:
        return None
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--faults is not JSON: {exc}") from None
    from .faults import parse_spec  # needs graphql-core (the 'testing' extra); --help does not

    try:
        parse_spec(spec)
    except ValueError as exc:
        raise ValueError(f"--faults: {exc}") from None
    return spec if isinstance(spec, dict) else {"rules": spec or []}


def _profile(name: str | None) -> str:
    from .profiles import PROFILE_ENV, profile_named

    try:
        return profile_named(name).name
    except ValueError as exc:
        raise ValueError(f"${PROFILE_ENV}: {exc}") from None


def parse_config(argv: Sequence[str] | None = None) -> ServerConfig:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if not 0 <= args.port <= 65535:
            raise ValueError(f"--port {args.port}: expected 0-65535 (0 picks a free port)")
        return ServerConfig(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            users=_unique_users(tuple(UserSpec.parse(u) for u in args.user)),
            teams=tuple(TeamSpec.parse(t) for t in args.team),
            orgs=tuple(OrgSpec.parse(o) for o in args.org),
            seed=args.seed,
            faults=_faults(args.faults),
            max_body_bytes=_size("--max-body-bytes", args.max_body_bytes),
            max_upload_bytes=_size("--max-upload-bytes", args.max_upload_bytes),
            pending_ttl_seconds=_duration("--pending-ttl", args.pending_ttl),
            profile=_profile(args.server_profile),
        )
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: error() exits


class _StderrFormatter(logging.Formatter):
    """``wandb-provider-server: warning: ...``, as the command's other messages."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{PROG}: {record.levelname.lower()}: {record.getMessage()}"


def _log_to_stderr() -> None:
    """Show the server's own warnings (exposed address, recovered data dir) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StderrFormatter())
    logger = logging.getLogger(__package__)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_config(argv)
        from .server import LocalWandbServer
    except ImportError as exc:  # the console script is installed with the provider, its dependencies with an extra
        print(f"{PROG}: error: {exc}; the local server needs the provider's 'testing' extra: "
              "pip install 'airflow-provider-wandb[testing]'", file=sys.stderr)
        return 2
    _log_to_stderr()
    for user in config.effective_users():
        if not _SDK_KEY.fullmatch(user.api_key):
            print(f"{PROG}: warning: the API key of user {user.name!r} is shorter than 40 characters of "
                  "[A-Za-z0-9_-]; the wandb SDK will refuse it", file=sys.stderr)
    # Handlers first: a signal during start-up still ends the process cleanly (and prints nothing).
    stop_requested = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server = LocalWandbServer(config).start()
    except EmulatorError as exc:
        print(f"{PROG}: error: {exc.message}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    try:
        if not stop_requested.is_set():
            print(f"WANDB_BASE_URL={server.base_url}", flush=True)
            # A key of one's own is not echoed (logs travel); the well-known default is no secret.
            key = server.api_key if server.api_key == DEFAULT_API_KEY else "the one given with --user"
            print(f"local W&B server ready; API key of user {server.username!r}: {key}", file=sys.stderr)
        while not stop_requested.wait(0.5):
            if server.wait(0):
                print(f"{PROG}: error: the server stopped unexpectedly", file=sys.stderr)
                return 1
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
