"""``tinylens.fit(config)`` (a YAML path or a dict) returns what it writes: the content of
result.json, the samples table and the summary table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import tinylens
from tiny_lens import FREE_TRUTH, tiny_config, write_tiny_lens
from tinylens.results.tables import MIN_RELATIVE_WEIGHT, _jsonable


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A fit from a config dict (absolute data paths) and its output folder."""
    folder = tmp_path_factory.mktemp("api")
    write_tiny_lens(folder)
    config = tiny_config(output=str(folder / "results"))
    for key in ("data_path", "noise_path", "psf_path"):
        config["dataset"][key] = str(folder / config["dataset"][key])
    return tinylens.fit(config, progress=False), folder / "results"


def test_result_equals_result_json(fitted):
    result, out = fitted
    on_disk = json.loads((out / "result.json").read_text())
    assert json.loads(json.dumps(_jsonable(result.to_json()))) == on_disk
    assert on_disk["param_names"] == list(result.param_names) == list(FREE_TRUTH)
    assert result.output_dir == out and result.converged
    assert set(result.files.values()) <= {p.name for p in out.iterdir()}
    for name, true in FREE_TRUTH.items():  # and it is the right answer
        lo, hi = result.interval_997[name]
        assert lo <= true <= hi, (name, true, lo, hi)


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
