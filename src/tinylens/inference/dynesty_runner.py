"""Static nested sampling with dynesty, with batched likelihood calls and checkpoints.

dynesty asks for one point at a time, so tinylens hands it a *batching pool*: ``pool.map``
runs the ``queue_size`` proposals of one step in threads, and their likelihood calls are
gathered and evaluated together as one ``vmap``-ed batch whenever every running proposal is
waiting for a value. The physics is unchanged; only the calls are grouped.

Settings (``config.inference.settings``): ``nlive`` (default 300), ``batch_size``
(``queue_size``, default 64: proposals made in parallel with the same bound, at most
:data:`MAX_QUEUE`; ``nlive`` from 2 ``n_dim`` + 1 to 2^20, for ``n_dim`` free parameters), ``dlogz``
(default 0.1), ``bound`` (``multi``), ``sample`` (``rwalk``), ``seed`` (0), ``resume`` (true),
``checkpoint_every`` (seconds, 60), and any other keyword of ``dynesty.NestedSampler`` or of
``run_nested`` (``maxiter``, ``maxcall``, ``walks``, ...). ``save_evaluation_history`` (dynesty >= 3)
writes ``history_filename`` (default :data:`tinylens.filenames.DYNESTY_HISTORY`) into the output folder,
and a run resumed from its checkpoint goes on writing it (:func:`_resume_history`); these two may change
between a stopped run and its resume (:data:`OUTPUT_KEYS`). Each sampling
run of the pipeline (one more each time it widens the box) has a file of its own (:func:`settings_for_run`).

``maxcall`` and ``maxiter`` are budgets of the whole fit, as nautilus's ``n_like_max`` is: a run
resumed from its checkpoint gets what its earlier runs left (:func:`budget_left`), not a fresh one.
``maxcall`` counts the calls of dynesty's first live points too (dynesty's own leaves them out), as
``n_like_max`` counts nautilus's first points.
Where log L is finite nowhere, or at too few points for dynesty to begin, dynesty's draws of its
first live points stop at ``maxcall`` too, with an error that says why (:func:`first_live_points`),
where dynesty would go on to 1,000 draws of ``nlive``.

The result's ``n_likelihood_evals`` counts the likelihood calls really made, as nautilus's does
and as the status line shows them (:class:`CallCount`): every proposal's, including those still
in dynesty's queue when the run stops, up to ``queue_size`` proposals of many calls each (such as
``rwalk``'s ``walks``; nlive 60 and maxcall 2,000 made 3,955 calls with queue_size 64, 2,064 with 8; they are
evaluated in the batches of the proposals used). dynesty's own count, ``sampler.ncall``
(``info["dynesty_ncall"]``), which ``maxcall`` follows, leaves those out, and counts the ``rwalk`` steps
that fall outside the unit cube, which call nothing: the evaluation history holds the calls of the
proposals used, so it can have fewer rows, as ``n_likelihood_evals`` can be below ``dynesty_ncall``.

``info["stopped_by"]`` says what stopped a run other than ``dlogz`` (:func:`stop_reason`): ``maxcall``,
``maxiter`` or ``logl_max`` (the fit is not converged, and raising the limit continues it), or
``plateau``, where every live point has the same log L: dynesty's normal end, a converged fit.
"""

from __future__ import annotations

import os
import pickle
import re
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable

import dynesty
import h5py
import numpy as np
from dynesty.utils import LogLikelihood, compute_integrals
from scipy.special import logsumexp

from tinylens import filenames
from tinylens.inference import InferenceResult
from tinylens.errors import CheckpointWarning, ConfigValueError, counted, outside_stacklevel, priors_and_data
from tinylens.inference.common import (
    NO_FINITE_DRAWS,
    FiniteWatch,
    KeptInterrupt,
    SamplingClock,
    check_settings,
    fingerprint,
    fingerprint_parts,
    h5_system_error,
    keys_in_order,
    keyword_names,
    others_to,
    open_checkpoint,
    prepare_checkpoint,
    recorded_count,
    recorded_seconds,
    split,
    try_settings,
)
from tinylens.inference.dynesty_settings import (  # noqa: F401 (DEFAULTS, MAX_QUEUE: also read from here)
    ALIASES,
    DEFAULTS,
    INDEX_KEYS,
    MAX_QUEUE,
    OTHER_OWN_FILES,
    OWN_KEYS,
    RESERVED,
    _user_key,
    check_dimension,
    check_history_name,
    check_queue,
    history_path,
    is_other_own_file,
)
from tinylens.inference.progress import LiveStatus, announce_resumed
from tinylens.priors import prior_transform

#: dynesty's private wrapper of the likelihood (in its ``__all__`` in 2.x and 3.x); a release without it
#: makes :func:`_batcher_in` find none (``isinstance(x, ())`` is False), and its tracebacks per thread come back.
_function_wrapper = getattr(dynesty.dynesty, "_function_wrapper", ())

