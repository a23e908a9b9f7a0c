"""Elliptical Sersic profile (Sersic 1963; the paper's eqs. 8-9).

    I(R) = Ie exp(-b_n [(R / R_sersic)^(1/n) - 1]),    R^2 = q x'^2 + y'^2 / q,

with ``(x', y')`` in the major-axis frame (lenstronomy's ``SERSIC_ELLIPSE`` radius, computed by
:func:`~tinylens.profiles.ellipticity.circularize`; TinyLensGpu's code uses it too). This is not
the paper's eq. 10 radius ``sqrt(x'^2 + y'^2 / q^2) = R / sqrt(q)``: the ellipse ``R = R_sersic``
has semi-axes ``R_sersic / sqrt(q)`` and ``R_sersic sqrt(q)``, so ``R_sersic`` is the
intermediate-axis (geometric-mean) radius, ``sqrt(q)`` times the major-axis one of eq. 10.
``R_sersic`` is the half-light radius of ``R``:
``b_n`` solves ``Gamma(2n) = 2 gamma(2n, b_n)``, i.e. ``P(2n, b_n) = 1/2`` (``P`` the regularised
lower incomplete gamma function). The total flux is (e.g. Graham & Driver 2005, PASA 22, 118)

    L = 2 pi n R_sersic^2 Ie e^(b_n) Gamma(2n) / b_n^(2n)

with no ``q`` factor, as ``R`` preserves areas.

``b_n`` here is exact (:func:`sersic_bn`: the asymptotic series of Ciotti & Bertin 1999,
A&A 352, 447, or for n < 0.36 the fit of MacArthur, Courteau & Holtzman 2003, ApJ 582, 689,
refined by Newton steps on ``P``). lenstronomy uses ``b_n = 1.9992 n - 0.3271``, which differs
from the exact value by -0.0206 (-3.0%) at n = 0.5, -0.0062 (-0.37%) at n = 1 and +0.00045
(+5.9e-5) at n = 4. So for equal ``(Ie, R_sersic, n)`` lenstronomy's central intensity is
2.0% and 0.62% lower (n = 0.5, 1) and 0.045% higher (n = 4) than ours, and its true half-light
radius, ``R_sersic (b_exact / b_approx)^n``, is 1.52% and 0.37% larger and 0.023% smaller than
its ``R_sersic``. lenstronomy's profile is exactly ours with ``R_sersic (b_exact / b_approx)^n``
and ``Ie exp(b_approx - b_exact)``.

As lenstronomy, ``R`` and ``R_sersic`` are floored at ``SMOOTHING`` so the centre is finite.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax
from jax.scipy.special import gammainc, gammaln

from tinylens.profiles.ellipticity import circularize
from tinylens.profiles.sersic_floors import N_MIN, SMOOTHING

PARAMS = ("R_sersic", "n_sersic", "e1", "e2", "center_x", "center_y")
DEFAULTS = {"e1": 0.0, "e2": 0.0}
NEWTON_STEPS = 4
# float32 incomplete gamma functions are good to ~5e-6 only; where the asymptotic series alone
# is better than that (relative error < 5e-7 for n >= 2.5) float32 uses it without Newton steps.
N_ASYMPTOTIC_F32 = 2.5
# log (R / R_sersic)^(1/n) is capped here: beyond it the profile is exp(-b_n e^80) = 0 even for the
# smallest b_n (5.9e-4 at N_MIN), and the uncapped power overflowed float32 (n <~ 0.1, compact
# profiles), whose inf * 0 made the gradient NaN where the value was a plain 0.
LOG_POWER_MAX = 80.0


def _bn_start(n: Array) -> Array:
    """Starting value: small-b limit (n < 0.1), MacArthur et al. (n < 0.36), Ciotti & Bertin."""
    a = 2 * n
    tiny = jnp.exp((jnp.log(0.5) + gammaln(a + 1)) / a)
    m = jnp.minimum(n, 0.36)
    mac = 0.01945 + m * (-0.8902 + m * (10.95 + m * (-19.67 + m * 13.43)))
    return jnp.where(n < 0.1, tiny, jnp.where(n < 0.36, mac, _bn_asymptotic(n)))


def _bn_asymptotic(n: Array) -> Array:
    """Ciotti & Bertin (1999) eq. 18, to 1/n^4 (relative error 1.3e-6 at n = 2, 7e-8 at n = 4)."""
    k = 1 / jnp.maximum(n, 0.36)
    series = 4 / 405 + k * (46 / 25515 + k * (131 / 1148175 - k * (2194697 / 30690717750)))
    return 2 / k - 1 / 3 + k * series


@jax.custom_jvp
def sersic_bn(n_sersic: Array) -> Array:
    """Exact Sersic ``b_n`` with ``P(2n, b_n) = 1/2``; differentiable in ``n``.

    Relative error < 1e-13 in float64; in float32 (measured on a CPU) < 3e-6 for 0.5 <= n <= 15,
    < 4e-6 for 0.2 <= n < 0.5 and < 1e-5 for 0.1 <= n < 0.2. The derivative is implicit: ``db/dn = -2 (dP/da) / (dP/db)``.
    """
    n = jnp.maximum(n_sersic, N_MIN)
    a = 2 * n

    def newton(_, b):  # P is concave past its mode a - 1 < b_n: monotone convergence
        return b - (gammainc(a, b) - 0.5) * jnp.exp(b + (1 - a) * jnp.log(b) + gammaln(a))

    b = lax.fori_loop(0, NEWTON_STEPS, newton, _bn_start(n))  # a loop: gammainc compiles once
    if b.dtype == jnp.float32:
        b = jnp.where(n >= N_ASYMPTOTIC_F32, _bn_asymptotic(n), b)
    return b


@sersic_bn.defjvp
def _sersic_bn_jvp(primals, tangents):
    (n_sersic,), (dn,) = primals, tangents
    b = sersic_bn(n_sersic)
    a = 2 * jnp.maximum(n_sersic, N_MIN)
    dp_db = jnp.exp((a - 1) * jnp.log(b) - b - gammaln(a))
    db_dn = jnp.where(n_sersic > N_MIN, -2 * lax.igamma_grad_a(a, b) / dp_db, 0.0)
    if b.dtype == jnp.float32:  # there the primal is the asymptotic series: use its derivative
        n = jnp.maximum(n_sersic, N_ASYMPTOTIC_F32)
        d_asym = jax.jvp(_bn_asymptotic, (n,), (jnp.ones_like(n),))[1]
        db_dn = jnp.where(n_sersic >= N_ASYMPTOTIC_F32, d_asym, db_dn)
    return b, db_dn * dn


def sersic_profile(R: Array, R_sersic: Array, n_sersic: Array, b_n: Array) -> Array:
    """Unit-amplitude Sersic ``exp(-b_n [(R / R_sersic)^(1/n) - 1])`` at radius ``R``."""
    r = jnp.maximum(R, SMOOTHING) / jnp.maximum(R_sersic, SMOOTHING)
    n = jnp.maximum(n_sersic, N_MIN)
    return jnp.exp(-b_n * (jnp.exp(jnp.minimum(jnp.log(r) / n, LOG_POWER_MAX)) - 1))


def intensity(x: Array, y: Array, p: Mapping[str, Array]) -> Array:
    """Unit-``Ie`` elliptical Sersic at ``(x, y)``."""
    ux, uy = circularize(
        x, y, p.get("e1", 0.0), p.get("e2", 0.0), p["center_x"], p["center_y"]
    )
    r = jnp.sqrt(jnp.maximum(ux * ux + uy * uy, SMOOTHING**2))  # floored before the sqrt: finite grad
    return sersic_profile(r, p["R_sersic"], p["n_sersic"], sersic_bn(p["n_sersic"]))


def basis(x: Array, y: Array, p: Mapping[str, Array], settings: Mapping | None = None) -> Array:
    """``x.shape + (1,)``: the unit-``Ie`` image."""
    return intensity(x, y, p)[..., None]


def n_basis(settings: Mapping | None = None) -> int:
    """One amplitude, ``Ie``."""
    return 1


def total_flux(p: Mapping[str, Array], settings: Mapping | None = None) -> Array:
    """``(1,)``: total flux of the unit-``Ie`` profile, i.e. the integral of :func:`intensity`.

    That is ``L`` of the module docstring but for the centre, where the profile is flat inside
    ``R = SMOOTHING``: the cusp's share of ``L`` there, ``P(2n, x_s)`` with
    ``x_s = b_n (SMOOTHING / R_sersic)^(1/n)``, is replaced by the plateau's ``pi SMOOTHING^2 I(SMOOTHING)``.
    (It matters for compact, steep profiles: ``L`` alone is 0.09% too high at n = 4 and 0.9% at
    n = 8 for R_sersic = 0.01", 10% at n = 8 for 0.001".)
    """
    n = jnp.maximum(p["n_sersic"], N_MIN)
    b = sersic_bn(n)
    r = jnp.maximum(p["R_sersic"], SMOOTHING)
    log_l = jnp.log(2 * jnp.pi * n) + 2 * jnp.log(r) + b + gammaln(2 * n) - 2 * n * jnp.log(b)
    log_xs = jnp.log(b) + (jnp.log(SMOOTHING) - jnp.log(r)) / n
    x_s = jnp.exp(log_xs)
    # P(2n, x_s) for x_s < 1e-6 by its series' first term (relative error < x_s), in logs: x_s
    # underflows for small n (n = 0.05, R_sersic = 1": log x_s = -180), and P's derivative
    # (x^(2n-1)) at 0 is infinite; gammainc is then evaluated at a harmless x = 1.
    series = log_xs < np.log(1e-6)
    p_cusp = jnp.where(series, jnp.exp(2 * n * log_xs - x_s - gammaln(2 * n + 1)),
                       gammainc(2 * n, jnp.where(series, 1.0, x_s)))
    plateau = jnp.pi * SMOOTHING**2 * jnp.exp(b - x_s)
    return (jnp.exp(log_l) * (1 - p_cusp) + plateau)[None]
