"""Nested sampling with nautilus (the paper's sampler), batched and resumable.

Settings (``config.inference.settings``), TinyLensGpu's names first:

* ``nlive`` (``n_live``): live points, default 300 as in the paper (sec. 4.1);
* ``batch_size`` (``n_batch``): likelihood evaluations per batch, default 256. Every batch is
  one ``vmap``-ed call of the likelihood; 256 keeps a CPU busy and the per-call overhead
  small, while staying close to ``nlive`` so bounds are refreshed often (on a GPU, 512-2048);
* ``resume`` (default true): continue from ``checkpoint.hdf5`` in the output folder when it
  belongs to the same data, priors and settings;
* ``seed`` (default 0, reproducible), ``verbose`` (nautilus's own table, default false);
* any other keyword of ``nautilus.Sampler`` (``n_update``, ``n_networks``, ...) or of
  ``Sampler.run`` (``f_live``, ``n_eff``, ``n_like_max``, ``discard_exploration``,
  ``timeout``, ...).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from nautilus import Sampler
from sklearn.neural_network import MLPRegressor

from tinylens.errors import ConfigError
from tinylens.inference import InferenceResult
from tinylens.inference.common import (
    _is_whole,
    check_indices,
    check_settings,
    fingerprint,
    keyword_names,
    prepare_checkpoint,
    split,
    try_settings,
)
from tinylens.inference.progress import LiveStatus

DEFAULTS: dict[str, Any] = {"n_live": 300, "n_batch": 256, "seed": 0, "resume": True, "verbose": False}
ALIASES = {"nlive": "n_live", "batch_size": "n_batch"}
#: Sampler arguments tinylens sets itself.
RESERVED = {"prior", "likelihood", "n_dim", "vectorized", "pass_dict", "filepath", "pool", "blobs_dtype",
            "prior_args", "prior_kwargs", "likelihood_args", "likelihood_kwargs"}
SAMPLER_KEYS = keyword_names(Sampler.__init__, exclude=RESERVED)
RUN_KEYS = keyword_names(Sampler.run)
CHECKPOINT_NAME = "checkpoint.hdf5"


def _settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Canonical names, defaults filled in, split into Sampler and run keywords."""
    canon = {ALIASES.get(k, k): v for k, v in settings.items()}
    check_settings("nautilus", settings, SAMPLER_KEYS | RUN_KEYS | set(ALIASES))
    merged = {**DEFAULTS, **canon}
    return tuple(split(merged, SAMPLER_KEYS, RUN_KEYS))  # type: ignore[return-value]


def _user_key(settings: dict[str, Any], name: str) -> str:
    """How the config spells the setting ``name`` (an alias or the name itself)."""
    return next((k for k in settings if ALIASES.get(k, k) == name), name)


def _check_network(value: Any) -> None:
    """``neural_network_kwargs``: MLPRegressor settings that scikit-learn accepts and that a
    checkpoint can store (nautilus writes them as HDF5 attributes)."""
    where = "inference.settings.neural_network_kwargs"
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}: must be a mapping of scikit-learn MLPRegressor settings for nautilus, got {value!r}."
        )
    allowed = keyword_names(MLPRegressor.__init__)
    for name, v in value.items():
        if name not in allowed:
            raise ConfigError(
                f"{where}.{name}: not a setting of MLPRegressor (nautilus's networks). "
                f"Allowed: {', '.join(sorted(allowed))}."
            )
        try:
            validate = getattr(MLPRegressor(**{name: v}), "_validate_params", None)  # scikit-learn >= 1.2
            if validate is not None:
                validate()
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}.{name}: {str(err).rstrip('.')} for nautilus.") from None
        try:
            with h5py.File(io.BytesIO(), "w") as f:  # in memory
                f.attrs[name] = v
        except (TypeError, ValueError):
            raise ConfigError(f"{where}.{name}: nautilus cannot store {v!r} in its checkpoint; "
                              "use a number, a string or a list of numbers.") from None
        sizes = v if isinstance(v, (list, tuple)) else [v]
        if name == "hidden_layer_sizes" and not all(_is_whole(n) and n >= 1 for n in sizes):
            raise ConfigError(f"{where}.{name}: must be a whole number >= 1 or a list of them for nautilus, got {v!r}.")


