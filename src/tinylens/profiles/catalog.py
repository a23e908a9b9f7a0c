"""What a config may say of each profile, without the profile's functions (and so without JAX).

A config's ``model_components`` name profiles, their parameters (or an alias of one), their
amplitude and their settings. :data:`MASS_NAMES` and :data:`LIGHT_NAMES` hold those names for
every profile of :data:`~tinylens.profiles.mass.MASS_PROFILES` and
:data:`~tinylens.profiles.light.LIGHT_PROFILES`, so that
:func:`~tinylens.config.model_spec.check_model_components` can refuse a model's mistake (an unknown
profile or parameter, a prior that allows no value) before JAX is imported, with the message
:func:`~tinylens.config.model_spec.build_model_spec` gives. tests/profiles/test_catalog.py checks
that they agree with the profile modules field by field.

The widths of an MGE (:func:`mge_sigmas`) live here, as they are a matter of its settings alone:
:mod:`tinylens.profiles.light.mge` takes them from this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Callable, Mapping

import numpy as np

from tinylens.errors import ConfigValueError


@dataclass(frozen=True)
class ProfileNames:
    """A profile as a config names it: ``params`` (the non-linear ones, in order), ``defaults`` of
    those a config may leave out, ``aliases`` (another name -> the parameter), and for a light
    profile its ``amplitude``, ``settings_defaults`` and ``n_basis(settings)`` (how many amplitudes;
    a ValueError for settings that give none)."""

    name: str
    params: tuple[str, ...]
    defaults: Mapping[str, float] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    amplitude: str | None = None
    settings_defaults: Mapping[str, object] = field(default_factory=dict)
    n_basis: Callable[..., int] | None = None


MGE_SETTINGS_DEFAULTS = {"n_gauss": 15, "sigma_min": 0.01, "sigma_max": 3.0}
#: More Gaussians than this resolve nothing more (neighbours' widths would differ by under 10 %
#: over 0.01-3"; 10-20 are usual) and make every linear solve slow: 10000 took minutes to validate.
MAX_N_GAUSS = 60


def mge_sigmas(settings: Mapping | None = None) -> np.ndarray:
    """An MGE's fixed, log-spaced widths (static, from the settings); settings that give none are a
    :class:`~tinylens.errors.ConfigValueError` (a ValueError) saying what they must be."""
    s = {**MGE_SETTINGS_DEFAULTS, **(settings or {})}
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


def _one(settings: Any = None) -> int:
    """One amplitude, whatever the settings (a Sérsic, a Gaussian)."""
    return 1


def _mge_n_basis(settings: Mapping | None = None) -> int:
    return len(mge_sigmas(settings))


_ELLIPSE = ("e1", "e2", "center_x", "center_y")
_ROUND = {"e1": 0.0, "e2": 0.0}

MASS_NAMES: dict[str, ProfileNames] = {
    "SIS": ProfileNames("SIS", ("theta_E", "center_x", "center_y")),
    "SIE": ProfileNames("SIE", ("theta_E", *_ELLIPSE)),
    "EPL": ProfileNames("EPL", ("theta_E", "gamma", *_ELLIPSE), aliases={"slope": "gamma"}),
    "SHEAR": ProfileNames("SHEAR", ("gamma1", "gamma2", "ra_0", "dec_0"), defaults={"ra_0": 0.0, "dec_0": 0.0}),
}

_SERSIC = ProfileNames("Sersic", ("R_sersic", "n_sersic", *_ELLIPSE), dict(_ROUND), {"amp": "Ie"}, "Ie", n_basis=_one)
_GAUSSIAN = ProfileNames("Gaussian", ("sigma", *_ELLIPSE), dict(_ROUND), {"amp": "flux"}, "flux", n_basis=_one)
_MGE = ProfileNames("MGE", _ELLIPSE, dict(_ROUND), {"amp": "amps"}, "amps", MGE_SETTINGS_DEFAULTS, _mge_n_basis)

LIGHT_NAMES: dict[str, ProfileNames] = {
    "Sersic": _SERSIC,
    "Gaussian": _GAUSSIAN,
    "MGE": _MGE,
    "SERSIC_ELLIPSE": _SERSIC,  # lenstronomy names
    "GAUSSIAN_ELLIPSE": _GAUSSIAN,
}

__all__ = ["LIGHT_NAMES", "MASS_NAMES", "MAX_N_GAUSS", "MGE_SETTINGS_DEFAULTS", "ProfileNames", "mge_sigmas"]
