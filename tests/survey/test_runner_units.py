"""The survey's bookkeeping without a cluster: rows, catalogue, resume plan, progress, CLI errors."""

from __future__ import annotations

import contextlib
import copy
import functools
import gzip
import itertools
import json
import logging
import os
import re
import shutil
import socket
import sys
import threading
import time
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tinylens import filenames
from tinylens.cli.main import app
from tinylens.errors import ConfigValueError, DataWarning, OutputError, TinyLensError
from tinylens.survey import attempts
from tinylens.survey import catalog
from tinylens.survey import client as survey_client
from tinylens.survey import cluster as survey_cluster
from tinylens.survey import deaths
from tinylens.survey import discovery
from tinylens.survey import progress
from tinylens.survey import resume
from tinylens.survey import rows as survey_rows
from tinylens.survey import runner
from tinylens.survey import task
from tinylens.survey import template as survey_template
from tinylens.survey import threads
from tinylens.survey import watch as survey_watch
from tinylens.survey import workers as survey_workers

RESULT = {
    "median": {"lens_mass.0.theta_E": 1.01, "source_light.0.R_sersic": 0.2},
    "interval_68": {"lens_mass.0.theta_E": [1.0, 1.02], "source_light.0.R_sersic": [0.19, 0.21]},
    "interval_997": {"lens_mass.0.theta_E": [0.97, 1.05], "source_light.0.R_sersic": [0.15, 0.25]},
    "derived": {"source.mag": {"median": 24.1, "interval_68": [24.0, 24.2], "interval_997": [23.8, 24.4]}},
    "log_evidence": -123.5, "n_likelihood_evals": 3840, "wall_time_s": 12.5, "total_time_s": 20.5,
    "quality": {"trusted": False, "flags": ["multimodal", "arc_residuals"],
                "critical": ["unconverged", "multimodal", "prior_edge"]},
}


def test_flat_row_has_every_statistic_of_parameters_and_derived_quantities():
    row = survey_rows.flat_row("lens_a", RESULT)
    assert row["lens_id"] == "lens_a" and row["status"] == "ok" and row["reason"] == ""
    assert row["lens_mass.0.theta_E_median"] == 1.01
    assert (row["lens_mass.0.theta_E_lo68"], row["lens_mass.0.theta_E_hi68"]) == (1.0, 1.02)
    assert (row["source_light.0.R_sersic_lo997"], row["source_light.0.R_sersic_hi997"]) == (0.15, 0.25)
    assert (row["source.mag_median"], row["source.mag_lo997"], row["source.mag_hi68"]) == (24.1, 23.8, 24.2)
    assert row["log_evidence"] == -123.5 and row["n_likelihood_evals"] == 3840 and row["wall_time_s"] == 12.5
    assert row["trusted"] is False and row["flags"] == "multimodal,arc_residuals" and row["total_time_s"] == 20.5
    assert row["critical_flags"] == "multimodal"  # arc_residuals is raised but not critical in RESULT
    assert len(row) == 3 + 3 + 3 * 5 + 4


def test_catalog_has_one_row_per_lens_failed_rows_empty(tmp_path):
    rows = {"b": survey_rows.flat_row("b", RESULT), "a": survey_rows.failed_row("a", "bad image"), "c": survey_rows.flat_row("c", RESULT)}
    frame = catalog.write_catalog(rows, tmp_path)
    for read in (pd.read_parquet(tmp_path / "catalog.parquet"), pd.read_csv(tmp_path / "catalog.csv")):
        assert list(read["lens_id"]) == ["a", "b", "c"]
        assert list(read["status"]) == ["failed", "ok", "ok"]
        assert read.columns[:3].tolist() == ["lens_id", "status", "reason"]
        assert np.isnan(read.loc[0, "lens_mass.0.theta_E_median"]) and read.loc[1, "lens_mass.0.theta_E_median"] == 1.01
    assert str(frame["n_likelihood_evals"].dtype) == "Int64"
    assert frame.loc[0, "reason"] == "bad image"
    assert frame.columns[3:6].tolist() == ["trusted", "flags", "critical_flags"]
    assert frame["trusted"].isna()[0] and frame.loc[1, "trusted"] == False  # noqa: E712 (pandas' nullable boolean)
    assert frame.loc[1, "flags"] == "multimodal,arc_residuals" and frame.loc[0, "flags"] == ""
    assert frame.loc[1, "critical_flags"] == "multimodal" and frame.loc[0, "critical_flags"] == ""


def test_a_catalogue_write_stopped_after_the_parquet_leaves_both_files_of_the_earlier_flush(tmp_path, monkeypatch):
    """The survey wrote catalog.parquet and then catalog.csv, each atomically but one after the
    other: a Ctrl-C (or a full disk) between the two left the new Parquet (2 lenses) beside the
    earlier CSV (1 lens). Both are now renamed into place together, or neither, and no temporary is left."""
    one = {"a": survey_rows.flat_row("a", RESULT)}
    catalog.write_catalog(one, tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in ("catalog.parquet", "catalog.csv")}

    def stopped(self, *args, **kwargs):
        raise KeyboardInterrupt

    two = {**one, "b": survey_rows.failed_row("b", "bad image")}
    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, "to_csv", stopped)  # the CSV is written after the Parquet
        with pytest.raises(KeyboardInterrupt):
            catalog.write_catalog(two, tmp_path)
    assert list(pd.read_parquet(tmp_path / "catalog.parquet")["lens_id"]) == ["a"]
    assert list(pd.read_csv(tmp_path / "catalog.csv")["lens_id"]) == ["a"]
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.csv", "catalog.parquet"]
    catalog.write_catalog(two, tmp_path)  # the next flush writes both
    for read in (pd.read_parquet(tmp_path / "catalog.parquet"), pd.read_csv(tmp_path / "catalog.csv")):
        assert list(read["lens_id"]) == ["a", "b"] and list(read["status"]) == ["ok", "failed"]


def test_catalog_parquet_is_read_by_astropy_when_empty_and_without_a_warning_per_text_column(tmp_path):
    """A survey stopped by Ctrl-C before its first lens finished leaves a catalog.parquet of no
    rows, which astropy's Table.read, as docs/survey.md suggests, failed on ("max() arg is an
    empty sequence": it measured the text columns' values, there being no lengths in the file);
    a catalogue with rows came with one warning per text column. The lengths are now in the file."""
    from astropy.table import Table
    from astropy.utils.exceptions import AstropyUserWarning

    (tmp_path / "empty").mkdir()
    catalog.write_catalog({}, tmp_path / "empty")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AstropyUserWarning)
        table = Table.read(tmp_path / "empty" / "catalog.parquet")
    assert len(table) == 0 and table.colnames[:6] == ["lens_id", "status", "reason", "trusted", "flags", "critical_flags"]
    rows = {"lens_long_name_0002": survey_rows.flat_row("lens_long_name_0002", RESULT), "a": survey_rows.failed_row("a", "bad image")}
    catalog.write_catalog(rows, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AstropyUserWarning)
        table = Table.read(tmp_path / "catalog.parquet")
    assert list(table["lens_id"]) == ["a", "lens_long_name_0002"]  # whole, not cut to a shorter length
    assert list(table["reason"]) == ["bad image", ""] and list(table["flags"]) == ["", "multimodal,arc_residuals"]
    assert table["lens_mass.0.theta_E_median"][1] == 1.01
    back = pd.read_parquet(tmp_path / "catalog.parquet")  # pandas reads it as before
    assert list(back["lens_id"]) == ["a", "lens_long_name_0002"] and str(back["n_likelihood_evals"].dtype) == "Int64"
    assert str(back["trusted"].dtype) == "boolean"


@pytest.mark.parametrize("failed", [False, True])
def test_catalog_parquet_types_are_as_docs_survey_md_says_with_and_without_a_failed_lens(tmp_path, failed):
    """docs/survey.md said that astropy reads catalog.parquet's trusted as objects and
    n_likelihood_evals as floats, which holds only where a lens failed (a null in those columns):
    with none failed astropy reads bool and int64. The file's own types (pyarrow's, pandas') do not
    depend on it; the docs now say both, and the selection they give works in either case."""
    import pyarrow.parquet as pq
    from astropy.table import Table

    trusted = {**RESULT, "quality": {**RESULT["quality"], "trusted": True}}
    rows = {"a": survey_rows.flat_row("a", trusted), "b": survey_rows.flat_row("b", RESULT)}
    if failed:
        rows["c"] = survey_rows.failed_row("c", "bad image")
    catalog.write_catalog(rows, tmp_path)
    path = tmp_path / "catalog.parquet"
    schema = pq.read_schema(path)  # the file's types: the same in both cases
    assert (str(schema.field("trusted").type), str(schema.field("n_likelihood_evals").type)) == ("bool", "int64")
    frame = pd.read_parquet(path)
    assert (str(frame["trusted"].dtype), str(frame["n_likelihood_evals"].dtype)) == ("boolean", "Int64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = Table.read(path)
    kinds = (table["trusted"].dtype.kind, table["n_likelihood_evals"].dtype.kind)
    assert kinds == (("O", "f") if failed else ("b", "i")), kinds
    assert list(table[table["trusted"] == True]["lens_id"]) == ["a"]  # noqa: E712 (as the docs select)
    doc = " ".join((Path(__file__).parents[2] / "docs" / "survey.md").read_text().split())
    assert ("with none failed, `trusted` comes as booleans and `n_likelihood_evals` as integers; with a failed "
            "lens among the rows, `trusted` comes as objects") in doc
    assert ("the same whether or not a lens failed: pandas reads `trusted` as `boolean` and `n_likelihood_evals` "
            "as `Int64`") in doc


def _lens(root: Path, name: str) -> discovery.Lens:
    (root / "in" / name).mkdir(parents=True, exist_ok=True)
    return discovery.Lens(name, root / "in" / name)


def test_resume_plan_reads_rows_recovers_results_and_forgets_stale_rows(tmp_path):
    out = tmp_path / "out"
    names = ["done", "failed", "no_result", "recovered", "corrupt", "new"]
    lenses = [_lens(tmp_path, n) for n in names]
    for lens in lenses:
        lens.output(out).mkdir(parents=True)
    survey_rows.write_row(lenses[0].output(out), survey_rows.flat_row("done", RESULT))
    (lenses[0].output(out) / "result.json").write_text(json.dumps(RESULT))
    survey_rows.write_row(lenses[1].output(out), survey_rows.failed_row("failed", "broken"))
    survey_rows.write_row(lenses[2].output(out), survey_rows.flat_row("no_result", RESULT))  # its result.json is gone
    (lenses[3].output(out) / "result.json").write_text(json.dumps(RESULT))  # killed before its row was written
    (lenses[4].output(out) / "row.json").write_text('{"status": "ok", "lens_')  # half-written

    rows = survey_rows.read_rows(out)
    assert sorted(rows) == ["done", "failed", "no_result"]
    resume.recover_rows(lenses, out, rows)
    assert rows["recovered"]["lens_mass.0.theta_E_median"] == 1.01
    assert json.loads((lenses[3].output(out) / "row.json").read_text())["status"] == "ok"

    todo = resume.plan(lenses, rows, out)
    assert [lens.lens_id for lens in todo] == ["no_result", "corrupt", "new"]
    retry = resume.plan(lenses, rows, out, retry_failed=True)
    assert [lens.lens_id for lens in retry] == ["failed", "no_result", "corrupt", "new"]
    resume.forget(retry, rows, out)
    assert sorted(rows) == ["done", "recovered"]
    assert not (lenses[1].output(out) / "row.json").exists() and not (lenses[2].output(out) / "row.json").exists()


def test_a_result_recovered_without_its_row_leaves_no_checkpoint_its_fit_would_have_removed(tmp_path):
    """A survey stopped (Ctrl-C, a batch job's time limit) after a lens's result.json was written
    but before its fit removed its checkpoints (the sampler's: tens of MB) had its row rebuilt
    from result.json by the next run, and the checkpoints stayed for good (a later fit of other
    data there warned of them), where a task that adopts such a fit removes them. They are removed
    where result.json names none; one it names (output.keep_checkpoint) is kept."""
    out = tmp_path / "out"
    removed, kept = _lens(tmp_path, "removed"), _lens(tmp_path, "kept")
    names = filenames.checkpoint_names()
    for lens, checkpoint in ((removed, None), (kept, filenames.CHECKPOINTS["nautilus"])):
        folder = lens.output(out)
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps({**RESULT, "info": {"checkpoint": checkpoint}}))
        for name in names:
            (folder / name).write_bytes(b"state")
    rows = survey_rows.read_rows(out)
    resume.recover_rows([removed, kept], out, rows)
    assert sorted(rows) == ["kept", "removed"] and survey_rows.read_rows(out) == rows
    assert not any((removed.output(out) / name).exists() for name in names)
    assert all((kept.output(out) / name).read_bytes() == b"state" for name in names)


def _recovered_with_no_checkpoint_kept(tmp_path: Path, info: Any) -> None:
    """Recover the row of a lens whose result.json holds ``info`` beside checkpoint files: the row
    is rebuilt, ok, and the checkpoints are removed (the info names none kept)."""
    out = tmp_path / "out"
    lens = _lens(tmp_path, "edited")
    folder = lens.output(out)
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({**RESULT, "info": info}))
    names = filenames.checkpoint_names()
    for name in names:
        (folder / name).write_bytes(b"state")
    rows = survey_rows.read_rows(out)
    resume.recover_rows([lens], out, rows)
    assert rows["edited"]["status"] == "ok" and survey_rows.read_rows(out) == rows
    assert not any((folder / name).exists() for name in names)


@pytest.mark.parametrize("info", ["fitted by hand", ["checkpoint"], 3])
def test_a_result_whose_info_is_not_an_object_is_recovered_without_a_traceback(tmp_path, info):
    """A result.json whose info was edited into something other than an object (a text, a list)
    still has a row to rebuild (flat_row reads no info), and recover_rows rebuilt it as before
    9060e43; since then finishing the fit read info.checkpoint of it and the survey stopped with
    an AttributeError traceback. Such an info names no checkpoint kept, as a missing one does."""
    _recovered_with_no_checkpoint_kept(tmp_path, info)


@pytest.mark.parametrize("checkpoint", [float("nan"), float("inf"), 3, ""])
def test_a_result_whose_checkpoint_is_no_file_name_leaves_no_checkpoint(tmp_path, checkpoint):
    """result.json's info.checkpoint is null where the fit removed its checkpoints; written by
    another program as NaN (Python's json.dump of a value read back as NaN), or edited into a
    number, it was taken to name a checkpoint kept, so the checkpoints that a fit recovered
    without its row had left (tens of MB) stayed for good. Only a file name names one now."""
    named = json.loads(json.dumps(checkpoint))  # independent truth: what result.json then holds is no file's name
    assert not (isinstance(named, str) and named)
    _recovered_with_no_checkpoint_kept(tmp_path, {"checkpoint": checkpoint})


def test_a_row_or_result_copied_from_another_lens_folder_is_not_taken_for_this_lens(tmp_path):
    """A user copying ``lenses/a/`` to ``lenses/b/`` must not give b the fit of a."""
    out = tmp_path / "out"
    lenses = [_lens(tmp_path, n) for n in ("a", "b", "c")]
    for lens in lenses:
        lens.output(out).mkdir(parents=True)
    survey_rows.write_row(lenses[0].output(out), survey_rows.flat_row("a", RESULT))
    result_a = {**RESULT, "output_dir": str(lenses[0].output(out))}
    (lenses[0].output(out) / "result.json").write_text(json.dumps(result_a))
    for name in ("row.json", "result.json"):  # b: a's folder copied whole
        (lenses[1].output(out) / name).write_bytes((lenses[0].output(out) / name).read_bytes())
    (lenses[2].output(out) / "result.json").write_text(json.dumps(result_a))  # c: a's result alone

    with pytest.warns(DataWarning, match=r"b holds a\b.*fitted again"):
        rows = survey_rows.read_rows(out)
    assert sorted(rows) == ["a"]
    resume.recover_rows(lenses, out, rows)
    assert sorted(rows) == ["a"]
    assert [lens.lens_id for lens in resume.plan(lenses, rows, out)] == ["b", "c"]
    assert survey_rows.read_row(lenses[1].output(out) / "row.json", "b") is None  # what fit_lens asks
    assert survey_rows.read_row(lenses[0].output(out) / "row.json", "a")["lens_id"] == "a"


def test_rows_written_before_critical_flags_get_them_from_result_json(tmp_path):
    """A resumed survey's older rows: the catalogue column comes from the fit's quality."""
    out = tmp_path / "out"
    for name in ("old", "old_no_result", "new"):
        (out / "lenses" / name).mkdir(parents=True)
        row = survey_rows.flat_row(name, RESULT)
        if name.startswith("old"):
            del row["critical_flags"]
        survey_rows.write_row(out / "lenses" / name, row)
    (out / "lenses" / "old" / "result.json").write_text(json.dumps(RESULT))
    rows = survey_rows.read_rows(out)
    assert rows["old"]["critical_flags"] == "multimodal" and rows["new"]["critical_flags"] == "multimodal"
    assert "critical_flags" not in rows["old_no_result"]  # nothing to read it from: empty in the catalogue
    assert catalog.catalog_frame(rows).set_index("lens_id")["critical_flags"].to_dict() == {
        "new": "multimodal", "old": "multimodal", "old_no_result": ""}


def test_progress_line_counts_rate_and_eta():
    times = itertools.chain([1000.0], itertools.repeat(2800.0))  # the start, then 30 min later
    done = [{"status": "ok"}, {"status": "failed"}]
    bar = progress.SurveyProgress(10, done, enabled=False, clock=lambda: next(times))
    bar.update({"status": "ok"})
    bar.update({"status": "failed"})
    # 2 lenses in 1800 s = 4 lenses/h; 6 left -> 1.5 h
    assert (bar.ok, bar.failed, bar.left) == (2, 2, 6)
    assert bar.line() == "survey: 4/10 done (2 ok, 2 failed), 6 left, 4 lenses/h, ETA 1h 30m"



def test_a_lens_resumed_from_a_checkpoint_is_not_timed_in_the_rate_or_the_eta(capsys):
    """A resumed survey of 3 lenses (1 done, lens_b resuming from a nearly finished checkpoint,
    lens_c fitted from the start) said '2/3 done ..., 41.1 lenses/h, ETA 1m 28s' once lens_b had
    ended 87.6 s in, for a lens_c that took 3 minutes more. A lens finished from its checkpoint is
    now left out of the rate: none is shown until a lens fitted from the start has finished, then
    the rate is of those lenses over the time elapsed."""
    now = [0.0]
    with progress.SurveyProgress(3, [{"lens_id": "lens_a", "status": "ok"}], enabled=True, clock=lambda: now[0],
                                 resuming=["lens_b"]) as bar:
        now[0] = 87.6
        bar.update({"lens_id": "lens_b", "status": "ok"})
        assert bar.eta_seconds() == float("inf")
        now[0] = 87.6 + 180.0
        bar.update({"lens_id": "lens_c", "status": "ok"})
    fresh_rate = 1 / (87.6 + 180.0) * 3600  # lens_c alone over the time elapsed: 13.5 lenses/h
    assert capsys.readouterr().err.splitlines() == [
        "survey: 3 lenses, 1 already done, 2 to fit (1 resumes from a checkpoint)",
        "survey: 2/3 done (2 ok, 0 failed), 1 left, no rate yet (1 finished from a checkpoint), ETA unknown",
        f"survey: 3/3 done (3 ok, 0 failed), 0 left, {fresh_rate:.3g} lenses/h, ETA 0s"]
    assert bar.rate() == pytest.approx(fresh_rate)
    # 4 to fit, 2 resuming: the two resumed within seconds, then one from the start after half an
    # hour: 1 lens in 1800 s is 2 lenses/h, and the one left is an ETA of 30 min (not 6 lenses/h, 10 min)
    now[0] = 0.0
    bar = progress.SurveyProgress(4, [], enabled=False, clock=lambda: now[0], resuming=("a", "b"))
    for now[0], lens in ((5.0, "a"), (9.0, "b"), (1800.0, "c")):
        bar.update({"lens_id": lens, "status": "ok"})
    assert bar.rate() == pytest.approx(2.0)
    assert bar.eta_seconds() == pytest.approx(1800.0)
    assert bar.line() == "survey: 3/4 done (3 ok, 0 failed), 1 left, 2 lenses/h, ETA 30m 00s"


def test_a_survey_whose_every_lens_resumed_ends_with_an_eta_of_0s_not_unknown(capsys):
    """A resumed survey whose lenses to fit all resumed from a checkpoint (none timed in the rate)
    ended on '3/3 done ..., 0 left, no rate yet (2 finished from a checkpoint), ETA unknown': nothing
    was left, yet its time was said not known. Its last line now says 'ETA 0s' as a fresh survey's
    does; before the last lens the ETA stays unknown."""
    now = [0.0]
    with progress.SurveyProgress(3, [{"lens_id": "lens_a", "status": "ok"}], enabled=True, clock=lambda: now[0],
                                 resuming=["lens_b", "lens_c"]) as bar:
        now[0] = 61.0
        bar.update({"lens_id": "lens_b", "status": "ok"})
        assert bar.eta_seconds() == float("inf")
        now[0] = 130.0
        bar.update({"lens_id": "lens_c", "status": "failed"})
        assert bar.eta_seconds() == 0.0
    assert capsys.readouterr().err.splitlines() == [
        "survey: 3 lenses, 1 already done, 2 to fit (2 resume from a checkpoint)",
        "survey: 2/3 done (2 ok, 0 failed), 1 left, no rate yet (1 finished from a checkpoint), ETA unknown",
        "survey: 3/3 done (2 ok, 1 failed), 0 left, no rate yet (2 finished from a checkpoint), ETA 0s"]
    # nothing finished in this run (a survey stopped before its first lens): still unknown
    assert progress.SurveyProgress(2, [], enabled=False, resuming=["x"]).eta_seconds() == float("inf")

# -- lens folders -------------------------------------------------------------------------------
def _gzipped(path: Path) -> Path:
    """Gzip ``path`` into ``path.gz`` (as archives ship FITS files) and remove it."""
    zipped = path.with_name(path.name + ".gz")
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    path.unlink()
    return zipped


def test_a_lens_folder_of_gzipped_fits_files_is_found_and_fitted_from_them(tmp_path, mock_survey):
    """image.fits.gz, noise.fits.gz, psf.fits.gz and mask.fits.gz are the lens's files, which
    'tinylens fit' reads as it reads the plain ones: the lens is found, and fitted from them."""
    import tinylens

    lenses = tmp_path / "lenses"
    shutil.copytree(mock_survey["lenses"] / "lens_a", lenses / "plain")
    shutil.copytree(mock_survey["lenses"] / "lens_c", lenses / "zipped")  # lens_c has a mask
    for name in ("image", "noise", "psf", "mask"):
        _gzipped(lenses / "zipped" / f"{name}.fits")
    found = discovery.find_lenses(lenses)
    assert [lens.lens_id for lens in found] == ["plain", "zipped"]
    template = survey_template.load_template(mock_survey["template"])
    config = survey_template.lens_config(template, found[1], tmp_path / "out")
    assert {key: Path(config["dataset"][key]) for key in ("data_path", "noise_path", "psf_path", "mask_path")} == {
        "data_path": lenses / "zipped" / "image.fits.gz", "noise_path": lenses / "zipped" / "noise.fits.gz",
        "psf_path": lenses / "zipped" / "psf.fits.gz", "mask_path": lenses / "zipped" / "mask.fits.gz"}
    zipped = tinylens.load(config).dataset
    plain = tinylens.load(survey_template.lens_config(template, discovery.Lens("lens_c", mock_survey["lenses"] / "lens_c"),
                                             tmp_path / "out")).dataset
    for name in ("data", "noise", "psf", "mask"):
        np.testing.assert_array_equal(getattr(zipped, name), getattr(plain, name))
    assert not zipped.mask.all()  # the mask was read, not left out
    plan = runner.survey_plan(lenses, mock_survey["template"], tmp_path / "out", check=False)
    assert plan["to_fit"]["new"] == ["plain", "zipped"]


def test_a_lens_file_there_under_two_names_is_taken_plain_with_a_warning(tmp_path, mock_survey):
    """image.fits beside image.fits.gz (gunzip -k): the plain one is fitted, and the survey says so."""
    lenses = tmp_path / "lenses"
    shutil.copytree(mock_survey["lenses"] / "lens_a", lenses / "lens_a")
    (lenses / "lens_a" / "image.fits.gz").write_bytes(gzip.compress((lenses / "lens_a" / "image.fits").read_bytes()))
    with pytest.warns(DataWarning, match=r"lens_a \(image.fits and image.fits.gz: image.fits is used\)"):
        (lens,) = discovery.find_lenses(lenses)
    config = survey_template.lens_config(survey_template.load_template(mock_survey["template"]), lens, tmp_path / "out")
    assert Path(config["dataset"]["data_path"]) == lenses / "lens_a" / "image.fits"


def archive_named_copy(mock_survey, folder: Path) -> Path:
    """``folder``: a copy of the mock survey's lens_c (it has a mask) with its files named as old
    archives name them: IMAGE.FITS, Noise.fits, PSF.FITS.gz, MASK.FITS."""
    shutil.copytree(mock_survey["lenses"] / "lens_c", folder)
    renamed = {"image.fits": "IMAGE.FITS", "noise.fits": "Noise.fits", "psf.fits": "PSF.FITS", "mask.fits": "MASK.FITS"}
    for name, new in renamed.items():
        (folder / name).rename(folder / new)
    _gzipped(folder / "PSF.FITS")  # PSF.FITS.gz
    return folder


def test_a_lens_file_is_found_under_any_case_by_the_name_its_folder_holds(tmp_path, mock_survey):
    """Old archives write upper-case names (IMAGE.FITS, NOISE.FITS, PSF.FITS): the casefolded
    listing found them on a case-insensitive disk (macOS) but looked up folder/'image.fits' on a
    case-sensitive one (Linux), so such a folder was no lens there and the same lenses gave
    different surveys. They are found on every disk, by the names the folder holds; a folder
    holding one file under two cases (image.fits and IMAGE.FITS, only on a case-sensitive disk)
    is fitted from the exact name, with the warning of a file there under several names."""
    import tinylens

    lenses = tmp_path / "lenses"
    upper = archive_named_copy(mock_survey, lenses / "upper")
    (lens,) = discovery.find_lenses(lenses)
    config = survey_template.lens_config(survey_template.load_template(mock_survey["template"]), lens, tmp_path / "out")
    assert {key: Path(config["dataset"][key]).name for key in ("data_path", "noise_path", "psf_path", "mask_path")} == {
        "data_path": "IMAGE.FITS", "noise_path": "Noise.fits", "psf_path": "PSF.FITS.gz", "mask_path": "MASK.FITS"}
    assert {Path(config["dataset"][key]).name for key in ("data_path", "noise_path", "psf_path", "mask_path")} <= {
        p.name for p in upper.iterdir()}  # the names the folder holds, not their lower-case
    found = tinylens.load(config).dataset
    plain = tinylens.load(survey_template.lens_config(survey_template.load_template(mock_survey["template"]),
                                             discovery.Lens("lens_c", mock_survey["lenses"] / "lens_c"),
                                             tmp_path / "out")).dataset
    for name in ("data", "noise", "psf", "mask"):
        np.testing.assert_array_equal(getattr(found, name), getattr(plain, name))
    (upper / "image.fits").write_bytes((upper / "IMAGE.FITS").read_bytes())
    if len({p.name.casefold() for p in upper.iterdir()}) == len(list(upper.iterdir())):
        return  # a case-insensitive disk wrote over IMAGE.FITS: it cannot hold both
    with pytest.warns(DataWarning, match=r"upper \(image.fits and IMAGE.FITS: image.fits is used\)"):
        (lens,) = discovery.find_lenses(lenses)
    config = survey_template.lens_config(survey_template.load_template(mock_survey["template"]), lens, tmp_path / "out")
    assert Path(config["dataset"]["data_path"]) == upper / "image.fits"


def unlisted(monkeypatch, folder: Path) -> None:
    """Make ``folder`` one that can be searched but not listed (chmod 711), which root lists all the same."""
    listdir = os.listdir

    def refused(path=".", *args, **kwargs):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return listdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "listdir", refused)
    assert discovery.held_names(folder) is None


def test_a_lens_folder_that_can_be_searched_but_not_listed_finds_upper_case_files(tmp_path, mock_survey, monkeypatch):
    """A lens folder that can be searched but not listed (chmod 711) had each lens file looked up
    by its lower-case names only, so one holding IMAGE.FITS, NOISE.FITS, PSF.FITS.gz (old archives'
    names) was no lens on a case-sensitive disk, though a listed one is. Its files are looked up in
    lower case, upper case and with a capital first letter, and found by the names the folder holds."""
    lenses = tmp_path / "lenses"
    closed = archive_named_copy(mock_survey, lenses / "closed")
    unlisted(monkeypatch, closed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one name per file: no warning of several
        (lens,) = discovery.find_lenses(lenses)
    config = survey_template.lens_config({}, lens, tmp_path / "out")["dataset"]
    assert {key: Path(path).name for key, path in config.items()} == {
        "data_path": "IMAGE.FITS", "noise_path": "Noise.fits", "psf_path": "PSF.FITS.gz", "mask_path": "MASK.FITS"}


@pytest.mark.parametrize("names", [
    {"data_path": "Image.FITS", "noise_path": "NOISE.fits", "psf_path": "Psf.Fits.GZ", "mask_path": "mask.FITS"},
    {"data_path": "image.Fits", "noise_path": "Noise.FITS.gz", "psf_path": "psf.fits.Gz", "mask_path": "MASK.Fits"},
])
def test_an_unlisted_lens_folder_finds_names_whose_parts_differ_in_case(tmp_path, mock_survey, monkeypatch, names):
    """In a lens folder that can be searched but not listed (chmod 711), a name was looked up with
    its 'image.fits' part in one case only (Image.fits, IMAGE.FITS), so Psf.FITS or image.Fits,
    which a listed folder finds, was missing there: the lens had no PSF, or was no lens. Each
    dot-separated part is looked up as written, in upper case and with a capital first letter."""
    lenses = tmp_path / "lenses"
    folder = lenses / "closed"
    shutil.copytree(mock_survey["lenses"] / "lens_c", folder)
    for key, new in names.items():
        plain = folder / f"{new.split('.')[0].lower()}.fits"
        if new.lower().endswith(".gz"):
            _gzipped(plain)
            plain = plain.with_name(plain.name + ".gz")
        plain.rename(folder / new)
    listed_config = survey_template.lens_config({}, discovery.find_lenses(lenses)[0], tmp_path / "out")["dataset"]
    unlisted(monkeypatch, folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one name per file: no warning of several
        (lens,) = discovery.find_lenses(lenses)
    config = survey_template.lens_config({}, lens, tmp_path / "out")["dataset"]
    assert {key: Path(path).name for key, path in config.items()} == names
    assert config == listed_config  # as a listed folder finds them


def test_the_cases_an_unlisted_folder_is_searched_in_are_bounded_for_a_name_of_many_parts():
    """case_variants varied each dot-separated part on its own, so a name of 6 parts
    (cutout.F814W.sci.v2.fits.gz) was looked up under 3 ** 6 = 729 names in every folder that
    cannot be listed. The stem is varied as a whole and each fits/gz part on its own: 27 names,
    the name as written first, each once, those of the old archives among them."""
    name = "cutout.F814W.sci.v2.fits.gz"
    variants = discovery.case_variants(name)
    stems = ["cutout.F814W.sci.v2", "CUTOUT.F814W.SCI.V2", "Cutout.f814w.sci.v2"]
    expected = {f"{stem}.{fits}.{gz}" for stem in stems for fits in ("fits", "FITS", "Fits") for gz in ("gz", "GZ", "Gz")}
    assert variants[0] == name
    assert len(variants) == len(set(variants)) == 27
    assert set(variants) == expected
    for written in ("Psf.FITS", "PSF.fits", "psf.FITS", "Psf.Fits.GZ", "psf.fits.Gz"):
        assert written in discovery.case_variants(written.lower())
    assert discovery.case_variants("image.Fits.Gz")[0] == "image.Fits.Gz"
    assert "Image.Fits.Gz" in discovery.case_variants("image.fits.gz")


def test_one_file_under_several_cases_of_an_unlisted_folder_is_found_once(tmp_path, monkeypatch):
    """On a case-insensitive disk (macOS) image.fits, IMAGE.FITS and Image.fits are one file:
    looked up in each case in a folder that cannot be listed, it is found once, by its first name
    (two names of one entry stand for it here), not as a file there under several names."""
    folder = tmp_path / "lens"
    folder.mkdir()
    (folder / "image.fits").write_bytes(b"")
    os.link(folder / "image.fits", folder / "IMAGE.FITS")  # one entry under two names, as on macOS
    (folder / "Image.fits.gz").write_bytes(b"")  # another file
    unlisted(monkeypatch, folder)
    assert discovery.present_files(folder, "image.fits", held=None) == [folder / "image.fits", folder / "Image.fits.gz"]


def test_a_folder_that_cannot_be_looked_into_is_left_out_with_a_warning(tmp_path, mock_survey, monkeypatch):
    """A folder of LENS_DIR that cannot be read (another user's, lost+found on a disk) stopped the
    survey with 'Permission denied'; it is left out, named in a warning, and the lenses are fitted."""
    lenses = tmp_path / "lenses"
    shutil.copytree(mock_survey["lenses"] / "lens_a", lenses / "lens_a")
    closed = lenses / "lost+found"
    shutil.copytree(mock_survey["lenses"] / "lens_b", closed)
    closed.chmod(0)
    try:
        (closed / "image.fits").exists()
    except PermissionError:
        pass
    else:  # root reads it all the same: make its files refuse as they would another user
        stat = Path.stat

        def refused(self, *args, **kwargs):
            if self.parent == closed:
                raise PermissionError(13, "Permission denied", str(self))
            return stat(self, *args, **kwargs)

        monkeypatch.setattr(Path, "stat", refused)
    try:
        with pytest.warns(DataWarning, match=r"1 folder in .*lenses cannot be looked into, and is left out: "
                                              r"lost\+found \(Permission denied\)\. If it is a lens folder, make it"):
            found = discovery.find_lenses(lenses)
    finally:
        closed.chmod(0o755)
    assert [lens.lens_id for lens in found] == ["lens_a"]


def test_a_fitted_lens_whose_folder_cannot_be_looked_into_is_warned_of_once(tmp_path, mock_survey, monkeypatch):
    """A lens fitted by an earlier run whose folder has since become unreadable was warned of
    twice by the next survey: its folder 'cannot be looked into', then it was 'no longer among the
    lens folders (deleted, moved, or purged ...)', which it is not. Only the first is said now; a
    lens whose folder is really gone is still named by the second. (Root reads any folder: its
    files are made to refuse as they would another user.)"""
    lenses, out = tmp_path / "lenses", tmp_path / "out"
    for name in ("lens_a", "lens_b", "lens_c"):
        shutil.copytree(mock_survey["lenses"] / name, lenses / name)
    for name in ("lens_b", "lens_c"):  # fitted (failed: no result.json to stamp) by an earlier run
        survey_rows.write_row(out / filenames.LENSES_DIR / name, survey_rows.failed_row(name, "bad data"))
    shutil.rmtree(lenses / "lens_c")  # really gone
    closed, stat = lenses / "lens_b", Path.stat

    def refused(self, *args, **kwargs):
        if self.parent == closed:
            raise PermissionError(13, "Permission denied", str(self))
        return stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", refused)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner.survey_plan(lenses, mock_survey["template"], out, check=False)
    texts = [" ".join(str(w.message).split()) for w in caught if issubclass(w.category, DataWarning)]
    assert len(texts) == 2, texts
    assert texts[0].startswith(f"1 folder in {lenses.resolve()} cannot be looked into, and is left out: lens_b "
                               "(Permission denied)."), texts
    assert texts[1].startswith("1 lens with a finished fit in ") and ": lens_c." in texts[1], texts
    assert "lens_b" not in texts[1], texts


def _data_warnings(caught) -> list[str]:
    return [" ".join(str(w.message).split()) for w in caught if issubclass(w.category, DataWarning)]


def test_a_folder_whose_lens_files_have_names_the_survey_does_not_look_for_is_warned_of(tmp_path, mock_survey,
                                                                                        monkeypatch):
    """A lens folder whose files are named as tinylens fit reads them but the survey does not look
    for them (image.fit, noise.fts, IMAGE.FITS.BZ2, psf.fits.xz, .fits.zip) was dropped from the
    survey without a word, and a lens folder's mask.fits.bz2 left the lens fitted without it. Each
    such folder and file is named now, with what to do; renamed or recompressed as the warning
    says, each is found and nothing is said."""
    import bz2
    import lzma
    import zipfile

    lenses = tmp_path / "lenses"
    for lens_id in ("lens_a", "fit_names", "packed", "masked", "psf_fit", "unlisted", ".hidden", "notes"):
        shutil.copytree(mock_survey["lenses"] / ("lens_c" if lens_id == "masked" else "lens_a"), lenses / lens_id)
    for name in ("image", "noise", "psf"):
        (lenses / ".hidden" / f"{name}.fits").rename(lenses / ".hidden" / f"{name}.fit")
        (lenses / "notes" / f"{name}.fits").unlink()
        (lenses / "unlisted" / f"{name}.fits").rename(lenses / "unlisted" / f"{name}.fts")
    (lenses / "notes" / "readme.txt").write_text("not a lens")
    fits = {name: (lenses / "packed" / f"{name}.fits").read_bytes() for name in ("image", "noise", "psf")}
    for name, suffix in (("image", ".fit"), ("noise", ".fts"), ("psf", ".fit")):
        (lenses / "fit_names" / f"{name}.fits").rename(lenses / "fit_names" / f"{name}{suffix}")
    for name in fits:
        (lenses / "packed" / f"{name}.fits").unlink()
    (lenses / "packed" / "IMAGE.FITS.BZ2").write_bytes(bz2.compress(fits["image"]))
    (lenses / "packed" / "noise.fits.xz").write_bytes(lzma.compress(fits["noise"]))
    with zipfile.ZipFile(lenses / "packed" / "psf.fits.zip", "w") as archive:
        archive.writestr("psf.fits", fits["psf"])
    mask = lenses / "masked" / "mask.fits"
    mask.with_name("mask.fits.bz2").write_bytes(bz2.compress(mask.read_bytes()))
    mask.unlink()
    (lenses / "psf_fit" / "psf.fits").rename(lenses / "psf_fit" / "psf.fit")
    unlisted(monkeypatch, lenses / "unlisted")  # chmod 711: its names are looked up as written

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = discovery.find_lenses(lenses)
    assert [lens.lens_id for lens in found] == ["lens_a", "masked", "psf_fit"]
    texts = _data_warnings(caught)
    assert len(texts) == 2, texts
    assert texts[0].startswith(
        f"3 folders in {lenses.resolve()} hold a lens's files under names the survey does not look for, and are "
        "left out: fit_names (image.fit, noise.fts, psf.fit), packed (IMAGE.FITS.BZ2, noise.fits.xz, psf.fits.zip), "
        "unlisted (image.fts, noise.fts, psf.fts). The survey looks for image.fits, noise.fits, psf.fits and "
        "mask.fits"), texts
    assert texts[1].startswith(
        f"2 lens files in {lenses.resolve()} are there only under a name the survey does not look for, and are not "
        "used: masked (mask.fits.bz2), psf_fit (psf.fit)."), texts
    for text in texts:
        assert ".hidden" not in text and "notes" not in text and "lens_a" not in text
        assert "Rename each such file to its .fits name" in text and "recompress it as .fits.gz" in text

    # done as the warning says: each is found, with its data, and nothing is said
    monkeypatch.undo()
    for folder in ("fit_names", "unlisted", "psf_fit"):
        for path in list((lenses / folder).iterdir()):
            if path.suffix in (".fit", ".fts"):
                path.rename(path.with_suffix(".fits"))
    for name, data in fits.items():
        (lenses / "packed" / f"{name}.fits.gz").write_bytes(gzip.compress(data))
    for name in ("IMAGE.FITS.BZ2", "noise.fits.xz", "psf.fits.zip"):
        (lenses / "packed" / name).unlink()
    unlisted(monkeypatch, lenses / "unlisted")
    mask.with_name("mask.fits.gz").write_bytes(gzip.compress(bz2.decompress(mask.with_name("mask.fits.bz2").read_bytes())))
    mask.with_name("mask.fits.bz2").unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = discovery.find_lenses(lenses)
    assert _data_warnings(caught) == []
    assert [lens.lens_id for lens in found] == ["fit_names", "lens_a", "masked", "packed", "psf_fit", "unlisted"]
    config = survey_template.lens_config({}, found[3], tmp_path / "out")["dataset"]
    assert {key: Path(value).name for key, value in config.items()} == {
        "data_path": "image.fits.gz", "noise_path": "noise.fits.gz", "psf_path": "psf.fits.gz"}
    assert survey_template.lens_config({}, found[2], tmp_path / "out")["dataset"]["mask_path"] == str(mask) + ".gz"


def test_a_survey_of_folders_whose_files_have_names_it_does_not_look_for_names_them(tmp_path, mock_survey):
    """Where every lens folder's files are named as tinylens fit reads them but the survey does
    not look for them (image.fit ...), the survey said only 'No lens folders found': it now names
    each such folder and its files, and says to rename or recompress them; exit 2, no traceback."""
    lenses, out = tmp_path / "lenses", tmp_path / "out"
    for lens_id in ("lens_a", "lens_b"):
        shutil.copytree(mock_survey["lenses"] / lens_id, lenses / lens_id)
        for name in ("image", "noise", "psf"):
            (lenses / lens_id / f"{name}.fits").rename(lenses / lens_id / f"{name}.fit")
    (lenses / "lens_b" / "psf.fit").rename(lenses / "lens_b" / "psf.fits.bz2")
    result = CliRunner().invoke(app, ["survey", str(lenses), "-c", str(mock_survey["template"]), "--out", str(out)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert text.startswith("Error: No lens folders found in"), text
    assert ("2 folders hold a lens's files under names the survey does not look for: lens_a (image.fit, noise.fit, "
            "psf.fit), lens_b (image.fit, noise.fit, psf.fits.bz2). Rename each such file to its .fits name") in text
    assert text.count("lens_a (") == 1, text  # said once, in the error, not also in a warning before it
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not out.exists() or not (out / "catalog.csv").exists()


@pytest.mark.parametrize("renamed", [("image",), ("image", "noise", "psf")])
def test_a_survey_of_one_lens_folder_whose_files_have_names_it_does_not_look_for_says_so(tmp_path, mock_survey,
                                                                                        renamed):
    """Where the folder given is itself one lens's folder whose files are named image.fit,
    image.fits.bz2 (read by tinylens fit, not looked for by the survey), 'No lens folders found'
    gave no hint where every file was so named, and where only the image was, said the folder
    holds noise.fits, psf.fits without its image; it now names every file, says to give the folder
    above it, and says to rename the files as the sub-folder case does; exit 2, no traceback."""
    lens, out = tmp_path / "lens_a", tmp_path / "out"
    shutil.copytree(mock_survey["lenses"] / "lens_a", lens)
    for name in renamed:
        (lens / f"{name}.fits").rename(lens / f"{name}.fit")
    (lens / "image.fit").rename(lens / "image.fits.bz2")
    result = CliRunner().invoke(app, ["survey", str(lens), "-c", str(mock_survey["template"]), "--out", str(out)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert text.startswith("Error: No lens folders found in"), text
    kept = [f"{n}.fits" for n in ("image", "noise", "psf") if n not in renamed]
    odd = ["image.fits.bz2", *(f"{n}.fit" for n in renamed if n != "image")]
    assert "itself holds " in text and all(name in text.split("itself holds ", 1)[1] for name in [*kept, *odd]), text
    assert "give the folder above it" in text
    assert discovery.RENAME_TEXT in text and all(name in text.split("Of them, ", 1)[1] for name in odd), text
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not (out / "catalog.csv").exists()


def test_a_lens_folder_of_links_to_removed_files_is_a_lens_that_fails(tmp_path, mock_survey):
    """A lens folder whose files are links into storage since purged or unmounted was no lens
    folder: its lens was missing from the plan and the catalogue without a word. It is a lens,
    whose fit fails naming its missing image."""
    import tinylens
    from tinylens.errors import DataError

    lenses, archive = tmp_path / "lenses", tmp_path / "archive"
    shutil.copytree(mock_survey["lenses"] / "lens_a", lenses / "lens_a")
    shutil.copytree(mock_survey["lenses"] / "lens_b", archive)
    (lenses / "lens_b").mkdir()
    for name in ("image.fits", "noise.fits", "psf.fits"):
        (lenses / "lens_b" / name).symlink_to(archive / name)
    shutil.rmtree(archive)  # purged
    found = discovery.find_lenses(lenses)
    assert [lens.lens_id for lens in found] == ["lens_a", "lens_b"]
    assert runner.survey_plan(lenses, mock_survey["template"], tmp_path / "out", check=False)["to_fit"]["new"] == [
        "lens_a", "lens_b"]
    config = survey_template.lens_config(survey_template.load_template(mock_survey["template"]), found[1], tmp_path / "out")
    with pytest.raises(DataError, match="file not found: .*lens_b/image.fits"):
        tinylens.load(config)



def test_finding_the_lenses_looks_up_only_the_files_their_folders_hold(tmp_path, mock_survey, monkeypatch):
    """Each lens file may be named three ways (image.fits, .fits.gz, .fits.fz) and a lens file may
    be a link to nothing; looking up every name (and whether it is such a link) in every folder
    made find_lenses and lens_config stat some 60 names per lens, seven times the stats and the
    time (on 3000 lenses) of one listing of each folder. A lens's files, plain, gzipped or
    a link to nothing, are found as before, and a name a folder does not hold is never stat'ed."""
    lenses, archive = tmp_path / "lenses", tmp_path / "archive"
    for lens_id in ("lens_a", "lens_b", "lens_c"):  # lens_c has a mask
        shutil.copytree(mock_survey["lenses"] / lens_id, lenses / lens_id)
    for name in ("image", "noise", "psf", "mask"):
        _gzipped(lenses / "lens_c" / f"{name}.fits")
    shutil.move(lenses / "lens_b" / "psf.fits", archive)
    (lenses / "lens_b" / "psf.fits").symlink_to(archive)  # purged since
    archive.unlink()
    held = {p for p in lenses.rglob("*") if p.parent != lenses}
    looked_up = []
    stat = os.stat

    def counted(path, *args, **kwargs):
        looked_up.append(Path(path))
        return stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counted)
    found = discovery.find_lenses(lenses)
    configs = [survey_template.lens_config({}, lens, tmp_path / "out")["dataset"] for lens in found]
    monkeypatch.undo()
    assert [lens.lens_id for lens in found] == ["lens_a", "lens_b", "lens_c"]
    assert configs[1]["psf_path"] == str(lenses / "lens_b" / "psf.fits")
    assert configs[2] == {key: str(lenses / "lens_c" / f"{name}.gz") for key, name in
                          (*discovery.LENS_FILES.items(), ("mask_path", discovery.MASK_FILE))}
    in_folders = [p for p in looked_up if p.parent.parent == lenses]
    assert in_folders and set(in_folders) <= held
    assert len(in_folders) <= 3 * len(held)


# -- CLI errors ---------------------------------------------------------------------------------
@pytest.fixture
def survey_inputs(tmp_path, mock_survey):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("dataset: [unclosed\n")
    unknown_key = tmp_path / "unknown.yaml"
    config = yaml.safe_load(mock_survey["template"].read_text())
    config["model_components"]["lens_mass_list"][0]["type"] = "NFW_typo"
    unknown_key.write_text(yaml.safe_dump(config))
    bad_setting = tmp_path / "bad_setting.yaml"
    config = yaml.safe_load(mock_survey["template"].read_text())
    config["inference"]["settings"]["nlives"] = 100
    bad_setting.write_text(yaml.safe_dump(config))
    bad_corner = tmp_path / "bad_corner.yaml"
    config = yaml.safe_load(mock_survey["template"].read_text())
    config.setdefault("output", {})["corner_parameters"] = ["lens_mass.0.thetaE"]
    bad_corner.write_text(yaml.safe_dump(config))
    nowhere = tmp_path / "nowhere_finite.yaml"  # an SIE, which the test makes NaN (nan_sie): no finite likelihood
    config = yaml.safe_load(mock_survey["template"].read_text())
    config["model_components"]["lens_mass_list"][0]["type"] = "SIE"
    config["model_components"]["lens_mass_list"][0]["params"].update(
        e1={"fixed": True, "fixed_value": 0.1}, e2={"fixed": True, "fixed_value": 0.0})
    nowhere.write_text(yaml.safe_dump(config))
    (tmp_path / "empty").mkdir()
    (tmp_path / "one_lens").mkdir()
    for name in ("image.fits", "noise.fits", "psf.fits"):
        (tmp_path / "one_lens" / name).write_bytes(b"")
    (tmp_path / "a_file").write_text("x")
    return {"lenses": mock_survey["lenses"], "template": mock_survey["template"], "bad_yaml": bad_yaml,
            "unknown": unknown_key, "bad_setting": bad_setting, "bad_corner": bad_corner,
            "nowhere_finite": nowhere, "empty": tmp_path / "empty", "one_lens": tmp_path / "one_lens", "file": tmp_path / "a_file", "tmp": tmp_path}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["{tmp}/nowhere", "-c", "{template}"], "nowhere does not exist"),
        (["{empty}", "-c", "{template}"], "No lens folders found"),
        # one lens's own folder: its files were not named
        (["{one_lens}", "-c", "{template}"], "one_lens itself holds image.fits, noise.fits, psf.fits, as one lens's "
                                              "folder does: give the folder above it"),
        (["{lenses}", "-c", "{tmp}/missing.yaml"], "missing.yaml"),
        (["{lenses}", "-c", "{bad_yaml}"], "bad.yaml"),
        (["{lenses}", "-c", "{unknown}"], "NFW_typo"),
        # checked as a fit checks them before sampling, so that no lens is started (and failed) with them
        (["{lenses}", "-c", "{bad_setting}"], "bad_setting.yaml does not work (checked with lens"),
        (["{lenses}", "-c", "{bad_setting}"], "inference.settings.nlives"),
        (["{lenses}", "-c", "{bad_corner}"], "output.corner_parameters: 'lens_mass.0.thetaE' is not a free parameter"),
        # validate's likelihood check: a template finite nowhere would fail (or be sampled) lens after lens
        (["{lenses}", "-c", "{nowhere_finite}"], "nowhere_finite.yaml does not work (checked with lens"),
        (["{lenses}", "-c", "{nowhere_finite}"], "not finite at the prior median nor at any of 64"),
        (["{lenses}", "-c", "{template}", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
        (["{lenses}", "-c", "{template}", "--workers", "0"], "at least 1"),
        # 400 digits: shown by their first and their length, not all of them
        (["{lenses}", "-c", "{template}", "--workers", "1" + "0" * 400],
         "0... (401 characters) is more than"),
        (["{lenses}", "-c", "{template}", "--workers", "-1" + "0" * 400],
         "... (402 characters): a local cluster needs at least 1 worker process"),
        (["{lenses}", "-c", "{template}", "--scheduler", "tcp://127.0.0.1:1"], "Cannot connect to the Dask scheduler"),
        (["{lenses}", "-c", "{template}", "--scheduler", "tls://127.0.0.1:1"], "Cannot connect to the Dask scheduler"),
        (["{lenses}", "-c", "{template}", "--scheduler", "nonsense"], "missing port number"),
    ],
)
def test_survey_cli_errors(survey_inputs, args, expected, nan_sie):
    out = survey_inputs["tmp"] / "out"
    if "{nowhere_finite}" in args:
        nan_sie()
    result = CliRunner().invoke(app, ["survey", *[a.format(**survey_inputs) for a in args], "--out", str(out)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert text.startswith("Error:") and expected in text
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not (out / "catalog.csv").exists()


def test_a_tcp_address_where_no_dask_scheduler_answers_is_refused_at_once():
    """Dask's client waits for ever on a server that accepts connections but sends no Dask
    handshake (an address with the dashboard's port): the check refuses it instead."""
    with socket.socket() as silent, socket.socket() as greeter:
        for server in (silent, greeter):
            server.bind(("127.0.0.1", 0))
            server.listen()
        handshake = (9).to_bytes(8, sys.byteorder) + b"handshake"  # a message's length first, as Dask's
        greet = threading.Thread(target=lambda: greeter.accept()[0].sendall(handshake), daemon=True)
        greet.start()
        survey_cluster.check_scheduler(f"tcp://127.0.0.1:{greeter.getsockname()[1]}", timeout=5)  # a scheduler speaks first
        start = time.monotonic()
        with pytest.raises(TinyLensError, match="not a Dask scheduler"):
            survey_cluster.check_scheduler(f"tcp://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        assert time.monotonic() - start < 5


@contextlib.contextmanager
def _greeting_server(greeting: bytes, close: bool = False) -> Iterator[str]:
    """The address of a server on 127.0.0.1 that sends ``greeting`` on each connection it takes,
    then nothing more, until the block ends or for 30 s at most: then it closes its connections
    and stops listening (so that a client that would wait for more ends too). With ``close`` it
    closes each connection at once after its greeting."""
    done = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"

    def serve() -> None:
        conns, end = [], time.monotonic() + 30
        while not done.is_set() and time.monotonic() < end:
            try:
                conn = server.accept()[0]
            except TimeoutError:
                continue
            conns.append(conn)
            with contextlib.suppress(OSError):  # a client that went away first
                conn.sendall(greeting)
            if close:
                conn.close()
        for conn in conns:
            conn.close()
        server.close()

    serving = threading.Thread(target=serve, daemon=True)
    serving.start()
    try:
        yield address
    finally:
        done.set()
        serving.join(10)


def test_a_scheduler_that_greets_but_never_finishes_its_handshake_is_refused_naming_it(monkeypatch):
    """A server that takes the connection and sends a message's length passes check_scheduler, but
    Dask's client then waited for the rest of the handshake for ever (its timeout bounds the TCP
    connection only), and where Dask's own wait ran out the survey said a bare 'TimeoutError:'. The
    client is now given twice CONNECT_TIMEOUT in all, then refused with a TinyLensError naming the
    address and what to give instead. (The server closes its connections after 30 s, so that the
    test ends without the deadline too, and fails.)"""
    monkeypatch.setattr(survey_cluster, "CONNECT_TIMEOUT", "1s")
    with _greeting_server((9).to_bytes(8, sys.byteorder) + b"x") as address:  # a length, then 1 of its 9 bytes
        survey_cluster.check_scheduler(address, timeout=5)  # it greets: the check lets it pass
        with pytest.raises(TinyLensError) as caught, survey_client.dask_client(1, address):
            pass
    text = " ".join(str(caught.value).split())
    assert text.startswith(f"Cannot connect to the Dask scheduler at {address}: it took the connection but did not "
                           "finish Dask's handshake within 2 s"), text
    assert text.endswith(survey_cluster.SCHEDULER_ADVICE), text


@pytest.mark.parametrize("close", [False, True], ids=["then-quiet", "then-closed"])
@pytest.mark.parametrize("greeting", [b"x", b"\x01\x00\x00\x00\x00\x00\x00"], ids=["1-byte", "7-bytes"])
def test_a_greeting_shorter_than_a_dask_message_length_is_refused_without_waiting_out_the_check(greeting, close):
    """A server that sent 1 to 7 bytes and then went quiet was waited on by check_scheduler to the
    end of its timeout (10 s), then passed as a scheduler, as did one that sent them and closed:
    Dask's client then waited on it, or failed, in its own words. A Dask scheduler sends its
    message's 8-byte length in one piece, so check_scheduler now waits GREETING_REST_SECONDS (2 s)
    for the rest of a greeting begun, and refuses one cut short as another service's, naming the
    address. (Bounds generous: the check is given 60 s, and must end well before.)"""
    with _greeting_server(greeting, close=close) as address:
        start = time.monotonic()
        with pytest.raises(TinyLensError) as caught:
            survey_cluster.check_scheduler(address, timeout=60)
        took = time.monotonic() - start
    assert " ".join(str(caught.value).split()) == " ".join(survey_cluster.other_service_text(address).split())
    assert took < 30, took


def test_a_greeting_sent_in_pieces_is_read_whole():
    """first_bytes reads a greeting whose bytes come in several pieces (as TCP may give them) to
    the count asked, given time for the rest after the first. (A socket pair: one end writes the
    second piece from a thread once the first is read, or soon; the rest is given 30 s.)"""
    here, there = socket.socketpair()
    with here, there:
        there.sendall(b"\x09\x00\x00")
        later = threading.Timer(0.05, lambda: there.sendall(b"\x00\x00\x00\x00\x00tail"))
        later.start()
        try:
            assert survey_cluster.first_bytes(here, 8, timeout=60, rest=30) == (9).to_bytes(8, "little")
        finally:
            later.join(30)


@pytest.mark.parametrize("greeting", [b"SSH-2.0-OpenSSH_9.6\r\n", b"\x01\x00\x00\x00\x00\x00\x00\x00\x05"])
def test_a_scheduler_address_where_another_service_greets_is_refused_naming_it(greeting):
    """--scheduler at a port where another service greets first (SSH, SMTP) passed check_scheduler,
    then Dask's client read the greeting as its frame lengths and the survey ended in a traceback
    (MemoryError: 'Unable to allocate 2.82 EiB', or struct.error for a short frame); it is now a
    TinyLensError naming the address and what to give instead. (The check now refuses SSH's first:
    the client's own refusal is for a greeting that passes it, as the second, or a client unchecked.)"""
    with _greeting_server(greeting) as address:
        with pytest.raises(TinyLensError) as caught, survey_client.dask_client(1, address):
            pass
    text = " ".join(str(caught.value).split())
    assert text.startswith(f"Cannot connect to the Dask scheduler at {address}: what answers there is not a Dask "
                           "scheduler"), text
    assert text.endswith(survey_cluster.SCHEDULER_ADVICE), text


@pytest.mark.parametrize("greeting", [b"SSH-2.0-OpenSSH_9.6\r\n", b"\x10\x00\x00\x00\x00\x00\x00\x80 binary"])
def test_a_scheduler_address_whose_greeting_is_no_dask_message_length_is_refused_by_the_check(greeting, survey_inputs):
    """A greeting whose first 8 bytes, read as Dask reads a message's length, ask for 2**63 bytes or
    more (its 8th byte 0x80 or more) passed check_scheduler and Dask's client then said 'Cannot
    connect ...: ValueError: Maximum allowed dimension exceeded' (numpy's refusal of such a buffer),
    not that another service answers; check_scheduler now reads those 8 bytes itself and refuses a
    length over HANDSHAKE_BYTES (that one, and SSH's: 2.8 EiB) naming the address, exit 2 from the
    command, nothing written. A real scheduler's greeting passes (an in-process one, on TCP)."""
    from distributed import LocalCluster

    out = survey_inputs["tmp"] / "out"
    with _greeting_server(greeting) as address:
        with pytest.raises(TinyLensError) as caught:
            survey_cluster.check_scheduler(address, timeout=5)
        result = CliRunner().invoke(app, ["survey", str(survey_inputs["lenses"]), "-c", str(survey_inputs["template"]),
                                          "--scheduler", address, "--out", str(out)])
    assert " ".join(str(caught.value).split()) == survey_cluster.other_service_text(address)
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not out.exists()
    assert text.startswith(f"Error: Cannot connect to the Dask scheduler at {address}: what answers there is not a "
                           "Dask scheduler"), text
    with LocalCluster(n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None) as cluster:
        survey_cluster.check_scheduler(cluster.scheduler_address, timeout=30)


def test_a_client_short_of_memory_as_it_connects_is_told_so_naming_the_address(monkeypatch):
    """scheduler_client took any MemoryError while Dask's client connected for another service's
    greeting read as a frame length (SSH's: 'Unable to allocate 2.82 EiB'), so a process short of
    memory was told that something else than a scheduler listens at the address. Only numpy's
    refusal of a buffer larger than any handshake message is now taken so; any other MemoryError
    (which was then raised as it came, a traceback) is a TinyLensError naming the address and that
    this process ran out of memory."""
    import numpy as np
    from distributed import Client

    with pytest.raises(MemoryError) as huge:
        np.empty((2**62,), dtype=np.uint8)  # what SSH's greeting, read as a frame length, asks for
    small = type(huge.value)((4096,), np.dtype(np.uint8))  # numpy's refusal of a small buffer
    for short, said in ((small, f"(MemoryError: {small})"), (MemoryError(), "(MemoryError)")):
        def short_of_memory(self, **kwargs):
            raise short

        monkeypatch.setattr(Client, "start", short_of_memory)
        with pytest.raises(TinyLensError) as raised:
            survey_cluster.scheduler_client("tcp://127.0.0.1:1")
        text = " ".join(str(raised.value).split())
        assert text.startswith("Cannot connect to the Dask scheduler at tcp://127.0.0.1:1: this process ran out of "
                               "memory while it connected"), text
        assert said in text and "not a Dask scheduler" not in text, text
        assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert survey_cluster.greeting_frame(huge.value)
    assert not survey_cluster.greeting_frame(small) and not survey_cluster.greeting_frame(MemoryError())


def test_a_survey_short_of_memory_as_it_connects_to_its_scheduler_says_so_without_a_traceback(survey_inputs,
                                                                                               monkeypatch):
    """tinylens survey --scheduler, this process out of memory as Dask's client connected (a
    MemoryError of no greeting: faked in Client.start), ended in a traceback; it now says so,
    naming the address, with exit 2. (The template check is skipped: no fit is made.)"""
    from distributed import Client

    def short_of_memory(self, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(Client, "start", short_of_memory)
    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    out = survey_inputs["tmp"] / "out"
    with _greeting_server((9).to_bytes(8, sys.byteorder) + b"handshake") as address:  # a frame length as Dask's
        result = CliRunner().invoke(app, ["survey", str(survey_inputs["lenses"]), "-c", str(survey_inputs["template"]),
                                          "--scheduler", address, "--out", str(out)])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert text.startswith(f"Error: Cannot connect to the Dask scheduler at {address}: this process ran out of memory "
                           "while it connected (MemoryError)"), text


def test_a_scheduler_address_that_takes_no_connection_says_how_long_it_waited(survey_inputs, monkeypatch):
    """An address that takes no connection (a firewall dropping a compute node's packets to the
    scheduler's host) was refused after 10 s with 'TimeoutError: timed out', which said neither
    how long it waited nor why; it now says both, naming the address (exit 2, no traceback)."""
    waited = []

    def unanswered(address, timeout=None, **kwargs):
        waited.append(timeout)
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", unanswered)
    out = survey_inputs["tmp"] / "out"
    result = CliRunner().invoke(app, ["survey", str(survey_inputs["lenses"]), "-c", str(survey_inputs["template"]),
                                      "--scheduler", "tcp://10.1.2.3:8786", "--out", str(out)])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert waited == [10.0] and "Traceback" not in result.output and not out.exists()
    assert text.startswith("Error: Cannot connect to the Dask scheduler at tcp://10.1.2.3:8786: no answer within "
                           "10 s (the host is down or not reachable from this machine"), text
    assert "timed out" not in text


def test_survey_cli_out_is_a_file(survey_inputs):
    result = CliRunner().invoke(app, ["survey", str(survey_inputs["lenses"]), "-c", str(survey_inputs["template"]),
                                      "--out", str(survey_inputs["file"] / "sub")])
    assert result.exit_code == 2
    assert "cannot be written" in " ".join(result.output.split()) and "--out" in result.output


@pytest.mark.parametrize("cli", [False, True])
def test_an_output_folder_that_cannot_be_written_says_why(survey_inputs, monkeypatch, cli):
    """The output folder's write check failing for a reason of the system (here a read-only disk)
    was said as '(a file is in the way, or no permission)', the reason dropped: the message of
    run_survey and of 'tinylens survey' now names the folder and gives the system's reason."""
    import errno
    import types

    from tinylens.results import tables

    def refused(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), kwargs.get("dir"))

    monkeypatch.setattr(tables, "tempfile", types.SimpleNamespace(NamedTemporaryFile=refused))
    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)  # not what is tested: no compiling
    out = survey_inputs["tmp"] / "out"
    said = (f"The survey output folder {out} cannot be written ({os.strerror(errno.EROFS)}). "
            "Choose another --out (run_survey: out=).")
    if cli:
        result = CliRunner().invoke(app, ["survey", str(survey_inputs["lenses"]), "-c", str(survey_inputs["template"]),
                                          "--out", str(out), "--only", "lens_a", "-q"])
        assert result.exit_code == 2, result.output
        assert "".join(said.split()) in "".join(result.output.split()) and "Traceback" not in result.output
    else:
        with pytest.raises(OutputError) as caught:
            runner.run_survey(survey_inputs["lenses"], survey_inputs["template"], out, progress=False, only=["lens_a"])
        assert str(caught.value) == said
    assert not out.exists()  # the folder made for the check is removed again


def _too_long_out(tmp: Path, kind: str) -> Path:
    """An output folder under ``tmp`` too long for the system: its own name of 300 bytes
    (``name``), or names of 200 bytes each making a path just under 4096 bytes (``path``)."""
    if kind == "name":
        return tmp / ("x" * 300)
    out = tmp
    while len(os.fsencode(out / ("y" * 200))) < 4090:
        out = out / ("y" * 200)
    return out / ("z" * (4090 - len(os.fsencode(out)) - 1))


@pytest.mark.parametrize("cli", [False, True])
@pytest.mark.parametrize("kind", ["name", "path"])
def test_an_output_folder_too_long_for_the_system_is_refused_naming_it(survey_inputs, kind, cli):
    """An --out whose own name is longer than the disk takes, or whose path (near 4096 bytes) leaves
    no room for the survey's files in it, made run_survey raise a bare OSError (File name too
    long) out of its reading of the folder; run_survey and 'tinylens survey' now refuse it, naming
    the folder and the limit, before anything reads or makes it."""
    import errno

    out = _too_long_out(survey_inputs["tmp"], kind)
    before = sorted(os.listdir(survey_inputs["tmp"]))
    reason = os.strerror(errno.ENAMETOOLONG)
    if kind == "name":
        said = [f"The survey output folder {out} cannot be written: its name is 300 bytes, a name longer than the "
                f"system allows ({reason}; {os.pathconf(survey_inputs['tmp'], 'PC_NAME_MAX')} bytes there). "
                "Choose a shorter --out (run_survey: out=)."]
    else:
        assert len(os.fsencode(out)) < 4096
        said = [f"The survey output folder {out} cannot be written: its path is {len(os.fsencode(out))} bytes",
                f"longer than the system allows ({reason}; 4096 bytes on Linux). Choose a shorter --out "
                "(run_survey: out=)."]
    if cli:
        result = CliRunner().invoke(app, ["survey", str(survey_inputs["lenses"]), "-c", str(survey_inputs["template"]),
                                          "--out", str(out), "--only", "lens_a", "-q"])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert all("".join(part.split()) in "".join(result.output.split()) for part in said), result.output
    else:
        with pytest.raises(OutputError) as caught:
            runner.run_survey(survey_inputs["lenses"], survey_inputs["template"], out, progress=False, only=["lens_a"])
        assert all(part in str(caught.value) for part in said), str(caught.value)
    assert sorted(os.listdir(survey_inputs["tmp"])) == before  # no folder made on the way


def test_the_output_folder_length_check_makes_paths_of_the_longest_lens_id_alone(tmp_path, monkeypatch):
    """check_out_name_fits, run at every start of a survey, made three hidden temporary paths for
    each chosen lens (about 0.35 s for 5000 lenses) though every lens folder is out/lenses/<id>:
    it now makes them for the lens of the longest id alone, and still refuses an output folder
    where only that lens's files would pass the system's limit, naming that lens's file."""
    from tinylens import atomic

    made = []
    real = atomic.hidden_name
    monkeypatch.setattr(atomic, "hidden_name", lambda path: made.append(path) or real(path))
    lenses = [discovery.Lens(f"lens_{i:04d}", tmp_path / f"lens_{i:04d}") for i in range(1000)]
    longest = discovery.Lens("lens_" + "l" * 60, tmp_path / "long")
    resume.check_out_name_fits(tmp_path / "out", [*lenses[:500], longest, *lenses[500:]])
    assert len(made) <= 6, len(made)  # the catalogue's three and the longest lens's three
    room = 4096 - len(os.fsencode(atomic.hidden_name(tmp_path / "out" / filenames.LENSES_DIR / longest.lens_id
                                                     / filenames.RESULT)))
    out = tmp_path / "out"
    while room > 200:
        out, room = out / ("y" * 150), room - 151
    out = out / ("z" * (room - 1))  # the longest lens's result makes a path of 4096 bytes, the others' fit
    with pytest.raises(OutputError) as caught:
        resume.check_out_name_fits(out, [*lenses, longest])
    assert f"(as {filenames.LENSES_DIR}/{longest.lens_id}/." in str(caught.value), str(caught.value)
    resume.check_out_name_fits(out, lenses)  # without it, every path fits


@pytest.mark.parametrize("name", ["--out", "--output", "-o"])
def test_survey_takes_its_folder_by_the_name_fit_gives_it_too(survey_inputs, name):
    """'tinylens fit' names its output folder --output: 'tinylens survey ... --output OUT' was
    refused ('No such option: --output'). Each name gives the survey its folder."""
    folder = survey_inputs["file"] / "out"
    result = CliRunner().invoke(app, ["survey", str(survey_inputs["lenses"]), "-c", str(survey_inputs["template"]),
                                      name, str(folder), "--dry-run"])
    assert result.exit_code == 2, result.output
    assert f"The survey output folder {folder} cannot be written" in " ".join(result.output.split())


@pytest.mark.parametrize(("code", "filename", "said"), [
    (28, None, "a file cannot be written (No space left on device: the disk, or your quota on it, is full)"),
    (30, "catalog.csv", "catalog.csv cannot be written (Read-only file system: the disk is mounted read-only)"),
])
def test_a_full_or_read_only_disk_stops_the_survey_with_a_message_not_a_traceback(tmp_path, mock_survey, monkeypatch,
                                                                               code, filename, said):
    """The catalogue written as the disk fills (pyarrow's OSError names no file) or goes
    read-only: a traceback and exit 1 before; now exit 2 and a message naming --out, why, and
    that the finished lens's row is kept for the same command to go on from."""
    from tinylens.locks import held_by
    from tinylens.results import tables

    out = tmp_path / "out"
    (out / "lenses" / "lens_a").mkdir(parents=True)
    (out / "lenses" / "lens_a" / "result.json").write_text(json.dumps(RESULT))
    survey_rows.write_row(out / "lenses" / "lens_a", survey_rows.flat_row("lens_a", RESULT))

    def full(frames):
        raise OSError(code, os.strerror(code), None if filename is None else str(out / filename))

    monkeypatch.setattr(tables, "write_tables", full)
    result = CliRunner().invoke(app, ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]),
                                      "--out", str(out), "--only", "lens_a", "-q"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"The survey output folder {out}: " in text and said.replace("catalog.csv", str(out / "catalog.csv")) in text
    assert "Run the same command (or run_survey call) again" in text
    assert survey_rows.read_rows(out)["lens_a"]["status"] == "ok"  # kept
    assert held_by(out / filenames.SURVEY_LOCK_FILE) is None


def test_a_full_disk_tells_a_python_caller_to_call_run_survey_again(tmp_path, mock_survey, monkeypatch):
    """run_survey's OutputError for a full disk said only 'Run the same command again', words for
    the command line; it names the run_survey call too, and the finished lens's row is kept."""
    from tinylens.results import tables

    out = tmp_path / "out"
    (out / "lenses" / "lens_a").mkdir(parents=True)
    (out / "lenses" / "lens_a" / "result.json").write_text(json.dumps(RESULT))
    survey_rows.write_row(out / "lenses" / "lens_a", survey_rows.flat_row("lens_a", RESULT))

    def full(frames):
        raise OSError(28, os.strerror(28))

    monkeypatch.setattr(tables, "write_tables", full)
    with pytest.raises(OutputError) as caught:
        runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, progress=False, only=["lens_a"])
    assert "Run the same command (or run_survey call) again after freeing some space" in str(caught.value)
    assert survey_rows.read_rows(out)["lens_a"]["status"] == "ok"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["sub/../nowhere", "-c", "{template}"], "Lens folder {tmp}/nowhere does not exist"),
        (["sub/../a_file", "-c", "{template}"], "{tmp}/a_file is a file"),
        (["sub/../empty", "-c", "{template}"], "No lens folders found in {tmp}/empty:"),
        (["{lenses}/../lenses", "-c", "{template}", "--only", "lens_zz"], "1 lens with no lens folder in {lenses}:"),
        (["{lenses}", "-c", "sub/../bad_setting.yaml"], "The template {tmp}/bad_setting.yaml does not work"),
        (["{lenses}", "-c", "sub/../bad_setting.yaml", "--dry-run"], "The template {tmp}/bad_setting.yaml does not work"),
        (["{lenses}", "-c", "{template}", "--out", "sub/../a_file/out", "--dry-run"],
         "The survey output folder {tmp}/a_file/out cannot be written ({tmp}/a_file is a file"),
    ],
)
def test_the_survey_names_its_folders_and_template_without_dot_dot_parts(survey_inputs, monkeypatch, args, expected):
    """A lens folder, template or --out given as 'sub/../x' is named in the survey's messages as
    the folder it is ({tmp}/x), as the dry run and the summary name them, not as 'sub/../x'."""
    tmp = survey_inputs["tmp"]
    monkeypatch.chdir(tmp)
    (tmp / "sub").mkdir()
    args = [a.format(**survey_inputs) for a in args]
    out = [] if "--out" in args else ["--out", str(tmp / "out")]
    result = CliRunner().invoke(app, ["survey", *args, *out])
    assert result.exit_code == 2, result.output
    squashed = "".join(result.output.split())  # a long path may be wrapped
    assert "".join(expected.format(**survey_inputs).split()) in squashed, result.output
    assert "/../" not in squashed and "Traceback" not in result.output


def test_survey_only_fits_the_chosen_lenses_and_keeps_the_others_rows(tmp_path, mock_survey):
    """--only lens_b on an --out that already holds lens_a: lens_b alone is fitted, lens_a's row
    stays in the catalogue, and the progress counts the chosen lens only."""
    out = tmp_path / "out"
    (out / "lenses" / "lens_a").mkdir(parents=True)
    (out / "lenses" / "lens_a" / "result.json").write_text(json.dumps(RESULT))
    survey_rows.write_row(out / "lenses" / "lens_a", survey_rows.flat_row("lens_a", RESULT))
    with mock.patch.object(runner, "_fit_lenses", return_value="fitted") as fitted, \
            mock.patch.object(runner, "dask_client"):
        assert runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, progress=False,
                                 only=["lens_b"]) == "fitted"
    todo, rows, _, _, done = fitted.call_args.args[:5]
    assert [lens.lens_id for lens in todo] == ["lens_b"] and done == [] and set(rows) == {"lens_a"}
    with mock.patch.object(runner, "_fit_lenses") as fitted:  # a chosen lens that is done: nothing to fit
        catalog = runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, progress=False,
                                    only=["lens_a"])
    assert not fitted.called and catalog["lens_id"].tolist() == ["lens_a"]


def _earlier_run(out: Path, reason: str) -> dict[str, dict]:
    """Write into ``out`` the lenses of an earlier run: lens_a ok (its result.json and row) and
    lens_bad failed for ``reason`` (its row); their rows."""
    (out / "lenses" / "lens_a").mkdir(parents=True)
    (out / "lenses" / "lens_a" / "result.json").write_text(json.dumps(RESULT))
    rows = {"lens_a": survey_rows.flat_row("lens_a", RESULT), "lens_bad": survey_rows.failed_row("lens_bad", reason)}
    for lens_id, row in rows.items():
        survey_rows.write_row(out / "lenses" / lens_id, row)
    return rows


def test_the_summary_of_a_survey_with_only_counts_the_chosen_lenses(tmp_path, mock_survey):
    """--only lens_a on an --out holding an earlier run's failed lens_bad: the closing line said
    '2 lenses: 1 ok, 1 failed', counting every row of the catalogue; it now counts the chosen
    lenses ('1 lens chosen by --only: 1 ok ... 0 failed') and says the catalogue holds the
    rows of 1 lens from earlier runs too; with a chosen lens that has no row, 'N of the M'."""
    from rich.text import Text

    from tinylens.cli.survey import summary_line

    out = tmp_path / "out"
    rows = _earlier_run(out, "broken")
    args = ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]), "--out", str(out), "-q"]
    with mock.patch.object(runner, "_fit_lenses") as fitted:
        result = CliRunner().invoke(app, [*args, "--only", "lens_a"])
    assert result.exit_code == 0 and not fitted.called, result.output
    text = " ".join(result.output.split())
    assert re.search(r"1 lens chosen by --only: 1 ok \(\d trusted\), 0 failed in \d+s\. Catalogue: ", text), text
    assert ("(and catalog.csv; it also holds the rows of 1 lens from earlier runs); an overview: tinylens report "
            f"{out.resolve() / 'catalog.parquet'}") in text, text
    line = Text.from_markup(summary_line(catalog.catalog_frame(rows), out, 5.0, ["lens_bad", "lens_c"])).plain
    assert line.startswith("1 of the 2 lenses chosen by --only: 0 ok, 1 failed in 5s. Catalogue: "), line
    assert "(and catalog.csv; it also holds the rows of 1 lens from earlier runs)" in line, line
    line = Text.from_markup(summary_line(catalog.catalog_frame(rows), out, 5.0)).plain  # no --only: as before
    assert line.startswith("2 lenses: 1 ok") and "(and catalog.csv);" in line, line


def test_a_survey_with_only_whose_chosen_lenses_all_failed_exits_non_zero(tmp_path, mock_survey):
    """--only lens_bad on an --out holding an earlier run's ok lens_a: lens_bad failed (kept, no
    --retry-failed) and the survey exited 0, 'Every lens failed' looking at the whole catalogue, so a
    batch script read it as a success; the exit status now counts the chosen lenses, as without --only."""
    out = tmp_path / "out"
    _earlier_run(out, "broken image")
    args = ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]), "--out", str(out), "-q"]
    with mock.patch.object(runner, "_fit_lenses") as fitted:
        result = CliRunner().invoke(app, [*args, "--only", "lens_bad"])
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and not fitted.called, result.output
    assert "Every lens chosen by --only failed. Reasons (1 distinct, the catalogue's 'reason' column): broken image" in text, text
    assert "Traceback" not in result.output
    with mock.patch.object(runner, "_fit_lenses") as fitted:  # a chosen lens that is ok: a success
        result = CliRunner().invoke(app, [*args, "--only", "lens_a,lens_bad"])
    assert result.exit_code == 0 and "Every lens" not in result.output, result.output


def test_the_retry_failed_hint_of_a_survey_with_only_is_for_a_chosen_lens_that_failed(tmp_path, mock_survey):
    """--only lens_a on an --out holding an earlier run's failed lens_bad: the survey said 'A failed
    lens is not fitted again ... --retry-failed' although every lens it was asked to fit was ok; the
    hint now comes only when a chosen lens failed (--only lens_bad), as without --only when any did."""
    out = tmp_path / "out"
    _earlier_run(out, "broken image")
    args = ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]), "--out", str(out), "-q"]
    hint = "A failed lens is not fitted again when the survey is rerun unless you add --retry-failed"
    told = {}
    for only in ("lens_a", "lens_bad", "lens_a,lens_bad"):
        with mock.patch.object(runner, "_fit_lenses") as fitted:
            result = CliRunner().invoke(app, [*args, "--only", only])
        assert not fitted.called and "Traceback" not in result.output, result.output
        told[only] = hint in " ".join(result.output.split())
    assert told == {"lens_a": False, "lens_bad": True, "lens_a,lens_bad": True}, told


def test_survey_cli_only_from_a_file_and_an_unknown_id(tmp_path, mock_survey):
    out = tmp_path / "out"
    (tmp_path / "redo.txt").write_text("lens_bad\n")
    args = ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]), "--out", str(out), "-q"]
    result = CliRunner().invoke(app, [*args, "--only", str(tmp_path / "redo.txt")])
    assert result.exit_code == 1, result.output  # the one lens chosen fails on its broken image
    assert pd.read_csv(out / "catalog.csv")["lens_id"].tolist() == ["lens_bad"]
    assert sorted(p.name for p in (out / "lenses").iterdir()) == ["lens_bad"]
    result = CliRunner().invoke(app, [*args, "--only", "lens_a,lens_zz"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "names 1 lens with no lens folder in" in text and "lens_zz" in text and "Traceback" not in text


@pytest.mark.parametrize("dry_run", [False, True])
def test_survey_only_an_empty_inspect_csv_says_nothing_to_refit_and_touches_nothing(tmp_path, mock_survey, dry_run):
    """README's refit step '--only run1/report/inspect.csv' after a survey whose lenses are all
    trusted (inspect.csv: its header alone) stopped with 'names no lens.' and exit 2, as if the
    user had erred; it now says there is nothing to refit, exits 0 and writes nothing."""
    from tinylens.results.overview import INSPECT_COLUMNS

    inspect = tmp_path / "report" / "inspect.csv"
    inspect.parent.mkdir()
    pd.DataFrame(columns=list(INSPECT_COLUMNS)).to_csv(inspect, index=False)
    out = tmp_path / "run2"
    args = ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]), "--out", str(out), "-q",
            "--only", str(inspect)] + (["--dry-run"] if dry_run else [])
    with mock.patch.object(runner, "run_survey") as run, mock.patch.object(runner, "survey_plan") as plan:
        result = CliRunner().invoke(app, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert f"Nothing to refit: {inspect} lists no lens" in text and "Traceback" not in text
    assert not run.called and not plan.called and not out.exists()


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_survey_plan_sorts_the_lenses_by_what_a_run_would_do_and_writes_nothing(tmp_path, mock_survey):
    out = tmp_path / "out"
    lenses = {name: out / "lenses" / name for name in ("lens_a", "lens_b", "lens_bad", "lens_c")}
    for folder in lenses.values():
        folder.mkdir(parents=True)
    (lenses["lens_a"] / "result.json").write_text(json.dumps(RESULT))  # done
    survey_rows.write_row(lenses["lens_a"], survey_rows.flat_row("lens_a", RESULT))
    (lenses["lens_b"] / "result.json").write_text(json.dumps(RESULT))  # finished, killed before its row
    survey_rows.write_row(lenses["lens_bad"], survey_rows.failed_row("lens_bad", "DataError: broken"))
    (lenses["lens_c"] / "checkpoint.hdf5").write_bytes(b"")  # interrupted
    before = _tree(out)
    plan = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, check=False)
    assert (plan["n_folders"], plan["n_chosen"]) == (4, 4)
    assert plan["ok"] == ["lens_a"] and plan["failed"] == ["lens_bad"] and plan["recover"] == ["lens_b"]
    assert plan["to_fit"] == {"new": [], "resume": ["lens_c"], "other_checkpoint": [], "changed": [], "retry": []}
    # lens_a's image replaced since its fit: fitted again; the failed lens retried on request
    stamp = resume.inputs_stamp(survey_template.lens_config(survey_template.load_template(mock_survey["template"]),
                                                   discovery.Lens("lens_a", mock_survey["lenses"] / "lens_a"), out))
    stamp["data_path"] = {"size": 1, "mtime_ns": 0, "sha256": "0"}
    (lenses["lens_a"] / "inputs.json").write_text(json.dumps(stamp))
    before = _tree(out)
    plan = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, retry_failed=True, check=False)
    assert plan["ok"] == [] and plan["failed"] == []
    assert plan["to_fit"] == {"new": [], "resume": ["lens_c"], "other_checkpoint": [], "changed": ["lens_a"], "retry": ["lens_bad"]}
    assert _tree(out) == before  # nothing written
    # a template with resume: false starts the interrupted lens again
    cfg = yaml.safe_load(Path(mock_survey["template"]).read_text())
    cfg["inference"]["settings"] = {**(cfg["inference"].get("settings") or {}), "resume": False}
    (tmp_path / "afresh.yaml").write_text(yaml.safe_dump(cfg))
    plan = runner.survey_plan(mock_survey["lenses"], tmp_path / "afresh.yaml", out, check=False)
    assert plan["to_fit"]["resume"] == [] and "lens_c" in plan["to_fit"]["new"]


def test_survey_plan_looks_for_each_checkpoint_file_of_a_lens_once(tmp_path, mock_survey, monkeypatch):
    """The dry run asked holds_checkpoint twice of every lens with no checkpoint of this template
    (first with its digest, then without), so that each checkpoint name was looked for twice in each
    new lens's folder: 72 ms against 36 ms per 1000 lenses. Each is now looked for once there, and
    the lenses are sorted as before."""
    out = tmp_path / "out"
    for name in ("lens_a", "lens_b", "lens_c"):
        (out / "lenses" / name).mkdir(parents=True)
    (out / "lenses" / "lens_c" / "checkpoint.hdf5").write_bytes(b"")  # interrupted
    asked: dict[str, int] = {}
    exists = Path.exists

    def counted(self, *args, **kwargs):
        if self.name in resume.RESUMED_FILES:
            asked[str(self)] = asked.get(str(self), 0) + 1
        return exists(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", counted)
    plan = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, check=False)
    assert plan["to_fit"]["resume"] == ["lens_c"] and "lens_a" in plan["to_fit"]["new"], plan["to_fit"]
    looked = {str(out / "lenses" / lens / name) for lens in ("lens_a", "lens_b") for name in resume.RESUMED_FILES}
    assert looked <= set(asked), asked  # each was looked for, in each new lens (lens_c's is read for its digest)
    assert {path: asked[path] for path in looked if asked[path] > 1} == {}


def test_a_fitted_lens_whose_folder_is_gone_leaves_the_catalogue_with_a_warning(tmp_path, mock_survey):
    """A lens folder deleted (or purged from a scratch disk) after its fit: its row left the
    catalogue of the next run without a word; the run now names it, says its fit stays in --out,
    and the row comes back with the folder. (Fits faked, cluster mocked.)"""
    lenses = tmp_path / "lenses"
    lenses.mkdir()
    for name in ("lens_a", "lens_b"):
        shutil.copytree(mock_survey["lenses"] / name, lenses / name)
    out = tmp_path / "out"
    for name in ("lens_a", "lens_b"):
        (out / "lenses" / name).mkdir(parents=True)
        (out / "lenses" / name / "result.json").write_text(json.dumps(RESULT))
        survey_rows.write_row(out / "lenses" / name, survey_rows.flat_row(name, RESULT))
    shutil.move(lenses / "lens_b", tmp_path / "lens_b.away")

    def run():
        with mock.patch.object(runner, "dask_client"), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = runner.run_survey(lenses, mock_survey["template"], out, progress=False)
        return frame, [" ".join(str(w.message).split()) for w in caught if w.category is DataWarning]

    frame, told = run()
    assert list(frame["lens_id"]) == ["lens_a"]
    assert told == [f"1 lens with a finished fit in {out / 'lenses'} is no longer among the lens folders of {lenses} "
                    "(deleted, moved, or purged from a scratch disk?): lens_b. The catalogue leaves its row out; its "
                    f"fit stays in {out / 'lenses'}, and it comes back into the catalogue once its lens folder is there "
                    "again."], told
    with pytest.warns(DataWarning, match="no longer among the lens folders of .*: lens_b"):  # a dry run says so too
        runner.survey_plan(lenses, mock_survey["template"], out, check=False)
    shutil.move(tmp_path / "lens_b.away", lenses / "lens_b")
    frame, told = run()
    assert list(frame["lens_id"]) == ["lens_a", "lens_b"] and told == []


def test_a_survey_says_which_lenses_not_fitted_had_their_task_dropped_and_which_were_never_sent():
    """Since 940aa61 the lenses a survey never sent to the cluster (it sends no more once a task is
    dropped, or its client gave up on a lost scheduler) are counted with those whose task the
    cluster dropped, but the message said the cluster dropped all their tasks ('Dask dropped the 3
    lenses not yet fitted'); it now says how many of each, verb agreeing for one and for several."""
    assert survey_cluster.not_fitted_text(["lens_a"], [], "Dask") == "1 lens was not fitted: Dask dropped its task (lens_a)"
    assert survey_cluster.not_fitted_text([], ["lens_a"], "Dask") == "1 lens was not fitted: its task was never sent (lens_a)"
    assert survey_cluster.not_fitted_text([], ["lens_a", "lens_b"], "Dask") == \
        "2 lenses were not fitted: their tasks were never sent (e.g. lens_a)"
    assert survey_cluster.not_fitted_text(["lens_a"], ["lens_b"], "Dask") == \
        "2 lenses were not fitted: Dask dropped 1 of their tasks and 1 was never sent (e.g. lens_a)"
    assert survey_cluster.not_fitted_text(["lens_a", "lens_b"], ["lens_c", "lens_d", "lens_e"], "Dask") == \
        "5 lenses were not fitted: Dask dropped 2 of their tasks and 3 were never sent (e.g. lens_a)"
    assert runner.dropped_text(["lens_a"], 1, ["lens_b"]) == (
        "2 lenses were not fitted: the Dask cluster dropped 1 of their tasks and 1 was never sent (e.g. lens_a; was "
        "the scheduler stopped?). The catalogue holds the 1 finished one; run the same command (or run_survey call) again to fit "
        "the rest.")
    assert runner.dropped_text([], 2, ["lens_b"]) == (
        "1 lens was not fitted: its task was never sent (lens_b; was the scheduler stopped?). The catalogue holds the "
        "2 finished ones; run the same command (or run_survey call) again to fit the rest.")
    assert survey_cluster.lost_scheduler_text("tcp://h:1", [], 0, ["lens_b", "lens_c"]) == (
        "The Dask scheduler at tcp://h:1 stopped answering (was it stopped, or did its batch job end?), and 2 lenses "
        "were not fitted: their tasks were never sent (e.g. lens_b). The catalogue holds the 0 finished ones; start "
        "the scheduler and its workers again, then run the same command (or run_survey call) to fit the rest (a lens "
        f"a worker was fitting resumes from its checkpoint). {survey_cluster.LEFT_WORKERS_TEXT}")


def test_the_survey_messages_on_lenses_read_right_for_one_lens_and_for_many(tmp_path):
    """Six survey messages said 'lens(es)' with a plural verb and pronoun ('1 lens(es) were not
    fitted because every Dask worker given them ...', 'the 1 finished ones'); they now say '1 lens
    was ... given it' and '3 lenses were ... given them', an example named as one where there are
    several ('e.g. lens_a') and alone where it is the only one."""
    finished = "The catalogue holds the 1 finished one"
    assert survey_cluster.lost_scheduler_text("tcp://h:1", ["lens_a"], 1).startswith(
        "The Dask scheduler at tcp://h:1 stopped answering (was it stopped, or did its batch job end?), and 1 lens "
        f"was not fitted: Dask dropped its task (lens_a). {finished}; start")
    assert "2 lenses were not fitted: Dask dropped their tasks (e.g. lens_a). The catalogue holds the 0 finished " \
        "ones;" in survey_cluster.lost_scheduler_text("tcp://h:1", ["lens_a", "lens_b"], 0)
    assert runner.dropped_text(["lens_a"], 1).startswith(
        "1 lens was not fitted: the Dask cluster dropped its task (lens_a; was the scheduler stopped?). "
        f"{finished}; run")
    assert runner.dropped_text(["lens_a", "lens_b"], 3).startswith(
        "2 lenses were not fitted: the Dask cluster dropped their tasks (e.g. lens_a; was the scheduler "
        "stopped?). The catalogue holds the 3 finished ones; run")
    assert runner.unfitted_text(["lens_a"], {"tcp://w:1": {}}, 1).startswith(
        "1 lens was not fitted because every Dask worker given it runs another tinylens than this process (lens_a; "
        f"tcp://w:1; see above). {finished}. Start")
    assert runner.unfitted_text(["lens_a", "lens_b"], {"tcp://w:1": {}}, 2).startswith(
        "2 lenses were not fitted because every Dask worker given them runs another tinylens than this process "
        "(e.g. lens_a; tcp://w:1; see above). The catalogue holds the 2 finished ones. Start")
    assert resume.changed_warning_text({"lens_a": ["data_path"]}).startswith(
        "1 lens changed since its fit started: lens_a (image). It is fitted again (an earlier result")
    assert resume.changed_warning_text({"lens_a": ["data_path"], "lens_b": ["psf_path"]}).startswith(
        "2 lenses changed since their fit started: lens_a (image), lens_b (PSF). They are fitted again")
    with pytest.warns(DataWarning) as caught:
        runner._warn_of_gone(["lens_a", "lens_b"], tmp_path / "out", tmp_path / "lenses")
    assert " ".join(str(caught[0].message).split()) == (
        f"2 lenses with a finished fit in {tmp_path / 'out' / 'lenses'} are no longer among the lens folders of "
        f"{tmp_path / 'lenses'} (deleted, moved, or purged from a scratch disk?): lens_a, lens_b. The catalogue "
        f"leaves their rows out; their fits stay in {tmp_path / 'out' / 'lenses'}, and they come back into the "
        "catalogue once their lens folders are there again.")


def test_the_survey_warnings_on_files_and_folders_read_right_for_one_and_for_several(tmp_path):
    """Three survey warnings counted with '(s)' and a plural verb ('1 row.json file(s) ... hold
    another lens's row ... They are not taken', '1 folder(s) ... are left out ... If they are lens
    folders', '1 lens file(s) are there'); they now say '1 row.json file ... holds ... It is not
    taken for this lens's result' and '2 row.json files ... hold ... They are', and so on."""
    out = tmp_path / "out"
    lenses = out / "lenses"
    for folder, lens_id in (("b", "a"), ("c", "c")):
        (lenses / folder).mkdir(parents=True)
        survey_rows.write_row(lenses / folder, survey_rows.flat_row(lens_id, RESULT))
    with pytest.warns(DataWarning) as caught:
        survey_rows.read_rows(out)
    assert [" ".join(str(w.message).split()) for w in caught] == [
        f"1 row.json file in {lenses} holds another lens's row (copied between lens folders?): b holds a. It is "
        "not taken for this lens's result, which is fitted again."]
    (lenses / "d").mkdir()
    survey_rows.write_row(lenses / "d", survey_rows.flat_row("a", RESULT))
    with pytest.warns(DataWarning) as caught:
        survey_rows.read_rows(out)
    assert [" ".join(str(w.message).split()) for w in caught] == [
        f"2 row.json files in {lenses} hold another lens's row (copied between lens folders?): b holds a, d holds "
        "a. They are not taken for these lenses' results, which are fitted again."]
    assert discovery.closed_folders_text(tmp_path, ["x (Permission denied)", "y (Permission denied)"]) == (
        f"2 folders in {tmp_path} cannot be looked into, and are left out: x (Permission denied), y (Permission "
        "denied). If they are lens folders, make them readable (chmod) and run the survey again.")
    assert discovery.closed_folders_text(tmp_path, ["x (Permission denied)"]) == (
        f"1 folder in {tmp_path} cannot be looked into, and is left out: x (Permission denied). If it is a lens "
        "folder, make it readable (chmod) and run the survey again.")
    assert " ".join(discovery.unsurveyed_folders_text(tmp_path, ["x (image.fit)"]).split()).startswith(
        f"1 folder in {tmp_path} holds a lens's files under names the survey does not look for, and is left out: "
        "x (image.fit). The survey looks for")
    assert " ".join(discovery.unsurveyed_files_text(tmp_path, ["x (mask.fit)"]).split()).startswith(
        f"1 lens file in {tmp_path} is there only under a name the survey does not look for, and is not used: "
        "x (mask.fit). A lens without")
    one = "a (image.fits and image.fits.gz: image.fits is used)"
    assert discovery.several_names_text([one]) == f"1 lens file is there under several names: {one}. Delete the ones not meant."
    assert discovery.several_names_text([one, "b (psf.fits and PSF.FITS: psf.fits is used)"]) == (
        f"2 lens files are there under several names: {one}, b (psf.fits and PSF.FITS: psf.fits is used). Delete "
        "the ones not meant.")


def test_survey_plan_recovers_only_a_result_a_run_would_take_its_row_from(tmp_path, mock_survey):
    """A lens whose result.json lacks its row was listed to 'recover' (its row rebuilt, no fit) by
    a dry run whatever that file held, though a run rebuilds a row only from a readable result of
    this lens (recover_rows) and fits the lens where the file is broken or another lens's, copied
    there: the dry run now says what the run does (new, or resume where a checkpoint is there)."""
    out = tmp_path / "out"
    folders = {name: out / "lenses" / name for name in ("lens_a", "lens_b", "lens_bad")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    (folders["lens_a"] / "result.json").write_text(json.dumps(RESULT))  # finished, killed before its row
    (folders["lens_b"] / "result.json").write_text('{"median": ')  # cut short
    (folders["lens_bad"] / "result.json").write_text(json.dumps({**RESULT, "output_dir": str(folders["lens_a"])}))
    (folders["lens_bad"] / "checkpoint.hdf5").write_bytes(b"")  # interrupted
    plan = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, check=False,
                              only=["lens_a", "lens_b", "lens_bad"])
    assert plan["recover"] == ["lens_a"]
    assert plan["to_fit"] == {"new": ["lens_b"], "resume": ["lens_bad"], "other_checkpoint": [], "changed": [], "retry": []}
    rows = survey_rows.read_rows(out)
    recovered = {**rows, **resume.recoverable_rows([discovery.Lens(n, mock_survey["lenses"] / n) for n in folders],
                                                   out, rows)}
    assert sorted(recovered) == plan["recover"]  # the rows the run rebuilds


def test_survey_plan_reads_resume_false_in_tinylensgpus_older_sampling_section(tmp_path, mock_survey):
    """A template written with TinyLensGpu's older section 'sampling: {..., resume: false}' (read as
    inference.settings) starts an interrupted lens afresh, but --dry-run listed it as 'resume from a
    checkpoint'."""
    out = tmp_path / "out"
    (out / "lenses" / "lens_c").mkdir(parents=True)
    (out / "lenses" / "lens_c" / "checkpoint.hdf5").write_bytes(b"")  # interrupted
    cfg = yaml.safe_load(Path(mock_survey["template"]).read_text())
    inference = cfg.pop("inference")
    cfg["sampling"] = {"sampler": inference.get("method", "nautilus"), **(inference.get("settings") or {}), "resume": False}
    (tmp_path / "afresh.yaml").write_text(yaml.safe_dump(cfg))
    plan = runner.survey_plan(mock_survey["lenses"], tmp_path / "afresh.yaml", out, check=False)
    assert plan["to_fit"]["resume"] == [] and "lens_c" in plan["to_fit"]["new"]


def test_a_dry_run_whose_survey_lock_cannot_be_tested_does_not_say_nobody_writes_out(tmp_path, mock_survey,
                                                                                     failing_flock):
    """A --out whose .survey.lock could not be tested (flock EIO: a failing disk) was planned as
    written by nobody (survey_plan's running None, and the dry run said nothing); survey_plan now
    says why it cannot be told (running_unknown), and the dry run prints it, naming the lock
    file and the error."""
    import errno

    out = tmp_path / "out"
    out.mkdir()
    lock = out / filenames.SURVEY_LOCK_FILE
    lock.write_text("process 12 on node3, since long ago")
    assert runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, check=False)["running_unknown"] is None
    failing_flock(errno.EIO)
    plan = runner.survey_plan(mock_survey["lenses"], mock_survey["template"], out, check=False)
    said = (f"Whether another tinylens process writes {out} now cannot be told: its lock file {lock} cannot be tested "
            f"({os.strerror(errno.EIO)}, EIO).")
    assert plan["running"] is None and plan["running_unknown"] == said
    with mock.patch.object(runner, "check_template", return_value=None):
        result = CliRunner().invoke(app, ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]),
                                          "--out", str(out), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert said in " ".join(result.output.split()) and "A survey is writing" not in result.output
    assert lock.read_text() == "process 12 on node3, since long ago"


def test_survey_dry_run_cli_checks_the_template_and_starts_nothing(tmp_path, mock_survey, survey_inputs):
    out = tmp_path / "out"
    args = ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]), "--out", str(out), "--dry-run"]
    with mock.patch.object(runner, "dask_client") as cluster:
        result = CliRunner().invoke(app, [*args, "--only", "lens_c,lens_a"])
        assert result.exit_code == 0, result.output
        assert not cluster.called and not out.exists()
    text = " ".join(result.output.split())
    assert "4 lens folders in" in text and "(2 chosen by --only)" in text
    assert "the template works (checked with lens_c as" in text
    assert "To fit: 2 lenses: 2 new: lens_c, lens_a" in text
    # a template the survey would refuse is refused by the dry run too, with the same message
    result = CliRunner().invoke(app, ["survey", str(mock_survey["lenses"]), "-c", str(survey_inputs["bad_setting"]),
                                      "--out", str(out), "--dry-run"])
    assert result.exit_code == 2 and "nlives" in result.output and not out.exists()
    # a survey writing --out now is named
    from tinylens.locks import folder_lock

    out.mkdir()
    with folder_lock(out, filenames.SURVEY_LOCK_FILE):
        result = CliRunner().invoke(app, [*args, "--only", "lens_bad"])
    text = " ".join(result.output.split())
    assert result.exit_code == 0 and f"A survey is writing {out} now (process {os.getpid()} on" in text
    assert "the template could not be checked: the first lenses to fit have broken data" in text  # lens_bad's
    assert "(they will fail): lens_bad: " in text and "image.fits" in text  # which lens, and why


@pytest.mark.parametrize(("workers", "warned"), [(2, False), (3, True), (64, True)])
def test_more_workers_than_cores_are_warned_of(tmp_path, mock_survey, monkeypatch, workers, warned):
    """--workers above the cores available was taken without a word: the workers share the cores
    (no faster than one a core) and each local worker gets 1/workers of the memory, which Dask
    enforces by stopping it ('Out of memory' failures); '-w 64' on a 2-core laptop started 64 JAX
    processes. It is still run (a user may mean it), with a warning that says so, dry run or not."""
    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    args = ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]), "--out", str(tmp_path / "out"),
            "--workers", str(workers), "--dry-run", "--only", "lens_a"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    said = (f"Warning: --workers {workers} is more than the 2 cores this survey may use (CPU affinity, cgroup quota, "
            f"a SLURM job's --cpus-per-task): the workers share them, so the lenses are fitted no faster than with 2, "
            f"and each worker gets 1/{workers} of the memory")
    assert (said in text) is warned, text
    assert ("Warning" in text) is warned and "Dry run: nothing started" in text
    assert runner.crowded_workers(1, 1) is None and "Give --workers 1 or fewer." in runner.crowded_workers(2, 1)
    assert "the 1 core this survey" in runner.crowded_workers(2, 1)


@pytest.mark.parametrize("dry_run", [True, False])
def test_so_many_workers_that_they_would_swamp_the_cores_are_refused(tmp_path, mock_survey, monkeypatch, dry_run):
    """--workers had no upper bound: '-w 10000' on a 2-core laptop set out to start 10000 local
    worker processes, each a Python with JAX, with only a warning. Above MAX_WORKERS_PER_CORE (32)
    a core it is refused, naming --workers and the cores, before anything is written (dry run or
    not, and from run_survey too); 64 on 2 cores is still run with the warning of crowded cores."""
    monkeypatch.setattr(runner, "available_cores", lambda: 2)

    def no_cluster(workers, scheduler=None):  # were the check to go, fail here rather than start them
        pytest.fail(f"a local cluster of {workers} workers was started")

    monkeypatch.setattr(runner, "dask_client", no_cluster)
    out = tmp_path / "out"
    args = ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]), "--out", str(out),
            "--workers", "10000", "--only", "lens_a", *(["--dry-run"] if dry_run else [])]
    result = CliRunner().invoke(app, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert ("--workers 10000 is more than 32 times the 2 cores this survey may use (CPU "
            "affinity, cgroup quota, a SLURM job's --cpus-per-task)") in text and "Give 2 or fewer (at most 64)." in text, text
    assert "Traceback" not in result.output and not out.exists()
    with pytest.raises(TinyLensError, match=r"--workers 65 \(run_survey: workers=\) is more than 32 times the 2 cores"):
        runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, workers=65, progress=False)
    assert not out.exists()
    runner.check_workers(64)  # the most: warned of, not refused
    assert "the 1 core this survey" in str(pytest.raises(TinyLensError, runner.check_workers, 33, 1).value)


@pytest.mark.parametrize("workers", [2.5, True, "2", float("nan"), float("inf"), np.float64(2.5)])
def test_run_survey_refuses_a_count_of_workers_that_is_no_whole_number(tmp_path, mock_survey, monkeypatch, workers):
    """``tinylens survey --workers 2.5`` was refused in one line, but ``run_survey(workers=2.5)``
    passed the check (2.5 >= 1) and went on to a local cluster of 2.5 workers, and ``workers=True``
    ran as 1 worker: each is refused as the CLI refuses it, a ConfigValueError naming workers,
    before any cluster starts or anything is written; numpy's integers are counts as ints are."""
    monkeypatch.setattr(runner, "available_cores", lambda: 2)

    def no_cluster(workers, *args, **kwargs):
        pytest.fail(f"a local cluster of {workers!r} workers was started")

    monkeypatch.setattr(runner, "dask_client", no_cluster)
    out = tmp_path / "out"
    with pytest.raises(ConfigValueError) as raised:
        runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, workers=workers, progress=False)
    assert str(raised.value) == (f"--workers {workers} (run_survey: workers=): the local cluster's worker processes are "
                                 "counted in whole numbers. Give --workers 1 or more, or leave it out for the default "
                                 "(2 here).")
    assert not out.exists()
    runner.check_whole_workers(np.int64(2))  # a whole number, as 2 is
    result = CliRunner().invoke(app, ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]),
                                      "--out", str(out), "--workers", "2.5"])
    assert result.exit_code == 2 and "--workers 2.5: the local cluster's worker processes are counted in whole numbers." in \
        " ".join(result.output.split()), result.output  # the CLI's own words, without run_survey's name


@pytest.mark.parametrize("workers", [2.0, np.float64(2.0), np.int64(2)])
def test_run_survey_counts_a_whole_number_of_workers_written_as_a_float_as_the_integer_it_is(tmp_path, mock_survey,
                                                                                             monkeypatch, workers):
    """``run_survey(workers=2.0)`` ended in Dask's TypeError ('float' object cannot be interpreted as
    an integer), and the check of whole numbers then refused it as no whole number, where
    ``--workers 2.0`` runs 2 workers and ``is_whole(2.0)`` holds: it is 2 workers, an int, as the CLI's."""
    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    started: list[Any] = []

    class Started(Exception):
        pass

    def no_cluster(workers, *args, **kwargs):
        started.append(workers)
        raise Started

    monkeypatch.setattr(runner, "dask_client", no_cluster)
    with pytest.raises(Started):
        runner.run_survey(mock_survey["lenses"], mock_survey["template"], tmp_path / "out", workers=workers, progress=False)
    assert started == [2] and type(started[0]) is int, started
    runner.check_whole_workers(2.0)  # the CLI's check too
    with pytest.raises(ConfigValueError, match="counted in whole numbers"):
        runner.check_whole_workers(2.5)


def test_a_dry_run_counts_one_lens_folder_as_one(tmp_path, mock_survey):
    lenses = tmp_path / "lenses"
    shutil.copytree(mock_survey["lenses"] / "lens_a", lenses / "lens_a")
    result = CliRunner().invoke(app, ["survey", str(lenses), "-c", str(mock_survey["template"]), "--out",
                                      str(tmp_path / "out"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"nothing written. 1 lens folder in {lenses};" in result.output  # soft-wrapped: one line


def test_survey_dry_run_refuses_what_a_run_would(tmp_path, mock_survey):
    """An --out that is a file (or below one) and fewer than one worker: the run refuses them, so
    the dry run does too, with nothing written."""
    afile = tmp_path / "afile.txt"
    afile.write_text("mine")
    base = ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"])]
    for out in (afile, afile / "below"):
        result = CliRunner().invoke(app, [*base, "--out", str(out), "--dry-run"])
        assert result.exit_code == 2, result.output
        assert f"({afile} is a file, not a folder); choose another --out (run_survey: out=)." in " ".join(
            result.output.split())
    for workers in ("0", "-2"):
        result = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "out"), "--workers", workers, "--dry-run"])
        assert result.exit_code == 2, result.output
        assert f"--workers {workers}: a local cluster needs at least 1 worker process." in " ".join(
            result.output.split())
    assert afile.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["afile.txt"]


def test_an_out_refused_through_the_python_api_names_the_out_argument_too(tmp_path, mock_survey):
    """run_survey (and survey_plan) called from Python with an ``out`` that is a file, or that
    another survey holds: the advice names run_survey's ``out=`` beside the command line's --out,
    which a Python caller has not got; nothing is written."""
    from tinylens.locks import folder_lock

    afile = tmp_path / "afile.txt"
    afile.write_text("mine")
    for call in (runner.run_survey, runner.survey_plan):
        with mock.patch.object(runner, "check_template"), \
                pytest.raises(OutputError, match="(?i)" + re.escape("choose another --out (run_survey: out=).")):
            call(mock_survey["lenses"], mock_survey["template"], afile / "below")
    assert afile.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["afile.txt"]
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out, filenames.SURVEY_LOCK_FILE, busy="{holder}"), \
            mock.patch.object(runner, "check_template") as checked, \
            pytest.raises(OutputError, match=re.escape("or give another --out (run_survey: out=).")):
        runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, progress=False)
    assert not checked.called and sorted(p.name for p in out.iterdir()) == []


def test_survey_refuses_an_out_another_survey_is_writing(tmp_path, mock_survey):
    """A survey started twice on one --out (a job resubmitted while the first still runs) is
    refused before it writes anything, naming the survey that holds the folder; stray temporary
    catalogues of a killed survey are removed by the next one."""
    from tinylens.locks import folder_lock

    out = tmp_path / "out"
    out.mkdir()
    args = ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]), "--out", str(out), "-q"]
    with folder_lock(out, filenames.SURVEY_LOCK_FILE, busy="{holder}"), \
            mock.patch.object(runner, "check_template") as checked:
        result = CliRunner().invoke(app, args)
    assert not checked.called  # refused at once, not after the template check's seconds of compilation
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert text.startswith("Error:") and "being written by another tinylens survey" in text
    assert f"(process {os.getpid()} on" in text and "--out" in text and "Traceback" not in result.output
    assert sorted(p.name for p in out.iterdir()) == []
    stray = out / ".catalog.unfinished-k1ll3d00.parquet"  # a survey killed while writing its catalogue left it
    stray.write_bytes(b"PAR1")
    with mock.patch.object(runner, "_fit_lenses", return_value=None) as fitted, mock.patch.object(runner, "dask_client"):
        runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, progress=False)
    assert fitted.called and not stray.exists() and not (out / filenames.SURVEY_LOCK_FILE).exists()


def test_a_survey_on_a_disk_without_locks_says_a_second_one_would_not_be_refused(tmp_path, mock_survey, failing_flock):
    """On a file system without flock (a Lustre or NFS mount without locks) the survey ran with
    no lock and said nothing, so a second survey on the same --out was not refused as the docs
    promise, and both fitted the same lenses; it now warns, naming --out. Where locks work it does
    not."""
    import errno

    def run(out):
        with mock.patch.object(runner, "check_template"), mock.patch.object(runner, "dask_client"), \
                mock.patch.object(runner, "_fit_lenses", return_value=None), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, progress=False)
        return [" ".join(str(w.message).split()) for w in caught if w.category is DataWarning]

    assert run(tmp_path / "locked") == []
    failing_flock(errno.ENOSYS)
    told = run(tmp_path / "unlocked")
    assert len(told) == 1 and told[0].startswith(f"The file system of the survey output folder {tmp_path / 'unlocked'} "
                                                 "does not support file locks"), told
    assert "a second tinylens survey started on this folder while this one runs would not be refused" in told[0]


def test_a_failing_flock_on_out_stops_the_survey_naming_its_lock_not_warned_as_no_locks(tmp_path, mock_survey,
                                                                                       failing_flock):
    """A flock error on --out other than 'held' and 'no locks here' (EIO: a failing disk) was taken
    for a file system without locks: the survey warned 'does not support file locks' and ran
    unlocked. It now stops before writing anything, naming the lock file and the error; the --out
    it made is removed."""
    import errno

    out = tmp_path / "out"
    failing_flock(errno.EIO)
    with mock.patch.object(runner, "check_template"), mock.patch.object(runner, "dask_client") as client, \
            warnings.catch_warnings(record=True) as caught, pytest.raises(OutputError) as raised:
        warnings.simplefilter("always")
        runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, progress=False)
    told = " ".join(str(raised.value).split())
    assert told.startswith(f"The lock file {out / filenames.SURVEY_LOCK_FILE} cannot be locked ({os.strerror(errno.EIO)}, "
                           "EIO)"), told
    assert told.endswith("Check that the folder and its disk can be written, and run the same command (or "
                         "run_survey call) again."), told
    assert not [w for w in caught if w.category is DataWarning] and not client.called and not out.exists()


def test_another_users_survey_lock_left_in_out_is_named_not_warned_as_no_locks(tmp_path, mock_survey, not_ours):
    """A .survey.lock of another user's killed survey in a shared --out, which this user may not
    open, was taken for a disk without locks: the survey warned 'does not support file locks' and
    ran unlocked. It now stops before writing anything, naming the lock file and what to do."""
    out = tmp_path / "out"
    out.mkdir()
    lock = out / filenames.SURVEY_LOCK_FILE
    lock.write_text("process 12 on node3, since long ago")
    not_ours(lock)
    with mock.patch.object(runner, "check_template"), mock.patch.object(runner, "dask_client") as client, \
            warnings.catch_warnings(record=True) as caught, pytest.raises(TinyLensError) as error:
        warnings.simplefilter("always")
        runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, progress=False)
    told = " ".join(str(error.value).split())
    assert told.startswith(f"The lock file {lock} (owned by ") and "cannot be opened (Permission denied)" in told, told
    assert f"remove {lock} (or ask its owner to) and run the same command (or run_survey call) again" in told, told
    assert not [w for w in caught if w.category is DataWarning], [str(w.message) for w in caught]
    assert not client.called and sorted(p.name for p in out.iterdir()) == [filenames.SURVEY_LOCK_FILE]


def test_a_folder_named_as_the_survey_lock_is_named_not_warned_as_no_locks(tmp_path, mock_survey):
    """A folder named .survey.lock in --out was taken for a disk without locks: the survey warned
    'does not support file locks' and ran unlocked. It now stops before writing anything, naming
    the folder and what to do."""
    out = tmp_path / "out"
    (out / filenames.SURVEY_LOCK_FILE).mkdir(parents=True)
    with mock.patch.object(runner, "check_template"), mock.patch.object(runner, "dask_client") as client, \
            warnings.catch_warnings(record=True) as caught, pytest.raises(TinyLensError) as error:
        warnings.simplefilter("always")
        runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, progress=False)
    assert " ".join(str(error.value).split()) == (f"{out / filenames.SURVEY_LOCK_FILE} is a folder, where tinylens keeps "
                                                  f"the lock file that stops two processes writing {out} at once. "
                                                  "Remove or rename it, and run the same command (or run_survey "
                                                  "call) again.")
    assert not [w for w in caught if w.category is DataWarning], [str(w.message) for w in caught]
    assert not client.called and sorted(p.name for p in out.iterdir()) == [filenames.SURVEY_LOCK_FILE]


@pytest.mark.slow
def test_a_folder_named_as_a_lens_lock_fails_that_lens_and_the_survey_fits_the_others(tmp_path, mock_survey):
    """A folder named .lock in one lens's output folder: folder_lock's OutputError escaped the
    Dask task, which was run three times (its retries), each logging 'Compute Failed' with a
    traceback on the survey's stderr. That lens is now a failed row at once with the message
    naming the folder, the folder left as it was, the fit not started, and the other lens fitted.
    (A real survey of two mock lenses on one worker.)"""
    import subprocess
    import sys

    lenses = tmp_path / "lenses"
    lenses.mkdir()
    for name in ("lens_a", "lens_b"):
        (lenses / name).symlink_to(mock_survey["lenses"] / name, target_is_directory=True)
    out = tmp_path / "out"
    lock = out / "lenses" / "lens_a" / filenames.LENS_LOCK
    lock.mkdir(parents=True)
    src = str(Path(runner.__file__).resolve().parents[2])  # this checkout's src, whatever is installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-m", "tinylens", "survey", str(lenses), "--config", str(mock_survey["template"]),
                           "--out", str(out), "--workers", "1", "-q"], env=env, capture_output=True, text=True, timeout=400)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "Traceback" not in said and "Compute Failed" not in said, said
    rows = survey_rows.read_rows(out)
    assert rows["lens_a"] == {"lens_id": "lens_a", "status": "failed", "reason": survey_rows.describe_exception(OutputError(
        f"{lock} is a folder, where tinylens keeps the lock file that stops two processes writing {lock.parent} at "
        "once. Remove or rename it, and run the same command (or run_survey call) again."))}
    # (the reason cut at MAX_REASON as every reason is)
    assert rows["lens_b"]["status"] == "ok"
    assert pd.read_csv(out / "catalog.csv")["status"].tolist() == ["failed", "ok"]
    assert lock.is_dir() and not any(lock.iterdir()) and attempts.attempts(lock.parent) == 0  # no fit started


def test_a_lens_fit_lock_refusal_tells_the_user_to_run_the_survey_again(tmp_path, mock_survey):
    """A folder named .fit.lock in a lens's output folder: tinylens.fit's refusal, recorded as the
    lens's failed row, said 'run the same command (or tinylens.fit call) again', a call the survey's
    user never made. It now names the survey's command (or run_survey call); a plain tinylens.fit
    called afterwards in the same thread still names its own."""
    import tinylens
    from tinylens.errors import FIT_RERUN, SURVEY_RERUN

    folder = tmp_path / "out" / "lenses" / "lens_a"
    lock = folder / filenames.FIT_LOCK
    lock.mkdir(parents=True)
    lens = discovery.Lens("lens_a", mock_survey["lenses"] / "lens_a")
    config = survey_template.lens_config(survey_template.load_template(mock_survey["template"]), lens, tmp_path / "out")
    row = task.fit_lens("lens_a", config, str(folder))
    assert row["status"] == "failed", row
    assert row["reason"].startswith(f"{lock} is a folder, where tinylens keeps the lock file"), row
    assert row["reason"].endswith(f"Remove or rename it, and run {SURVEY_RERUN} again."), row
    assert "tinylens.fit call" not in row["reason"], row
    alone = tmp_path / "alone"
    (alone / filenames.FIT_LOCK).mkdir(parents=True)
    with pytest.raises(OutputError) as plain:
        tinylens.fit(config, progress=False, output=alone)
    assert " ".join(str(plain.value).split()).endswith(f"Remove or rename it, and run {FIT_RERUN} again.")


def test_a_lens_folder_another_fit_writes_tells_the_survey_user_to_choose_another_out(tmp_path, mock_survey):
    """A lens's output folder that another tinylens fit is writing (its .fit.lock held): tinylens.fit's
    refusal, recorded as the lens's failed row, told the survey's user to 'choose another output.path in
    the config (or --output; tinylens.fit: output=)', none of which sets a survey's lens folders. It now
    names the survey's --out (run_survey: out=); a plain tinylens.fit called afterwards in the same
    thread still names its own output.path."""
    import tinylens
    from tinylens.errors import OUTPUT_FOLDER_CHOICE, SURVEY_FOLDER_CHOICE
    from tinylens.locks import folder_lock

    folder = tmp_path / "out" / "lenses" / "lens_a"
    folder.mkdir(parents=True)
    lens = discovery.Lens("lens_a", mock_survey["lenses"] / "lens_a")
    config = survey_template.lens_config(survey_template.load_template(mock_survey["template"]), lens, tmp_path / "out")
    with folder_lock(folder, filenames.FIT_LOCK, busy="{holder}"):  # the other fit, still writing
        row = task.fit_lens("lens_a", config, str(folder))
    assert row["status"] == "failed", row
    reason = " ".join(row["reason"].split())
    assert reason.startswith("Output folder "), row  # (its middle, the paths, may be cut at MAX_REASON)
    assert reason.endswith(f"Wait for it to finish, or choose another {SURVEY_FOLDER_CHOICE}."), row
    assert "output.path" not in reason and "tinylens.fit: output=" not in reason, row
    assert not (folder / "result.json").exists()
    alone = tmp_path / "alone"
    alone.mkdir()
    with folder_lock(alone, filenames.FIT_LOCK, busy="{holder}"), pytest.raises(OutputError) as plain:
        tinylens.fit(config, progress=False, output=alone)
    assert " ".join(str(plain.value).split()).endswith(f"or choose another {OUTPUT_FOLDER_CHOICE}.")


def test_another_users_lens_lock_fails_that_lens_without_a_fit(tmp_path, mock_survey, not_ours):
    """A lens's .lock left by another user's killed survey, which this user may not open: the
    task raised folder_lock's OutputError, for Dask to retry in vain. The lens is now a failed
    row naming the lock file and what to do, written and returned at once, the fit not started."""
    folder = tmp_path / "out" / "lenses" / "lens_a"
    folder.mkdir(parents=True)
    lock = folder / filenames.LENS_LOCK
    lock.write_text("process 12 on node3, since long ago")
    not_ours(lock)
    lens = discovery.Lens("lens_a", mock_survey["lenses"] / "lens_a")
    config = survey_template.lens_config(survey_template.load_template(mock_survey["template"]), lens, tmp_path / "out")
    row = task.fit_lens("lens_a", config, str(folder))
    assert row["status"] == "failed" and row["reason"].startswith(f"The lock file {lock} (owned by "), row
    with pytest.raises(OutputError) as refused, attempts.lens_lock(folder):
        pass
    assert "(or ask its owner to) and run the same command (or run_survey call) again" in str(refused.value)
    # the lock's own message, on one line (cut at MAX_REASON: it names the path three times)
    assert row["reason"] == survey_rows.describe_exception(refused.value), row
    assert survey_rows.read_row(folder / "row.json", "lens_a") == row
    assert lock.read_text() == "process 12 on node3, since long ago" and attempts.attempts(folder) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted([filenames.LENS_LOCK, "row.json"])  # no fit's files


def test_survey_in_which_every_lens_failed_exits_non_zero(tmp_path, mock_survey):
    """Some failures are normal (exit 0); none ok must not read as success to a batch script."""
    lenses = tmp_path / "lenses"
    lenses.mkdir()
    (lenses / "lens_bad").symlink_to(mock_survey["lenses"] / "lens_bad", target_is_directory=True)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["survey", str(lenses), "-c", str(mock_survey["template"]), "--out", str(out),
                                      "--workers", "1", "--quiet"])
    text = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "0 ok" in text and "1 failed" in text and "Every lens failed" in text and "lens_bad/image.fits" in text
    assert "Traceback" not in result.output
    catalog = pd.read_csv(out / "catalog.csv")
    assert catalog["status"].tolist() == ["failed"]  # the failure is still recorded
    # with the documented columns, so that filters written for a good survey still run on it
    assert {"trusted", "flags", "warnings", "log_evidence", "wall_time_s"} <= set(catalog.columns)
    assert pd.read_parquet(out / "catalog.parquet")["trusted"].isna().all()


def test_fit_lens_waits_for_a_running_fit_of_the_same_lens_and_returns_its_row(tmp_path):
    """A task left running by a killed survey holds the lens's lock; the new task waits, then finds
    the lens done and returns that row instead of fitting it a second time."""
    folder = tmp_path / "lenses" / "lens_a"
    returned: list[dict] = []
    with attempts.lens_lock(folder):
        fitting = threading.Thread(target=lambda: returned.append(task.fit_lens("lens_a", {"not": "a config"}, str(folder))))
        fitting.start()
        fitting.join(0.5)
        assert fitting.is_alive() and not returned  # blocked on the lock
        (folder / "result.json").write_text(json.dumps(RESULT))
        survey_rows.write_row(folder, survey_rows.flat_row("lens_a", RESULT))
    fitting.join(10)
    assert returned == [survey_rows.flat_row("lens_a", RESULT)]


def test_fit_lens_of_a_lens_already_done_leaves_the_workers_precision_alone(tmp_path):
    """The task of a lens that another task (one of a killed survey) finished while this one
    waited for its lock fits nothing: it does not switch the worker to its survey's precision."""
    from oracle import x64
    from tinylens.precision import get_precision, set_precision

    folder = tmp_path / "lenses" / "lens_a"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(RESULT))
    survey_rows.write_row(folder, survey_rows.flat_row("lens_a", RESULT))
    before = get_precision()
    other = "float64" if before == "float32" else "float32"
    with x64():
        try:
            assert task.fit_lens("lens_a", {"not": "a config"}, str(folder), precision=other)["status"] == "ok"
            assert get_precision() == before
        finally:
            set_precision(before)


def test_fit_lens_turns_a_bad_lens_into_a_failed_row(tmp_path, mock_survey):
    template = survey_template.load_template(mock_survey["template"])
    lens = discovery.Lens("lens_bad", mock_survey["lenses"] / "lens_bad")
    folder = lens.output(tmp_path)
    folder.mkdir(parents=True)
    stray = folder / ".row.unfinished-k1ll3d00.json"  # a worker SIGKILLed while writing the row left it
    stray.write_text("{")
    row = task.fit_lens("lens_bad", survey_template.lens_config(template, lens, tmp_path), str(folder))
    assert row["status"] == "failed" and "lens_bad/image.fits" in row["reason"]
    assert survey_rows.read_row(folder / "row.json") == row and not stray.exists()


def test_tables_and_figures_of_a_fit_killed_while_writing_them_do_not_outlive_it(tmp_path, mock_survey):
    """A worker killed while a lens's outputs were written left its tables and figures but no
    result.json; when the lens then failed, they stayed beside its failed row looking like its
    result. A fit's outputs without a result.json are now removed; a finished fit's are kept."""
    template = survey_template.load_template(mock_survey["template"])
    lens = discovery.Lens("lens_bad", mock_survey["lenses"] / "lens_bad")
    folder = lens.output(tmp_path)
    folder.mkdir(parents=True)
    orphans = ["result_samples.csv", "result_summary.csv", "dataset_subplot.png", "model_results.png"]
    for name in orphans:
        (folder / name).write_text("of the killed fit")
    row = task.fit_lens("lens_bad", survey_template.lens_config(template, lens, tmp_path), str(folder))
    assert row["status"] == "failed" and survey_rows.read_row(folder / "row.json") == row
    assert [name for name in orphans if (folder / name).exists()] == []
    (folder / "result.json").write_text(json.dumps(RESULT))  # a finished fit's outputs stay
    for name in orphans:
        (folder / name).write_text("of the finished fit")
    resume.remove_orphan_outputs(folder, survey_template.lens_config(template, lens, tmp_path))
    assert all((folder / name).exists() for name in orphans)


def test_fit_lens_releases_compiled_functions(tmp_path, mock_survey):
    """A worker drops JAX's compiled code after each lens: kept, ~2,700 memory maps per lens
    reach the kernel's 65,530 after about 20 lenses and the worker dies."""
    import jax
    import jax.numpy as jnp

    square = jax.jit(lambda x: x * x)
    square(jnp.ones(3))
    assert square._cache_size() == 1
    template = survey_template.load_template(mock_survey["template"])
    lens = discovery.Lens("lens_bad", mock_survey["lenses"] / "lens_bad")
    task.fit_lens("lens_bad", survey_template.lens_config(template, lens, tmp_path), str(lens.output(tmp_path)))
    assert square._cache_size() == 0


class _Future:
    """What run_survey reads of a Dask future."""

    def __init__(self, status: str, result=None, error: BaseException | None = None,
                 unfetched: BaseException | None = None) -> None:
        self.status, self._result, self._error, self._unfetched = status, result, error, unfetched

    def result(self):
        if self._unfetched is not None:  # the scheduler stopped answering before the value was fetched
            raise self._unfetched
        return self._result

    def exception(self):
        return self._error


def _task_row(future, lens, out):
    """runner._task_row of ``future``'s outcome, read as run_survey reads it."""
    return runner._task_row(runner._outcome(future, lens, out), lens, out)


def _refusal(future, lens, out):
    """runner._refusal of ``future``'s outcome, read as run_survey reads it."""
    return runner._refusal(runner._outcome(future, lens, out))


def test_task_outcomes_give_ok_failed_or_no_row(tmp_path):
    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    ok = survey_rows.flat_row("lens_a", RESULT)
    assert _task_row(_Future("finished", ok), lens, tmp_path) == ok
    # the scheduler went away: no row, the lens stays to do
    assert _task_row(_Future("cancelled"), lens, tmp_path) is None
    assert not (lens.output(tmp_path) / "row.json").exists()
    # an error after the retries (or KilledWorker): a failed row with the reason, written
    row = _task_row(_Future("error", error=MemoryError("out of memory")), lens, tmp_path)
    assert row == {"lens_id": "lens_a", "status": "failed", "reason": "MemoryError: out of memory"}
    assert survey_rows.read_row(lens.output(tmp_path) / "row.json") == row


def test_a_finished_task_whose_value_cannot_be_fetched_gives_the_row_its_worker_wrote(tmp_path):
    """A task that finished just as its scheduler was stopped (CI, stop 55: the lens before the one
    under which a test killed the scheduler) made run_survey end in distributed's CommClosedError
    traceback when it fetched the task's value. The row its worker wrote stands in for it; a lens
    with no row stays to be fitted (None), as one the cluster dropped."""
    from distributed.comm.core import CommClosedError

    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    reset = CommClosedError("in <TCP (closed) ConnectionPool.gather>: ConnectionResetError: [Errno 104]")
    assert _task_row(_Future("finished", unfetched=reset), lens, tmp_path) is None
    assert _refusal(_Future("finished", unfetched=reset), lens, tmp_path) is None
    ok = survey_rows.flat_row("lens_a", RESULT)
    survey_rows.write_row(lens.output(tmp_path), ok)
    assert _task_row(_Future("finished", unfetched=reset), lens, tmp_path) == ok
    assert _task_row(_Future("finished", unfetched=ConnectionRefusedError(111, "refused")), lens, tmp_path) == ok
    assert _refusal(_Future("finished", unfetched=reset), lens, tmp_path) is None  # an ok row refuses nothing
    other = tmp_path / "in" / "lens_b"
    assert _task_row(_Future("finished", unfetched=reset), discovery.Lens("lens_b", other), tmp_path) is None


class _CancelledOnRead(_Future):
    """A future the client cancels (as it does every one when it loses its scheduler) just after
    its status was read as ``finished`` or ``error``."""

    def result(self):
        from distributed.client import FutureCancelledError

        raise FutureCancelledError("checked_task-1", "scheduler-connection-lost")

    def exception(self):
        return None  # distributed's Future.exception() of a cancelled future


def test_a_task_cancelled_just_after_its_status_was_read_is_its_workers_row_or_left_to_fit(tmp_path):
    """The client cancels every future when it loses the scheduler, finished ones too; one whose
    status was read as finished just before made future.result() raise FutureCancelledError (not
    an OSError) out of run_survey as a traceback, and one read as an error was written as a failed
    row whose reason was 'NoneType: None'. The row the worker wrote stands in for a finished one; else the
    lens stays to be fitted (None), as one the cluster dropped."""
    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    assert _task_row(_CancelledOnRead("finished"), lens, tmp_path) is None
    assert _refusal(_CancelledOnRead("finished"), lens, tmp_path) is None
    assert _task_row(_CancelledOnRead("error"), lens, tmp_path) is None
    assert not (lens.output(tmp_path) / "row.json").exists()  # no failed row written
    ok = survey_rows.flat_row("lens_a", RESULT)
    survey_rows.write_row(lens.output(tmp_path), ok)
    assert _task_row(_CancelledOnRead("finished"), lens, tmp_path) == ok


def test_a_cancelled_task_whose_worker_wrote_its_row_is_fitted_where_the_resume_would_keep_it(tmp_path):
    """A task cancelled as the survey stopped (the no-worker watch cancels every one; the client does
    when it loses its scheduler) gave no row, so a lens whose worker had written its row.json before
    dying was said 'not fitted' and left out of the catalogue. Its row is now read back where the
    resume would keep it: this lens's row, an ok one with its result.json; else it stays to fit."""
    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    folder = lens.output(tmp_path)
    ok = survey_rows.flat_row("lens_a", RESULT)
    survey_rows.write_row(folder, ok)  # no result.json: the resume fits it again
    assert _task_row(_Future("cancelled"), lens, tmp_path) is None
    assert _task_row(_CancelledOnRead("error"), lens, tmp_path) is None
    (folder / "result.json").write_text("{}\n")
    assert _task_row(_Future("cancelled"), lens, tmp_path) == ok
    assert _task_row(_CancelledOnRead("error"), lens, tmp_path) == ok
    failed = {"lens_id": "lens_a", "status": "failed", "reason": "ValueError: bad"}
    survey_rows.write_row(folder, failed)
    assert _task_row(_Future("cancelled"), lens, tmp_path) == failed
    survey_rows.write_row(folder, {**ok, "lens_id": "lens_b"})  # another lens's row, copied here
    assert _task_row(_Future("cancelled"), lens, tmp_path) is None


def test_a_lens_whose_worker_wrote_its_row_is_in_the_catalogue_of_a_survey_stopped_by_ctrl_c(tmp_path, monkeypatch):
    """Ctrl-C while lens_held's worker had written its row and result.json but its value had not come
    back: the catalogue written at the stop left it out, and the hint counted it as not fitted. The
    rows of the tasks in flight are now read back at the stop. (An in-process cluster of two worker
    threads, fits faked; Ctrl-C raised once lens_b's task is back and lens_held's row is written.)"""
    from distributed import LocalCluster

    import survey_mocks

    monkeypatch.setattr(runner, "fit_lens", survey_mocks.fit_written_then_held)
    survey_mocks.WRITTEN_FITS_RELEASED.clear()
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in ("lens_held", "lens_b")]
    out = tmp_path / "out"
    out.mkdir()
    held_row = lenses[0].output(out) / "row.json"

    def ctrl_c_at_lens_b(outcome, lens, *args, **kwargs):
        assert lens.lens_id == "lens_b"  # lens_held's task never comes back
        deadline = time.monotonic() + 60
        while not held_row.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_task_row", ctrl_c_at_lens_b)
    try:
        with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
            with pytest.raises(KeyboardInterrupt):
                runner._fit_lenses(lenses, {}, {}, out, [], 1, cluster.scheduler_address, False)
            survey_mocks.WRITTEN_FITS_RELEASED.set()
    finally:
        survey_mocks.WRITTEN_FITS_RELEASED.set()
    catalog = pd.read_parquet(out / "catalog.parquet")
    # lens_b too: its task back and its ok row written, the Ctrl-C came as the survey took it back
    assert list(catalog["lens_id"]) == ["lens_b", "lens_held"]
    assert list(catalog["status"]) == ["ok", "ok"]


def _lens_a_with_a_checkpoint(mock_survey, tmp_path):
    """The mock survey's template and lens_a, its output folder under ``tmp_path`` made, holding a
    sampler's checkpoint file of text 'whole'."""
    template = survey_template.load_template(mock_survey["template"])
    lens = discovery.Lens("lens_a", mock_survey["lenses"] / "lens_a")
    folder = lens.output(tmp_path)
    folder.mkdir(parents=True)
    checkpoint = folder / filenames.checkpoint_names()[0]
    checkpoint.write_text("whole")
    return template, lens, folder, checkpoint


def test_a_full_disk_leaves_no_failed_row_that_a_rerun_would_keep(tmp_path, mock_survey, monkeypatch):
    """A fit that found the disk full (its OutputError: 'free some space and run the fit again to
    resume it') was written as the lens's failed row when that small file still fitted, so that
    every lens fitted as the disk filled stayed failed when the survey was run again after space
    was freed (only --retry-failed, which also retries the broken lenses, fitted them). The task
    now raises the disk's OSError, with no row and the checkpoints kept, and the survey stops on it
    (unwritable_reported) rather than writing a failed row; a lens's own error is still a row."""
    import errno

    import tinylens
    from tinylens.fitting.folder import disk_full_reported

    template, lens, folder, checkpoint = _lens_a_with_a_checkpoint(mock_survey, tmp_path)

    def fit_on_a_full_disk(config, **kwargs):
        with disk_full_reported(folder):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "model_results.png"))

    monkeypatch.setattr(tinylens, "fit", fit_on_a_full_disk)
    with pytest.raises(OSError) as raised:
        task.fit_lens("lens_a", survey_template.lens_config(template, lens, tmp_path), str(folder))
    assert raised.value.errno == errno.ENOSPC
    assert not (folder / "row.json").exists() and checkpoint.read_text() == "whole"
    # the task's error after its retries: the survey stops, no failed row
    with pytest.raises(OSError):
        _task_row(_Future("error", error=raised.value), lens, tmp_path)
    assert not (folder / "row.json").exists()
    assert resume.plan([lens], survey_rows.read_rows(tmp_path), tmp_path) == [lens]  # fitted by the next run

    def fit_of_a_bad_lens(config, **kwargs):
        raise tinylens.errors.DataError("image.fits is not FITS")

    monkeypatch.setattr(tinylens, "fit", fit_of_a_bad_lens)
    row = task.fit_lens("lens_a", survey_template.lens_config(template, lens, tmp_path), str(folder))
    assert row["status"] == "failed" and survey_rows.read_row(folder / "row.json") == row


class _Records(logging.Handler):
    """The records a logger passes on (after its filters)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= logging.ERROR]


@contextlib.contextmanager
def _scheduler_records() -> Iterator[_Records]:
    handler = _Records()
    logger = logging.getLogger(deaths.SCHEDULER_LOGGER)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_a_lens_that_kills_its_worker_fails_alone(tmp_path, monkeypatch, capsys):
    """Dask counts a worker's death against every task the worker held, the lenses queued there
    behind the one it was fitting too: those are submitted again instead of being recorded as
    KilledWorker failures, and the survey says so instead of the scheduler's ERROR line 'Task ...
    marked as failed because 1 workers died', which made a survey that lost nothing look failed;
    the line of the lens that failed for good is still shown. (One worker, no death allowed: ~10 s.)"""
    import dask
    from distributed import LocalCluster

    from survey_mocks import fit_or_kill_worker

    monkeypatch.setattr(runner, "fit_lens", fit_or_kill_worker)
    names = ["lens_kill", "lens_next", "lens_last"]
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in names]
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            _scheduler_records() as seen:
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, cluster.scheduler_address, False)
    assert list(frame["lens_id"]) == sorted(names)
    status = dict(zip(frame["lens_id"], frame["status"]))
    assert status == {"lens_kill": "failed", "lens_next": "ok", "lens_last": "ok"}
    reason = frame.set_index("lens_id").loc["lens_kill", "reason"]
    assert reason.startswith("KilledWorker")
    assert attempts.attempts(lenses[0].output(tmp_path)) == 1  # killed once: not submitted again
    # the scheduler's ERROR line for the lens that failed for good only
    assert len(seen.errors()) == 1 and "marked as failed because 1 workers died" in seen.errors()[0], seen.errors()
    assert deaths.KilledWorkerLines.task_of(next(r for r in seen.records if r.levelno >= logging.ERROR)) in reason
    err = " ".join(capsys.readouterr().err.split())
    assert "lens_next: the Dask worker holding it died before its fit started" in err, err  # 1 death allowed
    assert "it is fitted again (resubmission 1 of at most 3)" in err and "lens_kill:" not in err, err
    assert deaths.SCHEDULER_LOGGER not in err  # the filter is gone with the survey
    assert not logging.getLogger(deaths.SCHEDULER_LOGGER).filters


def test_a_lens_whose_worker_is_killed_mid_fit_is_said_to_be_fitted_again(tmp_path, monkeypatch, capsys):
    """A worker killed (kill -9, a node lost) while fitting a lens: Dask gave the task to another
    worker, which fitted the lens again, and the survey said nothing, its user left to wonder at a
    lens fitted twice or at time lost. It now says so as the worker goes, naming the lens, the
    worker, and whether its checkpoint is resumed; the lenses finish as before, and the last death is
    said before the survey ends. (A local cluster of one worker process, which its nanny starts
    again; fits faked: ~20 s.)"""
    from distributed import LocalCluster

    from survey_mocks import fit_killing_its_first_worker

    monkeypatch.setattr(runner, "fit_lens", fit_killing_its_first_worker)
    # Each death's note asks for the nanny's memory event again after this wait, which outlasted the
    # survey after the last death: its note was dropped, at random in CI with the wait of 1 s.
    monkeypatch.setattr(deaths, "MEMORY_EVENT_WAIT", 4.0)
    names = ["lens_once", "lens_once_checkpointed", "lens_plain"]
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in names]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, cluster.scheduler_address, False)
    assert dict(zip(frame["lens_id"], frame["status"])) == dict.fromkeys(names, "ok")
    assert [attempts.attempts(lens.output(tmp_path)) for lens in lenses] == [2, 2, 1]
    err = " ".join(capsys.readouterr().err.split())
    said = r"the Dask worker fitting it \(tcp://[^)]+\) left the cluster \(killed, or its job ended\?\); Dask gives it to " \
           r"another worker, which fits it again, "
    assert re.search(rf"lens_once: {said}from the beginning \(it had written no checkpoint yet\)\.", err), err
    assert re.search(rf"lens_once_checkpointed: {said}resuming the checkpoint it had written\.", err), err
    assert "lens_plain:" not in err and "KilledWorker" not in err, err


def test_a_death_after_a_retried_fit_is_said_as_dask_counts_deaths_per_task(tmp_path, monkeypatch, capsys):
    """Dask allows a task allowed-failures deaths of its workers, counted per task, and a fit that raised
    and was retried (Dask's retries) is no death; the survey counted the fits started since the lens's
    first submission instead (across its resubmissions too), so with one death allowed, a fit that
    raised then a fit whose worker died read as two deaths, past the one allowed: the death went unsaid
    though Dask gave the lens to another worker, which fitted it again. The deaths are now counted per
    task from the scheduler's events: this one is said. (A local cluster of one worker process,
    which its nanny starts again; fits faked: ~15 s.)"""
    import dask
    from distributed import LocalCluster

    from survey_mocks import fit_raising_then_killing_its_worker

    monkeypatch.setattr(runner, "fit_lens", fit_raising_then_killing_its_worker)
    names = ["lens_flaky", "lens_plain"]
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in names]
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, cluster.scheduler_address, False)
    assert dict(zip(frame["lens_id"], frame["status"])) == dict.fromkeys(names, "ok")
    assert [attempts.attempts(lens.output(tmp_path)) for lens in lenses] == [3, 1]
    err = " ".join(capsys.readouterr().err.split())
    assert re.search(r"lens_flaky: the Dask worker fitting it \(tcp://[^)]+\) left the cluster \(killed, or its job "
                     r"ended\?\); Dask gives it to another worker, which fits it again, from the beginning", err), err
    assert "lens_plain:" not in err and "KilledWorker" not in err, err


def test_a_lens_killed_while_waiting_is_resubmitted_though_its_retried_fits_passed_the_deaths_allowed(
        tmp_path, monkeypatch, capsys):
    """With 3 deaths allowed, a lens whose worker died twice while it waited behind another lens, whose
    fit then raised twice (Dask's retries, no death) and whose next two fits' workers died, was failed
    for good (KilledWorker): the survey counted the 4 fits started since its submission against the 3
    deaths allowed, though only 2 of the 4 deaths Dask counted stopped a fit of it. The deaths that
    stopped a fit are now counted per task from the scheduler's events, as Dask counts them: the lens
    is submitted again, said with those 2, and fitted. (A local cluster of one worker process, which
    its nanny starts again 4 times; fits faked: ~30 s.)"""
    import dask
    from distributed import LocalCluster

    from survey_mocks import fit_raising_and_killing_behind_a_killer

    monkeypatch.setattr(runner, "fit_lens", fit_raising_and_killing_behind_a_killer)
    names = ["lens_killer", "lens_flaky"]  # submitted in this order: the flaky lens waits behind the killer
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in names]
    with dask.config.set({"distributed.scheduler.allowed-failures": 3}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, cluster.scheduler_address, False)
    assert dict(zip(frame["lens_id"], frame["status"])) == dict.fromkeys(names, "ok"), frame.to_dict("records")
    assert [attempts.attempts(lens.output(tmp_path)) for lens in lenses] == [3, 5]
    err = " ".join(capsys.readouterr().err.split())
    assert ("lens_flaky: the 4 Dask workers holding it died while fitting it 2 times, at most as often as Dask "
            "allows, and Dask gave up on its task (KilledWorker); nothing is lost: it is fitted again "
            "(resubmission 1 of at most 3).") in err, err
    assert err.count("Dask gave up on its task") == 1, err  # the killer's 2 deaths were within those allowed


def test_a_worker_that_held_a_retried_lens_queued_behind_the_fit_that_killed_it_is_not_said_to_fit_it(
        tmp_path, monkeypatch, capsys):
    """A lens whose fit raised on a worker (Dask retries its task) and whose retry waited on that
    same worker behind another lens, whose fit then killed the worker: the survey said 'lens_retried:
    the Dask worker fitting it (...) left the cluster', blaming the death (an out-of-memory one
    too) on a lens that was not running there, as its earlier fit on that worker had not been said.
    A death is now said of a fit of the task it held only where the fits that raised (the scheduler's
    count) leave it running: the killer's is said, the retried lens's not; both lenses are fitted.
    (A local cluster of one worker process, which its nanny starts again; fits faked: ~15 s.)"""
    from distributed import LocalCluster

    from survey_mocks import fit_raising_once_before_a_killer

    monkeypatch.setattr(runner, "fit_lens", fit_raising_once_before_a_killer)
    monkeypatch.setattr(deaths, "MEMORY_EVENT_WAIT", 4.0)  # the last death's note said before the survey ends
    names = ["lens_retried", "lens_killer"]  # submitted in this order: the killer waits behind the retried lens
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in names]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, cluster.scheduler_address, False)
    assert dict(zip(frame["lens_id"], frame["status"])) == dict.fromkeys(names, "ok"), frame.to_dict("records")
    workers = [attempts.attempt_workers(lens.output(tmp_path)) for lens in lenses]
    assert len(workers[0]) == 2 and len(workers[1]) == 2, workers
    assert workers[0][0] == workers[1][0], workers  # the raise and the kill on the one worker
    err = " ".join(capsys.readouterr().err.split())
    assert re.search(r"lens_killer: the Dask worker fitting it \(tcp://[^)]+\) left the cluster", err), err
    assert "lens_retried:" not in err, err


def test_the_deaths_that_stopped_a_fit_are_counted_per_task_and_per_worker():
    from types import SimpleNamespace

    from distributed import KilledWorker

    def killed(last: str) -> _Future:  # last_worker: the scheduler's WorkerState, of which its address is read
        return _Future("error", error=KilledWorker("fit_lens-1", SimpleNamespace(address=last), 3))

    # two fits raised on w1 and a third was stopped there; w2 stopped one; w3 and w4 held it queued
    assert deaths.fits_killed(killed("w4"), ["w1", "w1", "w1", "w2"], ["w1", "w2", "w3"], 3) == 2
    # two fits raised on w2 and the retry waited there behind another lens when w2 died: no fit stopped
    assert deaths.fits_killed(killed("w4"), ["w2", "w2", "w3", "w4"], ["w1", "w2", "w3"], 3, raised=2) == 2
    # the last death's event not come yet: its worker is the KilledWorker's
    assert deaths.fits_killed(killed("w2"), ["w1", "w2"], ["w1", "w3", "w4"], 3) == 2
    # one address that died twice (a worker restarted on a fixed port) with one fit started there
    assert deaths.fits_killed(killed("w1"), ["w1"], ["w1", "w1", "w2"], 3) == 1
    # every death stopped a fit: the lens's own doing
    assert deaths.fits_killed(killed("w4"), ["w1", "w2", "w3", "w4"], ["w1", "w2", "w3"], 3) == 4
    # fits whose line names no worker count as stopped, at most one per death
    assert deaths.fits_killed(killed("w4"), ["", "", "", "", ""], ["w1", "w2", "w3"], 3) == 4
    # no events from the scheduler: each fit since the task's submission counts
    assert deaths.fits_killed(killed("w4"), ["w1", "w9"], [], 3) == 2
    assert deaths.fits_killed(killed("w4"), ["w1", "w9", "w9"], [], 3, raised=2) == 1
    assert deaths.fits_killed(_Future("error", error=MemoryError("x")), ["w1"], [], 0) == 1


#: The calls of :func:`_raising_once` (an in-process cluster's task: this process's objects).
_RAISED: dict[str, int] = {}


def _raising_once(name: str) -> str:
    """A task that raises on its first run only (Dask's retries run it again)."""
    _RAISED[name] = _RAISED.get(name, 0) + 1
    if _RAISED[name] == 1:
        raise RuntimeError("a passing fault")
    return name


def test_the_scheduler_asked_about_a_task_and_not_answering_holds_the_survey_no_longer_than_a_connect_timeout(
        monkeypatch):
    """The survey asks the scheduler how many of a task's fits raised (as a lens's task comes back
    KilledWorker, in the loop that takes every task back) and how many deaths it allows (as it
    starts), with no deadline: a scheduler that took the call and never answered it held the survey
    for good (still waiting after 90 s, measured). Each call is now given CONNECT_TIMEOUT, then
    answered as where the scheduler cannot be asked (no fit raised; this process's allowed-failures);
    a scheduler that answers is still read (one retry of a task counted)."""
    import asyncio

    import dask
    from distributed import Client, LocalCluster

    monkeypatch.setattr(survey_cluster, "CONNECT_TIMEOUT", "1s")
    with dask.config.set({"distributed.scheduler.allowed-failures": 2}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        future = client.submit(_raising_once, "a", pure=False, retries=deaths.RETRIES)
        assert future.result() == "a" and _RAISED["a"] == 2
        assert deaths.task_raises(client, future.key) == 1  # an answering scheduler: its count
        with dask.config.set({"distributed.scheduler.allowed-failures": 5}):
            assert deaths._allowed_failures(client) == 2  # the scheduler's, not this process's

        async def never(*args: Any, **kwargs: Any) -> None:  # a call taken, never answered
            await asyncio.sleep(3600)

        monkeypatch.setitem(cluster.scheduler.handlers, "run_function", never)
        answers: dict[str, int] = {}

        def ask() -> None:
            answers["raises"] = deaths.task_raises(client, future.key)
            with dask.config.set({"distributed.scheduler.allowed-failures": 5}):
                answers["allowed"] = deaths._allowed_failures(client)

        asking = threading.Thread(target=ask, daemon=True)
        asking.start()
        asking.join(60)  # ~2 s: 1 s each
        assert not asking.is_alive(), "the survey still waits for the scheduler's answer"
        assert answers == {"raises": 0, "allowed": 5}


#: The hooks of :func:`_fit_racing_a_removal` (an in-process cluster's task: this process's objects).
_RACE: dict[str, Any] = {}


def _fit_racing_a_removal(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                          precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` that hands the survey's event handler a worker's removal
    naming its own task, in a thread of its own, and returns its ``ok`` row once that handler is
    between reading the event's tasks and reading ``expected`` (:class:`_RacingRemoval`)."""
    from distributed.worker import thread_state

    folder = Path(lens_out)
    folder.mkdir(parents=True, exist_ok=True)
    event = (0.0, _RacingRemoval(str(thread_state.key)))

    def handle() -> None:
        try:
            _RACE["handler"](event)
        except Exception as exc:  # noqa: BLE001 - what the client's loop would log as a traceback
            _RACE["errors"].append(exc)

    _RACE["thread"] = threading.Thread(target=handle, daemon=True)
    _RACE["thread"].start()
    assert _RACE["released"].wait(60)
    row = {"lens_id": lens_id, "status": "ok", "reason": ""}
    survey_rows.write_row(folder, row)
    return row


class _RacingRemoval(dict):
    """A scheduler's remove-worker event for the task ``key`` whose ``expected`` is read only once
    the task came back to the survey's main thread: as an event sent just after the task's result."""

    def __init__(self, key: str) -> None:
        super().__init__({"action": "remove-worker", "processing-tasks": {key}, "worker": "tcp://10.0.0.9:4000"})

    def get(self, name: str, default: Any = None) -> Any:
        if name == "expected":
            _RACE["released"].set()  # the fit returns, the main thread takes its task back
            assert _RACE["popped"].wait(60)
            return False
        return super().get(name, default)


def test_a_removal_event_racing_its_task_result_raises_nothing_on_the_client_loop(tmp_path, monkeypatch):
    """The survey's handler of the scheduler's remove-worker events (on the client's event loop)
    picked the event's tasks still in flight, then looked each up again (keyed[key]); the main thread
    takes a task back as its result comes, and a task Dask failed for its worker's death sends its
    result just before that event: between the two looks the lookup raised KeyError, which
    distributed logs with a traceback. The handler now reads and counts under the lock the main
    thread takes a task back with. (An in-process cluster, the fit faked; the race made certain.)"""
    from distributed import LocalCluster

    handlers = []
    opened = deaths.Subscription.open

    def open_(self):
        handlers.append(self)
        return opened(self)

    counted = attempts.attempt_lines

    def attempt_lines(folder):  # the main thread's first look after it popped the task it took back
        if _RACE["released"].is_set() and threading.current_thread() is threading.main_thread():
            _RACE["popped"].set()
        return counted(folder)

    _RACE.update(released=threading.Event(), popped=threading.Event(), errors=[],
                 handler=lambda event: handlers[0](event))
    monkeypatch.setattr(deaths.Subscription, "open", open_)
    monkeypatch.setattr(attempts, "attempt_lines", attempt_lines)
    monkeypatch.setattr(runner, "fit_lens", _fit_racing_a_removal)
    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        frame = runner._fit_lenses([lens], {}, {}, tmp_path, [], 1, cluster.scheduler_address, False)
    _RACE["thread"].join(60)
    assert list(frame["status"]) == ["ok"] and _RACE["popped"].is_set()
    assert _RACE["errors"] == [], _RACE["errors"]


def test_a_lens_whose_worker_runs_out_of_memory_fails_saying_so(tmp_path, monkeypatch):
    """A worker that Dask's nanny stopped for going over its memory limit left the lens the reason
    'KilledWorker: Attempted to run task ... Inspecting worker logs is often a good next step',
    while the survey's local cluster kept those logs silent: nothing said memory. The reason now
    says the worker ran out of memory at how much, and to use fewer --workers (a local cluster)
    or give the workers more memory (another). (One worker of 1.2 GB, no death allowed: ~10 s.)"""
    import dask
    import distributed.system

    from survey_mocks import fit_or_use_too_much_memory

    monkeypatch.setattr(runner, "fit_lens", fit_or_use_too_much_memory)
    monkeypatch.setattr(distributed.system, "MEMORY_LIMIT", int(1.2e9))  # the machine's, as Dask reads it
    names = ["lens_big", "lens_small"]
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in names]
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False)
    status = dict(zip(frame["lens_id"], frame["status"]))
    assert status == {"lens_big": "failed", "lens_small": "ok"}
    reason = frame.set_index("lens_id").loc["lens_big", "reason"]
    assert reason.startswith("Out of memory (KilledWorker): Dask stopped the worker fitting it at 1."), reason
    assert "GB, over its memory limit, and gave up after 1 worker died on it; run the survey with fewer --workers" in reason


def test_a_lens_whose_worker_runs_out_of_memory_is_said_to_be_refitted_for_its_memory(tmp_path, monkeypatch, capsys):
    """A worker that Dask's nanny stopped for going over its memory limit, with a death left to
    allow: the survey said 'the Dask worker fitting it (...) left the cluster (killed, or its job
    ended?)', a guess that sent the user to the batch system, though the nanny had said why. It now
    says at how much memory Dask stopped it; the lens fails out of memory at the next death as
    before. (One worker of 1.2 GB, one death allowed: ~15 s.)"""
    import dask
    import distributed.system

    from survey_mocks import fit_or_use_too_much_memory

    monkeypatch.setattr(runner, "fit_lens", fit_or_use_too_much_memory)
    monkeypatch.setattr(distributed.system, "MEMORY_LIMIT", int(1.2e9))  # the machine's, as Dask reads it
    lenses = [discovery.Lens("lens_big", tmp_path / "in" / "lens_big")]
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False)
    assert frame["status"].tolist() == ["failed"]
    assert frame["reason"][0].startswith("Out of memory (KilledWorker)"), frame["reason"][0]
    err = " ".join(capsys.readouterr().err.split())
    assert re.search(r"lens_big: the Dask worker fitting it \(tcp://[^)]+\) was stopped by Dask at 1\.\d GB, over its "
                     r"memory limit; Dask gives it to another worker, which fits it again, from the beginning", err), err
    assert "killed, or its job ended" not in err, err


def test_only_a_worker_stopped_for_its_memory_makes_an_out_of_memory_reason():
    from distributed import KilledWorker

    killed = KilledWorker("fit_lens-1", "tcp://w:1", 3)
    restarts = {"tcp://w:1": int(7.26e9)}
    reason = deaths.out_of_memory_reason(killed, restarts, local=False)
    assert reason.startswith("Out of memory (KilledWorker): Dask stopped the worker fitting it at 7.3 GB"), reason
    assert "after 4 workers died on it; give the Dask workers more memory each (dask worker --memory-limit" in reason
    assert len(reason) <= survey_rows.MAX_REASON
    assert deaths.out_of_memory_reason(killed, {"tcp://other:1": 1}, local=True) is None  # killed otherwise
    assert deaths.out_of_memory_reason(MemoryError("x"), restarts, local=True) is None


def test_the_scheduler_line_of_a_resubmitted_task_is_dropped_and_every_other_shown():
    """KilledWorkerLines, with records as the scheduler logs them: the line of a survey task is held
    until the survey settles the task (whichever comes first), dropped if its lens is submitted
    again, shown otherwise; other tasks' lines and other errors pass at once; lines of unsettled
    tasks are shown when the survey ends, and the filter is gone after it."""
    scheduler = logging.getLogger(deaths.SCHEDULER_LOGGER)

    def died(key: str) -> None:
        scheduler.error(deaths.KILLED_WORKER_LOG, key, 1)

    def line(key: str) -> str:
        return deaths.KILLED_WORKER_LOG % (key, 1)

    with _scheduler_records() as seen:
        with deaths.killed_worker_lines() as lines:
            for key in ("fit_lens-a", "fit_lens-b", "fit_lens-d", "fit_lens-e", "fit_lens-f"):
                lines.watch(key)
            died("fit_lens-a")
            died("fit_lens-b")
            died("sum-c")  # not a survey task: at once
            scheduler.error("Couldn't gather keys: %s", {"x": "memory"})  # another error: at once
            assert seen.errors() == [line("sum-c"), "Couldn't gather keys: {'x': 'memory'}"]
            lines.settle("fit_lens-a", resubmitted=True)
            lines.settle("fit_lens-b", resubmitted=False)  # failed for good
            lines.settle("fit_lens-d", resubmitted=True)  # settled before its line came
            lines.settle("fit_lens-e", resubmitted=False)
            died("fit_lens-d")
            died("fit_lens-e")
            died("fit_lens-f")  # never settled (the survey stopped)
            assert seen.errors()[2:] == [line("fit_lens-b"), line("fit_lens-e")]
        assert seen.errors()[4:] == [line("fit_lens-f")]
        assert not scheduler.filters
        died("fit_lens-a")  # another survey's, later
        assert seen.errors()[5:] == [line("fit_lens-a")]
    assert deaths.resubmit_note("lens_x", 2, 1, 4) == (  # said 'the Dask worker(s)' whatever their number
        "lens_x: the 4 Dask workers holding it died while fitting it 2 times, at most as often as Dask allows, and "
        "Dask gave up on its task (KilledWorker); nothing is lost: it is fitted again (resubmission 1 of at most 3).")
    assert deaths.resubmit_note("lens_x", 0, 2, 1).startswith(
        "lens_x: the Dask worker holding it died before its fit started, and Dask gave up on its task (KilledWorker); "
        "nothing is lost: it is fitted again (resubmission 2 of at most 3).")


def test_only_a_task_killed_while_its_lens_was_not_fitted_is_submitted_again():
    from distributed import KilledWorker

    killed = _Future("error", error=KilledWorker("fit_lens-1", "tcp://w", 1))
    assert deaths.killed_while_waiting(killed, fits=0, allowed=0)
    assert deaths.killed_while_waiting(killed, fits=3, allowed=3)
    assert not deaths.killed_while_waiting(killed, fits=4, allowed=3)  # its own fits killed its workers
    assert not deaths.killed_while_waiting(_Future("error", error=MemoryError("out of memory")), fits=0, allowed=3)
    assert not deaths.killed_while_waiting(_Future("cancelled"), fits=0, allowed=3)


def test_progress_without_terminal_logs_plain_lines(capsys):
    times = itertools.chain([0.0], itertools.repeat(3600.0))
    with progress.SurveyProgress(3, [{"status": "failed"}], enabled=True, clock=lambda: next(times)) as bar:
        bar.update({"status": "ok"})  # an hour later: logged (LOG_SECONDS passed)
        bar.update({"status": "ok"})  # the last one: logged
    err = capsys.readouterr().err.splitlines()
    assert err == ["survey: 3 lenses, 1 already done, 2 to fit",
                   "survey: 2/3 done (1 ok, 1 failed), 1 left, 1 lenses/h, ETA 1h 00m",
                   "survey: 3/3 done (2 ok, 1 failed), 0 left, 2 lenses/h, ETA 0s"]


def test_a_survey_stopped_before_its_last_lens_logs_the_counts_it_stopped_at(capsys):
    """Without a terminal the last line came only with the last lens: a survey stopped before it
    (Ctrl-C, a batch system's time limit, tasks the cluster dropped) left its log with counts up to
    LOG_SECONDS old. It now ends with a line of the counts it stopped at; none where no lens was
    finished since the last line, and none twice after the last lens."""
    now = [0.0]
    with pytest.raises(KeyboardInterrupt):
        with progress.SurveyProgress(4, [{"status": "ok"}], enabled=True, clock=lambda: now[0]) as bar:
            now[0] = 1800.0
            bar.update({"status": "ok"})  # logged (LOG_SECONDS passed)
            now[0] = 1830.0
            bar.update({"status": "failed"})  # too soon after it
            raise KeyboardInterrupt
    assert capsys.readouterr().err.splitlines() == [
        "survey: 4 lenses, 1 already done, 3 to fit",
        "survey: 2/4 done (2 ok, 0 failed), 2 left, 2 lenses/h, ETA 1h 00m",
        "survey: 3/4 done (2 ok, 1 failed), 1 left, 3.93 lenses/h, ETA 15m 15s"]
    with progress.SurveyProgress(2, [], enabled=True, clock=lambda: now[0]) as bar:
        now[0] += 3600.0
        bar.update({"status": "ok"})
    with progress.SurveyProgress(2, [], enabled=True, clock=lambda: now[0]):
        pass
    assert capsys.readouterr().err.splitlines() == [
        "survey: 2 lenses, 0 already done, 2 to fit", "survey: 1/2 done (1 ok, 0 failed), 1 left, 1 lenses/h, ETA 1h 00m",
        "survey: 2 lenses, 0 already done, 2 to fit"]


def test_a_heartbeat_as_the_last_lens_finishes_is_not_logged_beside_its_line(capsys):
    """The heartbeat's thread decided whether a line was due outside the lock that update holds to
    print, so a heartbeat at the moment the last lens finished (between update reading the clock
    and marking its line printed) logged 'survey: 3/3 done ...; still fitting' beside the final
    line. The clock here runs the heartbeat in its own thread at that moment and waits a second
    for it: now it waits for update's line and then finds its own not due."""
    now, beat = [0.0], []

    def clock() -> float:
        if beat == ["armed"]:
            beat[0] = threading.Thread(target=bar.heartbeat)
            beat[0].start()
            beat[0].join(timeout=1.0)  # it finishes here where it is not held back by the lock
        return now[0]

    bar = progress.SurveyProgress(1, [], enabled=True, clock=clock)
    now[0] = progress.HEARTBEAT_SECONDS + progress.LOG_SECONDS
    beat.append("armed")
    bar.update({"status": "ok"})
    beat[0].join()
    rate = 3600 / now[0]  # one lens in that time
    assert capsys.readouterr().err.splitlines() == [f"survey: 1/1 done (1 ok, 0 failed), 0 left, {rate:.3g} lenses/h, ETA 0s"]


def test_heartbeat_logs_when_nothing_was_for_a_while(capsys):
    """A batch job's log shows the survey alive while its first lenses are fitted."""
    now = [0.0]
    with progress.SurveyProgress(21, [], enabled=True, clock=lambda: now[0]) as bar:
        now[0] = progress.HEARTBEAT_SECONDS - 1
        bar.heartbeat()  # too soon: nothing
        now[0] = progress.HEARTBEAT_SECONDS + 5
        bar.heartbeat()
        bar.heartbeat()  # just logged: nothing
        now[0] = progress.HEARTBEAT_SECONDS + progress.LOG_SECONDS + 10
        bar.update({"status": "ok"})  # a finished lens is logged as before
        now[0] += progress.HEARTBEAT_SECONDS - 1
        bar.heartbeat()  # within the interval since that line: nothing
    err = capsys.readouterr().err.splitlines()
    assert err == ["survey: 21 lenses, 0 already done, 21 to fit",
                   "survey: 0/21 done (0 ok, 0 failed), 21 left, 0 lenses/h, ETA unknown; still fitting, 10m 05s elapsed",
                   "survey: 1/21 done (1 ok, 0 failed), 20 left, 5.37 lenses/h, ETA 3h 43m"]


def test_a_lens_finished_soon_after_a_logged_line_is_logged_once_the_interval_has_passed(capsys):
    """Without a terminal, a lens that finished within LOG_SECONDS of the last line waited for the
    next lens's line (or the heartbeat's, ten minutes on): a batch log of 3 lenses said '1/3 done'
    for minutes with two finished. The heartbeat's thread now logs it once LOG_SECONDS have passed.
    No thread here: heartbeat is called as its thread calls it, on a clock the test sets."""
    now = [0.0]
    bar = progress.SurveyProgress(3, [], enabled=True, clock=lambda: now[0])
    now[0] = 1800.0
    bar.update({"status": "ok"})  # logged
    now[0] = 1830.0
    bar.update({"status": "ok"})  # too soon after it: held back
    bar.heartbeat()  # still too soon: nothing
    now[0] = 1800.0 + progress.LOG_SECONDS
    bar.heartbeat()  # logged now
    now[0] += 2 * progress.LOG_SECONDS
    bar.heartbeat()  # nothing new since: nothing
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2, err
    assert err[0] == "survey: 1/3 done (1 ok, 0 failed), 2 left, 2 lenses/h, ETA 1h 00m"
    assert err[1].startswith("survey: 2/3 done (2 ok, 0 failed), 1 left, "), err
    assert "still fitting" not in err[1], err


def test_heartbeat_thread_runs_while_the_survey_does_and_stops_with_it(capsys, monkeypatch):
    """The heartbeat's thread logs 'still fitting' every HEARTBEAT_SECONDS while the survey runs, and
    stops with it. (Read until two lines came, 60 s at most: a fixed 0.5 s wait for them failed
    where a loaded machine ran the thread late.)"""
    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.05)
    during = ""
    with progress.SurveyProgress(2, [], enabled=True) as bar:
        deadline = time.monotonic() + 60
        while during.count("still fitting") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            during += capsys.readouterr().err
    assert during.count("still fitting") >= 2, during
    assert not bar._beat.is_alive()
    capsys.readouterr()  # what it logged before the survey ended
    time.sleep(0.2)
    assert capsys.readouterr().err == ""


def test_local_cluster_quiet_when_another_survey_holds_the_http_port():
    """Two surveys on one node (e.g. two SLURM jobs): the second one's scheduler takes another
    port for its health-check HTTP server without printing a warning about it."""
    holder = socket.socket()
    try:
        holder.bind(("", 8787))
        holder.listen()
    except OSError:
        pass  # already held by something else: the situation under test all the same
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with survey_client.dask_client(workers=1) as client:
                assert client.submit(sum, [1, 2]).result() == 3
    finally:
        holder.close()
    assert not [w for w in caught if "already in use" in str(w.message)]


def test_catalogue_has_every_documented_column_whatever_its_rows_hold():
    """Rows recovered from result.json carry no warnings; failed rows no quality or statistics;
    an empty survey no rows: the columns are there all the same, in the documented order."""
    ok = {"lens_id": "a", "status": "ok", "reason": "", "trusted": True, "flags": "", "x_median": 1.5,
          "log_evidence": -3.0, "n_likelihood_evals": 100, "wall_time_s": 2.0}
    failed = survey_rows.failed_row("b", "broken FITS")
    for rows in ({"a": ok, "b": failed}, {"b": failed}, {}):
        frame = catalog.catalog_frame(rows)
        assert list(frame.columns[:6]) == ["lens_id", "status", "reason", "trusted", "flags", "critical_flags"]
        assert list(frame.columns[-5:]) == ["log_evidence", "n_likelihood_evals", "wall_time_s", "total_time_s",
                                            "warnings"]
        assert frame["total_time_s"].dtype == float  # a row without it (an older result.json) is NaN
        assert len(frame) == len(rows)
    frame = catalog.catalog_frame({"a": ok, "b": failed})
    assert frame["trusted"].tolist()[0] is True and frame["trusted"].isna().tolist() == [False, True]
    assert frame["warnings"].tolist() == ["", ""] and frame["x_median"].iloc[0] == 1.5


def test_an_unexpected_error_removes_every_checkpoint_before_the_retry(tmp_path, monkeypatch):
    """The sampler's checkpoint and the pipeline stages' state may be what broke the fit: both go,
    so that Dask's retry starts from scratch; the error is raised (for Dask to retry), no row written."""
    import tinylens

    folder = tmp_path / "lens_a"
    folder.mkdir()
    names = ("checkpoint.hdf5", "checkpoint.hdf5.fingerprint", "checkpoint.hdf5.template", "checkpoint_dynesty.pkl",
             "checkpoint_dynesty.pkl.fingerprint", "checkpoint_dynesty.pkl.template", "checkpoint.pipeline.json")
    assert set(filenames.checkpoint_names()) == set(names)

    def broken_fit(config, **kwargs):
        for name in names:
            (folder / name).write_text("half written")
        raise RuntimeError("an unforeseen failure")

    monkeypatch.setattr(tinylens, "fit", broken_fit)
    with pytest.raises(RuntimeError, match="unforeseen"):
        task.fit_lens("lens_a", {}, str(folder))
    assert not any((folder / name).exists() for name in names)
    assert not (folder / filenames.ROW).exists()


def _environment_errors(folder: Path, elsewhere: Path) -> dict[str, BaseException]:
    """Errors of a worker's environment that no checkpoint of the lens in ``folder`` can cause."""
    import errno

    from jax.errors import JaxRuntimeError

    return {
        "a worker's missing file": FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(elsewhere / "cache")),
        "an error of another file": OSError(errno.EIO, os.strerror(errno.EIO), str(elsewhere / "lib.so")),
        "no memory left": MemoryError(),
        "JAX out of memory": JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 1099511627776 bytes."),
        "a full disk": OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "checkpoint.hdf5")),
    }


def _checkpoint_errors(folder: Path) -> dict[str, BaseException]:
    """Errors that a damaged checkpoint of the lens in ``folder`` may have caused."""
    import errno

    return {
        "h5py's of a file cut short": OSError("Unable to synchronously open file (truncated file)"),
        "an error of the checkpoint": OSError(errno.EIO, os.strerror(errno.EIO), str(folder / "checkpoint.hdf5")),
        "a value read from it": ValueError("cannot reshape array"),
    }


@pytest.mark.parametrize("kind", ["a worker's missing file", "an error of another file", "no memory left",
                                  "JAX out of memory", "a full disk",
                                  "h5py's of a file cut short", "an error of the checkpoint", "a value read from it"])
def test_a_retried_error_removes_the_checkpoints_only_where_a_damaged_one_may_have_caused_it(tmp_path, monkeypatch,
                                                                                            kind):
    """Every error raised for Dask to retry removed the lens's checkpoints first, so that an error
    of the worker's environment (a file missing on it, no memory left, a full disk) lost the
    sampling done so far for nothing; they are now removed only for an error that a damaged
    checkpoint may have raised, and kept (for the retry to resume) for the others."""
    import tinylens

    folder = tmp_path / "lens_a"
    folder.mkdir()
    environment = _environment_errors(folder, tmp_path / "worker")
    error = {**environment, **_checkpoint_errors(folder)}[kind]

    def failing_fit(config, **kwargs):
        for name in filenames.checkpoint_names():
            (folder / name).write_text("sampled so far")
        raise error

    monkeypatch.setattr(tinylens, "fit", failing_fit)
    with pytest.raises(type(error)) as raised:
        task.fit_lens("lens_a", {}, str(folder))
    assert raised.value is error and not (folder / filenames.ROW).exists()
    kept = [name for name in filenames.checkpoint_names() if (folder / name).exists()]
    assert kept == (list(filenames.checkpoint_names()) if kind in environment else []), kept


def test_a_folder_named_as_a_file_of_a_lens_fails_that_lens_at_once_naming_it(tmp_path, mock_survey):
    """A folder named inputs.json in a lens's output folder (where the fit stamps what it is made
    from) raised IsADirectoryError out of fit_lens, which Dask ran three times (its retries), each
    logging 'Compute Failed' with a traceback, before the row 'IsADirectoryError: ...' was written.
    The lens is now a failed row at once, naming the folder and what to do, the folder left as it
    was, the fit not started."""
    template = survey_template.load_template(mock_survey["template"])
    lens = discovery.Lens("lens_a", mock_survey["lenses"] / "lens_a")
    folder = lens.output(tmp_path)
    (folder / filenames.INPUTS).mkdir(parents=True)
    config = survey_template.lens_config(template, lens, tmp_path)
    row = task.fit_lens("lens_a", config, str(folder), truth_path=str(lens.folder / "truth.json"))
    expected = (f"{folder / filenames.INPUTS}: Is a directory: a folder where tinylens reads or writes a file of "
                "this lens. Remove or rename it.")
    assert row == {"lens_id": "lens_a", "status": "failed", "reason": survey_rows.one_line(expected)}, row
    assert survey_rows.read_row(folder / "row.json", "lens_a") == row
    assert (folder / filenames.INPUTS).is_dir() and not any((folder / filenames.INPUTS).iterdir())
    assert attempts.attempts(folder) == 0


def test_a_missing_file_of_a_lens_is_said_with_the_ls_command_of_it_and_its_folder():
    """own_file_text of a FileNotFoundError names the file, the system's reason, and how to look at
    it and its folder (ls -ld, each path quoted for a shell)."""
    import errno

    gone = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/data/lens 1/image.fits")
    assert task.own_file_text(gone) == (
        f"/data/lens 1/image.fits: {os.strerror(errno.ENOENT)}: a file of this lens, or a folder on its path, was not "
        "there when it was needed. Check them (ls -ld '/data/lens 1/image.fits' '/data/lens 1').")


@pytest.mark.parametrize("own", [True, False])
def test_a_file_of_its_lens_this_user_may_not_change_fails_the_lens_with_its_checkpoints_kept(tmp_path, monkeypatch,
                                                                                            own):
    """A file of a lens's that this user may not open or change (another user's, in a shared --out)
    raised PermissionError out of fit_lens, for Dask to retry in vain, its checkpoints removed for the
    retry. The lens is now a failed row naming the file and what to do, its checkpoints kept for the
    fit run again once it is mended; such an error on a file that is not the lens's is raised as before."""
    import errno
    import shlex

    import tinylens

    folder = tmp_path / "out" / "lens_a"
    folder.mkdir(parents=True)
    blocked = folder / "corner.png" if own else tmp_path / "cache" / "entry"
    checkpoint = folder / "checkpoint.hdf5"

    def refused_fit(config, **kwargs):
        checkpoint.write_text("sampled so far")
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(blocked))

    monkeypatch.setattr(tinylens, "fit", refused_fit)
    config = {"dataset": {"data_path": str(tmp_path / "in" / "image.fits")}}
    if not own:
        with pytest.raises(PermissionError):
            task.fit_lens("lens_a", config, str(folder))
        assert checkpoint.read_text() == "sampled so far"  # not this lens's file: no checkpoint could cause it
        assert not (folder / filenames.ROW).exists()
        return
    row = task.fit_lens("lens_a", config, str(folder))
    expected = (f"{blocked}: Permission denied: this user may not open or change it. Check the permissions of it "
                f"and of its folder ({shlex.join(['ls', '-ld', str(blocked), str(folder)])}), or ask their owner to change them; where it is an "
                "output, choose another --out, a folder of your own.")
    assert row == {"lens_id": "lens_a", "status": "failed", "reason": survey_rows.one_line(expected)}, row
    assert survey_rows.read_row(folder / filenames.ROW, "lens_a") == row
    assert checkpoint.read_text() == "sampled so far"


def test_a_lens_folder_this_user_may_not_write_fails_the_lens_without_a_row_written(tmp_path, monkeypatch, mock_survey):
    """A lens's output folder this user may not write (another user's, in a shared --out): its lock
    cannot be made, and writing the failed row that says so raised PermissionError out of fit_lens,
    for Dask to retry in vain. The failed row, the lock's message, is now returned only (for the
    catalogue; the next run fits the lens again), nothing written there."""
    import errno

    folder = tmp_path / "out" / "lenses" / "lens_a"
    folder.mkdir(parents=True)
    real = os.open

    def not_writable(file, flags, *args, **kwargs):  # as a folder of another user's (the tests run as root)
        if Path(file).parent == folder and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", not_writable)
    lens = discovery.Lens("lens_a", mock_survey["lenses"] / "lens_a")
    config = survey_template.lens_config(survey_template.load_template(mock_survey["template"]), lens, tmp_path / "out")
    row = task.fit_lens("lens_a", config, str(folder))
    with pytest.raises(OutputError) as refused, attempts.lens_lock(folder):
        pass
    assert str(refused.value).startswith(f"The lock file {folder / filenames.LENS_LOCK} cannot be made (")
    assert row == {"lens_id": "lens_a", "status": "failed", "reason": survey_rows.describe_exception(refused.value)}, row
    assert not any(folder.iterdir())


def test_the_default_workers_are_fewer_on_one_core(tmp_path, monkeypatch):
    """'tinylens survey' without --workers started two local workers wherever it ran, so that in a
    SLURM job of one CPU (or under taskset) two fits shared the core, no faster than one, each
    with half the job's memory; the default is now 2, or 1 where one core is available."""
    seen = []

    def survey(lens_dir, template, out, workers, *args):
        seen.append(workers)
        return pd.DataFrame()

    monkeypatch.setattr(runner, "_run_survey", survey)
    for cores, workers in ((1, 1), (2, 2), (64, 2)):
        monkeypatch.setattr(runner, "available_cores", lambda cores=cores: cores, raising=False)
        result = CliRunner().invoke(app, ["survey", str(tmp_path), "-c", str(tmp_path / "t.yaml"), "-o",
                                          str(tmp_path / "out"), "-q"])
        assert result.exit_code == 0, result.output
        assert seen.pop() == workers  # what the command started
        assert runner.default_workers() == workers
        runner.run_survey(tmp_path, tmp_path / "t.yaml", tmp_path / "out", progress=False)
        assert seen.pop() == workers


@pytest.mark.skipif(not shutil.which("taskset"), reason="needs taskset to restrict the CPU affinity")
def test_the_cores_available_follow_the_cpu_affinity():
    import subprocess
    import sys

    code = "from tinylens.survey.runner import available_cores, default_workers; print(available_cores(), default_workers())"
    done = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(Path(runner.__file__).parents[2])})
    assert done.stdout.split() == ["1", "1"]


def test_gpu_memory_is_shared_by_the_survey_and_its_local_workers(monkeypatch):
    """JAX's 75 % preallocation per process is turned off for the survey's processes (one GPU,
    several workers), and reaches the local cluster's workers; a user's own setting is kept."""
    import os

    for name in survey_cluster.GPU_MEMORY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert survey_cluster.share_gpu_memory() is True
    with survey_client.dask_client(workers=1) as client:
        assert client.submit(os.environ.get, survey_cluster.PREALLOCATE_VARIABLE).result() == "false"
    monkeypatch.setenv(survey_cluster.PREALLOCATE_VARIABLE, "true")
    assert survey_cluster.share_gpu_memory() is False and os.environ[survey_cluster.PREALLOCATE_VARIABLE] == "true"
    monkeypatch.delenv(survey_cluster.PREALLOCATE_VARIABLE)
    monkeypatch.setenv("XLA_PYTHON_CLIENT_MEM_FRACTION", ".3")
    assert survey_cluster.share_gpu_memory() is False and survey_cluster.PREALLOCATE_VARIABLE not in os.environ
    monkeypatch.delenv("XLA_PYTHON_CLIENT_MEM_FRACTION")
    monkeypatch.setenv("XLA_PYTHON_CLIENT_ALLOCATOR", "platform")  # allocates on demand already
    assert survey_cluster.share_gpu_memory() is False and survey_cluster.PREALLOCATE_VARIABLE not in os.environ


def test_workers_fit_in_the_precision_of_the_survey_process(tmp_path, monkeypatch):
    """set_precision("float64") before run_survey reached no worker: Dask's workers are other
    processes (remote ones on a cluster), built in their own default precision, float32."""
    from distributed import LocalCluster

    import tinylens
    from oracle import x64
    from survey_mocks import fit_telling_the_dtype

    monkeypatch.setattr(runner, "fit_lens", fit_telling_the_dtype)
    lenses = [discovery.Lens("lens_a", tmp_path / "in" / "lens_a")]
    with x64(), LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        for precision in ("float64", "float32"):
            (tmp_path / precision).mkdir()
            tinylens.set_precision(precision)
            try:
                frame = runner._fit_lenses(lenses, {}, {}, tmp_path / precision, [], 1, cluster.scheduler_address, False)
            finally:
                tinylens.set_precision("float32")
            assert list(frame["reason"]) == [f"would fit in {precision}"]
            assert json.loads(lenses[0].output(tmp_path / precision).joinpath(filenames.INPUTS).read_text())[
                "precision"] == precision  # inputs.json records it too


def test_a_survey_on_a_running_scheduler_checks_it_once(tmp_path, mock_survey, monkeypatch):
    """The scheduler is checked (a connection, up to 10 s for a silent one) before anything is
    written, and not again when the survey connects to it. (An in-process cluster, fits faked.)"""
    from distributed import LocalCluster

    from survey_mocks import echo_truth_path

    checked = []
    check = survey_cluster.check_scheduler
    monkeypatch.setattr(survey_cluster, "check_scheduler", lambda address: checked.append(address) or check(address))
    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        frame = runner.run_survey(mock_survey["lenses"], mock_survey["template"], tmp_path / "out",
                                  scheduler=cluster.scheduler_address, progress=False)
    assert set(frame["status"]) == {"ok"} and len(frame) == 4
    assert checked == [cluster.scheduler_address]


def _cluster_with_file(path: Path) -> Any:
    """An in-process cluster whose scheduler listens on TCP and writes the scheduler file ``path``,
    as ``dask scheduler --scheduler-file PATH`` does."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                        dashboard_address=None, scheduler_kwargs={"scheduler_file": str(path)})


def test_the_scheduler_may_be_given_as_its_scheduler_file(tmp_path, mock_survey, monkeypatch):
    """--scheduler ~/sched.json (the file 'dask scheduler --scheduler-file' writes) was taken for an
    address and refused; the address is now read from it, '~' expanded, also by a dry run. Run
    again with the same file after the scheduler was restarted (another port), the survey resumes
    on the new one. (In-process clusters, fits faked.)"""
    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    args = ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]), "--out", str(tmp_path / "out"),
            "--scheduler", "~/sched.json", "--quiet"]
    addresses = []
    for only in ("lens_a", "lens_b,lens_c,lens_bad"):
        with _cluster_with_file(tmp_path / "sched.json") as cluster:
            addresses.append(cluster.scheduler_address)
            planned = CliRunner().invoke(app, [*args, "--only", only, "--dry-run"])
            assert planned.exit_code == 0, planned.output
            result = CliRunner().invoke(app, [*args, "--only", only])
        assert result.exit_code == 0, result.output
    assert addresses[0] != addresses[1]
    frame = pd.read_csv(tmp_path / "out" / "catalog.csv")
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}


def test_run_survey_takes_the_scheduler_file_as_a_path(tmp_path, mock_survey, monkeypatch):
    """run_survey(..., scheduler=Path.home() / "sched.json"), as the other paths it takes, failed
    with "TypeError: argument of type 'PosixPath' is not iterable"; the file is read as when it is
    given as text. (In-process cluster, fits faked.)"""
    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    with _cluster_with_file(tmp_path / "sched.json"):
        frame = runner.run_survey(mock_survey["lenses"], mock_survey["template"], tmp_path / "out",
                                  scheduler=tmp_path / "sched.json", progress=False, only=["lens_a"])
    assert frame["status"].tolist() == ["ok"]
    monkeypatch.setattr(survey_cluster, "SCHEDULER_FILE_APPEAR_WAIT", 0.2)
    with pytest.raises(TinyLensError, match="The scheduler file .*missing.json does not exist"):
        survey_cluster.checked_scheduler(tmp_path / "missing.json")


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("missing.json", None, "The scheduler file {path} does not exist, still after 0.3 s of waiting for it: "
                               "'dask scheduler --scheduler-file {path}' writes it when it starts (has the "
                               "scheduler started, and with this file?)"),
        ("sched.json", "", "The scheduler file {path} is empty, still after 0.3 s of waiting for its scheduler to "
                           "write it"),
        ("sched.json", "address: tcp://127.0.0.1:8786\n", "The scheduler file {path} is not JSON"),
        ("sched.json", json.dumps({"type": "Scheduler"}), "The scheduler file {path} has no \"address\""),
        ("sched.json", json.dumps(["tcp://127.0.0.1:8786"]), "The scheduler file {path} has no \"address\""),
        ("folder", "", "{path} is a folder, not a scheduler file"),
        # left by a scheduler that has stopped: nothing answers at its address
        ("sched.json", json.dumps({"address": "tcp://127.0.0.1:1"}),
         "Cannot connect to the Dask scheduler at tcp://127.0.0.1:1: ConnectionRefusedError: [Errno 111] Connection "
         "refused. The address was read from the scheduler file {path}: is it left by a scheduler that has stopped? "
         "Start the scheduler again ('dask scheduler --scheduler-file {path}' writes the file anew, then start its "
         "workers), or, if it is gone for good, remove {path} and run without --scheduler (a local cluster) or with "
         "a running scheduler's address."),
    ],
)
def test_a_scheduler_file_that_gives_no_address_is_refused_naming_it(survey_inputs, monkeypatch, name, content,
                                                                       expected, dry_run):
    tmp = survey_inputs["tmp"]
    monkeypatch.setenv("HOME", str(tmp))
    monkeypatch.setattr(survey_cluster, "SCHEDULER_FILE_WAIT", 0.3)  # an empty file is read again for this long first
    monkeypatch.setattr(survey_cluster, "SCHEDULER_FILE_APPEAR_WAIT", 0.3)  # a missing one is waited for this long
    path = tmp / name
    if name == "folder":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    out = tmp / "out"
    result = CliRunner().invoke(app, ["survey", str(survey_inputs["lenses"]), "-c", str(survey_inputs["template"]),
                                      "--out", str(out), "--scheduler", f"~/{name}", *(["--dry-run"] if dry_run else [])])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    if content is None and name != "folder":  # waited for first, saying so
        waiting = survey_cluster.waiting_for_scheduler_file_line(path)
        assert text.startswith(f"{waiting} "), text
        text = text[len(waiting) + 1:]
    assert text.startswith("Error:") and expected.format(path=path) in text, text
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not out.exists()


def test_a_scheduler_file_found_empty_as_its_scheduler_writes_it_gives_the_address(tmp_path, monkeypatch):
    """`dask scheduler --scheduler-file` creates its file, then writes its JSON: a survey started beside
    it (docs/survey.md, section 5) that read it in between was refused with 'The scheduler file ... is
    not JSON', at random, though the file held the address a moment later. A file found empty is now
    read again (for SCHEDULER_FILE_WAIT s). (No clock raced: the file is written whole right after the
    first read, as the scheduler would write it.)"""
    path = tmp_path / "sched.json"
    path.write_text("")  # created, its JSON not written yet
    read, reads = survey_rows.read_json_file, []

    def read_as_the_scheduler_writes(file):
        reads.append(file)
        try:
            return read(file)
        finally:
            if len(reads) == 1 and not file.read_text():  # the scheduler writes it now
                file.write_text(json.dumps({"type": "Scheduler", "address": "tcp://127.0.0.1:8786"}, indent=2))

    monkeypatch.setattr(survey_cluster, "read_json_file", read_as_the_scheduler_writes)
    assert survey_cluster.read_scheduler_file(path) == "tcp://127.0.0.1:8786"
    assert len(reads) == 2  # the empty file, then the one written
    path.write_text("address: tcp://127.0.0.1:8786\n")  # not JSON, and not empty: refused at once
    reads.clear()
    with pytest.raises(TinyLensError, match="is not JSON"):
        survey_cluster.read_scheduler_file(path)
    assert len(reads) == 1


def test_a_scheduler_file_that_stays_empty_is_refused_saying_so_and_how_long_it_waited(tmp_path, monkeypatch):
    """An empty scheduler file is read again for SCHEDULER_FILE_WAIT s (the scheduler may be writing
    it); one that stays empty (`touch sched.json`, a scheduler that died) was then refused as 'not JSON
    (Expecting value: line 1 column 1 (char 0)) ... (is it still writing it?)', which neither said
    the file was empty nor that the survey had waited for it. It now says both. A named pipe is
    still refused at its first read, without waiting (a missing file is waited for:
    test_a_scheduler_file_that_appears_after_the_survey_started_is_read)."""
    monkeypatch.setattr(survey_cluster, "SCHEDULER_FILE_WAIT", 0.5)
    read, reads = survey_rows.read_json_file, []

    def counted_read(file):
        reads.append(file)
        return read(file)

    monkeypatch.setattr(survey_cluster, "read_json_file", counted_read)
    path = tmp_path / "sched.json"
    path.write_text("\n")
    start = time.monotonic()
    with pytest.raises(TinyLensError) as caught:
        survey_cluster.read_scheduler_file(path)
    waited = time.monotonic() - start
    text = " ".join(str(caught.value).split())
    assert text.startswith(f"The scheduler file {path} is empty, still after 0.5 s of waiting"), text
    assert "not JSON" not in text and "tcp://HOST:PORT" in text
    assert waited >= 0.5 and len(reads) >= 2  # it did wait, reading the file again
    reads.clear()
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(TinyLensError, match="named pipe"):
        survey_cluster.read_scheduler_file(tmp_path / "pipe")
    assert len(reads) == 1


def _scheduler_file_later(path: Path, text: str, after: float) -> threading.Thread:
    """A started thread that writes ``text`` to ``path`` ``after`` seconds from now, as
    ``dask scheduler --scheduler-file PATH &`` does once it has started."""
    def write() -> None:
        time.sleep(after)
        path.write_text(text)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_a_scheduler_file_that_appears_after_the_survey_started_is_read(tmp_path, monkeypatch, capsys):
    """docs/survey.md's 'dask scheduler --scheduler-file ~/sched.json &' followed by 'tinylens survey
    ... --scheduler ~/sched.json' was refused at once with 'The scheduler file ... does not exist',
    the scheduler not having written it yet (it does a second or more after it starts), while Dask's
    own workers wait for it. The survey now waits for it (SCHEDULER_FILE_APPEAR_WAIT s), saying so
    once on stderr, and reads it; one that never appears is refused saying how long it waited for it;
    a folder, or a file in a folder that does not exist (no scheduler can write it), is refused at
    once. (The file is written ~1 s after the survey started looking; no clock raced: the wait is 30 s.)"""
    path = tmp_path / "sched.json"
    writer = _scheduler_file_later(path, json.dumps({"type": "Scheduler", "address": "tcp://127.0.0.1:8786"}), 1.0)
    assert survey_cluster.read_scheduler_file(path) == "tcp://127.0.0.1:8786"
    writer.join()
    err = capsys.readouterr().err
    assert err.count("does not exist yet; waiting up to 30 s") == 1, err
    assert str(path) in err.replace("\n", ""), err  # named

    monkeypatch.setattr(survey_cluster, "SCHEDULER_FILE_APPEAR_WAIT", 0.5)
    start = time.monotonic()
    with pytest.raises(TinyLensError) as caught:
        survey_cluster.read_scheduler_file(tmp_path / "never.json")
    assert time.monotonic() - start >= 0.5  # it did wait
    text = " ".join(str(caught.value).split())
    assert text.startswith(f"The scheduler file {tmp_path / 'never.json'} does not exist, still after 0.5 s of "
                           "waiting for it"), text
    assert "tcp://HOST:PORT" in text and capsys.readouterr().err.count("waiting up to 0.5 s") == 1

    monkeypatch.setattr(survey_cluster, "SCHEDULER_FILE_APPEAR_WAIT", 60.0)  # not waited for: refused at once
    (tmp_path / "folder.json").mkdir()
    for path, expected in ((tmp_path / "folder.json", "is a folder, not a scheduler file"),
                           (tmp_path / "no_such_dir" / "sched.json", "does not exist (nor does its folder")):
        start = time.monotonic()
        with pytest.raises(TinyLensError, match=re.escape(expected)):
            survey_cluster.read_scheduler_file(path)
        assert time.monotonic() - start < 30.0, path
    assert "waiting up to" not in capsys.readouterr().err


def test_a_survey_started_right_after_its_scheduler_waits_for_the_scheduler_file(tmp_path, mock_survey, monkeypatch):
    """docs/survey.md, section 5, as written: the survey given '--scheduler ~/sched.json' before the
    scheduler has written that file (here it appears ~1 s later, with a running scheduler's
    address) waits for it and fits the lens, where it was refused at once. (In-process cluster, fits
    faked.)"""
    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with _cluster_with_file(tmp_path / "written.json"):
        writer = _scheduler_file_later(tmp_path / "sched.json", (tmp_path / "written.json").read_text(), 1.0)
        result = CliRunner().invoke(app, ["survey", str(mock_survey["lenses"]), "-c", str(mock_survey["template"]),
                                          "--out", str(tmp_path / "out"), "--scheduler", "~/sched.json", "--quiet",
                                          "--only", "lens_a"])
        writer.join()
    assert result.exit_code == 0, result.output
    assert "does not exist yet; waiting up to" in " ".join(result.output.split())
    assert pd.read_csv(tmp_path / "out" / "catalog.csv")["status"].tolist() == ["ok"]


def test_workers_that_cannot_import_tinylens_are_refused_with_their_addresses(tmp_path, mock_survey, monkeypatch):
    """A `dask worker` started without tinylens (no PYTHONPATH, another environment) died on the
    survey's first task and the survey then waited silently for ever; the workers are now asked
    first, and such a cluster is refused with the error and what to do. (In-process workers, fits
    faked: a module they lack stands for tinylens.)"""
    from distributed import LocalCluster

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    monkeypatch.setattr(survey_workers, "TASK_MODULE", "tinylens_not_installed.runner", raising=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        addresses = list(cluster.workers[name].address for name in cluster.workers)
        with pytest.raises(TinyLensError) as caught:
            runner.run_survey(mock_survey["lenses"], mock_survey["template"], tmp_path / "out",
                              scheduler=cluster.scheduler_address, progress=False)
        monkeypatch.setattr(survey_workers, "TASK_MODULE", "tinylens.survey.task")  # what they import: no complaint
        frame = runner.run_survey(mock_survey["lenses"], mock_survey["template"], tmp_path / "out",
                                  scheduler=cluster.scheduler_address, progress=False)
    text = str(caught.value)
    assert "2 of the 2 Dask workers cannot import tinylens" in text and all(a in text for a in addresses), text
    assert "No module named 'tinylens_not_installed'" in text and "PYTHONPATH" in text, text
    assert "then run the same command (or run_survey call) again." in text, text
    assert len(frame) == 4


def test_a_refused_cluster_leaves_the_output_folder_as_it_was(tmp_path, mock_survey, monkeypatch):
    """Workers that cannot import tinylens (or import another version) were refused only after the
    survey had written survey.json (a new --out then looked like a real run's) and, with
    --retry-failed, deleted the failed rows and rewritten the catalogue without them; the cluster is
    now connected and checked before anything is written. (In-process workers, fits faked.)"""
    from distributed import LocalCluster

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    monkeypatch.setattr(survey_workers, "TASK_MODULE", "tinylens_not_installed.runner", raising=False)
    old = tmp_path / "old"
    (old / "lenses" / "lens_a").mkdir(parents=True)
    (old / "lenses" / "lens_a" / "result.json").write_text(json.dumps(RESULT))
    rows = {"lens_a": survey_rows.flat_row("lens_a", RESULT), "lens_bad": survey_rows.failed_row("lens_bad", "broken")}
    for lens_id, row in rows.items():
        survey_rows.write_row(old / "lenses" / lens_id, row)
    catalog.write_catalog(rows, old)
    before = _tree(old)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        for out, retry in ((tmp_path / "new" / "out", False), (old, True)):
            with pytest.raises(TinyLensError, match="cannot import tinylens"):
                runner.run_survey(mock_survey["lenses"], mock_survey["template"], out,
                                  scheduler=cluster.scheduler_address, progress=False, retry_failed=retry)
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == []
    assert _tree(old) == before


class _StderrNow(logging.StreamHandler):
    """A log handler writing to whatever ``sys.stderr`` is when a record comes (a test's capture)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


#: The loggers distributed gives its own stderr handler when it is first imported.
DASK_LOGGERS = ("distributed", "distributed.client", "distributed.gc", "bokeh", "tornado", "tornado.application")


@pytest.fixture
def dask_logs_on_stderr(monkeypatch) -> None:
    """Dask's log lines written to this test's stderr, as a survey's are to its terminal. Otherwise
    where they went hung on earlier tests and on pytest's logging plugin: distributed gives its
    loggers a handler of the ``sys.stderr`` of its first import (a capture an earlier test has
    closed since: each line then printed '--- Logging error ---' and a traceback under
    ``-p no:logging``), or none where the root logger has handlers (the plugin's: its lines then
    never reached stderr)."""
    import dask
    import distributed  # noqa: F401 (sets its loggers up)

    handler = _StderrNow()
    handler.setFormatter(logging.Formatter(dask.config.get("distributed.admin.log-format")))
    for name in DASK_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "handlers", [handler])
        monkeypatch.setattr(logging.getLogger(name), "propagate", False)


def _scheduler_address(sched_file: Path, deadline: float) -> str:
    """The address in the scheduler file ``sched_file`` once `dask scheduler` has written it whole,
    read again every 0.1 s until the ``deadline`` (time.monotonic()). The scheduler opens the file,
    then writes its JSON: a read as soon as the file exists found it empty, at random on a loaded
    machine, and failed the test saying it is not JSON."""
    while True:
        try:
            return survey_cluster.read_scheduler_file(sched_file)
        except TinyLensError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def _dask_processes(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A `dask scheduler` and one `dask worker` (one thread, no nanny), each a process that imports
    tinylens and survey_mocks, their output dropped: the scheduler's process and its address, once
    its worker is connected. Both are killed at the end."""
    import subprocess
    import sys

    paths = [str(Path(runner.__file__).parents[2]), str(Path(__file__).parent)]  # tinylens, survey_mocks
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    sched_file = tmp_path / "sched.json"
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)], **quiet)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                               str(sched_file), "--nthreads", "1", "--no-nanny"], **quiet)
    try:
        address = _scheduler_address(sched_file, deadline=time.monotonic() + 60)
        from distributed import Client

        # the worker connected before a test submits: its tasks then reach it in their order, not
        # all at once when it joins, however slowly it starts on a loaded machine
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=120)
        yield scheduler, address
    finally:
        for process in (scheduler, worker):
            process.kill()
            process.wait(30)


def test_a_scheduler_that_stops_mid_survey_is_named_without_a_traceback(tmp_path, monkeypatch, capfd, dask_logs_on_stderr):
    """A scheduler killed while its survey runs (its batch job's time limit) made Dask's client log
    an ERROR with a 30-line traceback (its reconnection, cut short as the survey closed it) and the
    survey end with 'the Dask cluster dropped their tasks (... was the scheduler stopped?)'. It
    now names the scheduler that stopped answering and what to do, without the traceback.
    (`dask scheduler` and `dask worker` processes, each importing tinylens; fits faked: ~5 s.)"""
    import signal

    from survey_mocks import fit_or_hang, lens_a_taken as noting_lens_a

    monkeypatch.setattr(runner, "fit_lens", fit_or_hang)
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in ("lens_a", "lens_hang")]
    hang = lenses[1].output(tmp_path)
    lens_a_taken = noting_lens_a(monkeypatch)  # the survey has lens_a's row: its end reached the client

    def kill_the_scheduler_under_lens_hang() -> None:
        lens_a_taken.wait(120)  # fitted just before, on the one thread: not among the lenses dropped
        deadline = time.monotonic() + 120
        while attempts.attempts(hang) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        scheduler.send_signal(signal.SIGKILL)

    with _dask_processes(tmp_path) as (scheduler, address):
        killer = threading.Thread(target=kill_the_scheduler_under_lens_hang, daemon=True)
        killer.start()
        with pytest.raises(TinyLensError) as caught:
            runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, address, False)
        killer.join(10)
    text = " ".join(str(caught.value).split())
    assert text.startswith(f"The Dask scheduler at {address} stopped answering (was it stopped, or did its batch "
                           "job end?), and 1 lens was not fitted: Dask dropped its task (lens_hang)."), text
    assert "run the same command (or run_survey call) to fit the rest" in text
    assert not (hang / filenames.ROW).exists()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "CancelledError" not in err, err
    assert not logging.getLogger(survey_cluster.CLIENT_LOGGER).filters  # the filter is gone with the survey


def test_a_lens_to_submit_after_the_client_gave_up_on_its_scheduler_is_named_without_a_traceback(
        tmp_path, monkeypatch, capfd, dask_logs_on_stderr):
    """A survey with more lenses than it keeps submitted (over MIN_IN_FLIGHT) submits the next one
    as each row comes; a row that came after Dask's client had given up reconnecting to a lost
    scheduler (a finished task whose value took that long to fetch, its row then read from its
    folder) made client.submit raise ClosedClientError out of the survey as a traceback. The lens
    not submitted is now named among those dropped. (`dask scheduler` and `dask worker` processes,
    the client's reconnection cut to 5 s, one task in flight; fits faked: ~12 s.)"""
    import signal

    from survey_mocks import fit_or_hang

    monkeypatch.setattr(runner, "fit_lens", fit_or_hang)
    monkeypatch.setattr(survey_cluster, "CONNECT_TIMEOUT", "5s")  # the client gives up reconnecting after it
    monkeypatch.setattr(runner, "MIN_IN_FLIGHT", 1)
    monkeypatch.setattr(runner, "IN_FLIGHT_PER_THREAD", 1)
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in ("lens_a", "lens_b", "lens_c")]
    task_row, closed = runner._task_row, []

    def row_after_the_client_gave_up(future, lens, out, client, *args, **kwargs):
        row = task_row(future, lens, out, client, *args, **kwargs)
        if lens.lens_id == "lens_a":  # taken: now the scheduler goes, and the client gives up on it
            scheduler.send_signal(signal.SIGKILL)
            deadline = time.monotonic() + 120
            while client.status != "closed" and time.monotonic() < deadline:
                time.sleep(0.1)
            closed.append(client.status)
        return row

    monkeypatch.setattr(runner, "_task_row", row_after_the_client_gave_up)
    with _dask_processes(tmp_path) as (scheduler, address):
        with pytest.raises(TinyLensError) as caught:
            runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, address, False)
    assert closed == ["closed"]
    text = " ".join(str(caught.value).split())
    assert text.startswith(f"The Dask scheduler at {address} stopped answering (was it stopped, or did its batch "
                           "job end?), and 2 lenses were not fitted: their tasks were never sent (e.g. lens_b). The "
                           "catalogue holds the 1 finished one"), text
    assert pd.read_csv(tmp_path / "catalog.csv")["lens_id"].tolist() == ["lens_a"]
    assert "Traceback" not in capfd.readouterr().err


class _ClientLosingItsScheduler:
    """A survey's Dask client whose ``status`` reads ``lost`` once :meth:`lose` is called (as a
    client reconnecting to a lost scheduler, or given up on it, says); the rest is the client's."""

    def __init__(self, client: Any) -> None:
        self._client, self.status = client, "running"

    def lose(self, status: str) -> None:
        self.status = status

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.mark.parametrize("lost", [True, False])
def test_every_lens_a_survey_did_not_fit_after_a_task_was_dropped_is_counted_and_named(tmp_path, monkeypatch, lost):
    """A survey of more lenses than it keeps submitted (over MIN_IN_FLIGHT) submits no more once a
    task comes back dropped (cancelled with its lost scheduler), so the lenses never submitted were
    left out of 'Dask dropped the N lenses not yet fitted': N counted only the dropped tasks, though
    the next run fits them all. Every lens not fitted is now counted, whether the scheduler was lost
    or the cluster dropped the task. (An in-process cluster, one task in flight; fits faked: ~2 s.)"""
    from distributed import Client, LocalCluster

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    monkeypatch.setattr(runner, "_in_flight_limit", lambda client, known=None, info=None: 1)
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in ("lens_a", "lens_b", "lens_c", "lens_d")]
    task_row = runner._task_row

    def lens_b_dropped(future, lens, *args, **kwargs):
        row = task_row(future, lens, *args, **kwargs)
        if lens.lens_id != "lens_b":
            return row
        if lost:
            client.lose("connecting")  # reconnecting to its scheduler, which cancelled its tasks
        return None  # as for a task cancelled with its scheduler

    monkeypatch.setattr(runner, "_task_row", lens_b_dropped)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as real:
        client = _ClientLosingItsScheduler(real)
        with pytest.raises(TinyLensError) as caught:
            runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, cluster.scheduler_address if lost else None, False,
                               client=client)
    text = " ".join(str(caught.value).split())
    if lost:
        assert text.startswith(f"The Dask scheduler at {cluster.scheduler_address} stopped answering (was it stopped, "
                               "or did its batch job end?), and 3 lenses were not fitted: Dask dropped 1 of their "
                               "tasks and 2 were never sent (e.g. lens_b). The catalogue holds the 1 finished one;"), text
    else:
        assert text == ("3 lenses were not fitted: the Dask cluster dropped 1 of their tasks and 2 were never sent "
                        "(e.g. lens_b; was the scheduler stopped?). The catalogue holds the 1 finished one; run the "
                        "same command (or run_survey call) again to fit the rest."), text
    assert pd.read_csv(tmp_path / "catalog.csv")["lens_id"].tolist() == ["lens_a"]
    assert not (tmp_path / "lenses" / "lens_c").exists() and not (tmp_path / "lenses" / "lens_d").exists()


def _three_lenses_on_one_thread(tmp_path: Path) -> pd.DataFrame:
    """The catalogue _fit_lenses makes of lens_a, lens_b and lens_c (in tmp_path/in) on an
    in-process cluster of one worker of one thread, one task in flight at a time where patched so."""
    from distributed import Client, LocalCluster

    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in ("lens_a", "lens_b", "lens_c")]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        return runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False, client=client)


def test_a_finished_task_whose_value_a_busy_scheduler_gives_late_and_whose_worker_wrote_no_row_is_sent_again(
        tmp_path, monkeypatch):
    """Since the survey gives a finished task's value CONNECT_TIMEOUT (30 s), a healthy but busy
    scheduler giving it in 31 s had the survey read the row the task's worker wrote instead; a task
    that wrote none (its worker refused the lens) was then taken as dropped by the cluster: the survey
    ended with 'the Dask cluster dropped 1 of their tasks' and that lens unfitted, where it waited
    and sent the lens to another worker before. Such a task is now sent again while the client is
    connected. (An in-process cluster, one task in flight; fits faked: ~2 s.)"""

    import survey_mocks

    survey_mocks.REFUSED_ONCE.clear()
    monkeypatch.setattr(runner, "fit_lens", survey_mocks.echo_truth_path_refused_first)
    monkeypatch.setattr(runner, "_in_flight_limit", lambda client, known=None, info=None: 1)
    real_answered, late = survey_cluster.answered, []

    def first_value_late(call, name="survey-scheduler-question", client=None):
        answer = real_answered(call, name, client=client)
        if name == "survey-task-value" and not late:  # lens_a's refusal: its answer came after 30 s
            late.append(answer)
            raise survey_cluster.Unanswered("the Dask scheduler gave no answer within 30 s")
        return answer

    monkeypatch.setattr(survey_cluster, "answered", first_value_late)
    frame = _three_lenses_on_one_thread(tmp_path)
    assert [row["status"] for row in late] == ["refused"]
    assert sorted(frame["lens_id"]) == ["lens_a", "lens_b", "lens_c"]
    assert frame["status"].tolist() == ["ok"] * 3


def test_with_a_worker_refused_each_finished_lens_asks_the_scheduler_once(tmp_path, monkeypatch):
    """With a worker refused, each finished lens asked the scheduler twice: scheduler_info() for
    the tasks-in-flight limit, then scheduler_info(n_workers=-1) for the workers not refused that
    its next lens goes to (and a refused lens twice with n_workers=-1): on a cluster of thousands
    of lenses, twice the questions to a busy scheduler. The one answer listing every worker tells
    both, and is now asked once. (An in-process cluster, one task in flight; fits faked: ~2 s.)"""
    from distributed import Client, LocalCluster

    import survey_mocks

    survey_mocks.REFUSED_ONCE.clear()
    monkeypatch.setattr(runner, "fit_lens", survey_mocks.echo_truth_path_refused_first)
    monkeypatch.setattr(runner, "MIN_IN_FLIGHT", 1)
    monkeypatch.setattr(runner, "IN_FLIGHT_PER_THREAD", 1)  # one thread: one task in flight, the real limit
    monkeypatch.setattr(runner, "connected_workers", lambda client: 1)  # the watch's own questions left out
    names = ("lens_a", "lens_b", "lens_c", "lens_d")
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in names]
    for lens in lenses:  # there: lens_a's refusal is the worker's, not that of a folder removed since
        lens.folder.mkdir(parents=True)
    asked: list[tuple[dict, int]] = []  # each question's arguments, and how many lenses were fitted then
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        real = client.scheduler_info

        def scheduler_info(*args, **kwargs):
            asked.append((kwargs, sum((tmp_path / "lenses" / name / filenames.ROW).exists() for name in names)))
            return real(*args, **kwargs)

        monkeypatch.setattr(client, "scheduler_info", scheduler_info)
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False, client=client)
    assert frame["status"].tolist() == ["ok"] * 4
    # the first submission (no worker refused yet), lens_a's refusal, and each of the 4 lenses fitted:
    # one question each, every worker listed once one is refused
    assert [kwargs for kwargs, _ in asked] == [{}] + [{"n_workers": -1}] * 5, asked
    assert [fitted for _, fitted in asked[2:]] == [1, 2, 3, 4], asked


def test_a_finished_task_s_late_value_is_the_row_its_worker_wrote_where_it_wrote_one(tmp_path, monkeypatch):
    """A finished task whose value a busy scheduler gives late: the row its worker wrote, where there
    is one (the same as the value); else late, not known to be fitted (not a dropped task's None)."""
    monkeypatch.setattr(survey_cluster, "connect_seconds", lambda: 0.2)
    release = threading.Event()
    future = types.SimpleNamespace(status="finished", result=lambda: release.wait(30), exception=lambda: None)
    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    try:
        outcome = runner._outcome(future, lens, tmp_path)
        assert (outcome.late, outcome.value) == (True, None)
        ok = survey_rows.flat_row("lens_a", RESULT)
        survey_rows.write_row(lens.output(tmp_path), ok)
        outcome = runner._outcome(future, lens, tmp_path)
        assert (outcome.late, outcome.value) == (False, ok)
    finally:
        release.set()


def test_a_lost_scheduler_given_by_its_scheduler_file_is_named_with_the_file(tmp_path, mock_survey, monkeypatch):
    """A survey given its scheduler as a scheduler file (--scheduler sched.json), whose scheduler was
    lost mid-survey: the message named only the address read from the file, which the user never
    typed and which a restarted scheduler replaces. It now names the file too; an address given as
    such is named alone, as before. (An in-process cluster, one task in flight; fits faked: ~5 s.)"""
    from distributed import Client, LocalCluster

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "_in_flight_limit", lambda client, known=None, info=None: 1)
    task_row, clients = runner._task_row, []

    @contextlib.contextmanager
    def losing_client(workers, scheduler, *args, **kwargs):
        with Client(scheduler) as real:
            clients.append(_ClientLosingItsScheduler(real))
            yield clients[-1]

    def lens_b_dropped(future, lens, *args, **kwargs):
        row = task_row(future, lens, *args, **kwargs)
        if lens.lens_id != "lens_b":
            return row
        clients[-1].lose("connecting")  # reconnecting to its scheduler, which cancelled its tasks
        return None

    monkeypatch.setattr(runner, "dask_client", losing_client)
    monkeypatch.setattr(runner, "_task_row", lens_b_dropped)
    file = tmp_path / "sched.json"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        file.write_text(json.dumps({"address": address}))
        texts = {}
        for given, out in ((str(file), tmp_path / "out_file"), (address, tmp_path / "out_address")):
            with pytest.raises(TinyLensError) as caught:
                runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, scheduler=given, progress=False)
            texts[given] = " ".join(str(caught.value).split())
    assert texts[str(file)].startswith(f"The Dask scheduler at {address} (read from the scheduler file "
                                       f"{file.resolve()}) stopped answering (was it stopped, or did its batch job "
                                       "end?), and "), texts
    assert texts[address].startswith(f"The Dask scheduler at {address} stopped answering (was it stopped, or did "
                                     "its batch job end?), and "), texts


def test_a_survey_fetches_each_finished_tasks_value_from_the_cluster_once(tmp_path, monkeypatch):
    """_fit_lenses asked the cluster for each finished task's value twice (future.result(), a gather
    from the scheduler and its worker: once to see whether its worker refused the lens, once for
    its row); it now fetches it once, for both. (An in-process cluster; fits faked: ~2 s.)"""
    from distributed import Future

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    fetched: dict[str, int] = {}
    result = Future.result

    def counted_result(self, *args, **kwargs):
        value = result(self, *args, **kwargs)
        fetched[value["lens_id"]] = fetched.get(value["lens_id"], 0) + 1
        return value

    monkeypatch.setattr(Future, "result", counted_result)
    frame = _three_lenses_on_one_thread(tmp_path)
    assert sorted(frame["lens_id"]) == ["lens_a", "lens_b", "lens_c"]
    assert fetched == {"lens_a": 1, "lens_b": 1, "lens_c": 1}


def _can_hide_a_folder() -> bool:
    """Whether a process can be started in its own mount namespace here (root, unshare(1))."""
    import subprocess

    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _refused_by_a_blind_worker(hidden: Path, lenses: Path, template: Path, out: Path) -> tuple[str, str]:
    """The address of a `dask worker` process started in its own mount namespace, with an empty
    disk over ``hidden``, and the text of the TinyLensError of a survey of ``lenses`` into ``out``
    on a cluster of that worker alone."""
    import subprocess
    import sys

    from distributed import Client, LocalCluster

    paths = [str(Path(runner.__file__).parents[2]), str(Path(__file__).parent)]  # tinylens, survey_mocks
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    with LocalCluster(n_workers=0, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        start = (f"mount -t tmpfs none {hidden} && exec {sys.executable} -m distributed.cli.dask_worker "
                 f"{cluster.scheduler_address} --nthreads 1 --no-nanny")
        worker = subprocess.Popen(["unshare", "-m", "sh", "-c", start], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            client.wait_for_workers(1, timeout=60)
            blind = next(iter(client.scheduler_info()["workers"]))
            with pytest.raises(TinyLensError) as caught:
                runner.run_survey(lenses, template, out, scheduler=cluster.scheduler_address, progress=False)
        finally:
            worker.terminate()
            worker.wait(30)
    return blind, " ".join(str(caught.value).split())


@pytest.mark.skipif(not _can_hide_a_folder(), reason="needs unshare -m (root) to give a worker its own /tmp")
def test_workers_that_do_not_see_the_survey_folders_are_refused_before_anything_is_written(tmp_path, mock_survey,
                                                                                            monkeypatch):
    """A survey whose lens folders and --out are on one node's own disk (/tmp), on a cluster whose
    workers run elsewhere, had every lens fail on the workers ('not found'); one whose --out alone
    was there wrote its fits on the nodes' disks, and a rerun fitted every lens again. The workers
    are now asked what they see: such a survey is refused naming the worker and the folder, and
    --out is left as it was. (A `dask worker` process in its own mount namespace, with an empty
    disk over the test's folder: the folders are there for the survey and not for it. ~15 s.)"""
    lenses = tmp_path / "lenses"
    shutil.copytree(mock_survey["lenses"] / "lens_a", lenses / "lens_a")
    out = tmp_path / "out"
    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: "lens_a")
    blind, text = _refused_by_a_blind_worker(tmp_path, lenses, mock_survey["template"], out)
    assert text.startswith(f"The one Dask worker does not see the survey's folders as this process does ({blind} "
                           f"does not see LENS_DIR (run_survey: lens_dir=) {lenses} and --out (run_survey: out=) {out})."), text
    assert "on a file system that every node sees" in text
    assert not out.exists()  # refused before anything was written


@pytest.mark.skipif(not _can_hide_a_folder(), reason="needs unshare -m (root) to give a worker its own /tmp")
def test_workers_that_do_not_see_a_linked_lens_folder_are_refused(tmp_path, mock_survey, monkeypatch):
    """A lens folder that is a link in LENS_DIR to a node's own disk (LENS_DIR/lens_a -> /tmp/...)
    passed the check, which asked the workers about LENS_DIR alone, and its fit failed on the
    workers ('not found'). The workers are now also asked about a lens folder in each folder the
    links lead to (as the survey reads them, links followed), and such a survey is refused naming
    the lens folder. (A `dask worker` process in its own mount namespace, with an empty disk over
    the linked folder's disk only. ~5 s.)"""
    node, lenses, out = tmp_path / "node", tmp_path / "shared" / "lenses", tmp_path / "shared" / "out"
    scratch = node / "scratch"
    shutil.copytree(mock_survey["lenses"] / "lens_a", scratch / "lens_a")
    lenses.mkdir(parents=True)
    (lenses / "lens_a").symlink_to(scratch / "lens_a")
    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: "lens_a")
    blind, text = _refused_by_a_blind_worker(node, lenses, mock_survey["template"], out)
    assert text.startswith(f"The one Dask worker does not see the survey's folders as this process does ({blind} "
                           f"does not see {scratch / 'lens_a'}, the lens folder lens_a that LENS_DIR (run_survey: lens_dir=) "
                           "links to)."), text
    assert not out.exists()  # refused before anything was written


def test_a_worker_that_sees_the_lock_file_before_its_text_is_not_refused(tmp_path):
    """On NFS a file's writes reach the other nodes when its writer closes it (close-to-open), and
    the survey holds its --out lock file open for its whole run: a worker on another node then
    reads the lock file empty. It was refused as not seeing --out, so every survey on an NFS --out
    with locks was. An empty lock file now counts as this survey's; a worker that cannot read the
    lock file, or reads another text (a node's own folder of the same name), is still refused."""
    from tinylens.locks import folder_lock

    lens_dir, out = tmp_path / "lenses", tmp_path / "out"
    lens_dir.mkdir()
    out.mkdir()
    elsewhere = tmp_path / "node"
    elsewhere.mkdir()
    (elsewhere / "empty.lock").write_text("")
    (elsewhere / "other.lock").write_text("process 12 on node9, since 2026-01-01 00:00:00 UTC")

    class Workers:
        """A cluster of four workers, each seeing the lock file where this one's list says."""

        def run(self, function, lock, folders, timeout, workers=None, on_error="raise", callback_timeout=None):
            seen = {"tcp://10.0.0.1:1": lock, "tcp://10.0.0.2:1": str(elsewhere / "empty.lock"),
                    "tcp://10.0.0.3:1": str(elsewhere / "missing.lock"), "tcp://10.0.0.4:1": str(elsewhere / "other.lock")}
            return {address: function(path, folders, timeout) for address, path in seen.items()}

    with folder_lock(out, filenames.SURVEY_LOCK_FILE) as locked:
        assert locked
        with pytest.raises(TinyLensError) as caught:
            survey_workers.check_worker_folders(Workers(), out, lens_dir)
    text = " ".join(str(caught.value).split())
    assert text.startswith("2 of the 4 Dask workers do not see the survey's folders as this process does "
                           f"(tcp://10.0.0.3:1, tcp://10.0.0.4:1: e.g. tcp://10.0.0.3:1 does not see --out (run_survey: out=) {out})."), text


@contextlib.contextmanager
def _hung_file(path: Path) -> Iterator[Path]:
    """``path`` made a FIFO with no writer: reading it blocks, as a file on an NFS mount whose
    server is down does; on exit a writer comes and goes, so that a reader still waiting ends."""
    os.mkfifo(path)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):  # ENXIO: nobody waits on it
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def test_a_worker_whose_file_system_hangs_is_named_and_the_survey_goes_on(tmp_path):
    """A worker on a hung mount (NFS server down) read the survey's lock file in the folder check
    for ever, and the survey hung at its start without a word. Each worker now reads in a thread
    of its own, for at most the check's timeout, and a worker that gave no answer is named in a
    DataWarning, and the survey goes on. (An in-process Dask cluster; the lock file a FIFO that no
    one writes, whose read blocks. ~2 s.)"""
    from distributed import Client, LocalCluster

    lens_dir, out = tmp_path / "lenses", tmp_path / "out"
    lens_dir.mkdir()
    out.mkdir()
    with _hung_file(out / filenames.SURVEY_LOCK_FILE), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        worker = next(iter(cluster.workers.values())).address
        start = time.monotonic()
        with pytest.warns(DataWarning) as caught:
            survey_workers.check_worker_folders(client, out, lens_dir, timeout=0.5)
        took = time.monotonic() - start
    assert took < 5, took
    text = " ".join(str(caught[0].message).split())
    assert text.startswith("Whether the Dask workers see the survey's folders as this process does was not checked "
                           f"for the one worker: {worker} gave no answer within 0.5 s (does a file system it "
                           "reads hang, such as an NFS mount whose server is down?). The survey goes on"), text


def test_workers_whose_folder_check_fails_or_a_cluster_that_does_not_answer_are_warned_of(tmp_path):
    """A cluster that could not be asked about the survey's folders, or a worker whose check
    raised, was passed over without a word: the survey went on as if its workers saw the folders.
    Each is now named in a DataWarning, with why; a blind worker among them is still refused; and
    the cluster is asked under a deadline (``callback_timeout``: Dask's, which raises TimeoutError)."""
    lens_dir, out = tmp_path / "lenses", tmp_path / "out"
    lens_dir.mkdir()
    out.mkdir()

    class Workers:
        """A cluster of three workers: one sees the folders, one's check raised, one does not see LENS_DIR."""

        def run(self, function, lock, folders, timeout, workers=None, on_error="raise", callback_timeout=None):
            assert callback_timeout == timeout + 30
            return {"tcp://10.0.0.1:1": function(lock, folders, timeout), "tcp://10.0.0.2:1": RuntimeError("comm closed"),
                    "tcp://10.0.0.3:1": (None, list(folders))}  # a node's own disk: neither the lock nor LENS_DIR

    class Unanswered:
        """A cluster that gives no answer within the deadline, or cannot be asked."""

        def __init__(self, error: Exception) -> None:
            self.error = error

        def run(self, *args, callback_timeout=None, **kwargs):
            assert callback_timeout is not None
            raise self.error

    with pytest.warns(DataWarning) as caught, pytest.raises(TinyLensError) as refused:
        survey_workers.check_worker_folders(Workers(), out, lens_dir, timeout=2)
    assert " ".join(str(caught[0].message).split()).startswith(
        "Whether the Dask workers see the survey's folders as this process does was not checked for 1 of the 3 "
        "workers: on tcp://10.0.0.2:1 the check failed (RuntimeError: comm closed). The survey goes on"), caught[0].message
    assert str(refused.value).startswith("1 of the 3 Dask workers does not see the survey's folders"), refused.value
    for error, why in [(TimeoutError("timed out after 32.0 s."), "the cluster did not answer within 32 s"),
                       (OSError("Connection refused"), "the cluster could not be asked (OSError: Connection refused)")]:
        with pytest.warns(DataWarning) as caught:
            survey_workers.check_worker_folders(Unanswered(error), out, lens_dir, timeout=2)
        assert str(caught[0].message).startswith("Whether the Dask workers see the survey's folders as this process "
                                                 f"does was not checked: {why}. The survey goes on"), caught[0].message


def test_a_scheduler_without_workers_is_said_to_have_none(tmp_path, monkeypatch, capsys):
    """A survey on a scheduler with no workers (batch jobs still queued, or none started) waited
    without a word, then logged 'still fitting' every ten minutes; it now says at once that the
    scheduler has no workers, and the heartbeat that none is connected, until one comes.
    (An in-process cluster that gets its worker once a heartbeat found none; fits faked.)"""
    from distributed import LocalCluster

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.2)
    lenses = [discovery.Lens("lens_a", tmp_path / "in" / "lens_a")]
    connected, told = survey_watch.connected_workers, []
    with LocalCluster(n_workers=0, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:

        def worker_after_a_heartbeat(client):  # the survey's check, then a heartbeat (logged), found none
            count = connected(client)
            asker = "heartbeat" if threading.current_thread().name == "survey-heartbeat" else "survey"
            if count == 0 and (told or asker == "survey"):
                told.append(asker)
                if told.count("heartbeat") == 2:  # the first one's line is out: a worker comes
                    cluster.scale(1)
            return count

        monkeypatch.setattr(runner, "connected_workers", worker_after_a_heartbeat)
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, cluster.scheduler_address, True)
    assert list(frame["status"]) == ["ok"]
    err = " ".join(capsys.readouterr().err.split())
    assert f"the Dask scheduler at {cluster.scheduler_address} has no workers yet" in err, err
    assert "; no Dask worker connected," in err, err


def test_heartbeat_says_when_no_worker_is_connected(capsys):
    now, workers = [0.0], [0]
    with progress.SurveyProgress(2, [], enabled=True, clock=lambda: now[0], workers=lambda: workers[0]) as bar:
        now[0] = progress.HEARTBEAT_SECONDS + 5
        bar.heartbeat()
        now[0], workers[0] = 2 * progress.HEARTBEAT_SECONDS + 10, 3
        bar.heartbeat()
    err = capsys.readouterr().err.splitlines()
    assert err[1].endswith("; no Dask worker connected, 10m 05s elapsed"), err
    assert err[2].endswith("; still fitting, 20m 10s elapsed"), err


def test_a_scheduler_that_stops_answering_does_not_hold_the_survey_s_end(capsys, monkeypatch):
    """The heartbeat's thread asked the scheduler for its worker count (connected_workers: distributed's
    scheduler_info, with no time limit) and the survey's end joined that thread with none either: a
    scheduler that stopped answering (its node died) held the survey for ever after its last lens.
    The question is now given CONNECT_TIMEOUT (None: not told), the join is bounded, and the thread
    prints nothing once the survey ended. Each wait here is in a thread of its own, given 60 s: without
    the fix the test fails rather than hangs."""
    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(survey_cluster, "connect_seconds", lambda: 0.3)
    asked, release = threading.Event(), threading.Event()

    class Unanswering:
        def scheduler_info(self, *args, **kwargs):
            asked.set()
            release.wait()  # until the test ends: a scheduler whose node died
            return {"n_workers": 1}

    def within(call, seconds=60.0):
        got = []
        thread = threading.Thread(target=lambda: got.append(call()), daemon=True)
        thread.start()
        thread.join(seconds)
        return got

    try:
        assert within(lambda: survey_watch.connected_workers(Unanswering())) == [None]
        bar = progress.SurveyProgress(2, [], enabled=True, workers=lambda: survey_watch.connected_workers(Unanswering()))
        bar.__enter__()
        assert asked.wait(60)
        bar.update({"status": "ok"})
        assert within(lambda: bar.__exit__(None, None, None)) == [None], "the survey's end waited for the scheduler"
        capsys.readouterr()
        time.sleep(0.6)  # past the heartbeat's question: it says nothing after the survey's last line
        assert capsys.readouterr().err == ""
    finally:
        release.set()


class _HungScheduler:
    """A client whose scheduler hangs with its connection open: each question is noted in ``asked``
    and answered (3 workers) only once ``release`` is set."""

    def __init__(self, release: threading.Event, asked: list[int]):
        self.release, self.asked = release, asked

    def scheduler_info(self, *args, **kwargs):
        self.asked.append(1)
        self.release.wait(120)  # until the test lets it answer
        return {"n_workers": 3}


def test_questions_to_a_hung_scheduler_leave_a_bounded_number_of_threads(monkeypatch):
    """Each question to the cluster (answered) runs in a thread given CONNECT_TIMEOUT and is given up
    on after it; against a scheduler that hangs with its connection open (its process stopped) the
    thread never ended, and the no-worker watch asks every 5 s + 30 s: 200 questions left 200 threads
    (a day's survey ~2,500). At most MAX_QUESTIONS are now in flight; the next is answered at once as
    unanswered, asking nothing; once the scheduler answers, questions are asked again. (A fake
    client; the time limit cut to 0.01 s.)"""
    monkeypatch.setattr(survey_cluster, "connect_seconds", lambda: 0.01)
    release, asked = threading.Event(), []

    def question_threads() -> int:
        return sum(thread.name == "survey-scheduler-question" for thread in threading.enumerate())

    before, hung = question_threads(), _HungScheduler(release, asked)
    try:
        for _ in range(200):
            assert survey_watch.connected_workers(hung) is None
        assert len(asked) <= 64 and question_threads() - before <= 64, (len(asked), question_threads() - before)
        with pytest.raises(survey_cluster.Unanswered, match="questions still unanswered"):
            survey_cluster.answered(hung.scheduler_info, client=hung)
    finally:
        release.set()
    deadline = time.monotonic() + 60
    while question_threads() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    monkeypatch.setattr(survey_cluster, "connect_seconds", lambda: 30.0)
    assert survey_watch.connected_workers(_HungScheduler(release, asked)) == 3  # answering again: asked again


def test_a_hung_scheduler_s_questions_do_not_refuse_another_client_s(monkeypatch):
    """At most MAX_QUESTIONS (64) questions to the cluster were in flight in the whole process: in a
    notebook, a survey against a scheduler hung with its connection open left 64 threads stuck for
    good, and a later survey in the same kernel against a scheduler that answers had every question
    refused at once (Unanswered): no workers seen, lenses sent again and dropped. The bound is now
    each client's: the hung client's questions are still refused, the other's answered. (Fake clients;
    the time limit cut to 0.01 s for the hung one's.)"""
    monkeypatch.setattr(survey_cluster, "connect_seconds", lambda: 0.01)
    release, asked = threading.Event(), []

    class Healthy:
        def scheduler_info(self, *args, **kwargs):
            return {"n_workers": 2, "workers": {"tcp://10.0.0.2:1": {"nthreads": 1}, "tcp://10.0.0.3:1": {"nthreads": 1}}}

        def get_events(self, topic):
            return ((0.0, {"worker": "tcp://10.0.0.2:1", "rss": 5}),)

    hung, healthy = _HungScheduler(release, asked), Healthy()
    try:
        for _ in range(survey_cluster.MAX_QUESTIONS + 5):
            assert survey_watch.connected_workers(hung) is None
        deadline = time.monotonic() + 60  # a thread started may reach scheduler_info late on a loaded machine
        while len(asked) < survey_cluster.MAX_QUESTIONS and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(asked) == survey_cluster.MAX_QUESTIONS  # the last 5 refused, not asked
        monkeypatch.setattr(survey_cluster, "connect_seconds", lambda: 30.0)  # the healthy one's answers not cut short
        assert survey_watch.connected_workers(healthy) == 2
        assert survey_workers.every_worker_info(healthy)["n_workers"] == 2
        assert runner._in_flight_limit(healthy, known=7) == runner.MIN_IN_FLIGHT  # asked, not the known 7
        assert deaths.memory_restarts(healthy) == {"tcp://10.0.0.2:1": 5}
        assert survey_watch.connected_workers(hung) is None and len(asked) == survey_cluster.MAX_QUESTIONS  # still refused
    finally:
        release.set()


_UNANSWERED_QUESTIONS = {  # what each question gives where the scheduler does not answer
    "in_flight_limit": (lambda client, lens, out: runner._in_flight_limit(client), lambda ok: runner.MIN_IN_FLIGHT),
    "good_workers": (lambda client, lens, out: survey_workers.good_workers(client, {"tcp://10.0.0.1:1": {}}), lambda ok: None),
    "memory_restarts": (lambda client, lens, out: deaths.memory_restarts(client), lambda ok: {}),
    "task_value": (lambda client, lens, out: runner._task_row(runner._outcome(
        types.SimpleNamespace(status="finished", result=client.scheduler_info, exception=lambda: None), lens, out),
        lens, out), lambda ok: ok),
}


@pytest.mark.parametrize("question", sorted(_UNANSWERED_QUESTIONS))
def test_the_survey_s_questions_to_a_scheduler_that_stops_answering_are_not_waited_for_for_ever(tmp_path, monkeypatch,
                                                                                               question):
    """What the survey's main loop asks the scheduler between lenses had no time limit: the worker
    threads (how many tasks to keep submitted, at each lens), the workers (where some refused a lens),
    the nannies' memory events (a lens whose workers died) and a finished task's value. A scheduler
    that stopped answering (a remote one whose node died) held the survey there for ever, its
    catalogue not written. Each is now given CONNECT_TIMEOUT and answered as where it cannot be asked:
    the fewest tasks, no preferred workers, no memory events, the row the task's worker wrote. Each
    call is made in a thread given 60 s: without the fix the test fails rather than hangs."""
    monkeypatch.setattr(survey_cluster, "connect_seconds", lambda: 0.2)
    release = threading.Event()

    def unanswered(*args, **kwargs):
        release.wait()  # until the test ends: a scheduler whose node died
        return {"workers": {}, "n_workers": 0}

    def no_events(*args, **kwargs):
        release.wait()
        return ()

    client = types.SimpleNamespace(scheduler_info=unanswered, get_events=no_events)
    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    ok = survey_rows.flat_row("lens_a", RESULT)
    survey_rows.write_row(lens.output(tmp_path), ok)
    ask, expected = _UNANSWERED_QUESTIONS[question]
    got: list[Any] = []
    try:
        thread = threading.Thread(target=lambda: got.append(ask(client, lens, tmp_path)), daemon=True)
        thread.start()
        thread.join(60.0)
        assert got == [expected(ok)], f"{question}: waited for the scheduler"
    finally:
        release.set()


class _Reached(Exception):
    """Raised by the stand-ins of the stage test below where it has seen enough."""


def test_the_stage_of_a_running_fit_is_read_from_the_pipeline_state_its_worker_writes(tmp_path, monkeypatch):
    """What fit_stage reads of a lens's folder, checked against a real run_pipeline there (the tiny
    lens with a Gaussian lens light), stopped once it has seen enough: at stage 2 it says stage 1
    is done, at stage 3's first two starts how many starts ended; with stages 1-3 stood in for by a
    state of the prior's middle, at the sampler its first run. Before stage 1 has saved anything,
    and where the state is older than the fit's .attempts line (an earlier fit's), it says nothing."""
    import tinylens
    from tinylens.config.schema import Pipeline
    from tinylens.pipeline import run as pipeline_run
    from tinylens.pipeline.optimize import Objective

    from tiny_lens import tiny_config, write_tiny_lens

    write_tiny_lens(tmp_path)
    config = tiny_config()
    config["model_components"]["lens_light_list"] = [{"type": "Gaussian", "params": {
        "sigma": {"prior_type": "uniform", "prior_settings": [0.05, 2.0]},
        **{name: {"fixed": True, "fixed_value": 0.0} for name in ("center_x", "center_y", "e1", "e2")},
        "flux": {"use_linear": True}}}]
    problem = tinylens.load(config, base_dir=tmp_path)
    folder = tmp_path / "fit"
    folder.mkdir()
    attempts.note_attempt(folder)  # as the survey's worker does before the fit
    seen: list[tuple[str, str | None]] = []
    real_stage2, real_minimize = pipeline_run.stage2_done, Objective.minimize

    def at_stage2(*args, **kwargs):
        seen.append(("stage 2", attempts.fit_stage(folder)))
        return real_stage2(*args, **kwargs)

    def minimize(self, *args, **kwargs):
        seen.append(("minimize", attempts.fit_stage(folder)))
        if seen[-1][1] == "stage 3/4 (mass and source), 1 start ended":
            raise _Reached
        return real_minimize(self, *args, **kwargs)

    def sampler(problem, settings, progress=False, checkpoint_dir=None):
        seen.append(("sampler", attempts.fit_stage(folder)))
        raise _Reached

    with monkeypatch.context() as patched:
        patched.setattr(pipeline_run, "stage2_done", at_stage2)
        patched.setattr(Objective, "minimize", minimize)
        with pytest.raises(_Reached):
            pipeline_run.run_pipeline(problem, sampler, Pipeline(), progress=False, checkpoint_dir=folder)
    stage2 = seen.index(("stage 2", "stage 1/4 (lens light) done"))
    assert seen[:stage2] and all(where is None for _, where in seen[:stage2]), seen  # stage 1: nothing saved yet
    assert seen[stage2 + 1:] == [("minimize", "stage 3/4 (mass and source), 0 starts ended"),
                                 ("minimize", "stage 3/4 (mass and source), 1 start ended")], seen

    middle = pipeline_run.prior_middle(problem).tolist()
    monkeypatch.setattr(pipeline_run, "optimise", lambda *args, **kwargs: {
        "best": middle, "stages": {}, "n_evals": 0, "arc_mask": [], "time_s": 0.0, "threads": 1})
    with pytest.raises(_Reached):
        pipeline_run.run_pipeline(problem, sampler, Pipeline(), progress=False, checkpoint_dir=folder)
    assert seen[-1] == ("sampler", "stage 4/4 (sampling, run 1)"), seen

    state = folder / filenames.PIPELINE_STATE
    then = state.stat().st_mtime
    os.utime(state, (then - 60, then - 60))  # an earlier fit's, this one not yet past stage 1
    os.utime(folder / filenames.ATTEMPTS, (then, then))
    assert attempts.fit_stage(folder) is None


def test_fit_stage_of_a_pipeline_state_nested_too_deep_to_read_is_none(tmp_path):
    """A checkpoint.pipeline.json nested 100000 deep (a damaged or foreign file) made json.loads
    raise RecursionError in fit_stage, which the survey's heartbeat thread calls for every lens
    running, so that the thread died with a traceback; it is now a state that cannot be read, as an
    unreadable or malformed one is: None (nothing said of the lens's stage)."""
    lens = discovery.Lens("lens_a", tmp_path / "lenses" / "lens_a")
    folder = lens.output(tmp_path / "out")
    folder.mkdir(parents=True)
    attempts.note_attempt(folder)
    state = folder / filenames.PIPELINE_STATE
    depth = 100_000
    state.write_text('{"partial": ' * depth + '{"done": 1}' + "}" * depth)
    then = (folder / filenames.ATTEMPTS).stat().st_mtime
    os.utime(state, (then + 60, then + 60))  # written after this fit started: its own, read
    with pytest.raises(RecursionError):  # the truth: the standard library cannot read it
        json.loads(state.read_text())
    assert attempts.fit_stage(folder) is None
    assert attempts.lens_stage(lens, tmp_path / "out") is None
    state.write_text(json.dumps({"partial": {"done": 1}}))  # the same folder, a state it can read
    os.utime(state, (then + 60, then + 60))
    assert attempts.fit_stage(folder) == "stage 1/4 (lens light) done"


def test_heartbeat_of_a_one_lens_survey_says_its_stage(tmp_path, capsys):
    """A survey of one lens logged '; still fitting, 25m 00s elapsed' for the whole of a long fit,
    where tinylens fit of the same lens shows its stages; the heartbeat now says the stage its
    pipeline state tells (fit_stage), and 'still fitting' where it tells none."""
    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    folder = lens.output(tmp_path)
    folder.mkdir(parents=True)
    attempts.note_attempt(folder)
    now = [0.0]
    with progress.SurveyProgress(1, [], enabled=True, clock=lambda: now[0],
                               stage=lambda: attempts.lens_stage(lens, tmp_path)) as bar:
        now[0] = progress.HEARTBEAT_SECONDS + 5
        bar.heartbeat()  # no state yet
        (folder / filenames.PIPELINE_STATE).write_text(json.dumps({"fingerprint": "f", "partial": {
            "done": 2, "fits": [{}, {}]}}))
        now[0] = 2 * progress.HEARTBEAT_SECONDS + 10
        bar.heartbeat()
    err = capsys.readouterr().err.splitlines()
    assert err[1].endswith("; still fitting, 10m 05s elapsed"), err
    assert err[2].endswith("; fitting lens_a: stage 3/4 (mass and source), 2 starts ended, 20m 10s elapsed"), err


def test_a_one_lens_survey_logs_the_stage_its_fit_is_in(tmp_path, monkeypatch, capsys):
    """The same through _fit_lenses on an in-process cluster (fits faked: a fit that stays a second
    in stage 3, its pipeline state written): the heartbeat of a survey with one lens to fit names
    its stage; with two lenses in flight (one running, one queued on the one worker), it counts
    the lenses in each stage (stages_in_flight), where it said only 'still fitting'."""
    from distributed import LocalCluster

    from survey_mocks import fit_resting_in_stage_3

    monkeypatch.setattr(runner, "fit_lens", fit_resting_in_stage_3)
    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.2)
    for out in ("one", "two"):
        (tmp_path / out).mkdir()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        lenses = [discovery.Lens("lens_a", tmp_path / "in" / "lens_a")]
        runner._fit_lenses(lenses, {}, {}, tmp_path / "one", [], 1, cluster.scheduler_address, True)
        one = " ".join(capsys.readouterr().err.split())
        lenses.append(discovery.Lens("lens_b", tmp_path / "in" / "lens_b"))
        runner._fit_lenses(lenses, {}, {}, tmp_path / "two", [], 1, cluster.scheduler_address, True)
        two = " ".join(capsys.readouterr().err.split())
    assert "; fitting lens_a: stage 3/4 (mass and source), 1 start ended, " in one, one  # once its state is written
    assert "; fitting lenses: 1 in stage 3/4, " in two, two


def test_the_heartbeat_does_not_count_a_queued_lens_by_an_earlier_surveys_state(tmp_path, monkeypatch, capsys):
    """A resumed survey's lenses wait in Dask's queue (up to MIN_IN_FLIGHT of them submitted at
    once) with the pipeline state an earlier, stopped survey left in their folders; the heartbeat
    counted each as in that state's stage (here 'sampling': '2 in stage 4/4, 1 in stage 3/4' with
    only lens_a fitted by the one worker). Only lenses whose fit started since the survey submitted
    them are counted now: '1 in stage 3/4' while lens_a fits, never a 'stage 4/4' no fit was in."""
    from distributed import LocalCluster

    from survey_mocks import fit_resting_in_stage_3

    monkeypatch.setattr(runner, "fit_lens", fit_resting_in_stage_3)
    monkeypatch.setattr(progress, "HEARTBEAT_SECONDS", 0.2)
    out = tmp_path / "out"
    out.mkdir()
    lenses = [discovery.Lens(lens_id, tmp_path / "in" / lens_id) for lens_id in ("lens_a", "lens_b", "lens_c")]
    for lens in lenses[1:]:  # stopped while sampling, by an earlier survey
        folder = lens.output(out)
        folder.mkdir(parents=True)
        attempts.note_attempt(folder)
        (folder / filenames.PIPELINE_STATE).write_text(json.dumps({"fingerprint": "f", "best": [0.0], "runs": []}))
        assert attempts.fit_stage(folder) == "stage 4/4 (sampling, run 1)"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        runner._fit_lenses(lenses, {}, {}, out, [], 1, cluster.scheduler_address, True)
    err = " ".join(capsys.readouterr().err.split())
    assert "; fitting lenses: 1 in stage 3/4, " in err, err
    assert "stage 4/4" not in err, err


def _lens_in_stage(out: Path, lens_id: str, state: dict | None, earlier: bool = False) -> discovery.Lens:
    """A lens of the survey folder ``out`` whose fit has started (its .attempts line) and written
    the pipeline ``state`` (None: none yet), or (``earlier``) whose state is an earlier fit's."""
    lens = discovery.Lens(lens_id, out.parent / "in" / lens_id)
    folder = lens.output(out)
    folder.mkdir(parents=True)
    attempts.note_attempt(folder)
    if state is not None:
        (folder / filenames.PIPELINE_STATE).write_text(json.dumps(state))
        then = (folder / filenames.ATTEMPTS).stat().st_mtime + (-60 if earlier else 60)
        os.utime(folder / filenames.PIPELINE_STATE, (then, then))
    return lens


def test_the_heartbeat_of_many_lenses_in_flight_counts_them_by_stage(tmp_path, capsys):
    """With several lenses in flight the heartbeat said only 'still fitting' (the stage was told
    only where one lens was left to fit); it now counts them by the stage their pipeline states
    tell, the furthest first: two sampling, one whose stage 1 is done (so in stage 2), one in stage
    3; one with no state yet and one whose state is an earlier fit's are not counted. With one lens
    in flight it names it, as before; with none telling, 'still fitting'."""
    out = tmp_path / "out"
    sampling = {"fingerprint": "f", "best": [0.0], "runs": []}
    lenses = [_lens_in_stage(out, "lens_a", sampling),
              _lens_in_stage(out, "lens_b", {**sampling, "runs": [{}]}),
              _lens_in_stage(out, "lens_c", {"fingerprint": "f", "partial": {"done": 1}}),
              _lens_in_stage(out, "lens_d", {"fingerprint": "f", "partial": {"done": 2, "fits": [{}]}}),
              _lens_in_stage(out, "lens_e", None),
              _lens_in_stage(out, "lens_f", sampling, earlier=True)]
    assert attempts.stages_in_flight(lenses, out) == "lenses: 2 in stage 4/4, 1 in stage 3/4, 1 in stage 2/4"
    assert attempts.stages_in_flight(lenses[2:3], out) == "lens_c: stage 1/4 (lens light) done"
    assert attempts.stages_in_flight(lenses[4:], out) is None
    in_flight = {"future_a": lenses[0], "future_c": lenses[2]}
    now = [0.0]
    with progress.SurveyProgress(8, [], enabled=True, clock=lambda: now[0],
                               stage=lambda: attempts.stages_in_flight(attempts.snapshot(in_flight), out)) as bar:
        now[0] = progress.HEARTBEAT_SECONDS + 5
        bar.heartbeat()
        in_flight.pop("future_a")
        now[0] = 2 * progress.HEARTBEAT_SECONDS + 10
        bar.heartbeat()
        in_flight.clear()
        now[0] = 3 * progress.HEARTBEAT_SECONDS + 15
        bar.heartbeat()
    err = capsys.readouterr().err.splitlines()
    assert err[1].endswith("; fitting lenses: 1 in stage 4/4, 1 in stage 2/4, 10m 05s elapsed"), err
    assert err[2].endswith("; fitting lens_c: stage 1/4 (lens light) done, 20m 10s elapsed"), err
    assert err[3].endswith("; still fitting, 30m 15s elapsed"), err


@pytest.mark.parametrize("total, start", [(1, "survey: 1 lens, 0 already done, 1 to fit"),
                                          (2, "survey: 2 lenses, 0 already done, 2 to fit")])
def test_the_start_line_counts_one_lens_as_one(capsys, total, start):
    """A survey of one lens (a single lens retried with --only) began 'survey: 1 lenses, ...'."""
    with progress.SurveyProgress(total, [], enabled=True):
        pass
    assert capsys.readouterr().err.splitlines()[0] == start


@pytest.mark.parametrize("info, count", [({"n_workers": 7, "workers": {}}, 7),  # distributed from 2025
                                         ({"workers": {}}, 0),  # before: no n_workers, every worker listed
                                         ({"workers": {"tcp://a:1": {}, "tcp://b:2": {}}}, 2)])
def test_connected_workers_on_every_supported_distributed(info, count):
    """distributed 2024.x (pyproject allows 2024.1) gives no n_workers in scheduler_info, so
    a survey on a scheduler without workers said nothing and its heartbeat kept 'still fitting'."""
    assert survey_watch.connected_workers(mock.Mock(scheduler_info=lambda: info)) == count


def _info(workers: int, threads: int, listed: int | None, totals: bool) -> dict:
    """A ``scheduler_info()`` of ``workers`` workers of ``threads`` threads, listing ``listed``
    of them (None: all), with the cluster's totals or (distributed 2024.x) without."""
    shown = {f"tcp://10.0.0.{i}:1": {"nthreads": threads} for i in range(workers if listed is None else listed)}
    totals = {"n_workers": workers, "total_threads": workers * threads} if totals else {}
    return {**totals, "workers": shown}


@pytest.mark.parametrize("info", [_info(64, 16, 5, True),  # distributed 2025.4 to 2026.6: five workers listed
                                  _info(64, 16, None, True),  # from 2026.7: every worker
                                  _info(64, 16, None, False)])  # 2024.x: every worker, no totals
def test_a_large_cluster_gets_a_task_for_every_thread_and_a_bounded_queue(info):
    """With distributed 2025.4 to 2026.6, scheduler_info() lists only five workers, so a cluster
    of 64 workers x 16 threads was counted as 80 threads and got 1000 tasks in flight: 24 of its
    1024 threads stayed idle for the whole survey. Its total_threads is now read."""
    limit = runner._in_flight_limit(mock.Mock(scheduler_info=lambda: info))
    assert 1024 <= limit <= runner.IN_FLIGHT_PER_THREAD * 1024


def test_the_tasks_in_flight_when_the_cluster_cannot_be_asked():
    client = mock.Mock(scheduler_info=mock.Mock(side_effect=OSError("gone")))
    assert runner._in_flight_limit(client) == runner.MIN_IN_FLIGHT


def test_a_large_cluster_keeps_its_tasks_in_flight_when_one_answer_of_its_scheduler_comes_late(monkeypatch):
    """Since the survey gives its questions to the scheduler CONNECT_TIMEOUT (30 s), a busy but
    healthy scheduler answering the worker threads in 31 s at one lens had the survey keep only
    MIN_IN_FLIGHT (1000) tasks submitted: a cluster of 1500 threads (3000 tasks) was left with 500
    threads idle until a later answer came in time. The limit it last answered is now kept; the
    fewest only where it never answered."""
    monkeypatch.setattr(survey_cluster, "connect_seconds", lambda: 0.2)
    release, answers = threading.Event(), [_info(100, 15, None, True)]

    def scheduler_info(*args, **kwargs):
        if answers:
            return answers.pop()
        release.wait(30)  # busy: its answer comes after the survey stopped waiting for it
        return _info(100, 15, None, True)

    client = types.SimpleNamespace(scheduler_info=scheduler_info)
    try:
        first = runner._in_flight_limit(client)
        assert first == runner.IN_FLIGHT_PER_THREAD * 1500
        assert runner._in_flight_limit(client, known=first) == first
        assert runner._in_flight_limit(client) == runner.MIN_IN_FLIGHT  # never answered: the fewest
    finally:
        release.set()


class _Workers:
    """A client whose workers import the tinylens ``copies`` (address -> version, package file)."""

    def __init__(self, copies: dict[str, tuple[str, str]]) -> None:
        self.copies = copies

    def run(self, function, target, timeout, workers=None, on_error="raise", callback_timeout=None):
        assert callback_timeout == timeout + 30
        name = target.split(":")[1]
        if name not in ("__version__", "__file__"):  # the import check: every worker imports the runner
            return {address: function(target, timeout) for address in self.copies}
        return {address: copy[name == "__file__"] for address, copy in self.copies.items()
                if workers is None or address in workers}


def test_workers_importing_another_tinylens_version_are_refused_by_name():
    """A `dask worker` started in another environment, with another tinylens installed, fitted the
    survey's lenses with that copy without a word (the template checked, and the catalogue's
    provenance, are this command's); it is now refused, naming the worker and both versions and files."""
    import tinylens

    mine = (tinylens.__version__, tinylens.__file__)
    client = _Workers({"tcp://10.0.0.1:1": mine, "tcp://10.0.0.2:1": ("0.0.9", "/opt/old/tinylens/__init__.py")})
    with pytest.raises(TinyLensError) as caught:
        survey_workers.check_worker_imports(client)
    text = str(caught.value)
    assert "1 of the 2 Dask workers imports another version of tinylens" in text and "so its fits" in text, text
    assert "tcp://10.0.0.2:1: tinylens 0.0.9 from /opt/old/tinylens/__init__.py" in text, text
    assert f"this process runs tinylens {mine[0]} from {mine[1]}" in text and "10.0.0.1" not in text, text


def test_a_worker_with_an_older_tinylens_lacking_the_task_module_is_named_with_its_copy_not_told_to_install_tinylens():
    """The survey's task moved to tinylens.survey.task: a `dask worker` running an older tinylens (one
    without that module) failed the import check with 'cannot import tinylens ... Start the workers in
    an environment where tinylens is installed', though tinylens was installed there; it is now named
    as another copy of tinylens, with its version, its file and the module it lacks, beside this process's."""
    import tinylens

    old = ("0.0.9", "/opt/old/tinylens/__init__.py")
    lacks = "tinylens.survey.task"

    class OlderCopy:
        """Workers w:1 (this process's tinylens) and w:2 (``old``, without tinylens.survey.task);
        ``named``: whether the ModuleNotFoundError keeps its name on the way back."""

        def __init__(self, named: bool) -> None:
            self.named = named

        def run(self, function, target, timeout, workers=None, on_error="raise", callback_timeout=None):
            module, name = target.split(":")
            copies = {"tcp://w:1": (tinylens.__version__, tinylens.__file__), "tcp://w:2": old}
            if module != "tinylens":  # the import check, of the task's module
                error = ModuleNotFoundError(f"No module named '{module}'", **({"name": module} if self.named else {}))
                return {"tcp://w:1": module, "tcp://w:2": error}
            return {address: copy[name == "__file__"] for address, copy in copies.items()
                    if workers is None or address in workers}

    for named in (True, False):
        with pytest.raises(TinyLensError) as caught:
            survey_workers.check_worker_imports(OlderCopy(named), timeout=2)
        text = " ".join(str(caught.value).split())
        assert "cannot import tinylens" not in text and "where tinylens is installed" not in text, text
        assert text.startswith("1 of the 2 Dask workers imports another copy of tinylens than this process"), text
        assert f"tcp://w:2: tinylens {old[0]} from {old[1]} without {lacks};" in text, text
        assert f"this process runs tinylens {tinylens.__version__} from {tinylens.__file__}" in text, text
        assert "tcp://w:1" not in text and "then run the same command (or run_survey call) again." in text, text
    assert survey_workers.TASK_MODULE == lacks  # what an older tinylens lacks


def test_the_survey_messages_a_python_caller_can_get_tell_it_to_call_run_survey_again():
    """Six messages run_survey raises to a Python caller (this process out of memory as it connected,
    workers that cannot import tinylens or import another version, workers that refused every lens
    they were given, lenses dropped by the cluster, a scheduler lost) said 'run the same command
    again', words for the command line alone; each now names the run_survey call too."""
    import tinylens

    class NoTinylens:
        """A cluster of one worker that cannot import tinylens."""

        def run(self, function, target, timeout, on_error="raise", **kwargs):
            return {"tcp://w:0": ModuleNotFoundError("No module named 'tinylens'")}

    texts = [survey_cluster.short_of_memory_text("tcp://h:1", MemoryError()),
             runner.unfitted_text(["lens_a"], {"tcp://w:1": {}}, 1),
             runner.unfitted_text(["lens_a"], {"tcp://w:1": {"unseen": ["/data"]}}, 1),
             runner.dropped_text(["lens_a"], 1)]
    for client in (NoTinylens(), _Workers({"tcp://10.0.0.2:1": ("0.0.9", "/opt/old/tinylens/__init__.py")})):
        with pytest.raises(TinyLensError) as caught:
            survey_workers.check_worker_imports(client)
        texts.append(str(caught.value))
    assert "another version of tinylens" in texts[-1] and tinylens.__version__ != "0.0.9", texts[-1]
    for text in texts:
        text = " ".join(text.split())
        assert "then run the same command (or run_survey call) again" in text \
            or "; run the same command (or run_survey call) again to fit the rest." in text, text
        assert "run the same command again" not in text, text
    lost = survey_cluster.lost_scheduler_text("tcp://h:1", ["lens_a"], 1)
    assert "start the scheduler and its workers again, then run the same command (or run_survey call) to fit " \
        "the rest" in lost, lost


class _BlindWorkers:
    """A cluster of ``n`` workers (``tcp://w:0``, ...) that see no folder of the survey, nor its lock file."""

    def __init__(self, n: int = 1) -> None:
        self.n = n

    def run(self, function, lock, folders, timeout=None, workers=None, on_error="raise", callback_timeout=None):
        return {f"tcp://w:{i}": (None, list(folders)) for i in range(self.n)}


def _refused_by_blind_workers(tmp_path: Path) -> pytest.ExceptionInfo[TinyLensError]:
    """The folder check's refusal of a survey of the empty lens folder ``tmp_path/lenses`` (made
    here) and ``tmp_path/out`` on a cluster of one worker that sees neither (:class:`_BlindWorkers`)."""
    lenses = tmp_path / "lenses"
    lenses.mkdir()
    with pytest.raises(TinyLensError) as caught:
        survey_workers.check_worker_folders(_BlindWorkers(), tmp_path / "out", lenses)
    return caught


def test_the_folder_messages_a_python_caller_can_get_name_the_out_argument_too(tmp_path):
    """Three messages of workers that do not see the survey's folders, which run_survey gives a
    Python caller too (the folder check refusing the survey, the note of a worker whose task refused
    its lens, the error for the lenses only such workers were given), said 'the lens folders and
    --out', the command line's option alone; each now names run_survey's out= too."""

    caught = _refused_by_blind_workers(tmp_path)
    refusal = {"worker": "tcp://w:1", "unseen": "the lens folder /data/lens_a"}
    texts = [str(caught.value), survey_workers.refused_worker_note(refusal, ("1.0", "/here/tinylens/__init__.py")),
             runner.unfitted_text(["lens_a"], {"tcp://w:1": {"unseen": ["/data"]}}, 1)]
    for text in texts:
        text = " ".join(text.split())
        assert "the lens folders and --out (run_survey: out=)" in text.lower(), text
        assert "folders and --out must" not in text and "folders and --out," not in text, text


def test_the_folders_a_worker_does_not_see_are_named_by_run_surveys_arguments_too(tmp_path):
    """The folders that a worker does not see, which the folder check's refusal and the note of a
    worker whose task refused its lens name to a Python caller too, were named 'LENS_DIR /data/lenses'
    and '--out /data/out', the command line's words alone; each now names run_survey's argument too
    (lens_dir=, out=), before the path."""
    from tinylens.locks import folder_lock

    lenses, out = tmp_path / "lenses", tmp_path / "out"
    lenses.mkdir()
    out.mkdir()
    with folder_lock(out, filenames.SURVEY_LOCK_FILE) as locked:
        assert locked
        with pytest.raises(TinyLensError) as caught:
            survey_workers.check_worker_folders(_BlindWorkers(), out, lenses)
    text = " ".join(str(caught.value).split())
    assert (f"(tcp://w:0 does not see LENS_DIR (run_survey: lens_dir=) {lenses} and --out (run_survey: out=) "
            f"{out})") in text, text
    elsewhere, lens = tmp_path / "node" / "out", discovery.Lens("lens_a", tmp_path / "node" / "lens_a")
    said = survey_workers.unseen_here(survey_workers.task_view(elsewhere, "", lens))  # a node without either folder
    assert said == f"the lens folder {lens.folder} and --out (run_survey: out=) {elsewhere}", said


class _SchedulerOfOneWorker:
    """A scheduler's client (faked) whose one worker imports the tinylens ``copy`` (version,
    package file) and sees none of the survey's folders."""

    def __init__(self, copy: tuple[str, str]) -> None:
        self.copy = copy

    def __enter__(self) -> _SchedulerOfOneWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, function, *args, workers=None, on_error="raise", callback_timeout=None):
        if function is survey_workers.worker_view:  # (lock, folders, timeout)
            return {"tcp://w:0": (None, list(args[1]))}
        name = args[0].split(":")[1]  # the import check, then the version and file of its tinylens
        return {"tcp://w:0": {"__name__": survey_workers.TASK_MODULE, "__version__": self.copy[0], "__file__": self.copy[1]}[name]}


@pytest.mark.parametrize("elsewhere", [True, False], ids=["same version elsewhere", "another version"])
def test_no_message_a_run_survey_caller_gets_of_its_workers_says_this_command(tmp_path, mock_survey, monkeypatch,
                                                                               elsewhere):
    """The messages of workers that run another tinylens or do not see the survey's folders, which
    run_survey raises, warns or prints to a Python caller too, compared the workers with 'this
    command' ('does not see the survey's folders as this command does', 'another version of
    tinylens than this command'), where a notebook runs none; they now say 'this process', which
    reads right for both. (run_survey on a faked scheduler, then the survey's later notes.)"""
    import tinylens

    lenses, out = tmp_path / "lenses", tmp_path / "out"
    shutil.copytree(mock_survey["lenses"] / "lens_a", lenses / "lens_a")
    mine = (tinylens.__version__, str(tinylens.__file__))
    client = _SchedulerOfOneWorker((mine[0], "/opt/other/tinylens/__init__.py") if elsewhere
                                   else ("0.0.9", "/opt/old/tinylens/__init__.py"))
    monkeypatch.setattr(survey_cluster, "check_scheduler", lambda *args, **kwargs: None)
    monkeypatch.setattr(survey_client, "scheduler_client", lambda address: client)
    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: "lens_a")
    with warnings.catch_warnings(record=True) as caught, pytest.raises(TinyLensError) as refused:
        warnings.simplefilter("always")
        runner.run_survey(lenses, mock_survey["template"], out, scheduler="tcp://127.0.0.1:8786", progress=False)
    texts = [" ".join(str(w.message).split()) for w in caught] + [" ".join(str(refused.value).split())]
    if elsewhere:
        assert any(text.startswith("The one Dask worker imports tinylens from another place than this process "
                                   "(tcp://w:0: tinylens") for text in texts[:-1]), texts
        assert texts[-1].startswith("The one Dask worker does not see the survey's folders as this process does "
                                    "(tcp://w:0 does not see"), texts[-1]
    else:
        assert texts[-1].startswith("The one Dask worker imports another version of tinylens than this process "
                                    "(tcp://w:0: tinylens 0.0.9"), texts[-1]
        assert f"this process runs tinylens {mine[0]} from {mine[1]}" in texts[-1], texts[-1]
    assert not out.exists()  # refused before anything was written
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        survey_workers.warn_unchecked(": the cluster could not be asked (OSError: Connection refused)")
    texts += [str(w.message) for w in later]
    for refusal in ({"worker": "tcp://w:1", "version": "0.0.9", "file": "/opt/old/tinylens/__init__.py"},
                    {"worker": "tcp://w:1", "unseen": "the lens folder /data/lens_a"}):
        texts += [survey_workers.refused_worker_note(refusal, mine), runner.unfitted_text(["lens_a"], {"tcp://w:1": refusal}, 0)]
    for text in texts:
        assert "this command" not in " ".join(text.split()), text
    assert all("this process" in text for text in texts[-5:]), texts[-5:]


def test_the_folder_check_refusing_a_survey_tells_a_python_caller_to_call_run_survey_again(tmp_path):
    """The folder check's refusal of workers that do not see the survey's folders, which run_survey
    raises to a Python caller too, ended 'then run the command again', words for the command line
    alone; it now names the run_survey call too, as the survey's other advice does (SURVEY_RERUN)."""

    caught = _refused_by_blind_workers(tmp_path)
    text = " ".join(str(caught.value).split())
    assert text.endswith("give folders on a shared disk, then run the same command (or run_survey call) again."), text


def test_the_folder_warnings_a_python_caller_can_get_name_the_out_argument_too(tmp_path):
    """Two DataWarnings that run_survey gives a Python caller too (an output folder on a disk
    without locks, a folder check that could not be made) said '--out' alone, the command line's
    option ('started on this --out', 'give an --out on a disk with locks', 'its lens folder and
    --out'); each now names run_survey's out= too, or says 'this folder'."""
    with pytest.warns(DataWarning) as caught:
        runner.warn_unlocked(tmp_path / "out")
        survey_workers.warn_unchecked(": the cluster gave no answer")
    unlocked, unchecked = (" ".join(str(w.message).split()) for w in caught)
    assert "a second tinylens survey started on this folder while" in unlocked, unlocked
    assert unlocked.endswith("(or choose another --out (run_survey: out=) on a disk with locks)."), unlocked
    assert "whether it sees its lens folder and --out (run_survey: out=), and one" in unchecked, unchecked
    for text in (unlocked, unchecked):
        assert "this --out" not in text and "an --out" not in text and "and --out," not in text, text


def test_a_linked_lens_folder_a_worker_must_see_is_named_by_run_surveys_lens_dir_too(tmp_path):
    """A lens folder elsewhere that a link in the lens folders leads to, which the folder check names
    to a Python caller of run_survey too, was 'the lens folder lens_a that LENS_DIR links to', the
    command line's word alone; it now names run_survey's lens_dir= too."""
    lens_dir, scratch = tmp_path / "lenses", tmp_path / "scratch"
    folders = survey_workers.seen_folders(lens_dir, [discovery.Lens("lens_a", scratch / "lens_a"), discovery.Lens("lens_b", lens_dir / "lens_b")])
    assert folders == {str(lens_dir): f"LENS_DIR (run_survey: lens_dir=) {lens_dir}",
                       str(scratch / "lens_a"): f"{scratch / 'lens_a'}, the lens folder lens_a that LENS_DIR "
                                                "(run_survey: lens_dir=) links to"}, folders


def test_the_workers_messages_a_python_caller_can_get_name_the_workers_argument_too(tmp_path, mock_survey, monkeypatch):
    """Two messages of a survey's local workers that run_survey gives a Python caller too (its
    refusal of more workers than the cores can take, and the reason of a lens whose local worker ran
    out of memory) said '--workers' alone, the command line's option; each now names run_survey's
    workers= too, and the refusal asks for a number of them, not for the option."""
    from distributed import KilledWorker

    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    with pytest.raises(TinyLensError) as caught:
        runner.run_survey(mock_survey["lenses"], mock_survey["template"], tmp_path / "out", workers=65, progress=False)
    refusal = " ".join(str(caught.value).split())
    assert refusal.startswith("--workers 65 (run_survey: workers=) is more than 32 times the 2 cores"), refusal
    assert refusal.endswith("Give 2 or fewer (at most 64)."), refusal
    reason = deaths.out_of_memory_reason(KilledWorker("fit_lens-1", "tcp://w:1", 0), {"tcp://w:1": int(2e9)}, local=True)
    assert "; run the survey with fewer --workers (run_survey: workers=) or where there is more memory (each" in reason, reason
    assert len(reason) <= survey_rows.MAX_REASON


def test_the_out_of_memory_advice_keeps_more_memory_as_its_second_choice():
    """The advice of a lens whose local worker ran out of memory, once run_survey's workers= was
    named in it (6b85cdb), read 'with fewer --workers (run_survey: workers=), as each local worker may
    use the memory of the machine, or of the batch job, divided by their number, or where there is
    more memory': its second choice read as a third kind of memory. The two choices are now side by
    side, the why after them in parentheses."""
    from distributed import KilledWorker

    reason = deaths.out_of_memory_reason(KilledWorker("fit_lens-1", "tcp://w:1", 0), {"tcp://w:1": int(2e9)}, local=True)
    assert reason.endswith("; run the survey with fewer --workers (run_survey: workers=) or where there is more memory "
                           "(each local worker may use the memory of the machine, or of the batch job, divided by their "
                           "number)."), reason
    assert "divided by their number, or where" not in reason, reason


def test_workers_importing_tinylens_from_another_place_are_warned_of_by_name():
    """Workers started with PYTHONPATH pointing at another checkout of the same version fitted with
    that checkout's code silently; the survey now warns, naming the worker and both files."""
    import tinylens

    from tinylens.errors import ConfigWarning

    mine = (tinylens.__version__, tinylens.__file__)
    other = (mine[0], "/home/me/old-checkout/src/tinylens/__init__.py")
    with pytest.warns(ConfigWarning) as caught:
        survey_workers.check_worker_imports(_Workers({"tcp://10.0.0.1:1": mine, "tcp://10.0.0.2:1": other}))
    text = str(caught[0].message)
    assert f"tcp://10.0.0.2:1: tinylens {mine[0]} from {other[1]}" in text and mine[1] in text, text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        survey_workers.check_worker_imports(_Workers({"tcp://10.0.0.1:1": mine}))  # the same copy: no word


def test_a_worker_whose_tinylens_import_hangs_is_named_and_the_survey_goes_on(tmp_path, monkeypatch):
    """A worker whose tinylens sits on a hung mount (NFS server down) held the import check for ever,
    and the survey hung at its start without a word. Each worker now imports in a thread of its own,
    for at most the check's timeout; one that gave no answer is named in a ConfigWarning, its copy is
    not asked about, and the survey goes on. (An in-process Dask cluster; the module imported reads
    a FIFO that no one writes, as a file on a hung mount; a writer comes after 30 s, so that the test
    ends without the timeout too, and fails.)"""
    from distributed import Client, LocalCluster

    from tinylens.errors import ConfigWarning

    name = f"hung_import_{os.getpid()}_{time.monotonic_ns()}"  # a module no test imported before
    fifo = tmp_path / "hung"
    (tmp_path / f"{name}.py").write_text(f"open({str(fifo)!r}).read()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with _hung_file(fifo), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        release = threading.Timer(30, lambda: os.close(os.open(fifo, os.O_WRONLY)))
        release.start()
        try:
            worker = next(iter(cluster.workers.values())).address
            with pytest.warns(ConfigWarning) as caught:
                survey_workers.check_worker_imports(client, name, timeout=0.5)
        finally:
            release.cancel()
    texts = [" ".join(str(w.message).split()) for w in caught]
    assert any(text.startswith(f"Which tinylens the Dask workers import was not checked for the one worker: {worker} "
                               "gave no answer within 0.5 s (does a file system it imports from hang, such as an NFS "
                               "mount whose server is down?). The survey goes on") for text in texts), texts


def test_a_cluster_that_does_not_answer_the_import_check_is_warned_of_and_asked_under_a_deadline():
    """check_worker_imports asked the cluster with no deadline; it now gives it the workers' timeout
    and CONNECT_TIMEOUT more (Dask's callback_timeout, which raises TimeoutError), then warns that
    the workers' tinylens was not checked, and the survey goes on. (Client faked.)"""
    from tinylens.errors import ConfigWarning

    class Unanswered:
        def run(self, function, target, timeout, workers=None, on_error="raise", callback_timeout=None):
            assert callback_timeout == timeout + 30
            raise TimeoutError(f"timed out after {callback_timeout} s.")

    with pytest.warns(ConfigWarning) as caught:
        survey_workers.check_worker_imports(Unanswered(), timeout=2)
    assert str(caught[0].message).startswith("Which tinylens the Dask workers import was not checked: the cluster "
                                             "did not answer within 32 s. The survey goes on"), caught[0].message


def test_the_import_check_runs_on_a_worker_that_cannot_import_tinylens():
    """The import check (resolved_within) must run on a worker started without tinylens, to tell
    that it cannot import it: pickled as Dask pickles what client.run sends (cloudpickle, by value,
    as a function local to the runner), it is run in another Python in which importing tinylens
    fails. It gives a plain module's value, and the ImportError of tinylens raised again, not an
    error of its own unpickling."""
    import subprocess
    import sys

    from distributed.protocol.pickle import dumps

    code = ("import json, pickle, sys; sys.modules['tinylens'] = None; check = pickle.loads(sys.stdin.buffer.read()); "
            "told = {'os': check('os.path:sep', 60)}\n"
            "try:\n    check('tinylens.survey.runner:__name__', 60)\n"
            "except ImportError as exc:\n    told['tinylens'] = type(exc).__name__\n"
            "told['imported'] = sorted(m for m in sys.modules if m.startswith('tinylens') and sys.modules[m] is not None)\n"
            "print(json.dumps(told))")
    sent = dumps(threads.resolved_within)
    ran = subprocess.run([sys.executable, "-c", code], input=sent, capture_output=True, timeout=120)
    assert ran.returncode == 0, ran.stderr.decode()
    assert json.loads(ran.stdout.decode().splitlines()[-1]) == {"os": os.sep, "tinylens": "ModuleNotFoundError",
                                                               "imported": []}


@pytest.mark.parametrize("failing", ["__name__", "__file__"])
def test_a_cluster_that_cannot_be_asked_for_its_workers_tinylens_is_warned_of_naming_the_error(failing):
    """check_worker_imports (and check_worker_copies, which it calls) said nothing when asking the
    cluster failed with anything but a timeout (its connection closed, a worker's reply that could
    not be read), so the workers' tinylens went unchecked without a word; it now warns, naming the
    error, and the survey goes on. (Client faked: asking for the import, or for the copies' files, fails.)"""
    import tinylens
    from distributed.comm.core import CommClosedError

    from tinylens.errors import ConfigWarning

    class Failing(_Workers):
        def run(self, function, target, timeout, workers=None, on_error="raise", callback_timeout=None):
            if target.endswith(f":{failing}"):
                raise CommClosedError("in <TCP (closed) ConnectionPool.broadcast local=tcp://127.0.0.1:1>")
            return super().run(function, target, timeout, workers, on_error, callback_timeout)

    with pytest.warns(ConfigWarning) as caught:
        survey_workers.check_worker_imports(Failing({"tcp://10.0.0.1:1": (tinylens.__version__, tinylens.__file__)}), timeout=2)
    texts = [" ".join(str(w.message).split()) for w in caught if issubclass(w.category, ConfigWarning)]
    assert len(texts) == 1 and texts[0].startswith(
        "Which tinylens the Dask workers import was not checked: the cluster could not be asked (CommClosedError: in "
        "<TCP (closed) ConnectionPool.broadcast"), texts
    assert "The survey goes on" in texts[0], texts


def test_a_worker_whose_tinylens_import_hangs_is_waited_for_once_per_ask_of_the_copies():
    """worker_copies asked every worker for its tinylens version, then every one again for its
    package file, so a worker whose import hangs (no answer within the timeout) was waited for
    twice, as task_copies asks at each survey's start: 2 minutes more before the first lens was
    submitted. A worker that gave no version is now not asked for its file: one wait, and the
    others' copies as before. (Client faked; its clock counts the seconds it waited.)"""
    import tinylens

    mine = (tinylens.__version__, str(tinylens.__file__))

    class OneHung:
        waited = 0.0

        def run(self, function, target, timeout, workers=None, on_error="raise", callback_timeout=None):
            asked = ["tcp://w:1", "tcp://w:2"] if workers is None else workers
            if "tcp://w:1" in asked:  # its import hangs: no answer within the timeout
                self.waited += timeout
            name = target.split(":")[1]
            return {address: None if address == "tcp://w:1" else mine[name == "__file__"] for address in asked}

    client = OneHung()
    assert survey_workers.worker_copies(client, timeout=2) == {"tcp://w:2": mine}
    assert client.waited == 2
    assert survey_workers.task_copies(client) == (mine[0], tuple(dict.fromkeys([mine[1], os.path.realpath(mine[1])])))
    assert client.waited == 2 + survey_workers.IMPORT_CHECK_SECONDS


def test_a_worker_whose_tinylens_import_hangs_is_not_asked_again_by_the_later_checks(tmp_path):
    """A worker named in the import check's warning (its import hangs) was asked again by the
    folder check and by task_copies, each waiting for it to the end of its timeout (30 s and 60 s
    more before the first lens was submitted, for nothing); the import check now returns the
    workers that gave no answer, and the later checks leave them out, the others asked as before.
    (Client faked: the workers that answer run the checks here; its clock counts the seconds it
    waited.)"""
    import tinylens

    from tinylens.errors import ConfigWarning

    lens_dir, out = tmp_path / "lenses", tmp_path / "out"
    lens_dir.mkdir()
    out.mkdir()
    mine = (tinylens.__version__, str(tinylens.__file__))

    class OneHung:
        """Two workers, the first of which gives no answer (its tinylens import hangs)."""

        addresses = ["tcp://w:1", "tcp://w:2"]
        waited = 0.0

        def run(self, function, *args, workers=None, on_error="raise", callback_timeout=None):
            asked = self.addresses if workers is None else workers
            if "tcp://w:1" in asked:
                self.waited += args[-1]  # each check's timeout, its last argument
            return {address: None if address == "tcp://w:1" else function(*args) for address in asked}

        def scheduler_info(self, n_workers=0):
            return {"workers": {address: {} for address in self.addresses}}

    client = OneHung()
    with pytest.warns(ConfigWarning):
        silent = survey_workers.check_worker_imports(client, timeout=2)
    assert silent == ["tcp://w:1"] and client.waited == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the worker asked sees the folders: no word
        survey_workers.check_worker_folders(client, out, lens_dir, timeout=2, skip=silent)
    assert survey_workers.task_copies(client, silent) == (mine[0], tuple(dict.fromkeys([mine[1], os.path.realpath(mine[1])])))
    assert client.waited == 2  # not waited for again
    client.addresses = ["tcp://w:1"]  # the one worker: nobody is asked
    survey_workers.check_worker_folders(client, out, lens_dir, timeout=2, skip=silent)
    assert survey_workers.task_copies(client, silent)[0] == mine[0] and client.waited == 2


def test_a_folder_check_leaving_out_a_silent_worker_warns_when_the_scheduler_cannot_list_its_workers(tmp_path):
    """With a worker left out (its import check gave no answer), the folder check asked the scheduler
    which workers there were, and where that call failed it took the answer for 'every worker left
    out' and skipped the check without a word (without one left out it warned that the cluster
    could not be asked). It now warns so in both cases; task_copies still falls back on this
    process's copy. (Client faked: its scheduler_info raises, its run must not be called.)"""
    import tinylens

    lens_dir, out = tmp_path / "lenses", tmp_path / "out"
    lens_dir.mkdir()
    out.mkdir()

    class Unlisted:
        def run(self, *args, **kwargs):
            raise AssertionError("the workers were asked without the scheduler listing them")

        def scheduler_info(self, n_workers=0):
            raise OSError("Connection refused")

    with pytest.warns(DataWarning) as caught:
        survey_workers.check_worker_folders(Unlisted(), out, lens_dir, timeout=2, skip=["tcp://w:1"])
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert str(caught[0].message).startswith(
        "Whether the Dask workers see the survey's folders as this process does was not checked: the cluster could "
        "not be asked (OSError: Connection refused). The survey goes on"), caught[0].message
    mine = (tinylens.__version__, str(tinylens.__file__))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert survey_workers.task_copies(Unlisted(), ["tcp://w:1"]) == (
            mine[0], tuple(dict.fromkeys([mine[1], os.path.realpath(mine[1])])))


@pytest.mark.parametrize("answer", ["blind", "failed"])
def test_a_folder_check_that_leaves_out_a_silent_worker_counts_it_among_the_clusters(tmp_path, answer):
    """The folder check left out the workers its import check did not hear from, and then counted
    only those it asked: of two workers, one left out and the other not seeing LENS_DIR, it said
    'The one Dask worker does not see ...' (or warned 'for the one worker'), as if the cluster had
    one. It now counts the cluster's workers: '1 of the 2'. (Client faked: two workers, the first
    left out.)"""
    from tinylens.errors import DataWarning

    lens_dir, out = tmp_path / "lenses", tmp_path / "out"
    lens_dir.mkdir()
    out.mkdir()

    class TwoWorkers:
        addresses = ["tcp://w:1", "tcp://w:2"]

        def run(self, function, lock, folders, timeout, workers=None, on_error="raise", callback_timeout=None):
            assert workers == ["tcp://w:2"]
            return {"tcp://w:2": (None, list(folders)) if answer == "blind" else RuntimeError("comm closed")}

        def scheduler_info(self, n_workers=0):
            return {"workers": {address: {} for address in self.addresses}}

    if answer == "blind":
        with pytest.raises(TinyLensError) as caught:
            survey_workers.check_worker_folders(TwoWorkers(), out, lens_dir, timeout=2, skip=["tcp://w:1"])
        assert str(caught.value).startswith("1 of the 2 Dask workers does not see the survey's folders"), caught.value
    else:
        with pytest.warns(DataWarning) as caught:
            survey_workers.check_worker_folders(TwoWorkers(), out, lens_dir, timeout=2, skip=["tcp://w:1"])
        text = " ".join(str(caught[0].message).split())
        assert " was not checked for 1 of the 2 workers: on tcp://w:2 the check failed" in text, text


def test_a_folder_check_not_made_says_what_the_tasks_do_of_a_worker_that_does_not_see_the_folders(tmp_path):
    """The warning of a folder check that could not be made said that a worker not seeing LENS_DIR
    and --out 'fails its lenses'; since each task asks its worker first (checked_task), such a
    worker fits none of them (they go to the others). It now says so, and that a worker whose file
    system hangs holds its lenses. (Client faked: the cluster does not answer.)"""
    from tinylens.errors import DataWarning

    lens_dir, out = tmp_path / "lenses", tmp_path / "out"
    lens_dir.mkdir()
    out.mkdir()

    class Silent:
        def run(self, *args, **kwargs):
            raise TimeoutError

    with pytest.warns(DataWarning) as caught:
        survey_workers.check_worker_folders(Silent(), out, lens_dir, timeout=2)
    text = " ".join(str(caught[0].message).split())
    assert "fails its lenses" not in text, text
    assert ("The survey goes on: each task asks its worker whether it sees its lens folder and --out (run_survey: "
            "out=), and one that does not fits none of them, but a worker whose file system hangs holds the lenses given to it") in text, text


def test_the_survey_gives_the_workers_its_import_check_did_not_hear_from_to_the_later_checks(tmp_path, mock_survey,
                                                                                             monkeypatch):
    """run_survey on a scheduler hands the workers that gave no answer to the import check to the
    folder check and to _fit_lenses (task_copies), and has its tasks ask their workers whether they
    see the survey's folders. (In-process workers, its one worker said to have given no answer;
    fits faked.)"""
    from distributed import LocalCluster

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    given: dict[str, Any] = {}
    check_worker_folders, fit_lenses = survey_workers.check_worker_folders, runner._fit_lenses

    def folders_checked(*args, skip=(), **kwargs):
        given["folders"] = list(skip)
        return check_worker_folders(*args, skip=skip, **kwargs)

    def fitted(*args, silent=(), check_folders=False, **kwargs):
        given["fit"] = list(silent), check_folders
        return fit_lenses(*args, silent=silent, check_folders=check_folders, **kwargs)

    monkeypatch.setattr(runner, "check_worker_folders", folders_checked)
    monkeypatch.setattr(runner, "_fit_lenses", fitted)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        worker = next(iter(cluster.workers.values())).address
        monkeypatch.setattr(survey_client, "check_worker_imports", lambda client, **kwargs: [worker])
        frame = runner.run_survey(mock_survey["lenses"], mock_survey["template"], tmp_path / "out",
                                  scheduler=cluster.scheduler_address, progress=False)
    assert given == {"folders": [worker], "fit": ([worker], True)}
    assert frame["status"].tolist() == ["ok"] * 4, frame


def test_a_worker_whose_tinylens_copy_gave_no_answer_is_not_asked_again_when_fitting_starts(tmp_path, mock_survey,
                                                                                          monkeypatch):
    """A worker that answered the import check but gave no answer for its tinylens version
    (copies_unchecked) was asked again by task_copies when fitting started: another wait of up
    to 60 s for nothing. task_copies now leaves it out as it does the silent ones (unasked_copies),
    EVERY_WORKER (the cluster not asked at all) leaving none out; its tasks still check its
    tinylens, so one of this process's copy fits its lenses. (A client faked, its clock counting
    the seconds it waited; then in-process workers, the one worker said to have given no answer, fits faked.)"""
    import tinylens
    from distributed import LocalCluster

    from survey_mocks import echo_truth_path
    from tinylens.errors import ConfigWarning

    mine = (tinylens.__version__, str(tinylens.__file__))

    class HungCopy:
        """Two workers that import the runner, the first giving no answer for its tinylens version."""

        waited = 0.0

        def run(self, function, target, timeout, workers=None, on_error="raise", callback_timeout=None):
            asked = ["tcp://w:1", "tcp://w:2"] if workers is None else workers
            name = target.split(":")[1]
            if name not in ("__version__", "__file__"):  # the import check: both answer
                return {address: "tinylens.survey.runner" for address in asked}
            if "tcp://w:1" in asked:
                self.waited += timeout
            return {address: None if address == "tcp://w:1" else mine[name == "__file__"] for address in asked}

        def scheduler_info(self, n_workers=0):
            return {"workers": {"tcp://w:1": {}, "tcp://w:2": {}}}

    client, unchecked = HungCopy(), {}
    with pytest.warns(ConfigWarning):
        assert survey_workers.check_worker_imports(client, timeout=2, unchecked=unchecked) == []
    assert list(unchecked) == ["tcp://w:1"] and client.waited == 2
    assert survey_workers.unasked_copies([], unchecked) == ["tcp://w:1"]
    assert survey_workers.unasked_copies(["tcp://w:0"], {survey_workers.EVERY_WORKER: "why", "tcp://w:0": "why"}) == ["tcp://w:0"]
    assert survey_workers.task_copies(client, survey_workers.unasked_copies([], unchecked)) == (
        mine[0], tuple(dict.fromkeys([mine[1], os.path.realpath(mine[1])])))
    assert client.waited == 2  # not waited for again

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    skipped: list[list[str]] = []
    task_copies = survey_workers.task_copies

    def copies_asked(client, skip=()):
        skipped.append(list(skip))
        return task_copies(client, skip)

    monkeypatch.setattr(runner, "task_copies", copies_asked)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        worker = next(iter(cluster.workers.values())).address

        def copy_unanswered(client, unchecked=None, **kwargs):
            unchecked[worker] = "it gave no answer within 60 s"
            return []

        monkeypatch.setattr(survey_client, "check_worker_imports", copy_unanswered)
        frame = runner.run_survey(mock_survey["lenses"], mock_survey["template"], tmp_path / "out",
                                  scheduler=cluster.scheduler_address, progress=False)
    assert skipped == [[worker]]
    assert frame["status"].tolist() == ["ok"] * 4, frame


def test_workers_that_gave_no_answer_are_said_as_one_or_as_several():
    """One worker that gave no answer to the folder check or the import check was asked of as
    several: '(does a file system they read hang, ...)', '... they import from hang'; one is now
    'it reads' / 'it imports from', several 'they read' / 'they import from'. (Clients faked.)"""
    from tinylens.errors import ConfigWarning

    assert survey_workers.unchecked_text({"tcp://w:1": None}, 0.5) == (
        "tcp://w:1 gave no answer within 0.5 s (does a file system it reads hang, such as an NFS mount whose server "
        "is down?)")
    assert survey_workers.unchecked_text({"tcp://w:1": None, "tcp://w:2": None}, 2) == (
        "tcp://w:1, tcp://w:2 gave no answer within 2 s (does a file system they read hang, such as an NFS mount "
        "whose server is down?)")

    class Silent:
        """A cluster of ``addresses`` none of which answers."""

        def __init__(self, *addresses: str) -> None:
            self.addresses = addresses

        def run(self, function, target, timeout, workers=None, on_error="raise", callback_timeout=None):
            return {address: None for address in (workers or self.addresses)}

    for addresses, said in [(["tcp://w:1"], "for the one worker: tcp://w:1 gave no answer within 2 s (does a file "
                                            "system it imports from hang,"),
                            (["tcp://w:1", "tcp://w:2"], "for 2 of the 2 workers: tcp://w:1, tcp://w:2 gave no answer "
                                                         "within 2 s (does a file system they import from hang,")]:
        with pytest.warns(ConfigWarning) as caught:
            survey_workers.check_worker_imports(Silent(*addresses), timeout=2)
        assert " ".join(str(caught[0].message).split()).startswith(
            f"Which tinylens the Dask workers import was not checked {said} such as an NFS mount whose server is "
            "down?). The survey goes on"), caught[0].message


def test_the_messages_on_some_dask_workers_read_right_for_one_of_one_one_of_many_and_many(tmp_path):
    """The checks of a cluster's workers said '1 of the 1 Dask workers do not see ...' and '1 of the 2
    Dask workers import another version ... so their fits'; they now say 'The one Dask worker does
    not see ...', '1 of the 2 Dask workers imports ... so its fits', and '2 of the 3 Dask workers
    import ... so their fits'. (Clients faked.)"""
    import tinylens

    from tinylens.errors import ConfigWarning

    assert survey_workers.some_workers(1, 1) == "The one Dask worker"
    assert survey_workers.some_workers(1, 2) == "1 of the 2 Dask workers"
    assert survey_workers.some_workers(2, 4) == "2 of the 4 Dask workers"
    mine, old = (tinylens.__version__, tinylens.__file__), ("0.0.9", "/opt/old/tinylens/__init__.py")
    other = (mine[0], "/home/me/old-checkout/src/tinylens/__init__.py")
    cases = [({"tcp://w:1": old}, "The one Dask worker imports another version of tinylens than this process "
              "(tcp://w:1: tinylens 0.0.9 from /opt/old/tinylens/__init__.py; this process runs tinylens", "so its fits"),
             ({"tcp://w:1": old, "tcp://w:2": old, "tcp://w:3": mine}, "2 of the 3 Dask workers import another version "
              "of tinylens than this process (tcp://w:1: tinylens 0.0.9", "so their fits")]
    for copies, start, then in cases:
        with pytest.raises(TinyLensError) as caught:
            survey_workers.check_worker_imports(_Workers(copies))
        text = " ".join(str(caught.value).split())
        assert text.startswith(start) and then in text, text
    with pytest.warns(ConfigWarning) as caught:
        survey_workers.check_worker_imports(_Workers({"tcp://w:1": other}))
    text = " ".join(str(caught[0].message).split())
    assert text.startswith("The one Dask worker imports tinylens from another place than this process") and \
        "; it fits the lenses with its copy." in text, text

    class NoTinylens:
        """A cluster of ``n`` workers that cannot import tinylens."""

        def __init__(self, n: int) -> None:
            self.n = n

        def run(self, function, target, timeout, on_error="raise", **kwargs):
            return {f"tcp://w:{i}": ModuleNotFoundError("No module named 'tinylens'") for i in range(self.n)}

    for n, start, then in [(1, "The one Dask worker cannot import tinylens (tcp://w:0: ", "so it could not run"),
                           (2, "2 of the 2 Dask workers cannot import tinylens (tcp://w:0, tcp://w:1: ",
                            "so they could not run")]:
        with pytest.raises(TinyLensError) as caught:
            survey_workers.check_worker_imports(NoTinylens(n))
        text = " ".join(str(caught.value).split())
        assert text.startswith(start) and then in text, text

    lenses = tmp_path / "lenses"
    lenses.mkdir()
    for n, start in [(1, "The one Dask worker does not see the survey's folders as this process does (tcp://w:0 does "),
                     (2, "2 of the 2 Dask workers do not see the survey's folders as this process does (tcp://w:0, "
                      "tcp://w:1: e.g. tcp://w:0 does ")]:
        with pytest.raises(TinyLensError) as caught:
            survey_workers.check_worker_folders(_BlindWorkers(n), tmp_path / "out", lenses)
        text = " ".join(str(caught.value).split())
        assert text.startswith(start + f"not see LENS_DIR (run_survey: lens_dir=) {lenses})."), text


def test_a_survey_dry_run_shows_the_templates_config_warnings(tmp_path, mock_survey):
    """The template was checked with every warning silenced, so one about the template itself (a
    key it switches off, a prior reaching where its parameter has no values) reached a user only
    in each lens's catalogue row, after the fits. The check now shows them, naming the template."""
    template = yaml.safe_load(mock_survey["template"].read_text())
    template["pipeline"] = {"bounded": False, "n_sigma": 5}
    template["model_components"]["lens_mass_list"][0]["params"]["theta_E"]["prior_settings"] = [-0.5, 1.5]
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    args = ["survey", str(mock_survey["lenses"]), "-c", str(path), "--out", str(tmp_path / "out"), "--dry-run"]
    result = CliRunner().invoke(app, [*args, "--only", "lens_a"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"The template {path}: pipeline.n_sigma: not used with pipeline.bounded: false" in text, text
    assert f"The template {path}: model_components.lens_mass_list[0].params.theta_E: 25 % of the prior" in text, text
    assert text.count("pipeline.n_sigma: not used") == 1


def test_the_templates_warnings_are_shown_once_whichever_lenses_it_is_checked_with(mock_survey, monkeypatch):
    """The template's warnings were shown again for each lens tried after one whose likelihood was
    finite nowhere (its data), and not at all when every lens tried had broken data: each is now
    shown once, whichever lenses the check tried."""
    import sys

    from tinylens.errors import ConfigError, ConfigWarning

    template = yaml.safe_load(mock_survey["template"].read_text())
    template["pipeline"] = {"bounded": False, "n_sigma": 5}
    lenses = {lens.lens_id: lens for lens in discovery.find_lenses(mock_survey["lenses"])}
    fit_module = sys.modules["tinylens.fitting.checks"]  # where the template's check looks it up
    checked, check_likelihood = [], fit_module.check_likelihood

    def nowhere_first(problem):
        checked.append(problem)
        if len(checked) == 1:
            raise ConfigError("the likelihood is finite nowhere (lens_a's data)")
        return check_likelihood(problem)

    monkeypatch.setattr(fit_module, "check_likelihood", nowhere_first)

    def shown(tried: list[str], out: Path) -> tuple[str | None, list[str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lens_id = survey_template.check_template(template, [lenses[n] for n in tried], out, name="template T")
        return lens_id, [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]

    lens_id, texts = shown(["lens_a", "lens_b"], mock_survey["lenses"].parent / "out_nowhere")
    assert lens_id == "lens_b" and len(checked) == 2
    assert [t for t in texts if "pipeline.n_sigma" in t] == [
        "The template T: pipeline.n_sigma: not used with pipeline.bounded: false (the sampler runs over the full "
        "priors, with no box); remove it, or set pipeline.bounded: true."], texts
    lens_id, texts = shown(["lens_bad"], mock_survey["lenses"].parent / "out_broken")
    assert lens_id is None
    assert len([t for t in texts if t.startswith("The template T: pipeline.n_sigma: not used")]) == 1, texts


def test_setting_aside_a_changed_lens_does_not_warn_of_the_template_again(tmp_path, mock_survey):
    """A survey whose lenses changed since their fit read the template's output names by loading
    it once more, so a warning about the template (a key it switches off), shown by its check,
    came again without naming it; the lens's result is set aside without a word."""
    template = yaml.safe_load(mock_survey["template"].read_text())
    template["pipeline"] = {"bounded": False, "n_sigma": 5}
    folder = tmp_path / filenames.LENSES_DIR / "lens_a"
    folder.mkdir(parents=True)
    (folder / filenames.RESULT).write_text("{}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resume.set_aside(["lens_a"], tmp_path, template)
    assert sorted(p.name for p in folder.iterdir()) == [filenames.previous_name(filenames.RESULT)]


def test_a_task_runs_only_with_the_tinylens_of_its_survey(tmp_path, monkeypatch):
    """checked_task, as a worker runs it: the fit where the worker's tinylens is the survey's (its
    package file by any path to it: here through a symbolic link to the same folder), a refusal
    naming the worker's otherwise, the lens's folder untouched."""
    import tinylens
    from survey_mocks import echo_truth_path

    version, file = survey_workers.my_copy()
    linked = tmp_path / "link"
    linked.symlink_to(Path(file).parent)
    monkeypatch.setattr(tinylens, "__file__", str(linked / "__init__.py"))  # as the worker imported it
    fit = f"{echo_truth_path.__module__}:{echo_truth_path.__name__}"
    folder = tmp_path / "lenses" / "lens_a"
    assert survey_workers.checked_task((version, (file,)), fit, "lens_a", {}, str(folder), truth_path="t.json")["reason"] == "t.json"
    other = tmp_path / "lenses" / "lens_b"
    refusal = survey_workers.checked_task(("0.0.9", (file,)), fit, "lens_b", {}, str(other))
    assert refusal == {"lens_id": "lens_b", "status": survey_workers.REFUSED, "worker": "?", "version": version,
                       "file": str(linked / "__init__.py")}
    assert not other.exists()



def test_a_task_runs_only_where_its_worker_sees_the_lens_folder_and_out(tmp_path, monkeypatch):
    """checked_task, as a worker runs it, given what it must see (task_view): the fit where the
    worker sees the lens folder and --out as the survey does; a refusal naming what it does not
    see otherwise, the lens's output untouched; the fit on a worker whose copy of the survey's
    tinylens version cannot tell (a checkout from before the check), as before it."""
    from survey_mocks import echo_truth_path

    allowed = (survey_workers.my_copy()[0], (survey_workers.my_copy()[1],))
    fit = f"{echo_truth_path.__module__}:{echo_truth_path.__name__}"
    out, lens = tmp_path / "out", discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    out.mkdir()
    seen = survey_workers.task_view(out, "", lens)
    refusal = survey_workers.checked_task(allowed, fit, "lens_a", {}, str(lens.output(out)), seen=seen)
    assert refusal == {"lens_id": "lens_a", "status": survey_workers.REFUSED, "worker": "?",
                       "unseen": f"the lens folder {lens.folder}"}
    assert not (out / filenames.LENSES_DIR).exists()
    lens.folder.mkdir(parents=True)
    assert survey_workers.checked_task(allowed, fit, "lens_a", {}, str(lens.output(out)), seen=seen)["status"] == "ok"
    monkeypatch.delattr(survey_workers, "unseen_here")
    assert survey_workers.checked_task(allowed, fit, "lens_b", {}, str(out / "b"),
                               seen=survey_workers.task_view(tmp_path / "gone", "", lens))["status"] == "ok"

@contextlib.contextmanager
def _late_worker(address: str, preload: Path) -> Iterator[None]:
    """A `dask worker` process of the scheduler at ``address`` that runs ``preload`` when it starts."""
    import subprocess
    import sys

    paths = [str(Path(runner.__file__).parents[2]), str(Path(__file__).parent)]  # tinylens, survey_mocks
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                               "--no-nanny", "--preload", str(preload)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        worker.terminate()
        worker.wait(30)


@pytest.mark.parametrize("preload, runs", [
    ("import tinylens\ntinylens.__version__ = '0.0.9'\n", "runs tinylens 0.0.9 from"),
    ("import sys\nsys.modules['tinylens'] = None\n", "cannot import tinylens (ModuleNotFoundError"),
])
def test_a_worker_that_joins_with_another_tinylens_fits_no_lens(tmp_path, monkeypatch, capsys, preload, runs):
    """Workers were checked once, when the survey started: one that joined later (a batch job
    starting late, a worker restarted after a death) with another tinylens fitted lenses with it
    silently, and one without tinylens died on its first task. Each task now checks its worker:
    there, it fits nothing and is given to the other workers, and the survey names the worker; a
    lens that only such workers could take is left for the next run, with an error saying why.
    (An in-process scheduler and good worker, and a `dask worker` process; fits faked.)"""
    from distributed import Client, LocalCluster

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    (tmp_path / "preload.py").write_text(preload)
    lenses = [discovery.Lens(f"lens_{i}", tmp_path / "in" / f"lens_{i}") for i in range(6)]
    with LocalCluster(n_workers=0, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client, \
            _late_worker(cluster.scheduler_address, tmp_path / "preload.py"):
        client.wait_for_workers(1, timeout=60)
        bad = next(iter(client.scheduler_info()["workers"]))
        with pytest.raises(TinyLensError) as caught:  # only the bad worker: nothing fitted
            runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False, client=client)
        assert not (tmp_path / "lenses").exists() and pd.read_csv(tmp_path / "catalog.csv").empty
        cluster.scale(1)  # a good worker joins: the next run fits every lens there
        client.wait_for_workers(2, timeout=60)
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False, client=client)
    text = " ".join(str(caught.value).split())
    assert text.startswith("6 lenses were not fitted because every Dask worker given them runs another tinylens "
                           f"than this process (e.g. lens_0; {bad}; see above)"), text
    assert frame["status"].tolist() == ["ok"] * 6
    err = " ".join(capsys.readouterr().err.split())
    assert f"survey: the Dask worker {bad} {runs}" in err and "it fits no lens of the survey" in err, err


def _survey_folders(tmp_path, n):
    """A survey's output folder ``tmp_path / "out"`` and ``n`` lenses lens_0, lens_1, ... whose
    folders are made under ``tmp_path / "in"`` (empty: the fits are faked)."""
    out = tmp_path / "out"
    out.mkdir()
    lenses = [discovery.Lens(f"lens_{i}", tmp_path / "in" / f"lens_{i}") for i in range(n)]
    for lens in lenses:
        lens.folder.mkdir(parents=True)
    return out, lenses


@pytest.mark.parametrize("view, unseen", [
    (lambda lock, folders: (None, list(folders)), "the lens folder {folder} and --out (run_survey: out=) {out}"),
    (lambda lock, folders: ("process 12 on node9, since 2026-01-01 00:00:00 UTC", []), "--out (run_survey: out=) {out}"),
], ids=["a node's own disk", "its own --out"])
def test_a_worker_that_joins_without_the_survey_folders_fits_no_lens(tmp_path, monkeypatch, capsys, view, unseen):
    """Workers were asked whether they see LENS_DIR and --out once, when the survey started: one
    that joined later on a node without them failed its lenses ('not found'), or wrote their fits
    on its own disk (a folder of the same name there), where the next run did not find them and
    fitted them again. Each task now asks its worker first: there, it fits nothing and is given to
    the other workers, and the survey names the worker and what it does not see; a lens that only
    such workers could take is left for the next run, with an error saying why. (In-process
    workers, one of which is given another view of the disk; fits faked.)"""
    from distributed import Client, LocalCluster, get_worker

    from survey_mocks import echo_truth_path
    from tinylens.locks import folder_lock

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    out, lenses = _survey_folders(tmp_path, 3)
    blind, view_here = [], survey_workers._view

    def view_of_its_node(lock, folders):  # what the worker `blind` sees, the others seeing this process's disk
        return view(lock, folders) if get_worker().address in blind else view_here(lock, folders)

    monkeypatch.setattr(survey_workers, "_view", view_of_its_node)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client, folder_lock(out, filenames.SURVEY_LOCK_FILE):
        blind.append(next(iter(cluster.workers.values())).address)
        with pytest.raises(TinyLensError) as caught:  # only the blind worker: nothing fitted
            runner._fit_lenses(lenses, {}, {}, out, [], 1, None, False, client=client, check_folders=True)
        assert not (out / filenames.LENSES_DIR).exists() and pd.read_csv(out / filenames.CATALOG_CSV).empty
        cluster.scale(2)  # a worker that sees the folders joins: the next run fits every lens there
        client.wait_for_workers(2, timeout=60)
        frame = runner._fit_lenses(lenses, {}, {}, out, [], 1, None, False, client=client, check_folders=True)
    text = " ".join(str(caught.value).split())
    assert text.startswith("3 lenses were not fitted because every Dask worker given them does not see the survey's "
                           f"folders as this process does (e.g. lens_0; {blind[0]}; see above)"), text
    assert ("Start workers on nodes that see the lens folders and --out (run_survey: out=), then run the same "
            "command (or run_survey call) again") in text, text
    assert frame["status"].tolist() == ["ok"] * 3
    err = " ".join(capsys.readouterr().err.split())
    said = unseen.format(folder=lenses[0].folder, out=out)
    assert f"survey: the Dask worker {blind[0]} does not see {said} as this process does" in err, err
    assert "its lenses are given to the other workers" in err, err


def test_lenses_an_idle_refusing_worker_keeps_taking_are_fitted_by_the_busy_good_one(tmp_path, monkeypatch, capsys):
    """On a real cluster (a scheduler and two 'dask worker' processes, a third with another
    tinylens joining after the survey checked them), the good worker's queued lenses were handed by
    Dask's work stealing to the idle refusing worker, again and again while the good one fitted: after
    4 refusals each they were 'not fitted' and the survey stopped (exit 2) with 3 of 4 lenses unfitted
    beside a worker that fitted them. A refusal now counts against a lens only where no other worker
    is connected: every lens is fitted by the good worker. (In-process workers, one of which does
    not see the folders; fits faked, a second each.)"""
    with _blind_and_good_workers(tmp_path, monkeypatch, 8) as (cluster, client, out, lenses, blind, good):
        frame = runner._fit_lenses(lenses, {}, {}, out, [], 2, None, False, client=client, check_folders=True)
    assert frame["status"].tolist() == ["ok"] * 8
    assert sorted(frame["lens_id"]) == [lens.lens_id for lens in lenses]
    err = " ".join(capsys.readouterr().err.split())
    assert f"survey: the Dask worker {blind.address} does not see" in err, err


@contextlib.contextmanager
def _blind_and_good_workers(tmp_path, monkeypatch, n: int = 6):
    """Two in-process workers for a survey of ``n`` lenses, fits faked (a second each), the first of
    which (by address) does not see the survey's folders: yields the cluster, its client, the survey's
    folder and lenses, and the blind and the good worker."""
    from distributed import Client, LocalCluster, get_worker

    from survey_mocks import slow_echo_truth_path
    from tinylens.locks import folder_lock

    monkeypatch.setattr(runner, "fit_lens", slow_echo_truth_path)
    out, lenses = _survey_folders(tmp_path, n)
    blind, view_here = [], survey_workers._view

    def view_of_its_node(lock, folders):  # the worker `blind` sees a disk of its own, without the folders
        return (None, list(folders)) if get_worker().address in blind else view_here(lock, folders)

    monkeypatch.setattr(survey_workers, "_view", view_of_its_node)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client, folder_lock(out, filenames.SURVEY_LOCK_FILE):
        first, good = sorted(cluster.workers.values(), key=lambda worker: worker.address)
        blind.append(first.address)
        yield cluster, client, out, lenses, first, good


def _a_lens_fitted(out: Path, lenses: list[discovery.Lens], seconds: float = 120) -> bool:
    """Whether a row of one of ``lenses`` is written under ``out`` within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not any((lens.output(out) / filenames.ROW).is_file() for lens in lenses):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _good_worker_away_and_back(tmp_path, monkeypatch) -> tuple[pd.DataFrame, list[str], list[discovery.Lens], str]:
    """Two in-process workers, one of which does not see the survey's folders (its address the last
    returned), the good one closed once a lens is fitted and a new good one joining 3 s later, fits
    faked (a second each): the survey's frame of 6 lenses, what the mover did, and the lenses."""
    with _blind_and_good_workers(tmp_path, monkeypatch) as (cluster, client, out, lenses, first, good):
        moved: list[str] = []

        def away_and_back() -> None:  # the good worker gone once a lens is fitted, another good one 3 s later
            if not _a_lens_fitted(out, lenses):
                return
            cluster.sync(good.close)
            moved.append("gone")
            time.sleep(3)
            cluster.scale(3)  # a new worker, its address not the blind one's
            moved.append("back")

        mover = threading.Thread(target=away_and_back, daemon=True)
        mover.start()
        frame = runner._fit_lenses(lenses, {}, {}, out, [], 2, None, False, client=client, check_folders=True)
        mover.join(60)
    return frame, moved, lenses, first.address


def test_lenses_refused_while_the_good_worker_restarts_wait_for_it_and_are_fitted(tmp_path, monkeypatch):
    """Two workers, one of which does not see the survey's folders: while the good one was away
    (its nanny restarting it after a death, 7-12 s), every lens came back refused by the other within
    a few ms, again and again, and used up its resubmissions in about 0.1 s: the survey stopped
    with '6 lenses were not fitted' and 0 finished, beside a worker coming back to fit them. A
    refusal while the workers that fit lenses are away for less than GOOD_WORKER_WAIT now holds the
    lens until one is back, not counted against it: every lens is fitted. (In-process workers; the
    good one closed once a lens is fitted, a new one joining 3 s later; fits faked, a second each.)"""
    frame, moved, lenses, _ = _good_worker_away_and_back(tmp_path, monkeypatch)
    assert moved == ["gone", "back"]
    assert sorted(frame["lens_id"]) == [lens.lens_id for lens in lenses]
    assert frame["status"].tolist() == ["ok"] * 6


def test_lenses_held_for_a_good_worker_are_said_as_they_are_held_and_sent_again(tmp_path, monkeypatch, capsys):
    """While lenses refused in the good worker's absence were held for it (up to GOOD_WORKER_WAIT,
    120 s), the survey said nothing and its bar stood still, as if hung. It now says, as the first is
    held, which one, the worker that refused it and how long they wait at most, and, as they are sent
    again, how many and why (the good worker back), each once. (The cluster of the test above.)"""
    frame, moved, lenses, blind = _good_worker_away_and_back(tmp_path, monkeypatch)
    assert moved == ["gone", "back"] and frame["status"].tolist() == ["ok"] * 6
    err = " ".join(capsys.readouterr().err.split())
    held = re.findall(r"survey: (lens_\d+) held: the Dask worker (\S+) refused it and no worker that fits lenses "
                      r"is connected now \(one restarting\?\); it and any lens refused meanwhile wait up to (\d+) s", err)
    assert len(held) == 1 and held[0][0] in {lens.lens_id for lens in lenses} and held[0][1] == blind, (held, err)
    assert 100 <= int(held[0][2]) <= runner.GOOD_WORKER_WAIT, held  # the good one seen seconds before
    sent = re.findall(r"survey: (\d+) held lens(?:es)? \((?:e\.g\. )?(lens_\d+)\) sent again after (\d+) s: "
                      r"a worker that fits lenses is connected again\.", err)
    assert len(sent) == 1 and 1 <= int(sent[0][0]) <= 6 and sent[0][1] == held[0][0], (sent, err)
    assert int(sent[0][2]) < 60, sent  # when the new worker joined, 3 s after the good one left


def test_lenses_held_for_a_good_worker_do_not_hold_up_the_stop_once_no_worker_is_left(tmp_path, monkeypatch):
    """A lens refused while the worker that fits lenses was away is held for it (GOOD_WORKER_WAIT,
    120 s); where then every worker of the local cluster died, the no-worker watch stopped the survey
    after --no-worker-wait (2 s here), but the loop went on waiting for the held lenses until
    GOOD_WORKER_WAIT had passed: the stop came ~2 minutes late. The held lenses are now left for the
    next run as the survey stops, named among those not fitted. (In-process workers: the good one
    closed once a lens is fitted, the one blind to the folders a second later; fits faked.)"""
    from tinylens.survey.watch import NoWorkersLeft

    with _blind_and_good_workers(tmp_path, monkeypatch) as (cluster, client, out, lenses, first, good):
        def both_gone() -> None:  # the good worker gone once a lens is fitted, the blind one a second later
            if not _a_lens_fitted(out, lenses):
                return
            cluster.sync(good.close)
            time.sleep(1)  # the good one's lenses refused by the blind one meanwhile: held
            cluster.sync(first.close)

        threading.Thread(target=both_gone, daemon=True).start()
        began = time.monotonic()
        with pytest.raises(NoWorkersLeft) as stopped:
            runner._fit_lenses(lenses, {}, {}, out, [], 2, None, False, client=client, check_folders=True,
                               no_worker_wait=2)
        took = time.monotonic() - began
    assert took < 60, took  # not GOOD_WORKER_WAIT (120 s) after the good worker was last seen
    fitted = [lens.lens_id for lens in lenses if (lens.output(out) / filenames.ROW).is_file()]
    assert 1 <= len(fitted) < 6, fitted
    # each lens fitted (a row: the good worker's last fit may end after its close) or named as not fitted
    assert {*stopped.value.unfitted, *fitted} == {lens.lens_id for lens in lenses}, (stopped.value.unfitted, fitted)


def test_lenses_held_for_a_good_worker_are_not_held_once_the_client_is_closed(tmp_path, monkeypatch):
    """Lenses refused while no worker that fits lenses was connected are held for one to come back
    (GOOD_WORKER_WAIT, 120 s); where the client then closed (its scheduler lost, distributed having
    given up reconnecting), the loop went on holding them until GOOD_WORKER_WAIT had passed before the
    lost-scheduler error was shown. They are now let go as soon as the client is closed, named in that
    error among the lenses not fitted. (In-process workers, one blind to the folders; the good one
    closed once a lens is fitted, the client closed once a lens is held; fits faked.)"""
    held, closed_at = threading.Event(), []
    real_note = runner.held_note

    def held_note(*args, **kwargs):
        held.set()
        return real_note(*args, **kwargs)

    monkeypatch.setattr(runner, "held_note", held_note)
    with _blind_and_good_workers(tmp_path, monkeypatch) as (cluster, client, out, lenses, first, good):
        def gone_then_closed() -> None:  # the good worker gone once a lens is fitted, the client once one is held
            if not _a_lens_fitted(out, lenses):
                return
            cluster.sync(good.close)
            if held.wait(60):
                client.close()
                closed_at.append(time.monotonic())

        closer = threading.Thread(target=gone_then_closed, daemon=True)
        closer.start()
        with pytest.raises(TinyLensError) as caught:
            runner._fit_lenses(lenses, {}, {}, out, [], 2, cluster.scheduler_address, False, client=client,
                               check_folders=True)
        ended = time.monotonic()
        closer.join(60)
    assert closed_at, "no lens was held"
    assert ended - closed_at[0] < 60, ended - closed_at[0]  # not GOOD_WORKER_WAIT (120 s) after the good worker left
    text = " ".join(str(caught.value).split())
    assert cluster.scheduler_address in text and "not fitted" in text, text
    fitted = [lens for lens in lenses if (lens.output(out) / filenames.ROW).is_file()]
    said = re.search(r"stopped answering .*\b(\d+) lens(?:es)? (?:was|were) not fitted.* holds the (\d+) finished", text)
    assert said and int(said[1]) + int(said[2]) == 6 and int(said[2]) <= len(fitted) < 6, (fitted, text)
    assert "never sent" in text, text  # the held lenses among them


def test_a_refused_worker_whose_import_check_gave_no_answer_is_not_said_to_have_joined_late(tmp_path, monkeypatch,
                                                                                             capsys):
    """A worker whose tinylens import gave no answer when the survey checked its workers (a hung
    mount, since come back) was left out of the folder and copy checks, and when its task then
    refused its lens the survey guessed that it 'joined the cluster after the survey checked its
    workers', which it had not. The note now says that its import check gave no answer, so it was
    not checked; a worker not among those is still asked whether it joined late. (In-process
    worker given another view of the disk, as left out by the import check; fits faked.)"""
    from distributed import Client, LocalCluster, get_worker

    from survey_mocks import echo_truth_path
    from tinylens.locks import folder_lock

    mine = ("1.0", "/here/tinylens/__init__.py")
    other = {"worker": "tcp://w:1", "version": "0.0.9", "file": "/old/tinylens/__init__.py"}
    unasked = "its tinylens import gave no answer when the survey checked its workers, so it was not checked then"
    late = "it joined the cluster after the survey checked its workers?"
    assert unasked in survey_workers.refused_worker_note(other, mine, ["tcp://w:1"])
    assert late in survey_workers.refused_worker_note(other, mine, ["tcp://w:2"]) and late in survey_workers.refused_worker_note(other, mine)
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    out, lens = tmp_path / "out", discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    out.mkdir()
    lens.folder.mkdir(parents=True)
    blind, view_here = [], survey_workers._view

    def view_of_its_node(lock, folders):  # the worker `blind` sees no folder, the others this process's disk
        return (None, list(folders)) if get_worker().address in blind else view_here(lock, folders)

    monkeypatch.setattr(survey_workers, "_view", view_of_its_node)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client, folder_lock(out, filenames.SURVEY_LOCK_FILE):
        blind.append(next(iter(cluster.workers.values())).address)
        with pytest.raises(TinyLensError):  # only the blind worker: nothing fitted
            runner._fit_lenses([lens], {}, {}, out, [], 1, None, False, client=client, check_folders=True,
                               silent=blind)
    err = " ".join(capsys.readouterr().err.split())
    assert f"survey: the Dask worker {blind[0]} does not see the lens folder" in err, err
    assert "as this process does (its tinylens import gave no answer when the survey checked its workers, so its " \
           "folders were not checked then: on a node without the survey's disk?)" in err, err
    assert "joined the cluster" not in err, err


def test_a_refused_worker_whose_folder_check_gave_no_answer_is_not_said_to_have_joined_late(tmp_path, monkeypatch,
                                                                                             capsys):
    """A worker whose folder check gave no answer, or failed, or whose cluster could not be asked
    when the survey started was only named in a warning, and when its task then refused its lens
    for a folder it does not see the survey guessed that it 'joined the cluster after the survey
    checked its workers', which it had not. check_worker_folders now returns those workers with why
    they were not checked, and the note says so. (In-process worker whose folder check fails, then
    which sees no folder; fits faked.)"""
    from distributed import Client, LocalCluster

    from survey_mocks import echo_truth_path
    from tinylens.locks import folder_lock

    mine = ("1.0", "/here/tinylens/__init__.py")
    blind = {"worker": "tcp://w:1", "unseen": "the lens folder /data/lens_a"}
    late = "joined the cluster"
    assert late in survey_workers.refused_worker_note(blind, mine, (), {"tcp://w:2": "its check failed (OSError: x)"})
    said = survey_workers.refused_worker_note(blind, mine, (), {survey_workers.EVERY_WORKER: "the cluster did not answer within 40 s"})
    assert "(its folders were not checked when the survey started: the cluster did not answer within 40 s; on a " \
           "node without the survey's disk?)" in said and late not in said, said

    class Unanswered:
        def run(self, *args, **kwargs):
            raise TimeoutError

    lens_dir, out = tmp_path / "in", tmp_path / "out"
    lens = discovery.Lens("lens_a", lens_dir / "lens_a")
    out.mkdir()
    lens.folder.mkdir(parents=True)
    with pytest.warns(DataWarning):
        unasked = survey_workers.check_worker_folders(Unanswered(), out, lens_dir, timeout=2)
    assert list(unasked) == [survey_workers.EVERY_WORKER], unasked
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    checked = []

    def view_of_its_node(lock, folders):  # the folder check fails; the tasks' question finds no folder
        if not checked:
            checked.append(True)
            raise RuntimeError("stale file handle")
        return None, list(folders)

    monkeypatch.setattr(survey_workers, "_view", view_of_its_node)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client, folder_lock(out, filenames.SURVEY_LOCK_FILE):
        worker = next(iter(cluster.workers.values())).address
        with pytest.warns(DataWarning):
            unchecked = survey_workers.check_worker_folders(client, out, lens_dir, [lens], timeout=30)
        assert unchecked == {worker: "its check failed (RuntimeError: stale file handle)"}, unchecked
        with pytest.raises(TinyLensError):  # only the blind worker: nothing fitted
            runner._fit_lenses([lens], {}, {}, out, [], 1, None, False, client=client, check_folders=True,
                               folders_unchecked=unchecked)
    err = " ".join(capsys.readouterr().err.split())
    assert f"survey: the Dask worker {worker} does not see the lens folder" in err, err
    assert "as this process does (its folders were not checked when the survey started: its check failed " \
           "(RuntimeError: stale file handle); on a node without the survey's disk?)" in err, err
    assert late not in err, err


def test_a_refused_worker_whose_tinylens_check_gave_no_answer_is_not_said_to_have_joined_late(tmp_path, monkeypatch,
                                                                                              capsys):
    """A worker whose tinylens the import check could not check (the cluster could not be asked,
    asking for the copies failed, or it answered its version but not its file) was at most named
    in a warning, and when its task then refused its lens for another tinylens the survey guessed
    that it 'joined the cluster after the survey checked its workers', which it had not. The checks
    now hand those workers, with why, to the note, as check_worker_folders does for the folders.
    (Clients faked for the checks; an in-process worker refusing as one of another version; fits faked.)"""
    import tinylens
    from distributed import Client, LocalCluster

    from survey_mocks import echo_truth_path
    from tinylens.errors import ConfigWarning

    mine = (tinylens.__version__, str(tinylens.__file__))
    other = {"worker": "tcp://w:1", "version": "0.0.9", "file": "/old/tinylens/__init__.py"}
    late = "joined the cluster"
    assert late in survey_workers.refused_worker_note(other, mine, (), None, {"tcp://w:2": "it gave no answer within 2 s"})
    said = survey_workers.refused_worker_note(other, mine, (), None, {survey_workers.EVERY_WORKER: "the cluster did not answer within 40 s"})
    assert "(its tinylens was not checked when the survey started: the cluster did not answer within 40 s)" in said \
        and late not in said, said

    class Unanswered:
        def run(self, *args, **kwargs):
            raise TimeoutError

    unchecked: dict[str, str] = {}
    with pytest.warns(ConfigWarning):
        assert survey_workers.check_worker_imports(Unanswered(), timeout=2, unchecked=unchecked) == []
    assert list(unchecked) == [survey_workers.EVERY_WORKER] and "did not answer" in unchecked[survey_workers.EVERY_WORKER], unchecked

    unchecked = {}  # tcp://w:1 answers the import and its version, not its file
    with pytest.warns(ConfigWarning):
        survey_workers.check_worker_imports(_Workers({"tcp://w:1": (mine[0], None), "tcp://w:2": mine}), timeout=2,
                                    unchecked=unchecked)
    assert unchecked == {"tcp://w:1": "it gave no answer within 2 s"}, unchecked

    class VersionsFail(_Workers):  # asking for the copies fails
        def run(self, function, target, timeout, workers=None, on_error="raise", callback_timeout=None):
            if target.endswith(":__version__"):
                raise OSError("connection reset")
            return super().run(function, target, timeout, workers, on_error, callback_timeout)

    unchecked = {}
    with pytest.warns(ConfigWarning):
        survey_workers.check_worker_imports(VersionsFail({"tcp://w:1": mine}), timeout=2, unchecked=unchecked)
    assert unchecked == {"tcp://w:1": "the cluster could not be asked (OSError: connection reset)"}, unchecked

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    monkeypatch.setattr(survey_workers, "my_copy", lambda: ("0.0.0+survey", mine[1]))  # the worker runs another version
    out, lens = tmp_path / "out", discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    out.mkdir()
    lens.folder.mkdir(parents=True)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        worker = next(iter(cluster.workers.values())).address
        with pytest.raises(TinyLensError):  # only the refusing worker: nothing fitted
            runner._fit_lenses([lens], {}, {}, out, [], 1, None, False, client=client,
                               copies_unchecked={worker: "it gave no answer within 60 s"})
    err = " ".join(capsys.readouterr().err.split())
    assert f"survey: the Dask worker {worker} runs tinylens {mine[0]}" in err, err
    assert "of this process (its tinylens was not checked when the survey started: it gave no answer within 60 s)" \
        in err, err
    assert late not in err, err


def test_a_lens_folder_removed_during_a_survey_is_not_blamed_on_the_workers(tmp_path, monkeypatch, capsys):
    """With each task asking its worker whether it sees the lens folder, a lens folder removed
    while the survey ran (a purged scratch disk) was refused by every worker it was given to: each
    worker was named as one that does not see the survey's folders, to be stopped, and the survey
    ended saying to start workers on other nodes. Where this process does not see the folder
    either, the lens is now given to its fit without the question (which fails it naming the
    missing file, as before the check), and no worker is blamed. (In-process worker; fits faked.)"""
    from distributed import Client, LocalCluster

    from survey_mocks import echo_truth_path
    from tinylens.locks import folder_lock

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    out = tmp_path / "out"
    out.mkdir()
    lenses = [discovery.Lens(f"lens_{i}", tmp_path / "in" / f"lens_{i}") for i in range(2)]
    lenses[0].folder.mkdir(parents=True)  # lens_1's folder: removed since the survey found it
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client, folder_lock(out, filenames.SURVEY_LOCK_FILE):
        frame = runner._fit_lenses(lenses, {}, {}, out, [], 1, None, False, client=client, check_folders=True)
    assert sorted(frame["lens_id"]) == ["lens_0", "lens_1"]  # lens_1's fit ran (the real one fails it)
    err = " ".join(capsys.readouterr().err.split())
    assert "does not see" not in err, err


def test_a_task_run_again_after_its_fit_finished_adopts_the_fit(tmp_path, mock_survey):
    """A worker that died after a lens's result.json was written but before its row.json: Dask
    ran the task again, and it threw the finished fit away and fitted the lens again (from the
    beginning: the fit had removed its checkpoint). The task now adopts a finished fit of the same
    lens, config, precision and unchanged input files, and removes the checkpoint the fit had left;
    one of another template, precision or input files is not adopted."""
    import shutil

    from tinylens.precision import get_precision

    template = survey_template.load_template(mock_survey["template"])
    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    shutil.copytree(mock_survey["lenses"] / "lens_a", lens.folder)
    config, folder = survey_template.lens_config(template, lens, tmp_path), lens.output(tmp_path)
    row = task.fit_lens("lens_a", config, str(folder))
    assert row["status"] == "ok" and attempts.attempts(folder) == 1
    (folder / "row.json").unlink()  # the worker died here
    checkpoint = folder / filenames.checkpoint_names()[0]
    checkpoint.write_text("left by the fit")
    written = (folder / "result.json").stat().st_mtime_ns
    adopted = task.fit_lens("lens_a", config, str(folder))
    assert adopted == survey_rows.flat_row("lens_a", json.loads((folder / "result.json").read_text()))
    assert survey_rows.read_row(folder / "row.json") == adopted and not checkpoint.exists()
    assert attempts.attempts(folder) == 1 and (folder / "result.json").stat().st_mtime_ns == written  # no fit
    precision = get_precision()
    assert resume.adoptable_row("lens_a", folder, config, precision) == adopted
    other = copy.deepcopy(config)
    other["inference"]["settings"]["nlive"] = 60
    assert resume.adoptable_row("lens_a", folder, other, precision) is None  # another template
    assert resume.adoptable_row("lens_a", folder, config, "float64" if precision == "float32" else "float32") is None
    assert resume.adoptable_row("lens_b", folder, config, precision) is None  # another lens's
    (lens.folder / "noise.fits").write_bytes((lens.folder / "noise.fits").read_bytes()[::-1])
    assert resume.adoptable_row("lens_a", folder, config, precision) is None  # its noise changed since


def test_a_retried_failure_is_fitted_again_not_adopted(tmp_path, mock_survey, monkeypatch):
    """--retry-failed must fit a failed lens again, even beside a finished result.json of the same
    template and files (a fit whose worker kept dying after writing it): that result is set aside
    (result.previous.json) before the task starts, so that the task does not adopt it.
    (An in-process cluster; the fit fails at once, saying it was started.)"""
    from distributed import LocalCluster

    import tinylens
    from tinylens.precision import get_precision
    from tinylens.survey.provenance import inputs_stamp

    def fit(*args: Any, **kwargs: Any) -> None:
        raise survey_template.DataError("fitted again")

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(tinylens, "fit", fit)
    out = (tmp_path / "out").resolve()
    lens = next(x for x in discovery.find_lenses(mock_survey["lenses"]) if x.lens_id == "lens_a")
    config, folder = survey_template.lens_config(survey_template.load_template(mock_survey["template"]), lens, out), lens.output(out)
    folder.mkdir(parents=True)
    precision = get_precision()
    result = {**RESULT, "config": resume.fitted_config(config), "info": {"precision": precision, "checkpoint": None}}
    (folder / "result.json").write_text(json.dumps(result))
    (folder / "inputs.json").write_text(json.dumps(inputs_stamp(config, precision)))
    survey_rows.write_row(folder, survey_rows.failed_row("lens_a", "KilledWorker: ..."))
    assert resume.adoptable_row("lens_a", folder, config, precision) is not None  # what the task would adopt
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        frame = runner.run_survey(mock_survey["lenses"], mock_survey["template"], out, only=["lens_a"],
                                  scheduler=cluster.scheduler_address, progress=False, retry_failed=True)
    assert frame.set_index("lens_id").loc["lens_a", "reason"] == "fitted again"
    assert not (folder / "result.json").exists() and json.loads((folder / "result.previous.json").read_text()) == result


def _docs_catalog_csv_reader():
    """The code docs/survey.md (section 4) gives to read catalog.csv, pandas and astropy, as a
    function of the survey's output folder: (the pandas frame, the astropy table)."""
    import textwrap

    from astropy.table import Table

    doc = (Path(__file__).parents[2] / "docs" / "survey.md").read_text()
    block = doc[doc.index("Read the CSV as"):].split("```python", 1)[1].split("```", 1)[0]
    assert 'pd.read_csv("survey_out/catalog.csv"' in block, block
    pandas_part, astropy_part = block.split("cat = Table.read", 1)

    def read(out: Path):
        scope = {"pd": pd, "Table": Table}
        exec(textwrap.dedent(pandas_part).replace("survey_out/", f"{out.as_posix()}/"), scope)
        frame = scope["cat"]
        exec(("cat = Table.read" + astropy_part).replace("survey_out/", f"{out.as_posix()}/"), scope)
        return frame, scope["cat"]
    return read


@pytest.mark.parametrize("failed", [False, True])
def test_catalog_csv_read_as_the_docs_say_keeps_text_as_text_and_numbers_as_numbers(tmp_path, failed):
    """docs/survey.md said to read catalog.csv with dtype={"lens_id": str, "trusted": "boolean"},
    which left a text column empty in every row (reason with no failed lens, warnings of rows
    recovered from result.json, flags where none was raised) as float NaN; read as the docs now say,
    every text column is text ("" where empty) as in catalog.parquet, ids such as 007 stay as
    written, trusted is True/False/<NA>, and each statistic is a float column, NaN for a failed lens."""
    clean = dict(RESULT, quality={"trusted": True, "flags": [], "critical": ["unconverged"]})
    rows = {"007": survey_rows.flat_row("007", RESULT), "1e3": survey_rows.flat_row("1e3", clean)}
    if failed:
        rows["a"] = survey_rows.failed_row("a", "DataError: image.fits is not a FITS file")
    catalog.write_catalog(rows, tmp_path)
    cat, table = _docs_catalog_csv_reader()(tmp_path)
    parquet = pd.read_parquet(tmp_path / "catalog.parquet")
    assert cat.columns.tolist() == parquet.columns.tolist()
    assert cat["lens_id"].tolist() == ["007", "1e3", *(["a"] if failed else [])]
    for column in filenames.TEXT_COLUMNS + ("lens_id", "status"):
        assert cat[column].tolist() == parquet[column].tolist(), column
        assert all(isinstance(v, str) for v in cat[column]), (column, cat[column].tolist())
    assert cat["reason"].tolist()[:2] == ["", ""] and cat["warnings"].tolist() == [""] * len(rows)
    assert str(cat["trusted"].dtype) == "boolean" and cat["trusted"].tolist()[:2] == [False, True]
    numbers = [c for c in parquet.columns if c.endswith(("_median", "_lo68", "_hi68", "_lo997", "_hi997"))]
    for column in [*numbers, "log_evidence", "wall_time_s", "total_time_s", "n_likelihood_evals"]:
        assert pd.api.types.is_numeric_dtype(cat[column]), (column, cat[column].dtype)
        np.testing.assert_array_equal(cat[column].to_numpy(float), parquet[column].to_numpy(float))
    if failed:
        assert pd.isna(cat["trusted"].iloc[2]) and np.isnan(cat["lens_mass.0.theta_E_median"].iloc[2])
        assert cat["reason"].iloc[2] == "DataError: image.fits is not a FITS file"
    assert list(table["lens_id"]) == cat["lens_id"].tolist()


def test_a_long_reason_or_warnings_text_is_cut_saying_so_and_how_long_it_was(tmp_path, mock_survey, monkeypatch):
    """A failed lens's reason over MAX_REASON (500) characters was cut to its first 497 and a
    bare '...', so that a reader of the catalogue could not tell how much of it, the advice at its
    end, was lost (a full stop before the cut read '....'); a row's warnings were cut at 500
    characters with no mark at all, mid-word. Both keep their start and their end, where a message
    says what to do, with how much of how many characters was cut from the middle said between
    them, within 500 characters, no word cut in two; a text of 500 stays whole."""
    import tinylens

    words = [f"word{i:03d}" for i in range(120)]
    message = " ".join(words) + ". Rename it."  # 971 characters: the advice at the end
    monkeypatch.setattr(tinylens, "fit", mock.Mock(side_effect=TinyLensError(message)))
    lens = discovery.Lens("lens_a", mock_survey["lenses"] / "lens_a")
    folder = lens.output(tmp_path)
    row = task.fit_lens("lens_a", survey_template.lens_config(survey_template.load_template(mock_survey["template"]), lens, tmp_path),
                          str(folder))
    reason = row["reason"]
    assert row["status"] == "failed" and len(reason) <= survey_rows.MAX_REASON, (len(reason), reason)
    head, said, tail = re.fullmatch(r"(.*) \.\.\. \[(\d+) of 971 characters cut\] \.\.\. (.*)", reason).groups()
    assert message.startswith(head + " ") and message.endswith(" " + tail) and tail.endswith("word119. Rename it.")
    assert int(said) == len(message) - len(head) - len(tail) and len(head) + len(tail) > survey_rows.MAX_REASON - 60, reason
    assert set(head.split()) | set(tail.split()) <= set(message.split())  # whole words only
    assert survey_rows.read_row(folder / "row.json", "lens_a") == row
    assert survey_rows.one_line("x" * survey_rows.MAX_REASON) == "x" * survey_rows.MAX_REASON

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(10):
            warnings.warn(f"warning {i}: " + "a long line of text " * 5, DataWarning)
    joined = "; ".join(" ".join(str(w.message).split()) for w in caught)  # on one line: 1118 characters
    text = survey_rows._warning_text(caught)
    head, tail = text.split(" characters cut] ... ")
    assert len(text) <= survey_rows.MAX_REASON and head.endswith(f" of {len(joined)}"), text
    assert joined.startswith(head.rsplit(" ... [", 1)[0]) and joined.endswith(" " + tail) and len(tail) > 200, text


def test_the_cut_reason_docs_survey_md_shows_is_one_row_text_gives():
    """docs/survey.md showed a reason of 812 characters cut as '... [312 of 812 characters cut] ...',
    which no cut gives: keeping 500 of them leaves no room for the note within MAX_REASON (500); the
    figure it shows is now the one row_text gives an 812-character reason with no space to cut at."""
    doc = (Path(__file__).parents[2] / "docs" / "survey.md").read_text()
    shown = re.search(r"\[(\d+) of 812 characters cut\]", doc)
    cut = survey_rows.row_text("x" * 812)
    assert shown is not None and len(cut) <= survey_rows.MAX_REASON, cut
    assert f" ... [{shown.group(1)} of 812 characters cut] ... " in cut, (shown.group(0), cut[220:280])
    assert int(shown.group(1)) + len(cut) - len(f" ... [{shown.group(1)} of 812 characters cut] ... ") == 812


def test_a_resumed_survey_says_how_many_of_the_lenses_to_fit_resume_a_checkpoint(tmp_path, mock_survey, monkeypatch,
                                                                                 capsys):
    """A survey run again after a stop began 'survey: 4 lenses, 0 already done, 4 to fit' (here), not
    how many of the 4 would resume from a checkpoint and how many start afresh, which only the dry
    run said ('2 resume from a checkpoint: lens_b, lens_c'). The start line now says it too, counted as
    the dry run counts it; a survey with none to resume begins as before. (In-process cluster,
    fits faked.)"""
    from distributed import LocalCluster

    from tinylens import filenames
    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    lenses, template, out = mock_survey["lenses"], mock_survey["template"], tmp_path / "out"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        runner.run_survey(lenses, template, out, scheduler=cluster.scheduler_address, progress=False, only=["lens_a"])
        for lens_id, name in (("lens_b", filenames.checkpoint_names()[0]), ("lens_c", filenames.PIPELINE_STATE)):
            (out / "lenses" / lens_id).mkdir(parents=True, exist_ok=True)
            (out / "lenses" / lens_id / name).write_bytes(b"a stopped fit's state")
        # the truth: the dry run's counts, of the lenses that resume among them
        plan = runner.survey_plan(lenses, template, out, check=False)
        assert plan["to_fit"]["resume"] == ["lens_b", "lens_c"], plan
        done, to_fit = len(plan["ok"]) + len(plan["failed"]), sum(map(len, plan["to_fit"].values()))
        capsys.readouterr()
        frame = runner.run_survey(lenses, template, out, scheduler=cluster.scheduler_address, progress=True)
        first = capsys.readouterr().err.splitlines()[0]
        assert first == f"survey: 4 lenses, {done} already done, {to_fit} to fit (2 resume from a checkpoint)", first
        assert set(frame["status"]) == {"ok"} and len(frame) == 4

        fresh = tmp_path / "fresh"  # nothing to resume: the line as before
        runner.run_survey(lenses, template, fresh, scheduler=cluster.scheduler_address, progress=True)
    assert capsys.readouterr().err.splitlines()[0] == "survey: 4 lenses, 0 already done, 4 to fit"


def test_a_scheduler_address_whose_connection_is_cut_is_refused_in_words_naming_it(tmp_path):
    """An address that took the connection and then cut it (reset: in this sandbox tcp://10.255.255.1:8786,
    after 10 s; a firewall or proxy on the way, or something there that is no scheduler) was refused
    as 'Cannot connect to the Dask scheduler at ...: ConnectionResetError: [Errno 104] Connection
    reset by peer', the bare error its only reason. It is now said in words, naming the address, as
    is a host name that cannot be looked up. (A local listener that resets each connection.)"""
    import struct

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"

    def reset_each() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
                conn.close()

    threading.Thread(target=reset_each, daemon=True).start()
    try:
        # the truth: what listens there cuts the connection (as it is made, or before any byte)
        with pytest.raises(ConnectionResetError):
            with socket.create_connection(("127.0.0.1", server.getsockname()[1]), timeout=10) as probe:
                probe.recv(8)
        with pytest.raises(TinyLensError) as raised:
            survey_cluster.check_scheduler(address)
    finally:
        server.close()
    text = str(raised.value)
    assert text.startswith(f"Cannot connect to the Dask scheduler at {address}: the connection was cut before a Dask "
                           "scheduler answered (ConnectionResetError"), text
    assert "firewall or proxy" in text and "reachable from this machine" in text, text

    with pytest.raises(TinyLensError) as raised:
        survey_cluster.check_scheduler("tcp://no-such-host.invalid:8786")
    assert "at tcp://no-such-host.invalid:8786: its host name cannot be looked up" in str(raised.value), raised.value


def test_a_lens_whose_table_the_system_refuses_after_its_search_is_that_lenss_failed_row(tmp_path, mock_survey,
                                                                                        monkeypatch):
    """A lens whose table the system refused to replace after its search (tinylens.fit's OutputError,
    raised in handling the PermissionError: refused_reported) is that lens's failed row naming the
    file, its checkpoint kept for a rerun to resume, not the survey's error nor a retry that deletes it.
    Under a long output path (here 200 characters deeper: pytest-xdist's, a cluster's scratch), that
    message has over MAX_REASON characters, and the row's reason, cut to its first 500, lost its
    closing 'run the fit again to resume it (its search is not done again).': the row keeps it now."""
    import errno

    import tinylens
    from tinylens.fitting.replaced import refused_reported

    deep = tmp_path / ("survey_output" * 15)  # one folder name of 195 characters
    template, lens, folder, checkpoint = _lens_a_with_a_checkpoint(mock_survey, deep)

    def fit_refused(config, **kwargs):
        with refused_reported(folder):
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(folder / "result_summary.csv"))

    with pytest.raises(tinylens.errors.OutputError) as said:  # what the fit says, whole
        fit_refused(None)
    text = str(said.value)
    advice = "run the fit again to resume it (its search is not done again)."
    assert "result_summary.csv" in text and text.endswith(advice) and len(text) > survey_rows.MAX_REASON, text
    monkeypatch.setattr(tinylens, "fit", fit_refused)
    row = task.fit_lens("lens_a", survey_template.lens_config(template, lens, deep), str(folder))
    reason = row["reason"]
    assert row["status"] == "failed" and len(reason) <= survey_rows.MAX_REASON, row
    assert reason.startswith(f"Output folder {str(folder)[:100]}") and reason.endswith(advice), reason
    assert "characters cut] ... " in reason and reason == survey_rows.one_line(text), reason
    assert json.loads((folder / "row.json").read_text())["status"] == "failed" and checkpoint.read_text() == "whole"


def test_a_second_worker_death_is_said_though_the_refit_had_started_when_the_first_was_read(tmp_path):
    """The note that a worker died while fitting a lens read the lens's .attempts after the event,
    and kept the count it read as said: on a busy cluster the task had often started again on
    another worker by then (2 attempts read for the first death), so that the death of that second
    worker (still 2 attempts: the lens waits for a third) read as 'started before, already said'
    and went unsaid. Deaths said are now counted: each started fit's death is said once; a death
    of a worker that held the lens queued, its fit not started, is not; nor one Dask fails (its
    task's deaths past those allowed, counted per task: a lens submitted again starts from none)."""
    out = tmp_path / "out"
    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    folder = lens.output(out)
    folder.mkdir(parents=True)
    attempts.note_attempt(folder)  # an earlier survey's fit: not this one's
    started = {"lens_a": attempts.attempts(folder)}
    refits = deaths.RefitCounts(started, allowed=3)
    attempts.note_attempt(folder)  # fit 1 starts on worker 1, which dies
    attempts.note_attempt(folder)  # fit 2 starts on worker 2 before the first death's note reads .attempts
    assert attempts.attempts(folder) - started["lens_a"] == 2
    assert refits.stopped([lens], out, {"lens_a": 1}) == [lens]  # worker 1's death
    assert refits.stopped([lens], out, {"lens_a": 2}) == [lens]  # worker 2's death: said too (was unsaid)
    assert refits.stopped([lens], out, {"lens_a": 3}) == []  # worker 3 held it queued, no third fit started
    attempts.note_attempt(folder)  # fit 3 starts on worker 4, which dies: the task's 4th death, past the 3
    assert refits.stopped([lens], out, {"lens_a": 4}) == []  # allowed: Dask fails the task, said as it fails
    attempts.note_attempt(folder)  # the survey submits the lens again: fit 4 starts on worker 5, which dies,
    assert refits.stopped([lens], out, {"lens_a": 1}) == [lens]  # the new task's first death: Dask gives it on


def test_two_deaths_noted_at_once_say_each_started_fit_once(tmp_path):
    """Each worker's death is noted in a thread of its own: two at once, for one lens of which one
    fit had started, must say it once (the count is read and changed under a lock)."""
    out = tmp_path / "out"
    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    lens.output(out).mkdir(parents=True)
    attempts.note_attempt(lens.output(out))
    refits = deaths.RefitCounts({}, allowed=3)
    said: list[list] = []
    threads = [threading.Thread(target=lambda: said.append(refits.stopped([lens], out, {}))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(len, said)) == [0] * 7 + [1], said


def test_an_event_that_reaches_the_client_after_the_survey_unsubscribed_is_not_handled():
    """distributed's Client.unsubscribe_topic tells the scheduler to send no more events but keeps
    the handler in the client, which an event already sent (a worker's removal as a stopped survey's
    cluster closes) still reached: the survey's handler then noted a lens as fitted again after the
    survey's last lines. Through the Subscription the survey now holds, the handler is called while
    it is open and no more once it is closed (the real Client methods, on a client of no cluster)."""
    from distributed import Client

    sent: list[dict] = []
    client = types.SimpleNamespace(id="client-1", _event_handlers={}, _send_to_scheduler=sent.append)
    client.subscribe_topic = functools.partial(Client.subscribe_topic, client)
    client.unsubscribe_topic = functools.partial(Client.unsubscribe_topic, client)
    handled: list = []
    events = deaths.Subscription(client, deaths.WORKER_EVENTS, handled.append).open()
    event = (0.0, {"action": "remove-worker", "worker": "tcp://10.0.0.1:1", "processing-tasks": ["k"]})
    client._event_handlers[deaths.WORKER_EVENTS](event)  # as the client's event loop calls it
    assert handled == [event]
    events.close()
    assert [m["op"] for m in sent] == ["subscribe-topic", "unsubscribe-topic"]
    assert deaths.WORKER_EVENTS in client._event_handlers  # the truth: distributed keeps the handler
    client._event_handlers[deaths.WORKER_EVENTS](event)  # an event already on its way
    assert handled == [event] and events.ended.is_set()


def test_the_bar_on_a_terminal_shows_the_stages_of_the_lenses_in_flight(tmp_path, monkeypatch):
    """On a terminal the survey's bar showed only counts, rate and times while its lenses were
    hours in their stages (the heartbeat, which told them, runs only without a terminal); its last
    column now shows them (stages_in_flight), refreshed by the heartbeat's thread."""
    from tinylens.inference import progress as progress_module

    monkeypatch.setattr(progress_module, "draws_live", lambda console: True)
    out = tmp_path / "out"
    lenses = [_lens_in_stage(out, "lens_a", {"fingerprint": "f", "best": [0.0], "runs": []}),
              _lens_in_stage(out, "lens_b", {"fingerprint": "f", "partial": {"done": 1}})]
    in_flight = {"future_a": lenses[0], "future_b": lenses[1]}
    with progress.SurveyProgress(4, [], enabled=True,
                               stage=lambda: attempts.stages_in_flight(attempts.snapshot(in_flight), out)) as bar:
        assert bar._progress is not None
        shown = lambda: bar._progress.tasks[0].fields["stages"]  # noqa: E731
        assert shown() == ""
        bar.heartbeat()
        assert shown() == "lenses: 1 in stage 4/4, 1 in stage 2/4"
        in_flight.pop("future_a")
        bar.heartbeat()
        assert shown() == "lens_b: stage 1/4 (lens light) done"
        in_flight.clear()
        bar.heartbeat()
        assert shown() == ""


@pytest.mark.parametrize("width", [60, 80, 120])
def test_a_long_stage_on_a_narrow_terminal_is_cut_not_the_bar_counts(monkeypatch, width):
    """On an 80-column terminal, one lens's stage ('lens_...: stage 3/4 (mass and source), 2 starts
    ended') took the bar's line: rich cut every column evenly, the counts to '0 ok 0 faile…' and the
    bar, its M/N and times off. The stage column now gives way, cut with an ellipsis on the one
    line, with the bar and the rate, and the counts stay whole (the bar rendered at 60, 80 and 120
    columns; at 60 the stage has no room left, and the rate has it at 120)."""
    import io

    from rich.console import Console

    from tinylens.inference import progress as progress_module

    monkeypatch.setattr(progress_module, "draws_live", lambda console: True)
    stage = "lens_with_a_long_identifier_0001: stage 3/4 (mass and source), 2 starts ended"
    with progress.SurveyProgress(1000, [], enabled=True) as bar:
        bar._progress.update(bar._task, stages=stage, rate="12.3 lenses/h")
        console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
        console.print(bar._progress.get_renderable())
    lines = console.file.getvalue().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= width, lines  # one line: cut, not wrapped
    assert " 0/1000 0 ok 0 failed 1000 left " in lines[0], lines
    assert ("12.3 lenses/h" in lines[0]) == (width >= 120), lines
    assert "ETA -:--:--" in lines[0], lines  # at 60 too (the label and the time elapsed left out there)
    if width >= 80:
        shown = lines[0].rstrip().rsplit(" ", 1)[-1]  # the stage column, last
        assert shown.endswith("…") and stage.startswith(shown[:-1]), lines


@pytest.mark.parametrize("width", [80, 100])
@pytest.mark.parametrize("total, done, rate", [(1000, 0, "12.3 lenses/h"), (10000, 1237, "1.23e+03 lenses/h"),
                                               (100000, 12370, "1.23e+04 lenses/h")])
def test_the_bar_keeps_its_count_and_eta_whole_on_an_80_column_terminal(monkeypatch, width, total, done, rate):
    """With no stage said, every column of the bar could be narrowed, and rich narrowed the widest:
    on an 80-column terminal a survey of 10000 lenses showed '123…' for 1237/10000, '0:00…' elapsed
    and 'ETA -:-…' (1000 lenses: '0/…' and 'ETA -:--:…'). The count, the counts, the time elapsed
    and the ETA are now kept whole; the bar and the rate give way."""
    import io

    from rich.console import Console

    from tinylens.inference import progress as progress_module

    monkeypatch.setattr(progress_module, "draws_live", lambda console: True)
    with progress.SurveyProgress(total, [{"status": "ok"}] * done, enabled=True) as bar:
        bar._progress.update(bar._task, rate=rate)
        console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
        console.print(bar._progress.get_renderable())
    lines = console.file.getvalue().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= width, lines  # one line: cut, not wrapped
    counts = f" {done}/{total} {done} ok 0 failed {total - done} left "
    assert counts in lines[0], lines
    assert re.search(r" \d+:\d\d:\d\d ETA -:--:--", lines[0]), lines  # elapsed; no rate yet in this run: no ETA


@pytest.mark.parametrize("total, done", [(1000, 370), (10000, 1237), (1000000, 370000)])
@pytest.mark.parametrize("stage", ["", "lens_000123: stage 3/4 (mass and source), 2 starts ended"])
def test_the_bar_keeps_its_count_and_eta_whole_on_a_60_column_terminal(monkeypatch, total, done, stage):
    """On 60 columns the columns kept whole did not fit for a survey of 1000 lenses or more, and rich
    cut every column evenly: '0:00:…' elapsed and 'ETA -:--:…' (10^6 lenses: '370000/1000…',
    'sur…'). The label 'survey', then the time elapsed, are now left out first: the count, the
    counts and the ETA stay whole on the one line."""
    import io

    from rich.console import Console

    from tinylens.inference import progress as progress_module

    monkeypatch.setattr(progress_module, "draws_live", lambda console: True)
    with progress.SurveyProgress(total, [{"status": "ok"}] * done, enabled=True) as bar:
        bar._progress.update(bar._task, rate="1.23e+03 lenses/h", stages=stage)
        console = Console(file=io.StringIO(), width=60, force_terminal=True, color_system=None)
        console.print(bar._progress.get_renderable())
    lines = console.file.getvalue().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 60, lines  # one line: cut, not wrapped
    assert f" {done}/{total} {done} ok 0 failed {total - done} left " in lines[0], lines
    assert re.search(r" ETA -:--:--( |$)", lines[0]), lines  # no rate yet in this run: no ETA, said whole
    assert not re.search(r"\d:[\d:]*…|ETA…|\bs…|sur…", lines[0]), lines  # no time nor label cut: shown whole, or not at all
    wide = Console(file=io.StringIO(), width=120, force_terminal=True, color_system=None)
    wide.print(bar._progress.get_renderable())
    assert wide.file.getvalue().startswith("survey ") and re.search(r" \d+:\d\d:\d\d ETA", wide.file.getvalue())


def test_the_bar_of_a_million_lenses_keeps_its_counts_and_a_known_eta_whole_on_60_columns(monkeypatch):
    """A survey of 10^6 lenses on 60 columns kept its counts and 'ETA -:--:--' whole only until
    the ETA was known: at 1000 lenses/h, 629997 left, 'ETA 629:59:50' is two columns wider, and
    with the label and the time elapsed left out the bar, the rate and the stages, which had no
    room there, still took a column each, so rich cut the ETA ('ETA 629:59:…'). Those three are
    now left out too, in turn, where the columns kept whole do not fit."""
    import io

    import rich.console
    from rich.console import Console

    from tinylens.inference import progress as progress_module

    monkeypatch.setattr(progress_module, "draws_live", lambda console: True)
    now = [0.0]
    monkeypatch.setattr(rich.console, "monotonic", lambda: now[0])  # rich's clock: the bar's speed and ETA
    with progress.SurveyProgress(1_000_000, [{"status": "ok"}] * 370_000, enabled=True, clock=lambda: now[0]) as bar:
        for now[0] in (3.6, 7.2, 10.8):  # a lens every 3.6 s: 1000 lenses/h
            bar.update({"status": "ok"})
        console = Console(file=io.StringIO(), width=60, force_terminal=True, color_system=None)
        console.print(bar._progress.get_renderable())
        wide = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
        wide.print(bar._progress.get_renderable())
    lines = console.file.getvalue().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 60, lines  # one line: cut, not wrapped
    assert " 370003/1000000 370003 ok 0 failed 629997 left " in lines[0], lines
    eta = re.search(r" ETA (\d+):(\d\d):(\d\d)$", lines[0].rstrip())
    assert eta, lines
    hours, minutes, seconds = map(int, eta.groups())
    assert abs(hours * 3600 + minutes * 60 + seconds - 629_997 * 3.6) <= 2, lines  # the independent truth: left / rate
    assert "…" not in lines[0], lines
    assert wide.file.getvalue().startswith("survey ") and re.search(r" 0:00:1\d ETA 629:59:\d\d", wide.file.getvalue())


def test_the_bar_of_a_resumed_survey_gives_no_eta_from_lenses_finished_from_a_checkpoint(monkeypatch):
    """rich's ETA on the bar times every lens it is advanced by: in a resumed survey of 4 lenses,
    lens_a and lens_b, resuming from nearly finished checkpoints, ended 5 s and 9 s in and the bar
    said 'ETA 0:00:08' for two lenses to fit from the start. The bar of a resumed survey now shows
    the line's ETA (lenses not resumed, over the time elapsed): none until lens_c, fitted from
    the start, ends at 30 min, then 30 min for the one left (rich's, timed from lens_a's end:
    0:14:58)."""
    import io

    import rich.console
    from rich.console import Console

    from tinylens.inference import progress as progress_module

    monkeypatch.setattr(progress_module, "draws_live", lambda console: True)
    now = [0.0]
    monkeypatch.setattr(rich.console, "monotonic", lambda: now[0])  # rich's clock: the bar's speed and ETA

    def shown(bar: progress.SurveyProgress) -> str:
        console = Console(file=io.StringIO(), width=200, force_terminal=True, color_system=None)
        console.print(bar._progress.get_renderable())
        return console.file.getvalue()

    with progress.SurveyProgress(4, [], enabled=True, clock=lambda: now[0], resuming=["lens_a", "lens_b"]) as bar:
        for now[0], lens in ((5.0, "lens_a"), (9.0, "lens_b")):
            bar.update({"lens_id": lens, "status": "ok"})
        before = shown(bar)
        now[0] = 1800.0
        bar.update({"lens_id": "lens_c", "status": "ok"})
        after = shown(bar)
    assert " 2/4 2 ok 0 failed 2 left no rate yet (2 finished from a checkpoint) " in before, before
    assert re.search(r" ETA -:--:--( |$)", before.rstrip()), before
    left = 1 / (1 / 1800.0)  # the one lens left at lens_c's rate: 1800 s
    eta = re.search(r" ETA (\d+):(\d\d):(\d\d)( |$)", after.rstrip())
    assert eta, after
    hours, minutes, seconds = map(int, eta.groups()[:3])
    assert hours * 3600 + minutes * 60 + seconds == pytest.approx(left, abs=1), after
    assert " 3/4 3 ok 0 failed 1 left 2 lenses/h " in after, after
    # a fresh survey's bar keeps rich's estimate: two lenses 4 s apart, 2 left, 8 s
    now[0] = 0.0
    with progress.SurveyProgress(4, [], enabled=True, clock=lambda: now[0]) as bar:
        for now[0], lens in ((5.0, "lens_a"), (9.0, "lens_b")):
            bar.update({"lens_id": lens, "status": "ok"})
        assert re.search(r" ETA 0:00:08( |$)", shown(bar).rstrip()), shown(bar)

def _lens_a_refits(tmp_path: Path) -> tuple[Path, discovery.Lens, Path, deaths.RefitCounts]:
    """A survey's out folder, lens_a with its lens folder made in it, and the RefitCounts of a survey
    that allows 3 deaths a task and has said none against lens_a yet."""
    out = tmp_path / "out"
    lens = discovery.Lens("lens_a", tmp_path / "in" / "lens_a")
    folder = lens.output(out)
    folder.mkdir(parents=True)
    return out, lens, folder, deaths.RefitCounts({"lens_a": 0}, allowed=3)


def test_a_worker_that_held_a_retried_lens_queued_is_not_said_to_have_stopped_its_fit(tmp_path):
    """RefitCounts counted the deaths said against the fits started, but a fit that raised is
    started again by Dask's retries without a death: with fits 1 and 2 raised (retried) and fit 3
    stopped by worker C's death (said), the death of worker D, which held the lens queued (no
    fit started on it), read as a fourth started fit's (3 fits > 1 said) and was said as 'died
    while fitting it'. The .attempts lines now name the worker that started each fit, and a death
    is said where a fit started on that worker is not said yet: C's once, D's not; where the lines
    name no worker (an older tinylens's) the count decides, as before."""
    out, lens, folder, refits = _lens_a_refits(tmp_path)
    line = "2026-12-07 13:00:00 process 7 on node1"
    (folder / filenames.ATTEMPTS).write_text("".join(f"{line}, worker tcp://10.0.0.{n}:4000\n" for n in (1, 2, 3)))
    assert refits.stopped([lens], out, {"lens_a": 1}, "tcp://10.0.0.3:4000") == [lens]  # C: fitting it
    assert refits.stopped([lens], out, {"lens_a": 2}, "tcp://10.0.0.4:4000") == []  # D: held it queued
    assert refits.stopped([lens], out, {"lens_a": 2}, "tcp://10.0.0.3:4000") == []  # C's death said once
    with (folder / filenames.ATTEMPTS).open("a") as handle:  # the refit starts on E before E's death is read
        handle.write(f"{line}, worker tcp://10.0.0.5:4000\n")
    # fit 4, but the task's 3rd death (the retried fits are none): within the 3 Dask allows, said
    assert refits.stopped([lens], out, {"lens_a": 3}, "tcp://10.0.0.5:4000") == [lens]
    with (folder / filenames.ATTEMPTS).open("a") as handle:
        handle.write(f"{line}, worker tcp://10.0.0.6:4000\n")
    assert refits.stopped([lens], out, {"lens_a": 4}, "tcp://10.0.0.6:4000") == []  # its 4th: Dask fails it


def test_a_death_is_said_of_a_fit_of_the_task_its_worker_held_that_its_raises_leave_running(tmp_path):
    """RefitCounts took the last unsaid fit started on a dying worker for the one it was running,
    though that fit may have raised (its retry then waited there, queued) or been a fit of the
    lens's earlier task (the survey submitted it again since). Given each task's start and its
    raises, such a worker's death is not said of the lens; a fit the raises leave running is."""
    out, lens, folder, refits = _lens_a_refits(tmp_path)
    line = "2026-12-07 13:00:00 process 7 on node1, worker tcp://10.0.0.{}:4000\n"
    raises = {"count": 1}
    tasks = {"lens_a": (0, lambda: raises["count"])}
    (folder / filenames.ATTEMPTS).write_text(line.format(1))  # fit 0 on W raised; its retry waits on W
    assert refits.stopped([lens], out, {"lens_a": 1}, "tcp://10.0.0.1:4000", tasks) == []
    assert refits.stopped([lens], out, {"lens_a": 1}, "tcp://10.0.0.1:4000") == [lens]  # as it was said
    refits = deaths.RefitCounts({"lens_a": 0}, allowed=3)
    with (folder / filenames.ATTEMPTS).open("a") as handle:  # the retry, fit 1, starts on W, which dies
        handle.write(line.format(1))
    assert refits.stopped([lens], out, {"lens_a": 1}, "tcp://10.0.0.1:4000", tasks) == [lens]
    raises["count"] = 2  # fit 2, on X, raised; its retry waits on X, which dies
    with (folder / filenames.ATTEMPTS).open("a") as handle:
        handle.write(line.format(2))
    assert refits.stopped([lens], out, {"lens_a": 2}, "tcp://10.0.0.2:4000", tasks) == []
    # the survey submitted the lens again (3 fits before its new task), whose first death holds it queued on X
    assert refits.stopped([lens], out, {"lens_a": 1}, "tcp://10.0.0.2:4000", {"lens_a": (3, lambda: 0)}) == []


def test_a_fit_started_on_a_dask_worker_names_it_in_its_attempts_line(tmp_path):
    """note_attempt, called by a survey task on its worker, ends the line with that worker's address,
    the one the scheduler's remove-worker event names; outside a worker the line names none."""
    from distributed import Client, LocalCluster

    attempts.note_attempt(tmp_path)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.submit(attempts.note_attempt, tmp_path, pure=False).result()
        address = next(iter(client.scheduler_info()["workers"]))
    assert attempts.attempt_workers(tmp_path) == ["", address]
    assert attempts.attempts(tmp_path) == 2


@pytest.mark.parametrize("cut", ["template bbbbbbbb", f"template {'b' * 16}, worker tcp://10.0.0.2:4"])
def test_an_attempts_line_cut_by_a_crash_is_no_record_and_the_next_fit_s_line_stands_apart(tmp_path, cut):
    """note_attempt appended its line unflushed, the only file the survey wrote outside atomic.py:
    a node crashing mid-write left a cut last line, which attempted_digest read as the template of
    the lens's checkpoints ('bbbbbbbb', no template's digest, where the fit it records never
    started) and attempt_workers as a worker (tcp://10.0.0.2:4, of no cluster); the next fit's line
    was then joined to it, its digest and worker read as the cut line's. A last line without its
    newline is now no record, cut off before the next line is appended, which is flushed."""
    folder = tmp_path / "lens_a"
    folder.mkdir()
    whole = f"2026-12-07 10:00:00 process 11 on node6 template {'a' * 16}, worker tcp://10.0.0.1:4000\n"
    (folder / filenames.ATTEMPTS).write_text(whole + f"2026-12-07 11:00:00 process 12 on node7 {cut}")
    assert attempts.attempted_digest(folder) == "a" * 16
    assert attempts.attempt_workers(folder) == ["tcp://10.0.0.1:4000"]
    assert attempts.attempts(folder) == 1
    attempts.note_attempt(folder, "c" * 16)  # the lens's next fit, outside a worker
    lines = (folder / filenames.ATTEMPTS).read_text().split("\n")
    assert lines[0] + "\n" == whole and lines[1].endswith(f" template {'c' * 16}") and lines[2:] == [""], lines
    assert "bbbb" not in lines[1] and f" process {os.getpid()} on " in lines[1], lines  # the cut line not joined to it
    assert attempts.attempted_digest(folder) == "c" * 16
    assert attempts.attempt_workers(folder) == ["tcp://10.0.0.1:4000", ""]
    assert attempts.attempts(folder) == 2


@pytest.mark.parametrize("setting", ["", "0"])
def test_an_attempts_line_is_flushed_to_the_disk_unless_fsync_is_off(tmp_path, monkeypatch, setting):
    """The attempts line, appended in place, is flushed (os.fsync of that file) as atomic.py's
    files are, and not where TINYLENS_FSYNC=0 turns flushing off."""
    monkeypatch.setenv("TINYLENS_FSYNC", setting)
    synced, real = [], os.fsync

    def fsync(fd):
        synced.append((os.fstat(fd).st_ino, os.fstat(fd).st_size))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    attempts.note_attempt(tmp_path, "a" * 16)
    path = tmp_path / filenames.ATTEMPTS
    assert synced == ([] if setting == "0" else [(path.stat().st_ino, path.stat().st_size)])
    assert attempts.attempted_digest(tmp_path) == "a" * 16


def test_the_lost_scheduler_message_says_what_becomes_of_its_workers_and_what_to_check():
    """A scheduler that stopped answering (its batch job ended, scancel): the message said its
    workers might wait for a scheduler for their --death-timeout, with no limit by default, fitting
    nothing more. Dask's worker does not: it closes once the scheduler's connection breaks, waiting
    for its running task at most its close's 30 s timeout, and --death-timeout bounds only its start
    (the truth below, from the installed distributed; a real 'dask worker' whose scheduler was killed
    exited 32.6 s later, its 60 s task cut short, and 12.2 s later after a 10 s task, finished). The
    message now says so, and what to check: the workers' job, with the batch system."""
    import inspect

    from distributed import Worker
    from distributed.core import Server

    assert "self.close(" in inspect.getsource(Worker.handle_scheduler)  # a broken connection closes the worker
    assert inspect.signature(Worker.close).parameters["timeout"].default == 30  # its running task's time
    assert "death_timeout" in inspect.getsource(Server.start)  # the only wait it bounds: the start
    text = " ".join(survey_cluster.lost_scheduler_text("tcp://h:1", ["lens_a"], 1).split())
    assert "a lens a worker was fitting resumes from its checkpoint). The survey does not stop that scheduler's " \
        "workers, but a Dask worker closes once its scheduler's connection breaks" in text, text
    assert "giving the lens it was fitting about 30 s more (one finished by then is kept; one cut short resumes " \
        "from its checkpoint when run again)" in text, text
    assert "waits for a scheduler" not in text and "it does not wait for a scheduler to come back" in text, text
    assert "Check with your batch system (e.g. squeue, qstat) that the workers' job has ended" in text, text


def test_a_template_whose_top_level_is_no_mapping_is_a_config_type_error(tmp_path):
    """A survey template holding a list at its top level was the plain ConfigError, though a
    config's top level of the wrong kind is a ConfigTypeError (a TypeError too); load_template now
    raises that, its message unchanged, and a missing template is a ConfigFileError (an OSError)."""
    from tinylens.errors import ConfigFileError, ConfigTypeError
    from tinylens.survey.runner import load_template

    path = tmp_path / "template.yaml"
    path.write_text("- dataset\n- model_components\n")
    with pytest.raises(ConfigTypeError, match=re.escape(f"The top level of template {path} must be a mapping with "
                                                        "'dataset', 'model_components', ...")):
        load_template(path)
    with pytest.raises(ConfigFileError, match=re.escape(f"Config file not found: {tmp_path / 'nope.yaml'}")):
        load_template(tmp_path / "nope.yaml")


@pytest.mark.parametrize("quality", ['{"flags": ["a"], "critical": NaN}', '{"flags": NaN, "critical": ["a"]}',
                                     '{"flags": ["a"], "critical": 5}'])
def test_an_older_rows_result_json_whose_quality_lists_are_no_lists_leaves_critical_flags_empty(tmp_path, quality):
    """read_rows gives an ok row written before critical_flags existed the raised critical flags of
    its result.json; since af761fe read a NaN in result.json as NaN (not a damaged file), a
    hand-edited quality whose flags or critical list was NaN (or a number) stopped read_rows, and
    the whole survey with it, with "TypeError: 'float' object is not iterable". Such a row now
    keeps its column empty, as for a result.json that cannot be read; a real list still gives it."""
    folder = tmp_path / "lenses" / "l1"
    folder.mkdir(parents=True)
    (folder / "row.json").write_text(json.dumps({"status": "ok", "lens_id": "l1"}))
    (folder / "result.json").write_text('{"quality": %s}' % quality)
    assert survey_rows.read_rows(tmp_path) == {"l1": {"status": "ok", "lens_id": "l1"}}
    (folder / "result.json").write_text('{"quality": {"flags": ["a", "b"], "critical": ["b", NaN]}, "x": NaN}')
    assert survey_rows.read_rows(tmp_path)["l1"]["critical_flags"] == "b"


#: A `dask worker` preload that leaves nautilus out of the worker's Python, as a worker started in
#: an environment without it (the survey's own has it: its template check passed).
WITHOUT_NAUTILUS = "import sys\nsys.modules['nautilus'] = None\n"


def _lacking_reason(worker: str) -> str:
    """How a failed lens's reason begins where the worker ``worker`` of this host lacks nautilus."""
    import socket
    import sys

    return (f"Not fitted: host {socket.gethostname()} (Dask worker {worker}) lacks the package nautilus, which the "
            f"template's sampler needs; the lens itself is not at fault. Install it in that worker's Python "
            f"({sys.executable} -m pip install")


def test_a_worker_lacking_the_sampler_package_is_named_at_start_and_fits_no_lens(tmp_path, mock_survey, monkeypatch):
    """A Dask worker started without nautilus failed each lens it took (a permanent failed row, to
    be fitted again with --retry-failed), though the other worker could fit it: with one good and
    one such worker, the lenses it took failed. The survey now asks its workers at the start
    whether they import the template's sampler, names each host that does not in one warning (its
    workers, its Python and the pip command that installs the package there), and gives its lenses
    to the other workers: every lens is fitted. (A scheduler and a good worker in this process, the
    other a `dask worker` process without nautilus; fits faked, importing the sampler as a fit does.)"""
    import socket
    import sys

    from distributed import Client, LocalCluster

    from survey_mocks import echo_after_sampler_import
    from tinylens.errors import ConfigWarning

    monkeypatch.setattr(runner, "check_template", lambda *args, **kwargs: None)
    monkeypatch.setattr(runner, "fit_lens", echo_after_sampler_import)
    (tmp_path / "preload.py").write_text(WITHOUT_NAUTILUS)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        good = next(iter(cluster.workers.values())).address
        with _late_worker(cluster.scheduler_address, tmp_path / "preload.py"):
            client.wait_for_workers(2, timeout=60)
            bad = next(address for address in client.scheduler_info()["workers"] if address != good)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                frame = runner.run_survey(mock_survey["lenses"], mock_survey["template"], tmp_path / "out",
                                          scheduler=cluster.scheduler_address, progress=False)
    assert frame["status"].tolist() == ["ok"] * 4, frame[["lens_id", "status", "reason"]].to_dict("records")
    said = [" ".join(str(w.message).split()) for w in caught if issubclass(w.category, ConfigWarning)]
    lacking = [text for text in said if "lacks the package" in text]
    command = f"{sys.executable} -m pip install 'nautilus-sampler[checkpointing]'"
    assert lacking == [f"Host {socket.gethostname()} (Dask worker {bad}) lacks the package nautilus (not installed in "
                       f"its Python, {sys.executable}), which the template's sampler needs: it fits no lens, its "
                       f"lenses being given to the other workers. Install it there ({command}) or start its workers "
                       "in the survey's environment."], said


def test_lenses_only_workers_lacking_the_sampler_package_could_take_fail_naming_the_host(tmp_path, monkeypatch,
                                                                                          capsys):
    """A worker without nautilus that joins after the start (not named then) is found by the tasks
    it takes: named once under the bar, however many lenses it refuses, and its lenses given to the
    other workers; where no other worker is connected they fail, each row naming the host, the
    worker and what to install there as when the fit itself finds the package missing, and the
    summary counting them by host; once a good worker joins, the next run fits every lens there,
    none on the worker without nautilus. (A scheduler in this process and a `dask worker` process
    without nautilus, then a good worker in this process; fits faked, importing the sampler as a fit does.)"""
    from distributed import Client, LocalCluster

    from survey_mocks import echo_after_sampler_import

    monkeypatch.setattr(runner, "fit_lens", echo_after_sampler_import)
    (tmp_path / "preload.py").write_text(WITHOUT_NAUTILUS)
    out, lenses = _survey_folders(tmp_path, 3)
    with LocalCluster(n_workers=0, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client, \
            _late_worker(cluster.scheduler_address, tmp_path / "preload.py"):
        client.wait_for_workers(1, timeout=60)
        bad = next(iter(client.scheduler_info()["workers"]))
        alone = runner._fit_lenses(lenses, {}, {}, out, [], 1, None, False, client=client)
        rows_alone = survey_rows.read_rows(out)
        err = " ".join(capsys.readouterr().err.split())
        cluster.scale(1)  # a good worker joins: the next run (--retry-failed) fits every lens there
        client.wait_for_workers(2, timeout=60)
        frame = runner._fit_lenses(lenses, {}, {}, out, [], 1, None, False, client=client)
    assert alone["status"].tolist() == ["failed"] * 3
    for reason in alone["reason"]:
        assert reason.startswith(_lacking_reason(bad)) and "--retry-failed" in reason, reason
    assert {lens_id: row["reason"] for lens_id, row in rows_alone.items()} == dict(zip(alone["lens_id"], alone["reason"]))
    assert [count for _, count in task.missing_on_workers(list(alone["reason"])).items()] == [3]
    assert frame["status"].tolist() == ["ok"] * 3, frame[["lens_id", "status", "reason"]].to_dict("records")
    assert err.count("survey: host ") == 1, err  # one line, though each lens was refused 4 times
    assert f"(Dask worker {bad}) lacks the package nautilus" in err and "no other worker is connected" in err, err


def test_a_lens_failed_by_a_failing_disk_says_in_its_row_what_to_check_and_how_to_fit_it_again(tmp_path, monkeypatch):
    """A lens whose fit failed, after its retries, because the disk refused the write of its
    checkpoint (EIO of os.fsync, as tinylens's writer raises it) had the row reason
    "OSError: [Errno 5] Input/output error: '.../checkpoint.hdf5'", no word of what failed or what to do;
    it now names the file, says what the error means, that the earlier file is kept, what to check
    (dmesg, df -h) and to run the survey again with --retry-failed, on one line within MAX_REASON.
    Another EIO (of a file tinylens did not write) keeps its plain reason."""
    import errno

    from tinylens.errors import written_output
    from tinylens.results.tables import write_json

    lens = discovery.Lens("lens_a", tmp_path / "lenses_in" / "lens_a")
    monkeypatch.chdir(tmp_path)  # a path of the same length under any tmp folder: a long one would cut the reason
    out = Path("o" * 60) / "survey"  # a long path: the advice after it is not cut
    folder = lens.output(out)
    folder.mkdir(parents=True)
    checkpoint = folder / filenames.CHECKPOINTS["nautilus"]
    checkpoint.write_bytes(b"earlier")
    real = os.fsync

    def failing(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    monkeypatch.setattr(os, "fsync", failing)
    with pytest.raises(OSError) as caught:
        write_json(checkpoint, {"new": True})
    monkeypatch.setattr(os, "fsync", real)
    assert written_output(caught.value) and checkpoint.read_bytes() == b"earlier"

    row = runner._task_row(runner._Outcome("error", error=caught.value), lens, out)
    reason = row["reason"]
    assert row["status"] == "failed" and survey_rows.read_row(folder / filenames.ROW, "lens_a") == row
    assert reason.startswith("checkpoint.hdf5 cannot be written (Input/output error: the disk"), reason
    assert f"Its path: {checkpoint}. Check" in reason, reason
    assert "dmesg" in reason and reason.endswith("--retry-failed (run_survey: retry_failed=True)."), reason
    assert "\n" not in reason and len(reason) <= survey_rows.MAX_REASON and "characters cut" not in reason, reason
    assert "nothing is half-written, the earlier file kept" in reason, reason

    other = OSError(errno.EIO, os.strerror(errno.EIO), str(tmp_path / "lib.so"))  # not an output's write
    row = runner._task_row(runner._Outcome("error", error=other), lens, out)
    assert row["reason"] == f"OSError: [Errno 5] Input/output error: '{tmp_path / 'lib.so'}'", row


def test_a_failing_disks_write_of_the_checkpoint_keeps_the_checkpoints_for_the_retry(tmp_path, monkeypatch):
    """A fit whose write of checkpoint.hdf5 failed on a failing disk (EIO, as tinylens's writer
    raises it: written under a temporary name, the earlier checkpoint untouched) was taken for one a
    damaged checkpoint may have caused, since the error names that file: the lens's checkpoints were
    deleted before Dask's retry, which started the sampling from the beginning. They are now kept,
    byte for byte, as for a full disk; an EIO of reading the checkpoint still removes them."""
    import errno

    import tinylens
    from tinylens.atomic import write_atomic
    from tinylens.errors import written_output

    folder = tmp_path / "lens_a"
    folder.mkdir()
    checkpoint = folder / filenames.CHECKPOINTS["nautilus"]

    def eio(tmp):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    def failing_fit(config, **kwargs):
        for name in filenames.checkpoint_names():
            (folder / name).write_text("sampled so far")
        write_atomic(checkpoint, eio)  # the disk fails the next checkpoint's write

    monkeypatch.setattr(tinylens, "fit", failing_fit)
    with pytest.raises(OSError) as raised:
        task.fit_lens("lens_a", {}, str(folder))
    assert written_output(raised.value) and raised.value.filename == str(checkpoint)
    assert [(folder / name).read_text() for name in filenames.checkpoint_names()] == (
        ["sampled so far"] * len(filenames.checkpoint_names()))
    read = OSError(errno.EIO, os.strerror(errno.EIO), str(checkpoint))  # not a write's: the file may be damaged
    assert task.checkpoint_may_be_cause(read, folder) and not task.checkpoint_may_be_cause(raised.value, folder)


def test_a_lens_whose_checkpoint_hdf5_cannot_lock_says_in_its_row_to_set_hdf5_use_file_locking(tmp_path, monkeypatch):
    """On NFS without its lock service HDF5's lock of the checkpoint it writes fails (h5py's OSError,
    errno 37, ENOLCK); the lens's row said a failing disk ('Check that disk or network mount (dmesg,
    df -h)'), though retrying fails the same way until HDF5_USE_FILE_LOCKING=FALSE is set. The row
    now says HDF5 could not lock the file and to set that variable; an ENOLCK of tinylens's own
    writer (os.fsync on such a mount) is still said as the network file system's, with dmesg."""
    import errno

    from tinylens.inference import nautilus_runner
    from tinylens.results.tables import write_json

    lens = discovery.Lens("lens_a", tmp_path / "lenses_in" / "lens_a")
    monkeypatch.chdir(tmp_path)  # a path of the same length under any tmp folder
    out = Path("survey")
    folder = lens.output(out)
    folder.mkdir(parents=True)
    checkpoint = folder / filenames.CHECKPOINTS["nautilus"]

    def no_locks(path):
        raise OSError(errno.ENOLCK, "Unable to synchronously create file (unable to lock file, errno = 37, "
                      "error message = 'No locks available')")

    sampler = types.SimpleNamespace(_write_whole=no_locks)
    with pytest.raises(OSError) as caught:
        nautilus_runner.CheckpointedSampler._save(sampler, checkpoint, force=True)
    reason = runner._task_row(runner._Outcome("error", error=caught.value), lens, out)["reason"]
    assert reason.startswith("checkpoint.hdf5 cannot be written (No locks available: HDF5 locks each file"), reason
    assert "Export HDF5_USE_FILE_LOCKING=FALSE for the survey and its workers" in reason, reason
    assert "dmesg" not in reason, reason
    assert reason.endswith("--retry-failed (run_survey: retry_failed=True).") and "characters cut" not in reason, reason

    def fsync_no_locks(fd):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    real = os.fsync
    monkeypatch.delenv("TINYLENS_FSYNC", raising=False)
    monkeypatch.setattr(os, "fsync", fsync_no_locks)
    with pytest.raises(OSError) as caught:
        write_json(folder / filenames.RESULT, {"new": True})
    monkeypatch.setattr(os, "fsync", real)
    reason = runner._task_row(runner._Outcome("error", error=caught.value), lens, out)["reason"]
    assert "the network file system could not give a lock" in reason and "dmesg" in reason, reason
    assert "HDF5" not in reason, reason


@pytest.mark.parametrize("code", ["EIO", "ENOLCK"])
def test_a_failing_disks_row_reason_under_a_long_path_cuts_the_path_not_the_reason_or_advice(tmp_path, monkeypatch,
                                                                                             code):
    """The row reason of a lens whose checkpoint a failing disk refused began with the file's whole
    path, so the middle cut to MAX_REASON (500) took, for a path over about 190 characters, the
    system's reason and what it means, and over about 400 the file's name. The reason now begins
    with the file's name, the system's reason and what is left, then the path, cut in its middle
    where it must be (its end, the lens's folder and the file, kept), then the advice, whole; for
    HDF5's lock refused (ENOLCK, h5py's text) too, whose advice is longer."""
    import errno

    from tinylens.inference import nautilus_runner

    lens = discovery.Lens("lens_a", tmp_path / "lenses_in" / "lens_a")
    out = tmp_path / ("d" * 200) / ("e" * 200) / "survey"  # 400 characters and the tmp folder's, however long
    folder = lens.output(out)
    folder.mkdir(parents=True)
    checkpoint = folder / filenames.CHECKPOINTS["nautilus"]
    number = getattr(errno, code)
    text = ("Unable to synchronously create file (unable to lock file, errno = 37, error message = 'No locks "
            "available')" if code == "ENOLCK" else os.strerror(number))

    def failing(path):
        raise OSError(number, text)

    with pytest.raises(OSError) as caught:
        nautilus_runner.CheckpointedSampler._save(types.SimpleNamespace(_write_whole=failing), checkpoint, force=True)
    reason = runner._task_row(runner._Outcome("error", error=caught.value), lens, out)["reason"]
    said = os.strerror(number)
    assert len(reason) <= survey_rows.MAX_REASON and "\n" not in reason, reason
    assert reason.startswith(f"checkpoint.hdf5 cannot be written ({said}: "), reason
    meaning = "HDF5 locks each file it writes" if code == "ENOLCK" else "the disk, or the network file system"
    assert meaning in reason and "nothing is half-written, the earlier file kept. Its path: " in reason, reason
    assert "characters cut]..." in reason and "/lenses/lens_a/checkpoint.hdf5. " in reason, reason
    advice = ("Export HDF5_USE_FILE_LOCKING=FALSE for the survey and its workers" if code == "ENOLCK"
              else "Check that disk or network mount (dmesg, df -h)")
    assert reason.endswith(f"/lens_a/checkpoint.hdf5. {advice}"
                           + reason.split(advice, 1)[1]) and reason.endswith("retry_failed=True)."), reason
