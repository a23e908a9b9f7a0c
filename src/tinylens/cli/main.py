"""The ``tinylens`` command line.

Each command lives in its own module under :mod:`tinylens.cli` and exposes
``register(app: typer.Typer) -> None``; add a new command by writing such a module and listing
it in :data:`COMMAND_MODULES`. User errors are handled once, for every command, by
:class:`tinylens.cli.common.TinyLensGroup`.
"""

from __future__ import annotations

import importlib

import typer

from tinylens import __version__
from tinylens.cli.common import TinyLensGroup, console

#: Modules (under tinylens.cli) that each register one or more commands, in help order.
COMMAND_MODULES: tuple[str, ...] = ("fit", "validate", "demo", "simulate_population", "survey", "report")

app = typer.Typer(
    name="tinylens",
    cls=TinyLensGroup,
    help="Fast, automated modelling of galaxy-galaxy strong lenses (JAX + nested sampling). float32 by "
         "default; the environment variable TINYLENS_PRECISION=float64 makes every command compute in float64.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["--help", "-h"]},  # -h as most tools take it, for every command
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"tinylens {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Fast, automated modelling of galaxy-galaxy strong lenses (JAX + nested sampling)."""


def _register_all(target: typer.Typer) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"tinylens.cli.{name}").register(target)


_register_all(app)


def main() -> None:
    """Entry point for ``python -m tinylens``."""
    app(prog_name="tinylens")


if __name__ == "__main__":
    main()