SAMPLER_KEYS = keyword_names(dynesty.NestedSampler.__new__, exclude=RESERVED | {"cls"})
RUN_KEYS = keyword_names(dynesty.NestedSampler.run_nested, exclude=RESERVED)
#: Which of NestedSampler (0) and run_nested (1) takes a setting of neither's names, where its
#: signature takes ``**kwargs``; None where neither does (such a setting is refused).
OTHERS_TO = others_to(dynesty.NestedSampler.__new__, dynesty.NestedSampler.run_nested)

#: Batched likelihoods by key, so a pickled checkpoint holds only the key.
_LIKELIHOODS: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
#: The running fits' batchers by key: unpickling one gives the one its pool uses (:func:`batcher_for`).
_BATCHERS: dict[str, "Batcher"] = {}


def sampling_before(sampler) -> float:
    """Seconds of sampling recorded in a restored sampler: its ``tinylens_clock``, pickled with
    it in the checkpoint (0 for a checkpoint written before tinylens recorded them, or of seconds
    that are none's: :func:`~tinylens.inference.common.recorded_seconds`)."""
    clock = getattr(sampler, "tinylens_clock", None)
    return recorded_seconds(clock.seconds()) if isinstance(clock, SamplingClock) else 0.0


class CallCount:
    """Likelihood calls made for a sampler's state: ``before`` (recorded in the checkpoint this
    run resumed) plus those ``status`` counts in this run. Pickled with the sampler in its
    checkpoint as their sum, so that a resumed fit counts the calls of all its runs."""

    def __init__(self, before: int = 0, status: LiveStatus | None = None) -> None:
        self.before = int(before)
        self.status = status

    def total(self) -> int:
        """The earlier runs' calls and this run's so far."""
        return self.before + (self.status.n_calls if self.status is not None else 0)

    def __getstate__(self) -> dict[str, int]:
        return {"calls": self.total()}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.before, self.status = int(state["calls"]), None


def calls_before(sampler) -> int:
    """Likelihood calls recorded in a restored sampler: its ``tinylens_calls``, pickled with it
    in the checkpoint; dynesty's own ``ncall`` for a checkpoint written before tinylens recorded
    them or of a count that is none's (:func:`~tinylens.inference.common.recorded_count`), and 0
    where that is none's too."""
    count = getattr(sampler, "tinylens_calls", None)
    recorded = recorded_count(count.total()) if isinstance(count, CallCount) else None
    if recorded is None:
        recorded = recorded_count(getattr(sampler, "ncall", None))
    return recorded or 0


class PriorTransform:
    """Picklable unit-cube transform for one point."""

    def __init__(self, priors) -> None:
        self.priors = tuple(priors)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return prior_transform(self.priors, u)


def batcher_for(key: str) -> Batcher:
    """The batcher registered for ``key`` by the running fit (a new one if none is): a sampler
    restored from its checkpoint calls the likelihood through the batcher that its pool waits on."""
    return _BATCHERS.get(key) or Batcher(key)


