"""What examples/recheck_images.py and examples/recheck_peaks.py take: every folder given must hold
a result (a mistyped one among several is named, not skipped unseen), and a result.json itself
is taken as its folder is."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import tinylens
from scripts import load_script
from tiny_lens import FREE_TRUTH, write_stored_result, write_tiny_lens

SCRIPTS = ["examples/recheck_images.py", "examples/recheck_peaks.py"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A survey-like output ``run/lenses/tiny/result.json`` of the tiny lens at its truth."""
    root = tmp_path_factory.mktemp("recheck")
    problem = tinylens.load(write_tiny_lens(root / "lens"))
    truth = np.array([FREE_TRUTH[n] for n in problem.param_names])
    write_stored_result(root / "run" / "lenses" / "tiny", problem, truth, quality={"trusted": True, "flags": []})
    return root / "run"


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_folder_without_results_among_others_is_named(run, script, capsys):
    assert load_script(script).main([str(run), str(run.parent / "rnu")]) == 1
    err = capsys.readouterr().err
    assert f"no result.json under {run.parent / 'rnu'} (" in err and str(run) + "," not in err


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_result_json_is_taken_as_its_folder_is(run, script, capsys):
    assert load_script(script).main([str(run / "lenses" / "tiny" / "result.json")]) == 0
    assert re.search(r"^1 result, 0 (flagged|with) ", capsys.readouterr().out, re.MULTILINE)  # not "1 results"


def test_a_state_file_without_template_is_told_what_it_needs(run, tmp_path, capsys):
    state = tmp_path / "tiny.json"
    state.write_text(json.dumps({"best": [1.0]}))
    assert load_script("examples/recheck_peaks.py").main([str(state)]) == 1
    assert "a state file of stages_only.py --states needs --template and --lens-dir" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # --lens-dir alone was ignored: the states were read as results
        load_script("examples/recheck_peaks.py").main([str(state), "--lens-dir", str(tmp_path)])
    assert exc.value.code == 2 and "--lens-dir needs --template" in capsys.readouterr().err


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_result_named_twice_is_counted_once(run, script, capsys):
    """The survey, its lens folder, that folder's result.json and the folder by another spelling
    name one result: one row and '1 result', not four."""
    tiny = run / "lenses" / "tiny"
    args = [run, tiny, tiny / "result.json", run / "lenses" / ".." / "lenses" / "tiny"]
    assert load_script(script).main([str(a) for a in args]) == 0
    out = capsys.readouterr().out
    assert re.findall(r"^\d+ results?,", out, re.MULTILINE) == ["1 result,"]
    if script.endswith("peaks.py"):  # one printed row per result
        assert out.count(": peaks_apart ") == 1
