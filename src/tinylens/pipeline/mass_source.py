"""Stage 3: fit mass and source, started where the arc says the lens is.

Starting points combine the lens light of stage 1 with mass models whose Einstein radius is the
arc's radius (times 0.85, 1 and 1.2) and whose ellipticity is the lens light's or zero. For each,
the source is put where the arc pixels land on the source plane (their flux-weighted mean) with
a size from their spread, and, when that is elsewhere, a second time where the arc's peaks land
(their median: under the right mass, the images of one source meet there). Every start is
optimised with the lens light held (mass and source free), then the best few with everything
free; last, the lens light of the best is fitted again with the source in the model
(:func:`relight`). Also tried: the median radius of the arc's peaks when it disagrees with the
first guess (leftovers of a bright galaxy's centre pull that guess in), the mean radius of two
peaks on opposite sides (a double's Einstein radius, where the bright outer image sets the arc's
radius), and a compact, de Vaucouleurs-like lens light (for an arc brighter than the lens galaxy,
which stage 1 may have taken for lens light).

A fit whose Einstein radius is far smaller than the arc's radius cannot have made that arc: the
images of a multiply imaged source lie within about twice the Einstein radius (``theta_E +
beta`` with ``beta < theta_E`` for a singular isothermal sphere). Such fits, where the "source"
sits unlensed on the lens and models leftover lens light (SLACS J1402+6321: theta_E 0.08" with
the arc's peaks at 1.29-1.42"), are passed over when any fit reaches ``min_theta_E``
(:func:`theta_E_floor`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from tinylens.forward import ray_shoot
from tinylens.numerics.grid import pixel_coordinates
from tinylens.pipeline.arc import Arc
from tinylens.pipeline import lens_light as ll
from tinylens.pipeline.lens_light import compact_light
from tinylens.pipeline.optimize import Fit, Objective, best_of
from tinylens.pipeline.params import free_index, get_param, light_only_indices, main_mass, prior_middle, set_param

THETA_E_FACTORS = (0.85, 1.0, 1.2)
#: Default fraction of the innermost arc peak's radius below which a fit's Einstein radius cannot
#: explain the arc (0.5 for a singular isothermal sphere; lower, to allow for ellipticity and shear).
MIN_THETA_E_FRACTION = 0.4
#: Peaks closer to the lens centre than this fraction of the peaks' median radius are taken for
#: leftovers of the lens light rather than images by :func:`theta_E_floor`.
INNER_PEAK_FRACTION = 0.3
#: Gain in log P by which the lens light fitted again (:func:`relight`) must beat the best fit to
#: be polished jointly, and a revived source (:func:`revive`) to replace it.
RELIGHT_GAIN = 0.5
#: Peaks nearer the lens centre than this many pixels are never taken for images
#: (:func:`image_peaks` in :func:`starts`; the pipeline uses the same for :func:`theta_E_floor`).
PEAK_R_MIN_PIXELS = 3
#: A start from the peaks (:func:`peak_source_guess`) is added when it puts the source this many
#: pixels or more from the arc pixels' guess (:func:`source_guess`).
PEAK_GUESS_APART_PIXELS = 3
#: Sizes (arcsec) at which a source component with zero amplitude is tried again (:func:`revive`).
REVIVE_SIZES = (0.05, 0.1, 0.2, 0.4)


@dataclass
class MassSourceResult:
    """Stage 3's best fit, its ``candidates`` and their gradient calls (``n_evals``; not those of
    :func:`relight`'s and :func:`revive`'s tries that were not kept, which the objective's
    counter has)."""

    fit: Fit
    candidates: list[Fit]
    n_evals: int


def source_guess(problem, theta: np.ndarray, arc: Arc) -> tuple[float, float, float]:
    """``(x, y, size)`` of the arc pixels mapped to the source plane by the mass in ``theta``;
    without arc pixels, a 0.1" source behind the lens (:func:`mass_centre`)."""
    d = problem.dataset
    x, y = pixel_coordinates(d.data.shape, d.pixel_scale)
    sel = arc.mask & (d.data > 0)
    if not sel.any():
        return (*mass_centre(problem, theta), 0.1)
    w = d.data[sel]
    bx, by = to_source_plane(problem, theta, np.stack([x[sel], y[sel]], axis=1)).T
    mx, my = np.average(bx, weights=w), np.average(by, weights=w)
    size = np.sqrt(np.average((bx - mx) ** 2 + (by - my) ** 2, weights=w))
    return float(mx), float(my), float(max(size, 2 * d.pixel_scale))


