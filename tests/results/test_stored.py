"""load_stored on files that are not a finished fit's result.json: one OutputError naming the
file and what is wrong, never a bare KeyError or JSONDecodeError."""

from __future__ import annotations

import json

import pytest
import yaml

from tiny_lens import unbounded_tiny_fit, write_tiny_lens
from tinylens.errors import OutputError
from tinylens.results.stored import finite_number, load_stored


def test_what_is_not_a_result_is_named(tmp_path):
    config_path = write_tiny_lens(tmp_path / "lens")
    config = yaml.safe_load(config_path.read_text())
    cases = {
        "missing.json": (None, "no such file"),
        "broken.json": ('{"config": ', "not a readable result.json (JSONDecodeError"),
        "list.json": ("[1, 2]", "not a tinylens result.json (it lacks config, max_likelihood)"),
        "empty.json": ("{}", "it lacks config, max_likelihood"),
        "other.json": (json.dumps({"config": config, "config_dir": str(tmp_path / "lens"),
                                   "max_likelihood": {"lens_mass.0.theta_E_old": 1.0}}),
                       "its max_likelihood lacks lens_mass.0.theta_E"),
    }
    for name, (text, fragment) in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        with pytest.raises(OutputError) as err:
            load_stored(tmp_path / name)
        assert str(err.value).startswith(f"{tmp_path / name}: ") and fragment in str(err.value), str(err.value)
    with pytest.raises(OutputError) as err:  # was "not a readable result.json (IsADirectoryError: ...)"
        load_stored(tmp_path)  # a folder, the fit's output folder say
    assert str(err.value) == f"{tmp_path} is a folder; give the result.json inside it ({tmp_path / 'result.json'})."
    survey = tmp_path / "survey_out"  # a survey's output folder: its results are one per lens
    (survey / "lenses" / "lens_a").mkdir(parents=True)
    with pytest.raises(OutputError) as err:  # pointed to survey_out/result.json, which no survey writes
        load_stored(survey)
    assert str(err.value) == (f"{survey} is a folder; it holds a survey, whose fits each have a result.json in "
                              f"{survey / 'lenses'}/<lens_id>/: give one of those "
                              f"(e.g. {survey / 'lenses' / '<lens_id>' / 'result.json'}).")


def test_a_result_whose_data_moved_loads_with_base_dir(tmp_path):
    """A lens folder moved (or copied to another machine) after its fit: its result.json names
    the old config_dir; load_stored said only 'the base_dir given to tinylens.load' and took
    none, so the result could not be loaded without editing the file."""
    import shutil

    import numpy as np

    import tinylens
    from tinylens.errors import DataError
    from tiny_lens import write_stored_result

    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    path = write_stored_result(tmp_path / "lens" / "output", problem, theta)
    shutil.move(tmp_path / "lens", tmp_path / "moved")
    moved = tmp_path / "moved" / "output" / "result.json"
    with pytest.raises(DataError) as err:
        load_stored(moved)
    assert str(err.value).startswith(f"{moved}: the data of this fit cannot be loaded") and "base_dir=" in str(err.value)
    stored, again, best = load_stored(moved, base_dir=tmp_path / "moved")
    assert again.base_dir == tmp_path / "moved" and np.array_equal(best, theta) and not path.exists()
    assert again.log_likelihood(best) == pytest.approx(problem.log_likelihood(theta))


def test_a_moved_result_says_where_its_relative_paths_were_taken_from(tmp_path):
    """The message said the paths were taken from 'the base_dir given to tinylens.load /
    tinylens.fit', which a load_stored user gave none of: they came from the result's config_dir,
    or from load_stored's own base_dir."""
    import shutil

    import numpy as np

    import tinylens
    from tinylens.errors import DataError
    from tiny_lens import write_stored_result

    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    write_stored_result(tmp_path / "lens" / "output", problem, problem.prior_transform(np.full(problem.ndim, 0.5)))
    shutil.move(tmp_path / "lens", tmp_path / "moved")
    moved = tmp_path / "moved" / "output" / "result.json"
    for base_dir, origin in ((None, "result.json's config_dir"), (tmp_path / "elsewhere", "base_dir given to load_stored")):
        with pytest.raises(DataError) as err:
            load_stored(moved, base_dir=base_dir)
        assert origin in str(err.value) and "tinylens.load" not in str(err.value), str(err.value)


