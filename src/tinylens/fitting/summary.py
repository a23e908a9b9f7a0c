"""A fit's result as it is told: the :class:`~tinylens.fitting.summary.FitResult` and its printed lines, the numbers of its
intervals written to two significant figures of their half-width (the repr, the model figure's
summary panel, ``tinylens fit``'s table, the corner titles), and the warnings of a search that
stopped before converging or whose posterior reaches its sampling box's edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinylens.results.stored import finite_number

if TYPE_CHECKING:  # imported lazily: ``import tinylens`` stays light (FitResult is re-exported there)
    import pandas as pd

    from tinylens.inference import InferenceResult


#: The array fields of :class:`~tinylens.fitting.summary.FitResult` (not in ``result.json``).
ARRAY_FIELDS = ("samples", "weights", "log_likelihood")


@dataclass
class FitResult:
    """What ``result.json`` holds, plus the samples and the summary table.

    ``method``: the search (``nautilus``, ``dynesty``, ``differential_evolution``, ``lbfgs``).
    ``param_names``: the free parameters, in the order of the columns of ``samples``.
    ``median``, ``interval_68``, ``interval_997``: by parameter, the weighted median and the 68 %
    and 99.7 % central intervals ``[low, high]`` (percentiles 16-84 and 0.135-99.865).
    ``max_likelihood``, ``max_log_likelihood``: the best sample, by parameter, and its log L.
    ``log_evidence``: log Z (a sampler's; None for an optimiser).
    ``n_likelihood_evals``: the likelihood calls of every run, the pipeline's stages included.
    ``wall_time_s``: the search's seconds; ``total_time_s``: those of the whole :func:`~tinylens.fit` (as
    ``result.json`` stores them, for :func:`~tinylens.read_result` too; None where none is stored:
    a ``result.json`` of an older tinylens, a FitResult made by hand).
    ``converged``: whether the search ended by its own criterion (not stopped by ``n_like_max`` or
    ``timeout``) and, in the pipeline, with its posterior clear of the sampling box's edges.
    ``derived``: median and intervals of the derived quantities (axis ratios, angles, fluxes, ...).
    ``quality``: whether the fit is ``trusted``, its ``flags``, ``checks`` and ``metrics``.
    ``versions``: of tinylens and the packages behind the result.
    ``config``, ``config_dir``: the config as a mapping, and the folder its relative paths start
    from (``tinylens.load(result.config, base_dir=result.config_dir)`` loads the problem again).
    ``files``: the names of the tables and figures written in ``output_dir``, by role.
    ``info``: the sampler's and the pipeline's details (precision, checkpoint, ...).
    ``samples``, ``weights``, ``log_likelihood``: the posterior samples ``(N, n)``, their weights (sum 1)
    and log-likelihoods ``(N,)``. ``summary``: the pandas DataFrame of ``result_summary.csv``.
    ``truth``: the true values given to :func:`~tinylens.fit` (None without).
    """

    method: str
    param_names: tuple[str, ...]
    median: dict[str, float]
    max_likelihood: dict[str, float]
    max_log_likelihood: float
    interval_68: dict[str, list[float]]
    interval_997: dict[str, list[float]]
    log_evidence: float | None
    n_likelihood_evals: int  # every run's: the stages' gradient calls and all sampling (info: the sampler's)
    wall_time_s: float
    converged: bool
    derived: dict[str, dict[str, Any]]
    quality: dict[str, Any]
    versions: dict[str, str]
    config: dict[str, Any] = field(repr=False)  # printed, thousands of characters in a notebook
    config_dir: str  # the folder the config's relative paths resolve against
    files: dict[str, str]
    info: dict[str, Any] = field(repr=False)  # the sampler's and the pipeline's details
    output_dir: Path
    samples: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    log_likelihood: np.ndarray = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    #: Seconds of the whole :func:`~tinylens.fit` call up to writing ``result.json`` (loading, checks,
    #: compilation, search, derived quantities, tables, figures), plus the search time of the
    #: earlier runs a resumed fit continued (``info["earlier_time_s"]``), read back from ``result.json``
    #: by :func:`~tinylens.read_result`; ``None`` where none is stored (a ``result.json`` of an older
    #: tinylens, a FitResult made by hand).
    total_time_s: float | None = None
    #: The true values given to :func:`~tinylens.fit` (of the free parameters), marked on the corner plot;
    #: not written to ``result.json``.
    truth: dict[str, float] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The content of ``result.json`` (no arrays), as it reads back from the file: plain
        JSON types (``json.dumps`` takes it), paths as text, non-finite numbers as ``None``."""
        from tinylens.results.tables import _jsonable

        skip = {"samples", "weights", "log_likelihood", "summary", "truth"}
        return _jsonable({k: v for k, v in asdict(self).items() if k not in skip})

    def __eq__(self, other: object) -> bool:
        """Whether ``other`` is a result of the same content: that of ``result.json``, the
        samples, weights and log-likelihoods, the summary table and the truth (NaN equal to NaN),
        so that ``result in results`` and ``results.index(result)`` work."""
        if not isinstance(other, FitResult):
            return NotImplemented
        from tinylens.results.tables import _jsonable

        return (all(np.array_equal(getattr(self, k), getattr(other, k), equal_nan=True) for k in ARRAY_FIELDS)
                and self.summary.equals(other.summary) and _jsonable(self.truth) == _jsonable(other.truth)
                and self.to_json() == other.to_json())

    __hash__ = None  # its fields change (dicts, arrays): as a dict, it cannot be a set's member

    def __repr__(self) -> str:
        """A few lines (the whole content is thousands of characters: the config, the sampler's
        details, every parameter's intervals): see :func:`~tinylens.fitting.summary.result_lines`."""
        return "\n".join(result_lines(self))


