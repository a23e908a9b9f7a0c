"""The test run does not take the terminal settings of the environment it was started from."""

from __future__ import annotations

import io
import os

from rich.console import Console

#: rich's terminal settings (rich.console.Console reads each from the environment)
TERMINAL_VARIABLES = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "TERM", "COLUMNS", "LINES")


def test_a_run_started_with_terminal_variables_renders_as_on_a_plain_runner():
    """A CI runner or an Emacs shell may export TERM=dumb, FORCE_COLOR=1 or COLUMNS: with TERM=dumb
    the bar tests' consoles of 60 columns rendered 80 wide (9 failures), with FORCE_COLOR=1 or
    TTY_COMPATIBLE=1 the plain-line tests got live bars (21 and 22 failures). The run now starts
    without them: pytest's captured stderr is no terminal and a console asked for 60 columns has 60."""
    assert not [name for name in TERMINAL_VARIABLES if name in os.environ]
    console = Console(file=io.StringIO(), width=60, force_terminal=True, color_system=None)
    assert console.width == 60 and not console.is_dumb_terminal
    assert not Console(stderr=True).is_terminal  # pytest captures stderr: a pipe, not a terminal
    console.print("x" * 100, overflow="ellipsis", no_wrap=True, crop=True)
    assert len(console.file.getvalue().rstrip("\n")) == 60