def test_a_moved_survey_result_is_not_told_to_give_base_dir(tmp_path):
    """A survey's lens config names its files by absolute paths: the message said to give
    load_stored a base_dir, which moves only relative ones, so it changed nothing."""
    import json
    import shutil

    import numpy as np

    import tinylens
    from tinylens.errors import DataError
    from tiny_lens import write_stored_result

    config = yaml.safe_load(write_tiny_lens(tmp_path / "lens").read_text())
    for key in ("data_path", "noise_path", "psf_path"):
        config["dataset"][key] = str(tmp_path / "lens" / config["dataset"][key])
    problem = tinylens.load(config)
    path = write_stored_result(tmp_path / "out", problem, problem.prior_transform(np.full(problem.ndim, 0.5)))
    assert json.loads(path.read_text())["config"]["dataset"]["data_path"] == str(tmp_path / "lens" / "image.fits")
    shutil.move(tmp_path / "lens", tmp_path / "moved")
    with pytest.raises(DataError) as err:
        load_stored(path)
    assert "base_dir" not in str(err.value) and "absolute paths" in str(err.value), str(err.value)
    assert f"edit the paths of config.dataset in {path}" in str(err.value), str(err.value)


def test_a_stored_fit_is_rebuilt_in_the_precision_it_was_fitted_in(tmp_path, monkeypatch):
    """A float64 fit (info.precision) reloaded in a float32 session was recomputed in float32: the
    examples' re-checks of its best fit gave another log-likelihood than the fit's own."""
    import jax.numpy as jnp
    import numpy as np

    import tinylens
    from oracle import x64
    from tiny_lens import write_stored_result

    config = write_tiny_lens(tmp_path / "lens")
    p32 = tinylens.load(config)
    theta = p32.prior_transform(np.full(p32.ndim, 0.5))
    with x64():
        p64 = tinylens.load(config, dtype=jnp.float64)
        assert p64.log_likelihood(theta) != p32.log_likelihood(theta)
        path = write_stored_result(tmp_path / "fit64", p64, theta, info={"precision": "float64"})
        _, again, _ = load_stored(path)
        assert again.dtype == jnp.float64 and again.log_likelihood(theta) == p64.log_likelihood(theta)
        path = write_stored_result(tmp_path / "fit32", p32, theta, info={"precision": "float32"})
        with monkeypatch.context() as patch:  # a float64 session (as set_precision("float64") leaves it)
            patch.setattr(tinylens.precision, "_PRECISION", "float64")
            assert tinylens.load(config).dtype == jnp.float64
            _, again, _ = load_stored(path)
        assert again.dtype == jnp.float32 and again.log_likelihood(theta) == p32.log_likelihood(theta)


def test_a_typo_in_tinylens_precision_is_named_as_the_environments_not_the_results(tmp_path, monkeypatch):
    """TINYLENS_PRECISION=flaot32 while a result that records no precision was loaded said that the
    config the fit records 'cannot be loaded by this tinylens (written by another version, or
    edited?)', sending the user to a file that is fine; it now names the variable, its value and
    the values it takes. A result that records its precision is rebuilt in that, whatever the variable."""
    import numpy as np

    import tinylens
    from tinylens.errors import ConfigValueError
    from tiny_lens import write_stored_result

    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    old = write_stored_result(tmp_path / "old", problem, theta)  # no info.precision: before tinylens recorded it
    recorded = write_stored_result(tmp_path / "new", problem, theta, info={"precision": "float32"})
    monkeypatch.setattr(tinylens.precision, "_GIVEN", "flaot32")  # as TINYLENS_PRECISION=flaot32 at import
    monkeypatch.setattr(tinylens.precision, "_PRECISION", None)
    with pytest.raises(ConfigValueError) as raised:
        load_stored(old)
    text = " ".join(str(raised.value).split())
    assert text.startswith(f"{old} records no precision") and "another version" not in text, text
    assert "TINYLENS_PRECISION='flaot32'" in text and "'float32' or 'float64'" in text and "unset" in text, text
    _, again, best = load_stored(recorded)
    assert again.log_likelihood(best) == problem.log_likelihood(theta)


