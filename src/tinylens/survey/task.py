"""A survey's task: what a Dask worker runs for one lens (:func:`fit_lens`): its fit under the lens's
lock, its outputs written beside its row, or the row of a lens its worker could not fit (its own
files unreadable, a full disk, or the template's sampler's package missing from that worker's
Python: :func:`missing_here`). Dask workers import this module (the survey's ``TASK_MODULE``) to
run the task.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tinylens import filenames
from tinylens.errors import (DISK_FAILED, H5_LOCKING_OFF, REPLACED_ATTR, ConvergenceWarning, MethodNotInstalledError, SURVEY_FOLDER_CHOICE,
                             SURVEY_RERUN, TinyLensError, UNWRITABLE, disk_failed_text, h5_lock_failed, ls_command, out_of_memory,
                             written_output)
from tinylens.precision import get_precision
from tinylens.survey.attempts import fit_digest, lens_lock, note_attempt
from tinylens.survey.lens_files import LENS_FILES
from tinylens.survey.provenance import inputs_stamp
from tinylens.survey.resume import adoptable_row, finish_adopted, remove_orphan_outputs, template_inference
from tinylens.survey.rows import (MAX_REASON, _warning_text, describe_exception, failed_row, flat_row, is_done,
                                  one_line, read_row, write_row)
from tinylens.survey.threads import in_a_thread

#: The errors of a lens's own file (:func:`own_file_error`) that the user is to mend and a retry
#: would not: this user may not open or change it (EACCES, EPERM), it is not there, or it is a
#: folder where a file should be, or a file where a folder should be. A disk that refuses writes
#: (:data:`UNWRITABLE`) is the survey's, not the lens's: it stops the survey.
OWN_FILE_ERRORS = (PermissionError, FileNotFoundError, IsADirectoryError, NotADirectoryError)


def lens_folders(folder: Path, config: Mapping[str, Any], truth_path: str | None = None) -> list[Path]:
    """The folders of a lens's own files: its output ``folder``, and those of the data files that
    its ``config`` names (:func:`lens_config`: absolute paths) and of its ``truth_path``."""
    dataset = config.get("dataset") if isinstance(config, Mapping) else None
    dataset = dataset if isinstance(dataset, Mapping) else {}
    files = [dataset.get(key) for key in (*LENS_FILES, "mask_path")] + [truth_path]
    return [Path(folder), *(Path(f).parent for f in files if isinstance(f, str) and os.path.isabs(f))]


def own_file_error(exc: BaseException, folders: Sequence[Path]) -> OSError | None:
    """``exc`` where it is one of :data:`OWN_FILE_ERRORS` naming a file in one of a lens's
    ``folders`` (:func:`lens_folders`), else ``None``."""
    name = getattr(exc, "filename", None)
    if not isinstance(exc, OWN_FILE_ERRORS) or not isinstance(name, (str, bytes, os.PathLike)):
        return None
    path = Path(os.path.abspath(os.fsdecode(name)))
    return exc if any(path.is_relative_to(os.path.abspath(folder)) for folder in folders) else None


def checkpoint_may_be_cause(exc: BaseException, folder: Path) -> bool:
    """Whether a damaged checkpoint of the lens whose output folder is ``folder`` could have
    raised ``exc`` (so that a retry is to start without them): not for an error of the worker's
    environment, running out of memory (:func:`~tinylens.errors.out_of_memory`: a MemoryError, JAX's
    RESOURCE_EXHAUSTED), a full or read-only disk (:func:`unwritable_cause`; the checkpoints are
    written whole), a failing disk's refusal of a write of tinylens's (:func:`~tinylens.errors.written_output`:
    the file written under a temporary name, the earlier one untouched, a checkpoint too), or an
    OSError naming a file that is not one of those checkpoints (a file missing on this worker,
    another of the lens's files)."""
    if out_of_memory(exc) or unwritable_cause(exc) is not None or written_output(exc):
        return False
    name = getattr(exc, "filename", None)
    if not isinstance(exc, OSError) or not isinstance(name, (str, bytes, os.PathLike)):
        return True  # e.g. h5py's OSError of a file cut short names none
    path = os.path.abspath(os.fsdecode(name))
    return any(path == os.path.abspath(folder / checkpoint) for checkpoint in filenames.checkpoint_names())


def own_file_text(exc: OSError) -> str:
    """The reason of a lens stopped by ``exc`` (:func:`own_file_error`): the file, the system's
    reason, and what to do."""
    if isinstance(exc, PermissionError):
        from tinylens.cli.common import permission_text

        return permission_text(exc, "survey")
    path = Path(os.fsdecode(exc.filename))
    ls = ls_command(path, path.parent)
    if isinstance(exc, IsADirectoryError):
        what = "a folder where tinylens reads or writes a file of this lens. Remove or rename it"
    elif isinstance(exc, NotADirectoryError):
        what = "a file where tinylens needs a folder on this path. Remove or rename it"
    else:
        what = f"a file of this lens, or a folder on its path, was not there when it was needed. Check them ({ls})"
    return f"{path}: {exc.strerror or type(exc).__name__}: {what}."


def disk_failed_reason(exc: BaseException) -> str | None:
    """The reason of a lens whose fit failed (after its retries) because a failing disk refused the
    write of one of its outputs (``exc``: an OSError of :data:`~tinylens.errors.DISK_FAILED`, EIO or
    NFS's ESTALE, that tinylens's writer raised, :func:`~tinylens.errors.written_output`), one line:
    the file's name, the system's reason and what it means, what is left, the file's path, what to
    check and how to fit it again: the command line's paragraph of a fit
    (:func:`tinylens.cli.common.disk_failed_cli_text`), said short; ``None`` for any other error.
    Within :data:`MAX_REASON`, where only the path is cut (:func:`path_cut`), in its middle: a long
    path, cut in the middle of the whole by :func:`~tinylens.survey.rows.row_text`, took the
    system's reason, or the file's name, with it."""
    if not (isinstance(exc, OSError) and exc.errno in DISK_FAILED and written_output(exc)) or exc.filename is None:
        return None
    path = Path(os.fsdecode(exc.filename))
    reason = exc.strerror or type(exc).__name__
    left = ("it is whole and in place, but a crash may yet lose its rename" if getattr(exc, REPLACED_ATTR, False) is True
            else "nothing is half-written, the earlier file kept")
    check = (f"Export {H5_LOCKING_OFF} for the survey and its workers (a run again without it fails too)"
             if h5_lock_failed(exc)
             else "Check that disk or network mount (dmesg, df -h)")
    head = " ".join(f"{path.name} cannot be written ({reason}: {disk_failed_text(exc)}); {left}. Its path:".split())
    tail = " ".join(f"{check}, then run {SURVEY_RERUN} again with --retry-failed (run_survey: retry_failed=True).".split())
    where = " ".join(str(path).split())
    return one_line(f"{head} {path_cut(where, MAX_REASON - len(head) - len(tail) - 3)}. {tail}")


#: The fewest characters of a path that :func:`path_cut` cuts to; with less room, the whole is cut
#: by :func:`~tinylens.survey.rows.row_text`.
MIN_PATH_ROOM = 60


def path_cut(path: str, room: int) -> str:
    """``path`` whole where it has at most ``room`` characters; else its start and, three times as
    long, its end (the lens's folder and the file's name) with how much was cut between them
    (``/scratch/u...[212 characters cut].../lenses/lens_a/checkpoint.hdf5``), within ``room`` (or
    :data:`MIN_PATH_ROOM`, where ``room`` is less)."""
    if len(path) <= room:
        return path
    kept = max(room, MIN_PATH_ROOM) - len(f"...[{len(path)} characters cut]...")
    head, tail = path[: kept // 4], path[len(path) - (kept - kept // 4):]
    return f"{head}...[{len(path) - len(head) - len(tail)} characters cut]...{tail}"


def fit_lens(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
             precision: str | None = None) -> dict[str, Any]:
    """Fit one lens (the task a worker runs); write and return its row. ``precision``: that of
    the survey's process (:func:`tinylens.set_precision`), which the worker's own need not be.

    The lens's folder is locked meanwhile: a task still running for a survey that was killed
    (on a cluster the workers outlive their client) is waited for, and its row returned. A fit
    that finished but whose task did not write its row (its worker died; Dask runs the task
    again) is adopted, not made again, where it is this task's (:func:`adoptable_row`).
    A user error in this lens's data or config gives a ``failed`` row, as does a lock of its
    folder that cannot be taken (a folder named as the lock file, another user's lock file: the
    fit is not started, nor retried), and an error of one of its own files that a retry would not
    mend (:func:`own_file_error`: one this user may not open, a folder named as a file it writes),
    its checkpoints kept; where its folder cannot be written, the row is returned only, and the
    next run fits the lens again. Any other error is raised so that Dask retries the task;
    the lens's checkpoints (the sampler's and the pipeline stages') are removed first where they
    may be what broke (:func:`checkpoint_may_be_cause`), so the retry starts afresh; for an error
    they cannot cause (a MemoryError, a file missing on this worker) they are kept. The true
    values in ``truth_path`` (a simulated lens's ``truth.json``), if there is such a file, are
    marked on the corner plot; one that cannot be used (unreadable, no free parameter named) is a
    DataWarning in the row, and the lens is fitted without it. Where whether it is there cannot be
    told (its folder, the lens's, may not be looked into) the lens fails as for its own files above.
    """
    folder = Path(lens_out)
    mine = lens_folders(folder, config, truth_path)
    with contextlib.ExitStack() as locked:
        try:
            locked.enter_context(lens_lock(folder))
        except (TinyLensError, OSError) as exc:  # e.g. a folder named .lock: this lens's failure, which a retry would not mend
            row = own_failure(lens_id, folder, exc, mine)
            if row is None:
                raise
            return row
        try:
            return _fit_locked(lens_id, config, folder, truth_path, precision, mine)
        except OSError as exc:  # e.g. a file of this lens that this user may not change
            row = own_failure(lens_id, folder, exc, mine)
            if row is None:
                raise
            return row


def own_failure(lens_id: str, folder: Path, exc: BaseException, folders: Sequence[Path]) -> dict[str, Any] | None:
    """The ``failed`` row of a lens stopped by ``exc``, a TinyLensError or an error of one of its
    own files in ``folders`` (:func:`own_file_error`), written in its output ``folder`` where it can
    be; ``None`` for any other error."""
    own = own_file_error(exc, folders)
    if own is not None:
        row = failed_row(lens_id, one_line(own_file_text(own)))
    elif isinstance(exc, TinyLensError):
        row = failed_row(lens_id, describe_exception(exc))
    else:
        return None
    try:
        write_row(folder, row)
    except OSError as error:
        if own_file_error(error, folders) is None:  # a full disk's: the survey stops
            raise
    return row


def _fit_locked(lens_id: str, config: dict[str, Any], folder: Path, truth_path: str | None, precision: str | None,
                mine: Sequence[Path]) -> dict[str, Any]:
    """:func:`fit_lens`'s work once it holds the lock of the lens's output ``folder``; ``mine``:
    the lens's :func:`lens_folders`."""
    import tinylens
    from tinylens.compilation import release_compiled
    from tinylens.fitting.folder import UNLOCKED_WARNING, rerun_said
    from tinylens.atomic import remove_unfinished
    from tinylens.results.tables import write_json

    remove_unfinished(folder / filenames.ROW, folder / filenames.INPUTS)  # a killed worker's, if any
    previous = read_row(folder / filenames.ROW, lens_id)
    if previous is not None and previous.get("status") == "ok" and is_done(previous, folder):
        return previous
    adopted = adoptable_row(lens_id, folder, config, precision or get_precision())
    if adopted is not None:  # fitted by this task before its worker died: not fitted again
        finish_adopted(folder, adopted)
        return adopted
    if precision is not None:  # the worker's, for the lenses it fits from now on
        tinylens.set_precision(precision)
    remove_orphan_outputs(folder, config)  # of a fit killed while writing them
    write_json(folder / filenames.INPUTS, inputs_stamp(config, get_precision()))  # what this fit is made from
    digest = fit_digest(config)
    note_attempt(folder, digest)
    from tinylens.inference.common import CHECKPOINT_TEMPLATE

    recording = CHECKPOINT_TEMPLATE.set(digest)  # recorded with the checkpoints this fit writes (checkpoint_digest)
    try:
        with warnings.catch_warnings(record=True) as caught, rerun_said(SURVEY_RERUN, SURVEY_FOLDER_CHOICE):  # its locks' advice: the survey's
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", UNLOCKED_WARNING)  # said once of --out by the survey (warn_unlocked)
            warnings.simplefilter("ignore", ConvergenceWarning)  # the row's flags say it (unconverged)
            truth = truth_path if truth_path is not None and Path(truth_path).exists() else None
            result = tinylens.fit(config, progress=False, output=folder, truth=truth, truth_errors="warn")
        row = flat_row(lens_id, result.to_json())
        row["warnings"] = _warning_text(caught)
    except MethodNotInstalledError as exc:  # this worker's environment, not the lens: say which host lacks what
        row = failed_row(lens_id, one_line(missing_here_text(exc)))
    except TinyLensError as exc:
        full = unwritable_cause(exc)
        if full is not None:  # the disk's doing, not the lens's: no failed row (its checkpoints are whole)
            raise full from None
        row = failed_row(lens_id, describe_exception(exc))
    except Exception as exc:
        if own_file_error(exc, mine) is None and checkpoint_may_be_cause(exc, folder):  # the retry starts afresh
            for name in filenames.checkpoint_names():  # the samplers' and the stages'
                (folder / name).unlink(missing_ok=True)
        raise
    finally:
        CHECKPOINT_TEMPLATE.reset(recording)
        release_compiled()  # the next lens's compilations must not crowd this worker's memory maps
        remove_orphan_outputs(folder, config)  # of this fit, if it failed while writing them
    write_row(folder, row)
    return row


#: How a lens's reason begins where the worker that took it lacks a package its sampler needs
#: (:func:`missing_here_text`); :func:`missing_on_workers` finds such reasons by it.
MISSING_HERE = "Not fitted: host "
#: The start of such a reason, which :func:`row_text` keeps whole (it keeps about half of
#: :data:`MAX_REASON` from the start), and the command in it, which :func:`missing_here_text` keeps whole
#: where it can: a reason cut in the middle still counts by host and package.
_MISSING_HERE_PATTERN = re.compile(re.escape(MISSING_HERE) + r"(?P<host>\S+) \((?P<worker>[^)]*)\) lacks the package "
                                   r"(?P<package>[^\s,]+),")
#: What :func:`row_text` puts where it cut a reason.
_CUT_PATTERN = re.compile(r" \.\.\. \[\d+ of \d+ characters cut\] \.\.\. ")
_MISSING_COMMAND_PATTERN = re.compile(r"Install it in that worker's Python \((?P<command>.+? -m pip install \S+)\)")


def missing_here_text(exc: ImportError) -> str:
    """The reason of a lens whose fit was refused by ``exc`` (a MethodNotInstalledError) on the
    worker that took it: the host and the Dask worker, the package missing from that worker's
    Python (the survey's own passed the template check, so that the template is not at fault) and
    the command that installs it there (which names that Python), then to run the survey again with
    --retry-failed; within :data:`MAX_REASON` where it can be, so that the command is not cut (a long
    path of that Python, a long host name: the advice after it is then said shorter)."""
    import socket
    import sys

    try:
        from distributed import get_worker
        worker = f"Dask worker {get_worker().address}"
    except Exception:  # not in a Dask worker's task (ValueError)
        worker = f"process {os.getpid()}"
    return missing_text((exc.name or "?").partition(".")[0], socket.gethostname(), worker, sys.executable)


def missing_text(package: str, host: str, worker: str, python: str) -> str:
    """The reason of a lens not fitted because ``worker`` (``Dask worker ADDRESS``) on ``host``
    lacks ``package`` in its Python ``python`` (:func:`missing_here_text`; :func:`missing_row`)."""
    from tinylens.inference import install_command

    head = (f"{MISSING_HERE}{host} ({worker}) lacks the package {package}, which the template's sampler needs; "
            f"the lens itself is not at fault. Install it in that worker's Python ({install_command(python, package)})")
    tail = (f" or start that worker in the survey's environment, then run {SURVEY_RERUN} again with "
            "--retry-failed (run_survey: retry_failed=True).")
    return head + (tail if len(head) + len(tail) <= MAX_REASON else ", then rerun with --retry-failed.")


def missing_row(lens_id: str, refusal: Mapping[str, Any]) -> dict[str, Any]:
    """The failed row of a lens that only workers lacking its sampler's package were connected to
    take, ``refusal`` being the last one's (:data:`checked_task`: its ``worker``, and what
    :func:`missing_here` said there); the same reason as where the fit itself found the package
    missing (:func:`missing_here_text`)."""
    return failed_row(lens_id, one_line(missing_text(refusal["missing"], refusal["host"],
                                                     f"Dask worker {refusal['worker']}", refusal["python"])))


def sampler_module(config: Mapping[str, Any]) -> str | None:
    """The module of tinylens that runs the search the template ``config`` names (the runner of
    its ``inference.method``, :data:`tinylens.inference.METHODS`), whose import is what needs that
    method's package (nautilus, dynesty, or one they import); None where its inference section is
    not valid (the template check refuses it)."""
    from tinylens.config.schema import DEFAULT_METHODS
    from tinylens.inference import METHODS

    inference = template_inference(config)
    if inference is None:
        return None
    kind = getattr(inference, "type", None) or "sampler"
    target = METHODS.get(kind, {}).get(getattr(inference, "method", None) or DEFAULT_METHODS.get(kind, ""))
    return None if target is None else target.partition(":")[0]


def missing_here(module: str) -> dict[str, str] | None:
    """Run on a worker: ``None`` where its Python imports ``module`` (:func:`sampler_module`), else
    what is missing there: the package (the top-level name of the module not found), the host and
    the worker's Python. A module of tinylens's own that is missing (a broken tinylens) is raised."""
    import importlib
    import socket
    import sys

    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        package = (exc.name or "").partition(".")[0]
        if not package or package == "tinylens":
            raise
        return {"missing": package, "host": socket.gethostname(), "python": sys.executable}
    return None


def sampler_check(module: str, timeout: float) -> dict[str, str] | None:
    """:func:`missing_here` of ``module``, run on a worker in a thread of its own given ``timeout``
    seconds (an import from a hung mount holds neither the worker nor the survey): ``None`` also
    where it did not finish."""
    return in_a_thread(lambda: missing_here(module), timeout, "tinylens-sampler-check")


def missing_on_workers(reasons: Sequence[Any]) -> dict[tuple[str, str, str | None], int]:
    """How many of the failed lenses' ``reasons`` say that the worker that took them lacks a package
    (:func:`missing_here_text`), by (host, package, command that installs it there: None where the
    reason was cut within it)."""
    found: dict[tuple[str, str, str | None], int] = {}
    for reason in reasons:
        match = _MISSING_HERE_PATTERN.match(reason) if isinstance(reason, str) else None
        if match is not None:
            found_command = _MISSING_COMMAND_PATTERN.search(reason, match.end())
            command = found_command["command"] if found_command is not None else None
            if command is not None and _CUT_PATTERN.search(command):  # row_text cut it: no command to run
                command = None
            key = (match["host"], match["package"], command)
            found[key] = found.get(key, 0) + 1
    return found


def unwritable_cause(exc: BaseException) -> OSError | None:
    """The OSError of :data:`UNWRITABLE` that ``exc`` is, or was raised in handling (a fit's
    OutputError of a full disk: :func:`tinylens.fitting.folder.disk_full_reported`); ``None`` where there is none."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in UNWRITABLE:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None
