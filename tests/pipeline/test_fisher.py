"""The Fisher matrix's widths are the scatter of the answers: fresh noise on a lenstronomy-made
lens, the optimum of each realisation, and the spread of those optima against
``sqrt(diag(F^-1))`` at the truth. (The pipeline sizes its sampling boxes from these widths, and
a posterior as wide as the Fisher width is only right if this holds.)"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

import tinylens
from oracle import lenstronomy_image
from tiny_lens import FREE_TRUTH, PIXEL_SCALE, SHAPE, SIGMA, TRUTH, write_tiny_lens
from tinylens.pipeline.optimize import Objective

N_REALISATIONS = 40


def test_fisher_widths_are_the_scatter_of_optima_over_noise_realisations(tmp_path):
    clean, _ = lenstronomy_image(shape=SHAPE, pixel_scale=PIXEL_SCALE, psf_size=9, fwhm_pix=1.5, truth=TRUTH)
    config = write_tiny_lens(tmp_path)
    problem = tinylens.load(config)
    names = list(problem.param_names)
    truth = np.array([FREE_TRUTH[n] for n in names])
    sigma_f = np.sqrt(np.diag(np.linalg.inv(Objective(problem).fisher(truth))))

    rng = np.random.default_rng(11)
    optima = []
    for _ in range(N_REALISATIONS):
        fits.writeto(tmp_path / "image.fits", clean + rng.normal(0.0, SIGMA, SHAPE), overwrite=True)
        optima.append(Objective(tinylens.load(config)).minimize(truth).theta)
    optima = np.array(optima)
    scatter = optima.std(axis=0, ddof=1)
    # the sample std of 40 draws is within +-11 % (1 sigma) of the true width
    assert np.all((scatter / sigma_f > 0.7) & (scatter / sigma_f < 1.35)), dict(zip(names, scatter / sigma_f))
    # and the optima are centred on the truth (lenstronomy's 4x4 against our 2x2 grid: a small bias at most)
    offset = (optima.mean(axis=0) - truth) / (sigma_f / np.sqrt(N_REALISATIONS))
    assert np.all(np.abs(offset) < 4), dict(zip(names, offset))
    assert sigma_f[names.index("lens_mass.0.theta_E")] == pytest.approx(scatter[names.index("lens_mass.0.theta_E")], rel=0.35)
