"""What a survey found, with nothing to compare it to: ``tinylens report CATALOG`` alone.

A survey of real lenses has no truth table. Its first questions are how many lenses were
fitted, how many fits can be trusted and why the others cannot, how precisely the lenses are
measured, what the fits cost, and which lenses someone should look at. From the catalogue that
``tinylens survey`` writes (one row per lens):

* **counts**: lenses; ``status`` ``ok`` and ``failed``; of the ok ones, how many are ``trusted``
  (the quality flags, :mod:`tinylens.results.quality`), how many not, and how many have no
  ``trusted`` value (trust not recorded: neither);
* **flags**: for each quality flag, how many ok lenses carry it, how many of those are
  untrusted, and on how many it is one of the critical flags that made the lens untrusted (the
  catalogue's ``critical_flags``; a flag that is not critical leaves a lens trusted);
* **parameters**: per parameter, the spread of the lenses' posterior medians (median and 16th-84th
  percentiles across lenses) and the median of their posterior 68 % half-widths, also relative
  to each lens's median for sizes such as the Einstein radius;
* **time**: median wall time per lens, of the whole fit and of the search alone, their sums,
  and the median number of likelihood calls;
* **to inspect**: every failed or untrusted lens, its reason or flags, its output folder and
  its model figure (a survey keeps them in ``lenses/<lens_id>/``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tinylens import filenames
from tinylens.errors import TinyLensError, lens_count
from tinylens.fitting.outputs import DEFAULT_FILES
from tinylens.jsonfile import read_result_json
from tinylens.results.report import (CATALOG_HINT, ID_COLUMN, PLAIN_RANGE, Quantity, angle_in_range, angle_percentiles,
                                     numbers, paper_quantities, percent_text, physical_range, plain_number, quantity_unit)

FLAG_COLUMNS = ("flag", "n_lenses", "n_untrusted", "n_critical")
#: How many flags, the most frequent, the overview figure's flags panel shows.
FLAGS_SHOWN = 12
PARAMETER_COLUMNS = ("parameter", "n", "median", "percentile_16", "percentile_84", "half_width_68",
                     "relative_half_width_68", "n_collapsed")
INSPECT_COLUMNS = ("lens_id", "status", "trusted", "flags", "critical_flags", "reason", "folder", "figure")


#: A ``trusted`` cell's text (any case) that says true, and one that says false.
TRUE_TEXTS = ("true", "1", "1.0")
FALSE_TEXTS = ("false", "0", "0.0")


def is_true(value: Any) -> bool:
    """A catalogue's ``trusted`` cell (bool, or text in a CSV) as a bool."""
    return str(value).strip().lower() in TRUE_TEXTS


def trust_of(value: Any) -> bool | None:
    """A ``trusted`` cell as a bool, or None where it is empty (a failed lens, or a fit of a
    tinylens that did not assess quality yet: whether it can be trusted is not recorded)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)) or not str(value).strip():
        return None
    return is_true(value)


def check_trusted(catalog: pd.DataFrame, what: str) -> None:
    """TinyLensError naming the first lens of ``catalog`` (the catalogue ``what``) whose ``trusted``
    cell says neither true nor false, nor is empty (``yes``, ``maybe``): :func:`is_true` read it
    as untrusted."""
    if "trusted" not in catalog.columns:
        return
    trust = catalog["trusted"]
    bad = [i for i, value in enumerate(trust)
           if trust_of(value) is not None and str(value).strip().lower() not in TRUE_TEXTS + FALSE_TEXTS]
    if bad:
        ids = catalog[ID_COLUMN].astype(str).to_numpy() if ID_COLUMN in catalog.columns else range(len(catalog))
        raise TinyLensError(f"The 'trusted' column of {what} holds {trust.iloc[bad[0]]!r} for {ids[bad[0]]}, which is "
                            f"neither True nor False ({len(bad)} such value{'s' if len(bad) > 1 else ''}); give True "
                            "or False, as 'tinylens survey' writes it, or leave the cell empty where whether the fit "
                            "can be trusted is not recorded.")


def split_flags(cell: Any) -> list[str]:
    """The flags of a ``flags`` cell (comma-separated text; empty or missing: none)."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return []
    return [f.strip() for f in str(cell).split(",") if f.strip()]


def _ok(catalog: pd.DataFrame) -> pd.DataFrame:
    return catalog[catalog["status"].astype(str) == "ok"]


