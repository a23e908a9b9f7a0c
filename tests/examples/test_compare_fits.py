"""examples/slacs/compare_fits.py on stored fits of a lenstronomy-made lens."""

from __future__ import annotations

import numpy as np
import pytest

import tinylens
from scripts import load_script
from tiny_lens import FREE_TRUTH, write_stored_result, write_tiny_lens


def _store(folder, problem, theta):
    write_stored_result(folder, problem, theta, derived={"lens_mass.0.q": {"median": 1.0}})


def test_residuals_of_the_truth_are_noise_and_a_wrong_fit_is_not(tmp_path):
    script = load_script("examples/slacs/compare_fits.py")
    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    truth = np.array([FREE_TRUTH[n] for n in problem.param_names])
    wrong = truth.copy()
    wrong[problem.param_names.index("lens_mass.0.theta_E")] *= 0.8
    _store(tmp_path / "good" / "lenses" / "L1", problem, truth)
    _store(tmp_path / "bad", problem, wrong)  # a single fit's folder

    _, _, chi_good = script.residuals(script.result_path(tmp_path / "good", "L1"))
    _, _, chi_bad = script.residuals(script.result_path(tmp_path / "bad", "L1"))
    assert 0.8 < np.nanmean(chi_good ** 2) < 1.2  # lenstronomy's image plus its noise
    assert np.nanmean(chi_bad ** 2) > 2 * np.nanmean(chi_good ** 2)
    assert np.isnan(chi_good[~problem.dataset.mask]).all()

    out = tmp_path / "cmp.png"
    assert script.main(["L1", str(tmp_path / "good"), str(tmp_path / "bad"), "--labels", "a", "b", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not list(tmp_path.glob("*.partial*"))
    with pytest.raises(SystemExit):
        script.main(["L1", str(tmp_path / "nowhere")])


def test_an_image_that_is_not_square_keeps_its_own_width_and_height(tmp_path):
    """The panels' extent was the first axis's size on both axes, so an image 32 columns wide and
    26 rows high was drawn 26 x 26 pixels wide, its columns squeezed."""
    from tiny_lens import tiny_data

    script = load_script("examples/slacs/compare_fits.py")
    data = tiny_data()
    data["image"], data["noise"] = data["image"][3:-3, :], data["noise"][3:-3, :]
    problem = tinylens.load(write_tiny_lens(tmp_path / "lens", data=data))
    ny, nx = problem.dataset.data.shape
    assert nx - ny == 6
    truth = np.array([FREE_TRUTH[n] for n in problem.param_names])
    _store(tmp_path / "run" / "lenses" / "L1", problem, truth)
    fig = script.figure("L1", [str(tmp_path / "run")], ["a"])
    scale = problem.dataset.pixel_scale
    for ax in fig.axes[:2]:  # the data and the residuals
        left, right, bottom, top = ax.images[0].get_extent()
        assert (right - left, top - bottom) == pytest.approx((nx * scale, ny * scale))
