"""Model every lens in a folder on a Dask cluster, resumably, into one catalogue.

>>> from tinylens.survey.runner import run_survey
>>> catalog = run_survey("lenses/", "template.yaml", "survey_out", workers=4)

``lens_dir`` holds one folder per lens (``image.fits``, ``noise.fits``, ``psf.fits`` and
optionally ``mask.fits``, each also gzipped or tile-compressed: ``image.fits.gz``,
``image.fits.fz``); the folder name is the ``lens_id``. Each lens is fitted with
:func:`tinylens.fit` and the template's settings, its outputs going to
``out/lenses/<lens_id>/``; the true values in a simulated lens's ``truth.json`` are marked on
its corner plot (:func:`tinylens.survey.task.fit_lens`). Each task returns one flat row (see
:func:`tinylens.survey.rows.flat_row`), also written
as ``row.json`` next to the fit's ``result.json``; ``out/catalog.parquet`` and
``out/catalog.csv`` hold one row per lens and are rewritten as results arrive.

Started again on the same ``out``, a survey skips the lenses that are done, resumes the ones
that were interrupted (from their nested-sampling checkpoint) and, unless ``retry_failed``,
keeps the rows of lenses that failed. A worker that dies loses nothing: Dask reruns its lens
on another worker.

This module holds the survey's main loop (:func:`run_survey`, its plan and the handling of each
task's outcome); its parts are modules of their own, in the order the data flows through them:
:mod:`~tinylens.survey.discovery` (the lenses), :mod:`~tinylens.survey.template` (the template and
its checks), :mod:`~tinylens.survey.resume` (what an earlier run left), :mod:`~tinylens.survey.cluster`
and :mod:`~tinylens.survey.workers` (the Dask cluster and its workers' checks),
:mod:`~tinylens.survey.task` (what a worker runs for a lens, with :mod:`~tinylens.survey.attempts`),
:mod:`~tinylens.survey.rows` and :mod:`~tinylens.survey.catalog` (what comes back), and
:mod:`~tinylens.survey.deaths`, :mod:`~tinylens.survey.watch` and :mod:`~tinylens.survey.progress`
(workers that die or leave, and what the survey shows meanwhile).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import numbers
import os
import threading
import time
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tinylens import filenames
from tinylens.errors import (SURVEY_FOLDER_CHOICE, SURVEY_RERUN, SURVEY_WORKERS_ARGUMENT, UNWRITABLE, ConfigValueError, DataWarning, OutputError, TinyLensError, counted, cut_value, lens_count,
                             listed)
from tinylens.filenames import CATALOG_CSV, CATALOG_PARQUET, LENSES_DIR, SURVEY_LOCK_FILE
from tinylens.precision import get_precision
from tinylens.results.truth import TRUTH_FILE
from tinylens.simulate_limits import is_whole
from tinylens.survey.attempts import (attempt_workers, attempts, fit_digest, snapshot, stages_in_flight)
from tinylens.survey.catalog import write_catalog
from tinylens.survey.client import dask_client
from tinylens.survey import cluster as survey_cluster
from tinylens.survey import deaths as survey_deaths
from tinylens.survey import workers as survey_workers
from tinylens.survey.cluster import (Unanswered, checked_scheduler, for_example,
                                     lost_scheduler_text, not_fitted_text,
                                     scheduler_file, share_gpu_memory)
from tinylens.survey.deaths import (NOTE_JOIN_MARGIN, RESUBMITS, RETRIES, RefitCounts, Subscription,
                                    WORKER_EVENTS, _allowed_failures, fits_killed, killed_while_waiting,
                                    killed_worker_lines, memory_restarts, out_of_memory_reason, refit_note,
                                    restart_memory, resubmit_note, task_raises)
from tinylens.survey.discovery import Lens, find_lenses, is_closed, resolved
from tinylens.survey.progress import SurveyProgress
from tinylens.survey.provenance import (
    MANIFEST_FILE,
    manifest,
)
from tinylens.survey.resume import (EXTERNAL_CLUSTER_ATTR, FORGOTTEN_ATTR, LOCK_WAITERS_ATTR, RESTART_ATTR,
                                    SURVEY_LENSES_ATTR, TEMPLATE_DIGEST_ATTR, adopt_stamps, changed_lenses, changed_warning_text, check_manifest, check_out_name_fits,
                                    fitted_further, forget, holds_checkpoint, other_checkpoint, plan,
                                    recover_rows, recoverable_rows, restart_reason,
                                    resumed_names, resuming_lenses, set_aside)
from tinylens.survey.rows import (describe_exception,
                                  failed_row, is_done, read_row, read_rows, recovered_row,
                                  write_row)
from tinylens.survey.selection import select_lenses
from tinylens.survey.task import disk_failed_reason, fit_lens, missing_row, sampler_module, unwritable_cause
from tinylens.survey.template import check_template, lens_config, load_template, refused_files
from tinylens.survey.watch import (NO_WORKER_WAIT, NoWorkerWatch, NoWorkersLeft, check_no_worker_wait,
                                   connected_workers, no_worker_for_note, no_workers_note)
from tinylens.survey.workers import (REFUSED, check_worker_folders,
                                     check_worker_samplers, checked_task, good_workers, lacking_host_text, refused_worker_note, task_copies, task_view, unasked_copies)

#: Local worker processes when neither their number nor a scheduler is given (fewer on fewer
#: cores: :func:`default_workers`).
DEFAULT_WORKERS = 2
#: Local worker processes per available core beyond which ``--workers`` is refused: more than the
#: cores is only warned of (:func:`crowded_workers`), but thousands of processes, each its own
#: Python with JAX, would exhaust the machine's memory or process limit before fitting a lens.
MAX_WORKERS_PER_CORE = 32
#: The catalogue is rewritten after this many new rows (but not within MIN_FLUSH_SECONDS of the
#: last time: rewriting a large catalogue takes seconds), or FLUSH_SECONDS, and at the end.
FLUSH_EVERY = 10
MIN_FLUSH_SECONDS = 10.0
FLUSH_SECONDS = 60.0
#: Tasks submitted at a time: at least this many (a few kB each), and a few per worker thread;
#: bounds what the client and scheduler hold for very large surveys.
MIN_IN_FLIGHT = 1000
IN_FLIGHT_PER_THREAD = 2
#: Seconds the survey's loop waits between its looks for a task that came back (and for the no-worker
#: stop that gave up its tasks): at most this late in taking one in.
COMPLETED_POLL = 0.02
#: Seconds a lens refused while no other worker is connected is held back, where a worker that
#: fits lenses was connected within that time (its nanny restarting it, 7-12 s on a loaded node):
#: sent again once one is, not counted against the lens meanwhile (its refusals, a few ms each,
#: used up its resubmissions within a second and left it unfitted beside the worker coming back).
GOOD_WORKER_WAIT = NO_WORKER_WAIT
#: Seconds between the survey's looks for a worker to give the held lenses to.
HELD_POLL = 0.5


def cluster_threads(info: Mapping[str, Any]) -> int:
    """The worker threads of a cluster, from its scheduler's ``scheduler_info()``: its
    ``total_threads``, or (distributed 2024.x, without it) the sum over the workers it lists.
    distributed 2025.4 to 2026.6 lists only the first five workers there by default."""
    if "total_threads" in info:
        return int(info["total_threads"])
    return sum(int(w.get("nthreads", 1)) for w in info["workers"].values())


def _in_flight_limit(client: Any, known: int | None = None, info: Any = survey_workers.ASK) -> int:
    """How many tasks to keep submitted: a few per worker thread the scheduler knows of now. Where
    it cannot be asked, or gives no answer within :data:`CONNECT_TIMEOUT` (:func:`answered`: a busy
    scheduler, or one whose node died), the limit it last gave (``known``), else the fewest: a large
    cluster's threads are not left idle because one answer came late. ``info``: the scheduler's
    answer already had (:func:`~tinylens.survey.workers.every_worker_info`; ``None``: it gave none),
    not asked for again."""
    try:
        if info is None:
            raise LookupError("the scheduler gave no answer")
        threads = cluster_threads(survey_cluster.answered(client.scheduler_info, client=client) if info is survey_workers.ASK else info)
    except Exception:  # an info call failing, or not answered, must not stop the survey
        return known if known is not None else MIN_IN_FLIGHT
    return max(MIN_IN_FLIGHT, IN_FLIGHT_PER_THREAD * threads)


# -- the survey -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Outcome:
    """What became of a survey task, read once from its future (:func:`_outcome`): its status, the
    value of a finished one, and the exception of one that raised (``None`` where the client
    cancelled it since its status was read)."""

    status: str
    value: Any = None
    error: BaseException | None = None
    #: a finished task whose value came late (:class:`Unanswered`) and whose worker wrote no row
    #: (it refused its lens): sent again while the client is connected, not taken as dropped
    late: bool = False


def _outcome(future: Any, lens: Lens, out: Path) -> _Outcome:
    """The :class:`_Outcome` of the task of ``lens`` (in ``out``): its status read once, and a finished
    one's value fetched from the cluster once (:func:`_finished_value`), for :func:`_refusal` and
    :func:`_task_row` alike."""
    status = future.status
    if status == "finished":
        try:
            return _Outcome(status, value=_finished_value(future, lens, out))
        except Unanswered:  # a busy scheduler's late answer, and no row written: not known to be fitted
            return _Outcome(status, late=True)
    return _Outcome(status, error=future.exception() if status == "error" else None)


def _task_row(outcome: _Outcome, lens: Lens, out: Path, client: Any = None, local: bool = True) -> dict[str, Any] | None:
    """The row a finished task returned (its ``outcome``: :func:`_outcome`), a ``failed`` row (written)
    for a task that raised after its retries or whose workers kept dying (of ``client``'s cluster,
    ``local`` or not: the reason says so when they ran out of memory), or ``None`` for a task the
    cluster dropped (cancelled: the scheduler went away), which stays to be fitted by the next run."""
    if outcome.status == "finished":
        return outcome.value
    if outcome.status != "error":  # cancelled (the survey stopped, or lost its scheduler): its worker may have finished it
        return written_row(lens, out)
    exc = outcome.error
    if exc is None:  # cancelled since its status was read: the connection to the scheduler was lost
        return written_row(lens, out)
    if unwritable_cause(exc) is not None:  # every lens would fail so: the survey stops (unwritable_reported)
        raise unwritable_cause(exc)
    reason = _memory_reason(exc, client, local) or disk_failed_reason(exc)  # said with what to do
    row = failed_row(lens.lens_id, reason or describe_exception(exc))
    write_row(lens.output(out), row)
    return row


def written_row(lens: Lens, out: Path) -> dict[str, Any] | None:
    """The row the worker fitting ``lens`` wrote in its folder of ``out`` (``row.json``) before its
    value reached the survey (the task cancelled as the survey stopped, or its value lost with the
    scheduler), where the survey's resume would keep it (:func:`read_row` of this lens, and
    :func:`is_done`: an ``ok`` row with its ``result.json``); ``None`` otherwise: the lens stays to
    be fitted. The survey removed the rows of the lenses it fits before sending them (:func:`forget`),
    so such a row is this run's."""
    folder = lens.output(out)
    row = read_row(folder / filenames.ROW, lens.lens_id)
    return row if row is not None and is_done(row, folder) else None


