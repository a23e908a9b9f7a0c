"""Light profiles against lenstronomy (float64) and exact b_n; float32 robustness, jit, vmap."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import gammaincinv

from tinylens.profiles.ellipticity import circularize, qphi_to_e1e2
from tinylens.profiles.light import LIGHT_PROFILES
from tinylens.profiles.light.sersic import sersic_bn, sersic_profile

SHAPES = [(1.0, 0.0), (0.9, 0.4), (0.5, -1.0), (0.2, 2.0)]


def _points(cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
    """A 31x31 grid over +-3 arcsec plus the centre and points 1e-5 .. 1e-3 arcsec from it."""
    g = np.linspace(-3, 3, 31) + 0.0123
    x, y = np.meshgrid(g, g)
    r = np.array([0.0, 1e-5, 5e-5, 1e-4, 3e-4, 1e-3])
    return np.concatenate([x.ravel(), cx + r]), np.concatenate([y.ravel(), cy - 0.5 * r])


@functools.lru_cache(maxsize=None)
def _basis(name: str, settings: tuple = ()):
    """Jitted ``basis(x, y, p)`` of a profile with fixed settings (cached: compiled once)."""
    prof, kw = LIGHT_PROFILES[name], dict(settings)
    return jax.jit(lambda x, y, p: prof.basis(x, y, p, kw))


def _e1e2(q: float, phi: float) -> tuple[float, float]:
    return tuple(float(v) for v in qphi_to_e1e2(np.float64(q), np.float64(phi)))


def _lenstronomy(name: str, x, y, kwargs) -> np.ndarray:
    from lenstronomy.LightModel.light_model import LightModel

    return LightModel([name]).surface_brightness(x, y, [kwargs])


# ---------------------------------------------------------------- b_n


def test_sersic_bn_is_exact(x64):
    n = np.linspace(0.2, 10, 200)
    np.testing.assert_allclose(jax.jit(sersic_bn)(jnp.asarray(n)), gammaincinv(2 * n, 0.5), rtol=1e-12)


def test_sersic_bn_float32():
    n = np.linspace(0.2, 10, 200)
    b = jax.jit(sersic_bn)(jnp.asarray(n, jnp.float32))
    assert b.dtype == jnp.float32
    np.testing.assert_allclose(b, gammaincinv(2 * n.astype(np.float32).astype(float), 0.5), rtol=2e-6)


def test_sersic_bn_float32_docstring_bounds():
    """sersic_bn's float32 figures, on a fine grid (the docstring said < 2e-6 from n = 0.2 and
    < 4e-6 below; float32 gammainc gives up to 3.4e-6 at n = 0.21 and 6.9e-6 at n = 0.12)."""
    for lo, hi, bound in [(0.1, 0.2, 1e-5), (0.2, 0.5, 4e-6), (0.5, 15.0, 3e-6)]:
        n = np.linspace(lo, hi, 20001).astype(np.float32)
        b = np.asarray(jax.jit(sersic_bn)(jnp.asarray(n)))
        ref = gammaincinv(2 * n.astype(float), 0.5)
        assert np.max(np.abs(b - ref) / ref) < bound, (lo, hi)


def test_sersic_bn_asymptotic_docstring_figures(x64):
    from tinylens.profiles.light.sersic import _bn_asymptotic

    for n, err in [(2.0, 1.3e-6), (4.0, 7e-8), (2.5, 5e-7)]:
        rel = abs(float(_bn_asymptotic(jnp.float64(n))) / gammaincinv(2 * n, 0.5) - 1)
        assert 0.9 * err < rel < 1.05 * err, (n, rel)


def test_sersic_bn_gradient(x64):
    n = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0])
    h = 1e-6
    fd = (gammaincinv(2 * (n + h), 0.5) - gammaincinv(2 * (n - h), 0.5)) / (2 * h)
    np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(sersic_bn)))(jnp.asarray(n)), fd, rtol=1e-7)


def test_sersic_bn_docstring_figures():
    """The b_n differences quoted in sersic.py's docstring."""
    for n, diff in [(0.5, -0.0206), (1.0, -0.0062), (4.0, 0.00045)]:
        assert abs((1.9992 * n - 0.3271 - gammaincinv(2 * n, 0.5)) - diff) < 0.00006