def main_einstein_radius(param_names: tuple[str, ...]) -> str | None:
    """The free ``lens_mass.<i>.theta_E`` of the main deflector
    (:func:`tinylens.results.report.main_mass_index`), or None."""
    from tinylens.results.report import main_mass_index

    name = f"lens_mass.{main_mass_index(param_names)}.theta_E"
    return name if name in param_names else None


def _places(half_width: float) -> int | None:
    """Decimal places that show a value to two significant digits of its ``half_width`` (0 to 8;
    None for a width that is not a positive number: an optimiser's single point). The one rule of
    every place a fit's numbers are printed or drawn (the repr, the figure's summary panel,
    ``tinylens fit``'s table, the corner titles through :func:`tinylens.results.plots.decimals`)."""
    if not (np.isfinite(half_width) and half_width > 0):
        return None
    return int(np.clip(1 - np.floor(np.log10(half_width)), 0, 8))


def _shown(value: float | None, places: int | None, half_width: float = np.nan) -> str:
    """``value`` with ``places`` decimals, ``none`` if not finite. A value under
    :data:`~tinylens.results.report.PLAIN_RANGE` (1e-6) where those places hold under two
    significant figures of its ``half_width`` (one under about 1e-7, past :func:`~tinylens.fitting.summary._places`' 8, which
    :func:`~tinylens.fitting.summary._half_width` writes to two significant figures) is written with an exponent to the
    half-width's second figure: 1.235e-09 beside a half-width of 1.1e-11, not 0.00000000 (a larger
    one keeps the 8 places: 2.00000000 beside 4e-12); one below that figure's place (3e-12 beside
    5e-9, a median near zero) or exactly 0 as 0, as the other values beside it are written
    with exponents, not in ten decimals (0 to 2.0e-09, not 0.00000000 to 2.0e-09). Without places
    (an open end, a zero width), to four significant figures in plain digits as the rest of a fit's
    numbers are (:func:`~tinylens.results.report.plain_number`): 10220, not 1.022e+04. A value that
    rounds to zero has no sign (0.00, not -0.00)."""
    from tinylens.results.report import PLAIN_RANGE, plain_number

    if value is None or not np.isfinite(value):
        return "none"
    if places is None:
        return _unsigned_zero(plain_number(value, 4))
    if (abs(value) < PLAIN_RANGE[0] and np.isfinite(half_width) and half_width > 0
            and not _holds_two_figures(half_width, places)):
        second = int(np.floor(np.log10(half_width))) - 1  # the power of ten of the half-width's second figure
        if value == 0 or np.floor(np.log10(abs(value))) < second:  # none of its figures holds at that place:
            rounded = float(f"{value:.{-second}f}")  # to that place: 0, or one unit of it (6e-11 beside 5e-9: 1e-10)
            return f"{rounded:.0e}" if rounded else "0"
        figures = int(np.floor(np.log10(abs(value)))) - second + 1  # the value's figures down to that place
        return f"{value:.{min(figures, 17) - 1}e}"
    return _unsigned_zero(f"{value:.{places}f}")


