"""Light profiles: unit-amplitude images of one parameter set, elementwise over ``x, y``.

Each profile is a :class:`LightProfile` in :data:`LIGHT_PROFILES`. A profile's image is linear
in its amplitude(s), so it is given as ``k`` basis images (``x.shape + (k,)``) that the
inversion weights (or that a fixed/sampled amplitude multiplies, when ``k == 1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from tinylens.profiles.light import gaussian, mge, sersic


@dataclass(frozen=True)
class LightProfile:
    """A registered light profile.

    ``basis(x, y, p, settings)`` gives the ``k = n_basis(settings)`` unit-amplitude images,
    ``total_flux(p, settings)`` their integrals over the plane (shape ``(k,)``). ``params``
    are the non-linear parameters; ``amplitude`` names the linear one(s).
    """

    name: str
    params: tuple[str, ...]
    amplitude: str
    basis: Callable
    n_basis: Callable
    total_flux: Callable
    defaults: Mapping[str, float] = field(default_factory=dict)
    settings_defaults: Mapping[str, object] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)


SERSIC = LightProfile(
    "Sersic", sersic.PARAMS, "Ie", sersic.basis, sersic.n_basis, sersic.total_flux,
    defaults=sersic.DEFAULTS, aliases={"amp": "Ie"},
)
GAUSSIAN = LightProfile(
    "Gaussian", gaussian.PARAMS, "flux", gaussian.basis, gaussian.n_basis, gaussian.total_flux,
    defaults=gaussian.DEFAULTS, aliases={"amp": "flux"},
)
MGE = LightProfile(
    "MGE", mge.PARAMS, "amps", mge.basis, mge.n_basis, mge.total_flux,
    defaults=mge.DEFAULTS, settings_defaults=mge.SETTINGS_DEFAULTS, aliases={"amp": "amps"},
)

LIGHT_PROFILES: dict[str, LightProfile] = {
    "Sersic": SERSIC,
    "Gaussian": GAUSSIAN,
    "MGE": MGE,
    "SERSIC_ELLIPSE": SERSIC,  # lenstronomy names
    "GAUSSIAN_ELLIPSE": GAUSSIAN,
}

__all__ = ["LIGHT_PROFILES", "LightProfile"]