def _finished_value(future: Any, lens: Lens, out: Path) -> Any:
    """What a finished task returned, fetched from the cluster; when the scheduler stops answering
    before it is fetched (a task that ended just as it was stopped), the row the task's worker wrote
    for ``lens`` (in ``out``), or ``None`` where there is none: the lens stays to be fitted. The value
    is given :data:`CONNECT_TIMEOUT` (:func:`answered`): a scheduler that no longer answers is not
    waited for; where it gave none in that time and the worker wrote no row (a busy scheduler's
    late answer to a task that refused its lens, say), :class:`Unanswered` is raised again."""
    from concurrent.futures import CancelledError

    try:
        return survey_cluster.answered(future.result, "survey-task-value", client=getattr(future, "client", None))
    except (OSError, CancelledError) as exc:  # CommClosedError, a connection refused or timed out (unanswered); or
        # the client cancelled the future (it does so to every one when it loses the scheduler) since its status was read
        row = read_row(lens.output(out) / filenames.ROW, lens.lens_id)
        if row is None and isinstance(exc, Unanswered):  # no row: a refusal's value, say (:func:`_outcome`)
            raise
        return row


def _refusal(outcome: _Outcome) -> dict[str, Any] | None:
    """What a finished task returned (its ``outcome``: :func:`_outcome`) when its worker refused its
    lens (:data:`checked_task`), else ``None``."""
    row = outcome.value if outcome.status == "finished" else None
    return row if isinstance(row, dict) and row.get("status") == REFUSED else None


def _memory_reason(exc: BaseException, client: Any, local: bool) -> str | None:
    """:func:`out_of_memory_reason` for ``client``'s cluster, asked again after
    :data:`MEMORY_EVENT_WAIT` for a KilledWorker: the nanny's event may come after the death."""
    from distributed import KilledWorker

    if client is None or not isinstance(exc, KilledWorker):
        return None
    reason = out_of_memory_reason(exc, memory_restarts(client), local)
    if reason is None:
        time.sleep(survey_deaths.MEMORY_EVENT_WAIT)
        reason = out_of_memory_reason(exc, memory_restarts(client), local)
    return reason


@dataclass(frozen=True)
class _State:
    """What a survey finds before it writes anything: the lens folders (all, and those chosen
    by ``only``), the template, ``out`` (resolved), the manifest of this run, the lenses whose
    files changed, the rows of ``out`` to keep, and the chosen lenses still to fit."""

    lenses: list[Lens]
    chosen: list[Lens]
    config: dict[str, Any]
    out: Path
    current: dict[str, Any]
    changed: dict[str, list[str]]
    rows: dict[str, dict[str, Any]]
    todo: list[Lens]


def _prepare(lens_dir: str | Path, template: str | Path, out: str | Path, reuse_finished: bool,
             only: Sequence[str] | None, retry_failed: bool, pipeline: bool = True) -> _State:
    """Read the lens folders, the template (without its pipeline where not ``pipeline``:
    :func:`load_template`) and ``out`` (nothing is written); ConfigError if
    ``out`` holds fits of another template or lens folder (unless ``reuse_finished``)."""
    from tinylens.fitting.checks import check_flag

    check_flag("pipeline", pipeline)
    lenses = find_lenses(lens_dir)
    chosen = lenses if only is None else select_lenses(lenses, only, resolved(lens_dir))
    config = load_template(template, bool(pipeline))
    out = resolved(out)
    current = manifest(resolved(lens_dir), resolved(template), config, get_precision())
    check_out_name_fits(out, chosen)  # before anything reads out
    if not reuse_finished:
        check_manifest(out, current, resolved(template), config)
    changed = changed_lenses(chosen, config, out)
    found, known = read_rows(out), {lens.lens_id for lens in lenses}
    _warn_of_gone(sorted(set(found) - known), out, resolved(lens_dir))
    rows = {k: v for k, v in found.items() if k in known and k not in changed}
    return _State(lenses, chosen, config, out, current, changed, rows, plan(chosen, rows, out, retry_failed, config))