# ---------------------------------------------------------------- against lenstronomy


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n", [0.5, 1.0, 4.0, 7.5])
def test_sersic_profile_matches_lenstronomy_with_its_bn(x64, n, shape):
    e1, e2 = _e1e2(*shape)
    kw = {"R_sersic": 0.7, "n_sersic": n, "e1": e1, "e2": e2, "center_x": 0.05, "center_y": -0.1}
    x, y = _points(0.05, -0.1)
    ref = _lenstronomy("SERSIC_ELLIPSE", x, y, {"amp": 3.0, **kw})
    ux, uy = circularize(jnp.asarray(x), jnp.asarray(y), e1, e2, 0.05, -0.1)
    ours = 3.0 * sersic_profile(jnp.hypot(ux, uy), 0.7, n, 1.9992 * n - 0.3271)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n", [0.7, 2.5, 5.0])
def test_sersic_basis_is_lenstronomy_with_exact_bn(x64, n, shape):
    """lenstronomy's profile = ours with R' = R (b/b_approx)^n and Ie' = amp exp(b_approx - b)."""
    e1, e2 = _e1e2(*shape)
    geo = {"n_sersic": n, "e1": e1, "e2": e2, "center_x": -0.2, "center_y": 0.1}
    x, y = _points(-0.2, 0.1)
    ref = _lenstronomy("SERSIC_ELLIPSE", x, y, {"amp": 2.0, "R_sersic": 0.9, **geo})
    b, b_approx = gammaincinv(2 * n, 0.5), 1.9992 * n - 0.3271
    p = {"R_sersic": 0.9 * (b / b_approx) ** n, **geo}
    basis = _basis("Sersic")(jnp.asarray(x), jnp.asarray(y), p)
    assert basis.shape == x.shape + (1,) and basis.dtype == jnp.float64
    mask = np.hypot(x + 0.2, y - 0.1) > 1e-3  # inside, the two R floors differ slightly
    np.testing.assert_allclose((2.0 * np.exp(b_approx - b) * basis[..., 0])[mask], ref[mask], rtol=1e-9)


@pytest.mark.parametrize("q, phi", [(0.5, 0.0), (0.3, 1.1)])
def test_sersic_radius_is_the_intermediate_axis_one_not_the_papers_eq_10(x64, q, phi):
    """sersic.py: the ellipse R = R_sersic has semi-axes R_sersic / sqrt(q) (major) and
    R_sersic sqrt(q) (minor), where I = Ie; the paper's eq. 10 would put R_sersic on the major axis."""
    e1, e2 = _e1e2(q, phi)
    p = {"R_sersic": 0.8, "n_sersic": 2.0, "e1": e1, "e2": e2, "center_x": 0.1, "center_y": -0.3}
    a, b = 0.8 / np.sqrt(q), 0.8 * np.sqrt(q)
    x = 0.1 + np.array([a * np.cos(phi), -b * np.sin(phi), 0.8 * np.cos(phi)])
    y = -0.3 + np.array([a * np.sin(phi), b * np.cos(phi), 0.8 * np.sin(phi)])
    img = np.asarray(_basis("Sersic")(jnp.asarray(x), jnp.asarray(y), p)[..., 0])
    np.testing.assert_allclose(img[:2], 1.0, rtol=1e-12)
    assert img[2] > 1.2  # R_sersic along the major axis (eq. 10's r_e) lies well inside


