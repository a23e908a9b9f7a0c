"""The CLI's warning report: what a user is shown, once, and what is left out."""

from __future__ import annotations

import warnings

from tinylens.cli import common
from tinylens.errors import DataWarning


def test_reported_warnings_prints_each_once_and_leaves_out_deprecations(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(common, "print_warning", shown.append)
    with common.reported_warnings():
        warnings.warn("12 pixels masked", DataWarning, stacklevel=1)
        warnings.warn("12 pixels masked", DataWarning, stacklevel=1)
        warnings.warn("'parseString' deprecated - use 'parse_string'", DeprecationWarning, stacklevel=1)
        warnings.warn("old keyword", PendingDeprecationWarning, stacklevel=1)
        warnings.warn("the sampler did not converge", RuntimeWarning, stacklevel=1)
    assert shown == ["12 pixels masked", "the sampler did not converge"]


def test_main_help_gives_each_command_one_line():
    """``tinylens --help`` on a wide terminal: one row per command, in the documented order, no
    summary broken over lines by its docstring's line breaks."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    panel = result.output.split("Commands")[1].split("╰")[0]
    rows = [line.strip("│ ").split()[0] for line in panel.splitlines()[1:] if line.strip("│ ")]
    assert rows == ["fit", "validate", "demo", "simulate-population", "survey", "report"]