def _warn_of_gone(gone: list[str], out: Path, lens_dir: Path) -> None:
    """A DataWarning naming the lenses ``gone`` that have a row in ``out`` but are no longer lens
    folders of ``lens_dir`` (deleted, moved, purged from a scratch disk): their rows leave the
    catalogue, which holds the lenses of ``lens_dir``, and their fits stay in ``out``. A lens whose
    folder is there but cannot be looked into is not named: :func:`find_lenses` warned of it."""
    gone = [lens_id for lens_id in gone if not is_closed(lens_dir / lens_id)]
    if gone:
        one = len(gone) == 1
        its, it = ("its", "it") if one else ("their", "they")
        warnings.warn(f"{lens_count(len(gone))} with a finished fit in {out / LENSES_DIR} {'is' if one else 'are'} no "
                      f"longer among the lens folders of {lens_dir} (deleted, moved, or purged from a scratch disk?): "
                      f"{listed(gone)}. The catalogue leaves {its} {'row' if one else 'rows'} out; {its} "
                      f"{'fit stays' if one else 'fits stay'} in {out / LENSES_DIR}, and {it} {'comes' if one else 'come'} "
                      f"back into the catalogue once {its} lens {'folder is' if one else 'folders are'} there again.",
                      DataWarning, stacklevel=4)


def available_cores() -> int:
    """The cores this process may run on, as Dask counts them: the fewest of the machine's, of
    its CPU affinity (the cores a SLURM job or ``taskset`` gives it) and of its cgroup's quota."""
    from dask.system import cpu_count

    return cpu_count()


def default_workers() -> int:
    """Local worker processes when none are asked for: :data:`DEFAULT_WORKERS`, or fewer where
    fewer cores are available (:func:`available_cores`), as in a SLURM job of one CPU: two
    workers on one core fit no faster than one, and each has half the memory."""
    return max(1, min(DEFAULT_WORKERS, available_cores()))


def check_whole_workers(workers: Any, argument: str = "") -> None:
    """ConfigValueError unless ``workers`` is a whole number (an integer, NumPy's too, not a bool, or
    one written as a float, ``2.0``, which ``run_survey`` counts as the integer it is, as
    ``--workers 2.0`` and :func:`~tinylens.simulate_limits.is_whole` do), which :func:`check_workers`
    then judges: ``2.5``, ``nan``, ``True`` or ``"2"`` is refused, as ``--workers 2.5`` is on the
    command line (``tinylens survey``, whose option gives no ``argument``); ``run_survey`` names its
    own (``argument``: :data:`SURVEY_WORKERS_ARGUMENT`)."""
    if isinstance(workers, numbers.Real) and not isinstance(workers, bool) and is_whole(workers):
        return
    named = f" ({argument})" if argument else ""
    raise ConfigValueError(f"--workers {cut_value(str(workers), 100)}{named}: the local cluster's worker processes are "
                           f"counted in whole numbers. Give --workers 1 or more, or leave it out for the default "
                           f"({default_workers()} here).")


def check_workers(workers: int, cores: int | None = None, argument: str = "") -> None:
    """TinyLensError unless a local cluster can have ``workers`` worker processes: at least one,
    and at most :data:`MAX_WORKERS_PER_CORE` per core of ``cores`` (default :func:`available_cores`).
    The message names ``--workers`` alone, as the command line (``tinylens survey``) gives it;
    ``run_survey`` names its own argument too (``argument``: :data:`SURVEY_WORKERS_ARGUMENT`), as
    :func:`check_whole_workers` does."""
    shown = cut_value(str(workers), 100)  # 400 digits given: their first and their length, not all of them
    named = f" ({argument})" if argument else ""
    if workers < 1:
        raise TinyLensError(
            f"--workers {shown}{named}: a local cluster needs at least 1 worker process. Give "
            f"--workers 1 or more, or leave it out for the default ({default_workers()} here).")
    cores = available_cores() if cores is None else cores
    if workers > MAX_WORKERS_PER_CORE * cores:
        raise TinyLensError(
            f"--workers {shown}{named} is more than {MAX_WORKERS_PER_CORE} times the "
            f"{counted(cores, 'core')} this survey may use (CPU affinity, cgroup quota, a SLURM job's --cpus-per-task): "
            "so many local worker processes, each its own Python with JAX, would only share them, and could use up "
            f"the machine's memory before fitting a lens. Give {cores} or fewer (at most {MAX_WORKERS_PER_CORE * cores}).")


def crowded_workers(workers: int, cores: int) -> str | None:
    """What ``workers`` local worker processes on ``cores`` available cores (:func:`available_cores`)
    cost, when they are more than the cores; ``None`` when they are not."""
    if workers <= cores:
        return None
    return (f"--workers {workers} is more than the {counted(cores, 'core')} this survey may use "
            "(CPU affinity, cgroup quota, a SLURM job's --cpus-per-task): the workers share them, so the lenses are "
            f"fitted no faster than with {cores}, and each worker gets 1/{workers} of the memory (Dask stops a worker "
            f"at 95 % of its share, and its lens fails 'Out of memory'). Give --workers {cores} or fewer.")


def survey_plan(lens_dir: str | Path, template: str | Path, out: str | Path, retry_failed: bool = False,
                reuse_finished: bool = False, only: Sequence[str] | None = None,
                check: bool = True, pipeline: bool = True) -> dict[str, Any]:
    """What :func:`run_survey` with these arguments would do, without writing anything.

    Raises as the survey would for a template or ``out`` it would refuse (the template is
    checked against the lenses to fit when ``check``). Returns the counts of lens folders
    (``n_folders``) and chosen ones (``n_chosen``), the lens ids of ``ok`` and ``failed`` rows
    that are kept, of lenses whose ``result.json`` lacks a row (``recover``: its row is rebuilt,
    no fit), and of the lenses to fit by why: ``new``, ``resume`` (a checkpoint is there
    and the template does not set ``resume: false``), ``other_checkpoint`` (the checkpoint there was
    written by a fit of another template or precision, :func:`other_checkpoint`: resumed only where
    its fingerprint is this fit's all the same, which only loading the lens tells),
    ``changed`` (their files changed since their fit), ``retry`` (failed, ``retry_failed``);
    ``running``: who runs a survey on ``out`` now (``None``: nobody, or not known);
    ``running_unknown``: why that cannot be told (its lock file cannot be read), else ``None``;
    ``checked_with``: the lens the template was checked with, the lenses whose files are not
    ``refused`` tried first (``None``: not checked, or no lens tried had readable data);
    ``broken``: then, each lens tried and why its data could not be read;
    ``refused``: each lens to fit whose files its fit would refuse, and why, from their FITS
    headers (:func:`refused_files`: every lens to fit, not only those the template is checked with).
    """
    from tinylens.locks import HolderUnknown, held_by
    from tinylens.results.tables import file_in_the_way

    blocked = file_in_the_way(resolved(out))
    if blocked is not None:  # as run_survey's ensure_writable would find, without creating the folder
        raise OutputError(f"The survey output folder {resolved(out)} cannot be written ({blocked} is a file, not a "
                          f"folder); choose another {SURVEY_FOLDER_CHOICE}.")
    state = _prepare(lens_dir, template, out, reuse_finished, only, retry_failed, pipeline)
    checked, broken = None, {}
    refused = refused_files(state.todo, state.config)
    if check and state.todo:  # with the lenses whose files are not refused first: a lens that fails anyway checks nothing
        checked = check_template(state.config, state.todo, state.out, name=f"template {resolved(template)}",
                                 broken=broken, refused=refused, every=state.lenses)
    chosen = {lens.lens_id for lens in state.chosen}.difference(lens.lens_id for lens in state.todo)
    kept = {key: row.get("status") for key, row in sorted(state.rows.items()) if key in chosen}
    todo = {"new": [], "resume": [], "other_checkpoint": [], "changed": [], "retry": []}
    recover = []
    started = resumed_names(state.config)  # resume: false: afresh
    digest = fit_digest(state.config)
    cache: dict[Any, dict[str, Any]] = {}  # the template validated once (settings_of)
    for lens in state.todo:
        folder, row = lens.output(state.out), state.rows.get(lens.lens_id)
        if lens.lens_id in state.changed:
            todo["changed"].append(lens.lens_id)
        elif row is not None and row.get("status") == "failed":
            todo["retry"].append(lens.lens_id)
        elif row is None and (recovered := recovered_row(lens, state.out)) is not None \
                and not fitted_further(lens, recovered, state.config, state.out, cache):  # as the run's recover_rows, then plan
            recover.append(lens.lens_id)
        elif any((folder / name).exists() for name in started):  # looked for once (holds_checkpoint's test)
            # of another template (other_checkpoint): its fingerprint decides; else resumed
            todo["other_checkpoint" if other_checkpoint(folder, digest, started) else "resume"].append(lens.lens_id)
        else:
            todo["new"].append(lens.lens_id)
    try:
        running, unknown = held_by(state.out / SURVEY_LOCK_FILE), None
    except HolderUnknown as exc:  # not said to be free
        running, unknown = None, str(exc)
    return {"lens_dir": str(resolved(lens_dir)), "out": str(state.out),
            "running": running, "running_unknown": unknown, "checked_with": checked,
            "broken": broken if checked is None else {},
            "n_folders": len(state.lenses), "n_chosen": len(state.chosen),
            "ok": [key for key, status in kept.items() if status == "ok"],
            "failed": [key for key, status in kept.items() if status == "failed"],
            "recover": recover, "to_fit": todo,
            "refused": {key: why for key, why in refused.items() if key not in recover}}


