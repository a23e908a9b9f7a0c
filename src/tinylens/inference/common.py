"""Helpers shared by the runners: settings checks and checkpoint fingerprints."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import errno
import hashlib
import inspect
import json
import os
import re
import signal
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from tinylens import filenames
from tinylens.config.schema import show, whole_float_note
from tinylens.errors import (BEYOND_FLOAT, H5_LOCK_ATTR, H5_LOCKING_OFF, OUTPUT_FOLDER_CHOICE, WRITTEN_ATTR, CheckpointWarning, ConfigError, ConfigTypeError, ConfigValueError, key_name,
                             OutputError, did_you_mean, ls_command, no_float_holds, out_of_memory,
                             outside_stacklevel, written_output)
from tinylens.interrupts import ctrl_c_raises_here, handler_in_place, interrupt_behind, terminate_stops_here
from tinylens.atomic import remove_unfinished, write_atomic


#: How an h5py error of a failed write gives the system's error number: in its text only.
H5_ERRNO = re.compile(r"\berrno = (\d+)")
#: h5py's text of an error: what HDF5 was doing, then in brackets the details of the call that
#: failed, its first words the cause (``Can't write data (file write failed: time = ..., filename =
#: '...', ...)``), its other fields a time, the temporary file's hidden name, buffers and offsets.
H5_CAUSE = re.compile(r"\s*([^(]*?)\s*\(\s*([^:,()=]*[^:,()=\s])")


def h5_cause(text: str) -> str:
    """The one-line cause in h5py's ``text`` of an error (:data:`H5_CAUSE`): ``Can't write data:
    file write failed`` for ``Can't write data (file write failed: time = ..., filename = ...)``;
    the text on one line where it is not of that form."""
    found = H5_CAUSE.match(text)
    if found is None or not found.group(1):
        return " ".join(text.split())
    return f"{found.group(1)}: {found.group(2)}"


def h5_system_error(exc: Exception, path: str | Path) -> OSError | None:
    """The OSError (its number, the system's one-line text, ``path``) behind the h5py error ``exc``
    of a failed write of the checkpoint ``path``, marked as the write of an output
    (:func:`~tinylens.errors.written_output`), for the failing disk's message and the fit's resume.
    h5py says the number in its text (``RuntimeError: Can't close dataset (file write failed:
    ..., errno = 28, error message = 'No space left on device', ...)``), in an OSError of its own
    with that text as its reason (h5py 3.16: ``[Errno 5] Unable to synchronously create file (file
    write failed: time = ..., filename = '.../.checkpoint.unfinished-....hdf5', ...)``, which
    :func:`~tinylens.atomic.write_atomic` names the checkpoint in), or none at all (older h5py's
    ``Unable to synchronously create file (...)``, ``Can't write data``: an input/output error, EIO,
    h5py's cause, :func:`h5_cause`, its reason); the time, the hidden temporary's name and the
    buffers of h5py's text are left out. ``None`` where ``exc`` is an OSError with its number and
    the system's own text (:func:`~tinylens.atomic.write_atomic`'s of a write that is not h5py's), or
    a RuntimeError that names none (not the disk's: raised as it is)."""
    text = (exc.strerror or "") if isinstance(exc, OSError) and exc.errno is not None else str(exc)
    found = H5_ERRNO.search(text)
    if isinstance(exc, OSError) and exc.errno is not None:
        if found is None and "(" not in text:
            return None  # the system's own text, as write_atomic names it
        error = OSError(exc.errno, os.strerror(exc.errno) if found else f"h5py: {h5_cause(text)}", str(path))
    elif found is not None and int(found.group(1)) != 0:
        number = int(found.group(1))
        error = OSError(number, os.strerror(number), str(path))
    elif isinstance(exc, OSError) and type(exc).__module__ == "builtins":
        error = OSError(errno.EIO, f"h5py: {h5_cause(str(exc)) or 'write failed'}", str(path))
    else:
        return None
    setattr(error, WRITTEN_ATTR, True)
    if error.errno == errno.ENOLCK and "lock file" in text:  # HDF5's lock of the file it writes: an NFS mount
        setattr(error, H5_LOCK_ATTR, True)  # without its lock service refused (not a write's ENOLCK: dmesg)
    return error


def h5_lock_refused(exc: BaseException) -> bool:
    """Whether ``exc`` is h5py's OSError of HDF5 failing to lock the file it opens (ENOLCK, ``unable
    to lock file``: an NFS mount without its lock service), which says nothing of the file itself."""
    return isinstance(exc, OSError) and exc.errno == errno.ENOLCK and "lock file" in str(exc)


def h5_lock_refused_text(path: str | Path) -> str:
    """What a fit says where HDF5 could not lock its checkpoint ``path`` to read it (:func:`h5_lock_refused`)."""
    return (f"The checkpoint {path} cannot be opened ({os.strerror(errno.ENOLCK)}: HDF5 locks each file it opens, "
            "and this file system gives no locks, as on NFS without its lock service); it is kept. Set the "
            f"environment variable {H5_LOCKING_OFF} (export {H5_LOCKING_OFF} in the shell or the job script), then "
            "run the fit again to resume it.")


T = TypeVar("T")


def keyword_names(*funcs: Callable, exclude: Iterable[str] = ()) -> set[str]:
    """Keyword parameters accepted by ``funcs`` (from their signatures), minus ``exclude``."""
    names: set[str] = set()
    for f in funcs:
        names |= {
            p.name
            for p in inspect.signature(f).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        }
    return names - set(exclude)


def others_to(*funcs: Callable) -> int | None:
    """The index of the first of ``funcs`` whose signature takes ``**kwargs``: the one a setting
    named by none of their keywords goes to (:func:`split`'s ``rest``), which :func:`check_settings`
    must then not refuse (``any_name``), as the function takes it; None where none does."""
    return next((i for i, f in enumerate(funcs)
                 if any(p.kind == p.VAR_KEYWORD for p in inspect.signature(f).parameters.values())), None)


def _is_whole(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)  # YAML's true is an int to Python


def _whole(minimum: int) -> tuple[str, Callable[[Any], bool]]:
    return f"a whole number >= {minimum}", lambda v: _is_whole(v) and v >= minimum


def _number(test: Callable[[float], bool], what: str) -> tuple[str, Callable[[Any], bool]]:
    return what, lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool) \
        and not no_float_holds(v) and bool(test(float(v)))


_FLAG = ("true or false", lambda v: isinstance(v, bool))
_SEED = ("a whole number >= 0 or null", lambda v: v is None or (_is_whole(v) and v >= 0))

#: What the common settings' values must be, checked before a run starts (a sampler's own
#: complaint would come after the pipeline's minutes of work, as a traceback). Others are
#: passed on as they are.
VALUE_RULES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    **{k: _whole(1) for k in ("nlive", "n_live", "batch_size", "n_batch", "queue_size", "n_update", "maxiter",
                              "maxcall", "popsize", "n_starts", "n_draws", "walks", "n_shell", "slices")},
    **{k: _whole(0) for k in ("n_networks", "n_like_new_bound")},
    "n_eff": _number(lambda v: v >= 0, "a number >= 0"),
    "n_like_max": _number(lambda v: v >= 1, "a number >= 1 (.inf for no limit)"),
    "f_live": _number(lambda v: 0 < v < 1, "a number between 0 and 1"),
    "dlogz": _number(lambda v: v > 0, "a number > 0"),
    "timeout": _number(lambda v: v > 0, "a number of seconds > 0"),
    "tol": _number(lambda v: v >= 0, "a number >= 0"),
    "atol": _number(lambda v: v >= 0, "a number >= 0"),
    "split_threshold": _number(lambda v: v > 0, "a number > 0"),
    "enlarge_per_dim": _number(lambda v: v >= 1, "a number >= 1"),
    "facc": _number(lambda v: 0 < v <= 1, "a number > 0 and <= 1"),
    "checkpoint_every": _number(lambda v: v >= 0, "a number of seconds >= 0"),
    # dynesty's, which it only asserts (null: dynesty chooses)
    "enlarge": ("a number >= 1 or null", lambda v: v is None or _number(lambda x: x >= 1, "")[1](v)),
    "bootstrap": ("0 (none) or a whole number >= 2, or null",
                  lambda v: v is None or (_is_whole(v) and (v == 0 or v >= 2))),
    "logl_max": _number(lambda v: True, "a number (.inf for no limit)"),
    "first_update": ("a mapping of numbers (min_ncall, min_eff)", lambda v: isinstance(v, Mapping) and all(
        isinstance(x, (int, float, np.number)) and not isinstance(x, bool) for x in v.values())),
    "seed": _SEED,
    **{k: _FLAG for k in ("resume", "verbose", "polish", "discard_exploration", "disp")},
}


