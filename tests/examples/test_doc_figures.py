"""The figures of docs/slacs.md drawn by the example scripts: each has the command that draws it
(its ``-o``), and the scripts' docstrings show their commands as they are typed."""

from __future__ import annotations

import ast
import re
import shlex

from scripts import ROOT

SLACS = ROOT / "docs" / "slacs.md"


def _doc_commands(text: str) -> list[list[str]]:
    """The ``python examples/...`` commands of ``text``'s bash blocks, continuation lines joined."""
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [shlex.split(line, comments=True) for line in lines if line.startswith("python examples/")]


def test_every_figure_of_the_slacs_page_has_the_command_that_draws_it():
    text = SLACS.read_text()
    figures = re.findall(r"\]\(images/(slacs_[^)]+\.png)\)", text)
    written = {cmd[cmd.index("-o") + 1] for cmd in _doc_commands(text) if "-o" in cmd}
    assert figures and not [f for f in figures if f not in written], written


def test_docstring_commands_keep_their_line_breaks():
    """A single backslash at a line's end in a docstring joins the lines: the command printed
    (help(), pydoc) ran on as 'J0405-0455         --template ...'."""
    joined = []
    for path in sorted([*ROOT.glob("examples/**/*.py"), *ROOT.glob("benchmarks/*.py")]):
        doc = ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""
        joined += [f"{path.name}: {line}" for line in doc.splitlines() if re.search(r"\S {5,}(--|\[)", line)]
    assert not joined
