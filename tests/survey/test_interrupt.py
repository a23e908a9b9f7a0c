"""Ctrl-C stops ``tinylens survey`` with one line: what is finished and kept (the catalogue's
rows, the lens folders), and the command that fits the rest."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tinylens import filenames
from tinylens import interrupts
from tinylens.cli.main import app
from tinylens.survey import attempts
from tinylens.survey import catalog
from tinylens.survey import client as survey_client
from tinylens.survey import discovery
from tinylens.survey import progress
from tinylens.survey import resume
from tinylens.survey import rows as survey_rows
from tinylens.survey import runner
from tinylens.survey import task
from tinylens.survey import template as survey_template

RESULT = {"median": {"lens_mass.0.theta_E": 1.0}, "interval_68": {"lens_mass.0.theta_E": [0.9, 1.1]},
          "interval_997": {"lens_mass.0.theta_E": [0.8, 1.2]}}


def _interrupted(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def _args(mock_survey, out) -> list[str]:
    return ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]), "--out", str(out),
            "--workers", "1", "-q"]


def _ctrl_c(*args, **kwargs):
    """A Ctrl-C where the survey calls this (its template check, its fitting, a line it says)."""
    raise KeyboardInterrupt


def _earlier_catalogue(out: Path, rows: dict) -> None:
    """Leave in ``out`` an earlier run's ``rows``: each in its lens folder's row.json, then the catalogue."""
    for lens_id, row in rows.items():
        survey_rows.write_row(out / filenames.LENSES_DIR / lens_id, row)
    catalog.write_catalog(rows, out)


def _kept_as_the_resume_keeps(out, text):
    """The hint of a survey stopped after its first lens counts the catalogue's lenses, all ok: that
    one, and any other whose worker had written its row when the survey stopped (read back then),
    each a lens the survey's resume keeps as done (read_rows)."""
    catalog = pd.read_csv(out / "catalog.csv")
    n = len(catalog)
    assert n >= 1 and catalog["status"].tolist() == ["ok"] * n, catalog
    assert f"Finished lenses kept: {n} ({n} ok, 0 failed)" in text, text
    assert set(catalog["lens_id"]) <= set(survey_rows.read_rows(out)), catalog


def _fits_faked_and_stopped_at_the_second_lens(monkeypatch, stop=None):
    """Fit each lens with the fake fit survey_mocks.echo_truth_path, its template check passed, and
    call ``stop`` (by default: raise KeyboardInterrupt, a Ctrl-C) as the survey's progress is told
    of a lens after one has finished ok, before that lens is counted."""
    from survey_mocks import echo_truth_path

    stop = _ctrl_c if stop is None else stop
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    update = progress.SurveyProgress.update

    def stop_at_the_second(self, row):
        if self.ok:
            stop()
        update(self, row)

    monkeypatch.setattr(progress.SurveyProgress, "update", stop_at_the_second)


@pytest.mark.parametrize("finished", [False, True])
def test_ctrl_c_before_fitting_says_what_is_kept_and_the_command_to_resume(tmp_path, mock_survey, monkeypatch,
                                                                           finished):
    """Stopped during the template check: an earlier run's finished lenses are still there."""
    out = tmp_path / "out"
    if finished:
        folder = out / filenames.LENSES_DIR / "lens_a"
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(RESULT))
        rows = {"lens_a": survey_rows.flat_row("lens_a", RESULT), "lens_bad": survey_rows.failed_row("lens_bad", "broken")}
        survey_rows.write_row(out / filenames.LENSES_DIR / "lens_bad", rows["lens_bad"])  # as its task writes it
        catalog.write_catalog(rows, out)

    monkeypatch.setattr(runner, "check_template", _ctrl_c)
    args = _args(mock_survey, out)
    text = _interrupted(args)
    assert text.startswith("Interrupted.")
    assert text.endswith("To fit the rest (interrupted lenses resume from their checkpoints), run: "
                         + shlex.join(["tinylens", *args])), text
    if finished:
        assert (f"Finished lenses kept: 2 (1 ok, 1 failed), their rows in {out / 'catalog.parquet'} (and catalog.csv), "
                f"their fits in {out / 'lenses'}.") in text
    else:
        assert "No lens had finished." in text


def test_ctrl_c_in_a_dry_run_says_nothing_was_written(tmp_path, mock_survey, monkeypatch):
    monkeypatch.setattr(runner, "check_template", _ctrl_c)
    args = [*_args(mock_survey, tmp_path / "out"), "--dry-run"]
    assert _interrupted(args) == ("Interrupted. It was stopped before it wrote anything. To start again, run: "
                                  + shlex.join(["tinylens", *args]))
    assert not (tmp_path / "out").exists()


def test_ctrl_c_while_fitting_keeps_the_finished_rows_in_the_catalogue(tmp_path, mock_survey, monkeypatch):
    """Stopped on a Dask cluster after one lens finished: its row is in the catalogue and the
    hint counts it. (A local cluster of one worker process, fits faked: ~10 s.)"""
    _fits_faked_and_stopped_at_the_second_lens(monkeypatch)
    out = tmp_path / "out"
    text = _interrupted(_args(mock_survey, out))
    _kept_as_the_resume_keeps(out, text)


def test_ctrl_c_of_a_survey_with_only_counts_the_chosen_lenses(tmp_path, mock_survey, monkeypatch):
    """Stopped with --only lens_a,lens_c in an --out whose catalogue holds an earlier run's rows
    of lens_b (ok) and lens_bad (failed): 'Finished lenses kept: 2 (1 ok, 1 failed)' counted
    those; the hint now counts the chosen lenses that finished, of how many were chosen."""
    out = tmp_path / "out"
    rows = {"lens_b": survey_rows.flat_row("lens_b", RESULT), "lens_bad": survey_rows.failed_row("lens_bad", "broken")}
    _earlier_catalogue(out, rows)

    monkeypatch.setattr(runner, "check_template", _ctrl_c)
    args = [*_args(mock_survey, out), "--only", "lens_a,lens_c"]
    assert "No lens of the 2 chosen by --only had finished." in _interrupted(args)

    def one_finished(todo, rows, config, out, *args, **kwargs):  # lens_a done, then Ctrl-C
        rows["lens_a"] = survey_rows.flat_row("lens_a", RESULT)
        folder = out / filenames.LENSES_DIR / "lens_a"  # its fit's result.json, then its row, as its task writes them
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(RESULT))
        survey_rows.write_row(folder, rows["lens_a"])
        catalog.write_catalog(rows, out)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "_fit_lenses", one_finished)
    monkeypatch.setattr(runner, "dask_client", lambda *args: contextlib.nullcontext())  # no cluster started for it
    text = _interrupted(args)
    assert (f"Finished lenses kept: 1 of the 2 chosen by --only (1 ok, 0 failed), their rows in "
            f"{out.resolve() / 'catalog.parquet'} (and catalog.csv)") in text, text
    assert text.endswith("run: " + shlex.join(["tinylens", *args])), text
    assert sorted(pd.read_csv(out / "catalog.csv")["lens_id"]) == ["lens_a", "lens_b", "lens_bad"]


