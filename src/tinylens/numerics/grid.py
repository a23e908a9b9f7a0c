"""Pixel grids, supersampling and binning.

Coordinates are in arcsec with the origin at the image centre: ``x`` grows with the column
index and ``y`` with the row index of the array as read from FITS (row 0 is the bottom row).
A pixel's centre is at ``x = (col - (nx - 1) / 2) * pixel_scale``.

Supersampling evaluates the model at ``nsub × nsub`` sub-pixel centres in each pixel and
averages them (the paper's section 2.1). The ray-traced points are stored per *group* of
pixels that share a supersampling factor (:class:`PixelGroup`), so the same code serves
uniform supersampling, masked images (only the pixels that matter are evaluated) and adaptive
supersampling (a high factor only where the light changes fast). The likelihood uses their flat
form, :class:`PointGrid`: all points in one list, binned by a weighted sum per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


def pixel_coordinates(shape: tuple[int, int], pixel_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(x, y)`` of every pixel centre, each of ``shape``."""
    ny, nx = shape
    x1 = (np.arange(nx) - (nx - 1) / 2.0) * pixel_scale
    y1 = (np.arange(ny) - (ny - 1) / 2.0) * pixel_scale
    return np.meshgrid(x1, y1)


def subpixel_offsets(nsub: int, pixel_scale: float) -> np.ndarray:
    """Offsets of the ``nsub`` sub-pixel centres from the pixel centre along one axis."""
    return ((np.arange(nsub) + 0.5) / nsub - 0.5) * pixel_scale


class PixelGroup(NamedTuple):
    """Pixels evaluated with one supersampling factor.

    ``index`` holds flat indices into the image (row-major); ``x``/``y`` have shape
    ``(len(index), nsub**2)``: the sub-pixel centres of each pixel.
    """

    index: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @property
    def nsub(self) -> int:
        return int(round(np.sqrt(self.x.shape[1])))


def pixel_group(
    shape: tuple[int, int], pixel_scale: float, nsub: int, select: np.ndarray | None = None
) -> PixelGroup:
    """Sub-pixel centres of the pixels where ``select`` is true (all pixels by default)."""
    xc, yc = pixel_coordinates(shape, pixel_scale)
    if select is None:
        select = np.ones(shape, dtype=bool)
    index = np.flatnonzero(select.ravel())
    off = subpixel_offsets(nsub, pixel_scale)
    dx, dy = np.meshgrid(off, off)
    x = xc.ravel()[index, None] + dx.ravel()[None, :]
    y = yc.ravel()[index, None] + dy.ravel()[None, :]
    return PixelGroup(index=index, x=x, y=y)


def uniform_groups(
    shape: tuple[int, int], pixel_scale: float, nsub: int, select: np.ndarray | None = None
) -> tuple[PixelGroup, ...]:
    """One group: every selected pixel supersampled ``nsub × nsub`` times."""
    return (pixel_group(shape, pixel_scale, nsub, select),)


def adaptive_groups(
    shape: tuple[int, int],
    pixel_scale: float,
    nsub_low: int,
    nsub_high: int,
    high: np.ndarray,
    select: np.ndarray | None = None,
) -> tuple[PixelGroup, ...]:
    """Two groups: pixels where ``high`` is true at ``nsub_high``, the rest at ``nsub_low``."""
    if select is None:
        select = np.ones(shape, dtype=bool)
    groups = []
    hi = select & high
    lo = select & ~high
    if hi.any():
        groups.append(pixel_group(shape, pixel_scale, nsub_high, hi))
    if lo.any():
        groups.append(pixel_group(shape, pixel_scale, nsub_low, lo))
    return tuple(groups)


def scatter_to_image(
    shape: tuple[int, int], groups: tuple[PixelGroup, ...], values: tuple[jnp.ndarray, ...]
) -> jnp.ndarray:
    """Place per-pixel values (each ``(len(index), ...)``) into a zero image ``shape + (...)``.

    Pixels that no group covers stay zero.
    """
    trailing = values[0].shape[1:]
    flat = jnp.zeros((shape[0] * shape[1],) + trailing, dtype=jnp.asarray(values[0]).dtype)
    for g, v in zip(groups, values):
        flat = flat.at[g.index].set(v)
    return flat.reshape(shape + trailing)


# -- the flat form used by the likelihood -------------------------------------------------------
#: Point counts are padded up to a multiple of 16 at least (16 float32 = one AVX-512 vector): XLA's
#: CPU code vectorises an elementwise loop only when its length is a multiple of the SIMD width and
#: runs up to five times slower otherwise (measured on the SIE deflection, 28591 vs 28592 points).
MIN_PAD = 16
#: Padded sizes per factor of two: coarse steps let lenses of similar size share one compiled
#: likelihood (JAX's persistent cache keys on shapes), at the cost of at most 1/4 more points.
STEPS_PER_OCTAVE = 4


