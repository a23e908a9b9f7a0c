"""The files a survey lens's fit writes into its output folder are the user's (named in the
config's ``output``) or tinylens's own, reserved names: a user cannot pick a name that clashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinylens import filenames
from tinylens.config import load_config
from tinylens.fitting.outputs import file_names
from tinylens.survey import discovery
from tinylens.survey import runner
from tinylens.survey import task
from tinylens.survey import template as survey_template


def test_every_file_a_lens_fit_writes_is_reserved_or_chosen_by_the_user(tmp_path, mock_survey):
    template = survey_template.load_template(mock_survey["template"])
    template["inference"]["settings"].update(n_like_max=400, seed=1)  # stops early: its checkpoints stay
    template["output"] = {"keep_checkpoint": True, "draw_figures": "all",
                          "tables": {"samples": "my_samples.csv", "summary": "my_summary.csv"},
                          "figures": {"results": "my_model.png", "corner": "my_corner.png"},
                          "datasets": {"subplot": "my_data.png"}}
    lens = discovery.Lens("lens_b", mock_survey["lenses"] / "lens_b")
    folder = lens.output(tmp_path)
    config = survey_template.lens_config(template, lens, tmp_path)
    row = task.fit_lens(lens.lens_id, config, str(folder))
    assert row["status"] == "ok", row

    chosen = set(file_names(load_config(config)[0]).values())
    written = {path.name for path in folder.iterdir()}
    assert chosen <= written  # the user's names were taken
    assert {"checkpoint.hdf5", "checkpoint.pipeline.json", "row.json"} <= written  # a fit's and a survey's own
    assert written - chosen <= set(filenames.RESERVED), written - chosen - set(filenames.RESERVED)


def _dynesty_template(tmp_path, history: str):
    """The mock survey's template, sampled by dynesty with its evaluation history in ``history``."""
    import yaml

    from survey_mocks import template_config

    config = template_config()
    config["inference"] = {"type": "sampler", "method": "dynesty",
                           "settings": {"nlive": 50, "save_evaluation_history": True, "history_filename": history}}
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_a_template_whose_dynesty_history_lands_on_a_lens_result_json_is_refused_before_the_survey(tmp_path, mock_survey):
    """The template check checked the settings without an output folder, so that a dynesty
    history_filename that is one of tinylens's files of a lens's output folder once resolved
    ('../lens_c/result.json', or the absolute path of a lens's checkpoint) passed the dry run ('the
    template works', exit 0) and the run, and only that lens's fit refused it when it started (the
    others writing their history over its files). The template is now checked with the output
    folder of the lens tried, as its fit checks, and dynesty's history with every lens's, and
    refused at once naming the lens, the key and the file, before --out is made; a plain name
    (in each lens's own folder) passes as before."""
    from unittest import mock

    import pytest

    import tinylens
    from tinylens.errors import ConfigError
    from tinylens.fitting.checks import check_settings

    lenses, out = mock_survey["lenses"], tmp_path / "out"
    template = _dynesty_template(tmp_path, "../lens_c/result.json")
    with pytest.raises(ConfigError) as raised:
        runner.survey_plan(lenses, template, out)
    text = " ".join(str(raised.value).split())
    assert "lens_c" in text and "history_filename" in text and "result.json" in text, text
    assert not out.exists()

    # the truth: lens_c's own fit refuses it, with the same words, once given its output folder
    lens_c = discovery.Lens("lens_c", lenses / "lens_c")
    config = survey_template.lens_config(survey_template.load_template(template), lens_c, out)
    with pytest.raises(ConfigError) as fit_says:
        check_settings(tinylens.load(config), Path(config["output"]["path"]))
    assert str(fit_says.value) in str(raised.value)

    checkpoint = (out / "lenses" / "lens_b" / filenames.CHECKPOINTS["dynesty"]).resolve()
    template = _dynesty_template(tmp_path, str(checkpoint))
    with mock.patch.object(runner, "dask_client", side_effect=AssertionError("the survey started")):
        with pytest.raises(ConfigError, match="lens_b"):
            runner.run_survey(lenses, template, out, workers=1, progress=False)
    assert not out.exists()

    plain = survey_template.load_template(_dynesty_template(tmp_path, "history.h5"))
    found = discovery.find_lenses(lenses)
    survey_template.check_histories(tinylens.load(survey_template.lens_config(plain, found[0], out)), found, out)  # no error


