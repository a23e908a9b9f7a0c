"""Should a result be trusted? Flags computed from the posterior, the residuals and the model.

Each flag is a named check with the number it is based on (``metrics``); ``trusted`` is false
when any of :data:`CRITICAL` is raised. The checks:

* ``unconverged``: the sampler said it did not converge;
* ``prior_edge``: a mass parameter's posterior piles up (more than ``EDGE_MASS`` of the weight)
  within ``EDGE_FRACTION`` of an edge of its prior's support (e.g. an Einstein radius of zero:
  the "source" became more lens light);
* ``light_prior_edge``: the same for a light parameter (not critical: on real galaxies a
  component of a two-Sersic model often goes unused, its size at the smallest allowed, and the
  mass is still right; seen on SLACS J0044+0113, within 1 % of Bolton et al.);
* ``box_edge``: the pipeline's sampling box was too small even after widening (or, with
  ``pipeline.bounded: false``, the posterior reaches stage 3's theta_E floor);
* ``multimodal``: a mass parameter's posterior has separated modes (:func:`separated_modes`);
* ``unmodelled_flux``: the residual of the best fit still holds an arc-like structure
  (:func:`tinylens.pipeline.arc.find_arc` on ``data - model``, at least ``UNMODELLED_MIN_PIXELS``
  pixels and ``UNMODELLED_FRACTION`` of the arc);
* ``arc_residuals``: reduced chi^2 on the arc pixels above ``1 + ARC_CHI2_SIGMAS sqrt(2 / N)``
  and ``ARC_CHI2_MAX`` (not critical: real sources are not Sersic profiles);
* ``not_multiply_imaged``: no point of the best-fit source's half-light ellipse (its centre and
  ``HALF_LIGHT_POINTS`` points on the ellipse) has two or more images: the source lies wholly
  outside the caustics, so the "arc" is not lensed light. Testing the centre alone raised false
  alarms on elongated sources whose centre sits just outside a caustic the source straddles
  (SLACS J0216-0813 with MGE lens light: within 1.1 % of Bolton et al.);
* ``peaks_apart``: an image the model leaves out. One of the arc's significant peaks (those of
  :func:`~tinylens.pipeline.arc.find_arc` on ``data - lens light`` that stage 3 takes for images,
  at least ``PEAKS_MIN_SIGNIFICANCE`` in its smoothed significance map) where the model's lensed
  source holds less than ``PEAKS_EXPLAINED_FRACTION`` of the data lands farther than
  ``PEAKS_APART_THETA_E`` Einstein radii from the source's centre under the best-fit mass
  (:func:`peaks_apart`). Under the right mass the images of one source meet on the source plane.
  Raised by SLACS J2303+1422's wrong fit (theta_E 0.89" against Bolton et al.'s 1.62": its two
  brightest peaks, the counter-image, land 2.1-2.2 theta_E from the source with no model flux),
  which the other critical checks passed. Fainter peaks are left out (noise bumps in a bright
  arc's wings map anywhere), and so are those the model makes (an extended source's far parts);
* ``no_arc``: the pipeline found no arc in the lens-subtracted data;
* ``tiny_einstein_radius``: the best-fit Einstein radius is below ``MIN_THETA_E_PIXELS`` pixels,
  i.e. the "source" sits unlensed on the lens centre and models what the lens light missed
  (SLACS J0405-0455 and J0822+2652 with the paper's two-Sersic lens light: 0.02" and 0.05"
  against 0.80" and 1.17" from Bolton et al.).

``metrics["noise_scale"]`` is the robust (MAD) standard deviation of ``(data - model) / noise``
away from the arc: about 1 when the noise map is right; drizzled HST images (correlated noise,
e.g. the SLACS cut-outs) give 0.6-0.8.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tinylens.lens_equation import count_images_of_points
from tinylens.numerics.grid import pixel_coordinates
from tinylens.pipeline.arc import find_arc, significance
from tinylens.pipeline.mass_source import PEAK_R_MIN_PIXELS, image_peaks, to_source_plane
from tinylens.pipeline.params import get_param, main_mass
from tinylens.profiles.ellipticity import clip_e1e2

#: Images of the source are searched within this many Einstein radii of the lens centre.
SEARCH_THETA_E = 3.0

EDGE_FRACTION = 0.01
EDGE_MASS = 0.05
UNMODELLED_MIN_PIXELS = 12
UNMODELLED_FRACTION = 0.1
ARC_CHI2_SIGMAS = 5.0
ARC_CHI2_MAX = 1.5
MIN_THETA_E_PIXELS = 2.0
HALF_LIGHT_POINTS = 8
PEAKS_APART_THETA_E = 1.0
PEAKS_MIN_SIGNIFICANCE = 8.0
PEAKS_EXPLAINED_FRACTION = 0.5
CRITICAL = ("unconverged", "prior_edge", "box_edge", "multimodal", "unmodelled_flux", "not_multiply_imaged",
            "peaks_apart", "tiny_einstein_radius")


def separated_modes(x: np.ndarray, w: np.ndarray, bins: int = 60, floor: float = 0.002, gap: int = 3) -> bool:
    """Whether the weighted samples ``x`` fall into separate groups: between the 0.1% and 99.9%
    quantiles, at least ``gap`` consecutive empty histogram bins between bins holding more than
    ``floor`` of the weight."""
    w = np.asarray(w, float) / np.sum(w)
    order = np.argsort(x)
    cum = np.cumsum(w[order])
    lo, hi = x[order][np.searchsorted(cum, 0.001)], x[order][min(np.searchsorted(cum, 0.999), len(x) - 1)]
    if not hi > lo:
        return False
    hist, _ = np.histogram(x, bins=bins, range=(lo, hi), weights=w)
    full = np.flatnonzero(hist > floor)
    if full.size < 2:
        return False
    empty_run = 0
    for h in hist[full[0] : full[-1] + 1]:
        empty_run = empty_run + 1 if h <= 1e-5 else 0
        if empty_run >= gap:
            return True
    return False


def edge_parameters(samples: np.ndarray, weights: np.ndarray, priors, names) -> list[str]:
    """Parameters whose posterior crowds an edge of its prior's finite support."""
    w = weights / weights.sum()
    out = []
    for i, (p, name) in enumerate(zip(priors, names)):
        lo, hi = p.support
        if not (np.isfinite(lo) and np.isfinite(hi)):
            lo, hi = p.bounds()
            if p.kind == "gaussian":  # a Gaussian's own tails are not edges; only its limits are
                lo = p.lo if np.isfinite(p.lo) else -np.inf
                hi = p.hi if np.isfinite(p.hi) else np.inf
        width = (hi - lo) if np.isfinite(hi - lo) else np.ptp(samples[:, i]) or 1.0
        x = samples[:, i]
        near = (x < lo + EDGE_FRACTION * width) | (x > hi - EDGE_FRACTION * width)
        if w[near].sum() > EDGE_MASS:
            out.append(name)
    return out


