"""``tinylens.read_result(folder)``: the FitResult of a finished fit, read back from its output
folder (result.json, the samples table and the summary table) the next day."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from pathlib import Path
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import tinylens
from tiny_lens import tiny_config, write_tiny_lens
from tinylens.errors import OutputError
from tinylens.results.tables import MIN_RELATIVE_WEIGHT, write_table


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A real fit of the tiny lens (the sampler alone, no figures: quickly), with a truth, and
    its output folder."""
    folder = tmp_path_factory.mktemp("read_result")
    write_tiny_lens(folder)
    config = tiny_config(output=str(folder / "results"))
    config["pipeline"], config["output"]["draw_figures"] = {"enabled": False}, "none"
    result = tinylens.fit(config, progress=False, base_dir=folder, truth={"lens_mass.0.theta_E": 1.0})
    return result, folder / "results"


def as_written(result: tinylens.FitResult, **changes) -> tinylens.FitResult:
    """``result`` as its files hold it: the samples of negligible weight, which the samples table
    leaves out, left out, and no truth (not written), with ``changes``."""
    kept = result.weights >= MIN_RELATIVE_WEIGHT * result.weights.max()
    return replace(result, samples=result.samples[kept], weights=result.weights[kept],
                   log_likelihood=result.log_likelihood[kept], truth=None, **changes)


def test_a_finished_fit_reads_back_as_the_result_fit_returned(fitted):
    """There was no way to get a FitResult back from a fit's output folder: a user coming back
    to a finished fit had to read result.json and the tables by hand. read_result(folder) (or
    its result.json) returns what fit returned, but the samples table's negligible samples."""
    result, out = fitted
    read = tinylens.read_result(out)
    assert isinstance(read, tinylens.FitResult) and read.output_dir == out and read.truth is None
    assert read == as_written(result)
    expected = as_written(result)
    assert len(read.samples) > 100 and read.samples.shape == (len(read.weights), len(result.param_names))
    np.testing.assert_array_equal(read.samples, expected.samples)
    np.testing.assert_array_equal(read.weights, expected.weights)
    np.testing.assert_array_equal(read.log_likelihood, expected.log_likelihood)
    assert read.param_names == result.param_names and read.median == result.median
    assert read.total_time_s == result.total_time_s and read.converged == result.converged
    assert tinylens.read_result(str(out / "result.json")) == read


@pytest.mark.parametrize("samples, summary", [
    ("samples.parquet", "summary.pq"), ("samples.json.gz", "summary.json"), ("samples.fits", "summary.fits.bz2"),
    ("samples.ecsv.xz", "summary.ecsv"), ("samples.csv.tar.gz", "summary.CSV.ZIP"),
])
def test_tables_of_any_format_read_back_the_same(fitted, tmp_path, samples, summary):
    """output.tables names another format (Parquet, JSON, FITS, ECSV, a compressed CSV): the
    tables read back in the format their names say, with the same values and column types."""
    result, out = fitted
    stored = json.loads((out / "result.json").read_text())
    files = {**stored["files"], "samples": samples, "summary": summary}
    write_table(tmp_path / samples, pd.read_csv(out / stored["files"]["samples"]))
    write_table(tmp_path / summary, result.summary)
    (tmp_path / "result.json").write_text(json.dumps({**stored, "files": files}))
    assert tinylens.read_result(tmp_path) == as_written(result, files=files, output_dir=tmp_path)


def test_a_number_written_as_null_reads_back_as_nan(fitted, tmp_path):
    """result.json writes a number that is not finite (a derived magnitude of no flux) as null;
    it reads back as NaN, a number, as fit returned it."""
    result, out = fitted
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)
    stored = json.loads((tmp_path / "result.json").read_text())
    name = next(iter(stored["derived"]))
    stored["derived"][name]["interval_68"][0] = None
    (tmp_path / "result.json").write_text(json.dumps(stored))
    read = tinylens.read_result(tmp_path)
    assert np.isnan(read.derived[name]["interval_68"][0])
    assert read.derived[name]["interval_68"][1] == result.derived[name]["interval_68"][1]


