"""A survey marks a simulated lens's true values (its folder's ``truth.json``, as
``simulate-population`` writes it) on the lens's corner plot, as ``tinylens fit --truth`` does; a
lens without one is fitted as before, and one whose truth.json is broken is fitted without it."""

from __future__ import annotations

import json
import warnings

from functools import partial

import pytest

from tinylens.errors import DataError, DataWarning
from tinylens.results.truth import check_truth, read_truth, truth_step
from tinylens.survey import discovery
from tinylens.survey import runner
from tinylens.survey import task
from tinylens.survey import template as survey_template

#: The template's free parameters, one of them a different value, plus a parameter it does not fit.
TRUTH = {"lens_mass.0.theta_E": 1.0, "source_light.0.R_sersic": 0.15, "lens_light.0.R_sersic": 0.5}


def _config(mock_survey, tmp_path, lens_id: str = "lens_b", **inference) -> dict:
    template = survey_template.load_template(mock_survey["template"])
    if inference:
        template["inference"] = inference
    return survey_template.lens_config(template, discovery.Lens(lens_id, mock_survey["lenses"] / lens_id), tmp_path / "out")


@pytest.mark.parametrize("content, expected", [
    ("{not json", "not a JSON file of true parameter values"),
    ('{"params": {"lens_mass.0.theta_E": "one"}}', "lens_mass.0.theta_E is not a finite number"),
    (None, "is a folder"),  # a folder of that name
])
def test_a_truth_file_that_cannot_be_read_is_a_warning_naming_it(tmp_path, content, expected):
    path = tmp_path / "truth.json"
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    with pytest.warns(DataWarning) as caught:
        assert truth_step(partial(read_truth, path), str(path), "warn") is None
    text = str(caught[0].message)
    assert expected in text and str(path) in text and "not marked on the corner plot" in text
    with pytest.raises((DataError, OSError)):
        truth_step(partial(read_truth, path), str(path))  # tinylens fit --truth: an error


def test_a_truth_file_this_user_may_not_read_is_said_with_what_to_check(tmp_path, refused_read):
    """A truth file the system would not read (another user's, chmod 600) was warned of as
    'PATH: could not be read (Permission denied).' with nothing to check, and reached a Python
    caller of read_truth (tinylens.fit(truth=...)) as a bare PermissionError; the warning and a
    DataError both name the file, the ls to run and what to check, or to give another. The refusal
    is a patched read, as the tests may run as root, whom permissions do not stop."""
    import errno
    import os
    import shlex

    path = tmp_path / "a lens" / "truth.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"lens_mass.0.theta_E": 1.0}))
    refused_read(path)
    with pytest.warns(DataWarning) as caught:
        assert truth_step(partial(read_truth, path), str(path), "warn") is None
    with pytest.raises(DataError) as raised:
        truth_step(partial(read_truth, path), str(path))
    for text in (str(caught[0].message), str(raised.value)):
        text = " ".join(text.split())
        assert text.startswith(f"{path}: could not be read ({os.strerror(errno.EACCES)}). Check that it is a file "
                               "this user may read"), text
        assert shlex.join(["ls", "-l", str(path)]) in text and "give another truth file" in text
    with pytest.warns(DataWarning, match="Check that it is a file this user may read"):  # any OSError of a step
        truth_step(lambda: (_ for _ in ()).throw(OSError(errno.EIO, os.strerror(errno.EIO))), "t.json", "warn")


def test_a_truth_naming_no_free_parameter_is_a_warning_naming_it():
    names = ["lens_mass.0.theta_E"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert truth_step(partial(check_truth, TRUTH, names, "t.json"), "t.json", "warn") == {names[0]: 1.0}
    with pytest.warns(DataWarning, match="t.json: none of its parameters .lens_mass.0.theta_e. is a free parameter"):
        assert truth_step(partial(check_truth, {"lens_mass.0.theta_e": 1.0}, names, "t.json"), "t.json", "warn") is None


@pytest.mark.parametrize("content, expected", [
    ("{not json", "truth.json: not a JSON file of true parameter values"),
    ('{"lens_mass.0.theta_e": 1.0}', "truth.json: none of its parameters (lens_mass.0.theta_e) is a free parameter"),
    (None, None),  # no truth.json: a real lens, fitted without a word of truth
])
def test_a_lens_with_a_broken_truth_file_is_fitted_and_its_row_says_why_no_truth(tmp_path, mock_survey, content,
                                                                                expected):
    truth = tmp_path / "truth.json"
    if content is not None:
        truth.write_text(content)
    config = _config(mock_survey, tmp_path, type="optimizer", method="lbfgs", settings={"n_starts": 1, "n_draws": 64})
    row = task.fit_lens("lens_b", config, str(tmp_path / "out"), truth_path=str(truth))
    assert row["status"] == "ok", row
    assert expected in row["warnings"] if expected else "truth" not in row["warnings"]


def test_a_lens_truth_is_marked_on_its_corner_plot(tmp_path, mock_survey, monkeypatch):
    from tinylens.results import plots

    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"params": TRUTH}))
    drawn = []
    draw = plots.corner_figure
    monkeypatch.setattr(plots, "corner_figure", lambda *a, **k: drawn.append(a) or draw(*a, **k))
    config = _config(mock_survey, tmp_path)
    config["inference"]["settings"].update(n_like_max=400, seed=1)
    row = task.fit_lens("lens_b", config, str(tmp_path / "out"), truth_path=str(truth))
    assert row["status"] == "ok", row
    shown, _, _, truths = drawn[0]
    assert shown == ["lens_mass.0.theta_E"] and truths == [TRUTH["lens_mass.0.theta_E"]]


def test_the_survey_gives_each_lens_task_its_folders_truth_file(tmp_path, monkeypatch):
    from distributed import LocalCluster

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in ("lens_a", "lens_b")]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, cluster.scheduler_address, False)
    assert dict(zip(frame["lens_id"], frame["reason"])) == {lens.lens_id: str(lens.folder / "truth.json")
                                                                 for lens in lenses}


def test_a_lens_fitted_on_a_disk_without_locks_has_no_lock_warning_in_its_row(tmp_path, mock_survey, failing_flock):
    """A fit on a file system without flock warns that a second fit in its folder would not be
    refused; a survey says so once of its --out, so its lenses' rows, whose warnings are cut at
    500 characters, leave that warning out, and keep the others (here the broken truth.json's)."""
    import errno

    truth = tmp_path / "truth.json"
    truth.write_text("{not json")
    config = _config(mock_survey, tmp_path, type="optimizer", method="lbfgs", settings={"n_starts": 1, "n_draws": 64})
    failing_flock(errno.ENOLCK)
    row = task.fit_lens("lens_b", config, str(tmp_path / "out"), truth_path=str(truth))
    assert row["status"] == "ok", row
    assert "file locks" not in row["warnings"] and "not a JSON file of true parameter values" in row["warnings"], row