def assess(problem, result, arc_mask: np.ndarray | None = None) -> dict[str, Any]:
    """Flags, metrics and ``trusted`` for ``result`` (an :class:`~tinylens.inference.InferenceResult`)
    of ``problem`` (with its original priors)."""
    flags: dict[str, bool] = {}
    metrics: dict[str, Any] = {}
    names = problem.param_names
    samples, weights = np.asarray(result.samples), np.asarray(result.weights)
    best = np.asarray(result.max_likelihood, dtype=float)
    flags["unconverged"] = not bool(result.converged)
    multi_sample = len(samples) > 1
    edges = edge_parameters(samples, weights, problem.priors, names) if multi_sample else []
    metrics["prior_edge_parameters"] = edges
    flags["prior_edge"] = any(n.startswith("lens_mass.") for n in edges)
    flags["light_prior_edge"] = any(not n.startswith("lens_mass.") for n in edges)
    pipeline = (result.info or {}).get("pipeline") or {}
    metrics["box_edge_parameters"] = list(pipeline.get("crowded_edges", []))
    flags["box_edge"] = bool(metrics["box_edge_parameters"])
    mass_names = [n for n in names if n.startswith("lens_mass.")]
    modes = [n for n in mass_names if multi_sample and separated_modes(samples[:, names.index(n)], weights)]
    metrics["multimodal_parameters"] = modes
    flags["multimodal"] = bool(modes)

    d = problem.dataset
    images = problem.model_image(best)
    resid = d.data - images["total"]
    used = d.mask
    chi = np.where(used, resid / d.noise, 0.0)
    metrics["chi2_reduced"] = float((chi[used] ** 2).mean())
    arc = arc_mask if arc_mask is not None else _arc_of(problem, best, images)
    arc = arc & used
    metrics["arc_pixels"] = int(arc.sum())
    metrics["noise_scale"] = _robust_std(chi[used & ~arc])
    if arc.any():
        n = int(arc.sum())
        red = float((chi[arc] ** 2).mean())
        metrics["arc_chi2_reduced"] = red
        flags["arc_residuals"] = red > max(1 + ARC_CHI2_SIGMAS * np.sqrt(2 / n), ARC_CHI2_MAX)
    else:
        metrics["arc_chi2_reduced"] = None
        flags["arc_residuals"] = False
    center = _lens_center(problem, best)
    left = find_arc(resid, d.noise, d.pixel_scale, center, used=used)
    metrics["unmodelled_pixels"] = int(left.n_pixels)
    flags["unmodelled_flux"] = left.n_pixels >= max(UNMODELLED_MIN_PIXELS, UNMODELLED_FRACTION * metrics["arc_pixels"])
    apart = peaks_apart(problem, best, images, center)
    metrics["peaks_apart_theta_E"] = apart
    flags["peaks_apart"] = apart is not None and apart > PEAKS_APART_THETA_E
    flags["no_arc"] = bool(pipeline) and not (pipeline.get("stages", {}).get("arc", {}).get("found", True))
    theta_E = get_param(best, main_mass(problem.spec), "theta_E") if problem.spec.lens_mass else np.nan
    flags["tiny_einstein_radius"] = bool(np.isfinite(theta_E) and theta_E < MIN_THETA_E_PIXELS * d.pixel_scale)
    n_img = source_image_counts(problem, best, center)
    metrics["n_images"] = None if n_img is None else int(n_img[0])  # of the source centre
    metrics["n_images_half_light"] = None if n_img is None else int(n_img.max())  # most, over the ellipse
    flags["not_multiply_imaged"] = n_img is not None and n_img.max() < 2
    flags = {k: bool(v) for k, v in flags.items()}  # numpy's bools (of comparisons) are no JSON, nor ``is True``
    raised = [k for k, v in flags.items() if v]
    critical = critical_flags(problem)
    return {"trusted": not any(flags[k] for k in critical if k in flags), "flags": raised,
            "checks": flags, "metrics": metrics, "critical": list(critical)}


