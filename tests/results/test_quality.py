"""Quality flags: modes, prior edges, and the residual and lensing checks on a tiny lenstronomy lens."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tinylens
from tiny_lens import FREE_TRUTH, write_tiny_lens, write_tiny_lens_shear_first
from tinylens.inference import InferenceResult
from tinylens.priors import Prior
from tinylens.results.quality import CRITICAL, assess, edge_parameters, half_light_points, separated_modes


def test_separated_modes():
    rng = np.random.default_rng(0)
    one = rng.normal(1.0, 0.01, 5000)
    two = np.concatenate([rng.normal(1.0, 0.01, 3000), rng.normal(1.2, 0.01, 2000)])
    heavy = rng.standard_t(3, 5000)  # heavy tails, one mode
    w = np.ones(5000)
    assert not separated_modes(one, w) and not separated_modes(heavy, w)
    assert separated_modes(two, w)
    # a second mode of negligible weight is not a mode
    assert not separated_modes(two, np.r_[np.ones(3000), np.full(2000, 1e-7)])


def test_edge_parameters():
    rng = np.random.default_rng(1)
    priors = (Prior("uniform", 0.0, 2.0), Prior("uniform", 0.0, 2.0), Prior("gaussian", 0.0, 0.3, -1, 1), Prior("gaussian", 0.0, 0.3))
    s = np.stack([np.abs(rng.normal(0, 0.005, 4000)),  # piled at the lower bound
                  rng.normal(1.0, 0.05, 4000),  # inside
                  np.clip(rng.normal(0.99, 0.02, 4000), -1, 1),  # at a Gaussian's limit
                  rng.normal(2.0, 0.05, 4000)], axis=1)  # far in a Gaussian's tail: no edge there
    assert edge_parameters(s, np.ones(4000), priors, ["a", "b", "c", "d"]) == ["a", "c"]


def _result(problem, samples, log_l=None, converged=True):
    n = len(samples)
    log_l = np.zeros(n) if log_l is None else log_l
    return InferenceResult("test", problem.param_names, samples, np.full(n, -np.log(n)), log_l, None, n, 1.0, converged, {})


@pytest.fixture(scope="module")
def tiny_problem(tmp_path_factory):
    return tinylens.load(write_tiny_lens(tmp_path_factory.mktemp("tiny")))


def test_truth_is_trusted_and_a_wrong_lens_is_not(tiny_problem):
    problem = tiny_problem
    truth = np.array([FREE_TRUTH[n] for n in problem.param_names])
    rng = np.random.default_rng(2)
    near = truth + rng.normal(0, 1e-3, (500, len(truth)))
    good = assess(problem, _result(problem, near, log_l=np.r_[1.0, np.zeros(499)]))
    assert good["trusted"], good
    assert 0.8 < good["metrics"]["chi2_reduced"] < 1.2 and good["metrics"]["n_images"] >= 2

    # theta_E 25% too small: the arc is not reproduced, an arc-like residual is left
    wrong = truth.copy()
    wrong[problem.param_names.index("lens_mass.0.theta_E")] *= 0.75
    bad = assess(problem, _result(problem, wrong[None, :] + rng.normal(0, 1e-3, (500, len(truth))),
                                  log_l=np.r_[1.0, np.zeros(499)]))
    assert not bad["trusted"] and "unmodelled_flux" in bad["flags"], bad
    assert bad["metrics"]["chi2_reduced"] > 2 * good["metrics"]["chi2_reduced"]

    # a source outside the Einstein radius of this round lens has one image: not a strong lens
    far = truth.copy()
    far[problem.param_names.index("source_light.0.center_x")] = 1.6
    outside = assess(problem, _result(problem, np.repeat(far[None, :], 10, axis=0), log_l=np.r_[1.0, np.zeros(9)]))
    assert outside["metrics"]["n_images"] == 1
    assert not outside["trusted"] and "not_multiply_imaged" in outside["flags"]

    # a source whose centre is just outside the cut but whose half-light disc straddles it makes
    # an arc: lensed light, not a false "not multiply imaged" (SLACS J0216-0813 with MGE light)
    straddle = truth.copy()
    straddle[problem.param_names.index("source_light.0.center_x")] = 1.05
    straddle[problem.param_names.index("source_light.0.center_y")] = 0.0
    across = assess(problem, _result(problem, np.repeat(straddle[None, :], 10, axis=0), log_l=np.r_[1.0, np.zeros(9)]))
    assert across["metrics"]["n_images"] == 1 and across["metrics"]["n_images_half_light"] == 2
    assert "not_multiply_imaged" not in across["flags"]

    unconverged = assess(problem, _result(problem, near, converged=False))
    assert not unconverged["trusted"] and "unconverged" in unconverged["flags"]
    assert set(CRITICAL) <= set(good["checks"])


@pytest.mark.parametrize("kind", ["SERSIC_ELLIPSE", "GAUSSIAN_ELLIPSE"])
def test_half_light_points_lie_on_lenstronomys_half_light_isophote(tiny_problem, kind):
    """The ring of :func:`half_light_points` is an isophote of lenstronomy's profile at the
    half-light radius: R_sersic for a Sersic (where lenstronomy's amp is the intensity), and
    sigma sqrt(2 ln 2) for a Gaussian, which encloses half its flux."""
    from lenstronomy.LightModel.light_model import LightModel

    from tinylens.config.model_spec import Component, Ref
    from tinylens.profiles.light import LIGHT_PROFILES

    kw = {"e1": 0.25, "e2": -0.15, "center_x": 0.3, "center_y": -0.2}
    size = {"R_sersic": 0.4, "n_sersic": 2.0} if kind == "SERSIC_ELLIPSE" else {"sigma": 0.3}
    params = {k: Ref("const", value=v) for k, v in {**kw, **size}.items()}
    comp = Component("source_light_list", 0, LIGHT_PROFILES[kind], params)
    points = half_light_points(np.zeros(0), comp, n=12)
    assert np.allclose(points[0], [0.3, -0.2])
    light = LightModel([kind])
    amp = {"amp": 1.0}
    values = light.surface_brightness(points[1:, 0], points[1:, 1], [{**amp, **kw, **size}])
    if kind == "SERSIC_ELLIPSE":
        assert np.allclose(values, 1.0, rtol=1e-4)  # lenstronomy's amp: the intensity at R_sersic
    else:
        # an isophote at half the peak: a Gaussian encloses 1 - I(R)/I(0) of its flux within R
        assert np.allclose(values, values[0], rtol=1e-5)
        peak = light.surface_brightness(np.array([0.3]), np.array([-0.2]), [{**amp, **kw, **size}])[0]
        assert np.isclose(values[0] / peak, 0.5, rtol=1e-5)


def test_prior_edge_of_the_mass_is_critical_and_of_the_light_is_not(tiny_problem):
    """An Einstein radius piled at its prior bound is a failure; an unused light component's
    size at its bound (SLACS J0044+0113, within 1 % of Bolton et al.) is only reported."""
    problem = tiny_problem
    names = problem.param_names
    truth = np.array([FREE_TRUTH[n] for n in names])
    rng = np.random.default_rng(4)
    samples = truth + rng.normal(0, 1e-3, (500, len(truth)))
    log_l = np.r_[1.0, np.zeros(499)]

    light = samples.copy()
    light[1:60, names.index("source_light.0.R_sersic")] = 0.0201  # 12 % of the weight at the 0.02 bound
    light_res = assess(problem, _result(problem, light, log_l=log_l))
    assert light_res["metrics"]["prior_edge_parameters"] == ["source_light.0.R_sersic"]
    assert "light_prior_edge" in light_res["flags"] and "prior_edge" not in light_res["flags"]
    assert light_res["trusted"], light_res
    assert 0.8 < light_res["metrics"]["noise_scale"] < 1.2  # Gaussian noise, right noise map

    mass = samples.copy()
    mass[1:60, names.index("lens_mass.0.theta_E")] = 0.5001  # at the 0.5 bound
    mass_res = assess(problem, _result(problem, mass, log_l=log_l))
    assert "prior_edge" in mass_res["flags"] and not mass_res["trusted"]


def test_an_einstein_radius_under_two_pixels_is_not_a_lens(tiny_problem):
    """The failure of SLACS J0405-0455 / J0822+2652: theta_E -> 0, the 'source' unlensed on the lens."""
    problem = tiny_problem
    names = problem.param_names
    best = np.array([FREE_TRUTH[n] for n in names])
    assert "tiny_einstein_radius" not in assess(problem, _result(problem, best[None, :]))["flags"]
    best[names.index("lens_mass.0.theta_E")] = 1.9 * problem.dataset.pixel_scale
    tiny = assess(problem, _result(problem, best[None, :]))
    assert "tiny_einstein_radius" in tiny["flags"] and not tiny["trusted"]


def test_peaks_apart_sees_a_counter_image_the_model_leaves_out(tiny_problem):
    """SLACS J2303+1422's failure: a mass too small, the source on one image, the other image left
    out. The tiny lens is an SIS (theta_E 1") with the source at beta = (0.1, -0.06): images at
    (1 + |beta|) and -(1 - |beta|) along beta's direction, which meet at the source under the
    truth. Under theta_E 0.55" with the source where the outer image lands, (1.117 - 0.55) along
    beta, the inner image lands at -(0.883 - 0.55): 0.9" = 1.64 theta_E from the source."""
    problem = tiny_problem
    names = problem.param_names
    truth = np.array([FREE_TRUTH[n] for n in names])
    good = assess(problem, _result(problem, truth[None, :]))
    assert good["metrics"]["peaks_apart_theta_E"] == 0.0 and "peaks_apart" not in good["flags"]  # none left out

    beta = np.array([0.1, -0.06])
    unit = beta / np.hypot(*beta)
    wrong = truth.copy()
    wrong[names.index("lens_mass.0.theta_E")] = 0.55
    wrong[names.index("source_light.0.center_x")], wrong[names.index("source_light.0.center_y")] = (1 + np.hypot(*beta) - 0.55) * unit
    bad = assess(problem, _result(problem, wrong[None, :]))
    assert np.isclose(bad["metrics"]["peaks_apart_theta_E"], 0.9 / 0.55, rtol=0.1), bad["metrics"]
    assert "peaks_apart" in bad["flags"] and not bad["trusted"]


def test_config_chooses_the_critical_flags(tmp_path):
    """quality.critical in the config decides which flags make a result untrusted."""
    names_truth = FREE_TRUTH
    loose = tinylens.load(write_tiny_lens(tmp_path / "a"), )
    strict_cfg = write_tiny_lens(tmp_path / "b")
    import yaml
    cfg = yaml.safe_load(strict_cfg.read_text())
    cfg["quality"] = {"critical": ["unconverged"]}
    strict_cfg.write_text(yaml.safe_dump(cfg))
    only_unconverged = tinylens.load(strict_cfg)
    best = np.array([names_truth[n] for n in loose.param_names])
    best[loose.param_names.index("lens_mass.0.theta_E")] = 0.1  # tiny_einstein_radius, unmodelled flux
    default = assess(loose, _result(loose, best[None, :]))
    chosen = assess(only_unconverged, _result(only_unconverged, best[None, :]))
    assert not default["trusted"] and "tiny_einstein_radius" in default["flags"]
    assert chosen["trusted"] and chosen["critical"] == ["unconverged"] and chosen["flags"] == default["flags"]

    cfg["quality"] = {"critical": ["unmodeled_flux"]}
    strict_cfg.write_text(yaml.safe_dump(cfg))
    with pytest.raises(tinylens.errors.ConfigError, match="quality.critical"):
        tinylens.load(strict_cfg)


def test_the_checks_are_plain_bools_that_json_takes(tiny_problem):
    """result.quality["checks"] held numpy bools (not_multiply_imaged always, arc_residuals when
    raised), so that json.dumps(result.quality) in a notebook failed ("Object of type bool is not
    JSON serializable") and `checks[...] is False` was false though result.json said false."""
    problem = tiny_problem
    names = problem.param_names
    wrong = np.array([FREE_TRUTH[n] for n in names])
    wrong[names.index("lens_mass.0.theta_E")] *= 0.75  # raises arc_residuals
    quality = assess(problem, _result(problem, wrong[None, :]))
    assert quality["checks"]["arc_residuals"]
    assert all(type(v) is bool for v in quality["checks"].values()), quality["checks"]
    assert json.loads(json.dumps(quality)) == quality


def test_a_shear_listed_before_the_main_deflector_keeps_the_lensing_checks(tmp_path):
    """With ``lens_mass_list: [SHEAR, SIE]`` the checks read theta_E and the lens centre of the
    SHEAR, which has neither: tiny_einstein_radius, peaks_apart and not_multiply_imaged were never
    raised and n_images was None, whatever the fit."""
    problem = tinylens.load(write_tiny_lens_shear_first(tmp_path))
    names = problem.param_names
    best = np.array([FREE_TRUTH[n.replace("lens_mass.1.", "lens_mass.0.")] for n in names])
    good = assess(problem, _result(problem, best[None, :]))
    assert good["metrics"]["n_images"] >= 2 and good["trusted"], good
    best[names.index("lens_mass.1.theta_E")] = 1.9 * problem.dataset.pixel_scale
    assert "tiny_einstein_radius" in assess(problem, _result(problem, best[None, :]))["flags"]
