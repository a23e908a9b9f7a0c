"""A CSST-like mock population of galaxy-galaxy strong lenses (the paper's section 3.1).

Each lens is an SIE + external shear deflector with a de Vaucouleurs (Sersic ``n = 4``) lens
galaxy and an elliptical Sersic source, simulated with :func:`tinylens.simulate.simulate_images`
(``nsub = 8``), convolved with a Gaussian or Moffat PSF and given sky + Poisson noise::

    from tinylens.survey.population import simulate_population
    truth = simulate_population(100, "mocks", seed=1)

writes ``mocks/lens_00000/{image,noise,psf}.fits`` and ``truth.json`` (its true values, seed,
precision and options) per lens,
``mocks/truth.csv`` / ``truth.parquet`` (one row per lens, columns named like tinylens fit
outputs: ``lens_mass.0.theta_E``, ``lens_mass.0.q``, ``source.mag``, ...), ``population.json``
(the options) and ``template.yaml`` (Table 1 priors) for ``tinylens survey``.

**Signal-to-noise.** As in the paper's Figure 1, ``arc_snr_max`` is the *maximum* per-pixel SNR
of the lensed arc: ``max_p S_p / sigma_p`` with ``S`` the noise-free, PSF-convolved lensed
source and ``sigma`` the written noise map (sky + Poisson noise of lens and source light). For
each lens a target SNR is drawn log-uniformly in ``snr_range`` and the source amplitude is
solved for it exactly; the source magnitude follows. ``arc_snr_total`` is
``sum S / sqrt(sum sigma^2)`` over the pixels with ``S > sigma``.

**Detection floor.** ``snr_total_min`` (default 0: none) keeps only lenses a survey would
detect: a lens whose ``arc_snr_total`` falls below it is drawn again, all of it, from the same
random stream. Cao et al. (2024, arXiv:2312.06239), whose CSST population the paper's mocks come
from, give the detectable lenses' lensed-image SNR as ~20 to ~1000, hence ``snr_total_min=20``
for a population of comparable signal-to-noise.

**Bulge and disc.** With ``lens_disc_fraction_range`` above ``(0, 0)`` (the default, the
paper's pure de Vaucouleurs lens) each lens galaxy also has an exponential disc (Sersic
``n = 1``) of the same centre holding that share of the galaxy's flux, flatter than the bulge
(``lens_disc_q_range``), larger (``lens_disc_re_ratio_range`` times the bulge's radius) and
with its own position angle (the same scatter about the mass's as the bulge's), so isophotes
change shape and twist with radius as in SLACS J1032+5322. ``template.yaml`` keeps the
paper's one-Sersic lens light; fit such populations with a richer lens light (two MGEs,
``examples/mocks/template_2mge.yaml``).

**Strong lensing.** The source centre is drawn uniformly within ``source_offset_max x theta_E``
of the lens centre and redrawn until it has at least two images (counted by mapping a fine grid
of image-plane triangles to the source plane, :func:`count_images`).

**One population per folder.** ``population.json`` (``n``, ``seed``, the precision and the options) is written
before any lens, with ``"complete": false`` until the truth tables and ``template.yaml`` are
written. A folder whose ``population.json`` records other settings is refused (OutputError), so
an interrupted run never leaves lenses and truth tables of two populations side by side; the
same settings again regenerate the same files. Each lens folder is written whole (into a hidden
folder, then moved into place), so a stopped run leaves no lens missing a file. A folder that holds files but no
``population.json`` (the user's own, a ``tinylens demo``'s) is refused too: nothing in it is
overwritten.

**Checks.** :func:`option_problems` refuses option values that cannot make a population
(non-finite numbers, negative scatters or maxima, ``low > high``, a ``sky_sigma`` whose square
overflows, a ``pixel_scale`` whose pixels' coordinates overflow, an image whose supersampled
grid, ``size x nsub`` points on a side, or a PSF whose grid, ``psf_size`` times its
:data:`PSF_OVERSAMPLE` on a side, would not fit in a laptop's memory, lens galaxies brighter
than a Poisson draw takes in the exposure: a zeropoint typed 2570, or so faint (or spread over so
many pixels) that their flux is 0, or so small in pixels that their amplitude overflows, half-light radii over :data:`MAX_RADIUS` (or :data:`MAX_RADIUS_PIXELS` pixels), whose fluxes overflow,
Sersic indices over :data:`MAX_SERSIC_N`, whose fluxes are wrong, then infinite or NaN);
:func:`unresolved_problems` refuses lens galaxies or sources smaller than the spacing of the points their light is
sampled at, ``pixel_scale / nsub`` (the image would not hold the light the truth records);
:func:`scale_warnings`
warns (ConfigWarning) when the Einstein radii span under 2 pixels or the field is too small
for the arcs (a pixel scale typed in milliarcseconds, a size too small), or the PSF's stamp is
larger than the image or its FWHM wider than it, and :func:`steep_source_warnings` when a source is too steep
for the spacing it is sampled at; such a population is still made. The options and these checks live in
:mod:`tinylens.survey.options`, which loads no JAX: ``tinylens simulate-population`` refuses an option's mistake
before it loads this module.

Lens ``i`` uses its own random stream (``SeedSequence(seed).spawn``), so a lens does not depend
on how many were simulated; the same seed and options give identical files (at the same
precision, :mod:`tinylens.precision`: float32 by default).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import yaml
from scipy import optimize

from tinylens.atomic import write_atomic
from tinylens.errors import DISK_FULL, POPULATION_RERUN, ConfigValueError, ConfigWarning, OutputError, cut_value, listed
from tinylens.inference.progress import PLAIN_EVERY_S, PlainLines, clock_time, draws_live
from tinylens import lens_equation
from tinylens.jsonfile import read_json_file, unreadable_reason
from tinylens.precision import get_precision
from tinylens.profiles.ellipticity import e1e2_to_qphi, qphi_to_e1e2, shear_to_polar
from tinylens.profiles.light.sersic import total_flux
from tinylens.results.derived import magnitude
from tinylens.results.tables import (
    ensure_writable,
    missing_folders,
    remove_made_folders,
    write_csv,
    write_json,
    write_table,
)
from tinylens.results.truth import TRUTH_FILE, flat_params
from tinylens.simulate import add_noise, gaussian_psf, model_spec_from_truth, moffat_psf, simulate_images
from tinylens.survey.options import (  # noqa: F401 (the checks and their limits: also imported from here)
    MAX_LENS_IE,
    MAX_LENSES,
    MAX_RADIUS,
    MAX_RADIUS_PIXELS,
    MAX_SERSIC_N,
    MIN_LENS_IE,
    PSF_OVERSAMPLE,
    SMOOTHING,
    PopulationOptions,
    check_count_and_seed,
    check_seed,
    option_problems,
    population_folder,
    psf_cut_warning,
    psf_warnings,
    refuse_unresolved,
    scale_warnings,
    steep_source_warnings,
    unresolved_problems,
)

__all__ = ["PopulationOptions", "components", "simulate_population", "draw_lens", "simulate_lens", "count_images", "lens_name"]

#: The record of a population in its folder (options, seed, whether complete); it marks the folder as
#: one of ``tinylens simulate-population``'s.
POPULATION_RECORD = "population.json"

#: The simulated model without a disc; :func:`components` gives a population's own.
COMPONENTS: dict[str, list[str]] = {
    "lens_mass_list": ["SIE", "SHEAR"],
    "lens_light_list": ["Sersic"],
    "source_light_list": ["Sersic"],
}
#: The mass and the source alone: the lensed source without the lens galaxy.
LENSED_SOURCE = {"lens_mass_list": COMPONENTS["lens_mass_list"], "source_light_list": COMPONENTS["source_light_list"]}


def _lensed_source_truth(truth: Mapping[str, Any]) -> dict[str, Any]:
    return {"lens_mass": truth["lens_mass"], "source_light": truth["source_light"]}


FILES = ("image.fits", "noise.fits", "psf.fits", TRUTH_FILE)


def components(opts: PopulationOptions) -> dict[str, list[str]]:
    """The profiles simulated: SIE + shear, a Sersic bulge (and a Sersic disc), a Sersic source."""
    lens_light = ["Sersic", "Sersic"] if opts.has_disc else ["Sersic"]
    return {**COMPONENTS, "lens_light_list": lens_light}


def lens_name(index: int, n: int) -> str:
    """Folder name of lens ``index`` of ``n``: zero-padded so names sort in order."""
    return f"lens_{index:0{max(5, len(str(n - 1)))}d}"


def make_psf(opts: PopulationOptions) -> np.ndarray:
    """The population's PSF kernel (unit sum)."""
    if opts.psf_type == "moffat":
        return moffat_psf(opts.psf_fwhm, opts.pixel_scale, opts.psf_size, beta=opts.moffat_beta,
                          oversample=PSF_OVERSAMPLE["moffat"])
    return gaussian_psf(opts.psf_fwhm, opts.pixel_scale, opts.psf_size)