def test_a_moved_result_is_not_told_to_check_a_survey_template(tmp_path):
    """Its data files are called image.fits, noise.fits and psf.fits, the names a survey fills in:
    the message added 'If this is a survey template ... --dry-run', which a fit's stored config
    is not. (validate or fit on such a config still say it.)"""
    import shutil

    import numpy as np

    import tinylens
    from tinylens.errors import DataError
    from tiny_lens import write_stored_result

    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    write_stored_result(tmp_path / "lens" / "output", problem, problem.prior_transform(np.full(problem.ndim, 0.5)))
    shutil.move(tmp_path / "lens", tmp_path / "moved")
    moved = tmp_path / "moved" / "output" / "result.json"
    with pytest.raises(DataError) as err:
        load_stored(moved)
    assert "'image.fits' was taken from" in str(err.value) and "survey" not in str(err.value), str(err.value)
    (tmp_path / "template.yaml").write_text(yaml.safe_dump(problem.config.model_dump(mode="json")))
    with pytest.raises(DataError, match="If this is a survey template"):  # as a config file, a template
        tinylens.load(tmp_path / "template.yaml")


def test_a_result_in_the_home_folder_is_loaded_by_a_tilde_path(tmp_path, monkeypatch):
    """load_stored('~/fits/output/result.json') said 'no such file', though the file was there:
    the path was not expanded, where tinylens.fit and tinylens.load expand a leading '~'."""
    import numpy as np

    import tinylens
    from tiny_lens import write_stored_result

    monkeypatch.setenv("HOME", str(tmp_path))
    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    write_stored_result(tmp_path / "lens" / "output", problem, theta)
    stored, again, best = load_stored("~/lens/output/result.json")
    assert np.array_equal(best, theta) and again.base_dir == problem.base_dir


def test_a_fit_records_how_its_mask_was_read_and_a_result_that_does_not_is_announced(tmp_path):
    """result.json did not say how its mask file was read, so a fit from before mask files were
    read as 0 = used (then non-zero = used: the pixels meant to be left out were fitted) could not
    be told apart from one after, and load_stored rebuilt either without a word. A fit now records
    mask_read_as and the pixels it fitted; a result with a mask file and no record, or a count of
    fitted pixels the data no longer give, is announced on loading."""
    import warnings

    import numpy as np
    from astropy.io import fits

    import tinylens
    from tinylens.errors import DataWarning

    config_path = write_tiny_lens(tmp_path / "lens", {"type": "optimizer", "method": "lbfgs"})
    mask = np.zeros((32, 32))
    mask[:5, :] = 1  # the bottom 5 rows left out: 27 x 32 = 864 pixels fitted
    fits.writeto(tmp_path / "lens" / "mask.fits", mask)
    config = yaml.safe_load(config_path.read_text())
    plain = tinylens.fit(config_path, progress=False)
    config["dataset"]["mask_path"] = "mask.fits"
    config["output"]["path"] = "masked"
    config_path.write_text(yaml.safe_dump(config))
    masked = tinylens.fit(config_path, progress=False)
    assert {k: plain.info[k] for k in ("mask_read_as", "n_pixels_fitted", "n_pixels")} == {
        "mask_read_as": None, "n_pixels_fitted": 1024, "n_pixels": 1024}
    path = masked.output_dir / "result.json"
    stored = json.loads(path.read_text())
    assert {k: stored["info"][k] for k in ("mask_read_as", "n_pixels_fitted", "n_pixels")} == {
        "mask_read_as": "0 = used", "n_pixels_fitted": 864, "n_pixels": 1024}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # a recorded fit on unchanged data: silent
        load_stored(path)
        load_stored(plain.output_dir / "result.json")
    for key in ("mask_read_as", "n_pixels_fitted", "n_pixels"):  # as a fit before the record wrote it
        del stored["info"][key]
    path.write_text(json.dumps(stored))
    with pytest.warns(DataWarning) as caught:
        load_stored(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: this fit does not record how its mask file {tmp_path / 'lens' / 'mask.fits'} was read: it is from "
        "an earlier tinylens, which may have read it as non-zero = used and so have fitted the pixels the mask "
        "leaves out. It is loaded as read now, 0 = used (864 of 1024 pixels used); fit it again to be sure of the "
        "result."]
    mask[:, :4] = 1  # the mask changed since the fit: 27 x 28 = 756 pixels
    fits.writeto(tmp_path / "lens" / "mask.fits", mask, overwrite=True)
    path.write_text(json.dumps({**stored, "info": {**stored["info"], "mask_read_as": "0 = used", "n_pixels_fitted": 864}}))
    with pytest.warns(DataWarning) as caught:
        load_stored(path)
    assert [str(w.message) for w in caught] == [
        f"{path}: its fit used 864 pixels, but its data, noise and mask as loaded now give 756 (changed since the "
        "fit?): its best fit is shown against other pixels than it was fitted to.",
        f"{path}: {tmp_path / 'lens' / 'mask.fits'} (mask_path) is not the file this fit was made from (other content "
        "than its info.inputs records: changed since the fit?): its best fit is shown against other data than it was "
        "fitted to."]