class FailedInBatch(BaseException):
    """Raised in the threads whose likelihood calls were in a batch that raised ``error``, but
    one (which raises ``error`` itself): :meth:`Batcher.run_tasks` raises ``error``, once."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"another likelihood call of its batch raised {error!r}")
        self.error = error


class Batcher:
    """Single-point likelihood that evaluates the calls of concurrent threads as one batch.

    Pickled as its key (:func:`batcher_for`): a restored sampler with a batcher of its own would
    never see the proposals its pool runs, and would evaluate every point alone."""

    def __init__(self, key: str) -> None:
        self.__setstate__({"key": key})

    def __reduce__(self) -> tuple:
        return batcher_for, (self.key,)

    def __setstate__(self, state: dict) -> None:
        self.key = state["key"]
        self._cv = threading.Condition()
        self._active = 0
        self._pending: list[list] = []

    def __call__(self, x: np.ndarray) -> float:
        slot = [np.asarray(x, dtype=float), None, None, False]  # x, value, error, done
        with self._cv:
            self._pending.append(slot)
            self._flush_if_ready()
            while not slot[3]:
                self._cv.wait()
        if slot[2] is not None:
            raise slot[2]
        return slot[1]

    def _flush_if_ready(self) -> None:
        """Evaluate the pending points once every running task waits (lock held)."""
        if not self._pending or len(self._pending) < self._active:
            return
        batch, self._pending = self._pending, []
        try:
            values = _LIKELIHOODS[self.key](np.stack([s[0] for s in batch]))
            for s, v in zip(batch, values):  # -inf as it is: dynesty draws again and counts the volume lost
                s[1] = float(v) if np.isfinite(v) else -np.inf
        except BaseException as err:  # the error to one waiting thread, a stand-in to the others
            batch[0][2] = err
            for s in batch[1:]:
                s[2] = FailedInBatch(err)
        for s in batch:
            s[3] = True
        self._cv.notify_all()

    def run_tasks(self, func: Callable, items: list, threads: ThreadPoolExecutor) -> list:
        """Run ``func`` on ``items`` in one thread each of ``threads`` (which has as many free),
        batching their likelihood calls; every task has ended when it returns, or raises the error
        of the first task that raised (its batch's, for a :class:`FailedInBatch`)."""
        if not items:
            return []
        with self._cv:
            self._active = len(items)

        def task(item):
            try:
                return func(item)
            finally:
                with self._cv:
                    self._active -= 1
                    self._flush_if_ready()

        futures = [threads.submit(task, item) for item in items]
        wait(futures)  # all of them, as the next group needs every thread free
        errors = [e for f in futures if (e := f.exception()) is not None]
        if errors:
            raise errors[0].error if isinstance(errors[0], FailedInBatch) else errors[0]
        return [f.result() for f in futures]


class BatchingPool:
    """The pool dynesty maps its proposals over (see module docstring): one set of ``size``
    (``queue_size``) threads for the whole run, started as they are first needed, which
    :meth:`close` stops."""

    def __init__(self, batcher: Batcher, size: int) -> None:
        self.batcher = batcher
        self.size = max(1, int(size))
        self._threads: ThreadPoolExecutor | None = None

    def map(self, func: Callable, iterable) -> list:
        """``func`` over ``iterable`` in order, at most :attr:`size` (``queue_size``) items at once, one
        thread each: dynesty maps its first ``nlive`` points too, and one thread for each of 40000 of them
        did not get through in 10 minutes (the system's limit on threads is tens of thousands)."""
        items = list(iterable)
        if isinstance(func, LogLikelihood):  # dynesty 3's draws of its first live points
            unwrap(func)
        func = _batcher_in(func) or func  # dynesty 2's: its LogLikelihood maps the wrapper itself
        if self._threads is None:
            self._threads = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="tinylens-dynesty")
        out: list = []
        for start in range(0, len(items), self.size):
            out += self.batcher.run_tasks(func, items[start : start + self.size], self._threads)
        return out

    def close(self) -> None:
        """Stop the threads, once their tasks have ended (the run's end, or its error)."""
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None


def _batcher_in(func: Callable) -> Batcher | None:
    """The :class:`Batcher` that ``func`` only calls, where it is dynesty's wrapper of one (None if not)."""
    if isinstance(func, _function_wrapper) and isinstance(func.func, Batcher) and not func.args and not func.kwargs:
        return func.func
    return None


def unwrap(loglikelihood: LogLikelihood) -> None:
    """Take dynesty's wrapper out of its ``loglikelihood`` where it only calls a :class:`Batcher`:
    it prints "Exception while calling loglikelihood function" and a traceback for any exception,
    so that the error of one batch (a ConfigError of the priors, a Ctrl-C) was printed once for every
    proposal thread that waited on it, though the run raises it once. The wrapper adds only a copy
    of the point, which the batcher does not change."""
    batcher = _batcher_in(loglikelihood.loglikelihood)
    if batcher is not None:
        loglikelihood.loglikelihood = batcher


def _settings(settings: dict[str, Any]) -> tuple[dict, dict, dict]:
    canon = {ALIASES.get(k, k): v for k, v in settings.items()}
    check_settings("dynesty", settings, SAMPLER_KEYS | RUN_KEYS | OWN_KEYS | set(ALIASES), ALIASES,
                   any_name=OTHERS_TO is not None)
    merged = {**DEFAULTS, **canon}
    for key in INDEX_KEYS:  # an empty list names no parameter, as null does; dynesty takes only null for that
        if isinstance(merged.get(key), (list, tuple)) and not merged[key]:
            merged[key] = None
    rest = None if OTHERS_TO is None else OTHERS_TO + 1  # after tinylens's own
    return tuple(split(merged, OWN_KEYS, SAMPLER_KEYS, RUN_KEYS, rest=rest))  # type: ignore[return-value]