# -- parameters -------------------------------------------------------------------------------
def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def _e1e2(q: float, phi_rad: float) -> tuple[float, float]:
    e1, e2 = qphi_to_e1e2(q, phi_rad)
    return float(e1), float(e2)


def sersic_flux(ie: float, r_sersic: float, n_sersic: float, pixel_scale: float) -> float:
    """Total flux (data units) of a Sersic of amplitude ``ie`` per pixel (derived.py's convention)."""
    unit = total_flux({"R_sersic": jnp.asarray(r_sersic), "n_sersic": jnp.asarray(n_sersic)})
    return float(ie * float(unit[0]) / pixel_scale**2)


def draw_lens(rng: np.random.Generator, opts: PopulationOptions) -> dict[str, list[dict[str, float]]]:
    """True parameters of one lens, the source at the origin and both amplitudes to be set."""
    theta_e = _uniform(rng, opts.theta_E_range)
    q, phi = _uniform(rng, opts.lens_q_range), rng.uniform(0, np.pi)
    cx, cy = (float(v) for v in rng.normal(0.0, opts.lens_center_sigma, 2))
    gamma, phi_g = rng.uniform(0, opts.shear_max), rng.uniform(0, np.pi)
    g1, g2 = gamma * np.cos(2 * phi_g), gamma * np.sin(2 * phi_g)
    q_l = float(np.clip(q + rng.normal(0, opts.lens_light_q_sigma), 0.3, 1.0))
    phi_l = phi + np.radians(rng.normal(0, opts.lens_light_phi_sigma_deg))
    re_l, mag_l = _uniform(rng, opts.lens_re_range), _uniform(rng, opts.lens_mag_range)
    lens_flux = 10 ** (-0.4 * (mag_l - opts.zeropoint))
    q_s, phi_s = _uniform(rng, opts.source_q_range), rng.uniform(0, np.pi)
    e1, e2 = _e1e2(q, phi)
    le1, le2 = _e1e2(q_l, phi_l)
    se1, se2 = _e1e2(q_s, phi_s)
    source = {"R_sersic": _uniform(rng, opts.source_re_range), "n_sersic": _uniform(rng, opts.source_n_range),
              "e1": se1, "e2": se2, "center_x": cx, "center_y": cy, "Ie": 1.0}
    # the disc's numbers are drawn last, so a population without one is drawn as before
    f_disc = _uniform(rng, opts.lens_disc_fraction_range) if opts.has_disc else 0.0
    bulge_flux = (1 - f_disc) * lens_flux
    lens_light = [{"R_sersic": re_l, "n_sersic": 4.0, "e1": le1, "e2": le2, "center_x": cx, "center_y": cy,
                   "Ie": float(bulge_flux / sersic_flux(1.0, re_l, 4.0, opts.pixel_scale))}]
    if opts.has_disc:
        q_d, re_d = _uniform(rng, opts.lens_disc_q_range), re_l * _uniform(rng, opts.lens_disc_re_ratio_range)
        de1, de2 = _e1e2(q_d, phi + np.radians(rng.normal(0, opts.lens_light_phi_sigma_deg)))
        ie_d = f_disc * lens_flux / sersic_flux(1.0, re_d, 1.0, opts.pixel_scale)
        lens_light.append({"R_sersic": re_d, "n_sersic": 1.0, "e1": de1, "e2": de2, "center_x": cx, "center_y": cy,
                           "Ie": float(ie_d)})
    return {
        "lens_mass": [
            {"theta_E": theta_e, "e1": e1, "e2": e2, "center_x": cx, "center_y": cy},
            {"gamma1": float(g1), "gamma2": float(g2)},
        ],
        "lens_light": lens_light,
        "source_light": [source],
    }


