"""The precision switch: TINYLENS_PRECISION before import, in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "import warnings; warnings.simplefilter('always'); import tinylens.precision as p; print(p.get_dtype().__name__)"


@pytest.mark.parametrize(("value", "dtype", "warned"),
                         [("float64", "float64", False), ("FLOAT64", "float64", False), ("", "float32", False),
                          ("double", "float32", True)])
def test_environment_variable_picks_the_dtype_and_a_typo_is_said(value, dtype, warned):
    env = {**os.environ, "TINYLENS_PRECISION": value, "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-1] == dtype
    assert ("neither 'float32' nor 'float64'" in run.stderr) is warned


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
