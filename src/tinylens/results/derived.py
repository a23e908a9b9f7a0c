"""Derived quantities per posterior sample: shapes, shear, fluxes, magnitudes, magnification.

For every sample ``theta`` (all vectorised over samples):

* ``<label>.q`` and ``<label>.phi_deg`` of each elliptical component (mass and light), from
  ``(e1, e2)`` in lenstronomy's convention: ``q = (1 - |e|) / (1 + |e|)``,
  ``phi = arctan2(e2, e1) / 2`` counter-clockwise from the x-axis, in degrees in (-90, 90];
* ``<label>.gamma_ext`` and ``<label>.phi_ext_deg`` of an external shear;
* ``<label>.<name>`` of each parameter sampled ``relative_to`` another (the free vector holds
  its offset, ``<label>.<name>_offset``; this is the parameter's value);
* ``<label>.flux`` (and ``<label>.mag`` when ``dataset.zeropoint`` is set) of each light
  component, and ``source.flux``, ``source.mag``, ``source.magnification`` for the whole source.

**Flux convention.** Model images are in data units per pixel: a pixel holds the profile's
surface brightness averaged over the pixel, i.e. a profile of amplitude ``I`` has surface
brightness ``I`` data-units *per pixel area*. The total (unlensed) flux in data units is
therefore ``amplitude x total_flux / pixel_scale^2``, with ``total_flux`` the profile's
integral in arcsec^2 for unit amplitude, and equals the sum of the pixels of the noiseless,
unlensed, PSF-free image. Magnitudes are ``zeropoint - 2.5 log10(flux)``, so the zeropoint must
refer to the data's units (e.g. electrons per second). ``source.magnification`` is the lensed
source flux inside the image divided by the unlensed flux.

Shapes and ``relative_to`` values are cheap and are summarised over every weighted sample, as
the free parameters are. Fluxes need the linear solve for each sample; :func:`derived_samples`
runs it for a thinned set of :data:`MAX_DERIVED_SAMPLES` equal-weight draws as one jitted
``lax.map`` in batches (their 99.7 % interval is then the 0.135 and 99.865 percentiles of those
draws, uncertain by about one draw at each end).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from tinylens import likelihood as lk
from tinylens.forward import amplitude_value, column_owner, component_values, pixel_columns
from tinylens.profiles.ellipticity import e1e2_to_qphi, shear_to_polar
from tinylens.results.report import unwrap_angle

#: Most samples for which amplitudes, fluxes and magnifications are computed.
MAX_DERIVED_SAMPLES = 1000


def _values(comp, samples: np.ndarray, name: str) -> np.ndarray:
    """A component parameter for each sample (free, fixed or linked)."""
    value = np.asarray(comp.params[name].read(np.asarray(samples)), dtype=float)
    return np.broadcast_to(value, (len(samples),)).copy()


def relative_quantities(problem, samples: np.ndarray) -> dict[str, np.ndarray]:
    """The value of each parameter sampled ``relative_to`` another (base plus offset)."""
    return {f"{comp.label}.{name}": _values(comp, samples, name)
            for comp in problem.spec.lens_mass + problem.spec.light
            for name, ref in comp.params.items() if ref.kind == "offset"}


def shape_quantities(problem, samples: np.ndarray, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Axis ratio and position angle of elliptical components, shear strength and angle (the
    angles unwrapped about the ``weights``' circular mean)."""
    out: dict[str, np.ndarray] = {}
    for comp in problem.spec.lens_mass + problem.spec.light:
        if {"e1", "e2"} <= set(comp.params):
            q, phi = e1e2_to_qphi(_values(comp, samples, "e1"), _values(comp, samples, "e2"))
            out[f"{comp.label}.q"] = np.asarray(q, dtype=float)
            out[f"{comp.label}.phi_deg"] = unwrap_angle(np.degrees(np.asarray(phi, dtype=float)), weights)
        if {"gamma1", "gamma2"} <= set(comp.params):
            g, phi = shear_to_polar(_values(comp, samples, "gamma1"), _values(comp, samples, "gamma2"))
            out[f"{comp.label}.gamma_ext"] = np.asarray(g, dtype=float)
            out[f"{comp.label}.phi_ext_deg"] = unwrap_angle(np.degrees(np.asarray(phi, dtype=float)), weights)
    return out


def _flux_function(problem):
    """``(theta, imaging, full) -> (flux of each light component, lensed source flux)`` for one
    sample (JAX); ``full`` is the imaging with every pixel evaluated (``problem._full``)."""
    spec, solver = problem.spec, problem.solver
    owners = np.array(column_owner(spec))
    area = problem.dataset.pixel_scale**2
    sources = {c.label for c in spec.source_light}
    is_src = np.array([o in sources for o in owners], dtype=bool)

    def fluxes(theta, imaging, full):
        amps = lk.solve(spec, imaging, theta, solver).amplitudes
        per_comp = []
        for comp in spec.light:
            unit = jnp.atleast_1d(comp.profile.total_flux(component_values(comp, theta), comp.settings))
            a = amps[np.flatnonzero(owners == comp.label)] if comp.linear else amplitude_value(comp, theta)
            per_comp.append(jnp.sum(a * unit) / area)
        # Pixel sums before the PSF (which conserves flux): the lensed light inside the image.
        cols = pixel_columns(spec, theta, full.grid).sum(axis=(0, 1))
        k = len(owners)
        lensed = cols[:k][is_src] @ amps[is_src] + cols[k + 1]
        return jnp.stack(per_comp), lensed

    return fluxes


