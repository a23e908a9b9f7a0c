"""``tinylens simulate-population``: option values refused as user errors, one population per
output folder (also after an interrupted run), and warnings for unit mistakes in the image size."""

from __future__ import annotations

import dataclasses
import decimal
import errno
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tinylens.cli.main import app
from tinylens.errors import ConfigError, ConfigTypeError, ConfigValueError, ConfigWarning, OutputError
from tinylens.survey import population
from tinylens.simulate import moffat_psf
from tinylens.survey.population import PopulationOptions, scale_warnings, simulate_population

SEED = 3
#: A tiny field and no supersampling: one lens in a few seconds, no scale warning.
TINY = {"size": 24, "nsub": 1, "theta_E_range": [0.3, 0.5], "snr_range": [10.0, 20.0]}
FILES = ("truth.csv", "truth.parquet", "population.json", "template.yaml", "lens_00000/image.fits", "lens_00000/truth.json")


def _text(result) -> str:
    return " ".join(result.output.split())


def _digests(folder: Path) -> dict[str, str | None]:
    """md5 of each population file (None: missing)."""
    return {f: hashlib.md5((folder / f).read_bytes()).hexdigest() if (folder / f).exists() else None for f in FILES}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished one-lens population (seed 3, TINY options)."""
    folder = tmp_path_factory.mktemp("finished") / "pop"
    simulate_population(1, folder, seed=SEED, **TINY)
    return folder


def _copy(finished: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(finished, tmp_path / "pop"))


# -- option values ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--seed", "-1"], "the random seed (--seed) must be a non-negative integer, got -1"),
        (["--set", "seed=5"], "--set seed: seed is not a population option; use --seed instead"),
        (["--set", "n=5"], "use the N argument instead"),
        (["--set", "outdir=elsewhere"], "use the OUTDIR argument instead"),
        (["--set", "progress=false"], "use --quiet instead"),
        (["--size", "50", "--set", "size=60"], "--size 50 and --set size=60 disagree"),
        (["--set", "lens_center_sigma=-1"], "lens_center_sigma must be >= 0, got -1.0"),
        (["--set", "lens_light_q_sigma=-0.1"], "lens_light_q_sigma must be >= 0, got -0.1"),
        (["--set", "lens_light_phi_sigma_deg=-5"], "lens_light_phi_sigma_deg must be >= 0, got -5.0"),
        (["--set", "lens_light_phi_sigma_deg=1e300"], "lens_light_phi_sigma_deg must be <= 360 (degrees; a scatter of 180 "
                                                      "already spreads the lens light's position angles uniformly), got 1e+300"),
        (["--set", "shear_max=-1"], "shear_max must be >= 0, got -1.0"),
        (["--set", "shear_max=1.5"], "shear_max must be < 1"),
        (["--psf", "moffat", "--set", "moffat_beta=-1"], "moffat_beta must be > 1"),
        (["--psf", "moffat", "--set", "moffat_beta=1e20"], "moffat_beta: Moffat beta must be <= 1e+10 (above it the PSF's "
                                                          "width cannot be computed in float64"),
        (["--set", "pixel_scale=.inf"], "pixel_scale must be finite, got inf"),
        (["--pixel-scale", "inf"], "--pixel-scale must be finite, got inf"),
        (["--pixel-scale", "1e300"], "--pixel-scale must be from 1e-150 to 1e+150 (arcsec per pixel; its square, a pixel's "
                                     "area, scales the fluxes and would over- or underflow), got 1e+300"),
        (["--pixel-scale", "1e-300"], "--pixel-scale must be from 1e-150 to 1e+150 (arcsec per pixel; its square, a "
                                      "pixel's area, scales the fluxes and would over- or underflow), got 1e-300"),
        (["--set", "sky_sigma=.inf"], "sky_sigma must be finite, got inf"),
        (["--psf-fwhm", "1e300"], "fwhm 1e+300 at pixel_scale 0.074 is a PSF 1.35e+301 pixels wide, too wide or too narrow"),
        (["--set", "sky_sigma=1e200"], "sky_sigma must be <= 1e+150 (its square, the noise variance, overflows a "
                                       "float64 above ~1.3e154), got 1e+200"),
        (["--set", "exposure_time=.nan"], "exposure_time must be finite, got nan"),
        (["--set", "exposure_time=1e-300"], "exposure_time must be >= 1e-150 (seconds, CSST: 300; the Poisson noise's "
                                            "variance is computed with its square, which underflows a float64 below ~1e-154), "
                                            "got 1e-300"),
        (["--set", "zeropoint=.inf"], "zeropoint must be finite"),
        (["--set", "theta_E_range=[0.5,.inf]"], "theta_E_range must be finite"),
        (["--set", "size=.inf"], "size must be an integer"),
        (["--set", "sky_sigma=true"], "sky_sigma must be a number"),
        (["--set", "lens_q_range=[0.5,1.5]"], "lens_q_range must be (low, high) with 0 < low <= high <= 1"),
        (["--set", "snr_range=[50,5]"], "snr_range must be (low, high) with 0 < low <= high"),
        (["--size", "100000"], "--size x nsub must be <= 6400, got 100000 x 8 = 800000: each lens is simulated on "
                               "(--size x nsub)^2 points, about 4 GB of memory"),
        (["--set", "nsub=1000"], "size x nsub must be <= 6400, got 100 x 1000 = 100000"),
        (["--set", "zeropoint=2570"], "zeropoint 2570 and lens_mag_range from 20 make lens galaxies of up to 10^1020.0 "
                                      "e-/s, 10^1022.5 electrons in exposure_time 300 s, over the 1e+18 a Poisson draw "
                                      "takes: zeropoint is the AB magnitude of 1 e-/s (CSST: 25.7), exposure_time in seconds (CSST: 300)"),
        (["--set", "exposure_time=1e300"], "make lens galaxies of up to 10^2.3 e-/s, 10^302.3 electrons in exposure_time "
                                           "1e+300 s, over the 1e+18 a Poisson draw takes"),
        (["--set", "zeropoint=257"], "zeropoint 257 and lens_mag_range from 20 make lens galaxies of up to 10^94.8 e-/s"),
        (["--set", "psf_size=200001"], "psf_size must be <= 6399 pixels for a gaussian PSF, got 200001: the PSF is built "
                                       "on psf_size^2 points"),
        (["--psf", "moffat", "--set", "psf_size=1001"], "psf_size must be <= 581 pixels for a moffat PSF, got 1001: the "
                                                        "PSF is built on (psf_size x 11)^2 points (11 x 11 a pixel)"),
        (["--set", "lens_re_range=[1,1e19]"], "lens_re_range must be (low, high) with high <= 1e+15 (half-light radii in "
                                              "arcsec; a Sersic's flux overflows float32 from ~1e18), got (1.0, 1e+19)"),
        (["--set", "source_re_range=[1e19,1e19]"], "source_re_range must be (low, high) with high <= 1e+15"),
        (["--set", "source_n_range=[1e30,1e30]"], "source_n_range must be (low, high) with high <= 100 (Sersic indices; "
                                                  "galaxies' are under ~10, and a Sersic's flux is wrong in float32 above it, "
                                                  "NaN from ~1e8), got (1e+30, 1e+30)"),
        (["--set", "source_n_range=[0.01,0.5]"], "source_n_range must be (low, high) with low >= 0.05 (Sersic indices; the "
                                                 "profile is floored there, so a smaller drawn index would be recorded in the "
                                                 "truth but not be the image's), got (0.01, 0.5)"),
        (["--set", "lens_re_range=[1e-6,1e-5]"], "lens_re_range must be (low, high) with low >= 0.0001 (half-light radii in "
                                                 "arcsec; the profile is floored there, so a smaller drawn radius would be "
                                                 "recorded in the truth but not be the image's), got (1e-06, 1e-05)"),
        (["--set", "source_re_range=[5e-5,0.5]"], "source_re_range must be (low, high) with low >= 0.0001 (half-light radii "
                                                  "in arcsec; the profile is floored there"),
        (["--set", "lens_disc_fraction_range=[0.3,0.5]", "--set", "lens_re_range=[1e-4,1]", "--set",
          "lens_disc_re_ratio_range=[0.5,2]"],
         "lens_disc_re_ratio_range from 0.5 and lens_re_range from 0.0001 make discs of half-light radius from 5e-05 arcsec, "
         "under the profile's floor of 0.0001 (the profile is floored there, so a smaller drawn radius would be recorded in "
         "the truth but not be the image's)"),
        (["--set", "lens_disc_fraction_range=[0.3,0.5]", "--set", "lens_disc_re_ratio_range=[1,1e19]"],
         "lens_disc_re_ratio_range up to 1e+19 and lens_re_range up to 2.5 make discs of half-light radius up to 2.5e+19 "
         "arcsec, over the 1e+15 allowed"),
        (["--pixel-scale", "1e-140", "--psf-fwhm", "2e-140", "--set", "source_re_range=[1,1e15]"],
         "source_re_range up to 1e+15 arcsec at --pixel-scale 1e-140 makes half-light radii of up to 1e+155 pixels, over "
         "the 1e+140 allowed (a Sersic's flux in the image's units, per pixel, grows as its radius in pixels squared"),
        (["--pixel-scale", "1e-139", "--set", "lens_re_range=[2,5e14]"], "lens_re_range up to 5e+14 arcsec at --pixel-scale "
                                                                         "1e-139 makes half-light radii of up to 5e+153 pixels"),
        (["--set", "zeropoint=-726", "--set", "lens_re_range=[0.5,1e15]"],
         "zeropoint -726 and lens_mag_range up to 23.5 make lens galaxies as faint as 10^-299.8 e-/s, and lens_re_range up "
         "to 1e+15 arcsec at pixel_scale 0.074 spreads them over half-light radii of up to 1.35e+16 pixels: an amplitude "
         "(e-/s per pixel) of 10^-333.4, under 1e-307"),
        # a --set without '=' or whose value YAML cannot read
        (["--set", "nokey"], "--set expects KEY=VALUE (e.g. --set snr_range=[5,20]); got 'nokey'."),
        (["--set", "snr_range=[5, 20"], "--set snr_range: cannot read the value '[5, 20'."),
    ],
)
def test_bad_option_values_are_refused_by_name(tmp_path, args, expected):
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", *args])
    assert result.exit_code == 2, result.output
    assert expected in _text(result)
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not out.exists()


@pytest.mark.parametrize("setting, key, length", [("zeropoint={}", "zeropoint", 401), ("psf_size={}", "psf_size", 401),
                                                   ("snr_range=[{},50]", "snr_range", 407)])
@pytest.mark.parametrize("sign", ["", "-"], ids=["huge", "huge_negative"])
def test_a_whole_number_no_float_holds_is_refused_by_name_and_shown_cut(tmp_path, setting, key, length, sign):
    """--set zeropoint=<400 digits> (a whole number YAML reads as an int no float holds; 1e400 is read as .inf and
    refused as not finite) was refused as 'must be a number (like 25.7)', a number though it is, with all 400 digits;
    it is said to be beyond a float's range, the value cut to its first digits and its length."""
    out = tmp_path / "pop"
    huge = sign + "1" + "0" * 400
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", "--set", setting.format(huge)])
    text = _text(result)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert text.startswith(f"Error: population option {key} must be"), text
    assert f"({length + len(sign)} characters) (beyond the range of a float, about +-1.8e308)" in text, text
    assert "0" * 120 not in text  # cut, not the 400 digits
    assert not out.exists()


@pytest.mark.parametrize("setting, key, default", [("nsub=100000000000000000001", "nsub", 8),
                                                    ("psf_size=-100000000000000000001", "psf_size", 21),
                                                    ("size=9007199254740993", "size", 100)])
def test_an_integer_option_of_twenty_digits_is_refused_as_too_large_not_as_no_integer(tmp_path, setting, key, default):
    """--set nsub=100000000000000000001 (an int to YAML) was refused as 'must be an integer (like 8)', an
    integer though it is: the check compared it with its float, which rounds a whole number above 2**53. It is
    refused as too large, with the limit, and nothing is made."""
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", "--set", setting])
    text = _text(result)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    value = setting.partition("=")[2]
    assert text == (f"Error: population option {key} must be an integer (like {default}) of at most 2**53 = "
                    f"{2**53} in absolute value, got {value}"), text
    assert not out.exists()


def test_a_too_large_integer_option_beside_size_is_not_said_to_be_in_the_size_flag(tmp_path):
    """--size 20 --set nsub=100000000000000000001 was refused as 'population option nsub must be an integer
    (like 8) of at most 2**53 = ... in --size': the words 'in size' of the message were taken for the size
    option and said as the --size flag that gave it. The message names nsub, by its key, and no --size."""
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", "--size", "20",
                                      "--set", "nsub=100000000000000000001"])
    text = _text(result)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert text.startswith("Error: population option nsub must be an integer (like 8) of at most 2**53"), text
    assert "--size" not in text, text


    assert not out.exists()


@pytest.mark.parametrize("value, error", [
    ([5, 10**400], ConfigValueError), ([-(10**400), 50], ConfigValueError),
    (["abc", 10**400], ConfigTypeError), ([10**400, None], ConfigTypeError), ([10**400, True], ConfigTypeError),
], ids=["number", "negative", "text", "null", "boolean"])
def test_a_pair_holding_a_number_no_float_holds_and_no_number_is_of_the_wrong_kind(value, error):
    """snr_range=[abc, 1000...0] (a text beside a whole number no float holds) is of the wrong kind, a
    ConfigTypeError as [abc, 50] is, not a ConfigValueError as [5, 1000...0], a pair of numbers, is; both
    show the value cut, with why the whole number is refused."""
    with pytest.raises(ConfigError) as info:
        PopulationOptions.from_kwargs(snr_range=value)
    assert type(info.value) is error, repr(info.value)
    assert str(info.value).startswith("population option snr_range must be a pair [low, high]"), info.value
    assert str(info.value).endswith("characters) (beyond the range of a float, about +-1.8e308)"), info.value
    assert "0" * 120 not in str(info.value)


@pytest.mark.parametrize("args, message", [
    (["simulate-population", "{huge}", "{out}"], "the number of lenses must be <= 1000000"),
    (["simulate-population", "-{huge}", "{out}"], "the number of lenses must be >= 1 (a whole number)"),
    (["simulate-population", "1", "{out}", "--seed", "-{huge}"], "the random seed (--seed) must be a non-negative integer"),
    (["demo", "--no-fit", "{out}", "--seed", "-{huge}"], "the random seed (--seed) must be a non-negative integer"),
], ids=["n", "n_negative", "seed_negative", "demo_seed_negative"])
def test_a_count_or_seed_of_400_digits_is_refused_with_its_value_cut(tmp_path, args, message):
    """N or --seed of 400 digits was refused by name with all its digits in the message; the value is now
    shown by its first digits and its length, as a config's value is."""
    out, huge = tmp_path / "pop", "1" + "0" * 400
    result = CliRunner().invoke(app, [a.format(huge=huge, out=out) for a in args] + ["-q"] * (args[0] != "demo"))
    text = _text(result)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert text.startswith(f"Error: {message}"), text
    assert re.search(r", got -?1000+\.\.\. \(40[12] characters\)$", text), text
    assert "0" * 120 not in text
    assert not out.exists()


