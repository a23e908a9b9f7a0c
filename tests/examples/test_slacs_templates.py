"""The SLACS templates of examples/slacs load through the survey's path and hold the model they describe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinylens
from tinylens.config.model_spec import free_parameter_names
from tiny_lens import write_tiny_lens
from tinylens.survey.runner import find_lenses, lens_config, load_template

SLACS = Path(__file__).resolve().parents[2] / "examples" / "slacs"


@pytest.fixture(scope="module")
def lens_folder(tmp_path_factory):
    """One lens folder as the survey finds it (the tiny lens of tests/tiny_lens.py, made by lenstronomy)."""
    root = tmp_path_factory.mktemp("lenses")
    write_tiny_lens(root / "J0000+0000")
    return root


@pytest.mark.parametrize("name, shear, lens_light", [
    ("template.yaml", True, ["Sersic", "Sersic"]),
    ("template_mge.yaml", True, ["MGE"]),
    ("template_mge_sie.yaml", False, ["MGE"]),
    ("template_2mge_sie.yaml", False, ["MGE", "MGE"]),
    ("template_2mge_sie_aligned.yaml", False, ["MGE", "MGE"]),
])
def test_slacs_template_loads_with_its_model(lens_folder, tmp_path, name, shear, lens_light):
    config = lens_config(load_template(SLACS / name), find_lenses(lens_folder)[0], tmp_path)
    problem = tinylens.load(config)
    names = problem.param_names
    assert free_parameter_names(problem.config.model_components) == names  # as a sampler's first check counts them
    assert ("lens_mass.1.gamma1" in names) is shear
    assert [c["type"] for c in config["model_components"]["lens_light_list"]] == lens_light
    # the source shares one centre and one ellipticity, the lens light one centre (the mass's);
    # only the two-MGE template gives its second lens-light component an ellipticity of its own
    assert not any(n.startswith(("source_light.1.e", "source_light.1.center", "lens_light.1.center")) for n in names)
    assert any(n.startswith("lens_light.1.e") for n in names) is (lens_light == ["MGE", "MGE"])
    assert np.isfinite(problem.log_likelihood(problem.prior_transform(np.full(problem.ndim, 0.5))))


def test_the_two_mge_template_is_the_shear_free_one_with_a_second_mge():
    """template_2mge_sie.yaml is template_mge_sie.yaml with its MGE split in two (10 Gaussians
    each instead of 12), each with its own ellipticity: nothing else differs."""
    one = load_template(SLACS / "template_mge_sie.yaml")
    two = load_template(SLACS / "template_2mge_sie.yaml")
    first, second = two["model_components"].pop("lens_light_list")
    light = one["model_components"].pop("lens_light_list")[0]
    assert one == two
    for part in (first, second):
        assert part["params"] == light["params"]
        assert part["settings"] == {**light["settings"], "n_gauss": 10}


def test_the_aligned_template_is_the_two_mge_one_with_the_mass_drawn_around_the_light():
    """template_2mge_sie_aligned.yaml: the mass's e1/e2 have a N(0, 0.1) prior on their difference
    from the first MGE's (``relative_to``); nothing else differs from template_2mge_sie.yaml."""
    two = load_template(SLACS / "template_2mge_sie.yaml")
    aligned = load_template(SLACS / "template_2mge_sie_aligned.yaml")
    mine, theirs = (t["model_components"]["lens_mass_list"][0]["params"] for t in (aligned, two))
    for name in ("e1", "e2"):
        assert mine.pop(name) == {"prior_type": "gaussian", "prior_settings": [0.0, 0.1], "limits": [-0.9, 0.9],
                                  "fixed": False, "relative_to": {"component_type": "lens_light_list",
                                                                   "component_idx": 0, "parameter": name}}
        theirs.pop(name)
    assert aligned == two


def test_the_shear_free_template_is_the_mge_one_without_its_shear():
    """template_mge_sie.yaml is a copy of template_mge.yaml less the SHEAR component: keep them so."""
    with_shear = load_template(SLACS / "template_mge.yaml")
    masses = with_shear["model_components"]["lens_mass_list"]
    with_shear["model_components"]["lens_mass_list"] = [m for m in masses if m["type"] != "SHEAR"]
    assert len(masses) == 2
    assert load_template(SLACS / "template_mge_sie.yaml") == with_shear


def test_no_example_command_points_at_the_development_set_as_if_every_reader_had_it():
    """The usage lines of the SLACS templates and scripts (stages_only.py, stage_fits.py,
    profile_theta_E.py, recheck_peaks.py) ran 'tinylens survey ../shared/data/slacs_dev ...', a
    folder that exists only beside the project's own checkout; they now take a placeholder,
    LENSES, and each that names the development set says where that path holds."""
    examples = SLACS.parent
    files = sorted([*examples.rglob("*.py"), *examples.rglob("*.yaml")])
    named = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        commands = [line for line in text.splitlines() if "python examples/" in line or "tinylens survey" in line]
        assert not [line for line in commands if "shared/data" in line], path
        if "shared/data/slacs_dev" in text:
            named.append(path.name)
            assert "only from a checkout beside shared/" in " ".join(text.replace("#", " ").split()), path
    assert {"template.yaml", "stages_only.py", "stage_fits.py", "profile_theta_E.py", "recheck_peaks.py"} <= set(named)


def test_each_templates_usage_line_runs_that_template():
    """template_2mge_sie_aligned.yaml's usage line, copied with the rest of its header from
    template_2mge_sie.yaml, ran 'tinylens survey ... --config examples/slacs/template_2mge_sie.yaml
    --out slacs_2mge_sie': a user copying it fitted the other template, into that template's folder.
    Each template's command names the template itself."""
    for path in sorted(SLACS.parent.glob("slacs/template*.yaml")):
        commands = [line for line in path.read_text(encoding="utf-8").splitlines() if "tinylens survey" in line
                    and "--config" in line]
        assert commands, path
        for line in commands:
            assert line.split("--config")[1].split()[0] == f"examples/slacs/{path.name}", (path.name, line)
