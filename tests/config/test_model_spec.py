"""The model spec built from a validated config: profile and parameter names, aliases."""

from __future__ import annotations

import pytest

from tinylens.config.loader import validate_config
from tinylens.config.model_spec import build_model_spec
from tinylens.errors import ConfigError


def _uniform(a: float, b: float) -> dict:
    return {"prior_type": "uniform", "prior_settings": [a, b]}


def _components(mass_params: dict, source_params: dict) -> dict:
    return {
        "lens_mass_list": [{"type": "EPL", "params": mass_params}],
        "source_light_list": [{"type": "Sersic", "params": source_params}],
    }


MASS = {"theta_E": _uniform(0.5, 2.0), "gamma": {"fixed": True, "fixed_value": 2.0}, "e1": {"fixed": True, "fixed_value": 0.0},
        "e2": {"fixed": True, "fixed_value": 0.0}, "center_x": {"fixed": True, "fixed_value": 0.0},
        "center_y": {"fixed": True, "fixed_value": 0.0}}
SOURCE = {"R_sersic": _uniform(0.1, 1.0), "n_sersic": {"fixed": True, "fixed_value": 1.0},
          "center_x": _uniform(-0.5, 0.5), "center_y": _uniform(-0.5, 0.5), "Ie": {"use_linear": True}}


def _spec(mass: dict, source: dict):
    config = validate_config({"dataset": {"data_path": "i.fits", "noise_path": "n.fits", "psf_path": "p.fits",
                                          "pixel_scale": 0.1}, "model_components": _components(mass, source)}, "test")
    return build_model_spec(config.model_components)


def test_an_alias_alone_is_its_parameter():
    mass = {k: v for k, v in MASS.items() if k != "gamma"} | {"slope": _uniform(1.5, 2.5)}
    assert _spec(mass, SOURCE).param_names[:2] == ("lens_mass.0.theta_E", "lens_mass.0.gamma")


@pytest.mark.parametrize("mass, source, key, other", [
    (MASS | {"slope": {"fixed": True, "fixed_value": 2.5}}, SOURCE, "lens_mass_list[0].params.slope", "gamma"),
    (MASS, SOURCE | {"amp": _uniform(0.0, 10.0)}, "source_light_list[0].params.amp", "Ie"),
])
def test_a_parameter_given_also_by_its_alias_is_refused(mass, source, key, other):
    """EPL's gamma and slope (or a Sersic's Ie and amp) both given: one of them was silently
    ignored (the later one won)."""
    with pytest.raises(ConfigError) as info:
        _spec(mass, source)
    assert key in str(info.value) and f"'{other}'" in str(info.value)


def test_the_alias_is_named_as_the_other_name_whichever_comes_first():
    """slope before gamma: the message said "'gamma' is another name for 'gamma'"."""
    mass = {"slope": _uniform(1.5, 2.5)} | MASS
    with pytest.raises(ConfigError) as info:
        _spec(mass, SOURCE)
    assert "lens_mass_list[0].params.gamma" in str(info.value)
    assert "'slope' is another name for 'gamma'" in str(info.value)
