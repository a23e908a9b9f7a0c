"""The YAML schema and loader: TinyLensGpu configs validate; mistakes give readable ConfigErrors."""

from __future__ import annotations

import copy
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from tinylens.config import Config, ParamLink, load_config, resolve_path
from tinylens.errors import ConfigError, ConfigWarning, TinyLensError

EXAMPLE = """\
dataset:
  data_path: "data/image.fits"
  noise_path: "data/noise.fits"
  psf_path: "data/psf.fits"
  pixel_scale: 0.074
model_components:
  lens_mass_list:
    - type: "SIE"
      params:
        theta_E: {prior_type: "uniform", prior_settings: [0.001, 3.001], limits: [0.0, 10.0], fixed: false}
        e1: {prior_type: "gaussian", prior_settings: [0.0, 0.3], limits: [-1.0, 1.0], fixed: false}
        e2: {prior_type: "gaussian", prior_settings: [0.0, 0.3], limits: [-1.0, 1.0], fixed: false}
        center_x: {fixed: true, fixed_value: 0.0}
        center_y: {fixed: true, fixed_value: 0.0}
    - type: "SHEAR"
      params:
        gamma1: {prior_type: "uniform", prior_settings: [-0.2, 0.2], limits: [-0.5, 0.5], fixed: false}
        gamma2: {prior_type: "uniform", prior_settings: [-0.2, 0.2], limits: [-0.5, 0.5], fixed: false}
  source_light_list:
    - type: "Sersic"
      params:
        R_sersic: {prior_type: "uniform", prior_settings: [0.001, 2.001], limits: [0.0, 5.0], fixed: false}
        n_sersic: {prior_type: "uniform", prior_settings: [0.3, 2.3], limits: [0.3, 6.0], fixed: false}
        e1: {prior_type: "gaussian", prior_settings: [0.0, 0.3], limits: [-1.0, 1.0], fixed: false}
        e2: {prior_type: "gaussian", prior_settings: [0.0, 0.3], limits: [-1.0, 1.0], fixed: false}
        center_x: {prior_type: "gaussian", prior_settings: [0.0, 0.5], limits: [-3.0, 3.0], fixed: false}
        center_y: {prior_type: "gaussian", prior_settings: [0.0, 0.5], limits: [-3.0, 3.0], fixed: false}
        Ie: {use_linear: true}
  lens_light_list:
    - type: "Gaussian"
      params:
        sigma: {fixed: true, fixed_value: 0.0188}
        center_x: {fixed: true, fixed_value: {component_type: lens_light_list, component_idx: 0, parameter: center_x}}
        flux: {use_linear: true}
inference:
  type: "sampler"          # sampler | optimizer
  method: "nautilus"       # any string; checked later
  settings: {nlive: 200, batch_size: 800}
solver_type: "nnls"        # nnls | normal
output:
  path: "output"
  figures: {results: "model_results.png", corner: "model_corner.png"}
  tables: {samples: "result_samples.csv", summary: "result_summary.csv"}
  datasets: {subplot: "dataset_subplot.png"}
"""

MASS0 = "model_components.lens_mass_list[0].params"


@pytest.fixture
def example() -> dict:
    return yaml.safe_load(EXAMPLE)


def write(tmp_path: Path, text: str, name: str = "model_config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(source) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(source)
    text = str(info.value)
    assert "pydantic" not in text and "Traceback" not in text
    return text


# -- valid configs ------------------------------------------------------------------------------
def test_example_validates_and_base_dir_is_yaml_folder(tmp_path):
    cfg, base = load_config(write(tmp_path, EXAMPLE))
    assert isinstance(cfg, Config)
    assert base == tmp_path.resolve()
    assert cfg.dataset.pixel_scale == 0.074 and cfg.dataset.nsub == 4 and cfg.dataset.mask is None
    theta_e = cfg.model_components.lens_mass_list[0].params["theta_E"]
    assert theta_e.prior_type == "uniform" and theta_e.prior_settings == (0.001, 3.001) and theta_e.is_free
    link = cfg.model_components.lens_light_list[0].params["center_x"].fixed_value
    assert isinstance(link, ParamLink) and link.component_type == "lens_light_list" and link.parameter == "center_x"
    assert cfg.model_components.source_light_list[0].params["Ie"].use_linear
    assert cfg.inference.settings == {"nlive": 200, "batch_size": 800}
    assert cfg.solver_type == "nnls" and cfg.output.tables.summary == "result_summary.csv"


def test_optional_sections_default_to_tinylensgpu_values(example):
    for key in ("inference", "solver_type", "output"):
        del example[key]
    example["model_components"]["lens_light_list"] = None  # "lens_light_list:" with no value
    cfg, base = load_config(example)
    assert base == Path.cwd()
    assert (cfg.inference.type, cfg.inference.method, cfg.inference.settings) == ("sampler", "nautilus", {})
    assert cfg.solver_type == "nnls" and cfg.output.path == "output"
    assert cfg.output.figures.results == "model_results.png" and cfg.output.figures.corner == "model_corner.png"
    assert cfg.output.tables.samples == "result_samples.csv"
    assert cfg.output.datasets.subplot == "dataset_subplot.png"
    assert cfg.model_components.lens_light_list == []


def test_optional_dataset_keys_and_yaml_scientific_notation(tmp_path):
    text = EXAMPLE.replace(
        "  pixel_scale: 0.074\n",
        "  pixel_scale: 7.4e-2\n  nsub: 2\n  zeropoint: 25.9\n  mask_path: mask.fits\n"
        "  mask: {type: annulus, r_min: 0.3, r_max: 2.5, center_x: 0.1}\n",
    )
    cfg, _ = load_config(write(tmp_path, text))
    d = cfg.dataset
    assert d.pixel_scale == pytest.approx(0.074) and d.nsub == 2 and d.zeropoint == 25.9
    assert d.mask.type == "annulus" and (d.mask.r_min, d.mask.r_max, d.mask.center_x, d.mask.center_y) == (0.3, 2.5, 0.1, 0.0)


def test_component_settings_and_optimizer_accepted(example):
    example["model_components"]["lens_light_list"][0]["settings"] = {"n_gauss": 20, "sigma_min": 0.01}
    example["inference"] = {"type": "optimizer", "method": "differential_evolution", "settings": {"popsize": 15}}
    example["solver_type"] = "normal"
    cfg, _ = load_config(example)
    assert cfg.model_components.lens_light_list[0].settings["n_gauss"] == 20
    assert cfg.inference.type == "optimizer" and cfg.solver_type == "normal"


def test_method_left_out_is_the_types_default(example):
    """docs/config.md: an optimizer's method defaults to differential_evolution (not the
    sampler's nautilus, which check_inference would refuse for an optimizer)."""
    from tinylens.inference import check_inference

    example["inference"] = {"type": "optimizer"}
    cfg, _ = load_config(example)
    assert cfg.inference.method == "differential_evolution"
    check_inference(cfg, n_dim=3)
    example["inference"] = {"type": "sampler"}
    assert load_config(example)[0].inference.method == "nautilus"
    assert load_config({**example, "inference": None})[0].inference.method == "nautilus"
    example["inference"] = {"type": "optimizer", "method": "lbfgs"}
    assert load_config(example)[0].inference.method == "lbfgs"


@pytest.mark.parametrize("kind, method", [("Sampler", "Nautilus"), ("SAMPLER", "dynesty"),
                                          ("Optimizer", "Differential_Evolution")])
def test_inference_type_and_method_in_any_case_as_tinylensgpu(example, kind, method):
    """TinyLensGpu lowercases inference.type and inference.method before reading them, so a
    config of its with 'type: Sampler, method: Nautilus' runs there; it was refused here."""
    from tinylens.inference import check_inference

    example["inference"] = {"type": kind, "method": method, "settings": {}}
    cfg, _ = load_config(example)
    assert (cfg.inference.type, cfg.inference.method) == (kind.lower(), method.lower())
    check_inference(cfg, n_dim=3)


def test_tinylensgpus_older_sampling_section_is_its_inference(example):
    """TinyLensGpu's RunLensModel reads a config without 'inference' by its older section
    'sampling: {sampler: ..., nlive: ...}' (a sampler run, the rest its settings); here
    'sampling' was an unknown key."""
    from tinylens.inference import check_inference

    del example["inference"]
    example["sampling"] = {"sampler": "dynesty", "nlive": 200, "dlogz": 0.05}
    cfg, _ = load_config(example)
    assert (cfg.inference.type, cfg.inference.method, cfg.inference.settings) == \
        ("sampler", "dynesty", {"nlive": 200, "dlogz": 0.05})
    check_inference(cfg, n_dim=3)
    example["sampling"] = {"nlive": 200, "batch_size": 100}  # no sampler: nautilus, as there
    cfg, _ = load_config(example)
    assert (cfg.inference.method, cfg.inference.settings) == ("nautilus", {"nlive": 200, "batch_size": 100})


def test_one_fit_written_as_inference_or_as_sampling_with_or_without_its_sampler_loads_equal_configs(example):
    """The same fit written as an inference section, as TinyLensGpu's older sampling: section with
    'sampler: nautilus', and as one that leaves the sampler (nautilus, the default) out loaded as
    Configs that compared unequal (sampling: with and without its sampler since the Config records
    whether the section gave one, for its messages), though each key and value of theirs is the
    same; they are equal now, while their messages still name the keys as each file wrote them, and
    a config of another value is not equal."""
    from tinylens.config.loader import key_as_written

    settings = {"nlive": 200, "batch_size": 800}
    assert example["inference"] == {"type": "sampler", "method": "nautilus", "settings": settings}
    written = {"inference": example,
               "sampling with its sampler": {**without(example, "inference"), "sampling": {"sampler": "nautilus", **settings}},
               "sampling without it": {**without(example, "inference"), "sampling": dict(settings)}}
    configs = {name: load_config(copy.deepcopy(data))[0] for name, data in written.items()}
    dumps = [config.model_dump(mode="json") for config in configs.values()]
    assert dumps[0] == dumps[1] == dumps[2]  # the independent truth: every key and value the same
    assert [key_as_written(config, "inference.method") for config in configs.values()] == \
        ["inference.method", "sampling.sampler", "sampling"]  # each named as written
    first, *others = configs.values()
    for name, config in configs.items():
        assert config == first and first == config, name
    other = copy.deepcopy(written["sampling without it"])
    other["sampling"]["nlive"] = 100
    assert load_config(other)[0] != configs["sampling without it"]


def without(data: dict, key: str) -> dict:
    """A copy of ``data`` without ``key``."""
    return {k: copy.deepcopy(v) for k, v in data.items() if k != key}


def test_sampling_beside_inference_is_not_read_and_says_so(example):
    """With both, TinyLensGpu reads 'inference' only; the unread 'sampling' is named."""
    example["sampling"] = {"sampler": "dynesty", "nlive": 50}
    with pytest.warns(ConfigWarning, match="sampling"):
        cfg, _ = load_config(example)
    assert cfg.inference.method == "nautilus" and cfg.inference.settings == {"nlive": 200, "batch_size": 800}


def test_tinylensgpus_position_likelihood_is_refused_as_not_supported(example):
    """TinyLensGpu's later section 'position_likelihood' (a penalty on models tracing the given
    image positions apart) was refused as "unknown key 'position_likelihood'. Allowed keys here:
    ...", as if misspelt; the message now says tinylens does not support it and what to do. Other
    unknown keys beside it are still named."""
    example["position_likelihood"] = {"positions": [[0.1, -1.0], [0.9, 1.5]], "threshold_arcsec": 0.3,
                                      "min_log_like": -1e10}
    text = error_of(example)
    assert "position_likelihood: TinyLensGpu's position likelihood" in text
    assert "is not supported by tinylens" in text and "remove the section" in text
    assert "unknown key" not in text and "Allowed keys here" not in text
    example["posterior"] = {}
    text = error_of(example)
    assert "is not supported by tinylens" in text and "unknown key 'posterior'" in text


@pytest.mark.parametrize("kind", [["optimizer"], {"optimizer": 1}])
def test_an_inference_type_that_is_not_a_string_is_a_config_error(example, kind):
    """The default method is looked up by type: a list or mapping there (unhashable) raised a
    TypeError with a traceback instead of the type's message."""
    example["inference"] = {"type": kind}
    assert "inference.type" in error_of(example)


def test_resolve_path(tmp_path):
    assert resolve_path(tmp_path, "data/image.fits") == tmp_path / "data" / "image.fits"
    assert resolve_path(tmp_path, "/abs/image.fits") == Path("/abs/image.fits")
    assert resolve_path(tmp_path, "~/image.fits") == Path.home() / "image.fits"


# -- file and YAML errors -----------------------------------------------------------------------
def test_yaml_text_instead_of_a_path_is_named_as_such(example):
    text = yaml.safe_dump(example)
    with pytest.raises(ConfigError) as err:
        load_config(text)
    assert "looks like the YAML text itself: give yaml.safe_load(text)" in str(err.value)
    assert "model_components" not in str(err.value)  # not the whole text in the message


@pytest.mark.parametrize("text", ["dataset: {data_path: image.fits, pixel_scale: 0.05}",
                                  "{dataset: {data_path: image.fits}, model_components: {}}"])
def test_one_line_of_yaml_text_instead_of_a_path_is_named_as_such(text, example, tmp_path, monkeypatch):
    """load("dataset: {data_path: x}"), the YAML text on one line, answered 'Config file not found:
    dataset: ...', as though a file of that name were missing; only text of several lines got the
    'give yaml.safe_load(text)' advice. One line that reads as YAML keys and values gets it too, while
    a file of such a name that exists is read, and a plain path that is missing is still 'not found'."""
    monkeypatch.chdir(tmp_path)
    message = error_of(text)
    assert "looks like the YAML text itself: give yaml.safe_load(text)" in message
    assert "not found" not in message and "image.fits" not in message
    (tmp_path / text).write_text(yaml.safe_dump(example))  # a file of that very name is a config file
    assert load_config(text)[0] == load_config(example)[0]
    assert "Config file not found: model.yaml" in error_of("model.yaml")


@pytest.mark.parametrize("how", ["several lines", "one line"])
def test_yaml_text_given_as_the_config_is_a_config_value_error(how, example, tmp_path, monkeypatch):
    """tinylens.load (and fit) refused the YAML text given as the config with a plain ConfigError,
    where an empty path is a ConfigValueError and a config of the wrong type (5, None) a
    ConfigTypeError: a text is the right type, holding the wrong value, so it is a ConfigValueError
    (a ValueError too); the message is unchanged."""
    import tinylens
    from tinylens.errors import ConfigValueError

    monkeypatch.chdir(tmp_path)
    text = yaml.safe_dump(example) if how == "several lines" else "dataset: {data_path: image.fits, pixel_scale: 0.05}"
    for call in (tinylens.load, tinylens.fit):
        with pytest.raises(ValueError) as info:
            call(text)
        assert type(info.value) is ConfigValueError, repr(info.value)
        assert "looks like the YAML text itself: give yaml.safe_load(text) (a mapping) instead." in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["lens 1: SIE.yaml", "D:\\runs\\lens 1: SIE.yaml", "2024-05-01 run: a.yaml", "{lens}"])
