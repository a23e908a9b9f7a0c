"""Sampler and optimiser settings that the method would fail on are refused before a search
starts (:func:`tinylens.inference.check_inference`, ``tinylens validate``, ``tinylens.fit`` and the
runners), with a ConfigError naming the setting: never a traceback minutes into a fit, nor a
checkpoint left behind. The tiny lens has 4 free parameters."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import tinylens
from tiny_lens import FAST_NAUTILUS, tiny_config, write_tiny_lens
from tinylens import filenames
from tinylens.cli.main import app
from tinylens.config.loader import load_config
from tinylens.errors import ConfigError
from tinylens.inference import check_inference, dynesty_runner, nautilus_runner

NAUTILUS = {"type": "sampler", "method": "nautilus"}
DYNESTY = {"type": "sampler", "method": "dynesty"}
DE = {"type": "optimizer", "method": "differential_evolution"}
LBFGS = {"type": "optimizer", "method": "lbfgs"}

#: The audit's reproducers: (inference, the setting the message must name, fragments of the message).
NAUTILUS_CASE = ({**NAUTILUS, "settings": {"nlive": 50, "batch_size": 64, "n_eff": 100, "split_threshold": "100"}},
                 "split_threshold", ["'100'", "number"])
DYNESTY_CASE = ({**DYNESTY, "settings": {"nlive": 50, "bound": "elipsoid"}}, "bound",
                ["'elipsoid'", "Unknown bounding method"])
DE_CASE = ({**DE, "settings": {"strategy": "best1bn", "maxiter": 2}}, "strategy", ["'best1bn'", "mutation strategy"])
REPRODUCERS = {"nautilus": NAUTILUS_CASE, "dynesty": DYNESTY_CASE, "differential_evolution": DE_CASE}

#: Each passed the old checks and failed only once the sampler ran (a traceback, exit 1).
REFUSED = [
    NAUTILUS_CASE,
    ({**NAUTILUS, "settings": {"n_networks": "4"}}, "n_networks", ["'4'", "whole number"]),
    ({**NAUTILUS, "settings": {"n_networks": 1.5}}, "n_networks", ["1.5", "whole number"]),
    ({**NAUTILUS, "settings": {"nlive": 200.5}}, "nlive", ["200.5", "whole number"]),
    ({**DE, "settings": {"seed": 4.5}}, "seed", ["4.5", "whole number"]),
    ({**NAUTILUS, "settings": {"periodic": [4]}}, "periodic", ["[4]", "from 0 to 3"]),
    ({**NAUTILUS, "settings": {"periodic": 1}}, "periodic", ["got 1"]),
    ({**NAUTILUS, "settings": {"enlarge_per_dim": 0.9}}, "enlarge_per_dim", ["0.9", ">= 1"]),
    ({**NAUTILUS, "settings": {"enlarge_per_dim": "1.1"}}, "enlarge_per_dim", ["'1.1'"]),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": {"alpha": "x"}}}, "neural_network_kwargs.alpha", ["'x'"]),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": {"hidden_layer_sizes": [0]}}},
     "neural_network_kwargs.hidden_layer_sizes", ["[0]"]),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": {"hidden_layers": [8]}}},
     "neural_network_kwargs.hidden_layers", ["not a setting of MLPRegressor"]),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": [8]}}, "neural_network_kwargs", ["mapping", "[8]"]),
    ({**NAUTILUS, "settings": {"n_points_min": 4}}, "n_points_min", [">= 5", "got 4"]),
    ({**NAUTILUS, "settings": {"n_points_min": "60"}}, "n_points_min", ["'60'"]),
    ({**NAUTILUS, "settings": {"nlive": 4}}, "nlive", ["more than the number of free parameters (4)", "got 4"]),
    ({**NAUTILUS, "settings": {"n_shell": "x"}}, "n_shell", ["'x'"]),
    ({**NAUTILUS, "settings": {"checkpoint_every": -1}}, "checkpoint_every", ["-1", "seconds >= 0"]),
    ({**NAUTILUS, "settings": {"nlive": 50, "n_live": 100}}, "nlive", ["as 'n_live'", "got 50 and 100"]),
    ({**NAUTILUS, "settings": {"batch_size": 64, "n_batch": 64}}, "batch_size", ["as 'n_batch'"]),
    # passed the check, and ran out of memory once nautilus drew its first batch (a run that never explores)
    ({**NAUTILUS, "settings": {"n_batch": 10**12}}, "n_batch", ["from 1 to 1048576", "got 1000000000000"]),
    ({**NAUTILUS, "settings": {"batch_size": 2**20 + 1}}, "batch_size", ["from 1 to 1048576", "got 1048577"]),
    ({**NAUTILUS, "settings": {"nlive": 10**12}}, "nlive", ["from 5 to 1048576", "got 1000000000000"]),
    DYNESTY_CASE,
    ({**DYNESTY, "settings": {"sample": "rwlak"}}, "sample", ["'rwlak'"]),
    ({**DYNESTY, "settings": {"update_interval": "x"}}, "update_interval", ["'x'"]),
    ({**DYNESTY, "settings": {"first_update": {"min_calls": 10}}}, "first_update", ["min_calls"]),
    ({**DYNESTY, "settings": {"reflective": [0, 9]}}, "reflective", ["[0, 9]", "from 0 to 3"]),
    ({**DYNESTY, "settings": {"checkpoint_every": "1 min"}}, "checkpoint_every", ["'1 min'"]),
    ({**DYNESTY, "settings": {"nlive": 50, "n_live": 60}}, "n_live", ["as 'nlive'", "got 60 and 50"]),
    # passed the check: one live point stopped at once (a plateau: log Z from one point), a queue of 1e7
    # proposals failed mid-run starting a thread for each, and 1e12 live points ran out of memory
    ({**DYNESTY, "settings": {"nlive": 1}}, "nlive", ["from 9 to 1048576", "got 1"]),
    ({**DYNESTY, "settings": {"n_live": 1}}, "n_live", ["from 9 to 1048576", "got 1"]),
    # dynesty only warned ('nlive <= 2 * ndim is extremely risky'): 2 failed with 'unif' (no ellipsoid of
    # one point), 3 to 8 with 'unif' ran past 500,000 calls unconverged on the tiny lens's 4 parameters
    ({**DYNESTY, "settings": {"nlive": 2}}, "nlive", ["from 9 to 1048576", "twice the number of free parameters, 4",
                                                     "got 2"]),
    ({**DYNESTY, "settings": {"n_live": 8, "sample": "unif"}}, "n_live", ["from 9 to 1048576", "got 8"]),
    ({**DYNESTY, "settings": {"batch_size": 10**7}}, "batch_size", ["from 1 to 4096", "got 10000000", "thread"]),
    ({**DYNESTY, "settings": {"queue_size": 4097}}, "queue_size", ["from 1 to 4096", "got 4097"]),
    ({**DYNESTY, "settings": {"nlive": 10**12}}, "nlive", ["from 9 to 1048576", "got 1000000000000"]),
    # dynesty only asserts these (the message was "dynesty refuses 0.5 (AssertionError)")
    ({**DYNESTY, "settings": {"enlarge": 0.5}}, "enlarge", ["0.5", "a number >= 1"]),
    ({**DYNESTY, "settings": {"bootstrap": 1}}, "bootstrap", ["got 1", "0 (none) or a whole number >= 2"]),
    ({**DYNESTY, "settings": {"bootstrap": -3}}, "bootstrap", ["got -3", "0 (none) or a whole number >= 2"]),
    DE_CASE,
    ({**DE, "settings": {"mutation": 3}}, "mutation", ["3"]),
    ({**DE, "settings": {"recombination": "high"}}, "recombination", ["'high'"]),
    ({**DE, "settings": {"init": "sobl"}}, "init", ["'sobl'"]),
    ({**DE, "settings": {"updating": "later"}}, "updating", ["'later'"]),
    ({**DE, "settings": {"atol": "x"}}, "atol", ["'x'"]),
    # scipy's keywords that tinylens sets itself, which TinyLensGpu passes on to scipy: they were
    # "not a setting of differential_evolution", though they are scipy's
    ({**DE, "settings": {"workers": -1}}, "workers", ["a keyword of scipy's differential_evolution that tinylens "
                                                      "sets itself", "one batched likelihood call", "remove it"]),
    ({**DE, "settings": {"x0": [1.0, 0.2, 0.1, 0.0]}}, "x0", ["sets itself", "narrow the priors"]),
    ({**DE, "settings": {"vectorized": False}}, "vectorized", ["sets itself"]),
    ({**DE, "settings": {"rng": 3}}, "rng", ["give seed instead"]),
    # passed the check (its dummy population is capped at 15) and ran out of memory drawing the population
    ({**DE, "settings": {"popsize": 10**12}}, "popsize", ["from 1 to 262144", "popsize x 4", "got 1000000000000"]),
    ({**DE, "settings": {"popsize": 2**18 + 1}}, "popsize", ["from 1 to 262144", "got 262145"]),
    # passed the check and ran out of memory drawing the starts' candidates from the priors
    ({**LBFGS, "settings": {"n_draws": 10**12}}, "n_draws", ["from 1 to 1048576", "got 1000000000000"]),
    # more starts than draws to start from ran n_draws starts, silently
    ({**LBFGS, "settings": {"n_starts": 20, "n_draws": 16}}, "n_starts", ["n_draws (16)", "20 starts"]),
    ({**LBFGS, "settings": {"n_starts": 2000}}, "n_starts", ["n_draws (1024, its default)", "2000 starts"]),
    # passed the check and ran for ever (or until memory ran out): a proposal of 1e12 steps, 1e12 networks
    # trained for each bound, 1e12 points in each shell, an effective sample size no run reaches
    ({**DYNESTY, "settings": {"walks": 10**12}}, "walks", ["from 1 to 100000", "got 1000000000000",
                                                          "or 20 + the number of free parameters in dynesty 3"]),
    ({**DYNESTY, "settings": {"sample": "slice", "slices": 30_001}}, "slices", ["from 1 to 30000", "got 30001"]),
    ({**NAUTILUS, "settings": {"n_networks": 10**12}}, "n_networks", ["from 0 to 100", "got 1000000000000"]),
    ({**NAUTILUS, "settings": {"n_shell": 2**20 + 1}}, "n_shell", ["from 1 to 1048576", "got 1048577"]),
    # passed the check, then nautilus's first checkpoint (HDF5, 64-bit integers) raised a TypeError: a traceback
    ({**NAUTILUS, "settings": {"n_update": 10**20}}, "n_update",
     ["from 1 to 9223372036854775807", "got 100000000000000000000", "64-bit integer"]),
    ({**NAUTILUS, "settings": {"n_like_new_bound": 2**63}}, "n_like_new_bound",
     ["from 0 to 9223372036854775807", "got 9223372036854775808", "64-bit integer"]),
    ({**NAUTILUS, "settings": {"n_points_min": 10**400}}, "n_points_min",
     ["to 9223372036854775807", "64-bit integer", "(401 characters)"]),
    ({**NAUTILUS, "settings": {"n_eff": 1e30}}, "n_eff", ["a number from 0 to 10000000", "got 1e+30"]),
    ({**NAUTILUS, "settings": {"n_eff": float("inf")}}, "n_eff", ["a number from 0 to 10000000", "got inf"]),
    # a number: dynesty's run always has one (0.1 when left out), and its convergence is judged by it
    ({**DYNESTY, "settings": {"dlogz": None}}, "dlogz", ["got null", "a number > 0"]),
]
REFUSED_IDS = [f"{inf['method']}-{key}-{i}" for i, (inf, key, _) in enumerate(REFUSED)]

ACCEPTED = [
    {**NAUTILUS, "settings": FAST_NAUTILUS},
    {**NAUTILUS, "settings": {"nlive": 5, "n_networks": 0, "periodic": [0, 3], "enlarge_per_dim": 1.2,
                              "n_points_min": 5, "split_threshold": 50, "n_like_new_bound": 1000, "n_shell": 2,
                              "checkpoint_every": 0,
                              "neural_network_kwargs": {"hidden_layer_sizes": [32, 16], "alpha": 0.01}}},
    # a big GPU's: the caps on a batch and on the live points leave these far below them
    {**NAUTILUS, "settings": {"n_batch": 4096, "nlive": 50000}},
    {**NAUTILUS, "settings": {"batch_size": 2**20, "n_live": 2**20}},
    {**DYNESTY, "settings": {"nlive": 50, "bound": "single", "sample": "unif", "first_update": {"min_ncall": 100},
                             "periodic": [1], "checkpoint_every": 30}},
    {**DYNESTY, "settings": {"bound": "multi", "sample": "rwalk", "walks": 30, "batch_size": 16}},
    {**DYNESTY, "settings": {"enlarge": 1.0, "bootstrap": 0}},
    {**DYNESTY, "settings": {"nlive": 9, "batch_size": 4096}},
    {**DYNESTY, "settings": {"bootstrap": 2}},
    # the caps on settings that would make a run endless leave their largest sensible values: a day's
    # calls for a fit of 300 live points (walks 10,001 or slices 1,001, hours, were refused)
    {**DYNESTY, "settings": {"walks": 100_000, "slices": 30_000}},
    {**NAUTILUS, "settings": {"n_networks": 100, "n_shell": 2**20, "n_eff": 10**7, "n_like_max": 10**6}},
    {**NAUTILUS, "settings": {"n_update": 2**63 - 1, "n_like_new_bound": 2**63 - 1, "n_points_min": 2**63 - 1}},
    {**DYNESTY, "settings": {"enlarge": None, "bootstrap": None}},
    {**DE, "settings": {"strategy": "best2exp", "mutation": [0.5, 1.0], "recombination": 0.9, "init": "sobol",
                        "updating": "deferred", "popsize": 400, "atol": 0.1}},
    {**DE, "settings": {"popsize": 2**18, "maxiter": 10**12}},
    {**LBFGS, "settings": {"n_starts": 2, "maxiter": 50}},
    {**LBFGS, "settings": {"n_draws": 2**20, "maxiter": 10**12}},
]


#: nautilus < 1.0.6 has no ``periodic`` and dynesty < 3.0 no ``save_evaluation_history``
#: (tinylens accepts those versions): cases that set them run where the installed sampler has them.
NAUTILUS_PERIODIC = "periodic" in nautilus_runner.SAMPLER_KEYS
DYNESTY_HISTORY = "save_evaluation_history" in dynesty_runner.SAMPLER_KEYS


def _runs_here(inference: dict) -> bool:
    """Whether the installed samplers have every setting that ``inference`` uses."""
    return NAUTILUS_PERIODIC or inference["method"] != "nautilus" or "periodic" not in inference.get("settings", {})


def _case(*values):
    """A parametrized case, skipped where the installed sampler lacks a setting it uses."""
    return pytest.param(*values, marks=pytest.mark.skipif(not _runs_here(values[0]),
                                                          reason="the installed nautilus has no 'periodic' (1.0.6)"))


def _config(inference: dict):
    return load_config(tiny_config(inference))[0]


@pytest.mark.parametrize("inference, key, fragments", [_case(*case) for case in REFUSED], ids=REFUSED_IDS)
def test_refused_before_running(inference, key, fragments):
    with pytest.raises(ConfigError) as err:
        check_inference(_config(inference))
    message = str(err.value)
    assert message.startswith(f"inference.settings.{key}:"), message
    assert inference["method"] in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize("inference", [_case(inf) for inf in ACCEPTED], ids=lambda inf: inf["method"])
def test_valid_settings_pass(inference):
    check_inference(_config(inference))


#: Whole-number settings written as floats with no fraction (``nlive: 200.0``), per method.
WHOLE_AS_FLOAT = [
    {**NAUTILUS, "settings": {"nlive": 200.0, "n_batch": 64.0, "n_networks": 1.0, "seed": 4.0, "n_points_min": 50.0,
                              "n_like_new_bound": 1000.0, "n_shell": 2.0}},
    {**DYNESTY, "settings": {"nlive": 50.0, "bound": "multi", "sample": "rwalk", "walks": 30.0, "bootstrap": 2.0,
                             "batch_size": 16.0, "maxcall": 1000.0, "ncdim": 4.0}},
    {**DE, "settings": {"popsize": 40.0, "maxiter": 10.0, "seed": 0.0}},
    {**LBFGS, "settings": {"n_starts": 2.0, "maxiter": 50.0}},
]


@pytest.mark.parametrize("inference", WHOLE_AS_FLOAT, ids=lambda inf: inf["method"])
def test_a_whole_number_written_with_a_fraction_of_zero_is_taken(inference):
    """``nlive: 200.0`` was refused ("must be a whole number >= 1 for nautilus, got 200.0") while
    ``2e2`` was taken: it is the whole number it writes, for every setting that is a count or a seed."""
    config = _config(inference)
    check_inference(config)
    settings = config.inference.settings
    assert settings == {k: int(v) if isinstance(v, float) else v for k, v in inference["settings"].items()}
    assert all(type(v) is int for v in settings.values() if not isinstance(v, str))


def test_every_whole_number_setting_takes_a_float_with_no_fraction():
    """Each setting that :data:`VALUE_RULES` checks to be a whole number is one that the schema
    reads ``200.0`` of as ``200``."""
    from tinylens.config.schema import WHOLE_SETTINGS
    from tinylens.inference.common import VALUE_RULES

    whole = {key for key, (what, _) in VALUE_RULES.items() if "whole number" in what}
    assert whole and whole <= WHOLE_SETTINGS, whole - WHOLE_SETTINGS


def test_a_whole_number_of_nautiluss_networks_written_with_a_fraction_of_zero_is_taken():
    """In neural_network_kwargs (scikit-learn's MLPRegressor), max_iter: 1e4 was taken but
    max_iter: 10000.0 refused ('must be an int in the range [1, inf). Got 10000.0'), as nlive: 200.0
    was at the top level; likewise hidden_layer_sizes: [100.0, 50.0]. A real number stays one."""
    network = {"max_iter": 10000.0, "hidden_layer_sizes": [100.0, 50.0], "random_state": 0.0, "alpha": 1.0}
    config = _config({**NAUTILUS, "settings": {"nlive": 50, "neural_network_kwargs": network}})
    check_inference(config)
    taken = config.inference.settings["neural_network_kwargs"]
    assert taken == network and type(taken["max_iter"]) is int and type(taken["random_state"]) is int, taken
    assert all(type(n) is int for n in taken["hidden_layer_sizes"]) and type(taken["alpha"]) is float
    refused = _config({**NAUTILUS, "settings": {"nlive": 50, "neural_network_kwargs": {"max_iter": 100.5}}})
    with pytest.raises(ConfigError, match="neural_network_kwargs.max_iter"):
        check_inference(refused)


def test_every_whole_number_setting_of_nautiluss_networks_takes_a_float_with_no_fraction():
    """Each MLPRegressor setting that scikit-learn checks to be an integer is one the schema reads
    ``10000.0`` of as ``10000``."""
    from numbers import Integral

    from sklearn.neural_network import MLPRegressor

    from tinylens.config.schema import NETWORK_WHOLE_SETTINGS

    constraints = getattr(MLPRegressor, "_parameter_constraints", None)
    if constraints is None:
        pytest.skip("this scikit-learn does not list its parameters' constraints")
    whole = {name for name, kinds in constraints.items() if any(getattr(k, "type", None) is Integral for k in kinds)}
    assert whole and whole <= NETWORK_WHOLE_SETTINGS, whole - NETWORK_WHOLE_SETTINGS


#: Settings given YAML's true, false or null where they take none, with what the message must hold.
YAML_WORDS_REFUSED = [
    ({**NAUTILUS, "settings": {"nlive": True}}, "nlive", "got true (in a YAML file, an unquoted yes, on or true reads as true)."),
    ({**NAUTILUS, "settings": {"nlive": True, "n_live": None}}, "nlive", "(got true and null); give one of them."),
    ({**NAUTILUS, "settings": {"n_points_min": True}}, "n_points_min", "got true (in a YAML file, an unquoted yes, on or true reads as true)."),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": False}}, "neural_network_kwargs", "got false (in a YAML file, an unquoted no, off or false reads as false)."),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": {"random_state": None}}},
     "neural_network_kwargs.random_state", "cannot store null in its checkpoint; use a number, a string or a list "
                                           "of numbers."),
    ({**DYNESTY, "settings": {"periodic": True}}, "periodic", "got true (in a YAML file, an unquoted yes, on or true reads as true)."),
    ({**DYNESTY, "settings": {"seed": False}}, "seed", "got false (in a YAML file, an unquoted no, off or false reads as false)."),
    ({**DYNESTY, "settings": {"ncdim": True}}, "ncdim", "got true (in a YAML file, an unquoted yes, on or true reads as true)."),
    ({**DYNESTY, "settings": {"history_filename": False}}, "history_filename", "got false (in a YAML file, an unquoted no, off or false reads as false)."),
    ({**DYNESTY, "settings": {"bound": True}}, "bound", "dynesty refuses true ("),
]


@pytest.mark.parametrize("inference, key, fragment", YAML_WORDS_REFUSED,
                         ids=[f"{inf['method']}-{key}" for inf, key, _ in YAML_WORDS_REFUSED])
def test_a_refused_setting_is_shown_as_yaml_writes_it(inference, key, fragment):
    """``nlive: true`` got 'must be a whole number >= 1 for nautilus, got True': the value is
    shown as the config writes it (true, false, null), as the schema's own messages show it."""
    with pytest.raises(ConfigError) as err:
        check_inference(_config(inference))
    message = str(err.value)
    assert message.startswith(f"inference.settings.{key}:") and fragment in message, message


@pytest.mark.parametrize("inference, key, value", [(NAUTILUS, "n_live", True), (NAUTILUS, "n_points_min", False),
                                                    (DYNESTY, "periodic", True)])
def test_a_boolean_given_in_python_is_not_said_to_be_a_word_yaml_read(inference, key, value):
    """A config given as a Python mapping (``{"n_live": True}``, no YAML read) was refused with 'got true
    (YAML reads an unquoted yes, on or true as true)', a reading that never happened; the note is now
    true whatever the config's source, and still names the words a YAML file reads as the value."""
    shown = str(value).lower()
    words = [w for w in ("yes", "no", "on", "off", "true", "false") if yaml.safe_load(f"x: {w}")["x"] is value]
    assert len(words) == 3  # the independent truth: the words PyYAML reads, unquoted, as the value
    config = tiny_config({**inference, "settings": {key: value}})
    with pytest.raises(ConfigError) as err:
        check_inference(load_config(config)[0])
    message = str(err.value)
    assert message.startswith(f"inference.settings.{key}:") and f"got {shown} (" in message, message
    assert "YAML reads" not in message, message  # no YAML read this config
    note = message.split(f"got {shown} (", 1)[1]
    assert note.startswith("in a YAML file, an unquoted ") and f"reads as {shown})" in note, message
    assert all(w in note for w in words), message


def test_nautilus_needs_two_parameters():
    config = tiny_config()
    for name in ("R_sersic", "center_x", "center_y"):
        config["model_components"]["source_light_list"][0]["params"][name] = {"fixed": True, "fixed_value": 0.1}
    message = r"^inference.method: nautilus needs at least 2 free parameters, the model has 1\."
    with pytest.raises(ConfigError, match=message):
        check_inference(load_config(config)[0])
    check_inference(load_config({**config, "inference": {**DYNESTY, "settings": {"nlive": 50}}})[0])


def test_check_is_cheap_and_writes_nothing(tmp_path, monkeypatch):
    """The dummy set-ups take milliseconds and leave no file (dynesty's evaluation history is off)."""
    monkeypatch.chdir(tmp_path)
    history = [{**DYNESTY, "settings": {"save_evaluation_history": True}}] if DYNESTY_HISTORY else []
    for inference in [inf for inf in [*ACCEPTED, *history] if _runs_here(inf)]:
        config = _config(inference)
        check_inference(config)  # imports
        start = time.perf_counter()
        check_inference(config)
        assert time.perf_counter() - start < 1.0, inference
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def lens_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    write_tiny_lens(folder)
    return folder


def _absolute(lens_dir, inference: dict, output) -> dict:
    config = tiny_config(inference, output=str(output))
    for key in ("data_path", "noise_path", "psf_path"):
        config["dataset"][key] = str(lens_dir / config["dataset"][key])
    return config


@pytest.mark.parametrize("method", REPRODUCERS)
def test_fit_refuses_before_touching_output(lens_dir, tmp_path, method):
    """``tinylens.fit`` (pipeline on, as by default) raises before its output folder exists."""
    inference, key, _ = REPRODUCERS[method]
    with pytest.raises(ConfigError, match=f"^inference.settings.{key}:"):
        tinylens.fit(_absolute(lens_dir, inference, tmp_path / "out"), progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("method", ["nautilus", "dynesty"])
def test_runner_refuses_before_checkpoint(lens_dir, tmp_path, method):
    """A runner called directly checks too, before it writes its checkpoint."""
    from tinylens.inference import dynesty_runner, nautilus_runner

    inference, key, _ = REPRODUCERS[method]
    runner = {"nautilus": nautilus_runner, "dynesty": dynesty_runner}[inference["method"]]
    problem = tinylens.load(_absolute(lens_dir, inference, tmp_path / "out"))
    with pytest.raises(ConfigError, match=f"^inference.settings.{key}:"):
        runner.run(problem, inference["settings"], progress=False, checkpoint_dir=tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()


def _refused_by_validate(path: Path) -> str:
    """What ``tinylens validate`` of the config at ``path`` says, on one line, having checked that it
    refused it as a user's mistake: exit 2, no exception but its exit, no traceback."""
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize("method", REPRODUCERS)
def test_validate_exits_2_without_traceback(tmp_path, method):
    inference, key, fragments = REPRODUCERS[method]
    path = write_tiny_lens(tmp_path, inference)
    out = _refused_by_validate(path)
    assert out.startswith(f"Error: In config file {path}: inference.settings.{key}:"), out
    assert all(fragment in out for fragment in fragments), out


#: A whole number written out with 400 digits is a Python int no float holds (``1e400`` is read as
#: .inf, which the rules answer already): float() raised OverflowError in the rules of these settings.
HUGE = 10**400


@pytest.mark.parametrize("method, key", [("nautilus", "n_eff"), ("nautilus", "n_like_max"), ("nautilus", "f_live"),
                                         ("nautilus", "timeout"), ("nautilus", "checkpoint_every"),
                                         ("dynesty", "dlogz"), ("dynesty", "logl_max"), ("dynesty", "enlarge")])
@pytest.mark.parametrize("sign", [1, -1], ids=["huge", "huge_negative"])
def test_a_number_setting_beyond_the_range_of_a_float_is_refused_naming_it(tmp_path, method, key, sign):
    settings = {"nlive": 50, key: sign * HUGE}
    path = tmp_path / "model_config.yaml"
    write_tiny_lens(tmp_path, {"type": "sampler", "method": method, "settings": {"nlive": 50}})
    # written as YAML writes a 400-digit int: digits, read back as that int
    path.write_text(path.read_text().replace("nlive: 50", f"nlive: 50\n    {key}: {sign * HUGE}"))
    assert yaml.safe_load(path.read_text())["inference"]["settings"] == settings
    out = _refused_by_validate(path)
    assert out.startswith(f"Error: In config file {path}: inference.settings.{key}: must be"), out
    assert "(401 characters)" in out or "(402 characters)" in out, out  # abbreviated, not 400 digits
    assert "beyond the range of a float" in out, out


@pytest.mark.parametrize("method, key, written, shown, why", [
    ("nautilus", "nlive", "1.0e+20", "1e+20", "(beyond 2**53 = 9007199254740992, the largest whole number a float keeps exactly)"),
    ("nautilus", "seed", "1e20", "1e+20", "(beyond 2**53 = 9007199254740992, the largest whole number a float keeps exactly)"),
    ("dynesty", "nlive", "1.0e+400", "inf", "(an infinity: a YAML file's .inf, or a number written there beyond the range "
     "of a float, about +-1.8e308, such as 1.0e+400, reads as one)"),
    ("nautilus", "n_batch", "-1.0e+400", "-inf", "(an infinity: a YAML file's -.inf, or a number written there beyond "
     "the range of a float, about +-1.8e308, such as -1.0e+400, reads as one)"),
], ids=["nlive", "seed_text", "nlive_inf", "n_batch_minus_inf"])
def test_a_whole_number_setting_given_a_huge_whole_float_says_why_it_is_refused(tmp_path, method, key, written, shown, why):
    """``nlive: 1.0e+20`` was refused as 'must be a whole number >= 1 for nautilus, got 1e+20', which it is, and
    ``nlive: 1.0e+400`` as one of 'inf', which the config does not write: each now says why it is refused."""
    path = tmp_path / "model_config.yaml"
    write_tiny_lens(tmp_path, {"type": "sampler", "method": method, "settings": {"nlive": 50}})
    line = f"{key}: {written}" if key == "nlive" else f"nlive: 50\n    {key}: {written}"
    path.write_text(path.read_text().replace("nlive: 50", line))
    out = _refused_by_validate(path)
    assert out.startswith(f"Error: In config file {path}: inference.settings.{key}: must be a whole number"), out
    assert f"for {method}, got {shown} {why}." in out, out


@pytest.mark.parametrize("key, value, shown", [("nlive", float("inf"), "inf"), ("seed", float("-inf"), "-inf")])
def test_an_infinite_setting_of_a_python_mapping_is_not_said_to_be_read_by_yaml(key, value, shown):
    """A config given in Python (a mapping: no YAML read it) with ``nlive: float('inf')`` was refused as 'got inf
    (YAML reads .inf, ... as this infinity)', a reading that never happened; the note now says how a YAML file
    comes to hold an infinity without saying this config's did."""
    config, _ = load_config(tiny_config({**NAUTILUS, "settings": {"nlive": 50, key: value}}))
    with pytest.raises(ConfigError) as caught:
        check_inference(config)
    message = str(caught.value)
    assert message.startswith(f"inference.settings.{key}: must be a whole number"), message
    assert f"for nautilus, got {shown} (an infinity: a YAML file's" in message, message
    assert "YAML reads" not in message, message


@pytest.mark.parametrize("name", ["result.json", "checkpoint_dynesty.pkl", "./Checkpoint.Pipeline.json", "row.json",
                                  "sub/../result.json"])
def test_dynesty_history_may_not_overwrite_tinylens_files(name):
    """A relative ``history_filename`` is written into the output folder: one named as a file
    tinylens writes there itself (not only dynesty's default history name) would overwrite it."""
    inference = {**DYNESTY, "settings": {"save_evaluation_history": True, "history_filename": name}}
    with pytest.raises(ConfigError, match=r"^inference.settings.history_filename: .* writes itself") as err:
        check_inference(_config(inference))
    assert f"'{name}'" in str(err.value)
    assert filenames.DYNESTY_HISTORY not in str(err.value)  # the history's own default name is no other file


def test_dynesty_history_name_is_a_string():
    with pytest.raises(ConfigError, match=r"^inference.settings.history_filename: must be a file name.*got 3\.$"):
        check_inference(_config({**DYNESTY, "settings": {"history_filename": 3}}))


@pytest.mark.skipif(not DYNESTY_HISTORY, reason="dynesty < 3.0 has no evaluation history")
@pytest.mark.parametrize("name", ["a\0b.h5", "sub\0/calls.h5"])
def test_a_dynesty_history_name_holding_a_nul_character_is_refused_by_validate(tmp_path, name):
    """history_filename: "a\\0b.h5" (a NUL character, which YAML writes as \\0 in double quotes) made
    'tinylens validate' end in a traceback (ValueError: embedded null byte, from Path.resolve in the check
    of where the history lands); it is refused by key, the character shown, exit 2."""
    inference = {**DYNESTY, "settings": {"nlive": 50, "save_evaluation_history": True, "history_filename": name}}
    path = write_tiny_lens(tmp_path, inference)
    out = _refused_by_validate(path)
    shown = name.replace("\0", "\\x00")
    assert (f"inference.settings.history_filename: '{shown}' holds a NUL character (U+0000), which no file name "
            "may hold; give another name for dynesty's history.") in out, out


def test_dynesty_history_elsewhere_passes(tmp_path):
    for name in ("calls.h5", "dynesty_logl_history.h5", "sub/result.json", str(tmp_path / "result.json")):
        check_inference(_config({**DYNESTY, "settings": {"save_evaluation_history": True, "history_filename": name}}))


@pytest.mark.skipif(not DYNESTY_HISTORY, reason="dynesty < 3.0 has no evaluation history")
@pytest.mark.parametrize("name", ["../out/result.json", "../out/sub/../Checkpoint_Dynesty.pkl", "../link/row.json",
                                  "<absolute>"])
def test_dynesty_history_may_not_reach_tinylens_files_from_outside(lens_dir, tmp_path, name):
    """The check of the name alone passed a relative name that leaves the output folder and comes
    back (``../out/result.json`` for the folder ``out``), one through a link to it, and an absolute
    path into it: dynesty wrote its history over tinylens's own file. Resolved against the output
    folder, it is refused by tinylens.fit before the folder exists, and by the runner before it
    writes its checkpoint or touches the file; a path to another folder still passes."""
    out = tmp_path / "out"
    (tmp_path / "link").symlink_to(out, target_is_directory=True)
    name = str(out / "result.json") if name == "<absolute>" else name
    settings = {"save_evaluation_history": True, "history_filename": name}
    inference = {**DYNESTY, "settings": settings}
    check_inference(_config(inference))  # the name alone passes: only the output folder tells
    refused = rf"^inference.settings.history_filename: '{re.escape(name)}' is the file .* tinylens writes itself"
    with pytest.raises(ConfigError, match=refused) as err:
        tinylens.fit(_absolute(lens_dir, inference, out), progress=False)
    assert "choose another name for dynesty's history" in str(err.value)
    assert not out.exists()
    out.mkdir()
    (out / filenames.RESULT).write_text("finished")
    problem = tinylens.load(_absolute(lens_dir, inference, out))
    with pytest.raises(ConfigError, match=refused):
        dynesty_runner.run(problem, settings, progress=False, checkpoint_dir=out)
    assert [p.name for p in out.iterdir()] == [filenames.RESULT] and (out / filenames.RESULT).read_text() == "finished"
    elsewhere = {**settings, "history_filename": "../elsewhere/result.json"}
    assert dynesty_runner._history_in(elsewhere, out)["history_filename"] == str(out / "../elsewhere/result.json")


@pytest.mark.parametrize("inference, hint", [
    ({**NAUTILUS, "settings": {"nlvie": 50}}, "Did you mean 'nlive' instead of 'nlvie'?"),
    ({**DYNESTY, "settings": {"dlgoz": 0.1}}, "Did you mean 'dlogz' instead of 'dlgoz'?"),
    ({**DE, "settings": {"popsze": 10}}, "Did you mean 'popsize' instead of 'popsze'?"),
    ({"type": "sampler", "method": "nautilius"}, "Did you mean 'nautilus' instead of 'nautilius'?"),
    ({"type": "optimizer", "method": "lbgfs"}, "Did you mean 'lbfgs' instead of 'lbgfs'?"),
])
def test_a_misspelt_setting_or_method_gets_the_name_it_misspells(inference, hint):
    with pytest.raises(ConfigError) as err:
        check_inference(_config(inference))
    assert hint in str(err.value)


@pytest.mark.parametrize("inference", [NAUTILUS, DYNESTY, DE, LBFGS], ids=lambda inf: inf["method"])
def test_a_model_with_every_parameter_fixed_is_refused_by_name(lens_dir, tmp_path, inference):
    """With no free parameter, ``tinylens validate`` said the config was ready to fit; the fit
    then failed with a traceback (dynesty in the pipeline's stages, lbfgs in scipy), and
    differential_evolution and nautilus were refused with a message about their settings or
    their dimension. Each is now refused before anything runs, naming the model's components."""
    config = _absolute(lens_dir, {**inference, "settings": {}}, tmp_path / "out")
    for component in (*config["model_components"]["lens_mass_list"], *config["model_components"]["source_light_list"]):
        for name, param in component["params"].items():
            if param.get("fixed") is False:  # the middle of its prior
                component["params"][name] = {"fixed": True, "fixed_value": sum(param["prior_settings"]) / 2}
    path = tmp_path / "model_config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    message = (f"model_components: every parameter is fixed (or linked to another), so {inference['method']} has "
               "no free parameter to fit; free at least one")

    result = CliRunner().invoke(app, ["validate", str(path)])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, (result.output, result.exception)
    assert out.startswith(f"Error: In config file {path}: {message}"), out
    with pytest.raises(ConfigError, match=re.escape(message)):
        tinylens.fit(path, progress=False)
    assert not (tmp_path / "out").exists()


def test_lbfgs_messages_count_one_start_and_one_draw_in_the_singular():
    """lbfgs with n_starts: 1 (or n_draws: 1) and no finite start said 'not finite at any of its 1
    starts (the best of n_draws = 1 draws from the priors), so L-BFGS-B cannot move from them', and
    n_starts over n_draws: 1 'the best of n_draws (1) prior draws'; each now reads right for one."""
    from tinylens.inference.optimizer import check_lbfgs, no_finite_start

    assert no_finite_start(1, 1).startswith(
        "inference (lbfgs): log L + log prior, or its gradient, is not finite at its one start (the best of n_draws = "
        "1 draw from the priors), so L-BFGS-B cannot move from it and its best fit")
    assert no_finite_start(3, 32).startswith(
        "inference (lbfgs): log L + log prior, or its gradient, is not finite at any of its 3 starts (the best of "
        "n_draws = 32 draws from the priors), so L-BFGS-B cannot move from them and its best fit")
    with pytest.raises(ConfigError) as info:
        check_lbfgs({"n_starts": 2, "n_draws": 1}, 3)
    assert str(info.value) == ("inference.settings.n_starts: lbfgs starts from the best of n_draws (1) prior draw, so "
                               "it cannot make 2 starts; lower n_starts or raise n_draws.")


@pytest.mark.parametrize("inference, error, message", [
    ({**NAUTILUS, "settings": {"nlive": -5}}, "ConfigValueError",
     "inference.settings.nlive: must be a whole number >= 1 for nautilus, got -5."),
    ({**NAUTILUS, "settings": {"n_eff": -1}}, "ConfigValueError", "inference.settings.n_eff: must be a number >= 0 for nautilus, got -1."),
    ({**NAUTILUS, "settings": {"n_networks": 500}}, "ConfigValueError",
     "inference.settings.n_networks: must be a whole number from 0 to 100 for nautilus, got 500 (nautilus trains each "
     "of its networks again for every new bound, seconds each; its default is 4)."),
    ({**NAUTILUS, "settings": {"nlvie": 100}}, "ConfigValueError", "inference.settings.nlvie: not a setting of nautilus."),
    ({**NAUTILUS, "settings": {"f_live": "high"}}, "ConfigTypeError",
     "inference.settings.f_live: must be a number between 0 and 1 for nautilus, got 'high'."),
    ({**NAUTILUS, "settings": {"resume": "no"}}, "ConfigTypeError",
     "inference.settings.resume: must be true or false for nautilus, got 'no'."),
    # a text where a number goes, within the mapping (the schema's float_parsing: a wrong kind)
    ({**DYNESTY, "settings": {"first_update": {"min_ncall": "many"}}}, "ConfigTypeError",
     "inference.settings.first_update: must be a mapping of numbers (min_ncall, min_eff) for dynesty, got "),
], ids=["nlive-5", "n_eff-1", "n_networks500", "nlvie", "f_live-high", "resume-no", "first_update-many"])
def test_a_sampler_settings_wrong_value_is_a_config_value_error_a_wrong_kind_a_config_type_error(tmp_path, inference,
                                                                                                error, message):
    """``nlive: -5`` (refused by the check a fit runs as its config is read, before the data load)
    was a plain ConfigError, which ``except ValueError`` let through, though the schema's wrong
    values are ConfigValueErrors and its values of the wrong kind ConfigTypeErrors; the same
    message now comes as the class the schema would give, from the early check, the late one
    and ``tinylens.fit`` (the config file named first). No data file exists here."""
    from tinylens.errors import ConfigTypeError, ConfigValueError
    from tinylens.fitting.checks import check_settings_first

    expected = {"ConfigValueError": (ConfigValueError, ValueError), "ConfigTypeError": (ConfigTypeError, TypeError)}[error]
    config = tiny_config(inference, output=str(tmp_path / "out"))
    path = tmp_path / "model_config.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as early:
        check_settings_first(load_config(path)[0])
    with pytest.raises(ConfigError) as late:
        check_inference(load_config(path)[0], 4)
    with pytest.raises(ConfigError) as fitted:
        tinylens.fit(path, progress=False)
    for raised, start in ((early, ""), (late, ""), (fitted, f"In config file {path}: ")):
        assert type(raised.value).__name__ == error and isinstance(raised.value, expected), repr(raised.value)
        assert str(raised.value).startswith(start + message), str(raised.value)
    assert not (tmp_path / "out").exists()


#: Run in a fresh process: a nautilus and a dynesty whose Sampler.__init__ (NestedSampler.run_nested)
#: take **options, put in place of the installed ones before the runners are imported, as a version
#: of them that took **kwargs would be; the runners' own names are not touched.
_OPEN_SAMPLERS = """
import json
import dynesty
import nautilus

class OpenSampler(nautilus.Sampler):
    def __init__(self, prior, likelihood, n_dim=None, n_live=2000, **options):
        self.new_option = options.pop("new_option", None)
        super().__init__(prior, likelihood, n_dim=n_dim, n_live=n_live, **options)

class OpenNested(dynesty.NestedSampler):
    def run_nested(self, maxiter=None, dlogz=None, **options):
        pass

nautilus.Sampler, dynesty.NestedSampler = OpenSampler, OpenNested
from tinylens.inference import dynesty_runner, nautilus_runner

nautilus_runner.check({"n_live": 50, "new_option": 3}, 3)  # the runner's whole check, a dummy sampler built
init, run, own = nautilus_runner._settings({"n_live": 100, "new_option": 3, "f_live": 0.05})
d_own, d_init, d_run = dynesty_runner._settings({"new_option": 3, "dlogz": 0.5, "walks": 30})
print(json.dumps({"nautilus": [init, run, own], "dynesty": [d_own, d_init, d_run]}, default=str))
"""


def test_a_sampler_whose_signature_takes_kwargs_has_its_other_settings_passed_on_not_refused():
    """The runners' check took a sampler's settings from its signature's named keywords
    (keyword_names) and refused every other name, so a nautilus or dynesty whose Sampler (or
    run_nested) takes ``**kwargs`` had a setting it takes refused as 'not a setting of ...', and
    split dropped it; such a setting is now let through and given to the function that takes
    ``**kwargs`` alone, while the installed samplers, of named keywords alone, refuse it as before."""
    import json
    import os
    import subprocess
    import sys

    from tinylens.errors import ConfigValueError

    for runner in (nautilus_runner, dynesty_runner):  # the installed ones: refused, and said so
        with pytest.raises(ConfigValueError, match=r"^inference.settings.new_option: not a setting of"):
            runner._settings({"new_option": 3})
    done = subprocess.run([sys.executable, "-c", _OPEN_SAMPLERS], capture_output=True, text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    init, run, own = out["nautilus"]
    assert (init["new_option"], init["n_live"], run["f_live"]) == (3, 100, 0.05)
    assert "new_option" not in run and "new_option" not in own
    d_own, d_init, d_run = out["dynesty"]
    assert (d_run["new_option"], d_run["dlogz"], d_init["walks"]) == (3, 0.5, 30)
    assert "new_option" not in d_init and "new_option" not in d_own


#: Settings refused by the checks that need the number of free parameters (the runners' own), or by the
#: sampler on a dummy problem, with the class the refusal must be (as check_settings's: a wrong value a
#: ConfigValueError, a value of the wrong kind a ConfigTypeError) and its message, word for word as before.
RUNNER_CHECK_CLASSES = [
    ({**DYNESTY, "settings": {"history_filename": 5}}, "ConfigTypeError",
     "inference.settings.history_filename: must be a file name for dynesty, got 5."),
    ({**DYNESTY, "settings": {"history_filename": "result.json"}}, "ConfigValueError",
     "inference.settings.history_filename: 'result.json' is a file tinylens writes itself in the output folder "
     "(its own files: "),
    ({**DYNESTY, "settings": {"nlive": 2}}, "ConfigValueError",
     "inference.settings.nlive: must be a whole number from 9 to 1048576 for dynesty (more than twice the number of "
     "free parameters, 4), got 2: with fewer live points its ellipsoid bounds are degenerate, so that 'unif' "
     "sampling fails or runs for ever and the evidence is off; hundreds are usual."),
    ({**DYNESTY, "settings": {"ncdim": 9}}, "ConfigValueError",
     "inference.settings.ncdim: must be a whole number from 1 to 4 (the number of free parameters) or null for "
     "dynesty, got 9."),
    ({**DYNESTY, "settings": {"ncdim": 1.5}}, "ConfigValueError",
     "inference.settings.ncdim: must be a whole number from 1 to 4 (the number of free parameters) or null for "
     "dynesty, got 1.5."),
    ({**DYNESTY, "settings": {"ncdim": "x"}}, "ConfigTypeError",
     "inference.settings.ncdim: must be a whole number from 1 to 4 (the number of free parameters) or null for "
     "dynesty, got 'x'."),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": [8]}}, "ConfigTypeError",
     "inference.settings.neural_network_kwargs: must be a mapping of scikit-learn MLPRegressor settings for nautilus, "
     "got [8]."),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": {"hidden_layers": [8]}}}, "ConfigValueError",
     "inference.settings.neural_network_kwargs.hidden_layers: not a setting of MLPRegressor (nautilus's networks). "
     "Allowed: activation, alpha, "),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": {"alpha": "x"}}}, "ConfigTypeError",
     "inference.settings.neural_network_kwargs.alpha: The 'alpha' parameter of MLPRegressor must be a float in the "
     "range [0.0, inf). Got 'x' instead for nautilus."),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": {"alpha": -1.0}}}, "ConfigValueError",
     "inference.settings.neural_network_kwargs.alpha: The 'alpha' parameter of MLPRegressor must be a float in the "
     "range [0.0, inf). Got -1.0 instead for nautilus."),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": {"activation": "relux"}}}, "ConfigValueError",
     "inference.settings.neural_network_kwargs.activation: The 'activation' parameter of MLPRegressor must be a str "
     "among "),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": {"hidden_layer_sizes": [0]}}}, "ConfigValueError",
     "inference.settings.neural_network_kwargs.hidden_layer_sizes: must be a whole number >= 1 or a list of them for "
     "nautilus, got [0]."),
    ({**NAUTILUS, "settings": {"neural_network_kwargs": {"random_state": None}}}, "ConfigTypeError",
     "inference.settings.neural_network_kwargs.random_state: nautilus cannot store null in its checkpoint; use a "
     "number, a string or a list of numbers."),
    ({**NAUTILUS, "settings": {"nlive": 4}}, "ConfigValueError",
     "inference.settings.nlive: must be more than the number of free parameters (4) for nautilus, got 4."),
    ({**NAUTILUS, "settings": {"n_points_min": 4}}, "ConfigValueError",
     "inference.settings.n_points_min: must be a whole number >= 5 (the number of free parameters + 1) or null for "
     "nautilus, got 4."),
    ({**NAUTILUS, "settings": {"n_points_min": "60"}}, "ConfigTypeError",
     "inference.settings.n_points_min: must be a whole number >= 5 (the number of free parameters + 1) or null for "
     "nautilus, got '60'."),
    # check_indices
    ({**NAUTILUS, "settings": {"periodic": [4]}}, "ConfigValueError",
     "inference.settings.periodic: must be a list of distinct parameter indices from 0 to 3 (the model has 4 free "
     "parameters) or null for nautilus, got [4]."),
    ({**DYNESTY, "settings": {"reflective": [0, 0]}}, "ConfigValueError",
     "inference.settings.reflective: must be a list of distinct parameter indices from 0 to 3 (the model has 4 free "
     "parameters) or null for dynesty, got [0, 0]."),
    ({**NAUTILUS, "settings": {"periodic": 1}}, "ConfigTypeError",
     "inference.settings.periodic: must be a list of distinct parameter indices from 0 to 3 (the model has 4 free "
     "parameters) or null for nautilus, got 1."),
    ({**DYNESTY, "settings": {"periodic": ["a"]}}, "ConfigTypeError",
     "inference.settings.periodic: must be a list of distinct parameter indices from 0 to 3 (the model has 4 free "
     "parameters) or null for dynesty, got ['a']."),
    # try_settings: the class follows the method's own error (ValueError, RuntimeError; TypeError)
    ({**DYNESTY, "settings": {"bound": "elipsoid"}}, "ConfigValueError",
     "inference.settings.bound: dynesty refuses 'elipsoid' (Unknown bounding method: elipsoid)."),
    ({**DYNESTY, "settings": {"update_interval": "x"}}, "ConfigValueError",
     "inference.settings.update_interval: dynesty refuses 'x' (Strange update_interval value x)."),
    ({**DE, "settings": {"strategy": "best1bn", "maxiter": 2}}, "ConfigValueError",
     "inference.settings.strategy: differential_evolution refuses 'best1bn' (Please select a valid mutation "
     "strategy)."),
    ({**DE, "settings": {"mutation": "x"}}, "ConfigTypeError",
     "inference.settings.mutation: differential_evolution refuses 'x' ("),
]
RUNNER_CHECK_IDS = [f"{inf['method']}-{'-'.join(f'{k}={v}' for k, v in inf['settings'].items())}"
                    for inf, _, _ in RUNNER_CHECK_CLASSES]


