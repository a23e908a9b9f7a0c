"""Lens mass profiles: deflection angles of one parameter set, elementwise over ``x, y``.

Each profile is a :class:`MassProfile` in :data:`MASS_PROFILES`; parameter names and
conventions are lenstronomy's, so configurations and results are interchangeable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from tinylens.profiles.mass import epl, shear, sie, sis


@dataclass(frozen=True)
class MassProfile:
    """A registered mass profile.

    ``deflection(x, y, p)`` returns ``(alpha_x, alpha_y)`` for ``p`` a mapping of parameter
    name to scalar; ``defaults`` fill parameters a config omits; ``aliases`` map alternative
    parameter names to canonical ones.
    """

    name: str
    params: tuple[str, ...]
    deflection: Callable
    defaults: Mapping[str, float] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)


MASS_PROFILES: dict[str, MassProfile] = {
    "SIS": MassProfile("SIS", sis.PARAMS, sis.deflection),
    "SIE": MassProfile("SIE", sie.PARAMS, sie.deflection),
    "EPL": MassProfile("EPL", epl.PARAMS, epl.deflection, aliases=epl.ALIASES),
    "SHEAR": MassProfile("SHEAR", shear.PARAMS, shear.deflection, defaults=shear.DEFAULTS),
}

__all__ = ["MASS_PROFILES", "MassProfile"]
