"""The model figure's summary panel: what an astronomer reads beside the best-fit model."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tinylens.fitting.summary import _summary_lines


def _result(n_samples: int = 2) -> SimpleNamespace:
    return SimpleNamespace(method="nautilus", log_evidence=18475.0, log_likelihood=np.zeros(n_samples),
                           n_likelihood_evals=51549, wall_time_s=110.9, samples=np.zeros((n_samples, 2)))


#: The demo fit's statistics (its result_summary.csv).
DEMO = {
    "lens_mass.0.theta_E": {"median": 1.250529, "interval_68": [1.2501832, 1.2508872]},
    "lens_light.0.flux": {"median": 2696.594, "interval_68": [2687.2139, 2705.7627]},
    "source_light.0.n_sersic": {"median": 1.1837517, "interval_68": [1.1730559, 1.1946413]},
}


def test_medians_are_shown_to_two_digits_of_their_half_width():
    """The panel printed each median to four significant digits whatever its error, so the demo's
    Einstein radius read "1.251 ± 0.00035", rounded by 1.4 of its half-widths (its true value is 1.25)."""
    lines = _summary_lines(_result(), DEMO, {"flags": [], "critical": []})
    assert 'mass0.theta_E: 1.25053 ± 0.00035"' in lines
    assert "light0.flux: 2696.6 ± 9.3" in lines
    assert "src0.n_sersic: 1.184 ± 0.011" in lines


def test_an_optimisers_single_point_is_given_to_five_significant_digits_in_plain_digits():
    lines = _summary_lines(_result(1), DEMO, {"flags": [], "critical": []})
    assert 'mass0.theta_E: 1.2505"' in lines and "light0.flux: 2696.6" in lines
    assert not any("±" in line for line in lines)


@pytest.mark.parametrize("err, places", [(0.00035, 5), (0.011, 3), (9.3, 1), (12.0, 0), (3e4, 0), (1e-12, 8),
                                         (0.0, None), (float("nan"), None), (-1.0, None)])
def test_decimals_give_two_significant_digits_of_the_error(err, places):
    from tinylens.results.plots import decimals

    assert decimals(err) == places


def test_a_magnitude_with_an_open_end_is_shown_as_its_interval_not_nan():
    """Since f4bfb14 a magnitude's median or faint end is NaN (null in result.json) where part of
    the posterior has no flux; the panel printed "src0.mag: nan ± nan" and "light0.mag: 20 ± nan"."""
    from tinylens.results.derived import magnitude_summaries

    flux = {"source_light.0.flux": {"median": 0.0, "interval_68": [0.0, 50.0], "interval_997": [0.0, 200.0]},
            "lens_light.0.flux": {"median": 100.0, "interval_68": [0.0, 150.0], "interval_997": [0.0, 200.0]}}
    lines = _summary_lines(_result(), {**flux, **magnitude_summaries(flux, 25.0)}, {"flags": [], "critical": []})
    assert "src0.mag: none (68 %: 20.75 to none)" in lines, lines
    assert "light0.mag: 20 (68 %: 19.56 to none)" in lines, lines
    assert not any("nan" in line for line in lines), lines


def test_an_optimisers_magnitude_without_flux_is_none_not_nan():
    """An optimiser's best fit with a component switched off (flux 0) has no magnitude (null in
    result.json); the panel printed "src0.mag: nan"."""
    from tinylens.results.derived import magnitude_summaries

    flux = {"source_light.0.flux": {"median": 0.0, "interval_68": [0.0, 0.0], "interval_997": [0.0, 0.0]}}
    lines = _summary_lines(_result(1), {**flux, **magnitude_summaries(flux, 25.0)}, {"flags": [], "critical": []})
    assert "src0.mag: none" in lines and not any("nan" in line for line in lines), lines


@pytest.mark.parametrize("median, interval, shown", [
    (1.14, (1.06, 1.22), "src0.n_sersic: 1.140 ± 0.080"),  # was "1.140 ± 0.08"
    (0.5, (0.4, 0.6), "src0.n_sersic: 0.50 ± 0.10"),  # was "0.50 ± 0.1"
    (1234.0, (1111.0, 1357.0), "src0.n_sersic: 1234 ± 123"),  # was "1234 ± 1.2e+02"
    (25000.0, (20000.0, 30000.0), "src0.n_sersic: 25000 ± 5000"),  # was "25000 ± 5e+03"
    (2.0, (2.0 - 4e-12, 2.0 + 4e-12), "src0.n_sersic: 2.00000000 ± 4e-12"),  # under 8 places: not "± 0.00000000"
])
def test_a_half_width_has_the_decimal_places_of_its_median(median, interval, shown):
    """The panel wrote the half-width with .2g, so an error of 0.080 beside its median 1.140 read
    "1.140 ± 0.08" (the value and its error to different places) and one of 123 read "1.2e+02"."""
    stats = {"source_light.0.n_sersic": {"median": median, "interval_68": list(interval)}}
    lines = _summary_lines(_result(), stats, {"flags": [], "critical": []})
    assert shown in lines, lines
    value, err = shown.split(": ")[1].split(" ± ")
    assert len(value.partition(".")[2]) == len(err.partition(".")[2]) or float(err) < 1e-8  # the same places
    assert float(err) == pytest.approx((interval[1] - interval[0]) / 2, rel=0.06)  # the width itself, rounded


@pytest.mark.parametrize("half, shown", [(6e-9, "6e-09"), (1.4e-8, "1.4e-08"), (5e-8, "5e-08"), (1e-7, "0.00000010")])
def test_a_half_width_past_eight_decimal_places_keeps_two_significant_figures(half, shown):
    """The median's places stop at 8, so an error under 1e-7 written to them lost its figures:
    6e-9 read "± 0.00000001" (67 % too wide, where 5e-9 read "5e-09") and 1.4e-8 the same."""
    stats = {"source_light.0.n_sersic": {"median": 2.0, "interval_68": [2.0 - half, 2.0 + half]}}
    lines = _summary_lines(_result(), stats, {"flags": [], "critical": []})
    assert f"src0.n_sersic: 2.00000000 ± {shown}" in lines, lines
    assert float(shown) == pytest.approx(half, rel=0.05)  # the width itself, to two figures


@pytest.mark.parametrize("median, interval, shown", [
    (1.234567e-9, (1.224e-9, 1.245e-9), "src0.n_sersic: 1.235e-09 ± 1.1e-11"),  # was "0.00000000 ± 1.1e-11"
    (-4.5e-8, (-4.6e-8, -4.4e-8), "src0.n_sersic: -4.50e-08 ± 1e-09"),  # was "-0.00000005 ± 1e-09"
])
def test_a_tiny_median_past_eight_decimal_places_keeps_its_figures(median, interval, shown):
    """The median's places stop at 8, so a median of 1.2e-9 (±1.1e-11) read "0.00000000": every
    figure lost, beside a half-width written to two figures. It is written with an exponent to the
    half-width's second figure, as the half-width is; the 68 % interval's ends too."""
    from tinylens.fitting.summary import _posterior_texts

    stats = {"source_light.0.n_sersic": {"median": median, "interval_68": list(interval)}}
    lines = _summary_lines(_result(), stats, {"flags": [], "critical": []})
    assert shown in lines, lines
    value, err = shown.split(": ")[1].split(" ± ")
    assert float(value) == pytest.approx(median, rel=1e-3) and float(err) == pytest.approx((interval[1] - interval[0]) / 2, rel=0.1)
    assert _posterior_texts(1.234567e-9, 1.224e-9, 1.245e-9)[2] == "1.224e-09 to 1.245e-09"


def test_an_open_ended_interval_is_written_in_plain_digits_as_a_point_is():
    """A median whose interval has an open end (no half-width: a magnitude, a flux beside one) was
    written with .4g, so a flux of 10219.43 read "1.022e+04" and its end 10000 "1e+04", where an
    optimiser's point and every half-width are written in plain digits; now "10220" and "10000"."""
    from tinylens.fitting.summary import _posterior_texts

    assert _posterior_texts(10219.43, 10000.0, None) == ("10220", None, "10000 to none")
    assert _posterior_texts(23.4567, 23.3, float("nan")) == ("23.46", None, "23.3 to none")


