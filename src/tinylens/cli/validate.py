"""``tinylens validate CONFIG``: load data and model, evaluate the likelihood, report."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from tinylens.cli.common import TinyLensCommand, console, path_value, print_warning, reported_warnings
from tinylens.errors import counted


def load_problem(config: Path):
    """``tinylens.load(config)`` with its warnings printed readably on stderr; the settings that the
    config alone tells are checked before the data are (:func:`tinylens.fitting.checks.check_settings_first`)."""
    from tinylens.config.loader import read_config_first
    from tinylens.fitting.checks import check_settings_first

    with reported_warnings():
        read = read_config_first(config, None, None)  # as tinylens.load reads it
        check_settings_first(read[0], config)
        from tinylens.problem import LOAD_ORIGIN, load_from

        return load_from(config, None, LOAD_ORIGIN, read=read)


def priors_table(problem) -> Table:
    """A table of the free parameters and their priors."""
    table = Table(title=f"{problem.ndim} free parameters", title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("parameter")
    table.add_column("prior")
    for i, (name, prior) in enumerate(zip(problem.param_names, problem.priors)):
        about = problem.spec.relative_to.get(i)
        table.add_row(str(i), name, prior.describe() + (f", the difference from {about}" if about else ""))
    return table


def supersampling_text(problem) -> str:
    """The supersampling the fit uses: one factor (uniform), or how many pixels get each factor of
    the adaptive map (where ``dataset.nsub`` is not read)."""
    factors = problem.nsub_map
    if np.isscalar(factors):
        return f"uniform, {factors}x{factors} per pixel"
    levels, counts = np.unique(np.asarray(factors), return_counts=True)
    return "adaptive, " + ", ".join(f"{n}x{n} for {counted(int(c), 'pixel')}" for n, c in zip(levels, counts))


def pipeline_text(problem, no_pipeline: bool = False) -> str:
    """The stages ``tinylens fit`` runs, from the config's ``pipeline`` section and the model
    (README, "The automated pipeline"): stages 1-3, then the sampler in a box or the full priors;
    one plain run where the pipeline is off (by the config, or by ``no_pipeline``: ``tinylens fit
    --no-pipeline``, ``problem`` then :func:`tinylens.fitting.checks.without_pipeline`'s) or an optimiser searches."""
    from tinylens.inference import search_of
    from tinylens.pipeline.run import BOXED_SAMPLER_DEFAULTS

    inf, spec = problem.config.inference, problem.spec
    settings = search_of(problem)[3]
    if inf.type != "sampler":
        return f"none: the {inf.method} optimiser searches the full priors"
    if settings is None:
        why = "--no-pipeline" if no_pipeline else "pipeline.enabled: false"
        return f"off ({why}): one {inf.method} run over the full priors"
    if not spec.lens_light:
        stage1 = "1 skipped (no lens light in the model)"
    else:
        stage1 = "1 lens light" if settings.lens_light else "1 skipped (pipeline.lens_light: false)"
    stage2 = "2 arc" if settings.arc else "2 arc, theta_E not started from it (pipeline.arc: false)"
    stage3 = "3 mass and source" if spec.lens_mass or spec.source_light else "3 lens light again"
    n = settings.max_widen
    widened = f"widened up to {counted(n, 'time')}" if n else "never widened"
    where = (f"in a box of {settings.n_sigma:g} Laplace widths around the best fit, {widened}" if settings.bounded
             else "over the full priors (pipeline.bounded: false)")
    added = {k: v for k, v in BOXED_SAMPLER_DEFAULTS.get(inf.method, {}).items() if k not in inf.settings}
    also = f" ({', '.join(f'{k}={v}' for k, v in added.items())}: the pipeline's default)" if added else ""
    return f"{stage1}, {stage2}, {stage3}, 4 {inf.method}{also} {where}"


def summary_table(problem, log_l: float, seconds: float, no_pipeline: bool = False) -> Table:
    """Image size, pixels used, linear amplitudes, the search (its row named by the config's section,
    ``inference`` or TinyLensGpu's ``sampling``; the pipeline's stages, none with ``no_pipeline``) and
    the likelihood at the prior median."""
    d = problem.dataset
    ny, nx = d.data.shape
    used = int(np.asarray(d.mask, dtype=bool).sum())
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("image", f"{ny} x {nx} pixels at {d.pixel_scale:g}\"/pixel")
    table.add_row("supersampling", supersampling_text(problem))
    table.add_row("pixels used", f"{used} of {ny * nx}")
    table.add_row("PSF", f"{d.psf.shape[0]} x {d.psf.shape[1]}")
    table.add_row("linear amplitudes", str(problem.spec.n_linear))
    from tinylens.config.loader import key_as_written

    inf = problem.config.inference
    settings = ", ".join(f"{k}={v}" for k, v in inf.settings.items())
    # the section as the config wrote it: TinyLensGpu's older 'sampling:' is named so, not 'inference'
    table.add_row(key_as_written(problem.config, "inference"), f"{inf.type} {inf.method}" + (f" ({settings})" if settings else ""))
    table.add_row("pipeline stages", pipeline_text(problem, no_pipeline))
    table.add_row("log L at prior median", f"{log_l:.6g}  ({seconds * 1e3:.0f} ms incl. compilation)")
    return table


def validate(config: Path = typer.Argument(..., parser=path_value, metavar="CONFIG", help="The model_config.yaml to check.", show_default=False),
             no_pipeline: bool = typer.Option(False, "--no-pipeline", help="Check the config as 'tinylens fit "
                                              "--no-pipeline' fits it: the sampler alone over the full priors, "
                                              "no pipeline stage.")) -> None:
    """Check a config and its data: load them, evaluate the likelihood, list the free parameters with their priors and the stages a fit runs.

    The likelihood is evaluated at the prior median (u = 0.5) and, where it is not finite there, at up to 64 draws from the prior; a likelihood finite nowhere is an error (exit 2).
    """
    from tinylens.errors import OutputError
    from tinylens.fitting.checks import check_inputs_kept, check_likelihood, check_settings, without_pipeline
    from tinylens.fitting.folder import output_dir

    problem = load_problem(config)  # a config's mistake said before JAX and pandas are imported (seconds)
    from tinylens.results.tables import file_in_the_way

    if no_pipeline:  # as tinylens fit --no-pipeline runs it, checked with the same settings
        problem = without_pipeline(problem)
    out = output_dir(problem, config=config)
    check_settings(problem, out, config=config)  # with the folder, as a fit checks: dynesty's history not over result.json
    blocked = file_in_the_way(out)
    if blocked is not None:  # what fit would refuse first, found without creating the folder
        raise OutputError(f"output.path: the output folder {out} cannot be made ({blocked} is a file, not a folder). "
                          "Choose another output.path in the config (or give 'tinylens fit' an --output).")
    check_inputs_kept(problem, out, config)
    start = time.perf_counter()
    with reported_warnings():
        log_l = check_likelihood(problem, config)
    seconds = time.perf_counter() - start
    console.print(priors_table(problem))
    console.print(summary_table(problem, log_l, seconds, no_pipeline))
    if not np.isfinite(log_l):
        print_warning(
            f"the log-likelihood at the prior median is {log_l} (it is finite elsewhere in the prior, "
            "so a fit can start; check that the priors are meant to reach such values)."
        )
        console.print(f"[yellow]Loaded[/]: {escape(str(config))} loads, but check the warning above before fitting it.",
                      soft_wrap=True)
        return
    console.print(f"[green]OK[/]: {escape(str(config))} is ready to fit.", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``validate`` command to ``app``."""
    app.command("validate", cls=TinyLensCommand)(validate)