def test_the_total_time_is_the_stored_one_or_none_where_none_is_stored_as_help_says(fitted, tmp_path):
    """FitResult.total_time_s was documented as None outside fit, but read_result gives the seconds
    result.json stores; help(FitResult) says so now, and that it is None where none is stored (a
    result.json of a tinylens before the field): each as read_result returns it."""
    result, out = fitted
    assert tinylens.read_result(out).total_time_s == result.total_time_s > 0
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)
    stored = json.loads((tmp_path / "result.json").read_text())
    del stored["total_time_s"]
    (tmp_path / "result.json").write_text(json.dumps(stored))
    assert tinylens.read_result(tmp_path).total_time_s is None
    text = " ".join(tinylens.FitResult.__doc__.split())  # what help(FitResult) shows first
    assert ("``total_time_s``: those of the whole :func:`~tinylens.fit` (as ``result.json`` stores them, for "
            ":func:`~tinylens.read_result` too; None where none is stored") in text


def test_no_folder_or_no_finished_fit_is_an_error_naming_the_folder(tmp_path):
    """A folder that does not exist, a file, a folder of no fit, of a fit not finished (its
    checkpoint there) or of a survey: an OutputError naming the folder and saying which."""
    with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'nowhere'} does not exist")):
        tinylens.read_result(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'notes.txt'} is a file, not the output folder")):
        tinylens.read_result(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'empty'} holds no result.json, so it holds no "
                                                    "finished fit")):
        tinylens.read_result(tmp_path / "empty")
    (tmp_path / "stopped").mkdir()
    (tmp_path / "stopped" / "checkpoint.hdf5").write_bytes(b"")
    with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'stopped'} holds no result.json: the fit there has "
                                                    "not finished (its checkpoint.hdf5 is there")):
        tinylens.read_result(tmp_path / "stopped")
    (tmp_path / "survey" / "lenses" / "lens1").mkdir(parents=True)
    with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'survey'} holds a survey, not a single fit")):
        tinylens.read_result(tmp_path / "survey")
    with pytest.raises(tinylens.ConfigError, match="read_result takes the output folder of a fit"):
        tinylens.read_result("")


@pytest.mark.parametrize("content, fragment", [
    ('{"name": "other", "version": "1.0"}', "not a tinylens result.json (it records no versions.tinylens): "
                                            "written by another program"),
    ("[1, 2]", "not a tinylens result.json"),
    ("{not json", "not a readable result.json (JSONDecodeError"),
    ('{"versions": {"tinylens": "0.1"}, "method": "nautilus"}', "it lacks param_names, median, max_likelihood"),
])
def test_a_result_json_of_another_program_is_an_error_naming_it(tmp_path, content, fragment):
    (tmp_path / "result.json").write_text(content)
    with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'result.json'}: {fragment}")):
        tinylens.read_result(tmp_path)


def test_a_missing_or_unreadable_table_is_an_error_naming_it(fitted, tmp_path):
    """The samples table deleted, garbled, or lacking a parameter's column: an OutputError naming
    the table, the fit's folder and its files entry."""
    result, out = fitted
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)
    table = tmp_path / result.files["samples"]
    table.unlink()
    with pytest.raises(OutputError, match=re.escape(f"{table}: no such file; it is the samples table of the fit in "
                                                    f"{tmp_path} (files.samples in {tmp_path / 'result.json'})")):
        tinylens.read_result(tmp_path)
    pd.DataFrame({"weight": [1.0], "log_likelihood": [0.0]}).to_csv(table, index=False)
    with pytest.raises(OutputError, match=re.escape(f"{table}: the samples table lacks {len(result.param_names)} "
                                                    f"columns ({', '.join(result.param_names)}) of the fit in")):
        tinylens.read_result(tmp_path)
    pd.read_csv(out / result.files["samples"]).drop(columns="weight").to_csv(table, index=False)
    with pytest.raises(OutputError, match=re.escape(f"{table}: the samples table lacks 1 column (weight) of the fit in")):
        tinylens.read_result(tmp_path)
    stored = json.loads((tmp_path / "result.json").read_text())
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    files = {**stored["files"], "summary": "broken.parquet"}
    (tmp_path / "result.json").write_text(json.dumps({**stored, "files": files}))
    pd.read_csv(out / result.files["samples"]).to_csv(table, index=False)
    with pytest.raises(OutputError, match=re.escape(f"{tmp_path / 'broken.parquet'}: the summary table of the fit in "
                                                    f"{tmp_path} cannot be read (")):
        tinylens.read_result(tmp_path)


