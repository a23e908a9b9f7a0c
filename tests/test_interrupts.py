"""Ctrl-C inside a garbage-collector callback (JAX registers one) or a ``__del__``, where Python
only prints "Exception ignored", still stops a ``tinylens`` command, once.

No test here races a clock: a Ctrl-C is raised synchronously (``signal.raise_signal``) inside a
callback, and the one sent again is awaited by a wait that only a signal ends (its timeout is a
safety net, never the result)."""

from __future__ import annotations

import gc
import signal
import sys
import threading

import pytest

from tinylens.inference.common import KeptInterrupt
from tinylens.interrupts import (
    AT_END_ATTR,
    TerminateAsInterrupt,
    UnswallowedInterrupt,
    handler_in_place,
    interrupt_held,
    swallowed_in,
)

#: Seconds a test waits for the SIGINT sent again before it calls the Ctrl-C lost (it comes in ~50 ms).
LOST_AFTER_S = 60.0


@pytest.fixture
def unraisable(monkeypatch):
    """What Python printed as "Exception ignored in: ..." during the test."""
    seen: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: seen.append(info.exc_value))
    return seen


def signal_in_a_gc_callback(signum: int) -> None:
    """A signal (a Ctrl-C's SIGINT, or a SLURM time limit's SIGTERM) that arrives while a
    garbage-collector callback runs in the main thread: the handler runs at once, inside the
    callback."""
    sent: list[int] = []

    def signal_once(phase, info):
        if not sent and threading.current_thread() is threading.main_thread():
            sent.append(1)
            signal.raise_signal(signum)

    gc.callbacks.append(signal_once)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(signal_once)
    assert sent == [1]


def wait_for_ctrl_c() -> None:
    """Go on (as a command loading its data) until a KeyboardInterrupt ends the wait."""
    threading.Event().wait(LOST_AFTER_S)
    pytest.fail("the Ctrl-C was lost")


def test_a_ctrl_c_in_a_gc_callback_is_raised_once_after_it(python_sigint, unraisable):
    with pytest.raises(KeyboardInterrupt), UnswallowedInterrupt() as handler:
        signal_in_a_gc_callback(signal.SIGINT)
        assert unraisable == []  # without the handler: "Exception ignored in: <function ctrl_c_once ...>"
        wait_for_ctrl_c()
    assert unraisable == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # one Ctrl-C, one KeyboardInterrupt: nothing is sent any more, and none sent is still on its way
    assert handler._thread is None and not handler._active and not handler._sent and not handler._deferred


def test_a_ctrl_c_in_a_gc_callback_at_the_end_of_the_block_is_raised_on_leaving(python_sigint, unraisable):
    with pytest.raises(KeyboardInterrupt) as raised, UnswallowedInterrupt(delay=3600.0) as handler:
        signal_in_a_gc_callback(signal.SIGINT)
        assert handler._deferred  # not raised inside the callback, nor sent again before the hour
    assert getattr(raised.value, AT_END_ATTR) is True  # the block had ended: the command line says so
    assert unraisable == [] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not handler._sent and not handler._deferred


def test_a_ctrl_c_deferred_while_the_block_raises_is_not_raised_again(python_sigint, unraisable):
    with pytest.raises(ValueError), UnswallowedInterrupt(delay=3600.0):
        signal_in_a_gc_callback(signal.SIGINT)
        raise ValueError("the command's own error")
    assert unraisable == [] and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_elsewhere_is_raised_where_the_program_is(python_sigint):
    with pytest.raises(KeyboardInterrupt), UnswallowedInterrupt(delay=3600.0):
        signal.raise_signal(signal.SIGINT)
        pytest.fail("went on after Ctrl-C")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_handler_defers_only_inside_a_callback(python_sigint):
    """:meth:`UnswallowedInterrupt.handle` called as Python calls it, with the frame it interrupts."""
    frames: dict[str, object] = {}

    def callback(phase, info):
        frames.setdefault("gc", sys._getframe())

    with UnswallowedInterrupt(delay=3600.0) as handler:
        gc.callbacks.append(callback)
        try:
            gc.collect()
            try:
                handler.handle(signal.SIGINT, frames["gc"])  # returns: sent again later, not raised
            except KeyboardInterrupt:
                pytest.fail("raised inside the callback, where Python only prints it")
            assert handler._deferred
            with pytest.raises(KeyboardInterrupt):
                handler.handle(signal.SIGINT, sys._getframe())  # a second Ctrl-C, outside: raised now
            assert not handler._deferred  # ... and stands for the first, not sent again
        finally:
            gc.callbacks.remove(callback)


