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


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "none", "", "no", "No", " disabled ", "disable"])
def test_the_usual_off_words_turn_the_cache_off(monkeypatch, value):
    """TINYLENS_CACHE_DIR=no (or disabled) named a folder, which the cache quietly made in the
    current folder; the usual words for off turn the cache off, as 'off' does."""
    monkeypatch.setenv("TINYLENS_CACHE_DIR", value)
    assert compilation.default_cache_dir() is None


def test_the_readme_names_every_off_word_and_the_cache_jax_is_given(monkeypatch, tmp_path):
    """README said that 'off, no, 0, false, none or disabled' turns the cache off: 'disable' and an
    empty value do too, and with a folder given to JAX itself ($JAX_COMPILATION_CACHE_DIR), a
    TINYLENS_CACHE_DIR=off left the cache on in that folder, of which it said nothing."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    said = re.search(r"`\$TINYLENS_CACHE_DIR`;(.*?)\) with the data", readme, re.S).group(1)
    named = set(re.findall(r"`([^`$]*)`", said.split("disables it")[0]))
    assert named == set(compilation.CACHE_OFF_WORDS) - {""}, named
    assert "empty value" in said and "JAX_COMPILATION_CACHE_DIR" in said, said
    given = jax.config.jax_compilation_cache_dir
    monkeypatch.setenv("TINYLENS_CACHE_DIR", "off")
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "jax"))
    try:
        assert compilation.enable_persistent_cache() == tmp_path / "jax"  # JAX's own folder, though 'off'
    finally:
        jax.config.update("jax_compilation_cache_dir", given)


@pytest.mark.parametrize("value", ["nocache", "disabled_cache", "offline"])
def test_a_folder_name_like_an_off_word_is_still_a_folder(monkeypatch, value):
    monkeypatch.setenv("TINYLENS_CACHE_DIR", value)
    from pathlib import Path

    assert compilation.default_cache_dir() == Path(value)


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


#: A process that turns tinylens's cache on in the folder argv[1] and compiles one function into it.
_COMPILE_INTO = """
import sys, jax, jax.numpy as jnp
from tinylens import compilation
compilation.enable_persistent_cache(sys.argv[1])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # a file even for this small one
print(jax.jit(lambda x: jnp.sin(x) * 2 + jnp.cos(x))(jnp.ones(3)).sum())
"""


def _compile_into(folder) -> str:
    """Run :data:`_COMPILE_INTO` in a fresh process (JAX opens its cache once per process); its stderr."""
    import os
    import subprocess

    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    run = subprocess.run([sys.executable, "-c", _COMPILE_INTO, str(folder)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stderr


def test_a_cache_entry_cut_short_is_removed_once_and_compiled_again(tmp_path):
    """JAX writes a cache entry in place and never rewrites one that exists, so an entry cut short
    (a fit killed while JAX wrote it, a full disk) made every later fit print 'Warning: Error
    reading persistent compilation cache entry for 'jit_batch': error: Error -5 while decompressing
    data: incomplete or truncated stream', forever (into every lens's row in a survey). Turning the
    cache on now removes it with one notice; the code is compiled and written again, whole."""
    import os
    import time

    folder = tmp_path / "cache"
    assert _compile_into(folder) == ""
    entries = {p: p.read_bytes() for p in folder.glob("*-cache")}
    assert entries
    old = time.time() - 3600  # cut short an hour ago, not being written now
    for p, data in entries.items():
        p.write_bytes(data[: len(data) // 2])
        os.utime(p, (old, old))
    said = _compile_into(folder)
    assert "Error reading persistent compilation cache" not in said
    assert said.count(f"Removed {len(entries)} damaged entr") == 1 and str(folder) in said
    assert {p: len(p.read_bytes()) for p in folder.glob("*-cache")} == {p: len(d) for p, d in entries.items()}
    assert _compile_into(folder) == ""  # whole again: read without a word


def test_only_entries_that_do_not_decompress_are_removed_once_written_and_new(monkeypatch, tmp_path):
    """An entry another process may still be writing (written in the last FRESH_ENTRY_S) is left
    for the next look, and so is a whole one, and one this Python cannot read (zstd's, written by
    another environment sharing the folder); a broken one goes with its access time (kept by JAX
    when its size is bounded). Entries already looked at (before CHECKED_MARK's time) are not read
    again, so that a large cache does not slow every start."""
    import os
    import time
    import zlib

    monkeypatch.setattr(compilation, "zstd_decompress", lambda: None)  # as where zstd is not installed
    names = ("good", "cut", "empty", "zstd", "unknown", "writing")
    good, cut, empty, zstd, unknown, writing = (tmp_path / f"jit_{name}-0a1b-cache" for name in names)
    whole = zlib.compress(b"executable" * 100)
    good.write_bytes(whole)
    cut.write_bytes(whole[: len(whole) - 4])
    empty.write_bytes(b"")
    zstd.write_bytes(compilation.ZSTD_MAGIC + b"\0" * 20)
    unknown.write_bytes(b"not a format known here")
    writing.write_bytes(whole[:20])
    atime = tmp_path / "jit_cut-0a1b-atime"
    atime.write_bytes(b"\0" * 8)
    old = time.time() - 2 * compilation.FRESH_ENTRY_S
    for p in (good, cut, empty, zstd, unknown, atime):
        os.utime(p, (old, old))
    assert compilation.remove_broken_entries(tmp_path) == [cut, empty]
    left = {good.name, zstd.name, unknown.name, writing.name, compilation.CHECKED_MARK}
    assert {p.name for p in tmp_path.iterdir()} == left
    assert compilation.remove_broken_entries(tmp_path, fresh_s=0) == [writing]  # its turn came

    seen = time.time() + 3600  # as if looked at after the next entry was written
    cut.write_bytes(whole[:20])
    os.utime(cut, (old, old))
    os.utime(tmp_path / compilation.CHECKED_MARK, (seen, seen))
    assert compilation.remove_broken_entries(tmp_path) == [] and cut.exists()


def test_a_relative_cache_folder_is_taken_from_the_current_folder_once(monkeypatch, tmp_path):
    """TINYLENS_CACHE_DIR=cache went to JAX as 'cache', which JAX took from the current folder at
    each compilation: after an os.chdir (a notebook's %cd) every compilation printed 'Error
    writing persistent compilation cache entry for ...: FileNotFoundError: ... 'cache/jit_...''.
    The folder is now made absolute when the cache is turned on."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYLENS_CACHE_DIR", "cache")
    given = jax.config.jax_compilation_cache_dir, jax.config.jax_persistent_cache_min_compile_time_secs
    jax.config.update("jax_compilation_cache_dir", None)
    try:
        assert compilation.enable_persistent_cache() == tmp_path / "cache"
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "cache")
    finally:
        jax.config.update("jax_compilation_cache_dir", given[0])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", given[1])
    assert (tmp_path / "cache").is_dir()


