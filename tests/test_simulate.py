"""tinylens.simulate against lenstronomy, and the noise and PSF helpers."""

from __future__ import annotations

import re

import numpy as np
import pytest

from scipy.special import gammaincinv

from oracle import LENS_TRUTH, exact_r_sersic, gaussian_kernel, lenstronomy_image, x64
from tinylens.errors import ConfigError, ConfigValueError
from tinylens.simulate import add_noise, gaussian_psf, moffat_psf, simulate_image, simulate_images

PIX = 0.074
COMPONENTS = {"lens_mass_list": ["SIE", "SHEAR"], "lens_light_list": ["Sersic"], "source_light_list": ["Sersic"]}


def tinylens_truth(truth=LENS_TRUTH, pixel_scale=PIX) -> dict:
    """LENS_TRUTH in tinylens's conventions. lenstronomy's Sersic (amp, R, n) with
    b_L = 1.9992 n - 0.3271 equals tinylens's with R' = R (b_exact / b_L)^n and
    Ie = amp exp(b_L - b_exact); lenstronomy's amp is per arcsec^2 and its image per pixel,
    tinylens's Ie is per pixel (times pixel_scale^2)."""
    out = {"lens_mass": [dict(d) for d in truth["lens_mass"]]}
    for kind in ("lens_light", "source_light"):
        comps = []
        for d in truth[kind]:
            d = dict(d)
            n = d["n_sersic"]
            d["Ie"] = d.pop("amp") * pixel_scale**2 * np.exp((1.9992 * n - 0.3271) - gammaincinv(2 * n, 0.5))
            d["R_sersic"] = exact_r_sersic(d["R_sersic"], d["n_sersic"])
            comps.append(d)
        out[kind] = comps
    return out


@pytest.mark.parametrize("nsub", [2, 4])
def test_matches_lenstronomy_pixel_by_pixel(nsub):
    expected, kernel = lenstronomy_image(shape=(64, 64), pixel_scale=PIX, psf_size=11, fwhm_pix=2.0, nsub=nsub)
    with x64():
        image = simulate_image(COMPONENTS, tinylens_truth(), (64, 64), PIX, kernel, nsub=nsub, dtype=np.float64)
    assert image.shape == expected.shape
    peak = np.abs(expected).max()
    assert np.max(np.abs(image - expected)) / peak < 1e-5


def test_float64_while_x64_is_off_is_refused():
    """simulate_image(dtype=float64) with JAX's x64 off computed in float32 without a word."""
    import jax

    with x64():  # restored whatever happens
        jax.config.update("jax_enable_x64", False)
        with pytest.raises(ConfigValueError, match=r"^dtype=float64 needs JAX's x64 mode, which is off"):
            simulate_image(COMPONENTS, tinylens_truth(), (16, 16), PIX, gaussian_psf(0.15, PIX, 5), nsub=2,
                           dtype=np.float64)


@pytest.mark.parametrize("dtype", ["", 0])
def test_a_dtype_that_is_empty_or_zero_is_refused_not_taken_for_the_default(dtype):
    """simulate_image(dtype="") (an unset variable) or dtype=0 computed in the default precision
    without a word, where any other dtype but float32 or float64 is refused by name."""
    with pytest.raises(ConfigError, match=r"dtype=(''|0)"):
        simulate_image(COMPONENTS, tinylens_truth(), (16, 16), PIX, gaussian_psf(0.15, PIX, 5), nsub=2, dtype=dtype)


def test_float32_default_close_to_lenstronomy():
    expected, kernel = lenstronomy_image(shape=(48, 48), pixel_scale=PIX, nsub=4)
    image = simulate_image(COMPONENTS, tinylens_truth(), (48, 48), PIX, kernel, nsub=4)
    assert np.max(np.abs(image - expected)) / np.abs(expected).max() < 1e-4


def test_parts_add_up_and_amplitudes_argument():
    truth = tinylens_truth()
    amps = {"lens_light.0": truth["lens_light"][0].pop("Ie"), "source_light.0": truth["source_light"][0].pop("Ie")}
    psf = gaussian_psf(0.15, PIX, 11)
    parts = simulate_images(COMPONENTS, truth, (32, 32), PIX, psf, nsub=2, amplitudes=amps)
    np.testing.assert_allclose(parts["lens_light"] + parts["lensed_source"], parts["total"])
    assert parts["lensed_source"].max() > 0 and parts["lens_light"].max() > 0


def test_full_config_entries_accepted_and_errors():
    # A TinyLensGpu-style entry (with params) works as a component description.
    truth = tinylens_truth()
    lens_only = {"lens_light_list": [{"type": "Sersic", "params": {"n_sersic": {"fixed": True, "fixed_value": 4.0}}}]}
    values = {k: v for k, v in truth["lens_light"][0].items() if k != "n_sersic"}
    img = simulate_image(lens_only, {"lens_light": [values]}, (16, 16), PIX, gaussian_psf(0.15, PIX, 5), nsub=2)
    assert img.shape == (16, 16) and np.all(img > 0)
    with pytest.raises(ValueError, match="unknown profile 'Sersik'"):
        simulate_image({"lens_light_list": ["Sersik"]}, {"lens_light": [values]}, (8, 8), PIX, np.ones((3, 3)))
    with pytest.raises(ValueError, match="unknown parameter 'radius'"):
        simulate_image({"lens_light_list": ["Sersic"]}, {"lens_light": [{**values, "radius": 1}]}, (8, 8), PIX, np.ones((3, 3)))
    with pytest.raises(ValueError, match="needs at least one lens_mass_list"):
        simulate_image({"source_light_list": ["Sersic"]}, {"source_light": truth["source_light"]}, (8, 8), PIX, np.ones((3, 3)))
    with pytest.raises(ValueError, match="odd-sized"):
        simulate_image({"lens_light_list": ["Sersic"]}, {"lens_light": truth["lens_light"]}, (8, 8), PIX, np.ones((4, 4)))


def test_noise_map_matches_noise_statistics():
    rng = np.random.default_rng(0)
    image = np.zeros((400, 400))
    image[200:] = 50.0  # Poisson-dominated half
    sky, t = 0.05, 200.0
    noisy, noise = add_noise(image, sky, exposure_time=t, rng=rng)
    np.testing.assert_allclose(noise[:200], sky)
    np.testing.assert_allclose(noise[200:], np.sqrt(sky**2 + 50.0 / t))
    z = (noisy - image) / noise
    for part in (z[:200], z[200:]):
        assert abs(part.mean()) < 0.01
        assert part.std() == pytest.approx(1.0, abs=0.01)
    # Without an exposure time only sky noise is added.
    noisy2, noise2 = add_noise(image, sky, rng=1)
    np.testing.assert_allclose(noise2, sky)
    assert ((noisy2 - image) / sky).std() == pytest.approx(1.0, abs=0.01)
    with pytest.raises(ValueError):
        add_noise(image, 0.0)


