"""FITS reading, masks and dataset checks: clear DataErrors, bad pixels masked with warnings."""

from __future__ import annotations

import errno
import os
import re
import shlex
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from tinylens.config import Dataset as DatasetConfig
from tinylens.config import load_config
from tinylens.data import (
    MIN_USABLE_PIXELS,
    DataWarning,
    Dataset,
    annulus_mask,
    circle_mask,
    load_dataset,
    pixel_coordinates,
    read_fits_image,
    write_fits_image,
)
from tinylens.data.dataset import psf_peak
from tinylens.errors import ConfigTypeError, ConfigValueError, DataError, counted

SHAPE = (20, 24)
PIXEL_SCALE = 0.1


def gaussian_psf(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    r = np.arange(size) - (size - 1) / 2
    k = np.exp(-0.5 * (r[:, None] ** 2 + r[None, :] ** 2) / sigma**2)
    return k / k.sum()


def put(path: Path, array) -> Path:
    fits.PrimaryHDU(np.asarray(array)).writeto(path, overwrite=True)
    return path


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """A valid image, noise map and PSF in tmp_path."""
    rng = np.random.default_rng(1)
    return {
        "data_path": put(tmp_path / "image.fits", rng.normal(size=SHAPE)),
        "noise_path": put(tmp_path / "noise.fits", np.full(SHAPE, 0.5)),
        "psf_path": put(tmp_path / "psf.fits", gaussian_psf()),
    }


def config(**kwargs) -> DatasetConfig:
    values = {"data_path": "image.fits", "noise_path": "noise.fits", "psf_path": "psf.fits", "pixel_scale": PIXEL_SCALE}
    values.update(kwargs)
    return DatasetConfig(**values)


def load_quietly(cfg: DatasetConfig, base: Path) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a valid dataset raises no warning
        return load_dataset(cfg, base)


def load_warning(cfg: DatasetConfig, base: Path) -> tuple[Dataset, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = load_dataset(cfg, base)
    return dataset, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def data_error(cfg: DatasetConfig, base: Path) -> str:
    with pytest.raises(DataError) as info:
        load_dataset(cfg, base)
    return str(info.value)


# -- valid data ---------------------------------------------------------------------------------
def test_valid_dataset_loads(tmp_path, files):
    d = load_quietly(config(nsub=2, zeropoint=25.0), tmp_path)
    assert d.data.shape == d.noise.shape == d.mask.shape == SHAPE and d.data.dtype == np.float64
    assert d.mask.dtype == bool and d.mask.all() and d.n_used == SHAPE[0] * SHAPE[1]
    np.testing.assert_allclose(d.psf, gaussian_psf())
    assert (d.pixel_scale, d.nsub, d.zeropoint) == (PIXEL_SCALE, 2, 25.0)
    assert d.data_path == files["data_path"] and d.mask_path is None
    np.testing.assert_array_equal(d.data, fits.getdata(files["data_path"]))
    with pytest.raises(ValueError):
        d.data[0, 0] = 1.0  # arrays are read-only


def test_yaml_relative_paths_resolve_against_config_folder(tmp_path, files, monkeypatch):
    sub = tmp_path / "cfg"
    sub.mkdir()
    (sub / "model.yaml").write_text(
        "dataset: {data_path: ../image.fits, noise_path: ../noise.fits, psf_path: ../psf.fits, pixel_scale: 0.1}\n"
        "model_components:\n  lens_light_list:\n    - {type: Sersic}\n"
    )
    monkeypatch.chdir(Path("/"))
    cfg, base = load_config(sub / "model.yaml")
    d = load_quietly(cfg.dataset, base)
    assert d.data.shape == SHAPE


# -- FITS reading -------------------------------------------------------------------------------
def test_missing_file(tmp_path, files):
    text = data_error(config(noise_path="no_such_noise.fits"), tmp_path)
    assert "no_such_noise.fits" in text and "not found" in text and "noise_path" in text


def test_corrupt_file(tmp_path, files):
    (tmp_path / "image.fits").write_text("this is not a FITS file\n" * 20)
    text = data_error(config(), tmp_path)
    assert "image.fits" in text and "could not be read" in text


def test_truncated_file(tmp_path):
    path = put(tmp_path / "big.fits", np.ones((100, 100)))
    path.write_bytes(path.read_bytes()[:4000])
    with pytest.raises(DataError, match="big.fits"):
        read_fits_image(path, "data_path")


@pytest.mark.parametrize("how", ["plain", "gzip", "extension"])
def test_a_file_cut_short_is_said_to_be_cut_short_by_the_fit(tmp_path, files, how):
    """A FITS file cut short in its pixels (a download or copy stopped), its header whole, failed a
    fit with astropy's 'cannot reshape array of size 265 into shape (100,100)', while the survey's
    dry run (read_fits_shape) said of the same file that it is N bytes long and where its header
    puts the end of its pixels; the loader now says so too, with the file's own length and the
    end the header gives (the header blocks, then the pixels)."""
    import gzip

    image = np.arange(float(np.prod(SHAPE))).reshape(SHAPE)
    hdus = [fits.PrimaryHDU(image)] if how != "extension" else [fits.PrimaryHDU(), fits.ImageHDU(image)]
    whole = tmp_path / "whole.fits"
    fits.HDUList(hdus).writeto(whole)
    raw = whole.read_bytes()
    end = len(raw) - 2880 * (-(-image.nbytes // 2880)) + image.nbytes  # the last header block's end + pixels
    cut = raw[:end - 1000]
    name = "image.fits.gz" if how == "gzip" else "image.fits"
    (tmp_path / name).write_bytes(gzip.compress(cut) if how == "gzip" else cut)
    text = data_error(config(data_path=name + ("[1]" if how == "extension" else "")), tmp_path)
    assert name in text and "could not be read as a FITS image" in text and "reshape" not in text
    if how == "gzip":
        assert f"decompressed, it ends before byte {end}" in text
    else:
        assert f"it is {len(cut)} bytes long" in text and f"end of its image's pixels at byte {end}" in text


@pytest.mark.parametrize("start", [b"\x1f\x8b\x08\x00", b"PK\x03\x04"], ids=["gzip", "zip"])
def test_corrupt_compressed_file(tmp_path, start):
    """A file that starts like a gzip or zip archive (astropy decompresses those) but is corrupt
    is a DataError naming it, not zlib's or zipfile's own error (a survey's lens fails alone)."""
    path = tmp_path / "image.fits"
    path.write_bytes(start + bytes(100))
    with pytest.raises(DataError, match="image.fits.*could not be read"):
        read_fits_image(path, "data_path")


def test_cube_with_several_planes_refused(tmp_path, files):
    put(files["data_path"], np.ones((3, *SHAPE)))
    text = data_error(config(), tmp_path)
    assert "image.fits" in text and "3 planes" in text


def test_single_plane_cube_is_squeezed(tmp_path):
    path = put(tmp_path / "cube.fits", np.arange(12.0).reshape(1, 3, 4))
    np.testing.assert_array_equal(read_fits_image(path, "data_path"), np.arange(12.0).reshape(3, 4))


@pytest.mark.parametrize("shape", [(3, 4, 1), (1, 3, 1, 4)])
def test_a_cube_with_two_axes_longer_than_one_is_squeezed_in_order(tmp_path, shape):
    """A (ny, nx, 1) array (channels-last, as numpy writes it) was refused as a cube of ny planes."""
    image = np.arange(12.0).reshape(3, 4)
    path = put(tmp_path / "cube.fits", image.reshape(shape))
    np.testing.assert_array_equal(read_fits_image(path, "data_path"), image)
    with pytest.raises(DataError, match="2 planes"):
        read_fits_image(put(tmp_path / "two.fits", np.stack([image, image])), "data_path")


def test_one_dimensional_refused(tmp_path):
    with pytest.raises(DataError, match="2-D"):
        read_fits_image(put(tmp_path / "line.fits", np.ones(10)), "data_path")


@pytest.mark.parametrize("stored, what", [((1, 1, 30), "a single row of 30 pixels"), ((30, 1), "a single column of 30 pixels"),
                                           ((1, 1, 1), "a single pixel")])
def test_an_image_of_one_row_or_column_is_refused_naming_its_shape(tmp_path, files, stored, what):
    """A (1, 1, 5) cube was read as a 1 x 5 image and refused for too few usable pixels, with the
    mask and the noise map named as what to check; one of 30 pixels was fitted as a lens image."""
    put(files["data_path"], np.ones(stored))
    put(files["noise_path"], np.full(stored, 0.5))
    text = data_error(config(), tmp_path)
    assert text.startswith(f"dataset.data_path file {files['data_path']} holds an array of shape {stored}: {what}, "
                           "not an image. tinylens needs a 2-D image"), text
    assert "mask" not in text


def test_image_in_extension_and_no_image(tmp_path):
    path = tmp_path / "ext.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 5), dtype=np.float32))]).writeto(path)
    image = read_fits_image(path, "data_path")
    assert image.shape == (4, 5) and image.dtype == np.float64
    table = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("a", "E", array=[1.0])])]).writeto(table)
    with pytest.raises(DataError, match="no image data"):
        read_fits_image(table, "psf_path")