def mass_centre(problem, theta: np.ndarray) -> tuple[float, float]:
    """The main mass component's centre in ``theta`` (:func:`.params.main_mass`; ``(0, 0)`` for a
    centre it has not): where a source behind the lens sits on the source plane."""
    mass = main_mass(problem.spec)
    if mass is None:
        return 0.0, 0.0
    return get_param(theta, mass, "center_x", 0.0), get_param(theta, mass, "center_y", 0.0)


def peak_source_guess(problem, theta: np.ndarray, arc: Arc, center: tuple[float, float],
                      r_min: float) -> tuple[float, float, float] | None:
    """``(x, y, size)`` from the arc's image peaks (:func:`image_peaks`) mapped to the source
    plane: their median position and robust spread; None with fewer than two peaks.

    The images of one source meet on the source plane under the right mass, and the peaks are
    where they are brightest. The flux-weighted mean of all arc pixels (:func:`source_guess`) is
    pulled away by whatever else the arc region holds: leftovers of the lens light at its centre,
    a neighbour. On SLACS J2303+1422 (two-MGE lens light) that guess put a 0.6" source on the
    lens centre, where the NNLS gave it no flux at every start near Bolton's theta_E, while its
    two images' peaks (1.2" and 2.1" from the centre) meet within 0.1".
    """
    peaks = image_peaks(arc, center, r_min)
    if len(peaks) < 2:
        return None
    bx, by = to_source_plane(problem, theta, peaks).T
    mx, my = float(np.median(bx)), float(np.median(by))
    size = float(np.median(np.hypot(bx - mx, by - my)))
    return mx, my, max(size, 2 * problem.dataset.pixel_scale)


