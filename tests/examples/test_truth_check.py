"""examples/mocks/truth_check.py on the lenstronomy-made tiny lens: a fit at the truth is the data's
answer, a fit at a wrong Einstein radius is a missed mode."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import tinylens
from scripts import load_script
from tiny_lens import FREE_TRUTH, write_stored_result, write_tiny_lens


def test_a_wrong_radius_is_the_search_and_the_truth_is_the_data(tmp_path, capsys):
    script = load_script("examples/mocks/truth_check.py")
    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    names = problem.param_names
    truth = np.array([FREE_TRUTH[n] for n in names])
    wrong = truth.copy()
    wrong[names.index("lens_mass.0.theta_E")] = 0.7
    for name, theta in [("right", truth), ("wrong", wrong)]:
        write_stored_result(tmp_path / "run" / "lenses" / name, problem, theta)
        (tmp_path / "mocks" / name).mkdir(parents=True)
        (tmp_path / "mocks" / name / "truth.json").write_text(json.dumps({"params": FREE_TRUTH}))

    assert script.main([str(tmp_path / "run"), str(tmp_path / "mocks"), "right", "wrong", "-o", str(tmp_path / "t.csv")]) == 0
    out = capsys.readouterr().out
    assert "right: " in out and out.split("right: ")[1].split("\n")[0].endswith("-> data")
    assert out.split("wrong: ")[1].split("\n")[0].endswith("-> search")
    rows = {r["lens"]: r for r in pd.read_csv(tmp_path / "t.csv").to_dict("records")}
    assert rows["wrong"]["theta_E_from_truth"] == pytest.approx(1.0, abs=0.02)
    assert rows["wrong"]["log_P_from_truth"] > rows["wrong"]["log_P_fit"] + 100
    assert rows["right"]["log_P_from_truth"] - rows["right"]["log_P_fit"] < 5
    with pytest.raises(SystemExit, match="no true value"):
        (tmp_path / "mocks" / "right" / "truth.json").write_text(json.dumps({"params": {}}))
        script.main([str(tmp_path / "run"), str(tmp_path / "mocks"), "right"])


def test_nsub_reoptimises_on_a_uniform_grid_and_gives_shifts_in_the_catalogues_widths(tmp_path, capsys):
    script = load_script("examples/mocks/truth_check.py")
    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))  # its own grid: uniform 2 x 2
    truth = np.array([FREE_TRUTH[n] for n in problem.param_names])
    write_stored_result(tmp_path / "run" / "lenses" / "right", problem, truth)
    (tmp_path / "mocks" / "right").mkdir(parents=True)
    (tmp_path / "mocks" / "right" / "truth.json").write_text(json.dumps({"params": FREE_TRUTH}))
    pd.DataFrame([{"lens_id": "right", "lens_mass.0.theta_E_lo68": 0.99, "lens_mass.0.theta_E_hi68": 1.01}]).to_csv(
        tmp_path / "run" / "catalog.csv", index=False)
    rows = {}
    for nsub in (2, 6):
        out = tmp_path / f"t{nsub}.csv"
        assert script.main([str(tmp_path / "run"), str(tmp_path / "mocks"), "right", "--nsub", str(nsub), "-o", str(out)]) == 0
        rows[nsub] = pd.read_csv(out).iloc[0]
    assert "uniform 6x6 grid: theta_E" in capsys.readouterr().out
    same, finer = rows[2], rows[6]
    # the fit's own grid again: the optimum stays put
    assert same["lens_mass.0.theta_E_grid_fine"] == pytest.approx(same["lens_mass.0.theta_E_grid_fit"], abs=1e-4)
    assert same["log_P_grid_fine"] == pytest.approx(same["log_P_grid_fit"], abs=0.05)
    # another grid is another objective; the shift is in units of the catalogue's half-width (0.01")
    assert abs(finer["log_P_grid_fine"] - finer["log_P_grid_fit"]) > 1e-3
    shift = (finer["lens_mass.0.theta_E_grid_fine"] - finer["lens_mass.0.theta_E_grid_fit"]) / 0.01
    assert finer["lens_mass.0.theta_E_shift_sigma"] == pytest.approx(shift, rel=0.01, abs=1e-5)  # (the CSV keeps 8 digits)
    assert "source_light.0.q_grid_fine" in finer and "source_light.0.q_shift_sigma" not in finer


def test_a_lens_named_twice_is_checked_once(tmp_path, capsys, monkeypatch):
    """truth_check.py RUN MOCKS right right (a list of lenses pasted with one repeated) ran its
    L-BFGS twice for the lens, printed it twice and wrote two CSV rows; a lens comes once."""
    script = load_script("examples/mocks/truth_check.py")
    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    write_stored_result(tmp_path / "run" / "lenses" / "right", problem,
                        np.array([FREE_TRUTH[n] for n in problem.param_names]))
    (tmp_path / "mocks" / "right").mkdir(parents=True)
    (tmp_path / "mocks" / "right" / "truth.json").write_text(json.dumps({"params": FREE_TRUTH}))
    checked = []
    check = script.check
    monkeypatch.setattr(script, "check", lambda *a, **k: checked.append(1) or check(*a, **k))
    out = tmp_path / "t.csv"
    assert script.main([str(tmp_path / "run"), str(tmp_path / "mocks"), "right", "right", "-o", str(out)]) == 0
    assert len(checked) == 1 and capsys.readouterr().out.count("right: theta_E true") == 1
    assert pd.read_csv(out)["lens"].tolist() == ["right"]
