"""A rerun survey reuses a lens's result only for the files and template it was fitted with."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tinylens import filenames
from tinylens.cli.main import app
from tinylens.config.schema import Inference
from tinylens.errors import ConfigError
from tinylens.inference.common import VALUE_RULES
from tinylens.precision import get_precision
from tinylens.results.tables import write_json
from tinylens.survey import catalog, provenance, resume, runner
from tinylens.survey import rows as survey_rows

RESULT = {
    "median": {"lens_mass.0.theta_E": 1.01},
    "interval_68": {"lens_mass.0.theta_E": [1.0, 1.02]},
    "interval_997": {"lens_mass.0.theta_E": [0.97, 1.05]},
    "log_evidence": -123.5, "n_likelihood_evals": 3840, "wall_time_s": 12.5,
    "quality": {"trusted": True, "flags": []},
}


def _config(folder: Path, mask: bool = False) -> dict:
    dataset = {"data_path": str(folder / "image.fits"), "noise_path": str(folder / "noise.fits"),
               "psf_path": str(folder / "psf.fits")}
    if mask:
        dataset["mask_path"] = str(folder / "mask.fits") + "[1]"
    return {"dataset": dataset}


def _files(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("image.fits", "noise.fits", "psf.fits", "mask.fits"):
        (folder / name).write_bytes(name.encode() * 100)
    return folder


def test_unchanged_touched_or_copied_files_are_the_same_inputs(tmp_path):
    folder = _files(tmp_path / "a")
    stamp = provenance.inputs_stamp(_config(folder, mask=True))
    assert set(stamp) == {"data_path", "noise_path", "psf_path", "mask_path"}  # the [HDU] suffix is not the file's
    assert stamp["noise_path"]["size"] == 1000 and len(stamp["noise_path"]["sha256"]) == 64
    assert provenance.changed_inputs(stamp, _config(folder, mask=True)) == []
    os.utime(folder / "image.fits", ns=(1, 1))  # touched: other time, same bytes (hashed, found equal)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)  # copied: every time differs
    assert provenance.changed_inputs(stamp, _config(folder, mask=True)) == []
    copied = {k: {**v} for k, v in provenance.inputs_stamp(_config(copy, mask=True)).items()}
    assert provenance.changed_inputs(copied, _config(folder, mask=True)) == []


def test_new_content_a_removed_file_or_a_new_mask_are_changes(tmp_path):
    folder = _files(tmp_path / "a")
    stamp = provenance.inputs_stamp(_config(folder))
    (folder / "noise.fits").write_bytes(b"x" * 1000)  # same size, other bytes
    assert provenance.changed_inputs(stamp, _config(folder)) == ["noise_path"]
    (folder / "psf.fits").unlink()
    assert provenance.changed_inputs(stamp, _config(folder)) == ["noise_path", "psf_path"]
    assert provenance.changed_inputs(provenance.inputs_stamp(_config(folder)), _config(folder, mask=True)) == ["mask_path"]
    # a file that could not be read when the fit started counts as changed once it can be
    unreadable = provenance.inputs_stamp(_config(folder))
    assert unreadable["psf_path"] is None
    assert provenance.changed_inputs(unreadable, _config(folder)) == []
    (folder / "psf.fits").write_bytes(b"psf")
    assert provenance.changed_inputs(unreadable, _config(folder)) == ["psf_path"]


def test_the_precision_recorded_beside_the_stamps_is_no_input_file(tmp_path):
    folder = _files(tmp_path / "a")
    stamp = provenance.inputs_stamp(_config(folder), "float64")
    assert stamp["precision"] == "float64" and provenance.changed_inputs(stamp, _config(folder)) == []
    current = provenance.manifest(Path("/l"), Path("/t.yaml"), {}, "float64")
    assert provenance.stamps_conflict({"a": stamp, "b": provenance.inputs_stamp(_config(folder))}, current) is None
    why = provenance.stamps_conflict({"b": stamp, "a": provenance.inputs_stamp(_config(folder), "float32")}, current)
    assert why == ("were computed in float32 precision, not float64 (set by TINYLENS_PRECISION or "
                   "tinylens.set_precision; recorded in the inputs.json of a)")


def test_template_differences_are_named_by_dotted_key():
    old = {"inference": {"settings": {"nlive": 200}}, "dataset": {"nsub": 4}, "output": {"path": "a"}}
    new = {"inference": {"settings": {"nlive": 100, "seed": 1}}, "dataset": {"nsub": 4}, "output": {"path": "b"}}
    found = provenance.differences(provenance.template_key(old), provenance.template_key(new))
    assert found == ["inference.settings.nlive: 200 -> 100", "inference.settings.seed added"]  # output ignored
    a = provenance.manifest(Path("/l"), Path("/t.yaml"), old, "float32")
    assert provenance.manifest_conflict(a, provenance.manifest(Path("/l"), Path("/u.yaml"), dict(old), "float32")) is None
    assert "nlive: 200 -> 100" in provenance.manifest_conflict(a, provenance.manifest(Path("/l"), Path("/t.yaml"), new, "float32"))
    assert "lens folder /l, not /m" in provenance.manifest_conflict(a, provenance.manifest(Path("/m"), Path("/t.yaml"), old, "float32"))


def test_the_number_of_pipeline_threads_is_not_a_new_template():
    """``pipeline.threads`` changes how fast stages 1 and 3 run (CPU 1, GPU 8), not what they find."""
    plain = {"inference": {"settings": {"n_live": 200}}}
    threaded = {**plain, "pipeline": {"threads": 8}}
    assert provenance.differences(provenance.template_key(plain), provenance.template_key(threaded)) == []
    wide = {**plain, "pipeline": {"threads": 8, "n_sigma": 10}}
    narrow = {**plain, "pipeline": {"threads": 1, "n_sigma": 5}}
    assert provenance.differences(provenance.template_key(wide), provenance.template_key(narrow)) == [
        "pipeline.n_sigma: 10 -> 5"]



@pytest.mark.parametrize("key, a, b", [("checkpoint_every", 60, 0), ("verbose", False, True)])
def test_how_often_a_sampler_checkpoints_or_prints_is_not_a_new_template(key, a, b):
    """``inference.settings.checkpoint_every`` and ``verbose`` change the files and the terminal,
    not the samples; the other settings beside them still count."""
    old = {"inference": {"method": "nautilus", "settings": {"nlive": 200, key: a}}}
    assert provenance.differences(provenance.template_key(old), provenance.template_key(
        {"inference": {"method": "nautilus", "settings": {"nlive": 200, key: b}}})) == []
    assert provenance.differences(provenance.template_key(old), provenance.template_key(
        {"inference": {"method": "nautilus", "settings": {"nlive": 100}}})) == ["inference.settings.nlive: 200 -> 100"]
    # a survey.json written when the key still counted holds it: no conflict with the same template
    recorded = {"lens_dir": "/l", "template_path": "/t.yaml", "template": json.loads(json.dumps(old))}
    assert provenance.manifest_conflict(recorded, provenance.manifest(Path("/l"), Path("/t.yaml"), old, "float32")) is None


@pytest.mark.parametrize("settings", [{"n_like_max": 300}, {"timeout": 600.0}, {"n_like_max": 300, "verbose": True}])
def test_a_template_whose_inference_block_holds_only_the_budget_is_the_same_template_when_run_again(settings):
    """A template whose inference block set only the sampler's budget ('inference: {settings:
    {n_like_max: 300}}', nautilus by default) was keyed as 'inference: {}', which survey.json,
    keyed again when read, lost: the survey run again with the same template, or with the budget
    raised, was refused as 'made with another template (differences: inference added)'. The budget
    now leaves no empty block behind, as the speed-only keys do; a removed budget is the same
    template too, and another setting still counts."""
    def template(**inference):
        return {"model": {"lens_mass": [{"type": "SIE"}]}, **({"inference": inference} if inference else {})}

    def conflict(old, new):
        return provenance.manifest_conflict(json.loads(json.dumps(provenance.manifest(Path("/l"), Path("/t.yaml"), old, "float32"))),
                                            provenance.manifest(Path("/l"), Path("/t.yaml"), new, "float32"))

    old = template(settings=settings)
    raised = template(settings={**settings, **{k: v * 10 for k, v in settings.items() if k in provenance.BUDGET_SETTINGS}})
    for new in (old, raised, template(), template(settings={})):
        assert conflict(old, new) is None, new
    assert "another template (/t.yaml; differences: inference added)" in conflict(old, template(settings={**settings, "n_live": 100}))


def test_a_number_in_exponent_notation_is_the_same_template_as_the_number_it_writes():
    """PyYAML reads 'n_eff: 1e3' as the text "1e3" (YAML 1.1), which the fit reads as 1000, as it
    reads 'n_eff: 1000' and 'n_eff: 1.0e+3' (1000.0): a survey begun with one spelling and run
    again with another was refused as 'made with another template'. They are the same template
    now, in survey.json written before too; another value is still refused, shown as written."""
    def template(n_eff, low):
        return yaml.safe_load(f"inference: {{settings: {{n_eff: {n_eff}, n_live: 200}}}}\n"
                              f"model_components: {{lens_mass_list: [{{type: SIE, params: {{theta_E: "
                              f"{{prior_type: uniform, prior_settings: [{low}, 2], limits: [{low}, 2]}}}}}}]}}\n")

    def conflict(old, new):
        recorded = json.loads(json.dumps(provenance.manifest(Path("/l"), Path("/t.yaml"), old, "float32")))
        return provenance.manifest_conflict(recorded, provenance.manifest(Path("/l"), Path("/u.yaml"), new, "float32"))

    written = template("1e3", "1e-3")
    assert written["inference"]["settings"]["n_eff"] == "1e3"  # text, as PyYAML reads it
    spellings = [template("1000", "0.001"), template("1.0e+3", "1.0e-3"), template("1000.0", "1e-3")]
    for other in spellings:  # independent truth: the config's schema reads them alike
        assert Inference.model_validate(other["inference"]) == Inference.model_validate(written["inference"])
        assert conflict(written, other) is None, other
        assert conflict(other, written) is None, other
    why = conflict(written, template("2e3", "1e-3"))
    assert "differences: inference.settings.n_eff: \"1e3\" -> \"2e3\")" in why
    assert "differences: model_components.lens_mass_list: " in conflict(template("1000", "0.001"), template("1e3", "2e-3"))


def test_a_template_holding_a_nan_is_the_same_template_when_run_again():
    """A NaN equals nothing, itself included: a template holding one where the fit takes it
    ('logl_max: .nan', which its settings check lets pass) was refused, run again unchanged, as
    'made with another template (differences: inference.settings.logl_max: NaN -> NaN)', in a
    list too; another value beside it still counts."""
    text = "inference: {method: dynesty, settings: {logl_max: .nan, nlive: 200}}\n"
    old = yaml.safe_load(text)
    assert VALUE_RULES["logl_max"][1](old["inference"]["settings"]["logl_max"])  # a setting the fit takes
    recorded = json.loads(json.dumps(provenance.manifest(Path("/l"), Path("/t.yaml"), old, "float32")))
    assert provenance.manifest_conflict(recorded, provenance.manifest(Path("/l"), Path("/t.yaml"), yaml.safe_load(text), "float32")) is None
    changed = yaml.safe_load(text.replace("nlive: 200", "nlive: 100"))
    assert provenance.manifest_conflict(recorded, provenance.manifest(Path("/l"), Path("/t.yaml"), changed, "float32")).endswith(
        "differences: inference.settings.nlive: 200 -> 100)")
    nan = float("nan")
    assert provenance.differences({"a": [nan, 1]}, {"a": [float("nan"), 1]}) == []
    assert provenance.differences({"a": [nan, 1]}, {"a": [nan, 2]}) == ["a: [NaN, 1] -> [NaN, 2]"]


def test_templates_are_compared_by_the_values_their_fits_read_not_as_written():
    """survey.json compared templates as written: 'pixel_scale: "0.1"' (quoted, text to YAML) was
    another template than 'pixel_scale: 0.1', though the fit reads both as the number 0.1, and a
    flag 'true' was the same setting as '1' everywhere (equal to Python), though a setting the
    schema passes on untyped (inference.settings.discard_exploration) reaches the sampler as it is
    written. Templates are now compared as their fits read them (validated, the schema's
    defaults filled): a quoted number or a typed flag's 1 is the same template, an untyped
    setting's true and 1 are not, in a survey.json written before too (keyed again)."""
    from survey_mocks import template_config
    from tinylens.config import load_config

    def conflict(old, new):
        recorded = json.loads(json.dumps({"lens_dir": "/l", "template_path": "/t.yaml", "template": old}))
        return provenance.manifest_conflict(recorded, provenance.manifest(Path("/l"), Path("/t.yaml"), new, "float32"))

    def template(pixel_scale=0.1, pipeline=True, **settings):
        config = template_config()
        config["dataset"]["pixel_scale"] = pixel_scale
        config["pipeline"] = {"enabled": pipeline}
        config["inference"]["settings"].update(settings)
        return config

    written, quoted, one = template(), template(pixel_scale="0.1"), template(pipeline=1)
    for other in (quoted, one):  # independent truth: the schema reads them alike
        assert load_config(other)[0] == load_config(written)[0]
        for old in (provenance.template_key(written), {k: v for k, v in written.items() if k != "output"}):
            assert conflict(old, other) is None, other  # old: a survey.json's template as written before
            assert conflict(provenance.template_key(other), written) is None, other
    assert "dataset.pixel_scale: 0.1 -> 0.2" in conflict(provenance.template_key(quoted), template(pixel_scale="0.2"))
    flag, number = template(discard_exploration=True), template(discard_exploration=1)
    passed = [load_config(c)[0].inference.settings["discard_exploration"] for c in (flag, number)]
    assert [type(v) for v in passed] == [bool, int]  # the sampler gets each as written
    assert "inference.settings.discard_exploration: true -> 1" in conflict(provenance.template_key(flag), number)
    assert provenance.differences({"a": [True]}, {"a": [1]}) == ["a: [true] -> [1]"]