def test_ctrl_c_names_the_lenses_stopped_before_their_first_checkpoint(tmp_path, mock_survey, monkeypatch):
    """A SLACS lens's stages 1-3 took 16 min on a loaded 2-core machine before any checkpoint was
    written; Ctrl-C then said 'interrupted lenses resume from their checkpoints' of a lens that had
    none, and the run again started it from the beginning. The hint now names the lenses begun
    (their folder written) with neither a row nor a checkpoint, and only those: lens_b's pipeline
    state and lens_bad's row (a failed fit) are resumed or kept."""

    out = tmp_path / "out"

    def stopped(todo, rows, config, out, *args, **kwargs):  # the fits as Ctrl-C finds them
        lenses = out / filenames.LENSES_DIR
        for lens_id in ("lens_a", "lens_b", "lens_c"):
            (lenses / lens_id).mkdir(parents=True, exist_ok=True)
            (lenses / lens_id / filenames.INPUTS).write_text("{}")
        (lenses / "lens_b" / filenames.PIPELINE_STATE).write_text("{}")
        survey_rows.write_row(lenses / "lens_bad", survey_rows.failed_row("lens_bad", "broken"))
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "_fit_lenses", stopped)
    monkeypatch.setattr(runner, "dask_client", lambda *args: contextlib.nullcontext())  # no cluster started for it
    args = _args(mock_survey, out)
    text = _interrupted(args)
    assert ("(interrupted lenses resume from their checkpoints; 2 lenses: lens_a, lens_c had written none yet "
            "and start again from the beginning), run: " + shlex.join(["tinylens", *args])) in text, text
    assert "lens_b" not in text and "lens_bad" not in text, text
    text = _interrupted([*args, "--only", "lens_b,lens_c"])  # only the chosen lenses are named
    assert "checkpoints; lens_c had written none yet and starts again from the beginning), run: " in text, text


def test_ctrl_c_counts_finished_and_checkpointed_lenses_as_the_rerun_does(tmp_path, mock_survey, monkeypatch):
    """Ctrl-C's hint took a lens folder holding any row.json or result.json for a finished lens, and
    one holding a checkpoint only by a sampler's file or the pipeline state: lens_a, with a row.json
    copied from lens_bad, and lens_b, with a result.json that is no result, were said neither to
    start again, though the survey run again fits both from the beginning; lens_c, whose nautilus
    checkpoint was left, resumes and is not named. The hint now counts them by the run's own rules
    (read_row, result_row, holds_checkpoint; a fingerprint alone: see the test below)."""

    out = tmp_path / "out"
    lenses = out / filenames.LENSES_DIR
    for lens_id in ("lens_a", "lens_b", "lens_c"):
        (lenses / lens_id).mkdir(parents=True)
    survey_rows.write_row(lenses / "lens_bad", survey_rows.failed_row("lens_bad", "broken"))
    (lenses / "lens_a" / filenames.ROW).write_text((lenses / "lens_bad" / filenames.ROW).read_text())
    (lenses / "lens_b" / filenames.RESULT).write_text("{}")
    (lenses / "lens_c" / filenames.CHECKPOINTS["nautilus"]).write_text("x")
    # the truth: the dry run of the same survey fits lens_a and lens_b anew, resumes lens_c, retries lens_bad
    with pytest.warns(runner.DataWarning):  # lens_a's row is lens_bad's
        plan = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, check=False)
    assert plan["to_fit"]["new"] == ["lens_a", "lens_b"] and plan["to_fit"]["resume"] == ["lens_c"], plan["to_fit"]

    monkeypatch.setattr(runner, "check_template", _ctrl_c)
    text = _interrupted(_args(mock_survey, out))
    hint = text[text.index("Interrupted."):text.index(", run: ")]  # the warning about lens_a's row before it
    assert hint.endswith("(interrupted lenses resume from their checkpoints; 2 lenses: lens_a, lens_b had written "
                         "none yet and start again from the beginning)"), text
    assert "lens_c" not in hint and "lens_bad" not in hint, text


def test_a_lens_left_with_only_its_checkpoints_fingerprint_starts_again_as_its_fit_does(tmp_path, mock_survey,
                                                                                      monkeypatch):
    """A sampler writes its checkpoint's fingerprint before its first checkpoint, so that a fit
    without the pipeline stopped in its first minutes of sampling leaves the fingerprint alone.
    Its fit run again resumes nothing (prepare_checkpoint: no checkpoint to resume) and starts from
    the beginning, but the dry run listed lens_a as resuming, the survey's start line counted it
    ('1 resumes from a checkpoint') and Ctrl-C's hint did not name it as starting again. All three
    now count it as the fit does: new, starting again; lens_b, with its checkpoint, resumes."""
    from tinylens.inference.common import prepare_checkpoint

    checkpoint = filenames.CHECKPOINTS["nautilus"]
    out = tmp_path / "out"
    lenses = out / filenames.LENSES_DIR
    for lens_id in ("lens_a", "lens_b"):
        (lenses / lens_id).mkdir(parents=True)
        (lenses / lens_id / filenames.fingerprint_name(checkpoint)).write_text("stamp\n")
    (lenses / "lens_b" / checkpoint).write_text("x")
    # the truth: what the fit itself decides, on copies of the two folders
    for lens_id, resumed in (("lens_a", False), ("lens_b", True)):
        copy = tmp_path / "copies" / lens_id
        copy.mkdir(parents=True)
        for path in (lenses / lens_id).iterdir():
            (copy / path.name).write_text(path.read_text())
        assert prepare_checkpoint(copy / checkpoint, "stamp", resume=True) is resumed, lens_id

    plan = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, check=False)
    assert "lens_a" in plan["to_fit"]["new"] and plan["to_fit"]["resume"] == ["lens_b"], plan["to_fit"]
    found, template = discovery.find_lenses(mock_survey["lenses"]), survey_template.load_template(mock_survey["template"])
    assert resume.resuming_lenses(found, {}, (), out, template) == ["lens_b"]  # the start line's count

    monkeypatch.setattr(runner, "check_template", _ctrl_c)
    text = _interrupted(_args(mock_survey, out))
    hint = text[text.index("Interrupted."):text.index(", run: ")]
    assert hint.endswith("(interrupted lenses resume from their checkpoints; lens_a had written none yet and starts "
                         "again from the beginning)"), text
    assert "lens_b" not in hint, text


@pytest.mark.parametrize("stopped_in", ["check_template", "find_lenses"])
def test_ctrl_c_names_no_lens_whose_folder_was_removed_as_starting_again(tmp_path, mock_survey, monkeypatch,
                                                                         stopped_in):
    """A lens begun by an earlier run (no checkpoint written) whose lens folder was since removed from
    LENS_DIR is not fitted by the run again, but Ctrl-C said of it 'lens_gone had written none yet
    and starts again from the beginning'. Only the survey's own lenses are named (none where it was
    stopped before it read the lens folders)."""

    out = tmp_path / "out"
    for lens_id in ("lens_a", "lens_gone"):  # lens_gone: in no lens folder of mock_survey
        (out / filenames.LENSES_DIR / lens_id).mkdir(parents=True)
        (out / filenames.LENSES_DIR / lens_id / filenames.INPUTS).write_text("{}")

    monkeypatch.setattr(runner, stopped_in, _ctrl_c)
    text = _interrupted(_args(mock_survey, out))
    assert "lens_gone" not in text, text
    if stopped_in == "check_template":
        assert "checkpoints; lens_a had written none yet and starts again from the beginning), run: " in text, text


