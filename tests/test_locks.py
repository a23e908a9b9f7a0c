"""Folder locks: a second holder is refused (or waits), a killed holder leaves nothing locked."""

from __future__ import annotations

import errno
import os
import pwd
import signal
import subprocess
import sys
import threading
import time

import pytest

from tinylens.errors import OutputError
from tinylens.locks import folder_lock, holder_text

BUSY = "folder in use{holder}; try later"


def test_second_holder_is_refused_with_the_first_ones_name(tmp_path):
    with folder_lock(tmp_path, ".x.lock", busy=BUSY):
        assert f"process {os.getpid()} on " in holder_text(tmp_path / ".x.lock")
        with pytest.raises(OutputError, match=rf"^folder in use \(process {os.getpid()} on .+, since .+\); try later$"):
            with folder_lock(tmp_path, ".x.lock", busy=BUSY):
                pass
        with folder_lock(tmp_path, ".y.lock", busy=BUSY):  # another name is another lock
            pass
    assert not (tmp_path / ".x.lock").exists()  # released and removed
    with folder_lock(tmp_path, ".x.lock", busy=BUSY):
        pass


def test_lock_of_a_killed_process_is_free(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from tinylens.locks import folder_lock\n"
         "with folder_lock(Path(sys.argv[1]), '.x.lock'):\n print('held', flush=True); time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match=rf"process {holder.pid} on "):
            with folder_lock(tmp_path, ".x.lock", busy=BUSY):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    assert (tmp_path / ".x.lock").exists()  # a killed holder cannot remove its file, but the lock is gone
    with folder_lock(tmp_path, ".x.lock", busy=BUSY):
        assert f"process {os.getpid()} on " in holder_text(tmp_path / ".x.lock")


def test_waiter_gets_the_lock_when_the_holder_releases_it(tmp_path):
    """The holder removes the lock file on release; a process that waited on that file must lock
    the new one, or a third process could hold the lock at the same time."""
    order: list[str] = []
    release = threading.Event()

    def hold() -> None:
        with folder_lock(tmp_path, ".x.lock", busy=BUSY):
            order.append("first")
            release.wait(10)

    def wait_for_it() -> None:
        with folder_lock(tmp_path, ".x.lock", wait=True):
            order.append("second")
            time.sleep(0.5)
            try:
                with folder_lock(tmp_path, ".x.lock", busy=BUSY):
                    order.append("third")
            except OutputError:
                order.append("third refused")

    first = threading.Thread(target=hold)
    first.start()
    while not order:
        time.sleep(0.01)
    second = threading.Thread(target=wait_for_it)
    second.start()
    time.sleep(0.3)
    assert order == ["first"]  # the second waits
    release.set()
    first.join(10)
    second.join(10)
    assert order == ["first", "second", "third refused"]


def test_a_folder_of_the_lock_files_name_is_named_not_taken_for_a_lack_of_locks(tmp_path):
    """A folder where the lock file goes was taken for a file system without locks: the block
    ran unlocked (a second process was not refused), and the survey warned that the disk has no
    locks. It is now an OutputError naming it and what to do; the block does not run and the
    folder is left as it was."""
    (tmp_path / ".x.lock").mkdir()
    ran = []
    with pytest.raises(OutputError) as caught:
        with folder_lock(tmp_path, ".x.lock", busy=BUSY):
            ran.append(True)
    assert str(caught.value) == (f"{tmp_path / '.x.lock'} is a folder, where tinylens keeps the lock file that "
                                 f"stops two processes writing {tmp_path} at once. Remove or rename it, and run the "
                                 "command again.")
    assert ran == [] and (tmp_path / ".x.lock").is_dir()


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM])
def test_another_users_lock_file_is_named_not_taken_for_a_lack_of_locks(tmp_path, not_ours, code):
    """A lock file this user may not open (left in a shared folder by another user's killed job)
    was taken for a file system without locks: the block ran unlocked, and the survey warned
    that the disk has no locks. It is now an OutputError naming the file, its owner, and what to
    do; the block does not run and the file is left as it was."""
    path = tmp_path / ".x.lock"
    path.write_text("process 12 on node3, since long ago")
    not_ours(path, code)
    ran = []
    with pytest.raises(OutputError) as caught:
        with folder_lock(tmp_path, ".x.lock", busy=BUSY):
            ran.append(True)
    owner = pwd.getpwuid(os.getuid()).pw_name
    # what the file is, who made it and that, its lock free, it may be removed, for a user who does not know it
    assert str(caught.value) == (f"The lock file {path} (owned by {owner}) cannot be opened ({os.strerror(code)}). "
                                 f"tinylens keeps such a file in {tmp_path} while one of its processes writes there, "
                                 "so that no other one writes there at the same time; this one was made by a tinylens "
                                 "process of another user (process 12 on node3, since long ago). Nobody holds its "
                                 "lock now: that process ended without removing the file (killed, or its node lost), "
                                 "and the operating system released its lock then, so removing the file is safe: "
                                 f"remove {path} (or ask its owner to) and run the command again.")
    assert ran == [] and path.read_text() == "process 12 on node3, since long ago"


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.ENOSYS])
def test_another_users_lock_file_whose_lock_cannot_be_tested_is_not_said_to_be_free(tmp_path, not_ours,
                                                                                    failing_flock, code):
    """Another user's lock file on a file system whose flock answers that it has no locks here (an
    NFS client without its lock daemon, while another node's holder keeps its lock) was said to be
    held by nobody, 'so removing the file is safe', as one whose lock was tested free: its lock
    could not be tested. It now says that whether its process still writes there cannot be told."""
    from tinylens.locks import held_by

    path = tmp_path / ".x.lock"
    path.write_text("process 12 on node3, since long ago")
    not_ours(path)
    failing_flock(code)
    with pytest.raises(OutputError) as caught:
        with folder_lock(tmp_path, ".x.lock", busy=BUSY):
            pass
    text = " ".join(str(caught.value).split())
    assert "Nobody holds its lock now" not in text
    assert ("(process 12 on node3, since long ago). Whether that process still writes there cannot be told: if it "
            "does, wait for it to finish.") in text
    assert text.endswith(f"remove {path} (or ask its owner to) and run the command again.")
    assert held_by(path) is None and path.read_text() == "process 12 on node3, since long ago"