def test_write_fits_image_round_trip(tmp_path):
    path = write_fits_image(tmp_path / "mask.fits", np.eye(3, dtype=bool), {"OBJECT": "lens"})
    np.testing.assert_array_equal(read_fits_image(path, "mask_path"), np.eye(3))
    assert fits.getheader(path)["OBJECT"] == "lens"
    write_fits_image(path, np.zeros((2, 2)))  # overwrites
    assert read_fits_image(path).shape == (2, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.fits"]  # no temporary left behind



@pytest.mark.parametrize("code", [errno.EIO, errno.ESTALE])
def test_write_fits_image_on_a_failing_disk_says_what_to_check_and_keeps_the_earlier_file(tmp_path, monkeypatch, code):
    """A disk failing as the FITS file was flushed to it (os.fsync's EIO, NFS's ESTALE) was said as
    'Cannot write the FITS file PATH: Input/output error.', no word of why or what to do; it now
    says what failed, that the earlier file is kept whole, what to check (dmesg) and to write it
    again, and the earlier file is kept byte for byte, no temporary left."""
    from tinylens.errors import OutputError

    path = write_fits_image(tmp_path / "image.fits", np.ones((3, 3)))
    before = path.read_bytes()

    def failed(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", failed)
    with pytest.raises(OutputError) as info:
        write_fits_image(path, np.zeros((2, 2)))
    monkeypatch.undo()
    message = str(info.value)
    assert message.startswith(f"Cannot write the FITS file {path}: {os.strerror(code)} ("), message
    assert "the earlier image.fits, if there was one, is kept" in message and "dmesg" in message, message
    assert message.endswith("then write it again."), message
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["image.fits"]


def test_write_fits_image_whose_folder_flush_fails_says_the_new_file_is_in_place_not_the_earlier_kept(
        tmp_path, monkeypatch, fail_folder_flushes):
    """An EIO of flushing the folder after the rename (the file's own flush went through) was said
    as 'the earlier image.fits, if there was one, is kept', though the new file had replaced it; it
    now says that the new file is whole and in place and that a crash may yet lose the rename, which
    is what the folder holds (the new image read back, no temporary left)."""
    from tinylens.errors import OutputError

    path = write_fits_image(tmp_path / "image.fits", np.ones((3, 3)))
    fail_folder_flushes()
    with pytest.raises(OutputError) as info:
        write_fits_image(path, np.zeros((2, 2)))
    monkeypatch.undo()
    message = " ".join(str(info.value).split())
    assert np.array_equal(fits.getdata(path), np.zeros((2, 2)))  # the new image replaced the earlier one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.fits"]
    assert "earlier image.fits, if there was one, is kept" not in message, message
    assert "the new image.fits is whole and in place" in message and "crash" in message and "dmesg" in message, message


def test_write_fits_image_writes_a_float16_array_as_float32_and_refuses_a_float128_clearly(tmp_path):
    """A float16 array (a half-precision image from a network or a compressed store) ended in
    astropy's bare KeyError 'float16'; FITS has no 16-bit floats, so it is written as float32
    (BITPIX -32), every value exact. A float128 one, which FITS cannot hold either, is refused
    naming the file and what to do, not with astropy's KeyError 'float128'."""
    from tinylens.errors import ConfigTypeError

    half = np.array([[0.1, -2.5, 65504.0], [6.1e-5, 0.0, 1.0 / 3.0]], dtype=np.float16)
    path = write_fits_image(tmp_path / "half.fits", half)
    with fits.open(path) as hdul:
        assert hdul[0].header["BITPIX"] == -32 and hdul[0].data.dtype.name in ("float32", ">f4")
        np.testing.assert_array_equal(hdul[0].data, half.astype(np.float64))  # each float16 value, exactly
    if np.dtype(np.longdouble).itemsize > 8:  # float128 where the platform has it
        with pytest.raises(ConfigTypeError, match=r"float128 .*wide.fits.*astype\(np\.float64\)"):
            write_fits_image(tmp_path / "wide.fits", np.ones((2, 2), dtype=np.longdouble))
        assert not (tmp_path / "wide.fits").exists()


def test_write_fits_image_writes_through_the_shared_atomic_writer(tmp_path, monkeypatch):
    """write_fits_image had its own temporary file (``.NAME.PID.HEX.tmp``) beside the shared
    atomic writer, so a temporary that a killed process left was one that remove_unfinished and
    remove_all_unfinished do not know; it now writes through write_atomic: its temporary is theirs,
    the file gets the usual permissions, and a failed write leaves neither file nor temporary, and
    an earlier file as it was, with the OutputError naming the file."""
    from tinylens.errors import OutputError
    from tinylens.results.tables import UNFINISHED_NAME

    temporaries, write_bytes = [], Path.write_bytes

    def recorded(self, data):
        temporaries.append(self.name)
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", recorded)
    path = write_fits_image(tmp_path / "image.fits", np.ones((3, 3)))
    assert len(temporaries) == 1 and UNFINISHED_NAME.fullmatch(temporaries[0]), temporaries
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.fits"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask

    def full(self, data):
        write_bytes(self, data[:100])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full)
    for name in ("image.fits", "noise.fits"):  # over an earlier file, and new
        with pytest.raises(OutputError) as info:
            write_fits_image(tmp_path / name, np.zeros((2, 2)))
        assert str(info.value) == f"Cannot write the FITS file {tmp_path / name}: {os.strerror(errno.ENOSPC)}."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.fits"]
    np.testing.assert_array_equal(read_fits_image(path), np.ones((3, 3)))


def test_a_dataset_mask_written_as_its_docstring_says_reads_back_as_mask_path(tmp_path, files):
    """write_fits_image's docstring called a boolean array 'a mask' written 1 = True, so a
    dataset's mask (True = used) written as it is came back from mask_path inverted; written as
    ~mask, as the docstring now says, it is the same mask again."""
    first = load_quietly(config(mask={"type": "circle", "r_max": 0.7}), tmp_path)
    write_fits_image(tmp_path / "mask.fits", ~first.mask)
    again = load_quietly(config(mask_path="mask.fits"), tmp_path)
    np.testing.assert_array_equal(again.mask, first.mask)

# -- noise and data checks ----------------------------------------------------------------------
def test_shape_mismatch_gives_both_shapes(tmp_path, files):
    put(files["noise_path"], np.ones((20, 20)))
    text = data_error(config(), tmp_path)
    assert "noise.fits" in text and "image.fits" in text and "20 x 20" in text and "20 x 24" in text


def test_nan_data_pixels_masked_with_warning(tmp_path, files):
    image = fits.getdata(files["data_path"])
    image[2, 3] = np.nan
    image[5, 6] = np.inf
    put(files["data_path"], image)
    d, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1 and "2 pixels" in messages[0] and "image.fits" in messages[0]
    assert not d.mask[2, 3] and not d.mask[5, 6] and d.n_used == SHAPE[0] * SHAPE[1] - 2
    assert np.isfinite(d.data).all()


def test_zero_and_negative_noise_masked_with_warning(tmp_path, files):
    noise = np.full(SHAPE, 0.5)
    noise[0, 0] = 0.0
    noise[1, 1] = -1.0
    noise[2, 2] = np.nan
    put(files["noise_path"], noise)
    d, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1 and "3 pixels" in messages[0] and "noise.fits" in messages[0]
    assert not d.mask[0, 0] and not d.mask[1, 1] and not d.mask[2, 2] and d.mask[3, 3]
    assert np.all(d.noise[~d.mask] == np.inf)


def test_bad_pixels_outside_user_mask_are_silent(tmp_path, files):
    image = fits.getdata(files["data_path"])
    image[0, 0] = np.nan  # far corner, outside the circle
    put(files["data_path"], image)
    d = load_quietly(config(mask={"type": "circle", "r_max": 0.5}), tmp_path)
    assert not d.mask[0, 0]


def test_too_few_usable_pixels(tmp_path, files):
    """One error that gives the counts, not a 'masked' warning first."""
    put(files["noise_path"], np.zeros(SHAPE))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        text = data_error(config(), tmp_path)
    assert f"at least {MIN_USABLE_PIXELS}" in text and "noise" in text


# -- PSF ----------------------------------------------------------------------------------------
def test_even_psf_refused(tmp_path, files):
    put(files["psf_path"], np.ones((4, 5)) / 20)
    text = data_error(config(), tmp_path)
    assert "psf.fits" in text and "odd" in text and "4 x 5" in text and "Crop or pad" in text


def test_unnormalised_psf_normalised_with_warning(tmp_path, files):
    put(files["psf_path"], 3.0 * gaussian_psf())
    d, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1 and "psf.fits" in messages[0] and "sums to 3" in messages[0]
    assert d.psf.sum() == pytest.approx(1.0)


def test_nearly_normalised_psf_normalised_silently(tmp_path, files):
    put(files["psf_path"], (1 + 5e-4) * gaussian_psf())
    d = load_quietly(config(), tmp_path)
    assert d.psf.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("value, fragment", [(np.nan, "NaN"), (-1.0, "sums to")])
def test_bad_psf_refused(tmp_path, files, value, fragment):
    psf = np.zeros((3, 3))
    psf[1, 1] = value
    put(files["psf_path"], psf)
    text = data_error(config(), tmp_path)
    assert "psf.fits" in text and fragment in text


def test_off_centre_psf_warns(tmp_path, files):
    psf = np.zeros((7, 7))
    psf[0, 0] = 1.0
    put(files["psf_path"], psf)
    _, messages = load_warning(config(), tmp_path)
    assert any("peaks at pixel" in m for m in messages)


# -- masks --------------------------------------------------------------------------------------
def test_pixel_coordinates_convention():
    x, y = pixel_coordinates((3, 5), 0.1)
    assert x[0, 0] == pytest.approx(-0.2) and x[0, -1] == pytest.approx(0.2)  # x grows with the column
    assert y[0, 0] == pytest.approx(-0.1) and y[-1, 0] == pytest.approx(0.1)  # y grows with the row
    assert x[1, 2] == 0 and y[1, 2] == 0


def test_circle_and_annulus_masks():
    circle = circle_mask((5, 5), 1.0, r_max=1.0)
    assert circle.sum() == 5 and circle[2, 2] and circle[2, 3]  # boundary included
    shifted = circle_mask((5, 5), 1.0, r_max=0.5, center_x=1.0, center_y=-1.0)
    assert shifted.sum() == 1 and shifted[1, 3]  # row 1 (y = -1), column 3 (x = +1)
    ring = annulus_mask((5, 5), 1.0, r_min=0.5, r_max=1.0)
    assert ring.sum() == 4 and not ring[2, 2]


@pytest.mark.parametrize("key, value", [("center_x", np.nan), ("center_y", np.inf), ("center_x", -np.inf),
                                        ("r_max", np.inf), ("pixel_scale", np.inf)])
@pytest.mark.parametrize("make", [circle_mask, annulus_mask])
def test_a_mask_with_a_centre_or_radius_not_finite_is_refused_naming_it(make, key, value):
    """A NaN or infinite centre gave a mask of no pixel, silently, and an infinite r_max one of every
    pixel: the argument is now named, with its value."""
    arguments = {"shape": (5, 5), "pixel_scale": 1.0, "r_max": 1.0} | ({"r_min": 0.5} if make is annulus_mask else {})
    with pytest.raises(ConfigValueError) as info:
        make(**(arguments | {key: value}))
    assert str(info.value).startswith(f"{make.__name__}: {key} must be a finite number"), info.value
    assert str(info.value).endswith(f"got {key} = {float(value)}.")
    with pytest.raises(ConfigValueError, match="annulus_mask: r_min must be a finite number"):
        annulus_mask((5, 5), 1.0, r_min=np.nan, r_max=1.0)


@pytest.mark.parametrize("key, value", [("r_max", 10**400), ("center_x", -(10**400)), ("pixel_scale", 10**400)])
@pytest.mark.parametrize("make", [circle_mask, annulus_mask])
def test_a_mask_argument_no_float_holds_is_refused_naming_it(make, key, value):
    """circle_mask(shape, 0.05, r_max=10**400) (a whole number of 400 digits, a number no float holds)
    raised a bare 'OverflowError: int too large to convert to float' from math.isfinite; it is refused
    as the infinite values are, naming the function and the argument, the value cut to its first digits."""
    arguments = {"shape": (5, 5), "pixel_scale": 1.0, "r_max": 1.0} | ({"r_min": 0.5} if make is annulus_mask else {})
    with pytest.raises(ConfigValueError) as info:
        make(**(arguments | {key: value}))
    unit = "arcsec per pixel" if key == "pixel_scale" else "arcsec"
    assert str(info.value).startswith(f"{make.__name__}: {key} must be a finite number ({unit}); got {key} = "), info.value
    assert str(info.value).endswith(f"... ({len(repr(value))} characters) (beyond the range of a float, about "
                                    "+-1.8e308)."), info.value


@pytest.mark.parametrize("key, value, shown", [("r_max", "1", "str '1'"), ("center_x", None, "NoneType None"),
                                               ("pixel_scale", [0.05], "list [0.05]")])
@pytest.mark.parametrize("make", [circle_mask, annulus_mask])
def test_a_mask_argument_that_is_not_a_number_is_refused_naming_it(make, key, value, shown):
    """circle_mask(shape, 0.05, r_max="1") (a value read from a text file) raised a bare TypeError
    ('must be real number, not str') naming neither the function nor the argument; it is now a
    ConfigError (a ConfigTypeError, a TypeError too) naming both, with the value and its type."""
    arguments = {"shape": (5, 5), "pixel_scale": 1.0, "r_max": 1.0} | ({"r_min": 0.5} if make is annulus_mask else {})
    with pytest.raises(ConfigTypeError) as info:  # a TypeError too, as math.isfinite raised it bare
        make(**(arguments | {key: value}))
    unit = "arcsec per pixel" if key == "pixel_scale" else "arcsec"
    assert str(info.value) == f"{make.__name__}: {key} must be a finite number ({unit}); got {shown}.", info.value


@pytest.mark.parametrize("call, message", [
    (lambda: circle_mask((5, 5), 1.0, r_max=0.0), "A circle mask needs r_max > 0 arcsec; got r_max = 0.0."),
    (lambda: circle_mask((5, 5), -0.05, r_max=1.0), "pixel_scale must be > 0 arcsec; got -0.05."),
    (lambda: annulus_mask((5, 5), 1.0, r_min=2.0, r_max=1.0),
     "An annulus mask needs 0 <= r_min < r_max (arcsec); got r_min = 2.0, r_max = 1.0."),
    (lambda: annulus_mask((5, 5), 1.0, r_min=-0.5, r_max=1.0),
     "An annulus mask needs 0 <= r_min < r_max (arcsec); got r_min = -0.5, r_max = 1.0."),
], ids=["circle_r_max_0", "pixel_scale_negative", "annulus_r_min_above_r_max", "annulus_r_min_negative"])
def test_a_mask_radius_or_pixel_scale_out_of_range_is_a_config_value_error(call, message):
    """A radius or pixel scale out of range was the plain ConfigError, which ``except ValueError``
    missed; it is a ConfigValueError (a ValueError too), its message as it was."""
    with pytest.raises(ConfigValueError) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert str(info.value) == message


def test_mask_from_file(tmp_path, files):
    """As TinyLensGpu reads mask_path (its load_data: pixels where the mask is True get a noise of
    1e8): 0 = used, non-zero = left out; NaN is left out too."""
    values = np.ones(SHAPE)
    values[5:15, 6:18] = 0.0
    values[7, 7] = np.nan
    put(tmp_path / "mask.fits", values)
    d = load_quietly(config(mask_path="mask.fits"), tmp_path)
    assert d.n_used == 10 * 12 - 1 and d.mask[5, 6] and not d.mask[4, 6] and not d.mask[7, 7]
    assert d.mask_path == tmp_path / "mask.fits"


def put_stored(path: Path, stored: np.ndarray, **keywords) -> Path:
    """Write ``stored`` as the values a FITS file holds, unscaled, with header ``keywords`` such as
    BZERO and BLANK (astropy would otherwise take the array as the values to scale)."""
    fits.PrimaryHDU(stored).writeto(path, overwrite=True)
    with fits.open(path, mode="update", do_not_scale_image_data=True) as hdul:
        hdul[0].header.update(keywords)
    return path


@pytest.mark.parametrize("stored_type, keywords", [
    (np.int16, {"BLANK": 0, "BZERO": 1}),  # astropy passed over a BLANK of 0: read as 1
    (np.uint8, {"BZERO": -128, "BLANK": 0}),  # a signed byte: read as -128, announced as a weight map
])
def test_the_blank_pixels_of_an_integer_mask_are_left_out_as_no_value(tmp_path, files, stored_type, keywords):
    """FITS marks the pixels of an integer image that hold no value with its BLANK value, as NaN
    does in a float image; astropy turned some into numbers (a mask's left out, but with a
    warning where negative)."""
    stored = np.full(SHAPE, -keywords["BZERO"], dtype=np.int64).astype(stored_type)  # 0 once scaled: used
    stored[:4, :5] = keywords["BLANK"]
    put_stored(tmp_path / "mask.fits", stored, **keywords)
    d = load_quietly(config(mask_path="mask.fits"), tmp_path)  # no warning
    assert d.n_used == SHAPE[0] * SHAPE[1] - 20 and not d.mask[:4, :5].any()
    assert np.isnan(read_fits_image(tmp_path / "mask.fits")[:4, :5]).all()


@pytest.mark.parametrize("stored_type, keywords", [
    (np.uint8, {"BZERO": -128, "BLANK": 255}),  # a signed byte: refused as a corrupt file ('cannot convert float NaN')
    (np.int16, {"BZERO": 32768, "BLANK": 32767}),  # unsigned 16-bit: fitted as 65535
])
def test_the_blank_pixels_of_an_integer_image_are_masked_as_no_value(tmp_path, files, stored_type, keywords):
    """The BLANK pixels of a signed-byte image (BZERO -128) made astropy fail, and the image was
    refused as a corrupt file; those of an unsigned 16-bit one (BZERO 32768) were fitted as values."""
    stored = np.random.default_rng(3).integers(100, 156, SHAPE).astype(stored_type)
    stored[2, 3] = stored[5, 6] = keywords["BLANK"]
    put_stored(files["data_path"], stored, **keywords)
    _, texts = load_warning(config(), tmp_path)
    assert f"{files['data_path']}: 2 pixels with a NaN or infinite data value; masked (left out of the fit)." in texts
    expected = stored.astype(float) + keywords["BZERO"]
    expected[stored == keywords["BLANK"]] = np.nan
    np.testing.assert_array_equal(read_fits_image(files["data_path"]), expected)


def test_a_tinylensgpu_mask_leaving_out_the_outskirts_is_read_as_there(tmp_path, files):
    """TinyLensGpu's own example masks (mask = r > R) leave out the pixels far from the lens; they
    were read the other way round (the lens and arcs left out, the outskirts fitted)."""
    x, y = pixel_coordinates(SHAPE, PIXEL_SCALE)
    put(tmp_path / "mask.fits", (np.hypot(x, y) > 0.5).astype(float))
    d = load_quietly(config(mask_path="mask.fits"), tmp_path)
    np.testing.assert_array_equal(d.mask, np.hypot(x, y) <= 0.5)


def test_a_mask_of_another_convention_is_announced(tmp_path, files):
    """Negative or fractional values (a -1/+1 mask, a weight map), a mask using under 5 % of the image, or
    one leaving out the image's centre (a mask that is 1 on the pixels to fit, as lenstronomy's):
    a warning each, naming the file and saying how it is read; the mask is still read as 0 = used."""
    bits = np.zeros(SHAPE)
    bits[2:18, 2:20] = 4.0
    bits[3, 3] = -1.0
    bits[4, 4] = 0.5
    bits[9:11, 10:20] = 0.0  # the centre used, joined to the outskirts (not cut off by a left-out ring)
    put(tmp_path / "bits.fits", bits)
    d, shown = load_warning(config(mask_path="bits.fits"), tmp_path)
    assert d.n_used == SHAPE[0] * SHAPE[1] - 16 * 18 + 20 and len(shown) == 1
    assert "bits.fits: the mask holds 2 values that are not 0, NaN or a positive whole number (a flag) (e.g. -1, 0.5)" \
        in shown[0]
    fit_here = np.zeros(SHAPE)
    fit_here[:3, :4] = 1  # 1 on the 12 pixels to fit, 2.5 % of the image: 97.5 % used
    fit_here = 1 - fit_here
    put(tmp_path / "few.fits", fit_here)
    d, shown = load_warning(config(mask_path="few.fits"), tmp_path)
    assert d.n_used == 12 and len(shown) == 1
    assert "few.fits: the mask uses 12 of 480 pixels (2.5 %)" in shown[0] and "inverted" in shown[0]
    x, y = pixel_coordinates(SHAPE, PIXEL_SCALE)
    disc = (np.hypot(x, y) < 0.6).astype(float)  # 1 on the lens and its arcs, the pixels to fit
    put(tmp_path / "disc.fits", disc)
    d, shown = load_warning(config(mask_path="disc.fits"), tmp_path)
    assert d.n_used == int((disc == 0).sum()) and len(shown) == 1
    assert "disc.fits: the mask leaves out the image's centre" in shown[0] and "1 - mask" in shown[0]


def test_a_lenstronomy_annulus_mask_read_the_other_way_is_announced(tmp_path, files):
    """A lenstronomy likelihood mask of an annulus (1 from r_min to r_max, on the arcs), read as 0 =
    used, leaves out the arcs and fits the lens's core and the outskirts: the centre is used, so the
    'leaves out the image's centre' warning never came, and the fit went on without a word. It is
    announced now; a mask merely leaving out scattered pixels or a neighbour is not."""
    x, y = pixel_coordinates(SHAPE, PIXEL_SCALE)
    r = np.hypot(x, y)
    ring = ((r >= 0.25) & (r <= 0.75)).astype(float)
    put(tmp_path / "ring.fits", ring)
    d, shown = load_warning(config(mask_path="ring.fits"), tmp_path)
    assert d.n_used == int((ring == 0).sum()) and len(shown) == 1, shown  # still read as 0 = used
    core = int((r < 0.25).sum())
    assert (f"ring.fits: the mask leaves out a ring around the image's centre, where the lens and its arcs are, and "
            f"uses {core} pixels inside it and {d.n_used - core} outside it") in shown[0] and "1 - mask" in shown[0]
    neighbour = (np.hypot(x - 0.6, y + 0.4) < 0.3).astype(float)  # a star masked beside the lens
    scattered = (np.random.default_rng(3).random(SHAPE) < 0.2).astype(float)  # bad pixels, a fifth of them
    for name, left_out in (("neighbour", neighbour), ("scattered", scattered)):
        put(tmp_path / f"{name}.fits", left_out)
        d, shown = load_warning(config(mask_path=f"{name}.fits"), tmp_path)
        assert d.n_used == int((left_out == 0).sum()) and shown == [], (name, shown)


def test_a_mask_meant_to_leave_out_the_centre_is_not_announced(tmp_path, files):
    """An annulus in TinyLensGpu's convention (1 inside r_min and outside r_max: the lens light's
    core and the outskirts left out), or one leaving out only a small core, is meant as read: it
    was told, like a lenstronomy mask, that it leaves out the centre and to invert it."""
    x, y = pixel_coordinates(SHAPE, PIXEL_SCALE)
    r = np.hypot(x, y)
    for name, left_out in (("annulus", (r < 0.3) | (r > 0.9)), ("core", r < 0.15)):
        put(tmp_path / f"{name}.fits", left_out.astype(float))
        d, shown = load_warning(config(mask_path=f"{name}.fits"), tmp_path)
        assert d.n_used == int((~left_out).sum()) and shown == [], (name, shown)


def test_an_image_of_one_value_is_announced(tmp_path, files):
    put(tmp_path / "blank.fits", np.zeros(SHAPE))
    d, shown = load_warning(config(data_path="blank.fits"), tmp_path)
    assert d.n_used == SHAPE[0] * SHAPE[1]
    assert len(shown) == 1 and "blank.fits: the image holds 0 in every used pixel" in shown[0]


def test_mask_file_shape_mismatch(tmp_path, files):
    put(tmp_path / "mask.fits", np.ones((5, 5)))
    text = data_error(config(mask_path="mask.fits"), tmp_path)
    assert "mask.fits" in text and "5 x 5" in text


def test_annulus_mask_and_file_combined(tmp_path, files):
    annulus = {"type": "annulus", "r_min": 0.3, "r_max": 0.8, "center_x": 0.1}
    d = load_quietly(config(mask=annulus), tmp_path)
    x, y = pixel_coordinates(SHAPE, PIXEL_SCALE)
    r = np.hypot(x - 0.1, y)
    np.testing.assert_array_equal(d.mask, (r >= 0.3) & (r <= 0.8))
    left = np.zeros(SHAPE)
    left[:, : SHAPE[1] // 2] = 1
    put(tmp_path / "left.fits", left)
    both = load_quietly(config(mask=annulus, mask_path="left.fits"), tmp_path)
    np.testing.assert_array_equal(both.mask, d.mask & (left == 0))


def test_mask_excluding_everything_refused(tmp_path, files):
    text = data_error(config(mask={"type": "circle", "r_max": 0.05, "center_x": 50.0}), tmp_path)
    assert "mask" in text and f"at least {MIN_USABLE_PIXELS}" in text


def test_a_fits_file_with_several_images_warns_which_it_uses(tmp_path):
    from tinylens.data.fits_io import read_fits_image
    from tinylens.errors import DataWarning

    dq, sci = np.zeros((5, 5)), np.arange(25.0).reshape(5, 5)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(dq, name="DQ"), fits.ImageHDU(sci, name="SCI")]).writeto(tmp_path / "two.fits")
    with pytest.warns(DataWarning, match=r"HDU \[1\] 'DQ' is used, not \[2\] 'SCI'"):
        np.testing.assert_array_equal(read_fits_image(tmp_path / "two.fits"), dq)

    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(sci, name="SCI")]).writeto(tmp_path / "one.fits")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(read_fits_image(tmp_path / "one.fits"), sci)
    with pytest.warns(DataWarning, match=r"name the one you mean, e.g. two.fits\[SCI\]"):
        read_fits_image(tmp_path / "two.fits")


