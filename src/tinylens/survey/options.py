"""The options of a mock population (:class:`PopulationOptions`) and their checks, without JAX.

``tinylens simulate-population`` reads and checks its options here before it loads JAX, pandas and
:mod:`tinylens.simulate` (seconds): a mistyped option (``--set snr_rnage=5,20``, ``--psf gausian``,
``--size -3``) is refused at once. :mod:`tinylens.survey.population`, which simulates the lenses,
imports everything here; see its docstring for the distributions and what each check is for.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# MAX_EXACT_WHOLE: the largest whole number in size an integer option takes, the largest a float keeps
# exactly, as the checks compute with floats (``size x nsub``, a pixel scale times ``size``)
from tinylens.config.schema import MAX_EXACT_WHOLE, MAX_NSUB
from tinylens.errors import (BEYOND_FLOAT, ConfigError, ConfigTypeError, ConfigValueError, cut_value, did_you_mean,
                             no_float_holds, plural)
from tinylens.precision import get_precision
from tinylens.profiles.sersic_floors import N_MIN, SMOOTHING
from tinylens.simulate_limits import (
    MAX_ELECTRONS,
    MAX_GRID,
    coordinates_problem,
    grid_fits,
    is_whole,
    largest_psf_size,
    moffat_beta_problem,
    sky_sigma_problem,
)


#: The PSF shapes a population's ``psf_type`` takes.
PSF_TYPES = ("gaussian", "moffat")
#: Names a user may give an option by that are too far from its own for a near miss to point to it:
#: ``psf=moffat`` (``psf`` is as near ``psf_size`` and ``psf_fwhm``) means the PSF's shape, ``psf_type``.
OPTION_ALIASES = {"psf": "psf_type", "psf_shape": "psf_type", "psf_model": "psf_type", "psf_profile": "psf_type"}


@dataclass(frozen=True)
class PopulationOptions:
    """Observation set-up and parameter distributions (angles uniform; ranges uniform unless noted).

    Image units are e-/s; ``zeropoint`` (AB mag of 1 e-/s) and ``sky_sigma`` / ``exposure_time``
    are CSST g-band-like (2 x 150 s, sky ~22.5 mag/arcsec^2, read noise 5 e-).
    """

    pixel_scale: float = 0.074
    size: int = 100
    psf_type: str = "gaussian"
    psf_fwhm: float = 0.15
    psf_size: int = 21
    moffat_beta: float = 3.0
    exposure_time: float = 300.0
    sky_sigma: float = 0.03
    zeropoint: float = 25.7
    nsub: int = 8
    fit_nsub: int = 4
    #: Maximum per-pixel arc SNR, drawn log-uniformly.
    snr_range: tuple[float, float] = (5.0, 50.0)
    #: Detection floor on ``arc_snr_total``: a lens below it is drawn again (0: no floor).
    snr_total_min: float = 0.0
    theta_E_range: tuple[float, float] = (0.5, 2.0)
    lens_q_range: tuple[float, float] = (0.5, 1.0)
    lens_center_sigma: float = 0.05
    shear_max: float = 0.05
    #: Lens light: q and angle scatter about the mass's; apparent magnitude; half-light radius.
    lens_light_q_sigma: float = 0.05
    lens_light_phi_sigma_deg: float = 10.0
    lens_mag_range: tuple[float, float] = (20.0, 23.5)
    lens_re_range: tuple[float, float] = (0.5, 2.5)
    #: Share of the lens galaxy's flux in an exponential disc; (0, 0): no disc (the paper's lenses).
    lens_disc_fraction_range: tuple[float, float] = (0.0, 0.0)
    #: The disc's axis ratio and its half-light radius in units of the bulge's.
    lens_disc_q_range: tuple[float, float] = (0.2, 0.5)
    lens_disc_re_ratio_range: tuple[float, float] = (1.0, 2.5)
    source_re_range: tuple[float, float] = (0.1, 0.5)
    source_n_range: tuple[float, float] = (0.5, 2.5)
    source_q_range: tuple[float, float] = (0.4, 1.0)
    #: Largest source offset from the lens centre, in units of theta_E.
    source_offset_max: float = 0.5

    def __post_init__(self) -> None:
        problems = option_problems(self)
        if problems:
            raise ConfigValueError("; ".join(problems))

    @property
    def has_disc(self) -> bool:
        """Whether the lens galaxies have a disc besides the bulge."""
        return self.lens_disc_fraction_range[1] > 0

    @classmethod
    def from_kwargs(cls, **options: Any) -> PopulationOptions:
        """Options by name; an unknown name is a ConfigTypeError (as an unknown keyword argument is
        a TypeError) listing the known ones (and the one meant, for a near miss: ``snr_rnge``); a
        value of the wrong kind a ConfigTypeError, one that cannot make a population a
        ConfigValueError."""
        known = sorted(f.name for f in dataclasses.fields(cls))
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigTypeError(f"unknown {plural(len(unknown), 'population option')} {unknown}; known: {', '.join(known)}."
                              f"{did_you_mean(unknown, known, OPTION_ALIASES)}")
        defaults = cls()
        return cls(**{k: _coerce(k, v, getattr(defaults, k)) for k, v in options.items()})


def _coerce(name: str, value: Any, default: Any) -> Any:
    """``value`` as the type of ``default`` (a ``(low, high)`` pair of floats for ranges, in the order
    given: a set, whose order is its hashes', or a mapping, read by its keys, is no pair). A text is no
    number (``size="64"``, ``snr_range=("5", "20")``), as a config's ``"64"`` is none: the command
    line's values are read as YAML first (:func:`tinylens.cli.simulate_population.parse_settings`)."""
    if (isinstance(default, int) and not isinstance(default, bool) and isinstance(value, (int, np.integer))
            and not isinstance(value, bool) and abs(int(value)) > MAX_EXACT_WHOLE):
        raise _too_large_whole(name, value, default)
    try:
        if isinstance(default, tuple):
            if isinstance(value, (str, bytes, bytearray)):  # b"25" iterates as its character codes, (50.0, 53.0)
                raise TypeError
            if isinstance(value, (AbstractSet, Mapping)):  # a set iterates in hash order ({1.0, 0.6}: (0.6, 1.0)), a dict its keys
                raise TypeError
            pair = tuple(_number(x) for x in value)
            if len(pair) != 2:
                raise ValueError
            return pair
        if isinstance(default, bool) or isinstance(default, str):
            if not isinstance(value, type(default)):
                raise ValueError
            return value
        if isinstance(default, int):
            if isinstance(value, (bool, str, bytes, bytearray)):
                raise ValueError
            if float(value) != int(value):  # exact for an integer: one above 2**53 is refused before (_too_large_whole)
                raise ValueError
            return int(value)
        return _number(value)
    except (TypeError, ValueError, OverflowError):
        names = {bool: "true or false", str: "a string", int: "an integer", float: "a number"}
        kind = "a pair [low, high]" if isinstance(default, tuple) else names[type(default)]
        if _beyond_float(value):  # 400 digits written out: shown cut, and said why a whole number is refused
            items = value if isinstance(value, (list, tuple)) else [value]  # a text beside it ([abc, 1000...0]) is still of the wrong kind
            numbers_only = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in items)
            raise (ConfigValueError if numbers_only else ConfigTypeError)(f"population option {name} must be {kind} (like {default!r}), got "
                                   f"{cut_value(repr(value), 100)}{BEYOND_FLOAT}")
        raise _coerce_error(value, default)(f"population option {name} must be {kind} (like {default!r}), "
                                            f"got {value!r}") from None


