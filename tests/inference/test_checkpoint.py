"""A nautilus fit that stops (a likelihood-call cap, or Ctrl-C) resumes from its checkpoint when
started again; a changed config (priors, sampler settings, data) starts afresh; a job killed
while writing leaves the previous checkpoint whole, and one that cannot be read is replaced."""

from __future__ import annotations

import copy
import dataclasses
import errno
import functools
import json
import os
import re
import shutil
import time
import warnings
from pathlib import Path

import h5py
import nautilus
import numpy as np
import pytest
import yaml

import tinylens
from tinylens import filenames
from tiny_lens import FAST_NAUTILUS, FREE_TRUTH, tiny_config, tiny_data, write_tiny_lens
from tinylens.errors import CheckpointWarning
from tinylens.inference import dynesty_runner, nautilus_runner, run_inference
from tinylens.problem import Problem
from tinylens.results.tables import summarize

CAP = 1500  # likelihood calls of the first, interrupted run: a fraction of a full one
SMALL_CAP = 512  # enough for a checkpoint with a few bounds


@pytest.fixture(scope="module")
def data():
    return tiny_data()


@pytest.fixture(scope="module")
def fresh_calls(tmp_path_factory, data) -> int:
    """Likelihood calls of the same search run once without interruption (no checkpoint)."""
    config = write_tiny_lens(tmp_path_factory.mktemp("fresh"), None, data)
    res = run_inference(tinylens.load(config), progress=False)
    assert res.converged
    return res.n_likelihood_evals


def _inference(**extra) -> dict:
    return {"type": "sampler", "method": "nautilus", "settings": {**FAST_NAUTILUS, **extra}}


def _set_settings(config_path, **settings) -> None:
    """Rewrite the config's inference settings (the data and model stay the same)."""
    cfg = yaml.safe_load(config_path.read_text())
    cfg["inference"]["settings"] = settings
    config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _check_posterior(result) -> None:
    for name, true in FREE_TRUTH.items():
        lo, hi = result.interval_997[name]
        assert lo <= true <= hi, (name, true, lo, hi)


def test_capped_fit_keeps_checkpoint_and_resumes(tmp_path, data, fresh_calls):
    config = write_tiny_lens(tmp_path, _inference(n_like_max=CAP), data)
    out = tmp_path / "output"
    first = tinylens.fit(config, progress=False)
    assert not first.converged and not first.info["resumed"]
    assert CAP <= first.n_likelihood_evals < fresh_calls
    assert (out / filenames.CHECKPOINTS["nautilus"]).is_file()  # an unfinished search keeps its checkpoint
    stored = json.loads((out / filenames.RESULT).read_text())
    assert stored["converged"] is False
    assert stored["info"]["checkpoint"] == str(out / filenames.CHECKPOINTS["nautilus"])  # kept, and named

    _set_settings(config, **FAST_NAUTILUS)  # run it again without the cap
    second = tinylens.fit(config, progress=False)
    assert second.info["resumed"] and second.converged
    assert second.info["n_like_this_run"] == second.n_likelihood_evals - first.n_likelihood_evals
    assert second.info["n_like_this_run"] < fresh_calls - CAP // 2
    # its time includes the first run's, up to that run's checkpoint
    assert 0.5 * first.wall_time_s <= second.info["earlier_time_s"] <= first.wall_time_s
    assert second.total_time_s > second.wall_time_s > second.info["earlier_time_s"]
    _check_posterior(second)
    assert not (out / filenames.CHECKPOINTS["nautilus"]).exists()  # a converged fit removes it, and the others
    assert [name for name in filenames.checkpoint_names() if (out / name).exists()] == []
    stored = json.loads((out / filenames.RESULT).read_text())
    assert stored["info"]["resumed"] is True
    assert stored["info"]["checkpoint"] is None and second.info["checkpoint"] is None  # deleted: not named


def test_interrupted_fit_resumes(tmp_path, data, fresh_calls, monkeypatch):
    """Ctrl-C in the middle of sampling: no result.json, the checkpoint stays and is resumed.
    (``checkpoint_every: 0``: written wherever nautilus writes, so that the tiny fit's checkpoint
    is recent; the default, 60 s, is longer than the whole fit.)"""
    config = write_tiny_lens(tmp_path, _inference(checkpoint_every=0), data)
    out = tmp_path / "output"
    calls = {"n": 0}
    original = Problem.log_likelihood

    def interrupting(self, theta):
        calls["n"] += len(np.atleast_2d(theta))
        if calls["n"] > CAP:
            raise KeyboardInterrupt
        return original(self, theta)

    monkeypatch.setattr(Problem, "log_likelihood", interrupting)
    with pytest.raises(KeyboardInterrupt):
        tinylens.fit(config, progress=False)
    monkeypatch.undo()
    assert (out / filenames.CHECKPOINTS["nautilus"]).is_file()
    assert not (out / filenames.RESULT).exists()
    left = [p.name for p in out.iterdir() if p.suffix in (".png", ".csv", ".json")]
    assert left in ([], ["checkpoint.pipeline.json"]), left  # nothing that looks like a result

    resumed = tinylens.fit(config, progress=False)
    assert resumed.info["resumed"] and resumed.converged
    assert CAP // 2 < resumed.n_likelihood_evals - resumed.info["n_like_this_run"] <= CAP
    assert resumed.info["n_like_this_run"] < fresh_calls - CAP // 2
    _check_posterior(resumed)


def _change_prior(cfg: dict, data: dict) -> None:
    cfg["model_components"]["lens_mass_list"][0]["params"]["theta_E"]["prior_settings"] = [0.6, 1.4]


def _change_sampler(cfg: dict, data: dict) -> None:
    cfg["inference"]["settings"]["nlive"] = 120


def _change_data(cfg: dict, data: dict) -> None:
    data["image"] = data["image"] + np.random.default_rng(9).normal(0, 0.01, data["image"].shape)


def _change_supersampling(cfg: dict, data: dict) -> None:
    cfg["dataset"] = {"supersampling": {"mode": "adaptive"}}  # the tiny lens's nsub: 2 unchanged


def _change_fixed_value(cfg: dict, data: dict) -> None:
    cfg["model_components"]["source_light_list"][0]["params"]["n_sersic"]["fixed_value"] = 2.0  # same free parameters


def _change_profile(cfg: dict, data: dict) -> None:
    mass = cfg["model_components"]["lens_mass_list"][0]
    mass["type"], mass["params"]["gamma"] = "EPL", {"fixed": True, "fixed_value": 2.2}  # same free parameters


@pytest.mark.parametrize("change", [_change_prior, _change_sampler, _change_data, _change_supersampling,
                                    _change_fixed_value, _change_profile],
                         ids=["prior", "sampler", "data", "supersampling", "fixed value", "profile"])
def test_changed_config_starts_fresh(tmp_path, data, change):
    """The runner resumes only the same data, supersampling, model, priors and sampler settings."""

    def run(cfg: dict, arrays: dict):
        folder = tmp_path / "lens"
        write_tiny_lens(folder, cfg["inference"], arrays)
        config = tiny_config(cfg["inference"])
        config["model_components"] = cfg["model_components"]
        config["dataset"].update(cfg.get("dataset", {}))
        for key in ("data_path", "noise_path", "psf_path"):
            config["dataset"][key] = str(folder / config["dataset"][key])
        problem = tinylens.load(config)
        return nautilus_runner.run(problem, dict(config["inference"]["settings"]), progress=False, checkpoint_dir=tmp_path)

    cfg, arrays = tiny_config(_inference(n_like_max=SMALL_CAP)), dict(data)
    first = run(cfg, arrays)
    assert (tmp_path / filenames.CHECKPOINTS["nautilus"]).is_file() and not first.converged
    same = run(cfg, arrays)  # the same problem resumes (and is already at its cap)
    assert same.info["resumed"] and same.info["n_like_this_run"] == 0

    change(cfg, arrays)
    cfg["inference"]["settings"]["n_like_max"] = 2 * SMALL_CAP
    second = run(cfg, arrays)
    assert not second.info["resumed"]
    assert second.info["n_like_this_run"] == second.n_likelihood_evals >= 2 * SMALL_CAP


def _problem(folder, data, method: str = "nautilus", **settings):
    """The tiny lens loaded with ``method`` and ``settings`` (the runners are called directly)."""
    base = FAST_NAUTILUS if method == "nautilus" else {"nlive": 60, "sample": "unif", "seed": 1}
    config = write_tiny_lens(folder, {"type": "sampler", "method": method, "settings": {**base, **settings}}, data)
    return tinylens.load(config)


def _run(problem, folder, runner=nautilus_runner):
    return runner.run(problem, dict(problem.config.inference.settings), progress=False, checkpoint_dir=folder)


def _stored_calls(path) -> int:
    with h5py.File(path, "r") as f:
        return int(f["sampler"].attrs["n_like"])


def test_checkpoint_is_written_at_most_every_interval(tmp_path, data, monkeypatch):
    """nautilus would rewrite the file after every batch; with ``checkpoint_every`` longer than
    the run it is written at the first batch and once when the run returns, with the last state."""
    writes = {"n": 0}
    original = nautilus.Sampler.write

    def counted(self, filepath, overwrite=False):
        writes["n"] += 1
        return original(self, filepath, overwrite=overwrite)

    monkeypatch.setattr(nautilus.Sampler, "write", counted)
    every_time = _run(_problem(tmp_path / "a", data, n_like_max=SMALL_CAP, checkpoint_every=0), tmp_path / "a")
    n_every_time = writes["n"]
    assert n_every_time >= 4  # one per batch: nautilus's own rhythm

    writes["n"] = 0
    rare = _run(_problem(tmp_path / "b", data, n_like_max=SMALL_CAP, checkpoint_every=1e6), tmp_path / "b")
    assert writes["n"] == 2
    assert _stored_calls(tmp_path / "b" / filenames.CHECKPOINTS["nautilus"]) == rare.n_likelihood_evals  # flushed at the end
    np.testing.assert_array_equal(rare.samples, every_time.samples)  # writing never changes the sampling
    assert rare.info["settings"]["checkpoint_every"] == 1e6


