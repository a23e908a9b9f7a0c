"""Floating-point precision: float32 by default, float64 on request.

One switch: ``tinylens.set_precision("float64")`` (or the environment variable
``TINYLENS_PRECISION=float64`` before import). float64 turns on JAX's ``jax_enable_x64``;
``set_precision("float32")`` afterwards leaves it on (problems built in float64 still need it),
but new problems and simulations compute in float32 again, as in a fresh process. What they
compute follows this switch alone, not JAX's x64 setting.
"""

from __future__ import annotations

import os
import warnings

import jax
import jax.numpy as jnp

_PRECISION = os.environ.get("TINYLENS_PRECISION", "float32").strip().lower() or "float32"
if _PRECISION not in ("float32", "float64"):
    warnings.warn(f"TINYLENS_PRECISION={os.environ['TINYLENS_PRECISION']!r} is neither 'float32' nor 'float64'; "
                  "float32 is used.", UserWarning, stacklevel=2)
    _PRECISION = "float32"


def set_precision(precision: str) -> None:
    """Use ``"float32"`` (default, fastest) or ``"float64"`` for new problems (any case, as
    ``TINYLENS_PRECISION``)."""
    global _PRECISION
    given, precision = precision, str(precision).strip().lower()
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be 'float32' or 'float64', got {given!r}")
    if precision == "float64":
        jax.config.update("jax_enable_x64", True)
    _PRECISION = precision


def get_precision() -> str:
    """The precision new problems are built in: ``"float32"`` or ``"float64"``."""
    return _PRECISION


def get_dtype():
    """The JAX dtype new problems are built with."""
    if _PRECISION == "float64":
        if not jax.config.jax_enable_x64:
            jax.config.update("jax_enable_x64", True)
        return jnp.float64
    return jnp.float32


if _PRECISION == "float64":
    set_precision("float64")
