"""Stage 1: fit the lens light alone, masking what looks like the arc.

The source is removed from the model and the lens-light parameters are fitted by L-BFGS-B from
starting points measured on the image (:func:`image_moments`: flux centroid, ellipticity from
the second moments, half-light radius). Pixels where the residual is significantly positive
(:func:`tinylens.pipeline.arc.find_arc`) are then given no weight and the fit is repeated, so
the arc does not pull the lens light outwards.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tinylens.numerics.grid import pixel_coordinates
from tinylens.pipeline.arc import Arc, find_arc
from tinylens.pipeline.optimize import Fit, Objective, best_of
from tinylens.pipeline.params import free_indices, get_param, prior_middle, set_param
from tinylens.profiles.ellipticity import qphi_to_e1e2


@dataclass(frozen=True)
class Moments:
    """Light-weighted shape of the central galaxy."""

    center: tuple[float, float]
    e1: float
    e2: float
    r_half: float


def image_moments(data: np.ndarray, noise: np.ndarray, pixel_scale: float, radius: float | None = None) -> Moments:
    """Centroid, ellipticity and half-light radius of the positive, significant light near the
    image centre (within ``radius`` arcsec; default a third of the image)."""
    x, y = pixel_coordinates(data.shape, pixel_scale)
    radius = radius or min(data.shape) * pixel_scale / 3
    w = np.where((np.hypot(x, y) < radius) & (data > 2 * noise) & np.isfinite(data), data, 0.0)
    if w.sum() <= 0:
        return Moments((0.0, 0.0), 0.0, 0.0, 4 * pixel_scale)
    xc, yc = (w * x).sum() / w.sum(), (w * y).sum() / w.sum()
    dx, dy = x - xc, y - yc
    qxx, qyy, qxy = ((w * dx * dx).sum(), (w * dy * dy).sum(), (w * dx * dy).sum())
    qxx, qyy, qxy = qxx / w.sum(), qyy / w.sum(), qxy / w.sum()
    root = np.sqrt((qxx - qyy) ** 2 + 4 * qxy**2)
    q = float(np.sqrt(max(qxx + qyy - root, 1e-12) / max(qxx + qyy + root, 1e-12)))
    phi = 0.5 * np.arctan2(2 * qxy, qxx - qyy)
    e1, e2 = (float(v) for v in qphi_to_e1e2(np.float64(q), np.float64(phi)))
    r = np.hypot(dx, dy).ravel()
    order = np.argsort(r)
    cum = np.cumsum(w.ravel()[order])
    r_half = float(r[order][np.searchsorted(cum, 0.5 * cum[-1])])
    return Moments((float(xc), float(yc)), e1, e2, max(r_half, pixel_scale))


@dataclass
class LensLightResult:
    fit: Fit
    arc: Arc
    n_evals: int


def starts(problem, moments: Moments, base: np.ndarray) -> list[np.ndarray]:
    """Starting vectors: the moments with a few sizes and concentrations per component."""
    spec = problem.spec
    out = []
    for size, n in ((1.0, None), (0.5, None), (2.0, None), (1.0, 1.0)):
        t = np.array(base, dtype=float)
        for k, comp in enumerate(spec.lens_light):
            set_param(t, comp, "center_x", moments.center[0], spec)
            set_param(t, comp, "center_y", moments.center[1], spec)
            set_param(t, comp, "e1", moments.e1, spec)
            set_param(t, comp, "e2", moments.e2, spec)
            # several components: spread their sizes around the measured half-light radius
            spread = 2.0 ** (k - (len(spec.lens_light) - 1) / 2)
            set_param(t, comp, "R_sersic", moments.r_half * size * spread, spec)
            if n is not None:
                set_param(t, comp, "n_sersic", n, spec)
        out.append(t)
    return out


def fit_lens_light(problem, base: np.ndarray | None = None, rounds: int = 2, counter=None,
                   threshold: float = 3.0) -> LensLightResult | None:
    """Fit the lens light of ``problem`` without the source (None if it has no lens light)."""
    spec = problem.spec
    if not spec.lens_light:
        return None
    base = prior_middle(problem) if base is None else np.asarray(base, dtype=float)
    d = problem.dataset
    light_only = problem.derive(spec=dataclasses.replace(spec, source_light=()))
    free = free_indices(spec.lens_light)
    moments = image_moments(d.data, d.noise, d.pixel_scale)
    objective = Objective(light_only, counter)
    fits = [objective.minimize(t, free) for t in starts(light_only, moments, base)]
    n_evals = sum(f.n_evals for f in fits)
    best = best_of(fits)
    arc = _arc(light_only, best.theta, threshold)
    for _ in range(rounds - 1):
        if not arc.found:
            break
        keep = ~arc.mask.ravel()[problem.imaging.used_in_image(problem.dataset.data.shape)]
        refit = objective.minimize(best.theta, free, weight=problem.imaging.weight * keep)
        n_evals += refit.n_evals
        best = Fit(refit.theta, float(light_only.log_likelihood(refit.theta)), refit.n_evals, refit.message)
        arc = _arc(light_only, best.theta, threshold)
    return LensLightResult(best, arc, n_evals)


def lens_center(problem, theta: np.ndarray) -> tuple[float, float]:
    """The centre of the first lens-light (else lens-mass) component."""
    comps = problem.spec.lens_light or problem.spec.lens_mass
    if not comps:
        return (0.0, 0.0)
    c = comps[0]
    return (get_param(theta, c, "center_x", 0.0), get_param(theta, c, "center_y", 0.0))


def _arc(light_only, theta: np.ndarray, threshold: float) -> Arc:
    d = light_only.dataset
    residual = d.data - light_only.model_image(theta)["lens_light"]
    return find_arc(residual, d.noise, d.pixel_scale, lens_center(light_only, theta), used=d.mask, threshold=threshold)
