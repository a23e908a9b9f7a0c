"""tinylens: fast, automated modelling of galaxy-galaxy strong lenses.

Quick start::

    import tinylens
    problem = tinylens.load("model_config.yaml")
    problem.log_likelihood(problem.prior_transform([0.5] * problem.ndim))
    result = tinylens.fit("model_config.yaml")    # sample, write tables and figures
    result = tinylens.read_result("output")        # the same result, read back from its folder later

The warnings of load, fit and read_result (and of tinylens's other functions) have classes of their
own, to filter (``warnings.simplefilter("ignore",
tinylens.DataWarning)``) or catch: :class:`DataWarning` (something in the data fixed or chosen
automatically), :class:`ConfigWarning` (a config that asks for something probably not meant),
:class:`CheckpointWarning` (a checkpoint not resumed) and :class:`ConvergenceWarning` (a fit that did not converge:
its result is preliminary; its subclass :class:`CapReachedWarning`, a fit run again at the sampler's cap it already
reached, which samples nothing more).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from numpy.typing import DTypeLike

import tinylens  # load's annotations name tinylens.config and tinylens.problem, imported when named (__getattr__)
from tinylens.errors import (CapReachedWarning, CheckpointWarning, ConfigError, ConfigFileError, ConfigTypeError, ConfigValueError, ConfigWarning,
                             ConvergenceWarning, DataError, DataWarning, MethodNotInstalledError, OutputError, ParameterError, TinyLensError)
from tinylens.fit import FitResult, fit  # a light module; bound eagerly so `tinylens.fit` stays the function
from tinylens.precision import set_precision

#: Submodules imported when first named (``tinylens.problem.Problem``): in load's annotations, which
#: typing.get_type_hints resolves, while ``import tinylens`` stays light (no JAX, no pydantic models).
LAZY_SUBMODULES = ("config", "problem")

#: Classes of :data:`__all__` defined in a heavy submodule (the class :func:`load` returns), by
#: that submodule's name: ``tinylens.Problem`` imports it when first named.
LAZY_CLASSES = {"Problem": "problem"}


def __getattr__(name: str) -> Any:
    """``tinylens.config`` and ``tinylens.problem`` (:data:`LAZY_SUBMODULES`) and ``tinylens.Problem``
    (:data:`LAZY_CLASSES`), imported when first named."""
    from importlib import import_module

    if name in LAZY_SUBMODULES:
        return import_module(f"tinylens.{name}")
    if name in LAZY_CLASSES:
        return getattr(import_module(f"tinylens.{LAZY_CLASSES[name]}"), name)
    raise AttributeError(f"module 'tinylens' has no attribute {name!r}")


def __dir__() -> list[str]:
    """What ``dir(tinylens)`` (and a notebook's completion) lists: :data:`__all__` and the submodules
    imported so far, not the names imported for load's annotations (``os``, ``Any``, ``tinylens``).
    :data:`LAZY_SUBMODULES` not yet imported are left out, as are :data:`LAZY_CLASSES` whose module
    is not, so that ``help(tinylens)``, which gets each name listed, does not import JAX."""
    import sys
    from types import ModuleType

    imported = (name for name, value in globals().items()
                if isinstance(value, ModuleType) and value.__name__ == f"{__name__}.{name}")
    unloaded = {name for name, module in LAZY_CLASSES.items() if f"{__name__}.{module}" not in sys.modules}
    return sorted({*__all__, *imported} - unloaded)


def _installed_version(distribution: str = "tinylens") -> str:
    """The version of the installed ``distribution`` (tinylens's: that of its pyproject.toml when
    installed), or ``0+unknown`` where it is not installed (run from a source tree on PYTHONPATH)."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()


def load(config: str | os.PathLike[str] | Mapping[str, Any] | tinylens.config.Config, *, dtype: DTypeLike | None = None,
         base_dir: str | os.PathLike[str] | None = None) -> tinylens.problem.Problem:
    """Load a config and its data (image, noise, PSF, mask) into a :class:`~tinylens.problem.Problem`:
    the model's free parameters, priors and likelihood, ready to evaluate or sample.

    ``config``: the path of a YAML file (str, :class:`~pathlib.Path` or another path-like), a
    mapping of its content (a fit's ``result.config``, with ``base_dir=result.config_dir``) or a
    loaded :class:`~tinylens.config.schema.Config` (``problem.config``, with
    ``base_dir=problem.base_dir``: a Config keeps no folder, so without it its data paths are looked
    for in the current folder). Relative paths in it start from ``base_dir`` if given, else the YAML
    file's folder (the current folder for a mapping or a Config). ``dtype``: the precision to compute in, float32 or float64
    (default that of :func:`set_precision`); float64 needs JAX's x64 mode, so call
    ``tinylens.set_precision("float64")`` first (or set ``TINYLENS_PRECISION=float64`` before
    import), else ``dtype="float64"`` raises :class:`ConfigError`. See :func:`tinylens.problem.load`.

    A config that cannot be read or is not valid (a missing file, an unknown key, a wrong value)
    raises :class:`ConfigError`, naming the file, key and value: for a config whose keys hold only
    values of the wrong kind (a text for a number) a :class:`ConfigTypeError`, for one whose
    problems are all wrong values, unknown keys or missing keys a :class:`ConfigValueError` (as for
    a file whose text is not UTF-8 or not YAML), for a file that cannot be read (missing, a folder,
    not readable by this user) a :class:`ConfigFileError`, a ConfigError and an OSError; data
    that cannot be read raise :class:`DataError`. What only a fit uses is left to :func:`fit`, which checks it before it
    makes its output folder or samples: the names and values of ``inference.settings`` (a
    misspelled ``nlvie``, ``nlive: "fifty"``) and ``output.corner_parameters``, so that a problem
    can be evaluated or sampled by other means whatever they say; ``tinylens validate CONFIG``
    checks them too, without fitting. A ``config`` of the wrong type (None, a number) or a
    ``base_dir`` that is neither None (the default) nor a path (a number) raises
    :class:`ConfigTypeError`, which is a ConfigError and a TypeError; an empty text for either (an unset
    variable) :class:`ConfigValueError`, a ConfigError and a ValueError.

    >>> problem = tinylens.load("model_config.yaml")
    >>> problem.param_names                     # ('lens_mass.0.theta_E', ...)
    >>> problem.log_likelihood(problem.prior_transform([0.5] * problem.ndim))
    """
    from tinylens.config.loader import read_config_first

    read = read_config_first(config, base_dir, dtype)  # a config's mistake said before JAX is imported (seconds)
    from tinylens.problem import LOAD_ORIGIN, load_from

    return load_from(config, base_dir, LOAD_ORIGIN, dtype=dtype, read=read)


def read_result(folder: str | os.PathLike[str]) -> FitResult:
    """The :class:`FitResult` of a finished fit, read back from its output ``folder`` (or its
    ``result.json``): what :func:`fit` returned, from ``result.json`` and the samples and summary
    tables it names, in whatever format they were written. The samples of negligible weight that
    the samples table leaves out are left out (their weights then sum to 1 less those, about 1e-12);
    ``output_dir`` is the folder given, absolute (``~`` expanded); ``truth`` is None.

    A folder that does not exist or holds no finished fit (no ``result.json``: a fit stopped or
    still running, a survey's folder), a ``result.json`` of another program or with a field of the
    wrong kind (a number written as a text, edited by hand), and a table that is missing or cannot
    be read raise :class:`OutputError`, naming the folder or file; a ``folder``
    that is no path (None, a number) raises :class:`ConfigTypeError` (a ConfigError and a TypeError),
    an empty text :class:`ConfigValueError` (a ConfigError and a ValueError). See
    :func:`tinylens.results.stored.read_result`.

    >>> result = tinylens.read_result("output")
    >>> result.median["lens_mass.0.theta_E"], result.samples.shape, result.summary
    """
    from tinylens.results.stored import read_result as _read_result

    return _read_result(folder)


__all__ = ["CapReachedWarning", "CheckpointWarning", "ConfigError", "ConfigFileError", "ConfigTypeError", "ConfigValueError", "ConfigWarning",
           "ConvergenceWarning", "DataError",
           "DataWarning", "FitResult", "MethodNotInstalledError", "OutputError", "ParameterError", "Problem", "TinyLensError", "fit", "load",
           "read_result", "set_precision", "__version__"]
