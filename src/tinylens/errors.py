"""Exceptions for mistakes in user input, and :func:`listed`, :func:`counted`, :func:`plural`, :func:`lens_count`,
:func:`did_you_mean`, :func:`windows_path_advice`, :func:`priors_and_data` and :func:`ls_command` for their messages.

The CLI turns a :class:`TinyLensError` into a one-paragraph message and a non-zero exit
code, never a traceback; anything else is a bug in tinylens. :data:`DISK_FULL` and
:data:`UNWRITABLE` are the error numbers of a write that the disk refused.
"""

import contextvars
import difflib
import errno
import numbers
import os
import re
import shlex
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

#: The errors of a write that found no space: a full disk (ENOSPC), or a full quota on it (EDQUOT).
DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
#: The errors of a write that the disk refused, not tinylens: :data:`DISK_FULL`, or a file system
#: mounted read-only (EROFS).
UNWRITABLE = DISK_FULL | {errno.EROFS}
#: The errors of a write that a failing disk or network file system refused, not tinylens: an
#: input/output error (EIO, a failing disk or a lost network mount), a file larger than the disk or
#: this user's limit allows (EFBIG), a file or folder a network file system lost (ESTALE, NFS) and a
#: lock it could not give (ENOLCK). Said as a user's matter only where tinylens's writer of an output
#: file raised it (:func:`written_output`), not where tinylens read a file or asked another thing.
DISK_FAILED = frozenset({errno.EIO, errno.EFBIG, getattr(errno, "ESTALE", errno.EIO), errno.ENOLCK})
#: The attribute :mod:`tinylens.atomic` sets on the OSError of a file it was writing (:func:`written_output`).
WRITTEN_ATTR = "tinylens_output_file"


#: The attribute :func:`tinylens.atomic.sync_folders` sets, besides :data:`WRITTEN_ATTR`, on the OSError
#: of flushing a folder after its new files were renamed into it: those files are whole and in place (the
#: earlier ones gone), only their renaming may not be on the disk yet (:func:`failed_write_left_text`).
REPLACED_ATTR = "tinylens_output_replaced"


def failed_write_left_text(exc: BaseException, name: str, none_left: str = "no half-written file is left") -> str:
    """What a write of the file ``name`` that ended in ``exc`` (:func:`written_output`) left: where
    it failed before the rename, no half-written file and the earlier one kept; where only the
    folder's flush after it failed (:data:`REPLACED_ATTR`), the new file whole and in place, which a
    crash of the machine before the disk recovers may undo. ``none_left``: how the first says that
    nothing is half-written."""
    if getattr(exc, REPLACED_ATTR, False) is True:
        return (f"the new {name} is whole and in place (the earlier one replaced), but its folder could not be "
                "flushed to the disk after the rename, so a crash of the machine may yet lose that rename")
    return f"{none_left} and the earlier {name}, if there was one, is kept"


def written_output(exc: BaseException) -> bool:
    """Whether ``exc`` is an OSError that tinylens's writer of an output file raised about it
    (:mod:`tinylens.atomic`: writing its temporary, flushing it to the disk or renaming it)."""
    return isinstance(exc, OSError) and getattr(exc, WRITTEN_ATTR, False) is True


#: The attribute :func:`tinylens.inference.common.h5_system_error` sets on the OSError of a
#: checkpoint that HDF5 could not lock (ENOLCK: an NFS mount without its lock service), where running
#: again fails the same way until HDF5 is told not to lock (:data:`H5_LOCKING_OFF`).
H5_LOCK_ATTR = "tinylens_hdf5_lock"
#: The environment variable, and its value, that makes HDF5 open its files without locking them.
H5_LOCKING_OFF = "HDF5_USE_FILE_LOCKING=FALSE"


def h5_lock_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is an OSError of HDF5 failing to lock the file it wrote (:data:`H5_LOCK_ATTR`)."""
    return isinstance(exc, OSError) and getattr(exc, H5_LOCK_ATTR, False) is True


def disk_failed_text(exc: OSError) -> str:
    """Why the write of an OSError ``exc`` of :data:`DISK_FAILED` failed, in the user's words, after
    the system's reason: ``the disk, or the network file system it is on, failed the write``."""
    if h5_lock_failed(exc):
        return "HDF5 locks each file it writes, and this file system gives no locks (NFS without its lock service)"
    if exc.errno == errno.EFBIG:
        return "the file is larger than the disk, or this user's file size limit (ulimit -f), allows"
    if exc.errno == getattr(errno, "ESTALE", None):
        return "the network file system lost the file or its folder (a stale NFS file handle)"
    if exc.errno == errno.ENOLCK:
        return "the network file system could not give a lock"
    return "the disk, or the network file system it is on, failed the write"


