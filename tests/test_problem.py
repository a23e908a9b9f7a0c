"""tinylens.load: where relative data paths are taken from, and what its messages say of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import tinylens
from tinylens.errors import ConfigError, ConfigValueError, DataError
from tiny_lens import write_tiny_lens


@pytest.fixture
def lens(tmp_path) -> Path:
    return write_tiny_lens(tmp_path / "lens")


def test_load_shows_its_keywords_to_help():
    """help(tinylens.load) showed (config, **kwargs): base_dir and dtype were not to be seen."""
    import inspect

    assert list(inspect.signature(tinylens.load).parameters) == ["config", "dtype", "base_dir"]
    assert "base_dir" in tinylens.load.__doc__


def test_fit_documents_each_of_its_keywords_to_help():
    """help(tinylens.fit) said nothing of output= (where the outputs go instead of output.path)
    nor of progress= (what it prints), nor what it returns."""
    import inspect

    for name in inspect.signature(tinylens.fit).parameters:
        assert f"``{name}``" in tinylens.fit.__doc__, name
    assert "FitResult" in tinylens.fit.__doc__


def test_the_result_of_fit_is_a_class_of_the_package_for_help_and_isinstance():
    """help(tinylens.fit) says it returns a FitResult, but tinylens.FitResult was an AttributeError,
    and so was tinylens.fit.FitResult (tinylens.fit is the function, as is ``import tinylens.fit``):
    help() on it or isinstance() needed ``from tinylens.fit import FitResult``."""
    assert "FitResult" in tinylens.__all__
    assert tinylens.FitResult is tinylens.fit.__globals__["FitResult"]
    assert "median" in tinylens.FitResult.__dataclass_fields__


def test_help_of_a_fit_result_says_what_each_of_its_attributes_holds():
    """help(result) said only "What result.json holds, plus the samples and the summary table":
    what interval_997, derived, quality, files or info hold, or the order of the samples'
    columns, was left to the source. Its docstring now names each attribute with what it holds."""
    import dataclasses
    import pydoc

    text = pydoc.render_doc(tinylens.FitResult, renderer=pydoc.plaintext)
    for field in dataclasses.fields(tinylens.FitResult):
        assert f"``{field.name}``" in tinylens.FitResult.__doc__ and f"``{field.name}``" in text, field.name
    assert "percentiles 16-84 and 0.135-99.865" in text and "None for an optimiser" in text


def test_base_dir_of_another_type_is_refused_by_name(lens):
    with pytest.raises(ConfigError, match=r"base_dir must be a folder .*got int 5"):
        tinylens.load(lens, base_dir=5)


def test_an_output_of_another_type_is_refused_by_name_before_the_data_are_read(lens, monkeypatch):
    """tinylens.fit(config, output=5) was a raw TypeError out of pathlib, after loading the data."""
    import tinylens.problem

    monkeypatch.setattr(tinylens.problem, "load_dataset", lambda *a: pytest.fail("the data were read"))
    with pytest.raises(ConfigError, match=r"output must be a folder .*got int 5"):
        tinylens.fit(lens, output=5)


@pytest.mark.parametrize("call, expected", [
    (lambda lens: tinylens.load(42), "A configuration must be a YAML file path or a mapping; got int 42."),
    (lambda lens: tinylens.load(None), "A configuration must be a YAML file path or a mapping; got NoneType None."),
    (lambda lens: tinylens.load(lens, base_dir=3), "base_dir must be a folder (a str or pathlib.Path); got int 3."),
    (lambda lens: tinylens.fit(lens, output=5), "output must be a folder (a str or pathlib.Path); got int 5."),
    (lambda lens: tinylens.read_result(3), "read_result takes the output folder of a fit (a str or pathlib.Path); "
                                           "got int 3."),
    (lambda lens: __import__("tinylens.survey.population", fromlist=["_"]).simulate_population(1, 5),
     "simulate_population's outdir (the output folder) must be a folder (a str or pathlib.Path), got int 5"),
], ids=["load-int", "load-None", "base_dir", "fit-output", "read_result", "simulate_population-outdir"])
def test_an_argument_of_the_wrong_type_is_a_config_type_error_that_except_type_error_catches(lens, call, expected):
    """load(42), load(None), base_dir=3, fit(output=5), read_result(3) and simulate_population's
    outdir=5 raised a plain ConfigError, which ``except TypeError`` missed, though ConfigTypeError
    (a ConfigError and a TypeError) is the package's error for an argument of the wrong type, as
    simulate and the figures raise it; each is one now, with the same message, and the data are not read."""
    with pytest.raises(TypeError) as caught:
        call(lens)
    assert isinstance(caught.value, tinylens.ConfigTypeError) and isinstance(caught.value, ConfigError)
    assert str(caught.value) == expected
    assert not (lens.parent / "output").exists()


@pytest.mark.parametrize("call, builtin, expected", [
    (lambda lens: tinylens.fit(lens, progress="false"), TypeError, "progress must be True or False (or 1 or 0); got str 'false'."),
    (lambda lens: tinylens.fit(lens, fresh=None), TypeError, "fresh must be True or False (or 1 or 0); got NoneType None."),
    (lambda lens: tinylens.fit(lens, progress=False, fresh=2), ValueError,
     "fresh must be True or False (or 1 or 0); got int 2."),
    (lambda lens: tinylens.fit(lens, truth_errors="ignore"), ValueError,
     "truth_errors must be one of 'raise', 'warn'; got str 'ignore'."),
    (lambda lens: tinylens.fit(lens, truth_errors=None), TypeError,
     "truth_errors must be one of 'raise', 'warn'; got NoneType None."),
    (lambda lens: tinylens.fit(lens, output=""), ValueError, "output is an empty path ('': an unset variable?), which "
     "would be the current folder; give a folder, or leave output out (None) for the default."),
    (lambda lens: tinylens.load(lens, base_dir=" "), ValueError, "base_dir is an empty path (' ': an unset variable?), "
     "which would be the current folder; give a folder, or leave base_dir out (None) for the default."),
    (lambda lens: tinylens.load(""), ValueError, "A configuration must be a YAML file path or a mapping; got an empty "
     "path ('': an unset variable?): give the config's YAML file."),
    (lambda lens: tinylens.read_result(""), ValueError, "read_result takes the output folder of a fit; got an empty path "
     "('': an unset variable?), which would be the current folder: give the folder that holds its result.json."),
    (lambda lens: __import__("tinylens.survey.population", fromlist=["_"]).simulate_population(1, ""), ValueError,
     "simulate_population's outdir (the output folder) is an empty or blank path ('': an unset variable?); give a "
     "folder name ('' would be the current folder)"),
], ids=["progress-str", "fresh-None", "fresh-2", "truth_errors-str", "truth_errors-None", "fit-output", "base_dir",
        "load", "read_result", "simulate_population-outdir"])
def test_a_wrong_flag_truth_errors_or_empty_path_is_the_config_type_or_value_error_of_the_rest_of_the_api(
        lens, monkeypatch, call, builtin, expected):
    """fit(progress="false"), fresh=2, truth_errors="ignore" or None, and an empty output, base_dir,
    config, read_result folder or simulate_population outdir raised a plain ConfigError, which
    ``except TypeError`` / ``except ValueError`` missed, where every other argument of the wrong type
    or value is a ConfigTypeError or ConfigValueError; each is one now (still a ConfigError), with
    the same message, and nothing is read or written."""
    monkeypatch.chdir(lens.parent)
    before = sorted(p.name for p in lens.parent.iterdir())
    with pytest.raises(builtin) as caught:
        call(lens)
    wanted = tinylens.ConfigTypeError if builtin is TypeError else tinylens.ConfigValueError
    assert isinstance(caught.value, wanted) and isinstance(caught.value, ConfigError)
    assert str(caught.value) == expected
    assert sorted(p.name for p in lens.parent.iterdir()) == before


def test_fits_docstring_names_the_error_class_each_wrong_flag_or_truth_errors_raises(lens):
    """61a1629 made fit's docstring say 'another truth_errors is a ConfigValueError' and 'a progress,
    fresh or pipeline other than True or False (or 1 or 0) is a ConfigTypeError', though
    truth_errors=None is a ConfigTypeError and fresh=2 a ConfigValueError. Each example the
    docstring now gives raises the class it names there."""
    doc = " ".join(tinylens.fit.__doc__.split())
    assert ("another text for ``truth_errors`` is a ConfigValueError (a ConfigError and a ValueError), as an empty "
            "``output`` or ``base_dir`` is, and as an integer other than 1 or 0 for ``progress``, ``fresh`` or "
            "``pipeline`` is; a ``truth_errors`` that is no text (None) or a ``progress``, ``fresh`` or ``pipeline`` "
            "that is neither a bool nor an integer (``\"false\"``, None) is a ConfigTypeError") in doc
    for kwargs, kind in [({"truth_errors": "ignore"}, tinylens.ConfigValueError), ({"fresh": 2}, tinylens.ConfigValueError),
                         ({"truth_errors": None}, tinylens.ConfigTypeError), ({"progress": "false"}, tinylens.ConfigTypeError),
                         ({"pipeline": None}, tinylens.ConfigTypeError)]:
        with pytest.raises(kind):
            tinylens.fit(lens, **kwargs)
    assert not (lens.parent / "output").exists()


def test_load_says_base_dir_none_is_its_default_not_a_wrong_type(lens):
    """b413d29 made load's docstring say 'A config or base_dir of the wrong type (None, a number)
    raises ConfigTypeError', though base_dir=None is load's default, which takes the YAML file's
    folder; it now lists None as a wrong type of config only, as load behaves."""
    doc = " ".join(tinylens.load.__doc__.split())
    assert tinylens.load(lens, base_dir=None).base_dir == lens.parent
    with pytest.raises(tinylens.ConfigTypeError):
        tinylens.load(None)
    assert "``base_dir`` of the wrong type (None" not in doc
    assert "a ``base_dir`` that is neither None (the default) nor a path (a number) raises :class:`ConfigTypeError`" in doc


@pytest.mark.parametrize("settings, expected", [
    ({"nlvie": 100}, r"inference\.settings\.nlvie: not a setting of nautilus\. Did you mean 'nlive'"),
    ({"nlive": "fifty"}, r"inference\.settings\.nlive: must be a whole number >= 1 for nautilus, got 'fifty'"),
    ({"corner_parameters": ["lens_mass.0.theta_e"]}, r"corner_parameters.*lens_mass\.0\.theta_e"),
])
def test_what_only_a_fit_uses_is_checked_by_fit_before_its_output_folder_as_load_says(lens, settings, expected):
    """tinylens.load's docstring said a wrong value or an unknown key raises ConfigError, but load
    took inference.settings' misspelled nlvie and nlive: "fifty" (and a corner parameter that is
    none) without a word, which only fit refused: checking them in load would import the sampler
    (seconds) and refuse a problem meant to be sampled by other means. The docstring now says what
    load leaves to fit, and fit refuses each, naming it, before its output folder is made."""
    cfg = yaml.safe_load(lens.read_text())
    if "corner_parameters" in settings:
        cfg["output"].update(settings)
    else:
        cfg["inference"]["settings"] = settings
    lens.write_text(yaml.safe_dump(cfg))
    assert tinylens.load(lens).ndim == 4  # loads, as its docstring says
    doc = " ".join(tinylens.load.__doc__.split())
    assert "left to :func:`fit`" in doc and "``inference.settings``" in doc and "``output.corner_parameters``" in doc
    with pytest.raises(ConfigError, match=expected):
        tinylens.fit(lens, progress=False)
    assert not (lens.parent / "output").exists()


def test_relative_paths_come_from_the_config_file_folder_or_the_base_dir(lens, tmp_path, monkeypatch):
    assert tinylens.load(lens).base_dir == lens.parent
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.raises(DataError) as err:  # a base_dir without the files: the message blames base_dir
        tinylens.load(lens, base_dir=elsewhere)
    text = str(err.value)
    assert f"taken from {elsewhere.resolve()} (the base_dir given to tinylens.load" in text
    assert "config file's folder" not in text

    config = yaml.safe_load(lens.read_text())
    monkeypatch.chdir(elsewhere)
    with pytest.raises(DataError, match=r"\(the current folder, as the config is not a file: give base_dir="):
        tinylens.load(config)
    assert tinylens.load(config, base_dir=lens.parent).dataset.data.shape == (32, 32)

    (lens.parent / "psf.fits").unlink()
    with pytest.raises(DataError, match=r"taken from .*lens \(the config file's folder\)"):
        tinylens.load(lens)


def test_a_problem_s_config_loaded_again_without_its_folder_says_to_give_problem_base_dir(lens, tmp_path, monkeypatch):
    """``tinylens.load(problem.config)``, an input load's docstring lists, from another folder looked for
    the data there and said 'the current folder, as the config is not a file: give base_dir= ...', nothing
    of where a Problem's config has its folder; it now says a loaded Config keeps none and to give
    base_dir=problem.base_dir, with which the same config loads the same problem."""
    problem = tinylens.load(lens)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert not (elsewhere / problem.config.dataset.data_path).exists()  # the data are not in the current folder
    with pytest.raises(DataError) as err:
        tinylens.load(problem.config)
    text = " ".join(str(err.value).split())
    assert "dataset.data_path" in text and "a loaded Config" in text and "base_dir=problem.base_dir" in text, text
    again = tinylens.load(problem.config, base_dir=problem.base_dir)  # the hint holds
    assert again.param_names == problem.param_names and np.array_equal(again.dataset.data, problem.dataset.data)
    assert "base_dir=problem.base_dir" in tinylens.load.__doc__  # and the docstring says it


def test_a_base_dir_that_is_a_file_or_no_folder_is_said_to_be(lens, tmp_path):
    """``tinylens.load(config, base_dir=path_of_the_yaml)`` (the config file's path for its
    folder) said only "file not found: .../model_config.yaml/image.fits ... taken from
    .../model_config.yaml"; the message now says that base_dir is a file and names its folder,
    and of a base_dir that does not exist, that there is no such folder."""
    config = yaml.safe_load(lens.read_text())
    with pytest.raises(DataError) as err:
        tinylens.load(config, base_dir=lens)
    assert (f"But {lens.resolve()} is a file, not a folder: give the folder the relative paths start from (its own: "
            f"{lens.parent.resolve()}).") in str(err.value)
    missing = tmp_path / "moved"
    with pytest.raises(DataError) as err:
        tinylens.load(config, base_dir=missing)
    assert f"taken from {missing.resolve()} (the base_dir given to tinylens.load / tinylens.fit). But there is no folder " \
           f"{missing.resolve()}." in str(err.value)
    assert tinylens.load(config, base_dir=lens.parent).base_dir == lens.parent


def test_a_dict_config_is_not_told_to_check_a_survey_template(lens, tmp_path, monkeypatch):
    """tinylens.load(dict) or tinylens.fit(dict) in a notebook, its image.fits missing, added 'If
    this is a survey template ... tinylens survey ... --dry-run': a template is a config file."""
    config = yaml.safe_load(lens.read_text())
    monkeypatch.chdir(tmp_path)  # holds no image.fits
    for call in (tinylens.load, tinylens.fit):
        with pytest.raises(DataError) as err:
            call(config)
        assert "'image.fits' was taken from" in str(err.value) and "survey" not in str(err.value), str(err.value)
    (lens.parent / "image.fits").unlink()
    with pytest.raises(DataError, match="If this is a survey template"):  # a config file still is told
        tinylens.load(lens)


