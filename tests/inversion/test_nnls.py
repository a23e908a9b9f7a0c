"""Linear inversion (paper eq. 7): NNLS and unconstrained solves against scipy."""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import nnls as scipy_nnls

from oracle import x64
from tinylens.inversion import gram, nnls_gram, solve_amplitudes, solve_normal
from tinylens.inversion.nnls import (
    ENUMERATE_MAX_K,
    _jacobi_scale,
    _nnls_active_set,
    _nnls_enumerate,
)

NPIX = 200
ENUM_KS = [1, 2, 3, 4, 5, 6]
ACTIVE_KS = [8, 15, 25]


def problems(rng, k, batch, npix=NPIX):
    """Random weighted problems whose unconstrained optimum has negative entries."""
    A = rng.normal(size=(batch, npix, k)) + 0.3
    x_true = rng.normal(size=(batch, k))  # about half negative -> active constraints
    b = np.einsum("bpk,bk->bp", A, x_true) + 0.1 * rng.normal(size=(batch, npix))
    w = rng.uniform(0.5, 2.0, size=(batch, npix)) * (rng.uniform(size=(batch, npix)) > 0.1)
    return A, b, w


def reference(A, b, w):
    """scipy's NNLS solution of one weighted problem (float64)."""
    sw = np.sqrt(w)
    return scipy_nnls(A * sw[:, None], b * sw)[0]


def objective(x, A, b, w):
    """1/2 x^T Q x - c^T x in float64."""
    Q = A.T @ (w[:, None] * A)
    c = A.T @ (w * b)
    return 0.5 * x @ Q @ x - c @ x


BATCH = 64  # one batch size everywhere, so jit caches are shared between tests
batched_gram = jax.jit(jax.vmap(gram))
batched_nnls = jax.jit(jax.vmap(nnls_gram))


def solve(A, b, w, dtype=jnp.float32, method="nnls"):
    """One problem through the jitted public functions, as float64 numpy."""
    Q, c = gram(jnp.asarray(A, dtype), jnp.asarray(b, dtype), jnp.asarray(w, dtype))
    x = nnls_gram(Q, c) if method == "nnls" else solve_normal(Q, c)
    assert x.dtype == dtype
    return np.asarray(x, dtype=np.float64)


def solve_each(A, b, w, dtype=jnp.float32):
    return np.stack([solve(*p, dtype=dtype) for p in zip(A, b, w)])


def maybe_x64(dtype):
    return x64() if dtype == jnp.float64 else contextlib.nullcontext()


def assert_matches_scipy(x, A, b, w, rtol):
    for i in range(len(x)):
        ref = reference(A[i], b[i], w[i])
        scale = max(np.max(np.abs(ref)), 1e-12)
        np.testing.assert_allclose(x[i], ref, rtol=rtol, atol=rtol * scale)
        f, f_ref = objective(x[i], A[i], b[i], w[i]), objective(ref, A[i], b[i], w[i])
        assert f <= f_ref + rtol * max(abs(f_ref), 1e-12)


@pytest.mark.parametrize("k", ENUM_KS + ACTIVE_KS)
def test_matches_scipy_float64(k):
    rng = np.random.default_rng(k)
    A, b, w = problems(rng, k, batch=40)
    with x64():
        x = solve_each(A, b, w, jnp.float64)
    assert np.all(x >= 0)
    assert_matches_scipy(x, A, b, w, rtol=1e-6)
    refs = np.array([reference(*p) for p in zip(A, b, w)])
    assert 0.2 < np.mean(refs == 0) < 0.9  # constraints are active, but not all


@pytest.mark.parametrize("k", ENUM_KS + ACTIVE_KS)
def test_matches_scipy_float32_default(k):
    rng = np.random.default_rng(100 + k)
    A, b, w = problems(rng, k, batch=40)
    x = solve_each(A, b, w, jnp.float32)
    assert np.all(x >= 0)
    assert_matches_scipy(x, A, b, w, rtol=2e-4)


@pytest.mark.parametrize("k", [ENUMERATE_MAX_K])
def test_active_set_agrees_with_enumeration(k):
    """Both exact strategies, on the same (Jacobi-scaled) problems."""
    rng = np.random.default_rng(200 + k)
    A, b, w = problems(rng, k, batch=BATCH)

    @jax.jit
    @jax.vmap
    def both(A, b, w):
        Qs, cs, _ = _jacobi_scale(*gram(A, b, w))
        return _nnls_enumerate(Qs, cs), _nnls_active_set(Qs, cs, 4 * k)

    with x64():
        y_enum, y_act = both(jnp.asarray(A), jnp.asarray(b), jnp.asarray(w))
    np.testing.assert_allclose(np.asarray(y_act), np.asarray(y_enum), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("k", [3, 15])
def test_vmap_jit_matches_one_by_one(k):
    rng = np.random.default_rng(300 + k)
    A, b, w = (jnp.asarray(a, jnp.float32) for a in problems(rng, k, batch=BATCH))
    Q, c = batched_gram(A, b, w)
    batched = np.asarray(batched_nnls(Q, c))
    single = np.stack([np.asarray(nnls_gram(Q[i], c[i])) for i in range(BATCH)])
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-5 * np.abs(single).max())