def test_a_missing_path_that_yaml_reads_as_keys_is_still_not_found(name, tmp_path, monkeypatch):
    """A file name with ': ' (a Windows path, a dated run) or an unformatted '{lens}' reads as a YAML
    mapping too, but of no config key: missing, it is 'not found', naming it and the folder looked
    in, not 'looks like the YAML text itself' (without the path) as 9554720 made it; a folder of such
    a name is still named as a folder, and one line of a config's own keys still gets the YAML advice."""
    monkeypatch.chdir(tmp_path)
    message = error_of(name)
    assert f"Config file not found: {name}" in message and "yaml.safe_load" not in message
    (tmp_path / "run: 2").mkdir()
    folder = error_of("run: 2")
    assert "Config path run: 2 is a folder" in folder and "yaml.safe_load" not in folder
    assert "give yaml.safe_load(text)" in error_of("output: {dir: results}")


def test_missing_file_names_the_path(tmp_path):
    text = error_of(tmp_path / "nope.yaml")
    assert "nope.yaml" in text and "not found" in text


def test_directory_instead_of_file(tmp_path):
    assert "folder" in error_of(tmp_path)


def test_yaml_syntax_error_gives_line(tmp_path):
    path = write(tmp_path, "dataset:\n  data_path: a.fits\n   noise_path: b.fits\n")
    text = error_of(path)
    assert "model_config.yaml" in text and "line 3" in text


def test_duplicate_key_is_refused_with_line(tmp_path):
    path = write(tmp_path, "dataset:\n  data_path: a.fits\n  data_path: b.fits\n")
    text = error_of(path)
    assert "data_path" in text and "twice" in text and "line 3" in text


@pytest.mark.parametrize("path, where", [
    ("C:\\data\\image.fits", "line 2, column 18"),  # \d: no escape sequence
    ("C:\\x1\\image.fits", "line 2, column 19"),  # \x needs 2 hex digits
    ("C:\\Users\\me\\image.fits", "line 2, column 19"),  # \U needs 8 hex digits
])
def test_a_windows_path_in_double_quotes_is_said_to_need_single_quotes(tmp_path, path, where):
    """A backslash in double quotes that starts no escape sequence got the generic hint to check
    the indentation, colons and quotes. The hint shows the user's own path written both ways (it
    showed the example C:\\data\\image.fits, whatever the path)."""
    text = error_of(write(tmp_path, f'dataset:\n  data_path: "{path}"\n'))
    assert where in text and "escape" in text, text
    forward = path.replace("\\", "/")
    assert f"single quotes ('{path}')" in text and f"forward slashes ({forward})" in text, text
    assert "indentation" not in text


@pytest.mark.parametrize("text, where, hint", [
    ("dataset:\n\tdata_path: a.fits\n", "line 2, column 1", "does not allow tab characters for indentation"),
    ("dataset:\n  -\tdata_path: a.fits\n", "line 2, column 4", "does not allow tab characters for indentation"),
    ("dataset:\n  pixel_scale:\t0.05\n", "line 2, column 15", "This tab is not indentation, but PyYAML"),
    ("dataset:\n  pixel_scale: 0.05\t# arcsec\n", "line 2, column 20", "This tab is not indentation, but PyYAML"),
    ("inference:\n  settings: {nlive:\t200}\n", "line 2, column 20", "This tab is not indentation, but PyYAML"),
    ("dataset:\n  data_path: a.fits\n\t\n  pixel_scale: 0.05\n", "line 3, column 1",
     "Line 3 looks blank but holds a tab, which YAML reads as indentation and does not allow: delete it."),
])
def test_a_tab_is_said_to_be_indentation_only_where_it_is(tmp_path, text, where, hint):
    """Every tab PyYAML refused got 'YAML does not allow tab characters for indentation', also one
    after a colon or before a comment, where the user had indented nothing (PyYAML takes no tab
    between a line's items either), and one on a line that looks blank."""
    message = error_of(write(tmp_path, text))
    assert where in message and hint in message, message
    assert ("for indentation" in message) == ("for indentation" in hint), message


@pytest.mark.parametrize("key, shown, where", [
    ("pixel\u200b_scale", "pixel\\u200b_scale", "a zero width space (U+200B) after 'pixel'"),
    ("pixel_scale\ufeff", "pixel_scale\\ufeff", "a zero width no-break space (U+FEFF) at its end"),
    ("pixel_scale\u00a0", "pixel_scale\\xa0", "a no-break space (U+00A0) at its end"),
])
def test_a_key_holding_an_invisible_character_is_said_to_hold_it(tmp_path, key, shown, where):
    """A key holding a zero-width space (text copied from a web page) got 'Did you mean
    'pixel_scale' instead of 'pixel_scale'?', two names that print alike, under the key path
    'dataset.pixel_scale' printed alike too; it names the character and where it is."""
    text = error_of(write(tmp_path, f"dataset:\n  data_path: a.fits\n  {key}: 0.05\n"))
    assert f"(1) dataset.{shown}: unknown key '{shown}'. '{shown}' is 'pixel_scale' with {where}" in text, text
    assert "delete it, or type 'pixel_scale' anew" in text and "Did you mean" not in text, text
    assert next(c for c in key if not c.isascii()) not in text  # shown as its escape only


@pytest.mark.parametrize("key, shown, where", [
    ("pixel _scale", "pixel _scale", "a space after 'pixel': remove it."),
    ("pixel _ scale", "pixel _ scale", "a space after 'pixel' and a space after 'pixel _': remove them."),
    ("'pixel_scale '", "pixel_scale ", "a space at its end: remove it."),
])
def test_a_key_holding_a_typed_space_is_said_to_hold_one(tmp_path, key, shown, where):
    """A plain space typed in a key ('pixel _scale') got the note meant for invisible characters:
    'a space (U+0020) ..., which an editor shows as a space or not at all (text copied from a web
    page or a document?)'; it now says where the space is, and to remove it."""
    text = error_of(write(tmp_path, f"dataset:\n  data_path: a.fits\n  {key}: 0.05\n"))
    assert f"unknown key '{shown}'. '{shown}' is 'pixel_scale' with {where}" in text, text
    assert "U+0020" not in text and "web page" not in text and "Did you mean" not in text, text


def test_a_windows_path_in_double_quotes_not_closed_on_its_line_gets_the_example(tmp_path):
    """Where the double-quoted text does not end on its line, the hint shows the example path."""
    text = error_of(write(tmp_path, 'dataset:\n  data_path: "C:\\Users\\me\\image.fits\n'))
    assert "single quotes ('C:\\data\\image.fits')" in text and "forward slashes (C:/data/image.fits)" in text, text


@pytest.mark.parametrize("text, where, fragment", [
    ('dataset:\n  data_path: "a.fits\n  noise_path: b.fits\n  pixel_scale: 0.1\n', "line 5, column 1",
     'The quote " opened at line 2, column 14 is not closed before line 5: add the closing " on line 2.'),
    ("dataset:\n  data_path: 'a.fits\n  noise_path: b.fits\n", "line 4, column 1",
     "The quote ' opened at line 2, column 14 is not closed before line 4: add the closing ' on line 2."),
    ("model_components:\n  lens_mass_list:\n  - type: SIE\n    params:\n      theta_E:\n"
     "        prior_settings: [0.5, 2.0\n        prior_type: uniform\n", "line 7, column 19",
     "The bracket [ opened at line 6, column 25 is not closed before line 7: add the closing ] on line 6."),
])
def test_an_unclosed_quote_or_bracket_is_found_where_it_was_opened(tmp_path, text, where, fragment):
    """An unclosed quote was reported only at the end of the file ('line 5, column 1: found
    unexpected end of stream'), where nothing is wrong, with the hint to check that line: the
    message now also says where the quote (or bracket) was opened and what closes it."""
    text = error_of(write(tmp_path, text))
    assert where in text and fragment in text, text


@pytest.mark.parametrize("text, where, fragment", [
    ('"dataset":\n  "data_path": a.fits\n "noise_path": b.fits\n', "line 3, column 2",
     "Check the indentation, colons and quotes on that line and the one before it."),
    ("model_components:\n  lens_mass_list:\n  - type: SIE\n    params:\n      theta_E: {prior_type: uniform,\n"
     "                prior_settings: [0.5, 2.0]\n                fixed: false}\n", "line 7, column 17",
     "The brace { opened at line 5, column 16 is closed on line 7: is a comma missing between its items, "
     "before line 7, column 17?"),
    ("dataset: {data_path: a.fits, mask: [1, 2,\n  nsub: 2}\n", "line 2, column 10",  # ] missing, not a comma
     "The bracket [ opened at line 1, column 36 is not closed before line 2: add the closing ] on line 1."),
])
def test_a_closed_quote_or_bracket_is_not_said_to_be_unclosed(tmp_path, text, where, fragment):
    """A mis-indented key under a mapping whose first key is quoted was said to be an unclosed
    quote ('The quote " opened at line 1, column 1 is not closed before line 3: add the closing "
    on line 1.'), and a comma missing in a brace spanning lines gave the advice to close the brace
    on its first line, which would cut off its last items."""
    text = error_of(write(tmp_path, text))
    assert where in text and fragment in text and ("not closed" not in text or "[" in fragment), text


@pytest.mark.parametrize("text, fragment", [
    ("dataset:\n  data_path: a.fits\n  pixel_scale:\u00a00.1\n  nsub: 2\n",
     "Line 3, column 15 holds a no-break space (U+00A0), which looks like a space but is not one to YAML"),
    ("dataset:\n  data_path: a.fits\n\u00a0 pixel_scale: 0.1\n  nsub: 2\n",
     "Line 3, column 1 holds a no-break space (U+00A0), which looks like a space but is not one to YAML"),
    ("dataset:\n  data_path: a.fits\n  pixel_scale\uff1a 0.1\n  nsub: 2\n",
     "Line 3, column 14 holds a fullwidth colon (U+FF1A), which looks like a colon but is not one to YAML"),
])
def test_a_space_or_colon_that_yaml_does_not_read_as_one_is_pointed_at(tmp_path, text, fragment):
    """A no-break space (as text copied from a web page holds) after a colon or in the indentation
    looks like a space: the error ('could not find expected ':'') came with the hint to check
    the indentation, colons and quotes of lines that look right. The hint now names the character."""
    text = error_of(write(tmp_path, text))
    assert "YAML syntax error" in text and fragment in text, text


@pytest.mark.parametrize("text, where, tag", [
    ("dataset:\n  data_path: !!python/object/apply:os.system ['touch pwned']\n", "line 2, column 14",
     "!!python/object/apply:os.system"),
    ("dataset:\n  pixel_scale: !scale 0.1\n", "line 2, column 16", "!scale"),
    ("dataset: {pixel_scale: !<tag:yaml.org,2002:python/tuple> [1]}\n", "line 1, column 24",
     "!<tag:yaml.org,2002:python/tuple>"),
])
def test_a_yaml_tag_is_refused_saying_tags_are_not_supported(tmp_path, text, where, tag):
    """A tag such as !!python/object/apply:os.system, which the safe loader has no constructor
    for, was refused at its line and column with the advice to check the indentation, colons and
    quotes there, which are fine: the advice now names the tag and says a config takes none. The
    heading said 'YAML syntax error' of a file whose syntax is fine: it now says what is wrong."""
    path = write(tmp_path, text)
    text = error_of(path)
    assert text.startswith(f"Unsupported YAML tag in config file {path} at {where}: "), text
    assert "syntax" not in text, text
    assert where in text and text.endswith(f". The tag {tag} is not supported: a config takes no YAML tags "
                                           "(!!... or !name). Remove it and write the value plainly (a number, "
                                           "text, a list or a mapping)."), text
    assert "indentation" not in text, text


NO_TAGS = ("A config needs no YAML tags (!!... or !name): remove the tag {} and write the value plainly (a number, "
           "text, a list or a mapping).")


