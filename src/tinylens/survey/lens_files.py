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
#: The FITS file names ``tinylens fit`` reads (``dataset.data_path`` and the other paths), as the
#: help and docs list them: astropy opens a file by its content, so these are the usual names, not
#: a check; ``.gz``, ``.bz2`` and ``.zip`` are compressed whole, ``.fz`` tile-compressed.
FITS_READ_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fits.bz2", ".fits.zip", ".fits.fz")
#: Read only by astropy 7.1 or later (xz, LZMA); the floor in pyproject.toml is older.
FITS_XZ_SUFFIX = ".fits.xz"
#: The astropy version that first reads :data:`FITS_XZ_SUFFIX`.
FITS_XZ_ASTROPY = (7, 1)
#: The names ``tinylens fit`` reads that the survey does not look for (``.fit``, ``.fits.bz2``,
#: ...): a lens file under one of them is not found, and the survey warns of it.
UNSURVEYED_SUFFIXES = tuple(s for s in (*FITS_READ_SUFFIXES, FITS_XZ_SUFFIX) if s not in FITS_SUFFIXES)


def fits_read_names_text() -> str:
    """The FITS names ``tinylens fit`` reads, for its help: ``.fits, .fit, .fts, ... (.fits.xz with astropy 7.1 or later)``."""
    return (f"{', '.join(FITS_READ_SUFFIXES)} ({FITS_XZ_SUFFIX} with astropy "
            f"{'.'.join(map(str, FITS_XZ_ASTROPY))} or later)")


def survey_names_text() -> str:
    """The other names of a lens folder's ``image.fits``, for the survey's help and messages:
    ``image.fits.gz or image.fits.fz`` (one per :data:`FITS_SUFFIXES` after the first)."""
    names = lens_file_names("image.fits")[1:]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def lens_file_names(name: str) -> list[str]:
    """The names the lens file ``name`` (``image.fits``) may have: one per :data:`FITS_SUFFIXES`."""
    return _with_suffixes(name, FITS_SUFFIXES)


def unsurveyed_names(name: str) -> list[str]:
    """The names of the lens file ``name`` (``image.fits``) that ``tinylens fit`` reads and the
    survey does not look for: one per :data:`UNSURVEYED_SUFFIXES` (``image.fit``, ...)."""
    return _with_suffixes(name, UNSURVEYED_SUFFIXES)


def _with_suffixes(name: str, suffixes: tuple[str, ...]) -> list[str]:
    """``name`` (``image.fits``) with its ``.fits`` replaced by each of ``suffixes``: one stem for
    the names the survey looks for and those it does not."""
    stem = name.removesuffix(".fits")
    return [stem + suffix for suffix in suffixes]
