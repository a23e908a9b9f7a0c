"""What every ``tinylens`` command shares: consoles, the user-error handler, warnings.

A :class:`tinylens.errors.TinyLensError` (or a missing/unreadable user path) is a mistake in
the user's input: :class:`TinyLensGroup` prints it as one paragraph on stderr and exits with
:data:`EXIT_USER_ERROR`, without a traceback. Any other exception is a bug in tinylens and
keeps its traceback, but for an OSError of a disk that refuses the command's writes (full,
over quota, read-only: :data:`UNWRITABLE`), which is said as one paragraph naming the file and
what to do, with exit code :data:`EXIT_USER_ERROR` (:func:`unwritable_text`), as is a failing disk's
(EIO, ESTALE, ...: :data:`~tinylens.errors.DISK_FAILED`) where tinylens's writer of an output raised
it (:func:`disk_failed_cli_text`), and for a MemoryError
or JAX's RESOURCE_EXHAUSTED (:func:`out_of_memory`), said as one paragraph with what to do, exit code :data:`EXIT_OUT_OF_MEMORY` (:func:`out_of_memory_text`). Ctrl-C (``KeyboardInterrupt``) ends any command with one line, exit code
:data:`EXIT_INTERRUPTED`, and for the commands that resume, how to resume; SIGTERM (a batch
system's time limit) as Ctrl-C, with :data:`EXIT_TERMINATED`.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import os
import shlex
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from tinylens.errors import (DISK_FAILED, KEPT_ATTR, ON_COMMAND_LINE, UNWRITABLE, TinyLensError, disk_check_text, disk_failed_text,
                             failed_write_left_text, ls_command, out_of_memory, written_output)
from tinylens.interrupts import AT_END_ATTR, TerminateAsInterrupt, UnswallowedInterrupt, interrupt_behind
from tinylens.paths import NAME_MAX, PATH_MAX, limit_text, name_max_said, name_too_long

#: Exit code for mistakes in user input (bad config, data or paths); typer uses 2 for bad options too.
EXIT_USER_ERROR = 2

#: Exit code of a command that ran out of memory (:func:`out_of_memory_text`), as of any other failure.
EXIT_OUT_OF_MEMORY = 1

#: Exit code after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
#: Exit code after SIGTERM (128 + SIGTERM: a batch system's time limit or scancel), which stops a
#: command as Ctrl-C does.
EXIT_TERMINATED = 143

#: ``ctx.meta`` key of the arguments the command line was given after the program's name
#: (:meth:`TinyLensGroup.parse_args`), to say after Ctrl-C which command resumes.
ARGS_KEY = "tinylens.args"

#: The config file the command running fits by (``fit``'s CONFIG, ``survey``'s --config template),
#: whose keys :func:`out_of_memory_text` names as the file writes them; None before it is read
#: (:meth:`TinyLensGroup.invoke` starts each command without one).
CONFIG_READ: contextvars.ContextVar[str | os.PathLike[str] | None] = contextvars.ContextVar("tinylens_config_read",
                                                                                            default=None)

#: Exceptions that are the user's to fix: shown as a message, never as a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (TinyLensError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def path_value(value: str) -> Path:
    """Parse a path argument; an empty one is refused. (``Path("")`` is the current folder, so a
    ``-o "$OUT"`` whose variable is unset would write results among whatever is there.)"""
    if not str(value).strip():
        raise typer.BadParameter("an empty path (an unset shell variable?); give a file or folder name")
    try:
        return Path(value).expanduser()
    except RuntimeError:
        from tinylens.config.loader import unknown_home

        raise typer.BadParameter(f"{value}: {unknown_home(value)}") from None


def one_paragraph(text: str) -> str:
    """Collapse whitespace (newlines included) so a message prints as one paragraph."""
    return " ".join(str(text).split())


#: The argument that chooses where each command writes, by command: what a user refused a path
#: (:func:`permission_text`) may change to write elsewhere.
OUTPUT_ARGUMENTS = {"fit": "--out", "survey": "--out", "report": "--out", "simulate-population": "OUTDIR",
                    "demo": "FOLDER"}


def permission_text(exc: PermissionError, command: str | None = None) -> str:
    """What the command line says of a PermissionError ``exc`` (EACCES, EPERM) that reaches it: the
    path it names, that this user may not open or change it, and what to do: check the permissions
    of the path and its folder, or, for the ``command`` that writes there, choose another output
    folder (:data:`OUTPUT_ARGUMENTS`)."""
    reason = exc.strerror or type(exc).__name__
    if exc.filename is None:
        where = f"{reason}: this user may not open or change a file or folder the command needs. Check the "
        check = "permissions of its input files and output folder, or ask their owner to change them"
    else:
        path = Path(os.fsdecode(exc.filename))
        where = f"{path}: {reason}: this user may not open or change it. Check the "
        check = (f"permissions of it and of its folder ({ls_command(path, path.parent)}), "
                 "or ask their owner to change them")
    option = OUTPUT_ARGUMENTS.get(command or "")
    other = f"; where it is an output, choose another {option}, a folder of your own" if option else ""
    return f"{where}{check}{other}."


def describe_user_error(exc: BaseException, command: str | None = None) -> str:
    """The user-facing text of an error in :data:`USER_ERRORS` that ``command`` raised (a
    PermissionError: :func:`permission_text`)."""
    if isinstance(exc, PermissionError):
        return permission_text(exc, command)
    if isinstance(exc, OSError) and not isinstance(exc, TinyLensError) and exc.filename is not None:
        reason = exc.strerror or type(exc).__name__
        return f"{exc.filename}: {reason}."
    return one_paragraph(str(exc)) or type(exc).__name__


def unwritable_text(exc: OSError) -> str:
    """What the command line says of an OSError ``exc`` of :data:`UNWRITABLE`: the file it names
    (``exc.filename``, where it names one), why it cannot be written, that no file is left
    half-written, and what to do."""
    what = f"{exc.filename} cannot be written" if exc.filename is not None else "A file cannot be written"
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    if exc.errno == errno.EROFS:
        why, then = "the disk is mounted read-only", ("write to a folder on another disk, or run the command again "
                                                      "once this one is writable")
    else:
        why, then = "the disk, or your quota on it, is full", "free some space and run the command again"
    return (f"{what} ({reason}: {why}). tinylens writes each result under a temporary name and renames it only once "
            f"it is whole, so no result is left half-written: {then}.")


#: What each command that resumes does when it is run again after a write failed (:func:`disk_failed_cli_text`).
RERUN_RESUMES = {"fit": "; a fit resumes from the checkpoints it wrote before (unless its settings say resume: false)",
                 "survey": "; the survey keeps the lenses it finished and fits the rest"}


def disk_failed_cli_text(exc: OSError, command: str | None = None) -> str:
    """What the command line says of an OSError ``exc`` of :data:`~tinylens.errors.DISK_FAILED`
    that tinylens's writer of an output raised (:func:`~tinylens.errors.written_output`: EIO of a
    failing disk, ESTALE of NFS, ...): the file, the system's reason and what it means, that the
    earlier file is kept and nothing is half-written, what to check and how ``command`` goes on
    (what the command set in :data:`~tinylens.errors.KEPT_ATTR`, a fit its checkpoints, where it did)."""
    what = f"{exc.filename} cannot be written" if exc.filename is not None else "A file cannot be written"
    name = Path(os.fsdecode(exc.filename)).name if exc.filename is not None else "file"
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    said = (f"{what} ({reason}: {disk_failed_text(exc)}). tinylens writes each result under a temporary name and "
            f"renames it only once it is whole and flushed to the disk, so "
            f"{failed_write_left_text(exc, name, 'no result is left half-written')}")
    kept = getattr(exc, KEPT_ATTR, None)  # what the command said it keeps (a fit: its checkpoints, or none)
    if isinstance(kept, str):
        return f"{said}, {kept}"
    return f"{said}: {disk_check_text(exc)}, then run the same command again{RERUN_RESUMES.get(command or '', '')}."


def memory_keys(config: str | os.PathLike[str] | None = None) -> str:
    """What holds memory in a fit, by the config keys that set it, for the commands whose config
    sets them; the sampler's settings named as the ``config`` file writes them
    (:func:`~tinylens.config.loader.key_as_written`: ``sampling.n_batch`` for TinyLensGpu's older
    ``sampling`` section), ``inference.settings.n_batch`` where it cannot be read as a config is
    read (:func:`~tinylens.config.loader.parse_yaml_keys`: a file edited since the fit read it into
    one of a key given twice, a tab or a value its tag cannot be built from, ``!!bool x``), is no
    mapping, or none is given. Only a regular file is read again: a named pipe the fit read its
    config from (``mkfifo``) has no writer left, and opening it would wait for one for ever instead
    of saying the message."""
    from tinylens.config.loader import key_as_written, parse_yaml_keys

    batch = "inference.settings.n_batch"
    if config is not None:
        try:
            if not Path(config).is_file():  # a pipe, a folder, a file gone since: said as of inference then
                raise FileNotFoundError(config)
            written = parse_yaml_keys(Path(config).read_text(encoding="utf-8"), config)[0]  # as the config was read
        except (OSError, ValueError, TinyLensError, RecursionError, MemoryError):  # said as of inference then
            written = None
        if isinstance(written, Mapping):
            batch = key_as_written(written, batch)
    return (f"a smaller {batch} or n_live (nautilus; batch_size or nlive for dynesty), fewer "
            "pipeline.threads, or lower supersampling: a smaller highest factor in dataset.supersampling.levels "
            "(adaptive, the default), a smaller dataset.nsub (mode: uniform)")


def out_of_memory_text(exc: BaseException, command: str | None = None,
                       config: str | os.PathLike[str] | None = None) -> str:
    """What the command line says where ``command`` ran out of memory (``exc``, often without a
    message; :func:`out_of_memory`): what to do, with the config keys that hold memory in a fit
    (:func:`memory_keys`, named as its ``config`` file writes them) for ``fit`` and ``survey``
    (its template, and its ``--workers``)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""  # (JAX's goes on with its allocator's state)
    what = one_paragraph(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)
    held = memory_keys(config) if command in ("fit", "survey") else ""
    keys = {"fit": f"; or make the fit hold less at once, in its config: {held}",
            "survey": f"; or make the survey hold less at once: fewer --workers, or, in its --config template, {held}"}
    return (f"tinylens ran out of memory ({what}). Free some memory on this machine (stop other programs there) or run "
            f"the command on a machine with more{keys.get(command or '', '')}; then run the same command again.")


