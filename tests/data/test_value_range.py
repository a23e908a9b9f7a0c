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
