"""Maximum-posterior fits of part of a model: some free parameters optimised, the rest held.

An :class:`Objective` is ``-(log L + log prior)`` of a :class:`~tinylens.problem.Problem`,
compiled once (value and gradient) with the held values, the set of optimised parameters and
the pixel weights as run-time arguments, so that every stage on the same model shares one
compilation. It is optimised by L-BFGS-B with ``jax.grad`` gradients in the unit box of the
priors (``z = (theta - lo) / (hi - lo)``, so every coordinate has the same scale). Independent
starts can run in step, their evaluations batched by ``jax.vmap`` (:meth:`Objective.minimize_many`).
"""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize

from tinylens import likelihood as lk
from tinylens.inference.optimizer import BAD, log_prior_jax, prior_bounds


#: Length (in the unit box) of the optimiser's first step.
FIRST_STEP = 0.01
#: Restarts of L-BFGS-B, and the gain in log P below which a restart is not worth another.
MAX_ROUNDS = 6
ROUND_TOL = 0.05


@dataclass
class Fit:
    """One optimisation: the full parameter vector at the optimum and ``log L + log prior`` there."""

    theta: np.ndarray
    log_post: float
    n_evals: int
    message: str = ""

    @property
    def finite(self) -> bool:
        """Whether the optimum has a real ``log L + log prior``, not the optimiser's stand-in
        ``-BAD`` (every point it went to scored "non-finite")."""
        return self.log_post > -BAD / 2


