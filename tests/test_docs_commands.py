"""README.md and docs/*.md against the command line they show: users copy these commands, so
each ``tinylens COMMAND ...`` must name a command that exists and only options it takes, and each
``python examples/... --option`` or ``python benchmarks/... --option`` a script that exists and
declares that option. (docs/config.md's keys are checked by tests/config/test_config_doc.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from tinylens.cli.main import app

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: ``-x`` / ``--long-name`` tokens, not inside a word or a path (``run-1``, ``a/--b``) and not
#: a negative number (``--set x=-1``'s value).
OPTION = re.compile(r"(?<![\w./=-])(--?[A-Za-z][\w-]*)")


def _commands() -> dict[str, set[str]]:
    """Every ``tinylens`` command with the option names it takes."""
    group = typer.main.get_command(app)
    return {name: {opt for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}
            | {"--help", "-h"} for name, cmd in group.commands.items()}


#: An inline code span: a run of backticks, then everything up to the next run of as many
#: (CommonMark's rule: ``` `` `x` `` ``` holds `` `x` ``; a span goes on across a line's end).
SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)


def _command_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, text)`` of every command shown: each inline code span (one that a paragraph
    wraps over two lines joined into one, numbered by the line it starts on) and each line of a
    fenced block, a block's lines ending in ``\\`` joined to the next; a ``#`` comment cut off."""
    found: list[tuple[int, str]] = []
    in_block, pending, start = False, "", 0
    paragraph: list[str] = []
    first = 0

    def spans() -> None:
        joined = "\n".join(paragraph)
        for match in SPAN.finditer(joined):
            where = first + joined.count("\n", 0, match.start())
            found.append((where, match.group(2).replace("\n", " ").strip()))
        paragraph.clear()

    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            spans()
            in_block = not in_block
            continue
        if in_block:
            code = re.sub(r"\s#\s.*$", "", line)
            if not pending:
                start = number
            if code.rstrip().endswith("\\"):
                pending += code.rstrip()[:-1] + " "
                continue
            found.append((start, pending + code))
            pending = ""
        elif not line.strip():
            spans()
        else:
            if not paragraph:
                first = number
            paragraph.append(line)
    spans()
    return found


def _invocations(page: Path):
    """``(where, program, rest of the command)`` of each ``tinylens X`` and ``python SCRIPT`` shown
    on ``page``; several on one line (``cmd1 && cmd2``, ``a; b``) are split apart. Python's
    ``import tinylens`` and ``from tinylens import fit`` are none."""
    for number, code in _command_lines(page.read_text()):
        for part in re.split(r"&&|;|\|", code):
            match = re.search(r"(?:^|\s)(?<!import )(?<!from )(tinylens|python3? (?:examples|benchmarks)/\S+\.py)"
                              r"(?:\s+(.*))?$", part)
            if match:
                yield f"{page.name}:{number}", match.group(1), (match.group(2) or "")


def test_the_pages_show_commands():
    """The scan below finds what it checks (a broken pattern would pass every page)."""
    shown = [program for page in PAGES for _, program, _ in _invocations(page)]
    assert shown.count("tinylens") > 50
    assert sum(program.startswith("python") for program in shown) > 10


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_tinylens_command_and_option_shown_exists(page):
    commands = _commands()
    wrong = []
    for where, program, rest in _invocations(page):
        if program != "tinylens":
            continue
        words = rest.split()
        if not words or words[0].startswith("-") or words[0].isupper() or not re.fullmatch(r"[a-z][a-z-]*", words[0]):
            continue  # `tinylens --version`, a placeholder (`tinylens COMMAND`), prose
        name = words[0]
        if name not in commands:
            wrong.append(f"{where}: no command {name!r} in: tinylens {rest}")
            continue
        for option in OPTION.findall(" ".join(words[1:])):
            if option.split("=")[0] not in commands[name]:
                wrong.append(f"{where}: tinylens {name} has no option {option} (shown: tinylens {rest.strip()})")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_script_shown_exists_and_takes_its_options(page):
    wrong = []
    for where, program, rest in _invocations(page):
        if not program.startswith("python"):
            continue
        script = ROOT / program.split()[1]
        if not script.is_file():
            wrong.append(f"{where}: no script {script.relative_to(ROOT)}")
            continue
        source = script.read_text()
        for option in OPTION.findall(rest):
            option = option.split("=")[0]
            if f'"{option}"' not in source and f"'{option}'" not in source:
                wrong.append(f"{where}: {script.relative_to(ROOT)} declares no option {option}")
    assert wrong == [], "\n".join(wrong)


