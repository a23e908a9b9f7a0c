"""tinylens.jsonfile: the one reader of tinylens's own JSON files, and the readers that use it,
given damaged files: nested too deeply for the json module, and something other than a file in
the file's place."""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path

import pytest

from tinylens.errors import DataError, OutputError, TinyLensError
from tinylens.jsonfile import NestedTooDeep, parse_json, read_json_file

#: A file's text nested far deeper than json can read (json.loads raises RecursionError on it).
TOO_DEEP = "[" * 100000


def test_parse_json_of_text_nested_too_deeply_is_malformed_json_not_a_recursion_error():
    with pytest.raises(NestedTooDeep) as caught:
        parse_json(TOO_DEEP)
    assert isinstance(caught.value, json.JSONDecodeError) and isinstance(caught.value, ValueError)
    assert "nested too deeply" in str(caught.value)
    with pytest.raises(NestedTooDeep):
        parse_json('{"a": ' * 100000)
    assert parse_json('{"a": [[1]]}') == {"a": [[1]]}  # ordinary nesting is read as ever


def test_read_json_file_reads_any_json_value_and_keeps_the_errors_callers_catch(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('[1, {"b": null}]')
    assert read_json_file(path) == [1, {"b": None}]
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ValueError):  # UnicodeDecodeError
        read_json_file(path)
    with pytest.raises(FileNotFoundError):
        read_json_file(tmp_path / "none.json")
    with pytest.raises(PermissionError if os.name == "nt" else IsADirectoryError):  # Windows refuses to open a folder
        read_json_file(tmp_path)


def _lens_rows(out: Path) -> Path:
    """A survey folder ``out`` with one ok row (lens l1, no critical_flags: an older row) whose
    result.json is the damaged file returned."""
    folder = out / "lenses" / "l1"
    folder.mkdir(parents=True)
    (folder / "row.json").write_text(json.dumps({"status": "ok", "lens_id": "l1"}))
    return folder / "result.json"


def _absent_readers():
    """(name, the damaged file's path in a folder, the call, what it returns for a file it cannot read)
    of each reader that takes a damaged file for one that is not there."""
    from tinylens.cli.demo import demo_record
    from tinylens.cli.simulate_population import stopped_hint
    from tinylens.fitting.resume import pipeline_switched
    from tinylens.fitting.replaced import replaced_files
    from tinylens.pipeline.run import _read_state
    from tinylens.results.overview import _figure_path
    from tinylens.results.stored import mask_reading_unknown
    from tinylens.survey.provenance import read_json
    from tinylens.survey.rows import read_row, read_rows, result_row

    return [
        ("pipeline state", lambda d: d / "checkpoint.pipeline.json", lambda d: _read_state(d / "checkpoint.pipeline.json"), None),
        ("survey row", lambda d: d / "row.json", lambda d: read_row(d / "row.json"), None),
        ("survey result row", lambda d: d / "result.json", lambda d: result_row("l1", d / "result.json"), None),
        ("survey rows' result.json", _lens_rows, lambda d: read_rows(d), {"l1": {"status": "ok", "lens_id": "l1"}}),
        ("inputs stamp", lambda d: d / "inputs.json", lambda d: read_json(d / "inputs.json"), None),
        ("demo truth", lambda d: d / "truth.json", lambda d: demo_record(d), None),
        ("overview figure", lambda d: d / "result.json", lambda d: _figure_path(d), ""),
        ("mask reading", lambda d: d / "result.json", lambda d: mask_reading_unknown(d), False),
        ("replaced files", lambda d: d / "result.json", lambda d: replaced_files(d, set()), []),
        ("pipeline switched", lambda d: d / "result.json", lambda d: pipeline_switched(None, d), None),
        ("population stopped", lambda d: d / "population.json", lambda d: stopped_hint(d, "CMD"),
         "To start again, run: CMD"),
    ]