def test_the_image_named_after_several_is_one_that_name_finds(tmp_path):
    """Of several images of one EXTNAME (SCI, EXTVER 1 and 2), the warning advised [SCI], which reads
    the very HDU it warned about: the other is now named by its index, which reads it."""
    from tinylens.data.fits_io import read_fits_image

    first, second = np.zeros((5, 5)), np.arange(25.0).reshape(5, 5)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(first, name="SCI", ver=1),
                  fits.ImageHDU(second, name="SCI", ver=2)]).writeto(tmp_path / "chips.fits")
    with pytest.warns(DataWarning, match=r"HDU \[1\] 'SCI' is used, not \[2\] 'SCI'\. If that is the wrong one, name "
                                         r"the one you mean, e.g\. chips\.fits\[2\]\.$"):
        read_fits_image(tmp_path / "chips.fits")
    np.testing.assert_array_equal(read_fits_image(f"{tmp_path / 'chips.fits'}[2]"), second)


def hst_like(path: Path) -> dict[str, np.ndarray]:
    """An HST-like file: empty primary, SCI, ERR, DQ and a second SCI (EXTVER 2)."""
    rng = np.random.default_rng(2)
    arrays = {"SCI": rng.normal(size=SHAPE), "ERR": np.full(SHAPE, 0.5), "DQ": np.zeros(SHAPE), "SCI2": rng.normal(size=SHAPE)}
    hdus = [fits.PrimaryHDU()] + [fits.ImageHDU(arrays[n], name=n) for n in ("SCI", "ERR", "DQ")]
    hdus.append(fits.ImageHDU(arrays["SCI2"], name="SCI", ver=2))
    fits.HDUList(hdus).writeto(path)
    return arrays


def test_a_path_may_name_the_hdu_by_index_extname_or_extver(tmp_path):
    arrays = hst_like(tmp_path / "drz.fits")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # naming the HDU silences the several-images warning
        for suffix, expected in [("[1]", "SCI"), ("[SCI]", "SCI"), ("[err]", "ERR"), ("[ERR]", "ERR"), ("[SCI,2]", "SCI2"),
                                 ("[ SCI , 2 ]", "SCI2"), ("[4]", "SCI2")]:
            np.testing.assert_array_equal(read_fits_image(f"{tmp_path / 'drz.fits'}{suffix}"), arrays[expected], err_msg=suffix)


def test_science_and_error_images_of_one_file_make_a_dataset(tmp_path, files):
    arrays = hst_like(tmp_path / "drz.fits")
    d = load_quietly(config(data_path="drz.fits[SCI]", noise_path="drz.fits[ERR]"), tmp_path)
    np.testing.assert_array_equal(d.data, arrays["SCI"])
    np.testing.assert_array_equal(d.noise, arrays["ERR"])


@pytest.mark.parametrize("suffix, fragments", [
    ("[WHT]", ["has no HDU [WHT]", "[1] ImageHDU 'SCI'", "[2] ImageHDU 'ERR'"]),
    ("[7]", ["has no HDU [7]", "[3] ImageHDU 'DQ'"]),
    ("[SCI,3]", ["has no HDU [SCI,3]"]),
    ("[0]", ["HDU [0] (PrimaryHDU 'PRIMARY') holds no image"]),
])
def test_a_named_hdu_that_is_missing_or_empty_is_refused_with_the_list(tmp_path, suffix, fragments):
    hst_like(tmp_path / "drz.fits")
    text = data_error(config(data_path=f"drz.fits{suffix}"), tmp_path)
    for fragment in ["dataset.data_path", str(tmp_path / "drz.fits"), *fragments]:
        assert fragment in text, (fragment, text)


def test_a_missing_file_with_an_hdu_names_the_file(tmp_path, files):
    text = data_error(config(data_path="nothere.fits[SCI]"), tmp_path)
    assert f"file not found: {tmp_path / 'nothere.fits'}." in text


@pytest.mark.parametrize("key, name, padded", [("data_path", "image.fits ", "image.fits "),
                                                 ("noise_path", " noise.fits", " noise.fits")])
def test_a_file_name_with_a_space_at_an_end_says_so_and_names_the_file_without_it(tmp_path, files, key, name, padded):
    """A name with a space at its end ("image.fits ", quoted in YAML or pasted from a table) was
    'file not found: .../image.fits .', the space unseen; the message now shows the path quoted,
    names the padded name and the file that exists without the space."""
    text = data_error(config(**{key: name}), tmp_path)
    assert f"file not found: {str(tmp_path / name)!r}." in text, text
    assert f"The name {padded!r} begins or ends with white space: remove it ({files[key]} exists)." in text, text


def test_a_padded_name_whose_file_does_not_exist_without_the_space_is_named_all_the_same(tmp_path, files):
    text = data_error(config(data_path="nothere.fits "), tmp_path)
    assert "The name 'nothere.fits ' begins or ends with white space: remove it." in text, text


@pytest.mark.parametrize("key, name, is_survey_file", [
    ("data_path", "image.fits", True), ("data_path", "image.fits.gz", True), ("noise_path", "noise.fits.fz", True),
    ("psf_path", "psf.fits.gz", True), ("data_path", "drz.fits.gz", False), ("noise_path", "noise.fits.bz2", False)])
def test_a_survey_templates_gzipped_file_names_get_the_survey_hint(tmp_path, files, key, name, is_survey_file):
    """A survey template run alone, whose lenses are gzipped (image.fits.gz) or tile-compressed
    (noise.fits.fz), as the survey finds them, got no advice to check it as a template: only the
    plain .fits names were recognised."""
    (tmp_path / name).unlink(missing_ok=True)  # the lens folder's file, not the template's
    text = data_error(config(**{key: name}), tmp_path)
    assert f"file not found: {tmp_path / name}." in text
    assert ("If this is a survey template" in text) is is_survey_file, text


def _two_lens_folders(population, files):
    """A population folder as simulate-population writes one: lens_00004 and lens_00002, each with
    a copy of the ``files``, beside a folder ``notes`` of no lens."""
    (population / "notes").mkdir(parents=True)  # a folder of no lens
    for lens in ("lens_00004", "lens_00002"):
        (population / lens).mkdir()
        for path in files.values():
            (population / lens / path.name).write_bytes(path.read_bytes())


def test_a_survey_template_loaded_alone_is_told_which_base_dir_loads_one_of_its_lenses(tmp_path, files):
    """tinylens.load("mocks/template.yaml"), simulate-population's template loaded in Python, said to
    check it with 'tinylens survey ... --dry-run', nothing of how to load one of its lenses; it now
    names the base_dir that does, the first lens folder holding the file, and does so."""
    population = tmp_path / "mocks"
    _two_lens_folders(population, files)
    text = data_error(config(), population)
    assert f"tinylens.load(TEMPLATE, base_dir={str(population / 'lens_00002')!r})." in text, text
    assert load_quietly(config(), population / "lens_00002").data.shape == SHAPE
    assert "base_dir=LENS_FOLDER)." in data_error(config(), population / "notes")  # no folder in it holds image.fits


@pytest.mark.parametrize("name", ["my mocks", "Bob's \"best\" mocks"])  # both quotes: shell-quoted, not repr'd
def test_a_survey_template_fitted_alone_is_told_the_command_that_fits_one_of_its_lenses(tmp_path, files, name):
    """tinylens fit examples/slacs/template.yaml, a new user's first try at one SLACS lens, said how
    to check the template (--dry-run) and how to load a lens in Python, but not how to fit one from
    the command line; it now gives the survey command that fits one lens, with the lens folder
    holding the file and its parent where the template sits beside its lenses."""
    population = tmp_path / name
    _two_lens_folders(population, files)
    text = data_error(config(), population)
    command = re.search(r"fit one of its lenses with: (tinylens survey .*?);", text)
    assert command, text
    words = shlex.split(command.group(1))
    lens_dir, lens_id = Path(words[2]), words[words.index("--only") + 1]
    assert words[:2] == ["tinylens", "survey"] and words[3:7] == ["--config", "TEMPLATE", "--out", "FOLDER"], words
    assert lens_dir == population and lens_id == "lens_00002" and (lens_dir / lens_id / "image.fits").is_file()
    elsewhere = data_error(config(), population / "notes")  # no folder in it holds image.fits
    assert ("fit one of its lenses with: tinylens survey LENS_DIR --config TEMPLATE --out FOLDER --only LENS_ID;"
            in elsewhere), elsewhere


@pytest.mark.parametrize("name", ["my mocks", "Bob's \"best\" mocks"])
def test_a_survey_template_fitted_alone_is_told_to_dry_run_it_on_its_own_lens_folder(tmp_path, files, name):
    """The same hint's dry run said 'tinylens survey LENS_DIR --config TEMPLATE ... --dry-run' though
    it knew the folder of the lens folders (the template's, holding lens_00002/image.fits), and put
    it in the --only command beside it: the user had to find and type it. The dry run now names that
    folder too, shell-quoted; LENS_DIR stays where no folder in the template's holds the file."""
    population = tmp_path / name
    _two_lens_folders(population, files)
    text = data_error(config(), population)
    command = re.search(r"check it with: (tinylens survey .*?--dry-run);", text)
    assert command, text
    words = shlex.split(command.group(1))
    assert words[:2] == ["tinylens", "survey"] and words[3:] == ["--config", "TEMPLATE", "--out", "FOLDER",
                                                                 "--dry-run"], words
    lens_dir = Path(words[2])
    assert lens_dir == population and (lens_dir / "lens_00002" / "image.fits").is_file(), words
    elsewhere = data_error(config(), population / "notes")  # no folder in it holds image.fits
    assert "check it with: tinylens survey LENS_DIR --config TEMPLATE --out FOLDER --dry-run;" in elsewhere, elsewhere


