"""Model a lens end to end: load, search, derive, and write tables, figures and ``result.json``.

>>> result = tinylens.fit("model_config.yaml")
>>> result.median["lens_mass.0.theta_E"], result.interval_997["lens_mass.0.theta_E"]
>>> result.summary            # pandas DataFrame, also in result_summary.csv

Outputs go to ``output.path`` (relative to ``base_dir=`` when given, else to the YAML's folder,
or to the current folder for a mapping), or to ``output=`` (relative to the current folder) when
given, with the file names of ``config.output``. The nested sampler checkpoints there, so a fit that is
stopped resumes when started again. ``result.json`` is written last: its presence means the
search ended. A search that stopped early (``n_like_max`` or ``timeout`` reached, so
``converged`` is false) keeps its checkpoint, so that running the fit again continues it; a
converged one deletes the checkpoint unless ``output.keep_checkpoint`` is true.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
import warnings

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tinylens import filenames
from tinylens.errors import (OUTPUT_FOLDER_CHOICE, ConfigError, ConfigTypeError, ConfigValueError, OutputError,
                             in_config_file, ls_command, outside_stacklevel, retold)
from tinylens.fitting.folder import RERUN_TEXT, busy_text, disk_full_reported, output_dir, refuse_if_folder_busy, warn_unlocked
from tinylens.fitting.folder import UNLOCKED_WARNING, rerun_said  # noqa: F401 (re-exported: tinylens.survey.runner imports them from here)
from tinylens.fitting.outputs import FIGURE_KEYS, OUTPUT_SECTIONS, corner_names, figure_keys, file_names, rewritten_names, write_results
from tinylens.fitting.outputs import config_dict  # noqa: F401 (re-exported: tinylens.survey.runner imports it from here)
from tinylens.fitting.replaced import (_check_replaceable, _refused_replacement, _remove_rewritten, _same_file, refused_reported,
                                       remove_replaced, replaced_files, undeletable_text)
from tinylens.fitting.summary import FitResult, _finite, stopping_limit, unconverged_text
from tinylens.interrupts import INTERRUPTED_PROBLEM_ATTR, folder_on_interrupt, marked_on_interrupt
from tinylens.jsonfile import read_result_json
from tinylens.paths import PATH_MAX, limit_text, name_max_said, name_too_long

if TYPE_CHECKING:  # imported lazily: ``import tinylens`` stays light (tinylens.fit is re-exported)
    from tinylens.config.schema import Config


def fit(config: str | os.PathLike[str] | Mapping[str, Any] | Config, *, progress: bool = True,
        output: str | os.PathLike[str] | None = None, base_dir: str | os.PathLike[str] | None = None,
        fresh: bool = False, truth: Mapping[str, float] | str | os.PathLike[str] | None = None,
        truth_errors: Literal["raise", "warn"] = "raise", pipeline: bool = True) -> FitResult:
    """Fit the lens that ``config`` (YAML path, a mapping of its content, or a loaded
    :class:`~tinylens.config.schema.Config`) describes, write all outputs and return them as a
    :class:`FitResult` (``result.median``, ``result.summary``, ``result.samples``, ...).

    >>> result = tinylens.fit("model_config.yaml", progress=False)
    >>> result.median["lens_mass.0.theta_E"], result.interval_68["lens_mass.0.theta_E"]
    >>> result.output_dir                        # result.json, tables and figures

    Relative paths in ``config`` are taken from ``base_dir`` if given, else from the YAML file's
    folder (the current folder for a dict), as in :func:`tinylens.load`. Outputs go to
    ``output`` if given (a relative one from the current folder), else to the config's
    ``output.path``. ``progress``: print each stage as it starts and a live status line of the
    search (``False``: nothing, for loops and batch jobs). A fit stopped earlier
    in the same output folder is resumed from its checkpoints, unless ``fresh``: then they are
    deleted first and everything (the pipeline's stages too) is done again. ``progress`` and
    ``fresh`` are True or False, or 1 or 0 (a text such as ``"false"`` is a ConfigTypeError, :func:`check_flag`).
    ``pipeline=False`` (``tinylens fit --no-pipeline``) runs the sampler alone over the full priors,
    none of the pipeline's stages, as the config's ``pipeline: {enabled: false}`` does (result.json's
    config says so): a quick look where the sampler's cap (``n_like_max``, ``maxcall``) is small,
    as that cap counts the sampler's calls only, not the stages'. An optimiser runs no stage anyway.

    ``truth``, for a simulated lens: the true values, as a mapping of parameter name
    (``lens_mass.0.theta_E``) to value (a pandas or astropy row of simulate-population's ``truth.csv`` too)
    or the path of a ``truth.json`` (that of ``tinylens demo``
    or ``simulate-population``, see :func:`tinylens.results.truth.read_truth`), marked on the
    corner plot (and kept as the result's ``truth``); those of fixed parameters are ignored. A
    file is read once, before the data are loaded. A truth that cannot be used (a file that cannot
    be read, neither a mapping nor a path, a value that is not a number, no free parameter named) raises
    :class:`~tinylens.errors.DataError`, or with ``truth_errors`` "warn" (a survey's) is a
    :class:`~tinylens.errors.DataWarning` and the lens is fitted without it; another text for
    ``truth_errors`` is a ConfigValueError (a ConfigError and a ValueError), as an empty ``output`` or ``base_dir`` is,
    and as an integer other than 1 or 0 for ``progress``, ``fresh`` or ``pipeline`` is; a ``truth_errors`` that is no
    text (None) or a ``progress``, ``fresh`` or ``pipeline`` that is neither a bool nor an integer (``"false"``, None)
    is a ConfigTypeError (a ConfigError and a TypeError).

    The inference settings, that the likelihood is finite somewhere in the prior
    (:func:`check_likelihood`) and the output folder (:class:`~tinylens.errors.OutputError`) are
    checked before the output folder is touched or anything is sampled; a disk that fills while the
    fit writes is an OutputError too (:func:`disk_full_reported`). Another fit writing the same
    output folder is refused (an OutputError naming it) once the config is read, before the data are loaded; on a file system without file locks the
    fit runs unlocked, with a DataWarning saying so (:func:`warn_unlocked`). Calls in a loop are
    safe: compiled code of earlier fits is dropped when it crowds the process
    (:func:`tinylens.compilation.release_if_crowded`). A fit that did not converge (``result.converged``
    false) warns so, with what to do (:class:`~tinylens.errors.ConvergenceWarning`).
    """
    from tinylens.compilation import release_if_crowded
    from tinylens.config.loader import as_path, check_folder_argument, read_config_first
    from tinylens.results.truth import TRUTH_ERRORS, check_truth, read_truth, truth_step

    if not isinstance(truth_errors, str) or truth_errors not in TRUTH_ERRORS:
        error = ConfigValueError if isinstance(truth_errors, str) else ConfigTypeError
        raise error(f"truth_errors must be one of {', '.join(map(repr, TRUTH_ERRORS))}; "
                    f"got {type(truth_errors).__name__} {truth_errors!r}.")
    check_flag("progress", progress)
    check_flag("fresh", fresh)
    check_flag("pipeline", pipeline)
    progress, fresh = bool(progress), bool(fresh)  # 1 or 0 passed on as True or False
    check_folder_argument("output", output)
    config, truth = as_path(config), as_path(truth)
    started = time.perf_counter()
    release_if_crowded()  # so that a loop over many lenses does not reach the kernel's limit on memory maps
    source = str(truth) if isinstance(truth, (str, Path)) else "truth"
    truth_file = truth if isinstance(truth, (str, Path)) else None  # an input the fit may not write over
    if isinstance(truth, (str, Path)):  # a bad file is reported before the data are loaded
        truth = truth_step(partial(read_truth, truth), source, truth_errors)
    read = read_config_first(config, base_dir, None)  # a config's mistake said before JAX is imported (seconds)
    check_settings_first(read[0], config if isinstance(config, (str, Path)) else None)  # and a sampler setting's
    refuse_if_folder_busy(read, output, base_dir)  # and another fit in its output folder (checked again below)
    from tinylens.inference import run_inference, sampler_method, search_of
    from tinylens.inference.common import resumes
    from tinylens.inference.progress import announce
    from tinylens.locks import folder_lock, refuse_if_held
    from tinylens.problem import LOAD_ORIGIN, load_from
    from tinylens.results import tables
    from tinylens.survey.provenance import dataset_files, inputs_stamp

    problem = load_from(config, base_dir, LOAD_ORIGIN, read=read)
    if not pipeline:
        problem = without_pipeline(problem)
    inputs = inputs_stamp(dataset_files(problem.dataset))  # the files as loaded: what result.json says was fitted
    folder = output_dir(problem, output, config if isinstance(config, (str, Path)) else None)
    with folder_on_interrupt(folder), marked_on_interrupt(INTERRUPTED_PROBLEM_ATTR, problem):
        if truth is not None:
            truth = truth_step(partial(check_truth, truth, problem.param_names, source), source, truth_errors)
        path = config if isinstance(config, (str, Path)) else None
        check_settings(problem, folder, path)
        check_inputs_kept(problem, folder, path, truth_file)
        refuse_if_held(folder, filenames.FIT_LOCK, busy_text(folder))  # at once, not after the likelihood's compilation
        check_likelihood(problem, path)
        out = tables.ensure_writable(folder)
        busy = busy_text(out)
        module, _, settings, _ = search_of(problem)
        sampler = hasattr(module, "checkpoint_stamp")  # an optimiser keeps no checkpoint
        resumed = resumes(settings)  # resume: false: a fit run again starts afresh too
        from tinylens.config.loader import settings_section
        from tinylens.pipeline.run import looked_at_once

        section = settings_section(problem.config)  # sampling, for TinyLensGpu's older section
        with (disk_full_reported(out, sampler, resumed, section),
              folder_lock(out, filenames.FIT_LOCK, busy=busy, rerun=RERUN_TEXT.get()) as locked,  # its text too
              looked_at_once()):  # the stages' state read, and their fingerprint computed, once
            if not locked:
                warn_unlocked(out)
            capped = None if fresh else capped_again(problem, out)
            if capped is not None:  # said before any output is removed or written again: they take minutes with figures
                _say_capped(out, capped, problem.config)
            kept_inputs = list(fit_inputs(problem, path, truth_file).values())
            switched = None if fresh else pipeline_switched(problem, out)  # read before result.json goes
            # before result.json, whose record names them until then: those this fit does not write (a
            # warning names any the system keeps), and those it writes again too, so that a fit killed
            # before its outputs leaves no earlier fit's tables and figures to be read as its own
            written = rewritten_names(problem)  # a figure it may not draw is left with a warning, as after it
            earlier = replaced_files(out, set(), kept_inputs)
            unresumed, kept = (([], False), []) if fresh else _checkpoints_look(problem, out)
            afresh = sampler and not resumed and not fresh  # resume: false resumes none, but deletes its sampler's
            _check_replaceable(out, [  # all said at once, before any earlier file goes
                *((again, AFTER_WHEN) for again in [out / filenames.RESULT, *(p for p in earlier if p.name in written)]),
                *((out / name, AFTER_WHEN) for name in sorted(written - {p.name for p in earlier})),  # none names
                *((path, UNRESUMED_WHEN) for path in replaced_checkpoints(out, unresumed[0])),  # minutes on
                *([(out / filenames.CHECKPOINTS[sampler_method(problem)], AFRESH_WHEN)] if afresh else []),
                *([] if fresh else rewritten_checkpoints(problem, out, kept, capped is not None)),
                *([] if fresh else rewritten_record(problem, out))])  # under fresh, deleted (said) with the checkpoints
            # the files whose refusal stops the fit (the checkpoint under fresh, dynesty's unfinished
            # one) go first, so that such a stop leaves the earlier fit's result.json and tables whole
            if fresh:
                _remove_checkpoints(out)
            _remove_leftovers(problem, out)  # a killed fit's temporaries, dynesty's unfinished checkpoint
            # result.json first: an old result must not look like this fit's, nor name tables gone
            # where the system refuses to delete one of them (a file marked immutable)
            _remove_rewritten(out, out / filenames.RESULT)
            remove_replaced(out, [p for p in earlier if p.name not in written])
            for again in (p for p in earlier if p.name in written):
                _remove_rewritten(out, again)
            if not fresh:
                _warn_unresumed(problem, out, unresumed, switched)
            res = run_inference(problem, progress=progress, checkpoint_dir=out)
            removed = res.converged and not problem.config.output.keep_checkpoint
            checkpoint = res.info.get("checkpoint")
            if removed:  # result.json must not name a checkpoint deleted once it is written
                res = replace(res, info={**res.info, "checkpoint": None})
            # derived quantities and figures take seconds (about 12 s for the demo on 2 cores)
            # figures said only where the fit surely draws them: draw_figures: untrusted draws none of a fit
            # the quality checks (made with the tables) trust, none at all: none
            what = ("result.json, tables and figures" if figure_keys(problem, surely=True)
                    else "result.json and tables (figures too if the quality checks do not trust the fit)"
                    if figure_keys(problem) else "result.json and tables")
            announce(progress, "outputs", f"writing {what} to {out}")
            with refused_reported(out, sampler, resumed, section):
                result = write_results(problem, res, out, started, truth, inputs, progress=progress)
            if removed:
                kept = _remove_checkpoints(out, written=True)
                result = _checkpoint_kept(result, out, checkpoint, kept)
    if not result.converged:
        from tinylens.errors import ConvergenceWarning

        warnings.warn(unconverged_text(result), ConvergenceWarning, stacklevel=outside_stacklevel())
    return result


def without_pipeline(problem: Any) -> Any:
    """``problem`` with its config's ``pipeline.enabled`` false: the sampler alone over the full
    priors (``fit(..., pipeline=False)``, ``tinylens fit --no-pipeline``); the data, model and
    everything else as they are."""
    config = problem.config
    return replace(problem, config=config.model_copy(update={"pipeline": config.pipeline.model_copy(
        update={"enabled": False})}))


def check_flag(name: str, value: Any) -> None:
    """A ConfigError naming the argument ``name`` when its ``value`` is not True or False (numpy's
    bools too) nor the integer 1 or 0, as a config's true/false keys take them: a text such as
    ``"false"`` is true to Python, and ``fresh="false"`` deleted the checkpoints of a stopped fit.
    A value of another type (``"false"``, None, 1.0) is a :class:`~tinylens.errors.ConfigTypeError`,
    an integer other than 1 or 0 a :class:`~tinylens.errors.ConfigValueError`, as the rest of the API's are."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return
    error = ConfigValueError if isinstance(value, (int, np.integer)) else ConfigTypeError
    raise error(f"{name} must be True or False (or 1 or 0); got {type(value).__name__} {value!r}.")


def check_settings(problem: Any, folder: Path | None = None, config: str | Path | None = None) -> None:
    """What a fit checks of a loaded problem before it touches its output folder or samples
    (raises ConfigError): the inference method and its settings, and
    ``output.corner_parameters``. ``tinylens validate`` and a survey's template check run it too.
    With the output ``folder`` (a fit's), also that dynesty's evaluation history is not one of
    tinylens's own files there. With ``config``, the config file's path, the error names it."""
    from tinylens.inference import _named_as_written, check_inference, search_of

    with _config_file_named(config), _named_as_written(problem.config):  # dynesty's history: its key as written too
        check_inference(problem.config, problem.ndim)
        corner_names(list(problem.param_names), problem.config.output.corner_parameters)
        if folder is not None:
            module, _, settings, _ = search_of(problem)
            if hasattr(module, "check_history_folder"):  # dynesty's
                module.check_history_folder(settings, folder)


def check_settings_first(config_model: Any, config: str | Path | None = None) -> None:
    """What :func:`check_settings` refuses that the loaded config ``config_model`` alone tells
    (:func:`tinylens.inference.check_inference_first`: an unknown method, a sampler setting that
    does not exist, a value of the wrong kind), with its message, before JAX, the data and the
    sampler's library are loaded: a misspelt ``nlvie`` took 13-15 s to be said. With ``config``,
    the config file's path, the error names it."""
    from tinylens.inference import check_inference_first

    with _config_file_named(config):
        check_inference_first(config_model)


@contextlib.contextmanager
def _config_file_named(config: str | Path | None) -> Iterator[None]:
    """A ConfigError raised within the block begins with the config file ``config``'s path
    (:func:`~tinylens.errors.in_config_file`), of the same class (:func:`~tinylens.errors.retold`:
    a ConfigValueError stays one; a MethodNotInstalledError keeps its ``name``);
    as it was where ``config`` is None."""
    try:
        yield
    except ConfigError as exc:
        if config is None:
            raise
        raise retold(exc, f"{in_config_file(config)}{exc}") from None


def check_inputs_kept(problem: Any, folder: Path, config: str | Path | None = None,
                      truth: str | Path | None = None) -> None:
    """An :class:`~tinylens.errors.OutputError` where a file the fit writes into its output
    ``folder`` (a table or figure named in ``output``, or one of tinylens's own, such as
    ``result.json``) or dynesty's evaluation history (``history_filename``) is one of its input
    files (the dataset's, or the ``config`` file): with ``output.path: .`` and
    ``output.tables.summary: psf.fits`` the fit overwrote the PSF it fitted (a dataset path's
    ``[HDU]`` suffix left out: ``image.fits[0]`` is the file ``image.fits``). An output ``folder``
    this user may not look into (it, or a folder on its way, may not be entered) is an
    OutputError naming it and what to check, not a bare PermissionError, as is one the system
    refuses to look at (a name too long for it), or where the hidden temporary name a file is
    written under first would be too long for it (:func:`_check_temporaries_fit`). ``truth``: the
    ``--truth`` file, an input too where given."""
    try:
        _check_inputs_kept(problem, folder, config, truth)
    except PermissionError as exc:
        ls = ls_command(folder, folder.parent)
        raise OutputError(f"Output folder {folder} cannot be looked into ({exc.strerror or 'permission denied'} on "
                          f"{exc.filename or folder}): this user may not enter it or a folder on its way. Check their "
                          f"permissions ({ls} and the folders above), or choose another {OUTPUT_FOLDER_CHOICE}.") from None
    except OSError as exc:  # a name too long for the system (ENAMETOOLONG), a failing disk (EIO)
        raise OutputError(f"Output folder {folder}: {exc.filename or folder} cannot be looked at ({exc.strerror or exc}). "
                          f"Choose another {OUTPUT_FOLDER_CHOICE}, or check the output file names in the "
                          "config.") from None


def _check_inputs_kept(problem: Any, folder: Path, config: str | Path | None = None,
                       truth: str | Path | None = None) -> None:
    """:func:`check_inputs_kept`, whose OSError (an output folder that may not be entered) it
    leaves to it."""
    inputs = fit_inputs(problem, config, truth)
    keys = {name: f"output.{OUTPUT_SECTIONS[role]}.{role}" for role, name in file_names(problem.config).items()}
    for name in (*keys, *(own for own in filenames.RESERVED if own not in keys)):
        target = landing(folder / name)  # output.path: new/.. is the config's folder, before new/ is made
        found = _input_at(target, inputs) if target.is_file() else None
        if found is not None:
            what, path = found
            key = keys.get(name)
            writes = f"{key}: the fit would write {name}" if key else f"output.path: the fit writes its own {name}"
            rename = f"another name for {key} or " if key else ""
            raise OutputError(f"{writes} into its output folder {folder}, and that file is {what} ({path}), which it "
                              f"would overwrite. Choose {rename}another {OUTPUT_FOLDER_CHOICE}.")
    _check_temporaries_fit(problem, folder, keys)
    _check_no_folder_at_files(problem, folder, keys)
    _check_history_kept(problem, folder, inputs)


def _check_no_folder_at_files(problem: Any, folder: Path, keys: Mapping[str, str]) -> None:
    """An :class:`~tinylens.errors.OutputError` where a file the fit writes into its output
    ``folder`` (:func:`atomic_names`; its figures only where it may draw them, a corner plot a
    sampler's only) is a folder there, which the system would refuse to replace (IsADirectoryError):
    found before the search, not when its table is written after it. ``keys``: the config key of each file name the config chose."""
    names, drawn = file_names(problem.config), figure_keys(problem)
    undrawn = {names[key] for key in FIGURE_KEYS if key not in drawn}
    for name in atomic_names(problem):
        if name not in undrawn and landing(folder / name).is_dir():  # output.path: new/.. before new/ is made
            key = keys.get(name)
            what = f"its {name} ({key})" if key else f"its own {name}"
            rename = f"another name for {key} or " if key else ""
            raise OutputError(f"Output folder {folder}: {name} there is a folder, where the fit writes {what}, which "
                              f"the system would refuse after the search. Move or rename that folder, or choose "
                              f"{rename}another {OUTPUT_FOLDER_CHOICE}.")


def atomic_names(problem: Any) -> list[str]:
    """The files a fit of ``problem`` writes into its output folder under a hidden temporary name
    first (:mod:`tinylens.atomic`): its tables and figures, ``result.json``, and a sampler's
    checkpoint, the checkpoint's fingerprint and (with the pipeline) the pipeline's state."""
    from tinylens.inference import sampler_method, search_of

    module, _, _, pipeline = search_of(problem)
    names = [*file_names(problem.config).values(), filenames.RESULT]
    if hasattr(module, "checkpoint_stamp"):  # a sampler's; an optimiser keeps no checkpoint
        checkpoint = filenames.CHECKPOINTS[sampler_method(problem)]
        names += [checkpoint, filenames.fingerprint_name(checkpoint)]
        names += [filenames.PIPELINE_STATE] if pipeline is not None else []
    return names


def _check_temporaries_fit(problem: Any, folder: Path, keys: Mapping[str, str]) -> None:
    """An :class:`~tinylens.errors.OutputError` where the hidden temporary name that a file of the
    fit (:func:`atomic_names`) is written under first is longer than the system allows in the
    output ``folder`` (ENAMETOOLONG: a path of :data:`~tinylens.paths.PATH_MAX` bytes or more, or,
    said so, a name the config chose that fits but whose temporary passes the disk's
    :data:`~tinylens.paths.NAME_MAX` bytes a name), though the files' own names fit: found before
    the fit runs, not at its first file. The longest is tested (each is its file's name and the
    same number of bytes more). Where ``folder`` is not made yet the system
    says "not found" before it looks at a name's length, so the longest file name and its temporary
    are held against the limit of the nearest folder there (:func:`~tinylens.paths.name_max_said`), which
    a refusal in a folder made names too. ``keys``: the config key of each file name the config chose."""
    from tinylens.atomic import hidden_name

    name = max(atomic_names(problem), key=lambda n: len(os.fsencode(n)))
    temporary = hidden_name(folder / name)
    key = keys.get(name)
    reason = os.strerror(errno.ENAMETOOLONG)
    try:
        os.stat(temporary)
    except (FileNotFoundError, NotADirectoryError):  # no folder there yet: the system never saw the name
        limit, said = name_max_said(folder)
        if limit is not None and len(os.fsencode(name)) > limit:
            shorter = f"a shorter name for {key}" if key else "shorter names for the output files"
            raise OutputError(f"Output folder {folder}: {name} is {len(os.fsencode(name))} bytes, a name longer than "
                              f"the system allows ({reason}; {limit_text(limit, said)}). Choose {shorter} in the "
                              "config.") from None
        if limit is not None and len(os.fsencode(temporary.name)) > limit:
            raise OutputError(_temporary_too_long(folder, name, temporary, key, reason, limit, said)) from None
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        raise OutputError(_temporary_too_long(folder, name, temporary, key, exc.strerror or reason,
                                              *name_max_said(folder))) from None


def _temporary_too_long(folder: Path, name: str, temporary: Path, key: str | None, reason: str,
                        limit: int | None, said: bool) -> str:
    """What :func:`_check_temporaries_fit` says of the hidden ``temporary`` name of the file
    ``name`` (the config's ``key`` where it chose it) too long for the system (its ``reason``): a
    name too long, where the path fits (:data:`~tinylens.paths.PATH_MAX`) and the config chose it,
    or a path. ``limit``, ``said``: the longest name in bytes the temporary was held against and
    whether the system said it (:func:`~tinylens.paths.name_max_said`; where not, most disks'
    :data:`~tinylens.paths.NAME_MAX` is said, :func:`~tinylens.paths.limit_text`)."""
    first = (f"Output folder {folder}: the fit writes each file there under a hidden temporary name first, and "
             f"that of {name} ({temporary.name})")
    if len(os.fsencode(temporary)) < PATH_MAX and key:  # the path fits: the name itself is refused
        allowed = limit_text(limit, said)
        return (f"{first} is {len(os.fsencode(temporary.name))} bytes, a name longer than the system allows "
                f"({reason}; {allowed}). Choose a shorter name for {key} in the config.")
    shorter = f"a shorter name for {key} or " if key else ""
    return (f"{first} makes a path of {len(os.fsencode(temporary))} bytes, longer than the system allows "
            f"({reason}; {PATH_MAX} bytes on Linux). Choose {shorter}a shorter {OUTPUT_FOLDER_CHOICE}.")


def _check_history_kept(problem: Any, folder: Path, inputs: dict[str, Any]) -> None:
    """An :class:`~tinylens.errors.OutputError` where dynesty's evaluation history
    (``inference.settings.history_filename``, in the output ``folder`` unless absolute) is one of
    the fit's ``inputs`` (what each is -> its path), which dynesty would overwrite, or where its
    name, the name of a folder on its way, or its path (or a later sampling run's history's), is
    too long for the system (:func:`_check_history_name_fits`)."""
    from tinylens.config.loader import key_as_written
    from tinylens.inference import search_of

    module, _, settings, pipeline = search_of(problem)
    history = module.history_file(settings, folder) if hasattr(module, "history_file") else None  # dynesty's
    key = key_as_written(problem.config, "inference.settings.history_filename")  # sampling.history_filename
    if history is None:
        return
    runs = pipeline.max_widen + 1 if pipeline is not None and pipeline.bounded else 1
    _check_history_name_fits(history, runs, folder, key)
    found = history_over_input(history, runs, inputs)
    if found is not None:
        raise OutputError(f"{key}: {found}. Choose another history_filename in the config.")


def history_over_input(history: Path, runs: int, inputs: Mapping[str, str | Path]) -> str | None:
    """What to say where dynesty's evaluation ``history`` of a fit's first sampling run, or that
    of one of its later ``runs`` (:func:`tinylens.filenames.run_name`), lands on one of the fit's
    ``inputs`` (what each is -> its path), taken where it lands (:func:`landing`:
    ``output/../image.fits`` is ``image.fits`` though ``output`` is not made yet); None where none does."""
    later = [Path(filenames.run_name(str(history), run)) for run in range(2, runs + 1)]
    for written in (history, *later):
        target = landing(written)
        found = _input_at(target, inputs) if target.is_file() else None
        if found is not None:
            what, path = found
            run = "" if written == history else f" of its sampling run {later.index(written) + 2}"
            to = f"{written}" if target == written else f"{written} ({target})"
            return (f"dynesty would write its evaluation history{run} to {to}, and that file is {what} ({path}), "
                    "which it would overwrite")
    return None


def _check_history_name_fits(history: Path, runs: int, folder: Path,
                             key: str = "inference.settings.history_filename") -> None:
    """An :class:`~tinylens.errors.OutputError` where dynesty's evaluation history ``history``, or
    that of the last of the fit's ``runs`` sampling runs (the longest,
    :func:`tinylens.filenames.run_name`), is too long for the system, so that the fit refuses it
    before it runs, not when dynesty first writes the history (or makes its folder): its name, or
    that of a folder ``history_filename`` puts it in (not the output ``folder``'s own, which the
    checks of the output folder see to), longer than the disk there takes
    (:func:`~tinylens.paths.name_max_said`: the nearest folder's there where it is not made yet), or its
    path :data:`~tinylens.paths.PATH_MAX` bytes or more. ``key``: history_filename's key as the
    config wrote it (:func:`~tinylens.config.loader.key_as_written`), which the message begins with."""
    limit, said = name_max_said(history.parent)
    last = Path(filenames.run_name(str(history), runs)) if runs > 1 else history
    reason = os.strerror(errno.ENAMETOOLONG)
    start = (f"{key}: dynesty would write its evaluation history in {history.parent}, "
             "and ")
    too_long = [path for path in (history, last) if limit is not None and len(os.fsencode(path.name)) > limit]
    if too_long:
        path = too_long[0]
        which = "its name" if path == history else f"the name of its sampling run {runs}'s history ({path.name})"
        raise OutputError(f"{start}{which} is {len(os.fsencode(path.name))} bytes, a name longer than the system "
                          f"allows ({reason}; {limit_text(limit, said)}). Choose a shorter history_filename in the config.")
    own = history.parent.relative_to(folder).parts if history.parent.is_relative_to(folder) else history.parent.parts
    part = name_too_long(own, limit)
    if part is not None:
        raise OutputError(f"{start}the name of a folder on its way ({part}) is {len(os.fsencode(part))} bytes, a "
                          f"name longer than the system allows ({reason}; {limit_text(limit, said)}). Choose a shorter "
                          "history_filename in the config.")
    too_long = [path for path in (history, last) if len(os.fsencode(path)) >= PATH_MAX]
    if too_long:
        path = too_long[0]
        which = "its path" if path == history else f"the path of its sampling run {runs}'s history ({path.name})"
        output = " (or output.path, or --output; tinylens.fit: output=)" if history.is_relative_to(folder) else ""
        raise OutputError(f"{start}{which} is {len(os.fsencode(path))} bytes, longer than the system allows "
                          f"({reason}; {PATH_MAX} bytes on Linux). Choose a shorter history_filename in the "
                          f"config{output}.")


def fit_inputs(problem: Any, config: str | Path | None = None,
               truth: str | Path | None = None) -> dict[str, str | Path]:
    """The fit's input files, by what each is: the dataset's (``the dataset's psf_path file``, its
    ``[HDU]`` suffix left out) and, where given, the ``config`` file (``this fit's config file``)
    and the ``truth`` file (``the --truth file``)."""
    from tinylens.survey.provenance import dataset_files, input_files

    inputs: dict[str, str | Path] = {f"the dataset's {key} file": path
                                     for key, path in input_files(dataset_files(problem.dataset)).items()}
    if config is not None:
        inputs["this fit's config file"] = config
    if truth is not None:
        inputs["the --truth file"] = truth
    return inputs


def landing(path: str | Path) -> Path:
    """Where a file the fit writes at ``path`` lands: absolute, ``~`` expanded, the links of the
    folders that exist followed and a ``..`` after a folder that does not yet taken off with it
    (:meth:`pathlib.Path.resolve`, not strict): the system cannot look at ``output/../image.fits``
    while ``output`` is not made (``is_file()`` is False there), yet once the fit has made it that
    is ``image.fits``. Where the links cannot be followed (a loop) or the system refuses to look at
    the path (a NUL character in a name) the path is only normalised."""
    path = Path(path).expanduser()
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symbolic link loop; ValueError: an embedded NUL character
        return Path(os.path.normpath(path.absolute()))


def _input_at(target: Path, inputs: Mapping[str, str | Path]) -> tuple[str, str | Path] | None:
    """The first of the fit's ``inputs`` (:func:`fit_inputs`: what -> path) that is the file
    ``target`` (:func:`_same_file`), as (what, path); None where none is."""
    return next(((what, path) for what, path in inputs.items() if _same_file(target, Path(path).expanduser())), None)


#: Random draws from the prior that :func:`check_likelihood` tries after the prior median.
LIKELIHOOD_DRAWS = 64


def check_likelihood(problem: Any, config: str | Path | None = None, draws: int = LIKELIHOOD_DRAWS) -> float:
    """The log-likelihood at the prior median (``u = 0.5``), after making sure that it is finite
    somewhere: if it is not finite there nor at ``draws`` random draws from the prior, no sampler
    or optimiser can fit the problem (nautilus would search forever), so raise ConfigError.

    Draws are evaluated ``problem.min_chunk`` at a time, the batch shape a fit compiles anyway,
    and only until one is finite.
    """
    median = float(problem.log_likelihood(problem.prior_transform(np.full(problem.ndim, 0.5))))
    if np.isfinite(median):
        return median
    u = np.random.default_rng(0).uniform(size=(draws, problem.ndim))
    for start in range(0, draws, problem.min_chunk):
        if np.isfinite(problem.log_likelihood(problem.prior_transform(u[start : start + problem.min_chunk]))).any():
            return median
    where = in_config_file(config)
    raise ConfigValueError(
        f"{where}the log-likelihood is not finite at the prior median nor at any of {draws} random draws "
        f"from the priors, so nothing can be fitted. {_unfittable_causes(float(problem.dataset.pixel_scale))}"
    )


def _unfittable_causes(pixel_scale: float) -> str:
    """The likely causes of a likelihood finite nowhere: first ``dataset.pixel_scale``, where it
    is outside :data:`~tinylens.data.dataset.PLAUSIBLE_PIXEL_SCALE` (the grid's coordinates, in
    arcsec, may then overflow), else the usual ones."""
    from tinylens.data.dataset import PLAUSIBLE_PIXEL_SCALE

    usual = ("a fixed ellipticity so close to 1 that the axis ratio is nearly 0, priors that allow only such "
             "values, or data (image, noise, mask) that leave no usable pixel.")
    low, high = PLAUSIBLE_PIXEL_SCALE
    if low <= pixel_scale <= high:
        return f"Usual causes: {usual}"
    return (f"Likely cause: dataset.pixel_scale is {pixel_scale:g}\"/pixel, far outside the {low:g}\" to {high:g}\" "
            "of any imager that resolves a lens: it is in arcsec per pixel, and the pixels' coordinates it gives "
            f"are too large (or small) to compute with; correct it. Other causes: {usual}")


def unresumed_checkpoints(problem: Any, out: Path) -> tuple[list[str], bool]:
    """The checkpoints in ``out`` that a fit of ``problem`` there would resume if they were its
    own (its sampler's, and the pipeline's state where it runs the pipeline) but does not, as they
    are of another fit (other data, model, priors, precision or settings), and whether it reuses
    the pipeline stages' results; none where its settings say ``resume: false``, it runs an
    optimiser, or the fingerprints cannot be read."""
    return _checkpoints_look(problem, out)[0]


def _checkpoints_look(problem: Any, out: Path) -> tuple[tuple[list[str], bool], list[str]]:
    """:func:`unresumed_checkpoints`, and the names of the checkpoints in ``out`` that the fit
    resumes (:func:`~tinylens.inference.resumed_checkpoints`; none where that is not known)."""
    from tinylens.inference import resumed_checkpoints, sampler_method, search_of
    from tinylens.inference.common import resumes

    module, _, settings, pipeline = search_of(problem)
    if not hasattr(module, "checkpoint_stamp") or not resumes(settings):  # an optimiser's, or resume: false
        return ([], False), []
    method = sampler_method(problem)
    own = (filenames.CHECKPOINTS[method], *((filenames.PIPELINE_STATE,) if pipeline is not None else ()))
    present = [name for name in own if (out / name).is_file()]
    if not present:
        return ([], False), []
    try:
        kept = resumed_checkpoints(problem, out)
    except Exception:  # noqa: BLE001 - an unreadable fingerprint: the runners replace it, the warning is only a courtesy
        return ([], False), []
    if filenames.PIPELINE_STATE in present and not (out / filenames.PIPELINE_STATE).is_file():
        # this fit's but damaged: deleted with its own warning; the box of the stages done again is
        # not known yet, nor so whether the sampler's checkpoint (of a box) is resumed
        return ([], False), []
    if filenames.PIPELINE_STATE in present and filenames.PIPELINE_STATE not in kept:
        from tinylens.pipeline.run import state_of_another_version

        if state_of_another_version(problem, pipeline, out):
            # this fit's, of another tinylens: its stages are done again, and whether the sampler's
            # checkpoint (of a box) is resumed is known only once their box is
            return ([filenames.PIPELINE_STATE], False), []
    return ([name for name in present if name not in kept], filenames.PIPELINE_STATE in kept), kept


def pipeline_switched(problem: Any, out: Path) -> str | None:
    """Where the ``result.json`` in ``out`` records a sampler's fit made with the pipeline on and
    ``problem`` has it off, or the reverse (``tinylens fit --no-pipeline`` given or left out, the
    config unchanged), what the checkpoints' warning says of it (:func:`_warn_unresumed`); None
    where it records the same, or nothing of it can be read."""
    try:
        stored = read_result_json(out / filenames.RESULT)
    except (OSError, ValueError):
        return None
    from tinylens.inference import sampler_method

    if not isinstance(stored, dict) or stored.get("method") != sampler_method(problem):
        return None  # an optimiser's, whose pipeline section is unused, or another sampler's
    config = stored.get("config")
    section = config.get("pipeline") if isinstance(config, dict) else None
    earlier = section.get("enabled") if isinstance(section, dict) else None
    now = problem.config.pipeline.enabled
    if not isinstance(earlier, bool) or earlier is bool(now):
        return None
    return ("the earlier fit here ran with the pipeline's stages, this one without them: --no-pipeline or "
            "pipeline.enabled: false" if earlier else
            "the earlier fit here ran without the pipeline's stages (--no-pipeline or pipeline.enabled: false), "
            "this one with them")


#: When the system's refusal of a table, figure or result.json that a fit replaces would stop it
#: (:func:`_check_replaceable`).
AFTER_WHEN = "after the search"

#: When the system's refusal of an earlier fit's checkpoint that a fit replaces would stop it (:func:`_check_replaceable`).
UNRESUMED_WHEN = ("during the search: it is another fit's checkpoint, which this fit does not resume but replaces "
                  "as its pipeline stages end or its sampling starts")

#: The same, where the sampler's settings say ``resume: false``: it deletes its checkpoint, whoever's.
AFRESH_WHEN = ("during the search: this fit's settings say resume: false, so it deletes the sampler's checkpoint "
               "there as its pipeline stages end or its sampling starts")


#: When the system's refusal of a checkpoint that a fit resumes would stop it (:func:`rewritten_checkpoints`).
RESUMED_WHEN = "during the search: it is a checkpoint of this same fit, which it resumes and writes again as it goes on"

#: The same, of a checkpoint or fingerprint that a fit writes its own in place of, whatever it holds.
REWRITTEN_WHEN = "during the search: this fit writes it anew as its pipeline stages end or its sampling starts"


def rewritten_checkpoints(problem: Any, out: Path, kept: Collection[str], capped: bool = False) -> list[tuple[Path, str]]:
    """The files in ``out`` that a fit of ``problem`` (not ``fresh``) writes again during its search,
    beside those of another fit that it replaces (:func:`replaced_checkpoints`), each with when
    (:func:`_check_replaceable`): the checkpoints it resumes (``kept``: :func:`_checkpoints_look`),
    which it writes again as it goes on, but not the sampler's where the fit samples nothing more
    (``capped``: :func:`capped_again`) or whose sampling is already done (:func:`_done_already`);
    the pipeline's state, which the stages always write again;
    and the sampler's fingerprint, written as its sampling starts unless it holds this fit's
    (known before the search without the pipeline, or where its box is resumed; otherwise it
    may not: counted as written)."""
    from tinylens.inference import sampler_method, search_of

    module, runner, settings, pipeline = search_of(problem)
    if not hasattr(module, "checkpoint_stamp"):  # an optimiser keeps no checkpoint
        return []
    name = filenames.CHECKPOINTS[sampler_method(problem)]
    found = []
    if pipeline is not None and (out / filenames.PIPELINE_STATE).is_file():
        found.append((out / filenames.PIPELINE_STATE,
                      RESUMED_WHEN if filenames.PIPELINE_STATE in kept else REWRITTEN_WHEN))
    if name in kept and not capped and not _done_already(problem, out, name):
        found.append((out / name, RESUMED_WHEN))
    stamp_file = out / filenames.fingerprint_name(name)
    if name not in kept and stamp_file.is_file() and not _holds_own_stamp(problem, out, stamp_file):
        found.append((stamp_file, REWRITTEN_WHEN))
    return found


#: When the system's refusal of the record of the survey template whose fit wrote the sampler's
#: checkpoint (:func:`tinylens.filenames.template_name`) would stop a fit run in a survey, which
#: writes its own template's there (:func:`rewritten_record`).
RECORD_WRITTEN_WHEN = ("during the search: it records which survey template's fit wrote the sampler's checkpoint, "
                       "and this fit writes its own template's record there as its pipeline stages end or its sampling "
                       "starts, whether it resumes that checkpoint or starts it anew")

#: The same, of a fit run outside a survey, which deletes the record.
RECORD_DELETED_WHEN = ("during the search: it records which survey template's fit wrote the sampler's checkpoint, "
                       "and this fit, run outside a survey, deletes it as its pipeline stages end or its sampling "
                       "starts, whether it resumes that checkpoint or starts it anew")


def rewritten_record(problem: Any, out: Path) -> list[tuple[Path, str]]:
    """The record in ``out`` of the survey template whose fit wrote the sampler's checkpoint, with
    when (:func:`_check_replaceable`), where a fit of ``problem`` (not ``fresh``) writes or deletes
    it (:func:`tinylens.inference.common.record_template`, run as its sampling starts, whether the
    checkpoint is resumed or not): in a survey, unless it holds this fit's template's digest
    (:data:`~tinylens.inference.common.CHECKPOINT_TEMPLATE`); outside one, wherever it is."""
    from tinylens.inference import sampler_method, search_of
    from tinylens.inference.common import CHECKPOINT_TEMPLATE, _holds

    if not hasattr(search_of(problem)[0], "checkpoint_stamp"):  # an optimiser keeps no checkpoint
        return []
    record = out / filenames.template_name(filenames.CHECKPOINTS[sampler_method(problem)])
    if not record.is_symlink() and not record.exists():
        return []
    digest = CHECKPOINT_TEMPLATE.get()
    if digest is None:
        return [(record, RECORD_DELETED_WHEN)]
    return [] if _holds(record, digest) else [(record, RECORD_WRITTEN_WHEN)]


def _done_already(problem: Any, out: Path, name: str) -> bool:
    """Whether the sampler's checkpoint ``name`` in ``out``, which a fit of ``problem`` resumes and
    the system would refuse to replace (:func:`_refused_replacement`), holds a sampling already done
    for this config (a sampler's ``samples_nothing``: nautilus's), so that the sampler writes
    nothing to it. Only without the pipeline: with it, a posterior crowding the box's edge has the
    box widened and this checkpoint replaced by the next run's."""
    from tinylens.inference import search_of

    module, _, settings, pipeline = search_of(problem)
    # dynesty has no samples_nothing, deliberately: resumed from a checkpoint whose sampling is done it samples
    # nothing but writes its checkpoint anew all the same (run_nested saves it as it ends: a converged tiny-lens
    # fit kept with keep_checkpoint and run again, 0 calls made, left checkpoint_dynesty.pkl with another inode,
    # mtime and size, 327152 -> 336655 bytes), which another user's in a sticky folder does not allow: refused
    if pipeline is not None or not hasattr(module, "samples_nothing") or _refused_replacement(out, out / name) is None:
        return False
    return bool(module.samples_nothing(problem, settings, out / name))


def _holds_own_stamp(problem: Any, out: Path, stamp_file: Path) -> bool:
    """Whether the sampler's fingerprint ``stamp_file`` in ``out`` holds the stamp that a fit of
    ``problem`` writes there, where it is known before the search (False where it is not)."""
    from tinylens.inference import search_of

    sampling = _sampled_first(problem, out)
    if sampling is None:  # stages 1-3 done again: their box, so the stamp, not known yet
        return False
    try:
        return stamp_file.read_text().strip() == search_of(problem)[0].checkpoint_stamp(*sampling)
    except (OSError, UnicodeDecodeError):
        return False


def _sampled_first(problem: Any, out: Path) -> tuple[Any, dict[str, Any]] | None:
    """The problem and sampler settings that a fit of ``problem`` in ``out`` samples first: its own
    without the pipeline; with it, those of the box its stages' state there holds
    (:func:`~tinylens.pipeline.run.resumed_sampling`, the state only looked at); None where that box
    is not known before the search (the stages are done again)."""
    from tinylens.inference import search_of

    module, runner, settings, pipeline = search_of(problem)
    if pipeline is None:
        return problem, settings
    from tinylens.pipeline.run import resumed_sampling

    return resumed_sampling(problem, runner, pipeline, out, settings, getattr(module, "settings_for_run", None),
                            look_only=True)


def replaced_checkpoints(out: Path, unresumed: Iterable[str]) -> list[Path]:
    """The files in ``out`` that a fit replaces during its search where the checkpoints named
    ``unresumed`` (:func:`unresumed_checkpoints`) are there: each, and beside a sampler's its
    fingerprint (:func:`tinylens.filenames.fingerprint_name`), which holds another fit's stamp."""
    paths = []
    for name in unresumed:
        paths.append(out / name)
        if name in filenames.CHECKPOINTS.values():
            paths.append(out / filenames.fingerprint_name(name))
    return paths


def _warn_unresumed(problem: Any, out: Path, unresumed: tuple[list[str], bool] | None = None,
                    switched: str | None = None) -> None:
    """Warn (CheckpointWarning) that the checkpoints in ``out`` of another fit of ``problem`` are not
    resumed but replaced (``unresumed``: :func:`unresumed_checkpoints`, their names and whether the
    stages' results are reused, found here where not given): a config changed by mistake must not throw
    hours of sampling away unsaid. ``switched``: the pipeline turned on or off since the earlier
    fit (:func:`pipeline_switched`), the cause said in place of the config's keys; but where the
    pipeline is turned on and its state is not resumed, that state is of a fit before the earlier
    one (which ran without the pipeline), which the switch does not explain: both are said."""
    from tinylens.errors import CheckpointWarning, listed

    unresumed, stages = unresumed_checkpoints(problem, out) if unresumed is None else unresumed
    if not unresumed:
        return
    changed = "other data, model, priors, precision or sampler settings than this config's"
    whys = {name: changed for name in unresumed}
    if filenames.PIPELINE_STATE in unresumed:  # its own record may say what differs (other threads, priors, ...)
        whys[filenames.PIPELINE_STATE] = _state_why(problem, out) or changed
    widened = None  # the sampling run whose box this fit widened, where the sampler's checkpoint is that run's
    for name in unresumed:  # a sampler's checkpoint may record its fingerprint's parts too
        if name != filenames.PIPELINE_STATE:
            why, run = _checkpoint_why(problem, out, name)
            whys[name] = why or changed
            widened = widened or run
    several = len(unresumed) > 1 if switched else len(set(whys.values())) > 1
    why = switched or whys[unresumed[0]]
    older = ""  # the switched pipeline's state, older than the earlier fit: what else keeps it from being taken up
    if switched and filenames.PIPELINE_STATE in unresumed:
        state_why = whys[filenames.PIPELINE_STATE]
        made = f"it is {state_why}" if state_why.startswith("one ") else f"it was made with {state_why}"
        older = f"{filenames.PIPELINE_STATE} is older still, left by a fit before that one, and {made}"
        why = f"{switched}; {older}"
    again = ("its sampling starts from the beginning (the pipeline stages' results are reused)" if stages
             else "it starts from the beginning")
    if widened is not None and stages:
        again = f"run {widened + 1} samples the widened box from the beginning (the pipeline stages' results are reused)"
    it = "it" if len(unresumed) == 1 else "them"
    # the state's own reason ('one of another version: ...', 'one stopped in stages 1-3 with ...') is of
    # this fit's state, not another fit's: said as what it is, as the switched branch above does
    whose = f"it is {why}" if why.startswith(OWN_REASONS) else f"of another fit ({why})"
    if several and switched:  # the switch said of the sampler's checkpoint, the older state's cause of the state
        reasons = " ".join(f"{older}." if name == filenames.PIPELINE_STATE and older
                           else f"{name} is of another fit: {switched}." for name in unresumed)
    elif several:  # each checkpoint's own reason, a sentence each, after what the fit does with them
        reasons = " ".join(f"{name} is {whys[name]}." if whys[name].startswith(OWN_REASONS)
                           else f"{name} is of another fit, made with {whys[name]}." for name in unresumed)
    if several:
        message = f"{listed(unresumed)} in {out}: this fit does not resume {it}: {again}, and replaces {it}. {reasons}"
    else:
        message = f"{listed(unresumed)} in {out}: {whose}, so this fit does not resume {it}: {again}, and replaces {it}."
    warnings.warn(message, CheckpointWarning, stacklevel=outside_stacklevel())


#: How the reasons of :func:`_warn_unresumed` begin that say a checkpoint is this fit's own, not another fit's.
OWN_REASONS = ("one ", "this fit's own ")


def _checkpoint_why(problem: Any, out: Path, name: str) -> tuple[str, int | None]:
    """What differs between the sampler's checkpoint ``name`` in ``out`` and the one a fit of
    ``problem`` keeps, as far as the parts of its fingerprint that it records tell (a sampler's
    ``recorded_parts``, ``checkpoint_parts``: nautilus's and dynesty's); "" where they do not: none
    recorded (an older tinylens's), or the pipeline's box it samples is not known before its stages.
    Where it is this fit's sampling run in the box that the fit widened before it stopped (the
    stages' state recording it: :func:`~tinylens.pipeline.run.widened_run`), that is said, with
    the run's number (else None); where it is that run's box with other settings (the config
    changed since), those settings are said, not the priors its box gives."""
    from tinylens.errors import listed
    from tinylens.inference import search_of
    from tinylens.inference.common import differing_parts

    module, runner, settings, pipeline = search_of(problem)
    if not hasattr(module, "recorded_parts") or not hasattr(module, "checkpoint_parts"):
        return "", None
    recorded = module.recorded_parts(out / name)
    if recorded is None:
        return "", None
    sampling = _sampled_first(problem, out)
    if sampling is None:  # the box is the stages' to find again
        return "", None
    differ = differing_parts(recorded, module.checkpoint_parts(*sampling))
    if differ and pipeline is not None:
        from tinylens.pipeline.run import widened_run

        earlier = widened_run(problem, runner, pipeline, out, settings, getattr(module, "settings_for_run", None))
        own = None if earlier is None else differing_parts(recorded, module.checkpoint_parts(*earlier[1:]))
        if own is not None and not own:
            run = earlier[0]
            return (f"this fit's own sampling run {run}, in the box it then widened: the fit stopped after it saved "
                    f"the widened box in {filenames.PIPELINE_STATE} and before run {run + 1} wrote its checkpoint"), run
        if own is not None and set(own) < set(differ):  # that run's box, other settings: the box is not the config's
            differ = own
    return (f"other {listed(differ)} than this config's" if differ else ""), None


def _state_why(problem: Any, out: Path) -> str:
    """Why the pipeline's state in ``out`` is not taken up, as far as it tells
    (:func:`tinylens.pipeline.run.state_not_taken_up`); "" where it does not."""
    from tinylens.inference import search_of
    from tinylens.pipeline.run import state_not_taken_up

    pipeline = search_of(problem)[3]
    return "" if pipeline is None else state_not_taken_up(problem, pipeline, out)


#: The sampler's cap on its likelihood calls, by method: running a fit again that its checkpoint
#: shows reached it samples nothing more (:func:`capped_again`).
CALL_CAPS = {"nautilus": "n_like_max", "dynesty": "maxcall"}


def capped_again(problem: Any, out: Path) -> tuple[str, float, float] | None:
    """Whether a fit of ``problem`` in ``out`` would sample nothing: the ``result.json`` there
    records a search stopped by its sampler's cap on likelihood calls (:data:`CALL_CAPS`,
    :func:`stopping_limit`; not a pipeline's whose sampler converged, its posterior crowding the
    box), the config's cap is no higher than the one it reached, and the
    sampler's checkpoint there is this fit's, so resumed (:func:`~tinylens.inference.resumed_checkpoints`).
    ``(cap's name, this config's cap, the recorded one)``, else None (nothing of this can be
    read: the fit runs as ever)."""
    from tinylens.inference import resumed_checkpoints, sampler_method, search_of
    from tinylens.inference.common import resumes

    method = sampler_method(problem)
    key = CALL_CAPS.get(method)
    if key is None or getattr(problem.config.inference, "type", "sampler") not in (None, "sampler"):
        return None
    settings = search_of(problem)[2]
    cap = _finite(settings.get(key))
    if cap is None or not resumes(settings) or not (out / filenames.RESULT).is_file():
        return None
    try:
        stored = read_result_json(out / filenames.RESULT)
    except (OSError, ValueError):  # unreadable: the fit replaces it, as ever
        return None
    if not isinstance(stored, dict) or stored.get("method") != method or stored.get("converged") is not False:
        return None
    info = stored.get("info") if isinstance(stored.get("info"), dict) else {}
    pipeline = info.get("pipeline") if isinstance(info.get("pipeline"), dict) else {}
    if pipeline.get("sampler_converged") is True:  # unconverged for its box's edges, not its cap
        return None
    recorded = _finite((info.get("settings") if isinstance(info.get("settings"), dict) else {}).get(key))
    if recorded is None or stopping_limit(stored) != key or cap > recorded:
        return None
    try:
        kept = resumed_checkpoints(problem, out, look_only=True)
    except Exception:  # noqa: BLE001 - whose checkpoint it is cannot be told: the fit says so itself
        return None
    return (key, cap, recorded) if filenames.CHECKPOINTS[method] in kept else None


def _say_capped(out: Path, capped: tuple[str, float, float], config: Any = None) -> None:
    """Say (:class:`~tinylens.errors.CapReachedWarning`, a ConvergenceWarning), before anything is done again, that the fit in ``out`` already
    reached its sampler's cap (``capped``: what :func:`capped_again` found, not None): running it again
    samples nothing more and writes the same outputs again; how to continue it, or start again. The
    cap is named as ``config`` wrote it (:func:`~tinylens.config.loader.key_as_written`:
    ``sampling.maxcall`` for TinyLensGpu's older ``sampling`` section)."""
    from tinylens.config.loader import key_as_written
    from tinylens.errors import CapReachedWarning

    key, cap, recorded = capped
    held = f"{cap:,.0f}" if cap == recorded else f"{cap:,.0f} (it reached {recorded:,.0f})"
    warnings.warn(f"The fit in {out} already stopped at its sampler's cap, "
                  f"{key_as_written(config, f'inference.settings.{key}')} = {held}: "
                  "its checkpoint has nothing more to sample at this cap, so this run only writes the same results "
                  f"again. To continue it, raise {key} in the config and run the fit again (it resumes from the "
                  "checkpoint); to start again from scratch, use --fresh (tinylens.fit: fresh=True).",
                  CapReachedWarning, stacklevel=outside_stacklevel())


def _remove_checkpoints(out: Path, written: bool = False) -> list[str]:
    """Delete the files of :func:`tinylens.filenames.checkpoint_names` from ``out``: those of a finished fit (the
    sampler's are tens of MB per lens) are useless once result.json exists. ``written``: the fit's
    result.json is written, so those the system refuses to delete (someone else's in a folder with
    the sticky bit) are left with a DataWarning naming them, not an error that hides the written fit
    (before the search, ``fresh``, the refusal is raised: nothing is lost yet); the names of those
    left."""
    from tinylens.errors import DataWarning, listed

    kept: dict[str, str] = {}  # name -> the system's reason
    for name in filenames.checkpoint_names():
        try:
            (out / name).unlink(missing_ok=True)
        except OSError as exc:
            if written:
                kept[name] = exc.strerror or type(exc).__name__
            elif isinstance(exc, PermissionError):
                raise OutputError(undeletable_text(out, out / name, exc, "an earlier fit's checkpoint", "--fresh (tinylens.fit: "
                                                   "fresh=True) must do to start afresh")) from None
            else:
                raise
    if kept:
        one = len(kept) == 1
        warnings.warn(f"The fit's results are written in {out}, but {'its checkpoint file' if one else 'checkpoint files'} "
                      f"there cannot be deleted: {listed([f'{n} ({why})' for n, why in kept.items()])}. The finished fit "
                      f"no longer needs {'it' if one else 'them'}: delete {'it' if one else 'them'} (or ask "
                      f"{'its' if one else 'their'} owner to).", DataWarning, stacklevel=outside_stacklevel())
    return list(kept)


def _checkpoint_kept(result: FitResult, out: Path, checkpoint: Any, kept: Collection[str]) -> FitResult:
    """``result``, whose ``result.json`` in ``out`` says ``info.checkpoint: null`` (a converged
    fit deletes it), with the sampler's ``checkpoint`` named again where the system refused to
    delete it (``kept``: the names left, :func:`_remove_checkpoints`), and its result.json written
    again to say so; as it is where the checkpoint is gone, or result.json cannot be written again
    (the warning of the checkpoint left names it)."""
    from tinylens.results import tables

    if not isinstance(checkpoint, str) or Path(checkpoint).name not in kept:
        return result
    truthful = replace(result, info={**result.info, "checkpoint": checkpoint})
    try:
        tables.write_json(out / filenames.RESULT, truthful.to_json())
    except OSError:
        return result
    return truthful


def _remove_leftovers(problem: Any, out: Path) -> None:
    """Delete, before the search, what a killed fit left in ``out``: the temporaries of its files
    (:func:`tinylens.atomic.remove_all_unfinished`, of any names: an earlier config's too) and
    dynesty's unfinished checkpoint (:data:`tinylens.filenames.DYNESTY_UNFINISHED`, whatever samples
    now). One the system refuses to delete (someone else's in a folder with the sticky bit) is an
    :class:`~tinylens.errors.OutputError` naming it where this fit needs its name (dynesty's
    unfinished checkpoint, under a dynesty fit, which writes there), else left with a DataWarning
    naming it (a temporary's name is never written again)."""
    from tinylens.atomic import remove_all_unfinished
    from tinylens.errors import DataWarning, listed
    from tinylens.inference import sampler_method

    refused: list[tuple[Path, OSError]] = []
    remove_all_unfinished(out, refused)
    unfinished = out / filenames.DYNESTY_UNFINISHED
    try:
        unfinished.unlink(missing_ok=True)
    except PermissionError as exc:
        if sampler_method(problem) == "dynesty":
            raise OutputError(undeletable_text(out, unfinished, exc, "dynesty's unfinished checkpoint of an earlier "
                                               "fit", "dynesty must do to write its own checkpoint")) from None
        refused.append((unfinished, exc))
    if refused:
        one = len(refused) == 1
        kept = [f"{path.name} ({exc.strerror or type(exc).__name__})" for path, exc in refused]
        warnings.warn(f"{'A file' if one else 'Files'} that a killed fit left unfinished in {out} cannot be deleted: "
                      f"{listed(kept)}. This fit does not need {'it' if one else 'them'}: delete "
                      f"{'it' if one else 'them'} (or ask {'its' if one else 'their'} owner to).", DataWarning,
                      stacklevel=outside_stacklevel())