def count_images(truth: Mapping[str, Any], beta: tuple[float, float], step: float | None = None) -> int:
    """Number of images of the source-plane point ``beta`` under ``truth['lens_mass']``
    (:func:`tinylens.lens_equation.count_images` within ``3 theta_E`` of the lens centre, on a
    grid of spacing ``step``, default ``theta_E / 100``)."""
    sie = truth["lens_mass"][0]
    theta_e, cx, cy = sie["theta_E"], sie["center_x"], sie["center_y"]
    n_grid = 601 if step is None else int(round(6 * theta_e / step)) + 1  # fixed shape: eager ops compile once
    spec, _ = model_spec_from_truth(LENSED_SOURCE, _lensed_source_truth(truth))
    return lens_equation.count_images(spec, jnp.zeros(0), beta, (cx, cy), 3 * theta_e, n_grid)


def place_source(rng: np.random.Generator, truth: dict[str, Any], opts: PopulationOptions, tries: int = 200) -> int:
    """Move the source (in place) to a random multiply imaged position; return its image count. A
    ConfigError naming the options that drew the lens where none is found (a RuntimeError, a
    traceback, for source_offset_max=1e300, theta_E_range=[1e300, 1e300] or lens_center_sigma=1e300)."""
    sie = truth["lens_mass"][0]
    radius = opts.source_offset_max * sie["theta_E"]
    for _ in range(tries):
        r, a = radius * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        beta = (sie["center_x"] + r * np.cos(a), sie["center_y"] + r * np.sin(a))
        n_images = count_images(truth, beta)
        if n_images >= 2:
            truth["source_light"][0].update(center_x=float(beta[0]), center_y=float(beta[1]))
            return n_images
        radius *= 0.9
    raise ConfigValueError(f"no source position with two or more images found in {tries} tries for a lens of theta_E "
                      f"{sie['theta_E']:.3g}\" centred at ({sie['center_x']:.3g}\", {sie['center_y']:.3g}\"), the "
                      f"source within {opts.source_offset_max:g} x theta_E of it: check theta_E_range (arcsec), "
                      "source_offset_max (in units of theta_E, default 0.5) and lens_center_sigma (arcsec).")