@pytest.mark.parametrize("text, where, problem, hint", [
    ("dataset:\n  pixel_scale: !!int x\n", "line 2, column 16",
     "the value 'x' cannot be read as !!int (invalid literal for int() with base 10: 'x')", NO_TAGS.format("!!int")),
    ("dataset:\n  pixel_scale: !!timestamp 3\n", "line 2, column 16",
     "the value '3' cannot be read as !!timestamp", NO_TAGS.format("!!timestamp")),
    ("dataset:\n  pixel_scale: &scale !!float x\n", "line 2, column 16",
     "the value 'x' cannot be read as !!float", NO_TAGS.format("!!float")),
    ("dataset:\n  mask: !!set [1, 2]\n", "line 2, column 9", "this sequence cannot be read as !!set",
     NO_TAGS.format("!!set")),
    ("dataset:\n  data_path: !!binary xx\n", "line 2, column 14", "failed to decode base64 data",
     NO_TAGS.format("!!binary")),
    ("dataset:\n  observed: 2020-13-45\n", "line 2, column 13",
     "the value '2020-13-45' cannot be read as !!timestamp (month must be in 1..12)",
     "To write it as text, put it in quotes."),
])
def test_a_value_its_yaml_tag_cannot_be_built_from_is_refused_at_its_line(tmp_path, text, where, problem, hint):
    """A value that its tag cannot be built from, the tag written (!!int x, !!timestamp 3) or
    read from the value's form (2020-13-45, a date with no month 13), raised a bare ValueError or
    AttributeError from inside PyYAML: a traceback from `tinylens validate`; a !!set or !!binary
    value was called a syntax error, with advice about indentation. Each now names the file, line
    and value, and says what to write instead."""
    path = write(tmp_path, text)
    text = error_of(path)
    assert text.startswith(f"Invalid YAML value in config file {path} at {where}: {problem}"), text
    assert text.endswith(f". {hint}") and "syntax" not in text and "indentation" not in text, text


@pytest.mark.parametrize("value", ["!!map x", "!!set abc"])
def test_a_mapping_tag_on_a_plain_value_is_said_in_yaml_words(tmp_path, value):
    """!!map or !!set on a plain value was read by the duplicate-key check as if it were a mapping:
    Python's 'not enough values to unpack (expected 2, got 1)' ('too many values to unpack') was the
    reason given for the value, and 'xy' passed it to PyYAML's own 'expected a mapping node, but
    found scalar'. Each is now PyYAML's, at the value, with the advice to remove the tag."""
    path = write(tmp_path, f"dataset:\n  mask: {value}\n")
    text = error_of(path)
    tag = value.split()[0]
    assert text.startswith(f"Invalid YAML value in config file {path} at line 2, column 9: expected a mapping node, "
                           f"but found scalar. {NO_TAGS.format(tag)}"), text
    assert "unpack" not in text and "syntax" not in text, text


KEY_NOT_TEXT = ("A key must be plain text (such as pixel_scale), not a list or a mapping (a line that starts with "
                "'? ' makes the item after it a key): write the key as a word, in quotes if it holds brackets or braces.")
MERGE_NO_MAPPING = ("The merge key << must merge a mapping (such as <<: *name, where &name marks a mapping) or a list "
                    "of mappings into this one: give it one, or remove it.")
PAIRS = ("{0} takes a list of one-key mappings ('- key: value'), and a config needs no YAML tags (!!... or !name): "
         "remove the tag {0} and write the value plainly (a number, text, a list or a mapping).")


@pytest.mark.parametrize("text, heading, where, problem, hint", [
    ("dataset:\n  data_path: a.fits\n? [pixel_scale]\n: 0.1\n", "Invalid YAML key", "line 3, column 3",
     "found unhashable key", KEY_NOT_TEXT),
    ("dataset: {data_path: a.fits, {pixel_scale: 1}: 0.1}\n", "Invalid YAML key", "line 1, column 30",
     "found unhashable key", KEY_NOT_TEXT),
    ("dataset:\n  data_path: a.fits\n  <<: 3\n", "Invalid YAML merge key", "line 3, column 7",
     "expected a mapping or list of mappings for merging, but found scalar", MERGE_NO_MAPPING),
    ("dataset: {data_path: a.fits, <<: [{pixel_scale: 0.1}, 3]}\n", "Invalid YAML merge key", "line 1, column 55",
     "expected a mapping for merging, but found scalar", MERGE_NO_MAPPING),
    ("dataset:\n  mask: !!omap [1]\n", "Invalid YAML value", "line 2, column 17",
     "expected a mapping of length 1, but found scalar", PAIRS.format("!!omap")),
    ("dataset:\n  mask: !<tag:yaml.org,2002:omap>\n    - a: 1\n      b: 2\n", "Invalid YAML value",
     "line 3, column 7", "expected a single mapping item, but found 2 items", PAIRS.format("!<tag:yaml.org,2002:omap>")),
    ("dataset:\n  mask: !!pairs [x]\n", "Invalid YAML value", "line 2, column 18",
     "expected a mapping of length 1, but found scalar", PAIRS.format("!!pairs")),
])
def test_a_key_merge_or_omap_yaml_cannot_build_is_not_called_a_syntax_error(tmp_path, text, heading, where, problem,
                                                                            hint):
    """A list or mapping as a key ('? [a]', PyYAML's 'found unhashable key'), a merge key << given
    no mapping ({<<: 3}), and an !!omap or !!pairs value that is no list of one-key mappings were
    each reported as a 'YAML syntax error' with advice to check the indentation, colons and quotes,
    all of them fine. Each now has its own heading at its line and column, and says what is wrong."""
    path = write(tmp_path, text)
    text = error_of(path)
    assert text.startswith(f"{heading} in config file {path} at {where}: {problem}"), text
    assert text.endswith(f". {hint}") and "syntax" not in text and "indentation" not in text, text


@pytest.mark.parametrize("text, where, hint", [
    ("dataset:\n  mask: [1, 2\n", "line 3, column 1",
     "The bracket [ opened at line 2, column 9 is not closed before line 3: add the closing ] on line 2."),
    ("dataset:\n  data_path: a: b\n", "line 2, column 15",
     "Check the indentation, colons and quotes on that line and the one before it."),
    ("dataset:\n\tdata_path: a.fits\n", "line 2, column 1",
     "YAML does not allow tab characters for indentation; indent with spaces."),
])
def test_a_genuine_yaml_syntax_error_keeps_its_heading_and_hint(tmp_path, text, where, hint):
    """Beside the errors above, that are none of syntax, an unclosed bracket, 'a: b: c' and a tab
    are still each a 'YAML syntax error' with the hint they had. (A key given twice was pinned here
    as one too, on purpose; it is no syntax error, and has its own heading: see the test below.)"""
    path = write(tmp_path, text)
    text = error_of(path)
    assert text.startswith(f"YAML syntax error in config file {path} at {where}: "), text
    assert text.endswith(f". {hint}"), text


@pytest.mark.parametrize("text, where, key, first, mapping", [
    ("dataset:\n  data_path: a.fits\n  data_path: b.fits\n", "line 3, column 3", "data_path", 2, 2),
    ("dataset:\n  data_path: a.fits\n  pixel_scale: 0.1\n\nmodel_components: {}\ndataset: {}\n", "line 6, column 1",
     "dataset", 1, 1),
    ("dataset: {data_path: a.fits, nsub: 2, nsub: 4}\n", "line 1, column 39", "nsub", 1, 1),
    ('dataset:\n  "pixel\\tscale": 1\n  "pixel\\tscale": 2\n', "line 3, column 3", "pixel\\tscale", 2, 2),
], ids=["block", "section", "flow", "tab-in-key"])
def test_a_key_given_twice_is_a_duplicate_key_not_a_syntax_error(tmp_path, text, where, key, first, mapping):
    """A key given twice in one mapping, which YAML's syntax allows (PyYAML keeps the last), was
    headed 'YAML syntax error', which sends a user looking for a typo that is not there; a quoted key
    holding a tab got the advice to indent with spaces. It is a 'Duplicate YAML key' naming the file,
    the key (its tab written \\t) and both lines."""
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"Duplicate YAML key in config file {path} at {where}: "
                              f"found the key '{key}' twice (first at line {first}) "
                              f"(in the mapping that starts at line {mapping})"), message
    assert message.endswith(". Remove or rename one of them."), message
    assert "syntax" not in message and "indent" not in message, message


@pytest.mark.parametrize("first, second, read", [("on", "yes", "true"), ("true", "On", "true"), ("1", "01", "1"),
                                                 ("1", "true", "1"), ("~", "null", "null")])
def test_two_words_yaml_reads_as_one_key_are_a_duplicate_key(tmp_path, first, second, read):
    """Two words that YAML reads as one key (on: and yes:, both true; 1: and 01:) were no duplicate to
    the loader, which compared the words, while PyYAML kept the last value alone: the first key and
    its value vanished unsaid. They are a 'Duplicate YAML key' naming both words and the key YAML read."""
    text = f"dataset:\n  data_path: a.fits\n  {first}: 1\n  {second}: 2\n"
    assert len(yaml.safe_load(text)["dataset"]) == 2  # the independent truth: one key of the two
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"Duplicate YAML key in config file {path} at line 4, column 3: "
                              f"found the key '{second}' twice (first at line 3, written '{first}', which YAML "
                              f"reads as the same key, {read}) (in the mapping that starts at line 2)"), message
    assert message.endswith(". Remove or rename one of them."), message


@pytest.mark.parametrize("text, fragment", [
    ("dataset:\r\n  data_path: a.fits\r\n  pixel_scale: 0.1\r\n" + "\0" * 40,
     "at line 4, column 1: the NUL character (U+0000) is not allowed in YAML. A file cut short"),
    ("\ufeffdataset:\n  data_path: a\x1b[0m.fits\n",
     "at line 2, column 15: the control character U+001B is not allowed in YAML. Delete it"),
])
def test_a_character_yaml_does_not_allow_is_found_by_line_and_column(tmp_path, text, fragment):
    """A control character (a NUL of a file padded after a crash, a terminal's colour code) was
    reported at its offset in "<unicode string>" ('position 61'), which no editor shows: the
    message now gives its line and column, as for any other YAML syntax error."""
    text = error_of(write(tmp_path, text))
    assert "model_config.yaml" in text and fragment in text and "position" not in text, text


@pytest.mark.parametrize("edit, expected", [
    (lambda c: c["model_components"]["lens_mass_list"][0].update(
        params=[{k: v} for k, v in c["model_components"]["lens_mass_list"][0]["params"].items()]),
     f"{MASS0}: expected a mapping (key: value pairs, with no '- ' before its keys); got the list [{{'theta_E': "),
    (lambda c: c["inference"].update(settings=[{"nlive": 200}]),
     "inference.settings: expected a mapping (key: value pairs, with no '- ' before its keys); got the list "
     "[{'nlive': 200}]."),
    (lambda c: c["inference"].update(settings=200), "inference.settings: expected a mapping (key: value pairs); "
     "got the number 200."),
    (lambda c: c["model_components"].update(lens_mass_list=c["model_components"]["lens_mass_list"][0]),
     "model_components.lens_mass_list: expected a list (each item on a line that starts with '- '); got "
     "{'type': 'SIE', "),
    (lambda c: c["dataset"].update(supersampling={"levels": 4}),
     "dataset.supersampling.levels: expected a list ([a, b, ...]); got the number 4."),
])
def test_a_mapping_or_list_given_as_another_kind_is_said_in_yaml_words(example, edit, expected):
    """A component's params written as a list ('- theta_E: ...'), or its list written as one
    mapping, was refused with pydantic's 'should be a valid dictionary' ('a valid list'), Python's
    words, where a section given as a list says 'expected a mapping (key: value pairs)'. They now
    say it in those words, with the '- ' that made YAML read a list where it was the mix-up."""
    edit(example)
    text = error_of(example)
    assert expected in text and "dictionary" not in text and "valid list" not in text, text


@pytest.mark.parametrize("text, expected", [
    ("pipeline:\n  - enabled: false\n  - n_sigma: 5\n",
     "pipeline: expected a mapping (key: value pairs, with no '- ' before its keys) with keys enabled, lens_light, "),
    ("dataset:\n  - data_path: image.fits\n  - pixel_scale: 0.05\n",
     "dataset: expected a mapping (key: value pairs, with no '- ' before its keys) with keys data_path, noise_path, "),
    ("- dataset: {data_path: image.fits}\n- inference: {type: sampler}\n",
     "must be a mapping (with no '- ' before its keys) with the sections dataset, model_components, "),
])
def test_a_section_written_as_a_list_names_the_dashes_as_a_settings_mapping_does(tmp_path, text, expected):
    """A section's keys written with '- ' (YAML's list items) got 'expected a mapping (key: value pairs) with
    keys ...; got the list [...]', with no word of the dashes, which inference.settings or a component's
    params written so are told of ('with no '- ' before its keys'); the top level written so neither."""
    message = error_of(write(tmp_path, text))
    assert expected in message and "got the list [{" in message, message


@pytest.mark.parametrize("text, expected", [
    ("pipeline: []\n", "pipeline: expected a mapping (key: value pairs) with keys enabled, "),
    ("inference:\n  type: sampler\n  settings: []\n", "inference.settings: expected a mapping (key: value pairs); "),
    ("[]\n", "must be a mapping with the sections dataset, "),
])
def test_an_empty_list_for_a_mapping_is_not_told_of_dashes_it_has_none(tmp_path, text, expected):
    """'pipeline: []' (or a whole file '[]') has neither a '- ' nor a key, yet was told 'with no '- ' before
    its keys' as a section written with dashes is; a mapping is asked for, with no word of dashes."""
    message = error_of(write(tmp_path, text))
    assert expected in message and "got the list []" in message and "'- '" not in message, message