def _too_large_whole(name: str, value: Any, default: int) -> ConfigValueError:
    """The refusal of a whole number over :data:`MAX_EXACT_WHOLE` in absolute value for the integer option
    ``name``: an integer still (``nsub=100000000000000000001`` was refused as no integer), too large
    for the float the checks compute with (shown cut, with why, where no float holds it at all). Not "in size":
    the command line says a value --size gave as --size, and the word too (``in --size``)."""
    beyond = BEYOND_FLOAT if no_float_holds(value) else ""
    return ConfigValueError(f"population option {name} must be an integer (like {default!r}) of at most 2**53 = "
                            f"{MAX_EXACT_WHOLE} in absolute value, got {_shown(value if isinstance(value, int) else int(value))}{beyond}")


def _beyond_float(value: Any) -> bool:
    """Whether ``value``, or a member of it where it is a list or tuple, is a whole number no float
    holds (``float`` raises OverflowError for it; YAML reads ``1e400`` as .inf, not as such a number)."""
    return any(no_float_holds(item) for item in (value if isinstance(value, (list, tuple)) else [value]))


def _coerce_error(value: Any, default: Any) -> type[ConfigError]:
    """The class of :func:`_coerce`'s refusal of ``value``: a ConfigValueError for a value of the
    option's kind that is wrong as it is (a number no whole one for an integer, 2.5 or nan; a list
    or tuple of numbers of another length than a pair's), a ConfigTypeError for one of another kind
    (a text for a number, a number for a text, a single number for a pair), as the rest of the API's
    arguments are refused."""
    real = lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool)
    if isinstance(default, tuple):
        listed = isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim == 1)  # a 0-d array is one number
        of_numbers = listed and all(real(v) for v in value)
        return ConfigValueError if of_numbers else ConfigTypeError
    if isinstance(default, int) and not isinstance(default, bool) and real(value):
        return ConfigValueError
    return ConfigTypeError


def _number(value: Any) -> float:
    """``value`` as a float; ``true``/``false`` and a text (``"0.1"``, which float reads) are not numbers."""
    if isinstance(value, (bool, str, bytes, bytearray)):
        raise TypeError
    return float(value)


#: Options that must be finite and > 0 (scales, widths, times, the sky noise).
POSITIVE = ("pixel_scale", "psf_fwhm", "exposure_time", "sky_sigma", "source_offset_max")
#: Scatters (normal sigmas), maxima and floors: finite and >= 0.
NON_NEGATIVE = ("lens_center_sigma", "lens_light_q_sigma", "lens_light_phi_sigma_deg", "shear_max", "snr_total_min")
#: The largest scatter (degrees) of the lens light's position angle about the mass's: position angles repeat
#: every 180 degrees, so a normal scatter of 180 is uniform to ~1e-8 already; 1e300 was no angle (a NaN e1).
MAX_PHI_SIGMA_DEG = 360.0
#: The shortest exposure (s): :func:`~tinylens.simulate.add_noise` divides by its square, which underflows a float64
#: below ~1e-154 (as MAX_SKY_SIGMA's square overflows); 1e-300 overflowed the noise map with numpy warnings first.
MIN_EXPOSURE_TIME = 1e-150
#: Points per pixel side a population's PSF is built on: a Gaussian is integrated over each pixel,
#: a Moffat averaged over ``11 x 11`` points (:func:`tinylens.simulate.moffat_psf`'s ``oversample``).
PSF_OVERSAMPLE = {"gaussian": 1, "moffat": 11}
#: The pixel scales (arcsec) whose squares are float64 numbers with room to spare (as MAX_SKY_SIGMA's).
PIXEL_SCALE_RANGE = (1e-150, 1e150)
#: Ranges of axis ratios: within (0, 1].
AXIS_RATIO_RANGES = ("lens_q_range", "source_q_range", "lens_disc_q_range")


