"""``tinylens report CATALOG [--truth TRUTH | --reference TABLE]``: what a survey found.

With ``--truth`` (e.g. ``truth.csv`` of ``tinylens simulate-population``) the paper's six
parameters are compared (Figure 4); with ``--reference`` (a table of published Einstein radii,
e.g. SLACS ``catalog.csv``) the Einstein radius is (Figure 7). Writes ``report_stats.csv``,
``report_stats.json`` and ``report.png`` into ``--out`` and prints the statistics. See
:mod:`tinylens.results.report` for the definitions.

With neither (a survey of real lenses), an overview (:mod:`tinylens.results.overview`): how many
fits are trusted and why not, how precise they are, what they cost, and which lenses to look at.
Writes ``overview.json``, ``overview_parameters.csv``, ``overview_flags.csv``, ``inspect.csv``,
``overview.png`` and ``overview_parameters.png``.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tinylens.cli.common import TinyLensCommand, console, path_value, print_warning, reported_warnings
from tinylens.errors import OutputError, TinyLensError, counted, did_you_mean, lens_count, listed, plural

STATS_CSV = "report_stats.csv"
STATS_JSON = "report_stats.json"
FIGURE = "report.png"
OVERVIEW_FILES = {"json": "overview.json", "parameters": "overview_parameters.csv", "flags": "overview_flags.csv",
                  "inspect": "inspect.csv", "png": "overview.png", "parameters_png": "overview_parameters.png"}
#: Every file a report (a comparison or an overview) writes into its --out.
REPORT_FILES = (STATS_CSV, STATS_JSON, FIGURE, *OVERVIEW_FILES.values())
#: Held in --out while a report writes there (tinylens.locks).
REPORT_LOCK = ".report.lock"


def stats_rich_table(stats, title: str) -> Table:
    """The statistics as a rich table (relative deviations in per cent)."""
    from tinylens.results.report import percent_text, plain_number

    table = Table(title=title, title_justify="left")
    table.add_column("parameter", no_wrap=True)
    for name in ("deviation", "N", "median dev.", "NMAD", "outliers > 4 NMAD", "expected from widths", "within 10%",
                 "beyond 20%", "truth outside 99.7%", "truth within 68%"):
        table.add_column(name, justify="left" if name == "deviation" else "right")
    for row in stats.itertuples(index=False):
        relative = row.deviation == "relative"
        # per cent as the figures write it (1150%, not 1.15e+03%)
        fmt = (lambda v: f"{percent_text(v, 3)}%") if relative else plain_number
        scatter = "-" if math.isnan(row.nmad) else fmt(row.nmad)  # one lens has none
        bands = [str(int(row.n_within_10pct)), str(int(row.n_beyond_20pct))] if relative and row.n else ["-", "-"]
        # one lens's 0 % or 100 % is no rate (0 % is what a calibrated posterior gives one lens in three): its count
        covered = "-" if math.isnan(row.coverage_68) else (
            f"{round(row.coverage_68)}/1" if row.n == 1 else f"{100 * row.coverage_68:.0f}%")
        table.add_row(row.parameter, row.deviation, str(row.n), fmt(row.median_deviation), scatter,
                      "-" if math.isnan(row.n_outliers) else f"{int(row.n_outliers)} ({100 * row.outlier_fraction:.1f}%)",
                      "-" if math.isnan(row.n_outliers_expected) else f"{row.n_outliers_expected:.1f}", *bands,
                      "-" if math.isnan(row.n_truth_outside_997) else str(int(row.n_truth_outside_997)),
                      covered)
    return table


def build_report(
    catalog_path: Path,
    truth_path: Path | None,
    reference_path: Path | None,
    reference_col: str | None,
    parameters: list[str] | None,
    trusted_only: bool = False,
    where: str | None = None,
) -> dict[str, Any]:
    """Read the tables, join them and compute the statistics (no files written); with
    ``trusted_only``, of the lenses whose quality flags say they can be trusted; with ``where``
    (a pandas query over the columns of the catalogue and of the truth or reference table), of
    the lenses it selects.

    Nothing is written, so a mistake found here leaves ``--out`` as it was. The result's
    ``warnings`` are for the user: rows repeated exactly, parameters that no lens could be
    compared on (left out of the statistics), lenses left out of a parameter's counts.
    """
    from tinylens.results import report as rp

    if truth_path is not None and reference_path is not None:
        raise TinyLensError("Give one of --truth (a truth table such as simulate-population's truth.csv) "
                            "or --reference (a table of published Einstein radii, e.g. SLACS catalog.csv), not both.")
    parameters = list(dict.fromkeys(parameters)) if parameters else None  # -p given twice is one parameter
    warnings: list[str] = []
    catalog = read_catalog(catalog_path, warnings)
    n_all, status = len(catalog), catalog["status"].astype(str)
    if not (status == "ok").any():
        raise TinyLensError(f"No lens of {catalog_path} has status 'ok' ({_status_counts(status)}): "
                            "there is nothing to compare yet.")
    if trusted_only:
        catalog = only_trusted(catalog, catalog_path)
    skipped: dict[str, str] = {}  # the paper's quantities left out of a default comparison, and why
    if truth_path is not None:
        other = _one_row_per_lens(rp.read_table(truth_path, "truth table", rp.TRUTH_TABLE_FILES), f"truth table {truth_path}", warnings)
        columns: dict[str, str] = {}
        if parameters:
            quantities = [rp.quantity_for(p) for p in parameters]
        else:  # each table's main deflector, wherever its model lists it
            paper, columns = rp.paper_quantities(catalog), rp.main_mass_truth_columns(catalog, other)
            quantities = rp.available_quantities(catalog, other)
            skipped = {q.name: rp.missing_reason(q, catalog, other, columns) for q in paper if q not in quantities}
            if not quantities:
                raise TinyLensError(f"None of the paper's parameters ({', '.join(q.name for q in paper)}) "
                                    f"is in both {catalog_path} and {truth_path}; choose some with --parameter.")
            columns = {q.name: columns[q.name] for q in quantities if q.name in columns}
        source = str(truth_path)
    else:
        other = _one_row_per_lens(rp.read_table(reference_path, "reference table"),
                                  f"reference table {reference_path}", warnings)
        column = rp.reference_column(other, reference_col, reference_path)
        if parameters and len(parameters) > 1:
            raise TinyLensError("With --reference, give at most one --parameter (the catalogue column compared "
                                "with the reference column).")
        quantity = rp.quantity_for(parameters[0]) if parameters else rp.paper_quantities(catalog)[0]  # the main deflector's
        quantities, columns, source = [quantity], {quantity.name: column}, f"{reference_path} ({column})"
    if where:
        catalog = select(catalog, other, where)
    warnings += _mask_reading_warnings(catalog, catalog_path)
    joined = rp.comparison_frame(catalog, other, quantities, columns,
                                 truth_name=f"truth table {truth_path}" if truth_path is not None else f"reference table {reference_path}",
                                 catalog_name=f"catalogue {catalog_path}")
    if joined.empty:
        raise TinyLensError(f"No lens of {catalog_path} with status 'ok' is in {source}: the lens ids do not match "
                            f"(e.g. {_first(catalog)} vs {_first(other)}).")
    unmatched = _unmatched(catalog, joined)
    if unmatched:
        warnings.append(f"{lens_count(len(unmatched))} with status 'ok' in {catalog_path} "
                        f"{'is' if len(unmatched) == 1 else 'are'} not in {source} and left out of the comparison "
                        f"({listed(unmatched)}).")
    stats = rp.stats_table(joined, quantities)
    empty = {q.name: rp.empty_reason(joined, q) for q, n in zip(quantities, stats["n"]) if n == 0}
    if len(empty) == len(quantities):
        raise TinyLensError(f"Nothing to compare between {catalog_path} and {source}: {_by_reason(empty)}.")
    quantities = [q for q in quantities if q.name not in empty]
    stats = stats[~stats["parameter"].isin(list(empty))].reset_index(drop=True)
    left_out = {q.name: ids for q in quantities if (ids := rp.undefined_deviations(joined, q))}
    warnings += _coverage_warnings(empty, left_out) + _zero_nmad_warnings(stats)
    summary = {
        "catalog": str(catalog_path), "compared_with": source, "n_lenses": int(n_all),
        "trusted_only": bool(trusted_only), "where": where, "n_selected": int(len(catalog)),
        "n_ok": int((status == "ok").sum()), "n_failed": int((status == "failed").sum()), "n_matched": int(len(joined)),
        "n_matched_trusted": _n_trusted(catalog, joined),
        "n_matched_trust_not_recorded": _n_trust_not_recorded(catalog, joined), "not_matched": unmatched,
        "outlier_definition": f"|deviation| > {rp.OUTLIER_SIGMA:g} x NMAD",
        "nmad_definition": f"{rp.NMAD_FACTOR} x median(|deviation - median(deviation)|)",
        "not_compared": skipped, "no_lens_compared": empty, "left_out": left_out,
        # every compared parameter's truth column, the same name included: a script reads the mapping
        # without knowing that a missing name means the same one ({} said nothing of the columns used)
        "truth_columns": {q.name: columns.get(q.name, q.name) for q in quantities} if truth_path else {},
    }
    inputs = {"catalogue": catalog_path, **({"truth table": truth_path} if truth_path is not None
                                            else {"reference table": reference_path})}
    return {"summary": summary, "stats": stats, "joined": joined, "quantities": quantities,
            "truth_label": "truth" if truth_path is not None else "reference", "warnings": warnings,
            "inputs": inputs}


def read_catalog(catalog_path: Path, warnings: list[str]):
    """A survey's catalogue in the types the survey wrote it in (:func:`~tinylens.results.report.catalogue_types`:
    a CSV as the Parquet file), one row per lens, checked for rows and its ``status`` column."""
    from tinylens.results import report as rp
    from tinylens.results.overview import check_trusted

    catalog = rp.catalogue_types(rp.read_table(catalog_path, "catalogue", rp.CATALOGUE_FILES))
    catalog = _one_row_per_lens(catalog, f"catalogue {catalog_path}", warnings)
    if catalog.empty:
        raise TinyLensError(f"{catalog_path} holds no lenses (no rows), so there is nothing to report: a survey's "
                            "catalogue has a row for each lens once it is fitted (or has failed).")
    if "status" not in catalog.columns:
        raise TinyLensError(f"{catalog_path} has no 'status' column: give the catalog.parquet or catalog.csv "
                            "written by 'tinylens survey'.")
    check_trusted(catalog, str(catalog_path))
    return catalog


def only_trusted(catalog, catalog_path: Path):
    """The rows whose ``trusted`` cell is true; TinyLensError if there is no such column or row."""
    from tinylens.results.overview import is_true, trust_of

    if "trusted" not in catalog.columns:
        raise TinyLensError(f"{catalog_path} has no 'trusted' column, so --trusted-only cannot select lenses; "
                            "run without it (or with a catalogue written by this version of 'tinylens survey').")
    ok = catalog[catalog["status"].astype(str) == "ok"]
    if len(ok) and ok["trusted"].map(trust_of).isna().all():  # nothing said of any fit
        raise TinyLensError(f"No ok lens of {catalog_path} has its trust recorded (its 'trusted' cell is empty: fits "
                            "of a tinylens that did not assess quality yet), so --trusted-only cannot select lenses; "
                            "run without it.")
    catalog = catalog[catalog["trusted"].map(is_true)]
    if catalog.empty:
        raise TinyLensError(f"No lens of {catalog_path} is trusted (see its 'flags' column); run without --trusted-only.")
    return catalog


def build_overview(catalog_path: Path, parameters: list[str] | None, trusted_only: bool = False,
                   where: str | None = None) -> dict[str, Any]:
    """The overview of a catalogue with nothing to compare it to (no files written): see
    :mod:`tinylens.results.overview`. ``trusted_only`` and ``where`` select lenses as for a
    comparison (``where`` over the catalogue's columns)."""
    import pandas as pd

    from tinylens.results import overview as ov
    from tinylens.results import report as rp

    warnings: list[str] = []
    catalog = read_catalog(catalog_path, warnings)
    n_all = len(catalog)
    if not ov.records_trust(catalog):
        warnings.append(f"{catalog_path} has no 'trusted' column (a catalogue of an older tinylens?): which fits "
                        "can be trusted is not known, and only the lenses that did not end ok are listed to inspect.")
    if trusted_only:
        catalog = only_trusted(catalog, catalog_path)
    if where:
        catalog = select(catalog, pd.DataFrame({"lens_id": pd.Series([], dtype=object)}), where,
                         "the catalogue (a truth table's, such as arc_snr_max, only with --truth)",
                         "`lens_mass.0.theta_E_median` > 1.5")
    warnings += _mask_reading_warnings(catalog, catalog_path)
    if parameters:
        quantities = [rp.quantity_for(p) for p in dict.fromkeys(parameters)]
        rp.require_medians(catalog, [q.name for q in quantities], str(catalog_path),
                           ", so --parameter {name} cannot be summarised")
    else:
        quantities = ov.default_quantities(catalog)
    result = ov.overview(catalog, quantities, Path(catalog_path).expanduser().resolve().parent)
    result.update(catalog=catalog, quantities=quantities, warnings=warnings, inputs={"catalogue": catalog_path},
                  selection={
        "catalog": str(catalog_path), "n_lenses": int(n_all), "trusted_only": bool(trusted_only), "where": where,
        "n_selected": int(len(catalog))})
    return result


def write_overview(result: dict[str, Any], out: Path) -> dict[str, Path]:
    """The overview's files in ``out``, all or none (as :func:`write_report`)."""
    from tinylens.results import overview as ov
    from tinylens.results import report as rp
    from tinylens.atomic import write_together
    from tinylens.results.tables import csv_writer, ensure_writable, json_writer

    figures = {}
    if result["quantities"] and result["counts"]["n_ok"]:  # no ok lens (--where status != 'ok'): nothing to draw
        figures = {"png": ov.overview_figure(result["catalog"], ov.figure_quantity(result["quantities"], result["parameters"]),
                                             result["flags"]),
                   "parameters_png": ov.parameters_figure(result["catalog"], result["quantities"])}
    out = ensure_writable(out, "another --out")
    paths = {key: out / name for key, name in OVERVIEW_FILES.items() if not key.endswith("png") or key in figures}
    check_targets(paths.values(), result.get("inputs"))
    # n_lenses: the whole catalogue's (as in report_stats.json); the counts are of the n_selected
    content = {**result["counts"], **result["selection"], "time": result["time"],
               "failure_reasons": result["failure_reasons"], "n_to_inspect": int(len(result["inspect"])),
               "flags": result["flags"].to_dict(orient="records"),
               "parameters": result["parameters"].to_dict(orient="records")}
    writers = {"json": json_writer(content),
               **{key: csv_writer(paths[key].name, result[key]) for key in ("parameters", "flags", "inspect")},
               **{key: rp.figure_writer(fig, paths[key]) for key, fig in figures.items()}}
    with report_folder(out):
        write_together({paths[key]: writer for key, writer in writers.items()})  # each file once, renamed together
        remove_undrawn([out / name for key, name in OVERVIEW_FILES.items() if key not in paths], result.get("inputs"))
    return paths


def remove_undrawn(figures: list[Path], inputs: dict[str, Path] | None = None) -> None:
    """Remove the files ``figures``, an earlier overview's figures that this one does not draw (no
    ok lens, no parameter), so that none is taken for this overview's; a folder there, or one of
    the tables read (``inputs``), is left as it is."""
    for path in figures:
        if (path.is_file() or path.is_symlink()) and not any(replaces(path, given) for given in (inputs or {}).values()):
            path.unlink(missing_ok=True)


def no_parameters_text(catalog) -> str:
    """Why an overview of the ok lenses of ``catalog`` summarises no parameter and draws no figure:
    it holds none of the paper's medians; the parameters whose medians it holds, for --parameter."""
    from tinylens.results import report as rp

    held = sorted(str(c).removesuffix("_median") for c in catalog.columns if str(c).endswith("_median"))
    names = ", ".join(f"{q.name}_median" for q in rp.paper_quantities(catalog))
    return (f"Posterior medians: none summarised and no figure drawn, as the catalogue has none of the paper's "
            f"parameters' columns ({names}); "
            + (f"name one of those it has with --parameter: {listed(held)}." if held
               else "it has no column <parameter>_median at all."))


def print_overview(result: dict[str, Any], paths: dict[str, Path]) -> None:
    """The overview on the terminal: counts, flags, parameters, time, failures, what to inspect."""
    from tinylens.results import overview as ov
    from tinylens.results.report import percent_text, plain_number

    n, sel = result["counts"], result["selection"]
    rules = (["trusted"] if sel["trusted_only"] else []) + ([sel["where"]] if sel["where"] else [])
    which = (f"{sel['n_selected']} of {lens_count(sel['n_lenses'])} in {sel['catalog']} (selected: {', '.join(rules)})"
             if rules else f"{lens_count(n['n_lenses'])} in {sel['catalog']}")
    which = escape(which)  # a folder 'survey [v2]' or a --where holding '[...]' is not rich markup
    console.print(f"[bold]{which}[/]: "
                  f"[green]{n['n_ok']} ok[/]{ov.trust_suffix(n)}, "
                  f"[red]{n['n_failed']} failed[/]"
                  + (f", {n['n_other_status']} with another status ({escape(ov.other_statuses(result['catalog']))}: "
                     "only 'ok' and 'failed' are counted)" if n["n_other_status"] else "") + ".", soft_wrap=True)
    wide = console if console.is_terminal else Console(highlight=False, width=max(console.width, 160))
    if len(result["flags"]):
        table = Table(title="Quality flags of the ok lenses", title_justify="left")
        for name in ("flag", "lenses", "of them untrusted", "critical on (made untrusted)"):
            table.add_column(name, justify="left" if name == "flag" else "right")
        for row in result["flags"].itertuples(index=False):
            table.add_row(row.flag, str(row.n_lenses), "?" if row.n_untrusted is None else str(row.n_untrusted),
                          "?" if row.n_critical is None else str(row.n_critical))
        wide.print(table)
    elif not n["n_ok"]:
        console.print("Quality flags: none to count, as no lens is ok (flags are raised on a finished fit).")
    elif ov.records_flags(result["catalog"]):
        console.print("No quality flag is raised on any ok lens.")
    else:
        console.print("Quality flags: not recorded (the catalogue has no 'flags' column).")
    if len(result["parameters"]) and not n["n_ok"]:  # a table of N = 0 and dashes
        console.print("Posterior medians: none to summarise, as no lens is ok.")
    elif not result["quantities"] and n["n_ok"]:
        console.print(escape(no_parameters_text(result["catalog"])), soft_wrap=True)
    elif len(result["parameters"]):
        table = Table(title="Posterior medians across the ok lenses, and each lens's precision", title_justify="left")
        point = bool(result["parameters"]["n_collapsed"].any())
        for name in ("parameter", "N", "median", "16-84 % of lenses", "median 68 % half-width") + (("zero width",) if point else ()):
            table.add_column(name, justify="left" if name == "parameter" else "right")
        for row in result["parameters"].itertuples(index=False):
            width = "-" if math.isnan(row.half_width_68) else plain_number(row.half_width_68)
            if not math.isnan(row.relative_half_width_68):
                width += f" ({percent_text(row.relative_half_width_68)} %)"
            # one lens's median has no spread ("1.19 to 1.19" read as lenses that agree): none, as its NMAD
            spread = ("-" if math.isnan(row.median) or row.n == 1
                      else f"{plain_number(row.percentile_16)} to {plain_number(row.percentile_84)}")
            table.add_row(row.parameter, str(row.n), "-" if math.isnan(row.median) else plain_number(row.median, 4), spread, width,
                          *([str(row.n_collapsed)] if point else []))
        wide.print(table)
        if point:
            console.print("Zero width: lenses whose 68 % interval is a single value, a posterior on one sample (a fit "
                          "stopped long before it converged, e.g. by n_like_max); their width is no precision and is "
                          "left out of the median half-width ('-' when no lens has another).", soft_wrap=True)
    t = result["time"]
    parts = [f"{what}: median {s['median_s']:.0f} s (16-84 %: {s['percentile_16_s']:.0f}-{s['percentile_84_s']:.0f} s), "
             f"{s['total_h']:.2f} h in all" + ov.timed_text(s["n"], n["n_ok"])
             for what, s in (("the whole fit", t["whole_fit"]), ("the search", t["search"])) if s["n"]]
    if not math.isnan(t["median_likelihood_evals"]):
        parts.append(f"median {t['median_likelihood_evals']:,.0f} likelihood calls")
    if parts:
        console.print("Time per lens, " + "; ".join(parts) + ".", soft_wrap=True)
    for entry in result["failure_reasons"]:
        console.print(f"Failed ({entry['n']}): {entry['reason']}", soft_wrap=True, markup=False)
    unlisted = ov.unlisted_failures(n["n_failed"], result["failure_reasons"])
    if unlisted and not ov.records_reasons(result["catalog"]):
        console.print(f"Failed ({unlisted}): reasons not recorded (the catalogue has no 'reason' column); every "
                      f"failed lens is listed in [bold]{escape(str(paths['inspect']))}[/].", soft_wrap=True)
    elif unlisted:
        console.print(f"Failed ({unlisted}): for {'other reasons' if unlisted > 1 else 'another reason'}, not shown; "
                      f"every failed lens is listed with its reason in [bold]{escape(str(paths['inspect']))}[/].",
                      soft_wrap=True)
    inspect = result["inspect"]
    if len(inspect):
        kinds = ov.inspect_kinds(inspect)
        why = " or ".join([", ".join(kinds[:-1]), kinds[-1]] if len(kinds) > 1 else kinds)
        listed = "its flags, folder and figure" if len(inspect) == 1 else "their flags, folders and figures"
        console.print(f"To inspect: {lens_count(len(inspect))} ({why}), listed "
                      f"with {listed} in [bold]{escape(str(paths['inspect']))}[/].", soft_wrap=True)
    console.print(f"Written: [bold]{escape(str(paths['json']))}[/], "
                  + escape(", ".join(p.name for k, p in paths.items() if k != "json")), soft_wrap=True)


def _one_row_per_lens(frame, what: str, warnings: list[str]):
    """``frame`` with exact repeats of a row dropped (noted in ``warnings``); two different rows
    for one lens id raise TinyLensError (see :func:`tinylens.results.report.one_row_per_lens`)."""
    from tinylens.results import report as rp

    frame, repeated = rp.one_row_per_lens(frame, what)
    if repeated:
        warnings.append(f"The {what} repeats {len(repeated)} row{'s' if len(repeated) > 1 else ''} exactly "
                        f"(e.g. {listed(repeated)}); each lens is counted once.")
    return frame


def _mask_reading_warnings(catalog, catalog_path: Path) -> list[str]:
    """A warning naming the ok lenses of ``catalog`` (a survey's, beside its ``lenses/`` folder)
    fitted with a mask file whose reading nothing records (:func:`~tinylens.results.stored.mask_reading_unknown`):
    fits from before mask files were read as 0 = used, which a survey run over the same --out fits again."""
    from tinylens.results.stored import mask_reading_unknown
    from tinylens.filenames import LENSES_DIR

    lenses = Path(catalog_path).expanduser().resolve().parent / LENSES_DIR
    ok = catalog.loc[catalog["status"].astype(str) == "ok", "lens_id"].astype(str)
    unknown = [lens for lens in ok if mask_reading_unknown(lenses / lens)]
    if not unknown:
        return []
    one = len(unknown) == 1
    return [f"{lens_count(len(unknown))} of {catalog_path} ({listed(unknown)}) {'was' if one else 'were'} fitted with a "
            f"mask file whose reading {'its' if one else 'their'} results do not record: by a tinylens from before "
            "mask files were read as 0 = used, which may have read it as non-zero = used and so fitted the pixels the "
            f"mask leaves out. Run tinylens survey over the same --out again to fit {'it' if one else 'them'} again."]


def _coverage_warnings(empty: dict[str, str], left_out: dict[str, list[str]]) -> list[str]:
    """What the statistics leave out: the parameters with N = 0 (and why), and per parameter
    the lenses whose deviation is not finite (not in N, nor in the interval counts)."""
    return ([f"{name} is left out of the report (N = 0): {why}." for name, why in empty.items()]
            + [f"{name}: {lens_count(len(ids))} left out of every count ({listed(ids)}): the "
               "deviation is not finite (a true value of 0 for a relative deviation, or an infinite value)."
               for name, ids in left_out.items()])


def _zero_nmad_warnings(stats) -> list[str]:
    """One line per parameter with enough lenses to count outliers whose NMAD is still no scale
    to count them by (:func:`~tinylens.results.report.counts_outliers`: it is 0): none are."""
    from tinylens.results.report import MIN_FOR_OUTLIERS, counts_outliers

    return [f"{row.parameter}: the NMAD is 0 (more than half of the {row.n} deviations are equal), which gives "
            "no scale for catastrophic outliers: none are counted." for row in stats.itertuples(index=False)
            if row.n >= MIN_FOR_OUTLIERS and not counts_outliers(row.n, row.nmad)]


def _status_counts(status) -> str:
    """``4 rows, 4 failed; their 'reason' column says why`` when every fit failed, else the
    status values found (``3 rows; status value found: 'OK' x3; only rows with status 'ok' are compared``)."""
    counts = status.value_counts()
    rows = counted(len(status), "row")
    if set(counts.index) <= {"failed"}:
        return f"{rows}, {len(status)} failed; {'its' if len(status) == 1 else 'their'} 'reason' column says why"
    found = ", ".join(f"{value!r} x{n}" for value, n in counts.items())
    return f"{rows}; {plural(len(counts), 'status value')} found: {found}; only rows with status 'ok' are compared"


def select(catalog, other, where: str, columns_of: str = "the catalogue or of the truth/reference table",
           example: str = "arc_snr_max >= 10"):
    """The rows of ``catalog`` whose lens, joined with ``other`` on ``lens_id``, satisfies the pandas
    query ``where`` (column names with dots in backticks; a column in both tables is the
    catalogue's, the other table's gets the suffix ``_other``). The id answers to the name the other
    table's file gives it too (``lens_name == 'J0029-0055'`` with a SLACS table); another of
    the id's names (``name``, ``id``) is pointed to ``lens_id``."""
    import pandas as pd

    from tinylens.results.report import ID_ALIASES, ID_READ_AS

    ids = catalog["lens_id"].astype(str)
    joined = catalog.assign(lens_id=ids).merge(other.assign(lens_id=other["lens_id"].astype(str)),
                                               on="lens_id", how="left", suffixes=("", "_other"))
    read_as = other.attrs.get(ID_READ_AS, "lens_id")  # read_table renamed it lens_id
    if read_as not in joined.columns:
        joined[read_as] = joined["lens_id"]
    try:
        mask = joined.eval(where, engine="python", target=None)  # target=None: no assignment (as query)
    except Exception as err:  # pandas raises many kinds (SyntaxError, UndefinedVariableError, TypeError)
        function = re.search(r'"(.*?)" is not a supported function', str(err)) if isinstance(err, ValueError) else None
        if function:
            raise TinyLensError(_unknown_function(where, function.group(1))) from None
        unknown = (_unknown_names(where, str(err), joined.columns)
                   if isinstance(err, pd.errors.UndefinedVariableError) else [])
        # the names as written: pandas's own text has a name in backticks mangled (BACKTICK_QUOTED_STRING_...)
        detail = f"no column {listed([repr(n) for n in unknown])}" if unknown else f"{type(err).__name__}: {err}"
        hint = did_you_mean(unknown, [str(c) for c in joined.columns], aliases=dict.fromkeys(ID_ALIASES, "lens_id"))
        if set(unknown) & {"np", "numpy"}:  # np.log10(x): pandas knows the functions by their bare names
            hint += f" {WHERE_FUNCTIONS_ARE}"
        raise TinyLensError(f"--where {where!r}: {detail}. Use the columns of {columns_of}, "
                            "with backticks around names that contain dots "
                            f"(e.g. --where '{example}').{hint}") from None
    if not (isinstance(mask, pd.Series) and pd.api.types.is_bool_dtype(mask.dtype)):
        raise TinyLensError(f"--where {where!r} is not a condition: it must be true or false for each lens "
                            f"(e.g. --where 'arc_snr_max >= 10'), but it gives {_not_a_condition(mask)}.")
    keep = joined[mask.fillna(False).astype(bool)]
    out = catalog[ids.isin(set(keep["lens_id"]))]
    if out.empty:
        raise TinyLensError(f"--where {where!r} selects no lens.")
    return out


def where_functions() -> list[str]:
    """The functions a --where query can call (numpy's, by name: ``log10(x)``), as pandas lists them."""
    try:
        from pandas.core.computation.ops import MATHOPS
    except ImportError:  # a pandas that keeps them elsewhere: the message names none
        return []
    return sorted(MATHOPS)


#: How a --where query calls a function.
WHERE_FUNCTIONS_ARE = "Functions are called by their bare names: log10(x), not np.log10(x)."


def _unknown_function(where: str, name: str) -> str:
    """The message for a --where query calling ``name``, which pandas cannot call, with the functions
    it can call (and the one meant, for a near miss: ``sqr``)."""
    known = where_functions()
    can = f"; it can call {listed(known, limit=len(known))}" if known else ""
    return f"--where {where!r}: {name!r} is no function --where can call{can}.{did_you_mean([name], known)}"


def _unknown_names(where: str, message: str, columns) -> list[str]:
    """The names in the query ``where`` that pandas found no column for (its ``message``: "name
    'x' is not defined"); a name in backticks, which pandas reports mangled
    (BACKTICK_QUOTED_STRING_...), as the user wrote it."""
    found = re.search(r"name '(.*?)' is not defined", message)
    if found and not found.group(1).startswith("BACKTICK_QUOTED_STRING_"):
        return [found.group(1)]
    known = {str(c) for c in columns}
    return [name for name in dict.fromkeys(re.findall(r"`([^`]*)`", where)) if name not in known]


def _not_a_condition(value: Any) -> str:
    """What a --where expression gave instead of true or false per lens: ``values such as 'ok'``."""
    shown = lambda v: repr(v) if isinstance(v, str) else str(v)
    if hasattr(value, "iloc"):
        return f"values such as {shown(value.iloc[0])}" if len(value) else "no values"
    return f"the one value {shown(value)}"


def _selection(summary: dict[str, Any]) -> str:
    """``; 12 of 21 selected: trusted, arc_snr_max >= 10`` (empty when all lenses are used)."""
    rules = (["trusted"] if summary["trusted_only"] else []) + ([summary["where"]] if summary["where"] else [])
    return f"; {summary['n_selected']} of {summary['n_lenses']} selected: {', '.join(rules)}" if rules else ""


def _by_reason(reasons: dict[str, str]) -> str:
    """``a, b: why; c: other reason``: the names grouped by their reason."""
    grouped: dict[str, list[str]] = {}
    for name, why in reasons.items():
        grouped.setdefault(why, []).append(name)
    return "; ".join(f"{', '.join(names)}: {why}" for why, names in grouped.items())


def _n_trusted(catalog, joined) -> int | None:
    """How many of the lenses compared (``joined``) the catalogue calls trusted; ``None`` when it
    has no ``trusted`` column."""
    from tinylens.results.overview import is_true, records_trust

    if not records_trust(catalog):
        return None
    trusted = catalog[catalog["trusted"].map(is_true)]["lens_id"].astype(str)
    return int(joined["lens_id"].astype(str).isin(set(trusted)).sum())


def _n_trust_not_recorded(catalog, joined) -> int | None:
    """How many of the lenses compared (``joined``) have an empty ``trusted`` cell (neither trusted
    nor untrusted: :func:`~tinylens.results.overview.trust_states`); ``None`` when the catalogue
    has no ``trusted`` column."""
    from tinylens.results.overview import records_trust, trust_states

    if not records_trust(catalog):
        return None
    trusted, untrusted = trust_states(catalog)
    unknown = catalog["lens_id"].astype(str)[~trusted & ~untrusted]
    return int(joined["lens_id"].astype(str).isin(set(unknown)).sum())


def _trusted_text(summary: dict[str, Any]) -> str:
    """`` (2 of them trusted)`` for the lenses compared (``, 1 with trust not recorded`` added for
    those with an empty ``trusted`` cell); empty with --trusted-only or without a ``trusted`` column."""
    n, unknown = summary.get("n_matched_trusted"), summary.get("n_matched_trust_not_recorded")
    if summary["trusted_only"] or n is None:
        return ""
    return f" ({n} of them trusted" + (f", {unknown} with trust not recorded" if unknown else "") + ")"


def _unmatched(catalog, joined) -> list[str]:
    """The ids of the ok lenses of ``catalog`` that the comparison ``joined`` lacks (the truth or
    reference table has no row for them)."""
    ok = catalog[catalog["status"].astype(str) == "ok"]["lens_id"].astype(str)
    return list(dict.fromkeys(ok[~ok.isin(set(joined["lens_id"].astype(str)))]))


def _first(frame) -> str:
    return str(frame["lens_id"].iloc[0]) if len(frame) else "(empty)"


def write_report(report: dict[str, Any], out: Path) -> dict[str, Path]:
    """``report_stats.csv``, ``report_stats.json`` and ``report.png`` in ``out``, all or none:
    each is written to a hidden temporary name in ``out`` and the three are renamed into place
    only once all are written, so a failure leaves the previous report (or none) untouched."""
    from tinylens.results import report as rp
    from tinylens.atomic import write_together
    from tinylens.results.tables import csv_writer, ensure_writable, json_records, json_writer

    stats = report["stats"]
    fig = rp.comparison_figure(report["joined"], report["quantities"], stats, truth_label=report["truth_label"])
    out = ensure_writable(out, "another --out")
    paths = {"csv": out / STATS_CSV, "json": out / STATS_JSON, "png": out / FIGURE}
    check_targets(paths.values(), report.get("inputs"))
    counted = rp.counts_as_integers(stats)
    with report_folder(out):
        write_together({paths["csv"]: csv_writer(paths["csv"].name, counted),
                        paths["json"]: json_writer({**report["summary"], "parameters": json_records(counted)}),
                        paths["png"]: rp.figure_writer(fig, paths["png"])})
    return paths


@contextmanager
def report_folder(out: Path) -> Iterator[None]:
    """Hold ``out``'s :data:`REPORT_LOCK` for the ``with`` block (waiting while another report
    writes there), having removed the hidden temporaries of :data:`REPORT_FILES` that a report
    killed there mid-write left (``.report_stats.unfinished-XXXXXXXX.csv``; only where the lock
    is held, so that no other report's are taken)."""
    from tinylens.locks import folder_lock
    from tinylens.atomic import remove_unfinished

    with folder_lock(out, REPORT_LOCK, wait=True) as locked:
        if locked:
            remove_unfinished(*(out / name for name in REPORT_FILES))
        yield


def check_targets(paths, inputs: dict[str, Path] | None = None) -> None:
    """OutputError naming the first of ``paths`` (the files about to be written) that is a folder
    (its rename would fail after the others were renamed into place, leaving half a report), or
    that is one of the tables the report read (``inputs``, by what it is: a report of DIR/inspect.csv
    into DIR replaced it with its own inspect.csv)."""
    for path in paths:
        if path.is_dir():
            raise OutputError(f"{path} is a folder, where the report writes its file {path.name}; nothing was "
                              "written. Move that folder away or choose another --out.")
        for what, given in (inputs or {}).items():
            if replaces(path, given):
                raise OutputError(f"The {what} {given} is {path}, where the report writes its own file {path.name}, "
                                  f"which would replace it; nothing was written. Choose another --out, or give a "
                                  f"copy of the {what} under another name.")


def replaces(target: Path, given: Path) -> bool:
    """Whether writing the file ``target`` (renamed into place, so a link there is replaced, not
    followed) replaces the file ``given`` (by any name: a link to it, ``..`` on the way, another
    case of its name on a case-insensitive disk)."""
    real = os.path.realpath(given)
    return real == os.path.join(os.path.realpath(target.parent), target.name) or same_entry(target, Path(real))


def same_entry(target: Path, real: Path) -> bool:
    """Whether ``target`` is the folder entry ``real`` (a path without links) by another case of
    its names, as on a case-insensitive disk (macOS's, Windows'), where ``Inspect.csv`` is
    ``inspect.csv``: the same file, in the same folder, its name alike but for case. A hard link
    to it in another folder or under another name is another entry, which writing ``target`` leaves."""
    def folded(name: str) -> str:
        return unicodedata.normalize("NFC", name).casefold()

    try:
        return (folded(target.name) == folded(real.name) and os.path.samestat(os.lstat(target), os.stat(real))
                and os.path.samefile(target.parent, real.parent))
    except OSError:  # either is not there
        return False


def report(
    catalog: Path = typer.Argument(..., parser=path_value, metavar="CATALOG", help="catalog.parquet or catalog.csv of 'tinylens survey'.", show_default=False),
    truth: Path | None = typer.Option(None, "--truth", "-t", parser=path_value, metavar="FILE", help="Truth table (CSV, Parquet, FITS or ECSV with lens_id), e.g. "
                                      "truth.csv of 'tinylens simulate-population'."),
    reference: Path | None = typer.Option(None, "--reference", "-r", parser=path_value, metavar="FILE", help="Table of published Einstein radii "
                                          "(CSV, Parquet, FITS or ECSV; id column lens_id or lens_name), e.g. SLACS catalog.csv."),
    reference_column: str | None = typer.Option(None, "--reference-column", metavar="COLUMN", help="Column of --reference to compare "
                                                "with (default: the first whose name starts with theta_E)."),
    parameter: list[str] | None = typer.Option(None, "--parameter", "-p", metavar="NAME", help="Parameter to compare (repeatable; "
                                               "default: the paper's six, or theta_E with --reference)."),
    out: Path | None = typer.Option(None, "--out", "--output", "-o", parser=path_value, metavar="FOLDER", help="Folder for the stats tables and figure "
                                    "(default: 'report' next to the catalogue); --output is the same option, as in fit."),
    trusted_only: bool = typer.Option(False, "--trusted-only", help="Only the lenses whose quality flags say they "
                                      "can be trusted (the catalogue's 'trusted' column)."),
    where: str | None = typer.Option(None, "--where", metavar="QUERY", help="Only the lenses this pandas query selects, over the "
                                     "columns of the catalogue and of the truth/reference table, e.g. "
                                     "'arc_snr_max >= 10' (names with dots in backticks)."),
) -> None:
    """What a survey found: with --truth or --reference, its accuracy (median deviation, NMAD, catastrophic
    outliers per parameter; paper, Figs. 4 and 7); with neither, an overview (trusted fits, flags, precision,
    time, the lenses to look at)."""
    check_options(reference, reference_column, where, parameter)
    # a relative --out from here, as fit's --output: the files are named by absolute paths, as by default
    folder = out.absolute() if out is not None else catalog.expanduser().resolve().parent / "report"
    refuse_a_file_as_folder(folder)  # before the tables are read and their warnings said
    if truth is None and reference is None:
        overview = build_overview(catalog, parameter, trusted_only, where)
        for message in overview["warnings"]:
            print_warning(message)
        with reported_warnings():  # said readably: a file a Ctrl-C left not put back (tinylens.atomic)
            written = write_overview(overview, folder)
        print_overview(overview, written)
        return
    result = build_report(catalog, truth, reference, reference_column, parameter, trusted_only, where)
    for message in result["warnings"]:
        print_warning(message)
    with reported_warnings():
        paths = write_report(result, folder)
    s = result["summary"]
    # written to a file or a pipe, rich would squeeze the table into 80 columns
    wide = console if console.is_terminal else Console(highlight=False, width=max(console.width, 160))
    wide.print(stats_rich_table(result["stats"], f"{lens_count(s['n_matched'])}{_trusted_text(s)} compared with {escape(s['compared_with'])} "
                                   f"({s['n_ok']} ok, {s['n_failed']} failed in the catalogue"
                                   + escape(_selection(s)) + ")"))
    moved = {name: true for name, true in s["truth_columns"].items() if name != true}
    if moved:
        console.print(main_mass_text(moved), soft_wrap=True)
    for name, why in s["not_compared"].items():
        hint = " (fit with dataset.zeropoint set to get magnitudes)" if name.endswith(".mag") else ""
        console.print(f"Not compared: {name}, {why}{hint}.", soft_wrap=True)
    console.print(f"Written: [bold]{escape(str(paths['csv']))}[/], {paths['json'].name}, {paths['png'].name}", soft_wrap=True)


def refuse_a_file_as_folder(folder: Path) -> None:
    """OutputError where ``folder`` (the report's --out) or a folder above it is a file, as
    :func:`~tinylens.results.tables.ensure_writable` says it when the files are written, but found
    before the catalogue and the truth are read, without creating the folder: a --out that names
    a file (``--out report.txt``) was refused only after the tables' warnings had been printed."""
    from tinylens.results.tables import file_in_the_way

    blocked = file_in_the_way(folder)
    if blocked is not None:
        raise OutputError(f"Output folder {folder} cannot be written ({blocked} is a file, not a folder). "
                          "Choose another --out.")


def main_mass_text(truth_columns: dict[str, str]) -> str:
    """``Lens mass: the catalogue's lens_mass.1 against the truth table's lens_mass.0 (...)``, for
    the paper's quantities compared under other names in the truth (``truth_columns``)."""
    name, true = next(iter(truth_columns.items()))
    return (f"Lens mass: the catalogue's {name.rsplit('.', 1)[0]} against the truth table's {true.rsplit('.', 1)[0]} "
            "(the main deflector of each, the first with an Einstein radius).")


def check_options(reference: Path | None, reference_column: str | None, where: str | None,
                  parameters: list[str] | None = None) -> None:
    """TinyLensError for an option that would be ignored: --reference-column without --reference,
    an empty --where; and for an empty --parameter (looked for as the column '_median')."""
    if any(not p.strip() for p in parameters or []):
        raise TinyLensError("--parameter is empty (an unset shell variable?): give a parameter's full name, e.g. "
                            "--parameter lens_mass.0.theta_E, or leave the option out to compare the paper's six "
                            "(theta_E with --reference) or summarise the catalogue's.")
    if reference_column is not None and reference is None:
        raise TinyLensError(f"--reference-column {reference_column} needs --reference (the table that holds that "
                            "column, e.g. SLACS catalog.csv); without it the option would be ignored.")
    if where is not None and not where.strip():
        raise TinyLensError("--where is empty: give a condition on the columns, e.g. --where 'arc_snr_max >= 10', "
                            "or leave the option out to use every lens.")


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""
    # one line in `tinylens --help` (the docstring's line breaks would show there)
    app.command("report", cls=TinyLensCommand, short_help="What a survey found: its accuracy against --truth or --reference, "
                "or else an overview (trusted fits, flags, precision, time, lenses to inspect).")(report)
