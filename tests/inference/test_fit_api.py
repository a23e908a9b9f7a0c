"""``tinylens.fit(config)`` (a YAML path or a dict) returns what it writes: the content of
result.json, the samples table and the summary table."""

from __future__ import annotations

import errno
import json
import os

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import tinylens
from tiny_lens import FAST_NAUTILUS, FREE_TRUTH, refuse_unlink, tiny_config, unbounded_tiny_fit, write_tiny_lens
from tinylens.results.tables import MIN_RELATIVE_WEIGHT


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A fit from a config dict (absolute data paths) and its output folder."""
    folder = tmp_path_factory.mktemp("api")
    write_tiny_lens(folder)
    config = tiny_config(output=str(folder / "results"))
    for key in ("data_path", "noise_path", "psf_path"):
        config["dataset"][key] = str(folder / config["dataset"][key])
    return tinylens.fit(config, progress=False), folder / "results"


def test_a_converged_fits_deleted_checkpoint_is_null(fitted):
    result, out = fitted
    assert result.converged and result.info["checkpoint"] is None
    assert json.loads((out / "result.json").read_text())["info"]["checkpoint"] is None
    assert not (out / "checkpoint.hdf5").exists()


def test_result_equals_result_json(fitted):
    result, out = fitted
    on_disk = json.loads((out / "result.json").read_text())
    assert result.to_json() == json.loads(json.dumps(result.to_json())) == on_disk  # plain JSON (numpy bools were not)
    assert on_disk["param_names"] == list(result.param_names) == list(FREE_TRUTH)
    assert result.output_dir == out and result.converged
    assert set(result.files.values()) <= {p.name for p in out.iterdir()}
    for name, true in FREE_TRUTH.items():  # and it is the right answer
        lo, hi = result.interval_997[name]
        assert lo <= true <= hi, (name, true, lo, hi)


def test_the_printed_result_leaves_out_the_config_and_the_details(fitted):
    """A result typed in a notebook printed its whole config and sampler details (most of
    ~10,000 characters); they stay attributes, and the answers are printed."""
    result, _ = fitted
    text = repr(result)
    assert "model_components" not in text and "'data_path'" not in text and "'likelihood_time_s'" not in text
    assert "lens_mass.0.theta_E = " in text and "trusted" in text and "model_components" in result.config
    assert len(text) < 600


def test_result_holds_the_tables(fitted):
    result, out = fitted
    samples = pd.read_csv(out / "result_samples.csv")
    names = list(result.param_names)
    kept = result.weights >= MIN_RELATIVE_WEIGHT * result.weights.max()  # negligible weights are left out
    assert result.weights[~kept].sum() < 1e-6
    np.testing.assert_allclose(samples[names].to_numpy(), result.samples[kept], rtol=1e-6)
    np.testing.assert_allclose(samples["weight"].to_numpy(), result.weights[kept], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(samples["log_likelihood"].to_numpy(), result.log_likelihood[kept], rtol=1e-6)
    summary = pd.read_csv(out / "result_summary.csv")
    pd.testing.assert_frame_equal(summary, result.summary, check_exact=False, rtol=1e-6)
    medians = summary.set_index("parameter")["median"]
    for name in names:
        assert medians[name] == pytest.approx(result.median[name], rel=1e-6)
    rows = summary.set_index("parameter")
    for name in names:  # the 99.7 % interval too, as in result.json and the survey catalogue
        lo, hi = result.interval_997[name]
        assert (rows.loc[name, "percentile_0.135"], rows.loc[name, "percentile_99.865"]) == pytest.approx((lo, hi), rel=1e-6)
    lo, hi = result.derived["lens_mass.0.q"]["interval_997"]
    assert rows.loc["lens_mass.0.q", "percentile_0.135"] == pytest.approx(lo, rel=1e-6)


def test_model_figure_summary_gives_median_and_68_half_width_with_units_in_model_order(fitted):
    """The figure's panel said bare medians beside the maximum-likelihood model, and cut a long
    model off without a word."""
    from tinylens.fitting.summary import SUMMARY_PANEL_LINES, _summary_lines
    from tinylens.results.plots import decimals

    result, _ = fitted
    stats = {n: {"median": result.median[n], "interval_68": result.interval_68[n]} for n in result.param_names}
    stats |= result.derived
    lines = _summary_lines(result, stats, result.quality)
    start = lines.index("posterior median ± 68 % half-width:") + 1
    shown = lines[start:]
    lo, hi = result.interval_68["lens_mass.0.theta_E"]
    places = decimals((hi - lo) / 2)  # the median to two digits of the half-width
    assert shown[0] == f"mass0.theta_E: {result.median['lens_mass.0.theta_E']:.{places}f} ± {(hi - lo) / 2:.{places}f}\""
    groups = [line.split(".")[0].rstrip("0123456789") for line in shown]
    assert groups == sorted(groups, key=["mass", "src", "light"].index)  # mass, then source, then lens light
    assert any(line.startswith("mass0.q: ") for line in shown) and any(line.startswith("src0.R_sersic") and line.endswith('"') for line in shown)
    few = {n: stats[n] for n in list(stats)[:3]}
    many = {f"source_light.{i}.e1": stats["lens_mass.0.theta_E"] for i in range(SUMMARY_PANEL_LINES + 4)}
    assert not _summary_lines(result, few, result.quality)[-1].startswith("...")  # nothing left out
    cut = _summary_lines(result, many, result.quality)
    assert cut[-1] == "... 4 more in the summary table" and len(cut) == start + SUMMARY_PANEL_LINES + 1
    from types import SimpleNamespace

    point = SimpleNamespace(**{k: getattr(result, k) for k in ("method", "log_evidence", "log_likelihood",
                                                                "n_likelihood_evals", "wall_time_s")},
                            samples=result.samples[:1])
    lines = _summary_lines(point, few, result.quality)  # an optimiser's one point: no "± 0"
    assert "best fit (an optimiser: no uncertainties):" in lines and not any("±" in line for line in lines)


def test_the_fit_computes_and_records_the_precision_chosen(fitted, tmp_path):
    """result.json did not say which precision its likelihood was computed in. Its maximum
    log-likelihood is that of a problem loaded in the same precision, at its best vector."""
    import jax.numpy as jnp

    from oracle import x64

    result, out = fitted
    best = [result.max_likelihood[n] for n in result.param_names]
    config = write_tiny_lens(tmp_path / "lens", {"type": "optimizer", "method": "lbfgs"})
    assert json.loads((out / "result.json").read_text())["info"]["precision"] == "float32"
    with x64():
        tinylens.set_precision("float64")
        try:
            fit64 = tinylens.fit(config, progress=False)
        finally:
            tinylens.set_precision("float32")
        p64 = tinylens.load(config, dtype=jnp.float64)
        best64 = [fit64.max_likelihood[n] for n in fit64.param_names]
        assert fit64.max_log_likelihood == p64.log_likelihood(best64) != tinylens.load(config).log_likelihood(best64)
    assert json.loads((fit64.output_dir / "result.json").read_text())["info"]["precision"] == "float64"
    assert tinylens.load(result.config, base_dir=result.config_dir).log_likelihood(best) == result.max_log_likelihood


def test_a_fit_runs_in_a_thread_that_cannot_set_signal_handlers(tmp_path, python_sigint):
    """A notebook's or an application's worker thread: :func:`signal.signal` raises ValueError
    there, so the sampler's Ctrl-C guard (KeptInterrupt) must stand aside, not stop the fit; the
    main thread's SIGINT handler is left as it was."""
    import signal
    import threading

    from tiny_lens import FAST_NAUTILUS

    import yaml

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "n_like_max": 1500}})
    settings = yaml.safe_load(config.read_text())
    settings["pipeline"], settings["output"]["draw_figures"] = {"enabled": False}, "none"  # the sampler alone, quickly
    config.write_text(yaml.safe_dump(settings))
    outcome: dict[str, object] = {}

    def worker() -> None:
        try:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        except ValueError:
            outcome["no handlers here"] = True
        try:
            outcome["result"] = tinylens.fit(config, progress=False, base_dir=tmp_path)
        except BaseException as exc:  # noqa: BLE001 - reported below, with its type
            outcome["error"] = exc

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(600)
    assert not thread.is_alive()
    assert "error" not in outcome, repr(outcome.get("error"))
    result = outcome["result"]
    assert outcome["no handlers here"] and result.method == "nautilus" and result.n_likelihood_evals > 0
    assert (tmp_path / "output" / "result.json").is_file()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_fit_stopped_by_n_like_max_warns_from_python_that_it_did_not_converge_and_what_to_do(tmp_path):
    """The command line said that a capped fit stopped before converging, but tinylens.fit from
    Python returned converged False and the 'unconverged' flag silently; it warns a
    ConvergenceWarning (exported, to filter or catch) naming the limit, where the result is, and
    that calling tinylens.fit again continues it. It named "n_like_max or timeout" where only
    n_like_max was set; it names that one."""
    from tiny_lens import FAST_NAUTILUS

    import yaml

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "n_like_max": 1000}})
    settings = yaml.safe_load(config.read_text())
    settings["pipeline"], settings["output"]["draw_figures"] = {"enabled": False}, "none"  # the sampler alone, quickly
    config.write_text(yaml.safe_dump(settings))
    with pytest.warns(tinylens.ConvergenceWarning) as caught:
        result = tinylens.fit(config, progress=False)
    assert result.converged is False and "unconverged" in result.quality["flags"]
    texts = [str(w.message) for w in caught if issubclass(w.category, tinylens.ConvergenceWarning)]
    assert len(texts) == 1
    text = " ".join(texts[0].split())
    assert "did not converge" in text and "n_like_max" in text and "tinylens.fit again" in text
    limits = text.replace(str(result.output_dir), "")  # the words alone, whatever the folder's name
    assert "its n_like_max was reached" in limits and "timeout" not in limits  # the one limit set, not "or timeout"
    assert str(result.output_dir) in text


def test_a_capped_fit_run_again_warns_before_it_removes_any_earlier_file(tmp_path):
    """A fit stopped by its n_like_max and run again at the same cap warns (CapReachedWarning) that
    it has nothing more to sample, said to come before any output is removed or written; but where
    the config now names its tables otherwise, the earlier fit's result_samples.csv and
    result_summary.csv were deleted first, so that a caller who turned the warning into an error
    (to stop there) was left with a result.json naming two tables that were gone, which
    tinylens.read_result refused. The warning now comes first: stopped by it, the earlier fit is
    as it was, read back whole."""
    import warnings

    import yaml

    from tiny_lens import FAST_NAUTILUS

    config = write_tiny_lens(tmp_path, {"type": "sampler", "method": "nautilus",
                                        "settings": {**FAST_NAUTILUS, "n_like_max": 1000}})
    settings = yaml.safe_load(config.read_text())
    settings["pipeline"], settings["output"]["draw_figures"] = {"enabled": False}, "none"  # the sampler alone, quickly
    config.write_text(yaml.safe_dump(settings))
    with pytest.warns(tinylens.ConvergenceWarning):
        first = tinylens.fit(config, progress=False)
    out = first.output_dir
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"result.json", "result_samples.csv", "result_summary.csv"} <= set(before)

    settings["output"]["tables"] = {"samples": "samples.csv", "summary": "summary.csv"}
    config.write_text(yaml.safe_dump(settings))
    with warnings.catch_warnings():
        warnings.simplefilter("error", tinylens.CapReachedWarning)
        with pytest.raises(tinylens.CapReachedWarning, match="n_like_max = 1,000"):
            tinylens.fit(config, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing removed, nothing written
    kept = tinylens.read_result(out)
    assert kept.median == first.median and kept.n_likelihood_evals == first.n_likelihood_evals


@pytest.mark.parametrize("argument, value", [("fresh", "false"), ("fresh", None), ("progress", "no")])
def test_a_flag_that_is_not_true_or_false_is_refused_by_name(tmp_path, argument, value):
    """``fresh`` and ``progress`` took any value as Python's truth: ``fresh="false"`` (read from an
    environment variable, a text field) deleted a stopped fit's checkpoint and sampled afresh.
    Now such a value is a ConfigError naming the argument, before the output folder is touched."""
    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs"})
    checkpoint = tmp_path / "output" / "checkpoint.hdf5"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"hours of sampling")
    refusal = rf"^{argument} must be True or False \(or 1 or 0\); got {type(value).__name__} {value!r}\.$"
    with pytest.raises(tinylens.ConfigError, match=refusal):
        tinylens.fit(config, **{"progress": False, argument: value})
    assert checkpoint.read_bytes() == b"hours of sampling" and not (tmp_path / "output" / "result.json").exists()
    from tinylens.fitting.checks import check_flag

    assert check_flag(argument, True) is check_flag(argument, np.False_) is None  # numpy's bools are bools


