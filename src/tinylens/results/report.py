"""Survey accuracy statistics: deviations from the truth, NMAD and catastrophic outliers.

As in the TinyLensGPU paper (section 3.1.3, Figures 4 and 7), for each parameter the deviation
of lens ``i`` is

* relative, ``zeta_i = (model - true) / true``, for the Einstein radius and the source size;
* absolute, ``zeta_i = model - true``, otherwise; position angles (period 180 deg) are wrapped
  into ``[-90, 90)`` deg first.

The typical scatter is the normalised median absolute deviation,
``NMAD = 1.48 x median(|zeta_i - median(zeta)|)``, and a *catastrophic outlier* is a lens whose
deviation lies outside the 4-sigma band drawn around the 1:1 line, ``|zeta_i| > 4 NMAD``.
Only lenses whose fit succeeded (``status == "ok"``) and that have both values are counted.

The model value is the catalogue's posterior median ``<name>_median``; error bars use the
99.7 % interval ``<name>_lo997`` / ``<name>_hi997``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from tinylens.atomic import write_atomic
from tinylens.errors import TinyLensError, did_you_mean, lens_count, listed
from tinylens.filenames import RESULT

Kind = Literal["relative", "absolute", "angle"]

#: Scale factor of the normalised median absolute deviation (paper, eq. in section 3.1.3).
NMAD_FACTOR = 1.48
#: An NMAD at most this part of the deviations' size (1 at least) is float round-off, 0: a uniform bias
#: of 1 % computed from model and truth, (1.01 t - t) / t, has an NMAD of 6e-17, not 0, and every lens
#: was called a catastrophic outlier (100 %, the deviation axis 1e-14 wide).
NMAD_ROUNDOFF = 1e-12
#: Catastrophic outliers lie beyond this many NMAD.
OUTLIER_SIGMA = 4.0
#: Fewer deviations than this give no scale to call one an outlier: the outlier count is NaN.
MIN_FOR_OUTLIERS = 5
#: Fewer deviations than this have no scatter: their NMAD is NaN (one lens's was 0, titled "NMAD = 0%").
MIN_FOR_SCATTER = 2
#: Period of position angles, degrees.
ANGLE_PERIOD = 180.0
ID_COLUMN = "lens_id"


@dataclass(frozen=True)
class Quantity:
    """A compared parameter: its catalogue/truth name, how it deviates, and a plot label."""

    name: str
    kind: Kind
    label: str


#: The paper's six parameters (Figure 4): theta_E, q, phi of the lens mass; r_e, q, m of the source.
PAPER_QUANTITIES: tuple[Quantity, ...] = (
    Quantity("lens_mass.0.theta_E", "relative", r"$\theta_{\rm E}$ [arcsec]"),
    Quantity("lens_mass.0.q", "absolute", r"$q_{\rm l}$"),
    Quantity("lens_mass.0.phi_deg", "angle", r"$\phi_{\rm l}$ [deg]"),
    Quantity("source_light.0.R_sersic", "relative", r"$r_{\rm s}$ [arcsec]"),
    Quantity("source_light.0.q", "absolute", r"$q_{\rm s}$"),
    Quantity("source.mag", "absolute", r"$m_{\rm s}$ [mag]"),
)
THETA_E = PAPER_QUANTITIES[0]
#: The lens-mass component :data:`PAPER_QUANTITIES` name; a table's main deflector may be another.
PAPER_LENS_MASS = "lens_mass.0."


def main_mass_index(columns: Sequence[str], suffix: str = "") -> int:
    """The index ``i`` of a table's main deflector: the first ``lens_mass.<i>`` with a column
    ``lens_mass.<i>.theta_E<suffix>`` (a SHEAR may be listed before it, as
    :func:`tinylens.pipeline.params.main_mass` reads a model), else 0."""
    found = []
    for column in map(str, columns):
        kind, _, rest = column.partition(".")
        index, _, name = rest.partition(".")
        if kind == "lens_mass" and index.isdigit() and name == f"theta_E{suffix}":
            found.append(int(index))
    return min(found, default=0)


def for_main_mass(q: Quantity, index: int) -> Quantity:
    """``q``, named for the main deflector ``lens_mass.<index>`` if it is one of the lens mass's."""
    if not q.name.startswith(PAPER_LENS_MASS):
        return q
    return replace(q, name=f"lens_mass.{index}.{q.name.removeprefix(PAPER_LENS_MASS)}")


def paper_quantities(catalog: pd.DataFrame) -> list[Quantity]:
    """:data:`PAPER_QUANTITIES`, the lens mass's named for the catalogue's main deflector
    (:func:`main_mass_index` of its ``<name>_median`` columns)."""
    index = main_mass_index(catalog.columns, "_median")
    return [for_main_mass(q, index) for q in PAPER_QUANTITIES]


def main_mass_truth_columns(catalog: pd.DataFrame, truth: pd.DataFrame) -> dict[str, str]:
    """For :func:`paper_quantities` of ``catalog``: the truth column of each lens-mass quantity
    where the two tables list their main deflector at different indices (a catalogue fitted
    with ``[SHEAR, SIE]`` against simulate-population's ``SIE`` first); ``{}`` where they agree."""
    index = main_mass_index(truth.columns)
    return {q.name: for_main_mass(paper, index).name for q, paper in zip(paper_quantities(catalog), PAPER_QUANTITIES)
            if q.name != for_main_mass(paper, index).name}

STATS_COLUMNS = ("parameter", "deviation", "n", "median_deviation", "nmad", "n_outliers", "outlier_fraction",
                 "n_outliers_expected", "n_within_10pct", "n_beyond_20pct", "n_truth_outside_997", "coverage_68")
#: The columns of :data:`STATS_COLUMNS` that count lenses (NaN where not counted).
COUNT_COLUMNS = ("n", "n_outliers", "n_within_10pct", "n_beyond_20pct", "n_truth_outside_997")
#: Fixed relative bands counted for relative deviations (e.g. Einstein radii against a published table).
WITHIN, BEYOND = 0.10, 0.20


# -- statistics -------------------------------------------------------------------------------
def wrap_angle(delta_deg: np.ndarray, period: float = ANGLE_PERIOD) -> np.ndarray:
    """Angle differences moved into ``[-period / 2, period / 2)``."""
    return (np.asarray(delta_deg, dtype=float) + period / 2) % period - period / 2


def angle_in_range(phi_deg: np.ndarray, period: float = ANGLE_PERIOD) -> np.ndarray:
    """Position angles moved by whole periods into ``(-period / 2, period / 2]`` (-90 to 90 deg):
    a lens's median of 91 deg, unwrapped about its own posterior, is -89."""
    half = period / 2
    return half - (half - np.asarray(phi_deg, dtype=float)) % period