def test_half_light_radii_from_the_profiles_floor_are_allowed():
    """lens_re_range from 1e-6 arcsec drew bulges recorded in truth.json as 7e-6" but imaged at the Sersic profile's
    floor (SMOOTHING, 1e-4"); ranges from the floor, the defaults and discs from it are allowed, just under it refused."""
    assert population.SMOOTHING == 1e-4
    PopulationOptions()
    PopulationOptions(lens_re_range=(1e-4, 1e-4), source_re_range=(1e-4, 0.5))
    PopulationOptions(lens_re_range=(2e-4, 1.0), lens_disc_fraction_range=(0.3, 0.5), lens_disc_re_ratio_range=(0.5, 2.0))
    with pytest.raises(ConfigError, match=r"^source_re_range must be \(low, high\) with low >= 0.0001 \(half-light radii"):
        PopulationOptions(source_re_range=(9.9e-5, 0.5))
    with pytest.raises(ConfigError, match=r"^lens_disc_re_ratio_range from 0.49 and lens_re_range from 0.0002 make discs"):
        PopulationOptions(lens_re_range=(2e-4, 1.0), lens_disc_fraction_range=(0.3, 0.5), lens_disc_re_ratio_range=(0.49, 2.0))


def test_every_bad_value_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        PopulationOptions(lens_center_sigma=-1.0, psf_fwhm=float("inf"), source_q_range=(0.8, 0.4))
    assert "psf_fwhm must be finite" in str(err.value)
    with pytest.raises(ConfigError) as err:
        PopulationOptions(lens_center_sigma=-1.0, shear_max=-0.1, source_q_range=(0.8, 0.4))
    assert all(name in str(err.value) for name in ("lens_center_sigma", "shear_max", "source_q_range"))


def test_a_lens_light_angle_scatter_up_to_its_bound_is_allowed():
    """lens_light_phi_sigma_deg=1e300 was refused through a NaN e1; it is refused by name above 360 degrees."""
    PopulationOptions(lens_light_phi_sigma_deg=360.0)
    with pytest.raises(ConfigError, match=r"^lens_light_phi_sigma_deg must be <= 360 \(degrees"):
        PopulationOptions(lens_light_phi_sigma_deg=360.5)


def test_a_too_short_exposure_is_refused_before_any_computation(tmp_path):
    """exposure_time=1e-300 printed numpy's 'overflow encountered in divide' before its error (no source brightness
    reaches the SNR); it is refused with the options, before any lens is computed, and without a warning."""
    result = CliRunner().invoke(app, ["simulate-population", "1", str(tmp_path / "pop"), "-q", "--set", "exposure_time=1e-300"])
    assert result.exit_code == 2, result.output
    assert _text(result).startswith("Error: exposure_time must be >= 1e-150"), result.output
    assert "Warning" not in result.output and "overflow" not in result.output
    PopulationOptions(exposure_time=1e-150)


def test_a_lens_whose_noise_variance_overflows_is_refused_by_name_without_numpy_warnings(tmp_path):
    """exposure_time=1e-150 with zeropoint=440 (lens galaxies of 10^168 e-/s, their noise variance
    10^318 e-/s squared, over a float64) printed numpy's 'overflow encountered in divide' and 'divide
    by zero encountered in log', then blamed the SNR search; it is refused with the options, naming
    them, before any lens is computed, without a warning. A variance under the bound is accepted."""
    out = tmp_path / "pop"
    args = ["simulate-population", "1", str(out), "-q", "--set", "exposure_time=1e-150", "--set", "zeropoint=440"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert _text(result).startswith("Error: zeropoint 440 and lens_mag_range from 20 make lens galaxies of up to 10^168.0 "
                                    "e-/s, whose Poisson noise's variance in exposure_time 1e-150 s (flux / exposure_time) "
                                    "is 10^318.0, over the 1e+300"), result.output
    assert "Warning" not in result.output and "overflow" not in result.output and not out.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ConfigError, match="noise's variance"):
            PopulationOptions(exposure_time=1e-150, zeropoint=440.0)
        PopulationOptions(exposure_time=1e-150, zeropoint=394.0)  # 10^149.6 e-/s: a variance of 10^299.6


def test_the_largest_supersampled_grid_is_allowed():
    """The limit on size x nsub (memory) leaves the defaults' multiples up to 800 x 8 pixels."""
    PopulationOptions(size=800, nsub=8)  # accepted: 6400 points on a side
    PopulationOptions(size=6400, nsub=1)
    with pytest.raises(ConfigError, match="size x nsub must be <= 6400, got 801 x 8"):
        PopulationOptions(size=801)


def test_a_pixel_scale_whose_coordinates_overflow_the_precision_is_refused_up_front():
    """A pixel_scale inside PIXEL_SCALE_RANGE whose pixels' coordinates overflow float32 (the default
    precision: 1e37 x 100 pixels) is refused with the options, naming it, as simulate_images refuses it."""
    with pytest.raises(ConfigError, match=r"pixel_scale 1e\+37 is too large for an image of 100 pixels a side: the "
                                          r"pixels' coordinates \(arcsec\) would overflow float32"):
        PopulationOptions(pixel_scale=1e37)
    PopulationOptions(pixel_scale=1e30)


def test_lens_galaxies_up_to_the_electrons_a_poisson_draw_takes_are_allowed():
    """The limit on the brightest lens galaxy (zeropoint 2570 for 25.70 overflowed, a traceback) is
    MAX_ELECTRONS in the exposure: 10^18 electrons in 300 s is 10^15.52 e-/s, so a lens of magnitude
    20 at a zeropoint up to 20 + 2.5 x 15.52 = 58.8; a hundredth of a magnitude more is refused."""
    limit = 20.0 + 2.5 * (18 - np.log10(300.0))
    PopulationOptions(zeropoint=limit - 0.01)
    with pytest.raises(ConfigError, match="over the 1e\\+18 a Poisson draw takes"):
        PopulationOptions(zeropoint=limit + 0.01)
    with pytest.raises(ConfigError, match="lens galaxies of up to 10\\^15.2 e-/s, 10\\^18.0 electrons in exposure_time 600 s"):
        PopulationOptions(zeropoint=limit + 0.01, exposure_time=600.0, lens_mag_range=(20.0 + 2.5 * np.log10(2), 23.5))
    PopulationOptions(zeropoint=0.0)  # faint lenses are no problem


def test_lens_galaxies_too_faint_for_a_float64_are_refused_naming_zeropoint_and_lens_mag_range():
    """zeropoint=-1000 (or lens_mag_range up to 1e300) made lens galaxies of 10^-409.4 e-/s, whose flux
    was 0: a population without them and blank lens magnitudes in truth.csv, without a word. The
    faintest lens galaxy must be at least MIN_LENS_FLUX (1e-300 e-/s): 10^(0.4 x (-726 - 23.5)) is."""
    with pytest.raises(ConfigError) as info:
        PopulationOptions(zeropoint=-1000.0)
    assert str(info.value) == ("zeropoint -1000 and lens_mag_range up to 23.5 make lens galaxies as faint as 10^-409.4 e-/s, "
                               "under 1e-300, near the smallest number a float64 holds (their flux would be 0 and their "
                               "magnitude blank): zeropoint is the AB magnitude of 1 e-/s (CSST: 25.7), lens_mag_range "
                               "AB magnitudes (CSST: 20 to 23.5)")
    with pytest.raises(ConfigError, match=r"^zeropoint 25.7 and lens_mag_range up to 1e\+300 make lens galaxies as faint"):
        PopulationOptions(lens_mag_range=(20.0, 1e300))
    PopulationOptions(zeropoint=-726.0)
    assert population.sersic_flux(10 ** (0.4 * (-726.0 - 23.5)), 2.5, 4.0, 0.074) > 0


def test_faint_lens_galaxies_spread_over_too_many_pixels_are_refused_and_up_to_the_bound_are_as_drawn(tmp_path):
    """zeropoint -726 (lens galaxies of 1e-300 e-/s, allowed) with lens_re_range up to 1e15 arcsec at pixel_scale 0.074
    made an amplitude Ie of ~1e-333, 0 in a float64: a lens flux of 0 and a blank magnitude in truth.csv, exit 0.
    A bulge or disc whose amplitude would be under MIN_LENS_IE (1e-307) is refused naming the options; a bulge
    just within it (Ie ~2.4e-307 at 40", 540 pixels) gives a lens galaxy of the magnitude drawn."""
    assert population.MIN_LENS_IE == 1e-307
    faint = {**TINY, "zeropoint": -726.0, "lens_mag_range": (23.5, 23.5)}
    truth = simulate_population(1, tmp_path / "pop", seed=SEED, progress=False, **faint, lens_re_range=(40.0, 40.0))
    assert truth["lens_light.0.Ie"].iloc[0] > 1e-307
    assert truth["lens_light.mag"].iloc[0] == pytest.approx(23.5, abs=1e-6)
    with pytest.raises(ConfigError, match=r"^zeropoint -726 and lens_mag_range up to 23.5 make lens galaxies as faint as "
                                          r"10\^-299.8 e-/s, and lens_re_range up to 1e\+15 arcsec at pixel_scale 0.074"):
        PopulationOptions(**faint, lens_re_range=(1e15, 1e15))
    with pytest.raises(ConfigError, match=r"lens_re_range up to 40 arcsec times lens_disc_re_ratio_range up to 2.5 \(the "
                                          r"discs\) at pixel_scale 0.074 spreads them over half-light radii of up to 1.35e\+03"):
        PopulationOptions(**faint, lens_re_range=(40.0, 40.0), lens_disc_fraction_range=(0.3, 0.5))


def test_a_bulge_or_disc_with_a_share_near_0_of_a_faint_lens_is_refused_naming_lens_disc_fraction_range():
    """The faint-lens bound (MIN_LENS_IE) held the whole lens galaxy's flux against it, so with zeropoint -726 and
    lens_re_range 40 (a bulge alone of Ie ~2.4e-307, allowed) a disc of 1e-10 of the flux, or a bulge of 1e-10 (the
    disc the rest), was drawn with a subnormal Ie of ~5e-317; each component is held against it with its smallest
    share, and a bulge and disc within it are drawn with normal amplitudes and the flux the magnitude says."""
    faint = {"zeropoint": -726.0, "lens_mag_range": (23.5, 23.5), "lens_re_range": (40.0, 40.0),
             "lens_disc_re_ratio_range": (1.0, 1.0)}
    with pytest.raises(ConfigError, match=r"10\^-299.8 e-/s, lens_disc_fraction_range from 1e-10 gives the discs 1e-10 of "
                                          r"it, and lens_re_range up to 40 arcsec times lens_disc_re_ratio_range up to 1 "
                                          r"\(the discs\) at pixel_scale 0.074 .* or raise lens_disc_fraction_range's low end$"):
        PopulationOptions(**faint, lens_disc_fraction_range=(1e-10, 1e-10))
    with pytest.raises(ConfigError, match=r"10\^-299.8 e-/s, lens_disc_fraction_range up to 0.9999999999 leaves the bulges "
                                          r"1e-10 of it, and lens_re_range up to 40 arcsec at pixel_scale 0.074 .* or lower "
                                          r"lens_disc_fraction_range's high end$"):
        PopulationOptions(**faint, lens_disc_fraction_range=(1 - 1e-10, 1 - 1e-10))
    with pytest.raises(ConfigError, match=r"lens_disc_fraction_range from 0 gives the discs 5.55e-17 of it \(from 0: the "
                                          r"smallest share above 0 a uniform draw up to 0.5 gives\)"):
        PopulationOptions(**faint, lens_disc_fraction_range=(0.0, 0.5))
    within = {**faint, "lens_re_range": (0.4, 0.4)}  # 100 times smaller: amplitudes 1e4 times larger
    for shares in [(1e-3, 1e-3), (1 - 1e-3, 1 - 1e-3)]:
        opts = PopulationOptions(**within, lens_disc_fraction_range=shares)
        light = population.draw_lens(np.random.default_rng(SEED), opts)["lens_light"]
        assert min(c["Ie"] for c in light) > np.finfo(float).tiny
        flux = sum(population.sersic_flux(c["Ie"], c["R_sersic"], c["n_sersic"], 0.074) for c in light)
        assert flux == pytest.approx(10 ** (0.4 * (-726.0 - 23.5)), rel=1e-5)


def test_bright_lens_galaxies_tiny_in_pixels_are_refused_naming_the_options():
    """zeropoint 40 at pixel_scale 1e150 (float64) with lens_re_range from 1e-4 arcsec made an infinite amplitude Ie,
    refused only as "truth['lens_light_list'][0]['Ie'] must be a finite number", naming no option. A bulge or
    disc whose amplitude would be over MAX_LENS_IE (1e300) is refused naming them; at pixel_scale 1e145 (Ie
    ~1e299 at the default zeropoint) the lens is drawn with a finite amplitude."""
    import tinylens
    from oracle import x64

    assert population.MAX_LENS_IE == 1e300
    huge = {"pixel_scale": 1e150, "psf_fwhm": 2e150, "theta_E_range": (3e150, 5e150), "lens_re_range": (1e-4, 1e-4)}
    with x64():
        tinylens.set_precision("float64")
        try:
            with pytest.raises(ConfigError) as info:
                PopulationOptions(**huge, zeropoint=40.0)
            with pytest.raises(ConfigError, match=r"; zeropoint 40 and lens_mag_range from 20 make lens galaxies of up to "
                                                  r"10\^8 e-/s, and lens_re_range from 0\.001 arcsec times "
                                                  r"lens_disc_re_ratio_range from 0\.01 \(the discs\) at pixel_scale 1e\+150"):
                PopulationOptions(**{**huge, "lens_re_range": (1e-3, 1e-3)}, zeropoint=40.0, lens_disc_fraction_range=(0.1, 0.2),
                                  lens_disc_re_ratio_range=(0.01, 1.0))
            scale = 1e145
            opts = PopulationOptions(pixel_scale=scale, psf_fwhm=2 * scale, theta_E_range=(3 * scale, 5 * scale),
                                     lens_re_range=(1e-4, 1e-4))
            ie = population.draw_lens(np.random.default_rng(SEED), opts)["lens_light"][0]["Ie"]
        finally:
            tinylens.set_precision("float32")
    assert str(info.value).startswith("zeropoint 40 and lens_mag_range from 20 make lens galaxies of up to 10^8 e-/s, and "
                                      "lens_re_range from 0.0001 arcsec at pixel_scale 1e+150 puts them in half-light radii "
                                      "of 1e-154 pixels: an amplitude (e-/s per pixel) of ~10^314.6, over the 1e+300")
    assert ";" not in str(info.value)  # the only problem
    assert 1e297 < ie < 1e300


def _assert_finite_with_fluxes_as_drawn(truth) -> None:
    """Every number in truth is finite, the first lens galaxy's flux (bulge and disc) is the one a
    magnitude in the default lens_mag_range (20 to 23.5, zeropoint 25.7) gives, and every source's is above 0."""
    numbers = truth.select_dtypes("number")
    assert np.isfinite(numbers.to_numpy()).all(), numbers.columns[~np.isfinite(numbers).all()].tolist()
    flux = truth["lens_light.0.flux"] + truth["lens_light.1.flux"]
    assert 10 ** (0.4 * (25.7 - 23.5)) <= flux.iloc[0] <= 10 ** (0.4 * (25.7 - 20.0))
    assert (truth["source_light.0.flux"] > 0).all()


def test_half_light_radii_up_to_the_bound_give_finite_fluxes_and_magnitudes(tmp_path):
    """Radii over ~1e18 arcsec overflowed the float32 flux of a unit-amplitude Sersic: NaN or infinite fluxes
    and magnitudes in truth.csv, exit 0. At the bound, MAX_RADIUS, for bulge, disc and source, every truth
    value is finite and the lens galaxy's flux is the one its magnitude, drawn in lens_mag_range, says."""
    options = {**TINY, "lens_re_range": (1e15, 1e15), "source_re_range": (1e15, 1e15),
               "lens_disc_fraction_range": (0.3, 0.5), "lens_disc_re_ratio_range": (1.0, 1.0)}
    truth = simulate_population(1, tmp_path / "pop", seed=SEED, progress=False, **options)
    _assert_finite_with_fluxes_as_drawn(truth)
    assert population.MAX_RADIUS == 1e15
    with pytest.raises(ConfigError, match="lens_re_range must be"):
        PopulationOptions(lens_re_range=(1e15, 2e15))


