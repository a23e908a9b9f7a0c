"""Mass profiles against lenstronomy (float64), and float32 robustness: NaN-free, jit, vmap."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tinylens.profiles.ellipticity import qphi_to_e1e2
from tinylens.profiles.mass import MASS_PROFILES

RTOL = 1e-5
CENTERS = [(0.0, 0.0), (0.03, -0.02), (-0.4, 0.25)]
# (q, phi): exactly round, nearly round, ..., the flattest required (q = 0.2)
SHAPES = [(1.0, 0.0), (0.99, 0.3), (0.8, -0.7), (0.5, 1.2), (0.2, 0.0), (0.2, 2.0)]
SLOPES = [1.2, 1.5, 2.0, 2.5, 2.8]


@functools.lru_cache(maxsize=None)
def _jit(name: str):
    """The profile's jitted deflection (cached: compiled once per dtype and shape)."""
    return jax.jit(MASS_PROFILES[name].deflection)


def _points(cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
    """A 41x41 grid over +-2.5 arcsec plus points 1e-4 and 1e-3 arcsec from the centre."""
    g = np.linspace(-2.5, 2.5, 41) + 0.0123
    x, y = np.meshgrid(g, g)
    ang = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    rad = np.repeat([1e-4, 1e-3], 8)
    x = np.concatenate([x.ravel(), cx + rad * np.cos(np.tile(ang, 2))])
    y = np.concatenate([y.ravel(), cy + rad * np.sin(np.tile(ang, 2))])
    return x, y


def _e1e2(q: float, phi: float) -> tuple[float, float]:
    return tuple(float(v) for v in qphi_to_e1e2(np.float64(q), np.float64(phi)))


def _max_rel_err(name: str, kwargs: dict, lenstronomy_name: str | None = None) -> float:
    """Max over the points of |alpha - alpha_lenstronomy| / |alpha_lenstronomy|."""
    from lenstronomy.LensModel.lens_model import LensModel

    x, y = _points(kwargs.get("center_x", 0.0), kwargs.get("center_y", 0.0))
    ax, ay = LensModel([lenstronomy_name or name]).alpha(x, y, [kwargs])
    p = {k: jnp.asarray(v, jnp.float64) for k, v in kwargs.items()}
    bx, by = _jit(name)(jnp.asarray(x), jnp.asarray(y), p)
    assert bx.dtype == jnp.float64
    return float(np.max(np.hypot(bx - ax, by - ay) / np.hypot(ax, ay)))


@pytest.mark.parametrize("center", CENTERS)
def test_sis_matches_lenstronomy(x64, center):
    kw = {"theta_E": 1.3, "center_x": center[0], "center_y": center[1]}
    assert _max_rel_err("SIS", kw) < RTOL


@pytest.mark.parametrize("center", CENTERS)
@pytest.mark.parametrize("shape", SHAPES)
def test_sie_matches_lenstronomy(x64, shape, center):
    e1, e2 = _e1e2(*shape)
    kw = {"theta_E": 1.3, "e1": e1, "e2": e2, "center_x": center[0], "center_y": center[1]}
    assert _max_rel_err("SIE", kw) < RTOL


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gamma", SLOPES)
def test_epl_matches_lenstronomy(x64, gamma, shape):
    e1, e2 = _e1e2(*shape)
    kw = {"theta_E": 1.1, "gamma": gamma, "e1": e1, "e2": e2, "center_x": 0.03, "center_y": -0.02}
    assert _max_rel_err("EPL", kw) < RTOL


# flatter than SHAPES, yet inside the templates' e1, e2 priors (N(0, 0.3) each, limits +-1): the
# bare 40-term series was off by up to 1.9e-4 at q = 0.1 and 1.2e-2 at q = 0.05 (gamma 2.8); with
# a one-level (geometric) tail by 3.5e-7 at q = 0.1, 8e-5 at q = 0.05, 4.6e-3 at q = 0.02 and
# 2.9e-2 at q = 0.01; with TAIL_DEPTH = 8 by 5.2e-12, 2.7e-8, 2.8e-5 and 7.8e-4 (~3x below these)
FLAT_RTOL = {0.1: 2e-11, 0.05: 8e-8, 0.02: 8e-5, 0.01: 2.5e-3}


@pytest.mark.parametrize("q", sorted(FLAT_RTOL))
@pytest.mark.parametrize("gamma", SLOPES)
def test_epl_matches_lenstronomy_for_very_flat_lenses(x64, gamma, q):
    e1, e2 = _e1e2(q, 0.7)
    kw = {"theta_E": 1.1, "gamma": gamma, "e1": e1, "e2": e2, "center_x": 0.03, "center_y": -0.02}
    assert _max_rel_err("EPL", kw) < FLAT_RTOL[q]


# not gamma = 2 at q = 0.01: there scipy's hyp2f1 (lenstronomy's) is off by ~3e-5 at gamma = 2 +- h
# (2 - t/2 - 1 - t/2 near 0, |v| near 1), which the differences turn into a gradient 100 times too big.
# At q = 0.01 the 8-level tail is off by up to 4.8e-3 (gamma = 2.8), the geometric one by 2.4e-2 to 0.18
GRAD_RTOL = {0.1: 1e-4, 0.01: 1.5e-2}


@pytest.mark.parametrize(("gamma", "q"), [(g, 0.1) for g in SLOPES] + [(g, 0.01) for g in SLOPES if g != 2.0])
def test_epl_gradient_matches_lenstronomy_finite_differences_for_a_flat_lens(x64, gamma, q):
    """d/d(gamma, e1, e2) of a weighted sum of the deflections at q = 0.1 and 0.01 (the custom JVP,
    tail included) against central differences of lenstronomy's; the bare series was off by up to
    5e-2 at q = 0.1, the geometric tail by up to 0.18 at q = 0.01."""
    from lenstronomy.LensModel.lens_model import LensModel

    x, y = _points(0.03, -0.02)
    w = np.random.default_rng(0).normal(size=(2, x.size))
    e1, e2 = _e1e2(q, 0.7)
    kw = {"theta_E": 1.1, "gamma": gamma, "e1": e1, "e2": e2, "center_x": 0.03, "center_y": -0.02}

    def lenstronomy_sum(kwargs):
        ax, ay = LensModel(["EPL"]).alpha(x, y, [kwargs])
        return np.sum(w[0] * ax + w[1] * ay)

    def tinylens_sum(p):
        ax, ay = MASS_PROFILES["EPL"].deflection(jnp.asarray(x), jnp.asarray(y), p)
        return jnp.sum(w[0] * ax + w[1] * ay)

    names, h = ("gamma", "e1", "e2"), 1e-6
    grad = jax.grad(tinylens_sum)({k: jnp.asarray(v, jnp.float64) for k, v in kw.items()})
    fd = [(lenstronomy_sum({**kw, k: kw[k] + h}) - lenstronomy_sum({**kw, k: kw[k] - h})) / (2 * h) for k in names]
    np.testing.assert_allclose([float(grad[k]) for k in names], fd, rtol=GRAD_RTOL[q])


@pytest.mark.parametrize("q", [0.05, 0.02])
def test_epl_gradient_in_gamma_at_its_upper_bound_3_is_the_slopes_own(x64, q):
    """At gamma = 3, the top of its domain (1, 3) and of a uniform(1, 3) prior, d/d(gamma) of a
    weighted sum of the deflections is the derivative from inside, as just below it (lenstronomy's
    one-sided second-order differences): the tail's cap of t = gamma - 1 at 2, written as
    jnp.minimum(t, 2), took half its derivative there (a tie): 1.2e-4 off at q = 0.05, 1.1e-2 at q = 0.02."""
    from lenstronomy.LensModel.lens_model import LensModel

    x, y = _points(0.03, -0.02)
    w = np.random.default_rng(1).normal(size=(2, x.size))
    e1, e2 = _e1e2(q, 0.7)
    kw = {"theta_E": 1.1, "gamma": 3.0, "e1": e1, "e2": e2, "center_x": 0.03, "center_y": -0.02}

    def lenstronomy_sum(gamma):
        ax, ay = LensModel(["EPL"]).alpha(x, y, [{**kw, "gamma": gamma}])
        return np.sum(w[0] * ax + w[1] * ay)

    def tinylens_gamma_sum(gamma):
        p = {k: jnp.asarray(v, jnp.float64) for k, v in {**kw, "gamma": gamma}.items()}
        ax, ay = MASS_PROFILES["EPL"].deflection(jnp.asarray(x), jnp.asarray(y), p)
        return jnp.sum(w[0] * ax + w[1] * ay)

    h = 1e-5
    fd = (3 * lenstronomy_sum(3.0) - 4 * lenstronomy_sum(3.0 - h) + lenstronomy_sum(3.0 - 2 * h)) / (2 * h)
    at_3 = float(jax.grad(tinylens_gamma_sum)(jnp.asarray(3.0, jnp.float64)))
    below = float(jax.grad(tinylens_gamma_sum)(jnp.asarray(3.0 - 1e-9, jnp.float64)))
    np.testing.assert_allclose(at_3, below, rtol=1e-7)
    np.testing.assert_allclose(at_3, fd, rtol=3e-5)  # 8e-6 off at q = 0.02, the tail's own


def test_epl_centred_and_beyond_q_limit(x64):
    # centred lens; and |e| > 1, which lenstronomy and tinylens both clip at |e| = 0.9999 (only
    # the direction is compared there: q = 5e-5 is far outside the series' accuracy range)
    kw = {"theta_E": 0.9, "gamma": 2.2, "e1": 0.3, "e2": -0.4, "center_x": 0.0, "center_y": 0.0}
    assert _max_rel_err("EPL", kw) < RTOL
    p = {"theta_E": 1.0, "gamma": 2.0, "e1": 1.5, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}
    ax, ay = _jit("EPL")(jnp.asarray([1.0, 0.0]), jnp.asarray([0.0, 1.0]), p)
    assert np.all(np.isfinite(ax)) and np.all(np.isfinite(ay))


@pytest.mark.parametrize("ra0", [None, (0.2, -0.1)])
def test_shear_matches_lenstronomy(x64, ra0):
    kw = {"gamma1": 0.05, "gamma2": -0.03}
    if ra0 is not None:
        kw.update(ra_0=ra0[0], dec_0=ra0[1])
    assert _max_rel_err("SHEAR", kw) < RTOL


def test_shear_is_the_gradient_of_the_documented_polar_potential(x64):
    """shear.py: alpha = grad psi, psi = +gamma_ext r^2 cos 2(phi - phi_ext) / 2 with shear_to_polar's
    (gamma_ext, phi_ext); the paper's eq. 13 (minus sign) gives the opposite deflection."""
    from tinylens.profiles.ellipticity import shear_to_polar

    p = {"gamma1": 0.05, "gamma2": -0.03, "ra_0": 0.2, "dec_0": -0.1}
    g, phi_ext = shear_to_polar(jnp.float64(p["gamma1"]), jnp.float64(p["gamma2"]))

    def psi(x, y):
        dx, dy = x - p["ra_0"], y - p["dec_0"]
        return 0.5 * g * (dx * dx + dy * dy) * jnp.cos(2 * (jnp.arctan2(dy, dx) - phi_ext))

    x, y = _points(0.0, 0.0)
    gx, gy = jax.vmap(jax.grad(psi, argnums=(0, 1)))(jnp.asarray(x), jnp.asarray(y))
    ax, ay = _jit("SHEAR")(jnp.asarray(x), jnp.asarray(y), p)
    np.testing.assert_allclose(ax, gx, atol=1e-12)
    np.testing.assert_allclose(ay, gy, atol=1e-12)


def test_epl_with_gamma_2_is_sie(x64):
    x, y = _points(0.1, 0.0)
    e1, e2 = _e1e2(0.6, 0.4)
    p = {"theta_E": 1.2, "e1": e1, "e2": e2, "center_x": 0.1, "center_y": 0.0}
    a = _jit("SIE")(jnp.asarray(x), jnp.asarray(y), p)
    b = _jit("EPL")(jnp.asarray(x), jnp.asarray(y), {**p, "gamma": 2.0})
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- float32 robustness

F32_PARAMS = {
    "SIS": {"theta_E": 1.2, "center_x": 0.0, "center_y": 0.0},
    "SIE": {"theta_E": 1.2, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0},
    "EPL": {"theta_E": 1.2, "gamma": 2.1, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0},
    "SHEAR": {"gamma1": 0.03, "gamma2": -0.02, "ra_0": 0.0, "dec_0": 0.0},
}


def _f32(p: dict) -> dict:
    return {k: jnp.asarray(v, jnp.float32) for k, v in p.items()}


@pytest.mark.parametrize("name", list(MASS_PROFILES))
def test_value_and_gradient_float32(name):
    """No NaN, round (e1 = e2 = 0) and elliptical, shallow to steep, at and near the exact
    centre, for a vmapped batch of parameter sets (one compilation per profile); and at
    e1 = e2 = 0, where q and phi are singular, the gradient is the true one (finite differences)."""
    deflection = MASS_PROFILES[name].deflection
    h = 0.01
    sets = [((e1, e2), g) for e1, e2 in [(0.0, 0.0), (0.2, -0.1)] for g in (1.2, 2.1, 2.8)]
    sets += [((d1, d2), 2.1) for d1, d2 in [(h, 0.0), (-h, 0.0), (0.0, h), (0.0, -h)]]
    batch = {k: jnp.full((len(sets),), v, jnp.float32) for k, v in F32_PARAMS[name].items()}
    if "e1" in batch:
        batch["e1"] = jnp.asarray([s[0][0] for s in sets], jnp.float32)
        batch["e2"] = jnp.asarray([s[0][1] for s in sets], jnp.float32)
    if "gamma" in batch:
        batch["gamma"] = jnp.asarray([s[1] for s in sets], jnp.float32)
    x = jnp.asarray([0.0, 1e-6, 0.5, -1.0, 0.8], jnp.float32)  # includes the exact centre
    y = jnp.asarray([0.0, 0.0, 0.3, 2.0, -0.7], jnp.float32)

    def loss(p, x, y):
        ax, ay = deflection(x, y, p)
        return jnp.sum(ax**2 + ay)

    def value_and_grads(p):
        return deflection(x, y, p), loss(p, x, y), jax.grad(loss, argnums=(0, 1, 2))(p, x, y)

    (ax, ay), losses, grads = jax.jit(jax.vmap(value_and_grads))(batch)
    assert ax.dtype == jnp.float32 and ax.shape == (len(sets), 5)
    assert np.all(np.isfinite(ax)) and np.all(np.isfinite(ay))
    for leaf in jax.tree_util.tree_leaves(grads):  # a NaN at any point would reach the sums
        assert np.all(np.isfinite(leaf)), name
    if "e1" in batch:  # index 1: round, gamma 2.1; 6-9: e1 +-h, e2 +-h
        fd = (losses[np.array([6, 8])] - losses[np.array([7, 9])]) / (2 * h)
        np.testing.assert_allclose([grads[0]["e1"][1], grads[0]["e2"][1]], fd, rtol=2e-3, atol=1e-3)
        assert np.all(np.abs(fd) > 0.05)  # a zero gradient (naive double-where) would fail


@pytest.mark.parametrize("name", ["SIE", "EPL"])
def test_float32_accuracy(name):
    from lenstronomy.LensModel.lens_model import LensModel

    x, y = _points(0.03, -0.02)
    e1, e2 = _e1e2(0.2, 0.5)
    kw = {"theta_E": 1.1, "e1": e1, "e2": e2, "center_x": 0.03, "center_y": -0.02}
    if name == "EPL":
        kw["gamma"] = 2.5
    ax, ay = LensModel([name]).alpha(x, y, [kw])
    bx, by = _jit(name)(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), _f32(kw))
    assert np.max(np.hypot(bx - ax, by - ay) / np.hypot(ax, ay)) < 1e-4