@pytest.mark.parametrize("text, fragment", [("", "empty"), ("- 1\n- 2\n", "mapping")])
def test_empty_or_non_mapping_top_level(tmp_path, text, fragment):
    assert fragment in error_of(write(tmp_path, text))


def test_error_is_a_tinylens_error(example):
    example["dataset"]["pixel_scale"] = -1
    with pytest.raises(TinyLensError):
        load_config(example)


# -- schema errors ------------------------------------------------------------------------------
def mass0(d: dict) -> dict:
    return d["model_components"]["lens_mass_list"][0]["params"]


def link(component_type: str, idx: int, parameter: str = "center_x") -> dict:
    return {"fixed": True, "fixed_value": {"component_type": component_type, "component_idx": idx, "parameter": parameter}}


BAD = {
    "inverted_prior": (
        lambda d: mass0(d)["theta_E"].update(prior_settings=[3.0, 1.0]),
        f"{MASS0}.theta_E.prior_settings",
        "inverted",
    ),
    "zero_width_uniform": (
        lambda d: mass0(d)["theta_E"].update(prior_settings=[1.0, 1.0]),
        f"{MASS0}.theta_E.prior_settings",
        "empty",
    ),
    "gaussian_zero_sigma": (lambda d: mass0(d)["e1"].update(prior_settings=[0.0, 0.0]), f"{MASS0}.e1.prior_settings", "sigma > 0"),
    "gaussian_negative_sigma": (lambda d: mass0(d)["e1"].update(prior_settings=[0.0, -0.3]), f"{MASS0}.e1.prior_settings", "sigma > 0"),
    "log_uniform_nonpositive": (
        lambda d: mass0(d)["theta_E"].update(prior_type="log_uniform", prior_settings=[0.0, 2.0]),
        f"{MASS0}.theta_E.prior_settings",
        "0 < min",
    ),
    "prior_outside_limits": (
        lambda d: mass0(d)["theta_E"].update(prior_settings=[11.0, 12.0]),
        f"{MASS0}.theta_E.prior_settings",
        "outside the limits",
    ),
    "inverted_limits": (lambda d: mass0(d)["theta_E"].update(limits=[1.0, 0.0]), f"{MASS0}.theta_E.limits", "lower < upper"),
    "prior_settings_not_pair": (
        lambda d: mass0(d)["theta_E"].update(prior_settings=[1.0]),
        f"{MASS0}.theta_E.prior_settings",
        "two numbers",
    ),
    "unknown_prior_type": (lambda d: mass0(d)["theta_E"].update(prior_type="normal"), f"{MASS0}.theta_E.prior_type", "'gaussian'"),
    "free_without_prior": (lambda d: mass0(d).update(theta_E={"fixed": False}), f"{MASS0}.theta_E.prior_type", "free parameter"),
    "fixed_value_without_fixed": (lambda d: mass0(d).update(theta_E={"fixed_value": 1.0}), f"{MASS0}.theta_E.fixed", "fixed: true"),
    "fixed_without_value": (lambda d: mass0(d).update(center_x={"fixed": True}), f"{MASS0}.center_x.fixed_value", "fixed_value"),
    "fixed_value_not_number": (lambda d: mass0(d).update(center_x={"fixed": True, "fixed_value": "abc"}), f"{MASS0}.center_x.fixed_value", "'abc'"),
    "link_bad_component_type": (
        lambda d: mass0(d).update(center_x=link("lens_list", 0)),
        f"{MASS0}.center_x.fixed_value.component_type",
        "lens_mass_list",
    ),
    "link_negative_idx": (
        lambda d: mass0(d).update(center_x=link("lens_light_list", -1)),
        f"{MASS0}.center_x.fixed_value.component_idx",
        "greater than or equal to 0",
    ),
    "link_idx_out_of_range": (
        lambda d: d["model_components"]["source_light_list"].append(
            {"type": "Sersic", "params": {"center_x": link("lens_mass_list", 5)}}
        ),
        "model_components.source_light_list[1].params.center_x.fixed_value",
        "lens_mass_list[5]",
    ),
    "relative_to_on_fixed": (
        lambda d: mass0(d)["center_x"].update(relative_to=link("lens_mass_list", 1)["fixed_value"]),
        f"{MASS0}.center_x.relative_to",
        "remove 'relative_to'",
    ),
    "relative_to_idx_out_of_range": (
        lambda d: mass0(d)["e1"].update(relative_to=link("lens_light_list", 3, "e1")["fixed_value"]),
        f"{MASS0}.e1.relative_to",
        "lens_light_list has only 1 component",
    ),
    "dataset_typo": (lambda d: d["dataset"].update(pixle_scale=0.05), "dataset.pixle_scale", "Did you mean 'pixel_scale'"),
    "component_typo": (
        lambda d: d["model_components"]["lens_mass_list"][0].update(param={}),
        "model_components.lens_mass_list[0].param",
        "params",
    ),
    "param_spec_typo": (lambda d: mass0(d)["theta_E"].update(prior_setting=[0, 1]), f"{MASS0}.theta_E.prior_setting", "prior_settings"),
    "top_level_unknown": (lambda d: d.update(sampler={}), "sampler", "Allowed keys here: dataset, model_components"),
    "missing_dataset_key": (lambda d: d["dataset"].pop("pixel_scale"), "dataset.pixel_scale", "missing"),
    "nonpositive_pixel_scale": (lambda d: d["dataset"].update(pixel_scale=0), "dataset.pixel_scale", "greater than 0"),
    "nsub_zero": (lambda d: d["dataset"].update(nsub=0), "dataset.nsub", "greater than or equal to 1"),
    "annulus_without_r_min": (lambda d: d["dataset"].update(mask={"type": "annulus", "r_max": 1.0}), "dataset.mask.r_min", "r_min"),
    "annulus_inverted": (
        lambda d: d["dataset"].update(mask={"type": "annulus", "r_min": 2.0, "r_max": 1.0}),
        "dataset.mask.r_min",
        "r_min < r_max",
    ),
    "no_light_component": (
        lambda d: d["model_components"].update(source_light_list=[], lens_light_list=[]),
        "model_components",
        "light component",
    ),
    "bad_solver": (lambda d: d.update(solver_type="lsq"), "solver_type", "'nnls'"),
    "bad_inference_type": (lambda d: d["inference"].update(type="mcmc"), "inference.type", "'sampler'"),
    "section_not_mapping": (lambda d: d.update(dataset="image.fits"), "dataset", "mapping"),
    # YAML's true/false/yes/no is read by Python as 1/0: no number is taken from it
    "pixel_scale_true": (lambda d: d["dataset"].update(pixel_scale=True), "dataset.pixel_scale",
                         "not true (in a YAML file, an unquoted yes, on or true reads as true)"),
    "nsub_true": (lambda d: d["dataset"].update(nsub=True), "dataset.nsub", "should be a number, not true"),
    "prior_settings_false": (lambda d: mass0(d)["theta_E"].update(prior_settings=[False, 3.0]),
                             f"{MASS0}.theta_E.prior_settings[0]", "not false"),
    "limits_true": (lambda d: mass0(d)["e1"].update(limits=[-1.0, True]), f"{MASS0}.e1.limits[1]", "not true"),
    "fixed_value_true": (lambda d: mass0(d).update(center_x={"fixed": True, "fixed_value": True}),
                         f"{MASS0}.center_x.fixed_value", "not true"),
    "link_idx_false": (lambda d: mass0(d).update(center_x=link("lens_light_list", False)),
                       f"{MASS0}.center_x.fixed_value.component_idx", "not false"),
    "threads_true": (lambda d: d.update(pipeline={"threads": True}), "pipeline.threads", "not true"),
    "levels_true": (lambda d: d["dataset"].update(supersampling={"levels": [True, 4]}),
                    "dataset.supersampling.levels[0]", "not true"),
}


@pytest.mark.parametrize("word", ["yes", "Yes", "YES", "on", "On", "ON", "no", "No", "NO", "off", "Off", "OFF"])
def test_a_yaml_1_1_boolean_word_given_for_a_number_is_named_in_its_message(tmp_path, word):
    """``zeropoint: yes`` (YAML 1.1, which PyYAML reads, takes an unquoted yes/no and on/off as
    true/false) was refused with 'should be a number, not true (true/false)', which named
    neither what the config says nor why it was read as true. The message now says which
    words YAML reads as the value it got, the one written among them (in lower case)."""
    read = yaml.safe_load(f"x: {word}")["x"]
    assert isinstance(read, bool)  # the independent truth: PyYAML reads the word as a boolean
    shown = str(read).lower()
    lines = EXAMPLE.replace("  pixel_scale: 0.074", f"  pixel_scale: 0.074\n  zeropoint: {word}")
    text = " ".join(error_of(write(tmp_path, lines)).split())
    assert f"dataset.zeropoint: should be a number, not {shown} (YAML reads an unquoted " in text, text
    reason = text.split("(YAML reads an unquoted ", 1)[1].split(")", 1)[0]
    assert word.lower() in reason.replace(",", " ").split() and reason.endswith(f"as {shown}"), text


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_number_in_a_python_mapping_is_not_said_to_be_a_word_yaml_read(tmp_path, example, value):
    """``tinylens.fit({"dataset": {"zeropoint": True, ...}})`` was refused with 'should be a number, not
    true (YAML reads an unquoted yes, on or true as true)', a reading that never happened: no YAML was
    read. A mapping's message now says the words neutrally, as what a YAML file would read; the same
    key written in a YAML file still says what YAML read."""
    shown = str(value).lower()
    words = [w for w in ("yes", "no", "on", "off", "true", "false") if yaml.safe_load(f"x: {w}")["x"] is value]
    assert len(words) == 3  # the independent truth: the words PyYAML reads, unquoted, as the value
    example["dataset"]["zeropoint"] = value
    text = " ".join(error_of(example).split())
    assert f"dataset.zeropoint: should be a number, not {shown} (in a YAML file, an unquoted " in text, text
    assert "YAML reads" not in text, text
    note = text.split("(in a YAML file, an unquoted ", 1)[1].split(")", 1)[0]
    assert set(words) <= set(note.replace(",", " ").split()), text
    assert note.endswith(f"reads as {shown}"), text
    written = write(tmp_path, EXAMPLE.replace("  pixel_scale: 0.074", f"  pixel_scale: 0.074\n  zeropoint: {words[0]}"))
    from_file = " ".join(error_of(written).split())
    assert f"dataset.zeropoint: should be a number, not {shown} (YAML reads an unquoted " in from_file, from_file


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_names_key_path(example, name):
    mutate, key_path, fragment = BAD[name]
    mutate(example)
    text = error_of(example)
    assert f"{key_path}:" in text, text
    assert fragment in text, text


@pytest.mark.parametrize("section, key", [("dataset", "data_path"), ("dataset", "mask_path"), ("output", "path")])
def test_an_empty_path_is_said_to_be_empty(example, section, key):
    """An empty path read 'String should have at least 1 character' or, for the optional
    mask_path, 'Value should have at least 1 item after validation, not 0'."""
    example.setdefault(section, {})[key] = ""
    text = error_of(example)
    assert f"{section}.{key}: should not be empty; got ''." in text, text
    assert "at least 1" not in text


@pytest.mark.parametrize("written", ["", " ~", " null"])
@pytest.mark.parametrize("key, fragment", [
    ("data_path", "give it a value: path to the image FITS file"),
    ("pixel_scale", "give it a value: arcsec per pixel, a number > 0"),
])
def test_a_key_with_no_value_is_said_to_have_none(tmp_path, key, fragment, written):
    """A key given no value (``data_path:`` on its own, or ``~``), which YAML reads as null,
    read 'should be a valid string; got None'."""
    lines = [f"  {key}:{written}" if line.startswith(f"  {key}:") else line for line in EXAMPLE.splitlines()]
    text = error_of(write(tmp_path, "\n".join(lines)))
    assert f"dataset.{key}: has no value (nothing after the colon, or null); {fragment}." in text, text
    assert "None" not in text


def test_a_null_in_a_list_is_said_to_be_null(example):
    mass0(example)["theta_E"]["limits"] = [0.0, None]
    text = error_of(example)
    assert f"{MASS0}.theta_E.limits[1]: is null; give it a value: a valid number." in text, text


@pytest.mark.parametrize("value", [".nan", "nan", "-.inf"])
@pytest.mark.parametrize("key", ["dataset.pixel_scale", "dataset.mask.r_min", "pipeline.n_sigma",
                                 "pipeline.min_theta_E_fraction"])
def test_a_nan_or_minus_infinity_is_said_not_to_be_finite(tmp_path, example, key, value):
    """A NaN (YAML's .nan, or the text 'nan') or -inf read 'should be greater than 0' (or '... less
    than 1'), as if a finite number of the wrong size had been written."""
    example["dataset"]["mask"] = {"type": "annulus", "r_max": 1.0, "r_min": 0.5}
    section, *inner, name = key.split(".")
    block = example.setdefault(section, {}) or {}
    example[section] = block
    for part in inner:
        block = block[part]
    block[name] = "PLACEHOLDER"
    message = error_of(write(tmp_path, yaml.safe_dump(example).replace("PLACEHOLDER", value)))
    assert f"{key}: should be a finite number" in message, message
    assert "greater than" not in message and "less than" not in message


def test_error_shows_offending_value(example):
    mass0(example)["theta_E"]["prior_settings"] = [3.0, 1.0]
    assert "got [3.0, 1.0]" in error_of(example)


def test_all_problems_are_listed(example):
    example["dataset"]["pixel_scale"] = -1
    mass0(example)["e1"]["prior_settings"] = [0.0, 0.0]
    text = error_of(example)
    assert "2 problems" in text and "dataset.pixel_scale" in text and f"{MASS0}.e1.prior_settings" in text


