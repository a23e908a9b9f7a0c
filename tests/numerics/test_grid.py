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
    idx = np.concatenate([g.pixels((6, 6)) for g in groups])
    assert sorted(idx) == list(range(36))
    img = scatter_to_image((6, 6), groups, tuple(np.ones((len(g.index),)) * g.nsub for g in groups))
    assert np.asarray(img)[high].tolist() == [4] * 4 and (np.asarray(img)[~high] == 1).all()


def test_padding_rows_are_discarded():
    # 7 pixels at nsub 1: padded with copies to 16 points; the copies never reach the image
    select = np.zeros((5, 5), bool)
    select.flat[[0, 3, 7, 11, 12, 18, 24]] = True
    (g,) = adaptive_groups((5, 5), 0.1, 1, 4, np.zeros((5, 5), bool), select)
    assert g.x.size % 16 == 0 and len(g.index) > 7
    assert sorted(g.pixels((5, 5))) == [0, 3, 7, 11, 12, 18, 24]
    img = np.asarray(scatter_to_image((5, 5), (g,), (np.arange(len(g.index), dtype=float) + 1,)))
    assert img.shape == (5, 5)
    assert (img[select] > 0).all() and (img[~select] == 0).all()
    # a group whose points are already a multiple of 16 gets no padding
    assert len(pixel_group((5, 5), 0.1, 4).index) == 25
