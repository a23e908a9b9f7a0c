"""``tinylens validate`` (and ``fit``) answer bad input with a clear message, exit code 2 and
no traceback; warnings (masked pixels, PSF normalisation) are printed and validation succeeds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml
from astropy.io import fits
from typer.testing import CliRunner

from tinylens.cli.main import app
from tinylens.simulate import gaussian_psf

SHAPE = (40, 40)
PIX = 0.074


def _free(prior_type: str, a: float, b: float) -> dict[str, Any]:
    return {"prior_type": prior_type, "prior_settings": [a, b], "fixed": False}


def base_config() -> dict[str, Any]:
    """A small valid config: SIE lens, Sersic lens light (centre linked) and Sersic source."""
    link = lambda p: {"fixed": True, "fixed_value": {"component_type": "lens_mass_list", "component_idx": 0, "parameter": p}}
    sersic = {"R_sersic": _free("uniform", 0.01, 2.0), "n_sersic": _free("uniform", 0.5, 5.0), "Ie": {"use_linear": True}}
    return {
        "dataset": {"data_path": "image.fits", "noise_path": "noise.fits", "psf_path": "psf.fits", "pixel_scale": PIX, "nsub": 2},
        "model_components": {
            "lens_mass_list": [
                {
                    "type": "SIE",
                    "params": {
                        "theta_E": _free("uniform", 0.5, 2.0),
                        "e1": _free("gaussian", 0.0, 0.2),
                        "e2": _free("gaussian", 0.0, 0.2),
                        "center_x": {"fixed": True, "fixed_value": 0.0},
                        "center_y": {"fixed": True, "fixed_value": 0.0},
                    },
                }
            ],
            "lens_light_list": [{"type": "Sersic", "params": {**sersic, "center_x": link("center_x"), "center_y": link("center_y")}}],
            "source_light_list": [
                {
                    "type": "Sersic",
                    "params": {**sersic, "center_x": _free("gaussian", 0.0, 0.3), "center_y": _free("gaussian", 0.0, 0.3)},
                }
            ],
        },
        "inference": {"type": "sampler", "method": "nautilus", "settings": {"nlive": 50}},
        "output": {"path": "output"},
    }


def base_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    x, y = np.meshgrid(np.arange(SHAPE[1]) - 19.5, np.arange(SHAPE[0]) - 19.5)
    image = np.exp(-(x**2 + y**2) / 50.0) + rng.normal(0, 0.05, SHAPE)
    return {"image": image, "noise": np.full(SHAPE, 0.05), "psf": gaussian_psf(0.15, PIX, 11)}


def write_case(
    folder: Path, config: dict | None = None, arrays: dict | None = None, edit: Callable[[dict, dict], None] | None = None
) -> Path:
    """Write image/noise/psf FITS and model_config.yaml into ``folder``; ``edit(config, arrays)``
    may change them first. Returns the config path."""
    config = config or base_config()
    arrays = arrays or base_arrays()
    if edit is not None:
        edit(config, arrays)
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        fits.writeto(folder / f"{name}.fits", np.asarray(arr), overwrite=True)
    path = folder / "model_config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    return " ".join(text.split())


def assert_user_error(result, *fragments: str) -> str:
    """Exit code 2, no traceback, and every fragment in the (whitespace-normalised) output."""
    out = flat(result.output)
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output!r} {result.exception!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert out.startswith("Error:"), out
    for frag in fragments:
        assert flat(frag) in out, f"{frag!r} not in {out!r}"
    return out


def assert_ok(result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output!r} {result.exception!r}"
    assert "Traceback" not in result.output
    return flat(result.output)


# -- happy path ---------------------------------------------------------------------------------
def test_validate_happy_path(tmp_path):
    out = assert_ok(invoke("validate", write_case(tmp_path)))
    for text in ("9 free parameters", "lens_mass.0.theta_E", "U(0.5, 2)", "N(0, 0.2)", "40 x 40 pixels",
                 "pixels used 1600 of 1600", "linear amplitudes 2", "inference sampler nautilus (nlive=50)",
                 "log L at prior median", "ready to fit"):
        assert text in out, text
    assert "Warning" not in out



def test_validate_names_the_config_as_given(tmp_path):
    """A '[' in the config's path was read as rich markup ('my [bold]case' printed 'my case'), and
    at 80 columns a long path was broken across two lines in the closing 'OK: CONFIG' line."""
    folder = tmp_path / "my [bold]case with a folder name long enough to wrap at eighty columns"
    folder.mkdir()
    config = write_case(folder)
    result = CliRunner().invoke(app, ["validate", str(config)], env={"COLUMNS": "80"})
    assert_ok(result)
    assert f"OK: {config} is ready to fit.\n" in result.output

def test_validate_states_the_supersampling_the_fit_uses(tmp_path):
    """Adaptive (the default): the pixels at each factor of the map the fit uses, not
    dataset.nsub, which that mode does not read; uniform: the one factor."""
    import re

    import tinylens

    path = write_case(tmp_path / "adaptive")
    out = assert_ok(invoke("validate", path))
    listed = {int(n): int(c) for n, c in re.findall(r"(\d+)x\1 for (\d+) pixels", out)}
    levels, counts = np.unique(np.asarray(tinylens.load(path).nsub_map), return_counts=True)
    assert "supersampling adaptive," in out and listed == dict(zip(levels.tolist(), counts.tolist()))
    assert sum(listed.values()) == 40 * 40

    def uniform(config, arrays):
        config["dataset"].update(nsub=3, supersampling={"mode": "uniform"})

    out = assert_ok(invoke("validate", write_case(tmp_path / "uniform", edit=uniform)))
    assert "supersampling uniform, 3x3 per pixel" in out


@pytest.mark.parametrize("pipeline, inference, expected", [
    ({}, {}, "1 lens light, 2 arc, 3 mass and source, 4 nautilus (n_networks=1: the pipeline's default) in a box of 10 "
             "Laplace widths around the best fit, widened up to 2 times"),
    ({"lens_light": False, "arc": False, "n_sigma": 5, "max_widen": 1}, {"settings": {"nlive": 50, "n_networks": 4}},
     "1 skipped (pipeline.lens_light: false), 2 arc, theta_E not started from it (pipeline.arc: false), 3 mass and "
     "source, 4 nautilus in a box of 5 Laplace widths around the best fit, widened up to 1 time"),
    ({"bounded": False}, {"method": "dynesty", "settings": {}},
     "1 lens light, 2 arc, 3 mass and source, 4 dynesty over the full priors (pipeline.bounded: false)"),
    ({"max_widen": 0}, {}, "1 lens light, 2 arc, 3 mass and source, 4 nautilus (n_networks=1: the pipeline's default) in "
                           "a box of 10 Laplace widths around the best fit, never widened"),
    ({"enabled": False}, {}, "off (pipeline.enabled: false): one nautilus run over the full priors"),
    ({}, {"type": "optimizer", "method": "lbfgs", "settings": {}}, "none: the lbfgs optimiser searches the full priors"),
])
def test_validate_says_which_pipeline_stages_run(tmp_path, pipeline, inference, expected):
    """validate listed the sampler and its settings but not the stages a fit runs around it, which
    the config's pipeline section switches: a user checking a config before a long survey could not
    see them (nor the sampler's n_networks the pipeline sets) without starting a fit."""
    def edit(config, arrays):
        config["pipeline"] = pipeline
        config["inference"].update(inference)

    out = assert_ok(invoke("validate", write_case(tmp_path, edit=edit)))
    assert f"pipeline stages {expected} log L" in out, out


def test_validate_with_no_pipeline_reports_the_fit_that_flag_runs(tmp_path):
    """tinylens fit --no-pipeline runs the sampler alone, but validate, which lists the stages a fit
    runs, had no such flag: it listed the config's four stages, not what the quick look would run."""
    def edit(config, arrays):
        config["pipeline"] = {"n_sigma": 5, "arc": False}

    path = write_case(tmp_path, edit=edit)
    written = path.read_text()
    staged = assert_ok(invoke("validate", path))
    assert "pipeline stages 1 lens light, 2 arc" in staged and "in a box of 5 Laplace widths" in staged, staged
    out = assert_ok(invoke("validate", path, "--no-pipeline"))
    assert "pipeline stages off (--no-pipeline): one nautilus run over the full priors log L" in out, out
    assert "Warning" not in out and "is ready to fit" in out and path.read_text() == written
    assert "--no-pipeline" in flat(invoke("validate", "--help").output)


def test_validate_names_the_sampling_section_as_the_config_wrote_it(tmp_path):
    """A config writing TinyLensGpu's older ``sampling:`` section (no ``inference:``) was summarised in
    a row named 'inference', a key the config does not have; the row now names the section written."""
    def edit(config, arrays):
        del config["inference"]
        config["sampling"] = {"sampler": "nautilus", "nlive": 50}

    path = write_case(tmp_path, edit=edit)
    assert "inference" not in yaml.safe_load(path.read_text())  # the independent truth: the section written
    out = assert_ok(invoke("validate", path))
    assert " sampling sampler nautilus (nlive=50) pipeline stages " in out, out
    assert " inference sampler " not in out, out
    written = assert_ok(invoke("validate", write_case(tmp_path / "inference")))
    assert " inference sampler nautilus (nlive=50) pipeline stages " in written, written


def test_validate_says_stage_1_is_skipped_without_lens_light(tmp_path):
    def edit(config, arrays):
        del config["model_components"]["lens_light_list"]

    out = assert_ok(invoke("validate", write_case(tmp_path, edit=edit)))
    assert "pipeline stages 1 skipped (no lens light in the model), 2 arc, 3 mass and source, 4 nautilus" in out, out


@pytest.mark.parametrize("supersampling, key", [({"mode": "uniform", "nsub": 65}, "dataset.supersampling.nsub"),
                                                 ({"mode": "adaptive", "levels": [1, 100]}, "dataset.supersampling.levels")])
def test_a_supersampling_factor_above_64_is_refused(tmp_path, supersampling, key):
    def edit(config, arrays):
        config["dataset"]["supersampling"] = supersampling

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), key)


def test_a_supersampling_too_large_for_memory_is_refused_before_the_grid_is_built(tmp_path, monkeypatch):
    """40 x 40 pixels at 3 x 3 are 14,400 points: with a limit of 10,000, uniform mode names
    dataset.nsub and adaptive mode its levels; the grid is never built."""
    import tinylens.problem

    monkeypatch.setattr(tinylens.problem, "MAX_SUPERSAMPLED_POINTS", 10_000)
    monkeypatch.setattr(tinylens.problem, "uniform_groups", None)  # building a grid would fail
    monkeypatch.setattr(tinylens.problem, "groups_from_map", None)

    def uniform(config, arrays):
        config["dataset"].update(nsub=3, supersampling={"mode": "uniform"})

    assert_user_error(invoke("validate", write_case(tmp_path / "u", edit=uniform)),
                      "dataset.nsub: 3 per axis (uniform supersampling) makes 14,400 supersampled points for 1,600 pixels")

    def adaptive(config, arrays):
        config["dataset"]["supersampling"] = {"levels": [3]}  # every pixel at 3 x 3

    assert_user_error(invoke("validate", write_case(tmp_path / "a", edit=adaptive)),
                      "dataset.supersampling.levels: [3] (adaptive supersampling) makes 14,400")