def test_half_light_radii_up_to_the_bound_in_pixels_give_finite_fluxes_and_magnitudes(tmp_path):
    """pixel_scale 1e-140 with source_re_range [1e15, 1e15] (1e155 pixels) overflowed a Sersic's flux in the image's
    units: an infinite source flux, a -inf magnitude and a lens galaxy of flux 0 and a NaN magnitude in truth.csv,
    exit 0. At the bound, MAX_RADIUS_PIXELS (1e15 arcsec at pixel_scale 1e-125), for bulge, disc and
    source, every truth value is finite and the lens galaxy's flux is the one its
    magnitude says; a radius over it, or a disc over it, is refused naming the options."""
    assert population.MAX_RADIUS_PIXELS == 1e140
    scale = population.MAX_RADIUS / population.MAX_RADIUS_PIXELS
    options = {**TINY, "pixel_scale": scale, "psf_fwhm": 2 * scale, "lens_re_range": (1e15, 1e15),
               "source_re_range": (1e15, 1e15), "source_n_range": (4.0, 4.0),
               "lens_disc_fraction_range": (0.3, 0.5), "lens_disc_re_ratio_range": (1.0, 1.0)}
    with pytest.warns(ConfigWarning, match="arcs fall outside the image"):
        truth = simulate_population(1, tmp_path / "pop", seed=SEED, progress=False, **options)
    _assert_finite_with_fluxes_as_drawn(truth)
    with pytest.raises(ConfigError, match=r"^source_re_range up to 1e\+15 arcsec at pixel_scale 9\.9e-126 makes"):
        PopulationOptions(**{**options, "pixel_scale": 0.99 * scale, "lens_re_range": (1.0, 1.0)})
    with pytest.raises(ConfigError, match=r"^lens_re_range x lens_disc_re_ratio_range \(the discs' radii\) up to 8e\+14 "
                                          r"arcsec at pixel_scale 5e-126 makes half-light radii of up to 1\.6e\+140 pixels"):
        PopulationOptions(**{**options, "pixel_scale": scale / 2, "lens_re_range": (4e14, 4e14), "source_re_range": (1.0, 1.0),
                             "lens_disc_re_ratio_range": (1.0, 2.0)})


def test_sersic_indices_up_to_the_bound_give_finite_fluxes_and_magnitudes(tmp_path):
    """source_n_range=[1e30, 1e30] wrote NaN fluxes and magnitudes into truth.csv, exit 0 (float32's Sersic flux
    is NaN from n ~ 1e8, and wrong well before). At the bound, MAX_SERSIC_N, the unit Sersic's flux in float32 is
    the closed form's (2 pi n R^2 e^b Gamma(2n) / b^2n, b from scipy; the centre's share is ~1e-9 at this radius)
    to 1e-4, and every truth value is finite; a source index above it is refused by name."""
    from scipy.special import gammaincinv, gammaln

    n, radius = population.MAX_SERSIC_N, 1e15
    b = gammaincinv(2 * n, 0.5)
    closed = np.exp(np.log(2 * np.pi * n) + 2 * np.log(radius) + b + gammaln(2 * n) - 2 * n * np.log(b))
    assert population.sersic_flux(1.0, radius, n, 1.0) == pytest.approx(closed, rel=1e-4)
    truth = simulate_population(1, tmp_path / "pop", seed=SEED, progress=False, **TINY, source_n_range=(n, n))
    numbers = truth.select_dtypes("number")
    assert np.isfinite(numbers.to_numpy()).all(), numbers.columns[~np.isfinite(numbers).all()].tolist()
    assert (truth["source_light.0.flux"] > 0).all()
    with pytest.raises(ConfigError, match=r"^source_n_range must be \(low, high\) with high <= 100 \(Sersic indices"):
        PopulationOptions(source_n_range=(1.0, 101.0))


def test_the_largest_psf_is_allowed_and_built():
    """The limit on psf_size (memory: 200001 pixels was numpy's MemoryError, a traceback) leaves a
    Gaussian PSF of 6399 pixels and a Moffat one of 581 (11 x 11 points a pixel), and that is the
    Moffat PSF make_psf builds: its grid is the limit's."""
    PopulationOptions(psf_size=6399)
    with pytest.raises(ConfigError, match="psf_size must be <= 6399 pixels for a gaussian PSF, got 6401"):
        PopulationOptions(psf_size=6401)
    opts = PopulationOptions(psf_type="moffat", psf_size=581)
    with pytest.raises(ConfigError, match="psf_size must be <= 581 pixels for a moffat PSF, got 583"):
        PopulationOptions(psf_type="moffat", psf_size=583)
    small = dataclasses.replace(opts, psf_size=5)
    assert np.array_equal(population.make_psf(small), moffat_psf(small.psf_fwhm, small.pixel_scale, 5, beta=3.0, oversample=11))


@pytest.mark.parametrize("option", [{"source_offset_max": 1e6}, {"theta_E_range": (1e-300, 1e-300)}])
def test_a_lens_without_a_multiply_imaged_source_position_is_a_config_error_naming_the_options(option):
    """source_offset_max=1e300 (1e6 here: in 3 tries it finds none either, without overflowing) or
    theta_E_range=[1e-300, 1e-300] left place_source without a multiply imaged position: a
    RuntimeError, a traceback on the command line; it is a ConfigError naming the lens and the
    options that drew it."""
    opts = PopulationOptions(**option)
    rng = np.random.default_rng(SEED)
    truth = population.draw_lens(rng, opts)
    with pytest.raises(ConfigError) as info:
        population.place_source(rng, truth, opts, tries=3)
    message = str(info.value)
    assert message.startswith("no source position with two or more images found in 3 tries for a lens of theta_E ")
    assert f"the source within {opts.source_offset_max:g} x theta_E of it: check theta_E_range (arcsec), " in message
    assert message.endswith("source_offset_max (in units of theta_E, default 0.5) and lens_center_sigma (arcsec).")


def test_a_source_too_peaked_for_any_brightness_tried_is_refused_naming_its_sersic_ranges(tmp_path):
    """source_n_range [100, 100] with source_re_range [1e15, 1e15] makes a lensed source of Ie = 1 that peaks at
    ~1e27 e-/s in a pixel, so even Ie = e^-30 gives an arc over any SNR in snr_range; the error blamed sky_sigma and
    exposure_time. It names the source's Sersic ranges and the peak, and leaves no folder."""
    out = tmp_path / "pop"
    with pytest.raises(ConfigError) as info:
        simulate_population(1, out, seed=SEED, progress=False, **TINY, source_n_range=(100.0, 100.0),
                            source_re_range=(1e15, 1e15))
    message = " ".join(str(info.value).split())
    assert message.startswith("no source brightness gives an arc of maximum SNR ")
    assert "even the faintest source tried, of amplitude Ie = e^-30, is over it, as the lensed source of Ie = 1 peaks at " in message
    assert ("(source_n_range up to 100, source_re_range up to 1e+15 arcsec) is far brighter near its centre than at its "
            "half-light radius") in message
    assert "sky_sigma" not in message
    assert float(message.split("peaks at ")[1].split()[0]) > 1e20
    assert not out.exists()


def test_unreachable_arc_snr_is_a_config_error():
    """The noise (sky_sigma, exposure_time) or the field decide whether any source brightness gives the SNR."""
    arc, lens = np.zeros((8, 8)), np.zeros((8, 8))
    arc[4, 4] = 1.0
    assert population.source_scale(arc, lens, 10.0, PopulationOptions()) > 0
    with pytest.raises(ConfigError, match="exposure_time = 1e-20"):
        population.source_scale(arc, lens, 10.0, PopulationOptions(exposure_time=1e-20))
    with pytest.raises(ConfigError, match="no light in any pixel"):
        population.source_scale(np.zeros((8, 8)), lens, 10.0, PopulationOptions())


# -- unit mistakes ----------------------------------------------------------------------------
def test_scale_warnings_for_unit_mistakes_but_not_the_defaults():
    assert scale_warnings(PopulationOptions()) == []
    assert scale_warnings(PopulationOptions.from_kwargs(**TINY)) == []
    [pixels] = scale_warnings(PopulationOptions(pixel_scale=74.0))
    assert "under 2 pixels of pixel_scale 74" in pixels
    [field] = scale_warnings(PopulationOptions(size=8, psf_size=7))
    assert "arcs fall outside the image" in field and "Raise size" in field


def test_a_psf_stamp_larger_than_the_image_or_a_fwhm_wider_than_it_is_warned_of_not_refused(tmp_path):
    """psf_size 41 on an 8-pixel image, or psf_fwhm 100 arcsec on a 1.8 arcsec image, was made with no word
    of it (a FWHM typed in pixels or milliarcsec?); each is a ConfigWarning naming the option, and the
    population is still made. A stamp as large as the image, or a FWHM as wide, is not warned of (such a
    FWHM is more than half the stamp's width, which is: test_a_psf_fwhm_wider_than_half_its_stamp_is_warned_of)."""
    assert population.psf_warnings(PopulationOptions.from_kwargs(**TINY)) == []
    [cut] = population.psf_warnings(PopulationOptions(size=21, psf_size=21, pixel_scale=0.1, psf_fwhm=2.1))
    assert "wider than the image" not in cut and "larger than the image" not in cut
    [stamp] = population.psf_warnings(PopulationOptions(size=8, psf_size=41))
    assert "The PSF stamp (psf_size 41 pixels) is larger than the image (size 8 pixels)" in stamp
    [fwhm] = population.psf_warnings(PopulationOptions(**{**TINY, "psf_fwhm": 100.0}))
    assert "The PSF's FWHM (psf_fwhm 100\") is wider than the image (24 pixels of 0.074\" = 1.78\")" in fwhm
    result = CliRunner().invoke(app, ["simulate-population", "1", str(tmp_path / "pop"), "-q", "--size", "24",
                                      "--set", "nsub=1", "--set", "theta_E_range=[0.3,0.5]", "--set", "psf_size=41",
                                      "--set", "psf_fwhm=100"])
    text = _text(result)
    assert result.exit_code == 0, result.output
    assert "Warning: The PSF stamp (psf_size 41 pixels)" in text and "Warning: The PSF's FWHM (psf_fwhm 100\")" in text
    assert (tmp_path / "pop" / "lens_00000" / "image.fits").is_file()


@pytest.mark.parametrize("psf_type", ["gaussian", "moffat"])
def test_a_psf_fwhm_wider_than_half_its_stamp_is_warned_of(tmp_path, psf_type):
    """psf_fwhm 2 arcsec on the 21-pixel stamp at 0.074"/pixel (1.55") fits in the 100-pixel image, but the
    stamp cut the PSF off inside its core with no word of it. A FWHM over half the stamp's width (its edge
    within one FWHM of the centre, where a Gaussian is still 1/16 of its peak) is a ConfigWarning naming
    psf_fwhm, the stamp and the psf_size that holds it; the defaults, and a FWHM of exactly half, are not."""
    assert population.psf_warnings(PopulationOptions(psf_type=psf_type)) == []
    assert population.psf_warnings(PopulationOptions(psf_type=psf_type, psf_fwhm=21 * 0.074 / 2)) == []
    [cut] = population.psf_warnings(PopulationOptions(psf_type=psf_type, psf_fwhm=2.0))
    assert (f"The PSF's FWHM (psf_fwhm 2\") is more than half the PSF stamp's width (21 pixels of 0.074\" = 1.55\"): "
            f"the stamp cuts the {psf_type} PSF off within one FWHM of its centre") in cut
    assert "Raise psf_size to 55 or more, or lower psf_fwhm" in cut  # 55 x 0.074" = 4.07" >= 2 x 2"
    # the stamp made just over the line is indeed cut where the PSF is still bright
    kernel = population.make_psf(PopulationOptions(psf_type=psf_type, psf_fwhm=0.78))
    assert kernel[10, 0] / kernel[10, 10] > 1 / 20
    with pytest.warns(ConfigWarning, match="more than half the PSF stamp's width"):
        simulate_population(1, tmp_path / "pop", **{**TINY, "psf_type": psf_type, "psf_fwhm": 0.9})
    assert (tmp_path / "pop" / "lens_00000" / "image.fits").is_file()


def test_the_warnings_and_refusals_of_options_given_by_flags_name_the_flags(tmp_path):
    """simulate-population --size 8 --psf-fwhm 50 warned 'The PSF's FWHM (psf_fwhm 50") is wider than the image
    ... psf_fwhm is in arcsec' and '... (size 8 pixels) ... raise size', and --pixel-scale 1 was refused with
    '(pixel_scale 1 / nsub 8 ...) ... lower pixel_scale': keys the command line has no option of, where its
    other refusals (--size must be >= 8 pixels) name the flag. The options given by a flag are named by it, in
    the warnings and in the refusals that come once the population is begun; those given by --set by their key."""
    flagged = CliRunner().invoke(app, ["simulate-population", "1", str(tmp_path / "a"), "-q", "--size", "8",
                                       "--psf-fwhm", "50", "--set", "nsub=1"])
    text = _text(flagged)
    assert flagged.exit_code == 0 and "Traceback" not in flagged.output, flagged.output
    assert "The PSF's FWHM (--psf-fwhm 50\") is wider than the image" in text and "--psf-fwhm is in arcsec" in text, text
    assert "(--size 8 pixels)" in text and "Lower psf_size or raise --size." in text, text  # psf_size: no flag gave it
    assert "psf_fwhm" not in text and "raise size" not in text, text
    keyed = CliRunner().invoke(app, ["simulate-population", "1", str(tmp_path / "b"), "-q", "--set", "size=8",
                                     "--set", "psf_fwhm=50", "--set", "nsub=1"])
    assert "(psf_fwhm 50\")" in _text(keyed) and "raise size." in _text(keyed) and "--" not in _text(keyed).split(
        "Fit them with")[0], _text(keyed)  # as --set gave them
    refused = CliRunner().invoke(app, ["simulate-population", "1", str(tmp_path / "c"), "-q", "--pixel-scale", "1"])
    text = _text(refused)
    assert refused.exit_code == 2 and "Traceback" not in refused.output and not (tmp_path / "c").exists(), refused.output
    assert "(--pixel-scale 1 / nsub 8 = 0.125 arcsec)" in text and "lower --pixel-scale (arcsec per pixel" in text, text
    assert "pixel_scale" not in text.replace("--pixel-scale", ""), text


def test_cli_prints_the_unit_warning(tmp_path):
    result = CliRunner().invoke(app, ["simulate-population", "1", str(tmp_path / "pop"), "-q", "--pixel-scale", "74",
                                      "--size", "8", "--set", "lens_re_range=[10,20]", "--set", "source_re_range=[10,20]"])  # resolved: no refusal
    assert result.exit_code == 0, result.output
    assert "Warning: The largest Einstein radius" in _text(result) and "--pixel-scale is in arcsec" in _text(result)