def test_a_result_whose_config_this_tinylens_refuses_is_named(tmp_path):
    """A result.json whose recorded config this version refuses (a key since renamed, a value
    since checked) gave 'Invalid configuration mapping (1 problem): ...' without the file, so a
    script loading many results could not tell which one."""
    import numpy as np

    import tinylens
    from tinylens.errors import ConfigError
    from tiny_lens import write_stored_result

    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    path = write_stored_result(tmp_path / "lens" / "output", problem, theta)
    stored = json.loads(path.read_text())
    stored["config"]["dataset"]["pixel_scale"] = -0.1
    path.write_text(json.dumps(stored))
    with pytest.raises(ConfigError) as err:
        load_stored(path)
    assert str(err.value).startswith(f"{path}: the config this fit records cannot be loaded by this tinylens (written "
                                     "by another version, or edited?): Invalid configuration")
    assert "dataset.pixel_scale: should be greater than 0; got -0.1." in str(err.value)


@pytest.mark.parametrize("pixel_scale, error", [(-0.1, "ConfigValueError"), ("small", "ConfigTypeError")])
def test_a_result_whose_config_this_tinylens_refuses_keeps_the_class_of_the_configs_error(tmp_path, pixel_scale, error):
    """load_stored (and so tinylens.read_result) re-raised a stored config's ConfigValueError
    (pixel_scale: -0.1) or ConfigTypeError (pixel_scale: small) as a plain ConfigError, which
    ``except ValueError`` / ``except TypeError`` let through though tinylens.load of the same config
    raises the subclass; it now keeps the class, the message as before."""
    import numpy as np

    import tinylens
    from tinylens.errors import ConfigError, ConfigTypeError, ConfigValueError
    from tiny_lens import write_stored_result

    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    path = write_stored_result(tmp_path / "lens" / "output", problem, theta)
    stored = json.loads(path.read_text())
    stored["config"]["dataset"]["pixel_scale"] = pixel_scale
    path.write_text(json.dumps(stored))
    with pytest.raises(ConfigError) as direct:
        tinylens.load(stored["config"])
    with pytest.raises(ConfigError) as err:
        load_stored(path)
    expected = {"ConfigValueError": (ConfigValueError, ValueError), "ConfigTypeError": (ConfigTypeError, TypeError)}[error]
    assert type(direct.value).__name__ == error and type(err.value).__name__ == error, (direct.value, err.value)
    assert isinstance(err.value, expected)
    assert str(err.value).startswith(f"{path}: the config this fit records cannot be loaded by this tinylens (written "
                                     "by another version, or edited?): Invalid configuration")


def test_a_bad_base_dir_is_named_as_the_argument_not_as_the_recorded_config(tmp_path):
    """load_stored(path, base_dir='') (an unset variable), or a base_dir in the home of no known
    user, was refused as '.../result.json: the config this fit records cannot be loaded by this
    tinylens (written by another version, or edited?): base_dir is an empty path ...', blaming the
    file for the caller's own argument; it is the argument's ConfigError alone, as tinylens.load's."""
    import numpy as np

    import tinylens
    from tinylens.errors import ConfigError
    from tiny_lens import write_stored_result

    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    path = write_stored_result(tmp_path / "lens" / "output", problem, theta)
    for base_dir, message in (("", r"^base_dir is an empty path \(''"),
                              ("~tl_no_such_user/x", r"^~tl_no_such_user/x: there is no user 'tl_no_such_user'"),
                              (5, r"^base_dir must be a folder \(a str or pathlib.Path\); got int 5\.$")):
        with pytest.raises(ConfigError, match=message):
            load_stored(path, base_dir=base_dir)
    stored, loaded, best = load_stored(path, base_dir=str(tmp_path / "lens"))  # a folder: loaded as before
    np.testing.assert_allclose(best, theta)


