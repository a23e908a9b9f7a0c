"""Singular isothermal sphere (SIS).

Convergence ``kappa = theta_E / (2 r)``; deflection

    alpha(x, y) = theta_E (x - x_c, y - y_c) / r,    r = |(x - x_c, y - y_c)|,

(e.g. Schneider, Ehlers & Falco 1992, *Gravitational Lenses*, sec. 8.1.4). A point nearer the
centre than ``R_MIN`` is evaluated at ``R_MIN`` east of it
(:func:`tinylens.profiles.mass.epl.off_centre`): ``|alpha| = theta_E`` however near the centre,
so a ray there stays with its neighbours instead of imaging the source behind the lens
(lenstronomy returns 0 at the exact centre).
Parameters as lenstronomy's ``'SIS'``: ``theta_E, center_x, center_y``.
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
from jax import Array

from tinylens.profiles.mass.epl import R_MIN, off_centre

PARAMS = ("theta_E", "center_x", "center_y")


def deflection(x: Array, y: Array, p: Mapping[str, Array]) -> tuple[Array, Array]:
    """SIS deflection ``(alpha_x, alpha_y)`` at ``(x, y)``."""
    dx, dy = off_centre(x - p["center_x"], y - p["center_y"])
    r = jnp.sqrt(jnp.maximum(dx * dx + dy * dy, R_MIN**2))
    a = p["theta_E"] / r
    return a * dx, a * dy