def test_a_job_killed_while_writing_leaves_the_previous_checkpoint(tmp_path, data, monkeypatch):
    problem = _problem(tmp_path, data, n_like_max=SMALL_CAP, checkpoint_every=0)
    _run(problem, tmp_path)
    path = tmp_path / filenames.CHECKPOINTS["nautilus"]
    before = _stored_calls(path)
    original = nautilus.Sampler.write

    def killed_halfway(self, filepath, overwrite=False):
        original(self, filepath, overwrite=overwrite)
        with open(filepath, "r+b") as f:  # what a kill in the middle of writing leaves
            f.truncate(f.seek(0, 2) // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(nautilus.Sampler, "write", killed_halfway)
    more = _problem(tmp_path, data, n_like_max=2 * SMALL_CAP, checkpoint_every=0)
    with pytest.raises(KeyboardInterrupt):
        _run(more, tmp_path)
    monkeypatch.undo()
    assert _stored_calls(path) == before  # whole, and the one written before
    assert not list(tmp_path.glob(".checkpoint-*"))  # no half-written file beside it
    resumed = _run(more, tmp_path)
    assert resumed.info["resumed"] and resumed.n_likelihood_evals - resumed.info["n_like_this_run"] == before


@pytest.mark.parametrize("method", ["nautilus", "dynesty"])
def test_an_unreadable_checkpoint_is_replaced(tmp_path, data, method):
    """A checkpoint cut short (a full disk, or a job killed while an older version wrote it)
    gives a warning that names it, and the sampling starts again instead of a traceback."""
    runner = {"nautilus": nautilus_runner, "dynesty": dynesty_runner}[method]
    cap = {"n_like_max": SMALL_CAP} if method == "nautilus" else {"maxcall": 300}
    problem = _problem(tmp_path, data, method, checkpoint_every=0, **cap)
    first = _run(problem, tmp_path, runner)
    path = tmp_path / filenames.CHECKPOINTS[method]
    assert path.is_file()
    with open(path, "r+b") as f:
        f.truncate(f.seek(0, 2) // 2)

    with pytest.warns(CheckpointWarning, match=rf"checkpoint {path} could not be read .*starts again"):
        again = _run(problem, tmp_path, runner)
    assert not again.info["resumed"]
    assert again.info["n_like_this_run"] == again.n_likelihood_evals >= first.n_likelihood_evals * 0.9
    assert path.is_file()


def test_a_capped_dynesty_run_is_not_converged_and_resumes(tmp_path, data):
    """dynesty stopped by ``maxcall`` before its dlogz criterion reports ``converged: false`` (so
    tinylens.fit keeps its checkpoint), and the same problem without the cap continues it."""
    capped = _run(_problem(tmp_path, data, "dynesty", maxcall=300, checkpoint_every=0), tmp_path, dynesty_runner)
    assert not capped.converged
    full = _run(_problem(tmp_path, data, "dynesty", checkpoint_every=0), tmp_path, dynesty_runner)
    assert full.converged and full.info["resumed"]
    assert 0 < full.info["n_like_this_run"] < full.n_likelihood_evals
    # the checkpoint recorded the capped run's sampling time, which the resumed run counts
    assert capped.info["earlier_time_s"] == 0.0
    assert 0.5 * capped.wall_time_s <= full.info["earlier_time_s"] <= capped.wall_time_s < full.wall_time_s
    stats = summarize(dict(zip(full.param_names, full.samples.T)), full.weights)
    for name, true in FREE_TRUTH.items():
        lo, hi = stats[name]["interval_997"]
        assert lo <= true <= hi, (name, true, lo, hi)


def test_a_dynesty_run_records_the_limit_that_stopped_it(tmp_path, data):
    """The warning of an unconverged dynesty fit said "maxcall or maxiter" whichever stopped it:
    its run now records the one (info.stopped_by), a resumed run's counted over the whole fit as
    the limits are, and none where dynesty stopped on its own criterion."""
    calls = _run(_problem(tmp_path / "calls", data, "dynesty", maxcall=300, checkpoint_every=0), tmp_path / "calls",
                 dynesty_runner)
    assert not calls.converged and calls.info["stopped_by"] == "maxcall"
    iterations = _run(_problem(tmp_path / "iterations", data, "dynesty", maxiter=30, checkpoint_every=0),
                      tmp_path / "iterations", dynesty_runner)
    assert not iterations.converged and iterations.info["stopped_by"] == "maxiter"
    assert len(iterations.samples) == 31 + iterations.info["settings"]["nlive"]  # dynesty stops past maxiter
    resumed = _run(_problem(tmp_path / "iterations", data, "dynesty", maxiter=60, checkpoint_every=0),
                   tmp_path / "iterations", dynesty_runner)
    assert resumed.info["resumed"] and resumed.info["stopped_by"] == "maxiter"
    full = _run(_problem(tmp_path / "iterations", data, "dynesty", checkpoint_every=0), tmp_path / "iterations",
                dynesty_runner)
    assert full.converged and full.info["stopped_by"] is None


def test_dynesty_maxcall_counts_its_first_live_points(tmp_path, data):
    """dynesty's own maxcall counts from its first iteration, leaving out its first nlive live
    points, which the first-live-point watch counts against maxcall: with nlive 60, batch_size 8
    and maxcall 300 dynesty counted 372 calls (info.dynesty_ncall), and 662 once resumed with maxcall 600.
    maxcall now counts every call dynesty counts, the first live points' included, as nautilus's
    n_like_max counts its first points: a run stops within one iteration's proposals of it."""
    settings = {"queue_size": 8, "checkpoint_every": 0}
    first = _run(_problem(tmp_path, data, "dynesty", maxcall=300, **settings), tmp_path, dynesty_runner)
    assert first.info["stopped_by"] == "maxcall" and first.info["dynesty_ncall"] - 300 in range(1, 30)
    resumed = _run(_problem(tmp_path, data, "dynesty", maxcall=600, **settings), tmp_path, dynesty_runner)
    assert resumed.info["resumed"] and resumed.info["stopped_by"] == "maxcall"
    assert resumed.info["dynesty_ncall"] - 600 in range(1, 30)


def _dynesty_on(folder, data, log_likelihood, **settings):
    """dynesty's run on the tiny lens's priors with ``log_likelihood`` in place of the lens's."""
    problem = _problem(folder, data, "dynesty", checkpoint_every=0, **settings)
    problem.log_likelihood = log_likelihood
    return _run(problem, folder, dynesty_runner)


def test_a_dynesty_run_stopped_by_a_plateau_or_logl_max_records_it(tmp_path, data):
    """dynesty stops where its live points all have one log L (a plateau, its normal end: run again,
    it stops there at once) or where its log L bound passes logl_max; both were recorded as
    unconverged without a stopped_by, and the warning named maxcall or maxiter. A plateau now ends a
    converged fit (its evidence that of the step likelihood), logl_max is recorded and named in the
    warning, and the run resumed without it goes on to its dlogz criterion."""
    from tinylens.fitting.summary import stopping_limit, unconverged_message

    theta_e = FREE_TRUTH["lens_mass.0.theta_E"]  # its prior is uniform on [theta_e - 0.5, theta_e + 0.5]
    step = lambda theta: np.where(np.abs(np.atleast_2d(theta)[:, 0] - theta_e) < 0.05, 0.0, -10.0)
    with pytest.warns(UserWarning, match="plateau"):  # dynesty's own
        plateau = _dynesty_on(tmp_path / "plateau", data, step)
    assert plateau.converged and plateau.info["stopped_by"] == "plateau"
    assert abs(plateau.log_evidence - np.log(0.1 + 0.9 * np.exp(-10.0))) < 3 * plateau.info["log_evidence_err"]
    inside = np.abs(plateau.samples[:, 0] - theta_e) < 0.05
    assert np.sum(plateau.weights[inside]) > 0.99

    sigma = 0.05
    gauss = lambda theta: -0.5 * ((np.atleast_2d(theta)[:, 0] - theta_e) / sigma) ** 2
    capped = _dynesty_on(tmp_path / "top", data, gauss, logl_max=-2.0)
    assert not capped.converged and capped.info["stopped_by"] == "logl_max"
    assert stopping_limit(capped) == "logl_max"
    assert "(its logl_max was reached)" in unconverged_message("dynesty", limit=stopping_limit(capped))
    full = _dynesty_on(tmp_path / "top", data, gauss)
    assert full.info["resumed"] and full.converged and full.info["stopped_by"] is None
    assert abs(full.log_evidence - np.log(sigma * np.sqrt(2 * np.pi))) < 3 * full.info["log_evidence_err"]


def test_a_resumed_dynesty_run_still_batches_its_likelihood_calls(tmp_path, data, monkeypatch):
    """The restored sampler's likelihood and its new pool must share one batcher: with two, the
    pool's waiting proposals were never seen by the likelihood, and every point was evaluated
    alone (a resumed fit ran several times slower than a fresh one)."""
    batches: list[int] = []
    original = Problem.log_likelihood

    def counted(self, theta):
        batches.append(len(np.atleast_2d(theta)))
        return original(self, theta)

    monkeypatch.setattr(Problem, "log_likelihood", counted)
    fresh = _run(_problem(tmp_path, data, "dynesty", maxcall=1500, checkpoint_every=0), tmp_path, dynesty_runner)
    fresh_per_call = fresh.info["n_like_this_run"] / len(batches)
    batches.clear()
    resumed = _run(_problem(tmp_path, data, "dynesty", maxcall=3000, checkpoint_every=0), tmp_path, dynesty_runner)
    assert resumed.info["resumed"] and resumed.info["n_like_this_run"] > 1000
    assert fresh_per_call > 4
    assert resumed.info["n_like_this_run"] / len(batches) > fresh_per_call / 2, (fresh_per_call, len(batches))


def test_a_resumed_run_reports_the_sampling_time_of_all_runs(tmp_path, data):
    """Each checkpoint records the seconds of sampling behind its state; a run resumed from it
    adds them to its own, so a fit stopped and resumed (a SLURM time limit) reports its whole cost."""
    first = _run(_problem(tmp_path, data, n_like_max=SMALL_CAP, checkpoint_every=0), tmp_path)
    path = tmp_path / filenames.CHECKPOINTS["nautilus"]
    recorded = nautilus_runner.sampling_time_in(path)
    assert first.info["earlier_time_s"] == 0.0
    assert 0.5 * first.wall_time_s <= recorded <= first.wall_time_s  # written at the end, before the clock stopped
    with h5py.File(path, "r+") as f:  # as if the stopped run had sampled for 1000 s
        f.attrs[nautilus_runner.SAMPLING_TIME_ATTR] = 1000.0
    started = time.perf_counter()
    second = _run(_problem(tmp_path, data, n_like_max=2 * SMALL_CAP, checkpoint_every=0), tmp_path)
    here = time.perf_counter() - started
    assert second.info["resumed"] and second.info["earlier_time_s"] == 1000.0
    assert 1000.0 < second.wall_time_s < 1000.0 + here
    assert second.wall_time_s - 0.5 * here <= nautilus_runner.sampling_time_in(path) <= second.wall_time_s
    assert nautilus_runner.sampling_time_in(tmp_path / "missing.hdf5") == 0.0


@pytest.mark.parametrize("recorded", [1e308, float("inf"), float("nan"), -5.0, "text"])
def test_a_checkpoints_sampling_time_that_no_fit_took_is_not_carried_into_the_fits(tmp_path, recorded):
    """A checkpoint's seconds of sampling, edited to 1e308 (or anything beyond the ~32 years a
    pipeline state may record, MAX_STATE_SECONDS), became the resumed fit's wall_time_s, and the
    pipeline state that stores it was refused when the fit was next loaded; nautilus's attribute
    and dynesty's pickled clock (which took NaN and negative numbers too) read as 0 beyond it,
    and a time within it is read as it is."""
    import pickle
    from types import SimpleNamespace

    from tinylens.inference.common import SamplingClock
    from tinylens.pipeline.run import MAX_STATE_SECONDS

    path = tmp_path / "checkpoint.hdf5"
    cases = ((recorded, 0.0), (1.5 * MAX_STATE_SECONDS, 0.0), (1000.0, 1000.0), (MAX_STATE_SECONDS, MAX_STATE_SECONDS))
    for value, expected in cases:
        with h5py.File(path, "w") as f:
            f.attrs[nautilus_runner.SAMPLING_TIME_ATTR] = value
        assert nautilus_runner.sampling_time_in(path) == expected, value
        if isinstance(value, float):  # dynesty pickles its clock as the seconds behind it
            clock = SamplingClock.__new__(SamplingClock)
            clock.__setstate__({"seconds": value})
            restored = SimpleNamespace(tinylens_clock=pickle.loads(pickle.dumps(clock)))
            assert dynesty_runner.sampling_before(restored) == expected, value


@pytest.mark.parametrize("recorded", [10**400, int(1e308), 10**15 + 1, -5], ids=["1e400", "1e308", "1e15+1", "-5"])
def test_a_checkpoints_likelihood_calls_that_no_fit_made_are_not_carried_into_the_fits(recorded):
    """dynesty's checkpoint pickles the fit's likelihood calls (CallCount); a count edited to 1e308
    (or anything beyond the 1e15 a pipeline state may record, MAX_STATE_EVALS, or below 0) became
    the resumed fit's n_likelihood_evals, and the pipeline state that stores it was refused when the
    fit was next loaded. Such a count now reads as dynesty's own ncall (as for a checkpoint without
    one), or 0 where that is out of bounds too; a count within them is read as it is."""
    import pickle
    from types import SimpleNamespace

    from tinylens.pipeline.run import MAX_STATE_EVALS, _count_problem

    def restored(calls, ncall):
        count = dynesty_runner.CallCount.__new__(dynesty_runner.CallCount)
        count.__setstate__({"calls": calls})
        return SimpleNamespace(tinylens_calls=pickle.loads(pickle.dumps(count)), ncall=ncall)

    top = int(MAX_STATE_EVALS)
    cases = ((recorded, 700, 700), (recorded, recorded, 0), (1000, 700, 1000), (top, 700, top), (0, 700, 0))
    for calls, ncall, expected in cases:
        got = dynesty_runner.calls_before(restored(calls, ncall))
        assert got == expected and isinstance(got, int), (calls, ncall)
        assert _count_problem("runs[0].n_likelihood_evals", got, 0, MAX_STATE_EVALS) == ""  # what the state takes
    assert dynesty_runner.calls_before(SimpleNamespace(ncall=700)) == 700  # a checkpoint before CallCount
    assert dynesty_runner.calls_before(SimpleNamespace(ncall=recorded)) == 0


@pytest.mark.parametrize("recorded", [10**15 + 1, -5, float("nan"), 2.5], ids=["1e15+1", "-5", "nan", "2.5"])
def test_a_nautilus_checkpoints_likelihood_calls_that_no_fit_made_start_the_sampling_again(tmp_path, data, recorded):
    """nautilus reads its own n_like from its checkpoint, and counts n_like_max with it: one edited past the
    1e15 a pipeline state may record (MAX_STATE_EVALS) became the resumed fit's n_likelihood_evals, and the
    state storing it was refused when the fit was next loaded (NaN stopped the run with a traceback). Such
    a checkpoint is now said, by name, to be unreadable, deleted, and the sampling starts again."""
    first = _run(_problem(tmp_path, data, n_like_max=SMALL_CAP, checkpoint_every=0), tmp_path)
    path = tmp_path / filenames.CHECKPOINTS["nautilus"]
    with h5py.File(path, "r+") as f:
        f["sampler"].attrs["n_like"] = recorded
    with pytest.warns(CheckpointWarning, match=rf"checkpoint {re.escape(str(path))} could not be read \(ValueError: its "
                      r"likelihood-call count n_like is .*not a whole number from 0 to 1,000,000,000,000,000\); it is "
                      "deleted and the sampling starts again"):
        again = _run(_problem(tmp_path, data, n_like_max=SMALL_CAP, checkpoint_every=0), tmp_path)
    assert not again.info["resumed"] and again.n_likelihood_evals == again.info["n_like_this_run"]
    assert again.n_likelihood_evals == first.n_likelihood_evals  # the same seeded search, from its start
    assert _stored_calls(path) == again.n_likelihood_evals


def _exploration_points(path) -> int:
    """The points of the nautilus checkpoint ``path`` drawn while it explored."""
    with h5py.File(path, "r") as f:
        return int(np.sum(f["sampler"].attrs["shell_end_exp"]))


def test_discard_exploration_reaches_a_run_resumed_after_its_exploration(tmp_path, data):
    """nautilus takes ``discard_exploration`` when its exploration ends, within a run; a run
    resumed after that (a kept, capped or interrupted fit) kept the checkpoint's value, and a
    fit asked to discard the exploration returned its points all the same (and the reverse)."""
    first = _run(_problem(tmp_path, data), tmp_path)
    path = tmp_path / filenames.CHECKPOINTS["nautilus"]
    explored = _exploration_points(path)
    assert first.converged and len(first.samples) == first.n_likelihood_evals  # every point kept
    discarded = _run(_problem(tmp_path, data, discard_exploration=True), tmp_path)
    assert discarded.info["resumed"] and discarded.converged
    assert discarded.info["n_like_this_run"] > 0  # sampled on to the n_eff the discarded points took away
    assert len(discarded.samples) == discarded.n_likelihood_evals - explored
    kept = _run(_problem(tmp_path, data), tmp_path)  # and back: the exploration's points are used again
    assert kept.info["resumed"] and kept.info["n_like_this_run"] == 0
    assert len(kept.samples) == kept.n_likelihood_evals


def test_an_f_live_changed_after_the_exploration_names_a_sampling_section_as_written(tmp_path, data):
    """The warning that an f_live changed after the exploration no longer applies named it 'f_live
    0.001 in inference.settings' to a config of TinyLensGpu's older ``sampling:`` section, a section
    the file does not hold; it names the sampling section the file writes."""
    def problem(f_live=None):
        path = write_tiny_lens(tmp_path, None, data)
        config = yaml.safe_load(path.read_text())
        config["sampling"] = {"sampler": "nautilus", **config.pop("inference")["settings"],
                              **({} if f_live is None else {"f_live": f_live})}
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        written = yaml.safe_load(path.read_text())
        assert "inference" not in written and written["sampling"].get("f_live") == f_live  # the keys the file holds
        return tinylens.load(path)

    assert _run(problem(), tmp_path).converged  # nautilus's f_live 0.01
    with pytest.warns(CheckpointWarning, match=r"so f_live 0\.001 in the sampling section no longer applies") as caught:
        again = _run(problem(0.001), tmp_path)
    assert again.info["resumed"] and again.info["settings"]["f_live"] == 0.01
    assert not any("inference" in str(w.message) for w in caught), [str(w.message) for w in caught]


def test_an_f_live_changed_after_the_exploration_is_said_not_to_apply(tmp_path, data, capped_nautilus):
    """nautilus reads ``f_live`` only while it explores: a fit resumed after its exploration
    ended ignored a new value, while result.json named it. The checkpoint now records the value
    its exploration ended at: another one is said (CheckpointWarning) and result.json names the
    one that shaped the fit; a checkpoint still exploring takes the new value without a word."""
    first = _run(_problem(tmp_path, data), tmp_path)  # nautilus's f_live 0.01
    assert first.converged
    with pytest.warns(CheckpointWarning, match=r"ended its exploration at f_live 0\.01, so f_live 0\.001 in "
                                               r"inference\.settings no longer applies .* --fresh"):
        again = _run(_problem(tmp_path, data, f_live=0.001), tmp_path)
    assert again.info["resumed"] and again.info["n_like_this_run"] == 0  # the first fit's samples, unchanged
    np.testing.assert_array_equal(again.samples, first.samples)
    assert again.info["settings"]["f_live"] == 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)
        same = _run(_problem(tmp_path, data, f_live=0.01), tmp_path)
        exploring = _resumed_with(capped_nautilus, tmp_path / "exploring", data, f_live=0.001)
    assert same.info["resumed"] and same.info["settings"]["f_live"] == 0.01
    with h5py.File(capped_nautilus / filenames.CHECKPOINTS["nautilus"], "r") as f:
        assert not f["sampler"].attrs["explored"]
    assert exploring.info["resumed"] and exploring.info["settings"]["f_live"] == 0.001


def test_an_explored_checkpoint_without_its_f_live_is_said_to_leave_it_unknown(tmp_path, data):
    """A checkpoint written before 9e8d019 has no record of the f_live its exploration ended at
    (F_LIVE_ATTR): a fit resumed from it after its exploration took any f_live without a word
    and result.json named it, though nautilus had ignored it (the samples were the checkpoint's).
    A CheckpointWarning now names the checkpoint, says that whether the f_live applies cannot be
    told and how to explore again; the fit still goes on from it."""
    first = _run(_problem(tmp_path, data), tmp_path)  # nautilus's f_live 0.01
    assert first.converged
    path = tmp_path / filenames.CHECKPOINTS["nautilus"]
    with h5py.File(path, "r+") as f:
        assert f.attrs[nautilus_runner.F_LIVE_ATTR] == 0.01
        del f.attrs[nautilus_runner.F_LIVE_ATTR]  # as an older tinylens wrote it
    with pytest.warns(CheckpointWarning) as caught:
        again = _run(_problem(tmp_path, data, f_live=0.001), tmp_path)
    said = " ".join(str(w.message) for w in caught if issubclass(w.category, CheckpointWarning))
    assert said.startswith(f"The checkpoint {path} had already ended its exploration but does not record the "
                           "f_live it ended at"), said
    assert "whether f_live 0.001 in inference.settings applies cannot be told" in said
    assert "If f_live was changed since, delete the checkpoint to explore again (tinylens fit --fresh" in said
    assert again.info["resumed"] and again.info["n_like_this_run"] == 0
    np.testing.assert_array_equal(again.samples, first.samples)


@pytest.fixture(scope="module")
def capped_nautilus(tmp_path_factory, data) -> Path:
    """A folder holding the checkpoint of the tiny lens's nautilus run capped at SMALL_CAP calls."""
    folder = tmp_path_factory.mktemp("capped")
    assert not _run(_problem(folder, data, n_like_max=SMALL_CAP), folder).converged
    return folder


def _resumed_with(capped: Path, folder: Path, data, **settings):
    """The run of a copy of ``capped``'s checkpoint in ``folder`` with ``settings`` changed (same cap)."""
    shutil.copytree(capped, folder)
    return _run(_problem(folder, data, n_like_max=SMALL_CAP, **settings), folder)


@pytest.mark.parametrize("setting", [{"n_update": 50}, {"n_like_new_bound": 300}, {"enlarge_per_dim": 1.3},
                                     {"n_points_min": 30}, {"split_threshold": 10}, {"periodic": [0]},
                                     {"n_networks": 2}, {"neural_network_kwargs": {"max_iter": 100}}],
                         ids=lambda s: next(iter(s)))
def test_a_changed_nautilus_bound_setting_starts_afresh(tmp_path, data, capped_nautilus, setting):
    """nautilus resumes its state from the checkpoint but takes these settings from its arguments,
    so a changed value shaped only the bounds built after the resume (each changes the samples of
    a resume, checked on nautilus 1.0.6), and result.json named it for the whole run: the
    fingerprint left them out. A changed value now starts afresh, as a changed nlive does."""
    again = _resumed_with(capped_nautilus, tmp_path / "again", data, **setting)
    assert not again.info["resumed"]
    assert again.info["n_like_this_run"] == again.n_likelihood_evals >= SMALL_CAP


@pytest.mark.parametrize("setting", [{"n_update": FAST_NAUTILUS["nlive"]}, {"n_like_new_bound": 10 * FAST_NAUTILUS["nlive"]},
                                     {"enlarge_per_dim": 1.1}, {"n_points_min": len(FREE_TRUTH) + 50},
                                     {"split_threshold": 100}, {"periodic": []}, {"periodic": None},
                                     {"neural_network_kwargs": {}}, {"verbose": True}, {"checkpoint_every": 0}],
                         ids=lambda s: f"{next(iter(s))}={next(iter(s.values()))}")
def test_a_bound_setting_given_its_default_or_an_output_setting_resumes(tmp_path, data, capped_nautilus, setting):
    """A bound setting given as nautilus's default (n_update: nlive, n_points_min: n_dim + 50, ...)
    samples as the config that leaves it out, and verbose and checkpoint_every change only what
    is printed and written: the same checkpoint is resumed (already at its cap: no call)."""
    again = _resumed_with(capped_nautilus, tmp_path / "again", data, **setting)
    assert again.info["resumed"] and again.info["n_like_this_run"] == 0


def test_fresh_deletes_the_checkpoints_and_starts_again(tmp_path, data):
    """``tinylens fit --fresh``: a stopped fit's checkpoints (the sampler's and the pipeline
    stages') are deleted, and the same capped search runs again from its start."""
    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    out = tmp_path / "output"
    first = tinylens.fit(config, progress=False)
    assert (out / filenames.CHECKPOINTS["nautilus"]).is_file() and (out / filenames.PIPELINE_STATE).is_file()
    state = json.loads((out / filenames.PIPELINE_STATE).read_text())
    (out / filenames.PIPELINE_STATE).write_text(json.dumps({**state, "time_s": 1000.0}))  # marks the stages if reused
    again = tinylens.fit(config, progress=False, fresh=True)
    assert not again.info["resumed"] and again.info["n_like_this_run"] == again.n_likelihood_evals - again.info[
        "pipeline"]["stage_gradient_evals"]
    assert again.info["earlier_time_s"] == 0.0  # the stages were run again, not read back
    assert again.n_likelihood_evals == first.n_likelihood_evals  # the same seeded search, from its start
    assert json.loads((out / filenames.PIPELINE_STATE).read_text())["time_s"] < 1000.0


def test_resume_false_runs_the_pipeline_stages_again(tmp_path, data):
    """``resume: false`` in the sampler's settings starts the whole fit again: the pipeline's
    stages are not read back from an earlier run's state, as the sampler's checkpoint is not."""
    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP, resume=False), data)
    out = tmp_path / "output"
    first = tinylens.fit(config, progress=False)
    state = json.loads((out / filenames.PIPELINE_STATE).read_text())
    (out / filenames.PIPELINE_STATE).write_text(json.dumps({**state, "time_s": 1000.0}))  # marks the stages if reused
    again = tinylens.fit(config, progress=False)
    assert not again.info["resumed"] and again.info["earlier_time_s"] == 0.0
    assert again.n_likelihood_evals == first.n_likelihood_evals
    assert json.loads((out / filenames.PIPELINE_STATE).read_text())["time_s"] < 1000.0


