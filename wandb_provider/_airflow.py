"""The one mapping from errors to Airflow outcomes, and the default download folders.

Shared by operators and the sensor. Airflow retries every exception except ``AirflowFailException``
(and skips), so this is where "can a retry help?" becomes Airflow's decision.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._values import InvalidValueError
from .client.errors import CancelledError, LocalFileError, ServerError, UnsupportedReferenceError, WandbError
from .client.models import ArtifactVersion

ENV_DOWNLOAD_ROOT = "WANDB_PROVIDER_DOWNLOAD_ROOT"
CONFIG_SECTION = "wandb"
NO_MAP_INDEX = "-"

# Local conditions that can clear up on their own: a full disk or quota, a busy or locked file.
_TRANSIENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ENOMEM,
                               errno.ETXTBSY, errno.EMFILE, errno.ENFILE})


def redact_urls(text: str) -> str:
    """An unexpected error's text with every URL redacted (signed URLs carry their signature in the query)."""
    from .client.errors import redact as scrub

    return scrub(text)


def _is_network_error(error: OSError) -> bool:
    """``requests``/``urllib3`` errors and socket timeouts are OSErrors too; all may heal by waiting."""
    module = type(error).__module__
    return isinstance(error, (ConnectionError, TimeoutError)) or module.startswith(("requests", "urllib3"))


@contextmanager
def translate_errors(what: str = "W&B task") -> Iterator[None]:
    """Fail the task at once when a retry cannot help; re-raise when one can.

    * a permanent ``WandbError`` (bad input, authentication, permission, not found, integrity, a
      failed guard, a bad connection) becomes ``AirflowFailException``: no retries;
    * a transient one (``ServerError``, ``RootBusyError``, a full disk...) is re-raised for Airflow's retries;
    * a stray ``OSError`` is typed as ``LocalFileError`` (or a network error) and split the same way;
    * a stray ``ValueError``/``TypeError``/``LookupError``/``AttributeError`` is a permanent failure
      with a clear message: the same inputs would fail the same way again.

    Airflow's own exceptions (skip, fail, defer, timeout) and ``CancelledError`` (the client stopping
    because Airflow interrupted the task) pass through unchanged, so an ``execution_timeout`` keeps
    Airflow's usual retries.
    """
    from ._compat import AirflowException, AirflowFailException, TaskDeferred

    try:
        yield
    except (AirflowException, TaskDeferred):
        raise
    except CancelledError:  # execution_timeout, SIGTERM, mark failed: Airflow decides, as for any interruption
        raise
    except WandbError as err:
        if err.transient:
            raise
        if isinstance(err, UnsupportedReferenceError) and err.missing_store:
            from .hooks.object_stores import advise_missing_store

            advise_missing_store(err)
        raise AirflowFailException(str(err)) from err
    except OSError as err:
        if _is_network_error(err):
            raise ServerError(f"{what}: the network failed: {redact_urls(str(err))}.",
                              hint="Airflow will retry the task.") from err
        path = err.filename if isinstance(err.filename, str) else None
        typed = LocalFileError(
            f"{what}: {err.strerror or type(err).__name__}" + (f" for {path!r}" if path else "") + ".",
            path=path, transient=err.errno in _TRANSIENT_ERRNOS,
            hint=("Free space or wait, then retry." if err.errno in _TRANSIENT_ERRNOS
                  else "Check the path and its permissions; retrying will not help."),
        )
        if typed.transient:
            raise typed from err
        raise AirflowFailException(str(typed)) from err
    except (ValueError, TypeError, LookupError, AttributeError) as err:
        raise AirflowFailException(
            f"{what}: unexpected {type(err).__name__}: {redact_urls(str(err))}. Retrying with the same inputs "
            "would fail the same way; check the task's arguments."
        ) from err


def version_xcom(version: ArtifactVersion) -> dict[str, Any]:
    """The JSON-safe XCom of a resolved version (shared by operators and the sensor)."""
    data = version.to_dict()
    keys = ("entity", "project", "name", "version", "qualified_name", "id", "type", "digest", "aliases",
            "metadata", "size", "file_count", "url")
    return {key: data[key] for key in keys}


def _private_temp_base() -> Path:
    """``<temp>/airflow-provider-wandb-<uid>``, made private (0700) and checked to be this user's own
    folder: in a shared temp folder another user could otherwise plant a symlink and steer downloads."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    base = Path(tempfile.gettempdir()) / ("airflow-provider-wandb" + (f"-{uid}" if uid is not None else ""))
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(base)
    except OSError as exc:
        raise LocalFileError(f"cannot make the default download folder {str(base)!r}: {exc.strerror}.",
                             path=str(base),
                             hint=f"Set [{CONFIG_SECTION}] download_root to a folder you own.") from None
    if not stat.S_ISDIR(info.st_mode) or (uid is not None and info.st_uid != uid) or info.st_mode & 0o022:
        raise LocalFileError(
            f"the default download folder {str(base)!r} is not a private folder of this user "
            "(a symlink, another user's, or writable by others); refusing to download there.",
            path=str(base), hint=f"Remove it, or set [{CONFIG_SECTION}] download_root to a folder you own.")
    return base


def download_base() -> Path:
    """Where default download roots live: ``[wandb] download_root``, else ``WANDB_PROVIDER_DOWNLOAD_ROOT``,
    else ``<temp>/airflow-provider-wandb-<uid>`` (private). A configured folder must be an absolute path."""
    from ._compat import conf

    configured = (conf.get(CONFIG_SECTION, "download_root", fallback=None) or "").strip()
    source = f"[{CONFIG_SECTION}] download_root"
    if not configured:
        configured, source = os.environ.get(ENV_DOWNLOAD_ROOT, "").strip(), ENV_DOWNLOAD_ROOT
    if not configured:
        return _private_temp_base()
    path = Path(configured).expanduser()
    if not path.is_absolute():
        raise InvalidValueError(f"{source} = {configured!r} is not an absolute path.",
                                hint="Set it to an absolute folder the workers may write to.")
    return path


def _part(text: str) -> str:
    """One safe folder name for ``text``; names that had to change get a short hash, so that two
    different values never share a folder."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:100] or "_"
    if safe == text:
        return safe
    return f"{safe}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def default_download_root(context: Mapping[str, Any], version: ArtifactVersion) -> Path:
    """One folder per task, map index and version:
    ``<base>/<dag_id>/<run_id>/<task_id>/<map_index or "-">/<entity>/<project>/<collection>/<vN>``."""
    ti = context["ti"]
    map_index = getattr(ti, "map_index", None)
    mapped = str(map_index) if isinstance(map_index, int) and map_index >= 0 else NO_MAP_INDEX
    run_id = str(context.get("run_id") or ti.run_id)
    parts = [ti.dag_id, run_id, ti.task_id, mapped, version.entity, version.project, version.name, version.version]
    return download_base().joinpath(*(_part(str(part)) for part in parts))