@pytest.mark.parametrize("k", [3, 15])
def test_zero_column_gets_zero_amplitude(k):
    rng = np.random.default_rng(400 + k)
    A, b, w = (a[0] for a in problems(rng, k, batch=1))
    b = A @ np.abs(rng.normal(size=k)) + 0.1 * rng.normal(size=NPIX)  # would like positive amps
    A[:, 1] = 0.0
    for dtype, rtol in ((jnp.float32, 2e-4), (jnp.float64, 1e-6)):
        with maybe_x64(dtype):
            x = solve(A, b, w, dtype)
        assert np.all(np.isfinite(x)) and np.all(x >= 0) and x[1] == 0
        assert_matches_scipy(x[None], A[None], b[None], w[None], rtol)
    # no signal at all, or no columns at all
    for A0, b0 in ((A, np.zeros(NPIX)), (np.zeros_like(A), b)):
        np.testing.assert_array_equal(solve(A0, b0, w), np.zeros(k))


@pytest.mark.parametrize("k", [2, 4, 15])
@pytest.mark.parametrize("factor", [1.0, 3.0])
def test_collinear_columns(k, factor):
    rng = np.random.default_rng(500 + k)
    A, _, w = (a[0] for a in problems(rng, k, batch=1))
    A[:, -1] = factor * A[:, 0]  # exactly collinear with column 0
    b = A @ np.abs(rng.normal(size=k)) + 0.1 * rng.normal(size=NPIX)
    ref = reference(A, b, w)
    for dtype, rtol in ((jnp.float32, 1e-4), (jnp.float64, 1e-9)):
        with maybe_x64(dtype):
            x = solve(A, b, w, dtype)
            xn = solve(A, b, w, dtype, method="normal")
        assert np.all(np.isfinite(x)) and np.all(x >= 0) and np.all(np.isfinite(xn))
        f, f_ref = objective(x, A, b, w), objective(ref, A, b, w)
        np.testing.assert_allclose(f, f_ref, rtol=rtol)
        np.testing.assert_allclose(A @ x, A @ ref, rtol=0, atol=10 * rtol * np.abs(A @ ref).max())
        sw = np.sqrt(w)
        lstsq = np.linalg.lstsq(A * sw[:, None], b * sw, rcond=None)[0]
        atol = 10 * rtol * np.abs(A @ lstsq).max()
        np.testing.assert_allclose(A @ xn, A @ lstsq, rtol=0, atol=atol)


@pytest.mark.parametrize("k", [4, 6, 15])
def test_badly_scaled_columns(k):
    rng = np.random.default_rng(600 + k)
    A, _, w = (a[0] for a in problems(rng, k, batch=1))
    norms = np.logspace(-3, 3, k)  # column norms spanning 1e6
    A = A * norms
    x_true = rng.normal(size=k) / norms
    b = A @ x_true + 0.1 * rng.normal(size=NPIX)
    ref = reference(A, b, w)
    assert 0 < np.sum(ref == 0) < k
    for dtype, rtol in ((jnp.float32, 2e-4), (jnp.float64, 1e-6)):
        with maybe_x64(dtype):
            x = solve(A, b, w, dtype)
        assert np.all(np.isfinite(x)) and np.all(x >= 0)
        # compare amplitudes times column norms: the contribution of each column
        atol = rtol * np.abs(ref * norms).max()
        np.testing.assert_allclose(x * norms, ref * norms, rtol=rtol, atol=atol)


@pytest.mark.parametrize("k", [3, 15])
def test_never_negative(k):
    rng = np.random.default_rng(700 + k)
    A, _, w = problems(rng, k, batch=BATCH)
    A = np.abs(A)  # positive images; data anti-correlated with every column
    amps = np.abs(rng.normal(size=(BATCH, k)))
    b = -np.einsum("bpk,bk->bp", A, amps) + 1e-3 * rng.normal(size=(BATCH, NPIX))

    def batched(A, b, w):
        f32 = (jnp.asarray(a, jnp.float32) for a in (A, b, w))
        return np.asarray(batched_nnls(*batched_gram(*f32)))

    np.testing.assert_array_equal(batched(A, b, w), 0.0)
    assert np.all(batched(*problems(rng, k, batch=BATCH)) >= 0)


@pytest.mark.parametrize("k", [3, 15])
def test_non_finite_input_gives_nan_for_that_sample_only(k):
    rng = np.random.default_rng(800 + k)
    A, b, w = (jnp.asarray(a, jnp.float32) for a in problems(rng, k, batch=BATCH))
    Q, c = batched_gram(A, b, w)
    Q = Q.at[1, 0, 0].set(jnp.nan)
    c = c.at[2, 0].set(jnp.inf)
    for solver in (batched_nnls, jax.jit(jax.vmap(solve_normal))):
        x = np.asarray(solver(Q, c))
        assert np.all(np.isnan(x[1])) and np.all(np.isnan(x[2]))
        assert np.all(np.isfinite(np.delete(x, [1, 2], axis=0)))