def _unsigned_zero(text: str) -> str:
    """``text``, a number as written, without its minus sign where every digit of it is 0 (-0.00,
    a value of -0.001 to two places): a zero has no sign."""
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def _holds_two_figures(half_width: float, places: int) -> bool:
    """Whether ``places`` decimals hold two significant figures of ``half_width`` (at least 10
    units of their last place): they do, but at :func:`~tinylens.fitting.summary._places`' cap of 8, for one under ~1e-7."""
    return round(half_width * 10.0**places) >= 10


def convergence_state(converged: bool, info: Any) -> str:
    """Whether a fit converged, and why not: its search stopped early, or (the pipeline's
    ``crowded_edges``) its posterior still reaches the edge of the sampling box, where the
    sampler itself converged and running it again gives the same answer."""
    if converged:
        return "converged"
    pipeline = info.get("pipeline") if isinstance(info, dict) else None
    pipeline = pipeline if isinstance(pipeline, dict) else {}
    if not pipeline.get("crowded_edges"):
        return "NOT converged (stopped early)"
    edge = "the posterior reaches the sampling box's edge"
    return f"NOT converged ({edge})" if pipeline.get("sampler_converged", True) else f"NOT converged (stopped early; {edge})"


#: The settings that stop each search before it converges (a nested sampler's are its own names:
#: dynesty has no n_like_max, nautilus no maxcall).
STOP_LIMITS = {"nautilus": "n_like_max or timeout", "dynesty": "maxcall or maxiter",
               "differential_evolution": "maxiter", "lbfgs": "maxiter"}


#: The searches that keep no checkpoint: scipy's optimizers, whose ``info.message`` says why they stopped.
OPTIMIZERS = ("differential_evolution", "lbfgs")


def _finite(value: Any) -> float | None:
    """``value`` where it is a finite number (a limit that is set,
    :func:`~tinylens.results.stored.finite_number`), else None (unset, ``.inf``, or no number)."""
    return float(value) if finite_number(value) else None


def _field(result: Any, name: str) -> Any:
    """``result``'s field ``name``: a key of a parsed ``result.json``, an attribute of a result (None: absent)."""
    return result.get(name) if isinstance(result, Mapping) else getattr(result, name, None)


def stopping_limit(result: Any) -> str | None:
    """Which of nautilus's ``n_like_max`` and ``timeout`` stopped ``result``'s sampler short: the
    one set, or with both set ``n_like_max`` where the sampler's calls (those of its last run in the
    pipeline, its checkpoint's earlier ones included, as nautilus counts them) reached it and
    ``timeout`` where they did not; for dynesty, its ``maxcall``, ``maxiter`` or ``logl_max`` as its run
    recorded it (``info.stopped_by``, :func:`tinylens.inference.dynesty_runner.stop_reason`). None where
    that cannot be told (another method, neither set, a dynesty fit that records none, runs recorded
    as no list). ``result``: a fit's result, or its parsed ``result.json``."""
    info = _field(result, "info") if isinstance(_field(result, "info"), dict) else {}
    if _field(result, "method") == "dynesty":
        return info.get("stopped_by") if info.get("stopped_by") in ("maxcall", "maxiter", "logl_max") else None
    if _field(result, "method") != "nautilus":
        return None
    settings = info.get("settings") if isinstance(info.get("settings"), dict) else {}
    n_like_max, timeout = _finite(settings.get("n_like_max")), _finite(settings.get("timeout"))
    if n_like_max is None or timeout is None:
        return "n_like_max" if n_like_max is not None else "timeout" if timeout is not None else None
    pipeline = info.get("pipeline") if isinstance(info.get("pipeline"), dict) else {}
    runs = pipeline.get("sampling_runs") or [{"n_likelihood_evals": _field(result, "n_likelihood_evals")}]
    last = runs[-1] if isinstance(runs, list) else None  # (an edited or damaged result.json's: not told)
    calls = _finite(last.get("n_likelihood_evals") if isinstance(last, dict) else None)
    if calls is None:
        return None
    return "n_like_max" if calls >= n_like_max else "timeout"