def test_a_dynesty_history_landing_on_a_lens_not_fitted_this_run_is_refused_too(tmp_path, mock_survey):
    """check_histories checked dynesty's history against the output folders of the lenses to fit
    this run only, so that with --only lens_a (or where lens_c was done, a survey resumed) a
    history_filename of '../lens_c/result.json' passed the dry run and the run, and lens_a's fit
    wrote its history as lens_c's result.json. It is checked against every lens folder's output
    folder, and refused so, naming lens_c."""
    import pytest

    import tinylens
    from tinylens.errors import ConfigError
    from tinylens.fitting.checks import check_settings

    lenses, out = mock_survey["lenses"], tmp_path / "out"
    template = _dynesty_template(tmp_path, "../lens_c/result.json")
    # the truth: lens_a's fit writes its history to lens_c's result.json, which lens_c's own fit refuses
    lens_a = discovery.Lens("lens_a", lenses / "lens_a")
    config = survey_template.lens_config(survey_template.load_template(template), lens_a, out)
    check_settings(tinylens.load(config), Path(config["output"]["path"]))  # lens_a's own check lets it through
    written = (Path(config["output"]["path"]) / "../lens_c/result.json").resolve()
    assert written == (out / "lenses" / "lens_c" / filenames.RESULT).resolve()

    with pytest.raises(ConfigError) as raised:
        runner.survey_plan(lenses, template, out, only=["lens_a"])
    text = " ".join(str(raised.value).split())
    assert "lens_c" in text and "history_filename" in text, text
    assert not out.exists()


def test_a_dynesty_history_that_is_one_file_for_every_lens_is_refused_before_the_survey(tmp_path, mock_survey):
    """A template's history_filename that is an absolute path, or one that leaves the lens's output
    folder ('../calls.h5'), is the same file for every lens: each lens's fit started it afresh
    (dynesty makes it anew), so that the survey kept the history of its last lens only, and two
    workers wrote the one file at once. It is refused before the survey, naming the key and the
    file; a plain name, or one in a folder of its own (hist/calls.h5), is each lens's own and passes."""
    import pytest

    import tinylens
    from tinylens.errors import ConfigValueError
    from tinylens.inference import dynesty_runner, search_of

    lenses, out = mock_survey["lenses"], tmp_path / "out"
    found = discovery.find_lenses(lenses)
    for history in ("../calls.h5", str(tmp_path / "calls.h5")):
        template = _dynesty_template(tmp_path, history)
        # the truth: the lenses' fits write their history to one and the same file
        problems = [tinylens.load(survey_template.lens_config(survey_template.load_template(template), lens, out)) for lens in found[:2]]
        files = {dynesty_runner.history_file(search_of(p)[2], discovery.Lens.output(lens, out.resolve())).resolve()
                 for p, lens in zip(problems, found)}
        assert len(files) == 1
        with pytest.raises(ConfigValueError) as raised:  # a wrong value of the template's (was the plain ConfigError)
            runner.survey_plan(lenses, template, out)
        text = " ".join(str(raised.value).split())
        assert "history_filename" in text and "same file" in text and str(files.pop()) in text, text
        assert not out.exists()

    for history in ("calls.h5", "hist/calls.h5"):
        plain = survey_template.load_template(_dynesty_template(tmp_path, history))
        survey_template.check_histories(tinylens.load(survey_template.lens_config(plain, found[0], out)), found, out)  # no error


@pytest.mark.parametrize("history, fragment", [
    ("../lens_c/result.json", "sampling.history_filename: '../lens_c/result.json' is the file"),
    ("../calls.h5", "sampling.history_filename: '../calls.h5' is the same file")])
