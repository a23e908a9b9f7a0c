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
``a_N v^N G``, ``G = 2F1(1, N + t/2; N + 2 - t/2; v)``, with ``G`` from ``TAIL_DEPTH`` levels of
Gauss's continued fraction (:func:`_tail`), whose first level alone is the geometric series the
terms would make at their ratio at ``n = N``.

Truncation error. The terms fall off as ``c^n``, ``c = |v| = (1 - q) / (1 + q)``, slowly for a
flat lens: without the rest the relative error of the deflection is at most ``c^N / q``
(for ``0 < t < 2`` the ``a_n`` decrease from 1, and ``F``, the Beta(t/2, 2 - t) average of
``1 / (1 - v s)``, has ``|F| >= 1 / (1 + c)``), and was 1.9e-4 at q = 0.1 and 1.2e-2 at q = 0.05
(gamma = 2.8), above float32's rounding (~3e-7) from q = 0.15, within the templates' e1, e2
priors. The geometric rest alone left 3.5e-7 at q = 0.1, 8e-5 at q = 0.05, 4.6e-3 at q = 0.02
and 2.9e-2 at q = 0.01. With 8 levels, measured against lenstronomy (float64, gamma 1.2 to 2.8,
the worst, at gamma ~ 2.5): 4e-15 at q = 0.2, 7e-15 at q = 0.15, 5e-12 at q = 0.1, 2.7e-8 at
q = 0.05, 2e-6 at q = 0.03, 2.8e-5 at q = 0.02, 7.8e-4 at q = 0.01 and 8e-3 at q = 0.005
(float32 gives the same at q = 0.01); the gradient in gamma, e1, e2 is off by up to 5e-3 at
q = 0.01. On a CPU it costs ~1.1x what the geometric rest did in the deflection and in an EPL
likelihood, ~1.7x in the deflection's gradient. More levels are more accurate for flatter
lenses at more cost: 24 gave 2.5e-9 at q = 0.02 and 1.1e-6 at q = 0.01, but made the deflection
and the likelihood ~1.45x and the gradient ~2.7x slower than the geometric rest, for lenses
flatter than real ones hardly are.

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
TAIL_DEPTH = 8  # levels of the tail's continued fraction
RESCALE_EVERY = 4  # levels; |P| then shrinks by at most (1 - 0.9999)^2 between rescalings
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


def _horner(vr: Array, vi: Array, c: Array, top: tuple[Array, Array]) -> tuple[Array, Array]:
    """``sum_{n < K} c_n v^n + top v^K`` for real coefficients ``c`` (``K`` of them) and complex
    ``v = vr + i vi`` and ``top = (real, imaginary)``."""
    fr, fi = top
    for n in range(c.shape[0] - 1, -1, -1):
        fr, fi = fr * vr - fi * vi + c[n], fr * vi + fi * vr
    return fr, fi


def _tail_fraction_coefficients(t: Array, n_terms: int, depth: int) -> list[Array]:
    """``k_1 .. k_depth`` of Gauss's continued fraction ``1 / (1 - k_1 v / (1 - k_2 v / ...))``
    for ``2F1(1, B; C; v)``, ``B = N + t/2``, ``C = N + 2 - t/2`` (``N = n_terms``)::

        k_(2m+1) = (C - 1 + m) (B + m) / ((C + 2m - 1) (C + 2m)),    (k_1 = B / C)
        k_(2m)   = (C - B - 1 + m) m / ((C + 2m - 2) (C + 2m - 1)).

    All are >= 0 for ``t <= 2`` (``gamma <= 3``), the fraction's poles then lying on
    ``[1, inf)``; ``t`` is capped at 2 here so that a slope outside the domain cannot put one
    inside ``|v| < 1``, its derivative at ``t = 2`` (``gamma = 3``, the domain's end) kept whole
    (``jnp.minimum`` would halve it at the tie).
    """
    t = jnp.where(t > 2, 2.0, t)
    b, c = n_terms + t / 2, n_terms + 2 - t / 2
    ks = []
    for j in range(1, depth + 1):
        m = j // 2
        if j % 2:
            ks.append((c - 1 + m) * (b + m) / ((c + 2 * m - 1) * (c + 2 * m)))
        else:
            ks.append((c - b - 1 + m) * m / ((c + 2 * m - 2) * (c + 2 * m - 1)))
    return ks


def _rescaled(pr: Array, pi: Array, qr: Array, qi: Array) -> tuple[Array, Array, Array, Array]:
    """``(p, q)`` over ``|Re p| + |Im p|``, a constant to differentiation: ``q / p`` is unchanged,
    value and derivatives."""
    s = jax.lax.stop_gradient(1 / (jnp.abs(pr) + jnp.abs(pi)))
    return pr * s, pi * s, qr * s, qi * s


