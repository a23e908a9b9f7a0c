"""benchmarks/bench_stages.py names the lens it timed by what still exists after the run."""

from __future__ import annotations

import json
import sys

import numpy as np

from scripts import load_script


def test_the_demo_lens_is_named_not_its_deleted_temporary_folder(tmp_path, monkeypatch, capsys):
    """Without --config the timings printed (and wrote to --json) the demo's YAML in a temporary
    folder that was deleted before the first timing."""
    import tinylens.pipeline.run

    def optimise(objective, settings):  # the timings themselves are not what is tested
        return {"best": np.zeros(objective.problem.ndim), "n_evals": 1, "stages": {"mass_source": {"log_posterior": 0.0}}}

    monkeypatch.setattr(tinylens.pipeline.run, "optimise", optimise)
    monkeypatch.setattr(sys, "argv", ["bench_stages.py", "--threads", "1", "--json", str(tmp_path / "times.json")])
    bench = load_script("benchmarks/bench_stages.py")
    bench.main()
    named = capsys.readouterr().out.splitlines()[0].split(": ")[0]
    stored = json.loads((tmp_path / "times.json").read_text())["config"]
    assert named == stored == "the demo lens (tinylens demo)", (named, stored)
