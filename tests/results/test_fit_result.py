"""The :class:`tinylens.FitResult` a notebook user holds: comparing, printing."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tinylens import FitResult
from tinylens.results.tables import summarize, summary_frame

NAMES = ("lens_mass.0.theta_E", "source_light.0.R_sersic")


def a_result(seed: int = 0, **changes) -> FitResult:
    """A small FitResult as :func:`tinylens.fit` returns, without fitting (a NaN among the derived)."""
    rng = np.random.default_rng(seed)
    samples = rng.normal([1.2, 0.3], 0.01, size=(50, 2))
    weights = np.full(50, 1 / 50)
    params = summarize(dict(zip(NAMES, samples.T)), weights)
    derived = {"source.mag": {"median": float("nan"), "interval_68": [float("nan")] * 2,
                              "interval_997": [float("nan")] * 2}}
    result = FitResult(
        method="nautilus", param_names=NAMES, median={n: s["median"] for n, s in params.items()},
        max_likelihood=dict(zip(NAMES, samples[0].tolist())), max_log_likelihood=12.5,
        interval_68={n: s["interval_68"] for n, s in params.items()},
        interval_997={n: s["interval_997"] for n, s in params.items()}, log_evidence=3.25,
        n_likelihood_evals=1234, wall_time_s=5.0, converged=True, derived=derived,
        quality={"trusted": False, "flags": ["prior_edge", "arc_residuals"], "critical": ["prior_edge"]},
        versions={"tinylens": "0.1.0"},
        config={"dataset": {"data_path": "image.fits"}, "model_components": {"lens_mass": ["SIE"]}},
        config_dir="/data/lens", files={"summary": "result_summary.csv"}, info={"n_eff": 400.0},
        output_dir=Path("/data/lens/output"), samples=samples, weights=weights,
        log_likelihood=rng.normal(size=50), summary=summary_frame(params, derived, 3.25), total_time_s=9.0)
    return replace(result, **changes)


def test_results_compare_by_content_and_are_found_in_a_list():
    """``result == other`` and ``result in results`` raised 'The truth value of an array with more
    than one element is ambiguous' for any two results but the same object."""
    result = a_result()
    same = copy.deepcopy(result)
    other = a_result(seed=1)
    assert result == same and not result != same  # NaN medians and all
    assert result != other and result != replace(result, samples=result.samples + 1e-9)
    assert result != replace(result, summary=result.summary.iloc[:1]) and result != replace(result, truth={"x": 1.0})
    assert result in [other, same] and [other, same].index(result) == 1 and result not in [other]
    assert result != "result" and result != None  # noqa: E711


def test_the_printed_result_is_a_short_summary():
    """A result typed in a notebook printed every field: about 8000 characters for a lens with
    lens light and shear (each parameter's median, intervals, the quality's metrics, ...). It is
    now a few lines: the lens, the sampler, log Z, the Einstein radius with its intervals, the
    trust verdict and flags; the rest stays in the attributes it names."""
    result = a_result()
    text = repr(result)
    lines = text.splitlines()
    assert len(lines) <= 8 and len(text) < 600 and str(result) == text
    assert lines[0] == "FitResult of image.fits: nautilus, converged, 1,234 likelihood calls in 5.0 s"
    assert "log Z = 3.25" in text
    median, (lo, hi) = result.median[NAMES[0]], result.interval_997[NAMES[0]]
    assert f"lens_mass.0.theta_E = {median:.4f} (68 %: " in text and f"99.7 %: {lo:.4f} to {hi:.4f})" in text
    assert "NOT trusted: prior_edge; flags: prior_edge, arc_residuals" in text
    assert "/data/lens/output" in text and ".summary" in text and "model_components" not in text
    stopped = replace(result, converged=False, log_evidence=None, param_names=NAMES[1:],
                      quality={"trusted": True, "flags": []})
    text = repr(stopped)
    assert "NOT converged" in text and "log Z = none" in text and "theta_E" not in text and "trusted; flags: none" in text


def test_a_result_whose_posterior_reaches_the_box_edge_is_not_said_to_have_stopped_early():
    """A pipeline fit whose sampler converged but whose posterior still reached the sampling box's
    edge (converged false, flagged box_edge) printed 'NOT converged (stopped early)', which sends
    the user to raise limits that were never reached; it now says what happened."""
    crowded = {"pipeline": {"crowded_edges": ["lens_mass.0.theta_E:upper"], "sampler_converged": True}}
    text = repr(replace(a_result(), converged=False, info=crowded))
    assert "NOT converged (the posterior reaches the sampling box's edge)" in text and "stopped early" not in text
    both = {"pipeline": {**crowded["pipeline"], "sampler_converged": False}}
    assert "NOT converged (stopped early; the posterior reaches" in repr(replace(a_result(), converged=False, info=both))
    assert "NOT converged (stopped early)," in repr(replace(a_result(), converged=False))


def test_a_result_given_where_a_folder_is_wanted_is_refused_with_the_attribute_that_holds_it():
    """read_result(result), load_stored(result), fit(..., output=result) and load(..., base_dir=result)
    put the FitResult's repr, 6 lines, into the message (load_stored's cut at 60 characters mid-word),
    naming no attribute to give; each is a ConfigTypeError of one line that names result.output_dir
    (result.config_dir for base_dir), and an array given is shown on one line, cut to 60 characters."""
    import numpy as np

    import tinylens
    from tinylens.results.stored import load_stored

    result = a_result()
    calls = [(lambda: tinylens.read_result(result), "read_result takes the output folder of a fit (a str or pathlib.Path); "
              "got a FitResult (what tinylens.fit and tinylens.read_result return): give result.output_dir to read it "
              "again from its folder."),
             (lambda: load_stored(result), "load_stored takes the path of a fit's result.json (a str or pathlib.Path); got "
              "a FitResult (what tinylens.fit and tinylens.read_result return): give result.output_dir / 'result.json'."),
             (lambda: tinylens.fit(result.config, output=result), "output must be a folder (a str or pathlib.Path); got a "
              "FitResult (what tinylens.fit and tinylens.read_result return): give result.output_dir."),
             (lambda: tinylens.load(result.config, base_dir=result), "base_dir must be a folder (a str or pathlib.Path); got "
              "a FitResult (what tinylens.fit and tinylens.read_result return): give result.config_dir.")]
    for call, expected in calls:
        with pytest.raises(TypeError) as info:
            call()
        assert isinstance(info.value, tinylens.ConfigTypeError)
        assert str(info.value) == expected
    with pytest.raises(tinylens.ConfigTypeError) as info:
        tinylens.read_result(np.zeros((40, 40)))
    text = str(info.value)
    assert "\n" not in text and text.startswith("read_result takes the output folder of a fit (a str or pathlib.Path); "
                                                "got ndarray array([[0., 0., 0.,")
    assert len(text) < 200