@pytest.mark.parametrize("inference, error, message", RUNNER_CHECK_CLASSES, ids=RUNNER_CHECK_IDS)
def test_a_runner_checks_wrong_value_is_a_config_value_error_a_wrong_kind_a_config_type_error(tmp_path, inference,
                                                                                              error, message):
    """The runners' checks that need the number of free parameters (dynesty's least ``nlive``,
    ``ncdim``, ``history_filename``; nautilus's ``n_live``, ``n_points_min`` and the scikit-learn
    settings of its networks) raised a plain ConfigError, which ``except ValueError`` and
    ``except TypeError`` let through, while check_settings's refusals of the same settings are
    ConfigValueErrors (a wrong value) and ConfigTypeErrors (a wrong kind); each is now the class
    check_settings would give, its message as before, and ``tinylens validate`` still says it
    without a traceback and exits 2."""
    from tinylens.errors import ConfigTypeError, ConfigValueError

    expected = {"ConfigValueError": (ConfigValueError, ValueError), "ConfigTypeError": (ConfigTypeError, TypeError)}[error]
    with pytest.raises(ConfigError) as raised:
        check_inference(_config(inference))
    assert type(raised.value).__name__ == error and isinstance(raised.value, expected), repr(raised.value)
    assert str(raised.value).startswith(message), str(raised.value)
    path = write_tiny_lens(tmp_path, inference)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    assert " ".join(result.output.split()).startswith(f"Error: In config file {path}: {message}"), result.output