@pytest.mark.parametrize("name", list(MASS_PROFILES))
def test_jit_and_vmap_over_parameter_sets(name):
    prof = MASS_PROFILES[name]
    base = dict(F32_PARAMS[name])
    batch = {k: jnp.asarray([v, v + 0.05, v - 0.03], jnp.float32) for k, v in base.items()}
    if "e1" in batch:
        batch["e1"] = jnp.asarray([0.0, 0.3, -0.2], jnp.float32)
    x, y = (jnp.asarray(v, jnp.float32) for v in _points(0.03, -0.02))  # shapes as other tests
    ax, ay = jax.jit(jax.vmap(lambda p: prof.deflection(x, y, p)))(batch)
    assert ax.shape == (3,) + x.shape
    for i in range(3):
        bx, by = _jit(name)(x, y, {k: v[i] for k, v in batch.items()})
        np.testing.assert_allclose(ax[i], bx, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ay[i], by, rtol=1e-5, atol=1e-6)


def test_registry():
    assert set(MASS_PROFILES) == {"SIS", "SIE", "EPL", "SHEAR"}
    assert MASS_PROFILES["EPL"].params == ("theta_E", "gamma", "e1", "e2", "center_x", "center_y")
    assert MASS_PROFILES["EPL"].aliases == {"slope": "gamma"}
    assert MASS_PROFILES["SHEAR"].defaults == {"ra_0": 0.0, "dec_0": 0.0}
    assert set(MASS_PROFILES["SIE"].params) == {"theta_E", "e1", "e2", "center_x", "center_y"}
    for name, prof in MASS_PROFILES.items():
        assert prof.name == name and set(prof.defaults) <= set(prof.params)
    # SHEAR without ra_0 / dec_0 uses the defaults
    ax, ay = MASS_PROFILES["SHEAR"].deflection(jnp.asarray(1.0), jnp.asarray(2.0), {"gamma1": 0.1, "gamma2": 0.2})
    np.testing.assert_allclose([ax, ay], [0.1 + 0.4, 0.2 - 0.2], rtol=1e-6)


