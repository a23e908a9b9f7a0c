"""examples/mocks/point_estimates.py: the population density of (e1, e2), the importance weights
and the statistics, against draws made the way the population draws them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scripts import load_script
from tinylens.profiles.ellipticity import e1e2_to_qphi, qphi_to_e1e2

POPULATION = {"theta_E_range": [0.5, 2.0], "source_re_range": [0.1, 0.5], "lens_q_range": [0.5, 1.0],
              "source_q_range": [0.4, 1.0]}


@pytest.fixture(scope="module")
def module():
    return load_script("examples/mocks/point_estimates.py")


def _config(e_sigma: float = 0.3) -> dict:
    gauss = {"prior_type": "gaussian", "prior_settings": [0.0, e_sigma]}
    uniform = lambda lo, hi: {"prior_type": "uniform", "prior_settings": [lo, hi]}  # noqa: E731
    return {"model_components": {
        "lens_mass_list": [{"params": {"theta_E": uniform(0.0, 3.5), "e1": gauss, "e2": gauss}}],
        "source_light_list": [{"params": {"R_sersic": uniform(0.001, 2.0), "e1": gauss, "e2": gauss}}]}}


def _prior_samples(n: int, rng, e_sigma: float = 0.3) -> pd.DataFrame:
    """Draws from the fit's priors (a flat likelihood: the posterior is the prior)."""
    return pd.DataFrame({
        "lens_mass.0.theta_E": rng.uniform(0.0, 3.5, n), "lens_mass.0.e1": rng.normal(0, e_sigma, n),
        "lens_mass.0.e2": rng.normal(0, e_sigma, n), "source_light.0.R_sersic": rng.uniform(0.001, 2.0, n),
        "source_light.0.e1": rng.normal(0, e_sigma, n), "source_light.0.e2": rng.normal(0, e_sigma, n),
        "weight": np.ones(n), "log_likelihood": np.zeros(n)})


def test_e_density_is_the_density_of_uniform_q_and_angle(module):
    rng = np.random.default_rng(0)
    q, phi = rng.uniform(0.5, 1.0, 400_000), rng.uniform(0, np.pi, 400_000)
    e1, e2 = (np.asarray(v) for v in qphi_to_e1e2(q, phi))
    # the fraction of draws in a box against the density integrated over it (midpoint rule)
    for lo1, lo2 in [(0.05, 0.0), (-0.2, 0.1), (0.0, -0.3)]:
        box = (e1 >= lo1) & (e1 < lo1 + 0.05) & (e2 >= lo2) & (e2 < lo2 + 0.05)
        g1, g2 = np.meshgrid(np.linspace(lo1, lo1 + 0.05, 201)[:-1] + 1.25e-4, np.linspace(lo2, lo2 + 0.05, 201)[:-1] + 1.25e-4)
        integral = module.e_density(g1, g2, (0.5, 1.0)).sum() * 2.5e-4**2
        assert box.mean() == pytest.approx(integral, rel=0.03)
    assert module.e_density(np.array([0.4]), np.array([0.0]), (0.5, 1.0))[0] == 0.0  # q = 0.43 < 0.5


def test_reweighted_prior_samples_follow_the_population(module):
    rng = np.random.default_rng(1)
    samples = _prior_samples(1_000_000, rng)
    w = module.population_weights(samples, _config(), POPULATION).to_numpy()
    assert w.sum() ** 2 / np.sum(w**2) > 2500  # enough effective samples for the checks below
    inside = w > 0
    theta, radius = samples["lens_mass.0.theta_E"][inside], samples["source_light.0.R_sersic"][inside]
    assert theta.min() >= 0.5 and theta.max() <= 2.0 and radius.min() >= 0.1 and radius.max() <= 0.5
    # weighted fractions in five equal bins of q (uniform in the population) and of theta_E
    for values, (lo, hi) in [
        (np.asarray(e1e2_to_qphi(samples["lens_mass.0.e1"].to_numpy(), samples["lens_mass.0.e2"].to_numpy())[0]), (0.5, 1.0)),
        (np.asarray(e1e2_to_qphi(samples["source_light.0.e1"].to_numpy(), samples["source_light.0.e2"].to_numpy())[0]), (0.4, 1.0)),
        (samples["lens_mass.0.theta_E"].to_numpy(), (0.5, 2.0)),
    ]:
        fractions = np.histogram(values, bins=np.linspace(lo, hi, 6), weights=w)[0] / w.sum()
        np.testing.assert_allclose(fractions, 0.2, atol=0.03)  # ~4.5 sigma at that size


