"""examples/mocks/noise_realisations.py: the mock's true image is the population's own (the data
minus it is noise of the noise map's size), optima over fresh noise are written and summarised,
and the summary's arithmetic is right."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

import tinylens
from scripts import load_script
from tiny_lens import write_stored_result
from tinylens.survey.population import simulate_population
from tinylens.survey.runner import find_lenses, lens_config, load_template

script = load_script("examples/mocks/noise_realisations.py")


def test_summary_by_hand():
    values = np.array([1.0, 1.2, 0.8, 1.1, 0.9])
    s = script.summary(values, truth=1.0, width_fisher=0.2, width_fit=0.1)
    std = np.sqrt(np.sum((values - 1.0) ** 2) / 4)
    assert s["std"] == pytest.approx(std) and s["std_over_fisher"] == pytest.approx(std / 0.2)
    assert s["std_over_fit"] == pytest.approx(std / 0.1)
    assert s["nmad"] == pytest.approx(1.4826 * 0.1) and s["offset_in_fisher"] == pytest.approx(0.0)



def test_summary_of_a_fit_with_a_zero_width():
    """A fit stopped on one posterior sample (n_like_max) has a 68 % half-width of 0: the ratio to it
    is NaN, where it was a ZeroDivisionError after every realisation had been optimised."""
    s = script.summary(np.array([1.0, 1.2, 0.8]), truth=1.0, width_fisher=0.2, width_fit=0.0)
    assert np.isnan(s["std_over_fit"]) and s["std_over_fisher"] == pytest.approx(1.0)

def test_optima_over_fresh_noise_of_a_population_lens(tmp_path, capsys):
    simulate_population(1, tmp_path / "mocks", seed=5, size=48, nsub=2, shear_max=0, snr_range=(30.0, 50.0))
    (lens,) = find_lenses(tmp_path / "mocks")
    problem = tinylens.load(lens_config(load_template(tmp_path / "mocks" / "template.yaml"), lens, tmp_path / "run"))
    truth = json.loads((lens.folder / "truth.json").read_text())
    theta = np.array([truth["params"][n] for n in problem.param_names])
    write_stored_result(tmp_path / "run" / "lenses" / lens.lens_id, problem, theta)
    pd.DataFrame([{"lens_id": lens.lens_id, "lens_mass.0.theta_E_lo68": theta[0] - 0.01,
                   "lens_mass.0.theta_E_hi68": theta[0] + 0.01}]).to_csv(tmp_path / "run" / "catalog.csv", index=False)

    # the rebuilt true image is the one the population drew its noise around
    psf = fits.getdata(lens.folder / "psf.fits").astype(float)
    residual = (fits.getdata(lens.folder / "image.fits") - script.true_image(truth, psf)) / fits.getdata(lens.folder / "noise.fits")
    assert np.mean(residual**2) == pytest.approx(1.0, abs=0.12)

    out = tmp_path / "optima.csv"
    assert script.main([str(tmp_path / "run"), str(tmp_path / "mocks"), lens.lens_id, "-n", "4", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "lens_mass.0.theta_E: true" in text and "optima over 4 realisations" in text and "68 % half-width 0.01" in text
    found = pd.read_csv(out)
    assert list(found.columns) == list(problem.param_names) and len(found) == 4
    assert np.all(np.abs(found["lens_mass.0.theta_E"] / theta[0] - 1) < 0.05)
    assert found["lens_mass.0.theta_E"].std() > 0  # each realisation is its own

    with pytest.raises(SystemExit, match="at least 2"):
        script.main([str(tmp_path / "run"), str(tmp_path / "mocks"), lens.lens_id, "-n", "1"])
    with pytest.raises(SystemExit, match="not free parameters"):
        script.main([str(tmp_path / "run"), str(tmp_path / "mocks"), lens.lens_id, "-n", "2", "-p", "lens_mass.0.gamma"])
