"""Arc finding on synthetic residual images with a known ring radius."""

from __future__ import annotations

import numpy as np
import pytest

from tinylens.numerics.grid import pixel_coordinates
from tinylens.pipeline.arc import find_arc, significance, weighted_median

PIX = 0.05
SHAPE = (120, 120)


def _ring(radius: float, amp: float, width: float = 0.06, arc_deg: float = 360.0, center=(0.1, -0.05)):
    x, y = pixel_coordinates(SHAPE, PIX)
    r = np.hypot(x - center[0], y - center[1])
    ang = np.degrees(np.arctan2(y - center[1], x - center[0])) % 360
    return amp * np.exp(-0.5 * ((r - radius) / width) ** 2) * (ang < arc_deg)


def test_ring_radius_and_mask():
    rng = np.random.default_rng(0)
    noise = np.full(SHAPE, 0.1)
    data = _ring(1.3, 1.0, arc_deg=220) + rng.normal(0, 0.1, SHAPE)
    arc = find_arc(data, noise, PIX, center=(0.1, -0.05))
    assert arc.found
    assert abs(arc.theta_E - 1.3) < 0.03
    x, y = pixel_coordinates(SHAPE, PIX)
    r = np.hypot(x - 0.1, y + 0.05)
    assert (np.abs(r[arc.mask] - 1.3) < 0.3).mean() > 0.95  # the mask is on the ring
    assert len(arc.peaks) >= 1


def test_pure_noise_rarely_has_an_arc():
    noise = np.full(SHAPE, 0.1)
    found = [find_arc(np.random.default_rng(seed).normal(0, 0.1, SHAPE), noise, PIX).found for seed in range(20)]
    assert sum(found) <= 1


def test_significance_is_unit_variance_on_noise():
    rng = np.random.default_rng(2)
    sigma = np.where(np.arange(200)[None, :] < 100, 0.1, 0.3) * np.ones((200, 200))
    s = significance(rng.normal(0, 1, (200, 200)) * sigma, sigma, 1.0)
    inner = s[20:-20, 20:-20]
    assert abs(inner.std() - 1) < 0.1  # the discrete kernel differs slightly from the continuous one


def test_weighted_median():
    v = np.array([1.0, 2.0, 3.0, 10.0])
    assert weighted_median(v, np.ones(4)) in (2.0, 3.0)
    assert weighted_median(v, np.array([0, 0, 0, 1.0])) == 10.0


def test_peak_radius_ignores_central_leftovers_and_offers_a_second_start():
    """J0822+2652: the flux-weighted radius (0.15") came from the galaxy's centre; the peaks
    beyond three pixels sit on the arc and give a start of their own."""
    from tinylens.pipeline.arc import Arc
    from tinylens.pipeline.mass_source import other_radii, peak_radius

    peaks = np.array([[0.0, 0.0], [1.7, 0.3], [1.65, -0.45], [1.55, -0.75], [-1.0, 1.0], [0.5, -1.05]])
    arc = Arc(np.zeros((4, 4), bool), np.zeros((4, 4)), 0.15, peaks, 100)
    radii = np.hypot(peaks[1:, 0], peaks[1:, 1])
    assert peak_radius(arc, (0.0, 0.0), r_min=0.15) == pytest.approx(np.median(radii))
    assert other_radii(arc, (0.0, 0.0), 0.15, r_min=0.15) == [pytest.approx(np.median(radii))]
    assert other_radii(arc, (0.0, 0.0), 1.6, r_min=0.15) == []  # agrees with the guess: no extra start
    assert other_radii(Arc(np.zeros((4, 4), bool), np.zeros((4, 4)), 1.0), (0.0, 0.0), 1.0, r_min=0.1) == []