# -- images and SNR ---------------------------------------------------------------------------
def arc_snr(arc: np.ndarray, lens: np.ndarray, opts: PopulationOptions) -> tuple[float, float]:
    """``(max, total)`` SNR of the arc ``arc`` on top of ``lens`` (see the module docstring)."""
    sigma = noise_sigma(arc + lens, opts)
    snr = arc / sigma
    used = snr > 1
    total = float(arc[used].sum() / np.sqrt((sigma[used] ** 2).sum())) if used.any() else 0.0
    return float(snr.max()), total


def noise_sigma(image: np.ndarray, opts: PopulationOptions) -> np.ndarray:
    """The 1-sigma noise map :func:`tinylens.simulate.add_noise` gives ``image``."""
    return np.sqrt(opts.sky_sigma**2 + np.clip(image, 0, None) / opts.exposure_time)


def source_scale(arc: np.ndarray, lens: np.ndarray, target: float, opts: PopulationOptions) -> float:
    """Factor ``s`` such that the arc ``s * arc`` has maximum per-pixel SNR ``target``, from e^-30 to e^30; a
    ConfigError naming the source's Sersic ranges where even e^-30 is over ``target``, else the noise's options."""
    if not arc.max() > 0:
        raise ConfigValueError(f"the lensed source puts no light in any pixel of the {opts.size} x {opts.size} image of "
                          f"{opts.pixel_scale:g}\" pixels (it falls outside the image or between pixel centres): check "
                          "size, pixel_scale (arcsec per pixel), nsub and theta_E_range.")
    f = lambda log_s: np.log(arc_snr(np.exp(log_s) * arc, lens, opts)[0] / target)
    lo, hi = -30.0, 30.0
    if f(lo) >= 0:
        raise ConfigValueError(_too_bright_text(float(arc.max()), target, opts, lo))
    if not f(lo) < 0 < f(hi):
        raise ConfigValueError(f"no source brightness gives an arc of maximum SNR {target:.3g} (snr_range) with sky_sigma = "
                          f"{opts.sky_sigma:g} and exposure_time = {opts.exposure_time:g}: change one of these options"
                          f"{_bright_lens_text(arc * np.exp(hi), lens, target, opts)}.")
    return float(np.exp(optimize.brentq(f, lo, hi, xtol=1e-10)))


def _bright_lens_text(arc: np.ndarray, lens: np.ndarray, target: float, opts: PopulationOptions) -> str:
    """Where the lens galaxy's Poisson noise is what keeps the brightest arc tried, ``arc``, under the SNR ``target``
    (on no lens it reaches it), what makes the lens so bright: ``zeropoint`` and ``lens_mag_range``; '' where the arc
    falls short on its own (the sky's noise, or its own Poisson noise in a short exposure_time: at 1e-30 any arc
    does, on a lens galaxy however faint, and a lower zeropoint would not help). zeropoint 82 with exposure_time
    1e-8 (lens galaxies of 10^24.8 e-/s; at zeropoint 25.7 the same options make lenses) was refused as the arc's SNR, naming only
    sky_sigma and exposure_time."""
    peak = float(lens.max()) if lens.size else 0.0
    if not (peak > 0 and arc_snr(arc, np.zeros_like(lens), opts)[0] >= target):
        return ""
    log_flux = 0.4 * (opts.zeropoint - opts.lens_mag_range[0])
    return (f", or the lens galaxies' brightness, whose Poisson noise buries the arcs: zeropoint {opts.zeropoint:g} and "
            f"lens_mag_range from {opts.lens_mag_range[0]:g} make lens galaxies of up to 10^{log_flux:.4g} e-/s, "
            f"{peak:.3g} e-/s in a pixel; lower the zeropoint (the AB magnitude of 1 e-/s, CSST: 25.7) or raise "
            "lens_mag_range")


def _too_bright_text(peak: float, target: float, opts: PopulationOptions, log_s: float) -> str:
    """Why even the faintest source :func:`source_scale` tries (``Ie = e^log_s``) has an arc over the SNR
    ``target``: a pixel's SNR is at most ``sqrt(Ie peak exposure_time)`` (Poisson noise), so the unit-amplitude
    arc's ``peak`` (e-/s) is too bright: a steep, wide Sersic (n = 100, R = 1e15" peaked at ~1e27), not the noise."""
    (_, n_high), (_, r_high) = opts.source_n_range, opts.source_re_range
    return (f"no source brightness gives an arc of maximum SNR {target:.3g} (snr_range): even the faintest source tried, "
            f"of amplitude Ie = e^{log_s:g}, is over it, as the lensed source of Ie = 1 peaks at {peak:.3g} e-/s in a pixel. "
            f"A steep, wide Sersic source (source_n_range up to {n_high:g}, source_re_range up to {r_high:g} arcsec) is "
            "far brighter near its centre than at its half-light radius, where Ie is set: lower source_n_range (galaxies' "
            f"are under ~10) or source_re_range (arcsec), or exposure_time ({opts.exposure_time:g} s).")


