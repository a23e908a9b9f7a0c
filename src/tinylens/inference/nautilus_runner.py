"""Nested sampling with nautilus (the paper's sampler), batched and resumable.

Settings (``config.inference.settings``), TinyLensGpu's names first:

* ``nlive`` (``n_live``): live points, default 300 as in the paper (sec. 4.1);
* ``batch_size`` (``n_batch``): likelihood evaluations per batch, default 256. Every batch is
  one ``vmap``-ed call of the likelihood; 256 keeps a CPU busy and the per-call overhead
  small, while staying close to ``nlive`` so bounds are refreshed often (on a GPU, 512-2048).
  ``n_batch`` and ``n_live`` are at most :data:`~tinylens.inference.common.MAX_BATCH` (2^20);
* ``resume`` (default true): continue from ``checkpoint.hdf5`` in the output folder when it
  belongs to the same data, priors and settings (false: start again, and the pipeline's
  stages with it);
* ``seed`` (default 0, reproducible), ``verbose`` (nautilus's own table, default false; where
  stdout is not a terminal, its status line at most every 30 s, not after every batch);
* ``checkpoint_every`` (seconds, default 60): how often ``checkpoint.hdf5`` is written. nautilus
  rewrites its whole file after every batch, which on a CPU was a tenth of the sampling time;
  here each write goes to a temporary file that then replaces the checkpoint (a job killed while
  writing leaves the previous one whole), at most this often, and once more when the run ends.
  0 writes whenever nautilus would;
* any other keyword of ``nautilus.Sampler`` (``n_update``, ``n_networks``, ...) or of
  ``Sampler.run`` (``f_live``, ``n_eff``, ``n_like_max``, ``discard_exploration``,
  ``timeout``, ...).
"""

from __future__ import annotations

import inspect
import io
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from nautilus import Sampler
from sklearn.neural_network import MLPRegressor

from tinylens import filenames
from tinylens.config.schema import show
from tinylens.errors import (CheckpointWarning, ConfigError, ConfigTypeError, ConfigValueError, outside_stacklevel,
                             priors_and_data)
from tinylens.inference import InferenceResult
from tinylens.inference.common import (
    MAX_RECORDED_CALLS,
    NO_FINITE_DRAWS,
    FiniteWatch,
    KeptInterrupt,
    SamplingClock,
    _is_whole,
    boolean_read,
    check_settings,
    fingerprint,
    fingerprint_parts,
    h5_system_error,
    keyword_names,
    number_error,
    others_to,
    open_checkpoint,
    prepare_checkpoint,
    recorded_count,
    recorded_seconds,
    split,
    try_settings,
)
from tinylens.inference.nautilus_settings import ALIASES, DEFAULTS, OWN_KEYS, RESERVED, check_dimension  # noqa: F401 (also imported from here)
from tinylens.inference.progress import PLAIN_EVERY_S, LiveStatus, PlainLines, announce_resumed, redraws
from tinylens.atomic import write_atomic

SAMPLER_KEYS = keyword_names(Sampler.__init__, exclude=RESERVED)
RUN_KEYS = keyword_names(Sampler.run)
#: Which of Sampler (0) and Sampler.run (1) takes a setting of neither's names, where its signature
#: takes ``**kwargs``; None where neither does (such a setting is refused).
OTHERS_TO = others_to(Sampler.__init__, Sampler.run)
#: The checkpoint's attribute holding the seconds of sampling its state took (all runs).
SAMPLING_TIME_ATTR = "tinylens_sampling_time_s"
#: The checkpoint's attribute holding the ``f_live`` its exploration ended at (once it has).
F_LIVE_ATTR = "tinylens_f_live"
#: The checkpoint's attribute holding, as JSON, the parts of its fingerprint (:func:`checkpoint_parts`),
#: so that a fit that does not resume it can say what differs (:func:`recorded_parts`).
PARTS_ATTR = "tinylens_parts"
#: Seconds between two computations of the status line's statistics (f_live sorts every point).
STATS_EVERY_S = 1.0