def test_params_dict_and_log_likelihood_jax_refuse_a_vector_of_the_wrong_length(lens):
    """Both indexed the vector in JAX, which clamps an index past its end: a vector one entry short
    gave the last free parameter's value to the missing ones, without a word; a batch was a
    TypeError from deep inside."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from tinylens.errors import ParameterError

    problem = tinylens.load(lens)
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    for wrong in (theta[:-1], np.r_[theta, 0.0], np.stack([theta] * 2)):
        with pytest.raises(ParameterError, match=rf"with n = {problem.ndim}, the free parameters"):
            problem.params_dict(wrong)
        with pytest.raises(ParameterError, match=rf"with n = {problem.ndim}, the free parameters"):
            problem.log_likelihood_jax(jnp.asarray(wrong, problem.dtype))
    assert problem.params_dict(list(theta))["source_light.0"]["center_x"] == pytest.approx(theta[2])
    value = jax.jit(problem.log_likelihood_jax)(jnp.asarray(theta, problem.dtype))
    assert float(problem.log_likelihood_jax(list(theta))) == pytest.approx(float(value), rel=1e-5)
    assert float(value) == pytest.approx(problem.log_likelihood(theta), rel=1e-5)


def test_a_problem_pickles_so_its_methods_go_to_other_processes(lens):
    """multiprocessing (a Pool's map of problem.log_likelihood, a sampler's pool) pickles the
    problem; its compiled functions are local closures, so that was "Can't pickle local object
    'Problem.__post_init__.<locals>.batch'". They are rebuilt on unpickling."""
    import multiprocessing
    import pickle

    import numpy as np

    problem = tinylens.load(lens)
    theta = problem.prior_transform(np.random.default_rng(1).uniform(size=(3, problem.ndim)))
    expected = problem.log_likelihood(theta)
    problem.model_image(theta[0])  # its compiled image function is cached: left out too
    copy = pickle.loads(pickle.dumps(problem))
    assert copy.dtype == problem.dtype and copy.param_names == problem.param_names
    np.testing.assert_array_equal(copy.log_likelihood(theta), expected)
    np.testing.assert_array_equal(copy.model_image(theta[0])["total"], problem.model_image(theta[0])["total"])
    np.testing.assert_array_equal(copy.amplitudes(theta[1])["source_light.0"], problem.amplitudes(theta[1])["source_light.0"])
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        np.testing.assert_allclose(pool.map(problem.log_likelihood, list(theta)), expected, rtol=1e-6)