def simulate_lens(rng: np.random.Generator, opts: PopulationOptions, psf: np.ndarray) -> dict[str, Any]:
    """One lens: true parameters, noisy image, noise map and derived truth quantities; a ConfigError for lens
    galaxies or sources smaller than the points their light is sampled at (:func:`unresolved_problems`), and a
    ConfigWarning for sizes that are probably unit mistakes (:func:`scale_warnings`: Einstein radii under 2 pixels,
    a field too small for the arcs, a PSF wider than the image) and for a source too steep for the points
    (:func:`steep_source_warnings`), as :func:`simulate_population` gives once for all its lenses. The PSF's
    warnings (:func:`psf_warnings`) are of ``opts``'s ``psf_size`` and ``psf_fwhm``, which only :func:`make_psf`
    reads: they are given where ``psf`` is that PSF, not for a PSF of the caller's own, which the lens is blurred by."""
    _check_options(opts, psf)
    return _simulated(rng, opts, psf)


def _check_options(opts: PopulationOptions, psf: Any = None) -> None:
    """What :func:`simulate_lens` and :func:`simulate_population` say of ``opts`` before they draw a
    lens: the ConfigWarnings of :func:`scale_warnings` and :func:`steep_source_warnings`, at the line
    that called them, then :func:`refuse_unresolved`'s ConfigValueError (after the warnings: a pixel
    scale typed in mas is both). ``psf``: the PSF :func:`simulate_lens` blurs its lens by, where it is
    not the options' own (:func:`_is_options_psf`) the PSF's warnings left out; None, the options' own."""
    said = scale_warnings(opts)
    if psf is not None and not _is_options_psf(psf, opts):  # psf_warnings would be of a PSF not used
        not_its = psf_warnings(opts)
        said = [message for message in said if message not in not_its]
    for message in said + steep_source_warnings(opts):
        warnings.warn(message, ConfigWarning, stacklevel=3)
    refuse_unresolved(opts)


def _is_options_psf(psf: Any, opts: PopulationOptions) -> bool:
    """Whether ``psf`` is the PSF ``opts`` make (:func:`make_psf`): the one :func:`psf_warnings` speaks of."""
    kernel = np.asarray(psf)
    if kernel.shape != (opts.psf_size, opts.psf_size):
        return False
    made = make_psf(opts)
    return bool(np.allclose(kernel, made, rtol=1e-5, atol=1e-7 * float(np.max(np.abs(made)))))


def _simulated(rng: np.random.Generator, opts: PopulationOptions, psf: np.ndarray) -> dict[str, Any]:
    """:func:`simulate_lens` of options already checked (:func:`_check_options`), which
    :func:`simulate_population` checks once for all its lenses."""
    # Eagerly, op by op: jitted pieces (the Sersic b_n loop) would otherwise be recompiled for
    # every lens (~1 s each); the values are identical.
    with jax.disable_jit():
        return _simulate_lens(rng, opts, psf)


#: Draws of one lens before a detection floor (``snr_total_min``) is called unreachable.
MAX_DRAWS = 100


def _simulate_lens(rng: np.random.Generator, opts: PopulationOptions, psf: np.ndarray) -> dict[str, Any]:
    for _ in range(MAX_DRAWS):
        lens = _draw_and_image(rng, opts, psf)
        if lens["derived"]["arc_snr_total"] >= opts.snr_total_min:
            return lens
    raise ConfigValueError(f"no lens reached arc_snr_total >= snr_total_min = {opts.snr_total_min} in {MAX_DRAWS} draws; "
                      "lower snr_total_min or raise snr_range.")


def _draw_and_image(rng: np.random.Generator, opts: PopulationOptions, psf: np.ndarray) -> dict[str, Any]:
    truth = draw_lens(rng, opts)
    n_images = place_source(rng, truth, opts)
    target = float(np.exp(rng.uniform(*np.log(opts.snr_range))))
    shape = (opts.size, opts.size)
    parts = simulate_images(components(opts), truth, shape, opts.pixel_scale, psf, nsub=opts.nsub)
    lens, unit_arc = parts["lens_light"], parts["lensed_source"]
    scale = source_scale(unit_arc, lens, target, opts)
    truth["source_light"][0]["Ie"] = scale
    arc = scale * unit_arc
    model = lens + arc
    noise_rng = np.random.default_rng(rng.integers(2**63))
    image, noise = add_noise(model, opts.sky_sigma, exposure_time=opts.exposure_time, rng=noise_rng)
    snr_max, snr_total = arc_snr(arc, lens, opts)
    lensed_flux = float(simulate_images(LENSED_SOURCE, _lensed_source_truth(truth), shape, opts.pixel_scale, np.ones((1, 1)), nsub=opts.nsub)["lensed_source"].sum())
    derived = derived_truth(truth, opts, lensed_flux)
    derived.update(arc_snr_max=snr_max, arc_snr_total=snr_total, lens_snr_max=float((lens / noise).max()), n_images=n_images)
    return {"truth": truth, "derived": derived, "image": image, "noise": noise, "model": model}