def test_solve_normal_matches_lstsq():
    rng = np.random.default_rng(900)
    for k in (3, 8):
        A, b, w = (a[0] for a in problems(rng, k, batch=1))
        sw = np.sqrt(w)
        ref = np.linalg.lstsq(A * sw[:, None], b * sw, rcond=None)[0]
        assert np.any(ref < 0)
        with x64():
            x = solve(A, b, w, jnp.float64, method="normal")
        np.testing.assert_allclose(x, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())


def test_unit_weights_and_bad_method():
    rng = np.random.default_rng(1000)
    A, b, _ = (a[0] for a in problems(rng, 4, batch=1))
    with x64():
        x = np.asarray(solve_amplitudes(jnp.asarray(A), jnp.asarray(b)))
    np.testing.assert_allclose(x, scipy_nnls(A, b)[0], rtol=1e-8, atol=1e-8)
    with pytest.raises(ValueError, match="method"):
        solve_amplitudes(A, b, None, method="lstsq")


@pytest.mark.parametrize("k", [3, 9])
def test_gradient_matches_finite_differences(k, x64):
    """Reverse-mode derivatives of the amplitudes (enumeration for small k, active set plus
    implicit differentiation on the support for large k) against central differences."""
    import jax

    rng = np.random.default_rng(k)
    A = rng.normal(size=(60, k))
    b = A @ (np.abs(rng.normal(size=k)) * np.where(np.arange(k) % 3 == 0, -1, 1)) + rng.normal(0, 0.1, 60)  # some amplitudes hit 0

    def f(t):
        Q, c = gram(jnp.asarray(A) * (1 + t), jnp.asarray(b))
        return jnp.sum(nnls_gram(Q, c) ** 2)

    g = float(jax.grad(f)(0.0))
    h = 1e-6
    fd = (float(f(h)) - float(f(-h))) / (2 * h)
    assert float(f(0.0)) > 0
    assert g == pytest.approx(fd, rel=1e-4, abs=1e-8)


@pytest.mark.parametrize("solver", [nnls_gram, solve_normal])
@pytest.mark.parametrize("norm2", [1e-20, 1e-26, 1e-34])
@pytest.mark.parametrize("scale", [1.0, 1e-12])
def test_a_column_of_negligible_norm_keeps_the_float32_gradient_finite(solver, norm2, scale):
    """A light profile whose image is almost all outside the mask: its column's norm is far below
    float32's resolution of the others'. The value and amplitudes were right (amplitude 0), but
    the derivative of Q_jj^-1/2 overflowed and made the gradient NaN (below Q_jj ~ 2e-26), so the
    optimiser rejected the point. The model against scipy's, in float64: the column is not
    dropped (a first fix, a threshold relative to the largest column, dropped columns that prior
    corners need, e.g. a lens light of R = 0.001", and put a cliff in log L)."""
    rng = np.random.default_rng(5)
    a, b = rng.random(NPIX), rng.random(NPIX)
    data = 0.1 * a + 0.05 * rng.random(NPIX) + rng.normal(0, 0.01, NPIX)
    A = np.stack([a, rng.random(NPIX), b * np.sqrt(norm2 / np.sum(b * b))], axis=1)
    A[:, :2] *= scale  # also when every column is small (data in small units): the floor is absolute
    data = data * scale

    def loss(Q, c):
        x = solver(Q, c)
        return 0.5 * x @ Q @ x - c @ x

    Q, c = (jnp.asarray(v, jnp.float32) for v in (A.T @ A, A.T @ data))
    x = np.asarray(solver(Q, c))
    gQ, gc = jax.grad(loss, argnums=(0, 1))(Q, c)
    assert np.isfinite(np.asarray(gQ)).all() and np.isfinite(np.asarray(gc)).all()
    assert np.isfinite(x).all()
    if solver is nnls_gram:  # solve_normal's cut of small eigenvalues may leave such a column out
        np.testing.assert_allclose(A @ x, A @ scipy_nnls(A, data)[0], rtol=0, atol=1e-3 * np.abs(data).max())


def test_a_faint_but_usable_column_is_kept_in_float32():
    """A column 1e8 times fainter (in norm) than another: solved, as scipy."""
    rng = np.random.default_rng(6)
    a, b = rng.random(NPIX), rng.random(NPIX)
    A = np.stack([1e4 * a, 1e-4 * b], axis=1)
    data = A @ np.array([1.0, 3e3]) + rng.normal(0, 0.01, NPIX)
    Q, c = (jnp.asarray(v, jnp.float32) for v in (A.T @ A, A.T @ data))
    x = np.asarray(nnls_gram(Q, c))
    np.testing.assert_allclose(x * np.array([1e4, 1e-4]), scipy_nnls(A, data)[0] * np.array([1e4, 1e-4]), rtol=1e-3, atol=1e-3)
    assert x[1] > 0
