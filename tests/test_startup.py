"""Start-up: ``import tinylens`` and the command line's help load no heavy library (JAX first)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

#: Libraries that take seconds to import, or that only a running command needs.
HEAVY = ("jax", "jaxlib", "matplotlib", "pandas", "dask", "distributed", "astropy", "nautilus", "dynesty",
         "lenstronomy", "corner")


def _python(*args: str, precision: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "TINYLENS_PRECISION": precision, "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120)


def _imported(importtime: str) -> set[str]:
    """The top-level packages that ``python -X importtime`` reports having imported."""
    rows = (line.rpartition("|")[2].strip() for line in importtime.splitlines() if line.startswith("import time:"))
    return {row.partition(".")[0] for row in rows}


def test_import_tinylens_does_not_import_jax():
    """``import tinylens`` imported JAX (through tinylens.precision): a second or more before the
    first line of a script or notebook ran. JAX now loads when something first computes."""
    code = ("import sys, tinylens; from tinylens import ConfigError, DataError, FitResult, TinyLensError, fit, "
            f"load, set_precision; print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    run = _python("-c", code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_float64_from_the_environment_still_turns_on_x64_at_import():
    """TINYLENS_PRECISION=float64 still turns on JAX's x64 as tinylens is imported, before any
    array a script makes afterwards."""
    code = "import tinylens, jax.numpy as jnp; print(jnp.ones(2).dtype)"
    run = _python("-c", code, precision="float64")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "float64"


@pytest.mark.parametrize("args", [["--help"], ["fit", "--help"], ["survey", "--help"], ["report", "--help"],
                                  ["fti"]], ids=" ".join)
def test_command_line_help_does_not_import_heavy_libraries(args):
    """``tinylens --help``, a command's help, or a mistyped command name waited seconds for JAX
    to load (and a Ctrl-C meanwhile printed a traceback from inside it); they now answer without."""
    run = _python("-X", "importtime", "-m", "tinylens", *args)
    assert run.returncode == (2 if args == ["fti"] else 0), run.stderr[-2000:]
    assert _imported(run.stderr) & set(HEAVY) == set()


def test_the_version_is_the_installed_one_and_the_results_record_it(tmp_path, monkeypatch):
    """``tinylens.__version__`` (and ``tinylens --version``) was a fixed "0.1.0" whatever the
    installed package's version, while result.json recorded the installed one: a release that
    forgot to edit it would say 0.1.0 in one place and another version in the other."""
    import tinylens
    from importlib import metadata

    dist = tmp_path / "tinylens-9.8.7.dist-info"  # an installed tinylens of another version, found first
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tinylens\nVersion: 9.8.7\n")
    src = os.path.dirname(os.path.dirname(tinylens.__file__))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), src]))
    run = _python("-c", "import tinylens; from tinylens.fitting.outputs import versions; "
                        "print(tinylens.__version__, versions()['tinylens'])")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["9.8.7", "9.8.7"]

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)  # run from a source tree, not installed
    assert tinylens._installed_version() == "0+unknown"


def test_the_type_hints_of_load_resolve_and_import_tinylens_stays_light():
    """typing.get_type_hints(tinylens.load) raised NameError ('os', then 'Config', 'Problem'): its
    annotations named imports made only for type checkers. They resolve now, the heavy ones
    (tinylens.problem: JAX) imported only when the hints are asked for."""
    code = ("import sys, typing, tinylens; light = sorted(m for m in {heavy!r} if m in sys.modules); "
            "hints = typing.get_type_hints(tinylens.load); from tinylens.problem import Problem; "
            "from tinylens.config import Config; print(light, hints['return'] is Problem, "
            "Config in typing.get_args(hints['config']), hints['base_dir'])").format(heavy=HEAVY + ("pydantic",))
    run = _python("-c", code)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[] True True str | os.PathLike[str] | None"


def test_dir_of_tinylens_lists_its_api_not_the_names_imported_for_annotations():
    """dir(tinylens), as a notebook's completion shows it, listed os, Mapping, Any, DTypeLike and
    tinylens itself, imported for load's annotations. It lists __all__ and the submodules imported
    so far (tinylens.Problem once tinylens.problem is), each a name tinylens has, while load's type
    hints resolve, help(tinylens.load) shows its docstring and help(tinylens) still imports no heavy
    library."""
    code = ("import sys, pydoc, typing, tinylens; names = dir(tinylens); "
            "page = pydoc.render_doc(tinylens, renderer=pydoc.plaintext); "
            "light = sorted(m for m in {heavy!r} if m in sys.modules); "
            "print(names); print(light, all(hasattr(tinylens, n) for n in names)); "
            "print(typing.get_type_hints(tinylens.load)['return'].__name__); import tinylens.problem; "
            "print('problem' in dir(tinylens) and 'Problem' in dir(tinylens), 'Load a config and its data' in "
            "pydoc.render_doc(tinylens.load, renderer=pydoc.plaintext))").format(heavy=HEAVY + ("pydantic",))
    run = _python("-c", code)
    assert run.returncode == 0, run.stderr[-2000:]
    names, light, hint, after = run.stdout.strip().splitlines()
    import ast

    import tinylens

    names = ast.literal_eval(names)

    assert not {"os", "Mapping", "Any", "DTypeLike", "tinylens", "annotations"} & set(names), names
    assert set(tinylens.__all__) - {"Problem"} <= set(names) and {"errors", "precision"} <= set(names)
    assert "Problem" not in names  # listed once tinylens.problem (JAX) is imported: help(tinylens) imports none
    assert (light, hint, after) == ("[] True", "Problem", "True True")


def test_an_atomic_write_does_not_import_pandas(tmp_path):
    """The atomic-write helpers lived in tinylens.results.tables, which imports pandas and pyarrow
    (a second): a FITS image written by tinylens.data, or an inference checkpoint, loaded them for
    a rename. They live in tinylens.atomic now, standard library only, and write as before."""
    code = ("import sys; from tinylens.atomic import write_atomic; "
            "write_atomic(sys.argv[1], lambda tmp: tmp.write_text('done')); "
            f"print(sorted(m for m in {HEAVY + ('pyarrow',)!r} if m in sys.modules))")
    run = _python("-c", code, str(tmp_path / "out.txt"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"] and (tmp_path / "out.txt").read_text() == "done"


_MISTYPED_CONFIG = """\
dataset: {data_path: image.fits, noise_path: noise.fits, psf_path: psf.fits, pixel_scale: 0.074}
model_components:
  lens_mass_list:
  - type: SIE
    params:
      theta_E: {prior_type: uniform, prior_settings: [0.0, 3.5], fixed: false}