def test_float64_while_x64_is_off_is_refused_not_computed_in_float32(lens, tmp_path):
    """A problem loaded with dtype=float64 while x64 was off computed in float32 and said float64
    (its dtype; only JAX's truncation warnings told): it is a ConfigValueError (a ValueError, as
    load's other refusals of a dtype; it was the plain ConfigError) that says how to turn x64 on,
    and leaves it off; with x64 on, the dtype it says is that of its arrays."""
    import jax
    import jax.numpy as jnp
    from oracle import x64

    with x64():  # restored whatever happens
        jax.config.update("jax_enable_x64", False)
        with pytest.raises(ConfigValueError, match=r"^dtype=float64 needs JAX's x64 mode, which is off: JAX would "
                                                   r"compute in float32\. Turn it on first, with tinylens\.set_precision\('float64'\)"):
            tinylens.load(lens, dtype=jnp.float64)
        assert not jax.config.jax_enable_x64
        with pytest.raises(ConfigValueError, match=r"^dtype=float64 needs JAX's x64 mode"):  # before the data are read
            tinylens.load(tmp_path / "nowhere.yaml", dtype=jnp.float64)
        jax.config.update("jax_enable_x64", True)
        problem = tinylens.load(lens, dtype=jnp.float64)
        assert problem.dtype == problem.imaging.data.dtype == jnp.float64 and problem.precision == "float64"


