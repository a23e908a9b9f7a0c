"""The model spec built from a validated config: profile and parameter names, aliases."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from tinylens.config.loader import validate_config
from tinylens.config.model_spec import build_model_spec
from tinylens.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


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


def _gaussian(mean: float, sigma: float, limits: list[float] | None = None) -> dict:
    return {"prior_type": "gaussian", "prior_settings": [mean, sigma]} | ({"limits": limits} if limits else {})


def _fixed(value: float) -> dict:
    return {"fixed": True, "fixed_value": value}


@pytest.mark.parametrize("mass_e, source_e, fragments", [
    ({"e1": _uniform(0.75, 0.9), "e2": _uniform(0.75, 0.9)}, {},
     ("model_components.lens_mass_list[0].params:", "e1 with prior U(0.75, 0.9)", "e2 with prior U(0.75, 0.9)",
      "|e| = 1.06, at e1 = 0.75, e2 = 0.75")),
    ({"e1": _uniform(-0.9, -0.75), "e2": _uniform(0.75, 0.9)}, {},
     ("lens_mass_list[0].params:", "|e| = 1.06, at e1 = -0.75, e2 = 0.75")),
    ({"e1": _fixed(0.9), "e2": _uniform(0.5, 0.8)}, {},
     ("lens_mass_list[0].params:", "e1 fixed at 0.9 and e2 with prior U(0.5, 0.8)", "|e| = 1.03")),
    ({"e1": _uniform(0.4, 0.6), "e2": _fixed(-0.95)}, {},
     ("e1 with prior U(0.4, 0.6) and e2 fixed at -0.95", "|e| = 1.03")),
    ({"e1": _gaussian(0.8, 0.1, [0.75, 0.95]), "e2": _gaussian(-0.8, 0.1, [-0.95, -0.75])}, {},
     ("e1 with prior N(0.8, 0.1) in [0.75, 0.95]", "|e| = 1.06")),
    ({}, {"e1": _uniform(0.75, 0.9), "e2": _uniform(0.75, 0.9)},
     ("model_components.source_light_list[0].params:", "e1 with prior U(0.75, 0.9)", "|e| = 1.06")),
    ({"e1": _uniform(0.35, 0.4) | {"relative_to": {"component_type": "source_light_list", "component_idx": 0,
                                                   "parameter": "e1"}},
      "e2": _uniform(0.75, 0.9)}, {"e1": _uniform(0.4, 0.5)},
     ("lens_mass_list[0].params:", "e1 in [0.75, 0.9] (source_light.0.e1 plus an offset with prior U(0.35, 0.4))",
      "|e| = 1.06")),
], ids=["both_uniform", "other_quadrant", "e1_fixed", "e2_fixed", "truncated_gaussians", "source_light",
        "relative_to"])
def test_ellipticity_priors_that_allow_no_modulus_below_1_are_refused(mass_e, source_e, fragments):
    """e1 and e2 each inside (-1, 1), but no pair the priors allow has |e| < 1 (the e1 x e2 box's
    point nearest the origin is outside the unit circle): every model a fit tries is invalid.
    Only fixed pairs were checked; such priors loaded without a word."""
    with pytest.raises(ConfigError) as info:
        _spec(MASS | mass_e, SOURCE | source_e)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert "must be < 1" in message and "Change the priors or their limits" in message


@pytest.mark.parametrize("e", [
    {"e1": _uniform(-1.0, 1.0), "e2": _uniform(-1.0, 1.0)},
    {"e1": _uniform(-0.5, 0.5), "e2": _uniform(-0.5, 0.5)},
    {"e1": _gaussian(0.0, 0.3), "e2": _gaussian(0.0, 0.3)},
    {"e1": _gaussian(0.0, 0.3, [-1.0, 1.0]), "e2": _gaussian(0.0, 0.3, [-1.0, 1.0])},
    {"e1": _uniform(0.5, 0.9), "e2": _uniform(0.5, 0.9)},  # reaches |e| = 0.71 at its corner
    {"e1": _fixed(0.9), "e2": _uniform(-0.5, 0.5)},
    {"e1": _fixed(0.6), "e2": _fixed(0.7)},
], ids=["uniform_1", "uniform_half", "gaussian", "gaussian_in_limits", "corner_inside", "fixed_and_uniform", "fixed"])
def test_ellipticity_priors_that_reach_a_modulus_below_1_load_silently(e):
    """The usual templates (U(-1, 1), U(-0.5, 0.5), Gaussians, truncated or not), and priors
    that reach |e| < 1 in only part of their box, load with no error and no warning, for mass
    and light alike."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = _spec(MASS | e, SOURCE | e)
    assert spec.lens_mass[0].params["e1"].kind in ("free", "const")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_example_templates_load_silently(path):
    """The shipped templates (Gaussian ellipticity priors in [-1, 1], links between e1 and e2 of
    light and mass) are not refused or warned about by the ellipticity checks."""
    config = validate_config(yaml.safe_load(path.read_text()), str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_model_spec(config.model_components)


def _error(mass: dict, source: dict, mass_type: str = "EPL", source_type: str = "Sersic", settings=None) -> str:
    components = _components(mass, source)
    components["lens_mass_list"][0]["type"] = mass_type
    components["source_light_list"][0].update(type=source_type, settings=settings or {})
    config = validate_config({"dataset": {"data_path": "i.fits", "noise_path": "n.fits", "psf_path": "p.fits",
                                          "pixel_scale": 0.1}, "model_components": components}, "test")
    with pytest.raises(ConfigError) as err:
        build_model_spec(config.model_components)
    return str(err.value)


def _renamed(params: dict, old: str, new: str) -> dict:
    return {new if name == old else name: spec for name, spec in params.items()}


@pytest.mark.parametrize("case, hint", [
    # the words of R_sersic swapped: by spelling alone the nearest name is n_sersic, which would mislead
    (lambda: _error(MASS, _renamed(SOURCE, "R_sersic", "sersic_R")), "Did you mean 'R_sersic' instead of 'sersic_R'?"),
    (lambda: _error(_renamed(MASS, "theta_E", "theta_e"), SOURCE), "Did you mean 'theta_E' instead of 'theta_e'?"),
    (lambda: _error(MASS, SOURCE, mass_type="EPLL"), "Did you mean 'EPL' instead of 'EPLL'?"),
    (lambda: _error(MASS, SOURCE, source_type="sersic"), "Did you mean 'Sersic' instead of 'sersic'?"),
    (lambda: _error(MASS, SOURCE, mass_type="Sersic"), "'Sersic' is a profile of lens_light_list or source_light_list"),
    (lambda: _error(MASS, {"center_x": {"fixed": True, "fixed_value": 0.0}, "center_y": {"fixed": True, "fixed_value": 0.0}},
                    source_type="MGE", settings={"ngauss": 10}),
     "Did you mean 'n_gauss' instead of 'ngauss'?"),
    (lambda: _error(MASS, {**SOURCE, "e1": {"fixed": True, "fixed_value": {
        "component_type": "lens_mass_list", "component_idx": 0, "parameter": "E1"}}}),
     "Did you mean 'e1' instead of 'E1'?"),
])
def test_a_misspelt_name_gets_the_name_it_misspells(case, hint):
    """docs/config.md: a misspelt key gets a "did you mean" when one is close; so does a misspelt
    parameter, profile, setting or link target (they named the mistake but not the fix)."""
    message = case()
    assert hint in message and message.count("Did you mean") <= 1


def test_a_parameter_holding_an_invisible_character_is_said_to_hold_it():
    """'theta\u200b_E' (a zero-width space) got 'Did you mean 'theta_E' instead of 'theta_E'?'."""
    message = _error(_renamed(MASS, "theta_E", "theta\u200b_E"), SOURCE)
    assert ("params.theta\\u200b_E: unknown parameter 'theta\\u200b_E' for EPL. 'theta\\u200b_E' is 'theta_E' "
            "with a zero width space (U+200B) after 'theta'") in message, message
    assert "\u200b" not in message and "Did you mean" not in message


@pytest.mark.parametrize("mass, source, expected", [
    ({}, SOURCE, "model_components.lens_mass_list[0].params: required parameters of EPL are missing from the config: "
                 "theta_E, gamma, e1, e2, center_x, center_y; give each a prior (prior_type, prior_settings), "
                 "or 'fixed: true' with a 'fixed_value'."),
    (MASS, {"Ie": {"use_linear": True}, "n_sersic": SOURCE["n_sersic"]},
     "model_components.source_light_list[0].params: required parameters of Sersic are missing from the config: "
     "R_sersic, center_x, center_y; give each"),
    ({k: v for k, v in MASS.items() if k != "gamma"}, SOURCE,
     "model_components.lens_mass_list[0].params.gamma: required parameter of EPL is missing from the config; "
     "give it a prior (prior_type, prior_settings), or 'fixed: true' with a 'fixed_value'."),
])
def test_every_missing_parameter_of_a_component_is_named_at_once(mass, source, expected):
    """A component with no (or few) parameters was refused one parameter at a time ('params.theta_E:
    required parameter of EPL is missing'): a user adding them ran validate once per parameter.
    The parameters with a default (a Sersic's e1, e2) are not required."""
    with pytest.raises(ConfigError) as info:
        _spec(mass, source)
    assert expected in str(info.value), str(info.value)


def test_a_model_error_named_with_its_config_file_keeps_an_import_errors_module(monkeypatch, tmp_path):
    """spec_of_config put 'In config file PATH: ' in front of build_model_spec's error with
    ``type(exc)(message)``, which gives an ImportError (a MethodNotInstalledError) ``name`` None;
    it uses retold now, which keeps the class and the missing module's name."""
    import tinylens.config.model_spec as model_spec
    from tinylens.errors import MethodNotInstalledError

    def missing(components, registries=None):
        raise MethodNotInstalledError("a profile's package is not installed.", name="tl_missing_package")

    monkeypatch.setattr(model_spec, "build_model_spec", missing)
    config = tmp_path / "config.yaml"
    with pytest.raises(MethodNotInstalledError) as err:
        model_spec.spec_of_config({}, config)
    assert err.value.name == "tl_missing_package"
    assert str(err.value) == f"In config file {config}: a profile's package is not installed."