def test_another_users_lock_file_held_now_is_refused_as_busy(tmp_path, not_ours):
    """Where another user's process holds the lock file now, the usual refusal, naming it."""
    with folder_lock(tmp_path, ".x.lock"):
        not_ours(tmp_path / ".x.lock")
        with pytest.raises(OutputError, match=rf"^folder in use \(process {os.getpid()} on .+\); try later$"):
            with folder_lock(tmp_path, ".x.lock", busy=BUSY):
                pass


def test_a_lock_file_that_cannot_be_made_says_the_folder_is_not_writable(tmp_path, not_ours):
    not_ours(tmp_path / ".x.lock")
    with pytest.raises(OutputError, match=rf"^The lock file {tmp_path / '.x.lock'} cannot be made \(Permission "
                                          rf"denied\): this user may not write {tmp_path} \(owned by "):
        with folder_lock(tmp_path, ".x.lock"):
            pass
    assert not (tmp_path / ".x.lock").exists()


def test_default_message_names_the_folder(tmp_path):
    with folder_lock(tmp_path, ".x.lock"):
        with pytest.raises(OutputError, match=rf"^{tmp_path} is in use by another tinylens process \(process "):
            with folder_lock(tmp_path, ".x.lock"):
                pass


def test_held_by_reads_who_holds_a_lock_without_taking_it(tmp_path):
    from tinylens.locks import held_by

    path = tmp_path / ".x.lock"
    assert held_by(path) is None and not path.exists()  # nothing created
    with folder_lock(tmp_path, ".x.lock"):
        assert held_by(path).startswith(f"process {os.getpid()} on ")
        with pytest.raises(OutputError):  # still held: held_by took nothing away
            with folder_lock(tmp_path, ".x.lock"):
                pass
    path.write_text("process 1 on gone, since long ago")  # the file of a killed holder: not held
    assert held_by(path) is None


