"""Numerics: pixel grids, supersampling, binning and PSF convolution."""

from tinylens.numerics.convolution import KernelFFT, convolve, convolve_stack, kernel_fft
from tinylens.numerics.grid import (
    PixelGroup,
    adaptive_groups,
    pixel_coordinates,
    pixel_group,
    scatter_to_image,
    uniform_groups,
)

__all__ = [
    "KernelFFT",
    "PixelGroup",
    "adaptive_groups",
    "convolve",
    "convolve_stack",
    "kernel_fft",
    "pixel_coordinates",
    "pixel_group",
    "scatter_to_image",
    "uniform_groups",
]
