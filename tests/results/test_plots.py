"""Figures' geometry against analytic lensing: the critical curve and caustic of an isothermal sphere."""

from __future__ import annotations

import numpy as np
import pytest

import tinylens
from tiny_lens import FREE_TRUTH, write_tiny_lens
from tinylens.results.plots import critical_curves_and_caustics


@pytest.fixture(scope="module")
def tiny_problem(tmp_path_factory):
    return tinylens.load(write_tiny_lens(tmp_path_factory.mktemp("tiny")))


@pytest.mark.parametrize("theta_E", [0.8, 1.3])
def test_isothermal_sphere_has_a_circular_critical_curve_and_a_point_caustic(tiny_problem, theta_E):
    """Round SIE: det A = 1 - theta_E / r vanishes on the circle r = theta_E, which the lens
    equation maps to the lens centre (beta = theta - theta_E theta / |theta| = 0)."""
    problem = tiny_problem
    theta = np.array([{**FREE_TRUTH, "lens_mass.0.theta_E": theta_E}[n] for n in problem.param_names])
    crit, caus = critical_curves_and_caustics(problem, theta, n=400)
    step = problem.dataset.data.shape[0] * problem.dataset.pixel_scale / 399
    points = np.concatenate(crit)
    assert len(points) > 100
    np.testing.assert_allclose(np.hypot(*points.T), theta_E, atol=step)
    assert np.hypot(*np.concatenate(caus).T).max() < step


def test_readme_notebook_snippet_redraws_a_finished_fit(tmp_path):
    """README, "In a notebook": a fit stored as result.json loads back and its figures are drawn
    as Figures, the model panel showing the stored best fit."""
    from matplotlib.figure import Figure

    from tiny_lens import tiny_data
    from tinylens.results import plots
    from tinylens.results.stored import load_stored

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {"n_live": 50, "n_like_max": 600}}, tiny_data())
    result = tinylens.fit(config, progress=False)
    stored, problem, best = load_stored(result.output_dir / "result.json")
    assert [stored["max_likelihood"][n] for n in problem.param_names] == pytest.approx(best)
    figures = [plots.model_figure(problem, best), plots.dataset_figure(problem.dataset),
               plots.corner_figure(result.param_names, result.samples, result.weights)]
    assert all(isinstance(fig, Figure) for fig in figures)
    model_panel = next(ax for ax in figures[0].axes if ax.get_title() == "Model (maximum likelihood)")
    np.testing.assert_allclose(model_panel.images[0].get_array(), problem.model_image(best)["total"], rtol=1e-5)
    assert len(figures[2].axes) == len(result.param_names) ** 2