def test_lens_galaxies_smaller_than_the_sampling_are_refused_before_any_file_and_at_it_are_simulated(tmp_path):
    """pixel_scale 1e9 (or 74, milliarcsec typed as arcsec) put the lens galaxies' light between the supersampled
    points: truth.csv recorded a lens flux of ~54 e-/s (magnitude ~21.4) for an image holding none of it, exit 0 (or,
    at an odd size, one point on the centre: 1e22 electrons, refused as an image not in counts per second). A bulge
    or disc whose half-light radius is under pixel_scale / nsub is refused naming the options, nothing written;
    at that spacing the population is made."""
    out = tmp_path / "pop"
    huge = {**TINY, "pixel_scale": 1e9, "psf_fwhm": 2e9, "theta_E_range": (5e9, 8e9), "source_re_range": (2e9, 3e9)}
    with pytest.raises(ConfigError, match=r"^lens_re_range from 0.5 arcsec is under the spacing of the points each "
                                          r"pixel's light is sampled at \(pixel_scale 1e\+09 / nsub 1 = 1e\+09 arcsec\)"):
        simulate_population(1, out, seed=SEED, **huge)
    assert not out.exists()
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", "--pixel-scale", "74", "--size", "8",
                                      "--set", "lens_disc_fraction_range=[0.1,0.2]"])
    text = _text(result)
    assert result.exit_code == 2 and "Traceback" not in result.output and not out.exists(), result.output
    assert "Warning: The largest Einstein radius" in text  # the unit mistake's warning, then the refusal
    assert ("lens_re_range from 0.5 arcsec is under the spacing of the points each pixel's light is sampled at "
            "(--pixel-scale 74 / nsub 8 = 9.25 arcsec)") in text  # the flag that gave it
    assert "lens_re_range from 0.5 arcsec times lens_disc_re_ratio_range from 1 (the discs) is under the spacing" in text
    spacing = 0.074 / TINY["nsub"]
    assert population.unresolved_problems(PopulationOptions(**{**TINY, "lens_re_range": (0.99 * spacing, 1.0)}))
    truth = simulate_population(1, out, seed=SEED, progress=False, **{**TINY, "lens_re_range": (spacing, spacing)})
    assert truth["lens_light.0.R_sersic"].iloc[0] == pytest.approx(spacing)


def test_simulate_lens_called_from_python_refuses_lens_galaxies_smaller_than_the_sampling():
    """simulate_lens (in population's __all__) lacked simulate_population's refusal: at pixel_scale 1e9 it returned
    a lens of lens_light.flux ~23 e-/s in its truth for an image holding none of it; it now refuses as
    simulate_population does, and draws lenses whose galaxies are as large as the spacing."""
    huge = {**TINY, "pixel_scale": 1e9, "psf_fwhm": 2e9, "theta_E_range": (5e9, 8e9), "source_re_range": (2e9, 3e9)}
    opts = PopulationOptions.from_kwargs(**huge)
    with pytest.raises(ConfigError, match=r"^lens_re_range from 0.5 arcsec is under the spacing of the points each "
                                          r"pixel's light is sampled at \(pixel_scale 1e\+09 / nsub 1 = 1e\+09 arcsec\)"):
        population.simulate_lens(np.random.default_rng(5), opts, population.make_psf(opts))
    spacing = 0.074 / TINY["nsub"]
    opts = PopulationOptions.from_kwargs(**{**TINY, "lens_re_range": (spacing, spacing)})
    lens = population.simulate_lens(np.random.default_rng(5), opts, population.make_psf(opts))
    assert lens["truth"]["lens_light"][0]["R_sersic"] == pytest.approx(spacing)


def test_sources_smaller_than_the_sampling_are_refused_before_any_file_and_at_it_have_their_magnification(tmp_path):
    """A source under the spacing of the points its light is sampled at (pixel_scale / nsub) was sampled at a few
    points: truth.csv's source.magnification was off by up to ~45% at a quarter of the spacing, exit 0. Such a
    source_re_range is refused naming it, by simulate_population before any file and by simulate_lens; at the spacing
    the population is made, its magnification within 10% of one sampled 16 times finer."""
    from tinylens.simulate import simulate_images

    spacing, out = 0.074 / TINY["nsub"], tmp_path / "pop"
    small = {**TINY, "source_re_range": (0.25 * spacing, 0.1)}
    expected = (r"^source_re_range from 0.0185 arcsec is under the spacing of the points each pixel's light is sampled "
                r"at \(pixel_scale 0.074 / nsub 1 = 0.074 arcsec\): .* raise source_re_range \(arcsec\) or nsub")
    with pytest.raises(ConfigError, match=expected):
        simulate_population(1, out, seed=SEED, **small)
    assert not out.exists()
    opts = PopulationOptions.from_kwargs(**small)
    with pytest.raises(ConfigError, match=expected):
        population.simulate_lens(np.random.default_rng(5), opts, population.make_psf(opts))
    truth = simulate_population(1, out, seed=SEED, progress=False, **{**TINY, "source_re_range": (spacing, spacing)})
    components = json.loads((out / "lens_00000" / "truth.json").read_text())["components"]
    fine = simulate_images(population.LENSED_SOURCE, {k: components[k] for k in ("lens_mass", "source_light")},
                           (TINY["size"], TINY["size"]), 0.074, np.ones((1, 1)), nsub=16)["lensed_source"].sum()
    row = truth.iloc[0]
    assert row["source_light.0.R_sersic"] == pytest.approx(spacing)
    assert row["source.magnification"] == pytest.approx(float(fine) / row["source.flux"], rel=0.1)


def test_api_warns_for_a_field_smaller_than_the_arcs(finished, tmp_path):
    pop = _copy(finished, tmp_path)
    with pytest.warns(ConfigWarning, match="arcs fall outside the image"), pytest.raises(OutputError):
        simulate_population(1, pop, seed=SEED, **{**TINY, "size": 8, "psf_size": 7})  # warned, then refused: another population


# -- one population per folder ----------------------------------------------------------------
def test_a_folder_holding_another_population_is_refused(finished, tmp_path):
    pop = _copy(finished, tmp_path)
    before = _digests(pop)
    sets = [f"--set={k}={json.dumps(v)}" for k, v in TINY.items()]
    result = CliRunner().invoke(app, ["simulate-population", "2", str(pop), "--seed", str(SEED + 1), "-q", *sets])
    assert result.exit_code == 2, result.output
    text = _text(result)
    assert f"{pop} already holds a population made with other settings" in text
    assert "N 1 there, 2 now" in text and f"--seed {SEED} there, {SEED + 1} now" in text  # as the command line sets them
    assert "Choose a new output folder, or delete" in text and "Traceback" not in result.output
    assert _digests(pop) == before and not (pop / "lens_00001").exists()
    with pytest.raises(OutputError, match=r"sky_sigma 0.03 there, 0.05 now"):
        simulate_population(1, pop, seed=SEED, sky_sigma=0.05, **TINY)
    assert _digests(pop) == before



def test_the_other_settings_of_a_folders_population_are_named_as_the_command_line_gave_them(finished, tmp_path):
    """A rerun into a folder of another population with --size 26 --psf moffat was refused as made with
    other settings ('size 24 there, 26 now; psf_type gaussian there, moffat now'), and N and --seed as 'n'
    and 'seed': names the command line has no option of. Each is now named as given (--size, --psf,
    N, --seed; a --set key as its key); the folder's path, even one holding those words, as it is."""
    pop = Path(shutil.copytree(finished, tmp_path / "size n seed psf_type" / "pop"))
    before = _digests(pop)
    recorded = json.loads((pop / "population.json").read_text())  # the independent truth: what the folder holds
    assert recorded["observation"]["size"] == 24 and recorded["observation"]["psf_type"] == "gaussian"
    sets = [f"--set={k}={json.dumps(v)}" for k, v in TINY.items() if k != "size"]
    result = CliRunner().invoke(app, ["simulate-population", "2", str(pop), "--seed", "4", "-q", "--size", "26",
                                      "--psf", "moffat", "--set", "snr_range=[10, 30]", *sets[:-1]])
    assert result.exit_code == 2, result.output
    text = _text(result)
    assert f"{pop} already holds a population made with other settings (N 1 there, 2 now; --seed 3 there, 4 now; " in text, text
    assert "--size 24 there, 26 now" in text and "--psf gaussian there, moffat now" in text, text
    assert "snr_range [10.0, 20.0] there, [10.0, 30.0] now" in text, text
    assert "psf_type gaussian" not in text and f"delete {pop} to replace" in text, text
    assert "Traceback" not in result.output and _digests(pop) == before
    with pytest.raises(OutputError, match=r"\(n 1 there, 2 now; seed 3 there, 4 now; size 24 there, 26 now"):
        simulate_population(2, pop, seed=4, **{**TINY, "size": 26})  # Python's caller: its own argument names


def test_a_seed_of_400_digits_is_cut_in_the_other_settings_message(finished, tmp_path):
    """'already holds a population made with other settings (seed 7 there, 1000...000 now)' wrote a
    --seed of 400 digits out in full, a message of over 400 characters; the seed is shown cut, its
    first digits and its length (as the seed's own refusals cut it), the other differences as before."""
    pop = _copy(finished, tmp_path)
    before = _digests(pop)
    seed = "9" + "0" * 399
    sets = [f"--set={k}={json.dumps(v)}" for k, v in TINY.items()]
    result = CliRunner().invoke(app, ["simulate-population", "2", str(pop), "--seed", seed, "-q", *sets])
    assert result.exit_code == 2, result.output
    text = _text(result)
    assert f"{pop} already holds a population made with other settings" in text and "Traceback" not in text
    assert "N 1 there, 2 now" in text and f"--seed {SEED} there, 9000" in text and "(400 characters) now" in text, text
    assert "0" * 100 not in text, text
    assert _digests(pop) == before


def test_the_precision_is_recorded_and_a_rerun_in_another_is_refused(finished, tmp_path, monkeypatch, x64):
    """population.json did not say which precision the lenses were simulated in, and a rerun of
    the same command under TINYLENS_PRECISION=float64 rewrote a float32 population's lenses with
    other images (or, after a stopped run, put lenses of both precisions in one population)."""
    import tinylens.precision

    pop = _copy(finished, tmp_path)
    assert json.loads((pop / "population.json").read_text())["precision"] == "float32"
    before = _digests(pop)
    monkeypatch.setattr(tinylens.precision, "_PRECISION", "float64")  # as TINYLENS_PRECISION=float64 sets it
    with pytest.raises(OutputError, match=r"precision float32 there, float64 now \(set by TINYLENS_PRECISION"):
        simulate_population(1, pop, seed=SEED, **TINY)
    assert _digests(pop) == before


def test_the_same_settings_regenerate_identical_files(finished, tmp_path):
    pop = _copy(finished, tmp_path)
    (pop / "truth.csv").write_text("stale\n")  # replaced, not kept
    simulate_population(1, pop, seed=SEED, **TINY)
    same = lambda digests: {f: d for f, d in digests.items() if f != "template.yaml"}  # its comment names the folder
    assert same(_digests(pop)) == same(_digests(finished))
    assert json.loads((pop / "population.json").read_text())["complete"] is True


def _interrupt_at_lens(monkeypatch, index: int) -> None:
    """Make the run stop (as Ctrl-C does) when it is about to write lens ``index``."""
    calls = []
    write = population.write_lens

    def write_or_stop(*args, **kwargs):
        calls.append(1)
        if len(calls) > index:
            raise KeyboardInterrupt
        return write(*args, **kwargs)

    monkeypatch.setattr(population, "write_lens", write_or_stop)


def test_an_interrupted_run_leaves_no_truth_table_of_another_population(tmp_path, monkeypatch):
    """In a folder the user made: the settings are recorded before any lens, no truth table is written."""
    pop = tmp_path / "mine"
    pop.mkdir()
    _interrupt_at_lens(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        simulate_population(2, pop, seed=SEED, **TINY)
    record = json.loads((pop / "population.json").read_text())
    assert (record["n"], record["seed"], record["complete"]) == (2, SEED, False)
    assert (pop / "lens_00000" / "image.fits").exists() and not (pop / "lens_00001").exists()
    assert not (pop / "truth.csv").exists() and not (pop / "truth.parquet").exists()
    # another population may not be written beside those lenses
    with pytest.raises(OutputError, match="already holds an unfinished population made with other settings"):
        simulate_population(2, pop, seed=SEED + 1, **TINY)


def test_a_lens_stopped_while_written_leaves_no_lens_folder_for_a_survey(tmp_path, monkeypatch):
    """Stopped after lens_00001's image.fits: no lens_00001 missing its noise map, which a survey
    would take for a lens; a rerun of the same settings finishes the population."""
    from tinylens.data import fits_io
    from tinylens.survey.runner import find_lenses

    pop = tmp_path / "mine"
    pop.mkdir()
    written, write = [], fits_io.write_fits_image

    def write_or_stop(path, *args, **kwargs):
        written.append(path)
        if len(written) == 5:  # lens_00001's noise.fits
            raise KeyboardInterrupt
        return write(path, *args, **kwargs)

    monkeypatch.setattr(fits_io, "write_fits_image", write_or_stop)
    with pytest.raises(KeyboardInterrupt):
        simulate_population(2, pop, seed=SEED, **TINY)
    assert not (pop / "lens_00001").exists()
    assert [lens.lens_id for lens in find_lenses(pop)] == ["lens_00000"]
    monkeypatch.setattr(fits_io, "write_fits_image", write)
    simulate_population(2, pop, seed=SEED, **TINY)
    assert sorted(p.name for p in pop.iterdir()) == ["lens_00000", "lens_00001", "population.json", "template.yaml",
                                                    "truth.csv", "truth.parquet"]
    assert all((pop / "lens_00001" / name).is_file() for name in population.FILES)


@pytest.mark.parametrize("made", ["by the user", "by the run", "finished before"])
def test_a_stopped_run_says_what_it_kept_and_what_to_run(finished, tmp_path, monkeypatch, made):
    pop = _copy(finished, tmp_path) if made == "finished before" else tmp_path / "pop"
    if made == "by the user":
        pop.mkdir()
    n = 1 if made == "finished before" else 2
    _interrupt_at_lens(monkeypatch, 1 if n == 2 else 0)
    args = ["simulate-population", str(n), str(pop), "-q", "--seed", str(SEED), "--size", "24", "--set", "nsub=1",
            "--set", "theta_E_range=[0.3,0.5]", "--set", "snr_range=[10,20]"]
    result = CliRunner().invoke(app, args)
    text = _text(result)
    assert result.exit_code == 130 and "Traceback" not in result.output, result.output
    command = shlex.join(["tinylens", *args])
    expected = {
        "by the user": f"Interrupted. {pop} holds an unfinished population (1 of 2 lenses, no truth table): a survey "
                       f"of it would fit only that one. To make all of it (from the first lens), run: {command} (or delete {pop}).",
        "by the run": f"Interrupted. Nothing was kept. To start again, run: {command}",
        "finished before": f"Interrupted. {pop} holds its finished population as before (the run writes the same files again).",
    }[made]
    before = text.removesuffix(expected).strip()  # these options' source (n up to 2.5 at 1.35 spacings) is warned of first
    assert text.endswith(expected) and (not before or before.startswith("Warning: source_re_range from 0.1 arcsec with "
                                                                        "source_n_range up to 2.5")), text


@pytest.mark.parametrize("n, kept, said", [(1, 0, "(0 of 1 lens, no truth table): a survey of it would fit only those."),
                                           (3, 1, "(1 of 3 lenses, no truth table): a survey of it would fit only that one."),
                                           (3, 2, "(2 of 3 lenses, no truth table): a survey of it would fit only those.")])
def test_a_stopped_run_counts_one_lens_in_the_singular(tmp_path, n, kept, said):
    """A population of one lens stopped before it was written said '(0 of 1 lenses, ...)', and one
    stopped with one lens kept 'a survey of it would fit only those'; each now agrees with its count."""
    from tinylens.cli.simulate_population import stopped_hint

    pop = tmp_path / "pop"
    pop.mkdir()
    (pop / population.POPULATION_RECORD).write_text(json.dumps({"n": n, "complete": False}))
    for i in range(kept):
        (pop / f"lens_{i:05d}").mkdir()
    assert stopped_hint(pop, "tinylens simulate-population") == (
        f"{pop} holds an unfinished population {said} To make all of it (from the first lens), run: tinylens "
        f"simulate-population (or delete {pop}).")


@pytest.mark.parametrize("record, said", [
    ('{"complete": false}', "(1 lens, no truth table)"),
    ('{"n": null, "complete": false}', "(1 lens, no truth table)"),
    ('{"n": "3", "complete": false}', "(1 lens, no truth table)"),
    ('{"n": 2.5, "complete": false}', "(1 lens, no truth table)"),
    ('{"n": true, "complete": false}', "(1 lens, no truth table)"),
    ('{"n": NaN, "complete": false}', "(1 lens, no truth table)"),
    ('{"n": 0, "complete": false}', "(1 lens, no truth table)"),
    ('{"n": 3.0, "complete": false}', "(1 of 3 lenses, no truth table)"),
    ('{"n": 3, "complete": false}', "(1 of 3 lenses, no truth table)"),
], ids=["missing", "null", "text", "fraction", "true", "nan", "fewer-than-kept", "3.0", "3"])
def test_a_stopped_run_whose_record_has_no_readable_count_leaves_the_count_out(tmp_path, record, said):
    """A hand-edited population.json with no "n", or one that is no whole number (null, "3", 2.5,
    true), had a stopped run say '(1 of None lenses, ...)' ('1 of 3 lenses' for "3", '1 of True
    lenses' for true); where the record gives no count of the lenses to make that can be read (one
    fewer than the lens folders there too) the hint now says only how many lenses it kept."""
    from tinylens.cli.simulate_population import stopped_hint

    pop = tmp_path / "pop"
    pop.mkdir()
    (pop / population.POPULATION_RECORD).write_text(record)
    (pop / "lens_00000").mkdir()
    text = stopped_hint(pop, "tinylens simulate-population")
    assert text == (f"{pop} holds an unfinished population {said}: a survey of it would fit only that one. To make "
                    f"all of it (from the first lens), run: tinylens simulate-population (or delete {pop})."), text
    assert "None" not in text and "True" not in text and "nan" not in text


def test_an_interrupted_rerun_keeps_the_finished_population(finished, tmp_path, monkeypatch):
    pop = _copy(finished, tmp_path)
    _interrupt_at_lens(monkeypatch, 0)
    with pytest.raises(KeyboardInterrupt):
        simulate_population(1, pop, seed=SEED, **TINY)
    assert _digests(pop) == _digests(finished)


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("truth.csv", "lens_id\nmine\n", "holds truth.csv but no population.json"),
    ("population.json", "{not json", "population.json cannot be read"),
])
def test_unknown_population_files_are_not_overwritten(tmp_path, name, content, expected):
    pop = tmp_path / "pop"
    pop.mkdir()
    (pop / name).write_text(content)
    result = CliRunner().invoke(app, ["simulate-population", "1", str(pop), "-q", "--size", "24"])
    assert result.exit_code == 2, result.output
    assert expected in _text(result) and "Choose a new output folder" in _text(result)
    assert (pop / name).read_text() == content and not (pop / "lens_00000").exists()