@pytest.mark.parametrize("mass", [{"type": "SIS"}, {"type": "SIE", "e1": 0.15, "e2": -0.05}, {"type": "SIE", "e1": 0.0, "e2": 0.0},
                                  {"type": "EPL", "gamma": 2.5, "e1": 0.1, "e2": 0.05}])
def test_a_ray_on_the_exact_centre_does_not_image_the_source_behind_the_lens(mass):
    """An odd image with an odd sub-pixel grid puts a ray exactly on a lens centre at (0, 0). The
    image must be continuous in the lens centre (moving it by 1e-6" changes nothing visible);
    a deflection of 0 there made that ray image the source behind the lens (a spurious central
    pixel of ~I_src / nsub^2: as bright as the arcs at nsub 1). (A shallower EPL's deflection
    goes to 0 at its centre, where its central image is real.)"""
    from tinylens.simulate import simulate_images

    mass = dict(mass)
    kind = mass.pop("type")
    source = {"sigma": 0.1, "e1": 0.0, "e2": 0.0, "center_x": 0.02, "center_y": 0.01, "flux": 1.0}
    images = []
    for cx in (0.0, 1e-6):
        lens = {"theta_E": 1.0, "center_x": cx, "center_y": 0.0, **mass}
        for nsub in (1, 3):
            images.append(simulate_images({"lens_mass_list": [kind], "source_light_list": ["Gaussian"]},
                                          {"lens_mass": [lens], "source_light": [source]},
                                          (41, 41), 0.065, np.ones((1, 1)), nsub=nsub)["lensed_source"])
    for at_centre, moved in zip(images[:2], images[2:]):
        assert np.max(np.abs(at_centre - moved)) < 1e-3 * moved.max()


