"""``tinylens survey LENS_DIR --config TEMPLATE --out OUT``: fit every lens folder on Dask.

See :mod:`tinylens.survey.runner` and ``docs/survey.md``.
"""

from __future__ import annotations

import shlex
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from tinylens.cli.common import (CONFIG_READ, SURVEY_CHOSEN_ATTR, TinyLensCommand, console, path_value, print_warning, survey_written,
                                 warnings_as_they_come)
from tinylens.cli.simulate_population import number_value, whole_value
from tinylens.errors import TinyLensError, counted, lens_count, listed
from tinylens.survey.lens_files import survey_names_text

#: Exit code of a survey in which no lens was fitted (some failing is normal, and exits 0).
EXIT_ALL_FAILED = 1

#: Most lenses whose files would be refused that a dry run lists, each with its message; the
#: others are named after them (a template's mask of the wrong shape refuses every lens alike).
MAX_REFUSED_SHOWN = 20


def chosen_rows(frame, chosen: Sequence[str] | None):
    """The catalogue's rows of the lenses ``chosen`` by ``--only`` (every row without it)."""
    return frame if chosen is None or not len(frame) else frame[frame["lens_id"].isin(list(chosen))]


def summary_line(frame, out: Path, seconds: float, chosen: Sequence[str] | None = None) -> str:
    """``4 lenses: 3 ok (2 trusted), 1 failed in 1m 23s. Catalogue: OUT/catalog.parquet (and
    .csv); an overview: tinylens report OUT/catalog.parquet``. With ``chosen`` (the lens ids of
    ``--only``) only their rows are counted (``2 lenses chosen by --only: ...``), the catalogue's
    rows of other lenses, from earlier runs, said apart."""
    from tinylens.results.overview import counts
    from tinylens.filenames import CATALOG_CSV, CATALOG_PARQUET

    rows = chosen_rows(frame, chosen)
    n = counts(rows) if len(rows) else {"n_ok": 0, "n_failed": 0, "n_trusted": 0}
    minutes, secs = divmod(int(round(seconds)), 60)
    took = f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
    parquet = escape(str(Path(out) / CATALOG_PARQUET))  # a folder "run[v2]" is no markup
    trusted = f" ({n['n_trusted']} trusted)" if n["n_ok"] else ""
    if chosen is None:
        head, others = lens_count(len(rows)), ""
    else:
        head = (f"{lens_count(len(chosen))} chosen by --only" if len(rows) == len(chosen)
                else f"{len(rows)} of the {lens_count(len(chosen))} chosen by --only")
        earlier = len(frame) - len(rows)
        others = f"; it also holds the rows of {lens_count(earlier)} from earlier runs" if earlier else ""
    return (f"{head}: [green]{n['n_ok']} ok[/]{trusted}, [red]{n['n_failed']} failed[/] in {took}. "
            f"Catalogue: [bold]{parquet}[/] (and {CATALOG_CSV}{others}); an overview: tinylens report {parquet}")


def print_plan(found: dict, retry_failed: bool) -> None:
    """What a survey would do (:func:`tinylens.survey.runner.survey_plan`), on the terminal."""
    to_fit = found["to_fit"]
    n_fit = sum(map(len, to_fit.values()))
    chosen = f" ({found['n_chosen']} chosen by --only)" if found["n_chosen"] != found["n_folders"] else ""
    head = f"Dry run: nothing started, nothing written. {counted(found['n_folders'], 'lens folder')} in {found['lens_dir']}{chosen}"
    if found["checked_with"]:
        head += f"; the template works (checked with {found['checked_with']} as 'tinylens validate' does)."
    elif n_fit:
        tried = "; ".join(f"{lens_id}: {why.rstrip('.')}" for lens_id, why in found.get("broken", {}).items())
        head += ("; the template could not be checked: the first lenses to fit have broken data (they will fail)"
                 + (f": {tried}" if tried else "") + ".")
    lines = [head if head.endswith(".") else head + ".",
             f"In {found['out']}: {len(found['ok'])} done (ok), {len(found['failed'])} failed"
             + (" (kept: --retry-failed fits them again)." if found["failed"] and not retry_failed else ".")]
    whys = {"new": "new", "resume": "resume from a checkpoint",
            "other_checkpoint": ("hold a checkpoint of a fit of another template or precision: resumed only where "
                                 "its fingerprint matches this fit's all the same, else fitted from the beginning"),
            "changed": "fitted again: their files changed", "retry": "failed before, fitted again"}
    lines.append(f"To fit: {lens_count(n_fit)}" + (":" if n_fit else "."))
    lines += [f"  {len(ids)} {whys[why]}: {listed(ids, 8)}" for why, ids in to_fit.items() if ids]
    if found["refused"]:
        n = len(found["refused"])
        lines.append(f"{lens_count(n)} to fit will fail on {'its' if n == 1 else 'their'} files (as the files' FITS "
                     "headers tell; the other lenses are fitted all the same):")
        lines += refused_lines(found["refused"])
    if found["recover"]:
        lines.append(f"Rows rebuilt from result.json, no fit: {listed(found['recover'], 8)}")
    if found["running"] is not None:
        holder = f" ({found['running']})" if found["running"] else ""
        lines.append(f"A survey is writing {found['out']} now{holder}: a second one there would be refused until it ends.")
    elif found.get("running_unknown"):
        lines.append(found["running_unknown"])
    for line in lines:
        console.print(line, soft_wrap=True, markup=False, highlight=False)


