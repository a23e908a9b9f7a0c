"""tinylens: fast, automated modelling of galaxy-galaxy strong lenses.

Quick start::

    import tinylens
    problem = tinylens.load("model_config.yaml")
    problem.log_likelihood(problem.prior_transform([0.5] * problem.ndim))
    result = tinylens.fit("model_config.yaml")    # sample, write tables and figures
"""

from tinylens.errors import ConfigError, DataError, TinyLensError
from tinylens.fit import FitResult, fit  # a light module; bound eagerly so `tinylens.fit` stays the function
from tinylens.precision import set_precision


def _installed_version(distribution: str = "tinylens") -> str:
    """The version of the installed ``distribution`` (tinylens's: that of its pyproject.toml when
    installed), or ``0+unknown`` where it is not installed (run from a source tree on PYTHONPATH)."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()


def load(config, *, dtype=None, base_dir=None):
    """Load a config (YAML path or dict) and its data into a :class:`~tinylens.problem.Problem`.

    Relative paths in the config start from ``base_dir`` if given, else the YAML file's folder
    (the current folder for a dict); ``dtype``: the precision to compute in (default that of
    :func:`set_precision`). See :func:`tinylens.problem.load`.
    """
    from tinylens.problem import load as _load

    return _load(config, dtype=dtype, base_dir=base_dir)


__all__ = ["ConfigError", "DataError", "FitResult", "TinyLensError", "fit", "load", "set_precision", "__version__"]
