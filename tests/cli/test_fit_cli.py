"""``tinylens fit`` from the command line: help, the progress display and ``--quiet``, a search
stopped early (a warning, then a resume), and an optimiser (no evidence, no corner plot)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tiny_lens import FAST_NAUTILUS, tiny_data, write_tiny_lens
from tinylens.cli.main import app

STATUS = r"nautilus | calls"


def invoke(*args) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture(scope="module")
def data():
    return tiny_data()


def test_help_describes_progress_and_quiet():
    code, out = invoke("fit", "--help")
    assert code == 0
    for text in ("--quiet", "--output", "--fresh", "likelihood calls", "log-evidence", "elapsed time", "resumes",
                 "--no-pipeline", "quick look", "n_like_max", "maxcall"):
        assert text in out, text


def test_progress_quiet_and_resume_of_a_capped_fit(tmp_path, data, monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "n_like_max": 1000}}, data)
    code, out = invoke("fit", config)
    assert code == 0
    assert STATUS in out and "log Z" in out and "elapsed" in out  # the status line, at least its last state
    assert "outputs writing result.json, tables and figures to" in out  # the seconds after sampling
    assert "Posterior medians" in out and "68 % interval" in out and "lens_mass.0.theta_E" in out
    assert "Warning:" in out and "stopped before converging" in out and "again" in out
    assert out.count("stopped before converging") == 1  # tinylens.fit's own ConvergenceWarning is not said too
    assert out.index("stopped before converging") < out.index("Results written to")  # the closing line is last
    first = json.loads((tmp_path / "output" / "result.json").read_text())
    assert first["converged"] is False and first["n_likelihood_evals"] >= 1000

    # --quiet: no status line; the same command resumes (the cap is reached, so no new calls).
    code, out = invoke("fit", config, "--quiet")
    assert code == 0 and STATUS not in out and "stopped before converging" in out and "outputs writing" not in out
    assert out.index("stopped before converging") < out.index("Results written to")  # as without --quiet
    second = json.loads((tmp_path / "output" / "result.json").read_text())
    assert second["info"]["resumed"] is True and second["info"]["n_like_this_run"] == 0
    assert second["n_likelihood_evals"] == first["n_likelihood_evals"]
    # the closing line's count and time cover every run; it says what this one added
    assert "resumed from its checkpoint: 0 by the sampler in this run" in out
    assert "s of it in earlier runs; the whole fit" in out and second["wall_time_s"] >= first["wall_time_s"] * 0.5

    # --fresh: the checkpoints are deleted and the same capped search runs again from its start
    code, out = invoke("fit", config, "--quiet", "--fresh")
    third = json.loads((tmp_path / "output" / "result.json").read_text())
    assert code == 0 and third["info"]["resumed"] is False and "earlier runs" not in out
    assert third["n_likelihood_evals"] == first["n_likelihood_evals"] and third["info"]["earlier_time_s"] == 0.0


class _StageRan(Exception):
    """Raised by a pipeline stage that :func:`_stages_recorded` replaced."""


def _stages_recorded(monkeypatch) -> list[str]:
    """The pipeline's stages 1-3 (their entry point, and each stage) replaced by one that records
    its name and stops the fit: the list returned names those a fit ran."""
    import tinylens.pipeline.run as run

    ran: list[str] = []
    for name in ("optimise", "fit_lens_light", "find_arc", "fit_mass_source"):
        def stop(*args, _name=name, **kwargs):
            ran.append(_name)
            raise _StageRan(_name)
        monkeypatch.setattr(run, name, stop)
    return ran


def _capped_config(tmp_path, data, pipeline: dict | None = None):
    """The tiny lens, nautilus capped at 1000 calls (a quick look), no figures; ``pipeline``: the
    config's section (None: none, the default pipeline)."""
    import yaml

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "n_like_max": 1000}}, data)
    settings = yaml.safe_load(config.read_text())
    settings["output"]["draw_figures"] = "none"
    if pipeline is not None:
        settings["pipeline"] = pipeline
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    return config


def test_no_pipeline_runs_the_sampler_alone_and_result_json_says_so(tmp_path, data, monkeypatch):
    import tinylens

    config = _capped_config(tmp_path, data)
    written = config.read_text()
    ran = _stages_recorded(monkeypatch)
    with pytest.raises(_StageRan):  # the config as it is runs the stages first, cap or not
        tinylens.fit(config, progress=False, output=tmp_path / "staged")
    assert ran == ["optimise"]
    ran.clear()
    code, out = invoke("fit", config, "--quiet", "--no-pipeline")
    assert code == 0, out
    assert ran == []  # no stage: the sampler alone
    stored = json.loads((tmp_path / "output" / "result.json").read_text())
    assert stored["config"]["pipeline"]["enabled"] is False  # what was run, for whoever reads the result
    assert "pipeline" not in stored["info"] and "box_edge" not in stored["quality"]["flags"]
    assert 1000 <= stored["n_likelihood_evals"] == stored["info"]["n_like_this_run"]  # the sampler's calls only
    assert config.read_text() == written  # the user's config is left as it is
    with pytest.raises(tinylens.ConfigError, match="pipeline"):
        tinylens.fit(config, progress=False, pipeline="false")


def test_a_config_with_the_pipeline_off_runs_no_stage(tmp_path, data, monkeypatch):
    import tinylens

    config = _capped_config(tmp_path, data, pipeline={"enabled": False})
    ran = _stages_recorded(monkeypatch)
    with pytest.warns(tinylens.ConvergenceWarning, match="n_like_max"):  # the cap stopped the sampler
        result = tinylens.fit(config, progress=False)
    assert ran == [] and "pipeline" not in result.info and result.n_likelihood_evals >= 1000


def test_optimiser_from_the_cli(tmp_path, data):
    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs",
                                        "settings": {"n_starts": 2, "n_draws": 128}}, data)
    (tmp_path / "opt").mkdir()
    strays = [tmp_path / "opt" / n for n in (".result.unfinished-k1ll3d00.json", ".model_results.unfinished-k1ll3d00.png",
                                             ".checkpoint.pipeline.unfinished-k1ll3d00.json")]
    for stray in strays:  # what a fit SIGKILLed while writing its outputs leaves
        stray.write_text("half")
    (tmp_path / "opt" / ".notes-mine.txt").write_text("a user's file")
    code, out = invoke("fit", config, "--quiet", "--output", tmp_path / "opt")
    assert code == 0, out
    assert "log Z" not in out and "likelihood evaluations" in out and "Warning" not in out
    # a point, not a posterior: no "Posterior medians" with 68 % intervals of width zero
    assert "Best fit (an optimiser: no uncertainties)" in out and "Posterior medians" not in out
    assert "68 % interval" not in out
    assert "(the whole fit, loading and outputs included:" in out
    res = json.loads((tmp_path / "opt" / "result.json").read_text())
    assert res["method"] == "lbfgs" and res["log_evidence"] is None and res["converged"] is True
    assert res["median"] == res["max_likelihood"]
    assert abs(res["median"]["lens_mass.0.theta_E"] - 1.0) < 0.01
    assert "corner" not in res["files"] and not (tmp_path / "opt" / "model_corner.png").exists()
    assert (tmp_path / "opt" / "model_results.png").stat().st_size > 0
    assert not any(stray.exists() for stray in strays) and (tmp_path / "opt" / ".notes-mine.txt").exists()


def test_a_fit_removes_what_a_killed_fit_left_unfinished_under_any_name_and_nothing_else(tmp_path, data):
    """A fit removed only the temporaries of the files its own config names, so those a fit killed
    mid-write left of other names (an earlier config's output.tables.samples: samples.parquet, a
    .csv.gz table, a figure it no longer draws) stayed in its folder for good. Every file of the
    temporary pattern (.<stem>.unfinished-XXXXXXXX<suffix>) there is now removed when a fit
    starts; a name that only looks like one, a folder or a file outside the folder stays."""
    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs",
                                        "settings": {"n_starts": 2, "n_draws": 128}}, data)
    out = tmp_path / "opt"
    (out / "sub").mkdir(parents=True)
    strays = [out / n for n in (".result_samples.unfinished-k1ll3d00.csv", ".samples.unfinished-ab12cd34.parquet",
                                ".result_summary.csv.unfinished-x9y8z7_6.gz", ".old_model.unfinished-abcdefgh.png",
                                ".checkpoint.unfinished-0an9mcex")]
    mine = [out / n for n in (".result_samples.unfinished-draft.csv", ".notes.unfinished-k1ll3d00.csv.bak",
                              "result_samples.unfinished-k1ll3d00.csv", ".plan.unfinished-K1LL3D00.txt",
                              ".samples-unfinished-k1ll3d00.csv", "sub/.result.unfinished-k1ll3d00.json")]
    for path in [*strays, *mine]:
        path.write_text("half")
    (out / ".figs.unfinished-abcdefgh").mkdir()  # a folder of that name is no temporary file
    code, text = invoke("fit", config, "--quiet", "--output", out)
    assert code == 0, text
    assert json.loads((out / "result.json").read_text())["converged"] is True
    assert [p.name for p in strays if p.exists()] == []
    assert all(p.read_text() == "half" for p in mine) and (out / ".figs.unfinished-abcdefgh").is_dir()