def run_survey(
    lens_dir: str | Path,
    template: str | Path,
    out: str | Path,
    workers: int | None = None,
    scheduler: str | Path | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    reuse_finished: bool = False,
    only: Sequence[str] | None = None,
    pipeline: bool = True,
    no_worker_wait: float | None = None,
) -> pd.DataFrame:
    """Fit every lens folder in ``lens_dir`` with the ``template`` config; return the catalogue.

    Runs on a new local Dask cluster of ``workers`` processes (default :func:`default_workers`:
    2, or 1 where one core is available), or on the existing one at
    ``scheduler`` (an address, or the scheduler file that ``dask scheduler --scheduler-file``
    writes; its workers must see the same files). Lenses already done in ``out`` are
    skipped; interrupted ones resume; failed ones are fitted again only with ``retry_failed``;
    a lens whose files changed since its fit is fitted again, and one that its sampler's budget
    (``n_like_max``, ``timeout``) stopped is fitted further where the template raises or removes
    that limit (:func:`stopped_by_another_budget`). An ``out`` whose fits were made with another
    template or lens folder is refused, unless ``reuse_finished``.

    With ``only`` (lens ids), only those lenses are fitted (or checked for changed files); the
    catalogue still holds every lens of ``lens_dir`` that ``out`` has a row for. ``pipeline=False``
    (``tinylens survey --no-pipeline``) fits each lens as ``tinylens fit --no-pipeline`` does, the
    sampler alone (:func:`load_template`): part of the template, so that ``out``'s fits made with
    the other value are refused as another template's are. ``no_worker_wait`` (seconds, default
    :data:`NO_WORKER_WAIT`; 0: never): a local cluster that has had no worker that long (its
    workers died and were not started again) stops the survey with :class:`NoWorkersLeft`, the
    finished lenses kept; on an external ``scheduler`` it is only said. A
    KeyboardInterrupt out of it names ``out`` (:data:`tinylens.interrupts.INTERRUPTED_FOLDER_ATTR`), whose
    catalogue then holds the lenses finished.
    """
    from tinylens.interrupts import folder_on_interrupt, marked_on_interrupt

    if workers is not None:  # 2.5 or True would reach the local cluster (True as 1 worker): refused as --workers 2.5 is
        check_whole_workers(workers, SURVEY_WORKERS_ARGUMENT)
    workers = default_workers() if workers is None else int(workers)  # 2.0 as 2: Dask's cluster takes no float
    no_worker_wait = NO_WORKER_WAIT if no_worker_wait is None else check_no_worker_wait(no_worker_wait)
    lens_ids: list[str] = []  # filled once the lens folders are read
    digest: list[str] = []  # and the template's digest once it is read
    with folder_on_interrupt(resolved(out)), marked_on_interrupt(SURVEY_LENSES_ATTR, lens_ids), \
            marked_on_interrupt(TEMPLATE_DIGEST_ATTR, digest):
        return _run_survey(lens_dir, template, out, workers, scheduler, progress, retry_failed, reuse_finished, only,
                           pipeline, lens_ids, digest, no_worker_wait)


def _run_survey(lens_dir: str | Path, template: str | Path, out: str | Path, workers: int, scheduler: str | Path | None,
                progress: bool, retry_failed: bool, reuse_finished: bool, only: Sequence[str] | None,
                pipeline: bool = True, lens_ids: list[str] | None = None,
                digest: list[str] | None = None, no_worker_wait: float | None = None) -> pd.DataFrame:
    """:func:`run_survey`'s work; ``lens_ids`` is given the ids of the chosen lenses once they are read
    (:data:`SURVEY_LENSES_ATTR`), ``digest`` the template's digest (:data:`TEMPLATE_DIGEST_ATTR`)."""
    from tinylens.interrupts import marked_on_interrupt
    from tinylens.locks import folder_lock, refuse_if_held
    from tinylens.atomic import remove_unfinished
    from tinylens.results.tables import ensure_writable, write_json

    share_gpu_memory()  # before the template check's first JAX computation; local workers inherit it
    if scheduler is None:
        check_workers(workers, argument=SURVEY_WORKERS_ARGUMENT)
    file = scheduler_file(scheduler) if scheduler is not None else None  # named again if the scheduler is lost
    if scheduler is not None:
        scheduler = checked_scheduler(scheduler)
    state = _prepare(lens_dir, template, out, reuse_finished, only, retry_failed, pipeline)
    lenses, chosen, config, out = state.lenses, state.chosen, state.config, state.out
    if lens_ids is not None:
        lens_ids.extend(lens.lens_id for lens in chosen)
    if digest is not None and (made := fit_digest(config)) is not None:
        digest.append(made)
    current, changed, rows = state.current, state.changed, state.rows
    busy = (f"The survey output folder {out} is being written by another tinylens survey{{holder}}. Wait for it "
            f"to finish, or give another {SURVEY_FOLDER_CHOICE}.")
    refuse_if_held(out, SURVEY_LOCK_FILE, busy)  # at once, not after the template check's compilation
    restart = restart_reason(config)
    if state.todo:
        with marked_on_interrupt(RESTART_ATTR, restart):
            check_template(config, state.todo, out, name=f"template {resolved(template)}", every=lenses)
    new_folder = not out.exists()
    ensure_writable(out, f"another {SURVEY_FOLDER_CHOICE}", what="The survey output folder")  # its reason kept
    try:
        with unwritable_reported(out), folder_lock(out, SURVEY_LOCK_FILE, busy=busy, rerun=SURVEY_RERUN) as locked, \
                marked_on_interrupt(RESTART_ATTR, restart):
            if not locked:
                warn_unlocked(out)
            todo = plan(chosen, {**rows, **recoverable_rows([x for x in lenses if x.lens_id not in changed], out, rows)},
                        out, retry_failed, config)
            resuming = resuming_lenses(todo, rows, changed, out, config)  # before forget: the failed rows
            # connected (the workers checked) before anything is written: a refused cluster leaves out as it was
            silent: list[str] = []  # workers whose import check gave no answer: not waited for again
            folders_unchecked: dict[str, str] = {}  # workers whose folders were not checked, with why
            copies_unchecked: dict[str, str] = {}  # workers whose tinylens was not checked, with why
            with dask_client(workers, scheduler, silent, copies_unchecked) if todo else contextlib.nullcontext() as client:
                lacking: dict[str, dict[str, str]] = {}  # workers whose Python lacks the sampler's package
                if client is not None and scheduler:  # a local cluster's workers share this machine's disks and Python
                    folders_unchecked = check_worker_folders(client, out, resolved(lens_dir), todo, skip=silent)
                    lacking = check_worker_samplers(client, sampler_module(config), skip=silent)
                remove_unfinished(out / MANIFEST_FILE, out / CATALOG_PARQUET, out / CATALOG_CSV)  # a killed survey's
                write_json(out / MANIFEST_FILE, current)
                if changed:
                    warnings.warn(changed_warning_text(changed), DataWarning, stacklevel=2)
                    set_aside(sorted(changed), out, config)
                adopt_stamps(lenses, config, out)
                recover_rows(lenses, out, rows)
                forget(todo, rows, out)
                # a retried failure's result.json (or one that cannot be read): not this run's, which a task may adopt
                set_aside([lens.lens_id for lens in todo if (lens.output(out) / filenames.RESULT).exists()], out, config)
                with marked_on_interrupt(FORGOTTEN_ATTR, True):
                    if not todo:
                        return write_catalog(rows, out)
                    done = [rows[lens.lens_id] for lens in chosen if lens.lens_id in rows]
                    return _fit_lenses(todo, rows, config, out, done, workers, scheduler, progress, client=client,
                                       check_folders=bool(scheduler), silent=silent,
                                       folders_unchecked=folders_unchecked, copies_unchecked=copies_unchecked,
                                       resuming=resuming, scheduler_file=file, no_worker_wait=no_worker_wait,
                                       lacking=lacking)
    except BaseException:
        if new_folder:  # refused (or stopped) before writing anything: no empty folder left to puzzle over
            with contextlib.suppress(OSError):
                out.rmdir()
        raise


