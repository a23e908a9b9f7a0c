"""Shared fixtures; the lenstronomy helpers live in ``oracle.py``."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def write_fits(tmp_path):
    """Write arrays to FITS files in tmp_path; returns a function name -> path."""
    from astropy.io import fits

    def _write(name: str, array: np.ndarray) -> str:
        path = tmp_path / name
        fits.PrimaryHDU(np.asarray(array, dtype=float)).writeto(path, overwrite=True)
        return str(path)

    return _write


@pytest.fixture
def x64():
    """JAX in float64 for the test (:func:`oracle.x64`)."""
    from oracle import x64 as float64

    with float64():
        yield
