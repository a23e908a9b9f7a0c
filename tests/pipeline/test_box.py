"""The sampling box: Laplace widths, clipping, prior mass and crowded edges."""

from __future__ import annotations

import numpy as np
from scipy import stats

from tinylens.pipeline import box as bx
from tinylens.priors import Prior


def test_laplace_sigmas_are_marginal_standard_deviations():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    cov = a @ a.T + 0.1 * np.eye(4)
    np.testing.assert_allclose(bx.laplace_sigmas(np.linalg.inv(cov)), np.sqrt(np.diag(cov)), rtol=1e-8)


def test_flat_direction_gives_infinite_width_and_ceiling():
    h = np.diag([1e4, 0.0])
    sig = bx.laplace_sigmas(h)
    assert np.isclose(sig[0], 0.01) and np.isinf(sig[1])
    priors = (Prior("uniform", 0.0, 3.5), Prior("gaussian", 0.0, 0.3, -1, 1))
    w = bx.half_widths(("lens_mass.0.theta_E", "lens_mass.0.e1"), priors, np.array([1.2, 0.1]), sig)
    assert np.isclose(w[0], 0.1)  # 10 sigma = 0.1, inside [3%, 30%] of 1.2
    assert np.isclose(w[1], bx.WIDTHS["e1"][1])  # unconstrained: the ceiling


def test_unconstrained_lens_light_gets_its_whole_prior_but_mass_and_source_keep_the_ceiling():
    # a faint lens galaxy: its size is barely constrained (10 sigma = 4 arcsec >> the ceiling)
    priors = (Prior("uniform", 0.001, 4.0), Prior("uniform", 0.001, 2.0), Prior("gaussian", 0.0, 0.3, -1, 1),
              Prior("uniform", 0.001, 4.0))
    names = ("lens_light.0.R_sersic", "source_light.0.R_sersic", "lens_mass.0.e1", "lens_light.1.R_sersic")
    best = np.array([0.9, 0.5, 0.1, 1.0])
    sig = np.array([0.4, 0.4, np.inf, 0.001])
    w = bx.half_widths(names, priors, best, sig)
    lower, upper = bx.box_around(priors, best, w)
    assert (lower[0], upper[0]) == (0.001, 4.0)  # the whole prior
    assert np.isclose(w[1], 1.0 * 0.5)  # the source keeps its ceiling (100 % of the best size)
    assert np.isclose(w[2], bx.WIDTHS["e1"][1])  # a flat mass direction: the ceiling
    assert np.isclose(w[3], 0.15)  # a well-constrained lens light: its floor, as before


def test_an_offset_gets_its_parameters_widths():
    # lens_mass.0.e1 relative_to the lens light's: the sampled offset is an ellipticity difference
    priors = (Prior("gaussian", 0.0, 0.1, -0.9, 0.9),) * 2
    w = bx.half_widths(("lens_mass.0.e1_offset", "lens_mass.0.e1_offset"), priors, np.zeros(2), np.array([1e-6, np.inf]))
    assert np.isclose(w[0], bx.WIDTHS["e1"][0]) and np.isclose(w[1], bx.WIDTHS["e1"][1])


def test_floor_applies_to_tiny_widths():
    priors = (Prior("uniform", 0.0, 3.5),)
    w = bx.half_widths(("lens_mass.0.theta_E",), priors, np.array([2.0]), np.array([1e-6]))
    assert np.isclose(w[0], 0.03 * 2.0)


def test_box_prior_mass_matches_scipy():
    priors = (Prior("uniform", 0.0, 3.5), Prior("gaussian", 0.0, 0.3, -1, 1))
    lower, upper = bx.box_around(priors, np.array([1.0, 0.2]), np.array([0.5, 0.1]))
    expected = np.log(1.0 / 3.5)
    norm = stats.norm(0, 0.3).cdf(1) - stats.norm(0, 0.3).cdf(-1)
    expected += np.log((stats.norm(0, 0.3).cdf(0.3) - stats.norm(0, 0.3).cdf(0.1)) / norm)
    assert np.isclose(bx.log_box_mass(priors, lower, upper), expected)
    boxed = bx.boxed(priors, lower, upper)
    assert boxed[0].support == (0.5, 1.5) and boxed[1].support == (0.1, 0.30000000000000004)


