"""The survey's Dask cluster: a local one started for it (:func:`~tinylens.survey.client.dask_client`, its nannies kept and
its GPU memory shared among the workers) or a scheduler given by address or scheduler file
(:func:`checked_scheduler`, :func:`scheduler_client`), checked to answer as a Dask scheduler
before the client connects (:func:`check_scheduler`), and the questions the survey asks it, each
given :data:`CONNECT_TIMEOUT` (:func:`answered`); and what the survey says when it is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import math
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinylens.errors import SURVEY_RERUN, TinyLensError, counted, lens_count
from tinylens.jsonfile import read_json_file
from tinylens.survey.rows import describe_exception, one_line
from tinylens.survey.threads import in_a_thread

#: How long a client waits for a scheduler to answer.
CONNECT_TIMEOUT = "30s"


# -- dask -------------------------------------------------------------------------------------
#: JAX's switch for taking most of a GPU's memory at a process's first computation.
PREALLOCATE_VARIABLE = "XLA_PYTHON_CLIENT_PREALLOCATE"
#: The variables by which a user sets JAX's GPU memory themselves (then left alone).
GPU_MEMORY_VARIABLES = (PREALLOCATE_VARIABLE, "XLA_PYTHON_CLIENT_MEM_FRACTION", "XLA_PYTHON_CLIENT_ALLOCATOR")


def share_gpu_memory() -> bool:
    """Let the survey's processes share one GPU; True where this call changed anything.

    By default JAX takes 75 % of a GPU's memory in each process at its first computation, so on a
    node with one GPU the main process (which checks the template) and the local cluster's
    workers take it in turn: the second logs CUDA out-of-memory errors while JAX retries smaller
    amounts, and later ones are left less and less. With preallocation off each process takes what
    it uses (a two-worker survey on an H200: 2.7 GB in all). Left alone where the user set any
    of :data:`GPU_MEMORY_VARIABLES`; no effect on a CPU, nor on a process whose JAX has already
    computed something.
    """
    if any(name in os.environ for name in GPU_MEMORY_VARIABLES):
        return False
    os.environ[PREALLOCATE_VARIABLE] = "false"
    return True


#: How long the survey's local cluster keeps a nanny none of whose workers is connected: longer than
#: any survey. distributed's SpecCluster closes a nanny for good where, its
#: ``distributed.deploy.lost-worker-timeout`` (15 s) after one of its workers was removed, no worker
#: of that name is connected; a worker killed again and again (a lens out of memory, retried) whose
#: nanny's restarts take 7-12 s on a loaded machine was caught between two of them, and the survey
#: went on with a worker fewer, or none (stopped by the no-worker watch).
NANNY_KEPT = "365 days"


#: The surveys of this process within :func:`nannies_kept` (``surveys``) and the ``dask.config.set``
#: the first of them entered (``setting``, ``None`` where the user's timeout was longer already),
#: which the last one leaves; :data:`_NANNIES_LOCK` held to read or change them.
_NANNIES_HELD: dict[str, Any] = {"surveys": 0, "setting": None}
_NANNIES_LOCK = threading.Lock()


@contextlib.contextmanager
def nannies_kept() -> Iterator[None]:
    """Dask's ``distributed.deploy.lost-worker-timeout`` at least :data:`NANNY_KEPT` within, as it
    was on exit (a user's own setting, or distributed's default, outside the survey).

    SpecCluster reads it at each worker's removal (``_update_worker_status``, in the cluster's
    loop thread), not at its start: the setting must hold for the cluster's whole life, its close
    included. Dask's configuration is the process's, so a cluster of the user's own running in
    this process meanwhile keeps its nannies as long.

    Surveys run in threads of one process share it: the first to start sets it, the last to end
    puts the user's back (:data:`_NANNIES_HELD`), so that one ending leaves it to the others."""
    import distributed  # noqa: F401 - its defaults loaded first: leaving the set below must not drop them
    import dask
    from dask.utils import parse_timedelta

    key = "distributed.deploy.lost-worker-timeout"
    with _NANNIES_LOCK:
        if not _NANNIES_HELD["surveys"]:
            current = dask.config.get(key, None)
            try:
                longer = current is None or parse_timedelta(current) < parse_timedelta(NANNY_KEPT)
            except (TypeError, ValueError):  # a setting Dask itself could not read: ours in its place
                longer = True
            _NANNIES_HELD["setting"] = dask.config.set({key: NANNY_KEPT}) if longer else None
        _NANNIES_HELD["surveys"] += 1
    try:
        yield
    finally:
        with _NANNIES_LOCK:
            _NANNIES_HELD["surveys"] -= 1
            if not _NANNIES_HELD["surveys"] and _NANNIES_HELD["setting"] is not None:
                setting, _NANNIES_HELD["setting"] = _NANNIES_HELD["setting"], None
                setting.__exit__(None, None, None)  # the configuration as the first survey found it


