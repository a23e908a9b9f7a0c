"""examples/recheck_peaks.py on stored results of a lenstronomy-made lens: the truth and a mass
that leaves a counter-image out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

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


def test_recheck_peaks_reads_stages_only_states(tmp_path, capsys):
    """A state file as stages_only.py --states writes it: the check at its best fit; a state of
    another template is refused."""
    script = load_script("examples/recheck_peaks.py")
    cfg = write_tiny_lens(tmp_path / "lenses" / "tiny")  # the lens folder, its config the template
    problem = tinylens.load(cfg)
    truth = [FREE_TRUTH[n] for n in problem.param_names]
    states = tmp_path / "states"
    states.mkdir()
    (states / "tiny.json").write_text(json.dumps({"best": truth, "param_names": list(problem.param_names)}))
    args = ["--template", str(cfg), "--lens-dir", str(tmp_path / "lenses")]
    assert script.main([str(states / "tiny.json"), *args]) == 0
    assert "peaks_apart 0.00 theta_E" in capsys.readouterr().out
    (states / "tiny.json").write_text(json.dumps({"best": truth[:-1]}))
    with pytest.raises(SystemExit, match="not those of the template"):
        script.main([str(states / "tiny.json"), *args])


@pytest.mark.parametrize("name, text, message", [
    ("tiny.json", None, "no such file"),
    ("tiny.json", "not json", "not a readable state"),
    ("tiny.json", '{"stages": {}}', "it has no 'best'"),
    ("tiny.json", '{"best": 3}', "its best should be a list of numbers"),
    ("other.json", '{"best": [1.0]}', "no lens 'other' in --lens-dir"),
])
def test_recheck_peaks_refuses_a_state_file_that_is_not_one_in_a_line(tmp_path, name, text, message):
    """A missing, unreadable or foreign state file, or one not named after a lens, is an error
    line naming it (SystemExit), not a traceback; stage_fits.py reads states the same way."""
    script = load_script("examples/recheck_peaks.py")
    stage_fits = load_script("examples/slacs/stage_fits.py")
    cfg = write_tiny_lens(tmp_path / "lenses" / "tiny")
    state = tmp_path / "states" / name
    state.parent.mkdir()
    if text is not None:
        state.write_text(text)
    with pytest.raises(SystemExit, match=message):
        script.main([str(state), "--template", str(cfg), "--lens-dir", str(tmp_path / "lenses")])
    if name == "tiny.json":
        with pytest.raises(SystemExit) as exc:
            stage_fits.main([str(tmp_path / "lenses"), "tiny", str(state), "--template", str(cfg)])
        assert exc.value.code == 2
    with pytest.raises(SystemExit, match="does not exist"):
        script.main([str(state), "--template", str(cfg), "--lens-dir", str(tmp_path / "nowhere")])


@pytest.mark.parametrize("broken, message", [
    (lambda fits: fits.unlink(), "dataset.noise_path file not found"),
    (lambda fits: fits.write_bytes(b"SIMPLE  = not a FITS file"), "noise"),
])
def test_recheck_peaks_names_a_broken_lens_folder_in_a_line(tmp_path, capsys, broken, message):
    """A state whose lens folder lost its noise map, or holds one that is not FITS: an error line
    that names the file (SystemExit with a message, a non-zero exit), not a DataError traceback."""
    script = load_script("examples/recheck_peaks.py")
    cfg = write_tiny_lens(tmp_path / "lenses" / "tiny")
    names = tinylens.load(cfg).param_names
    states = tmp_path / "states"
    states.mkdir()
    (states / "tiny.json").write_text(json.dumps({"best": [FREE_TRUTH[n] for n in names], "param_names": list(names)}))
    broken(tmp_path / "lenses" / "tiny" / "noise.fits")
    with pytest.raises(SystemExit) as exc:
        script.main([str(states / "tiny.json"), "--template", str(cfg), "--lens-dir", str(tmp_path / "lenses")])
    assert isinstance(exc.value.code, str) and exc.value.code.startswith("error: ") and message in exc.value.code
    assert "noise.fits" in exc.value.code


def test_a_state_file_named_twice_is_checked_and_counted_once(tmp_path, capsys):
    """recheck_peaks.py DIR/*.json DIR/tiny.json (or the same state by another spelling) checked the
    state twice, printed two rows and "2 results"; each state file now comes once, and one is
    "1 result", not "1 results"."""
    script = load_script("examples/recheck_peaks.py")
    cfg = write_tiny_lens(tmp_path / "lenses" / "tiny")
    problem = tinylens.load(cfg)
    states = tmp_path / "states"
    states.mkdir()
    state = states / "tiny.json"
    state.write_text(json.dumps({"best": [FREE_TRUTH[n] for n in problem.param_names],
                                 "param_names": list(problem.param_names)}))
    args = ["--template", str(cfg), "--lens-dir", str(tmp_path / "lenses"), "-o", str(tmp_path / "peaks.csv")]
    assert script.main([str(state), str(states / ".." / "states" / "tiny.json"), str(state), *args]) == 0
    out = capsys.readouterr().out
    assert out.count(": peaks_apart ") == 1 and "\n1 result, 0 with peaks_apart\n" in out, out
    assert len(pd.read_csv(tmp_path / "peaks.csv")) == 1
