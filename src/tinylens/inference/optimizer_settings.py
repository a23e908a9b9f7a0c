"""The optimisers' settings (differential_evolution, lbfgs) and the checks of them that the config
alone tells, without JAX.

:mod:`tinylens.inference.optimizer` imports JAX (``jax.grad`` for L-BFGS-B and the polish), so a
fit with an optimiser checked its settings only once JAX and the data were loaded: a misspelt
``n_strats`` or ``popsiz`` was said after 20-40 s on a loaded machine. :func:`check_lbfgs` is all of
lbfgs's check (its settings are tinylens's own); :func:`check_de_names` is differential evolution's
but for what needs the number of free parameters (``popsize``'s cap) or a trial of scipy's own
(a ``strategy`` it does not know), which the runner's check does; :func:`check_de_first` adds the
former, with the number of free parameters counted from the config's model
(:func:`tinylens.config.model_spec.free_parameter_names`). Differential evolution's names
are the keywords of the installed scipy's ``differential_evolution``, from its imported signature
(scipy's optimiser module, not JAX: a decorator of scipy's gives it, which its source does not tell).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from tinylens.errors import ConfigValueError, plural
from tinylens.inference.common import MAX_BATCH, check_at_most, check_settings, keyword_names, others_to

DE_DEFAULTS: dict[str, Any] = {"seed": 0, "polish": True, "popsize": 15, "maxiter": 1000, "tol": 0.01}
LBFGS_DEFAULTS: dict[str, Any] = {"n_starts": 8, "n_draws": 1024, "maxiter": 500, "seed": 0}
#: Keywords of scipy's ``differential_evolution`` that tinylens sets itself (TinyLensGpu passes
#: its config's on to scipy), each with why a config cannot give it.
DE_OWN_KEYWORDS: dict[str, str] = {
    "workers": "tinylens evaluates each generation's population in one batched likelihood call, not in a pool of "
               "processes",
    "vectorized": "tinylens always evaluates each generation's population in one batched call",
    "x0": "the search starts from a population drawn over the priors' box (init); to start near a point, narrow "
          "the priors around it",
    "bounds": "the box searched is the priors' (each prior's range, or a Gaussian's mean +- 5 sigma, cut to its "
              "limits)",
    "callback": "tinylens's own reports the progress",
    "rng": "give seed instead",
}


@lru_cache(maxsize=1)
def de_keys() -> frozenset[str]:
    """The settings differential evolution takes: the keywords of scipy's ``differential_evolution``
    but those tinylens sets itself, and ``seed`` (tinylens's own, passed on as ``rng``: scipy 1.15
    takes it through a decorator, so its signature does not name it)."""
    from scipy import optimize

    return frozenset(keyword_names(optimize.differential_evolution, exclude={"func", "bounds", "args", "vectorized",
                                                                            "workers", "callback", "rng", "x0"})
                     | {"seed"})


def check_de_names(settings: dict[str, Any]) -> None:
    """Raise ConfigError for a keyword of scipy's that tinylens sets itself, a setting differential
    evolution does not have or a value :data:`~tinylens.inference.common.VALUE_RULES` refuses."""
    own = next((key for key in settings if key in DE_OWN_KEYWORDS), None)
    if own is not None:
        raise ConfigValueError(f"inference.settings.{own}: a keyword of scipy's differential_evolution that tinylens "
                               f"sets itself ({DE_OWN_KEYWORDS[own]}); remove it.")
    from scipy import optimize

    check_settings("differential_evolution", settings, de_keys(),
                   any_name=others_to(optimize.differential_evolution) is not None)


def check_de_first(settings: dict[str, Any], n_dim: int) -> None:
    """:func:`check_de_names`, and ``popsize`` at most :data:`~tinylens.inference.common.MAX_BATCH`
    over ``n_dim`` (scipy's population, popsize x ``n_dim`` members, is one batch per generation):
    differential evolution's check but scipy's trial of the settings, JAX not imported."""
    check_de_names(settings)
    if "popsize" in settings:  # scipy's population, popsize x n_dim members, is one batch per generation
        check_at_most("differential_evolution", "popsize", settings["popsize"], max(1, MAX_BATCH // n_dim),
                      f"the population, popsize x {n_dim} free parameters, is drawn and evaluated as one batch "
                      f"each generation, at most {MAX_BATCH} points; scipy's default is 15")


def check_lbfgs(settings: dict[str, Any], n_dim: int | None = None) -> None:
    """Raise ConfigError for a setting of lbfgs it does not have, or more starts (``n_starts``)
    than prior draws to start from (``n_draws``), which ran only ``n_draws`` (``n_dim`` is not needed)."""
    check_settings("lbfgs", settings, LBFGS_DEFAULTS)
    kw = {**LBFGS_DEFAULTS, **settings}
    check_at_most("lbfgs", "n_draws", kw["n_draws"], MAX_BATCH, "the prior draws are made and evaluated as one batch, "
                  "held in memory at once; the default is 1024")
    if kw["n_starts"] > kw["n_draws"]:
        given = "" if "n_draws" in settings else ", its default"
        raise ConfigValueError(
            f"inference.settings.n_starts: lbfgs starts from the best of n_draws ({kw['n_draws']}{given}) prior "
            f"{plural(kw['n_draws'], 'draw')}, so it cannot make {kw['n_starts']} starts; lower n_starts or raise n_draws."
        )
