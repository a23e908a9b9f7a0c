"""Atomic writes: each file written to a hidden temporary name beside it and renamed into place.

An interrupted write (a full disk, Ctrl-C, a killed process) never leaves a half-written file
under a final name: :func:`write_atomic` and :func:`atomic_path` write one file,
:func:`write_together` and :func:`replace_together` several, all or none; :func:`remove_unfinished`
and :func:`remove_all_unfinished` delete what a killed process left (:data:`UNFINISHED_NAME`),
:func:`hidden_name` is a name of the length of those temporaries, and :func:`errors_naming` makes an
OSError name the file being written. Each temporary is flushed to the disk (``os.fsync``; on macOS
``F_FULLFSYNC``, past the drive's cache: :func:`flush_to_disk`) before
it is renamed, and its folder after, so that a node that crashes or loses power just after a write
leaves the earlier file or the new one whole, never an empty file under the final name (XFS, ext4
without ``auto_da_alloc`` and NFS may otherwise keep the rename and lose the data;
:func:`sync_folders` does the latter for a rename of its caller's own):
:data:`FSYNC_VARIABLE` set to ``0`` skips that. Standard library only (and the
standard-library-only tinylens.errors), so that any part of tinylens (data, inference, results) can
write a file without importing pandas.
"""

from __future__ import annotations

import errno
import glob
import os
import random
import re
import shlex
import stat
import tempfile
import warnings
from collections.abc import Callable, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

from tinylens.errors import DISK_FAILED, REPLACED_ATTR, UNWRITABLE, WRITTEN_ATTR, OutputError


try:
    import fcntl  # F_FULLFSYNC where the system has it (macOS): flush_to_disk
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically. An
    OSError of creating or replacing it (no such folder, a folder at ``path``), or one raised
    inside about the temporary file (a full disk while writing it), names ``path``."""
    with temporary_beside(path) as tmp:
        yield tmp
        _synced(tmp, Path(path))
        _put_in_place(tmp, Path(path))
    sync_folders(Path(path))


@contextmanager
def temporary_beside(path: str | Path) -> Iterator[Path]:
    """Yield a new empty temporary file beside ``path`` (a hidden name that
    :func:`remove_unfinished` of ``path`` finds), deleted at the end where it is still there. An
    OSError of creating it, or one raised inside about it (a full disk while writing it), names ``path``."""
    path = Path(path)
    tmp = _hidden_file(path)
    try:
        try:
            yield Path(tmp)
        except OSError as err:
            if err.filename is None or os.fspath(err.filename) != tmp or not _plain(err):
                raise
            raise _naming(err, path) from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _hidden_file(path: Path) -> str:
    """A new empty file beside ``path`` under a hidden name that :func:`remove_unfinished` of
    ``path`` finds (``.<stem>.unfinished-XXXXXXXX<suffix>``); an OSError of making it names ``path``."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=_unfinished_prefix(path), suffix=path.suffix)
    except OSError as err:
        raise _naming(err, path) from None
    os.close(fd)
    return name


def _put_in_place(tmp: Path, path: Path) -> None:
    """Replace ``path`` by the finished temporary ``tmp`` (with the usual permissions); an
    OSError names ``path``."""
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give results the usual permissions
    try:
        os.replace(tmp, path)
    except OSError as err:
        raise _naming(err, path) from None


#: The environment variable that, set to one of :data:`FSYNC_OFF_WORDS` (``0``, ``off``, ...), makes
#: tinylens write its files without ``os.fsync`` (:func:`_synced`, :func:`sync_folders`): faster on a
#: slow disk (a few milliseconds a file on a local disk, more on NFS), but a node that crashes or loses
#: power just after a write may leave an empty file under a result's name. Unset, empty or one of
#: :data:`FSYNC_ON_WORDS`, it syncs; any other value (a typo) syncs too, with a warning that names it.
FSYNC_VARIABLE = "TINYLENS_FSYNC"
#: The values (any case, spaces around ignored) of :data:`FSYNC_VARIABLE` that turn the flushing
#: off: the words that turn ``$TINYLENS_CACHE_DIR`` off (``tinylens.compilation.CACHE_OFF_WORDS``),
#: but the empty value, which here is the default.
FSYNC_OFF_WORDS = ("0", "off", "false", "no", "none", "disabled", "disable")
#: The values of :data:`FSYNC_VARIABLE` that keep the flushing on, as unset does.
FSYNC_ON_WORDS = ("", "1", "on", "true", "yes", "enabled", "enable")
_WARNED_FSYNC_VALUES: set[str] = set()