def test_yaml_file_error_names_file(tmp_path, example):
    bad = copy.deepcopy(example)
    bad["dataset"]["pixel_scale"] = "big"
    text = error_of(write(tmp_path, yaml.safe_dump(bad), "lens.yaml"))
    assert "lens.yaml" in text and "dataset.pixel_scale" in text and "'big'" in text


def test_fixed_parameter_ignores_leftover_prior(example):
    mass0(example)["center_x"] = {"fixed": True, "fixed_value": 0.0, "prior_type": "uniform", "prior_settings": [1.0, 0.0]}
    cfg, _ = load_config(example)
    assert cfg.model_components.lens_mass_list[0].params["center_x"].fixed_value == 0.0


# -- output file names ----------------------------------------------------------------------------
@pytest.mark.parametrize("output, key, fragment", [
    ({"tables": {"samples": "result_summary.csv"}}, "output.tables.summary", "the same file as output.tables.samples"),
    ({"figures": {"corner": "Model_Results.png"}}, "output.figures.corner", "the same file as output.figures.results"),
    ({"tables": {"samples": "result.json"}}, "output.tables.samples", "writes itself"),
    ({"datasets": {"subplot": "checkpoint.hdf5"}}, "output.datasets.subplot", "writes itself"),
    ({"tables": {"samples": "dynesty_logl_history.h5"}}, "output.tables.samples", "writes itself"),
    # dynesty's history of each later sampling run of a fit (the pipeline widens the box and samples again)
    ({"figures": {"corner": "Dynesty_LogL_History.run2.h5"}}, "output.figures.corner", "writes itself"),
    # a survey renames an earlier fit's files to these when its lens's files change
    ({"tables": {"samples": "Result.Previous.JSON"}}, "output.tables.samples", "where a survey keeps result.json"),
    ({"figures": {"corner": "model_results.previous.png"}}, "output.figures.corner",
     "keeps output.figures.results ('model_results.png')"),
    ({"tables": {"samples": "fit", "summary": "fit.previous"}}, "output.tables.summary",
     "keeps output.tables.samples ('fit')"),
])
def test_output_files_that_would_overwrite_each_other_are_refused(example, output, key, fragment):
    """A table or figure named as another, or as result.json or a checkpoint, was written and
    then silently overwritten (or deleted with the checkpoints); one named as a survey sets
    another aside (result.previous.json) was overwritten when the lens's files changed."""
    example["output"] = output
    text = error_of(example)
    assert key in text and fragment in text


def test_the_history_names_of_later_runs_are_reserved():
    """The pattern covers what the dynesty runner names each run's history, and only that."""
    from tinylens import filenames
    from tinylens.inference.dynesty_runner import settings_for_run

    for run in (2, 3, 12):
        name = settings_for_run({"save_evaluation_history": True}, run)["history_filename"]
        assert name == f"dynesty_logl_history.run{run}.h5" and filenames.is_reserved(name)
    for name in ("dynesty_logl_history.run2.png", "dynesty_logl_history.runs.h5", "my_history.run2.h5"):
        assert not filenames.is_reserved(name)


def test_reserved_output_names_are_the_files_tinylens_writes():
    from tinylens import filenames

    assert set(filenames.RESERVED) == {filenames.RESULT, filenames.FIT_LOCK, *filenames.checkpoint_names(),
                                    filenames.DYNESTY_HISTORY, filenames.ROW, filenames.INPUTS,
                                    filenames.LENS_LOCK, filenames.ATTEMPTS}


def test_settings_in_exponent_notation_are_numbers(tmp_path):
    """PyYAML reads 1e6 and 1e-2 (no dot, or no sign in the exponent) as text; in the settings the
    schema passes on untyped they are the numbers they write, so the checks and the samplers take
    them (``n_like_max: 1e6`` was refused as "must be a number ... got '1e6'")."""
    from tinylens.inference import check_inference

    text = EXAMPLE.replace("settings: {nlive: 200, batch_size: 800}",
                           "settings: {nlive: 2e2, n_like_max: 1e6, f_live: 1e-2, n_eff: 1.5e3, timeout: 3.5e+3}")
    cfg, _ = load_config(write(tmp_path, text))
    settings = cfg.inference.settings
    assert settings == {"nlive": 200, "n_like_max": 1_000_000, "f_live": 0.01, "n_eff": 1500, "timeout": 3500.0}
    assert isinstance(settings["nlive"], int) and isinstance(settings["f_live"], float)
    check_inference(cfg, n_dim=3)
    example = yaml.safe_load(EXAMPLE)
    example["model_components"]["lens_light_list"][0]["settings"] = yaml.safe_load("{n_gauss: 2e1, sigma_min: 1e-2}")
    cfg, _ = load_config(example)
    assert cfg.model_components.lens_light_list[0].settings == {"n_gauss": 20, "sigma_min": 0.01}


def test_a_whole_number_in_exponent_notation_is_taken_by_the_typed_fields(tmp_path):
    """``nsub: 1e1`` (text to PyYAML, as ``1e6`` in the settings is) was refused with 'should be a
    valid integer, unable to parse string as an integer; got '1e1'', while a number field took
    ``1e-2`` and a setting ``2e2``; each whole-number field takes it, and ``1.5e0`` is no whole number."""
    text = (EXAMPLE.replace('pixel_scale: 0.074', 'pixel_scale: 0.074\n  nsub: 1e1\n'
                            '  supersampling: {levels: [1e0, 2E0, 4]}')
            .replace("component_idx: 0", "component_idx: 0e0")
            + "pipeline: {threads: 8e0, max_widen: 3e+0}\n")
    cfg, _ = load_config(write(tmp_path, text))
    taken = [cfg.dataset.nsub, *cfg.dataset.supersampling.levels, cfg.pipeline.threads, cfg.pipeline.max_widen,
             cfg.model_components.lens_light_list[0].params["center_x"].fixed_value.component_idx]
    assert taken == [10, 1, 2, 4, 8, 3, 0] and all(type(n) is int for n in taken), taken
    refused = EXAMPLE.replace('pixel_scale: 0.074', 'pixel_scale: 0.074\n  nsub: 1.5e0')
    message = error_of(write(tmp_path, refused))
    assert "(1 problem)" in message and "dataset.nsub: should be a whole number; got 1.5e0." in message, message


@pytest.mark.parametrize("old, new, problem", [
    ("pixel_scale: 0.074", "pixel_scale: 0.074\n  nsub: 4.5", "dataset.nsub: should be a whole number; got 4.5."),
    ("pixel_scale: 0.074", "pixel_scale: 0.074\n  nsub: four", "dataset.nsub: should be a whole number; got 'four'."),
    ("pixel_scale: 0.074", "pixel_scale: 0.074\n  nsub: [4]", "dataset.nsub: should be a whole number; got [4]."),
    ("pixel_scale: 0.074", "pixel_scale: 0.074\n  supersampling: {levels: [1, 2.5]}",
     "dataset.supersampling.levels[1]: should be a whole number; got 2.5."),
    ("pixel_scale: 0.074", "pixel_scale: 0.074\n  supersampling: {levels: [1, null]}",
     "dataset.supersampling.levels[1]: is null; give it a value: a whole number."),
    ("component_idx: 0", "component_idx: 0.5",
     "lens_light_list[0].params.center_x.fixed_value.component_idx: should be a whole number; got 0.5."),
    ("output:", "pipeline: {threads: 2.5}\noutput:", "pipeline.threads: should be a whole number; got 2.5."),
], ids=["fraction", "text", "list", "levels", "levels-null", "component_idx", "threads"])
def test_a_whole_number_key_given_something_else_says_so_in_a_word(tmp_path, old, new, problem):
    """``nsub: 4.5`` got pydantic's 'should be a valid integer, got a number with a fractional
    part; got 4.5', two 'got's in one line ('unable to parse string as an integer' for text); it is
    'should be a whole number; got 4.5', as the inference settings' checks say it."""
    message = error_of(write(tmp_path, EXAMPLE.replace(old, new)))
    assert "(1 problem)" in message and problem in message, message
    assert "integer" not in message, message


@pytest.mark.parametrize("old, new, problem", [
    ("pixel_scale: 0.074", "pixel_scale: 0.074\n  nsub: 1.0e+20", "dataset.nsub: should be a whole number from 1 to 64; got 1e+20."),
    ("pixel_scale: 0.074", "pixel_scale: 0.074\n  nsub: -1e20", "dataset.nsub: should be a whole number from 1 to 64; got -1e+20."),
    ("pixel_scale: 0.074", "pixel_scale: 0.074\n  supersampling: {nsub: 1.0e+20}",
     "dataset.supersampling.nsub: should be a whole number from 1 to 64; got 1e+20."),
    ("pixel_scale: 0.074", "pixel_scale: 0.074\n  supersampling: {levels: [1, 1.0e+20]}",
     "dataset.supersampling.levels[1]: should be a whole number of at most 2**53 = 9007199254740992 in absolute value; got 1e+20."),
    ("component_idx: 0", "component_idx: 1.0e+20", "lens_light_list[0].params.center_x.fixed_value.component_idx: "
     "should be a whole number from 0 to 2**53 = 9007199254740992; got 1e+20."),
    ("output:", "pipeline: {threads: 1.0e+20}\noutput:", "pipeline.threads: should be a whole number from 1 to 256; got 1e+20."),
    ("output:", "pipeline: {max_widen: 1.0e+20}\noutput:", "pipeline.max_widen: should be a whole number from 0 to 100; got 1e+20."),
    ("pixel_scale: 0.074", "pixel_scale: 0.074\n  nsub: 1e400",
     "dataset.nsub: should be a whole number a float holds; got 1e400 (beyond the range of a float, about +-1.8e308)."),
], ids=["nsub", "nsub-text", "supersampling-nsub", "levels", "component_idx", "threads", "max_widen", "1e400"])
def test_a_whole_number_key_given_a_huge_whole_float_says_what_it_takes(tmp_path, old, new, problem):
    """``nsub: 1.0e+20`` (a whole float beyond pydantic's 64-bit integers) got pydantic's 'Unable to parse
    input string as an integer, exceeded maximum size', no string having been given and nothing said of
    what to give; ``nsub: 1e400`` (text to PyYAML) 'should be a whole number', which it is. Each names its
    key, the whole numbers it takes (its bounds, else 2**53), or that no float holds the number."""
    message = error_of(write(tmp_path, EXAMPLE.replace(old, new)))
    assert "(1 problem)" in message and problem in message, message
    assert "exceeded maximum size" not in message and "input string" not in message, message


@pytest.mark.parametrize("old, new, problem", [
    ("pixel_scale: 0.074", "pixel_scale: 1.0e+400", "dataset.pixel_scale: should be a finite number; got inf. YAML reads .inf, "
     "and a number written beyond the range of a float (about +-1.8e308, such as 1.0e+400), as this infinity."),
    ("pixel_scale: 0.074", "pixel_scale: 0.074\n  nsub: -1.0e+400", "dataset.nsub: should be a finite number; got -inf. YAML "
     "reads -.inf, and a number written beyond the range of a float (about +-1.8e308, such as -1.0e+400), as this infinity."),
    ("prior_settings: [0.001, 3.001]", "prior_settings: [0.001, 1.0e+400]", "theta_E.prior_settings[1]: should be a finite number; "
     "got inf. YAML reads .inf, and a number written beyond the range of a float"),
], ids=["pixel_scale", "nsub", "prior_settings"])
def test_an_overflowed_number_read_as_infinity_says_how_yaml_read_it(tmp_path, old, new, problem):
    """``pixel_scale: 1.0e+400`` was refused as 'should be a finite number; got inf', an infinity the config
    does not show: PyYAML reads a number beyond a float's range as .inf; the message says so. A limit's
    .inf is no limit and still taken; a mapping given in Python is not said to come from YAML."""
    assert old in EXAMPLE
    message = error_of(write(tmp_path, EXAMPLE.replace(old, new)))
    assert "(1 problem)" in message and problem in message, message
    config = yaml.safe_load(EXAMPLE.replace(old, new))
    assert "YAML reads" not in error_of(config)
    load_config(write(tmp_path, EXAMPLE.replace("limits: [-1.0, 1.0]", "limits: [-1.0, 1.0e+400]", 1)))


@pytest.mark.parametrize("value", ["mas", 3, ["lens_mass.0.theta_E", 1], {"mass": True}])
def test_corner_parameters_not_a_choice_nor_names_is_one_problem(example, value):
    """Was two problems under pydantic's names for the union's members
    (``output.corner_parameters.literal['mass','all']`` and ``output.corner_parameters.list[str]``)."""
    example["output"]["corner_parameters"] = value
    text = error_of(example)
    assert "(1 problem)" in text and "output.corner_parameters: should be 'mass', 'all' or a list" in text, text
    assert "literal[" not in text and "list[str]" not in text


def _set(where: str, value):
    """An edit of the example config: ``where`` (dotted, list items by index) set to ``value``."""
    def edit(config: dict) -> None:
        *outer, last = [int(k) if k.isdigit() else k for k in where.split(".")]
        for key in outer:
            config = config.setdefault(key, {}) if isinstance(key, str) else config[key]
        config[last] = value
    return edit