@pytest.mark.parametrize("key, name", [("data_path", "IMAGE.FITS"), ("psf_path", "Psf.fits.gz"),
                                       ("noise_path", "NOISE.FITS.FZ")])
def test_a_survey_file_name_in_another_case_gets_the_survey_hint(tmp_path, files, key, name):
    """The survey finds a lens folder's files in any case on every disk (IMAGE.FITS, as old
    archives write them), so a template naming them so is a survey template as much as one naming
    image.fits; the hint compared the name case-sensitively and left it out for such a template."""
    files[key].unlink()  # the lens folder's file, not the template's (on a case-insensitive disk too)
    text = data_error(config(**{key: name}), tmp_path)
    assert f"file not found: {tmp_path / name}." in text
    assert "If this is a survey template" in text and "--dry-run" in text, text


@pytest.mark.parametrize("name", ["image.fits", "drz.fits[SCI]"])
def test_a_file_in_a_folder_that_cannot_be_entered_is_named_not_a_bare_permission_error(tmp_path, files, monkeypatch,
                                                                                         refused_below, name):
    """A data file in a folder the user may not enter (no search permission): Path.exists raises
    PermissionError there on Python 3.11, which came out bare, with no key or file named. Now it is
    a DataError naming the key, the file and the folder to check. The folder is made unenterable by
    a patched Path.stat (refused_below), as the tests may run as root, whom permissions do not stop."""
    locked = tmp_path / "locked"
    locked.mkdir()
    refused_below(locked)
    file = locked / name.partition("[")[0]
    text = data_error(config(noise_path=f"locked/{name}"), tmp_path)
    assert text == (f"dataset.noise_path file {file} cannot be reached: permission denied on a folder on its path (a "
                    f"folder you may not enter; check with ls -ld on {locked} and the folders above it).")
    monkeypatch.undo()
    assert f"dataset.noise_path file not found: {file}." in data_error(config(noise_path=f"locked/{name}"), tmp_path)


def test_a_data_file_this_user_may_not_read_says_what_to_do(tmp_path, files, monkeypatch):
    """A data file this user may not read (another user's, chmod 600) was 'dataset.psf_path file
    PATH cannot be read: permission denied.' and no more, to tinylens.load's caller as to the
    command line; it now says, as for a config file, how to see its permissions and make it
    readable (the commands, the path quoted). The refusal is a patched os.access, as the tests may
    run as root, whom permissions do not stop."""
    import os
    import shlex

    folder = tmp_path / "a lens"
    folder.mkdir()
    psf = files["psf_path"].rename(folder / "psf.fits")
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, *a, **k: Path(path) != psf and access(path, mode, *a, **k))
    text = data_error(config(psf_path="a lens/psf.fits"), tmp_path)
    assert text == (f"dataset.psf_path file {psf} cannot be read: permission denied: this user may not read it. Check "
                    f"its permissions ({shlex.join(['ls', '-l', str(psf)])}), and make it readable "
                    f"({shlex.join(['chmod', 'a+r', str(psf)])}) or ask its owner to.")


def test_a_data_file_name_too_long_for_the_system_is_a_data_error_with_the_reason(tmp_path, files):
    """A dataset path whose name is longer than the system allows (255 bytes on most disks) made
    Path.exists raise ENAMETOOLONG: a bare OSError to tinylens.load's caller and a traceback from
    the command line; it is now a DataError naming the key, the file and the system's reason."""
    name = "p" * 300 + ".fits"
    text = data_error(config(psf_path=name), tmp_path)
    assert text == f"dataset.psf_path file {tmp_path / name} cannot be reached: {os.strerror(errno.ENAMETOOLONG)}."


def test_a_link_to_a_removed_file_says_where_it_points(tmp_path, files):
    """A data file that is a symbolic link into storage since purged (or an archive not mounted)
    was 'file not found', though ls lists it: the message names the link and its missing target,
    through a chain of links and for a target written relative to the link's folder."""
    archive = tmp_path / "archive"
    archive.mkdir()
    files["noise_path"].rename(archive / "noise.fits")
    files["noise_path"].symlink_to(archive / "noise.fits")
    (tmp_path / "relay.fits").symlink_to(Path("archive") / "noise.fits")
    (tmp_path / "chained.fits").symlink_to("relay.fits")
    (archive / "noise.fits").unlink()  # purged
    assert (f"dataset.noise_path file not found: {files['noise_path']} is a symbolic link to "
            f"{archive / 'noise.fits'}, which does not exist") in data_error(config(), tmp_path)
    text = data_error(config(noise_path="chained.fits"), tmp_path)
    assert f"{tmp_path / 'chained.fits'} is a symbolic link to {archive / 'noise.fits'}, which does not" in text
    (tmp_path / "loop.fits").symlink_to("loop.fits")
    assert "loop.fits is a symbolic link in a loop of links" in data_error(config(noise_path="loop.fits"), tmp_path)
    assert f"file not found: {tmp_path / 'nothere.fits'}." in data_error(config(noise_path="nothere.fits"), tmp_path)


def test_a_link_climbing_out_of_a_linked_folder_is_followed_from_its_real_place(tmp_path, files):
    """A link's target with '..' was joined to the link's folder as written and collapsed by
    normpath: lenses/lens_b/noise.fits -> ../archive/noise.fits, lens_b a link to run3/lens_b, was
    said to point to lenses/archive/noise.fits, a place the system never looked; the '..' is now
    taken from the folder's real place, run3, where the system looks (and the file is missing)."""
    run = tmp_path / "run3"
    (run / "lens_b").mkdir(parents=True)
    (run / "lens_b" / "noise.fits").symlink_to(Path("..") / "archive" / "noise.fits")  # archive purged
    lenses = tmp_path / "lenses"
    lenses.mkdir()
    (lenses / "lens_b").symlink_to(run / "lens_b", target_is_directory=True)
    noise = lenses / "lens_b" / "noise.fits"
    assert not (run / "archive" / "noise.fits").exists() and os.path.islink(noise)
    text = data_error(config(noise_path=str(noise)), tmp_path)
    assert (f"dataset.noise_path file not found: {noise} is a symbolic link to {run / 'archive' / 'noise.fits'}, "
            "which does not exist") in text, text


def test_a_link_climbing_out_through_another_link_names_no_file_that_exists_as_missing(tmp_path, files):
    """A link's target climbing out of a folder that is itself a link (lens_b/../archive/noise.fits)
    was collapsed by normpath as written, to lenses/archive/noise.fits, said not to exist where it
    did, and the system looked elsewhere: the '..' is now taken where the system takes it, and the
    target is shown as written where it climbs out of a link to a removed folder."""
    lenses, run = tmp_path / "lenses", tmp_path / "run3"
    (lenses / "archive").mkdir(parents=True)
    (run / "lens_b").mkdir(parents=True)
    for name in ("noise.fits", "other.fits"):
        put(lenses / "archive" / name, np.full(SHAPE, 0.5))  # there, but not where the links lead
    (lenses / "lens_b").symlink_to(run / "lens_b", target_is_directory=True)
    (lenses / "noise.fits").symlink_to(Path("lens_b") / ".." / "archive" / "noise.fits")
    (lenses / "gone").symlink_to(tmp_path / "scratch" / "gone", target_is_directory=True)  # purged
    (lenses / "other.fits").symlink_to(Path("gone") / ".." / "archive" / "other.fits")
    text = data_error(config(noise_path=str(lenses / "noise.fits")), tmp_path)
    assert (f"file not found: {lenses / 'noise.fits'} is a symbolic link to {run / 'archive' / 'noise.fits'}, which "
            "does not exist") in text, text
    text = data_error(config(noise_path=str(lenses / "other.fits")), tmp_path)
    assert (f"file not found: {lenses / 'other.fits'} is a symbolic link to {lenses / 'gone' / '..' / 'archive' / 'other.fits'}"
            ", which does not exist") in text, text


def test_a_file_in_a_folder_linked_to_a_removed_one_says_where_the_link_points(tmp_path, files):
    """A lens folder that is a symbolic link into scratch space since purged (lenses/lens_b ->
    /scratch/lens_b) gave a plain 'file not found' for its image.fits: the message now names the
    first link on the path that leads nowhere, and where it points."""
    scratch = tmp_path / "scratch"
    (scratch / "lens_b").mkdir(parents=True)
    lenses = tmp_path / "lenses"
    lenses.mkdir()
    (lenses / "lens_b").symlink_to(scratch / "lens_b")
    (lenses / "up").symlink_to(Path("lens_b") / "deeper")  # a link through the dangling one
    (scratch / "lens_b").rmdir()  # purged
    noise = lenses / "lens_b" / "noise.fits"
    assert (f"dataset.noise_path file not found: {noise}: the folder {lenses / 'lens_b'} it is in is a symbolic link "
            f"to {scratch / 'lens_b'}, which does not exist") in data_error(config(noise_path=str(noise)), tmp_path)
    text = data_error(config(noise_path=str(lenses / "up" / "noise.fits")), tmp_path)
    assert f"the folder {lenses / 'up'} it is in is a symbolic link to {lenses / 'lens_b' / 'deeper'}" in text, text
    (tmp_path / "loop").symlink_to("loop")
    text = data_error(config(noise_path="loop/noise.fits"), tmp_path)
    assert f"the folder {tmp_path / 'loop'} it is in is a symbolic link in a loop of links" in text, text
    (scratch / "lens_b").mkdir()  # there again: the file alone is missing
    assert f"file not found: {noise}." in data_error(config(noise_path=str(noise)), tmp_path)


@pytest.mark.parametrize("suffix, section", [("[SCI][5:15,2:12]", "5:15,2:12"), ("[1:10,1:10]", "1:10,1:10"),
                                             ("[1][*,3:8]", "*,3:8")])
def test_a_cfitsio_image_section_is_refused_as_such(tmp_path, files, suffix, section):
    """CFITSIO's image section (drz.fits[SCI][5:15,2:12]), which the [HDU] syntax invites, was taken as
    part of the file name: "file not found: drz.fits[SCI]" for a file that is there, or "no HDU [1:10,1:10]"."""
    hst_like(tmp_path / "drz.fits")
    text = data_error(config(data_path=f"drz.fits{suffix}"), tmp_path)
    assert f"dataset.data_path {tmp_path / 'drz.fits'}{suffix} ends in the image section [{section}]" in text
    assert "not found" not in text and "no HDU" not in text


def test_a_file_whose_name_ends_in_brackets_is_read_as_it_is(tmp_path):
    put(tmp_path / "odd[1]", np.ones(SHAPE))
    np.testing.assert_array_equal(read_fits_image(tmp_path / "odd[1]"), np.ones(SHAPE))


@pytest.mark.parametrize("as_given, fragment", [(lambda s: s**2, "a variance map"),
                                                (lambda s: 1 / s**2, "an inverse-variance (weight) map")])
def test_a_variance_or_weight_map_given_as_noise_is_announced(tmp_path, files, as_given, fragment):
    """The noise must be 1 sigma; a variance or a weight map (an HST drizzle's WHT) loaded
    silently, and the fit's uncertainties were wrong by orders of magnitude."""
    sigma = 0.05
    image = circle_mask(SHAPE, PIXEL_SCALE, 0.8) * 3.0 + np.random.default_rng(2).normal(0, sigma, SHAPE)
    put(files["data_path"], image)
    put(files["noise_path"], np.full(SHAPE, sigma))
    load_quietly(config(), tmp_path)  # the right noise map
    put(files["noise_path"], as_given(np.full(SHAPE, sigma)))
    dataset, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1 and "noise.fits" in messages[0] and fragment in messages[0]
    np.testing.assert_array_equal(dataset.noise, as_given(np.full(SHAPE, sigma)))  # announced, not changed


@pytest.mark.parametrize("exptime, image_scale, noise_scale, fragment", [
    (2000.0, 2000.0, 1.0, "an image in counts beside a noise in counts/s (multiply the noise by EXPTIME"),
    (2000.0, 1.0, 2000.0, "an image in counts/s beside a noise in counts (divide the noise by EXPTIME"),
])
def test_a_noise_in_counts_per_second_beside_an_image_in_counts_is_named(tmp_path, files, exptime, image_scale,
                                                                         noise_scale, fragment):
    """An image in counts (EXPTIME in its header) with its noise map in counts/s was announced only as
    'a variance map (noise = sqrt(variance))?', a fix that makes it worse; the factor matching the
    image's EXPTIME now names the units, and the fix."""
    sigma = 0.05
    image = circle_mask(SHAPE, PIXEL_SCALE, 0.8) * 3.0 + np.random.default_rng(2).normal(0, sigma, SHAPE)
    fits.PrimaryHDU(image * image_scale, header=fits.Header({"EXPTIME": exptime})).writeto(files["data_path"], overwrite=True)
    put(files["noise_path"], np.full(SHAPE, sigma * noise_scale))
    _, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1 and f"about the image's EXPTIME (2000 s): {fragment}" in messages[0], messages
    fits.PrimaryHDU(image, header=fits.Header({"EXPTIME": exptime})).writeto(files["data_path"], overwrite=True)
    put(files["noise_path"], np.full(SHAPE, sigma**2))  # a variance map: no word of EXPTIME
    _, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1 and "a variance map" in messages[0] and "EXPTIME" not in messages[0]


def test_a_noise_map_named_as_a_variance_or_weight_map_is_announced(tmp_path, files):
    """HSC's cutout.fits[VARIANCE] given as the noise, with a sky noise of 0.3 (a variance of 0.09,
    3 times below: inside the factor of 15 the scatter check allows), loaded silently, and the fit
    took every pixel for 3 times less noisy than it is. The HDU's or the file's name now says so."""
    sigma = 0.3
    image = circle_mask(SHAPE, PIXEL_SCALE, 0.8) * 3.0 + np.random.default_rng(2).normal(0, sigma, SHAPE)
    put(files["data_path"], image)
    hdus = [fits.PrimaryHDU(), fits.ImageHDU(np.full(SHAPE, sigma**2), name="VARIANCE"),
            fits.ImageHDU(np.full(SHAPE, sigma), name="ERR"), fits.ImageHDU(np.full(SHAPE, sigma**-2), name="IVAR")]
    fits.HDUList(hdus).writeto(tmp_path / "cutout.fits")
    _, messages = load_warning(config(noise_path="cutout.fits[VARIANCE]"), tmp_path)
    assert len(messages) == 1 and "cutout.fits[VARIANCE]" in messages[0], messages
    assert "named as a variance map ('variance')" in messages[0] and "sqrt(variance)" in messages[0], messages
    _, messages = load_warning(config(noise_path="cutout.fits[IVAR]"), tmp_path)  # also 11 x the scatter: one word
    assert len(messages) == 1 and "inverse-variance (weight) map ('ivar')" in messages[0], messages
    load_quietly(config(noise_path="cutout.fits[ERR]"), tmp_path)
    put(tmp_path / "noise_var.fits", np.full(SHAPE, sigma))  # a variance map already made a noise map
    load_quietly(config(noise_path="noise_var.fits"), tmp_path)
    put(tmp_path / "noise_var.fits", np.full(SHAPE, sigma**2))
    _, messages = load_warning(config(noise_path="noise_var.fits"), tmp_path)
    assert len(messages) == 1 and "variance map ('var')" in messages[0], messages


