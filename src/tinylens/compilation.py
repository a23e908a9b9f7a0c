"""JAX's compiled code: a persistent cache on disk, on by default, so that start-up is short,
and a release of the in-memory one before it crowds the process.

Compiling the likelihood and its gradient takes tens of seconds on a CPU. The compiled code
takes the data as arguments (:class:`tinylens.likelihood.Imaging`), so every lens with the same
image shape, model and (bucketed) number of ray-traced points reuses it, across processes and
runs: a resumed fit, the next lens of a survey, a Dask worker on the same file system.

The cache lives in ``$TINYLENS_CACHE_DIR``, by default ``$XDG_CACHE_HOME/tinylens/jax`` (that is
``~/.cache/tinylens/jax``). ``TINYLENS_CACHE_DIR=off`` disables it (as do ``no``, ``0``, ``false``,
``none``, ``disabled``, ``disable`` and an empty value: :data:`CACHE_OFF_WORDS`), and so does a folder that
cannot be written (a read-only home); a cache directory that the user already gave JAX
(``jax_compilation_cache_dir``) is left alone. JAX writes an entry in place, so a process stopped
while it wrote one (or a full disk) leaves it cut short, and JAX, which never writes an entry that
exists, would warn at every later use; :func:`remove_broken_entries` removes them as the cache is
turned on.

In memory, each fit leaves its compiled functions behind, and XLA maps their machine code into
the process: about 4 600 memory maps per lens (measured on a with-shear mock). Linux stops a
process at ``vm.max_map_count`` maps (65 530 by default), where XLA fails with "LLVM compilation
error: Cannot allocate memory", so a Python loop over ``tinylens.fit`` would die after about 14
lenses. :func:`release_if_crowded` (called by every fit before it starts) drops them once half
the limit is used; a survey worker drops them after every lens (:func:`release_compiled`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path


#: Compilations faster than this are not worth a file.
MIN_COMPILE_TIME_S = 1.0
#: An entry written less than this many seconds ago may still be being written by another process.
FRESH_ENTRY_S = 60.0
#: The end of the name of JAX's cache entries, and of the access times it keeps beside them.
ENTRY_SUFFIX, ATIME_SUFFIX = "-cache", "-atime"
#: A file in the cache folder whose time says up to when its entries were found whole.
CHECKED_MARK = ".tinylens-checked"
#: The first bytes of a zstd frame.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: The share of ``vm.max_map_count`` above which :func:`release_if_crowded` drops compiled code.
CROWDED_FRACTION = 0.5
#: Values of ``$TINYLENS_CACHE_DIR`` (any case, spaces around ignored) that turn the cache off
#: rather than name a folder.
CACHE_OFF_WORDS = ("", "off", "0", "false", "none", "no", "disabled", "disable")


def default_cache_dir() -> Path | None:
    """Where the cache goes, or None when disabled (:data:`CACHE_OFF_WORDS`) or when no home folder
    is known here (nor ``$XDG_CACHE_HOME``). A ``$TINYLENS_CACHE_DIR`` in the home of no known user
    is a ConfigValueError (a ConfigError and a ValueError) naming it."""
    from tinylens.config.loader import home_expanded
    from tinylens.errors import ConfigError, retold

    value = os.environ.get("TINYLENS_CACHE_DIR")
    if value is not None and value.strip().lower() in CACHE_OFF_WORDS:
        return None
    if value:
        try:
            return home_expanded(value)
        except ConfigError as exc:
            raise retold(exc, f"The environment variable TINYLENS_CACHE_DIR (where compiled code is kept): {exc}, "
                              "or TINYLENS_CACHE_DIR=off.") from None
    try:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    except RuntimeError:  # no $HOME, and a user the system does not know
        return None
    return Path(base) / "tinylens" / "jax"


def enable_persistent_cache(path: str | Path | None = None) -> Path | None:
    """Turn JAX's persistent compilation cache on at ``path`` (default :func:`default_cache_dir`)
    unless JAX already has one; return the directory in use (None if off or not writable). A
    relative path is taken from the current folder now: JAX would take it from the current folder
    at each compilation, and fail to write after an ``os.chdir``."""
    import jax  # here, not at the top: a fit refused for its config does not wait for JAX to load

    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    path = Path(path) if path is not None else default_cache_dir()
    if path is None:
        return None
    path = path.absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home directory must not stop a fit
    if not takes_files(path):
        return None  # nor fill its log with JAX's warning at every compilation
    removed = remove_broken_entries(path)
    if removed:
        warnings.warn(f"Removed {len(removed)} damaged entr{'y' if len(removed) == 1 else 'ies'} from the compilation "
                      f"cache {path} (cut short: a process stopped while writing, or a full disk); that code is "
                      "compiled again.", stacklevel=2)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    return path


def takes_files(folder: Path) -> bool:
    """Whether a file can be created in ``folder``, which exists: not so in a read-only home,
    or another user's folder."""
    try:
        handle, name = tempfile.mkstemp(prefix=".tinylens-probe-", dir=folder)
    except OSError:
        return False
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return True


