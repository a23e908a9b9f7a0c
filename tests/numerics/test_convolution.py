"""PSF convolution: centring, shifts and agreement with scipy."""

from __future__ import annotations

import numpy as np
from scipy import signal

from tinylens.numerics import convolve, convolve_stack, kernel_fft


def _image(rng, shape=(40, 50)):
    return rng.normal(size=shape)


def test_matches_scipy_same_mode():
    rng = np.random.default_rng(0)
    img = _image(rng)
    k = rng.uniform(size=(7, 5))
    k /= k.sum()
    ours = np.asarray(convolve(img.astype(np.float32), kernel_fft(k.astype(np.float32), img.shape)))
    ref = signal.convolve2d(img, k, mode="same")
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_delta_kernel_is_identity_and_shifted_kernel_shifts_by_one_pixel():
    rng = np.random.default_rng(1)
    img = _image(rng)
    delta = np.zeros((5, 5))
    delta[2, 2] = 1
    np.testing.assert_allclose(np.asarray(convolve(img, kernel_fft(delta, img.shape))), img, atol=1e-5)
    shifted = np.zeros((5, 5))
    shifted[2, 3] = 1  # one pixel towards +x (columns)
    out = np.asarray(convolve(img, kernel_fft(shifted, img.shape)))
    np.testing.assert_allclose(out[:, 1:], img[:, :-1], atol=1e-5)
    shifted = np.zeros((5, 5))
    shifted[3, 2] = 1  # one pixel towards +y (rows)
    out = np.asarray(convolve(img, kernel_fft(shifted, img.shape)))
    np.testing.assert_allclose(out[1:, :], img[:-1, :], atol=1e-5)


def test_stack_matches_single():
    rng = np.random.default_rng(2)
    imgs = rng.normal(size=(30, 30, 3)).astype(np.float32)
    k = rng.uniform(size=(9, 9)).astype(np.float32)
    kf = kernel_fft(k / k.sum(), (30, 30))
    stack = np.asarray(convolve_stack(imgs, kf))
    for i in range(3):
        np.testing.assert_allclose(stack[..., i], np.asarray(convolve(imgs[..., i], kf)), atol=1e-5)


def test_flux_conserved_away_from_edges():
    img = np.zeros((41, 41), dtype=np.float32)
    img[20, 20] = 5.0
    k = np.random.default_rng(3).uniform(size=(11, 11)).astype(np.float32)
    k /= k.sum()
    out = np.asarray(convolve(img, kernel_fft(k, img.shape)))
    assert abs(out.sum() - 5.0) < 1e-4


def test_circular_transform_is_exact_half_a_kernel_from_the_edges():
    rng = np.random.default_rng(4)
    img = _image(rng, (37, 41))
    k = rng.uniform(size=(9, 7))
    k /= k.sum()
    kern = kernel_fft(k, img.shape, margin=False)
    assert kern.fft_shape[0] < 37 + 9 // 2 or kern.fft_shape[1] < 41 + 7 // 2  # really no margin
    ours = np.asarray(convolve(img, kern))
    ref = signal.convolve2d(img, k, mode="same")
    np.testing.assert_allclose(ours[4:-4, 3:-3], ref[4:-4, 3:-3], atol=1e-4)
    assert np.abs(ours - ref).max() > 1e-3  # the edges wrap around


def test_likelihood_uses_the_circular_transform_only_for_masks_inside():
    import jax.numpy as jnp

    from tinylens.likelihood import make_imaging

    rng = np.random.default_rng(5)
    data = rng.normal(size=(60, 60))
    psf = np.ones((9, 9)) / 81
    inner = np.zeros((60, 60), bool)
    inner[20:40, 15:45] = True
    im = make_imaging(data, np.ones_like(data), psf, inner, 0.1, 1, jnp.float32)
    assert im.shape == (28, 38) and im.kernel.fft_shape == (30, 40)  # cut-out, no margin
    full = make_imaging(data, np.ones_like(data), psf, np.ones((60, 60), bool), 0.1, 1, jnp.float32)
    assert full.kernel.fft_shape[0] >= 60 + 4  # pixels at the edge are used: linear convolution


def test_a_kernel_larger_than_the_image_convolves_at_the_image_s_cost():
    """A PSF wider than twice the image (a 3" TinyTim or WebbPSF PSF on a 2" cutout) set the FFT's
    size: 216 x 216 pixels for a 201 x 201 PSF on a 41 x 41 image, where its pixels further than
    40 from the centre link no two pixels of the image. It is cut to those that do, with the same
    convolution, scipy's, on every pixel, edges included."""
    rng = np.random.default_rng(6)
    img = _image(rng, (41, 23))
    k = rng.uniform(size=(201, 15))
    k /= k.sum()
    kern = kernel_fft(k, img.shape)
    assert kern.fft_shape[0] <= 2 * 41  # the image's cost: 81 (2 x 41 - 1) rows reach it
    ref = signal.convolve2d(img, k, mode="same")
    np.testing.assert_allclose(np.asarray(convolve(img, kern)), ref, atol=1e-5)
    wide = rng.uniform(size=(9, 301))
    wide /= wide.sum()
    ref = signal.convolve2d(img, wide, mode="same")
    kern = kernel_fft(wide, img.shape)
    assert kern.fft_shape[1] <= 2 * 23
    np.testing.assert_allclose(np.asarray(convolve(img, kern)), ref, atol=1e-5)