#: The attribute a command sets on an OSError of :data:`DISK_FAILED` to say what of its earlier work
#: is kept and how to go on (a fit's checkpoints: ``and the checkpoints written before are kept: ...``).
KEPT_ATTR = "tinylens_kept"

#: What to check after a write of :data:`DISK_FAILED`, before the command is run again.
DISK_CHECK = ("check the disk or the network mount of the output folder (dmesg shows the system's disk errors; "
              "df -h that folder, that it is mounted)")


def disk_check_text(exc: BaseException) -> str:
    """What to do, before the command is run again, after a write of :data:`DISK_FAILED` (``exc``):
    :data:`DISK_CHECK`; for HDF5's lock refused (:func:`h5_lock_failed`), which no disk check
    mends and a run again meets the same way, to set :data:`H5_LOCKING_OFF`."""
    if h5_lock_failed(exc):
        return (f"set the environment variable {H5_LOCKING_OFF} (export {H5_LOCKING_OFF} in the shell or the "
                "job script; without it, a run again fails the same way)")
    return DISK_CHECK


#: The errors of looking at a path that Path.exists takes for 'nothing there' (pathlib's own list);
#: another (a name too long for the system, ENAMETOOLONG; a failing disk, EIO) it raises.
MISSING_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


def counted(n: int, noun: str, spec: str = "") -> str:
    """``1 pixel``, ``0 pixels``, ``12 NaN or infinite pixels``: ``n`` (formatted by ``spec``:
    ``","`` gives ``1,000 draws``) and ``noun``, with an 's' unless ``n`` is 1."""
    return f"{n:{spec}} {plural(n, noun)}"


def plural(n: int, noun: str) -> str:
    """``noun`` as said of ``n`` of it, without the number: ``row`` for 1, ``rows`` for 0 or 3
    (``unknown option`` / ``unknown options``, where the items follow)."""
    return noun if n == 1 else f"{noun}s"


def lens_count(n: int, kind: str = "") -> str:
    """``1 lens``, ``0 lenses``, ``12 lenses``; with a ``kind``, ``1 ok lens``, ``3 matched lenses``
    (:func:`counted` would write 'lenss')."""
    noun = f"{kind} lens" if kind else "lens"
    return f"{n} {noun}" if n == 1 else f"{n} {noun}es"


def ls_command(*paths: str | os.PathLike[str], option: str = "-ld") -> str:
    """The shell command that shows the owner and permissions of ``paths``, quoted for a shell:
    ``ls -ld '/data/lens 1/out' '/data/lens 1'`` (``option`` ``-l`` for a file), for the advice of
    a PermissionError."""
    return shlex.join(["ls", option, *map(os.fspath, paths)])


def listed(items: Sequence[str], limit: int = 5, sep: str = ", ") -> str:
    """``a, b, c and 4 more``: the first ``limit`` of ``items`` joined by ``sep``, and how many
    are left out (after ``sep`` too when it is not a comma: ``a; b; and 4 more``)."""
    items = list(items)
    if len(items) <= limit:
        return sep.join(items)
    before_and = "" if sep.strip() == "," else sep.rstrip()
    return sep.join(items[:limit]) + f"{before_and} and {len(items) - limit} more"


def in_config_file(config: Any) -> str:
    """``In config file PATH: `` (``~`` expanded), the start of a message about a config given as a
    file's path (a str or pathlib.Path); "" for one given otherwise (a mapping, a Config, None)."""
    from pathlib import Path

    return f"In config file {Path(config).expanduser()}: " if isinstance(config, (str, Path)) else ""


def priors_and_data(of: str = "", examples: str = "an ellipticity near 1, sizes near 0") -> str:
    """What an error where the posterior is finite nowhere asks the user to check, after its own
    'Check' (or 'or check'): the priors (``of`` whom, if given; ``examples`` of what to look for)
    and the data, and where the priors are listed."""
    whose = f" of {of}" if of else ""
    return f"the priors{whose} ({examples}) and the data (image, noise, mask); `tinylens validate` lists the priors."


