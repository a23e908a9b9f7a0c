"""The automated pipeline: staged fits that put the sampler where the lens is.

1. **lens light** (:mod:`.lens_light`): the lens light alone, arc pixels masked;
2. **arc** (:mod:`.arc`): the arc in the lens-subtracted image, hence a first Einstein radius;
3. **mass + source** (:mod:`.mass_source`): multi-start L-BFGS fits seeded by stages 1 and 2;
4. **sampling** in the priors truncated to a box around the best fit (:mod:`.box`: widths from
   the Fisher matrix there; theta_E's the whole prior where stage 2 found no arc), widened and
   sampled again if the posterior reaches an edge of the box.

Each stage can be switched off in the config's ``pipeline`` section; ``pipeline: {enabled:
false}`` is a single plain run of the sampler over the full priors (TinyLensGpu's behaviour).
Stages 1-3 and the sampling box are written to ``checkpoint.pipeline.json`` in the output folder
and reused when a fit of the same data and model is started again (their results are also in
``result.json``, under ``info.pipeline``). The stages are saved as they go, under the same
fingerprint: after stage 1, after stage 2 and after each start of stage 3 ends (a ``partial``
state: :func:`optimise`'s ``save``), so that a fit stopped within them (Ctrl-C, a wall time)
does only what had not ended when started again, to the same result as a fit never stopped (one
saved with another ``pipeline.threads`` is not taken up: :func:`other_threads`). A state, partial
or whole, records the tinylens version that wrote it, and one of another version is not taken up
(:func:`other_version`).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import hashlib
import json
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from tinylens import filenames
from tinylens.config.schema import without_speed_only
from tinylens.errors import CheckpointWarning, ConfigValueError, listed, outside_stacklevel, priors_and_data
from tinylens.inference import InferenceResult
from tinylens.inference.common import (MAX_RECORDED_CALLS, MAX_RECORDED_SECONDS, STAGES_SAVED, differing_parts,
                                       fingerprint, fingerprint_parts, resumes)
from tinylens.inference.progress import announce
from tinylens.jsonfile import read_json_object
from tinylens.pipeline import box as bx
from tinylens.pipeline.arc import MIN_ARC_PIXELS, Arc, find_arc
from tinylens.pipeline.lens_light import fit_lens_light, lens_center
from tinylens.pipeline.mass_source import PEAK_R_MIN_PIXELS, fit_mass_source, other_radii, theta_E_floor
from tinylens.pipeline.optimize import Fit, Objective
from tinylens.pipeline.params import free_index, get_param, main_mass, prior_middle
from tinylens.results.stored import finite_number, json_text


def _say(progress: bool, text: str) -> None:
    announce(progress, "pipeline", text)


#: What :func:`looked_at_once` keeps while it is open: each stages' state read, by its file
#: (:func:`_file_key`), and each fingerprint of the stages computed, by its problem and settings.
_ONCE: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar("tinylens_state_once", default=None)


@contextlib.contextmanager
def looked_at_once() -> Iterator[None]:
    """Within it (a fit, from its looks at its checkpoints before the search to its pipeline's
    start), the stages' state in a file is read once while the file is the same one (its inode,
    size and times: one written again, or deleted, is read again), and the stages' fingerprint and
    parts of a problem and pipeline settings are computed once; each look gets its own copy."""
    token = _ONCE.set({})
    try:
        yield
    finally:
        _ONCE.reset(token)


def _once(key: Any, held: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """``make()``, kept under ``key`` while :func:`looked_at_once` is open, with the objects
    ``held`` (those whose ids are in ``key``, which must stay theirs); a copy of it each time."""
    kept = _ONCE.get()
    if kept is None:
        return make()
    if key not in kept or any(a is not b for a, b in zip(kept[key][0], held)):
        kept[key] = (held, make())
    return copy.deepcopy(kept[key][1])


def _stage_fingerprint(problem, settings: Any) -> str:
    return _once(("fingerprint", id(problem), id(settings)), (problem, settings),
                 lambda: fingerprint(problem, pipeline=_fingerprinted(settings)))


def _stage_parts(problem, settings: Any) -> dict[str, str]:
    """The parts of :func:`_stage_fingerprint` (:func:`~tinylens.inference.common.fingerprint_parts`),
    kept with the stages' state so that a fit of other data, model or settings can say which differ."""
    return _once(("parts", id(problem), id(settings)), (problem, settings),
                 lambda: fingerprint_parts(problem, pipeline=_fingerprinted(settings)))


def _fingerprinted(settings: Any) -> dict[str, Any]:
    dumped = settings.model_dump() if hasattr(settings, "model_dump") else settings
    # the time, not the result: the checkpoint stays valid
    return without_speed_only(dumped, "pipeline")


#: Starts optimised at once on a GPU when the config does not say (see :func:`stage_threads`).
GPU_THREADS = 8


def stage_threads(settings: Any) -> int:
    """How many starts of stages 1 and 3 are optimised at once (in step, their evaluations
    batched: :meth:`.Objective.minimize_many`): ``pipeline.threads`` if set, else 1 on a CPU and
    :data:`GPU_THREADS` on a GPU.

    One start's L-BFGS-B is a chain of small compiled calls, each waiting for the last, which
    leaves a GPU mostly idle; a batch of starts costs it about as much as one. Measured on an
    NVIDIA H200 (2026-12-04), the demo lens's stages 1-3, compiled: 32.7 s one start at a time,
    16.6 s eight in step. On a CPU a batch costs what its rows do one by one (2 cores: see
    ``benchmarks/bench_stages.py``), so there one start at a time is fastest.
    """
    threads = getattr(settings, "threads", None)
    if threads:
        return int(threads)
    import jax

    return 1 if jax.default_backend() == "cpu" else GPU_THREADS


def _values_problem(key: str, values: Any, ndim: int, none_ok: bool = False) -> str:
    """What is wrong with ``values``, the list ``key`` of a stages' state that holds one finite
    number per free parameter (``ndim``; ``none_ok``: or null, an unbounded side of the box); ""
    where nothing is."""
    if not isinstance(values, list):
        return f"'{key}' is {json_text(values, 40)}, not a list of {ndim} numbers"
    if len(values) != ndim:
        return f"'{key}' holds {len(values)} values, not the {ndim} of this model's free parameters"
    bad = [v for v in values if not (finite_number(v) or (none_ok and v is None))]
    return f"'{key}' holds {json_text(bad[0], 40)}, not a finite number" if bad else ""