#: The largest whole number a 64-bit integer holds: nautilus writes its counts (``n_update``,
#: ``n_like_new_bound``, ``n_points_min``) to its HDF5 checkpoint as such integers.
MAX_INT64 = 2**63 - 1
#: Why a nautilus count above :data:`MAX_INT64` is refused (a :data:`CAPS` entry's why).
CHECKPOINT_INT64 = ("nautilus writes it to its checkpoint file as a 64-bit integer; 10**20 stopped the fit with a "
                    "traceback when its first checkpoint was written")


#: Caps on settings that, far above their defaults, make a run go on for ever (or until it runs out
#: of memory) where it should fail: key -> (what the value must be, the cap, why). dynesty's
#: ``walks`` and ``slices`` are capped where a fit of the default size cannot finish in a day, so
#: that a value refused could not finish either. Measured on 2 CPU cores with a likelihood that
#: costs nothing (only dynesty's and the batching's own work, which a GPU does not speed up), dynesty
#: made 4,200 to 7,100 calls a second; a fit of the default 300 live points made 4,538 iterations
#: on a 4-parameter posterior, and a slice about 3.2 calls. ``walks`` 100,000 is then 4.5e8 calls, about a day at 5,000 a second,
#: and ``slices`` 30,000 as many for 'rslice' (96,000 calls a proposal; 'slice' makes that many per
#: free parameter); 10,000 and 1,000, the caps before, refused runs of two hours.
CAPS: dict[str, tuple[str, float, str]] = {
    "walks": ("a whole number from 1 to 100000", 100_000, "each of dynesty's proposals takes at least this many "
              "likelihood calls, a day's calls for a fit of 300 live points at 100,000; its default is 25, or "
              "20 + the number of free parameters in dynesty 3"),
    "slices": ("a whole number from 1 to 30000", 30_000, "each of dynesty's proposals takes this many slices of "
               "about 3 likelihood calls each (per parameter for 'slice'), a day's calls for a fit of 300 live "
               "points at 30,000; its default is 3, or 3 + n_dim"),
    "n_networks": ("a whole number from 0 to 100", 100, "nautilus trains each of its networks again for every new "
                   "bound, seconds each; its default is 4"),
    "n_shell": ("a whole number from 1 to 1048576", 2**20, "nautilus samples each shell until it holds this many "
                "points, and keeps every point in memory; its default is 1"),
    **{key: (f"a whole number from {low} to {MAX_INT64} (2**63 - 1)", MAX_INT64, CHECKPOINT_INT64)
       for key, low in (("n_update", 1), ("n_like_new_bound", 0))},
    "n_eff": ("a number from 0 to 10000000", 10**7, "nautilus samples until its effective sample size is this, at "
              "least one likelihood call each, and keeps every point in memory; its default is 10,000"),
}