def option_problems(opts: PopulationOptions) -> list[str]:
    """Every option value that cannot make a population, one sentence each naming the option."""
    problems = []
    for f in dataclasses.fields(opts):
        value = getattr(opts, f.name)
        numbers = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, float) and not np.isfinite(v) for v in numbers):
            problems.append(f"{f.name} must be finite, got {value}")
    if problems:
        return problems
    if opts.psf_type not in PSF_TYPES:
        # a misspelling (mofat, Gausian), not any word of a few letters in common (off, which YAML reads as false);
        # a value of no text (PopulationOptions(psf_type=None), 3) is refused as it is, with no guess
        typed = opts.psf_type.strip().lower() if isinstance(opts.psf_type, str) else None
        near = next(iter(difflib.get_close_matches(typed, PSF_TYPES, n=1, cutoff=0.75)), None) if typed else None
        problems.append(f"psf_type must be 'gaussian' or 'moffat', got {opts.psf_type!r}"
                        + (f" (did you mean '{near}'?)" if near else ""))
    if opts.psf_size < 1 or opts.psf_size % 2 == 0:
        problems.append(f"psf_size must be a positive odd number of pixels, got {opts.psf_size}")
    elif opts.psf_type in PSF_OVERSAMPLE and opts.psf_size > largest_psf_size(PSF_OVERSAMPLE[opts.psf_type]):
        problems.append(_psf_size_problem(opts.psf_size, opts.psf_type))
    if opts.size < 8:
        problems.append(f"size must be >= 8 pixels, got {opts.size}")
    elif opts.nsub >= 1 and not grid_fits((opts.size, opts.size), opts.nsub):
        problems.append(f"size x nsub must be <= {MAX_GRID}, got {opts.size} x {opts.nsub} = {opts.size * opts.nsub}: "
                        f"each lens is simulated on (size x nsub)^2 points, about 4 GB of memory at {MAX_GRID}; "
                        "lower size or nsub")
    problems += [f"{name} must be >= 1, got {getattr(opts, name)}" for name in ("nsub", "fit_nsub") if getattr(opts, name) < 1]
    if opts.fit_nsub > MAX_NSUB:  # template.yaml's dataset.nsub: 65 was written there, and every fit refused it
        problems.append(f"fit_nsub must be <= {MAX_NSUB}, got {opts.fit_nsub}: it is template.yaml's dataset.nsub, which a "
                        f"fit takes from 1 to {MAX_NSUB}")
    problems += [f"{name} must be > 0, got {getattr(opts, name)}" for name in POSITIVE if not getattr(opts, name) > 0]
    problems += [f"{name} must be >= 0, got {getattr(opts, name)}" for name in NON_NEGATIVE if not getattr(opts, name) >= 0]
    if opts.shear_max >= 1:
        problems.append(f"shear_max must be < 1 (a shear of 1 or more is not a lens), got {opts.shear_max}")
    if opts.lens_light_phi_sigma_deg > MAX_PHI_SIGMA_DEG:
        problems.append(f"lens_light_phi_sigma_deg must be <= {MAX_PHI_SIGMA_DEG:g} (degrees; a scatter of 180 already spreads "
                        f"the lens light's position angles uniformly), got {opts.lens_light_phi_sigma_deg:g}")
    if 0 < opts.exposure_time < MIN_EXPOSURE_TIME:
        problems.append(f"exposure_time must be >= {MIN_EXPOSURE_TIME:g} (seconds, CSST: 300; the Poisson noise's variance is "
                        f"computed with its square, which underflows a float64 below ~1e-154), got {opts.exposure_time:g}")
    if problem := sky_sigma_problem(opts.sky_sigma):
        problems.append(problem)
    if opts.pixel_scale > 0:
        problems += _pixel_scale_problems(opts.pixel_scale, opts.size)
    if not opts.moffat_beta > 1:
        problems.append(f"moffat_beta must be > 1 (a Moffat PSF of beta <= 1 has infinite flux), got {opts.moffat_beta}")
    elif problem := moffat_beta_problem(opts.moffat_beta):
        problems.append(f"moffat_beta: {problem}")
    return (problems + _range_problems(opts) + _radius_problems(opts) + _sersic_index_problems(opts)
            + _brightness_problems(opts) + _faintness_problems(opts))


def _pixel_scale_problems(pixel_scale: float, size: int) -> list[str]:
    """A positive ``pixel_scale`` outside :data:`PIXEL_SCALE_RANGE`, whose square (a pixel's area,
    which turns a Sersic's flux into its amplitude) over- or underflows a float64 (1e300 was an
    OverflowError, 1e-300 a ZeroDivisionError: tracebacks), or whose pixels' coordinates overflow
    the precision the lenses are simulated in (:func:`~tinylens.simulate.coordinates_problem`)."""
    low, high = PIXEL_SCALE_RANGE
    if not low <= pixel_scale <= high:
        return [f"pixel_scale must be from {low:g} to {high:g} (arcsec per pixel; its square, a pixel's area, scales the "
                f"fluxes and would over- or underflow), got {pixel_scale:g}"]
    problem = coordinates_problem(pixel_scale, (size, size), np.dtype(get_precision()))
    return [problem] if problem else []


def _brightness_problems(opts: PopulationOptions) -> list[str]:
    """The brightest lens galaxy (``lens_mag_range``'s low end) over the electrons a Poisson draw
    takes (:data:`~tinylens.simulate.MAX_ELECTRONS`) in ``exposure_time``: a zeropoint typed 2570
    for 25.70 overflowed (OverflowError, a traceback), and 257 was blamed on snr_range; or whose
    noise variance (flux / ``exposure_time``) is over :data:`MAX_NOISE_VARIANCE`: zeropoint 440 with
    exposure_time 1e-150 printed numpy's overflow warnings, then blamed the SNR search."""
    if not (opts.exposure_time > 0 and opts.lens_mag_range[0] <= opts.lens_mag_range[1]):
        return []  # refused by name already
    log_flux = 0.4 * (opts.zeropoint - opts.lens_mag_range[0])  # log10 of e-/s: 10 ** it would overflow
    log_electrons = log_flux + np.log10(opts.exposure_time)
    log_variance = log_flux - np.log10(opts.exposure_time)
    units = "zeropoint is the AB magnitude of 1 e-/s (CSST: 25.7), exposure_time in seconds (CSST: 300)"
    brightest = (f"zeropoint {opts.zeropoint:g} and lens_mag_range from {opts.lens_mag_range[0]:g} make lens galaxies of "
                 f"up to 10^{_power(log_flux)} e-/s")
    if log_electrons > np.log10(MAX_ELECTRONS):
        return [f"{brightest}, 10^{_power(log_electrons)} electrons in exposure_time {opts.exposure_time:g} s, over the "
                f"{MAX_ELECTRONS:g} a Poisson draw takes: {units}"]
    if log_variance > np.log10(MAX_NOISE_VARIANCE):
        return [f"{brightest}, whose Poisson noise's variance in exposure_time {opts.exposure_time:g} s (flux / "
                f"exposure_time) is 10^{_power(log_variance)}, over the {MAX_NOISE_VARIANCE:g} a float64 noise map holds: {units}"]
    return _bright_amplitude_problems(opts, log_flux)


def _power(exponent: float) -> str:
    """A power of ten's ``exponent`` as a message writes it: ``94.8``, or ``(4e+299)`` where written out to a
    tenth it would be 300 digits (zeropoint 1e300 made 10^4000...0021001904...064.0 e-/s)."""
    return f"{exponent:.1f}" if abs(exponent) < 1e6 else f"({exponent:.4g})"


#: The largest Poisson variance of a pixel (e-/s squared: flux / exposure_time): a float64 holds it
#: with room for the sum over an image's pixels (the arc's total SNR); 10^318 overflowed the noise map.
MAX_NOISE_VARIANCE = 1e300


#: The faintest lens galaxy flux (e-/s): a float64 holds it with room (10^-409.4 e-/s was 0).
MIN_LENS_FLUX = 1e-300


