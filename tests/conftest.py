"""Shared fixtures; the lenstronomy helpers live in ``oracle.py``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import os

import numpy as np
import pytest

#: The environment variables by which rich decides whether its stream is a terminal, a dumb one, and how
#: wide: a test run inherits them from its runner (a CI job's FORCE_COLOR=1 or TERM=dumb, an Emacs shell's
#: TERM=dumb, a terminal's COLUMNS), which made its plain-line tests draw live bars (FORCE_COLOR,
#: TTY_COMPATIBLE) and its bars drawn on a 60-column console come out 80 wide (TERM=dumb: rich's 80x25).
#: Removed for the whole run (its subprocesses too); a test that needs one sets it itself.
TERMINAL_VARIABLES = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "TERM", "COLUMNS", "LINES",
                      "JUPYTER_COLUMNS", "JUPYTER_LINES")
for _name in TERMINAL_VARIABLES:
    os.environ.pop(_name, None)


@pytest.fixture
def write_fits(tmp_path):
    """Write arrays to FITS files in tmp_path; returns a function name -> path."""
    from astropy.io import fits

    def _write(name: str, array: np.ndarray) -> str:
        path = tmp_path / name
        fits.PrimaryHDU(np.asarray(array, dtype=float)).writeto(path, overwrite=True)
        return str(path)

    return _write


@pytest.fixture
def python_sigint():
    """SIGINT with Python's own handler for the test, as in a ``tinylens`` started from a
    terminal. A test run started in the background by a shell without job control (``(bash
    .ci/run &)``, a batch script's ``&``) inherits SIGINT ignored, Python then keeps SIG_IGN, and
    the Ctrl-C tests failed without raising."""
    import signal

    found = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield found
    signal.signal(signal.SIGINT, found)


@pytest.fixture
def x64():
    """JAX in float64 for the test (:func:`oracle.x64`)."""
    from oracle import x64 as float64

    with float64():
        yield


@pytest.fixture
def nan_sie(monkeypatch):
    """``install(when)``: make the SIE's deflection NaN where ``when(p)`` holds (default: for every
    parameter set), for the checks that must refuse a likelihood that is finite nowhere, or not at
    the prior median. No real profile gives one: an SIE of axis ratio 2.5e-5 did, in float32, until
    its deflection was made finite there."""
    import jax.numpy as jnp

    from tinylens.profiles.mass import MASS_PROFILES, MassProfile

    def install(when=lambda p: True) -> None:
        real = MASS_PROFILES["SIE"]

        def deflection(x, y, p):
            ax, ay = real.deflection(x, y, p)
            bad = when(p)
            return jnp.where(bad, jnp.nan, ax), jnp.where(bad, jnp.nan, ay)

        monkeypatch.setitem(MASS_PROFILES, "SIE", MassProfile("SIE", real.params, deflection, real.defaults, real.aliases))

    return install


@pytest.fixture
def full_disk(monkeypatch):
    """``install(writer, marker)``: ``Path.<writer>`` (``"write_text"`` or ``"write_bytes"``) of a
    file whose name holds ``marker`` (a temporary's: ``".truth.unfinished-"``) fails as a write
    that found the disk full does (ENOSPC, naming no file); every other file is written as before."""
    import errno
    import os
    from pathlib import Path

    def install(writer: str, marker: str) -> None:
        real = getattr(Path, writer)

        def full(self, *args, **kwargs):
            if marker in self.name:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(Path, writer, full)

    return install


@pytest.fixture
def failing_flock(monkeypatch):
    """``install(code)``: ``fcntl.flock`` fails with ``code`` on every file, as on a file system
    that answers so: without locks (NFS without its lock daemon: ENOLCK; Lustre mounted without
    flock: ENOSYS), or failing (EIO)."""
    import fcntl
    import os

    def install(code: int) -> None:
        def failing(fd, operation):
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(fcntl, "flock", failing)

    return install


@pytest.fixture
def refused_read(monkeypatch):
    """``install(path)``: reading ``path`` fails as a file this user may not read does (EACCES,
    naming it; the tests may run as root, whom permissions do not stop), where it is read by
    ``Path.read_text`` or opened for reading alone by ``os.open`` (as tinylens.jsonfile does);
    every other file, and opening ``path`` to write, as before."""
    import errno
    import os

    def install(path) -> None:
        _refuse(monkeypatch, "read_text", lambda asked: asked == Path(path))
        real = os.open

        def refusing(file, flags, *args, **kwargs):
            if Path(file) == Path(path) and not flags & (os.O_WRONLY | os.O_RDWR):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
            return real(file, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing)

    return install


@pytest.fixture
def refused_below(monkeypatch):
    """``install(folder)``: ``Path.stat`` of anything below ``folder`` fails as behind a folder
    this user may not enter does (EACCES, naming it; the tests may run as root, whom permissions
    do not stop); ``folder`` itself and every other path as before."""
    return lambda folder: _refuse(monkeypatch, "stat", lambda asked: folder in asked.parents)


def _refuse(monkeypatch, method: str, refused: Callable[[Path], bool]) -> None:
    """Make ``Path.<method>`` of each path for which ``refused`` is true fail as the system refuses
    a user (EACCES, naming the path); every other path as before."""
    import errno
    import os

    real = getattr(Path, method)

    def refusing(self, *args, **kwargs):
        if refused(Path(self)):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, method, refusing)


@pytest.fixture
def not_ours(monkeypatch):
    """``install(path, code=errno.EACCES)``: opening ``path`` for writing fails with ``code``, as
    another user's file does (the tests run as root, whom permissions do not stop); reading it,
    and every other file, as before."""
    import errno
    import os
    from pathlib import Path

    def install(path: Path, code: int = errno.EACCES) -> None:
        real = os.open

        def fake(file, flags, *args, **kwargs):
            if Path(file) == Path(path) and flags & (os.O_WRONLY | os.O_RDWR):
                raise PermissionError(code, os.strerror(code), str(file))
            return real(file, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", fake)

    return install


@pytest.fixture
def fail_folder_flushes(monkeypatch) -> Callable[[], None]:
    """Called, makes ``os.fsync`` raise EIO for a folder's descriptor while a file's flush goes through:
    a disk failing just after a write's rename (``monkeypatch.undo()`` ends it)."""
    import errno
    import stat

    def failing() -> None:
        real = os.fsync

        def failed_on_folders(fd: int) -> None:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            return real(fd)

        monkeypatch.setattr(os, "fsync", failed_on_folders)

    return failing
