"""Derived quantities' summaries: angles unwrapped about the posterior, not about its tail."""

from __future__ import annotations

import numpy as np

from tinylens.results.derived import unwrap_angle
from tinylens.results.tables import weighted_percentiles


def test_angles_are_unwrapped_about_the_weighted_mean():
    """A posterior at 80 +- 3 deg, plus many nearly weightless early samples of a nested sampler at
    -10 deg: unweighted, the cut (mean + 90 deg) falls at ~80 deg and splits the posterior in two
    groups 180 deg apart; weighted, it falls opposite the posterior, which stays whole."""
    rng = np.random.default_rng(1)
    post = rng.normal(80.0, 3.0, 400)
    early = rng.normal(-10.0, 1.0, 4000)
    phi = np.concatenate([post, early])
    weights = np.concatenate([np.ones(400), np.full(4000, 1e-8)])
    assert np.ptp(unwrap_angle(phi)[:400]) > 170  # the split that weights prevent
    unwrapped = unwrap_angle(phi, weights)
    assert np.allclose(unwrapped[:400], post)
    median = weighted_percentiles(unwrapped, weights, [50.0])[0]
    assert abs(median - 80.0) < 1.0