@pytest.mark.parametrize("shape", SHAPES)
def test_gaussian_matches_lenstronomy(x64, shape):
    e1, e2 = _e1e2(*shape)
    p = {"sigma": 0.4, "e1": e1, "e2": e2, "center_x": 0.1, "center_y": 0.2}
    x, y = _points(0.1, 0.2)
    ref = _lenstronomy("GAUSSIAN_ELLIPSE", x, y, {"amp": 5.0, **p})
    ours = 5.0 * _basis("Gaussian")(jnp.asarray(x), jnp.asarray(y), p)[..., 0]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_mge_matches_lenstronomy_multi_gaussian(x64):
    settings = {"n_gauss": 6, "sigma_min": 0.05, "sigma_max": 2.0}
    prof = LIGHT_PROFILES["MGE"]
    assert prof.n_basis(settings) == 6 and prof.n_basis(prof.settings_defaults) == 15
    e1, e2 = _e1e2(0.6, 0.3)
    p = {"e1": e1, "e2": e2, "center_x": 0.0, "center_y": 0.1}
    x, y = _points(0.0, 0.1)
    cols = _basis("MGE", tuple(settings.items()))(jnp.asarray(x), jnp.asarray(y), p)
    assert cols.shape == x.shape + (6,)
    amps = np.array([3.0, 1.0, 0.5, 2.0, 0.1, 0.7])
    sig = np.geomspace(0.05, 2.0, 6)
    ref = _lenstronomy("MULTI_GAUSSIAN_ELLIPSE", x, y, {"amp": amps, "sigma": sig, **p})
    np.testing.assert_allclose(cols @ amps, ref, rtol=1e-12)
    np.testing.assert_allclose(prof.total_flux(p, settings), np.ones(6))


# ---------------------------------------------------------------- total flux


def _polar_flux(name: str, p, settings, r_max: float) -> np.ndarray:
    """Integral of the basis images over the plane, on a log-polar grid about the centre."""
    s = np.linspace(np.log(1e-7), np.log(r_max), 3000)
    th = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    r = np.exp(s)[:, None]
    x, y = p["center_x"] + r * np.cos(th), p["center_y"] + r * np.sin(th)
    img = np.asarray(_basis(name, tuple(settings.items()))(jnp.asarray(x), jnp.asarray(y), p))
    ring = img.mean(axis=1) * 2 * np.pi * np.exp(2 * s)[:, None]  # d(flux)/d(ln r)
    return np.trapezoid(ring, s, axis=0)


@pytest.mark.parametrize("n, shape", [(1.0, (1.0, 0.0)), (1.0, (0.4, 0.7)), (3.0, (0.6, -0.3)), (0.5, (0.3, 0.0))])
def test_sersic_total_flux_is_the_integral(x64, n, shape):
    e1, e2 = _e1e2(*shape)
    p = {"R_sersic": 0.5, "n_sersic": n, "e1": e1, "e2": e2, "center_x": 0.3, "center_y": -0.2}
    prof = LIGHT_PROFILES["Sersic"]
    expected = prof.total_flux(p, {})
    assert expected.shape == (1,)
    np.testing.assert_allclose(_polar_flux("Sersic", p, {}, r_max=5e3), expected, rtol=1e-5)


@pytest.mark.parametrize("n, r_sersic", [(8.0, 1e-3), (8.0, 1e-2), (4.0, 1e-2), (1.0, 3e-4), (4.0, 5e-5)])
def test_compact_sersic_total_flux_is_the_integral_of_its_flat_centre(x64, n, r_sersic):
    """The profile is flat inside R = SMOOTHING (as lenstronomy's); the analytic total alone was
    10% too high at n = 8, R_sersic = 0.001" and 0.9% at 0.01" (so were derived fluxes, magnitudes
    and the source magnification)."""
    e1, e2 = _e1e2(0.6, 0.4)
    p = {"R_sersic": r_sersic, "n_sersic": n, "e1": e1, "e2": e2, "center_x": 0.3, "center_y": -0.2}
    expected = LIGHT_PROFILES["Sersic"].total_flux(p, {})
    np.testing.assert_allclose(_polar_flux("Sersic", p, {}, r_max=5e3 * max(r_sersic, 1e-4)), expected, rtol=2e-5)


