"""``tinylens fit CONFIG``: sample the posterior with :func:`tinylens.fit` and report."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from tinylens.cli.common import CONFIG_READ, TinyLensCommand, console, path_value, print_warning, reported_warnings
from tinylens.fitting.summary import OPTIMIZERS, unconverged_message, unconverged_warnings  # noqa: F401 (also imported from here)
from tinylens.survey.lens_files import fits_read_names_text


QUIET_HELP = ("No progress display. Without it, a status line on stderr shows the likelihood calls, the current "
              "log-evidence (of the pipeline's box of the prior: the result adds the box's log prior mass) and effective "
              "sample size, and the elapsed time (without a terminal, e.g. in a log "
              "file, a plain line every 30 s).")

NO_PIPELINE_HELP = ("A quick look: the sampler alone over the full priors, without the pipeline's stages (lens light, "
                    "arc, multi-start optimisation, sampling box), as pipeline: {enabled: false} in the config. The "
                    "sampler's caps (n_like_max, maxcall) count its own calls only: with the stages on, a capped fit "
                    "still runs them all first.")


def is_point(result: Any) -> bool:
    """Whether ``result`` is an optimiser's best fit: a point, without uncertainties."""
    return getattr(result, "method", None) in OPTIMIZERS


def medians_table(result: Any, max_rows: int = 40) -> Table:
    """Posterior medians with their 68 % half-widths and intervals, rounded as the fit figure's
    summary panel gives them (:func:`tinylens.fitting.summary._posterior_texts`: to two significant digits of
    the half-width; result.json and result_summary.csv keep every digit); an optimiser's best
    fit alone (its "interval" is the point itself, which read as a posterior of width zero), to
    five significant digits in plain digits as the figure gives it (:func:`tinylens.fitting.summary._point_text`)."""
    from tinylens.fitting.summary import _point_text, _posterior_texts

    point = is_point(result)
    table = Table(title="Best fit (an optimiser: no uncertainties)" if point else "Posterior medians",
                  title_justify="left")
    table.add_column("parameter")
    table.add_column("best fit" if point else "median ± 68 % half-width", justify="right")
    if not point:
        table.add_column("68 % interval", justify="right")
    intervals = dict(getattr(result, "interval_68", None) or {})
    for i, (name, value) in enumerate(dict(result.median).items()):
        if i == max_rows:
            table.add_row("...", "", *(() if point else ("",)))
            break
        if point or name not in intervals:
            table.add_row(name, _point_text(value), *(() if point else ("",)))
            continue
        median, half, interval = _posterior_texts(value, *intervals[name])
        table.add_row(name, median if half is None else f"{median} ± {half}", interval)
    return table


def truth_table(result: Any, truth: dict[str, float], names: tuple[str, ...] | None = None) -> Table:
    """The fitted medians beside the true values of ``names`` (default: every free parameter
    with a true value), and the pull: (median - true) in units of the 68 % interval's half-width;
    an optimiser's best fit beside them alone. The medians and intervals are rounded as
    :func:`medians_table` gives them (:func:`tinylens.fitting.summary._posterior_texts`), the pull computed
    from every digit, and each true value shown as given (:func:`true_text`)."""
    from tinylens.fitting.summary import _places, _point_text, _posterior_texts

    median, intervals = dict(result.median), dict(getattr(result, "interval_68", None) or {})
    rows = [name for name in names or tuple(result.param_names) if name in median and name in truth]
    if is_point(result):  # no interval, so no pull (its "interval" is the point itself)
        table = Table(title="Fitted vs true (an optimiser's best fit: no uncertainties)", title_justify="left")
        table.add_column("parameter", no_wrap=True, min_width=max(map(len, rows), default=9))
        for column in ("true", "best fit"):
            table.add_column(column, justify="right")
        for name in rows:
            table.add_row(name, true_text(truth[name], None), _point_text(median[name]))
        return table
    table = Table(title="Fitted vs true (pull: median - true, in 68 % half-widths)", title_justify="left")
    table.add_column("parameter", no_wrap=True, min_width=max(map(len, rows), default=9))
    for column in ("true", "median", "68 % interval", "pull"):
        table.add_column(column, justify="right")
    collapsed = unmeasured = False
    for name in rows:
        lo, hi = intervals.get(name, (None, None))
        sigma = None if lo is None else (hi - lo) / 2
        pull = f"{(median[name] - truth[name]) / sigma:+.1f}" if sigma else ""
        if sigma is not None and not all(map(math.isfinite, (lo, hi, median[name]))):  # printed "+nan"
            pull, unmeasured = ZERO_WIDTH_MARK, True
        elif sigma == 0:  # no width to measure a pull in: the cell was left blank without a word
            pull, collapsed = ZERO_WIDTH_MARK, True
        if lo is None:
            table.add_row(name, true_text(truth[name], None), _point_text(median[name]), "", pull)
            continue
        shown, _, interval = _posterior_texts(median[name], lo, hi)
        table.add_row(name, true_text(truth[name], _places(sigma)), shown, interval, pull)
    notes = [note for note, said in ((ZERO_WIDTH_NOTE, collapsed), (NOT_A_NUMBER_NOTE, unmeasured)) if said]
    if notes:
        table.caption, table.caption_justify = "\n".join(notes), "left"
    return table


