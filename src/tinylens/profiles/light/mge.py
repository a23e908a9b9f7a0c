"""Multi-Gaussian expansion (MGE): concentric elliptical Gaussians with fixed widths.

    I(x, y) = sum_k amps_k / (2 pi sigma_k^2) exp(-R^2 / (2 sigma_k^2)),    R^2 = q x'^2 + y'^2 / q,

(Emsellem, Monnet & Bacon 1994, A&A 285, 723; Cappellari 2002, MNRAS 333, 400). All components
share ``e1, e2, center_x, center_y``; the ``n_gauss`` widths are log-spaced from ``sigma_min`` to
``sigma_max`` (settings, arcsec; defaults 15 widths from 0.01 to 3.0 arcsec, enough for a
galaxy a few arcsec across sampled at ~0.05-0.1 arcsec pixels). Each basis column has unit
flux, and the amplitudes ``amps`` (one per Gaussian) are always solved linearly.
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
from jax import Array

from tinylens.profiles.catalog import MAX_N_GAUSS, MGE_SETTINGS_DEFAULTS, mge_sigmas  # noqa: F401 (MAX_N_GAUSS: also read from here)
from tinylens.profiles.light.gaussian import elliptical_r2, gaussian_profile

PARAMS = ("e1", "e2", "center_x", "center_y")
DEFAULTS = {"e1": 0.0, "e2": 0.0}
SETTINGS_DEFAULTS = MGE_SETTINGS_DEFAULTS
#: the widths' settings are read in tinylens.profiles.catalog, which a config's check uses before JAX loads
sigmas = mge_sigmas


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