def test_amplitudes_are_float64_like_the_images_in_either_precision(lens):
    """amplitudes() gave float32 arrays for a float32 problem while model_image(), log_likelihood()
    and params_dict() give float64 (arrays or floats): the public outputs are float64 whatever
    the precision, with the float32 problem's values (compared with a float64 problem's)."""
    import jax.numpy as jnp
    import numpy as np
    from oracle import x64

    p32 = tinylens.load(lens)
    theta = p32.prior_transform(np.full(p32.ndim, 0.5))
    amps32, images32 = p32.amplitudes(theta), p32.model_image(theta)
    with x64():
        amps64 = tinylens.load(lens, dtype=jnp.float64).amplitudes(theta)
    assert set(amps32) == set(amps64) == {c.label for c in p32.spec.light}
    for label, value in amps32.items():
        assert value.dtype == images32["total"].dtype == np.float64, label
        np.testing.assert_allclose(value, amps64[label], rtol=1e-4, atol=1e-6)



def test_a_numpy_method_under_jax_tracing_says_to_use_log_likelihood_jax(lens):
    """jax.jit(problem.log_likelihood)(theta) or jax.grad of it was a ParameterError that said
    "expected theta of shape (n,) or a batch (B, n) with n = 4 ...; got DynamicJaxprTracer
    JitTracer(float32[4])", a vector of that very shape; it now says that JAX traces it, which these
    numpy methods cannot take, and to use problem.log_likelihood_jax."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from tinylens.errors import ParameterError

    problem = tinylens.load(lens)
    theta = jnp.asarray(problem.prior_transform(np.full(problem.ndim, 0.5)), problem.dtype)
    message = (r"^theta is traced by JAX \(jax\.jit, grad or vmap\), where problem\.log_likelihood, .* "
               r"use problem\.log_likelihood_jax\(theta\)")
    for transform in (jax.jit, jax.grad):
        with pytest.raises(ParameterError, match=message):
            transform(problem.log_likelihood)(theta)
    with pytest.raises(ParameterError, match=r"^u is traced by JAX"):
        jax.vmap(problem.prior_transform)(jnp.full((2, problem.ndim), 0.5))
    assert float(jax.jit(problem.log_likelihood_jax)(theta)) == pytest.approx(problem.log_likelihood(theta), rel=1e-5)

def test_log_likelihood_jax_computes_in_the_problem_dtype_whatever_the_vector(lens):
    """With JAX's x64 on (after set_precision("float64") then ("float32"), say) a float32
    problem given a float64 vector computed in float64 where theta entered, and returned float64:
    another number than log_likelihood() gives for the same problem and vector."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from oracle import x64

    with x64():
        problem = tinylens.load(lens)
        theta = problem.prior_transform(np.random.default_rng(1).uniform(size=problem.ndim))
        value = problem.log_likelihood_jax(theta)
        assert problem.imaging.data.dtype == value.dtype == np.float32
        assert value == problem.log_likelihood_jax(jnp.asarray(theta, jnp.float32))
        grad64 = jax.grad(problem.log_likelihood_jax)(jnp.asarray(theta))
        grad32 = jax.grad(problem.log_likelihood_jax)(jnp.asarray(theta, jnp.float32))
        assert grad64.dtype == np.float64
        np.testing.assert_array_equal(grad64, np.asarray(grad32, np.float64))