def too_long_text(exc: OSError) -> str:
    """What the command line says of an OSError ``exc`` of a name too long for the system
    (ENAMETOOLONG), where a check of its own did not say it first: the path, and to give a shorter
    one. Names are held against the limit of the disk of the path's folder, or of the nearest
    folder above it that can be looked at (:func:`~tinylens.paths.name_max_said`; :data:`NAME_MAX`,
    most disks', said so, where the error names no path or the system does not say). Where no
    name in it passes that, the whole path was too long (:data:`PATH_MAX`, 4096 bytes on Linux;
    both of :mod:`tinylens.paths`): with the hidden temporary name written beside it first where
    that was the name refused (:func:`temporary_refused`), the path itself otherwise; or, where
    the path is short enough, the temporary's own name passes the limit (:func:`temporary_name_bytes`)."""
    what = exc.filename if exc.filename is not None else "A path given"
    reason = exc.strerror or "File name too long"
    parts = Path(os.fsdecode(exc.filename)).parts if exc.filename is not None else ()
    limit, said = name_max_said(Path(os.fsdecode(exc.filename)).parent) if exc.filename is not None else (NAME_MAX, False)
    allowed = limit_text(limit, said, "on that disk")
    names_fit = bool(parts) and name_too_long(parts, limit) is None
    hidden = temporary_name_bytes(exc.filename) if names_fit else None
    if hidden is not None and limit is not None and hidden > limit:
        return (f"{what}: {reason}: the hidden temporary name written beside it first (.NAME.unfinished-XXXXXXXX.SUFFIX, "
                f"{hidden} bytes) is longer than the system allows a name ({allowed}); give a shorter name.")
    if names_fit:
        whole = ("the whole path (with the hidden temporary name written beside it first, "
                 ".NAME.unfinished-XXXXXXXX.SUFFIX)" if temporary_refused(exc.filename) else "the whole path")
        names = f"no name in it passes {limit} bytes" if limit is not None else "that disk takes names of any length"
        return (f"{what}: {reason}: {whole} is longer than the system allows ({PATH_MAX} bytes on Linux), though "
                f"{names}; give a shorter one.")
    return f"{what}: {reason}: a name in this path is longer than the system allows ({allowed}); give a shorter one."