@pytest.mark.parametrize("where, given, meant, shown", [
    ("model_components.lens_mass_list.0.params.theta_E.prior_type", "uniformm", "uniform",
     "model_components.lens_mass_list[0].params.theta_E.prior_type"),
    ("model_components.lens_mass_list.0.params.theta_E.prior_type", "loguniform", "log_uniform",
     "model_components.lens_mass_list[0].params.theta_E.prior_type"),
    ("model_components.lens_mass_list.0.params.theta_E.prior_type", "Gaussian", "gaussian",
     "model_components.lens_mass_list[0].params.theta_E.prior_type"),
    ("model_components.lens_light_list.0.params.center_x.fixed_value.component_type", "lens_mas_list",
     "lens_mass_list", "model_components.lens_light_list[0].params.center_x.fixed_value.component_type"),
    ("solver_type", "nnl", "nnls", "solver_type"),
    ("inference.type", "sampling", "sampler", "inference.type"),
    ("output.draw_figures", "untrused", "untrusted", "output.draw_figures"),
    ("output.corner_parameters", "mas", "mass", "output.corner_parameters"),
    ("dataset.supersampling", {"mode": "adaptiv"}, "adaptive", "dataset.supersampling.mode"),
    ("dataset.mask", {"type": "circel", "r_max": 1.0}, "circle", "dataset.mask.type"),
    ("quality.critical", ["prior_edg"], "prior_edge", "quality.critical[0]"),
], ids=["prior_type", "prior_type-words", "prior_type-case", "component_type", "solver_type", "inference.type",
        "draw_figures", "corner_parameters", "supersampling.mode", "mask.type", "quality.critical"])
def test_a_misspelt_choice_gets_a_did_you_mean_as_a_profile_name_does(example, where, given, meant, shown):
    """'prior_type: uniformm' (and each other key with a fixed set of values) was answered with the
    values allowed and no "did you mean", which a misspelt profile name or setting gets: it now
    names the value meant after the ones allowed, in the same words."""
    _set(where, given)(example)
    text = error_of(example)
    typo = given if isinstance(given, str) else next(iter(given.values())) if isinstance(given, dict) else given[0]
    assert "(1 problem)" in text, text
    assert text.split("\n")[1].startswith(f"  (1) {shown}: should be "), text
    assert text.endswith(f"; got '{typo}'. Did you mean '{meant}' instead of '{typo}'?"), text



def test_a_long_value_is_cut_cleanly_in_the_message(example):
    """A value too long to show whole (a 300-character prior_type pasted by mistake) was cut to
    97 characters and '...', to which the message added its full stop: "got 'xxx....'". The cut
    now says how long the value was, and the full stop stands apart."""
    example["model_components"]["lens_mass_list"][0]["params"]["theta_E"]["prior_type"] = "x" * 300
    text = error_of(example)
    assert text.endswith(f"prior_type: should be 'uniform', 'gaussian' or 'log_uniform'; got '{'x' * 96}... "
                         "(300 characters)."), text
    assert "...." not in text, text

@pytest.mark.parametrize("where, given", [
    ("model_components.lens_mass_list.0.params.theta_E.prior_type", "flat"),
    ("model_components.lens_mass_list.0.params.theta_E.prior_type", 3),
    ("solver_type", "lstsq"),
    ("output.corner_parameters", 3),
])
def test_a_choice_far_from_every_allowed_value_gets_no_did_you_mean(example, where, given):
    """The hint is only for a near miss: 'flat' for a prior, or a number, names no value it is not near."""
    _set(where, given)(example)
    text = error_of(example)
    assert "Did you mean" not in text and text.endswith(f"; got {given!r}."), text


@pytest.mark.parametrize("value", [False, True])
def test_pipeline_given_as_a_bare_switch_names_the_enabled_key(example, value):
    """``pipeline: false`` (the pipeline switched off, as one would write it) was refused with
    'expected a mapping ... got the bool False' (now: got false) and no word of how to switch it off."""
    example["pipeline"] = value
    text = error_of(example)
    assert "pipeline: expected a mapping" in text
    assert f"; write {{enabled: {str(value).lower()}}} to switch it {'on' if value else 'off'}" in text, text
    example["pipeline"] = 3
    assert "switch it" not in error_of(example)


@pytest.mark.parametrize("text, got", [
    ("pipeline: off\n", "pipeline: expected a mapping (key: value pairs) with keys enabled, lens_light"),
    ("solver_type: yes\n", "solver_type: should be 'nnls' or 'normal'; got true."),
    ("pipeline: 3\n", "; got the number 3."),
    ("dataset: [a.fits, b.fits]\n", "; got the list ['a.fits', 'b.fits']."),
    ("dataset:\n  data_path: true\n", "dataset.data_path: should be a valid string; got true."),
    ("just text\n", "must be a mapping with the sections dataset, model_components, inference, pipeline, "
                    "quality, solver_type, output; got the text 'just text'."),
])
def test_a_value_of_the_wrong_type_is_named_as_yaml_writes_it(tmp_path, text, got):
    """A value of the wrong type was named with Python's words: 'got the bool False; write
    {enabled: false}' for pipeline: off, 'got True' for yes, 'got a str ('just text')', 'got the
    list [...]' beside 'got a list (...)'; YAML's true, false, text, number, list are used."""
    message = error_of(write(tmp_path, text))
    assert got in message, message
    assert not any(word in message for word in ("True", "False", "bool", "str ", "int ", "float ")), message
    if "pipeline: off" in text:
        assert "; got false; write {enabled: false} to switch it off." in message, message


@pytest.mark.parametrize("text, got", [
    ("  nsub: [true, null]\n", "dataset.nsub: should be a whole number; got [true, null]."),
    ("  pixel_scale: {value: 0.05, fixed: yes}\n",
     "dataset.pixel_scale: should be a valid number; got {'value': 0.05, 'fixed': true}."),
    ("  mask: [[off]]\n", "; got the list [[false]]."),
    ("  nsub: &nsub [1, *nsub]\n", "dataset.nsub: should be a whole number; got [1, [...]]."),
])
def test_true_false_and_null_inside_a_value_are_written_as_yaml_writes_them(tmp_path, text, got):
    """8ed0f1c wrote a value of true, false or null as YAML does, but not inside a list or a
    mapping: 'nsub: [true, null]' got 'should be a whole number; got [True, None]'."""
    base = "dataset:\n  data_path: a.fits\n  noise_path: n.fits\n  psf_path: p.fits\n"
    message = error_of(write(tmp_path, base + ("" if "pixel_scale" in text else "  pixel_scale: 0.05\n") + text))
    assert got in message, message
    assert not any(word in message for word in ("True", "False", "None")), message


@pytest.mark.parametrize("value", [[], ()])
def test_corner_parameters_naming_no_parameter_is_refused_before_the_fit(example, value):
    """'corner_parameters: []' loaded, and the fit sampled to the end before its corner plot failed
    ('The figure model_corner.png could not be drawn (ValueError: Number of rows must be a positive
    integer, not 0)'): a corner plot of no parameter cannot be drawn. It is refused as the config loads."""
    from tinylens.results.plots import corner_figure

    with pytest.raises(ValueError):  # what the fit met at its end
        corner_figure([], np.zeros((10, 0)), None)
    example["output"]["corner_parameters"] = value
    text = error_of(example)
    assert "(1 problem)" in text and "output.corner_parameters: should name at least one parameter, or be 'mass' " \
        "or 'all'" in text and text.endswith("; got []."), text


@pytest.mark.parametrize("where, value, got", [
    ("output.figures", {"b.png", "a.png"}, "output.figures: expected a mapping (key: value pairs) with keys results, "
     "corner; got the set {'a.png', 'b.png'}."),
    ("inference.settings", frozenset({"nlive"}), "inference.settings: expected a mapping (key: value pairs); got the "
     "set {'nlive'}."),
    ("output.corner_parameters", {"lens_mass.0.theta_E"}, "output.corner_parameters: should be 'mass', 'all' or a "
     "list of parameter names (e.g. [lens_mass.0.theta_E, lens_mass.0.e1]); got the set {'lens_mass.0.theta_E'}."),
])
def test_a_python_set_is_named_a_set_not_shown_as_a_mapping(example, where, value, got):
    """A set in a config dict built in Python (braces for a list's brackets) was shown as Python writes it,
    'expected a mapping ...; got {'b.png', 'a.png'}', which reads as the very mapping asked for, its items in
    the order of their hashes; it is named a set, its items sorted."""
    _set(where, value)(example)
    text = error_of(example)
    assert "(1 problem)" in text and text.endswith(got), text


@pytest.mark.parametrize("key, value, order, shown", [
    ("prior_settings", {1.0, 0.2}, "[mean, sigma] or [min, max]", "{0.2, 1.0}"),
    ("limits", frozenset({5.0, -5.0}), "[lower, upper]", "{-5.0, 5.0}"),  # never a mean and sigma
])
def test_a_prior_pair_given_as_a_python_set_is_refused_not_reordered(example, key, value, order, shown):
    """A config dict built in Python with a gaussian prior's settings as a set, {1.0, 0.2} (mean 1,
    sigma 0.2), loaded as mean 0.2 and sigma 1, the set's order being its hash's; it is refused."""
    from tinylens.config.schema import ParamSpec

    assert list({1.0, 0.2}) == [0.2, 1.0]  # the set's own order, the one it was read in
    params = example["model_components"]["lens_mass_list"][0]["params"]
    params["theta_E"] = {"prior_type": "gaussian", "prior_settings": [1.0, 0.2], "limits": [-5.0, 5.0], key: value}
    text = error_of(example)
    assert "(1 problem)" in text and text.endswith(
        f"lens_mass_list[0].params.theta_E.{key}: should be a list of two numbers [a, b], in order ({order}), not a "
        f"set, whose items have no order; got {shown}."), text
    assert ParamSpec.model_validate({"prior_type": "gaussian", "prior_settings": (1.0, 0.2)}).prior_settings == (1.0, 0.2)


def test_an_output_file_name_given_as_a_path_is_its_text_as_output_path_is(example):
    """A config dict built in Python took output.path as a pathlib.Path, but not a table's or figure's name:
    figures: {corner: Path('corner.png')} was 'should be a valid string; got PosixPath('corner.png')'. It is
    the name, and a Path with a folder in it is refused as the same text is."""
    example["output"]["figures"]["corner"] = Path("corner.png")
    example["output"]["tables"]["summary"] = Path("summary.csv")
    cfg, _ = load_config(example)
    assert (cfg.output.figures.corner, cfg.output.tables.summary) == ("corner.png", "summary.csv")
    example["output"]["figures"]["corner"] = Path("figures") / "corner.png"
    text = error_of(example)
    assert "output.figures.corner: should be a plain file name (written inside output.path; no folders)" in text, text


def test_corner_parameters_as_a_tuple_of_names_is_a_list(example):
    """A config dict built in Python may give the names as a tuple, which pydantic reads as a
    list; the one-message check of corner_parameters refused it as 'neither a choice nor names'."""
    example["output"]["corner_parameters"] = ("lens_mass.0.theta_E", "lens_mass.0.e1")
    cfg, _ = load_config(example)
    assert cfg.output.corner_parameters == ["lens_mass.0.theta_E", "lens_mass.0.e1"]


@pytest.mark.parametrize("edit, keys, switch", [
    (lambda d: d.update(pipeline={"enabled": False, "n_sigma": 5, "threads": 2}),
     "pipeline.n_sigma, pipeline.threads", "pipeline.enabled: false"),
    (lambda d: d.update(pipeline={"bounded": False, "max_widen": 4}), "pipeline.max_widen", "pipeline.bounded: false"),
    (lambda d: d.update(pipeline={"arc": False, "min_theta_E_fraction": 0.2}),
     "pipeline.min_theta_E_fraction", "pipeline.arc: false"),
    (lambda d: d.update(pipeline={"n_sigma": 5}, inference={"type": "optimizer"}),
     "pipeline.n_sigma", "inference.type: optimizer"),
    (lambda d: d["dataset"].update(supersampling={"nsub": 8}), "dataset.supersampling.nsub",
     "dataset.supersampling.mode: uniform, not in adaptive mode (the default)"),
    (lambda d: d["dataset"].update(supersampling={"mode": "uniform", "tolerance": 0.01}),
     "dataset.supersampling.tolerance", "dataset.supersampling.mode: adaptive, not in uniform mode"),
    # a lens mass and no source: it lensed nothing, its parameters were sampled (and reported) as if fitted
    (lambda d: d["model_components"].pop("source_light_list"), "model_components.lens_mass_list",
     "without a source_light_list"),
])
def test_a_key_its_switch_turns_off_loads_with_a_warning(tmp_path, example, edit, keys, switch):
    """A pipeline or supersampling key that the config's other keys switch off (pipeline.n_sigma
    with bounded: false, or around an optimiser; supersampling.nsub in adaptive mode) was ignored
    without a word: the user believed it set the box, the factor... It now loads with a warning
    naming the key, the switch and the file."""
    edit(example)
    path = write(tmp_path, yaml.safe_dump(example))
    with pytest.warns(ConfigWarning) as caught:
        load_config(path)
    text = " ".join(str(w.message) for w in caught)
    assert f"In config file {path}: {keys}: " in text and switch in text, text


@pytest.mark.parametrize("edit", [
    lambda d: d.update(pipeline={"enabled": False}),
    lambda d: d.update(pipeline={"enabled": False, "n_sigma": 10.0}),  # its default: as a result.json lists it
    lambda d: d.update(pipeline={"bounded": False, "arc": False, "arc_threshold": 4}),
    lambda d: d.update(pipeline={"enabled": False}, inference={"type": "optimizer"}),
    lambda d: d["dataset"].update(nsub=8),  # TinyLensGpu's key, documented as read in uniform mode only
    lambda d: d["dataset"].update(supersampling={"mode": "uniform", "nsub": 2}),
])
def test_keys_that_are_used_or_left_at_their_defaults_load_quietly(example, edit):
    edit(example)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        load_config(example)