@pytest.mark.parametrize("key, value, fragment", [("data", float("nan"), "NaN or infinite data value"),
                                                  ("noise", 0.0, "noise that is NaN, infinite, zero or negative")])
def test_a_hand_built_dataset_with_a_bad_used_pixel_is_refused(lens, key, value, fragment):
    """A Dataset built from arrays skips load_dataset's masking: a NaN in a used pixel made the
    log-likelihood -inf for every parameter vector, silently. The same pixel masked is fine."""
    import dataclasses

    import numpy as np

    from tinylens.problem import Problem

    loaded = tinylens.load(lens)
    d = loaded.dataset
    bad = np.array(getattr(d, key))
    bad[16, 16] = value
    with pytest.raises(DataError, match=f"1 pixel with a {fragment}"):
        Problem(loaded.config, loaded.base_dir, dataclasses.replace(d, **{key: bad}), loaded.spec)
    mask = np.array(d.mask)
    mask[16, 16] = False
    problem = Problem(loaded.config, loaded.base_dir, dataclasses.replace(d, **{key: bad}, mask=mask), loaded.spec)
    assert np.isfinite(problem.log_likelihood(problem.prior_transform(np.full(problem.ndim, 0.5))))


@pytest.mark.parametrize("dtype", ["float16", "int32", "double64", 5, "", 0])
def test_a_dtype_neither_float32_nor_float64_is_refused_by_name(lens, dtype, monkeypatch):
    """tinylens.load(config, dtype="float16") failed deep inside JAX's FFT ("RFFT input must be
    float32 or float64"), after reading the data; "int32" or a non-dtype failed elsewhere in JAX:
    a ConfigError names the value and the two precisions, before any file is read. An empty
    dtype="" (an unset variable) or 0 was taken for no dtype and computed in the default precision."""
    import tinylens.problem

    monkeypatch.setattr(tinylens.problem, "load_dataset", lambda *a, **k: pytest.fail("the data were read"))
    with pytest.raises(ConfigError, match=rf"^dtype={dtype!r}: must be float32 or float64"):
        tinylens.load(lens, dtype=dtype)


def test_a_dict_config_takes_pathlib_paths_as_their_text(lens, tmp_path):
    """A notebook's dict config with data_path=folder / "image.fits" (a pathlib.Path) was refused,
    "dataset.data_path: should be a valid string; got PosixPath(...)", though tinylens.load and
    fit take Paths for the config, base_dir and output: Paths in the dataset's paths and
    output.path are taken as their text, and stored (model_dump) as text."""
    config = yaml.safe_load(lens.read_text())
    folder = lens.parent
    for key in ("data_path", "noise_path", "psf_path"):
        config["dataset"][key] = folder / config["dataset"][key]
    config["output"] = {"path": tmp_path / "out"}
    problem = tinylens.load(config)
    assert problem.config.dataset.data_path == str(folder / "image.fits")
    assert problem.config.output.path == str(tmp_path / "out")
    assert problem.config.model_dump(mode="json")["dataset"]["psf_path"] == str(folder / "psf.fits")
    with pytest.raises(ConfigError, match=r"dataset\.data_path: should be a valid string; got 5"):
        tinylens.load({**config, "dataset": {**config["dataset"], "data_path": 5}})


def test_a_problem_typed_in_a_notebook_prints_one_line_not_its_arrays(lens):
    """``problem = tinylens.load(...); problem`` printed the dataclass's repr: the whole config,
    the dataset's and the imaging's arrays (20,000 characters for the demo). It says what the
    problem is in one line; the parts stay attributes."""
    problem = tinylens.load(lens)
    text = repr(problem)
    assert "\n" not in text and len(text) < 400 and "Array(" not in text and "array(" not in text
    assert text.startswith("Problem(") and f"{problem.ndim} free parameters" in text
    assert "lens_mass.0.theta_E" in text and "32 x 32 pixels" in text and problem.precision in text
    assert str(problem.base_dir) in text


def test_a_problem_with_every_parameter_fixed_prints_no_empty_list_of_them(lens):
    """A model whose parameters are all fixed (a likelihood to evaluate at given values) printed
    'Problem(0 free parameters: ; data 32 x 32 ...', an empty list after a colon."""
    config, values = yaml.safe_load(lens.read_text()), {"theta_E": 1.0, "R_sersic": 0.2}
    for components in config["model_components"].values():
        for component in components:
            for name, value in component["params"].items():
                if isinstance(value, dict) and value.get("fixed") is False:
                    component["params"][name] = {"fixed": True, "fixed_value": values.get(name, 0.0)}
    problem = tinylens.load(config, base_dir=lens.parent)
    assert problem.ndim == 0 and repr(problem).startswith("Problem(0 free parameters; data 32 x 32 pixels of 0.1\"; ")
    assert repr(problem.spec) == "ModelSpec(lens_mass.0 SIE, source_light.0 Sersic; 0 free parameters)"