def temporary_refused(filename: str | bytes | os.PathLike) -> bool:
    """Whether the path the system refused as too long, of which an OSError names ``filename``,
    was a hidden temporary name of :mod:`tinylens.atomic`: ``filename`` is one
    (:data:`~tinylens.atomic.UNFINISHED_NAME`), or is the file it was written for (atomic's errors
    name that file), itself short enough for the system (under :data:`PATH_MAX` bytes)."""
    from tinylens.atomic import UNFINISHED_NAME

    name = os.fsdecode(filename)
    return UNFINISHED_NAME.fullmatch(Path(name).name) is not None or len(os.fsencode(name)) < PATH_MAX


def temporary_name_bytes(filename: str | bytes | os.PathLike) -> int | None:
    """The length in bytes of the hidden temporary name that :mod:`tinylens.atomic` writes beside
    the file ``filename`` first (its name and 21 bytes more), where ``filename``, under
    :data:`PATH_MAX` bytes and no temporary itself, may be the file an OSError of it names; else None."""
    from tinylens.atomic import UNFINISHED_NAME, hidden_name

    path = Path(os.fsdecode(filename))
    if UNFINISHED_NAME.fullmatch(path.name) or len(os.fsencode(path)) >= PATH_MAX or not path.name:
        return None
    return len(os.fsencode(hidden_name(path).name))


def print_error(message: str) -> None:
    """Print ``Error: message`` on stderr, one paragraph, no line wrapping inside paths."""
    err_console.print(f"[bold red]Error:[/] {escape(one_paragraph(message))}", soft_wrap=True)