def test_a_flag_of_1_or_0_is_taken_as_a_config_takes_it(tmp_path, capsys):
    """``fresh=1`` or ``progress=0`` was refused ('must be True or False'), though a config's
    true/false keys (output.keep_checkpoint: 1) take 1 and 0; they are now True and False, and
    another number is still refused, by a message that says 1 and 0 are taken (it said only 'must
    be True or False', which a user who gave 1 on purpose would read as a refusal of 1 too)."""
    from tinylens.config.schema import Output
    from tinylens.fitting.checks import check_flag

    assert Output(keep_checkpoint=1).keep_checkpoint is True and Output(keep_checkpoint=0).keep_checkpoint is False
    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs"})
    checkpoint = tmp_path / "output" / "checkpoint.hdf5"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"a stopped fit's")
    capsys.readouterr()
    result = tinylens.fit(config, progress=0, fresh=1)
    assert not checkpoint.exists() and (tmp_path / "output" / "result.json").is_file()  # fresh: deleted first
    assert capsys.readouterr().out == "" and result.method == "lbfgs"  # progress 0: nothing printed
    assert check_flag("fresh", np.int64(1)) is check_flag("fresh", 0) is None
    for value in (2, -1, 1.0, 0.5):
        refusal = rf"^fresh must be True or False \(or 1 or 0\); got {type(value).__name__} "
        with pytest.raises(tinylens.ConfigError, match=refusal):
            check_flag("fresh", value)


@pytest.mark.parametrize("value", ["ignore", "Warn", None])
def test_a_truth_errors_other_than_raise_or_warn_is_a_config_error(tmp_path, value):
    """``truth_errors`` other than "raise" or "warn" was a bare ValueError, where every other
    argument of tinylens.fit given a wrong value (``fresh``, ``progress``, ``output``) is a
    ConfigError, the error a caller is told to catch; it is now a ConfigError naming the argument,
    its choices and the value, before the output folder is touched."""
    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs"})
    with pytest.raises(tinylens.ConfigError, match=rf"^truth_errors must be one of 'raise', 'warn'; "
                                                   rf"got {type(value).__name__} {value!r}\.$"):
        tinylens.fit(config, progress=False, truth_errors=value)
    assert not (tmp_path / "output").exists()


class _FsPath:
    """A path of another library's kind (pytest's ``tmpdir``, ``py.path.local``): an os.PathLike, no Path."""

    def __init__(self, path) -> None:
        self._path = str(path)

    def __fspath__(self) -> str:
        return self._path


def test_a_config_path_of_any_path_like_kind_is_a_path(tmp_path):
    """base_dir and output took any os.PathLike, but a config path that was no str or Path was
    refused as 'a YAML file path or a mapping; got a LocalPath' (pytest's tmpdir gives such paths)."""
    import yaml

    config = write_tiny_lens(tmp_path)
    theta = [0.5] * 4
    problem = tinylens.load(_FsPath(config))
    assert problem.base_dir == tmp_path and problem.log_likelihood(theta) == tinylens.load(config).log_likelihood(theta)
    settings = yaml.safe_load(config.read_text())
    settings["output"]["corner_parameters"] = ["lens_mass.0.theta_e"]  # checked before anything is written
    config.write_text(yaml.safe_dump(settings))
    with pytest.raises(tinylens.ConfigError, match=rf"^In config file {config}: output.corner_parameters: 'lens_mass.0.theta_e'"):
        tinylens.fit(_FsPath(config), progress=False)
    assert not (tmp_path / "output").exists()


def test_a_problem_or_a_result_given_as_the_config_says_which_of_it_to_give(fitted, tmp_path):
    """tinylens.fit(problem) (a notebook's next line after tinylens.load) was refused as 'got a
    Problem', which said nothing of the config it holds; now the message says what to give, and
    that works. Any other value is named with its type."""
    result, _ = fitted
    problem = tinylens.load(write_tiny_lens(tmp_path))
    with pytest.raises(tinylens.ConfigError, match=r"; got a Problem \(what tinylens\.load returns\): give the config "
                                                   r"it was loaded from, or problem\.config with base_dir=problem\.base_dir\.$"):
        tinylens.fit(problem, progress=False)
    again = tinylens.load(problem.config, base_dir=problem.base_dir)
    assert again.log_likelihood([0.5] * 4) == problem.log_likelihood([0.5] * 4)
    with pytest.raises(tinylens.ConfigError, match=r"; got a FitResult: to fit its lens again, give result\.config "
                                                   r"with base_dir=result\.config_dir\.$"):
        tinylens.load(result)
    assert tinylens.load(result.config, base_dir=result.config_dir).param_names == result.param_names
    with pytest.raises(tinylens.ConfigError, match=r"^A configuration must be a YAML file path or a mapping; got int 5\.$"):
        tinylens.load(5)


def test_a_truth_path_of_any_path_like_kind_is_read_as_a_path(tmp_path):
    """fit's truth, typed a path or a mapping, took a path-like that was no str or Path for a
    mapping: 'truth: expected a mapping of parameter name to true value, ... got _FsPath'."""
    config = write_tiny_lens(tmp_path)
    missing = tmp_path / "truth.json"
    with pytest.raises(tinylens.DataError, match=rf"^The truth file {missing} does not exist: give the truth\.json"):
        tinylens.fit(config, progress=False, truth=_FsPath(missing))
    assert not (tmp_path / "output").exists()


@pytest.mark.parametrize("argument", ["output", "base_dir"])
def test_an_empty_folder_argument_is_refused_not_the_current_folder(tmp_path, monkeypatch, argument):
    """output="" (an unset variable: os.environ.get("OUT", "")) wrote the fit's outputs into the
    current folder, and base_dir="" read the data from it, where the command line refuses an
    empty --output; both are now a ConfigError naming the argument, before anything is read."""
    config = write_tiny_lens(tmp_path / "lens", {"type": "optimizer", "method": "lbfgs"})
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for value in ("", " "):
        with pytest.raises(tinylens.ConfigError, match=rf"^{argument} is an empty path \({value!r}: an unset variable"):
            tinylens.fit(config, progress=False, **{argument: value})
    assert list(here.iterdir()) == [] and not (tmp_path / "lens" / "output").exists()


def test_a_result_json_given_as_the_config_says_where_its_config_is(tmp_path):
    """A fit's result.json (or its content) given to tinylens.load was refused as a config with
    nineteen unknown keys ('method', 'param_names', ...) and 'Did you mean output instead of
    output_dir?'; now the message says it is a result, and how to load its config, which works."""
    from tiny_lens import write_stored_result

    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    path = write_stored_result(tmp_path / "fit", problem, [1.0, 0.1, 0.0, 0.0])
    stored = json.loads(path.read_text())
    advice = (r", not a config: its config is under 'config', .* tinylens\.load\(r\['config'\], base_dir=r\['config_dir'\]\)\. "
              r"To look at the fit itself, read it back with tinylens\.read_result\(its folder\)\.$")
    with pytest.raises(tinylens.ConfigError, match=rf"^Config file {path} is a fit's result\.json{advice}"):
        tinylens.load(path)
    with pytest.raises(tinylens.ConfigError, match=rf"^The configuration mapping is a fit's result \(result\.json's content\){advice}"):
        tinylens.fit(stored, progress=False)
    again = tinylens.load(stored["config"], base_dir=stored["config_dir"])
    assert again.log_likelihood([1.0, 0.1, 0.0, 0.0]) == problem.log_likelihood([1.0, 0.1, 0.0, 0.0])


def test_a_fit_records_the_stamp_of_each_file_it_fitted(tmp_path):
    """result.json did not say which files' contents a fit was made from: only the config's paths,
    which a later file of that name (another seed's demo, a corrected noise map) answers too.
    info.inputs now holds, by dataset key, each file's size, modification time and SHA-256 (the
    form of a survey lens's inputs.json; a mask's also how it was read), a [HDU] suffix left out."""
    import hashlib

    from astropy.io import fits

    config_path = write_tiny_lens(tmp_path / "lens", {"type": "optimizer", "method": "lbfgs"})
    folder = tmp_path / "lens"
    mask = np.zeros((32, 32))
    mask[:3] = 1
    fits.writeto(folder / "mask.fits", mask)
    config = json.loads(json.dumps(tiny_config({"type": "optimizer", "method": "lbfgs"})))
    config["dataset"]["data_path"] = "image.fits[0]"
    config["dataset"]["mask_path"] = "mask.fits"
    config_path.write_text(json.dumps(config))  # YAML reads JSON
    expected = {}
    for key, name in (("data_path", "image.fits"), ("noise_path", "noise.fits"), ("psf_path", "psf.fits"),
                      ("mask_path", "mask.fits")):
        stat = (folder / name).stat()
        expected[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                         "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest()}
    expected["mask_path"]["read_as"] = "0 = used"
    result = tinylens.fit(config_path, progress=False)
    assert result.info["inputs"] == expected
    assert json.loads((result.output_dir / "result.json").read_text())["info"]["inputs"] == expected


def test_a_fit_that_replaces_an_earlier_result_removes_the_earlier_tables_and_figures_it_does_not_write(tmp_path):
    """A second fit in a folder whose config names its tables otherwise (output.tables.samples:
    samples.csv) removed only the files of its own names: the earlier fit's result_samples.csv,
    result_summary.csv and figures stayed beside the new result.json, as if they were its results.
    The files the earlier result.json names (its 'files') that the new fit does not write are now
    removed with it; a user's own file there, one saved under such a name since, and the new fit's
    own input files are kept."""
    import os

    import yaml

    lbfgs = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}
    path = write_tiny_lens(tmp_path / "lens", lbfgs)
    config = yaml.safe_load(path.read_text())
    first = tinylens.fit(path, progress=False)
    out = first.output_dir
    assert set(first.files.values()) == {"result_samples.csv", "result_summary.csv", "dataset_subplot.png",
                                         "model_results.png"}  # an optimiser draws no corner plot
    (out / "notes.txt").write_text("the user's own")
    user_saved = out / "model_results.png"  # saved over the earlier figure after that fit
    os.utime(user_saved, ns=(0, (out / "result.json").stat().st_mtime_ns + 10**9))
    config["output"].update({"tables": {"samples": "samples.csv", "summary": "summary.csv"},
                             "figures": {"results": "fit.png"}, "draw_figures": "none"})
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    second = tinylens.fit(path, progress=False)
    assert second.output_dir == out and set(second.files.values()) == {"samples.csv", "summary.csv"}
    left = sorted(p.name for p in out.iterdir())
    assert left == ["model_results.png", "notes.txt", "result.json", "samples.csv", "summary.csv"], left
    assert (out / "notes.txt").read_text() == "the user's own"
    assert json.loads((out / "result.json").read_text())["files"] == second.files


def test_a_fit_killed_before_its_outputs_leaves_no_earlier_fits_tables_to_be_read_as_its_own(tmp_path, monkeypatch):
    """A fit run again in a folder holding an earlier fit's result (a prior changed) and stopped
    while it sampled (a job killed at its time limit) left result_summary.csv, result_samples.csv
    and the figures of the earlier fit, under the names this one writes, beside no result.json:
    read with pandas they were the earlier fit's medians taken for this config's. The earlier
    result's files are now removed when the fit starts, with its result.json; the checkpoint stays."""
    import yaml

    from tinylens import filenames
    from tinylens.problem import Problem

    lbfgs = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}
    path = write_tiny_lens(tmp_path / "lens", lbfgs)
    first = tinylens.fit(path, progress=False)
    out = first.output_dir
    earlier = set(first.files.values())
    assert {"result_samples.csv", "result_summary.csv"} <= earlier <= {p.name for p in out.iterdir()}
    (out / "notes.txt").write_text("the user's own")
    config = yaml.safe_load(path.read_text())
    config["inference"] = {"type": "sampler", "method": "nautilus", "settings": {**FAST_NAUTILUS, "checkpoint_every": 0}}
    config["model_components"]["lens_mass_list"][0]["params"]["theta_E"]["prior_settings"] = [0.5, 1.6]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    calls, original = {"n": 0}, Problem.log_likelihood

    def interrupting(self, theta):
        calls["n"] += len(np.atleast_2d(theta))
        if calls["n"] > 1000:
            raise KeyboardInterrupt
        return original(self, theta)

    monkeypatch.setattr(Problem, "log_likelihood", interrupting)
    with pytest.raises(KeyboardInterrupt):
        tinylens.fit(path, progress=False)
    left = {p.name for p in out.iterdir()}
    assert not left & earlier, sorted(left & earlier)  # nothing of the earlier fit under this fit's names
    assert "result.json" not in left and "notes.txt" in left
    assert (out / filenames.CHECKPOINTS["nautilus"]).is_file()  # what the fit run again resumes


