"""Every cross-reference to a tinylens name in the package's docstrings and comments, the
benchmarks, the examples and the docs (``:func:`tinylens.x.y```, ``:data:`~tinylens.x.Y```, ...)
names one that exists: a reader following it, or Sphinx, finds the name where it is said to be."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROLE = re.compile(r":(?:func|data|class|meth|attr|mod|exc|obj):`~?(tinylens(?:\.\w+)+)`")


def _found(dotted: str) -> bool:
    """Whether ``dotted`` is a module of tinylens, or a name reached from the longest one of its
    prefixes that imports, attribute by attribute."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        for part in parts[end:]:
            if not hasattr(found, part):
                return False
            found = getattr(found, part)
        return True
    return False


def _texts() -> list[Path]:
    files = [*sorted((ROOT / "src" / "tinylens").rglob("*.py")), *sorted((ROOT / "benchmarks").rglob("*.py")),
             *sorted((ROOT / "examples").rglob("*.py")), *sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
    return [path for path in files if path.is_file()]


def test_every_cross_reference_to_a_tinylens_name_finds_it():
    """After fit.py and the survey's runner.py were split into modules, two references still named
    the old homes (runner.py's tinylens.fit.INTERRUPTED_FOLDER_ATTR, now in tinylens.interrupts, and a
    benchmark's tinylens.survey.runner.budget_stopped, now in tinylens.survey.resume)."""
    missing = []
    for path in _texts():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            missing += [f"{path.relative_to(ROOT)}:{number}: {name}" for name in ROLE.findall(line) if not _found(name)]
    assert not missing, "\n".join(missing)
    assert _found("tinylens.survey.resume.budget_stopped") and not _found("tinylens.survey.runner.no_such_name")