def test_a_dynesty_history_reaching_a_tinylens_file_from_outside_is_a_config_value_error(tmp_path):
    """``history_filename: ../out/result.json`` (the output folder ``out``), refused once the folder
    is known, was a plain ConfigError; it is a wrong value, a ConfigValueError, message as before."""
    from tinylens.errors import ConfigValueError

    out = tmp_path / "out"
    out.mkdir()
    settings = {"save_evaluation_history": True, "history_filename": "../out/result.json"}
    with pytest.raises(ConfigValueError) as raised:
        dynesty_runner.check_history_folder(settings, out)
    assert isinstance(raised.value, ValueError)
    assert str(raised.value).startswith("inference.settings.history_filename: '../out/result.json' is the file "
                                        f"result.json that tinylens writes itself in the output folder {out} ")


@pytest.mark.parametrize("key", ["periodic", "reflective"])
def test_an_empty_list_of_dynestys_periodic_or_reflective_parameters_is_taken_as_none(tmp_path, key):
    """``periodic: []`` (or ``reflective: []``), no parameter listed, passed check_indices and was
    then refused by dynesty itself with numpy's 'zero-size array to reduction operation maximum
    which has no identity'; it names no parameter, as null does, so it is now taken as null: the
    check and ``tinylens validate`` pass it, dynesty gets None, and the checkpoint's fingerprint is
    that of null (the same sampling)."""
    import dynesty
    import numpy as np

    check_inference(_config({**DYNESTY, "settings": {key: []}}))
    own, init, _ = dynesty_runner._settings({key: []})
    assert init[key] is None
    dynesty.NestedSampler(lambda x: 0.0, lambda u: u, 4, nlive=20, rstate=np.random.default_rng(0),
                          **{key: init[key]})  # dynesty itself takes what the runner gives it
    assert dynesty_runner._stamped_settings({key: []}) == dynesty_runner._stamped_settings({key: None})
    assert dynesty_runner._stamped_settings({key: [1]}) != dynesty_runner._stamped_settings({key: None})
    path = write_tiny_lens(tmp_path, {**DYNESTY, "settings": {key: []}})
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "zero-size" not in result.output