def _faintness_problems(opts: PopulationOptions) -> list[str]:
    """The faintest lens galaxy (``lens_mag_range``'s high end) under :data:`MIN_LENS_FLUX`: a
    zeropoint of -1000, or a lens_mag_range up to 1e300, made lens galaxies whose flux was 0, an
    image without them and a truth table whose lens magnitudes were blank (NaN), without a word;
    or (:func:`_amplitude_problems`) whose amplitude is under :data:`MIN_LENS_IE`."""
    if not opts.lens_mag_range[0] <= opts.lens_mag_range[1]:
        return []  # refused by name already
    log_flux = 0.4 * (opts.zeropoint - opts.lens_mag_range[1])  # log10 of e-/s: 10 ** it would underflow
    if log_flux >= np.log10(MIN_LENS_FLUX):
        return _amplitude_problems(opts, log_flux)
    return [f"zeropoint {opts.zeropoint:g} and lens_mag_range up to {opts.lens_mag_range[1]:g} make lens galaxies as faint "
            f"as 10^{log_flux:.4g} e-/s, under {MIN_LENS_FLUX:g}, near the smallest number a float64 holds (their flux "
            "would be 0 and their magnitude blank): zeropoint is the AB magnitude of 1 e-/s (CSST: 25.7), lens_mag_range AB magnitudes "
            "(CSST: 20 to 23.5)"]


#: The smallest amplitude ``Ie`` (e-/s per pixel at the half-light radius) of a lens galaxy's bulge or disc: a
#: normal float64 (they start at 2.2e-308), so the flux truth.csv gets back from it is the drawn one. zeropoint -726
#: (lens galaxies of 1e-300 e-/s, allowed) with lens_re_range up to 1e15 at pixel_scale 0.074 made Ie ~2e-334,
#: which is 0: a lens flux of 0 and a blank (NaN) lens magnitude in truth.csv, exit 0.
MIN_LENS_IE = 1e-307
#: The lens galaxies' Sersic indices (:func:`~tinylens.survey.population.draw_lens`): the bulge's, and the disc's where it has one.
BULGE_N, DISC_N = 4.0, 1.0


def _log10_unit_flux(n_sersic: float, radius_pixels: float) -> float:
    """log10 of the total flux of a Sersic of amplitude 1 and half-light radius ``radius_pixels``
    pixels, ``2 pi n e^b Gamma(2n) / b^2n R^2`` (``b`` the index's ``b_n``), in float64."""
    from scipy.special import gammaincinv, gammaln

    b = gammaincinv(2 * n_sersic, 0.5)
    log_c = np.log(2 * np.pi * n_sersic) + b + gammaln(2 * n_sersic) - 2 * n_sersic * np.log(b)
    return float(log_c / np.log(10) + 2 * np.log10(radius_pixels))


def _lens_radii(opts: PopulationOptions, end: int) -> dict[str, tuple[float, float]]:
    """The lens galaxies' half-light radii at one ``end`` of their ranges (0: the smallest, 1: the
    largest), by how a message names them: the bulge's (``lens_re_range``) and, with a disc, the
    disc's (times ``lens_disc_re_ratio_range``), each with its profile's Sersic index."""
    word = "from" if end == 0 else "up to"
    bulge, ratio = opts.lens_re_range[end], opts.lens_disc_re_ratio_range[end]
    radii = {f"lens_re_range {word} {bulge:g} arcsec": (bulge, BULGE_N)}
    if opts.has_disc and 0 < opts.lens_disc_re_ratio_range[0] <= opts.lens_disc_re_ratio_range[1]:
        radii[f"lens_re_range {word} {bulge:g} arcsec times lens_disc_re_ratio_range {word} {ratio:g} (the discs)"] = (
            bulge * ratio, DISC_N)
    return radii


def _faintest_shares(opts: PopulationOptions) -> dict[float, tuple[float, str, str]]:
    """The smallest share of a lens galaxy's flux its bulge and its disc get, by their Sersic index, each with how a
    message names it and what to change ('' for a bulge without a disc, which gets it all): the bulge's ``1 -`` lens_disc_fraction_range's
    high end, the disc's its low end or, from 0, the smallest share above 0 a uniform draw gives (2^-53 of the high
    end; one in 2^53 draws is a disc of no light). A range out of its own bounds is refused by name already."""
    low, high = opts.lens_disc_fraction_range
    if not (opts.has_disc and 0 <= low <= high < 1):
        return {BULGE_N: (1.0, "", ""), DISC_N: (1.0, "", "")}
    disc = low if low > 0 else high * 2.0**-53
    least = "" if low > 0 else f" (from 0: the smallest share above 0 a uniform draw up to {high:.15g} gives)"
    return {BULGE_N: (1 - high, f"lens_disc_fraction_range up to {high:.15g} leaves the bulges {1 - high:.3g} of it",
                      "lower lens_disc_fraction_range's high end"),
            DISC_N: (disc, f"lens_disc_fraction_range from {low:.15g} gives the discs {disc:.3g} of it{least}",
                     "raise lens_disc_fraction_range's low end")}


def _amplitude_problems(opts: PopulationOptions, log_flux: float) -> list[str]:
    """The faintest lens galaxy (10^``log_flux`` e-/s) spread over its largest bulge (``lens_re_range``'s high
    end over ``pixel_scale``) or disc (times ``lens_disc_re_ratio_range``'s), each with its smallest share of the
    flux (:func:`_faintest_shares`), with an amplitude under :data:`MIN_LENS_IE`; radii or pixel scales out of
    their own bounds are refused by name already."""
    scale, (low, bulge) = opts.pixel_scale, opts.lens_re_range
    if not (PIXEL_SCALE_RANGE[0] <= scale <= PIXEL_SCALE_RANGE[1] and 0 < low <= bulge <= MAX_RADIUS):
        return []
    radii, shares = _lens_radii(opts, 1), _faintest_shares(opts)
    problems = []
    for name, (radius, n_sersic) in radii.items():
        if radius / scale > MAX_RADIUS_PIXELS:
            continue  # refused by name already
        share, share_text, share_advice = shares[n_sersic]
        log_ie = log_flux + np.log10(share) - _log10_unit_flux(n_sersic, radius / scale)
        if log_ie < np.log10(MIN_LENS_IE):
            shared = f", {share_text}," if share_text else ","
            problems.append(
                f"zeropoint {opts.zeropoint:g} and lens_mag_range up to {opts.lens_mag_range[1]:g} make lens galaxies as "
                f"faint as 10^{log_flux:.4g} e-/s{shared} and {name} at pixel_scale {scale:g} spreads them over half-light "
                f"radii of up to {radius / scale:.3g} pixels: an amplitude (e-/s per pixel) of 10^{log_ie:.4g}, under "
                f"{MIN_LENS_IE:g}, near the smallest number a float64 holds (below it their flux is imprecise, then 0 "
                "with a blank magnitude): raise the zeropoint (the AB magnitude of 1 e-/s, CSST: 25.7)"
                f"{',' if share_advice else ' or'} lower lens_re_range (arcsec){f' or {share_advice}' if share_advice else ''}")
    return problems


