"""The precision switch: TINYLENS_PRECISION before import, in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "import warnings; warnings.simplefilter('always'); import tinylens.precision as p; print(p.get_dtype().__name__)"
TYPO = "TINYLENS_PRECISION='double': must be 'float32' or 'float64' (any case; unset or empty: float32)."


def _python(code: str | None, precision: str, *args: str) -> subprocess.CompletedProcess:
    """``python -c code`` (or ``-m tinylens`` for code ``None``) with TINYLENS_PRECISION=precision."""
    env = {**os.environ, "TINYLENS_PRECISION": precision, "JAX_PLATFORMS": "cpu"}
    command = ["-m", "tinylens"] if code is None else ["-c", code]
    return subprocess.run([sys.executable, *command, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize(("value", "dtype"), [("float64", "float64"), ("FLOAT64", "float64"), ("", "float32")])
def test_environment_variable_picks_the_dtype(value, dtype):
    run = _python(PROBE, value)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-1] == dtype
    assert "Warning" not in run.stderr


USE_AFTER_TYPO = """
import tinylens, tinylens.precision as p
try:
    p.get_dtype()
except ValueError as err:  # a ConfigValueError
    print("refused:", type(err).__name__, isinstance(err, tinylens.ConfigError), err)
tinylens.set_precision("float64")
print(p.get_dtype().__name__)
"""


def test_a_typo_in_the_environment_variable_is_an_error_on_first_use():
    """TINYLENS_PRECISION=double only warned and fitted in float32, which a float64 run did not
    mean: the import still works, the first use is a ConfigError naming the variable and the
    values it may take (a ConfigValueError, a ValueError too: the plain ConfigError was, which
    ``except ValueError`` missed), and set_precision chooses the precision instead."""
    run = _python(USE_AFTER_TYPO, "double")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"refused: ConfigValueError True {TYPO}", "float64"]


def test_the_typo_named_is_the_value_read_at_import():
    """Fixing the variable after the import (a notebook's %env) does not undo the typo tinylens
    read: the message named the corrected value as the one refused."""
    code = ("import os, tinylens, tinylens.precision as p; os.environ['TINYLENS_PRECISION'] = 'float64'\n"
            "try:\n    p.get_dtype()\nexcept tinylens.ConfigError as err:\n    print(err)")
    run = _python(code, "double")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == TYPO


def test_a_typo_in_the_environment_variable_stops_every_command():
    """Each command stops at once with the message and exit 2, before reading its arguments'
    files (here a config that does not exist), and without a traceback."""
    run = _python(None, "double", "validate", "missing.yaml")
    assert run.returncode == 2, run.stderr
    assert " ".join(run.stderr.split()) == f"Error: {TYPO}"


SWITCH_BACK = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
import numpy as np
import tinylens
from tinylens.simulate import gaussian_psf, simulate_images
from tiny_lens import write_tiny_lens

lens = write_tiny_lens(Path({folder!r}))
components = {{"lens_mass_list": ["SIE"], "source_light_list": ["Sersic"]}}
truth = {{"lens_mass": [{{"theta_E": 1.0, "e1": 0.1, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}}],
         "source_light": [{{"Ie": 3.0, "R_sersic": 0.2, "n_sersic": 1.0, "e1": 0.0, "e2": 0.1,
                           "center_x": 0.05, "center_y": 0.1}}]}}
simulate = lambda **kw: simulate_images(components, truth, (24, 24), 0.1, gaussian_psf(0.2, 0.1, 7), nsub=2, **kw)["total"]

fresh = simulate()
p32 = tinylens.load(lens)
theta = p32.prior_transform(np.random.default_rng(0).uniform(size=(3, p32.ndim)))
ll32 = p32.log_likelihood(theta)
tinylens.set_precision("float64")
p64 = tinylens.load(lens)
ll64 = p64.log_likelihood(theta)
tinylens.set_precision("float32")
again = tinylens.load(lens)
print("problem", again.imaging.data.dtype, np.array_equal(again.log_likelihood(theta), ll32))
print("float64 problem kept", p64.imaging.data.dtype, np.array_equal(p64.log_likelihood(theta), ll64),
      not np.array_equal(ll64, ll32))
print("simulation", np.array_equal(simulate(), fresh), not np.array_equal(simulate(dtype=np.float64), fresh))
"""


def test_back_to_float32_computes_as_a_fresh_float32_process(tmp_path):
    """After set_precision("float64") then ("float32"), JAX's x64 stays on (a float64 problem
    built meanwhile needs it), but what is new computes in float32 as before the switch: a
    problem, and simulate_images, which went by x64 and simulated in float64."""
    tests = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("TINYLENS_PRECISION", None)
    code = SWITCH_BACK.format(tests=tests, folder=str(tmp_path / "lens"))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()[-3:]
    assert lines[0] == "problem float32 True"
    assert lines[1] == "float64 problem kept float64 True True"
    assert lines[2] == "simulation True True"


def test_set_precision_reads_its_value_as_the_environment_variable_does():
    """TINYLENS_PRECISION=FLOAT64 gives float64 but set_precision("FLOAT64") was a ValueError."""
    import jax.numpy as jnp

    import tinylens
    from oracle import x64
    from tinylens.precision import get_dtype

    with x64():
        try:
            tinylens.set_precision(" Float64 ")
            assert get_dtype() == jnp.float64
        finally:
            tinylens.set_precision("float32")
    assert get_dtype() == jnp.float32
    with pytest.raises(ValueError, match=r"precision must be 'float32' or 'float64', got 'double'"):
        tinylens.set_precision("double")


def test_set_precision_takes_a_dtype_as_load_does():
    """tinylens.load(config, dtype=jnp.float64) took a dtype, but set_precision(jnp.float64)
    was a ValueError ("got <class 'jax.numpy.float64'>"); None is still no precision."""
    import jax.numpy as jnp
    import numpy as np

    import tinylens
    from oracle import x64
    from tinylens.precision import get_dtype

    with x64():
        try:
            for dtype in (jnp.float64, np.float64, np.dtype("float64")):
                tinylens.set_precision("float32")
                tinylens.set_precision(dtype)
                assert get_dtype() == jnp.float64, dtype
            tinylens.set_precision(np.dtype("float32"))
            assert get_dtype() == jnp.float32
        finally:
            tinylens.set_precision("float32")
    for bad in (None, np.int32, 64):
        with pytest.raises(ValueError, match=r"precision must be 'float32' or 'float64', got "):
            tinylens.set_precision(bad)
    assert get_dtype() == jnp.float32


def test_the_command_line_help_names_the_variable_that_gives_float64():
    """Nothing on the command line said how to fit in float64 (there is no option: a variable)."""
    import re

    from typer.testing import CliRunner

    from tinylens.cli.main import app

    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    name, value = re.search(r"\b([A-Z_]+)=(\w+) makes every command compute in float64", result.output).groups()
    env = {**os.environ, name: value, "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-1] == "float64"


def test_a_typo_in_the_environment_variable_leaves_help_working():
    """``tinylens COMMAND --help`` printed the precision error instead of the help: the check ran
    before the command read its options. It now runs as the command starts."""
    run = _python(None, "double", "validate", "--help")
    assert run.returncode == 0, run.stderr
    assert "Usage:" in run.stdout and "CONFIG" in run.stdout and not run.stderr


def test_a_value_set_precision_does_not_take_is_a_config_error_and_a_value_error():
    """set_precision("double") raised a plain ValueError, which ``except tinylens.TinyLensError``
    (as around tinylens.load, whose dtype="double" is a ConfigError) let through; it is now a
    ConfigError that is also the ValueError its docstring promises, and the precision is unchanged."""
    import tinylens
    from tinylens.precision import get_precision

    before = get_precision()
    for bad in ("double", None, 64):
        with pytest.raises(tinylens.ConfigError, match=r"precision must be 'float32' or 'float64', got ") as caught:
            tinylens.set_precision(bad)
        assert isinstance(caught.value, tinylens.TinyLensError) and isinstance(caught.value, ValueError)
    assert get_precision() == before


@pytest.mark.parametrize("dtype", ["int32", "double64", 5, "float16", ""])
def test_a_dtype_load_or_simulate_does_not_take_is_a_config_value_error_as_set_precision_s(tmp_path, dtype):
    """tinylens.load(config, dtype="int32") (or simulate_image's dtype=) raised a plain ConfigError,
    which ``except ValueError`` missed, where set_precision("float16"), the same mistake, raises a
    ConfigValueError (a ConfigError and a ValueError); load's and simulate's are one now, with the
    same message, raised before any file is read."""
    import tinylens
    from tinylens.precision import chosen_dtype

    missing = tmp_path / "no_such.yaml"
    for call in (lambda: tinylens.load(missing, dtype=dtype), lambda: chosen_dtype(dtype)):
        with pytest.raises(ValueError) as caught:
            call()
        assert isinstance(caught.value, tinylens.ConfigValueError) and isinstance(caught.value, tinylens.ConfigError)
        assert str(caught.value).startswith(f"dtype={dtype!r}: must be float32 or float64 (jnp.float32, 'float64', ...)")
    with pytest.raises(tinylens.ConfigValueError):
        tinylens.set_precision("float16")


def test_the_readme_names_the_class_a_typo_in_the_environment_variable_raises():
    """The README said a TINYLENS_PRECISION typo 'is a ConfigError where Python first loads or
    simulates'; it is a ConfigValueError (a ValueError too), which the README now names."""
    from pathlib import Path

    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").split())
    assert "stops every `tinylens` command at once and is a `ConfigValueError` where Python first loads" in readme
    run = _python(USE_AFTER_TYPO, "double")
    assert run.stdout.startswith("refused: ConfigValueError True"), run.stdout + run.stderr