def test_checkpoint_names_are_known_without_importing_the_samplers():
    """``--fresh``, a survey's dry run and its retry list the checkpoint files by name only: that
    must not import nautilus (and scikit-learn) or dynesty."""
    import subprocess
    import sys

    code = ("import sys; import tinylens.fit; from tinylens.filenames import checkpoint_names; names = checkpoint_names(); "
            "print(sorted(m for m in ('nautilus', 'dynesty', 'sklearn') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.split("\n")[-2] == "[]"


def test_ctrl_c_while_a_network_trains_stops_the_run(tmp_path, data, monkeypatch, python_sigint):
    """scikit-learn catches KeyboardInterrupt in MLPRegressor's training loop (nautilus's networks)
    and only warns "Training interrupted by user."; the run then sampled on to its end. Ctrl-C there
    must stop it as anywhere else, and the SIGINT handler is Python's own again afterwards."""
    import signal
    import warnings

    from sklearn.neural_network import MLPRegressor

    problem = _problem(tmp_path, data)
    original = MLPRegressor._update_no_improvement_count  # called in the loop that catches Ctrl-C
    sent = {"n": 0}

    def ctrl_c_once(self, *args, **kwargs):
        if not sent["n"]:
            sent["n"] += 1
            signal.raise_signal(signal.SIGINT)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MLPRegressor, "_update_no_improvement_count", ctrl_c_once)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Training interrupted by user."
        with pytest.raises(KeyboardInterrupt):
            _run(problem, tmp_path)
    assert sent["n"] == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_checkpoint_of_the_other_precision_is_not_resumed(tmp_path, data):
    """The fingerprint left the precision out: a fit stopped in float32 and started again with
    TINYLENS_PRECISION=float64 continued the float32 run, mixing two likelihoods (which differ)."""
    import jax.numpy as jnp

    from oracle import x64
    from tinylens.inference.common import fingerprint

    config = write_tiny_lens(tmp_path / "lens", None, data)
    p32 = tinylens.load(config)
    theta = p32.prior_transform(np.full(p32.ndim, 0.5))
    with x64():
        p64 = tinylens.load(config, dtype=jnp.float64)
        assert p64.log_likelihood(theta) != p32.log_likelihood(theta)
        assert fingerprint(p64, seed=1) != fingerprint(p32, seed=1)