def unconverged_message(method: str, message: str | None = None, again: str = "Run the same command again",
                        limit: str | None = None) -> str:
    """The warning for a search that stopped before converging, naming the method's own limits
    (``limit``: the one that stopped it, where known, :func:`~tinylens.fitting.summary.stopping_limit`); for an optimizer,
    scipy's ``message`` (L-BFGS-B also stops unconverged on a failed line search, with its maxiter
    far from reached), and, where none is recorded, that it keeps no checkpoint to continue from.
    ``again``: how to run the fit again (the command line's words; :func:`~tinylens.fit`'s own warning names
    :func:`~tinylens.fit`), to continue a nested sampler."""
    limits = limit or STOP_LIMITS.get(method, "n_like_max, timeout or maxiter")
    if method in OPTIMIZERS and message:
        return (f"the {method} search stopped before converging (scipy: {message}), so these results are "
                f"preliminary. Raise its {limits} if that was reached.")
    if method in OPTIMIZERS:
        return (f"the {method} search stopped before converging (its {limits} was reached), so these results are "
                f"preliminary. Raise its {limits} and run the fit again: an optimizer keeps no checkpoint, so it "
                "starts afresh.")
    return (f"the {method} search stopped before converging (its {limits} was reached), so these results are "
            f"preliminary. {again} to continue a nested sampler from its checkpoint (after "
            "raising or removing the limit).")


def crowded_message(pipeline: dict[str, Any], again: str = "running the same command again") -> str:
    """The warning for a fit whose posterior still reaches an edge of the pipeline's sampling box
    (``pipeline``: ``result.info["pipeline"]``, its ``crowded_edges`` ``name:lower`` or
    ``name:upper``) after the widenings (or, its ``sampler_converged`` false, where a search that
    its limit stopped left it: such a box is not widened), or stage 3's theta_E floor (the one edge
    ``bounded: false`` keeps). Running the same command again samples the same region (the box,
    or the priors above the floor): the same answer. ``again``: how to run the fit again, as in
    :func:`~tinylens.fitting.summary.unconverged_message`."""
    floor = float(((pipeline.get("stages") or {}).get("arc") or {}).get("theta_E_floor") or 0.0)
    box = pipeline.get("box") or {}
    edges = list(pipeline.get("crowded_edges") or [])
    at_floor = [e for e in edges if e.endswith(":lower") and floor > 0
                and (box.get(e.removesuffix(":lower")) or [None])[0] == floor]
    parts = ([f"stage 3's theta_E floor of {floor:.3g}\" at {', '.join(at_floor)} (the data want a smaller Einstein "
              "radius: see pipeline.min_theta_E_fraction)"] if at_floor else [])
    others = [e for e in edges if e not in at_floor]
    sampler_converged = pipeline.get("sampler_converged", True)
    if others and sampler_converged:
        parts.append(f"the edge of the pipeline's sampling box at {', '.join(others)} after its widenings "
                     "(see pipeline.max_widen and pipeline.bounded)")
    elif others:  # the pipeline widens no box whose search its limit stopped
        parts.append(f"the edge of the pipeline's sampling box at {', '.join(others)}, as far as a search stopped "
                     "before converging tells (the box is widened only once its search converges)")
    same = f"; {again} samples the same region and gives the same answer" if sampler_converged else ""
    return (f"the posterior still reaches {' and '.join(parts)}, flagged box_edge and unconverged, so these results "
            f"are preliminary{same}.")