def test_a_cache_folder_error_named_with_the_variable_keeps_its_class_and_an_import_errors_module(monkeypatch):
    """default_cache_dir put the name of TINYLENS_CACHE_DIR in front of its path's error with
    ``type(exc)(message)``, which gives an ImportError ``name`` None; it uses retold now: a
    ConfigValueError (a home of no known user) stays one, and an ImportError keeps ``name``."""
    import tinylens.config.loader as loader
    from tinylens.errors import ConfigValueError, MethodNotInstalledError

    monkeypatch.setenv("TINYLENS_CACHE_DIR", "~tl_no_such_user/cache")
    with pytest.raises(ConfigValueError, match=r"^The environment variable TINYLENS_CACHE_DIR \(where compiled code "
                                               r"is kept\): .*or TINYLENS_CACHE_DIR=off\.$"):
        compilation.default_cache_dir()

    def missing(value):
        raise MethodNotInstalledError("a package is not installed", name="tl_missing_package")

    monkeypatch.setattr(loader, "home_expanded", missing)
    with pytest.raises(MethodNotInstalledError) as err:
        compilation.default_cache_dir()
    assert err.value.name == "tl_missing_package"
    assert str(err.value) == ("The environment variable TINYLENS_CACHE_DIR (where compiled code is kept): a package is "
                              "not installed, or TINYLENS_CACHE_DIR=off.")