def test_a_result_json_or_table_this_user_may_not_read_is_said_with_what_to_check(fitted, tmp_path, monkeypatch):
    """A result.json or a table the system would not read (another user's, chmod 600) was an OutputError
    echoing only 'PermissionError: [Errno 13] Permission denied'; it also says what to check, with the ls
    that shows it. The refusals are patched reads: the tests may run as root, whom permissions do not stop."""
    import errno
    import os
    import shlex
    from pathlib import Path

    from tinylens.results import tables

    result, out = fitted
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)
    record, table = tmp_path / "result.json", tmp_path / result.files["samples"]
    denied = os.strerror(errno.EACCES)
    advice = "Check that it is a file this user may read, in folders this user may enter"
    read_text, read_table = Path.read_text, tables.read_table_file

    def refused_text(self, *args, **kwargs):
        if Path(self) == record:
            raise PermissionError(errno.EACCES, denied, str(self))
        return read_text(self, *args, **kwargs)

    real_open = os.open

    def refused_open(file, flags, *args, **kwargs):  # tinylens.jsonfile's read, by its own open
        if Path(file) == record and not flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(errno.EACCES, denied, str(file))
        return real_open(file, flags, *args, **kwargs)

    def refused_table(path, *args, **kwargs):
        if Path(path) == table:
            raise PermissionError(errno.EACCES, denied, str(path))
        return read_table(path, *args, **kwargs)

    for target, name, refused, start in [(Path, "read_text", refused_text, f"{record}: not a readable result.json ("),
                                         (tables, "read_table_file", refused_table,
                                          f"{table}: the samples table of the fit in {tmp_path} cannot be read (")]:
        with monkeypatch.context() as patched:
            patched.setattr(target, name, refused)
            if name == "read_text":
                patched.setattr(os, "open", refused_open)
            with pytest.raises(OutputError) as err:
                tinylens.read_result(tmp_path)
        text = " ".join(str(err.value).split())
        path = record if name == "read_text" else table
        assert text.startswith(start) and denied in text, text
        assert advice in text and shlex.join(["ls", "-ld", str(path), str(tmp_path)]) in text, text
    assert tinylens.read_result(tmp_path).param_names == result.param_names  # readable again: read as before


@pytest.mark.parametrize("column, text", [(0, "oops"), (-2, "heavy")], ids=["parameter", "weight"])
def test_a_samples_table_holding_text_is_an_error_naming_the_column(fitted, tmp_path, column, text):
    """A samples table edited to hold a text where a number was (a parameter's column, or the
    weights) was numpy's ValueError 'could not convert string to float', naming no file; it is an
    OutputError naming the table, the column, the sample and what it holds."""
    result, out = fitted
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)
    table = tmp_path / result.files["samples"]
    frame = pd.read_csv(table).astype(object)
    name = frame.columns[column]
    frame.loc[3, name] = text
    frame.to_csv(table, index=False)
    with pytest.raises(OutputError, match=re.escape(f"{table}: the samples table's column {name} should hold numbers; "
                                                    f"its sample 3 (counting from 0) holds '{text}' (edited since")):
        tinylens.read_result(tmp_path)


THETA_E = "lens_mass.0.theta_E"


