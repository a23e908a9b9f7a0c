"""Maximum-posterior fits of part of a model: some free parameters optimised, the rest held.

An :class:`Objective` is ``-(log L + log prior)`` of a :class:`~tinylens.problem.Problem`,
compiled once (value and gradient) with the held values, the set of optimised parameters and
the pixel weights as run-time arguments, so that every stage on the same model shares one
compilation. It is optimised by L-BFGS-B with ``jax.grad`` gradients in the unit box of the
priors (``z = (theta - lo) / (hi - lo)``, so every coordinate has the same scale).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize

from tinylens import likelihood as lk
from tinylens.inference.optimizer import BAD, log_prior_jax, prior_bounds


#: Length (in the unit box) of the optimiser's first step.
FIRST_STEP = 0.01


@dataclass
class Fit:
    """One optimisation: the full parameter vector at the optimum and ``log L + log prior`` there."""

    theta: np.ndarray
    log_post: float
    n_evals: int
    message: str = ""


class Objective:
    """``-(log L + log prior)`` of ``problem`` in the unit box of its priors; jitted once."""

    def __init__(self, problem, counter: Callable[[int], None] | None = None):
        self.problem = problem
        box = np.asarray(prior_bounds(problem), dtype=float)
        self.lo, self.hi = box[:, 0], box[:, 1]
        self.counter = counter or (lambda n: None)
        spec, solver, priors = problem.spec, problem.solver, problem.priors

        def neg_log_post(z, base, free, imaging, lo, width):
            theta = jnp.where(free, lo + z * width, base)
            return -(lk.log_likelihood(spec, imaging, theta, solver) + log_prior_jax(priors, theta))

        self._vg = jax.jit(jax.value_and_grad(neg_log_post))

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        return (np.asarray(theta, float) - self.lo) / (self.hi - self.lo)

    def from_unit(self, z: np.ndarray) -> np.ndarray:
        return self.lo + np.asarray(z, float) * (self.hi - self.lo)

    def value_and_grad(self, theta: np.ndarray, free: np.ndarray, weight=None) -> tuple[float, np.ndarray]:
        """Objective and its gradient in the unit coordinates of all parameters (zero where held)."""
        dt = self.problem.dtype
        imaging = self.problem.imaging
        if weight is not None:
            imaging = dataclasses.replace(imaging, weight=jnp.asarray(weight, dt))
        val, grad = self._vg(jnp.asarray(self.to_unit(theta), dt), jnp.asarray(theta, dt), jnp.asarray(free), imaging,
                             jnp.asarray(self.lo, dt), jnp.asarray(self.hi - self.lo, dt))
        self.counter(1)
        val, grad = float(val), np.asarray(grad, dtype=float)
        if not (np.isfinite(val) and np.all(np.isfinite(grad))):
            return BAD, np.zeros_like(grad)
        return val, grad

    def minimize(self, start: np.ndarray, free: np.ndarray | list[int] | None = None, weight=None,
                 maxiter: int = 300) -> Fit:
        """L-BFGS-B over ``theta[free]`` (default: all) from ``start`` (clipped into the box)."""
        free_idx = np.arange(self.problem.ndim) if free is None else np.asarray(free, dtype=int)
        mask = np.zeros(self.problem.ndim, bool)
        mask[free_idx] = True
        base = np.asarray(start, dtype=float)
        z0 = np.clip(self.to_unit(base)[free_idx], 1e-6, 1 - 1e-6)
        calls = [0]

        def raw(zf):
            calls[0] += 1
            z = self.to_unit(base)
            z[free_idx] = zf
            val, grad = self.value_and_grad(self.from_unit(z), mask, weight)
            return val, grad[free_idx]

        # L-BFGS-B's first step is the gradient itself (its first Hessian guess is the identity);
        # scaled so, that step is FIRST_STEP long instead of running into a corner of the box.
        f0, g0 = raw(z0)
        scale = FIRST_STEP / max(float(np.linalg.norm(g0)), 1e-30) if f0 < BAD else 1.0

        def f(zf):
            val, grad = raw(zf)
            return val * scale, grad * scale

        res = optimize.minimize(f, z0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * len(z0),
                                options={"maxiter": maxiter, "ftol": 1e-9, "gtol": 1e-6})
        z = self.to_unit(base)
        z[free_idx] = res.x
        return Fit(self.from_unit(z), -float(res.fun) / scale, calls[0], str(res.message))

    def hessian(self, theta: np.ndarray, step: float = 1e-3) -> np.ndarray:
        """Hessian of the objective in the parameters, by central differences of the gradient
        (``step`` in unit coordinates); symmetrised."""
        n = self.problem.ndim
        free = np.ones(n, bool)
        z = self.to_unit(theta)
        h = np.empty((n, n))
        for i in range(n):
            dz = np.zeros(n)
            dz[i] = step
            gp = self.value_and_grad(self.from_unit(z + dz), free)[1]
            gm = self.value_and_grad(self.from_unit(z - dz), free)[1]
            h[i] = (gp - gm) / (2 * step)
        h = 0.5 * (h + h.T)
        scale = 1.0 / (self.hi - self.lo)
        return h * scale[:, None] * scale[None, :]


def best_of(fits: list[Fit]) -> Fit:
    """The fit with the highest ``log L + log prior``."""
    return max(fits, key=lambda f: f.log_post if np.isfinite(f.log_post) else -np.inf)