def test_ctrl_c_that_a_gc_callback_swallows_stops_a_dynesty_run(tmp_path, data, python_sigint):
    """A SIGINT that arrives while a garbage-collector callback runs (JAX registers one) raises
    KeyboardInterrupt inside it, where Python only prints "Exception ignored": dynesty sampled
    on to its end. The run must stop as after any Ctrl-C, keeping its checkpoint."""
    import gc
    import signal
    import threading

    problem = _problem(tmp_path, data, "dynesty", maxcall=3000, checkpoint_every=0)
    checkpoint = tmp_path / filenames.CHECKPOINTS["dynesty"]
    sent = {"n": 0}

    def ctrl_c_once(phase, info):  # in the main thread, once the sampling has written a checkpoint
        main = threading.current_thread() is threading.main_thread()
        if phase == "start" and not sent["n"] and main and checkpoint.is_file():
            sent["n"] += 1
            signal.raise_signal(signal.SIGINT)

    gc.callbacks.append(ctrl_c_once)
    try:
        with pytest.raises(KeyboardInterrupt):
            _run(problem, tmp_path, dynesty_runner)
    finally:
        gc.callbacks.remove(ctrl_c_once)
    assert sent["n"] == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert checkpoint.is_file()


@pytest.mark.skipif("save_evaluation_history" not in dynesty_runner.SAMPLER_KEYS,
                    reason="dynesty < 3.0 has no evaluation history")
def test_dynestys_evaluation_history_goes_to_the_output_folder(tmp_path, data, monkeypatch):
    """``save_evaluation_history: true`` wrote dynesty_logl_history.h5 into whatever folder the fit
    was started from (every lens of a survey into the same file); a relative name is now one in the
    fit's output folder, as the checkpoint is, and an absolute one stays where it says."""
    elsewhere = tmp_path / "started_here"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = tmp_path / "out"
    _run(_problem(tmp_path / "lens", data, "dynesty", maxcall=300, save_evaluation_history=True), out, dynesty_runner)
    assert list(elsewhere.iterdir()) == []
    with h5py.File(out / "dynesty_logl_history.h5", "r") as f:
        assert "evaluation_logl" in f
    mine = tmp_path / "mine" / "calls.h5"
    mine.parent.mkdir()
    _run(_problem(tmp_path / "lens", data, "dynesty", maxcall=300, save_evaluation_history=True,
                  history_filename="calls.h5"), out, dynesty_runner)
    _run(_problem(tmp_path / "lens", data, "dynesty", maxcall=300, save_evaluation_history=True,
                  history_filename=str(mine)), out, dynesty_runner)
    assert (out / "calls.h5").is_file() and mine.is_file() and list(elsewhere.iterdir()) == []



@pytest.mark.skipif("save_evaluation_history" not in dynesty_runner.SAMPLER_KEYS,
                    reason="dynesty < 3.0 has no evaluation history")
def test_a_history_filename_in_a_folder_not_yet_made_is_written_there(tmp_path, data):
    """``history_filename: hist/calls.h5`` (or an absolute path into a new folder) passed the
    config check and then stopped the fit with h5py's "Unable to synchronously create file ...
    No such file or directory"; the folder is now made."""
    out = tmp_path / "out"
    _run(_problem(tmp_path / "lens", data, "dynesty", maxcall=300, save_evaluation_history=True,
                  history_filename="hist/calls.h5"), out, dynesty_runner)
    absolute = tmp_path / "new" / "deeper" / "calls.h5"
    _run(_problem(tmp_path / "lens", data, "dynesty", maxcall=300, save_evaluation_history=True,
                  history_filename=str(absolute)), out, dynesty_runner)
    assert _history_rows(out / "hist" / "calls.h5") > 0 and _history_rows(absolute) > 0

def _history_rows(path) -> int:
    with h5py.File(path, "r") as f:
        return len(f["evaluation_logl"])


@pytest.mark.skipif("save_evaluation_history" not in dynesty_runner.SAMPLER_KEYS,
                    reason="dynesty < 3.0 has no evaluation history")
@pytest.mark.parametrize("removed", [False, True], ids=["kept", "removed"])
def test_a_resumed_dynesty_fit_goes_on_saving_its_evaluation_history(tmp_path, data, monkeypatch, removed):
    """dynesty switches the history off in the sampler it pickles: a fit stopped by Ctrl-C and
    resumed saved none of its later evaluations. The resumed run now saves them too, after the
    checkpoint's (one row per likelihood call dynesty used), even when the file was removed meanwhile."""
    calls = {"n": 0}
    original = Problem.log_likelihood

    def interrupting(self, theta):
        calls["n"] += len(np.atleast_2d(theta))
        if calls["n"] > 600:
            raise KeyboardInterrupt
        return original(self, theta)

    settings = {"maxcall": 1200, "save_evaluation_history": True, "checkpoint_every": 0}
    history = tmp_path / filenames.DYNESTY_HISTORY
    monkeypatch.setattr(Problem, "log_likelihood", interrupting)
    with pytest.raises(KeyboardInterrupt):
        _run(_problem(tmp_path, data, "dynesty", **settings), tmp_path, dynesty_runner)
    monkeypatch.undo()
    stopped = _history_rows(history)
    if removed:
        history.unlink()
    resumed = _run(_problem(tmp_path, data, "dynesty", **settings), tmp_path, dynesty_runner)
    assert resumed.info["resumed"] and resumed.info["dynesty_ncall"] > stopped
    assert _history_rows(history) == resumed.info["dynesty_ncall"]  # the calls dynesty used (not its queue's)


@pytest.mark.skipif("save_evaluation_history" not in dynesty_runner.SAMPLER_KEYS,
                    reason="dynesty < 3.0 has no evaluation history")
def test_a_stopped_dynesty_fit_resumes_when_only_its_evaluation_history_changes(tmp_path, data):
    """The fingerprint held every sampler setting, so a stopped fit given save_evaluation_history
    (or another history_filename) sampled again from the beginning, though the history only
    writes what the sampler does. It now resumes, with the same samples as a fit never stopped;
    a history switched on at the resume holds the calls from there on, and says so."""
    never_stopped = _run(_problem(tmp_path / "whole", data, "dynesty", maxcall=600), tmp_path / "whole", dynesty_runner)
    capped = _run(_problem(tmp_path, data, "dynesty", maxcall=300), tmp_path, dynesty_runner)
    with pytest.warns(CheckpointWarning, match=rf"history {tmp_path / filenames.DYNESTY_HISTORY} holds the likelihood "
                      rf"calls of this fit from its resume on: the {capped.info['dynesty_ncall']} calls made before it"):
        resumed = _run(_problem(tmp_path, data, "dynesty", maxcall=600, save_evaluation_history=True), tmp_path,
                       dynesty_runner)
    assert resumed.info["resumed"] and resumed.n_likelihood_evals == never_stopped.n_likelihood_evals
    np.testing.assert_array_equal(resumed.samples, never_stopped.samples)
    assert _history_rows(tmp_path / filenames.DYNESTY_HISTORY) == resumed.info["dynesty_ncall"] - capped.info["dynesty_ncall"] > 0

    folder = tmp_path / "at_its_cap"  # switched on where the resumed run makes no call: an empty history
    _run(_problem(folder, data, "dynesty", maxcall=300), folder, dynesty_runner)
    with pytest.warns(CheckpointWarning, match="calls made before it are not in it"):
        again = _run(_problem(folder, data, "dynesty", maxcall=300, save_evaluation_history=True), folder,
                     dynesty_runner)
    assert again.info["resumed"] and again.info["n_like_this_run"] == 0
    assert _history_rows(folder / filenames.DYNESTY_HISTORY) == 0  # not dynesty's 10,000 rows of zeros

    folder = tmp_path / "off"  # and switched off: resumed, the history as the stopped run left it
    _run(_problem(folder, data, "dynesty", maxcall=300, save_evaluation_history=True), folder, dynesty_runner)
    stopped_rows = _history_rows(folder / filenames.DYNESTY_HISTORY)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)
        off = _run(_problem(folder, data, "dynesty", maxcall=600), folder, dynesty_runner)
    assert off.info["resumed"] and off.info["n_like_this_run"] > 0
    assert _history_rows(folder / filenames.DYNESTY_HISTORY) == stopped_rows