def test_an_output_path_that_is_a_file_is_refused_by_validate_as_by_fit(tmp_path):
    def edit(config, arrays):
        config["output"] = {"path": "image.fits"}

    path = write_case(tmp_path, edit=edit)
    before = sorted(p.name for p in tmp_path.iterdir())
    for command in ("validate", "fit"):
        assert_user_error(invoke(command, path), f"{tmp_path / 'image.fits'} is a file, not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_output_path_with_an_environment_variable_is_refused_unless_output_replaces_it(tmp_path, monkeypatch):
    """output.path: $SCRATCH/out silently wrote into <config folder>/$SCRATCH/out, as a config's
    paths do not expand environment variables; validate and fit now refuse it, naming output.path
    and the path it stands for here, as a data path's error does; --output, which replaces it (as a
    survey's folder does), fits."""
    def edit(config, arrays):
        config["output"] = {"path": "$SCRATCH/out"}
        config["inference"] = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}

    monkeypatch.setenv("SCRATCH", str(tmp_path / "scratch"))
    path = write_case(tmp_path / "lens", edit=edit)
    for command in ("validate", "fit"):
        assert_user_error(invoke(command, path), f"In config file {path}: output.path '$SCRATCH/out' would write",
                          f"into the folder {tmp_path / 'lens' / '$SCRATCH' / 'out'}.",
                          "Environment variables such as $SCRATCH are not expanded in a config's paths: write the "
                          f"path itself, here '{tmp_path / 'scratch' / 'out'}'.", "--output")
    assert sorted(p.name for p in (tmp_path / "lens").iterdir()) == ["image.fits", "model_config.yaml", "noise.fits",
                                                                    "psf.fits"]
    assert_ok(invoke("fit", path, "--quiet", "--output", tmp_path / "given"))
    assert (tmp_path / "given" / "result.json").is_file()


def test_an_output_path_into_a_folder_whose_real_name_holds_a_dollar_or_percent_is_taken(tmp_path, monkeypatch):
    """03bb055 refused any output.path that reads as holding a variable, so one into a folder that
    is really named so (lens_$A, fit_%RUN%, there already) could be given only with --output,
    where a data path in such a folder is read; such a folder is taken, the fit written into it,
    while one that is not there, or one named after a variable set here ($SCRATCH, made by an
    earlier fit), is still refused."""
    def edit(config, arrays):
        config["output"] = {"path": "lens_$A/%RUN%/out"}
        config["inference"] = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}

    for name in ("A", "RUN"):
        monkeypatch.delenv(name, raising=False)
    path = write_case(tmp_path / "lens", edit=edit)
    assert_user_error(invoke("validate", path), "output.path 'lens_$A/%RUN%/out' would write")
    (tmp_path / "lens" / "lens_$A" / "%RUN%").mkdir(parents=True)
    assert_ok(invoke("validate", path))
    assert_ok(invoke("fit", path, "--quiet"))
    assert (tmp_path / "lens" / "lens_$A" / "%RUN%" / "out" / "result.json").is_file()
    monkeypatch.setenv("A", str(tmp_path / "scratch"))
    assert_user_error(invoke("validate", path), "output.path 'lens_$A/%RUN%/out' would write")


def test_an_output_path_into_a_percent_named_folder_is_refused_where_that_variable_is_set(tmp_path, monkeypatch):
    """a1947ae took an output.path into a folder there already unless os.path.expandvars changed
    it, which expands $RUN but not %RUN% outside Windows: with RUN set, 'fit_%RUN%/out' was taken
    while 'fit_$RUN/out' was refused. A %RUN% whose variable is set here is refused alike."""
    def edit(config, arrays):
        config["output"] = {"path": "fit_%RUN%/out"}
        config["inference"] = {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}}

    monkeypatch.delenv("RUN", raising=False)
    path = write_case(tmp_path / "lens", edit=edit)
    (tmp_path / "lens" / "fit_%RUN%").mkdir()
    assert_ok(invoke("validate", path))
    monkeypatch.setenv("RUN", str(tmp_path / "scratch"))
    assert_user_error(invoke("validate", path), "output.path 'fit_%RUN%/out' would write", "%RUN%")


# -- the config file ----------------------------------------------------------------------------
@pytest.mark.parametrize("key, where", [
    ("dataset.pixel_scale", lambda c: c["dataset"]),
    ("dataset.mask.r_max", lambda c: c["dataset"].setdefault("mask", {"type": "circle"})),
    ("model_components.lens_mass_list[0].params.theta_E.fixed_value",
     lambda c: c["model_components"]["lens_mass_list"][0]["params"].setdefault("theta_E", {"fixed": True})),
])
@pytest.mark.parametrize("sign", ["", "-"], ids=["huge", "huge_negative"])
def test_a_number_no_float_holds_is_refused_as_beyond_a_float_not_as_no_number(tmp_path, key, where, sign):
    """A number written with 400 digits (an int to YAML, none a float holds; 1e400 is read as .inf) was
    refused as 'should be a valid number', a number though it is, and as a ConfigTypeError; it is said to
    be beyond a float's range, the value cut to its first digits and its length."""
    huge = int(sign + "1" + "0" * 400)
    name = key.rsplit(".", 1)[-1]

    def edit(config, arrays):
        config["model_components"]["lens_mass_list"][0]["params"]["theta_E"] = {"fixed": True}
        where(config)[name] = huge
        if name == "r_max":
            where(config)["type"] = "circle"

    path = write_case(tmp_path, edit=edit)
    assert str(huge) in path.read_text()  # written out in digits, read back as that int
    out = assert_user_error(invoke("validate", path), f"{key}: should be a finite number; got {sign}1000",
                            f"... ({len(str(huge))} characters) (beyond the range of a float, about +-1.8e308).")
    assert "valid number" not in out and "0" * 120 not in out


@pytest.mark.parametrize("index, limits", [(1, ["0.1", "{huge}"]), (0, ["-{huge}", "3"]), (1, ["0.1", '"{huge}"']),
                                           (0, ['"-{huge}"', "3"])],
                         ids=["upper", "lower", "upper_quoted", "lower_quoted"])
def test_a_limit_no_float_holds_is_not_said_to_need_be_finite(tmp_path, index, limits):
    """limits take -.inf and .inf on purpose (no limit); a limit of 400 digits, a number no float holds, was
    refused as 'should be a finite number', which a limit need not be: it is said to be beyond a float's
    range, and -.inf or .inf is what to write for no limit. The infinite limits themselves are accepted. Quoted
    ("1000...0"), the limit was read as the infinity float() makes of the text, no limit, without a word: it is
    refused as the unquoted one is."""
    huge = "1" + "0" * 400
    key = "model_components.lens_mass_list[0].params.theta_E.limits"

    def edit(config, arrays):
        config["model_components"]["lens_mass_list"][0]["params"]["theta_E"]["limits"] = "@LIMITS@"

    path = write_case(tmp_path, edit=edit)
    text = path.read_text()
    path.write_text(text.replace("'@LIMITS@'", "[-.inf, .inf]"))
    assert invoke("validate", path).exit_code == 0
    path.write_text(text.replace("'@LIMITS@'", "[" + ", ".join(limits).format(huge=huge) + "]"))
    out = assert_user_error(invoke("validate", path), f"{key}[{index}]: should be a number a float holds, or -.inf or "
                            ".inf for no limit; got ", "... (40", " characters) (beyond the range of a float, about +-1.8e308).")
    assert "finite" not in out and "0" * 120 not in out


def test_missing_config(tmp_path):
    assert_user_error(invoke("validate", tmp_path / "nope.yaml"), "nope.yaml", "not found")


def test_a_config_name_too_long_for_the_system_is_an_error_not_a_traceback(tmp_path):
    """A config path whose name is longer than the system allows (255 bytes on most disks) made
    Path.exists raise ENAMETOOLONG: a bare OSError to tinylens.load's caller and a traceback from
    the command line; it is now a ConfigError naming the file and the system's reason."""
    import errno

    import tinylens
    from tinylens.errors import ConfigError

    path = tmp_path / ("a" * 300 + ".yaml")
    reason = f"cannot be reached: {os.strerror(errno.ENAMETOOLONG)}. Check the path and its spelling."
    assert_user_error(invoke("validate", path), "Error: Config file", reason)
    with pytest.raises(ConfigError) as caught:
        tinylens.load(path)
    assert str(caught.value) == f"Config file {path} {reason}"


def test_config_is_a_directory(tmp_path):
    assert_user_error(invoke("validate", tmp_path), str(tmp_path), "folder")


def test_a_lens_folder_of_a_population_given_for_the_config_names_the_template_that_loads_it(tmp_path):
    """tinylens.load("mocks/lens_00000") or tinylens fit of it, simulate-population's lens folder, was
    told only that it holds no YAML file; it now names the population's template and the base_dir
    that loads the lens with it, which does."""
    import tinylens
    from tiny_lens import write_tiny_lens
    from tinylens.errors import ConfigError

    lens = tmp_path / "mocks" / "lens_00000"
    write_tiny_lens(lens)
    template = lens.parent / "template.yaml"
    (lens / "model_config.yaml").rename(template)
    (lens.parent / "population.json").write_text("{}")
    said = f"tinylens.load({str(template)!r}, base_dir={str(lens)!r}) in Python"
    with pytest.raises(ConfigError) as caught:
        tinylens.load(lens)
    assert str(caught.value).startswith(f"Config path {lens} is a folder; give the config's YAML file (it holds no "
                                        f".yaml or .yml file). It is a lens folder of the simulate-population folder "
                                        f"{lens.parent}"), str(caught.value)
    assert said in str(caught.value)
    assert_user_error(invoke("fit", lens), "It is a lens folder of the simulate-population folder", "tinylens survey")
    assert tinylens.load(template, base_dir=lens).ndim > 0


def test_a_folder_given_for_the_config_is_answered_with_the_yaml_files_it_holds(tmp_path):
    """The message suggested FOLDER/model_config.yaml whatever the folder held: for a lens folder of
    simulate-population (no config in it) or a config named otherwise, a file that does not exist."""
    lens = tmp_path / "lens_00000"
    lens.mkdir()
    (lens / "image.fits").write_bytes(b"")
    out = assert_user_error(invoke("fit", lens), f"Config path {lens} is a folder; give the config's YAML file "
                                                 "(it holds no .yaml or .yml file).")
    assert "model_config.yaml" not in out
    (lens / "j0912.yml").write_text("dataset: {}\n")
    assert_user_error(invoke("validate", lens), f"give the YAML file inside it: {lens / 'j0912.yml'}.")
    (lens / "A.YAML").write_text("dataset: {}\n")
    assert_user_error(invoke("survey", tmp_path, "-c", lens, "-o", tmp_path / "out"),
                      f"give one of the YAML files inside it: {lens / 'A.YAML'}, {lens / 'j0912.yml'}.")


def test_yaml_syntax_error_gives_line(tmp_path):
    path = write_case(tmp_path)
    lines = path.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if line.strip().startswith("noise_path")) + 1
    lines[n - 1] = "  noise_path: noise.fits: oops"
    path.write_text("\n".join(lines) + "\n")
    out = assert_user_error(invoke("validate", path), str(path), "YAML syntax error")
    assert re.search(rf"line {n}\b", out), out


def test_a_value_its_yaml_tag_cannot_be_built_from_is_a_user_error(tmp_path):
    """`pixel_scale: !!int x` gave a traceback (PyYAML's bare ValueError); it is now an error
    message naming the line and the tag, with exit code 2."""
    path = write_case(tmp_path)
    lines = path.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if line.strip().startswith("pixel_scale")) + 1
    lines[n - 1] = "  pixel_scale: !!int x"
    path.write_text("\n".join(lines) + "\n")
    for command in ("validate", "fit"):
        out = assert_user_error(invoke(command, path), "Invalid YAML value", "remove the tag !!int")
        assert re.search(rf"line {n}\b", out), out


def test_unknown_profile_lists_allowed(tmp_path):
    def edit(cfg, _):
        cfg["model_components"]["lens_mass_list"][0]["type"] = "SIEE"

    assert_user_error(
        invoke("validate", write_case(tmp_path, edit=edit)), "lens_mass_list[0]", "'SIEE'", "EPL", "SHEAR", "SIE", "SIS"
    )


def test_unknown_parameter_lists_allowed(tmp_path):
    def edit(cfg, _):
        params = cfg["model_components"]["lens_mass_list"][0]["params"]
        params["thetaE"] = params.pop("theta_E")

    assert_user_error(
        invoke("validate", write_case(tmp_path, edit=edit)), "lens_mass_list[0].params.thetaE", "'thetaE'", "theta_E", "center_x"
    )


