"""Work given a deadline in a daemon thread of its own (:data:`in_a_thread`), so that a read from a
hung mount holds neither a Dask worker nor the survey, and the worker-side import check built on it
(:data:`resolved_within`). Both are made as local functions so that Dask pickles them by value and
a worker without tinylens can run them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _in_a_thread() -> Callable[[Callable[[], Any], float, str], Any]:
    """:data:`in_a_thread`, made here so that it is local: Dask then pickles it by value, with
    :data:`resolved_within`, which calls it."""

    def in_a_thread(work: Callable[[], Any], timeout: float, name: str) -> Any:
        import threading

        done: list[Any] = []

        def run() -> None:
            try:
                done.append(work())
            except BaseException as exc:  # raised again below, in the caller's own thread
                done.append(exc)

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        thread.join(timeout)
        if done and isinstance(done[0], BaseException):
            raise done[0]
        return done[0] if done else None

    return in_a_thread


#: ``in_a_thread(work, timeout, name)``: ``work()`` in a daemon thread ``name`` of its own, given
#: ``timeout`` seconds, so that a read from a hung mount holds neither a worker nor the survey: its
#: value, the exception it raised (raised again), or ``None`` where it did not finish. Pickled by
#: value, so that :data:`resolved_within` runs on a worker without tinylens.
in_a_thread = _in_a_thread()


def _resolved_within() -> Callable[[str, float], Any]:
    """:data:`resolved_within`, made here so that it is local: Dask then pickles it by value."""

    def resolved_within(target: str, timeout: float) -> Any:
        import pkgutil

        return in_a_thread(lambda: pkgutil.resolve_name(target), timeout, "tinylens-import-check")

    return resolved_within


#: ``resolved_within(target, timeout)``, run on a worker: ``pkgutil.resolve_name(target)`` (which
#: imports its module), in a thread of its own given ``timeout`` seconds, so that an import from a
#: hung mount holds neither the worker nor the survey; ``None`` where it did not finish. Pickled by
#: value, so that a worker without tinylens can run it too.
resolved_within = _resolved_within()