def check_settings(method: str, settings: Mapping[str, Any], allowed: Iterable[str],
                   aliases: Mapping[str, str] | None = None, any_name: bool = False) -> None:
    """Raise ConfigError naming ``inference.settings.<key>`` for a setting ``method`` lacks, a
    value :data:`VALUE_RULES` refuses or one above its :data:`CAPS`, or one setting given under two
    names (``aliases``: other name -> the method's own). A value of the wrong kind (``f_live: high``)
    is a :class:`~tinylens.errors.ConfigTypeError`, the others (``nlive: -5``, an unknown name) a
    :class:`~tinylens.errors.ConfigValueError`, as the schema's are (:func:`_wrong_kind`).
    ``any_name``: the method takes settings of other names too (a signature with ``**kwargs``,
    :func:`others_to`), so that a name not in ``allowed`` is not refused."""
    allowed = set(allowed)
    aliases = aliases or {}
    for alias, name in aliases.items():
        if alias in settings and name in settings:
            raise ConfigValueError(f"inference.settings.{alias}: the same setting of {method} as '{name}' "
                              f"(got {show(settings[alias])} and {show(settings[name])}); give one of them.")
    for key, value in settings.items():
        if key not in allowed and not any_name:
            raise ConfigValueError(
                f"inference.settings.{key_name(str(key))}: not a setting of {method}.{did_you_mean([key], sorted(allowed))} "
                f"Allowed: {', '.join(sorted(allowed))}."
            )
        if key in VALUE_RULES and not VALUE_RULES[key][1](value):
            error = ConfigTypeError if _wrong_kind(VALUE_RULES[key][0], value) else ConfigValueError
            beyond = BEYOND_FLOAT if no_float_holds(value) else ""
            if VALUE_RULES[key][0].startswith("a whole number"):  # nlive: 1.0e+20, 1.0e+400 (inf): not said as no whole number
                beyond += whole_float_note(value)
            raise error(f"inference.settings.{key}: must be {VALUE_RULES[key][0]} for {method}, "
                        f"got {show(value)}{beyond}{_boolean_read(VALUE_RULES[key][0], value)}.")
        if key in CAPS and value > CAPS[key][1]:
            what, _, why = CAPS[key]
            raise ConfigValueError(f"inference.settings.{key}: must be {what} for {method}, got {show(value)} ({why}).")


def _boolean_read(what: str, value: Any) -> str:
    """For a true or false where a setting takes no boolean (``nlive: off``), the words a YAML file reads,
    unquoted, as it (`` (in a YAML file, an unquoted no, off or false reads as false)``): a YAML config
    says one of them, not the false shown; else empty."""
    return "" if what == _FLAG[0] else boolean_read(value)


def boolean_read(value: Any) -> str:
    """For a true or false that a setting outside :data:`VALUE_RULES` refuses (``n_points_min: yes``,
    ``periodic: on``, ``history_filename: off``: a number, a list, a mapping or a text expected), the words
    a YAML file reads, unquoted, as it, with a leading space, as :func:`check_settings` says it; else empty.
    Said neutrally (:func:`~tinylens.config.schema.bool_words_note`): the settings may be a Python mapping
    (``{"nlive": True}``), where no YAML read a word."""
    if not isinstance(value, bool):
        return ""
    from tinylens.config.schema import bool_words_note

    return f" ({bool_words_note(value)})"