@pytest.mark.parametrize(("files", "listed"), [
    ({"template.yaml": "my template\n", "lens_00000/image.fits": "my image\n"}, "lens_00000, template.yaml"),
    ({"image.fits": "demo image\n", "model_config.yaml": "# tinylens demo: config\n"}, "image.fits, model_config.yaml"),
])
def test_a_folder_of_other_files_is_refused_and_left_as_it_was(tmp_path, files, listed):
    """The user's own files (or a demo's) in OUTDIR, no population.json: they used to be overwritten, exit 0."""
    pop = tmp_path / "pop"
    for name, content in files.items():
        (pop / name).parent.mkdir(parents=True, exist_ok=True)
        (pop / name).write_text(content)
    sets = [f"--set={k}={json.dumps(v)}" for k, v in TINY.items()]
    result = CliRunner().invoke(app, ["simulate-population", "2", str(pop), "-q", *sets])
    assert result.exit_code == 2, result.output
    text = _text(result)
    assert f"{pop} holds {listed} but no population.json, so not a population written by" in text
    assert "Choose a new output folder" in text and "Traceback" not in result.output
    assert {name: (pop / name).read_text() for name in files} == files
    assert sorted(p.name for p in pop.iterdir()) == sorted({name.split("/")[0] for name in files})


def test_hidden_files_do_not_make_a_folder_the_users(tmp_path):
    (tmp_path / ".DS_Store").write_text("finder")
    settings = population.population_settings(1, 0, PopulationOptions())
    assert population.existing_population(tmp_path, settings) is False


def test_options_missing_from_an_older_population_json_count_as_their_defaults():
    new = population.population_settings(1, 0, PopulationOptions())
    old = {**new, "observation": {k: v for k, v in new["observation"].items() if not k.startswith("lens_disc")}}
    assert population.settings_differences(old, new) == []
    other = population.population_settings(1, 0, PopulationOptions(lens_disc_fraction_range=(0.2, 0.4)))
    assert population.settings_differences(old, other) == ["lens_disc_fraction_range [0.0, 0.0] there, [0.2, 0.4] now"]
    # a population.json older than its precision record: that precision is unknown, not refused
    unrecorded = {k: v for k, v in new.items() if k != "precision"}
    assert population.settings_differences(unrecorded, population.population_settings(1, 0, PopulationOptions(), "float64")) == []


@pytest.mark.parametrize("args, shown", [(["-3", "pop"], "-3"), (["-q", "--seed", "2", "-2.5", "pop"], "-2.5"),
                                         (["-1e3", "pop"], "-1000.0"), (["-.5", "pop"], "-0.5"), (["-inf", "pop"], "-inf"),
                                         (["-nan", "pop"], "nan"), (["-q", "-NaN", "pop"], "nan"),
                                         (["nan", "pop"], "nan"), (["-q", "--seed", "2", "1.5", "pop"], "1.5"),
                                         (["inf", "pop"], "inf"), (["abc", "pop"], "'abc'")])
def test_a_count_below_one_or_no_whole_number_is_refused_as_the_count(tmp_path, monkeypatch, args, shown):
    """``simulate-population -3 OUT`` said "No such option: -3" (click reads -3 as an option),
    ``-nan OUT`` "No such option: -n", and ``1.5 OUT`` (or ``nan``, ``abc``) typer's "Invalid
    value for 'N': Input should be a valid integer": each gets the count's own message."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["simulate-population", *args])
    assert result.exit_code == 2, result.output
    assert f"the number of lenses must be >= 1 (a whole number), got {shown}" in _text(result)
    assert "No such option" not in _text(result) and "Invalid value" not in _text(result)
    assert isinstance(result.exception, SystemExit) and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("count", ["1e0", "1.0", "0.1e1"])
def test_a_whole_count_written_as_a_float_is_that_many_lenses(tmp_path, count):
    """``simulate-population 1e3 OUT`` said "Invalid value for 'N': Input should be a valid integer"
    while ``1000.0 OUT`` made 1000 lenses: each whole number is read as the count it is."""
    sets = [f"--set={k}={json.dumps(v)}" for k, v in TINY.items()]
    result = CliRunner().invoke(app, ["simulate-population", "-q", count, str(tmp_path / "pop"), *sets])
    assert result.exit_code == 0, result.output
    assert f"1 lens in {tmp_path / 'pop'}" in _text(result)
    assert json.loads((tmp_path / "pop" / "population.json").read_text())["n"] == 1


@pytest.mark.parametrize("count, shown", [("2e6", "2000000.0"), ("1e-3", "0.001"), ("1.5e0", "1.5")])
def test_a_count_in_exponent_form_gets_the_counts_own_message(tmp_path, monkeypatch, count, shown):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["simulate-population", count, "pop"])
    assert result.exit_code == 2 and f"got {shown}" in _text(result), result.output
    assert "Invalid value" not in _text(result) and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["-3", "pop", "--help"], ["--help", "-1e3", "pop"], ["-q", "-2.5", "--help"],
                                  ["-nan", "pop", "--help"], ["1.5", "pop", "--help"], ["--help", "abc"]])
def test_help_is_shown_even_with_a_refused_count(tmp_path, monkeypatch, args):
    """``simulate-population -3 OUT --help`` (or ``1.5 OUT --help``) gave the count's error instead of the help."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["simulate-population", *args])
    assert result.exit_code == 0, result.output
    assert "Usage: tinylens simulate-population" in result.output and "Simulate N CSST-like" in result.output
    assert "number of lenses" not in result.output and list(tmp_path.iterdir()) == []


def test_a_help_after_double_dash_or_as_a_value_is_not_a_help_request(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for args in (["-3", "pop", "--", "--help"], ["--psf", "--help", "-3", "pop"]):
        result = CliRunner().invoke(app, ["simulate-population", *args])
        assert result.exit_code == 2 and "the number of lenses must be >= 1" in _text(result), result.output


def test_a_negative_option_value_is_still_the_options(tmp_path):
    result = CliRunner().invoke(app, ["simulate-population", "1", str(tmp_path / "pop"), "--seed", "-1"])
    assert result.exit_code == 2 and "the random seed (--seed) must be a non-negative integer, got -1" in _text(result)


def test_the_summary_counts_one_lens_in_the_singular(tmp_path):
    """``simulate-population 1 OUT`` said "1 lenses in OUT"."""
    sets = [f"--set={k}={json.dumps(v)}" for k, v in TINY.items()]
    result = CliRunner().invoke(app, ["simulate-population", "1", str(tmp_path / "pop"), "-q", *sets])
    assert result.exit_code == 0, result.output
    assert f"1 lens in {tmp_path / 'pop'} (arc SNR" in _text(result) and "1 lenses" not in _text(result)


@pytest.mark.parametrize("seed", [-1, 2.5, "3"])
def test_simulate_population_called_from_python_names_its_seed_argument(seed, tmp_path):
    """simulate_population(n, outdir, seed=-1) from Python said 'the random seed (--seed) must be
    ...', naming a flag of a command the caller never ran; it names its own argument, and the
    command line still names --seed (test_a_negative_option_value_is_still_the_options). Nothing
    is made."""
    with pytest.raises(ConfigError) as info:
        simulate_population(1, tmp_path / "pop", seed=seed, **TINY)
    assert str(info.value) == f"simulate_population's seed (the random seed) must be a non-negative integer, got {seed!r}"
    assert not (tmp_path / "pop").exists()


@pytest.mark.parametrize(
    "outdir, expected",
    [
        ("", "is an empty or blank path ('': an unset variable?); give a folder name ('' would be the current folder)"),
        ("  ", "is an empty or blank path ('  ': an unset variable?)"),
        (None, "must be a folder (a str or pathlib.Path), got NoneType None"),
        (5, "must be a folder (a str or pathlib.Path), got int 5"),
        ("~no_such_user_s56h/pop", "~no_such_user_s56h/pop: there is no user 'no_such_user_s56h' on this machine"),
    ],
)
def test_simulate_population_called_from_python_refuses_an_outdir_that_is_no_folder_name(outdir, expected, tmp_path,
                                                                                        monkeypatch):
    """simulate_population(n, "") wrote the population into the current folder (Path("") is it), "  " into a
    folder of two spaces, and None, 5 or an unknown ~user raised Path's TypeError or RuntimeError; each is
    a ConfigError naming the outdir argument, as the command line refuses an empty OUTDIR, and nothing is
    written."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        simulate_population(1, outdir, seed=SEED, **TINY)
    assert str(info.value).startswith("simulate_population's outdir (the output folder) ")
    assert expected in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cli", [False, True])
@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.ENAMETOOLONG])
def test_an_output_folder_that_cannot_be_written_says_the_systems_reason(tmp_path, monkeypatch, code, cli):
    """The output folder's write check failing for a reason of the system (a read-only disk, a full
    one, a name too long) was said 'permission denied' whenever no file was in the way, the real
    reason dropped: simulate_population and 'tinylens simulate-population' now give it, naming the
    folder. (Tests run as root, whom permissions do not stop: the failure is faked.)"""
    import os
    import types

    from tinylens.results import tables

    def refused(*args, **kwargs):
        raise OSError(code, os.strerror(code), kwargs.get("dir"))

    monkeypatch.setattr(tables, "tempfile", types.SimpleNamespace(NamedTemporaryFile=refused))
    pop = tmp_path / "pop"
    said = (f"The population's output folder {pop} cannot be written ({os.strerror(code)}). Choose another "
            "output folder.")
    if cli:
        sets = [f"--set={k}={json.dumps(v)}" for k, v in TINY.items()]
        result = CliRunner().invoke(app, ["simulate-population", "1", str(pop), "-q", f"--seed={SEED}", *sets])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
        assert " ".join(said.split()) in _text(result) and "permission denied" not in _text(result)
    else:
        with pytest.raises(OutputError) as info:
            simulate_population(1, pop, seed=SEED, **TINY)
        assert str(info.value) == said
    assert not pop.exists()  # the folder made for the check is removed again


@pytest.mark.parametrize("writer", ["write_json", "write_csv"])
def test_a_full_disk_is_an_output_error_naming_the_folder(writer, tmp_path, monkeypatch):
    """A full disk while population.json (write_json, the first file) or truth.csv (write_csv, after
    the lenses) was written was OSError's traceback, exit 1 (the FITS files' writer named its file
    already); it is an OutputError naming the folder and what to do, exit 2, and the lens folders
    written before it are whole."""
    pop = tmp_path / "pop"
    pop.mkdir()

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(population, writer, full)
    sets = [f"--set={k}={json.dumps(v)}" for k, v in TINY.items()]
    result = CliRunner().invoke(app, ["simulate-population", "1", str(pop), "-q", f"--seed={SEED}", *sets])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert (f"Cannot write the population into {pop}: no space left (No space left on device: the disk, or your quota "
            "on it, is full). No file is left half-written") in _text(result)
    assert not (pop / "truth.csv").exists()
    assert [p.name for p in pop.glob("lens_*")] == ([] if writer == "write_json" else ["lens_00000"])


def test_a_full_disk_while_a_fits_file_is_written_says_why_and_what_to_do(tmp_path, monkeypatch):
    """The FITS files are most of a population's bytes, so a full disk is met there first; their
    writer's OutputError ('Cannot write the FITS file .../image.fits: No space left on device.')
    said neither that the disk is full nor what to do, as a full disk elsewhere does."""
    from astropy.io import fits

    def full(self, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(fits.PrimaryHDU, "writeto", full)
    pop = tmp_path / "pop"
    pop.mkdir()
    with pytest.raises(OutputError) as info:
        simulate_population(1, pop, seed=SEED, **TINY)
    assert str(info.value).startswith(f"Cannot write the population into {pop}: no space left (No space left on "
                                      "device: the disk, or your quota on it, is full). No file is left half-written; "
                                      "free some space")
    assert not (pop / "truth.csv").exists() and not list(pop.glob("lens_*"))


@pytest.mark.parametrize("cli", [False, True])
def test_a_full_disk_says_to_run_the_command_or_the_simulate_population_call_again(tmp_path, monkeypatch, cli):
    """A full disk's message, which simulate_population raises to a Python caller too, ended 'run
    the command again', though a notebook runs none: it now says 'run the same command (or
    simulate_population call) again', which reads right for both."""
    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(population, "write_json", full)
    pop = tmp_path / "pop"
    if cli:
        sets = [f"--set={k}={json.dumps(v)}" for k, v in TINY.items()]
        result = CliRunner().invoke(app, ["simulate-population", "1", str(pop), "-q", f"--seed={SEED}", *sets])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        said = _text(result)
    else:
        with pytest.raises(OutputError) as info:
            simulate_population(1, pop, seed=SEED, **TINY)
        said = " ".join(str(info.value).split())
    assert said.endswith("free some space (about 0.2 MB a lens at the default size) and run the same command (or "
                         "simulate_population call) again."), said
    assert "run the command again" not in said