@pytest.mark.parametrize("key, a, b", [("checkpoint_every", 60, 0), ("verbose", False, True)])
def test_in_tinylensgpus_older_sampling_section_too(key, a, b):
    """A template with TinyLensGpu's older section 'sampling: {sampler: nautilus, ...}' (read as
    its inference) changed only in checkpoint_every or verbose was refused by the rerun survey as
    'made with another template (differences: sampling.verbose: False -> True)'; it is the same
    template, as under 'inference'. Its other settings still count, under their inference names."""
    old = {"sampling": {"sampler": "nautilus", "nlive": 200, key: a}}
    assert provenance.differences(provenance.template_key(old), provenance.template_key(
        {"sampling": {"sampler": "nautilus", "nlive": 200, key: b}})) == []
    assert provenance.differences(provenance.template_key(old), provenance.template_key(
        {"sampling": {"sampler": "nautilus", "nlive": 100}})) == ["inference.settings.nlive: 200 -> 100"]


def test_another_precision_is_a_conflict_and_an_unrecorded_one_is_float32():
    """A survey.json written before the precision was recorded is float32's (the only one then)."""
    template = {"inference": {"settings": {"nlive": 200}}}
    single = provenance.manifest(Path("/l"), Path("/t.yaml"), template, "float32")
    double = provenance.manifest(Path("/l"), Path("/t.yaml"), template, "float64")
    why = provenance.manifest_conflict(single, double)
    assert why is not None and "float32 precision, not float64" in why and "TINYLENS_PRECISION=float32" in why
    assert "float64 precision, not float32" in provenance.manifest_conflict(double, single)
    unrecorded = {k: v for k, v in single.items() if k != "precision"}
    assert provenance.manifest_conflict(unrecorded, single) is None
    assert "float32 precision, not float64" in provenance.manifest_conflict(unrecorded, double)

# -- the survey ---------------------------------------------------------------------------------
def _finished(lenses_dir: Path, template: Path, out: Path, names: list[str], pipeline: bool = True) -> None:
    """``out`` as a survey (with ``--no-pipeline`` where not ``pipeline``) leaves it after fitting
    ``names`` ok (the fits faked: RESULT)."""
    config = runner.load_template(template) if pipeline else runner.load_template(template, pipeline)
    lenses = {lens.lens_id: lens for lens in runner.find_lenses(lenses_dir)}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / provenance.MANIFEST_FILE,
                      provenance.manifest(lenses_dir.resolve(), template.resolve(), config, get_precision()))
    for name in names:
        folder = lenses[name].output(out)
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(RESULT))
        write_json(folder / filenames.INPUTS, provenance.inputs_stamp(runner.lens_config(config, lenses[name], out),
                                                                      get_precision()))
        runner.write_row(folder, survey_rows.flat_row(name, RESULT))


@pytest.fixture
def one_lens(tmp_path, mock_survey) -> dict[str, Path]:
    lenses = tmp_path / "lenses"
    shutil.copytree(mock_survey["lenses"] / "lens_a", lenses / "lens_a")
    out = tmp_path / "out"
    _finished(lenses, mock_survey["template"], out, ["lens_a"])
    return {"lenses": lenses, "out": out, "template": mock_survey["template"], "tmp": tmp_path}


def _drop_precision(path: Path) -> None:
    """Remove the precision that ``path`` (a survey.json or inputs.json) records, as older ones have none."""
    path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "precision"}))


def _survey(case: dict[str, Path], template: Path | None = None, lenses: Path | None = None, *extra: str):
    return CliRunner().invoke(app, ["survey", str(lenses or case["lenses"]), "-c", str(template or case["template"]),
                                    "--out", str(case["out"]), "--workers", "1", "--quiet", *extra])


def test_a_finished_survey_rerun_unchanged_fits_nothing(one_lens):
    result = _survey(one_lens)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "1 lens: 1 ok (1 trusted), 0 failed" in text and "changed since" not in result.output
    assert f"an overview: tinylens report {one_lens['out'].resolve() / 'catalog.parquet'}" in text
    assert pd.read_csv(one_lens["out"] / "catalog.csv")["lens_mass.0.theta_E_median"].tolist() == [1.01]


def test_a_tinylensgpu_sampling_template_changed_is_refused_naming_the_keys_it_writes(one_lens):
    """A survey rerun with a template of TinyLensGpu's older ``sampling:`` section whose nlive and
    sampler changed was refused as 'made with another template (differences: inference.method:
    ..., inference.settings.nlive: ... -> 77)', keys the template does not hold; the differences
    are named as the template writes them, sampling.sampler and sampling.nlive (exit 2)."""
    other = one_lens["tmp"] / "other.yaml"
    config = yaml.safe_load(one_lens["template"].read_text())
    inference = config.pop("inference")
    config["sampling"] = {**inference["settings"], "sampler": "dynesty", "nlive": 77}
    other.write_text(yaml.safe_dump(config))
    written = yaml.safe_load(other.read_text())
    assert "inference" not in written and written["sampling"]["nlive"] == 77  # the keys the template holds
    assert inference["method"] != "dynesty" and inference["settings"]["nlive"] != 77  # both changed
    result = _survey(one_lens, template=other)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "another template" in text and f"sampling.sampler: \"{inference['method']}\" -> \"dynesty\"" in text, text
    assert f"sampling.nlive: {inference['settings']['nlive']} -> 77" in text, text
    assert "inference" not in text, text
    assert not (one_lens["out"] / "catalog.csv").exists()  # nothing written


@pytest.mark.parametrize("sampling, method_key", [({"sampler": "nautilus", "nlive": 50}, "sampling.sampler"),
                                                  ({"nlive": 50}, "sampling"), ({}, "sampling")])
def test_a_sampling_template_after_an_optimizer_survey_names_the_keys_it_writes(tmp_path, mock_survey, sampling, method_key):
    """A survey whose fits were made by an optimizer, rerun with a template of TinyLensGpu's older
    ``sampling:`` section, was refused as 'made with another template (differences: ...;
    inference.type: "optimizer" -> "sampler")', and, where the section held no setting, 'sampling
    removed' of a template that holds it; the type is named as the section that makes the run a
    sampler's, ``sampling``, the settings gone as the section's settings, and the sampler, where the
    section leaves it out, as the section too, as the config's checks name it (exit 2)."""
    lenses = tmp_path / "lenses"
    shutil.copytree(mock_survey["lenses"] / "lens_a", lenses / "lens_a")
    config = yaml.safe_load(mock_survey["template"].read_text())
    optimizer = tmp_path / "optimizer.yaml"
    optimizer.write_text(yaml.safe_dump({**config, "inference": {"type": "optimizer", "method": "lbfgs",
                                                                  "settings": {"n_starts": 1, "n_draws": 64}}}))
    _finished(lenses, optimizer, tmp_path / "out", ["lens_a"])
    config.pop("inference")
    other = tmp_path / "sampling.yaml"
    other.write_text(yaml.safe_dump({**config, "sampling": sampling}))
    assert "inference" not in yaml.safe_load(other.read_text())  # no key of the template is named so
    with mock.patch.object(provenance, "MAX_LISTED", 10):  # every difference listed
        result = _survey({"lenses": lenses, "out": tmp_path / "out"}, other)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "another template" in text and "inference" not in text, text
    assert 'sampling: "optimizer" -> "sampler"' in text, text
    assert f'{method_key}: "lbfgs" -> "nautilus"' in text, text
    if sampling:
        assert "sampling.n_starts removed" in text and "sampling.nlive added" in text, text
    else:
        assert "sampling's settings removed" in text and "sampling removed" not in text, text
    assert not (tmp_path / "out" / "catalog.csv").exists()  # nothing written


def test_another_template_or_lens_folder_is_refused_while_results_exist(one_lens):
    other = one_lens["tmp"] / "other.yaml"
    config = yaml.safe_load(one_lens["template"].read_text())
    config["inference"]["settings"]["nlive"] = 77
    other.write_text(yaml.safe_dump(config))
    result = _survey(one_lens, template=other)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "another template" in text and "inference.settings.nlive:" in text and "-> 77" in text and "new --out" in text
    assert not (one_lens["out"] / "catalog.csv").exists()  # nothing written

    moved = one_lens["tmp"] / "moved"
    shutil.copytree(one_lens["lenses"], moved)
    result = _survey(one_lens, None, moved)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and f"lens folder {one_lens['lenses'].resolve()}, not {moved.resolve()}" in text
    assert "--reuse-finished" in text
    # moved, same files: --reuse-finished keeps the finished lens, and records the new folder
    result = _survey(one_lens, None, moved, "--reuse-finished")
    assert result.exit_code == 0 and "1 ok" in result.output, result.output
    assert _survey(one_lens, None, moved).exit_code == 0
    assert _survey(one_lens, other, moved, "--reuse-finished").exit_code == 0
    assert pd.read_csv(one_lens["out"] / "catalog.csv")["lens_mass.0.theta_E_median"].tolist() == [1.01]


def test_another_templates_finished_fits_refuse_out_as_a_wrong_value_naming_the_folder(one_lens):
    """A survey continued in an --out whose finished fits came from another template raised a plain
    ConfigError, which `except ValueError` around run_survey missed, though the folder given is a
    value this run cannot take, as every other wrong argument's ConfigValueError says; it is now a
    ConfigValueError (a ValueError) naming the folder, the template and the argument, and nothing
    is written."""
    from tinylens.errors import ConfigValueError

    other = one_lens["tmp"] / "other.yaml"
    config = yaml.safe_load(one_lens["template"].read_text())
    config["inference"]["settings"]["nlive"] = 77
    other.write_text(yaml.safe_dump(config))
    before = sorted(p.name for p in one_lens["out"].iterdir())
    with pytest.raises(ConfigValueError) as raised:
        runner.run_survey(one_lens["lenses"], other, one_lens["out"], workers=1, progress=False)
    assert isinstance(raised.value, ValueError)
    text = " ".join(str(raised.value).split())
    assert f"output folder {one_lens['out'].resolve()}" in text or f"output folder {one_lens['out']}" in text, text
    assert f"template {other}" in text and "run_survey: out=" in text and "another template" in text, text
    assert sorted(p.name for p in one_lens["out"].iterdir()) == before  # nothing written


