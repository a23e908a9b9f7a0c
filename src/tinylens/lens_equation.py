"""Solving the lens equation (eq. 1) for the number of images of a source-plane point.

A square grid around the lens (half-size ``extent``) is split into triangles, each mapped to the
source plane through its vertices; the triangles whose image contains the point are grouped into
connected regions, one per image (e.g. Schneider, Ehlers & Falco 1992, ch. 5; the usual
triangle-mapping method of ray-tracing codes). Cells next to the centre of a singular profile are
skipped: they map across the whole pseudo-caustic and are not images.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from scipy import ndimage

from tinylens.config.model_spec import ModelSpec
from tinylens.forward import ray_shoot


#: Cells within this many grid steps of the centre are not images (see the module docstring).
CENTRAL_CELLS = 3
#: Grid cells per side of the image search.
N_GRID = 601


def unresolved_radius(extent: float, n_grid: int = N_GRID) -> float:
    """The radius about the centre within which the search of half-size ``extent`` counts no
    image: images nearer the centre of a singular profile are not counted."""
    return CENTRAL_CELLS * 2.0 * extent / (n_grid - 1)


def _contains_origin(x1, y1, x2, y2, x3, y3) -> np.ndarray:
    """Whether each triangle (vertices relative to the point) contains the origin."""
    d1 = x1 * y2 - x2 * y1
    d2 = x2 * y3 - x3 * y2
    d3 = x3 * y1 - x1 * y3
    return ((d1 >= 0) & (d2 >= 0) & (d3 >= 0)) | ((d1 <= 0) & (d2 <= 0) & (d3 <= 0))


def count_images(spec: ModelSpec, theta, beta: tuple[float, float], center: tuple[float, float],
                 extent: float, n_grid: int = N_GRID) -> int:
    """Number of images of the source-plane point ``beta`` for the mass of ``spec`` at ``theta``,
    searched within ``center +- extent`` on an ``n_grid`` x ``n_grid`` grid."""
    return int(count_images_of_points(spec, theta, [beta], center, extent, n_grid)[0])


def count_images_of_points(spec: ModelSpec, theta, betas, center: tuple[float, float],
                           extent: float, n_grid: int = N_GRID) -> np.ndarray:
    """:func:`count_images` for each of the source-plane points ``betas`` (shape ``(n, 2)``),
    shooting the grid to the source plane once."""
    g = np.linspace(-extent, extent, n_grid)
    step = g[1] - g[0]
    xx, yy = np.meshgrid(center[0] + g, center[1] + g)
    theta = jnp.asarray(theta)
    bx, by = ray_shoot(spec, theta, jnp.asarray(xx, theta.dtype), jnp.asarray(yy, theta.dtype))
    bx, by = np.asarray(bx, float), np.asarray(by, float)
    r_cell = np.hypot(xx[:-1, :-1] + step / 2 - center[0], yy[:-1, :-1] + step / 2 - center[1])
    counts = []
    for b in np.asarray(betas, float).reshape(-1, 2):
        ux, uy = bx - b[0], by - b[1]
        c = [(ux[:-1, :-1], uy[:-1, :-1]), (ux[:-1, 1:], uy[:-1, 1:]), (ux[1:, :-1], uy[1:, :-1]), (ux[1:, 1:], uy[1:, 1:])]
        hit = _contains_origin(*c[0], *c[1], *c[2]) | _contains_origin(*c[3], *c[2], *c[1])
        hit &= r_cell > CENTRAL_CELLS * step
        counts.append(ndimage.label(hit, structure=np.ones((3, 3)))[1])
    return np.asarray(counts, dtype=int)
