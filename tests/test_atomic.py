"""Durability of tinylens's atomic writes (tinylens.atomic): each temporary flushed to the disk
(os.fsync) before it is renamed, its folder after, so that a crash just after a write leaves no
empty file under a result's name."""

from __future__ import annotations

import errno
import json
import os
import stat
import warnings
from pathlib import Path

import pytest

from tinylens.atomic import write_atomic, write_together
from tinylens.results.tables import write_json


def _recording_fsync(monkeypatch, fail=None):
    """Replace os.fsync by one that notes what it was called on ((is a folder, inode)) and then
    flushes it, or raises ``fail(is_folder)`` where that is not None."""
    calls = []
    real = os.fsync

    def fsync(fd):
        info = os.fstat(fd)
        folder = stat.S_ISDIR(info.st_mode)
        calls.append((folder, info.st_ino))
        error = fail(folder) if fail is not None else None
        if error is not None:
            raise error
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.skipif(os.name == "nt", reason="a folder cannot be opened to flush it on Windows")
def test_a_write_flushes_the_file_before_its_rename_and_the_folder_after(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    target = tmp_path / "row.json"
    seen_before_rename = []
    calls = _recording_fsync(monkeypatch)
    real_fsync = os.fsync

    def fsync(fd):  # whether the final name held the file yet when each flush was made
        seen_before_rename.append(target.exists())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_json(target, {"lens_id": "lens_0001", "log_evidence": -12.5})

    assert target.read_text().startswith("{")
    file_inode, folder_inode = target.stat().st_ino, tmp_path.stat().st_ino
    assert calls == [(False, file_inode), (True, folder_inode)]  # the file's data, then its name in the folder
    assert seen_before_rename == [False, True]  # the data flushed before the rename, the folder after
    assert _hidden(tmp_path) == []


@pytest.mark.skipif(os.name == "nt", reason="a folder cannot be opened to flush it on Windows")
def test_files_written_together_are_all_flushed_before_any_rename_and_each_folder_once(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    paths = [tmp_path / "a" / "x.csv", tmp_path / "a" / "y.json", tmp_path / "b" / "z.png"]
    renamed_at_flush = []
    calls = _recording_fsync(monkeypatch)
    recording = os.fsync

    def fsync(fd):
        renamed_at_flush.append(sum(p.exists() for p in paths))
        recording(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    write_together({p: (lambda tmp, name=p.name: tmp.write_text(name)) for p in paths})

    assert [p.read_text() for p in paths] == ["x.csv", "y.json", "z.png"]
    files = [(False, p.stat().st_ino) for p in paths]
    folders = {(True, (tmp_path / name).stat().st_ino) for name in ("a", "b")}
    assert calls[:3] == files and set(calls[3:]) == folders and len(calls) == 5
    assert renamed_at_flush == [0, 0, 0, 3, 3]


def test_a_failing_fsync_keeps_the_earlier_file_leaves_no_temporary_and_names_the_file(tmp_path, monkeypatch):
    """EIO from the disk while the temporary is flushed: nothing renamed, the error about the result."""
    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    target = tmp_path / "result.json"
    target.write_text('{"old": true}\n')
    _recording_fsync(monkeypatch, fail=lambda folder: None if folder else OSError(errno.EIO, os.strerror(errno.EIO)))

    with pytest.raises(OSError) as caught:
        write_json(target, {"old": False})
    assert caught.value.errno == errno.EIO
    assert caught.value.filename == str(target)
    assert target.read_text() == '{"old": true}\n'
    assert _hidden(tmp_path) == []

    others = [tmp_path / "image.fits", tmp_path / "truth.json"]
    others[0].write_bytes(b"earlier")
    with pytest.raises(OSError) as caught:
        write_together({p: (lambda tmp: tmp.write_text("new")) for p in others})
    assert caught.value.errno == errno.EIO and caught.value.filename == str(others[0])
    assert others[0].read_bytes() == b"earlier" and not others[1].exists()
    assert _hidden(tmp_path) == []


def test_a_ctrl_c_while_the_temporary_is_flushed_removes_it_and_keeps_the_earlier_file(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    target = tmp_path / "row.json"
    target.write_text("earlier\n")

    def interrupted(folder):
        return None if folder else KeyboardInterrupt()

    _recording_fsync(monkeypatch, fail=interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, lambda tmp: tmp.write_text("new\n"))
    assert target.read_text() == "earlier\n"
    assert _hidden(tmp_path) == []


@pytest.mark.skipif(os.name == "nt", reason="a folder cannot be opened to flush it on Windows")
@pytest.mark.parametrize("refusal", [OSError(errno.EINVAL, os.strerror(errno.EINVAL)),
                                     PermissionError(errno.EACCES, os.strerror(errno.EACCES))],
                         ids=["EINVAL", "PermissionError"])
def test_a_folder_the_system_will_not_flush_is_passed_silently(tmp_path, monkeypatch, refusal):
    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    target = tmp_path / "catalog.csv"
    calls = _recording_fsync(monkeypatch, fail=lambda folder: refusal if folder else None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert write_atomic(target, lambda tmp: tmp.write_text("lens_id\nlens_0001\n")) == target
    assert target.read_text() == "lens_id\nlens_0001\n"
    assert (True, tmp_path.stat().st_ino) in calls  # tried, refused, passed by
    assert _hidden(tmp_path) == []


@pytest.mark.skipif(os.name == "nt", reason="a folder cannot be opened to flush it on Windows")
def test_a_folder_that_cannot_be_read_is_passed_silently(tmp_path, monkeypatch):
    """chmod 333: files can be made and renamed in it, but it cannot be opened to flush it."""
    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    folder = tmp_path / "out"
    folder.mkdir()
    real_open = os.open
    opened = []

    def open_(path, flags, *args, **kwargs):
        if Path(path) == folder:
            opened.append(path)
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    write_atomic(folder / "survey.json", lambda tmp: tmp.write_text("{}\n"))
    assert (folder / "survey.json").read_text() == "{}\n"
    assert opened  # the folder was to be flushed


@pytest.mark.skipif(os.name == "nt", reason="a folder cannot be opened to flush it on Windows")
def test_a_folder_flush_that_fails_names_the_file_which_is_in_place(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    target = tmp_path / "summary.csv"
    _recording_fsync(monkeypatch, fail=lambda folder: OSError(errno.EIO, os.strerror(errno.EIO)) if folder else None)
    with pytest.raises(OSError) as caught:
        write_atomic(target, lambda tmp: tmp.write_text("whole\n"))
    assert caught.value.errno == errno.EIO and caught.value.filename == str(target)
    assert target.read_text() == "whole\n"  # its data flushed before the rename: whole, whichever name survives
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("value", ["0", "off", " FALSE "])
def test_tinylens_fsync_0_turns_the_flushing_off(tmp_path, monkeypatch, value):
    target = tmp_path / "row.json"
    calls = _recording_fsync(monkeypatch)
    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    write_json(target, {"a": 1})
    assert calls  # flushed by default
    calls.clear()
    monkeypatch.setenv("TINYLENS_FSYNC", value)
    write_json(target, {"a": 2})
    write_together({tmp_path / "b.json": lambda tmp: tmp.write_text("b")})
    assert calls == []
    assert target.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":2}'


def test_a_disk_that_cannot_flush_a_file_is_written_as_before(tmp_path, monkeypatch):
    """EINVAL (or ENOTSUP) from fsync of the file itself: a mount that does not sync files (some
    FUSE mounts); the file is written, nothing said, rather than every write of tinylens refused."""
    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    target = tmp_path / "result.json"
    calls = _recording_fsync(monkeypatch, fail=lambda folder: OSError(errno.EINVAL, os.strerror(errno.EINVAL)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_json(target, {"log_evidence": -3.0})
    assert '"log_evidence": -3.0' in target.read_text()
    assert calls and calls[0] == (False, target.stat().st_ino)  # tried on the file, refused, passed by
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("value", ["none", "disabled", " Disable "])
def test_tinylens_fsync_takes_the_words_that_turn_the_compilation_cache_off(tmp_path, monkeypatch, value):
    """The README's words for turning a tinylens variable off ($TINYLENS_CACHE_DIR's) turn the flushing off too,
    rather than being passed by, the files flushed all the same."""
    from tinylens import atomic
    from tinylens.compilation import CACHE_OFF_WORDS

    monkeypatch.setattr(atomic, "_WARNED_FSYNC_VALUES", set(), raising=False)
    calls = _recording_fsync(monkeypatch)
    monkeypatch.setenv("TINYLENS_FSYNC", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_json(tmp_path / "row.json", {"a": 1})
        write_together({tmp_path / "b.json": lambda tmp: tmp.write_text("b")})
    assert calls == []
    assert set(atomic.FSYNC_OFF_WORDS) == set(CACHE_OFF_WORDS) - {""}  # one vocabulary; empty: the default here


def test_a_tinylens_fsync_typo_is_warned_of_once_and_the_files_are_still_flushed(tmp_path, monkeypatch):
    from tinylens import atomic

    monkeypatch.setattr(atomic, "_WARNED_FSYNC_VALUES", set(), raising=False)
    calls = _recording_fsync(monkeypatch)
    monkeypatch.setenv("TINYLENS_FSYNC", "fasle")
    with pytest.warns(UserWarning, match=r"TINYLENS_FSYNC='fasle' is neither on nor off.*TINYLENS_FSYNC=0 turns") as caught:
        write_json(tmp_path / "row.json", {"a": 1})
        write_json(tmp_path / "row.json", {"a": 2})
    assert len([w for w in caught if "TINYLENS_FSYNC" in str(w.message)]) == 1  # once, not at every file
    assert (False, (tmp_path / "row.json").stat().st_ino) in calls  # flushed, the safe side
    for value in ("1", "yes", " ON ", ""):  # the words that keep it on: no warning
        monkeypatch.setenv("TINYLENS_FSYNC", value)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            write_json(tmp_path / "row.json", {"a": 3})


@pytest.mark.parametrize("failing", ["flush", "fsync"])
def test_an_appended_record_whose_flush_fails_names_the_file_as_its_fsync_does(tmp_path, monkeypatch, failing):
    """sync_appended flushed Python's buffer (handle.flush) outside the try that names the file,
    so a disk failing there (EIO; an NFS's ENOSPC said at the flush) escaped as a bare
    '[Errno 5] Input/output error', no file named and not marked as an output's write, where the
    same failure at os.fsync named the file; both now raise the same error about the file."""
    from tinylens.atomic import sync_appended
    from tinylens.errors import written_output

    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    path = tmp_path / "attempts.txt"
    eio = OSError(errno.EIO, os.strerror(errno.EIO))
    if failing == "fsync":
        _recording_fsync(monkeypatch, fail=lambda folder: eio)

    class Handle:  # a buffered file whose flush meets the failing disk, as BufferedWriter's does
        def __init__(self, raw):
            self.raw = raw

        def flush(self):
            if failing == "flush":
                raise eio
            self.raw.flush()

        def fileno(self):
            return self.raw.fileno()

        def close(self):
            self.raw.close()

    with open(path, "ab") as raw:
        raw.write(b"a line\n")
        with pytest.raises(OSError) as caught:
            sync_appended(Handle(raw), path)
    assert caught.value.errno == errno.EIO and caught.value.filename == str(path), repr(caught.value)
    assert written_output(caught.value)


class _FullFsync:
    """A stand-in for macOS's fcntl module on any system: F_FULLFSYNC, and an fcntl that notes
    the (is a folder, inode) it flushes, or raises ``fail`` where that is not None."""

    F_FULLFSYNC = 51  # macOS's number; the value is only passed back here

    def __init__(self, fail=None):
        self.calls, self.fail = [], fail

    def fcntl(self, fd, command, arg=0):
        assert command == self.F_FULLFSYNC
        info = os.fstat(fd)
        self.calls.append((stat.S_ISDIR(info.st_mode), info.st_ino))
        if self.fail is not None:
            raise self.fail


@pytest.mark.skipif(os.name == "nt", reason="a folder cannot be opened to flush it on Windows")
def test_where_the_system_has_f_fullfsync_files_and_folders_are_flushed_past_the_drives_cache(tmp_path, monkeypatch):
    """On macOS os.fsync hands the data to the drive but not past the drive's own cache, so a power
    cut could still lose a result written just before, and tinylens called os.fsync alone there;
    where fcntl has F_FULLFSYNC the temporary and its folder are now flushed with it (os.fsync not
    called); where the disk refuses it (ENOTSUP: an SMB volume; EINVAL) os.fsync is used instead;
    another error of it (EIO) names the file, the earlier one kept."""
    from tinylens import atomic

    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    target = tmp_path / "result.json"
    full = _FullFsync()
    monkeypatch.setattr(atomic, "fcntl", full, raising=False)  # no such name in a tinylens that never used it
    fsynced = _recording_fsync(monkeypatch)
    write_json(target, {"new": 1})
    assert json.loads(target.read_text()) == {"new": 1}
    assert full.calls == [(False, target.stat().st_ino), (True, tmp_path.stat().st_ino)] and fsynced == []

    for refusal in (errno.ENOTSUP, errno.EINVAL):
        full = _FullFsync(OSError(refusal, os.strerror(refusal)))
        monkeypatch.setattr(atomic, "fcntl", full)
        fsynced.clear()
        write_json(target, {"new": refusal})
        assert json.loads(target.read_text()) == {"new": refusal}
        assert fsynced == full.calls == [(False, target.stat().st_ino), (True, tmp_path.stat().st_ino)]

    monkeypatch.setattr(atomic, "fcntl", _FullFsync(OSError(errno.EIO, os.strerror(errno.EIO))))
    fsynced.clear()
    with pytest.raises(OSError) as caught:
        write_json(target, {"new": "lost"})
    assert caught.value.errno == errno.EIO and caught.value.filename == str(target) and fsynced == []
    assert json.loads(target.read_text()) == {"new": errno.EINVAL} and _hidden(tmp_path) == []


def test_an_attempt_line_the_disk_refuses_at_its_flush_is_named_after_the_file_is_closed(tmp_path, monkeypatch):
    """sync_appended named the error of a failed flush of the attempts line, but note_attempt's
    ``with`` then closed the real buffered file, whose close wrote the refused line again, failed
    again and raised the bare '[Errno 5] Input/output error' (no file, not marked as an output's
    write) in place of the named one; the file is now closed there, and the named error is the
    one that leaves note_attempt."""
    import io

    from tinylens import filenames
    from tinylens.errors import written_output
    from tinylens.survey import attempts

    class FailingDisk(io.FileIO):  # reads and seeks as a file does; every write an input/output error
        def write(self, data):
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    opened = []

    def open_on_failing_disk(path, mode="r", *args, **kwargs):
        assert mode == "a+b", mode
        opened.append(io.BufferedRandom(FailingDisk(path, mode)))
        return opened[-1]

    monkeypatch.setattr(attempts, "open", open_on_failing_disk, raising=False)
    with pytest.raises(OSError) as caught:
        attempts.note_attempt(tmp_path, "0123456789abcdef")
    path = tmp_path / filenames.ATTEMPTS
    assert caught.value.errno == errno.EIO and caught.value.filename == str(path), repr(caught.value)
    assert written_output(caught.value) and opened[0].closed
    assert path.read_bytes() == b""


@pytest.mark.skipif(os.name == "nt", reason="a folder cannot be opened to flush it on Windows")
def test_a_volume_that_refuses_f_fullfsync_with_enotty_is_flushed_with_fsync_and_written(tmp_path, monkeypatch):
    """fcntl(F_FULLFSYNC) fails with ENOTTY ('Inappropriate ioctl for device') on a macOS WebDAV
    volume and on a drive that is not Apple's, where os.fsync works; flush_to_disk fell back to
    os.fsync only for EINVAL, ENOTSUP, EOPNOTSUPP and ENOSYS, so there every result, row.json and
    checkpoint failed to be written ('cannot be written: Inappropriate ioctl for device') where
    os.fsync alone had written it. Any refusal but a failed write's now falls back to os.fsync."""
    from tinylens import atomic

    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    target = tmp_path / "result.json"
    full = _FullFsync(OSError(errno.ENOTTY, os.strerror(errno.ENOTTY)))
    monkeypatch.setattr(atomic, "fcntl", full, raising=False)
    fsynced = _recording_fsync(monkeypatch)
    write_json(target, {"new": 1})
    assert json.loads(target.read_text()) == {"new": 1} and _hidden(tmp_path) == []
    assert fsynced == full.calls == [(False, target.stat().st_ino), (True, tmp_path.stat().st_ino)]


@pytest.mark.skipif(os.name == "nt", reason="a folder cannot be opened to flush it on Windows")
def test_the_readme_says_how_many_f_fullfsync_flushes_a_file_takes_and_no_figure_for_them(tmp_path, monkeypatch):
    """The README said flushing costs 'a few milliseconds a file on a local disk' for every system,
    though on macOS each file written takes F_FULLFSYNC flushes (counted here with a stand-in: the
    file, then its folder), each waiting for the drive's own cache, which costs more and was never
    measured. It now says the Linux figures are Linux's, how many F_FULLFSYNC flushes a file takes
    (the count below) and that their cost is not measured."""
    from pathlib import Path

    from tinylens import atomic

    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    full = _FullFsync()
    monkeypatch.setattr(atomic, "fcntl", full, raising=False)
    write_json(tmp_path / "result.json", {"new": 1})
    count = {1: "one", 2: "two", 3: "three"}[len(full.calls)]
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").split())
    paragraph = readme[readme.index("Each file is flushed to the disk"):readme.index("TINYLENS_FSYNC=0")]
    assert f"On macOS each file written takes {count} F_FULLFSYNC flushes" in paragraph, paragraph
    assert "On Linux that costs a few milliseconds a file" in paragraph and "has not been measured" in paragraph, paragraph
