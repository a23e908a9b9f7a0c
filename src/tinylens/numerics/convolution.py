"""PSF convolution of model images (the paper's eq. 3).

The PSF is a pixelated kernel: odd-sized, normalised to unit sum and centred on its middle
pixel. Convolution is the discrete 'same'-size convolution with zero padding, done by FFT;
the kernel's transform is computed once per dataset (:func:`kernel_fft`). A kernel wider than
twice the image is cut down to what reaches the image (:func:`reaching_kernel`): the same
convolution, at the cost of the image's size rather than the kernel's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class KernelFFT:
    """Real FFT of a kernel zero-padded for linear convolution of a fixed image shape (a pytree:
    the transform is a leaf, the shapes are static)."""

    kfft: jnp.ndarray
    image_shape: tuple[int, int] = field(metadata=dict(static=True))
    kernel_shape: tuple[int, int] = field(metadata=dict(static=True))
    fft_shape: tuple[int, int] = field(metadata=dict(static=True))


def _good_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (fast FFT length)."""
    best = 1 << (n - 1).bit_length()
    f5 = 1
    while f5 < 2 * n:
        f35 = f5
        while f35 < 2 * n:
            f = f35
            while f < n:
                f *= 2
            best = min(best, f)
            f35 *= 3
        f5 *= 5
    return best


def reaching_kernel(kernel: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """The odd-sized ``kernel`` cut, about its centre, to at most ``2 n - 1`` pixels on each axis
    where the image has ``n``: a pixel further from the centre links no two pixels of the image, so
    the 'same' convolution is unchanged (a 201 x 201 PSF on a 41 x 41 cutout took FFTs of 216 x 216
    pixels rather than 81 x 81). What the cut pixels held would only fall outside the image."""
    keep = [min(k, 2 * n - 1) for k, n in zip(kernel.shape, image_shape)]
    r0, c0 = ((k - m) // 2 for k, m in zip(kernel.shape, keep))
    return kernel[r0:r0 + keep[0], c0:c0 + keep[1]]


def kernel_fft(kernel: np.ndarray, image_shape: tuple[int, int], margin: bool = True) -> KernelFFT:
    """Precompute the FFT of ``kernel`` for convolving images of ``image_shape``.

    The kernel is stored wrapped around (its centre at index 0), so the convolved image is the
    first ``image_shape`` entries of the inverse transform. With ``margin`` the transform is
    padded by half the kernel, which makes it the linear ('same', zero-padded) convolution
    everywhere; without, it is circular, and exact only for pixels at least half a kernel away
    from the image's edges (enough when those are the only pixels used).
    """
    kernel = np.asarray(kernel)
    ky, kx = kernel.shape
    if ky % 2 == 0 or kx % 2 == 0:
        raise ValueError(f"PSF kernel must be odd-sized, got {kernel.shape}")
    ny, nx = image_shape
    kernel = reaching_kernel(kernel, (ny, nx))
    ky, kx = kernel.shape
    pad_y, pad_x = (ky // 2, kx // 2) if margin else (0, 0)
    fft_shape = (_good_size(max(ny + pad_y, ky)), _good_size(max(nx + pad_x, kx)))
    wrapped = np.zeros(fft_shape, dtype=kernel.dtype)
    wrapped[:ky, :kx] = kernel
    wrapped = np.roll(wrapped, (-(ky // 2), -(kx // 2)), axis=(0, 1))
    kfft = jnp.fft.rfft2(jnp.asarray(wrapped))
    return KernelFFT(kfft, (int(ny), int(nx)), (int(ky), int(kx)), tuple(int(v) for v in fft_shape))


def convolve(image: jnp.ndarray, kernel: KernelFFT) -> jnp.ndarray:
    """Convolve a 2-D ``image`` with a precomputed kernel; output has the image's shape."""
    ny, nx = kernel.image_shape
    full = jnp.fft.irfft2(jnp.fft.rfft2(image, s=kernel.fft_shape) * kernel.kfft, s=kernel.fft_shape)
    return full[:ny, :nx].astype(image.dtype)


def convolve_stack(images: jnp.ndarray, kernel: KernelFFT) -> jnp.ndarray:
    """Convolve each image of a stack of shape ``(ny, nx, k)`` with the same kernel."""
    ny, nx = kernel.image_shape
    f = jnp.fft.rfft2(images, s=kernel.fft_shape, axes=(0, 1))
    full = jnp.fft.irfft2(f * kernel.kfft[:, :, None], s=kernel.fft_shape, axes=(0, 1))
    return full[:ny, :nx].astype(images.dtype)