@pytest.mark.skipif("save_evaluation_history" not in dynesty_runner.SAMPLER_KEYS,
                    reason="dynesty < 3.0 has no evaluation history")
def test_each_sampling_run_of_the_pipeline_keeps_its_own_dynesty_history(tmp_path, data, monkeypatch):
    """The pipeline samples again when it widens the box: the second run wrote its history over
    the first's. Run 2 now has a file of its own (``dynesty_logl_history.run2.h5``), and each
    file holds one row per likelihood call dynesty used in its run."""
    from tinylens.inference import run_inference
    from tinylens.pipeline import box as bx
    from tinylens.pipeline import run as run_mod

    problem = _problem(tmp_path, data, "dynesty", maxcall=300, save_evaluation_history=True)
    best = [FREE_TRUTH[name] for name in problem.param_names]
    used = []  # each run's dynesty count, which its history holds (its n_likelihood_evals adds its queue's)
    sample = dynesty_runner.run
    # maxcall stops each run; called converged, as the pipeline widens only the box of a converged run
    monkeypatch.setattr(dynesty_runner, "run",
                        lambda *a, **kw: used.append(dataclasses.replace(sample(*a, **kw), converged=True)) or used[-1])
    monkeypatch.setattr(run_mod, "optimise", lambda objective, settings, progress=False, **_: {
        "best": best, "stages": {}, "n_evals": 0, "arc_mask": [], "time_s": 0.0})
    crowded = iter([[(0, "upper")]])
    monkeypatch.setattr(bx, "crowded_edges", lambda *args, **kwargs: next(crowded, []))
    res = run_inference(problem, progress=False, checkpoint_dir=tmp_path)  # the pipeline's default max_widen: 2
    runs = [r["n_likelihood_evals"] for r in res.info["pipeline"]["sampling_runs"]]
    assert len(runs) == 2 and runs == [r.n_likelihood_evals for r in used]
    assert _history_rows(tmp_path / "dynesty_logl_history.h5") == used[0].info["dynesty_ncall"] <= runs[0]
    assert _history_rows(tmp_path / "dynesty_logl_history.run2.h5") == used[1].info["dynesty_ncall"] <= runs[1]


@pytest.mark.parametrize("method, cap", [("nautilus", {"n_like_max": CAP}), ("dynesty", {"maxcall": CAP})])
def test_a_call_budget_is_the_whole_fits_across_a_resume(tmp_path, data, monkeypatch, method, cap):
    """``n_like_max`` (nautilus) and ``maxcall`` (dynesty) cap the calls of the whole fit: a run
    stopped by Ctrl-C and resumed with the same settings gets what is left of the budget, not a
    fresh one (dynesty counts its ``maxcall`` per ``run_nested``; a resumed fit had made about
    1.5 times its cap)."""
    runner = nautilus_runner if method == "nautilus" else dynesty_runner
    whole = _run(_problem(tmp_path / "whole", data, method, **cap), tmp_path / "whole", runner)
    assert not whole.converged and whole.n_likelihood_evals >= CAP
    calls = {"n": 0}
    original = Problem.log_likelihood

    def interrupting(self, theta):
        calls["n"] += len(np.atleast_2d(theta))
        if calls["n"] > CAP // 2:
            raise KeyboardInterrupt
        return original(self, theta)

    folder = tmp_path / "stopped"
    monkeypatch.setattr(Problem, "log_likelihood", interrupting)
    with pytest.raises(KeyboardInterrupt):
        _run(_problem(folder, data, method, checkpoint_every=0, **cap), folder, runner)
    monkeypatch.undo()
    resumed = _run(_problem(folder, data, method, checkpoint_every=0, **cap), folder, runner)
    assert resumed.info["resumed"] and not resumed.converged
    assert 0 < resumed.info["n_like_this_run"] < resumed.n_likelihood_evals
    assert resumed.n_likelihood_evals <= 1.2 * whole.n_likelihood_evals, (resumed.n_likelihood_evals, whole.n_likelihood_evals)


def test_dynesty_counts_the_likelihood_calls_it_makes(tmp_path, data, monkeypatch, capsys):
    """dynesty's own count (``ncall``) leaves out the proposals still in its queue when a run stops,
    which each cost a call or more: a capped fit reported 2,097 calls and had made 3,955, while its
    status line showed those made. result's ``n_likelihood_evals`` is now the calls made, as the
    status line shows them, in a fresh fit and over a resume; ``info["dynesty_ncall"]`` is dynesty's."""
    calls = {"n": 0}
    original = Problem.log_likelihood

    def counting(self, theta):
        calls["n"] += len(np.atleast_2d(theta))
        return original(self, theta)

    monkeypatch.setattr(Problem, "log_likelihood", counting)
    problem = _problem(tmp_path, data, "dynesty", maxcall=300, checkpoint_every=0)
    capped = dynesty_runner.run(problem, dict(problem.config.inference.settings), progress=True,
                                checkpoint_dir=tmp_path)
    shown = re.findall(r"dynesty \| calls ([\d,]+) \|", capsys.readouterr().err)
    assert capped.n_likelihood_evals == calls["n"] == capped.info["n_like_this_run"] == int(shown[-1].replace(",", ""))
    assert 300 <= capped.info["dynesty_ncall"] < calls["n"]  # maxcall stays dynesty's count
    raised = _run(_problem(tmp_path, data, "dynesty", maxcall=600, checkpoint_every=0), tmp_path, dynesty_runner)
    assert raised.info["resumed"] and raised.n_likelihood_evals == calls["n"]
    assert raised.info["n_like_this_run"] == calls["n"] - capped.n_likelihood_evals > 0


def test_a_capped_dynesty_fit_resumed_with_the_same_cap_samples_no_more(tmp_path, data):
    """A dynesty run that ended on its ``maxcall`` and is started again unchanged has spent its
    budget: it makes no call (raising the cap continues it, up to the new total)."""
    capped = _run(_problem(tmp_path, data, "dynesty", maxcall=300, checkpoint_every=0), tmp_path, dynesty_runner)
    again = _run(_problem(tmp_path, data, "dynesty", maxcall=300, checkpoint_every=0), tmp_path, dynesty_runner)
    assert again.info["resumed"] and not again.converged
    assert again.info["n_like_this_run"] == 0 and again.n_likelihood_evals == capped.n_likelihood_evals
    raised = _run(_problem(tmp_path, data, "dynesty", maxcall=600, checkpoint_every=0), tmp_path, dynesty_runner)
    assert raised.info["resumed"] and raised.info["n_like_this_run"] > 0
    assert 0 < raised.info["dynesty_ncall"] - capped.info["dynesty_ncall"] <= 1.5 * 300  # maxcall: dynesty's count
    assert raised.n_likelihood_evals <= 2 * capped.n_likelihood_evals


def test_a_full_disk_is_said_and_the_fit_resumes(tmp_path, data, monkeypatch):
    """A disk that fills while the outputs are written: one message that names the output folder
    and says the fit resumes (it was a traceback), no result.json, the checkpoint kept; run again
    once there is space, the fit resumes its finished search and writes its result."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app
    from tinylens.results import tables

    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    out = tmp_path / "output"
    real = tables.write_json

    def full(path, content):
        if Path(path).name == filenames.RESULT:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, content)

    monkeypatch.setattr(tables, "write_json", full)
    run = CliRunner().invoke(app, ["fit", str(config), "-q"])
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), repr(run.exception)
    said = " ".join(run.output.split())
    assert "Traceback" not in said and f"Output folder {out}: no space left" in said and "resume" in said, said
    assert not (out / filenames.RESULT).exists() and (out / filenames.CHECKPOINTS["nautilus"]).is_file()
    monkeypatch.undo()

    again = tinylens.fit(config, progress=False)
    assert again.info["resumed"] and again.info["n_like_this_run"] == 0
    assert (out / filenames.RESULT).is_file()


def test_a_read_only_disk_is_said_and_the_fit_resumes(tmp_path, data, monkeypatch):
    """A disk remounted read-only (EROFS) while the outputs were written was said as any command's
    read-only disk, 'write to a folder on another disk, or run the command again', not that the
    checkpoints are kept and the fit run again resumes, as for a full disk; it is now the fit's
    message: the output folder, the file, read-only, resume; no result.json, the checkpoint kept."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app
    from tinylens.results import tables

    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    out = tmp_path / "output"
    real = tables.write_json

    def read_only(path, content):
        if Path(path).name == filenames.RESULT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real(path, content)

    monkeypatch.setattr(tables, "write_json", read_only)
    run = CliRunner().invoke(app, ["fit", str(config), "-q"])
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), repr(run.exception)
    said = " ".join(run.output.split())
    assert "Traceback" not in said and f"Output folder {out}: {out / filenames.RESULT} cannot be written" in said, said
    assert "mounted read-only" in said and "run the fit again once the disk is writable to resume it" in said, said
    assert "another disk" not in said, said
    assert not (out / filenames.RESULT).exists() and (out / filenames.CHECKPOINTS["nautilus"]).is_file()