def test_the_exptime_of_an_hst_like_file_is_read_from_its_primary_header(tmp_path, files):
    """HST's drizzled files keep EXPTIME in the primary header, not in the SCI extension's the image
    is read from (drz.fits[SCI]); the units mismatch was then announced without the EXPTIME that
    names it. An extension's own EXPTIME, where it has one, is still the one used."""
    sigma, exptime = 0.05, 2000.0
    image = circle_mask(SHAPE, PIXEL_SCALE, 0.8) * 3.0 + np.random.default_rng(2).normal(0, sigma, SHAPE)
    primary = fits.PrimaryHDU(header=fits.Header({"TELESCOP": "HST", "INSTRUME": "ACS", "EXPTIME": exptime}))
    sci = fits.ImageHDU(image * exptime, name="SCI")  # in counts, its ERR in counts/s
    err = fits.ImageHDU(np.full(SHAPE, sigma), name="ERR")
    fits.HDUList([primary, sci, err, fits.ImageHDU(np.ones(SHAPE), name="WHT")]).writeto(tmp_path / "drz.fits")
    cfg = config(data_path="drz.fits[SCI]", noise_path="drz.fits[ERR]")
    _, messages = load_warning(cfg, tmp_path)
    assert len(messages) == 1 and "about the image's EXPTIME (2000 s): an image in counts beside" in messages[0], messages
    sci.header["EXPTIME"] = 1.0e5  # the extension's own, far from the factor: no word of EXPTIME
    fits.HDUList([primary, sci, err]).writeto(tmp_path / "drz.fits", overwrite=True)
    _, messages = load_warning(cfg, tmp_path)
    assert len(messages) == 1 and "EXPTIME" not in messages[0], messages


def test_a_psf_with_much_negative_light_is_announced(tmp_path, files):
    """A PSF whose background was over-subtracted (negative wings summing to a quarter of its
    light) was used silently; an empirical PSF's few small negative noise pixels still pass."""
    noisy = gaussian_psf(9, 1.5) + np.random.default_rng(3).normal(0, 1e-4, (9, 9))
    put(files["psf_path"], noisy / noisy.sum())
    assert (noisy < 0).any()
    load_quietly(config(), tmp_path)
    put(files["psf_path"], gaussian_psf(9, 1.5) - 0.25 / 81)
    dataset, messages = load_warning(config(), tmp_path)
    negative = [m for m in messages if "negative pixels" in m]
    assert len(negative) == 1 and "psf.fits" in negative[0] and "over-subtracted" in negative[0]
    assert dataset.psf.sum() == pytest.approx(1.0)


def _with_wcs(array: np.ndarray, scale_arcsec: float) -> fits.PrimaryHDU:
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [SHAPE[1] / 2, SHAPE[0] / 2]
    wcs.wcs.cd = np.array([[-scale_arcsec, 0.0], [0.0, scale_arcsec]]) / 3600.0
    return fits.PrimaryHDU(array, header=wcs.to_header())


def test_a_pixel_scale_that_the_image_wcs_contradicts_is_announced(tmp_path, files):
    """A config copied from HST (0.05") for a Euclid VIS cutout (0.1") loaded silently, and every
    size in arcsec was off by two."""
    image = read_fits_image(files["data_path"])
    _with_wcs(image, PIXEL_SCALE).writeto(files["data_path"], overwrite=True)
    load_quietly(config(), tmp_path)  # the WCS agrees
    _with_wcs(image, 2 * PIXEL_SCALE).writeto(files["data_path"], overwrite=True)
    dataset, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1 and f"pixel_scale is {PIXEL_SCALE:g}" in messages[0] and f"{2 * PIXEL_SCALE:g}\"/pixel" in messages[0]
    assert dataset.pixel_scale == PIXEL_SCALE  # announced; the config's value is used
    from tinylens.data.fits_io import wcs_pixel_scale

    # a header without a scale: WCS's default of 1 degree per pixel is not the file's statement
    assert wcs_pixel_scale(fits.Header([("CTYPE1", "RA---TAN"), ("CTYPE2", "DEC--TAN")])) is None


def test_a_pixel_scale_that_the_image_header_s_pixscale_contradicts_is_announced(tmp_path, files):
    """tinylens simulate-population writes PIXSCALE in each image.fits; a population simulated at
    0.05" and fitted with a CSST template (0.074") loaded silently, every size in arcsec wrong."""
    image = read_fits_image(files["data_path"])
    write_fits_image(files["data_path"], image, {"PIXSCALE": PIXEL_SCALE})
    load_quietly(config(), tmp_path)  # the header agrees
    write_fits_image(files["data_path"], image, {"PIXSCALE": PIXEL_SCALE / 2})
    dataset, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1, messages
    assert f"pixel_scale is {PIXEL_SCALE:g}" in messages[0] and "PIXSCALE keyword" in messages[0], messages
    assert f"{PIXEL_SCALE / 2:g}\"/pixel" in messages[0] and str(files["data_path"]) in messages[0], messages
    assert dataset.pixel_scale == PIXEL_SCALE


@pytest.mark.parametrize(("given", "unit", "arcsec"), [(0.074 / 3600, "degrees", "0.074\""),
                                                     (74.0, "milliarcseconds", "0.074\"")])
def test_a_pixel_scale_in_degrees_or_milliarcseconds_is_announced(tmp_path, files, given, unit, arcsec):
    """A header's CDELT (2.06e-5, in degrees) copied into dataset.pixel_scale made the image
    0.002" wide, beside Einstein radius priors of arcseconds, and 'tinylens validate' said it was
    ready to fit; in milliarcseconds (74) it was 2 degrees wide."""
    _, messages = load_warning(config(pixel_scale=given), tmp_path)
    assert len(messages) == 1, messages
    assert f"pixel_scale is {given:g}" in messages[0] and f"is it in {unit}" in messages[0], messages
    assert arcsec in messages[0] and str(files["data_path"]) in messages[0], messages
    load_quietly(config(pixel_scale=0.01), tmp_path)  # adaptive optics' pixels
    load_quietly(config(pixel_scale=1.0), tmp_path)  # a ground-based survey's


def test_the_image_given_as_its_own_noise_map_is_refused(tmp_path, files):
    """noise_path naming the image (a copied config line) loaded: the image's negative pixels
    were masked with a warning and the others weighted by their own flux."""
    text = data_error(config(noise_path="image.fits"), tmp_path)
    assert "noise map" in text and "same values as the data image" in text and "image.fits" in text



@pytest.mark.parametrize("given, what", [("image.fits", "data image"), ("noise.fits", "noise map")])
def test_the_image_or_noise_map_given_as_the_psf_is_refused(tmp_path, files, given, what):
    """psf_path naming the image (a copied config line) of an odd-sized cutout loaded with a
    warning only that its PSF did not sum to 1: the model was blurred by the lens itself."""
    rng = np.random.default_rng(2)
    put(files["data_path"], 5 + rng.normal(size=(21, 25)))  # positive, odd-sized: a PSF check_psf takes
    put(files["noise_path"], np.full((21, 25), 0.5))
    load_quietly(config(), tmp_path)  # with its own PSF
    text = data_error(config(psf_path=given), tmp_path)
    assert f"The PSF {tmp_path / given} holds the same values as the {what} {tmp_path / given}" in text, text

def test_infinite_data_pixels_are_masked_without_numpy_warnings(tmp_path, files):
    """The noise-scale check subtracted the masked infinite pixels too: 'invalid value
    encountered in subtract' was printed by tinylens validate beside the masking warning."""
    image = read_fits_image(files["data_path"])
    image[:3, :3] = np.inf
    put(files["data_path"], image)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_dataset(config(), tmp_path)
    messages = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert len(messages) == 1 and "DataWarning" in messages[0] and "9 pixels with a NaN or infinite" in messages[0], messages


def test_pixels_of_huge_noise_are_masked_with_a_warning(tmp_path, files):
    """A noise of 1e30 (RMS maps' bad pixels) was kept with a weight of ~0: the fit ignored those
    pixels, but the arc search's smoothed variance, the noise figure and the pixel counts did not."""
    noise = read_fits_image(files["noise_path"])
    noise[0, :4] = 1e30
    put(files["noise_path"], noise)
    dataset, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1 and "noise.fits: 4 pixels with a noise over 1e+06 times the median" in messages[0]
    assert not dataset.mask[0, :4].any() and dataset.mask[0, 4:].all() and np.isinf(dataset.noise[0, :4]).all()


def test_a_cutout_mostly_of_huge_noise_has_those_pixels_masked(tmp_path, files):
    """At a mosaic's edge over half the cutout carries 1e30: the median noise was 1e30, so none of
    them was masked, and the noise-scale check called the map a weight map."""
    noise = read_fits_image(files["noise_path"])
    noise[:13, :] = 1e30  # 13 of 20 rows
    put(files["noise_path"], noise)
    dataset, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1 and f"noise.fits: {13 * SHAPE[1]} pixels with a noise over" in messages[0], messages
    assert not dataset.mask[:13].any() and dataset.mask[13:].all()


def test_slacs_bad_pixels_of_1e8_are_masked_whatever_the_sky_noise(tmp_path, files):
    """SLACS's HST noise maps write 1e8 for a bad pixel beside a sky noise near 0.01: with a factor
    of 1e10 they were masked for a median noise of 0.0099 and kept (weight ~0, but counted in
    the reduced chi^2 and the pixel counts) for one of 0.0104, 16 of the 21 dev lenses."""
    for sky in (0.0099, 0.0104, 0.03):
        noise = np.full(SHAPE, sky)
        noise[0, :6] = 1e8
        put(files["noise_path"], noise)
        dataset, messages = load_warning(config(), tmp_path)
        assert not dataset.mask[0, :6].any() and dataset.n_used == SHAPE[0] * SHAPE[1] - 6, (sky, messages)


def test_a_noise_map_with_a_bright_centre_masks_nothing(tmp_path, files):
    """A lens galaxy's Poisson noise, 100 times the sky's at its centre, is no bad pixel."""
    y, x = np.indices(SHAPE)
    noise = 0.5 * (1 + 99 * np.exp(-0.5 * ((y - 10) ** 2 + (x - 12) ** 2) / 2.0**2))
    put(files["noise_path"], noise)
    dataset, messages = load_warning(config(), tmp_path)
    assert dataset.mask.all() and not any("masked" in m for m in messages), messages


def test_a_few_tiny_noise_values_do_not_make_the_others_huge(tmp_path, files):
    """With the reference at the 1 % quantile, 2 % of pixels at 1e-9 beside 0.01 set it, and
    every other pixel was masked as 'a noise over 1e6 times the median one'."""
    noise = np.full(SHAPE, 0.01)
    noise.flat[:: 50] = 1e-9  # 2 % of the pixels
    put(files["noise_path"], noise)
    dataset, messages = load_warning(config(), tmp_path)
    assert dataset.mask.all() and not any("masked" in m or "times the median" in m for m in messages), messages


def test_pixels_of_tiny_noise_are_announced(tmp_path, files):
    """Four pixels with a noise of 1e-12 beside 0.5 (a placeholder for no data?) weigh 1e23 times
    the others: they alone decided the fit, and validate said the data were ready to fit."""
    noise = np.full(SHAPE, 0.5)
    noise[3:5, 3:5] = 1e-12
    put(files["noise_path"], noise)
    dataset, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1 and "noise.fits: 4 pixels with a noise below 1/1000 of the median noise (0.5)" in messages[0]
    assert "down to 1e-12" in messages[0], messages
    assert dataset.mask.all()  # announced, not changed


def test_a_noise_map_spanning_a_factor_of_100_is_not_announced(tmp_path, files):
    """A bright lens centre's Poisson noise is 10-100 times the sky's: no pixel is tiny beside it."""
    y, x = np.indices(SHAPE)
    noise = 0.05 * (1 + 99 * np.exp(-0.5 * ((y - 10) ** 2 + (x - 12) ** 2) / 4.0**2))
    put(files["noise_path"], noise)
    _, messages = load_warning(config(), tmp_path)
    assert not any("1/1000" in m for m in messages), messages


def test_a_mosaic_corner_of_three_quarters_huge_noise_is_masked(tmp_path, files):
    """Up to 80 % of the cutout at 1e30 (a mosaic's corner) still leaves a sane reference."""
    noise = read_fits_image(files["noise_path"])
    noise[:15, :] = 1e30  # 15 of 20 rows
    put(files["noise_path"], noise)
    dataset, messages = load_warning(config(), tmp_path)
    assert not dataset.mask[:15].any() and dataset.mask[15:].all(), messages


def test_a_noise_map_mostly_of_a_bad_pixel_value_is_refused_as_such(tmp_path, files):
    """With 96 % of the noise map at 1e30 (beyond the 80 % that huge_noise can mask) the median
    noise was 1e30: the sane pixels were announced as tiny, and the refusal blamed float32 and the
    units. It now names the bad value, the count and the limit; its fix (0 in the noise map) loads."""
    noise = read_fits_image(files["noise_path"])
    noise[:18, :] = 1e30  # 18 of 20 rows: 90 %
    put(files["noise_path"], noise)
    message = data_error(config(), tmp_path)
    n = 18 * SHAPE[1]
    assert f"noise.fits: {n} of the {SHAPE[0] * SHAPE[1]} pixels with a valid noise (90 %) have a noise of 1e+30" in message
    assert "at most 80 %" in message and "Set them to 0 or NaN" in message and "float32" not in message, message
    noise[:18, :] = 0.0  # as the message says
    put(files["noise_path"], noise)
    dataset, _ = load_warning(config(), tmp_path)
    assert dataset.n_used == 2 * SHAPE[1] and dataset.mask[18:].all()


def test_a_noise_map_mostly_bad_is_not_refused_where_the_mask_leaves_those_pixels_out(tmp_path, files):
    """The refusal of a noise map 90 % at 1e30 counts only the pixels the mask uses: a mask file
    that leaves those rows out was refused as well, though its fit uses none of them."""
    noise = read_fits_image(files["noise_path"])
    noise[:18, :] = 1e30
    put(files["noise_path"], noise)
    mask = np.zeros(SHAPE)
    mask[:18, :] = 1  # non-zero: left out
    put(tmp_path / "mask.fits", mask)
    dataset, messages = load_warning(config(mask_path="mask.fits"), tmp_path)
    assert dataset.n_used == 2 * SHAPE[1] and dataset.mask[18:].all()
    assert not any("noise below" in m for m in messages), messages  # 0.5 is the noise, not a tiny one beside 1e30