def refused_lines(refused: Mapping[str, str]) -> list[str]:
    """The dry run's lines of the lenses whose files would be ``refused`` (lens id -> why): the
    first :data:`MAX_REFUSED_SHOWN`, each with its message, then one naming the others."""
    items = list(refused.items())
    lines = [f"  {lens_id}: {why}" for lens_id, why in items[:MAX_REFUSED_SHOWN]]
    rest = [lens_id for lens_id, _ in items[MAX_REFUSED_SHOWN:]]
    if rest:
        whose = "lens whose files would be refused" if len(rest) == 1 else "lenses whose files would be refused"
        lines.append(f"  ... and {len(rest)} more {whose}: {listed(rest, 8)}")
    return lines


def survey(
    ctx: typer.Context,
    lens_dir: Path = typer.Argument(..., parser=path_value, metavar="LENS_DIR", help="Folder with one sub-folder per lens (image.fits, noise.fits, psf.fits, "
                                    "optionally mask.fits; each may also be gzipped or tile-compressed: "
                                    f"{survey_names_text()}).", show_default=False),
    config: Path = typer.Option(..., "--config", "-c", parser=path_value, metavar="FILE", help="Template model_config.yaml; its data paths and output.path "
                                "are set per lens.", show_default=False),
    out: Path = typer.Option(..., "--out", "--output", "-o", parser=path_value, metavar="FOLDER", help="Survey output folder (catalogue and one folder per lens); --output is the same option, as in fit.",
                             show_default=False),
    workers: int | None = typer.Option(None, "--workers", "-w", parser=whole_value, metavar="N", help="Local worker processes (default 2, or 1 where "
                                         "one core is available: CPU affinity, cgroup quota, a SLURM job's "
                                         "--cpus-per-task=1)."),
    scheduler: str | None = typer.Option(None, "--scheduler", metavar="ADDRESS|FILE", help="A running Dask "
                                         "scheduler instead of a local cluster: its address (e.g. tcp://10.0.0.1:8786) "
                                         "or its scheduler file (e.g. ~/sched.json, written by 'dask scheduler "
                                         "--scheduler-file')."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Fit again the lenses that failed in an earlier run."),
    reuse_finished: bool = typer.Option(False, "--reuse-finished", help="Keep the finished lenses of --out although "
                                        "they were fitted with another template, from another lens folder or in "
                                        "another precision (refused otherwise)."),
    only: str | None = typer.Option(None, "--only", metavar="IDS|FILE", help="Fit only these lenses: ids separated "
                                    "by commas, a CSV, Parquet, FITS or ECSV table with a lens_id column (e.g. inspect.csv of "
                                    "'tinylens report'), or a file of one id per line."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what the survey would do (lenses done, to "
                                 "fit, to resume) after checking the template, and which lenses to fit have files "
                                 "their fit would refuse; start nothing, write nothing."),
    no_pipeline: bool = typer.Option(False, "--no-pipeline", help="Fit each lens as 'tinylens fit --no-pipeline' "
                                     "does: the sampler alone over the full priors, no pipeline stage (the "
                                     "template's pipeline section read as {enabled: false}). Part of the template: "
                                     "a survey is continued with it as it was begun."),
    no_worker_wait: float | None = typer.Option(None, "--no-worker-wait", parser=number_value, metavar="SECONDS", help="Stop the survey "
                                                "(the finished lenses kept) once the local cluster has had no worker "
                                                "for this long: its workers died and were not started again (default "
                                                "120; 0: never). With --scheduler it is only said, and the survey "
                                                "waits for workers to connect.", show_default=False),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Fit every lens in LENS_DIR on a Dask cluster and collect a catalogue; run it again to resume."""
    from tinylens.interrupts import marked_on_interrupt
    from tinylens.survey.runner import available_cores, check_workers, crowded_workers, run_survey, survey_plan
    from tinylens.survey.watch import NoWorkersLeft, check_no_worker_wait
    from tinylens.survey.cluster import checked_scheduler
    from tinylens.survey.selection import nothing_listed, read_lens_ids

    CONFIG_READ.set(config)  # running out of memory names its keys as it writes them
    if workers is not None and scheduler is not None:
        raise TinyLensError("Give either --workers (a local cluster) or --scheduler (an existing one), not both.")
    if no_worker_wait is not None:
        check_no_worker_wait(no_worker_wait)
    if workers is not None:
        check_whole_workers(workers)
        cores = available_cores()
        check_workers(workers, cores)  # as the run would, before a dry run too
        crowded = crowded_workers(workers, cores)
        if crowded:
            print_warning(crowded)
    chosen = None if only is None else read_lens_ids(only)
    if chosen == []:  # a header-only table: nothing left to refit is no mistake
        console.print(nothing_listed(only), soft_wrap=True, markup=False, highlight=False)
        return
    if dry_run:
        if scheduler is not None:
            checked_scheduler(scheduler)
        with warnings_as_they_come():
            found = survey_plan(lens_dir, config, out, retry_failed=retry_failed, reuse_finished=reuse_finished,
                                only=chosen, pipeline=not no_pipeline)
        print_plan(found, retry_failed)
        return
    start = time.perf_counter()
    with marked_on_interrupt(SURVEY_CHOSEN_ATTR, chosen):  # a Ctrl-C's hint counts the chosen lenses
        with warnings_as_they_come():
            try:
                frame = run_survey(lens_dir, config, out, workers=workers,
                                   scheduler=scheduler, progress=not quiet, retry_failed=retry_failed,
                                   reuse_finished=reuse_finished, only=chosen, pipeline=not no_pipeline,
                                   no_worker_wait=no_worker_wait)
            except NoWorkersLeft as exc:  # the command that resumes, as the user typed it
                raise TinyLensError(exc.text(rerun_command(ctx, retry_failed))) from None
        resolved = out.expanduser().resolve()
        with survey_written(resolved):  # a Ctrl-C from here on finds everything written
            _print_summary(frame, resolved, time.perf_counter() - start, retry_failed, chosen, config, lens_dir,
                           pipeline=not no_pipeline)


def check_whole_workers(workers: Any) -> None:
    """ConfigValueError unless ``workers`` (``--workers`` as :func:`~tinylens.cli.simulate_population.whole_value`
    read it: ``1e3`` is 1000, ``1e400`` the whole number typed) is a whole number, which the run's own check
    (counts of at least 1 and of the cores) then judges: ``2.5``, ``nan``, ``inf`` or ``abc`` is refused
    here, in one line as a count out of range is, not in click's box of usage; the same check, and
    words, as ``run_survey(workers=2.5)``'s (:func:`tinylens.survey.runner.check_whole_workers`)."""
    from tinylens.survey.runner import check_whole_workers as check

    check(workers)


def rerun_command(ctx: Any, retry_failed: bool) -> str:
    """The shell line of the ``tinylens survey`` command of ``ctx``, which resumes it; without
    ``--retry-failed``, which the survey has acted on already (a lens that failed again stays failed,
    as after Ctrl-C)."""
    from tinylens.cli.common import ARGS_KEY, without_flag

    command = shlex.join([ctx.find_root().info_name or "tinylens", *ctx.meta.get(ARGS_KEY, [])])
    return without_flag(command, "--retry-failed") if retry_failed else command


def budget_stopped_text(stopped: Mapping[str, str | None], template: Path, others: int = 0,
                        written: Mapping[str, Any] | None = None) -> str:
    """The line after a survey some of whose lenses the sampler's budget ``stopped`` (lens id: the
    limit that stopped it, None where not recorded; :func:`tinylens.survey.resume.budget_stopped`):
    how many, by limit, and that raising or removing it in the ``template`` and running the same
    command again fits them further from their checkpoints; and how many ``others`` it stopped
    were fitted with other settings than the template's or in another precision (kept by
    ``--reuse-finished``), which that does not fit further. ``written``: the template as parsed
    (:func:`~tinylens.survey.template.load_template`), whose limits are named as it writes them
    (:func:`~tinylens.config.loader.key_as_written`: ``sampling.n_like_max`` for TinyLensGpu's older
    ``sampling`` section); None where it cannot be read."""
    from tinylens.config.loader import key_as_written
    from tinylens.survey.provenance import BUDGET_SETTINGS

    kept = (f"{lens_count(others)} kept by --reuse-finished from fits of other settings than the template's "
            "(or of another precision) "
            f"{'was' if others == 1 else 'were'} stopped by the sampler's budget{' too' if stopped else ''}: a raised "
            f"limit does not fit {'it' if others == 1 else 'them'} further.") if others else ""
    if not stopped:
        return kept
    by_limit = Counter(stopped.values())
    limits = [name for name in BUDGET_SETTINGS if by_limit[name] or by_limit[None]]
    # "3 by n_like_max", not "n_like_max: 3", which reads as the setting's value
    counts = [f"{by_limit[name]} by {name}" for name in BUDGET_SETTINGS if by_limit[name]]
    counts += [f"{by_limit[None]} with the limit not recorded"] if by_limit[None] else []
    which = ", ".join(key_as_written(written or {}, f"inference.settings.{name}") for name in limits)
    limit = f"the limit that stopped {'it' if len(stopped) == 1 else 'each'} ({which})" if len(limits) > 1 else which
    them = "it" if len(stopped) == 1 else "them"
    return (f"{lens_count(len(stopped))} stopped by the sampler's budget before converging ({', '.join(counts)}): "
            f"to fit {them} further from {'its checkpoint' if len(stopped) == 1 else 'their checkpoints'}, raise or "
            f"remove {limit} in the template [bold]{escape(str(template))}[/] and run the same command again."
            + (f" {kept}" if kept else ""))


def _print_summary(frame, out: Path, seconds: float, retry_failed: bool, chosen: Sequence[str] | None = None,
                   template: Path | None = None, lens_dir: Path | None = None, pipeline: bool = True) -> None:
    """The lines after a survey (:func:`summary_line`, of the lenses ``chosen`` by ``--only``
    where given; what to do of its failed lenses, and, given its ``template`` (read as the survey
    read it, without its pipeline where not ``pipeline``) and ``lens_dir``, of
    those its sampler's budget stopped: :func:`budget_stopped_text`); exit :data:`EXIT_ALL_FAILED` if every lens
    failed (every chosen lens with ``--only``: an earlier run's lenses that were ok are not this run's success)."""
    import shlex
    import socket
    import sys

    from tinylens.inference import install_command
    from tinylens.survey.task import missing_on_workers
    from tinylens.survey.resume import stopped_results, stopping_limits
    from tinylens.survey.template import load_template

    console.print(summary_line(frame, out, seconds, chosen), soft_wrap=True)
    rows = chosen_rows(frame, chosen)
    records = rows[["lens_id", "status", "flags"]].to_dict("records") if template is not None and len(rows) else []
    results = stopped_results(records, out, lens_dir) if records else {}  # each result.json read once
    if results:
        stopped = stopping_limits(results, out)
        try:
            written = load_template(template, pipeline)
            further = stopping_limits(results, out, written)
        except TinyLensError:  # the template is gone or broken since the survey read it: all, as before
            written, further = None, stopped
        console.print(budget_stopped_text(further, template, len(stopped) - len(further), written), soft_wrap=True)
    status = list(rows["status"]) if len(rows) else []
    failed_reasons = list(rows.loc[rows["status"] == "failed", "reason"]) if len(rows) else []
    missing = missing_on_workers(failed_reasons)
    if "failed" in status and not retry_failed and sum(missing.values()) < len(failed_reasons):
        # with --only, an unchosen lens's failure is not this run's; a worker's missing package is said below
        console.print("A failed lens is not fitted again when the survey is rerun unless you add "
                      "[bold]--retry-failed[/] (after fixing the template, add --reuse-finished to keep the finished "
                      "ones; a lens whose files you replace is fitted again anyway); the reasons are in the catalogue's 'reason' column.", soft_wrap=True)
    own = shlex.quote(sys.executable) + " -m pip install "
    for (host, package, command), count in sorted(missing.items(), key=lambda item: (*item[0][:2], item[0][2] or "")):
        if command is None:  # the reason was cut within it: the worker's Python is not known here
            command = install_command("python", package) + " with its Python"
        if host == socket.gethostname() and command.startswith(own):  # a local worker: this survey's own Python
            where = (f"this machine ({escape(host)})[/], whose worker, in this survey's own Python, could not import "
                     f"the package {escape(package)}: install it ([bold]{escape(command)}[/])")
        else:
            where = (f"host {escape(host)}[/], whose worker lacks the package {escape(package)}: install it there "
                     f"([bold]{escape(command)}[/]) or start that worker in this survey's environment")
        console.print(f"[red]{lens_count(count)} failed on {where}, then run the same command again with "
                      "[bold]--retry-failed[/].", soft_wrap=True)
    if status and "ok" not in status:
        # a batch script must not read a survey in which nothing worked as a success
        reasons = sorted(set(rows["reason"]))
        every = "Every lens failed." if chosen is None else "Every lens chosen by --only failed."
        console.print(f"[red]{every}[/] Reasons ({len(reasons)} distinct, the catalogue's "
                      f"'reason' column): {escape(reasons[0])}" + (" ..." if len(reasons) > 1 else ""), soft_wrap=True)
        raise typer.Exit(EXIT_ALL_FAILED)


def register(app: typer.Typer) -> None:
    """Add the ``survey`` command to ``app``."""
    app.command("survey", cls=TinyLensCommand)(survey)