class Objective:
    """``-(log L + log prior)`` of ``problem`` in the unit box of its priors; jitted once."""

    def __init__(self, problem, counter: Callable[[int], None] | None = None, threads: int = 1):
        self.problem = problem
        box = np.asarray(prior_bounds(problem), dtype=float)
        self.lo, self.hi = box[:, 0], box[:, 1]
        self.counter = counter or (lambda n: None)
        self.threads = max(1, int(threads))
        spec, solver, priors = problem.spec, problem.solver, problem.priors

        def neg_log_post(z, base, free, imaging, lo, width):
            theta = jnp.where(free, lo + z * width, base)
            return -(lk.log_likelihood(spec, imaging, theta, solver) + log_prior_jax(priors, theta))

        self._vg = jax.jit(jax.value_and_grad(neg_log_post))
        # many starts' evaluations in one call (minimize_many with threads > 1)
        self._vg_many = jax.jit(jax.vmap(jax.value_and_grad(neg_log_post), in_axes=(0, 0, 0, None, None, None)))
        self._jac = None  # the Jacobian of the residuals, compiled on first use (fisher)

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        return (np.asarray(theta, float) - self.lo) / (self.hi - self.lo)

    def from_unit(self, z: np.ndarray) -> np.ndarray:
        return self.lo + np.asarray(z, float) * (self.hi - self.lo)

    def _imaging(self, weight=None):
        imaging = self.problem.imaging
        if weight is not None:
            imaging = dataclasses.replace(imaging, weight=jnp.asarray(weight, self.problem.dtype))
        return imaging

    def _box(self) -> tuple[jnp.ndarray, jnp.ndarray]:
        dt = self.problem.dtype
        return jnp.asarray(self.lo, dt), jnp.asarray(self.hi - self.lo, dt)

    def value_and_grad(self, theta: np.ndarray, free: np.ndarray, weight=None) -> tuple[float, np.ndarray]:
        """Objective and its gradient in the unit coordinates of all parameters (zero where held)."""
        dt = self.problem.dtype
        val, grad = self._vg(jnp.asarray(self.to_unit(theta), dt), jnp.asarray(theta, dt), jnp.asarray(free),
                             self._imaging(weight), *self._box())
        self.counter(1)
        return _checked(float(val), np.asarray(grad, dtype=float))

    def value_and_grad_many(self, thetas: np.ndarray, frees: np.ndarray, weight=None) -> list[tuple[float, np.ndarray]]:
        """:meth:`value_and_grad` of each row of ``thetas`` (with the row of ``frees``), in one call."""
        dt = self.problem.dtype
        vals, grads = self._vg_many(jnp.asarray(self.to_unit(thetas), dt), jnp.asarray(thetas, dt), jnp.asarray(frees),
                                    self._imaging(weight), *self._box())
        vals, grads = np.asarray(vals, dtype=float), np.asarray(grads, dtype=float)
        return [_checked(float(v), g) for v, g in zip(vals, grads)]

    def minimize(self, start: np.ndarray, free: np.ndarray | list[int] | None = None, weight=None,
                 maxiter: int = 300, rounds: int = MAX_ROUNDS, tol: float = ROUND_TOL,
                 evaluate: Callable | None = None) -> Fit:
        """L-BFGS-B over ``theta[free]`` (default: all) from ``start`` (clipped into the box).

        L-BFGS-B's first step is the gradient itself (its first Hessian guess is the identity),
        which for a likelihood of thousands of pixels runs into a corner of the box. So the
        objective is scaled to make that step :data:`FIRST_STEP` long, and since the scaled
        objective's convergence tests are then loose, the search is restarted (re-scaled to the
        new gradient) until a round gains less than ``tol`` in ``log P`` or ``rounds`` are done.
        ``evaluate`` replaces :meth:`value_and_grad` (as :meth:`minimize_many` does).
        """
        evaluate = evaluate or self.value_and_grad
        free_idx = np.arange(self.problem.ndim) if free is None else np.asarray(free, dtype=int)
        mask = np.zeros(self.problem.ndim, bool)
        mask[free_idx] = True
        base = np.asarray(start, dtype=float)
        z = np.clip(self.to_unit(base)[free_idx], 1e-6, 1 - 1e-6)
        calls = [0]

        def raw(zf):
            calls[0] += 1
            full = self.to_unit(base)
            full[free_idx] = zf
            val, grad = evaluate(self.from_unit(full), mask, weight)
            return val, grad[free_idx]

        value, grad = raw(z)
        if not free_idx.size:  # scipy refuses an empty vector (TinyLensGpu's lens-light-only
            # models have no mass or source parameter for stage 3's held fits)
            return Fit(self.from_unit(self.to_unit(base)), -value, calls[0], "nothing to optimise: no parameter is free")
        message = ""
        for _ in range(rounds):
            scale = FIRST_STEP / max(float(np.linalg.norm(grad)), 1e-30) if value < BAD else 1.0
            res = optimize.minimize(lambda zf: tuple(v * scale for v in raw(zf)), z, jac=True, method="L-BFGS-B",
                                    bounds=[(0.0, 1.0)] * len(z), options={"maxiter": maxiter, "ftol": 1e-12, "gtol": 1e-9})
            new_value = float(res.fun) / scale
            message = str(res.message)
            gained = value - new_value
            if new_value <= value:
                z, value, grad = res.x, new_value, np.asarray(res.jac, float) / scale
            if not gained > tol:
                break
        full = self.to_unit(base)
        full[free_idx] = z
        return Fit(self.from_unit(full), -value, calls[0], message)

    def minimize_many(self, jobs: Sequence[tuple], weight=None,
                      done: Callable[[int, Fit], None] | None = None) -> list[Fit]:
        """:meth:`minimize` of each ``(start, free)`` in ``jobs``; the fits in the order of ``jobs``.
        ``done(i, fit)`` is called as each start ``i`` ends (in the thread that ran it), so that its
        fit can be saved before the others end; in step (below), once the start has left the step, so
        that the others' evaluations do not wait for it.

        With ``self.threads`` > 1 the starts run in that many threads in step: every thread's
        next evaluation waits until each running start has asked for one, and they are made in
        one batched call (:meth:`value_and_grad_many`, always ``self.threads`` rows: one
        compilation). One start's L-BFGS-B is a chain of small calls, each waiting for the last,
        that leaves a GPU mostly idle; a batch of starts costs the GPU about as much as one. On
        a CPU a batch costs as much as its rows one by one, so one thread (the default there,
        :func:`tinylens.pipeline.run.stage_threads`) is fastest. The fits match those made one
        by one up to the rounding of the batched call (float32: last digits, and a start's
        path of steps can branch on them). When a start fails, or the caller is interrupted
        (Ctrl-C), the other starts stop at their next evaluation and the first failure is raised.
        """
        jobs = list(jobs)
        done = done or (lambda i, fit: None)
        if self.threads <= 1:
            fits = []
            for i, (start, free) in enumerate(jobs):
                fits.append(self.minimize(start, free, weight))
                done(i, fits[-1])
            return fits
        step = _Lockstep(self, weight)

        def one(numbered):
            i, job = numbered
            step.enter()
            left = False
            try:
                fit = self.minimize(job[0], job[1], weight, evaluate=step.evaluate)
                left = True
                step.leave()  # before done (stage 3's save): the others' evaluations need not wait for it
                done(i, fit)
                return fit
            except BaseException as exc:
                step.cancel(exc)  # the call fails anyway: the other starts need not finish
                raise
            finally:
                if not left:
                    step.leave()

        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="tinylens-start")
        try:
            return list(pool.map(one, enumerate(jobs)))
        except StartsCancelled as cancelled:
            raise (step.error or cancelled) from None  # the failure that stopped them, not a start it stopped
        except BaseException:  # e.g. Ctrl-C: stop the starts at their next evaluation
            step.cancel()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def fisher(self, theta: np.ndarray) -> np.ndarray:
        """Fisher matrix of the parameters at ``theta``: ``J^T J`` for the Jacobian ``J`` of the
        noise-weighted residuals (amplitudes re-solved), plus the curvature of Gaussian priors.

        The Gauss-Newton form of the Hessian of ``-(log L + log prior)``: positive semi-definite
        by construction, and from first derivatives only (forward mode, one pass per parameter),
        so neither float32 noise nor an optimum found only roughly spoil it.
        """
        if self._jac is None:
            spec, solver = self.problem.spec, self.problem.solver

            def residuals(t, imaging):
                fit = lk.solve(spec, imaging, t, solver)
                return jnp.sqrt(imaging.weight) * (imaging.data - fit.model)

            self._jac = jax.jit(jax.jacfwd(residuals))
        jac = np.asarray(self._jac(jnp.asarray(theta, self.problem.dtype), self.problem.imaging), dtype=float)
        jac = np.where(np.isfinite(jac), jac, 0.0)
        fisher = jac.T @ jac
        for i, prior in enumerate(self.problem.priors):
            if prior.kind == "gaussian":
                fisher[i, i] += 1.0 / prior.b**2
        return fisher