def test_a_block_of_tiny_noise_that_fills_the_mask_is_still_announced(tmp_path, files):
    """The tiny-noise warning measures the median noise over the whole image, not only the mask's
    pixels: 1e-12 placeholders filling most of a small mask are still tiny beside the image's 0.5."""
    noise = read_fits_image(files["noise_path"])
    noise[6:14, 7:17] = 1e-12  # 80 of the 480 pixels
    put(files["noise_path"], noise)
    mask = np.ones(SHAPE)
    mask[5:15, 6:18] = 0  # 120 pixels, 80 of them tiny
    put(tmp_path / "mask.fits", mask)
    _, messages = load_warning(config(mask_path="mask.fits"), tmp_path)
    assert any("80 pixels with a noise below 1/1000 of the median noise (0.5)" in m for m in messages), messages


def test_a_mask_mostly_over_bad_pixels_that_huge_noise_masks_is_not_refused(tmp_path, files):
    """75 % of the noise map at 1e30 is masked as huge noise (under the 80 % limit), but a mask file
    that uses those rows and one sane row holds 94 % of them: counting only the mask's pixels, the
    refusal fired ('tinylens masks such pixels itself only while they are at most 80 %'), though
    they were masked. Such a dataset loads, the 24 sane pixels used, as before the refusal."""
    noise = read_fits_image(files["noise_path"])
    noise[:15, :] = 1e30  # 360 of 480 pixels: 75 %
    put(files["noise_path"], noise)
    mask = np.ones(SHAPE)
    mask[:16, :] = 0  # uses the 360 bad pixels and the 24 of row 15: 94 % bad
    put(tmp_path / "mask.fits", mask)
    dataset, messages = load_warning(config(mask_path="mask.fits"), tmp_path)
    assert dataset.n_used == SHAPE[1] and dataset.mask[15].all() and not dataset.mask[:15].any()
    assert any(f"{15 * SHAPE[1]} pixels with a noise over" in m for m in messages), messages


def test_a_noise_map_mostly_bad_is_refused_where_the_mask_uses_some_of_those_pixels(tmp_path, files):
    """90 % of the noise map at 1e30, which huge_noise cannot mask, and a mask file using 4 of those
    rows beside 2 sane ones (67 % bad, under 80 %): counted over the mask's pixels alone, it was not
    refused, and the 96 pixels of 1e30 were fitted as used pixels. It is refused, counting the whole
    image as huge_noise does and naming how many of them the mask uses; the count says it is the
    whole image's (read as the mask's, 432 of 480 was no share of the mask's 144 pixels)."""
    noise = read_fits_image(files["noise_path"])
    noise[:18, :] = 1e30
    put(files["noise_path"], noise)
    mask = np.ones(SHAPE)
    mask[14:, :] = 0  # rows 14-17 (bad) and 18-19 (sane)
    put(tmp_path / "mask.fits", mask)
    message = data_error(config(mask_path="mask.fits"), tmp_path)
    assert f"{18 * SHAPE[1]} of the whole image's {SHAPE[0] * SHAPE[1]} pixels with a valid noise (90 %), not only the " \
           "mask's, have a noise of 1e+30" in message, message  # the mask's own 144 are 67 % bad
    assert f"(the mask uses {4 * SHAPE[1]} of them)." in message, message


def test_nan_data_does_not_change_which_share_of_bad_noise_is_refused(tmp_path, files):
    """mostly_bad_noise counted only the pixels with finite data, huge_noise every pixel with a
    valid noise: 380 of 480 at 1e30 (79 %, which huge_noise masks) with NaN data in 20 sane pixels
    made 380 of 460 (83 %) and a refusal; 400 of 480 (83 %, which it cannot mask) with NaN data in 80
    of them made 320 of 400 (80 %), no refusal, and 320 pixels of 1e30 fitted. Both now count the
    480 pixels with a valid noise: the first loads with the 380 masked, the second is refused."""
    image, noise = read_fits_image(files["data_path"]), read_fits_image(files["noise_path"])
    masked_by_huge_noise = noise.copy()
    masked_by_huge_noise.flat[:380] = 1e30
    nan_in_sane = image.copy()
    nan_in_sane.flat[380:400] = np.nan
    put(files["noise_path"], masked_by_huge_noise)
    put(files["data_path"], nan_in_sane)
    dataset, messages = load_warning(config(), tmp_path)
    assert dataset.n_used == 80 and not dataset.mask.flat[:400].any(), messages
    assert any("380 pixels with a noise over 1e+06 times the median one" in m for m in messages), messages
    too_many = noise.copy()
    too_many.flat[:400] = 1e30
    nan_in_bad = image.copy()
    nan_in_bad.flat[:80] = np.nan
    put(files["noise_path"], too_many)
    put(files["data_path"], nan_in_bad)
    message = data_error(config(), tmp_path)
    assert "noise.fits: 400 of the 480 pixels with a valid noise (83.3 %) have a noise of 1e+30" in message, message


def test_a_noise_map_mostly_sane_beside_tiny_placeholders_is_not_refused(tmp_path, files):
    """90 % of the pixels at 0.5 beside 10 % at 1e-9: the data scatter about 0.5, so the 0.5s are
    the noise, not a bad value (the tiny ones are announced, as before)."""
    noise = np.full(SHAPE, 0.5)
    noise.flat[::10] = 1e-9
    put(files["noise_path"], noise)
    dataset, messages = load_warning(config(), tmp_path)
    assert dataset.mask.all() and any("noise below 1/1000" in m for m in messages), messages


def unlike_any_source(messages: list[str]) -> list[str]:
    """The warnings on pixels that no sky and no source gives (a no-data value, a cosmic ray)."""
    return [m for m in messages if "times the noise below zero" in m or "sharper than the PSF allows" in m]


def test_a_no_data_value_below_the_sky_is_announced(tmp_path, files):
    """-9999 (a no-data mark) in one pixel or a 3 x 3 patch, beside sky within 4 sigma of 0, was
    fitted silently and outweighed the lens; it is announced with its count, value and (a single
    one) position, and the pixels are used as they are."""
    image = read_fits_image(files["data_path"])
    one = image.copy()
    one[3, 4] = -9999.0
    put(files["data_path"], one)
    dataset, messages = load_warning(config(), tmp_path)
    found = unlike_any_source(messages)
    assert len(found) == 1 and "image.fits: 1 used pixel over 20 times the noise below zero" in found[0], messages
    assert "-9999 at row 3, column 4" in found[0] and "dataset.mask_path" in found[0], found
    assert dataset.mask.all() and dataset.data[3, 4] == -9999.0  # announced, not changed
    patch = image.copy()
    patch[10:13, 5:8] = -9999.0
    put(files["data_path"], patch)
    _, messages = load_warning(config(), tmp_path)
    found = unlike_any_source(messages)
    assert len(found) == 1 and "9 used pixels over 20 times" in found[0] and "-9999 in 9 pixels" in found[0], messages
    assert "no-data marker" in found[0], found


def test_a_pixel_sharper_than_the_psf_is_announced(tmp_path, files):
    """One pixel of 1e10 (a hot pixel), or one 50 sigma above its neighbours (a cosmic ray: no
    source is narrower than the PSF, of sigma 1 pixel here), was fitted silently; each is announced
    with its value and position."""
    image = read_fits_image(files["data_path"])  # sigma 1 (the noise map's 0.5 is too small)
    hot = image.copy()
    hot[7, 9] = 1e10
    put(files["data_path"], hot)
    dataset, messages = load_warning(config(), tmp_path)
    found = unlike_any_source(messages)
    assert len(found) == 1 and "image.fits: 1 used pixel sharper than the PSF allows" in found[0], messages
    assert "1e+10 at row 7, column 9" in found[0] and "psf.fits" in found[0], found
    assert dataset.mask.all() and dataset.data[7, 9] == 1e10
    spike = image.copy()
    spike[12, 15] = image[11:14, 14:17].sum() / 8 - image[12, 15] / 8 + 50.0
    put(files["data_path"], spike)
    _, messages = load_warning(config(), tmp_path)
    found = unlike_any_source(messages)
    assert len(found) == 1 and "1 used pixel sharper" in found[0] and "at row 12, column 15" in found[0], messages


def integrated_point(shape: tuple[int, int], fwhm: float, row: float, col: float) -> np.ndarray:
    """A point of unit flux at (row, col), blurred by a Gaussian of ``fwhm`` pixels and integrated over each pixel."""
    from scipy.special import ndtr

    sigma = fwhm / (2 * np.sqrt(2 * np.log(2)))
    rows = np.diff(ndtr((np.arange(shape[0] + 1) - 0.5 - row) / sigma))
    cols = np.diff(ndtr((np.arange(shape[1] + 1) - 0.5 - col) / sigma))
    return np.outer(rows, cols)


def spoilt(image: np.ndarray, noise: np.ndarray, where: tuple[int, int]) -> dict[str, tuple[np.ndarray, int]]:
    """``image`` with one -9999 pixel, a 3 x 3 patch of -9999, one 1e10 pixel or a pixel 50 sigma above the
    mean of its 8 neighbours at ``where``, and how many pixels each spoils."""
    row, col = where
    cases = {name: image.copy() for name in ("one -9999", "3x3 -9999", "1e10", "spike")}
    cases["one -9999"][row, col] = -9999.0
    cases["3x3 -9999"][row - 1:row + 2, col - 1:col + 2] = -9999.0
    cases["1e10"][row, col] = 1e10
    around = (image[row - 1:row + 2, col - 1:col + 2].sum() - image[row, col]) / 8
    cases["spike"][row, col] = around + 50 * noise[row, col]
    return {name: (values, 9 if name == "3x3 -9999" else 1) for name, values in cases.items()}


def check_unlike_any_source(folder: Path, image: np.ndarray, noise: np.ndarray, psf: np.ndarray,
                            where: tuple[int, int], **kwargs) -> None:
    """``image`` raises no warning of pixels unlike any source; each of :func:`spoilt`'s does, once, counting them."""
    folder.mkdir(parents=True, exist_ok=True)
    put(folder / "noise.fits", noise)
    put(folder / "psf.fits", psf)
    put(folder / "image.fits", image)
    _, messages = load_warning(config(**kwargs), folder)
    assert not unlike_any_source(messages), (folder.name, messages)
    for name, (values, n) in spoilt(image, noise, where).items():
        put(folder / "image.fits", values)
        _, messages = load_warning(config(**kwargs), folder)
        found = unlike_any_source(messages)
        assert len(found) == 1 and f"image.fits: {counted(n, 'used pixel')} " in found[0], (folder.name, name, messages)


@pytest.mark.parametrize("fwhm", [1.2, 1.5])
def test_an_undersampled_point_source_is_no_cosmic_ray(tmp_path, fwhm):
    """A point 30,000 sigma bright under a PSF of FWHM 1.2 or 1.5 pixels (a lensed quasar's image
    on HST's WFC3), centred on a pixel or not, noisy or not, stands thousands of sigma above its
    neighbours but is no sharper than the PSF: nothing is announced; a -9999, a 1e10 or a 50-sigma
    spike on the sky beside it is."""
    shape = (40, 40)
    psf = integrated_point((11, 11), fwhm, 5, 5)
    noise = np.ones(shape)
    rng = np.random.default_rng(3)
    for row, col in ((20, 20), (20.3, 19.8), (20.5, 20.5)):
        model = 3e4 * integrated_point(shape, fwhm, row, col) / psf.max()
        for noisy in (False, True):
            image = model + (rng.normal(size=shape) if noisy else 0.0)
            check_unlike_any_source(tmp_path / f"{row}_{col}_{noisy}", image, noise, psf / psf.sum(), (8, 30))


@pytest.mark.parametrize("fwhm, radius", [(1.2, 1.0), (1.5, 1.5), (2.0, 2.9), (2.5, 3.2)])
def test_a_point_source_whose_core_is_cut_out_is_no_cosmic_ray(tmp_path, fwhm, radius):
    """A bright point source (a lensed quasar's image) whose saturated core is set to NaN, or left
    out by the mask file, made 4 to 8 pixels of its slope, each with its two brighter side
    neighbours cut away, 'sharper than the PSF allows'; nothing is announced now, while a 1e10 hot
    pixel at the mask's edge, or on the image's edge, still is."""
    shape, centre = (40, 40), (20.3, 19.8)
    psf = integrated_point((11, 11), fwhm, 5, 5)
    image = 3e4 * integrated_point(shape, fwhm, *centre) / psf.max()
    rows, cols = np.indices(shape)
    core = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius ** 2
    put(tmp_path / "noise.fits", np.ones(shape))
    put(tmp_path / "psf.fits", psf / psf.sum())
    put(tmp_path / "mask.fits", core.astype(np.int16))  # non-zero: left out
    put(tmp_path / "image.fits", np.where(core, np.nan, image))
    _, messages = load_warning(config(), tmp_path)
    assert not unlike_any_source(messages), messages
    put(tmp_path / "image.fits", image)
    _, messages = load_warning(config(mask_path="mask.fits"), tmp_path)
    assert not unlike_any_source(messages), messages
    edge_row, edge_col = int(rows[core].min()) - 1, int(round(centre[1]))  # used, beside the cut-out core
    for where in ((edge_row, edge_col), (0, 17)):
        hot = image.copy()
        hot[where] = 1e10
        put(tmp_path / "image.fits", hot)
        _, messages = load_warning(config(mask_path="mask.fits"), tmp_path)
        found = unlike_any_source(messages)
        assert len(found) == 1 and f"1e+10 at row {where[0]}, column {where[1]}" in found[0], (where, messages)


def test_the_demo_is_no_no_data_value_nor_cosmic_ray(tmp_path):
    """Neither the demo's image nor its noise-free model is announced; each spoilt on the sky is."""
    from tinylens.cli.demo import OBSERVATION, simulate_demo

    demo = simulate_demo()
    for name in ("image", "model"):
        check_unlike_any_source(tmp_path / name, demo[name], demo["noise"], demo["psf"], (6, 6),
                                pixel_scale=OBSERVATION["pixel_scale"])


