"""A nautilus fit that stops (a likelihood-call cap, or Ctrl-C) resumes from its checkpoint when
started again; a changed config (priors, sampler settings, data) starts afresh."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import tinylens
from tiny_lens import FAST_NAUTILUS, FREE_TRUTH, tiny_config, tiny_data, write_tiny_lens
from tinylens.fit import RESULT_JSON
from tinylens.inference import nautilus_runner, run_inference
from tinylens.inference.nautilus_runner import CHECKPOINT_NAME
from tinylens.problem import Problem

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
    assert (out / CHECKPOINT_NAME).is_file()  # an unfinished search keeps its checkpoint
    assert json.loads((out / RESULT_JSON).read_text())["converged"] is False

    _set_settings(config, **FAST_NAUTILUS)  # run it again without the cap
    second = tinylens.fit(config, progress=False)
    assert second.info["resumed"] and second.converged
    assert second.info["n_like_this_run"] == second.n_likelihood_evals - first.n_likelihood_evals
    assert second.info["n_like_this_run"] < fresh_calls - CAP // 2
    _check_posterior(second)
    assert not (out / CHECKPOINT_NAME).exists()  # a converged fit removes it
    assert json.loads((out / RESULT_JSON).read_text())["info"]["resumed"] is True


def test_interrupted_fit_resumes(tmp_path, data, fresh_calls, monkeypatch):
    """Ctrl-C in the middle of sampling: no result.json, the checkpoint stays and is resumed."""
    config = write_tiny_lens(tmp_path, _inference(), data)
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
    assert (out / CHECKPOINT_NAME).is_file()
    assert not (out / RESULT_JSON).exists()
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


@pytest.mark.parametrize("change", [_change_prior, _change_sampler, _change_data], ids=["prior", "sampler", "data"])
def test_changed_config_starts_fresh(tmp_path, data, change):
    """The runner resumes only the same data, priors and sampler settings."""

    def run(cfg: dict, arrays: dict):
        folder = tmp_path / "lens"
        write_tiny_lens(folder, cfg["inference"], arrays)
        config = tiny_config(cfg["inference"])
        config["model_components"] = cfg["model_components"]
        for key in ("data_path", "noise_path", "psf_path"):
            config["dataset"][key] = str(folder / config["dataset"][key])
        problem = tinylens.load(config)
        return nautilus_runner.run(problem, dict(config["inference"]["settings"]), progress=False, checkpoint_dir=tmp_path)

    cfg, arrays = tiny_config(_inference(n_like_max=SMALL_CAP)), dict(data)
    first = run(cfg, arrays)
    assert (tmp_path / CHECKPOINT_NAME).is_file() and not first.converged
    same = run(cfg, arrays)  # the same problem resumes (and is already at its cap)
    assert same.info["resumed"] and same.info["n_like_this_run"] == 0

    change(cfg, arrays)
    cfg["inference"]["settings"]["n_like_max"] = 2 * SMALL_CAP
    second = run(cfg, arrays)
    assert not second.info["resumed"]
    assert second.info["n_like_this_run"] == second.n_likelihood_evals >= 2 * SMALL_CAP