def scheduler_client(address: str) -> Any:
    """A Dask client of the scheduler at ``address``, connected within :func:`client_deadline`
    seconds; a TinyLensError naming the address where it is not.

    Dask's own ``timeout`` bounds the TCP connection but not the scheduler's handshake that
    follows: a scheduler, or something else, that took the connection and greeted
    (:func:`check_scheduler`) but never finished its handshake held the survey for ever."""
    from distributed import Client

    deadline = client_deadline()

    class DeadlineClient(Client):
        """A Client whose start (connection and handshake) is given ``deadline`` seconds in all."""

        def start(self, **kwargs: Any) -> Any:
            try:
                return super().start(callback_timeout=deadline, **kwargs)
            except BaseException:  # cut short: close what started (its loop thread, its connections)
                self.close()
                raise

    try:
        return DeadlineClient(address, timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        raise TinyLensError(
            f"Cannot connect to the Dask scheduler at {address}: it took the connection but did not finish Dask's "
            f"handshake within {deadline:g} s (is the scheduler overloaded, or is something else listening there?). "
            f"{SCHEDULER_ADVICE}") from None
    except (MemoryError, struct.error) as exc:  # another service's greeting (SSH's, SMTP's) read as Dask's frame lengths
        if isinstance(exc, MemoryError) and not greeting_frame(exc):  # this process short of memory: not the address's
            raise TinyLensError(short_of_memory_text(address, exc)) from None
        raise TinyLensError(other_service_text(address)) from None
    except (OSError, ValueError, TypeError) as exc:  # TypeError: tls:// without TLS settings
        raise TinyLensError(f"Cannot connect to the Dask scheduler at {address}: "
                            f"{connection_failure_text(exc, deadline)}") from None


def short_of_memory_text(address: str, exc: MemoryError) -> str:
    """What a survey says when this process ran out of memory (``exc``, not another service's
    greeting: :func:`greeting_frame`) while its client connected to the scheduler at ``address``."""
    what = one_line(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)  # (often no message)
    return (f"Cannot connect to the Dask scheduler at {address}: this process ran out of memory while it connected "
            f"({what}). Free some memory on this machine (stop other programs there) or use a machine with more, "
            f"then run {SURVEY_RERUN} again.")


def other_service_text(address: str, advice: str | None = None) -> str:
    """What a survey says where what answers at ``address`` greeted otherwise than a Dask scheduler
    (SSH, SMTP), ``advice`` (default :data:`SCHEDULER_ADVICE`) at its end."""
    return (f"Cannot connect to the Dask scheduler at {address}: what answers there is not a Dask scheduler (its "
            f"greeting is not Dask's handshake: another service, such as SSH, on that port?). "
            f"{SCHEDULER_ADVICE if advice is None else advice}")


#: The bytes that begin a Dask message over TCP: its length, an unsigned 64-bit integer in the
#: sender's byte order (``struct`` format ``Q``).
FRAME_LENGTH_BYTES = struct.calcsize("Q")


def dask_greeting(head: bytes) -> bool:
    """Whether ``head``, the first :data:`FRAME_LENGTH_BYTES` bytes a TCP server sent, may begin a
    Dask scheduler's handshake: read as Dask reads a message's length, no more than
    :data:`HANDSHAKE_BYTES` (SSH's greeting reads as 2.8 EiB). Fewer bytes are not: a scheduler
    sends its message's length in one piece, so a greeting cut short is another service's."""
    if len(head) < FRAME_LENGTH_BYTES:
        return False
    (length,) = struct.unpack("Q", head[:FRAME_LENGTH_BYTES])
    return length <= HANDSHAKE_BYTES


#: Seconds :func:`first_bytes` waits for the rest of a greeting once its first bytes came: a Dask
#: scheduler sends its message's length in one write, so its 8 bytes come together; this is generous.
GREETING_REST_SECONDS = 2.0


def first_bytes(conn: Any, count: int, timeout: float, rest: float = GREETING_REST_SECONDS) -> bytes:
    """Up to ``count`` bytes that the socket ``conn`` receives within ``timeout`` seconds in all,
    and within ``rest`` seconds of its first bytes: fewer where it closes or sends no more within
    that time (a server that sent a few bytes and went quiet is not waited on to the end of ``timeout``)."""
    head, deadline = b"", time.monotonic() + timeout
    while len(head) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        conn.settimeout(left)
        try:
            chunk = conn.recv(count - len(head))
        except TimeoutError:
            break
        if not chunk:
            break
        if not head:
            deadline = min(deadline, time.monotonic() + rest)
        head += chunk
    return head


#: More bytes than any message of Dask's handshake: a frame length over it, read from what answered
#: a client, is not a scheduler's (SSH's greeting, ``SSH-2.0-``, reads as 2.8 EiB).
HANDSHAKE_BYTES = 2**32


def greeting_frame(exc: MemoryError) -> bool:
    """Whether ``exc``, raised while a client connected, is numpy's refusal of a buffer larger than
    :data:`HANDSHAKE_BYTES` (its ``shape`` and ``dtype``): another service's greeting read as a Dask
    frame length, not this process short of memory (whose refusals are of small buffers)."""
    shape, dtype = getattr(exc, "shape", None), getattr(exc, "dtype", None)
    if not isinstance(shape, tuple) or not isinstance(dtype, np.dtype):  # not numpy's: it says not what it was asked
        return False
    return math.prod(shape) * dtype.itemsize > HANDSHAKE_BYTES


def client_deadline() -> float:
    """Seconds a client is given to connect to a scheduler, its handshake included: twice
    :data:`CONNECT_TIMEOUT` (Dask's for the connection)."""
    return 2 * connect_seconds()


#: The logger of Dask's client, which logs the traceback of a reconnection cut short.
CLIENT_LOGGER = "distributed.client"


class LostSchedulerLines(logging.Filter):
    """Drops the ERROR record, with its traceback (``CancelledError``), that Dask's client logs when
    it is closed while it tries to reconnect to a scheduler that went away: the survey then says
    itself that the scheduler stopped answering (:func:`lost_scheduler_text`). Every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, asyncio.CancelledError)


@contextlib.contextmanager
def lost_scheduler_lines() -> Iterator[None]:
    """A :class:`LostSchedulerLines` on Dask's client logger while the block runs."""
    lines = LostSchedulerLines()
    logger = logging.getLogger(CLIENT_LOGGER)
    logger.addFilter(lines)
    try:
        yield
    finally:
        logger.removeFilter(lines)


def for_example(ids: Sequence[str]) -> str:
    """``e.g. lens_a`` for the first of several ``ids``; ``lens_a`` alone for one."""
    return ids[0] if len(ids) == 1 else f"e.g. {ids[0]}"


def not_fitted_text(dropped: Sequence[str], unsent: Sequence[str], cluster: str, aside: str = "") -> str:
    """``1 lens was not fitted: Dask dropped its task (lens_a)``: how many of the lenses ``dropped``
    (their tasks dropped by ``cluster``, such as ``Dask``) and ``unsent`` (their tasks never sent,
    the survey having stopped) were not fitted, and why, an example named (a dropped one first) in
    parentheses, with ``aside`` after it there."""
    n, d, u = len(dropped) + len(unsent), len(dropped), len(unsent)
    one = n == 1
    if not unsent:
        why = f"{cluster} dropped {'its task' if one else 'their tasks'}"
    elif not dropped:
        why = f"{'its task was' if one else 'their tasks were'} never sent"
    else:
        why = f"{cluster} dropped {d} of their tasks and {u} {'was' if u == 1 else 'were'} never sent"
    return f"{lens_count(n)} {'was' if one else 'were'} not fitted: {why} ({for_example([*dropped, *unsent])}{aside})"


def lost_scheduler_text(address: str, dropped: Sequence[str], finished: int, unsent: Sequence[str] = (),
                        file: Path | None = None) -> str:
    """What a survey says when the connection to its scheduler at ``address`` was lost (the
    scheduler stopped, or its batch job ended) with the lenses ``dropped`` (their tasks dropped)
    and ``unsent`` (their tasks never sent) not fitted; ``file``: the scheduler file the user gave,
    which the address was read from (:func:`scheduler_file`), named beside it."""
    read = f" (read from the scheduler file {file})" if file is not None else ""
    return (f"The Dask scheduler at {address}{read} stopped answering (was it stopped, or did its batch job end?), and "
            f"{not_fitted_text(dropped, unsent, 'Dask')}. The catalogue holds the "
            f"{counted(finished, 'finished one')}; start the scheduler and its workers again, then run {SURVEY_RERUN} "
            f"to fit the rest (a lens a worker was fitting resumes from its checkpoint). {LEFT_WORKERS_TEXT}")


#: What :func:`lost_scheduler_text` says of the lost scheduler's workers, which the survey neither
#: stops nor can reach: a Dask worker closes (and its nanny with it) once its connection to the
#: scheduler breaks (``Worker.handle_scheduler``), waiting for its running task at most its close's
#: timeout (30 s in distributed), so a lens needing longer is cut short; ``--death-timeout`` bounds
#: only a worker's wait for a scheduler as it starts, and keeps no worker waiting after one is lost.
LEFT_WORKERS_TEXT = ("The survey does not stop that scheduler's workers, but a Dask worker closes once its "
                     "scheduler's connection breaks, giving the lens it was fitting about 30 s more (one finished "
                     "by then is kept; one cut short resumes from its checkpoint when run again); it does not "
                     "wait for a scheduler to come back (--death-timeout bounds only a worker's wait as it "
                     "starts). Check with your batch system (e.g. squeue, qstat) that the workers' job has "
                     "ended, and end it if it still runs without the new scheduler.")


#: What :func:`check_scheduler` tells a user to give instead of an address that does not work.
SCHEDULER_ADVICE = ("Give the scheduler's address as tcp://HOST:PORT (printed by 'dask scheduler' or "
                    "cluster.scheduler_address), or its scheduler file ('dask scheduler --scheduler-file FILE').")


def check_scheduler(address: str, timeout: float = 10.0, advice: str = SCHEDULER_ADVICE) -> None:
    """Fail early, with a clear message, on a malformed scheduler address or a TCP scheduler that
    does not answer (before any output is written).

    A Dask scheduler greets each new connection (its handshake) at once; a plain ``tcp://``
    address where something listens but says nothing (the dashboard's port, another service) is
    refused: Dask's client would wait for its greeting for ever. So is one whose first bytes are no
    Dask message's length (:func:`dask_greeting`: another service that greets first, such as SSH),
    which Dask's client would read as one, or fewer than a length's 8 that then stop (within
    :data:`GREETING_REST_SECONDS`: not waited on to the end of ``timeout``). ``advice`` ends the message."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    try:
        scheme, location = parse_address(address)
        if scheme not in backends:
            raise ValueError(f"unknown address scheme '{scheme}' (known: {', '.join(sorted(backends))})")
        if scheme not in ("tcp", "tls"):  # both run over TCP: see that something listens
            return
        host, port = parse_host_port(location)
        with socket.create_connection((host, port), timeout=timeout) as conn:
            if scheme == "tcp":  # (over TLS the client speaks first)
                head = first_bytes(conn, FRAME_LENGTH_BYTES, timeout)
                if not head:
                    raise TinyLensError(
                        f"Something listens at {address} but it is not a Dask scheduler (it sent no Dask "
                        f"handshake within {timeout:g} s; the dashboard's port, e.g. 8787, is not the "
                        f"scheduler's). {advice}")
                if not dask_greeting(head):
                    raise TinyLensError(other_service_text(address, advice))
    except (OSError, ValueError, TypeError) as exc:
        raise TinyLensError(f"Cannot connect to the Dask scheduler at {address}: {connection_failure_text(exc, timeout)}. "
                            f"{advice}") from None


def connection_failure_text(exc: BaseException, timeout: float) -> str:
    """Why a connection to a scheduler address failed with ``exc``, in words: one taken and then cut
    (reset: a firewall or proxy on the way, or something at the address that is no scheduler) said
    as such, not as a bare ``ConnectionResetError``; a host name that cannot be looked up, or a host
    or network not reachable, so too; no answer within ``timeout`` seconds by :func:`unanswered_text`;
    any other error as it is (:func:`describe_exception`)."""
    import socket

    raw = describe_exception(exc)
    if isinstance(exc, TimeoutError):
        return unanswered_text(timeout)
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return (f"the connection was cut before a Dask scheduler answered ({raw}): something at that address that "
                "is not a Dask scheduler, or a firewall or proxy between this machine and it, refuses it, or the "
                "scheduler stopped; check that the address is a running scheduler's and reachable from this machine")
    if isinstance(exc, socket.gaierror):
        return f"its host name cannot be looked up ({raw}): check its spelling, or give the host's IP address"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
        return (f"the host cannot be reached from this machine ({raw}): it is down, or a firewall or the network "
                "lies between a compute node and the scheduler's host, or the address is wrong")
    return raw


def unanswered_text(timeout: float) -> str:
    """Why a scheduler address that took no connection within ``timeout`` seconds is refused
    (a bare ``TimeoutError: timed out`` said neither how long it waited nor what may cause it)."""
    return (f"no answer within {timeout:g} s (the host is down or not reachable from this machine, e.g. a firewall "
            "between a compute node and the scheduler's, or the host or port is wrong)")


def names_scheduler_file(value: str) -> bool:
    """Whether ``--scheduler VALUE`` names a scheduler file rather than an address: no
    ``scheme://`` and a path that exists, ends in ``.json``, or has a ``/`` or a leading ``~``."""
    if "://" in value:
        return False
    return value.endswith(".json") or "/" in value or value.startswith("~") or Path(value).expanduser().exists()


#: Seconds a scheduler file found empty is read again for (every :data:`SCHEDULER_FILE_POLL` s):
#: ``dask scheduler --scheduler-file`` creates the file, then writes its JSON, so a survey started
#: beside it (docs/survey.md, section 5) may find it empty in between.
SCHEDULER_FILE_WAIT = 5.0
SCHEDULER_FILE_POLL = 0.1
#: Seconds a scheduler file that does not exist yet is waited for (looked for every
#: :data:`SCHEDULER_FILE_POLL` s): ``dask scheduler --scheduler-file FILE &`` writes FILE only once
#: it has started, seconds later where it imports Dask from a shared disk, so a survey started on
#: the next line finds none; ``dask worker --scheduler-file`` waits for it too.
SCHEDULER_FILE_APPEAR_WAIT = 30.0


def waiting_for_scheduler_file_line(path: Path) -> str:
    """The line the survey prints while it waits for the scheduler file ``path`` to appear."""
    return (f"survey: the scheduler file {path} does not exist yet; waiting up to {SCHEDULER_FILE_APPEAR_WAIT:g} s "
            "for its scheduler to start and write it (Ctrl-C to stop)")


def _read_empty(exc: ValueError) -> bool:
    """Whether the text whose parse raised ``exc`` was empty (or blanks): a file created, not written yet."""
    return isinstance(exc, json.JSONDecodeError) and not exc.doc.strip()


def read_scheduler_file(path: Path) -> str:
    """The ``"address"`` of the scheduler file ``path`` (JSON, as ``dask scheduler --scheduler-file``
    writes); a TinyLensError naming the file where it is missing, not JSON or has none. A file found
    empty (the scheduler is writing it) is read again for :data:`SCHEDULER_FILE_WAIT` seconds, and
    one that does not exist yet (the scheduler is starting) is waited for up to
    :data:`SCHEDULER_FILE_APPEAR_WAIT` seconds, saying so on stderr."""
    if path.is_dir():
        raise TinyLensError(f"{path} is a folder, not a scheduler file: give the file 'dask scheduler "
                            "--scheduler-file FILE' writes, or the scheduler's address (tcp://HOST:PORT).")
    appear_deadline = time.monotonic() + SCHEDULER_FILE_APPEAR_WAIT
    deadline = None  # the empty file's, from when it is first found empty
    said = False
    while True:
        try:
            info = read_json_file(path)
        except FileNotFoundError:
            if path.parent.is_dir() and time.monotonic() < appear_deadline:
                if not said:
                    from rich.console import Console

                    Console(stderr=True, highlight=False).print(waiting_for_scheduler_file_line(path), markup=False,
                                                                soft_wrap=True)
                    said = True
                time.sleep(SCHEDULER_FILE_POLL)
                continue
            waited = (f", still after {SCHEDULER_FILE_APPEAR_WAIT:g} s of waiting for it" if path.parent.is_dir()
                      else f" (nor does its folder {path.parent})")
            raise TinyLensError(f"The scheduler file {path} does not exist{waited}: 'dask scheduler --scheduler-file "
                                f"{path}' writes it when it starts (has the scheduler started, and with this file?). "
                                "Or give the scheduler's address (tcp://HOST:PORT).") from None
        except OSError as exc:
            raise TinyLensError(f"Cannot read the scheduler file {path}: {describe_exception(exc)}.") from None
        except ValueError as exc:
            if _read_empty(exc):
                if deadline is None:
                    deadline = time.monotonic() + SCHEDULER_FILE_WAIT
                if time.monotonic() < deadline:
                    time.sleep(SCHEDULER_FILE_POLL)
                    continue
                raise TinyLensError(f"The scheduler file {path} is empty, still after {SCHEDULER_FILE_WAIT:g} s of "
                                    "waiting for its scheduler to write it: 'dask scheduler --scheduler-file' writes "
                                    "its \"address\" there as it starts (did it fail to start, or is this another "
                                    "file?). Or give the scheduler's address (tcp://HOST:PORT).") from None
            raise TinyLensError(f"The scheduler file {path} is not JSON ({exc}); 'dask scheduler --scheduler-file' "
                                "writes a JSON file with the scheduler's \"address\" (is it still writing it?).") from None
        break
    address = info.get("address") if isinstance(info, dict) else None
    if not isinstance(address, str) or not address:
        raise TinyLensError(f"The scheduler file {path} has no \"address\" (the scheduler's, e.g. "
                            "\"tcp://10.0.0.1:8786\", as 'dask scheduler --scheduler-file' writes it).")
    return address


def scheduler_file(value: str | os.PathLike[str]) -> Path | None:
    """The scheduler file that ``--scheduler VALUE`` names (:func:`names_scheduler_file`), resolved,
    as :func:`checked_scheduler` reads it; ``None`` for an address."""
    from tinylens.config.loader import home_expanded

    value = os.fspath(value)
    return home_expanded(value).resolve() if names_scheduler_file(value) else None


def checked_scheduler(value: str | os.PathLike[str]) -> str:
    """The scheduler address ``value`` gives (itself, or read from the scheduler file it names,
    also as a path object: :func:`read_scheduler_file`), checked by :func:`check_scheduler`; a
    failed check of an address read from a file names the file (left by a scheduler that has stopped?)."""
    path = scheduler_file(value)
    if path is None:
        value = os.fspath(value)
        check_scheduler(value)
        return value
    address = read_scheduler_file(path)
    check_scheduler(address, advice=f"The address was read from the scheduler file {path}: is it left by a "
                                    f"scheduler that has stopped? Start the scheduler again ('dask scheduler "
                                    f"--scheduler-file {path}' writes the file anew, then start its workers), or, "
                                    f"if it is gone for good, remove {path} and run without --scheduler (a local "
                                    "cluster) or with a running scheduler's address.")
    return address


#: Questions to one client's cluster (:func:`answered`) at most in flight at once, those given up on
#: included: a thread given up on lives until its call returns, never where the scheduler hangs
#: with its connection open (its process stopped, or its node swapping), and the survey's no-worker
#: watch asks every 5 s + 30 s, so that a day's survey against such a scheduler left ~2,500 threads.
#: Counted for each client apart: the threads a hung scheduler left in a notebook's kernel do not
#: refuse the questions of a later survey to a scheduler that answers.
MAX_QUESTIONS = 64
#: How many questions of :func:`answered` are in flight now (their threads running), by ``id`` of
#: the client asked (``None``: not named); an entry is removed at 0 and its client is held by the
#: questions' threads while it is there, so that its ``id`` is not another's. :data:`_QUESTIONS_LOCK` held.
_QUESTIONS: dict[int | None, int] = {}
_QUESTIONS_LOCK = threading.Lock()


def _question_done(key: int | None) -> None:
    """One question of the client ``key`` no longer in flight (:data:`_QUESTIONS`)."""
    with _QUESTIONS_LOCK:
        left = _QUESTIONS.get(key, 0) - 1
        if left > 0:
            _QUESTIONS[key] = left
        else:
            _QUESTIONS.pop(key, None)


def answered(call: Callable[[], Any], name: str = "survey-scheduler-question", client: Any = None) -> Any:
    """``call()``, a question to the Dask cluster of ``client`` whose distributed call takes no time
    limit (``scheduler_info``, ``get_events``, a finished task's value), in a daemon thread ``name``
    of its own (:data:`in_a_thread`) given :data:`CONNECT_TIMEOUT`: its answer, what it raised (raised
    again), or a TimeoutError where the scheduler gave none in that time (a remote one whose node
    died), so that the survey is not held for ever by it. Where :data:`MAX_QUESTIONS` to ``client``
    are still unanswered, none more is asked of it (no thread started): :class:`Unanswered` at once;
    another client's questions are asked still (``client`` ``None``: counted with the others not named)."""
    seconds = connect_seconds()
    key = None if client is None else id(client)
    with _QUESTIONS_LOCK:
        if _QUESTIONS.get(key, 0) >= MAX_QUESTIONS:
            raise Unanswered(f"the Dask scheduler has {MAX_QUESTIONS} questions still unanswered (each given "
                             f"{seconds:g} s); none more is asked until it answers")
        _QUESTIONS[key] = _QUESTIONS.get(key, 0) + 1

    started = threading.Event()

    def asked(asking: Any = client) -> tuple[Any]:  # holds the client while counted: its id is not reused
        started.set()
        try:
            return (call(),)  # in a tuple: an answer of None is an answer
        finally:
            _question_done(None if asking is None else id(asking))

    try:
        answer = in_a_thread(asked, seconds, name)
    except BaseException:
        if not started.is_set():  # its thread could not start (the process's thread limit): not in flight
            _question_done(key)
        raise
    if answer is None:
        raise Unanswered(f"the Dask scheduler gave no answer within {seconds:g} s")
    return answer[0]


class Unanswered(TimeoutError):
    """A question to the Dask scheduler given no answer within :data:`CONNECT_TIMEOUT` (:func:`answered`):
    one whose node died, or a healthy one that is busy (its answer comes later)."""


def connect_seconds() -> float:
    """:data:`CONNECT_TIMEOUT` in seconds: what a call to the cluster is given beyond its workers' own time."""
    from dask.utils import parse_timedelta

    return parse_timedelta(CONNECT_TIMEOUT)