def test_psfs_are_odd_normalised_centred():
    g = gaussian_psf(0.15, PIX, 21)
    assert g.shape == (21, 21) and g.sum() == pytest.approx(1.0)
    assert np.unravel_index(np.argmax(g), g.shape) == (10, 10)
    np.testing.assert_allclose(g, g.T)
    np.testing.assert_allclose(g, g[::-1, ::-1])
    # Wide Gaussian: pixel integration hardly matters, so it matches a sampled Gaussian.
    np.testing.assert_allclose(gaussian_psf(10 * PIX, PIX, 41), gaussian_kernel(41, 10.0), atol=1e-4)
    m = moffat_psf(0.15, PIX, 21, beta=3.0)
    assert m.shape == (21, 21) and m.sum() == pytest.approx(1.0)
    assert np.unravel_index(np.argmax(m), m.shape) == (10, 10)
    np.testing.assert_allclose(m, m[::-1, ::-1])
    for bad in (20, 0):
        with pytest.raises(ValueError, match="odd"):
            gaussian_psf(0.15, PIX, bad)
        with pytest.raises(ValueError, match="odd"):
            moffat_psf(0.15, PIX, bad)


LENS_LIGHT = {"lens_light_list": ["Sersic"]}
LENS_LIGHT_TRUTH = {"lens_light": [{"Ie": 1.0, "R_sersic": 0.5, "n_sersic": 2.0, "e1": 0.0, "e2": 0.0,
                                    "center_x": 0.0, "center_y": 0.0}]}


@pytest.mark.parametrize("change, message", [
    ({"shape": (-5, 10)}, "shape[0] (rows) must be a whole number >= 1, got -5"),
    ({"shape": (8, 0)}, "shape[1] (columns) must be a whole number >= 1, got 0"),
    ({"shape": (8.5, 8)}, "shape[0] (rows) must be a whole number >= 1, got 8.5"),
    ({"shape": 8}, "shape must be (rows, columns), two whole numbers >= 1, got 8"),
    ({"shape": (8, 8, 2)}, "shape must be (rows, columns), two whole numbers >= 1, got (8, 8, 2)"),
    ({"pixel_scale": 0.0}, "pixel_scale must be a finite number > 0, got 0.0"),
    ({"pixel_scale": -PIX}, f"pixel_scale must be a finite number > 0, got {-PIX}"),
    ({"pixel_scale": float("nan")}, "pixel_scale must be a finite number > 0, got nan"),
    ({"nsub": 0}, "nsub must be a whole number >= 1, got 0"),
    ({"nsub": 2.5}, "nsub must be a whole number >= 1, got 2.5"),
    ({"psf": np.zeros((3, 3))}, "psf sums to 0; its pixels must sum to a positive number (ideally 1)"),
    ({"psf": np.pad(np.full((1, 1), np.nan), 1)}, "psf has 1 NaN or infinite pixel; every pixel must be finite"),
])
def test_a_bad_argument_of_simulate_image_is_refused_by_name(change, message):
    """A negative shape gave numpy's 'negative dimensions are not allowed', nsub=0 a ZeroDivisionError,
    and a pixel_scale of 0, -0.074 or nan, a shape of (8.5, 8) or (8, 8, 2), nsub=2.5, a PSF of zeros
    or with a NaN an image (NaN, mirrored, truncated) without a word; each is a ValueError naming it."""
    args = {"shape": (8, 8), "pixel_scale": PIX, "psf": gaussian_psf(0.15, PIX, 5), "nsub": 2, **change}
    with pytest.raises(ValueError) as info:
        simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, **args)
    assert str(info.value) == message
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        simulate_images(LENS_LIGHT, LENS_LIGHT_TRUTH, **args)


@pytest.mark.parametrize("psf, shown", [
    ("abc", "'abc'"),
    ([[1.0, 2.0, 1.0], [1.0, 2.0]], "[[1.0, 2.0, 1.0], [1.0, 2.0]]"),
    ({"fwhm": 0.15}, "{'fwhm': 0.15}"),
])
def test_a_psf_that_is_no_array_of_numbers_is_refused_by_name(psf, shown):
    """psf='abc' or a ragged list gave numpy's own 'could not convert string to float' or
    'inhomogeneous shape' (a plain ValueError that 'except tinylens.TinyLensError' let through),
    a dict float()'s TypeError: each is a ConfigValueError naming psf and showing its value."""
    import tinylens

    with pytest.raises(ValueError) as info:
        simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), PIX, psf, nsub=2)
    assert isinstance(info.value, tinylens.ConfigError)
    assert str(info.value) == f"psf must be a 2-D odd-sized kernel of numbers, got {shown}"


def test_whole_floats_and_numpy_numbers_are_taken_as_the_numbers_they_are():
    import jax.numpy as jnp

    psf = gaussian_psf(0.15, PIX, 5)
    expected = simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 6), PIX, psf, nsub=2)
    for shape, nsub in (((8.0, 6.0), 2.0), (np.array([8, 6]), np.int64(2)), ([8, 6], 2),
                        (jnp.array([8, 6]), jnp.int32(2))):  # a JAX array's, as int() took it before the checks
        np.testing.assert_array_equal(simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, shape, PIX, psf, nsub=nsub), expected)
    with pytest.raises(ValueError, match=r"^shape must be \(rows, columns\), two whole numbers >= 1, got \[\[8\], 6\]$"):
        simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, [[8], 6], PIX, psf)  # ragged: named, not numpy's own error


@pytest.mark.parametrize("make, message", [
    (lambda: gaussian_psf(0.15, PIX, 2.5), "PSF size must be a positive odd number of pixels, got 2.5"),
    (lambda: moffat_psf(0.15, PIX, "abc"), "PSF size must be a positive odd number of pixels, got 'abc'"),
    (lambda: gaussian_psf(0.0, PIX, 5), "fwhm must be a finite number > 0, got 0.0"),
    (lambda: gaussian_psf(-0.15, PIX, 5), "fwhm must be a finite number > 0, got -0.15"),
    (lambda: moffat_psf(float("nan"), PIX, 5), "fwhm must be a finite number > 0, got nan"),
    (lambda: gaussian_psf(0.15, 0.0, 5), "pixel_scale must be a finite number > 0, got 0.0"),
    (lambda: moffat_psf(0.15, -PIX, 5), f"pixel_scale must be a finite number > 0, got {-PIX}"),
    (lambda: moffat_psf(0.15, PIX, 5, oversample=0), "oversample must be a whole number >= 1, got 0"),
    (lambda: moffat_psf(0.15, PIX, 5, beta=float("nan")), "Moffat beta must be a finite number > 1, got nan"),
    (lambda: moffat_psf(0.15, PIX, 5, beta=1.0), "Moffat beta must be a finite number > 1, got 1.0"),
    (lambda: moffat_psf(0.15, PIX, 5, beta=1e20), "Moffat beta must be <= 1e+10 (above it the PSF's width cannot be "
                                                 "computed in float64: 1e20 gave a flat PSF; a Moffat of so large a "
                                                 "beta is a Gaussian), got 1e+20"),
])
def test_a_bad_argument_of_a_psf_helper_is_refused_by_name(make, message):
    """size=2.5 was taken as 2 and refused as 'got 2', size='abc' gave int()'s 'invalid literal', a
    fwhm or pixel_scale of 0 or nan a PSF of NaN, a negative one a PSF without a word, oversample=0 a
    PSF of NaN, -1 numpy's reshape error, beta=nan passed 'beta <= 1', and beta=1e20 gave a flat PSF
    (2^(1/beta) - 1 rounded to 0): each names its argument."""
    with pytest.raises(ValueError) as info:
        make()
    assert str(info.value) == message