def test_theta_E_floor_from_the_peaks_and_none_without_them():
    from tinylens.pipeline.arc import Arc
    from tinylens.pipeline.mass_source import theta_E_floor

    peaks = np.array([[0.05, 0.0], [1.3, 0.4], [-1.2, 0.6], [0.2, -1.4], [-2.3, -0.1]])
    arc = Arc(np.zeros((4, 4), bool), np.zeros((4, 4)), 0.2, peaks, 50)
    # the innermost peak beyond r_min: the central one is left out, the far one cannot raise it
    assert theta_E_floor(arc, (0.0, 0.0), r_min=0.15) == pytest.approx(0.4 * np.hypot(-1.2, 0.6))
    assert theta_E_floor(arc, (0.05, 0.0), r_min=0.15) == pytest.approx(0.4 * np.hypot(1.25, 0.4))
    assert theta_E_floor(arc, (0.0, 0.0), r_min=0.15, fraction=0.0) == 0.0
    assert theta_E_floor(Arc(np.zeros((4, 4), bool), np.zeros((4, 4)), 1.0), (0.0, 0.0), r_min=0.15) == 0.0
    no_arc = Arc(np.zeros((4, 4), bool), np.zeros((4, 4)), np.nan, peaks, 0)
    assert theta_E_floor(no_arc, (0.0, 0.0), r_min=0.15) == 0.0


def test_theta_E_floor_passes_over_lens_light_leftovers_near_the_centre():
    """SLACS J1204+0358 with MGE lens light: residual peaks at 0.19" and 0.31" from the centre,
    the arc's at 1.09-1.70" (Bolton et al.: theta_E 1.31"). The floor comes from the arc's."""
    from tinylens.pipeline.arc import Arc
    from tinylens.pipeline.mass_source import theta_E_floor

    radii = np.array([0.19, 0.31, 1.09, 1.57, 1.58, 1.70])
    angles = np.linspace(0.3, 5.0, radii.size)
    peaks = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    arc = Arc(np.zeros((4, 4), bool), np.zeros((4, 4)), 0.6, peaks, 600)
    assert theta_E_floor(arc, (0.0, 0.0), r_min=0.15) == pytest.approx(0.4 * 1.09)
    assert theta_E_floor(arc, (0.0, 0.0), r_min=0.15, inner=0.0) == pytest.approx(0.4 * 0.19)  # the old rule
    # a double's two images (mock lens_00045: 0.68" and 2.26" from the centre) are both kept
    double = Arc(np.zeros((4, 4), bool), np.zeros((4, 4)), 1.0, np.array([[0.68, 0.0], [-2.26, 0.0]]), 50)
    assert theta_E_floor(double, (0.0, 0.0), r_min=0.15) == pytest.approx(0.4 * 0.68)


def test_images_of_lensed_sources_lie_within_the_floor_radius():
    """The floor's physics, checked with lenstronomy's image finder: for SIE + shear lenses with
    q >= 0.4 and shear <= 0.1 and sources inside the caustics, the radius of every image times
    0.4 stays below theta_E (for an SIS, images lie within 2 theta_E)."""
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver

    from tinylens.pipeline.mass_source import MIN_THETA_E_FRACTION

    model = LensModel(["SIE", "SHEAR"])
    solver = LensEquationSolver(model)
    rng = np.random.default_rng(5)
    worst, n_multiple = 0.0, 0
    for _ in range(25):
        theta_E, q, phi = rng.uniform(0.5, 2.0), rng.uniform(0.4, 1.0), rng.uniform(0, np.pi)
        e = (1 - q) / (1 + q)
        g, gphi = rng.uniform(0, 0.1), rng.uniform(0, np.pi)
        kwargs = [{"theta_E": theta_E, "e1": e * np.cos(2 * phi), "e2": e * np.sin(2 * phi), "center_x": 0, "center_y": 0},
                  {"gamma1": g * np.cos(2 * gphi), "gamma2": g * np.sin(2 * gphi)}]
        beta = rng.uniform(0, 0.8 * theta_E) * np.exp(1j * rng.uniform(0, 2 * np.pi))
        x, y = solver.image_position_from_source(beta.real, beta.imag, kwargs, search_window=6 * theta_E,
                                                 min_distance=0.02, precision_limit=1e-8)
        if len(x) < 2:
            continue
        n_multiple += 1
        worst = max(worst, MIN_THETA_E_FRACTION * np.max(np.hypot(x, y)) / theta_E)
    assert n_multiple >= 15
    assert worst < 1.0, worst