def _refusing_readers():
    """(name, the damaged file's path in a folder, the call, the error it raises naming the file)
    of each reader that refuses a file it cannot read."""
    from tinylens.results.stored import load_stage_state, load_stored, read_result
    from tinylens.results.truth import read_truth
    from tinylens.survey.population import existing_population
    from tinylens.survey.cluster import read_scheduler_file

    return [
        ("stored result", lambda d: d / "result.json", lambda d: load_stored(d / "result.json"), OutputError),
        ("read_result", lambda d: d / "result.json", lambda d: read_result(d), OutputError),
        ("stages' state", lambda d: d / "s.json", lambda d: load_stage_state(d / "s.json", ["a"]), OutputError),
        ("scheduler file", lambda d: d / "s.json", lambda d: read_scheduler_file(d / "s.json"), TinyLensError),
        ("population record", lambda d: d / "population.json", lambda d: existing_population(d, {}), OutputError),
        ("truth file", lambda d: d / "truth.json", lambda d: read_truth(d / "truth.json"), DataError),
    ]


@pytest.mark.parametrize("index", range(11))
def test_a_file_nested_too_deeply_is_read_as_one_that_cannot_be_read(tmp_path, index):
    name, where, call, expected = _absent_readers()[index]
    where(tmp_path).write_text(TOO_DEEP)
    assert call(tmp_path) == expected, name


@pytest.mark.parametrize("index", range(6))
def test_a_file_nested_too_deeply_is_refused_with_a_message_naming_it(tmp_path, index):
    name, where, call, error = _refusing_readers()[index]
    path = where(tmp_path)
    path.write_text(TOO_DEEP)
    with pytest.raises(error) as caught:
        call(tmp_path)
    assert str(path) in str(caught.value), name


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_read_json_file_of_a_named_pipe_is_not_a_file_at_once(tmp_path):
    from tinylens.jsonfile import NotAFile

    fifo = tmp_path / "result.json"
    os.mkfifo(fifo)
    with pytest.raises(NotAFile) as caught:
        _in_time(lambda: read_json_file(fifo), fifo)
    assert isinstance(caught.value, OSError) and caught.value.errno is None
    assert "named pipe" in str(caught.value) and "delete it" in str(caught.value)


def _in_time(call, fifo: Path):
    """``call()``'s value (or error), run in a thread; a failure where it is still waiting after a
    minute (reading the named pipe ``fifo``), which is then given a writer so the thread ends."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - raised again below
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the waiting reader gets an end of file
        thread.join(60)
        pytest.fail(f"still reading the named pipe {fifo} after a minute")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_file_swapped_for_a_named_pipe_once_looked_at_is_read_from_what_was_opened(tmp_path, monkeypatch):
    """read_json_text looked at what it had opened, closed it and opened the path again to read it,
    so a named pipe put in the file's place in between (another process replacing it) was opened
    blocking and waited on for a writer; the file is now opened once and read from what was looked
    at: the text the file held when opened, at once."""
    from tinylens.jsonfile import read_json_text

    path = tmp_path / "result.json"
    path.write_text('{"theta_E": 1.25}\n')
    real = os.fstat
    swapped = []

    def swapping(fd):
        looked = real(fd)
        if not swapped:  # the file is replaced by a named pipe once its mode has been looked at
            path.unlink()
            os.mkfifo(path)
            swapped.append(fd)
        return looked

    monkeypatch.setattr(os, "fstat", swapping)
    assert _in_time(lambda: read_json_text(path), path) == '{"theta_E": 1.25}\n'
    assert swapped and os.path.exists(path) and not os.path.isfile(path)  # the swap did happen


def _stage_of(folder: Path) -> Path:
    """A lens folder whose fit's attempts line is older than its pipeline state (the damaged file returned)."""
    from tinylens import filenames

    attempts = folder / filenames.ATTEMPTS
    attempts.write_text("attempt\n")
    os.utime(attempts, (1e9, 1e9))
    return folder / filenames.PIPELINE_STATE


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
@pytest.mark.parametrize("index", range(12))
def test_a_named_pipe_in_a_files_place_is_read_as_a_file_that_cannot_be_read_not_waited_on(tmp_path, index):
    import tinylens.results.quality  # noqa: F401 - read_rows imports it: not timed
    from tinylens.survey.attempts import fit_stage

    name, where, call, expected = [*_absent_readers(), ("survey lens stage", _stage_of, fit_stage, None)][index]
    fifo = where(tmp_path)
    os.mkfifo(fifo)
    assert _in_time(lambda: call(tmp_path), fifo) == expected, name


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
@pytest.mark.parametrize("index", range(6))
def test_a_named_pipe_in_a_files_place_is_refused_at_once_with_a_message_naming_it(tmp_path, index):
    name, where, call, error = _refusing_readers()[index]
    fifo = where(tmp_path)
    os.mkfifo(fifo)
    with pytest.raises(error) as caught:
        _in_time(lambda: call(tmp_path), fifo)
    assert str(tmp_path) in str(caught.value), name
    if name != "population record":  # it says only that the file cannot be read
        assert str(fifo) in str(caught.value) and "named pipe" in str(caught.value), name