def test_a_survey_continued_with_no_pipeline_changed_is_refused_as_another_template_is(one_lens):
    """tinylens fit --no-pipeline fits the sampler alone; tinylens survey had no such flag (an
    unknown option), so a quick-look survey needed an edited template. With --no-pipeline each
    lens's config has pipeline: {enabled: false} (the template's other pipeline keys, unread,
    left out: no lens warns of them), recorded so in survey.json, and a survey continued with the
    flag changed is refused as one with another template is, saying which way the pipeline was."""
    import warnings

    import tinylens
    from tinylens.inference import search_of

    result = _survey(one_lens, None, None, "--no-pipeline", "--dry-run")
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "another template" in text and "pipeline.enabled" in text and "--reuse-finished" in text, text
    assert "fitted with the pipeline's stages, this run without them" in text, text
    kept = runner.survey_plan(one_lens["lenses"], one_lens["template"], one_lens["out"], reuse_finished=True,
                              pipeline=False)
    assert kept["ok"] == ["lens_a"] and not any(kept["to_fit"].values())

    config = yaml.safe_load(one_lens["template"].read_text())
    config["pipeline"] = {"n_sigma": 5, "arc": False}
    template, out = _written(one_lens["tmp"] / "quick.yaml", config), one_lens["tmp"] / "quick"
    _finished(one_lens["lenses"], template, out, ["lens_a"], pipeline=False)
    assert json.loads((out / provenance.MANIFEST_FILE).read_text())["template"]["pipeline"]["enabled"] is False
    lens = runner.find_lenses(one_lens["lenses"])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 'not used with pipeline.enabled: false' for keys the user set for full fits
        problem = tinylens.load(runner.lens_config(runner.load_template(template, pipeline=False), lens, out))
    assert problem.config.pipeline.enabled is False and search_of(problem)[3] is None  # no stage runs
    assert runner.load_template(template)["pipeline"] == {"n_sigma": 5, "arc": False}  # the flag's alone
    case = {**one_lens, "out": out}
    result = _survey(case, template, None, "--no-pipeline", "--dry-run")
    assert result.exit_code == 0 and "1 done (ok)" in result.output, result.output
    result = _survey(case, template, None, "--dry-run")
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "fitted without the pipeline's stages" in text and "this run with them" in text, text
    with pytest.raises(ConfigError, match="pipeline"):
        runner.survey_plan(one_lens["lenses"], template, out, pipeline="no")


def test_a_survey_of_a_template_whose_pipeline_is_off_continued_with_no_pipeline_is_not_another_template(one_lens):
    """--no-pipeline made a template's pipeline section {enabled: false} whatever it was, so that a
    template already saying pipeline: {enabled: false, n_sigma: 7, arc: false}, whose survey was
    begun without the flag, was refused when continued with it ('another template ... differences:
    pipeline.arc: false -> true; pipeline.n_sigma: 7.0 -> 10.0'), though the file was unchanged and
    its fits are the same either way (the sampler alone). Such a section is now kept as it is: the
    survey goes on, its lens done; a template whose pipeline is on is still refused so."""
    import tinylens
    from tinylens.inference import search_of

    config = yaml.safe_load(one_lens["template"].read_text())
    config["pipeline"] = {"enabled": False, "n_sigma": 7, "arc": False}
    template, out = _written(one_lens["tmp"] / "off.yaml", config), one_lens["tmp"] / "off"
    _finished(one_lens["lenses"], template, out, ["lens_a"])  # begun without the flag
    lens = runner.find_lenses(one_lens["lenses"])[0]
    for read in (runner.load_template(template), runner.load_template(template, pipeline=False)):  # the truth: both
        problem = tinylens.load(runner.lens_config(read, lens, out))  # fit the sampler alone, with no stage
        assert problem.config.pipeline.enabled is False and search_of(problem)[3] is None

    plan = runner.survey_plan(one_lens["lenses"], template, out, pipeline=False, check=False)
    assert plan["ok"] == ["lens_a"] and not any(plan["to_fit"].values())
    with pytest.raises(ConfigError, match="fitted with the pipeline's stages, this run without them"):
        runner.survey_plan(one_lens["lenses"], one_lens["template"], one_lens["out"], pipeline=False, check=False)


@pytest.mark.parametrize("section", [{"n_sigmaa": 5}, {"n_sigma": "wide"}, {"enabled": False, "n_sigmaa": 5}])
def test_a_template_whose_pipeline_section_has_a_mistake_is_refused_with_no_pipeline_as_fit_refuses_it(one_lens,
                                                                                                    section):
    """--no-pipeline replaced a template's pipeline section the schema refuses (a key mistyped, a
    value of the wrong kind) by {enabled: false}, so that the dry run said 'the template works' and
    the survey ran, while tinylens validate --no-pipeline (and fit --no-pipeline) refuse the same
    section in a lens's config, and the survey without the flag refuses the template: the mistake
    was found only when the full survey was run. It is now refused with the flag too, naming the
    key, exit 2 with nothing written."""
    config = yaml.safe_load(one_lens["template"].read_text())
    config["pipeline"] = section
    template, out = _written(one_lens["tmp"] / "mistake.yaml", config), one_lens["tmp"] / "mistake"
    key = next(iter(k for k in section if k != "enabled"))
    lens_config = runner.lens_config(yaml.safe_load(template.read_text()), runner.find_lenses(one_lens["lenses"])[0],
                                     out)
    lens_file = _written(one_lens["tmp"] / "lens_a.yaml", lens_config)
    checked = CliRunner().invoke(app, ["validate", str(lens_file), "--no-pipeline"])
    assert checked.exit_code == 2 and f"pipeline.{key}" in checked.output, checked.output  # the truth: fit's check

    for run in (("--dry-run",), ()):
        result = _survey({**one_lens, "out": out}, template, None, "--no-pipeline", *run)
        text = " ".join(result.output.split())
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert "does not work" in text and f"pipeline.{key}" in text and "the template works" not in text, text
        assert not out.exists()  # refused before anything is written


def test_a_python_caller_refused_for_another_lens_folder_is_told_the_arguments_to_pass(one_lens):
    """From Python (survey_plan, run_survey) the refusal of an output folder holding fits of another
    lens folder named only the command line's --out, --reuse-finished and --retry-failed; it names
    run_survey's out=, reuse_finished=True and retry_failed=True too, and reuse_finished=True works."""
    moved = one_lens["tmp"] / "moved"
    shutil.copytree(one_lens["lenses"], moved)
    with pytest.raises(ConfigError) as caught:
        runner.survey_plan(moved, one_lens["template"], one_lens["out"])
    text = str(caught.value)
    assert "Give a new --out (run_survey: out=) for template" in text
    assert "--reuse-finished (run_survey: reuse_finished=True)" in text
    assert "--retry-failed (retry_failed=True)" in text
    plan = runner.survey_plan(moved, one_lens["template"], one_lens["out"], reuse_finished=True)
    assert plan["ok"] == ["lens_a"] and not any(plan["to_fit"].values())



def test_a_template_with_a_mistake_is_refused_for_its_mistake_not_for_keys_it_never_changed(one_lens):
    """survey.json records a template as its fits read it (its defaults filled); one with a
    mistake the schema refuses (a key mistyped) was compared as written, so its refusal listed
    the defaults it leaves out as removed ('dataset.mask removed; dataset.mask_path removed;
    ...'), keys it never changed, its mistake among them or past the four shown. Its mistake is
    now said, as the schema says it."""
    other = one_lens["tmp"] / "typo.yaml"
    config = yaml.safe_load(one_lens["template"].read_text())
    config["dataset"]["nsubb"] = 2
    other.write_text(yaml.safe_dump(config))
    result = _survey(one_lens, template=other)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "dataset.nsubb: unknown key" in text and "dataset.mask removed" not in text, text
    assert not (one_lens["out"] / "catalog.csv").exists()  # nothing written


def test_a_template_whose_lens_files_are_placeholders_is_read_as_its_fits_read_it(one_lens):
    """The survey sets each lens's data_path, noise_path and psf_path whatever the template gives,
    so 'data_path: null' (a placeholder) runs; it was validated as given, so such a template was
    no valid config, and was compared as written ('pixel_scale: "0.1"' another template than 0.1)
    and, changed, refused for its null data_path, not for what changed. Its lens files now count
    as the survey's, kept as written."""
    config = yaml.safe_load(one_lens["template"].read_text())
    config["dataset"].update(data_path=None, psf_path="")
    lens = runner.find_lenses(one_lens["lenses"])[0]
    assert resume.fitted_config(runner.lens_config(config, lens, one_lens["out"])) is not None  # it runs
    quoted = {**config, "dataset": {**config["dataset"], "pixel_scale": str(config["dataset"]["pixel_scale"])}}
    recorded = json.loads(json.dumps(provenance.manifest(Path("/l"), Path("/t.yaml"), config, "float32")))
    assert provenance.manifest_conflict(recorded, provenance.manifest(Path("/l"), Path("/t.yaml"), quoted, "float32")) is None
    assert "data_path" not in recorded["template"]["dataset"]  # a survey sets it for each lens

    _finished(one_lens["lenses"], _written(one_lens["tmp"] / "null.yaml", config), one_lens["tmp"] / "null", ["lens_a"])
    config["inference"]["settings"]["nlive"] = 77
    result = _survey({**one_lens, "out": one_lens["tmp"] / "null"}, template=_written(one_lens["tmp"] / "null.yaml", config))
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "another template" in text and "inference.settings.nlive: 50 -> 77" in text, text