#: The largest amplitude ``Ie`` (e-/s per pixel at the half-light radius) of a lens galaxy's bulge or disc: a float64
#: with room. zeropoint 40 at pixel_scale 1e150 (TINYLENS_PRECISION=float64) with lens_re_range from 1e-4 arcsec made
#: Ie infinite, refused as "truth['lens_light_list'][0]['Ie'] must be a finite number", naming no option.
MAX_LENS_IE = 1e300


def _bright_amplitude_problems(opts: PopulationOptions, log_flux: float) -> list[str]:
    """The brightest lens galaxy (10^``log_flux`` e-/s) in its smallest bulge (``lens_re_range``'s low end over
    ``pixel_scale``, floored at the profile's SMOOTHING) or disc (times ``lens_disc_re_ratio_range``'s) with an
    amplitude over :data:`MAX_LENS_IE` (the closed-form flux, without the profile's flat centre: up to ~8 times
    over at the floor); radii or pixel scales out of their own bounds are refused by name already."""
    scale, (low, high) = opts.pixel_scale, opts.lens_re_range
    if not (PIXEL_SCALE_RANGE[0] <= scale <= PIXEL_SCALE_RANGE[1] and 0 < low <= high):
        return []
    radii = _lens_radii(opts, 0)
    problems = []
    for name, (radius, n_sersic) in radii.items():
        log_ie = log_flux - _log10_unit_flux(n_sersic, max(radius, SMOOTHING) / scale)
        if log_ie > np.log10(MAX_LENS_IE):
            problems.append(
                f"zeropoint {opts.zeropoint:g} and lens_mag_range from {opts.lens_mag_range[0]:g} make lens galaxies of up "
                f"to 10^{log_flux:.4g} e-/s, and {name} at pixel_scale {scale:g} puts them in half-light radii of "
                f"{max(radius, SMOOTHING) / scale:.3g} pixels: an amplitude (e-/s per pixel) of ~10^{log_ie:.4g}, over the "
                f"{MAX_LENS_IE:g} a float64 holds with room: lower pixel_scale (arcsec per pixel, CSST: 0.074) or the "
                "zeropoint (the AB magnitude of 1 e-/s, CSST: 25.7), or raise lens_re_range (arcsec)")
    return problems


def _psf_size_problem(psf_size: int, psf_type: str) -> str:
    """Why a ``psf_type`` PSF of ``psf_size`` pixels is refused: its grid, ``psf_size`` x
    :data:`PSF_OVERSAMPLE` points on a side, is over :data:`~tinylens.simulate.MAX_GRID` (numpy's MemoryError, or
    swap, where 200001 pixels asked for ~300 GB)."""
    points = PSF_OVERSAMPLE[psf_type]
    largest = largest_psf_size(points)
    grid = f"(psf_size x {points})^2 points ({points} x {points} a pixel)" if points > 1 else "psf_size^2 points"
    return (f"psf_size must be <= {largest} pixels for a {psf_type} PSF, got {psf_size}: the PSF is built on {grid}, "
            f"at most {MAX_GRID} on a side as a lens is (memory)")


def _range_problems(opts: PopulationOptions) -> list[str]:
    """The ``*_range`` options that are not ``(low, high)`` with ``low <= high`` inside their bounds."""
    problems = []
    for f in dataclasses.fields(opts):
        if not f.name.endswith("_range"):
            continue
        lo, hi = getattr(opts, f.name)
        if f.name == "lens_disc_fraction_range":
            if not 0 <= lo <= hi < 1:
                problems.append(f"{f.name} must be (low, high) with 0 <= low <= high < 1, got {(lo, hi)}")
        elif f.name in AXIS_RATIO_RANGES:
            if not 0 < lo <= hi <= 1:
                problems.append(f"{f.name} must be (low, high) with 0 < low <= high <= 1 (axis ratios), got {(lo, hi)}")
        elif not 0 < lo <= hi:
            problems.append(f"{f.name} must be (low, high) with 0 < low <= high, got {(lo, hi)}")
    return problems


#: The largest half-light radius (arcsec) drawn: a unit-amplitude Sersic's flux, ~10 to 50 x R^2 for n from
#: 0.05 to 100, overflows float32 (the default precision) above R ~ 1e18, which wrote NaN or infinite fluxes
#: and magnitudes into truth.csv without a word; 1e15 leaves room, and is ~1e9 times the whole sky (1.3e6" around).
MAX_RADIUS = 1e15
#: The ranges of half-light radii (arcsec) bounded by :data:`MAX_RADIUS`.
RADIUS_RANGES = ("lens_re_range", "source_re_range")


def _over(opts: PopulationOptions, names: Sequence[str], bound: float, why: str) -> list[str]:
    """The ranges ``names`` of ``opts`` whose high end is over ``bound`` (``why``: what they are
    and why it is their bound); a range with low > high is refused by name already."""
    return [f"{name} must be (low, high) with high <= {bound:g} ({why}), got {(low, high)}"
            for name in names for low, high in [getattr(opts, name)] if low <= high and high > bound]


def _radius_problems(opts: PopulationOptions) -> list[str]:
    """Half-light radii over :data:`MAX_RADIUS`: ``lens_re_range`` or ``source_re_range`` up to more,
    or discs (``lens_re_range`` times ``lens_disc_re_ratio_range``) that large; or under the profile's floor."""
    problems = _over(opts, RADIUS_RANGES, MAX_RADIUS, "half-light radii in arcsec; a Sersic's flux overflows float32 "
                     "from ~1e18")
    bulge, (ratio_low, ratio) = opts.lens_re_range[1], opts.lens_disc_re_ratio_range
    if opts.has_disc and 0 < bulge <= MAX_RADIUS and ratio_low <= ratio and bulge * ratio > MAX_RADIUS:
        problems.append(f"lens_disc_re_ratio_range up to {ratio:g} and lens_re_range up to {bulge:g} make discs of half-light "
                        f"radius up to {bulge * ratio:.3g} arcsec, over the {MAX_RADIUS:g} allowed (a Sersic's flux overflows "
                        "float32 from ~1e18): lens_disc_re_ratio_range is the disc's radius in units of the bulge's (default 1 to 2.5)")
    return problems + _radius_floor_problems(opts) + _radius_pixel_problems(opts)