def _check_dimension(settings: dict[str, Any], init: dict[str, Any], n_dim: int) -> None:
    """Settings whose valid values depend on the number of free parameters ``n_dim``."""
    if n_dim < 2:
        raise ConfigError(
            f"inference.method: nautilus needs at least 2 free parameters, the model has {n_dim}. "
            "Use method dynesty or an optimizer."
        )
    if init["n_live"] <= n_dim:  # nautilus bounds the live points by an ellipsoid: it needs more than n_dim
        raise ConfigError(
            f"inference.settings.{_user_key(settings, 'n_live')}: must be more than the number of free parameters "
            f"({n_dim}) for nautilus, got {init['n_live']!r}."
        )
    n_min = init.get("n_points_min")
    if n_min is not None and not (_is_whole(n_min) and n_min > n_dim):
        raise ConfigError(
            f"inference.settings.n_points_min: must be a whole number >= {n_dim + 1} (the number of free "
            f"parameters + 1) or null for nautilus, got {n_min!r}."
        )
    check_indices("nautilus", init, ["periodic"], n_dim)
    if "neural_network_kwargs" in init:
        _check_network(init["neural_network_kwargs"])


def _dummy_sampler(n_dim: int) -> Callable[[dict[str, Any]], Sampler]:
    """``settings -> Sampler`` on a dummy problem of ``n_dim`` parameters: no likelihood calls, no file."""

    def build(settings: dict[str, Any]) -> Sampler:
        init, _ = _settings(settings)
        return Sampler(lambda u: u, lambda x: np.zeros(len(x)), n_dim=n_dim, vectorized=True, pass_dict=False, **init)

    return build


def check(settings: dict[str, Any], n_dim: int) -> None:
    """Raise ConfigError for a setting nautilus does not have or a value it would fail on, for a
    model of ``n_dim`` free parameters, without running anything."""
    init, _ = _settings(settings)
    _check_dimension(settings, init, n_dim)
    try_settings("nautilus", settings, _dummy_sampler(n_dim))


def _stats(sampler: Sampler) -> dict[str, Any]:
    """log Z and N_eff; while exploring, also f_live (the run explores until it is below ``f_live``)."""
    stats: dict[str, Any] = {"log Z": sampler.log_z, "N_eff": int(sampler.n_eff)}
    if sampler.n_like and not sampler.explored:
        stats["f_live"] = sampler.f_live
    return stats


def run(
    problem,
    settings: dict[str, Any],
    *,
    progress: bool = True,
    checkpoint_dir: str | Path | None = None,
) -> InferenceResult:
    """Sample ``problem``'s posterior with nautilus; weighted samples and evidence."""
    check(settings, problem.ndim)
    init, run_kw = _settings(settings)
    filepath = None
    resumed = False
    if checkpoint_dir is not None:
        filepath = Path(checkpoint_dir) / CHECKPOINT_NAME
        stamp = fingerprint(problem, n_live=init["n_live"], n_batch=init["n_batch"], seed=init.get("seed"))
        resumed = prepare_checkpoint(filepath, stamp, init["resume"])
    status = LiveStatus("nautilus", enabled=progress)
    sampler = Sampler(
        problem.prior_transform,
        status.wrap(problem.log_likelihood),
        n_dim=problem.ndim,
        vectorized=True,
        pass_dict=False,
        filepath=filepath,
        **init,
    )
    status.stats = lambda: _stats(sampler)
    n_like_before = sampler.n_like
    start = time.perf_counter()
    with status:
        converged = sampler.run(**run_kw)
    wall = time.perf_counter() - start
    points, log_w, log_l = sampler.posterior()
    return InferenceResult(
        method="nautilus",
        param_names=problem.param_names,
        samples=np.asarray(points),
        log_weights=np.asarray(log_w),
        log_likelihood=np.asarray(log_l),
        log_evidence=float(sampler.log_z),
        n_likelihood_evals=int(sampler.n_like),
        wall_time_s=wall,
        converged=bool(converged),
        info={
            "n_eff": float(sampler.n_eff),
            "n_like_this_run": int(sampler.n_like - n_like_before),
            "resumed": resumed,
            "likelihood_time_s": status.likelihood_time_s,
            "checkpoint": str(filepath) if filepath else None,
            "settings": {**init, **run_kw},
        },
    )