def test_a_fit_into_a_folder_that_can_be_written_but_not_listed_runs(tmp_path, data, monkeypatch):
    """984ef84's removal of a killed fit's temporaries listed the output folder, so a fit into one
    that can be written but not listed (chmod 733, a shared drop folder) stopped at its start with
    'Error: FOLDER: Permission denied' (os.scandir's PermissionError); the fit runs there, as it
    did before."""
    import errno
    import os

    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs",
                                        "settings": {"n_starts": 1, "n_draws": 64}}, data)
    out = tmp_path / "drop"
    out.mkdir()
    listable = os.scandir

    def scandir(path="."):  # root (the test's user) lists any folder: refuse this one as chmod 733 would
        if os.fspath(path) == os.fspath(out):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return listable(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, text = invoke("fit", config, "--quiet", "--output", out)
    monkeypatch.setattr(os, "scandir", listable)
    assert code == 0, text
    assert json.loads((out / "result.json").read_text())["converged"] is True


def _stop_while(phase: str, monkeypatch) -> None:
    """Make a fit raise KeyboardInterrupt (Ctrl-C) while ``phase``: loading the config and data,
    compiling the likelihood (its first call, checked before anything is written), or sampling
    (after a few batches, so that the sampler has written its checkpoint)."""
    import importlib

    import numpy as np

    import tinylens.problem
    from tinylens.problem import Problem

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    if phase == "loading":
        monkeypatch.setattr(tinylens.problem, "load_from", stop)
    elif phase == "compiling":
        monkeypatch.setattr(importlib.import_module("tinylens.fit"), "check_likelihood", stop)  # not tinylens.fit(): the module
    else:
        calls, original = {"n": 0}, Problem.log_likelihood

        def stop_later(self, theta):
            calls["n"] += len(np.atleast_2d(theta))
            if calls["n"] > 1000:
                raise KeyboardInterrupt
            return original(self, theta)

        monkeypatch.setattr(Problem, "log_likelihood", stop_later)


@pytest.mark.parametrize("phase, said", [
    ("loading", "before it wrote anything"),
    ("compiling", "No checkpoint had been written"),
    ("sampling", "The sampler's checkpoint is kept in"),
])
def test_ctrl_c_ends_with_one_line_exit_130_and_what_was_kept(tmp_path, data, monkeypatch, phase, said):
    """Ctrl-C during a fit: no traceback, the shell's exit code for SIGINT, and what running it
    again does: a checkpoint is promised only when the fit had written one."""
    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "checkpoint_every": 0}}, data)
    _stop_while(phase, monkeypatch)
    code, out = invoke("fit", config, "--quiet")
    assert code == 130
    assert out.startswith("Interrupted.") and said in out, out
    kept = (tmp_path / "output" / "checkpoint.hdf5").is_file()
    assert kept == (phase == "sampling")
    assert ("run the same command again to resume" in out) == kept, out


def test_ctrl_c_while_a_compiled_module_is_imported_ends_with_one_line_exit_130(tmp_path, data, monkeypatch):
    """JAX is imported once a command runs: a Ctrl-C while jaxlib's extension initialises comes
    out as "ImportError: Encountered an error while initializing the extension", raised from the
    KeyboardInterrupt, which printed a traceback and exit code 1. An error that no Ctrl-C caused
    still propagates, as does one whose interrupt a ``raise ... from None`` hid."""
    import tinylens.problem

    def importing(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise ImportError("Encountered an error while initializing the extension.") from exc

    config = write_tiny_lens(tmp_path, None, data)
    monkeypatch.setattr(tinylens.problem, "load_from", importing)
    code, out = invoke("fit", config, "--quiet")
    assert code == 130, out
    assert out == "Interrupted. It was stopped while loading, before it wrote anything: run the same command again to fit."

    def broken(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ImportError("no module named x") from None

    for load in (broken, lambda *a, **k: (_ for _ in ()).throw(ImportError("no module named x"))):
        monkeypatch.setattr(tinylens.problem, "load_from", load)
        result = CliRunner().invoke(app, ["fit", str(config), "--quiet"])
        assert isinstance(result.exception, ImportError), result.output


def test_ctrl_c_that_a_compiled_module_turned_into_an_error_still_says_what_was_kept(tmp_path, data, monkeypatch):
    """A Ctrl-C while the fit imports a compiled module (pybind11/nanobind: "ImportError: ...
    initialization failed", raised from the KeyboardInterrupt) once sampling has written its
    checkpoint: the line must promise that checkpoint, not "before it wrote anything"."""
    import numpy as np

    from tinylens.problem import Problem

    calls, original = {"n": 0}, Problem.log_likelihood

    def import_stopped_later(self, theta):
        calls["n"] += len(np.atleast_2d(theta))
        if calls["n"] > 1000:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as exc:
                raise ImportError("initialization failed") from exc
        return original(self, theta)

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "checkpoint_every": 0}}, data)
    monkeypatch.setattr(Problem, "log_likelihood", import_stopped_later)
    code, out = invoke("fit", config, "--quiet")
    assert code == 130, out
    assert (tmp_path / "output" / "checkpoint.hdf5").is_file()
    assert "The sampler's checkpoint is kept in" in out and "run the same command again to resume" in out, out


@pytest.mark.parametrize("change, said", [
    ({}, "The sampler's checkpoint is kept in"),
    ({"seed": 5}, "The pipeline stages' results are kept in"),  # the stages' fingerprint leaves out the sampler
    ({"prior": [0.6, 1.5]}, "is not one this config resumes"),
])
def test_ctrl_c_while_loading_promises_only_a_checkpoint_of_this_config(tmp_path, data, monkeypatch, change, said):
    """A fit stopped before it sampled, in a folder holding the checkpoint of an earlier fit of
    another config (or sampler settings), said that the checkpoint was kept and that running the
    command again resumed it: that fit deletes it when its sampler starts."""
    import yaml

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "checkpoint_every": 0}}, data)
    _stop_while("sampling", monkeypatch)
    assert invoke("fit", config, "--quiet")[0] == 130 and (tmp_path / "output" / "checkpoint.hdf5").is_file()
    monkeypatch.undo()
    changed = yaml.safe_load(config.read_text())
    changed["inference"]["settings"]["seed"] = change.get("seed", FAST_NAUTILUS["seed"])
    theta_E = changed["model_components"]["lens_mass_list"][0]["params"]["theta_E"]
    theta_E["prior_settings"] = change.get("prior", theta_E["prior_settings"])
    config.write_text(yaml.safe_dump(changed, sort_keys=False))
    _stop_while("compiling", monkeypatch)
    code, out = invoke("fit", config, "--quiet")
    assert code == 130 and said in out, out
    monkeypatch.undo()
    assert invoke("fit", config, "--quiet")[0] == 0  # does what the hint said
    info = json.loads((tmp_path / "output" / "result.json").read_text())["info"]
    assert info["resumed"] == (not change) and (info["earlier_time_s"] > 0) == ("prior" not in change)


def load_signalled_in_a_gc_callback(monkeypatch, signum: int, what: str) -> list[BaseException | None]:
    """Make a fit's loading (tinylens.problem.load_from) raise signal ``signum`` (a ``what``) inside a
    garbage-collector callback, as it often comes while JAX's callback runs, then wait for the
    signal sent again; return what Python printed as "Exception ignored in: ..." meanwhile."""
    import gc
    import signal
    import sys
    import threading

    import tinylens.problem

    swallowed: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: swallowed.append(info.exc_value))

    def raised(phase, info):
        if phase == "start":
            signal.raise_signal(signum)  # handled at once, inside this callback

    def load(*args, **kwargs):
        gc.callbacks.append(raised)
        try:
            gc.collect()
        finally:
            gc.callbacks.remove(raised)
        if swallowed:
            raise AssertionError(f"the {what} was lost: Python only printed {swallowed!r}")
        threading.Event().wait(60.0)  # the loading goes on; only the signal sent again ends this wait
        raise AssertionError(f"the {what} was lost")

    monkeypatch.setattr(tinylens.problem, "load_from", load)
    return swallowed


def test_ctrl_c_inside_jaxs_garbage_collector_callback_stops_the_fit(tmp_path, data, monkeypatch):
    """A Ctrl-C in a fit's first seconds (loading, compiling) often came while JAX's callback in
    ``gc.callbacks`` ran, where Python only printed "Exception ignored in: <function
    _xla_gc_callback ...>": the fit then ran to its end. It must stop the fit, once."""
    import signal

    swallowed = load_signalled_in_a_gc_callback(monkeypatch, signal.SIGINT, "Ctrl-C")
    config = write_tiny_lens(tmp_path, None, data)
    found = signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal
    try:
        code, out = invoke("fit", config, "--quiet")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler found is restored
    finally:
        signal.signal(signal.SIGINT, found)
    assert code == 130, out
    assert out == "Interrupted. It was stopped while loading, before it wrote anything: run the same command again to fit."
    assert swallowed == []


def test_sigterm_inside_jaxs_garbage_collector_callback_stops_a_fit_run_in_a_scripts_background(
        tmp_path, data, monkeypatch, python_sigint):
    """``tinylens fit ... &`` in a batch script runs with SIGINT ignored, and SIGTERM (SLURM's time
    limit, scancel) then raised KeyboardInterrupt at once: one that came while JAX's callback in
    ``gc.callbacks`` ran (loading, compiling, an optimiser, writing the outputs) was only printed,
    "Exception ignored in: ... KeyboardInterrupt", and the fit ran on until SLURM's SIGKILL. It
    must stop the fit: one line, exit code 143."""
    import signal

    swallowed = load_signalled_in_a_gc_callback(monkeypatch, signal.SIGTERM, "SIGTERM")

    def unhandled(signum, frame):
        raise AssertionError("a SIGTERM reached the test's own handler")  # Python's default would end pytest

    config = write_tiny_lens(tmp_path, None, data)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a script's background (the fixture restores it)
    found = signal.signal(signal.SIGTERM, unhandled)
    try:
        code, out = invoke("fit", config, "--quiet")
        assert signal.getsignal(signal.SIGTERM) is unhandled  # the handler found is restored
    finally:
        signal.signal(signal.SIGTERM, found)
    assert code == 143, out
    assert out == ("Terminated (SIGTERM: a batch system's time limit, scancel or kill). It was stopped while loading, "
                   "before it wrote anything: run the same command again to fit."), out
    assert swallowed == [] and signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_ctrl_c_in_a_folder_whose_checkpoint_cannot_be_read_still_ends_with_one_line(tmp_path, data, monkeypatch):
    """The hint reads the checkpoints' fingerprints (and the pipeline's state) to tell whether the
    fit resumes them: one that could not be read (bytes that are no text, a folder in its place),
    or a stop that named no problem, turned Ctrl-C into a traceback inside the handler of Ctrl-C."""
    from tinylens.cli.common import fit_hint

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "checkpoint_every": 0}}, data)
    _stop_while("sampling", monkeypatch)
    assert invoke("fit", config, "--quiet")[0] == 130
    monkeypatch.undo()
    folder = tmp_path / "output"
    stamp = folder / "checkpoint.hdf5.fingerprint"
    stamp.write_bytes(b"\xff\xfe not text")
    _stop_while("compiling", monkeypatch)
    code, out = invoke("fit", config, "--quiet")  # no traceback (invoke checks)
    assert code == 130 and "whether this config resumes them could not be told" in out, out
    stamp.unlink()
    stamp.mkdir()
    assert "could not be told" in fit_hint(folder, None) and "could not be told" in fit_hint(folder, "no problem")
    stamp.rmdir()
    assert "No checkpoint had been written" in fit_hint(tmp_path, None)


