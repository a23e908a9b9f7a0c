"""Floating-point precision: float32 by default, float64 on request.

One switch: ``tinylens.set_precision("float64")`` (or the environment variable
``TINYLENS_PRECISION=float64`` before import). float64 turns on JAX's ``jax_enable_x64``;
``set_precision("float32")`` afterwards leaves it on (problems built in float64 still need it),
but new problems and simulations compute in float32 again, as in a fresh process. What they
compute follows this switch alone, not JAX's x64 setting.

Any other value of ``TINYLENS_PRECISION`` (a typo: ``double``) is a
:class:`~tinylens.errors.ConfigValueError` (a ConfigError and a ValueError) on first use: when a
problem is built or a simulation made, or at once for a ``tinylens`` command
(:func:`check_environment`), unless ``set_precision`` has chosen the precision meanwhile. The
import itself does not fail.
"""

from __future__ import annotations

import os
from typing import Any

from tinylens.errors import ConfigValueError

#: The environment variable read at import, and the values it may take (any case; empty: unset).
ENV_VARIABLE = "TINYLENS_PRECISION"
PRECISIONS = ("float32", "float64")


def _from_environment(given: str) -> str | None:
    """The precision that ``given``, the value of :data:`ENV_VARIABLE`, asks for (float32 when
    unset or empty), or None for a value that is neither."""
    value = given.strip().lower() or "float32"
    return value if value in PRECISIONS else None


#: The value of :data:`ENV_VARIABLE` when tinylens was imported, the one it follows.
_GIVEN = os.environ.get(ENV_VARIABLE, "")
#: None: the environment variable held neither precision, and set_precision was not called.
_PRECISION: str | None = _from_environment(_GIVEN)


def check_environment() -> None:
    """Raise a ConfigValueError if :data:`ENV_VARIABLE` holds neither precision (and ``set_precision``
    has not chosen one since)."""
    if _PRECISION is None:
        raise ConfigValueError(f"{ENV_VARIABLE}={_GIVEN!r}: must be 'float32' or 'float64' "
                               "(any case; unset or empty: float32).")


def set_precision(precision: Any) -> None:
    """Compute new problems and simulations in ``precision``: ``"float32"`` (default, fastest) or
    ``"float64"`` (any case, as ``TINYLENS_PRECISION``), or the dtype that names one, as
    :func:`tinylens.load`'s ``dtype`` (``jnp.float64``, ``np.float32``, ``np.dtype("float64")``);
    anything else is a :class:`~tinylens.errors.ConfigValueError` (as the same value of ``dtype`` or
    ``TINYLENS_PRECISION`` is), which is also a ValueError.

    >>> tinylens.set_precision("float64")    # problems loaded from here compute in float64
    """
    global _PRECISION
    given = precision
    if isinstance(precision, str):
        precision = precision.strip().lower()
    else:  # a dtype (not None, which numpy reads as float64)
        precision = None if precision is None else dtype_name(precision)
    if precision not in PRECISIONS:
        raise ConfigValueError(f"precision must be 'float32' or 'float64', got {given!r}")
    if precision == "float64":
        import jax  # here, not at the top: ``import tinylens`` and ``tinylens --help`` stay fast

        jax.config.update("jax_enable_x64", True)
    _PRECISION = precision


def get_precision() -> str:
    """The precision new problems are built in: ``"float32"`` or ``"float64"``."""
    check_environment()
    return _PRECISION  # type: ignore[return-value]


def dtype_name(dtype) -> str | None:
    """``"float32"`` or ``"float64"`` for a ``dtype`` that names one (``jnp.float32``,
    ``"float64"``, ``np.dtype("float64")``), else None."""
    import jax.numpy as jnp  # here, not at the top: ``import tinylens`` stays fast

    try:
        name = jnp.dtype(dtype).name
    except TypeError:  # not a dtype at all: "double64", 5
        return None
    return name if name in PRECISIONS else None


def check_dtype(dtype) -> None:
    """Raise a :class:`~tinylens.errors.ConfigValueError` (a ValueError too, as set_precision's is)
    for a ``dtype`` that is neither float32 nor float64 (JAX failed on it deep inside, or computed
    in it), and for float64 while JAX's x64 is off, a value it cannot take then: JAX would compute
    in float32 (as a ``TINYLENS_PRECISION`` typo is refused, not fitted in float32)."""
    import jax

    name = dtype_name(dtype)
    if name is None:
        raise ConfigValueError(f"dtype={dtype!r}: must be float32 or float64 (jnp.float32, 'float64', ...), the "
                               "precision to compute in; leave it out for that of tinylens.set_precision.")
    if name == "float64" and not jax.config.jax_enable_x64:
        raise ConfigValueError("dtype=float64 needs JAX's x64 mode, which is off: JAX would compute in float32. Turn it "
                               "on first, with tinylens.set_precision('float64') (or jax.config.update('jax_enable_x64', "
                               "True)), or ask for float32.")


def chosen_dtype(dtype: Any) -> Any:
    """``dtype``, checked (:func:`check_dtype`), or where it is None the precision of new problems
    (:func:`get_dtype`): not where it is ``''`` or 0, which are refused, not taken for the default."""
    dtype = get_dtype() if dtype is None else dtype
    check_dtype(dtype)
    return dtype


def get_dtype():
    """The JAX dtype new problems are built with."""
    import jax
    import jax.numpy as jnp

    if get_precision() == "float64":
        if not jax.config.jax_enable_x64:
            jax.config.update("jax_enable_x64", True)
        return jnp.float64
    return jnp.float32


if _PRECISION == "float64":
    set_precision("float64")