@pytest.mark.parametrize(
    "spec, fragments",
    [
        ({"prior_type": "uniform", "prior_settings": [2.0, 1.0]}, ["inverted", "[2.0, 1.0]"]),
        ({"prior_type": "uniform", "prior_settings": [1.0, 1.0]}, ["empty", "[1.0, 1.0]"]),
        ({"prior_type": "uniform", "prior_settings": [0.5, 2.0], "limits": [3.0, 4.0]}, ["limits [3, 4]"]),
    ],
)
def test_empty_or_inverted_prior(tmp_path, spec, fragments):
    def edit(cfg, _):
        cfg["model_components"]["lens_mass_list"][0]["params"]["theta_E"] = {**spec, "fixed": False}

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "lens_mass_list[0].params.theta_E", *fragments)


def test_dangling_link_index(tmp_path):
    def edit(cfg, _):
        cfg["model_components"]["lens_light_list"][0]["params"]["center_x"]["fixed_value"]["component_idx"] = 5

    assert_user_error(
        invoke("validate", write_case(tmp_path, edit=edit)), "lens_light_list[0].params.center_x.fixed_value", "lens_mass_list[5]"
    )


def test_dangling_link_parameter(tmp_path):
    def edit(cfg, _):
        cfg["model_components"]["lens_light_list"][0]["params"]["center_x"]["fixed_value"]["parameter"] = "centre_x"

    assert_user_error(
        invoke("validate", write_case(tmp_path, edit=edit)), "lens_light_list[0].params.center_x.fixed_value", "centre_x"
    )


# -- the FITS files -----------------------------------------------------------------------------
def test_missing_fits(tmp_path):
    def edit(cfg, _):
        cfg["dataset"]["data_path"] = "missing.fits"

    out = assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "missing.fits")
    # the hint says where a relative path was looked for
    assert f"The relative path 'missing.fits' was taken from {tmp_path.resolve()}" in out
    assert "survey" not in out


def test_a_windows_path_in_double_quotes_is_said_to_hold_the_escapes_yaml_made(tmp_path):
    """'data_path: "C:\\temp\\new.fits"' parses without a YAML error, as \\t and \\n are escapes in
    double quotes: the path held a tab and a line break, and the error said only 'file not found',
    its path broken over two lines. It names the characters and says to use single quotes."""
    config = write_case(tmp_path)
    text = config.read_text()
    config.write_text(re.sub(r"data_path: .*", lambda _: 'data_path: "C:\\temp\\new.fits"', text))
    out = assert_user_error(invoke("validate", config), "C:\\temp\\new.fits'.", "The relative path 'C:\\temp\\new.fits' was taken",
                            "holds a tab (\\t) and a line break (\\n)", "single quotes", "C:/temp/new.fits")
    assert "\t" not in out


def test_a_path_written_from_the_current_folder_says_what_to_write(tmp_path, monkeypatch):
    """'tinylens validate configs/lens.yaml' run from the project folder, whose config names
    data/image.fits as seen from there: the error said only that the file was not found in
    configs/data/, not that it is in the current folder and how to name it."""
    def edit(cfg, _):
        cfg["dataset"]["data_path"] = "data/image.fits[0]"

    config = write_case(tmp_path / "configs", edit=edit)
    (tmp_path / "data").mkdir()
    (config.parent / "image.fits").rename(tmp_path / "data" / "image.fits")
    monkeypatch.chdir(tmp_path)
    out = assert_user_error(invoke("validate", "configs/model_config.yaml"), "data/image.fits")
    assert f"It is in the current folder ({tmp_path.resolve() / 'data' / 'image.fits'})" in out, out
    assert "write '../data/image.fits[0]'" in out, out


def test_validate_of_a_survey_template_says_how_to_check_one(tmp_path):
    """A survey template names each lens folder's image.fits: validate alone cannot find it."""
    def edit(cfg, _):
        cfg["dataset"]["data_path"] = "image.fits"

    config = write_case(tmp_path / "templates", edit=edit)
    (config.parent / "image.fits").unlink()  # the lenses' files are in their own folders
    out = assert_user_error(invoke("validate", config), "image.fits")
    assert "If this is a survey template" in out and "--dry-run" in out


def test_validate_of_a_survey_template_with_a_mask_says_how_to_check_one(tmp_path):
    """tinylens survey fills in a lens folder's mask.fits as dataset.mask_path, as it does its
    image.fits; a template naming mask.fits, run alone, got no word of how to check a template."""
    def edit(cfg, _):
        cfg["dataset"]["mask_path"] = "mask.fits"

    config = write_case(tmp_path / "templates", edit=edit)
    out = assert_user_error(invoke("validate", config), "dataset.mask_path", "mask.fits")
    assert "If this is a survey template" in out and "--dry-run" in out


def test_missing_fits_at_an_absolute_path_gets_no_relative_path_hint(tmp_path):
    def edit(cfg, _):
        cfg["dataset"]["noise_path"] = str(tmp_path / "elsewhere" / "noise.fits")

    out = assert_user_error(invoke("validate", write_case(tmp_path / "lens", edit=edit)),
                            f"dataset.noise_path file not found: {tmp_path / 'elsewhere' / 'noise.fits'}.")
    assert "relative" not in out


def test_a_dict_config_reads_its_relative_paths_from_base_dir(tmp_path, monkeypatch):
    import tinylens
    from tinylens.errors import DataError

    config = yaml.safe_load(write_case(tmp_path / "lens").read_text())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=f"taken from {tmp_path.resolve()} .*base_dir"):
        tinylens.load(config)
    assert tinylens.load(config, base_dir=tmp_path / "lens").dataset.data.shape == base_arrays()["image"].shape


def test_corrupt_fits(tmp_path):
    path = write_case(tmp_path)
    (tmp_path / "image.fits").write_bytes(np.random.default_rng(1).bytes(5000))
    assert_user_error(invoke("validate", path), "image.fits")


def test_non_2d_fits(tmp_path):
    def edit(_, arrays):
        arrays["image"] = np.zeros((3,) + SHAPE)

    out = assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "image.fits")
    assert "2-D" in out or "2D" in out or "(3, 40, 40)" in out, out


def test_image_noise_shape_mismatch(tmp_path):
    def edit(_, arrays):
        arrays["noise"] = np.full((30, 30), 0.05)

    out = assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "noise.fits")
    assert re.search(r"\(?40, 40\)?|40 ?x ?40", out) and re.search(r"\(?30, 30\)?|30 ?x ?30", out), out


# -- bad pixels: masked with a warning that counts them; validation succeeds --------------------
@pytest.mark.parametrize(
    "what, bad_value",
    [("noise", 0.0), ("noise", -1.0), ("noise", np.nan), ("image", np.nan)],
    ids=["zero-noise", "negative-noise", "nan-noise", "nan-pixels"],
)
def test_bad_pixels_masked_with_count(tmp_path, what, bad_value):
    def edit(_, arrays):
        arrays[what].flat[[3, 50, 777]] = bad_value

    out = assert_ok(invoke("validate", write_case(tmp_path, edit=edit)))
    warning = out[out.index("Warning:"):]
    assert re.search(r"\b3\b", warning), out
    assert "pixels used 1597 of 1600" in out, out


# -- the PSF ------------------------------------------------------------------------------------
def test_even_psf_refused(tmp_path):
    def edit(_, arrays):
        arrays["psf"] = np.ones((20, 20)) / 400

    out = assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "psf.fits")
    assert "odd" in out and "20" in out, out


def test_unnormalised_psf_normalised_with_warning(tmp_path):
    def edit(_, arrays):
        arrays["psf"] = arrays["psf"] * 5.0

    out = assert_ok(invoke("validate", write_case(tmp_path, edit=edit)))
    assert "Warning:" in out and "normalis" in out.lower(), out


# -- fit: the output folder ---------------------------------------------------------------------
def test_fit_unwritable_output_fails_before_sampling(tmp_path):
    (tmp_path / "blocker").write_text("a regular file\n")

    def edit(cfg, _):
        cfg["output"]["path"] = "blocker/results"

    path = write_case(tmp_path, edit=edit)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert_user_error(invoke("fit", path, "--quiet"), "blocker")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing half-written
    # The same for --output.
    assert_user_error(invoke("fit", path, "--quiet", "--output", tmp_path / "blocker" / "x"), "blocker")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_fit_output_option_is_relative_to_the_current_folder(tmp_path, monkeypatch):
    """``-o run2`` means ./run2, as every path typed on a command line (output.path in the YAML is
    the one taken from the config's folder). A file in the way in the current folder, and none in
    the config's, makes fit refuse before anything is sampled and name the current folder's path."""
    path = write_case(tmp_path / "case")
    here = tmp_path / "elsewhere"
    here.mkdir()
    (here / "run2").write_text("a regular file\n")
    monkeypatch.chdir(here)
    assert_user_error(invoke("fit", path, "--quiet", "-o", "run2/x"), str(here / "run2"))
    assert not (tmp_path / "case" / "run2").exists()


# -- the real console script: no traceback on stderr --------------------------------------------
@pytest.mark.parametrize("case", ["missing-config", "corrupt-fits"])
def test_no_traceback_from_python_m(tmp_path, case):
    if case == "missing-config":
        path = tmp_path / "nope.yaml"
    else:
        path = write_case(tmp_path)
        (tmp_path / "psf.fits").write_bytes(b"SIMPLE  =  not really a FITS file")
    proc = subprocess.run(
        [sys.executable, "-m", "tinylens", "validate", str(path)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert flat(proc.stderr).startswith("Error:"), proc.stderr
    assert ("nope.yaml" if case == "missing-config" else "psf.fits") in proc.stderr


# -- cases added with the fit tests: every bad input of issue 3 ---------------------------------
def test_config_not_text(tmp_path):
    path = tmp_path / "model_config.yaml"
    path.write_bytes(b"\xff\xfe\x00binary\x89PNG")
    assert_user_error(invoke("validate", path), str(path), "not a UTF-8 text file")


def test_config_empty(tmp_path):
    path = tmp_path / "model_config.yaml"
    path.write_text("# only a comment\n")
    assert_user_error(invoke("validate", path), str(path), "is empty", "dataset", "model_components")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_config_unreadable(tmp_path):
    path = write_case(tmp_path)
    path.chmod(0)
    try:
        assert_user_error(invoke("validate", path), str(path), "cannot be read")
    finally:
        path.chmod(0o644)


def test_a_config_this_user_may_not_read_says_what_to_do(tmp_path, refused_read):
    """A config file this user may not read (another user's, chmod 600) was 'Config file PATH cannot
    be read: Permission denied.' and no more; it now says how to see its permissions and make it
    readable (the commands, the path quoted), exit 2 without a traceback. The refusal is a patched
    read, as the tests may run as root, whom permissions do not stop."""
    import errno
    import shlex

    path = write_case(tmp_path / "a lens")
    refused_read(path)
    out = assert_user_error(invoke("validate", path))
    assert out == (f"Error: Config file {path} cannot be read: {os.strerror(errno.EACCES)}: this user may not read "
                   f"it. Check its permissions ({shlex.join(['ls', '-l', str(path)])}), and make it readable "
                   f"({shlex.join(['chmod', 'a+r', str(path)])}) or ask its owner to."), out


def test_config_missing_section(tmp_path):
    def edit(cfg, _):
        del cfg["dataset"]

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "dataset", "required key is missing")


def test_unknown_light_profile_lists_allowed(tmp_path):
    def edit(cfg, _):
        cfg["model_components"]["source_light_list"][0]["type"] = "Sersik"

    assert_user_error(
        invoke("validate", write_case(tmp_path, edit=edit)), "source_light_list[0]", "'Sersik'", "Sersic", "Gaussian"
    )


def test_gaussian_prior_without_width(tmp_path):
    def edit(cfg, _):
        cfg["model_components"]["lens_mass_list"][0]["params"]["e1"] = _free("gaussian", 0.0, 0.0)

    assert_user_error(
        invoke("validate", write_case(tmp_path, edit=edit)), "lens_mass_list[0].params.e1", "sigma > 0", "[0.0, 0.0]"
    )


def test_dangling_link_to_empty_list(tmp_path):
    def edit(cfg, _):
        link = cfg["model_components"]["lens_light_list"][0]["params"]["center_x"]["fixed_value"]
        link["component_type"] = "lens_light_list"
        link["component_idx"] = 3

    assert_user_error(
        invoke("validate", write_case(tmp_path, edit=edit)), "lens_light_list[0].params.center_x.fixed_value",
        "lens_light_list[3]", "only 1 component",
    )


def test_link_loop(tmp_path):
    def edit(cfg, _):
        params = cfg["model_components"]["lens_mass_list"][0]["params"]
        params["center_x"] = {"fixed": True, "fixed_value": {"component_type": "lens_light_list", "component_idx": 0,
                                                             "parameter": "center_x"}}

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "center_x", "loop")


