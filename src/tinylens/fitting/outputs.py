"""What a fit writes once its search ends: the derived quantities and quality checks, the tables,
the figures (a figure that fails is left out with a warning, never the fit) and ``result.json``
last; the output files' names by role (``config.output`` with TinyLensGpu's defaults), the
figures a fit may draw, the corner plot's parameters and the versions recorded.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinylens import filenames
from tinylens.errors import ConfigValueError, outside_stacklevel
from tinylens.fitting.replaced import remove_replaced
from tinylens.fitting.summary import FitResult, _summary_lines

if TYPE_CHECKING:
    from tinylens.inference import InferenceResult


DEFAULT_FILES = {
    "samples": "result_samples.csv",
    "summary": "result_summary.csv",
    "subplot": "dataset_subplot.png",
    "results": "model_results.png",
    "corner": "model_corner.png",
}


VERSIONED = {"tinylens": "tinylens", "jax": "jax", "nautilus": "nautilus-sampler", "numpy": "numpy",
             "dynesty": "dynesty", "scipy": "scipy"}


def versions() -> dict[str, str]:
    """Installed versions of tinylens (``tinylens.__version__``) and the packages its results
    depend on."""
    import tinylens

    out = {}
    for key, dist in VERSIONED.items():
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = "unknown"
    return {**out, "tinylens": tinylens.__version__}


#: The section of ``output`` that names each output file, by role (``output.tables.summary``).
OUTPUT_SECTIONS = {"samples": "tables", "summary": "tables", "subplot": "datasets", "results": "figures",
                   "corner": "figures"}


def file_names(config) -> dict[str, str]:
    """Output file names by role, from ``config.output`` with TinyLensGpu's defaults."""
    out = getattr(config, "output", None)
    names = {}
    for role, section in OUTPUT_SECTIONS.items():
        value = getattr(getattr(out, section, None), role, None)
        names[role] = value or DEFAULT_FILES[role]
    return names


def config_dict(config) -> dict[str, Any]:
    """``config`` (a loaded :class:`~tinylens.config.schema.Config`, or a mapping) as the plain
    mapping ``result.json`` records."""
    if hasattr(config, "model_dump"):
        return config.model_dump(mode="json")
    return dict(config)


def corner_names(names: list[str], choice) -> list[str]:
    """The parameters of the corner plot (``output.corner_parameters``). A name that is no free
    parameter is a ConfigValueError, and so is a name listed twice, naming it (it drew the
    parameter's row and column twice): most likely a slip for another parameter (``e1`` copied
    where ``e2`` was meant), which dropping it would leave out of the plot unsaid, found only when
    the fit is over."""
    if choice == "all":
        return list(names)
    if choice == "mass":
        mass = [n for n in names if n.startswith("lens_mass.")]
        return mass or list(names)
    unknown = [n for n in choice if n not in names]
    if unknown:
        from tinylens.errors import did_you_mean

        what = (f"'{unknown[0]}' is not a free parameter" if len(unknown) == 1
                else f"{', '.join(repr(n) for n in unknown)} are not free parameters")
        raise ConfigValueError(f"output.corner_parameters: {what} of this model.{did_you_mean(unknown, names)} "
                               f"Allowed: {', '.join(names)}.")
    twice = list(dict.fromkeys(n for i, n in enumerate(choice) if n in choice[:i]))  # in order, each once
    if twice:
        from tinylens.errors import listed

        left = [n for n in names if n not in choice]
        shown = " and ".join(f"'{n}' {choice.count(n)} times" for n in twice)
        hint = f" (another meant? not listed: {listed(left)})" if left else ""
        raise ConfigValueError(f"output.corner_parameters lists {shown}; the corner plot would draw "
                               f"{'it' if len(twice) == 1 else 'each'} as many times. List each parameter once{hint}.")
    return list(choice)


#: The roles of :func:`~tinylens.fitting.outputs.file_names` that are figures.
FIGURE_KEYS = ("subplot", "results", "corner")


def rewritten_names(problem: Any) -> set[str]:
    """The names of the files that a fit of ``problem`` writes into its output folder whatever its
    search finds: its tables, and its figures where ``output.draw_figures`` is ``all`` (not
    ``untrusted``: that depends on the fit), the corner plot a sampler's only (an optimiser's single
    point has none). An earlier fit's file of another of its names may be left in place."""
    drawn = figure_keys(problem, surely=True)
    return {name for key, name in file_names(problem.config).items() if key not in FIGURE_KEYS or key in drawn}


