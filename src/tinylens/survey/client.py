"""The survey's Dask client (:func:`dask_client`): of the scheduler the survey is given, once its
workers were asked whether they import the survey's task, or of a local cluster started for the
survey. A module of its own, not part of :mod:`~tinylens.survey.cluster`: the import check is
:mod:`~tinylens.survey.workers`'s, which itself uses :mod:`~tinylens.survey.cluster`.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any

from tinylens.interrupts import interrupt_held
from tinylens.survey.cluster import lost_scheduler_lines, nannies_kept, scheduler_client
from tinylens.survey.workers import check_worker_imports


@contextlib.contextmanager
def dask_client(workers: int = 2, scheduler: str | None = None, silent: list[str] | None = None,
                copies_unchecked: dict[str, str] | None = None) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler`` (which the caller checked:
    :func:`~tinylens.survey.cluster.check_scheduler`), or of a new local cluster of ``workers``
    single-threaded worker processes (closed on exit). The workers that gave no answer to the
    scheduler's workers' import check (:func:`check_worker_imports`) are added to ``silent``, for
    the later checks to leave out; those whose tinylens it could not check, with why, to
    ``copies_unchecked`` (for :func:`~tinylens.survey.workers.refused_worker_note`)."""
    from distributed import Client, LocalCluster

    if scheduler:
        client = scheduler_client(scheduler)
        with lost_scheduler_lines(), client:  # (the filter outlives the client's close, where it logs)
            unanswered = check_worker_imports(client, unchecked=copies_unchecked)
            if silent is not None:
                silent.extend(unanswered)
            yield client
        return
    with contextlib.ExitStack() as stack:
        stack.enter_context(nannies_kept())  # left last: after the cluster closed (its workers removed)
        with interrupt_held(), warnings.catch_warnings():
            # Without a dashboard the scheduler still serves HTTP (health checks) on port 8787, and
            # takes another port, with a warning, when a second survey on the node holds it.
            warnings.filterwarnings("ignore", message=r"Port \d+ is already in use")
            cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
        yield client