def test_a_fit_with_other_priors_is_refused(module):
    config = _config()
    config["model_components"]["lens_mass_list"][0]["params"]["e1"] = {"prior_type": "uniform", "prior_settings": [-1, 1]}
    with pytest.raises(SystemExit, match="lens_mass.0.e1 has a uniform prior"):
        module.population_weights(_prior_samples(10, np.random.default_rng(2)), config, POPULATION)


def test_paper_statistics_by_hand(module):
    truth = pd.Series(np.ones(10))
    estimate = pd.Series(1 + np.array([0.0, 0.001, -0.001, 0.002, -0.002, 0.001, -0.001, 0.0, 0.05, -0.004]))
    nmad, beyond = module.paper_statistics(estimate, truth)
    assert nmad == pytest.approx(1.48 * 0.001)
    assert beyond == 1  # only +5 %; -0.4 % is 2.7 NMAD out


def _write_run(root, lenses: dict[str, float], rng):
    """A survey folder whose lenses have Gaussian posteriors in theta_E around given centres."""
    for lens, centre in lenses.items():
        folder = root / "lenses" / lens
        folder.mkdir(parents=True)
        samples = _prior_samples(4000, rng, e_sigma=0.05)
        samples["lens_mass.0.theta_E"] = centre + 0.01 * rng.standard_normal(4000)
        samples["source_light.0.R_sersic"] = rng.uniform(0.2, 0.3, 4000)
        samples["log_likelihood"] = -0.5 * ((samples["lens_mass.0.theta_E"] - centre) / 0.01) ** 2
        samples.to_csv(folder / "result_samples.csv", index=False)
        (folder / "result.json").write_text(json.dumps({"config": _config()}))


def test_main_reads_runs_and_a_refit_replaces_its_lenses(module, tmp_path, capsys):
    rng = np.random.default_rng(3)
    pop = tmp_path / "pop"
    pop.mkdir()
    truths = [1.0, 1.5, 0.8, 1.2]
    pd.DataFrame({"lens_id": [f"lens_{i:05d}" for i in range(4)], "lens_mass.0.theta_E": truths,
                  "arc_snr_total": [50.0, 50.0, 50.0, 10.0]}).to_csv(pop / "truth.csv", index=False)
    (pop / "population.json").write_text(json.dumps({"observation": POPULATION}))
    _write_run(tmp_path / "run", {f"lens_{i:05d}": t * 1.1 for i, t in enumerate(truths)}, rng)
    _write_run(tmp_path / "refit", {"lens_00001": 1.5}, rng)
    runs = [("a", str(tmp_path / "run"), str(pop / "truth.csv")), ("a", str(tmp_path / "refit"), str(pop / "truth.csv"))]
    table = module.collect(runs).set_index("lens_id")
    assert len(table) == 4
    assert table.loc["a/lens_00001", "median"] == pytest.approx(1.5, abs=0.002)  # the refit's
    assert table.loc["a/lens_00000", "median"] == pytest.approx(1.1, abs=0.002)
    assert table.loc["a/lens_00002", "max_likelihood"] == pytest.approx(0.88, abs=0.003)
    module.main(["--snr-min", "20", *[a for r in runs for a in ("--run", *r)]])
    assert capsys.readouterr().out.startswith("3 lenses")


def _write_optimizer_run(root, lenses: dict[str, float]):
    """A survey folder of optimizer fits: one point each in result_samples.csv (weight 1), with
    a lens axis ratio of 1/3, outside the population's, which no reweighting could keep."""
    for lens, theta in lenses.items():
        folder = root / "lenses" / lens
        folder.mkdir(parents=True)
        point = _prior_samples(1, np.random.default_rng(0))
        point["lens_mass.0.theta_E"], point["lens_mass.0.e1"], point["lens_mass.0.e2"] = theta, 0.5, 0.0
        point.to_csv(folder / "result_samples.csv", index=False)
        config = {**_config(), "inference": {"type": "optimizer", "method": "lbfgs", "settings": {}}}
        (folder / "result.json").write_text(json.dumps({"config": config}))