def number_error(value: Any, lists: bool = False) -> type[ConfigError]:
    """The class of the error for ``value``, refused where a number (or, with ``lists``, a list of
    them) goes: a :class:`~tinylens.errors.ConfigTypeError` for a value that is no number (a text,
    null, true, a mapping), a list where only a number goes (``ncdim: [3]``, as the schema's
    ``int_type`` for ``nlive: [3]``) or a list holding no number, as the schema's ``*_type`` and
    ``*_parsing`` errors are; else a :class:`~tinylens.errors.ConfigValueError` (a number out of
    range, 1.5 for a count, a repeated index), as the schema's ``int_from_float`` and ranges are."""
    if isinstance(value, (list, tuple)) and not lists:
        return ConfigTypeError
    items = value if isinstance(value, (list, tuple)) else [value]
    numbers = all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in items)
    return ConfigValueError if numbers else ConfigTypeError


def _wrong_kind(what: str, value: Any) -> bool:
    """Whether ``value``, which the rule of :data:`VALUE_RULES` that says it ``what`` refuses, is of
    the wrong kind for it (a text or a list for a number, a number for true or false, a list for a
    mapping, or a mapping holding a text where a number goes) rather than a value of the right kind
    out of its range (``nlive: -5``, ``f_live: 1.5``): for a number, where :func:`number_error` says so."""
    if what == _FLAG[0] or what.startswith("a mapping"):
        return True  # true and false its only values; a mapping refused only for a value of no number in it
    return number_error(value) is ConfigTypeError


#: The most points one batch of a search may hold: a sampler's batch (nautilus's ``n_batch``), its
#: live points (``n_live``), differential evolution's population, lbfgs's ``n_draws``. Each point
#: is held in memory several times at once (its unit-cube and parameter vectors, its value), and
#: the likelihood evaluates at most :data:`tinylens.problem.MAX_POINTS_PER_CALL` ray-traced points
#: per call, for a real image a few thousand parameter vectors or fewer: a larger batch only
#: takes more memory, and 1e12 ran out of it once the search started.
MAX_BATCH = 2**20


def check_at_most(method: str, key: str, value: Any, cap: int, why: str, minimum: int = 1) -> None:
    """Raise ConfigError naming ``inference.settings.<key>``, its ``value`` and the range
    ``minimum .. cap`` where ``value`` (a whole number, as :data:`VALUE_RULES` checked) is above ``cap``."""
    if value > cap:
        raise ConfigValueError(f"inference.settings.{key}: must be a whole number from {minimum} to {cap} for {method}, "
                          f"got {show(value)} ({why}).")


def check_indices(method: str, settings: Mapping[str, Any], keys: Iterable[str], n_dim: int) -> None:
    """Raise ConfigError unless each of ``keys`` in ``settings`` is null or a list of distinct
    parameter indices ``0 .. n_dim - 1`` (``periodic``, ``reflective``): a ConfigTypeError for a value
    of the wrong kind (no list, ``periodic: 1``, or a list holding no number, ``['a']``), a
    ConfigValueError for a wrong one (``[4]``, ``[0, 0]``)."""
    for key in keys:
        value = settings.get(key)
        if value is None:
            continue
        ok = isinstance(value, (list, tuple)) and all(_is_whole(i) and 0 <= i < n_dim for i in value)
        if not ok or len(set(value)) != len(value):
            error = number_error(value, lists=True) if isinstance(value, (list, tuple)) else ConfigTypeError
            raise error(
                f"inference.settings.{key}: must be a list of distinct parameter indices from 0 to {n_dim - 1} "
                f"(the model has {n_dim} free parameters) or null for {method}, got {show(value)}{boolean_read(value)}."
            )