def test_nautilus_on_one_free_parameter_is_a_config_value_error():
    """nautilus on a model of one free parameter, refused as it needs two, was a plain ConfigError;
    a wrong value (of inference.method for that model), a ConfigValueError, message as before."""
    from tinylens.errors import ConfigValueError

    with pytest.raises(ConfigValueError) as raised:
        check_inference(_config(NAUTILUS), 1)
    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == ("inference.method: nautilus needs at least 2 free parameters, the model has 1. "
                                 "Use method dynesty or an optimizer.")


@pytest.mark.parametrize("raised, error", [(TypeError, "ConfigTypeError"), (ValueError, "ConfigValueError"),
                                           (RuntimeError, "ConfigValueError")])
def test_settings_a_method_refuses_only_together_are_the_class_of_its_error(raised, error):
    """try_settings's refusal of settings that pass one by one but not together was a plain
    ConfigError; it is now a ConfigTypeError where the method raised a TypeError, else a
    ConfigValueError, as for one setting, with the message as before."""
    from tinylens.inference.common import try_settings

    def build(settings):
        if {"a", "b"} <= set(settings):
            raise raised("a and b exclude each other")

    with pytest.raises(ConfigError) as refused:
        try_settings("sampler", {"a": 1, "b": 2}, build)
    assert type(refused.value).__name__ == error and isinstance(refused.value, (ValueError, TypeError))
    assert str(refused.value) == "inference.settings: sampler refuses these settings together (a and b exclude each other)."


