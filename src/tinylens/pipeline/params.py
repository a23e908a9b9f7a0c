"""Finding and setting free parameters by component and name (helpers for the pipeline stages)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinylens.config.model_spec import Component, ModelSpec


def free_index(comp: Component, name: str) -> int | None:
    """Index of ``comp``'s parameter ``name`` in the free vector (following links), or None
    (also for a parameter ``relative_to`` another, which is no one entry of the vector)."""
    ref = comp.params.get(name)
    return ref.index if ref is not None and ref.kind == "free" else None


def free_indices(comps: Iterable[Component]) -> list[int]:
    """Sorted free indices that any parameter of ``comps`` reads (an offset and its base both)."""
    out = {i for c in comps for ref in c.params.values() for i in ref.indices}
    out |= {i for c in comps if c.amplitude is not None for i in c.amplitude.indices}
    return sorted(out)


def light_only_indices(spec: ModelSpec) -> list[int]:
    """Sorted free indices read by the lens light and by no mass or source component (a lens
    light centre linked to the mass centre is not among them)."""
    return sorted(set(free_indices(spec.lens_light)) - set(free_indices(spec.lens_mass + spec.source_light)))


def main_mass(spec: ModelSpec) -> Component | None:
    """The lens's main deflector: the first mass component with an Einstein radius (a ``SHEAR``
    may be listed before it), else the first mass component; None without one."""
    return next((c for c in spec.lens_mass if "theta_E" in c.params), spec.lens_mass[0] if spec.lens_mass else None)


def set_param(theta: np.ndarray, comp: Component, name: str, value: float, spec: ModelSpec) -> None:
    """Set ``comp.name`` to ``value`` if it is free (clipped into its prior's support); for a
    parameter ``relative_to`` another, its offset is set (the other parameter stays)."""
    ref = comp.params.get(name)
    if ref is None or ref.kind not in ("free", "offset"):
        return
    i = ref.index
    if ref.kind == "offset":
        value = value - float(ref.base.read(theta))
    lo, hi = spec.priors[i].bounds()
    theta[i] = float(np.clip(value, lo + 1e-6 * (hi - lo), hi - 1e-6 * (hi - lo)))


def get_param(theta: np.ndarray, comp: Component, name: str, default: float = np.nan) -> float:
    """Value of ``comp.name``: the free entry of ``theta`` (base plus offset for a parameter
    ``relative_to`` another), the constant, or ``default`` (absent or solved linearly)."""
    ref = comp.params.get(name)
    if ref is None or ref.kind == "linear":
        return default
    return float(ref.read(np.asarray(theta, dtype=float)))


def prior_middle(problem) -> np.ndarray:
    """The prior median of every free parameter."""
    return np.asarray(problem.prior_transform(np.full(problem.ndim, 0.5)), dtype=float)