#: The most likelihood or gradient evaluations a stages' state may record, for stages 1-3 or a sampling run (a
#: fit makes ~1e5 to 1e8): 1e308 twice, edited in, made their sum infinite and the fit's end an OverflowError.
#: A sampler's checkpoint is held to the same bound.
MAX_STATE_EVALS = MAX_RECORDED_CALLS
#: The most seconds a stages' state may record for stages 1-3 or a sampling run (about 32 years): 1e308 twice,
#: edited in, made their sum, the fit's wall time, infinite. A sampler's checkpoint is held to the same bound.
MAX_STATE_SECONDS = MAX_RECORDED_SECONDS
#: The most ``threads`` a stages' state may record: ``pipeline.threads``' bound in the config schema.
MAX_STATE_THREADS = 256


def _count_problem(key: str, value: Any, low: float, high: float) -> str:
    """What is wrong with ``value``, the count ``key`` of a stages' state, where it is not a whole
    number from ``low`` to ``high``; "" where nothing is."""
    if finite_number(value) and float(value).is_integer() and low <= value <= high:
        return ""
    return f"'{key}' is {json_text(value, 40)}, not a whole number from {low:g} to {high:g}"


def _seconds_problem(key: str, value: Any) -> str:
    """What is wrong with ``value``, the seconds ``key`` of a stages' state, where it is not a
    number from 0 to :data:`MAX_STATE_SECONDS`; "" where nothing is."""
    if finite_number(value) and 0 <= value <= MAX_STATE_SECONDS:
        return ""
    return f"'{key}' is {json_text(value, 40)}, not a number of seconds from 0 to {MAX_STATE_SECONDS:g}"


def state_problem(state: dict[str, Any], ndim: int) -> str:
    """What in the stages' ``state`` of a fit with ``ndim`` free parameters cannot be used (an
    edited or damaged file), for the warning that it is not reused; "" where nothing is.

    Every state tinylens has written has ``best``, ``stages``, ``n_evals``, ``time_s`` and
    ``arc_mask``; ``box`` comes once the sampling starts, ``runs`` once a box is widened and
    ``threads`` with later versions (a state without those two is read as before them). Counts are
    bounded (:data:`MAX_STATE_EVALS`, :data:`MAX_STATE_THREADS`), and so are seconds
    (:data:`MAX_STATE_SECONDS`): the fit adds them up and writes them into result.json."""
    missing = [key for key in ("best", "stages", "n_evals", "time_s") if key not in state]
    if missing:
        return f"it has no '{missing[0]}'"
    problem = _values_problem("best", state["best"], ndim)
    if problem:
        return problem
    problem = _count_problem("n_evals", state["n_evals"], 0, MAX_STATE_EVALS)
    if problem:
        return problem
    problem = _seconds_problem("time_s", state["time_s"])
    if problem:
        return problem
    if "threads" in state and (problem := _count_problem("threads", state["threads"], 1, MAX_STATE_THREADS)):
        return problem
    stages = state["stages"]
    arc = stages.get("arc", {}) if isinstance(stages, dict) else None
    if not isinstance(arc, dict):
        return f"'stages' is {json_text(stages, 40)}, not an object of the stages' records"
    if not finite_number(arc.get("theta_E_floor", 0.0)):
        return f"'stages.arc.theta_E_floor' is {json_text(arc['theta_E_floor'], 40)}, not a finite number"
    if not isinstance(state.get("arc_mask", []), list):
        return f"'arc_mask' is {json_text(state['arc_mask'], 40)}, not a list of pixels"
    if "box" in state:
        box = state["box"]
        if not (isinstance(box, list) and len(box) == 2):
            return f"'box' is {json_text(box, 40)}, not its lower and upper bounds"
        problem = (_values_problem("box lower bounds", box[0], ndim, none_ok=True)
                   or _values_problem("box upper bounds", box[1], ndim, none_ok=True))
        if problem:
            return problem
        if any(lo is not None and hi is not None and lo > hi for lo, hi in zip(*box)):
            return "'box' has a lower bound above its upper bound"
    runs = state.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, dict) and finite_number(r.get("n_likelihood_evals"))
                                             and finite_number(r.get("wall_time_s")) for r in runs):
        return f"'runs' is {json_text(runs, 40)}, not a list of sampling runs (their n_likelihood_evals and wall_time_s)"
    for i, run in enumerate(runs):
        problem = (_count_problem(f"runs[{i}].n_likelihood_evals", run["n_likelihood_evals"], 0, MAX_STATE_EVALS)
                   or _seconds_problem(f"runs[{i}].wall_time_s", run["wall_time_s"]))
        if problem:
            return problem
    return ""


def _pixels_problem(key: str, values: Any, pixels: int | None) -> str:
    """What is wrong with ``values``, the list ``key`` of the flat indices of an image's pixels
    (``pixels`` of them; None: not known), where they are not; "" where nothing is."""
    if not isinstance(values, list):
        return f"'{key}' is {json_text(values, 40)}, not a list of pixels"
    top = MAX_STATE_EVALS if pixels is None else pixels - 1
    bad = [v for v in values if _count_problem(key, v, 0, top)]
    return f"'{key}' holds {json_text(bad[0], 40)}, not a pixel from 0 to {top:g}" if bad else ""


