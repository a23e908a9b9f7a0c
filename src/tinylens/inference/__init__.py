"""Non-linear search: nested samplers (nautilus, dynesty) and optimisers.

>>> result = run_inference(problem)          # what config.inference asks for
>>> result.samples, result.weights, result.log_evidence

A sampler runs inside the automated pipeline (:mod:`tinylens.pipeline`) unless the config's
``pipeline: {enabled: false}``. ``config.inference.type`` is ``sampler`` (``method``: ``nautilus``, the default, or ``dynesty``)
or ``optimizer`` (``differential_evolution`` or ``lbfgs``). ``config.inference.settings``
holds the method's settings; each runner documents its own and rejects unknown ones and values
it would fail on, and :func:`check_inference` does so before anything runs (each runner ``run_x``
has a ``check_x``, which also sets the method up on a dummy problem to try the settings). A
sampler's module may define ``settings_for_run(settings, run)``, its settings for each sampling
run of the pipeline (:func:`tinylens.pipeline.run_pipeline`).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy.special import softmax

from tinylens.config.schema import DEFAULT_METHODS
from tinylens.errors import ConfigError, ConfigValueError, MethodNotInstalledError, did_you_mean, retold

#: method -> "module:function" of its runner, by inference type.
METHODS: dict[str, dict[str, str]] = {
    "sampler": {
        "nautilus": "tinylens.inference.nautilus_runner:run",
        "dynesty": "tinylens.inference.dynesty_runner:run",
    },
    "optimizer": {
        "differential_evolution": "tinylens.inference.optimizer:run_differential_evolution",
        "lbfgs": "tinylens.inference.optimizer:run_lbfgs",
    },
}


@dataclass
class InferenceResult:
    """Posterior samples (or a best fit) and the bookkeeping of one search.

    ``samples`` are parameter vectors in ``param_names`` order with normalised ``log_weights``
    (an optimiser returns its best fit as one sample of weight 1 and no evidence).
    ``wall_time_s`` covers every run that the result was resumed from, up to its checkpoint:
    ``info["earlier_time_s"]`` of it was spent before this run (the samplers, nautilus and dynesty,
    record it in their checkpoints; 0 for the optimisers). ``n_likelihood_evals`` counts the
    calls of those runs too, and a sampler's ``info["n_like_this_run"]`` this run's alone; the
    pipeline's result (:func:`tinylens.pipeline.run.run_pipeline`) adds to ``n_likelihood_evals``
    its stages' gradient calls and its earlier boxes' runs, not to ``n_like_this_run``.
    """

    method: str
    param_names: tuple[str, ...]
    samples: np.ndarray  # (N, n)
    log_weights: np.ndarray  # (N,), logsumexp = 0
    log_likelihood: np.ndarray  # (N,)
    log_evidence: float | None
    n_likelihood_evals: int
    wall_time_s: float
    converged: bool = True
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def weights(self) -> np.ndarray:
        return softmax(self.log_weights)

    @property
    def max_likelihood(self) -> np.ndarray:
        """The sample with the highest likelihood."""
        return self.samples[int(np.argmax(self.log_likelihood))]

    def equal_weight_indices(self, n: int, seed: int = 0) -> np.ndarray:
        """Indices of ``n`` draws (with replacement) from the weighted samples."""
        rng = np.random.default_rng(seed)
        return rng.choice(len(self.samples), size=n, p=self.weights)

#: TinyLensGpu's optimisers (its RunLensModel's and demo configs' ``inference.method``) that
#: tinylens does not provide: a config naming one is told so, not that the name is unknown.
TINYLENSGPU_OPTIMIZERS = ("basin_hopping", "direct", "dual_annealing")


def _resolve(kind: str, method: str | None) -> str:
    if kind not in METHODS:
        raise ConfigValueError(f"inference.type: unknown type '{kind}'. Allowed: {', '.join(METHODS)}.")
    method = method or DEFAULT_METHODS[kind]
    if kind == "optimizer" and method in TINYLENSGPU_OPTIMIZERS:
        raise ConfigValueError(not_provided(method))
    if method not in METHODS[kind]:
        raise ConfigValueError(
            f"inference.method: unknown {kind} method '{method}'.{did_you_mean([method], list(METHODS[kind]))} "
            f"Allowed: {', '.join(METHODS[kind])}."
        )
    return METHODS[kind][method]


#: The pip requirement that installs a module a method imports, by the module's top-level name (that
#: of a ModuleNotFoundError), where it differs from the name itself.
PIP_NAMES = {"nautilus": "nautilus-sampler[checkpointing]", "sklearn": "scikit-learn"}


def install_command(python: str, package: str) -> str:
    """The command that installs ``package`` (a module's top-level name, :data:`PIP_NAMES`) in the
    Python ``python``: this process's (:func:`runner_module`), a Dask worker's (the survey's reasons)."""
    return shlex.join([python, "-m", "pip", "install", PIP_NAMES.get(package, package)])


def runner_module(module_name: str, kind: str, method: str) -> Any:
    """The module ``module_name`` of ``method``'s runner, imported; a :class:`MethodNotInstalledError`
    (a ConfigError and a ModuleNotFoundError) where a package it imports is not installed (a
    module of tinylens's own that is missing is a broken tinylens: its error goes on as it is)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if not missing or missing == "tinylens":
            raise
        instead = other_methods_advice(kind, method)
        raise MethodNotInstalledError(
            f"inference.method: {method} cannot run here: the package {missing} it needs is not installed in this "
            f"Python. tinylens requires it, so this installation is incomplete: install it "
            f"({install_command(sys.executable, missing)}){instead}.",
            name=exc.name) from None


#: The package a method's runner imports that a Python may lack, by method (an optimizer's, scipy,
#: tinylens imports itself): a method whose package is not installed is not advised instead of another.
METHOD_PACKAGES = {"nautilus": "nautilus", "dynesty": "dynesty"}


def installed(method: str) -> bool:
    """Whether the package ``method``'s runner needs (:data:`METHOD_PACKAGES`) can be imported here,
    as far as finding it tells (nothing is imported)."""
    package = METHOD_PACKAGES.get(method)
    if package is None:
        return True
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a module without a spec, or one set to None (not importable)
        return False


def other_methods_advice(kind: str, method: str, section: bool = False) -> str:
    """The advice, with its leading '; ', to choose another method of ``kind`` than ``method`` (whose
    package is not installed: :func:`runner_module`), of those installed (:func:`installed`: one
    that cannot run either is no way out); in the words of TinyLensGpu's older ``sampling``
    section where ``section`` (:func:`sampling_advice`); empty where there is none."""
    others = [m for m in METHODS[kind] if m != method and installed(m)]
    if not others:
        return ""
    if section:
        from tinylens.config.loader import LEGACY_SAMPLING

        return f"; or set sampler: {' or '.join(others)} in the {LEGACY_SAMPLING} section"
    return f"; or choose another {kind} method ({', '.join(others)})"


def not_provided(method: str) -> str:
    """Why TinyLensGpu's optimiser ``method`` is refused, and what to use instead; its settings
    (scipy's for that optimiser) are not those of tinylens's optimisers."""
    return (f"inference.method: '{method}' is one of TinyLensGpu's optimizers, which tinylens does not provide. "
            "Use differential_evolution (a global search of the priors' box, as TinyLensGpu's own "
            "differential_evolution) or lbfgs (L-BFGS-B from the best of many prior draws), with that method's "
            f"settings: scipy's {method} settings are not read by either (allowed optimizer methods: "
            f"{', '.join(METHODS['optimizer'])}).")


def _n_free(config) -> int:
    """The number of free parameters of ``config``'s model, counted from its ``model_components``
    alone (:func:`~tinylens.config.model_spec.free_parameter_names`: the profiles' names, not JAX)."""
    from tinylens.config.model_spec import free_parameter_names

    return len(free_parameter_names(config.model_components))


def _check_some_free(inf, kind: str, n_dim: int) -> None:
    """A ConfigValueError where the model has no free parameter (``n_dim`` 0), which every search
    failed on with a traceback (a sampler's after the pipeline's stages)."""
    if n_dim == 0:
        method = getattr(inf, "method", None) or DEFAULT_METHODS[kind]
        raise ConfigValueError(
            f"model_components: every parameter is fixed (or linked to another), so {method} has no "
            "free parameter to fit; free at least one (fixed: false, with prior_type and prior_settings)."
        )


@contextlib.contextmanager
def _named_as_written(config) -> Iterator[None]:
    """A ConfigError raised within the block that begins with the key of ``config``'s inference it
    is about (``inference.method: ...``, ``inference.settings.nlive: ...``, as the checks of every
    method name it, or ``inference.settings: ...`` for settings refused together) begins with that key as the config file wrote it
    (:func:`~tinylens.config.loader.key_as_written`: ``sampling.sampler``, ``sampling.nlive`` for
    TinyLensGpu's older ``sampling`` section, or ``sampling`` where it names no sampler: then the
    default sampler its message begins with is said to be it), of the same class
    (:func:`~tinylens.errors.retold`); there, advice in ``inference``'s words (``Use method
    dynesty``) is given in the section's (:func:`sampling_advice`)."""
    try:
        yield
    except ConfigError as exc:
        from tinylens.config.loader import LEGACY_SAMPLING, key_as_written

        text = str(exc)
        key, sep, rest = text.partition(": ")
        if not sep or not (key in ("inference.method", "inference.settings") or key.startswith("inference.settings.")) \
                or key_as_written(config, key) == key:
            raise
        written = key_as_written(config, key)
        default = DEFAULT_METHODS["sampler"]
        if written == LEGACY_SAMPLING and key == "inference.method" and rest.startswith(f"{default} "):
            rest = f"{default} (the sampler where {LEGACY_SAMPLING} names none){rest[len(default):]}"
        for said, instead in sampling_advice().items():
            if said:  # (no advice where no other method is installed: nothing to say otherwise)
                rest = rest.replace(said, instead)
        raise retold(exc, f"{written}{sep}{rest}") from None


def sampling_advice() -> dict[str, str]:
    """Advice of the inference checks in an ``inference`` section's words -> the same in those of
    TinyLensGpu's older ``sampling`` section (``sampler: dynesty``, not ``method dynesty``)."""
    from tinylens.inference import nautilus_settings

    return {nautilus_settings.ONE_PARAMETER_ADVICE: nautilus_settings.ONE_PARAMETER_ADVICE_SAMPLING,
            **{other_methods_advice("sampler", method): other_methods_advice("sampler", method, section=True)
               for method in METHODS["sampler"]}}


def check_inference(config, n_dim: int | None = None) -> None:
    """Raise ConfigError for an unknown inference type, method or setting, or a setting value the
    method would fail on, without running anything or writing a file (a ConfigValueError for an
    unknown type or method, or a model with no free parameter).

    ``n_dim``: the number of free parameters (default: counted from ``config.model_components``);
    the method is set up on a dummy problem of that dimension to try the settings.
    """
    with _named_as_written(config):
        _check_inference(config, n_dim)


def _check_inference(config, n_dim: int | None) -> None:
    inf = config.inference
    kind = getattr(inf, "type", None) or "sampler"
    module, func = _resolve(kind, getattr(inf, "method", None)).split(":")
    n_dim = _n_free(config) if n_dim is None else n_dim
    _check_some_free(inf, kind, n_dim)
    checker = getattr(runner_module(module, kind, getattr(inf, "method", None) or DEFAULT_METHODS[kind]),
                      func.replace("run", "check", 1))
    checker(dict(getattr(inf, "settings", None) or {}), n_dim)


#: method -> "module:function" of a check of its settings, ``(settings, n_dim)``, that imports
#: neither the method's library nor JAX (:func:`check_inference_first`): their names and the values
#: that the config and the number of free parameters tell; what needs the library (a dummy sampler
#: or scipy's trial of the settings, nautilus's ``neural_network_kwargs``) is left to :func:`check_inference`.
FIRST_CHECKS: dict[str, str] = {"nautilus": "tinylens.inference.nautilus_settings:check_first",
                                 "dynesty": "tinylens.inference.dynesty_settings:check_first",
                                 "lbfgs": "tinylens.inference.optimizer_settings:check_lbfgs",
                                 "differential_evolution": "tinylens.inference.optimizer_settings:check_de_first"}


def check_inference_first(config) -> None:
    """What :func:`check_inference` refuses that the config alone tells, without the method's
    library (nautilus imports scikit-learn, dynesty's and the optimisers' runners JAX: seconds) or
    the data: an unknown inference type or method, a model with no free parameter and, for a method
    of :data:`FIRST_CHECKS`, a setting it does not have or a value the settings' rules refuse,
    including those that depend on the number of free parameters (dynesty's ``nlive`` of at least
    2 n_dim + 1, ``periodic``, ``ncdim``; nautilus's ``n_live`` above n_dim; differential evolution's
    ``popsize`` cap), which is counted from ``model_components`` as the built problem's is
    (:func:`_n_free`); the same ConfigError. A fit runs it once the config is read, so that such a
    mistake is said before JAX and the data are loaded."""
    with _named_as_written(config):
        _check_inference_first(config)


def _check_inference_first(config) -> None:
    """:func:`check_inference_first`'s checks, their keys named as :func:`check_inference` names them."""
    inf = config.inference
    kind = getattr(inf, "type", None) or "sampler"
    _resolve(kind, getattr(inf, "method", None))
    n_dim = _n_free(config)
    _check_some_free(inf, kind, n_dim)
    first = FIRST_CHECKS.get(getattr(inf, "method", None) or DEFAULT_METHODS[kind])
    if first is not None:
        module, func = first.split(":")
        getattr(importlib.import_module(module), func)(dict(getattr(inf, "settings", None) or {}), n_dim)


def run_inference(
    problem, *, progress: bool = True, checkpoint_dir: str | Path | None = None
) -> InferenceResult:
    """Run the search that ``problem.config.inference`` describes.

    ``checkpoint_dir``: where samplers keep their resumable state (``None``: no checkpoints).
    Unknown types, methods or settings raise :class:`~tinylens.errors.ConfigError`.
    """
    module, runner, settings, pipeline = search_of(problem)
    if pipeline is not None:
        from tinylens.pipeline import run_pipeline

        return run_pipeline(problem, runner, pipeline, progress=progress, checkpoint_dir=checkpoint_dir,
                            sampler_settings=settings, settings_for_run=getattr(module, "settings_for_run", None))
    return runner(problem, settings, progress=progress, checkpoint_dir=checkpoint_dir)


def search_of(problem) -> tuple[Any, Any, dict[str, Any], Any]:
    """The search that ``problem.config.inference`` describes: the runner's module, the runner,
    its settings and the pipeline's settings (None where a sampler runs without the pipeline, or
    an optimiser runs)."""
    inf = problem.config.inference
    kind = getattr(inf, "type", None) or "sampler"
    module_name, func = _resolve(kind, getattr(inf, "method", None)).split(":")
    module = runner_module(module_name, kind, getattr(inf, "method", None) or DEFAULT_METHODS[kind])
    pipeline = getattr(problem.config, "pipeline", None)
    staged = kind == "sampler" and pipeline is not None and pipeline.enabled
    return module, getattr(module, func), dict(getattr(inf, "settings", None) or {}), pipeline if staged else None


def sampler_method(problem) -> str:
    """The sampler ``problem``'s config names (``inference.method``), or the default sampler's
    where it names none: whose checkpoint and cap a fit of it keeps."""
    return getattr(problem.config.inference, "method", None) or DEFAULT_METHODS["sampler"]


def resumed_checkpoints(problem, folder: Path, look_only: bool = False) -> list[str]:
    """The checkpoint files in ``folder`` that :func:`run_inference` of ``problem`` there would
    resume, by their fingerprints: the pipeline's state (stages 1-3, or those done, and the box) and the
    sampler's checkpoint (of that box). The others it replaces. An OSError where the sampler's
    checkpoint would be resumed but its fingerprint cannot be read: whose it is cannot be told
    (the fit does not resume it, and says so). A pipeline state of this fit's that is damaged is
    deleted with a CheckpointWarning, as the fit does; ``look_only``: left as it is, unsaid."""
    from tinylens import filenames
    from tinylens.inference.common import resumable, resumes, unreadable_fingerprint

    module, runner, settings, pipeline = search_of(problem)
    if not hasattr(module, "checkpoint_stamp"):  # an optimiser keeps no checkpoint
        return []
    name = filenames.CHECKPOINTS[sampler_method(problem)]
    kept = []
    if pipeline is not None:
        from tinylens.pipeline.run import resumed_sampling, stages_partly_done

        sampling = resumed_sampling(problem, runner, pipeline, folder, settings, getattr(module, "settings_for_run", None),
                                    look_only=look_only)
        if sampling is None:  # stages 1-3 done again, or taken up where an earlier fit stopped in them
            return [filenames.PIPELINE_STATE] if stages_partly_done(problem, runner, pipeline, folder, settings) else []
        kept.append(filenames.PIPELINE_STATE)
        problem, settings = sampling
    path = Path(folder) / name
    unread = unreadable_fingerprint(path) if resumes(settings) and path.exists() else ""
    if unread:
        raise OSError(f"the fingerprint of the checkpoint {path} could not be read ({unread})")
    if resumable(path, module.checkpoint_stamp(problem, settings), resumes(settings)):
        kept.append(name)
    return kept


__all__ = ["InferenceResult", "METHODS", "check_inference", "check_inference_first", "resumed_checkpoints", "run_inference", "search_of"]