def test_in_a_thread_or_under_an_ignored_sigint_nothing_changes(python_sigint):
    found: list[object] = []

    def in_a_thread():
        with UnswallowedInterrupt() as handler:
            found.append((signal.getsignal(signal.SIGINT), handler._thread))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert found == [(signal.default_int_handler, None)]

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with UnswallowedInterrupt() as handler:
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN and handler._thread is None
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_the_samplers_guard_against_scikit_learn_still_acts_inside(python_sigint):
    """KeptInterrupt (Ctrl-C that scikit-learn catches while nautilus trains) acted only over
    Python's own handler: under the command line's it would have stood aside."""
    with UnswallowedInterrupt() as outer:
        with KeptInterrupt() as kept:
            assert signal.getsignal(signal.SIGINT) == kept._record
        assert signal.getsignal(signal.SIGINT) == outer.handle


def test_which_frames_swallow_an_exception():
    """A garbage-collector callback's frame (while it is registered) and a ``__del__``'s do, and
    the frames they were called from; others do not."""
    frames: dict[str, object] = {}

    class Dying:
        def __del__(self):
            frames["del"] = sys._getframe()

    def callback(phase, info):
        frames.setdefault("gc", sys._getframe())

    Dying()
    gc.callbacks.append(callback)
    try:
        gc.collect()
        assert swallowed_in(frames["gc"])
    finally:
        gc.callbacks.remove(callback)
    assert swallowed_in(frames["del"]) and not swallowed_in(sys._getframe())


def test_a_weak_containers_callback_swallows_an_exception():
    """A WeakValueDictionary (JAX's caches), WeakKeyDictionary or WeakSet drops a dead entry in a
    weakref callback that Python runs wherever the object's last reference goes, outside any
    garbage collection too, and only prints what it raises: a Ctrl-C landing there was printed
    ("Exception ignored in: <function WeakValueDictionary.__init__.<locals>.remove ...>") and did
    not stop the fit (the gc-callback test of tests/cli/test_fit_cli.py failed so about one run in
    two). Its frame is now one that swallows, so the Ctrl-C is sent again once it has returned."""
    import weakref

    class Value:
        pass

    for container in (weakref.WeakValueDictionary(), weakref.WeakKeyDictionary(), weakref.WeakSet()):
        frames: list = []

        def profile(frame, event, arg, code=container._remove.__code__):
            if event == "call" and frame.f_code is code:
                frames.append(frame)

        value = Value()
        if isinstance(container, weakref.WeakSet):
            container.add(value)
        elif isinstance(container, weakref.WeakKeyDictionary):
            container[value] = "value"
        else:
            container["key"] = value
        sys.setprofile(profile)
        try:
            del value  # its last reference: the container's callback runs here, no collection
        finally:
            sys.setprofile(None)
        assert len(frames) == 1 and swallowed_in(frames[0]), type(container)


def test_a_second_ctrl_c_while_the_cluster_starts_stops_at_once(python_sigint):
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with interrupt_held(note=""):
            signal.raise_signal(signal.SIGINT)
            reached.append("after the first")
            signal.raise_signal(signal.SIGINT)
            reached.append("after the second")
    assert reached == ["after the first"]
    with pytest.raises(KeyboardInterrupt):  # what fails once the Ctrl-C came (its workers died) is a Ctrl-C
        with interrupt_held(note=""):
            signal.raise_signal(signal.SIGINT)
            raise RuntimeError("Cluster failed to start")
    with pytest.raises(RuntimeError):  # and without one, the error
        with interrupt_held(note=""):
            raise RuntimeError("Cluster failed to start")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_while_the_cluster_starts_is_held_under_the_command_lines_handler_too(capsys, python_sigint):
    """Every command runs under the command line's SIGINT handler (UnswallowedInterrupt), not
    Python's own: the Ctrl-C must be held there as well, and that handler restored after."""
    reached = []
    with UnswallowedInterrupt() as command_line:
        with pytest.raises(KeyboardInterrupt):
            with interrupt_held(note="held"):
                signal.raise_signal(signal.SIGINT)
                reached.append("after the Ctrl-C")
        assert signal.getsignal(signal.SIGINT) == command_line.handle
    assert reached == ["after the Ctrl-C"] and "held" in capsys.readouterr().err


