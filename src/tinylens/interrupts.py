"""Ctrl-C that a garbage-collector callback or a ``__del__`` cannot swallow.

Python raises KeyboardInterrupt wherever the main thread is when SIGINT comes. Inside a
garbage-collector callback (JAX registers one, run at every collection), a ``__del__`` method or a
``weakref.finalize`` callback, Python only prints "Exception ignored in: ..." and carries on:
a ``tinylens`` command stopped with Ctrl-C in its first seconds (loading, compiling) then ran to
its end. :class:`UnswallowedInterrupt` is a SIGINT handler, for the command line, that raises
KeyboardInterrupt as Python's own does, except there (and anywhere while a collection runs, or
while a compiled module starts up, where a KeyboardInterrupt crashed jaxlib's): it sends SIGINT
again a moment later, once the main thread has left. One Ctrl-C is still one KeyboardInterrupt.

SIGTERM (a batch system's time limit) stops a command as a Ctrl-C does (:class:`TerminateAsInterrupt`);
where SIGINT is ignored (a command run in a script's background), SIGTERM's handler is an
:class:`UnswallowedInterrupt` of SIGTERM's own, which sends SIGTERM again out of a callback.

Also here: :func:`interrupt_behind`, the Ctrl-C behind an error it caused (an extension module's
import turns one into an ImportError), and :func:`interrupt_held`, which holds a Ctrl-C (or,
where SIGINT is ignored, a SIGTERM) back until a block that must not be cut short (a Dask
cluster starting) has ended; and :func:`~tinylens.interrupts.marked_on_interrupt`, which names on a Ctrl-C out of a fit or
a survey the output folder it was writing and the fit's problem, for whoever catches it to say what
was kept.
"""

from __future__ import annotations

import _thread
import contextlib
import gc
import os
import queue
import signal
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

#: Seconds between a SIGINT that came inside a callback and the one sent again.
REDELIVERY_DELAY_S = 0.05

#: Set (True) on a KeyboardInterrupt that came as a command ended, once all of it was done: the one
#: :class:`UnswallowedInterrupt` raises on leaving a block that ended without error, or one while
#: ``tinylens fit`` prints the results it has written.
AT_END_ATTR = "tinylens_at_end"


#: The callbacks by which the standard library's weak containers drop an entry whose object died
#: (one code each, shared by every container): Python runs them wherever the object's last
#: reference goes, outside any garbage collection too (JAX's caches are WeakValueDictionaries).
WEAK_CONTAINER_CALLBACKS = frozenset(
    container()._remove.__code__ for container in (weakref.WeakValueDictionary, weakref.WeakKeyDictionary, weakref.WeakSet)
)


def swallowed_in(frame: FrameType | None) -> bool:
    """Whether an exception raised in ``frame`` is only printed by Python: ``frame`` or one it
    was called from runs a garbage-collector callback, a ``__del__``, a ``weakref.finalize`` or a
    weak container's callback (:data:`WEAK_CONTAINER_CALLBACKS`)."""
    codes = {getattr(getattr(callback, "__func__", callback), "__code__", None) for callback in list(gc.callbacks)}
    codes.add(weakref.finalize.__call__.__code__)
    return _called_from(frame, codes | WEAK_CONTAINER_CALLBACKS, names=("__del__",))


def initialising_extension(frame: FrameType | None) -> bool:
    """Whether ``frame`` or one it was called from creates or runs a compiled module's start-up
    (``ExtensionFileLoader.create_module``/``exec_module``): a KeyboardInterrupt raised there can
    leave the module half-made, and jaxlib's then crashed the process (a segmentation fault)."""
    from importlib.machinery import ExtensionFileLoader

    return _called_from(frame, {ExtensionFileLoader.create_module.__code__, ExtensionFileLoader.exec_module.__code__})


def _called_from(frame: FrameType | None, codes: set[Any], names: tuple[str, ...] = ()) -> bool:
    """Whether ``frame`` or one it was called from runs one of ``codes``, or a function named in ``names``."""
    while frame is not None:
        if frame.f_code in codes or frame.f_code.co_name in names:
            return True
        frame = frame.f_back
    return False


def raises_like_python(handler: Any) -> bool:
    """Whether SIGINT's ``handler`` raises KeyboardInterrupt where the program is: Python's own,
    or an :class:`UnswallowedInterrupt`'s of SIGINT (not one of SIGTERM's)."""
    owner = getattr(handler, "__self__", None)
    return handler is signal.default_int_handler or (isinstance(owner, UnswallowedInterrupt) and owner.signum == signal.SIGINT)