def unconverged_warnings(result: Any, api: bool = False) -> list[str]:
    """Why a ``result`` that did not converge is preliminary, one text a cause: its posterior
    reaches the sampling box's edge (:func:`~tinylens.fitting.summary.crowded_message`), and its search stopped early
    (:func:`~tinylens.fitting.summary.unconverged_message`: where the sampler itself stopped short, or the edge is not the
    cause). How to run the fit again in the command line's words, or (``api``) in :func:`~tinylens.fit`'s."""
    info = result.info if isinstance(getattr(result, "info", None), dict) else {}
    pipeline = info.get("pipeline") if isinstance(info.get("pipeline"), dict) else {}
    again = "tinylens.fit again with the same config and output folder"
    parts = []
    if pipeline.get("crowded_edges"):
        parts.append(crowded_message(pipeline, f"calling {again}") if api else crowded_message(pipeline))
    if not parts or not pipeline.get("sampler_converged", True):
        message, limit = info.get("message"), stopping_limit(result)
        parts.append(unconverged_message(result.method, message, f"Call {again}", limit) if api
                     else unconverged_message(result.method, message, limit=limit))
    return parts


def unconverged_text(result: FitResult) -> str:
    """What :func:`~tinylens.fit` warns (:class:`~tinylens.errors.ConvergenceWarning`) of a ``result`` that did
    not converge: where it is, why and what to do (:func:`~tinylens.fitting.summary.unconverged_warnings`)."""
    return f"The fit in {result.output_dir} did not converge: " + " ".join(unconverged_warnings(result, api=True))


def result_lines(result: FitResult) -> list[str]:
    """The printed :class:`~tinylens.fitting.summary.FitResult`: its lens (data file), method, whether it converged, the
    evidence, the main Einstein radius with its 68 % and 99.7 % intervals, the trust verdict and
    flags, the output folder, and the attributes holding the rest."""
    dataset = result.config.get("dataset") if isinstance(result.config, dict) else None
    lens = dataset.get("data_path") if isinstance(dataset, dict) else None
    state = convergence_state(result.converged, result.info)
    lines = [f"FitResult of {lens or result.output_dir}: {result.method}, {state}, "
             f"{result.n_likelihood_evals:,} likelihood calls in {result.wall_time_s:.1f} s"]
    evidence = "none" if result.log_evidence is None else f"{result.log_evidence:.2f}"
    lines.append(f"  log Z = {evidence}, max log L = {result.max_log_likelihood:.2f}")
    theta_E = main_einstein_radius(result.param_names)
    if theta_E is not None and result.method in OPTIMIZERS:  # a point: its "intervals" are the point itself
        lines.append(f"  {theta_E} = {_point_text(result.median[theta_E])} (best fit: an optimiser gives no intervals)")
    elif theta_E is not None:
        values = [result.median[theta_E], *result.interval_68[theta_E], *result.interval_997[theta_E]]
        half_width = (values[2] - values[1]) / 2
        median, lo68, hi68, lo997, hi997 = map(partial(_shown, places=_places(half_width), half_width=half_width), values)
        lines.append(f"  {theta_E} = {median} (68 %: {lo68} to {hi68}; 99.7 %: {lo997} to {hi997})")
    quality = result.quality if isinstance(result.quality, dict) else {}
    flags = list(quality.get("flags") or ())
    critical = [f for f in flags if f in set(quality.get("critical") or ())]
    verdict = "trusted" if quality.get("trusted") else "NOT trusted" + (f": {', '.join(critical)}" if critical else "")
    lines.append(f"  {verdict}; flags: {', '.join(flags) or 'none'}")
    lines.append(f"  output: {result.output_dir}")
    lines.append("  more: .median .interval_68 .interval_997 .derived .quality .summary .samples .config .info")
    return lines


#: Lines of parameters in the model figure's summary panel (the rest: result_summary.csv).
SUMMARY_PANEL_LINES = 16


#: How the summary panel writes the units of :data:`tinylens.results.tables.UNITS`.
UNIT_MARKS = {"arcsec": '"', "deg": " deg"}


def _point_text(value: float | None) -> str:
    """An optimiser's best-fit ``value`` (a point: no half-width to round it to) as the figure's
    summary panel and ``tinylens fit``'s tables give it: to five significant digits in plain digits
    (:func:`~tinylens.results.report.plain_number`: a flux of 10219.43 is 10219, not 1.022e+04, an
    Einstein radius of 1.250529 is 1.2505), ``none`` where it is not finite (null in result.json)."""
    from tinylens.results.report import plain_number

    return plain_number(value, 5) if value is not None and np.isfinite(value) else "none"


