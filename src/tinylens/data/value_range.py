"""Whether a dataset's numbers stay inside float32's range in the likelihood.

The likelihood (paper eq. 5) weighs each pixel by ``1 / sigma^2`` and sums ``(d / sigma)^2``.
In float32 (largest number about 3.4e38) a noise map in the wrong units (1e-30 instead of
0.01) or an image in physical flux units (1e-19 erg/s/cm^2/A, noise 1e-20) makes those
weights overflow, and every likelihood becomes NaN or infinite. Checked in float64 before the
arrays are cast, with a factor of 10^6 to spare for the sums and the model's own scale; weights
too small for float32 are refused only when the median one is (a few pixels of huge noise, a
bad-pixel convention, just get a weight of 0).
"""

from __future__ import annotations

import numpy as np

from tinylens.errors import DataError

#: Spare factor below float32's largest number (and above its smallest normal one).
HEADROOM = 1e6


def float32_range_problem(data: np.ndarray, noise: np.ndarray, used: np.ndarray) -> tuple[str, str] | None:
    """``(key, what)`` when the used pixels' values leave float32's safe range, else None."""
    info = np.finfo(np.float32)
    high, low = float(info.max) / HEADROOM, float(info.tiny) * HEADROOM
    d, s = np.asarray(data, dtype=np.float64)[used], np.asarray(noise, dtype=np.float64)[used]
    if not d.size:
        return None
    weights = (1.0 / s) ** 2  # s**2 would overflow for a bad pixel's noise of 1e300
    if weights.max() > high or typical_weight(weights) < low:
        return "noise_path", (f"noise values from {s.min():.3g} to {s.max():.3g} make the pixel weights "
                              f"1/sigma^2 range from {weights.min():.3g} to {weights.max():.3g}")
    peak = float(np.abs(d).max())
    chi2 = float(np.max((d / s) ** 2)) * d.size
    if peak > high or chi2 > high:
        return "data_path", f"image values up to {peak:.3g}, {np.sqrt(chi2 / d.size):.3g} times the noise"
    return None


def typical_weight(weights: np.ndarray) -> float:
    """The median pixel weight: the low end of float32's range matters only when typical pixels
    reach it. A few pixels of huge noise (1e30, SExtractor's RMS for a bad pixel) get a weight that
    rounds to 0 in float32: they count for nothing, as their noise says, in float64 too."""
    return float(np.median(weights))


def check_float32_range(dataset) -> None:
    """Raise :class:`DataError` naming the file when ``dataset`` cannot be fitted in float32."""
    found = float32_range_problem(dataset.data, dataset.noise, np.asarray(dataset.mask, dtype=bool))
    if found is None:
        return
    key, what = found
    path = getattr(dataset, key, None)
    raise DataError(
        f"dataset.{key}{f' ({path})' if path else ''}: {what}, beyond what float32 (largest 3.4e38) can sum "
        "in the likelihood. Check the units of the image and the noise map (the noise is one standard "
        "deviation per pixel, in the image's units); rescale both by the same factor (e.g. to electrons/s), "
        "or fit in float64 (TINYLENS_PRECISION=float64)."
    )
