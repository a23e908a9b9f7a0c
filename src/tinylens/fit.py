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

import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tinylens import filenames
from tinylens.errors import ConfigTypeError, ConfigValueError, outside_stacklevel
from tinylens.fitting.checks import (check_flag, check_inputs_kept, check_likelihood, check_settings, check_settings_first, fit_inputs,
                                     without_pipeline)
from tinylens.fitting.folder import RERUN_TEXT, busy_text, disk_full_reported, output_dir, refuse_if_folder_busy, warn_unlocked
from tinylens.fitting.outputs import figure_keys, rewritten_names, write_results
from tinylens.fitting.replaced import _check_replaceable, _remove_rewritten, refused_reported, remove_replaced, replaced_files
from tinylens.fitting.resume import (AFRESH_WHEN, AFTER_WHEN, UNRESUMED_WHEN, _checkpoint_kept, _checkpoints_look, _remove_checkpoints,
                                     _remove_leftovers, _say_capped, _warn_unresumed, capped_again, pipeline_switched,
                                     replaced_checkpoints, rewritten_checkpoints, rewritten_record)
from tinylens.fitting.summary import FitResult, unconverged_text
from tinylens.interrupts import INTERRUPTED_PROBLEM_ATTR, folder_on_interrupt, marked_on_interrupt

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