def test_an_earlier_fits_file_the_system_will_not_delete_is_left_with_a_warning_not_a_failed_fit(tmp_path, monkeypatch):
    """An earlier fit's table that the system refused to delete (PermissionError: someone else's
    file in a folder with the sticky bit) stopped the new fit with a traceback before it began; it is
    left, with a DataWarning naming it, the other earlier files are removed, and the fit is written."""

    import yaml

    lbfgs = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}
    path = write_tiny_lens(tmp_path / "lens", lbfgs)
    config = yaml.safe_load(path.read_text())
    config["output"]["draw_figures"] = "none"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    out = tinylens.fit(path, progress=False).output_dir
    assert {"result_samples.csv", "result_summary.csv"} <= {p.name for p in out.iterdir()}
    config["output"]["tables"] = {"samples": "samples.csv", "summary": "summary.csv"}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    refused = out / "result_samples.csv"
    refuse_unlink(monkeypatch, refused)
    with pytest.warns(tinylens.errors.DataWarning) as caught:
        second = tinylens.fit(path, progress=False)
    [message] = [str(w.message) for w in caught if "earlier fit" in str(w.message)]
    assert message == (f"1 file of the earlier fit in {out} cannot be deleted, and is left beside this fit's "
                       "results, which do not name it: result_samples.csv (Operation not permitted). Delete it "
                       "(or ask its owner to).")
    assert sorted(p.name for p in out.iterdir()) == ["result.json", "result_samples.csv", "samples.csv", "summary.csv"]
    assert json.loads((out / "result.json").read_text())["files"] == second.files


def test_the_warning_of_earlier_files_left_reads_right_for_one_file_and_for_several(tmp_path):
    """It said '1 file(s) ... are left ... which do not name them'; it now says '1 file ... is left
    ... name it. Delete it (or ask its owner to)' and '2 files ... are left ... Delete them'."""
    from tinylens.fitting.replaced import undeleted_text

    assert undeleted_text(tmp_path, ["a.csv (Permission denied)"]) == (
        f"1 file of the earlier fit in {tmp_path} cannot be deleted, and is left beside this fit's results, which "
        "do not name it: a.csv (Permission denied). Delete it (or ask its owner to).")
    assert undeleted_text(tmp_path, ["a.csv (Permission denied)", "b.png (Permission denied)"]) == (
        f"2 files of the earlier fit in {tmp_path} cannot be deleted, and are left beside this fit's results, which "
        "do not name them: a.csv (Permission denied), b.png (Permission denied). Delete them (or ask their owner to).")


def test_only_files_tinylens_wrote_are_taken_for_an_earlier_fits_to_remove(tmp_path):
    """Of the files an earlier result.json names, only plain files inside the folder that are none
    of tinylens's own, none of the new fit's inputs and not modified since are removed: a record
    edited by hand ('../elsewhere.csv', 'checkpoint.hdf5'), a link, a folder or the fit's own
    image.fits saved there are not."""
    import os

    from tinylens.fitting.replaced import replaced_files

    out, outside = tmp_path / "output", tmp_path / "elsewhere.csv"
    out.mkdir()
    for name in ("old.csv", "kept.csv", "image.fits", "checkpoint.hdf5"):
        (out / name).write_text(name)
    outside.write_text("not in the folder")
    (out / "figures").mkdir()
    (out / "link.png").symlink_to(outside)
    files = {"a": "old.csv", "b": "kept.csv", "c": "image.fits", "d": "checkpoint.hdf5", "e": "../elsewhere.csv",
             "f": "figures", "g": "link.png", "h": "missing.png", "i": 3}
    (out / "result.json").write_text(json.dumps({"files": files, "versions": {"tinylens": "0.1"}}))
    later = (out / "result.json").stat().st_mtime_ns
    for name in ("old.csv", "image.fits"):  # written before result.json
        os.utime(out / name, ns=(later - 10**9, later - 10**9))
    assert replaced_files(out, {"kept.csv"}, [out / "image.fits"]) == [out / "old.csv"]
    os.utime(out / "old.csv", ns=(later + 10**9, later + 10**9))  # saved again after the fit: the user's
    assert replaced_files(out, {"kept.csv"}, [out / "image.fits"]) == []
    (out / "result.json").write_text("{not json")
    assert replaced_files(out, set()) == []


def test_a_result_json_of_another_tool_or_naming_no_file_removes_nothing(tmp_path):
    """A result.json another tool wrote in the folder ('files' naming its catalogue, written before
    it) had that catalogue taken for an earlier fit's table and deleted by the next fit there; only
    a record tinylens wrote (its versions name tinylens) is taken, and a name no file can have (a
    NUL character, an edited record) is passed over, not a ValueError."""
    import os

    from tinylens.fitting.replaced import replaced_files

    out = tmp_path / "output"
    out.mkdir()
    (out / "catalogue.csv").write_text("the user's own")
    record = {"files": {"catalogue": "catalogue.csv", "odd": "a\x00b.csv"}, "versions": {"other_tool": "2.0"}}
    (out / "result.json").write_text(json.dumps(record))
    later = (out / "result.json").stat().st_mtime_ns
    os.utime(out / "catalogue.csv", ns=(later - 10**9, later - 10**9))
    assert replaced_files(out, {"samples.csv"}) == []
    (out / "result.json").write_text(json.dumps({**record, "versions": {"tinylens": "0.1"}}))
    assert replaced_files(out, {"samples.csv"}) == [out / "catalogue.csv"]  # tinylens's own record: its table


def _folders_stop_this_user(tmp_path) -> bool:
    """Whether a folder without search permission stops this process (not root's, whom
    permissions do not stop): a test of a refused path is skipped where they do not."""
    probe = tmp_path / "probe"
    probe.mkdir()
    probe.chmod(0o600)
    try:
        (probe / "file").stat()
    except PermissionError:
        return True
    except FileNotFoundError:
        return False
    finally:
        probe.chmod(0o755)
        probe.rmdir()
    return False


