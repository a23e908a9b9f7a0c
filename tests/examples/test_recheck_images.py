"""examples/recheck_images.py on stored results of a lenstronomy-made lens with known images."""

from __future__ import annotations

import numpy as np

import tinylens
from scripts import load_script
from tiny_lens import FREE_TRUTH, write_stored_result, write_tiny_lens


def _store(folder, problem, theta, flags):
    write_stored_result(folder, problem, theta,
                        quality={"flags": flags, "critical": ["unconverged", "not_multiply_imaged"]})


def test_recheck_lifts_the_false_alarm_of_a_straddling_source_only(tmp_path, capsys):
    """Round SIS of theta_E = 1 (its cut at beta = 1): a source centred at 1.05 whose half-light
    disc reaches 0.9 is lensed; one centred at 1.6 is not; an unflagged result is skipped."""
    script = load_script("examples/recheck_images.py")
    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    names = problem.param_names
    truth = np.array([FREE_TRUTH[n] for n in names])
    run = tmp_path / "run" / "lenses"
    for name, x, flags in [("straddle", 1.05, ["unmodelled_flux", "not_multiply_imaged"]),
                           ("outside", 1.6, ["not_multiply_imaged"]), ("fine", 0.1, [])]:
        theta = truth.copy()
        theta[names.index("source_light.0.center_x")] = x
        theta[names.index("source_light.0.center_y")] = 0.0
        _store(run / name, problem, theta, flags)

    rows = {r["result"].rsplit("/", 1)[-1]: r for r in map(script.recheck, script.result_files([tmp_path / "run"])) if r}
    assert set(rows) == {"straddle", "outside"}
    assert rows["straddle"]["centre_images"] == 1 and rows["straddle"]["half_light_images"] == 2
    assert not rows["straddle"]["flag_now"] and rows["straddle"]["trusted_now"]  # unmodelled_flux not critical here
    assert rows["outside"]["half_light_images"] == 1 and rows["outside"]["flag_now"] and not rows["outside"]["trusted_now"]

    assert script.main([str(tmp_path / "run")]) == 0
    assert "3 results, 2 flagged not_multiply_imaged" in capsys.readouterr().out
    assert script.main([str(tmp_path / "nothing")]) == 1


def test_a_result_that_load_stored_refuses_is_said_as_it_says_it_not_as_unreadable(tmp_path):
    """A flagged result whose recorded config this tinylens refuses (pixel_scale edited to -1), a
    ConfigValueError and so a ValueError too, was caught with the JSON's errors: 'not a readable
    result.json (ConfigValueError: ...)', though the file was read; the message is load_stored's own."""
    import json

    import pytest

    from tinylens.errors import ConfigValueError
    from tinylens.results.stored import load_stored

    script = load_script("examples/recheck_images.py")
    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    path = write_stored_result(tmp_path / "run", problem, np.array([FREE_TRUTH[n] for n in problem.param_names]),
                               quality={"flags": ["not_multiply_imaged"], "critical": ["not_multiply_imaged"]})
    stored = json.loads(path.read_text())
    stored["config"]["dataset"]["pixel_scale"] = -1.0
    path.write_text(json.dumps(stored))
    with pytest.raises(ConfigValueError) as truth:  # what load_stored says of it
        load_stored(path)
    with pytest.raises(SystemExit) as said:
        script.recheck(path)
    assert str(said.value) == f"error: {truth.value}", str(said.value)
    assert "not a readable result.json" not in str(said.value)