def outside_stacklevel() -> int:
    """The ``stacklevel`` for a ``warnings.warn`` in the function calling this one that shows the
    warning at the first line outside tinylens on the way to it (the user's own call in a notebook
    or script), not at a line of tinylens's own, whatever the path that led there."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "tinylens":
        frame, level = frame.f_back, level + 1
    return level if frame is not None else 1


#: What a message adds after a whole number no float holds (:func:`no_float_holds`).
BEYOND_FLOAT = " (beyond the range of a float, about +-1.8e308)"


def no_float_holds(value: Any) -> bool:
    """Whether ``value`` is a whole number too large for a float (``float`` raises OverflowError for
    it: 400 digits written out; YAML reads ``1e400`` as .inf, not as such a number)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        return False
    try:
        float(value)
    except OverflowError:
        return True
    return False


def cut_value(text: str, limit: int, value: Any = None) -> str:
    """``text`` (a value as a message shows it) whole where it has at most ``limit`` characters; else
    its first ``limit - 3``, "..." and how long it is in all, ``'xxxxx... (300 characters)'``, so that
    the full stop or comma a message puts after a value does not run into the ellipsis ("...."). A
    backslash escape left incomplete by the cut, and spaces before it, are dropped. The length is
    that of ``value`` where it is text (the user's characters, not the quotes and escapes of
    ``text``, its repr: a 300-character string is 300, not 302), else of ``text``."""
    if len(text) <= limit:
        return text
    length = len(value) if isinstance(value, str) else len(text)
    kept = re.sub(r"((?:^|[^\\])(?:\\\\)*)\\(?:x[0-9a-fA-F]?|u[0-9a-fA-F]{0,3}|U[0-9a-fA-F]{0,7}|N\{[^}]*)?$", r"\1",
                  text[: max(limit - 3, 1)])  # an odd backslash at the end starts an escape the cut split
    return f"{kept.rstrip()}... ({length} characters)"


def did_you_mean(unknown: Sequence[object], allowed: Sequence[str], aliases: Mapping[str, str] | None = None) -> str:
    """`` Did you mean 'theta_E' instead of 'thetaE'?`` for each of ``unknown`` close to one of
    ``allowed``, or one of ``aliases`` (pointed to its name however far: ``name`` to ``lens_id``),
    with its leading space; empty when none is."""
    hints, aliases = [], aliases or {}
    for name in unknown:
        bare = "".join(c for c in str(name) if not _hidden(c))
        if bare != str(name) and bare in allowed:
            hints.append(hidden_note(str(name), bare))
            continue
        close = aliases.get(str(name)) or closest(str(name), allowed)
        if close:
            hints.append(f"Did you mean '{close}' instead of '{visible(str(name))}'?")
    return (" " + " ".join(hints)) if hints else ""


def _hidden(char: str) -> bool:
    """A character an editor shows as nothing or as a space: a zero-width or other format
    character, a space (no-break, typographic or plain) or a control character such as a tab."""
    return char.isspace() or not char.isprintable()


def visible(name: str) -> str:
    """``name`` with each character other than a plain space that :func:`_hidden` finds written as
    Python's ``repr`` writes it (``pixel\\u200b_scale``, ``pixel\\xa0scale``), so that it differs
    in print from the name it looks like."""
    return "".join(repr(c)[1:-1] if _hidden(c) and c != " " else c for c in name)


def key_name(name: str) -> str:
    """A key as a dotted path names it: :func:`visible`, or, for a key of no character or of plain
    spaces alone (``''``, ``' '``), which would read as a bare dot, in quotes (``inference.settings.' '``)."""
    return visible(name) if name.strip(" ") else repr(name)


def hidden_note(name: str, bare: str) -> str:
    """What ``name`` holds that ``bare``, the name it looks like, does not, and where: for a key
    holding a zero-width space (from text copied from a web page or a document); for one holding
    plain spaces alone (typed), simply where they are."""
    found, plain = [], []
    for i, char in enumerate(name):
        if _hidden(char):
            where = ("at its start" if i == 0 else "at its end" if i == len(name) - 1
                     else f"after '{visible(name[:i])}'")
            what = unicodedata.name(char, "control character").lower()
            article = "an" if what[0] in "aeiou" else "a"
            found.append(f"{article} {what} (U+{ord(char):04X}) {where}")
            plain.append(f"a space {where}" if char == " " else "")
    if all(plain):
        return f"'{name}' is '{bare}' with {' and '.join(plain)}: remove {'it' if len(plain) == 1 else 'them'}."
    return (f"'{visible(name)}' is '{bare}' with {' and '.join(found)}, which an editor shows as a space or not "
            f"at all (text copied from a web page or a document?): delete it, or type '{bare}' anew.")


