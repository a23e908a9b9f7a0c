"""A user's mistake on an example script's command line (a wrong path, a missing table, an output
folder that does not exist) is one error line and a non-zero exit (SystemExit), not a traceback,
and is found before any slow work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import tinylens
from scripts import load_script
from tiny_lens import FREE_TRUTH, tiny_config, write_stored_result, write_tiny_lens


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A lens folder (``lenses/tiny``), a template, and a survey-like output ``run/`` holding that
    lens's stored result (no posterior samples) and a catalogue."""
    root = tmp_path_factory.mktemp("mistakes")
    problem = tinylens.load(write_tiny_lens(root / "lenses" / "tiny"))
    (root / "template.yaml").write_text(yaml.safe_dump(tiny_config()))
    truth = np.array([FREE_TRUTH[n] for n in problem.param_names])
    write_stored_result(root / "run" / "lenses" / "tiny", problem, truth, quality={"trusted": True, "flags": []})
    pd.DataFrame({"lens_id": ["tiny"], "status": ["ok"]}).to_csv(root / "run" / "catalog.csv", index=False)
    pd.DataFrame({"lens_id": ["tiny"], "lens_mass.0.theta_E": [1.0], "arc_snr_max": [10.0]}).to_csv(
        root / "truth.csv", index=False)
    return root


CASES = [
    ("examples/stages_only.py", ["nowhere", "--template", "template.yaml"], "does not exist"),
    ("examples/stages_only.py", ["lenses", "--template", "nowhere.yaml"], "not found"),
    ("examples/stages_only.py", ["lenses", "--template", "template.yaml", "-o", "no_folder/stages.csv"], None),
    ("examples/recheck_peaks.py", ["run", "-o", "no_folder/peaks.csv"], None),
    ("examples/mocks/reweight_snr.py", ["nowhere.csv", "truth.csv"], "does not exist"),
    ("examples/mocks/reweight_snr.py", ["run/catalog.csv", "truth.csv", "--slopes", "0,one"], None),
    ("examples/mocks/truth_check.py", ["run", "nowhere", "tiny"], "no nowhere/tiny/truth.json"),
    ("examples/mocks/truth_check.py", ["run", "lenses", "tiny", "-o", "no_folder/check.csv"], None),
    ("examples/mocks/truth_check.py", ["run", "lenses", "tiny", "--nsub", "0"], None),
    ("examples/mocks/noise_realisations.py", ["run", "lenses", "tiny", "-o", "no_folder/optima.csv"], None),
    ("examples/mocks/point_estimates.py", ["--run", "s1", "run", "nowhere.csv"], "no fitted lens"),
    ("examples/slacs/compare_fits.py", ["tiny", "run", "-o", "no_folder/compare.png"], None),
]


@pytest.mark.parametrize("script, args, message", CASES, ids=[f"{s.rsplit('/', 1)[-1]}:{' '.join(a)}" for s, a, _ in CASES])
def test_a_mistake_is_one_line(files, monkeypatch, script, args, message):
    """``message``: what the error line says (None: argparse's usage error, exit code 2)."""
    monkeypatch.chdir(files)
    with pytest.raises(SystemExit) as exc:
        load_script(script).main(args)
    if message is None:
        assert exc.value.code == 2
    else:
        assert message in str(exc.value.code)


def test_point_estimates_refuses_a_missing_truth_table(files, monkeypatch, tmp_path):
    """A run with fitted lenses whose truth table is missing: an error line naming it."""
    monkeypatch.chdir(files)
    samples = files / "run" / "lenses" / "tiny" / "result_samples.csv"
    samples.write_text("lens_mass.0.theta_E,weight,log_likelihood\n1.0,1.0,0.0\n")
    try:
        with pytest.raises(SystemExit, match="truth table nowhere.csv does not exist"):
            load_script("examples/mocks/point_estimates.py").main(["--run", "s1", "run", "nowhere.csv"])
    finally:
        samples.unlink()


def test_stage_fits_refuses_an_output_folder_that_does_not_exist_before_drawing(files, monkeypatch):
    import json

    monkeypatch.chdir(files)
    problem = tinylens.load(files / "lenses" / "tiny" / "model_config.yaml")
    state = files / "tiny.json"
    state.write_text(json.dumps({"best": [FREE_TRUTH[n] for n in problem.param_names],
                                 "param_names": list(problem.param_names)}))
    with pytest.raises(SystemExit) as exc:
        load_script("examples/slacs/stage_fits.py").main(
            ["lenses", "tiny", str(state), "--template", "template.yaml", "-o", "no_folder/stages.png"])
    assert exc.value.code == 2


BROKEN_RESULT = [
    ("examples/recheck_images.py", ["broken"]),
    ("examples/recheck_peaks.py", ["broken"]),
    ("examples/slacs/compare_fits.py", ["tiny", "broken"]),
    ("examples/slacs/failure_gallery.py", ["broken", "truth.csv", "--reference-column", "lens_mass.0.theta_E",
                                           "--lens", "tiny"]),
    ("examples/mocks/truth_check.py", ["broken", "broken_truth", "tiny"]),
    ("examples/mocks/noise_realisations.py", ["broken", "broken_truth", "tiny", "-n", "2"]),
    ("examples/mocks/point_estimates.py", ["--run", "s1", "broken", "broken_truth/truth.csv"]),
]


