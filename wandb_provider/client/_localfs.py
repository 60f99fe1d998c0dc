"""Local filesystem helpers of the download engine: typed errors for ``OSError`` and copy-on-write copies.

No ``OSError`` leaves the client raw: ``local_errors`` turns each into a ``LocalFileError`` that
names the path, says what to do and is transient only where waiting can help (a full disk).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import LocalFileError, RootConflictError

FICLONE = 0x40049409  # Linux ioctl: share a file's extents (copy-on-write) on btrfs, XFS, bcachefs

_ADVICE = {
    errno.EACCES: ("permission denied", "Give the worker write access there, or choose another folder."),
    errno.EPERM: ("operation not permitted", "Give the worker write access there, or choose another folder."),
    errno.EROFS: ("the filesystem is read-only", "Choose a folder on a writable filesystem."),
    errno.ENAMETOOLONG: ("a file name or the whole path is too long",
                         "Choose a shorter root, or exclude the entry with exclude=[...]."),
    errno.ENOTDIR: ("a file stands where a folder is needed", "Move the file away, or choose another root."),
    errno.EISDIR: ("a folder stands where a file is needed", "Move the folder away, or choose another root."),
    errno.EEXIST: ("something already exists there", "Move it away, or choose another root."),
    errno.ENOTEMPTY: ("the folder is not empty", "Move its contents away, or choose another root."),
    errno.ENOSPC: ("the disk is full", "Free some space; the task can then be retried."),
    errno.EDQUOT: ("the disk quota is exhausted", "Free some space; the task can then be retried."),
    errno.ENOENT: ("it does not exist (it was removed while the download ran?)",
                   "Do not change the folder while a download runs; then retry."),
    errno.EXDEV: ("it is on another filesystem", "Report this: the provider copies across filesystems."),
    errno.EMFILE: ("too many open files", "Lower max_workers or raise the open-file limit."),
}


def local_file_error(exc: OSError, action: str, path: str | os.PathLike[str] | None = None) -> LocalFileError:
    """The typed error for ``exc``, raised while doing ``action`` (e.g. "write files into the root")."""
    where = os.fsdecode(path) if path is not None else (exc.filename and os.fsdecode(exc.filename)) or "?"
    problem, hint = _ADVICE.get(exc.errno or 0, (exc.strerror or type(exc).__name__, "Check the folder."))
    transient = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    cls = RootConflictError if exc.errno == errno.ELOOP else LocalFileError
    if exc.errno == errno.ELOOP:
        problem, hint = "a symbolic link is in the way", "Replace the link with a real folder, or choose another root."
    return cls(f"cannot {action}: {where}: {problem} ({errno.errorcode.get(exc.errno or 0, exc.errno)}).",
               path=where, hint=hint, transient=transient)


@contextlib.contextmanager
def local_errors(action: str, path: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Map any ``OSError`` raised inside to ``LocalFileError``."""
    try:
        yield
    except OSError as exc:
        raise local_file_error(exc, action, path) from exc


def try_clone(source_fd: int, target_fd: int) -> bool:
    """Make ``target_fd`` share ``source_fd``'s extents (a reflink); False where the filesystem cannot
    (ext4, tmpfs, across filesystems)."""
    try:
        fcntl.ioctl(target_fd, FICLONE, source_fd)
    except OSError:
        return False
    return True


def clone_or_copy(source: str | Path, target: Path) -> None:
    """Copy ``source`` to a new file ``target``: a reflink where the filesystem can, else a plain
    copy (in the kernel where possible)."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        if try_clone(src.fileno(), dst.fileno()):
            return
    shutil.copyfile(source, target)


def copy_fd(source_fd: int, target_fd: int, between: Callable[[], None] | None = None) -> None:
    """Copy a whole file between descriptors in the kernel: ``copy_file_range`` (which shares extents
    where the filesystem can), else ``sendfile``, else plain reads and writes. ``between`` runs
    between steps of 64 MiB (a cancel check)."""
    size = os.fstat(source_fd).st_size
    offset = 0
    for kernel_copy in (_copy_range, _send_file):
        try:
            while offset < size:
                if between is not None:
                    between()
                sent = kernel_copy(source_fd, target_fd, offset, min(size - offset, 64 << 20))
                if sent == 0:
                    break
                offset += sent
            return
        except OSError as exc:
            if offset or exc.errno not in _NOT_HERE:
                raise
    while chunk := os.read(source_fd, 1 << 20):
        os.write(target_fd, chunk)


# What a kernel copy fails with where it cannot run (old kernels, some filesystems, across mounts).
_NOT_HERE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV, errno.EBADF, errno.ETXTBSY)


def _copy_range(source_fd: int, target_fd: int, offset: int, count: int) -> int:
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is None:
        raise OSError(errno.ENOSYS, "copy_file_range is not available")
    return int(copy_range(source_fd, target_fd, count, offset, offset))


def _send_file(source_fd: int, target_fd: int, offset: int, count: int) -> int:
    return os.sendfile(target_fd, source_fd, offset, count)