def test_a_psf_helper_takes_whole_floats_and_numpy_numbers():
    np.testing.assert_array_equal(gaussian_psf(np.float32(0.5), PIX, 5.0), gaussian_psf(0.5, PIX, 5))
    np.testing.assert_array_equal(moffat_psf(0.5, PIX, np.int64(5), oversample=3.0), moffat_psf(0.5, PIX, 5, oversample=3))


@pytest.mark.parametrize("change, message", [
    ({"rng": -1}, "rng must be a numpy Generator, a non-negative integer seed or None, got -1"),
    ({"rng": 2.5}, "rng must be a numpy Generator, a non-negative integer seed or None, got 2.5"),
    ({"sky_sigma": float("nan")}, "sky_sigma must be a finite number >= 0, got nan"),
    ({"sky_sigma": -0.1}, "sky_sigma must be a finite number >= 0, got -0.1"),
    ({"sky_sigma": 1e200}, "sky_sigma must be <= 1e+150 (its square, the noise variance, overflows a float64 above "
                           "~1.3e154), got 1e+200"),
    ({"exposure_time": float("nan")}, "exposure_time must be a finite number > 0, got nan"),
    ({"exposure_time": -100.0, "gain": -1.0}, "exposure_time must be a finite number > 0, got -100.0"),
    ({"gain": 0.0}, "gain must be a finite number > 0, got 0.0"),
    ({"image": np.array([[1.0, np.nan], [np.inf, 0.0]])}, "image has 2 NaN or infinite pixels; every pixel must be finite"),
    ({"image": "abc"}, "image must be an array of numbers (counts per second), got 'abc'"),
    ({"image": None}, "image must be an array of numbers (counts per second), got None"),
    ({"image": [[1.0, 2.0], [3.0]]}, "image must be an array of numbers (counts per second), got [[1.0, 2.0], [3.0]]"),
    ({"exposure_time": 1e-300}, "exposure_time * gain = 1e-300 * 1.0 is too small for this image: the Poisson variance, "
                                "max(image, 0) / (exposure_time * gain), overflows a float64; is the image in counts "
                                "per second, and exposure_time in seconds?"),
    ({"exposure_time": 1e-200, "gain": 1e-200, "image": np.zeros((2, 2))},
     "exposure_time * gain = 1e-200 * 1e-200 is too small for this image: the Poisson variance, max(image, 0) / "
     "(exposure_time * gain), overflows a float64; is the image in counts per second, and exposure_time in seconds?"),
    ({"exposure_time": 1e200, "gain": 1e200, "image": np.zeros((2, 2))},
     "exposure_time * gain = 1e+200 * 1e+200 overflows a float64: is exposure_time in seconds, and gain in e-/count?"),
    ({"exposure_time": 1e300, "gain": 1e10},
     "exposure_time * gain = 1e+300 * 10000000000.0 overflows a float64: is exposure_time in seconds, and gain in e-/count?"),
    ({"image": np.array([[1.0, 1e20]])}, "image * exposure_time * gain reaches 1e+22 electrons in a pixel, over the 1e+18 "
                                         "a Poisson draw takes: is the image in counts per second, and exposure_time in seconds?"),
])
def test_a_bad_argument_of_add_noise_is_refused_by_name(change, message):
    """rng=-1 gave numpy's 'expected non-negative integer' and 2.5 its SeedSequence TypeError, a NaN
    exposure_time or image pixel, or a huge image, numpy's 'lam value too large', sky_sigma=nan the
    advice to give sky_sigma > 0, sky_sigma=1e200 an OverflowError (its square), an exposure_time
    (times gain) whose square underflows to 0 a noise map of inf (or NaN, and that advice), one times
    gain that overflows 'is too small for this image' (an image of 0) or 'reaches inf electrons', and a
    negative exposure_time times a negative gain noise without a word, an image of 'abc' or a ragged
    list numpy's own ValueError and None an image of one NaN pixel; each is a ValueError naming
    the argument."""
    args = {"image": np.ones((2, 2)), "sky_sigma": 0.1, "exposure_time": 100.0, "gain": 1.0, "rng": 1, **change}
    with pytest.raises(ValueError) as info:
        add_noise(**args)
    assert str(info.value) == message


def test_the_largest_sky_sigma_gives_a_finite_noise_map():
    """sky_sigma up to MAX_SKY_SIGMA (1e150) squares to a finite variance: the noise map is sky_sigma."""
    noisy, noise = add_noise(np.ones((2, 2)), 1e150, rng=1)
    assert np.all(np.isfinite(noisy)) and np.all(noise == 1e150)


def test_add_noise_takes_a_seed_a_generator_or_a_seed_sequence_alike():
    image = np.full((4, 4), 3.0)
    expected = add_noise(image, 0.1, exposure_time=100.0, rng=7)
    for rng in (np.int64(7), np.random.default_rng(7), np.random.SeedSequence(7)):
        for got, want in zip(add_noise(image, 0.1, exposure_time=100.0, rng=rng), expected):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", [-1, 2.5, "7"])
def test_the_demo_lens_refuses_a_seed_that_is_no_non_negative_integer_by_name(seed, tmp_path):
    """simulate_demo(-1) gave numpy's 'expected non-negative integer', simulate_demo(2.5) its
    SeedSequence TypeError: write_demo's check (population.check_seed) now refuses them first.
    Called from Python, the message named the command-line flag --seed; it names the argument."""
    from tinylens.cli.demo import simulate_demo, write_demo

    with pytest.raises(ConfigError) as info:
        simulate_demo(seed)
    assert str(info.value) == ("simulate_demo's seed (the random seed of the noise) must be a non-negative integer, "
                               f"got {seed!r}")
    with pytest.raises(ConfigError) as info:
        write_demo(tmp_path / "demo", seed)
    assert str(info.value) == ("write_demo's seed (the random seed of the noise) must be a non-negative integer, "
                               f"got {seed!r}")
    assert "--seed" not in str(info.value) and not (tmp_path / "demo").exists()