def test_not_a_file_survives_pickling_and_copying_as_itself():
    import copy
    import pickle
    import stat

    from tinylens.jsonfile import NotAFile

    error = NotAFile(stat.S_IFIFO | 0o644)
    for again in (pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)):
        assert type(again) is NotAFile and isinstance(again, OSError) and again.errno is None
        assert str(again) == str(error) and "named pipe (FIFO)" in str(again)
        assert again.strerror == "a named pipe (FIFO), not a file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_read_result_of_a_named_pipe_for_result_json_says_what_it_is_not_that_there_is_none(tmp_path):
    from tinylens.results.stored import read_result

    fifo = tmp_path / "result.json"
    os.mkfifo(fifo)
    for given in (tmp_path, fifo):  # the fit's folder, or its result.json
        with pytest.raises(OutputError) as caught:
            _in_time(lambda: read_result(given), fifo)
        text = str(caught.value)
        assert text.startswith(f"{fifo}: not a readable result.json") and "named pipe (FIFO)" in text, text
        assert "holds no result.json" not in text and "is a file, not" not in text, text
    fifo.unlink()
    fifo.mkdir()  # a folder in its place is still no result.json, as before
    with pytest.raises(OutputError, match="holds no result.json"):
        read_result(tmp_path)


@pytest.mark.skipif(not hasattr(__import__("socket"), "AF_UNIX"), reason="no Unix sockets on this system")
def test_a_socket_in_a_json_files_place_is_said_to_be_one_with_advice_for_a_socket(tmp_path, monkeypatch):
    """A socket where a fit's result.json should be (a server given that name for its socket)
    cannot be opened, and the system's reason, ENXIO 'No such device or address', reached the user
    with the advice for an unreadable file (permissions, a mounted disk); it is now NotAFile, said to
    be a socket, with what to do about one: stop the program that listens on it before deleting it."""
    import socket

    from tinylens.jsonfile import NotAFile
    from tinylens.results.stored import read_result
    from tinylens.survey.population import existing_population

    monkeypatch.chdir(tmp_path)  # a socket's path is short (about 100 bytes): bound by its name alone
    server = socket.socket(socket.AF_UNIX)
    server.bind("result.json")
    try:
        with pytest.raises(NotAFile) as caught:
            read_json_file(tmp_path / "result.json")
        said = str(caught.value)
        assert isinstance(caught.value, OSError) and caught.value.errno is None
        assert "it is a socket, not a file" in said and "stop that program" in said, said
        with pytest.raises(OutputError) as caught:
            read_result(tmp_path)
        text = str(caught.value)
        assert text.startswith(f"{tmp_path / 'result.json'}: not a readable result.json") and "a socket" in text, text
        assert "No such device" not in text and "may read" not in text, text
        (tmp_path / "population.json").symlink_to("result.json")  # the record's name, leading to the socket
        with pytest.raises(OutputError, match="it is a socket, not a file"):
            existing_population(tmp_path, {})
    finally:
        server.close()


