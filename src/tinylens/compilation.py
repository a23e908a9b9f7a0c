"""JAX's persistent compilation cache, on by default, so that start-up is short.

Compiling the likelihood and its gradient takes tens of seconds on a CPU. The compiled code
takes the data as arguments (:class:`tinylens.likelihood.Imaging`), so every lens with the same
image shape, model and (bucketed) number of ray-traced points reuses it, across processes and
runs: a resumed fit, the next lens of a survey, a Dask worker on the same file system.

The cache lives in ``$TINYLENS_CACHE_DIR``, by default ``$XDG_CACHE_HOME/tinylens/jax`` (that is
``~/.cache/tinylens/jax``). ``TINYLENS_CACHE_DIR=off`` disables it; a cache directory that the
user already gave JAX (``jax_compilation_cache_dir``) is left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

#: Compilations faster than this are not worth a file.
MIN_COMPILE_TIME_S = 1.0


def default_cache_dir() -> Path | None:
    """Where the cache goes, or None when disabled."""
    value = os.environ.get("TINYLENS_CACHE_DIR")
    if value is not None and value.strip().lower() in ("", "off", "0", "false", "none"):
        return None
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinylens" / "jax"


def enable_persistent_cache(path: str | Path | None = None) -> Path | None:
    """Turn JAX's persistent compilation cache on at ``path`` (default :func:`default_cache_dir`)
    unless JAX already has one; return the directory in use (None if off or not writable)."""
    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    path = Path(path) if path is not None else default_cache_dir()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home directory must not stop a fit
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    return path
