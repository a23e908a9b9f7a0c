"""Elliptical power law (EPL), Tessore & Metcalf (2015, A&A 580, A79; arXiv:1507.01819).

Convergence, in lenstronomy's ``'EPL'`` convention (``theta_E`` on the intermediate axis)::

    kappa = (3 - gamma) / 2 * (theta_E / R)^(gamma - 1),    R^2 = q x'^2 + y'^2 / q.

With ``t = gamma - 1``, ``z = x + i y`` relative to the centre, the complex ellipticity
``eps = e1 + i e2`` (``c = |eps|``) and ``w = z - eps conj(z) = sqrt(1 - c^2) (x~ + i y~)``
(:func:`~tinylens.profiles.ellipticity.circularize`, ``R = |x~ + i y~|``), Tessore & Metcalf's
eq. 22 becomes, after rotating back from the major-axis frame,

    alpha = alpha_x + i alpha_y = sqrt(1 - c^2) (theta_E / R)^t (x~ + i y~) F(v),
    F(v) = 2F1(1, t/2; 2 - t/2; v),    v = -conj(eps) w / conj(w),    |v| = c,

which depends on ``e1, e2`` smoothly (no ``q``, ``phi``), so gradients are right at ``e = 0``;
``|eps|`` is clipped at 0.9999 as in lenstronomy.
``F`` is summed as its power series (T&M's recursion in another guise), ``a_0 = 1``,
``a_n = a_{n-1} (n - 1 + t/2) / (n + 1 - t/2)``, for ``n < N = N_TERMS``. The rest is
``a_N v^N 2F1(1, N + t/2; N + 2 - t/2; v)``, estimated as ``a_N v^N / (1 - r_N v)``,
``r_N = a_{N+1} / a_N``: the geometric series the terms would make at their ratio at ``n = N``
(the first level of that 2F1's continued fraction), one complex division per ray.

Truncation error. The terms fall off as ``c^n``, ``c = |v| = (1 - q) / (1 + q)``, slowly for a
flat lens: without the estimate the relative error of the deflection is at most ``c^N / q``
(for ``0 < t < 2`` the ``a_n`` decrease from 1, and ``F``, the Beta(t/2, 2 - t) average of
``1 / (1 - v s)``, has ``|F| >= 1 / (1 + c)``), and was 1.9e-4 at q = 0.1 and 1.2e-2 at q = 0.05
(gamma = 2.8), above float32's rounding (~3e-7) from q = 0.15, within the templates' e1, e2
priors. With it, measured against lenstronomy (float64, gamma 1.2 to 2.8, the worst): 1.9e-11
at q = 0.2, 2.4e-9 at q = 0.15, 3.5e-7 at q = 0.1, 8.3e-5 at q = 0.05 and 5e-3 at q = 0.02
(raise ``N_TERMS`` for flatter lenses).

A point with ``R < R_MIN`` is evaluated at ``x~ + i y~ = R_MIN`` (:func:`off_centre`; lenstronomy
floors the radius at 1e-9 too, but sets the deflection to 0 at the exact centre). So
the deflection is finite everywhere and a ray that lands exactly on the centre (an odd sub-pixel
grid about a centre fixed on a pixel) gets the deflection its neighbours have, not 0, which would
make it image the source behind the lens: a spurious central image.
"""

from __future__ import annotations

from functools import partial
from typing import Mapping

import jax
import jax.numpy as jnp
from jax import Array

from tinylens.profiles.ellipticity import circularize, clip_e1e2

PARAMS = ("theta_E", "gamma", "e1", "e2", "center_x", "center_y")
ALIASES = {"slope": "gamma"}
N_TERMS = 40
R_MIN = 1e-9  # arcsec
R_FLOOR = 1e-13  # arcsec; a last guard against 0 / 0 (after off_centre R >= R_MIN and the SIE's psi >= sqrt(q) R_MIN)


def off_centre(ux: Array, uy: Array, radius: float = R_MIN) -> tuple[Array, Array]:
    """Coordinates ``(ux, uy)`` about a lens centre, with those nearer than ``radius`` moved to
    ``(radius, 0)``.

    A singular lens's deflection has no value at its centre, only limits (for an isothermal lens
    ``|alpha|`` tends to ``theta_E`` from every direction; steeper lenses diverge, shallower ones
    go to 0). The limit from +x keeps a ray at the exact centre with its neighbours instead of
    at the source behind the lens. Moved points are constants: no gradient flows through them
    (which for a steep lens would overflow float32).
    """
    tiny = ux * ux + uy * uy < radius * radius
    return jnp.where(tiny, radius, ux), jnp.where(tiny, 0.0, uy)


def ellipse_geometry(x: Array, y: Array, p: Mapping[str, Array]):
    """Shared pieces of the elliptical lenses: ``(ux, uy, R, vr, vi, s)``.

    ``(ux, uy)`` are the circularised coordinates, ``R`` their (floored) norm, ``vr + i vi``
    the series argument ``v = -conj(eps) (u / |u|)^2`` and ``s = sqrt(1 - c^2)``.
    """
    e1, e2 = clip_e1e2(p["e1"], p["e2"])
    ux, uy = off_centre(*circularize(x, y, e1, e2, p["center_x"], p["center_y"]))
    r = jnp.sqrt(jnp.maximum(ux * ux + uy * uy, R_FLOOR**2))
    # the direction first: a quotient by r^2 has 1 / r^4 ~ 1e36 in its reverse-mode derivative,
    # which, times a steep lens's cotangent, overflowed float32 just outside R_MIN (NaN gradients)
    nx, ny = ux / r, uy / r
    cos2, sin2 = nx * nx - ny * ny, 2 * nx * ny
    vr = -(e1 * cos2 + e2 * sin2)
    vi = e2 * cos2 - e1 * sin2
    return ux, uy, r, vr, vi, jnp.sqrt(1 - e1 * e1 - e2 * e2)