@pytest.mark.parametrize("key, value, fragment", [
    ("n_likelihood_evals", "5120", 'its n_likelihood_evals should be a whole number; got "5120"'),
    ("wall_time_s", "5.6", 'its wall_time_s should be a number of seconds; got "5.6"'),
    ("max_log_likelihood", [1.0], "its max_log_likelihood should be a number, or null; got [1.0]"),
    ("log_evidence", True, "its log_evidence should be a number, or null; got true"),
    ("converged", "yes", 'its converged should be true or false; got "yes"'),
    ("method", 5, "its method should be the search's name, a text (nautilus, dynesty, ...); got 5"),
    ("param_names", [1, 2], "its param_names should be a list of the free parameters' names; got [1, 2]"),
    ("median", [1.0], "its median should be a mapping of each free parameter to a number (or null); got [1.0]"),
    ("median", {}, f"its median lacks {THETA_E}"),
    (("median", THETA_E), "1.0", f'its median["{THETA_E}"] should be a number (or null); got "1.0"'),
    (("interval_68", THETA_E), 1.0, f'its interval_68["{THETA_E}"] should be a pair [low, high] of numbers (or '
                                    "nulls); got 1.0"),
    (("interval_997", THETA_E), [0.9, "1.1"], f'its interval_997["{THETA_E}"] should be a pair'),
    ("quality", [], "its quality should be a mapping (trusted, flags, checks, ...); got []"),
    (("quality", "flags"), 5, "its quality.flags should be a list of the flags' names; got 5"),
    ("derived", [], "its derived should be a mapping of each derived quantity to its median and intervals; got []"),
    (("files", "corner"), 5, 'its files["corner"] should be a file name; got 5'),
    ("config", "model_config.yaml", "its config should be the fit's config, a mapping"),
    ("config_dir", 5, "its config_dir should be the folder of the fit's config (a path), or null; got 5"),
    ("info", None, "its info should be a mapping of the sampler's and the pipeline's details; got null"),
    ("total_time_s", "9", 'its total_time_s should be a number of seconds, or null; got "9"'),
])
def test_a_field_of_the_wrong_kind_is_an_error_naming_the_file_and_the_key(fitted, tmp_path, key, value, fragment):
    """A result.json edited by hand, or written by another program, with a field of the wrong kind
    (a number written as a text, a mapping as a list) read back without a word, and the FitResult
    failed when shown (a notebook's repr) or used, with a TypeError or ValueError ("Cannot specify
    ',' with 's'", "string indices must be integers") naming no file; it is an OutputError naming
    the result.json, the key and the value."""
    _, out = fitted
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)
    record = tmp_path / "result.json"
    stored = json.loads(record.read_text())
    *parents, last = (key,) if isinstance(key, str) else key
    parent = stored
    for name in parents:
        parent = parent[name]
    parent[last] = value
    record.write_text(json.dumps(stored))
    with pytest.raises(OutputError) as err:
        tinylens.read_result(tmp_path)
    assert str(err.value).startswith(f"{record}: {fragment}"), str(err.value)


def _blocked_check(text: str, given) -> None:
    """Assert that ``text``, read_result's error for ``given`` (a fit folder or its result.json)
    behind a folder that may not be entered, names it and says what to check."""
    import shlex

    text = " ".join(text.split())
    what = "cannot be reached" if given.name == "result.json" else "cannot be looked into"
    assert text.startswith(f"{given} {what} (") and "Permission denied on " in text, text
    assert "this user may not enter" in text and "a folder on its way" in text, text
    assert shlex.join(["ls", "-ld", str(given), str(given.parent)]) in text, text


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root enters any folder")
@pytest.mark.parametrize("given", ["folder", "result.json"])
def test_a_fit_folder_behind_a_folder_this_user_may_not_enter_is_said_with_what_to_check(tmp_path, given):
    """read_result of a fit folder (or its result.json) whose parent may not be entered (chmod
    000) raised a bare PermissionError from Path.is_file / is_dir; it is an OutputError naming
    the folder, the path refused and the ls that shows the permissions."""
    blocked = tmp_path / "blocked"
    out = blocked / "fit"
    out.mkdir(parents=True)
    (out / "result.json").write_text("{}")
    given = out if given == "folder" else out / "result.json"
    blocked.chmod(0o000)
    try:
        with pytest.raises(OutputError) as err:
            tinylens.read_result(given)
    finally:
        blocked.chmod(0o755)
    _blocked_check(str(err.value), given)