def test_a_ctrl_c_in_a_weakref_callback_run_by_the_collector_is_raised_after_it(python_sigint, unraisable):
    """A plain ``weakref.ref(obj, callback)`` callback run while the collector frees a cycle has no
    frame the handler can recognise, and Python only prints what it raises. A Ctrl-C sent again
    (~50 ms after one deferred) reached one during a slow ``gc.collect`` in CI and was lost."""
    import weakref

    class Node:
        pass

    sent: list[int] = []

    def ctrl_c_once(ref):
        if not sent:
            sent.append(1)
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt), UnswallowedInterrupt():
        node = Node()
        node.cycle = node  # freed by the collector only
        ref = weakref.ref(node, ctrl_c_once)
        del node
        gc.collect()
        assert sent == [1] and ref() is None
        assert unraisable == []  # without the fix: "Exception ignored in: <function ctrl_c_once ...>"
        wait_for_ctrl_c()
    assert unraisable == []


def test_a_ctrl_c_while_a_compiled_module_starts_up_is_deferred(python_sigint):
    """A KeyboardInterrupt raised while a compiled module initialises can leave it half-made:
    jaxlib's crashed the process (a segmentation fault, ~1 in 20 Ctrl-Cs 0.25-0.75 s after
    'tinylens fit' started). The handler defers there. (create_module's own code, run with its
    call into the extension replaced by one that takes the Ctrl-C.)"""
    import types
    from importlib.machinery import ExtensionFileLoader

    frames = {}

    def extension_start(*args):
        frames["inside"] = sys._getframe()
        signal.raise_signal(signal.SIGINT)

    stub = types.SimpleNamespace(_call_with_frames_removed=lambda f, *a: f(*a), _verbose_message=lambda *a: None)
    create_module = types.FunctionType(ExtensionFileLoader.create_module.__code__,
                                       {"_bootstrap": stub, "_imp": types.SimpleNamespace(create_dynamic=extension_start)})
    reached = []
    with pytest.raises(KeyboardInterrupt), UnswallowedInterrupt(delay=3600.0) as handler:
        create_module(types.SimpleNamespace(path="x.so"), types.SimpleNamespace(name="x", origin="x.so"))
        reached.append(handler._deferred)  # not raised inside the module's start-up; raised on leaving
    assert reached == [True]
    from tinylens.interrupts import initialising_extension

    assert initialising_extension(frames["inside"]) and not initialising_extension(sys._getframe())


def test_sigterm_during_a_sampler_run_is_kept_as_a_ctrl_c_is(python_sigint):
    """SIGTERM (a SLURM time limit) during a sampler run raised KeyboardInterrupt itself, past the
    run's KeptInterrupt, which records a Ctrl-C that scikit-learn's training (most of nautilus's
    time) catches and drops: the fit sampled on until SLURM's SIGKILL. SIGTERM now sends the
    SIGINT that KeptInterrupt records."""
    import time

    term, kept = TerminateAsInterrupt(), KeptInterrupt()
    with pytest.raises(KeyboardInterrupt):
        with term, kept:
            signal.raise_signal(signal.SIGTERM)
            for _ in range(2000):  # the SIGINT sent to the main thread comes at a later bytecode
                time.sleep(0.001)
    assert term.terminated and kept.interrupted