def test_an_edited_result_whose_values_are_of_the_wrong_kind_is_named_by_file_and_key(tmp_path, monkeypatch):
    """A result.json edited by hand: a max_likelihood value that is a string was a bare 'ValueError:
    could not convert string to float', null loaded as NaN without a word (every image and check of
    it NaN), and a config given as a string was read as a config file from the current folder (or
    'Config file not found' there); each is an OutputError naming the file, the key and the value."""
    import numpy as np

    import tinylens
    from tiny_lens import write_stored_result

    lens = write_tiny_lens(tmp_path / "lens")
    problem = tinylens.load(lens)
    theta = problem.prior_transform(np.full(problem.ndim, 0.5))
    path = write_stored_result(tmp_path / "lens" / "output", problem, theta)
    good = json.loads(path.read_text())
    monkeypatch.chdir(lens.parent)  # where a config named by its file's path would be found
    name = "lens_mass.0.theta_E"
    cases = [
        (("max_likelihood", name), "abc", f'its max_likelihood should give a finite number for each free parameter; '
                                          f'got {name}: "abc" (edited?)'),
        (("max_likelihood", name), None, f"got {name}: null (edited?)"),
        (("max_likelihood", name), True, f"got {name}: true (edited?)"),
        (("max_likelihood", name), float("nan"), f"got {name}: NaN (edited?)"),
        (("max_likelihood",), list(theta), "its max_likelihood should be a mapping of each free parameter to its value"),
        (("config",), lens.name, f'its config should be the fit\'s config, a mapping of its sections (dataset, '
                                 f'model_components, ...); got "{lens.name}"; a result.json records the config '
                                 "itself, not its file's path (edited?)"),
        (("config",), None, "its config should be the fit's config"),
        (("config_dir",), 5, "its config_dir should be the folder of the fit's config (a path), or null; got 5"),
        (("config_dir",), "  ", 'its config_dir should be the folder of the fit\'s config (a path), or null; got "  "'),
    ]
    for keys, value, fragment in cases:
        stored = json.loads(json.dumps(good))
        parent = stored
        for key in keys[:-1]:
            parent = parent[key]
        parent[keys[-1]] = value
        path.write_text(json.dumps(stored))
        with pytest.raises(OutputError) as err:
            load_stored(path)
        assert str(err.value).startswith(f"{path}: its ") and fragment in str(err.value), str(err.value)
    path.write_text(json.dumps(good))
    assert np.array_equal(load_stored(path)[2], theta)


def test_the_mask_reading_check_parses_only_the_result_json_it_needs(tmp_path, monkeypatch):
    """tinylens report checks each ok lens's mask reading (mask_reading_unknown), and parsed every
    lens's result.json (~25 kB each: 1.5 s for a survey of 5000 lenses); it now parses one only
    where its text sets a mask_path and inputs.json does not record the mask's reading, with the
    same answers."""
    from tinylens.results.stored import mask_reading_unknown

    masked = {"data_path": "/l/image.fits", "mask_path": "/l/mask.fits"}
    plain = {"data_path": "/l/image.fits", "mask_path": None}
    old_stamp, stamp = {"mask_path": {"size": 5760}}, {"mask_path": {"size": 5760, "read_as": "0 = used"}}

    def result(dataset, info, **dumps):
        return json.dumps({"config": {"dataset": dataset}, "info": info}, **dumps)

    cases = {  # result.json's text, inputs.json (None: none), the answer, whether result.json is parsed
        "no mask": (result(plain, {"mask_read_as": None}, indent=2), None, False, False),
        "no mask, compact": (result(plain, {}, separators=(",", ":")), old_stamp, False, False),
        "no mask_path": (result({"data_path": "/l/image.fits"}, {}), None, False, False),
        "stamped": (result(masked, {}, indent=2), stamp, False, False),
        "recorded": (result(masked, {"mask_read_as": "0 = used"}), None, False, True),
        "unknown": (result(masked, {}), old_stamp, True, True),
        "unknown, no inputs.json": (result(masked, {}, separators=(",", ":")), None, True, True),
        "empty mask_path": (result({**masked, "mask_path": ""}, {}), None, False, True),
        "cut short": (result(masked, {})[:-20], None, False, True),
        "no object": (json.dumps([{"mask_path": "/l/mask.fits"}]), None, False, True),
    }
    real, parsed = json.loads, []
    monkeypatch.setattr(json, "loads", lambda text, *args, **kwargs: parsed.append(text) or real(text, *args, **kwargs))
    for i, (name, (text, inputs, unknown, parses)) in enumerate(cases.items()):
        folder = tmp_path / f"lens_{i}"
        folder.mkdir()
        (folder / "result.json").write_text(text)
        if inputs is not None:
            (folder / "inputs.json").write_text(json.dumps(inputs))
        parsed.clear()
        assert mask_reading_unknown(folder) is unknown, name
        assert (text in parsed) is parses, name
    parsed.clear()
    assert mask_reading_unknown(tmp_path / "no_such_lens") is False and parsed == []


