"""nautilus's setting names, read from its installed source without importing it.

``import nautilus`` takes a second or more (it imports scikit-learn, and pandas with it), and a
fit checked its settings only once JAX and the data were loaded: a misspelt ``nlvie`` was said
after 13-15 s. :func:`check_names` says it, and a value :data:`~tinylens.inference.common.VALUE_RULES`
refuses, once the config is read, with the message
:mod:`tinylens.inference.nautilus_runner` gives (the names are the keywords of the installed
nautilus's ``Sampler`` and ``Sampler.run``, read from the source of the class ``nautilus.Sampler``
names, so that they follow its version; where the source does not tell them all, nothing is checked here);
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


def _keywords(function: ast.FunctionDef) -> set[str] | None:
    """The parameters of ``function`` that a keyword can give (not ``self``); None where it also
    takes ``*args`` or ``**kwargs``, whose names its signature does not tell."""
    args = function.args
    if args.vararg is not None or args.kwarg is not None:
        return None
    return {a.arg for a in (*args.args, *args.kwonlyargs)} - {"self"}


#: How many ``from .module import Sampler`` the search follows from the package's ``__init__.py``.
MAX_HOPS = 4


def _module_file(folder: Path, parts: list[str]) -> Path | None:
    """The source file of the package's submodule ``parts`` (its dotted name's parts, from ``folder``)."""
    base = folder.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _binds_sampler(node: ast.AST) -> bool:
    """Whether ``node`` (or a statement within it) binds the name ``Sampler``."""
    for n in ast.walk(node):
        if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "Sampler":
            return True
        if isinstance(n, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) in ("Sampler", "*") for a in n.names):
            return True
        if isinstance(n, ast.Name) and n.id == "Sampler" and isinstance(n.ctx, (ast.Store, ast.Del)):
            return True
    return False


def _sampler_class(folder: Path) -> ast.ClassDef | None:
    """The ``class Sampler`` that ``nautilus.Sampler`` names: the one its ``__init__.py`` defines, or
    the one of the module it takes it from (``from .sampler import Sampler``), followed as Python
    would; None where the source does not tell (a star import, another package's, a name bound another
    way or under a condition, a module without its source)."""
    path, parts = folder / "__init__.py", []
    for _ in range(MAX_HOPS):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            return None
        bound = [node for node in tree.body if _binds_sampler(node)]
        if not bound:
            return None
        last = bound[-1]  # the binding in force once the module has run
        if isinstance(last, ast.ClassDef) and last.name == "Sampler":
            return last
        if not isinstance(last, ast.ImportFrom) or not any(a.name == "Sampler" == (a.asname or a.name)
                                                           for a in last.names):
            return None  # a star, or another name bound as Sampler
        module = last.module.split(".") if last.module else []
        if last.level == 0 and module[:1] == ["nautilus"]:  # from nautilus.sampler import Sampler
            target = module[1:]
        elif last.level == 0 or not module or last.level - 1 > len(parts):
            return None  # another package's Sampler, or `from . import Sampler` (a module)
        else:
            target = [*parts[:len(parts) - (last.level - 1)], *module]
        found = _module_file(folder, target)
        if found is None:
            return None
        path, parts = found, (target if found.name == "__init__.py" else target[:-1])
    return None


@lru_cache(maxsize=1)
def source_keywords() -> tuple[frozenset[str], frozenset[str]] | None:
    """The keywords of the installed nautilus's ``Sampler.__init__`` (less :data:`RESERVED`) and of
    ``Sampler.run``, read from the source of the class ``nautilus.Sampler`` names
    (:func:`_sampler_class`); None where they cannot be told from it (nautilus not installed, or
    installed without its source, as a zip or compiled; a ``Sampler`` bound in a way its source
    does not tell; either method taking ``*args`` or ``**kwargs``, or inherited):
    the check is then left to :mod:`tinylens.inference.nautilus_runner`."""
    try:
        spec = importlib.util.find_spec("nautilus")  # a top-level package: found, not imported
    except (ImportError, ValueError):
        return None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if len(folders) != 1 or not Path(folders[0]).is_dir():
        return None
    node = _sampler_class(Path(folders[0]))
    if node is None:
        return None
    methods = {f.name: f for f in node.body if isinstance(f, ast.FunctionDef)}
    if "__init__" not in methods or "run" not in methods:
        return None
    init, run = _keywords(methods["__init__"]), _keywords(methods["run"])
    if init is None or run is None:
        return None
    return frozenset(init - RESERVED), frozenset(run)


def check_names(settings: dict[str, Any]) -> None:
    """Raise the ConfigError :mod:`tinylens.inference.nautilus_runner` raises for a setting nautilus
    does not have, a value :data:`~tinylens.inference.common.VALUE_RULES` refuses or one above its
    caps, without importing nautilus (nor scikit-learn, nor JAX); nothing where its source cannot be read."""
    found = source_keywords()
    if found is None:
        return
    sampler_keys, run_keys = found
    check_settings("nautilus", settings, sampler_keys | run_keys | OWN_KEYS | set(ALIASES), ALIASES)