class _ListPool:
    """A serial stand-in for :class:`BatchingPool` (for :func:`check`)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def map(self, func: Callable, iterable) -> list:
        return list(map(func, iterable))


def _dummy_sampler(n_dim: int) -> Callable[[dict[str, Any]], Any]:
    """``settings -> NestedSampler`` as :func:`run` builds it, on a dummy problem of ``n_dim``
    parameters: ``nlive`` calls of a constant likelihood, no file (the evaluation history is off)."""

    def build(settings: dict[str, Any]) -> Any:
        own, init, _ = _settings(settings)
        if "save_evaluation_history" in init:  # a setting of dynesty >= 3 only: off, when the user set it
            init = {**init, "save_evaluation_history": False}
        return dynesty.NestedSampler(
            lambda x: 0.0, lambda u: u, n_dim, pool=_ListPool(init["queue_size"]),
            use_pool={"prior_transform": False, "update_bound": False}, rstate=np.random.default_rng(own["seed"]),
            **init,
        )

    return build


def check(settings: dict[str, Any], n_dim: int) -> None:
    """Raise ConfigError for a setting dynesty does not have or a value it refuses, for a model
    of ``n_dim`` free parameters, without running anything: a ConfigValueError for a wrong value
    (``nlive`` under ``2 n_dim + 1``, ``ncdim: 9``), a ConfigTypeError for one of the wrong kind
    (``ncdim: x``, ``history_filename: 5``), as :func:`~tinylens.inference.common.check_settings` does."""
    _, init, _ = _settings(settings)
    check_dimension(settings, init, n_dim)
    check_history_name(init.get("history_filename"))
    try_settings("dynesty", settings, _dummy_sampler(n_dim))


def check_history_folder(settings: dict[str, Any], folder: str | Path) -> None:
    """Raise ConfigError when dynesty's evaluation history (``save_evaluation_history``) would be
    written over one of tinylens's own files in the output ``folder`` (:func:`_history_in`), so
    that a fit can refuse it before its pipeline's stages, not only when sampling starts."""
    _history_in(_settings(settings)[1], folder)


def history_file(settings: dict[str, Any], folder: str | Path) -> Path | None:
    """The file dynesty's evaluation history (``save_evaluation_history``) of a fit's first
    sampling run goes to with ``settings`` and the output ``folder``; None where it is off."""
    init = _settings(settings)[1]
    return _history_target(init, folder) if init.get("save_evaluation_history") else None


def settings_for_run(settings: dict[str, Any], run: int) -> dict[str, Any]:
    """``settings`` for sampling run ``run`` of a fit (1, then one more each time the pipeline
    widens the box and samples again): from the second run on, the evaluation history goes to a
    file of its own, ``<name>.run<run><suffix>`` (``dynesty_logl_history.run2.h5``), so that a run
    does not overwrite the evaluations of the box before it."""
    if run == 1 or not settings.get("save_evaluation_history"):
        return dict(settings)
    name = settings.get("history_filename") or filenames.DYNESTY_HISTORY
    return {**settings, "history_filename": filenames.run_name(name, run)}


def _history_in(init: dict[str, Any], folder: str | Path | None) -> dict[str, Any]:
    """``init`` with dynesty's evaluation history (``save_evaluation_history``) written into the
    output ``folder``: a relative ``history_filename`` (dynesty's default one too) is taken from
    there, not from the folder the fit was started from; an absolute one is kept. Raise
    ConfigError when the history would be one of tinylens's other files in ``folder``
    (:func:`_check_history_path`)."""
    if not init.get("save_evaluation_history") or folder is None:
        return init
    path = _history_target(init, folder)
    _check_history_path(init.get("history_filename"), path, Path(folder))
    return {**init, "history_filename": str(path)}


def _history_target(init: dict[str, Any], folder: str | Path) -> Path:
    """Where ``init``'s ``history_filename`` (dynesty's default name if none) is written for the
    output ``folder``: a relative name in it, an absolute one as it is."""
    name = history_path(init.get("history_filename") or filenames.DYNESTY_HISTORY)
    return name if name.is_absolute() else Path(folder) / name


def _check_history_path(name: Any, path: Path, folder: Path) -> None:
    """Raise ConfigError when the history file ``path`` (``history_filename`` ``name`` resolved
    against the output ``folder``) is one of tinylens's other files in ``folder``, which the
    history would overwrite: reached by a name the check of the name alone lets through (one
    that leaves the folder and comes back, ``../out/result.json``, an absolute path to it, a
    link), compared after resolving both, and ignoring case as :func:`~tinylens.inference.dynesty_settings.check_history_name` does."""
    resolved = path.resolve()
    if not is_other_own_file(resolved.name):
        return
    here, parent = folder.resolve(), resolved.parent
    if parent != here and not (parent.is_dir() and here.is_dir() and os.path.samefile(parent, here)):
        return
    raise ConfigValueError(
        f"inference.settings.history_filename: '{name}' is the file {resolved.name} that tinylens writes itself "
        f"in the output folder {folder} (its own files: {', '.join(OTHER_OWN_FILES)}); choose another name for dynesty's "
        f"history, or a path outside the output folder."
    )


def _history_rows(path: str) -> int:
    """The evaluations saved in the history file ``path`` (-1: no file, or not a history)."""
    try:
        with h5py.File(path, "r") as f:
            return len(f["evaluation_logl"])
    except (OSError, KeyError):
        return -1