def print_warning(message: str) -> None:
    """Print ``Warning: message`` on stderr, written to ``sys.stderr`` itself: while a live status
    line or progress bar is shown, rich redirects it to print above the line (``err_console``
    writes past the redirection, and a warning raised during a fit ran into the status line)."""
    with err_console.capture() as captured:
        err_console.print(f"[bold yellow]Warning:[/] {escape(one_paragraph(message))}", soft_wrap=True)
    sys.stderr.write(captured.get())
    sys.stderr.flush()  # said where it was raised, among the lines on stdout (which rich flushes), where stderr is buffered


@contextlib.contextmanager
def reported_warnings(retell: Callable[[str], str] | None = None) -> Iterator[None]:
    """Print the Python warnings raised inside the block readably, each the moment it is raised,
    once each. (Collected until the block's end, a fit's warnings about its data and priors came
    after the sampling, minutes or hours later, and never for a fit stopped before its end.)
    Deprecation warnings, which libraries address to programmers (an older matplotlib calling a
    newer pyparsing), are left out as Python does. Thread-safe: the pipeline's starts warn from
    threads of their own. ``retell``: how a ConfigWarning's text is said on this command line
    (``simulate-population``'s options by the flags that gave them: ``--size``, not ``size``)."""
    from tinylens.errors import ConfigWarning

    seen: set[str] = set()
    lock = threading.Lock()

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        text = one_paragraph(str(message))
        if retell is not None and issubclass(category, ConfigWarning):
            text = retell(text)
        with lock:  # checked and added at once: two threads raising one warning print it once
            if text in seen:
                return
            seen.add(text)
        print_warning(text)

    with warnings.catch_warnings():  # restores showwarning and the filters on leaving
        warnings.simplefilter("always")
        for category in (DeprecationWarning, PendingDeprecationWarning):
            warnings.simplefilter("ignore", category)
        warnings.showwarning = show
        yield


@contextlib.contextmanager
def warnings_as_they_come() -> Iterator[None]:
    """Print tinylens's own warnings (about the user's data and config) readably the moment
    they are raised, for commands that run for hours; other warnings print as Python's do."""
    from tinylens.errors import CheckpointWarning, ConfigWarning, DataWarning

    ours = (CheckpointWarning, ConfigWarning, DataWarning)
    with warnings.catch_warnings():
        previous = warnings.showwarning

        def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, ours):
                print_warning(str(message))
            else:
                previous(message, category, *args, **kwargs)

        warnings.showwarning = show
        for category in ours:
            warnings.simplefilter("always", category)
        yield


def fit_hint(folder: Path | None, problem: Any, fresh: bool = False) -> str:
    """What a ``tinylens fit`` of ``problem`` stopped by Ctrl-C kept, from the checkpoints in its
    output ``folder`` that it resumes (``None``: stopped while loading, before the fit knew its
    folder). One of another config there (a fit stopped before its sampler replaced it) is not
    promised. A fit run with ``--fresh`` (``fresh``) resumes only when run again without it. It
    reads the folder without changing it: a damaged pipeline state, which the fit deletes with a
    warning, is left there (and is one this config does not resume)."""
    from tinylens import filenames
    from tinylens.inference import resumed_checkpoints

    if folder is None:
        return "It was stopped while loading, before it wrote anything: run the same command again to fit."
    files = (*filenames.CHECKPOINTS.values(), filenames.PIPELINE_STATE)
    again = "the command again without --fresh" if fresh else "the same command again"  # --fresh deletes them
    try:
        kept = resumed_checkpoints(problem, folder, look_only=True)  # a hint deletes nothing, says no warning
    except TinyLensError:  # settings the fit refuses (stopped before it checked them): it resumes nothing
        kept = []
    except Exception:  # noqa: BLE001 - an unreadable fingerprint or state file: the hint must not be a traceback
        if any((folder / name).is_file() for name in files):
            return (f"Checkpoints are kept in {folder}, but whether this config resumes them could not be told: "
                    f"running {again} resumes the fit if they are its own, else starts it from the beginning.")
        kept = []
    if any(name in kept for name in filenames.CHECKPOINTS.values()):
        return f"The sampler's checkpoint is kept in {folder}: run {again} to resume the fit."
    if filenames.PIPELINE_STATE in kept:
        from tinylens.pipeline.run import holds_partial_state

        if holds_partial_state(folder / filenames.PIPELINE_STATE):
            return (f"What the pipeline's stages 1-3 had done is kept in {folder}: run {again} to resume the "
                    "fit from there.")
        return (f"The pipeline stages' results are kept in {folder}: run {again} to resume the fit from them "
                "(the sampling starts from the beginning).")
    if any((folder / name).is_file() for name in files):
        return (f"The checkpoint in {folder} is not one this config resumes (it is of another config, of other "
                "settings, or damaged): running the same command again starts the fit from the beginning and replaces it.")
    return (f"No checkpoint had been written in {folder} yet: running the same command again starts the fit "
            "from the beginning.")