#: Raised when the assessment itself failed: the result is kept but never trusted.
CHECK_FAILED = "quality_check_failed"


def failed_assessment(problem, error: BaseException) -> dict[str, Any]:
    """The assessment of a result whose checks raised ``error``: untrusted, with the reason."""
    return {"trusted": False, "flags": [CHECK_FAILED], "checks": {CHECK_FAILED: True},
            "metrics": {"error": f"{type(error).__name__}: {error}"},
            "critical": [*critical_flags(problem), CHECK_FAILED]}


def raised_critical(assessment: Mapping[str, Any]) -> list[str]:
    """The raised flags of an assessment (``result.json``'s ``quality``) that its ``critical``
    list holds: why the result is untrusted (empty when trusted)."""
    critical = set(assessment.get("critical") or ())
    return [f for f in assessment.get("flags") or () if f in critical]


def critical_flags(problem) -> tuple[str, ...]:
    """The flags that make a result of ``problem`` untrusted: its config's ``quality.critical``,
    else :data:`CRITICAL`."""
    chosen = getattr(getattr(getattr(problem, "config", None), "quality", None), "critical", None)
    return CRITICAL if chosen is None else tuple(chosen)


def _robust_std(x: np.ndarray) -> float | None:
    """1.4826 times the median absolute deviation from the median (None when empty)."""
    if x.size == 0:
        return None
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _lens_center(problem, theta) -> tuple[float, float]:
    comp = main_mass(problem.spec) or next(iter(problem.spec.lens_light), None)
    if comp is None:
        return (0.0, 0.0)
    return (get_param(theta, comp, "center_x", 0.0), get_param(theta, comp, "center_y", 0.0))


def _arc_of(problem, theta, images) -> np.ndarray:
    """Arc pixels of the best fit: where the lensed source is significant."""
    d = problem.dataset
    return (images["lensed_source"] > 3 * d.noise) & d.mask


def source_image_counts(problem, theta, center: tuple[float, float] | None = None) -> np.ndarray | None:
    """Images of the (first) source's centre and of the points on its half-light ellipse
    (:func:`half_light_points`) under the mass at ``theta``, searched within ``SEARCH_THETA_E theta_E`` of
    ``center`` (default: the lens centre); None without a source or theta_E."""
    spec = problem.spec
    center = _lens_center(problem, theta) if center is None else center
    if not spec.source_light or not spec.lens_mass:
        return None
    points = half_light_points(theta, spec.source_light[0])
    theta_E = get_param(theta, main_mass(spec), "theta_E")
    if not (np.all(np.isfinite(points)) and np.isfinite(theta_E) and theta_E > 0):
        return None
    return count_images_of_points(
        spec, np.asarray(theta, float).astype(np.float32) if problem.dtype != np.float64 else theta,
        points, center, SEARCH_THETA_E * theta_E)