def test_a_dataset_typed_in_a_notebook_prints_one_line_not_its_arrays(lens):
    """``problem.dataset`` printed the dataclass's repr: the image, noise, PSF and mask arrays
    (about 10,000 characters for the demo). It says in one line what the data are and which files
    they were read from; the arrays stay attributes."""
    dataset = tinylens.load(lens).dataset
    text = repr(dataset)
    assert "\n" not in text and len(text) < 400 and "array(" not in text
    assert text.startswith("Dataset(32 x 32 pixels of 0.1\", 1024 used; PSF ")
    psf = "{} x {}".format(*dataset.psf.shape)
    assert f"PSF {psf}; nsub 2" in text
    for key in ("data_path", "noise_path", "psf_path"):
        assert f"{key}={str(getattr(dataset, key))!r}" in text
    assert "mask_path" not in text and "zeropoint" not in text  # none given


def test_a_model_spec_and_its_components_typed_in_a_notebook_print_one_line_each(lens):
    """``problem.spec`` printed every component's profile with its functions (``<function
    deflection at 0x...>``) and each parameter's reference with all its fields, and
    ``problem.spec.lens_mass[0]`` (as the examples use it) the same for one component. They say
    in one line each what the model is and where each parameter's value comes from."""
    spec = tinylens.load(lens).spec
    text = repr(spec)
    assert "\n" not in text and len(text) < 400 and "function" not in text
    assert text == ("ModelSpec(lens_mass.0 SIE, source_light.0 Sersic; 4 free parameters: lens_mass.0.theta_E, "
                    "source_light.0.R_sersic, source_light.0.center_x, source_light.0.center_y)")
    assert repr(spec.lens_mass[0]) == "Component(lens_mass.0 SIE: theta_E=free[0], e1=0.0, e2=0.0, center_x=0.0, center_y=0.0)"
    source = repr(spec.source_light[0])
    assert source.startswith("Component(source_light.0 Sersic: R_sersic=free[1], n_sersic=1.0, ")
    assert source.endswith("center_x=free[2], center_y=free[3]; amplitude linear)")


def test_two_loads_of_one_config_are_equal_and_a_problem_of_other_data_or_settings_is_not(lens):
    """``tinylens.load(cfg) == tinylens.load(cfg)``, ``problem in problems`` and
    ``problem.dataset == other.dataset`` raised numpy's "The truth value of an array with more than
    one element is ambiguous" (the dataclasses compared their arrays with ``==``). They compare the
    arrays' values now: equal for two loads, unequal for other data, supersampling or weights."""
    import dataclasses

    config = yaml.safe_load(lens.read_text())
    problem, again = tinylens.load(lens), tinylens.load(lens)
    assert problem is not again and problem == again and problem.dataset == again.dataset
    assert problem in [again] and [again].index(problem) == 0 and not problem != again
    assert problem != 3 and problem.dataset != "image.fits"

    config["dataset"]["nsub"] = 1
    coarser = tinylens.load(config, base_dir=lens.parent)
    assert coarser != problem and coarser.dataset != problem.dataset  # the dataset's nsub
    noisier = dataclasses.replace(problem.dataset, noise=problem.dataset.noise * 2)
    assert noisier != problem.dataset and dataclasses.replace(problem, dataset=noisier) != problem
    weighted = problem.derive(imaging=dataclasses.replace(problem.imaging, weight=problem.imaging.weight * 2))
    assert weighted != problem and weighted.dataset == problem.dataset


def test_values_by_parameter_name_are_refused_with_how_to_give_them_as_a_vector(lens):
    """``problem.model_image(result.max_likelihood)`` (a fit's values are by name) was "expected
    theta of shape (n,) ...; got dict {...}", leaving the user to work out the order and how to
    build the vector; the message now gives the expression that builds it."""
    from tinylens.errors import ParameterError

    problem = tinylens.load(lens)
    by_name = dict(zip(problem.param_names, problem.prior_transform([0.5] * problem.ndim)))
    for method in (problem.model_image, problem.log_likelihood, problem.amplitudes):
        with pytest.raises(ParameterError, match=r"got a mapping by parameter name; give its values in the order of "
                                                 r"problem\.param_names: \[theta\[name\] for name in problem\.param_names\]"):
            method(by_name)
    vector = [by_name[name] for name in problem.param_names]
    assert problem.log_likelihood(vector) == problem.log_likelihood(problem.prior_transform([0.5] * problem.ndim))