def test_the_hint_after_ctrl_c_leaves_a_damaged_pipeline_state_as_it_is(tmp_path, data):
    """The hint read the pipeline's state as the fit does, which deletes one of this fit's that
    was edited or damaged, with a CheckpointWarning: the line after Ctrl-C deleted a file and
    warned. It now reads without a side effect: the state is left as it was, unsaid, and the
    hint says it is not resumed; the fit's own look still deletes it with its warning."""
    import warnings

    import tinylens
    from tinylens import filenames
    from tinylens.cli.common import fit_hint
    from tinylens.errors import CheckpointWarning
    from tinylens.inference import resumed_checkpoints
    from tinylens.pipeline.run import _stage_fingerprint

    problem = tinylens.load(write_tiny_lens(tmp_path, None, data))  # nautilus after the pipeline's stages
    folder = tmp_path / "output"
    folder.mkdir()
    state = folder / filenames.PIPELINE_STATE
    text = json.dumps({"fingerprint": _stage_fingerprint(problem, problem.config.pipeline), "best": "abc",
                       "stages": {}, "n_evals": 3, "time_s": 2.5, "arc_mask": []})
    state.write_text(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hint = fit_hint(folder, problem)
    assert [str(w.message) for w in caught if issubclass(w.category, CheckpointWarning)] == []
    assert state.read_text() == text
    assert hint.startswith("The checkpoint in ") and "is not one this config resumes" in hint, hint
    with pytest.warns(CheckpointWarning, match="is this fit's but cannot be used"):
        assert resumed_checkpoints(problem, folder) == []
    assert not state.exists()


def test_ctrl_c_of_a_fresh_fit_says_to_resume_without_fresh(tmp_path, data, monkeypatch):
    """``tinylens fit CONFIG --fresh`` stopped while sampling said 'run the same command again to
    resume the fit', though that command (its --fresh) deletes the checkpoint first."""
    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "checkpoint_every": 0}}, data)
    _stop_while("sampling", monkeypatch)
    code, out = invoke("fit", config, "--quiet", "--fresh")
    assert code == 130 and (tmp_path / "output" / "checkpoint.hdf5").is_file()
    assert "run the command again without --fresh to resume the fit" in out and "same command" not in out, out
    monkeypatch.undo()
    assert invoke("fit", config, "--quiet")[0] == 0  # does what the hint said
    assert json.loads((tmp_path / "output" / "result.json").read_text())["info"]["resumed"] is True


def test_fit_of_a_dict_config_takes_relative_paths_from_base_dir(tmp_path, data, monkeypatch):
    import yaml

    import tinylens

    config = yaml.safe_load(write_tiny_lens(tmp_path / "lens", {"type": "optimizer", "method": "lbfgs",
                                                                 "settings": {"n_starts": 1, "n_draws": 64}}, data).read_text())
    monkeypatch.chdir(tmp_path)  # the config's data paths are relative to tmp_path / "lens", not here
    result = tinylens.fit(config, progress=False, base_dir=tmp_path / "lens", output=tmp_path / "out")
    assert abs(result.median["lens_mass.0.theta_E"] - 1.0) < 0.01
    assert (tmp_path / "out" / "result.json").is_file()


def test_truth_is_marked_on_the_corner_plot_and_printed_beside_the_fit(tmp_path, data, monkeypatch):
    """``--truth truth.json`` (a simulated lens): the file is read once; the corner plot, drawn
    once, marks the true values of the parameters it shows; the fit is printed beside every free
    parameter's true value."""
    from tiny_lens import FREE_TRUTH
    from tinylens.results import plots
    from tinylens.results import truth as truth_module

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "n_like_max": 1000}}, data)
    truth = tmp_path / "truth.json"  # as tinylens demo / simulate-population write it, a fixed parameter too
    truth.write_text(json.dumps({"description": "tiny", "params": {**FREE_TRUTH, "lens_mass.0.e1": 0.0}}))
    drawn = []
    draw = plots.corner_figure
    monkeypatch.setattr(plots, "corner_figure", lambda *a, **k: drawn.append(a) or draw(*a, **k))
    reads = []
    read = truth_module.read_truth
    monkeypatch.setattr(truth_module, "read_truth", lambda path: reads.append(path) or read(path))
    code, out = invoke("fit", config, "--quiet", "--truth", truth)
    assert code == 0, out
    assert reads == [truth]
    assert len(drawn) == 1
    shown, samples, _, truths = drawn[0]
    assert shown == ["lens_mass.0.theta_E"] and truths == [1.0]
    corner = json.loads((tmp_path / "output" / "result.json").read_text())["files"].get("corner", out)
    assert (tmp_path / "output" / corner).read_bytes()[:4] == b"\x89PNG"
    assert "Fitted vs true" in out and "pull" in out
    table = out[out.index("Fitted vs true"):]
    for name in FREE_TRUTH:
        assert name in table, name
    assert "lens_mass.0.e1" not in table  # fixed: not fitted


@pytest.mark.parametrize("content, expected", [
    (None, "The truth file {truth} does not exist: give the truth.json of tinylens demo"),  # was the OS's line
    ("{not json", "not a JSON file of true parameter values"),
    ('{"params": {"lens_mass.0.theta_E": "one"}}', "lens_mass.0.theta_E is not a finite number"),
    ('{"lens_mass.0.theta_e": 1.0}', "none of its parameters (lens_mass.0.theta_e) is a free parameter"),
])
def test_a_bad_truth_file_is_refused_before_anything_is_written(tmp_path, data, content, expected):
    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus", "settings": FAST_NAUTILUS}, data)
    truth = tmp_path / "truth.json"
    if content is not None:
        truth.write_text(content)
    code, out = invoke("fit", config, "--truth", truth)
    assert code == 2, out
    assert expected.format(truth=truth) in out and str(truth.name) in out
    assert not (tmp_path / "output").exists()


def test_a_populations_truth_table_or_lens_folder_given_as_truth_names_the_file_meant(tmp_path, data):
    """simulate-population writes truth.csv (all lenses) beside a folder per lens holding its own
    truth.json: --truth truth.csv was refused as 'not a JSON file (Expecting value: line 1 column 1)',
    and --truth of a lens's folder as 'a folder: give the truth.json of tinylens demo or
    simulate-population', neither naming the file a fit takes."""
    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus", "settings": FAST_NAUTILUS}, data)
    population = tmp_path / "mocks"
    (population / "lens_00001").mkdir(parents=True)
    (population / "lens_00001" / "truth.json").write_text('{"params": {"lens_mass.0.theta_E": 1.0}}')
    (population / "truth.csv").write_text("lens_id,lens_mass.0.theta_E\nlens_00001,1.0\n")
    code, out = invoke("fit", config, "--truth", population / "truth.csv")
    assert code == 2, out
    assert (f"It is a table of many lenses (simulate-population's truth.csv, which 'tinylens report --truth' reads); "
            f"a fit takes its lens's own truth.json, in the lens's folder (e.g. {population / 'lens_00001' / 'truth.json'}).") in out
    code, out = invoke("fit", config, "--truth", population / "lens_00001")
    assert code == 2, out
    assert f"is a folder: give the truth.json in it, {population / 'lens_00001' / 'truth.json'}." in out
    assert not (tmp_path / "output").exists()


@pytest.mark.parametrize("name", ["--output", "--out", "-o"])
def test_the_output_folder_is_named_as_survey_and_report_name_theirs(tmp_path, data, name):
    """survey and report take their output folder as --out: 'tinylens fit CONFIG --out run2' was
    refused ('No such option: --out'). Both names (and -o) give fit its folder."""
    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus", "settings": FAST_NAUTILUS}, data)
    (tmp_path / "a_file").write_text("x")
    code, out = invoke("fit", config, name, tmp_path / "a_file" / "run2")
    assert code == 2, out
    assert f"Output folder {tmp_path / 'a_file' / 'run2'} cannot be written" in out, out
    assert not (tmp_path / "output").exists()  # not the config's output.path


@pytest.mark.parametrize("method, named, not_named", [("nautilus", "n_like_max", "maxcall"),
                                                       ("dynesty", "maxcall", "n_like_max")])
def test_the_unconverged_warning_names_the_samplers_own_limits(method, named, not_named):
    from tinylens.cli.fit import unconverged_message

    text = unconverged_message(method)
    assert f"the {method} search stopped before converging" in text
    assert named in text and not_named not in text  # dynesty has no n_like_max setting (it is refused)


@pytest.mark.parametrize("settings, calls, named", [
    ({"n_like_max": 500, "timeout": float("inf")}, 500, "its n_like_max was reached"),
    ({"n_like_max": float("inf"), "timeout": 60.0}, 300, "its timeout was reached"),
    ({"n_like_max": 500, "timeout": 60.0}, 500, "its n_like_max was reached"),
    ({"n_like_max": 500, "timeout": 60.0}, 300, "its timeout was reached"),
    ({"n_like_max": float("inf"), "timeout": float("inf")}, 300, "its n_like_max or timeout was reached"),
])
@pytest.mark.parametrize("pipeline", [False, True])
def test_the_unconverged_warning_names_the_limit_that_stopped_nautilus(capsys, settings, calls, named, pipeline):
    """A nautilus fit stopped early was said to have reached its "n_like_max or timeout" where only
    one of them was set. The warning now names the one set or, with both set, n_like_max where the
    sampler's calls (its last run's, in the pipeline, not the stages' gradient calls) reached it and
    timeout where they did not."""
    info = {"settings": settings}
    total = calls
    if pipeline:  # the result's calls add the stages' and an earlier run's; the last run's are the sampler's
        info["pipeline"] = {"crowded_edges": [], "sampler_converged": False, "stage_gradient_evals": 400,
                            "sampling_runs": [{"n_likelihood_evals": 450}, {"n_likelihood_evals": calls}]}
        total = calls + 850
    text = _unconverged_printed(capsys, "nautilus", info, total)
    assert named in text, text
    assert text.count("was reached") == 1, text


