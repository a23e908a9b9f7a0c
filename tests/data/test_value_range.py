"""Image and noise whose numbers float32 cannot sum in the likelihood are refused by name
before any fit, with float32; the same data fit in float64; ordinary data pass."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinylens
from oracle import x64
from tiny_lens import tiny_data, write_tiny_lens
from tinylens.errors import DataError


@pytest.fixture(scope="module")
def data():
    return tiny_data()


@pytest.mark.parametrize("name, scale, key, text", [
    ("noise", 1e-30, "dataset.noise_path", "make the pixel weights 1/sigma^2 range from"),
    ("noise", 1e30, "dataset.noise_path", "make the pixel weights 1/sigma^2 range from"),
    ("image", 1e30, "dataset.data_path", "times the noise"),
])
def test_values_beyond_float32_are_refused_naming_the_file(tmp_path, data, name, scale, key, text):
    arrays = {**data, name: data[name] * scale}
    config = write_tiny_lens(tmp_path, None, arrays)
    with pytest.raises(DataError) as err:
        tinylens.load(config, dtype=np.float32)
    message = str(err.value)
    assert message.startswith(f"{key} (") and f"{name}.fits" in message and text in message
    assert "TINYLENS_PRECISION=float64" in message


def test_the_same_data_in_float64_and_physical_units_that_fit_are_accepted(tmp_path, data):
    """Image and noise both times 1e-30: the weights overflow float32 but not float64, whose
    likelihood is the float32 one's of the unscaled data up to the constant the noise's units add."""
    scaled = write_tiny_lens(tmp_path / "scaled", None, {**data, "image": data["image"] * 1e-30,
                                                         "noise": data["noise"] * 1e-30})
    with pytest.raises(DataError):
        tinylens.load(scaled, dtype=np.float32)
    plain = tinylens.load(write_tiny_lens(tmp_path / "plain", None, data), dtype=np.float32)
    theta = plain.prior_transform(np.full(plain.ndim, 0.5))
    with x64():
        wide = tinylens.load(scaled, dtype=np.float64)
        log_l = wide.log_likelihood(theta)
    shift = wide.dataset.n_used * np.log(1e-30)  # -sum(log sigma) changes by -n log(scale)
    assert np.isclose(log_l + shift, plain.log_likelihood(theta), rtol=1e-5)
    mild = write_tiny_lens(tmp_path / "mild", None, {**data, "image": data["image"] * 1e-6,
                                                     "noise": data["noise"] * 1e-6})
    assert np.isfinite(tinylens.load(mild, dtype=np.float32).log_likelihood(theta))  # inside the range


@pytest.mark.parametrize("value", [1e30, 1e300])
def test_a_few_pixels_of_huge_noise_weigh_nothing_instead_of_being_refused(tmp_path, data, value):
    """Noise 1e30 for bad pixels (SExtractor's RMS-map convention) made their weights fall below
    float32's range and the whole dataset was refused; they count for nothing, as when masked, up
    to the constant that their noise adds to the log-likelihood. Noise 1e300 overflowed sigma**2
    in that constant: every log-likelihood was -inf. (load_dataset masks such pixels; a Dataset
    built by hand keeps them.)"""
    import dataclasses

    from tinylens.problem import Problem

    masked = tinylens.load(write_tiny_lens(tmp_path, None, data), dtype=np.float32)
    bad = (slice(0, 2), slice(0, 3))
    d = masked.dataset
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow on the way
        huge = Problem(masked.config, masked.base_dir, dataclasses.replace(d, noise=_set(d.noise, bad, value)),
                       masked.spec, np.float32)
    masked = Problem(masked.config, masked.base_dir, dataclasses.replace(d, mask=_set(d.mask, bad, False)),
                     masked.spec, np.float32)
    theta = masked.prior_transform(np.random.default_rng(4).uniform(size=(3, masked.ndim)))
    constant = 6 * (0.5 * np.log(2 * np.pi) + np.log(value))
    np.testing.assert_allclose(huge.log_likelihood(theta) + constant, masked.log_likelihood(theta), rtol=1e-5)


def _set(array: np.ndarray, where, value: float) -> np.ndarray:
    out = np.array(array)
    out[where] = value
    return out


@pytest.mark.parametrize("value", [1e30, -1e30])
def test_a_bad_pixel_value_in_the_image_is_refused_by_pixel_in_both_precisions(tmp_path, data, value):
    """One image pixel of 1e30 or -1e30 (a pipeline's mark for no data) was refused in float32 as an
    image in the wrong units ("rescale both ... or fit in float64"), and float64 took it: the
    demo's log-likelihood at the prior median went from -144774 to -3.8e62, the fit chasing that
    pixel alone. It is refused in both, naming the pixel and its value and how to leave it out; the
    same pixel set to NaN is masked and the data load in both."""
    image = np.array(data["image"])
    image[2, 5] = value
    config = write_tiny_lens(tmp_path / "bad", None, {**data, "image": image})
    for dtype in (np.float32, np.float64):
        with x64(), pytest.raises(DataError) as err:
            tinylens.load(config, dtype=dtype)
        message = str(err.value)
        assert message.startswith("dataset.data_path (") and "image.fits" in message
        assert "1 pixel holds a value" in message and f"{value:.3g} at row 2, column 5" in message
        assert "NaN" in message and "dataset.mask_path" in message and "TINYLENS_PRECISION" not in message
    image[2, 5] = np.nan
    nan_config = write_tiny_lens(tmp_path / "nan", None, {**data, "image": image})
    with pytest.warns(tinylens.DataWarning, match="1 pixel with a NaN"):
        problem = tinylens.load(nan_config, dtype=np.float32)
    assert problem.dataset.n_used == image.size - 1
    assert np.isfinite(problem.log_likelihood(problem.prior_transform(np.full(problem.ndim, 0.5))))


def test_an_image_in_other_units_than_its_noise_is_still_told_to_rescale(tmp_path, data):
    """Most pixels beyond float32's range: the units, not bad pixels; the message is the units'."""
    image = np.array(data["image"]) * 1e30
    image[0, :3] = 0.0  # a few pixels that pass do not make the others bad-pixel values
    with pytest.raises(DataError, match="rescale both") as err:
        tinylens.load(write_tiny_lens(tmp_path, None, {**data, "image": image}), dtype=np.float32)
    assert "bad-pixel" not in str(err.value)


def test_a_bright_star_over_a_tiny_noise_map_fits_in_float64_and_only_a_bad_pixel_beside_it_is_refused(tmp_path, data):
    """A noiseless-ish mock (the tiny lens plus a star peaking at 114, noise 1e-14 everywhere):
    the star's pixels pass float32's range, (d / sigma)^2 times the pixel count over 3.4e32, and
    were refused in float64 too as '9 pixels hold a value beyond any the likelihood can weigh ...
    a bad-pixel value', though float64 sums them (chi^2 about 1e33 of 1.8e308). They are of the
    image's own scale: float64 loads them with a finite log-likelihood, float32 is told to rescale
    or fit in float64 as before, and a -1e30 pixel beside them is refused alone."""
    clean = np.array(data["image"])
    clean[2:11, 2:11] += 1e3 * np.asarray(data["psf"])  # the star, its peak about 114
    star = {**data, "image": clean, "noise": np.full(clean.shape, 1e-14)}
    config = write_tiny_lens(tmp_path / "star", None, star)
    warnings.simplefilter("ignore", tinylens.DataWarning)  # the noise, far under the image's scatter: said, not refused
    with x64():
        problem = tinylens.load(config, dtype=np.float64)
        value = problem.log_likelihood(problem.prior_transform(np.full(problem.ndim, 0.5)))
    assert np.isfinite(value) and value < -1e30  # chi^2 of residuals of about 1 over sigma 1e-14, counted
    with pytest.raises(DataError, match="rescale both") as err:
        tinylens.load(config, dtype=np.float32)
    assert "TINYLENS_PRECISION=float64" in str(err.value) and "bad-pixel" not in str(err.value)
    image = np.array(clean)
    image[20, 25] = -1e30
    with x64(), pytest.raises(DataError) as err:
        tinylens.load(write_tiny_lens(tmp_path / "bad", None, {**star, "image": image}), dtype=np.float64)
    assert "1 pixel holds a value" in str(err.value) and "-1e+30 at row 20, column 25" in str(err.value)


def test_a_few_pixels_of_placeholder_noise_are_kept_in_float64_not_called_bad_image_values(tmp_path, data):
    """Three pixels of noise 1e-20 (a placeholder; docs/config.md: noise under 1/1000 of the median
    is kept, with a warning) beside ordinary image values of about 0.09 were refused in float64 as
    '3 pixels hold a value beyond any the likelihood can weigh (e.g. 0.0907 at row 5, column 5 ...)',
    blaming image values of the image's own scale; float64 loads them again."""
    noise = np.array(data["noise"])
    noise[5, 5:8] = 1e-20
    warnings.simplefilter("ignore", tinylens.DataWarning)  # the placeholder noise: said, not refused
    with x64():
        problem = tinylens.load(write_tiny_lens(tmp_path, None, {**data, "noise": noise}), dtype=np.float64)
        assert np.isfinite(problem.log_likelihood(problem.prior_transform(np.full(problem.ndim, 0.5))))
    assert problem.dataset.n_used == noise.size
