"""Elliptical Gaussian of given total flux (lenstronomy's ``GAUSSIAN_ELLIPSE`` with amp = flux).

    I(x, y) = flux / (2 pi sigma^2) exp(-R^2 / (2 sigma^2)),    R^2 = q x'^2 + y'^2 / q,

``(x', y')`` in the major-axis frame. ``R`` preserves areas, so the integral over the plane is
``flux`` for any ellipticity. ``sigma`` is floored at ``SIGMA_MIN`` to stay finite.
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
from jax import Array

from tinylens.profiles.ellipticity import circularize

PARAMS = ("sigma", "e1", "e2", "center_x", "center_y")
DEFAULTS = {"e1": 0.0, "e2": 0.0}
SIGMA_MIN = 1e-6  # arcsec


def gaussian_profile(r2: Array, sigma: Array) -> Array:
    """Unit-flux circular Gaussian of width ``sigma`` at squared radius ``r2``."""
    s2 = jnp.maximum(sigma, SIGMA_MIN) ** 2
    return jnp.exp(-r2 / (2 * s2)) / (2 * jnp.pi * s2)


def elliptical_r2(x: Array, y: Array, p: Mapping[str, Array]) -> Array:
    """``R^2 = q x'^2 + y'^2 / q`` about ``(center_x, center_y)``; round if e1, e2 are absent."""
    ux, uy = circularize(x, y, p.get("e1", 0.0), p.get("e2", 0.0), p["center_x"], p["center_y"])
    return ux * ux + uy * uy


def basis(x: Array, y: Array, p: Mapping[str, Array], settings: Mapping | None = None) -> Array:
    """``x.shape + (1,)``: the unit-flux image."""
    return gaussian_profile(elliptical_r2(x, y, p), p["sigma"])[..., None]


def n_basis(settings: Mapping | None = None) -> int:
    """One amplitude, ``flux``."""
    return 1


def total_flux(p: Mapping[str, Array], settings: Mapping | None = None) -> Array:
    """``(1,)``: unit flux."""
    return jnp.ones((1,), jnp.result_type(p["sigma"], float))
