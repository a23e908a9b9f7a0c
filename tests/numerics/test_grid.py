"""Pixel grids, supersampling and binning."""

from __future__ import annotations

import numpy as np

from tinylens.numerics import adaptive_groups, pixel_coordinates, pixel_group, scatter_to_image


def test_pixel_centres_follow_fits_convention():
    x, y = pixel_coordinates((3, 5), 0.1)
    assert x[0, 0] == -0.2 and x[0, -1] == 0.2  # x grows with the column
    assert y[0, 0] == -0.1 and y[-1, 0] == 0.1  # y grows with the row (row 0 at the bottom)
    assert x[1, 2] == 0 and y[1, 2] == 0


def test_supersampled_mean_integrates_linear_function_exactly():
    g = pixel_group((4, 4), 0.5, nsub=3)
    assert g.x.shape == (16, 9) and g.nsub == 3
    xc, yc = pixel_coordinates((4, 4), 0.5)
    np.testing.assert_allclose(g.x.mean(axis=1), xc.ravel())
    np.testing.assert_allclose(g.y.mean(axis=1), yc.ravel())
    # sub-pixels tile the pixel: spread = pixel_scale * (nsub - 1) / nsub
    assert np.isclose(g.x[0].max() - g.x[0].min(), 0.5 * 2 / 3)


def test_supersampling_converges_to_pixel_integral():
    # integral of exp(-r^2/2s^2) over a pixel, compared with a fine sub-grid
    f = lambda x, y: np.exp(-(x**2 + y**2) / (2 * 0.05**2))
    coarse = f(*[a for a in pixel_group((5, 5), 0.1, 4)[1:]]).mean(axis=1)
    fine = f(*[a for a in pixel_group((5, 5), 0.1, 64)[1:]]).mean(axis=1)
    assert np.max(np.abs(coarse - fine)) < 0.02 * fine.max()


def test_adaptive_groups_cover_each_pixel_once():
    high = np.zeros((6, 6), bool)
    high[2:4, 2:4] = True
    groups = adaptive_groups((6, 6), 0.1, 1, 4, high)
    idx = np.concatenate([g.index for g in groups])
    assert sorted(idx) == list(range(36))
    img = scatter_to_image((6, 6), groups, tuple(np.ones((len(g.index),)) * g.nsub for g in groups))
    assert np.asarray(img)[high].tolist() == [4] * 4 and (np.asarray(img)[~high] == 1).all()


def test_point_grid_bins_like_group_means_and_pads():
    import jax.numpy as jnp

    from tinylens.numerics.grid import bin_points, bucket, point_grid

    high = np.zeros((7, 5), bool)
    high[2:4, 1:3] = True
    select = np.ones((7, 5), bool)
    select[0, 0] = False  # a pixel nobody evaluates stays zero
    groups = adaptive_groups((7, 5), 0.1, 1, 4, high, select)
    grid = point_grid(groups, (7, 5))
    n_real = sum(g.x.size for g in groups)
    assert grid.n_points == bucket(n_real) and grid.n_points % 16 == 0 and grid.n_points >= n_real
    f = lambda x, y: np.exp(x) * np.cos(3 * y)
    img = np.asarray(bin_points(jnp.asarray(f(np.asarray(grid.x), np.asarray(grid.y)))[:, None], grid))[..., 0]
    expected = np.asarray(scatter_to_image((7, 5), groups, tuple(f(g.x, g.y).mean(axis=1) for g in groups)))
    np.testing.assert_allclose(img, expected, rtol=1e-5, atol=1e-6)
    assert img[0, 0] == 0


def test_bucket_ladder():
    from tinylens.numerics.grid import bucket

    assert bucket(1) == 16 and bucket(17) == 32
    for n in (100, 1000, 28591, 10**6 + 3):
        b = bucket(n)
        assert n <= b <= 1.25 * n + 16 and b % 16 == 0
    assert len({bucket(n) for n in range(20000, 40000)}) <= 5  # four steps per octave