def _written(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_template_with_or_without_its_lens_files_is_the_same_template(one_lens):
    """A survey sets each lens's data_path, noise_path and psf_path whatever its template gives, but
    the template's key (survey.json) kept them as written, so the same template without them, or
    with a placeholder, was refused as 'another template'. They are now no part of the key; a
    survey.json an older tinylens wrote with them still matches the unchanged template, and a
    template's mask_path (used by each lens without its own mask) still counts."""
    config = yaml.safe_load(one_lens["template"].read_text())
    dataset = config["dataset"]
    assert all(dataset.get(key) for key in provenance.LENS_PATHS) and "mask_path" not in dataset
    bare = {**config, "dataset": {k: v for k, v in dataset.items() if k not in provenance.LENS_PATHS}}
    placeholders = {**config, "dataset": {**dataset, "data_path": None, "noise_path": "LENS/noise.fits"}}
    for name, template in (("bare", bare), ("placeholders", placeholders)):
        found = runner.survey_plan(one_lens["lenses"], _written(one_lens["tmp"] / f"{name}.yaml", template),
                                   one_lens["out"], check=False)
        assert found["ok"] == ["lens_a"] and not any(found["to_fit"].values()), (name, found)
    manifest = one_lens["out"] / provenance.MANIFEST_FILE
    older = json.loads(manifest.read_text())  # as an older tinylens wrote it: the lens files as the template wrote them
    older["template"]["dataset"].update({key: dataset[key] for key in provenance.LENS_PATHS})
    manifest.write_text(json.dumps(older))
    result = _survey(one_lens)
    assert result.exit_code == 0 and "1 ok" in result.output, result.output
    masked = {**config, "dataset": {**dataset, "mask_path": "mask.fits"}}
    result = _survey(one_lens, _written(one_lens["tmp"] / "masked.yaml", masked))
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "another template" in text and "dataset.mask_path: null ->" in text, text


def test_a_survey_of_a_template_without_its_lens_files_runs_and_runs_again(one_lens):
    """A template that leaves out the lens files a survey sets for each lens, or gives a placeholder
    (data_path: null), passed the template check, but the survey then read the files a fit writes
    (fit_output_names, to set aside a lens's earlier result) from the template as a config, which
    has none: refused for 'dataset.data_path' after writing survey.json, on the first run as on
    each rerun. They are now read as a lens's."""
    config = yaml.safe_load(one_lens["template"].read_text())
    dataset = {k: v for k, v in config["dataset"].items() if k != "noise_path"}
    template = _written(one_lens["tmp"] / "placeholders.yaml", {**config, "dataset": {**dataset, "data_path": None}})
    assert resume.fit_output_names(runner.load_template(template)) == resume.fit_output_names(config)
    result = _survey(one_lens, template)  # run again: lens_a kept
    assert result.exit_code == 0 and "1 ok" in result.output, result.output
    out = one_lens["tmp"] / "fresh"
    with mock.patch.object(runner, "_fit_lenses") as fitted, mock.patch.object(runner, "dask_client"):
        runner.run_survey(one_lens["lenses"], template, out, workers=1, progress=False)
    assert [lens.lens_id for lens in fitted.call_args.args[0]] == ["lens_a"]


def test_a_survey_resumed_in_another_precision_is_refused(one_lens, monkeypatch):
    """Begun in float32 and resumed in float64, a survey would keep its float32 lenses beside
    new float64 ones: refused as another template is, unless --reuse-finished."""
    from tinylens import precision

    monkeypatch.setattr(precision, "_PRECISION", "float64")  # as set_precision, without turning JAX's x64 on
    result = _survey(one_lens)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "were computed in float32 precision, not float64" in text and "--reuse-finished" in text
    assert not (one_lens["out"] / "catalog.csv").exists()  # nothing written
    # a survey.json from before the precision was recorded: float32's, as every survey then
    manifest = one_lens["out"] / provenance.MANIFEST_FILE
    _drop_precision(manifest)
    assert _survey(one_lens).exit_code == 2
    result = _survey(one_lens, None, None, "--reuse-finished")
    assert result.exit_code == 0 and "1 ok" in result.output, result.output
    assert json.loads(manifest.read_text())["precision"] == "float64"
    monkeypatch.setattr(precision, "_PRECISION", "float32")
    assert _survey(one_lens).exit_code == 2  # now recorded float64
    _drop_precision(manifest)
    assert _survey(one_lens).exit_code == 0  # unrecorded, resumed in float32


def test_an_older_survey_json_takes_the_precision_its_fits_record(one_lens, monkeypatch):
    """A survey.json from before the precision was recorded, of a survey whose workers fitted in
    float64 (TINYLENS_PRECISION=float64 in their environment): resumed in float64 it is not refused
    as float32's, and resumed in float32 it is."""
    from tinylens import precision

    manifest = one_lens["out"] / provenance.MANIFEST_FILE
    _drop_precision(manifest)
    _drop_precision(one_lens["out"] / "lenses" / "lens_a" / filenames.INPUTS)  # as old as survey.json
    result_path = next((one_lens["out"] / "lenses").glob("*/result.json"))
    result_path.write_text(json.dumps({**RESULT, "info": {"precision": "float64"}}))
    monkeypatch.setattr(precision, "_PRECISION", "float32")
    result = _survey(one_lens)
    assert result.exit_code == 2 and "float64 precision, not float32" in " ".join(result.output.split()), result.output
    monkeypatch.setattr(precision, "_PRECISION", "float64")  # as set_precision, without turning JAX's x64 on
    result = _survey(one_lens)
    assert result.exit_code == 0 and "1 ok" in result.output, result.output


def test_a_lens_kept_in_another_precision_is_not_reused_by_a_later_run(one_lens, monkeypatch):
    """Fitted in float32 and kept by a float64 run with --reuse-finished, which recorded float64 in
    survey.json: the next float64 run took lens_a for one of its own, silently (inputs.json said
    nothing of the precision). Refused as survey.json's precision is, naming the lens."""
    from tinylens import precision

    monkeypatch.setattr(precision, "_PRECISION", "float64")  # as set_precision, without turning JAX's x64 on
    assert _survey(one_lens, None, None, "--reuse-finished").exit_code == 0
    result = _survey(one_lens)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "were computed in float32 precision, not float64" in text and "the inputs.json of lens_a" in text
    assert "--reuse-finished" in text
    assert _survey(one_lens, None, None, "--reuse-finished").exit_code == 0
    _drop_precision(one_lens["out"] / "lenses" / "lens_a" / filenames.INPUTS)  # stamped before it was recorded
    assert _survey(one_lens).exit_code == 0


def test_a_lens_whose_data_changed_is_fitted_again(one_lens):
    """The lens's image replaced (here by a broken file, so that its new fit fails at once):
    the survey says so, fits it again, and keeps the earlier result aside."""
    folder = one_lens["out"] / "lenses" / "lens_a"
    for name in ("result_summary.csv", "model_results.png"):  # the earlier fit's tables and figures
        (folder / name).write_text("the earlier fit's")
    (one_lens["lenses"] / "lens_a" / "image.fits").write_bytes(b"not a FITS file" * 200)
    result = _survey(one_lens)
    text = " ".join(result.output.split())
    assert "1 lens changed since its fit started: lens_a (image). It is fitted again" in text, result.output
    catalog = pd.read_csv(one_lens["out"] / "catalog.csv")
    assert catalog["status"].tolist() == ["failed"] and "image.fits" in catalog["reason"][0]
    assert json.loads((folder / "result.previous.json").read_text()) == RESULT
    assert not (folder / "result.json").exists()
    # nothing of the earlier fit beside the failed row looks like its result
    assert not (folder / "result_summary.csv").exists() and not (folder / "model_results.png").exists()
    assert (folder / "result_summary.previous.csv").read_text() == "the earlier fit's"
    assert (folder / "model_results.previous.png").exists()
    # the new stamp is the new file's: a third run changes nothing
    result = _survey(one_lens)
    assert "changed since" not in result.output and "1 failed" in result.output


def test_stamps_are_added_to_a_survey_made_before_they_were_kept(one_lens):
    stamp = one_lens["out"] / "lenses" / "lens_a" / filenames.INPUTS
    stamp.unlink()
    (one_lens["out"] / "survey.json").unlink()
    assert _survey(one_lens).exit_code == 0
    assert json.loads(stamp.read_text())["data_path"]["size"] > 0
    assert json.loads((one_lens["out"] / "survey.json").read_text())["lens_dir"] == str(one_lens["lenses"].resolve())


def test_a_hand_edited_inputs_json_of_the_wrong_types_is_taken_as_an_unreadable_one(one_lens, tmp_path):
    """An inputs.json edited by hand into valid JSON of the wrong types ({"data_path": "x"}) made
    a rerun of the survey crash with an AttributeError traceback; it is now read as no stamp, as one
    that is not JSON is: the survey goes on, the lens kept (and stamped afresh) as one fitted before
    stamps were kept, and a task finding its result.json without a row fits it again, not knowing
    what it was made from."""
    stamp = one_lens["out"] / "lenses" / "lens_a" / filenames.INPUTS
    good = json.loads(stamp.read_text())
    lens = runner.find_lenses(one_lens["lenses"])[0]
    config = runner.lens_config(runner.load_template(one_lens["template"]), lens, one_lens["out"])
    edited = [{"data_path": "x"}, {**good, "psf_path": ["x"]}, {**good, "precision": 64}, {**good, "image": {}}, [good]]
    for content in [*edited, "not JSON"]:
        stamp.write_text(content if isinstance(content, str) else json.dumps(content))
        # a worker's task, whose lens's result.json lacks its row, takes it for no fit of its own
        assert resume.adoptable_row("lens_a", stamp.parent, config, get_precision()) is None, content
        result = _survey(one_lens)
        assert result.exit_code == 0 and "Traceback" not in result.output, (content, result.output)
        assert "1 ok" in result.output and "changed since" not in result.output, (content, result.output)
        assert provenance.read_stamp(stamp) == provenance.inputs_stamp(config), content  # stamped afresh
    stamp.write_text(json.dumps(good))
    assert provenance.read_stamp(stamp) == good
    assert provenance.read_stamp(tmp_path / "missing.json") is None


@pytest.mark.parametrize("content", [None, "not JSON", '{"data_path": "x"}'])
def test_a_kept_lens_with_an_unreadable_inputs_json_is_stamped_afresh_as_one_without(one_lens, content):
    """A lens whose inputs.json could not be read (not JSON, or edited by hand) was kept as one fitted
    before stamps were kept, but not stamped as such a lens is, since the file was there: every later
    run read no stamp again, and a change to that lens's image was never noticed, its old result
    kept. It is now stamped afresh when kept, as a lens with no inputs.json at all, so that a change
    to its files since is found and the lens fitted again."""
    stamp = one_lens["out"] / "lenses" / "lens_a" / filenames.INPUTS
    if content is None:
        stamp.unlink()
    else:
        stamp.write_text(content)
    assert provenance.read_stamp(stamp) is None
    result = _survey(one_lens)
    assert result.exit_code == 0 and "1 ok" in result.output and "changed since" not in result.output, result.output
    lens = runner.find_lenses(one_lens["lenses"])[0]
    template = runner.load_template(one_lens["template"])
    assert provenance.read_stamp(stamp) == provenance.inputs_stamp(runner.lens_config(template, lens, one_lens["out"]))
    image = one_lens["lenses"] / "lens_a" / "image.fits"
    image.write_bytes(image.read_bytes()[::-1])  # the same size, other content
    assert runner.changed_lenses([lens], template, one_lens["out"]) == {"lens_a": ["data_path"]}


def test_a_lens_whose_mask_was_read_the_other_way_round_is_fitted_again(tmp_path):
    """A lens finished before mask files were read as TinyLensGpu reads them (0 = used; before,
    non-zero = used) was fitted with its mask inverted; its stamp, with the same file bytes, made a
    rerun reuse that result. Its stamp records no reading, so its mask now counts as changed."""
    folder = _files(tmp_path / "a")
    stamp = provenance.inputs_stamp(_config(folder, mask=True))
    assert stamp["mask_path"]["read_as"] == provenance.MASK_READ_AS
    assert provenance.changed_inputs(stamp, _config(folder, mask=True)) == []
    before = {**stamp, "mask_path": {k: v for k, v in stamp["mask_path"].items() if k != "read_as"}}
    assert provenance.changed_inputs(before, _config(folder, mask=True)) == ["mask_path"]


def _fitted_before_stamps(tmp_path, mock_survey):
    """The lens folders and survey output of lens_a and lens_c (with a mask.fits), both finished,
    their inputs.json stamps removed, as a survey from before stamps were kept left them."""
    lenses = tmp_path / "lenses"
    for name in ("lens_a", "lens_c"):
        shutil.copytree(mock_survey["lenses"] / name, lenses / name)
    out = tmp_path / "out"
    _finished(lenses, mock_survey["template"], out, ["lens_a", "lens_c"])
    for name in ("lens_a", "lens_c"):
        (out / "lenses" / name / filenames.INPUTS).unlink()
    return lenses, out


def test_a_masked_lens_fitted_before_stamps_were_kept_is_fitted_again(tmp_path, mock_survey):
    """A lens fitted before stamps were kept was fitted with its mask read the other way round
    (non-zero = used), yet the rerun stamped it as read '0 = used' and kept its result; its mask
    now counts as changed. A lens without a mask is kept, as before."""
    lenses, out = _fitted_before_stamps(tmp_path, mock_survey)
    found = runner.find_lenses(lenses)
    assert runner.changed_lenses(found, runner.load_template(mock_survey["template"]), out) == {"lens_c": ["mask_path"]}


def test_a_masked_lens_fitted_before_stamps_stays_changed_through_a_run_of_other_lenses(tmp_path, mock_survey):
    """A run with --only other lenses stamped every lens fitted before stamps were kept, the one
    whose mask was then read the other way round too, as read '0 = used': its result was kept
    for good, as if its mask had never changed. It stays unstamped, and is fitted again once
    it is chosen; the others are stamped as before."""
    lenses, out = _fitted_before_stamps(tmp_path, mock_survey)
    runner.run_survey(lenses, mock_survey["template"], out, progress=False, only=["lens_a"])  # nothing to fit
    assert (out / "lenses" / "lens_a" / filenames.INPUTS).exists()
    found = runner.find_lenses(lenses)
    assert runner.changed_lenses(found, runner.load_template(mock_survey["template"]), out) == {"lens_c": ["mask_path"]}


def test_a_survey_lens_reads_each_input_file_once_for_its_two_stamps(tmp_path, mock_survey, monkeypatch):
    """A survey's task stamps a lens's files for inputs.json and its fit stamps them again for
    result.json's info.inputs: each file was hashed twice, a survey of large images reading all
    its data twice more than the fit does. Each is hashed once, and both stamps hold its SHA-256."""
    import hashlib

    folder = tmp_path / "lenses" / "lens_c"
    shutil.copytree(mock_survey["lenses"] / "lens_c", folder)  # with a mask: four files
    template = runner.load_template(mock_survey["template"])
    template["inference"] = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}
    config = runner.lens_config(template, runner.Lens("lens_c", folder), tmp_path / "out")
    hashed = []
    sha256 = provenance.file_sha256
    monkeypatch.setattr(provenance, "file_sha256", lambda path: hashed.append(Path(path).name) or sha256(path))
    out = tmp_path / "out" / "lenses" / "lens_c"
    assert runner.fit_lens("lens_c", config, str(out))["status"] == "ok"
    names = ["image.fits", "noise.fits", "psf.fits", "mask.fits"]
    assert sorted(hashed) == sorted(names)
    truth = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in names}
    stamps = [json.loads((out / filenames.INPUTS).read_text()),
              json.loads((out / filenames.RESULT).read_text())["info"][provenance.FIT_INPUTS_KEY]]
    for stamp in stamps:
        assert {Path(config["dataset"][key]).name: stamp[key]["sha256"] for key in provenance.INPUT_KEYS} == truth


def test_a_file_rewritten_since_it_was_stamped_is_hashed_again(tmp_path, monkeypatch):
    """The digests kept are of the files as they were: one rewritten in place with content of the
    same size and its old modification time (cp -p, rsync -t) is read again, as is one replaced."""
    import time

    path = tmp_path / "image.fits"
    path.write_bytes(b"a" * 100)
    first = provenance.file_stamp(path)
    hashed = []
    sha256 = provenance.file_sha256
    monkeypatch.setattr(provenance, "file_sha256", lambda p: hashed.append(p) or sha256(p))
    assert provenance.file_stamp(path) == first and hashed == []  # as it was: not read again
    time.sleep(0.05)  # past the coarse clock that stamps a file's times
    path.write_bytes(b"b" * 100)
    os.utime(path, ns=(first["mtime_ns"], first["mtime_ns"]))
    again = provenance.file_stamp(path)
    assert again == {**first, "sha256": hashlib_hex(b"b" * 100)} and len(hashed) == 1
    replacement = tmp_path / "new.fits"
    replacement.write_bytes(b"c" * 100)
    os.utime(replacement, ns=(first["mtime_ns"], first["mtime_ns"]))
    replacement.replace(path)
    assert provenance.file_stamp(path)["sha256"] == hashlib_hex(b"c" * 100) and len(hashed) == 2


