"""Imaging data: FITS input/output, masks and the checked :class:`Dataset`.

>>> dataset = load_dataset(cfg.dataset, base_dir)   # cfg, base_dir = load_config(...)
"""

from tinylens.data.dataset import (
    MIN_USABLE_PIXELS,
    PSF_SUM_TOLERANCE,
    DataWarning,
    Dataset,
    load_dataset,
)
from tinylens.data.fits_io import read_fits_image, write_fits_image
from tinylens.data.mask import annulus_mask, circle_mask, pixel_coordinates, shape_mask

__all__ = [
    "MIN_USABLE_PIXELS",
    "PSF_SUM_TOLERANCE",
    "DataWarning",
    "Dataset",
    "annulus_mask",
    "circle_mask",
    "load_dataset",
    "pixel_coordinates",
    "read_fits_image",
    "shape_mask",
    "write_fits_image",
]