def test_a_checkpoint_write_on_a_full_disk_is_said_as_a_full_disk(tmp_path, data, monkeypatch):
    """h5py reports a write that found the disk full as a RuntimeError whose text alone holds
    errno = 28 (seen in a survey on a full tmpfs): the fit ended in that traceback, and a survey
    took it for an unexpected error, deleting the lens's checkpoints before retrying it. It is now
    the fit's full-disk message, naming the output folder; an h5py error without a number is raised as it was."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    out = tmp_path / "output"

    def full(self, path, overwrite=False):
        raise RuntimeError(f"Can't close dataset (file write failed: time = Sun Dec  6 07:27:00 2026\n, filename = "
                           f"'{path}', file descriptor = 16, errno = 28, error message = 'No space left on device', "
                           "buf = 0x7f1ee3ef2908, total write size = 9376, bytes this sub-write = 9376, offset = 237912)")

    monkeypatch.setattr(nautilus_runner.Sampler, "write", full)
    run = CliRunner().invoke(app, ["fit", str(config), "-q"])
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), repr(run.exception)
    said = " ".join(run.output.split())
    assert "Traceback" not in said and f"Output folder {out}: no space left" in said, said
    assert not (out / filenames.RESULT).exists()
    assert nautilus_runner.h5_system_error(RuntimeError("Unable to synchronously create dataset"), out) is None


def test_a_checkpoint_of_another_config_is_said_to_be_replaced(tmp_path, data):
    """A stopped fit run again after its config changed starts again (its checkpoints are of
    another problem); it said nothing, so that a config changed by mistake threw hours of sampling
    away unseen. It now warns, naming the files; the same config resumes without a word."""
    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    out = tmp_path / "output"
    tinylens.fit(config, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)
        assert tinylens.fit(config, progress=False).info["resumed"]  # the same config: resumed, no warning

    _set_settings(config, **{**FAST_NAUTILUS, "n_like_max": SMALL_CAP, "seed": 5})  # the sampler's settings only
    with pytest.warns(CheckpointWarning, match=rf"^checkpoint.hdf5 in {out}: of another fit .* does not resume it: "
                      r"its sampling starts from the beginning \(the pipeline stages' results are reused\)"):
        again = tinylens.fit(config, progress=False)
    assert not again.info["resumed"]

    cfg = yaml.safe_load(config.read_text())
    _change_prior(cfg, data)
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.warns(CheckpointWarning, match=rf"^checkpoint.hdf5, checkpoint.pipeline.json in {out}: .* does not "
                      "resume them: it starts from the beginning, and replaces them"):
        assert not tinylens.fit(config, progress=False).info["resumed"]


def test_a_pipeline_state_of_an_older_fit_is_not_blamed_on_the_no_pipeline_switch(tmp_path, data):
    """A fit with the pipeline, then one with --no-pipeline (which leaves the pipeline's state as
    it is), then one with the pipeline after a prior was changed: checkpoint.pipeline.json, written
    by the first fit, is not resumed because of the prior, yet 8bdc392's warning gave the pipeline
    switch alone as the cause of both files ('the earlier fit here ran without the pipeline's
    stages'), hiding the changed prior that threw the stages' work away. Both causes are said now."""
    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    cfg = yaml.safe_load(config.read_text())
    cfg["output"]["draw_figures"] = "none"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    out = tmp_path / "output"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tinylens.fit(config, progress=False)  # the pipeline: its state and the box's checkpoint
        tinylens.fit(config, progress=False, pipeline=False)  # the full priors' checkpoint; the state kept
    assert (out / filenames.PIPELINE_STATE).is_file()
    _change_prior(cfg, data)
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    again, said = _fit_again(config)
    assert not again.info["resumed"]
    text = " ".join(said)
    assert f"checkpoint.hdf5, {filenames.PIPELINE_STATE} in {out}: this fit does not resume them" in text, said
    assert "checkpoint.hdf5 is of another fit: the earlier fit here ran without the pipeline's stages" in text, said
    assert (f"{filenames.PIPELINE_STATE} is older still, left by a fit before that one, and it was made with other "
            "priors than this config's") in text, said


def _fit_again(config: Path) -> tuple[tinylens.FitResult, list[str]]:
    """``tinylens.fit`` of ``config`` run again: its result and the texts of every
    CheckpointWarning it gave (each one, repeats too)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = tinylens.fit(config, progress=False)
    return again, [str(w.message) for w in caught if issubclass(w.category, CheckpointWarning)]


def test_a_damaged_pipeline_state_of_this_fit_is_said_once_and_the_stages_done_again(tmp_path, data):
    """A stopped fit's checkpoint.pipeline.json, its fingerprint this fit's but its best fit cut
    to fewer values than the model's free parameters (edited, or damaged), was reused as it was:
    the fit run again gave an info.pipeline.best_fit without the last parameter, unsaid (a text
    for a number there stopped it with a bare ValueError). It is now said in one CheckpointWarning
    naming the file and what is wrong (not also as 'of another fit', nor the sampler's
    checkpoint), the stages are done again and their state written anew."""
    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    out = tmp_path / "output"
    tinylens.fit(config, progress=False)
    path = out / filenames.PIPELINE_STATE
    state = json.loads(path.read_text())
    n = len(state["best"])
    path.write_text(json.dumps({**state, "best": state["best"][:-1]}))
    again, said = _fit_again(config)
    assert len(said) == 1, said
    assert said[0].startswith(f"The pipeline state {path} is this fit's but cannot be used ('best' holds {n - 1} "
                              f"values, not the {n} of this model's free parameters)"), said
    assert len(again.info["pipeline"]["best_fit"]) == n and again.info["pipeline"]["stage_gradient_evals"] > 0
    rewritten = json.loads(path.read_text())
    assert rewritten["fingerprint"] == state["fingerprint"] and len(rewritten["best"]) == n


class _Killed(BaseException):
    """The job's end, where a test kills it."""


def _fingerprint_writes_killed(monkeypatch) -> None:
    """A job killed while it writes a checkpoint's fingerprint file: opened for writing (and so
    emptied), then :class:`_Killed` before anything is written."""
    import io

    real_open = io.open

    def killed(file, mode="r", *args, **kwargs):
        if "w" in mode and str(file).endswith(".fingerprint"):
            real_open(file, mode, *args, **kwargs).close()
            raise _Killed
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", killed)


def test_a_job_killed_while_it_starts_keeps_its_checkpoint_resumable(tmp_path, monkeypatch):
    """The fingerprint beside a checkpoint was written again (emptied, then written) at every
    start, resumes too: a job killed in between (SLURM's SIGKILL, an OOM kill) left it empty,
    and the next start deleted the checkpoint it could have resumed. A resume no longer writes
    it, and a new fingerprint is written whole or not at all."""
    from tinylens.inference.common import prepare_checkpoint

    path = tmp_path / filenames.CHECKPOINTS["dynesty"]
    stamp_file = tmp_path / filenames.fingerprint_name(path.name)
    assert not prepare_checkpoint(path, "a" * 64, resume=True)
    path.write_bytes(b"the sampler's state")

    _fingerprint_writes_killed(monkeypatch)
    assert prepare_checkpoint(path, "a" * 64, resume=True)  # a resume: nothing to write
    with pytest.raises(_Killed):
        prepare_checkpoint(path, "b" * 64, resume=True)  # another problem's: killed while stamping it
    monkeypatch.undo()
    assert stamp_file.read_text() == "a" * 64 + "\n"  # the one before, whole
    assert [p.name for p in tmp_path.iterdir()] == [stamp_file.name]  # no temporary file left

    path.write_bytes(b"the sampler's state")
    assert prepare_checkpoint(path, "a" * 64, resume=True) and path.read_bytes() == b"the sampler's state"
    assert not prepare_checkpoint(path, "b" * 64, resume=True) and not path.exists()
    assert stamp_file.read_text() == "b" * 64 + "\n"


def test_a_setting_whose_mapping_lists_its_keys_in_another_order_keeps_the_checkpoints_fingerprint(tmp_path, data):
    """A sampler setting that is a mapping (dynesty's first_update) entered the checkpoint's
    fingerprint as its repr, keys in the config's order, so that the same config with that
    mapping's keys swapped (a YAML file tidied between a stop and its resume) did not resume its
    checkpoint: a new problem, sampled afresh. Its keys' order no longer counts; its values do."""
    def stamp(folder, first_update):
        problem = _problem(tmp_path / folder, data, "dynesty", first_update=first_update)
        return dynesty_runner.checkpoint_stamp(problem, dict(problem.config.inference.settings))

    written = stamp("a", {"min_ncall": 100, "min_eff": 10.0})
    assert stamp("b", {"min_eff": 10.0, "min_ncall": 100}) == written
    assert stamp("c", {"min_ncall": 100, "min_eff": 20.0}) != written
    assert stamp("d", {"min_ncall": 100}) != written


def test_a_garbled_fingerprint_starts_the_sampling_again_with_a_warning(tmp_path, data):
    """A checkpoint's fingerprint file that could not be read (binary junk) stopped the fit with a
    UnicodeDecodeError traceback: it is now not resumed, and said so; not as a checkpoint of
    another fit, which it is not known to be."""
    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    out = tmp_path / "output"
    tinylens.fit(config, progress=False)
    stamp_file = out / filenames.fingerprint_name(filenames.CHECKPOINTS["nautilus"])
    stamp_file.write_bytes(b"\x89\xff\xfe\x00 not a fingerprint")
    again, said = _fit_again(config)
    assert len(said) == 1, said
    assert said[0].startswith(f"The fingerprint {stamp_file} of the checkpoint {out / 'checkpoint.hdf5'} could not be "
                              "read (UnicodeDecodeError: ") and "it is deleted and the sampling starts again" in said[0]
    assert not again.info["resumed"] and again.info["n_like_this_run"] > 0 and (out / filenames.RESULT).is_file()
    assert re.fullmatch(r"[0-9a-f]{64}\n", stamp_file.read_text())  # this fit's, for the next run to resume


def test_a_folder_in_the_place_of_a_fingerprint_is_said_and_left(tmp_path):
    """A folder where a checkpoint's fingerprint is written stopped the fit with an
    IsADirectoryError traceback; the checkpoint is now not resumed, and the warning says to
    remove the folder (a fingerprint cannot be written in its place)."""
    from tinylens.inference.common import prepare_checkpoint, resumable

    path = tmp_path / filenames.CHECKPOINTS["dynesty"]
    stamp_file = tmp_path / filenames.fingerprint_name(path.name)
    path.write_bytes(b"the sampler's state")
    stamp_file.mkdir()
    assert not resumable(path, "a" * 64)
    with pytest.warns(CheckpointWarning, match=r"could not be read \(IsADirectoryError: .* it is deleted and the "
                      rf"sampling starts again\. Remove the folder {re.escape(str(stamp_file))}: "):
        assert not prepare_checkpoint(path, "a" * 64, resume=True)
    assert not path.exists() and stamp_file.is_dir()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)
        assert not prepare_checkpoint(path, "a" * 64, resume=True)  # no checkpoint there: nothing to say


def test_a_dynesty_checkpoint_left_half_written_is_removed_when_the_fit_starts_again(tmp_path, data):
    """dynesty writes its checkpoint to ``<checkpoint>.tmp`` and renames it; a job killed while it
    wrote (SLURM's SIGKILL, an OOM kill) left that file, as large as the checkpoint. dynesty's next
    checkpoint reuses the name, but a fit run again with nautilus (or never with dynesty again)
    kept it in its output folder for good; a fit now removes it when it starts."""
    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    out = tmp_path / "output"
    out.mkdir()
    left = out / "checkpoint_dynesty.pkl.tmp"  # dynesty.utils.save_sampler's name
    left.write_bytes(b"half a pickle")
    tinylens.fit(config, progress=False)
    assert (out / filenames.RESULT).is_file() and not left.exists()


@pytest.mark.parametrize("method, cap, raised", [("nautilus", {"n_like_max": SMALL_CAP}, {"n_like_max": 2 * SMALL_CAP}),
                                                 ("dynesty", {"maxcall": 300}, {"maxcall": 600})])
def test_a_resumed_fits_status_line_counts_the_calls_of_all_its_runs(tmp_path, data, capsys, method, cap, raised):
    """The status line of a fit resumed from its checkpoint counted the calls of this run alone
    (its last line said fewer than the result's ``n_likelihood_evals``, which counts those of every
    run); it now counts them all, as the result does, from the calls the checkpoint recorded."""
    runner = nautilus_runner if method == "nautilus" else dynesty_runner
    first = _run(_problem(tmp_path, data, method, checkpoint_every=0, **cap), tmp_path, runner)
    problem = _problem(tmp_path, data, method, checkpoint_every=0, **raised)
    capsys.readouterr()
    resumed = runner.run(problem, dict(problem.config.inference.settings), progress=True, checkpoint_dir=tmp_path)
    shown = [int(n.replace(",", "")) for n in re.findall(rf"{method} \| calls ([\d,]+) \|", capsys.readouterr().err)]
    assert resumed.info["resumed"] and 0 < resumed.info["n_like_this_run"] < resumed.n_likelihood_evals
    assert shown[-1] == resumed.n_likelihood_evals, (shown, resumed.n_likelihood_evals, first.n_likelihood_evals)


@pytest.mark.parametrize("method, cap, raised", [("nautilus", {"n_like_max": SMALL_CAP}, {"n_like_max": 2 * SMALL_CAP}),
                                                 ("dynesty", {"maxcall": 300}, {"maxcall": 600})])
def test_a_resumed_fit_says_at_its_start_that_it_resumes_and_what_it_keeps(tmp_path, data, capsys, method, cap, raised):
    """A fit resumed from its checkpoint said so only in its closing line ('resumed from its
    checkpoint'), so that a job killed again at its time limit before the end left a log that never
    said whether the run had resumed or started again; it now says it before it samples, with the
    calls the earlier runs made, and a fit that starts afresh says nothing of the kind."""
    runner = nautilus_runner if method == "nautilus" else dynesty_runner
    capped = _problem(tmp_path, data, method, checkpoint_every=0, **cap)
    capsys.readouterr()
    first = runner.run(capped, dict(capped.config.inference.settings), progress=True, checkpoint_dir=tmp_path)
    assert not first.info["resumed"] and "resuming" not in capsys.readouterr().err
    problem = _problem(tmp_path, data, method, checkpoint_every=0, **raised)
    resumed = runner.run(problem, dict(problem.config.inference.settings), progress=True, checkpoint_dir=tmp_path)
    err = " ".join(capsys.readouterr().err.split())  # however a long path is laid out
    assert resumed.info["resumed"]
    said = re.search(rf"{method} resuming its checkpoint (.+?): ([\d,]+) likelihood calls", err)
    assert said, err
    assert said.group(1).endswith(filenames.CHECKPOINTS[method])
    assert int(said.group(2).replace(",", "")) == first.n_likelihood_evals
    assert err.index("resuming its checkpoint") < err.rindex(f"{method} | calls")  # before the sampling's lines


