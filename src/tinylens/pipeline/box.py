"""Stage 4's prior box: the configured priors truncated to a region around the best fit.

Each parameter keeps its prior but is truncated to ``best +- w``, with ``w`` = ``n_sigma`` times
its Laplace-approximation width (from the Fisher matrix, the Gauss-Newton Hessian of
``-(log L + log prior)``, at the best fit),
held between a floor and a ceiling that depend on what the parameter is (:data:`WIDTHS`). A
posterior well inside the box is then the same as with the full priors; the evidence of the full
priors is that of the box plus ``log`` of the prior mass inside the box (:func:`log_box_mass`).

After sampling, :func:`crowded_edges` finds parameters whose posterior reaches an edge of the box
that is not an edge of the prior; the pipeline widens those and samples again.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tinylens.config.model_spec import OFFSET_SUFFIX
from tinylens.priors import Prior
from tinylens.results.tables import weighted_percentiles

#: (floor, ceiling) of the half-width by parameter name: absolute, or relative to |best| ("rel").
WIDTHS: dict[str, tuple[float, float, str]] = {
    "theta_E": (0.03, 0.3, "rel"),
    "R_sersic": (0.15, 1.0, "rel"),
    "sigma": (0.15, 1.0, "rel"),
    "n_sersic": (0.3, 2.0, "abs"),
    "e1": (0.04, 0.3, "abs"),
    "e2": (0.04, 0.3, "abs"),
    "gamma1": (0.02, 0.1, "abs"),
    "gamma2": (0.02, 0.1, "abs"),
    "gamma": (0.1, 0.5, "abs"),
    "center_x": (0.03, 0.3, "abs"),
    "center_y": (0.03, 0.3, "abs"),
}
#: Other parameters: a fraction of the prior's range.
DEFAULT_WIDTH = (0.02, 0.25)
N_SIGMA = 10.0
#: Components whose parameters get their whole prior range when the data barely constrain them
#: (``n_sigma`` Laplace widths beyond the ceiling). A faint lens galaxy's size and Sersic index
#: have broad, curved posteriors that a clipped box cuts (and widening then costs whole sampler
#: runs); a broad range costs the sampler little when the posterior is broad too. Mass and
#: source parameters keep the ceiling: it keeps the sampler out of wrong modes.
UNCLIPPED_COMPONENTS = ("lens_light.",)


def laplace_sigmas(hessian: np.ndarray) -> np.ndarray:
    """Marginal standard deviations from a Hessian of ``-log posterior`` (negative curvature is
    treated as flat: infinite width)."""
    h = 0.5 * (hessian + hessian.T)
    vals, vecs = np.linalg.eigh(h)
    flat = vals <= 1e-12 * max(np.abs(vals).max(), 1e-300)
    weight = vecs**2
    var = (weight[:, ~flat] / vals[None, ~flat]).sum(axis=1)
    touches_flat = (weight[:, flat] > 1e-12).any(axis=1)
    return np.where(touches_flat, np.inf, np.sqrt(var))


def half_widths(names: tuple[str, ...], priors: tuple[Prior, ...], best: np.ndarray, sigmas: np.ndarray,
                n_sigma: float = N_SIGMA) -> np.ndarray:
    """``n_sigma`` Laplace widths, clipped to each parameter's floor and ceiling; parameters of
    :data:`UNCLIPPED_COMPONENTS` wider than their ceiling get the whole prior range."""
    out = np.empty(len(names))
    for i, (name, prior) in enumerate(zip(names, priors)):
        key = name.rsplit(".", 1)[-1].removesuffix(OFFSET_SUFFIX)  # an offset's width is its parameter's
        lo, hi = prior.bounds()
        if key in WIDTHS:
            floor, ceil, mode = WIDTHS[key]
            if mode == "rel":
                floor, ceil = floor * abs(best[i]), ceil * abs(best[i])
                floor = max(floor, 1e-3 * (hi - lo))
        else:
            floor, ceil = DEFAULT_WIDTH[0] * (hi - lo), DEFAULT_WIDTH[1] * (hi - lo)
        w = n_sigma * sigmas[i] if np.isfinite(sigmas[i]) else np.inf
        if w > ceil and name.startswith(UNCLIPPED_COMPONENTS):
            out[i] = max(best[i] - lo, hi - best[i])  # the whole prior range
            continue
        out[i] = float(np.clip(w, floor, max(ceil, floor)))
    return out


def boxed(priors: tuple[Prior, ...], lower: np.ndarray, upper: np.ndarray) -> tuple[Prior, ...]:
    """The priors truncated to ``[lower, upper]`` (intersected with their own limits)."""
    out = []
    for p, a, b in zip(priors, lower, upper):
        out.append(dataclasses.replace(p, lo=max(p.lo, float(a)), hi=min(p.hi, float(b))))
    return tuple(out)


def box_around(priors: tuple[Prior, ...], best: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``best -+ widths`` inside each prior's support (one prior per entry of ``best``)."""
    support = np.array([p.support for p in priors], dtype=float).reshape(-1, 2)
    if support.shape[0] != np.shape(best)[0]:
        raise ValueError(f"box_around: {support.shape[0]} priors for {np.shape(best)[0]} parameters")
    lower = np.maximum(best - widths, support[:, 0])
    upper = np.minimum(best + widths, support[:, 1])
    return lower, upper