#: What sets a fit's output folder, as an error's advice ends: the config's key, the command
#: line's option, and the argument of the Python API (:func:`tinylens.fit`), each user's own.
OUTPUT_FOLDER_CHOICE = "output.path in the config (or --output; tinylens.fit: output=)"

#: What sets a survey's output folder, as an error's advice ends: the command line's option and
#: the argument of the Python API (:func:`tinylens.survey.runner.run_survey`), each user's own.
SURVEY_FOLDER_CHOICE = "--out (run_survey: out=)"
#: What names a survey's lens folders, as a message says which folder: the command line's argument
#: and the argument of the Python API (:func:`tinylens.survey.runner.run_survey`), each user's own.
SURVEY_LENS_DIR_CHOICE = "LENS_DIR (run_survey: lens_dir=)"
#: What a survey's advice tells a user to run again: the command line's command or, from Python,
#: the :func:`tinylens.survey.runner.run_survey` call, as ``run {SURVEY_RERUN} again``.
SURVEY_RERUN = "the same command (or run_survey call)"
#: What a fit's advice tells a user to run again: the command line's command or, from Python,
#: the :func:`tinylens.fit` call, as ``run {FIT_RERUN} again``.
FIT_RERUN = "the same command (or tinylens.fit call)"
#: What a population's advice tells a user to run again: the command line's command or, from
#: Python, the :func:`tinylens.survey.population.simulate_population` call, as ``run {POPULATION_RERUN} again``.
POPULATION_RERUN = "the same command (or simulate_population call)"
#: The argument of the Python API (:func:`tinylens.survey.runner.run_survey`) that sets a survey's
#: local workers, as an error's advice says it after the command line's option: ``--workers 65 (run_survey: workers=)``.
SURVEY_WORKERS_ARGUMENT = "run_survey: workers="


#: The Windows path that :func:`windows_path_advice` shows where it has none of the user's.
WINDOWS_PATH = "C:\\data\\image.fits"


def windows_path_advice(path: str = WINDOWS_PATH) -> str:
    """How to write a Windows ``path`` (backslashes) in YAML, where double quotes read a backslash
    as the start of an escape sequence: in single quotes, or with forward slashes; one sentence."""
    forward = path.replace("\\", "/")
    return f"Put the path in single quotes ('{path}'), or write it with forward slashes ({forward})."


def _words(name: str) -> list[str]:
    return sorted(re.split(r"[._]", name.casefold()))


def closest(name: str, allowed: Sequence[str]) -> str | None:
    """The one of ``allowed`` that ``name`` most likely misspells: the same but for case
    (``theta_e``), the same words in another order (``sersic_R`` for ``R_sersic``, which by
    spelling alone is nearer ``n_sersic``), else the nearest spelling; ``None`` when none is near."""
    for same in (lambda a: a.casefold() == name.casefold(), lambda a: _words(a) == _words(name)):
        found = next((a for a in allowed if same(a)), None)
        if found is not None:
            return found
    close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
    return close[0] if close else None


#: True while a command of the ``tinylens`` command line runs (its command group,
#: :class:`tinylens.cli.common.TinyLensGroup`, sets it): a message may then leave out what only a
#: Python caller can have done (a ``Path("")``, which is ``.``), since the command line refuses an
#: empty path itself.
ON_COMMAND_LINE: contextvars.ContextVar[bool] = contextvars.ContextVar("tinylens_on_command_line", default=False)


class TinyLensError(Exception):
    """Base class of every error caused by user input (config, data, paths)."""


class ConfigError(TinyLensError):
    """The YAML configuration is missing, malformed or inconsistent. A config (a file or a mapping)
    whose schema finds only values of the wrong kind raises :class:`ConfigTypeError`, one whose
    problems are all wrong values, unknown keys or missing keys :class:`ConfigValueError`; one with
    problems of both kinds raises ConfigError itself, the class of both
    (:func:`tinylens.config.loader.error_class`)."""


class ConfigValueError(ConfigError, ValueError):
    """An argument given in Python takes a value it cannot; a config (a file or a mapping) whose
    schema's problems are all wrong values (a number out of range, a text of no choice), unknown
    keys or missing keys; or a path (an argument's, a config's) that begins with the ``~user`` of
    no user known here: a ConfigError, and a ValueError, as documented."""