_SIS = {"theta_E": 1.0, "center_x": 0.0, "center_y": 0.0}
_EPL = {"theta_E": 1.0, "gamma": 2.0, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}


def _fixed_sersic(name: str, value: float) -> dict:
    return {"type": "Sersic", "params": {name: {"fixed": True, "fixed_value": value}}}


@pytest.mark.parametrize("components, truth, message", [
    # a component's own fixed_value: named there, not in truth, which does not hold it
    ({"lens_light_list": [_fixed_sersic("n_sersic", float("inf"))]},
     {"lens_light": [{k: v for k, v in LENS_LIGHT_TRUTH["lens_light"][0].items() if k != "n_sersic"}]},
     "lens_light_list[0]['params']['n_sersic']['fixed_value'] must be a finite number, got inf"),
    ({"lens_light_list": [_fixed_sersic("n_sersik", 4.0)]}, LENS_LIGHT_TRUTH,
     "lens_light_list[0]['params']: unknown parameter 'n_sersik' for Sersic"),
    ({"lens_light_list": [_fixed_sersic("center_x", 1e300)]},
     {"lens_light": [{k: v for k, v in LENS_LIGHT_TRUTH["lens_light"][0].items() if k != "center_x"}]},
     "lens_light_list[0]['params']['center_x']['fixed_value'] is 1e+300, beyond the"),
    # the lists as written: truth's with _list, the components' without
    ({"lens_light_list": ["Sersic"]}, {"lens_light_list": [{**LENS_LIGHT_TRUTH["lens_light"][0], "e1": None}]},
     "truth['lens_light_list'][0]['e1'] must be a finite number, got None"),
    ({"lens_light": ["Sersic", "Sersic"]}, LENS_LIGHT_TRUTH, "truth['lens_light'] has 1 entry for 2 components"),
    ({"lens_light": [{"type": "Sersik"}]}, LENS_LIGHT_TRUTH, "lens_light[0]: unknown profile 'Sersik'"),
    # a parameter by the alias written: EPL's slope (gamma), a Sersic's amp (Ie)
    ({"lens_mass_list": ["EPL"], "lens_light_list": ["Sersic"]},
     {"lens_mass": [{**{k: v for k, v in _EPL.items() if k != "gamma"}, "slope": float("nan")}], **LENS_LIGHT_TRUTH},
     "truth['lens_mass'][0]['slope'] must be a finite number, got nan"),
    (LENS_LIGHT, {"lens_light": [{**{k: v for k, v in LENS_LIGHT_TRUTH["lens_light"][0].items() if k != "Ie"},
                                  "amp": float("inf")}]},
     "truth['lens_light'][0]['amp'] must be a finite number, or a list of them (one per amplitude), got inf"),
])
def test_a_bad_value_is_named_where_and_as_it_was_written(components, truth, message):
    """simulate_image named every bad value as truth['<list>_list'][i]['<canonical name>']: a
    truth written as the module's example writes it (lens_light) was told of truth['lens_light_list'],
    a component's own fixed_value of infinity or 1e300, or its params' misspelt name, was put in
    truth, which does not hold it, and a value given by an alias (EPL's slope, a Sersic's amp) was
    named by the parameter's name (gamma, Ie); each is named where, and as, it was written."""
    with pytest.raises(ConfigValueError) as info:
        simulate_image(components, truth, (16, 16), 0.1, gaussian_psf(0.2, 0.1, 5), nsub=1)
    assert str(info.value).startswith(message), str(info.value)


def with_lens_light(**change) -> dict:
    return {"lens_light": [{**LENS_LIGHT_TRUTH["lens_light"][0], **change}]}


@pytest.mark.parametrize("components, truth, message", [
    (LENS_LIGHT, with_lens_light(e1="abc"), "truth['lens_light'][0]['e1'] must be a finite number, got 'abc'"),
    (LENS_LIGHT, with_lens_light(e1=None), "truth['lens_light'][0]['e1'] must be a finite number, got None"),
    (LENS_LIGHT, with_lens_light(center_x=float("nan")),
     "truth['lens_light'][0]['center_x'] must be a finite number, got nan"),
    (LENS_LIGHT, with_lens_light(Ie=float("inf")),
     "truth['lens_light'][0]['Ie'] must be a finite number, or a list of them (one per amplitude), got inf"),
    (LENS_LIGHT, {"lens_light": [1.0]}, "truth['lens_light'][0] must be a mapping of parameter values, got 1.0"),
    (LENS_LIGHT, {"lens_light": LENS_LIGHT_TRUTH["lens_light"][0]},
     f"truth['lens_light'] must be a list (e.g. [{LENS_LIGHT_TRUTH['lens_light'][0]!r}]), "
     f"got {LENS_LIGHT_TRUTH['lens_light'][0]!r}"),
    ({"lens_light_list": "Sersic"}, LENS_LIGHT_TRUTH,
     "components['lens_light_list'] must be a list (e.g. ['Sersic']), got 'Sersic'"),
    ({"lens_light_list": [{"settings": {}}]}, LENS_LIGHT_TRUTH,
     "lens_light_list[0] must be a profile name or a mapping with its 'type' (e.g. {'type': 'SIE'}), got {'settings': {}}"),
    ({"lens_light_list": [{"type": ["Sersic"]}]}, LENS_LIGHT_TRUTH,
     "lens_light_list[0]['type'] must be a profile name (e.g. 'SIE'), got ['Sersic']"),
    ({"lens_light_list": [{"type": 3}]}, LENS_LIGHT_TRUTH, "lens_light_list[0]['type'] must be a profile name (e.g. 'SIE'), got 3"),
    ({"lens_light_list": [{"type": "Sersic", "settings": "abc"}]}, LENS_LIGHT_TRUTH,
     "lens_light_list[0]['settings'] must be a mapping (e.g. {'n_gauss': 20}), got 'abc'"),
    ({"lens_light_list": [{"type": "Sersic", "settings": [1]}]}, LENS_LIGHT_TRUTH,
     "lens_light_list[0]['settings'] must be a mapping (e.g. {'n_gauss': 20}), got [1]"),
])
def test_a_bad_component_or_truth_value_is_refused_where_it_is(components, truth, message):
    """A parameter of 'abc' or None gave float()'s own message, one of nan or inf an image of NaN
    without a word, a truth entry that is no mapping an AttributeError, a single truth dict or a
    list given as the string 'Sersic' (6 one-letter profiles) a count mismatch, and an entry without
    its type a KeyError, a type of ['Sersic'] an unhashable-type TypeError and settings of 'abc' or [1]
    dict()'s own ValueError or TypeError: each is a ConfigValueError naming the list, the entry and
    the parameter or key."""
    import tinylens

    with pytest.raises(ValueError) as info:
        simulate_image(components, truth, (8, 8), PIX, gaussian_psf(0.15, PIX, 5), nsub=2)
    assert isinstance(info.value, tinylens.ConfigError)
    assert str(info.value) == message


