"""``relative_to``: a free parameter whose prior is on its difference from another parameter.

The truth here is the same model written without it: a mass ellipticity sampled as the source's
plus an offset must give exactly the likelihood, shapes and pipeline values of the mass
ellipticity sampled directly at that sum."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

import tinylens
from tinylens.errors import ConfigError
from tinylens.pipeline.params import free_index, free_indices, get_param, set_param
from tinylens.results.derived import derived_samples

from tiny_lens import tiny_config, write_tiny_lens

SOURCE0 = {"component_type": "source_light_list", "component_idx": 0}


def _gauss(mean: float, sigma: float) -> dict:
    return {"prior_type": "gaussian", "prior_settings": [mean, sigma], "limits": [-0.9, 0.9], "fixed": False}


def _configs(folder) -> tuple[dict, dict]:
    """(plain, relative): both sample the source's e1/e2; the plain one the mass's e1/e2 directly,
    the relative one as the source's plus an offset."""
    write_tiny_lens(folder)
    plain = tiny_config()
    src = plain["model_components"]["source_light_list"][0]["params"]
    src.update(e1=_gauss(0.0, 0.2), e2=_gauss(0.0, 0.2))
    mass = plain["model_components"]["lens_mass_list"][0]["params"]
    mass.update(e1=_gauss(0.0, 0.3), e2=_gauss(0.0, 0.3))
    relative = copy.deepcopy(plain)
    rel_mass = relative["model_components"]["lens_mass_list"][0]["params"]
    for name in ("e1", "e2"):
        rel_mass[name] = {**_gauss(0.0, 0.1), "relative_to": {**SOURCE0, "parameter": name}}
    return plain, relative


@pytest.fixture(scope="module")
def problems(tmp_path_factory):
    folder = tmp_path_factory.mktemp("relative")
    plain, relative = _configs(folder)
    return tinylens.load(plain, base_dir=folder), tinylens.load(relative, base_dir=folder)


def _as_plain(plain, relative, theta_rel: np.ndarray) -> np.ndarray:
    """The plain problem's vector for the relative problem's ``theta_rel`` (offsets added to bases)."""
    rel = dict(zip(relative.param_names, theta_rel))
    values = {n: rel.get(n) for n in plain.param_names}
    for name in ("e1", "e2"):
        values[f"lens_mass.0.{name}"] = rel[f"source_light.0.{name}"] + rel[f"lens_mass.0.{name}_offset"]
    return np.array([values[n] for n in plain.param_names])


def test_offset_is_sampled_in_place_of_the_parameter(problems):
    plain, relative = problems
    assert relative.ndim == plain.ndim
    assert "lens_mass.0.e1_offset" in relative.param_names and "lens_mass.0.e1" not in relative.param_names
    i = relative.param_names.index("lens_mass.0.e1_offset")
    assert relative.priors[i].describe() == "N(0, 0.1) in [-0.9, 0.9]"


def test_likelihood_equals_the_plain_model_at_the_sum(problems):
    plain, relative = problems
    rng = np.random.default_rng(5)
    theta_rel = relative.prior_transform(rng.uniform(0.2, 0.8, size=(6, relative.ndim)))
    theta_plain = np.array([_as_plain(plain, relative, t) for t in theta_rel])
    got, want = relative.log_likelihood(theta_rel), plain.log_likelihood(theta_plain)
    np.testing.assert_allclose(got, want, rtol=2e-5)
    # ... and not the plain model at the offset alone (the base is really added)
    offset_only = theta_plain.copy()
    for name in ("e1", "e2"):
        offset_only[:, plain.param_names.index(f"lens_mass.0.{name}")] = theta_rel[:, relative.param_names.index(f"lens_mass.0.{name}_offset")]
    assert np.all(np.abs(plain.log_likelihood(offset_only) - want) > 1e-3 * np.abs(want))


def test_shapes_and_values_are_of_the_sum(problems):
    plain, relative = problems
    rng = np.random.default_rng(6)
    theta_rel = relative.prior_transform(rng.uniform(0.1, 0.9, size=(5, relative.ndim)))
    theta_plain = np.array([_as_plain(plain, relative, t) for t in theta_rel])
    got, want = derived_samples(relative, theta_rel), derived_samples(plain, theta_plain)
    for col in ("lens_mass.0.q", "lens_mass.0.phi_deg", "source_light.0.q"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got["lens_mass.0.e1"], theta_plain[:, plain.param_names.index("lens_mass.0.e1")], atol=1e-12)
    assert relative.params_dict(theta_rel[0])["lens_mass.0"]["e2"] == pytest.approx(theta_plain[0, plain.param_names.index("lens_mass.0.e2")], abs=1e-6)


def test_pipeline_helpers_set_the_offset(problems):
    _, relative = problems
    spec = relative.spec
    mass, source = spec.lens_mass[0], spec.source_light[0]
    theta = relative.prior_transform(np.full(relative.ndim, 0.5))
    set_param(theta, source, "e1", 0.05, spec)
    set_param(theta, mass, "e1", 0.25, spec)
    assert theta[relative.param_names.index("lens_mass.0.e1_offset")] == pytest.approx(0.20)
    assert get_param(theta, mass, "e1") == pytest.approx(0.25)
    # the mass reads the source's e1 too, so a stage that holds "mass-only" entries holds both
    assert relative.param_names.index("source_light.0.e1") in free_indices([mass])
    assert free_index(mass, "e1") is None


def _error(config: dict, folder) -> str:
    with pytest.raises(ConfigError) as info:
        tinylens.load(config, base_dir=folder)
    return str(info.value)


def test_loops_and_linear_targets_are_refused(tmp_path):
    plain, relative = _configs(tmp_path)
    loop = copy.deepcopy(relative)
    loop["model_components"]["source_light_list"][0]["params"]["e1"]["relative_to"] = {
        "component_type": "lens_mass_list", "component_idx": 0, "parameter": "e1"}
    assert "loop" in _error(loop, tmp_path)
    linear = copy.deepcopy(relative)
    linear["model_components"]["lens_mass_list"][0]["params"]["e1"]["relative_to"] = {**SOURCE0, "parameter": "Ie"}
    text = _error(linear, tmp_path)
    assert "lens_mass_list[0].params.e1.relative_to" in text and "linear amplitude" in text
    missing = copy.deepcopy(relative)
    missing["model_components"]["lens_mass_list"][0]["params"]["e1"]["relative_to"] = {**SOURCE0, "parameter": "gamma"}
    text = _error(missing, tmp_path)
    assert "lens_mass_list[0].params.e1.relative_to" in text and "source_light_list[0].gamma" in text


def test_validate_names_what_an_offset_is_relative_to(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tinylens.cli import common
    from tinylens.cli.main import app

    # A wide table, whatever COLUMNS was when the console was made (pytest-xdist's workers set 80).
    monkeypatch.setattr(common.console, "_width", 200)
    _, relative = _configs(tmp_path)
    path = tmp_path / "relative.yaml"
    path.write_text(yaml.safe_dump(relative))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "lens_mass.0.e1_offset" in result.output
    assert "N(0, 0.1) in [-0.9, 0.9], the difference from source_light.0.e1" in result.output