def hashlib_hex(content: bytes) -> str:
    """The SHA-256 of ``content``, computed here (the truth the stamps are checked against)."""
    import hashlib

    return hashlib.sha256(content).hexdigest()


@contextlib.contextmanager
def _threaded_cluster(*args):
    """A local cluster of one worker thread in this process, for :func:`runner.dask_client`."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def _budget_survey(tmp_path: Path, mock_survey, monkeypatch) -> tuple[Path, Path, Path, dict]:
    """A survey of lens_a alone, fitted in this process by one worker thread (:func:`_threaded_cluster`),
    and its template's config: the sampler alone, quickly, stopped by n_like_max 300. Returns the lenses
    folder, the survey's --out, the template's path (not written yet) and the config."""
    from survey_mocks import template_config

    monkeypatch.setattr(runner, "dask_client", _threaded_cluster)
    lenses = tmp_path / "lenses"
    shutil.copytree(mock_survey["lenses"] / "lens_a", lenses / "lens_a")
    out, template = tmp_path / "out", tmp_path / "template.yaml"
    config = template_config()
    config["pipeline"], config["output"]["draw_figures"] = {"enabled": False}, "none"  # the sampler alone, quickly
    config["inference"]["settings"].update(seed=1, n_like_max=300)
    return lenses, out, template, config


def test_a_survey_continued_with_a_raised_n_like_max_fits_its_stopped_lenses_further(tmp_path, mock_survey,
                                                                                       monkeypatch):
    """A survey stopped by its template's n_like_max could not be continued with it raised on the
    same --out: refused as made 'with another template', where 'tinylens fit' run again continues.
    The sampler's budget (n_like_max, timeout) is no longer part of the template: the rerun fits
    the lens that its old budget stopped further (from its checkpoint), and a lens that then
    converged is kept by a later run with the budget raised again; another setting still counts."""
    lenses, out, template, config = _budget_survey(tmp_path, mock_survey, monkeypatch)

    def survey(**settings):
        config["inference"]["settings"].update(settings)
        template.write_text(yaml.safe_dump(config, sort_keys=False))
        runner.run_survey(lenses, template, out, workers=1, progress=False)
        return json.loads((out / "lenses" / "lens_a" / "result.json").read_text())

    stopped = survey()
    assert stopped["converged"] is False and stopped["n_likelihood_evals"] >= 300
    assert "unconverged" in runner.read_rows(out)["lens_a"]["flags"]
    further = survey(n_like_max=1_000_000)
    assert further["converged"] is True and further["info"]["resumed"] is True, further["info"]
    assert further["n_likelihood_evals"] > stopped["n_likelihood_evals"]
    assert "unconverged" not in runner.read_rows(out)["lens_a"]["flags"]
    kept = (out / "lenses" / "lens_a" / "result.json").read_bytes()
    survey(n_like_max=2_000_000, timeout=3600.0)  # converged: kept, not fitted again
    assert (out / "lenses" / "lens_a" / "result.json").read_bytes() == kept
    with pytest.raises(ConfigError, match="another template"):
        survey(n_eff=300)


def test_the_dry_run_says_that_a_stopped_lens_without_its_row_is_fitted_further(tmp_path, mock_survey, monkeypatch):
    """A lens stopped by the template's n_like_max whose row was never written (its survey killed
    after its result.json) is fitted further by a run with the budget raised (its row rebuilt, then
    set aside), but the dry run listed it among the rows rebuilt from result.json, with no fit; it
    is now among the lenses to fit (resumed from its checkpoint), as with its row there."""
    lenses, out, template, config = _budget_survey(tmp_path, mock_survey, monkeypatch)
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    runner.run_survey(lenses, template, out, workers=1, progress=False)
    assert "unconverged" in runner.read_rows(out)["lens_a"]["flags"]
    config["inference"]["settings"]["n_like_max"] = 1_000_000
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    with_row = runner.survey_plan(lenses, template, out, check=False)
    (out / "lenses" / "lens_a" / filenames.ROW).unlink()  # as a survey killed before it wrote the row
    without_row = runner.survey_plan(lenses, template, out, check=False)
    for found in (with_row, without_row):
        assert found["to_fit"]["resume"] == ["lens_a"] and found["recover"] == [] and found["ok"] == [], found


def _stopped_fit(mock_survey, out: Path, settings: dict, calls: int | None,
                 lens_id: str = "lens_a") -> tuple[runner.Lens, dict]:
    """``lens_id`` in ``out`` as a survey leaves a nautilus fit that ``settings`` (its n_like_max and
    timeout) stopped after ``calls`` likelihood calls (None: not recorded): its result.json and its
    ok row flagged unconverged. Returns the lens and its row."""
    lens = {x.lens_id: x for x in runner.find_lenses(mock_survey["lenses"])}[lens_id]
    template = runner.load_template(mock_survey["template"])
    template["inference"]["settings"].update(settings)
    folder = lens.output(out)
    folder.mkdir(parents=True)
    run = {} if calls is None else {"n_likelihood_evals": calls}
    result = {**RESULT, "method": "nautilus", "converged": False, "n_likelihood_evals": calls or 0,
              "config": resume.fitted_config(runner.lens_config(template, lens, out)),
              "info": {"settings": dict(template["inference"]["settings"]),
                       "pipeline": {"sampler_converged": False, "sampling_runs": [run]}}}
    write_json(folder / filenames.RESULT, result)
    row = {**survey_rows.flat_row(lens_id, RESULT), "flags": "unconverged"}
    return lens, row


#: (the limit that stopped a fit, the template's budget, the likelihood calls recorded) for :func:`_stopped_fit`.
STOPPED_FITS = [
    ("n_like_max", {"n_like_max": 300, "timeout": 3600.0}, 300),
    ("timeout", {"n_like_max": 1_000_000, "timeout": 60.0}, 500),
    (None, {"n_like_max": 300, "timeout": 3600.0}, None),  # which one stopped it is not recorded
]


@pytest.mark.parametrize("stopped_by, settings, calls", STOPPED_FITS)
def test_a_stopped_lens_is_fitted_further_only_where_the_limit_that_stopped_it_is_raised(
        tmp_path, mock_survey, stopped_by, settings, calls):
    """nautilus counts n_like_max over all the runs of a fit, so a lens it stopped, fitted again
    with only the timeout raised, stops at once: a load and compilation for nothing; a lens the
    timeout stopped is not helped by a raised n_like_max. Only the limit that stopped the fit
    (fit.stopping_limit) counts where that is known; where it is not, either does."""
    lens, row = _stopped_fit(mock_survey, tmp_path / "out", settings, calls)
    template = runner.load_template(mock_survey["template"])
    for changed in ("n_like_max", "timeout"):
        template["inference"]["settings"].update(settings, **{changed: settings[changed] * 2})
        further = runner.plan([lens], {"lens_a": row}, tmp_path / "out", template=template) == [lens]
        assert further is (stopped_by in (None, changed)), changed
    template["inference"]["settings"].update(settings)
    assert runner.plan([lens], {"lens_a": row}, tmp_path / "out", template=template) == []


@pytest.mark.parametrize("stopped_by, settings, calls", STOPPED_FITS)
def test_a_stopped_lens_is_fitted_further_only_where_the_limit_is_raised_or_removed_not_lowered(
        tmp_path, mock_survey, stopped_by, settings, calls):
    """A lowered limit counted as another budget: a lens n_like_max 300 stopped was fitted further
    under 200, where nautilus stops at once (a load and compilation for nothing). A lens is fitted
    further only where the limit that stopped it (either, where that is not recorded) is raised or
    removed (None, or .inf: a result.json's null)."""
    lens, row = _stopped_fit(mock_survey, tmp_path / "out", settings, calls)
    template = runner.load_template(mock_survey["template"])
    def halved(name: str) -> int | float:
        return type(settings[name])(settings[name] / 2)

    for name in (stopped_by,) if stopped_by else ("n_like_max", "timeout"):
        for value, further in ((halved(name), False), (settings[name] * 2, True), (None, True), (float("inf"), True)):
            template["inference"]["settings"].update(settings, **{name: value})
            planned = runner.plan([lens], {"lens_a": row}, tmp_path / "out", template=template)
            assert (planned == [lens]) is further, (name, value)
    template["inference"]["settings"].update(n_like_max=halved("n_like_max"), timeout=halved("timeout"))
    assert runner.plan([lens], {"lens_a": row}, tmp_path / "out", template=template) == []


@pytest.mark.parametrize("runs", [{"0": {"n_likelihood_evals": 300}}, 300, [[300]], [{"n_likelihood_evals": 10**400}]])
def test_a_stopped_lens_whose_result_records_its_runs_damaged_is_planned_not_a_crash(tmp_path, mock_survey, runs):
    """fit.stopping_limit took a result.json's info.pipeline.sampling_runs for a list of objects:
    edited or damaged into an object or a number, it raised a bare KeyError or TypeError out of the
    survey's plan, before any lens was fitted, as did a count of calls beyond a float's range
    (numpy's isfinite of a 400-digit integer). Such a file says not which limit stopped the fit,
    so either, raised, fits it further, as where that is not recorded; the same budget none."""
    settings = {"n_like_max": 300, "timeout": 3600.0}
    lens, row = _stopped_fit(mock_survey, tmp_path / "out", settings, 300)
    result_file = lens.output(tmp_path / "out") / filenames.RESULT
    result = json.loads(result_file.read_text())
    result["info"]["pipeline"]["sampling_runs"] = runs
    write_json(result_file, result)
    template = runner.load_template(mock_survey["template"])
    for changed in ("n_like_max", "timeout"):
        template["inference"]["settings"].update(settings, **{changed: settings[changed] * 2})
        assert runner.plan([lens], {"lens_a": row}, tmp_path / "out", template=template) == [lens], changed
    template["inference"]["settings"].update(settings)
    assert runner.plan([lens], {"lens_a": row}, tmp_path / "out", template=template) == []


def _write_budget_stopped_pair(mock_survey, out, settings) -> dict:
    """The rows, written under the survey folder ``out`` as their fits write them, of lens_a stopped
    by ``settings``' n_like_max (300 calls) and lens_b by its timeout (100 calls), by lens id."""
    rows = {"lens_a": _stopped_fit(mock_survey, out, settings, 300, "lens_a")[1],
            "lens_b": _stopped_fit(mock_survey, out, settings, 100, "lens_b")[1]}  # the timeout stopped lens_b
    for lens_id, row in rows.items():
        runner.write_row(out / "lenses" / lens_id, row)
    return rows


def test_the_budget_stopped_lenses_of_a_tinylensgpu_sampling_template_are_told_its_limits_as_written(tmp_path,
                                                                                                      mock_survey):
    """A survey whose template writes TinyLensGpu's older ``sampling:`` section (read as inference:
    {type: sampler, method: its sampler, settings: its other keys}), whose n_like_max and timeout
    stopped 2 lenses, ended telling the user to 'raise or remove the limit that stopped each
    (inference.settings.n_like_max, inference.settings.timeout) in the template', keys the template
    does not hold; it names sampling.n_like_max and sampling.timeout now, the keys written (exit 0)."""
    out = tmp_path / "out"
    settings = {"n_like_max": 300, "timeout": 3600.0}
    _write_budget_stopped_pair(mock_survey, out, settings)
    template = tmp_path / "template.yaml"
    config = runner.load_template(mock_survey["template"])
    inference = config.pop("inference")
    config["sampling"] = {"sampler": inference["method"], **inference["settings"], **settings}
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    written = yaml.safe_load(template.read_text())
    assert "inference" not in written and written["sampling"]["n_like_max"] == 300  # the keys the template holds
    args = ["survey", str(mock_survey["lenses"]), "-c", str(template), "--out", str(out), "-q", "--only"]
    with mock.patch.object(runner, "_fit_lenses"):
        result = CliRunner().invoke(app, [*args, "lens_a,lens_b"])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    text = " ".join(result.output.split())
    assert ("2 lenses stopped by the sampler's budget before converging (1 by n_like_max, 1 by timeout): to fit them "
            "further from their checkpoints, raise or remove the limit that stopped each "
            "(sampling.n_like_max, sampling.timeout) in the template ") in text, text
    assert "inference.settings" not in text, text


def test_the_survey_ends_naming_the_lenses_its_budget_stopped_and_how_to_fit_them_further(tmp_path, mock_survey):
    """A survey whose n_like_max or timeout stopped lenses ended with only '2 lenses: 2 ok (0
    trusted)', nothing saying that raising the limit in the template and running the same command
    again fits them further; it now says how many the budget stopped, by limit, and what to do.
    A lens unconverged for another reason (dynesty's maxcall, part of the template) is not counted."""
    from rich.text import Text

    from tinylens.cli.survey import budget_stopped_text

    out = tmp_path / "out"
    settings = {"n_like_max": 300, "timeout": 3600.0}
    rows = _write_budget_stopped_pair(mock_survey, out, settings)
    template = tmp_path / "template.yaml"
    config = runner.load_template(mock_survey["template"])
    config["inference"]["settings"].update(settings)  # the same budget: nothing fitted further
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    args = ["survey", str(mock_survey["lenses"]), "-c", str(template), "--out", str(out), "-q", "--only"]
    with mock.patch.object(runner, "_fit_lenses") as fitted:
        result = CliRunner().invoke(app, [*args, "lens_a,lens_b"])
    assert result.exit_code == 0 and not fitted.called, result.output
    text = " ".join(result.output.split())
    assert ("2 lenses stopped by the sampler's budget before converging (1 by n_like_max, 1 by timeout): to fit them "
            "further from their checkpoints, raise or remove the limit that stopped each "
            "(inference.settings.n_like_max, inference.settings.timeout) in the template ") in text, text
    assert text.endswith(" and run the same command again."), text
    one = Text.from_markup(budget_stopped_text({"lens_a": "n_like_max"}, template)).plain
    assert one.startswith("1 lens stopped by the sampler's budget before converging (1 by n_like_max): to fit it "
                          "further from its checkpoint, raise or remove inference.settings.n_like_max in the "
                          "template "), one
    # a count beside the limit's name read as its value: a template of n_like_max 3000 whose 3 lenses its
    # cap stopped was told "(n_like_max: 3)"
    three = Text.from_markup(budget_stopped_text(dict.fromkeys(["a", "b", "c"], "n_like_max"), template)).plain
    assert three.startswith("3 lenses stopped by the sampler's budget before converging (3 by n_like_max): "), three
    assert "n_like_max: 3" not in three, three
    unknown = Text.from_markup(budget_stopped_text({"lens_a": None}, template)).plain
    assert "(1 with the limit not recorded)" in unknown and "(inference.settings.n_like_max, inference.settings.timeout)" in unknown
    dynesty = out / "lenses" / "lens_x"
    dynesty.mkdir()
    write_json(dynesty / filenames.RESULT, {**RESULT, "method": "dynesty", "converged": False,
                                            "info": {"stopped_by": "maxcall"}})
    others = [{**survey_rows.flat_row("lens_x", RESULT), "flags": "unconverged"}, survey_rows.flat_row("lens_y", RESULT)]
    assert resume.budget_stopped([*rows.values(), *others], out) == {"lens_a": "n_like_max", "lens_b": "timeout"}
    with mock.patch.object(runner, "_fit_lenses") as fitted:  # --only lens_b, its flag gone: converged since
        runner.write_row(out / "lenses" / "lens_b", {**rows["lens_b"], "flags": ""})
        result = CliRunner().invoke(app, [*args, "lens_b"])
    assert result.exit_code == 0 and not fitted.called and "budget" not in result.output, result.output


def test_the_closing_line_counts_apart_the_stopped_lenses_a_raised_limit_does_not_fit_further(tmp_path, mock_survey):
    """The survey's closing line counted every lens its budget stopped as one that raising the
    limit fits further, those kept by --reuse-finished from fits of other settings (nlive) too,
    which the rerun keeps as they are (plan: only a fit of the template's settings is fitted
    further); it now counts only those the rerun fits further, and says the others apart."""
    from rich.text import Text

    from tinylens.cli.survey import budget_stopped_text

    out, settings = tmp_path / "out", {"n_like_max": 300}
    lens_a, row_a = _stopped_fit(mock_survey, out, settings, 300, "lens_a")
    lens_b, row_b = _stopped_fit(mock_survey, out, {**settings, "nlive": 60}, 300, "lens_b")  # another template's
    for lens, row in ((lens_a, row_a), (lens_b, row_b)):
        runner.write_row(lens.output(out), row)
    config = runner.load_template(mock_survey["template"])
    config["inference"]["settings"].update(settings)
    raised = {**config, "inference": {**config["inference"], "settings": {**config["inference"]["settings"],
                                                                          "n_like_max": 3000}}}
    rows = {"lens_a": row_a, "lens_b": row_b}
    assert runner.plan([lens_a, lens_b], rows, out, template=raised) == [lens_a]  # the truth: what a rerun fits further
    assert resume.budget_stopped(list(rows.values()), out) == {"lens_a": "n_like_max", "lens_b": "n_like_max"}
    assert resume.budget_stopped(list(rows.values()), out, config, mock_survey["lenses"]) == {"lens_a": "n_like_max"}
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    args = ["survey", str(mock_survey["lenses"]), "-c", str(template), "--out", str(out), "-q", "--reuse-finished",
            "--only", "lens_a,lens_b"]
    with mock.patch.object(runner, "_fit_lenses") as fitted:
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0 and not fitted.called, result.output
    text = " ".join(result.output.split())
    assert "1 lens stopped by the sampler's budget before converging (1 by n_like_max): to fit it further" in text, text
    assert ("1 lens kept by --reuse-finished from fits of other settings than the template's (or of another "
            "precision) was stopped by the sampler's budget too: a raised limit does not fit it further.") in text, text
    alone = Text.from_markup(budget_stopped_text({}, template, 2)).plain
    assert alone == ("2 lenses kept by --reuse-finished from fits of other settings than the template's (or of "
                     "another precision) were stopped by the sampler's budget: a raised limit does not fit them "
                     "further.")  # no 'too': none other named


def test_the_closing_lines_read_each_stopped_lens_result_once_and_say_what_they_said(tmp_path, mock_survey, capsys):
    """_print_summary called budget_stopped twice, without the template and with it, so each
    unconverged lens's result.json was read and parsed twice; it is now read once (stopped_results,
    then stopping_limits without and with the template), and the lines after a mixed survey (two
    lenses stopped under the template's settings, by n_like_max and by timeout, one kept by
    --reuse-finished from other settings, one dynesty fit unconverged, one ok, one failed) are
    those written out here, as before."""
    from tinylens.cli.survey import _print_summary

    out, lens_dir = tmp_path / "out", mock_survey["lenses"]
    rows = {"lens_a": _stopped_fit(mock_survey, out, {"n_like_max": 300}, 300, "lens_a")[1],
            "lens_b": _stopped_fit(mock_survey, out, {"n_like_max": 1_000_000, "timeout": 60.0}, 500, "lens_b")[1],
            "lens_c": _stopped_fit(mock_survey, out, {"n_like_max": 300, "nlive": 60}, 300, "lens_c")[1],
            "lens_x": {**survey_rows.flat_row("lens_x", RESULT), "flags": "unconverged"},
            "lens_y": survey_rows.flat_row("lens_y", RESULT),
            "lens_bad": runner.failed_row("lens_bad", "ValueError: broken")}
    (out / "lenses" / "lens_x").mkdir()
    write_json(out / "lenses" / "lens_x" / filenames.RESULT, {**RESULT, "method": "dynesty", "converged": False,
                                                              "info": {"stopped_by": "maxcall"}})
    config = runner.load_template(mock_survey["template"])
    config["inference"]["settings"]["n_like_max"] = 300
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(config, sort_keys=False))
    results = out / "lenses"
    with mock.patch.object(resume, "read_result_object", wraps=resume.read_result_object) as read:
        _print_summary(catalog.catalog_frame(rows), out, 1.0, False, None, template, lens_dir)
    reads = [Path(call.args[0]) for call in read.call_args_list if Path(call.args[0]).name == filenames.RESULT]
    assert sorted(reads) == sorted(results / name / filenames.RESULT for name in ("lens_a", "lens_b", "lens_c", "lens_x"))
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert lines[0].startswith("6 lenses: 5 ok"), lines
    assert lines[1] == (
        "2 lenses stopped by the sampler's budget before converging (1 by n_like_max, 1 by timeout): to fit them further "
        "from their checkpoints, raise or remove the limit that stopped each (inference.settings.n_like_max, "
        f"inference.settings.timeout) in the template {template} and run the same command again. 1 lens kept by "
        "--reuse-finished from fits of other settings than the template's (or of another precision) was stopped by the "
        "sampler's budget too: a raised limit does not fit it further."), lines
    assert lines[2].startswith("A failed lens is not fitted again when the survey is rerun unless you add "
                               "--retry-failed"), lines
    assert len(lines) == 3, lines


