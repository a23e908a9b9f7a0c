"""Adaptive supersampling is as accurate as uniform 4x4 with fewer ray-traced points."""

from __future__ import annotations

import numpy as np

import tinylens
from oracle import lenstronomy_image, table1_components, truth_vector
from tinylens.numerics.adaptive import groups_from_map, nsub_map


def _config(write_fits, image, kernel, supersampling):
    return {
        "dataset": {
            "data_path": write_fits("image.fits", image),
            "noise_path": write_fits("noise.fits", np.full_like(image, 0.05)),
            "psf_path": write_fits("psf.fits", kernel),
            "pixel_scale": 0.074,
            "supersampling": supersampling,
        },
        "model_components": table1_components(),
    }


def test_default_numerics_as_accurate_as_uniform_4x4(write_fits):
    image, kernel = lenstronomy_image(shape=(80, 80), fwhm_pix=2.0)
    noisy = image + np.random.default_rng(0).normal(0, 0.05, image.shape)
    models, points = {}, {}
    for label, ss in [("ref", {"mode": "uniform", "nsub": 16}), ("u4", {"mode": "uniform", "nsub": 4}), ("adaptive", {})]:
        problem = tinylens.load(_config(write_fits, noisy, kernel, ss))
        theta = truth_vector(problem.param_names)
        models[label] = problem.model_image(theta)["total"]
        points[label] = int((np.asarray(problem.imaging.grid.weight) > 0).sum())
    peak = np.abs(models["ref"]).max()
    err = {k: np.abs(models[k] - models["ref"]).max() / peak for k in ("u4", "adaptive")}
    assert err["adaptive"] <= err["u4"]
    assert points["adaptive"] < points["u4"] / 2


def test_nsub_map_levels_and_groups():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[-20:21, -20:21]
    data = 100 * np.exp(-np.hypot(x, y) / 2.0) + rng.normal(0, 0.1, x.shape)
    noise = np.full(data.shape, 0.1)
    m = nsub_map(data, noise, np.ones(data.shape, bool))
    assert m[20, 20] == 16  # the cusp gets the top level
    assert m[0, 0] == 1  # empty sky gets none
    assert set(np.unique(m)) <= {1, 2, 4, 8, 16}
    groups = groups_from_map(m, 0.05)
    assert sorted(np.concatenate([g.index for g in groups])) == list(range(data.size))
    assert all(g.x.shape[1] == lev**2 for g, lev in zip(groups, sorted(np.unique(m))))


def test_benchmark_lens_figures_of_the_module_docstring(tmp_path):
    """adaptive.py: on the benchmark lens (200x200) the default numerics trace about 48k points,
    under a tenth of uniform 4x4's 640k (the docstring said 160k, a third)."""
    from scripts import load_script

    config = load_script("benchmarks/lens_setup.py").tinylens_config(tmp_path, 200)
    n_points = int((np.asarray(tinylens.load(config).imaging.grid.weight) > 0).sum())
    assert 40_000 < n_points < 200 * 200 * 4 * 4 / 10
