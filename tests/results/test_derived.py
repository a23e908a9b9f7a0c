"""Derived quantities' summaries: angles unwrapped about the posterior, not about its tail;
magnitudes that count the draws without flux."""

from __future__ import annotations

import numpy as np
import pytest

from tinylens.results import derived
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


ZEROPOINT = 25.0


@pytest.fixture(scope="module")
def problem_with_zeropoint(tmp_path_factory):
    import tinylens
    from tiny_lens import tiny_config, write_tiny_lens

    folder = tmp_path_factory.mktemp("zeropoint")
    write_tiny_lens(folder)
    config = tiny_config()
    config["dataset"]["zeropoint"] = ZEROPOINT
    return tinylens.load(config, base_dir=folder)


@pytest.mark.parametrize("n_dark", [600, 100])
def test_magnitudes_count_the_draws_whose_component_has_no_flux(problem_with_zeropoint, monkeypatch, n_dark):
    """A component that the non-negative amplitudes switch off in part of the posterior (a second
    Sersic of a lens light often is) has flux 0, hence no magnitude, in those draws. Its magnitude's
    median and interval were those of the other draws alone: with 60 % of the draws dark, a
    magnitude of 20.00 (19.96-20.04) for a component whose median flux is 0. They are now the
    magnitudes of the flux's median and interval ends, unbounded (NaN) where those are 0."""
    problem = problem_with_zeropoint
    flux = np.concatenate([np.zeros(n_dark), np.linspace(95.0, 105.0, 1000 - n_dark)])
    monkeypatch.setattr(derived, "flux_quantities",
                        lambda _, s: {"source.flux": flux, "source.mag": derived.magnitude(flux, ZEROPOINT)})
    samples = np.tile(problem.prior_transform([0.5] * problem.ndim), (1000, 1))
    stats = derived.derived_summaries(problem, samples)
    flux_stats, mag = stats["source.flux"], stats["source.mag"]
    as_mag = lambda f: ZEROPOINT - 2.5 * np.log10(f) if f > 0 else np.nan  # noqa: E731
    assert mag["median"] == pytest.approx(as_mag(flux_stats["median"]), nan_ok=True)
    for key in ("interval_68", "interval_997"):
        lo, hi = flux_stats[key]
        assert mag[key] == pytest.approx([as_mag(hi), as_mag(lo)], nan_ok=True)
    if n_dark > 500:
        assert np.isnan(mag["median"]) and np.isnan(mag["interval_68"][1])
    else:
        assert mag["median"] < mag["interval_68"][1] < 21 and np.isnan(mag["interval_997"][1])


def test_magnitude_summaries_swap_the_ends_of_the_flux_interval():
    stats = {"a.flux": {"median": 100.0, "interval_68": [10.0, 1000.0], "interval_997": [0.0, 1e4]},
             "a.q": {"median": 0.5, "interval_68": [0.4, 0.6], "interval_997": [0.3, 0.7]}}
    mags = derived.magnitude_summaries(stats, 20.0)
    assert list(mags) == ["a.mag"]
    assert mags["a.mag"]["median"] == pytest.approx(15.0)
    assert mags["a.mag"]["interval_68"] == pytest.approx([12.5, 17.5])
    assert mags["a.mag"]["interval_997"][0] == pytest.approx(10.0) and np.isnan(mags["a.mag"]["interval_997"][1])