@pytest.mark.parametrize("e", [0.99, 0.9995, 0.9999, 1.0])
def test_sie_float32_stays_finite_and_right_for_the_flattest_lenses(e):
    """|e| from about 0.9996 (q^2 below float32's resolution of 1 - q^2) gave inf and NaN
    deflections, and -inf or wrong log-likelihoods, although every template's limits allow |e| up
    to 1 (clipped to C_MAX). Against lenstronomy in float64 at the clipped ellipticity."""
    from lenstronomy.LensModel.lens_model import LensModel

    from tinylens.profiles.ellipticity import C_MAX

    x, y = _points(0.013, 0.0)
    phi = 0.4
    kw = {"theta_E": 1.0, "e1": e * np.cos(2 * phi), "e2": e * np.sin(2 * phi), "center_x": 0.013, "center_y": 0.0}
    used = min(e, C_MAX)
    ax, ay = LensModel(["SIE"]).alpha(x, y, [{**kw, "e1": used * np.cos(2 * phi), "e2": used * np.sin(2 * phi)}])
    bx, by = _jit("SIE")(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), _f32(kw))
    assert np.isfinite(bx).all() and np.isfinite(by).all()
    assert np.max(np.hypot(bx - ax, by - ay)) < 1e-4 * kw["theta_E"]
    grad = jax.grad(lambda p: jnp.sum(_jit("SIE")(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), p)[1]))(_f32(kw))
    assert all(np.isfinite(v) for v in grad.values())


