"""A figure that cannot be drawn is left out with a warning; the fit's result is still written."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest

from tiny_lens import refuse_unlink, tiny_data, write_tiny_lens
import tinylens
from tinylens.results import plots


def test_long_segments_drops_empty_and_short_contours():
    segments = [np.zeros((0, 2)), np.array([[0.0, 0.0]]), np.array([[0.0, 0.0], [0.01, 0.0]]),
                np.array([[0.0, 0.0], [0.5, 0.2], [0.1, 0.4]])]
    kept = plots.long_segments(segments, 0.1)
    assert len(kept) == 1 and kept[0].shape == (3, 2)


def test_a_failing_model_figure_does_not_lose_the_fit(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("zero-size array to reduction operation maximum which has no identity")

    monkeypatch.setattr(plots, "save_model_figure", broken)
    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs",
                                        "settings": {"n_starts": 1, "n_draws": 64}}, tiny_data())
    with pytest.warns(RuntimeWarning, match="model_results.png could not be drawn"):
        result = tinylens.fit(config, progress=False)
    saved = json.loads((result.output_dir / "result.json").read_text())
    assert "results" not in saved["files"] and "subplot" in saved["files"]
    assert not (result.output_dir / "model_results.png").exists()
    assert (result.output_dir / "dataset_subplot.png").stat().st_size > 0
    assert abs(saved["median"]["lens_mass.0.theta_E"] - 1.0) < 0.02


def test_failing_derived_quantities_and_quality_checks_do_not_lose_the_fit(tmp_path, monkeypatch):
    """The fit is written; the quality says quality_check_failed and the result is untrusted."""
    from tinylens.results import derived, quality

    def broken(*args, **kwargs):
        raise FloatingPointError("an unforeseen corner case")

    monkeypatch.setattr(derived, "derived_summaries", broken)
    monkeypatch.setattr(quality, "assess", broken)
    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs",
                                        "settings": {"n_starts": 1, "n_draws": 64}}, tiny_data())
    with pytest.warns(RuntimeWarning) as caught:
        result = tinylens.fit(config, progress=False)
    messages = " ".join(str(w.message) for w in caught)
    assert "Derived quantities" in messages and "quality checks failed" in messages
    saved = json.loads((result.output_dir / "result.json").read_text())
    assert saved["derived"] == {}
    assert saved["quality"]["trusted"] is False and saved["quality"]["flags"] == ["quality_check_failed"]
    assert "FloatingPointError" in saved["quality"]["metrics"]["error"]
    assert abs(saved["median"]["lens_mass.0.theta_E"] - 1.0) < 0.02
    assert (result.output_dir / "model_results.png").stat().st_size > 0


@pytest.mark.parametrize(("when", "trusted", "drawn"), [("all", True, True), ("untrusted", True, False),
                                                        ("untrusted", False, True), ("none", False, False)])
def test_output_draw_figures_chooses_which_fits_draw_them(tmp_path, monkeypatch, when, trusted, drawn):
    """``untrusted``: only the fits a survey's reader must look at; a figure left from an earlier
    fit in the folder goes, so that no figure shows another fit than result.json's."""
    import yaml

    from tinylens.results import quality

    verdict = {"trusted": trusted, "flags": [] if trusted else ["arc_residuals"], "critical": ["arc_residuals"],
               "metrics": {}}
    monkeypatch.setattr(quality, "assess", lambda *args, **kwargs: verdict)
    path = write_tiny_lens(tmp_path / "lens", {"type": "sampler", "method": "nautilus",
                                               "settings": {"n_live": 50, "n_like_max": 600}}, tiny_data())
    config = yaml.safe_load(path.read_text())
    config["output"] = {"draw_figures": when}
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "model_results.png").write_bytes(b"an earlier fit's figure")
    result = tinylens.fit(config, progress=False, base_dir=tmp_path / "lens", output=tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    names = {"subplot": "dataset_subplot.png", "results": "model_results.png", "corner": "model_corner.png"}
    for key, name in names.items():
        assert (key in saved["files"]) is drawn and (tmp_path / "out" / name).exists() is drawn
    if drawn:
        assert (tmp_path / "out" / "model_results.png").stat().st_size > 10_000
    assert saved["quality"]["trusted"] is trusted and result.files == saved["files"]
    assert (tmp_path / "out" / "result_summary.csv").is_file()  # the tables are written whatever the choice


@pytest.mark.parametrize("broken", [None, "save_corner_figure"])
def test_a_figure_this_fit_does_not_draw_leaves_no_earlier_one_in_the_folder(tmp_path, monkeypatch, broken):
    """An optimiser's fit (no corner plot) or a figure that failed, in a folder where an earlier
    fit drew it, left that earlier figure beside the new result.json as if it were this fit's."""
    def failing(*args, **kwargs):
        raise ValueError("a plotting corner case")

    method = ({"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}} if broken is None
              else {"type": "sampler", "method": "nautilus", "settings": {"n_live": 50, "n_like_max": 600}})
    if broken:
        monkeypatch.setattr(plots, broken, failing)
    config = write_tiny_lens(tmp_path, method, tiny_data())
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "model_corner.png").write_bytes(b"an earlier fit's corner plot")
    with pytest.warns(RuntimeWarning) if broken else contextlib.nullcontext():
        result = tinylens.fit(config, progress=False)
    assert result.output_dir == tmp_path / "output" and "corner" not in result.files
    assert not (tmp_path / "output" / "model_corner.png").exists()
    assert (tmp_path / "output" / "model_results.png").stat().st_size > 10_000


def test_an_earlier_figure_the_system_will_not_delete_is_left_with_a_warning_not_a_lost_fit(tmp_path, monkeypatch):
    """An optimiser's fit (which draws no corner plot) in a folder holding an earlier fit's
    model_corner.png that the system refused to delete (PermissionError: someone else's file in a
    folder with the sticky bit) stopped with that PermissionError after fitting, its result.json
    never written; the figure is now left, with a DataWarning naming it, and the fit is written."""

    config = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs",
                                        "settings": {"n_starts": 1, "n_draws": 64}}, tiny_data())
    out = tmp_path / "output"
    out.mkdir()
    refused = out / "model_corner.png"
    refused.write_bytes(b"someone else's corner plot")
    refuse_unlink(monkeypatch, refused)
    with pytest.warns(tinylens.errors.DataWarning) as caught:
        result = tinylens.fit(config, progress=False)
    [message] = [str(w.message) for w in caught if "cannot be deleted" in str(w.message)]
    assert "model_corner.png (Operation not permitted)" in message and str(out) in message
    saved = json.loads((out / "result.json").read_text())
    assert saved["files"] == result.files and "corner" not in saved["files"]
    assert refused.read_bytes() == b"someone else's corner plot"
    assert abs(saved["median"]["lens_mass.0.theta_E"] - 1.0) < 0.02
