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
