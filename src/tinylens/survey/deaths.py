"""Deaths of the survey's Dask workers: how many fits of a lens a worker's death stopped
(:func:`fits_killed`), so that a lens Dask gave up on (KilledWorker) is submitted again at most
:data:`RESUBMITS` times; the lenses refitted after a death, from their checkpoints or anew
(:class:`RefitCounts`, told by the scheduler's events: :class:`Subscription`); and the workers
restarted for running out of memory, which a lens's failure reason then names
(:func:`out_of_memory_reason`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tinylens.errors import SURVEY_WORKERS_ARGUMENT, counted
from tinylens.survey import cluster as survey_cluster
from tinylens.survey.attempts import attempt_workers
from tinylens.survey.discovery import Lens

#: Reruns of a task that raised an unexpected error (a lens's own bad data fails at once).
RETRIES = 2
#: Dask gives up on a task (KilledWorker) when the workers holding it died more than
#: ``allowed-failures`` times, counting the deaths while it only waited there behind the lens
#: being fitted. A lens fitted during at most that many of the deaths is submitted again, at
#: most this many times (a cluster whose workers die before fitting anything still ends).
RESUBMITS = 3


def _allowed_failures(client: Any) -> int:
    """The scheduler's ``distributed.scheduler.allowed-failures`` (this process's setting if it
    cannot be asked, or gives no answer within :data:`CONNECT_TIMEOUT`)."""
    import dask

    try:
        return int(client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures,
                                           callback_timeout=survey_cluster.connect_seconds()))
    except Exception:  # a scheduler that refuses to run functions, or does not answer: its default is everyone's
        return int(dask.config.get("distributed.scheduler.allowed-failures"))


def killed_while_waiting(future: Any, fits: int, allowed: int) -> bool:
    """Whether a task that Dask gave up on because the workers holding it died (KilledWorker)
    was not to blame: its lens was fitted in at most ``allowed`` of the deaths (``fits``: the
    deaths of the task's workers that stopped a fit of it, :func:`fits_killed`). Dask counts a
    death against every task the worker held, those queued behind the one it was running too, so
    a lens that kills its workers would otherwise take the lens waiting behind it down with it."""
    from distributed import KilledWorker

    return future.status == "error" and isinstance(future.exception(), KilledWorker) and fits <= allowed


def fits_killed(future: Any, fit_workers: Sequence[str], dead: Sequence[str], allowed: int, raised: int = 0) -> int:
    """How many of the deaths Dask counted against a task it gave up on (KilledWorker) stopped a
    fit of its lens, as Dask counts them: per task, so neither the fits of the lens's earlier tasks
    (before the survey submitted it again) nor a fit that raised and was retried (Dask's retries,
    no death) count. ``fit_workers``: the worker that started each fit of the lens since this task
    was submitted (:func:`attempt_workers`, ``""`` where a line names none); ``dead``: the workers
    whose unexpected removal was counted against the task (the scheduler's remove-worker events),
    to which the last one, named by the KilledWorker, is added (its event may come after the task's
    result); ``raised``: the task's fits that raised (:func:`task_raises`). A worker's deaths stopped
    at most as many fits as started on it, a fit whose worker is not named counts as stopped, and
    no more fits were stopped than started without raising. Where the events tell fewer than the
    ``allowed`` + 1 deaths Dask gave up after (a scheduler that sends none), every fit started since
    the task's submission that did not raise counts as one."""
    from collections import Counter

    dead = list(dead)
    exc = future.exception() if future.status == "error" else None
    last = str(getattr(getattr(exc, "last_worker", None), "address", "") or "")
    if last and last not in dead:
        dead.append(last)
    unraised = max(0, len(fit_workers) - raised)
    if len(dead) <= allowed:
        return unraised
    died, fitted = Counter(dead), Counter(fit_workers)
    stopped = sum(min(count, fitted[worker]) for worker, count in died.items())
    return min(len(dead), stopped + fitted[""], unraised)


def task_raises(client: Any, key: Any) -> int:
    """How many fits of the task ``key`` raised and were retried (of its :data:`RETRIES`), as its
    scheduler counts them down; 0 where it cannot be asked (a scheduler that refuses to run functions,
    or gives no answer within :data:`CONNECT_TIMEOUT`: the survey's loop waits for it)."""
    def retries_left(dask_scheduler: Any) -> int | None:
        task = dask_scheduler.tasks.get(key)
        return None if task is None else task.retries

    try:
        left = client.run_on_scheduler(retries_left, callback_timeout=survey_cluster.connect_seconds())
    except Exception:  # noqa: BLE001 - an info call failing, or not answered, must not stop the survey
        return 0
    return max(0, RETRIES - int(left)) if isinstance(left, int) else 0


#: The Dask scheduler's logger, and the ERROR line it logs when it gives up on a task because the
#: workers holding it died more than ``allowed-failures`` times (the task then fails: KilledWorker).
SCHEDULER_LOGGER = "distributed.scheduler"
KILLED_WORKER_LOG = "Task %s marked as failed because %d workers died while trying to run it"


class KilledWorkerLines(logging.Filter):
    """Holds back the scheduler's :data:`KILLED_WORKER_LOG` ERROR line of a survey task until the
    survey has decided what to do with the task (:meth:`settle`): dropped when the lens is
    submitted again (:func:`killed_while_waiting`; the survey says so in its own words, nothing is
    lost), shown as it came when the lens fails for good. Every other record, that line for other
    tasks included, passes at once. It sees only a scheduler in this process (the local cluster
    the survey starts, or one started in the same Python session); a remote scheduler's log is
    its own."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending: set[str] = set()  # the survey's tasks not settled yet
        self._dropped: set[str] = set()  # tasks submitted again: their line is not shown
        self._held: dict[str, logging.LogRecord] = {}

    @staticmethod
    def task_of(record: logging.LogRecord) -> str | None:
        """The task whose workers died, for a :data:`KILLED_WORKER_LOG` record (else ``None``)."""
        if record.msg != KILLED_WORKER_LOG or not isinstance(record.args, tuple) or not record.args:
            return None
        return str(record.args[0])

    def filter(self, record: logging.LogRecord) -> bool:
        key = self.task_of(record)
        if key is None:
            return True
        with self._lock:
            if key in self._dropped:
                return False
            if key in self._pending:
                self._held[key] = record
                return False
        return True

    def watch(self, key: str) -> None:
        """Hold the line of the survey task ``key`` (just submitted) until it is settled."""
        with self._lock:
            self._pending.add(str(key))

    def settle(self, key: str, resubmitted: bool) -> None:
        """The task ``key`` is done with: its line, held or still to come, is dropped if its lens is
        ``resubmitted``, else shown."""
        key = str(key)
        with self._lock:
            self._pending.discard(key)
            if resubmitted:
                self._dropped.add(key)
            record = self._held.pop(key, None)
        if record is not None and not resubmitted:
            logging.getLogger(record.name).handle(record)

    def release(self) -> None:
        """Show the lines still held (the survey ends before it settled their tasks)."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
            self._pending.clear()
        for record in held:
            logging.getLogger(record.name).handle(record)


@contextlib.contextmanager
def killed_worker_lines() -> Iterator[KilledWorkerLines]:
    """A :class:`KilledWorkerLines` on the Dask scheduler's logger while the block runs; the
    lines it still holds at the end are shown."""
    lines = KilledWorkerLines()
    logger = logging.getLogger(SCHEDULER_LOGGER)
    logger.addFilter(lines)
    try:
        yield lines
    finally:
        logger.removeFilter(lines)
        lines.release()


def resubmit_note(lens_id: str, fits: int, resubmission: int, deaths: int) -> str:
    """What the survey says of a lens it submits again after Dask gave up on it (KilledWorker)
    when ``deaths`` workers holding it had died (the scheduler's allowed failures + 1)."""
    died = ("before its fit started" if fits == 0 else
            f"while fitting it {counted(fits, 'time')}, at most as often as Dask allows")
    workers = "the Dask worker" if deaths == 1 else f"the {deaths} Dask workers"
    return (f"{lens_id}: {workers} holding it died {died}, and Dask gave up on its task (KilledWorker); "
            f"nothing is lost: it is fitted again (resubmission {resubmission} of at most {RESUBMITS}).")


#: The Dask scheduler's topic of cluster-wide events, among them a worker's removal (``action``
#: ``remove-worker``, with the keys of the tasks it was given, ``processing-tasks``).
WORKER_EVENTS = "all"


class Subscription:
    """``handler`` called with the events of the Dask scheduler's ``topic`` that reach ``client``
    from :meth:`open` until :meth:`close`. distributed's ``unsubscribe_topic`` tells the scheduler to send no more,
    but keeps the handler in the client (removing it there would make an event already on its way
    raise in the client's event loop), so an event sent before the scheduler heard it still reached
    the survey's handler once the survey had stopped; after :meth:`close` (``ended`` set) it is
    dropped. A scheduler that sends no events: the handler is never called."""

    def __init__(self, client: Any, topic: str, handler: Callable[[Any], None]) -> None:
        self._client, self._topic, self._handler = client, topic, handler
        self.ended = threading.Event()

    def open(self) -> Subscription:
        with contextlib.suppress(Exception):
            self._client.subscribe_topic(self._topic, self)
        return self

    def __call__(self, event: Any) -> None:
        if not self.ended.is_set():
            self._handler(event)

    def close(self) -> None:
        self.ended.set()
        with contextlib.suppress(Exception):
            self._client.unsubscribe_topic(self._topic)


def refit_note(lens_id: str, worker: str, checkpoint: bool, memory: int | None = None) -> str:
    """What the survey says of a lens whose fit had started on the Dask ``worker`` that left the
    cluster (killed, or its job ended; ``memory``: the bytes it used when its nanny stopped it for
    going over its memory limit, :func:`memory_restarts`): Dask gives its task to another worker,
    which fits it again, resuming its ``checkpoint`` where it had written one."""
    how = "resuming the checkpoint it had written" if checkpoint else "from the beginning (it had written no checkpoint yet)"
    why = ("left the cluster (killed, or its job ended?)" if memory is None else
           f"was stopped by Dask at {memory / 1e9:.1f} GB, over its memory limit")
    return (f"{lens_id}: the Dask worker fitting it{f' ({worker})' if worker else ''} {why}; Dask gives it to another "
            f"worker, which fits it again, {how}.")


class RefitCounts:
    """Which lenses a worker's death stopped in a started fit, for :func:`refit_note` (each death's
    event handled in a thread of its own). ``started``: the fits of each lens started (its
    :func:`attempts`) before the survey first submitted it; ``allowed``: the deaths Dask allows a
    task (:func:`_allowed_failures`). A death of the ``worker`` stopped a started fit where a fit of
    the lens started since on that worker (:func:`attempt_workers`) is not said yet; where the lines
    name no worker, where a fit started since is not said yet. The attempts are read after the
    event, when the task may already have started again elsewhere, so that a count kept of the
    attempts read took that restart for said, and the death of the worker fitting it again went
    unsaid; a count of the deaths said, in turn, took a fit that raised and was retried (Dask's
    retries) for one a death stopped, and said the death of a worker that only held the lens
    queued after it. Whether Dask gives the task to another worker is told by the deaths of that
    task (the scheduler's events, :meth:`stopped`'s ``deaths``), as Dask counts them: per task, so
    a lens the survey submitted again starts from none, and a fit retried after it raised is no death.
    A fit that raised on a worker may leave its retry waiting there behind another lens: where the
    task's raises (:func:`task_raises`, :meth:`stopped`'s ``tasks``) account for the fit found on the
    worker, that worker held the lens queued, and its death is not said of the lens."""

    def __init__(self, started: Mapping[str, int], allowed: int) -> None:
        self._started = started
        self._allowed = allowed
        self._said: dict[str, set[int]] = {}  # the fits of each lens (its .attempts lines) whose death was said
        self._lock = threading.Lock()  # two deaths' threads at once: each death said once

    def stopped(self, lenses: Sequence[Lens], out: Path, deaths: Mapping[str, int], worker: str = "",
                tasks: Mapping[str, tuple[int, Callable[[], int]]] | None = None) -> list[Lens]:
        """Of ``lenses``, whose tasks the ``worker`` that died held, those whose fit had started on it
        (the others wait for a worker as before, unsaid), and which Dask gives to another worker:
        not those whose task this death took past its ``allowed`` deaths, which Dask fails (the survey
        then submits the lens again or fails it, and says so). ``deaths``: the deaths of each lens's
        task so far, this one included, as the scheduler counts them (each worker's unexpected removal
        while it held the task; a task the survey submitted again starts from none). ``tasks``: of each
        lens, the fits started before its task was submitted and a call that asks how many of the
        task's fits raised (:func:`task_raises`); where given, a fit of an earlier task, or one the
        task's raises account for (it raised, and its retry waited on the worker), is not said."""
        raised = {lens_id: (before, ask()) for lens_id, (before, ask) in (tasks or {}).items()}  # asked unlocked
        found = []
        with self._lock:
            for lens in lenses:
                first = self._started.get(lens.lens_id, 0)
                started = attempt_workers(lens.output(out))[first:]
                said = self._said.setdefault(lens.lens_id, set())
                if deaths.get(lens.lens_id, 0) > self._allowed:
                    continue
                task, raises = raised.get(lens.lens_id, (first, None))
                unsaid = [i for i in range(max(first, task), first + len(started)) if i not in said]
                on_it = [i for i in unsaid if worker and started[i - first] == worker]
                unnamed = [i for i in unsaid if not started[i - first]]
                fit = on_it[-1] if on_it else unnamed[0] if unnamed else None
                if fit is None:  # none started on it: it held the lens queued
                    continue
                if raises is not None:  # the task's fits up to this one that ended before: raised, or said
                    last = fit if on_it else first + len(started) - 1
                    if raises + len([i for i in said if task <= i < last]) > last - task:
                        continue  # this one raised too: its retry waited on the worker
                said.add(fit)
                found.append(lens)
        return found


def restart_memory(client: Any, worker: str) -> int | None:
    """The bytes the Dask ``worker`` used when its nanny stopped it for going over its memory limit
    (:func:`memory_restarts`), asked again after :data:`MEMORY_EVENT_WAIT` (the nanny's event may come
    after the worker's removal); ``None`` where it was not stopped so (killed otherwise, or its job ended)."""
    for wait in (0.0, MEMORY_EVENT_WAIT):
        time.sleep(wait)
        used = memory_restarts(client).get(worker)
        if used is not None:
            return used
    return None


#: The event a Dask nanny logs (to the scheduler) when it stops its worker for using more than
#: ``distributed.worker.memory.terminate`` (95 %) of its memory limit; ``worker``: its address.
MEMORY_RESTART_EVENT = "worker-restart-memory"
#: Seconds to wait for that event when a task's workers died and it has not come yet.
MEMORY_EVENT_WAIT = 1.0
#: Seconds, beyond :data:`MEMORY_EVENT_WAIT`, the survey waits at its end for a worker's death still
#: being said (reading the lens folders it held).
NOTE_JOIN_MARGIN = 5.0
#: What a lens whose workers kept running out of memory is told to do, on a local cluster and on another.
LOCAL_MEMORY_ADVICE = (f"run the survey with fewer --workers ({SURVEY_WORKERS_ARGUMENT}) or where there is more memory "
                       "(each local worker may use the memory of the machine, or of the batch job, divided by their number)")
CLUSTER_MEMORY_ADVICE = ("give the Dask workers more memory each (dask worker --memory-limit; fewer workers per node, "
                         "or more memory per job)")


def memory_restarts(client: Any) -> dict[str, int]:
    """The workers of ``client``'s cluster that their nannies stopped for using too much memory,
    by address: the bytes each used then. Empty where the scheduler cannot be asked, or gives no
    answer within :data:`CONNECT_TIMEOUT` (:func:`answered`)."""
    try:
        events = survey_cluster.answered(lambda: client.get_events(MEMORY_RESTART_EVENT), client=client)
    except Exception:  # an older, unreachable or unanswering scheduler: the reason stays Dask's own
        return {}
    return {str(msg["worker"]): int(msg.get("rss") or 0) for _, msg in events
            if isinstance(msg, Mapping) and "worker" in msg}


def out_of_memory_reason(exc: BaseException, restarts: Mapping[str, int], local: bool) -> str | None:
    """The reason of a lens whose task Dask gave up on (KilledWorker) after the last worker
    fitting it was stopped for using too much memory (``restarts``: :func:`memory_restarts`),
    with what to do (``local``: on the survey's own cluster); ``None`` for any other failure."""
    from distributed import KilledWorker

    if not isinstance(exc, KilledWorker):
        return None
    used = restarts.get(str(getattr(exc.last_worker, "address", exc.last_worker)))
    if used is None:
        return None
    tries = exc.allowed_failures + 1
    return (f"Out of memory (KilledWorker): Dask stopped the worker fitting it at {used / 1e9:.1f} GB, over its "
            f"memory limit, and gave up after {counted(tries, 'worker')} died on it; "
            f"{LOCAL_MEMORY_ADVICE if local else CLUSTER_MEMORY_ADVICE}.")