def finished_rows(catalog: Path, chosen: Sequence[str] | None = None,
                  unfinished: Sequence[str] = (), lenses_dir: Path | None = None) -> Any:
    """The ``lens_id`` and ``status`` of the finished lenses in a survey's ``catalog`` (Parquet), a
    DataFrame: of the lens ids ``chosen`` only where given (``--only``), leaving out the lens ids
    ``unfinished`` (those the survey run again fits, :func:`unfinished_folders`, though an earlier
    catalogue holds their row) and, with ``lenses_dir`` (the survey's ``lenses/``), those whose folder
    is not there (deleted: the survey run again reads its rows from the folders, so it fits them
    again); ``None`` where it is missing or cannot be read."""
    import pandas as pd

    try:
        frame = pd.read_parquet(catalog, columns=["lens_id", "status"])
    except Exception:  # noqa: BLE001 - missing, cut short or not a catalogue: no rows to give
        return None
    if chosen is not None:
        frame = frame[frame["lens_id"].isin(list(chosen))]
    if unfinished:
        frame = frame[~frame["lens_id"].isin(list(unfinished))]
    if lenses_dir is not None:
        frame = frame[frame["lens_id"].map(lambda lens_id: (lenses_dir / str(lens_id)).is_dir()).astype(bool)]
    return frame


#: Set on a KeyboardInterrupt raised once ``run_survey`` has returned (:func:`survey_written`).
SURVEY_WRITTEN_ATTR = "tinylens_survey_written"
#: Set on a KeyboardInterrupt of a survey run with ``--only``: the lens ids it chose.
SURVEY_CHOSEN_ATTR = "tinylens_survey_chosen"


@contextlib.contextmanager
def survey_written(out: Path) -> Iterator[None]:
    """Mark a KeyboardInterrupt raised inside, after ``run_survey`` returned (while its summary
    prints), as one that stopped a survey which had written everything in ``out``."""
    from tinylens.interrupts import folder_on_interrupt, marked_on_interrupt

    with folder_on_interrupt(out), marked_on_interrupt(SURVEY_WRITTEN_ATTR, True):
        yield