def test_sigterm_during_a_sampler_run_with_sigint_ignored_is_kept(python_sigint):
    """A command run in a script's background has SIGINT ignored, so SIGTERM (a SLURM time limit)
    raised KeyboardInterrupt at once, past the sampler run's KeptInterrupt (which stands aside
    under an ignored SIGINT): scikit-learn's training (most of nautilus's time) caught and dropped
    it, and the fit sampled on until SLURM's SIGKILL. KeptInterrupt now records that SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    term, kept = TerminateAsInterrupt(), KeptInterrupt()
    with term:
        with kept:
            try:
                signal.raise_signal(signal.SIGTERM)
            except KeyboardInterrupt:
                pass  # as scikit-learn's training does
            with pytest.raises(KeyboardInterrupt):
                kept.check()  # the likelihood, called after the training: the stop is not lost
        assert signal.getsignal(signal.SIGTERM) == term.handle  # restored on leaving
    assert term.terminated and kept.interrupted
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_a_handler_in_place_is_put_back_however_the_block_ends(python_sigint):
    """The block gets the handler found, and that handler is back after the block, also after an
    error or a KeyboardInterrupt raised inside it."""
    calls: list[int] = []

    def record(signum, frame):
        calls.append(signum)

    with handler_in_place(signal.SIGINT, record) as found:
        assert found is signal.default_int_handler and signal.getsignal(signal.SIGINT) is record
        signal.raise_signal(signal.SIGINT)
    assert calls == [signal.SIGINT] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    for error in (ValueError, KeyboardInterrupt):
        with pytest.raises(error), handler_in_place(signal.SIGINT, record):
            raise error
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_in_a_gc_callback_during_a_sampler_run_is_not_printed_and_stops_it_once(python_sigint, unraisable):
    """A sampler run's KeptInterrupt raised a Ctrl-C itself, in place of the command line's handler:
    one inside JAX's garbage-collector callback (run at every collection while sampling) was
    printed as "Exception ignored in: ... KeyboardInterrupt" with its traceback, and one while a
    compiled module started up was not deferred. It now leaves the raising to the handler it
    replaced, which raises it once the callback has returned, and records it then: one
    KeyboardInterrupt, which the guarded likelihood raises again if a library swallowed it."""
    raised = []
    with UnswallowedInterrupt() as outer, KeptInterrupt() as kept:
        signal_in_a_gc_callback(signal.SIGINT)
        assert unraisable == []
        try:
            kept.check()  # the likelihood, called next: the Ctrl-C is on its way, not raised twice
            wait_for_ctrl_c()
        except KeyboardInterrupt:
            raised.append("first")
        assert kept.interrupted and not outer._deferred and not outer._sent  # nothing else on its way
        try:
            threading.Event().wait(0.5)  # the run stopping (a Ctrl-C sent again comes in ~50 ms)
        except KeyboardInterrupt:
            raised.append("second")
        with pytest.raises(KeyboardInterrupt):
            kept.check()
    assert raised == ["first"] and unraisable == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_in_a_gc_callback_while_the_cluster_starts_is_not_printed_and_stops(python_sigint, unraisable):
    """interrupt_held raised a second Ctrl-C itself, in place of the command line's handler: one
    inside JAX's garbage-collector callback was only printed ("Exception ignored in: ...
    KeyboardInterrupt") and the survey went on waiting for its cluster. It now leaves the raising
    to the handler it replaced, which raises it once the callback has returned."""
    reached = []
    with UnswallowedInterrupt(), pytest.raises(KeyboardInterrupt):
        with interrupt_held(note=""):
            signal.raise_signal(signal.SIGINT)  # the first: held
            reached.append("after the first")
            signal_in_a_gc_callback(signal.SIGINT)
            assert unraisable == []  # without the fix: the KeyboardInterrupt raised inside it, printed
            reached.append("after the second")
            wait_for_ctrl_c()
    assert reached == ["after the first", "after the second"] and unraisable == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _StraySigterm(Exception):
    """Raised by the test's own SIGTERM handler: a SIGTERM reached it after the block (Python's
    default would end pytest itself)."""


@pytest.fixture
def sigterm_caught():
    """SIGTERM's handler, for the test, raises :class:`_StraySigterm` (restored after the test)."""

    def stray(signum, frame):
        raise _StraySigterm

    found = signal.signal(signal.SIGTERM, stray)
    yield stray
    signal.signal(signal.SIGTERM, found)