@pytest.mark.parametrize("fitting", [False, True])
def test_ctrl_c_with_retry_failed_keeps_the_flag_only_while_the_failed_rows_are_there(tmp_path, mock_survey,
                                                                                     monkeypatch, fitting):
    """Once the survey has deleted the failed rows it retries, the command to resume drops
    --retry-failed: the lens not retried yet has no row and is fitted anyway, and a lens that
    failed again in the stopped run is not retried once more. Stopped before that (during the
    template check), the failed row is still there and the flag is kept."""
    out = tmp_path / "out"
    survey_rows.write_row(out / filenames.LENSES_DIR / "lens_bad", survey_rows.failed_row("lens_bad", "broken"))

    monkeypatch.setattr(runner, "check_template", (lambda *args, **kwargs: None) if fitting else _ctrl_c)
    monkeypatch.setattr(runner, "_fit_lenses", _ctrl_c)
    monkeypatch.setattr(runner, "dask_client", lambda *args: contextlib.nullcontext())  # no cluster started for it
    args = [*_args(mock_survey, out), "--retry-failed"]
    text = _interrupted(args)
    resume = [arg for arg in args if arg != "--retry-failed"] if fitting else args
    assert text.endswith("run: " + shlex.join(["tinylens", *resume])), text
    plan = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, check=False)
    assert ("lens_bad" in plan["to_fit"]["new"]) is fitting
    assert plan["failed"] == ([] if fitting else ["lens_bad"])


@pytest.mark.parametrize("retry", [False, True])
def test_ctrl_c_before_the_failed_rows_go_does_not_count_the_lenses_retry_failed_fits_again(tmp_path, mock_survey,
                                                                                          monkeypatch, retry):
    """Stopped before the survey deleted the failed rows it retries (during the template check), the
    command to resume keeps --retry-failed, which fits the failed lens again (its plan), yet the hint
    said 'Finished lenses kept: 2 (1 ok, 1 failed)'. The failed lens is now said to be fitted again,
    not kept; without --retry-failed it stays counted as finished."""
    out = tmp_path / "out"
    folder = out / filenames.LENSES_DIR / "lens_a"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(RESULT))
    rows = {"lens_a": survey_rows.flat_row("lens_a", RESULT), "lens_bad": survey_rows.failed_row("lens_bad", "broken")}
    _earlier_catalogue(out, rows)

    monkeypatch.setattr(runner, "check_template", _ctrl_c)
    args = [*_args(mock_survey, out), *(["--retry-failed"] if retry else [])]
    text = _interrupted(args)
    assert text.endswith("run: " + shlex.join(["tinylens", *args])), text
    plan = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, retry_failed=retry, check=False)
    assert ("lens_bad" in plan["to_fit"]["retry"]) is retry and "lens_a" not in str(plan["to_fit"]), plan
    if retry:  # the command fits lens_bad again: lens_a alone is kept
        assert "Finished lenses kept: 1 (1 ok, 0 failed)" in text, text
        assert "The failed lens is fitted again by the command below, which keeps --retry-failed." in text, text
    else:
        assert "Finished lenses kept: 2 (1 ok, 1 failed)" in text and "fitted again" not in text, text


def test_ctrl_c_does_not_say_a_failed_lens_whose_folder_is_gone_is_fitted_again(tmp_path, mock_survey, monkeypatch):
    """A failed lens of an earlier catalogue whose lens folder was removed since: stopped before the failed
    rows go, the hint said 'The 2 failed lenses are fitted again by the command below', yet the command
    (its plan) retries lens_bad only and leaves lens_gone out of the catalogue. lens_gone is now named
    as not fitted again, and only lens_bad is counted as retried."""
    out = tmp_path / "out"
    rows = {"lens_bad": survey_rows.failed_row("lens_bad", "broken"), "lens_gone": survey_rows.failed_row("lens_gone", "broken")}
    _earlier_catalogue(out, rows)

    monkeypatch.setattr(runner, "check_template", _ctrl_c)
    args = [*_args(mock_survey, out), "--retry-failed"]
    text = _interrupted(args)
    plan = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, retry_failed=True, check=False)
    assert plan["to_fit"]["retry"] == ["lens_bad"] and "lens_gone" not in str(plan), plan
    assert "The failed lens is fitted again by the command below, which keeps --retry-failed." in text, text
    assert "2 failed lenses" not in text, text
    assert ("Not fitted again, though failed before: lens_gone, whose lens folder is no longer there (the command "
            "leaves its row out of the catalogue).") in text, text
    assert text.endswith("run: " + shlex.join(["tinylens", *args])), text


def test_ctrl_c_while_the_cluster_starts_keeps_the_failed_row_and_the_flag(tmp_path, mock_survey, monkeypatch):
    """Stopped while the cluster started: the survey deleted the failed row it retries (and, once,
    the hint counted it among the lenses kept beside a resume command without --retry-failed);
    it now writes nothing before the cluster is up, so the row, the catalogue and the flag stay."""
    out = tmp_path / "out"
    rows = {"lens_bad": survey_rows.failed_row("lens_bad", "broken")}
    survey_rows.write_row(out / filenames.LENSES_DIR / "lens_bad", rows["lens_bad"])
    catalog.write_catalog(rows, out)

    @contextlib.contextmanager
    def starting(*args, **kwargs):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "dask_client", starting)
    args = [*_args(mock_survey, out), "--retry-failed"]
    text = _interrupted(args)
    assert "No lens had finished ok. The failed lens is fitted again by the command below, which keeps --retry-failed." \
        in text and text.endswith(shlex.join(["tinylens", *args])), text
    assert pd.read_csv(out / "catalog.csv")["status"].tolist() == ["failed"]
    assert survey_rows.read_rows(out) == rows and not (out / runner.MANIFEST_FILE).exists()


def test_ctrl_c_while_the_summary_prints_says_everything_is_written(tmp_path, mock_survey, monkeypatch):
    """Stopped once run_survey had returned, while the summary printed: the hint said the survey
    'was stopped before it wrote anything', when every lens was done and the catalogue written."""
    from tinylens.cli import survey as survey_cli

    out = tmp_path / "out"
    folder = out / filenames.LENSES_DIR / "lens_a"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(RESULT))
    survey_rows.write_row(folder, survey_rows.flat_row("lens_a", RESULT))

    monkeypatch.setattr(survey_cli, "summary_line", _ctrl_c)
    text = _interrupted([*_args(mock_survey, out), "--only", "lens_a"])
    parquet = out.resolve() / "catalog.parquet"
    assert text == ("Interrupted. It was stopped after the survey had finished and written everything. Finished "
                    f"lenses kept: 1 of the 1 chosen by --only (1 ok, 0 failed), their rows in {parquet} (and catalog.csv), their fits in "
                    f"{out.resolve() / 'lenses'}. For an overview, run: tinylens report {parquet}"), text
    assert pd.read_csv(out / "catalog.csv")["status"].tolist() == ["ok"]


@pytest.mark.parametrize("fitting", [False, True])
@pytest.mark.parametrize(("inference", "why"), [
    ({"type": "sampler", "method": "nautilus", "settings": {"nlive": 50, "n_eff": 200, "n_networks": 1, "resume": False}},
     "the template sets resume: false"),
    ({"type": "optimizer", "method": "lbfgs"}, "the template runs an optimiser, which keeps no checkpoint"),
])
def test_ctrl_c_with_a_template_that_keeps_no_checkpoint_does_not_promise_a_resume(tmp_path, mock_survey, monkeypatch,
                                                                                   inference, why, fitting):
    """A template that sets resume: false (or runs an optimiser) fits an interrupted lens again from
    the beginning, but the hint said "interrupted lenses resume from their checkpoints"."""
    import yaml

    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump({**yaml.safe_load(mock_survey["template"].read_text()), "inference": inference}))

    monkeypatch.setattr(runner, "check_template", (lambda *args, **kwargs: None) if fitting else _ctrl_c)
    monkeypatch.setattr(runner, "_fit_lenses", _ctrl_c)
    monkeypatch.setattr(runner, "dask_client", lambda *args: contextlib.nullcontext())  # no cluster started for it
    args = ["survey", str(mock_survey["lenses"]), "-c", str(template), "--out", str(tmp_path / "out"), "--workers", "1", "-q"]
    text = _interrupted(args)
    assert text.endswith(f"To fit the rest (interrupted lenses start again from the beginning: {why}), run: "
                         + shlex.join(["tinylens", *args])), text
    assert "resume from their checkpoints" not in text