def test_warnings_of_load_and_fit_name_the_users_line_not_one_of_tinylens(tmp_path):
    """In a notebook, a warning about the user's data or config (a PSF normalised, a key with no
    effect) was shown at a line inside tinylens (``problem.py:374: DataWarning ...`` followed by
    ``dataset = load_dataset(cfg.dataset, ...)``); it now names the user's own call."""
    import warnings

    import numpy as np

    from tinylens.errors import ConfigWarning, DataWarning
    from tiny_lens import tiny_data

    data = tiny_data()
    data["psf"] = 2 * np.asarray(data["psf"])
    path = write_tiny_lens(tmp_path, {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 1, "n_draws": 64}},
                           data)
    config = yaml.safe_load(path.read_text())
    config["pipeline"] = {"n_sigma": 5}  # unused by an optimiser
    for call in (lambda: tinylens.load(config, base_dir=tmp_path),
                 lambda: tinylens.fit(config, base_dir=tmp_path, progress=False)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        ours = [w for w in caught if issubclass(w.category, (ConfigWarning, DataWarning))]
        assert {w.category for w in ours} == {ConfigWarning, DataWarning}
        assert all(w.filename == __file__ for w in ours), [(w.filename, w.lineno) for w in ours]


def test_a_base_dir_in_the_home_of_no_known_user_is_a_config_error(lens):
    """tinylens.load(config, base_dir='~tl_no_such_user/x') raised Python's bare 'RuntimeError:
    Could not determine home directory'; it is a ConfigError naming the path, as for a config's paths."""
    with pytest.raises(ConfigError, match="there is no user 'tl_no_such_user' on this machine"):
        tinylens.load(lens, base_dir="~tl_no_such_user/x")


def test_a_problem_copied_with_other_data_dtype_or_supersampling_computes_on_them(lens):
    """``dataclasses.replace(problem, dataset=new)`` kept the imaging precomputed from the old data,
    so the log-likelihood was that of the old data (the data doubled gave the same value), without
    a word; so did another dtype (float64 said, float32 computed) or supersampling. Such a copy now
    builds its own imaging; a copy with only another spec keeps it, as problem.derive does."""
    import dataclasses

    import jax.numpy as jnp
    import numpy as np
    from oracle import x64

    problem = tinylens.load(lens)
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    before = problem.log_likelihood(theta)
    chi2 = -2 * (before + problem.imaging.log_norm)
    doubled = dataclasses.replace(problem, dataset=dataclasses.replace(problem.dataset, data=2 * problem.dataset.data))
    # every amplitude is solved: twice the data, twice the best amplitudes, four times the chi^2
    assert doubled.log_likelihood(theta) == pytest.approx(-0.5 * 4 * chi2 - problem.imaging.log_norm, rel=1e-4)
    assert problem.log_likelihood(theta) == before
    assert dataclasses.replace(problem, spec=problem.spec).imaging is problem.imaging
    supersampling = problem.config.dataset.supersampling.model_copy(update={"nsub": 4})  # the lens has 2
    config = problem.config.model_copy(update={"dataset": problem.config.dataset.model_copy(
        update={"supersampling": supersampling})})
    finer = dataclasses.replace(problem, config=config)
    assert finer.imaging.grid.n_points == 4 * problem.imaging.grid.n_points
    with x64():
        wider = dataclasses.replace(problem, dtype=jnp.float64)
        assert wider.precision == "float64" and wider.log_likelihood(theta) == pytest.approx(before, rel=1e-5)


def test_a_field_set_on_a_built_problem_is_refused_not_left_unused(lens):
    """``problem.dataset = doubled`` was taken without a word, while the likelihood kept the imaging
    and the compiled functions made from the old dataset (the data doubled gave the same value), and
    ``problem.spec = other`` changed param_names but not the model the likelihood computes; setting
    such a field is an AttributeError that says how to make a problem with it instead."""
    import dataclasses

    import numpy as np

    problem = tinylens.load(lens)
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    before = problem.log_likelihood(theta)
    doubled = dataclasses.replace(problem.dataset, data=2 * problem.dataset.data)
    with pytest.raises(AttributeError, match=r"^problem\.dataset cannot be set on a built problem: its imaging and "
                                             r"compiled likelihood were made from the dataset it has, and would be "
                                             r"kept\. Make a new problem with it instead: "
                                             r"dataclasses\.replace\(problem, dataset=\.\.\.\)\.$"):
        problem.dataset = doubled
    with pytest.raises(AttributeError, match=r"dataclasses\.replace\(problem, spec=\.\.\.\) or problem\.derive"):
        problem.spec = problem.spec
    for name in ("config", "dtype", "imaging"):
        with pytest.raises(AttributeError, match=rf"^problem\.{name} cannot be set"):
            setattr(problem, name, getattr(problem, name))
    assert problem.dataset is not doubled and problem.log_likelihood(theta) == before
    assert dataclasses.replace(problem, dataset=doubled).log_likelihood(theta) != before


def test_a_problem_copied_with_another_config_takes_its_model_and_data(lens):
    """``dataclasses.replace(problem, config=other)`` kept the spec and the dataset made from the old
    config: with theta_E fixed in the new one the problem still had 4 free parameters and computed
    the old model, and with another data file or dataset.nsub the old data and points, without a
    word. Such a copy now builds them from the new config, as tinylens.load does; a spec or a dataset
    given with it is kept (problem.derive's spec differs from the config's model), and one with only
    other inference settings keeps both."""
    import dataclasses

    import numpy as np
    from astropy.io import fits

    from tinylens.config import load_config

    problem = tinylens.load(lens)
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    raw = yaml.safe_load(lens.read_text())

    def config_with(change):
        changed = yaml.safe_load(lens.read_text())
        change(changed)
        return load_config(changed)[0]

    fixed = config_with(lambda c: c["model_components"]["lens_mass_list"][0]["params"].update(
        theta_E={"fixed": True, "fixed_value": float(theta[0])}))
    copy = dataclasses.replace(problem, config=fixed)
    assert copy.param_names == problem.param_names[1:]
    assert copy.log_likelihood(theta[1:]) == pytest.approx(problem.log_likelihood(theta), rel=1e-6)
    assert copy.imaging is problem.imaging  # the same data
    given = dataclasses.replace(problem.spec)
    assert dataclasses.replace(problem, config=fixed, spec=given).spec is given

    fits.writeto(lens.parent / "doubled.fits", 2 * fits.getdata(lens.parent / raw["dataset"]["data_path"]))
    doubled = dataclasses.replace(problem, config=config_with(lambda c: c["dataset"].update(data_path="doubled.fits")))
    assert np.array_equal(doubled.dataset.data, 2 * problem.dataset.data)
    assert doubled.log_likelihood(theta) == pytest.approx(
        dataclasses.replace(problem, dataset=doubled.dataset).log_likelihood(theta), rel=1e-6)
    assert doubled.log_likelihood(theta) != problem.log_likelihood(theta)
    coarser = dataclasses.replace(problem, config=config_with(lambda c: c["dataset"].update(nsub=1)))
    assert coarser.imaging.grid.n_points * 4 == problem.imaging.grid.n_points  # the lens has nsub 2

    settings = config_with(lambda c: c["inference"]["settings"].update(nlive=200))
    kept = dataclasses.replace(problem, config=settings)
    assert kept.spec is problem.spec and kept.dataset is problem.dataset and kept.imaging is problem.imaging
    derived = problem.derive(spec=dataclasses.replace(problem.spec, priors=problem.spec.priors))
    assert dataclasses.replace(derived, config=settings).spec is derived.spec


def test_a_problem_copied_with_other_data_and_an_imaging_of_its_own_computes_on_that_imaging(lens):
    """``dataclasses.replace(problem, dataset=new, imaging=mine)`` threw ``mine`` away without a word
    and built an imaging from ``new`` (it took any imaging with another dataset for the old one
    carried over). An imaging given with it is now kept, as problem.derive(imaging=...) keeps one;
    the one a copy carries over (from derive, or through pickling) is still rebuilt for new data."""
    import dataclasses
    import pickle

    import numpy as np

    from tinylens import likelihood as lk

    problem = tinylens.load(lens)
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    d = problem.dataset
    doubled = dataclasses.replace(d, data=2 * d.data)
    # twice the data and twice the noise: the same chi^2 (amplitudes solved), log(2 sigma) in each pixel's norm
    mine = lk.make_imaging(2 * d.data, 2 * d.noise, d.psf, d.mask, d.pixel_scale, d.nsub, problem.dtype)
    copy = dataclasses.replace(problem, dataset=doubled, imaging=mine)
    assert copy.imaging is mine
    expected = problem.log_likelihood(theta) - problem.imaging.n_used * np.log(2)
    assert copy.log_likelihood(theta) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ConfigError, match=r"^dtype='float16': must be float32 or float64"):
        dataclasses.replace(problem, dataset=doubled, dtype="float16", imaging=mine)  # checked with an imaging too

    rebuilt = dataclasses.replace(dataclasses.replace(problem, imaging=mine), dataset=doubled)
    assert rebuilt.imaging is not mine
    assert rebuilt.log_likelihood(theta) == pytest.approx(
        dataclasses.replace(problem, dataset=doubled).log_likelihood(theta), rel=1e-6)
    unpickled = pickle.loads(pickle.dumps(problem))
    assert dataclasses.replace(unpickled, dataset=doubled).log_likelihood(theta) == pytest.approx(
        rebuilt.log_likelihood(theta), rel=1e-6)


