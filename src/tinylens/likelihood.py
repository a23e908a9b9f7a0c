"""The log-likelihood of the paper's eq. 5 with amplitudes solved linearly (eq. 6-7).

``log L = -chi^2 / 2 - sum_i log(2 pi sigma_i^2) / 2`` over the pixels used (the mask).
Written for one parameter vector (:class:`tinylens.problem.Problem` batches and compiles it). A
non-finite value, or a vector holding a non-finite parameter, becomes ``-inf`` for that sample only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import ndimage

from tinylens.config.model_spec import ModelSpec
from tinylens.forward import blurred_columns
from tinylens.inversion import gram, nnls_gram, solve_normal
from tinylens.numerics.convolution import KernelFFT, kernel_fft
from tinylens.numerics.grid import PixelGroup, PointGrid, bounding_box, bucket, point_grid, uniform_groups


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Imaging:
    """Everything about one image that the likelihood needs, fixed for a fit.

    A pytree whose arrays are leaves, so compiled likelihoods take it as an argument: images of
    equal shapes (and padded point counts) share one compilation, in memory and in JAX's
    persistent cache. The used pixels are padded like the points (index 0, weight 0).
    """

    grid: PointGrid
    kernel: KernelFFT
    used: jnp.ndarray  # (n_used,) flat indices of the pixels in the likelihood (padded)
    data: jnp.ndarray  # (n_used,)
    weight: jnp.ndarray  # (n_used,) = 1 / sigma^2, 0 for padding
    log_norm: float  # sum over used pixels of log(2 pi sigma^2) / 2 (a leaf: traced in compiled code)
    crop: tuple[int, int, int, int] = field(default=None, metadata=dict(static=True))  # cut-out of the image

    def used_in_image(self, image_shape: tuple[int, int]) -> np.ndarray:
        """For each entry of ``used`` (padding included), its flat index in the whole image."""
        r0, _, c0, _ = self.crop or (0, 0, 0, 0)
        rows, cols = np.divmod(np.asarray(self.used), self.shape[1])
        return (rows + r0) * image_shape[1] + cols + c0

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape

    @property
    def n_used(self) -> int:
        """Pixels in the likelihood (without padding)."""
        return int(np.count_nonzero(np.asarray(self.weight)))


def evaluated_pixels(mask: np.ndarray, psf_shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose model light can reach a used pixel through the PSF (mask dilated by the PSF)."""
    if mask.all():
        return mask.copy()
    return ndimage.binary_dilation(mask, structure=np.ones(psf_shape, dtype=bool))


def _far_from_edges(mask: np.ndarray, psf_shape: tuple[int, int]) -> bool:
    """Whether every used pixel is at least half a PSF from the edges of the image (then a
    circular convolution is exact on them: see :func:`tinylens.numerics.convolution.kernel_fft`)."""
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return True
    hy, hx = psf_shape[0] // 2, psf_shape[1] // 2
    ny, nx = mask.shape
    return bool(rows.min() >= hy and cols.min() >= hx and rows.max() < ny - hy and cols.max() < nx - hx)


def make_imaging(
    data: np.ndarray,
    noise: np.ndarray,
    psf: np.ndarray,
    mask: np.ndarray,
    pixel_scale: float,
    nsub: int,
    dtype=jnp.float32,
    groups: tuple[PixelGroup, ...] | None = None,
) -> Imaging:
    """Precompute the ray-traced points, the PSF transform and the masked data for the likelihood.

    The likelihood works on the smallest cut-out of the image that holds every evaluated pixel
    (a masked image needs smaller convolutions); the model is zero outside it either way.
    """
    mask = np.asarray(mask, dtype=bool)
    if groups is None:
        groups = uniform_groups(data.shape, pixel_scale, nsub, evaluated_pixels(mask, psf.shape))
    r0, r1, c0, c1 = crop = bounding_box(groups, data.shape)
    grid = point_grid(groups, data.shape, dtype, crop=crop)
    inside = np.zeros(mask.shape, bool)
    inside[r0:r1, c0:c1] = True
    if (mask & ~inside).any():
        raise ValueError("every used pixel must lie in the evaluated part of the image")
    data, noise, mask = (np.asarray(a)[r0:r1, c0:c1] for a in (data, noise, mask))
    used = np.flatnonzero(mask.ravel())
    sigma = np.asarray(noise, dtype=float).ravel()[used]
    n_pad = bucket(len(used)) - len(used)
    return Imaging(
        grid=grid,
        kernel=kernel_fft(np.asarray(psf, dtype=dtype), grid.shape, margin=not _far_from_edges(mask, psf.shape)),
        used=jnp.asarray(np.concatenate([used, np.zeros(n_pad, int)]), jnp.int32),
        data=jnp.asarray(np.concatenate([np.asarray(data, dtype=float).ravel()[used], np.zeros(n_pad)]), dtype),
        weight=jnp.asarray(np.concatenate([(1.0 / sigma) ** 2, np.zeros(n_pad)]), dtype),
        log_norm=float(np.sum(0.5 * np.log(2 * np.pi) + np.log(sigma))),  # sigma**2 overflows above 1e154
        crop=crop,
    )


class Fit(NamedTuple):
    """Result of the linear solve for one parameter vector."""

    amplitudes: jnp.ndarray  # (K,)
    model: jnp.ndarray  # (n_used,) model values at the used pixels
    chi2: jnp.ndarray
    log_likelihood: jnp.ndarray


def solve(spec: ModelSpec, imaging: Imaging, theta: jnp.ndarray, solver: str = "nnls") -> Fit:
    """Build ``M`` for ``theta``, solve the amplitudes and evaluate eq. 5."""
    cols = blurred_columns(spec, theta, imaging.grid, imaging.kernel)
    cols = cols.reshape(-1, cols.shape[-1])[imaging.used]
    k = cols.shape[-1] - 2
    a = cols[:, :k]
    fixed = cols[:, k] + cols[:, k + 1]
    if k > 0:
        q, c = gram(a, imaging.data - fixed, imaging.weight)
        amps = nnls_gram(q, c) if solver == "nnls" else solve_normal(q, c)
        model = a @ amps + fixed
    else:
        amps = jnp.zeros((0,), theta.dtype)
        model = fixed
    chi2 = jnp.sum(imaging.weight * (imaging.data - model) ** 2)
    ll = -0.5 * chi2 - imaging.log_norm
    # an infinite parameter can give a finite value (a size floored, a source moved off the image): -inf as for NaN
    ll = jnp.where(jnp.isfinite(ll) & jnp.all(jnp.isfinite(theta)), ll, -jnp.inf)
    return Fit(amps, model, chi2, ll)


def log_likelihood(spec: ModelSpec, imaging: Imaging, theta: jnp.ndarray, solver: str = "nnls") -> jnp.ndarray:
    """Eq. 5 for one parameter vector ``theta`` (shape ``(n,)``)."""
    return solve(spec, imaging, theta, solver).log_likelihood