def _radius_floor_problems(opts: PopulationOptions) -> list[str]:
    """Half-light radii (``lens_re_range``, ``source_re_range``, the discs': ``lens_re_range`` times
    ``lens_disc_re_ratio_range``) from less than the profile's floor (:data:`~tinylens.profiles.light.sersic.SMOOTHING`,
    where a smaller radius is raised to it); ranges out of their own bounds are refused by name already."""
    why = "the profile is floored there, so a smaller drawn radius would be recorded in the truth but not be the image's"
    problems = [f"{name} must be (low, high) with low >= {SMOOTHING:g} (half-light radii in arcsec; {why}), got {(low, high)}"
                for name in RADIUS_RANGES for low, high in [getattr(opts, name)] if 0 < low <= high and low < SMOOTHING]
    (bulge, bulge_high), (ratio, ratio_high) = opts.lens_re_range, opts.lens_disc_re_ratio_range
    if opts.has_disc and SMOOTHING <= bulge <= bulge_high and 0 < ratio <= ratio_high and bulge * ratio < SMOOTHING:
        problems.append(f"lens_disc_re_ratio_range from {ratio:g} and lens_re_range from {bulge:g} make discs of half-light "
                        f"radius from {bulge * ratio:.3g} arcsec, under the profile's floor of {SMOOTHING:g} ({why}): "
                        "lens_disc_re_ratio_range is the disc's radius in units of the bulge's (default 1 to 2.5)")
    return problems


#: The largest half-light radius drawn, in pixels (a radius range's high end over ``pixel_scale``): a Sersic's
#: flux in the image's units (:func:`~tinylens.survey.population.sersic_flux`) is ``Ie c(n) (R / pixel_scale)^2``, ``c(n)`` from 6.3 (n = 0.05)
#: to 111 (n = :data:`MAX_SERSIC_N`), and a source's ``Ie`` is up to e^30 (:func:`~tinylens.survey.population.source_scale`'s search), so it
#: overflows a float64 from ~3.9e146 pixels (a lens galaxy's unit flux from ~2.8e153, its amplitude then 0):
#: pixel_scale 1e-140 with source_re_range [1e15, 1e15] wrote an infinite source flux, a magnitude of -inf, a lens
#: flux of 0 and a NaN lens magnitude into truth.csv, exit 0. 1e140 leaves room for the sums over components.
MAX_RADIUS_PIXELS = 1e140


def _radius_pixel_problems(opts: PopulationOptions) -> list[str]:
    """Half-light radii (``lens_re_range``, ``source_re_range``, the discs') over :data:`MAX_RADIUS_PIXELS`
    pixels of ``pixel_scale``; ranges or pixel scales out of their own bounds are refused by name already."""
    scale = opts.pixel_scale
    if not PIXEL_SCALE_RANGE[0] <= scale <= PIXEL_SCALE_RANGE[1]:
        return []
    highs = {name: high for name in RADIUS_RANGES for low, high in [getattr(opts, name)] if 0 < low <= high <= MAX_RADIUS}
    ratio_low, ratio = opts.lens_disc_re_ratio_range
    bulge = highs.get("lens_re_range", 0.0)
    if opts.has_disc and 0 < ratio_low <= ratio and bulge * ratio <= MAX_RADIUS and bulge * ratio > bulge:
        highs["lens_re_range x lens_disc_re_ratio_range (the discs' radii)"] = bulge * ratio
    why = (f"over the {MAX_RADIUS_PIXELS:g} allowed (a Sersic's flux in the image's units, per pixel, grows as its radius in "
           "pixels squared and overflows a float64 from ~4e146): pixel_scale is in arcsec per pixel (CSST: 0.074), "
           "half-light radii in arcsec")
    return [f"{name} up to {high:g} arcsec at pixel_scale {scale:g} makes half-light radii of up to {high / scale:.3g} "
            f"pixels, {why}" for name, high in highs.items() if high / scale > MAX_RADIUS_PIXELS]


#: The largest Sersic index drawn: up to it a unit-amplitude Sersic's total flux in float32 (the default
#: precision) is within 1e-4 of float64's; above it float32 loses the flux to rounding in ``log Gamma(2n) -
#: 2n log b_n`` (0.05% off at n = 1000, 1% at 1e4, 20 times too large at 1e6, negative at 3e6, infinite at
#: 1e7, NaN at 1e8), which wrote wrong or non-finite fluxes and magnitudes into truth.csv without a word.
#: Galaxies' indices are under ~10.
MAX_SERSIC_N = 100.0
#: The ranges of Sersic indices bounded by :data:`MAX_SERSIC_N` (the lens galaxies' are fixed: 4 and 1).
SERSIC_N_RANGES = ("source_n_range",)


def _sersic_index_problems(opts: PopulationOptions) -> list[str]:
    """Sersic index ranges (:data:`SERSIC_N_RANGES`) up to more than :data:`MAX_SERSIC_N`, or from
    less than the profile's floor (:data:`~tinylens.profiles.light.sersic.N_MIN`)."""
    problems = _over(opts, SERSIC_N_RANGES, MAX_SERSIC_N, "Sersic indices; galaxies' are under ~10, and a Sersic's flux "
                     "is wrong in float32 above it, NaN from ~1e8")
    for name in SERSIC_N_RANGES:
        low, high = getattr(opts, name)
        if 0 < low <= high and low < N_MIN:  # 0 or less: refused by name already
            problems.append(f"{name} must be (low, high) with low >= {N_MIN:g} (Sersic indices; the profile is floored "
                            f"there, so a smaller drawn index would be recorded in the truth but not be the image's), "
                            f"got {(low, high)}")
    return problems