@pytest.mark.parametrize("stopped_by, named", [("maxcall", "its maxcall was reached"),
                                               ("maxiter", "its maxiter was reached"),
                                               ("logl_max", "its logl_max was reached"),
                                               (None, "its maxcall or maxiter was reached")])
@pytest.mark.parametrize("pipeline", [False, True])
def test_the_unconverged_warning_names_the_limit_that_stopped_dynesty(capsys, stopped_by, named, pipeline):
    """A dynesty fit stopped early was said to have reached its "maxcall or maxiter" whichever
    stopped it. The warning now names the one its run recorded (info.stopped_by); a result.json
    that records none (an older fit, or a run that stopped on both at once) keeps both names."""
    info = {"settings": {"maxcall": 300, "maxiter": 50, "nlive": 20}}
    if stopped_by is not None:
        info["stopped_by"] = stopped_by
    if pipeline:
        info["pipeline"] = {"crowded_edges": [], "sampler_converged": False, "stage_gradient_evals": 400,
                            "sampling_runs": [{"n_likelihood_evals": 350}]}
    text = _unconverged_printed(capsys, "dynesty", info, 750)
    assert named in text, text
    assert text.count("was reached") == 1, text


def _unconverged_printed(capsys, method: str, info: dict, n_likelihood_evals: int) -> str:
    """What tinylens fit prints on stderr, whitespace joined, of an unconverged ``method`` result
    whose info is ``info`` and that made ``n_likelihood_evals`` likelihood calls."""
    from types import SimpleNamespace

    from tinylens.cli.common import console
    from tinylens.cli.fit import print_result

    result = SimpleNamespace(median={"lens_mass.0.theta_E": 1.0}, interval_68={"lens_mass.0.theta_E": (0.9, 1.1)},
                             log_evidence=10.0, info=info, total_time_s=3.0, n_likelihood_evals=n_likelihood_evals,
                             wall_time_s=2.0, output_dir="out", converged=False, method=method, quality={})
    with console.capture():
        print_result(result)
    return " ".join(capsys.readouterr().err.split())


def test_the_unconverged_warning_of_an_optimizer_gives_scipys_reason():
    """L-BFGS-B stopped by a failed line search was said to have reached its maxiter."""
    from tinylens.cli.fit import unconverged_message

    text = unconverged_message("lbfgs", "ABNORMAL_TERMINATION_IN_LNSRCH")
    assert "ABNORMAL_TERMINATION_IN_LNSRCH" in text and "maxiter was reached" not in text
    assert "checkpoint" not in text  # an optimizer keeps none


@pytest.mark.parametrize("method", ["lbfgs", "differential_evolution"])
def test_the_unconverged_warning_of_an_optimizer_without_scipys_reason_speaks_of_no_checkpoint_to_continue(method):
    """An optimizer's result that records no scipy message (info.message) was told to run the same
    command again 'to continue a nested sampler from its checkpoint'; an optimizer keeps none, so
    it is told to raise its maxiter and that a new run starts afresh. A nested sampler's is as before."""
    from tinylens.cli.fit import unconverged_message

    text = unconverged_message(method)
    assert text.startswith(f"the {method} search stopped before converging (its maxiter was reached)"), text
    assert "nested sampler" not in text and "continue" not in text, text
    assert text.endswith("Raise its maxiter and run the fit again: an optimizer keeps no checkpoint, so it starts "
                         "afresh."), text
    sampler = unconverged_message("nautilus")
    assert sampler.endswith("Run the same command again to continue a nested sampler from its checkpoint (after "
                            "raising or removing the limit)."), sampler


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        ([], "Quality: trusted."),
        (["arc_residuals"], "Quality: trusted (also raised, not critical: arc_residuals)."),
        (["prior_edge", "arc_residuals", "multimodal"],
         "Quality: NOT trusted, flagged prior_edge, multimodal (also raised, not critical: arc_residuals); "
         "see 'quality' in result.json"),
    ],
)
def test_the_closing_lines_say_whether_the_quality_flags_trust_the_fit(flags, said):
    """They gave the medians, evidence and cost alike for a fit its flags do not trust."""
    from types import SimpleNamespace

    from tinylens.cli.common import console
    from tinylens.cli.fit import print_result

    quality = {"flags": flags, "critical": ["prior_edge", "multimodal", "unconverged"],
               "trusted": not {"prior_edge", "multimodal"} & set(flags)}
    result = SimpleNamespace(median={"lens_mass.0.theta_E": 1.25}, interval_68={"lens_mass.0.theta_E": (1.2, 1.3)},
                             log_evidence=10.0, info={}, total_time_s=3.0, n_likelihood_evals=100, wall_time_s=2.0,
                             output_dir="out", converged=True, method="nautilus", quality=quality)
    with console.capture() as captured:
        print_result(result)
    text = " ".join(captured.get().split())
    assert said in text
    assert text.index("Quality:") < text.index("Results written to")


@pytest.mark.parametrize("quiet", [False, True])
def test_the_output_folder_is_the_last_line_of_a_fit_that_did_not_converge(tmp_path, monkeypatch, quiet):
    """A fit stopped by its n_like_max printed 'Results written to FOLDER' and then its warning that
    the search stopped before converging and how to continue it from its checkpoint, with --quiet and
    without, and with --truth the table of fitted and true values after that: the folder's line, which
    a user (or a batch log's tail) reads the results' place from, was lost in the middle. The warning
    and the table now come before it, and it is the last line."""
    from types import SimpleNamespace

    from tinylens.cli import fit as fit_cli

    folder = tmp_path / "output"
    info = {"settings": {"n_like_max": 1000}, "message": "n_like_max reached"}
    result = SimpleNamespace(median={"lens_mass.0.theta_E": 1.01}, interval_68={"lens_mass.0.theta_E": (1.0, 1.02)},
                             param_names=("lens_mass.0.theta_E",), log_evidence=10.0, info=info, total_time_s=3.0,
                             n_likelihood_evals=1024, wall_time_s=2.0, output_dir=folder, converged=False,
                             method="nautilus", quality={"flags": ["unconverged"], "critical": ["unconverged"]},
                             truth={"lens_mass.0.theta_E": 1.0})
    monkeypatch.setattr(fit_cli, "run_fit", lambda *a, **k: result)
    run = CliRunner().invoke(app, ["fit", str(tmp_path / "model_config.yaml"), *(["--quiet"] if quiet else [])])
    assert run.exit_code == 0, run.output
    text = " ".join(run.output.split())
    said = [text.index(part) for part in ("Posterior medians", "Fitted vs true", "Quality: NOT trusted",
                                          "stopped before converging", "Results written to")]
    assert said == sorted(said), text
    assert text.endswith(f"Results written to {folder}"), text


def test_the_truth_table_of_an_optimiser_gives_no_intervals_nor_pulls():
    """fit --truth with an optimiser: the truth table still read 'median' with a '68 % interval'
    of width zero (1.25 - 1.25) and an empty pull column, as the medians table did."""
    from types import SimpleNamespace

    from tinylens.cli.common import console
    from tinylens.cli.fit import truth_table

    result = SimpleNamespace(median={"lens_mass.0.theta_E": 1.25}, interval_68={"lens_mass.0.theta_E": (1.25, 1.25)},
                             param_names=["lens_mass.0.theta_E"], method="lbfgs")
    with console.capture() as captured:
        console.print(truth_table(result, {"lens_mass.0.theta_E": 1.2}))
    text = captured.get()
    assert "best fit" in text and "1.25" in text and "1.2" in text
    assert "median" not in text and "68 %" not in text and "pull" not in text and "1.25 - 1.25" not in text


@pytest.mark.parametrize("sampler_converged", [True, False])
def test_a_posterior_against_the_box_is_not_said_to_have_hit_the_samplers_limit(capsys, sampler_converged):
    """A fit whose sampler converged but whose posterior still reached stage 3's theta_E floor (or
    the box after its widenings) is unconverged by the pipeline's verdict; the closing warning said
    its n_like_max or timeout was reached and to run the same command again, which samples the same
    box and gives the same answer. It now names the edges (and the limit only where the sampler
    itself stopped short). The box of a search its limit stopped is not widened: that warning no
    longer says 'after its widenings (see pipeline.max_widen ...)', sending the user to a setting
    that would not help."""
    from types import SimpleNamespace

    from tinylens.cli.common import console
    from tinylens.cli.fit import print_result

    pipeline = {"crowded_edges": ["lens_mass.0.theta_E:lower", "lens_mass.0.e1:upper"],
                "box": {"lens_mass.0.theta_E": [0.5, 3.5], "lens_mass.0.e1": [-0.2, 0.1]},
                "stages": {"arc": {"theta_E_floor": 0.5}}, "sampler_converged": sampler_converged}
    result = SimpleNamespace(median={"lens_mass.0.theta_E": 0.51}, interval_68={"lens_mass.0.theta_E": (0.5, 0.52)},
                             log_evidence=10.0, info={"pipeline": pipeline}, total_time_s=3.0, n_likelihood_evals=100,
                             wall_time_s=2.0, output_dir="out", converged=False, method="nautilus", quality={})
    with console.capture():
        print_result(result)
    text = " ".join(capsys.readouterr().err.split())
    assert "stage 3's theta_E floor of 0.5\" at lens_mass.0.theta_E:lower" in text, text
    assert ("sampling box at lens_mass.0.e1:upper after its widenings" in text) is sampler_converged, text
    assert ("max_widen" in text) is sampler_converged, text
    assert ("sampling box at lens_mass.0.e1:upper, as far as a search stopped before converging tells (the box is "
            "widened only once its search converges)" in text) is not sampler_converged, text
    assert ("its n_like_max or timeout was reached" in text) is not sampler_converged, text
    assert ("gives the same answer" in text) is sampler_converged, text


