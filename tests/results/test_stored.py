"""load_stored on files that are not a finished fit's result.json: one OutputError naming the
file and what is wrong, never a bare KeyError or JSONDecodeError."""

from __future__ import annotations

import json

import pytest
import yaml

from tiny_lens import write_tiny_lens
from tinylens.errors import OutputError
from tinylens.results.stored import load_stored


def test_what_is_not_a_result_is_named(tmp_path):
    config_path = write_tiny_lens(tmp_path / "lens")
    config = yaml.safe_load(config_path.read_text())
    cases = {
        "missing.json": (None, "no such file"),
        "broken.json": ('{"config": ', "not a readable result.json (JSONDecodeError"),
        "list.json": ("[1, 2]", "not a tinylens result.json (it lacks config, max_likelihood)"),
        "empty.json": ("{}", "it lacks config, max_likelihood"),
        "other.json": (json.dumps({"config": config, "config_dir": str(tmp_path / "lens"),
                                   "max_likelihood": {"lens_mass.0.theta_E_old": 1.0}}),
                       "its max_likelihood lacks lens_mass.0.theta_E"),
    }
    for name, (text, fragment) in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        with pytest.raises(OutputError) as err:
            load_stored(tmp_path / name)
        assert str(err.value).startswith(f"{tmp_path / name}: ") and fragment in str(err.value), str(err.value)
    with pytest.raises(OutputError, match="not a readable result.json"):
        load_stored(tmp_path)  # a folder