def test_an_output_folder_name_too_long_for_the_system_is_an_output_error_before_anything_is_written(tmp_path):
    """An output folder whose name is longer than the system allows (255 bytes on most disks) made
    the check of the files the fit would overwrite (and validate's look for a file in the
    folder's way) raise ENAMETOOLONG: a bare OSError to tinylens.fit's caller and a traceback
    from 'tinylens validate' and 'fit'; it is an OutputError naming the folder, the path the
    system refused and its reason, before anything is written. Its advice ended 'Check output.path
    and the output file names in the config (or --output; tinylens.fit: output=), or choose
    another.', another of nothing: it now says what to choose, and the file names to check."""
    import errno
    import os

    config = write_tiny_lens(tmp_path / "lens", {"type": "optimizer", "method": "lbfgs"})
    out = tmp_path / ("o" * 300)
    reason = (f"cannot be looked at ({os.strerror(errno.ENAMETOOLONG)}). Choose another output.path in the config "
              "(or --output; tinylens.fit: output=), or check the output file names in the config.")
    with pytest.raises(tinylens.OutputError) as refused:
        tinylens.fit(config, progress=False, output=out)
    assert str(refused.value).startswith(f"Output folder {out}: {out}/") and str(refused.value).endswith(reason)
    assert reason in _validate_refuses_output_path(config, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lens"]


@pytest.mark.parametrize("inference, temporary_of", [
    ({"type": "optimizer", "method": "lbfgs"}, "dataset_subplot.png"),
    ({"type": "sampler", "method": "nautilus"}, "checkpoint.hdf5.fingerprint"),
])
def test_an_output_folder_whose_temporary_names_are_too_long_is_refused_before_the_fit_runs(tmp_path, inference,
                                                                                             temporary_of):
    """An output folder of 4060 bytes, short names all, in which every file's own path fits the
    system's 4096 bytes but not the hidden temporary name written first beside it, passed the check
    of the files the fit writes: the fit ran (the pipeline's stages, ~45 s) and failed at its first
    temporary; the check now tests the longest temporary name too, an OutputError naming the
    folder and the file before the fit runs or makes the folder (the sampler is patched to fail
    the test if it runs), and tinylens validate says the same."""
    import os
    from pathlib import Path

    config = write_tiny_lens(tmp_path / "lens", inference)
    out = tmp_path / "o"
    while len(str(out)) < 4060 - 1:
        out = out / ("d" * min(200, 4060 - len(str(out)) - 1))
    assert len(str(out)) == 4060 and all(len(os.fsencode(out / name)) < 4096 for name in filenames_written())
    said = f"makes a path of {4060 + 1 + len(temporary_of) + 21} bytes, longer than the system allows"
    text = _refusal_before_the_fit_runs(config, out)
    assert text.startswith(f"Output folder {out}: the fit writes each file there under a hidden temporary name "
                           f"first, and that of {temporary_of} (.{Path(temporary_of).stem}.unfinished-"), text
    assert said in text and text.endswith("a shorter output.path in the config (or --output; tinylens.fit: output=)."), text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lens"]  # the output folder not even made
    assert said in _validate_refuses_output_path(config, out)


def test_a_file_name_whose_temporary_name_is_too_long_is_said_as_a_name_not_a_path(tmp_path):
    """A table's name of 244 bytes fits the system's 255 bytes a name, but its hidden temporary
    name (21 bytes more) does not: the fit refused it saying the temporary 'makes a path of ~300
    bytes, longer than the system allows (4096 bytes on Linux)' and to choose a shorter
    output.path, which does not help. It says the name is too long, and to shorten the table's name,
    with the limit of the output folder's own disk (it said '255 bytes on most disks' where the
    system refused the name itself, in a folder made, and the limit of the disk where not made yet)."""
    import os

    import yaml

    config = write_tiny_lens(tmp_path / "lens", {"type": "optimizer", "method": "lbfgs"})
    settings = yaml.safe_load(config.read_text())
    name = "s" * 240 + ".csv"
    settings.setdefault("output", {}).setdefault("tables", {})["summary"] = name
    config.write_text(yaml.safe_dump(settings))
    out = tmp_path / "out"
    out.mkdir()
    text = _refusal_before_the_fit_runs(config, out)
    assert f"that of {name} (.{'s' * 240}.unfinished-" in text, text
    assert "is 265 bytes, a name longer than the system allows" in text and "4096 bytes" not in text, text
    assert f"; {os.pathconf(out, 'PC_NAME_MAX')} bytes there)" in text and "most disks" not in text, text
    assert text.endswith("Choose a shorter name for output.tables.summary in the config."), text
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("name, said", [
    ("s" * 240 + ".csv", "(.{stem}.unfinished-"),
    ("s" * 296 + ".csv", "{name} is 300 bytes, a name longer than the system allows"),
], ids=["temporary", "name"])
def test_a_file_name_too_long_for_an_output_folder_not_made_yet_is_refused_before_the_fit_runs(tmp_path, name, said):
    """With the output folder not made yet, the system says a path below it is not found before it
    looks at the last name's length, so a table's name of 300 bytes, or of 244 bytes whose hidden
    temporary name (21 bytes more) passes the disk's 255, passed the check of the files the fit
    writes: the fit ran, and failed at its first file. The names are now held against the limit of
    the nearest folder there, an OutputError before the fit runs or makes the folder, and tinylens
    validate says the same."""
    import yaml

    config = write_tiny_lens(tmp_path / "lens", {"type": "optimizer", "method": "lbfgs"})
    settings = yaml.safe_load(config.read_text())
    settings.setdefault("output", {}).setdefault("tables", {})["summary"] = name
    config.write_text(yaml.safe_dump(settings))
    out = tmp_path / "new" / "out"
    text = _refusal_before_the_fit_runs(config, out)
    assert said.format(stem=name[:-4], name=name) in text, text
    assert text.endswith("Choose a shorter name for output.tables.summary in the config."), text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lens"]  # the output folder not even made
    assert said.format(stem=name[:-4], name=name) in _validate_refuses_output_path(config, out)



@pytest.mark.parametrize("case", ["folder", "path", "later_run"])
def test_a_history_filename_whose_folder_or_path_is_too_long_is_refused_before_the_fit_runs(tmp_path, case):
    """dynesty's evaluation history (history_filename) in a folder whose name is 45 bytes over the
    disk's limit a name, or at an absolute path of 4100 bytes (over the system's 4096), or of 4094
    bytes whose pipeline's last sampling run's history (.run3, 5 bytes longer) is over it, each in
    folders not made yet, where the system says 'not found' before it looks at a name's length,
    passed the checks of the files the fit writes: the fit ran, and failed when it made the
    history's folder or dynesty first wrote it (the whole path was said as the output folder's, a
    file in it that cannot be looked at). Each is now an OutputError naming the key and the limit
    before the fit runs or makes a folder, and tinylens validate says the same."""
    import errno
    import os

    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    if limit < 0 or limit > 1000:
        pytest.skip("this disk has no limit to the length of a name")
    out = tmp_path / "new" / "out"
    if case == "folder":
        part = "h" * (limit + 45)
        history = f"{part}/calls.h5"
        said = (f"in {out / part}, and the name of a folder on its way ({part}) is {limit + 45} bytes, a name longer "
                f"than the system allows ({os.strerror(errno.ENAMETOOLONG)}; {limit} bytes there). Choose a "
                "shorter history_filename in the config.")
    else:
        length = 4100 if case == "path" else 4094
        folder = tmp_path / "hist"
        while length - len("/calls.h5") - len(str(folder)) > 200:
            folder = folder / ("d" * 150)
        folder = folder / ("d" * (length - len("/calls.h5") - len(str(folder)) - 1))
        history = f"{folder}/calls.h5"
        assert len(os.fsencode(history)) == length
        which = "its path is 4100" if case == "path" else "the path of its sampling run 3's history (calls.run3.h5) is 4099"
        said = (f"in {folder}, and {which} bytes, longer than the system allows ({os.strerror(errno.ENAMETOOLONG)}; "
                "4096 bytes on Linux). Choose a shorter history_filename in the config.")
    settings = {"save_evaluation_history": True, "history_filename": history, "maxcall": 100}
    config = write_tiny_lens(tmp_path / "lens", {"type": "sampler", "method": "dynesty", "settings": settings})
    text = _refusal_before_the_fit_runs(config, out)
    assert text == f"inference.settings.history_filename: dynesty would write its evaluation history {said}", text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lens"]  # no folder made, the output's or the history's
    assert said in _validate_refuses_output_path(config, out)

@pytest.mark.parametrize("what", ["history_folder", "table_name"])
def test_a_name_limit_the_system_did_not_say_is_given_as_most_disks_before_the_fit(tmp_path, monkeypatch, what):
    """Where the system gives no name limit (no os.pathconf, as on Windows), the checks before a
    fit hold names against 255 bytes, most disks' limit; their refusals said '255 bytes there', as
    if this disk had said so, and now say '255 bytes on most disks' (as the command line's own
    message of a name too long does); a dynesty history's folder name, and a table's name, of 300
    bytes into an output folder not made yet."""
    import errno
    import os

    import yaml

    monkeypatch.delattr(os, "pathconf")
    out = tmp_path / "new" / "out"
    if what == "history_folder":
        settings = {"save_evaluation_history": True, "history_filename": f"{'h' * 300}/calls.h5", "maxcall": 100}
        config = write_tiny_lens(tmp_path / "lens", {"type": "sampler", "method": "dynesty", "settings": settings})
    else:
        config = write_tiny_lens(tmp_path / "lens", {"type": "optimizer", "method": "lbfgs"})
        settings = yaml.safe_load(config.read_text())
        settings.setdefault("output", {}).setdefault("tables", {})["summary"] = "s" * 296 + ".csv"
        config.write_text(yaml.safe_dump(settings))
    text = _refusal_before_the_fit_runs(config, out)
    assert f"a name longer than the system allows ({os.strerror(errno.ENAMETOOLONG)}; 255 bytes on most disks)" in text, text
    assert "bytes there" not in text, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lens"]


def _validate_refuses_output_path(config, out) -> str:
    """tinylens validate's output, whitespace joined, for config with output.path set to out;
    it must exit 2 without a traceback."""
    import yaml
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    settings = yaml.safe_load(config.read_text())
    settings["output"]["path"] = str(out)
    config.write_text(yaml.safe_dump(settings))
    result = CliRunner().invoke(app, ["validate", str(config)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    return " ".join(result.output.split())


def test_an_output_folder_that_is_a_file_says_to_choose_the_output_argument_too(tmp_path):
    """tinylens.fit(config, output="results.txt"), a file, was refused advising only 'output.path in
    the config (or --output)', the command line's option, which a Python caller has not got; the
    advice names tinylens.fit's output= too, and the file is left as it was."""
    config = write_tiny_lens(tmp_path / "lens", {"type": "optimizer", "method": "lbfgs"})
    out = tmp_path / "results.txt"
    out.write_text("kept")
    text = _refusal_before_the_fit_runs(config, out)
    assert text == (f"Output folder {out} cannot be written ({out} is a file, not a folder). Choose another "
                    "output.path in the config (or --output; tinylens.fit: output=)."), text
    assert out.read_text() == "kept" and sorted(p.name for p in tmp_path.iterdir()) == ["lens", "results.txt"]


def _refusal_before_the_fit_runs(config, out) -> str:
    """The OutputError text, whitespace joined, that tinylens.fit of config into out raises;
    the sampler is patched to fail the test if the fit gets as far as running."""
    from tinylens import inference as inference_module

    def ran(*args, **kwargs):
        raise AssertionError("the fit ran")

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(inference_module, "run_inference", ran)
        with pytest.raises(tinylens.OutputError) as refused:
            tinylens.fit(config, progress=False, output=out)
    return " ".join(str(refused.value).split())


def filenames_written() -> list[str]:
    """Every name tinylens's own files and the default tables and figures take in an output folder."""
    from tinylens import filenames
    from tinylens.fitting.outputs import DEFAULT_FILES

    return [*filenames.RESERVED, *DEFAULT_FILES.values()]


def test_a_config_or_output_folder_this_user_may_not_enter_is_an_error_naming_it_with_advice(tmp_path):
    """A config in a folder this user may not enter (chmod 600: no search permission) reached a
    Python caller of tinylens.load as a bare PermissionError from Path.exists, and an output
    folder that may not be entered (or whose parent may not) one from the check of the files the
    fit would overwrite; they are a ConfigError and an OutputError naming the folder and the
    command that shows its permissions (root, whom permissions do not stop, skips it)."""
    if not _folders_stop_this_user(tmp_path):
        pytest.skip("permissions do not stop this user (root)")
    lens = tmp_path / "lens"
    config = write_tiny_lens(lens, {"type": "optimizer", "method": "lbfgs"})
    lens.chmod(0o600)
    try:
        with pytest.raises(tinylens.ConfigError) as refused:
            tinylens.load(config)
    finally:
        lens.chmod(0o755)
    text = " ".join(str(refused.value).split())
    assert str(config) in text and "permission denied" in text and f"ls -ld on {lens}" in text
    for locked, out in ((tmp_path / "out", tmp_path / "out"), (tmp_path / "parent", tmp_path / "parent" / "out")):
        locked.mkdir()
        locked.chmod(0o600)
        try:
            with pytest.raises(tinylens.OutputError) as refused:
                tinylens.fit(config, progress=False, output=out)
        finally:
            locked.chmod(0o755)
        text = " ".join(str(refused.value).split())
        assert f"Output folder {out} cannot be looked into" in text and "ls -ld" in text and "--output" in text
        assert not (out / "result.json").exists()


def test_the_name_limit_of_a_folder_not_made_is_255_where_the_system_cannot_say(tmp_path, monkeypatch):
    """The check of names too long for an output folder not made yet asks os.pathconf, which
    Windows' Python does not have: there (and where it fails) 255 bytes, most disks' limit, not an
    AttributeError out of tinylens.fit; where it can say, the disk's own limit, that of the folder
    above where a name on the way is too long for the system to look at."""
    import os

    from tinylens.paths import name_max_said

    folder = tmp_path / "new" / "out"
    assert name_max_said(folder) == (os.pathconf(tmp_path, "PC_NAME_MAX"), True)
    assert name_max_said(tmp_path / ("d" * 300) / "out") == (os.pathconf(tmp_path, "PC_NAME_MAX"), True)
    monkeypatch.delattr(os, "pathconf")
    assert name_max_said(folder) == (255, False)


def test_a_temporary_name_too_long_for_a_folder_not_made_yet_is_said_with_that_disks_limit(tmp_path, monkeypatch):
    """A table's name of 134 bytes into an output folder not made yet, on a disk that takes 143
    bytes a name (eCryptfs; os.pathconf patched to say so), whose hidden temporary name (21 bytes
    more) passes it: the refusal said '255 bytes on most disks', a limit the name is under; it now
    says the limit it was held against, 143 bytes there."""
    import os

    import yaml

    real_pathconf = os.pathconf

    def pathconf(path, name):
        value = real_pathconf(path, name)  # a folder not made yet is still not found
        return 143 if name == "PC_NAME_MAX" else value

    config = write_tiny_lens(tmp_path / "lens", {"type": "optimizer", "method": "lbfgs"})
    settings = yaml.safe_load(config.read_text())
    name = "s" * 130 + ".csv"
    settings.setdefault("output", {}).setdefault("tables", {})["summary"] = name
    config.write_text(yaml.safe_dump(settings))
    out = tmp_path / "new" / "out"
    monkeypatch.setattr(os, "pathconf", pathconf)
    text = _refusal_before_the_fit_runs(config, out)
    assert f"that of {name} (.{'s' * 130}.unfinished-" in text, text
    assert "is 155 bytes, a name longer than the system allows" in text and "; 143 bytes there)" in text, text
    assert "most disks" not in text, text
    assert text.endswith("Choose a shorter name for output.tables.summary in the config."), text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lens"]


@pytest.mark.parametrize("extra, said", [
    (45, "and its name is {size} bytes, a name longer than the system allows"),
    (-3, "the name of its sampling run 3's history ({stem}.run3.h5) is {run3} bytes, a name longer"),
], ids=["name", "later_run"])
def test_a_history_filename_too_long_for_an_output_folder_not_made_yet_is_refused_before_the_fit_runs(
        tmp_path, extra, said):
    """dynesty's evaluation history named (history_filename) 45 bytes over the disk's limit a name,
    into an output folder not made yet, where the system says 'not found' before it looks at a
    name's length, passed the checks of the files the fit writes: the fit ran, and failed when
    dynesty first wrote its history. It is now held against the limit of the nearest folder there,
    as is the name of the history of the pipeline's last sampling run (.run3, after max_widen 2
    widenings, 5 bytes longer), an OutputError naming the key before the fit runs or makes the folder,
    and tinylens validate says the same."""
    import os

    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    if limit < 0 or limit > 1000:
        pytest.skip("this disk has no limit to the length of a name")
    stem = "h" * (limit + extra - 3)
    name = stem + ".h5"
    settings = {"save_evaluation_history": True, "history_filename": name, "maxcall": 100}
    config = write_tiny_lens(tmp_path / "lens", {"type": "sampler", "method": "dynesty", "settings": settings})
    out = tmp_path / "new" / "out"
    text = _refusal_before_the_fit_runs(config, out)
    assert text.startswith("inference.settings.history_filename: dynesty would write its evaluation history in "
                           f"{out}, and "), text
    said = said.format(size=limit + extra, stem=stem, run3=limit + extra + 5)
    assert said in text, text
    assert f"; {limit} bytes there). Choose a shorter history_filename in the config." in text, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lens"]  # the output folder not even made
    assert said in _validate_refuses_output_path(config, out)


def _tiny_lens_without_figures(tmp_path, inference=None):
    """The tiny lens written under ``tmp_path / "lens"`` (``inference`` as write_tiny_lens takes
    it), its config drawing no figures; the config's path and its output folder."""
    import yaml

    path = write_tiny_lens(tmp_path / "lens", inference)
    config = yaml.safe_load(path.read_text())
    config["output"]["draw_figures"] = "none"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, tmp_path / "lens" / "output"


def test_a_finished_fits_checkpoint_the_system_will_not_delete_is_left_with_a_warning_not_an_error(tmp_path, monkeypatch):
    """A converged fit deletes its checkpoint after writing result.json; where the system refused
    (PermissionError: someone else's file in a folder with the sticky bit) fit raised that
    PermissionError, so the written fit was never returned and a script or survey took it for a
    failed one. The checkpoint is now left, with a DataWarning naming it, and the result returned."""
    from tinylens import filenames

    path, out = _tiny_lens_without_figures(tmp_path)
    refused = out / filenames.CHECKPOINTS["nautilus"]
    refuse_unlink(monkeypatch, refused)
    with pytest.warns(tinylens.errors.DataWarning) as caught:
        result = tinylens.fit(path, progress=False)
    [message] = [str(w.message) for w in caught if "cannot be deleted" in str(w.message)]
    assert f"{refused.name} (Operation not permitted)" in message and str(out) in message
    assert result.converged and result.output_dir == out
    assert json.loads((out / "result.json").read_text()) == result.to_json()
    assert refused.is_file()  # left, and the others of the finished fit deleted
    assert not (out / filenames.fingerprint_name(refused.name)).exists()
    assert not (out / filenames.PIPELINE_STATE).exists()


def _earlier_fit_folder(tmp_path):
    """The tiny lens's config (an lbfgs fit) and its output folder, holding an earlier fit's
    result_samples.csv and the result.json that names it."""
    lbfgs = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}
    path = write_tiny_lens(tmp_path / "lens", lbfgs)
    out = tmp_path / "lens" / "output"
    out.mkdir()
    (out / "result_samples.csv").write_text("an earlier fit's samples\n")
    (out / "result.json").write_text(json.dumps({"versions": {"tinylens": "0"}, "files": {"samples": "result_samples.csv"}}))
    return path, out


@pytest.mark.parametrize("refused", ["result_samples.csv", "result.json"])
def test_an_earlier_file_this_fit_writes_again_that_the_system_keeps_is_refused_before_the_search(tmp_path, monkeypatch,
                                                                                                  refused):
    """An earlier fit's result_samples.csv that the system refused to delete (someone else's file
    in a folder with the sticky bit, where replacing it is refused as deleting it is) was passed
    over in silence, so the fit searched and then stopped with PermissionError writing its own
    samples table, its result.json never written; one result.json that could not be deleted raised
    a bare PermissionError. Either is now an OutputError naming the file, before anything is sampled."""

    import tinylens.inference

    path, out = _earlier_fit_folder(tmp_path)

    def searched(*args, **kwargs):
        raise AssertionError("the search ran")

    refuse_unlink(monkeypatch, out / refused)
    monkeypatch.setattr(tinylens.inference, "run_inference", searched)
    with pytest.raises(tinylens.errors.OutputError) as caught:
        tinylens.fit(path, progress=False)
    message = str(caught.value)
    assert f"{refused}, an earlier fit's, cannot be deleted (Operation not permitted)" in message
    assert str(out) in message and "output.path" in message
    assert (out / refused).is_file()


def _earlier_fit_with_two_tables(tmp_path):
    """:func:`_earlier_fit_folder` with the earlier fit's result_summary.csv too, named before its
    samples table in its result.json; the config's path, the output folder and the earlier files' bytes."""
    path, out = _earlier_fit_folder(tmp_path)
    (out / "result_summary.csv").write_text("an earlier fit's summary\n")
    files = {"summary": "result_summary.csv", "samples": "result_samples.csv"}
    (out / "result.json").write_text(json.dumps({"versions": {"tinylens": "0"}, "files": files}))
    return path, out, {p.name: p.read_bytes() for p in out.iterdir()}


def test_an_earlier_table_the_system_keeps_leaves_no_result_naming_tables_gone(tmp_path, monkeypatch):
    """The earlier fit's tables that this fit writes again were deleted one by one before its
    result.json: where the system refused the second (result_samples.csv, marked immutable), the
    fit stopped with the first deleted and the earlier result.json left naming it, a result whose
    tables are gone. result.json now goes first, so the stop leaves no result.json naming a file
    that is not there; the refused file is named, nothing searched."""
    import tinylens.inference

    path, out, _ = _earlier_fit_with_two_tables(tmp_path)
    refuse_unlink(monkeypatch, out / "result_samples.csv")
    monkeypatch.setattr(tinylens.inference, "run_inference", _never_searched)
    with pytest.raises(tinylens.errors.OutputError) as caught:
        tinylens.fit(path, progress=False)
    assert "result_samples.csv, an earlier fit's, cannot be deleted (Operation not permitted)" in str(caught.value)
    if (out / "result.json").exists():  # a result left must be whole
        named = json.loads((out / "result.json").read_text())["files"].values()
        assert all((out / name).is_file() for name in named), sorted(p.name for p in out.iterdir())
    assert (out / "result_samples.csv").is_file()


def _sticky_output_folder(tmp_path, inference=None):
    """The tiny lens written under ``tmp_path / "lens"`` (``inference`` as write_tiny_lens takes it)
    and its output folder, made empty with the sticky bit (mode 1777, as /tmp is), where the system
    lets a file be replaced by its owner alone; the config's path and the output folder."""
    path = write_tiny_lens(tmp_path / "lens", inference)
    out = tmp_path / "lens" / "output"
    out.mkdir()
    out.chmod(0o1777)
    return path, out


def _refusal_before_the_search(monkeypatch, path, euid=None, **kwargs):
    """The OutputError's message of ``tinylens.fit(path, **kwargs)`` run as the effective user id
    ``euid`` (by default os.getuid() + 1, so that this user's files are another user's to the fit,
    root included), the search failing the test if it runs; every monkeypatch of the test is undone
    after, so that what the test checks next sees the real ids and files."""
    import tinylens.inference

    euid = os.getuid() + 1 if euid is None else euid
    monkeypatch.setattr(tinylens.inference, "run_inference", _never_searched)
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    with pytest.raises(tinylens.errors.OutputError) as caught:
        tinylens.fit(path, progress=False, **kwargs)
    monkeypatch.undo()
    return str(caught.value)


def test_another_users_earlier_table_in_a_sticky_folder_is_refused_before_any_earlier_file_is_deleted(tmp_path,
                                                                                                   monkeypatch):
    """An earlier fit's table that this fit writes again, another user's in a folder with the sticky
    bit (whose deletion the system refuses), was found only when the fit tried to delete it, the
    earlier files before it already deleted; it is now seen before any is (_check_replaceable), an
    OutputError naming it, and the earlier result.json and tables are left whole. (Run as root,
    the system deletes anyone's file: the test takes another user's id.)"""
    path, out, before = _earlier_fit_with_two_tables(tmp_path)
    out.chmod(0o1777)
    message = _refusal_before_the_search(monkeypatch, path)
    assert message.startswith(f"Output folder {out}: 3 files there belong to another user, in a folder with the "
                              "sticky bit"), message
    for name in ("result.json", "result_summary.csv", "result_samples.csv"):  # all three, not the first alone
        assert f"{name} (user id {os.getuid()})" in message, message
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_every_file_the_system_would_refuse_in_a_sticky_folder_is_named_in_one_error(tmp_path, monkeypatch):
    """The check before the search stopped at the first file the system would refuse to replace
    (another user's in a folder with the sticky bit): with three such files (result.json, a link
    at result_summary.csv, an earlier fit's checkpoint) it named result.json alone, so the user
    deleted it, ran the fit again and met the next, and then the next. The one error names all
    three now, each with its owner's user id and when the fit replaces it; the files are left and
    nothing is searched. (Run as root, the system replaces anyone's file: the test takes another
    user's id, and the files other ids.)"""
    path, out = _sticky_output_folder(tmp_path)
    me, first, second = os.getuid() + 1, os.getuid() + 2, os.getuid() + 3
    (out / "result.json").write_text("{}")
    target = tmp_path / "colleagues_summary.csv"
    target.write_text("a colleague's table\n")
    (out / "result_summary.csv").symlink_to(target)
    (out / "checkpoint.hdf5").write_bytes(b"another fit's checkpoint")
    (out / "checkpoint.hdf5.fingerprint").write_text("another fit's fingerprint\n")
    os.chown(out / "result.json", first, -1)
    os.chown(out / "result_summary.csv", second, -1, follow_symlinks=False)
    os.chown(out / "checkpoint.hdf5", first, -1)
    os.chown(out / "checkpoint.hdf5.fingerprint", me, -1)  # this user's own: replaced as ever
    before = {p.name: (p.lstat().st_uid, p.read_bytes()) for p in out.iterdir()}
    message = _refusal_before_the_search(monkeypatch, path, euid=me)
    assert message.startswith(f"Output folder {out}: 3 files there belong to other users, in a folder with the "
                              "sticky bit"), message
    after_search = message.index("after the search")
    assert message.index(f"result.json (user id {first})") < after_search, message
    assert message.index(f"result_summary.csv (a link, user id {second})") < after_search, message
    assert f"checkpoint.hdf5 (user id {first}), during the search" in message, message
    assert "fingerprint" not in message and "output.path" in message, message
    assert "(or ask their owners to: ls -l" in message, message  # two users' files: both to ask
    assert {p.name: (p.lstat().st_uid, p.read_bytes()) for p in out.iterdir()} == before


def test_a_folder_at_the_name_of_a_table_the_fit_writes_is_refused_before_the_search(tmp_path, monkeypatch):
    """A folder named result_summary.csv in the output folder (made by mistake) stopped the fit
    with IsADirectoryError after its search (29 s of the tiny lens's lbfgs fit here, hours of a
    sampler's), when it wrote the summary table, no result.json written; it is an OutputError
    naming it and its config key now, before anything is searched."""
    import tinylens.inference

    lbfgs = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}
    path = write_tiny_lens(tmp_path / "lens", lbfgs)
    out = tmp_path / "lens" / "output"
    (out / "result_summary.csv").mkdir(parents=True)

    def searched(*args, **kwargs):
        raise AssertionError("the search ran")

    monkeypatch.setattr(tinylens.inference, "run_inference", searched)
    with pytest.raises(tinylens.errors.OutputError) as caught:
        tinylens.fit(path, progress=False)
    message = str(caught.value)
    assert "result_summary.csv there is a folder" in message and "output.tables.summary" in message
    assert str(out) in message and (out / "result_summary.csv").is_dir()


@pytest.mark.parametrize("refused", ["model_corner.png", "model_results.png"])
def test_an_earlier_figure_this_fit_will_not_draw_that_the_system_keeps_does_not_stop_the_fit(tmp_path, monkeypatch,
                                                                                              refused):
    """An earlier fit's figure named in its result.json that the system refused to delete was an
    OutputError before the search, saying the system would refuse this fit's own figure in its place,
    where this fit draws none of that name: an optimiser's (no corner plot), one with
    output.draw_figures: none (no figures). It is left with a DataWarning, and the fit is written."""

    import yaml

    lbfgs = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}
    path = write_tiny_lens(tmp_path / "lens", lbfgs)
    if refused == "model_results.png":
        config = yaml.safe_load(path.read_text())
        config["output"]["draw_figures"] = "none"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    out = tmp_path / "lens" / "output"
    out.mkdir()
    (out / refused).write_bytes(b"an earlier fit's figure")
    (out / "result.json").write_text(json.dumps({"versions": {"tinylens": "0"}, "files": {"figure": refused}}))
    refuse_unlink(monkeypatch, out / refused)
    with pytest.warns(tinylens.errors.DataWarning) as caught:
        result = tinylens.fit(path, progress=False)
    assert any(f"{refused} (Operation not permitted)" in str(w.message) for w in caught)
    saved = json.loads((out / "result.json").read_text())
    assert saved == result.to_json() and refused not in saved["files"].values()
    assert (out / refused).read_bytes() == b"an earlier fit's figure"
    assert abs(saved["median"]["lens_mass.0.theta_E"] - 1.0) < 0.02