def test_a_real_full_disk_while_a_fits_file_is_written_says_why_and_what_to_do(tmp_path, monkeypatch):
    """On a real full disk (a 64 kB tmpfs) astropy's writer raises no ENOSPC but an OSError of no
    number, 'Not enough space on disk: requested 80000, available 0. ... 10000 requested and 7832
    written' (numpy's), so the population kept 'Cannot write the FITS file .../.lens_00000.partial/
    image.fits: Not enough space on disk: ...' though 1da241e meant a full disk's message; the
    image's bytes are now made in memory and written by the system, whose ENOSPC is said so."""
    import io
    import os
    from pathlib import Path

    from astropy.io import fits

    real_writeto, real_write_bytes = fits.PrimaryHDU.writeto, Path.write_bytes

    def writeto(self, target, *args, **kwargs):  # astropy's error for a full disk: no errno
        if not isinstance(target, io.BytesIO):  # a file's path, or the file opened
            raise OSError("Not enough space on disk: requested 80000, available 0. 10000 requested and 7832 written")
        return real_writeto(self, target, *args, **kwargs)

    def write_bytes(self, data):  # the system's: ENOSPC, naming no file
        if ".partial" in str(self):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_bytes(self, data)

    monkeypatch.setattr(fits.PrimaryHDU, "writeto", writeto)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    pop = tmp_path / "pop"
    pop.mkdir()
    with pytest.raises(OutputError) as info:
        simulate_population(1, pop, seed=SEED, **TINY)
    assert str(info.value).startswith(f"Cannot write the population into {pop}: no space left (No space left on "
                                      "device: the disk, or your quota on it, is full)."), str(info.value)
    assert not (pop / "truth.csv").exists() and not list(pop.glob("lens_*"))


def test_a_fits_files_other_output_error_is_left_as_it_is(tmp_path, monkeypatch):
    """Only a full disk is reported so: a FITS file that cannot be written for another reason keeps
    its writer's message naming it."""
    from astropy.io import fits

    def denied(self, path, *args, **kwargs):
        raise OSError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(fits.PrimaryHDU, "writeto", denied)
    with pytest.raises(OutputError, match=r"Cannot write the FITS file .*image\.fits: Permission denied"):
        simulate_population(1, tmp_path / "pop", seed=SEED, **TINY)


def test_a_source_too_steep_for_the_sampling_is_warned_of_naming_the_options(tmp_path):
    """A steep source (source_n_range up to 8) four spacings (pixel_scale / nsub) wide passed the refusal of sources
    under one spacing without a word, though its arcs' flux and truth.csv's source.magnification were off by up to
    43% against 16 times finer sampling (n 4: 11%); it is a ConfigWarning naming source_re_range, source_n_range,
    the spacing and the radius needed (10^(0.31 (n - 1)) spacings), the population still made. The defaults, and a
    source of n 1 one spacing wide (3% off), are not warned of."""
    spacing = 0.074 / TINY["nsub"]
    steep = {**TINY, "source_re_range": (4 * spacing, 4 * spacing), "source_n_range": (8.0, 8.0)}
    needed = 10 ** (0.31 * 7) * spacing
    with pytest.warns(ConfigWarning) as caught:
        truth = simulate_population(1, tmp_path / "pop", seed=SEED, progress=False, **steep)
    texts = [str(w.message) for w in caught if "source_n_range up to 8" in str(w.message)]
    assert len(texts) == 1, [str(w.message) for w in caught]
    assert "source_re_range from 0.296 arcsec" in texts[0] and "nsub 1 = 0.074 arcsec" in texts[0]
    assert f"Raise source_re_range (arcsec) to {needed:.3g} or nsub, or lower source_n_range" in texts[0]
    assert not population.scale_warnings(PopulationOptions.from_kwargs(**steep))  # unit mistakes only
    assert len(truth) == 1
    assert not population.steep_source_warnings(PopulationOptions())
    assert not population.steep_source_warnings(PopulationOptions.from_kwargs(**{**TINY, "source_re_range": (spacing, 0.1),
                                                                                 "source_n_range": (1.0, 1.0)}))
    # at the radius needed, no word
    assert not population.steep_source_warnings(PopulationOptions.from_kwargs(**{**steep, "source_re_range": (needed, needed)}))


def test_simulate_lens_warns_of_a_source_too_steep_for_its_sampling_as_the_population_does():
    """simulate_lens (public, one lens) refused sources under one spacing but said nothing of a steep one, which
    simulate_population warns of: n 8 four spacings wide, its source.magnification 11% under 16 times finer
    sampling's here (2.00 against 2.24). It now gives the same ConfigWarning; the defaults give none."""
    steep = PopulationOptions.from_kwargs(**{**TINY, "source_re_range": (4 * 0.074, 4 * 0.074), "source_n_range": (8.0, 8.0)})
    psf = population.make_psf(steep)
    with pytest.warns(ConfigWarning) as caught:
        coarse = population.simulate_lens(np.random.default_rng(SEED), steep, psf)
    texts = [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]
    assert texts == population.steep_source_warnings(steep) and "source_n_range up to 8" in texts[0]
    assert caught[0].filename == __file__  # said at the caller's line
    # the error it warns of: the same draw sampled 16 times finer (its truth but for the sampling)
    fine = population._simulated(np.random.default_rng(SEED), dataclasses.replace(steep, nsub=16), psf)
    assert coarse["truth"]["source_light"][0]["R_sersic"] == fine["truth"]["source_light"][0]["R_sersic"]
    magnification = coarse["derived"]["source.magnification"], fine["derived"]["source.magnification"]
    assert abs(magnification[0] / magnification[1] - 1) > 0.05, magnification
    plain = PopulationOptions.from_kwargs(**{**TINY, "nsub": PopulationOptions().nsub})  # the default sampling
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        population.simulate_lens(np.random.default_rng(SEED), plain, population.make_psf(plain))


def test_lens_galaxies_too_bright_for_any_arc_snr_name_the_zeropoint_and_lens_mag_range():
    """zeropoint 82 with exposure_time 1e-8 (lens galaxies of 10^24.8 e-/s) was refused as 'no source brightness gives
    an arc of maximum SNR ... with sky_sigma and exposure_time', though the lens's own Poisson noise, not the sky,
    buried every arc; the message now names the zeropoint and lens_mag_range too. Where the sky's noise is the larger,
    it names sky_sigma and exposure_time only."""
    opts = PopulationOptions(zeropoint=82.0, exposure_time=1e-8)
    arc = np.zeros((5, 5))
    arc[2, 2] = 1.0
    lens = np.full((5, 5), 2e21)
    assert population.source_scale(arc, np.zeros((5, 5)), 10.0, opts) > 0  # on no lens the arc is made: the lens stops it
    with pytest.raises(ConfigError, match=r"zeropoint 82 and lens_mag_range from 20 make lens galaxies of up to 10\^24.8 "
                                          r"e-/s, 2e\+21 e-/s in a pixel; lower the zeropoint .* or raise lens_mag_range"):
        population.source_scale(arc, lens, 10.0, opts)
    with pytest.raises(ConfigError) as info:
        population.source_scale(arc, np.zeros((5, 5)), 10.0, PopulationOptions(sky_sigma=1e20))
    assert "sky_sigma = 1e+20" in str(info.value) and "zeropoint" not in str(info.value)


def test_an_arc_buried_by_its_own_poisson_noise_does_not_blame_the_lens_galaxies_brightness():
    """With exposure_time 1e-30 an arc's own Poisson noise keeps it under any SNR the brightest source tried can give,
    whatever the lens galaxy: the refusal said 'or the lens galaxies' brightness ...: lower the zeropoint' at zeropoint
    25.7 (lens galaxies of 10^2.28 e-/s, 0.06 e-/s in a pixel) and at -20 (10^-16 e-/s), where a lower zeropoint cannot
    help. It names sky_sigma and exposure_time alone there, as it does on no lens at all."""
    arc = np.zeros((5, 5))
    arc[2, 2] = 1.0
    for zeropoint, lens_peak in ((25.7, 0.06), (-20.0, 3e-20)):
        opts = PopulationOptions(zeropoint=zeropoint, exposure_time=1e-30)
        with pytest.raises(ConfigError) as alone:  # the independent truth: on no lens it is refused all the same
            population.source_scale(arc, np.zeros((5, 5)), 10.0, opts)
        with pytest.raises(ConfigError) as info:
            population.source_scale(arc, np.full((5, 5), lens_peak), 10.0, opts)
        assert "exposure_time = 1e-30" in str(info.value), str(info.value)
        assert "zeropoint" not in str(info.value) and "lens galaxies" not in str(info.value), str(info.value)
        assert str(info.value) == str(alone.value)


@pytest.mark.parametrize(
    "n, seed, error, builtin",
    [
        ("abc", 0, "ConfigTypeError", TypeError), (None, 0, "ConfigTypeError", TypeError),
        ([3], 0, "ConfigTypeError", TypeError),
        (True, 0, "ConfigTypeError", TypeError), (2.5, 0, "ConfigValueError", ValueError),
        (float("nan"), 0, "ConfigValueError", ValueError), (0, 0, "ConfigValueError", ValueError),
        (10**7, 0, "ConfigValueError", ValueError), (1, 2.5, "ConfigTypeError", TypeError),
        (1, "3", "ConfigTypeError", TypeError), (1, True, "ConfigTypeError", TypeError),
        (1, -1, "ConfigValueError", ValueError),
    ],
)
def test_simulate_populations_count_and_seed_raise_the_apis_type_and_value_errors(n, seed, error, builtin, tmp_path):
    """simulate_population's n and seed raised a plain ConfigError (neither a TypeError nor a
    ValueError) for n="abc", n=2.5 or seed=-1, where its outdir, tinylens.fit's flags and the rest of
    the API raise ConfigTypeError for a wrong type and ConfigValueError for a wrong value (a
    ConfigError too, so ``except ConfigError`` still catches them). Nothing is made."""
    from tinylens import errors

    with pytest.raises(ConfigError) as info:
        simulate_population(n, tmp_path / "pop", seed=seed, **TINY)
    assert type(info.value) is getattr(errors, error) and isinstance(info.value, builtin)
    assert not (tmp_path / "pop").exists()


@pytest.mark.parametrize("n, shown", [("3", "'3' (a str: give the number itself, 3)"),
                                      ("2.0", "'2.0' (a str: give the number itself, 2)"),
                                      (b"1", "b'1' (a bytes: give the number itself, 1)")])
def test_a_count_given_as_text_is_refused_as_a_seed_given_as_text_is(n, shown, tmp_path):
    """simulate_population(n="3", ...) simulated 3 lenses (the check read the text as the number it
    spells) while seed="3" was refused as no integer: a count given as text is refused too, a
    ConfigTypeError naming what to give instead, and nothing is made."""
    with pytest.raises(TypeError) as info:
        simulate_population(n, tmp_path / "pop", seed=0, **TINY)
    assert type(info.value) is ConfigTypeError, repr(info.value)
    assert str(info.value) == f"the number of lenses must be >= 1 (a whole number), got {shown}"
    assert not (tmp_path / "pop").exists()


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"size": "big"}, ConfigTypeError, "population option size must be an integer (like 100), got 'big'"),
        ({"size": None}, ConfigTypeError, "population option size must be an integer (like 100), got None"),
        ({"size": 2.5}, ConfigValueError, "population option size must be an integer (like 100), got 2.5"),
        ({"snr_range": 5}, ConfigTypeError, "population option snr_range must be a pair [low, high] (like (5.0, 50.0)), got 5"),
        ({"snr_range": ["a", 9]}, ConfigTypeError,
         "population option snr_range must be a pair [low, high] (like (5.0, 50.0)), got ['a', 9]"),
        ({"snr_range": [5, 10, 20]}, ConfigValueError,
         "population option snr_range must be a pair [low, high] (like (5.0, 50.0)), got [5, 10, 20]"),
        ({"psf_type": 3}, ConfigTypeError, "population option psf_type must be a string (like 'gaussian'), got 3"),
        ({"psf_type": "airy"}, ConfigValueError, "psf_type must be 'gaussian' or 'moffat', got 'airy'"),
        ({"size": 4}, ConfigValueError, "size must be >= 8 pixels, got 4"),
        ({"shear_max": 2}, ConfigValueError, "shear_max must be < 1 (a shear of 1 or more is not a lens), got 2.0"),
        ({"sizee": 64}, ConfigTypeError, "unknown population option ['sizee']; known: "),
    ],
)
def test_population_options_raise_the_apis_type_and_value_errors(options, error, message, tmp_path):
    """simulate_population(3, out, size="big") (or size=2.5, psf_type="airy", sizee=64) raised a
    plain ConfigError, neither a TypeError nor a ValueError, where its n, seed and outdir and the
    rest of the API raise ConfigTypeError for a wrong kind of value (and an unknown keyword, as
    Python does) and ConfigValueError for a wrong value of the right kind. Messages unchanged;
    nothing is made."""
    with pytest.raises(ConfigError) as info:
        simulate_population(1, tmp_path / "pop", seed=0, **{**TINY, **options})
    assert type(info.value) is error, repr(info.value)
    assert str(info.value).startswith(message), str(info.value)
    assert not (tmp_path / "pop").exists()


@pytest.mark.parametrize("options, message", [
    ({"size": "64"}, "population option size must be an integer (like 100), got '64'"),
    ({"size": b"64"}, "population option size must be an integer (like 100), got b'64'"),
    ({"sky_sigma": "0.1"}, "population option sky_sigma must be a number (like 0.03), got '0.1'"),
    ({"snr_range": ("5", "20")}, "population option snr_range must be a pair [low, high] (like (5.0, 50.0)), got ('5', '20')"),
], ids=["size text", "size bytes", "sky_sigma text", "snr_range texts"])
def test_a_number_option_given_as_text_from_python_is_refused(options, message, tmp_path):
    """simulate_population(1, out, size="64") simulated 64-pixel lenses (float() read the text as the
    number it spells) while size="64.0" was refused as no integer, and sky_sigma="0.1" and
    snr_range=("5", "20") were taken as numbers too: a text for a number option is now refused from
    Python, a ConfigTypeError naming the option and the value, as size="big" is, and nothing is made."""
    with pytest.raises(TypeError) as info:
        simulate_population(1, tmp_path / "pop", seed=0, **{**TINY, **options})
    assert type(info.value) is ConfigTypeError, repr(info.value)
    assert str(info.value) == message
    assert not (tmp_path / "pop").exists()


def test_a_number_in_exponent_notation_on_the_command_line_is_still_a_number():
    """The command line reads --set values as YAML, and PyYAML reads 1e-3 as text: with text for
    numbers refused from Python, --set sky_sigma=1e-3 and snr_range=[1e1,5e1] (which the options took
    as numbers through float()) would have been refused; they are read as the numbers they write, as
    a config's are, and a quoted or other text is refused as before."""
    from tinylens.cli.simulate_population import parse_settings

    options = parse_settings(["sky_sigma=1e-3", "snr_range=[1e1, 5e1]", "size=64", "pixel_scale=0.1"])
    assert options == {"sky_sigma": 1e-3, "snr_range": [10, 50], "size": 64, "pixel_scale": 0.1}
    opts = PopulationOptions.from_kwargs(**options)
    assert (opts.sky_sigma, opts.snr_range, opts.size, opts.pixel_scale) == (1e-3, (10.0, 50.0), 64, 0.1)
    for item in ("shear_max=abc", "size='64'"):
        with pytest.raises(ConfigTypeError, match=r"^population option (shear_max|size) must be a"):
            PopulationOptions.from_kwargs(**parse_settings([item]))