def derived_truth(truth: Mapping[str, Any], opts: PopulationOptions, lensed_flux: float) -> dict[str, float]:
    """Shapes, shear, fluxes and magnitudes named as :mod:`tinylens.results.derived` names them."""
    out: dict[str, float] = {}
    for kind, comps in truth.items():
        for i, comp in enumerate(comps):
            label = f"{kind}.{i}"
            if "e1" in comp:
                q, phi = e1e2_to_qphi(comp["e1"], comp["e2"])
                out[f"{label}.q"], out[f"{label}.phi_deg"] = float(q), float(np.degrees(phi))
            if "gamma1" in comp:
                g, phi = shear_to_polar(comp["gamma1"], comp["gamma2"])
                out[f"{label}.gamma_ext"], out[f"{label}.phi_ext_deg"] = float(g), float(np.degrees(phi))
            if "Ie" in comp:
                out[f"{label}.flux"] = sersic_flux(comp["Ie"], comp["R_sersic"], comp["n_sersic"], opts.pixel_scale)
                out[f"{label}.mag"] = float(magnitude(out[f"{label}.flux"], opts.zeropoint))
    out["lens_light.flux"] = sum(out[f"lens_light.{i}.flux"] for i in range(len(truth["lens_light"])))
    out["lens_light.mag"] = float(magnitude(out["lens_light.flux"], opts.zeropoint))
    out["source.flux"] = out["source_light.0.flux"]
    out["source.mag"] = out["source_light.0.mag"]
    out["source.magnification"] = lensed_flux / out["source.flux"]
    return out


# -- files ------------------------------------------------------------------------------------
def template_config(opts: PopulationOptions) -> dict[str, Any]:
    """TinyLensGpu-schema config with Table 1 priors; data paths are the per-lens file names.

    With ``shear_max = 0`` the lenses have no external shear and the template has no SHEAR
    component (the paper's mock set-up, its section 3.1.3)."""
    from tinylens.cli.demo import demo_config

    config = demo_config()
    config["dataset"].update(pixel_scale=opts.pixel_scale, nsub=opts.fit_nsub, zeropoint=opts.zeropoint)
    if opts.shear_max == 0:  # no shear in the data: fit the SIE alone, as the paper's section 3.1.3 does
        masses = config["model_components"]["lens_mass_list"]
        config["model_components"]["lens_mass_list"] = [m for m in masses if m["type"] != "SHEAR"]
    return config


def write_lens(folder: Path, lens: Mapping[str, Any], psf: np.ndarray, opts: PopulationOptions, meta: Mapping[str, Any]) -> None:
    """image.fits, noise.fits, psf.fits and truth.json of one lens, written into a hidden folder
    beside ``folder`` and then moved into place: a run stopped part-way never leaves a lens
    folder that lacks a file (``tinylens survey`` would take it for a lens and fit it)."""
    from tinylens.data.fits_io import write_fits_image

    partial = folder.with_name(f".{folder.name}.partial")  # hidden: a survey and the folder check pass it by
    shutil.rmtree(partial, ignore_errors=True)  # left by a run that was killed
    partial.mkdir(parents=True)
    header = {"BUNIT": "e-/s", "PIXSCALE": opts.pixel_scale, "MAGZP": opts.zeropoint, "EXPTIME": opts.exposure_time}
    write_fits_image(partial / "image.fits", lens["image"], header)
    write_fits_image(partial / "noise.fits", lens["noise"], header)
    write_fits_image(partial / "psf.fits", psf)
    write_json(partial / TRUTH_FILE, {**meta, "params": flat_params(lens["truth"]), "derived": lens["derived"],
                                      "components": lens["truth"]})
    replace_folder(partial, folder)


def replace_folder(new: Path, folder: Path) -> None:
    """Move the folder ``new`` to ``folder``, in place of any folder there: at every moment
    ``folder`` is either the old one, whole, or the new one (or, briefly, absent). The renames are
    flushed to the disk (:func:`~tinylens.atomic.sync_folders`) before the old folder is deleted, so
    that a crash after a later write (``population.json`` saying the population is complete) finds
    this folder in place."""
    from tinylens.atomic import sync_folders

    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    new.rename(folder)
    sync_folders(folder)
    shutil.rmtree(old, ignore_errors=True)


def writable_folder(folder: Path) -> Path:
    """Create ``folder`` if needed and check it can be written, else an OutputError naming it and
    why (:func:`~tinylens.results.tables.ensure_writable`'s: a file in the way, or the system's
    reason, as a read-only or full disk, a name too long)."""
    return ensure_writable(folder, "another output folder", what="The population's output folder")


@contextlib.contextmanager
def disk_full_reported(outdir: Path) -> Iterator[None]:
    """An OSError of a full disk or quota inside (:data:`tinylens.errors.DISK_FULL`), or the
    OutputError a FITS file's writer raises for one (that OSError its context), as an OutputError
    naming ``outdir``, why, and what to do."""
    try:
        yield
    except (OSError, OutputError) as raised:
        exc = raised.__context__ if isinstance(raised, OutputError) else raised
        if not isinstance(exc, OSError) or exc.errno not in DISK_FULL:
            raise
        raise OutputError(f"Cannot write the population into {outdir}: no space left ({exc.strerror or 'disk full'}: the "
                          "disk, or your quota on it, is full). No file is left half-written; free some space (about "
                          f"0.2 MB a lens at the default size) and run {POPULATION_RERUN} again.") from None