def survey_hint(out: Path | None, command: str, written: bool = False, restart: str | None = None,
                chosen: Sequence[str] | None = None, lenses: Sequence[str] | None = None,
                cluster: str | None = None, digest: str | None = None, waiting: Sequence[str] = ()) -> str:
    """What a ``tinylens survey`` stopped by Ctrl-C kept in its output folder ``out`` (``None``:
    stopped before the survey began, a dry run), and ``command``, which fits the rest; ``written``:
    stopped once the survey had written everything (:func:`survey_written`); ``restart``: why
    its template's fits resume no checkpoint (:func:`tinylens.survey.resume.restart_reason`);
    ``chosen``: the lens ids of ``--only``, the only ones counted (the catalogue may hold others');
    ``lenses``: the ids of the lenses the run fits or keeps (:data:`tinylens.survey.resume.SURVEY_LENSES_ATTR`),
    the only ones named as starting again (``out`` may hold folders of lenses no longer in the lens folder);
    ``cluster``: the address of the external cluster it was fitting on (:data:`tinylens.survey.resume.EXTERNAL_CLUSTER_ATTR`),
    whose workers go on fitting the lenses they had started, which the hint says (a local cluster's stopped with it);
    ``digest``: its template's (:data:`tinylens.survey.resume.TEMPLATE_DIGEST_ATTR`), so that a lens whose
    checkpoint a fit of another template wrote (:func:`tinylens.survey.resume.other_checkpoint`) is not said to resume;
    ``waiting``: the lenses whose task on that cluster waits for the lock of their folder, held by another
    process (:data:`tinylens.survey.resume.LOCK_WAITERS_ATTR`), which the task fits once it gets it."""
    from tinylens.filenames import CATALOG_CSV, CATALOG_PARQUET, LENSES_DIR

    if out is None:
        return f"It was stopped before it wrote anything. To start again, run: {command}"
    named = chosen if lenses is None else lenses  # the lenses named as starting again
    # the lens folders looked at once (each one's row.json and result.json read), for both the counts
    # (of chosen) and the lenses named (of named): all of them where chosen is None, as the counts are
    unfinished = unfinished_folders(out, None if chosen is None else [*chosen, *named])
    # a lens of the catalogue that the survey run again fits (its ok row's result.json gone, or its folder) is not finished
    rows = finished_rows(out / CATALOG_PARQUET, chosen, list(_among(unfinished, chosen)), out / LENSES_DIR)
    counts = None if rows is None else {status: int((rows["status"] == status).sum()) for status in ("ok", "failed")}
    # stopped before the survey deleted the failed rows it retries, the command keeps --retry-failed
    # (interrupted_hint): it fits those lenses again, so their rows are not kept as finished
    retried = counts.pop("failed") if counts and not written and "--retry-failed" in shlex.split(command) else 0
    # a failed lens whose lens folder is no longer there (not among the lenses the run read) is not fitted again:
    # the command leaves its row out of the catalogue, so it is neither kept nor retried
    read = set(lenses or ())
    gone = (sorted(str(lens_id) for lens_id, status in zip(rows["lens_id"], rows["status"])
                   if status == "failed" and str(lens_id) not in read) if retried and lenses else [])
    retried -= len(gone)
    if retried or gone:
        counts["failed"] = 0
    of = "" if chosen is None else f" of the {len(chosen)} chosen by --only"
    kept = f"No lens{of} had finished{' ok' if retried else ''}." if not counts or not sum(counts.values()) else (
        f"Finished lenses kept: {sum(counts.values())}{of} ({counts['ok']} ok, {counts['failed']} failed), their rows "
        f"in {out / CATALOG_PARQUET} (and {CATALOG_CSV}), their fits in {out / LENSES_DIR}.")
    if retried:
        kept += (f" The {'failed lens is' if retried == 1 else f'{retried} failed lenses are'} fitted again by the "
                 "command below, which keeps --retry-failed.")
    if gone:
        from tinylens.survey.template import some_lenses

        one = len(gone) == 1
        kept += (f" Not fitted again, though failed before: {gone[0] if one else some_lenses(gone)}, whose lens "
                 f"{'folder is' if one else 'folders are'} no longer there (the command leaves "
                 f"{'its row' if one else 'their rows'} out of the catalogue).")
    if written:
        return (f"It was stopped after the survey had finished and written everything. {kept} For an overview, "
                f"run: tinylens report {out / CATALOG_PARQUET}")
    # on an external cluster a lens still fitted there is finished by its worker, not started again
    still = ", unless the Dask worker still fitting {} finishes it first" if cluster else ""
    if restart:
        interrupted = f"interrupted lenses start again from the beginning: {restart}{still.format('one')}"
    else:
        interrupted = "interrupted lenses resume from their checkpoints"
        bare = unfinished_without_checkpoint(_among(unfinished, named))
        if len(bare) == 1:
            interrupted += f"; {bare[0]} had written none yet and starts again from the beginning{still.format('it')}"
        elif bare:
            from tinylens.survey.template import some_lenses

            interrupted += (f"; {some_lenses(bare)} had written none yet and start again from the beginning"
                            f"{still.format('one')}")
        other = other_template_checkpoints(_among(unfinished, named), digest)
        if other:
            from tinylens.survey.template import some_lenses

            one = len(other) == 1
            interrupted += (f"; {other[0] if one else some_lenses(other)} {'holds a checkpoint' if one else 'hold checkpoints'} "
                            "of a fit of another template or precision, resumed only where its fingerprint matches "
                            f"this fit's all the same, else fitted from the beginning{still.format('it' if one else 'one')}")
    if cluster:  # its workers outlive the client: a rerun waits for their lenses, a cancelled job loses them
        kept += (f" The Dask workers at {cluster} go on fitting the lenses they had started: running it again waits "
                 "for them and keeps their results, while stopping those workers (ending their batch job) loses what "
                 "they did since each lens's last checkpoint.")
        if waiting:
            from tinylens.survey.template import some_lenses

            one = len(waiting) == 1
            kept += (f" The survey's {'task' if one else 'tasks'} of {waiting[0] if one else some_lenses(waiting)} "
                     f"{'waits' if one else 'wait'} there for the lock of {'its lens folder' if one else 'their lens folders'}, "
                     "held by another process (a fit of an earlier survey still running?): "
                     f"{'it fits the lens' if one else 'each fits its lens'} once it gets the lock, unless that process "
                     "finished it.")
    return f"{kept} To fit the rest ({interrupted}), run: {command}"


def unfinished_without_checkpoint(unfinished: Mapping[str, Path]) -> list[str]:
    """The lenses of the ``unfinished`` lens folders of a survey (:func:`unfinished_folders`, by name)
    whose fit was begun (their folder is there) but neither finished nor checkpointed, by the rules the survey
    run again applies: no ``row.json`` of that lens that makes it done (:func:`unfinished_folders`:
    one copied from another lens is not its row, an ``ok`` one whose ``result.json`` is gone is
    fitted again) nor a ``result.json`` its row is rebuilt from
    (:func:`tinylens.survey.rows.result_row`), and none of the checkpoint files a resuming
    template's fit resumes from (:func:`tinylens.survey.resume.holds_checkpoint` of
    :func:`tinylens.survey.resume.resumed_names`, as the dry run counts them): a fit stopped in its
    first stages, which starts again from the beginning. By name."""
    from tinylens.survey.resume import RESUMED_FILES, holds_checkpoint

    names = RESUMED_FILES  # resumed_names of a template that resumes (else the hint says restart)
    return [name for name, folder in unfinished.items() if not holds_checkpoint(folder, names)]