def _empty_history(path: str) -> None:
    """Make the history file ``path`` that dynesty has just made hold no row: it makes room for
    its first 10,000 and cuts the file to what it saved only when it saves, so that a resumed run
    that made no call (already at its cap) left 10,000 rows of zeros."""
    with h5py.File(path, "r+") as f:
        for name in ("evaluation_u", "evaluation_v", "evaluation_logl"):
            f[name].resize(0, axis=0)


def _resume_history(loglikelihood, path: str, n_calls: int) -> None:
    """Switch the evaluation history of a sampler restored from its checkpoint back on (dynesty
    switches it off when it pickles one): the file ``path`` then goes on from the checkpoint's
    evaluations, and loses those made after it, as the sampler does. A file that no longer holds
    them (removed meanwhile, or another ``history_filename``) is started again with the evaluations
    the checkpoint had not saved. Where that leaves out some of the ``n_calls`` the checkpoint's
    runs made (the history was off for them, or saved in another file), a CheckpointWarning says so.
    h5py's error of a disk failing the history's writes is said as the write of an output naming
    ``path`` (:func:`~tinylens.inference.common.h5_system_error`): the failing disk's message, the
    checkpoint kept (:func:`~tinylens.inference.common.open_checkpoint`)."""
    loglikelihood.history_filename = path
    loglikelihood.save_evaluation_history = True
    if _history_rows(path) < loglikelihood.evaluation_history_counter:  # -1 for a missing file
        try:
            loglikelihood.history_init()
            _empty_history(path)
        except (RuntimeError, OSError) as exc:  # h5py's of a failing disk: the write of an output, not the checkpoint's
            error = h5_system_error(exc, path)
            if error is None:
                raise
            raise error from exc
    missing = n_calls - loglikelihood.evaluation_history_counter - len(loglikelihood.evaluation_history)
    if missing > 0:
        warnings.warn(f"dynesty's evaluation history {path} holds the likelihood calls of this fit from its resume "
                      f"on: the {missing:,} calls made before it are not in it (save_evaluation_history was off for "
                      "them, or their history was saved under another name or removed).",
                      CheckpointWarning, stacklevel=outside_stacklevel())


def _sampler(problem, pool: BatchingPool, init: dict, seed, checkpoint: Path | None, resume: bool):
    if init.get("save_evaluation_history") and init.get("history_filename"):
        # a history_filename in a folder (hist/calls.h5): dynesty creates the file, not its folder
        Path(init["history_filename"]).parent.mkdir(parents=True, exist_ok=True)
    if checkpoint is not None and resume:
        sampler = dynesty.NestedSampler.restore(str(checkpoint), pool=pool)
        unwrap(sampler.loglikelihood)  # a checkpoint written before tinylens took the wrapper out
        if init.get("save_evaluation_history"):
            _resume_history(sampler.loglikelihood, init["history_filename"], int(sampler.ncall))
        return sampler
    try:
        sampler = dynesty.NestedSampler(
            pool.batcher,
            PriorTransform(problem.priors),
            problem.ndim,
            pool=pool,
            use_pool={"prior_transform": False, "update_bound": False},
            rstate=np.random.default_rng(seed),
            **init,
        )
    except RuntimeError as err:  # dynesty's, after drawing its first live points again and again
        found = NO_FINITE_LIVE_POINT.search(str(err))
        if found is None:
            raise
        raise ConfigValueError(no_finite_live_point(int(found.group(1)), int(init["nlive"]))) from None
    unwrap(sampler.loglikelihood)  # already out if the pool drew its first live points: kept out for its proposals
    return sampler


#: dynesty's RuntimeError where none of its draws of first live points has a finite log-likelihood.
NO_FINITE_LIVE_POINT = re.compile(r"After (\d+) attempts, we could not find a single point")

def no_finite_live_point(attempts: int, nlive: int, maxcall: int | None = None) -> str:
    """Why dynesty cannot sample when log L is not finite at any of the ``attempts`` sets of
    ``nlive`` prior draws it made for its first live points (stopped by ``maxcall``, if given)."""
    budget = f": maxcall is {maxcall:,}" if maxcall is not None else ""
    return (f"inference (dynesty): log L is not finite at any of the {attempts * nlive:,} points dynesty drew from the "
            f"priors for its first live points ({counted(attempts, 'draw', ',')} of nlive = {nlive}{budget}), so it has nothing to "
            f"sample from. Check {priors_and_data()}")