def _resolve(dotted: str) -> object:
    """The module or object ``dotted`` names (``tinylens.results.stored.load_stored``)."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
            break
        except ImportError:
            continue
    for part in parts[cut:]:
        found = getattr(found, part)
    return found


def _imported(text: str) -> set[str]:
    """``module.name`` of each name a ``from tinylens... import`` in ``text`` imports: one name or
    several, ``name as alias`` (the name counts), or a parenthesised list over several lines."""
    found = set()
    for module, imported in re.findall(r"from (tinylens[\w.]*) import (\([^)]*\)|[\w, ]+)", text):
        for name in re.sub(r"#[^\n]*", "", imported).strip("()").split(","):
            if name.split():
                found.add(f"{module}.{name.split()[0]}")
    return found


def test_every_form_of_import_is_read():
    text = ("from tinylens import fit\nfrom tinylens.survey.runner import run_survey as survey, fit_digest\n"
            "from tinylens.results import (\n    load_stored,  # a comment\n    Summary,\n)\n")
    assert _imported(text) == {"tinylens.fit", "tinylens.survey.runner.run_survey",
                               "tinylens.survey.runner.fit_digest", "tinylens.results.load_stored",
                               "tinylens.results.Summary"}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_python_name_shown_exists(page):
    """``tinylens.X.Y`` and ``from tinylens.X import A, B`` on the pages name what the package has:
    the functions, classes and warnings a user's script would import."""
    text = page.read_text()
    names = set(re.findall(r"\btinylens(?:\.[A-Za-z_]\w*)+", text))
    names.update(_imported(text))
    wrong = []
    for name in sorted(names):
        try:
            _resolve(name)
        except (ImportError, AttributeError) as error:
            wrong.append(f"{page.name}: {name} ({error})")
    assert wrong == [], "\n".join(wrong)


def test_a_code_span_wrapped_over_two_lines_is_read_whole():
    """A paragraph wraps where its width says, inside a code span too (docs/slacs.md's
    ``tinylens survey plain7 --config plain100.yaml`` / ``--out runPlain7 --workers 2``): the span is
    one command, and the prose between two spans is none."""
    text = ("Measured with `tinylens survey plain7 --config plain100.yaml\n"
            "--out runPlain7 --workers 2`; then tinylens fit --bogus and `python\n"
            "examples/recheck_peaks.py runPlain7 --lens-dir d`.\n\n"
            "A table cell `` `a` `` and `tinylens report x`.\n")
    assert _command_lines(text) == [
        (1, "tinylens survey plain7 --config plain100.yaml --out runPlain7 --workers 2"),
        (2, "python examples/recheck_peaks.py runPlain7 --lens-dir d"),
        (5, "`a`"),
        (5, "tinylens report x"),
    ]


@pytest.mark.parametrize("shown", ["`tinylens reports run100/catalog.csv`", "`tinylens fits model_config.yaml`",
                                   "```bash\ntinylens surveys lenses\n```"])
def test_a_command_misspelt_without_an_option_is_found(tmp_path, shown):
    """A command name that does not exist is wrong with or without options after it; Python's
    imports of the package are not commands."""
    page = tmp_path / "page.md"
    page.write_text(f"{shown}\n\n```python\nimport tinylens\nfrom tinylens import fit\n```\n")
    with pytest.raises(AssertionError, match="no command"):
        test_every_tinylens_command_and_option_shown_exists(page)
    page.write_text(shown.replace("reports", "report")
                    .replace("fits", "fit").replace("surveys", "survey")
                    + "\n\n```python\nimport tinylens\nfrom tinylens import fit\n```\n")
    test_every_tinylens_command_and_option_shown_exists(page)