#: A result.json, row, state or record as a hand (or another program) may leave it: its numbers
#: NaN and Infinity, which tinylens has written as null since its first JSON file (e27a5e8).
NON_FINITE_TEXT = ('{"config": {}, "max_likelihood": {"a": 1.0}, "best": [NaN], "status": "ok", "lens_id": "l1",\n'
                   ' "n": NaN, "complete": false, "fingerprint": "x", "log_evidence": -Infinity}')


def test_nan_and_infinity_literals_are_malformed_json_said_where_they_stand():
    from tinylens.jsonfile import NotFiniteLiteral, parse_json

    with pytest.raises(NotFiniteLiteral) as caught:
        parse_json('{"note": "NaN Infinity \\" NaN", "values": [1,\n  -Infinity, NaN]}')
    assert isinstance(caught.value, ValueError) and (caught.value.lineno, caught.value.colno) == (2, 3)
    assert str(caught.value).startswith("-Infinity is not JSON") and "write null in its place" in str(caught.value)
    assert parse_json('{"a": null, "b": "NaN"}') == {"a": None, "b": "NaN"}
    read = parse_json("[NaN, Infinity, -Infinity]", non_finite=True)  # for a reader that checks each value
    assert math.isnan(read[0]) and read[1:] == [math.inf, -math.inf]


@pytest.mark.parametrize("index", [1, 4, 5])  # the strict readers whose answer the file's values decide
def test_a_file_of_nan_literals_is_read_as_one_that_cannot_be_read(tmp_path, index):
    """Python's json read a hand-edited NaN or Infinity in tinylens's own files as a float, where
    tinylens writes null: a row.json or a survey's inputs stamp holding one was taken as written
    (the row with its NaN). Such a file is now malformed JSON, as any other damaged file, to every
    reader but those that check each value and name a key that is not finite (the pipeline's and
    the stages' states, a truth file, the stopped population's hint) and those of a result.json,
    which every reader reads as load_stored does (test_read_result.py's
    test_every_reader_of_result_json_reads_a_nan_literal_as_load_stored_does)."""
    name, where, call, expected = _absent_readers()[index]
    assert name != "population stopped"
    where(tmp_path).write_text(NON_FINITE_TEXT)
    assert call(tmp_path) == expected, name


@pytest.mark.parametrize("index", [3, 4])
def test_a_file_of_nan_literals_is_refused_naming_it_and_saying_to_write_null(tmp_path, index):
    """A scheduler file or a population record holding a NaN is refused as not JSON, where it stands.
    The readers of a result.json, a stages' state and a truth file (0, 1, 2, 5) read it and name the
    key of a value that is not a finite number, as their own checks did and do (test_stored's
    test_an_edited_result_whose_values_are_of_the_wrong_kind_is_named_by_file_and_key, best-nan)."""
    name, where, call, error = _refusing_readers()[index]
    path = where(tmp_path)
    path.write_text(NON_FINITE_TEXT)
    with pytest.raises(error) as caught:
        call(tmp_path)
    text = str(caught.value)
    assert str(path) in text and "NaN is not JSON" in text and "write null" in text and "line 1" in text, (name, text)


def test_a_truth_file_of_nan_still_names_the_key_that_is_not_a_finite_number(tmp_path):
    """A user's truth.json is read with its NaN (parse_json's non_finite), so that the reader's own
    check names the key, as before NaN literals were refused elsewhere."""
    from tinylens.results.truth import read_truth

    (tmp_path / "truth.json").write_text('{"lens_mass.0.theta_E": 1.2, "lens_mass.0.q": NaN}')
    with pytest.raises(DataError, match=r"lens_mass\.0\.q is not a finite number"):
        read_truth(tmp_path / "truth.json")