def flux_quantities(problem, samples: np.ndarray) -> dict[str, np.ndarray]:
    """Fluxes (data units), magnitudes and the source magnification of each sample."""
    spec = problem.spec
    if not spec.light:
        return {}
    thetas = jnp.asarray(samples, problem.dtype)
    n_points = problem._full.grid.n_points
    batch = int(max(1, min(len(samples), 2**22 // max(n_points, 1))))
    one = _flux_function(problem)
    run = jax.jit(lambda t, im, full: jax.lax.map(lambda th: one(th, im, full), t, batch_size=batch))
    comp_flux, lensed = (np.asarray(v, dtype=float) for v in run(thetas, problem.imaging, problem._full))
    out: dict[str, np.ndarray] = {}
    for i, comp in enumerate(spec.light):
        out[f"{comp.label}.flux"] = comp_flux[:, i]
    if spec.lens_light:
        out["lens_light.flux"] = np.sum([out[f"{c.label}.flux"] for c in spec.lens_light], axis=0)
    if spec.source_light:
        src = np.sum([out[f"{c.label}.flux"] for c in spec.source_light], axis=0)
        out["source.flux"] = src
        with np.errstate(divide="ignore", invalid="ignore"):
            out["source.magnification"] = np.where(src > 0, lensed / src, np.nan)
    zp = problem.dataset.zeropoint
    if zp is not None:
        for name in [k for k in out if k.endswith(".flux")]:
            out[name.removesuffix(".flux") + ".mag"] = magnitude(out[name], zp)
    return out


def magnitude(flux: np.ndarray, zeropoint: float) -> np.ndarray:
    """``zeropoint - 2.5 log10(flux)``; NaN for a non-positive flux."""
    flux = np.asarray(flux, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, zeropoint - 2.5 * np.log10(flux), np.nan)


def magnitude_summaries(stats: Mapping[str, Mapping[str, Any]], zeropoint: float) -> dict[str, dict[str, Any]]:
    """The statistics of each ``<name>.mag`` from those of its ``<name>.flux`` in ``stats``.

    A magnitude falls as its flux grows, so its median and interval ends are the magnitudes of the
    flux's median and ends (ends swapped). A draw without flux (a component the non-negative
    amplitudes switched off) has no magnitude but still counts: it is fainter than any other, so
    where the flux's median or lower end is 0 the magnitude's median or upper end is NaN
    (unbounded), rather than a median and interval of the draws with flux alone.
    """
    def mag(flux: float) -> float:
        return float(magnitude(flux, zeropoint))

    out = {}
    for name, s in stats.items():
        if name.endswith(".flux"):
            (lo68, hi68), (lo997, hi997) = s["interval_68"], s["interval_997"]
            out[name.removesuffix(".flux") + ".mag"] = {
                "median": mag(s["median"]), "interval_68": [mag(hi68), mag(lo68)], "interval_997": [mag(hi997), mag(lo997)]}
    return out


def thin(weights: np.ndarray, n: int = MAX_DERIVED_SAMPLES, seed: int = 0) -> np.ndarray:
    """Indices of up to ``n`` equal-weight draws (with replacement) from weighted samples."""
    weights = np.asarray(weights, dtype=float)
    if len(weights) == 1:
        return np.zeros(1, dtype=int)
    rng = np.random.default_rng(seed)
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def derived_samples(problem, samples: np.ndarray, weights: Sequence[float] | None = None) -> pd.DataFrame:
    """Derived quantities for equal-weight draws from ``samples``: one row per draw.

    With ``weights``, up to :data:`MAX_DERIVED_SAMPLES` draws are taken first; without, every
    row of ``samples`` is used.
    """
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    if weights is not None:
        samples = samples[thin(np.asarray(weights))]
    cols = {**relative_quantities(problem, samples), **shape_quantities(problem, samples),
            **flux_quantities(problem, samples)}
    return pd.DataFrame(cols)


def derived_summaries(problem, samples: np.ndarray, weights: Sequence[float] | None = None) -> dict[str, dict]:
    """:func:`tinylens.results.tables.statistics` of every derived quantity, by name.

    Shapes and ``relative_to`` values come from all ``samples`` with their ``weights`` (so their
    99.7 % intervals are as good as the free parameters'); fluxes, magnitudes and the
    magnification from up to :data:`MAX_DERIVED_SAMPLES` equal-weight draws, the magnitudes'
    from their fluxes' (:func:`magnitude_summaries`).
    """
    from tinylens.results.tables import summarize

    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    w = None if weights is None else np.asarray(weights, dtype=float)
    cheap = {**relative_quantities(problem, samples), **shape_quantities(problem, samples, w)}
    drawn = samples if w is None else samples[thin(w)]
    # each draw's magnitude (NaN without flux) is for the samples table; the summaries take the fluxes'
    fluxes = summarize({k: v for k, v in flux_quantities(problem, drawn).items() if not k.endswith(".mag")})
    if problem.dataset.zeropoint is not None:
        fluxes.update(magnitude_summaries(fluxes, problem.dataset.zeropoint))
    return {**summarize(cheap, w), **fluxes}