def partial_problem(partial: Any, ndim: int, pixels: int | None = None) -> str:
    """What in the ``partial`` state (:func:`optimise`'s ``save``: stages 1-3 not all done) of a fit
    with ``ndim`` free parameters and an image of ``pixels`` pixels cannot be used, as
    :func:`state_problem` says of a whole one; "" where nothing is."""
    if not isinstance(partial, dict):
        return f"'partial' is {json_text(partial, 40)}, not an object of the stages done"
    missing = [key for key in ("done", "theta", "arc", "stages", "n_evals", "time_s") if key not in partial]
    if missing:
        return f"'partial' has no '{missing[0]}'"
    if partial["done"] not in PARTIAL_STAGES or isinstance(partial["done"], bool):
        return f"'partial.done' is {json_text(partial['done'], 40)}, not a stage done (1 or 2)"
    problem = (_values_problem("partial.theta", partial["theta"], ndim)
               or _count_problem("partial.n_evals", partial["n_evals"], 0, MAX_STATE_EVALS)
               or _seconds_problem("partial.time_s", partial["time_s"])
               or _seconds_problem("partial.stage3_s", partial.get("stage3_s", 0.0))
               or _count_problem("partial.threads", partial.get("threads", 1), 1, MAX_STATE_THREADS))
    if problem:
        return problem
    if not isinstance(partial["stages"], dict):
        return f"'partial.stages' is {json_text(partial['stages'], 40)}, not an object of the stages' records"
    arc = partial["arc"]
    if not (isinstance(arc, dict) and all(key in arc for key in ("mask", "theta_E", "peaks", "n_pixels"))):
        return f"'partial.arc' is {json_text(arc, 40)}, not the arc's mask, theta_E, peaks and n_pixels"
    problem = (_pixels_problem("partial.arc.mask", arc["mask"], pixels)
               or _count_problem("partial.arc.n_pixels", arc["n_pixels"], 0, MAX_STATE_EVALS))
    if problem:
        return problem
    if not (arc["theta_E"] is None or finite_number(arc["theta_E"])):
        return f"'partial.arc.theta_E' is {json_text(arc['theta_E'], 40)}, not a finite number or null"
    peaks = arc["peaks"]
    if not (isinstance(peaks, list) and all(isinstance(p, list) and len(p) == 2 and all(map(finite_number, p))
                                            for p in peaks)):
        return f"'partial.arc.peaks' is {json_text(peaks, 40)}, not a list of (x, y) positions"
    fits = partial.get("fits", [])
    if not isinstance(fits, list):
        return f"'partial.fits' is {json_text(fits, 40)}, not a list of stage 3's fits"
    for k, fit in enumerate(fits):
        key = f"partial.fits[{k}]"
        if not (isinstance(fit, dict) and isinstance(fit.get("key"), str) and isinstance(fit.get("message"), str)
                and all(name in fit for name in ("i", "theta", "log_post", "n_evals"))):
            return f"'{key}' is {json_text(fit, 40)}, not a fit (its i, key, theta, log_post, n_evals and message)"
        problem = (_count_problem(f"{key}.i", fit["i"], 0, MAX_STATE_EVALS)
                   or _values_problem(f"{key}.theta", fit["theta"], ndim)
                   or _count_problem(f"{key}.n_evals", fit["n_evals"], 0, MAX_STATE_EVALS))
        if problem:
            return problem
        if not finite_number(fit["log_post"]):
            return f"'{key}.log_post' is {json_text(fit['log_post'], 40)}, not a finite number"
    return ""


def _load_state(path: Path | None, stamp: str, ndim: int, look_only: bool = False,
                pixels: int | None = None) -> dict[str, Any] | None:
    """The stages' state saved at ``path`` if it is this fit's (its fingerprint is ``stamp``) and
    usable by a model of ``ndim`` free parameters (and an image of ``pixels`` pixels); None for a
    missing, unreadable or foreign one (the stages are done again), and for one of this fit's that
    was edited or damaged (:func:`state_problem`, or :func:`partial_problem` for a state of stages
    not all done, ``{"fingerprint": ..., "partial": ...}``), which is deleted with a CheckpointWarning
    naming it and what is wrong, unless ``look_only`` (a look that changes nothing: the hint after Ctrl-C)."""
    if path is None or not path.exists():
        return None
    state = _read_state(path)
    if state is None or state.get("fingerprint") != stamp or other_version(state):
        return None  # another version's is replaced as the stages save, not deleted: it is not damaged
    if is_partial(state):
        problem = partial_problem(state["partial"], ndim, pixels)
    else:
        problem = state_problem(state, ndim)
    if not problem:
        return state
    if look_only:
        return None
    warnings.warn(f"The pipeline state {path} is this fit's but cannot be used ({problem}): it is deleted and "
                  "stages 1-3 are done again.", CheckpointWarning, stacklevel=outside_stacklevel())
    path.unlink(missing_ok=True)  # said once: a later look (the fit's own, after its check) finds none
    return None


def is_partial(state: dict[str, Any]) -> bool:
    """Whether the stages' ``state`` (a dict) is a partial one, ``{"fingerprint": ..., "partial": ...}``
    (stages 1-3 not all done: :func:`optimise`'s ``save``), not a whole one (which has a ``best``)."""
    return "partial" in state and "best" not in state


#: The stages a partial state (:func:`optimise`'s ``save``) records as done: stage 1 (its fit and
#: the arc in its residual), and stage 2 (the arc), after which stage 3's starts are added one by one.
PARTIAL_STAGES = (1, 2)


def _arc_record(arc: Arc) -> dict[str, Any]:
    """What of stage 2's ``arc`` a partial state keeps: what stage 3 reads (its mask as the flat
    indices of its pixels, its Einstein radius, null where none, its peaks and pixels)."""
    return {"mask": np.flatnonzero(arc.mask.ravel()).tolist(), "theta_E": _finite_or_none(arc.theta_E),
            "peaks": np.asarray(arc.peaks, dtype=float).tolist(), "n_pixels": int(arc.n_pixels)}


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _restored_arc(record: dict[str, Any], shape: tuple[int, ...]) -> Arc:
    """The arc of :func:`_arc_record` for an image of ``shape``; its significance map is not kept
    (NaN). Nothing after stage 2 reads it: stage 3 uses the arc's mask, Einstein radius, peaks
    and pixel count (:func:`.mass_source.fit_mass_source`, ``other_radii``, ``theta_E_floor``); the
    stages' state and ``result.json``'s ``info.pipeline`` keep only the mask (``arc_mask``) and
    :meth:`.Arc.summary`; and the quality flags, figures and report find their own arc in the best
    fit's residual (:mod:`tinylens.results.quality`), so a resumed fit's outputs are a fit never
    stopped's."""
    mask = np.zeros(shape, bool)
    mask.ravel()[np.asarray(record["mask"], dtype=int)] = True
    peaks = np.asarray(record["peaks"], dtype=float).reshape(-1, 2)
    theta_E = float("nan") if record["theta_E"] is None else float(record["theta_E"])
    return Arc(mask, np.full(shape, np.nan), theta_E, peaks, int(record["n_pixels"]))


def _job_key(start: np.ndarray, free: Any) -> str:
    """What identifies one start of stage 3 (its vector and free parameters, bit for bit), so
    that a resumed fit takes a saved fit only for the start it was made from."""
    digest = hashlib.sha256(np.ascontiguousarray(start, dtype=float).tobytes())
    digest.update(b"all" if free is None else np.asarray(free, dtype=np.int64).tobytes())
    return digest.hexdigest()[:32]


