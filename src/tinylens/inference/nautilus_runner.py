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

import time
from pathlib import Path
from typing import Any

import numpy as np
from nautilus import Sampler

from tinylens.inference import InferenceResult
from tinylens.inference.common import check_settings, fingerprint, keyword_names, prepare_checkpoint, split
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


def check(settings: dict[str, Any]) -> None:
    """Raise ConfigError for a setting nautilus does not have."""
    _settings(settings)


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