def warn_unlocked(out: Path) -> None:
    """A DataWarning for a survey that runs on ``out`` without its lock (:data:`~tinylens.filenames.SURVEY_LOCK_FILE`):
    the file system has no ``flock`` (some Lustre and NFS mounts), so a second survey on ``out``
    would not be refused, and the lens folders' locks do nothing either."""
    warnings.warn(f"The file system of the survey output folder {out} does not support file locks (flock; some "
                  "Lustre and NFS mounts do not): a second tinylens survey started on this folder while this one "
                  "runs would not be refused, and the two would fit the same lenses and overwrite each other's "
                  f"files. Run one survey at a time on it (or choose another {SURVEY_FOLDER_CHOICE} on a disk with "
                  "locks).", DataWarning, stacklevel=3)


def unwritable_text(out: Path, exc: OSError) -> str:
    """What a survey stopped by ``exc`` (of :data:`UNWRITABLE`) says: the output folder ``out``,
    the file it wrote where the error names one, why, what is kept and how to go on."""
    what = f"{exc.filename} cannot be written" if exc.filename else "a file cannot be written"
    if exc.errno == errno.EROFS:
        why, then = "the disk is mounted read-only", "once it is writable again"
    else:
        why, then = "the disk, or your quota on it, is full", "after freeing some space"
    return (f"The survey output folder {out}: {what} ({os.strerror(exc.errno)}: {why}). Nothing there is "
            "half-written; the finished lenses are kept, each with its row (lenses/<lens_id>/row.json), from which "
            f"the catalogue is rebuilt. Run {SURVEY_RERUN} again {then} to fit the rest.")


