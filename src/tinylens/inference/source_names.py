"""The keyword names a library's function or method takes, read from its installed source by
``ast``, without importing the library.

A sampler's settings are its keywords, which the runners take from the imported signatures
(:func:`tinylens.inference.common.keyword_names`). Importing nautilus takes a second or more
(scikit-learn, pandas), dynesty about as long, and both runners import JAX; reading the source
lets a misspelt setting be said once the config is read (:func:`tinylens.inference.check_inference_first`).
Each reader follows the package's ``__init__.py`` to where the name it exports is defined
(``from .core.sampler import Sampler``), and a method inherited from a single base class to that
class, as Python would; it answers None wherever the source does not tell what the imported
object takes (a star import, a name bound under a condition or another way, a decorated function or class,
``*args`` or ``**kwargs``, several base classes, a package without its ``.py`` files): the runner's
own check, with the library imported, then decides, so that the early check never refuses a
setting the installed version accepts.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

#: How many imports (``from .module import Name``) and base classes one look-up follows.
MAX_HOPS = 6


def package_folder(package: str) -> Path | None:
    """The folder of the installed top-level ``package``, found without importing it; None where
    it is not installed, or not as one folder of source files (a zip, a namespace package)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if len(folders) != 1 or not Path(folders[0]).is_dir():
        return None
    return Path(folders[0])


def _module_file(folder: Path, parts: list[str]) -> Path | None:
    """The source file of the package's submodule ``parts`` (its dotted name's parts, from ``folder``)."""
    base = folder.joinpath(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _binds(node: ast.AST, name: str) -> bool:
    """Whether the statement ``node`` binds ``name`` in the scope it is in (within an ``if``, a
    ``try``, a loop: not within a function or class it defines, whose names are their own)."""
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):  # or rebinds it as global
        return node.name == name or any(isinstance(n, ast.Global) and name in n.names for n in ast.walk(node))
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return any((a.asname or a.name.partition(".")[0]) in (name, "*") for a in node.names)
    if isinstance(node, ast.Name):
        return node.id == name and isinstance(node.ctx, (ast.Store, ast.Del))
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return name in node.names
    return any(_binds(child, name) for child in ast.iter_child_nodes(node))


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None


def _imported_module(package: str, node: ast.ImportFrom, parts: list[str]) -> list[str] | None:
    """The parts (below ``package``) of the module that ``node`` imports from, in a module of the
    package ``parts``; None where it is another package's, or ``from . import name`` (a module)."""
    module = node.module.split(".") if node.module else []
    if node.level == 0:
        return module[1:] if module[:1] == [package] else None
    if not module or node.level - 1 > len(parts):
        return None
    return [*parts[:len(parts) - (node.level - 1)], *module]


def defined(folder: Path, package: str, name: str, module: list[str] | None = None,
            hops: int = MAX_HOPS) -> tuple[ast.ClassDef | ast.FunctionDef, Path, list[str]] | None:
    """Where the ``name`` that the module ``module`` of ``package`` (its parts; the package's
    ``__init__.py`` where None) binds is defined: the class or function's node, its file and the
    parts of the package that file is in, following ``from .x import name`` as Python would; None
    where the source does not tell."""
    parts = module or []
    path = _module_file(folder, parts) if parts else folder / "__init__.py"
    if path is None or not path.is_file():
        return None
    if path.name != "__init__.py":
        parts = parts[:-1]
    for _ in range(hops):
        tree = _parse(path)
        if tree is None:
            return None
        bound = [node for node in tree.body if _binds(node, name)]
        if not bound:
            return None
        last = bound[-1]  # the binding in force once the module has run
        if isinstance(last, (ast.ClassDef, ast.FunctionDef)) and last.name == name:
            return last, path, parts
        if not isinstance(last, ast.ImportFrom) or not any(a.name == name == (a.asname or a.name) for a in last.names):
            return None  # a star, another name bound as this one, or bound another way
        target = _imported_module(package, last, parts)
        found = None if target is None else _module_file(folder, target)
        if found is None:
            return None
        path, parts = found, (target if found.name == "__init__.py" else target[:-1])
    return None


def keywords(function: ast.FunctionDef, first: str | None = None) -> set[str] | None:
    """The parameters of ``function`` that a keyword can give, less its ``first`` (``self``,
    ``cls``); None where it also takes ``*args`` or ``**kwargs``, whose names its signature does
    not tell, or is decorated (a decorator may give it another signature)."""
    args = function.args
    if args.vararg is not None or args.kwarg is not None or function.decorator_list:
        return None
    return {a.arg for a in (*args.args, *args.kwonlyargs)} - {first}


def method_keywords(folder: Path, package: str, cls: str, method: str, first: str = "self") -> set[str] | None:
    """The keywords of ``package.<cls>.<method>`` (the class the package exports as ``cls``),
    defined in the class or inherited from its one base class (followed, within the package,
    as :func:`defined` follows imports); None where the source does not tell them (also where
    the class, or a base class it inherits the method from, is decorated)."""
    found = defined(folder, package, cls)
    for _ in range(MAX_HOPS):
        if found is None or not isinstance(found[0], ast.ClassDef) or found[0].decorator_list:
            return None  # a decorated class: its decorator may give it other methods, or be another object
        node, path, parts = found
        methods = [f for f in node.body if _binds(f, method)]
        if methods:
            last = methods[-1]
            return keywords(last, first) if isinstance(last, ast.FunctionDef) and last.name == method else None
        if node.keywords or len(node.bases) != 1 or not isinstance(node.bases[0], ast.Name):
            return None  # a metaclass, several bases, or none (object's own method)
        module = [*parts, path.stem] if path.name != "__init__.py" else parts
        found = defined(folder, package, node.bases[0].id, module)
    return None