def true_text(value: float, places: int | None) -> str:
    """A true ``value`` as given: to five significant digits as ever (1.25, -0.06: not padded to
    the fit's places) and to the ``places`` of the fitted median beside it where they are more
    (10219.43 beside 10219.40 ± 0.50, not 10219), trailing zeros dropped; in plain digits within
    :data:`~tinylens.results.report.PLAIN_RANGE`, as :func:`~tinylens.results.report.plain_number`
    writes them (1.2346e+07 and 1.2346e-09, not 12345679 and 0.0000000012346), never with more
    digits than the value has (123456789.1 beside a median to eight places, not 123456789.09999999)."""
    from tinylens.results.report import plain_number

    if not math.isfinite(value) or value == 0:
        return f"{value:.5g}"
    whole = math.floor(math.log10(abs(value))) + 1  # digits before the point (0 or fewer: zeros after it)
    # no more digits than the value was given with: 17 of 123456789.1 write its binary part (123456789.09999999)
    given = len(repr(abs(float(value))).split("e")[0].replace(".", "").lstrip("0"))
    return plain_number(value, 5 if places is None else min(max(5, whole + places), max(given, 5)))


#: The pull cell of a parameter whose 68 % interval has zero width, and the note under the table.
ZERO_WIDTH_MARK = "-"
ZERO_WIDTH_NOTE = ("pull -: the 68 % interval has zero width (the posterior sits on one sample, as in a fit stopped "
                   "long before it converged), so no pull can be given.")
NOT_A_NUMBER_NOTE = ("pull -: the median or 68 % interval is not a number (the parameter has no finite sample of "
                     "positive weight), so no pull can be given.")


def print_result(result: Any, truth: dict[str, float] | None = None, names: tuple[str, ...] | None = None) -> None:
    """The medians (beside the ``truth`` of ``names``, :func:`truth_table`, where given), the
    evidence, the cost, the quality verdict, why a fit that did not converge is preliminary, and
    last where the results are: the line a user (or a log's tail) reads the output folder from."""
    from tinylens.fitting.outputs import earlier_time

    console.print(medians_table(result))
    if truth is not None:
        console.print(truth_table(result, truth, names))
    evidence = f"log Z = {result.log_evidence:.2f}; " if result.log_evidence is not None else ""
    info = getattr(result, "info", None) or {}
    # n_likelihood_evals counts every run's calls, stages included; n_like_this_run the last sampler's in this one
    resumed = (f" (resumed from its checkpoint: {info['n_like_this_run']:,} by the sampler in this run)"
               if info.get("resumed") and "n_like_this_run" in info else "")
    total = getattr(result, "total_time_s", None)
    earlier = earlier_time(info)
    parts = ([f"{earlier:.1f} s of it in earlier runs"] if earlier > 0 else []) + (
        [f"the whole fit, loading and outputs included: {total:.1f} s"] if total is not None else [])
    whole = f" ({'; '.join(parts)})" if parts else ""
    # soft_wrap: a line is not broken at the console's width (80 columns in a log), nor a long path inside it
    console.print(f"{evidence}{result.n_likelihood_evals:,} likelihood evaluations{resumed} in "
                  f"{result.wall_time_s:.1f} s{whole}.", soft_wrap=True)
    verdict = quality_line(getattr(result, "quality", None) or {})
    if verdict:
        console.print(verdict, soft_wrap=True)
    if not result.converged:  # before the closing line, not after it (with --quiet or without)
        for text in unconverged_warnings(result):
            print_warning(text)
    console.print(f"Results written to [bold]{escape(str(result.output_dir))}[/]", soft_wrap=True)  # a folder "run[v2]" is no markup