def test_crowded_edges_and_widen():
    rng = np.random.default_rng(3)
    priors = (Prior("uniform", -5, 5), Prior("uniform", -5, 5))
    # parameter 0 well inside its box; parameter 1 truncated at its upper box edge
    s = np.stack([rng.normal(0, 0.1, 5000), np.clip(rng.normal(0.9, 0.3, 5000), -1, 1)], axis=1)
    s = s[s[:, 1] < 1.0]
    lower, upper = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    edges = bx.crowded_edges(s, np.ones(len(s)), priors, lower, upper)
    assert edges == [(1, "upper")]
    # several crowded parameters: every range grows, re-centred on the posterior
    both = [(0, "lower"), (1, "upper")]
    lo2, up2 = bx.widen(lower, upper, s, np.ones(len(s)), both, priors)
    centre = np.median(s, axis=0)
    assert np.allclose(0.5 * (lo2 + up2), centre, atol=0.01)  # (a weighted median: equal to numpy's up to one sample)
    std = s.std(axis=0)
    for i in (0, 1):
        assert np.isclose(up2[i] - lo2[i], 2 * max(3 * 1.0, 20 * std[i]), rtol=1e-6)  # crowded: 3x, or 20 sigma
    s4 = np.column_stack([s, rng.normal(0.2, 0.1, len(s))])
    lo4, up4 = bx.widen(np.r_[lower, -1.0], np.r_[upper, 1.0], s4, np.ones(len(s4)), both,
                        priors + (Prior("uniform", -5, 5),))
    assert np.isclose(up4[2] - lo4[2], 2 * max(1.5 * 1.0, 20 * s4[:, 2].std()), rtol=1e-6)  # the others: 1.5x, or 20 sigma
    # one crowded parameter among several: only its range grows, around the posterior median
    s3 = np.column_stack([s, rng.normal(0.2, 0.1, len(s))])
    priors3 = priors + (Prior("uniform", -5, 5),)
    lo3, up3 = bx.widen(np.r_[lower, -1.0], np.r_[upper, 1.0], s3, np.ones(len(s3)), [(1, "upper")], priors3)
    assert np.allclose(lo3[[0, 2]], -1.0) and np.allclose(up3[[0, 2]], 1.0)
    assert lo3[1] <= -1.0 and np.isclose(up3[1], np.median(s[:, 1]) + max(3.0, 20 * s[:, 1].std()), rtol=1e-3)
    # an edge that is the prior's own is never crowded
    assert bx.crowded_edges(s, np.ones(len(s)), (priors[0], Prior("uniform", -1, 1)), lower, upper) == []


def test_widening_one_parameter_uses_that_parameters_own_prior():
    """A single crowded parameter is widened within its own prior's support, not the first
    parameter's: an ellipticity whose posterior crowds a box edge at -0.03 must be able to go
    below 0 even when the first parameter is theta_E ~ U(0, 3.5)."""
    rng = np.random.default_rng(5)
    priors = (Prior("uniform", 0.0, 3.5), Prior("gaussian", 0.0, 0.3, -1.0, 1.0))
    lower, upper = np.array([0.9, -0.03]), np.array([1.1, 0.5])
    e = rng.normal(0.0, 0.05, 20000)
    s = np.column_stack([rng.normal(1.0, 0.005, e.size), e])
    s = s[(s[:, 1] > lower[1]) & (s[:, 1] < upper[1])]
    edges = bx.crowded_edges(s, np.ones(len(s)), priors, lower, upper)
    assert edges == [(1, "lower")]
    lo, up = bx.widen(lower, upper, s, np.ones(len(s)), edges, priors)
    assert lo[0] == 0.9 and up[0] == 1.1  # the other parameter keeps its range
    assert -1.0 <= lo[1] < -0.1  # grown below 0, down to at most the prior's own limit
    assert 0.5 <= up[1] <= 1.0  # never beyond the prior's support
    # widened to the prior's own limit, the edge is no longer a box edge
    assert bx.crowded_edges(s, np.ones(len(s)), priors, np.array([0.9, -1.0]), upper) == []


def test_a_floor_below_an_unbounded_side_is_crowded_only_when_the_posterior_reaches_it():
    """With pipeline.bounded: false the box is the priors, less stage 3's theta_E floor; under a
    Gaussian theta_E prior (no upper bound) the box is infinitely wide, and its 2 % "near the
    edge" band was infinite too, so every posterior was said to crowd the floor (box_edge, an
    untrusted fit) wherever it lay. The band is now measured on the posterior's own spread."""
    rng = np.random.default_rng(5)
    priors = (Prior("gaussian", 1.2, 0.5),)
    lower, upper = np.array([0.6]), np.array([np.inf])
    far = rng.normal(1.2, 0.01, 4000)[:, None]
    assert bx.crowded_edges(far, np.ones(len(far)), priors, lower, upper) == []
    piled = (0.6 + np.abs(rng.normal(0.0, 0.02, 4000)))[:, None]
    assert bx.crowded_edges(piled, np.ones(len(piled)), priors, lower, upper) == [(0, "lower")]


def test_without_the_box_a_posterior_well_above_the_floor_of_a_wide_prior_is_not_crowded():
    """pipeline.bounded: false under a wide uniform theta_E prior, U(0, 10) with a floor of 0.1":
    the 'within 2 %' band was 2 % of the prior's range above the floor (0.2"), so a posterior at
    0.30" +- 0.01", twenty of its widths clear of the floor, was flagged box_edge (untrusted).
    Measured on the posterior's own range, it is not, and one piled at the floor still is."""
    rng = np.random.default_rng(7)
    priors = (Prior("uniform", 0.0, 10.0),)
    lower, upper = np.array([0.1]), np.array([10.0])
    clear = rng.normal(0.3, 0.01, 4000)[:, None]
    assert bx.crowded_edges(clear, np.ones(len(clear)), priors, lower, upper, own_range=True) == []
    piled = (0.1 + np.abs(rng.normal(0.0, 0.02, 4000)))[:, None]
    assert bx.crowded_edges(piled, np.ones(len(piled)), priors, lower, upper, own_range=True) == [(0, "lower")]