@contextlib.contextmanager
def unwritable_reported(out: Path) -> Iterator[None]:
    """Raise an OSError of :data:`UNWRITABLE` inside (a full disk while writing the catalogue,
    a row or the manifest) as an OutputError saying so (:func:`unwritable_text`), not a traceback."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in UNWRITABLE:
            raise
        raise OutputError(unwritable_text(out, exc)) from None


def _fit_lenses(todo: list[Lens], rows: dict[str, dict[str, Any]], config: Mapping[str, Any], out: Path,
                done: list[dict[str, Any]], workers: int, scheduler: str | None, progress: bool,
                client: Any = None, check_folders: bool = False, silent: Sequence[str] = (),
                folders_unchecked: Mapping[str, str] | None = None,
                copies_unchecked: Mapping[str, str] | None = None, resuming: Collection[str] = (),
                scheduler_file: Path | None = None, no_worker_wait: float | None = None,
                lacking: Mapping[str, Mapping[str, str]] | None = None) -> pd.DataFrame:
    """Fit the lenses ``todo`` on the Dask cluster (``client``'s, else a :func:`~tinylens.survey.client.dask_client` of
    ``workers`` and ``scheduler``), adding their rows to ``rows`` and rewriting the catalogue as
    they come; return the catalogue. The progress counts ``todo`` and the rows ``done`` of the
    other lenses the survey is about. With ``check_folders`` each task first asks its worker
    whether it sees the lens folder and ``out`` as this process does (:func:`task_view`), as
    :func:`check_worker_folders` asked the workers connected at the start (a lens whose folder this
    process no longer sees either, removed since, is then given to its fit unasked, which fails it
    naming what is missing: no worker is blamed). The workers ``silent``
    (their import check gave no answer) and those of ``copies_unchecked`` (their tinylens not checked,
    :func:`~tinylens.survey.workers.check_worker_imports`'s answer) are not asked for their tinylens again (:func:`task_copies`,
    :func:`unasked_copies`); those of ``folders_unchecked`` were not asked about the folders
    (:func:`check_worker_folders`'s answer); the note of one refusing a lens says so (:func:`refused_worker_note`). ``resuming``: the ids
    of ``todo`` that resume from a checkpoint, counted as the survey starts and left out of its rate (:class:`SurveyProgress`);
    ``scheduler_file``: the file ``scheduler`` was read from, named if the scheduler is lost.
    ``no_worker_wait`` (default :data:`NO_WORKER_WAIT`; 0: never): once the cluster has had no
    worker for that many seconds (:class:`NoWorkerWatch`), a local cluster's survey cancels its
    tasks, writes the catalogue and raises :class:`NoWorkersLeft`; an external scheduler's says so
    (:func:`no_worker_for_note`) and goes on waiting. Each task also asks its worker whether its
    Python has the package the template's sampler needs (:func:`missing_here`); the workers
    ``lacking`` it (:func:`check_worker_samplers`'s answer, each host said then) and those that
    refuse a lens for it (each host said once: :func:`lacking_host_text`) are given no lens while
    another worker is connected; a lens that only such workers could take fails, its row naming
    the host and what to install there (:func:`missing_row`)."""
    from distributed import KilledWorker, as_completed

    from tinylens.locks import holder_text

    total = len(todo) + len(done)
    queue = iter(todo)
    dropped: list[str] = []  # their tasks dropped by the cluster
    unsent: list[str] = []  # their tasks never sent: the client gave up, or the survey stopped
    lost = ""  # the address of the scheduler, once the connection to it was lost
    flushed_at, unflushed = time.monotonic(), 0
    lens_of: dict[Any, Lens] = {}  # the tasks sent and not yet taken back, with their lenses (heartbeat's thread too)
    taking: list[Lens] = []  # the lens whose task the loop took back last (out of lens_of), until the loop ends
    started: dict[str, int] = {}  # fits of each lens started before its first submission (heartbeat's thread too)
    wait = NO_WORKER_WAIT if no_worker_wait is None else no_worker_wait
    stalled: list[float] = []  # the seconds a local cluster had no worker, once the survey stopped for it
    submit_lock = threading.Lock()  # a lens submitted, or the survey stopped for want of workers: not both at once
    abandoned = threading.Event()  # the stop's cancel unanswered: the loop ends without the tasks still out
    with contextlib.nullcontext(client) if client is not None else dask_client(workers, scheduler) as client, \
            SurveyProgress(total, done, progress, workers=lambda: connected_workers(client), resuming=resuming,
                           stage=lambda: stages_in_flight(snapshot(lens_of), out, started)) as bar, \
            killed_worker_lines() as lines, \
            cluster_on_interrupt(scheduler, lambda: fits_in_flight(lens_of, out, started),
                                 lambda: waiting_for_locks(lens_of, out, started)):
        write_catalog(rows, out)  # once connected: a cluster that cannot be reached leaves no catalogue
        none_yet = bool(scheduler) and connected_workers(client) == 0
        if none_yet:  # workers queued on a batch system, or none started
            bar.note(no_workers_note(scheduler))
        running = as_completed()
        allowed = _allowed_failures(client)
        keyed: dict[str, Lens] = {}  # the lenses of the tasks in flight by key, for the cluster's events (its thread)
        task_deaths: dict[str, list[str]] = {}  # the workers holding each task that died, by key, as Dask counts them
        fits_before: dict[str, int] = {}  # the fits of each task's lens started before the task was submitted, by key
        keys_lock = threading.Lock()  # keyed and task_deaths: the events' loop reads, the main thread pops
        names, digest = resumed_names(config), fit_digest(config)
        resubmitted: dict[str, int] = {}
        refits = RefitCounts(started, allowed)  # the deaths of workers fitting a lens, said
        events = Subscription(client, WORKER_EVENTS, lambda event: on_event(event))  # the cluster's, from events.open()
        noting: list[threading.Thread] = []  # the threads saying a worker's death (note_refits)
        copies = task_copies(client, unasked_copies(silent, copies_unchecked))
        lock = out / SURVEY_LOCK_FILE
        mine = holder_text(lock) if check_folders and lock.is_file() else ""
        fit = f"{fit_lens.__module__}:{fit_lens.__qualname__}"  # (a test's stand-in where it is one)
        refused: dict[str, dict[str, Any]] = {  # workers of another tinylens, blind to a folder, or lacking the sampler
            address: {"status": REFUSED, "worker": address, **missing} for address, missing in (lacking or {}).items()}
        told_hosts = {(missing["host"], missing["missing"]) for missing in (lacking or {}).values()}  # said at the start
        needs = sampler_module(config)
        refusals: dict[str, int] = {}
        unfitted: list[str] = []  # refused by every worker they were given to
        held: list[Lens] = []  # refused while the workers that fit lenses were away: sent once one is back
        good_seen = [-math.inf]  # when a worker not refused was last known connected (monotonic seconds)
        held_looked = [0.0]  # when the survey last looked for a worker to give the held lenses to
        held_since = [0.0]  # when the first of the lenses held now was held (monotonic seconds)
        gone: set[str] = set()  # lenses whose folder this process no longer sees either: their workers not asked

        def submit(lens: Lens, info: Any = survey_workers.ASK) -> None:
            with submit_lock:
                if stalled:  # stopped for want of workers: left for the next run
                    unsent.append(lens.lens_id)
                    return
                _submit(lens, info)

        def _submit(lens: Lens, info: Any) -> None:
            nonlocal lost
            before = attempts(lens.output(out))
            started.setdefault(lens.lens_id, before)
            where = good_workers(client, refused, info) if refused else None  # preferred, while there are some
            if where is not None:  # a worker not refused is connected
                good_seen[0] = time.monotonic()
            try:
                future = client.submit(checked_task, copies, fit, lens.lens_id, lens_config(config, lens, out),
                                       str(lens.output(out)), truth_path=str(lens.folder / TRUTH_FILE),
                                       precision=get_precision(),
                                       seen=task_view(out, mine, lens) if check_folders and lens.lens_id not in gone else None,
                                       needs=needs, pure=False, retries=RETRIES, workers=where, allow_other_workers=where is not None)
            except Exception:  # distributed's ClosedClientError (a plain Exception), or an older one's
                if client.status != "closed":  # only where the client gave up reconnecting to a lost scheduler
                    raise
                unsent.append(lens.lens_id)
                lost = scheduler or lost
                return
            lens_of[future] = lens
            fits_before[str(future.key)] = before
            keyed[str(future.key)] = lens
            lines.watch(future.key)
            running.add(future)

        limits: list[int] = []  # the last tasks-in-flight limit the scheduler answered for

        def submit_more() -> None:
            # with a worker refused, one question tells both the threads and the workers to prefer
            info = survey_workers.every_worker_info(client) if refused else survey_workers.ASK
            limit = _in_flight_limit(client, known=limits[-1] if limits else None, info=info)
            limits[:] = [limit]
            while running.count() < limit and (lens := next(queue, None)) is not None:
                submit(lens, info)

        def note_refits(lenses: Sequence[Lens], worker: str, deaths: Mapping[str, int],
                        tasks: Mapping[str, tuple[int, Callable[[], int]]]) -> None:
            said = [(lens, holds_checkpoint(lens.output(out), names, digest))
                    for lens in refits.stopped(lenses, out, deaths, worker, tasks)]
            memory = restart_memory(client, worker) if said and worker else None  # its nanny's, out of memory
            for lens, checkpoint in said:
                if not events.ended.is_set():  # not after the survey's last lines
                    bar.note(refit_note(lens.lens_id, worker, checkpoint, memory))

        def on_event(event: Any) -> None:  # on the client's event loop: the files are read in a thread of their own
            msg = event[1] if isinstance(event, tuple) and len(event) == 2 else None
            if not isinstance(msg, Mapping) or msg.get("action") != "remove-worker":
                return
            unexpected = not msg.get("expected")  # Dask counts a worker's unexpected removal against each task it held
            # under the lock the main thread takes back a task with: one that came back meanwhile (its
            # KilledWorker, sent before this event) is neither looked up nor counted again once popped
            with keys_lock:
                held = [(key, lens) for key in map(str, msg.get("processing-tasks") or ())
                        if (lens := keyed.get(key)) is not None]
                if unexpected:
                    for key, _ in held:
                        task_deaths.setdefault(key, []).append(str(msg.get("worker") or ""))
                deaths = {lens.lens_id: len(task_deaths.get(key, ())) for key, lens in held}
                tasks = {lens.lens_id: (fits_before.get(key, started.get(lens.lens_id, 0)),
                                        functools.partial(task_raises, client, key)) for key, lens in held}
            hit = [lens for _, lens in held]
            if hit:
                thread = threading.Thread(target=note_refits, args=(hit, str(msg.get("worker") or ""), deaths, tasks),
                                          daemon=True, name="survey-refit-note")
                noting.append(thread)
                thread.start()

        def on_stall(seconds: float) -> None:  # on the watch's thread
            if scheduler:  # its workers may come later, from a batch queue: said, and waited for
                bar.note(no_worker_for_note(scheduler, seconds))
                return
            with submit_lock:  # no task is submitted after this: every one sent is cancelled
                stalled.append(seconds)
                waiting = [future for future in list(lens_of) if not future.done()]
            try:  # the loop below takes them back (dropped) and ends; given CONNECT_TIMEOUT (answered):
                # a cluster that does not answer (its event loop held) must not hold the stop for ever
                survey_cluster.answered(lambda: client.cancel(waiting), "survey-cancel", client=client)
            except Exception:  # not answered (or refused): the loop ends without them, left for the next run
                abandoned.set()  # not running.clear(): from this thread it could empty the queue the loop takes from

        def release_held() -> None:
            """Send the ``held`` lenses again once a worker not refused is connected, or once none has
            been for :data:`GOOD_WORKER_WAIT` (their refusals then count); looked at every :data:`HELD_POLL` s.
            Once the survey stopped for want of workers (``stalled``), or the client closed (its scheduler
            lost, distributed having given up reconnecting), at once: left for the next run (:func:`submit`)."""
            if stalled or client.status == "closed":  # not held until GOOD_WORKER_WAIT: the stop, or the
                # lost scheduler's error, would wait that long for them
                waiting, held[:] = list(held), []
                for lens in waiting:
                    submit(lens)  # unsent: stopped, or refused by the closed client
                return
            now = time.monotonic()
            if now - held_looked[0] < HELD_POLL:
                return
            held_looked[0] = now
            info = survey_workers.every_worker_info(client)
            back = good_workers(client, refused, info) is not None
            if not back and now - good_seen[0] < GOOD_WORKER_WAIT:
                return
            waiting, held[:] = list(held), []
            bar.note(held_sent_note([lens.lens_id for lens in waiting], back, now - held_since[0]))
            for lens in waiting:
                submit(lens, info)

        def completed() -> Iterator[Any]:
            """``running``'s tasks as they come back, taken from it by this thread alone (its own
            iteration waits on a queue that another thread's clear can empty between its look and its
            take, for ever), until the stop gave up the tasks still out (``abandoned``); the ``held``
            lenses sent again meanwhile (:func:`release_held`)."""
            while not abandoned.is_set():
                if held:
                    release_held()
                if running.has_ready():
                    yield next(running)  # one is queued, and only this thread takes from the queue
                elif running.is_empty() and not held:
                    return
                else:
                    abandoned.wait(COMPLETED_POLL)

        events.open()  # no events from some schedulers: the lens is then fitted again unsaid
        watch = NoWorkerWatch(lambda: connected_workers(client), wait, on_stall, said=none_yet)
        try:
            watch.__enter__()
            submit_more()
            for future in completed():
                lens = lens_of.pop(future)
                taking[:] = [lens]
                with keys_lock:
                    keyed.pop(str(future.key), None)
                    dead = task_deaths.pop(str(future.key), [])
                first = fits_before.pop(str(future.key), started[lens.lens_id])
                fit_workers = attempt_workers(lens.output(out))[first:]
                killed = future.status == "error" and isinstance(future.exception(), KilledWorker)
                # the scheduler asked how often its fits raised only of a task it gave up on
                fits = fits_killed(future, fit_workers, dead, allowed, task_raises(client, future.key)) if killed else 0
                if resubmitted.get(lens.lens_id, 0) < RESUBMITS and killed_while_waiting(future, fits, allowed):
                    resubmitted[lens.lens_id] = resubmitted.get(lens.lens_id, 0) + 1
                    lines.settle(future.key, resubmitted=True)  # said below instead of Dask's ERROR line
                    deaths = allowed + 1  # Dask gives up after allowed + 1 deaths
                    bar.note(resubmit_note(lens.lens_id, fits, resubmitted[lens.lens_id], deaths))
                    future.release()
                    submit(lens)
                    continue
                outcome = _outcome(future, lens, out)  # its value fetched once, for both
                refusal = _refusal(outcome)
                if refusal is not None:  # not fitted: given to another worker, or left for the next run
                    lines.settle(future.key, resubmitted=True)
                    future.release()
                    if refusal.get("unseen") and not os.path.isdir(lens.folder):  # removed since the survey
                        # started: no worker's doing; its fit, not asked, fails it naming what is missing
                        gone.add(lens.lens_id)
                        submit(lens)
                        continue
                    lacks = refusal.get("missing")
                    new_worker = refusal["worker"] not in refused
                    refused[refusal["worker"]] = refused.get(refusal["worker"], refusal)
                    info = survey_workers.every_worker_info(client)  # one question for the lines below and submit
                    none_left = good_workers(client, refused, info) is None
                    if not none_left:
                        good_seen[0] = time.monotonic()
                    if new_worker:
                        if not lacks:
                            bar.note(refused_worker_note(refusal, survey_workers.my_copy(), silent, folders_unchecked, copies_unchecked))
                        elif (refusal["host"], lacks) not in told_hosts:  # one line per host
                            told_hosts.add((refusal["host"], lacks))
                            bar.note(lacking_host_text(refusal["host"], lacks, refusal["python"], [refusal["worker"]],
                                                       none_left, lead="survey: host"))
                    # Held against the lens only where no other worker could take it: while one is busy,
                    # Dask's work stealing hands its queued lenses to the idle worker that refuses them,
                    # again and again, which must not leave them unfitted beside a worker that fits them.
                    if none_left and time.monotonic() - good_seen[0] < GOOD_WORKER_WAIT:  # the good one restarting:
                        if not held:  # said once, as the first is held: the bar stands still meanwhile
                            held_since[0] = time.monotonic()
                            bar.note(held_note(lens.lens_id, refusal["worker"],
                                               GOOD_WORKER_WAIT - (held_since[0] - good_seen[0])))
                        held.append(lens)  # sent once it is back (release_held), the refusal not counted
                        continue
                    if none_left:
                        refusals[lens.lens_id] = refusals.get(lens.lens_id, 0) + 1
                    if refusals.get(lens.lens_id, 0) <= RESUBMITS:
                        submit(lens, info)
                    elif lacks:  # no worker connected has the sampler's package: failed, saying where to install it
                        row = missing_row(lens.lens_id, refusal)
                        write_row(lens.output(out), row)
                        bar.update(row)
                        rows[lens.lens_id] = row
                        unflushed += 1
                        submit_more()
                    else:
                        unfitted.append(lens.lens_id)
                        submit_more()
                    continue
                lines.settle(future.key, resubmitted=False)
                row = _task_row(outcome, lens, out, client, local=not scheduler)
                if outcome.status == "finished":  # a worker that fits lenses is connected
                    good_seen[0] = time.monotonic()
                future.release()
                if row is None and outcome.late and client.status == "running" \
                        and resubmitted.get(lens.lens_id, 0) < RESUBMITS:  # a busy scheduler's late value: sent again
                    resubmitted[lens.lens_id] = resubmitted.get(lens.lens_id, 0) + 1
                    submit(lens)
                    continue
                if row is None:
                    dropped.append(lens.lens_id)
                    if scheduler and client.status != "running":  # reconnecting, or given up: cancelled its tasks
                        lost = scheduler
                    continue
                bar.update(row)
                rows[lens.lens_id] = row
                unflushed += 1
                since = time.monotonic() - flushed_at
                if (unflushed >= FLUSH_EVERY and since >= MIN_FLUSH_SECONDS) or since >= FLUSH_SECONDS:
                    write_catalog(rows, out)
                    flushed_at, unflushed = time.monotonic(), 0
                submit_more()
            taking.clear()  # every task taken back, as it ended (dropped, refused, or its row in rows)
            unsent.extend(lens.lens_id for lens in [*held, *queue])  # never submitted: no more are after a task dropped
            # A death just before the last lens came back is still being said (its nanny's memory is
            # asked again after MEMORY_EVENT_WAIT): said before the survey's last lines, not dropped.
            for thread in list(noting):
                thread.join(timeout=survey_deaths.MEMORY_EVENT_WAIT + NOTE_JOIN_MARGIN)
        finally:
            try:  # waits for a stop under way, its cancel given CONNECT_TIMEOUT (on_stall): a Ctrl-C meanwhile
                watch.__exit__()
            finally:  # (a second one, the first not seeming to act) still writes the catalogue, then stops
                events.close()  # an event already sent, a worker's removal as the survey stops, is not noted
                # stopped early (Ctrl-C, a time limit): a lens whose worker wrote its row before its value came back is fitted
                # (one being taken back too, out of lens_of: a Ctrl-C as its value was fetched, its row not yet in rows)
                for lens in [*taking, *lens_of.values()]:
                    if lens.lens_id not in rows and (row := written_row(lens, out)) is not None:
                        rows[lens.lens_id] = row
                frame = write_catalog(rows, out)
    # not taken back: only where the loop ended without them, its tasks' cancel unanswered (on_stall)
    dropped.extend(lens.lens_id for lens in lens_of.values() if lens.lens_id not in rows)
    if stalled and (dropped or unsent or unfitted):  # every lens back (its row taken): the survey ended, not stopped
        raise NoWorkersLeft(stalled[0], [*dropped, *unsent, *unfitted], len(frame))
    if unfitted:
        raise TinyLensError(unfitted_text(unfitted, {address: refusal for address, refusal in refused.items()
                                                     if not refusal.get("missing")}, len(frame)))
    if (dropped or unsent) and lost:
        raise TinyLensError(lost_scheduler_text(lost, dropped, len(frame), unsent, scheduler_file))
    if dropped or unsent:
        raise TinyLensError(dropped_text(dropped, len(frame), unsent))
    return frame


def held_note(lens_id: str, worker: str, seconds: float) -> str:
    """What the survey says as it holds its first lens (``lens_id``, refused by ``worker``) for a
    worker that fits lenses to come back, at most ``seconds`` more (:data:`GOOD_WORKER_WAIT`)."""
    return (f"survey: {lens_id} held: the Dask worker {worker} refused it and no worker that fits lenses is "
            f"connected now (one restarting?); it and any lens refused meanwhile wait up to {max(seconds, 0):.0f} s "
            "for one to come back, then are sent again.")


def held_sent_note(ids: Sequence[str], back: bool, seconds: float) -> str:
    """What the survey says as it sends the held lenses ``ids`` again, held for ``seconds``: a worker
    that fits lenses is ``back``, or none came back in time (their refusals then count)."""
    why = ("a worker that fits lenses is connected again" if back else
           f"no worker that fits lenses came back within {GOOD_WORKER_WAIT:g} s; their refusals now count")
    return (f"survey: {lens_count(len(ids), 'held')} ({for_example(list(ids))}) sent again after {seconds:.0f} s: "
            f"{why}.")


def fits_in_flight(lens_of: Mapping[Any, Lens], out: Path, started: Mapping[str, int]) -> bool:
    """Whether a worker fits a lens of the survey folder ``out`` now: a task of ``lens_of`` (futures
    with their lenses) not done whose lens's fit started since the survey submitted it (its
    :func:`attempts` above ``started``'s count then). A task still queued (no worker connected yet,
    or all busy) has started none, nor has one that waits for the lens's lock held by another
    process (it notes its fit once it holds it): no worker of the survey's is known to fit those."""
    return any(not future.done() and attempts(lens.output(out)) > started.get(lens.lens_id, 0)
               for future, lens in list(lens_of.items()))


