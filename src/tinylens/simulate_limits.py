"""The limits :mod:`tinylens.simulate` checks its arguments against, and the checks that need no JAX.

:mod:`tinylens.survey.options` refuses a population's options with them before JAX loads (an option
mistake of ``tinylens simulate-population`` is answered at once); :mod:`tinylens.simulate` imports
them from here, so each limit has one value.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def is_whole(value: Any) -> bool:
    """Whether ``value`` is a whole number (``8``, ``8.0``, ``np.int64(8)``, ``10**400``; not True,
    2.5 or 'abc'): an int is whole as it is (``float()`` would round one above 2**53, or overflow)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    try:
        return float(value) == int(value)
    except (TypeError, ValueError, OverflowError):
        return False


#: Largest side of a supersampled grid, in points: an image of ``rows x columns`` pixels is simulated
#: on ``(rows x nsub) x (columns x nsub)`` points, at most ``MAX_GRID^2``, and a PSF of ``size`` pixels
#: built on ``size x oversample`` points a side, at most ``MAX_GRID``: ~4 GB of memory (measured: 4.1
#: GB for one lens of 800 x 800 pixels at nsub 8, float32), so it fits in a laptop's memory.
MAX_GRID = 6400


#: Linear columns (amplitudes: one a Sersic, one each of an MGE's Gaussians) that :data:`MAX_GRID` is set for:
#: simulate-population's lens bulge, disc and source.
GRID_COLUMNS = 3
#: Memory a supersampled point takes, in bytes (float32, the default precision): a part whatever the model
#: (~50) and a part for each column (~11; ~27 GB for a 60-Gaussian MGE and a Sersic source, 61 columns, at
#: ``MAX_GRID^2`` points). Measured as peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``, a fresh Python
#: process a size; GB = 1e9 bytes) of ``simulate_population(1, folder, size=S, nsub=8, lens_disc_fraction_range=
#: (0.3, 0.5))`` (3 columns): 1.11 GB at S = 200, 2.78 at 600, 4.26 at 800 (``MAX_GRID^2`` points; 0.61 at S = 24,
#: nsub 1), ~82 bytes a point more; and of one ``simulate_images`` at nsub 8: 3 Sersics 1.26 GB at 400 x 400
#: pixels and 2.23 at 600 (~76 bytes a point more), the 61 columns 2.12 GB at 150 and 3.70 at 250 (~618 bytes: ~9.3
#: a column, ~48 the rest). The 80 bytes here before (back-computed from the 4.1 GB) allowed the 61 columns
#: 310 x 310 pixels at nsub 8, a peak of 4.80 GB; 50 allows 271 x 271, 4.12 GB, about the bound's 4.26. A model
#: of more than :data:`GRID_COLUMNS` columns is allowed fewer points.
POINT_BYTES, COLUMN_BYTES = 50, 11


def max_points(columns: int = GRID_COLUMNS) -> int:
    """The most supersampled points a model of ``columns`` linear columns is simulated on: ``MAX_GRID^2``
    up to :data:`GRID_COLUMNS` columns, fewer for more, so that each takes the memory of ``MAX_GRID^2`` at it."""
    budget = MAX_GRID**2 * (POINT_BYTES + COLUMN_BYTES * GRID_COLUMNS)
    return min(MAX_GRID**2, budget // (POINT_BYTES + COLUMN_BYTES * columns))


def grid_fits(shape: tuple[int, int], nsub: int, columns: int = GRID_COLUMNS) -> bool:
    """Whether an image of ``shape`` pixels, ``nsub x nsub`` points each, is within :func:`max_points` of a
    model of ``columns`` linear columns (``MAX_GRID^2`` points up to :data:`GRID_COLUMNS`)."""
    return shape[0] * nsub * shape[1] * nsub <= max_points(columns)


def largest_psf_size(oversample: int) -> int:
    """The largest odd PSF size, in pixels, whose grid (``size x oversample`` points a side) is within :data:`MAX_GRID`."""
    fits = MAX_GRID // oversample
    return fits if fits % 2 else fits - 1


def coordinates_problem(pixel_scale: float, shape: tuple[int, int], dtype: Any) -> str | None:
    """Why the pixels' coordinates (up to ``pixel_scale`` x half the larger side of ``shape`` from
    the centre, bounded here by the whole side) overflow ``dtype``, else None: a pixel_scale of 1e300
    gave an image of NaN (float32) without a word."""
    largest = float(np.finfo(dtype).max)
    if pixel_scale * max(shape) <= largest:
        return None
    return (f"pixel_scale {pixel_scale:g} is too large for an image of {max(shape)} pixels a side: the pixels' coordinates "
            f"(arcsec) would overflow {np.dtype(dtype).name} (pixel_scale x size must be <= {largest:.3g}); pixel_scale is "
            "in arcsec per pixel (CSST: 0.074)")


#: The most electrons in a pixel that a Poisson draw takes (numpy's limit is about 9.2e18).
MAX_ELECTRONS = 1e18
#: The largest sky noise: its square, the noise map's variance, overflows float64 above ~1.3e154.
MAX_SKY_SIGMA = 1e150


def sky_sigma_problem(sky_sigma: float) -> str | None:
    """Why a finite ``sky_sigma`` is too large (over :data:`MAX_SKY_SIGMA`), else None: its square
    was an OverflowError (a traceback), or a noise map of inf."""
    if sky_sigma <= MAX_SKY_SIGMA:
        return None
    return (f"sky_sigma must be <= {MAX_SKY_SIGMA:g} (its square, the noise variance, overflows a float64 above "
            f"~1.3e154), got {sky_sigma:g}")


#: The largest Moffat beta: above it ``2^(1/beta) - 1`` (the width's factor) and ``(1 + (r/alpha)^2)``
#: lose more than ~1e-5 of their precision in float64, and from ~1e16 the factor rounds to 0, which made
#: a flat PSF. A Moffat of so large a beta is a Gaussian (:func:`~tinylens.simulate.gaussian_psf`).
MAX_MOFFAT_BETA = 1e10


def moffat_beta_problem(beta: float) -> str | None:
    """Why a finite ``beta`` > 1 is too large to compute a Moffat PSF with (over :data:`MAX_MOFFAT_BETA`), else None."""
    if beta <= MAX_MOFFAT_BETA:
        return None
    return (f"Moffat beta must be <= {MAX_MOFFAT_BETA:g} (above it the PSF's width cannot be computed in float64: 1e20 "
            f"gave a flat PSF; a Moffat of so large a beta is a Gaussian), got {beta:g}")