def test_plausible_passes_over_fits_that_cannot_have_made_the_arc(tmp_path):
    from tinylens.pipeline.mass_source import plausible
    from tinylens.pipeline.optimize import Fit
    from tinylens.pipeline.run import _floored

    import tinylens
    from tiny_lens import write_tiny_lens

    problem = tinylens.load(write_tiny_lens(tmp_path))
    i = problem.param_names.index("lens_mass.0.theta_E")
    collapsed, lensed = np.full(problem.ndim, 0.1), np.full(problem.ndim, 0.1)
    collapsed[i], lensed[i] = 0.08, 1.3
    fits = [Fit(collapsed, 100.0, 1), Fit(lensed, 50.0, 1)]
    assert [f.log_post for f in plausible(fits, problem.spec, 0.5)] == [50.0]
    assert len(plausible(fits, problem.spec, 0.0)) == 2
    assert len(plausible(fits, problem.spec, 2.0)) == 2  # none reaches the floor: nothing is dropped
    lower, upper = np.zeros(problem.ndim), np.ones(problem.ndim) * 3
    assert _floored(problem, lower, upper, 0.5)[i] == 0.5 and _floored(problem, lower, upper, 0.5).sum() == 0.5
    assert _floored(problem, lower, upper, 5.0)[i] == 3.0  # never above the upper edge


def test_double_radius_is_the_einstein_radius_of_a_double():
    """An isothermal sphere images a source at beta to theta_E + beta and, opposite, theta_E - beta;
    the arc's bright outer image alone would put the Einstein radius at the outer one."""
    from tinylens.pipeline.arc import Arc
    from tinylens.pipeline.mass_source import double_radius, other_radii

    center, theta_E, beta, phi = np.array([0.1, -0.2]), 1.2, 0.5, np.radians(30.0)
    unit = lambda a: np.array([np.cos(a), np.sin(a)])  # noqa: E731
    peaks = np.array([center + (theta_E + beta) * unit(phi), center + 1.68 * unit(phi + np.radians(10)),
                      center - (theta_E - beta) * unit(phi)])
    arc = Arc(np.zeros((4, 4), bool), np.zeros((4, 4)), 1.7, peaks, 100)
    assert double_radius(arc, tuple(center), r_min=0.2) == pytest.approx(theta_E)
    assert other_radii(arc, tuple(center), 1.7, r_min=0.2) == [pytest.approx(theta_E)]  # the peaks' median (1.68) is not
    one_side = Arc(np.zeros((4, 4), bool), np.zeros((4, 4)), 1.7, peaks[:2], 100)
    assert np.isnan(double_radius(one_side, tuple(center), r_min=0.2))


def test_double_radius_of_an_elliptical_lens_by_lenstronomy():
    """SIE q = 0.75 (lenstronomy's image positions as truth): within 10 % of theta_E."""
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver
    from tinylens.pipeline.arc import Arc
    from tinylens.pipeline.mass_source import double_radius

    kwargs = [{"theta_E": 1.0, "e1": 0.14, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}]
    for beta in ((0.35, 0.2), (-0.1, 0.45)):
        x, y = LensEquationSolver(LensModel(["SIE"])).image_position_from_source(*beta, kwargs, min_distance=0.01, search_window=5)
        assert len(x) == 2  # a double
        arc = Arc(np.zeros((4, 4), bool), np.zeros((4, 4)), 1.0, np.column_stack([x, y]), 100)
        assert double_radius(arc, (0.0, 0.0), r_min=0.1) == pytest.approx(1.0, rel=0.1)


def test_significance_beside_masked_pixels_is_unit_variance_on_noise():
    """Masked pixels (cosmic rays, bad columns) gave no residual to the smoothed map but their
    noise to its variance, so the significance of the pixels beside them was too low (std 0.93
    with a fifth of the pixels masked) and a faint arc's pixels beside them were not taken."""
    rng = np.random.default_rng(3)
    used = rng.random((200, 200)) > 0.2
    arc = find_arc(rng.normal(0, 0.1, (200, 200)), np.full((200, 200), 0.1), PIX, used=used)
    inner = np.zeros((200, 200), bool)
    inner[20:-20, 20:-20] = True
    assert abs(arc.significance[used & inner].std() - 1) < 0.05

