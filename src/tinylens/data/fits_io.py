"""Read and write 2-D FITS images with messages an astronomer can act on.

:func:`read_fits_image` takes the first image HDU that holds data (primary or extension) and
returns it as a float64 array, row 0 being the first row stored in the file (the bottom row in
DS9; nothing is flipped). A cube whose extra axes all have length 1 (e.g. shape ``(1, ny, nx)``)
is squeezed to ``(ny, nx)``; a cube with several planes is refused.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

from tinylens.errors import DataError, DataWarning, OutputError

#: HDU classes that hold an image.
IMAGE_HDUS = (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)

#: What astropy raises on files that are not FITS, truncated or otherwise corrupt.
_READ_ERRORS = (OSError, ValueError, TypeError, IndexError, KeyError, EOFError, fits.VerifyError)


def read_fits_image(path: str | Path, role: str = "image", hint: str = "") -> np.ndarray:
    """The 2-D float64 image in ``path``; ``role`` (e.g. ``"data_path"``) names it in errors,
    ``hint`` is added to a file-not-found message (e.g. where relative paths are taken from)."""
    path = Path(path)
    check_readable_file(path, role, hint)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            with fits.open(path, memmap=False) as hdul:
                array = _image_data(hdul, path, role)
    except DataError:
        raise
    except _READ_ERRORS as exc:
        raise DataError(
            f"{role} file {path} could not be read as a FITS image ({exc}). "
            "The file may be truncated, corrupt or not FITS at all; check it with e.g. DS9 or astropy."
        ) from None
    return as_2d(array, path, role)


def check_readable_file(path: Path, role: str, hint: str = "") -> None:
    """Raise a DataError unless ``path`` is an existing, readable file (``hint``: added when missing)."""
    if not path.exists():
        raise DataError(f"{role} file not found: {path}." + (f" {hint}" if hint else ""))
    if path.is_dir():
        raise DataError(f"{role} {path} is a folder, not a FITS file.")
    if not os.access(path, os.R_OK):
        raise DataError(f"{role} file {path} cannot be read: permission denied.")


def _has_pixels(hdu: Any) -> bool:
    """Whether ``hdu`` is an image HDU with pixels, from its header (no data read)."""
    if not isinstance(hdu, IMAGE_HDUS) or isinstance(hdu, fits.GroupsHDU):
        return False
    naxis = hdu.header.get("NAXIS", 0)
    return naxis > 0 and all(hdu.header.get(f"NAXIS{k}", 0) > 0 for k in range(1, naxis + 1))


def _image_data(hdul: fits.HDUList, path: Path, role: str) -> np.ndarray:
    """The data of the first image HDU that has any, as float64 (with a DataWarning naming it
    when other HDUs hold images too, e.g. an HST file's SCI, ERR and DQ)."""
    with_pixels = [(i, hdu) for i, hdu in enumerate(hdul) if _has_pixels(hdu)]
    if with_pixels and with_pixels[0][1].data is not None:
        index, hdu = with_pixels[0]
        if len(with_pixels) > 1:
            others = ", ".join(f"[{i}] '{h.name}'" for i, h in with_pixels[1:])
            warnings.warn(f"{role} file {path} holds several images; HDU [{index}] '{hdu.name}' is used, not {others}. "
                          "If that is the wrong one, write the image you mean to a file of its own.", DataWarning, stacklevel=4)
        return np.array(hdu.data, dtype=np.float64)
    found = ", ".join(f"[{i}] {type(h).__name__} '{h.name}'" for i, h in enumerate(hdul)) or "none"
    raise DataError(
        f"{role} file {path} holds no image data: no primary or image extension HDU has pixels "
        f"(HDUs found: {found}). Give a FITS file with the 2-D image in its primary HDU or an image extension."
    )


def as_2d(array: np.ndarray, path: Path, role: str) -> np.ndarray:
    """``array`` as 2-D: leading axes of length 1 are dropped, anything else is refused."""
    if array.ndim == 2:
        return array
    if array.ndim > 2 and all(n == 1 for n in array.shape[:-2]):
        return array.reshape(array.shape[-2:])
    if array.ndim > 2:
        raise DataError(
            f"{role} file {path} holds a {array.ndim}-D cube of shape {array.shape} "
            f"({int(np.prod(array.shape[:-2]))} planes); tinylens needs one 2-D image. Extract the plane "
            f"you want (e.g. fits.writeto('plane.fits', cube[0]) with astropy)."
        )
    raise DataError(f"{role} file {path} holds a {array.ndim}-D array of shape {array.shape}; tinylens needs a 2-D image.")


def write_fits_image(path: str | Path, array: np.ndarray, header: fits.Header | Mapping[str, Any] | None = None) -> Path:
    """Write ``array`` as the primary HDU of ``path`` atomically (temporary file, then rename).

    A boolean array (a mask) is written as uint8, 1 = True. Returns ``path``; raises
    :class:`OutputError` if the folder is missing or not writable.
    """
    path = Path(path)
    data = np.asarray(array)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    hdr = header if isinstance(header, fits.Header) or header is None else fits.Header(dict(header))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fits.PrimaryHDU(data, header=hdr).writeto(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"Cannot write the FITS file {path}: {exc.strerror or exc}.") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path