@pytest.mark.parametrize("inference, key, value", [(DYNESTY, "ncdim", [3]), (DYNESTY, "ncdim", []),
                                                   (NAUTILUS, "n_points_min", [60])])
def test_a_list_where_one_number_goes_is_a_config_type_error_as_a_list_for_nlive_is(inference, key, value):
    """``ncdim: [3]`` or ``n_points_min: [60]`` (a list where one whole number goes), refused by the
    runners' own checks, was a ConfigValueError, as number_error took any list of numbers for a value
    of the right kind, while check_settings calls a list for ``nlive`` (a number too) a ConfigTypeError,
    as the schema's ``int_type`` does; a list for these is now a ConfigTypeError too, message as before."""
    from tinylens.errors import ConfigTypeError

    with pytest.raises(ConfigTypeError) as for_nlive:  # the independent truth: check_settings's class
        check_inference(_config({**inference, "settings": {"nlive": [30]}}))
    assert isinstance(for_nlive.value, TypeError)
    with pytest.raises(ConfigError) as raised:
        check_inference(_config({**inference, "settings": {key: value}}))
    assert type(raised.value) is ConfigTypeError and isinstance(raised.value, TypeError), repr(raised.value)
    assert str(raised.value).startswith(f"inference.settings.{key}: must be a whole number "), str(raised.value)
    assert str(raised.value).endswith(f"got {value}."), str(raised.value)