def unresolved_problems(opts: PopulationOptions) -> list[str]:
    """Lens galaxies or sources smaller than the spacing of the points their light is sampled at (``pixel_scale /
    nsub``). The smallest bulge (``lens_re_range``'s low end) or disc (times ``lens_disc_re_ratio_range``'s) falls
    between the points, and the image holds none of its light, or on one, and holds many times its flux, while the
    truth table records the drawn magnitude (pixel_scale 1e9: a lens flux of 54 e-/s in truth.csv, 0 in the image).
    The smallest source (``source_re_range``'s low end), magnified, is sampled at few points: the arc's flux, and
    truth.csv's ``source.magnification``, are then off (against 16 times finer sampling, 8 lenses at nsub 1: by up
    to 45% at a quarter of the spacing, 5.5% at the spacing; 2 lenses of the default options: 27%, 6% at half of
    it, 1%). Refused by :func:`~tinylens.survey.population.simulate_population` and
    :func:`~tinylens.survey.population.simulate_lens` (:func:`refuse_unresolved`), not :func:`option_problems`: such options still draw lenses
    (:func:`~tinylens.survey.population.draw_lens`)."""
    spacing = opts.pixel_scale / opts.nsub
    sampled = (f"is under the spacing of the points each pixel's light is sampled at (pixel_scale {opts.pixel_scale:g} / "
               f"nsub {opts.nsub} = {spacing:.3g} arcsec)")
    fix = "or nsub, or lower pixel_scale (arcsec per pixel, CSST: 0.074)"
    problems = [f"{name} {sampled}: a lens galaxy that small falls between them, the image holding none of its light, or "
                "on one, many times its flux, and the truth table's magnitude would not be the image's: raise lens_re_range "
                f"(arcsec) {fix}" for name, (radius, _) in _lens_radii(opts, 0).items() if radius < spacing]
    if (source := opts.source_re_range[0]) < spacing:
        problems.append(f"source_re_range from {source:g} arcsec {sampled}: a source that small is sampled at too few "
                        "of them, so its arcs' flux, and the truth table's source.magnification, would be off (by tens "
                        f"of percent at a quarter of the spacing): raise source_re_range (arcsec) {fix}")
    return problems


def refuse_unresolved(opts: PopulationOptions) -> None:
    """A ConfigError of :func:`unresolved_problems`, where there are any."""
    if problems := unresolved_problems(opts):
        raise ConfigValueError("; ".join(problems))


def scale_warnings(opts: PopulationOptions) -> list[str]:
    """Sizes that are probably unit mistakes: Einstein radii under 2 pixels, a field too small for the arcs,
    a PSF stamp larger than the image or a PSF FWHM wider than it (:func:`psf_warnings`)."""
    theta, scale = opts.theta_E_range[1], opts.pixel_scale
    out = []
    if theta < 2 * scale:
        out.append(f"The largest Einstein radius (theta_E_range up to {theta:g}\") is under 2 pixels of pixel_scale "
                   f"{scale:g}\": the arcs are not resolved. pixel_scale is in arcsec per pixel (CSST: 0.074).")
    half = opts.size * scale / 2
    if half < 1.5 * theta:
        out.append(f"The image ({opts.size} pixels of {scale:g}\") reaches only {half:.3g}\" from the lens centre, "
                   f"under 1.5 x the largest Einstein radius ({theta:g}\"): arcs fall outside the image. "
                   "Raise size or pixel_scale, or lower theta_E_range.")
    return out + psf_warnings(opts)


#: Half-light radii, in units of the spacing of the points a source is sampled at (``pixel_scale / nsub``), that a
#: Sersic source of index ``n`` needs for its arcs' flux, and truth.csv's ``source.magnification``, to be within ~5%
#: of 16 times finer sampling: ``10^(STEEP_SOURCE_SLOPE (n - 1))``. Measured (3 lenses, nsub 1, the largest error):
#: n 1: 3.2% at 1 spacing; n 2.5: 28%, 8.7%, 2.8% at 1, 2, 4; n 4: 54%, 24%, 11%; n 8: 98%, 66%, 43%.
STEEP_SOURCE_SLOPE = 0.31


def steep_source_warnings(opts: PopulationOptions) -> list[str]:
    """The warning for a source too steep for the spacing it is sampled at: ``source_re_range``'s low end under
    ``10^(STEEP_SOURCE_SLOPE (n - 1))`` spacings (``pixel_scale / nsub``), ``n`` ``source_n_range``'s high end.
    One under a spacing is refused (:func:`unresolved_problems`), not warned of; ranges out of their bounds are
    refused by name already. Warned of by :func:`~tinylens.survey.population.simulate_population`, not :func:`scale_warnings` (unit mistakes)."""
    spacing, (radius, radius_high), (n_low, n_high) = opts.pixel_scale / opts.nsub, opts.source_re_range, opts.source_n_range
    if not (0 < radius <= radius_high and 0 < n_low <= n_high <= MAX_SERSIC_N and radius >= spacing):
        return []
    needed = 10 ** (STEEP_SOURCE_SLOPE * (n_high - 1))
    if radius >= needed * spacing:
        return []
    fits = needed * spacing <= MAX_RADIUS  # n 100 needs ~1e30 spacings: only a lower index helps
    raise_radius = f"Raise source_re_range (arcsec) to {needed * spacing:.3g} or nsub, or " if fits else ""
    or_more = ", or pixel_scale (arcsec per pixel, CSST: 0.074)" if fits else ""
    return [f"source_re_range from {radius:g} arcsec with source_n_range up to {n_high:g} is under the {needed:.3g} "
            f"spacings a source that steep needs (pixel_scale {opts.pixel_scale:g} / nsub {opts.nsub} = {spacing:.3g} arcsec "
            f"apart, {needed * spacing:.3g} arcsec): its bright centre is sampled at too few points, so its arcs' flux, and the "
            "truth table's source.magnification, may be off by more than ~5% (against 16 times finer sampling: n 4 at 4 "
            f"spacings by up to 11%, n 8 by 43%). {raise_radius}{'l' if fits else 'L'}ower source_n_range (galaxies' are under ~10){or_more}."]


def psf_warnings(opts: PopulationOptions) -> list[str]:
    """A PSF probably not meant: its stamp (``psf_size``) larger than the image (``size``), its
    FWHM wider than the image (``psf_fwhm`` typed in pixels or milliarcsec?) or, where not, more
    than half the stamp's width (:func:`psf_cut_warning`). Made all the same."""
    out = []
    if opts.psf_size > opts.size:
        out.append(f"The PSF stamp (psf_size {opts.psf_size} pixels) is larger than the image (size {opts.size} "
                   "pixels): each lens's psf.fits is larger than its image.fits. Lower psf_size or raise size.")
    width = opts.size * opts.pixel_scale
    if opts.psf_fwhm > width:
        out.append(f"The PSF's FWHM (psf_fwhm {opts.psf_fwhm:g}\") is wider than the image ({opts.size} pixels of "
                   f"{opts.pixel_scale:g}\" = {width:.3g}\"): each lens is blurred over the whole image. psf_fwhm is "
                   "in arcsec (CSST: 0.15).")
    elif cut := psf_cut_warning(opts):
        out.append(cut)
    return out


