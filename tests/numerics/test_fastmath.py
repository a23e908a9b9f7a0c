"""The vectorisable arctan against numpy's (float64) and its gradient against the analytic one."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from tinylens.numerics.fastmath import arctan


def test_arctan_float32_as_accurate_as_jnp():
    x = np.concatenate([np.linspace(-50, 50, 100001), np.logspace(-8, 8, 500), -np.logspace(-8, 8, 500), [0.0, 1.0, -1.0]])
    x32 = x.astype(np.float32)
    exact = np.arctan(x32.astype(np.float64))
    ours = np.asarray(arctan(jnp.asarray(x32)), np.float64)
    scale = np.maximum(np.abs(exact), 1e-30)
    assert np.max(np.abs(ours - exact) / scale) < 2e-7
    assert ours[-3] == 0.0


def test_arctan_gradient():
    g = jax.vmap(jax.grad(arctan))(jnp.asarray([0.0, 0.3, 1.0, -2.0, 40.0], jnp.float32))
    np.testing.assert_allclose(np.asarray(g), 1 / (1 + np.array([0.0, 0.3, 1.0, -2.0, 40.0]) ** 2), rtol=1e-5)