@pytest.mark.parametrize("e", [0.85, 0.9, 0.95, 0.99, 0.9999])
def test_sie_float32_gradient_is_finite_on_the_exact_centre_of_a_flat_lens(e):
    """A ray exactly on the centre (an odd image with an odd sub-pixel grid, the centre at 0) of an
    SIE with q below about 0.1 made the float32 gradient in e1, e2 NaN, though the deflection was
    finite: a denominator there, psi^2 ~ q R_MIN^2, squared underflowed. One such ray made the whole
    log-likelihood's gradient NaN, so the optimiser saw a failed step."""
    phi = 0.4
    p = _f32({"theta_E": 1.0, "e1": e * np.cos(2 * phi), "e2": e * np.sin(2 * phi), "center_x": 0.0, "center_y": 0.0})
    x = jnp.asarray([0.0, 0.05, -0.3], jnp.float32)
    y = jnp.asarray([0.0, 0.02, 0.4], jnp.float32)
    grad = jax.grad(lambda p: jnp.sum(sum(_jit("SIE")(x, y, p))))(p)
    assert all(np.isfinite(v) for v in grad.values()), grad


@pytest.mark.parametrize("gamma", [2.5, 2.9])
def test_epl_float32_gradient_is_finite_just_outside_the_centre_of_a_steep_lens(gamma):
    """Rays 1.1e-9 to 3e-9 arcsec from the centre of a steep elliptical EPL (just outside R_MIN,
    so not moved there) had finite deflections but an inf or NaN float32 gradient in every
    parameter: the reverse-mode derivative of the direction cos 2phi = (x~^2 - y~^2) / R^2 held
    1 / R^4 ~ 1e36, which times the lens's cotangent overflowed. Reverse mode (jax.grad, as the
    pipeline's optimiser uses) must be finite and agree with forward mode."""
    ang = np.linspace(0.0, 2 * np.pi, 8, endpoint=False)
    rad = np.repeat([1.1e-9, 1.5e-9, 3e-9], 8)
    x = jnp.asarray(rad * np.cos(np.tile(ang, 3)), jnp.float32)
    y = jnp.asarray(rad * np.sin(np.tile(ang, 3)), jnp.float32)
    p = _f32({"theta_E": 1.1, "gamma": gamma, "e1": 0.2, "e2": -0.1, "center_x": 0.0, "center_y": 0.0})

    def one(p, x, y):
        ax, ay = MASS_PROFILES["EPL"].deflection(x, y, p)
        return ax + 0.7 * ay

    rev = jax.jit(jax.vmap(jax.grad(one, argnums=(0, 1, 2)), in_axes=(None, 0, 0)))(p, x, y)
    fwd = jax.jit(jax.vmap(jax.jacfwd(one, argnums=(0, 1, 2)), in_axes=(None, 0, 0)))(p, x, y)
    for r, f in zip(jax.tree_util.tree_leaves(rev), jax.tree_util.tree_leaves(fwd)):
        assert np.all(np.isfinite(r)), rev
        np.testing.assert_allclose(r, f, rtol=1e-3, atol=1e-3 * np.max(np.abs(f)))


