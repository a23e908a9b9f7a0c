"""Find the lensed arc in a lens-subtracted image: a mask, an Einstein-radius guess, image peaks.

The residual ``data - lens light`` is smoothed with a Gaussian of ``smooth_pix`` pixels and
divided by the smoothed noise, giving a significance map ``S``. Arc pixels are those with
``S > threshold`` in connected regions of at least ``min_pixels`` pixels (12: pure noise gives
such a region in under 2% of 100 x 100 images) whose mean distance from
the lens centre exceeds ``r_min`` (so leftovers of an imperfect lens-light fit at the centre are
not taken for arcs). The arc mask is that set dilated by ``grow_pix`` pixels.

For a lens whose images lie near the Einstein ring, the flux-weighted median distance of the
arc pixels from the lens centre estimates ``theta_E`` (images of a source at offset ``b`` lie at
about ``theta_E +- b``, so the median is close to ``theta_E`` even for doubles).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from tinylens.numerics.grid import pixel_coordinates

#: The fewest connected pixels above the threshold that make an arc (:func:`find_arc`'s ``min_pixels``).
MIN_ARC_PIXELS = 12

@dataclass(frozen=True)
class Arc:
    """What :func:`find_arc` saw."""

    mask: np.ndarray  # bool image: the arc pixels (dilated)
    significance: np.ndarray  # smoothed residual / smoothed noise
    theta_E: float  # flux-weighted median radius of the arc pixels (arcsec); nan if no arc
    peaks: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (k, 2) x, y of local maxima (arcsec)
    n_pixels: int = 0

    @property
    def found(self) -> bool:
        return self.n_pixels > 0

    def summary(self) -> dict:
        """JSON-friendly description."""
        return {"found": self.found, "n_pixels": int(self.n_pixels), "theta_E_guess": _float(self.theta_E),
                "peaks": [[round(float(a), 4), round(float(b), 4)] for a, b in self.peaks]}


def _float(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def significance(residual: np.ndarray, noise: np.ndarray, smooth_pix: float,
                 used: np.ndarray | None = None) -> np.ndarray:
    """Gaussian-smoothed residual over the noise of that smoothed residual, per pixel; the pixels
    not ``used`` (the mask's), like those of no valid noise, give neither residual nor noise."""
    valid = np.isfinite(noise) & (noise > 0)
    noise = np.where(valid if used is None else valid & np.asarray(used, bool), noise, np.inf)
    var = noise**2
    res = np.where(np.isfinite(var), residual, 0.0)
    smooth = ndimage.gaussian_filter(res, smooth_pix, mode="constant")
    # variance of a smoothed map: the squared kernel applied to the variance map
    k2_var = ndimage.gaussian_filter(np.where(np.isfinite(var), var, 0.0), smooth_pix / np.sqrt(2), mode="constant")
    k2_var *= 1.0 / (4 * np.pi * smooth_pix**2)
    return np.where(k2_var > 0, smooth / np.sqrt(np.maximum(k2_var, 1e-300)), 0.0)


def find_arc(
    residual: np.ndarray,
    noise: np.ndarray,
    pixel_scale: float,
    center: tuple[float, float] = (0.0, 0.0),
    used: np.ndarray | None = None,
    threshold: float = 3.0,
    smooth_pix: float = 1.0,
    min_pixels: int = MIN_ARC_PIXELS,
    r_min: float | None = None,
    grow_pix: int = 2,
) -> Arc:
    """Locate the arc in ``residual`` (data minus the lens light); see the module docstring."""
    shape = residual.shape
    used = np.ones(shape, bool) if used is None else np.asarray(used, bool)
    sig = significance(residual, noise, smooth_pix, used)
    x, y = pixel_coordinates(shape, pixel_scale)
    r = np.hypot(x - center[0], y - center[1])
    r_min = 2.5 * pixel_scale if r_min is None else r_min
    hot = (sig > threshold) & used
    labels, n = ndimage.label(hot)
    keep = np.zeros(shape, bool)
    for i in range(1, n + 1):
        region = labels == i
        if region.sum() >= min_pixels and r[region].mean() > r_min:
            keep |= region
    if not keep.any():
        return Arc(np.zeros(shape, bool), sig, float("nan"))
    weights = np.clip(residual[keep], 0.0, None)
    if weights.sum() <= 0:
        weights = np.ones(keep.sum())
    theta_E = weighted_median(r[keep], weights)
    peaks = _peaks(sig, keep, x, y)
    mask = ndimage.binary_dilation(keep, iterations=grow_pix) & used
    return Arc(mask, sig, float(theta_E), peaks, int(keep.sum()))


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The value below which half of the total weight lies."""
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


def _peaks(sig: np.ndarray, keep: np.ndarray, x: np.ndarray, y: np.ndarray, size: int = 5, max_peaks: int = 6) -> np.ndarray:
    """Positions (arcsec) of the brightest local maxima of ``sig`` inside ``keep``."""
    local = (sig == ndimage.maximum_filter(sig, size=size)) & keep
    idx = np.flatnonzero(local.ravel())
    idx = idx[np.argsort(sig.ravel()[idx])[::-1][:max_peaks]]
    return np.stack([x.ravel()[idx], y.ravel()[idx]], axis=1) if idx.size else np.zeros((0, 2))
