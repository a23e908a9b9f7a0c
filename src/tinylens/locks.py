"""Folder locks: one process at a time writes a fit's, or a survey's, output folder.

Two jobs given the same output folder (a SLURM array whose tasks share one config, a survey
started twice on one ``--out``) would overwrite each other's checkpoints and tables. A lock is a
hidden file in the folder holding an exclusive ``flock``; the kernel releases it when its
holder dies, so a killed job never leaves a folder locked. The file records who holds it
(process, host, start time) for the message of the job that is refused, and is removed when the
lock is released.

>>> with folder_lock(Path("run1"), ".fit.lock", busy="run1 is in use{holder}."):
...     ...  # write into run1
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pwd
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from tinylens.errors import UNWRITABLE, OutputError

#: ``flock`` errors that mean "another process holds it".
_HELD = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)
#: ``flock`` errors that mean "this file system has no locks": NFS without its lock daemon
#: (ENOLCK), Lustre mounted without ``flock`` (ENOSYS), others (EOPNOTSUPP; EINVAL, which flock
#: gives for a file that does not support locking, as some FUSE and SMB mounts answer). Any other
#: error is an :class:`OutputError` naming the lock file (:func:`_unusable`).
_NO_LOCKS = frozenset({errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP),
                       errno.EINVAL})
#: Pauses (seconds) between the tries of a lock found held, before a process that does not wait
#: is refused (0.19 s in all): :func:`held_by` holds a shared lock for the microseconds of its
#: test, and an exclusive try that met it (a ``tinylens status`` or a second fit's early check
#: at that moment) would refuse a fit that nobody else runs, naming no holder. A real holder
#: keeps its lock for the whole fit, so it is still held after them.
_PAUSES = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1)


def holder_text(path: Path) -> str:
    """Who holds the lock file ``path``, as written by :func:`folder_lock` ("" if unknown)."""
    try:
        return " ".join(path.read_text().split())
    except OSError:
        return ""


class HolderUnknown(OutputError):
    """Raised by :func:`held_by` where whether a lock is held cannot be told: its file cannot be
    opened or tested (another user's that this user may not read, a failing disk)."""


def _unknown(path: Path, exc: OSError, doing: str) -> HolderUnknown:
    """The :class:`HolderUnknown` of the lock file ``path`` that cannot be ``doing`` (``exc``)."""
    code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return HolderUnknown(f"Whether another tinylens process writes {path.parent} now cannot be told: its lock file "
                         f"{path} cannot be {doing} ({exc.strerror or os.strerror(exc.errno or 0)}, {code}).")


def held_by(path: Path) -> str | None:
    """Who holds the lock file ``path`` now ("" if its holder is not recorded), or ``None`` when
    nobody does (no such file; a file system without locks, where nobody can hold one); reads
    only (a missing file is not created). :class:`HolderUnknown` where the file cannot be opened
    or tested for another reason (no permission to read it, EIO): it is not said to be free."""
    return _tested(path)[0]


def _tested(path: Path) -> tuple[str | None, bool]:
    """:func:`held_by`'s answer for ``path``, and whether its lock was tested: False where there is
    no such file, or ``flock`` answers that this file system has no locks (:data:`_NO_LOCKS`; an
    NFS client without its lock daemon, whose file another node may hold a lock on all the same)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None, False
    except OSError as exc:
        raise _unknown(path, exc, "opened") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _HELD:
            return holder_text(path), True
        if exc.errno in _NO_LOCKS:
            return None, False
        raise _unknown(path, exc, "tested") from None
    finally:
        os.close(fd)  # also drops the shared lock, if taken
    return None, True


def _busy(folder: Path, holder: str, busy: str) -> OutputError:
    """The error for a lock of ``folder`` held by ``holder`` (see :func:`folder_lock`)."""
    busy = busy or f"{folder} is in use by another tinylens process{{holder}}."
    return OutputError(busy.replace("{holder}", f" ({holder})" if holder else ""))


def refuse_if_held(folder: Path, name: str, busy: str = "") -> None:
    """Raise the error :func:`folder_lock` would raise if ``folder/name`` is held now (reading
    only: for a refusal before slow work that precedes taking the lock); nothing where that cannot
    be told (:class:`HolderUnknown`), which :func:`folder_lock` then reports."""
    try:
        holder = held_by(Path(folder) / name)
    except HolderUnknown:  # not refused here: folder_lock, taken next, names the error and what to do
        return
    if holder is not None:
        raise _busy(folder, holder, busy)


def _owner(path: Path) -> str:
    """`` (owned by alice)``: who owns the file ``path``, with its leading space ("" if unknown)."""
    try:
        uid = os.stat(path).st_uid
    except OSError:
        return ""
    try:
        return f" (owned by {pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f" (owned by user id {uid})"


def _denied(folder: Path, path: Path, exc: OSError, busy: str, rerun: str) -> OutputError:
    """The error for a lock file ``path`` that this user may not open (``exc``): :func:`_busy`'s
    where another process holds it now, else one saying what the file is, who made it (its text,
    where it can be read), whether its lock is held, and that once its process has ended it may be
    removed (the kernel released its lock then) before running ``rerun`` again (or, where there is
    no such file, that ``folder`` is not writable)."""
    if not os.path.lexists(path):
        return OutputError(f"The lock file {path} cannot be made ({exc.strerror}): this user may not write "
                           f"{folder}{_owner(folder)}. Give the folder write permission (or ask its owner to), "
                           "or write elsewhere.")
    try:
        holder, tested = _tested(path)  # reading may still be allowed: another user's process that holds it now
    except HolderUnknown:  # nor reading: the message below says it may be held
        holder, tested = None, False
    if holder is not None:
        return _busy(folder, holder, busy)
    made = holder_text(path)
    what = (f"The lock file {path}{_owner(path)} cannot be opened ({exc.strerror}). tinylens keeps such a file in "
            f"{folder} while one of its processes writes there, so that no other one writes there at the same time; "
            f"this one was made by a tinylens process of another user{f' ({made})' if made else ''}.")
    if tested:
        state = (" Nobody holds its lock now: that process ended without removing the file (killed, or its node "
                 "lost), and the operating system released its lock then, so removing the file is safe: ")
    else:
        state = (" Whether that process still writes there cannot be told: if it does, wait for it to finish. Once it "
                 "has ended, removing the file is safe (the operating system releases a process's lock when the "
                 "process ends, even if it is killed): ")
    return OutputError(f"{what}{state}remove {path} (or ask its owner to) and run {rerun} again.")


def _remove_if_empty(path: Path) -> None:
    """Remove the lock file ``path`` if it is empty (made by :func:`_acquire`, then not locked)."""
    with contextlib.suppress(OSError):
        if path.is_file() and path.stat().st_size == 0:
            path.unlink()


def _unusable(path: Path, exc: OSError, doing: str, rerun: str) -> OutputError:
    """The error for a lock file ``path`` that cannot be opened or locked (``doing``) for a reason
    ``exc`` other than those :func:`_acquire` tells apart: it names the file and the error, and
    says to run ``rerun`` again once the folder can be written."""
    code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return OutputError(f"The lock file {path} cannot be {doing} ({exc.strerror or os.strerror(exc.errno or 0)}, "
                       f"{code}), so tinylens cannot make sure that no other process writes {path.parent} at the "
                       f"same time. Check that the folder and its disk can be written, and run {rerun} again.")


def _lock_exclusive(fd: int, wait: bool) -> None:
    """``flock`` the file ``fd`` exclusively, waiting for it if ``wait``; else tried again after each
    of :data:`_PAUSES` while it is held, and its OSError raised if it still is (or for any other
    error, at once)."""
    if wait:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    for pause in _PAUSES:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in _HELD:
                raise
        time.sleep(pause)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _acquire(path: Path, wait: bool, rerun: str) -> tuple[str, int | None]:
    """Open ``path`` and ``flock`` it: ``("held", fd)``; ``("busy", None)`` where another process
    holds it (and not ``wait``); ``("unsupported", None)`` where this file system has no locks
    (:data:`_NO_LOCKS`). A :class:`PermissionError` where this user may not open it (another
    user's lock file), an :class:`IsADirectoryError` where it is a folder, the OSError itself for
    a disk that refuses writes (:data:`~tinylens.errors.UNWRITABLE`: full, over quota, read-only,
    which callers report as such), an :class:`OutputError` naming it for any other error (saying
    to run ``rerun`` again: :func:`_unusable`). The file is closed on any exception (a Ctrl-C as
    it waits), so that no lock is left held."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except (PermissionError, IsADirectoryError):
            raise
        except OSError as exc:
            if exc.errno in UNWRITABLE:
                raise
            raise _unusable(path, exc, "opened", rerun) from None
        try:
            _lock_exclusive(fd, wait)
        except OSError as exc:
            os.close(fd)
            if exc.errno in _HELD:
                return "busy", None
            if exc.errno in _NO_LOCKS:
                return "unsupported", None
            _remove_if_empty(path)
            raise _unusable(path, exc, "locked", rerun) from None
        except BaseException:  # a Ctrl-C as it waits: the descriptor is not left open
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        except BaseException:  # nor the lock held, till this process ends
            os.close(fd)
            raise
        if same:
            return "held", fd
        os.close(fd)  # the holder removed the file as we waited for it: lock the new one


@contextlib.contextmanager
def folder_lock(folder: Path, name: str, *, busy: str = "", wait: bool = False,
                rerun: str = "the command") -> Iterator[bool]:
    """Hold the lock ``folder/name`` for the ``with`` block, which gets whether it is held.

    Where another process holds it, wait for it if ``wait``, else raise :class:`OutputError`
    with the message ``busy``, its ``{holder}`` replaced by who holds it (`` (process 12 on
    node3, since ...)``, or nothing where that is not known). A lock file this user may not
    open (another user's), or a folder of its name, is an :class:`OutputError` naming it, as is
    any other error opening or locking it, but for a disk that refuses writes (full, over quota,
    read-only: :data:`~tinylens.errors.UNWRITABLE`), whose OSError is raised for the caller to
    report. On a file system without ``flock`` (:data:`_NO_LOCKS`) the block runs unlocked (it
    gets False). The folder must exist. An error that a retry may get past tells the user to run
    ``rerun`` again: what the caller's user runs (:data:`~tinylens.errors.FIT_RERUN`,
    :data:`~tinylens.errors.SURVEY_RERUN`; "the command" for a command alone).
    """
    path = Path(folder) / name
    fd: int | None = None  # from its assignment on, the finally closes it: a Ctrl-C at any line after it too
    try:
        try:
            state, fd = _acquire(path, wait, rerun)
        except PermissionError as exc:  # EACCES or EPERM: not a lack of locks, which a block run unlocked would be told
            raise _denied(Path(folder), path, exc, busy, rerun) from None
        except IsADirectoryError:  # not a lack of locks either: a block run unlocked here would not be told why
            raise OutputError(f"{path} is a folder, where tinylens keeps the lock file that stops two processes "
                              f"writing {folder} at once. Remove or rename it, and run {rerun} again.") from None
        if state == "busy":
            raise _busy(folder, holder_text(path), busy)
        if fd is None:  # no locks here: run unlocked, leaving no empty lock file behind
            _remove_if_empty(path)
            yield False
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()}, since {stamp}".encode(), 0)
        yield True
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)  # before the release: a waiter then sees that its file is gone
            os.close(fd)