def test_a_result_whose_files_changed_since_the_fit_is_announced_by_file(tmp_path):
    """load_stored could tell changed data only by another count of fitted pixels, so a noise map
    rewritten with other values since the fit (as many pixels) was loaded without a word, its
    best fit shown against data it was not fitted to. The files whose stamp (size, modification
    time, SHA-256) differs from the one the fit records (info.inputs) are now named; files
    rewritten with the same content, or copied elsewhere and given as base_dir, are not, nor is a
    result from before the stamp was recorded."""
    import shutil
    import warnings

    import numpy as np
    from astropy.io import fits

    import tinylens
    from tinylens.errors import DataWarning

    folder = tmp_path / "lens"
    config_path = write_tiny_lens(folder, {"type": "optimizer", "method": "lbfgs"})
    path = tinylens.fit(config_path, progress=False).output_dir / "result.json"
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("image.fits", "noise.fits", "psf.fits"):
        shutil.copy(folder / name, copy / name)  # a new modification time, the same content
    (folder / "image.fits").write_bytes((folder / "image.fits").read_bytes())  # rewritten as it was
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        load_stored(path)
        load_stored(path, base_dir=copy)
    noise = fits.getdata(folder / "noise.fits")
    fits.writeto(folder / "noise.fits", noise * 1.5, overwrite=True)  # the same pixels, another noise map

    def warned() -> list[str]:
        with pytest.warns(DataWarning) as caught:
            load_stored(path)
        return [str(w.message) for w in caught]

    assert warned() == [
        f"{path}: {folder / 'noise.fits'} (noise_path) is not the file this fit was made from (other content than "
        "its info.inputs records: changed since the fit?): its best fit is shown against other data than it was "
        "fitted to."]
    fits.writeto(folder / "psf.fits", np.ones((9, 9)) / 81, overwrite=True)
    assert warned() == [
        f"{path}: {folder / 'noise.fits'} (noise_path), {folder / 'psf.fits'} (psf_path) are not the files this fit "
        "was made from (other content than its info.inputs records: changed since the fit?): its best fit is shown "
        "against other data than it was fitted to."]
    stored = json.loads(path.read_text())
    del stored["info"]["inputs"]  # as a fit before the stamp was recorded wrote it
    path.write_text(json.dumps(stored))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        load_stored(path)


NAMES = ("lens_mass.0.theta_E", "source_light.0.R_sersic")


@pytest.mark.parametrize("text, fragment", [
    (None, "no such file"),
    ("{not json", "not a readable state of stages_only.py (JSONDecodeError"),
    ('{"stages": {}}', "not a state of stages_only.py --states (it has no 'best')"),
    ('{"best": 3}', "its best should be a list of numbers, one for each free parameter; got 3"),
    ('{"best": null}', "its best should be a list of numbers, one for each free parameter; got null"),
    ('{"best": ["a", "b"]}', 'its best should give a finite number for each free parameter; got '
                             'lens_mass.0.theta_E: "a", source_light.0.R_sersic: "b" (edited'),
    ('{"best": ["1.0", 0.2]}', 'its best should give a finite number for each free parameter; got '
                               'lens_mass.0.theta_E: "1.0" (edited'),
    ('{"best": [1.0, NaN]}', "its best should give a finite number for each free parameter; got "
                             "source_light.0.R_sersic: NaN (edited"),
    ('{"best": [1.0, null]}', "got source_light.0.R_sersic: null (edited, or not finite when kept?)"),
    ('{"best": [true, 0.2]}', "got lens_mass.0.theta_E: true (edited"),
    ('{"best": [[1.0], [0.2]]}', "got lens_mass.0.theta_E: [1.0], source_light.0.R_sersic: [0.2] (edited"),
    ('{"best": [1.0, 0.2], "param_names": 5}', "its parameters are not those of the template"),
    ('{"best": [1.0], "param_names": ["lens_mass.0.theta_E", "source_light.0.R_sersic"]}',
     "its parameters are not those of the template"),
    ('{"best": [1.0, 0.2], "param_names": ["lens_mass.0.theta_E", "source_light.0.n_sersic"]}',
     "its parameters are not those of the template"),
], ids=["missing", "not-json", "no-best", "best-a-number", "best-null", "best-text", "best-a-number-as-text",
        "best-nan", "best-a-null", "best-a-boolean", "best-nested", "names-a-number", "best-short", "other-names"])