def test_the_closing_lines_are_not_broken_inside_a_path_in_a_log(capsys):
    """Without a terminal (a batch job's log) rich breaks lines at 80 columns: 'Results written to'
    came with the folder on the next line, cut in two where the columns ran out
    ('.../of_the_survey_of_2026_d' / 'ecember/...'), which could not be copied from the log."""
    from types import SimpleNamespace

    from tinylens.cli.common import console
    from tinylens.cli.fit import print_result

    folder = "/scratch/astro/" + "/".join(f"survey_2026_part_{i:02d}" for i in range(8)) + "/lens_J0912+4109"
    result = SimpleNamespace(median={"lens_mass.0.theta_E": 1.2}, interval_68={"lens_mass.0.theta_E": (1.1, 1.3)},
                             log_evidence=10.0, info={"resumed": True, "n_like_this_run": 12_000, "earlier_time_s": 95.0},
                             total_time_s=3000.0, n_likelihood_evals=1_234_567, wall_time_s=2000.0, output_dir=folder,
                             converged=True, method="nautilus",
                             quality={"flags": ["light_prior_edge", "unmodelled_flux"], "critical": []})
    assert not console.is_terminal
    print_result(result)
    lines = capsys.readouterr().out.splitlines()
    assert f"Results written to {folder}" in lines, lines
    assert any(line.startswith("log Z = 10.00; 1,234,567 likelihood evaluations") and line.endswith("3000.0 s).")
               for line in lines), lines
    assert any(line.startswith("Quality: trusted") and line.endswith("unmodelled_flux).") for line in lines), lines


def test_a_resumed_fits_closing_line_says_whose_calls_this_run_made(capsys):
    """The line read 'N likelihood evaluations (resumed from its checkpoint: M of them in this run)',
    but N holds the stages' calls and earlier boxes' runs too, M only the last sampler's calls in this
    process: M is now said to be the sampler's."""
    from types import SimpleNamespace

    from tinylens.cli.fit import print_result

    result = SimpleNamespace(median={"lens_mass.0.theta_E": 1.2}, interval_68={"lens_mass.0.theta_E": (1.1, 1.3)},
                             log_evidence=10.0, info={"resumed": True, "n_like_this_run": 12_000}, total_time_s=3.0,
                             n_likelihood_evals=1_234_567, wall_time_s=2.0, output_dir="out", converged=True,
                             method="nautilus", quality={})
    print_result(result)
    text = " ".join(capsys.readouterr().out.split())
    assert ("1,234,567 likelihood evaluations (resumed from its checkpoint: 12,000 by the sampler in this run) "
            "in 2.0 s") in text, text
    assert "of them" not in text


@pytest.mark.parametrize("folder", ["runs/J0912[v2]", "runs/a[/]b"])
def test_the_output_folder_is_printed_as_it_is_not_as_markup(capsys, folder):
    """'Results written to' read the folder as rich markup: 'runs/J0912[v2]' was printed
    'runs/J0912' (the '[v2]' taken for a style), and 'runs/a[/]b' ended a finished fit with a
    MarkupError traceback."""
    from types import SimpleNamespace

    from tinylens.cli.fit import print_result

    result = SimpleNamespace(median={"lens_mass.0.theta_E": 1.2}, interval_68={"lens_mass.0.theta_E": (1.1, 1.3)},
                             log_evidence=10.0, info={}, total_time_s=3.0, n_likelihood_evals=100, wall_time_s=2.0,
                             output_dir=folder, converged=True, method="nautilus", quality={})
    print_result(result)
    assert f"Results written to {folder}" in capsys.readouterr().out.splitlines()


def test_ctrl_c_while_the_results_print_does_not_say_nothing_was_written(tmp_path, data, monkeypatch):
    """A Ctrl-C once the fit had written result.json, its tables and figures, while its medians
    printed, ended with 'It was stopped while loading, before it wrote anything: run the same
    command again to fit' (which fits it all again); it now says the fit had finished."""
    from tinylens.cli import fit as fit_cli

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs",
                                        "settings": {"n_starts": 2, "n_draws": 128}}, data)
    monkeypatch.setattr(fit_cli, "medians_table", stop)
    code, out = invoke("fit", config, "--quiet")
    assert code == 130, out
    assert (tmp_path / "output" / "result.json").is_file()
    assert "before it wrote anything" not in out and "run the same command again" not in out, out
    assert out.endswith("Interrupted. It came as the command ended, once it had done everything: "
                        "there is nothing to run again."), out


def test_ctrl_c_inside_jaxs_garbage_collector_callback_while_sampling_stops_the_fit_once(tmp_path, data, monkeypatch,
                                                                                          python_sigint):
    """While a sampler runs, its KeptInterrupt stood in for the command line's SIGINT handler and
    raised a Ctrl-C inside JAX's garbage-collector callback itself, where Python printed it
    ("Exception ignored in: ... KeyboardInterrupt") before the next likelihood call stopped the
    fit. The command line's handler now raises it once the callback has returned: one line, exit
    code 130, nothing printed by Python."""
    import gc
    import signal
    import sys

    import numpy as np

    from tinylens.problem import Problem

    swallowed: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: swallowed.append(info.exc_value))
    calls, sent, original = {"n": 0}, [], Problem.log_likelihood

    def ctrl_c(phase, info):
        if phase == "start" and not sent:
            sent.append(1)
            signal.raise_signal(signal.SIGINT)  # handled at once, inside this callback

    def ctrl_c_later(self, theta):
        calls["n"] += len(np.atleast_2d(theta))
        if calls["n"] > 1000 and not sent:  # once the sampler has written its checkpoint
            gc.callbacks.append(ctrl_c)
            try:
                gc.collect()
            finally:
                gc.callbacks.remove(ctrl_c)
        return original(self, theta)

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "checkpoint_every": 0}}, data)
    monkeypatch.setattr(Problem, "log_likelihood", ctrl_c_later)
    code, out = invoke("fit", config, "--quiet")
    assert code == 130 and out.startswith("Interrupted.") and "The sampler's checkpoint is kept in" in out, out
    assert sent == [1] and swallowed == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_zero_width_interval_in_the_truth_table_says_why_it_has_no_pull():
    """fit --truth of a fit stopped long before it converged (its posterior on one sample): a
    parameter's 68 % interval of zero width (1.25 - 1.25) left its pull cell blank, with nothing
    saying why, beside pulls of the other parameters; the cell now holds '-' and a note under the
    table says the interval has zero width."""
    from types import SimpleNamespace

    from tinylens.cli.common import console
    from tinylens.cli.fit import truth_table

    names = ["lens_mass.0.theta_E", "lens_mass.0.e1"]
    result = SimpleNamespace(median={names[0]: 1.25, names[1]: 0.1},
                             interval_68={names[0]: (1.25, 1.25), names[1]: (0.05, 0.15)},
                             param_names=names, method="nautilus")
    with console.capture() as captured:
        console.print(truth_table(result, {names[0]: 1.2, names[1]: 0.0}))
    lines = captured.get().splitlines()
    pull = {name: next(line for line in lines if name in line).split("│")[-2].strip() for name in names}
    assert pull[names[0]] == "-", lines  # 1.25 - 1.25: no half-width to divide by
    assert float(pull[names[1]]) == pytest.approx((0.1 - 0.0) / 0.05, abs=0.05)  # +2.0, unchanged
    text = " ".join(captured.get().split())
    assert "zero width" in text and "converged" in text

    # a table whose every interval has a width says nothing of it
    result.interval_68[names[0]] = (1.2, 1.3)
    with console.capture() as captured:
        console.print(truth_table(result, {names[0]: 1.2, names[1]: 0.0}))
    assert "zero width" not in " ".join(captured.get().split())


@pytest.mark.parametrize("method, cap, small, larger", [("nautilus", "n_like_max", 1000, 1500),
                                                        ("dynesty", "maxcall", 300, 600)])
def test_running_a_capped_fit_again_at_the_same_cap_says_so_before_writing_anything(tmp_path, data, method, cap,
                                                                                    small, larger):
    """A fit stopped by its sampler's cap (nautilus's n_like_max, dynesty's maxcall), run again with
    the same cap, sampled nothing but wrote every output again (117 s with figures) and only then
    repeated its 'stopped before converging' warning, saying nothing at the start. It now says at
    once, before the outputs are written, that the checkpoint has nothing more to sample at this
    cap, naming the setting and its value, and how to go on (raise it, or --fresh); the result is
    kept as it was. With the cap raised the fit continues, unsaid."""
    import yaml

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": method,
                                        "settings": {**(FAST_NAUTILUS if method == "nautilus" else {}), cap: small}},
                             data)
    settings = yaml.safe_load(config.read_text())
    settings["pipeline"], settings["output"]["draw_figures"] = {"enabled": False}, "none"  # the sampler alone, quickly
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    code, out = invoke("fit", config, "--quiet")
    assert code == 0, out
    assert "already stopped at its sampler's cap" not in out  # nothing to say of a first run
    first = json.loads((tmp_path / "output" / "result.json").read_text())
    assert first["converged"] is False and first["n_likelihood_evals"] >= small

    code, out = invoke("fit", config)  # the progress lines: the one saying the outputs are written
    assert code == 0, out
    said = out.find("already stopped at its sampler's cap")
    assert said >= 0, out
    line = out[said:]
    assert f"inference.settings.{cap} = {small:,}" in line, line
    assert f"raise {cap} in the config" in line and "--fresh" in line, line
    assert said < out.index("writing result.json"), out  # before the outputs, not after them
    again = json.loads((tmp_path / "output" / "result.json").read_text())
    assert again["n_likelihood_evals"] == first["n_likelihood_evals"] and again["median"] == first["median"]

    settings["inference"]["settings"][cap] = larger
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    code, out = invoke("fit", config, "--quiet")
    assert code == 0, out
    assert "already stopped at its sampler's cap" not in out, out  # a raised cap samples on
    more = json.loads((tmp_path / "output" / "result.json").read_text())
    assert more["n_likelihood_evals"] >= larger > first["n_likelihood_evals"]