@pytest.mark.parametrize("script, args", BROKEN_RESULT, ids=[s.rsplit("/", 1)[-1] for s, _ in BROKEN_RESULT])
def test_an_unreadable_result_is_one_line(files, monkeypatch, script, args):
    """A survey output whose ``result.json`` is cut short (a copy interrupted, a hand edit): one
    error line naming the file, not a traceback of json or of load_stored's OutputError."""
    monkeypatch.chdir(files)
    lens = files / "broken" / "lenses" / "tiny"
    lens.mkdir(parents=True, exist_ok=True)
    (lens / "result.json").write_text('{"median": ')
    (lens / "result_samples.csv").write_text("lens_mass.0.theta_E,weight,log_likelihood\n1.0,1.0,0.0\n")
    (files / "broken" / "catalog.csv").write_text("lens_id,status\ntiny,ok\n")
    truth = files / "broken_truth"  # the population: its truth table and the lens's truth.json
    (truth / "tiny").mkdir(parents=True, exist_ok=True)
    (truth / "tiny" / "truth.json").write_text("{}")
    (truth / "truth.csv").write_text((files / "truth.csv").read_text())
    (truth / "population.json").write_text('{"observation": {}}')
    with pytest.raises(SystemExit) as exc:
        load_script(script).main(args)
    assert str(exc.value.code).startswith("error: ") and "result.json" in str(exc.value.code)


@pytest.mark.parametrize("script, args", [("examples/recheck_peaks.py", ["moved/output"]),
                                          ("examples/slacs/compare_fits.py", ["tiny", "moved/output"])],
                         ids=["recheck_peaks", "compare_fits"])
def test_a_result_whose_data_moved_is_told_what_a_script_user_can_do(tmp_path, monkeypatch, script, args):
    """The error line said to give load_stored(path, base_dir=...) the folder the data are in
    now: a script takes no such argument; its user can only edit the result's config_dir."""
    import shutil

    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    write_stored_result(tmp_path / "lens" / "output", problem, np.array([FREE_TRUTH[n] for n in problem.param_names]))
    shutil.move(tmp_path / "lens", tmp_path / "moved")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        load_script(script).main(args)
    message = str(exc.value.code)
    assert message.startswith("error: ") and "load_stored" not in message, message
    assert f"set config_dir in {Path('moved/output/result.json')} to the folder" in message, message


FOLDER_AS_FILE = [
    ("examples/stages_only.py", ["lenses", "--template", "template.yaml", "-o", "run"]),
    ("examples/stages_only.py", ["lenses", "--template", "template.yaml", "--states", "template.yaml"]),
    ("examples/recheck_peaks.py", ["run", "-o", "run"]),
    ("examples/mocks/truth_check.py", ["run", "lenses", "tiny", "-o", "run"]),
    ("examples/mocks/noise_realisations.py", ["run", "lenses", "tiny", "-n", "2", "-o", "run"]),
    ("examples/slacs/compare_fits.py", ["tiny", "run", "-o", "run"]),
    ("examples/slacs/profile_theta_E.py", ["lenses", "tiny", "--template", "template.yaml", "--reference", "1",
                                           "--grid", "0.9,1.0,0.1", "-o", "run"]),
    ("examples/slacs/failure_gallery.py", ["run", "truth.csv", "-o", "run"]),
]


@pytest.mark.parametrize("script, args", FOLDER_AS_FILE,
                         ids=[f"{s.rsplit('/', 1)[-1]}:{' '.join(a[-2:])}" for s, a in FOLDER_AS_FILE])
def test_an_output_file_that_is_a_folder_is_refused_before_the_work(files, monkeypatch, capsys, script, args):
    """``-o`` naming a folder (or ``--states`` a file) was an IsADirectoryError or FileExistsError
    traceback, after the minutes of work that the file was to hold; now a usage error first."""
    monkeypatch.chdir(files)
    with pytest.raises(SystemExit) as exc:
        load_script(script).main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and ("run is a folder; give a file name" in err or "template.yaml is a file" in err)


@pytest.mark.parametrize("bench, other", [("bench_fit.py", ["-n", "0"]), ("bench_stages.py", ["--threads", "0"]),
                                          ("bench_likelihood.py", [])])
def test_a_bench_json_that_is_a_folder_is_refused_before_the_timings(tmp_path, monkeypatch, capsys, bench, other):
    """``--json`` naming a folder passed the check of its parent and failed after the timings.
    (``other``: a later usage error, or timings that fail, so that a missed check ends at once.)"""
    import sys

    monkeypatch.setattr(sys, "argv", [bench, "--json", str(tmp_path), *other])
    script = load_script(f"benchmarks/{bench}")
    monkeypatch.setattr(script, "measure", lambda *a: pytest.fail("timed"), raising=False)
    with pytest.raises(SystemExit) as exc:
        script.main()
    assert exc.value.code == 2 and f"{tmp_path} is a folder; give a file name" in capsys.readouterr().err


def test_stage_fits_refuses_the_state_of_another_lens(tmp_path, capsys):
    """``states/J0008.json`` given for J2303 was drawn over J2303's data (a 'wrong fit' that is
    no fit's); a state named after another lens of LENS_DIR is now a usage error naming both."""
    import json

    script = load_script("examples/slacs/stage_fits.py")
    cfg = write_tiny_lens(tmp_path / "lenses" / "tiny")
    write_tiny_lens(tmp_path / "lenses" / "other")
    problem = tinylens.load(cfg)
    state = tmp_path / "states" / "other.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"best": [FREE_TRUTH[n] for n in problem.param_names],
                                 "param_names": list(problem.param_names)}))
    with pytest.raises(SystemExit) as exc:
        script.main([str(tmp_path / "lenses"), "tiny", str(state), "--template", str(cfg),
                     "-o", str(tmp_path / "fits.png")])
    assert exc.value.code == 2 and f"{state} is the state of lens other, not of tiny" in capsys.readouterr().err
    lenses = {"tiny": None, "other": None}
    assert script.state_lens("states/tiny.json", lenses) == "tiny"
    assert script.state_lens("run/lenses/other/checkpoint.pipeline.json", lenses) == "other"
    assert script.state_lens("before.json", lenses) is None