class _Journal:
    """Stage 3's :class:`.Objective`, each start's fit recorded as it ends (``save(records)``),
    and, for a resumed fit, taken from the ``records`` of an earlier one instead of made again.

    Stage 3 makes its starts in one order, each from where earlier ones ended; the ``k``-th start
    it asks for is the ``k``-th of the earlier run's, and its record is used only where its start
    is the same (:func:`_job_key`). A fit taken from a record adds its gradient calls to the
    objective's counter, as making it did."""

    def __init__(self, objective: Objective, records: list[dict[str, Any]], save: Callable[[list], None]):
        self.objective, self.problem = objective, objective.problem  # what stage 3 reads of an objective
        self.records = {int(r["i"]): r for r in records}
        self.save = save
        self.asked = 0  # the starts asked for so far
        self.lock = threading.Lock()

    def minimize_many(self, jobs, weight=None) -> list[Fit]:
        jobs = list(jobs)
        first, self.asked = self.asked, self.asked + len(jobs)
        fits: list[Fit | None] = [None] * len(jobs)
        todo = []
        for i, (start, free) in enumerate(jobs):
            record = self.records.get(first + i)
            if record is not None and record["key"] == _job_key(start, free):
                fits[i] = Fit(np.asarray(record["theta"], dtype=float), float(record["log_post"]),
                              int(record["n_evals"]), record["message"])
                self.objective.counter(fits[i].n_evals)
            else:
                todo.append(i)

        def done(k: int, fit: Fit) -> None:
            i = todo[k]
            record = {"i": first + i, "key": _job_key(*jobs[i]), "theta": fit.theta.tolist(),
                      "log_post": float(fit.log_post), "n_evals": int(fit.n_evals), "message": fit.message}
            with self.lock:
                self.records[first + i] = record
                self.save(sorted(self.records.values(), key=lambda r: r["i"]))

        made = self.objective.minimize_many([jobs[i] for i in todo], weight, done=done) if todo else []
        for i, fit in zip(todo, made):
            fits[i] = fit
        return fits