def psf_cut_warning(opts: PopulationOptions) -> str | None:
    """The warning for a PSF whose FWHM is more than half its stamp's width (``psf_size`` pixels
    of ``pixel_scale``): the stamp ends within one FWHM of the centre, where a Gaussian still has
    1/16 of its peak and a Moffat (wider wings) more, and the cut PSF, made to sum to one, is
    narrower than ``psf_fwhm`` says; None where the stamp holds it."""
    stamp = opts.psf_size * opts.pixel_scale
    if not 2 * opts.psf_fwhm > stamp * (1 + 1e-9):  # 1e-9: 21 x 0.074 / 2 is not 0.777
        return None
    needed = math.ceil(2 * opts.psf_fwhm / opts.pixel_scale * (1 - 1e-9))
    needed += 1 - needed % 2  # the smallest odd stamp twice the FWHM wide
    also = " (and size with it)" if needed > opts.size else ""
    return (f"The PSF's FWHM (psf_fwhm {opts.psf_fwhm:g}\") is more than half the PSF stamp's width ({opts.psf_size} "
            f"pixels of {opts.pixel_scale:g}\" = {stamp:.3g}\"): the stamp cuts the {opts.psf_type} PSF off within one "
            f"FWHM of its centre, so the lenses are blurred by a narrower PSF than psf_fwhm says. Raise psf_size to "
            f"{needed} or more{also}, or lower psf_fwhm (arcsec; CSST: 0.15).")


def population_folder(outdir: Any) -> Path:
    """``outdir`` as a Path, ``~`` expanded, else a ConfigError naming simulate_population's
    ``outdir``: no str or path (None and 5 gave Path's TypeError), an empty or blank text (``""``
    is the current folder, where the population was written), a ``~user`` not known here
    (expanduser's RuntimeError). The command line refuses these as OUTDIR already."""
    name = "simulate_population's outdir (the output folder)"
    if not isinstance(outdir, (str, os.PathLike)):
        raise ConfigTypeError(f"{name} must be a folder (a str or pathlib.Path), got {type(outdir).__name__} {outdir!r}")
    if isinstance(outdir, str) and not outdir.strip():
        raise ConfigValueError(f"{name} is an empty or blank path ({outdir!r}: an unset variable?); give a folder name "
                               "('' would be the current folder)")
    try:
        return Path(outdir).expanduser()
    except RuntimeError:
        from tinylens.config.loader import unknown_home

        raise ConfigValueError(f"{name} {outdir}: {unknown_home(outdir)}") from None


#: Most digits of a seed: the most Python writes out (its int_max_str_digits), as population.json records it.
MAX_SEED_DIGITS = 4300
#: Most lenses in one population: each takes seconds to simulate and ~0.2 MB of disk at the default size.
MAX_LENSES = 1_000_000


def _shown(value: Any) -> str:
    """``repr(value)`` for a message, cut where long (:func:`~tinylens.errors.cut_value`): a count or
    seed of 400 digits is shown by its first digits and its length, not whole; a number given on the
    command line as it was typed there (``1e400``: its ``repr``). An integer of more digits than
    Python writes out (:data:`MAX_SEED_DIGITS`, where ``repr`` raises ValueError) by its size."""
    try:
        return cut_value(repr(value), 100, value)
    except ValueError:
        return f"an integer of about {round(int(value).bit_length() * math.log10(2)):,} digits"


def check_count_and_seed(n: Any, seed: Any, seed_name: str = "the random seed (--seed)") -> tuple[int, int]:
    """``(n, seed)`` as integers, else a ConfigError: 1 to :data:`MAX_LENSES` lenses, a non-negative
    seed (named ``seed_name`` in the message, as :func:`check_seed` names it). An ``n`` that is no
    number (a text, None, True) is a :class:`~tinylens.errors.ConfigTypeError`, one that is no whole
    number in that range (2.5, nan, 0) a :class:`~tinylens.errors.ConfigValueError`, as the rest of
    the API's arguments are; a text that reads as one ("3") too, as a seed "3" is: it is no number
    (is_whole reads it as 3)."""
    if isinstance(n, (str, bytes)):  # is_whole reads "3" as 3; other values (np.array(3), Decimal(3)) as before
        spelt = _spelt_number(n)
        usable = is_whole(spelt) and 1 <= int(spelt) <= MAX_LENSES  # '0' or '-3' is no count to give instead
        hint = f" (a {type(n).__name__}: give the number itself, {int(spelt)})" if usable else ""
        raise ConfigTypeError(f"the number of lenses must be >= 1 (a whole number), got {_shown(n)}{hint}")
    if not is_whole(n) or int(n) < 1:
        error = ConfigValueError if isinstance(n, numbers.Real) and not isinstance(n, bool) else ConfigTypeError
        raise error(f"the number of lenses must be >= 1 (a whole number), got {_shown(n)}")
    if int(n) > MAX_LENSES:
        raise ConfigValueError(f"the number of lenses must be <= {MAX_LENSES} (each takes seconds to simulate and ~0.2 MB "
                          f"of disk at the default size: a million take weeks and ~200 GB), got {_shown(n)}")
    return int(n), check_seed(seed, seed_name)


def _spelt_number(value: Any) -> float | None:
    """The number a text (or bytes) such as ``"3"`` or ``"2.0"`` spells, else None."""
    if not isinstance(value, (str, bytes)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def check_seed(seed: Any, name: str = "the random seed (--seed)") -> int:
    """``seed`` as an integer, else a ConfigError naming it as ``name`` (the command-line flag by
    default; a Python function's argument where one is called): a random seed is a non-negative integer.
    A seed that is no integer (2.5, "3", True) is a :class:`~tinylens.errors.ConfigTypeError`, a
    negative one a :class:`~tinylens.errors.ConfigValueError`, as the rest of the API's arguments are."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigTypeError(f"{name} must be a non-negative integer, got {_shown(seed)}")
    if seed < 0:
        raise ConfigValueError(f"{name} must be a non-negative integer, got {_shown(seed)}")
    if seed >= 10**MAX_SEED_DIGITS:
        raise ConfigValueError(f"{name} must be a non-negative integer of at most {MAX_SEED_DIGITS} digits (population.json "
                               f"records it), got {_shown(seed)}")
    return int(seed)