def bucket(n: int, steps_per_octave: int = STEPS_PER_OCTAVE, min_pad: int = MIN_PAD) -> int:
    """``n`` rounded up to a multiple of ``2^floor(log2 n) / steps_per_octave`` (and of ``min_pad``)."""
    if n <= min_pad:
        return min_pad
    step = max(min_pad, 1 << max(int(np.floor(np.log2(n))) - int(np.log2(steps_per_octave)), 0))
    return int(-(-n // step) * step)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PointGrid:
    """Every ray-traced point of an image, flat: its position, the pixel whose average it enters
    and its weight there (``1 / nsub^2``), sorted by pixel. Padding points come last, with pixel
    ``ny * nx`` and weight 0.

    Uniform and adaptive supersampling, masked or not, are all one such list; binning is a
    weighted sum per pixel (:func:`bin_points`). A pytree: the arrays are leaves, ``shape`` is static.
    """

    x: jnp.ndarray
    y: jnp.ndarray
    pixel: jnp.ndarray
    weight: jnp.ndarray
    shape: tuple[int, int] = field(metadata=dict(static=True))

    @property
    def n_points(self) -> int:
        return int(self.x.shape[0])


def point_grid(groups: tuple[PixelGroup, ...], shape: tuple[int, int], dtype=jnp.float32, pad: bool = True,
               crop: tuple[int, int, int, int] | None = None) -> PointGrid:
    """The :class:`PointGrid` of ``groups`` (pixel indices of an image of ``shape``), padded to
    :func:`bucket` points (if ``pad``). With ``crop = (row0, row1, col0, col1)`` the grid's image is
    that cut-out of the image (every group pixel must lie inside it)."""
    x = np.concatenate([g.x.ravel() for g in groups]) if groups else np.zeros(0)
    y = np.concatenate([g.y.ravel() for g in groups]) if groups else np.zeros(0)
    pixel = np.concatenate([np.repeat(g.index, g.x.shape[1]) for g in groups]) if groups else np.zeros(0, int)
    if crop is not None:
        r0, r1, c0, c1 = crop
        rows, cols = np.divmod(pixel, shape[1])
        if len(pixel) and (rows.min() < r0 or rows.max() >= r1 or cols.min() < c0 or cols.max() >= c1):
            raise ValueError(f"crop {crop} does not hold every pixel of the groups")
        shape = (r1 - r0, c1 - c0)
        pixel = (rows - r0) * shape[1] + (cols - c0)
    n_pix = shape[0] * shape[1]
    order = np.argsort(pixel, kind="stable")  # sorted by pixel: binning is a sorted segment sum
    x, y, pixel = x[order], y[order], pixel[order]
    weight = (np.concatenate([np.full(g.x.size, 1.0 / g.x.shape[1]) for g in groups]) if groups else np.zeros(0))[order]
    n_pad = (bucket(len(x)) - len(x)) if pad else 0
    fill = (x[0], y[0]) if len(x) else (0.0, 0.0)
    return PointGrid(
        x=jnp.asarray(np.concatenate([x, np.full(n_pad, fill[0])]), dtype),
        y=jnp.asarray(np.concatenate([y, np.full(n_pad, fill[1])]), dtype),
        pixel=jnp.asarray(np.concatenate([pixel, np.full(n_pad, n_pix)]), jnp.int32),
        weight=jnp.asarray(np.concatenate([weight, np.zeros(n_pad)]), dtype),
        shape=tuple(int(s) for s in shape),
    )


def bounding_box(groups: tuple[PixelGroup, ...], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(row0, row1, col0, col1)``: the smallest cut-out of an image of ``shape`` holding every
    pixel of ``groups`` (the whole image if there are none)."""
    index = np.concatenate([g.index for g in groups]) if groups else np.zeros(0, int)
    if not len(index):
        return 0, shape[0], 0, shape[1]
    rows, cols = np.divmod(index, shape[1])
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


def bin_points(values: jnp.ndarray, grid: PointGrid) -> jnp.ndarray:
    """Pixel averages ``shape + values.shape[1:]`` of per-point ``values`` (``(P, ...)``); pixels
    without points are zero."""
    n_pix = grid.shape[0] * grid.shape[1]
    w = grid.weight.reshape((-1,) + (1,) * (values.ndim - 1))
    summed = jax.ops.segment_sum(values * w, grid.pixel, num_segments=n_pix + 1, indices_are_sorted=True)
    return summed[:n_pix].reshape(grid.shape + values.shape[1:])
