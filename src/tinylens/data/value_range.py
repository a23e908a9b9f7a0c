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

from tinylens.errors import DataError, counted

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


#: Pixels whose value alone breaks float32's range (:func:`float32_range_problem`) are taken for
#: bad-pixel values (1e30, -1e30: a pipeline's mark for no data) when they are under this share of
#: the used pixels; more is an image in other units than its noise map.
BAD_VALUE_SHARE = 0.5

#: ... and when each is over this many times the largest absolute value of the other used pixels:
#: a bright star or lens over a tiny noise map (a noiseless mock's) also passes float32's range,
#: but its pixels are of the image's own scale, and float64 fits them.
BAD_VALUE_FACTOR = 1e6


def bad_data_values(data: np.ndarray, noise: np.ndarray, used: np.ndarray) -> np.ndarray:
    """The ``used`` pixels whose data value alone leaves float32's safe range: over
    ``3.4e38 / HEADROOM`` itself, or ``(d / sigma)^2`` times the number of used pixels over it
    (the bound :func:`float32_range_problem` puts on the chi^2), where they are a few among sane
    ones (:data:`BAD_VALUE_SHARE`) and each stands out from those by :data:`BAD_VALUE_FACTOR`;
    none otherwise."""
    high = float(np.finfo(np.float32).max) / HEADROOM
    d, s = np.asarray(data, dtype=np.float64), np.asarray(noise, dtype=np.float64)
    n = int(used.sum())
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        beyond = used & ((np.abs(d) > high) | ((d / s) ** 2 * n > high))
    if not 0 < beyond.sum() < BAD_VALUE_SHARE * n:
        return np.zeros(used.shape, dtype=bool)
    scale = float(np.abs(d[used & ~beyond]).max())
    with np.errstate(over="ignore"):
        return beyond & (np.abs(d) > BAD_VALUE_FACTOR * scale)


def check_bad_data_values(dataset) -> None:
    """Raise :class:`DataError` naming the image, the pixels and their values when a few used
    pixels hold a bad-pixel value (:func:`bad_data_values`), in either precision: in float32 they
    overflow the likelihood, and in float64 one such pixel outweighs all the others (a -1e30 pixel
    gave a log-likelihood of -3.8e62 at the prior median, and the fit would chase it alone)."""
    used = np.asarray(dataset.mask, dtype=bool)
    bad = bad_data_values(dataset.data, dataset.noise, used)
    n = int(bad.sum())
    if not n:
        return
    data = np.asarray(dataset.data, dtype=np.float64)
    rows, cols = np.nonzero(bad)
    shown = ", ".join(f"{data[r, c]:.3g} at row {r}, column {c}" for r, c in zip(rows[:3], cols[:3]))
    rest = np.abs(data[used & ~bad])
    path = getattr(dataset, "data_path", None)
    raise DataError(
        f"dataset.data_path{f' ({path})' if path else ''}: {counted(n, 'pixel')} {'holds' if n == 1 else 'hold'} a "
        f"value beyond any the likelihood can weigh ({'' if n == 1 else 'e.g. '}{shown}; rows and columns counted "
        f"from 0 in the FITS array), while the other {rest.size} used pixels are within {rest.max():.3g} of 0: a "
        "bad-pixel value (a mark for no data)? Set such pixels to NaN in the image (NaN pixels are left out of the "
        "fit) or leave them out with dataset.mask_path; fitting in float64 would not help, as they would outweigh "
        "every other pixel."
    )


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