def _syncing() -> bool:
    """Whether files are flushed to the disk as they are written (:data:`FSYNC_VARIABLE`); a value
    that is neither on nor off (:data:`FSYNC_OFF_WORDS`, :data:`FSYNC_ON_WORDS`) is warned of, once
    a value, and syncs (the safe side)."""
    given = os.environ.get(FSYNC_VARIABLE, "")
    value = given.strip().lower()
    if value in FSYNC_OFF_WORDS:
        return False
    if value not in FSYNC_ON_WORDS and given not in _WARNED_FSYNC_VALUES:
        _WARNED_FSYNC_VALUES.add(given)
        warnings.warn(f"{FSYNC_VARIABLE}={given!r} is neither on nor off: files are flushed to the disk (os.fsync), "
                      f"as by default; {FSYNC_VARIABLE}=0 turns that off ({', '.join(FSYNC_OFF_WORDS)}, any case) "
                      f"and {FSYNC_VARIABLE}=1 keeps it on.", UserWarning, stacklevel=2)
    return True


def _synced(tmp: Path, path: Path) -> None:
    """Flush the finished temporary ``tmp`` of ``path`` to the disk (``os.fsync``) before it is
    renamed, so that the rename never reaches the disk before its data; passed by where the disk
    cannot flush a file (:data:`_UNSYNCABLE`: some FUSE mounts), as it was written before. Another
    OSError (EIO: the disk failed; ENOSPC or EDQUOT, which NFS may say only now) names ``path``,
    the temporary not renamed."""
    if not _syncing():
        return
    try:
        fd = os.open(tmp, os.O_RDWR if os.name == "nt" else os.O_RDONLY)  # Windows flushes only a writable one
    except OSError as err:
        raise _naming(err, path) from None
    try:
        flush_to_disk(fd)
    except OSError as err:
        if err.errno not in _UNSYNCABLE:
            raise _naming(err, path) from None
    finally:
        os.close(fd)


def sync_appended(handle: Any, path: Path) -> None:
    """Flush what was appended to the open file ``handle`` of ``path`` (a record written in place,
    not renamed) to the disk (``os.fsync``) where files are flushed (:data:`FSYNC_VARIABLE`), so that
    a crash just after it keeps the whole line; passed by where the disk cannot flush a file
    (:data:`_UNSYNCABLE`). Another OSError (EIO) names ``path``, as does one of writing out what
    ``handle`` holds in its buffer (EIO, or an ENOSPC that NFS says only then); ``handle`` is then
    closed, what the disk refused dropped, so that the caller's ``with`` does not write it again
    and raise the same error bare, naming no file, in place of this one."""
    try:
        handle.flush()
    except OSError as err:
        if not _plain(err):
            raise
        try:
            handle.close()  # a buffered file's close flushes again, fails again, and closes it
        except OSError:
            pass
        raise _naming(err, path) from None
    if not _syncing():
        return
    try:
        flush_to_disk(handle.fileno())
    except OSError as err:
        if err.errno not in _UNSYNCABLE:
            raise _naming(err, path) from None


def flush_to_disk(fd: int) -> None:
    """Flush the open file or folder ``fd`` to the disk itself: ``fcntl(F_FULLFSYNC)`` where the
    system has it (macOS, whose ``os.fsync`` hands the data to the drive but not past the drive's
    own cache, so that a power cut could still lose it), falling back to ``os.fsync`` where the
    volume refuses it, whatever it says (EINVAL on a FUSE mount, ENOTSUP on SMB, ENOTTY on WebDAV or
    a drive that is not Apple's: no list is documented) but that the write failed
    (:data:`_FULLFSYNC_FAILED`: EIO, a full disk's ENOSPC, raised, not taken back by a later
    ``os.fsync``); ``os.fsync`` elsewhere. An OSError is raised, for the caller to name the file."""
    full = getattr(fcntl, "F_FULLFSYNC", None) if fcntl is not None else None
    if full is not None:
        try:
            fcntl.fcntl(fd, full)
            return
        except OSError as err:
            if err.errno in _FULLFSYNC_FAILED:
                raise
    os.fsync(fd)


#: What ``fcntl(F_FULLFSYNC)`` says where the data did not reach the disk (:func:`flush_to_disk`):
#: raised, not passed to ``os.fsync``, which may say nothing of an error already said.
_FULLFSYNC_FAILED = DISK_FAILED | UNWRITABLE


