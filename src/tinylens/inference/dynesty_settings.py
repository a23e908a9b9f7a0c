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
know) is left to the runner's check.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from tinylens import filenames
from tinylens.config.schema import show
from tinylens.errors import ConfigTypeError, ConfigValueError
from tinylens.inference.common import check_at_most, check_settings
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


@lru_cache(maxsize=1)
def source_keywords() -> tuple[frozenset[str], frozenset[str]] | None:
    """The keywords of the installed dynesty's ``NestedSampler.__new__`` (less :data:`RESERVED`
    and ``cls``) and of ``NestedSampler.run_nested`` (less :data:`RESERVED`), read from its source;
    None where they cannot be told from it (dynesty not installed, or without its source; a
    method taking ``*args`` or ``**kwargs``, or bound in a way the source does not tell)."""
    folder = package_folder("dynesty")
    if folder is None:
        return None
    init = method_keywords(folder, "dynesty", "NestedSampler", "__new__", first="cls")
    run = method_keywords(folder, "dynesty", "NestedSampler", "run_nested")
    if init is None or run is None:
        return None
    return frozenset(init - RESERVED), frozenset(run - RESERVED)


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
                              f"got {show(name)}.")
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
