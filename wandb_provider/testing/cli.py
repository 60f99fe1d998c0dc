"""``wandb-provider-server``: run the local W&B-compatible server until SIGINT or SIGTERM.

Prints exactly one line on stdout when ready: ``WANDB_BASE_URL=http://HOST:PORT``. Everything
else (the API key to use, warnings) goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from .config import OrgSpec, ServerConfig, TeamSpec, UserSpec


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wandb-provider-server", description="Local W&B-compatible artifacts server (an emulator)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free port)")
    parser.add_argument("--data-dir", help="keep state here (SQLite + blobs); in memory when omitted")
    parser.add_argument("--user", action="append", default=[], metavar="NAME:API_KEY",
                        help="a user with a personal entity NAME (repeatable); default user 'demo'")
    parser.add_argument("--team", action="append", default=[], metavar="TEAM:USER[:ROLE],...",
                        help="a team entity and its members (roles admin, member, viewer)")
    parser.add_argument("--org", action="append", default=[], metavar="ORG:TEAM",
                        help="an organization owning TEAM; its org entity owns wandb-registry-* projects")
    parser.add_argument("--seed", choices=["demo"], help="load demo data")
    parser.add_argument("--faults", help="fault-injection rules as JSON (see wandb_provider.testing.faults)")
    return parser


def parse_config(argv: Sequence[str] | None = None) -> ServerConfig:
    args = _parser().parse_args(argv)
    try:
        return ServerConfig(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            users=tuple(UserSpec.parse(u) for u in args.user),
            teams=tuple(TeamSpec.parse(t) for t in args.team),
            orgs=tuple(OrgSpec.parse(o) for o in args.org),
            seed=args.seed,
            faults=json.loads(args.faults) if args.faults else None,
        )
    except ValueError as exc:
        _parser().error(str(exc))
        raise  # unreachable: error() exits


def main(argv: Sequence[str] | None = None) -> int:
    from .server import LocalWandbServer

    config = parse_config(argv)
    server = LocalWandbServer(config).start()

    def stop(signum: int, frame: FrameType | None) -> None:
        server.request_stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"WANDB_BASE_URL={server.base_url}", flush=True)
    print(f"local W&B server ready; API key of user {server.username!r}: {server.api_key}", file=sys.stderr)
    try:
        server.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
