"""examples/mocks/template_2mge.yaml: the population's own template with its Sersic lens light
replaced by the two MGEs of the SLACS two-MGE template; it fits a bulge+disc mock."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinylens
from tinylens.config.model_spec import free_parameter_names
from tinylens.survey.population import PopulationOptions, simulate_population, template_config
from tinylens.survey.runner import find_lenses, lens_config, load_template

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_two_mge_mock_template_is_the_population_template_with_two_mges():
    two = load_template(EXAMPLES / "mocks" / "template_2mge.yaml")
    population = template_config(PopulationOptions(shear_max=0))
    slacs = load_template(EXAMPLES / "slacs" / "template_2mge_sie.yaml")
    light, slacs_light = two["model_components"].pop("lens_light_list"), slacs["model_components"]["lens_light_list"]
    population["model_components"].pop("lens_light_list")
    # the population's sampler settings, but nlive 100 as docs/mocks.md's runs
    assert two["inference"]["settings"].pop("nlive") == 100
    population["inference"]["settings"].pop("nlive")
    assert two == population
    for mine, theirs in zip(light, slacs_light, strict=True):
        assert mine["params"] == theirs["params"]
        # the narrowest Gaussian ~ the population's 0.074" pixel, as the SLACS template's ~ its 0.05"
        assert mine["settings"] == {**theirs["settings"], "sigma_min": 0.03}


def test_two_mge_mock_template_loads_a_bulge_and_disc_lens(tmp_path):
    simulate_population(1, tmp_path / "mocks", seed=5, size=56, nsub=2, shear_max=0, lens_disc_fraction_range=(0.3, 0.7))
    config = lens_config(load_template(EXAMPLES / "mocks" / "template_2mge.yaml"), find_lenses(tmp_path / "mocks")[0],
                         tmp_path / "fits")
    problem = tinylens.load(config)
    assert problem.dataset.data.shape == (56, 56)
    assert free_parameter_names(problem.config.model_components) == problem.param_names  # a sampler's first count
    assert {"lens_light.0.e1", "lens_light.1.e1", "lens_mass.0.theta_E"} <= set(problem.param_names)
    assert not any(n.startswith("lens_mass.1") for n in problem.param_names)
    assert np.isfinite(problem.log_likelihood(problem.prior_transform(np.full(problem.ndim, 0.5))))