def test_a_fit_folder_behind_a_refused_folder_is_said_with_what_to_check_even_as_root(tmp_path, refused_below):
    """As the test above, the refusal patched into Path.stat (root, whom permissions do not stop,
    runs the tests on some machines): an OutputError, not a bare PermissionError."""
    blocked = tmp_path / "blocked"
    out = blocked / "fit"
    out.mkdir(parents=True)
    (out / "result.json").write_text("{}")
    refused_below(blocked)
    for given in (out, out / "result.json"):
        with pytest.raises(OutputError) as err:
            tinylens.read_result(given)
        _blocked_check(str(err.value), given)


@pytest.mark.parametrize("empty", ["", " "])
def test_an_empty_folder_text_is_said_to_be_empty_not_of_the_wrong_type(empty):
    """tinylens.read_result("") (an unset variable) was answered 'read_result takes the output folder
    of a fit (a str or pathlib.Path); got str ''', refusing a str for not being a str; it is now
    said to be an empty path, as an empty output= or base_dir= is, and a value of another type
    still names its type."""
    with pytest.raises(tinylens.ConfigError) as caught:
        tinylens.read_result(empty)
    assert str(caught.value) == (f"read_result takes the output folder of a fit; got an empty path ({empty!r}: an "
                                 "unset variable?), which would be the current folder: give the folder that holds "
                                 "its result.json.")
    with pytest.raises(tinylens.ConfigError, match=r"\(a str or pathlib\.Path\); got int 3\.$"):
        tinylens.read_result(3)


def test_a_nan_written_by_pythons_json_reads_back_as_nan_as_load_stored_reads_it(fitted, tmp_path):
    """A result.json edited with Python's json.dump, which writes a NaN as the literal NaN (no JSON;
    tinylens writes null): read_result refused it as 'not a readable result.json (NotFiniteLiteral
    ...)', while load_stored of the same file read it, NaN as NaN. read_result reads it as load_stored
    does, the NaN where it stands, the other numbers as written."""
    result, out = fitted
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)
    stored = json.loads((tmp_path / "result.json").read_text())
    name = next(iter(stored["derived"]))
    stored["derived"][name]["interval_68"][0] = float("nan")
    (tmp_path / "result.json").write_text(json.dumps(stored))
    assert "NaN" in (tmp_path / "result.json").read_text()
    read = tinylens.read_result(tmp_path)
    assert np.isnan(read.derived[name]["interval_68"][0])
    assert read.derived[name]["interval_68"][1] == result.derived[name]["interval_68"][1]
    assert read.median == result.median


