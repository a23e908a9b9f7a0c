"""The FITS file names the help of ``tinylens fit`` and ``tinylens survey`` lists are those the
loader reads and the survey finds: each name listed is written here (compressed the way its
suffix says, by Python's own modules or astropy's tile compression) and read back."""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import zipfile

import astropy
import numpy as np
import pytest
from astropy.io import fits
from typer.testing import CliRunner

from tinylens.cli.main import app
from tinylens.data.fits_io import read_fits_image
from tinylens.survey.lens_files import FITS_READ_SUFFIXES, FITS_XZ_ASTROPY, FITS_XZ_SUFFIX, lens_file_names

#: What a user with a FITS file at hand may name it; the help must list each.
EXPECTED_FIT = {".fits", ".fit", ".fts", ".fits.gz", ".fits.bz2", ".fits.zip", ".fits.fz", ".fits.xz"}
#: The names the survey finds a lens's image under (tests/survey check that it finds them).
EXPECTED_SURVEY = {"image.fits", "image.fits.gz", "image.fits.fz"}


def help_words(command: str) -> set[str]:
    """The words of ``tinylens COMMAND --help``, without the box's borders or the punctuation around them."""
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    return {word.lstrip("(").rstrip("),.;:") for word in result.output.replace("│", " ").split()}


def write_named(path, pixels: np.ndarray) -> None:
    """``pixels`` as a FITS image under ``path``, compressed as its suffix says."""
    plain = fits.HDUList([fits.PrimaryHDU(pixels)])
    name = path.name
    if name.endswith(".fz"):
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(pixels)]).writeto(path)
        return
    raw = path.with_name("plain.fits")
    plain.writeto(raw, overwrite=True)
    data = raw.read_bytes()
    raw.unlink()
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    elif name.endswith(".bz2"):
        path.write_bytes(bz2.compress(data))
    elif name.endswith(".xz"):
        path.write_bytes(lzma.compress(data))
    elif name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(name.removesuffix(".zip"), data)
    else:
        path.write_bytes(data)


def astropy_reads_xz() -> bool:
    return tuple(int(part) for part in re.findall(r"\d+", astropy.__version__)[:2]) >= FITS_XZ_ASTROPY


def test_fit_help_lists_every_fits_name_and_the_loader_reads_each(tmp_path):
    words = help_words("fit")
    missing = sorted(suffix for suffix in EXPECTED_FIT if suffix not in words)
    assert not missing, f"tinylens fit --help does not list {missing}"
    assert set(FITS_READ_SUFFIXES) | {FITS_XZ_SUFFIX} == EXPECTED_FIT
    pixels = np.arange(35, dtype=np.float32).reshape(5, 7) + 1.5
    readable = list(FITS_READ_SUFFIXES) + ([FITS_XZ_SUFFIX] if astropy_reads_xz() else [])
    for suffix in readable:
        path = tmp_path / f"image{suffix}"
        write_named(path, pixels)
        np.testing.assert_allclose(np.asarray(read_fits_image(path, "image")), pixels, err_msg=suffix)
    assert "astropy 7.1 or later" in " ".join(CliRunner().invoke(app, ["fit", "--help"]).output.replace("│", " ").split())


@pytest.mark.parametrize("suffix", FITS_READ_SUFFIXES)
def test_each_listed_name_is_read_with_an_hdu_named(tmp_path, suffix):
    """``image.fits.gz[0]``: the help's ``[SCI]`` form goes with every name it lists."""
    pixels = np.full((3, 5), 2.0, dtype=np.float32)
    path = tmp_path / f"image{suffix}"
    write_named(path, pixels)
    hdu = 1 if suffix.endswith(".fz") else 0
    np.testing.assert_allclose(np.asarray(read_fits_image(f"{path}[{hdu}]", "image")), pixels)


def test_survey_help_lists_every_name_a_lens_file_may_have():
    words = help_words("survey")
    assert set(lens_file_names("image.fits")) == EXPECTED_SURVEY
    missing = sorted(name for name in EXPECTED_SURVEY if name not in words)
    assert not missing, f"tinylens survey --help does not list {missing}"