def test_scikit_learns_rules_of_another_shape_give_a_config_value_error_not_a_traceback(tmp_path, monkeypatch):
    """_network_error (81204a0) reads scikit-learn's private constraints to tell ``activation: relux``
    (a wrong value) from ``activation: 5`` (a wrong kind); a rule of another scikit-learn that it
    could not read (here one of ``activation``'s options kept without their ``type``) raised an
    AttributeError out of the check, a traceback from ``tinylens validate``, though its docstring
    promises a ConfigValueError where the constraints cannot be read; it is now that, the message
    scikit-learn's own, and ``tinylens validate`` exits 2."""
    from sklearn.neural_network import MLPRegressor
    from sklearn.utils._param_validation import Options

    from tinylens.errors import ConfigValueError

    class OptionsOfAnotherVersion(Options):
        def __init__(self, options):  # no .type, which Options has in today's scikit-learn
            self.options, self.hidden = options, False

        def is_satisfied_by(self, val):
            return isinstance(val, str) and val in self.options

        def __str__(self):
            return f"a str among {sorted(self.options)}"

    monkeypatch.setitem(MLPRegressor._parameter_constraints, "activation", [OptionsOfAnotherVersion({"relu", "tanh"})])
    inference = {**NAUTILUS, "settings": {"neural_network_kwargs": {"activation": "relux"}}}
    message = ("inference.settings.neural_network_kwargs.activation: The 'activation' parameter of MLPRegressor must "
               "be a str among ['relu', 'tanh']. Got 'relux' instead for nautilus.")
    with pytest.raises(ConfigError) as raised:
        check_inference(_config(inference))
    assert type(raised.value) is ConfigValueError, repr(raised.value)
    assert str(raised.value) == message
    path = write_tiny_lens(tmp_path, inference)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    assert " ".join(result.output.split()).startswith(f"Error: In config file {path}: {message}"), result.output


