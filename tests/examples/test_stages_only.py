"""examples/stages_only.py and examples/slacs/stage_fits.py on the tiny lenstronomy-made lens."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

import tinylens
from scripts import load_script
from tiny_lens import FREE_TRUTH, tiny_config, write_tiny_lens


def test_stages_find_the_lens_and_its_peaks_meet_under_the_right_mass_only(tmp_path):
    stages_only = load_script("examples/stages_only.py")
    stage_fits = load_script("examples/slacs/stage_fits.py")
    write_tiny_lens(tmp_path / "lenses" / "tiny")
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(tiny_config()))
    table, states = tmp_path / "stages.csv", tmp_path / "states"
    stages_only.main([str(tmp_path / "lenses"), "--template", str(template), "-o", str(table), "--states", str(states)])

    row = pd.read_csv(table).iloc[0]
    assert row["lens"] == "tiny" and pd.isna(row["error"])
    assert row["theta_E"] == pytest.approx(FREE_TRUTH["lens_mass.0.theta_E"], rel=0.02)
    assert row["n_evals"] > 0 and np.isfinite(row["log_P"])
    state = json.loads((states / "tiny.json").read_text())
    assert state["best"][state["param_names"].index("lens_mass.0.theta_E")] == pytest.approx(row["theta_E"])

    problem = tinylens.load(write_tiny_lens(tmp_path / "again"))
    peaks = np.asarray(state["stages"]["arc"]["peaks"]).reshape(-1, 2)
    assert len(peaks) >= 2
    best = np.asarray(state["best"])
    wrong = best.copy()
    wrong[problem.param_names.index("lens_mass.0.theta_E")] *= 0.7

    def spread(theta):
        beta = stage_fits.to_source_plane(problem, theta, peaks)
        return np.median(np.hypot(*(beta - np.median(beta, axis=0)).T))

    assert spread(best) < 0.1 < spread(wrong)  # the images meet on the source plane under the right mass only
    (states / "wrong.json").write_text(json.dumps({**state, "best": wrong.tolist()}))
    out = tmp_path / "fits.png"
    assert stage_fits.main([str(tmp_path / "lenses"), "tiny", str(states / "tiny.json"), str(states / "wrong.json"),
                            "--template", str(template), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not list(tmp_path.glob("*.partial*"))
    (states / "renamed.json").write_text(json.dumps({**state, "param_names": ["x"] * len(best)}))
    with pytest.raises(SystemExit):  # a state of another model is refused, naming the file
        stage_fits.main([str(tmp_path / "lenses"), "tiny", str(states / "renamed.json"), "--template", str(template)])
    with pytest.raises(SystemExit):
        stages_only.main([str(tmp_path / "lenses"), "--template", str(template), "--lenses", "nowhere"])