def test_a_stopped_lens_of_an_older_tinylens_whose_config_lacks_a_later_default_is_fitted_further(tmp_path, mock_survey):
    """A result.json written by an older tinylens records its config without the keys the schema
    added since (here pipeline.n_sigma and the quality block); compared as recorded, the lens its
    budget stopped was kept by a survey with the limit raised, not fitted further. The recorded
    config now counts as the fit reads it (validated, defaults filled): fitted further, while a
    template setting the missing key to another value than its default still is not."""
    out = tmp_path / "out"
    lens, row = _stopped_fit(mock_survey, out, {"n_like_max": 300}, 300)
    result_file = lens.output(out) / filenames.RESULT
    result = json.loads(result_file.read_text())
    assert result["config"]["pipeline"]["n_sigma"] == 10.0  # the default, as a fit records it now
    del result["config"]["pipeline"]["n_sigma"], result["config"]["quality"]
    write_json(result_file, result)
    template = runner.load_template(mock_survey["template"])
    template["inference"]["settings"]["n_like_max"] = 3000
    assert runner.plan([lens], {"lens_a": row}, out, template=template) == [lens]
    template["pipeline"] = {"n_sigma": 5.0}
    assert runner.plan([lens], {"lens_a": row}, out, template=template) == []


#: The stopped fits of :func:`_stopped_lenses`, by kind of lens: (it has its own mask.fits, its
#: result.json is an older tinylens's, lacking pipeline.n_sigma and the quality block, the nlive it was fitted with).
STOPPED_KINDS = {"plain": (False, False, 50), "masked": (True, False, 50), "older": (False, True, 50),
                 "older_masked": (True, True, 50), "other": (False, False, 60), "other_masked": (True, False, 60)}


def _stopped_lenses(lens_dir: Path, out: Path, template: dict, copies: int) -> tuple[list[runner.Lens], dict]:
    """``copies`` lenses of each of :data:`STOPPED_KINDS` in ``lens_dir`` (named ``<kind>_<i>``; their
    files placeholders: a plan reads only their names), each with a fit in ``out`` that n_like_max 300
    stopped, of ``template`` (nlive as its kind's). Returns the lenses and their rows."""
    lenses, rows = [], {}
    for kind, (masked, older, nlive) in STOPPED_KINDS.items():
        for i in range(copies):
            lens = runner.Lens(f"{kind}_{i}", lens_dir / f"{kind}_{i}")
            lens.folder.mkdir(parents=True)
            for name in ("image.fits", "noise.fits", "psf.fits", *(("mask.fits",) if masked else ())):
                (lens.folder / name).write_bytes(b"placeholder")
            fitted = json.loads(json.dumps(template))
            fitted["inference"]["settings"].update(n_like_max=300, nlive=nlive)
            config = resume.fitted_config(runner.lens_config(fitted, lens, out))
            if older:
                del config["pipeline"]["n_sigma"], config["quality"]
            lens.output(out).mkdir(parents=True)
            write_json(lens.output(out) / filenames.RESULT,
                       {**RESULT, "method": "nautilus", "converged": False, "n_likelihood_evals": 300, "config": config,
                        "info": {"settings": dict(fitted["inference"]["settings"]),
                                 "pipeline": {"sampler_converged": False, "sampling_runs": [{"n_likelihood_evals": 300}]}}})
            lenses.append(lens)
            rows[lens.lens_id] = {**survey_rows.flat_row(lens.lens_id, RESULT), "flags": "unconverged"}
    return lenses, rows


