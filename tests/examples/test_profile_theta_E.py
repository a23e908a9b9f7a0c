"""examples/slacs/profile_theta_E.py on a lens simulated by lenstronomy (the independent oracle)."""

from __future__ import annotations

import numpy as np
import pytest

from oracle import LENS_TRUTH, lenstronomy_image, noisy_problem, table1_components
from scripts import load_script
from tinylens.pipeline.lens_light import fit_lens_light


def _script():
    return load_script("examples/slacs/profile_theta_E.py")


def _problem(write_fits, components):
    image, kernel = lenstronomy_image()
    return noisy_problem(write_fits, image, kernel, components)


def test_profile_peaks_at_the_true_einstein_radius(write_fits):
    """Started one grid step off the truth, the profile's maximum is at the true theta_E."""
    script = _script()
    problem = _problem(write_fits, table1_components())
    stage1 = fit_lens_light(problem).fit.theta
    true = LENS_TRUTH["lens_mass"][0]["theta_E"]
    grid = np.round(np.arange(true - 0.2, true + 0.21, 0.1), 3)
    x, logp, fits = script.profile(problem, stage1, true + 0.1, grid)
    assert np.allclose(x, grid)
    best = int(np.argmax(logp))
    assert x[best] == pytest.approx(true)
    assert logp[best] > np.delete(logp, best).max() + 10  # a clear peak, not noise
    i = problem.param_names.index("lens_mass.0.theta_E")
    assert np.allclose(fits[:, i], grid)  # theta_E held at each grid point


def test_core_gaussian_is_a_free_lens_light_component(write_fits):
    script = _script()
    template = {"model_components": table1_components()}
    n = len(template["model_components"]["lens_light_list"])
    wider = script.with_core_gaussian(template)
    assert len(template["model_components"]["lens_light_list"]) == n  # the input is not changed
    problem = _problem(write_fits, wider["model_components"])
    names = problem.param_names
    for p in ("sigma", "e1", "e2", "center_x", "center_y"):
        assert f"lens_light.{n}.{p}" in names


def test_default_template_is_found_from_any_folder_and_mistakes_are_one_line(tmp_path, monkeypatch):
    """The default --template is the one beside the script, not ``examples/slacs/template.yaml`` of
    the current folder; a missing lens folder or output folder is an error line, not a traceback."""
    from tiny_lens import write_tiny_lens

    script = _script()
    write_tiny_lens(tmp_path / "lenses" / "J0000+0000")
    monkeypatch.chdir(tmp_path)  # no examples/ here
    with pytest.raises(SystemExit, match="no lens 'J9999'"):
        script.main(["lenses", "J9999", "--reference", "1.0"])
    with pytest.raises(SystemExit, match="does not exist"):
        script.main(["nowhere", "J0000+0000", "--reference", "1.0"])
    with pytest.raises(SystemExit) as exc:  # refused before any fitting
        script.main(["lenses", "J0000+0000", "--reference", "1.0", "-o", "no_folder/profile.png"])
    assert exc.value.code == 2


@pytest.mark.parametrize("grid, refused", [("0.3,0.35,0.05", False), ("0.6,0.9,0.1", False), ("0.3,0.3,0.05", True),
                                           ("0.3,1.0,0", True), ("0.3,1.0,-0.1", True), ("nan,1.0,0.1", True)])
def test_grid_of_two_points_or_more_is_taken(tmp_path, capsys, grid, refused):
    """0.35 - 0.3 < 0.05 in floating point: a grid of two points was refused as 'the stop [not]
    beyond the start'. An -o into no folder shows that the grid passed (checked next, before any fit)."""
    with pytest.raises(SystemExit):
        _script().main([str(tmp_path), "J0000", "--reference", "1.0", "--grid", grid, "-o", str(tmp_path / "no" / "p.png")])
    err = capsys.readouterr().err
    assert ("error: --grid" in err) == refused and ("no folder" in err) != refused, err


def test_reference_circle_is_drawn_around_the_lens_not_the_image_centre(tmp_path):
    """The dashed reference circle was centred on (0, 0) whatever the lens's centre: on a mock lens
    0.14" off the image's centre it missed the ring by that much on one side."""
    import yaml

    import tinylens
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens.pipeline.params import prior_middle

    config_path = write_tiny_lens(tmp_path / "lens")
    config = tiny_config()
    mass = config["model_components"]["lens_mass_list"][0]["params"]
    mass["center_x"], mass["center_y"] = {"fixed": True, "fixed_value": 0.3}, {"fixed": True, "fixed_value": -0.2}
    config_path.write_text(yaml.safe_dump(config))
    problem = tinylens.load(config_path)
    theta = prior_middle(problem)
    fig = _script().figure(problem, theta, np.array([0.9, 1.0]), np.array([-3.0, 0.0]), 0.8, "L", "t")
    circle = fig.axes[0].lines[0]
    x, y = np.asarray(circle.get_xdata()), np.asarray(circle.get_ydata())
    np.testing.assert_allclose(np.hypot(x - 0.3, y + 0.2), 0.8, atol=1e-9)  # radius 0.8 about the lens centre
    assert np.mean(fig.axes[0].get_xlim()) == pytest.approx(0.3) and np.mean(fig.axes[0].get_ylim()) == pytest.approx(-0.2)