@pytest.mark.parametrize("refused", ["result_samples.csv", "result.json"])
def test_an_earlier_file_a_network_disk_fails_to_delete_is_not_called_refused_by_the_system(tmp_path, monkeypatch,
                                                                                            refused):
    """Only a PermissionError says the system would refuse the fit's own file in an earlier one's
    place; any other error deleting it (a network file system's EIO) was an OutputError saying so,
    which a survey writes as the lens's failure rather than an error a retry may not meet. An
    earlier table's is passed over again (the fit writes its own in its place) and result.json's
    raised as it is, as before c135c24."""
    import errno

    path, out = _earlier_fit_folder(tmp_path)
    refuse_unlink(monkeypatch, out / refused, errno.EIO, "Input/output error")
    if refused == "result.json":
        with pytest.raises(OSError) as caught:
            tinylens.fit(path, progress=False)
        assert caught.value.errno == errno.EIO and not isinstance(caught.value, tinylens.errors.TinyLensError)
        return
    result = tinylens.fit(path, progress=False)
    saved = json.loads((out / "result.json").read_text())
    assert saved == result.to_json() and saved["files"]["samples"] == "result_samples.csv"
    assert pd.read_csv(out / "result_samples.csv").shape[0] == 1  # this fit's table, not the earlier one


def test_a_folder_at_the_name_of_a_corner_plot_an_optimiser_never_draws_does_not_stop_its_fit(tmp_path):
    """A folder named model_corner.png in an optimiser's output folder was refused before the
    search ('there is a folder, where the fit writes its own model_corner.png') since 80c1cdd,
    though an optimiser's single point draws no corner plot; its fit is written now, and the
    folder, the user's, is left as it is without a warning that an earlier fit's file cannot be deleted."""
    import warnings

    lbfgs = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}
    path = write_tiny_lens(tmp_path / "lens", lbfgs)
    out = tmp_path / "lens" / "output"
    (out / "model_corner.png").mkdir(parents=True)
    (out / "model_corner.png" / "mine.txt").write_text("kept")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = tinylens.fit(path, progress=False)
    assert not [w for w in caught if "cannot be deleted" in str(w.message)]
    saved = json.loads((out / "result.json").read_text())
    assert saved == result.to_json() and "corner" not in saved["files"]
    assert (out / "model_corner.png" / "mine.txt").read_text() == "kept"
    assert abs(saved["median"]["lens_mass.0.theta_E"] - 1.0) < 0.02


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_under_an_optimisers_fit_says_no_checkpoint_is_kept(tmp_path, monkeypatch, code):
    """An lbfgs fit whose result.json found the disk full (or mounted read-only) said 'the
    checkpoints written before are kept: ... run the fit again to resume it', where an optimiser
    keeps no checkpoint and starts afresh; it now says so, the output folder named as before."""
    from tinylens import filenames
    from tinylens.results import tables

    path, out = _earlier_fit_folder(tmp_path)
    real = tables.write_json

    def refused(target, content):
        if Path(target).name == filenames.RESULT:
            raise OSError(code, os.strerror(code), str(target))
        return real(target, content)

    monkeypatch.setattr(tables, "write_json", refused)
    with pytest.raises(tinylens.errors.OutputError) as caught:
        tinylens.fit(path, progress=False)
    message = str(caught.value)
    assert message.startswith(f"Output folder {out}: ") and os.strerror(code) in message, message
    assert "an optimizer keeps no checkpoint" in message and "starts afresh" in message, message
    assert "checkpoints written before are kept" not in message and "resume" not in message, message
    assert not (out / filenames.RESULT).exists()
    assert not any(name in filenames.checkpoint_names() for name in os.listdir(out))