def figure_keys(problem: Any, surely: bool = False) -> set[str]:
    """The :data:`~tinylens.fitting.outputs.FIGURE_KEYS` of the figures a fit of ``problem`` may draw: none where
    ``output.draw_figures`` is ``none`` (``surely``: unless it is ``all``, as ``untrusted`` depends
    on the fit), the corner plot a sampler's only (an optimiser's single point has none)."""
    from tinylens.inference import search_of

    when = getattr(getattr(problem.config, "output", None), "draw_figures", "all")
    if when == "none" or (surely and when != "all"):
        return set()
    sampler = hasattr(search_of(problem)[0], "checkpoint_stamp")  # an optimiser keeps no checkpoint
    return {key for key in FIGURE_KEYS if key != "corner" or sampler}


def draws_figures(config, quality: dict[str, Any]) -> bool:
    """Whether a fit draws its figures: ``output.draw_figures`` is ``all``, or ``untrusted`` and
    the quality assessment does not trust the fit."""
    when = getattr(getattr(config, "output", None), "draw_figures", "all")
    return when == "all" or (when == "untrusted" and not quality.get("trusted", False))


def _figure(steps: Any, files: dict[str, str], key: str, save, *args) -> None:
    """Call ``save(*args)``, said to ``steps`` (:class:`~tinylens.inference.progress.Steps`) first;
    a figure that fails is left out (with a warning), never the fit.

    Figures are for people to look at; the tables and ``result.json`` are the result, and a
    plotting problem (an odd contour, a font) must not throw away a finished fit.
    """
    steps.step(f"drawing {files[key]}")
    try:
        save(*args)
    except Exception as exc:  # noqa: BLE001 - any plotting failure
        warnings.warn(f"The figure {files[key]} could not be drawn ({type(exc).__name__}: {exc}); "
                      "the fit's tables and result.json are written without it.",
                      RuntimeWarning, stacklevel=outside_stacklevel())
        files.pop(key)


def _derived(problem, res: InferenceResult) -> dict[str, dict[str, Any]]:
    """Summaries of the derived quantities; none (with a warning) if deriving them fails."""
    from tinylens.results.derived import derived_summaries

    try:
        return derived_summaries(problem, res.samples, res.weights)
    except Exception as exc:  # noqa: BLE001 - a finished fit is worth more than its derived columns
        warnings.warn(f"Derived quantities (q, phi, fluxes, ...) could not be computed ({type(exc).__name__}: {exc}); "
                      "the fit is written without them.", RuntimeWarning, stacklevel=outside_stacklevel())
        return {}


def _quality(problem, res: InferenceResult) -> dict[str, Any]:
    """The quality assessment; if a check raises, the result is kept, flagged and untrusted."""
    from tinylens.results.quality import assess, failed_assessment

    try:
        return assess(problem, res)
    except Exception as exc:  # noqa: BLE001 - same reason as _derived
        warnings.warn(f"The quality checks failed ({type(exc).__name__}: {exc}); the fit is written and flagged "
                      "quality_check_failed (untrusted).", RuntimeWarning, stacklevel=outside_stacklevel())
        return failed_assessment(problem, exc)


def earlier_time(info: Mapping[str, Any]) -> float:
    """Seconds of search spent by the earlier runs that a result resumed (what they
    checkpointed), from its ``info``."""
    return float(info.get("earlier_time_s") or 0.0)