def test_one_dimensional_fits(tmp_path):
    def edit(_, arrays):
        arrays["noise"] = np.full(40, 0.05)

    out = assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "noise.fits", "1-D")
    assert "2-D image" in out


def test_fits_without_image(tmp_path):
    path = write_case(tmp_path)
    fits.HDUList([fits.PrimaryHDU()]).writeto(tmp_path / "psf.fits", overwrite=True)
    assert_user_error(invoke("validate", path), "psf.fits", "no image data")


def test_psf_with_nan(tmp_path):
    def edit(_, arrays):
        arrays["psf"] = arrays["psf"].copy()
        arrays["psf"][0, 0] = np.nan

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "psf.fits", "NaN")


def test_psf_summing_to_zero(tmp_path):
    def edit(_, arrays):
        arrays["psf"] = np.zeros((11, 11))

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "psf.fits", "sums to 0")


@pytest.mark.parametrize("bad_value", [0.0, -1.0, np.nan, np.inf], ids=["zero", "negative", "nan", "inf"])
def test_unusable_noise_map_refused(tmp_path, bad_value):
    """A few bad noise pixels are masked (above); a noise map with no usable pixel is an error."""

    def edit(_, arrays):
        arrays["noise"] = np.full(SHAPE, bad_value)

    out = assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "image.fits", "Only 0 of the 1600 pixels",
                            "1600 have a NaN/inf/zero/negative noise", f"Check the noise map {tmp_path / 'noise.fits'}.")
    assert "dataset.mask" not in out  # no mask was given: not among what to check


def test_all_nan_image_refused(tmp_path):
    """The message sent the user to 'check dataset.mask / dataset.mask_path and the noise map',
    neither of which was at fault; it now names the image."""
    def edit(_, arrays):
        arrays["image"] = np.full(SHAPE, np.nan)

    out = assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "image.fits", "1600 are NaN/inf in the data",
                            f"Check the image {tmp_path / 'image.fits'}.")
    assert "noise map" not in out and "dataset.mask" not in out


def test_a_mask_leaving_too_few_pixels_is_named_as_what_to_check(tmp_path):
    def edit(config, arrays):
        config["dataset"]["mask"] = {"type": "circle", "r_max": 0.03}

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "Check dataset.mask / dataset.mask_path.")


def test_inf_noise_pixels_masked(tmp_path):
    def edit(_, arrays):
        arrays["noise"].flat[[5, 6]] = np.inf

    out = assert_ok(invoke("validate", write_case(tmp_path, edit=edit)))
    assert "Warning:" in out and "noise.fits: 2 pixels" in out and "pixels used 1598 of 1600" in out


@pytest.mark.parametrize(
    "setting, fragments",
    [
        ({"method": "nautilius"}, ["inference.method", "'nautilius'", "nautilus", "dynesty"]),
        ({"settings": {"nlvie": 100}}, ["inference.settings.nlvie", "not a setting of nautilus", "n_live"]),
        ({"type": "optimizer", "method": "lbfgs", "settings": {"popsize": 5}}, ["inference.settings.popsize", "lbfgs"]),
        ({"settings": {"nlive": -5}}, ["inference.settings.nlive", "whole number >= 1", "-5"]),
        ({"settings": {"batch_size": "lots"}}, ["inference.settings.batch_size", "whole number", "'lots'"]),
        ({"settings": {"f_live": 2.0}}, ["inference.settings.f_live", "between 0 and 1"]),
        ({"settings": {"resume": "yes"}}, ["inference.settings.resume", "true or false"]),
        ({"method": "dynesty", "settings": {"dlogz": 0}}, ["inference.settings.dlogz", "> 0", "dynesty"]),
        ({"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 2.5}}, ["inference.settings.n_starts", "whole number"]),
    ],
    ids=["method", "nautilus-setting", "optimiser-setting", "nlive-negative", "batch-string", "f_live-range",
         "resume-string", "dynesty-dlogz", "lbfgs-starts"],
)
def test_bad_inference_settings(tmp_path, setting, fragments):
    """The message names the config file, as for any other key of it (it named the key alone)."""
    def edit(cfg, _):
        cfg["inference"].update(setting)

    path = write_case(tmp_path, edit=edit)
    assert_user_error(invoke("validate", path), f"Error: In config file {path}: {fragments[0]}", *fragments)
    # fit refuses it before touching the output folder (an old result there is left alone)
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "result.json").write_text("{}\n")
    assert_user_error(invoke("fit", path, "--quiet"), f"Error: In config file {path}: {fragments[0]}", *fragments)
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == ["result.json"]


@pytest.mark.parametrize("case", ["missing-data", "bad-prior", "shape-mismatch"])
def test_fit_bad_input_writes_nothing(tmp_path, case):
    def edit(cfg, arrays):
        if case == "missing-data":
            cfg["dataset"]["data_path"] = "missing.fits"
        elif case == "bad-prior":
            cfg["model_components"]["lens_mass_list"][0]["params"]["theta_E"] = _free("uniform", 2.0, 1.0)
        else:
            arrays["noise"] = np.full((30, 30), 0.05)

    path = write_case(tmp_path, edit=edit)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert_user_error(invoke("fit", path, "--quiet"))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_fit_read_only_output(tmp_path):
    (tmp_path / "output").mkdir()
    (tmp_path / "output").chmod(0o555)
    try:
        assert_user_error(invoke("fit", write_case(tmp_path), "--quiet"), "output", "cannot be written")
    finally:
        (tmp_path / "output").chmod(0o755)


# -- what validate refuses that a fit would otherwise get wrong or refuse later ------------------
def _mge_lens_light(cfg: dict, settings: dict) -> None:
    link = lambda p: {"fixed": True, "fixed_value": {"component_type": "lens_mass_list", "component_idx": 0, "parameter": p}}
    cfg["model_components"]["lens_light_list"] = [{
        "type": "MGE", "settings": settings,
        "params": {"e1": _free("gaussian", 0.0, 0.2), "e2": _free("gaussian", 0.0, 0.2),
                   "center_x": link("center_x"), "center_y": link("center_y"), "amps": {"use_linear": True}},
    }]


def test_use_linear_on_a_non_linear_parameter_is_refused(tmp_path):
    """It used to fix theta_E at 0 silently (a lens without mass) and report 'OK'."""
    def edit(cfg, _):
        cfg["model_components"]["lens_mass_list"][0]["params"]["theta_E"] = {"use_linear": True}

    out = assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)),
                            "lens_mass_list[0].params.theta_E", "use_linear", "non-linearly")
    assert str(tmp_path / "model_config.yaml") in out  # the config file is named


def test_use_linear_on_a_light_shape_parameter_is_refused(tmp_path):
    def edit(cfg, _):
        cfg["model_components"]["source_light_list"][0]["params"]["R_sersic"] = {"use_linear": True}

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)),
                      "source_light_list[0].params.R_sersic", "amplitude 'Ie'")


@pytest.mark.parametrize("settings, fragments", [
    ({"n_gauss": 12, "sigma_min": 0, "sigma_max": 5.0}, ["sigma_min=0"]),
    ({"n_gauss": "twelve"}, ["n_gauss='twelve'"]),
    ({"n_gauss": 2.5}, ["n_gauss=2.5"]),
    ({"sigma_min": 2.0, "sigma_max": 1.0}, ["sigma_max=1.0"]),
])
def test_bad_mge_settings_name_the_key(tmp_path, settings, fragments):
    out = assert_user_error(invoke("validate", write_case(tmp_path, edit=lambda cfg, _: _mge_lens_light(cfg, settings))),
                            "lens_light_list[0].settings", *fragments)
    assert "ValueError" not in out


@pytest.mark.parametrize("settings, fragments", [
    ({"n_gauss": True}, ["n_gauss=true", "(given: {'n_gauss': true})"]),
    ({"sigma_min": None}, ["sigma_min=null", "(given: {'sigma_min': null})"]),
    ({"n_gauss": [True, None]}, ["n_gauss=[true, null]", "(given: {'n_gauss': [true, null]})"]),
])
def test_bad_mge_settings_are_written_as_the_yaml_gave_them(tmp_path, settings, fragments):
    """The config said true and null (YAML's words); the message said Python's True and None."""
    out = assert_user_error(invoke("validate", write_case(tmp_path, edit=lambda cfg, _: _mge_lens_light(cfg, settings))),
                            "lens_light_list[0].settings", *fragments)
    assert "True" not in out and "None" not in out


def test_unknown_component_settings_are_refused(tmp_path):
    assert_user_error(invoke("validate", write_case(tmp_path / "a", edit=lambda cfg, _: _mge_lens_light(cfg, {"n_gaus": 3}))),
                      "lens_light_list[0].settings.n_gaus", "n_gauss, sigma_max, sigma_min")

    def sersic(cfg, _):
        cfg["model_components"]["source_light_list"][0]["settings"] = {"n_gauss": 3}

    assert_user_error(invoke("validate", write_case(tmp_path / "b", edit=sersic)),
                      "source_light_list[0].settings.n_gauss", "Sersic takes no settings")


def test_good_mge_settings_pass(tmp_path):
    settings = {"n_gauss": 6, "sigma_min": 0.05, "sigma_max": 2.0}
    out = assert_ok(invoke("validate", write_case(tmp_path, edit=lambda cfg, _: _mge_lens_light(cfg, settings))))
    assert "ready to fit" in out


@pytest.mark.parametrize("key, name", [("tables", "tables/summary.csv"), ("figures", "../corner.png")])
def test_output_file_names_must_not_hold_folders(tmp_path, key, name):
    """A folder in a table's name used to pass validate and fail after the whole search."""
    field = "summary" if key == "tables" else "corner"

    def edit(cfg, _):
        cfg["output"][key] = {field: name}

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), f"output.{key}.{field}", "plain file name", name)


def test_validate_checks_the_corner_parameters_as_fit_does(tmp_path):
    def edit(cfg, _):
        cfg["output"]["corner_parameters"] = ["lens_mass.0.thetaE"]

    path = write_case(tmp_path, edit=edit)
    for command in ("validate", "fit"):
        assert_user_error(invoke(command, path), f"Error: In config file {path}: output.corner_parameters: "
                          "'lens_mass.0.thetaE' is not a free parameter of this model. Did you mean "
                          "'lens_mass.0.theta_E' instead of 'lens_mass.0.thetaE'?")
    assert not (tmp_path / "output").exists()


def test_a_corner_parameter_listed_twice_is_refused_by_validate_and_fit(tmp_path):
    """output.corner_parameters: [theta_E, theta_E] (e1 copied where e2 was meant) loaded, and
    after the whole fit the corner plot drew theta_E's row and column twice and the parameter meant
    not at all. It is refused by validate and fit before anything is written, naming the name listed
    twice and those not listed: dropping it with a warning would still leave the one meant out."""
    def edit(cfg, _):
        cfg["output"]["corner_parameters"] = ["lens_mass.0.theta_E", "lens_mass.0.theta_E"]

    path = write_case(tmp_path, edit=edit)
    for command in ("validate", "fit"):
        result = invoke(command, path)
        assert_user_error(result, f"Error: In config file {path}: output.corner_parameters lists 'lens_mass.0.theta_E' "
                          "2 times; the corner plot would draw it as many times. List each parameter once (another "
                          "meant? not listed: ")
    assert not (tmp_path / "output").exists()


def test_a_likelihood_that_is_nowhere_finite_is_refused_by_validate_and_fit(tmp_path, nan_sie):
    """An SIE made NaN (nan_sie): the likelihood is -inf for every parameter vector, so no fit
    can work (nautilus would search forever): validate and fit both stop with exit 2, and fit
    before it writes anything."""
    nan_sie()
    path = write_case(tmp_path)
    for command in ("validate", "fit"):
        assert_user_error(invoke(command, path), str(path), "not finite at the prior median", "64 random draws")
    assert not (tmp_path / "output").exists()