@pytest.mark.parametrize("code", ["EIO", "EBADF"])
def test_held_by_a_lock_file_that_cannot_be_tested_is_not_said_to_be_free(tmp_path, failing_flock, code):
    """A flock error other than 'held' and 'no locks here' (a failing disk: EIO) was read as
    'nobody holds it' (a dry run said no survey wrote --out); held_by now raises HolderUnknown
    naming the lock file and the error, and refuse_if_held leaves the refusal to folder_lock,
    which names them too. On a file system without locks nobody can hold it: None, as before."""
    from tinylens.locks import HolderUnknown, held_by, refuse_if_held

    path = tmp_path / ".x.lock"
    path.write_text("process 12 on node3, since long ago")
    number = getattr(errno, code)
    failing_flock(number)
    with pytest.raises(HolderUnknown) as caught:
        held_by(path)
    assert isinstance(caught.value, OutputError)
    assert str(caught.value) == (f"Whether another tinylens process writes {tmp_path} now cannot be told: its lock "
                                 f"file {path} cannot be tested ({os.strerror(number)}, {code}).")
    refuse_if_held(tmp_path, ".x.lock", BUSY)  # not refused as busy: folder_lock says why it cannot lock
    with pytest.raises(OutputError, match=r"^The lock file .+ cannot be locked "):
        with folder_lock(tmp_path, ".x.lock", busy=BUSY):
            pass
    failing_flock(errno.ENOLCK)
    assert held_by(path) is None and held_by(tmp_path / "missing" / ".x.lock") is None