class ConfigTypeError(ConfigError, TypeError):
    """An argument given in Python is of a type it cannot be (a list where a mapping is asked
    for), or a config (a file or a mapping) whose schema's problems are all values of the wrong kind
    (a text or null for a number, a list for a section), or whose top level is no mapping: a
    ConfigError, and a TypeError, as documented."""


class ConfigFileError(ConfigError, OSError):
    """The config's YAML file cannot be read as a file: it is not there, a folder on its way may
    not be entered, it is a folder, this user may not read it, or the system refuses its name or
    fails to read it. A ConfigError, and an OSError too, because a Python caller who gives a path
    expects what ``open`` and :mod:`pathlib` raise for one that cannot be read, an OSError (the
    same ``except OSError`` catches both); the message names the path and what to do, and is the
    whole of ``str(err)`` (``errno`` and ``filename`` are None). A file that is read but whose text
    is no config (not UTF-8, a YAML syntax error, empty) is a wrong value of the file's, as
    ``json`` and ``tomllib`` take an undecodable text to be: a :class:`ConfigValueError`."""


class MethodNotInstalledError(ConfigError, ModuleNotFoundError):
    """The config's ``inference.method`` needs a package that is not installed in this Python (a
    sampler's library, nautilus or dynesty, or one they import): a ConfigError, as the config asks
    for what this machine cannot run, and a ModuleNotFoundError (an ImportError), as the import
    that failed raised, so that ``except ImportError`` around a fit still catches it; ``name`` is
    the module that is missing. tinylens requires both samplers, so the installation is
    incomplete: the message says what to install, or which other method to choose."""


def retold(exc: BaseException, message: str) -> BaseException:
    """An error of ``exc``'s class whose message is ``message`` (``exc``'s own, with what it was
    checked with or where it was found added), for ``raise ... from None``: a ConfigValueError stays
    one, and a :class:`MethodNotInstalledError`, an ImportError, keeps its ``name`` and ``path`` (the
    missing module), which ``type(exc)(message)`` alone sets to None."""
    told = type(exc)(message)
    if isinstance(exc, ImportError):
        told.name, told.path = exc.name, exc.path
    return told


class DataError(TinyLensError):
    """A FITS file (image, noise, PSF, mask) is missing, corrupt or inconsistent."""


class OutputError(TinyLensError):
    """The output folder cannot be written."""


class ParameterError(TinyLensError, ValueError):
    """A parameter vector given to a :class:`~tinylens.problem.Problem` has the wrong shape."""


class DataWarning(UserWarning):
    """Something in the data was fixed or chosen automatically (pixels masked, PSF normalised,
    one of several images in a FITS file used)."""


class CheckpointWarning(UserWarning):
    """A checkpoint is not resumed (it could not be read, or it is of another fit), so the run
    starts again."""


class ConfigWarning(UserWarning):
    """The config loads but asks for something that is probably not meant (a prior reaching far
    outside the values its parameter can take)."""


class ConvergenceWarning(UserWarning):
    """A fit's search stopped before it converged (its limit reached: nautilus's ``n_like_max`` or
    ``timeout``, dynesty's ``maxcall``, ``maxiter`` or ``logl_max``, an optimizer's ``maxiter``; or L-BFGS-B's
    failed line search), or its posterior still reaches the edge of the pipeline's sampling box:
    the result is preliminary (flagged ``unconverged``)."""


class CapReachedWarning(ConvergenceWarning):
    """A fit run again whose sampler's checkpoint already reached its cap on likelihood calls
    (nautilus's ``n_like_max``, dynesty's ``maxcall``): it samples nothing more, and says so before
    it writes its outputs again (:func:`tinylens.fitting.resume.capped_again`). Raise the cap to continue."""


#: The classes of JAX's (XLA's) runtime errors, by name (``jax.errors.JaxRuntimeError``; older jaxlibs'
#: ``XlaRuntimeError``): a RuntimeError whose text begins ``RESOURCE_EXHAUSTED`` where an array does not fit
#: in the device's memory, on a CPU as on a GPU, as Python's own MemoryError is never raised then.
JAX_RUNTIME_ERRORS = ("JaxRuntimeError", "XlaRuntimeError")


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says that the machine (or its GPU) ran out of memory: a MemoryError, or JAX's
    RESOURCE_EXHAUSTED (:data:`JAX_RUNTIME_ERRORS`)."""
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and type(exc).__name__ in JAX_RUNTIME_ERRORS
                                            and str(exc).lstrip().startswith("RESOURCE_EXHAUSTED"))
