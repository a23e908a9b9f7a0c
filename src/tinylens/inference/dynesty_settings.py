"""dynesty's setting names, read from its installed source without importing it, and the checks
of its settings that the config alone tells.

A fit with dynesty checked its settings only once JAX and the data were loaded (its runner imports
both dynesty and JAX): a misspelt ``nlvie`` or ``walks: many`` was said after 15-30 s on a loaded
machine. :func:`check_names` says it once the config is read, with the message
:mod:`tinylens.inference.dynesty_runner` gives: the names are the keywords of the installed
dynesty's ``NestedSampler.__new__`` and ``NestedSampler.run_nested`` (inherited from its
``Sampler``), read by :mod:`tinylens.inference.source_names`, so that they follow its version; where
the source does not tell them all, the names are left to the runner. What needs the number of
free parameters (``nlive``'s least, ``periodic``, ``ncdim``) or dynesty itself (a ``bound`` it does not
know) is left to the runner's check; :func:`check_first` also checks the former, with the number of
free parameters counted from the config's model (:func:`tinylens.config.model_spec.free_parameter_names`),
as the runner's check does (:func:`check_dimension`).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from tinylens import filenames
from tinylens.config.schema import show
from tinylens.errors import ConfigTypeError, ConfigValueError, visible
from tinylens.inference.common import (MAX_BATCH, _is_whole, boolean_read, check_at_most, check_indices, check_settings,
                                       number_error)
from tinylens.inference.source_names import method_keywords, package_folder

DEFAULTS: dict[str, Any] = {
    "nlive": 300, "queue_size": 64, "dlogz": 0.1, "bound": "multi", "sample": "rwalk",
    "seed": 0, "resume": True, "checkpoint_every": 60.0,
}
ALIASES = {"batch_size": "queue_size", "n_live": "nlive"}
#: dynesty's arguments that tinylens sets itself.
RESERVED = {"loglikelihood", "prior_transform", "ndim", "pool", "use_pool", "rstate", "logl_args", "logl_kwargs",
            "ptform_args", "ptform_kwargs", "live_points", "blob", "print_progress", "print_func",
            "checkpoint_file", "add_live", "save_bounds"}
#: Settings tinylens handles itself.
OWN_KEYS = {"seed", "resume"}

#: The most proposals dynesty may queue (``queue_size``): the runner's batching pool runs each in a
#: thread of its own, and 1e7 failed mid-run when the threads could not be started (a few
#: thousand threads take seconds to start; the system's limit on them is tens of thousands).
MAX_QUEUE = 4096

#: Settings that list parameter indices (dynesty's periodic and reflective boundaries); an empty
#: list is taken as null, no parameter, as dynesty (3.1.0) fails on it (numpy's "zero-size array to
#: reduction operation maximum which has no identity").
INDEX_KEYS = ("periodic", "reflective")


def source_keywords() -> tuple[frozenset[str], frozenset[str]] | None:
    """The keywords of the installed dynesty's ``NestedSampler.__new__`` (less :data:`RESERVED`
    and ``cls``) and of ``NestedSampler.run_nested`` (less :data:`RESERVED`), read from its source;
    None where they cannot be told from it (dynesty not installed, or without its source; a
    method taking ``*args`` or ``**kwargs``, or bound in a way the source does not tell).
    Not cached while the package is not found: a session (a notebook) that installs it after a fit
    refused for its absence checks the names from then on, where a None kept for the session
    skipped this check until a restart; the names are cached per folder the package is found in."""
    folder = package_folder("dynesty")
    return None if folder is None else _keywords_in(folder)


@lru_cache(maxsize=4)
def _keywords_in(folder: Path) -> tuple[frozenset[str], frozenset[str]] | None:
    """:func:`source_keywords` read from the dynesty installed in ``folder``."""
    init = method_keywords(folder, "dynesty", "NestedSampler", "__new__", first="cls")
    run = method_keywords(folder, "dynesty", "NestedSampler", "run_nested")
    if init is None or run is None:
        return None
    return frozenset(init - RESERVED), frozenset(run - RESERVED)


source_keywords.cache_clear = _keywords_in.cache_clear  # type: ignore[attr-defined]  # as an lru_cache's


def _user_key(settings: dict[str, Any], name: str) -> str:
    """How the config spells the setting ``name`` (an alias or the name itself)."""
    return next((k for k in settings if ALIASES.get(k, k) == name), name)


def check_queue(settings: dict[str, Any], queue_size: Any) -> None:
    """``queue_size`` (given in ``settings`` under either name) at most :data:`MAX_QUEUE`."""
    check_at_most("dynesty", _user_key(settings, "queue_size"), queue_size, MAX_QUEUE,
                  "tinylens runs each queued proposal in a thread of its own, and their likelihood calls as one "
                  "batch; a few hundred keep a GPU busy")


def check_history_name(name: Any) -> None:
    """Raise ConfigTypeError unless ``history_filename`` is null or a file name (a text), and
    ConfigValueError unless a relative one is none of tinylens's other files in the output folder
    (:data:`tinylens.filenames.RESERVED`), which the history would overwrite (compared ignoring
    case, as macOS and Windows do)."""
    if name is None:
        return
    if not isinstance(name, str):
        raise ConfigTypeError(f"inference.settings.history_filename: must be a file name for dynesty, "
                              f"got {show(name)}{boolean_read(name)}.")
    if "\0" in name:  # no system takes it in a path: Path.resolve raised ValueError, a traceback from validate and fit
        raise ConfigValueError(f"inference.settings.history_filename: '{visible(name)}' holds a NUL character "
                               "(U+0000), which no file name may hold; give another name for dynesty's history.")
    path = history_path(name)
    if not path.is_absolute() and is_other_own_file(os.path.normpath(path)):
        raise ConfigValueError(
            f"inference.settings.history_filename: '{name}' is a file tinylens writes itself in the output folder "
            f"(its own files: {', '.join(OTHER_OWN_FILES)}); choose another name for dynesty's history."
        )


def history_path(name: str) -> Path:
    """``history_filename`` ``name`` with a leading ``~`` or ``~user`` expanded; a ConfigValueError
    (a ConfigError and a ValueError, as a config's other wrong values are) naming the key where that
    home folder is not known here."""
    from tinylens.config.loader import home_expanded

    try:
        return home_expanded(name)
    except ConfigValueError as exc:
        raise ConfigValueError(f"inference.settings.history_filename: {exc}.") from None


#: tinylens's own files in an output folder that dynesty's history may not be written over (all
#: but the history's own default name).
OTHER_OWN_FILES = tuple(own for own in filenames.RESERVED if own != filenames.DYNESTY_HISTORY)


def is_other_own_file(name: str) -> bool:
    """Whether ``name`` is one of :data:`OTHER_OWN_FILES`, ignoring case as macOS and Windows do."""
    return name.casefold() in {own.casefold() for own in OTHER_OWN_FILES}


def check_names(settings: dict[str, Any]) -> None:
    """Raise the ConfigError :mod:`tinylens.inference.dynesty_runner` raises for a setting dynesty
    does not have (where its source tells them), a value :data:`~tinylens.inference.common.VALUE_RULES`
    refuses or one above its caps, a ``queue_size`` above :data:`MAX_QUEUE` or a ``history_filename``
    that is no file name or one of tinylens's own, without importing dynesty (nor JAX)."""
    found = source_keywords()
    if found is None:  # the source does not tell the names: all is left to the runner's check
        return
    sampler_keys, run_keys = found
    check_settings("dynesty", settings, sampler_keys | run_keys | OWN_KEYS | set(ALIASES), ALIASES)
    canon = {ALIASES.get(k, k): v for k, v in settings.items()}
    if "queue_size" in canon:  # a whole number, as check_settings found
        check_queue(settings, canon["queue_size"])
    if "history_filename" in canon:
        check_history_name(canon["history_filename"])


def check_dimension(settings: dict[str, Any], init: dict[str, Any], n_dim: int) -> None:
    """The settings whose valid values depend on the number of free parameters ``n_dim``, for
    ``settings`` as the config gives them and ``init`` (their canonical names, defaults filled in):
    ``nlive`` from ``2 n_dim + 1`` to :data:`~tinylens.inference.common.MAX_BATCH` (and ``queue_size``
    at most :data:`MAX_QUEUE`), ``periodic`` and ``reflective`` lists of parameter indices, ``ncdim``
    from 1 to ``n_dim``: a ConfigValueError for a wrong value (``nlive`` under ``2 n_dim + 1``,
    ``ncdim: 9``), a ConfigTypeError for one of the wrong kind (``ncdim: x``)."""
    nlive, key, least = init["nlive"], _user_key(settings, "nlive"), 2 * n_dim + 1
    if nlive < least:  # dynesty only warns ("Beware! Having `nlive <= 2 * ndim` is extremely risky!")
        raise ConfigValueError(f"inference.settings.{key}: must be a whole number from {least} to {MAX_BATCH} for "
                               f"dynesty (more than twice the number of free parameters, {n_dim}), got {show(nlive)}: "
                               "with fewer live points its ellipsoid bounds are degenerate, so that 'unif' sampling "
                               "fails or runs for ever and the evidence is off; hundreds are usual.")
    check_at_most("dynesty", key, nlive, MAX_BATCH, "dynesty draws and holds every live point at once; tens of "
                  "thousands are already a very thorough run", minimum=least)
    check_queue(settings, init["queue_size"])
    check_indices("dynesty", init, INDEX_KEYS, n_dim)
    ncdim = init.get("ncdim")
    if ncdim is not None and not (_is_whole(ncdim) and 1 <= ncdim <= n_dim):
        raise number_error(ncdim)(
            f"inference.settings.ncdim: must be a whole number from 1 to {n_dim} (the number of free parameters) "
            f"or null for dynesty, got {show(ncdim)}{boolean_read(ncdim)}."
        )


def check_first(settings: dict[str, Any], n_dim: int) -> None:
    """:func:`check_names`, then :func:`check_dimension` for a model of ``n_dim`` free parameters:
    what the runner's check refuses but a ``bound`` or a value that only dynesty itself refuses,
    with its message, without importing dynesty (nor JAX); nothing where its source cannot be read
    (the values are then not known to be of the right kind)."""
    if source_keywords() is None:
        return
    check_names(settings)
    check_dimension(settings, {**DEFAULTS, **{ALIASES.get(k, k): v for k, v in settings.items()}}, n_dim)