def _trusted(frame: pd.DataFrame) -> np.ndarray:
    if "trusted" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame["trusted"].map(is_true).to_numpy(bool)


def trust_states(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of ``frame`` are trusted and which untrusted (:func:`trust_of`); a row that is
    neither has no trust recorded (an empty cell; every row without a ``trusted`` column)."""
    if "trusted" not in frame.columns:
        return np.zeros(len(frame), dtype=bool), np.zeros(len(frame), dtype=bool)
    trust = [trust_of(value) for value in frame["trusted"]]
    return np.array([t is True for t in trust], dtype=bool), np.array([t is False for t in trust], dtype=bool)


def records_trust(catalog: pd.DataFrame) -> bool:
    """Whether ``catalog`` says which fits are trusted: its ``trusted`` column (a catalogue of an
    older tinylens, or one made by hand, may lack it; then no fit is called trusted or untrusted)."""
    return "trusted" in catalog.columns


def records_flags(catalog: pd.DataFrame) -> bool:
    """Whether ``catalog`` records the quality flags of its fits (its ``flags`` column)."""
    return "flags" in catalog.columns


def records_reasons(catalog: pd.DataFrame) -> bool:
    """Whether ``catalog`` records why its failed fits failed (its ``reason`` column)."""
    return "reason" in catalog.columns


def counts(catalog: pd.DataFrame) -> dict[str, int | None]:
    """Lenses, ok, failed (and any other status), and trusted / untrusted / trust not recorded
    (an empty ``trusted`` cell) among the ok ones (all three ``None`` when the catalogue has no
    ``trusted`` column: :func:`records_trust`)."""
    status = catalog["status"].astype(str)
    ok = _ok(catalog)
    trusted, untrusted = trust_states(ok)
    known = records_trust(catalog)
    return {"n_lenses": int(len(catalog)), "n_ok": int(len(ok)), "n_failed": int((status == "failed").sum()),
            "n_other_status": int((~status.isin(["ok", "failed"])).sum()),
            "n_trusted": int(trusted.sum()) if known else None, "n_untrusted": int(untrusted.sum()) if known else None,
            "n_trust_not_recorded": int((~trusted & ~untrusted).sum()) if known else None}


def other_statuses(catalog: pd.DataFrame) -> str:
    """The ``status`` values other than ok and failed, with their counts, most frequent first:
    ``'OK' x6, 'FAILED' x2`` (``'queued'`` for one lens); ``""`` when there are none."""
    status = catalog["status"].map(lambda v: "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v))
    found = status[~status.isin(["ok", "failed"])].value_counts()
    return ", ".join(f"{value!r}" + (f" x{n}" if n > 1 else "") for value, n in found.items())


def inspect_kinds(inspect: pd.DataFrame) -> list[str]:
    """What the lenses of :func:`to_inspect`'s table are: ``untrusted``, ``trust not recorded``,
    ``failed``, ``another status``, those that some lens is, in that order."""
    status = inspect["status"].astype(str)
    ok = status == "ok"
    kinds = {"untrusted": ok & inspect["trusted"].map(lambda v: v is False), "trust not recorded": ok & inspect["trusted"].isna(),
             "failed": status == "failed", "another status": ~ok & (status != "failed")}
    return [kind for kind, rows in kinds.items() if rows.any()]


def trust_text(n: dict[str, int | None]) -> str:
    """``4 trusted, 2 not`` of the ok lenses of :func:`counts` (``, 3 not recorded`` added for
    those with an empty ``trusted`` cell), or ``trust not recorded``."""
    if n["n_trusted"] is None:
        return "trust not recorded"
    unknown = n.get("n_trust_not_recorded")
    return f"{n['n_trusted']} trusted, {n['n_untrusted']} not" + (f", {unknown} not recorded" if unknown else "")


def trust_suffix(n: dict[str, int | None]) -> str:
    """`` (4 trusted, 2 not)`` after ``6 ok`` (:func:`trust_text`), with its leading space; empty
    where no lens is ok (``0 ok (0 trusted, 0 not)`` said nothing more than ``0 ok``)."""
    return f" ({trust_text(n)})" if n["n_ok"] else ""


def flag_table(catalog: pd.DataFrame) -> pd.DataFrame:
    """For each flag of the ok lenses: on how many it is raised, how many of those are
    untrusted (not those whose trust is not recorded; ``None`` for a catalogue without a
    ``trusted`` column, :func:`records_trust`), and
    on how many it is critical (in ``critical_flags``: it made the lens untrusted; ``None`` for a
    catalogue without that column); the most frequent first."""
    ok = _ok(catalog)
    known = "critical_flags" in ok.columns
    trust_known = records_trust(ok)
    found: dict[str, list[int]] = {}
    if "flags" in ok.columns:
        why = ok["critical_flags"] if known else [None] * len(ok)
        for cell, untrusted, why_cell in zip(ok["flags"], trust_states(ok)[1], why):
            critical = set(split_flags(why_cell))
            for flag in dict.fromkeys(split_flags(cell)):
                entry = found.setdefault(flag, [0, 0, 0])
                entry[0] += 1
                entry[1] += int(untrusted)
                entry[2] += int(flag in critical)
    rows = sorted(((flag, n, bad if trust_known else None, crit if known else None)
                   for flag, (n, bad, crit) in found.items()), key=lambda r: (-r[1], r[0]))
    return pd.DataFrame(rows, columns=list(FLAG_COLUMNS), dtype=object).astype(
        {"n_lenses": int, **({"n_untrusted": int} if trust_known else {})})


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """The numbers of column ``name`` (NaN when absent); a cell that is not one is named by its lens id."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    values = frame[name]
    if ID_COLUMN in frame.columns:
        values = values.set_axis(frame[ID_COLUMN].astype(str))
    return numbers(values, f"catalogue column {name}", CATALOG_HINT)


def medians_and_widths(ok: pd.DataFrame, q: Quantity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each lens's posterior median of ``q``, its 68 % half-width, and that width over the median's
    size (NaN unless ``q`` is a relative quantity)."""
    median = _column(ok, f"{q.name}_median")
    half = (_column(ok, f"{q.name}_hi68") - _column(ok, f"{q.name}_lo68")) / 2
    relative = np.full(len(ok), np.nan)
    if q.kind == "relative":
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = half / np.abs(median)
    return median, half, relative


def drawn_medians_and_widths(ok: pd.DataFrame, q: Quantity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`medians_and_widths` as the figures draw them: a position angle's median in (-90, 90]
    (:func:`~tinylens.results.report.angle_in_range`), where a lens's median unwrapped about its own
    posterior may lie just past the cut (91 deg: -89)."""
    median, half, relative = medians_and_widths(ok, q)
    return (angle_in_range(median) if q.kind == "angle" else median), half, relative


def collapsed(half: np.ndarray) -> np.ndarray:
    """Which lenses' 68 % interval has no width: their posterior sits on one sample (an effective
    sample size near 1, e.g. a fit stopped by ``n_like_max`` long before it converged), so its
    width says nothing of how precise the lens is."""
    return np.isfinite(half) & (half == 0)


def _loose_numbers(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as numbers, a cell that is none (or no column) NaN: for a check that must
    not refuse a catalogue over a column it only glances at."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(float)


def held_fixed(ok: pd.DataFrame, q: Quantity) -> np.ndarray:
    """Which lenses' posterior holds ``q`` at one value while it spreads out: ``q``'s 99.7 % interval
    has no width, some other quantity's has. The model fixes ``q`` (a round source's axis ratio,
    from its e1 and e2 held at 0), so its width of 0 is exact, not a posterior on one sample
    (:func:`collapsed`), which gives every quantity's 99.7 % interval no width (the weight of one
    sample above 99.7 %; below, the 99.7 % interval spans others). False without 99.7 % intervals."""
    lo, hi = _loose_numbers(ok, f"{q.name}_lo997"), _loose_numbers(ok, f"{q.name}_hi997")
    spread = np.zeros(len(ok), dtype=bool)
    for column in ok.columns:
        name = str(column)
        if name.endswith("_lo997"):
            width = _loose_numbers(ok, name.removesuffix("_lo997") + "_hi997") - _loose_numbers(ok, name)
            spread |= np.isfinite(width) & (width > 0)
    return np.isfinite(lo) & (lo == hi) & spread


def _median_of_finite(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else np.nan


def parameter_row(ok: pd.DataFrame, q: Quantity) -> dict[str, Any]:
    """The spread of the lenses' medians of ``q`` and their median 68 % half-width (relative to
    each lens's median for a relative quantity; NaN otherwise), of the lenses whose interval has
    a width: ``n_collapsed`` counts the others (:func:`collapsed`), and with no other the
    half-width is NaN, not a precise 0. A lens whose model holds ``q`` fixed (:func:`held_fixed`)
    gives its exact width of 0 and is not counted as collapsed."""
    median, half, relative = medians_and_widths(ok, q)
    good = np.isfinite(median)
    row: dict[str, Any] = {"parameter": q.name, "n": int(good.sum())}
    if not good.any():
        return {**row, **{k: np.nan for k in PARAMETER_COLUMNS[2:-1]}, "n_collapsed": 0}
    # position angles about their circular mean: a plain median of 89 and -89 deg was 0, across both
    spread = angle_percentiles if q.kind == "angle" else np.percentile
    p50, p16, p84 = spread(median[good], [50, 16, 84])
    point = collapsed(half) & good & ~held_fixed(ok, q)
    wide = good & ~point
    return {**row, "median": float(p50), "percentile_16": float(p16), "percentile_84": float(p84),
            "half_width_68": _median_of_finite(half[wide]), "relative_half_width_68": _median_of_finite(relative[wide]),
            "n_collapsed": int(point.sum())}


def parameter_table(catalog: pd.DataFrame, quantities: Sequence[Quantity]) -> pd.DataFrame:
    """:func:`parameter_row` of each quantity, over the ok lenses."""
    ok = _ok(catalog)
    return pd.DataFrame([parameter_row(ok, q) for q in quantities], columns=list(PARAMETER_COLUMNS))


def default_quantities(catalog: pd.DataFrame) -> list[Quantity]:
    """The paper's six parameters that the catalogue holds (``<name>_median``), the lens mass's
    of its main deflector (:func:`~tinylens.results.report.paper_quantities`)."""
    return [q for q in paper_quantities(catalog) if f"{q.name}_median" in catalog.columns]


#: The catalogue's time columns, by what they time: the whole fit (loading, compilation, search,
#: outputs; older catalogues lack it) and the search alone (stages and sampling).
TIME_COLUMNS = {"whole_fit": "total_time_s", "search": "wall_time_s"}


def _time_stats(seconds: np.ndarray) -> dict[str, float]:
    seconds = seconds[np.isfinite(seconds)]
    if not len(seconds):
        return {"n": 0, "median_s": np.nan, "percentile_16_s": np.nan, "percentile_84_s": np.nan, "total_h": np.nan}
    p50, p16, p84 = np.percentile(seconds, [50, 16, 84])
    return {"n": int(len(seconds)), "median_s": float(p50), "percentile_16_s": float(p16),
            "percentile_84_s": float(p84), "total_h": float(seconds.sum() / 3600)}


def time_summary(catalog: pd.DataFrame) -> dict[str, Any]:
    """For the whole fit and for the search alone (:data:`TIME_COLUMNS`): median and 16th-84th
    percentiles of the ok lenses' wall time (s) and its sum (h); and the median number of
    likelihood calls."""
    ok = _ok(catalog)
    out: dict[str, Any] = {key: _time_stats(_column(ok, column)) for key, column in TIME_COLUMNS.items()}
    out["median_likelihood_evals"] = _median_of_finite(_column(ok, "n_likelihood_evals"))
    return out


def timed_text(n_timed: int, n_ok: int) -> str:
    """`` (3 of the 6 ok lenses timed)`` where a time column leaves some ok lenses out (rows of an
    older tinylens without ``total_time_s``), else ``""``."""
    return f" ({n_timed} of the {ok_lenses(n_ok)} timed)" if n_timed < n_ok else ""


def ok_lenses(n: int) -> str:
    """``1 ok lens``, ``6 ok lenses``."""
    return lens_count(n, "ok")


def failure_reasons(catalog: pd.DataFrame, limit: int = 5) -> list[dict[str, Any]]:
    """The most frequent reasons of the failed lenses, with their counts."""
    failed = catalog[catalog["status"].astype(str) == "failed"]
    if "reason" not in failed.columns or failed.empty:
        return []
    found = failed["reason"].fillna("").astype(str).replace("", "(no reason recorded)").value_counts()
    return [{"reason": reason, "n": int(n)} for reason, n in found.head(limit).items()]


def unlisted_failures(n_failed: int, reasons: list[dict[str, Any]]) -> int:
    """How many of the ``n_failed`` failed lenses the most frequent ``reasons`` (:func:`failure_reasons`,
    cut to its ``limit``) leave out: a reason naming its lens's own files is one lens's alone."""
    return max(0, int(n_failed) - sum(int(entry["n"]) for entry in reasons))


def _figure_path(folder: Path) -> str:
    """The model figure in a lens's output folder (as its ``result.json`` names it), or ``""``."""
    name = DEFAULT_FILES["results"]
    try:
        name = read_result_json(folder / filenames.RESULT)["files"]["results"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    path = folder / str(name)
    return str(path) if path.is_file() else ""


def to_inspect(catalog: pd.DataFrame, survey_dir: str | Path) -> pd.DataFrame:
    """The failed, untrusted (and other-status) lenses, with their flags or reason, output
    folder and model figure (``""`` where the survey folder does not hold it)."""
    from tinylens.filenames import LENSES_DIR

    status = catalog["status"].astype(str)
    trusted = _trusted(catalog) if records_trust(catalog) else np.ones(len(catalog), dtype=bool)
    pick = catalog[~((status == "ok").to_numpy() & trusted)]
    rows = []
    for _, row in pick.iterrows():
        folder = Path(survey_dir) / LENSES_DIR / str(row["lens_id"])
        rows.append({"lens_id": row["lens_id"], "status": row["status"],
                     "trusted": trust_of(row.get("trusted")) if row["status"] == "ok" else None,
                     "flags": ",".join(split_flags(row.get("flags"))),
                     "critical_flags": ",".join(split_flags(row.get("critical_flags"))),
                     "reason": "" if pd.isna(row.get("reason")) else str(row.get("reason") or ""),
                     "folder": str(folder) if folder.is_dir() else "", "figure": _figure_path(folder)})
    return pd.DataFrame(rows, columns=list(INSPECT_COLUMNS))


def overview(catalog: pd.DataFrame, quantities: Sequence[Quantity], survey_dir: str | Path) -> dict[str, Any]:
    """Everything above, for one catalogue: ``counts``, ``flags``, ``parameters``, ``time``,
    ``failure_reasons`` and ``inspect``."""
    return {"counts": counts(catalog), "flags": flag_table(catalog), "parameters": parameter_table(catalog, quantities),
            "time": time_summary(catalog), "failure_reasons": failure_reasons(catalog),
            "inspect": to_inspect(catalog, survey_dir)}


def figure_quantity(quantities: Sequence[Quantity], parameters: pd.DataFrame) -> Quantity:
    """The quantity the overview figure shows: the first that some ok lens has a finite median
    of (its ``n`` in ``parameters``, :func:`parameter_table`), else the first."""
    n = dict(zip(parameters["parameter"], parameters["n"]))
    return next((q for q in quantities if n.get(q.name, 0) > 0), quantities[0])


#: The colour and label of the lenses whose trust is not recorded, in the figures.
NOT_RECORDED = ("trust not recorded", "0.6")


def _median_histogram(ax: Any, median: np.ndarray, trust: tuple[np.ndarray, np.ndarray] | None, q: Quantity,
                      legend: bool = True) -> list[tuple[np.ndarray, str, str]]:
    """The lenses' medians of ``q`` on ``ax``, trusted and untrusted (:func:`trust_states`) stacked,
    with those whose trust is not recorded where there are any (one group of ok lenses where
    ``trust`` is None: no ``trusted`` column); return the groups (mask, label, colour) of lenses
    with a finite median."""
    from matplotlib.ticker import MaxNLocator

    good = np.isfinite(median)
    everyone = [(np.ones(len(median), dtype=bool), "ok", "C0")]  # each group's lenses, with a median or not
    if trust is not None:
        trusted, untrusted = trust
        everyone = [(trusted, "trusted", "C0"), (untrusted, "untrusted", "C3")]
        if (~trusted & ~untrusted).any():
            everyone.append((~trusted & ~untrusted, *NOT_RECORDED))
    groups = [(good & m, label, colour) for m, label, colour in everyone]
    if good.any():
        bins = _bins_within(median[good], physical_range(q))
        ax.hist([median[m] for m, _, _ in groups], bins=bins, stacked=True, color=[g[2] for g in groups],
                label=[group_label(label, int((good & m).sum()), int(m.sum())) for m, label, _ in everyone])
        if legend:
            _legend_above(ax)
    ax.set_xlabel(f"{q.label} (posterior median)")
    ax.set_ylabel("lenses")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if good.any():
        keep_within(ax, q, median[good])
    return groups


def _bins_within(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """Histogram bin edges of ``values`` that stay within ``bounds`` (a quantity's physical range):
    numpy pads values that are all one by 0.5 either side, an axis ratio of 0.7 to 1.2."""
    edges = np.histogram_bin_edges(values, bins=_n_bins(len(values)))
    lo, hi = bounds
    if (edges[0] >= lo and edges[-1] <= hi) or values.min() < lo or values.max() > hi:
        return edges  # within them, or values past them (not hidden)
    centre = 0.5 * (values.min() + values.max())
    half = min(centre - lo, hi - centre, 0.5 * (edges[-1] - edges[0]))
    if half > 0:  # as wide as it can be about the values' centre
        return np.linspace(centre - half, centre + half, len(edges))
    return np.unique(np.clip(edges, lo, hi))  # a value on the bound: the bins reach it from one side


def keep_within(ax: Any, q: Quantity, values: np.ndarray) -> None:
    """Clip ``ax``'s x axis, of ``q``'s medians ``values``, to ``q``'s physical range where its
    margins ran past it (not where values lie past it, which the axis must show)."""
    lo, hi = physical_range(q)
    left, right = ax.get_xlim()
    if (left < lo or right > hi) and lo <= values.min() and values.max() <= hi:
        ax.set_xlim(max(left, lo), min(right, hi))


def group_label(label: str, n_median: int, n_lenses: int) -> str:
    """A histogram's legend entry: ``trusted (4)``, or ``trusted (3 of 4 with a median)`` where
    some of the group's lenses have no median to draw (it said ``trusted (3)`` of 4 trusted lenses)."""
    return f"{label} ({n_median})" if n_median == n_lenses else f"{label} ({n_median} of {n_lenses} with a median)"


def parameters_figure(catalog: pd.DataFrame, quantities: Sequence[Quantity], columns: int = 3):
    """One panel per quantity: the ok lenses' posterior medians, trusted, untrusted (and trust not
    recorded) stacked, titled with the median of the lenses' 68 % half-widths (as in overview_parameters.csv)."""
    from tinylens.results.figure import NotebookFigure

    ok = _ok(catalog)
    trust = trust_states(ok) if records_trust(ok) else None
    columns = max(1, min(columns, len(quantities)))
    rows = -(-len(quantities) // columns)
    fig = NotebookFigure(figsize=(4.0 * columns, 3.3 * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, q in zip(axes.flat, quantities):
        _median_histogram(ax, drawn_medians_and_widths(ok, q)[0], trust, q, legend=False)
        row = parameter_row(ok, q)
        width = row["relative_half_width_68" if q.kind == "relative" else "half_width_68"]
        title = ""
        if np.isfinite(width):
            title = (f"median 68 % half-width {percent_text(width)} %" if q.kind == "relative"
                     else f"median 68 % half-width {plain_number(width)} {quantity_unit(q)}".rstrip())
        if row["n_collapsed"]:
            title = "\n".join(filter(None, [title, collapsed_text(row["n_collapsed"])]))
        if 0 < row["n"] < len(ok):  # the figure's title counts every ok lens
            title = "\n".join(filter(None, [title, f"{row['n']} of the {ok_lenses(len(ok))} {'has' if row['n'] == 1 else 'have'} a median"]))
        ax.set_title(title, fontsize=10)
        if not row["n"]:
            _say_empty(ax, no_median_text(ok, q))
    for ax in list(axes.flat)[len(quantities):]:
        ax.set_visible(False)
    n = counts(catalog)
    unknown = f" and {NOT_RECORDED[0]} ({n['n_trust_not_recorded']}, grey)" if n["n_trust_not_recorded"] else ""
    fitted_suptitle(fig, f"Posterior medians of the {ok_lenses(n['n_ok'])}: " + (
        "trust not recorded in the catalogue" if trust is None
        else f"trusted ({n['n_trusted']}, blue){',' if unknown else ' and'} untrusted ({n['n_untrusted']}, red)"
        + unknown))
    fig.tight_layout()
    return fig


def no_median_text(ok: pd.DataFrame, q: Quantity) -> str:
    """Why a panel of the ok lenses' medians of ``q`` is empty: no such column, or no number in it."""
    column = f"{q.name}_median"
    return (f"no ok lens has a {column}" if column in ok.columns else f"no column {column}\nin the catalogue")


def overview_figure(catalog: pd.DataFrame, q: Quantity, flags: pd.DataFrame):
    """Four panels: the lenses' medians of ``q`` (trusted and not), each lens's 68 % half-width
    against its median, the flags' counts, and the wall time per lens."""
    from matplotlib.ticker import MaxNLocator

    from tinylens.results.figure import NotebookFigure

    ok = _ok(catalog)
    trust = trust_states(ok) if records_trust(ok) else None
    median, half, relative = drawn_medians_and_widths(ok, q)
    if q.kind == "relative":  # in %, as the parameters figure and the table give it
        half = 100 * relative
    fig = NotebookFigure(figsize=(10, 7.5))
    axes = fig.subplots(2, 2)
    (a, b), (c, d) = axes
    groups = _median_histogram(a, median, trust, q)
    if not np.isfinite(median).any():
        _say_empty(a, no_median_text(ok, q))
    for m, label, colour in groups:
        keep = m & np.isfinite(half) & (half > 0)
        if not keep.any():  # a group with no width drawn has no marker here, nor a legend entry
            continue
        b.scatter(median[keep], half[keep], s=12, color=colour, label=label, marker="x" if label == "untrusted" else "o")
    n_point = int((collapsed(half) & np.isfinite(median) & ~held_fixed(ok, q)).sum())
    shown = half[np.isfinite(median) & np.isfinite(half) & (half > 0)]
    if len(shown):
        if shown.max() <= SAME_WIDTHS * shown.min():  # ticks within it would all read '1'
            # set first: the log axis's own autoscale of one width (10.000000000000002) warned of identical limits
            b.set_ylim(shown.min() / 2, shown.max() * 2)
        b.set_yscale("log")
        b.yaxis.set_major_formatter(plain_log_formatter())  # 0.5 and 2, not 5 x 10^-1 and 2 x 10^0
        b.yaxis.set_minor_formatter(plain_log_formatter(minor=True))
    else:
        _say_empty(b, "no lens's 68 % interval has a width" if np.any(collapsed(half) & np.isfinite(median))
                   else "no 68 % interval in the catalogue\n"
                   f"(columns {q.name}_lo68, _hi68)")
    not_shown = collapsed_text(n_point) + ", not shown" if n_point else None  # no place on a log axis, no precision
    if trust is not None and b.collections:  # which marker is which: red crosses untrusted, blue dots trusted
        _legend_above(b, title=not_shown)  # the title above the legend, not over it
    elif not_shown:
        b.set_title(not_shown, fontsize=10)
    b.set_xlabel(f"{q.label} (posterior median)")
    if np.isfinite(median).any():
        keep_within(b, q, median[np.isfinite(median)])
    b.set_ylabel(width_label(q))
    if len(flags):
        shown = flags.head(FLAGS_SHOWN).iloc[::-1]
        y = np.arange(len(shown))
        c.barh(y, shown["n_lenses"], color="0.7", label="all ok lenses")
        known = shown["n_critical"].notna().all()
        if known or shown["n_untrusted"].notna().all():  # neither recorded: no share to draw
            c.barh(y, shown["n_critical" if known else "n_untrusted"], color="C3",
                   label="critical on (made untrusted)" if known else "of them untrusted")
        c.set_yticks(y, shown["flag"])
        c.xaxis.set_major_locator(MaxNLocator(integer=True))
        _legend_above(c)
    else:
        _say_empty(c, "no quality flag raised" if records_flags(catalog) else "quality flags not recorded")
    c.set_xlabel(flags_label(len(flags)))
    timed = next((k for k in TIME_COLUMNS if np.isfinite(_column(ok, TIME_COLUMNS[k])).any()), "search")
    wall = _column(ok, TIME_COLUMNS[timed])
    wall = wall[np.isfinite(wall)]
    if len(wall):
        wide = wall.min() > 0 and wall.max() > WIDE_TIMES * wall.min()
        decades = int(np.ceil(np.log10(wall.max() / wall.min()))) if wide else 1  # as many bins for each decade
        d.hist(wall, bins=np.geomspace(wall.min(), wall.max(), min(MAX_TIME_BINS, _n_bins(len(wall)) * decades) + 1)
               if wide else _n_bins(len(wall)), color="0.5")
        if wide:  # one fit of hours put every other lens of minutes into the first bar, the median on the axis
            d.set_xscale("log")
            d.xaxis.set_major_formatter(plain_log_formatter())
            d.xaxis.set_minor_formatter(plain_log_formatter(minor=True))
        d.axvline(np.median(wall), color="k", ls="--", label=f"median {np.median(wall):.0f} s")
        _legend_above(d)
    d.set_xlabel("wall time per lens [s]" + (" (the whole fit" if timed == "whole_fit" else " (the search")
                 + (timed_text(len(wall), len(ok)).replace(" (", "; ").rstrip(")") + ")" if len(wall) else ")"))
    d.set_ylabel("lenses")
    d.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not len(wall):
        _say_empty(d, "no wall time in the catalogue\n(columns total_time_s, wall_time_s)")
    n = counts(catalog)
    fitted_suptitle(fig, f"{lens_count(n['n_lenses'])}: {n['n_ok']} ok{trust_suffix(n)}, {n['n_failed']} failed")
    fig.tight_layout()
    return fig


def flags_label(n_flags: int, shown: int = FLAGS_SHOWN) -> str:
    """The flags panel's axis label, which says how many of ``n_flags`` flags it leaves out
    where it shows only the ``shown`` most frequent (it left them out silently)."""
    label = "lenses with the flag"
    if n_flags <= shown:
        return label
    more = n_flags - shown
    return f"{label}\n(the {shown} most frequent; {more} more flag{'s' if more > 1 else ''} in the flags table)"


def fitted_suptitle(fig: Any, text: str) -> None:
    """``text`` as ``fig``'s title, broken into lines that fit the figure's width: in one line it
    ran past both edges of a narrow figure (the parameters figure of one or two parameters)."""
    from textwrap import fill

    from matplotlib.textpath import TextToPath

    title = fig.suptitle(text)
    width = TextToPath().get_text_width_height_descent(text, title.get_fontproperties(), ismath=False)[0]
    room = 0.9 * 72 * fig.get_figwidth()  # both in points
    if width > room:
        title.set_text(fill(text, max(20, int(len(text) * room / width))))


#: Widths within this factor of each other are one value on the width panel's log axis, which
#: spans a factor of 4 around them (its own span was too small for two tick labels to differ).
SAME_WIDTHS = 1.01


#: How many times the shortest wall time the longest may be for the time panel to keep a linear
#: axis; beyond, its bins and axis are logarithmic (2 minutes to 2 days: 18 of 19 lenses in one bar).
WIDE_TIMES = 30.0
#: Most bins of a logarithmic time panel (:data:`WIDE_TIMES`): each decade gets :func:`_n_bins`'s.
MAX_TIME_BINS = 60


def width_label(q: Quantity) -> str:
    """The axis label of the lenses' 68 % half-widths of ``q``, with its unit: % of the median
    for a relative quantity, else the quantity's own (:func:`quantity_unit`)."""
    unit = "%" if q.kind == "relative" else quantity_unit(q)
    return "68 % half-width" + (" / median" if q.kind == "relative" else "") + (f" [{unit}]" if unit else "")


def plain_log_formatter(minor: bool = False):
    """Tick labels of a log axis in plain digits (``0.5``, ``2``, ``10``), the minor ticks labelled
    where matplotlib's own labels them (an axis spanning about a decade or less); every label of an
    axis reaching past :data:`PLAIN_RANGE` with an exponent (``1e+05``, ``1e+07``), one style on one
    axis: plain digits up to the range's end and exponents past it set ``100000`` beside ``1e+07``."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            if min(vmin, vmax) > 0 and (min(vmin, vmax) < PLAIN_RANGE[0] or max(vmin, vmax) >= PLAIN_RANGE[1]):
                return np.format_float_scientific(x, precision=3, trim="-", exp_digits=2)
            return plain_number(x, 4)  # .4g wrote a time of 100000 s as 1e+05

    return Plain(labelOnlyBase=False, minor_thresholds=(1, 0.4)) if minor else Plain(labelOnlyBase=False)


def _legend_above(ax: Any, title: str | None = None) -> None:
    """``ax``'s legend in one row above it: inside, a histogram of a few lenses has bars up to its
    top edge everywhere, and the legend covered some of them. A ``title`` stands above it (the
    panel's own title would lie over it)."""
    ax.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, title=title, title_fontsize=10)


def _say_empty(ax: Any, text: str) -> None:
    """Say on ``ax`` why it shows nothing (it was a blank frame with ticks from -0.04 to 0.04)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", color="0.4", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def collapsed_text(n: int) -> str:
    """``zero-width 68 % interval on 2 lenses`` (:func:`collapsed`)."""
    return f"zero-width 68 % interval on {lens_count(n)}"


def _n_bins(n: int) -> int:
    """Histogram bins for ``n`` values: about sqrt(n), between 5 and 30."""
    return min(30, max(5, int(np.sqrt(n))))