def test_a_stage_state_that_is_not_one_is_an_output_error_naming_the_file(tmp_path, text, fragment):
    """load_stage_state (a state of examples/stages_only.py --states) raised a plain ValueError,
    which no caller catching tinylens's errors (TinyLensError) caught, and for a 'best' that is no
    list a TypeError ("len() of unsized object"), a traceback in recheck_peaks.py; each such file
    is now an OutputError naming it and what is wrong, as load_stored's result.json is. A best
    holding a number as a text ("1.0"), a boolean, null or NaN was taken as a number (null and NaN
    as NaN, computed with in silence); each is refused, naming the file and the parameter."""
    from tinylens.results.stored import load_stage_state

    path = tmp_path / "J0000.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(OutputError) as err:
        load_stage_state(path, NAMES)
    assert str(err.value).startswith(f"{path}: ") and fragment in str(err.value), str(err.value)
    path.write_text('{"best": [1.0, 0.2], "param_names": ["lens_mass.0.theta_E", "source_light.0.R_sersic"]}')
    state, best = load_stage_state(path, NAMES)
    assert best.tolist() == [1.0, 0.2] and state["param_names"] == list(NAMES)
    path.write_text('{"best": [1.0, 0.2]}')  # an older state: no names, only its length
    assert load_stage_state(path, NAMES)[1].tolist() == [1.0, 0.2]


@pytest.mark.parametrize("value, finite", [(0, True), (-3, True), (2.5, True), (1e308, True), (True, False),
                                           ("1.0", False), (None, False), ([1.0], False), (float("nan"), False),
                                           (float("-inf"), False), (10**400, False)])
def test_finite_number_takes_a_finite_json_int_or_float_only(value, finite):
    """finite_number, which pipeline.run's checkpoint check shares with the result checks: a JSON
    value that is a finite int or float, not a bool, a string, null, nan or an int beyond a float's range."""
    assert finite_number(value) is finite


def test_a_result_json_this_user_may_not_read_is_said_with_what_to_check(tmp_path, refused_read):
    """load_stored of a result.json the system would not read echoed only the PermissionError; it also says
    what to check, with the ls that shows it (a patched read: the tests may run as root)."""
    import shlex

    path = tmp_path / "result.json"
    path.write_text("{}")
    refused_read(path)
    with pytest.raises(OutputError) as err:
        load_stored(path)
    text = " ".join(str(err.value).split())
    assert text.startswith(f"{path}: not a readable result.json (PermissionError"), text
    assert "Check that it is a file this user may read" in text and shlex.join(["ls", "-ld", str(path), str(tmp_path)]) in text


def test_a_result_behind_a_folder_this_user_may_not_enter_is_said_with_what_to_check(tmp_path, refused_below):
    """load_stored of a result.json whose folder (or of a folder whose content) may not be entered
    raised a bare PermissionError from Path.is_dir; it is an OutputError naming the path given and
    the ls -ld that shows the permissions. The refusal is patched into Path.stat: root, whom
    permissions do not stop, runs the tests on some machines."""
    import shlex

    blocked = tmp_path / "blocked"
    (blocked / "fit").mkdir(parents=True)
    (blocked / "fit" / "result.json").write_text("{}")
    refused_below(blocked)
    for given, what in ((blocked / "fit" / "result.json", "cannot be reached"), (blocked, "cannot be looked into")):
        with pytest.raises(OutputError) as err:
            load_stored(given)
        text = " ".join(str(err.value).split())
        assert text.startswith(f"{given} {what} (Permission denied on "), text
        assert "this user may not enter" in text and "a folder on its way" in text, text
        assert shlex.join(["ls", "-ld", str(given), str(given.parent)]) in text, text