def test_a_likelihood_that_is_nowhere_finite_is_a_config_value_error_in_python(tmp_path, nan_sie):
    """From Python, a likelihood finite nowhere in the priors was the plain ConfigError; it is a
    wrong value of the priors or the data, so tinylens.fit and check_likelihood (what validate
    runs) raise a ConfigValueError (a ValueError too), the message as the command line says it."""
    import tinylens
    from tinylens.errors import ConfigValueError
    from tinylens.fitting.checks import check_likelihood

    nan_sie()
    path = write_case(tmp_path)
    message = (f"In config file {path}: the log-likelihood is not finite at the prior median nor at any of 64 random "
               "draws from the priors, so nothing can be fitted.")
    with pytest.raises(ConfigValueError) as err:
        tinylens.fit(path, progress=False)
    assert flat(str(err.value)).startswith(message) and isinstance(err.value, ValueError), str(err.value)
    with pytest.raises(ConfigValueError) as err:
        check_likelihood(tinylens.load(path), path)
    assert flat(str(err.value)).startswith(message), str(err.value)
    assert not (tmp_path / "output").exists()

def test_a_likelihood_nowhere_finite_from_an_absurd_pixel_scale_names_pixel_scale(tmp_path):
    """pixel_scale: 1e300 (a positive number, so the schema takes it) overflows the pixels'
    coordinates: the error listed only the usual causes (ellipticity, priors, data), never
    pixel_scale."""
    def edit(cfg, _):
        cfg["dataset"]["pixel_scale"] = 1e300

    path = write_case(tmp_path, edit=edit)
    for command in ("validate", "fit"):
        result = invoke(command, path)
        out = flat(result.output)
        assert result.exit_code == 2 and "Traceback" not in out, out
        error = out[out.index("Error:"):]  # after the warning that pixel_scale is implausible
        assert 'Likely cause: dataset.pixel_scale is 1e+300"/pixel, far outside the 0.001" to 10"' in error, error
    assert not (tmp_path / "output").exists()


def test_validate_warns_when_the_likelihood_is_not_finite_at_the_prior_median_only(tmp_path, nan_sie):
    """e1's prior centred on 1, and an SIE made NaN from e1 = 0.999 (nan_sie; a real one is
    clipped to |e| = 0.9999 and finite): -inf at the prior median, finite for the draws with
    e1 < 0.999: a warning and no 'OK', but exit 0 (a sampler can start)."""
    nan_sie(lambda p: p["e1"] >= 0.999)

    def edit(cfg, _):
        cfg["model_components"]["lens_mass_list"][0]["params"]["e1"] = _free("uniform", 0.6, 1.4)

    result = invoke("validate", write_case(tmp_path, edit=edit))
    out = assert_ok(result)
    assert "prior median" in out and "finite elsewhere in the prior" in out
    assert "ready to fit" not in out and "check the warning above" in out
    # the prior itself is named: half of U(0.6, 1.4) lies where |e1| >= 1
    assert "lens_mass_list[0].params.e1: 50 % of the prior (U(0.6, 1.4))" in " ".join(out.split())


@pytest.mark.parametrize(
    "prior, warned",
    [
        (_free("uniform", 0.9, 1.1), True),  # half of it beyond 1
        (_free("uniform", -0.5, 0.5), False),
        (_free("gaussian", 0.0, 0.3), False),  # 9e-4 of the mass beyond |e1| = 1: not worth a word
        (_free("gaussian", 0.0, 0.6), True),  # 9.6 % beyond
    ],
    ids=["uniform_half_out", "uniform_inside", "gaussian_narrow", "gaussian_wide"],
)
def test_a_prior_reaching_outside_its_domain_is_warned_about_by_name(tmp_path, prior, warned):
    """A prior with more than 1 % of its mass outside the parameter's allowed values (computed from
    its CDF) gets a warning that names the key and the share; validate still exits 0."""
    def edit(cfg, _):
        cfg["model_components"]["lens_mass_list"][0]["params"]["e1"] = prior

    out = " ".join(assert_ok(invoke("validate", write_case(tmp_path, edit=edit))).split())
    expected = {0.9: "50 %", 0.0: "9.56 %"}.get(prior["prior_settings"][0])
    if warned:
        assert f"lens_mass_list[0].params.e1: {expected} of the prior" in out
        assert "Narrow the prior" in out
    else:
        assert "of the prior" not in out


@pytest.mark.parametrize(
    "params, fragments",
    [
        ({"e1": {"fixed": True, "fixed_value": 1.5}}, ("params.e1", "fixed value 1.5", "(-1, 1)")),
        (
            {"e1": {"fixed": True, "fixed_value": 0.8}, "e2": {"fixed": True, "fixed_value": -0.7}},
            ("lens_mass_list[0].params", "e1 = 0.8 and e2 = -0.7", "|e| = 1.06"),
        ),
        ({"theta_E": {"fixed": True, "fixed_value": 0.0}}, ("params.theta_E", "fixed value 0", "> 0")),
        ({"theta_E": _free("uniform", -2.0, -0.5)}, ("params.theta_E", "the prior allows only [-2, -0.5]", "> 0")),
        ({"e2": _free("uniform", 1.2, 1.5)}, ("params.e2", "[1.2, 1.5]", "(-1, 1)")),
        (
            {"e1": _free("uniform", 0.75, 0.9), "e2": _free("uniform", 0.75, 0.9)},
            ("lens_mass_list[0].params", "e1 with prior U(0.75, 0.9) and e2 with prior U(0.75, 0.9)", "|e| = 1.06"),
        ),
        (
            {"e1": {"fixed": True, "fixed_value": 0.9}, "e2": _free("gaussian", 0.0, 0.3) | {"limits": [0.5, 1.0]}},
            ("lens_mass_list[0].params", "e1 fixed at 0.9 and e2 with prior N(0, 0.3) in [0.5, 1]", "|e| = 1.03"),
        ),
    ],
    ids=["e1_outside", "e_modulus_over_1", "theta_E_zero", "theta_E_prior_negative", "e2_prior_outside",
         "e_priors_modulus_over_1", "e_fixed_and_prior_modulus_over_1"],
)
def test_a_parameter_fixed_or_confined_outside_its_domain_is_refused_by_name(tmp_path, params, fragments):
    """A fixed value, or a whole prior range, where the profile describes no galaxy (|e| >= 1, a
    size <= 0; e1 and e2 whose priors allow no pair with |e| < 1) is refused when the config is
    read, naming the key; validate and fit exit 2 and write nothing (a clipped ellipticity used to
    give a finite but meaningless likelihood, and a fit that sampled it for ever)."""
    def edit(cfg, _):
        cfg["model_components"]["lens_mass_list"][0]["params"].update(params)

    path = write_case(tmp_path, edit=edit)
    for command in ("validate", "fit"):
        assert_user_error(invoke(command, path), str(path), *fragments)
    assert not (tmp_path / "output").exists()


def test_fit_refuses_a_folder_another_fit_is_writing(tmp_path):
    """Two jobs with one output folder (an array job whose tasks share a config) would overwrite
    each other's checkpoint; the second is refused, naming the first, and leaves the folder as it was."""
    from tinylens import filenames
    from tinylens.locks import folder_lock

    path = write_case(tmp_path)
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "result.json").write_text("{}\n")
    with folder_lock(tmp_path / "output", filenames.FIT_LOCK, busy="{holder}"):
        out = assert_user_error(invoke("fit", path, "--quiet"), "is being written by another tinylens fit",
                                f"(process {os.getpid()} on", "another output.path")
        assert "output" in out
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == ["result.json"]
    assert (tmp_path / "output" / "result.json").read_text() == "{}\n"


def test_fit_refuses_a_folder_another_fit_is_writing_before_it_computes_the_likelihood(tmp_path, monkeypatch):
    """The second of two fits started on one output folder (an array job's tasks sharing a config)
    computed, and so compiled, the likelihood for its check before it looked at the lock: refused
    only after 37 s on a loaded 2-core machine, 8 s of them the likelihood (longer for a bigger model). It
    now looks at the lock first: refused with the first fit named, no likelihood computed."""
    import tinylens
    from tinylens import filenames
    from tinylens.errors import OutputError
    from tinylens.locks import folder_lock
    from tinylens.problem import Problem

    path = write_case(tmp_path)
    (tmp_path / "output").mkdir()
    calls, original = [], Problem.log_likelihood

    def counted(self, theta):
        calls.append(len(np.atleast_2d(theta)))
        return original(self, theta)

    monkeypatch.setattr(Problem, "log_likelihood", counted)
    with folder_lock(tmp_path / "output", filenames.FIT_LOCK, busy="{holder}"):
        with pytest.raises(OutputError, match="is being written by another tinylens fit") as caught:
            tinylens.fit(path, progress=False)
    assert f"(process {os.getpid()} on" in str(caught.value)
    assert calls == []  # refused before the likelihood was computed (and compiled)
    assert list((tmp_path / "output").iterdir()) == []  # nothing written (the lock file went with its holder)


def test_fit_names_another_users_lock_file_left_in_its_folder(tmp_path, not_ours):
    """A .fit.lock this user may not open (another user's killed fit in a shared folder) ran the
    fit unlocked, as on a disk without locks; the fit now stops, naming the file and what to do,
    and leaves the folder as it was."""
    from tinylens import filenames

    path = write_case(tmp_path)
    lock = tmp_path / "output" / filenames.FIT_LOCK
    lock.parent.mkdir()
    lock.write_text("process 12 on node3, since long ago")
    not_ours(lock)
    assert_user_error(invoke("fit", path, "--quiet"), f"The lock file {lock} (owned by",
                      "cannot be opened (Permission denied)",
                      f"remove {lock} (or ask its owner to) and run the same command (or tinylens.fit call) again.")
    assert sorted(p.name for p in lock.parent.iterdir()) == [filenames.FIT_LOCK]


def test_fit_names_a_folder_where_its_lock_file_goes(tmp_path):
    """A folder named .fit.lock in the output folder ran the fit unlocked, as on a disk without
    locks; the fit now stops, naming it, and leaves the folder as it was."""
    from tinylens import filenames

    path = write_case(tmp_path)
    lock = tmp_path / "output" / filenames.FIT_LOCK
    lock.mkdir(parents=True)
    assert_user_error(invoke("fit", path, "--quiet"), f"{lock} is a folder, where tinylens keeps the lock file",
                      "Remove or rename it, and run the same command (or tinylens.fit call) again.")
    assert sorted(p.name for p in lock.parent.iterdir()) == [filenames.FIT_LOCK]


@pytest.mark.parametrize("code", ["ENOSPC", "EDQUOT", "EROFS"])
def test_fit_on_a_disk_that_refuses_its_lock_files_text_is_an_output_error(tmp_path, monkeypatch, code):
    """The lock file's text (who holds it) is the fit's first write after its empty files: on a
    disk over quota, whose empty files still fit, it raised the OSError itself from tinylens.fit,
    folder_lock being entered outside disk_full_reported. It is now the OutputError of any other
    write of the fit that the disk refuses, nothing sampled, no lock file left."""
    import errno

    import tinylens
    from tinylens.errors import OutputError

    number = getattr(errno, code, errno.ENOSPC)
    path = write_case(tmp_path)
    out = tmp_path / "output"

    def refused(fd, data, offset):
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(os, "pwrite", refused)
    with pytest.raises(OutputError) as raised:
        tinylens.fit(path, progress=False)
    said = " ".join(str(raised.value).split())
    assert said.startswith(f"Output folder {out}: ") and os.strerror(number) in said, said
    assert ("read-only" in said) if number == errno.EROFS else ("your quota on it, is full" in said), said
    assert sorted(p.name for p in out.iterdir()) == []