def _settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Canonical names, defaults filled in, split into Sampler, run and tinylens's own keywords."""
    canon = {ALIASES.get(k, k): v for k, v in settings.items()}
    check_settings("nautilus", settings, SAMPLER_KEYS | RUN_KEYS | OWN_KEYS | set(ALIASES), ALIASES,
                   any_name=OTHERS_TO is not None)
    merged = {**DEFAULTS, **canon}
    return tuple(split(merged, SAMPLER_KEYS, RUN_KEYS, OWN_KEYS, rest=OTHERS_TO))  # type: ignore[return-value]


class CheckpointedSampler(Sampler):
    """nautilus's sampler with a checkpoint that cannot be left half-written, written less often.

    nautilus deletes and rewrites ``checkpoint.hdf5`` after every batch (and updates it in place
    in between): a job killed during a write leaves a file that cannot be read, and on the demo
    the writes took 10.6 s of 88 s of sampling. Here every write is a whole file written under a
    temporary name that then replaces the checkpoint, made at most every ``checkpoint_every``
    seconds, at the points where nautilus writes (its state is whole there). :meth:`flush`
    writes the last state when a run returns. A stopped job loses at most ``checkpoint_every``
    seconds of sampling; the samples are the same as nautilus's own, written or not.

    Each checkpoint also records, as the file attribute :data:`SAMPLING_TIME_ATTR`, the seconds
    of sampling that made its state (``clock``: this run's and the earlier runs' it resumed), so
    that a resumed fit reports the time of all runs; and, once explored, the ``f_live`` its
    exploration ended at (:data:`F_LIVE_ATTR`), which a later ``f_live`` no longer changes.
    """

    checkpoint_every: float = DEFAULTS["checkpoint_every"]
    clock: SamplingClock | None = None  # set when the run starts
    #: The ``f_live`` the exploration ends (ended) at, recorded in the checkpoint once it has
    #: (:data:`F_LIVE_ATTR`; None: not known, a checkpoint of an older tinylens).
    explored_f_live: float | None = None
    #: The parts of the checkpoint's fingerprint (:func:`checkpoint_parts`), recorded with it
    #: (:data:`PARTS_ATTR`; None: set by no run, not recorded).
    parts: dict[str, str] | None = None
    _written_at: float = -math.inf
    _unsaved: bool = False
    #: log Z, N_eff (and f_live while exploring) of the state after the last batch, for the status
    #: line, which is drawn from the likelihood: there, in the middle of a batch, nautilus's
    #: points and weights do not add up, and its statistics fail (the line showed only the calls).
    statistics: dict[str, Any] = {}
    _stats_at: float = -math.inf
    #: Seconds between two of ``verbose``'s status lines where stdout does not redraw a line.
    plain_every_s: float = PLAIN_EVERY_S
    _lines: PlainLines | None = None

    def print_status(self, status="", header=False, end="\n"):
        """nautilus's ``verbose`` table. Its status line, redrawn after every batch with a carriage
        return, is a line of its own at most every :attr:`plain_every_s` seconds where stdout does
        not redraw (a SLURM log file), instead of thousands of them run together on one line."""
        if end == "\r" and not redraws(sys.stdout):
            if self._lines is None:
                self._lines = PlainLines(self.plain_every_s, first=True)
            if not self._lines.due():
                return
            end = "\n"
        super().print_status(status, header, end)

    def add_samples(self, *args, **kwargs):
        """nautilus's batch, then its statistics (at most every :data:`STATS_EVERY_S` seconds)."""
        n_update = super().add_samples(*args, **kwargs)
        if time.monotonic() - self._stats_at >= STATS_EVERY_S:
            self.take_statistics()
        return n_update

    def take_statistics(self) -> None:
        """Record :attr:`statistics` of the state now (whole: between two batches); the status
        line never stops a run, so where they fail the last ones stay."""
        try:
            self.statistics = _stats(self)
        except Exception:  # noqa: BLE001
            pass
        self._stats_at = time.monotonic()

    def write(self, filepath, overwrite=False):  # noqa: ARG002 (the file is always replaced)
        self._save(filepath, force=False)

    def write_shell_update(self, filepath, shell):  # noqa: ARG002 (the whole state is written)
        self._save(filepath, force=False)

    def flush(self) -> None:
        """Write the state not yet in the checkpoint (after a run returns)."""
        if self._unsaved and self.filepath is not None:
            self._save(self.filepath, force=True)

    def _save(self, filepath, *, force: bool) -> None:
        if not force and time.monotonic() - self._written_at < self.checkpoint_every:
            self._unsaved = True
            return
        try:
            write_atomic(filepath, self._write_whole)
        except (RuntimeError, OSError) as exc:  # a full disk is h5py's RuntimeError: a fit says it as an OSError's
            error = h5_system_error(exc, filepath)
            if error is None:
                raise
            raise error from exc
        self._written_at = time.monotonic()  # after the write: a slow disk spaces the writes out
        self._unsaved = False

    def _write_whole(self, path: Path) -> None:
        """nautilus's whole state, then the sampling time behind it, into ``path``."""
        Sampler.write(self, path, overwrite=True)
        with h5py.File(path, "r+") as handle:
            handle.attrs[SAMPLING_TIME_ATTR] = self.clock.seconds() if self.clock is not None else 0.0
            if self.explored and self.explored_f_live is not None:
                handle.attrs[F_LIVE_ATTR] = self.explored_f_live
            if self.parts is not None:
                handle.attrs[PARTS_ATTR] = json.dumps(self.parts, sort_keys=True)