def test_the_restart_reason_reads_what_the_fits_would():
    assert resume.restart_reason({"inference": {"type": "sampler", "settings": {"nlive": 50}}}) is None
    assert resume.restart_reason({"inference": {"method": "dynesty", "settings": {"resume": True}}}) is None
    assert resume.restart_reason({}) is None and resume.restart_reason({"inference": ["not", "a", "mapping"]}) is None
    assert resume.restart_reason({"inference": {"settings": {"resume": False}}}) == "the template sets resume: false"


def test_the_restart_reason_reads_tinylensgpus_spellings_as_the_fits_do():
    """A template with 'type: Optimizer' (TinyLensGpu's capitals) or the older section 'sampling:
    {resume: false}' fits an interrupted lens again from the beginning, as tinylens reads both, but
    the hint after Ctrl-C said "interrupted lenses resume from their checkpoints"."""
    optimiser = "the template runs an optimiser, which keeps no checkpoint"
    assert resume.restart_reason({"inference": {"type": "Optimizer", "method": "LBFGS"}}) == optimiser
    assert resume.restart_reason({"sampling": {"sampler": "nautilus", "resume": False}}) == "the template sets resume: false"
    assert resume.restart_reason({"sampling": {"sampler": "Dynesty", "nlive": 50}}) is None
    assert resume.restart_reason({"inference": {"type": "mcmc"}}) is None  # refused by the template check


def test_ctrl_c_while_the_local_cluster_starts_stops_once_it_is_up_and_closes_it(monkeypatch, capsys, python_sigint):
    """A Ctrl-C while the local cluster started left it half-started: Dask printed tracebacks of
    workers that failed to start, and an AssertionError when it tried to close it at exit. The
    Ctrl-C is now held until the cluster is up (said on stderr), which is then closed, and the
    survey stops with its one line. (An in-process cluster; the Ctrl-C comes as it starts.)"""
    import signal

    import distributed

    started, local_cluster = [], distributed.LocalCluster

    def cluster(**kwargs):
        started.append(local_cluster(**{**kwargs, "processes": False}))
        signal.raise_signal(signal.SIGINT)  # as if pressed while it started
        return started[0]

    monkeypatch.setattr(distributed, "LocalCluster", cluster)
    entered = []
    with pytest.raises(KeyboardInterrupt):
        with survey_client.dask_client(workers=1):
            entered.append(True)
    assert len(started) == 1 and started[0].status.name == "closed" and not entered
    assert interrupts.HELD_INTERRUPT_NOTE in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_while_the_local_cluster_starts_with_sigint_ignored_stops_once_it_is_up_and_closes_it(
        monkeypatch, capsys, python_sigint):
    """The same in a survey run in a batch script's background (SIGINT ignored), stopped by its
    time limit or scancel (SIGTERM): nothing was held there, and the SIGTERM raised into the
    cluster's start-up, leaving it half-started and never closed. It is now held as the Ctrl-C
    is, the cluster closed once up, and the survey stops as SIGTERM stops it (exit 143)."""
    import signal

    import distributed

    started, local_cluster = [], distributed.LocalCluster

    def cluster(**kwargs):
        started.append(local_cluster(**{**kwargs, "processes": False}))
        signal.raise_signal(signal.SIGTERM)  # as if sent while it started
        return started[0]

    def unhandled(signum, frame):
        raise _Unhandled

    monkeypatch.setattr(distributed, "LocalCluster", cluster)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous = signal.signal(signal.SIGTERM, unhandled)  # Python's default would end pytest itself
    entered = []
    try:
        with interrupts.TerminateAsInterrupt() as term, pytest.raises(KeyboardInterrupt):
            with survey_client.dask_client(workers=1):
                entered.append(True)
        assert len(started) == 1 and started[0].status.name == "closed" and not entered and term.terminated
        assert signal.getsignal(signal.SIGTERM) is unhandled and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)
        for each in started:
            each.close()
    assert "SIGTERM: stopping once the Dask cluster has started" in capsys.readouterr().err


def test_a_ctrl_c_deferred_to_the_end_of_a_finished_survey_does_not_say_nothing_was_written(
        tmp_path, mock_survey, monkeypatch, python_sigint):
    """A Ctrl-C that came inside a garbage-collector callback as the summary printed was raised
    once the command had returned (UnswallowedInterrupt, on leaving): the hint then said the survey
    'was stopped before it wrote anything. To start again, run: ...', of a survey that had fitted
    every lens and written its catalogue."""
    import functools
    import gc
    import signal

    from tinylens.cli import common
    from tinylens.cli import survey as survey_cli

    out = tmp_path / "out"
    folder = out / filenames.LENSES_DIR / "lens_a"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(RESULT))
    survey_rows.write_row(folder, survey_rows.flat_row("lens_a", RESULT))
    # the Ctrl-C sent again (an hour later) is still on its way when the command ends
    monkeypatch.setattr(common, "UnswallowedInterrupt", functools.partial(interrupts.UnswallowedInterrupt, delay=3600.0))
    line = survey_cli.summary_line

    def summary_with_a_ctrl_c(*args, **kwargs):
        def ctrl_c(phase, info):
            if phase == "start":
                signal.raise_signal(signal.SIGINT)  # handled at once, inside this callback

        gc.callbacks.append(ctrl_c)
        try:
            gc.collect()
        finally:
            gc.callbacks.remove(ctrl_c)
        return line(*args, **kwargs)

    monkeypatch.setattr(survey_cli, "summary_line", summary_with_a_ctrl_c)
    text = _interrupted([*_args(mock_survey, out), "--only", "lens_a"])
    assert "before it wrote anything" not in text and "To start again" not in text, text
    assert text.endswith("Interrupted. It came as the command ended, once it had done everything: "
                         "there is nothing to run again."), text
    assert pd.read_csv(out / "catalog.csv")["status"].tolist() == ["ok"]


class _Unhandled(Exception):
    """Raised by the test's own SIGTERM handler: the command did not handle SIGTERM."""


def test_sigterm_while_fitting_stops_as_ctrl_c_does_and_says_so(tmp_path, mock_survey, monkeypatch):
    """A batch system's time limit (or scancel) sends SIGTERM: the survey writes its catalogue,
    says what is kept and how to go on, and exits 143, as a Ctrl-C would (with 130)."""
    import signal

    _fits_faked_and_stopped_at_the_second_lens(monkeypatch, lambda: signal.raise_signal(signal.SIGTERM))

    def unhandled(signum, frame):
        raise _Unhandled

    previous = signal.signal(signal.SIGTERM, unhandled)  # Python's default would end pytest itself
    try:
        out = tmp_path / "out"
        args = _args(mock_survey, out)
        result = CliRunner().invoke(app, args)
        assert signal.getsignal(signal.SIGTERM) is unhandled  # restored
    finally:
        signal.signal(signal.SIGTERM, previous)
    text = " ".join(result.output.split())
    assert result.exit_code == 143, (result.exception, text)
    assert text.startswith("Terminated (SIGTERM"), text
    _kept_as_the_resume_keeps(out, text)
    assert text.endswith("run: " + shlex.join(["tinylens", *args])), text


