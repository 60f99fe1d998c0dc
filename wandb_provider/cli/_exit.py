"""Exit codes of ``wandb-artifacts``, and the one mapping from the client's typed errors to them.

A script can tell apart what to fix (usage, a name, a key) from what to wait for (transient).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..client.errors import WandbError

OK = 0
FAILED = 1  # any other failure: a clash in the download folder, a local file problem, W&B refused a value
USAGE = 2  # argparse's own code: bad options, or an argument refused before any request
NOT_FOUND = 3
AUTH = 4  # the API key is missing or unknown, or may not do this
INTEGRITY = 5  # bytes or a manifest that do not match their digest; a folder that does not match a version
REFUSED = 6  # a gate (--require) or a guard (--only-if-current) does not hold, or another writer raced us
TRANSIENT = 7  # trying again later can help (5xx, 429, timeouts, a busy folder, a full disk)
INTERRUPTED = 130  # Ctrl-C or SIGTERM: nothing half-done is left behind

EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  other failure (e.g. files in the download folder that are not ours; see the message)
  2  usage error: bad options or arguments, refused before any request
  3  not found: entity, project, collection, version or file
  4  authentication or permission: WANDB_API_KEY missing, unknown, or not allowed to do this
  5  integrity: downloaded bytes or a manifest do not match their digest, or 'verify' found
     missing or changed files
  6  refused: the --require gate or the --only-if-current guard does not hold, or another writer
     raced this one; nothing was changed
  7  transient: W&B or the network kept failing, or the folder is busy; trying later can help
130  interrupted (Ctrl-C, SIGTERM)"""


def exit_code(error: WandbError) -> int:
    """The exit code for a typed client error: transient first (the error's own flag), then by kind."""
    from ..client import errors

    if error.transient:
        return TRANSIENT
    if isinstance(error, errors.CancelledError):
        return INTERRUPTED
    if isinstance(error, errors.NotFoundError):
        return NOT_FOUND
    if isinstance(error, (errors.AuthenticationError, errors.PermissionDeniedError)):
        return AUTH
    if isinstance(error, (errors.ArtifactIntegrityError, errors.UnsafePathError)):
        return INTEGRITY
    if isinstance(error, (errors.ConditionNotMetError, errors.AliasConflictError)):
        return REFUSED
    if isinstance(error, errors.InvalidArtifactPathError) or (
            isinstance(error, errors.InvalidValueError) and error.status is None and error.operation is None):
        return USAGE  # refused by our own checks, before any request; W&B's refusals name the operation
    return FAILED
