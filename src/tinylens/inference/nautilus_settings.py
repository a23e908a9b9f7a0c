"""nautilus's setting names, read from its installed source without importing it.

``import nautilus`` takes a second or more (it imports scikit-learn, and pandas with it), and a
fit checked its settings only once JAX and the data were loaded: a misspelt ``nlvie`` was said
after 13-15 s. :func:`check_names` says it, and a value :data:`~tinylens.inference.common.VALUE_RULES`
refuses, once the config is read, with the message
:mod:`tinylens.inference.nautilus_runner` gives (the names are the keywords of the installed
nautilus's ``Sampler`` and ``Sampler.run``, read from the source of the class ``nautilus.Sampler``
names, so that they follow its version; where the source does not tell them all, nothing is checked here);
what needs nautilus itself (a value its ``Sampler`` refuses, ``neural_network_kwargs`` that
scikit-learn refuses) is left to that module's check. :func:`check_first` also checks the values
that depend on the number of free parameters (:func:`check_dimension`, which that check runs too),
counted from the config's model (:func:`tinylens.config.model_spec.free_parameter_names`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from tinylens.config.schema import show
from tinylens.errors import ConfigValueError
from tinylens.inference.common import (CHECKPOINT_INT64, MAX_BATCH, MAX_INT64, _is_whole, boolean_read, check_at_most,
                                       check_indices, check_settings, number_error)
from tinylens.inference.source_names import method_keywords, package_folder

DEFAULTS: dict[str, Any] = {"n_live": 300, "n_batch": 256, "seed": 0, "resume": True, "verbose": False,
                            "checkpoint_every": 60.0}
ALIASES = {"nlive": "n_live", "batch_size": "n_batch"}
#: Settings tinylens handles itself (not nautilus's).
OWN_KEYS = {"checkpoint_every"}
#: Sampler arguments tinylens sets itself.
RESERVED = {"prior", "likelihood", "n_dim", "vectorized", "pass_dict", "filepath", "pool", "blobs_dtype",
            "prior_args", "prior_kwargs", "likelihood_args", "likelihood_kwargs"}


def source_keywords() -> tuple[frozenset[str], frozenset[str]] | None:
    """The keywords of the installed nautilus's ``Sampler.__init__`` (less :data:`RESERVED`) and of
    ``Sampler.run``, read from the source of the class ``nautilus.Sampler`` names
    (:func:`tinylens.inference.source_names.method_keywords`); None where they cannot be told from it
    (nautilus not installed, or installed without its source, as a zip or compiled; a ``Sampler``
    bound in a way its source does not tell; either method taking ``*args`` or ``**kwargs``):
    the check is then left to :mod:`tinylens.inference.nautilus_runner`.
    Not cached while the package is not found: a session (a notebook) that installs it after a fit
    refused for its absence checks the names from then on, where a None kept for the session
    skipped this check until a restart; the names are cached per folder the package is found in."""
    folder = package_folder("nautilus")
    return None if folder is None else _keywords_in(folder)


@lru_cache(maxsize=4)
def _keywords_in(folder: Path) -> tuple[frozenset[str], frozenset[str]] | None:
    """:func:`source_keywords` read from the nautilus installed in ``folder``."""
    init = method_keywords(folder, "nautilus", "Sampler", "__init__")
    run = method_keywords(folder, "nautilus", "Sampler", "run")
    if init is None or run is None:
        return None
    return frozenset(init - RESERVED), frozenset(run)


source_keywords.cache_clear = _keywords_in.cache_clear  # type: ignore[attr-defined]  # as an lru_cache's


def check_names(settings: dict[str, Any]) -> None:
    """Raise the ConfigError :mod:`tinylens.inference.nautilus_runner` raises for a setting nautilus
    does not have, a value :data:`~tinylens.inference.common.VALUE_RULES` refuses or one above its
    caps, without importing nautilus (nor scikit-learn, nor JAX); nothing where its source cannot be read."""
    found = source_keywords()
    if found is None:
        return
    sampler_keys, run_keys = found
    check_settings("nautilus", settings, sampler_keys | run_keys | OWN_KEYS | set(ALIASES), ALIASES)


def _user_key(settings: dict[str, Any], name: str) -> str:
    """How the config spells the setting ``name`` (an alias or the name itself)."""
    return next((k for k in settings if ALIASES.get(k, k) == name), name)


#: What a model of one free parameter, which nautilus cannot sample, is told to use instead.
ONE_PARAMETER_ADVICE = "Use method dynesty or an optimizer."
#: The same for a config of TinyLensGpu's older ``sampling`` section, which names its method
#: ``sampler`` and can run no optimizer (:func:`tinylens.inference._named_as_written`).
ONE_PARAMETER_ADVICE_SAMPLING = ("Set sampler: dynesty in the sampling section, or fit with an optimizer (an "
                                 "inference section of type: optimizer in its place).")


def check_dimension(settings: dict[str, Any], init: dict[str, Any], n_dim: int) -> None:
    """The settings whose valid values depend on the number of free parameters ``n_dim``, for
    ``settings`` as the config gives them and ``init`` (their canonical names, defaults filled in):
    ``n_batch`` and ``n_live`` at most :data:`~tinylens.inference.common.MAX_BATCH` (nautilus draws
    each batch's points at once and keeps every live point with the networks trained on them, so
    that a larger one ran out of memory once the sampling started), at least 2 free parameters,
    ``n_live`` above ``n_dim``, ``n_points_min`` above it, ``periodic`` a list of parameter indices:
    a ConfigValueError for a wrong value, a ConfigTypeError for one of the wrong kind (``n_points_min: '60'``)."""
    check_at_most("nautilus", _user_key(settings, "n_batch"), init["n_batch"], MAX_BATCH,
                  "nautilus draws a batch's points at once and holds them in memory; on a GPU a few thousand "
                  "is plenty, as the likelihood evaluates a large batch in pieces anyway")
    check_at_most("nautilus", _user_key(settings, "n_live"), init["n_live"], MAX_BATCH,
                  "nautilus keeps every live point in memory and trains its networks on them; tens of thousands "
                  "are already a very thorough run", minimum=n_dim + 1)
    if n_dim < 2:
        raise ConfigValueError(
            f"inference.method: nautilus needs at least 2 free parameters, the model has {n_dim}. {ONE_PARAMETER_ADVICE}"
        )
    if init["n_live"] <= n_dim:  # nautilus bounds the live points by an ellipsoid: it needs more than n_dim
        raise ConfigValueError(
            f"inference.settings.{_user_key(settings, 'n_live')}: must be more than the number of free parameters "
            f"({n_dim}) for nautilus, got {show(init['n_live'])}."
        )
    n_min = init.get("n_points_min")
    if n_min is not None and not (_is_whole(n_min) and n_min > n_dim):
        raise number_error(n_min)(
            f"inference.settings.n_points_min: must be a whole number >= {n_dim + 1} (the number of free "
            f"parameters + 1) or null for nautilus, got {show(n_min)}{boolean_read(n_min)}."
        )
    if n_min is not None and n_min > MAX_INT64:
        raise ConfigValueError(f"inference.settings.n_points_min: must be a whole number from {n_dim + 1} to "
                               f"{MAX_INT64} (2**63 - 1) or null for nautilus, got {show(n_min)} ({CHECKPOINT_INT64}).")
    check_indices("nautilus", init, ["periodic"], n_dim)


def check_first(settings: dict[str, Any], n_dim: int) -> None:
    """:func:`check_names`, then :func:`check_dimension` for a model of ``n_dim`` free parameters,
    with the messages of :mod:`tinylens.inference.nautilus_runner`'s check, without importing nautilus
    (nor scikit-learn, nor JAX); nothing where its source cannot be read (the values are then not
    known to be of the right kind)."""
    if source_keywords() is None:
        return
    check_names(settings)
    check_dimension(settings, {**DEFAULTS, **{ALIASES.get(k, k): v for k, v in settings.items()}}, n_dim)