def unwrap_angle(phi_deg: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Position angles (period 180 deg) moved within +-90 deg of their (weighted) circular mean.

    Angles near the +-90 deg cut (or of nearly round shapes) would otherwise split into two
    groups, with a meaningless median in between.
    """
    two_phi = np.radians(2 * np.asarray(phi_deg, dtype=float))
    w = None if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), two_phi.shape)
    centre = np.degrees(np.arctan2(np.average(np.sin(two_phi), weights=w), np.average(np.cos(two_phi), weights=w))) / 2
    return centre + (phi_deg - centre + 90.0) % 180.0 - 90.0


def angle_percentiles(phi_deg: np.ndarray, percentiles: Sequence[float]) -> np.ndarray:
    """Percentiles of position angles (period 180 deg) taken about their circular mean
    (:func:`unwrap_angle`), all shifted by the period that brings the first into (-90, 90]: the
    median of 89 and -89 deg is 90, where a plain median put it at 0, across both; the others
    follow it past the cut (-91 beside -90), so the interval stays one piece."""
    values = np.percentile(unwrap_angle(np.asarray(phi_deg, dtype=float)), percentiles)
    return values + angle_in_range(values[0]) - values[0]  # summed in this order, to the last bit as before


def deviations(model: np.ndarray, truth: np.ndarray, kind: Kind) -> np.ndarray:
    """``zeta``: relative, absolute or wrapped-angle deviations of ``model`` from ``truth``."""
    model, truth = np.asarray(model, dtype=float), np.asarray(truth, dtype=float)
    if kind == "relative":
        with np.errstate(divide="ignore", invalid="ignore"):
            return (model - truth) / truth
    if kind == "angle":
        return wrap_angle(model - truth)
    if kind == "absolute":
        return model - truth
    raise ValueError(f"unknown deviation kind {kind!r}")


def nmad(zeta: np.ndarray) -> float:
    """``1.48 x median(|zeta - median(zeta)|)`` over the finite values (NaN if none), 0 where that is
    float round-off (:data:`NMAD_ROUNDOFF`)."""
    zeta = np.asarray(zeta, dtype=float)
    zeta = zeta[np.isfinite(zeta)]
    if not zeta.size:
        return float("nan")
    centre = float(np.median(zeta))
    sigma = float(NMAD_FACTOR * np.median(np.abs(zeta - centre)))
    return 0.0 if sigma <= NMAD_ROUNDOFF * max(1.0, abs(centre)) else sigma


def is_outlier(zeta: np.ndarray, sigma: float, k: float = OUTLIER_SIGMA) -> np.ndarray:
    """Whether each deviation lies outside the ``k sigma`` band around zero (the 1:1 line)."""
    return np.abs(np.asarray(zeta, dtype=float)) > k * sigma


def counts_outliers(n: int, sigma: float) -> bool:
    """Whether ``n`` finite deviations of NMAD ``sigma`` give a scale to call some outliers: at
    least :data:`MIN_FOR_OUTLIERS` of them (the NMAD of one or two deviations is no scatter), and
    an NMAD above 0 (more than half of them equal, e.g. a parameter most fits hold at its true
    value, is no scatter either). Without one, every deviation other than the median would be
    an outlier."""
    return n >= MIN_FOR_OUTLIERS and bool(sigma > 0)


def deviation_stats(zeta: np.ndarray, k: float = OUTLIER_SIGMA) -> dict[str, float | int]:
    """``n``, ``median_deviation``, ``nmad``, ``n_outliers`` and ``outlier_fraction`` of the finite ``zeta``
    (the last two NaN unless :func:`counts_outliers`; ``nmad`` NaN for fewer than :data:`MIN_FOR_SCATTER`:
    one deviation has no scatter, and its NMAD of 0 read as a perfect survey)."""
    zeta = np.asarray(zeta, dtype=float)
    zeta = zeta[np.isfinite(zeta)]
    sigma = nmad(zeta) if zeta.size >= MIN_FOR_SCATTER else float("nan")
    n_out = float(is_outlier(zeta, sigma, k).sum()) if counts_outliers(zeta.size, sigma) else float("nan")
    return {
        "n": int(zeta.size),
        "median_deviation": float(np.median(zeta)) if zeta.size else float("nan"),
        "nmad": sigma,
        "n_outliers": n_out,
        "outlier_fraction": n_out / zeta.size if zeta.size else float("nan"),
    }


# -- tables -----------------------------------------------------------------------------------
def comparison_frame(
    catalog: pd.DataFrame,
    truth: pd.DataFrame,
    quantities: Sequence[Quantity],
    truth_columns: Mapping[str, str] | None = None,
    truth_name: str = "truth table",
    catalog_name: str = "catalogue",
) -> pd.DataFrame:
    """The ``ok`` lenses of ``catalog`` joined with ``truth`` on ``lens_id``.

    Columns per quantity ``q``: ``q.name`` + ``_model``, ``_lo``, ``_hi`` (99.7 % interval; NaN
    when the catalogue has none), ``_lo68``, ``_hi68`` (the 68 % interval), ``_true``, ``_dev``
    and ``_sigma`` (half the 68 % interval, in the units of the deviation: relative for relative
    deviations; NaN without intervals).
    ``truth_columns`` maps a quantity name to the truth column holding it (default: the same name).
    A value used (truth, median or interval end) that is given but is not a number raises
    TinyLensError (``truth_name`` and ``catalog_name`` name the tables); an empty one is NaN
    (that lens is left out of the statistics).
    """
    truth_columns = dict(truth_columns or {})
    for frame, what in ((catalog, "catalogue"), (truth, "truth table")):
        if ID_COLUMN not in frame.columns:
            raise TinyLensError(f"The {what} has no '{ID_COLUMN}' column; its columns are: {_some(frame.columns)}.")
    ok = catalog[catalog["status"] == "ok"] if "status" in catalog.columns else catalog
    joined = ok[[ID_COLUMN]].astype(str).merge(truth[[ID_COLUMN]].astype(str).drop_duplicates(), on=ID_COLUMN)
    out = pd.DataFrame({ID_COLUMN: joined[ID_COLUMN].to_numpy()})
    model_rows = ok.assign(**{ID_COLUMN: ok[ID_COLUMN].astype(str)}).drop_duplicates(ID_COLUMN).set_index(ID_COLUMN)
    truth_rows = truth.assign(**{ID_COLUMN: truth[ID_COLUMN].astype(str)}).drop_duplicates(ID_COLUMN).set_index(ID_COLUMN)
    ids = out[ID_COLUMN]
    require_medians(catalog, [q.name for q in quantities], f"The {catalog_name}")
    for q in quantities:
        median = f"{q.name}_median"
        true_col = truth_columns.get(q.name, q.name)
        if true_col not in truth_rows.columns:
            raise TinyLensError(f"The truth table has no column '{true_col}'; its columns are: "
                                f"{_some(columns_as_read(truth))}.")
        def interval_end(suffix: str) -> np.ndarray:
            """The catalogue column ``q.name + suffix`` for these lenses (NaN when absent)."""
            col = f"{q.name}{suffix}"
            if col not in model_rows.columns:
                return np.full(len(ids), np.nan)
            return numbers(model_rows.loc[ids, col], f"{catalog_name}'s column '{col}'", CATALOG_HINT)

        model = numbers(model_rows.loc[ids, median], f"{catalog_name}'s column '{median}'", CATALOG_HINT)
        true = numbers(truth_rows.loc[ids, true_col], f"{truth_name}'s column '{true_col}'")
        out[f"{q.name}_model"] = model
        out[f"{q.name}_lo"], out[f"{q.name}_hi"] = interval_end("_lo997"), interval_end("_hi997")
        out[f"{q.name}_lo68"], out[f"{q.name}_hi68"] = interval_end("_lo68"), interval_end("_hi68")
        out[f"{q.name}_true"] = true
        out[f"{q.name}_dev"] = deviations(model, true, q.kind)
        half = (interval_end("_hi68") - interval_end("_lo68")) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{q.name}_sigma"] = np.abs(half / true) if q.kind == "relative" else half
    return out


TRUTH_HINT = "give plain numbers (units as in the catalogue), or leave the cell empty to skip that lens"
CATALOG_HINT = ("give the catalogue as 'tinylens survey' wrote it (plain numbers), or leave the cell empty "
                "to skip that lens")


def numbers(values: pd.Series, what: str, hint: str = TRUTH_HINT) -> np.ndarray:
    """``values`` as floats, empty ones NaN; one that is there but is not a number raises
    TinyLensError (a unit or a note in a table column must not turn into a silent NaN)."""
    out = pd.to_numeric(values, errors="coerce")
    bad = out.isna() & values.notna() & (values.astype(str).str.strip() != "")
    if bad.any():
        raise TinyLensError(f"The {what} holds {values[bad].iloc[0]!r} for {values.index[bad][0]}, which is not a "
                            f"number ({int(bad.sum())} such value{'s' if bad.sum() > 1 else ''}); {hint}.")
    return out.to_numpy(float)


def band_counts(zeta: np.ndarray) -> dict[str, int]:
    """How many finite relative deviations lie within 10 % and beyond 20 % (fixed bands, unlike
    the NMAD-scaled outliers: the SLACS goal is stated in them)."""
    zeta = np.asarray(zeta, dtype=float)
    zeta = np.abs(zeta[np.isfinite(zeta)])
    return {"n_within_10pct": int((zeta <= WITHIN).sum()), "n_beyond_20pct": int((zeta > BEYOND).sum())}


def _outside(joined: pd.DataFrame, q: Quantity, lo_col: str, hi_col: str) -> tuple[np.ndarray, np.ndarray]:
    """``(outside, usable)``: whether each lens's truth lies outside its interval
    ``[lo_col, hi_col]`` (angles wrapped), and whether the lens has what that takes: its
    interval and a finite deviation (so a lens left out of ``n``, e.g. a true value of 0 for a
    relative deviation, is left out of these counts too)."""
    model, true = joined[f"{q.name}_model"].to_numpy(float), joined[f"{q.name}_true"].to_numpy(float)
    lo, hi = joined[f"{q.name}{lo_col}"].to_numpy(float), joined[f"{q.name}{hi_col}"].to_numpy(float)
    dev = joined[f"{q.name}_dev"].to_numpy(float)
    usable = np.isfinite(model) & np.isfinite(true) & np.isfinite(lo) & np.isfinite(hi) & np.isfinite(dev)
    d = model - true
    if q.kind == "angle":
        d = wrap_angle(d)
    return (d > model - lo) | (-d > hi - model), usable


def truth_outside(joined: pd.DataFrame, q: Quantity) -> float:
    """How many lenses have the truth outside their own 99.7 % interval (NaN when the catalogue
    gives no intervals). A catastrophic outlier with the truth inside is a wide, honest
    posterior (a faint arc); one with the truth outside is a wrong answer."""
    outside, usable = _outside(joined, q, "_lo", "_hi")
    return int(outside[usable].sum()) if usable.any() else float("nan")


def coverage_68(joined: pd.DataFrame, q: Quantity) -> float:
    """The fraction of lenses whose truth lies inside their own 68 % interval (NaN without such
    intervals): 0.68 when the posteriors are calibrated, more when they are too wide, less when
    too narrow (give it tens of lenses: its scatter is ``sqrt(0.68 * 0.32 / N)``)."""
    outside, usable = _outside(joined, q, "_lo68", "_hi68")
    return float(1 - outside[usable].mean()) if usable.any() else float("nan")


def expected_outliers(zeta: np.ndarray, sigma: np.ndarray, k: float = OUTLIER_SIGMA) -> float:
    """How many of the deviations ``zeta`` would lie beyond ``k`` NMAD if each lens's error were
    what its own posterior says: ``sum_i P(|N(0, sigma_i)| > k NMAD)``, with ``sigma_i`` half its
    68 % interval (NaN without widths, or where outliers are not counted: :func:`counts_outliers`).

    The outlier fraction of the paper counts every lens whose posterior is wider than the
    population's typical scatter, however right it is: a faint double can be 4 NMAD off and
    within its own 1 sigma. Observed outliers well above this number are failures of the fit;
    outliers at about this number are the information in the images (the faint arcs).
    """
    from scipy.stats import norm

    zeta, sigma = np.asarray(zeta, dtype=float), np.asarray(sigma, dtype=float)
    have = np.isfinite(zeta)
    width = np.isfinite(sigma) & (sigma > 0) & have
    sigma_all = nmad(zeta[have])
    if not counts_outliers(int(have.sum()), sigma_all) or not width.any():
        return float("nan")
    band = k * sigma_all
    return float(np.sum(2 * norm.sf(band / sigma[width])))


def stats_table(joined: pd.DataFrame, quantities: Sequence[Quantity], k: float = OUTLIER_SIGMA) -> pd.DataFrame:
    """One row per quantity: ``parameter, deviation, n, median_deviation, nmad, n_outliers,
    outlier_fraction, n_outliers_expected`` (:func:`expected_outliers`), for relative deviations
    ``n_within_10pct, n_beyond_20pct``, ``n_truth_outside_997`` (:func:`truth_outside`) and
    ``coverage_68`` (:func:`coverage_68`)."""
    rows = []
    for q in quantities:
        zeta = joined[f"{q.name}_dev"].to_numpy()
        sigma = joined[f"{q.name}_sigma"].to_numpy() if f"{q.name}_sigma" in joined else np.full(len(zeta), np.nan)
        bands = band_counts(zeta) if q.kind == "relative" else {}
        rows.append({"parameter": q.name, "deviation": q.kind, **deviation_stats(zeta, k),
                     "n_outliers_expected": expected_outliers(zeta, sigma, k), **bands,
                     "n_truth_outside_997": truth_outside(joined, q), "coverage_68": coverage_68(joined, q)})
    return pd.DataFrame(rows, columns=list(STATS_COLUMNS))


def counts_as_integers(stats: pd.DataFrame) -> pd.DataFrame:
    """``stats`` (:func:`stats_table`) with its :data:`COUNT_COLUMNS` as integers, a count not
    made missing (``21``, not the ``21.0`` of a column that also holds NaN), as the files give them."""
    return stats.astype({column: "Int64" for column in COUNT_COLUMNS if column in stats.columns})


def undefined_deviations(joined: pd.DataFrame, q: Quantity) -> list[str]:
    """The lenses that have both values of ``q`` but no finite deviation (a true value of 0 for a
    relative deviation, or an infinite value): left out of every count, so the caller can say so."""
    model, true = joined[f"{q.name}_model"].to_numpy(float), joined[f"{q.name}_true"].to_numpy(float)
    dev = joined[f"{q.name}_dev"].to_numpy(float)
    left = ~np.isnan(model) & ~np.isnan(true) & ~np.isfinite(dev)
    return [str(i) for i in joined[ID_COLUMN].to_numpy()[left]]


def empty_reason(joined: pd.DataFrame, q: Quantity) -> str:
    """Why ``q`` has no deviation at all (N = 0): how many matched lenses have each value."""
    model = np.isfinite(joined[f"{q.name}_model"].to_numpy(float))
    true = np.isfinite(joined[f"{q.name}_true"].to_numpy(float))
    both, medians = int((model & true).sum()), int(model.sum())
    if both:
        which = "the one lens that has" if both == 1 else f"all {both} lenses that have"
        return (f"the deviation is undefined for {which} both values "
                "(a true value of 0 for a relative deviation, or an infinite value)")
    return (f"no lens has both a fitted median and a finite true value ({medians} of the "
            f"{lens_count(len(joined), 'matched')} {'has' if medians == 1 else 'have'} a median, "
            f"{int(true.sum())} a finite true value)")


def _some(names, limit: int = 12) -> str:
    return listed([str(n) for n in names], limit) or "(none)"


def require_medians(catalog: pd.DataFrame, names: Sequence[str], where: str, why: str = "") -> None:
    """Raise TinyLensError naming the first of ``names`` whose posterior-median column
    ``<name>_median`` ``catalog`` (``where``) lacks, and the parameters it has; ``why`` follows
    the column's name, with ``{name}`` replaced by the parameter's."""
    for name in names:
        if f"{name}_median" not in catalog.columns:
            known = sorted(c.removesuffix("_median") for c in catalog.columns if c.endswith("_median"))
            raise TinyLensError(f"{where} has no column '{name}_median'{why.format(name=name)}; "
                                f"the parameters in it are: {_some(known)}."
                                f"{did_you_mean([name], known) or _full_names(name, known)}")


def _full_names(name: str, known: Sequence[str]) -> str:
    """`` Did you mean 'lens_mass.0.theta_E'?`` for a parameter given by its last part alone
    (``theta_E``; ``q``: each component's), or ``""`` when no name of ``known`` ends so."""
    full = [k for k in known if k.casefold().endswith(f".{name.casefold()}")]
    if not full:
        return ""
    return f" Did you mean {' or '.join(repr(k) for k in full)}? Give the full name, component and index included."


# -- figure -----------------------------------------------------------------------------------
def comparison_figure(joined: pd.DataFrame, quantities: Sequence[Quantity], stats: pd.DataFrame,
                      truth_label: str = "truth", model_label: str = "model", k: float = OUTLIER_SIGMA):
    """A Figure-4-style figure: per quantity, model vs truth (99.7 % error bars, 1:1 line, the
    ``k`` NMAD band dashed where outliers are counted, outliers in red) above the deviations
    (relative ones in %); each panel's NMAD and outlier fraction in its title and one legend above
    them all, so that neither covers a lens."""
    from tinylens.results.figure import NotebookFigure

    n = len(quantities)
    ncols = min(3, n)
    nrows = -(-n // ncols)
    fig = NotebookFigure(figsize=(4.2 * ncols, 5.0 * nrows), layout="constrained")
    grid = fig.add_gridspec(2 * nrows, ncols, height_ratios=[3, 1] * nrows)
    by_name = stats.set_index("parameter")
    for i, q in enumerate(quantities):
        r, c = divmod(i, ncols)
        top = fig.add_subplot(grid[2 * r, c])
        bottom = fig.add_subplot(grid[2 * r + 1, c], sharex=top)
        _panel(top, bottom, joined, q, by_name.loc[q.name], truth_label, model_label, k)
    shown = {name: handle for ax in fig.axes for handle, name in zip(*ax.get_legend_handles_labels())}
    # one panel is too narrow for a row of four, two for a row of six (all of them: 9.1 in of 8.4)
    per_row = 2 if ncols == 1 else len(shown) if ncols > 2 or len(shown) <= LEGEND_ROW_OF_TWO else -(-len(shown) // 2)
    fig.legend(list(shown.values()), list(shown), loc="outside upper center", frameon=False, fontsize=9,
               ncols=per_row)
    return fig


#: The most entries the legend of a two-panel comparison figure puts in one row (5 fill 7.2 in of its
#: 8.4); more are set in two rows.
LEGEND_ROW_OF_TWO = 5


def _panel(top, bottom, joined: pd.DataFrame, q: Quantity, stat: pd.Series, t_label: str, m_label: str, k: float) -> None:
    from matplotlib.ticker import MaxNLocator

    true = joined[f"{q.name}_true"].to_numpy(float)
    dev = joined[f"{q.name}_dev"].to_numpy(float)
    keep = np.isfinite(true) & np.isfinite(dev)
    true, dev = true[keep], dev[keep]
    # The model value shown is truth + wrapped deviation, so that angles sit next to the 1:1 line.
    model = true * (1 + dev) if q.kind == "relative" else true + dev
    shift = model - joined[f"{q.name}_model"].to_numpy(float)[keep]
    lo = joined[f"{q.name}_lo"].to_numpy(float)[keep] + shift
    hi = joined[f"{q.name}_hi"].to_numpy(float)[keep] + shift
    lo68, hi68 = (_column(joined, f"{q.name}{end}")[keep] + shift for end in ("_lo68", "_hi68"))
    sigma = float(stat["nmad"])
    counted = np.isfinite(sigma) and np.isfinite(float(stat["n_outliers"]))
    bad = is_outlier(dev, sigma, k) if counted else np.zeros(len(dev), bool)
    scale = 100.0 if q.kind == "relative" else 1.0  # relative deviations are shown in %
    # Truth and model are the same quantity: both axes span every truth, model value and interval
    # end, over one range, so that the 1:1 line runs corner to corner at the slope it has. The truths
    # alone spanned ±1 % of a single lens's truth, a model value 3 % off sat far from a line that,
    # the model axis set by matplotlib, looked far steeper or flatter than 1:1. An outlier's model
    # value and interval stretch the model axis alone: on both, one lens fitted 9 against a truth
    # of 1.1 squeezed 99 others into a corner of both panels, their truths into a sixth of the axis.
    # A 99.7 % interval end far past the others (:func:`interval_room`) is left out of the span and
    # its bar cut at the axis, an arrow there: one lens of 30 fitted right with an interval of 0.1 to
    # 5 ran both axes to 5.2, the 29 others' truths, 0.8 to 1.5, in their first seventh.
    core = np.concatenate([true, model[~bad], lo68[~bad], hi68[~bad]])
    core = core[np.isfinite(core)]
    room = interval_room(_padded(core), lo[~bad], hi[~bad], model[~bad])
    drawn = np.concatenate([core, _within(lo[~bad], room), _within(hi[~bad], room)])
    span = _padded(drawn)
    # An outlier whose model value lies past the room an interval end may stretch the axis by
    # (:func:`interval_room`) is drawn at the model axis's edge, a triangle pointing its way, as the
    # deviation panel draws one past its reach: one lens of 100 fitted 9.0 against a truth of 1.1 ran
    # the model axis to 9.4, the 99 others (0.6 to 1.9) in its lowest sixth, the 1:1 line and the
    # band flat. One nearer stretches the model axis to show it where it lies.
    far = bad & ((model < room[0]) | (model > room[1]))
    near = bad & ~far
    reached = np.concatenate([drawn, model[near], lo68[near], hi68[near]])
    # the typical half-width of every lens, not of the outliers alone: an outlier's own long tail was
    # its own typical width, so that it was never cut (one of 10 at 9 with a tail to 40 ran the axis to 42)
    room = interval_room(_padded(reached[np.isfinite(reached)]), lo, hi, model, room)
    every = np.concatenate([reached, _within(lo[near], room), _within(hi[near], room)])
    every = every[np.isfinite(every)]
    outer = _padded(every)  # past the span on an outlier's side only
    reach = np.array([span[0] if every.min(initial=span[0]) >= span[0] else outer[0],
                      span[1] if every.max(initial=span[1]) <= span[1] else outer[1]])
    markers = np.concatenate([true, model[~far]])
    xlim = _within_range(span, q, drawn, np.concatenate([true, model[~bad]]))
    ylim = _within_range(reach, q, every, markers)
    cut_lo, cut_hi = lo < ylim[0], hi > ylim[1]  # bars cut at the axis, an arrow at the cut
    yerr = np.vstack([np.clip(model - np.maximum(lo, ylim[0]), 0, None), np.clip(np.minimum(hi, ylim[1]) - model, 0, None)])
    yerr = np.where(np.isfinite(yerr), yerr, 0.0)
    shown = scale * dev
    off = far & ((model < ylim[0]) | (model > ylim[1]))  # a triangle on the model axis's edge
    # An outlier farther than DEVIATION_REACH bands from the 1:1 line is drawn at the deviation axis's
    # edge, not where it lies: one lens of 100 at +60 % (NMAD 3 %) ran the axis to 64 %, the 99 others
    # in its lowest sixth, their spread a flat line; the axis is now the others' and the band's.
    past = bad & (np.abs(dev) > deviation_reach(dev, sigma, k)) if counted else np.zeros(len(dev), bool)
    bottom.set_ymargin(DEVIATION_MARGIN)  # matplotlib's 5 % of a panel a third as tall: a few pixels
    for sel, colour, name in ((~bad, "#1f4e79", "lenses (99.7 % intervals)"), (bad & ~off, "#d62728", "outliers")):
        if sel.any():
            top.errorbar(true[sel], model[sel], yerr=yerr[:, sel], fmt="o", ms=3, lw=0.6, color=colour, label=name)
        if (sel & ~past).any():
            bottom.plot(true[sel & ~past], shown[sel & ~past], "o", ms=3, color=colour)
    for side, edge, shape in ((off & (model > ylim[1]), ylim[1], "^"), (off & (model < ylim[0]), ylim[0], "v")):
        if side.any():
            top.plot(true[side], np.full(int(side.sum()), edge), shape, ms=6, color="#d62728", clip_on=False,
                     label="outliers past the axis")
    top.plot(span, span, "-", color="black", lw=0.8, label="1:1")
    bottom.axhline(0, color="black", lw=0.8)
    if counted:  # the band that decides the outliers; none is drawn where they are not counted
        for sign in (-1, 1):
            band = span * (1 + sign * k * sigma) if q.kind == "relative" else span + sign * k * sigma
            top.plot(span, band, "--", color="0.4", lw=0.8, label=f"±{k:g} NMAD" if sign > 0 else None)
            bottom.axhline(sign * k * sigma * scale, ls="--", color="0.4", lw=0.8)
    if past.any():
        _past_the_axis(bottom, true[past], shown[past], q)
    for sel, colour in ((~bad, "#1f4e79"), (bad & ~off, "#d62728")):
        for cut, edge, shape in ((cut_lo, ylim[0], "v"), (cut_hi, ylim[1], "^")):
            if (sel & cut).any():
                top.plot(true[sel & cut], np.full(int((sel & cut).sum()), edge), shape, ms=5, color=colour,
                         clip_on=False, label="interval past the axis")
    top.set_xlim(*xlim)
    top.set_ylim(*ylim)
    sigma_text = (percent_text(sigma) if q.kind == "relative" else plain_number(sigma)) + deviation_unit(q)
    f_c = (f"{100 * float(stat['outlier_fraction']):.1f}% ({int(stat['n_outliers'])}/{int(stat['n'])})" if counted
           else f"- (N = {int(stat['n'])} < {MIN_FOR_OUTLIERS})" if int(stat["n"]) < MIN_FOR_OUTLIERS
           else "- (NMAD = 0: no scale)")
    expected = float(stat.get("n_outliers_expected", np.nan))
    if counted and np.isfinite(expected):
        f_c += f"\n{expected:.1f} expected from the widths"
    if int(stat["n"]) < MIN_FOR_SCATTER:  # its NMAD would be 0, read as no error at all
        top.set_title(f"{lens_count(int(stat['n']))}: no scatter (NMAD) nor outliers to measure", loc="left", fontsize=9)
    else:
        top.set_title(f"NMAD $\\sigma$ = {sigma_text}, $f_c$ = {f_c}", loc="left", fontsize=9)
    top.set_ylabel(f"{q.label}, {m_label}", fontsize=9)
    bottom.set_xlabel(f"{q.label}, {t_label}", fontsize=9)
    unit = "%" if q.kind == "relative" else quantity_unit(q)
    bottom.set_ylabel(f"{'relative ' if q.kind == 'relative' else ''}deviation" + (f" [{unit}]" if unit else ""),
                      fontsize=8)
    top.tick_params(labelbottom=False, labelsize=8)
    bottom.tick_params(labelsize=8)
    # At most five truth ticks: matplotlib's own count assumes labels of about three characters,
    # and a narrow truth range (one lens: ±1 % of its truth) gave nine of seven ("0.11125"), run together.
    bottom.xaxis.set_major_locator(MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]))


#: Room the deviation panel keeps past its lowest and highest deviation (or its 0 line, or band), as a
#: fraction of the data's span: matplotlib's 5 % left 5 pixels of a panel 100 tall, a marker drawn on
#: the 0 line at the edge of the deviations (all of one sign, one of them 0: three lenses) touching the frame.
DEVIATION_MARGIN = 0.12


#: How many times the outlier band's half-width (``k`` NMAD) a deviation may lie from 0 and be drawn
#: where it lies; farther ones are drawn at the deviation axis's edge, a triangle pointing out.
DEVIATION_REACH = 2.0


#: The most lenses, as a part of them all, that the deviation axis may leave past its edge (one at
#: least) where the lenses past it form a tail: a reach of DEVIATION_REACH bands alone, where a tiny
#: NMAD (0.13 %) lies under a heavy tail, left 12 lenses of 100 on the edge.
DEVIATION_PINNED = 0.05
#: How many times the deviation axis's reach the next lens past it may lie and still widen it: the
#: axis widens lens by lens through a tail, never across a gap to a catastrophic lens. Widening to
#: DEVIATION_PINNED alone ran the axis of a plain run with 7 wrong modes of 100 (20-86 % low, NMAD
#: 0.155 %) to -23 %, to show two of them, the 93 good lenses a flat line at 0.
DEVIATION_STEP = 3.0


def deviation_reach(dev: np.ndarray, sigma: float, k: float) -> float:
    """How far from 0 a deviation (of ``dev``, NMAD ``sigma``) may lie and be drawn where it lies:
    :data:`DEVIATION_REACH` times the outlier band's half-width ``k sigma``, widened, while more than
    :data:`DEVIATION_PINNED` of the lenses (one at least) lie past it, to the nearest of them, as long
    as that one lies within :data:`DEVIATION_STEP` times the reach so far (a heavy tail); lenses
    farther (a few catastrophic ones many NMAD away) stay at the axis's edge."""
    size = np.sort(np.abs(dev[np.isfinite(dev)]))
    pinned = max(1, int(DEVIATION_PINNED * size.size))
    reach = DEVIATION_REACH * k * sigma
    beyond = size[size > reach]
    for nearest in beyond[:max(beyond.size - pinned, 0)]:
        if nearest > DEVIATION_STEP * reach:
            break
        reach = float(nearest)
    return reach


def _past_the_axis(bottom, true: np.ndarray, shown: np.ndarray, q: Quantity) -> None:
    """Draw the deviations ``shown`` (at truths ``true``), past :data:`DEVIATION_REACH`, that lie
    past the deviation axis the other lenses and the band set as triangles on the axis's edge
    pointing their way (the others where they lie), and say above the panel how many there are and
    where they lie."""
    low, high = bottom.get_ylim()  # the others' and the band's, as matplotlib's margins set them
    bottom.set_ylim(low, high)
    within = (shown >= low) & (shown <= high)  # past the reach, not past the margin
    if within.any():
        bottom.plot(true[within], shown[within], "o", ms=3, color="#d62728")
    true, shown = true[~within], shown[~within]
    if not shown.size:
        return
    for side, edge, shape in ((shown > high, high, "^"), (shown < low, low, "v")):
        if side.any():
            bottom.plot(true[side], np.full(int(side.sum()), edge), shape, ms=6, color="#d62728", clip_on=False,
                        label="outliers past the axis")
    unit = deviation_unit(q)
    # A deviation under PERCENT_FLOOR in size is written in its own digits: percent_text's '<0.0001'
    # read '+<0.0001%' and '>-0.0001%' beside an axis of ±0.00001 % (float32 round-off, NMAD 2.5e-6 %),
    # neither saying where the lens lies nor that it lies past that axis.
    text = [(percent_text(v / 100) if abs(v) >= PERCENT_FLOOR else plain_number(v, 2)) + unit
            if q.kind == "relative" else plain_number(v) + unit for v in shown[np.argsort(-np.abs(shown))]]
    text = [t if t.startswith("-") else f"+{t}" for t in text]
    bottom.set_title(f"{lens_count(len(shown))} past the axis: {listed(text, 3)}", loc="right", fontsize=7,
                     color="#d62728")


#: How far past the span of the truths, model values and 68 % intervals a 99.7 % interval end may
#: stretch an axis, as a part of that span; ends farther (and farther than :data:`INTERVAL_TYPICAL`
#: typical half-widths) are cut at the axis.
INTERVAL_REACH = 0.5
#: How many times the lenses' median 99.7 % half-width an interval end may lie past that span: a few
#: lenses' honest intervals, wider than the spread of their values (one lens), are drawn whole.
INTERVAL_TYPICAL = 3.0


def interval_room(span: np.ndarray, lo: np.ndarray, hi: np.ndarray, model: np.ndarray,
                  at_least: np.ndarray | None = None) -> np.ndarray:
    """``[low, high]`` within which a 99.7 % interval end (``lo``, ``hi`` of lenses at ``model``)
    is drawn whole and stretches the axis: ``span`` (of the truths, model values and 68 % ends)
    widened by :data:`INTERVAL_REACH` of its width, or by :data:`INTERVAL_TYPICAL` times the median
    half-width of the intervals where that is more; ``at_least``, a room it holds. Ends past it are
    cut at the axis (a long-tailed posterior of one lens made every other lens a dot)."""
    half = np.concatenate([model - lo, hi - model])
    half = half[np.isfinite(half)]
    widen = max(INTERVAL_REACH * float(np.ptp(span)), INTERVAL_TYPICAL * float(np.median(half)) if half.size else 0.0)
    room = np.array([span[0] - widen, span[1] + widen])
    return room if at_least is None else np.array([min(room[0], at_least[0]), max(room[1], at_least[1])])


def _within(ends: np.ndarray, room: np.ndarray) -> np.ndarray:
    """The finite ``ends`` within ``room``."""
    return ends[np.isfinite(ends) & (ends >= room[0]) & (ends <= room[1])]


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """``frame[name]`` as floats, NaN where the frame has no such column."""
    return frame[name].to_numpy(float) if name in frame.columns else np.full(len(frame), np.nan)


def _padded(values: np.ndarray) -> np.ndarray:
    """``[min, max]`` of ``values`` (``[0, 1]`` for none) widened by 5 % of its width on each
    side, or of a fifth of its larger end in size where that is more (one lens: a width of 0)."""
    span = np.array([values.min(), values.max()]) if values.size else np.array([0.0, 1.0])
    return span + np.array([-0.05, 0.05]) * max(np.ptp(span), 0.2 * np.abs(span).max(), 1e-3)


#: Room an axis cut to a physical range keeps past a bound that a lens's point lies on, as a
#: fraction of the axis: a marker on the bound would be cut in half by the axis's edge, its error
#: bar hidden in the frame (a round source's q of 1).
BOUND_ROOM = 0.03


def _within_range(limits: Sequence[float], q: Quantity, values: np.ndarray,
                  points: np.ndarray | None = None) -> tuple[float, float]:
    """An axis's ``limits`` of ``q``'s ``values`` cut to ``q``'s physical range (an axis ratio's
    to [0, 1]: truths up to 0.985 ran the axis to 1.008) where the values lie within it; as they
    are where some lie past it, which the axis must show. Where one of the ``points`` drawn as
    markers (by default the values) lies on a bound, the axis keeps :data:`BOUND_ROOM` past it,
    so that the marker is whole; an error bar may end on it."""
    lo, hi = physical_range(q)
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size and (values.min() < lo or values.max() > hi):
        return float(limits[0]), float(limits[1])
    left, right = max(float(limits[0]), lo), min(float(limits[1]), hi)
    points = values if points is None else np.asarray(points, dtype=float)
    points = points[np.isfinite(points)]
    room = BOUND_ROOM * (right - left)
    if points.size and points.max() >= hi:
        right = min(float(limits[1]), hi + room)
    if points.size and points.min() <= lo:
        left = max(float(limits[0]), lo - room)
    return left, right


#: The smallest size of a percentage :func:`percent_text` writes in digits (``0.0001``).
PERCENT_FLOOR = 1e-4


def percent_text(fraction: float, digits: int = 2) -> str:
    """``fraction`` in per cent (no per-cent sign), to ``digits`` significant figures where that
    needs no exponent, else as a whole number: an NMAD of 1.15 is ``115``, not ``1.1e+02``. A
    percentage under :data:`PERCENT_FLOOR` in size (not 0) is ``<0.0001`` (``>-0.0001``): it
    was the whole number ``0``, a width of 1e-7 reading as none."""
    value = 100 * fraction
    if 0 < abs(value) < PERCENT_FLOOR:
        return f"<{PERCENT_FLOOR:g}" if value > 0 else f">-{PERCENT_FLOOR:g}"
    text = f"{value:.{digits}g}"
    return f"{value:.0f}" if "e" in text else text


#: Sizes within which :func:`plain_number` writes a number in plain digits (beyond: an exponent).
PLAIN_RANGE = (1e-6, 1e7)


def plain_number(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures in plain digits, as a table of a survey's values
    reads: a flux of 10219 is ``10220``, not ``1.022e+04``, a half-width of 4.5e-05 arcsec
    ``0.000045``; an exponent only for a size outside :data:`PLAIN_RANGE` once rounded to those
    figures (9999999 to three is ``1e+07`` as 1e7 is, not ``10000000``; 9.9999996e-07 is
    ``0.000001`` as 1e-6 is), ``nan`` for NaN. ``digits`` of 0 is one figure, as Python's ``.0g``
    is (numpy's plain digits refused a precision of 0: a ValueError)."""
    value, digits = float(value), max(int(digits), 1)
    size = abs(float(f"{value:.{digits - 1}e}")) if np.isfinite(value) else np.nan  # as it is shown
    if not np.isfinite(value) or (size and not PLAIN_RANGE[0] <= size < PLAIN_RANGE[1]):
        return f"{value:.{digits}g}"
    return np.format_float_positional(value, precision=digits, unique=False, fractional=False, trim="-")


def quantity_unit(q: Quantity) -> str:
    """The unit of a quantity's values: ``deg`` for angles, else the one in its label's brackets
    (``$m$ [mag]``: ``mag``), or ``""``."""
    if q.kind == "angle":
        return "deg"
    start, end = q.label.rfind("["), q.label.rfind("]")
    return q.label[start + 1 : end] if 0 <= start < end else ""


def deviation_unit(q: Quantity) -> str:
    """What follows a deviation of ``q`` written as a number in report.png: ``%`` for a relative
    one, ``°`` for an angle (``1.48°``), else a space and the unit of its values (``0.148 mag``),
    nothing for a quantity without one (an axis ratio)."""
    if q.kind == "relative":
        return "%"
    if q.kind == "angle":
        return "°"
    unit = quantity_unit(q)
    return f" {unit}" if unit else ""


def save_figure(fig, path: str | Path, dpi: int = 110, **savefig) -> Path:
    """Write ``fig`` atomically in the format ``path``'s suffix names (``gallery.pdf``: PDF), PNG
    for a name without one or with one matplotlib does not write (``savefig``: more options of
    ``Figure.savefig``)."""
    return write_atomic(path, figure_writer(fig, path, dpi, **savefig))


def figure_writer(fig, path: str | Path, dpi: int = 110, **savefig) -> Callable[[Path], Any]:
    """What writes ``fig`` to a (temporary) file as :func:`save_figure` writes it to ``path``."""
    from tinylens.results.figure import file_format

    kind = file_format(fig, path)
    return lambda tmp: fig.savefig(tmp, dpi=dpi, format=kind, facecolor="white", **savefig)


# -- input ------------------------------------------------------------------------------------
#: Names accepted for the lens id column of a truth or reference table, in order.
ID_ALIASES = ("lens_id", "lens_name", "name", "id")
#: The key of a table's ``attrs`` under which :func:`read_table` keeps its id column's own name.
ID_READ_AS = "tinylens_id_column"


def read_table(path: str | Path, what: str, in_folder: tuple[str, ...] = ()) -> pd.DataFrame:
    """A CSV, Parquet, FITS or ECSV table (by its name: :func:`table_kind`), its id column (one of
    :data:`ID_ALIASES`) named ``lens_id`` and held as text (:func:`id_text`). ``what`` names it in
    messages; ``in_folder`` are the files a folder given instead may hold (see :func:`not_a_table`)."""
    path = Path(path).expanduser()
    not_a_table(path, what, in_folder)
    if not path.is_file():
        raise TinyLensError(f"The {what} {path} does not exist or is not a file.{table_beside(path, in_folder)}")
    refuse_compressed_parquet(path, what)
    kind = table_kind(path)
    parquet = kind == "parquet"
    try:
        if kind in ASTROPY_KINDS:
            frame = read_astropy_table(path, what)
        elif parquet:
            frame = pd.read_parquet(path)
        else:  # the id column as text: pandas would read 0001 as the integer 1
            alias = id_column(pd.read_csv(path, nrows=0).columns)
            # each column's type from all its rows: in blocks (low_memory), a 'reason' column empty in
            # the first thousands of lenses and text later printed pandas' DtypeWarning over the report
            frame = pd.read_csv(path, dtype={alias: str} if alias else None, low_memory=False)
    except TinyLensError:
        raise
    except UnicodeDecodeError as exc:  # a CSV saved as Latin-1 or Windows text (a name with an accent)
        raise TinyLensError(f"The {what} {path} is not UTF-8 text (a byte 0x{exc.object[exc.start]:02x}: Latin-1 or "
                            "Windows text, with an accented letter, or no text at all?): "
                            "give it as a CSV table saved as UTF-8, or as a Parquet table.") from None
    except Exception as exc:  # pandas/pyarrow raise many types for a corrupt file
        detail = " ".join(str(exc).split())[:200]
        raise TinyLensError(f"The {what} {path} could not be read as a "
                            f"{'Parquet' if parquet else 'CSV'} table ({detail}).") from None
    alias = id_column(frame.columns)
    single = single_fit_table(frame.columns)
    if alias is None and single:
        advice = SINGLE_FIT if in_folder else f"Give the {what} as a table of lenses, one row per lens with its id"
        raise TinyLensError(f"The {what} {path} is a single fit's {single}, not a table of lenses (it has no lens "
                            f"id column: one of {', '.join(ID_ALIASES)}). {advice}.")
    separator = other_separator(frame.columns) if kind == "csv" else None
    if alias is None and separator:
        rewrite = "pandas.read_csv(path, sep=None, engine='python').to_csv(new_path, index=False)"
        if separator == "semicolons":  # a spreadsheet's where the decimal mark is a comma: 1,23 is read as text
            rewrite = ("pandas.read_csv(path, sep=None, engine='python', decimal=',').to_csv(new_path, index=False); "
                       "decimal=',' reads numbers written with a decimal comma")
        raise TinyLensError(f"The {what} {path} is read as a single column, {str(frame.columns[0])!r}: its values are "
                            f"separated by {separator}, and a CSV table's by commas. Write it with commas "
                            f"(e.g. in Python {rewrite}).")
    if alias is None:
        raise TinyLensError(f"The {what} {path} has no lens id column (one of {', '.join(ID_ALIASES)}); "
                            f"its columns are: {_some(frame.columns)}.")
    frame = frame.rename(columns={alias: ID_COLUMN}) if alias != ID_COLUMN else frame
    frame = frame.assign(**{ID_COLUMN: id_text(frame[ID_COLUMN])})
    frame.attrs[ID_READ_AS] = alias  # messages list the columns as the file names them
    return frame


#: Separators of a table's values other than a CSV's comma, by how a message names them.
OTHER_SEPARATORS = {"tabs": "\t", "semicolons": ";", "vertical bars": "|", "spaces": " "}


def other_separator(columns) -> str | None:
    """How the values of a table read as the one column ``columns`` are separated, where that
    column's name is a lens id column's (:data:`ID_ALIASES`; by spaces, the first) and more,
    joined by one of :data:`OTHER_SEPARATORS` (a TSV's ``lens_id<TAB>theta_E``); None otherwise."""
    if len(columns) != 1:
        return None
    name = str(columns[0])
    for words, separator in OTHER_SEPARATORS.items():
        parts = [part.strip() for part in name.split(separator) if part.strip()]
        # by spaces, only an id first: a column 'lens id' is no table of two columns
        if len(parts) > 1 and id_column(parts[:1] if separator == " " else parts) is not None:
            return words
    return None


def single_fit_table(columns) -> str | None:
    """What table of a single fit ``columns`` are those of: its summary (result_summary.csv, one row
    per parameter) or its posterior samples (result_samples.csv, one row per sample); None for others."""
    from tinylens.results.tables import SUMMARY_COLUMNS

    names = {str(c) for c in columns}
    if set(SUMMARY_COLUMNS) <= names:
        return "summary (one row per parameter, as in result_summary.csv)"
    if {"weight", "log_likelihood"} <= names:
        return "posterior samples (one row per sample, as in result_samples.csv)"
    return None


#: The table formats :func:`read_table` reads with astropy (:func:`read_astropy_table`).
ASTROPY_KINDS = ("fits", "ecsv")
#: The table formats :func:`read_table` reads, as a message names them.
TABLE_FORMATS = "CSV, Parquet, FITS or ECSV"


def table_kind(path: Path) -> str:
    """How :func:`read_table` reads the table at ``path``, by its name: ``fits`` or ``ecsv``
    (maybe compressed, :func:`~tinylens.results.table_formats.table_format`), ``parquet``
    (``.parquet``, ``.pq``; a compressed one is refused: :func:`refuse_compressed_parquet`),
    else ``csv`` (pandas reads a ``.csv.gz`` so)."""
    from tinylens.results.table_formats import table_format

    kind = table_format(path.name)[0]
    return kind if kind in (*ASTROPY_KINDS, "parquet") else "csv"


def refuse_compressed_parquet(path: Path, what: str) -> None:
    """TinyLensError for the table ``what`` at ``path`` whose name says a compressed Parquet file
    (``catalog.parquet.gz``, ``inspect.pq.gz``): Parquet compresses its columns inside the file,
    and such a file, read as a CSV table, gave a confusing error."""
    from tinylens.results.table_formats import table_format

    kind, compression = table_format(path.name)
    if kind != "parquet" or not compression:
        return
    plain = path.name[:-len(compression)]
    raise TinyLensError(f"The {what} {path} is a Parquet table compressed as {compression}, by its name; a Parquet "
                        f"table is read only as written, uncompressed, for it compresses its columns inside the "
                        f"file: decompress it to {plain}, or write it as {plain} (e.g. pandas DataFrame.to_parquet).")


def read_astropy_table(path: Path, what: str) -> pd.DataFrame:
    """The FITS or ECSV table ``what`` at ``path``, as :func:`~tinylens.results.tables.read_table_file`
    reads it (:func:`read_table` then holds its ids as text: a FITS integer ``1`` is ``"1"``, as in
    a CSV written from it). A compression it cannot have (``.zip``), or a file astropy cannot read
    (a corrupt FITS file, an ECSV that is not UTF-8), raises TinyLensError naming the file and its
    format."""
    from tinylens.results.table_formats import COMPRESSIONS, a_format, table_format
    from tinylens.results.tables import read_table_file

    kind, compression = table_format(path.name)
    if compression and compression not in COMPRESSIONS[kind]:
        raise TinyLensError(f"The {what} {path} is {a_format(kind)} table compressed as {compression}, "
                            f"by its name; it is read compressed as {', '.join(COMPRESSIONS[kind])} or not at all: "
                            "decompress it.")
    try:
        with warnings.catch_warnings():  # astropy's warnings of a corrupt file, before its error
            warnings.simplefilter("ignore")
            return read_table_file(path)
    except Exception as exc:  # astropy, gzip, bz2, lzma and the decoder raise many types for a corrupt file
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise TinyLensError(f"The {what} {path} could not be read as {a_format(kind)} table "
                            f"({detail}).") from None


def columns_as_read(frame: pd.DataFrame) -> list[str]:
    """``frame``'s columns as its file names them: the id column under the name :func:`read_table`
    found (``lens_name``, ...), not the ``lens_id`` it was renamed to."""
    read_as = frame.attrs.get(ID_READ_AS, ID_COLUMN)
    return [read_as if c == ID_COLUMN else str(c) for c in frame.columns]


#: What ``tinylens report`` reads, and where a single fit's results are instead.
SINGLE_FIT = ("'tinylens report' summarises a survey: the catalog.parquet or catalog.csv of 'tinylens survey' (and, "
              "with --truth, a table of many lenses such as simulate-population's truth.csv). A single fit's medians "
              "and intervals are in result_summary.csv beside its result.json (which also holds its quality flags); "
              "'tinylens fit CONFIG --truth truth.json' compares one fit with its truth")


#: The tables a folder may hold in place of a table: a survey's catalogue, simulate-population's
#: truth table (a folder's other table is not the one asked for: the catalogue is no truth).
CATALOGUE_FILES = ("catalog.parquet", "catalog.csv")
TRUTH_TABLE_FILES = ("truth.parquet", "truth.csv")


def table_beside(path: Path, in_folder: tuple[str, ...]) -> str:
    """For a message on a ``path`` that is no file: the table of ``in_folder`` that its folder holds
    (a truth table given as ``mocks/truth.json``, as ``tinylens fit --truth`` takes, or a catalogue
    misspelt ``catalogue.parquet``, beside ``mocks/truth.parquet`` or ``run1/catalog.parquet``), as a
    sentence that offers it; "" where the folder holds none."""
    if path.exists():
        return ""
    beside = [path.parent / name for name in in_folder if (path.parent / name).is_file()]
    return f" Did you mean {beside[0]}?" if beside else ""


def not_a_table(path: Path, what: str, in_folder: tuple[str, ...] = ()) -> None:
    """TinyLensError for a folder or a JSON file given as the table ``what``, saying what to give
    instead: a folder holding one of ``in_folder`` (a survey's catalogue, a population's truth
    table), that file; a fit's folder, its ``result.json`` or a lens's ``truth.json`` are a single
    lens's (read as CSV, a JSON file was refused for its id column, its "columns" being ``{``).
    Tables with no ``in_folder`` (a reference table) are no fit's output, nor a truth: their
    advice is only to give a table."""
    advice = SINGLE_FIT if in_folder else (
        f"Give the {what} as a {TABLE_FORMATS} table, one row per lens with its id ({', '.join(ID_ALIASES)})")
    if path.is_dir():
        inside = [path / name for name in in_folder if (path / name).is_file()]
        if inside:
            raise TinyLensError(f"The {what} {path} is a folder, not a table: give the table in it, {inside[0]}.")
        if (path / RESULT).is_file():
            raise TinyLensError(f"The {what} {path} is a single fit's output folder, not a table. {advice}.")
        unfinished = unfinished_folder(path, in_folder, advice)
        if unfinished:
            raise TinyLensError(f"The {what} {path} is {unfinished}")
        raise TinyLensError(f"The {what} {path} is a folder, not a {TABLE_FORMATS} table.")
    if path.is_file() and path.suffix.lower() == ".json":
        raise TinyLensError(f"The {what} {path} is a JSON file, not a {TABLE_FORMATS} table. {advice}.")


def unfinished_folder(path: Path, in_folder: tuple[str, ...], advice: str) -> str | None:
    """What unfinished output ``path`` (a folder holding none of ``in_folder``) is, and what to do,
    for a message: a survey's before its catalogue is written (its ``survey.json``), a population's
    before its truth table is (its ``population.json``), a fit's before its ``result.json`` is (a
    checkpoint or a fit's lock: ``advice`` follows); None for any other folder."""
    from tinylens.filenames import FIT_LOCK, checkpoint_names
    from tinylens.survey.population import POPULATION_RECORD
    from tinylens.survey.provenance import MANIFEST_FILE

    def holds(*names: str) -> bool:
        return any((path / name).exists() for name in names)

    if in_folder == CATALOGUE_FILES and holds(MANIFEST_FILE):
        return (f"a survey's output folder whose catalogue is not written yet (no {' or '.join(in_folder)}): its "
                f"survey is starting there now, or stopped while starting, before its first lens ({MANIFEST_FILE} is "
                "written once its Dask cluster is connected, the catalogue right after)? Run it again to go on.")
    if in_folder == TRUTH_TABLE_FILES and holds(POPULATION_RECORD):
        return (f"a population's folder whose truth table is not written yet (no {' or '.join(in_folder)}): "
                "simulate-population stopped before its end? Run it again to finish it.")
    if holds(FIT_LOCK, *checkpoint_names()):
        return f"an unfinished fit's output folder (a checkpoint or lock, no {RESULT} yet), not a table. {advice}."
    return None


def id_column(columns) -> str | None:
    """The first of :data:`ID_ALIASES` among ``columns`` (None if none is)."""
    return next((alias for alias in ID_ALIASES if alias in columns), None)


def id_text(ids: pd.Series) -> pd.Series:
    """Lens ids as text, empty ones kept empty. CSV ids are read as text (``0001`` stays
    ``0001``), so a CSV and a Parquet copy of one table give the same ids."""
    return ids.astype(object).where(ids.isna(), ids.astype(str))


def catalogue_types(catalog: pd.DataFrame) -> pd.DataFrame:
    """``catalog`` in the types ``tinylens survey`` writes it in, whichever file it was read from.

    A CSV keeps no types: pandas reads an empty text cell as NaN (a text column empty in every
    row, ``flags`` of a survey that raised none, as numbers) and ``trusted``, empty for a failed
    lens, as loose objects, so a ``--where`` on them selected otherwise than on catalog.parquet
    (``trusted`` was no condition, ``flags == ''`` matched nothing). Here the text columns are
    text (``""`` where empty) and ``trusted`` is ``boolean`` (missing where empty), as in the
    Parquet file; a column holding anything else (a catalogue made by hand) is left as read.
    """
    from tinylens.filenames import TEXT_COLUMNS

    out = catalog.copy()
    for column in TEXT_COLUMNS:
        if column in out.columns and all(isinstance(v, str) for v in out[column].dropna()):
            out[column] = out[column].astype(object).fillna("").astype(str)
    if "trusted" in out.columns:
        try:
            out["trusted"] = out["trusted"].astype("boolean")
        except (TypeError, ValueError):  # text ("TRUE") or numbers: is_true reads them (overview.check_trusted refuses "yes")
            pass
    return out


def one_row_per_lens(frame: pd.DataFrame, what: str) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` with one row per lens id, and the ids whose rows were dropped.

    A row that repeats another row exactly (a table concatenated with itself) adds nothing: it
    is dropped (the caller warns), since either copy gives the same statistics. Two *different*
    rows for one id are ambiguous (which fit, which truth?) and raise TinyLensError naming
    ``what`` (the table and its file) and a few of the ids.
    """
    ids = frame[ID_COLUMN].astype(str)
    if not ids.duplicated().any():
        return frame, []
    rows = frame.astype(str)  # text compares every cell (NaN equal to NaN, lists hashable)
    exact = rows.duplicated(keep=False)
    clash = list(dict.fromkeys(ids[ids.duplicated(keep=False) & ~exact]))
    if clash:
        raise TinyLensError(f"The {what} has {len(clash)} lens id{'s' if len(clash) > 1 else ''} on more than one row "
                            f"with different values (e.g. {_some(clash, 5)}); keep one row per lens (were two "
                            "tables concatenated?).")
    repeated = rows.duplicated()
    return frame[~repeated], list(dict.fromkeys(ids[repeated]))


def reference_column(reference: pd.DataFrame, column: str | None, path: str | Path = "reference table") -> str:
    """``column``, checked; by default the first column whose name starts with ``theta_E``."""
    if column is None:
        found = [c for c in reference.columns if str(c).startswith("theta_E")]
        if not found:
            raise TinyLensError(f"The reference table {path} has no column starting with 'theta_E'; "
                                f"name the Einstein-radius column with --reference-column. Columns: {_some(columns_as_read(reference))}.")
        return found[0]
    if column in (ID_COLUMN, reference.attrs.get(ID_READ_AS)):
        raise TinyLensError(f"--reference-column {column}: that is the lens id column of the reference table {path}; "
                            "name the column of its Einstein radii.")
    if column not in reference.columns:
        raise TinyLensError(f"The reference table {path} has no column '{column}'; its columns are: "
                            f"{_some(columns_as_read(reference))}.")
    return column


def quantity_for(name: str) -> Quantity:
    """The :class:`Quantity` of a parameter name: the paper's if listed, else by its last part
    (``theta_E``/``R_sersic`` relative, ``*phi*deg`` angles, the rest absolute), labelled by its
    name and unit (``lens_mass.0.center_x [arcsec]``: :func:`name_unit`)."""
    for q in PAPER_QUANTITIES:
        if q.name == name:
            return q
    last = name.rsplit(".", 1)[-1]
    kind: Kind = "relative" if last in ("theta_E", "R_sersic") else "angle" if "phi" in last and last.endswith("deg") else "absolute"
    unit = name_unit(name) or ("deg" if kind == "angle" else None)
    return Quantity(name, kind, f"{name} [{unit}]" if unit else name)


def name_unit(name: str) -> str | None:
    """The unit of a catalogue's parameter or derived quantity ``name``: a parameter's as the
    fit's tables give it (:func:`~tinylens.results.tables.column_unit`: arcsec, deg), ``mag`` for
    a magnitude (``source.mag``, ``lens_light.0.mag``); None for one without (an axis ratio, a
    shear, a flux in data units). report.png labelled its axes by the bare name: a centre's
    values and deviations had no unit."""
    from tinylens.results.tables import column_unit

    return "mag" if name.rsplit(".", 1)[-1] == "mag" else column_unit(name)


#: The values a quantity can physically take, by its name's last part: an axis ratio lies in
#: ``[0, 1]``, an Einstein radius or a half-light radius is not negative.
PHYSICAL_RANGES: dict[str, tuple[float, float]] = {"q": (0.0, 1.0), "theta_E": (0.0, np.inf),
                                                   "R_sersic": (0.0, np.inf)}


def physical_range(q: Quantity) -> tuple[float, float]:
    """The values ``q`` can take (:data:`PHYSICAL_RANGES`), ``(-inf, inf)`` where it has no bound."""
    return PHYSICAL_RANGES.get(q.name.rsplit(".", 1)[-1], (-np.inf, np.inf))


def available_quantities(catalog: pd.DataFrame, truth: pd.DataFrame) -> list[Quantity]:
    """The paper's quantities (:func:`paper_quantities`) that both ``catalog`` (``<name>_median``)
    and ``truth`` (under :func:`main_mass_truth_columns`) hold."""
    columns = main_mass_truth_columns(catalog, truth)
    return [q for q in paper_quantities(catalog) if not missing_reason(q, catalog, truth, columns)]


def missing_reason(quantity: Quantity, catalog: pd.DataFrame, truth: pd.DataFrame,
                   truth_columns: Mapping[str, str] | None = None) -> str:
    """Why ``quantity`` cannot be compared (``""`` when it can): which table lacks its column
    (the truth's named by ``truth_columns``, by default the same)."""
    true_col = (truth_columns or {}).get(quantity.name, quantity.name)
    lacks = [what for what, present in (("catalogue", f"{quantity.name}_median" in catalog.columns),
                                        ("truth table", true_col in truth.columns)) if not present]
    return f"not in the {' nor the '.join(lacks)}" if lacks else ""