def test_a_capped_fit_of_a_tinylensgpu_sampling_section_run_again_names_its_cap_as_written(tmp_path, data):
    """A fit of TinyLensGpu's older ``sampling:`` section (read as inference: {type: sampler, method:
    its sampler, settings: its other keys}) stopped by its dynesty maxcall, run again at the same cap,
    was told it 'already stopped at its sampler's cap, inference.settings.maxcall = 300', a key the
    file does not hold; the warning names sampling.maxcall now, the key written, and the fit runs (exit 0)."""
    import yaml

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "dynesty", "settings": {"maxcall": 300}}, data)
    settings = yaml.safe_load(config.read_text())
    settings["pipeline"], settings["output"]["draw_figures"] = {"enabled": False}, "none"  # the sampler alone, quickly
    settings["sampling"] = {"sampler": "dynesty", **settings.pop("inference")["settings"]}
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    assert "inference" not in yaml.safe_load(config.read_text())  # the independent truth: the file holds sampling.maxcall
    code, out = invoke("fit", config, "--quiet")
    assert code == 0, out
    assert json.loads((tmp_path / "output" / "result.json").read_text())["converged"] is False

    code, out = invoke("fit", config)
    assert code == 0 and "Traceback" not in out, out
    said = out.find("already stopped at its sampler's cap")
    assert said >= 0, out
    assert "sampling.maxcall = 300" in out[said:], out[said:]
    assert "inference.settings" not in out, out


def test_a_capped_fit_switched_between_no_pipeline_and_the_pipeline_resumes_neither_checkpoint(tmp_path, data):
    """A capped fit run with --no-pipeline (the full priors), then without it in the same output
    folder (the pipeline's box), then with it again: the sampler's checkpoint of one is no start for
    the other. Each run says that the checkpoint there is another fit's and starts afresh, neither is
    told it already stopped at its cap (its result.json recorded that cap, the config is unchanged),
    result.json records the pipeline as that run had it, and the last run gives the first's
    result again (the same seed from the start, nothing resumed). That warning named 'other data,
    model, priors, precision or sampler settings than this config's' though the config was
    unchanged; it now says that the earlier fit ran with (or without) the pipeline's stages."""
    import yaml

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "n_like_max": 1000}}, data)
    settings = yaml.safe_load(config.read_text())
    settings["output"]["draw_figures"] = "none"
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    record = tmp_path / "output" / "result.json"
    runs = []
    for flags in (["--no-pipeline"], [], ["--no-pipeline"]):
        code, out = invoke("fit", config, "--quiet", *flags)
        assert code == 0, out
        assert "already stopped at its sampler's cap" not in out, out
        runs.append((json.loads(record.read_text()), out))
    for i, (result, out) in enumerate(runs):
        assert result["config"]["pipeline"]["enabled"] is (i == 1), result["config"]["pipeline"]
        assert result["converged"] is False and result["info"]["resumed"] is False, result["info"]
        assert result["info"]["n_like_this_run"] >= 1000  # sampled afresh up to the cap
        assert ("checkpoint.hdf5 in" in out and "of another fit" in out) is (i > 0), out
    # said as the user changed it: the flag, not data, model, priors or settings
    assert "the earlier fit here ran without the pipeline's stages (--no-pipeline" in runs[1][1], runs[1][1]
    assert "the earlier fit here ran with the pipeline's stages, this one without them" in runs[2][1], runs[2][1]
    assert "other data, model" not in runs[1][1] + runs[2][1]
    assert "stages" in runs[1][0]["info"]["pipeline"] and not runs[0][0]["info"].get("pipeline")
    assert runs[2][0]["median"] == runs[0][0]["median"]
    assert runs[2][0]["n_likelihood_evals"] == runs[0][0]["n_likelihood_evals"]


def test_a_fit_unconverged_only_for_its_box_edges_is_not_said_to_have_reached_its_cap(tmp_path):
    """A pipeline fit whose sampler converged (1,717 calls under an n_like_max of 200,000) but whose
    posterior still crowded the sampling box after its widenings (result.json: converged false,
    sampler_converged true) was, run again, told it had 'already stopped at its sampler's cap,
    inference.settings.n_like_max = 200,000' and to raise n_like_max, which changes nothing: the
    box's edges are what the fit says of it, its cap was never reached."""
    import numpy as np
    import yaml

    data = tiny_data()  # ten times the noise: a source size the data barely constrain
    data["image"] = data["image"] + np.random.default_rng(1).normal(0, 9 * data["noise"])
    data["noise"] = 10 * data["noise"]
    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "n_like_max": 200_000}}, data)
    settings = yaml.safe_load(config.read_text())
    # a box at its narrowest, never widened, which the posterior crowds; no figures, quickly
    settings["pipeline"], settings["output"]["draw_figures"] = {"n_sigma": 0.05, "max_widen": 0}, "none"
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    code, out = invoke("fit", config, "--quiet")
    assert code == 0, out
    first = json.loads((tmp_path / "output" / "result.json").read_text())
    pipeline = first["info"]["pipeline"]
    assert first["converged"] is False and pipeline["sampler_converged"] is True and pipeline["crowded_edges"], first
    assert first["n_likelihood_evals"] < 200_000  # the cap was never reached
    assert (tmp_path / "output" / "checkpoint.hdf5").is_file()  # kept, and resumed by the next run

    code, out = invoke("fit", config, "--quiet")
    assert code == 0, out
    assert "already stopped at its sampler's cap" not in out and "raise n_like_max" not in out, out
    assert "edge of the pipeline's sampling box" in out, out  # what is said of it, as before


def test_a_parameter_with_no_finite_sample_has_no_nan_pull_in_the_truth_table():
    """A free parameter whose samples are all non-finite (or weigh nothing) has a median and 68 %
    interval of NaN (tables.summarize), and fit --truth printed its pull as '+nan' beside the other
    pulls, with nothing saying why; the cell now holds '-' and a note under the table says the
    interval is not a number, while the other parameter's pull is as before."""
    from types import SimpleNamespace

    import numpy as np

    from tinylens.cli.common import console
    from tinylens.cli.fit import truth_table
    from tinylens.results.tables import summarize

    names = ["lens_mass.0.theta_E", "lens_mass.0.e1"]
    rng = np.random.default_rng(3)
    stats = summarize({names[0]: np.full(200, np.nan), names[1]: rng.normal(0.1, 0.05, 200)})
    result = SimpleNamespace(median={n: s["median"] for n, s in stats.items()},
                             interval_68={n: tuple(s["interval_68"]) for n, s in stats.items()},
                             param_names=names, method="nautilus")
    assert np.isnan(result.median[names[0]])  # what summarize gives such a parameter
    with console.capture() as captured:
        console.print(truth_table(result, {names[0]: 1.2, names[1]: 0.0}))
    lines = captured.get().splitlines()
    pull = {name: next(line for line in lines if name in line).split("│")[-2].strip() for name in names}
    assert pull[names[0]] == "-", lines
    lo, hi = result.interval_68[names[1]]
    assert float(pull[names[1]]) == pytest.approx(result.median[names[1]] / ((hi - lo) / 2), abs=0.05)
    text = " ".join(captured.get().split())
    assert "+nan" not in text and "not a number" in text and "zero width" not in text


def test_an_interval_ending_at_zero_or_a_tiny_negative_past_eight_places_reads_as_zero():
    """Past the 8 decimal places (a half-width under about 1e-7), tinylens fit's table wrote an
    interval ending at exactly 0 in two styles, '0.00000000 to 2.0e-09', and one ending a hair below
    it (-1e-12 beside a half-width of 1e-9) '-0.0000000000 to 2.0e-09', a negative zero in ten
    decimals; both ends now read 0 beside the other end's exponent, '0 to 2.0e-09', a median at 0
    '0 ± 1e-09', and a plain value that rounds to zero has no sign ('0.00', not '-0.00'); the
    figure's summary panel the same."""
    from tinylens.cli.fit import medians_table

    stats = {"source_light.0.e1": (1e-9, 0.0, 2e-9), "source_light.0.e2": (1.2e-9, -1e-12, 2e-9),
             "lens_mass.0.e1": (0.0, 0.0, 2e-9), "lens_mass.0.e2": (-0.001, -0.1, 0.1)}
    result = _sampled_result(stats)
    cells = _table_cells(medians_table(result))
    assert cells["source_light.0.e1"] == ["1.0e-09 ± 1e-09", "0 to 2.0e-09"], cells
    assert cells["source_light.0.e2"] == ["1.2e-09 ± 1e-09", "0 to 2.0e-09"], cells
    assert cells["lens_mass.0.e1"] == ["0 ± 1e-09", "0 to 2.0e-09"], cells
    assert cells["lens_mass.0.e2"] == ["0.00 ± 0.10", "-0.10 to 0.10"], cells
    panel = _sampled_panel(stats)
    assert "mass0.e1: 0 ± 1e-09" in panel and "mass0.e2: 0.00 ± 0.10" in panel, panel


def test_a_median_below_the_half_widths_second_figure_rounds_to_that_figure_not_its_own():
    """A value smaller than the half-width's second figure (6e-11 beside 5e-9, whose second figure
    is at 1e-10) holds none of its own figures: the table wrote 6e-11, a figure at 1e-11 that the
    interval does not carry (only 9.6e-11 came out as 1e-10); it is now the value rounded to that
    place, 1e-10 (or 0), as writing it in ten decimals gives."""
    from types import SimpleNamespace

    from tinylens.cli.fit import medians_table
    from tinylens.fitting.summary import _places, _shown

    half_width = 5e-9
    for value in (6e-11, -6e-11, 9.4e-11, -9.4e-11, 9.6e-11, 7.3e-11, 4e-11, -4e-11, 1e-12, 0.0):
        shown = _shown(value, _places(half_width), half_width)
        assert float(shown) == float(f"{value:.10f}"), (value, shown)  # rounded at 1e-10, the truth
        assert shown in ("0", "1e-10", "-1e-10"), (value, shown)
    result = SimpleNamespace(method="nautilus", median={"lens_mass.0.e1": 6e-11},
                             interval_68={"lens_mass.0.e1": (6e-11 - 5e-9, 6e-11 + 5e-9)})
    median = _table_cells(medians_table(result))["lens_mass.0.e1"][0]
    assert median.startswith("1e-10 ± "), median