def write_results(problem, res: InferenceResult, out: Path, started: float | None = None,
                  truth: Mapping[str, float] | None = None, inputs: Mapping[str, Any] | None = None,
                  progress: bool = False) -> FitResult:
    """Derive quantities, write every table and figure, then ``result.json``; return them.
    ``started``: the ``time.perf_counter()`` at which the fit began (gives ``total_time_s``);
    ``truth``: true values (parameter name -> value) to mark on the corner plot; ``inputs``: the
    stamp of the data's files taken when they were loaded
    (:func:`~tinylens.survey.provenance.inputs_stamp`), kept as ``info.inputs`` (taken now if None).
    ``progress``: say each step as it begins (:class:`~tinylens.inference.progress.Steps`: a
    transient line on a terminal, elsewhere a line for a step begun a few seconds after the last
    line), so that a slow machine shows that it is moving.

    Only the sampler's output is essential: derived quantities, quality checks and figures that
    fail are left out with a warning (the quality then says ``quality_check_failed``), so that
    an unexpected corner case never throws a finished fit away.
    """
    from tinylens.data.dataset import mask_reading
    from tinylens.inference.progress import Steps
    from tinylens.results import plots, tables
    from tinylens.survey.provenance import (CONFIG_NOT_FINITE_KEY, FIT_INPUTS_KEY, config_not_finite, dataset_files,
                                            inputs_stamp, with_not_finite)

    with Steps(progress, "outputs") as steps:
        if inputs is None:
            inputs = inputs_stamp(dataset_files(problem.dataset))
        names = list(problem.param_names)
        weights = res.weights
        steps.step("computing the derived quantities and the quality checks")
        params = tables.summarize(dict(zip(names, res.samples.T)), weights)
        derived = _derived(problem, res)
        summary = tables.summary_frame(params, derived, res.log_evidence)
        files = file_names(problem.config)
        best = res.max_likelihood
        median = {n: s["median"] for n, s in params.items()}
        quality = _quality(problem, res)

        steps.step(f"writing the tables {files['samples']} and {files['summary']}")
        tables.write_table(out / files["samples"], tables.samples_frame(names, res.samples, weights, res.log_likelihood))
        tables.write_table(out / files["summary"], summary)
        if not draws_figures(problem.config, quality):
            for key in FIGURE_KEYS:
                files.pop(key)
        else:
            _figure(steps, files, "subplot", plots.save_dataset_figure, problem.dataset, out / files["subplot"])
            _figure(steps, files, "results", plots.save_model_figure, problem, best, out / files["results"],
                    _summary_lines(res, {**params, **derived}, quality))
            if len(res.samples) > len(names):  # a corner plot of an optimiser's single point says nothing
                shown = corner_names(names, getattr(problem.config.output, "corner_parameters", "mass"))
                idx = [names.index(n) for n in shown]
                truths = None if truth is None else [truth.get(n) for n in shown]
                _figure(steps, files, "corner", plots.save_corner_figure, shown, res.samples[:, idx], weights, out / files["corner"],
                        truths)
            else:
                files.pop("corner")
        # not drawn (not asked for, an optimiser's corner plot) or failed: an earlier fit's figure there
        # is not this one's; one the system will not delete is left with a warning, not a lost fit
        # (a folder of that name is the user's, not an earlier fit's figure: left, unsaid)
        remove_replaced(out, [out / name for key, name in file_names(problem.config).items()
                              if key in FIGURE_KEYS and key not in files
                              and ((out / name).is_symlink() or not (out / name).is_dir())])

        written, not_finite = config_dict(problem.config), config_not_finite(problem.config)
        if not_finite:  # as read_result gives it: result.json's config (each such number null, a typed
            # one's too, which config_dict leaves a float) with the numbers the fit read put back
            stored = json.loads(json.dumps(tables._jsonable(written)))
            written = with_not_finite(stored, not_finite) or stored
        result = FitResult(
            method=res.method,
            param_names=tuple(names),
            median=median,
            max_likelihood=dict(zip(names, map(float, best))),
            max_log_likelihood=float(np.max(res.log_likelihood)),
            interval_68={n: s["interval_68"] for n, s in params.items()},
            interval_997={n: s["interval_997"] for n, s in params.items()},
            log_evidence=res.log_evidence,
            n_likelihood_evals=res.n_likelihood_evals,
            wall_time_s=res.wall_time_s,
            converged=res.converged,
            derived={n: {k: s[k] for k in ("median", "interval_68", "interval_997")} for n, s in derived.items()},
            quality=quality,
            versions=versions(),
            config=written,
            config_dir=str(Path(problem.base_dir).resolve()),
            files=files,
            info={**res.info, "precision": problem.precision, **mask_reading(problem.dataset), FIT_INPUTS_KEY: dict(inputs),
                  CONFIG_NOT_FINITE_KEY: not_finite},  # config's nulls told from .inf, .nan
            output_dir=out,
            samples=res.samples,
            weights=weights,
            log_likelihood=res.log_likelihood,
            summary=summary,
            total_time_s=None if started is None else time.perf_counter() - started + earlier_time(res.info),
            truth=None if truth is None else dict(truth),
        )
        steps.step(f"writing {filenames.RESULT}")
        tables.write_json(out / filenames.RESULT, result.to_json())
        return result