def _stale_folders(outdir: Path, names: Iterable[str]) -> list[str]:
    keep = set(names)
    return sorted(p.name for p in outdir.glob("lens_*") if p.is_dir() and p.name not in keep)


def stale_text(outdir: Path, stale: Sequence[str]) -> str:
    """What a population says of the lens folders ``stale`` in ``outdir`` that are not its own:
    the one named, or an example of several."""
    if len(stale) == 1:
        return f"{outdir} holds 1 lens folder not in this population ({stale[0]}); it is not listed in truth.csv"
    return (f"{outdir} holds {len(stale)} lens folders not in this population (e.g. {stale[0]}); they are not "
            "listed in truth.csv")


def simulate_population(
    n: int, outdir: str | Path, seed: int = 0, progress: bool = False, **options: Any
) -> pd.DataFrame:
    """Simulate ``n`` lenses into ``outdir`` (see the module docstring); return the truth table.

    ``options`` are :class:`PopulationOptions` fields (``pixel_scale``, ``size``, ``psf_type``,
    ``psf_fwhm``, ``exposure_time``, ``sky_sigma``, ``zeropoint``, ``snr_range``, ...).
    """
    n, seed = check_count_and_seed(n, seed, "simulate_population's seed (the random seed)")
    outdir = population_folder(outdir)
    opts = PopulationOptions.from_kwargs(**options)
    _check_options(opts)
    made = missing_folders(outdir)
    from tinylens.interrupts import folder_on_interrupt

    try:
        writable_folder(outdir)
        with folder_on_interrupt(outdir), disk_full_reported(outdir):  # folder: for the command line's line on a stop
            return _simulate_into(outdir, n, seed, opts, progress)
    except BaseException:
        # the folders this call made (the output folder, its parents) hold nothing of the user's:
        # no half population, nor an empty folder, left behind
        remove_made_folders(made)
        raise


# -- the folder's population ------------------------------------------------------------------
#: What makes a population: ``population.json`` holds these, and a folder holds one population.
SETTINGS = ("n", "seed", "precision", "observation")


def population_settings(n: int, seed: int, opts: PopulationOptions, precision: str | None = None) -> dict[str, Any]:
    """The settings that fix every file of a population, as they read back from JSON; ``precision``
    (``"float32"`` or ``"float64"``, default the current one, :mod:`tinylens.precision`) is the one
    the lenses are simulated in: the same seed gives other images in the other."""
    precision = get_precision() if precision is None else precision
    return json.loads(json.dumps({"n": n, "seed": seed, "precision": precision, "observation": dataclasses.asdict(opts)}))