def _never_searched(*args, **kwargs):
    raise AssertionError("the search ran")


@pytest.mark.parametrize("method", ["nautilus", "dynesty"])
def test_a_checkpoint_that_fresh_cannot_delete_is_said_by_name_before_the_search(tmp_path, monkeypatch, method):
    """fresh=True (tinylens fit --fresh) in a folder whose earlier checkpoint the system refused to
    delete (someone else's file in a folder with the sticky bit) stopped with a bare PermissionError
    before the search; it is now an OutputError naming the file, why the fit deletes it and what to do,
    nothing sampled, the checkpoint left."""
    import tinylens.inference
    from tinylens import filenames

    inference = {"type": "sampler", "method": method, "settings": {"nlive": 50} if method == "dynesty" else FAST_NAUTILUS}
    path = write_tiny_lens(tmp_path / "lens", inference)
    out = tmp_path / "lens" / "output"
    out.mkdir()
    refused = out / filenames.CHECKPOINTS[method]
    refused.write_bytes(b"an earlier fit's checkpoint")
    refuse_unlink(monkeypatch, refused)
    monkeypatch.setattr(tinylens.inference, "run_inference", _never_searched)
    with pytest.raises(tinylens.errors.OutputError) as caught:
        tinylens.fit(path, progress=False, fresh=True)
    message = str(caught.value)
    assert message.startswith(f"Output folder {out}: {refused.name}, an earlier fit's checkpoint, cannot be deleted "
                              "(Operation not permitted)"), message
    assert "fresh=True" in message and "--fresh" in message and "before sampling anything" in message, message
    assert str(refused) in message and "output.path" in message, message
    assert refused.read_bytes() == b"an earlier fit's checkpoint"


def test_dynestys_unfinished_checkpoint_that_the_system_keeps_is_said_by_name_before_a_dynesty_search(tmp_path,
                                                                                                     monkeypatch):
    """dynesty's unfinished checkpoint (checkpoint_dynesty.pkl.tmp) of a killed fit that the system
    refused to delete stopped a dynesty fit with a bare PermissionError; it is an OutputError naming
    it, before the search (dynesty writes its own checkpoint under that name)."""
    import tinylens.inference
    from tinylens import filenames

    path = write_tiny_lens(tmp_path / "lens", {"type": "sampler", "method": "dynesty", "settings": {"nlive": 50}})
    out = tmp_path / "lens" / "output"
    out.mkdir()
    refused = out / filenames.DYNESTY_UNFINISHED
    refused.write_bytes(b"half a checkpoint")
    refuse_unlink(monkeypatch, refused)
    monkeypatch.setattr(tinylens.inference, "run_inference", _never_searched)
    with pytest.raises(tinylens.errors.OutputError) as caught:
        tinylens.fit(path, progress=False)
    message = str(caught.value)
    assert message.startswith(f"Output folder {out}: {refused.name}, dynesty's unfinished checkpoint of an earlier "
                              "fit, cannot be deleted (Operation not permitted)"), message
    assert "before sampling anything" in message and str(refused) in message, message
    assert refused.is_file()


@pytest.mark.parametrize("leftover", [".result_summary.unfinished-abcd1234.csv", "checkpoint_dynesty.pkl.tmp"])
def test_a_killed_fits_leftover_this_fit_does_not_need_is_left_with_a_warning(tmp_path, monkeypatch, leftover):
    """A killed fit's hidden temporary (or, under another search than dynesty, dynesty's unfinished
    checkpoint) that the system refused to delete stopped the fit with a bare PermissionError before
    the search, though the fit never writes under that name; it is left, with a DataWarning naming
    it, and the fit goes on to its search."""
    import tinylens.inference

    path, out = _earlier_fit_folder(tmp_path)
    refused = out / leftover
    refused.write_bytes(b"left by a killed fit")
    refuse_unlink(monkeypatch, refused)

    class Searched(Exception):
        pass

    def searched(*args, **kwargs):
        raise Searched

    monkeypatch.setattr(tinylens.inference, "run_inference", searched)
    with pytest.warns(tinylens.errors.DataWarning) as caught, pytest.raises(Searched):
        tinylens.fit(path, progress=False)
    [message] = [str(w.message) for w in caught if "killed fit" in str(w.message)]
    assert message == (f"A file that a killed fit left unfinished in {out} cannot be deleted: {leftover} (Operation "
                       "not permitted). This fit does not need it: delete it (or ask its owner to).")
    assert refused.is_file()


def test_result_json_names_a_converged_fits_checkpoint_the_system_would_not_delete(tmp_path, monkeypatch):
    """A converged fit whose checkpoint the system refused to delete (someone else's file in a
    folder with the sticky bit) left it there, the warning naming it, while result.json and the
    result said info.checkpoint: null, as if it were gone; both now name it, and result.json is the
    result's to_json (a checkpoint deleted is still null: test_a_converged_fits_deleted_checkpoint_is_null)."""

    from tinylens import filenames

    path, out = _tiny_lens_without_figures(tmp_path)
    refused = out / filenames.CHECKPOINTS["nautilus"]
    refuse_unlink(monkeypatch, refused)
    with pytest.warns(tinylens.errors.DataWarning):
        result = tinylens.fit(path, progress=False)
    saved = json.loads((out / "result.json").read_text())
    assert result.converged and refused.is_file()
    assert saved["info"]["checkpoint"] == str(refused) and result.info["checkpoint"] == str(refused)
    assert saved == result.to_json()
    assert tinylens.read_result(out).info["checkpoint"] == str(refused)


def test_another_users_table_no_result_names_in_a_sticky_folder_is_refused_before_the_search(tmp_path, monkeypatch):
    """A result_summary.csv that no earlier result.json names (a killed fit's, a colleague's), in a
    folder with the sticky bit and of another user, whom the system lets no one else replace, was
    passed over before the search, which then stopped with a bare PermissionError writing the
    summary table. It is now an OutputError naming it before anything is searched; the file is left.
    (Run as root, the system replaces anyone's file: the test takes another user's id.)"""
    lbfgs = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}
    path, out = _sticky_output_folder(tmp_path, lbfgs)
    table = out / "result_summary.csv"
    table.write_text("a colleague's table\n")
    message = _refusal_before_the_search(monkeypatch, path)
    assert message.startswith(f"Output folder {out}: result_summary.csv there is another user's file (user id "
                              f"{os.getuid()}), in a folder with the sticky bit"), message
    assert "after the search" in message and str(table) in message and "output.path" in message, message
    assert table.read_text() == "a colleague's table\n"


@pytest.mark.parametrize("name", ["checkpoint.hdf5", "checkpoint.hdf5.fingerprint"])
def test_another_users_checkpoint_of_another_fit_in_a_sticky_folder_is_refused_before_the_search(tmp_path, monkeypatch,
                                                                                                 name):
    """An earlier fit's checkpoint of other settings (so not resumed but replaced), another user's in a
    folder with the sticky bit, was warned of as replaced and the fit went on: the system refused
    the sampler's deletion of it after the pipeline's stages (9.9 s for the tiny lens, minutes for a
    real one), a generic permission error. It is now an OutputError before anything is searched,
    naming the file and saying it is another fit's checkpoint this fit replaces; the file is left.
    (Run as root, the system replaces anyone's file: the test takes another user's id. The
    fingerprint's case gives the checkpoint to that id, which only root may: skipped for a user.)"""
    path, out = _sticky_output_folder(tmp_path)
    (out / "checkpoint.hdf5").write_bytes(b"another fit's checkpoint")
    (out / "checkpoint.hdf5.fingerprint").write_text("another fit's fingerprint\n")
    # the one named another user's, the other this user's (both refused are said together: the test above)
    try:
        os.chown(out / ("checkpoint.hdf5.fingerprint" if name == "checkpoint.hdf5" else "checkpoint.hdf5"),
                 os.getuid() + 1, -1)
    except PermissionError:  # giving a file away takes root (CAP_CHOWN): a user's run of the suite
        pytest.skip("only root can give a file to another user")
    message = _refusal_before_the_search(monkeypatch, path)
    assert message.startswith(f"Output folder {out}: {name} there is another user's file (user id {os.getuid()}), in "
                              "a folder with the sticky bit"), message
    assert "another fit's checkpoint, which this fit does not resume but replaces" in message, message
    assert str(out / name) in message and "output.path" in message, message
    assert (out / "checkpoint.hdf5").read_bytes() == b"another fit's checkpoint"


@pytest.mark.parametrize("survey", [True, False])
def test_another_users_record_of_a_checkpoints_template_in_a_sticky_folder_is_refused_before_the_search(tmp_path,
                                                                                                     monkeypatch, survey):
    """The record beside a sampler's checkpoint of the survey template whose fit wrote it
    (checkpoint.hdf5.template), another user's in a folder with the sticky bit, was not looked at
    before the search: a survey's fit of another template writes its own record in its place, and a
    fit outside a survey deletes it, as the sampling starts, which the system refuses there, so the
    fit stopped after the pipeline's stages. It is now an OutputError before anything is searched,
    naming the file and saying why the fit writes (or deletes) it, whether or not it resumes the
    checkpoint; it is left. A record of this fit's own template is not written again: not refused.
    (Run as root, the system replaces anyone's file: the test takes another user's id.)"""
    from tinylens.inference.common import CHECKPOINT_TEMPLATE

    path, out = _sticky_output_folder(tmp_path)
    record = out / "checkpoint.hdf5.template"
    record.write_text("0123456789abcdef\n")  # a colleague's survey fit of another template
    token = CHECKPOINT_TEMPLATE.set("fedcba9876543210" if survey else None)
    try:
        message = _refusal_before_the_search(monkeypatch, path)
    finally:
        CHECKPOINT_TEMPLATE.reset(token)
    assert message.startswith(f"Output folder {out}: checkpoint.hdf5.template there is another user's file (user id "
                              f"{os.getuid()}), in a folder with the sticky bit"), message
    assert "records which survey template's fit wrote the sampler's checkpoint" in message, message
    assert ("writes its own template's record there" if survey else "run outside a survey, deletes it") in message
    assert "whether it resumes that checkpoint or starts it anew" in message, message
    assert "does not resume but replaces" not in message and str(record) in message, message
    assert record.read_text() == "0123456789abcdef\n"

    import tinylens.inference  # the record of this survey fit's own template: left as it is, so the search starts

    monkeypatch.setattr(tinylens.inference, "run_inference", _never_searched)
    monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 1)
    token = CHECKPOINT_TEMPLATE.set("0123456789abcdef")
    try:
        with pytest.raises(AssertionError, match="the search ran"):
            tinylens.fit(path, progress=False)
    finally:
        CHECKPOINT_TEMPLATE.reset(token)


def _own_stamp(path):
    """The fingerprint that a fit of the config ``path`` without the pipeline writes beside its
    sampler's checkpoint (what a colleague's run of the same config left in a shared folder)."""
    from tinylens.inference import search_of

    problem = tinylens.load(path)
    module, _, settings, _ = search_of(problem)
    return module.checkpoint_stamp(problem, settings)


def test_another_users_checkpoint_that_the_fit_resumes_in_a_sticky_folder_is_refused_before_the_search(tmp_path,
                                                                                                      monkeypatch):
    """A checkpoint of this very fit (a colleague's run of the same config, its fingerprint this
    fit's), another user's in a folder with the sticky bit, was resumed without a look: the sampler
    writes it again as it goes on (each write replaces the file), which the system refuses there,
    so the fit stopped during its sampling and never finished. It is now an OutputError before
    anything is searched, naming the file and saying the fit resumes it; the files are left.
    A fingerprint of this fit's with no checkpoint beside it is not written again: not refused.
    (Run as root, the system replaces anyone's file: the test takes another user's id.)"""
    path, out = _sticky_output_folder(tmp_path)
    checkpoint, stamp = out / "checkpoint.hdf5", out / "checkpoint.hdf5.fingerprint"
    checkpoint.write_bytes(b"a colleague's checkpoint of this fit")
    stamp.write_text(_own_stamp(path) + "\n")
    message = _refusal_before_the_search(monkeypatch, path, pipeline=False)
    assert message.startswith(f"Output folder {out}: checkpoint.hdf5 there is another user's file (user id "
                              f"{os.getuid()}), in a folder with the sticky bit"), message
    assert "a checkpoint of this same fit, which it resumes and writes again" in message, message
    assert str(checkpoint) in message and "fingerprint" not in message and "output.path" in message, message
    assert checkpoint.read_bytes() == b"a colleague's checkpoint of this fit"

    checkpoint.unlink()  # the fingerprint alone, this fit's: left as it is, so the search starts
    import tinylens.inference

    monkeypatch.setattr(tinylens.inference, "run_inference", _never_searched)
    monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 1)
    with pytest.raises(AssertionError, match="the search ran"):
        tinylens.fit(path, progress=False, pipeline=False)


def _outputs_removed(out):
    """Delete the files in ``out`` but the sampler's checkpoint and its fingerprint."""
    for written in out.iterdir():
        if not written.name.startswith("checkpoint"):
            written.unlink()


