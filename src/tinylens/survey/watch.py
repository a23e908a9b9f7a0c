"""The survey's watch for a cluster left without workers (:class:`NoWorkerWatch`): how many workers
the scheduler has (:func:`connected_workers`), polled every :data:`NO_WORKER_POLL` seconds, and
the survey stopped with :class:`NoWorkersLeft` once none has joined for ``--no-worker-wait``
seconds (:data:`NO_WORKER_WAIT` by default), its unfitted lenses left for a later run.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tinylens.errors import BEYOND_FLOAT, SURVEY_RERUN, TinyLensError, cut_value, lens_count, no_float_holds
from tinylens.filenames import LENSES_DIR
from tinylens.survey import cluster as survey_cluster
from tinylens.survey.cluster import for_example
from tinylens.survey.progress import _duration


def connected_workers(client: Any) -> int | None:
    """How many workers the client's scheduler has now (``None`` if it cannot be asked, or gives
    no answer within :data:`CONNECT_TIMEOUT`): its ``n_workers``, or (older distributed, 2024.x,
    without it) the workers it lists. Asked with :func:`answered`: a scheduler that stops answering
    (its node died) holds neither the survey's start, nor its heartbeat or no-worker watch, nor its end."""
    try:
        info = survey_cluster.answered(client.scheduler_info, client=client)
        return int(info["n_workers"]) if "n_workers" in info else len(info["workers"])
    except Exception:  # an info call failing, or not answered, must not stop the survey
        return None


def no_workers_note(address: str) -> str:
    """What the survey says when the scheduler at ``address`` has no workers."""
    return (f"survey: the Dask scheduler at {address} has no workers yet; the lenses wait until some connect "
            f"(e.g. 'dask worker {address}', with tinylens importable).")


#: How long a survey on a local cluster goes on while the cluster has no worker at all (seconds)
#: before it stops (:class:`NoWorkerWatch`, :class:`NoWorkersLeft`): its worker processes died
#: (killed, out of memory) and their nannies did not start them again, which a nanny does within
#: seconds, so the survey waited for ever with a bar that no longer moved. On an external scheduler
#: the survey only says so after that time (its workers may come later, from a batch queue).
#: ``run_survey(no_worker_wait=...)``, ``tinylens survey --no-worker-wait``; 0: never.
NO_WORKER_WAIT = 120.0
#: The watch asks the scheduler for its workers this often (seconds), a tenth of the wait where shorter.
NO_WORKER_POLL = 5.0
#: Seconds the block's end waits for the watch's thread to stop (a daemon, which calls no ``on_stall``
#: once the block ended): one waiting for a scheduler slow to answer does not hold the survey's end.
NO_WORKER_JOIN_SECONDS = 5.0


def check_no_worker_wait(seconds: Any) -> float:
    """``seconds`` (``--no-worker-wait``, ``run_survey(no_worker_wait=...)``) as a float; a
    TinyLensError naming it where it is no finite number of seconds, 0 or more (and, for a whole
    number no float holds, that it is beyond a float's range)."""
    try:
        value = float(seconds)
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if isinstance(seconds, bool) or not math.isfinite(value) or value < 0:
        # a whole number no float holds (--no-worker-wait 1e400, 400 digits) said so, as --pixel-scale 1e400 is
        beyond = BEYOND_FLOAT if no_float_holds(seconds) else ""
        raise TinyLensError(f"--no-worker-wait (run_survey's no_worker_wait) takes the seconds a survey waits while "
                            f"its cluster has no worker, 0 or more (0: never stop); got {cut_value(repr(seconds), 60, seconds)}"
                            f"{beyond}.")
    return value