def sampling_time_in(path: Path | None) -> float:
    """The seconds of sampling recorded in the checkpoint ``path`` (0 when none is, or more than
    :data:`~tinylens.inference.common.MAX_RECORDED_SECONDS`: :func:`~tinylens.inference.common.recorded_seconds`)."""
    try:
        with h5py.File(path, "r") as handle:
            value = handle.attrs.get(SAMPLING_TIME_ATTR, 0.0)
    except (OSError, TypeError, ValueError):
        return 0.0
    return recorded_seconds(value)


def recorded_parts(path: Path | None) -> dict[str, Any] | None:
    """The parts of the fingerprint recorded in the checkpoint ``path`` (:data:`PARTS_ATTR`);
    None where none are (written by an older tinylens) or they cannot be read."""
    try:
        with h5py.File(path, "r") as handle:
            value = json.loads(handle.attrs[PARTS_ATTR])
    except (OSError, KeyError, TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def explored_f_live_in(path: Path | None) -> float | None:
    """The ``f_live`` recorded in the checkpoint ``path`` as the one its exploration ended at
    (None where none is: not explored, or written by an older tinylens)."""
    try:
        with h5py.File(path, "r") as handle:
            value = float(handle.attrs[F_LIVE_ATTR])
    except (OSError, KeyError, TypeError, ValueError):
        return None
    return value if 0 < value < 1 else None


def _network_error(name: str, value: Any) -> type[ConfigError]:
    """The class of the error for the MLPRegressor setting ``name``'s ``value`` that scikit-learn
    refuses: a ConfigValueError where one of its constraints on ``name`` takes values of that kind
    (a number, for a number in a range: ``alpha: -1``; a text, for one of some texts:
    ``activation: relux``), else a ConfigTypeError (``alpha: x``, ``shuffle: 3``), as
    :func:`~tinylens.inference.common.check_settings` tells them apart; a ConfigValueError where the
    constraints cannot be read (they are scikit-learn's private ones: another version may lack them,
    or hold rule objects of other shapes), never an error of its own."""
    try:
        return ConfigValueError if _a_constraint_takes_the_kind_of(name, value) else ConfigTypeError
    except Exception:  # noqa: BLE001 - any failure reading scikit-learn's private rules: the class of a wrong value
        return ConfigValueError


def _a_constraint_takes_the_kind_of(name: str, value: Any) -> bool:
    """Whether one of scikit-learn's (private) constraints on MLPRegressor's ``name`` takes values of
    ``value``'s kind (:func:`_network_error`); any error where they are not as this reads them."""
    from sklearn.utils._param_validation import Interval, Options, make_constraint

    constraints = [make_constraint(c) for c in MLPRegressor._parameter_constraints[name]]
    constraints += [inner for c in constraints for inner in getattr(c, "_constraints", [])]  # random_state's, verbose's
    number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    for constraint in constraints:
        if isinstance(constraint, Interval):
            right_kind = number
        elif isinstance(constraint, Options):
            right_kind = isinstance(value, constraint.type) and (constraint.type is bool or not isinstance(value, bool))
        else:
            try:
                right_kind = bool(constraint.is_satisfied_by(value))
            except Exception:  # a constraint of a later scikit-learn that fails on this value
                right_kind = False
        if right_kind:
            return True
    return False


def _check_network(value: Any) -> None:
    """``neural_network_kwargs``: MLPRegressor settings that scikit-learn accepts and that a
    checkpoint can store (nautilus writes them as HDF5 attributes). A value of the wrong kind (not
    a mapping, ``alpha: x``, one the checkpoint cannot store) is a ConfigTypeError, a wrong value
    (an unknown name, ``alpha: -1``, ``hidden_layer_sizes: [0]``) a ConfigValueError."""
    where = "inference.settings.neural_network_kwargs"
    if not isinstance(value, Mapping):
        raise ConfigTypeError(
            f"{where}: must be a mapping of scikit-learn MLPRegressor settings for nautilus, got {show(value)}"
            f"{boolean_read(value)}."
        )
    allowed = keyword_names(MLPRegressor.__init__)
    for name, v in value.items():
        if name not in allowed and others_to(MLPRegressor.__init__) is None:
            raise ConfigValueError(
                f"{where}.{name}: not a setting of MLPRegressor (nautilus's networks). "
                f"Allowed: {', '.join(sorted(allowed))}."
            )
        try:
            validate = getattr(MLPRegressor(**{name: v}), "_validate_params", None)  # scikit-learn >= 1.2
            if validate is not None:
                validate()
        except (TypeError, ValueError) as err:
            raise _network_error(name, v)(f"{where}.{name}: {str(err).rstrip('.')} for nautilus.") from None
        try:
            with h5py.File(io.BytesIO(), "w") as f:  # in memory
                f.attrs[name] = v
        except (TypeError, ValueError):
            raise ConfigTypeError(f"{where}.{name}: nautilus cannot store {show(v)} in its checkpoint; "
                                  "use a number, a string or a list of numbers.") from None
        sizes = v if isinstance(v, (list, tuple)) else [v]
        if name == "hidden_layer_sizes" and not all(_is_whole(n) and n >= 1 for n in sizes):
            raise number_error(v, lists=True)(f"{where}.{name}: must be a whole number >= 1 or a list of them "
                                              f"for nautilus, got {show(v)}.")


def _dummy_sampler(n_dim: int) -> Callable[[dict[str, Any]], Sampler]:
    """``settings -> Sampler`` on a dummy problem of ``n_dim`` parameters: no likelihood calls, no file."""

    def build(settings: dict[str, Any]) -> Sampler:
        init, _, _ = _settings(settings)
        return Sampler(lambda u: u, lambda x: np.zeros(len(x)), n_dim=n_dim, vectorized=True, pass_dict=False, **init)

    return build


def check(settings: dict[str, Any], n_dim: int) -> None:
    """Raise ConfigError for a setting nautilus does not have or a value it would fail on, for a
    model of ``n_dim`` free parameters, without running anything."""
    init, _, _ = _settings(settings)
    check_dimension(settings, init, n_dim)
    if "neural_network_kwargs" in init:
        _check_network(init["neural_network_kwargs"])
    try_settings("nautilus", settings, _dummy_sampler(n_dim))


def impossible_where_not_finite(loglike: Callable[[np.ndarray], Any],
                                 watch: FiniteWatch | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """``loglike`` with -inf for each value that is not finite (NaN, +inf): nautilus fails on a
    NaN, and a likelihood that gives one must not stop the run (today's turns NaN into -inf itself).
    ``watch``, if given, sees each batch's values (:class:`FiniteWatch`)."""

    def finite_or_minus_inf(theta: np.ndarray) -> np.ndarray:
        values = np.asarray(loglike(theta))
        values = np.where(np.isfinite(values), values, -np.inf)
        if watch is not None:
            watch.see(values)
        return values

    return finite_or_minus_inf


def no_finite_point(calls: int) -> str:
    """Why nautilus cannot sample when log L is not finite at any of the ``calls`` points it drew."""
    return (f"inference (nautilus): log L is not finite at any of the {calls:,} points nautilus drew from the priors, "
            f"so it has nothing to sample from (it would draw from them for ever). Check {priors_and_data()}")


def _stats(sampler: Sampler) -> dict[str, Any]:
    """log Z and N_eff; while exploring, also f_live (the run explores until it is below ``f_live``)."""
    stats: dict[str, Any] = {"log Z": sampler.log_z, "N_eff": int(sampler.n_eff)}
    if sampler.n_like and not sampler.explored:
        stats["f_live"] = sampler.f_live
    return stats


def check_recorded_calls(n_like: Any) -> None:
    """Raise ValueError where ``n_like``, the likelihood calls a restored checkpoint records (nautilus
    counts its ``n_like_max`` with it, and the result's ``n_likelihood_evals`` is it), is not a whole
    number from 0 to :data:`~tinylens.inference.common.MAX_RECORDED_CALLS` (an edited or damaged
    file): the pipeline state storing it would be refused when the fit is next loaded."""
    if recorded_count(n_like) is None:
        raise ValueError(f"its likelihood-call count n_like is {n_like}, not a whole number from 0 to "
                         f"{int(MAX_RECORDED_CALLS):,}")


def apply_discard_exploration(sampler: Sampler, run_kw: dict[str, Any]) -> None:
    """Give a sampler resumed after its exploration the run's ``discard_exploration`` (default
    false). nautilus sets it only when the exploration ends, within a run, and otherwise keeps the
    checkpoint's: a fit resumed after it (capped, interrupted or kept) left the setting unused."""
    wanted = bool(run_kw.get("discard_exploration", False))
    if sampler.explored and sampler.discard_exploration != wanted:
        sampler.discard_exploration = wanted  # nautilus's setter: the shells' weights follow


_RUN_DEFAULTS = {name: p.default for name, p in inspect.signature(Sampler.run).parameters.items()}


def samples_nothing(problem, settings: dict[str, Any], path: Path) -> bool:
    """Whether a run of ``problem`` with ``settings`` that resumes the checkpoint ``path`` (its
    fingerprint this run's) finds its sampling already done, so that nautilus samples and writes
    nothing: the exploration ended and every shell holds ``n_shell`` points and the posterior
    ``n_eff`` effective samples (``discard_exploration`` as the run sets it, :func:`apply_discard_exploration`).
    The checkpoint is only read; False where it cannot be (the run's own reading says why)."""
    try:
        init, run_kw, _ = _settings(settings)
        sampler = Sampler(problem.prior_transform, problem.log_likelihood, n_dim=problem.ndim, vectorized=True,
                          pass_dict=False, filepath=path, **{**init, "resume": True})
        if not sampler.explored:
            return False
        apply_discard_exploration(sampler, run_kw)
        n_shell = run_kw.get("n_shell", _RUN_DEFAULTS["n_shell"])
        n_eff = run_kw.get("n_eff", _RUN_DEFAULTS["n_eff"])
        return bool(np.all(sampler.shell_n >= n_shell) and sampler.n_eff >= n_eff)
    except Exception:  # noqa: BLE001 - unreadable here: not known to be done
        return False


def apply_f_live(sampler: CheckpointedSampler, run_kw: dict[str, Any], path: Path | None,
                 where: str = "inference.settings") -> dict[str, Any]:
    """``run_kw`` with the ``f_live`` that shapes ``sampler``'s exploration. nautilus reads
    ``f_live`` only while it explores, so a sampler resumed after its exploration ignores the
    run's: there it is the one recorded in the checkpoint ``path`` (where one is), with a
    CheckpointWarning when the run asks for another, and the run's with a CheckpointWarning
    that it may not apply where none is (a checkpoint of an older tinylens); otherwise the
    run's, which the checkpoint records once the exploration ends. ``where``: the settings as the
    warnings name them (:func:`settings_named`)."""
    wanted = float(run_kw.get("f_live", _RUN_DEFAULTS["f_live"]))
    if not sampler.explored:
        sampler.explored_f_live = wanted
        return run_kw
    used = sampler.explored_f_live = explored_f_live_in(path)
    if used is None:
        warnings.warn(f"The checkpoint {path} had already ended its exploration but does not record the f_live it "
                      f"ended at (it was written by a tinylens older than that record), so whether f_live {wanted:g} "
                      f"in {where} applies cannot be told: nautilus reads it only while exploring. The fit "
                      f"goes on from it and its result names f_live {wanted:g}, right only if the checkpoint was "
                      "explored to it. If f_live was changed since, delete the checkpoint to explore again "
                      "(tinylens fit --fresh, or resume: false).", CheckpointWarning, stacklevel=outside_stacklevel())
        return run_kw
    if used == wanted:
        return run_kw
    warnings.warn(f"The checkpoint {path} had already ended its exploration at f_live {used:g}, so f_live "
                  f"{wanted:g} in {where} no longer applies (nautilus reads it only while exploring): "
                  f"the fit goes on from it, and its result names f_live {used:g}. To explore to f_live "
                  f"{wanted:g}, start the fit again (tinylens fit --fresh, or resume: false).",
                  CheckpointWarning, stacklevel=outside_stacklevel())
    return {**run_kw, "f_live": used}


#: Sampler settings that shape the bounds nautilus builds. A resumed sampler reads its state from
#: the checkpoint but takes these from its arguments, so a changed value would shape only the
#: bounds built after the resume: they are part of the checkpoint's fingerprint.
BOUND_KEYS = ("n_update", "n_like_new_bound", "enlarge_per_dim", "n_points_min", "split_threshold", "periodic",
              "n_networks", "neural_network_kwargs")
_SAMPLER_DEFAULTS = {name: p.default for name, p in inspect.signature(Sampler.__init__).parameters.items()}


def bound_settings(init: dict[str, Any], n_dim: int) -> dict[str, Any]:
    """The :data:`BOUND_KEYS` as nautilus uses them for ``n_dim`` parameters with the Sampler
    keywords ``init``: its defaults filled in (``n_update``: ``n_live``, ``n_like_new_bound``:
    10 ``n_live``, ``n_points_min``: ``n_dim`` + 50), so that a value given as its default is the same."""
    value = {k: init.get(k, _SAMPLER_DEFAULTS[k]) for k in BOUND_KEYS}
    n_live = init.get("n_live", _SAMPLER_DEFAULTS["n_live"])
    return {
        "n_update": n_live if value["n_update"] is None else int(value["n_update"]),
        "n_like_new_bound": 10 * n_live if value["n_like_new_bound"] is None else int(value["n_like_new_bound"]),
        "enlarge_per_dim": float(value["enlarge_per_dim"]),
        "n_points_min": n_dim + 50 if value["n_points_min"] is None else int(value["n_points_min"]),
        "split_threshold": float(value["split_threshold"]),
        "periodic": sorted(int(i) for i in value["periodic"] or []),
        "n_networks": int(value["n_networks"]),
        "neural_network_kwargs": dict(sorted(dict(value["neural_network_kwargs"] or {}).items())),
    }


def settings_named(config: Any) -> str:
    """Where ``config`` gives the sampler's settings, in the words of the file: ``inference.settings``,
    or ``the sampling section`` where it writes TinyLensGpu's older section
    (:func:`~tinylens.config.loader.settings_section`)."""
    from tinylens.config.loader import settings_section

    section = settings_section(config)
    return section if section == "inference.settings" else f"the {section} section"


def checkpoint_stamp(problem, settings: dict[str, Any]) -> str:
    """The fingerprint of the checkpoint that :func:`run` keeps for ``problem`` with ``settings``:
    ``n_live``, ``n_batch``, ``seed`` and the :func:`bound_settings` that differ from nautilus's
    defaults (a checkpoint of a config that leaves them out keeps its fingerprint). Not in it:
    ``Sampler.run``'s settings (a stopped fit may raise ``n_eff``, ``n_like_max`` or ``timeout``
    and go on; :func:`apply_discard_exploration`, :func:`apply_f_live`), ``resume`` and ``checkpoint_every``."""
    return fingerprint(problem, **_stamped_settings(problem, settings))


def checkpoint_parts(problem, settings: dict[str, Any]) -> dict[str, str]:
    """:func:`checkpoint_stamp`'s parts (:func:`~tinylens.inference.common.fingerprint_parts`),
    which the checkpoint records (:data:`PARTS_ATTR`)."""
    return fingerprint_parts(problem, **_stamped_settings(problem, settings))


def _stamped_settings(problem, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings in :func:`checkpoint_stamp`."""
    init = _settings(settings)[0]
    bounds = bound_settings(init, problem.ndim)
    default = bound_settings({"n_live": init["n_live"]}, problem.ndim)
    changed = {k: v for k, v in bounds.items() if v != default[k]}
    return {"n_live": init["n_live"], "n_batch": init["n_batch"], "seed": init.get("seed"), **changed}


def run(
    problem,
    settings: dict[str, Any],
    *,
    progress: bool = True,
    checkpoint_dir: str | Path | None = None,
) -> InferenceResult:
    """Sample ``problem``'s posterior with nautilus; weighted samples and evidence."""
    check(settings, problem.ndim)
    init, run_kw, own = _settings(settings)
    filepath = None
    resumed = False
    if checkpoint_dir is not None:
        filepath = Path(checkpoint_dir) / filenames.CHECKPOINTS["nautilus"]
        resumed = prepare_checkpoint(filepath, checkpoint_stamp(problem, settings), init["resume"])
    status = LiveStatus("nautilus", enabled=progress)
    interrupt = KeptInterrupt()  # Ctrl-C during a network's training is caught by scikit-learn
    watch = FiniteWatch(NO_FINITE_DRAWS * init["n_live"], no_finite_point)

    def build(resume: bool) -> CheckpointedSampler:
        sampler = CheckpointedSampler(
            problem.prior_transform,
            impossible_where_not_finite(interrupt.guard(status.wrap(problem.log_likelihood)), watch),
            n_dim=problem.ndim,
            vectorized=True,
            pass_dict=False,
            filepath=filepath,
            **init,
        )
        if resume:  # a count no fit made is refused as the unreadable file it is (open_checkpoint)
            check_recorded_calls(sampler.n_like)
        return sampler

    sampler, resumed = open_checkpoint(build, filepath, resumed)
    if resumed:  # the calls and points of the sampler restored from its checkpoint
        watch.calls = int(sampler.n_like)
        watch.seen = any(np.any(np.isfinite(log_l)) for log_l in sampler.log_l)
    sampler.checkpoint_every = float(own["checkpoint_every"])
    sampler.parts = checkpoint_parts(problem, settings) if filepath is not None else None
    apply_discard_exploration(sampler, run_kw)
    run_kw = apply_f_live(sampler, run_kw, filepath, settings_named(getattr(problem, "config", None)))
    sampler.take_statistics()
    status.stats = lambda: sampler.statistics
    n_like_before = sampler.n_like
    status.calls_before = int(n_like_before)  # the status line counts the fit's calls, as its result does
    start = time.perf_counter()
    sampler.clock = SamplingClock(sampling_time_in(filepath) if resumed else 0.0)
    if resumed:
        announce_resumed(progress, "nautilus", filepath, n_like_before, sampler.clock.before)
    with interrupt, status:
        converged = sampler.run(**run_kw)
        interrupt.check()
        sampler.take_statistics()  # the last line's
        sampler.flush()
    if not watch.seen:  # stopped by n_like_max or its timeout before the limit
        raise ConfigValueError(no_finite_point(watch.calls))
    wall = time.perf_counter() - start
    points, log_w, log_l = sampler.posterior()
    return InferenceResult(
        method="nautilus",
        param_names=problem.param_names,
        samples=np.asarray(points),
        log_weights=np.asarray(log_w),
        log_likelihood=np.asarray(log_l),
        log_evidence=float(sampler.log_z),
        n_likelihood_evals=int(sampler.n_like),
        wall_time_s=wall + sampler.clock.before,
        converged=bool(converged),
        info={
            "n_eff": float(sampler.n_eff),
            "n_like_this_run": int(sampler.n_like - n_like_before),
            "resumed": resumed,
            "earlier_time_s": sampler.clock.before,
            "likelihood_time_s": status.likelihood_time_s,
            "checkpoint": str(filepath) if filepath else None,
            "settings": {**init, **run_kw, **own},
        },
    )
