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