def waiting_for_locks(lens_of: Mapping[Any, Lens], out: Path, started: Mapping[str, int]) -> list[str]:
    """The lenses of the tasks of ``lens_of`` (futures with their lenses) not done whose fit has not
    started since the survey submitted them (:func:`fits_in_flight`) while another process holds
    the lock of their output folder (an earlier survey's task still fitting the lens, on a cluster
    that outlived its client): their task waits for it (or will, still queued), and fits the lens
    once it gets it, unless that process finished it. None whose lock cannot be told."""
    from tinylens.locks import HolderUnknown, held_by

    waiting = []
    for future, lens in list(lens_of.items()):
        folder = lens.output(out)
        if future.done() or attempts(folder) > started.get(lens.lens_id, 0):
            continue
        try:
            if held_by(folder / filenames.LENS_LOCK) is not None:
                waiting.append(lens.lens_id)
        except HolderUnknown:  # not said to wait
            continue
    return waiting


@contextlib.contextmanager
def cluster_on_interrupt(scheduler: str | None, fitting: Callable[[], bool],
                         waiting: Callable[[], list[str]] = list) -> Iterator[None]:
    """Name the external cluster's ``scheduler`` (:data:`EXTERNAL_CLUSTER_ATTR`) on a KeyboardInterrupt
    raised inside while ``fitting()`` says a worker fits a lens sent to it (:func:`fits_in_flight`): its
    workers go on fitting those lenses, which the hint says; or while ``waiting()`` names lenses whose
    task waits for the lock of their folder, held by another process (:func:`waiting_for_locks`,
    named too: :data:`LOCK_WAITERS_ATTR`), which such a task fits once it gets the lock. Not once
    every task sent came back (a Ctrl-C while the last catalogue is written), nor while those not
    done are still queued (no worker connected yet): no worker fits anything of the survey's then;
    nor for a local cluster."""
    from tinylens.interrupts import marked_on_interrupt

    if not scheduler:
        yield
        return
    try:
        yield
    except BaseException:
        try:
            fitting_now = fitting()
        except Exception:  # noqa: BLE001 - not known: said as before, the workers may go on
            fitting_now = True
        try:
            waiters = waiting()
        except Exception:  # noqa: BLE001 - not known: none named
            waiters = []
        if fitting_now or waiters:
            with marked_on_interrupt(EXTERNAL_CLUSTER_ATTR, scheduler), marked_on_interrupt(LOCK_WAITERS_ATTR, waiters):
                raise
        raise


