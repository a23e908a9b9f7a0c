"""Maximum-posterior fits: differential evolution on the batched likelihood, and multi-start
L-BFGS-B with exact gradients from ``jax.grad``.

Both maximise ``log L + log prior`` inside the prior box (:meth:`tinylens.priors.Prior.bounds`:
the prior range, or mean +- 5 sigma for a Gaussian) and return the best fit as a one-sample
"posterior" of weight 1 and no evidence.

``differential_evolution`` settings: any keyword of ``scipy.optimize.differential_evolution``
but those tinylens sets itself (:data:`DE_OWN_KEYWORDS`): ``popsize`` (15), ``maxiter`` (1000),
``tol`` (0.01), ``mutation``, ``recombination``, ``init``, ``strategy``, ...; ``seed`` (0) and
``polish`` (default true: finish with gradient L-BFGS-B).
The population is evaluated as one batch per generation (``vectorized=True``).

``lbfgs`` settings: ``n_starts`` (8 starting points: the best of ``n_draws`` = 1024 prior
draws, at most 2^20), ``maxiter`` (500 per start), ``seed`` (0).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize

from tinylens.errors import ConfigValueError, counted, priors_and_data
from tinylens.inference import InferenceResult
from tinylens.inference.common import try_settings
from tinylens.inference.optimizer_settings import (  # noqa: F401 (DE_OWN_KEYWORDS, check_lbfgs: also read from here)
    DE_DEFAULTS,
    DE_OWN_KEYWORDS,
    LBFGS_DEFAULTS,
    check_de_first,
    check_de_names,
    check_lbfgs,
    de_keys,
)
from tinylens.inference.progress import LiveStatus

#: Objective value standing in for a non-finite posterior (optimisers need finite numbers).
BAD = 1e30

#: Its settings' names, read where the config is checked first (before JAX): optimizer_settings.
DE_KEYS = de_keys()


def prior_bounds(problem) -> list[tuple[float, float]]:
    """The box the optimisers search: each prior's :meth:`~tinylens.priors.Prior.bounds`."""
    return [p.bounds() for p in problem.priors]


def log_prior_jax(priors, theta: jnp.ndarray) -> jnp.ndarray:
    """Differentiable log prior inside the box, up to a constant."""
    total = jnp.zeros((), theta.dtype)
    for i, p in enumerate(priors):
        if p.kind == "gaussian":
            total = total - 0.5 * ((theta[i] - p.a) / p.b) ** 2
        elif p.kind == "log_uniform":
            total = total - jnp.log(theta[i])
    return total


def _neg_log_post_batch(problem, loglike: Callable) -> Callable[[np.ndarray], np.ndarray]:
    """``(B, n) -> (B,)`` of ``-(log L + log prior)``, finite."""

    def f(theta: np.ndarray) -> np.ndarray:
        val = -(np.asarray(loglike(theta)) + problem.log_prior(theta))
        return np.where(np.isfinite(val), val, BAD)

    return f


def _value_and_grad(problem, status: LiveStatus) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``theta -> (-(log L + log prior), gradient)`` in float64 for scipy, jitted once."""
    priors = problem.priors
    vg = jax.jit(jax.value_and_grad(lambda t: -(problem.log_likelihood_jax(t) + log_prior_jax(priors, t))))
    counted = status.wrap(lambda t: vg(jnp.asarray(t, problem.dtype)))

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        val, grad = counted(np.asarray(theta))
        val, grad = float(val), np.asarray(grad, dtype=float)
        if not (np.isfinite(val) and np.all(np.isfinite(grad))):
            return BAD, np.zeros_like(grad)
        return val, grad

    return f


def _lbfgs(f, x0: np.ndarray, bounds, maxiter: int) -> optimize.OptimizeResult:
    return optimize.minimize(f, x0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": maxiter})


def _result(problem, method: str, x: np.ndarray, status: LiveStatus, wall: float, converged: bool, info: dict):
    x = np.asarray(x, dtype=float)
    return InferenceResult(
        method=method,
        param_names=problem.param_names,
        samples=x[None, :],
        log_weights=np.zeros(1),
        log_likelihood=np.array([problem.log_likelihood(x)]),
        log_evidence=None,
        n_likelihood_evals=status.n_calls,
        wall_time_s=wall,
        converged=converged,
        info={**info, "likelihood_time_s": status.likelihood_time_s},
    )


def _dummy_de(n_dim: int) -> Callable[[dict[str, Any]], Any]:
    """``settings -> one generation of differential evolution`` on a quadratic in ``n_dim``
    parameters, as :func:`run_differential_evolution` calls it (population capped, no output)."""

    def build(settings: dict[str, Any]) -> Any:
        kw = {**DE_DEFAULTS, **settings}
        seed = kw.pop("seed")
        kw.update(polish=False, disp=False, maxiter=1, popsize=min(kw["popsize"], 15))
        return optimize.differential_evolution(
            lambda x: np.sum(np.atleast_2d(x.T) ** 2, axis=1), [(0.0, 1.0)] * n_dim, vectorized=True, rng=seed, **kw
        )

    return build


def check_differential_evolution(settings: dict[str, Any], n_dim: int) -> None:
    """Raise ConfigError for a setting differential evolution does not have or a value it refuses,
    for a model of ``n_dim`` free parameters; one of scipy's that tinylens sets itself is said to be one."""
    check_de_first(settings, n_dim)
    try_settings("differential_evolution", settings, _dummy_de(n_dim))