def log_box_mass(priors: tuple[Prior, ...], lower: np.ndarray, upper: np.ndarray) -> float:
    """``log`` of the prior probability of the box (the priors are independent)."""
    total = 0.0
    for p, a, b in zip(priors, lower, upper):
        mass = float(p.cdf(b) - p.cdf(a))
        total += np.log(max(mass, 1e-300))
    return total


def crowded_edges(samples: np.ndarray, weights: np.ndarray, priors: tuple[Prior, ...], lower: np.ndarray,
                  upper: np.ndarray, edge: float = 0.02, threshold: float = 0.01,
                  own_range: bool = False) -> list[tuple[int, str]]:
    """``(index, 'lower' | 'upper')`` of box edges (not prior edges) with more than ``threshold`` of
    the posterior weight within ``edge`` x the box width of them, or x the posterior's own range
    where ``own_range`` (the box is the priors, whose width says nothing of how close the posterior
    comes to stage 3's theta_E floor: ``pipeline.bounded: false``) or the box is unbounded."""
    support = np.array([p.support for p in priors], dtype=float)
    out = []
    w = weights / weights.sum()
    for i in range(samples.shape[1]):
        width = upper[i] - lower[i]
        if own_range or not np.isfinite(width):
            width = float(np.ptp(samples[:, i]))
        if lower[i] > support[i, 0] and w[samples[:, i] < lower[i] + edge * width].sum() > threshold:
            out.append((i, "lower"))
        if upper[i] < support[i, 1] and w[samples[:, i] > upper[i] - edge * width].sum() > threshold:
            out.append((i, "upper"))
    return out


def widen(lower: np.ndarray, upper: np.ndarray, samples: np.ndarray, weights: np.ndarray,
          edges: list[tuple[int, str]], priors: tuple[Prior, ...], factor: float = 3.0,
          others: float = 1.5, n_sigma: float = 2 * N_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """A new box after a run whose posterior crowded ``edges``: centred on that run's posterior
    median, every half-width at least ``others`` times the old one and ``n_sigma`` posterior
    standard deviations, and the crowded parameters' ``factor`` times (within the priors). When
    a single parameter crowds, only its range grows (to include the old one), the rest stays.

    Degenerate parameters move together, so only widening the crowded ones tends to make the
    next run crowd another; moving the centre fixes a best fit that was only roughly optimal.
    """
    w = np.asarray(weights, float) / np.sum(weights)
    centre = np.array([float(weighted_percentiles(samples[:, i], w, 50.0)) for i in range(samples.shape[1])])
    std = np.sqrt(w @ (samples - w @ samples) ** 2)
    half = 0.5 * (upper - lower)
    crowded = sorted({i for i, _ in edges})
    if len(crowded) == 1:  # one parameter (often a nuisance, e.g. a faint lens's size): only it moves
        (i,) = crowded
        lo, hi = box_around(priors[i : i + 1], centre[i : i + 1], np.array([max(factor * half[i], n_sigma * std[i])]))
        lower, upper = lower.copy(), upper.copy()
        lower[i], upper[i] = min(lo[0], lower[i]), max(hi[0], upper[i])
        return lower, upper
    new_half = np.maximum(others * half, n_sigma * std)
    for i in crowded:
        new_half[i] = max(new_half[i], factor * half[i])
    return box_around(priors, centre, new_half)
