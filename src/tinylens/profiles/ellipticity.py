"""Ellipticity conventions (lenstronomy's), and coordinate frames for elliptical profiles.

An ellipse is described by the complex ellipticity ``e = e1 + i e2 = c exp(2 i phi)`` with

    phi = arctan2(e2, e1) / 2,    c = |e| (clipped at ``C_MAX`` < 1),    q = (1 - c) / (1 + c),

``q`` the minor/major axis ratio and ``phi`` the position angle of the major axis,
counter-clockwise from the x-axis. Elliptical profiles use the *product-average* radius

    R^2 = q x'^2 + y'^2 / q,

``(x', y')`` the coordinates in the major-axis frame (:func:`to_frame`). The same radius follows
from the linear map of :func:`circularize` (lenstronomy's ``transform_e1e2_product_average``)::

    (x~, y~) = ((1 - e1) dx - e2 dy, -e2 dx + (1 + e1) dy) / sqrt(1 - c^2),    R = |(x~, y~)|,

which is polynomial in ``(e1, e2)``: it is smooth at ``e1 = e2 = 0``, where ``q`` and ``phi``
are not, so profiles built on it have correct gradients for round shapes too.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

C_MAX = 0.9999  # largest |e| used (q >= 5e-5), as lenstronomy's ellipticity2phi_q


def _safe_norm(a: Array, b: Array) -> tuple[Array, Array]:
    """``(|(a, b)|, nonzero)`` with a finite gradient at ``a = b = 0`` (double-where)."""
    s2 = a * a + b * b
    nz = s2 > 0
    return jnp.where(nz, jnp.sqrt(jnp.where(nz, s2, 1.0)), 0.0), nz


def _safe_angle(a: Array, b: Array, nz: Array) -> Array:
    """``arctan2(b, a) / 2`` with 0 (and a finite gradient) at ``a = b = 0``."""
    return jnp.where(nz, jnp.arctan2(jnp.where(nz, b, 0.0), jnp.where(nz, a, 1.0)), 0.0) / 2


def clip_e1e2(e1: Array, e2: Array) -> tuple[Array, Array]:
    """Shrink ``(e1, e2)`` radially so that ``|e| <= C_MAX``; identity (and smooth) below."""
    c2 = e1 * e1 + e2 * e2
    big = c2 > C_MAX**2
    scale = jnp.where(big, C_MAX / jnp.sqrt(jnp.where(big, c2, 1.0)), 1.0)
    return e1 * scale, e2 * scale


def e1e2_to_qphi(e1: Array, e2: Array) -> tuple[Array, Array]:
    """Axis ratio ``q`` and position angle ``phi`` (radians) of the ellipticity ``(e1, e2)``."""
    c, nz = _safe_norm(e1, e2)
    c = jnp.minimum(c, C_MAX)
    return (1 - c) / (1 + c), _safe_angle(e1, e2, nz)


def qphi_to_e1e2(q: Array, phi: Array) -> tuple[Array, Array]:
    """Inverse of :func:`e1e2_to_qphi`: ``e1 + i e2 = (1 - q) / (1 + q) exp(2 i phi)``."""
    c = (1 - q) / (1 + q)
    return c * jnp.cos(2 * phi), c * jnp.sin(2 * phi)


def shear_to_polar(gamma1: Array, gamma2: Array) -> tuple[Array, Array]:
    """Shear strength and angle: ``gamma = |gamma1 + i gamma2|``, ``phi = arctan2(gamma2, gamma1) / 2``."""
    g, nz = _safe_norm(gamma1, gamma2)
    return g, _safe_angle(gamma1, gamma2, nz)


def to_frame(x: Array, y: Array, center_x: Array, center_y: Array, phi: Array) -> tuple[Array, Array]:
    """Coordinates relative to the centre, rotated so that x' lies along the major axis ``phi``."""
    dx, dy = x - center_x, y - center_y
    cos, sin = jnp.cos(phi), jnp.sin(phi)
    return cos * dx + sin * dy, -sin * dx + cos * dy


def circularize(
    x: Array, y: Array, e1: Array, e2: Array, center_x: Array, center_y: Array
) -> tuple[Array, Array]:
    """Map ``(x, y)`` to ``(x~, y~)`` with ``x~^2 + y~^2 = q x'^2 + y'^2 / q`` (smooth in e1, e2).

    ``|e|`` is clipped at ``C_MAX`` (lenstronomy only floors ``1 - |e|^2`` at 1e-6 here).
    """
    e1, e2 = clip_e1e2(e1, e2)
    dx, dy = x - center_x, y - center_y
    norm = jnp.sqrt(1 - e1 * e1 - e2 * e2)
    return ((1 - e1) * dx - e2 * dy) / norm, (-e2 * dx + (1 + e1) * dy) / norm