def test_a_tinylensgpu_sampling_template_s_dynesty_history_mistake_is_named_by_the_key_written(tmp_path, mock_survey,
                                                                                             history, fragment):
    """A template with TinyLensGpu's older ``sampling:`` section had check_histories name
    'inference.settings.history_filename', a key the template does not hold, for a history on
    another lens's result.json and for one file shared by every lens; sampling.history_filename now."""
    import yaml

    import tinylens
    from tinylens.errors import ConfigError

    lenses, out = mock_survey["lenses"], tmp_path / "out"
    found = discovery.find_lenses(lenses)
    path = _dynesty_template(tmp_path, history)
    config = yaml.safe_load(path.read_text())
    config["sampling"] = {"sampler": "dynesty", **config.pop("inference")["settings"]}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert "inference" not in yaml.safe_load(path.read_text())  # the key the template holds: sampling's
    problem = tinylens.load(survey_template.lens_config(survey_template.load_template(path), found[0], out))
    with pytest.raises(ConfigError) as raised:
        survey_template.check_histories(problem, found, out)
    text = " ".join(str(raised.value).split())
    assert fragment in text and "inference" not in text, text


def test_a_dynesty_history_on_a_lens_result_json_is_refused_though_every_lens_tried_is_broken(tmp_path):
    """check_histories ran only once a lens had loaded, so that where every lens the template check
    tried had broken data (here lens_0..lens_2: a noise map of zeros, which their headers do not
    show), a history_filename of '../lens_4/result.json' passed the dry run and the run, and
    lens_3's fit, which lets it through, wrote its history as lens_4's result.json. The history is
    now checked from the template's settings alone in that case too, and refused naming lens_4."""
    import numpy as np
    import pytest

    import tinylens
    from survey_mocks import write_lens
    from tinylens.data.fits_io import write_fits_image
    from tinylens.errors import ConfigError, DataError
    from tinylens.fitting.checks import check_settings

    lenses, out = tmp_path / "lenses", tmp_path / "out"
    for i in range(5):
        write_lens(lenses / f"lens_{i}", 1.0, seed=i)
    for i in range(3):
        write_fits_image(lenses / f"lens_{i}" / "noise.fits", np.zeros((32, 32)))
    template = _dynesty_template(tmp_path, "../lens_4/result.json")
    loaded = survey_template.load_template(template)
    found = discovery.find_lenses(lenses)
    # the truth: the first three lenses cannot be loaded, and lens_3's fit writes its history as lens_4's result.json
    for lens in found[:3]:
        with pytest.raises(DataError):
            tinylens.load(survey_template.lens_config(loaded, lens, out))
    config = survey_template.lens_config(loaded, found[3], out)
    check_settings(tinylens.load(config), Path(config["output"]["path"]))  # lens_3's own check lets it through
    assert (Path(config["output"]["path"]) / "../lens_4/result.json").resolve() == \
        (out / "lenses" / "lens_4" / filenames.RESULT).resolve()

    with pytest.raises(ConfigError) as raised:
        runner.survey_plan(lenses, template, out)
    text = " ".join(str(raised.value).split())
    assert "lens_4" in text and "history_filename" in text, text
    assert not out.exists()
    plain = survey_template.load_template(_dynesty_template(tmp_path, "calls.h5"))
    assert survey_template.check_template(plain, found, out) is None  # a plain name passes; still no lens tried loaded


def test_the_history_check_where_no_lens_loaded_imports_no_sampler_for_a_template_that_keeps_none(tmp_path):
    """Where every lens the template check tried had broken data (noise maps of zeros), the
    check of dynesty's history from the template's settings alone imported the sampler's module
    (nautilus, the default) only to find that it keeps no history: ~3 s more for a dry run that
    took ~4 s (survey_plan of 6 lenses here: 4.6 s before, 5.5 to 6.5 s with it). A template
    that keeps no history now imports no sampler for it, and one that does is still checked.
    (Since ca030b1 the template's own sampler, nautilus here, is imported there all the same, to
    check its settings, which no lens loaded had checked; dynesty, the history's, still is not.)"""
    import subprocess
    import sys

    import numpy as np
    import pytest

    from survey_mocks import template_config, write_lens
    from tinylens.data.fits_io import write_fits_image
    from tinylens.errors import ConfigError

    lenses, out = tmp_path / "lenses", tmp_path / "out"
    for i in range(4):
        write_lens(lenses / f"lens_{i}", 1.0, seed=i)
        if i < 3:
            write_fits_image(lenses / f"lens_{i}" / "noise.fits", np.zeros((32, 32)))
    found = discovery.find_lenses(lenses)
    template = survey_template.load_template(_dynesty_template(tmp_path, "../lens_3/result.json"))
    with pytest.raises(ConfigError, match="lens_3"):  # a history is still checked where no lens loaded
        survey_template.check_template(template, found, out)
    plain = tmp_path / "plain.yaml"
    plain.write_text(__import__("yaml").safe_dump(template_config()))
    code = ("import sys; from pathlib import Path; from tinylens.survey import runner; "
            f"lenses = runner.find_lenses(Path({str(lenses)!r})); "
            f"print(runner.check_template(runner.load_template(Path({str(plain)!r})), lenses, Path({str(out)!r}))); "
            "print(sorted(m for m in ('nautilus', 'dynesty', 'tinylens.inference.nautilus_runner') if m in sys.modules))")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr
    # no lens loaded: no history's sampler imported, the template's own for its settings (check_unloaded_settings)
    assert ran.stdout.split("\n")[-3:] == ["None", "['nautilus', 'tinylens.inference.nautilus_runner']", ""], ran.stdout


