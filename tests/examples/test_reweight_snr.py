"""examples/mocks/reweight_snr.py: importance weights against direct draws, and the report at slope 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scripts import load_script
from tinylens.results.report import deviation_stats, expected_outliers

LO, HI = 5.0, 50.0


def _script():
    return load_script("examples/mocks/reweight_snr.py")


def _lenses(rng, snr):
    """Deviations of calibrated fits whose width falls with S/N and scatters at fixed S/N."""
    sigma = 0.002 * (15.0 / snr) ** 1.3 * np.exp(0.4 * rng.standard_normal(snr.size))
    return rng.normal(0.0, sigma), sigma


def test_weights_reproduce_a_population_drawn_with_that_snr_distribution():
    rng = np.random.default_rng(3)
    module = _script()
    snr0 = np.exp(rng.uniform(np.log(LO), np.log(HI), 60000))          # log-uniform, as simulated
    zeta0, sigma0 = _lenses(rng, snr0)
    slope = 1.5                                                          # p(S) ~ S^-2.5, by inverse CDF
    u = rng.uniform(size=60000)
    snr1 = (LO**-slope + u * (HI**-slope - LO**-slope)) ** (-1 / slope)
    zeta1, sigma1 = _lenses(rng, snr1)
    got = module.reweighted_stats(zeta0, sigma0, snr0, slope)
    direct = deviation_stats(zeta1)
    assert got["nmad"] == pytest.approx(direct["nmad"], rel=0.03)
    assert got["outlier_fraction"] == pytest.approx(direct["outlier_fraction"], abs=0.006)
    assert got["expected_fraction"] == pytest.approx(expected_outliers(zeta1, sigma1) / zeta1.size, abs=0.006)
    assert got["median_snr"] == pytest.approx(np.median(snr1), rel=0.03)
    # and the weighting matters: the log-uniform population's numbers differ
    assert abs(deviation_stats(zeta0)["nmad"] - direct["nmad"]) > 0.2 * direct["nmad"]


def test_slope_zero_gives_the_report_statistics(tmp_path):
    rng = np.random.default_rng(4)
    n = 80
    ids = [f"lens_{i:05d}" for i in range(n)]
    snr = np.exp(rng.uniform(np.log(LO), np.log(HI), n))
    zeta, sigma = _lenses(rng, snr)
    theta = rng.uniform(0.5, 2.0, n)
    model = theta * (1 + zeta)
    pd.DataFrame({"lens_id": ids, "lens_mass.0.theta_E": theta, "arc_snr_max": snr}).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame({"lens_id": ids, "status": "ok", "lens_mass.0.theta_E_median": model,
                  "lens_mass.0.theta_E_lo68": model - sigma * theta, "lens_mass.0.theta_E_hi68": model + sigma * theta}
                 ).to_csv(tmp_path / "c.csv", index=False)
    table = _script().main([str(tmp_path / "c.csv"), str(tmp_path / "t.csv"), "--slopes", "0,1"])
    ref = deviation_stats(zeta)
    row = table.iloc[0]
    assert row["n_eff"] == pytest.approx(n)
    assert row["nmad"] == pytest.approx(ref["nmad"], rel=1e-6)
    assert row["outlier_fraction"] == pytest.approx(ref["outlier_fraction"])
    assert row["expected_fraction"] * n == pytest.approx(expected_outliers(zeta, sigma), rel=1e-6)
    assert table.iloc[1]["n_eff"] < n


def test_a_catalogue_without_fits_is_an_error_line(tmp_path):
    """A survey that has finished no lens yet: one line naming the problem, not a traceback."""
    pd.DataFrame({"lens_id": ["lens_00000"], "lens_mass.0.theta_E": [1.0], "arc_snr_max": [10.0]}).to_csv(
        tmp_path / "t.csv", index=False)
    pd.DataFrame({"lens_id": ["lens_00000"], "status": ["failed"]}).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(SystemExit, match="^error: .*lens_mass.0.theta_E"):
        _script().main([str(tmp_path / "c.csv"), str(tmp_path / "t.csv")])
    pd.DataFrame({"lens_id": ["lens_00000"], "status": ["failed"], "lens_mass.0.theta_E_median": [np.nan],
                  "lens_mass.0.theta_E_lo68": [np.nan], "lens_mass.0.theta_E_hi68": [np.nan]}).to_csv(
        tmp_path / "c.csv", index=False)
    with pytest.raises(SystemExit, match="^error: no lens"):
        _script().main([str(tmp_path / "c.csv"), str(tmp_path / "t.csv")])


@pytest.mark.parametrize("n", [1, 4])
def test_too_few_lenses_count_no_outliers_as_the_report_does(tmp_path, capsys, n):
    """A survey with one fitted lens gave outlier_fraction 1 and expected_fraction 1 at every slope
    (a 4-NMAD band of width 0); the report counts no outliers below MIN_FOR_OUTLIERS lenses."""
    ids = [f"lens_{i:05d}" for i in range(n)]
    theta = np.linspace(0.8, 1.4, n)
    zeta = np.array([0.004, -0.001, 0.002, 0.03])[:n]
    model = theta * (1 + zeta)
    pd.DataFrame({"lens_id": ids, "lens_mass.0.theta_E": theta, "arc_snr_max": np.linspace(6, 40, n)}).to_csv(
        tmp_path / "t.csv", index=False)
    pd.DataFrame({"lens_id": ids, "status": "ok", "lens_mass.0.theta_E_median": model,
                  "lens_mass.0.theta_E_lo68": model - 0.01 * theta, "lens_mass.0.theta_E_hi68": model + 0.01 * theta}
                 ).to_csv(tmp_path / "c.csv", index=False)
    table = _script().main([str(tmp_path / "c.csv"), str(tmp_path / "t.csv"), "--slopes", "0,1.5"])
    assert np.isnan(deviation_stats(zeta)["outlier_fraction"])  # the report's verdict on these lenses
    assert table["outlier_fraction"].isna().all() and table["expected_fraction"].isna().all()
    assert table["nmad"].iloc[0] == pytest.approx(deviation_stats(zeta)["nmad"], rel=1e-6, nan_ok=True)  # one: NaN
    out = capsys.readouterr().out
    assert "outliers not counted" in out
    assert f"lens_mass.0.theta_E: {n} {'lens' if n == 1 else 'lenses'}\n" in out, out  # it said '1 lenses'
