"""``tinylens fit CONFIG``: sample the posterior with :func:`tinylens.fit` and report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from tinylens.cli.common import console, reported_warnings


def medians_table(result: Any, max_rows: int = 40) -> Table:
    """Posterior medians (with 16-84 % ranges when the summary has them)."""
    table = Table(title="Posterior medians", title_justify="left")
    table.add_column("parameter")
    table.add_column("median", justify="right")
    summary = getattr(result, "summary", None)
    has_ci = summary is not None and {"p16", "p84"} <= set(getattr(summary, "columns", []))
    if has_ci:
        table.add_column("16 % - 84 %", justify="right")
    for i, (name, value) in enumerate(dict(result.median).items()):
        if i == max_rows:
            table.add_row("...", "", *([""] if has_ci else []))
            break
        row = [name, f"{value:.4g}"]
        if has_ci:
            row.append(_interval(summary, name))
        table.add_row(*row)
    return table


def _interval(summary: Any, name: str) -> str:
    try:
        rows = summary.loc[name] if name in summary.index else summary[summary["parameter"] == name].iloc[0]
        return f"{float(rows['p16']):.4g} - {float(rows['p84']):.4g}"
    except (KeyError, IndexError, TypeError, ValueError):
        return ""


def print_result(result: Any) -> None:
    """Where the results are, the evidence, the cost, and the medians."""
    console.print(medians_table(result))
    console.print(
        f"log Z = {result.log_evidence:.2f}; {result.n_likelihood_evals:,} likelihood evaluations "
        f"in {result.wall_time_s:.1f} s."
    )
    console.print(f"Results written to [bold]{result.output_dir}[/]")


def run_fit(config: Path | str | dict, output: Path | None = None, quiet: bool = False) -> Any:
    """:func:`tinylens.fit` (which checks the output folder before sampling) with its warnings
    printed readably."""
    from tinylens.fit import fit

    with reported_warnings():
        return fit(config, progress=not quiet, output=output)


def fit_command(
    config: Path = typer.Argument(..., help="The model_config.yaml to fit.", show_default=False),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output from the sampler."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Output folder (overrides output.path)."),
) -> None:
    """Fit a lens model: sample the posterior and write tables and figures."""
    result = run_fit(config, output=output, quiet=quiet)
    print_result(result)


def register(app: typer.Typer) -> None:
    """Add the ``fit`` command to ``app``."""
    app.command("fit")(fit_command)