def test_a_survey_validates_its_template_once_not_for_each_stopped_lens_and_decides_as_for_each_alone(
        tmp_path, mock_survey):
    """plan validated the template with each stopped lens's files twice (fitted_config: about 5 ms
    a lens), and budget_stopped (the survey's closing lines) once more: 1.5 minutes for 10,000
    lenses. It is now validated once for the lenses alike but for their files' paths (a lens's own
    mask.fits, which replaces the template's mask_path, apart; so too each config older fits
    recorded), with each decision as that lens's alone: fitted further (or counted as stopped)
    where its fit is of the template's settings, an older tinylens's result.json lacking a later
    default included, and where the template's mask_path is not valid, only a lens with its own."""
    out, lens_dir = tmp_path / "out", tmp_path / "lenses"
    template = runner.load_template(mock_survey["template"])
    template["inference"]["settings"]["n_like_max"] = 300
    lenses, rows = _stopped_lenses(lens_dir, out, template, copies=3)
    bad_mask = json.loads(json.dumps(template))
    bad_mask["dataset"]["mask_path"] = 5  # not a path: valid only where a lens's own mask.fits replaces it
    ours = {"plain", "masked", "older", "older_masked"}
    for config, kinds in ((template, ours), (bad_mask, {"masked", "older_masked"})):
        raised = json.loads(json.dumps(config))
        raised["inference"]["settings"]["n_like_max"] = 3000
        alone = [lens for lens in lenses  # each lens on its own, nothing shared
                 if resume.stopped_by_another_budget(lens.output(out), runner.lens_config(raised, lens, out))]
        with mock.patch.object(resume, "fitted_config", wraps=resume.fitted_config) as validated:
            planned = runner.plan(lenses, rows, out, template=raised)
        assert planned == alone and {lens.lens_id.rsplit("_", 1)[0] for lens in planned} == kinds, planned
        assert validated.call_count <= len(STOPPED_KINDS), validated.call_count  # at most once a kind, not a lens
        alone = {lens.lens_id for lens in lenses  # the same budget: counted, not fitted further
                 if resume.same_settings(json.loads((lens.output(out) / filenames.RESULT).read_text()),
                                         runner.lens_config(config, lens, out))}
        with mock.patch.object(resume, "fitted_config", wraps=resume.fitted_config) as validated:
            stopped = resume.budget_stopped(list(rows.values()), out, config, lens_dir)
        assert set(stopped) == alone and {name.rsplit("_", 1)[0] for name in stopped} == kinds, stopped
        assert set(stopped.values()) == {"n_like_max"} and validated.call_count <= len(STOPPED_KINDS)


def test_a_lens_path_the_schema_refuses_is_not_validated_as_another_lens_path_is(tmp_path, mock_survey):
    """The survey's cache of the template's validation (resume.settings_of) shared it among the
    configs alike but for their lens's paths, as the schema takes any path text alike; but it
    refuses a path that is no UTF-8 (a lens folder named with a Latin-1 byte, read with a lone
    surrogate), so that config, validated on its own, is no valid config: its fit is not of the
    template's settings, and a raised budget does not fit it further. Shared with a lens of a plain
    name validated first, it was, whichever order the lenses came in; now it decides as alone."""
    out = tmp_path / "out"
    lens, _ = _stopped_fit(mock_survey, out, {"n_like_max": 300}, 300)
    folder = lens.output(out)
    template = runner.load_template(mock_survey["template"])
    template["inference"]["settings"]["n_like_max"] = 3000
    plain = runner.lens_config(template, lens, out)
    odd = json.loads(json.dumps(plain))
    odd["dataset"]["data_path"] = str(lens.folder / "image_\udce9.fits")
    assert resume.fitted_config(odd) is None  # the schema refuses it
    alone = [resume.stopped_by_another_budget(folder, config) for config in (plain, odd)]
    assert alone == [True, False]
    cache: dict = {}
    assert [resume.stopped_by_another_budget(folder, config, cache) for config in (plain, odd)] == alone
    result = json.loads((folder / filenames.RESULT).read_text())
    assert [resume.same_settings(result, config, cache) for config in (plain, odd)] == alone


def test_configs_alike_but_for_their_key_order_share_one_entry_of_the_settings_cache(tmp_path, mock_survey):
    """resume.frozen, the key of the survey's cache of a config's validation (settings_of), kept a
    mapping's keys in their order, so that the template with a lens's files (its YAML's order) and
    the same config with its keys in another order (as a fit's result.json may record it), equal
    as dicts, took two entries and were validated twice; they now share one, validated once, and
    configs that differ in a value still take two."""
    template = runner.load_template(mock_survey["template"])
    config = runner.lens_config(template, runner.find_lenses(mock_survey["lenses"])[0], tmp_path / "out")

    def reordered(value):
        return {k: reordered(value[k]) for k in reversed(list(value))} if isinstance(value, dict) else value

    turned = reordered(config)
    assert turned == config and list(turned) != list(config)
    assert resume.frozen(turned) == resume.frozen(config) and hash(resume.frozen(turned)) == hash(resume.frozen(config))
    cache: dict = {}
    with mock.patch.object(resume, "fitted_config", wraps=resume.fitted_config) as validated:
        assert resume.settings_of(config, "fitted", cache) == resume.settings_of(turned, "fitted", cache) is not None
    assert len(cache) == 1 and validated.call_count == 1
    other = json.loads(json.dumps(config))
    other["inference"]["settings"]["seed"] = 12345
    resume.settings_of(other, "fitted", cache)
    assert len(cache) == 2
    assert resume.frozen({"a": 1}) != resume.frozen({"a": 1.0}) != resume.frozen({"a": True})  # types still apart


def test_a_budget_limit_is_raised_where_it_grows_or_is_removed():
    """provenance.limit_raised against the cases written out: None and .inf are no limit."""
    inf = float("inf")
    for old, new in ((300, 600), (300, None), (300, inf), (60.0, 60.5)):
        assert provenance.limit_raised(old, new), (old, new)
    for old, new in ((300, 200), (300, 300), (None, 300), (inf, 300), (None, None), (None, inf)):
        assert not provenance.limit_raised(old, new), (old, new)


def test_a_stopped_lens_kept_by_reuse_finished_is_fitted_further_only_under_its_own_settings(tmp_path, mock_survey):
    """With --reuse-finished, a template that changed another setting (nlive) as well as the budget
    fitted each lens its old budget stopped again under the new settings, from scratch (its
    checkpoint another sampler's), though --reuse-finished keeps the finished lenses: a lens is
    fitted further only where its fit's config is the template's for it apart from the budget
    and what changes only speed or output, its lens folder and --out moved included."""
    out = tmp_path / "out"
    lens, row = _stopped_fit(mock_survey, out, {"n_like_max": 300}, 300)
    template = runner.load_template(mock_survey["template"])
    template["inference"]["settings"].update(n_like_max=1000, nlive=60)
    assert runner.plan([lens], {"lens_a": row}, out, template=template) == []
    moved_lens, moved_out = runner.Lens("lens_a", tmp_path / "moved" / "lens_a"), tmp_path / "moved_out"
    shutil.copytree(lens.folder, moved_lens.folder)
    shutil.copytree(out, moved_out)
    template["inference"]["settings"].update(nlive=50, checkpoint_every=5)
    template["output"]["draw_figures"] = "none"
    assert runner.plan([moved_lens], {"lens_a": row}, moved_out, template=template) == [moved_lens]


def test_a_stopped_lens_kept_by_reuse_finished_from_another_precision_is_kept_not_fitted_further(
        tmp_path, mock_survey, monkeypatch):
    """A lens its n_like_max stopped in float64, kept by a float32 run with --reuse-finished, was
    planned as fitted further under a raised n_like_max (the dry run counted it among the lenses
    to resume, the closing line among those a raised limit fits further), but its checkpoint's
    fingerprint holds the number type: its fit started afresh in float32. Such a lens (its
    inputs.json's precision, else its result.json's info.precision) is now kept as one of other
    settings is, and counted apart; one that records no precision is fitted further as before."""
    from tinylens import precision

    monkeypatch.setattr(precision, "_PRECISION", "float32")  # the survey's
    out = tmp_path / "out"
    lens, row = _stopped_fit(mock_survey, out, {"n_like_max": 300}, 300)
    runner.write_row(lens.output(out), row)
    config = runner.load_template(mock_survey["template"])
    config["inference"]["settings"]["n_like_max"] = 300
    raised = json.loads(json.dumps(config))
    raised["inference"]["settings"]["n_like_max"] = 3000
    template = tmp_path / "template.yaml"
    template.write_text(yaml.safe_dump(raised, sort_keys=False))
    inputs, result_path = lens.output(out) / filenames.INPUTS, lens.output(out) / filenames.RESULT
    stamp = provenance.inputs_stamp(runner.lens_config(raised, lens, out))
    unrecorded = json.loads(result_path.read_text())

    def decided() -> tuple[bool, dict, dict]:
        further = runner.plan([lens], {"lens_a": row}, out, template=raised) == [lens]
        stopped = resume.budget_stopped([row], out, config, mock_survey["lenses"])
        dry = runner.survey_plan(mock_survey["lenses"], template, out, reuse_finished=True, only=["lens_a"],
                                 check=False)
        return further, stopped, dry

    for recorded, info in (("float64", None), (None, "float64"), ("float64", "float64")):
        write_json(inputs, {**stamp, **({provenance.PRECISION_KEY: recorded} if recorded else {})})
        write_json(result_path, {**unrecorded, "info": {**unrecorded["info"], **({"precision": info} if info else {})}})
        further, stopped, dry = decided()
        assert not further and stopped == {}, (recorded, info)
        assert dry["ok"] == ["lens_a"] and not any(dry["to_fit"].values()), (recorded, info, dry)
    for recorded, info in (("float32", None), (None, "float32"), (None, None)):  # the survey's, or unrecorded
        write_json(inputs, {**stamp, **({provenance.PRECISION_KEY: recorded} if recorded else {})})
        write_json(result_path, {**unrecorded, "info": {**unrecorded["info"], **({"precision": info} if info else {})}})
        further, stopped, dry = decided()
        assert further and stopped == {"lens_a": "n_like_max"}, (recorded, info)
        assert dry["ok"] == [] and dry["to_fit"]["new"] == ["lens_a"], (recorded, info, dry)


def test_only_a_nautilus_fit_counts_as_stopped_by_the_budget_a_survey_may_raise():
    """stopped_by_budget took a dynesty fit that stopped short for one its budget stopped, naming
    maxcall and maxiter, but a survey's budget (BUDGET_SETTINGS) is nautilus's n_like_max and
    timeout alone: dynesty's are part of the template, and its fits are never fitted further."""
    stopped = {"converged": False, "info": {"pipeline": {"sampler_converged": False}}}
    assert resume.stopped_by_budget({**stopped, "method": "nautilus"})
    assert not resume.stopped_by_budget({**stopped, "method": "dynesty"})
    assert set(provenance.BUDGET_SETTINGS) == {"n_like_max", "timeout"}


@pytest.mark.parametrize("section, indent, fragment", [
    ("output:", "  ", "output.on: unknown key 'on' (YAML read the key on, unquoted, as true: write it in quotes, 'on',"),
    ("dataset:", "  ", "dataset.on: unknown key 'on' (YAML read the key on, unquoted, as true: "),
    ("  settings:", "    ", "inference.settings.on: a key here must be text (YAML read the key on, unquoted, as true: ")])
