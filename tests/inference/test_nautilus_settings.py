"""tinylens.inference.nautilus_settings: nautilus's setting names read from its source, not imported.

The early check must name exactly what the imported ``nautilus.Sampler`` takes, or say nothing
(None: the runner's own check, nautilus imported, decides): never refuse a setting the installed
nautilus accepts. Each case installs a stand-in ``nautilus`` package under ``tmp_path``; what that
package's ``Sampler`` really takes is read by importing it in another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from tinylens.inference.nautilus_settings import RESERVED, check_names, source_keywords

_CORE = """
class Sampler:
    def __init__(self, prior, likelihood, n_dim=None, n_live=2000, *, seed=None):
        pass

    def run(self, f_live=0.01, n_eff=10000, verbose=False):
        pass
"""

#: nautilus moved its Sampler into nautilus/core/, kept nautilus/sampler.py as a deprecated subclass
#: taking anything, and its __init__.py exports the new one.
MOVED = {"__init__.py": "from .core.sampler import Sampler\n", "core/__init__.py": "",
         "core/sampler.py": _CORE,
         "sampler.py": ("from .core.sampler import Sampler as _Sampler\n\n\nclass Sampler(_Sampler):\n"
                        "    def __init__(self, *args, **kwargs):\n        super().__init__(*args, **kwargs)\n\n"
                        "    def run(self, *args, **kwargs):\n        return super().run(*args, **kwargs)\n")}
#: A Sampler whose keywords go on through **kwargs: its signature does not tell them.
KWARGS = {"__init__.py": "from .sampler import Sampler\n",
          "sampler.py": ("class Sampler:\n    def __init__(self, prior, likelihood, n_dim=None, **options):\n"
                         "        self.options = options\n\n    def run(self, f_live=0.01, **options):\n        pass\n")}


def _install(root, files):
    for name, text in files.items():
        path = root / "nautilus" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """Put a stand-in nautilus first on sys.path (its files given to the returned function)."""
    def install(files, root=tmp_path / "site"):
        _install(root, files)
        monkeypatch.syspath_prepend(str(root))
        return root

    monkeypatch.delitem(sys.modules, "nautilus", raising=False)  # found afresh, never imported here
    source_keywords.cache_clear()
    yield install
    source_keywords.cache_clear()


def _imported_keywords(root):
    """The keyword names of the stand-in's Sampler and Sampler.run, as Python imports them."""
    code = ("import inspect, json, nautilus\nk = lambda f: sorted(p.name for p in inspect.signature(f).parameters.values()"
            " if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != 'self')\n"
            "print(json.dumps([k(nautilus.Sampler.__init__), k(nautilus.Sampler.run)]))")
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_the_sampler_that_nautilus_exports_is_read_not_another_module_s(stand_in):
    """A stale subclass in nautilus/sampler.py taking *args, **kwargs was read instead of the class
    nautilus.Sampler is: no name at all, so n_live (which the installed nautilus takes) was refused."""
    root = stand_in(MOVED)
    init, run = _imported_keywords(root)
    assert source_keywords() == (frozenset(init) - RESERVED, frozenset(run))
    assert {"n_live", "seed"} <= set(init)
    check_names({"n_live": 100, "seed": 1, "f_live": 0.05})  # refused before
    with pytest.raises(Exception, match="inference.settings.nlvie: not a setting of nautilus"):
        check_names({"nlvie": 100})


def test_a_sampler_taking_kwargs_leaves_the_names_to_the_runner(stand_in):
    """Keywords passed on through **kwargs are not in the signature: the early check says nothing."""
    stand_in(KWARGS)
    assert source_keywords() is None
    check_names({"n_live": 100, "anything_else": 1})


@pytest.mark.parametrize("how", ["zip", "sourceless", "star import"])
def test_nautilus_without_readable_source_leaves_the_names_to_the_runner(stand_in, tmp_path, monkeypatch, how):
    """A zip, a package without its .py files: None (the runner decides); a star import, which the
    source alone does not resolve: None, or the names the imported Sampler takes; never fewer."""
    files = {"zip": {"__init__.py": "from .sampler import Sampler\n", "sampler.py": _CORE},
             "sourceless": {"__init__.py": "from .sampler import Sampler\n"},  # sampler compiled only
             "star import": {"__init__.py": "from .sampler import *\n", "sampler.py": _CORE}}[how]
    if how == "zip":
        _install(tmp_path / "zipped", files)
        archive = tmp_path / "nautilus.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for path in (tmp_path / "zipped").rglob("*.py"):
                zf.write(path, path.relative_to(tmp_path / "zipped").as_posix())
        monkeypatch.syspath_prepend(str(archive))
        assert source_keywords() is None
    elif how == "sourceless":
        stand_in(files)
        assert source_keywords() is None
    else:
        init, run = _imported_keywords(stand_in(files))
        assert source_keywords() in (None, (frozenset(init) - RESERVED, frozenset(run)))
    check_names({"n_live": 100})


def test_an_absolute_import_of_the_sampler_is_followed(stand_in):
    """``from nautilus.core.sampler import Sampler`` in __init__.py names that module's class, not
    nautilus/sampler.py's stale one."""
    files = {**MOVED, "__init__.py": "from nautilus.core.sampler import Sampler\n"}
    init, run = _imported_keywords(stand_in(files))
    assert source_keywords() == (frozenset(init) - RESERVED, frozenset(run))
    check_names({"n_live": 100})


def test_the_installed_nautilus_is_read():
    """The real package: its names found (the runner's agree: tests/test_startup.py)."""
    source_keywords.cache_clear()
    found = source_keywords()
    assert found is not None and "n_live" in found[0] and "f_live" in found[1]
