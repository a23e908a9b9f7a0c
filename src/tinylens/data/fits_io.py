"""Read and write 2-D FITS images with messages an astronomer can act on.

:func:`read_fits_image` takes the first image HDU that holds data (primary or extension) and
returns it as a float64 array, row 0 being the first row stored in the file (the bottom row in
DS9; nothing is flipped), scaled by its BSCALE and BZERO, an integer image's BLANK pixels (no
value) as NaN. A cube with only two axes longer than 1 (e.g. shape ``(1, ny, nx)`` or
``(ny, nx, 1)``) is squeezed to ``(ny, nx)``; a cube with several planes is refused.

A path may name the HDU to read, as CFITSIO and DS9 do: ``drz.fits[1]`` (by index, 0 the
primary), ``drz.fits[SCI]`` (by EXTNAME) or ``drz.fits[SCI,2]`` (EXTNAME and EXTVER). So an HST
file's science and error images serve as ``data_path`` and ``noise_path`` without splitting it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

from tinylens.atomic import write_atomic
from tinylens.errors import (DISK_CHECK, DISK_FAILED, MISSING_ERRNOS, DataError, DataWarning, OutputError, ls_command, outside_stacklevel,
                             windows_path_advice, disk_failed_text, failed_write_left_text, written_output)
from tinylens.paths import reachable

#: HDU classes that hold an image.
IMAGE_HDUS = (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)

#: What astropy raises on files that are not FITS, truncated or otherwise corrupt (a file that
#: starts like a gzip or zip archive is decompressed first: a corrupt one raises zlib's or
#: zipfile's own error).
_READ_ERRORS = (OSError, ValueError, TypeError, IndexError, KeyError, EOFError, fits.VerifyError, zlib.error,
                zipfile.BadZipFile)


#: ``file.fits[ext]``: an HDU named after the file name (index, EXTNAME or "EXTNAME,EXTVER").
_WITH_EXTENSION = re.compile(r"^(?P<file>.+)\[(?P<ext>[^\[\]]+)\]$")

Extension = int | str | tuple[str, int]

#: A trailing CFITSIO image section, ``[x1:x2,y1:y2]`` or with ``*`` (``[*,100:200]``): not read.
_IMAGE_SECTION = re.compile(r"\[(?P<section>[^\[\]]*[:*][^\[\]]*)\]$")


def blocked_folder_note(path: Path) -> str:
    """For a ``path`` that cannot be looked at, as a folder on its way cannot be entered (no
    permission to search it: ``chmod``, another user's or a group's folder), what to do; ``""`` for
    any other path, one missing included."""
    try:
        path.stat()
    except PermissionError:
        return (f" cannot be reached: permission denied on a folder on its path (a folder you may not enter; "
                f"check with ls -ld on {path.parent} and the folders above it)")
    except (OSError, ValueError):
        return ""
    return ""


def unreachable_note(path: Path) -> str:
    """For a ``path`` that the system refuses to look at for another reason than that it is
    missing or a folder on its way cannot be entered (a name too long for it, ENAMETOOLONG; a
    failing disk, EIO), that reason; ``""`` for any other path."""
    try:
        path.stat()
    except (PermissionError, ValueError):
        return ""
    except OSError as exc:
        return "" if exc.errno in MISSING_ERRNOS else f" cannot be reached: {exc.strerror or exc}"
    return ""


def check_no_image_section(path: str | Path, role: str) -> None:
    """Raise a DataError naming ``role`` when ``path`` (not an existing file) ends in a CFITSIO
    image section such as ``drz.fits[SCI][1000:1200,800:1000]``: tinylens reads whole HDUs, and
    the section was taken as part of the file name ("file not found: drz.fits[SCI]")."""
    match = _IMAGE_SECTION.search(str(path))
    if match is None or reachable(Path(path)):
        return
    raise DataError(f"{role} {path} ends in the image section [{match['section']}]; tinylens reads whole images and "
                    "takes no sections. Name the file, or the file and its HDU (e.g. drz.fits[SCI]), of an image "
                    "already cut out (e.g. with astropy.nddata.Cutout2D, keeping its WCS).")


def split_extension(path: str | Path) -> tuple[Path, Extension | None]:
    """``path`` without a trailing ``[ext]`` and the HDU it names (``None``: not named).

    ``[2]`` is an index, ``[SCI]`` an EXTNAME, ``[SCI,2]`` an EXTNAME and EXTVER. A file whose
    name really ends in brackets is taken as it is.
    """
    text = str(path)
    match = _WITH_EXTENSION.match(text)
    if match is None or reachable(Path(text)):
        return Path(text), None
    ext = match["ext"].strip()
    name, _, version = (part.strip() for part in ext.partition(","))
    if ext.isdigit():
        return Path(match["file"]), int(ext)
    if version.isdigit() and name:
        return Path(match["file"]), (name, int(version))
    return Path(match["file"]), ext


def read_fits_image(path: str | Path, role: str = "image", hint: str = "") -> np.ndarray:
    """The 2-D float64 image in ``path`` (which may end in ``[ext]``, see the module doc);
    ``role`` (e.g. ``"data_path"``) names it in errors, ``hint`` is added to a file-not-found
    message (e.g. where relative paths are taken from)."""
    return read_fits_image_and_header(path, role, hint)[0]


#: Keywords an extension's header takes from the primary header where it has none of its own:
#: HST's drizzled and calibrated files (``drz.fits[SCI]``) keep EXPTIME in the primary header only.
PRIMARY_KEYS = ("EXPTIME",)


def with_primary_keys(header: fits.Header, primary: fits.Header) -> fits.Header:
    """A copy of ``header`` with the :data:`PRIMARY_KEYS` of ``primary`` that it lacks."""
    merged = header.copy()
    for key in PRIMARY_KEYS:
        if key not in merged and key in primary:
            merged[key] = primary[key]
    return merged


def read_fits_image_and_header(path: str | Path, role: str = "image", hint: str = "") -> tuple[np.ndarray, fits.Header]:
    """:func:`read_fits_image` and the header of the HDU it was read from (an extension's with
    the primary header's :data:`PRIMARY_KEYS` where it has none of its own)."""
    with _opened_fits(path, role, hint) as (hdul, file, ext):
        try:
            hdu = _image_hdu(hdul, file, role) if ext is None else _named_image_hdu(hdul, file, ext, role)
            array, header = physical_values(hdu), with_primary_keys(hdu.header, hdul[0].header)
        except _READ_ERRORS:
            check_pixels_there(hdul, file, ext, role)  # a file cut short: say so, not astropy's reshape error
            raise
    return as_2d(array, Path(path), role), header


def check_pixels_there(hdul: fits.HDUList, file: Path, ext: Extension | None, role: str) -> None:
    """Where the pixels of the image that :func:`read_fits_image` reads from ``hdul`` failed to
    read, the DataError of :func:`check_not_cut_short` if the file ends before them (a download or
    copy cut short), as :func:`read_fits_shape` gives it; else nothing, for the caller to raise
    astropy's error (which, for a file cut short, reads 'cannot reshape array of size ...')."""
    try:
        if ext is None:
            hdu = next((h for h in hdul if _has_pixels(h)), None)
        else:
            hdu = _named_image_hdu(hdul, file, ext, role, read=False)
    except (*_READ_ERRORS, DataError):
        return
    if hdu is not None:
        check_hdu_not_cut_short(hdu, file, role)


@contextlib.contextmanager
def _opened_fits(path: str | Path, role: str, hint: str = "") -> Iterator[tuple[fits.HDUList, Path, Extension | None]]:
    """The FITS file of ``path`` opened (unscaled, astropy's warnings silenced) for the ``with``
    block, with the file's path and the HDU named after it (:func:`split_extension`), after the
    DataErrors of :func:`check_no_image_section` and :func:`check_readable_file`; what astropy
    raises for a file it cannot read, in the block too, raised as :func:`unreadable_error`."""
    full = Path(path)
    check_no_image_section(full, role)
    file, ext = split_extension(full)
    check_readable_file(file, role, hint)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            with fits.open(file, memmap=False, do_not_scale_image_data=True) as hdul:
                yield hdul, file, ext
    except DataError:
        raise
    except _READ_ERRORS as exc:
        raise unreadable_error(file, role, exc) from None


def unreadable_error(file: Path, role: str, exc: BaseException) -> DataError:
    """The DataError for the FITS ``file`` (named by ``role``) that astropy failed to read (``exc``)."""
    return DataError(f"{role} file {file} could not be read as a FITS image ({exc}). "
                     "The file may be truncated, corrupt or not FITS at all; check it with e.g. DS9 or astropy.")


def read_fits_shape(path: str | Path, role: str = "image", hint: str = "") -> tuple[tuple[int, int], fits.Header]:
    """The 2-D shape of the image that :func:`read_fits_image_and_header` reads from ``path``, and
    its HDU's header, from the file's headers alone (no pixel is read): the same DataError for a
    file that is missing, unreadable or not FITS, holds no image or one that is not 2-D. Where
    ``path`` names the HDU (``drz.fits[SCI]``) the headers are read up to its only (a gzipped file
    is not decompressed beyond), as :func:`read_fits_image` reads them; else every HDU's, as it
    does to find the first image (a file it cannot read beyond the image is refused by both). The
    file, decompressed where it is compressed, is checked to hold the image's pixels
    (:func:`check_not_cut_short`)."""
    with _opened_fits(path, role, hint) as (hdul, file, ext):
        if ext is None:
            with_pixels = _images(hdul, file, role)  # every HDU read, as by _image_hdu
            if not with_pixels:
                raise no_image_error(hdul, file, role)
            hdu = with_pixels[0][1]
        else:
            hdu = _named_image_hdu(hdul, file, ext, role, read=False)
        header = hdu.header.copy()
        check_hdu_not_cut_short(hdu, file, role)
    naxis = header.get("NAXIS", 0)
    return shape_2d(tuple(int(header[f"NAXIS{k}"]) for k in range(naxis, 0, -1)), Path(path), role), header


def check_hdu_not_cut_short(hdu: Any, file: Path, role: str) -> None:
    """:func:`check_not_cut_short` for the image HDU ``hdu`` of ``file``: its pixels' end from the
    HDU's own fileinfo (HDUList.fileinfo reads every HDU of the file, decompressing a gzipped one
    whole). A tile-compressed image is not checked: its size is the image's, not the table's that
    holds it."""
    if isinstance(hdu, fits.CompImageHDU):
        return
    info = hdu.fileinfo()
    check_not_cut_short(file, info["datLoc"] + hdu.size, role, info["file"])


def check_not_cut_short(file: Path, end: int, role: str, stream: Any = None) -> None:
    """Raise the DataError of a FITS ``file`` that cannot be read for one shorter than ``end``, the
    byte its image's pixels end at (a download or copy cut short), whose pixels
    :func:`read_fits_image` fails to read; one short of the padding after them only is read, and
    passes. A plain file's length is its size on disk; a compressed one's (gzip, bzip2 or zip: a
    file cut short, then compressed) is told from ``stream``, the file as astropy opened it: to
    find the next HDU astropy has decompressed it to the end of the image's pixels or to its own
    end already, so this decompresses nothing more (without ``stream`` it is not checked). A
    compressed stream that is itself cut short astropy refuses on opening, as the fit does."""
    with open(file, "rb") as raw:
        plain = raw.read(6) == b"SIMPLE"
    if plain:
        size = os.path.getsize(file)
        if size < end:
            raise unreadable_error(file, role, f"it is {size} bytes long, and its header puts the end of its image's "
                                               f"pixels at byte {end}")
    elif stream is not None and (stream.tell() < end or getattr(stream, "compression", None) == "zip"):
        # a gzip or bzip2 stream stops at its end, and is only read onwards here, never rewound (decompressed
        # again); a zip's file is extracted by astropy to a temporary file, whose position goes past its end
        stream.seek(end - 1)
        if not stream.read(1):
            raise unreadable_error(file, role, f"decompressed, it ends before byte {end}, where its header puts the "
                                               "end of its image's pixels")


#: The BITPIX values of the FITS standard: bits of an integer pixel, minus those of a float.
BITPIX_VALUES = (8, 16, 32, 64, -32, -64)


def check_pixel_keywords(header: fits.Header, path: Path, role: str) -> None:
    """Raise the DataError of an image whose header (``header``, of the file ``path`` named by
    ``role``) makes its pixels unreadable: a BITPIX that is none of :data:`BITPIX_VALUES` (astropy
    fails on reading them with a bare ``KeyError: 12``), a BSCALE or BZERO that is not a real
    number (a string, a complex number, no value: :func:`physical_values` cannot scale by it). From
    the header alone, so the dry run refuses the file as its fit does."""
    bitpix = header.get("BITPIX")
    if isinstance(bitpix, int) and bitpix not in BITPIX_VALUES:
        raise DataError(f"{role} file {path}: its image's header gives BITPIX = {bitpix}, none of the FITS standard's "
                        f"{', '.join(map(str, BITPIX_VALUES))} (the bits of an integer pixel, or minus those of a float "
                        "one), so its pixels cannot be read. The file is corrupt or was written wrongly: write it again.")
    for key in ("BSCALE", "BZERO"):
        value = header.get(key, 0)
        if not isinstance(value, (int, float)):
            shown = repr(value) if isinstance(value, (str, complex)) else "no value"
            raise DataError(f"{role} file {path}: its image's header gives {key} = {shown}, not a real number; the "
                            "pixel values are those stored times BSCALE plus BZERO. Give it a number, or delete it "
                            "if the stored values are the values (e.g. with astropy's fits.setval or fits.delval).")


def physical_values(hdu: Any) -> np.ndarray:
    """The pixel values of an image ``hdu`` opened with ``do_not_scale_image_data``, as float64:
    the values stored times BSCALE plus BZERO, and NaN (no value) where an integer image holds its
    BLANK value, as the FITS standard reads them. astropy's own scaling left BLANK pixels as numbers
    in unsigned integer images (BZERO 32768) and where BLANK is 0, and failed on those of a signed
    byte image (BZERO -128), which was then refused as a corrupt file."""
    raw = np.asarray(hdu.data)
    values = raw.astype(np.float64)
    bscale, bzero = hdu.header.get("BSCALE", 1), hdu.header.get("BZERO", 0)
    if bscale != 1:
        values *= bscale
    if bzero != 0:
        values += bzero
    blank = hdu.header.get("BLANK")
    if raw.dtype.kind in "iu" and isinstance(blank, int) and not isinstance(blank, bool):
        values[raw == blank] = np.nan
    return values


def wcs_pixel_scale(header: fits.Header) -> float | None:
    """The pixel scale in arcsec that the header's celestial WCS gives (the mean of its two
    axes), or None without a usable one (no WCS, not celestial, unreadable, non-square pixels)."""
    from astropy.wcs import WCS
    from astropy.wcs.utils import proj_plane_pixel_scales

    if not any(isinstance(header.get(key), (int, float)) for key in ("CD1_1", "CD1_2", "CDELT1")):
        return None  # WCS's default scale, 1 degree per pixel, is no statement of the file
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wcs = WCS(header, naxis=2)
            if not wcs.has_celestial:
                return None
            scales = proj_plane_pixel_scales(wcs.celestial) * 3600.0  # degrees (FITS's unit) to arcsec
    except Exception:  # a broken WCS is no reason to refuse the image
        return None
    if not (np.all(np.isfinite(scales)) and np.all(scales > 0)) or abs(scales[0] / scales[1] - 1) > 0.01:
        return None
    return float(np.mean(scales))


#: What YAML's double quotes make of a backslash and a letter of a Windows path ("C:\temp\new.fits").
ESCAPED_CHARACTERS = {"\t": "a tab (\\t)", "\n": "a line break (\\n)", "\r": "a carriage return (\\r)",
                      "\a": "a bell (\\a)", "\b": "a backspace (\\b)", "\f": "a form feed (\\f)",
                      "\v": "a vertical tab (\\v)", "\x00": "a NUL (\\0)", "\x1b": "an escape (\\e)"}


#: A Windows path whose backslashes YAML's double quotes read as escapes (a tab, a line break).
ESCAPED_EXAMPLE = "C:\\temp\\new.fits"


def escaped_path_note(path: Path) -> str:
    """For a ``path`` holding a character that YAML's double quotes make of a backslash and a
    letter (``"C:\temp\new.fits"`` holds a tab and a line break), what happened and what to write;
    ``""`` for any other path."""
    found = [name for char, name in ESCAPED_CHARACTERS.items() if char in str(path)]
    if not found:
        return ""
    return (f" The path holds {' and '.join(found)}: in double quotes YAML reads a backslash and the letter after it "
            f"as such a character, as in a Windows path (\"{ESCAPED_EXAMPLE}\"). {windows_path_advice(ESCAPED_EXAMPLE)}")


def padded_path_note(path: Path) -> str:
    """For a ``path`` one of whose names begins or ends with white space (``"image.fits "``, a name
    pasted from a table or quoted with a space in YAML), that name, and the path without the white
    space where that exists; ``""`` for any other path."""
    padded = [part for part in path.parts if part != part.strip()]
    if not padded:
        return ""
    stripped = Path(*(part.strip() for part in path.parts))
    there = f" ({stripped} exists)" if os.path.exists(stripped) else ""
    return f" The name {padded[0]!r} begins or ends with white space: remove it{there}."


#: More links than this in a row are taken for a loop (Linux's own limit is 40).
MAX_LINK_HOPS = 40


def link_end(path: Path) -> Path | None:
    """Where the symbolic link ``path`` leads, through any links after it: the first path that is
    no link (each target as :func:`link_target` takes it); None for a loop of links."""
    for _ in range(MAX_LINK_HOPS):
        if not path.is_symlink():
            return path
        path = link_target(path)
    return None


def link_target(link: Path) -> Path:
    """The path that the symbolic ``link`` points to, as the system takes it: its target from the
    link's folder, as written (absolute where ``link`` is), where the target has no ``..``; else its
    part up to the last ``..`` taken from that folder's real place (:func:`os.path.realpath`, which
    climbs out of a linked folder, ``lenses/lens_b -> /data/run3/lens_b``, to ``/data/run3``, where
    the system climbs, not to ``lenses``, where :func:`os.path.normpath` took it) and the rest after
    it. Where that part is no folder (it climbs out of a folder linked to one since removed, which
    the system cannot), the target is joined to the link's folder as written, ``..`` kept: the place
    that :func:`os.path.normpath` named might exist, and the message said it did not."""
    target = Path(os.readlink(link))
    parts = target.parts
    if ".." not in parts:
        return Path(os.path.normpath(link.parent / target))
    last = len(parts) - parts[::-1].index("..")
    climbed = link.parent.joinpath(*parts[:last])
    if not os.path.isdir(climbed):
        return link.parent / target
    return Path(os.path.realpath(climbed)).joinpath(*parts[last:])


def first_dangling_link(path: Path) -> Path | None:
    """The first of ``path``'s folders, or ``path`` itself, that is a symbolic link to nothing
    (or in a loop of links), from the top; None where none is."""
    for part in (*reversed(path.parents), path):
        if os.path.islink(part) and not os.path.exists(part):
            return part
    return None


def dangling_link_note(path: Path) -> str:
    """For a ``path`` that is a symbolic link to nothing (into a scratch disk since purged, an
    archive not mounted), which ``ls`` lists though it opens no file, or that is in a folder
    that is one (``lenses/lens_b`` a link to a purged folder): where that link points; ``""``
    for any other path."""
    link = first_dangling_link(path)
    if link is None:
        return ""
    what = " is" if link == path else f": the folder {link} it is in is"
    end = link_end(link)
    if end is None:
        return f"{what} a symbolic link in a loop of links, which leads to no file"
    return f"{what} a symbolic link to {end}, which does not exist (removed, or on a disk not mounted here)"


def check_readable_file(path: Path, role: str, hint: str = "") -> None:
    """Raise a DataError unless ``path`` is an existing, readable file (``hint``: added when missing;
    so is :func:`escaped_path_note`, or else :func:`padded_path_note`; a link to nothing says where
    it points, :func:`dangling_link_note`; a file in a folder that cannot be entered says so,
    :func:`blocked_folder_note`, as does a name the system refuses, :func:`unreachable_note`)."""
    if not reachable(path):
        blocked = blocked_folder_note(path) or unreachable_note(path)
        if blocked:
            raise DataError(f"{role} file {path}{blocked}.")
        note = escaped_path_note(path)
        padded = "" if note else padded_path_note(path)  # a tab or line break YAML made is said once
        # a tab or line break shown as one would break the line; a space at the end would not be seen
        shown = repr(str(path)) if note or padded else str(path)
        raise DataError(f"{role} file not found: {shown}{dangling_link_note(path)}." + (f" {hint}" if hint else "")
                        + note + padded)
    if path.is_dir():
        raise DataError(f"{role} {path} is a folder, not a FITS file.")
    if not os.access(path, os.R_OK):
        ls, chmod = ls_command(path, option="-l"), shlex.join(["chmod", "a+r", str(path)])
        raise DataError(f"{role} file {path} cannot be read: permission denied: this user may not read it. Check its "
                        f"permissions ({ls}), and make it readable ({chmod}) or ask its owner to.")


def _has_pixels(hdu: Any) -> bool:
    """Whether ``hdu`` is an image HDU with pixels, from its header (no data read)."""
    if not isinstance(hdu, IMAGE_HDUS) or isinstance(hdu, fits.GroupsHDU):
        return False
    naxis = hdu.header.get("NAXIS", 0)
    return naxis > 0 and all(hdu.header.get(f"NAXIS{k}", 0) > 0 for k in range(1, naxis + 1))


def _images(hdul: fits.HDUList, path: Path, role: str) -> list[tuple[int, Any]]:
    """The image HDUs of ``hdul`` that have pixels, with their indices, every HDU of the file read;
    the first one's header is checked (:func:`check_pixel_keywords`) as soon as it is read, before
    the HDUs after it, which a wrong BITPIX would misplace (astropy would then fail on a header
    that is none: 'Header missing END card')."""
    with_pixels = []
    for index, hdu in enumerate(hdul):
        if _has_pixels(hdu):
            if not with_pixels:
                check_pixel_keywords(hdu.header, path, role)
            with_pixels.append((index, hdu))
    return with_pixels


def _image_hdu(hdul: fits.HDUList, path: Path, role: str) -> Any:
    """The first image HDU that has data (with a DataWarning naming it when other HDUs hold
    images too, e.g. an HST file's SCI, ERR and DQ)."""
    with_pixels = _images(hdul, path, role)
    if with_pixels and with_pixels[0][1].data is not None:
        index, hdu = with_pixels[0]
        if len(with_pixels) > 1:
            others = ", ".join(f"[{i}] '{h.name}'" for i, h in with_pixels[1:])
            others_first = hdu_reference(hdul, with_pixels[1][0])
            warnings.warn(f"{role} file {path} holds several images; HDU [{index}] '{hdu.name}' is used, not {others}. "
                          f"If that is the wrong one, name the one you mean, e.g. {path.name}[{others_first}].",
                          DataWarning, stacklevel=outside_stacklevel())
        return hdu
    raise no_image_error(hdul, path, role)


def no_image_error(hdul: fits.HDUList, path: Path, role: str) -> DataError:
    """The DataError for the file ``path`` (``hdul``, named by ``role``) in which no HDU holds an image."""
    return DataError(
        f"{role} file {path} holds no image data: no primary or image extension HDU has pixels "
        f"(HDUs found: {_hdu_list(hdul)}). Give a FITS file with the 2-D image in its primary HDU or an image extension."
    )


def hdu_reference(hdul: fits.HDUList, index: int) -> str | int:
    """How to name HDU ``index`` of ``hdul`` after a file name: its EXTNAME where that finds it
    (``[SCI]``), else its index (``[2]``): an unnamed HDU, or a second HDU of one EXTNAME, which
    ``[SCI]`` does not find (it reads the first)."""
    name = hdul[index].name
    try:
        return name if name and hdul.index_of(name) == index else index
    except (KeyError, ValueError):
        return index


def _hdu_list(hdul: fits.HDUList) -> str:
    return ", ".join(f"[{i}] {type(h).__name__} '{h.name}'" for i, h in enumerate(hdul)) or "none"


def _named_image_hdu(hdul: fits.HDUList, path: Path, ext: Extension, role: str, read: bool = True) -> Any:
    """HDU ``ext`` (index, EXTNAME or (EXTNAME, EXTVER)), which must hold an image (``read``: its
    pixels read to tell; else its header alone)."""
    shown = f"{ext[0]},{ext[1]}" if isinstance(ext, tuple) else ext
    try:
        hdu = hdul[ext]
    except (KeyError, IndexError):
        raise DataError(f"{role} file {path} has no HDU [{shown}]. Its HDUs: {_hdu_list(hdul)}. Name one of them "
                        "by index (file.fits[1]) or EXTNAME (file.fits[SCI]).") from None
    if _has_pixels(hdu):
        check_pixel_keywords(hdu.header, path, role)
    if not _has_pixels(hdu) or (read and hdu.data is None):
        raise DataError(f"{role} file {path}: HDU [{shown}] ({type(hdu).__name__} '{hdu.name}') holds no image. "
                        f"Its HDUs: {_hdu_list(hdul)}.")
    return hdu


def as_2d(array: np.ndarray, path: Path, role: str) -> np.ndarray:
    """``array`` as 2-D: leading axes of length 1 are dropped, and so are length-1 axes elsewhere
    when two axes are left (e.g. ``(ny, nx, 1)``, written from a channels-last array); anything
    else is refused."""
    return array if array.ndim == 2 else array.reshape(shape_2d(array.shape, path, role))


def shape_2d(shape: tuple[int, ...], path: Path, role: str) -> tuple[int, int]:
    """The shape that :func:`as_2d` gives an array of ``shape``; its DataError where it gives none."""
    ndim = len(shape)
    if ndim == 2:
        return shape
    if ndim > 2 and all(n == 1 for n in shape[:-2]):
        return shape[-2:]
    kept = tuple(n for n in shape if n != 1)
    if ndim > 2 and len(kept) == 2:
        return kept
    if ndim > 2:
        raise DataError(
            f"{role} file {path} holds a {ndim}-D cube of shape {shape} "
            f"({int(np.prod(shape[:-2]))} planes); tinylens needs one 2-D image. Extract the plane "
            f"you want (e.g. fits.writeto('plane.fits', cube[0]) with astropy)."
        )
    raise DataError(f"{role} file {path} holds a {ndim}-D array of shape {shape}; tinylens needs a 2-D image.")


def write_fits_image(path: str | Path, array: np.ndarray, header: fits.Header | Mapping[str, Any] | None = None) -> Path:
    """Write ``array`` as the primary HDU of ``path`` atomically (temporary file, then rename).

    A boolean array is written as uint8: 1 where True, 0 where False; a float16 array as float32
    (FITS has no 16-bit floats; float32 holds each float16 value exactly). A file given as
    ``dataset.mask_path`` is read the other way round from a :class:`~tinylens.data.Dataset`'s
    ``mask`` (True = used): 0 = used, non-zero = left out (TinyLensGpu's convention), so write a
    dataset's mask as ``~dataset.mask``, or a boolean array of the pixels to leave out, to give it
    back as ``mask_path``. Returns ``path``; raises :class:`OutputError` if the folder is missing
    or not writable, and a :class:`~tinylens.errors.ConfigTypeError` (a TypeError too) naming the
    argument for a ``path`` that is no path, an ``array`` that is not one of numbers of one
    dimension at least, or one of floats wider than FITS holds (float128, ``np.longdouble``; :func:`_check_fits_arguments`).
    """
    _check_fits_arguments(path, array)
    path = Path(path)
    try:
        # made in memory: astropy's writer says a full disk with no error number, the system's write as ENOSPC
        data = fits_image_bytes(array, header)
        write_atomic(path, lambda tmp: tmp.write_bytes(data))
    except PermissionError as exc:
        ls = ls_command(path.parent)
        raise OutputError(f"Cannot write the FITS file {path}: {exc.strerror or exc}: this user may not write in "
                          f"{path.parent}. Check its permissions ({ls}), or write the file to a folder of your "
                          "own.") from None
    except OSError as exc:
        if exc.errno in DISK_FAILED and written_output(exc):  # a failing disk's (EIO) or NFS's (ESTALE): what to check
            raise OutputError(f"Cannot write the FITS file {path}: {exc.strerror or exc} ({disk_failed_text(exc)}). It "
                              "is written under a temporary name and renamed only once whole, so "
                              f"{failed_write_left_text(exc, path.name)}: {DISK_CHECK}, then write it again.") from None
        raise OutputError(f"Cannot write the FITS file {path}: {exc.strerror or exc}.") from None
    return path


def _check_fits_arguments(path: Any, array: Any) -> None:
    """A ConfigTypeError naming :func:`write_fits_image`'s argument that it cannot take: a ``path``
    that is no path (the arguments swapped, an image first: pathlib's bare 'expected str, bytes or
    os.PathLike object, not ndarray'), or an ``array`` of no numbers or of no dimension (a text,
    None: astropy's 'data object array(None, dtype=object) should have at least one dimension')."""
    from tinylens.config.loader import not_a_path
    from tinylens.errors import ConfigTypeError

    if not isinstance(path, (str, os.PathLike)):
        raise ConfigTypeError(f"write_fits_image's path must be a file's path (a str or pathlib.Path), given first, then "
                              f"the image; {not_a_path(path, 'a path')}")
    try:
        kind = np.asarray(array).dtype.kind if array is not None else "O"
        ndim = np.ndim(array)
    except (TypeError, ValueError):  # rows of unequal lengths
        kind, ndim = "O", 0
    if kind not in "biuf" or ndim < 1:
        raise ConfigTypeError(f"write_fits_image's array must be an array of numbers (an image: 2-D), for {path}; "
                              f"{not_a_path(array, 'an array')}")
    if kind == "f" and np.asarray(array).dtype.itemsize > 8:
        raise ConfigTypeError(f"write_fits_image's array is of {np.asarray(array).dtype.name} ({path}): FITS holds floats "
                              "of 32 and 64 bits only. Convert it first (array.astype(np.float64)), which rounds each "
                              "value to a float64's precision.")


def _primary_hdu(array: np.ndarray, header: fits.Header | Mapping[str, Any] | None) -> fits.PrimaryHDU:
    """``array`` as a primary HDU with ``header`` (a boolean array as uint8: :func:`write_fits_image`)."""
    data = np.asarray(array)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    elif data.dtype.kind == "f" and data.dtype.itemsize < 4:  # FITS has no float16: float32 holds it exactly
        data = data.astype(np.float32)
    hdr = header if isinstance(header, fits.Header) or header is None else fits.Header(dict(header))
    return fits.PrimaryHDU(data, header=hdr)


def fits_image_bytes(array: np.ndarray, header: fits.Header | Mapping[str, Any] | None = None) -> bytes:
    """The bytes of the FITS file that :func:`write_fits_image` writes of ``array``, made in memory,
    for a caller that writes them itself: a full disk then raises the system's numbered OSError
    (ENOSPC), where astropy's own writer raises one of no number (``Not enough space on disk``)."""
    buffer = io.BytesIO()
    _primary_hdu(array, header).writeto(buffer)
    return buffer.getvalue()