def test_optimizer_results_are_said_by_their_one_point_not_as_a_posterior(module, tmp_path, capsys):
    """An optimizer's fit (lbfgs, differential_evolution) holds one point in result_samples.csv,
    not posterior samples: the script reweighted it to the population's prior as if it were one,
    and its population_prior_median line said 'NMAD nan %, smallest effective sample 0'. Such
    lenses are said apart, as optimizer results without a posterior, by their best point's
    statistics; sampled lenses beside them keep the estimators' lines, over themselves alone."""
    pop = tmp_path / "pop"
    pop.mkdir()
    truths = [1.0, 1.5, 0.8, 1.2]
    pd.DataFrame({"lens_id": [f"lens_{i:05d}" for i in range(4)], "lens_mass.0.theta_E": truths,
                  "arc_snr_total": [50.0] * 4}).to_csv(pop / "truth.csv", index=False)
    (pop / "population.json").write_text(json.dumps({"observation": POPULATION}))
    deviations = [0.01, -0.01, 0.02, 0.0]  # NMAD 1.48 x median(|d - 0.005|) = 1.48 %
    _write_optimizer_run(tmp_path / "opt", {f"lens_{i:05d}": t * (1 + d) for i, (t, d) in
                                            enumerate(zip(truths, deviations))})
    module.main(["--run", "o", str(tmp_path / "opt"), str(pop / "truth.csv")])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "4 lenses" and "nan" not in "\n".join(lines), lines
    assert lines[1].startswith("4 optimizer results (one point each, no posterior"), lines
    assert len(lines) == 3 and lines[2].split(":")[0].strip() == "best_point", lines
    assert lines[2].split(":")[1].startswith(" theta_E NMAD 1.480 %"), lines

    _write_run(tmp_path / "run", {"lens_00000": 1.1, "lens_00001": 1.65}, np.random.default_rng(4))
    module.main(["--run", "o", str(tmp_path / "opt"), str(pop / "truth.csv"),
                 "--run", "s", str(tmp_path / "run"), str(pop / "truth.csv")])
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["6 lenses", "2 sampled (a posterior each):"], lines
    names = [line.split(":")[0].strip() for line in lines[2:6]]
    assert names == ["median", "mean", "max_likelihood", "population_prior_median"], lines
    assert all("nan" not in line for line in lines[2:6]) and "smallest effective sample" in lines[5], lines
    assert lines[6].startswith("4 optimizer results") and lines[7].split(":")[0].strip() == "best_point", lines


def test_one_lens_is_counted_in_the_singular(module, tmp_path, capsys):
    """One optimizer fit printed '1 lenses' and '1 optimizer results (...)'."""
    pop = tmp_path / "pop"
    pop.mkdir()
    pd.DataFrame({"lens_id": ["lens_00000"], "lens_mass.0.theta_E": [1.0], "arc_snr_total": [50.0]}).to_csv(
        pop / "truth.csv", index=False)
    (pop / "population.json").write_text(json.dumps({"observation": POPULATION}))
    _write_optimizer_run(tmp_path / "opt", {"lens_00000": 1.01})
    module.main(["--run", "o", str(tmp_path / "opt"), str(pop / "truth.csv")])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "1 lens" and lines[1].startswith("1 optimizer result (one point"), lines


def test_one_lens_of_each_kind_is_not_said_to_hold_one_point_each(module, tmp_path, capsys):
    """One optimizer fit beside one sampled lens printed '1 sampled (a posterior each):' and
    '1 optimizer result (one point each, ...)': 'each' of one lens. Each is said of itself."""
    pop = tmp_path / "pop"
    pop.mkdir()
    pd.DataFrame({"lens_id": ["lens_00000", "lens_00001"], "lens_mass.0.theta_E": [1.0, 1.5],
                  "arc_snr_total": [50.0, 50.0]}).to_csv(pop / "truth.csv", index=False)
    (pop / "population.json").write_text(json.dumps({"observation": POPULATION}))
    _write_optimizer_run(tmp_path / "opt", {"lens_00000": 1.01})
    _write_run(tmp_path / "run", {"lens_00001": 1.65}, np.random.default_rng(4))
    module.main(["--run", "o", str(tmp_path / "opt"), str(pop / "truth.csv"),
                 "--run", "s", str(tmp_path / "run"), str(pop / "truth.csv")])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[:2] == ["2 lenses", "1 sampled (with a posterior):"], lines
    assert ("1 optimizer result (one point, no posterior to read by several estimators or reweight to the "
            "population's prior):") in lines, lines
    assert "each" not in out, out
