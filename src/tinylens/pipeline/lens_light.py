"""Stage 1: fit the lens light alone, masking what looks like the arc.

The source is removed from the model and the lens-light parameters are fitted by L-BFGS-B from
starting points measured on the image (:func:`image_moments`: flux centroid, ellipticity from
the second moments, half-light radius). Pixels where the residual is significantly positive
(:func:`tinylens.pipeline.arc.find_arc`) are then given no weight and the fit is repeated, so
the arc does not pull the lens light outwards; the repeat starts from the previous best and afresh
from the moments of the light outside the arc (for an arc brighter than the lens galaxy).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tinylens.errors import ConfigValueError, priors_and_data
from tinylens.numerics.grid import pixel_coordinates
from tinylens.pipeline.arc import Arc, find_arc
from tinylens.pipeline.optimize import Fit, Objective, best_of
from tinylens.pipeline.params import free_indices, get_param, main_mass, prior_middle, set_param
from tinylens.profiles.ellipticity import qphi_to_e1e2


@dataclass(frozen=True)
class Moments:
    """Light-weighted shape of the central galaxy."""

    center: tuple[float, float]
    e1: float
    e2: float
    r_half: float


def image_moments(data: np.ndarray, noise: np.ndarray, pixel_scale: float, radius: float | None = None,
                  exclude: np.ndarray | None = None, center: tuple[float, float] = (0.0, 0.0),
                  used: np.ndarray | None = None) -> Moments:
    """Centroid, ellipticity and half-light radius of the positive, significant light near
    ``center`` (default the image centre; within ``radius`` arcsec of it, default a third of the
    image), leaving out the pixels in ``exclude`` (e.g. the arc) and those not ``used`` (the
    dataset's mask: a masked star or neighbour would pull the centre and shape towards it).
    Without such light: round, 4 pixels in radius, at ``center``."""
    x, y = pixel_coordinates(data.shape, pixel_scale)
    radius = radius or min(data.shape) * pixel_scale / 3
    keep = (np.hypot(x - center[0], y - center[1]) < radius) & (data > 2 * noise) & np.isfinite(data)
    if exclude is not None:
        keep &= ~np.asarray(exclude, bool)
    if used is not None:
        keep &= np.asarray(used, bool)
    w = np.where(keep, data, 0.0)
    if w.sum() <= 0:
        return Moments((float(center[0]), float(center[1])), 0.0, 0.0, 4 * pixel_scale)
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
    """Stage 1's best fit (its ``log_post``: the log-likelihood of every used pixel, no prior) and
    the arc in its residual."""

    fit: Fit
    arc: Arc
    n_evals: int


def starts(problem, moments: Moments, base: np.ndarray) -> list[np.ndarray]:
    """Starting vectors: the moments with a few sizes and concentrations per component."""
    return [light_start(problem.spec, base, moments, size, n)
            for size, n in ((1.0, None), (0.5, None), (2.0, None), (1.0, 1.0))]


def light_start(spec, base: np.ndarray, moments: Moments, size: float, n: float | None = None) -> np.ndarray:
    """A copy of ``base`` with every lens-light component at the centre and ellipticity of
    ``moments``, its ``R_sersic`` ``size`` times their half-light radius (several components:
    spread about it by factors of 2) and, if given, its ``n_sersic`` ``n``."""
    t = np.array(base, dtype=float)
    for k, comp in enumerate(spec.lens_light):
        spread = 2.0 ** (k - (len(spec.lens_light) - 1) / 2)
        set_param(t, comp, "center_x", moments.center[0], spec)
        set_param(t, comp, "center_y", moments.center[1], spec)
        set_param(t, comp, "e1", moments.e1, spec)
        set_param(t, comp, "e2", moments.e2, spec)
        set_param(t, comp, "R_sersic", moments.r_half * size * spread, spec)
        if n is not None:
            set_param(t, comp, "n_sersic", n, spec)
    return t


def fit_lens_light(problem, base: np.ndarray | None = None, rounds: int = 2, counter=None,
                   threshold: float = 3.0, threads: int = 1) -> LensLightResult | None:
    """Fit the lens light of ``problem`` without the source (None if it has no lens light); the
    starts of each round in ``threads`` threads (:meth:`.Objective.minimize_many`), measured
    (:func:`image_moments`) about the lens centre in ``base`` (default: the priors' middle)."""
    spec = problem.spec
    if not spec.lens_light:
        return None
    base = prior_middle(problem) if base is None else np.asarray(base, dtype=float)
    d = problem.dataset
    light_only = problem.derive(spec=dataclasses.replace(spec, source_light=()))
    free = free_indices(spec.lens_light)
    # about the lens centre under the priors: a cutout with the lens off its middle has a centre
    # prior there, and light within a third of the image of (0, 0) would miss much of the galaxy
    center = lens_center(light_only, base)
    moments = image_moments(d.data, d.noise, d.pixel_scale, center=center, used=d.mask)
    objective = Objective(light_only, counter, threads)
    fits = objective.minimize_many([(t, free) for t in starts(light_only, moments, base)])
    n_evals = sum(f.n_evals for f in fits)
    best = best_of(fits)
    if not best.finite:  # every start scored the optimiser's "non-finite" value
        raise ConfigValueError(not_finite_message(light_only, free, len(fits)))
    arc = _arc(light_only, best.theta, threshold)
    for _ in range(rounds - 1):
        if not arc.found:
            break
        keep = ~arc.mask.ravel()[problem.imaging.used_in_image(problem.dataset.data.shape)]
        weight = problem.imaging.weight * keep
        # from the previous best, and afresh from the shape of the light outside the arc: an arc
        # brighter than the lens galaxy drags the first fit into a ring no local step undoes
        clean = image_moments(d.data, d.noise, d.pixel_scale, exclude=arc.mask, center=center, used=d.mask)
        refits = objective.minimize_many([(t, free) for t in [best.theta, *starts(light_only, clean, base)]], weight)
        n_evals += sum(f.n_evals for f in refits)
        best = best_of(refits)
        arc = _arc(light_only, best.theta, threshold)
    # the first round's fits score log L + log prior, a refit's its weighted pixels: report neither
    best = Fit(best.theta, float(light_only.log_likelihood(best.theta)), best.n_evals, best.message)
    return LensLightResult(best, arc, n_evals)


def not_finite_message(problem, free: list[int], n_starts: int) -> str:
    """Stage 1's error where the posterior of the lens light alone is finite at none of its
    ``n_starts`` starts: it names the stage and the lens light's free parameters (``free``)."""
    names = ", ".join(problem.param_names[i] for i in free) or "none free: its fixed values"
    return (f"pipeline stage 1 (lens light): the posterior of the lens light alone (the source left out) "
            f"is not finite at any of its {n_starts} starts, so the lens light cannot describe these data. "
            f"Check {priors_and_data('the lens light', names)}")


def compact_light(problem, theta_light: np.ndarray, arc: Arc, theta_E: float) -> np.ndarray | None:
    """``theta_light`` with the lens light re-measured inside half the Einstein radius of its
    centre in ``theta_light`` (arc left out): a concentrated, de Vaucouleurs-like start (``n =
    4``). When the arc outshines the lens galaxy, stage 1 can spread the lens light into a disc
    that fills the ring; this start lets stage 3 try the alternative. None without lens light or
    an Einstein-radius estimate."""
    spec = problem.spec
    if not spec.lens_light or not (np.isfinite(theta_E) and theta_E > 0):
        return None
    d = problem.dataset
    inner = image_moments(d.data, d.noise, d.pixel_scale, radius=0.5 * theta_E, exclude=arc.mask,
                          center=lens_center(problem, theta_light), used=d.mask)
    return light_start(spec, theta_light, inner, 2.0, 4.0)


def lens_center(problem, theta: np.ndarray) -> tuple[float, float]:
    """The centre of the first lens-light component, else of the main mass (:func:`.params.main_mass`)."""
    c = next(iter(problem.spec.lens_light), None) or main_mass(problem.spec)
    if c is None:
        return (0.0, 0.0)
    return (get_param(theta, c, "center_x", 0.0), get_param(theta, c, "center_y", 0.0))


def _arc(light_only, theta: np.ndarray, threshold: float) -> Arc:
    d = light_only.dataset
    residual = d.data - light_only.model_image(theta)["lens_light"]
    return find_arc(residual, d.noise, d.pixel_scale, lens_center(light_only, theta), used=d.mask, threshold=threshold)