def settings_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``'seed 1 there, 2 now'`` for each setting that differs (options missing in ``old``: their
    defaults; a precision missing in ``old``, older than its record: not compared)."""
    defaults = population_settings(1, 0, PopulationOptions(), "float32")["observation"]
    old_obs = {**defaults, **(old.get("observation") or {})}
    pairs = [(k, old.get(k), new[k]) for k in SETTINGS if k != "observation" and (k in old or k != "precision")]
    pairs += [(k, old_obs.get(k), v) for k, v in new["observation"].items()]
    pairs += [(k, v, None) for k, v in old_obs.items() if k not in new["observation"]]
    return [_difference(k, a, b) for k, a, b in pairs if a != b]


#: Characters of a value :func:`_difference` shows, at most (a seed of 400 digits: its first and its length).
SHOWN_VALUE = 60


def _cut_pair(old: Any, new: Any) -> tuple[str, str]:
    """``old`` and ``new`` as :func:`_difference` shows them, each cut to :data:`SHOWN_VALUE`
    characters; where they differ only after the cut (two seeds of 400 digits alike in their first
    57), each cut one followed by where they part and what follows there in it, so that they show apart."""
    a, b = str(old), str(new)
    shown = cut_value(a, SHOWN_VALUE, old), cut_value(b, SHOWN_VALUE, new)
    if a == b or shown[0] != shown[1]:
        return shown
    at = len(os.path.commonprefix([a, b]))
    return tuple(f"{cut} from character {at + 1} on {cut_value(text[at:], 20, text[at:])!r}"
                 for cut, text in zip(shown, (a, b)))


def _difference(key: str, old: Any, new: Any) -> str:
    """``'seed 1 there, 2 now'``, each value cut to :data:`SHOWN_VALUE` characters
    (:func:`~tinylens.errors.cut_value`); for the precision, also what sets it."""
    text = f"{key} {' there, '.join(_cut_pair(old, new))} now"
    return f"{text} (set by TINYLENS_PRECISION or tinylens.set_precision)" if key == "precision" else text


def existing_population(outdir: Path, settings: Mapping[str, Any]) -> bool:
    """Whether ``outdir`` already holds a population of these ``settings``; an OutputError if it
    holds another one, or anything without a ``population.json`` (the user's files, a demo's),
    so that no run overwrites files it did not write or mixes two populations. Hidden files
    (``.DS_Store``) do not count: no population file has such a name."""
    record = outdir / POPULATION_RECORD
    advice = f"Choose a new output folder, or delete {outdir} to replace that population."
    if not record.exists():
        theirs = sorted(p.name for p in outdir.iterdir() if not p.name.startswith("."))
        if theirs:
            raise OutputError(f"{outdir} holds {listed(theirs)} but no population.json, so not a population written by "
                              "'tinylens simulate-population': its files would be overwritten or mixed with the "
                              "population's. Choose a new output folder (or an empty one).")
        return False
    try:
        old = read_json_file(record)
    except (OSError, ValueError) as err:
        raise OutputError(f"{record} cannot be read ({_unreadable(err)}), so the population in {outdir} is "
                          f"unknown. {advice}") from None
    if not isinstance(old, dict):
        raise OutputError(f"{record} cannot be read (it holds a JSON {type(old).__name__}, not the population's "
                          f"settings), so the population in {outdir} is unknown. {advice}")
    differences = settings_differences(old, settings)
    if differences:
        shown = listed(differences, 6, sep="; ")
        which = "an unfinished population" if old.get("complete") is False else "a population"
        error = OutputError(f"{outdir} already holds {which} made with other settings ({shown}). {advice}")
        error.settings_shown = shown  # for the command line to name each setting as its user gave it
        raise error
    return True


#: Why a population.json could not be read, in words (:func:`~tinylens.jsonfile.unreadable_reason`).
_unreadable = unreadable_reason


def _simulate_into(outdir: Path, n: int, seed: int, opts: PopulationOptions, progress: bool) -> pd.DataFrame:
    """The lens folders, truth tables, population.json and template.yaml of :func:`simulate_population`.

    ``population.json`` is written before any lens (``"complete": false`` until the end), so
    the folder always says which population its files belong to."""
    settings = population_settings(n, seed, opts)
    record = {**settings, "snr": "arc_snr_max = max over pixels of the noise-free lensed source / the noise map "
                                 "(paper, Figure 1)"}
    if not existing_population(outdir, settings):
        write_json(outdir / POPULATION_RECORD, {**record, "complete": False})
    psf = make_psf(opts)
    names = [lens_name(i, n) for i in range(n)]
    stale = _stale_folders(outdir, names)
    if stale:
        warnings.warn(stale_text(outdir, stale), stacklevel=3)
    meta = {"seed": seed, "precision": settings["precision"], "observation": dataclasses.asdict(opts)}
    rows = []
    streams = np.random.SeedSequence(seed).spawn(n)
    for name, stream in _progress(list(zip(names, streams)), progress, "Simulating lenses"):
        lens = _simulated(np.random.default_rng(stream), opts, psf)  # checked once, by simulate_population
        write_lens(outdir / name, lens, psf, opts, {"lens_id": name, **meta})
        rows.append({"lens_id": name, **flat_params(lens["truth"]), **lens["derived"]})
    table = pd.DataFrame(rows)
    write_csv(outdir / "truth.csv", table)
    write_table(outdir / "truth.parquet", table)
    header = ("# tinylens simulate-population: Table 1 priors (Cao et al., TinyLensGPU). The data paths\n"
              "# are the file names inside each lens folder. Fit all lenses with:\n"
              f"#   {shlex.join(['tinylens', 'survey', str(outdir), '--config', str(outdir / 'template.yaml'), '--out', 'RESULTS'])}\n")
    text = header + yaml.safe_dump(template_config(opts), sort_keys=False, default_flow_style=None)
    write_atomic(outdir / "template.yaml", lambda tmp: tmp.write_text(text))
    write_json(outdir / POPULATION_RECORD, {**record, "complete": True})
    return table


def _progress(items: list, enabled: bool, description: str) -> Iterable:
    """``items``, with the progress on stderr as ``tinylens fit`` and ``survey`` show theirs: a
    bar on a terminal, else :func:`_logged` lines (a bar without a terminal is drawn once, at the
    end: a batch job's log said nothing for the hours a large population takes)."""
    if not enabled:
        return items
    from rich.console import Console
    from rich.progress import track

    console = Console(stderr=True, highlight=False)
    if not draws_live(console):
        return _logged(items, description, console.print)
    return track(items, description=description, console=console)


def _logged(items: list, description: str, write: Any, every: float = PLAIN_EVERY_S,
            clock: Any = time.monotonic) -> Iterable:
    """``items``, with ``write("Simulating lenses: 12/100 done, 0:30 elapsed")`` once an item is
    done when none was written for ``every`` seconds, and after the last."""
    lines = PlainLines(every, clock)
    for i, item in enumerate(items, 1):
        yield item  # the caller's work on it is done when the loop asks for the next
        if lines.due(force=i == len(items)):
            write(f"{description}: {i}/{len(items)} done, {clock_time(lines.elapsed)} elapsed", markup=False, soft_wrap=True)
