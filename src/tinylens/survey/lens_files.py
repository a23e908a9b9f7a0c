"""The files ``tinylens survey`` looks for in each lens folder, and the names each may have.

One place for these names: the survey (:mod:`tinylens.survey.runner`) finds a lens's files by
them, and the data loader's hint for a survey template run alone (``dataset.data_path:
image.fits``, :func:`tinylens.data.dataset.relative_hint`) recognises them. Imports nothing of
tinylens, so that the data loader stays light.
"""

from __future__ import annotations

#: Files of a lens folder, by the ``dataset`` key they fill in.
LENS_FILES: dict[str, str] = {"data_path": "image.fits", "noise_path": "noise.fits", "psf_path": "psf.fits"}
#: Optional per-lens mask; when present it becomes ``dataset.mask_path``.
MASK_FILE = "mask.fits"
#: The names a lens folder's file may have, in the order one is taken where a folder holds
#: several (``image.fits``, then ``image.fits.gz``: gzipped, as archives ship them, and
#: ``image.fits.fz``: tile-compressed); astropy reads each, as ``tinylens fit`` reads it. The survey
#: finds each in any case (``IMAGE.FITS``), the exact name first.
FITS_SUFFIXES = (".fits", ".fits.gz", ".fits.fz")


def lens_file_names(name: str) -> list[str]:
    """The names the lens file ``name`` (``image.fits``) may have: one per :data:`FITS_SUFFIXES`."""
    stem = name.removesuffix(".fits")
    return [stem + suffix for suffix in FITS_SUFFIXES]