def takes_over(signum: int, handler: Any) -> bool:
    """Whether an :class:`UnswallowedInterrupt` of signal ``signum`` replaces its ``handler``: SIGINT's
    only where it is Python's own (an ignored SIGINT stays ignored); another signal's (SIGTERM's)
    where it is not ignored, nor set outside Python (:func:`signal.getsignal` gives None: it could
    not be put back)."""
    if signum == signal.SIGINT:
        return handler is signal.default_int_handler
    return handler is not None and handler is not signal.SIG_IGN


def ctrl_c_raises_here() -> bool:
    """Whether a Ctrl-C raises KeyboardInterrupt where this code runs, so that a context may
    put its own SIGINT handler in place: the main thread, with Python's own handler or an
    :class:`UnswallowedInterrupt`'s (an ignored SIGINT stays ignored; other threads get none)."""
    return threading.current_thread() is threading.main_thread() and raises_like_python(signal.getsignal(signal.SIGINT))


def terminate_stops_here() -> bool:
    """Whether a SIGTERM stops this code as a Ctrl-C does: the main thread, with a
    :class:`TerminateAsInterrupt`'s handler in place (the command line's)."""
    handler = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return threading.current_thread() is threading.main_thread() and isinstance(handler, TerminateAsInterrupt)


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt that ``exc`` was raised from or while handling, if any: a Ctrl-C
    while a compiled module (jaxlib's) is imported comes out as "ImportError: Encountered an
    error while initializing the extension", raised from it. The chain followed is the one
    Python's traceback shows (no context a ``raise ... from None`` hid)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ if exc.__cause__ is not None or exc.__suppress_context__ else exc.__context__
    return None


@contextlib.contextmanager
def handler_in_place(signum: int, handler: Any) -> Iterator[Any]:
    """``handler`` is signal ``signum``'s handler while the block runs; the handler found, which
    the block gets, is put back on leaving, however the block ends (one not set from Python,
    which :func:`signal.signal` gives as None, cannot be: ``handler`` then stays)."""
    previous = signal.signal(signum, handler)
    try:
        yield previous
    finally:
        if previous is not None:
            signal.signal(signum, previous)


def _send_signal(signum: int) -> None:
    """Signal ``signum`` (SIGINT, SIGTERM) to the main thread, which wakes it from a wait as a Ctrl-C does."""
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(threading.main_thread().ident, signum)
    else:  # Windows
        _thread.interrupt_main(signum)


class UnswallowedInterrupt:
    """Context manager: SIGINT's handler inside is :meth:`handle`. It acts only in the main
    thread and only where SIGINT has Python's own handler (an ignored SIGINT stays ignored); the
    handler found is restored on leaving. A SIGINT deferred out of a callback, or one that comes
    while the block is left, raises KeyboardInterrupt on leaving (unless the block raised),
    marked :data:`AT_END_ATTR`. With ``signum`` (SIGTERM), that signal's handler is, alike,
    where it is not ignored (see :func:`takes_over`), and that signal is the one sent again."""

    def __init__(self, delay: float = REDELIVERY_DELAY_S, signum: int = signal.SIGINT) -> None:
        self.delay = float(delay)
        self.signum = signum
        self._previous: Any = None
        self._deferred = False  # a SIGINT came inside a callback (or while leaving), not raised yet
        self._sent = False  # the SIGINT sent again has not reached the handler yet
        self._active = False  # SIGINTs are sent again
        self._closing = False
        self._collecting = False  # the garbage collector runs (its callbacks, __del__s, weakref callbacks)
        self._pid = os.getpid()
        self._lock = threading.Lock()  # never taken by the handler
        self._requests: queue.SimpleQueue[bool] = queue.SimpleQueue()  # put() is safe in a handler
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> UnswallowedInterrupt:
        if threading.current_thread() is threading.main_thread() and takes_over(self.signum, signal.getsignal(self.signum)):
            self._pid, self._active, self._closing, self._collecting = os.getpid(), True, False, False
            gc.callbacks.append(self._track)
            self._thread = threading.Thread(target=self._redeliver, name="tinylens-ctrl-c", daemon=True)
            self._thread.start()  # here, not in the handler: starting a thread takes locks
            try:
                self._previous = signal.signal(self.signum, self.handle)
            except BaseException:  # a Ctrl-C just before: the handler is unchanged
                self._active = False
                self._untrack()
                self._stop.set()
                self._requests.put(False)
                raise
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self._closing = True  # from here (and its first line) the handler defers: this raises on leaving
        if self._previous is None:
            return
        with self._lock:  # after this no SIGINT is sent again
            self._active = False
        for _ in range(100):  # one already sent reaches this handler, not the one restored
            if not self._sent:
                break
            time.sleep(0.001)
        self._stop.set()
        self._requests.put(False)
        signal.signal(self.signum, self._previous)
        self._previous = None
        self._untrack()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
        if self._deferred and exc_type is None:
            self._deferred = False
            interrupt = KeyboardInterrupt()
            setattr(interrupt, AT_END_ATTR, True)
            raise interrupt

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """Raise KeyboardInterrupt, as Python's own handler; inside a callback that would swallow
        it (also anywhere while the garbage collector runs: a plain weakref callback has no frame
        to tell it by), or while a compiled module starts up, send the signal again a moment later
        instead."""
        self._sent = False
        if self._closing or (frame is not None and frame.f_code is UnswallowedInterrupt.__exit__.__code__):
            self._deferred = True
            return
        if self._active and os.getpid() == self._pid and (self._collecting or swallowed_in(frame)
                                                          or initialising_extension(frame)):
            self._deferred = True
            self._requests.put(True)
            return
        self._deferred = False
        signal.default_int_handler(signum, frame)

    def _track(self, phase: str, info: dict[str, Any]) -> None:
        """A garbage-collector callback: whether a collection runs."""
        self._collecting = phase == "start"

    def _untrack(self) -> None:
        self._collecting = False
        if self._track in gc.callbacks:
            gc.callbacks.remove(self._track)

    def _redeliver(self) -> None:
        while self._requests.get() and not self._stop.wait(self.delay):
            with self._lock:
                if self._active and self._deferred:
                    self._deferred, self._sent = False, True
                    _send_signal(self.signum)


class TerminateAsInterrupt(UnswallowedInterrupt):
    """Context manager: SIGTERM (a batch system's time limit, ``scancel``, ``kill``) stops the block
    as Ctrl-C does: a SIGINT to the main thread (so :class:`UnswallowedInterrupt` and
    :func:`interrupt_held` act on it as on a Ctrl-C), or, where SIGINT is ignored (a command run
    in the background of a script), KeyboardInterrupt raised as an :class:`UnswallowedInterrupt`
    of SIGTERM raises it: one that came inside a garbage-collector callback (JAX's), where Python
    only prints it, or while a compiled module starts up, is raised after it (SIGTERM sent again),
    or on leaving. What a Ctrl-C leaves written (a survey's catalogue) is then written;
    :attr:`terminated` tells the two apart. Acts only in the main thread and not where SIGTERM is
    ignored; the handler found is restored on leaving."""

    def __init__(self, delay: float = REDELIVERY_DELAY_S) -> None:
        super().__init__(delay, signum=signal.SIGTERM)
        self.terminated = False

    def __enter__(self) -> TerminateAsInterrupt:
        found = signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is not threading.main_thread() or found is signal.SIG_IGN:
            return self
        if callable(signal.getsignal(signal.SIGINT)) or not takes_over(signal.SIGTERM, found):
            # it sends SIGINT, which that handler defers out of a callback (or, SIGTERM's handler set outside
            # Python, which cannot be put back, stays and raises at once where SIGINT is ignored, as it did)
            self._previous = signal.signal(signal.SIGTERM, self.handle)
        else:
            super().__enter__()  # SIGINT ignored: this handler raises, and sends SIGTERM again out of a callback
        return self

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """Stop as a Ctrl-C would (see the class): SIGINT's handler, whichever is in place (a
        sampler run's :class:`~tinylens.inference.common.KeptInterrupt`, which a library cannot
        swallow), gets a SIGINT; where SIGINT is ignored, KeyboardInterrupt where the program is,
        or, inside a callback that would only print it, SIGTERM again once it has returned."""
        self.terminated = True
        if callable(signal.getsignal(signal.SIGINT)):
            _send_signal(signal.SIGINT)
        else:
            super().handle(signum, frame)


#: Said on stderr when a Ctrl-C comes inside :func:`interrupt_held` (a survey's local cluster starting).
HELD_INTERRUPT_NOTE = "survey: stopping once the Dask cluster has started (press Ctrl-C again to stop at once)"

#: Said on stderr when a SIGTERM comes inside :func:`interrupt_held` where SIGINT is ignored (a
#: survey run in a batch script's background, stopped by its time limit or scancel).
HELD_TERMINATE_NOTE = ("survey: SIGTERM: stopping once the Dask cluster has started "
                       "(a second SIGTERM stops at once)")


def held_signal() -> int | None:
    """The signal :func:`interrupt_held` holds back here: SIGINT where a Ctrl-C raises
    (:func:`ctrl_c_raises_here`; a SIGTERM that the command line stops on comes as a SIGINT
    then); else SIGTERM where the command line stops on it and raises KeyboardInterrupt itself
    (:func:`terminate_stops_here`, SIGINT ignored or left to the system: a command run in a
    script's background); else none."""
    if ctrl_c_raises_here():
        return signal.SIGINT
    if terminate_stops_here() and not callable(signal.getsignal(signal.SIGINT)):
        return signal.SIGTERM
    return None


@contextlib.contextmanager
def interrupt_held(note: str = HELD_INTERRUPT_NOTE, term_note: str = HELD_TERMINATE_NOTE) -> Iterator[None]:
    """Hold back a Ctrl-C (SIGINT) while the block runs, saying ``note``; its KeyboardInterrupt
    comes at the end of the block. A second Ctrl-C interrupts at once (raised by the handler
    found, so that the command line's holds it back out of a garbage-collector callback).

    A Dask local cluster interrupted while it starts is left half-started: Dask cannot close it
    and prints tracebacks (workers that failed to start, an AssertionError at exit). Only where
    :func:`ctrl_c_raises_here`; the handler found is restored after the block. Where SIGINT is
    ignored (a command in a script's background), a SIGTERM that the command line stops on is
    held alike, saying ``term_note`` (see :func:`held_signal`): at the end of the block the
    command line's handler gets it, and raises its KeyboardInterrupt (SIGTERM's, ``terminated``)."""
    held = held_signal()
    if held is None:
        yield
        return
    pressed = []

    def hold(signum: int, frame: Any) -> None:
        if pressed:  # raised by the handler replaced: the command line's defers one out of a callback
            previous(signum, frame)
            return
        pressed.append(signum)
        print(note if signum == signal.SIGINT else term_note, file=sys.stderr, flush=True)

    with handler_in_place(held, hold) as previous:
        try:
            yield
        except Exception:
            if not pressed:
                raise  # (else the Ctrl-C's doing: a terminal's reaches the processes the block starts too)
    if pressed:
        if held == signal.SIGTERM:  # the command line's handler raises it, as SIGTERM's
            previous(held, sys._getframe())
        raise KeyboardInterrupt  # (where that handler did not)


#: The attribute of a KeyboardInterrupt out of :func:`tinylens.fit` (or a survey's
#: :func:`tinylens.survey.runner.run_survey`) that names its output folder (absent when a fit was
#: stopped before it knew the folder, while loading the config and data).
INTERRUPTED_FOLDER_ATTR = "tinylens_output_dir"
#: The attribute of a KeyboardInterrupt out of :func:`tinylens.fit` that holds its problem, set with
#: :data:`~tinylens.interrupts.INTERRUPTED_FOLDER_ATTR`: which checkpoints there are its own (whose fingerprint is this
#: fit's) tells what running it again resumes.
INTERRUPTED_PROBLEM_ATTR = "tinylens_problem"


@contextlib.contextmanager
def marked_on_interrupt(attr: str, value: Any) -> Iterator[None]:
    """Set ``attr`` to ``value`` on a KeyboardInterrupt raised inside, or the one behind an error
    raised inside (:func:`interrupt_behind`), for whoever catches it."""
    try:
        yield
    except BaseException as exc:
        interrupt = interrupt_behind(exc)
        if interrupt is not None:
            setattr(interrupt, attr, value)
        raise


def folder_on_interrupt(folder: Path) -> contextlib.AbstractContextManager[None]:
    """Name ``folder`` on a KeyboardInterrupt raised inside (:data:`~tinylens.interrupts.INTERRUPTED_FOLDER_ATTR`), so
    that whoever catches it can tell what the stopped fit or survey kept there
    (:func:`tinylens.cli.common.fit_hint`, :func:`~tinylens.cli.common.survey_hint`)."""
    return marked_on_interrupt(INTERRUPTED_FOLDER_ATTR, folder)
