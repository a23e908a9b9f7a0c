"""Multi-Gaussian expansion (MGE): concentric elliptical Gaussians with fixed widths.

    I(x, y) = sum_k amps_k / (2 pi sigma_k^2) exp(-R^2 / (2 sigma_k^2)),    R^2 = q x'^2 + y'^2 / q,

(Emsellem, Monnet & Bacon 1994, A&A 285, 723; Cappellari 2002, MNRAS 333, 400). All components
share ``e1, e2, center_x, center_y``; the ``n_gauss`` widths are log-spaced from ``sigma_min`` to
``sigma_max`` (settings, arcsec; defaults 15 widths from 0.01 to 3.0 arcsec, enough for a
galaxy a few arcsec across sampled at ~0.05-0.1 arcsec pixels). Each basis column has unit
flux, and the amplitudes ``amps`` (one per Gaussian) are always solved linearly.
"""

from __future__ import annotations

from numbers import Real
from typing import Mapping

import jax.numpy as jnp
import numpy as np
from jax import Array

from tinylens.errors import ConfigValueError
from tinylens.profiles.light.gaussian import elliptical_r2, gaussian_profile

PARAMS = ("e1", "e2", "center_x", "center_y")
DEFAULTS = {"e1": 0.0, "e2": 0.0}
SETTINGS_DEFAULTS = {"n_gauss": 15, "sigma_min": 0.01, "sigma_max": 3.0}
#: More Gaussians than this resolve nothing more (neighbours' widths would differ by under 10 %
#: over 0.01-3"; 10-20 are usual) and make every linear solve slow: 10000 took minutes to validate.
MAX_N_GAUSS = 60


def sigmas(settings: Mapping | None = None) -> np.ndarray:
    """The fixed, log-spaced widths (static, from the settings); settings that give none are a
    :class:`~tinylens.errors.ConfigValueError` (a ValueError) saying what they must be."""
    s = {**SETTINGS_DEFAULTS, **(settings or {})}
    n, lo, hi = s["n_gauss"], s["sigma_min"], s["sigma_max"]
    numeric = all(isinstance(v, Real) and not isinstance(v, bool) for v in (n, lo, hi))
    if not numeric or not 1 <= n <= MAX_N_GAUSS or n != int(n) or not 0 < lo <= hi < np.inf:
        from tinylens.config.schema import show  # here: the profiles stay importable without pydantic

        raise ConfigValueError(
            f"MGE needs an integer n_gauss from 1 to {MAX_N_GAUSS} and widths 0 < sigma_min <= sigma_max (arcsec), "
            f"got n_gauss={show(n)}, sigma_min={show(lo)}, sigma_max={show(hi)}"
        )
    n, lo, hi = int(n), float(lo), float(hi)
    return np.geomspace(lo, hi, n)


def basis(x: Array, y: Array, p: Mapping[str, Array], settings: Mapping | None = None) -> Array:
    """``x.shape + (n_gauss,)``: unit-flux Gaussians, narrowest first."""
    r2 = elliptical_r2(x, y, p)
    sig = jnp.asarray(sigmas(settings), r2.dtype)
    return gaussian_profile(r2[..., None], sig)


def n_basis(settings: Mapping | None = None) -> int:
    """``n_gauss`` amplitudes."""
    return len(sigmas(settings))


def total_flux(p: Mapping[str, Array], settings: Mapping | None = None) -> Array:
    """``(n_gauss,)``: unit fluxes."""
    return jnp.ones((n_basis(settings),), jnp.result_type(p["center_x"], float))