def _refuses(build: Callable[[dict[str, Any]], Any], settings: dict[str, Any]) -> Exception | None:
    """The error ``build(settings)`` raises (warnings silenced), or None; an error that is the
    machine's, not the settings' (out of memory, :func:`~tinylens.errors.out_of_memory`; one raised
    from a Ctrl-C, :func:`~tinylens.interrupts.interrupt_behind`), is raised on, for the command line
    to say as such."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build(settings)
    except Exception as err:  # the dummy problem is sound: any other error is the settings'
        if out_of_memory(err) or interrupt_behind(err) is not None:
            raise
        return err
    return None


def try_settings(method: str, settings: Mapping[str, Any], build: Callable[[dict[str, Any]], Any]) -> None:
    """Raise ConfigError if ``build`` fails on ``settings``, naming the setting that fails on its own:
    a ConfigTypeError where the method's error is a TypeError (and no ValueError), a ConfigValueError
    otherwise, so that the class follows the method's own judgement of the value.

    ``build(settings)`` sets ``method`` up with ``settings`` on a dummy problem of the real
    dimension: cheap (milliseconds) and without side effects (no files, no output), so that a
    value the sampler refuses is reported before a run instead of as a traceback during it.
    """
    settings = dict(settings)
    err = _refuses(build, settings)
    if err is None:
        return
    key = next((k for k in settings if _refuses(build, {k: settings[k]}) is not None), None)
    reason = str(err).strip().rstrip(".") or type(err).__name__
    error = ConfigTypeError if isinstance(err, TypeError) and not isinstance(err, ValueError) else ConfigValueError
    if key is None:
        raise error(f"inference.settings: {method} refuses these settings together ({reason}).")
    raise error(f"inference.settings.{key}: {method} refuses {show(settings[key])} ({reason}).")


def split(settings: Mapping[str, Any], *groups: Iterable[str], rest: int | None = None) -> list[dict[str, Any]]:
    """Split ``settings`` into one dict per group of names (first matching group wins); a setting
    of no group goes to group ``rest`` (one whose function takes ``**kwargs``), or nowhere."""
    out: list[dict[str, Any]] = [{} for _ in groups]
    for key, value in settings.items():
        for i, names in enumerate(groups):
            if key in names:
                out[i][key] = value
                break
        else:
            if rest is not None:
                out[rest][key] = value
    return out


def resumes(settings: Mapping[str, Any] | None) -> bool:
    """Whether a fit with these ``inference.settings`` resumes from its checkpoints: unless
    ``resume: false`` (every sampler's default is to resume)."""
    return bool((settings or {}).get("resume", True))


def open_checkpoint(build: Callable[[bool], T], path: Path | None, resume: bool) -> tuple[T, bool]:
    """``(build(resume), resume)``, or, when reading the checkpoint at ``path`` fails (a file cut
    short by a full disk or an older tinylens killed while writing), a warning that names it,
    the file deleted and ``(build(False), False)``: the run starts again instead of stopping. An
    error of writing an output meanwhile (:func:`~tinylens.errors.written_output`: a failing disk
    refusing dynesty's evaluation history) is not the checkpoint's: raised, the checkpoint kept; nor is
    HDF5's lock of it refused (:func:`h5_lock_refused`): an OutputError says what to set, the
    checkpoint kept."""
    if not resume or path is None:
        return build(False), False
    try:
        return build(True), True
    except Exception as err:  # noqa: BLE001 (any failure to read it; a real bug fails again below)
        if written_output(err):
            raise
        if h5_lock_refused(err):  # the file system's, not the file's: kept, for a run with HDF5's locking off
            raise OutputError(h5_lock_refused_text(path)) from None
        reason = f"{type(err).__name__}: {str(err).strip() or 'unreadable'}"
        warnings.warn(f"The checkpoint {path} could not be read ({reason}); it is deleted and the sampling "
                      "starts again.", CheckpointWarning, stacklevel=outside_stacklevel())
        path.unlink(missing_ok=True)
        return build(False), False


def _ref_meta(ref: Any) -> list[Any] | None:
    """A parameter's :class:`~tinylens.config.model_spec.Ref` as JSON: kind, index, value, base."""
    if ref is None:
        return None
    return [ref.kind, int(ref.index), float(ref.value), _ref_meta(ref.base)]


def model_meta(spec: Any) -> list[Any]:
    """Each component of the model ``spec`` as JSON: its label, profile, where each of its
    parameters comes from (free, a fixed value, a link), its settings and its amplitude, so that
    a changed profile or fixed value is a new problem even where the free parameters are not."""
    return [[c.label, c.profile.name, {k: _ref_meta(r) for k, r in sorted(c.params.items())},
             {k: repr(v) for k, v in sorted(c.settings.items())}, _ref_meta(c.amplitude)]
            for c in (*spec.lens_mass, *spec.lens_light, *spec.source_light)]


def keys_in_order(value: Any) -> Any:
    """``value`` with each dict in it (in lists and tuples too) rebuilt with its keys sorted (by
    their repr), so that its repr does not depend on the order a config gave them in; any other
    value as it is (a mapping given sorted has the repr it had). For a sampler's settings, whose
    mappings come from the user's config (dynesty's first_update), before :func:`fingerprint`:
    not in it, whose other callers pass mappings in a fixed order (the pipeline's settings, in the
    schema's), so that their checkpoints keep the fingerprints they were written with."""
    if type(value) is dict:
        return {k: keys_in_order(v) for k, v in sorted(value.items(), key=lambda item: repr(item[0]))}
    if type(value) in (list, tuple):
        return type(value)(keys_in_order(v) for v in value)
    return value


def fingerprint(problem, **extra: Any) -> str:
    """A hash of the data, the model (profiles, fixed values, links), the free parameters, their
    priors, the precision and ``extra`` sampler settings.

    A checkpoint is resumed only if its fingerprint matches: a changed config or dataset
    starts a fresh run instead of silently continuing a different problem.
    """
    h = hashlib.sha256()
    arrays, meta = _fingerprint_inputs(problem, extra)
    for arr in arrays:
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(json.dumps(meta, sort_keys=True).encode())
    return h.hexdigest()


def _fingerprint_inputs(problem, extra: dict[str, Any]) -> tuple[list[np.ndarray], dict[str, Any]]:
    """What :func:`fingerprint` hashes: the arrays (data, noise, PSF, mask, supersampling) and the
    rest as JSON."""
    d = problem.dataset
    # the supersampling as the fit uses it: one factor (uniform) or the per-pixel map (adaptive),
    # so that a changed mode, tolerance or levels is a new problem and dataset.nsub, which only
    # uniform mode reads, is not
    supersampling = np.asarray(problem.nsub_map, dtype=np.int64)
    meta = {
        "params": list(problem.param_names),
        "model": model_meta(problem.spec),
        "priors": [dataclasses.astuple(p) for p in problem.priors],  # exact: a box widened a little is a new problem
        "pixel_scale": float(d.pixel_scale),
        "supersampling_shape": list(supersampling.shape),
        "solver": str(problem.config.solver_type),
        # float32 and float64 likelihoods differ, so one run must not continue the other's
        "dtype": problem.precision,
        "extra": {k: repr(v) for k, v in sorted(extra.items())},
    }
    return [d.data, d.noise, d.psf, d.mask, supersampling], meta


def fingerprint_parts(problem, **extra: Any) -> dict[str, str]:
    """What :func:`fingerprint` hashes, in parts a user knows, each hashed on its own (16 hex
    digits): ``data`` (image, noise, PSF, mask, pixel scale), ``supersampling``, ``model`` (its
    components and free parameters), ``priors``, ``solver``, ``precision`` and ``<key> settings``
    for each of ``extra``; so that a checkpoint of another fit can say what differs
    (:func:`differing_parts`), which the fingerprint, one hash, cannot."""
    arrays, meta = _fingerprint_inputs(problem, extra)

    def digest(*items: Any) -> str:
        h = hashlib.sha256()
        for item in items:
            h.update(np.ascontiguousarray(item).tobytes() if isinstance(item, np.ndarray)
                     else json.dumps(item, sort_keys=True).encode())
        return h.hexdigest()[:16]

    data, noise, psf, mask, supersampling = arrays
    parts = {"data": digest(data, noise, psf, mask, meta["pixel_scale"]),
             "supersampling": digest(supersampling, meta["supersampling_shape"]),
             "model": digest(meta["params"], meta["model"]), "priors": digest(meta["priors"]),
             "solver": digest(meta["solver"]), "precision": digest(meta["dtype"])}
    return {**parts, **{f"{key} settings": digest(value) for key, value in meta["extra"].items()}}


def differing_parts(recorded: Any, parts: dict[str, str]) -> list[str]:
    """The names of the ``parts`` (:func:`fingerprint_parts`) that differ from those ``recorded``
    with a checkpoint; [] where it recorded none (written before they were) or they cannot be read."""
    if not isinstance(recorded, dict):
        return []
    return [name for name, value in parts.items() if name in recorded and recorded[name] != value]


def resumable(path: Path, stamp: str, resume: bool = True) -> bool:
    """Whether the checkpoint ``path`` is resumed by a run whose fingerprint is ``stamp``: it
    exists, the fingerprint next to it is ``stamp`` (one that cannot be read is not), and ``resume``."""
    stamp_file = path.with_name(filenames.fingerprint_name(path.name))
    return resume and path.exists() and _holds(stamp_file, stamp)


def unreadable_fingerprint(path: Path) -> str:
    """Why the fingerprint beside the checkpoint ``path`` cannot be read (``UnicodeDecodeError:
    ...`` for binary junk, ``IsADirectoryError: ...`` for a folder in its place); ``""`` where
    it can be, or is not there."""
    try:
        path.with_name(filenames.fingerprint_name(path.name)).read_text()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as err:
        return f"{type(err).__name__}: {str(err).strip() or 'unreadable'}"
    return ""


#: The digest of the survey template whose fit runs now (:func:`tinylens.survey.attempts.fit_digest`,
#: set by the survey's task around ``tinylens.fit``), recorded with the checkpoints the fit writes
#: (beside the sampler's, :func:`tinylens.filenames.template_name`; in the pipeline's state, its
#: ``template``), so that the survey tells whose checkpoint a lens holds; None outside a survey.
CHECKPOINT_TEMPLATE: contextvars.ContextVar[str | None] = contextvars.ContextVar("tinylens_checkpoint_template",
                                                                                   default=None)


def record_template(path: Path) -> None:
    """Record beside the sampler's checkpoint ``path``, about to be written or resumed, the digest of
    :data:`CHECKPOINT_TEMPLATE` (atomically), or remove an earlier record where none is set."""
    record = path.with_name(filenames.template_name(path.name))
    digest = CHECKPOINT_TEMPLATE.get()
    if digest is None:
        record.unlink(missing_ok=True)
    elif not _holds(record, digest):
        write_atomic(record, lambda tmp: tmp.write_text(digest + "\n"))


def prepare_checkpoint(path: Path, stamp: str, resume: bool) -> bool:
    """Decide whether ``path`` can be resumed (:func:`resumable`); remove it if not, with a
    CheckpointWarning where its fingerprint cannot be read.

    Writes the fingerprint ``stamp`` next to the checkpoint (``<path>.fingerprint``) where it
    is not there already, atomically (a job killed while writing it leaves the one before), and
    returns True when an existing checkpoint of the same problem will be resumed. A folder in
    the fingerprint's place is left there (and said, when it keeps a checkpoint from resuming).
    """
    stamp_file = path.with_name(filenames.fingerprint_name(path.name))
    remove_unfinished(path, stamp_file)  # writes that a killed job left unfinished
    resumed = resumable(path, stamp, resume)
    reason = unreadable_fingerprint(path) if resume and path.exists() else ""
    if reason:
        folder = (f" Remove the folder {stamp_file}: no fingerprint can be written in its place, so no later run "
                  "can resume this one either." if stamp_file.is_dir() else "")
        warnings.warn(f"The fingerprint {stamp_file} of the checkpoint {path} could not be read ({reason}), so the "
                      f"checkpoint is not known to be this fit's: it is deleted and the sampling starts again.{folder}",
                      CheckpointWarning, stacklevel=outside_stacklevel())
    if not resumed and path.exists():
        try:
            path.unlink()
        except PermissionError as exc:  # past the checks before the search: marked immutable, a root-squashing NFS
            raise OutputError(undeletable_checkpoint_text(path, exc, resume)) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    if not stamp_file.is_dir() and not _holds(stamp_file, stamp):
        write_atomic(stamp_file, lambda tmp: tmp.write_text(stamp + "\n"))
    record_template(path)
    return resumed


#: True while the pipeline samples after stages 1-3 whose results it saved in the output folder
#: (:data:`~tinylens.filenames.PIPELINE_STATE`): only then are the stages' results there this fit's,
#: which :func:`undeletable_checkpoint_text` says are kept (a fit without the pipeline, or one
#: beside another fit's stale state, has none of its own there).
STAGES_SAVED: contextvars.ContextVar[bool] = contextvars.ContextVar("tinylens_stages_saved", default=False)


def undeletable_checkpoint_text(path: Path, exc: OSError, resume: bool = True) -> str:
    """The error of the checkpoint ``path`` that a sampler does not resume and must delete before
    it samples, where the system refuses (``exc``) for a reason that the checks before the search
    (:func:`tinylens.fitting.replaced._check_replaceable`) cannot see: a file marked immutable, a network file
    system that maps this user to nobody. It names the file, says what is kept (the file itself,
    and the pipeline stages' results where the folder holds them, which a fit run again reuses
    only where its sampler's ``resume`` is true: ``resume: false`` does the stages again) and what to do."""
    out = path.parent
    state = out / filenames.PIPELINE_STATE
    reused = ("which a fit of this config run again reuses" if resume else
              "which a fit of this config run again does not reuse: with resume: false it does the stages again")
    stages = (f", and the pipeline stages' results in {state.name}, {reused}"
              if STAGES_SAVED.get() and state.is_file() else "")  # this fit's: not another's stale state
    return (f"Output folder {out}: {path.name}, a checkpoint this fit does not resume (another fit's, or resume: false), "
            f"cannot be deleted ({exc.strerror or type(exc).__name__}) for a reason no check before the search can "
            "see (a file marked immutable: lsattr shows an 'i', chattr -i clears it; a network file system that does "
            f"not let this user delete it), so nothing is sampled. Kept: {path.name} as it was{stages}. Delete "
            f"{path.name} (or ask its owner or the system's administrator to: {ls_command(path, option='-l')} shows "
            "who owns it), then run the fit again; "
            f"or choose another {OUTPUT_FOLDER_CHOICE}.")


def _holds(stamp_file: Path, stamp: str) -> bool:
    """Whether the fingerprint file ``stamp_file`` exists and holds ``stamp``."""
    try:
        return stamp_file.read_text().strip() == stamp
    except (OSError, UnicodeDecodeError):
        return False


#: The most seconds of sampling a checkpoint may record (about 32 years): more, as NaN or a
#: negative number, is of an edited or damaged file, and is not carried into the fit's wall time,
#: which a pipeline state records and refuses beyond this (:data:`tinylens.pipeline.run.MAX_STATE_SECONDS`).
MAX_RECORDED_SECONDS = 1e9


def recorded_seconds(value: Any) -> float:
    """``value``, the seconds of sampling a checkpoint records, where it is a number above 0 and
    at most :data:`MAX_RECORDED_SECONDS`; 0 otherwise (none recorded, or an edited or damaged file)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return seconds if 0 < seconds <= MAX_RECORDED_SECONDS else 0.0


#: The most likelihood calls a checkpoint may record (a fit makes ~1e5 to 1e8): more, or a negative
#: or fractional number, is of an edited or damaged file, and is not carried into the fit's call count,
#: which a pipeline state records and refuses beyond this (:data:`tinylens.pipeline.run.MAX_STATE_EVALS`).
#: dynesty's (:func:`tinylens.inference.dynesty_runner.calls_before`) is read as dynesty's ``ncall`` beyond it;
#: nautilus's own ``n_like``, with which it counts its ``n_like_max`` budget, makes its checkpoint one that
#: cannot be read, deleted and sampled again (:func:`tinylens.inference.nautilus_runner.check_recorded_calls`).
MAX_RECORDED_CALLS = 1e15


def recorded_count(value: Any) -> int | None:
    """``value``, the likelihood calls a checkpoint records, as an int where it is a whole number
    from 0 to :data:`MAX_RECORDED_CALLS`; None otherwise (an edited or damaged file)."""
    if _is_whole(value):
        calls = int(value)
    elif isinstance(value, (float, np.floating)) and float(value).is_integer():  # not NaN nor infinite
        calls = int(value)
    else:
        return None
    return calls if 0 <= calls <= MAX_RECORDED_CALLS else None


class SamplingClock:
    """Seconds of sampling behind a sampler's state: ``before`` (recorded in the checkpoint
    this run resumed) plus this run's, counted from the clock's creation. A checkpoint records
    :meth:`seconds` (nautilus: a file attribute; dynesty: the clock is pickled with the sampler,
    as those seconds), so that a resumed fit reports the time of all its runs."""

    def __init__(self, before: float = 0.0) -> None:
        self.before = float(before)
        self._started: float | None = time.monotonic()

    def seconds(self) -> float:
        """The earlier runs' seconds and this run's so far."""
        return self.before + (time.monotonic() - self._started if self._started is not None else 0.0)

    def __getstate__(self) -> dict[str, float]:
        return {"seconds": self.seconds()}

    def __setstate__(self, state: dict[str, float]) -> None:
        self.before, self._started = float(state["seconds"]), None


def _recorded(kept: KeptInterrupt, handler: Callable[[int, Any], Any], signum: int, frame: Any) -> None:
    """Call the signal ``handler``; where it raises KeyboardInterrupt, mark ``kept`` interrupted first."""
    try:
        handler(signum, frame)
    except KeyboardInterrupt:
        kept.interrupted = True
        raise


class KeptInterrupt:
    """Ctrl-C that a library cannot swallow, as a context manager around a run.

    scikit-learn's MLPRegressor, which trains nautilus's neural networks (most of nautilus's own
    time), catches KeyboardInterrupt and only warns "Training interrupted by user.": nautilus
    then sampled on, and a fit stopped with Ctrl-C went on to its end. Inside this context a
    SIGINT is also recorded, and a :meth:`guard`-ed function (the likelihood, called between
    two trainings) or :meth:`check` raises KeyboardInterrupt once one was; the SIGINT's own
    KeyboardInterrupt is raised by the handler this replaced (the command line's holds one back
    out of a garbage-collector callback, where Python would only print it). It acts only in the
    main thread and only where SIGINT has Python's own handler, or the command line's
    (:class:`tinylens.interrupts.UnswallowedInterrupt`); an ignored SIGINT stays ignored. A
    SIGTERM that the command line stops on (:class:`tinylens.interrupts.TerminateAsInterrupt`,
    which raises KeyboardInterrupt itself where SIGINT is ignored, as in a script's background, and
    out of a garbage-collector callback sends SIGTERM again) is recorded too, when it raises.
    """

    def __init__(self) -> None:
        self.interrupted = False
        self._previous: Any = None
        self._previous_term: Any = None
        self._handlers = contextlib.ExitStack()

    def __enter__(self) -> KeptInterrupt:
        if ctrl_c_raises_here():
            self._previous = self._handlers.enter_context(handler_in_place(signal.SIGINT, self._record))
        if terminate_stops_here():
            self._previous_term = self._handlers.enter_context(handler_in_place(signal.SIGTERM, self._record_term))
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handlers.close()
        self._previous = self._previous_term = None

    def _record(self, signum: int, frame: Any) -> None:
        # the handler replaced raises KeyboardInterrupt where the program is: Python's own, or the command
        # line's, which inside a callback that would only print it (JAX's gc callback) returns and sends
        # the SIGINT again once the callback has returned; recorded when raised, so one Ctrl-C stops once
        _recorded(self, self._previous, signum, frame)

    def _record_term(self, signum: int, frame: Any) -> None:
        _recorded(self, self._previous_term, signum, frame)  # a SIGINT sent, or KeyboardInterrupt where the program is

    def check(self) -> None:
        """Raise KeyboardInterrupt if a SIGINT came (and was perhaps caught by a library)."""
        if self.interrupted:
            raise KeyboardInterrupt

    def guard(self, func: Callable[..., T]) -> Callable[..., T]:
        """``func`` that first raises KeyboardInterrupt if a SIGINT came."""

        def guarded(*args: Any, **kwargs: Any) -> T:
            self.check()
            return func(*args, **kwargs)

        return guarded


#: Prior draws, in units of the live points, that a sampler may make without a finite log L before
#: it is stopped: as many as dynesty makes for its first live points before it gives up.
NO_FINITE_DRAWS = 1000


class FiniteWatch:
    """The likelihood calls made until one gave a finite value: past ``limit`` calls with none,
    :meth:`see` raises a ConfigError of ``message(calls)``, so that a sampler whose likelihood is
    finite nowhere stops and says why (nautilus draws from the priors for ever, its memory
    growing; dynesty draws its first live points 1,000 times over, past any ``maxcall``)."""

    def __init__(self, limit: int, message: Callable[[int], str]) -> None:
        self.limit = int(limit)
        self.message = message
        self.calls = 0
        self.seen = False

    def see(self, values: Any) -> None:
        """Count a batch's log L ``values``; a ConfigError past :attr:`limit` calls with none finite."""
        if self.seen:
            return
        self.calls += int(np.size(values))
        self.seen = bool(np.any(np.isfinite(values)))
        if not self.seen and self.calls >= self.limit:
            raise ConfigValueError(self.message(self.calls))

    def watch(self, loglike: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``loglike`` whose values :meth:`see` sees."""

        def watched(theta: Any) -> Any:
            values = loglike(theta)
            self.see(values)
            return values

        return watched
