"""The release of in-memory compiled code (tinylens.compilation), on the real process."""

from __future__ import annotations

import mmap
import sys

import jax
import jax.numpy as jnp
import pytest

import tinylens
from tinylens import compilation
from tinylens.errors import TinyLensError

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts memory maps in /proc")


def _compiled() -> jax.stages.Wrapped:
    f = jax.jit(lambda x: 2 * x + 1)
    f(jnp.ones(3))
    assert f._cache_size() == 1
    return f


@linux_only
def test_memory_maps_counts_new_maps(tmp_path):
    files = [tmp_path / f"m{i}" for i in range(20)]
    for p in files:
        p.write_bytes(b"x" * mmap.PAGESIZE)
    before = compilation.memory_maps()
    handles = [open(p, "r+b") for p in files]
    maps = [mmap.mmap(h.fileno(), 0) for h in handles]  # one file each: no two can merge
    try:
        assert compilation.memory_maps() >= before + 20
    finally:
        for m, h in zip(maps, handles):
            m.close()
            h.close()
    limit = compilation.max_memory_maps()
    assert limit is not None and limit > compilation.memory_maps()


@linux_only
def test_release_if_crowded_drops_compiled_code_only_above_the_threshold():
    f = _compiled()
    assert not compilation.release_if_crowded(fraction=1.0)  # a process never holds more than the limit
    assert f._cache_size() == 1
    assert compilation.release_if_crowded(fraction=0.0)
    assert f._cache_size() == 0


def test_release_if_crowded_does_nothing_without_counts(monkeypatch):
    monkeypatch.setattr(compilation, "memory_maps", lambda: None)
    f = _compiled()
    assert not compilation.release_if_crowded(fraction=0.0)
    assert f._cache_size() == 1


@linux_only
def test_every_fit_checks_the_maps_before_it_starts(monkeypatch, tmp_path):
    """A loop over ``tinylens.fit`` releases compiled code when the process is crowded (here:
    always), before it reads the config."""
    monkeypatch.setattr(compilation, "CROWDED_FRACTION", 0.0)
    f = _compiled()
    with pytest.raises(TinyLensError):
        tinylens.fit(tmp_path / "missing.yaml")
    assert f._cache_size() == 0


def test_a_cache_folder_in_the_home_of_no_known_user_is_named(monkeypatch, tmp_path):
    """TINYLENS_CACHE_DIR='~tl_no_such_user/cache' ended every command that loads a config (and
    tinylens.load) in the traceback 'RuntimeError: Could not determine home directory'; it is now a
    ConfigError naming the variable. A home folder unknown here, with no TINYLENS_CACHE_DIR or
    XDG_CACHE_HOME, leaves the cache off, as a home folder that cannot be written does."""
    from pathlib import Path

    from tinylens.errors import ConfigError

    monkeypatch.setenv("TINYLENS_CACHE_DIR", "~tl_no_such_user/cache")
    with pytest.raises(ConfigError, match=r"TINYLENS_CACHE_DIR .*~tl_no_such_user/cache: there is no user"):
        compilation.default_cache_dir()
    monkeypatch.delenv("TINYLENS_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def unknown_home(cls=None):
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", classmethod(unknown_home))
    assert compilation.default_cache_dir() is None


def test_a_cache_folder_that_takes_no_file_leaves_the_cache_off(monkeypatch, tmp_path):
    """A cache folder that existed but could not be written (a read-only home, another user's
    folder) was handed to JAX, and a fit printed 'Warning: Error writing
    persistent compilation cache entry for 'jit_neg_log_post': PermissionError: ...' six times
    (into every row's warnings in a survey); the cache is now left off, as for a folder that
    cannot be made, and nothing is said."""
    import tempfile

    folder = tmp_path / "cache"
    folder.mkdir()

    def refused(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", str(dir))  # as a read-only folder answers

    given = jax.config.jax_compilation_cache_dir  # this session's, if a test built a problem
    jax.config.update("jax_compilation_cache_dir", None)
    try:
        with monkeypatch.context() as patched:
            patched.setattr(tempfile, "mkstemp", refused)
            assert compilation.enable_persistent_cache(folder) is None
        assert jax.config.jax_compilation_cache_dir is None
    finally:
        jax.config.update("jax_compilation_cache_dir", given)
    assert compilation.takes_files(folder) and list(folder.iterdir()) == []  # the probe leaves nothing