def _capped_fit_keeping_its_checkpoint(tmp_path: Path, data: dict, inference: dict) -> dict:
    """The tiny lens fitted with ``inference`` (capped, without the pipeline) into tmp_path/output,
    so that its sampler's checkpoint is kept there; its config, as a mapping."""
    config = write_tiny_lens(tmp_path, inference, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tinylens.fit(config, progress=False, pipeline=False)  # capped: its checkpoint kept
    return yaml.safe_load(config.read_text())


def _unresumed_warning(tmp_path: Path, data: dict, cfg: dict, method: str, change) -> str:
    """The CheckpointWarning a fit of ``cfg`` with ``change`` made to it gives for ``method``'s
    checkpoint in tmp_path/output (which it must not resume), its whitespace evened out."""
    from tinylens.fitting.resume import _warn_unresumed
    from tinylens.fitting.checks import without_pipeline
    from tinylens.inference import resumed_checkpoints

    changed = copy.deepcopy(cfg)
    change(changed, data)
    problem = without_pipeline(tinylens.load(changed, base_dir=tmp_path))
    assert filenames.CHECKPOINTS[method] not in resumed_checkpoints(problem, tmp_path / "output")
    with pytest.warns(CheckpointWarning) as caught:
        _warn_unresumed(problem, tmp_path / "output")
    return " ".join(str(caught[0].message).split())


def test_the_samplers_checkpoint_of_another_fit_is_said_to_differ_by_what_it_records(tmp_path, data):
    """checkpoint.hdf5 of another fit (a prior changed, or n_live) was said by the fit's
    CheckpointWarning to be of 'other data, model, priors, precision or sampler settings than this
    config's', a list of guesses, where the pipeline's state names what differs; the checkpoint
    now records its fingerprint's parts (nautilus_runner.PARTS_ATTR) and the warning names the
    one that differs: 'other priors', 'other n_live settings'. A checkpoint that records none (an
    older tinylens's) is said as before; whether it is resumed is unchanged (it is not)."""
    import h5py

    cfg = _capped_fit_keeping_its_checkpoint(tmp_path, data, _inference(n_like_max=SMALL_CAP))
    out = tmp_path / "output"
    checkpoint = out / filenames.CHECKPOINTS["nautilus"]
    said = functools.partial(_unresumed_warning, tmp_path, data, cfg, "nautilus")

    text = said(_change_prior)
    assert f"checkpoint.hdf5 in {out}: of another fit (other priors than this config's)" in text, text
    text = said(_change_sampler)
    assert "of another fit (other n_live settings than this config's)" in text, text
    from tinylens.inference.nautilus_runner import PARTS_ATTR

    with h5py.File(checkpoint, "r+") as handle:  # as an older tinylens wrote it
        del handle.attrs[PARTS_ATTR]
    assert "(other data, model, priors, precision or sampler settings than this config's)" in said(_change_prior)


def test_dynestys_checkpoint_of_another_fit_is_said_to_differ_by_what_it_records(tmp_path, data):
    """checkpoint_dynesty.pkl of another fit recorded no parts of its fingerprint, so the fit's
    CheckpointWarning said it was of 'other data, model, priors, precision or sampler settings than
    this config's' where nautilus's names what differs; the pickled sampler now records them
    (tinylens_parts, dynesty_runner.checkpoint_parts) and the warning names the one that differs.
    A checkpoint that records none (an older tinylens's) is said as before, and resumed as before."""
    import pickle

    from tinylens.fitting.checks import without_pipeline
    from tinylens.inference import resumed_checkpoints

    inference = {"type": "sampler", "method": "dynesty",
                 "settings": {"nlive": 50, "maxcall": 300, "checkpoint_every": 0, "seed": 3}}
    cfg = _capped_fit_keeping_its_checkpoint(tmp_path, data, inference)
    out = tmp_path / "output"
    checkpoint = out / filenames.CHECKPOINTS["dynesty"]
    assert checkpoint.is_file()
    said = functools.partial(_unresumed_warning, tmp_path, data, cfg, "dynesty")

    text = said(_change_prior)
    assert f"checkpoint_dynesty.pkl in {out}: of another fit (other priors than this config's)" in text, text
    text = said(_change_sampler)
    assert "of another fit (other nlive settings than this config's)" in text, text

    with checkpoint.open("rb") as handle:  # as an older tinylens wrote it: no parts
        saved = pickle.load(handle)
    del saved["sampler"].tinylens_parts
    with checkpoint.open("wb") as handle:
        pickle.dump(saved, handle)
    assert "(other data, model, priors, precision or sampler settings than this config's)" in said(_change_prior)
    problem = without_pipeline(tinylens.load(copy.deepcopy(cfg), base_dir=tmp_path))
    assert filenames.CHECKPOINTS["dynesty"] in resumed_checkpoints(problem, out)  # still this fit's: resumed


def test_the_docs_say_a_converged_fit_deletes_its_checkpoints_and_a_capped_one_keeps_them(tmp_path, data):
    """The README said 'a finished fit deletes them' (the checkpoints), docs/config.md's keep_checkpoint row
    'after a finished fit' and the key's description 'after a fit completes', but a fit stopped by its
    call cap finishes, writes its results and keeps checkpoint.hdf5 (deliberately: raising the cap continues
    it); only a converged fit deletes them. The three now say so; a capped fit keeps them, as they say."""
    from tinylens.config.schema import Output

    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    out = tmp_path / "output"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = tinylens.fit(config, progress=False, pipeline=False)
    assert not res.converged and (out / filenames.RESULT).is_file()
    assert (out / filenames.CHECKPOINTS["nautilus"]).is_file()  # finished, results written, checkpoint kept
    root = Path(__file__).parents[2]
    readme = " ".join((root / "README.md").read_text().split())
    assert "a finished fit deletes them" not in readme
    assert "a converged fit deletes them once its results are written, unless `output.keep_checkpoint: true`" in readme
    assert "A fit that did not converge (stopped by its likelihood-call cap, `n_like_max`" in readme
    row = next(line for line in (root / "docs" / "config.md").read_text().splitlines()
               if line.startswith("| `output.keep_checkpoint`"))
    assert "after a finished fit" not in row and "keep the checkpoints after a converged fit" in row, row
    assert "a fit that did not converge, stopped by its likelihood-call cap or `timeout`, keeps them either way" in row
    described = Output.model_fields["keep_checkpoint"].description
    assert "converged fit" in described and "did not converge" in described and "completes" not in described


class _Killed(Exception):
    """The fit's process killed (a stand-in: a real kill leaves the files as this leaves them)."""


def _killed_after_widening(tmp_path, data, monkeypatch) -> tuple[Path, dict]:
    """A dynesty pipeline fit whose run 1 (sampled for real, its checkpoint kept) crowded the box's
    edge, killed as run 2 starts: its config, and the stages' state it left (the widened box)."""
    from tinylens.pipeline import box as bx

    inference = {"type": "sampler", "method": "dynesty",
                 "settings": {"nlive": 50, "maxcall": 300, "checkpoint_every": 0, "seed": 3}}
    config = write_tiny_lens(tmp_path, inference, data)
    out = tmp_path / "output"
    checkpoint = out / filenames.CHECKPOINTS["dynesty"]
    real_run, real_edges, runs = dynesty_runner.run, bx.crowded_edges, []

    def run(problem, settings, **kw):  # run 1 sampled for real (its checkpoint kept), as if converged
        runs.append(settings)
        if len(runs) > 1:
            assert checkpoint.is_file()  # run 1's, as run 2 finds it before it writes its own
            raise _Killed
        return dataclasses.replace(real_run(problem, settings, **kw), converged=True)

    def crowded(samples, weights, priors, lower, upper, own_range=False):  # run 1 crowds theta_E's upper edge
        return [(0, "upper")] if len(runs) == 1 else real_edges(samples, weights, priors, lower, upper, own_range)

    monkeypatch.setattr(dynesty_runner, "run", run)
    monkeypatch.setattr(bx, "crowded_edges", crowded)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(_Killed):
            tinylens.fit(config, progress=False)
    monkeypatch.undo()
    state = json.loads((out / filenames.PIPELINE_STATE).read_text())
    assert len(state["runs"]) == 1 and checkpoint.is_file()  # the widened box saved, run 1's checkpoint there
    return config, state


def test_a_fit_killed_after_widening_its_box_says_the_checkpoint_is_its_own_earlier_run(tmp_path, data, monkeypatch):
    """A pipeline fit whose first sampling run crowded the box's edge saves the widened box in its
    stages' state, then starts run 2, whose sampler writes its own checkpoint only as it goes on:
    killed in between, the folder holds the widened box beside run 1's checkpoint. Resumed, the fit
    said that checkpoint was 'of another fit (other priors than this config's)', though the config
    is unchanged; it now says it is this fit's run 1, in the box it widened, and that run 2 samples
    the widened box from the beginning (which is what it does: the checkpoint is not resumed)."""
    from tinylens.fitting.resume import _warn_unresumed
    from tinylens.inference import resumed_checkpoints

    config, state = _killed_after_widening(tmp_path, data, monkeypatch)
    out = tmp_path / "output"

    problem = tinylens.load(config)
    assert filenames.CHECKPOINTS["dynesty"] not in resumed_checkpoints(problem, out)  # another box's: not resumed
    with pytest.warns(CheckpointWarning) as caught:
        _warn_unresumed(problem, out)
    text = " ".join(str(caught[0].message).split())
    assert "other priors" not in text and "another fit" not in text, text
    assert f"checkpoint_dynesty.pkl in {out}: it is this fit's own sampling run 1, in the box it then widened" in text
    assert "run 2 samples the widened box from the beginning" in text, text

    sampled = []  # and the fit, run again, samples run 2 in the widened box, as it said

    def resumed(problem, settings, **kw):
        sampled.append([p.support for p in problem.priors])
        raise _Killed

    monkeypatch.setattr(dynesty_runner, "run", resumed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(_Killed):
            tinylens.fit(config, progress=False)
    assert len(sampled) == 1
    assert np.allclose([lo for lo, _ in sampled[0]], state["box"][0])
    assert np.allclose([hi for _, hi in sampled[0]], state["box"][1])
    assert state["box"] != state["widened_from"]


def test_a_fit_killed_after_widening_then_given_other_sampler_settings_is_not_told_of_other_priors(
        tmp_path, data, monkeypatch):
    """Killed after widening its box (run 1's checkpoint beside the wider box), then run again with
    another nlive: the checkpoint is not resumed, and the warning said it was made with 'other
    priors, nlive settings than this config's', though the priors are the config's (its box is the
    one run 1 sampled); it names the setting changed, and not the priors."""
    from tinylens.fitting.resume import _warn_unresumed
    from tinylens.inference import resumed_checkpoints

    config, _ = _killed_after_widening(tmp_path, data, monkeypatch)
    out = tmp_path / "output"
    _set_settings(config, nlive=60, maxcall=300, checkpoint_every=0, seed=3)
    problem = tinylens.load(config)
    assert filenames.CHECKPOINTS["dynesty"] not in resumed_checkpoints(problem, out)
    with pytest.warns(CheckpointWarning) as caught:
        _warn_unresumed(problem, out)
    text = " ".join(str(caught[0].message).split())
    assert f"checkpoint_dynesty.pkl in {out}: of another fit (other nlive settings than this config's)" in text, text
    assert "priors" not in text and "this fit's own" not in text, text


@pytest.mark.parametrize("h5_error", [
    OSError("Unable to synchronously create file (unable to open file: name = '{path}', flags = 13, o_flags = 242)"),
    OSError("Can't write data (file write failed: time = Mon Dec  7 23:40:51 2026\n, filename = '{path}', "
            "file descriptor = 3, errno = 5, error message = 'Input/output error', buf = 0x5649, offset = 2048)"),
    RuntimeError("Can't close dataset (file write failed: filename = '{path}', file descriptor = 16, errno = 5, "
                 "error message = 'Input/output error', total write size = 9376)"),
], ids=["no_errno", "errno_in_its_text", "runtime_error"])
def test_a_checkpoint_write_on_a_failing_disk_is_said_with_what_to_check(tmp_path, data, monkeypatch, h5_error):
    """h5py's OSErrors of a checkpoint written on a failing disk carry no errno (older h5py; one
    that names none in its text), or one only in their text, as does its RuntimeError of a close:
    none was marked as the write of an output, so `tinylens fit` ended in a Python traceback, not
    the failing disk's paragraph. It now names the checkpoint, h5py's cause, what to check and that
    the fit resumes, exit 2; the earlier checkpoint, finished, is kept byte for byte."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    out = tmp_path / "output"
    checkpoint = out / filenames.CHECKPOINTS["nautilus"]
    real = nautilus_runner.Sampler.write
    earlier: list[bytes] = []

    def failing(self, path, overwrite=False):
        if checkpoint.is_file():  # the second write fails: the first is the checkpoint a rerun resumes
            earlier.append(checkpoint.read_bytes())
            raise type(h5_error)(str(h5_error).replace("{path}", str(path)))
        return real(self, path, overwrite=overwrite)

    monkeypatch.setattr(nautilus_runner.Sampler, "write", failing)
    monkeypatch.setattr(nautilus_runner.CheckpointedSampler, "checkpoint_every", 0.0)
    run = CliRunner().invoke(app, ["fit", str(config), "-q"])
    said = " ".join(run.output.split())
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), (repr(run.exception), said)
    assert "Traceback" not in said and f"{checkpoint} cannot be written" in said, said
    cause = "Unable to synchronously create file" if h5_error.args[0].startswith("Unable") else "Input/output error"
    assert cause in said and "dmesg" in said, said
    assert "the checkpoints written before are kept" in said and "to resume it" in said, said
    assert earlier and checkpoint.read_bytes() == earlier[-1] and not (out / filenames.RESULT).exists()
    assert not [p.name for p in out.iterdir() if ".unfinished-" in p.name]


@pytest.mark.parametrize("h5_error", [
    OSError(errno.EIO, "Unable to synchronously create file (file write failed: time = Tue Dec  8 00:10:43 2026\n, "
            "filename = '{path}', file descriptor = 3, errno = 5, error message = 'Input/output error', "
            "buf = 0x565017910a38, total write size = 96, bytes this sub-write = 96, offset = 0)"),
    OSError("Unable to synchronously create file (unable to open file: name = '{path}', flags = 13, o_flags = 242)"),
], ids=["h5py_3_16", "no_errno"])
def test_a_checkpoint_write_h5py_failed_is_said_by_its_one_line_cause_naming_the_checkpoint(tmp_path, data, monkeypatch,
                                                                                             h5_error):
    """h5py 3.16 raises a failed write as an OSError with its errno and, as its reason, h5py's whole
    text (as an LD_PRELOAD pwrite failing with EIO showed: a 'time = ...' line, the hidden temporary's
    name, buffers and offsets): `tinylens fit`'s paragraph showed all of it, the '.unfinished-' name
    beside the checkpoint's. It now says the checkpoint and the one-line cause ('Input/output error';
    for h5py's error with no number, 'Unable to synchronously create file: unable to open file')."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    checkpoint = tmp_path / "output" / filenames.CHECKPOINTS["nautilus"]

    def failing(self, path, overwrite=False):
        if h5_error.errno is None:
            raise OSError(h5_error.args[0].replace("{path}", str(path)))
        raise OSError(h5_error.errno, h5_error.strerror.replace("{path}", str(path)))

    monkeypatch.setattr(nautilus_runner.Sampler, "write", failing)
    run = CliRunner().invoke(app, ["fit", str(config), "-q"])
    said = " ".join(run.output.split())
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), (repr(run.exception), said)
    cause = "Input/output error" if h5_error.errno else "h5py: Unable to synchronously create file: unable to open file"
    assert f"{checkpoint} cannot be written ({cause}: " in said and "dmesg" in said, said
    assert "time =" not in said and ".unfinished-" not in said and "buf =" not in said, said


#: h5py 3.16's error where HDF5 could not lock the file it creates (an LD_PRELOAD flock failing with
#: ENOLCK, as on an NFS mount without its lock service, gave it).
H5_LOCK_ERROR = ("Unable to synchronously create file (unable to lock file, errno = 37, error message = "
                 "'No locks available')")


def test_a_checkpoint_hdf5_cannot_lock_says_to_set_hdf5_use_file_locking(tmp_path, data, monkeypatch):
    """On NFS without its lock service HDF5's lock of the checkpoint it writes fails (ENOLCK), which
    `tinylens fit` said as a failing disk ('check the disk ... dmesg ..., df -h'), though no disk was
    failing and a run again failed the same way: the fix is HDF5_USE_FILE_LOCKING=FALSE. It now says
    that HDF5 could not lock the file on this file system and to set that variable, exit 2."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    checkpoint = tmp_path / "output" / filenames.CHECKPOINTS["nautilus"]

    def no_locks(self, path, overwrite=False):
        raise OSError(errno.ENOLCK, H5_LOCK_ERROR)

    monkeypatch.setattr(nautilus_runner.Sampler, "write", no_locks)
    run = CliRunner().invoke(app, ["fit", str(config), "-q"])
    said = " ".join(run.output.split())
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), (repr(run.exception), said)
    assert f"{checkpoint} cannot be written (No locks available: HDF5 locks each file it writes" in said, said
    assert "set the environment variable HDF5_USE_FILE_LOCKING=FALSE" in said and "to resume it" in said, said
    assert "dmesg" not in said and "Traceback" not in said, said


@pytest.mark.skipif("save_evaluation_history" not in dynesty_runner.SAMPLER_KEYS,
                    reason="dynesty < 3.0 has no evaluation history")
def test_a_failing_disk_emptying_dynestys_history_on_a_resume_is_said_not_a_traceback(tmp_path, data, monkeypatch):
    """A stopped dynesty fit resumed with save_evaluation_history on starts its history file and
    empties dynesty's 10,000 rows of room (_empty_history); h5py's error of a disk failing that
    write (h5py 3.16's OSError, errno 5 and its whole text) was taken for the checkpoint's: 'The
    checkpoint .../checkpoint_dynesty.pkl could not be read (OSError: [Errno 5] Unable to
    synchronously open file (...))', the checkpoint deleted and the sampling started again (on a disk
    still failing, dynesty's own write of the history then ended in a traceback). It is now the
    failing disk's paragraph naming the history file, exit 2, the checkpoint kept byte for byte."""
    import h5py
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "dynesty", "settings": {"maxcall": 300}}, data)
    out = tmp_path / "output"
    runner = CliRunner()
    first = runner.invoke(app, ["fit", str(config), "-q"])
    assert first.exit_code == 0 and (out / filenames.CHECKPOINTS["dynesty"]).is_file(), first.output
    _set_settings(config, maxcall=600, save_evaluation_history=True)
    history = out / filenames.DYNESTY_HISTORY
    checkpoint = out / filenames.CHECKPOINTS["dynesty"]
    earlier = checkpoint.read_bytes()
    real = h5py.File

    def failing(name, mode="r", *args, **kwargs):
        if mode == "r+" and os.fspath(name) == str(history):
            raise OSError(errno.EIO, "Unable to synchronously open file (file write failed: time = Tue Dec  8 "
                          f"00:10:43 2026\n, filename = '{name}', file descriptor = 3, errno = 5, error message = "
                          "'Input/output error', buf = 0x5650, total write size = 96, offset = 0)")
        return real(name, mode, *args, **kwargs)

    monkeypatch.setattr(dynesty_runner.h5py, "File", failing)
    run = runner.invoke(app, ["fit", str(config), "-q"])
    said = " ".join(run.output.split())
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), (repr(run.exception), said)
    assert f"{history} cannot be written (Input/output error: the disk" in said and "dmesg" in said, said
    assert "Traceback" not in said and "time =" not in said and "could not be read" not in said, said
    assert checkpoint.read_bytes() == earlier