solvr: nnls
"""


@pytest.mark.parametrize("command", ["validate", "fit"])
def test_a_config_with_an_unknown_key_is_refused_before_jax_pandas_or_astropy_load(tmp_path, command):
    """``tinylens validate`` / ``tinylens fit`` of a config with a misspelt key imported JAX,
    astropy and pandas (tinylens.problem, tinylens.results.tables) before reading the config: 8.9 s
    and 10.9 s (medians of 3 on a loaded 2-core machine) to say the key is unknown. The config is now
    read first; the same message and exit code, with none of those libraries imported."""
    from tinylens.config.loader import load_config
    from tinylens.errors import ConfigError

    config = tmp_path / "model_config.yaml"
    config.write_text(_MISTYPED_CONFIG)
    with pytest.raises(ConfigError) as expected:  # the message, as the config's reader words it
        load_config(config)
    run = _python("-X", "importtime", "-m", "tinylens", command, str(config))
    assert run.returncode == 2, run.stderr[-2000:]
    said = run.stderr[run.stderr.index("Error:"):]
    assert "Traceback" not in said and "unknown key 'solvr'" in str(expected.value)
    assert "".join(said.split()) == "Error:" + "".join(str(expected.value).split())
    assert _imported(run.stderr) & set(HEAVY) == set()
    assert not (tmp_path / "output").exists()


def test_tinylens_load_of_a_mistyped_config_raises_before_jax_loads(tmp_path):
    """tinylens.load of a config with an unknown key imported JAX and the data's readers first; it
    raises the same ConfigError with none of them imported (a ConfigValueError, as an unknown key is
    classed since the schema's errors are by their kind)."""
    config = tmp_path / "model_config.yaml"
    config.write_text(_MISTYPED_CONFIG)
    code = ("import sys, tinylens\ntry:\n    tinylens.load(sys.argv[1])\nexcept tinylens.ConfigError as exc:\n"
            "    print(type(exc).__name__, 'solvr' in str(exc))\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    run = _python("-c", code, str(config))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["ConfigValueError", "True", "[]"], run.stdout


def test_report_of_a_survey_catalogue_imports_neither_astropy_nor_jax(tmp_path):
    """``tinylens report catalog.csv`` imported tinylens.survey.runner for the name of the lenses'
    folder and the catalogue's text columns, and tinylens.data before looking for any result.json:
    astropy and the config's schema (seconds on a loaded 2-core machine, where an overview of 8
    lenses took 31.2 s, 24.1 s without them). Those names live in tinylens.filenames now; the overview is the same, counted here
    by hand, and neither astropy nor JAX, Dask or nautilus is imported."""
    import json

    survey = tmp_path / "survey"
    survey.mkdir()
    (survey / "catalog.csv").write_text(
        "lens_id,status,reason,trusted,flags,critical_flags,lens_mass.0.theta_E_median,lens_mass.0.theta_E_lo68,"
        "lens_mass.0.theta_E_hi68,wall_time_s,total_time_s\n"
        "a,ok,,True,,,1.0,0.99,1.01,60.0,70.0\n"
        "b,ok,,False,unmodelled_flux,unmodelled_flux,2.0,1.9,2.1,120.0,130.0\n"
        "c,failed,DataError: image.fits is not a FITS file,,,,,,,,\n")
    out = tmp_path / "report"
    run = _python("-X", "importtime", "-m", "tinylens", "report", str(survey / "catalog.csv"), "--out", str(out))
    assert run.returncode == 0, run.stderr[-2000:]
    overview = json.loads((out / "overview.json").read_text())
    assert {k: overview[k] for k in ("n_lenses", "n_ok", "n_failed", "n_trusted", "n_untrusted")} == {
        "n_lenses": 3, "n_ok": 2, "n_failed": 1, "n_trusted": 1, "n_untrusted": 1}
    assert _imported(run.stderr) & {"astropy", "jax", "jaxlib", "dask", "distributed", "nautilus", "dynesty"} == set()


_LOCKED_CONFIG = """\
dataset: {data_path: image.fits, noise_path: noise.fits, psf_path: psf.fits, pixel_scale: 0.074}
model_components:
  lens_mass_list:
  - type: SIE
    params:
      theta_E: {prior_type: uniform, prior_settings: [0.5, 2.0], fixed: false}
      e1: {fixed: true, fixed_value: 0.0}
      e2: {fixed: true, fixed_value: 0.0}
      center_x: {fixed: true, fixed_value: 0.0}
      center_y: {fixed: true, fixed_value: 0.0}
  source_light_list:
  - type: Sersic
    params:
      R_sersic: {prior_type: uniform, prior_settings: [0.05, 1.0], fixed: false}
      n_sersic: {fixed: true, fixed_value: 1.0}
      e1: {fixed: true, fixed_value: 0.0}
      e2: {fixed: true, fixed_value: 0.0}
      center_x: {fixed: true, fixed_value: 0.0}
      center_y: {fixed: true, fixed_value: 0.0}
output: {path: runs/lens1}
"""


@pytest.mark.parametrize("how", ["output.path", "--output", "tinylens.fit base_dir="])
def test_a_fit_whose_output_folder_another_fit_holds_is_refused_before_jax_loads(tmp_path, how):
    """The second of two fits on one output folder (a SLURM array's tasks sharing a config) was
    refused only after loading the data and checking the settings (JAX, astropy, nautilus and
    sklearn imported): 12.5 s (median of 3, the demo's config, loaded 2-core machine). The folder
    is known from the config alone, so the refusal comes once it is read, with the same message
    and exit code and none of those libraries imported; here no data file exists at all, which a
    refusal after the data's load would have said instead."""
    from tinylens import filenames
    from tinylens.fitting.folder import busy_text
    from tinylens.locks import folder_lock, holder_text

    config = tmp_path / "cfg" / "model_config.yaml"
    config.parent.mkdir()
    config.write_text(_LOCKED_CONFIG)
    elsewhere = tmp_path / "elsewhere"  # the base_dir= given, or the current folder of --output's relative path
    folder = {"output.path": config.parent / "runs" / "lens1", "--output": elsewhere / "out",
              "tinylens.fit base_dir=": elsewhere / "runs" / "lens1"}[how]
    folder.mkdir(parents=True)
    with folder_lock(folder, filenames.FIT_LOCK, busy="{holder}"):
        said = busy_text(folder).replace("{holder}", f" ({holder_text(folder / filenames.FIT_LOCK)})")
        if how == "tinylens.fit base_dir=":
            code = ("import sys, tinylens\ntry:\n    tinylens.fit(sys.argv[1], base_dir=sys.argv[2], progress=False)\n"
                    "except tinylens.OutputError as exc:\n    print(' '.join(str(exc).split()))\n"
                    f"print(sorted(m for m in {HEAVY + ('sklearn',)!r} if m in sys.modules))")
            run = subprocess.run([sys.executable, "-c", code, str(config), str(elsewhere)], capture_output=True,
                                 text=True, timeout=120, env={**os.environ, "JAX_PLATFORMS": "cpu"})
            assert run.returncode == 0, run.stderr[-2000:]
            assert run.stdout.splitlines() == [" ".join(said.split()), "[]"], run.stdout
        else:
            args = ["--output", "out"] if how == "--output" else []
            elsewhere.mkdir(exist_ok=True)
            run = subprocess.run([sys.executable, "-X", "importtime", "-m", "tinylens", "fit", str(config), "--quiet",
                                  *args], capture_output=True, text=True, timeout=120, cwd=elsewhere,
                                 env={**os.environ, "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg"})
            assert run.returncode == 2, run.stderr[-2000:]
            told = run.stderr[run.stderr.index("Error:"):]
            assert "Traceback" not in told
            assert "".join(told.split()) == "Error:" + "".join(said.split())
            assert _imported(run.stderr) & {*HEAVY, "sklearn"} == set()
    assert list(folder.iterdir()) == []  # nothing written there (the lock file went with its holder)
    assert {p.name for p in tmp_path.rglob("*")} <= {"cfg", "model_config.yaml", "elsewhere", "runs", "lens1", "out"}


_MODEL_MISTAKES = {  # a config's model_components with one mistake build_model_spec finds, the schema not
    "unknown profile": "  lens_mass_list:\n  - type: SIEE\n    params: {theta_E: $U}\n",
    "unknown parameter": "  lens_mass_list:\n  - type: SIS\n    params: {theta_e: $U, center_x: $U, center_y: $U}\n",
    "missing parameters": "  lens_mass_list:\n  - type: EPL\n    params: {theta_E: $U, slope: $U}\n",
    "prior outside the domain": ("  lens_mass_list:\n  - type: SIS\n    params: {theta_E: {prior_type: uniform, "
                                 "prior_settings: [-2.0, -1.0]}, center_x: $U, center_y: $U}\n"),
    "mge settings": ("  lens_mass_list:\n  - type: SIS\n    params: {theta_E: $U, center_x: $U, center_y: $U}\n"
                     "  lens_light_list:\n  - type: MGE\n    params: {center_x: $U, center_y: $U}\n"
                     "    settings: {n_gauss: 0}\n"),
}


def _model_mistake(tmp_path, case: str):
    """A config file (data files absent: the model is checked first) with the mistake ``case`` of
    :data:`_MODEL_MISTAKES`, and the message the model's build with the profiles themselves gives."""
    from tinylens.config.loader import load_config
    from tinylens.config.model_spec import build_model_spec
    from tinylens.errors import ConfigError

    uniform = "{prior_type: uniform, prior_settings: [0.1, 0.9]}"
    config = tmp_path / "model_config.yaml"
    config.write_text("dataset: {data_path: image.fits, noise_path: noise.fits, psf_path: psf.fits, pixel_scale: 0.074}\n"
                      "model_components:\n" + _MODEL_MISTAKES[case].replace("$U", uniform)
                      + "  source_light_list:\n  - type: Gaussian\n    params: {sigma: $U, center_x: $U, center_y: $U}\n"
                      .replace("$U", uniform))
    with pytest.raises(ConfigError) as expected:  # with MASS_PROFILES and LIGHT_PROFILES (JAX)
        build_model_spec(load_config(config)[0].model_components)
    return config, f"In config file {config}: {expected.value}"


@pytest.mark.parametrize("command", ["validate", "fit"])
@pytest.mark.parametrize("case", list(_MODEL_MISTAKES))
def test_a_mistake_in_the_model_is_refused_before_jax_pandas_or_astropy_load(tmp_path, command, case):
    """``tinylens validate`` / ``tinylens fit`` of a config with a mistake in its model_components
    (an unknown profile or parameter, missing parameters, a prior that allows no Einstein radius,
    MGE settings that give no width) imported JAX, through the profiles build_model_spec resolves
    them against: 2.1 s against 0.4 s for a schema mistake (medians of 3, the demo's config). The
    model is now checked against the profiles' names (tinylens.profiles.catalog) before JAX is
    imported; the same message and exit code, with none of those libraries imported."""
    config, message = _model_mistake(tmp_path, case)
    run = _python("-X", "importtime", "-m", "tinylens", command, str(config))
    assert run.returncode == 2, run.stderr[-2000:]
    said = run.stderr[run.stderr.index("Error:"):]
    assert "Traceback" not in said
    assert "".join(said.split()) == "Error:" + "".join(message.split())
    assert _imported(run.stderr) & set(HEAVY) == set()
    assert not (tmp_path / "output").exists()


def test_tinylens_load_of_a_config_with_a_model_mistake_raises_before_jax_loads(tmp_path):
    """tinylens.load of a config naming a profile that does not exist imported JAX (the profiles)
    first; it raises the same ConfigError with none of the heavy libraries imported."""
    config, message = _model_mistake(tmp_path, "unknown profile")
    code = ("import sys, tinylens\ntry:\n    tinylens.load(sys.argv[1])\nexcept tinylens.ConfigError as exc:\n"
            "    print(repr(str(exc)))\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    run = _python("-c", code, str(config))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines() == [repr(message), "[]"], run.stdout


def _refused_before_the_heavy_imports(tmp_path, command, inference, check, model=None, n_dim=2):
    """Write the demo's config (no output path; ``model``: the text of another ``model_components``
    section, of ``n_dim`` free parameters) with ``inference`` (the text of its mapping), take
    the ConfigError the runner's own ``check`` (of the settings and ``n_dim`` free parameters) raises in
    this process, and assert that ``tinylens <command>`` of the config says the same, in the same
    words, with exit code 2 and no traceback, none of HEAVY nor scikit-learn imported, nothing written."""
    from tinylens.config.loader import load_config
    from tinylens.errors import ConfigError

    config = tmp_path / "model_config.yaml"
    text = _LOCKED_CONFIG.replace("output: {path: runs/lens1}\n", "")
    if model is not None:
        text = text[:text.index("model_components:")] + model
    config.write_text(text + f"inference: {inference}\n")
    with pytest.raises(ConfigError) as expected:
        check(dict(load_config(config)[0].inference.settings), n_dim)
    run = _python("-X", "importtime", "-m", "tinylens", command, str(config))
    assert run.returncode == 2, run.stderr[-2000:]
    said = run.stderr[run.stderr.index("Error:"):]
    assert "Traceback" not in said
    assert "".join(said.split()) == "".join(f"Error: In config file {config}: {expected.value}".split())
    assert _imported(run.stderr) & {*HEAVY, "sklearn"} == set()
    assert not (tmp_path / "output").exists()


_SAMPLER_MISTAKES = {"unknown setting": "{nlvie: 100}", "wrong-typed value": "{nlive: 200, f_live: high}"}


@pytest.mark.parametrize("command", ["validate", "fit"])
@pytest.mark.parametrize("case", list(_SAMPLER_MISTAKES))
def test_a_sampler_setting_mistake_is_refused_before_jax_sklearn_or_the_data_load(tmp_path, command, case):
    """``tinylens validate`` / ``tinylens fit`` of the demo's config with ``nlvie: 100`` or
    ``f_live: high`` in its nautilus settings said so only after JAX, the data, nautilus and
    scikit-learn were loaded: 13.0 s / 14.6 s and 14.1 s / 14.9 s (medians of 3, loaded 2-core
    machine). The names come from nautilus's source (tinylens.inference.nautilus_settings) and are
    checked once the config is read: the same message and exit code, none of those libraries
    imported (no data file exists here, which a check after the data's load would have said instead)."""
    from tinylens.inference import nautilus_runner  # the runner's own check, nautilus imported

    _refused_before_the_heavy_imports(tmp_path, command,
                                      f"{{type: sampler, method: nautilus, settings: {_SAMPLER_MISTAKES[case]}}}",
                                      nautilus_runner.check)


def test_nautilus_setting_names_read_from_its_source_are_those_of_its_signatures():
    """The early check's names (read from nautilus's source, not imported) are those the runner
    takes from the imported nautilus's Sampler and Sampler.run, so the two cannot drift apart."""
    from tinylens.inference import nautilus_runner
    from tinylens.inference.nautilus_settings import source_keywords

    sampler_keys, run_keys = source_keywords()
    assert (set(sampler_keys), set(run_keys)) == (nautilus_runner.SAMPLER_KEYS, nautilus_runner.RUN_KEYS)
    assert {"n_live", "n_networks"} <= sampler_keys and {"f_live", "n_eff"} <= run_keys


_DYNESTY_MISTAKES = {"unknown setting": "{nlvie: 100}", "wrong-typed value": "{walks: many}",
                     "queue over its cap": "{batch_size: 100000}", "history over result.json":
                     "{save_evaluation_history: true, history_filename: result.json}"}


@pytest.mark.parametrize("command", ["validate", "fit"])
@pytest.mark.parametrize("case", list(_DYNESTY_MISTAKES))
def test_a_dynesty_setting_mistake_is_refused_before_jax_or_the_data_load(tmp_path, command, case):
    """``tinylens validate`` of the demo's config with dynesty's ``nlvie: 100`` or ``walks: many``
    said so only after JAX, the data and dynesty were loaded: 21.3 s and 31.2 s (medians of 3 on a
    2-core machine loaded 6 to 12). The names come from dynesty's source
    (tinylens.inference.dynesty_settings) and are checked, with the values the config alone tells,
    once the config is read: the same message and exit code, neither JAX nor dynesty imported (no
    data file exists here, which a check after the data's load would have said instead)."""
    from tinylens.inference import dynesty_runner  # the runner's own check, dynesty imported

    _refused_before_the_heavy_imports(tmp_path, command,
                                      f"{{type: sampler, method: dynesty, settings: {_DYNESTY_MISTAKES[case]}}}",
                                      dynesty_runner.check)


def test_dynesty_setting_names_read_from_its_source_are_those_of_its_signatures():
    """The early check's names (read from dynesty's source, run_nested from the Sampler it
    inherits it from) are those the runner takes from the imported NestedSampler's signatures."""
    from tinylens.inference import dynesty_runner
    from tinylens.inference.dynesty_settings import source_keywords

    sampler_keys, run_keys = source_keywords()
    assert (set(sampler_keys), set(run_keys)) == (dynesty_runner.SAMPLER_KEYS, dynesty_runner.RUN_KEYS)
    assert {"nlive", "walks", "bound"} <= sampler_keys and {"dlogz", "maxcall"} <= run_keys


_OPTIMIZER_MISTAKES = {"lbfgs unknown setting": ("lbfgs", "{n_strats: 4}"),
                       "lbfgs more starts than draws": ("lbfgs", "{n_starts: 20, n_draws: 10}"),
                       "DE unknown setting": ("differential_evolution", "{popsiz: 10}"),
                       "DE keyword tinylens sets": ("differential_evolution", "{workers: 4}"),
                       "DE wrong-typed value": ("differential_evolution", "{tol: small}")}


@pytest.mark.parametrize("command", ["validate", "fit"])
@pytest.mark.parametrize("case", list(_OPTIMIZER_MISTAKES))
def test_an_optimizer_setting_mistake_is_refused_before_jax_or_the_data_load(tmp_path, command, case):
    """``tinylens validate`` of the demo's config with lbfgs's ``n_strats: 4`` or differential
    evolution's ``popsiz: 10`` said so only after JAX (the optimisers' module imports it) and the
    data were loaded: 29.4 s and 39.9 s (medians of 3 on a 2-core machine loaded 11 to 13). They are
    checked once the config is read (tinylens.inference.optimizer_settings: all of lbfgs's check,
    differential evolution's but its popsize cap and scipy's trial), the same message and exit
    code, JAX not imported (no data file exists here)."""
    from tinylens.inference import optimizer  # the runner's own check, JAX imported

    method, settings = _OPTIMIZER_MISTAKES[case]
    _refused_before_the_heavy_imports(tmp_path, command, f"{{type: optimizer, method: {method}, settings: {settings}}}",
                                      getattr(optimizer, f"check_{method}"))


#: A model of 12 free parameters, counted by hand: the SIE's 5, the shear's 2 (its origin left at
#: its default, 0), the Sersic source's 5 (n_sersic fixed) and the Gaussian lens light's none (each
#: fixed, or its centre linked to the mass's).
_TWELVE_FREE = """\
model_components:
  lens_mass_list:
  - type: SIE
    params: {theta_E: $U, e1: $E, e2: $E, center_x: $C, center_y: $C}
  - type: SHEAR
    params: {gamma1: $G, gamma2: $G}
  lens_light_list:
  - type: Gaussian
    params:
      sigma: {fixed: true, fixed_value: 0.5}
      e1: {fixed: true, fixed_value: 0.0}
      e2: {fixed: true, fixed_value: 0.0}
      center_x: {fixed: true, fixed_value: {component_type: lens_mass_list, component_idx: 0, parameter: center_x}}
      center_y: {fixed: true, fixed_value: {component_type: lens_mass_list, component_idx: 0, parameter: center_y}}
  source_light_list:
  - type: Sersic
    params: {R_sersic: $U, n_sersic: {fixed: true, fixed_value: 1.0}, e1: $E, e2: $E, center_x: $C, center_y: $C}
""".replace("$U", "{prior_type: uniform, prior_settings: [0.05, 2.0], fixed: false}").replace(
    "$E", "{prior_type: uniform, prior_settings: [-0.3, 0.3], fixed: false}").replace(
    "$C", "{prior_type: uniform, prior_settings: [-0.2, 0.2], fixed: false}").replace(
    "$G", "{prior_type: uniform, prior_settings: [-0.1, 0.1], fixed: false}")

#: Settings refused for a model of 12 free parameters (fine for the demo's 2, but nautilus's):
#: method, settings, the key the message names.
_DIMENSION_MISTAKES = {
    "dynesty nlive": ("sampler", "dynesty", "{nlive: 5}", "nlive"),
    "dynesty n_live under its alias": ("sampler", "dynesty", "{n_live: 24}", "n_live"),
    "dynesty periodic": ("sampler", "dynesty", "{periodic: [3, 12]}", "periodic"),
    "dynesty ncdim": ("sampler", "dynesty", "{ncdim: 13}", "ncdim"),
    "nautilus nlive": ("sampler", "nautilus", "{nlive: 12}", "nlive"),
    "nautilus n_points_min": ("sampler", "nautilus", "{n_points_min: 12}", "n_points_min"),
    "nautilus periodic": ("sampler", "nautilus", "{periodic: [12]}", "periodic"),
    "differential_evolution popsize": ("optimizer", "differential_evolution", "{popsize: 90000}", "popsize"),
}


@pytest.mark.parametrize("command", ["validate", "fit"])
@pytest.mark.parametrize("case", list(_DIMENSION_MISTAKES))
def test_a_setting_refused_for_the_models_free_parameters_is_refused_before_jax_or_the_data_load(tmp_path, command,
                                                                                                   case):
    """A setting whose valid values depend on the number of free parameters (dynesty's nlive of at
    least 2 n_dim + 1, periodic, ncdim; nautilus's nlive and n_points_min above n_dim, periodic;
    differential evolution's popsize cap) was checked only once JAX, the data and the model were
    built: ``nlive: 5`` with dynesty for a 12-parameter model took 15-16 s from ``tinylens fit`` to
    its refusal. The free parameters are now counted from the config's model (the profiles' names),
    and those settings refused once the config is read: the message of the runner's own check for
    12 free parameters, naming the key, exit code 2, no traceback, none of HEAVY nor scikit-learn
    imported (no data file exists here: a check after the data's load would have said that instead)."""
    from tinylens.inference import dynesty_runner, nautilus_runner, optimizer

    kind, method, settings, key = _DIMENSION_MISTAKES[case]
    check = {"dynesty": dynesty_runner.check, "nautilus": nautilus_runner.check,
             "differential_evolution": optimizer.check_differential_evolution}[method]
    _refused_before_the_heavy_imports(tmp_path, command, f"{{type: {kind}, method: {method}, settings: {settings}}}",
                                      check, model=_TWELVE_FREE, n_dim=12)
    from tinylens.config.loader import load_config
    from tinylens.config.model_spec import build_model_spec

    config = load_config(tmp_path / "model_config.yaml")[0]
    assert len(build_model_spec(config.model_components).param_names) == 12  # with the profiles themselves (JAX)
    with pytest.raises(Exception, match=rf"inference\.settings\.{key}: "):
        check(dict(config.inference.settings), 12)


def _survey_with_a_model_mistake(tmp_path, case: str, settings: dict | None = None):
    """A lens folder (``lenses/a``, tiny FITS files) and a template whose model has the mistake
    ``case`` (an unknown profile SIEE, or theta_e for an SIS), and the message the model's build
    with the profiles themselves gives."""
    import numpy as np
    import yaml
    from astropy.io import fits
    from tinylens.config.loader import validate_config
    from tinylens.config.model_spec import build_model_spec
    from tinylens.errors import ConfigError

    uniform = {"prior_type": "uniform", "prior_settings": [0.1, 0.9]}
    mass = ({"type": "SIEE", "params": {"theta_E": uniform}} if case == "unknown profile" else
            {"type": "SIS", "params": {"theta_e" if case == "unknown parameter" else "theta_E": uniform,
                                       "center_x": uniform, "center_y": uniform}})
    components = {"lens_mass_list": [mass], "source_light_list": [
        {"type": "Gaussian", "params": {"sigma": uniform, "center_x": uniform, "center_y": uniform}}]}
    template = tmp_path / "template.yaml"
    inference = {"inference": {"type": "sampler", "method": "nautilus", "settings": settings}} if settings else {}
    template.write_text(yaml.safe_dump({"dataset": {"pixel_scale": 0.074}, "model_components": components, **inference}))
    lens = tmp_path / "lenses" / "a"
    lens.mkdir(parents=True)
    for name, value in (("image", 0.0), ("noise", 1.0), ("psf", 1.0)):
        fits.writeto(lens / f"{name}.fits", np.full((15, 15) if name != "psf" else (5, 5), value, dtype="f4"))
    with pytest.raises(ConfigError) as expected:  # with MASS_PROFILES and LIGHT_PROFILES (JAX)
        build_model_spec(validate_config({"dataset": {"data_path": "x", "noise_path": "x", "psf_path": "x",
                                                      "pixel_scale": 0.074}, "model_components": components},
                                         "config").model_components)
        if settings:  # the model is sound: the runner's own check, nautilus imported, for its 6 free parameters
            from tinylens.inference import nautilus_runner

            nautilus_runner.check(dict(settings), 6)
    return tmp_path / "lenses", template, f"The template {template.resolve()} does not work (checked with lens a): " \
                                          f"{expected.value}"


@pytest.mark.parametrize("dry_run", [True, False], ids=["--dry-run", "run"])
@pytest.mark.parametrize("case", ["unknown profile", "unknown parameter"])
def test_a_survey_template_with_a_model_mistake_is_refused_before_jax_loads(tmp_path, case, dry_run):
    """``tinylens survey`` of a template naming a profile SIEE, or a parameter theta_e of an SIS,
    imported JAX before its template check (reading the survey's rows imported the quality flags'
    module, and with it the lens equation): 11.7 s / 12.3 s (SIEE, --dry-run / a run) and 10.2 s /
    12.2 s (theta_e), medians of 3 on a loaded 2-core machine, against about 5 s now. The model is
    refused as the lens's config is read (the profiles' names, tinylens.profiles.catalog), with
    the same message and exit code and neither JAX nor nautilus imported."""
    lenses, template, message = _survey_with_a_model_mistake(tmp_path, case)
    run = _python("-X", "importtime", "-m", "tinylens", "survey", str(lenses), "-c", str(template),
                  "-o", str(tmp_path / "out"), *(["--dry-run"] if dry_run else ["--workers", "1"]))
    assert run.returncode == 2, run.stderr[-2000:]
    said = run.stderr[run.stderr.index("Error:"):]
    assert "Traceback" not in said
    assert "".join(said.split()) == "".join(f"Error: {message}".split())
    assert _imported(run.stderr) & {"jax", "jaxlib", "nautilus", "sklearn"} == set()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["unknown profile", "unknown parameter"])
def test_a_template_checked_without_a_lens_loaded_refuses_its_model_before_jax_loads(tmp_path, case):
    """check_template with no lens tried (tries=0) builds the template's free parameters for the
    settings' check without a lens (check_unloaded_settings), which resolved its model against the
    profiles themselves (JAX); now against their names, with the same message."""
    lenses, template, message = _survey_with_a_model_mistake(tmp_path, case)
    message = message.replace("(checked with lens a)", "(checked with no lens's data: no lens was tried)")
    code = ("import sys\nfrom tinylens.survey.runner import check_template, find_lenses, load_template\n"
            "try:\n    check_template(load_template(sys.argv[1]), find_lenses(sys.argv[2]), sys.argv[3], tries=0,\n"
            "                   name='template ' + sys.argv[1])\n"
            "except Exception as exc:\n    print(type(exc).__name__, repr(str(exc)))\n"
            "print(sorted(m for m in ('jax', 'jaxlib', 'nautilus', 'sklearn') if m in sys.modules))")
    run = _python("-c", code, str(template.resolve()), str(lenses), str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines() == [f"ConfigValueError {message!r}", "[]"], run.stdout


@pytest.mark.parametrize("dry_run", [True, False], ids=["--dry-run", "run"])
def test_a_survey_template_with_a_sampler_setting_mistake_is_refused_before_jax_loads(tmp_path, dry_run):
    """``tinylens survey`` of a template with ``nlvie: 100`` in its nautilus settings loaded the
    first lens (JAX, its data) and nautilus with scikit-learn before saying so: 11.5 s / 7.5 s
    (--dry-run / a run; medians of 3 on a 2-core machine whose load varied, 1.9 s / 2.5 s now). The settings that the config alone tells are checked as the lens's
    config is read (tinylens.fitting.checks.check_settings_first), with the same message and exit code."""
    lenses, template, message = _survey_with_a_model_mistake(tmp_path, "none", {"nlvie": 100})
    run = _python("-X", "importtime", "-m", "tinylens", "survey", str(lenses), "-c", str(template),
                  "-o", str(tmp_path / "out"), *(["--dry-run"] if dry_run else ["--workers", "1"]))
    assert run.returncode == 2, run.stderr[-2000:]
    said = run.stderr[run.stderr.index("Error:"):]
    assert "Traceback" not in said and "nlvie" in message
    assert "".join(said.split()) == "".join(f"Error: {message}".split())
    assert _imported(run.stderr) & {"jax", "jaxlib", "nautilus", "sklearn"} == set()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("mistake, message", [
    (["--set", "snr_rnage=5,20"], "unknown population option ['snr_rnage']"),
    (["--psf", "gausian"], "--psf must be 'gaussian' or 'moffat', got 'gausian'"),
    (["--size", "-3"], "--size must be >= 8 pixels, got -3"),
    (["--set", "shear_max=abc"], "population option shear_max must be a number (like 0.05), got 'abc'"),
], ids=["snr_rnage", "gausian", "size-3", "shear_max-abc"])
def test_a_population_option_mistake_is_refused_before_jax_loads(tmp_path, mistake, message):
    """``tinylens simulate-population`` refused a mistyped option (``--psf gausian``) only after
    importing the population module, which loaded JAX, pandas and the simulator: ~8 s (median of 3
    on a loaded 2-core machine) to say one line. The options are now checked first, with the same
    message and exit status, and none of these libraries is loaded."""
    out = tmp_path / "pop"
    run = _python("-X", "importtime", "-m", "tinylens", "simulate-population", "3", str(out), *mistake)
    assert run.returncode == 2, run.stderr[-2000:]
    assert message in " ".join(run.stderr.split()), run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert _imported(run.stderr) & set(HEAVY) == set()
    assert not out.exists()