@pytest.mark.parametrize("finished", [True, False])
def test_a_template_key_yaml_reads_as_a_boolean_is_named_as_written(one_lens, section, indent, fragment, finished):
    """A survey template with a key YAML 1.1 reads as no text (``on:``, read as true) was reported as
    'output.True: unknown key True', a key never written, and one in dataset or inference.settings
    of a survey with finished fits ended in a TypeError's traceback (its template compared with
    survey.json's: '<' not supported between instances of 'str' and 'bool'); the template is now
    refused at once, the key named as written, as ``tinylens validate`` names it in a config file."""
    assert yaml.safe_load("on: 3") == {True: 3}  # the independent truth: YAML reads the key as true
    other = one_lens["tmp"] / "on.yaml"
    lines = one_lens["template"].read_text().split("\n")
    lines.insert(lines.index(section) + 1, f"{indent}on: 3")
    other.write_text("\n".join(lines))
    out = one_lens["out"] if finished else one_lens["tmp"] / "fresh"
    result = CliRunner().invoke(app, ["survey", str(one_lens["lenses"]), "-c", str(other), "--out", str(out),
                                      "--workers", "1", "--quiet"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, (result.output, result.exception)
    assert text.startswith("Error: Invalid template ") and fragment in text, text
    assert "True" not in text, text
    assert not (one_lens["tmp"] / "fresh").exists()  # nothing written


@pytest.mark.parametrize("setting, text", [("f_live", ".inf"), ("logl_max", ".nan")])
def test_a_template_holding_a_value_that_is_not_finite_reuses_its_own_survey_json(tmp_path, setting, text):
    """survey.json is written as every tinylens JSON file is, a value that is not finite as null:
    a template with 'f_live: .inf' (or a '.nan') was stored so, and the same survey run again
    with the same template was refused as 'made with another template (differences:
    inference.settings.f_live: null -> Infinity)'. The template is now compared as the record
    stores it, on both sides; another value beside it is still a difference."""
    method = "dynesty" if setting == "logl_max" else "nautilus"
    template = f"inference: {{method: {method}, settings: {{{setting}: {text}, nlive: 200}}}}\n"
    path = tmp_path / provenance.MANIFEST_FILE
    write_json(path, provenance.manifest(Path("/l"), Path("/t.yaml"), yaml.safe_load(template), "float32"))
    assert f'"{setting}": null' in path.read_text()  # independent truth: what the survey's record holds
    recorded = provenance.read_json(path)

    def conflict(text):
        return provenance.manifest_conflict(recorded, provenance.manifest(Path("/l"), Path("/t.yaml"), yaml.safe_load(text), "float32"))

    assert conflict(template) is None
    assert conflict(template.replace("nlive: 200", "nlive: 100")).endswith("differences: inference.settings.nlive: 200 -> 100)")


@pytest.mark.parametrize("before, after", [("1e400", ".inf"), (".inf", "1e400"), ("-1e400", "-.inf")])
def test_an_infinity_written_in_exponent_notation_reuses_a_survey_json_of_another_spelling(tmp_path, before, after):
    """'f_live: 1e400' (text to YAML 1.1, which survey.json keeps as written) and 'f_live: .inf'
    (stored as null) are the same number to a fit, and were alike to the survey before it compared
    templates as survey.json stores them; since, one was 'null' and the other '"1e400"', and the
    same survey run again was refused as 'made with another template'. Both now read as null; a
    finite value beside them is still a difference."""
    read = [float(yaml.safe_load(f"x: {text}")["x"]) for text in (before, after)]  # YAML: the text '1e400', or inf
    assert read[0] == read[1] and abs(read[0]) == float("inf")  # independent truth: one number, not finite
    template = "inference: {{method: nautilus, settings: {{f_live: {}, nlive: 200}}}}\n"
    path = tmp_path / provenance.MANIFEST_FILE
    write_json(path, provenance.manifest(Path("/l"), Path("/t.yaml"), yaml.safe_load(template.format(before)), "float32"))
    recorded = provenance.read_json(path)

    def conflict(text):
        return provenance.manifest_conflict(recorded, provenance.manifest(Path("/l"), Path("/t.yaml"), yaml.safe_load(text), "float32"))

    assert conflict(template.format(after)) is None
    assert conflict(template.format(before)) is None
    assert "differences: inference.settings.f_live:" in (conflict(template.format("0.01")) or "")


@pytest.mark.parametrize("setting, text, shown", [("f_live", ".inf", "Infinity"), ("logl_max", ".nan", "NaN"),
                                                  ("logl_max", "[1, .nan]", "[1, NaN]")])
def test_a_template_changed_to_a_value_that_is_not_finite_is_refused_naming_that_value(tmp_path, setting, text, shown):
    """Since 1a17488 compared a template with its survey.json as the record stores it (a value
    not finite as null), a template changed from 'f_live: 0.01' to 'f_live: .inf' was refused
    saying 'differences: inference.settings.f_live: 0.01 -> null', a null the template does not
    hold; the change is now told with the template's value as written ('0.01 -> Infinity'), as it
    was before, and the same template still runs again."""
    method = "dynesty" if setting == "logl_max" else "nautilus"

    def template(value):
        return yaml.safe_load(f"inference: {{method: {method}, settings: {{{setting}: {value}, nlive: 200}}}}\n")

    path = tmp_path / provenance.MANIFEST_FILE
    write_json(path, provenance.manifest(Path("/l"), Path("/t.yaml"), template("0.01"), "float32"))
    recorded = provenance.read_json(path)
    assert recorded["template"]["inference"]["settings"][setting] == 0.01  # independent truth: what was recorded

    def conflict(value):
        return provenance.manifest_conflict(recorded, provenance.manifest(Path("/l"), Path("/t.yaml"), template(value), "float32"))

    said = conflict(text) or ""
    assert said.endswith(f"differences: inference.settings.{setting}: 0.01 -> {shown})"), said
    assert "null" not in said
    assert conflict("0.01") is None


@pytest.mark.parametrize("setting, before, after, shown", [
    ("logl_max", ".inf", "-.inf", "Infinity -> -Infinity"),
    ("logl_max", ".inf", ".nan", "Infinity -> NaN"),
    ("logl_max", ".nan", "-.inf", "NaN -> -Infinity"),
    ("enlarge", "null", ".inf", "null -> Infinity"),
    ("enlarge", ".inf", "null", "Infinity -> null"),
])
def test_a_template_changed_between_values_survey_json_stores_as_null_is_refused(tmp_path, setting, before, after, shown):
    """survey.json stores a number that is not finite as null, so '.inf', '-.inf', '.nan' and null
    were one value to it: a survey begun with 'logl_max: .inf' and continued with '-.inf' (dynesty
    stops at once), or 'enlarge: null' (dynesty chooses) continued with '.inf', reused its
    finished fits as if made by the new template. It now records where its template holds such a
    number (NOT_FINITE_KEY) and compares them as written; the same template still runs again, and
    one spelt '1e400' is still '.inf'."""
    def template(value):
        return yaml.safe_load(f"inference: {{method: dynesty, settings: {{{setting}: {value}, nlive: 200}}}}\n")

    read = [template(v)["inference"]["settings"][setting] for v in (before, after)]
    assert not provenance.read_alike(*read)  # independent truth: YAML reads two different values
    path = tmp_path / provenance.MANIFEST_FILE
    write_json(path, provenance.manifest(Path("/l"), Path("/t.yaml"), template(before), "float32"))
    assert f'"{setting}": null' in path.read_text()  # the template as stored: null, whichever it was
    recorded = provenance.read_json(path)

    def conflict(value):
        return provenance.manifest_conflict(recorded, provenance.manifest(Path("/l"), Path("/t.yaml"), template(value), "float32"))

    said = conflict(after) or ""
    assert said.endswith(f"differences: inference.settings.{setting}: {shown})"), said
    assert conflict(before) is None
    if before == ".inf":
        assert conflict("1e400") is None  # the same number to a fit


def test_a_survey_json_without_its_not_finite_record_reads_each_null_as_before(tmp_path):
    """A survey.json written before it recorded its numbers that are not finite (or whose record
    was edited to lead nowhere) cannot tell them from null: each of its nulls is alike to any of
    them, as before, so that such a survey still continues with its own template."""
    template = yaml.safe_load("inference: {method: dynesty, settings: {logl_max: .inf, nlive: 200}}\n")
    current = provenance.manifest(Path("/l"), Path("/t.yaml"), template, "float32")
    path = tmp_path / provenance.MANIFEST_FILE
    for record in (None, [[["inference", "settings", "nlive"], "Infinity"]], "Infinity"):
        stored = {k: v for k, v in current.items() if k != provenance.NOT_FINITE_KEY}
        write_json(path, stored if record is None else {**stored, provenance.NOT_FINITE_KEY: record})
        assert provenance.manifest_conflict(provenance.read_json(path), current) is None, record


def test_a_survey_json_holding_a_nan_still_refuses_another_template(one_lens):
    """A survey.json written again by another program's json.dump (a hand-edited record holding a
    NaN) was read as no record at all, by a reader that refuses NaN: the check of the template
    was skipped, and a survey run with another nlive reused the finished fit without a word (exit 0).
    The NaN is read as the number it is: the same template still runs, another is refused."""
    path = one_lens["out"] / provenance.MANIFEST_FILE
    record = json.loads(path.read_text())
    record["note"] = float("nan")  # what an edit in Python leaves: json.dump writes NaN
    path.write_text(json.dumps(record))
    assert "NaN" in path.read_text()
    other = one_lens["tmp"] / "other.yaml"
    config = yaml.safe_load(one_lens["template"].read_text())
    assert config["inference"]["settings"]["nlive"] != 77
    config["inference"]["settings"]["nlive"] = 77
    other.write_text(yaml.safe_dump(config))
    result = _survey(one_lens, template=other)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "another template" in text and "inference.settings.nlive:" in text and "-> 77" in text, text
    assert not (one_lens["out"] / "catalog.csv").exists()  # nothing written
    assert _survey(one_lens).exit_code == 0  # the template it records


@pytest.mark.parametrize("content", ["", '{"lens_dir": "/l', "[]"], ids=["empty", "cut_short", "a_list"])
def test_a_survey_json_that_cannot_be_read_beside_finished_fits_is_refused(one_lens, content):
    """A damaged survey.json (empty, cut short, not an object) beside finished fits was taken for no
    record: the finished fits were reused under any template without a word. It is refused, naming
    the file and why, with what to do (exit 2, nothing written); --reuse-finished keeps the fits and
    writes the record afresh."""
    path = one_lens["out"] / provenance.MANIFEST_FILE
    path.write_text(content)
    result = _survey(one_lens)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert f"{path.resolve()} cannot be read" in text and "--reuse-finished" in text and "--out" in text, text
    assert path.read_text() == content and not (one_lens["out"] / "catalog.csv").exists()  # nothing written
    result = _survey(one_lens, None, None, "--reuse-finished")
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["lens_dir"] == str(one_lens["lenses"].resolve())
    assert pd.read_csv(one_lens["out"] / "catalog.csv")["lens_mass.0.theta_E_median"].tolist() == [1.01]


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_survey_json_that_is_no_file_is_refused_with_advice_that_works(one_lens, kind):
    """A folder in survey.json's place beside finished fits was refused saying that --reuse-finished
    would keep the fits and write the record afresh, but --reuse-finished then stopped with
    'survey.json: Is a directory' (a folder is not replaced by a file): the message says to move
    the folder out of the way first, and that, done, works. A named pipe there is refused at once
    (not read, no hang), and --reuse-finished replaces it as it says."""
    path = one_lens["out"] / provenance.MANIFEST_FILE
    path.unlink()
    if kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)
    result = _survey(one_lens)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert f"{path.resolve()} cannot be read" in text and "--reuse-finished" in text, text
    assert not (one_lens["out"] / "catalog.csv").exists()
    if kind == "folder":
        assert "move the folder out of the way" in text, text
        assert _survey(one_lens, None, None, "--reuse-finished").exit_code != 0  # why: the folder is not replaced
        path.rename(one_lens["tmp"] / "moved")
    else:
        assert "move the folder" not in text, text
    result = _survey(one_lens, None, None, "--reuse-finished")
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["lens_dir"] == str(one_lens["lenses"].resolve())
    assert pd.read_csv(one_lens["out"] / "catalog.csv")["lens_mass.0.theta_E_median"].tolist() == [1.01]


@pytest.mark.parametrize("recorded", [True, False])
def test_a_stopped_fit_of_a_setting_of_inf_is_told_from_one_of_null_minus_inf_or_nan(tmp_path, mock_survey, recorded):
    """result.json's config writes a number that is not finite as null, so a lens stopped by
    n_like_max under n_points_min: .inf counted as fitted with the settings of a template that set
    n_points_min: null (nautilus: n_dim + 50, another fit), -.inf or .nan: kept by --reuse-finished,
    a raised n_like_max fitted it further as if it resumed, and the closing line counted it so. A
    fit now records in info.config_not_finite where its config holds such a number, and only the
    template of that very number fits it further; a result.json of an older tinylens, without the
    record, is read as before (its null alike to any of them)."""
    import math

    out = tmp_path / "out"
    settings = {"n_like_max": 300, "n_points_min": math.inf}
    lens, row = _stopped_fit(mock_survey, out, settings, 300)
    runner.write_row(lens.output(out), row)
    result_file = lens.output(out) / filenames.RESULT
    result = json.loads(result_file.read_text())
    assert result["config"]["inference"]["settings"]["n_points_min"] is None  # as a fit writes it
    if recorded:  # as a fit records it (tests/inference/test_fit_api.py checks a fit writes this)
        result["info"]["config_not_finite"] = [[["inference", "settings", "n_points_min"], "Infinity"]]
    write_json(result_file, result)
    result = json.loads(result_file.read_text())
    template = runner.load_template(mock_survey["template"])
    for value, fitted_further in ((math.inf, True), (None, not recorded), (-math.inf, not recorded),
                                  (math.nan, not recorded)):
        template["inference"]["settings"].update(settings, n_like_max=3000, n_points_min=value)
        config = runner.lens_config(template, lens, out)
        assert resume.same_settings(result, config) is fitted_further, value
        planned = runner.plan([lens], {"lens_a": row}, out, template=template)
        assert (planned == [lens]) is fitted_further, value
        stopped = resume.budget_stopped([row], out, template, mock_survey["lenses"])
        assert stopped == ({"lens_a": "n_like_max"} if fitted_further else {}), value
    template["inference"]["settings"].update(settings, n_like_max=3000)
    template["inference"]["settings"].pop("n_points_min")  # unset: no null in the record, told apart before too
    assert runner.plan([lens], {"lens_a": row}, out, template=template) == []
