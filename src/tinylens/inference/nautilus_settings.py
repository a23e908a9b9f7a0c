"""nautilus's setting names, read from its installed source without importing it.

``import nautilus`` takes a second or more (it imports scikit-learn, and pandas with it), and a
fit checked its settings only once JAX and the data were loaded: a misspelt ``nlvie`` was said
after 13-15 s. :func:`check_names` says it, and a value :data:`~tinylens.inference.common.VALUE_RULES`
refuses, once the config is read, with the message
:mod:`tinylens.inference.nautilus_runner` gives (the names are the keywords of the installed
nautilus's ``Sampler`` and ``Sampler.run``, read from its source, so that they follow its version);
what needs nautilus itself (a value its ``Sampler`` refuses) is left to that module's check.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from tinylens.inference.common import check_settings

DEFAULTS: dict[str, Any] = {"n_live": 300, "n_batch": 256, "seed": 0, "resume": True, "verbose": False,
                            "checkpoint_every": 60.0}
ALIASES = {"nlive": "n_live", "batch_size": "n_batch"}
#: Settings tinylens handles itself (not nautilus's).
OWN_KEYS = {"checkpoint_every"}
#: Sampler arguments tinylens sets itself.
RESERVED = {"prior", "likelihood", "n_dim", "vectorized", "pass_dict", "filepath", "pool", "blobs_dtype",
            "prior_args", "prior_kwargs", "likelihood_args", "likelihood_kwargs"}


def _keywords(function: ast.FunctionDef) -> set[str]:
    """The parameters of ``function`` that a keyword can give (not ``self``, ``*args``, ``**kwargs``)."""
    args = function.args
    return {a.arg for a in (*args.args, *args.kwonlyargs)} - {"self"}


@lru_cache(maxsize=1)
def source_keywords() -> tuple[frozenset[str], frozenset[str]] | None:
    """The keywords of the installed nautilus's ``Sampler.__init__`` (less :data:`RESERVED`) and of
    ``Sampler.run``, read from the source of its package (the module defining ``class Sampler``);
    None where that cannot be found or read (nautilus not installed, or installed without its
    source): the check is then left to :mod:`tinylens.inference.nautilus_runner`."""
    try:
        spec = importlib.util.find_spec("nautilus")  # a top-level package: found, not imported
    except (ImportError, ValueError):
        return None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for path in sorted(p for folder in folders for p in Path(folder).glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == "Sampler":
                methods = {f.name: f for f in node.body if isinstance(f, ast.FunctionDef)}
                if "__init__" in methods and "run" in methods:
                    return (frozenset(_keywords(methods["__init__"]) - RESERVED),
                            frozenset(_keywords(methods["run"])))
    return None


def check_names(settings: dict[str, Any]) -> None:
    """Raise the ConfigError :mod:`tinylens.inference.nautilus_runner` raises for a setting nautilus
    does not have, a value :data:`~tinylens.inference.common.VALUE_RULES` refuses or one above its
    caps, without importing nautilus (nor scikit-learn, nor JAX); nothing where its source cannot be read."""
    found = source_keywords()
    if found is None:
        return
    sampler_keys, run_keys = found
    check_settings("nautilus", settings, sampler_keys | run_keys | OWN_KEYS | set(ALIASES), ALIASES)