class JaxRuntimeError(RuntimeError):
    """Named as JAX's own (tinylens.errors.JAX_RUNTIME_ERRORS), for its RESOURCE_EXHAUSTED."""


@pytest.mark.parametrize("short", [MemoryError(), JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating "
                                                                  "8589934592 bytes.")], ids=["MemoryError", "jax"])
@pytest.mark.parametrize("inference, target", [(DYNESTY, "dynesty.NestedSampler"),
                                               (DE, "scipy.optimize.differential_evolution")],
                         ids=["dynesty", "differential_evolution"])
def test_the_machine_out_of_memory_while_settings_are_tried_is_not_called_a_refusal_of_them(tmp_path, monkeypatch,
                                                                                           inference, target, short):
    """try_settings sets the method up on a dummy problem and took any error for the settings'
    (dc8c7ff made it a ConfigValueError): the machine out of memory there (a MemoryError, JAX's
    RESOURCE_EXHAUSTED) was 'inference.settings: dynesty refuses these settings together
    (MemoryError)', exit code 2, telling the user to change settings that are fine. It is now raised
    on, and ``tinylens validate`` says what the command line says of any out-of-memory
    (errors.out_of_memory), with its exit code, as for the same error anywhere else."""
    from tinylens.cli.common import EXIT_OUT_OF_MEMORY
    from tinylens.errors import out_of_memory

    assert out_of_memory(short)  # the independent truth: the machine's limit, not a setting's
    module, name = target.rsplit(".", 1)

    def short_of_memory(*args, **kwargs):
        raise short

    monkeypatch.setattr(f"{module}.{name}", short_of_memory)
    with pytest.raises(type(short)):
        check_inference(_config(inference))
    path = write_tiny_lens(tmp_path, inference)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == EXIT_OUT_OF_MEMORY != 2, (result.output, result.exception)
    assert "Traceback" not in result.output and "refuses" not in result.output, result.output
    assert "ran out of memory" in " ".join(result.output.split()), result.output