@pytest.mark.parametrize("pipeline, keys, remove", [
    ({"enabled": False, "arc": False}, "pipeline.arc", "(remove it, or set pipeline.enabled: true)"),
    ({"enabled": False, "n_sigma": 5, "threads": 2}, "pipeline.n_sigma, pipeline.threads",
     "(remove them, or set pipeline.enabled: true)"),
])
def test_the_warning_of_pipeline_keys_unused_with_enabled_false_says_it_or_them_by_their_number(example, pipeline,
                                                                                                keys, remove):
    """pipeline: {enabled: false, arc: false} loaded with 'pipeline.arc: not used with pipeline.enabled: false, ...
    (remove them, ...)' of its one key; the warning now says 'remove it' of one key and 'remove them' of two, as
    those of bounded: false and arc: false do."""
    example["pipeline"] = pipeline
    with pytest.warns(ConfigWarning) as caught:
        load_config(example)
    text = " ".join(str(w.message) for w in caught)
    assert f"{keys}: not used with pipeline.enabled: false" in text and remove in text, text


def _config_calls(config: dict, tmp_path: Path) -> list:
    """tinylens.load and tinylens.fit of ``config`` given as a mapping and as a YAML file, each with
    the message's origin ("configuration mapping" or the file's)."""
    import tinylens

    path = tmp_path / "model_config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    mapping, file = "configuration mapping", f"config file {path}"
    return [(lambda: tinylens.load(config, base_dir=tmp_path), mapping),
            (lambda: tinylens.load(path), file),
            (lambda: tinylens.fit(config, base_dir=tmp_path, progress=False), mapping),
            (lambda: tinylens.fit(path, progress=False), file)]


def _given(key: str, value):
    """An edit of a tiny config that sets ``key`` (``section.name``) to ``value``."""
    def edit(config: dict) -> None:
        section, name = key.split(".")
        config[section][name] = value
    return edit


@pytest.mark.parametrize("edits, kind, problems", [
    ([_given("dataset.pixel_scale", "abc")], "ConfigTypeError",
     ["dataset.pixel_scale: should be a valid number, unable to parse string as a number; got 'abc'."]),
    ([_given("dataset.pixel_scale", None), _given("dataset.nsub", "two")], "ConfigTypeError",
     ["dataset.pixel_scale: has no value (nothing after the colon, or null); give it a value: arcsec per pixel, a "
      "number > 0.", "dataset.nsub: should be a whole number; got 'two'."]),
    ([_given("dataset.supersampling", [{"mode": "uniform"}])], "ConfigTypeError",
     ["dataset.supersampling: expected a mapping (key: value pairs, with no '- ' before its keys) with keys mode, "
      "levels, tolerance, nsub; got the list [{'mode': 'uniform'}]."]),
    ([_given("dataset.pixel_scale", -0.1), _given("dataset.nsub", 2.5)], "ConfigValueError",
     ["dataset.pixel_scale: should be greater than 0; got -0.1.",
      "dataset.nsub: should be a whole number; got 2.5."]),
    ([_given("dataset.pixelscale", 0.1)], "ConfigValueError",
     ["dataset.pixelscale: unknown key 'pixelscale'. Did you mean 'pixel_scale' instead of 'pixelscale'? Allowed keys "
      "here: data_path, noise_path, psf_path, pixel_scale, nsub, mask_path, mask, zeropoint, supersampling."]),
    ([lambda config: config["dataset"].pop("noise_path")], "ConfigValueError",
     ["dataset.noise_path: required key is missing (path to the noise (1-sigma) FITS file)."]),
    ([_given("dataset.pixel_scale", "abc"), _given("dataset.nsub", 0)], "ConfigError",
     ["dataset.pixel_scale: should be a valid number, unable to parse string as a number; got 'abc'.",
      "dataset.nsub: should be greater than or equal to 1; got 0."]),
])
def test_a_configs_schema_problems_are_a_type_or_value_error_by_their_kind(tmp_path, edits, kind, problems):
    """A wrong value or type inside a config (pixel_scale: abc, or -0.1) raised a plain ConfigError,
    which 'except TypeError' / 'except ValueError' let through, though the same mistake in an argument
    given in Python is a ConfigTypeError / ConfigValueError. A config whose problems are all of the
    wrong kind (a text or null for a number, a list for a section) is now a ConfigTypeError, one whose
    problems are all wrong values, an unknown key or a missing one a ConfigValueError, and one with
    both kinds a plain ConfigError (the class of both); from tinylens.load and tinylens.fit, as a
    mapping and as a file, each a ConfigError still, with the message it had, every character."""
    import tinylens
    from tiny_lens import tiny_config

    config = tiny_config()
    for edit in edits:
        edit(config)
    for call, origin in _config_calls(config, tmp_path):
        with pytest.raises(ConfigError) as info:
            call()
        assert type(info.value) is getattr(tinylens, kind), (origin, repr(info.value))
        n = len(problems)
        assert str(info.value) == "\n".join([f"Invalid {origin} ({n} problem{'s' if n > 1 else ''}):",
                                             *(f"  ({i}) {p}" for i, p in enumerate(problems, 1))])
    assert not (tmp_path / "output").exists()


def test_a_config_path_in_the_home_of_no_known_user_is_a_config_value_error(tmp_path):
    """dataset.data_path '~tl_no_such_user/image.fits' (output.path and dynesty's history_filename
    alike) raised a plain ConfigError, though an unknown user is a wrong value, as an empty path
    given in Python is a ConfigValueError: it is a ConfigValueError (a ConfigError and a ValueError)
    now, from tinylens.load and tinylens.fit, as a mapping and as a file, its message the same."""
    import tinylens
    from tiny_lens import tiny_config, write_tiny_lens

    write_tiny_lens(tmp_path)
    no_user = "there is no user 'tl_no_such_user' on this machine, so '~tl_no_such_user' cannot be expanded"
    data = tiny_config()
    data["dataset"]["data_path"] = "~tl_no_such_user/image.fits"
    output = tiny_config(output="~tl_no_such_user/run")
    history = tiny_config({"type": "sampler", "method": "dynesty", "settings": {
        "nlive": 20, "save_evaluation_history": True, "history_filename": "~tl_no_such_user/h.h5"}})
    for config, expected, calls in [(data, f"~tl_no_such_user/image.fits: {no_user}", slice(None)),
                                    (output, f"~tl_no_such_user/run: {no_user}", slice(2, None)),
                                    (history, f"inference.settings.history_filename: ~tl_no_such_user/h.h5: {no_user}",
                                     slice(2, None))]:
        for call, origin in _config_calls(config, tmp_path)[calls]:
            with pytest.raises(tinylens.ConfigValueError) as info:
                call()
            assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)
            assert expected in str(info.value), (origin, str(info.value))


def test_a_config_file_whose_top_level_is_a_list_is_a_config_type_error(tmp_path):
    """A config file whose keys all begin '- ' (a list, not a mapping) raised a plain ConfigError
    where a section written so is now a ConfigTypeError: it is one too (a TypeError), its message
    the same."""
    import tinylens

    path = tmp_path / "model_config.yaml"
    path.write_text("- dataset: {}\n- model_components: {}\n")
    for call in (lambda: tinylens.load(path), lambda: tinylens.fit(path, progress=False)):
        with pytest.raises(TypeError) as info:
            call()
        assert type(info.value) is tinylens.ConfigTypeError
        assert str(info.value) == (f"The top level of config file {path} must be a mapping (with no '- ' before its keys) "
                                   "with the sections dataset, model_components, inference, pipeline, quality, solver_type, "
                                   "output; got the list [{'dataset': {}}, {'model_components': {}}].")


def _model_edit(name: str, edit):
    """An edit of a tiny config's first lens_mass_list component ``name``d for the test's ids."""
    def apply(config: dict) -> None:
        edit(config["model_components"]["lens_mass_list"][0])
    apply.__name__ = name
    return apply


@pytest.mark.parametrize("edit, problem", [
    (_model_edit("SIEE", lambda c: c.update(type="SIEE")),
     "model_components.lens_mass_list[0].type: unknown profile 'SIEE'. Did you mean 'SIE' instead of 'SIEE'? Allowed "
     "in lens_mass_list: EPL, SHEAR, SIE, SIS."),
    (_model_edit("thetaE", lambda c: c["params"].update(thetaE=c["params"].pop("theta_E"))),
     "model_components.lens_mass_list[0].params.thetaE: unknown parameter 'thetaE' for SIE. Did you mean 'theta_E' "
     "instead of 'thetaE'? Allowed: center_x, center_y, e1, e2, theta_E."),
    (_model_edit("no theta_E", lambda c: c["params"].pop("theta_E")),
     "model_components.lens_mass_list[0].params.theta_E: required parameter of SIE is missing from the config; give "
     "it a prior (prior_type, prior_settings), or 'fixed: true' with a 'fixed_value'."),
], ids=["unknown profile", "unknown parameter", "missing parameter"])
def test_a_models_wrong_name_is_a_config_value_error_from_load_fit_and_validate(tmp_path, edit, problem):
    """An unknown profile (SIEE), an unknown parameter (thetaE) or a missing one, which the model's
    build finds after the schema, raised a plain ConfigError from tinylens.load and tinylens.fit, so
    'except ValueError' missed it, though the schema's own unknown key or missing key is a
    ConfigValueError: each is a ConfigValueError now, as a mapping and as a file, its message the
    same, every character, and tinylens validate still exits 2 with it and no traceback. A number
    where a prior's name is asked for (prior_type: 5) stays a ConfigValueError: it is one of no choice,
    as pydantic's literal_error of a text of no choice is, not a value of the wrong kind (a text for a
    number, a list for a section)."""
    from typer.testing import CliRunner

    import tinylens
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens.cli.main import app

    write_tiny_lens(tmp_path)
    config = tiny_config()
    edit(config)
    for call, origin in _config_calls(config, tmp_path):
        with pytest.raises(ValueError) as info:
            call()
        assert type(info.value) is tinylens.ConfigValueError, (origin, repr(info.value))
        where = "" if origin == "configuration mapping" else f"In {origin}: "
        assert str(info.value) == f"{where}{problem}", origin
    path = tmp_path / "model_config.yaml"
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and problem.split(": ")[0] in result.output
    config = tiny_config()
    config["model_components"]["lens_mass_list"][0]["params"]["theta_E"]["prior_type"] = 5
    with pytest.raises(tinylens.ConfigValueError, match=r"prior_type: should be 'uniform', 'gaussian' or 'log_uniform'; "
                                                        r"got 5\.$"):
        tinylens.load(config, base_dir=tmp_path)


def test_an_empty_config_file_or_a_result_json_given_as_the_config_is_a_config_value_error(tmp_path, monkeypatch):
    """An empty config file (or one of comments alone), a fit's result.json given as the config, and
    TINYLENS_CACHE_DIR in the home of no known user raised a plain ConfigError that 'except
    ValueError' missed, though a mapping without the sections, or an empty path, is a
    ConfigValueError: each is one now, its message the same; the result's now names the folder its
    config_dir records, where the config file it was fitted from is to be looked for, and how to read
    the fit back (tinylens.read_result)."""
    import json

    import tinylens
    from tiny_lens import write_stored_result, write_tiny_lens
    from tinylens import compilation

    for text in ("", "# nothing yet\n"):
        path = tmp_path / "empty.yaml"
        path.write_text(text)
        for call in (lambda: tinylens.load(path), lambda: tinylens.fit(path, progress=False)):
            with pytest.raises(ValueError) as info:
                call()
            assert type(info.value) is tinylens.ConfigValueError
            assert str(info.value) == (f"Config file {path} is empty; it needs at least the 'dataset' and "
                                       "'model_components' sections.")
    lens = tmp_path / "lens"
    problem = tinylens.load(write_tiny_lens(lens))
    stored_path = write_stored_result(tmp_path / "fit", problem, [1.0, 0.1, 0.0, 0.0])
    stored = json.loads(stored_path.read_text())
    for call in (lambda: tinylens.load(stored_path), lambda: tinylens.fit(stored, progress=False)):
        with pytest.raises(ValueError) as info:
            call()
        assert type(info.value) is tinylens.ConfigValueError
        text = str(info.value)
        assert f"Give the config file it was fitted from (look in {lens.resolve()}, its config_dir), or" in text
        assert text.endswith("To look at the fit itself, read it back with tinylens.read_result(its folder).")
    del stored["config_dir"]  # a result that records no folder: no folder named
    with pytest.raises(tinylens.ConfigValueError, match=r"Give the config file it was fitted from, or, in Python"):
        tinylens.load(stored)
    monkeypatch.setenv("TINYLENS_CACHE_DIR", "~tl_no_such_user/cache")
    with pytest.raises(ValueError) as info:
        compilation.default_cache_dir()
    assert type(info.value) is tinylens.ConfigValueError
    assert str(info.value) == ("The environment variable TINYLENS_CACHE_DIR (where compiled code is kept): "
                               "~tl_no_such_user/cache: there is no user 'tl_no_such_user' on this machine, so "
                               "'~tl_no_such_user' cannot be expanded; give the full path, or TINYLENS_CACHE_DIR=off.")