@pytest.mark.parametrize("params, message", [
    ([1], "lens_light_list[0]['params'] must be a mapping of parameter names to their specs "
          "(e.g. {'n_sersic': {'fixed': True, 'fixed_value': 4.0}}), got [1]"),
    ("abc", "lens_light_list[0]['params'] must be a mapping of parameter names to their specs "
            "(e.g. {'n_sersic': {'fixed': True, 'fixed_value': 4.0}}), got 'abc'"),
    ({"n_sersic": 4.0}, "lens_light_list[0]['params']['n_sersic'] must be a mapping such as "
                        "{'fixed': True, 'fixed_value': 4.0}, got 4.0"),
])
def test_component_params_that_are_no_mapping_are_refused_by_name(params, message):
    """A component's params of [1] or 'abc' raised an AttributeError from .items(), which
    'except tinylens.TinyLensError' let through, and a parameter's spec of 4.0 (no mapping) was
    passed over without a word, truth's value drawn instead; each is a ConfigValueError naming
    the entry and the key, as a config refuses them."""
    import tinylens

    components = {"lens_light_list": [{"type": "Sersic", "params": params}]}
    with pytest.raises(ValueError) as info:
        simulate_image(components, LENS_LIGHT_TRUTH, (8, 8), PIX, gaussian_psf(0.15, PIX, 5), nsub=2)
    assert isinstance(info.value, tinylens.ConfigError)
    assert str(info.value) == message


def test_truth_that_is_no_mapping_is_refused_by_name():
    with pytest.raises(TypeError, match=r"^truth must be a mapping such as \{'lens_light': \[\{'Ie': 1\.0, \.\.\.\}\]\}, got \[1\]$"):
        simulate_image(LENS_LIGHT, [1], (8, 8), PIX, gaussian_psf(0.15, PIX, 5), nsub=2)


@pytest.mark.parametrize("amplitudes", [[1.0, 2.0], "abc", 5, np.array([1.0, 2.0])])
def test_amplitudes_that_are_no_mapping_are_refused_by_name(amplitudes):
    """amplitudes=[1.0, 2.0], 'abc', 5 or an array gave dict()'s own TypeError or ValueError ('cannot
    convert dictionary update sequence element #0', or numpy's 'truth value of an array ... is
    ambiguous'): each is a ConfigTypeError (a TypeError) naming amplitudes, as truth that is no
    mapping is; a list of (label, amplitude) pairs is still read as the mapping it makes."""
    import tinylens

    with pytest.raises(TypeError) as info:
        simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), PIX, gaussian_psf(0.15, PIX, 5), nsub=2, amplitudes=amplitudes)
    assert isinstance(info.value, tinylens.ConfigError)
    assert str(info.value) == ("amplitudes must be a mapping of component labels to amplitudes such as "
                               f"{{'lens_light.0': 2.0}}, or None, got {amplitudes!r}")
    pairs = simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), PIX, gaussian_psf(0.15, PIX, 5), nsub=2,
                           amplitudes=[("lens_light.0", 2.0)])
    np.testing.assert_allclose(pairs, 2 * simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), PIX, gaussian_psf(0.15, PIX, 5),
                                                         nsub=2), rtol=1e-5)


def test_an_amplitude_for_no_component_is_refused_with_the_labels():
    """amplitudes={'lens_light0': 5.0} (the dot left out) or one for a component the model lacks was
    passed over, and the image drawn with truth's Ie, without a word: it is refused with the labels."""
    psf = gaussian_psf(0.15, PIX, 5)
    with pytest.raises(ValueError) as info:
        simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), PIX, psf, nsub=2, amplitudes={"lens_light0": 5.0})
    assert str(info.value) == ("amplitudes has 'lens_light0', no light component of the model; its labels: "
                               "'lens_light.0' (a list's name without _list, a dot, the index)")
    with pytest.raises(ValueError, match=r"^amplitudes has 'source_light\.0', no light component"):
        simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), PIX, psf, nsub=2, amplitudes={"source_light.0": 5.0})
    five = simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), PIX, psf, nsub=2, amplitudes={"lens_light.0": 5.0})
    np.testing.assert_allclose(five, 5 * simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), PIX, psf, nsub=2), rtol=1e-5)


def test_an_integer_beyond_float_range_is_refused_by_name():
    """fwhm=10**400 (an int no float holds) gave float()'s OverflowError, not the argument's message."""
    with pytest.raises(ValueError, match=r"^fwhm must be a finite number > 0, got 1000+$"):
        gaussian_psf(10**400, PIX, 5)
    with pytest.raises(ValueError, match=r"^sky_sigma must be a finite number >= 0, got 1000+$"):
        add_noise(np.ones((2, 2)), 10**400)


@pytest.mark.parametrize("mistake, kind, message", [
    (lambda: simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), 0.0, gaussian_psf(0.15, PIX, 5)), ValueError,
     "pixel_scale must be a finite number > 0, got 0.0"),
    (lambda: simulate_images(LENS_LIGHT, with_lens_light(e1=None), (8, 8), PIX, gaussian_psf(0.15, PIX, 5)), ValueError,
     "truth['lens_light'][0]['e1'] must be a finite number, got None"),
    (lambda: gaussian_psf(0.15, PIX, 4), ValueError, "PSF size must be a positive odd number of pixels, got 4"),
    (lambda: moffat_psf(0.15, PIX, 5, beta=1.0), ValueError, "Moffat beta must be a finite number > 1, got 1.0"),
    (lambda: add_noise(np.ones((2, 2)), -0.1), ValueError, "sky_sigma must be a finite number >= 0, got -0.1"),
    (lambda: simulate_image(LENS_LIGHT, [1], (8, 8), PIX, gaussian_psf(0.15, PIX, 5)), TypeError,
     "truth must be a mapping such as {'lens_light': [{'Ie': 1.0, ...}]}, got [1]"),
    (lambda: simulate_image(["Sersic"], LENS_LIGHT_TRUTH, (8, 8), PIX, gaussian_psf(0.15, PIX, 5)), TypeError,
     "components must be a mapping such as {'lens_mass_list': ['SIE'], ...}"),
])
def test_a_mistake_in_a_simulate_argument_is_a_tinylens_error_and_the_documented_builtin(mistake, kind, message):
    """simulate_image(..., pixel_scale=0.0), gaussian_psf(size=4), add_noise(sky_sigma=-0.1) and the
    rest raised a plain ValueError (truth=[1] a plain TypeError), which 'except tinylens.TinyLensError'
    around a script let through, while the same value in a config is a ConfigError: each is a
    ConfigValueError (ConfigTypeError), a TinyLensError that is also the ValueError (TypeError) the
    docstrings promise, with the same message."""
    import tinylens

    with pytest.raises(Exception) as info:
        mistake()
    assert isinstance(info.value, tinylens.TinyLensError) and isinstance(info.value, kind)
    assert isinstance(info.value, tinylens.ConfigError)
    assert str(info.value) == message