def _scaled_power(theta_E: Array, r: Array, t: Array) -> Array:
    """``(theta_E / r)^t``, 0 (with finite gradients) for ``theta_E <= 0``."""
    pos = theta_E > 0
    return jnp.where(pos, (jnp.where(pos, theta_E, 1.0) / r) ** t, 0.0)


def _coefficients(t: Array, k: Array) -> Array:
    """``a_1 .. a_N`` of the series, for ``k = 1 .. N``."""
    return jnp.cumprod((k - 1 + t / 2) / (k + 1 - t / 2))


def _tail_ratio(t: Array, n_terms: int) -> Array:
    """``r_N = a_{N+1} / a_N = (N + t/2) / (N + 2 - t/2)`` (``N = n_terms``), at most 1.

    It is below 1 for ``t < 2`` (``gamma < 3``) and 1 at ``t = 2``; capped there, so that a slope
    outside the domain cannot put the tail's pole ``1 / r_N`` inside ``|v| < 1``.
    """
    r = (n_terms + t / 2) / (n_terms + 2 - t / 2)
    return jnp.where(r > 1, 1.0, r)


def _horner(vr: Array, vi: Array, c: Array, top: tuple[Array, Array]) -> tuple[Array, Array]:
    """``sum_{n < K} c_n v^n + top v^K`` for real coefficients ``c`` (``K`` of them) and complex
    ``v = vr + i vi`` and ``top = (real, imaginary)``."""
    fr, fi = top
    for n in range(c.shape[0] - 1, -1, -1):
        fr, fi = fr * vr - fi * vi + c[n], fr * vi + fi * vr
    return fr, fi


def _geometric_tail(vr: Array, vi: Array, r: Array) -> tuple[Array, Array]:
    """``G = 1 / (1 - r v)``."""
    sr, si = 1 - r * vr, -r * vi
    inv = 1 / (sr * sr + si * si)
    return sr * inv, -si * inv


@partial(jax.custom_jvp, nondiff_argnums=(3,))
def hyp2f1_series(vr: Array, vi: Array, t: Array, n_terms: int = N_TERMS) -> tuple[Array, Array]:
    """``2F1(1, t/2; 2 - t/2; v)`` for complex ``v = vr + i vi``, ``|v| < 1``: ``n_terms`` terms
    and the geometric estimate of the rest, ``a_N v^N / (1 - r_N v)`` (:func:`_tail_ratio`).

    Derivatives come from the series of ``dF/dv`` and ``dF/dt`` (a custom JVP), which is much
    cheaper to compile and run than reverse-mode through the Horner loop.
    """
    a = _coefficients(t, jnp.arange(1, n_terms + 1, dtype=vr.dtype))
    gr, gi = _geometric_tail(vr, vi, _tail_ratio(t, n_terms))
    return _horner(vr, vi, jnp.concatenate([jnp.ones(1, vr.dtype), a[:-1]]), (a[-1] * gr, a[-1] * gi))


@hyp2f1_series.defjvp
def _hyp2f1_series_jvp(n_terms, primals, tangents):
    vr, vi, t = primals
    dvr, dvi, dt = tangents
    k = jnp.arange(1, n_terms + 1, dtype=vr.dtype)
    a, da = jax.jvp(lambda t: _coefficients(t, k), (t,), (jnp.ones_like(t),))
    r, dr = jax.jvp(lambda t: _tail_ratio(t, n_terms), (t,), (jnp.ones_like(t),))
    gr, gi = _geometric_tail(vr, vi, r)
    # the tail a_N v^N G: d/dv = a_N v^(N-1) G (N + r v G), d/dt = v^N G (a_N' + a_N r' v G)
    ur, ui = vr * gr - vi * gi, vr * gi + vi * gr  # v G
    ar, ai = gr * (n_terms + r * ur) - gi * r * ui, gr * r * ui + gi * (n_terms + r * ur)  # G (N + r v G)
    br, bi = da[-1] + a[-1] * dr * ur, a[-1] * dr * ui  # a_N' + a_N r' v G
    fr, fi = _horner(vr, vi, jnp.concatenate([jnp.ones(1, vr.dtype), a[:-1]]), (a[-1] * gr, a[-1] * gi))
    # dF/dv (F is holomorphic in v)
    gvr, gvi = _horner(vr, vi, k[:-1] * a[:-1], (a[-1] * ar, a[-1] * ai))
    # dF/dt
    hr, hi = _horner(vr, vi, jnp.concatenate([jnp.zeros(1, vr.dtype), da[:-1]]), (gr * br - gi * bi, gr * bi + gi * br))
    hr, hi = hr * dt, hi * dt
    return (fr, fi), (gvr * dvr - gvi * dvi + hr, gvr * dvi + gvi * dvr + hi)


def deflection(x: Array, y: Array, p: Mapping[str, Array]) -> tuple[Array, Array]:
    """EPL deflection ``(alpha_x, alpha_y)`` at ``(x, y)``."""
    t = p["gamma"] - 1
    ux, uy, r, vr, vi, s = ellipse_geometry(x, y, p)
    fr, fi = hyp2f1_series(vr, vi, t)
    pref = s * _scaled_power(p["theta_E"], r, t)
    return pref * (ux * fr - uy * fi), pref * (ux * fi + uy * fr)