@pytest.mark.parametrize("items, read", [
    (["size=010"], {"size": 10}), (["size=08"], {"size": 8}), (["nsub=+02", "fit_nsub=0_3"], {"nsub": 2, "fit_nsub": 3}),
    (["snr_range=[05, 020]"], {"snr_range": [5, 20]}), (["theta_E_range=[-01, 1e0]"], {"theta_E_range": [-1, 1]}),
    (["psf_size=0x11", "size=007.5", "zeropoint=0"], {"psf_size": 17, "size": 7.5, "zeropoint": 0})])
def test_a_whole_number_with_leading_zeros_on_the_command_line_is_the_decimal_typed(items, read):
    """--set reads YAML 1.1, where 010 is the octal 8 and 08 a text: --set size=010 simulated 8-pixel
    lenses, snr_range=[05, 020] drew SNRs from 5 to 16, psf_size=021 made 17-pixel PSFs, all without a
    word, and size=08 was refused as the text '08'. Leading zeros now write the decimal typed;
    hexadecimal, floats and plain numbers read as before."""
    from tinylens.cli.simulate_population import parse_settings

    assert parse_settings(items) == read
    opts = PopulationOptions.from_kwargs(**parse_settings(["size=010", "snr_range=[05, 020]", "psf_size=021"]))
    assert (opts.size, opts.snr_range, opts.psf_size) == (10, (5.0, 20.0), 21)


def test_digits_with_colons_on_the_command_line_are_not_read_as_base_60():
    """--set size=1:30 (YAML 1.1's base-60 90) simulated 90-pixel lenses and snr_range=[1:00, 2:00]
    drew SNRs from 60 to 120, without a word; --set reads numbers as a config does, the colons kept
    as text, which a number option refuses as typed."""
    from tinylens.cli.simulate_population import parse_settings

    assert parse_settings(["size=1:30", "snr_range=[1:00, 2:00]"]) == {"size": "1:30", "snr_range": ["1:00", "2:00"]}
    with pytest.raises(ConfigTypeError, match=r"^population option size must be an integer .*got '1:30'"):
        PopulationOptions.from_kwargs(**parse_settings(["size=1:30"]))


@pytest.mark.parametrize("args, expected", [
    (["--set", "psf_size=020"], "psf_size must be a positive odd number of pixels, got 20"),
    (["--set", "size=08", "--set", "nsub=0"], "nsub must be >= 1, got 0"),
    (["--size", "10", "--set", "size=012"], "--size 10 and --set size=12 disagree; give size once."),
    (["--set", "psf_type=007"], "psf_type must be 'gaussian' or 'moffat', got '007'")])
def test_a_leading_zero_option_is_refused_as_the_number_typed(tmp_path, args, expected):
    """simulate-population --set psf_size=020 was refused as 'psf_size must be a positive odd number
    of pixels, got 16', --set size=08 as the text '08', --size 10 --set size=012 as disagreeing with
    size=10, psf_type=007 as 'must be a string, got 7': numbers the user never typed. Each is now
    read as typed; nothing is written."""
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", *args])
    assert result.exit_code == 2, result.output
    text = _text(result)
    assert expected in text and "08" not in text.replace(str(tmp_path), "")
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not out.exists()


@pytest.mark.parametrize("args, expected", [
    (["--set", "psf=mofat"], "unknown population option ['psf']; known: "),
    (["--set", "psf=moffat"], "unknown population option ['psf']; known: "),
    (["--psf", "mofat"], "--psf must be 'gaussian' or 'moffat', got 'mofat'"),
    (["--set", "psf_type=Gausian"], "psf_type must be 'gaussian' or 'moffat', got 'Gausian'")])
def test_a_psf_given_by_another_name_or_misspelt_is_pointed_to_the_psf_type(tmp_path, args, expected):
    """simulate-population --set psf=mofat was refused as an unknown option with the 28 known ones
    listed and no word of which sets the PSF ('psf' is as near psf_size and psf_fwhm as psf_type), and
    --psf mofat listed the shapes without the one meant. Each now points to it; nothing is written."""
    from tinylens.survey.options import PopulationOptions

    assert "psf" not in PopulationOptions.__dataclass_fields__  # the independent truth: the option's own name
    assert {"psf_type", "psf_size", "psf_fwhm"} <= set(PopulationOptions.__dataclass_fields__)
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", *args])
    assert result.exit_code == 2, result.output
    text = _text(result)
    assert expected in text, text
    meant = "Did you mean 'psf_type' instead of 'psf'?" if "psf=" in args[1] else \
        f"(did you mean '{'moffat' if 'mof' in args[1] else 'gaussian'}'?)"
    assert meant in text, text
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not out.exists()


@pytest.mark.parametrize("name, value", [("snr_range", {5, 20}), ("lens_q_range", {1.0, 0.6}),
                                         ("theta_E_range", frozenset({0.5, 1.5})), ("snr_range", {5: "low", 20: "high"}),
                                         ("snr_range", "cli")])
def test_a_pair_option_given_as_a_set_or_a_mapping_is_refused_by_name(name, value, tmp_path):
    """snr_range={5, 20} iterated in hash order, (20.0, 5.0), and was refused as 'low <= high', which
    the user wrote; lens_q_range={1.0, 0.6} (high first) was taken as (0.6, 1.0); a dict
    ({5: 'low', 20: 'high'}, or --set "snr_range={5, 20}", which YAML reads as one) was read from its
    keys, (5.0, 20.0). Each is now the ConfigTypeError naming the option that a text is, nothing made."""
    if value == "cli":
        from tinylens.cli.simulate_population import parse_settings

        value = parse_settings(["snr_range={5, 20}"])["snr_range"]
        assert value == {5: None, 20: None}
    with pytest.raises(ConfigTypeError) as info:
        simulate_population(1, tmp_path / "pop", seed=0, **{**TINY, name: value})
    assert type(info.value) is ConfigTypeError, repr(info.value)
    assert str(info.value).startswith(f"population option {name} must be a pair [low, high] (like "), str(info.value)
    assert str(info.value).endswith(f"got {value!r}")
    assert not (tmp_path / "pop").exists()


@pytest.mark.parametrize("value", [b"25", bytearray(b"25")])
def test_a_pair_option_given_as_bytes_is_refused_not_read_as_character_codes(value):
    """snr_range=b"25" was iterated as the codes of its characters, 50 and 53, and simulated lenses
    with arc SNRs between 50 and 53 (size=b"64" is refused); it is a ConfigTypeError naming the
    option, as a text is."""
    with pytest.raises(ConfigTypeError, match=r"^population option snr_range must be a pair \[low, high\]"):
        PopulationOptions.from_kwargs(snr_range=value)
    for name in ("size", "sky_sigma"):  # float() reads bytearray(b"64") as 64.0
        with pytest.raises(ConfigTypeError, match=rf"^population option {name} must be an? "):
            PopulationOptions.from_kwargs(**{name: bytearray(b"64")})


@pytest.mark.parametrize("item, message", [
    ("sky_sigma=inf", "sky_sigma must be finite, got inf"), ("sky_sigma=-inf", "sky_sigma must be finite, got -inf"),
    ("sky_sigma=nan", "sky_sigma must be finite, got nan"), ("sky_sigma=Infinity", "sky_sigma must be finite, got inf"),
    ("snr_range=[5, inf]", "snr_range must be finite, got (5.0, inf)"),
    ("psf_type=1e5", "psf_type must be 'gaussian' or 'moffat', got '1e5'")])
def test_an_infinite_number_or_a_text_option_in_exponent_notation_on_the_command_line_is_refused_as_written(item, message):
    """--set sky_sigma=inf (and nan, -inf, Infinity, which float reads and PyYAML leaves as text) was
    refused as a number that is not finite; with text for numbers refused it read 'must be a number
    (like 0.03), got 'inf''. --set psf_type=1e5, a text option, was refused as the text '1e5', then as
    'must be a string, got 100000', a value not given. Both read as before: a ConfigValueError naming
    the value as written."""
    from tinylens.cli.simulate_population import parse_settings

    with pytest.raises(ConfigValueError) as info:
        PopulationOptions.from_kwargs(**parse_settings([item]))
    assert str(info.value) == message


@pytest.mark.parametrize("typed", ["off", "Yes", "no", "2024-06-01"])
def test_a_text_option_yaml_reads_as_a_boolean_or_a_date_is_refused_as_the_text_typed(typed):
    """--set psf_type=off (YAML 1.1 reads an unquoted off, yes or no as a boolean) was refused as
    'psf_type must be a string (like 'gaussian'), got False', a value never typed, and psf_type=2024-06-01
    as 'got datetime.date(2024, 6, 1)'; a text option keeps the text typed, as it keeps 007, and is refused
    as it: 'psf_type must be 'gaussian' or 'moffat', got 'off''."""
    import yaml

    from tinylens.cli.simulate_population import parse_settings

    assert not isinstance(yaml.safe_load(typed), str)  # the independent truth: PyYAML reads no text
    assert parse_settings([f"psf_type={typed}"]) == {"psf_type": typed}
    with pytest.raises(ConfigValueError) as info:
        PopulationOptions.from_kwargs(**parse_settings([f"psf_type= {typed}"]))
    assert str(info.value) == f"psf_type must be 'gaussian' or 'moffat', got '{typed}'"


@pytest.mark.parametrize("outdir, error", [("", ConfigValueError), (None, ConfigTypeError),
                                           ("~no_such_user_s65e/pop", ConfigValueError)])
def test_an_outdir_of_an_unknown_user_is_a_value_error_as_an_empty_one_is(outdir, error, tmp_path, monkeypatch):
    """simulate_population(1, "~no_such_user/pop") raised a plain ConfigError (neither a ValueError
    nor a TypeError) where an empty outdir is a ConfigValueError and None a ConfigTypeError: a text
    naming a home folder not known here is a wrong value too. Nothing is written."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        simulate_population(1, outdir, seed=SEED, **TINY)
    assert type(info.value) is error, repr(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value, error", [(np.array(5.0), ConfigTypeError), (np.array([5.0, 10.0, 20.0]), ConfigValueError),
                                          (np.array([[5.0, 10.0]]), ConfigTypeError)])
def test_a_pair_option_given_as_a_numpy_array_is_refused_by_name(value, error, tmp_path):
    """snr_range=np.array(5.0) (one number, as numpy holds it) escaped as numpy's bare 'iteration
    over a 0-d array' TypeError, with a traceback and no option named, since bf6c857 sorted the
    refusal's class by iterating the value: it is one number for a pair, a ConfigTypeError naming
    snr_range as snr_range=5 is; three numbers in an array a ConfigValueError as [5, 10, 20] is."""
    with pytest.raises(ConfigError) as info:
        simulate_population(1, tmp_path / "pop", seed=0, **{**TINY, "snr_range": value})
    assert type(info.value) is error, repr(info.value)
    assert str(info.value).startswith("population option snr_range must be a pair [low, high] (like (5.0, 50.0)), got array(")
    assert not (tmp_path / "pop").exists()


@pytest.mark.parametrize("n", [np.array(2), np.array(2.0)])
def test_a_count_held_in_a_zero_dimensional_array_is_read_as_before(n, tmp_path):
    """16416c0 refused every n that is no numbers.Real to refuse a text ("3"), so np.array(2) (a
    whole number numpy keeps in a 0-d array, which simulate_population took as 2) became a
    ConfigTypeError 'got array(2)': only a text is refused, and it makes its 2 lenses again."""
    truth = simulate_population(n, tmp_path / "pop", seed=0, progress=False, **TINY)
    assert len(truth) == 2


@pytest.mark.parametrize("n", ["0", "-3", "2e9"])
def test_a_count_given_as_text_that_is_no_count_is_not_offered_as_the_number_to_give(n, tmp_path):
    """simulate_population("0", ...) said 'got '0' (a str: give the number itself, 0)', offering a
    count that is refused in turn (below 1, or over the most lenses): the hint is left out there."""
    with pytest.raises(ConfigTypeError) as info:
        simulate_population(n, tmp_path / "pop", seed=0, **TINY)
    assert str(info.value) == f"the number of lenses must be >= 1 (a whole number), got {n!r}"
    assert not (tmp_path / "pop").exists()


def test_simulate_lens_warns_of_unit_mistakes_once_as_the_population_does(tmp_path):
    """simulate_lens (public, one lens) gave no word of a field too small for the arcs (14 pixels of 0.074" reach
    0.518" from the centre, Einstein radii up to 0.5"), which simulate_population warns of (scale_warnings). It now
    gives the same ConfigWarning, once, at the caller's line; simulate_population still gives it once, not once a
    lens; the defaults give none."""
    small = {**TINY, "size": 14, "psf_size": 11}
    opts = PopulationOptions.from_kwargs(**small)
    [field] = population.scale_warnings(opts)
    assert "reaches only 0.518\"" in field and "arcs fall outside the image" in field
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lens = population.simulate_lens(np.random.default_rng(SEED), opts, population.make_psf(opts))
    said = [w for w in caught if issubclass(w.category, ConfigWarning)]
    assert [str(w.message) for w in said] == population.scale_warnings(opts) + population.steep_source_warnings(opts)
    assert all(w.filename == __file__ for w in said)  # said at the caller's line
    assert lens["image"].shape == (14, 14)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        simulate_population(2, tmp_path / "pop", seed=SEED, progress=False, **small)
    assert [str(w.message) for w in caught].count(field) == 1
    plain = PopulationOptions()
    assert population.scale_warnings(plain) == [] and population.steep_source_warnings(plain) == []


def test_simulate_lens_warns_of_the_psf_only_where_it_is_the_options_psf():
    """simulate_lens blurs the lens by the ``psf`` it is given; ``psf_size`` and ``psf_fwhm`` of its options make only
    the population's PSF (make_psf). With options of 16-pixel images and the default 21-pixel stamp, and a PSF of the
    caller's own of 11 pixels, it warned 'The PSF stamp (psf_size 21 pixels) is larger than the image (size 16 pixels):
    each lens's psf.fits is larger than its image.fits', of a PSF not used and a file not written. The field's warning
    is still given; the PSF's only where the PSF given is the one the options make."""
    from tinylens.simulate import gaussian_psf

    opts = PopulationOptions.from_kwargs(**{**TINY, "size": 16})
    field, stamp = population.scale_warnings(opts)  # the truth: both of the options
    assert "arcs fall outside the image" in field and "psf_size 21 pixels) is larger than the image" in stamp
    own = gaussian_psf(opts.psf_fwhm, opts.pixel_scale, 11)
    for psf, expected in ((own, [field]), (population.make_psf(opts), [field, stamp])):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lens = population.simulate_lens(np.random.default_rng(SEED), opts, psf)
        said = [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]
        assert said == expected + population.steep_source_warnings(opts)
        assert lens["image"].shape == (16, 16)


