"""``main(argv)``: parse, build the client from W&B's environment, run one command, map errors to exit codes.

Every message goes to stderr through ``scrub``, so neither the API key nor a signed URL's query
reaches a terminal or a CI log.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import _exit
from ._parser import PROG, build_parser
from ._text import printable

if TYPE_CHECKING:
    from ..client import WandbClient


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``wandb-artifacts`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (argparse prints it, code 2)
        return int(exc.code or 0) if not isinstance(exc.code, str) else _exit.USAGE
    secrets: list[str] = []
    restore_logging = _configure_logging(args, secrets)
    args.cancel = threading.Event()  # set on Ctrl-C or SIGTERM: uploads and downloads stop between chunks
    previous = _on_signals(args.cancel)
    try:
        return _run(args, secrets)
    except KeyboardInterrupt:
        args.cancel.set()
        _say("interrupted; nothing half-done was published, and running the command again is safe.", secrets)
        return _exit.INTERRUPTED
    except BrokenPipeError:  # e.g. `wandb-artifacts versions x | head -1`
        _silence_stdout()
        return _exit.OK
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        restore_logging()


def _run(args: argparse.Namespace, secrets: list[str]) -> int:
    from ..client.errors import WandbError
    from . import _commands

    try:
        with make_client(args, secrets) as client:
            code: int = getattr(_commands, f"cmd_{args.command}")(client, args)
            return code
    except WandbError as exc:
        code = _exit.exit_code(exc)
        retry = " Trying again later can help." if code == _exit.TRANSIENT else ""
        _say(f"error: {exc}{retry}", secrets)
        return code
    except _commands.UsageError as exc:
        _say(f"error: {exc}", secrets)
        return _exit.USAGE
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # a bug, or an error the client failed to type: say it without the key
        if args.verbose:
            import traceback

            _say("".join(traceback.format_exception(exc)), secrets)
        _say(f"error: unexpected {type(exc).__name__}: {exc} (-v shows where; please report it).", secrets)
        return _exit.FAILED


def make_client(args: argparse.Namespace, secrets: list[str]) -> WandbClient:
    """The client from ``WANDB_*`` (the key also from ~/.netrc, as ``wandb login`` writes it) and the options."""
    from ..client import WandbClient
    from ..client.config import DEFAULT_BASE_URL
    from ..client.errors import AuthenticationError

    base_url = os.environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL
    federated = bool(os.environ.get("WANDB_IDENTITY_TOKEN_FILE"))  # identity federation: a JWT, no key needed
    api_key = os.environ.get("WANDB_API_KEY") or ("" if federated else _netrc_key(base_url))
    if not api_key and not federated:
        raise AuthenticationError(
            "no W&B API key: WANDB_API_KEY is not set and ~/.netrc has no entry for "
            f"{_host(base_url) or base_url}.",
            hint="Set WANDB_API_KEY (or run 'wandb login'), or WANDB_IDENTITY_TOKEN_FILE for identity federation.")
    if api_key:
        secrets.append(api_key)
    options: dict[str, Any] = {
        "api_key": api_key, "max_retries": args.max_retries, "timeout": args.timeout, "deadline": args.deadline,
        "cache_dir": getattr(args, "cache_dir", None),
        "allowed_file_reference_roots": tuple(args.allow_file_references) or None,
        "allowed_reference_hosts": tuple(args.allow_reference_host) or None,
    }
    return WandbClient.from_env(**options)


def _host(base_url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(base_url).hostname
    except ValueError:
        return None


def _netrc_key(base_url: str) -> str | None:
    """The password of ``base_url``'s host in ``$NETRC`` or ~/.netrc (where ``wandb login`` keeps it)."""
    import netrc

    host = _host(base_url)
    if not host:
        return None
    try:
        entry = netrc.netrc(os.environ.get("NETRC") or None).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    return entry[2] if entry and entry[2] else None


def _say(message: str, secrets: Sequence[str]) -> None:
    from ..client.errors import redact as scrub

    print(f"{PROG}: {printable(scrub(message, secrets))}", file=sys.stderr, flush=True)


def _configure_logging(args: argparse.Namespace, secrets: Sequence[str]) -> Callable[[], None]:
    """The client's warnings (each retry) on stderr; ``-v`` adds each step, ``-q`` keeps errors only.

    Records go to the current ``sys.stderr`` (a progress bar may have redirected it), key removed.
    Returns what puts the logger back as it was (``main`` may be called in-process).
    """
    import logging  # after parsing: ``--help`` need not pay for it

    class ScrubbingHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                _say(f"{record.levelname.lower()}: {record.getMessage()}", secrets)
            except Exception:  # pragma: no cover - logging must never fail the command
                self.handleError(record)

    logger = logging.getLogger("wandb_provider")
    handler, level, propagate = ScrubbingHandler(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.ERROR if args.quiet else logging.INFO if args.verbose else logging.WARNING)
    logger.propagate = False

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate

    return restore


def _on_signals(cancel: threading.Event) -> dict[int, Any]:
    """Ctrl-C and SIGTERM set ``cancel`` and stop the command (downloads and uploads cancel, nothing
    unfinished is published); returns the previous handlers. Only the main thread may install them."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def interrupt(signum: int, frame: FrameType | None) -> None:
        cancel.set()
        raise KeyboardInterrupt

    return {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())


def entry_point() -> None:
    """The console script."""
    sys.exit(main())