# float32 at q = 0.01, 8 levels: off by 6.4e-6, 3.3e-4 and 5.7e-4; the one-level tail by 2e-4, 1.1e-2, 2.9e-2
F32_Q_0_01_RTOL = {1.2: 2e-5, 2.0: 1e-3, 2.8: 2e-3}


@pytest.mark.parametrize("gamma", sorted(F32_Q_0_01_RTOL))
def test_epl_float32_is_right_at_q_0_01_and_finite_up_to_the_clip(gamma):
    """float32 deflections at q = 0.01 against lenstronomy at the same (float32-rounded) inputs,
    where the one-level tail was off by up to 2.9e-2; and a finite float32 gradient for |e| up to
    the 0.9999 clip (q ~ 1e-2 to 5e-5), where the tail's continued fraction, carried as numerator
    and denominator, shrinks by up to (2 q)^(levels / 2)."""
    from lenstronomy.LensModel.lens_model import LensModel

    x, y = (np.float32(v).astype(np.float64) for v in _points(0.03, -0.02))
    e1, e2 = _e1e2(0.01, 0.7)
    kw = {k: float(np.float32(v)) for k, v in
          {"theta_E": 1.1, "gamma": gamma, "e1": e1, "e2": e2, "center_x": 0.03, "center_y": -0.02}.items()}
    ax, ay = LensModel(["EPL"]).alpha(x, y, [kw])
    bx, by = _jit("EPL")(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), _f32(kw))
    assert np.max(np.hypot(bx - ax, by - ay) / np.hypot(ax, ay)) < F32_Q_0_01_RTOL[gamma]
    xs, ys = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    for e in [0.99, 0.999, 0.9999]:
        p = _f32({**kw, "e1": e * np.cos(1.4), "e2": e * np.sin(1.4)})
        grad = jax.grad(lambda p: jnp.sum(sum(_jit("EPL")(xs, ys, p))))(p)
        assert all(np.isfinite(v) for v in grad.values()), (e, grad)
