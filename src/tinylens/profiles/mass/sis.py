"""Singular isothermal sphere (SIS).

Convergence ``kappa = theta_E / (2 r)``; deflection

    alpha(x, y) = theta_E (x - x_c, y - y_c) / r,    r = |(x - x_c, y - y_c)|,

(e.g. Schneider, Ehlers & Falco 1992, *Gravitational Lenses*, sec. 8.1.4). ``r`` is floored at
``R_MIN`` so that the deflection goes linearly to 0 at the centre (lenstronomy returns 0 there).
Parameters as lenstronomy's ``'SIS'``: ``theta_E, center_x, center_y``.
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
from jax import Array

PARAMS = ("theta_E", "center_x", "center_y")
R_MIN = 1e-9  # arcsec


def deflection(x: Array, y: Array, p: Mapping[str, Array]) -> tuple[Array, Array]:
    """SIS deflection ``(alpha_x, alpha_y)`` at ``(x, y)``."""
    dx, dy = x - p["center_x"], y - p["center_y"]
    r = jnp.sqrt(jnp.maximum(dx * dx + dy * dy, R_MIN**2))
    a = p["theta_E"] / r
    return a * dx, a * dy