def _table_cells(table) -> dict[str, list[str]]:
    """Each row of a rich ``table`` (rendered wide enough not to wrap), by its first cell."""
    from rich.console import Console

    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115 (closed below)
    console.print(table)
    console.file.close()
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in console.export_text().splitlines()]
    return {row[0]: row[1:] for row in rows if row and row[0]}


def _sampled_result(stats: dict[str, tuple[float, float, float]], **extra):
    """A stand-in for a nautilus fit's result with the (median, 68 % low, 68 % high) of ``stats``,
    as the medians and truth tables read it, and any ``extra`` attributes."""
    from types import SimpleNamespace

    return SimpleNamespace(method="nautilus", median={n: m for n, (m, _, _) in stats.items()},
                           interval_68={n: (lo, hi) for n, (_, lo, hi) in stats.items()}, **extra)


def _sampled_panel(stats: dict[str, tuple[float, float, float]]) -> list[str]:
    """The lines of the fit figure's summary panel for a nautilus fit with the (median, 68 % low,
    68 % high) of ``stats`` (no evidence, no quality flags)."""
    from types import SimpleNamespace

    from tinylens.fitting.summary import _summary_lines

    return _summary_lines(SimpleNamespace(method="nautilus", log_evidence=None, log_likelihood=np.zeros(2),
                                          n_likelihood_evals=1, wall_time_s=1.0, samples=np.zeros((2, 1))),
                          {n: {"median": m, "interval_68": [lo, hi]} for n, (m, lo, hi) in stats.items()},
                          {"flags": [], "critical": []})


def test_the_printed_medians_are_rounded_as_the_fit_figure_gives_them():
    """tinylens fit printed its medians and 68 % intervals with .5g while the fit figure's summary
    panel gives each median to two significant digits of its half-width: the demo's Einstein radius
    read 1.2505 (1.2502 - 1.2509) on the terminal and 1.25053 ± 0.00035 on the figure, a flux of
    10219.4 ± 0.5 read 10219. The table now gives the figure's median ± half-width, and the interval
    to the same places; result.json and result_summary.csv keep every digit as before."""
    from tinylens.cli.fit import medians_table

    stats = {"lens_mass.0.theta_E": (1.250529, 1.2501832, 1.2508872),  # the demo fit's result_summary.csv
             "lens_light.0.flux": (2696.594, 2687.2139, 2705.7627),
             "source_light.0.n_sersic": (1.1837517, 1.1730559, 1.1946413),
             "source_light.0.flux": (10219.4, 10218.9, 10219.9),
             "lens_mass.0.e1": (-0.031, -0.052, -0.0103)}
    result = _sampled_result(stats)
    cells = _table_cells(medians_table(result))
    assert cells["lens_mass.0.theta_E"] == ["1.25053 ± 0.00035", "1.25018 to 1.25089"], cells
    assert cells["lens_light.0.flux"] == ["2696.6 ± 9.3", "2687.2 to 2705.8"], cells
    assert cells["source_light.0.n_sersic"] == ["1.184 ± 0.011", "1.173 to 1.195"], cells
    assert cells["source_light.0.flux"] == ["10219.40 ± 0.50", "10218.90 to 10219.90"], cells
    assert cells["lens_mass.0.e1"] == ["-0.031 ± 0.021", "-0.052 to -0.010"], cells
    # the figure's summary panel gives the same numbers
    panel = _sampled_panel(stats)
    for name, (shown, _) in cells.items():
        if name in stats:
            assert any(line.endswith(f": {shown}") or f": {shown}\"" in line for line in panel), (shown, panel)


def test_the_truth_table_shows_the_fitted_numbers_the_medians_table_does():
    """fit --truth and tinylens demo print the fitted-vs-true table right after the medians: the
    medians table gave the demo's Einstein radius as 1.25053 ± 0.00035 (1.25018 to 1.25089) and
    the truth table, still .5g, as 1.2505 (1.2502 - 1.2509); a flux of 10219.40 ± 0.50 read 10219
    beside a truth of 10219. Both now give the same median and interval; the truth is shown as
    given (1.25, not 1.25000; to the median's places where it has that many) and the pull is
    computed from every digit, as before."""
    from tinylens.cli.fit import medians_table, truth_table

    stats = {"lens_mass.0.theta_E": (1.250529, 1.2501832, 1.2508872),  # the demo fit's result_summary.csv
             "lens_light.0.flux": (2696.594, 2687.2139, 2705.7627),
             "source_light.0.n_sersic": (1.1837517, 1.1730559, 1.1946413),
             "source_light.0.flux": (10219.4, 10218.9, 10219.9),
             "lens_mass.0.e1": (-0.031, -0.052, -0.0103)}
    truth = {"lens_mass.0.theta_E": 1.25, "lens_light.0.flux": 2700.0, "source_light.0.n_sersic": 1.2,
             "source_light.0.flux": 10219.43, "lens_mass.0.e1": 0.0}
    result = _sampled_result(stats, param_names=tuple(stats))
    medians, compared = _table_cells(medians_table(result)), _table_cells(truth_table(result, truth))
    for name in stats:
        (median_and_half, interval), (_, median, interval_again, _) = medians[name], compared[name]
        assert median_and_half.split(" ± ")[0] == median and interval == interval_again, (medians[name], compared[name])
    assert compared["lens_mass.0.theta_E"] == ["1.25", "1.25053", "1.25018 to 1.25089", "+1.5"]
    assert compared["lens_light.0.flux"] == ["2700", "2696.6", "2687.2 to 2705.8", "-0.4"]
    assert compared["source_light.0.n_sersic"] == ["1.2", "1.184", "1.173 to 1.195", "-1.5"]
    assert compared["source_light.0.flux"] == ["10219.43", "10219.40", "10218.90 to 10219.90", "-0.1"]
    assert compared["lens_mass.0.e1"] == ["0", "-0.031", "-0.052 to -0.010", "-1.5"]
    for name, (median, lo, hi) in stats.items():  # the pull from every digit, not from the rounded cells
        assert float(compared[name][3]) == pytest.approx((median - truth[name]) / ((hi - lo) / 2), abs=0.05)


def test_an_optimisers_best_fit_reads_the_same_on_the_terminal_the_figure_and_the_repr():
    """tinylens fit with lbfgs printed its best fit with .5g (a source flux of 10219.43 read 10219,
    an Einstein radius of 1.250529 read 1.2505) while the figure's summary panel gave four
    significant digits (1.022e+04 and 1.251) and the printed FitResult 1.251 with 68 % and
    99.7 % intervals of width zero (1.251 to 1.251). All three now give five significant digits in
    plain digits, and the repr no intervals."""
    from types import SimpleNamespace

    from tinylens.cli.fit import medians_table, truth_table
    from tinylens.fitting.summary import _summary_lines, result_lines

    best = {"lens_mass.0.theta_E": 1.250529, "source_light.0.flux": 10219.43, "lens_mass.0.e1": -0.0312347,
            "lens_light.0.flux": 123456.7}
    expected = {"lens_mass.0.theta_E": "1.2505", "source_light.0.flux": "10219", "lens_mass.0.e1": "-0.031235",
                "lens_light.0.flux": "123460"}
    result = SimpleNamespace(method="lbfgs", median=best, interval_68={n: (v, v) for n, v in best.items()},
                             interval_997={n: (v, v) for n, v in best.items()}, param_names=tuple(best),
                             config={}, output_dir="out", converged=True, info={}, n_likelihood_evals=10,
                             wall_time_s=1.0, log_evidence=None, max_log_likelihood=-5.0, quality={})
    assert {n: cells[0] for n, cells in _table_cells(medians_table(result)).items() if n in best} == expected
    truth = {"lens_mass.0.theta_E": 1.25, "source_light.0.flux": 10219.43, "lens_mass.0.e1": -0.03,
             "lens_light.0.flux": 123460.0}
    compared = _table_cells(truth_table(result, truth))
    assert {n: cells for n, cells in compared.items() if n in best} == {
        "lens_mass.0.theta_E": ["1.25", "1.2505"], "source_light.0.flux": ["10219", "10219"],
        "lens_mass.0.e1": ["-0.03", "-0.031235"], "lens_light.0.flux": ["123460", "123460"]}
    panel = _summary_lines(SimpleNamespace(method="lbfgs", log_evidence=None, log_likelihood=np.zeros(1),
                                           n_likelihood_evals=10, wall_time_s=1.0, samples=np.zeros((1, 4))),
                           {n: {"median": v, "interval_68": [v, v]} for n, v in best.items()},
                           {"flags": [], "critical": []})
    assert {'mass0.theta_E: 1.2505"', "src0.flux: 10219", "mass0.e1: -0.031235", "light0.flux: 123460"} <= set(panel), panel
    repr_line = next(line for line in result_lines(result) if "theta_E" in line)
    assert repr_line.split(" = ")[1].split()[0] == "1.2505" and "68 %" not in repr_line, repr_line


@pytest.mark.parametrize("value, places, expected", [
    (12345678.9, None, "1.2346e+07"), (9999999.7, None, "1e+07"), (1.23456789e-9, None, "1.2346e-09"),
    (123456.7, None, "123460"), (12345678.9, 0, "12345679"), (1.23456789e-9, 8, "1.2346e-09"),
    (10219.43, 2, "10219.43"), (1.25, 5, "1.25"), (-0.06, None, "-0.06"), (0.0123456, None, "0.012346")])
def test_a_true_value_far_from_one_is_written_as_plain_number_writes_it(value, places, expected):
    """fit --truth's true column wrote every digit of a truth near 1e7 (12345679, 10000000 for
    9999999.7) and every zero of one near 1e-9 (0.0000000012346) where plain_number, which writes
    the survey's tables, gives 1.2346e+07 and 1.2346e-09; it now writes them as plain_number does,
    to five significant digits or the places of the median beside it."""
    from tinylens.cli.fit import true_text

    assert true_text(value, places) == expected


@pytest.mark.parametrize("value, places", [(123456789.1, 8), (1234567890.12, 7), (-987654321.5, 8), (12345678.1, 8)])
def test_a_large_true_value_beside_a_narrow_median_is_written_with_its_own_digits(value, places):
    """A truth of 123456789.1 beside a median to eight places (a collapsed float64 posterior) was
    written to 17 significant digits, 123456789.09999999: the binary part of the float, not the
    value given. It is written with the digits it has, as Python writes the float."""
    from tinylens.cli.fit import true_text

    text = true_text(value, places)
    assert text == repr(value) and float(text) == value