def _half_width(err: float, places: int | None) -> str:
    """A 68 % half-width ``err`` with the ``places`` decimals of its median (0.080, not 0.08 beside
    1.140; 120, not 1.2e+02), to two significant figures
    (:func:`~tinylens.results.report.plain_number`) where those places would hold fewer of it (an
    error under about 1e-7, past :func:`~tinylens.results.plots.decimals`' 8 places: 6e-09, not
    0.00000001) or ``places`` is None."""
    from tinylens.results.report import plain_number

    two_figures = places is not None and _holds_two_figures(err, places)
    return f"{err:.{places}f}" if two_figures else plain_number(err, 2)


def _posterior_texts(median: float | None, lo: float | None, hi: float | None) -> tuple[str, str | None, str]:
    """A posterior's ``median``, its 68 % half-width and its 68 % interval (``lo`` to ``hi``) as the
    figure's summary panel and ``tinylens fit``'s table give them: the median and the interval's
    ends to two significant digits of the half-width (:func:`~tinylens.fitting.summary._places`), the half-width to as many
    places (:func:`~tinylens.fitting.summary._half_width`); the half-width None where it is not a number (an open end: a
    magnitude where some draws have no flux), the median and ends then to four significant
    figures in plain digits; past the 8 places of :func:`~tinylens.fitting.summary._places`, to significant figures (:func:`~tinylens.fitting.summary._shown`)."""
    lo, hi = (np.nan if v is None else float(v) for v in (lo, hi))
    err = (hi - lo) / 2
    places = _places(err)
    interval = f"{_shown(lo, places, err)} to {_shown(hi, places, err)}"
    return _shown(median, places, err), _half_width(err, places) if np.isfinite(err) else None, interval


def _summary_lines(res: InferenceResult, stats: Mapping[str, Mapping[str, Any]], quality: dict[str, Any]) -> list[str]:
    """The model figure's summary: the fit, then the posterior median and 68 % half-width of the
    mass's parameters and derived q and phi, then the source's, then the lens light's (each
    median to two significant digits of its half-width, and the half-width to as many decimal
    places, as the corner plot's titles)."""
    from tinylens.results.plots import UNITS
    from tinylens.results.quality import raised_critical

    critical = raised_critical(quality)
    verdict = "NOT trusted: " + ", ".join(critical) if critical else "trusted"
    lines = [f"method  {res.method}", verdict]
    if res.log_evidence is not None:
        lines.append(f"log Z   {res.log_evidence:.2f}")
    lines += [f"max log L {np.max(res.log_likelihood):.2f}", f"calls   {res.n_likelihood_evals:,}",
              f"time    {res.wall_time_s:.1f} s", ""]
    one_point = len(res.samples) <= 1  # an optimiser's result: no width to give
    lines.append("best fit (an optimiser: no uncertainties):" if one_point else "posterior median ± 68 % half-width:")
    short = {"lens_mass": "mass", "lens_light": "light", "source_light": "src"}
    order = ("lens_mass.", "source_light.", "lens_light.")

    def place(name: str) -> tuple[int, int]:  # by model part, then component
        index = name.split(".")[1]
        return [name.startswith(o) for o in order].index(True), int(index) if index.isdigit() else 99

    names = sorted((n for n in stats if n.startswith(order)), key=place)
    for name in names[:SUMMARY_PANEL_LINES]:
        s = stats[name]
        parts = name.split(".")
        unit = UNIT_MARKS[UNITS[parts[-1]]] if parts[-1] in UNITS else ""
        shown = f"{short.get(parts[0], parts[0])}{parts[1]}.{parts[2]}" if len(parts) == 3 else name
        if one_point:
            lines.append(f"{shown}: {_point_text(s['median'])}{unit}")
            continue
        value, half, interval = _posterior_texts(s["median"], *s["interval_68"])
        if half is None:  # an open end: a magnitude where some draws have no flux
            lines.append(f"{shown}: {value}{unit} (68 %: {interval})")
        else:
            lines.append(f"{shown}: {value} ± {half}{unit}")
    if len(names) > SUMMARY_PANEL_LINES:
        lines.append(f"... {len(names) - SUMMARY_PANEL_LINES} more in the summary table")
    return lines