def test_another_users_finished_checkpoint_that_the_fit_resumes_in_a_sticky_folder_is_used_not_refused(tmp_path,
                                                                                                      monkeypatch):
    """A colleague's checkpoint of this very fit whose sampling is done (explored, n_eff reached),
    another user's in a folder with the sticky bit, is resumed and nautilus samples and writes
    nothing to it: the fit went on and wrote its results from it. It was refused before the search
    as if the sampler wrote it again. It is now used: the fit finishes, the checkpoint untouched.
    Where this config asks for more (a higher n_eff) the sampler writes it again: still refused.
    (Run as root, the system replaces anyone's file: the test takes another user's id.)"""
    import yaml

    path, out = _sticky_output_folder(tmp_path)
    config = yaml.safe_load(path.read_text())
    config["output"]["keep_checkpoint"] = True
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    first = tinylens.fit(path, progress=False, pipeline=False)  # the colleague's run, kept
    assert first.converged
    checkpoint = out / "checkpoint.hdf5"
    _outputs_removed(out)  # the colleague kept only the checkpoint and its fingerprint
    before = (checkpoint.read_bytes(), checkpoint.stat().st_mtime_ns)

    monkeypatch.setattr(os, "geteuid", lambda: os.getuid() + 1)
    again = tinylens.fit(path, progress=False, pipeline=False)
    monkeypatch.undo()
    assert again.converged and json.loads((out / "result.json").read_text())["info"]["resumed"] is True
    np.testing.assert_array_equal(np.asarray(again.samples), np.asarray(first.samples))
    assert (checkpoint.read_bytes(), checkpoint.stat().st_mtime_ns) == before

    _outputs_removed(out)
    config["inference"]["settings"]["n_eff"] = 100 * FAST_NAUTILUS["n_eff"]  # more to sample: written again
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    message = _refusal_before_the_search(monkeypatch, path, pipeline=False)
    assert "checkpoint.hdf5 there is another user's file" in message, message
    assert "a checkpoint of this same fit, which it resumes and writes again" in message, message
    assert checkpoint.read_bytes() == before[0]


@pytest.mark.parametrize("pipeline", [False, True])
def test_another_users_stale_fingerprint_alone_in_a_sticky_folder_is_refused_before_the_search(tmp_path, monkeypatch,
                                                                                              pipeline):
    """A fingerprint of another fit with no checkpoint beside it (its fit killed before its first
    checkpoint), another user's in a folder with the sticky bit, was not looked at (only a
    checkpoint's is): the sampler writes its own fingerprint in its place as its sampling starts,
    which the system refuses there, so the fit stopped during its search, after the pipeline's
    stages. It is now an OutputError before anything is searched, naming the file; it is left.
    (Run as root, the system replaces anyone's file: the test takes another user's id.)"""
    path, out = _sticky_output_folder(tmp_path)
    stamp = out / "checkpoint.hdf5.fingerprint"
    stamp.write_text("another fit's fingerprint\n")
    message = _refusal_before_the_search(monkeypatch, path, pipeline=pipeline)
    assert message.startswith(f"Output folder {out}: checkpoint.hdf5.fingerprint there is another user's file (user "
                              f"id {os.getuid()}), in a folder with the sticky bit"), message
    assert "during the search: this fit writes it anew" in message and str(stamp) in message, message
    assert stamp.read_text() == "another fit's fingerprint\n"


def test_another_users_pipeline_state_under_resume_false_in_a_sticky_folder_is_refused_before_the_search(tmp_path,
                                                                                                        monkeypatch):
    """With resume: false the pipeline's stages are done again and their state written in place of
    the one there, whoever's; another user's, in a folder with the sticky bit, was not looked at
    (resume: false resumes none, so none was said to be replaced), and the system's refusal stopped
    the fit after stage 1. It is now an OutputError before anything is searched; the file is left.
    (Run as root, the system replaces anyone's file: the test takes another user's id.)"""
    from tinylens import filenames

    path, out = _sticky_output_folder(tmp_path, {"type": "sampler", "method": "nautilus",
                                                 "settings": {**FAST_NAUTILUS, "resume": False}})
    state = out / filenames.PIPELINE_STATE
    state.write_text('{"fingerprint": "a colleague\'s"}')
    message = _refusal_before_the_search(monkeypatch, path)
    assert message.startswith(f"Output folder {out}: {state.name} there is another user's file (user id "
                              f"{os.getuid()}), in a folder with the sticky bit"), message
    assert "this fit writes it anew as its pipeline stages end" in message and str(state) in message, message
    assert state.read_text() == '{"fingerprint": "a colleague\'s"}'


@pytest.mark.parametrize("method", ["nautilus", "dynesty"])
def test_another_users_checkpoint_under_resume_false_in_a_sticky_folder_is_refused_before_the_search(tmp_path,
                                                                                                    monkeypatch, method):
    """A sampler whose settings say resume: false deletes the checkpoint in its output folder as its
    sampling starts, whoever's fit it was; another user's there, in a folder with the sticky bit,
    was not looked at before the search (only the checkpoints of other settings were, and resume:
    false resumes none), so the system's refusal stopped the fit after the pipeline's stages. It is
    now an OutputError before anything is searched, saying resume: false, the checkpoint left.
    (Run as root, the system deletes anyone's file: the test takes another user's id.)"""
    from tinylens import filenames

    settings = {**({"nlive": 50} if method == "dynesty" else FAST_NAUTILUS), "resume": False}
    path, out = _sticky_output_folder(tmp_path, {"type": "sampler", "method": method, "settings": settings})
    checkpoint = out / filenames.CHECKPOINTS[method]
    checkpoint.write_bytes(b"a colleague's checkpoint")
    message = _refusal_before_the_search(monkeypatch, path)
    assert message.startswith(f"Output folder {out}: {checkpoint.name} there is another user's file (user id "
                              f"{os.getuid()}), in a folder with the sticky bit"), message
    assert "resume: false" in message and str(checkpoint) in message, message
    assert checkpoint.read_bytes() == b"a colleague's checkpoint"


def test_another_users_link_at_a_table_name_in_a_sticky_folder_is_refused_before_the_search(tmp_path, monkeypatch):
    """A link named result_summary.csv, another user's, in a folder with the sticky bit: the fit
    replaces the link itself (os.replace), which the system refuses there as it refuses replacing
    another user's file, but the check before the search looked at files only, so the search ran
    and the summary table's write failed after it. The link is now an OutputError before anything
    is searched, said to be a link; it and what it points to are left. (Run as root, the system
    replaces anyone's link: the test takes another user's id.)"""
    lbfgs = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}
    path, out = _sticky_output_folder(tmp_path, lbfgs)
    target = tmp_path / "colleagues_summary.csv"
    target.write_text("a colleague's table\n")
    (out / "result_summary.csv").symlink_to(target)
    message = _refusal_before_the_search(monkeypatch, path)
    assert message.startswith(f"Output folder {out}: result_summary.csv there is another user's link (user id "
                              f"{os.getuid()}), in a folder with the sticky bit"), message
    assert (out / "result_summary.csv").is_symlink() and target.read_text() == "a colleague's table\n"


def _owners_shown(monkeypatch, out, written, others, user=1000):
    """Run as the user id ``user`` (not root), where the system shows the output folder ``out`` and
    each file in it as owned by ``others``, but a file this process has just written there
    (tables.WRITE_TEST_NAME) as owned by ``written``: ``user`` on a disk that shows the real owner,
    the id a network file system squashes every user to (or ``nobody``) otherwise."""
    from tinylens.results.tables import WRITE_TEST_NAME

    def shown(real):
        def fake(path, *args, **kwargs):
            info = real(path, *args, **kwargs)
            if not isinstance(path, (str, os.PathLike)):
                return info
            named = Path(os.path.abspath(path))
            if out not in (named, named.parent):
                return info
            uid = written if WRITE_TEST_NAME.fullmatch(named.name) else others
            extra = {n: getattr(info, n) for n in dir(info) if n.startswith("st_") and n not in
                     ("st_mode", "st_ino", "st_dev", "st_nlink", "st_uid", "st_gid", "st_size")}
            return os.stat_result((*info[:4], uid, *info[5:]), extra)
        return fake

    monkeypatch.setattr(os, "stat", shown(os.stat))
    monkeypatch.setattr(os, "lstat", shown(os.lstat))
    monkeypatch.setattr(os, "geteuid", lambda: user)
    monkeypatch.setattr(os, "getuid", lambda: user)


class _Searched(Exception):
    """Raised in place of the search: the fit reached it."""


def _searched(*args, **kwargs):
    raise _Searched


def test_a_sticky_folder_whose_files_all_show_a_squashed_owner_is_not_refused_before_the_search(tmp_path, monkeypatch):
    """On a network file system that does not show a file's real owner (NFS with all_squash, every
    user's files shown as the anonymous id 65534; a broken NFSv4 id mapping, every file shown as
    nobody), a fit run again in a folder with the sticky bit, whose earlier result.json and tables
    were its own, was refused before the search ('result.json there is another user's file (user id
    65534), in a folder with the sticky bit'), though the system would replace them. The owners
    shown are trusted now only where a file the fit has just written there shows as its own: here
    it shows as 65534 too, so the fit goes on to its search."""
    import tinylens.inference

    path, out, _ = _earlier_fit_with_two_tables(tmp_path)
    out.chmod(0o1777)
    monkeypatch.setattr(tinylens.inference, "run_inference", _searched)
    _owners_shown(monkeypatch, out, written=65534, others=65534)
    with pytest.raises(_Searched):
        tinylens.fit(path, progress=False)


def test_another_users_result_in_a_sticky_folder_that_shows_real_owners_is_still_refused(tmp_path, monkeypatch):
    """Where a file the fit has just written in the output folder shows as its own (user id 1000), the
    owners shown are real: the earlier result.json of user 2000 in that folder with the sticky bit,
    which the system would refuse to replace, is an OutputError before the search, and the earlier
    files are left whole."""
    path, out, before = _earlier_fit_with_two_tables(tmp_path)
    out.chmod(0o1777)
    _owners_shown(monkeypatch, out, written=1000, others=2000)
    message = _refusal_before_the_search(monkeypatch, path, euid=1000)  # _owners_shown's user
    assert message.startswith(f"Output folder {out}: 3 files there belong to another user, in a folder with the "
                              "sticky bit"), message
    assert "result.json (user id 2000)" in message, message
    assert "(or ask their owner to: ls -l" in message, message  # one user's files: one owner to ask
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def _refusing_summary_table(tmp_path, monkeypatch, inference=None, error=None):
    """The tiny lens's config (``inference`` as write_tiny_lens takes it), its figures off, with
    the summary table's write refused by the system (``error``: by default a PermissionError,
    EPERM); the config's path and the output folder."""
    import tinylens.atomic

    path, out = _tiny_lens_without_figures(tmp_path, inference)
    real = tinylens.atomic._put_in_place

    def refused(tmp, target):
        if Path(target).name == "result_summary.csv":
            code = errno.EPERM if error is None else error[1]
            raise (PermissionError if error is None else error[0])(code, os.strerror(code), str(target))
        return real(tmp, target)

    monkeypatch.setattr(tinylens.atomic, "_put_in_place", refused)
    return path, out


def test_a_table_the_system_refuses_to_replace_after_the_search_says_the_checkpoint_resumes(tmp_path, monkeypatch):
    """A table the system refused to replace after the search (a file marked immutable, another
    user's that the check before the search could not tell) stopped the fit with a bare
    PermissionError, not saying that its checkpoint is kept; it is an OutputError naming the file
    and saying the fit run again resumes, no result.json written; run again, it resumes and is written."""
    from tinylens import filenames

    path, out = _refusing_summary_table(tmp_path, monkeypatch)
    with pytest.raises(tinylens.errors.OutputError) as caught:
        tinylens.fit(path, progress=False)
    monkeypatch.undo()
    message = str(caught.value)
    assert message.startswith(f"Output folder {out}: the system refused to write result_summary.csv there (Operation "
                              "not permitted"), message
    assert "checkpoint is kept" in message and "resume" in message, message
    assert not (out / filenames.RESULT).exists() and (out / filenames.CHECKPOINTS["nautilus"]).is_file()
    again = tinylens.fit(path, progress=False)
    assert again.info["resumed"] and again.converged and (out / filenames.RESULT).is_file()