def unfinished_folders(out: Path, chosen: Sequence[str] | None = None) -> dict[str, Path]:
    """The lens folders of the survey folder ``out`` (of the ids ``chosen`` only, where given), by
    name, whose lens the survey run again fits: neither a ``row.json`` of that lens that makes it done
    (:func:`tinylens.survey.rows.is_done`: ``failed``, or ``ok`` with its ``result.json``; an ``ok``
    row whose result is gone is fitted again) nor a ``result.json`` its row is rebuilt from
    (:func:`tinylens.survey.rows.result_row`); none where the folder cannot be listed."""
    from tinylens import filenames
    from tinylens.filenames import LENSES_DIR
    from tinylens.survey.rows import is_done, read_row, result_row

    wanted = None if chosen is None else set(chosen)
    try:
        folders = sorted(path for path in (out / LENSES_DIR).iterdir() if path.is_dir())
    except OSError:
        return {}
    return {folder.name: folder for folder in folders
            if (wanted is None or folder.name in wanted)
            and not is_done(read_row(folder / filenames.ROW, folder.name), folder)
            and result_row(folder.name, folder / filenames.RESULT) is None}


def other_template_checkpoints(unfinished: Mapping[str, Path], digest: str | None) -> list[str]:
    """The lenses of the ``unfinished`` lens folders of a survey (:func:`unfinished_folders`, by name:
    no row of theirs, :func:`unfinished_without_checkpoint`'s rules) holding a checkpoint written
    by a fit of another template than the one of ``digest``
    (:func:`tinylens.survey.resume.other_checkpoints`); none where ``digest`` is not known."""
    from tinylens.survey.resume import RESUMED_FILES, other_checkpoints

    if digest is None:
        return []
    return other_checkpoints(unfinished, RESUMED_FILES, digest)


def _among(folders: Mapping[str, Path], ids: Sequence[str] | None) -> dict[str, Path]:
    """``folders`` (by lens id) of the lens ids ``ids`` only, where given, in their order: what
    :func:`unfinished_folders` gives for ``ids`` where ``folders`` is its answer for more of them."""
    if ids is None:
        return dict(folders)
    wanted = set(ids)
    return {name: folder for name, folder in folders.items() if name in wanted}


def without_flag(command: str, flag: str) -> str:
    """The shell line ``command`` without the option ``flag`` (one that takes no value)."""
    return shlex.join(word for word in shlex.split(command) if word != flag)


def interrupted_hint(name: str, exc: BaseException, command: str) -> str:
    """The line after ``Interrupted.`` for the command ``name`` (run as the shell line
    ``command``) stopped by ``exc`` (a KeyboardInterrupt). A survey stopped once it had deleted
    the failed rows it retries is resumed without ``--retry-failed``: the lenses it had not
    retried yet have no row and are fitted anyway, and those that failed again stay failed."""
    from tinylens.interrupts import INTERRUPTED_FOLDER_ATTR, INTERRUPTED_PROBLEM_ATTR

    if getattr(exc, AT_END_ATTR, False):  # no folder marked on it: the fit's or survey's hint would say "nothing written"
        return "It came as the command ended, once it had done everything: there is nothing to run again."
    if name == "fit":
        return fit_hint(getattr(exc, INTERRUPTED_FOLDER_ATTR, None), getattr(exc, INTERRUPTED_PROBLEM_ATTR, None),
                        fresh="--fresh" in shlex.split(command))
    if name == "survey":
        from tinylens.survey.resume import (EXTERNAL_CLUSTER_ATTR, FORGOTTEN_ATTR, LOCK_WAITERS_ATTR, RESTART_ATTR,
                                            SURVEY_LENSES_ATTR, TEMPLATE_DIGEST_ATTR)

        if getattr(exc, FORGOTTEN_ATTR, False):
            command = without_flag(command, "--retry-failed")
        return survey_hint(getattr(exc, INTERRUPTED_FOLDER_ATTR, None), command, getattr(exc, SURVEY_WRITTEN_ATTR, False),
                           getattr(exc, RESTART_ATTR, None), getattr(exc, SURVEY_CHOSEN_ATTR, None),
                           getattr(exc, SURVEY_LENSES_ATTR, None), getattr(exc, EXTERNAL_CLUSTER_ATTR, None),
                           (getattr(exc, TEMPLATE_DIGEST_ATTR, None) or [None])[0], getattr(exc, LOCK_WAITERS_ATTR, ()))
    if name == "simulate-population":
        from tinylens.cli.simulate_population import stopped_hint

        return stopped_hint(getattr(exc, INTERRUPTED_FOLDER_ATTR, None), command)
    return ""