def test_mge_settings_that_give_no_widths_are_a_tinylens_error_in_simulate_too():
    """simulate_image of an MGE with settings n_gauss: 0 raised mge.sigmas's plain ValueError, the
    one mistake of simulate's arguments that 'except tinylens.TinyLensError' still let through:
    it is a ConfigValueError (a ValueError too), with the same message, as in a config."""
    import tinylens

    mge = {"lens_light_list": [{"type": "MGE", "settings": {"n_gauss": 0}}]}
    truth = {"lens_light": [{"e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}]}
    with pytest.raises(ValueError) as info:
        simulate_image(mge, truth, (8, 8), PIX, gaussian_psf(0.15, PIX, 5), nsub=2, amplitudes={"lens_light.0": [1.0]})
    assert isinstance(info.value, tinylens.TinyLensError) and isinstance(info.value, ValueError)
    assert str(info.value) == ("MGE needs an integer n_gauss from 1 to 60 and widths 0 < sigma_min <= sigma_max "
                               "(arcsec), got n_gauss=0, sigma_min=0.01, sigma_max=3.0")


@pytest.mark.parametrize("components, truth, message", [
    (["Sersic", "Sersic"], LENS_LIGHT_TRUTH, "truth['lens_light'] has 1 entry for 2 components"),
    (["Sersic"], {"lens_light": LENS_LIGHT_TRUTH["lens_light"] * 2}, "truth['lens_light'] has 2 entries for 1 component"),
    (["Sersic"] * 3, {"lens_light": LENS_LIGHT_TRUTH["lens_light"] * 2}, "truth['lens_light'] has 2 entries for 3 components"),
])
def test_truth_of_another_number_of_entries_than_components_is_counted_in_words(components, truth, message):
    """A truth list of one entry for two components was refused as 'has 1 entries for 2 components',
    and two for one as 'has 2 entries for 1 components': each count now reads right for one."""
    with pytest.raises(ConfigError) as info:
        simulate_image({"lens_light_list": components}, truth, (8, 8), PIX, gaussian_psf(0.15, PIX, 5), nsub=2)
    assert str(info.value) == message


MGE_TRUTH = {"lens_light": [{"e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}]}


@pytest.mark.parametrize("entry, truth, amplitudes, message", [
    ({"type": "MGE", "settings": {"n_gauss": 3}}, MGE_TRUTH, {"lens_light.0": [1.0] * 2},
     "truth['lens_light'][0]: MGE needs 3 amplitudes, got 2"),
    ({"type": "MGE", "settings": {"n_gauss": 3}, "params": {"amp": {"fixed": True, "fixed_value": 1.0}}}, MGE_TRUTH, None,
     "lens_light_list[0]['params']['amp']['fixed_value']: MGE needs 3 amplitudes, got 1"),
    ("Sersic", LENS_LIGHT_TRUTH, {"lens_light.0": [1.0, 2.0]}, "truth['lens_light'][0]: Sersic needs 1 amplitude, got 2"),
])
def test_amplitudes_of_the_wrong_number_are_refused_counting_them_in_words(entry, truth, amplitudes, message):
    """A component given more or fewer amplitudes than its profile has basis images was refused
    with 'needs 1 amplitude(s)': the count is now said in words ('1 amplitude', '3 amplitudes'). One given
    by the component's own fixed_value (a single number, for an MGE's amplitudes) was said of truth, which
    holds none: it is named where it was written."""
    with pytest.raises(ValueError) as info:
        simulate_image({"lens_light_list": [entry]}, truth, (8, 8), PIX, gaussian_psf(0.15, PIX, 5), nsub=2,
                       amplitudes=amplitudes)
    assert str(info.value) == message


@pytest.mark.parametrize("components, message", [
    ({"lens_mass_list": ["SIE"], "lens_lite_list": ["Sersic"]}, "unknown component list ['lens_lite_list']; use "),
    ({"mass_list": ["SIE"], "light": ["Sersic"]}, "unknown component lists ['light', 'mass_list']; use "),
])
def test_unknown_component_lists_are_named_in_the_singular_or_the_plural(components, message):
    """An unknown component list was refused as 'unknown component list(s) [...]'; one is now an
    'unknown component list', several 'unknown component lists'."""
    with pytest.raises(ConfigError) as info:
        simulate_image(components, {}, (8, 8), PIX, gaussian_psf(0.15, PIX, 5))
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("entry, truth, amplitudes, message", [
    ({"type": "MGE", "settings": {"n_gaus": 3}}, MGE_TRUTH, {"lens_light.0": [1.0] * 3},
     "lens_light_list[0]['settings']: unknown setting 'n_gaus'. Did you mean 'n_gauss' instead of 'n_gaus'? "
     "Allowed: n_gauss, sigma_max, sigma_min."),
    ({"type": "Sersic", "settings": {"n_gauss": 3}}, LENS_LIGHT_TRUTH, None,
     "lens_light_list[0]['settings']: unknown setting 'n_gauss'. Sersic takes no settings."),
])
def test_an_unknown_component_setting_is_refused_as_a_config_refuses_it(entry, truth, amplitudes, message):
    """A component's settings key that its profile does not take (n_gaus for n_gauss, any for a
    Sersic) was passed over, and the image drawn with the defaults, where the same key in a config is
    refused: it is a ConfigValueError naming the list and the entry, with the config's words and hint."""
    import tinylens

    with pytest.raises(ValueError) as info:
        simulate_image({"lens_light_list": [entry]}, truth, (8, 8), PIX, gaussian_psf(0.15, PIX, 5), nsub=2,
                       amplitudes=amplitudes)
    assert isinstance(info.value, tinylens.ConfigError)
    assert str(info.value) == message


@pytest.mark.parametrize("make, message", [
    (lambda: simulate_images(LENS_LIGHT, LENS_LIGHT_TRUTH, (10**6, 10**6), PIX, gaussian_psf(0.15, PIX, 5), nsub=1),
     "shape (1000000, 1000000) at nsub 1 is too large: the image is simulated on (1000000 x 1) x (1000000 x 1) = 1e+12 "
     "points, over the 6400 x 6400 (about 4 GB of memory) allowed; lower shape or nsub"),
    (lambda: simulate_image(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), PIX, gaussian_psf(0.15, PIX, 5), nsub=10**6),
     "shape (8, 8) at nsub 1000000 is too large: the image is simulated on (8 x 1000000) x (8 x 1000000) = 6.4e+13 "
     "points, over the 6400 x 6400 (about 4 GB of memory) allowed; lower shape or nsub"),
    (lambda: simulate_images(LENS_LIGHT, LENS_LIGHT_TRUTH, (801, 800), PIX, gaussian_psf(0.15, PIX, 5)),
     "shape (801, 800) at nsub 8 is too large: the image is simulated on (801 x 8) x (800 x 8) = 4.1e+07 "
     "points, over the 6400 x 6400 (about 4 GB of memory) allowed; lower shape or nsub"),
    (lambda: gaussian_psf(0.15, PIX, 10**6 + 1),
     "PSF size must be <= 6399 pixels, got 1000001: the PSF is built on size^2 points, at most 6400 on a side (memory)"),
    (lambda: moffat_psf(0.15, PIX, 6401, oversample=1),
     "PSF size must be <= 6399 pixels, got 6401: the PSF is built on size^2 points, at most 6400 on a side (memory)"),
    (lambda: moffat_psf(0.15, PIX, 583),
     "PSF size x oversample must be <= 6400, got 583 x 11 = 6413: the PSF is built on (size x oversample)^2 points "
     "(memory); lower size or oversample"),
    (lambda: moffat_psf(0.15, PIX, 5, oversample=10**6),
     "PSF size x oversample must be <= 6400, got 5 x 1000000 = 5000000: the PSF is built on (size x oversample)^2 "
     "points (memory); lower size or oversample"),
])
def test_an_image_or_psf_over_the_memory_bound_is_refused_by_name(make, message):
    """Called from Python, simulate_images of shape (10^6, 10^6), or nsub 10^6, and gaussian_psf or
    moffat_psf of size 10^6 + 1 (or oversample 10^6) asked numpy for terabytes, a MemoryError or a
    swapping machine, where simulate-population refuses such a grid: each is refused, before any
    allocation, as a ConfigValueError naming the argument(s), with the command line's bound."""
    import tinylens

    with pytest.raises(ValueError) as info:
        make()
    assert isinstance(info.value, tinylens.ConfigError)
    assert str(info.value) == message


@pytest.mark.parametrize("size, nsub", [(800, 8), (801, 8), (6400, 1), (6401, 1), (100, 64), (100, 65)])
def test_the_python_image_bound_is_the_command_lines(size, nsub):
    """simulate_images's grid bound and simulate-population's size x nsub bound are one (grid_fits)."""
    from tinylens.survey.population import PopulationOptions
    from tinylens.simulate import grid_fits

    try:
        PopulationOptions(size=size, nsub=nsub)
        cli_takes = True
    except ConfigError:
        cli_takes = False
    assert cli_takes == grid_fits((size, size), nsub) == (size * nsub <= 6400)


@pytest.mark.parametrize("psf_type, oversample, largest", [("gaussian", 1, 6399), ("moffat", 11, 581)])
def test_the_python_psf_bound_is_the_command_lines(psf_type, oversample, largest):
    """gaussian_psf and moffat_psf refuse, by name, the first PSF size that simulate-population refuses."""
    from tinylens.survey.population import PopulationOptions
    from tinylens.simulate import largest_psf_size

    assert largest_psf_size(oversample) == largest
    PopulationOptions(psf_type=psf_type, psf_size=largest)
    with pytest.raises(ConfigError):
        PopulationOptions(psf_type=psf_type, psf_size=largest + 2)
    with pytest.raises(ValueError, match=r"^PSF size"):
        (gaussian_psf if psf_type == "gaussian" else moffat_psf)(0.15, PIX, largest + 2)


def test_a_pixel_scale_whose_coordinates_overflow_is_refused_by_name():
    """simulate_images with pixel_scale=1e300 gave an image of NaN (the float32 coordinates overflowed)
    without a word; it is refused naming pixel_scale, and one just inside the bound (pixel_scale x
    size <= float32's largest, 3.4e38) still gives a finite image."""
    psf = gaussian_psf(0.15, PIX, 5)
    with pytest.raises(ValueError) as info:
        simulate_images(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), 1e300, psf, nsub=2, dtype=np.float32)
    assert str(info.value) == ("pixel_scale 1e+300 is too large for an image of 8 pixels a side: the pixels' coordinates "
                               "(arcsec) would overflow float32 (pixel_scale x size must be <= 3.4e+38); pixel_scale is "
                               "in arcsec per pixel (CSST: 0.074)")
    images = simulate_images(LENS_LIGHT, LENS_LIGHT_TRUTH, (8, 8), 4.2e37, psf, nsub=2, dtype=np.float32)
    assert all(np.all(np.isfinite(image)) for image in images.values())


@pytest.mark.parametrize("make, fwhm, scale, width", [
    (gaussian_psf, 1e300, PIX, "1.35e+301"),
    (gaussian_psf, 0.15, 1e-300, "1.5e+299"),
    (moffat_psf, 0.15, 1e300, "1.5e-301"),
    (moffat_psf, 1e-300, PIX, "1.35e-299"),
])
def test_a_psf_too_wide_or_too_narrow_to_compute_is_refused_naming_its_width(make, fwhm, scale, width):
    """gaussian_psf of fwhm 1e300 (or pixel_scale 1e-300), whose pixels' shares all underflowed to 0,
    and moffat_psf of pixel_scale 1e300 (or fwhm 1e-300), whose (r / alpha)^2 overflowed, returned a
    PSF of NaN with numpy's RuntimeWarnings; each is a ConfigValueError naming fwhm and pixel_scale."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning on the way
        with pytest.raises(ValueError) as info:
            make(fwhm, scale, 5)
    assert str(info.value) == (f"fwhm {fwhm:g} at pixel_scale {scale:g} is a PSF {width} pixels wide, too wide or too "
                               "narrow to be computed over pixels (every pixel's share under- or overflows); fwhm and "
                               "pixel_scale are in arcsec (CSST: 0.15 and 0.074)")


@pytest.mark.parametrize("change, name", [({"center_x": 1e300}, "center_x"), ({"R_sersic": -1e39}, "R_sersic")])
def test_a_truth_value_beyond_the_precision_is_refused_by_name(change, name):
    """A lens_light centre_x of 1e300 (beyond float32's 3.4e38) gave an image of NaN without a word:
    each truth value beyond the precision's range is refused naming it; one within it (center_x
    1e38, far outside the image) gives a finite image without that light."""
    psf = gaussian_psf(0.15, PIX, 5)
    with pytest.raises(ValueError) as info:
        simulate_images(LENS_LIGHT, with_lens_light(**change), (8, 8), PIX, psf, nsub=2, dtype=np.float32)
    value = next(iter(change.values()))
    assert str(info.value) == (f"truth['lens_light'][0]['{name}'] is {value:g}, beyond the 3.4e+38 a float32 holds "
                               "(the precision the image is computed in: tinylens.precision)")
    far = simulate_images(LENS_LIGHT, with_lens_light(center_x=1e38), (8, 8), PIX, psf, nsub=2, dtype=np.float32)["total"]
    assert np.all(np.isfinite(far)) and np.all(far == 0)


def test_amplitudes_whose_image_overflows_are_refused_naming_the_largest():
    """An Ie of 1e308 (a finite number) made an image of inf, with numpy's 'overflow encountered in
    matmul' alone; it is refused naming the largest amplitude and its component, and 1e300 still
    gives a finite image, 1e300 times that of Ie = 1."""
    psf = gaussian_psf(0.15, PIX, 5)
    with pytest.raises(ValueError) as info:
        simulate_images(LENS_LIGHT, with_lens_light(Ie=1e308), (8, 8), PIX, psf, nsub=2)
    message = re.sub(r"make \d+ pixels", "make N pixels", str(info.value))  # those over ~1.8 at Ie = 1
    assert message == ("the amplitudes make N pixels of the image overflow a float64 (inf or NaN): the largest, "
                       "1e+308 for 'lens_light.0' (its Ie, amp or amplitudes['lens_light.0']), is too large")
    big = simulate_image(LENS_LIGHT, with_lens_light(Ie=1e300), (8, 8), PIX, psf, nsub=2)
    np.testing.assert_allclose(big, 1e300 * simulate_image(LENS_LIGHT, with_lens_light(Ie=1.0), (8, 8), PIX, psf, nsub=2),
                               rtol=1e-12)


def test_a_model_of_many_columns_is_allowed_fewer_points_before_any_allocation(monkeypatch):
    """MAX_GRID was set for simulate-population's two or three light columns; a 60-Gaussian MGE and a
    Sersic source (61 columns) at the bound, 800 x 800 pixels at nsub 8, would take ~27 GB. It is refused
    by name before the columns are computed; a model of up to 3 columns keeps the whole bound."""
    import tinylens.simulate as simulate

    def computed(*args, **kwargs):
        raise AssertionError("the columns were computed")

    monkeypatch.setattr(simulate, "blurred_columns", computed)
    mass = [{"theta_E": 1.0, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}]
    source = {"Ie": 1.0, "R_sersic": 0.2, "n_sersic": 1.0, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}
    components = {"lens_mass_list": ["SIE"], "lens_light_list": [{"type": "MGE", "settings": {"n_gauss": 60}}],
                  "source_light_list": ["Sersic"]}
    truth = {"lens_mass": mass, "source_light": [source],
             "lens_light": [{"amps": [1.0] * 60, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}]}
    with pytest.raises(ValueError, match=r"^shape \(800, 800\) at nsub 8 is too large for a model of 61 light columns"):
        simulate_images(components, truth, (800, 800), PIX, np.ones((1, 1)), nsub=8)
    # points x (POINT_BYTES + COLUMN_BYTES x columns) within MAX_GRID^2 x (50 + 11 x 3) bytes: 2171^2 points for 61
    # (80 bytes a point, not measured, allowed 310 x 310 pixels at nsub 8: a peak of 4.8 GB, over the bound's 4.26)
    assert simulate.max_points(61) == 6400**2 * 83 // 721
    assert simulate.grid_fits((271, 271), 8, 61) and not simulate.grid_fits((272, 272), 8, 61)
    assert all(simulate.max_points(k) >= simulate.max_points(k + 1) for k in range(1, 200))
    assert all(simulate.max_points(k) == 6400**2 for k in (1, 2, 3)) and simulate.grid_fits((800, 800), 8, 3)


@pytest.mark.parametrize("name, said", [
    ("theta_E\u200b", "unknown parameter 'theta_E\\u200b' for SIE"),  # copied from a web page
    ("thetaE", "unknown parameter 'thetaE' for SIE"),
    ("", "unknown parameter '' for SIE"),
    (" ", "unknown parameter ' ' for SIE"),
], ids=["zero_width_space", "misspelt", "empty", "space"])
def test_an_unknown_truth_parameter_is_named_visibly_with_the_name_it_looks_like(name, said):
    """A truth key 'theta_E' holding a zero-width space (U+200B, invisible in print) was refused as
    "unknown parameter 'theta_E' for SIE; allowed: ..., theta_E", naming as unknown a name the list
    allows, and a misspelt one had no hint; the hidden character is written out and the name it looks
    like said, as a config's parameters are (an empty or space key was, and is, in quotes)."""
    truth = {"lens_mass": [{"theta_E": 1.0, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0, name: 1.0}]}
    with pytest.raises(ConfigValueError) as info:
        simulate_image({"lens_mass_list": ["SIE"]}, truth, (8, 8), 0.1, np.ones((3, 3)))
    text = str(info.value)
    assert f"truth['lens_mass'][0]: {said}" in text and "allowed: center_x, center_y, e1, e2, theta_E" in text, text
    assert "\u200b" not in text
    if name.strip():
        assert "theta_E" in text.partition("theta_E.")[2], text  # the hint: the allowed name it looks like


def test_truth_keys_that_are_no_component_list_are_refused_with_the_form_simulate_takes():
    """truth by parameter name ({'lens_mass.0.theta_E': 1.2}, as tinylens.fit and a truth.json's
    'params' give it) or a truth.json's whole content was refused as 'truth['lens_mass_list'] has 0
    entries for 2 components', and a misspelt list beside the model's ('soruce_light') was passed
    over, the image drawn without it: each is a ConfigValueError naming the keys and the nested form."""
    nested = tinylens_truth()
    flat = {f"{kind}.{i}.{name}": value for kind, entries in nested.items() for i, entry in enumerate(entries)
            for name, value in entry.items()}
    psf = gaussian_psf(0.15, PIX, 5)
    expected = simulate_image(COMPONENTS, nested, (8, 8), PIX, psf, nsub=2)
    assert np.isfinite(expected).all() and expected.sum() > 0
    with pytest.raises(ConfigValueError) as info:
        simulate_image(COMPONENTS, flat, (8, 8), PIX, psf, nsub=2)
    assert str(info.value).startswith("truth has 'lens_mass.0.theta_E', ")
    assert "truth by parameter name, as tinylens.fit takes it, is not what simulate takes" in str(info.value)
    assert "{'lens_mass': [{'theta_E': 1.2, ...}], ...}" in str(info.value)
    with pytest.raises(ConfigValueError, match=r"^truth has 'description', 'params', 'components', no component list; "
                                               r"this looks like a truth\.json's content: give its truth\['components'\]"):
        simulate_image(COMPONENTS, {"description": "a mock", "params": flat, "components": nested}, (8, 8), PIX, psf, nsub=2)
    with pytest.raises(ConfigValueError) as info:
        simulate_image(LENS_LIGHT, {**LENS_LIGHT_TRUTH, "soruce_light": nested["source_light"]}, (8, 8), PIX, psf, nsub=2)
    assert str(info.value) == ("truth has 'soruce_light', no component list; its keys are 'lens_mass', 'lens_light', "
                               "'source_light' (or the same with _list). Did you mean 'source_light' instead of 'soruce_light'?")
    np.testing.assert_array_equal(simulate_image(COMPONENTS, nested, (8, 8), PIX, psf, nsub=2), expected)