def too_few_finite_live_points(finite: int, attempts: int, nlive: int, maxcall: int) -> str:
    """Why dynesty stopped at ``maxcall`` before it sampled: log L is finite at only ``finite`` of
    the ``attempts`` draws of ``nlive`` points it made for its first live points, too few for it to begin."""
    return (f"inference (dynesty): maxcall ({maxcall:,}) was spent on dynesty's first live points before it could "
            f"sample: log L is finite at only {finite:,} of the {attempts * nlive:,} points it drew from the priors "
            f"({counted(attempts, 'draw', ',')} of nlive = {nlive}), and it goes on drawing (up to "
            f"{NO_FINITE_DRAWS:,} draws) until enough are. Raise maxcall, or check {priors_and_data()}")


class FirstLivePoints(FiniteWatch):
    """A watch of dynesty's draws of its first live points (the likelihood calls made until the
    sampler is built: then set :attr:`drawing` false). Where none has a finite log L it raises as
    :class:`FiniteWatch` does, past ``limit`` calls; where some have, but dynesty starts another
    draw past ``limit`` (it draws until enough are, past any ``maxcall``), it raises the
    ConfigError of ``too_few(calls, finite)`` before that draw's calls are made (None: dynesty's
    own limit of draws is the watch's, and it stops there itself)."""

    def __init__(self, limit: int, message: Callable[[int], str],
                 too_few: Callable[[int, int], str] | None = None) -> None:
        super().__init__(limit, message)
        self.too_few = too_few
        self.finite = 0
        self.drawing = True

    def see(self, values: Any) -> None:
        """Count a batch's log L ``values`` while dynesty draws; a ConfigError past :attr:`limit` calls with none finite."""
        if not self.drawing:
            return
        self.calls += int(np.size(values))
        self.finite += int(np.count_nonzero(np.isfinite(values)))
        self.seen = self.finite > 0
        if not self.seen and self.calls >= self.limit:
            raise ConfigValueError(self.message(self.calls))

    def watch(self, loglike: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``loglike`` whose values :meth:`see` sees, refused past :attr:`limit` calls while dynesty draws."""

        def watched(theta: Any) -> Any:
            if self.drawing and self.too_few is not None and self.calls >= self.limit:
                raise ConfigValueError(self.too_few(self.calls, self.finite))
            values = loglike(theta)
            self.see(values)
            return values

        return watched


def first_live_points(nlive: int, maxcall: int | None = None) -> FirstLivePoints:
    """A watch of dynesty's draws of its first live points. dynesty draws ``nlive`` points again
    and again, up to :data:`~tinylens.inference.common.NO_FINITE_DRAWS` times and past any
    ``maxcall``, until enough of them have a finite log L (or, none finite, it gives up): the watch
    raises the ConfigError of :func:`no_finite_live_point` once the draws with none finite reach
    ``maxcall`` (a whole number of draws, one at least) or dynesty's own limit, whichever comes
    first, and that of :func:`too_few_finite_live_points` where dynesty would draw again past
    ``maxcall`` (with 1 % of the priors finite, nlive 50 and maxcall 300, it made 2,000 calls)."""
    nlive = int(nlive)
    draws = NO_FINITE_DRAWS if maxcall is None else min(NO_FINITE_DRAWS, max(1, int(maxcall) // nlive))
    stopped_by = int(maxcall) if draws < NO_FINITE_DRAWS else None
    too_few = None if stopped_by is None else (
        lambda calls, finite: too_few_finite_live_points(finite, calls // nlive, nlive, stopped_by))
    return FirstLivePoints(draws * nlive, lambda calls: no_finite_live_point(calls // nlive, nlive, stopped_by), too_few)


def _converged(sampler, dlogz: float) -> bool:
    """Whether dynesty stopped on its evidence criterion (the live points' remaining share
    ``delta log Z < dlogz``) rather than on ``maxiter`` or ``maxcall``: recomputed from the
    finished run, whose last ``nlive`` samples are the live points it stopped with. ``dlogz`` is
    always a number: 0.1 when the config leaves it out, and null is refused (:data:`tinylens.inference.common.VALUE_RULES`)."""
    logl = np.asarray(sampler.saved_run["logl"])
    logvol = np.asarray(sampler.saved_run["logvol"])
    n_dead = len(logl) - sampler.nlive
    if n_dead < 1:
        return False
    log_z = compute_integrals(logl=logl[:n_dead], logvol=logvol[:n_dead])[1][-1]
    return bool(np.logaddexp(0.0, np.max(logl[n_dead:]) + logvol[n_dead - 1] - log_z) < dlogz)


def on_plateau(sampler) -> bool:
    """Whether dynesty stopped on a likelihood plateau: its live points all have the same log L
    (``np.ptp`` 0). dynesty then stops, whatever ``dlogz`` says, and adds them to the samples,
    which cover the plateau: its normal end, which a run resumed from it would only reach again."""
    live = np.asarray(sampler.live_logl)
    return bool(live.size) and bool(np.ptp(live) == 0)


def over_logl_max(sampler, logl_max: float | None) -> bool:
    """Whether dynesty's last dead point (the log L bound it stopped at) exceeds ``logl_max``, which
    stops it there (None: not set). The finished run's last ``nlive`` samples are its live points."""
    logl = np.asarray(sampler.saved_run["logl"])
    n_dead = len(logl) - sampler.nlive
    return logl_max is not None and n_dead >= 1 and bool(logl[n_dead - 1] > float(logl_max))


def stop_reason(sampler, run_kw: dict[str, Any], calls: int, iterations: int) -> str | None:
    """What stopped dynesty's run other than its ``dlogz`` criterion: ``"plateau"`` (:func:`on_plateau`),
    ``"logl_max"`` (:func:`over_logl_max`), or the ``maxcall`` or ``maxiter`` of :func:`limit_reached`
    (``run_kw``, ``calls``, ``iterations`` as it takes them); None where none did. A plateau and
    ``logl_max`` come first: a run resumed with more calls or iterations would stop on them at once."""
    if on_plateau(sampler):
        return "plateau"
    if over_logl_max(sampler, run_kw.get("logl_max")):
        return "logl_max"
    return limit_reached(run_kw, calls, iterations)


def budget_left(run_kw: dict[str, Any], calls_done: int, iterations_done: int) -> dict[str, Any]:
    """``run_kw`` with ``maxcall`` and ``maxiter`` less what the earlier runs of a resumed sampler
    spent: dynesty counts them from 0 in each ``run_nested``, so that a stopped fit would get a
    fresh budget at every resume. ``calls_done`` is dynesty's ``ncall``: the calls of its iterations
    and of every draw of its first live points, which ``run_nested`` leaves out of its ``maxcall`` and
    the first-live-point watch counts against it (as nautilus's ``n_like_max`` counts its first
    points), so that a fresh run stops at ``maxcall`` calls and a resumed one where an uninterrupted one would have."""
    left = dict(run_kw)
    for key, done in (("maxcall", calls_done), ("maxiter", iterations_done)):
        if left.get(key) is not None:
            left[key] = int(left[key]) - done
    return left


def limit_reached(run_kw: dict[str, Any], calls: int, iterations: int) -> str | None:
    """Which of ``maxcall`` and ``maxiter`` (as ``run_kw`` passed them to ``run_nested``, what
    :func:`budget_left` left) stopped a run that made ``calls`` likelihood calls (dynesty's count)
    in ``iterations`` iterations: dynesty stops once either count exceeds its limit. None where
    neither did (it stopped on its own criteria) or both did (either may be named)."""
    over = [key for key, done in (("maxcall", calls), ("maxiter", iterations))
            if run_kw.get(key) is not None and done > int(run_kw[key])]
    return over[0] if len(over) == 1 else None


#: Sampler settings that change what is written, not the sampling: a resumed sampler takes them
#: from the config (:func:`_resume_history`), so they are left out of the checkpoint's fingerprint.
OUTPUT_KEYS = {"save_evaluation_history", "history_filename"}


def checkpoint_stamp(problem, settings: dict[str, Any]) -> str:
    """The fingerprint of the checkpoint that :func:`run` keeps for ``problem`` with ``settings``
    (also the key of its likelihood and batcher): every sampler setting but :data:`OUTPUT_KEYS`."""
    return fingerprint(problem, **_stamped_settings(settings))


def checkpoint_parts(problem, settings: dict[str, Any]) -> dict[str, str]:
    """:func:`checkpoint_stamp`'s parts (:func:`~tinylens.inference.common.fingerprint_parts`),
    which the checkpoint records (the sampler's ``tinylens_parts``, pickled with it)."""
    return fingerprint_parts(problem, **_stamped_settings(settings))


def _stamped_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings in :func:`checkpoint_stamp`."""
    own, init, _ = _settings(settings)
    # a mapping's keys in any order (first_update: {min_ncall: .., min_eff: ..}): the same setting
    return {**{k: keys_in_order(v) for k, v in init.items() if k not in OUTPUT_KEYS}, "seed": own["seed"]}


def recorded_parts(path: Path | None) -> dict[str, Any] | None:
    """The parts of the fingerprint recorded in the checkpoint ``path`` (the sampler's
    ``tinylens_parts``: :func:`checkpoint_parts`); None where none are (written by an older
    tinylens) or the checkpoint cannot be read (damaged, of another dynesty)."""
    try:
        with open(path, "rb") as handle:
            sampler = pickle.load(handle)["sampler"]
    except Exception:  # whatever a damaged pickle, or one of another dynesty, raises while it loads
        return None
    value = getattr(sampler, "tinylens_parts", None)
    return value if isinstance(value, dict) else None


def run(
    problem,
    settings: dict[str, Any],
    *,
    progress: bool = True,
    checkpoint_dir: str | Path | None = None,
) -> InferenceResult:
    """Sample ``problem``'s posterior with dynesty's static nested sampler. The result's
    ``n_likelihood_evals`` counts the likelihood calls made (this run's, ``info["n_like_this_run"]``,
    as the status line shows them, and those its checkpoint recorded); ``info["dynesty_ncall"]``
    is dynesty's own count, which leaves out the proposals still in its queue."""
    check(settings, problem.ndim)
    own, init, run_kw = _settings(settings)
    history_init = _history_in(init, checkpoint_dir)  # refused here, before any file is touched
    key = checkpoint_stamp(problem, settings)
    checkpoint, resume = None, False
    if checkpoint_dir is not None:
        checkpoint = Path(checkpoint_dir) / filenames.CHECKPOINTS["dynesty"]
        resume = prepare_checkpoint(checkpoint, key, own["resume"])
    status = LiveStatus("dynesty", enabled=progress)
    interrupt = KeptInterrupt()  # Ctrl-C during a garbage-collector callback (JAX's) is only printed
    first = first_live_points(init["nlive"], run_kw.get("maxcall"))
    _LIKELIHOODS[key] = first.watch(interrupt.guard(status.wrap(problem.log_likelihood)))
    _BATCHERS[key] = Batcher(key)
    pool = BatchingPool(_BATCHERS[key], init["queue_size"])  # its threads serve the whole run
    try:
        sampler, resumed = open_checkpoint(
            lambda r: _sampler(problem, pool, history_init, own["seed"], checkpoint, r),
            checkpoint, resume,
        )
        first.drawing = False  # the sampler has its live points (drawn, or restored)
        take_back = getattr(sampler, "_remove_live_points", None)  # dynesty >= 2.0
        if resumed and getattr(sampler, "added_live", False) and take_back is not None:
            # The checkpoint is of a run that ended (on maxcall, maxiter or logl_max; a converged fit deletes
            # its checkpoint): dynesty would not continue it while its live points are in the samples.
            take_back()
        latest: dict[str, Any] = {}
        status.stats = lambda: {"log Z": latest.get("logz"), "dlogz": latest.get("dlogz")}

        def show(result, niter, ncall, **kw) -> None:
            latest["logz"] = getattr(result, "logz", None)
            latest["dlogz"] = getattr(result, "delta_logz", None)
            status.update()

        made_before = calls_before(sampler) if resumed else 0
        before = sampling_before(sampler) if resumed else 0.0
        sampler.tinylens_clock = SamplingClock(before)
        sampler.tinylens_calls = CallCount(made_before, status)
        sampler.tinylens_parts = checkpoint_parts(problem, settings) if checkpoint is not None else None
        status.calls_before = made_before  # the status line counts the fit's calls, as its result does
        if resumed:
            announce_resumed(progress, "dynesty", checkpoint, made_before, before)
        start = time.perf_counter()
        left = budget_left(run_kw, int(sampler.ncall), int(sampler.it) - 1)
        calls_from, iterations_from = int(sampler.ncall), int(sampler.it)
        with interrupt, status:
            sampler.run_nested(
                print_progress=progress, print_func=show,
                checkpoint_file=str(checkpoint) if checkpoint else None, resume=resumed, **left,
            )
            interrupt.check()
    finally:  # a run that ends, or fails, leaves no thread nor likelihood behind
        pool.close()
        _LIKELIHOODS.pop(key, None)
        _BATCHERS.pop(key, None)
    wall = time.perf_counter() - start
    stopped_by = stop_reason(sampler, left, int(sampler.ncall) - calls_from, int(sampler.it) - iterations_from)
    res = sampler.results
    log_w = res.logwt - logsumexp(res.logwt)
    return InferenceResult(
        method="dynesty",
        param_names=problem.param_names,
        samples=np.asarray(res.samples),
        log_weights=np.asarray(log_w),
        log_likelihood=np.asarray(res.logl),
        log_evidence=float(res.logz[-1]),
        n_likelihood_evals=made_before + status.n_calls,  # the calls made (see the module's docstring)
        wall_time_s=wall + before,
        converged=stopped_by == "plateau" or _converged(sampler, run_kw["dlogz"]),
        info={
            "log_evidence_err": float(res.logzerr[-1]),
            "n_like_this_run": status.n_calls,
            "dynesty_ncall": int(sampler.ncall),
            "resumed": resumed,
            "earlier_time_s": before,
            "likelihood_time_s": status.likelihood_time_s,
            "checkpoint": str(checkpoint) if checkpoint else None,
            "settings": {**own, **init, **run_kw},
            "stopped_by": stopped_by,
        },
    )