#: What a system says where a file or folder cannot be flushed (a disk or mount that does not
#: sync them): the file is written as it was before tinylens flushed files, unsaid.
_UNSYNCABLE = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}

#: What a system says where a folder cannot be opened to flush it (one this user may write in but
#: not read, ``chmod 333``) or flushed (:data:`_UNSYNCABLE`): the rename stands unflushed, unsaid.
_FOLDER_UNSYNCABLE = _UNSYNCABLE | {errno.EBADF, errno.EACCES, errno.EPERM}


def sync_folders(*paths: Path) -> None:
    """Flush the folder of each of ``paths`` (each once) to the disk after a file (or folder) was
    renamed into it, so that the rename is kept; skipped on Windows (no folder can be opened there) and where
    the system refuses (:data:`_FOLDER_UNSYNCABLE`). Another OSError (EIO: the disk failed) names
    the file, which is in place, its data flushed."""
    if not _syncing() or os.name == "nt":
        return
    for folder, path in {Path(path).parent: Path(path) for path in reversed(paths)}.items():
        try:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as err:
            if err.errno in _FOLDER_UNSYNCABLE:
                continue
            raise _in_place(_naming(err, path)) from None
        try:
            flush_to_disk(fd)
        except OSError as err:
            if err.errno not in _FOLDER_UNSYNCABLE:
                raise _in_place(_naming(err, path)) from None
        finally:
            os.close(fd)


def _in_place(err: OSError) -> OSError:
    """``err``, of flushing a folder after a file was renamed into it, marked as one whose file is
    in place, the earlier one replaced (:data:`tinylens.errors.REPLACED_ATTR`), for the messages
    that say what is left (:func:`tinylens.errors.failed_write_left_text`)."""
    setattr(err, REPLACED_ATTR, True)
    return err


def _plain(err: OSError) -> bool:
    """Whether ``err`` is one of Python's own OSErrors with an error number (one that
    :func:`_naming` can make again about another file)."""
    return type(err).__module__ == "builtins" and err.errno is not None


def _naming(err: OSError, path: Path) -> OSError:
    """``err`` (of the same type) about ``path``, not the hidden temporary file it was about, marked
    as raised writing that output (:func:`tinylens.errors.written_output`)."""
    named = type(err)(err.errno, err.strerror, str(path))
    setattr(named, WRITTEN_ATTR, True)
    return named


#: The characters of the random part of a temporary's name (as :mod:`tempfile`'s, :data:`UNFINISHED_NAME`).
_NAME_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"
_RANDOM = random.SystemRandom()  # no state shared with a seeded random, or a forked process


def _unfinished_prefix(path: Path) -> str:
    return f".{path.stem}.unfinished-"


def remove_unfinished(*paths: str | Path) -> None:
    """Delete the temporary files that :func:`atomic_path` writes of ``paths`` (and the hard
    links to old files that :func:`replace_together` keeps while it works) left behind when their
    process was killed mid-write
    (``.<stem>.unfinished-XXXXXXXX<suffix>`` beside each, the
    X's eight of ``tempfile``'s random characters; nothing else, so a user's own hidden files
    stay; nor a ``.kept-`` file, which may hold the only copy of an earlier file: :func:`_moved_aside`,
    :func:`_rescued`). Only for a folder that no other process is writing the same files in."""
    random_part = "[a-z0-9_]" * 8
    for path in map(Path, paths):
        pattern = glob.escape(_unfinished_prefix(path)) + random_part + glob.escape(path.suffix)
        for tmp in path.parent.glob(pattern):
            tmp.unlink(missing_ok=True)


#: The name of a temporary file :func:`atomic_path` leaves when its process is killed mid-write,
#: of any file: ``.<stem>.unfinished-XXXXXXXX<suffix>``, the X's eight of ``tempfile``'s
#: random characters, the suffix one dot and what follows it, or none.
UNFINISHED_NAME = re.compile(r"\..+\.unfinished-[a-z0-9_]{8}(\.[^.]*)?")