def test_every_reader_of_result_json_reads_a_nan_literal_as_load_stored_does(fitted, tmp_path):
    """result.json was read two ways: load_stored and read_result read a NaN written by Python's
    json.dump as NaN, while the fit (the earlier fit's files it replaces), the survey (a lens's row
    made again of its result.json, the precision its fits computed in), the overview (the lens's
    figure) and the mask check took the same file for a damaged one: no row (the lens fitted
    again), no figure, the earlier files left. Every reader now reads it by one rule."""
    from tinylens.fitting.replaced import replaced_files
    from tinylens.results.overview import _figure_path
    from tinylens.results.stored import load_stored, mask_reading_unknown
    from tinylens.survey.provenance import fitted_precision
    from tinylens.survey.rows import result_row

    result, out = fitted
    shutil.copytree(out, tmp_path, dirs_exist_ok=True)
    record = tmp_path / "result.json"
    stored = json.loads(record.read_text())
    name = next(iter(stored["derived"]))
    stored["derived"][name]["interval_68"][0] = float("nan")
    stored["files"]["results"] = "model.png"
    (tmp_path / "model.png").write_bytes(b"\x89PNG")
    record.write_text(json.dumps(stored))
    assert "NaN" in record.read_text()
    assert np.isnan(load_stored(record)[0]["derived"][name]["interval_68"][0])  # the reference reader
    stored["config"]["dataset"]["mask_path"] = "mask.fits"  # for the mask check: no file to load
    stored["info"].pop("mask_read_as", None)
    record.write_text(json.dumps(stored))

    lens_id = Path(stored["output_dir"]).name
    row = result_row(lens_id, record)
    assert row is not None and row["lens_id"] == lens_id
    assert fitted_precision([record]) == stored["info"]["precision"]
    assert _figure_path(tmp_path) == str(tmp_path / "model.png")
    assert mask_reading_unknown(tmp_path)  # mask_path set, its reading recorded nowhere
    samples = tmp_path / stored["files"]["samples"]
    assert samples.is_file() and samples in replaced_files(tmp_path, written=[])


def _number_leaves(value, at=()):
    """The key paths of ``value`` (parsed JSON) to a number or a null."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _number_leaves(v, (*at, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _number_leaves(v, (*at, i))]
    return [at] if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)) else []


def test_the_survey_and_fit_readers_of_result_json_take_a_nan_or_an_infinity_anywhere_outside_its_config(fitted, tmp_path):
    """No test held the readers of result.json that decide a survey's or a fit's next step to a
    NaN, Infinity or -Infinity (Python's json.dump of an edited result; tinylens writes null): each
    number or null outside the config and the budget they read (info.settings, the calls) is made
    each of them in turn, and the lens's row is still rebuilt (result_row), its budget stop still
    found (budget_stopped), its precision (fitted_precision), its earlier files (replaced_files) and
    whether the pipeline was switched (pipeline_switched) still told as for the file tinylens wrote."""
    from tinylens import filenames
    from tinylens.fitting.replaced import replaced_files
    from tinylens.fitting.resume import pipeline_switched
    from tinylens.survey import resume
    from tinylens.survey import rows as survey_rows
    from tinylens.survey.provenance import fitted_precision

    _, out = fitted
    survey = tmp_path / "survey"
    folder = survey / filenames.LENSES_DIR / out.name
    shutil.copytree(out, folder)
    record = folder / "result.json"
    written = json.loads(record.read_text())
    written["converged"] = False  # as a fit its n_like_max stopped
    written["info"]["settings"]["n_like_max"] = written["n_likelihood_evals"]
    problem = tinylens.load({**written["config"], "pipeline": {"enabled": True}}, base_dir=out.parent)
    rows = [{"lens_id": out.name, "status": "ok", "flags": "unconverged"}]

    def answers():
        row = survey_rows.result_row(out.name, record)
        return (row is not None and row["lens_id"], resume.budget_stopped(rows, survey), fitted_precision([record]),
                [p.name for p in replaced_files(folder, written=[])],
                pipeline_switched(problem, folder))

    record.write_text(json.dumps(written))
    expected = answers()
    assert expected[:3] == (out.name, {out.name: "n_like_max"}, written["info"]["precision"])
    assert expected[3] and expected[4].startswith("the earlier fit here ran without the pipeline's stages")
    leaves = [p for p in _number_leaves(written) if p[0] not in ("config", "n_likelihood_evals")
              and p[:2] != ("info", "settings")]
    assert len(leaves) > 50
    for path in leaves:
        for number in (float("nan"), float("inf"), float("-inf")):
            edited = copy.deepcopy(written)
            place = edited
            for key in path[:-1]:
                place = place[key]
            place[path[-1]] = number
            record.write_text(json.dumps(edited))
            assert answers() == expected, (path, number)
