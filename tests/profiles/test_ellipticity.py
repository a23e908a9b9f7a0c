"""Ellipticity conventions against lenstronomy's param_util, and smoothness at e1 = e2 = 0."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from tinylens.profiles.ellipticity import (
    C_MAX,
    circularize,
    clip_e1e2,
    e1e2_to_qphi,
    qphi_to_e1e2,
    shear_to_polar,
    to_frame,
)

RNG = np.random.default_rng(1)
E1, E2 = RNG.uniform(-0.7, 0.7, 50), RNG.uniform(-0.7, 0.7, 50)


def test_e1e2_to_qphi_matches_lenstronomy(x64):
    from lenstronomy.Util.param_util import ellipticity2phi_q

    e1 = np.concatenate([E1, [0.0, 0.3, 0.0, 1.2, -0.9]])
    e2 = np.concatenate([E2, [0.0, 0.0, -0.3, 0.5, -0.9]])  # incl. round and |e| > 1 (clipped)
    phi_ref, q_ref = ellipticity2phi_q(e1, e2)
    q, phi = e1e2_to_qphi(jnp.asarray(e1), jnp.asarray(e2))
    np.testing.assert_allclose(q, q_ref, rtol=1e-14)
    np.testing.assert_allclose(phi, phi_ref, atol=1e-14)


def test_qphi_roundtrip_and_lenstronomy(x64):
    from lenstronomy.Util.param_util import phi_q2_ellipticity

    q, phi = RNG.uniform(0.1, 1.0, 30), RNG.uniform(-np.pi / 2, np.pi / 2, 30)
    e1, e2 = qphi_to_e1e2(jnp.asarray(q), jnp.asarray(phi))
    np.testing.assert_allclose(np.stack([e1, e2]), np.stack(phi_q2_ellipticity(phi, q)), atol=1e-14)
    q2, phi2 = e1e2_to_qphi(e1, e2)
    np.testing.assert_allclose(q2, q, rtol=1e-12)
    np.testing.assert_allclose(phi2, phi, atol=1e-12)


def test_shear_to_polar_matches_lenstronomy(x64):
    from lenstronomy.Util.param_util import shear_cartesian2polar

    g1, g2 = np.append(E1 / 5, 0.0), np.append(E2 / 5, 0.0)
    phi_ref, g_ref = shear_cartesian2polar(g1, g2)
    g, phi = shear_to_polar(jnp.asarray(g1), jnp.asarray(g2))
    np.testing.assert_allclose(g, g_ref, rtol=1e-14)
    np.testing.assert_allclose(phi, phi_ref, atol=1e-14)


def test_to_frame_matches_lenstronomy_rotation(x64):
    from lenstronomy.Util.util import rotate

    x, y = RNG.normal(size=20), RNG.normal(size=20)
    xr, yr = to_frame(jnp.asarray(x), jnp.asarray(y), 0.1, -0.2, 0.7)
    np.testing.assert_allclose(np.stack([xr, yr]), np.stack(rotate(x - 0.1, y + 0.2, 0.7)), atol=1e-14)


def test_circularize_gives_product_average_radius(x64):
    from lenstronomy.Util.param_util import transform_e1e2_product_average

    x, y = RNG.normal(size=40), RNG.normal(size=40)
    for e1, e2 in zip(E1[:10], E2[:10]):
        q, phi = e1e2_to_qphi(e1, e2)
        xp, yp = to_frame(jnp.asarray(x), jnp.asarray(y), 0.2, 0.1, phi)
        ux, uy = circularize(jnp.asarray(x), jnp.asarray(y), e1, e2, 0.2, 0.1)
        np.testing.assert_allclose(ux**2 + uy**2, q * xp**2 + yp**2 / q, rtol=1e-12)
        ref = transform_e1e2_product_average(x, y, e1, e2, 0.2, 0.1)
        np.testing.assert_allclose(np.stack([ux, uy]), np.stack(ref), rtol=1e-12)


def test_clip():
    e1, e2 = clip_e1e2(jnp.float32(3.0), jnp.float32(4.0))
    np.testing.assert_allclose([e1, e2], [0.6 * C_MAX, 0.8 * C_MAX], rtol=1e-6)
    np.testing.assert_allclose(clip_e1e2(jnp.float32(0.3), jnp.float32(-0.2)), [0.3, -0.2])


def test_gradients_finite_at_zero_float32():
    zero = jnp.float32(0.0)
    fns = (
        lambda a, b: sum(e1e2_to_qphi(a, b)),
        lambda a, b: sum(shear_to_polar(a, b)),
        lambda a, b: sum(clip_e1e2(a, b)),
        lambda a, b: circularize(jnp.float32(0.3), jnp.float32(0.1), a, b, zero, zero)[0],
    )
    grads = jax.jit(lambda a, b: [jax.grad(f, argnums=(0, 1))(a, b) for f in fns])(zero, zero)
    for g in grads:
        assert all(np.isfinite(v) and v.dtype == jnp.float32 for v in g)
    # circularize is polynomial in e1, e2: its gradient at e = 0 is the true one, (-x, -y)
    np.testing.assert_allclose(grads[-1], [-0.3, -0.1], rtol=1e-6)