def remove_all_unfinished(folder: str | Path, refused: list[tuple[Path, OSError]] | None = None) -> list[Path]:
    """Delete every temporary file of :func:`atomic_path` (or hard link to an old file that
    :func:`replace_together` keeps while it works) that a killed process left directly in
    ``folder`` (:data:`UNFINISHED_NAME`, plain files only; nothing else, so a user's own hidden
    files stay; nor a ``.kept-`` file, which may hold the only copy of an earlier file:
    :func:`_moved_aside`, :func:`_rescued`), whatever file it was writing; the paths deleted. Only for a folder that no other
    process is writing in. A folder that can be written but not listed (``chmod 733``) is left as
    it is: no temporary is found there, as :func:`remove_unfinished`'s glob finds none. ``refused``: a
    list to which one the system refuses to delete (PermissionError) is added, with its error, and
    the others deleted (without, the error is raised)."""
    removed = []
    try:
        entries = os.scandir(folder)
    except OSError:
        return removed
    with entries:
        for entry in entries:
            if UNFINISHED_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                try:
                    Path(entry.path).unlink(missing_ok=True)
                except PermissionError as exc:
                    if refused is None:
                        raise
                    refused.append((Path(entry.path), exc))
                    continue
                removed.append(Path(entry.path))
    return removed


@contextmanager
def errors_naming(path: str | Path) -> Iterator[None]:
    """Make an OSError raised inside that names no file (a write or close that found the disk
    full says none) name ``path``, the file being written; any other error as it is."""
    try:
        yield
    except OSError as err:
        if err.filename is not None or not _plain(err):
            raise
        raise _naming(err, Path(path)) from err


def write_atomic(path: str | Path, writer: Callable[[Path], Any]) -> Path:
    """Call ``writer(tmp_path)`` and move the result to ``path``. An OSError of the writer that
    names no file (a write or close that found the disk full says none) names ``path``."""
    with atomic_path(path) as tmp, errors_naming(path):
        writer(tmp)
    return Path(path)


def write_together(writers: Mapping[Path, Callable[[Path], Any]]) -> None:
    """Call each ``writer(tmp)`` of ``writers`` (path -> writer) once, on a temporary path beside
    its file (:func:`temporary_beside`), in their order, and replace the files by them, in the
    same order, only once every one is written, all or none (:func:`replace_together`): a run
    stopped (Ctrl-C, a full disk, an error) while writing or renaming leaves each file as it was,
    and no temporary, so files that belong together (a demo's images and its truth.json, a
    report's tables and figure) stay of one run. An OSError about a temporary or naming no file
    (a full disk's, :func:`errors_naming`) names the file it was written for."""
    with ExitStack() as stack:
        temporary = {Path(path): stack.enter_context(temporary_beside(path)) for path in writers}
        for (path, writer), tmp in zip(writers.items(), temporary.values()):
            with errors_naming(path):
                writer(tmp)
        replace_together(temporary)


def replace_together(temporary: Mapping[Path, Path]) -> None:
    """Replace each file (key) of ``temporary`` by its finished temporary (value), in their order,
    all or none: every temporary is flushed to the disk first (:func:`_synced`: where the disk
    fails, its OSError names the file, none replaced) and each folder after (:func:`sync_folders`);
    each file there is first kept under a second, hidden name (:func:`_linked`), and
    where a rename fails (or the run is stopped) the files already replaced are put back (a file
    that was not there is deleted; a Ctrl-C meanwhile is raised once all are, :func:`_undone`), the
    error raised; the hidden names are gone at the end. Where
    a file cannot be put back, its earlier version is kept beside it under a name that
    :func:`remove_unfinished` leaves (:func:`_rescued`) and an OutputError says where (a Ctrl-C
    stays a KeyboardInterrupt, where it is kept warned: :func:`_say_stranded`). Each
    file is replaced atomically, so a reader finds it old or new, but where no hard link can be
    made (a disk without them) a file is moved aside just before it is replaced (:func:`_moved_aside`),
    under a name that no cleanup deletes, so that a process killed then loses no file."""
    for path, tmp in temporary.items():  # all on the disk before any is renamed: a failing disk replaces none
        _synced(Path(tmp), Path(path))
    kept: dict[Path, Path | None] = {}
    done: list[Path] = []
    stranded: dict[Path, Path] = {}  # files not put back: where each earlier version is kept (not deleted below)
    try:
        for path in temporary:
            kept[path] = _linked(path)
        for path, tmp in temporary.items():
            if kept[path] is None and _replaceable(path):
                _moved_aside(path, kept)
            done.append(path)
            _put_in_place(tmp, path)
    except BaseException as err:
        again = _undone(done, kept, stranded)
        _put_back_unnoted(done, kept, stranded)
        stop = again if again is not None and isinstance(err, Exception) else err  # a Ctrl-C while undoing stops
        if stranded and isinstance(stop, Exception):
            raise OutputError(_stranded_text(stranded, stop)) from stop
        if stranded:  # a Ctrl-C (or SystemExit) stays one, for the command line's exit 130 and a script's except
            _say_stranded(_stranded_text(stranded, stop), stop)
        if stop is err:
            raise
        raise stop from err
    finally:
        for path, old in kept.items():
            if old is None or path in stranded:
                continue
            if os.path.lexists(path) or not os.path.lexists(old):
                old.unlink(missing_ok=True)
            else:  # moved aside, then stopped (a Ctrl-C) before it was noted as one to undo: its only copy
                _put_back(path, old)
    sync_folders(*map(Path, temporary))


