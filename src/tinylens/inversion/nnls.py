"""Linear inversion for light-profile amplitudes (paper section 2.3, eq. 7).

The model image is ``A @ x``: column ``j`` of the design matrix ``A`` (npix, k) is the
blurred image of light profile ``j`` at unit amplitude, ``x`` the amplitudes. With
per-pixel weights ``w = mask / sigma**2``,

    chi^2(x) / 2 = 1/2 x^T Q x - c^T x + const,   Q = A^T W A,  c = A^T W b,

so every solver here works on the small ``k x k`` normal equations ``(Q, c)``.

* :func:`nnls_gram` -- ``x >= 0`` (the paper's solver). Exact for every ``k``: for
  ``k <= 6`` it enumerates all supports, for larger ``k`` it runs the Lawson-Hanson /
  Bro & de Jong active-set method in a bounded ``lax.while_loop``.
* :func:`solve_normal` -- unconstrained least squares, robust to singular ``Q``.

All functions handle one problem and are jitted (so eager calls are fast too); batch
with ``jax.vmap``. None of them raises on bad
numbers: if ``Q`` or ``c`` contains NaN/inf the amplitudes come back as all-NaN (so a
caller can map that sample to ``log L = -inf``).

Internally ``Q`` is Jacobi-scaled to unit diagonal (columns of very different norms are
then harmless); a column with ``Q_jj <= 0`` (all-zero, or masked out) gets amplitude 0.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_factor, cho_solve

Array = jax.Array

#: Largest number of amplitudes solved by enumerating all supports (2^k small systems).
ENUMERATE_MAX_K = 6

_HI = jax.lax.Precision.HIGHEST  # no TF32 / bf16 shortcuts on accelerators


# ----------------------------------------------------------------------------- helpers


def _as_float(Q: Array, c: Array) -> tuple[Array, Array]:
    """``Q`` and ``c`` as arrays of one common floating dtype."""
    dtype = jnp.result_type(Q, c)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    return jnp.asarray(Q, dtype), jnp.asarray(c, dtype)


def _sanitize(Q: Array, c: Array) -> tuple[Array, Array, Array]:
    """Symmetrised ``Q`` and ``c`` with non-finite inputs zeroed, plus the flag ``bad``."""
    bad = ~(jnp.all(jnp.isfinite(Q)) & jnp.all(jnp.isfinite(c)))
    Q = jnp.where(bad, 0.0, Q)
    c = jnp.where(bad, 0.0, c)
    return 0.5 * (Q + Q.T), c, bad


def _jacobi_scale(Q: Array, c: Array) -> tuple[Array, Array, Array]:
    """``(D Q D, D c, D)`` with ``D = diag(Q)^-1/2``; ``D_j = 0`` where ``Q_jj <= 0``.

    ``D`` is a constant to differentiation: the solution ``x = D y`` of the scaled system is the
    same for every positive diagonal ``D``, so its derivatives are exact with ``D`` held fixed.
    Differentiating ``Q_jj^-1/2`` itself overflowed float32 for a column of negligible norm
    (``Q_jj`` below about 2e-26), and made the gradient NaN where the value was finite.
    """
    diag = jnp.diagonal(Q)
    usable = diag > 0
    scale = jax.lax.stop_gradient(jnp.where(usable, jax.lax.rsqrt(jnp.where(usable, diag, 1.0)), 0.0))
    return Q * scale[:, None] * scale[None, :], c * scale, scale


def _finish(x: Array, bad: Array) -> Array:
    """All-NaN where the input was bad or the result is not finite, else ``x``."""
    bad = bad | ~jnp.all(jnp.isfinite(x))
    return jnp.where(bad, jnp.nan, x)


def _masked_system(Q: Array, c: Array, mask: Array) -> tuple[Array, Array]:
    """The system restricted to ``mask`` (identity rows/columns and zero rhs elsewhere).

    Broadcasts over leading dimensions of ``mask``.
    """
    k = c.shape[-1]
    both = mask[..., :, None] & mask[..., None, :]
    off = jnp.eye(k, dtype=bool) & ~mask[..., None, :]
    M = jnp.where(both, Q, jnp.where(off, 1.0, 0.0).astype(Q.dtype))
    return M, jnp.where(mask, c, 0.0)


# ------------------------------------------------------------------ small k: enumeration


def _support_masks(k: int) -> np.ndarray:
    """All ``2^k`` supports as a (2^k, k) boolean table; row 0 is the empty support."""
    idx = np.arange(2**k)
    return ((idx[:, None] >> np.arange(k)) & 1).astype(bool)


def _ldl_solve_unrolled(M: Array, rhs: Array, pivot_tol: float) -> tuple[Array, Array]:
    """Solve ``M y = rhs`` by LDL^T unrolled entry by entry over the (static, small) size,
    batched over leading dimensions (the fastest form for tiny systems).

    Returns ``(y, ok)``; ``ok`` is False where a pivot is ``<= pivot_tol`` (singular or
    nearly so), in which case ``y`` is finite but meaningless.
    """
    k = M.shape[-1]
    L = [[None] * k for _ in range(k)]
    d = [None] * k
    ok = jnp.ones(M.shape[:-2], dtype=bool)
    for j in range(k):
        dj = M[..., j, j] - sum(L[j][p] * L[j][p] * d[p] for p in range(j))
        ok = ok & (dj > pivot_tol)
        d[j] = jnp.where(dj > pivot_tol, dj, 1.0)
        for i in range(j + 1, k):
            L[i][j] = (M[..., i, j] - sum(L[i][p] * L[j][p] * d[p] for p in range(j))) / d[j]
    z = [None] * k
    for i in range(k):  # L z = rhs
        z[i] = rhs[..., i] - sum(L[i][p] * z[p] for p in range(i))
    y = [None] * k
    for i in reversed(range(k)):  # D L^T y = z
        y[i] = z[i] / d[i] - sum(L[p][i] * y[p] for p in range(i + 1, k))
    return jnp.stack(y, axis=-1), ok


def _nnls_enumerate(Q: Array, c: Array) -> Array:
    """Exact NNLS for small ``k``: the feasible support solution satisfying the KKT test.

    Some optimum is supported on linearly independent columns and is the unconstrained
    least-squares solution there, so singular supports are simply rejected. Among the
    feasible candidates the one whose gradient ``c - Q y`` is ``<= 0`` off its support
    (up to rounding) wins; this first-order test separates near-ties that the objective,
    being second order, cannot in float32. If no candidate passes it, the lowest objective
    wins. The empty support (``y = 0``) is always a candidate.
    """
    k = c.shape[-1]
    eps = jnp.finfo(Q.dtype).eps
    masks = jnp.asarray(_support_masks(k))
    M, rhs = _masked_system(Q, c, masks)
    y, ok = _ldl_solve_unrolled(M, rhs, pivot_tol=16 * k * eps)
    y = jnp.where(masks, y, 0.0)
    Qy = jnp.matmul(y, Q, precision=_HI)
    f = jnp.sum(y * (0.5 * Qy - c), axis=-1)
    admissible = ok & jnp.all(y >= 0, axis=-1) & jnp.isfinite(f)
    size = jnp.max(jnp.matmul(jnp.abs(y), jnp.abs(Q), precision=_HI), axis=-1)  # |Q| |y|
    tol = 10 * k * eps * (jnp.max(jnp.abs(c)) + size)
    kkt = admissible & jnp.all(masks | (c - Qy <= tol[:, None]), axis=-1)
    best_kkt = jnp.argmin(jnp.where(kkt, f, jnp.inf))
    best = jnp.argmin(jnp.where(admissible, f, jnp.inf))
    return y[jnp.where(jnp.any(kkt), best_kkt, best)]


# -------------------------------------------------------------------- larger k: active set


def _masked_solve(Q: Array, c: Array, mask: Array, ridge: float) -> Array:
    """Least squares on the support ``mask`` (zero elsewhere) via a ridged Cholesky.

    One step of iterative refinement against the unridged matrix removes the ridge bias.
    Non-finite where the factorisation fails.
    """
    M, rhs = _masked_system(Q, c, mask)
    factor = cho_factor(M + ridge * jnp.eye(c.shape[-1], dtype=Q.dtype), lower=True)
    y = cho_solve(factor, rhs)
    y = y + cho_solve(factor, rhs - jnp.matmul(M, y, precision=_HI))
    return jnp.where(mask, y, 0.0)


class _ActiveSet(NamedTuple):
    y: Array  # current feasible iterate, >= 0, zero outside `passive`
    passive: Array  # bool (k,): the free variables
    s: Array  # least-squares solution on `passive` (zero elsewhere)
    blocked: Array  # bool (k,): variables that just failed to enter; skipped until progress
    it: Array  # steps taken


def _nnls_active_set(Q: Array, c: Array, max_iter: int) -> Array:
    """Exact NNLS by the Lawson-Hanson active-set method on the normal equations.

    This is the Bro & de Jong (1997) "fast NNLS" form (it only needs ``Q`` and ``c``),
    written as one ``lax.while_loop`` whose steps either add a variable (when the
    passive-set solution ``s`` is positive) or step back from ``y`` towards ``s`` and drop
    a variable (when it is not). At most ``max_iter`` steps; the iterate stays feasible.
    """
    k = c.shape[-1]
    eps = jnp.finfo(Q.dtype).eps
    usable = jnp.diagonal(Q) > 0
    index = jnp.arange(k)
    absQ = jnp.abs(Q)

    def entering(st: _ActiveSet) -> Array:
        """Gradient ``w = c - Q s`` where a variable may enter (above its rounding), else -inf.

        A tolerance of a few ulps is safe: a variable that enters on noise is rejected
        (``blocked``) instead of cycling.
        """
        w = c - jnp.matmul(Q, st.s, precision=_HI)
        size = jnp.max(jnp.matmul(absQ, jnp.abs(st.s), precision=_HI))  # |Q| |s|
        tol = eps * (jnp.max(jnp.abs(c)) + size)
        free = usable & ~st.passive & ~st.blocked & (w > tol)
        return jnp.where(free, w, -jnp.inf)

    def infeasible(st: _ActiveSet) -> Array:
        return jnp.any(st.passive & (st.s <= 0))

    def cond(st: _ActiveSet) -> Array:
        return (st.it < max_iter) & (infeasible(st) | jnp.any(entering(st) > -jnp.inf))

    def body(st: _ActiveSet) -> _ActiveSet:
        back = infeasible(st)
        # step back: largest step from y towards s keeping y >= 0; drop who hits zero
        neg = st.passive & (st.s <= 0)
        gap = jnp.where(neg, st.y - st.s, 1.0)
        ratio = jnp.where(neg, st.y / jnp.where(gap > 0, gap, 1.0), jnp.inf)
        i = jnp.argmin(ratio)
        y_back = st.y + ratio[i] * (st.s - st.y)
        passive_back = st.passive & (y_back > 0) & (index != i)
        # or add: s is feasible, so it becomes the iterate; the steepest variable enters
        new = index == jnp.argmax(entering(st))
        trial = jnp.where(back, passive_back, st.passive | new)
        s = _masked_solve(Q, c, trial, ridge=10 * k * eps)
        finite = jnp.all(jnp.isfinite(s))
        entered = finite & (jnp.sum(jnp.where(new, s, 0.0)) > 0)
        rejected = ~back & ~entered  # numerically not a descent direction: block it, retry
        y = jnp.where(back, jnp.where(passive_back, y_back, 0.0), st.s)
        s = jnp.where(rejected, st.s, jnp.where(finite, s, y))
        return _ActiveSet(
            y=y,
            passive=jnp.where(rejected, st.passive, trial),
            s=s,
            blocked=jnp.where(back, st.blocked, jnp.where(entered, False, st.blocked | new)),
            it=st.it + 1,
        )

    zeros = jnp.zeros(k, dtype=bool)
    init = _ActiveSet(jnp.zeros_like(c), zeros, jnp.zeros_like(c), zeros, jnp.asarray(0))
    st = jax.lax.while_loop(cond, body, init)
    return jnp.where(infeasible(st), st.y, jnp.where(st.passive, jnp.maximum(st.s, 0.0), 0.0))


# ------------------------------------------------------------------------------ public


@jax.jit
def gram(A: Array, b: Array, w: Array | None = None) -> tuple[Array, Array]:
    """Normal equations ``Q = A^T W A`` (k, k) and ``c = A^T W b`` (k,).

    ``A`` is (npix, k), ``b`` (npix,), ``w`` (npix,) per-pixel weights (``mask / sigma**2``;
    must be finite), ``None`` for unit weights.
    """
    A = jnp.asarray(A)
    Aw = A if w is None else A * jnp.asarray(w)[:, None]
    Q = jnp.matmul(Aw.T, A, precision=_HI)
    c = jnp.matmul(Aw.T, jnp.asarray(b), precision=_HI)
    return 0.5 * (Q + Q.T), c


@partial(jax.jit, static_argnames="max_iter")
def nnls_gram(Q: Array, c: Array, max_iter: int | None = None) -> Array:
    """Minimise ``1/2 x^T Q x - c^T x`` subject to ``x >= 0`` (``Q`` symmetric PSD, k x k).

    Exact: enumeration of all supports for ``k <= ENUMERATE_MAX_K``, else the active-set
    method (at most ``max_iter`` steps, default ``4 k``). Zero or duplicate columns
    are fine (a zero column gets 0). Returns ``x >= 0``; all-NaN if ``Q`` or ``c`` is not
    finite. Never raises.
    """
    Q, c = _as_float(Q, c)
    Q, c, bad = _sanitize(Q, c)
    Qs, cs, scale = _jacobi_scale(Q, c)
    k = c.shape[-1]
    if k <= ENUMERATE_MAX_K:
        y = _nnls_enumerate(Qs, cs)
    else:
        y = _differentiable_on_support(Qs, cs, _nnls_active_set(Qs, cs, 4 * k if max_iter is None else max_iter))
    return _finish(jnp.maximum(scale * y, 0.0), bad)


def _differentiable_on_support(Q: Array, c: Array, y: Array) -> Array:
    """``y`` (an NNLS solution from a loop, which reverse-mode cannot differentiate) with the
    derivatives of the least-squares solution on its support: locally, the NNLS solution is
    ``Q_SS^-1 c_S`` on its support ``S`` and zero elsewhere. The value stays ``y``."""
    y = jax.lax.stop_gradient(y)
    support = y > 0
    local = _masked_solve(Q, c, support, ridge=10 * c.shape[-1] * jnp.finfo(Q.dtype).eps)
    return y + (local - jax.lax.stop_gradient(local))


@jax.jit
def solve_normal(Q: Array, c: Array) -> Array:
    """Unconstrained minimiser of ``1/2 x^T Q x - c^T x`` (the ``normal`` solver).

    Pseudo-inverse of the Jacobi-scaled ``Q`` (eigenvalues below ``10 k eps`` of the
    largest are dropped), so singular ``Q`` gives a finite least-squares solution.
    All-NaN if ``Q`` or ``c`` is not finite. Never raises.
    """
    Q, c = _as_float(Q, c)
    Q, c, bad = _sanitize(Q, c)
    Qs, cs, scale = _jacobi_scale(Q, c)
    k = c.shape[-1]
    evals, evecs = jnp.linalg.eigh(Qs)
    keep = evals > 10 * k * jnp.finfo(Q.dtype).eps * jnp.max(evals)
    inv = jnp.where(keep, 1.0 / jnp.where(keep, evals, 1.0), 0.0)
    y = jnp.matmul(evecs, inv * jnp.matmul(cs, evecs, precision=_HI), precision=_HI)
    return _finish(scale * y, bad)


@partial(jax.jit, static_argnames="method")
def solve_amplitudes(A: Array, b: Array, w: Array | None = None, method: str = "nnls") -> Array:
    """Best-fit amplitudes of the columns of ``A`` to ``b`` with weights ``w``.

    ``method``: ``"nnls"`` (non-negative, :func:`nnls_gram`) or ``"normal"``
    (unconstrained, :func:`solve_normal`).
    """
    if method not in ("nnls", "normal"):
        raise ValueError(f"method must be 'nnls' or 'normal', got {method!r}")
    Q, c = gram(A, b, w)
    return nnls_gram(Q, c) if method == "nnls" else solve_normal(Q, c)