def remove_broken_entries(folder: Path, fresh_s: float | None = None) -> list[Path]:
    """Remove the entries of JAX's cache in ``folder`` that do not decompress (cut short), with
    their access times, and return them. Only entries written since the last look are read (the
    time of :data:`CHECKED_MARK`, which this one then sets); those younger than ``fresh_s``
    (default :data:`FRESH_ENTRY_S`) are left for the next, as another process may be writing them,
    and so is what cannot be read or removed (JAX says so itself)."""
    mark = folder / CHECKED_MARK
    since, until = checked_until(mark), time.time() - (FRESH_ENTRY_S if fresh_s is None else fresh_s)
    removed = []
    for entry in sorted(folder.glob(f"*{ENTRY_SUFFIX}")):
        if not is_broken(entry, since, until):
            continue
        try:
            entry.unlink()
        except OSError:  # another process's removal, or another user's entry
            continue
        with contextlib.suppress(OSError):
            entry.with_name(entry.name.removesuffix(ENTRY_SUFFIX) + ATIME_SUFFIX).unlink()
        removed.append(entry)
    with contextlib.suppress(OSError):
        mark.touch()
        os.utime(mark, (until, until))
    return removed


def checked_until(mark: Path) -> float:
    """Up to when the entries beside ``mark`` were found whole: its time; -inf without it."""
    try:
        return mark.stat().st_mtime
    except OSError:
        return float("-inf")


def is_broken(entry: Path, since: float, until: float) -> bool:
    """Whether the cache entry ``entry``, if changed since ``since`` (its inode's change time: also
    an entry copied in with an old time), last written before ``until`` and readable, is cut short:
    empty, or in a format known here (:func:`decompressor`) that does not decompress."""
    try:
        stat = entry.stat()
        if stat.st_ctime < since or stat.st_mtime >= until:
            return False
        data = entry.read_bytes()
    except OSError:
        return False
    if len(data) < len(ZSTD_MAGIC):
        return True  # no compressor writes an entry this short
    decompress = decompressor(data[: len(ZSTD_MAGIC)])
    if decompress is None:
        return False
    try:
        decompress(data)
    except Exception:  # noqa: BLE001 - zlib.error, zstd's ZstdError: each compressor has its own
        return True
    return False


def decompressor(head: bytes) -> Callable[[bytes], bytes] | None:
    """How an entry beginning with ``head`` decompresses: JAX writes zstd where Python has it,
    zlib otherwise. None for a format not known or not readable here: an entry of another
    environment sharing the folder, which it reads itself (removing it would make them take turns
    compiling it)."""
    if head.startswith(ZSTD_MAGIC):
        return zstd_decompress()
    if len(head) >= 2 and head[0] & 0x0F == 8 and head[0] >> 4 <= 7 and (head[0] << 8 | head[1]) % 31 == 0:
        return zlib.decompress
    return None


def zstd_decompress() -> Callable[[bytes], bytes] | None:
    """zstd's decompression where this Python has it (3.14's compression.zstd, or zstandard)."""
    try:
        from compression import zstd  # type: ignore[import-not-found]

        return zstd.decompress
    except ImportError:
        pass
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        return None
    return zstandard.ZstdDecompressor().decompress


def memory_maps() -> int | None:
    """How many memory maps this process holds (Linux's ``/proc/self/maps``); None elsewhere."""
    try:
        with open("/proc/self/maps", "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def max_memory_maps() -> int | None:
    """The kernel's limit on memory maps per process (``vm.max_map_count``); None elsewhere."""
    try:
        return int(Path("/proc/sys/vm/max_map_count").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def release_compiled() -> None:
    """Drop JAX's in-memory compiled functions (the persistent cache on disk stays)."""
    import gc

    import jax

    jax.clear_caches()
    gc.collect()


def release_if_crowded(fraction: float | None = None) -> bool:
    """Drop compiled functions if this process holds more than ``fraction`` (default
    :data:`CROWDED_FRACTION`) of the kernel's limit on memory maps; return whether it did.
    Does nothing where the counts are unknown (not Linux)."""
    fraction = CROWDED_FRACTION if fraction is None else fraction
    used, limit = memory_maps(), max_memory_maps()
    if used is None or limit is None or used <= fraction * limit:
        return False
    release_compiled()
    return True
