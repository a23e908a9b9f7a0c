"""``tinylens demo DIR --no-fit`` writes a valid, realistic lens that ``tinylens validate`` accepts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from astropy.io import fits
from typer.testing import CliRunner

import tinylens
from tinylens.cli.main import app


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "tinylens_demo"
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return folder


def test_demo_writes_data_config_and_truth(demo_dir):
    for name in ("image.fits", "noise.fits", "psf.fits", "truth.json", "model_config.yaml"):
        assert (demo_dir / name).is_file(), name
    image = fits.getdata(demo_dir / "image.fits")
    noise = fits.getdata(demo_dir / "noise.fits")
    psf = fits.getdata(demo_dir / "psf.fits")
    assert image.shape == noise.shape == (100, 100)
    assert psf.shape == (21, 21) and psf.sum() == pytest.approx(1.0)
    assert np.all(noise > 0) and np.all(np.isfinite(image))
    truth = json.loads((demo_dir / "truth.json").read_text())
    assert truth["params"]["lens_mass.0.theta_E"] > 0
    assert truth["observation"]["pixel_scale"] == 0.074
    cfg = yaml.safe_load((demo_dir / "model_config.yaml").read_text())
    assert cfg["inference"]["method"] == "nautilus"
    params = cfg["model_components"]["lens_mass_list"][0]["params"]
    assert params["theta_E"]["prior_settings"] == [0.0, 3.5]
    link = cfg["model_components"]["lens_light_list"][0]["params"]["center_x"]["fixed_value"]
    assert link == {"component_type": "lens_mass_list", "component_idx": 0, "parameter": "center_x"}


def test_demo_validates(demo_dir):
    result = CliRunner().invoke(app, ["validate", str(demo_dir / "model_config.yaml")])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "17 free parameters" in out and "100 x 100 pixels" in out and "linear amplitudes 2" in out
    assert "U(0, 3.5)" in out and "N(4, 1)" in out


def test_demo_truth_fits_the_data(demo_dir):
    """At the true parameters the model (amplitudes solved) leaves chi^2 per pixel ~ 1, the lensed
    arc is well detected, and the solved amplitudes are the true ones."""
    truth = json.loads((demo_dir / "truth.json").read_text())["params"]
    problem = tinylens.load(demo_dir / "model_config.yaml")
    theta = np.array([truth[name] for name in problem.param_names])
    n = problem.dataset.n_used
    chi2 = -2 * (problem.log_likelihood(theta) + problem.imaging.log_norm)
    assert abs(chi2 / n - 1) < 5 * np.sqrt(2 / n) + 0.01  # + the fit's coarser supersampling
    model = problem.model_image(theta)
    assert np.sum(model["lensed_source"] / problem.dataset.noise > 3) > 300  # an arc, not a dot
    amps = problem.amplitudes(theta)
    assert amps["lens_light.0"][0] == pytest.approx(truth["lens_light.0.Ie"], rel=0.02)
    assert amps["source_light.0"][0] == pytest.approx(truth["source_light.0.Ie"], rel=0.02)


def test_demo_refuses_a_folder_with_files_it_did_not_write(tmp_path):
    (tmp_path / "model_config.yaml").write_text("mine\n")
    result = CliRunner().invoke(app, ["demo", str(tmp_path), "--no-fit"])
    assert result.exit_code == 2, result.output
    assert "model_config.yaml" in result.output and "not written by 'tinylens demo'" in " ".join(result.output.split())
    assert (tmp_path / "model_config.yaml").read_text() == "mine\n"
    assert not (tmp_path / "image.fits").exists()


def test_demo_runs_again_in_its_own_folder(demo_dir):
    result = CliRunner().invoke(app, ["demo", str(demo_dir), "--no-fit"])
    assert result.exit_code == 0, result.output


def test_demo_marks_the_true_values_on_the_corner_plot(tmp_path, monkeypatch):
    """The demo knows its truth: its corner plot shows it, for the parameters the plot has."""
    from types import SimpleNamespace

    from tinylens.cli.demo import flat_truth, mark_truth
    from tinylens.results import plots

    names = ("lens_mass.0.theta_E", "lens_mass.0.e1", "source_light.0.R_sersic")
    rng = np.random.default_rng(0)
    result = SimpleNamespace(files={"corner": "corner.png"}, output_dir=tmp_path, param_names=names,
                             config={"output": {"corner_parameters": "mass"}},
                             samples=rng.normal([1.25, 0.1, 0.15], 0.01, size=(300, 3)), weights=np.full(300, 1 / 300))
    mark_truth(result, flat_truth())
    assert not (tmp_path / "corner.png").exists()  # the fit drew none (draw_figures): none is added
    (tmp_path / "corner.png").write_bytes(b"the fit's")
    drawn = []
    draw = plots.corner_figure
    monkeypatch.setattr(plots, "corner_figure", lambda *a, **k: drawn.append((a, k)) or draw(*a, **k))
    mark_truth(result, flat_truth())
    assert (tmp_path / "corner.png").read_bytes()[:4] == b"\x89PNG"
    (shown, samples, _, truths), _ = drawn[0]
    assert shown == list(names[:2]) and truths == [1.25, 0.1] and samples.shape == (300, 2)  # the mass only