def optimise(objective: Objective, settings, progress: bool = False, partial: dict[str, Any] | None = None,
             save: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Stages 1-3: the best fit, the arc and the book-keeping (JSON-friendly).

    ``save(partial)``, where given, is called with what is done so far, after stage 1, after
    stage 2 and after each start of stage 3; given back as ``partial`` (a fit stopped and started
    again), those stages are not done again, nor the starts of stage 3 that ended, and the result
    is the one a fit not stopped gives (its times include the earlier run's)."""
    problem = objective.problem
    partial = partial or {}
    done_stage = int(partial.get("done", 0))
    counts = {"n": int(partial.get("n_evals", 0))}

    def counter(n: int) -> None:
        counts["n"] += n

    objective.counter = counter
    t0 = time.perf_counter() - float(partial.get("time_s", 0.0))
    d = problem.dataset
    stages: dict[str, Any] = json.loads(json.dumps(partial.get("stages", {})))
    arc = _restored_arc(partial["arc"], d.data.shape) if done_stage >= 1 else None
    theta = np.asarray(partial["theta"], dtype=float) if done_stage >= 1 else prior_middle(problem)

    def saved(done: int, n_evals: int, **more: Any) -> None:
        if save is not None:
            save({"done": done, "theta": theta.tolist(), "arc": _arc_record(arc), "stages": stages,
                  "n_evals": n_evals, "time_s": time.perf_counter() - t0, "threads": objective.threads, **more})

    if done_stage >= 1:
        pass  # said by the caller, with what else is reused
    elif settings.lens_light and problem.spec.lens_light:
        ll = fit_lens_light(problem, theta, counter=counter, threshold=settings.arc_threshold,
                            threads=objective.threads)
        theta, arc = ll.fit.theta, ll.arc
        stages["lens_light"] = {"log_likelihood": ll.fit.log_post, "n_evals": ll.n_evals,
                                "time_s": time.perf_counter() - t0}
        _say(progress, f"1/4 lens light fitted ({ll.n_evals} gradient calls, {time.perf_counter() - t0:.1f} s)")
        saved(1, counts["n"])
    else:
        _say(progress, f"1/4 {stage1_skipped(problem.spec)}")
    if arc is None:  # no lens light: the data are the residual
        arc = find_arc(d.data, d.noise, d.pixel_scale, lens_center(problem, theta), used=d.mask,
                       threshold=settings.arc_threshold)
    theta_E_guess = arc.theta_E if (settings.arc and arc.found) else _theta_E_middle(problem)
    # a model without a lens mass has no theta_E to start: null, not the guess stage 3 ignores
    stages["arc"] = {**arc.summary(), "theta_E_start": theta_E_guess if problem.spec.lens_mass else None}
    if done_stage < 2:
        _say(progress, f"2/4 {stage2_done(problem.spec, arc, theta_E_guess, used=settings.arc, threshold=settings.arc_threshold)}")
        saved(2, counts["n"], stage3_s=0.0, fits=[])
    t1 = time.perf_counter() - float(partial.get("stage3_s", 0.0))
    center = lens_center(problem, theta)
    others = (other_radii(arc, center, theta_E_guess, r_min=PEAK_R_MIN_PIXELS * d.pixel_scale)
              if (settings.arc and arc.found) else [])
    stages["arc"]["theta_E_others"] = others
    floor = (theta_E_floor(arc, center, PEAK_R_MIN_PIXELS * d.pixel_scale, settings.min_theta_E_fraction)
             if settings.arc and problem.spec.lens_mass else 0.0)  # no mass: no theta_E to floor
    before = counts["n"]  # stage 3's calls: relight's and revive's tries too, kept or not
    # each start's fit saved as it ends, with the calls before stage 3 (a resumed fit adds the saved fits' own)
    journal = _Journal(objective, partial.get("fits", []),
                       lambda fits: saved(2, before, stage3_s=time.perf_counter() - t1, fits=fits))
    ms = fit_mass_source(journal, theta, arc, theta_E_guess, other_theta_E=others, min_theta_E=floor)
    if not ms.fit.finite:  # every start scored the optimiser's "non-finite" value
        raise ConfigValueError(
            f"pipeline stage 3 (mass and source): the posterior is not finite at any of its "
            f"{len(ms.candidates)} starts, so the model cannot describe these data (the sampler "
            f"would find no point to start from). Check {priors_and_data('the mass and source')}"
        )
    if problem.spec.lens_mass and get_param(ms.fit.theta, main_mass(problem.spec), "theta_E", np.inf) < floor:
        floor = 0.0  # no fit reached it: the box is not cut (and the quality flags will tell)
    stages["arc"]["theta_E_floor"] = floor
    stages["mass_source"] = {"log_posterior": ms.fit.log_post, "n_evals": counts["n"] - before,
                             "candidates": [c.log_post for c in ms.candidates], "time_s": time.perf_counter() - t1}
    _say(progress, f"3/4 {stage3_done(problem.spec)}: log P {ms.fit.log_post:.1f} ({time.perf_counter() - t1:.1f} s)")
    return {"best": ms.fit.theta.tolist(), "stages": stages, "n_evals": counts["n"],
            "arc_mask": np.flatnonzero(arc.mask.ravel()).tolist(), "time_s": time.perf_counter() - t0,
            "threads": objective.threads}


def stage1_skipped(spec) -> str:
    """Why stage 1 did not run, for its progress line: the model has no lens light, or the
    config switched the stage off (the arc is then searched in the data as they are)."""
    if not spec.lens_light:
        return "no lens light in the model: the arc is searched in the data as they are"
    return "lens light not fitted alone (pipeline.lens_light: false): the arc is searched in the data as they are"


def stage2_done(spec, arc, theta_E: float, used: bool = True, threshold: float | None = None) -> str:
    """What stage 2 found, for its progress line: the arc and the Einstein radius it suggests,
    which a model without a lens mass (of the lens light alone) does not have. ``used``: false
    where ``pipeline.arc`` is, and ``theta_E`` (the prior's median) is not the arc's; so it is
    where no arc is found (the line says so, and the ``threshold`` the arc's pixels had to pass)."""
    found = f"arc: {arc.n_pixels} pixels" if arc.found else "no arc found"
    if not spec.lens_mass:
        return found + (", no mass to estimate an Einstein radius for" if arc.found else "")
    if not used:
        return f"{found}; theta_E starts at its prior's median, {theta_E:.3f}\", with no floor (pipeline.arc: false)"
    if not arc.found:
        above = f" above pipeline.arc_threshold, {threshold:g} sigma" if threshold is not None else ""
        return (f"{found} (no {MIN_ARC_PIXELS} pixels together{above}, beyond the lens centre; flagged no_arc): "
                f"theta_E starts at its prior's median, {theta_E:.3f}\", with no floor")
    return f"{found}, theta_E ~ {theta_E:.3f}\""


def stage3_done(spec) -> str:
    """What stage 3 did, for its progress line: a model of the lens light alone has no mass or
    source to fit, and only its lens light is fitted again."""
    if spec.lens_mass or spec.source_light:
        return "mass and source fitted"
    return "no mass or source to fit, lens light fitted again"


def sampling_where(bounded: bool, floor: float) -> str:
    """Where stage 4 samples, for its progress line: in the box, or (``bounded: false``) the full
    priors, theta_E above stage 3's ``floor`` where there is one (none: 0)."""
    if bounded:
        return "in the box"
    above = f"; theta_E above stage 3's floor of {floor:.3f}\"" if floor > 0 else ""
    return f"the full priors (pipeline.bounded: false{above})"


def _theta_E_middle(problem) -> float:
    """The prior median of the main mass component's theta_E (1 arcsec if it is not free)."""
    if not problem.spec.lens_mass:
        return 1.0
    return get_param(prior_middle(problem), main_mass(problem.spec), "theta_E", 1.0)


#: Sampler settings the pipeline changes from their defaults (unless the config sets them): in the
#: box one neural network bounds the likelihood as well as nautilus's default four, at a quarter
#: of the training time (the sampler's main cost on a CPU).
BOXED_SAMPLER_DEFAULTS = {"nautilus": {"n_networks": 1}}


def sampler_defaults(sampler, settings: dict | None) -> dict:
    """``settings`` with :data:`BOXED_SAMPLER_DEFAULTS` filled in for ``sampler``'s method."""
    method = getattr(sampler, "__module__", "").rsplit(".", 1)[-1].removesuffix("_runner")
    return {**BOXED_SAMPLER_DEFAULTS.get(method, {}), **(settings or {})}


def _save_box(state: dict[str, Any], path: Path | None, lower: np.ndarray, upper: np.ndarray,
              template: str | None = None) -> None:
    """Record the sampling box (so a restarted fit samples the same box, and resumes), and the
    ``template`` whose fit writes it (:func:`_template_entry`)."""
    state["box"] = [[float(v) for v in lower], [float(v) for v in upper]]
    state.pop(TEMPLATE_KEY, None)
    state.update(_template_entry(template))
    if path is not None:
        _write_state(path, state)


def _write_state(path: Path, state: dict[str, Any], kept: dict[Any, Any] | None = None) -> None:
    """Write the stages' ``state`` to ``path`` (atomically), then forget what :func:`looked_at_once`
    kept of the file there (``kept``: its store, given by a caller on another thread; else this
    context's), so that it is read again: a file system whose times are whole seconds and which
    reuses inodes can give a state written again within the second, of the same size, the key of
    the one read (:func:`_read_state`)."""
    from tinylens.results.tables import write_json

    write_json(path, state)
    kept = _ONCE.get() if kept is None else kept
    if kept:
        where = str(Path(path).absolute())
        for key in list(kept):
            if key[:2] == ("state", where):
                kept.pop(key, None)


#: The key of the pipeline's state holding the digest of the survey template whose fit wrote it.
TEMPLATE_KEY = "template"


def _template_entry(template: str | None) -> dict[str, str]:
    """The pipeline state's entry naming the survey ``template`` (its digest,
    :data:`tinylens.inference.common.CHECKPOINT_TEMPLATE`) whose fit writes it; none outside a survey."""
    return {} if template is None else {TEMPLATE_KEY: template}


def saved_box(state: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The box that :func:`_save_box` recorded in ``state``: JSON has no infinity, so an unbounded
    side (a Gaussian prior without limits, sampled whole with ``bounded: false``) is stored as
    null, read back here as -inf (lower) or +inf (upper), not NaN."""
    lower, upper = ([np.nan if v is None else v for v in side] for side in state["box"])
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    return np.where(np.isnan(lower), -np.inf, lower), np.where(np.isnan(upper), np.inf, upper)


def _theta_E_index(problem) -> int | None:
    """The index of the main mass component's theta_E among the free parameters; None where it
    is not one (no lens mass, a fixed value, or an offset ``relative_to`` another parameter)."""
    return free_index(main_mass(problem.spec), "theta_E") if problem.spec.lens_mass else None


def _floored(problem, lower: np.ndarray, upper: np.ndarray, floor: float) -> np.ndarray:
    """``lower`` with the main mass component's theta_E raised to ``floor`` (the smallest
    Einstein radius that can have made the arc; see :func:`.mass_source.theta_E_floor`), where
    it is a free parameter (:func:`_theta_E_index`)."""
    i = _theta_E_index(problem)
    if floor <= 0 or i is None:
        return lower
    out = np.array(lower, dtype=float)
    out[i] = min(max(out[i], floor), upper[i])
    return out


def _floor_cuts(problem, floor: float) -> bool:
    """Whether stage 3's theta_E ``floor`` cuts the main mass's prior: theta_E is a free parameter
    (:func:`_floored` raises only that) and the floor is above its prior's lower bound."""
    i = _theta_E_index(problem)
    return i is not None and floor > problem.priors[i].support[0]


def no_arc_found(state: dict[str, Any]) -> bool:
    """Whether stage 2 of the stages' ``state`` searched for an arc and found none (the quality
    flag ``no_arc``); false for a state without stage 2's record."""
    return state.get("stages", {}).get("arc", {}).get("found") is False


def _prior_theta_E(problem, lower: np.ndarray, upper: np.ndarray, no_arc: bool) -> tuple[np.ndarray, np.ndarray]:
    """The box ``lower``, ``upper`` with the main mass component's theta_E given its prior's whole
    range where ``no_arc`` (stage 2 found no arc); as it is otherwise.

    Without an arc the data barely constrain the Einstein radius (a source too faint to see is
    lensed by any), and stage 3's fit ends wherever its starts leave it: at the 0.85 x its
    prior's median start, or near 0 where the "source" models leftover lens light. A box around
    that (30 % of it, or 0.1 % of the prior's range near 0) cuts the posterior, and widening it
    costs whole sampler runs or, near 0, never reaches the rest of the prior."""
    i = _theta_E_index(problem)
    if not no_arc or i is None:
        return lower, upper
    lower, upper = np.array(lower, dtype=float), np.array(upper, dtype=float)
    lower[i], upper[i] = problem.priors[i].support
    return lower, upper


def _reused_state(path: Path | None, stamp: str, sampler_kw: dict, problem,
                  look_only: bool = False) -> dict[str, Any] | None:
    """The stages' state in ``path`` that a fit of ``problem`` reuses: one of its fingerprint
    ``stamp``, and only if the sampler resumes (its ``resume: false`` means a fresh fit: the stages
    are done again too); ``look_only``: a damaged one is left as it is, unsaid (:func:`_load_state`).
    It may be partial (stages 1-3 not all done: :func:`partial_problem`)."""
    if not resumes(sampler_kw):
        return None
    return _load_state(path, stamp, problem.ndim, look_only, pixels=int(np.size(problem.dataset.data)))


def _boxed(problem, lower: np.ndarray, upper: np.ndarray):
    """``problem`` with its priors truncated to the box ``lower``, ``upper``."""
    return problem.derive(spec=dataclasses.replace(problem.spec, priors=bx.boxed(problem.priors, lower, upper)))


def _run_settings(sampler_kw: dict, settings_for_run: Callable[[dict, int], dict] | None, run: int) -> dict:
    return dict(sampler_kw) if settings_for_run is None else settings_for_run(sampler_kw, run)


def resumed_sampling(problem, sampler, settings, checkpoint_dir: str | Path, sampler_settings: dict | None = None,
                     settings_for_run: Callable[[dict, int], dict] | None = None,
                     look_only: bool = False) -> tuple[Any, dict] | None:
    """What :func:`run_pipeline` started in ``checkpoint_dir`` would sample first, from the
    stages' state there: the boxed problem and the sampler's settings; None where it does the
    stages again (no state of this fit's there). The box is stored as it is sampled (floored).
    A damaged state of this fit's is deleted with a warning, as the fit does, unless ``look_only``."""
    sampler_kw = sampler_defaults(sampler, sampler_settings)
    path = Path(checkpoint_dir) / filenames.PIPELINE_STATE
    state = _reused_state(path, _stage_fingerprint(problem, settings), sampler_kw, problem, look_only)
    if state is None or "box" not in state:
        return None
    lower, upper = saved_box(state)
    return _boxed(problem, lower, upper), _run_settings(sampler_kw, settings_for_run, len(state.get("runs", [])) + 1)


#: The key of the pipeline's state that holds the box the last sampling run sampled, saved with the
#: wider box that supersedes it: that run's checkpoint, left where a fit stops before the next run
#: writes its own, is then told from another fit's (:func:`widened_run`).
WIDENED_FROM_KEY = "widened_from"


def widened_run(problem, sampler, settings, checkpoint_dir: str | Path, sampler_settings: dict | None = None,
                settings_for_run: Callable[[dict, int], dict] | None = None) -> tuple[int, Any, dict] | None:
    """The sampling run of an earlier fit of ``problem`` whose box that fit then widened, as the
    stages' state in ``checkpoint_dir`` (this fit's) records it: the run's number, and the boxed
    problem and sampler settings it sampled, whose checkpoint is not resumed (the next run samples
    the wider box); None where the state records no widened box. A look that changes nothing."""
    sampler_kw = sampler_defaults(sampler, sampler_settings)
    path = Path(checkpoint_dir) / filenames.PIPELINE_STATE
    state = _reused_state(path, _stage_fingerprint(problem, settings), sampler_kw, problem, look_only=True)
    if state is None or "box" not in state or not state.get("runs") or WIDENED_FROM_KEY not in state:
        return None
    try:
        lower, upper = saved_box({"box": state[WIDENED_FROM_KEY]})
    except (TypeError, ValueError):  # a hand-edited state: no box to tell the run by
        return None
    if lower.shape != (problem.ndim,) or upper.shape != (problem.ndim,) or np.any(lower > upper):
        return None
    run = len(state["runs"])
    return run, _boxed(problem, lower, upper), _run_settings(sampler_kw, settings_for_run, run)


def stages_partly_done(problem, sampler, settings, checkpoint_dir: str | Path,
                       sampler_settings: dict | None = None) -> bool:
    """Whether :func:`run_pipeline` started in ``checkpoint_dir`` would take up stages 1-3 where an
    earlier fit stopped in them (a partial state of this fit's there); a look that changes nothing."""
    path = Path(checkpoint_dir) / filenames.PIPELINE_STATE
    state = _reused_state(path, _stage_fingerprint(problem, settings), sampler_defaults(sampler, sampler_settings),
                          problem, look_only=True)
    return (state is not None and is_partial(state)
            and not other_threads(state["partial"], stage_threads(settings)))


def other_threads(partial: dict[str, Any], threads: int) -> str:
    """Why a fit that optimises ``threads`` starts at once does not take up the ``partial`` state
    of stages 1-3 an earlier one saved with another ``pipeline.threads`` (starts run in step give
    other digits, and other calls, than one at a time: the stages of the two would be of neither);
    "" where it takes it up. A state that does not say is of one start at a time."""
    made = partial.get("threads", 1)
    if made == threads:
        return ""
    return (f"stages 1-3 done again: {filenames.PIPELINE_STATE} holds what a fit with pipeline.threads {made:g} "
            f"had done, and this one optimises {_starts_at_once(threads)} (set pipeline.threads: {made:g} to take it up)")


def _version() -> str:
    import tinylens

    return str(tinylens.__version__)


def other_version(state: dict[str, Any]) -> str:
    """Why a fit does not take up the stages' ``state`` (partial or whole) that another version
    of tinylens wrote, whose stages may find another best fit, arc or box: result.json, which
    records this version, would give that version's stages as its own, and a partial state's
    stages done by two versions are of neither. "" where it takes it up: the state is of this
    version (the same string: a dev install's from git, or a fixed one, is the same between two
    runs of the same code), or says none (written before states recorded it)."""
    made = state.get("version")
    if made is None or made == _version():
        return ""
    written = f"tinylens {made}" if isinstance(made, str) else f"a 'version' of {json_text(made, 40)}"
    return (f"{filenames.PIPELINE_STATE} was written by {written}, and this is tinylens {_version()}, whose "
            f"stages may find other results (run the fit with the version that wrote it to take it up)")


def _read_state(path: Path) -> dict[str, Any] | None:
    """The stages' state saved at ``path`` as it was written, whoever's and whether usable or not;
    None where it is missing, unreadable or not a mapping. Read once while :func:`looked_at_once`
    is open and the file is the same one."""
    if _ONCE.get() is None:
        return read_json_object(path, non_finite=True)  # a NaN: refused by its checks (_values_problem), naming its key
    try:
        info = Path(path).stat()
    except (OSError, ValueError):
        return read_json_object(path, non_finite=True)
    key = ("state", str(Path(path).absolute()), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns,
           info.st_ctime_ns)
    return _once(key, (), lambda: read_json_object(path, non_finite=True))


def _of_other_version(path: Path, stamp: str) -> str:
    """:func:`other_version` of the stages' state at ``path`` where it is this fit's (its
    fingerprint is ``stamp``); "" where it is not, or cannot be read."""
    state = _read_state(path)
    return other_version(state) if state is not None and state.get("fingerprint") == stamp else ""


def state_of_another_version(problem, settings, checkpoint_dir: str | Path) -> bool:
    """Whether the stages' state in ``checkpoint_dir`` is of a fit of ``problem`` with the
    pipeline ``settings`` (its fingerprint) but written by another tinylens version
    (:func:`other_version`): not taken up, its stages done again, so that whether the sampler's
    checkpoint beside it (of a box) is resumed is not known until the new box is."""
    path = Path(checkpoint_dir) / filenames.PIPELINE_STATE
    return bool(_of_other_version(path, _stage_fingerprint(problem, settings)))


def _starts_at_once(threads: int) -> str:
    return f"{threads} start{'' if threads == 1 else 's'} at once, which gives other digits"


def state_not_taken_up(problem, settings, checkpoint_dir: str | Path) -> str:
    """Why a fit of ``problem`` with the pipeline ``settings`` does not take up the stages' state
    in ``checkpoint_dir``, for the checkpoints' warning (:func:`tinylens.fitting.resume._warn_unresumed`):
    this fit's stopped in stages 1-3 with another ``pipeline.threads`` (:func:`other_threads`), or
    another fit's whose recorded parts (:func:`_stage_parts`) name what differs; "" where that
    cannot be told (a state written before it recorded its parts, or unreadable)."""
    state = _read_state(Path(checkpoint_dir) / filenames.PIPELINE_STATE)
    if state is None:
        return ""
    if state.get("fingerprint") == _stage_fingerprint(problem, settings):
        if why := other_version(state):
            return f"one of another version: {why}"
        partial = state.get("partial") if is_partial(state) else None
        made = partial.get("threads", 1) if isinstance(partial, dict) else None
        threads = stage_threads(settings)
        if not finite_number(made) or made == threads:
            return ""
        return (f"one stopped in stages 1-3 with pipeline.threads {made:g}, while this one optimises "
                f"{_starts_at_once(threads)}: set pipeline.threads: {made:g} to take it up")
    differ = differing_parts(state.get("parts"), _stage_parts(problem, settings))
    return f"other {listed(differ)} than this config's" if differ else ""


def holds_partial_state(path: Path) -> bool:
    """Whether the stages' state at ``path`` is a partial one (stages 1-3 not all done), as far as
    its form tells (whose it is and whether it is usable: :func:`stages_partly_done`)."""
    state = _read_state(path)
    return state is not None and is_partial(state)


def partial_reused(partial: dict[str, Any]) -> str:
    """What a fit takes up of the ``partial`` state of stages 1-3 an earlier one saved, for its
    progress line: the stages done and the starts of stage 3 that ended."""
    n = len(partial.get("fits", []))
    starts = f" and {n} start{'' if n == 1 else 's'} of stage 3" if n else ""
    return f"{'stage 1' if partial['done'] == 1 else 'stages 1-2'}{starts} reused from {filenames.PIPELINE_STATE}"


def _say_other_version(progress: bool, path: Path | None, stamp: str, sampler_kw: dict) -> None:
    """Say, in a progress line, that the stages' state at ``path``, this fit's, is not taken up
    because another version of tinylens wrote it (:func:`other_version`)."""
    if path is None or not resumes(sampler_kw):
        return
    if why := _of_other_version(path, stamp):
        _say(progress, f"stages 1-3 done again: {why}")


def run_pipeline(problem, sampler, settings, *, progress: bool = True,
                 checkpoint_dir: str | Path | None = None, sampler_settings: dict | None = None,
                 settings_for_run: Callable[[dict, int], dict] | None = None) -> InferenceResult:
    """Stages 1-3, then ``sampler(problem, settings, ...)`` (a runner of :mod:`tinylens.inference`)
    in the boxed priors, widened while the posterior of a run that converged crowds an edge (a run its
    budget stopped ends the fit: its edges are no evidence). ``settings_for_run(settings,
    run)``: the sampler's settings for its run ``run`` (1, then one more each time the box is
    widened; dynesty gives each run's evaluation history a file of its own); None: the same each run.
    The result's ``n_likelihood_evals`` counts the stages' gradient calls (``info["pipeline"]
    ["stage_gradient_evals"]``) and every sampling run's, earlier processes' too; its
    ``info["n_like_this_run"]`` stays the last sampler's, those it made in this process, as does
    ``info["resumed"]``; ``info["pipeline"]`` says what this process resumed of earlier ones': the
    stages (``resumed_stages``) and the sampling run that resumed its checkpoint (``resumed_run``)."""
    from tinylens.inference.common import CHECKPOINT_TEMPLATE

    start = time.perf_counter()
    template = CHECKPOINT_TEMPLATE.get()  # read here: save() may run on a stage's thread
    state_path = Path(checkpoint_dir) / filenames.PIPELINE_STATE if checkpoint_dir is not None else None
    stamp, parts = _stage_fingerprint(problem, settings), _stage_parts(problem, settings)
    sampler_kw = sampler_defaults(sampler, sampler_settings)
    _say_other_version(progress, state_path, stamp, sampler_kw)
    state = _reused_state(state_path, stamp, sampler_kw, problem)
    partial = state.pop("partial") if state is not None and is_partial(state) else None
    state = None if partial is not None else state
    objective = Objective(problem, threads=stage_threads(settings))
    if partial is not None and (why := other_threads(partial, objective.threads)):
        _say(progress, why)
        partial = None
    earlier = 0.0  # seconds spent by earlier runs of this fit, up to what they saved
    resumed_stages, resumed_run = state is not None, None  # what this process took up from earlier ones
    resumed_partly = None  # stages 1-3 taken up where an earlier run stopped in them: stages done, stage 3's starts

    kept = _ONCE.get()  # read here, as the template: save() may run on a stage's thread

    def save(part: dict[str, Any]) -> None:  # after stage 1, stage 2 and each start of stage 3
        if state_path is not None:
            _write_state(state_path, {"fingerprint": stamp, "version": _version(), "parts": parts, "partial": part,
                                      **_template_entry(template)}, kept)

    if state is None:
        if partial is not None:
            _say(progress, partial_reused(partial))
            resumed_partly = {"stages_done": partial["done"], "stage3_starts": len(partial.get("fits", []))}
            earlier = float(partial["time_s"])
        # its time_s includes the earlier runs' time in the stages, as a state reused whole does
        state = {"fingerprint": stamp, "version": _version(), "parts": parts,
                 **optimise(objective, settings, progress, partial=partial, save=save)}
    else:
        _say(progress, f"stages 1-3 reused from {filenames.PIPELINE_STATE}")
        earlier = float(state["time_s"])
    best = np.asarray(state["best"], dtype=float)
    priors = problem.priors
    if "box" in state:
        lower, upper = saved_box(state)
    elif settings.bounded:
        sigmas = bx.laplace_sigmas(objective.fisher(best))
        widths = bx.half_widths(problem.param_names, priors, best, sigmas, settings.n_sigma)
        lower, upper = bx.box_around(priors, best, widths)
        lower, upper = _prior_theta_E(problem, lower, upper, no_arc_found(state))
    else:
        lower = np.array([p.support[0] for p in priors])
        upper = np.array([p.support[1] for p in priors])
    floor = float(state["stages"].get("arc", {}).get("theta_E_floor", 0.0))
    lower = _floored(problem, lower, upper, floor)
    _save_box(state, state_path, lower, upper, template)
    runs = list(state.get("runs", []))  # finished by earlier runs of this fit, in boxes since widened
    earlier += sum(float(r["wall_time_s"]) for r in runs)
    n_stage = int(state["n_evals"])
    while True:
        boxed = _boxed(problem, lower, upper)
        where = sampling_where(settings.bounded, floor if _floor_cuts(problem, floor) else 0.0)
        _say(progress, f"4/4 sampling {where} (run {len(runs) + 1}; the log Z shown is the box's, the result adds "
                       f"the box's log prior mass, {bx.log_box_mass(priors, lower, upper):.2f})")
        run_kw = _run_settings(sampler_kw, settings_for_run, len(runs) + 1)
        saved = STAGES_SAVED.set(state_path is not None)  # the stages' results there are this fit's
        try:
            res = sampler(boxed, run_kw, progress=progress, checkpoint_dir=checkpoint_dir)
        finally:
            STAGES_SAVED.reset(saved)
        earlier += float(res.info.get("earlier_time_s", 0.0))  # of a run resumed from its checkpoint
        # without the box (bounded: false) its one edge is stage 3's theta_E floor, and nothing to widen
        edges = bx.crowded_edges(res.samples, res.weights, priors, lower, upper, own_range=not settings.bounded)
        runs.append({"n_likelihood_evals": res.n_likelihood_evals, "wall_time_s": res.wall_time_s,
                     "crowded": [f"{problem.param_names[i]}:{side}" for i, side in edges]})
        if res.info.get("resumed"):
            resumed_run = len(runs)
        if not edges or not settings.bounded or len(runs) > settings.max_widen:
            break
        if not res.converged:  # stopped by its budget: its edges are no evidence, and a new box would spend it again
            _say(progress, "posterior reaches the box at " + ", ".join(runs[-1]["crowded"])
                 + ", but the sampler stopped before converging: the box is not widened")
            break
        new_lower, new_upper = bx.widen(lower, upper, res.samples, res.weights, edges, priors)
        new_lower, new_upper = _prior_theta_E(problem, new_lower, new_upper, no_arc_found(state))
        new_lower = _floored(problem, new_lower, new_upper, floor)
        if np.array_equal(new_lower, lower) and np.array_equal(new_upper, upper):
            break  # nothing left to widen: sampling the same box again would give the same answer
        _say(progress, "posterior reaches the box at " + ", ".join(runs[-1]["crowded"]) + ": widening")
        state[WIDENED_FROM_KEY] = [[float(v) for v in lower], [float(v) for v in upper]]  # run's box: widened_run
        lower, upper = new_lower, new_upper
        state["runs"] = runs  # saved with the box that supersedes them (a resumed fit counts them)
        _save_box(state, state_path, lower, upper, template)
    log_mass = bx.log_box_mass(priors, lower, upper)
    info = dict(res.info, earlier_time_s=earlier)
    info["pipeline"] = {
        "stages": state["stages"],
        "stage_gradient_evals": n_stage,
        "best_fit": dict(zip(problem.param_names, map(float, best))),
        "box": {n: [float(a), float(b)] for n, a, b in zip(problem.param_names, lower, upper)},
        "log_box_prior_mass": log_mass,
        "sampling_runs": runs,
        "crowded_edges": runs[-1]["crowded"],
        "sampler_converged": bool(res.converged),  # the result's converged is also false where it crowds
        "stage_time_s": state["time_s"],
        "threads": state.get("threads", 1),  # of the run that made stages 1-3 (older checkpoints: 1)
        "arc_mask_pixels": len(state.get("arc_mask", [])),
        # info["resumed"] is the last run's: a fit that resumed its second run and sampled a third says false
        "resumed_stages": resumed_stages,
        "resumed_stages_partly": resumed_partly,  # None, or the stages and stage 3's starts an earlier run had done
        "resumed_run": resumed_run,  # the sampling run (1, 2, ...) that resumed its checkpoint here; None: none
    }
    return dataclasses.replace(
        res,
        log_evidence=None if res.log_evidence is None else float(res.log_evidence + log_mass),
        n_likelihood_evals=int(sum(r["n_likelihood_evals"] for r in runs) + n_stage),
        wall_time_s=time.perf_counter() - start + earlier,
        converged=bool(res.converged and not runs[-1]["crowded"]),
        info=info,
    )