def test_a_fit_stopped_in_stage_3_keeps_and_resumes_what_its_stages_did(tmp_path, data, monkeypatch):
    """Stopped by Ctrl-C in the pipeline's stage 3, a fit had saved nothing: the hint said no
    checkpoint had been written, and the fit started again did stages 1-3 from the beginning. It
    now keeps stages 1-2 and the starts of stage 3 that ended, says so, and takes them up with no
    warning that a checkpoint is of another fit."""
    import warnings

    import tinylens
    from tinylens import filenames
    from tinylens.errors import CheckpointWarning
    from tinylens.inference import resumed_checkpoints
    from tinylens.pipeline.optimize import Objective

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "checkpoint_every": 0}}, data)
    made, real = [], Objective.minimize

    def stopped_at_the_third(self, *args, **kwargs):
        if len(made) == 2:
            raise KeyboardInterrupt
        made.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Objective, "minimize", stopped_at_the_third)
    code, out = invoke("fit", config)
    said = " ".join(out.split())
    assert code == 130 and "What the pipeline's stages 1-3 had done is kept in" in said, said
    folder = tmp_path / "output"
    assert len(json.loads((folder / filenames.PIPELINE_STATE).read_text())["partial"]["fits"]) == 2
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)
        assert resumed_checkpoints(tinylens.load(config), folder) == [filenames.PIPELINE_STATE]
        code, out = invoke("fit", config)
    said = " ".join(out.split())
    assert code == 0 and "stages 1-2 and 2 starts of stage 3 reused from checkpoint.pipeline.json" in said, said
    stored = json.loads((folder / "result.json").read_text())["info"]["pipeline"]
    assert stored["resumed_stages_partly"] == {"stages_done": 2, "stage3_starts": 2}
    assert not (folder / filenames.PIPELINE_STATE).exists()  # a converged fit deletes it, as before


def _fit_beside_an_undeletable_checkpoint(tmp_path, settings: dict, *args: str,
                                           stale_state: str | None = None) -> tuple[int, str, Path, Path, Path]:
    """``tinylens fit --quiet`` (with ``args``) of the tiny lens with the nautilus ``settings``,
    whose output folder holds another fit's checkpoint.hdf5 and fingerprint that the system
    refuses to delete (a fake: refuse_unlink), and ``stale_state`` as its checkpoint.pipeline.json
    where given: the exit code, what it said, the config, the output folder and the checkpoint."""
    from tiny_lens import refuse_unlink

    config = write_tiny_lens(tmp_path / "lens", {"type": "sampler", "method": "nautilus", "settings": settings})
    out = tmp_path / "lens" / "output"
    out.mkdir()
    refused = out / "checkpoint.hdf5"
    refused.write_bytes(b"another fit's checkpoint")
    (out / "checkpoint.hdf5.fingerprint").write_text("another fit's fingerprint\n")
    if stale_state is not None:
        (out / "checkpoint.pipeline.json").write_text(stale_state)
    with pytest.MonkeyPatch.context() as patch:
        refuse_unlink(patch, refused)
        code, said = invoke("fit", config, "--quiet", *args)
    return code, said, config, out, refused


def test_a_checkpoint_the_system_will_not_delete_after_the_stages_is_said_by_name_without_a_traceback(tmp_path, data):
    """An earlier fit's checkpoint that this fit does not resume, whose deletion the system refuses
    for a reason no check before the search can foresee (a file marked immutable, a root-squashing
    NFS: refused here by a fake), stopped the fit after the pipeline stages (22 s for the tiny lens,
    minutes for a real one) with the generic permission message, which neither said the file was a
    checkpoint the fit deletes nor what was kept. It is now an OutputError naming the file, saying
    nothing is sampled, that it and the stages' results are kept, and what to do; exit code 2, no
    traceback."""
    code, said, _, out, refused = _fit_beside_an_undeletable_checkpoint(tmp_path, FAST_NAUTILUS)
    assert code == 2, said
    assert (f"Error: Output folder {out}: checkpoint.hdf5, a checkpoint this fit does not resume (another fit's, or "
            "resume: false), cannot be deleted (Operation not permitted)") in said, said
    assert "so nothing is sampled" in said and "marked immutable" in said, said
    assert "Kept: checkpoint.hdf5 as it was, and the pipeline stages' results in checkpoint.pipeline.json" in said, said
    assert f"ls -l {refused}" in said and "output.path" in said, said
    assert refused.read_bytes() == b"another fit's checkpoint"
    assert (out / "checkpoint.pipeline.json").is_file() and not (out / "result.json").exists()


def test_a_fit_run_again_on_a_stages_state_of_another_version_warns_and_fits(tmp_path, data, monkeypatch):
    """tinylens fit run again where a stopped fit's checkpoint.pipeline.json records another tinylens
    version (its 'version' set to 0.0.9 after a capped fit of the tiny lens) stopped at once with a
    NameError traceback ('problem' is not defined, in the checkpoints' warning), exit 1, nothing
    fitted: the warning's signature and its one caller came from two commits that met in one tree.
    It now says the state was written by tinylens 0.0.9 and not taken up, and the fit goes on, its
    stages done again and the state rewritten with this version."""
    import tinylens

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "n_like_max": 1000}}, data)
    code, _ = invoke("fit", config, "--quiet")
    state = tmp_path / "output" / "checkpoint.pipeline.json"
    written = json.loads(state.read_text())
    assert code == 0 and written["version"] == tinylens.__version__  # capped: the checkpoints are kept
    state.write_text(json.dumps({**written, "version": "0.0.9"}))

    code, out = invoke("fit", config, "--quiet")
    assert code == 0, out
    assert "checkpoint.pipeline.json was written by tinylens 0.0.9, and this is tinylens " \
           f"{tinylens.__version__}" in out, out
    assert json.loads(state.read_text())["version"] == tinylens.__version__
    assert json.loads((tmp_path / "output" / "result.json").read_text())["n_likelihood_evals"] >= 1000


def test_a_checkpoint_the_system_will_not_delete_under_resume_false_does_not_promise_the_stages_reused(tmp_path, data):
    """With ``resume: false`` a fit run again does the pipeline stages again (its sampler resumes
    nothing, the stages' state neither), so the error of a checkpoint the system will not delete
    must not say that a rerun of this config reuses the stages' results, as it did: the rerun
    here, once the file may go, reports no stages reused."""
    import warnings

    import tinylens

    code, said, config, _, refused = _fit_beside_an_undeletable_checkpoint(tmp_path, {**FAST_NAUTILUS, "resume": False})
    assert code == 2, said
    assert "Kept: checkpoint.hdf5 as it was, and the pipeline stages' results in checkpoint.pipeline.json" in said, said
    assert "run again reuses" not in said and "does the stages again" in said, said
    refused.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checkpoint's and the stages' CheckpointWarnings, not what is asserted
        rerun = tinylens.fit(config, progress=False)
    assert not rerun.info["pipeline"]["resumed_stages"]  # the stages were done again, not reused


def test_a_checkpoint_the_system_will_not_delete_in_a_fit_without_the_pipeline_claims_no_stages_of_its_own(tmp_path, data):
    """A fit run with --no-pipeline does no stages, so a checkpoint.pipeline.json beside the
    checkpoint it may not delete is another fit's stale state (here of another fingerprint), which
    the error said was 'the pipeline stages' results ..., which a fit of this config run again
    reuses'. It now says only that the checkpoint is kept, and leaves that file as it was."""
    code, said, _, out, refused = _fit_beside_an_undeletable_checkpoint(
        tmp_path, FAST_NAUTILUS, "--no-pipeline", stale_state='{"fingerprint": "another fit\'s"}')
    stale = out / "checkpoint.pipeline.json"
    assert code == 2, said
    assert f"Error: Output folder {out}: checkpoint.hdf5, a checkpoint this fit does not resume" in said, said
    assert "Kept: checkpoint.hdf5 as it was. Delete checkpoint.hdf5" in said, said
    assert "stages" not in said.split("Kept:")[1], said
    assert stale.read_text() == '{"fingerprint": "another fit\'s"}' and refused.read_bytes() == b"another fit's checkpoint"


@pytest.mark.parametrize("code", [errno.EIO, errno.ESTALE])
def test_a_failing_disk_under_a_fits_outputs_is_said_naming_the_file_and_the_fit_resumes(tmp_path, data, monkeypatch,
                                                                                          code):
    """The disk failing (EIO) or NFS losing the folder (ESTALE) as the fit renamed its summary table
    into place, after the search, ended in OSError's traceback and exit code 1; it is one
    paragraph naming the output folder and the file, the system's reason, that nothing is
    half-written and the checkpoints are kept, what to check (dmesg) and that the fit run again
    resumes, exit 2; the same command run again resumes the search (no sampling again) and writes it."""
    from tinylens import filenames

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "n_like_max": 1000}}, data)
    out = tmp_path / "output"
    replace = os.replace

    def failing(src, dst, *args, **kwargs):
        if os.path.basename(dst) == "result_summary.csv":
            raise OSError(code, os.strerror(code), str(src), None, str(dst))
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing)
    exit_code, said = invoke("fit", config, "--quiet")
    monkeypatch.undo()
    assert exit_code == 2, said
    assert said.startswith(f"Error: {out / 'result_summary.csv'} cannot be written ({os.strerror(code)}: "), said
    assert "no result is left half-written" in said and "checkpoints written before are kept" in said, said
    assert "dmesg" in said and "run the fit again to resume it" in said, said
    assert not (out / filenames.RESULT).exists() and (out / filenames.CHECKPOINTS["nautilus"]).is_file()
    assert not [p.name for p in out.iterdir() if ".unfinished-" in p.name]
    exit_code, said = invoke("fit", config, "--quiet")
    again = json.loads((out / filenames.RESULT).read_text())
    assert exit_code == 0 and again["info"]["resumed"] is True and again["info"]["n_like_this_run"] == 0, said