def _checked(val: float, grad: np.ndarray) -> tuple[float, np.ndarray]:
    """``(val, grad)``, or the optimiser's "non-finite" value with a zero gradient."""
    if not (np.isfinite(val) and np.all(np.isfinite(grad))):
        return BAD, np.zeros_like(grad)
    return val, grad


class StartsCancelled(RuntimeError):
    """Raised in the starts of :meth:`Objective.minimize_many` still running when another fails."""


class _Lockstep:
    """The evaluations of the starts of one :meth:`Objective.minimize_many`, gathered: a start
    that asks for one waits until every running start has asked, and the last to ask makes the
    batched call (padded to ``objective.threads`` rows with copies of the first) for all."""

    def __init__(self, objective: Objective, weight=None):
        self.objective, self.weight = objective, weight
        self.cond = threading.Condition()
        self.running = 0
        self.cancelled = False
        self.error: BaseException | None = None  # the first failure of a start
        self.waiting: list[tuple[np.ndarray, np.ndarray, dict]] = []

    def cancel(self, error: BaseException | None = None) -> None:
        """Make every waiting and later evaluation raise :class:`StartsCancelled`; ``error``,
        if it is the first real failure, is kept in ``self.error``."""
        with self.cond:
            if self.error is None and error is not None and not isinstance(error, StartsCancelled):
                self.error = error
            self.cancelled = True
            self.cond.notify_all()

    def enter(self) -> None:
        with self.cond:
            self.running += 1

    def leave(self) -> None:
        with self.cond:
            self.running -= 1
            self._flush_if_all_wait()

    def evaluate(self, theta: np.ndarray, free: np.ndarray, weight=None) -> tuple[float, np.ndarray]:
        slot: dict = {}
        with self.cond:
            if not self.cancelled:
                self.waiting.append((np.asarray(theta, float), np.asarray(free, bool), slot))
                self._flush_if_all_wait()
            while not slot and not self.cancelled:
                self.cond.wait()
        if not slot:
            raise StartsCancelled("another start of the same stage failed or was interrupted")
        if "error" in slot:
            raise slot["error"]
        return slot["out"]

    def _flush_if_all_wait(self) -> None:
        """The batched call, once every running start waits (the lock is held)."""
        if self.cancelled or not self.waiting or len(self.waiting) < self.running:
            return
        batch, self.waiting = self.waiting, []
        rows = batch + [batch[0]] * (self.objective.threads - len(batch))
        try:
            outs = self.objective.value_and_grad_many(np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]),
                                                      self.weight)
            self.objective.counter(len(batch))
            for (_, _, slot), out in zip(batch, outs):
                slot["out"] = out
        except BaseException as exc:  # every waiting start must hear of it, or it waits for ever
            for _, _, slot in batch:
                slot["error"] = exc
        self.cond.notify_all()


def best_of(fits: list[Fit]) -> Fit:
    """The fit with the highest ``log L + log prior``."""
    return max(fits, key=lambda f: f.log_post if np.isfinite(f.log_post) else -np.inf)