def test_fit_on_a_disk_without_locks_warns_that_a_second_fit_would_not_be_refused(tmp_path, monkeypatch, failing_flock):
    """On a file system without flock (NFS without its lock daemon: ENOLCK) a fit ran unlocked and
    said nothing, so a second fit in the same folder was not refused as the docs promise; it now
    warns, naming the output folder, and goes on. Where locks work it does not."""
    import errno

    import tinylens
    from tinylens import inference
    from tinylens.errors import DataWarning

    class Sampled(Exception):
        """Raised where the fit would sample: what it said before is all this test needs."""

    def sample(*args, **kwargs):
        raise Sampled

    def told(folder: Path) -> list[str]:
        path = write_case(folder)
        with warnings.catch_warnings(record=True) as caught, pytest.raises(Sampled):
            warnings.simplefilter("always")
            tinylens.fit(path, progress=False)
        return [" ".join(str(w.message).split()) for w in caught if "file locks" in str(w.message)
                and w.category is DataWarning]

    monkeypatch.setattr(inference, "run_inference", sample)
    assert told(tmp_path / "locked") == []
    failing_flock(errno.ENOLCK)
    said = told(tmp_path / "unlocked")
    assert len(said) == 1 and said[0].startswith(f"The file system of the output folder {tmp_path / 'unlocked' / 'output'} "
                                                 "does not support file locks"), said
    assert "a second tinylens fit started in this folder while this one runs would not be refused" in said[0]


def test_a_data_path_in_the_home_of_no_known_user_is_named(tmp_path):
    """dataset.data_path '~tl_no_such_user/image.fits' ended 'tinylens validate' in a traceback
    (RuntimeError: Could not determine home directory); it is now a user error naming the path."""
    def edit(config, arrays):
        config["dataset"]["data_path"] = "~tl_no_such_user/image.fits"

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "~tl_no_such_user/image.fits: there is no user "
                      "'tl_no_such_user' on this machine")


def test_an_output_path_in_the_home_of_no_known_user_is_named(tmp_path):
    """output.path '~tl_no_such_user/run' ended 'tinylens fit' in a traceback (RuntimeError:
    Could not determine home directory) before anything ran; it is now a user error naming it."""
    def edit(config, arrays):
        config["output"] = {"path": "~tl_no_such_user/run"}

    assert_user_error(invoke("fit", write_case(tmp_path, edit=edit)), "~tl_no_such_user/run: there is no user")


def test_a_mask_path_in_the_home_of_no_known_user_is_named(tmp_path):
    """dataset.mask_path '~tl_no_such_user/mask.fits' still ended 'tinylens validate' in the traceback
    'RuntimeError: Could not determine home directory': the hint about relative paths expanded it
    before the path itself was resolved."""
    def edit(config, arrays):
        config["dataset"]["mask_path"] = "~tl_no_such_user/mask.fits"

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "~tl_no_such_user/mask.fits: there is no user "
                      "'tl_no_such_user' on this machine")


def test_a_dynesty_history_in_the_home_of_no_known_user_is_named(tmp_path):
    """inference.settings.history_filename '~tl_no_such_user/h.h5' ended 'tinylens validate' (and
    fit) in the traceback 'RuntimeError: Could not determine home directory'; it is now a user
    error naming the key and the path."""
    def edit(config, arrays):
        config["inference"] = {"type": "sampler", "method": "dynesty", "settings": {
            "nlive": 20, "save_evaluation_history": True, "history_filename": "~tl_no_such_user/h.h5"}}

    assert_user_error(invoke("validate", write_case(tmp_path, edit=edit)), "inference.settings.history_filename: "
                      "~tl_no_such_user/h.h5: there is no user 'tl_no_such_user' on this machine")


def test_the_adaptive_supersampling_counts_one_pixel_in_the_singular():
    """validate's line on an adaptive supersampling said '4x4 for 1 pixels' of a factor given to one
    pixel (the lens centre's); it now says '1 pixel', and '3 pixels' as before."""
    from types import SimpleNamespace

    from tinylens.cli.validate import supersampling_text

    problem = SimpleNamespace(nsub_map=np.array([[1, 1], [1, 4]]))
    assert supersampling_text(problem) == "adaptive, 1x1 for 3 pixels, 4x4 for 1 pixel"
    assert supersampling_text(SimpleNamespace(nsub_map=2)) == "uniform, 2x2 per pixel"