def unfitted_text(unfitted: Sequence[str], refused: Mapping[str, Mapping[str, Any]], finished: int) -> str:
    """What a survey says of the lenses ``unfitted`` because only the workers ``refused`` (their
    refusals by address: they run another tinylens, or do not see the survey's folders) were given
    them, ``finished`` lenses being in the catalogue."""
    one = len(unfitted) == 1
    blind = [bool(refusal.get("unseen")) for refusal in refused.values()]
    why = [*(["runs another tinylens than this process"] if not all(blind) else []),
           *(["does not see the survey's folders as this process does"] if any(blind) else [])]
    advice = [*(["in the same environment as this process (or with PYTHONPATH set as for it)"] if not all(blind) else []),
              *([f"on nodes that see the lens folders and {SURVEY_FOLDER_CHOICE}"] if any(blind) else [])]
    return (f"{lens_count(len(unfitted))} {'was' if one else 'were'} not fitted because every Dask worker given "
            f"{'it' if one else 'them'} {' or '.join(why)} ({for_example(unfitted)}; "
            f"{listed(sorted(refused), 3)}; see above). The catalogue holds the {counted(finished, 'finished one')}. "
            f"Start workers {' and '.join(advice)}, then run {SURVEY_RERUN} again to fit the rest.")


def dropped_text(dropped: Sequence[str], finished: int, unsent: Sequence[str] = ()) -> str:
    """What a survey says of the lenses ``dropped`` by the Dask cluster and ``unsent`` (never sent
    to it, the survey having stopped), ``finished`` lenses being in the catalogue."""
    return (f"{not_fitted_text(dropped, unsent, 'the Dask cluster', '; was the scheduler stopped?')}. The "
            f"catalogue holds the {counted(finished, 'finished one')}; run {SURVEY_RERUN} again to fit "
            "the rest.")