@pytest.mark.parametrize("median, half_width, shown", [(3e-12, 5e-9, "0"), (-3e-12, 5e-9, "0"), (9.6e-11, 5e-9, "1e-10"),
                                                       (3e-10, 5e-9, "3e-10"), (2.4e-9, 5e-9, "2.4e-09")])
def test_a_tiny_median_far_below_its_half_width_claims_no_figures_past_the_half_widths_second(median, half_width, shown):
    """Past the 8 places, a median is written to the half-width's second figure (the 1e-10 place of a
    half-width of 5e-9), but a median near zero, below that place, still got two figures of its own:
    3e-12 of an interval -5e-9 to 5e-9 read "3.0e-12", 3e-10 "3.0e-10", figures a hundred and ten
    times finer than the half-width's. A median below that place is written as 0 (it was written to
    that place in ten decimals, -0.0000000000 for -3e-12, beside values with exponents) or, where it
    rounds up to that place, as its one figure there (1e-10), as one at it is; the shown text never
    holds a figure finer than that place."""
    from tinylens.fitting.summary import _posterior_texts

    text = _posterior_texts(median, -half_width, half_width)[0]
    assert text == shown
    place = 10.0 ** (np.floor(np.log10(half_width)) - 1)
    digits = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0") or "0"
    exponent = int(text.split("e")[1]) if "e" in text else 0
    decimals = len(text.split("e")[0].split(".")[1]) if "." in text else 0
    assert 10.0 ** (exponent - decimals) >= place * 0.999, (text, digits)  # its last figure no finer than the place
    assert abs(float(text) - median) <= place / 2 * 1.001