def test_sigterm_in_a_gc_callback_with_sigint_ignored_is_raised_once_after_it(python_sigint, sigterm_caught, unraisable):
    """A command run in a script's background has SIGINT ignored, and SIGTERM then raised
    KeyboardInterrupt at once: one that came inside JAX's garbage-collector callback (loading,
    compiling, an optimiser, writing the outputs) was only printed, "Exception ignored in: ...
    KeyboardInterrupt", and the command ran on until SLURM's SIGKILL, its results never written.
    It is now raised once the callback has returned (SIGTERM sent again), once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    term = TerminateAsInterrupt()
    with pytest.raises(KeyboardInterrupt), UnswallowedInterrupt(), term:
        signal_in_a_gc_callback(signal.SIGTERM)
        assert unraisable == []  # without the fix: "Exception ignored in: <function sigterm_once ...>"
        wait_for_ctrl_c()
    assert term.terminated and unraisable == []
    assert signal.getsignal(signal.SIGTERM) is sigterm_caught and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert term._thread is None and not term._active and not term._sent and not term._deferred
    threading.Event().wait(0.5)  # nothing else on its way (a SIGTERM sent again comes in ~50 ms): no _StraySigterm


def test_sigterm_in_a_gc_callback_during_a_sampler_run_with_sigint_ignored_stops_it_once(python_sigint, sigterm_caught,
                                                                                       unraisable):
    """The same SIGTERM while a sampler runs: its KeptInterrupt records it once raised, so that a
    library that swallows the KeyboardInterrupt (scikit-learn's training) does not lose it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raised = []
    with TerminateAsInterrupt() as term, KeptInterrupt() as kept:
        signal_in_a_gc_callback(signal.SIGTERM)
        assert unraisable == [] and not kept.interrupted  # on its way, not raised inside the callback
        try:
            wait_for_ctrl_c()
        except KeyboardInterrupt:
            raised.append("first")
        assert kept.interrupted and not term._deferred and not term._sent
        try:
            threading.Event().wait(0.5)
        except KeyboardInterrupt:
            raised.append("second")
        with pytest.raises(KeyboardInterrupt):
            kept.check()
    assert raised == ["first"] and term.terminated and unraisable == []
    assert signal.getsignal(signal.SIGTERM) is sigterm_caught


def test_sigterm_while_the_cluster_starts_with_sigint_ignored_is_held_until_it_has_started(python_sigint, sigterm_caught,
                                                                                           capsys):
    """A survey run in a script's background has SIGINT ignored, and interrupt_held then held
    nothing: a SIGTERM (a SLURM time limit) raised KeyboardInterrupt into the local cluster's
    start-up, leaving it half-started (tracebacks, an AssertionError at exit). It is now held as a
    Ctrl-C is, said on stderr, and raised at the end of the block as SIGTERM's (terminated); a
    second SIGTERM stops at once, and an error after it (its workers got it too) is SIGTERM's."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    reached = []
    with TerminateAsInterrupt() as term:
        with pytest.raises(KeyboardInterrupt):
            with interrupt_held():
                signal.raise_signal(signal.SIGTERM)
                reached.append("after the SIGTERM")
        assert signal.getsignal(signal.SIGTERM) == term.handle  # restored
    assert reached == ["after the SIGTERM"] and term.terminated
    assert "SIGTERM: stopping once the Dask cluster has started" in capsys.readouterr().err
    with TerminateAsInterrupt() as term, pytest.raises(KeyboardInterrupt):
        with interrupt_held():
            signal.raise_signal(signal.SIGTERM)
            reached.append("after the first")
            signal.raise_signal(signal.SIGTERM)
            reached.append("after the second")
    assert reached[1:] == ["after the first"] and term.terminated
    with TerminateAsInterrupt() as term, pytest.raises(KeyboardInterrupt):
        with interrupt_held():
            signal.raise_signal(signal.SIGTERM)
            raise RuntimeError("Cluster failed to start")
    assert term.terminated
    with TerminateAsInterrupt() as term, pytest.raises(RuntimeError):  # without a SIGTERM, the error
        with interrupt_held():
            raise RuntimeError("Cluster failed to start")
    assert not term.terminated
    assert signal.getsignal(signal.SIGTERM) is sigterm_caught and signal.getsignal(signal.SIGINT) is signal.SIG_IGN


HELD_SIGTERM_SCRIPT = """
import signal
from tinylens.interrupts import TerminateAsInterrupt, interrupt_held

assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # as started in a script's background
term = TerminateAsInterrupt()
try:
    with term, interrupt_held():
        signal.raise_signal(signal.SIGTERM)
        print("held", flush=True)
except KeyboardInterrupt:
    print("stopped", term.terminated, flush=True)
"""


def test_sigterm_while_the_cluster_starts_is_held_in_a_process_started_with_sigint_ignored():
    """The same in a process started as a batch script's 'tinylens survey ... &' starts it: SIGINT
    ignored from its start (Python then installs no handler of its own)."""
    import subprocess

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    run = subprocess.run([sys.executable, "-c", HELD_SIGTERM_SCRIPT], capture_output=True, text=True, timeout=300,
                         preexec_fn=ignore_sigint)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["held", "stopped True"], (run.stdout, run.stderr)
    assert "SIGTERM: stopping once the Dask cluster has started" in run.stderr