def test_an_imaging_of_another_precision_than_the_problem_is_refused_by_name(lens):
    """``problem.derive(imaging=mine)`` or ``dataclasses.replace(problem, imaging=mine)`` with
    ``mine`` made in float32 for a float64 problem (make_imaging's default) was taken silently: the
    problem said dtype float64 but precision float32, and computed in a mix of both
    (log_likelihood_jax returned float32). It is refused, naming both precisions and how to make
    it; the imaging given with its own dtype, or made in the problem's, is taken as before."""
    import dataclasses

    import numpy as np

    from oracle import x64
    from tinylens import likelihood as lk
    from tinylens.errors import ConfigValueError

    with x64():
        p64 = tinylens.load(lens, dtype="float64")
        p32 = tinylens.load(lens, dtype="float32")
        theta = p64.prior_transform(np.full(p64.ndim, 0.5))
        d = p64.dataset
        mine32 = lk.make_imaging(d.data, d.noise, d.psf, d.mask, d.pixel_scale, d.nsub)  # float32, the default
        for make in (lambda: p64.derive(imaging=mine32), lambda: dataclasses.replace(p64, imaging=mine32),
                     lambda: p32.derive(imaging=p64.imaging)):
            with pytest.raises(ConfigValueError, match=r"^imaging: it holds float(32|64) arrays, but the problem's "
                                                       r"dtype is float(64|32): it would compute in a mix of both\. "
                                                       r"Make the imaging in float(64|32) \(tinylens\.likelihood\."
                                                       r"make_imaging\(\.\.\., dtype=problem\.dtype\)\)"):
                make()
        ours = dataclasses.replace(p64, dtype="float32", imaging=mine32)
        assert ours.imaging is mine32 and ours.precision == "float32"
        assert ours.log_likelihood(theta) == pytest.approx(p32.log_likelihood(theta), rel=1e-6)
        mine64 = lk.make_imaging(d.data, d.noise, d.psf, d.mask, d.pixel_scale, d.nsub, p64.dtype)
        derived = p64.derive(imaging=mine64)
        assert derived.precision == "float64" and derived.log_likelihood_jax(theta).dtype == np.float64
        assert derived.log_likelihood(theta) == pytest.approx(p64.log_likelihood(theta), rel=1e-9)


def test_a_supersampling_too_large_for_memory_is_a_config_value_error(lens, monkeypatch):
    """The tiny lens's 32 x 32 pixels at nsub 2 are 4,096 points: with a limit of 4,000 the load
    was refused with the plain ConfigError, which ``except ValueError`` missed though its factors
    are a wrong value of the config; it is a ConfigValueError (a ValueError too), its message as
    it was."""
    import tinylens.problem

    monkeypatch.setattr(tinylens.problem, "MAX_SUPERSAMPLED_POINTS", 4_000)
    with pytest.raises(ConfigValueError) as info:
        tinylens.load(lens)
    assert isinstance(info.value, ValueError)
    assert str(info.value) == ("dataset.nsub: 2 per axis (uniform supersampling) makes 4,096 supersampled "
                               "points for 1,024 pixels, more than the 4,000 a model image may have (it would not fit "
                               "in memory). Use smaller factors, a mask, or a smaller cut-out of the image.")