@pytest.mark.parametrize("written, typed", [("010", 10), ("0100", 100), ("08", 8), ("-007", -7), ("0_200", 200)])
def test_a_whole_number_with_leading_zeros_in_a_config_is_the_decimal_typed(tmp_path, written, typed):
    """YAML 1.1 (PyYAML) reads a whole number with leading zeros as octal, so ``seed: 010`` ran with
    seed 8, ``nlive: 0100`` with 64 live points and ``nsub: 010`` supersampled 8 times, without a word,
    while ``08`` (no octal) was the text '08'. A config now reads each as the decimal written, in the
    typed fields and the settings alike; hexadecimal is still hexadecimal."""
    assert int(written.replace("_", ""), 10) == typed  # the independent truth: the decimal written
    text = (EXAMPLE.replace("settings: {nlive: 200, batch_size: 800}",
                            f"settings: {{nlive: {written}, seed: {written}, hex: 0x10, kept: [{written}]}}")
            .replace("pixel_scale: 0.074", "pixel_scale: 0.074\n  nsub: 010")
            + "pipeline: {max_widen: 03, threads: 08}\n")
    cfg, _ = load_config(write(tmp_path, text))
    assert cfg.inference.settings == {"nlive": typed, "seed": typed, "hex": 16, "kept": [typed]}
    assert type(cfg.inference.settings["seed"]) is int
    assert (cfg.dataset.nsub, cfg.pipeline.max_widen, cfg.pipeline.threads) == (10, 3, 8)


@pytest.mark.parametrize("written", ["1:30", "1:30:00", "-2:05", "1:30.5"])
def test_digits_with_colons_in_a_config_are_not_read_as_base_60(tmp_path, written):
    """YAML 1.1 reads ``1:30`` as the base-60 number 90 (``1:30.5`` as 90.5), so ``seed: 1:30`` ran
    with seed 90 and ``max_widen: 1:30`` widened the box up to 90 times, without a word. Digits with
    colons now stay the text written: a setting keeps it, and a typed field refuses it by name."""
    text = (EXAMPLE.replace("settings: {nlive: 200, batch_size: 800}", f"settings: {{nlive: 200, seed: {written}}}"))
    cfg, _ = load_config(write(tmp_path, text))
    assert cfg.inference.settings["seed"] == written
    message = " ".join(error_of(write(tmp_path, EXAMPLE + f"pipeline: {{max_widen: {written}}}\n")).split())
    assert f"pipeline.max_widen: should be a whole number; got '{written}'." in message, message


TEXT_KEYS = {  # the key's line in EXAMPLE, its dotted path, and where a config holds its value
    "output.path": ('path: "output"', lambda cfg: cfg.output.path),
    "output.figures.results": ('results: "model_results.png"', lambda cfg: cfg.output.figures.results),
    "model_components.lens_mass_list[0].type": ('type: "SIE"', lambda cfg: cfg.model_components.lens_mass_list[0].type),
    "inference.method": ('method: "nautilus"', lambda cfg: cfg.inference.method),
    "model_components.lens_light_list[0].params.center_x.fixed_value.parameter": (
        "parameter: center_x", lambda cfg: cfg.model_components.lens_light_list[0].params["center_x"].fixed_value.parameter),
}


@pytest.mark.parametrize("key, written", [
    ("output.path", "no"), ("output.path", "Off"), ("model_components.lens_mass_list[0].type", "on"),
    ("inference.method", "off"), ("model_components.lens_light_list[0].params.center_x.fixed_value.parameter", "yes"),
    ("output.path", "2024-06-01")])
def test_a_word_or_number_yaml_reads_as_no_text_where_text_belongs_says_to_quote_it(tmp_path, key, written):
    """``output.path: no`` (YAML 1.1 reads an unquoted no/off/yes/on as a boolean), ``path: 2024-06-01``
    (a date) or ``results: 2024`` (a number) was refused as 'should be a valid string; got false' (or
    'got datetime.date(2024, 6, 1)'), which named neither what the config says nor how to write it.
    The message now says how YAML read the value and to quote it; the quoted form it gives loads as
    that text."""
    line, value_of = TEXT_KEYS[key]
    read = yaml.safe_load(f"x: {written}")["x"]
    assert not isinstance(read, str)  # the independent truth: PyYAML reads it as no text
    name = line.split(":")[0]
    message = " ".join(error_of(write(tmp_path, EXAMPLE.replace(line, f"{name}: {written}", 1))).split())
    shown = str(read).lower() if isinstance(read, bool) else str(read)
    assert f"{key}: should be a valid string; got {shown}. YAML reads " in message, message
    assert f"'{written.lower()}'" in message.split(f"{key}:", 1)[1], message  # the quoted text to write
    cfg, _ = load_config(write(tmp_path, EXAMPLE.replace(line, f"{name}: '{written}'", 1)))
    assert value_of(cfg).lower() == written.lower()  # inference.method is read in lower case


@pytest.mark.parametrize("old, new, key", [('path: "output"', 'path: "output"\n  draw_figures: no', "output.draw_figures"),
                                          ('solver_type: "nnls"', "solver_type: off", "solver_type")])
def test_a_boolean_word_for_a_choice_says_how_yaml_read_it(tmp_path, old, new, key):
    """``draw_figures: no`` was refused as "should be 'all', 'untrusted' or 'none'; got false", the
    false never written; the message now says YAML read the word as false."""
    message = " ".join(error_of(write(tmp_path, EXAMPLE.replace(old, new, 1))).split())
    assert f"{key}: should be " in message, message
    assert "; got false. YAML reads an unquoted no, off or false as false." in message, message


@pytest.mark.parametrize("key, written", [
    ("output.figures.results", "2024"), ("output.path", "2024_06"), ("output.path", "007"), ("output.path", "0x1F"),
    ("output.figures.results", "1.50"), ("output.path", "2024-06-01 12:00:00")])
def test_a_number_or_time_where_text_belongs_is_not_told_to_quote_another_text(tmp_path, key, written):
    """``path: 2024_06`` (a folder name) was refused with 'write it in quotes ('202406')', and ``path: 007``
    with '('7')', ``0x1F`` '('31')', ``1.50`` '('1.5')': the number YAML read, not the text written, which
    quoted would name another folder. The message says to quote the text meant, and suggests no other."""
    import re

    line, value_of = TEXT_KEYS[key]
    read = yaml.safe_load(f"x: {written}")["x"]
    assert not isinstance(read, str)  # the independent truth: PyYAML reads it as no text
    name = line.split(":")[0]
    message = " ".join(error_of(write(tmp_path, EXAMPLE.replace(line, f"{name}: {written}", 1))).split())
    hint = message.split(f"{key}:", 1)[1]
    assert "YAML reads it, unquoted, as a " in hint and "in quotes" in hint and "to give it as text" in hint, message
    suggested = re.findall(r"in quotes \('([^']*)'\)", hint)
    assert all(text == written for text in suggested), f"suggests {suggested} for {written}: {message}"
    cfg, _ = load_config(write(tmp_path, EXAMPLE.replace(line, f"{name}: '{written}'", 1)))
    assert value_of(cfg) == written


@pytest.mark.parametrize("key, value", [("path", False), ("path", True), ("path", 7),
                                        ("path", __import__("datetime").date(2024, 6, 1)), ("draw_figures", False)])
def test_a_python_mapping_with_no_text_where_text_belongs_is_not_told_yaml_read_it(key, value):
    """tinylens.load({... 'output': {'path': False}}) from Python was refused with 'got false. YAML reads
    an unquoted no, off or false as false: write the word in quotes', and path=7 'YAML reads it,
    unquoted, as a number', as if the user had written YAML; a mapping's message says to give the text
    as a str, and what YAML does only for a mapping that came from it."""
    data = yaml.safe_load(EXAMPLE)
    data["output"][key] = value
    message = " ".join(error_of(data).split())
    hint = message.split(f"output.{key}:", 1)[1]
    assert "YAML reads" in hint, message  # the reading is still told, for a mapping read from YAML
    assert hint.split("YAML reads", 1)[0].endswith("If the mapping came from YAML: "), message
    if key == "path":
        assert "Give the text as a str." in hint, message


def test_a_config_file_that_cannot_be_read_is_a_config_file_error_and_an_os_error(tmp_path, monkeypatch):
    """A config file that is missing, or a folder given as the config, was the plain ConfigError,
    which ``except OSError`` (what ``open`` and pathlib raise for a path that cannot be read) did
    not catch; each is now a ConfigFileError, a ConfigError and an OSError, from tinylens.load,
    its message word for word, and stays one when pickled (a survey's Dask worker sends it back)."""
    import pickle
    import re

    import tinylens
    from tinylens.errors import ConfigFileError

    missing = tmp_path / "nope.yaml"
    (tmp_path / "lens").mkdir()
    (tmp_path / "lens" / "a.yaml").write_text("dataset: {}\n")
    monkeypatch.chdir(tmp_path)
    cases = {missing: f"Config file not found: {missing} (looked in {tmp_path}). Check the path and its spelling.",
             tmp_path / "lens": f"Config path {tmp_path / 'lens'} is a folder; give the YAML file inside it: "
                                f"{tmp_path / 'lens' / 'a.yaml'}.",
             Path(""): f"Config path . is the current folder ({tmp_path}), not a YAML file"}
    for config, message in cases.items():
        with pytest.raises(ConfigFileError, match="^" + re.escape(message)) as err:
            tinylens.load(config)
        assert isinstance(err.value, OSError) and isinstance(err.value, ConfigError)
        assert str(err.value).startswith(message) and err.value.errno is None and err.value.filename is None
        again = pickle.loads(pickle.dumps(err.value))
        assert type(again) is ConfigFileError and str(again) == str(err.value)
    try:
        tinylens.load(missing)
    except OSError as exc:  # as a caller of open() would write it
        assert "Config file not found" in str(exc)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_a_config_file_this_user_may_not_read_is_a_config_file_error(tmp_path):
    import tinylens
    from tinylens.errors import ConfigFileError

    path = tmp_path / "model_config.yaml"
    path.write_text("dataset: {}\n")
    path.chmod(0)
    try:
        with pytest.raises(ConfigFileError, match=f"Config file {re.escape(str(path))} cannot be read: "):
            tinylens.load(path)
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("text, message", [
    (b"dataset: \xff\xfe\n", "is not a UTF-8 text file; is it really the YAML configuration?"),
    (b"dataset:\n  data_path: [a.fits\nmodel_components: {}\n", "YAML syntax error"),
    (b"dataset: {}\ndataset: {}\n", "Duplicate YAML key"),
], ids=["not-utf8", "syntax", "duplicate"])
def test_a_config_file_whose_text_is_no_yaml_is_a_config_value_error(tmp_path, text, message):
    """A config file that is not UTF-8, or not valid YAML, was the plain ConfigError; its text is a
    wrong value of the file's (as json and tomllib take an undecodable text: a ValueError), so it
    is now a ConfigValueError, a ValueError too, and no OSError (the file was read), message kept."""
    import tinylens
    from tinylens.errors import ConfigValueError

    path = tmp_path / "model_config.yaml"
    path.write_bytes(text)
    with pytest.raises(ConfigValueError, match=re.escape(message)) as err:
        tinylens.load(path)
    assert str(path) in str(err.value) and isinstance(err.value, ValueError) and not isinstance(err.value, OSError)


@pytest.mark.parametrize("written, shown", [("101", "101"), ("100000000000000000000", "100000000000000000000"),
                                            ("1" + "0" * 400, "(401 characters)")])
def test_max_widen_above_a_hundred_is_refused_by_name(tmp_path, written, shown):
    """``pipeline: {max_widen: 100000000000000000000}`` was accepted, and a dynesty fit saving its evaluation
    history then hung before it started (its history's file name was checked for each of the 1e20 runs the fit
    could make, no line printed in two minutes). Above 100 it is refused by name, with the limit and the value."""
    message = " ".join(error_of(write(tmp_path, EXAMPLE + f"pipeline: {{max_widen: {written}}}\n")).split())
    assert "pipeline.max_widen: should be less than or equal to 100; got " in message, message
    assert shown in message and "0" * 120 not in message, message
    cfg, _ = load_config(write(tmp_path, EXAMPLE + "pipeline: {max_widen: 100}\n"))
    assert cfg.pipeline.max_widen == 100


@pytest.mark.parametrize("written, shown", [("1e300", "'1e300'"), ("-1e300", "'-1e300'"),
                                             ("8796093022208", "8796093022208"), ("1.0e+13", "10000000000000.0")])
def test_a_zeropoint_no_magnitude_can_be_computed_of_is_refused_by_key(tmp_path, written, shown):
    """'dataset.zeropoint: 1e300' passed validate, and the fit's magnitudes, zeropoint - 2.5 log10(flux),
    were all 1e+300, whatever the flux: the float holds 1e300 to 1.5e284. A zeropoint of 2**43 or
    more in absolute value (held to 2**-9 = 0.002 mag or coarser) is refused by key, with the value
    written; 2**43 - 1, 0 and -0.0 are still read as given."""
    from tinylens.results.derived import magnitude

    value = float(yaml.safe_load(f"x: {written}")["x"])
    fluxes = np.array([1e-3, 1.0, 1e3])  # 15 magnitudes apart, which must show in the magnitudes
    assert np.spacing(abs(value)) > 1e-3  # independent truth: a float near it is coarser than 0.001 mag
    if abs(value) > 1e100:
        assert np.unique(magnitude(fluxes, value)).size == 1  # every magnitude the same: the fluxes lost
    lines = EXAMPLE.replace("  pixel_scale: 0.074", f"  pixel_scale: 0.074\n  zeropoint: {written}")
    text = " ".join(error_of(write(tmp_path, lines)).split())
    assert "dataset.zeropoint: must be a magnitude zeropoint below 2**43" in text and f"got {shown}." in text, text
    for fine in ("8796093022207", "0", "-0.0", "25.7"):
        config, _ = load_config(write(tmp_path, EXAMPLE.replace("  pixel_scale: 0.074", f"  pixel_scale: 0.074\n  zeropoint: {fine}")))
        assert config.dataset.zeropoint == float(fine) and np.spacing(abs(float(fine))) < 1e-3
