"""A fit's output folder: where it is (``output=``, else ``output.path`` from the config's folder),
that no environment variable is left unexpanded in it, that another fit is not writing it (its
lock's texts, which a survey's lens words for its own command), and what a fit says when the disk
there is full or read-only, or its writes are refused: nothing is half-written, and what a fit run
again resumes.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinylens import filenames
from tinylens.errors import (DISK_FAILED, DISK_FULL, FIT_RERUN, KEPT_ATTR, OUTPUT_FOLDER_CHOICE, ConfigValueError, OutputError,
                             disk_check_text, in_config_file, outside_stacklevel, written_output)

if TYPE_CHECKING:
    from tinylens.config.schema import Config


def output_dir(problem, output: str | Path | None = None, config: str | Path | None = None) -> Path:
    """``output`` (a relative one from the current folder, as any path a user types), else the
    config's ``output.path`` (default ``output``), a relative one from ``problem.base_dir`` (the
    ``base_dir`` given to :func:`~tinylens.fit`, else the YAML's folder). An ``output.path`` holding an
    environment variable is a ConfigValueError (:func:`~tinylens.fitting.folder.check_output_path`; ``config``: the config
    file's path, which the error names)."""
    from tinylens.config.loader import home_expanded, resolve_path

    if output is not None:
        return home_expanded(output).absolute()
    text = output_path_text(problem.config)
    folder = resolve_path(problem.base_dir, text)
    check_output_path(text, folder, config)
    return folder


def output_path_text(config: Any) -> str:
    """The ``output.path`` of the loaded ``config`` as written there (default ``output``)."""
    return getattr(getattr(config, "output", None), "path", None) or "output"


def refuse_if_folder_busy(read: tuple[Config, Path], output: str | Path | None, base_dir: str | Path | None) -> None:
    """The :class:`~tinylens.errors.OutputError` of a fit whose output folder another fit holds
    (:func:`~tinylens.fitting.folder.busy_text`, as :func:`~tinylens.locks.folder_lock` words it), from the config alone:
    ``read`` is what :func:`~tinylens.config.loader.read_config_first` returned (the config and its
    default folder), ``output`` and ``base_dir`` as given to :func:`~tinylens.fit`; the folder is the one
    :func:`~tinylens.fitting.folder.output_dir` gives once the data are loaded. Reads only the lock file and the standard
    library's modules, so the second of two fits on one folder is refused before JAX, astropy and
    nautilus are imported and the data read (seconds). An ``output.path`` holding a ``$`` or ``%``
    (an environment variable, which :func:`~tinylens.fitting.folder.check_output_path` refuses once the data are loaded) is
    left to the check :func:`~tinylens.fit` makes there."""
    from tinylens.config.loader import home_expanded, resolve_path
    from tinylens.locks import refuse_if_held

    cfg, default_dir = read
    if output is not None:
        folder = home_expanded(output).absolute()
    else:
        text = output_path_text(cfg)
        if "$" in text or "%" in text:
            return
        folder = resolve_path(home_expanded(base_dir) if base_dir is not None else default_dir, text)
    refuse_if_held(folder, filenames.FIT_LOCK, busy_text(folder))


def set_variables(text: str) -> list[str]:
    """The environment variables that ``text`` names (``$A``, ``${A}``, ``%A%``:
    :data:`tinylens.data.dataset.VARIABLE`) and that are set here; ``%A%`` too, which
    ``os.path.expandvars`` expands on Windows only."""
    from tinylens.data.dataset import VARIABLE

    names = (found.group().strip("${}%") for found in VARIABLE.finditer(text))
    return [name for name in dict.fromkeys(names) if name in os.environ]


def check_output_path(text: str, folder: Path, config: str | Path | None = None) -> None:
    """A ConfigValueError naming ``output.path`` where its ``text`` holds an environment variable
    (``$SCRATCH/out``): a config's paths do not expand them, as its data paths do not
    (:func:`tinylens.data.dataset.variable_hint`), so the fit would write into a folder named
    ``$SCRATCH`` (``folder``) unsaid. A folder whose real name holds it (``lens_$A``, there already,
    as a data path's file is, and no variable set here that it would stand for) is taken.
    ``config``: the config file's path, which the error names."""
    from tinylens.data.dataset import VARIABLE, variable_hint

    hint = variable_hint(text)
    named = next((p for p in (folder, *folder.parents) if VARIABLE.search(p.name)), None)
    if not hint or (named is not None and named.is_dir() and not set_variables(text)):
        return
    where = in_config_file(config)
    raise ConfigValueError(f"{where}output.path '{text}' would write the fit's outputs into the folder {folder}.{hint} "
                           "Or give the output folder with --output (tinylens.fit: output=).")


#: What a :func:`~tinylens.fit`'s lock refusals tell its user to run again (``folder_lock``'s ``rerun``):
#: :data:`~tinylens.errors.FIT_RERUN` for a plain call; a caller whose user ran something else (a
#: survey's lens, :func:`tinylens.survey.task.fit_lens`) sets its own with :func:`~tinylens.fitting.folder.rerun_said`.
RERUN_TEXT: contextvars.ContextVar[str] = contextvars.ContextVar("tinylens_fit_rerun", default=FIT_RERUN)


#: What a :func:`~tinylens.fit`'s refusal of an output folder another fit is writing (:func:`~tinylens.fitting.folder.busy_text`)
#: tells its user to choose instead: :data:`~tinylens.errors.OUTPUT_FOLDER_CHOICE` for a plain call; a
#: survey's lens, whose folder its user chose by the survey's ``--out``, sets its own with :func:`~tinylens.fitting.folder.rerun_said`.
FOLDER_CHOICE_TEXT: contextvars.ContextVar[str] = contextvars.ContextVar("tinylens_fit_folder_choice",
                                                                         default=OUTPUT_FOLDER_CHOICE)


@contextlib.contextmanager
def rerun_said(text: str, folder_choice: str | None = None) -> Iterator[None]:
    """Within the block, a :func:`~tinylens.fit`'s lock refusals tell its user to run ``text`` again
    (:data:`~tinylens.fitting.folder.RERUN_TEXT`) and, where ``folder_choice`` is given, to choose another ``folder_choice``
    for a folder another fit is writing (:data:`~tinylens.fitting.folder.FOLDER_CHOICE_TEXT`); as before after it."""
    token = RERUN_TEXT.set(text)
    folder = FOLDER_CHOICE_TEXT.set(folder_choice) if folder_choice is not None else None
    try:
        yield
    finally:
        if folder is not None:
            FOLDER_CHOICE_TEXT.reset(folder)
        RERUN_TEXT.reset(token)


#: The start of :func:`~tinylens.fitting.folder.warn_unlocked`'s message, as a ``warnings`` filter matches it (a survey,
#: which says so of its ``--out``, leaves it out of its lenses' rows).
UNLOCKED_WARNING = r"The file system of the output folder .* does not support file locks"


def warn_unlocked(out: Path) -> None:
    """A DataWarning for a fit that runs in ``out`` without its lock (:data:`tinylens.filenames.FIT_LOCK`):
    the file system has no ``flock`` (some Lustre and NFS mounts), so a second fit in ``out``
    would not be refused (as a survey's :func:`tinylens.survey.runner.warn_unlocked` says of its ``--out``)."""
    from tinylens.errors import DataWarning

    warnings.warn(f"The file system of the output folder {out} does not support file locks (flock; some Lustre and "
                  "NFS mounts do not): a second tinylens fit started in this folder while this one runs would not "
                  "be refused, and the two would overwrite each other's checkpoint and results. Run one fit at a "
                  "time in it (or choose an output.path on a disk with locks).", DataWarning,
                  stacklevel=outside_stacklevel())


@contextlib.contextmanager
def disk_full_reported(folder: Path, sampler: bool = True, resumed: bool = True,
                       section: str = "inference.settings") -> Iterator[None]:
    """Raise an OSError of a full disk (:data:`DISK_FULL`) or a read-only one (EROFS) inside as
    an OutputError naming the output ``folder`` and what is kept there: every file is written
    under a temporary name first, so none is left half-written and (``sampler``) the checkpoints
    written before are whole, for the fit run again to resume; an optimizer's fit
    (``sampler`` false, :data:`~tinylens.fitting.summary.OPTIMIZERS`) keeps none, and run again starts afresh, as does a
    sampler's whose settings say ``resume: false`` (``resumed`` false: :func:`~tinylens.fitting.folder.afresh_text`, its
    settings named as ``section``, where the config gives them). One of a failing disk
    (:data:`~tinylens.errors.DISK_FAILED`: EIO, NFS's ESTALE) raised writing an output
    (:func:`~tinylens.errors.written_output`) is raised as it is, with what is kept said in its
    :data:`~tinylens.errors.KEPT_ATTR` for the command line's message."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.EROFS:
            what = f"{exc.filename} cannot be written" if exc.filename is not None else "the fit's files cannot be written"
            kept = _kept_text(sampler, resumed, "run the fit again once the disk is writable", section)
            raise OutputError(
                f"Output folder {folder}: {what} ({exc.strerror or 'read-only'}: the disk is mounted read-only). Nothing "
                f"there is half-written, {kept}"
            ) from None
        if exc.errno in DISK_FAILED and written_output(exc):  # a failing disk's (EIO) or NFS's (ESTALE): raised as
            # it is (a survey's worker retries the lens), with what is kept for the command line's message
            setattr(exc, KEPT_ATTR, _kept_text(sampler, resumed, f"{disk_check_text(exc)}, then run the fit again",
                                               section))
            raise
        if exc.errno not in DISK_FULL:
            raise
        kept = _kept_text(sampler, resumed, "free some space and run the fit again", section)
        raise OutputError(
            f"Output folder {folder}: no space left to write the fit's files ({exc.strerror or 'disk full'}: the disk, "
            f"or your quota on it, is full). Nothing there is half-written, {kept}"
        ) from None


def _kept_text(sampler: bool, resumed: bool, todo: str, section: str = "inference.settings") -> str:
    """What :func:`~tinylens.fitting.folder.disk_full_reported` says is kept, with what ``todo`` to go on: the checkpoints,
    for a fit that resumes them, else why a fit run again starts afresh (:func:`~tinylens.fitting.folder.afresh_text`)."""
    if sampler and resumed:
        return f"and the checkpoints written before are kept: {todo} to resume it."
    return f"and {afresh_text(sampler, section)}: {todo} (it starts afresh)."


def afresh_text(sampler: bool, section: str = "inference.settings") -> str:
    """Why a fit run again after its outputs failed starts afresh: an optimizer keeps no
    checkpoint (``sampler`` false); a sampler whose settings say ``resume: false`` resumes none,
    its settings named by the ``section`` the config gives them in (:func:`~tinylens.config.loader.settings_section`)."""
    if not sampler:
        return "an optimizer keeps no checkpoint"
    said = "its inference.settings say" if section == "inference.settings" else f"its {section} section says"
    return f"{said} resume: false, so a fit run again resumes no checkpoint"


def busy_text(out: Path) -> str:
    """The error of a fit whose output folder ``out`` another fit is writing (its ``{holder}`` to
    be replaced by who, :func:`tinylens.locks.folder_lock`); the folder to choose instead is
    :data:`~tinylens.fitting.folder.FOLDER_CHOICE_TEXT`'s (a survey's lens: another ``--out``)."""
    return (f"Output folder {out} is being written by another tinylens fit{{holder}}; two fits in one folder "
            "would overwrite each other's checkpoint and results. Wait for it to finish, or choose another "
            f"{FOLDER_CHOICE_TEXT.get()}.")