def _slacs_dev() -> Path | None:
    """The shared SLACS dev lenses: ``shared/`` lies beside the repository (or a folder above it)."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "shared" / "data" / "slacs_dev" / "catalog.csv").is_file():
            return folder / "shared" / "data" / "slacs_dev"
    return None


@pytest.mark.skipif(_slacs_dev() is None, reason="shared/data/slacs_dev not found beside the repository")
def test_no_slacs_dev_lens_is_announced_as_a_no_data_value_or_cosmic_ray(tmp_path):
    """HST images of SLACS's 21 dev lenses (bright lens galaxies, masked bad pixels) are not
    announced; each spoilt on its sky is."""
    for lens in sorted(p for p in _slacs_dev().iterdir() if (p / "image.fits").is_file()):
        image, noise, psf = (read_fits_image(lens / f"{name}.fits") for name in ("image", "noise", "psf"))
        sane = np.isfinite(noise) & (noise > 0) & (noise < 100 * np.nanmedian(noise))  # not SLACS's 1e8
        sky = next(k for k in range(12, min(image.shape) - 12) if sane[k - 3:k + 4, k - 3:k + 4].all())
        check_unlike_any_source(tmp_path / lens.name, image, noise, psf, (sky, sky), pixel_scale=0.05)


def test_too_few_pixels_for_huge_noise_says_so(tmp_path, files):
    """The refusal counted the pixels masked for a huge noise among those 'with a NaN/inf/zero/
    negative noise', which none of them had."""
    noise = read_fits_image(files["noise_path"])
    noise[:5, :] = 1e30  # the only rows the mask uses
    put(files["noise_path"], noise)
    mask = np.ones(SHAPE)
    mask[:5, :] = 0
    put(tmp_path / "mask.fits", mask)
    message = data_error(config(mask_path="mask.fits"), tmp_path)
    assert "0 have a NaN/inf/zero/negative noise" in message, message
    assert f"{5 * SHAPE[1]} have a noise over 1e+06 times the median one" in message, message


def test_a_psf_whose_header_gives_other_pixels_than_the_image_is_announced(tmp_path, files):
    """WebbPSF's first HDU is oversampled 4 times (its header's PIXELSCL says so): tinylens used it
    pixel for pixel at the image's scale, a PSF 4 times too wide, without a word."""
    header = fits.Header({"PIXELSCL": PIXEL_SCALE / 4})
    fits.PrimaryHDU(gaussian_psf(), header=header).writeto(files["psf_path"], overwrite=True)
    _, messages = load_warning(config(), tmp_path)
    assert len(messages) == 1 and "PIXELSCL" in messages[0] and "4 times too wide" in messages[0], messages
    header = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CDELT1": -PIXEL_SCALE / 3600,
                          "CDELT2": PIXEL_SCALE / 3600})  # a cutout of the image itself: same pixels
    fits.PrimaryHDU(gaussian_psf(), header=header).writeto(files["psf_path"], overwrite=True)
    load_quietly(config(), tmp_path)


def test_a_noisy_empirical_psf_with_a_right_background_is_not_announced(tmp_path, files):
    """The negative pixels of a star's noise alone summed to over 5 % of its light (a star of
    peak S/N 300 in 31 x 31 pixels: about 10 %), and the PSF was said over-subtracted."""
    r = np.arange(31) - 15.0
    star = 300 * np.exp(-0.5 * (r[:, None] ** 2 + r[None, :] ** 2) / 1.27**2)
    noisy = star + np.random.default_rng(0).normal(0, 1, star.shape)  # background 0, well subtracted
    assert -noisy[noisy < 0].sum() > 0.05 * noisy[noisy > 0].sum()
    put(files["psf_path"], noisy / noisy.sum())
    load_quietly(config(), tmp_path)
    low = noisy - 0.5  # over-subtracted by half a sigma: announced
    put(files["psf_path"], low / low.sum())
    _, messages = load_warning(config(), tmp_path)
    assert any("negative pixels" in m and "over-subtracted" in m for m in messages), messages


def test_a_right_noise_map_of_correlated_noise_is_not_announced(tmp_path, files):
    """Noise correlated between pixels (smoothed by a Gaussian of sigma 2 pixels, as in resampled
    or PSF-matched images) has a pixel-to-pixel scatter 12 times below its 1-sigma; with its own,
    right noise map it must load without the variance/weight-map warning."""
    from scipy.ndimage import gaussian_filter

    sigma = 0.05
    white = np.random.default_rng(4).normal(0, 1, SHAPE)
    correlated = gaussian_filter(white, 2.0)
    put(files["data_path"], circle_mask(SHAPE, PIXEL_SCALE, 0.8) * 3.0 + sigma * correlated / correlated.std())
    put(files["noise_path"], np.full(SHAPE, sigma))
    load_quietly(config(), tmp_path)


def test_a_mask_file_leaving_too_few_pixels_is_an_error_without_warnings_first(tmp_path, files):
    """A mask file using 4 pixels, of odd values: its two warnings (few pixels used, values other
    than 0 and 1) came before the 'too few pixels' error, which says all there is to fix."""
    values = np.full(SHAPE, 4.0)
    values[:2, :2] = 0.0
    put(tmp_path / "tiny.fits", values)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = data_error(config(mask_path="tiny.fits"), tmp_path)
    assert "Only 4 of the 480 pixels" in text and "the mask excludes 476" in text
    assert [str(w.message) for w in caught] == []


def test_a_data_quality_mask_is_read_as_meant(tmp_path, files):
    """An HST DQ array given as mask_path (0 = good, flags on 3 bad pixels) leaves those 3 pixels
    out, as TinyLensGpu reads it; it used to use those 3 pixels only, and the fit was refused."""
    dq = np.zeros(SHAPE, dtype=np.int16)
    dq[1, 1], dq[2, 5], dq[7, 3] = 4, 512, 4096
    put(tmp_path / "dq.fits", dq)
    d, shown = load_warning(config(mask_path="dq.fits"), tmp_path)
    assert d.n_used == 480 - 3 and not d.mask[1, 1] and not d.mask[2, 5] and not d.mask[7, 3]
    assert shown == []  # bit flags are what a data-quality mask holds: no "other convention" warning


def test_a_mask_of_ones_on_a_few_pixels_to_fit_says_what_the_mask_means(tmp_path, files):
    """A mask that is 1 on the 3 pixels to fit uses the other 477; 1 everywhere but 3 pixels uses
    those 3 only, and the refusal says how the mask is read, which the warning kept back by the
    error would have said."""
    ones = np.ones(SHAPE)
    ones[1, 1] = ones[2, 5] = ones[7, 3] = 0
    put(tmp_path / "ones.fits", ones)
    text = data_error(config(mask_path="ones.fits"), tmp_path)
    assert "Only 3 of the 480 pixels" in text, text
    assert f"dataset.mask_path ({tmp_path / 'ones.fits'}) uses 3 of the 480 pixels" in text, text
    assert "leaves out the pixels where the mask is non-zero" in text and "(1 - mask)" in text, text


