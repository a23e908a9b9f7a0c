"""External shear.

Potential ``psi = (gamma1 (x^2 - y^2) + 2 gamma2 x y) / 2`` about ``(ra_0, dec_0)``; deflection

    alpha_x = gamma1 x + gamma2 y,    alpha_y = gamma2 x - gamma1 y,

with ``x = x - ra_0``, ``y = y - dec_0`` (e.g. Keeton, Kochanek & Seljak 1997, ApJ 482, 604).
Parameters as lenstronomy's ``'SHEAR'``: ``gamma1, gamma2, ra_0 = 0, dec_0 = 0``. In polar form
``psi = gamma_ext r^2 cos 2(phi - phi_ext) / 2`` with ``gamma_ext = |gamma1 + i gamma2|`` and
``phi_ext = arctan2(gamma2, gamma1) / 2``
(:func:`~tinylens.profiles.ellipticity.shear_to_polar`). The paper's eq. 13 has a minus sign
here, which (with its eq. 14) would flip the sign of ``gamma1, gamma2`` for the same lens;
lenstronomy, TinyLensGpu's code and tinylens use the plus sign.
"""

from __future__ import annotations

from typing import Mapping

from jax import Array

PARAMS = ("gamma1", "gamma2", "ra_0", "dec_0")
DEFAULTS = {"ra_0": 0.0, "dec_0": 0.0}


def deflection(x: Array, y: Array, p: Mapping[str, Array]) -> tuple[Array, Array]:
    """Shear deflection ``(alpha_x, alpha_y)`` at ``(x, y)``."""
    dx = x - p.get("ra_0", DEFAULTS["ra_0"])
    dy = y - p.get("dec_0", DEFAULTS["dec_0"])
    g1, g2 = p["gamma1"], p["gamma2"]
    return g1 * dx + g2 * dy, g2 * dx - g1 * dy