@pytest.mark.parametrize("path, kind, message", [
    (None, "ConfigTypeError", "load_stored takes the path of a fit's result.json (a str or pathlib.Path); got NoneType None."),
    (3, "ConfigTypeError", "load_stored takes the path of a fit's result.json (a str or pathlib.Path); got int 3."),
    ("", "ConfigValueError", "load_stored takes the path of a fit's result.json; got an empty path ('': an unset "
                             "variable?), which would be the current folder: give the fit's result.json."),
])
def test_load_stored_of_no_path_names_its_argument(tmp_path, monkeypatch, path, kind, message):
    """load_stored(None) or load_stored(3) (README's notebook call, given a variable not yet set)
    raised Path's bare TypeError 'expected str, bytes or os.PathLike object, not NoneType', which
    'except tinylens.TinyLensError' let through; load_stored("") looked in the current folder. Each
    is now a ConfigTypeError / ConfigValueError naming load_stored's argument, as read_result's are."""
    import tinylens

    monkeypatch.chdir(tmp_path)
    with pytest.raises(getattr(tinylens, kind)) as caught:
        load_stored(path)
    assert isinstance(caught.value, tinylens.ConfigError) and str(caught.value) == message


def test_a_stored_config_refused_for_a_missing_package_keeps_the_missing_modules_name(tmp_path, monkeypatch):
    """load_stored rebuilt a stored config's error with ``type(err)(message)``, so that a
    MethodNotInstalledError (a ModuleNotFoundError) came out with ``name`` None, not the module
    that is missing, which ``except ImportError as e: e.name`` reads; it is rebuilt by retold now,
    its class, ``name`` and the path named in front as before."""
    import numpy as np

    import tinylens
    import tinylens.problem
    from tinylens.errors import MethodNotInstalledError
    from tiny_lens import write_stored_result

    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    path = write_stored_result(tmp_path / "lens" / "output", problem, problem.prior_transform(np.full(problem.ndim, 0.5)))

    def missing(*args, **kwargs):
        raise MethodNotInstalledError("inference.method: dynesty cannot run here.", name="dynesty")

    monkeypatch.setattr(tinylens.problem, "load_from", missing)
    with pytest.raises(MethodNotInstalledError) as err:
        load_stored(path)
    assert err.value.name == "dynesty"
    assert str(err.value) == (f"{path}: the config this fit records cannot be loaded by this tinylens (written by "
                              "another version, or edited?): inference.method: dynesty cannot run here.")


def test_a_config_value_the_fit_held_as_inf_is_read_back_as_inf_not_as_the_null_it_is_written_as(tmp_path):
    """result.json's config writes .inf, -.inf and .nan as null, so load_stored (tinylens report)
    rebuilt the fit's problem, and read_result gave its config, with None where the fit had .inf
    (prior limits [-.inf, .inf] read as [null, null]; differential evolution's tol: .inf, which stops it
    at its first generation, as tol: null); the numbers the fit records in info.config_not_finite are put
    back, so the config read back holds the numbers the fit was given."""
    import math

    import tinylens
    from tinylens.results.stored import read_result

    config = unbounded_tiny_fit(tmp_path, {"type": "optimizer", "method": "differential_evolution",
                                           "settings": {"popsize": 2, "maxiter": 2, "polish": False, "tol": math.inf}})
    fitted = tinylens.fit(config, progress=False)
    path = fitted.output_dir / "result.json"
    written = json.loads(path.read_text())["config"]
    assert written["inference"]["settings"]["tol"] is None  # as result.json writes it
    assert written["model_components"]["source_light_list"][0]["params"]["center_x"]["limits"] == [None, None]
    read = read_result(fitted.output_dir).config
    assert read["inference"]["settings"]["tol"] == math.inf
    assert list(read["model_components"]["source_light_list"][0]["params"]["center_x"]["limits"]) == [-math.inf, math.inf]
    stored, problem, _ = load_stored(path)
    assert stored["config"]["inference"]["settings"]["tol"] == math.inf
    assert problem.config.inference.settings["tol"] == math.inf
    dumped = problem.config.model_dump()
    assert list(dumped["model_components"]["source_light_list"][0]["params"]["center_x"]["limits"]) == [-math.inf, math.inf]