@pytest.mark.parametrize("name", ["../output/result.json", "ABSOLUTE"])
def test_a_dynesty_history_that_resolves_onto_result_json_is_refused_by_validate_as_by_fit(tmp_path, name):
    """history_filename '../output/result.json' (or the absolute path of output/result.json), with
    output.path 'output', is result.json once taken from the output folder: 'tinylens fit' refused it
    before its stages, but 'tinylens validate' said the config was ready to fit, as it checked the
    settings without the output folder; it now refuses it as fit does, and makes no output folder."""
    folder = tmp_path / "case"
    history = str(folder / "output" / "result.json") if name == "ABSOLUTE" else name

    def edit(config, arrays):
        config["inference"] = {"type": "sampler", "method": "dynesty", "settings": {
            "nlive": 20, "save_evaluation_history": True, "history_filename": history}}

    config = write_case(folder, edit=edit)
    out = assert_user_error(invoke("validate", config), f"inference.settings.history_filename: '{history}' is the "
                            "file result.json that tinylens writes itself in the output folder")
    assert "ready to fit" not in out
    assert not (folder / "output").exists()
    import tinylens
    from tinylens.errors import ConfigError
    with pytest.raises(ConfigError, match="is the file result.json that tinylens writes itself"):
        tinylens.fit(config, progress=False)
    assert not (folder / "output" / "result.json").exists()


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_config_path_is_said_to_be_empty_not_the_current_folder(tmp_path, monkeypatch, empty):
    """tinylens.load(os.environ.get("CONFIG", "")) with the variable unset, or tinylens.fit(""), was
    answered 'Config path . is a folder; give the config's YAML file (it holds no .yaml or .yml
    file)', or, in a folder holding one YAML file, pointed at it: the empty text read as the
    current folder. It is now said to be an empty path, as an empty output= or base_dir= is, and
    nothing is written."""
    import tinylens
    from tiny_lens import write_tiny_lens
    from tinylens.errors import ConfigError

    write_tiny_lens(tmp_path)  # the current folder holds a config: the empty path must not lead to it
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    for call in (tinylens.load, tinylens.fit):
        with pytest.raises(ConfigError) as caught:
            call(empty)
        assert str(caught.value) == ("A configuration must be a YAML file path or a mapping; got an empty path "
                                     f"({empty!r}: an unset variable?): give the config's YAML file.")
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("blank", ["\n", " \n\t", "\r\n", "\n\n"])
def test_a_config_text_of_line_breaks_alone_is_said_to_be_empty_not_yaml_text(tmp_path, monkeypatch, blank):
    """tinylens.load("\\n") (the text of an empty file, or of an unset variable read with its line
    break) was told 'this string holds several lines, so it looks like the YAML text itself: give
    yaml.safe_load(text)', which gives None, no mapping; it holds no YAML at all. It is now said to
    be an empty path, as "" and "  " are (a ConfigValueError), and nothing is written."""
    import tinylens
    from tiny_lens import write_tiny_lens

    write_tiny_lens(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    assert yaml.safe_load(blank.replace("\t", " ")) is None  # what the old advice gave: no config
    for call in (tinylens.load, tinylens.fit):
        with pytest.raises(tinylens.ConfigValueError) as caught:
            call(blank)
        assert str(caught.value) == ("A configuration must be a YAML file path or a mapping; got an empty path "
                                     f"({blank!r}: an unset variable?): give the config's YAML file.")
        assert "YAML text" not in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == before


def test_an_empty_pathlib_path_as_the_config_is_said_to_be_the_current_folder(tmp_path, monkeypatch):
    """tinylens.load(Path(os.environ.get("CONFIG", ""))) with the variable unset was answered 'Config
    path . is a folder; give the YAML file inside it: ...', a '.' the user never typed: Python makes
    Path("") the current folder, Path("."), so it cannot be told from a '.' given on purpose (only a
    str '' can). The message now says '.' is the current folder, which, and that Path('') is it too;
    the YAML files there are still named, and nothing is written."""
    import tinylens
    from tiny_lens import write_tiny_lens

    config = write_tiny_lens(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    for call in (tinylens.load, tinylens.fit):
        with pytest.raises(tinylens.ConfigError) as caught:
            call(Path(""))
        text = " ".join(str(caught.value).split())
        assert text.startswith(f"Config path . is the current folder ({Path.cwd()}), not a YAML file (from Python, "
                               "Path('') is '.' too: an unset variable?); give the YAML file inside it: ")
        assert text.endswith(f"{config.name}.")
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("command", ["validate", "fit"])
def test_a_dot_typed_on_the_command_line_is_not_hedged_as_pythons_empty_path(command, tmp_path, monkeypatch):
    """``tinylens validate .`` said '... not a YAML file (from Python, Path('') is '.' too: an unset
    variable?)', a hedge for a Python caller that a command-line user, who typed the '.' (an empty
    path is refused there before), never needs; the command line leaves it out, while
    tinylens.load(Path("")) still gives it, in the same process after the command."""
    import tinylens
    from tiny_lens import write_tiny_lens

    config = write_tiny_lens(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    out = assert_user_error(invoke(command, "."), "Config path . is the current folder (",
                            "), not a YAML file; give the YAML file inside it: ", f"{config.name}.")
    assert "Path('')" not in out and "Python" not in out and "unset variable" not in out, out
    with pytest.raises(tinylens.ConfigError) as caught:
        tinylens.load(Path(""))
    assert "not a YAML file (from Python, Path('') is '.' too: an unset variable?); " in flat(str(caught.value))
    assert sorted(os.listdir(tmp_path)) == before


# -- YAML 1.1's readings of unquoted words (on, off, yes, no, ~, dates) ---------------------------
def write_yaml_edit(folder: Path, old: str, new: str) -> Path:
    """The small case's config with the YAML text ``old`` replaced by ``new`` (a word written as
    the user types it, which yaml.safe_dump would quote or write as ``false``)."""
    path = write_case(folder)
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("word", ["off", "No", "yes"])
def test_corner_parameters_given_a_word_yaml_reads_as_a_boolean_says_how_yaml_read_it(tmp_path, word):
    """``corner_parameters: off`` (a list of names, 'mass' or 'all' expected) was refused as "should be
    'mass', 'all' or a list of parameter names ...; got false", a false never written, while
    ``draw_figures: off`` said that YAML reads an unquoted off as false; it now says so too."""
    read = yaml.safe_load(f"x: {word}")["x"]
    assert isinstance(read, bool)  # the independent truth: PyYAML reads the word as a boolean
    path = write_yaml_edit(tmp_path, "  path: output", f"  path: output\n  corner_parameters: {word}")
    shown = str(read).lower()
    words = ("yes, on or true" if read else "no, off or false")
    assert_user_error(invoke("validate", path), "output.corner_parameters: should be 'mass', 'all' or a list of ",
                      f"; got {shown}. YAML reads an unquoted {words} as {shown}.")


@pytest.mark.parametrize("written", ["corner_parameters: ~", "corner_parameters: null", "corner_parameters:"])
def test_corner_parameters_given_no_value_is_said_as_any_key_given_none(tmp_path, written):
    """output.corner_parameters given no value (``~``, ``null`` or nothing after the colon) was refused as
    "should be 'mass', 'all' or a list of parameter names ...; got null", a null never written, where
    draw_figures: ~ and every other key given none say 'has no value (nothing after the colon, or null);
    give it a value: ...'; it is now said so too."""
    assert yaml.safe_load(f"x: {written.partition(':')[2]}")["x"] is None  # the independent truth: YAML reads null
    path = write_yaml_edit(tmp_path, "  path: output", f"  path: output\n  {written}")
    out = assert_user_error(invoke("validate", path), "(1) output.corner_parameters: has no value (nothing after the "
                            "colon, or null); give it a value: tinylens key: parameters of the corner plot: 'mass' ")
    assert "got null" not in out, out
    draw = write_yaml_edit(tmp_path / "draw", "  path: output", "  path: output\n  draw_figures: ~")
    assert_user_error(invoke("validate", draw), "(1) output.draw_figures: has no value (nothing after the colon, or "
                      "null); give it a value: ")  # the wording of a key given no value


@pytest.mark.parametrize("written, key, fragment", [
    ("sampler: off", "sampling.sampler", "should be a valid string; got false. YAML reads an unquoted no, off or false"),
    ("sampler: 2024-01-01", "sampling.sampler", "should be a valid string; got 2024-01-01. YAML reads it, unquoted, as a date"),
    ("sampler: [nautilus]", "sampling.sampler", "should be a valid string; got ['nautilus']")])
def test_a_tinylensgpu_sampling_section_s_mistake_is_named_by_the_key_written(tmp_path, written, key, fragment):
    """TinyLensGpu's older ``sampling: {sampler: off}`` (read as inference: {type: sampler, method: ...})
    was refused under 'inference.method', a key the config does not hold; the message now names
    the key the user wrote, sampling.sampler, with how YAML read the value."""
    def edit(cfg, _):
        del cfg["inference"]

    path = write_case(tmp_path, edit=edit)
    path.write_text(path.read_text() + f"sampling:\n  {written}\n")
    out = assert_user_error(invoke("validate", path), f"(1) {key}: {fragment}")
    assert "inference" not in out, out


@pytest.mark.parametrize("written, fragment", [
    ("nlive: 0", "sampling.nlive: must be a whole number >= 1 for nautilus, got 0."),
    ("nliv: 50", "sampling.nliv: not a setting of nautilus. Did you mean 'nlive'"),
    ("sampler: nautlus", "sampling.sampler: unknown sampler method 'nautlus'."),
    ("n_points_min: 1", "sampling.n_points_min: must be a whole number >= "),
    ("sampler: dynesty\n  walks: 0", "sampling.walks: must be a whole number >= 1 for dynesty, got 0.")])
def test_a_tinylensgpu_sampling_section_s_sampler_setting_mistake_is_named_by_the_key_written(tmp_path, written, fragment):
    """A config with TinyLensGpu's older ``sampling:`` section (read as inference: {type: sampler, method:
    its sampler, settings: its other keys}) had its sampler's checks name keys the file does not hold
    ('inference.settings.nlive: ...', 'inference.method: unknown sampler method ...'); they now name
    the keys written there, sampling.nlive and sampling.sampler, the key YAML read first in the file."""
    def edit(cfg, _):
        del cfg["inference"]

    path = write_case(tmp_path, edit=edit)
    path.write_text(path.read_text() + f"sampling:\n  {written}\n")
    key = written.split("\n")[-1].split(":")[0].strip()
    assert key in yaml.safe_load(path.read_text())["sampling"]  # the independent truth: the key the file holds
    out = assert_user_error(invoke("validate", path), fragment, f"sampling.{key}:")
    assert "inference" not in out, out


def test_a_tinylensgpu_sampling_section_s_settings_refused_together_are_named_by_the_section_written(tmp_path):
    """Settings that dynesty refuses only together (a parameter both periodic and reflective, each
    list valid alone) in TinyLensGpu's older ``sampling:`` section were said as 'inference.settings:
    dynesty refuses these settings together (...)', a section the file does not hold, as bf3739c
    renamed only the keys of one setting; the section written, sampling, is named now."""
    def edit(cfg, _):
        del cfg["inference"]

    path = write_case(tmp_path, edit=edit)
    path.write_text(path.read_text() + "sampling:\n  sampler: dynesty\n  nlive: 50\n  periodic: [0]\n  reflective: [0]\n")
    written = yaml.safe_load(path.read_text())
    assert "inference" not in written and written["sampling"]["periodic"] == written["sampling"]["reflective"] == [0]
    out = assert_user_error(invoke("validate", path), "sampling: dynesty refuses these settings together (",
                            "both periodic and reflective")
    assert "inference" not in out, out


def test_a_tinylensgpu_sampling_section_s_dynesty_history_on_the_fit_s_own_file_is_named_by_the_key_written(tmp_path):
    """A dynesty history_filename in TinyLensGpu's older ``sampling:`` section that reaches a file of
    tinylens's own in the output folder only once resolved against it (../output/result.json) was
    said as 'inference.settings.history_filename: ...', a key the file does not hold, as the check
    with the output folder ran outside bf3739c's renaming; it names sampling.history_filename now."""
    def edit(cfg, _):
        del cfg["inference"]

    path = write_case(tmp_path, edit=edit)
    path.write_text(path.read_text() + "sampling:\n  sampler: dynesty\n  nlive: 50\n  save_evaluation_history: true\n"
                                       "  history_filename: ../output/result.json\n")
    written = yaml.safe_load(path.read_text())
    assert "inference" not in written and written["output"]["path"] == "output"
    # the independent truth: the name, resolved against the output folder, is the fit's own result.json
    assert (path.parent / "output" / written["sampling"]["history_filename"]).resolve() == \
        (path.parent / "output" / "result.json").resolve()
    out = assert_user_error(invoke("validate", path),
                            "sampling.history_filename: '../output/result.json' is the file result.json")
    assert "inference" not in out, out


@pytest.mark.parametrize("written, key", [("nlive: 50", "sampling: nautilus (the sampler where sampling names none)"),
                                          ("sampler: nautilus\n  nlive: 50", "sampling.sampler: nautilus")])
def test_a_tinylensgpu_sampling_section_s_nautilus_on_one_free_parameter_is_told_the_key_and_the_fix_as_written(
        tmp_path, written, key):
    """nautilus on a model of 1 free parameter from TinyLensGpu's older ``sampling:`` section was told
    'sampling.sampler: nautilus needs at least 2 free parameters, the model has 1. Use method dynesty
    or an optimizer.': a section that leaves out sampler was named by a key it does not hold, and
    both were told of 'method', which such a file writes as sampler, and of an optimizer, which a
    sampling section cannot run. The section is named where sampler is left out (with nautilus said
    to be its default), and the fix is said in its words: set sampler: dynesty (validate and fit, exit 2)."""
    def edit(cfg, _):
        del cfg["inference"]
        for components in cfg["model_components"].values():
            for component in components:
                for name, prior in component["params"].items():
                    if prior.get("fixed") is False and name != "theta_E":
                        component["params"][name] = {"fixed": True, "fixed_value": 0.5}

    path = write_case(tmp_path, edit=edit)
    path.write_text(path.read_text() + f"sampling:\n  {written}\n")
    config = yaml.safe_load(path.read_text())
    free = [name for components in config["model_components"].values() for component in components
            for name, prior in component["params"].items() if prior.get("fixed") is False]
    assert free == ["theta_E"] and "inference" not in config  # the independent truth: one free parameter
    assert ("sampler" in config["sampling"]) == key.startswith("sampling.sampler")
    for command in ("validate", "fit"):
        out = assert_user_error(invoke(command, path), f"{key} needs at least 2 free parameters, the model has 1. "
                                "Set sampler: dynesty in the sampling section")
        assert "inference." not in out and "method" not in out, out  # no key of inference's, no 'Use method'
        if "sampler" not in config["sampling"]:
            assert "sampling.sampler" not in out, out


@pytest.mark.parametrize("written, package, key, other", [
    ("nlive: 50", "nautilus", "sampling: nautilus (the sampler where sampling names none)", "dynesty"),
    ("sampler: dynesty\n  nlive: 50", "dynesty", "sampling.sampler: dynesty", "nautilus")])
def test_a_tinylensgpu_sampling_section_s_sampler_not_installed_is_told_the_other_in_its_words(
        tmp_path, monkeypatch, written, package, key, other):
    """A sampler whose package is not installed, named (or left out) in TinyLensGpu's older
    ``sampling:`` section, was told to '... or choose another sampler method (dynesty)', a method
    key such a file does not write; it is told to set sampler: dynesty (or nautilus) in the
    sampling section, the key named as written (validate and fit, exit 2)."""
    from tinylens.inference import dynesty_settings, nautilus_settings

    def edit(cfg, _):
        del cfg["inference"]

    path = write_case(tmp_path, edit=edit)
    path.write_text(path.read_text() + f"sampling:\n  {written}\n")
    config = yaml.safe_load(path.read_text())
    assert "inference" not in config and config["sampling"].get("sampler", "nautilus") == package  # the truth
    monkeypatch.setitem(sys.modules, package, None)  # its import: ModuleNotFoundError, as where it is not installed
    monkeypatch.delitem(sys.modules, f"tinylens.inference.{package}_runner", raising=False)
    try:
        for command in ("validate", "fit"):
            out = assert_user_error(invoke(command, path), f"{key} cannot run here: the package {package} it needs "
                                    f"is not installed", f"; or set sampler: {other} in the sampling section.")
            assert "method" not in out and "inference" not in out, out
    finally:  # the settings' names read with the package 'missing' are not kept for later tests
        nautilus_settings.source_keywords.cache_clear()
        dynesty_settings.source_keywords.cache_clear()


@pytest.mark.parametrize("section", ["sampling", "inference"])
def test_with_neither_sampler_installed_no_other_sampler_is_advised(tmp_path, monkeypatch, section):
    """Where neither sampler's package is installed, a config of nautilus (in an ``inference:`` or
    TinyLensGpu's older ``sampling:`` section) was told to install nautilus '; or set sampler:
    dynesty in the sampling section' (or choose dynesty), a sampler that cannot run either, whose
    own message then advised nautilus; only installing is advised (validate and fit, exit 2)."""
    from tinylens.inference import dynesty_settings, nautilus_settings

    def edit(cfg, _):
        del cfg["inference"]

    path = write_case(tmp_path, edit=edit)
    written = "sampling:\n  nlive: 50\n" if section == "sampling" else \
        "inference:\n  type: sampler\n  method: nautilus\n  settings: {nlive: 50}\n"
    path.write_text(path.read_text() + written)
    assert section in yaml.safe_load(path.read_text())  # the truth: nautilus, as written or by default
    key = "sampling: nautilus (the sampler where sampling names none)" if section == "sampling" else "inference.method: nautilus"
    for package in ("nautilus", "dynesty"):  # their imports: ModuleNotFoundError, as where neither is installed
        monkeypatch.setitem(sys.modules, package, None)
        monkeypatch.delitem(sys.modules, f"tinylens.inference.{package}_runner", raising=False)
    try:
        for command in ("validate", "fit"):
            out = assert_user_error(invoke(command, path), f"{key} cannot run here: the package nautilus it needs "
                                    "is not installed", "install 'nautilus-sampler[checkpointing]').")
            assert "dynesty" not in out and "; or" not in out, out
    finally:  # the settings' names read with the packages 'missing' are not kept for later tests
        nautilus_settings.source_keywords.cache_clear()
        dynesty_settings.source_keywords.cache_clear()


@pytest.mark.parametrize("history, fragment", [
    ("../image.fits", "and that file is the dataset's data_path file"),
    ("h" * 300 + ".npz", "and its name is 304 bytes, a name longer than the system allows")])
def test_a_tinylensgpu_sampling_section_s_history_file_refused_with_the_output_folder_is_named_by_the_key_written(
        tmp_path, history, fragment):
    """A dynesty history_filename in TinyLensGpu's older ``sampling:`` section that reaches the fit's
    own image.fits, or whose name is too long for the system, was refused (fit and validate, exit 2)
    as 'inference.settings.history_filename: dynesty would write ...', a key the file does not hold,
    as these checks of the output folder (fit.py's _check_history_kept) named it themselves; they
    name sampling.history_filename now."""
    def edit(cfg, _):
        del cfg["inference"]

    path = write_case(tmp_path, edit=edit)
    path.write_text(path.read_text() + "sampling:\n  sampler: dynesty\n  nlive: 50\n  save_evaluation_history: true\n"
                                       f"  history_filename: {history}\n")
    (tmp_path / "output").mkdir()
    written = yaml.safe_load(path.read_text())
    assert "inference" not in written and written["sampling"]["history_filename"] == history
    if history.startswith(".."):  # the independent truth: resolved against the output folder, it is the data
        assert (tmp_path / "output" / history).resolve() == (tmp_path / "image.fits").resolve()
    else:
        assert len(history.encode()) > os.pathconf(tmp_path, "PC_NAME_MAX")
    for command in ("validate", "fit"):
        out = assert_user_error(invoke(command, path), "sampling.history_filename: dynesty would write its "
                                "evaluation history ", fragment)
        assert "inference" not in out, out
    assert fits.getdata(tmp_path / "image.fits").shape == SHAPE  # the data is kept


@pytest.mark.parametrize("method, word, key, fragment", [
    ("nautilus", "yes", "n_points_min", "must be a whole number >= "),
    ("nautilus", "on", "periodic", "must be a list of distinct parameter indices from 0 to "),
    ("nautilus", "on", "neural_network_kwargs", "must be a mapping of scikit-learn MLPRegressor settings for nautilus"),
    ("dynesty", "yes", "ncdim", "must be a whole number from 1 to "),
    ("dynesty", "off", "history_filename", "must be a file name for dynesty")])
def test_a_sampler_setting_outside_the_shared_rules_given_a_yaml_boolean_word_says_how_yaml_read_it(tmp_path, method, word,
                                                                                                    key, fragment):
    """The sampler settings checked by their method's own rules, not the shared ones (n_points_min,
    periodic, neural_network_kwargs, ncdim, history_filename), given a word YAML 1.1 reads as a
    boolean, said 'got true.' alone, a value never written, where nlive: off says how YAML read the
    word; they now say it too."""
    read = yaml.safe_load(f"x: {word}")["x"]
    assert isinstance(read, bool)  # the independent truth: PyYAML reads the word as a boolean
    shown = str(read).lower()
    words = "yes, on or true" if read else "no, off or false"

    def edit(cfg, _):
        cfg["inference"]["method"] = method

    path = write_case(tmp_path, edit=edit)
    path.write_text(path.read_text().replace("    nlive: 50", f"    nlive: 50\n    {key}: {word}"))
    assert yaml.safe_load(path.read_text())["inference"]["settings"][key] is read
    assert_user_error(invoke("validate", path), f"inference.settings.{key}: {fragment}",
                      f"got {shown} (in a YAML file, an unquoted {words} reads as {shown}).")


@pytest.mark.parametrize("old, written, key, fragment", [
    ("  path: output", "  path: output\n  on: 3", "output.on", "unknown key 'on' (YAML read the key on, unquoted, as true: "
                                                             "write it in quotes, 'on', to give it as text)."),
    ("  nsub: 2", "  nsub: 2\n  No: 3", "dataset.No", "unknown key 'No' (YAML read the key No, unquoted, as false: "),
    ("  nsub: 2", "  nsub: 2\n  ~: 3", "dataset.~", "unknown key '~' (YAML read the key ~, unquoted, as null: "),
    ("    nlive: 50", "    nlive: 50\n    off: 3", "inference.settings.off",
     "a key here must be text (YAML read the key off, unquoted, as false: write it in quotes, 'off', to give it as text).")])
def test_a_key_yaml_reads_as_a_boolean_or_null_is_named_as_written(tmp_path, old, written, key, fragment):
    """A key YAML 1.1 reads as no text (``on:`` as true, ``No:`` as false, ``~:`` as null) was reported as
    'output.True: unknown key True' (in inference.settings as 'inference.settings[0].[key]: should be a
    valid string; got false'), names the user never wrote; it is now named as written, with how YAML
    read it and to quote it."""
    word = written.split("\n")[-1].split(":")[0].strip()
    assert not isinstance(next(iter(yaml.safe_load(f"{word}: 3"))), str)  # the independent truth: no text key
    path = write_yaml_edit(tmp_path, old, written)
    out = assert_user_error(invoke("validate", path), f"(1) {key}: {fragment}")
    assert "True" not in out and "False" not in out and "[key]" not in out and "None" not in out, out


@pytest.mark.parametrize("old, written, fragment", [
    ("  path: output", "  path: output\n  ?\n  : 3", "(1) output: unknown key '' (YAML read an empty key as null: "
                                                     "write the key's name before its colon, or delete the line)."),
    ("    nlive: 50", "    nlive: 50\n    ?\n    : 3", "a key here must be text (YAML read an empty key as null: "
                                                       "write the key's name before its colon, or delete the line).")])
def test_an_empty_key_is_said_to_be_empty_not_quoted_as_nothing(tmp_path, old, written, fragment):
    """An empty key (``?`` on a line of its own, ``: 3`` below it), which YAML reads as null, was told
    'YAML read the key , unquoted, as null: write it in quotes, '', to give it as text', a key never
    named and a fix (``'': 3``) that is refused in turn; it is now said to be empty, and to be named."""
    assert yaml.safe_load("?\n: 3") == {None: 3}  # the independent truth: an empty key, read as null
    out = assert_user_error(invoke("validate", write_yaml_edit(tmp_path, old, written)), fragment)
    assert "the key ," not in out and "in quotes, ''" not in out, out


@pytest.mark.parametrize("written, fragment", [
    ("    ?\n    : 3", "(1) inference.settings.'': a key here must be text (YAML read an empty key as null"),
    ("    '': 3", "inference.settings.'': not a setting of nautilus.")])
def test_an_empty_key_in_the_settings_is_named_as_quotes_not_as_a_trailing_dot(tmp_path, written, fragment):
    """An empty key in inference.settings (read as null, ``?``, or as the empty text, ``'':``) was
    placed at 'inference.settings.:', a path ending in a bare dot that names nothing; it is now
    "inference.settings.''"."""
    key = next(iter(yaml.safe_load(written.replace("    ", ""))))
    assert key in ("", None), key  # the independent truth: an empty key, as YAML reads it
    edited = write_yaml_edit(tmp_path, "    nlive: 50", f"    nlive: 50\n{written}")
    out = assert_user_error(invoke("validate", edited), fragment)
    assert "settings.:" not in out, out


@pytest.mark.parametrize("written", ["      ?\n      :", "      '':"])
def test_an_empty_parameter_name_is_named_as_quotes_as_the_settings_one_is(tmp_path, written):
    """A parameter of an empty name read as the empty text (``'':``) was placed at
    'model_components.lens_mass_list[0].params.: unknown parameter ...', a path ending in a bare dot,
    while the same key read as null (``?``) was placed at "params.''"; both are now "params.''"."""
    old = "      center_y:\n        fixed: true\n        fixed_value: 0.0"
    path = write_yaml_edit(tmp_path, old, f"{old}\n{written}\n        fixed: true\n        fixed_value: 0.0")
    params = yaml.safe_load(path.read_text())["model_components"]["lens_mass_list"][0]["params"]
    assert set(params) - {"theta_E", "e1", "e2", "center_x", "center_y"} in ({""}, {None})  # the independent truth
    where = "model_components.lens_mass_list[0].params.'':"
    out = assert_user_error(invoke("validate", path), where if "?" in written else f"{where} unknown parameter ''")
    assert "params.:" not in out, out


@pytest.mark.parametrize("old, written, section, fragment", [
    ("    nlive: 50", "    nlive: 50\n    ' ': 3", ("inference", "settings"),
     "inference.settings.' ': not a setting of nautilus."),
    ("      center_y:\n        fixed: true\n        fixed_value: 0.0",
     "      center_y:\n        fixed: true\n        fixed_value: 0.0\n      '  ':\n        fixed: true\n        fixed_value: 0.0",
     ("model_components", "lens_mass_list", 0, "params"), "model_components.lens_mass_list[0].params.'  ': unknown parameter")])
def test_a_key_of_spaces_alone_is_named_in_quotes_not_as_a_trailing_dot(tmp_path, old, written, section, fragment):
    """A key of plain spaces alone (``' ': 3``) was placed at 'inference.settings. : not a setting ...'
    or 'params.  : unknown parameter ...', a path ending in a dot and spaces that read as no key, as
    the empty key was before; it is now named in quotes, "inference.settings.' '"."""
    path = write_yaml_edit(tmp_path, old, written)
    keys = yaml.safe_load(path.read_text())
    for part in section:
        keys = keys[part]
    assert [key for key in keys if not key.strip()] in ([" "], ["  "])  # the independent truth: a key of spaces
    out = assert_user_error(invoke("validate", path), fragment)
    assert "settings. :" not in out and "params.  :" not in out, out


@pytest.mark.parametrize("old, written, fragment", [
    ("        prior_settings:\n        - 0.5\n        - 2.0", "        prior_settings: off",
     "model_components.lens_mass_list[0].params.theta_E.prior_settings: should be a list of two numbers [a, b]; got "
     "false. YAML reads an unquoted no, off or false as false."),
    ("output:\n  path: output", "output: no", "(1) output: expected a mapping (key: value pairs) with keys path, "),
    ("  settings:\n    nlive: 50", "  settings: Yes", "(1) inference.settings: expected a mapping (key: value pairs); "
                                                       "got true. YAML reads an unquoted yes, on or true as true.")])
def test_a_word_yaml_reads_as_a_boolean_where_a_list_or_mapping_belongs_says_how_yaml_read_it(tmp_path, old, written,
                                                                                              fragment):
    """``prior_settings: off``, ``output: no`` or ``settings: Yes`` was refused as '...; got false' (or true), a
    value the user never wrote, where a number's or a text's key says how YAML read the word; a list's
    or a section's does now too."""
    word = written.split(":")[-1].strip()
    assert isinstance(yaml.safe_load(word), bool)  # the independent truth: PyYAML reads the word as a boolean
    out = assert_user_error(invoke("validate", write_yaml_edit(tmp_path, old, written)), fragment)
    read = str(yaml.safe_load(word)).lower()
    assert f"got {read}. YAML reads an unquoted " in out and f" as {read}." in out, out


@pytest.mark.parametrize("written, fragment", [
    ("nlive: off", "inference.settings.nlive: must be a whole number >= 1 for nautilus, got false (in a YAML file, "
                   "an unquoted no, off or false reads as false)."),
    ("f_live: yes", "inference.settings.f_live: must be a number between 0 and 1 for nautilus, got true (in a YAML file, "
                    "an unquoted yes, on or true reads as true).")])
def test_a_sampler_setting_given_a_word_yaml_reads_as_a_boolean_says_how_yaml_read_it(tmp_path, written, fragment):
    """``inference.settings.nlive: off`` was refused as 'must be a whole number >= 1 for nautilus, got false',
    a false never written, where the schema's numbers say how YAML read the word; the sampler's settings
    say it too."""
    assert isinstance(yaml.safe_load(written.split(":")[1]), bool)  # the independent truth
    assert_user_error(invoke("validate", write_yaml_edit(tmp_path, "    nlive: 50", f"    {written}")), fragment)


@pytest.mark.parametrize("words", [("on", "yes", "Off", "no"), ("yes", "on", "no", "Off")])
def test_one_key_written_as_different_words_in_two_mappings_is_named_in_each_as_written_there(tmp_path, words):
    """The loader kept the words of a key YAML reads as no text for the whole file, and named the key
    by the first it met: a file with yes: in output and on: in dataset was told 'output.on: unknown key
    'on'', a word output does not hold (and inference.settings's no: was 'Off', dataset's word). Each key
    is now named by the word of its own mapping."""
    true_dataset, true_output, false_settings, false_dataset = words
    assert {yaml.safe_load(f"{w}: 1").popitem()[0] for w in words[:2]} == {True}  # the independent truth: one key
    assert {yaml.safe_load(f"{w}: 1").popitem()[0] for w in words[2:]} == {False}
    path = write_yaml_edit(tmp_path, "  nsub: 2", f"  nsub: 2\n  {true_dataset}: 3\n  {false_dataset}: 3")
    path.write_text(path.read_text().replace("  path: output", f"  path: output\n  {true_output}: 3", 1)
                    .replace("    nlive: 50", f"    nlive: 50\n    {false_settings}: 3", 1))
    assert_user_error(
        invoke("validate", path),
        f"dataset: unknown keys '{true_dataset}', '{false_dataset}' (YAML read the key {true_dataset}, unquoted, as "
        f"true: write it in quotes, '{true_dataset}', to give it as text) (YAML read the key {false_dataset}, "
        "unquoted, as false",
        f"output.{true_output}: unknown key '{true_output}' (YAML read the key {true_output}, unquoted, as true",
        f"inference.settings.{false_settings}: a key here must be text (YAML read the key {false_settings}, "
        "unquoted, as false")