@pytest.mark.parametrize("name", ["EACCES", "EIO"])
def test_held_by_a_lock_file_that_cannot_be_read_is_not_said_to_be_free(tmp_path, monkeypatch, name):
    """A lock file this user may not read (another user's, mode 600) or that a failing disk will
    not open was read as 'nobody holds it'; held_by now raises HolderUnknown naming it and the
    error. folder_lock's refusal of such a file is as before (it says the file may be held)."""
    from tinylens.locks import HolderUnknown, held_by

    path = tmp_path / ".x.lock"
    path.write_text("process 12 on node3, since long ago")
    code = getattr(errno, name)
    real = os.open

    def refused(file, flags, *args, **kwargs):
        if str(file) == str(path):
            raise (PermissionError if code == errno.EACCES else OSError)(code, os.strerror(code), str(file))
        return real(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    with pytest.raises(HolderUnknown) as caught:
        held_by(path)
    assert str(caught.value) == (f"Whether another tinylens process writes {tmp_path} now cannot be told: its lock "
                                 f"file {path} cannot be opened ({os.strerror(code)}, {name}).")
    if code == errno.EACCES:
        with pytest.raises(OutputError) as refused:
            with folder_lock(tmp_path, ".x.lock", busy=BUSY):
                pass
        # its lock not tested (the fake refuses os.open only: its text is read): it says so, and to wait if it runs
        assert str(refused.value) == (
            f"The lock file {path} (owned by {pwd.getpwuid(os.getuid()).pw_name}) cannot be opened (Permission "
            f"denied). tinylens keeps such a file in {tmp_path} while one of its processes writes there, so that no "
            "other one writes there at the same time; this one was made by a tinylens process of another user "
            "(process 12 on node3, since long ago). Whether that process still writes there cannot be told: if it does, wait for it to finish. Once it has "
            "ended, removing the file is safe (the operating system releases a process's lock when the process ends, "
            f"even if it is killed): remove {path} (or ask its owner to) and run the command again.")


def test_a_lock_tried_while_held_by_tests_it_is_taken_not_refused(tmp_path, monkeypatch):
    """held_by holds a shared lock for the microseconds of its test; a fit whose exclusive try met
    it (another fit's early check, a survey's status, at that moment) was refused as busy with no
    holder named, though nobody ran there, and left an empty lock file. The try now goes on for a
    few milliseconds: here held_by (in a thread, as another process) holds its shared lock until
    the first exclusive try has been refused, then lets go, and the lock is taken."""
    import fcntl

    from tinylens.locks import held_by

    path = tmp_path / ".x.lock"
    real = fcntl.flock
    shared_taken, tried = threading.Event(), threading.Event()
    seen: dict = {}

    def tester() -> None:
        seen["held_by"] = held_by(path)

    def flock(fd, operation):
        if operation & fcntl.LOCK_SH:  # held_by's test: it holds the shared lock till the fit's try has met it
            real(fd, operation)
            shared_taken.set()
            assert tried.wait(10)
            return
        if "first" in seen:
            return real(fd, operation)
        thread = threading.Thread(target=tester)
        thread.start()
        assert shared_taken.wait(10)
        try:
            real(fd, operation)
            seen["first"] = "taken"
        except OSError as exc:
            seen["first"] = exc.errno
            raise
        finally:
            tried.set()
            thread.join(10)

    monkeypatch.setattr(fcntl, "flock", flock)
    with folder_lock(tmp_path, ".x.lock", busy=BUSY) as locked:
        assert locked is True and holder_text(path).startswith(f"process {os.getpid()} on ")
    assert seen["first"] in (errno.EAGAIN, errno.EWOULDBLOCK)  # the interleaving happened: the first try was refused
    assert seen["held_by"] is None  # nobody held it: the tester was right
    assert not path.exists()  # released and removed: no empty lock file left


def test_refuse_if_held_raises_what_the_lock_would_and_writes_nothing(tmp_path):
    from tinylens.locks import refuse_if_held

    refuse_if_held(tmp_path, ".x.lock", BUSY)  # free: nothing raised, nothing created
    assert not (tmp_path / ".x.lock").exists()
    with folder_lock(tmp_path, ".x.lock"):
        with pytest.raises(OutputError, match=rf"^folder in use \(process {os.getpid()} on .+\); try later$"):
            refuse_if_held(tmp_path, ".x.lock", BUSY)


@pytest.mark.parametrize("code", ["ENOLCK", "EOPNOTSUPP", "ENOSYS", "EINVAL"])
def test_a_file_system_without_locks_runs_the_block_unlocked(tmp_path, failing_flock, code):
    """NFS without its lock daemon (ENOLCK), Lustre mounted without flock (ENOSYS), others
    (EOPNOTSUPP, EINVAL on some FUSE and SMB mounts): the block runs, told it is unlocked, and no empty lock file is left."""
    failing_flock(getattr(errno, code))
    with folder_lock(tmp_path, ".x.lock", busy=BUSY) as locked:
        assert locked is False
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", ["EIO", "EBADF"])
def test_another_flock_error_is_named_not_taken_for_a_lack_of_locks(tmp_path, failing_flock, code):
    """A flock error other than 'held' and 'no locks here' (a failing disk: EIO) was taken for a
    file system without locks: the block ran unlocked, and the survey warned that the disk has no
    locks. It is now an OutputError naming the lock file and the error; the block does not run."""
    number = getattr(errno, code)
    failing_flock(number)
    ran = []
    with pytest.raises(OutputError) as caught:
        with folder_lock(tmp_path, ".x.lock", busy=BUSY):
            ran.append(True)
    assert str(caught.value) == (f"The lock file {tmp_path / '.x.lock'} cannot be locked ({os.strerror(number)}, "
                                 f"{code}), so tinylens cannot make sure that no other process writes {tmp_path} at "
                                 "the same time. Check that the folder and its disk can be written, and run the "
                                 "command again.")
    assert ran == [] and list(tmp_path.iterdir()) == []  # the empty file it made, removed


def test_a_lock_file_that_cannot_be_opened_for_another_reason_is_named(tmp_path, monkeypatch):
    """An error opening the lock file other than permission, a folder of its name or a disk that
    refuses writes (here a folder that is gone, ENOENT; likewise EIO, EMFILE...) ran the block
    unlocked, as on a file system without locks. It is now an OutputError naming the file and
    the error; the block does not run."""
    gone = tmp_path / "gone"
    ran = []
    with pytest.raises(OutputError) as caught:
        with folder_lock(gone, ".x.lock", busy=BUSY):
            ran.append(True)
    assert str(caught.value).startswith(f"The lock file {gone / '.x.lock'} cannot be opened ("
                                        f"{os.strerror(errno.ENOENT)}, ENOENT), so tinylens cannot make sure that "
                                        f"no other process writes {gone} at the same time.")
    assert ran == [] and not gone.exists()


@pytest.mark.parametrize("code", ["ENOSPC", "EDQUOT", "EROFS"])
def test_a_disk_that_refuses_the_lock_file_raises_its_oserror_naming_it(tmp_path, monkeypatch, code):
    """A full disk, a full quota or a read-only disk where the lock file is made ran the block
    unlocked, as on a file system without locks (the survey warned so). The disk's OSError is now
    raised, naming the lock file, for the callers to report as a full or read-only disk
    (tinylens.fit's disk_full_reported, the survey's unwritable_reported, the command line's
    handler); the block does not run."""
    number = getattr(errno, code, errno.ENOSPC)
    path = tmp_path / ".x.lock"
    real = os.open

    def refused(file, flags, *args, **kwargs):
        if str(file) == str(path):
            raise OSError(number, os.strerror(number), str(file))
        return real(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    ran = []
    with pytest.raises(OSError) as caught:
        with folder_lock(tmp_path, ".x.lock", busy=BUSY):
            ran.append(True)
    assert not isinstance(caught.value, OutputError)
    assert caught.value.errno == number and caught.value.filename == str(path) and ran == []


@pytest.mark.parametrize("where", ["waiting", "locked"])
def test_ctrl_c_while_taking_a_lock_leaves_no_descriptor_open_and_no_lock_held(tmp_path, monkeypatch, where):
    """A KeyboardInterrupt in the blocking flock of a waiting lock (a survey's lens folder, a
    report's), or just after the flock took it, left the lock file's descriptor open, and in
    the second case the lock held by this process until it ended (a notebook's next fit there
    refused as busy). The descriptor is now closed and the lock free."""
    import fcntl

    path = tmp_path / ".x.lock"
    taken, closed = [], []
    real_flock, real_stat, real_close = fcntl.flock, os.stat, os.close

    def flock(fd, operation):
        taken.append(fd)
        if where == "waiting":
            raise KeyboardInterrupt
        real_flock(fd, operation)

    def stat(file, *args, **kwargs):
        if str(file) == str(path) and where == "locked":
            raise KeyboardInterrupt
        return real_stat(file, *args, **kwargs)

    def close(fd):
        closed.append(fd)
        real_close(fd)

    with monkeypatch.context() as patched:
        patched.setattr(fcntl, "flock", flock)
        patched.setattr(os, "stat", stat)
        patched.setattr(os, "close", close)
        with pytest.raises(KeyboardInterrupt):
            with folder_lock(tmp_path, ".x.lock", wait=True):
                pass
    assert len(taken) == 1 and taken[0] in closed
    with folder_lock(tmp_path, ".x.lock", busy=BUSY) as locked:  # free: not refused as held by this process
        assert locked is True


def test_ctrl_c_just_after_the_lock_is_taken_leaves_no_descriptor_open_and_no_lock_held(tmp_path):
    """A KeyboardInterrupt arriving between _acquire's return and the block that releases the lock
    (the lines that tell a busy or unsupported lock apart) left the lock file's descriptor open and
    the lock held by this process until it ended. The interrupt is raised there by a trace
    function, as Python raises a Ctrl-C between two lines; the lock is then free."""
    import tinylens.locks as locks

    interrupted = []

    def tracer(frame, event, arg):
        if frame.f_code is not locks.folder_lock.__wrapped__.__code__:
            return None

        def lines(frame, event, arg):
            if event == "line" and not interrupted and isinstance(frame.f_locals.get("fd"), int):
                interrupted.append(frame.f_locals["fd"])
                raise KeyboardInterrupt
            return lines
        return lines

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        with pytest.raises(KeyboardInterrupt):
            with folder_lock(tmp_path, ".x.lock", busy=BUSY):
                pass
    finally:
        sys.settrace(previous)
    assert len(interrupted) == 1 and not (tmp_path / ".x.lock").exists()  # released as at a block's end
    with folder_lock(tmp_path, ".x.lock", busy=BUSY) as locked:  # free: not refused as held by this process
        assert locked is True
