"""examples/recheck_peaks.py on stored results of a lenstronomy-made lens: the truth and a mass
that leaves a counter-image out."""

from __future__ import annotations

import numpy as np

import tinylens
from scripts import load_script
from tiny_lens import FREE_TRUTH, write_stored_result, write_tiny_lens


def test_recheck_peaks_withdraws_trust_from_a_fit_that_leaves_an_image_out(tmp_path, capsys):
    """The tiny SIS (theta_E 1", source at beta = (0.1, -0.06)); 'wrong' has theta_E 0.55" and
    its source on the outer image's source-plane position, so the inner image lands 1.64 theta_E
    away (tests/results/test_quality.py)."""
    script = load_script("examples/recheck_peaks.py")
    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    names = problem.param_names
    truth = np.array([FREE_TRUTH[n] for n in names])
    beta = np.array([0.1, -0.06])
    wrong = truth.copy()
    wrong[names.index("lens_mass.0.theta_E")] = 0.55
    wrong[[names.index("source_light.0.center_x"), names.index("source_light.0.center_y")]] = (
        (1 + np.hypot(*beta) - 0.55) * beta / np.hypot(*beta))
    run = tmp_path / "run" / "lenses"
    for name, theta in [("right", truth), ("wrong", wrong)]:
        write_stored_result(run / name, problem, theta, quality={"trusted": True, "flags": []})

    rows = {r["result"].rsplit("/", 1)[-1]: r for r in map(script.recheck, script.result_files([tmp_path / "run"]))}
    assert rows["right"]["peaks_apart_theta_E"] == 0.0 and not rows["right"]["flag_now"] and rows["right"]["trusted_now"]
    assert np.isclose(rows["wrong"]["peaks_apart_theta_E"], 0.9 / 0.55, rtol=0.1)
    assert rows["wrong"]["flag_now"] and rows["wrong"]["critical"] and not rows["wrong"]["trusted_now"]

    assert script.main([str(tmp_path / "run"), "-o", str(tmp_path / "peaks.csv")]) == 0
    assert "2 results, 1 with peaks_apart" in capsys.readouterr().out
    assert (tmp_path / "peaks.csv").read_text().count("\n") == 3
    assert script.main([str(tmp_path / "nothing")]) == 1
