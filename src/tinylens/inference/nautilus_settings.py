"""nautilus's setting names, read from its installed source without importing it.

``import nautilus`` takes a second or more (it imports scikit-learn, and pandas with it), and a
fit checked its settings only once JAX and the data were loaded: a misspelt ``nlvie`` was said
after 13-15 s. :func:`check_names` says it, and a value :data:`~tinylens.inference.common.VALUE_RULES`
refuses, once the config is read, with the message
:mod:`tinylens.inference.nautilus_runner` gives (the names are the keywords of the installed
nautilus's ``Sampler`` and ``Sampler.run``, read from the source of the class ``nautilus.Sampler``
names, so that they follow its version; where the source does not tell them all, nothing is checked here);
what needs nautilus itself (a value its ``Sampler`` refuses) is left to that module's check.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from tinylens.inference.common import check_settings
from tinylens.inference.source_names import method_keywords, package_folder

DEFAULTS: dict[str, Any] = {"n_live": 300, "n_batch": 256, "seed": 0, "resume": True, "verbose": False,
                            "checkpoint_every": 60.0}
ALIASES = {"nlive": "n_live", "batch_size": "n_batch"}
#: Settings tinylens handles itself (not nautilus's).
OWN_KEYS = {"checkpoint_every"}
#: Sampler arguments tinylens sets itself.
RESERVED = {"prior", "likelihood", "n_dim", "vectorized", "pass_dict", "filepath", "pool", "blobs_dtype",
            "prior_args", "prior_kwargs", "likelihood_args", "likelihood_kwargs"}


@lru_cache(maxsize=1)
def source_keywords() -> tuple[frozenset[str], frozenset[str]] | None:
    """The keywords of the installed nautilus's ``Sampler.__init__`` (less :data:`RESERVED`) and of
    ``Sampler.run``, read from the source of the class ``nautilus.Sampler`` names
    (:func:`tinylens.inference.source_names.method_keywords`); None where they cannot be told from it
    (nautilus not installed, or installed without its source, as a zip or compiled; a ``Sampler``
    bound in a way its source does not tell; either method taking ``*args`` or ``**kwargs``):
    the check is then left to :mod:`tinylens.inference.nautilus_runner`."""
    folder = package_folder("nautilus")
    if folder is None:
        return None
    init = method_keywords(folder, "nautilus", "Sampler", "__init__")
    run = method_keywords(folder, "nautilus", "Sampler", "run")
    if init is None or run is None:
        return None
    return frozenset(init - RESERVED), frozenset(run)


def check_names(settings: dict[str, Any]) -> None:
    """Raise the ConfigError :mod:`tinylens.inference.nautilus_runner` raises for a setting nautilus
    does not have, a value :data:`~tinylens.inference.common.VALUE_RULES` refuses or one above its
    caps, without importing nautilus (nor scikit-learn, nor JAX); nothing where its source cannot be read."""
    found = source_keywords()
    if found is None:
        return
    sampler_keys, run_keys = found
    check_settings("nautilus", settings, sampler_keys | run_keys | OWN_KEYS | set(ALIASES), ALIASES)
