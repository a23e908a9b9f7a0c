"""Paths given to command-line options that are not what the option takes: each refused with
a message that says what was given (exit 2, no traceback, nothing written)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tinylens.cli.main import app


def _refused(args: list[str]) -> str:
    """The one-paragraph message of ``tinylens ARGS``, which must end with exit 2 and no traceback."""
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def _lens_folder(root: Path) -> Path:
    """A folder of one lens (empty FITS files: --only is read before them) and a template."""
    (root / "lenses" / "a").mkdir(parents=True)
    for name in ("image", "noise", "psf"):
        (root / "lenses" / "a" / f"{name}.fits").touch()
    (root / "t.yaml").write_text("dataset: {pixel_scale: 0.05}\n")
    return root / "lenses"


def test_a_folder_given_to_survey_only_is_called_a_folder_not_a_missing_file(tmp_path):
    """``--only report/`` (the folder of 'tinylens report', not its inspect.csv) was refused as
    'The --only file .../report does not exist', though it does."""
    lenses = _lens_folder(tmp_path)
    report = tmp_path / "report"
    report.mkdir()
    base = ["survey", str(lenses), "-c", str(tmp_path / "t.yaml"), "-o", str(tmp_path / "run"), "--dry-run", "--only"]
    text = _refused([*base, str(report)])
    assert f"The --only file {report} is a folder, not a file. Give an existing file" in text
    assert "does not exist" not in text
    (report / "inspect.csv").write_text("lens_id,status\na,failed\n")
    text = _refused([*base, f"{report}/"])
    assert (f"The --only file {report} is a folder, not a file (it holds {report / 'inspect.csv'}, the lenses "
            "'tinylens report' lists to inspect).") in text
    assert "does not exist" in _refused([*base, str(tmp_path / "nothere" / "ids.txt")])  # as before
    assert not (tmp_path / "run").exists()


def test_json_text_given_to_fit_truth_is_told_to_be_written_to_a_file(tmp_path):
    """``--truth '{"lens_mass.0.theta_E": 1.2}'``, as the option's help ("or a JSON object of
    parameter name: true value") could be read, was refused as a truth file that does not exist,
    without saying that the option reads a file; the fit stops before loading the data."""
    (tmp_path / "model_config.yaml").write_text("dataset: {pixel_scale: 0.05}\n")
    given = '{"lens_mass.0.theta_E": 1.2}'
    text = _refused(["fit", str(tmp_path / "model_config.yaml"), "--truth", given])
    assert (f"The truth file '{given}' does not exist: it looks like the JSON text itself, but the truth is read "
            "from a file. Write that JSON object to a file (e.g. truth.json) and give its path") in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_config.yaml"]
    text = _refused(["fit", str(tmp_path / "model_config.yaml"), "--truth", str(tmp_path / "truth.json")])
    assert f"The truth file {tmp_path / 'truth.json'} does not exist: give the truth.json of" in text  # as before


def test_json_text_of_many_values_given_to_fit_truth_is_told_to_be_written_to_a_file(tmp_path):
    """A JSON text of a dozen true values is a name longer than a file name may be: Path.exists
    raised ENAMETOOLONG before the text was recognised, so ``--truth '{...}'`` was 'could not be
    read (File name too long)' with an ls -l of the text and permissions to check; it is now told,
    as a short one is, to write the JSON object to a file. The fit stops before loading the data."""
    import json

    (tmp_path / "model_config.yaml").write_text("dataset: {pixel_scale: 0.05}\n")
    given = json.dumps({f"lens_mass.0.p{i}": 1.25 for i in range(20)})
    assert len(given) > 300
    text = _refused(["fit", str(tmp_path / "model_config.yaml"), "--truth", given])
    assert "it looks like the JSON text itself, but the truth is read from a file" in text
    assert "File name too long" not in text and "ls -l" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_config.yaml"]


@pytest.mark.parametrize(("key", "name", "what"), [
    ("summary", "psf.fits", "the dataset's psf_path file"),
    ("samples", "model_config.yaml", "this fit's config file"),
])
def test_an_output_file_that_is_an_input_of_the_fit_is_refused_before_the_fit(tmp_path, key, name, what):
    """With ``output.path: .`` (the data's folder) and ``output.tables.summary: psf.fits``, the fit
    ran and wrote its summary table over the PSF it had fitted (a table named as the config
    overwrote the config); validate and fit now refuse such a name before anything is written."""
    from tiny_lens import write_tiny_lens

    config = write_tiny_lens(tmp_path)
    content = yaml.safe_load(config.read_text())
    content["output"] = {"path": ".", "tables": {key: name}}
    _refused_by_validate_and_fit(config, content, (
        f"output.tables.{key}: the fit would write {name} into its output folder {tmp_path}, and that file "
        f"is {what} ({tmp_path / name}), which it would overwrite. Choose another name for output.tables.{key} "
        "or another output.path in the config (or --output; tinylens.fit: output=)."))
    content["output"]["tables"][key] = f"result_{key}.csv"  # the folder alone is no clash
    _validated(config, content)


def _refused_by_validate_and_fit(config: Path, content: dict, message: str) -> None:
    """Write ``content`` to ``config``: validate and fit must refuse it with ``message``, its folder unchanged."""
    config.write_text(yaml.safe_dump(content, sort_keys=False))
    before = {p.name: p.read_bytes() if p.is_file() else None for p in config.parent.iterdir()}  # None: a folder
    for command in ("validate", "fit"):
        assert message in _refused([command, str(config)])
        assert {p.name: p.read_bytes() if p.is_file() else None for p in config.parent.iterdir()} == before


def _validated(config: Path, content: dict) -> None:
    """Write ``content`` to ``config``, which validate must pass."""
    config.write_text(yaml.safe_dump(content, sort_keys=False))
    result = CliRunner().invoke(app, ["validate", str(config)])
    assert result.exit_code == 0, result.output


def test_an_output_file_that_is_a_data_file_named_with_its_hdu_is_refused_before_the_fit(tmp_path):
    """``data_path: image.fits[0]`` (the file, with the HDU to read) and ``output.tables.summary:
    image.fits`` in the data's folder were not seen as one file, so the fit wrote its summary table
    over the image it had fitted; the ``[HDU]`` suffix is now left out when comparing."""
    from tiny_lens import write_tiny_lens

    config = write_tiny_lens(tmp_path)
    content = yaml.safe_load(config.read_text())
    content["dataset"]["data_path"] = "image.fits[0]"
    content["output"] = {"path": ".", "tables": {"summary": "image.fits"}}
    config.write_text(yaml.safe_dump(content, sort_keys=False))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for command in ("validate", "fit"):
        text = _refused([command, str(config)])
        assert (f"output.tables.summary: the fit would write image.fits into its output folder {tmp_path}, and that "
                f"file is the dataset's data_path file ({tmp_path / 'image.fits'}), which it would overwrite.") in text
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_an_environment_variable_in_a_data_path_is_said_not_to_be_expanded(tmp_path, monkeypatch):
    """``data_path: $TL_DATA/image.fits`` was looked for in a folder named '$TL_DATA' under the
    config's, and the message said only that the file was not found there."""
    from tiny_lens import tiny_config

    content = tiny_config()
    content["dataset"]["data_path"] = "$TL_DATA/image.fits"
    (tmp_path / "model_config.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    monkeypatch.setenv("TL_DATA", str(tmp_path / "data"))
    text = _refused(["validate", str(tmp_path / "model_config.yaml")])
    assert (f"dataset.data_path file not found: {tmp_path / '$TL_DATA' / 'image.fits'}. The relative path "
            f"'$TL_DATA/image.fits' was taken from {tmp_path} (the config file's folder). Environment variables such "
            f"as $TL_DATA are not expanded in a config's paths: write the path itself, here "
            f"'{tmp_path / 'data' / 'image.fits'}'.") in text
    monkeypatch.delenv("TL_DATA")
    text = _refused(["validate", str(tmp_path / "model_config.yaml")])
    assert "Environment variables such as $TL_DATA are not expanded in a config's paths: write the path itself." in text


def test_an_environment_variable_in_an_absolute_data_path_is_said_not_to_be_expanded(tmp_path, monkeypatch):
    """``data_path: /scratch/$USER/image.fits``, an absolute path with a variable inside, was
    refused as 'file not found' alone: the note that variables are not expanded came only with a
    relative path ($DATA/image.fits)."""
    from tiny_lens import tiny_config

    content = tiny_config()
    content["dataset"]["data_path"] = f"{tmp_path}/$TL_DATA/image.fits"
    (tmp_path / "model_config.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    monkeypatch.setenv("TL_DATA", "data")
    text = _refused(["validate", str(tmp_path / "model_config.yaml")])
    assert (f"dataset.data_path file not found: {tmp_path}/$TL_DATA/image.fits. Environment variables such as "
            f"$TL_DATA are not expanded in a config's paths: write the path itself, here "
            f"'{tmp_path}/data/image.fits'.") in text
    content["dataset"]["data_path"] = str(tmp_path / "missing.fits")  # no variable: the message as before
    (tmp_path / "model_config.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    text = _refused(["validate", str(tmp_path / "model_config.yaml")])
    assert f"dataset.data_path file not found: {tmp_path / 'missing.fits'}." in text
    assert "Environment variable" not in text and "relative path" not in text


@pytest.mark.parametrize("folder", ["my%20lens%20a", "caf%C3%A9", "run$1", "d%C3%A9but%C3%A9"])
def test_a_url_encoded_or_numbered_name_in_a_missing_data_path_is_not_called_a_variable(tmp_path, folder):
    """A folder named as a download saves it (``my%20lens%20a``: %20 a space; ``caf%C3%A9``) or
    ``run$1`` holds no environment variable, but a missing file there was said to hold one
    ('Environment variables such as %20lens% are not expanded ...'), as was ``d%C3%A9but%C3%A9``
    ('%A9but%', its closing % an escape's)."""
    from tiny_lens import tiny_config

    content = tiny_config()
    content["dataset"]["data_path"] = f"{folder}/image.fits"
    (tmp_path / "model_config.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    text = _refused(["validate", str(tmp_path / "model_config.yaml")])
    assert (f"dataset.data_path file not found: {tmp_path / folder / 'image.fits'}. The relative path "
            f"'{folder}/image.fits' was taken from {tmp_path} (the config file's folder).") in text
    assert "Environment variable" not in text


def test_a_percent_variable_followed_by_two_hex_digits_is_still_a_variable(tmp_path):
    """fb7cd66 took no %NAME% whose closing % is followed by two hex digits for a variable, to pass
    over d%C3%A9but%C3%A9's %A9but%; but %SCRATCH%2019, whose opening % starts no escape, is no
    URL-encoded name: a missing data path there was no longer said to hold a variable, and an
    output.path '%SCRATCH%2019/out' was taken, the fit written into a folder named so. Both are
    said to hold %SCRATCH% again, while d%C3%A9but%C3%A9 stays no variable (the test above)."""
    from tiny_lens import tiny_config, write_tiny_lens

    content = tiny_config()
    content["dataset"]["data_path"] = "%SCRATCH%2019/image.fits"
    (tmp_path / "model_config.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    text = _refused(["validate", str(tmp_path / "model_config.yaml")])
    assert "Environment variables such as %SCRATCH% are not expanded in a config's paths" in text
    config = write_tiny_lens(tmp_path / "lens")
    content = yaml.safe_load(config.read_text())
    content["output"] = {"path": "%SCRATCH%2019/out"}
    config.write_text(yaml.safe_dump(content, sort_keys=False))
    text = _refused(["validate", str(config)])
    assert "output.path '%SCRATCH%2019/out' would write the fit's outputs into the folder" in text
    assert "Environment variables such as %SCRATCH% are not expanded" in text


def test_a_dynesty_history_named_as_an_input_of_the_fit_is_refused_before_the_fit(tmp_path):
    """dynesty's evaluation history ``history_filename: psf.fits`` with ``output.path: .`` (the
    data's folder), or an absolute path to the image, passed validate and the fit's checks of its
    output files, and dynesty wrote its HDF5 history over the data it fitted; both are now refused
    before anything is written, as an output table of that name is."""
    from tiny_lens import write_tiny_lens

    config = write_tiny_lens(tmp_path)
    content = yaml.safe_load(config.read_text())
    data = tmp_path / content["dataset"]["data_path"]
    for name, what, path in (("psf.fits", "psf_path", tmp_path / "psf.fits"), (str(data), "data_path", data)):
        content["output"] = {"path": "."}
        content["inference"] = {"type": "sampler", "method": "dynesty", "settings": {
            "nlive": 20, "save_evaluation_history": True, "history_filename": name}}
        _refused_by_validate_and_fit(config, content, (
            f"inference.settings.history_filename: dynesty would write its evaluation history to {path}, and that "
            f"file is the dataset's {what} file ({path}), which it would overwrite. Choose another history_filename "
            "in the config."))
    content["inference"]["settings"]["history_filename"] = "history.h5"  # the data's folder alone is no clash
    _validated(config, content)


@pytest.mark.parametrize("made", [False, True])
def test_a_dynesty_history_leaving_an_output_folder_not_made_yet_for_an_input_is_refused(tmp_path, made):
    """``history_filename: ../image.fits`` with ``output.path: output`` was compared with the inputs
    only where ``output/../image.fits`` is a file, which it is not while ``output/`` does not exist
    (the system does not follow ``..`` through a missing folder): validate said OK and the fit
    wrote dynesty's history over the image it fitted (17,280 -> 679,272 bytes in the demo's folder,
    and image.run2.fits, image.run3.fits beside it). Now refused, exit 2, naming the key and the
    input, the data unchanged, whether the output folder is made yet or not."""
    from tiny_lens import write_tiny_lens

    config = write_tiny_lens(tmp_path)
    content = yaml.safe_load(config.read_text())
    data = tmp_path / content["dataset"]["data_path"]
    if made:
        (tmp_path / "output").mkdir()
    content["output"] = {"path": "output"}
    content["inference"] = {"type": "sampler", "method": "dynesty", "settings": {
        "nlive": 20, "save_evaluation_history": True, "history_filename": f"../{data.name}"}}
    _refused_by_validate_and_fit(config, content, (
        f"inference.settings.history_filename: dynesty would write its evaluation history to "
        f"{tmp_path / 'output' / '..' / data.name} ({data}), and that file is the dataset's data_path file ({data}), "
        "which it would overwrite. Choose another history_filename in the config."))
    assert (tmp_path / "output").is_dir() == made  # not made by the refused fit
    later = data.with_name(f"{data.stem}.run2{data.suffix}")  # the pipeline's second sampling run's history
    data.rename(later)
    content["dataset"]["data_path"] = later.name
    _refused_by_validate_and_fit(config, content, (
        f"dynesty would write its evaluation history of its sampling run 2 to "
        f"{tmp_path / 'output' / '..' / later.name} ({later}), and that file is the dataset's data_path file"))
    later.rename(data)
    content["dataset"]["data_path"] = data.name
    content["inference"]["settings"]["history_filename"] = "../history.h5"  # beside the data: no clash
    _validated(config, content)


def test_a_dynesty_history_on_the_truth_file_is_refused_before_the_fit(tmp_path):
    """The --truth file was not among the inputs a fit may not write over: ``history_filename:
    ../truth.json`` (output/ not made yet) or ``output.tables.summary: truth.json`` with
    ``output.path: .`` fitted and wrote over the true values given. Both are now refused, exit 2,
    naming the key and the --truth file, which is left as it was."""
    import json

    from tiny_lens import write_tiny_lens

    config = write_tiny_lens(tmp_path)
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"lens_mass.0.theta_E": 1.0}))
    content = yaml.safe_load(config.read_text())
    content["output"] = {"path": "output"}
    content["inference"] = {"type": "sampler", "method": "dynesty", "settings": {
        "nlive": 20, "maxcall": 100, "save_evaluation_history": True, "history_filename": "../truth.json"}}
    config.write_text(yaml.safe_dump(content, sort_keys=False))
    before = truth.read_bytes()
    text = _refused(["fit", str(config), "--no-pipeline", "--truth", str(truth)])
    assert (f"inference.settings.history_filename: dynesty would write its evaluation history to "
            f"{tmp_path / 'output' / '..' / 'truth.json'} ({truth}), and that file is the --truth file ({truth}), "
            "which it would overwrite.") in text
    content["output"] = {"path": ".", "tables": {"summary": "truth.json"}}
    content["inference"]["settings"]["history_filename"] = "history.h5"
    config.write_text(yaml.safe_dump(content, sort_keys=False))
    text = _refused(["fit", str(config), "--no-pipeline", "--truth", str(truth)])
    assert (f"output.tables.summary: the fit would write truth.json into its output folder {tmp_path}, and that file "
            f"is the --truth file ({truth}), which it would overwrite.") in text
    assert truth.read_bytes() == before and not (tmp_path / "output").exists()


def test_an_output_path_leaving_a_folder_not_made_yet_for_the_data_folder_is_refused(tmp_path):
    """``output.path: new/..`` (the config's own folder, once the fit has made ``new``) with
    ``output.tables.summary: image.fits`` was not seen to write over the image while ``new/`` did
    not exist (``new/../image.fits`` is no file to the system then): the fit made ``new`` and wrote
    its summary table over the data. Now refused as ``output.path: .`` is, nothing made."""
    from tiny_lens import write_tiny_lens

    config = write_tiny_lens(tmp_path)
    content = yaml.safe_load(config.read_text())
    data = tmp_path / content["dataset"]["data_path"]
    content["output"] = {"path": "new/..", "tables": {"summary": data.name}}
    _refused_by_validate_and_fit(config, content, (
        f"output.tables.summary: the fit would write {data.name} into its output folder {tmp_path / 'new' / '..'}, "
        f"and that file is the dataset's data_path file ({data}), which it would overwrite."))
    assert not (tmp_path / "new").exists()


def test_a_folder_at_result_json_through_an_output_folder_not_made_yet_is_refused_before_the_fit(tmp_path):
    """``output.path: new/..`` (the config's folder, once the fit has made ``new``) where a folder
    named result.json lies was let through (``new/../result.json`` is no folder to the system while
    ``new/`` is not made): validate said OK and the fit would fail only when it writes result.json,
    after the search. Now refused at once as ``output.path: .`` is, nothing made."""
    from tiny_lens import write_tiny_lens

    config = write_tiny_lens(tmp_path)
    (tmp_path / "result.json").mkdir()
    content = yaml.safe_load(config.read_text())
    content["output"] = {"path": "new/.."}
    config.write_text(yaml.safe_dump(content, sort_keys=False))
    text = _refused(["validate", str(config)])
    assert (f"Output folder {tmp_path / 'new' / '..'}: result.json there is a folder, where the fit writes its own "
            "result.json, which the system would refuse after the search.") in text
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_survey_workers_below_one_is_refused_naming_the_option_and_what_to_give(tmp_path, workers):
    """``--workers 0`` was refused as 'The number of workers must be at least 1; got 0.', naming
    neither the option nor what to give, where ``--workers 100000`` names --workers and a count."""
    from tinylens.survey.runner import default_workers

    lenses = _lens_folder(tmp_path)
    text = _refused(["survey", str(lenses), "-c", str(tmp_path / "t.yaml"), "-o", str(tmp_path / "run"),
                     "--workers", workers, "--dry-run"])
    assert f"--workers {workers}: a local cluster needs at least 1 worker process." in text
    assert f"Give --workers 1 or more, or leave it out for the default ({default_workers()} here)." in text
    assert not (tmp_path / "run").exists()


def test_survey_workers_refused_on_the_command_line_name_the_option_alone(tmp_path, monkeypatch):
    """``tinylens survey --workers 0`` said 'Error: --workers 0 (run_survey: workers=): a local cluster
    needs at least 1 worker process', and --workers 1000 on 2 cores '--workers 1000 (run_survey:
    workers=) is more than 32 times ...': the Python argument's name is noise on the command line,
    where --workers 2.5 was already refused naming the option alone. The command line now names
    --workers alone; run_survey(workers=0) still names its own argument beside it."""
    from tinylens.errors import TinyLensError
    from tinylens.survey import runner

    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    lenses = _lens_folder(tmp_path)
    for workers, said in (("0", "--workers 0: a local cluster needs at least 1 worker process. Give --workers 1 or more"),
                          ("1000", "--workers 1000 is more than 32 times the 2 cores this survey may use")):
        text = _refused(["survey", str(lenses), "-c", str(tmp_path / "t.yaml"), "-o", str(tmp_path / "run"),
                         "--workers", workers])
        assert text.startswith("Error: " + said), text
        assert "run_survey" not in text and "workers=" not in text, text
    with pytest.raises(TinyLensError) as caught:
        runner.run_survey(lenses, tmp_path / "t.yaml", tmp_path / "run", workers=0, progress=False)
    assert str(caught.value).startswith("--workers 0 (run_survey: workers=): a local cluster needs at least 1 worker")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("workers, expected", [
    ("1e3", "--workers 1000 is more than {most} times the 2 cores this survey may use"),
    ("1e400", "--workers 1e400 is more than {most} times the 2 cores this survey may use"),
    ("2.5", "--workers 2.5: the local cluster's worker processes are counted in whole numbers. Give --workers 1 or more"),
    ("abc", "--workers abc: the local cluster's worker processes are counted in whole numbers."),
    ("nan", "--workers nan: the local cluster's worker processes are counted in whole numbers."),
    ("-1", "--workers -1: a local cluster needs at least 1 worker process."),
], ids=["1e3", "1e400", "2.5", "abc", "nan", "minus_1"])
def test_survey_workers_that_is_no_count_taken_is_refused_in_one_line(tmp_path, monkeypatch, workers, expected):
    """``--workers 1e400``, ``1e3``, ``2.5`` or ``abc`` got click's boxed usage message ('Invalid value for
    '--workers' / '-w': Input should be a valid integer'), where ``--workers 0`` and ``--size 1e3`` of
    simulate-population are answered in one line: 1e3 is read as 1000 and 1e400 as the whole number typed,
    each judged against the cores as any count is; a number with a fraction or no number names --workers."""
    from tinylens.survey import runner

    monkeypatch.setattr(runner, "available_cores", lambda: 2)
    lenses = _lens_folder(tmp_path)
    text = _refused(["survey", str(lenses), "-c", str(tmp_path / "t.yaml"), "-o", str(tmp_path / "run"),
                     "--workers", workers, "--dry-run"])
    assert text.startswith("Error: " + expected.format(most=runner.MAX_WORKERS_PER_CORE)), text
    assert "Usage:" not in text and "Invalid value" not in text
    assert not (tmp_path / "run").exists()


def _number_option_command(tmp_path: Path, option: str) -> list[str]:
    """The command a float option belongs to, up to the option: a dry-run survey for ``--no-worker-wait``, else
    ``simulate-population`` into ``tmp_path / "run"``."""
    if option == "--no-worker-wait":
        lenses = _lens_folder(tmp_path)
        return ["survey", str(lenses), "-c", str(tmp_path / "t.yaml"), "-o", str(tmp_path / "run"), "--dry-run"]
    return ["simulate-population", "1", str(tmp_path / "run"), "-q"]


@pytest.mark.parametrize("option, value, expected", [
    ("--no-worker-wait", "abc", "--no-worker-wait (run_survey's no_worker_wait) takes the seconds a survey waits while "
     "its cluster has no worker, 0 or more (0: never stop); got 'abc'."),
    ("--no-worker-wait", "1e400", "--no-worker-wait (run_survey's no_worker_wait) takes the seconds a survey waits while "
     "its cluster has no worker, 0 or more (0: never stop); got 1e400 (beyond the range of a float"),
    ("--pixel-scale", "abc", "--pixel-scale must be a number (like 0.074), got 'abc'"),
    ("--pixel-scale", "1e400", "--pixel-scale must be a number (like 0.074), got 1e400 (beyond the range of a float"),
    ("--psf-fwhm", "abc", "--psf-fwhm must be a number (like 0.15), got 'abc'"),
], ids=["no_worker_wait_text", "no_worker_wait_1e400", "pixel_scale_text", "pixel_scale_1e400", "psf_fwhm_text"])
def test_a_number_option_given_no_number_is_refused_in_one_line(tmp_path, option, value, expected):
    """``survey --no-worker-wait abc`` and ``simulate-population --pixel-scale abc`` (or --psf-fwhm) got click's
    boxed usage message ('Invalid value for '--pixel-scale': Input should be a valid number'), and 1e400 was
    said as 'inf', where a value out of range is answered in one line by the option's own check: they are too."""
    text = _refused([*_number_option_command(tmp_path, option), option, value])
    assert text.startswith("Error: " + expected), text
    assert "Usage:" not in text and "Invalid value" not in text
    assert not (tmp_path / "run").exists()


#: A whole number of 401 digits: Python's int reads it, no float holds it (float() of that int overflows).
DIGITS_401 = "1" + "0" * 400


@pytest.mark.parametrize("option, value, expected", [
    ("--pixel-scale", DIGITS_401, "--pixel-scale must be a number (like 0.074), got 1000"),
    ("--psf-fwhm", DIGITS_401, "--psf-fwhm must be a number (like 0.15), got 1000"),
    ("--no-worker-wait", DIGITS_401, "--no-worker-wait (run_survey's no_worker_wait) takes the seconds a survey waits "
     "while its cluster has no worker, 0 or more (0: never stop); got 1000"),
    ("--pixel-scale", "-0", "--pixel-scale must be > 0, got -0.0"),
], ids=["pixel_scale_401_digits", "psf_fwhm_401_digits", "no_worker_wait_401_digits", "pixel_scale_minus_zero"])
def test_a_number_option_given_a_whole_number_is_read_as_its_text(tmp_path, option, value, expected):
    """``--pixel-scale`` (``--psf-fwhm``, ``--no-worker-wait``) of a whole number of 401 digits ended in a
    traceback (OverflowError: int too large to convert to float), where click's float had read it as inf and
    refused it in one line; ``-0`` was said as 0.0, not the -0.0 click read. A whole number is the float of
    its text, one that no float holds shown as typed."""
    text = _refused([*_number_option_command(tmp_path, option), option, value])
    assert text.startswith("Error: " + expected), text
    if value == DIGITS_401:
        assert "beyond the range of a float" in text or "401 characters" in text, text
    assert not (tmp_path / "run").exists()


def test_a_number_option_given_a_valid_number_reads_it_as_click_did():
    """What ``number_value`` makes of a number click's float took is what click made of it (the same float,
    ``-0`` with its sign)."""
    from tinylens.cli.simulate_population import number_value

    for token in ["0.05", ".05", "5e-2", "0", "-0", "4", "1_000", " 0.074 ", "1e-400", "120"]:
        got, want = number_value(token), float(token)
        assert type(got) is float and got == want and math.copysign(1, got) == math.copysign(1, want), token


def test_a_table_name_with_a_nul_character_is_no_traceback_in_validate(tmp_path):
    """``output.tables.summary: "a\\0b.csv"`` (a NUL character, as a double-quoted YAML string can
    hold it) passed validate before bf0e639; since then the check of where the table lands asked
    the system to resolve the name, which raises ValueError (embedded null byte) there, and
    validate ended in a Python traceback (exit 1). The name is now taken as it is written
    (normalised: ``new/../a\\0b.csv`` is ``a\\0b.csv`` in the config's folder), no traceback."""
    from tiny_lens import write_tiny_lens

    from tinylens.fitting.checks import landing

    assert landing(tmp_path / "new" / ".." / "a\0b.csv") == tmp_path / "a\0b.csv"
    config = write_tiny_lens(tmp_path)
    content = yaml.safe_load(config.read_text())
    content["output"] = {"path": "new/..", "tables": {"summary": "a\0b.csv"}}
    config.write_text(yaml.safe_dump(content, sort_keys=False))
    result = CliRunner().invoke(app, ["validate", str(config)], env={"COLUMNS": "200"})
    assert not isinstance(result.exception, ValueError), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and result.exit_code in (0, 2)
    assert not (tmp_path / "new").exists()