def to_source_plane(problem, theta: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(k, 2)``: image-plane ``points`` (``(k, 2)``, arcsec) mapped to the source plane by the
    mass in ``theta``."""
    dt = problem.dtype
    points = np.asarray(points, float).reshape(-1, 2)
    bx, by = ray_shoot(problem.spec, jnp.asarray(theta, dt), jnp.asarray(points[:, 0], dt), jnp.asarray(points[:, 1], dt))
    return np.stack([np.asarray(bx, float), np.asarray(by, float)], axis=1)


def starts(problem, theta_light: np.ndarray, arc: Arc, theta_E_guess: float,
           factors: tuple[float, ...] = THETA_E_FACTORS) -> list[np.ndarray]:
    """Starting vectors for the mass and source (see the module docstring)."""
    spec = problem.spec
    light = spec.lens_light[0] if spec.lens_light else None
    shapes = [(0.0, 0.0)]
    if light is not None:
        e_light = (get_param(theta_light, light, "e1", 0.0), get_param(theta_light, light, "e2", 0.0))
        if np.hypot(*e_light) > 0.02:
            shapes.insert(0, e_light)
    center = ll.lens_center(problem, theta_light)
    r_min = PEAK_R_MIN_PIXELS * problem.dataset.pixel_scale
    out = []
    for factor in factors:
        for e1, e2 in shapes:
            t = np.array(theta_light, dtype=float)
            for comp in spec.lens_mass:
                set_param(t, comp, "theta_E", theta_E_guess * factor, spec)
                set_param(t, comp, "e1", e1, spec)
                set_param(t, comp, "e2", e2, spec)
                set_param(t, comp, "gamma1", 0.0, spec)
                set_param(t, comp, "gamma2", 0.0, spec)
                if light is not None:
                    set_param(t, comp, "center_x", get_param(theta_light, light, "center_x", 0.0), spec)
                    set_param(t, comp, "center_y", get_param(theta_light, light, "center_y", 0.0), spec)
            guesses = [source_guess(problem, t, arc)]
            by_peaks = peak_source_guess(problem, t, arc, center, r_min)
            if by_peaks is not None and np.hypot(by_peaks[0] - guesses[0][0], by_peaks[1] - guesses[0][1]) > (
                    PEAK_GUESS_APART_PIXELS * problem.dataset.pixel_scale):
                guesses.append(by_peaks)
            for guess in guesses:
                out.append(_with_source(t, spec, *guess))
    return out


def _with_source(theta: np.ndarray, spec, x: float, y: float, size: float) -> np.ndarray:
    """A copy of ``theta`` with every source component round at ``(x, y)``, sizes about ``size``
    (spread by factors of 2 between components) and Sersic index 1."""
    t = np.array(theta, dtype=float)
    for k, comp in enumerate(spec.source_light):
        set_param(t, comp, "center_x", x, spec)
        set_param(t, comp, "center_y", y, spec)
        set_param(t, comp, "e1", 0.0, spec)
        set_param(t, comp, "e2", 0.0, spec)
        set_param(t, comp, "R_sersic", size * 2.0 ** (k - (len(spec.source_light) - 1) / 2), spec)
        set_param(t, comp, "n_sersic", 1.0, spec)
    return t


def peak_radius(arc: Arc, center: tuple[float, float], r_min: float = 0.0) -> float:
    """Median distance from ``center`` of the arc's brightest peaks beyond ``r_min`` (nan if none).

    A second Einstein-radius estimate: the flux-weighted median radius of :func:`~.arc.find_arc`
    is pulled inwards when the arc region includes leftovers of a bright lens galaxy's centre
    (SLACS J0822+2652: 0.15" against Bolton et al.'s 1.17"); the peaks much less so.
    """
    r = peak_radii(arc, center, r_min)
    return float(np.median(r)) if r.size else float("nan")


def peak_radii(arc: Arc, center: tuple[float, float], r_min: float) -> np.ndarray:
    """Distances from ``center`` of the arc's peaks, those beyond ``r_min`` only."""
    if len(arc.peaks) == 0:
        return np.zeros(0)
    r = np.hypot(arc.peaks[:, 0] - center[0], arc.peaks[:, 1] - center[1])
    return r[r > r_min]


def image_peaks(arc: Arc, center: tuple[float, float], r_min: float, inner: float = INNER_PEAK_FRACTION) -> np.ndarray:
    """``(k, 2)`` positions of the arc's peaks that may be images: beyond ``r_min`` from ``center``
    and beyond ``inner`` times the median radius of those (nearer ones are taken for leftovers
    of the lens light, as in :func:`theta_E_floor`)."""
    if not arc.found or len(arc.peaks) == 0:
        return np.zeros((0, 2))
    r = np.hypot(arc.peaks[:, 0] - center[0], arc.peaks[:, 1] - center[1])
    far = r > r_min
    keep = far & (r >= inner * np.median(r[far])) if far.any() else far
    return arc.peaks[keep]


def double_radius(arc: Arc, center: tuple[float, float], r_min: float) -> float:
    """Einstein radius of a double from its two images: the mean radius of the outermost image
    peak (:func:`image_peaks`) and of the innermost one more than 90 degrees round the centre from
    it (nan if there is none).

    A singular isothermal sphere images a source at ``beta`` to ``theta_E + beta`` and, on the
    other side, ``theta_E - beta``; their mean is ``theta_E`` whatever ``beta``. The arc's radius
    follows the bright outer image instead (docs/mocks.md, seed-2 mock lens_00078: peaks at 2.8"
    and, opposite, 0.9"; arc radius 2.75", true theta_E 1.96").
    """
    peaks = image_peaks(arc, center, r_min)
    if len(peaks) < 2:
        return float("nan")
    dx, dy = peaks[:, 0] - center[0], peaks[:, 1] - center[1]
    r, angle = np.hypot(dx, dy), np.arctan2(dy, dx)
    out = int(np.argmax(r))
    apart = np.abs(np.angle(np.exp(1j * (angle - angle[out])))) > np.pi / 2
    return float((r[out] + r[apart].min()) / 2) if apart.any() else float("nan")


def other_radii(arc: Arc, center: tuple[float, float], theta_E_guess: float, r_min: float,
                tolerance: float = 0.25) -> list[float]:
    """Einstein radii worth starts of their own besides ``theta_E_guess``: the peaks' radius
    (:func:`peak_radius`) and a double's (:func:`double_radius`), each when it differs by more
    than ``tolerance`` from the guess and from the radii already kept."""
    kept: list[float] = []
    for r in (peak_radius(arc, center, r_min), double_radius(arc, center, r_min)):
        if np.isfinite(r) and all(abs(r / other - 1) > tolerance for other in (theta_E_guess, *kept)):
            kept.append(r)
    return kept


def theta_E_floor(arc: Arc, center: tuple[float, float], r_min: float,
                  fraction: float = MIN_THETA_E_FRACTION, inner: float = INNER_PEAK_FRACTION) -> float:
    """The smallest Einstein radius that can have made the arc: ``fraction`` times the radius of
    its innermost peak beyond ``r_min`` and beyond ``inner`` times the peaks' median radius; 0
    when there is none.

    Every image lies within about twice the Einstein radius, so any peak that is an image gives
    a floor; the innermost one is the safest, since a spurious peak far out (noise, a neighbour)
    cannot raise it (mock lens_00045: peaks at 0.68" and 2.26", true theta_E 0.54"). Compact
    leftovers of the lens light near the centre are not images, and would drop the floor to
    nothing (SLACS J1204+0358 with MGE lens light: peaks at 0.19" and 0.31", then 1.09-1.70");
    leaving out a faint counter-image close to the centre instead is harmless, as the floor then
    comes from another image, which lies within twice the Einstein radius too.
    """
    peaks = image_peaks(arc, center, r_min, inner)
    r = np.hypot(peaks[:, 0] - center[0], peaks[:, 1] - center[1])
    return float(fraction * r.min()) if r.size else 0.0


def prior_centred(problem, theta_light: np.ndarray, n_sigma: float = 3.0) -> np.ndarray | None:
    """``theta_light`` with the lens centre moved to the middle of the mass centre's Gaussian
    prior, when stage 1 put it more than ``n_sigma`` prior sigmas away (None otherwise).

    Where the arc is brighter than the lens galaxy, stage 1 can fit its "lens light" to an image
    of the arc, and every start then centres the mass on that image (mock lens_00069: centre
    (-0.48", 0.35") against the true (-0.07", -0.01") under a N(0, 0.1") prior; all starts ended
    at theta_E 1.1-3.2" against 0.88"). Starts at the prior's centre find the true mode.
    """
    spec = problem.spec
    if not spec.lens_mass:
        return None
    moved, far = np.array(theta_light, dtype=float), False
    for name in ("center_x", "center_y"):
        i = free_index(main_mass(spec), name)
        if i is None or spec.priors[i].kind != "gaussian":
            return None
        prior = spec.priors[i]
        far |= abs(theta_light[i] - prior.a) > n_sigma * prior.b
        for comp in (*spec.lens_mass, *spec.lens_light):
            set_param(moved, comp, name, prior.a, spec)
    return moved if far else None


def mass_centre_indices(spec) -> set[int]:
    """Free indices of the mass components' centres (a lens light centre linked to them included)."""
    return {i for comp in spec.lens_mass for name in ("center_x", "center_y")
            if (i := free_index(comp, name)) is not None}


def relight(objective: Objective, theta: np.ndarray) -> Fit | None:
    """The lens light fitted again with mass and source held at ``theta`` (None without free
    light-only parameters, :func:`~.params.light_only_indices`), from the shape of ``data -
    lensed source`` about the priors' lens centre (as stage 1's) at a few sizes with the light's
    other parameters (e.g. ``n_sersic``) at their prior medians.

    Stage 1 measures the lens galaxy with the arc's pixels left out; where the arc covers much of
    a faint galaxy, what is left can prefer a wrong profile (mock lens_00087, lens S/N 10 under an
    arc of S/N 35: ``R = 0.77", n = 2.5`` against the true ``1.20", 4``), and the joint fit from
    there stops in that local optimum, 13 in log P below the true one. With the source modelled,
    every pixel informs the lens light again.
    """
    problem = objective.problem
    light_only = light_only_indices(problem.spec)
    if not light_only:
        return None
    d = problem.dataset
    theta = np.asarray(theta, dtype=float)
    source = problem.model_image(theta)["lensed_source"]
    middle = prior_middle(problem)
    moments = ll.image_moments(d.data - source, d.noise, d.pixel_scale, center=ll.lens_center(problem, middle),
                               used=d.mask)
    base = theta.copy()
    base[light_only] = middle[light_only]
    held = np.setdiff1d(np.arange(problem.ndim), light_only)
    tries = []
    for t in ll.starts(problem, moments, base):
        t[held] = theta[held]  # starts() also sets linked centres: keep the mass where it is
        tries.append(t)
    return best_of(objective.minimize_many([(t, light_only) for t in tries]))


def dark_sources(problem, theta: np.ndarray) -> list[int]:
    """Indices of the source components to which the NNLS gives zero amplitude at ``theta``."""
    amps = problem.amplitudes(theta)
    return [k for k, comp in enumerate(problem.spec.source_light)
            if comp.linear and not np.any(np.asarray(amps[comp.label]) > 0)]


def revive(objective: Objective, theta: np.ndarray, arc: Arc, min_theta_E: float = 0.0) -> Fit | None:
    """The best joint fit from ``theta`` with each dark source component (:func:`dark_sources`)
    given a new size from :data:`REVIVE_SIZES`; None when no component is dark.

    A component with zero amplitude adds nothing to the model, so the likelihood's gradient with
    respect to its shape is exactly zero and no optimiser moves it again; when the whole source
    is dark, the gradients of the mass are zero too. Fits on SLACS ended so: the compact second
    source component switched off (J0822+2652, J1142+1001), or the whole source (J0008-0004);
    the sampler, started afresh in the box, then found log L higher by up to 6000. When the whole
    source is dark it is also put back where the arc maps to the source plane (:func:`source_guess`).
    """
    problem = objective.problem
    spec = problem.spec
    dark = dark_sources(problem, theta)
    if not dark:
        return None
    base = np.array(theta, dtype=float)
    whole = len(dark) == len(spec.source_light)
    if whole:
        sx, sy, _ = source_guess(problem, base, arc)
        for comp in spec.source_light:
            set_param(base, comp, "center_x", sx, spec)
            set_param(base, comp, "center_y", sy, spec)
    from_here = []
    for k in dark:
        comp = spec.source_light[k]
        size = next((n for n in ("R_sersic", "sigma") if free_index(comp, n) is not None), None)
        for value in REVIVE_SIZES if size is not None else ():
            t = base.copy()
            set_param(t, comp, size, value, spec)
            from_here.append(t)
    if not from_here and whole:
        from_here.append(base)  # no size to change (e.g. an MGE): moved only
    tries = objective.minimize_many([(t, None) for t in from_here])
    return best_of(plausible(tries, spec, min_theta_E)) if tries else None


def plausible(fits: list[Fit], spec, min_theta_E: float) -> list[Fit]:
    """The fits whose main mass component (:func:`.params.main_mass`) has ``theta_E >=
    min_theta_E`` (all of them if none has)."""
    if min_theta_E <= 0 or not spec.lens_mass:
        return fits
    kept = [f for f in fits if get_param(f.theta, main_mass(spec), "theta_E", np.inf) >= min_theta_E]
    return kept or fits


def fit_mass_source(objective: Objective, theta_light: np.ndarray, arc: Arc, theta_E_guess: float,
                    n_joint: int = 2, other_theta_E: tuple[float, ...] | list[float] = (),
                    min_theta_E: float = 0.0) -> MassSourceResult:
    """Multi-start fit of mass and source, then of everything from the best ``n_joint`` starts.

    More groups of starts each send their best to the joint fit as well: one per factor of each
    radius in ``other_theta_E`` (e.g. from :func:`other_radii`), one with a compact lens light
    (:func:`compact_light`) at the arc's Einstein radius, and, when stage 1's lens centre is
    improbable under the mass centre's prior, one per radius with the centre moved to the
    prior's (:func:`prior_centred`) and held there while mass and source are fitted. The lens
    light of the best is then fitted again with mass and source held (:func:`relight`) and, if
    that gains, everything polished from there; and source components left dark are tried again
    (:func:`revive`). The result is the best fit with ``theta_E >=
    min_theta_E`` (:func:`plausible`).
    """
    problem = objective.problem
    spec = problem.spec
    light_only = set(light_only_indices(spec))
    held = [i for i in range(problem.ndim) if i not in light_only]
    jobs = [(t, held) for t in starts(problem, theta_light, arc, theta_E_guess)]
    n_first = len(jobs)
    # Every factor of the other radii, each its own group: from the one start at SLACS J1204+0358's
    # peak radius (1.33") the whole source went dark, from 0.85 times it the fit reached 1.36";
    # and one group for all three would send J0822's best held start (1.52") on, not the one
    # that ends best jointly (1.29").
    groups = [(theta_light, radius, (factor,), held)  # light, radius, factors, free
              for radius in other_theta_E for factor in THETA_E_FACTORS]
    compact = compact_light(problem, theta_light, arc, theta_E_guess)
    if compact is not None:
        groups.append((compact, theta_E_guess, (1.0,), held))
    centred = prior_centred(problem, theta_light)
    if centred is not None:
        # Stage 1 took an image of the arc for the lens: its light profile fits that image better
        # than the galaxy, so with the centre free these starts slide back onto it (mock lens_00040
        # with shear: every start ended centred on the image). Hold the centre at the prior's, and
        # try every factor of the arc's radius (measured from the wrong centre).
        centre = mass_centre_indices(spec)
        pinned = [i for i in held if i not in centre]
        groups += [(centred, radius, THETA_E_FACTORS, pinned) for radius in (theta_E_guess, *other_theta_E)]
    sizes = []
    for light, radius, factors, free in groups:
        group = [(t, free) for t in starts(problem, light, arc, radius, factors=factors)]
        jobs += group
        sizes.append(len(group))
    first = objective.minimize_many(jobs)  # every group's starts at once (they are independent)
    ranked = sorted(plausible(first[:n_first], spec, min_theta_E), key=lambda f: -f.log_post)[:n_joint]
    i = n_first
    for size in sizes:  # the best start of each group goes on to the joint fit
        ranked.append(best_of(plausible(first[i:i + size], spec, min_theta_E)))
        i += size
    joint = objective.minimize_many([(f.theta, None) for f in ranked])
    best = best_of(plausible(joint + first, spec, min_theta_E))
    relit = relight(objective, best.theta)
    if relit is not None and relit.log_post > best.log_post + RELIGHT_GAIN:
        joint += [relit, *objective.minimize_many([(relit.theta, None)])]
        best = best_of(plausible(joint + first, spec, min_theta_E))
    revived = revive(objective, best.theta, arc, min_theta_E)
    if revived is not None and revived.log_post > best.log_post + RELIGHT_GAIN:
        joint.append(revived)
        best = best_of(plausible([best, revived], spec, min_theta_E))
    n = sum(f.n_evals for f in first + joint)
    return MassSourceResult(best, first + joint, n)