@pytest.mark.parametrize("n, r_sersic", [(0.05, 1.0), (0.06, 0.5), (0.3, 2.0), (8.0, 1e-3), (4.0, 0.01)])
def test_sersic_total_flux_float32_matches_float64_and_has_finite_gradients(n, r_sersic):
    """The cusp's share P(2n, x_s) underflowed for small n in float32 (x_s floored at the
    smallest normal number): the flux was 1.7e-4 too low at n = 0.05."""
    flux = LIGHT_PROFILES["Sersic"].total_flux
    p32 = {"R_sersic": jnp.float32(r_sersic), "n_sersic": jnp.float32(n)}
    from oracle import x64

    with x64():
        expected = float(flux({"R_sersic": jnp.float64(r_sersic), "n_sersic": jnp.float64(n)}, {})[0])
    got = flux(p32, {})
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(float(got[0]), expected, rtol=5e-6)
    grad = jax.grad(lambda q: flux(q, {})[0])(p32)
    assert all(np.isfinite(float(v)) for v in grad.values())


def test_gaussian_and_mge_total_flux_is_the_integral(x64):
    p = {"sigma": 0.3, "e1": 0.3, "e2": -0.2, "center_x": 0.0, "center_y": 0.0}
    np.testing.assert_allclose(_polar_flux("Gaussian", p, {}, 50.0), [1.0], rtol=1e-6)
    mge = LIGHT_PROFILES["MGE"]
    settings = dict(mge.settings_defaults)
    np.testing.assert_allclose(_polar_flux("MGE", p, settings, 200.0), mge.total_flux(p, settings), rtol=1e-6)


# ---------------------------------------------------------------- float32 robustness


F32_PARAMS = {
    "Sersic": {"R_sersic": 0.5, "n_sersic": 4.0},
    "Gaussian": {"sigma": 0.3},
    "MGE": {},
}


@pytest.mark.parametrize("name", ["Sersic", "Gaussian", "MGE"])
def test_no_nan_in_value_or_gradient_float32(name):
    """Round and elliptical, at the exact centre and beside it, via vmap over parameter sets."""
    prof = LIGHT_PROFILES[name]
    settings = dict(prof.settings_defaults)
    base = {**F32_PARAMS[name], "center_x": 0.0, "center_y": 0.0}
    batch = {k: jnp.full((3,), v, jnp.float32) for k, v in base.items()}
    batch["e1"] = jnp.asarray([0.0, 0.2, -0.5], jnp.float32)
    batch["e2"] = jnp.asarray([0.0, -0.1, 0.3], jnp.float32)
    if name == "Sersic":
        batch["n_sersic"] = jnp.asarray([0.5, 1.0, 6.0], jnp.float32)
    x = jnp.asarray([0.0, 1e-6, 0.4, -1.0], jnp.float32)
    y = jnp.asarray([0.0, 0.0, 0.3, 2.0], jnp.float32)

    def loss(p, x, y):
        return jnp.sum(prof.basis(x, y, p, settings) ** 2) + jnp.sum(prof.total_flux(p, settings))

    def value_and_grads(p):
        return prof.basis(x, y, p, settings), jax.grad(loss, argnums=(0, 1, 2))(p, x, y)

    img, grads = jax.jit(jax.vmap(value_and_grads))(batch)
    assert img.dtype == jnp.float32 and img.shape == (3, 4, prof.n_basis(settings))
    assert np.all(np.isfinite(img))
    for leaf in jax.tree_util.tree_leaves(grads):
        assert np.all(np.isfinite(leaf)), name



