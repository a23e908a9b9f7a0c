"""tinylens: fast, automated modelling of galaxy-galaxy strong lenses.

Quick start::

    import tinylens
    problem = tinylens.load("model_config.yaml")
    problem.log_likelihood(problem.prior_transform([0.5] * problem.ndim))
    result = tinylens.fit("model_config.yaml")    # sample, write tables and figures
"""

from tinylens.errors import ConfigError, DataError, TinyLensError
from tinylens.fit import fit  # a light module; bound eagerly so `tinylens.fit` stays the function
from tinylens.precision import set_precision

__version__ = "0.1.0"


def load(config, **kwargs):
    """Load a config (YAML path or dict) and its data; see :func:`tinylens.problem.load`."""
    from tinylens.problem import load as _load

    return _load(config, **kwargs)


__all__ = ["ConfigError", "DataError", "TinyLensError", "fit", "load", "set_precision", "__version__"]