def _undone(done: list[Path], kept: Mapping[Path, Path | None], stranded: dict[Path, Path]) -> KeyboardInterrupt | None:
    """Undo the replacing of each file of ``done`` (the last first, :func:`_undo_one`), its earlier
    file under ``kept``; a file that cannot be put back added to ``stranded``. A Ctrl-C meanwhile
    (KeyboardInterrupt) does not stop it part-way, which left files of two runs and had the earlier
    versions not yet put back deleted: the walk, caught whole (a Ctrl-C between two files too), is
    done again from the first, each file undone once (:func:`_undo_one` skips one undone already),
    and the last Ctrl-C is returned, for the caller to raise once all are undone. Left open (Python
    raises a Ctrl-C between any two steps): one in the instant before this starts, or a further one
    the instant after another is caught, still stops it, the files not put back yet left new and
    their earlier versions deleted, a file not put back unsaid; that takes Ctrl-Cs microseconds apart."""
    caught = None
    while True:
        try:
            for path in reversed(done):
                _undo_one(path, kept[path], stranded)
            return caught
        except KeyboardInterrupt as again:
            caught = again


def _put_back_unnoted(done: list[Path], kept: Mapping[Path, Path | None], stranded: dict[Path, Path]) -> None:
    """Put back each file of ``kept`` moved aside (:func:`_moved_aside`) but not in ``done`` (a
    Ctrl-C came before it was noted as one to undo), its path holding nothing; one that cannot be
    put back stays under its ``.kept-`` name, added to ``stranded`` so that the caller says where."""
    for path, old in kept.items():
        if path in done or old is None or os.path.lexists(path) or not os.path.lexists(old):
            continue
        if not _put_back(path, old):
            stranded[path] = old


def _undo_one(path: Path, old: Path | None, stranded: dict[Path, Path]) -> None:
    """Put back ``old``, the earlier file of ``path`` (or delete the new file where there was none,
    :func:`_put_back`), where that is not done already (a Ctrl-C stopped :func:`_undone` after it);
    where it cannot be, record in ``stranded`` where ``old`` is kept (:func:`_rescued`). A new file
    not deleted, or a file whose replacing failed (its kept hard link the same file), stays as it is."""
    if old is not None and not os.path.lexists(old):
        if stranded.get(path) == old:  # noted there, then put back by a try a Ctrl-C stopped before it was un-noted
            del stranded[path]
        return  # put back already, or kept under the name that _rescued noted in stranded
    if _put_back(path, old):
        stranded.pop(path, None)  # put back on a later try (a Ctrl-C had _undone walk again): not stranded
        return
    if old is None or _same_file(old, path):
        return
    _rescued(path, old, stranded)


def _replaceable(path: Path) -> bool:
    """Whether a file or a link (not a folder) is at ``path``."""
    try:
        return not stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def hidden_name(path: Path) -> Path:
    """A name beside ``path`` that :func:`remove_unfinished` of ``path`` finds, one of many (taken or
    not), as long as each hidden temporary name that this module writes ``path`` under first."""
    return path.parent / f"{_unfinished_prefix(path)}{''.join(_RANDOM.choices(_NAME_CHARACTERS, k=8))}{path.suffix}"


def _linked(path: Path) -> Path | None:
    """A hard link to the file (or link) at ``path`` under a hidden name (:func:`hidden_name`),
    so that the file stays in place; None where nothing or a folder is there, or no link can be
    made (a disk without hard links, another user's file under ``fs.protected_hardlinks``)."""
    if not _replaceable(path):
        return None
    for _ in range(100):
        name = hidden_name(path)
        try:
            os.link(path, name, follow_symlinks=False)
            return name
        except FileExistsError:
            continue
        except (OSError, NotImplementedError):
            return None
    return None