def _dry_run_with_history_on(tmp_path, target, absolute: bool) -> str:
    """``tinylens survey --dry-run`` of the one-lens survey tmp_path/lenses (lens_0) whose template keeps
    dynesty's history on the lens's file ``target`` (its ``absolute`` path, or that path from the lens's
    output folder, not made yet): refused (exit 2, no traceback) naming the key and the lens, ``target``
    and --out left as they were; its text on one line."""
    from typer.testing import CliRunner

    from tinylens.cli.main import app

    lenses, out = tmp_path / "lenses", tmp_path / "out"
    before = target.read_bytes()
    history = str(target) if absolute else f"../../../lenses/lens_0/{target.name}"
    template = _dynesty_template(tmp_path, history)
    result = CliRunner().invoke(app, ["survey", str(lenses), "-c", str(template), "-o", str(out), "--dry-run"],
                                env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "(for lens lens_0's fit): inference.settings.history_filename: dynesty would write its evaluation" in text
    assert target.read_bytes() == before and not out.exists()
    return text


@pytest.mark.parametrize("absolute", [False, True])
def test_a_dynesty_history_on_a_lens_image_through_its_output_folder_not_made_yet_is_refused_by_the_dry_run(
        tmp_path, absolute):
    """A one-lens survey whose template keeps dynesty's history in
    '../../../lenses/lens_0/image.fits' (from the lens's output folder, not made yet: the lens's own
    image), or in that image's absolute path, passed the dry run ('the template works', exit 0): the
    template check compared the history with tinylens's own files alone, and the one-file-for-every-
    lens check needs two lenses. The dry run now refuses it (exit 2, no traceback) naming the key,
    the lens and its image, and leaves the image and --out as they were."""
    from survey_mocks import write_lens

    image = write_lens(tmp_path / "lenses" / "lens_0", 1.0, seed=0) / "image.fits"
    text = _dry_run_with_history_on(tmp_path, image, absolute)
    assert f"and that file is lens lens_0's data_path file ({image}), which it would overwrite" in text


@pytest.mark.parametrize("absolute", [False, True])
def test_a_dynesty_history_on_a_lens_truth_file_is_refused_by_the_dry_run(tmp_path, absolute):
    """A lens's truth.json is given to its fit as --truth, which the fit refuses to write over
    (5217b25), but the dry run compared the history with the lens's image, noise, PSF and mask
    alone (2bbc575): a one-lens survey whose template kept dynesty's history in
    '../../../lenses/lens_0/truth.json' (or that file's absolute path) passed the dry run ('the
    template works', exit 0) and its lens's fit was then refused. The dry run now refuses it (exit
    2, no traceback), naming the lens's truth.json, which is left as it was, --out not made."""
    import json

    from survey_mocks import write_lens

    truth = write_lens(tmp_path / "lenses" / "lens_0", 1.0, seed=0) / "truth.json"
    truth.write_text(json.dumps({"lens_mass.0.theta_E": 1.0}))
    text = _dry_run_with_history_on(tmp_path, truth, absolute)
    assert f"and that file is lens lens_0's truth file ({truth}), which it would overwrite" in text
