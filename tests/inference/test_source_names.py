"""tinylens.inference.source_names: a method's keywords read from a package's source, not imported.

Each case writes a stand-in package ``pkg`` under ``tmp_path``; what its class's method really takes
is read by importing it in another process. The reader must give exactly those names, or None
(the runner's own check then decides), never others."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tinylens.inference.source_names import method_keywords

_BASE = """
class Base:
    def run(self, maxiter=None, dlogz=0.1, *, resume=False):
        pass
"""


def _package(root, files):
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def _imported(root, cls, method):
    code = (f"import inspect, json, pkg\nf = getattr(pkg.{cls}, {method!r})\n"
            "print(json.dumps(sorted(p.name for p in inspect.signature(f).parameters.values()"
            " if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in ('self', 'cls'))))")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(root)},
                          capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def test_a_method_inherited_from_a_base_in_another_module_is_read_from_the_base(tmp_path):
    """As dynesty's NestedSampler.run_nested, defined by the Sampler it inherits from."""
    folder = _package(tmp_path, {"__init__.py": "from .front import Nested\n", "base.py": _BASE,
                                 "front.py": ("import sys\nfrom .base import Base\n\n\nclass Nested(Base):\n"
                                              "    def __new__(cls, f, nlive=500, walks=None):\n"
                                              "        return super().__new__(cls)\n")})
    assert method_keywords(folder, "pkg", "Nested", "run") == _imported(tmp_path, "Nested", "run") \
        == {"maxiter", "dlogz", "resume"}
    assert method_keywords(folder, "pkg", "Nested", "__new__", first="cls") == _imported(tmp_path, "Nested", "__new__")


@pytest.mark.parametrize("how", ["two bases", "decorated", "kwargs", "conditional"])
def test_what_the_source_does_not_tell_is_none(tmp_path, how):
    """Several bases (an MRO the reader does not follow), a decorated method (another signature,
    maybe), ``**kwargs`` (names not told) or a base bound under a condition: None, never names."""
    front = {"two bases": "from .base import Base\n\n\nclass Other:\n    def run(self, other=1):\n        pass\n\n\n"
                          "class Nested(Other, Base):\n    pass\n",
             "decorated": "import functools\nfrom .base import Base\n\n\nclass Nested(Base):\n"
                          "    @functools.lru_cache\n    def run(self, x=1):\n        pass\n",
             "kwargs": "class Nested:\n    def run(self, dlogz=0.1, **options):\n        pass\n",
             "conditional": "import sys\nif sys.version_info > (3,):\n    from .base import Base\nelse:\n"
                            "    Base = object\n\n\nclass Nested(Base):\n    pass\n"}[how]
    folder = _package(tmp_path, {"__init__.py": "from .front import Nested\n", "base.py": _BASE, "front.py": front})
    assert _imported(tmp_path, "Nested", "run")  # the package imports and has the method
    assert method_keywords(folder, "pkg", "Nested", "run") is None


_ADDS_RUN = """
def adds_run(cls):
    def run(self, maxiter=None, dlogz=0.1, n_effective=None, *, resume=False):
        pass

    cls.run = run
    return cls
"""


@pytest.mark.parametrize("where", ["the class", "its base"])
def test_a_decorated_class_is_none_as_its_decorator_may_change_its_methods(tmp_path, where):
    """A class decorator can replace a method (here with one that takes ``n_effective`` too): the
    reader, which read the undecorated class's ``def``, gave its names and so refused a setting the
    installed package takes; a decorated class, or base class, is now None (the runner decides)."""
    deco = "from .deco import adds_run\n"
    if where == "the class":
        base, front = _BASE, f"{deco}from .base import Base\n\n\n@adds_run\nclass Nested(Base):\n    pass\n"
    else:
        base, front = f"{deco}\n\n@adds_run{_BASE}", "from .base import Base\n\n\nclass Nested(Base):\n    pass\n"
    folder = _package(tmp_path, {"__init__.py": "from .front import Nested\n", "deco.py": _ADDS_RUN,
                                 "base.py": base, "front.py": front})
    assert "n_effective" in _imported(tmp_path, "Nested", "run")  # what the imported package takes
    assert method_keywords(folder, "pkg", "Nested", "run") is None