def _tail(vr: Array, vi: Array, t: Array, n_terms: int, depth: int = TAIL_DEPTH) -> tuple[Array, Array]:
    """``G = 2F1(1, N + t/2; N + 2 - t/2; v)`` (``N = n_terms``) by ``depth`` levels of its
    continued fraction (:func:`_tail_fraction_coefficients`), evaluated from the bottom as
    ``G = P_2 / P_1``, ``P_j = P_(j+1) - k_j v P_(j+2)``, ``P_(depth+1) = P_(depth+2) = 1``:
    one complex division per ray.

    For a flat lens ``|P_j|`` shrinks by up to ``|1 - v| >= 1 - c ~ 2 q`` every two levels, which
    at 24 levels underflowed float32 below ``q ~ 0.01`` (at 8, ~1e-16 at the clip); the pair is
    rescaled every ``RESCALE_EVERY`` levels (:func:`_rescaled`), so a deeper fraction stays finite.
    """
    ks = _tail_fraction_coefficients(t, n_terms, depth)
    pr, pi = jnp.ones_like(vr), jnp.zeros_like(vr)  # P_(j+1)
    qr, qi = pr, pi  # P_(j+2)
    for j, k in enumerate(reversed(ks), 1):
        pr, pi, qr, qi = pr - k * (vr * qr - vi * qi), pi - k * (vr * qi + vi * qr), pr, pi
        if j % RESCALE_EVERY == 0 or j == depth:
            pr, pi, qr, qi = _rescaled(pr, pi, qr, qi)
    inv = 1 / (pr * pr + pi * pi)
    return (qr * pr + qi * pi) * inv, (qi * pr - qr * pi) * inv


@partial(jax.custom_jvp, nondiff_argnums=(3,))
def hyp2f1_series(vr: Array, vi: Array, t: Array, n_terms: int = N_TERMS) -> tuple[Array, Array]:
    """``2F1(1, t/2; 2 - t/2; v)`` for complex ``v = vr + i vi``, ``|v| < 1``: ``n_terms`` terms
    and the rest, ``a_N v^N G``, with ``G`` from its continued fraction (:func:`_tail`).

    Derivatives come from the series of ``dF/dv`` and ``dF/dt`` and the forward-mode derivative
    of ``G`` (a custom JVP), which is much cheaper to compile and run than reverse-mode through
    the Horner loop.
    """
    a = _coefficients(t, jnp.arange(1, n_terms + 1, dtype=vr.dtype))
    gr, gi = _tail(vr, vi, t, n_terms)
    return _horner(vr, vi, jnp.concatenate([jnp.ones(1, vr.dtype), a[:-1]]), (a[-1] * gr, a[-1] * gi))


@hyp2f1_series.defjvp
def _hyp2f1_series_jvp(n_terms, primals, tangents):
    vr, vi, t = primals
    dvr, dvi, dt = tangents
    k = jnp.arange(1, n_terms + 1, dtype=vr.dtype)
    a, da = jax.jvp(lambda t: _coefficients(t, k), (t,), (jnp.ones_like(t),))
    tail = partial(_tail, n_terms=n_terms)
    # G's derivatives as values (forward mode along v, holomorphic, and along t), so that the
    # tangent below is G_v dv + G_t dt and reverse mode keeps no level of the fraction
    (gr, gi), (gvr, gvi) = jax.jvp(tail, primals, (jnp.ones_like(vr), jnp.zeros_like(vi), jnp.zeros_like(t)))
    gtr, gti = jax.jvp(tail, primals, (jnp.zeros_like(vr), jnp.zeros_like(vi), jnp.ones_like(t)))[1]
    fr, fi = _horner(vr, vi, jnp.concatenate([jnp.ones(1, vr.dtype), a[:-1]]), (a[-1] * gr, a[-1] * gi))
    # F = P(v) + a_N v^N G: dF/dv = P'(v) + a_N v^(N-1) (N G + v G_v), dF/dt = P_t(v) + v^N (a_N' G + a_N G_t)
    ur, ui = n_terms * gr + vr * gvr - vi * gvi, n_terms * gi + vr * gvi + vi * gvr  # N G + v G_v
    pvr, pvi = _horner(vr, vi, k[:-1] * a[:-1], (a[-1] * ur, a[-1] * ui))
    top = (da[-1] * gr + a[-1] * gtr, da[-1] * gi + a[-1] * gti)
    hr, hi = _horner(vr, vi, jnp.concatenate([jnp.zeros(1, vr.dtype), da[:-1]]), top)
    hr, hi = hr * dt, hi * dt
    return (fr, fi), (pvr * dvr - pvi * dvi + hr, pvr * dvi + pvi * dvr + hi)


def deflection(x: Array, y: Array, p: Mapping[str, Array]) -> tuple[Array, Array]:
    """EPL deflection ``(alpha_x, alpha_y)`` at ``(x, y)``."""
    t = p["gamma"] - 1
    ux, uy, r, vr, vi, s = ellipse_geometry(x, y, p)
    fr, fi = hyp2f1_series(vr, vi, t)
    pref = s * _scaled_power(p["theta_E"], r, t)
    return pref * (ux * fr - uy * fi), pref * (ux * fi + uy * fr)