def test_a_checkpoint_hdf5_cannot_lock_to_read_is_kept_and_says_to_set_hdf5_use_file_locking(tmp_path, data,
                                                                                               monkeypatch):
    """A nautilus fit stopped with its checkpoint, resumed where HDF5 cannot lock the file to read
    it (h5py's '[Errno 37] Unable to synchronously open file (unable to lock file, errno = 37, ...)':
    NFS without its lock service, HDF5_USE_FILE_LOCKING=FALSE exported for the first run only), was
    told 'The checkpoint ... could not be read (OSError: ...); it is deleted and the sampling starts
    again': the checkpoint, whole, deleted for a file system's refused lock. It is now kept byte for
    byte, and the fit stops, exit 2, saying to set HDF5_USE_FILE_LOCKING=FALSE and run again to resume."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    config = write_tiny_lens(tmp_path, _inference(n_like_max=SMALL_CAP), data)
    checkpoint = tmp_path / "output" / filenames.CHECKPOINTS["nautilus"]
    runner = CliRunner()
    first = runner.invoke(app, ["fit", str(config), "-q"])
    assert first.exit_code == 0 and checkpoint.is_file(), first.output
    earlier = checkpoint.read_bytes()
    real = h5py.File

    def no_locks(name, mode="r", *args, **kwargs):
        if os.fspath(name) == str(checkpoint):  # as HDF5's flock gives on such a mount, for reading and writing
            raise OSError(errno.ENOLCK, "Unable to synchronously open file (unable to lock file, errno = 37, "
                          "error message = 'No locks available')")
        return real(name, mode, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", no_locks)
    run = runner.invoke(app, ["fit", str(config), "-q"])
    said = " ".join(run.output.split())
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), (repr(run.exception), said)
    assert f"The checkpoint {checkpoint} cannot be opened (No locks available: HDF5 locks each file" in said, said
    assert "Set the environment variable HDF5_USE_FILE_LOCKING=FALSE" in said and "to resume it" in said, said
    assert "could not be read" not in said and "Traceback" not in said, said
    assert checkpoint.read_bytes() == earlier


def test_only_hdf5s_refused_lock_is_told_to_set_hdf5_use_file_locking():
    """h5_system_error marked every ENOLCK of h5py's as HDF5's refused lock, so a write's (h5py's
    'Can't write data (file write failed: ..., errno = 37, ...)', which no HDF5_USE_FILE_LOCKING
    mends) was told to set HDF5_USE_FILE_LOCKING=FALSE; only h5py's 'unable to lock file' is now,
    the other said as the network file system's (dmesg)."""
    from tinylens.errors import disk_check_text, h5_lock_failed

    write = RuntimeError("Can't write data (file write failed: time = Tue Dec  8 00:10:43 2026\n, filename = 'x', "
                         "file descriptor = 3, errno = 37, error message = 'No locks available', offset = 0)")
    lock = OSError(errno.ENOLCK, "Unable to synchronously create file (unable to lock file, errno = 37, error "
                   "message = 'No locks available')")
    said_write, said_lock = (nautilus_runner.h5_system_error(e, "/out/checkpoint.hdf5") for e in (write, lock))
    assert said_write.errno == said_lock.errno == errno.ENOLCK
    assert not h5_lock_failed(said_write) and "dmesg" in disk_check_text(said_write)
    assert h5_lock_failed(said_lock) and "HDF5_USE_FILE_LOCKING=FALSE" in disk_check_text(said_lock)