@pytest.mark.parametrize("external", [True, False])
def test_ctrl_c_on_an_external_cluster_says_its_workers_go_on_fitting(tmp_path, mock_survey, monkeypatch, external):
    """Stopped while fitting on a cluster given with --scheduler, whose workers outlive the survey's
    client and finish the lenses they had started (docs/survey.md, section 3): the hint did not say so,
    and a batch user could cancel the workers' job and lose them, or rerun at once not knowing why it
    waits. It now says so, naming the scheduler; a local cluster's hint, whose workers stop with the
    survey, does not. (An in-process cluster of one worker thread, fits faked, lens_bad's held on the
    external cluster until the survey is stopped: ~2 s.)"""
    from distributed import LocalCluster
    from survey_mocks import HELD_FIT_STARTED, HELD_FITS_RELEASED, echo_truth_path_held

    def ctrl_c_once_a_held_fit_started():  # its worker fits a lens then, whatever the order the tasks ran in
        HELD_FIT_STARTED.wait(30.0)
        raise KeyboardInterrupt

    _fits_faked_and_stopped_at_the_second_lens(monkeypatch, ctrl_c_once_a_held_fit_started if external else None)
    HELD_FIT_STARTED.clear()
    if external:  # a task not done when it is stopped (a local cluster's hint never says it: no need to hold one)
        monkeypatch.setattr(runner, "fit_lens", echo_truth_path_held)
    out = tmp_path / "out"
    HELD_FITS_RELEASED.clear()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        args = _args(mock_survey, out)
        if external:
            args = [*args[:-3], "--scheduler", address, "-q"]  # in place of --workers 1
        try:
            text = _interrupted(args)
        finally:
            HELD_FITS_RELEASED.set()  # the held fit ends: the cluster closes without waiting for it
    _kept_as_the_resume_keeps(out, text)
    said = f"The Dask workers at {address} go on fitting the lenses they had started"
    if external:
        assert (f"{said}: running it again waits for them and keeps their results, while stopping those workers "
                "(ending their batch job) loses what they did since each lens's last checkpoint. To fit the rest") \
            in text, text
    else:
        assert "go on fitting" not in text, text
    assert text.endswith("run: " + shlex.join(["tinylens", *args])), text


def test_a_lens_an_external_clusters_worker_still_fits_is_not_said_only_to_start_again(tmp_path):
    """Stopped on a cluster given with --scheduler, whose workers finish the lenses they had started
    and whose results a rerun waits for and keeps (docs/survey.md, section 3): the hint said so, then
    that lens_b, begun without a checkpoint yet, 'starts again from the beginning' (and, for a
    template that resumes nothing, that every interrupted lens does), which the worker still fitting
    it makes untrue. Those lines now add 'unless the Dask worker still fitting it finishes it first';
    a local cluster's, whose workers stop with the survey, are as before."""
    from tinylens.cli.common import survey_hint

    (tmp_path / "lenses" / "lens_b").mkdir(parents=True)  # begun: no row, no checkpoint
    unless = "unless the Dask worker still fitting it finishes it first"
    external = " ".join(survey_hint(tmp_path, "cmd", cluster="tcp://h:8786").split())
    assert f"lens_b had written none yet and starts again from the beginning, {unless}), run: cmd" in external, external
    local = " ".join(survey_hint(tmp_path, "cmd").split())
    assert "lens_b had written none yet and starts again from the beginning), run: cmd" in local, local
    restart = " ".join(survey_hint(tmp_path, "cmd", restart="the template sets resume: false",
                                   cluster="tcp://h:8786").split())
    assert ("interrupted lenses start again from the beginning: the template sets resume: false, unless the Dask "
            "worker still fitting one finishes it first), run: cmd") in restart, restart