def run_first(check: Callable[[], None], callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback`` that calls ``check()`` before it starts."""
    @functools.wraps(callback)
    def checked(*args: Any, **kwargs: Any) -> Any:
        check()
        return callback(*args, **kwargs)

    return checked


def no_value_shown(option: Any) -> Any:
    """``option`` (a click or typer option, or None), shown in ``--help`` without a value where it
    is a flag (``--dry-run``, ``--help``) and no metavar was chosen for it: typer 0.29 writes its type
    after every option (``--retry-failed <bool>``), which reads as if the flag took a value; older
    typer left BOOLEAN out. An empty metavar is what both show as nothing."""
    if (option is not None and getattr(option, "is_flag", False) and not getattr(option, "count", False)
            and option.metavar is None):
        option.metavar = ""
    return option


class FlagsShownWithoutValue:
    """A command (or group) whose flags, ``--help`` among them, show no value in its help
    (:func:`no_value_shown`); each option that takes one names it with its own metavar."""

    params: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "option":
                no_value_shown(param)

    def get_help_option(self, ctx: Any) -> Any:
        return no_value_shown(super().get_help_option(ctx))  # type: ignore[misc]


class TinyLensCommand(FlagsShownWithoutValue, TyperCommand):
    """Every ``tinylens`` command's class (``app.command(name, cls=TinyLensCommand)``)."""


class TinyLensGroup(FlagsShownWithoutValue, TyperGroup):
    """The command group: turns user errors raised by any command, and a disk that refuses its
    writes (:data:`UNWRITABLE`), into a message and exit 2, running out of memory (:func:`out_of_memory`) into a message and exit 1, and
    stops each command at once on a TINYLENS_PRECISION typo (once its arguments are read, so that
    ``tinylens COMMAND --help`` still works)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from tinylens.precision import check_environment

        super().__init__(*args, **kwargs)
        for command in self.commands.values():
            if command.callback is not None:
                command.callback = run_first(check_environment, command.callback)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta[ARGS_KEY] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        token = ON_COMMAND_LINE.set(True)  # messages leave out what only a Python caller can have done
        read = CONFIG_READ.set(None)  # no config of an earlier command's (in one process: tests, a notebook)
        try:
            return self._invoke(ctx)
        finally:
            CONFIG_READ.reset(read)
            ON_COMMAND_LINE.reset(token)

    def _invoke(self, ctx: Any) -> Any:
        term = TerminateAsInterrupt()  # a batch job's time limit: the catalogue written, the hint shown
        try:
            with UnswallowedInterrupt(), term:  # Ctrl-C inside JAX's garbage-collector callback was only printed
                return super().invoke(ctx)
        except USER_ERRORS as exc:
            print_error(describe_user_error(exc, ctx.invoked_subcommand))
            raise typer.Exit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt as exc:
            interrupted(ctx, exc, term.terminated)
        except Exception as exc:
            interrupt = None if isinstance(exc, CLICK_EXITS) else interrupt_behind(exc)
            if interrupt is not None:
                interrupted(ctx, interrupt, term.terminated)
            if isinstance(exc, OSError) and exc.errno in UNWRITABLE:  # the disk's refusal, not a bug in tinylens
                print_error(unwritable_text(exc))
                raise typer.Exit(EXIT_USER_ERROR) from None
            if isinstance(exc, OSError) and exc.errno in DISK_FAILED and written_output(exc):  # a failing disk's
                print_error(disk_failed_cli_text(exc, ctx.invoked_subcommand))
                raise typer.Exit(EXIT_USER_ERROR) from None
            if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:  # a path given, not a bug in tinylens
                print_error(too_long_text(exc))
                raise typer.Exit(EXIT_USER_ERROR) from None
            if out_of_memory(exc):  # the machine's limit (or its GPU's), not a bug in tinylens
                print_error(out_of_memory_text(exc, ctx.invoked_subcommand, CONFIG_READ.get()))
                raise typer.Exit(EXIT_OUT_OF_MEMORY) from None
            raise


#: What commands raise to end with a chosen exit code or message: never taken for an error.
CLICK_EXITS = (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort)


def interrupted(ctx: Any, exc: KeyboardInterrupt, terminated: bool = False) -> NoReturn:
    """End the command ``ctx`` stopped by ``exc`` with one line and exit code 130, or 143 where
    SIGTERM stopped it (``terminated``)."""
    command = shlex.join([ctx.info_name or "tinylens", *ctx.meta.get(ARGS_KEY, [])])
    hint = interrupted_hint(ctx.invoked_subcommand or "", exc, command)
    what = "Terminated (SIGTERM: a batch system's time limit, scancel or kill)." if terminated else "Interrupted."
    err_console.print(f"[bold yellow]{escape(what)}[/] {escape(hint)}".rstrip(), soft_wrap=True)
    raise typer.Exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None