@pytest.mark.parametrize("n, r_sersic", [(0.05, 0.01), (0.08, 1e-3), (0.1, 1e-6)])
def test_sersic_gradient_is_finite_far_out_for_a_small_index(n, r_sersic):
    """For a small index (n <~ 0.1) and a compact profile, (R / R_sersic)^(1/n) overflowed float32
    a few arcsec out: the value there was 0, as it should be, but its gradient inf * 0 = NaN at
    every parameter, so the gradient of a log-likelihood with such a light profile was NaN."""
    p = {k: jnp.float32(v) for k, v in
         {"R_sersic": r_sersic, "n_sersic": n, "e1": 0.1, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}.items()}
    x = jnp.asarray(np.linspace(-3, 3, 61), jnp.float32)
    y = jnp.full_like(x, 0.013)
    grad = jax.grad(lambda p: jnp.sum(_basis("Sersic")(x, y, p)))(p)
    assert all(np.isfinite(v) for v in grad.values()), grad
    assert float(jnp.max(_basis("Sersic")(x, y, p)[np.abs(x) > 1.0])) == 0.0


def test_float32_sersic_accuracy():
    p = {"R_sersic": 0.6, "n_sersic": 3.0, "e1": 0.2, "e2": -0.1, "center_x": 0.1, "center_y": 0.0}
    x, y = _points(0.1, 0.0)
    b, b_approx = gammaincinv(6.0, 0.5), 1.9992 * 3.0 - 0.3271
    ref = _lenstronomy("SERSIC_ELLIPSE", x, y, {"amp": np.exp(b - b_approx), **p, "R_sersic": 0.6 * (b_approx / b) ** 3})
    f32 = {k: jnp.float32(v) for k, v in p.items()}
    ours = _basis("Sersic")(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), f32)[..., 0]
    mask = np.hypot(x - 0.1, y) > 1e-3
    np.testing.assert_allclose(np.asarray(ours)[mask], ref[mask], rtol=1e-4)


def test_registry():
    lp = LIGHT_PROFILES
    assert lp["SERSIC_ELLIPSE"] is lp["Sersic"] and lp["GAUSSIAN_ELLIPSE"] is lp["Gaussian"]
    assert lp["Sersic"].params == ("R_sersic", "n_sersic", "e1", "e2", "center_x", "center_y")
    assert (lp["Sersic"].amplitude, lp["Gaussian"].amplitude, lp["MGE"].amplitude) == ("Ie", "flux", "amps")
    assert lp["Sersic"].aliases["amp"] == "Ie" and lp["Gaussian"].aliases["amp"] == "flux"
    for prof in (lp["Sersic"], lp["Gaussian"], lp["MGE"]):
        assert prof.defaults["e1"] == 0.0 and prof.defaults["e2"] == 0.0
    assert lp["Sersic"].n_basis({}) == 1 and lp["Gaussian"].n_basis({}) == 1
    with pytest.raises(ValueError):
        lp["MGE"].n_basis({"n_gauss": 3, "sigma_min": 0.0, "sigma_max": 1.0})
    # a Sersic without e1, e2 is round
    x, y = jnp.asarray([0.3, 0.0]), jnp.asarray([0.0, 0.3])
    img = _basis("Sersic")(x, y, {"R_sersic": 0.5, "n_sersic": 2.0, "center_x": 0.0, "center_y": 0.0})
    np.testing.assert_allclose(img[0], img[1], rtol=1e-6)


@pytest.mark.parametrize("n_gauss", [0, 61, 10000, float("inf"), float("nan"), 2.5])
def test_mge_refuses_a_number_of_gaussians_outside_1_to_60(n_gauss):
    """10000 Gaussians made validate run for minutes; inf raised an OverflowError."""
    from tinylens.profiles.light import mge

    with pytest.raises(ValueError, match="n_gauss from 1 to 60"):
        mge.sigmas({"n_gauss": n_gauss})
    assert len(mge.sigmas({"n_gauss": 60})) == 60