def test_a_psf_s_warnings_do_not_come_before_a_too_few_pixels_error(tmp_path, files):
    """An unnormalised, off-centre PSF with an over-subtracted background: its three warnings (sum,
    centring, negative pixels) came before the 'too few pixels' error, which says all there is to fix."""
    psf = np.full((9, 9), -0.01)
    psf[2, 2] = 3.0
    put(files["psf_path"], psf)
    data = np.full(SHAPE, np.nan)
    data[:2, :2] = 1.0
    put(files["data_path"], data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = data_error(config(), tmp_path)
    assert "Only 4 of the 480 pixels" in text
    assert [str(w.message) for w in caught] == []
    put(files["data_path"], np.random.default_rng(1).normal(size=SHAPE))  # a dataset that loads: all three warnings
    _, messages = load_warning(config(), tmp_path)
    assert [m.split(" ")[3] for m in messages if m.startswith("The PSF")] == ["sums", "peaks", "has"]


def test_a_psf_with_one_pixel_not_finite_is_refused_in_the_singular():
    """A PSF with one NaN pixel was refused with 'has 1 NaN or infinite pixel; replace them'; one
    pixel is now 'it', more 'them'."""
    from tinylens.data.dataset import check_psf

    psf = np.ones((3, 3))
    psf[1, 1] = np.nan
    with pytest.raises(DataError) as one:
        check_psf(psf, "psf.fits")
    assert str(one.value) == "The PSF psf.fits has 1 NaN or infinite pixel; replace it (e.g. by 0)."
    psf[0, 0] = np.inf
    with pytest.raises(DataError) as two:
        check_psf(psf, "psf.fits")
    assert str(two.value) == "The PSF psf.fits has 2 NaN or infinite pixels; replace them (e.g. by 0)."


@pytest.mark.parametrize("change, fragment", [
    ({"mask": "int"}, "mask is an array of int64; it must be boolean"),
    ({"mask": "small"}, "mask has shape (10, 12) but its data (20, 24)"),
    ({"noise": "small"}, "noise has shape (10, 12) but its data (20, 24)"),
    ({"psf": "nan"}, "PSF of the dataset (Dataset.psf) has 1 NaN or infinite pixel"),
    ({"psf": "even"}, "PSF of the dataset (Dataset.psf) is 4 x 4 pixels"),
    ({"psf": "flat"}, "PSF must be a 2-D kernel; got an array of shape (5,)"),
    ({"psf": "unnormalised"}, "PSF of the dataset (Dataset.psf) sums to 3, not 1"),
])
def test_a_hand_built_dataset_whose_arrays_do_not_fit_is_refused(tmp_path, files, change, fragment):
    """A Dataset built by hand skips load_dataset's checks: an integer 0/1 mask (e.g. read from
    FITS) selected rows 0 and 1 by index and gave a wrong likelihood silently, a NaN PSF made it
    -inf everywhere, an even or 1-D PSF, or a noise or mask of another shape, raised a bare
    ValueError or IndexError; a PSF not of unit sum (a PSF array swapped in with
    dataclasses.replace) scaled the model, so every amplitude, silently. Each is now a DataError
    saying which array is wrong."""
    import dataclasses

    from tinylens.data.dataset import check_used_pixels

    loaded = load_quietly(config(), tmp_path)
    check_used_pixels(loaded)  # what load_dataset gives passes
    nan_psf = np.array(loaded.psf)
    nan_psf[0, 0] = np.nan
    arrays = {"int": np.ones(SHAPE, dtype=np.int64), "small": np.ones((10, 12), dtype=bool), "nan": nan_psf,
              "even": np.full((4, 4), 1 / 16), "flat": np.full(5, 0.2), "unnormalised": 3 * np.asarray(loaded.psf)}
    (key, which), = change.items()
    value = arrays[which].astype(float) if key == "noise" else arrays[which]
    with pytest.raises(DataError) as info:
        check_used_pixels(dataclasses.replace(loaded, **{key: value}))
    assert fragment in str(info.value)


def test_a_hand_built_dataset_whose_mask_uses_too_few_pixels_is_refused(tmp_path, files):
    """A Dataset built by hand (dataclasses.replace of a loaded one) whose mask uses no pixel, or
    fewer than load_dataset accepts, was taken: its log-likelihood was 0 for every parameter, and a
    fit of it ran to a posterior that is the prior, without a word."""
    import dataclasses

    from tinylens.data.dataset import MIN_USABLE_PIXELS, check_used_pixels

    loaded = load_quietly(config(), tmp_path)
    for n in (0, MIN_USABLE_PIXELS - 1):
        mask = np.zeros(SHAPE, dtype=bool)
        mask.flat[:n] = True
        with pytest.raises(DataError) as info:
            check_used_pixels(dataclasses.replace(loaded, mask=mask))
        why = "on none, every parameter would fit alike" if n == 0 else "so few say little of a lens"
        assert str(info.value) == (f"The dataset's mask uses {n} of its 480 pixels (True = pixel used); at least "
                                   f"{MIN_USABLE_PIXELS} are needed, as load_dataset asks ({why}).")
    mask = np.zeros(SHAPE, dtype=bool)
    mask.flat[:MIN_USABLE_PIXELS] = True
    check_used_pixels(dataclasses.replace(loaded, mask=mask))  # as many as load_dataset takes


def test_a_shape_mask_given_in_pixels_is_named(tmp_path, files):
    """dataset.mask is in arcsec; one given in pixels either used every pixel silently (r_max 30 on a
    2.4" x 2" image) or left none, with an error that did not say where the shape lay."""
    _, messages = load_warning(config(mask={"type": "circle", "r_max": 30.0}), tmp_path)
    assert messages == ["dataset.mask's r_max of 30\" is 19.2 times the image's half-diagonal (1.56\"), so it leaves out "
                        "little or nothing: is it in pixels? dataset.mask is in arcsec (30 pixels would be r_max: 3)."]
    _, messages = load_warning(config(mask={"type": "circle", "r_max": 1.5}), tmp_path)  # a bit over the corners
    assert messages == []
    text = data_error(config(mask={"type": "circle", "r_max": 5.0, "center_x": 12.0, "center_y": 10.0}), tmp_path)
    assert ("dataset.mask alone (circle, r_max 5\" around x = 12\", y = 10\") uses 0 pixels: its centre and radii are in "
            "arcsec from the image's centre, not pixels, and the image reaches 1.2\" either side in x and 1\" in y.") in text
    put(tmp_path / "none.fits", np.ones(SHAPE))
    assert "dataset.mask alone" not in data_error(config(mask_path="none.fits"), tmp_path)  # the file's doing


@pytest.mark.parametrize("shape, core", [((5, 5), np.s_[:, :]), ((9, 9), np.s_[2:7, 2:7])])
def test_a_psf_with_a_flat_top_centred_is_not_said_off_centre(tmp_path, files, shape, core):
    """The peak was the first of the highest pixels: a box kernel, or a saturated star's flat 5 x 5
    core, "peaked" at its corner, 2 pixels from the centre, and was said to shift the model, which a
    symmetric kernel does not. The middle of the highest pixels is the peak."""
    psf = np.full(shape, 0.01)
    psf[core] = 1.0
    put(files["psf_path"], psf / psf.sum())
    load_quietly(config(), tmp_path)


def test_a_flat_top_that_differs_by_rounding_is_still_a_flat_top(tmp_path, files):
    """A box kernel whose top differs by rounding alone (an FFT convolution, a float32 file) "peaked"
    at the one pixel a last bit higher, here the top's corner, 2 pixels from the centre, and was said
    to shift the model; pixels within FLAT_TOP_RTOL of the highest share the top."""
    psf = np.full((9, 9), 0.01)
    psf[2:7, 2:7] = 1.0
    psf[2, 2] = np.nextafter(1.0, 2.0)  # one bit above the rest of the top
    assert psf_peak(psf) == (4.0, 4.0)
    put(files["psf_path"], psf / psf.sum())
    load_quietly(config(), tmp_path)


def test_the_psf_peak_passes_over_a_nan_pixel():
    """A NaN pixel made every pixel unequal to the NaN maximum: the peak was (nan, nan), with numpy's
    'Mean of empty slice' warning. The finite pixels' peak is given; a PSF with none is refused."""
    psf = np.zeros((5, 5))
    psf[1, 3], psf[4, 0] = 1.0, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert psf_peak(psf) == (1.0, 3.0)
    with pytest.raises(ValueError, match=r"^the PSF of shape \(3, 3\) has no finite pixel, so no peak$"):
        psf_peak(np.full((3, 3), np.nan))


def test_a_psf_with_a_flat_top_off_centre_is_announced_where_its_middle_is(tmp_path, files):
    psf = np.full((9, 9), 0.01)
    psf[2:7, 5:8] = 1.0  # 3 columns wide, its middle 2 columns right of the centre
    put(files["psf_path"], psf / psf.sum())
    _, messages = load_warning(config(), tmp_path)
    assert [m for m in messages if "peaks at pixel (row 4, column 6), not at its centre (row 4, column 4)" in m], messages


@pytest.mark.parametrize("name, values", [("nan", np.full(SHAPE, np.nan)), ("twos", np.full(SHAPE, 2.0))])
def test_a_mask_file_that_inverting_cannot_help_says_what_can(tmp_path, files, name, values):
    """A mask file that is NaN (or 2) in every pixel uses none, and the refusal said to invert a mask
    that is 1 on the pixels to fit (1 - mask), which leaves every pixel out still (1 - NaN is NaN);
    it now says what the file holds, that inverting it uses none, and what to write or check."""
    put(tmp_path / f"{name}.fits", values)
    text = data_error(config(mask_path=f"{name}.fits"), tmp_path)
    assert f"dataset.mask_path ({tmp_path / f'{name}.fits'}) uses 0 of the 480 pixels" in text, text
    assert "must be inverted first" not in text, text
    assert "inverting it (1 - mask) would use 0: write 0 on the pixels to fit" in text, text
    assert "check that this is the mask's file and image" in text and "[EXTNAME] or [index]" in text, text
    held = "NaN in every pixel" if name == "nan" else "no 0 and no 1"
    assert held in text, text


def test_a_fits_file_this_user_may_not_write_says_what_to_do(tmp_path, monkeypatch):
    """tinylens.data.write_fits_image into a folder this user may not write (another user's) was
    'Cannot write the FITS file PATH: Permission denied.' with no word of what to do; it now names
    the folder, how to see its permissions (ls -ld, the path quoted) and to write the file to a
    folder of one's own; nothing is left there. The refusal is a patched write, as the tests may
    run as root, whom permissions do not stop."""
    import shlex

    from tinylens.data.fits_io import write_fits_image
    from tinylens.errors import OutputError

    folder = tmp_path / "their lens"
    folder.mkdir()

    def refused(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "write_bytes", refused)
    with pytest.raises(OutputError) as err:
        write_fits_image(folder / "mask.fits", np.zeros((4, 4), bool))
    assert str(err.value) == (f"Cannot write the FITS file {folder / 'mask.fits'}: {os.strerror(errno.EACCES)}: this "
                              f"user may not write in {folder}. Check its permissions "
                              f"({shlex.join(['ls', '-ld', str(folder)])}), or write the file to a folder of your "
                              "own."), str(err.value)
    assert not list(folder.iterdir())


def test_the_messages_on_a_mask_and_too_few_pixels_read_right_for_one_pixel_and_for_many(tmp_path):
    """A single NaN pixel of the data, or one of a bad noise, among the reasons for too few pixels
    read '1 are NaN/inf in the data' and '1 have a NaN/inf/zero/negative noise'; a mask holding one
    fractional value 'the mask holds 1 values that are not 0 ...'; a mask file with one 0 'it holds
    0 in 1 pixels'. Each now agrees with its count, as before for several."""
    from tinylens.data.dataset import _mask_values_held, _warn_unusual_mask, check_enough_pixels

    def refusal(bad: int, no_noise: int, over: int) -> str:
        flags = np.zeros(12, bool)
        good, valid, huge = ~flags.copy(), ~flags.copy(), flags.copy()
        good[:bad], valid[bad:bad + no_noise], huge[bad + no_noise:bad + no_noise + over] = False, False, True
        mask = good & valid & ~huge
        with pytest.raises(DataError) as info:
            check_enough_pixels(mask, ~flags, good, valid, huge, Path("image.fits"))
        return str(info.value)

    assert refusal(1, 1, 1).startswith("Only 9 of the 12 pixels of image.fits can be used (at least 10 are needed): "
                                       "the mask excludes 0, 1 is NaN/inf in the data, 1 has a NaN/inf/zero/negative "
                                       "noise, 1 has a noise over 1e+06 times the median one. Check")
    assert refusal(2, 2, 2).startswith("Only 6 of the 12 pixels of image.fits can be used (at least 10 are needed): "
                                       "the mask excludes 0, 2 are NaN/inf in the data, 2 have a NaN/inf/zero/negative "
                                       "noise, 2 have a noise over 1e+06 times the median one. Check")
    assert _mask_values_held(np.array([0.0, 1.0, 1.0])) == "0 in 1 pixel and 1 in 2"
    assert _mask_values_held(np.array([0.0, 0.0, 1.0])) == "0 in 2 pixels and 1 in 1"
    for odd, said in (([0.5], "holds 1 value that is not 0, NaN or a positive whole number (a flag) (0.5):"),
                      ([0.5, -1.0], "holds 2 values that are not 0, NaN or a positive whole number (a flag) "
                                    "(e.g. -1, 0.5):")):
        values = np.zeros((10, 10))
        values.flat[:len(odd)] = odd
        with pytest.warns(DataWarning) as caught:
            _warn_unusual_mask(values, values == 0, Path("mask.fits"))
        assert [str(w.message).startswith(f"mask.fits: the mask {said}") for w in caught] == [True], \
            [str(w.message) for w in caught]


@pytest.mark.parametrize("mask", [None, {"type": "circle", "r_max": 5.0}])
def test_an_image_of_fewer_pixels_than_a_fit_needs_is_said_too_small_not_its_mask(tmp_path, mask):
    """A 3 x 3 image (9 pixels in all, 10 needed) was refused as 'Only 9 of the 9 pixels ... can be
    used: the mask excludes 0 ... Check dataset.mask / dataset.mask_path and the noise map', and,
    with a dataset.mask that covers every pixel (a circle of 5"), told that its centre and radii
    are in arcsec, not pixels: the mask was blamed though no mask could leave 10 pixels. It is now
    said to be too small, with what to do; a survey's template check does not blame its mask either."""
    from tinylens.data.dataset import shape_mask_note

    rng = np.random.default_rng(0)
    put(tmp_path / "image.fits", rng.normal(size=(3, 3)) + 1.0)
    put(tmp_path / "noise.fits", np.ones((3, 3)))
    psf = np.zeros((3, 3))
    psf[1, 1] = 1.0
    put(tmp_path / "psf.fits", psf)
    cfg = config(mask=mask)
    # the truth: every one of the 9 pixels is used, by the mask too; 9 < MIN_USABLE_PIXELS
    assert 3 * 3 < MIN_USABLE_PIXELS
    text = data_error(cfg, tmp_path)
    assert text.startswith(f"The image {tmp_path / 'image.fits'} has only 9 pixels in all (3 x 3"), text
    assert "larger cut-out" in text and "arcsec" not in text and "Check dataset.mask" not in text, text
    assert shape_mask_note(cfg, (3, 3)) == ""
    assert shape_mask_note(config(mask={"type": "circle", "r_max": 0.01}), (4, 4)) != ""  # 16 pixels: the mask's doing


def test_a_load_measures_the_pixel_scatter_and_the_huge_noise_once(tmp_path, files, monkeypatch):
    """load_dataset measured the image's pixel-to-pixel scatter four times over the same pixels (the
    no-data, spike and noise-scale checks each did) and huge_noise twice (check_not_mostly_bad_noise
    again), about 13 of some 50 ms at 400 x 400; each is measured once now, the scatter of the seen
    pixels apart where a mask leaves some of them out, and the same pixels are announced."""
    import tinylens.data.dataset as module

    calls = {"pixel_scatter": 0, "huge_noise": 0}
    for name in calls:
        def counting(*args, _name=name, _original=getattr(module, name)):
            calls[_name] += 1
            return _original(*args)
        monkeypatch.setattr(module, name, counting)
    noise = np.full(SHAPE, 0.5)
    noise[8:12, 10:14] = 10.0  # a bright centre's noise, over 10 times the sky's: mostly_bad_noise weighs it
    put(files["noise_path"], noise)
    image = read_fits_image(files["data_path"])
    image[3, 4] = -9999.0  # announced: the scatter is still measured for the no-data check
    put(files["data_path"], image)
    _, messages = load_warning(config(), tmp_path)
    assert calls == {"pixel_scatter": 1, "huge_noise": 1}, calls
    assert len(unlike_any_source(messages)) == 1 and "-9999 at row 3, column 4" in messages[0], messages
    calls.update(pixel_scatter=0, huge_noise=0)
    _, messages = load_warning(config(mask={"type": "circle", "r_max": 0.8}), tmp_path)  # seen pixels beyond the mask
    assert calls == {"pixel_scatter": 2, "huge_noise": 1}, calls


def test_a_mostly_bad_noise_map_over_nan_data_is_refused_alike_with_or_without_a_mask(tmp_path, files):
    """90 % of the noise map at 1e30 over pixels whose data are all NaN (left out for their data)
    loads, load_dataset passing its mask; check_not_mostly_bad_noise called without a mask refused
    it all the same. Both now return those 432 pixels, and both refuse once one of them has data."""
    from tinylens.data.dataset import check_not_mostly_bad_noise, valid_values

    image, noise = read_fits_image(files["data_path"]), read_fits_image(files["noise_path"])
    noise[:18, :] = 1e30
    image[:18, :] = np.nan
    put(files["noise_path"], noise)
    put(files["data_path"], image)
    dataset, _ = load_warning(config(), tmp_path)
    assert dataset.n_used == 2 * SHAPE[1] and dataset.mask[18:].all()
    _, valid = valid_values(image, noise)
    for user in (None, np.ones(SHAPE, dtype=bool)):
        left_out = check_not_mostly_bad_noise(image, noise, valid, files["noise_path"], user)
        assert left_out is not None and np.array_equal(left_out, np.isnan(image)), user
    image[0, 0] = 1.0  # one of them measured: its 1e30 would be fitted
    _, valid = valid_values(image, noise)
    for user in (None, np.ones(SHAPE, dtype=bool)):
        with pytest.raises(DataError, match=r"432 of the 480 pixels with a valid noise \(90 %\) have a noise of 1e\+30"):
            check_not_mostly_bad_noise(image, noise, valid, files["noise_path"], user)


def test_a_right_noise_map_beside_a_bright_lens_filling_a_small_cutout_is_not_announced(tmp_path, files):
    """A right noise map (the sky's and the lens light's Poisson noise) beside a bright lens filling a
    32 x 32 cutout loads without a warning; a check of the image's scatter about its local level in
    the faintest half (cd0bd8d, reverted) took the lens light's slope for noise, 4.2 times the
    noise map's, and announced the map as too small. So do SLACS's lenses cut to 32 x 32, where found
    (their pixel-to-pixel scatter is 0.5 to 0.7 of their noise maps there)."""
    y, x = np.indices((32, 32))
    radius = np.hypot(y - 15.5, x - 15.5) + 0.5
    profile = np.exp(-7.669 * ((radius / 8.0) ** 0.25 - 1))  # de Vaucouleurs, an effective radius of 8 pixels
    light = 300.0**2 * profile / profile.max()
    noise = np.sqrt(1.0 + light)  # sky 1, gain 1: a peak signal-to-noise of 300
    put(files["data_path"], light + noise * np.random.default_rng(0).normal(size=light.shape))
    put(files["noise_path"], noise)
    load_quietly(config(), tmp_path)
    if _slacs_dev() is None:
        return
    for lens in sorted(p for p in _slacs_dev().iterdir() if (p / "image.fits").is_file()):
        folder = tmp_path / lens.name
        folder.mkdir()
        for name in ("image", "noise", "psf"):
            array = read_fits_image(lens / f"{name}.fits")
            if name != "psf":
                row, col = array.shape[0] // 2 - 16, array.shape[1] // 2 - 16
                array = array[row:row + 32, col:col + 32]
            put(folder / f"{name}.fits", array)
        _, messages = load_warning(config(pixel_scale=0.05), folder)
        assert not [m for m in messages if "smaller than" in m and "scatter" in m], (lens.name, messages)


def test_write_fits_image_names_a_path_or_array_it_cannot_take(tmp_path):
    """write_fits_image(image, path) (the arguments swapped) or a path that is an array raised
    pathlib's bare 'expected str, bytes or os.PathLike object, not ndarray', and an array of 'abc' or
    None astropy's 'data object array(None, dtype=object) should have at least one dimension': each is
    a ConfigTypeError (a TypeError) naming the argument, and no file is written; a list of numbers is
    written as before."""
    import tinylens

    image = np.arange(12.0).reshape(3, 4)
    with pytest.raises(TypeError) as info:
        write_fits_image(image, tmp_path / "image.fits")
    assert isinstance(info.value, tinylens.ConfigTypeError)
    assert str(info.value).startswith("write_fits_image's path must be a file's path (a str or pathlib.Path), given first, "
                                      "then the image; got ndarray array([[ 0., 1., 2., 3.], [ 4.,")
    for array, shown in (("abc", "got str 'abc'."), (None, "got NoneType None.")):
        with pytest.raises(tinylens.ConfigTypeError) as info:
            write_fits_image(tmp_path / "image.fits", array)
        assert str(info.value) == (f"write_fits_image's array must be an array of numbers (an image: 2-D), for "
                                   f"{tmp_path / 'image.fits'}; {shown}")
    assert list(tmp_path.iterdir()) == []
    path = write_fits_image(tmp_path / "image.fits", image.tolist())
    np.testing.assert_array_equal(fits.getdata(path), image)


def test_a_dataset_whose_no_data_is_unknown_equals_a_load_with_no_pixel_lacking_data(tmp_path, files):
    """A Dataset pickled before it kept no_data (None on unpickling) or built by hand was unequal to
    a fresh load of the same files, whose no_data is all False: both say no pixel lacks data, and
    they are now equal; one where a data pixel was NaN (a True in no_data) still differs from None."""
    import dataclasses
    import pickle

    d = load_quietly(config(), tmp_path)
    assert d.no_data is not None and not d.no_data.any()
    older = object.__new__(Dataset)  # as pickle rebuilds a Dataset pickled without the field
    older.__dict__.update({k: v for k, v in vars(pickle.loads(pickle.dumps(d))).items() if k != "no_data"})
    assert older.no_data is None
    assert older == d and d == older and older == dataclasses.replace(d)
    built = Dataset(data=d.data, noise=d.noise, psf=d.psf, mask=d.mask, pixel_scale=d.pixel_scale, nsub=d.nsub,
                    data_path=d.data_path, noise_path=d.noise_path, psf_path=d.psf_path)
    assert built == d
    image = fits.getdata(files["data_path"])
    image[2, 3] = np.nan
    put(files["data_path"], image)
    holed = load_warning(config(), tmp_path)[0]
    assert holed.no_data[2, 3] and holed.no_data.sum() == 1
    assert dataclasses.replace(holed, no_data=None) != holed and holed != dataclasses.replace(holed, no_data=None)
    assert holed != d  # the data differ (0 where NaN) as before