def peaks_apart(problem, theta, images: dict[str, np.ndarray] | None = None,
                center: tuple[float, float] | None = None) -> float | None:
    """The largest distance from the (first) source's centre, in Einstein radii, at which the mass
    in ``theta`` puts an arc peak that its model leaves out.

    The arc is found in ``data - lens light`` (``images``: :meth:`~tinylens.problem.Problem.model_image`
    of ``theta``, computed when not given) about ``center`` (default: the mass's centre) and its
    peaks chosen as stage 3 does (:func:`~tinylens.pipeline.mass_source.image_peaks`). A peak
    counts when it is significant (at least :data:`PEAKS_MIN_SIGNIFICANCE` in the arc's
    significance map) and the model's lensed source, smoothed as the data are, holds less than
    :data:`PEAKS_EXPLAINED_FRACTION` of the data there: far parts of an extended source that the
    model does make are no failure. 0 when every such peak is made by the model; None without a
    peak, a source or a positive Einstein radius."""
    spec, d = problem.spec, problem.dataset
    if not spec.source_light or not spec.lens_mass:
        return None
    theta_E = get_param(theta, main_mass(spec), "theta_E")
    if not (np.isfinite(theta_E) and theta_E > 0):
        return None
    images = problem.model_image(theta) if images is None else images
    center = _lens_center(problem, theta) if center is None else center
    residual = d.data - images["lens_light"]
    arc = find_arc(residual, d.noise, d.pixel_scale, center, used=d.mask)
    peaks = image_peaks(arc, center, PEAK_R_MIN_PIXELS * d.pixel_scale)
    if len(peaks) == 0:
        return None
    x, y = pixel_coordinates(d.data.shape, d.pixel_scale)
    at = np.array([np.argmin(np.hypot(x - px, y - py)) for px, py in peaks])
    data_s = arc.significance.ravel()[at]  # find_arc's smoothing: one pixel
    model_s = significance(images["lensed_source"], d.noise, 1.0, d.mask).ravel()[at]
    left_out = (data_s >= PEAKS_MIN_SIGNIFICANCE) & (model_s < PEAKS_EXPLAINED_FRACTION * data_s)
    if not left_out.any():
        return 0.0
    beta = to_source_plane(problem, theta, peaks[left_out])
    source = spec.source_light[0]
    cx, cy = get_param(theta, source, "center_x", 0.0), get_param(theta, source, "center_y", 0.0)
    return float(np.max(np.hypot(beta[:, 0] - cx, beta[:, 1] - cy)) / theta_E)


def half_light_radius(theta, comp) -> float:
    """Elliptical half-light radius ``R`` (``R^2 = q x'^2 + y'^2 / q``) of a light component:
    ``R_sersic`` for a Sersic, ``sigma sqrt(2 ln 2)`` for a Gaussian, 0 when unknown (MGE, whose
    size rests on its linear amplitudes)."""
    name = comp.profile.name
    if name == "Sersic":
        return get_param(theta, comp, "R_sersic", 0.0)
    if name == "Gaussian":
        return get_param(theta, comp, "sigma", 0.0) * np.sqrt(2 * np.log(2))
    return 0.0


def half_light_points(theta, comp, n: int = HALF_LIGHT_POINTS) -> np.ndarray:
    """``(1 + n, 2)``: the centre of light component ``comp`` and ``n`` points on its half-light
    ellipse (only the centre when its size is unknown). The ellipse is the circle of radius ``R``
    in the frame of :func:`~tinylens.profiles.ellipticity.circularize`, mapped back by that
    frame's inverse, ``[[1 + e1, e2], [e2, 1 - e1]] / sqrt(1 - e1^2 - e2^2)``."""
    cx, cy = get_param(theta, comp, "center_x"), get_param(theta, comp, "center_y")
    r = half_light_radius(theta, comp)
    if not r > 0:
        return np.array([[cx, cy]])
    e1, e2 = (float(v) for v in clip_e1e2(get_param(theta, comp, "e1", 0.0), get_param(theta, comp, "e2", 0.0)))
    norm = np.sqrt(1 - e1 * e1 - e2 * e2)
    t = 2 * np.pi * np.arange(n) / n
    u, v = r * np.cos(t), r * np.sin(t)
    ring = np.stack([cx + ((1 + e1) * u + e2 * v) / norm, cy + (e2 * u + (1 - e1) * v) / norm], axis=1)
    return np.vstack([[cx, cy], ring])