def test_a_checkpoint_written_for_another_template_is_not_counted_as_resuming(tmp_path, mock_survey, monkeypatch):
    """lens_c's fit with the template was stopped with its checkpoint written; the survey was then run
    again with a template whose theta_E prior is wider. The fit decides by the checkpoint's
    fingerprint, which the new prior changes (the truth below: both problems loaded), so it starts
    from the beginning; yet the dry run listed lens_c as resuming, the start line counted it, and
    Ctrl-C's hint said it resumed. The last fit's template digest, recorded in its .attempts line by
    the worker, now tells them apart without loading the lens: of the same template, it resumes."""
    import yaml

    import tinylens
    from tinylens.inference.common import fingerprint
    from tinylens.precision import get_precision
    from survey_mocks import template_config

    out = tmp_path / "out"
    first = survey_template.load_template(mock_survey["template"])
    lens = next(found for found in discovery.find_lenses(mock_survey["lenses"]) if found.lens_id == "lens_c")
    checkpoint = filenames.CHECKPOINTS["nautilus"]

    def stopped_fit(config, output, **kwargs):  # written as a sampler does, then a Ctrl-C
        (Path(output) / filenames.fingerprint_name(checkpoint)).write_text("stamp\n")
        (Path(output) / checkpoint).write_text("x")
        raise KeyboardInterrupt

    monkeypatch.setattr(tinylens, "fit", stopped_fit)
    with pytest.raises(KeyboardInterrupt):  # the survey's own task, as its worker runs it
        task.fit_lens("lens_c", survey_template.lens_config(first, lens, out), str(lens.output(out)),
                        precision=get_precision())
    monkeypatch.undo()
    assert (lens.output(out) / checkpoint).is_file()
    wider = template_config()
    wider["model_components"]["lens_mass_list"][0]["params"]["theta_E"]["prior_settings"] = [0.5, 2.5]
    second = tmp_path / "wider.yaml"
    second.write_text(yaml.safe_dump(wider, sort_keys=False))
    # the truth: the two templates' problems for lens_c have other fingerprints, the same template's the same
    stamps = [fingerprint(tinylens.load(survey_template.lens_config(survey_template.load_template(path), lens, out)))
              for path in (mock_survey["template"], second, mock_survey["template"])]
    assert stamps[0] != stamps[1] and stamps[0] == stamps[2]

    same = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, check=False)
    assert same["to_fit"]["resume"] == ["lens_c"] and same["to_fit"]["other_checkpoint"] == [], same["to_fit"]
    other = runner.survey_plan(mock_survey["lenses"], second, out, check=False)
    assert other["to_fit"]["resume"] == [] and other["to_fit"]["other_checkpoint"] == ["lens_c"], other["to_fit"]
    found = discovery.find_lenses(mock_survey["lenses"])
    assert resume.resuming_lenses(found, {}, (), out, survey_template.load_template(second)) == []  # the start line's count
    assert resume.resuming_lenses(found, {}, (), out, first) == ["lens_c"]

    result = CliRunner().invoke(app, ["survey", str(mock_survey["lenses"]), "-c", str(second), "--out", str(out),
                                      "--dry-run"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "1 hold a checkpoint of a fit of another template or precision: resumed only where its fingerprint " \
           "matches this fit's all the same, else fitted from the beginning: lens_c" in text, text
    assert "resume from a checkpoint" not in text, text

    monkeypatch.setattr(runner, "check_template", _ctrl_c)
    args = ["survey", str(mock_survey["lenses"]), "-c", str(second), "--out", str(out), "--workers", "1", "-q"]
    hint = _interrupted(args)
    assert ("lens_c holds a checkpoint of a fit of another template or precision, resumed only where its fingerprint "
            "matches this fit's all the same, else fitted from the beginning), run: ") in hint, hint
    hint = _interrupted(_args(mock_survey, out))  # the template it was made with: resumed, unsaid
    assert "lens_c" not in hint[hint.index("Interrupted."):], hint


def test_ctrl_c_while_the_last_catalogue_is_written_does_not_say_the_workers_go_on_fitting(tmp_path, mock_survey,
                                                                                       monkeypatch):
    """On a cluster given with --scheduler, a Ctrl-C that came once every lens's task had come back,
    while the survey wrote its last catalogue, was said with 'The Dask workers at ... go on fitting
    the lenses they had started', though no worker fitted anything of the survey's (every lens has
    its row.json: the truth below). The hint now says it only while a task sent is not done.
    (An in-process cluster of one worker thread, fits faked: ~5 s.)"""
    from distributed import LocalCluster
    from survey_mocks import echo_truth_path


    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    write = catalog.write_catalog
    found = discovery.find_lenses(mock_survey["lenses"])

    def stopped_when_all_are_in(rows, out):
        if len(rows) == len(found):  # every lens's row in: the last write
            raise KeyboardInterrupt
        return write(rows, out)

    monkeypatch.setattr(runner, "write_catalog", stopped_when_all_are_in)
    monkeypatch.setattr(resume, "write_catalog", stopped_when_all_are_in)  # its forget writes it too
    out = tmp_path / "out"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        args = [*_args(mock_survey, out)[:-3], "--scheduler", cluster.scheduler_address, "-q"]
        text = _interrupted(args)
    assert all((lens.output(out) / filenames.ROW).is_file() for lens in found)  # every fit had ended
    assert "go on fitting" not in text and "unless the Dask worker" not in text, text
    assert text.endswith("run: " + shlex.join(["tinylens", *args])), text


class _Task:
    """A stand-in for a Dask future: done or not."""

    def __init__(self, done: bool) -> None:
        self._done = done

    def done(self) -> bool:
        return self._done


def _marked_scheduler(fitting) -> str | None:
    """The scheduler runner.cluster_on_interrupt marks on a Ctrl-C raised inside while ``fitting()``
    says what it says (None: the hint does not say the workers go on)."""
    with pytest.raises(KeyboardInterrupt) as caught:
        with runner.cluster_on_interrupt("tcp://h:8786", fitting):
            raise KeyboardInterrupt
    return getattr(caught.value, resume.EXTERNAL_CLUSTER_ATTR, None)


def test_ctrl_c_with_tasks_still_queued_does_not_say_the_workers_go_on_fitting(tmp_path):
    """On a cluster given with --scheduler and no worker connected yet (a batch job still queued),
    every task sent was not done, so a Ctrl-C said 'The Dask workers at ... go on fitting the lenses
    they had started', though none had started one. A task now counts only where its lens's fit
    started since the survey sent it (a line more in its .attempts, as task.fit_lens notes it):
    queued ones, and a lens resumed with earlier fits' lines, do not; a done one never does."""
    out = tmp_path / "out"
    lenses = {name: discovery.Lens(name, tmp_path / "lenses" / name) for name in ("lens_a", "lens_b")}
    for lens in lenses.values():
        lens.output(out).mkdir(parents=True)
    attempts.note_attempt(lenses["lens_b"].output(out))  # an earlier survey's fit of lens_b, interrupted
    started = {name: attempts.attempts(lens.output(out)) for name, lens in lenses.items()}  # as they are sent
    assert started == {"lens_a": 0, "lens_b": 1}
    queued = {_Task(False): lenses["lens_a"], _Task(False): lenses["lens_b"]}
    assert runner.fits_in_flight(queued, out, started) is False
    assert _marked_scheduler(lambda: runner.fits_in_flight(queued, out, started)) is None

    attempts.note_attempt(lenses["lens_b"].output(out))  # a worker took lens_b's task: its fit started
    assert runner.fits_in_flight(queued, out, started) is True
    assert _marked_scheduler(lambda: runner.fits_in_flight(queued, out, started)) == "tcp://h:8786"
    came_back = {_Task(True): lenses["lens_b"], _Task(False): lenses["lens_a"]}  # lens_b's fit ended, lens_a queued
    assert runner.fits_in_flight(came_back, out, started) is False
    assert _marked_scheduler(lambda: runner.fits_in_flight(came_back, out, started)) is None


def test_ctrl_c_while_a_task_waits_for_a_lens_lock_says_it_fits_the_lens_once_it_gets_it(tmp_path):
    """A task on an external cluster that waits for its lens folder's lock, held by another process (an
    earlier survey's fit still running there), had started no fit, so a Ctrl-C left out that the
    cluster goes on: that task fits the lens once it gets the lock. Such a lens is now named (its lock
    held, held here by a second open of the lock file, as another process's flock would be), and the
    hint says so beside the workers going on; a lens whose lock is free stays unnamed, as before."""
    from tinylens.cli.common import survey_hint
    from tinylens.locks import folder_lock

    out = tmp_path / "out"
    lenses = {name: discovery.Lens(name, tmp_path / "lenses" / name) for name in ("lens_a", "lens_b")}
    for lens in lenses.values():
        lens.output(out).mkdir(parents=True)
    started = {name: 0 for name in lenses}
    queued = {_Task(False): lenses["lens_a"], _Task(False): lenses["lens_b"]}
    with folder_lock(lenses["lens_a"].output(out), filenames.LENS_LOCK) as held:
        assert held
        assert runner.fits_in_flight(queued, out, started) is False
        assert runner.waiting_for_locks(queued, out, started) == ["lens_a"]
        with pytest.raises(KeyboardInterrupt) as caught:
            with runner.cluster_on_interrupt("tcp://h:8786", lambda: runner.fits_in_flight(queued, out, started),
                                             lambda: runner.waiting_for_locks(queued, out, started)):
                raise KeyboardInterrupt
    assert getattr(caught.value, resume.EXTERNAL_CLUSTER_ATTR, None) == "tcp://h:8786"
    waiting = getattr(caught.value, resume.LOCK_WAITERS_ATTR, None)
    assert waiting == ["lens_a"]
    assert runner.waiting_for_locks(queued, out, started) == []  # released: nothing waits
    text = " ".join(survey_hint(out, "tinylens survey lenses -c t.yaml", cluster="tcp://h:8786", waiting=waiting).split())
    assert "The Dask workers at tcp://h:8786 go on fitting the lenses they had started" in text, text
    assert ("The survey's task of lens_a waits there for the lock of its lens folder, held by another process (a fit "
            "of an earlier survey still running?): it fits the lens once it gets the lock, unless that process "
            "finished it.") in text, text


def test_ctrl_c_names_a_lens_whose_ok_row_lost_its_result_as_starting_again(tmp_path):
    """lens_a has an ok row.json but its result.json is gone (deleted by hand, a purged scratch
    disk): the survey run again fits it from the beginning (is_done: no result, so the plan holds
    it; the truth below), yet Ctrl-C's hint left it out, its row taken for a finished lens. It now
    names it as starting again; lens_b, ok with its result, is still left out."""
    from tinylens.cli.common import survey_hint

    lenses = tmp_path / filenames.LENSES_DIR
    for lens_id in ("lens_a", "lens_b"):
        survey_rows.write_row(lenses / lens_id, {**survey_rows.failed_row(lens_id, ""), "status": "ok", "reason": ""})
    (lenses / "lens_b" / filenames.RESULT).write_text(json.dumps({**RESULT, "output_dir": str(lenses / "lens_b")}))
    rows = {lens_id: survey_rows.read_row(lenses / lens_id / filenames.ROW, lens_id) for lens_id in ("lens_a", "lens_b")}
    found = [discovery.Lens(lens_id, tmp_path / "in" / lens_id) for lens_id in ("lens_a", "lens_b")]
    assert [lens.lens_id for lens in resume.plan(found, rows, tmp_path)] == ["lens_a"]  # the rerun's
    text = " ".join(survey_hint(tmp_path, "cmd").split())
    assert "lens_a had written none yet and starts again from the beginning), run: cmd" in text, text
    assert "lens_b" not in text, text


def test_ctrl_c_does_not_count_a_lens_whose_ok_row_lost_its_result_as_finished(tmp_path):
    """Stopped before the survey wrote its own catalogue (during the template check, before
    forget()): the earlier run's catalogue holds lens_a and lens_b ok, but lens_a's result.json is
    gone, so the survey run again fits lens_a (the plan, the truth below). The hint counted both
    ('Finished lenses kept: 2 (2 ok, 0 failed)') and said lens_a starts again from the beginning; it
    now counts lens_b alone, as many as the catalogue holds less the lenses the plan fits again."""
    from tinylens.cli.common import survey_hint

    lenses = tmp_path / filenames.LENSES_DIR
    for lens_id in ("lens_a", "lens_b"):
        survey_rows.write_row(lenses / lens_id, {**survey_rows.failed_row(lens_id, ""), "status": "ok", "reason": ""})
    (lenses / "lens_b" / filenames.RESULT).write_text(json.dumps({**RESULT, "output_dir": str(lenses / "lens_b")}))
    rows = {lens_id: survey_rows.read_row(lenses / lens_id / filenames.ROW, lens_id) for lens_id in ("lens_a", "lens_b")}
    catalog.write_catalog(rows, tmp_path)  # the earlier run's, both ok
    assert sorted(pd.read_parquet(tmp_path / filenames.CATALOG_PARQUET)["status"]) == ["ok", "ok"]
    found = [discovery.Lens(lens_id, tmp_path / "in" / lens_id) for lens_id in ("lens_a", "lens_b")]
    refitted = [lens.lens_id for lens in resume.plan(found, rows, tmp_path)]
    assert refitted == ["lens_a"]  # the rerun's
    text = " ".join(survey_hint(tmp_path, "cmd").split())
    assert f"Finished lenses kept: {2 - len(refitted)} (1 ok, 0 failed)" in text, text
    assert "lens_a had written none yet and starts again from the beginning), run: cmd" in text, text
    with_only = " ".join(survey_hint(tmp_path, "cmd", chosen=["lens_a", "lens_b"]).split())
    assert "Finished lenses kept: 1 of the 2 chosen by --only (1 ok, 0 failed)" in with_only, with_only
    assert "No lens of the 1 chosen by --only had finished." in survey_hint(tmp_path, "cmd", chosen=["lens_a"])


def test_a_checkpoint_left_by_a_fit_of_another_template_is_its_writers_though_a_later_fit_started(
        tmp_path, mock_survey, monkeypatch):
    """lens_c's fit with template A wrote its sampler's checkpoint and was stopped; a survey with
    template B (theta_E's prior widened) started lens_c's fit and was stopped in its pipeline stages,
    before its sampler replaced A's checkpoint (the file below, A's bytes). The dry run of B took the
    last .attempts line (B's) for the checkpoint's writer and listed lens_c as '1 resume from a
    checkpoint', and A's as 'another template'. The fit now records its template's digest beside the
    checkpoint it writes (checkpoint.hdf5.template), which tells the checkpoint is still A's."""
    import yaml

    import tinylens
    from tinylens.inference.common import prepare_checkpoint
    from tinylens.precision import get_precision
    from survey_mocks import template_config

    out = tmp_path / "out"
    first = survey_template.load_template(mock_survey["template"])
    wider = template_config()
    wider["model_components"]["lens_mass_list"][0]["params"]["theta_E"]["prior_settings"] = [0.5, 2.5]
    second_path = tmp_path / "wider.yaml"
    second_path.write_text(yaml.safe_dump(wider, sort_keys=False))
    second = survey_template.load_template(second_path)
    lens = next(found for found in discovery.find_lenses(mock_survey["lenses"]) if found.lens_id == "lens_c")
    path = lens.output(out) / filenames.CHECKPOINTS["nautilus"]

    def sampled_then_stopped(config, output, **kwargs):  # the sampler's runner prepares its checkpoint, writes it
        prepare_checkpoint(path, "stamp of A", True)
        path.write_bytes(b"A's samples")
        raise KeyboardInterrupt

    def stopped_in_its_stages(config, output, **kwargs):
        raise KeyboardInterrupt

    for template, fit in ((first, sampled_then_stopped), (second, stopped_in_its_stages)):
        monkeypatch.setattr(tinylens, "fit", fit)
        with pytest.raises(KeyboardInterrupt):  # the survey's own task, as its worker runs it
            task.fit_lens("lens_c", survey_template.lens_config(template, lens, out), str(lens.output(out)),
                            precision=get_precision())
    monkeypatch.undo()
    assert path.read_bytes() == b"A's samples" and attempts.attempts(lens.output(out)) == 2  # A's, B started after

    plan = runner.survey_plan(mock_survey["lenses"], second_path, out, check=False)["to_fit"]
    assert plan["resume"] == [] and plan["other_checkpoint"] == ["lens_c"], plan
    plan = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, check=False)["to_fit"]
    assert plan["resume"] == ["lens_c"] and plan["other_checkpoint"] == [], plan
    found = discovery.find_lenses(mock_survey["lenses"])
    assert resume.resuming_lenses(found, {}, (), out, second) == []  # the start line's count
    assert resume.resuming_lenses(found, {}, (), out, first) == ["lens_c"]


def test_the_pipeline_state_records_the_template_whose_fit_wrote_it(tmp_path):
    """The pipeline's state (stages 1-3 and the box) records the template's digest of the fit that
    writes it, read back as the file's writer though a later fit's .attempts line names another
    template; a state with no record (an older tinylens's) is counted by the last .attempts line as before."""
    import numpy as np

    from tinylens.pipeline.run import _save_box

    folder = tmp_path / "lens_c"
    folder.mkdir()
    attempts.note_attempt(folder, "a" * 16)
    _save_box({"fingerprint": "f"}, folder / filenames.PIPELINE_STATE, np.zeros(2), np.ones(2), "a" * 16)
    attempts.note_attempt(folder, "b" * 16)  # a fit of another template started, stopped before its stage 1 ended
    assert resume.checkpoint_digest(folder, filenames.PIPELINE_STATE) == "a" * 16
    assert resume.other_checkpoint(folder, "b" * 16) and not resume.holds_checkpoint(folder, digest="b" * 16)
    assert resume.holds_checkpoint(folder, digest="a" * 16)
    _save_box({"fingerprint": "f"}, folder / filenames.PIPELINE_STATE, np.zeros(2), np.ones(2))  # no record
    assert resume.checkpoint_digest(folder, filenames.PIPELINE_STATE) == "b" * 16  # the last line's, as before


def test_a_pipeline_state_holding_a_nan_the_fit_takes_up_is_read_by_the_survey_alike(tmp_path):
    """A checkpoint.pipeline.json written by another program (Python's json.dump of an edited
    state) may hold a NaN where the fit checks no value (a stage's record); the fit's own reader
    (_read_state) reads it and takes the state up, while the survey's readers of the same file read
    it strictly, as a damaged file: checkpoint_digest fell back to the last .attempts line (another
    template's, 'bbbb...'), so the state was said to be of another template (the dry run's
    other_checkpoint, where the fit resumes it), and fit_stage said nothing of the lens's stage.
    Both now read it as the fit does."""
    import numpy as np

    from tinylens.pipeline.run import _load_state, _save_box

    folder = tmp_path / "lens_c"
    folder.mkdir()
    path = folder / filenames.PIPELINE_STATE
    attempts.note_attempt(folder, "a" * 16)
    state = {"fingerprint": "f", "best": [0.5, 0.5], "stages": {"lens_light": {}}, "n_evals": 10, "time_s": 1.0,
             "arc_mask": []}
    _save_box(state, path, np.zeros(2), np.ones(2), "a" * 16)
    edited = json.loads(path.read_text())
    edited["stages"]["lens_light"]["chi2"] = float("nan")
    path.write_text(json.dumps(edited))  # another writer: Python's json, NaN as written
    assert '"chi2": NaN' in path.read_text()
    assert json.loads(path.read_text())["template"] == "a" * 16  # independent truth: whose state it is
    assert _load_state(path, "f", 2) is not None  # the fit takes it up
    attempts.note_attempt(folder, "b" * 16)  # a fit of another template started, stopped before its stage 1 ended
    assert resume.checkpoint_digest(folder, filenames.PIPELINE_STATE) == "a" * 16
    assert resume.holds_checkpoint(folder, digest="a" * 16) and not resume.other_checkpoint(folder, "a" * 16)
    then = (folder / filenames.ATTEMPTS).stat().st_mtime
    os.utime(path, (then + 60, then + 60))  # written after the last fit started: its own
    assert attempts.fit_stage(folder) == "stage 4/4 (sampling, run 1)"


def test_a_survey_fits_record_of_its_template_goes_with_the_checkpoint_it_describes(tmp_path, monkeypatch):
    """A survey's fit records its template's digest beside the sampler's checkpoint
    (checkpoint.hdf5.template); a converged fit deletes its checkpoints, and a survey's fit that
    raised deletes them for Dask's retry, but both left that record behind in the lens's folder,
    describing a checkpoint no longer there. It now goes with them: no checkpoint file is left."""
    import os

    import tinylens
    from tiny_lens import write_tiny_lens
    from tinylens.inference.common import CHECKPOINT_TEMPLATE, prepare_checkpoint

    config = write_tiny_lens(tmp_path / "lens_a")
    out = tmp_path / "out"
    recording = CHECKPOINT_TEMPLATE.set("a" * 16)  # as a survey's task sets it around tinylens.fit
    try:
        result = tinylens.fit(config, progress=False, output=out)
    finally:
        CHECKPOINT_TEMPLATE.reset(recording)
    assert result.converged and (out / "result.json").is_file()
    assert [name for name in os.listdir(out) if name.startswith("checkpoint")] == []

    folder = tmp_path / "lens_b"
    folder.mkdir()

    def broken_fit(config, output, **kwargs):  # the sampler prepared its checkpoint, then the fit broke
        checkpoint = Path(output) / filenames.CHECKPOINTS["nautilus"]
        prepare_checkpoint(checkpoint, "stamp", True)
        assert (Path(output) / filenames.template_name(checkpoint.name)).read_text() == "b" * 16 + "\n"
        checkpoint.write_bytes(b"half written")
        raise RuntimeError("broken")

    monkeypatch.setattr(tinylens, "fit", broken_fit)
    monkeypatch.setattr(task, "fit_digest", lambda config: "b" * 16)
    with pytest.raises(RuntimeError):
        task.fit_lens("lens_b", {"dataset": {}}, str(folder))
    assert [name for name in os.listdir(folder) if name.startswith("checkpoint")] == []


def test_ctrl_c_does_not_count_a_lens_whose_folder_is_gone_as_finished(tmp_path):
    """The earlier run's catalogue holds lens_a and lens_b ok, but lens_a's folder is gone whole
    (a purged scratch disk): the survey run again reads its rows from the lens folders, so it fits
    lens_a again (the plan, the truth below). Ctrl-C's hint counted the catalogue's row
    ('Finished lenses kept: 2 (2 ok, 0 failed)'); it now counts lens_b alone."""
    import shutil

    from tinylens.cli.common import survey_hint

    lenses = tmp_path / filenames.LENSES_DIR
    for lens_id in ("lens_a", "lens_b"):
        survey_rows.write_row(lenses / lens_id, {**survey_rows.failed_row(lens_id, ""), "status": "ok", "reason": ""})
        (lenses / lens_id / filenames.RESULT).write_text(json.dumps({**RESULT, "output_dir": str(lenses / lens_id)}))
    catalog.write_catalog(survey_rows.read_rows(tmp_path), tmp_path)  # the earlier run's, both ok
    assert sorted(pd.read_parquet(tmp_path / filenames.CATALOG_PARQUET)["status"]) == ["ok", "ok"]
    shutil.rmtree(lenses / "lens_a")
    found = [discovery.Lens(lens_id, tmp_path / "in" / lens_id) for lens_id in ("lens_a", "lens_b")]
    refitted = [lens.lens_id for lens in resume.plan(found, survey_rows.read_rows(tmp_path), tmp_path)]
    assert refitted == ["lens_a"]  # the rerun's
    text = " ".join(survey_hint(tmp_path, "cmd").split())
    assert f"Finished lenses kept: {2 - len(refitted)} (1 ok, 0 failed)" in text, text
    with_only = " ".join(survey_hint(tmp_path, "cmd", chosen=["lens_a", "lens_b"]).split())
    assert "Finished lenses kept: 1 of the 2 chosen by --only (1 ok, 0 failed)" in with_only, with_only
    assert "No lens of the 1 chosen by --only had finished." in survey_hint(tmp_path, "cmd", chosen=["lens_a"])


def test_a_ctrl_c_as_a_finished_lens_is_taken_back_keeps_it_in_the_catalogue(tmp_path, monkeypatch):
    """The survey takes a task out of those it waits for before fetching its value; a Ctrl-C then
    (the value's fetch, up to CONNECT_TIMEOUT from a busy scheduler) left that lens out of the
    catalogue written at the end, though its worker had written its ok row and result.json: the
    catalogue held 0 rows for 1 lens finished. The end now looks for that lens's written row too.
    (An in-process cluster, the fit a stand-in that writes both files, the Ctrl-C raised right
    after lens_a's value was fetched: ~3 s.)"""
    from distributed import Client, LocalCluster

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    fetched = runner._outcome

    def ctrl_c_once_fetched(future, lens, out):
        outcome = fetched(future, lens, out)
        assert outcome.status == "finished", outcome  # its worker wrote its row, as the loop would take it
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_outcome", ctrl_c_once_fetched)
    lenses = [discovery.Lens("lens_a", tmp_path / "in" / "lens_a")]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client, pytest.raises(KeyboardInterrupt):
        runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False, client=client, no_worker_wait=0)
    written = pd.read_csv(tmp_path / filenames.CATALOG_CSV)
    assert written["lens_id"].tolist() == ["lens_a"] and written["status"].tolist() == ["ok"]
    assert written["reason"].tolist() == [str(lenses[0].folder / "truth.json")]  # the row its worker wrote
    assert pd.read_parquet(tmp_path / filenames.CATALOG_PARQUET)["lens_id"].tolist() == ["lens_a"]