def run_differential_evolution(
    problem, settings: dict[str, Any], *, progress: bool = True, checkpoint_dir: str | Path | None = None
) -> InferenceResult:
    """Global search by differential evolution, one batched likelihood call per generation; a
    ConfigError where no point it tried has a finite posterior (:func:`no_finite_member`)."""
    check_differential_evolution(settings, problem.ndim)
    kw = {**DE_DEFAULTS, **settings}
    seed, polish = kw.pop("seed"), kw.pop("polish")
    # scipy runs a batched population deferred, warning where updating is immediate: its default, and
    # TinyLensGpu's (said when the config loads)
    if kw.get("updating", "immediate") == "immediate":
        kw["updating"] = "deferred"
    status = LiveStatus("differential_evolution", enabled=progress)
    objective = _neg_log_post_batch(problem, status.wrap(problem.log_likelihood))
    best: dict[str, float] = {}
    status.stats = lambda: {"best log P": best.get("log_p")}

    def callback(intermediate_result) -> None:
        best["log_p"] = -float(intermediate_result.fun)

    bounds = prior_bounds(problem)
    start = time.perf_counter()
    with status:
        res = optimize.differential_evolution(
            lambda x: objective(np.atleast_2d(x.T)),
            bounds, vectorized=True, polish=False, rng=seed, callback=callback, **kw,
        )
        if not res.fun < BAD:  # every member scored the stand-in: scipy says it converged
            raise ConfigValueError(no_finite_member(int(res.nfev)))
        x, info = res.x, {"message": str(res.message), "n_generations": int(res.nit)}
        if polish:
            pol = _lbfgs(_value_and_grad(problem, status), res.x, bounds, 500)
            # The gradient objective drops the prior's constants: compare on the DE objective.
            if objective(pol.x[None, :])[0] < res.fun:
                x = pol.x
            info["polish"] = str(pol.message)
    return _result(problem, "differential_evolution", x, status, time.perf_counter() - start, bool(res.success), info)


def no_finite_member(n_evals: int) -> str:
    """Why differential_evolution cannot fit when log L + log prior is not finite at any of the
    ``n_evals`` points its population tried."""
    return (f"inference (differential_evolution): log L + log prior is not finite at any of the {n_evals} points its "
            "population tried, so every member scored alike and its best fit would be a prior draw at log L = -inf. "
            f"Check {priors_and_data()}")


def no_finite_start(n_starts: int, n_draws: int) -> str:
    """Why lbfgs cannot fit when log L + log prior (or its gradient) is not finite at any of its
    ``n_starts`` starts, the best of ``n_draws`` prior draws."""
    at = "its one start" if n_starts == 1 else f"any of its {n_starts} starts"
    return (f"inference (lbfgs): log L + log prior, or its gradient, is not finite at {at} (the best of n_draws = "
            f"{counted(n_draws, 'draw')} from the priors), so L-BFGS-B cannot move from {'it' if n_starts == 1 else 'them'} and its "
            f"best fit would be a prior draw at log L = -inf. Raise inference.settings.n_draws, or check {priors_and_data()}")


def run_lbfgs(
    problem, settings: dict[str, Any], *, progress: bool = True, checkpoint_dir: str | Path | None = None
) -> InferenceResult:
    """L-BFGS-B with ``jax.grad`` gradients from the best of many prior draws; a ConfigError
    where none of its starts has a finite posterior (:func:`no_finite_start`)."""
    check_lbfgs(settings, problem.ndim)
    kw = {**LBFGS_DEFAULTS, **settings}
    rng = np.random.default_rng(kw["seed"])
    status = LiveStatus("lbfgs", enabled=progress)
    best: dict[str, float] = {}
    status.stats = lambda: {"best log P": best.get("log_p")}
    bounds = prior_bounds(problem)
    start = time.perf_counter()
    with status:
        draws = problem.prior_transform(rng.uniform(size=(kw["n_draws"], problem.ndim)))
        scores = _neg_log_post_batch(problem, status.wrap(problem.log_likelihood))(draws)
        starts = draws[np.argsort(scores)[: kw["n_starts"]]]
        f = _value_and_grad(problem, status)
        fits = []
        for x0 in starts:
            fits.append(_lbfgs(f, x0, bounds, kw["maxiter"]))
            best["log_p"] = -min(r.fun for r in fits)
    top = min(fits, key=lambda r: r.fun)
    if not top.fun < BAD:  # L-BFGS-B stops at once on a constant BAD and says it converged
        raise ConfigValueError(no_finite_start(kw["n_starts"], kw["n_draws"]))
    info = {"message": str(top.message), "start_values": [-float(r.fun) for r in fits]}
    return _result(problem, "lbfgs", top.x, status, time.perf_counter() - start, bool(top.success), info)