class NoWorkersLeft(TinyLensError):
    """A survey on a local cluster stopped because the cluster had no worker for ``wait`` seconds
    (:data:`NO_WORKER_WAIT`), the lenses ``unfitted`` left for the next run (one at least: a survey whose
    every lens came back ends as fitted, :func:`_fit_lenses`), ``finished`` lenses
    in the catalogue. Its message names the command that resumes as ``run_survey``'s caller is
    told; :meth:`text` with the command line's own (``tinylens survey ...``)."""

    def __init__(self, wait: float, unfitted: Sequence[str], finished: int) -> None:
        self.wait, self.unfitted, self.finished = wait, list(unfitted), finished
        super().__init__(self.text())

    def text(self, command: str | None = None) -> str:
        """The message; with ``command`` (the shell line that resumes) ending in it, as a Ctrl-C's hint does."""
        n = len(self.unfitted)
        left = f"{lens_count(n)} {'was' if n == 1 else 'were'} not fitted ({for_example(self.unfitted)})"
        rest = (f"To fit the rest (a lens cut short resumes from its checkpoint), run: {command}" if command else
                f"Run {SURVEY_RERUN} again to fit the rest (a lens cut short resumes from its checkpoint).")
        kept = (f"The {lens_count(self.finished, 'finished')} {'is' if self.finished == 1 else 'are'} kept "
                f"(the catalogue's rows, their fits in {LENSES_DIR}/)" if self.finished else "No lens had finished")
        return (f"The local Dask cluster has had no worker for {_duration(self.wait)}: its worker processes died "
                f"(killed, or out of memory?) and were not started again, so the survey stopped; {left}. {kept}. {rest}")


def no_worker_for_note(address: str, seconds: float) -> str:
    """What a survey on the external scheduler at ``address`` says once it has had no worker for
    ``seconds`` (:class:`NoWorkerWatch`): it goes on waiting, for workers to come from a batch queue."""
    return (f"survey: the Dask scheduler at {address} has had no worker for {_duration(seconds)}; the lenses wait "
            f"until some connect (e.g. 'dask worker {address}', with tinylens importable; are the workers' batch "
            "jobs still queued, or did they end?). Ctrl-C stops the survey, keeping the finished lenses.")


class NoWorkerWatch:
    """Asks a cluster how many workers it has (``workers()``, ``None`` where it cannot be told,
    which counts neither way) every :data:`NO_WORKER_POLL` seconds from a thread of its own while
    the block runs, and calls ``on_stall(seconds)`` once the cluster has had none for ``wait``
    seconds in a row: once for each such spell, a worker that connects meanwhile ending it, and never
    once the block has ended (its end waits for an ``on_stall`` under way, which must return). ``wait``
    0: no watch. ``said``: the first spell, from the start, was said already (an external
    scheduler with no worker yet: :func:`no_workers_note`)."""

    def __init__(self, workers: Callable[[], int | None], wait: float, on_stall: Callable[[float], None],
                 clock: Callable[[], float] = time.monotonic, said: bool = False) -> None:
        self._workers, self.wait, self._on_stall, self._clock = workers, wait, on_stall, clock
        self._since: float | None = None  # when the cluster was first seen without a worker, in this spell
        self._said = said
        self._stop = threading.Event()
        self._ending = threading.Lock()  # the end's flag read and on_stall called, or the end: one at a time
        self._thread: threading.Thread | None = None

    def check(self) -> bool:
        """Ask once; True where the cluster has now had no worker for ``wait`` (``on_stall`` called)."""
        count = self._workers()
        now = self._clock()
        with self._ending:  # the block cannot end between the flag read and on_stall: __exit__ waits for it
            if count is None or self._stop.is_set():  # an answer after the block ended: the survey is past it
                return False
            if count > 0:
                self._since, self._said = None, False
                return False
            if self._since is None:
                self._since = now
            if self._said or now - self._since < self.wait:
                return False
            self._said = True
            self._on_stall(now - self._since)
            return True

    def _loop(self) -> None:
        every = max(0.1, min(self.wait / 10, NO_WORKER_POLL))
        while not self._stop.wait(every):
            self.check()

    def __enter__(self) -> NoWorkerWatch:
        if self.wait > 0:
            self._thread = threading.Thread(target=self._loop, name="survey-no-worker-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()  # first: a Ctrl-C in the wait below still ends the thread, once the on_stall returns
        with self._ending:  # an on_stall under way finishes first; none is called once this returns
            pass
        if self._thread is not None:
            self._thread.join(timeout=NO_WORKER_JOIN_SECONDS)