@pytest.mark.parametrize("code", [errno.EPERM, errno.ENOSPC])
def test_a_sampler_fit_with_resume_false_whose_outputs_fail_does_not_say_a_rerun_resumes(tmp_path, monkeypatch, code):
    """A nautilus fit whose settings say resume: false and whose summary table the system refused
    (or found the disk full) said 'run the fit again to resume it (its search is not done again)',
    where the fit run again resumes nothing and samples afresh (info.resumed false); it now says
    resume: false and that a rerun starts afresh, the folder and file named as before."""
    from tinylens import filenames

    settings = {**FAST_NAUTILUS, "resume": False}
    error = (PermissionError if code == errno.EPERM else OSError, code)
    path, out = _refusing_summary_table(tmp_path, monkeypatch,
                                        {"type": "sampler", "method": "nautilus", "settings": settings}, error)
    with pytest.raises(tinylens.errors.OutputError) as caught:
        tinylens.fit(path, progress=False)
    monkeypatch.undo()
    message = str(caught.value)
    assert message.startswith(f"Output folder {out}") and os.strerror(code) in message, message
    assert "resume: false" in message and "starts afresh" in message, message
    assert "resume it" not in message and "not done again" not in message, message
    assert not (out / filenames.RESULT).exists()
    if code == errno.EPERM:  # what the message says of a rerun, seen: it samples afresh
        again = tinylens.fit(path, progress=False)
        assert not again.info["resumed"] and again.converged


@pytest.mark.parametrize("code", [errno.EPERM, errno.ENOSPC])
def test_a_sampling_section_s_resume_false_is_named_as_written_when_the_outputs_fail(tmp_path, monkeypatch, code):
    """A config of TinyLensGpu's older ``sampling:`` section with resume: false, whose summary table
    the system refused (or found the disk full), was told 'its inference.settings say resume:
    false', a section the file does not hold; it names the sampling section the file wrote."""
    import yaml

    error = (PermissionError if code == errno.EPERM else OSError, code)
    path, out = _refusing_summary_table(tmp_path, monkeypatch, None, error)
    config = yaml.safe_load(path.read_text())
    config["sampling"] = {"sampler": "nautilus", **config.pop("inference")["settings"], "resume": False}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    written = yaml.safe_load(path.read_text())
    assert "inference" not in written and written["sampling"]["resume"] is False  # the independent truth
    with pytest.raises(tinylens.errors.OutputError) as caught:
        tinylens.fit(path, progress=False)
    message = " ".join(str(caught.value).split())
    assert message.startswith(f"Output folder {out}") and os.strerror(code) in message, message
    assert "ts sampling section says resume: false" in message and "starts afresh" in message, message  # (I)ts
    assert "inference" not in message, message


@pytest.mark.parametrize("method", ["lbfgs", "dynesty"])
def test_a_file_whose_refusal_stops_the_fit_leaves_the_earlier_fits_result_whole(tmp_path, monkeypatch, method):
    """A file the fit must delete before its search and that the system refused to delete (an
    earlier checkpoint under fresh=True; dynesty's unfinished checkpoint under a dynesty fit)
    stopped the fit, 'before sampling anything', after it had deleted the earlier fit's result.json
    and tables: the folder held no result at all. The earlier fit's files are now left whole."""
    import yaml

    import tinylens.inference
    from tinylens import filenames

    path, out = _earlier_fit_folder(tmp_path)
    if method == "dynesty":
        config = yaml.safe_load(path.read_text())
        config["inference"] = {"type": "sampler", "method": "dynesty", "settings": {"nlive": 50}}
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    refused = out / (filenames.DYNESTY_UNFINISHED if method == "dynesty" else filenames.CHECKPOINTS["nautilus"])
    refused.write_bytes(b"someone else's")
    earlier = {name: (out / name).read_bytes() for name in ("result.json", "result_samples.csv")}
    refuse_unlink(monkeypatch, refused)
    monkeypatch.setattr(tinylens.inference, "run_inference", _never_searched)
    with pytest.raises(tinylens.errors.OutputError) as caught:
        tinylens.fit(path, progress=False, fresh=method == "lbfgs")
    assert f"{refused.name}, " in str(caught.value) and "before sampling anything" in str(caught.value)
    assert {name: (out / name).read_bytes() for name in earlier} == earlier
    assert refused.read_bytes() == b"someone else's"


def _lbfgs_fit_saying_outputs(tmp_path: Path, capsys: Any, draw_figures: str) -> tuple[Any, list[str]]:
    """The tiny lens fitted by L-BFGS with ``output.draw_figures`` set: its result and the lines it
    said on stderr that announce its outputs."""
    import yaml

    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs"})
    cfg = yaml.safe_load(config.read_text())
    cfg["output"] = {**cfg.get("output", {}), "draw_figures": draw_figures}
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    capsys.readouterr()
    result = tinylens.fit(config)
    return result, [line for line in capsys.readouterr().err.splitlines() if line.startswith("outputs writing result.json")]


def test_the_outputs_stage_does_not_announce_figures_a_fit_draws_none_of(tmp_path, capsys):
    """With ``output.draw_figures: none`` a fit said "outputs writing result.json, tables and figures
    to ..." and then wrote no figure; it now says the tables alone, and still announces figures
    where it draws them."""
    result, said = _lbfgs_fit_saying_outputs(tmp_path, capsys, "none")
    out = tmp_path / "output"
    assert len(said) == 1 and said[0].startswith("outputs writing result.json and tables to "), said
    assert not list(out.glob("*.png")) and {"subplot", "results"}.isdisjoint(result.files)


def test_the_outputs_stage_says_figures_of_draw_figures_untrusted_only_as_drawn_if_untrusted(tmp_path, capsys):
    """With ``output.draw_figures: untrusted`` a fit the quality checks trust said "outputs writing
    result.json, tables and figures to ..." and then drew no figure, as ``none`` did before; the
    line now says the figures come only if the fit is not trusted."""
    result, said = _lbfgs_fit_saying_outputs(tmp_path, capsys, "untrusted")
    assert result.quality["trusted"] is True  # the independent truth: a fit draw_figures: untrusted draws no figure of
    assert not list((tmp_path / "output").glob("*.png")) and {"subplot", "results"}.isdisjoint(result.files)
    assert len(said) == 1 and "tables and figures" not in said[0], said
    assert said[0].startswith("outputs writing result.json and tables (figures too if the quality checks do not "
                              "trust the fit) to "), said


def test_the_outputs_stage_says_each_group_of_files_before_it_writes_it(tmp_path, capsys, monkeypatch):
    """After the search, the outputs stage (derived quantities, tables, figures, result.json) printed
    one line and then nothing until the closing table: about 10 s on an idle machine, 4 minutes on a
    loaded laptop, where a user took it for hung. Each step is now said as it begins (where stderr is
    a log, a step begun STEP_EVERY_S or more after the last line; 0 here, so every one)."""
    import sys

    from tinylens.inference import progress
    from tinylens.results import derived, plots, tables

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setattr(progress, "STEP_EVERY_S", 0.0, raising=False)

    def marked(module, name, mark):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            value = original(*args, **kwargs)
            sys.stderr.write(f"<{mark(args)}>\n")  # after the real call: the file is there
            return value

        monkeypatch.setattr(module, name, wrapper)

    def written(args):
        return "wrote " + next(Path(a).name for a in args if isinstance(a, (str, Path)) and Path(a).suffix)

    marked(derived, "derived_summaries", lambda args: "derived")
    for module, name in ((tables, "write_table"), (tables, "write_json"), (plots, "save_dataset_figure"),
                         (plots, "save_model_figure"), (plots, "save_corner_figure")):
        marked(module, name, written)
    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs"})
    capsys.readouterr()
    result = tinylens.fit(config)
    err = capsys.readouterr().err.splitlines()
    start = next(i for i, line in enumerate(err) if line.startswith("outputs writing result.json, tables and figures to"))
    said = [line for line in err[start + 1:] if line.startswith(("outputs ", "<"))]
    files = result.files
    assert set(files) >= {"samples", "summary", "subplot", "results"} and "corner" not in files  # lbfgs: no corner
    assert said == [
        "outputs computing the derived quantities and the quality checks", "<derived>",
        f"outputs writing the tables {files['samples']} and {files['summary']}",
        f"<wrote {files['samples']}>", f"<wrote {files['summary']}>",
        f"outputs drawing {files['subplot']}", f"<wrote {files['subplot']}>",
        f"outputs drawing {files['results']}", f"<wrote {files['results']}>",
        "outputs writing result.json", "<wrote result.json>",
    ]
    assert all((tmp_path / "output" / name).is_file() for name in files.values())

    # progress=False: the same fit says nothing, its files the same
    tinylens.fit(config, progress=False, fresh=True)
    captured = capsys.readouterr()
    assert not [line for line in captured.err.splitlines() if line.startswith("outputs")] and captured.out == ""


@pytest.mark.parametrize("choice, message", [
    (["lens_mass.0.thetaE"], "output.corner_parameters: 'lens_mass.0.thetaE' is not a free parameter of this model. "
     "Did you mean 'lens_mass.0.theta_E' instead of 'lens_mass.0.thetaE'? Allowed: lens_mass.0.theta_E, lens_mass.0.e1."),
    (["lens_mass.0.e1", "lens_mass.0.e1"], "output.corner_parameters lists 'lens_mass.0.e1' 2 times; the corner plot "
     "would draw it as many times. List each parameter once (another meant? not listed: lens_mass.0.theta_E)."),
], ids=["unknown", "twice"])
def test_a_corner_parameter_unknown_or_listed_twice_is_a_config_value_error(choice, message):
    """output.corner_parameters naming no free parameter, or one twice, was refused with the plain
    ConfigError, which ``except ValueError`` missed: a wrong value, it is a ConfigValueError (a
    ValueError too), its message as it was."""
    from tinylens.errors import ConfigValueError
    from tinylens.fitting.outputs import corner_names

    with pytest.raises(ConfigValueError) as info:
        corner_names(["lens_mass.0.theta_E", "lens_mass.0.e1"], choice)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == message


def test_an_output_path_holding_an_environment_variable_is_a_config_value_error(tmp_path, monkeypatch):
    """output.path '$TL_TEST_SCRATCH/out' (not expanded: the fit would write into a folder named so)
    was the plain ConfigError; a wrong value, it is a ConfigValueError (a ValueError too), which
    names the config file and the folder, its message as it was."""
    from tinylens.errors import ConfigValueError
    from tinylens.fitting.folder import check_output_path

    monkeypatch.delenv("TL_TEST_SCRATCH", raising=False)
    folder = tmp_path / "$TL_TEST_SCRATCH" / "out"
    with pytest.raises(ConfigValueError) as info:
        check_output_path("$TL_TEST_SCRATCH/out", folder, tmp_path / "config.yaml")
    assert isinstance(info.value, ValueError)
    text = str(info.value)
    assert text.startswith(f"In config file {tmp_path / 'config.yaml'}: output.path '$TL_TEST_SCRATCH/out' would "
                           f"write the fit's outputs into the folder {folder}.")
    assert "Environment variables such as $TL_TEST_SCRATCH are not expanded in a config's paths" in text
    assert text.endswith("Or give the output folder with --output (tinylens.fit: output=).")


def test_a_fit_records_where_its_config_holds_a_number_that_is_not_finite(tmp_path):
    """result.json's config writes .inf, -.inf and .nan as null, as it writes a null, so that a
    survey could not tell a fit of limits: [-.inf, .inf] from one of other nulls there (resume.same_settings).
    info.config_not_finite now records each such number by its path in config and its JSON
    literal; the config itself is written as before (null)."""
    config = unbounded_tiny_fit(tmp_path, {"type": "optimizer", "method": "lbfgs",
                                           "settings": {"n_starts": 1, "n_draws": 8, "maxiter": 5}})
    result = tinylens.fit(config, progress=False)
    stored = json.loads((result.output_dir / "result.json").read_text())
    place = ["model_components", "source_light_list", 0, "params", "center_x", "limits"]
    assert stored["config"]["model_components"]["source_light_list"][0]["params"]["center_x"]["limits"] == [None, None]
    assert sorted(stored["info"]["config_not_finite"]) == [[[*place, 0], "-Infinity"], [[*place, 1], "Infinity"]]


def test_the_result_a_fit_returns_holds_its_config_s_inf_as_read_result_gives_it(tmp_path):
    """read_result puts back the .inf a fit's config held (info.config_not_finite), but the result
    tinylens.fit returned held the null result.json writes for it: its config told another fit
    than the one made (differential evolution's tol: .inf, which stops it at its first generation,
    as tol: null, the default), and loading result.config again, as the FitResult's help says to
    fit its lens again, gave that other problem. Both now hold the number; result.json is written as before."""
    import math

    config = unbounded_tiny_fit(tmp_path, {"type": "optimizer", "method": "differential_evolution",
                                           "settings": {"popsize": 2, "maxiter": 2, "polish": False, "tol": math.inf}})
    result = tinylens.fit(config, progress=False)
    assert result.config["inference"]["settings"]["tol"] == math.inf
    limits = result.config["model_components"]["source_light_list"][0]["params"]["center_x"]["limits"]
    assert list(limits) == [-math.inf, math.inf]
    assert result.config == tinylens.read_result(result.output_dir).config
    assert tinylens.load(result.config, base_dir=result.config_dir).config.inference.settings["tol"] == math.inf
    stored = json.loads((result.output_dir / "result.json").read_text())  # written as before: null
    assert stored["config"]["inference"]["settings"]["tol"] is None
    assert stored == json.loads(json.dumps(result.to_json()))