def _moved_aside(path: Path, kept: dict[Path, Path | None]) -> Path:
    """The file (or link) at ``path`` renamed to a hidden name beside it that no cleanup deletes
    (:func:`_kept_file`: a process killed before the new file is renamed into place leaves its only
    copy there), noted in ``kept`` before it is moved, so that wherever a Ctrl-C stops it
    :func:`replace_together` puts it back (:func:`_put_back_unnoted`: its path holds nothing,
    where it cannot be, says where it is kept) or deletes the name made for it (its path still
    holds the file); an OSError names ``path``."""
    try:
        name = Path(_kept_file(path))
    except OSError as err:
        raise _naming(err, path) from None
    kept[path] = name
    try:
        os.replace(path, name)
    except OSError as err:
        kept[path] = None  # not moved: the empty name is no earlier file to put back
        name.unlink()
        raise _naming(err, path) from None
    return name


def _put_back(path: Path, old: Path | None) -> bool:
    """Undo the replacing of ``path``: its file kept under ``old`` back in place, or, where there
    was none, the new file deleted; whether that was done. An OSError here is not raised over the
    error that made it undo (False: the kept file is still under its hidden name)."""
    try:
        if old is None:
            path.unlink(missing_ok=True)
        else:
            os.replace(old, path)
    except OSError:
        return False
    return True


def _same_file(old: Path, path: Path) -> bool:
    """Whether ``old`` and ``path`` are one file (a kept hard link of a file whose replacing failed,
    so that it is still in place); False where either cannot be looked at."""
    try:
        return os.path.samefile(old, path)
    except OSError:
        return False


def _rescued(path: Path, old: Path, stranded: dict[Path, Path]) -> None:
    """Keep ``old``, the earlier file of ``path`` that could not be put back, where no cleanup
    deletes it, and note in ``stranded`` where it is: renamed to ``.<stem>.kept-XXXXXXXX<suffix>``
    beside ``path``, a name that :func:`remove_unfinished` and :func:`remove_all_unfinished` leave
    (``old`` itself where it has such a name already, a file moved aside, :func:`_moved_aside`, or
    where even that fails). The kept name is noted before the rename, so that wherever a Ctrl-C
    stops it ``stranded`` names the file that holds it: a Ctrl-C the moment it is renamed puts it
    back under ``old``, where :func:`_undo_one`, done again, finds it, and where that fails it
    stays under its kept name, as noted."""
    stranded[path] = old
    if not UNFINISHED_NAME.fullmatch(old.name):
        return
    try:
        name = Path(_kept_file(path))
    except OSError:
        return
    stranded[path] = name
    try:
        os.replace(old, name)
    except OSError:
        stranded[path] = old
        name.unlink(missing_ok=True)
    except BaseException:
        if os.path.lexists(old):  # stopped (a Ctrl-C) before it was renamed
            stranded[path] = old
            name.unlink(missing_ok=True)
        elif _put_back(old, name):  # stopped the moment it was renamed
            stranded[path] = old
        raise


def _kept_file(path: Path) -> str:
    """A new empty file beside ``path`` named ``.<stem>.kept-XXXXXXXX<suffix>``, which
    :func:`remove_unfinished` and :func:`remove_all_unfinished` leave."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.kept-", suffix=path.suffix)
    os.close(fd)
    return name


def _say_stranded(text: str, err: BaseException) -> None:
    """Say ``text`` (:func:`_stranded_text`) of an ``err`` that is no error (a KeyboardInterrupt,
    which is raised as it is): a warning, which the command line prints before its 'Interrupted.',
    and a note on ``err``, which a traceback shows."""
    err.add_note(text)
    warnings.warn(text, UserWarning, stacklevel=4)


def _stranded_text(stranded: Mapping[Path, Path], err: BaseException) -> str:
    """What replace_together says where the files ``stranded`` (path -> where its earlier version
    is kept, :func:`_rescued`) could not be put back after ``err`` stopped it."""
    if isinstance(err, OSError) and err.filename is not None:
        why = f"{os.fsdecode(err.filename)}: {err.strerror or type(err).__name__}"
    else:
        why = str(err) or type(err).__name__
    kept = []
    for path, where in stranded.items():
        back = f"mv {shlex.quote(str(where))} {shlex.quote(str(path))}"
        if UNFINISHED_NAME.fullmatch(where.name):
            kept.append(f"{path}'s earlier version is still at {where}, a temporary name that tinylens deletes when it "
                        f"next writes {path.name} there: copy it elsewhere first, or put it back ({back})")
        else:
            kept.append(f"{path}'s earlier version is kept at {where} (put it back: {back})")
    return f"Replacing files that belong together was stopped ({why}) and could not be undone: {'; '.join(kept)}."
