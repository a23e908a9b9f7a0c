"""examples/slacs/failure_gallery.py on a survey output of the tiny lenstronomy-made lens."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import tinylens
from scripts import load_script
from tiny_lens import FREE_TRUTH, write_stored_result, write_tiny_lens


@pytest.fixture
def survey(tmp_path):
    """``run/``: catalog.csv and lenses/J0000+0000/result.json (theta_E 1.0"); ``reference.csv``:
    lens_name and theta_E_bolton2008 (1.5": 33 % off)."""
    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    truth = np.array([FREE_TRUTH[n] for n in problem.param_names])
    run = tmp_path / "run"
    write_stored_result(run / "lenses" / "J0000+0000", problem, truth, quality={"trusted": True, "flags": []})
    pd.DataFrame({"lens_id": ["J0000+0000"], "status": ["ok"], "lens_mass.0.theta_E_median": [1.0]}).to_csv(
        run / "catalog.csv", index=False)
    pd.DataFrame({"lens_name": ["J0000+0000"], "theta_E_bolton2008": [1.5]}).to_csv(tmp_path / "reference.csv", index=False)
    return run, tmp_path / "reference.csv"


def test_gallery_draws_the_lens_beyond_the_threshold(survey, tmp_path, capsys):
    script = load_script("examples/slacs/failure_gallery.py")
    run, reference = survey
    out = tmp_path / "gallery.png"
    assert script.main([str(run), str(reference), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not list(tmp_path.glob(".*unfinished*"))
    assert "(1 lens: J0000+0000)" in capsys.readouterr().out
    assert script.main([str(run), str(reference), "-o", str(out), "--threshold", "0.5"]) == 0
    assert "no lens beyond the threshold" in capsys.readouterr().out


@pytest.mark.parametrize("change, message", [
    (lambda run, ref: (run.parent / "nowhere", ref), "does not exist"),
    (lambda run, ref: (run, ref.parent / "nowhere.csv"), "does not exist"),
    (lambda run, ref: (run, ref, "--reference-column", "theta_E_x"), "no column 'theta_E_x'"),
    (lambda run, ref: (run, ref, "--lens", "J9999+9999"), "no theta_E_bolton2008 for J9999"),
    (lambda run, ref: (run, ref, "--also", str(run.parent / "other")), "no result: "),
])
def test_gallery_mistakes_are_one_line(survey, tmp_path, change, message):
    """A wrong folder, table, column or lens is an error line (SystemExit), not a traceback."""
    script = load_script("examples/slacs/failure_gallery.py")
    args = [str(a) for a in change(*survey)]
    with pytest.raises(SystemExit, match=message):
        script.main([*args, "-o", str(tmp_path / "gallery.png")])
    assert not (tmp_path / "gallery.png").exists()


def test_gallery_counts_its_lenses_in_words(survey, tmp_path, capsys):
    """'1 lens' for one lens and '2 lenses' for two (a copy of the result as J0000+0001, with its
    own reference value), where it printed '1 lenses'."""
    script = load_script("examples/slacs/failure_gallery.py")
    run, reference = survey
    out = tmp_path / "gallery.png"
    assert script.main([str(run), str(reference), "-o", str(out), "--dpi", "20"]) == 0
    assert "(1 lens: J0000+0000)" in capsys.readouterr().out
    shutil.copytree(run / "lenses" / "J0000+0000", run / "lenses" / "J0000+0001")
    pd.DataFrame({"lens_name": ["J0000+0000", "J0000+0001"], "theta_E_bolton2008": [1.5, 1.4]}).to_csv(
        reference, index=False)
    args = ["--lens", "J0000+0000", "--lens", "J0000+0001", "--dpi", "20"]
    assert script.main([str(run), str(reference), "-o", str(out), *args]) == 0
    assert "(2 lenses: J0000+0000, J0000+0001)" in capsys.readouterr().out


def test_a_lens_given_twice_gets_one_row(survey, tmp_path, capsys):
    """--lens J0000+0000 --lens J0000+0000 drew the lens in two rows (a figure twice as tall) and
    said '(2 lenses: J0000+0000, J0000+0000)'; a lens comes once, as its first --lens names it."""
    script = load_script("examples/slacs/failure_gallery.py")
    run, reference = survey
    once, twice = tmp_path / "once.png", tmp_path / "twice.png"
    assert script.main([str(run), str(reference), "-o", str(once), "--dpi", "20", "--lens", "J0000+0000"]) == 0
    assert script.main([str(run), str(reference), "-o", str(twice), "--dpi", "20",
                        "--lens", "J0000+0000", "--lens", "J0000+0000"]) == 0
    assert capsys.readouterr().out.count("(1 lens: J0000+0000)") == 2
    height = [int.from_bytes(path.read_bytes()[20:24], "big") for path in (once, twice)]  # the PNG's IHDR
    assert height[0] == height[1] > 0, height
