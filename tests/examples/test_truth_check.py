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