def quality_line(quality: dict[str, Any]) -> str:
    """Whether the quality flags (``result.json``'s ``quality``) trust the fit, and the flags raised;
    empty without an assessment. The closing lines said nothing of it: an untrusted fit printed its
    medians as a trusted one did."""
    from tinylens.results.quality import raised_critical

    if "flags" not in quality:
        return ""
    critical = raised_critical(quality)
    others = [flag for flag in quality["flags"] if flag not in critical]
    also = f" (also raised, not critical: {', '.join(others)})" if others else ""
    if critical:
        return (f"[bold yellow]Quality: NOT trusted[/], flagged {', '.join(critical)}{also}; see 'quality' in "
                "result.json and \"Quality flags\" in the README.")
    return f"Quality: trusted{also}."


def run_fit(config: Path | str | dict, output: Path | None = None, quiet: bool = False, fresh: bool = False,
            truth: Path | dict[str, float] | None = None, pipeline: bool = True) -> Any:
    """:func:`tinylens.fit` (which checks the output folder before sampling) with its warnings
    printed readably."""
    from tinylens.errors import CapReachedWarning, ConvergenceWarning
    from tinylens.fit import fit

    with reported_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # said by print_result, in the command line's words
        warnings.simplefilter("always", CapReachedWarning)  # but this one at the start, before the outputs
        return fit(config, progress=not quiet, output=output, fresh=fresh, truth=truth, pipeline=pipeline)


def fit_command(
    config: Path = typer.Argument(..., parser=path_value, metavar="CONFIG", help="The model_config.yaml to fit. Its dataset paths name "
                                  f"FITS files, such as {fits_read_names_text()}, each optionally with an HDU: "
                                  "image.fits[SCI].", show_default=False),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=QUIET_HELP),
    output: Path | None = typer.Option(None, "--output", "--out", "-o", parser=path_value, metavar="FOLDER", help="Output folder, relative to the current folder (overrides output.path, which is relative to the config's folder). --out is the same option, as in survey and report."),
    fresh: bool = typer.Option(False, "--fresh", help="Start again from scratch: delete the checkpoints of a fit "
                               "stopped earlier in the output folder (the sampler's and the pipeline stages') "
                               "instead of resuming it."),
    truth: Path | None = typer.Option(None, "--truth", parser=path_value, metavar="JSON", help="For a simulated lens: "
                                      "the truth.json of tinylens demo or simulate-population (or a JSON file of one object "
                                      "of parameter name: true value), relative to the current folder. The true values are "
                                      "marked on the corner plot and printed beside the fit."),
    no_pipeline: bool = typer.Option(False, "--no-pipeline", help=NO_PIPELINE_HELP),
) -> None:
    """Fit a lens model: sample the posterior, write tables and figures; a stopped fit resumes when run again."""
    from tinylens.interrupts import marked_on_interrupt
    from tinylens.interrupts import AT_END_ATTR

    CONFIG_READ.set(config)  # running out of memory names its keys as it writes them
    result = run_fit(config, output=output, quiet=quiet, fresh=fresh, truth=truth, pipeline=not no_pipeline)  # reads truth before the data
    with marked_on_interrupt(AT_END_ATTR, True):  # a Ctrl-C from here on finds everything written
        print_result(result, result.truth)


def register(app: typer.Typer) -> None:
    """Add the ``fit`` command to ``app``."""
    app.command("fit", cls=TinyLensCommand)(fit_command)