@pytest.mark.parametrize(("kind", "said"), [
    ("named pipe", "it is a named pipe (FIFO), not a file, so it is not read: delete it"),
    ("nested too deep", "nested too deeply to read"),
    ("a list", "it holds a JSON list, not the population's settings"),
    ("a folder", "it is a folder, not a file"),
])
def test_a_population_json_that_cannot_be_read_is_said_with_what_it_is(tmp_path, kind, said):
    """A population.json that was a named pipe (FIFO), nested too deeply to read, a JSON list or a
    folder was refused only as 'PATH cannot be read, so the population in OUTDIR is unknown'; the
    refusal now says what it is, as the other readers of tinylens's JSON files do."""
    import os

    if kind == "named pipe" and not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    if kind == "a folder" and os.name == "nt":
        pytest.skip("Windows refuses to open a folder as a file (PermissionError), saying nothing of a folder")
    record = tmp_path / population.POPULATION_RECORD
    if kind == "named pipe":
        os.mkfifo(record)
    elif kind == "a folder":
        record.mkdir()
    else:
        record.write_text("[" * 100000 if kind == "nested too deep" else "[1, 2]")
    with pytest.raises(OutputError) as caught:
        population.existing_population(tmp_path, population.population_settings(1, 0, PopulationOptions()))
    text = " ".join(str(caught.value).split())
    assert text.startswith(f"{record} cannot be read (") and said in text, text
    assert f"so the population in {tmp_path} is unknown" in text and "Choose a new output folder" in text, text


@pytest.mark.parametrize(("complete", "finished"), [("NaN", False), ("1", False), ('"true"', False), ('"false"', False),
                                                    ("true", True), ("false", False)])
def test_only_a_json_true_marks_a_stopped_runs_population_as_finished(tmp_path, complete, finished):
    """A hand-edited population.json whose "complete" was NaN (json reads it as a float nan, which
    Python takes as true), 1 or the text "true"/"false" had a stopped run say the folder held its
    finished population, though the run writes true there only once the truth tables and the
    template are written; only a JSON true is a finished population, anything else an unfinished one."""
    from tinylens.cli.simulate_population import stopped_hint

    pop = tmp_path / "pop"
    pop.mkdir()
    (pop / population.POPULATION_RECORD).write_text(f'{{"n": 3, "complete": {complete}}}')
    (pop / "lens_00000").mkdir()
    said = stopped_hint(pop, "tinylens simulate-population")
    if finished:
        assert said == f"{pop} holds its finished population as before (the run writes the same files again).", said
    else:
        assert said.startswith(f"{pop} holds an unfinished population (1 of 3 lenses, no truth table)"), said


@pytest.mark.parametrize("typed, shown", [("off # the PSF of the survey", "off"), ("007  # seven", "007"),
                                          ("2024-06-01 # a date", "2024-06-01")])
def test_a_text_option_typed_with_a_comment_is_refused_as_the_value_a_file_reads(tmp_path, typed, shown):
    """--set "psf_type=off # note" was refused as "got 'off # note'", the comment kept in the value, where a
    config file's line ``psf_type: off # note`` is read without it (YAML drops a comment after a space);
    --set now reads the value as the file does, and refuses it as the value written: 'got 'off''."""
    import yaml

    assert yaml.safe_load(f"psf_type: {typed}")["psf_type"] == yaml.safe_load(shown)  # the independent truth
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", "--set", f"psf_type={typed}"])
    assert result.exit_code == 2, result.output
    text = _text(result)
    assert f"psf_type must be 'gaussian' or 'moffat', got '{shown}'" in text, text
    assert "#" not in text.replace(str(tmp_path), ""), text


@pytest.mark.parametrize("function, arguments, message", [
    ("parse_settings", (["nokey"],), "--set expects KEY=VALUE (e.g. --set snr_range=[5,20]); got 'nokey'."),
    ("parse_settings", (["snr_range=[5, 20"],), "--set snr_range: cannot read the value '[5, 20'."),
    ("merge_options", ({"seed": 5}, {}), "--set seed: seed is not a population option; use --seed instead."),
    ("merge_options", ({"size": 60}, {"size": ("--size", 50)}), "--size 50 and --set size=60 disagree; give size once."),
], ids=["no_equals", "unreadable", "not_an_option", "disagree"])
def test_a_set_option_refused_is_a_config_value_error(function, arguments, message):
    """simulate-population's --set refusals (no '=', a value YAML cannot read, a key that is no
    option, one a named option contradicts) were the plain ConfigError, which ``except ValueError``
    missed though each is a wrong value: they are ConfigValueErrors (ValueErrors too), their
    messages word for word (the command's exit 2: the test below and those above)."""
    from tinylens.cli import simulate_population as command

    with pytest.raises(ConfigValueError) as info:
        getattr(command, function)(*arguments)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == message


@pytest.mark.parametrize("args, expected", [
    (["--pixel-scale", "-0.0"], "Error: --pixel-scale must be > 0, got -0.0"),
    (["--pixel-scale", "1e300"], "Error: --pixel-scale must be from 1e-150 to 1e+150"),
    (["--psf-fwhm", "nan"], "Error: --psf-fwhm must be finite, got nan"),
    (["--psf", "airy"], "Error: --psf must be 'gaussian' or 'moffat', got 'airy'"),
    (["--size", "4"], "Error: --size must be >= 8 pixels, got 4"),
    (["--set", "pixel_scale=-0.0"], "Error: pixel_scale must be > 0, got -0.0"),  # given as the key: said as it
])
def test_an_option_given_by_its_flag_is_refused_as_the_flag(tmp_path, args, expected):
    """--pixel-scale -0.0 was refused as 'pixel_scale must be > 0', a key the command line has no option
    of; a value given by a flag (--pixel-scale, --psf-fwhm, --psf, --size) is refused as that flag."""
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", *args])
    text = _text(result)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert text.startswith(expected), text
    assert not out.exists()


@pytest.mark.parametrize("args, given", [
    (["--psf", "size", "--size", "50"], "'size'"),
    (["--psf", "pixel_scale", "--pixel-scale", "0.1"], "'pixel_scale'"),
    (["--psf", "psf_fwhm", "--psf-fwhm", "0.2"], "'psf_fwhm'"),
    (["--psf", "it's size", "--size", "50"], '"it\'s size"'),
    (["--set", "psf_type=size", "--size", "50"], "'size'"),
], ids=["size", "pixel_scale", "psf_fwhm", "apostrophe", "set"])
def test_a_value_that_spells_an_option_key_is_shown_as_given(tmp_path, args, given):
    """--psf size --size 50 was refused as "--psf must be 'gaussian' or 'moffat', got '--size'": the key
    size, said as its flag --size, was replaced inside the value given too; the value is shown as typed."""
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", *args])
    text = _text(result)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert f"must be 'gaussian' or 'moffat', got {given}" in text, text
    assert not out.exists()


@pytest.mark.parametrize("zeropoint, power", [("1e300", "10^(4e+299)"), ("100000000000000000001", "10^(4e+19)")])
def test_a_huge_zeropoint_is_refused_with_its_power_of_ten_written_short(tmp_path, zeropoint, power):
    """--set zeropoint=1e300 was refused with lens galaxies 'of up to 10^4000000000000000210019...064.0 e-/s',
    the exponent 0.4 x (1e300 - 20) written out to a tenth, 300 digits of float noise; it is written as 4e+299."""
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", "--set", f"zeropoint={zeropoint}"])
    text = _text(result)
    assert result.exit_code == 2, result.output
    assert f"make lens galaxies of up to {power} e-/s, {power} electrons in exposure_time 300 s" in text, text
    assert "0" * 12 not in text, text
    assert not out.exists()


@pytest.mark.parametrize("written", ["65", "1000", "1.0e+20"], ids=["65", "1000", "float_1e20"])
def test_a_fit_nsub_no_fit_takes_is_refused_before_the_template_is_written(tmp_path, written):
    """--set fit_nsub=65 was taken, the lenses simulated and template.yaml written with dataset.nsub 65,
    which every fit of the survey then refused (dataset.nsub: should be less than or equal to 64); a
    fit_nsub the fit's schema refuses is now refused by name before anything is simulated, exit 2."""
    from pydantic import ValidationError

    from tinylens.config.schema import Config

    value = int(float(written))
    template = population.template_config(PopulationOptions())
    template["dataset"]["nsub"] = value
    with pytest.raises(ValidationError, match="nsub"):  # the fit's own check: no fit takes this template
        Config.model_validate(template)
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", "--set", f"fit_nsub={written}"])
    text = _text(result)
    assert result.exit_code == 2, result.output
    assert f"fit_nsub must be <= 64, got {value}" in text, text
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not out.exists()


def test_the_largest_fit_nsub_makes_a_template_the_fit_takes():
    """fit_nsub 64, the most the fit's dataset.nsub takes, is still an option, and its template validates."""
    from tinylens.config.schema import Config

    opts = PopulationOptions.from_kwargs(fit_nsub=64)
    assert Config.model_validate(population.template_config(opts)).dataset.nsub == 64


def test_an_unknown_set_key_beside_a_flag_is_offered_the_set_keys(tmp_path):
    """--size 20 --set sise=30 listed the known --set keys with size written '--size' (out of its order) and
    asked "Did you mean '--size' instead of 'sise'?", a flag, not a key --set takes: the refusal of an unknown
    key names the keys as --set takes them, whichever flags were given beside it."""
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "-q", "--size", "20", "--pixel-scale", "0.05",
                                      "--set", "sise=30"])
    text = _text(result)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    known = sorted(f.name for f in dataclasses.fields(PopulationOptions))
    assert f"known: {', '.join(known)}." in text, text
    assert "'size' instead of 'sise'" in text, text
    assert "--size" not in text and "--pixel-scale" not in text, text
    assert not out.exists()


NINES = "9" * 5000  # more digits than Python's int() reads from text (4300)


@pytest.mark.parametrize("args, said", [
    (["1e400"], "the number of lenses must be <= 1000000"),
    (["-1e400"], "the number of lenses must be >= 1"),
    ([NINES], "the number of lenses must be <= 1000000"),
    (["1", "--size", "1e400"], "--size must be an integer (like 100) of at most 2**53"),
    (["1", "--size", NINES], "--size must be an integer (like 100) of at most 2**53"),
    (["1", "--seed", "-1e400"], "the random seed (--seed) must be a non-negative integer"),
    (["1", "--seed", NINES], "the random seed (--seed) must be a non-negative integer of at most 4300 digits"),
], ids=["n_1e400", "n_minus_1e400", "n_5000_digits", "size_1e400", "size_5000_digits", "seed_minus_1e400",
        "seed_5000_digits"])
def test_a_whole_number_no_float_holds_is_shown_as_typed(tmp_path, args, said):
    """'simulate-population 1 out --size 1e400' was refused with 'got inf' (float() of what was typed, as
    was N, --size or --seed of 5000 digits, which int() does not read from text), and N 1e400 as not
    '>= 1 (a whole number)', which it is; each is refused by its own rule, the value shown as typed, cut
    where long, exit 2 and nothing made."""
    out = tmp_path / "pop"
    n, *rest = args
    result = CliRunner().invoke(app, ["simulate-population", n, str(out), "-q", *rest])
    text = _text(result)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    typed = args[-1]
    shown = typed if len(typed) <= 100 else f"{typed[:97]}... ({len(typed)} characters)"
    assert said in text and f"got {shown}" in text and "inf" not in text.replace("1e400", ""), text
    assert not out.exists()


def test_a_seed_of_1e400_is_the_whole_number_it_writes():
    """--seed 1e400 was refused as 'got inf'; a whole number written as a float is the integer it is
    (--seed 1e3 is 1000), and one no float holds too: 10^400, as its 401 digits written out are."""
    from tinylens.cli.simulate_population import whole_value
    from tinylens.survey.options import check_seed

    assert check_seed(whole_value("1e400")) == 10**400 and check_seed(whole_value("1e3")) == 1000
    assert type(check_seed(whole_value("1e400"))) is int


@pytest.mark.parametrize("typed", ["1e308", "1.5e308", "-1e308"])
def test_a_seed_a_float_holds_is_still_that_float_s_integer(typed):
    """--seed 1e308 was the integer of the float 1e308 (1000...0109790636... , 309 digits), as --seed
    1e23 is 99999999999999991611392; reading numbers no float holds (1e400) as the whole numbers
    they write made it 10^308 instead, so a population made with --seed 1e308 was refused when
    made again with the same command (another seed). A number a float holds is read as before."""
    from tinylens.cli.simulate_population import whole_value

    held = float(typed)
    assert math.isfinite(held) and int(held) != int(decimal.Decimal(typed))  # the float's integer is not the typed one
    assert whole_value(typed) == int(held) and type(whole_value(typed)) is int
    assert whole_value("1e23") == int(float("1e23")) == 99999999999999991611392
    assert whole_value("1e309") == 10**309  # no float holds it: the whole number it writes


def test_two_long_seeds_alike_in_their_first_digits_are_shown_apart():
    """Two seeds of 400 digits that part only at their last were both shown as '777...7... (400
    characters)' in the other-settings refusal, so it said 'seed X there, X now' of seeds that
    differ; each is now also shown from where they part, the two then unlike."""
    from tinylens.survey.options import PopulationOptions
    from tinylens.survey.population import population_settings, settings_differences

    old_seed, new_seed = int("7" * 399 + "1"), int("7" * 399 + "2")
    assert old_seed != new_seed  # independent truth: the seeds differ
    old = population_settings(1, old_seed, PopulationOptions(), "float32")
    new = population_settings(1, new_seed, PopulationOptions(), "float32")
    (line,) = settings_differences(old, new)
    shown_old, shown_new = line.removeprefix("seed ").removesuffix(" now").split(" there, ")
    assert shown_old != shown_new, line
    assert "7" * 100 not in line and "(400 characters)" in line and "'1'" in shown_old and "'2'" in shown_new, line
    (short,) = settings_differences(population_settings(1, 3, PopulationOptions(), "float32"),
                                    population_settings(1, 4, PopulationOptions(), "float32"))
    assert short == "seed 3 there, 4 now"


@pytest.mark.skipif(os.name == "nt", reason="a folder cannot be opened to flush it on Windows")
def test_a_lens_folder_moved_into_place_is_flushed_to_the_disk(tmp_path, monkeypatch):
    """write_lens's rename of the finished hidden folder into place reached the disk whenever the
    system chose: a crash after population.json said 'complete' could lose a lens folder (XFS, NFS)."""
    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    folder, new = tmp_path / "lens_0001", tmp_path / ".lens_0001.partial"
    folder.mkdir()
    (folder / "truth.json").write_text("old")
    new.mkdir()
    (new / "truth.json").write_text("new")
    flushed = []
    real = os.fsync

    def fsync(fd):
        info = os.fstat(fd)
        flushed.append((stat.S_ISDIR(info.st_mode), info.st_ino, (folder / "truth.json").read_text()))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    population.replace_folder(new, folder)
    assert (folder / "truth.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lens_0001"]
    assert (True, tmp_path.stat().st_ino, "new") in flushed  # the folder holding it, after the rename


@pytest.mark.parametrize("value", [None, 3, 1.5, ("moffat",)])
def test_a_psf_type_of_no_text_is_refused_by_name_not_by_a_crash_of_its_guess(value):
    """PopulationOptions(psf_type=None) (a public class, built directly) was refused as 'psf_type must be
    'gaussian' or 'moffat', got None' until the near-miss guess for a misspelt shape called .strip() on
    the value, an AttributeError ('NoneType' object has no attribute 'strip'). It is refused by name again,
    with no guess: no shape is near a value of no text."""
    from tinylens.survey.options import PopulationOptions

    assert not isinstance(value, str)  # the independent truth: no text, so no shape was misspelt
    with pytest.raises(ConfigValueError) as info:
        PopulationOptions(psf_type=value)
    text = str(info.value)
    assert f"psf_type must be 'gaussian' or 'moffat', got {value!r}" in text, text
    assert "did you mean" not in text, text