def test_a_ctrl_c_while_settings_are_tried_is_not_called_a_refusal_of_them():
    """A Ctrl-C while try_settings sets the method up, come out as another error raised from it (as
    jaxlib's import does: tinylens.interrupts.interrupt_behind), was 'refuses these settings
    together'; it is now raised on, for the command line to say Interrupted and exit 130."""
    from tinylens.inference.common import try_settings
    from tinylens.interrupts import interrupt_behind

    def build(settings):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as ctrl_c:
            raise ImportError("Encountered an error while initializing the extension") from ctrl_c

    with pytest.raises(ImportError) as raised:
        try_settings("dynesty", {"bound": "multi"}, build)
    assert interrupt_behind(raised.value) is not None


@pytest.mark.parametrize("inference, message", [
    ({"type": "sampler", "method": "nautilius"},
     "inference.method: unknown sampler method 'nautilius'. Did you mean 'nautilus' instead of 'nautilius'? "
     "Allowed: nautilus, dynesty."),
    ({"type": "optimizer", "method": "basin_hopping"},
     "inference.method: 'basin_hopping' is one of TinyLensGpu's optimizers, which tinylens does not provide."),
], ids=["misspelt", "tinylensgpu"])
def test_an_unknown_method_is_a_config_value_error(lens_dir, tmp_path, inference, message):
    """An unknown inference method is a wrong value: tinylens.fit raises a ConfigValueError (a
    ValueError too), not the plain ConfigError, with the message as it was."""
    from tinylens.errors import ConfigValueError

    path = tmp_path / "model_config.yaml"
    path.write_text(yaml.safe_dump(_absolute(lens_dir, inference, tmp_path / "out"), sort_keys=False))
    with pytest.raises(ConfigValueError, match=re.escape(f"In config file {path}: {message}")):
        tinylens.fit(path, progress=False)
    with pytest.raises(ValueError):
        check_inference(_config(inference))
    assert not (tmp_path / "out").exists()


def test_an_unknown_inference_type_is_a_config_value_error():
    """check_inference given a config the schema did not read (an object with another type)
    refuses the type with a ConfigValueError naming it and the allowed ones."""
    from types import SimpleNamespace

    from tinylens.errors import ConfigValueError

    config = SimpleNamespace(inference=SimpleNamespace(type="sampling", method=None, settings={}))
    with pytest.raises(ConfigValueError, match=re.escape("inference.type: unknown type 'sampling'. Allowed: sampler, "
                                                         "optimizer.")):
        check_inference(config)


def test_a_model_with_every_parameter_fixed_is_a_config_value_error(lens_dir, tmp_path):
    """Every parameter fixed is a wrong value of the model's: a ConfigValueError from tinylens.fit."""
    from tinylens.errors import ConfigValueError

    config = _absolute(lens_dir, {**LBFGS, "settings": {}}, tmp_path / "out")
    for component in (*config["model_components"]["lens_mass_list"], *config["model_components"]["source_light_list"]):
        for name, param in component["params"].items():
            if param.get("fixed") is False:
                component["params"][name] = {"fixed": True, "fixed_value": sum(param["prior_settings"]) / 2}
    path = tmp_path / "model_config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(ConfigValueError, match=re.escape("model_components: every parameter is fixed (or linked to "
                                                         "another), so lbfgs has no free parameter to fit")):
        tinylens.fit(path, progress=False)


@pytest.mark.parametrize("method, package, advice", [
    ("dynesty", "dynesty", "-m pip install dynesty); or choose another sampler method (nautilus)."),
    ("nautilus", "nautilus", "-m pip install 'nautilus-sampler[checkpointing]'); or choose another sampler method "
                             "(dynesty)."),
])
def test_a_sampler_that_is_not_installed_is_said_to_be_missing(lens_dir, tmp_path, monkeypatch, method, package,
                                                              advice):
    """A sampler whose package is not installed (an incomplete installation) stopped tinylens.fit
    and tinylens validate with a 72-line ModuleNotFoundError traceback, exit 1; it is now a
    MethodNotInstalledError (a ConfigError, and a ModuleNotFoundError naming the package) that
    says what to install, exit 2 on the command line, before the output folder is made."""
    import sys

    from tinylens.inference import check_inference_first, dynesty_settings, nautilus_settings

    monkeypatch.setitem(sys.modules, package, None)  # import of it: ModuleNotFoundError, name=package
    monkeypatch.delitem(sys.modules, f"tinylens.inference.{method}_runner", raising=False)
    try:
        _check_not_installed(lens_dir, tmp_path, method, package, advice)
    finally:  # the settings' names read with the package 'missing' (None) are not kept for later tests
        nautilus_settings.source_keywords.cache_clear()
        dynesty_settings.source_keywords.cache_clear()
    monkeypatch.undo()  # installed again: its early check refuses a misspelt setting, as before
    with pytest.raises(ConfigError, match="nlvie"):
        check_inference_first(_config({"type": "sampler", "method": method, "settings": {"nlvie": 100}}))


@pytest.mark.parametrize("method", ["nautilus", "dynesty"])
def test_a_sampler_installed_after_it_was_missing_has_its_setting_names_checked_in_the_same_session(monkeypatch,
                                                                                                  method):
    """The names of a sampler's settings are read from its source once; where it was not installed
    the None was kept for the session, so that a notebook that installed it after a fit refused for
    its absence (pip install, then the same cell again) never had a misspelt setting ('nlvie')
    refused before JAX and the data were loaded, until a restart. The names are read once the
    package is found, and refused as the runner's own check (which imports it) refuses them."""
    import sys

    from tinylens.inference import check_inference_first, dynesty_settings, nautilus_settings

    settings = {"nautilus": nautilus_settings, "dynesty": dynesty_settings}[method]
    config = _config({"type": "sampler", "method": method, "settings": {"nlvie": 100}})
    with pytest.raises(ConfigError) as truth:  # the runner's check, with the package imported
        check_inference(config)
    with monkeypatch.context() as missing:
        missing.setitem(sys.modules, method, None)  # not installed: find_spec finds nothing, import fails
        assert settings.source_keywords() is None
        check_inference_first(config)  # nothing to read the names from: left to the runner's check
    # installed now (sys.modules as before), with no cache cleared, as a notebook's session goes on
    assert settings.source_keywords() is not None
    with pytest.raises(ConfigError) as early:
        check_inference_first(config)
    assert "nlvie" in str(early.value) and str(early.value) == str(truth.value), (str(early.value), str(truth.value))


def _check_not_installed(lens_dir, tmp_path, method, package, advice):
    from tinylens.errors import MethodNotInstalledError

    path = tmp_path / "model_config.yaml"
    path.write_text(yaml.safe_dump(_absolute(lens_dir, {"type": "sampler", "method": method, "settings": {}},
                                             tmp_path / "out"), sort_keys=False))
    message = (f"In config file {path}: inference.method: {method} cannot run here: the package {package} it needs is "
               "not installed in this Python. tinylens requires it, so this installation is incomplete: install it (")
    with pytest.raises(MethodNotInstalledError) as err:
        tinylens.fit(path, progress=False)
    said = " ".join(str(err.value).split())
    assert said.startswith(message) and said.endswith(advice), said
    assert isinstance(err.value, ConfigError) and isinstance(err.value, ImportError) and err.value.name == package
    with pytest.raises(ModuleNotFoundError) as err:
        check_inference(_config({"type": "sampler", "method": method}))
    assert err.value.name == package
    result = CliRunner().invoke(app, ["validate", str(path)])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in out and advice in out, (out, result.exception)
    assert not (tmp_path / "out").exists()
