"""A survey whose cluster has no worker left: the local one stops (the finished lenses kept), an
external scheduler's says so and waits; a worker back within the wait changes nothing."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import types
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tinylens import filenames
from tinylens.cli.main import app
from tinylens.errors import TinyLensError
from tinylens.survey import attempts
from tinylens.survey import cluster as survey_cluster
from tinylens.survey import discovery
from tinylens.survey import runner
from tinylens.survey import watch as survey_watch


def _wait_for(condition, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class _Counts:
    """The worker counts a :class:`survey_watch.NoWorkerWatch` is told, one per check, on a fake clock."""

    def __init__(self) -> None:
        self.now, self.count, self.stalls = 0.0, 1, []

    def watch(self, wait: float, said: bool = False) -> survey_watch.NoWorkerWatch:
        return survey_watch.NoWorkerWatch(lambda: self.count, wait, self.stalls.append, clock=lambda: self.now, said=said)

    def at(self, watch: survey_watch.NoWorkerWatch, now: float, count: int | None) -> bool:
        self.now, self.count = now, count
        return watch.check()


def test_the_watch_stops_only_after_the_whole_wait_without_a_worker_and_once_a_spell():
    """The cluster must have had no worker for the whole wait in a row: a worker that connects
    within it ends the spell (the wait starts again at the next one); an unknown count is neither;
    each spell is said once, and a later spell again."""
    counts = _Counts()
    watch = counts.watch(100.0)
    assert not counts.at(watch, 0.0, 1)
    assert not counts.at(watch, 10.0, 0)  # the spell starts
    assert not counts.at(watch, 105.0, 0)  # 95 s: not yet
    assert not counts.at(watch, 106.0, 1)  # a worker back (the nanny started it again) within the wait
    assert not counts.at(watch, 107.0, 0)
    assert not counts.at(watch, 200.0, None)  # not known: counts neither way
    assert not counts.at(watch, 206.0, 0)  # 99 s of the new spell
    assert counts.at(watch, 207.0, 0) and counts.stalls == [100.0]
    assert not counts.at(watch, 500.0, 0) and counts.stalls == [100.0]  # said once a spell
    assert not counts.at(watch, 501.0, 2)
    assert not counts.at(watch, 502.0, 0)
    assert counts.at(watch, 602.0, 0) and counts.stalls == [100.0, 100.0]


def test_the_watch_of_a_scheduler_said_to_have_no_worker_yet_waits_for_one_first():
    """An external scheduler with no worker at the start was said so at once: not again after the
    wait, only once workers came and all left."""
    counts = _Counts()
    watch = counts.watch(10.0, said=True)
    assert not counts.at(watch, 0.0, 0) and not counts.at(watch, 50.0, 0)
    assert not counts.at(watch, 51.0, 1) and not counts.at(watch, 52.0, 0)
    assert counts.at(watch, 62.0, 0) and counts.stalls == [10.0]


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), "soon", True])
def test_a_wait_that_is_no_number_of_seconds_is_refused_naming_the_option(value):
    with pytest.raises(TinyLensError, match=r"--no-worker-wait \(run_survey's no_worker_wait\) takes the seconds"):
        survey_watch.check_no_worker_wait(value)
    assert survey_watch.check_no_worker_wait(0) == 0.0 and survey_watch.check_no_worker_wait("30") == 30.0


def test_the_command_line_refuses_a_negative_wait_before_starting_anything(tmp_path):
    result = CliRunner().invoke(app, ["survey", str(tmp_path), "--config", str(tmp_path / "t.yaml"),
                                      "--out", str(tmp_path / "out"), "--no-worker-wait", "-5"])
    assert result.exit_code == 2, result.output
    assert "--no-worker-wait" in " ".join(result.output.split()) and "got -5.0" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("typed", ["1e400", "-1e400", "1" + "0" * 400])
def test_a_wait_beyond_a_float_is_said_to_be_beyond_its_range_as_a_number_option_is(tmp_path, typed):
    """--no-worker-wait 1e400 was refused as 'got 1e400.', with no word of why a number of seconds is
    refused, where --pixel-scale 1e400 (simulate-population) says it is beyond the range of a float;
    both now say so. Nothing is made."""
    with pytest.raises(OverflowError):
        float(int(float.fromhex("0x1p1023")) * 2)  # the independent truth: no float holds 2**1024
    assert abs(int(typed.replace("1e400", "1" + "0" * 400))) > 2**1024
    result = CliRunner().invoke(app, ["survey", str(tmp_path), "--config", str(tmp_path / "t.yaml"),
                                      "--out", str(tmp_path / "out"), "--no-worker-wait", typed])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "--no-worker-wait" in text and "(beyond the range of a float, about +-1.8e308)." in text, text
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()
    with pytest.raises(TinyLensError, match=r"got 1000.*\(beyond the range of a float"):
        survey_watch.check_no_worker_wait(10**400)  # as run_survey(no_worker_wait=10**400) is told
    pixel = CliRunner().invoke(app, ["simulate-population", "1", str(tmp_path / "pop"), "--pixel-scale", typed])
    assert "(beyond the range of a float, about +-1.8e308)" in " ".join(pixel.output.split()), pixel.output


def _local_cluster(threads: int = 2):
    from distributed import LocalCluster

    return LocalCluster(n_workers=1, threads_per_worker=threads, processes=True, dashboard_address=None)


def _survey_in_a_thread(lenses, out: Path, client, raised: list[BaseException]) -> threading.Thread:
    """The survey's loop over ``lenses`` on ``client`` (a 2 s no-worker wait) started in a thread, what it
    raises put in ``raised``: a survey that waits for ever fails the test, not hangs it."""
    def survey() -> None:
        try:
            runner._fit_lenses(lenses, {}, {}, out, [], 1, None, False, client=client, no_worker_wait=2.0)
        except BaseException as exc:  # noqa: BLE001 - the test's to judge
            raised.append(exc)

    surveying = threading.Thread(target=survey, daemon=True)
    surveying.start()
    return surveying


def _kill_once_lens_b_started(pid: int, lens_a_taken: threading.Event, lens_b_output: Path) -> threading.Thread:
    """SIGKILL the worker process ``pid`` from a thread once the survey took lens_a's row and lens_b's fit
    has started (its attempts file holds a line): lens_b is then in flight on a worker that dies."""
    def kill_the_worker() -> None:
        if lens_a_taken.wait(120) and _wait_for(lambda: attempts.attempts(lens_b_output) > 0):
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker, daemon=True)
    killer.start()
    return killer


def test_a_local_cluster_whose_workers_are_gone_stops_the_survey_keeping_the_finished_lenses(tmp_path, monkeypatch):
    """A local cluster whose worker process died and whose nanny did not start it again (seen under
    heavy load: no worker and no nanny left) held the survey for ever in as_completed, its bar no
    longer moving. Once the cluster has had no worker for the wait the survey now cancels its
    tasks, writes the catalogue of the finished lenses and stops saying so and how to resume.
    (One worker process of two threads, killed once lens_a is finished and lens_hang is being fitted,
    its nanny's restart switched off; the wait cut to 2 s: ~15 s.)"""
    from distributed import Client

    from survey_mocks import fit_or_hang, lens_a_taken as noting_lens_a

    monkeypatch.setattr(runner, "fit_lens", fit_or_hang)
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in ("lens_a", "lens_hang")]
    out = tmp_path / "out"
    out.mkdir()
    lens_a_taken = noting_lens_a(monkeypatch)  # the survey has lens_a's row: its end reached the client
    with _local_cluster() as cluster, Client(cluster) as client:
        async def no_restart(*args, **kwargs):  # the nanny fails to start its worker again
            return None

        for nanny in cluster.workers.values():
            nanny.instantiate = no_restart
        pid = next(iter(client.run(os.getpid).values()))

        killer = _kill_once_lens_b_started(pid, lens_a_taken, lenses[1].output(out))
        raised: list[BaseException] = []
        surveying = _survey_in_a_thread(lenses, out, client, raised)
        surveying.join(100)  # lens_hang's fit would take 120 s: the survey must not wait for it
        assert not surveying.is_alive(), "the survey still waits for a cluster without workers"
        killer.join(10)
    assert len(raised) == 1 and isinstance(raised[0], survey_watch.NoWorkersLeft), raised
    caught = types.SimpleNamespace(value=raised[0])
    text = " ".join(str(caught.value).split())
    # the spell as measured, from the first ask that found no worker to the one past the wait: 2 s
    # and up to an ask's answer more (a slow scheduler on a loaded machine made it 3 s)
    said = re.fullmatch(r"The local Dask cluster has had no worker for (\d+)s: (.*)", text)
    assert said and int(said[1]) >= 2, text
    assert said[2] == ("its worker processes died (killed, or out of memory?) and were not started again, so the "
                       "survey stopped; 1 lens was not fitted (lens_hang). The 1 finished lens is kept (the catalogue's "
                       "rows, their fits in lenses/). Run the same command (or run_survey call) again to fit the rest "
                       "(a lens cut short resumes from its checkpoint)."), text
    assert pd.read_csv(out / filenames.CATALOG_CSV)["lens_id"].tolist() == ["lens_a"]
    assert pd.read_parquet(out / filenames.CATALOG_PARQUET)["status"].tolist() == ["ok"]
    assert not (lenses[1].output(out) / filenames.ROW).exists()
    assert not [p.name for p in out.rglob("*") if ".tmp" in p.name]  # nothing half-written
    assert caught.value.text("tinylens survey x").endswith(
        "To fit the rest (a lens cut short resumes from its checkpoint), run: tinylens survey x")


def test_a_stop_whose_cancel_is_not_answered_still_ends_the_survey(tmp_path, monkeypatch):
    """The watch's stop cancelled the survey's tasks with client.cancel, which takes no time limit: a
    cluster that did not answer it (its client's event loop held; an older distributed waits for the
    scheduler's reply) held the stop, and the survey, for ever. The cancel is now given CONNECT_TIMEOUT
    (answered); unanswered, the survey ends without its tasks, the lens cut short left for the next run.
    (As the test above, the cancel a stand-in that never answers; CONNECT_TIMEOUT 3 s: ~20 s.)"""
    from distributed import Client

    from survey_mocks import fit_or_hang, lens_a_taken as noting_lens_a

    monkeypatch.setattr(runner, "fit_lens", fit_or_hang)
    monkeypatch.setattr(survey_cluster, "CONNECT_TIMEOUT", "3s")
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in ("lens_a", "lens_hang")]
    out = tmp_path / "out"
    out.mkdir()
    lens_a_taken = noting_lens_a(monkeypatch)
    never, cancels = threading.Event(), []
    with _local_cluster() as cluster, Client(cluster) as client:
        async def no_restart(*args, **kwargs):
            return None

        for nanny in cluster.workers.values():
            nanny.instantiate = no_restart
        pid = next(iter(client.run(os.getpid).values()))

        def unanswered_cancel(futures, *args, **kwargs):  # the cluster never answers the cancel
            cancels.append([future.key for future in futures])
            never.wait(300)

        monkeypatch.setattr(client, "cancel", unanswered_cancel)

        killer = _kill_once_lens_b_started(pid, lens_a_taken, lenses[1].output(out))
        raised: list[BaseException] = []
        surveying = _survey_in_a_thread(lenses, out, client, raised)
        surveying.join(90)
        stuck = surveying.is_alive()
        never.set()  # the stand-in let go, so that the cluster closes
        killer.join(10)
        assert not stuck, "the stop still waits for a cancel the cluster does not answer"
    assert len(cancels) == 1 and len(cancels[0]) == 1, cancels  # lens_hang's task, asked once
    assert len(raised) == 1 and isinstance(raised[0], survey_watch.NoWorkersLeft), raised
    assert raised[0].unfitted == ["lens_hang"] and raised[0].finished == 1
    assert pd.read_csv(out / filenames.CATALOG_CSV)["lens_id"].tolist() == ["lens_a"]
    assert not (lenses[1].output(out) / filenames.ROW).exists()
    assert not [p.name for p in out.rglob("*") if ".tmp" in p.name]


def test_a_stop_whose_cancel_is_not_answered_does_not_strand_a_lens_that_just_came_back(tmp_path, monkeypatch):
    """Unanswered, the stop's cancel emptied the survey's as_completed (its clear) from the watch's
    thread; a task that came back in that instant had been seen by the survey's thread, which then
    took it from the emptied queue and waited for ever. The survey's thread now alone takes from it,
    ending once the stop gave up its tasks. (An in-process cluster said to have lost its worker once
    the survey's thread saw lens_a's task back, the wait 0.5 s, CONNECT_TIMEOUT 2 s, the cancel a
    stand-in that never answers, the clear let in right after: ~6 s.)"""
    import queue as pyqueue

    import distributed
    from distributed import LocalCluster, Client

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    back = threading.Event()  # lens_a's task seen back by the survey's thread: the cluster then has no worker
    # (said to have none from the start, the stop came 2.6 s in, before a fit slowed by a loaded machine was back)
    monkeypatch.setattr(runner, "connected_workers", lambda client: 0 if back.is_set() else 1)
    monkeypatch.setattr(survey_cluster, "CONNECT_TIMEOUT", "2s")
    given_up, cleared, never, surveyor = threading.Event(), threading.Event(), threading.Event(), []
    real_answered = survey_cluster.answered

    def answered(call, name="survey-scheduler-question", client=None):
        try:
            return real_answered(call, name, client=client)
        except Exception:
            if name == "survey-cancel":
                given_up.set()
            raise

    monkeypatch.setattr(survey_cluster, "answered", answered)

    class SeenThenCleared(pyqueue.Queue):
        armed = True

        def empty(self) -> bool:
            seen = super().empty()
            if not seen and self.armed and surveyor and threading.current_thread() is surveyor[0]:
                type(self).armed = False  # lens_a's task seen back: the stop comes now, its cancel unanswered
                back.set()
                given_up.wait(60)
                cleared.wait(2)  # the watch's clear, where it makes one, right after
            return seen

    class Completed(distributed.as_completed):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.queue = SeenThenCleared()

        def clear(self):
            super().clear()
            cleared.set()

    monkeypatch.setattr(distributed, "as_completed", Completed)
    lenses = [discovery.Lens("lens_a", tmp_path / "in" / "lens_a")]
    raised: list[BaseException] = []
    frames: list[pd.DataFrame] = []
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        monkeypatch.setattr(client, "cancel", lambda futures, *args, **kwargs: never.wait(300))

        def survey() -> None:
            try:
                frames.append(runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False, client=client,
                                                 no_worker_wait=0.5))
            except BaseException as exc:  # noqa: BLE001 - the test's to judge
                raised.append(exc)

        surveying = threading.Thread(target=survey, daemon=True)
        surveyor.append(surveying)
        surveying.start()
        surveying.join(90)
        stuck = surveying.is_alive()
        never.set()
        assert not stuck, "the survey waits for ever for a task taken from its queue by the stop"
    assert given_up.is_set() and not raised, raised  # lens_a came back: the survey ended as fitted
    assert frames[0]["lens_id"].tolist() == ["lens_a"] and frames[0]["status"].tolist() == ["ok"]
    assert pd.read_csv(tmp_path / filenames.CATALOG_CSV)["lens_id"].tolist() == ["lens_a"]


def test_a_worker_started_again_within_the_wait_lets_the_survey_go_on(tmp_path, monkeypatch):
    """The nanny starts a killed worker again within seconds: the cluster had no worker meanwhile
    (the watch saw it) but the survey goes on and fits every lens. (One worker process, killed by
    its first fit of lens_once; the watch asking every 0.1 s: ~15 s.)"""
    from distributed import Client

    from survey_mocks import fit_killing_its_first_worker

    monkeypatch.setattr(runner, "fit_lens", fit_killing_its_first_worker)
    monkeypatch.setattr(survey_watch, "NO_WORKER_POLL", 0.1)
    seen: list[int | None] = []
    count = survey_watch.connected_workers

    def counted(client):
        seen.append(count(client))
        return seen[-1]

    monkeypatch.setattr(runner, "connected_workers", counted)
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in ("lens_once", "lens_plain")]
    with _local_cluster(threads=1) as cluster, Client(cluster) as client:
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False, client=client, no_worker_wait=90.0)
    assert dict(zip(frame["lens_id"], frame["status"])) == {"lens_once": "ok", "lens_plain": "ok"}
    assert attempts.attempts(lenses[0].output(tmp_path)) == 2
    assert 0 in seen, seen  # the cluster had no worker for a while, and the survey went on


def test_an_external_scheduler_without_workers_for_the_wait_is_said_and_waited_for(tmp_path, monkeypatch, capsys):
    """On a scheduler of the user's, workers may come later from a batch queue: a spell without
    worker is said once the wait has passed, and the survey goes on to fit its lenses once one
    connects. (An in-process cluster started without workers, one added after the note: ~5 s.)"""
    from distributed import LocalCluster

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    lenses = [discovery.Lens("lens_a", tmp_path / "in" / "lens_a")]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        calls = [0]
        count = survey_watch.connected_workers

        def none_at_first(client):  # connected at the start, then gone for three asks
            calls[0] += 1
            return 0 if 2 <= calls[0] <= 40 else count(client)

        monkeypatch.setattr(runner, "connected_workers", none_at_first)
        monkeypatch.setattr(survey_watch, "NO_WORKER_POLL", 0.05)
        held = threading.Event()
        real = runner._task_row

        def held_row(*args, **kwargs):  # the row taken back once the note was said
            held.wait(60)
            return real(*args, **kwargs)

        monkeypatch.setattr(runner, "_task_row", held_row)

        def release() -> None:
            _wait_for(lambda: calls[0] > 40, 60)
            held.set()

        threading.Thread(target=release, daemon=True).start()
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, address, False, no_worker_wait=0.5)
    assert frame["status"].tolist() == ["ok"]
    err = " ".join(capsys.readouterr().err.split())
    assert re.search(rf"survey: the Dask scheduler at {re.escape(address)} has had no worker for \d+s; the lenses wait "
                     r"until some connect \(e\.g\. 'dask worker ", err), err
    assert err.count("has had no worker for") == 1, err


@pytest.mark.parametrize("retry", [False, True])
def test_the_command_line_says_the_command_that_resumes_and_exits_2(tmp_path, monkeypatch, retry):
    """``tinylens survey`` stopped for want of workers ends with one paragraph (no traceback) naming
    the command to run again, as typed (less --retry-failed, which the survey has acted on, as after
    Ctrl-C), and exit code 2; the wait given is the one the survey is run with."""
    given = {}

    def stopped(*args, **kwargs):
        given.update(kwargs)
        raise survey_watch.NoWorkersLeft(2.0, ["lens_b", "lens_c"], 1)

    monkeypatch.setattr(runner, "run_survey", stopped)
    args = ["survey", str(tmp_path / "my lenses"), "--config", "t.yaml", "--out", "out", "--no-worker-wait", "2",
            *(["--retry-failed"] if retry else [])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    command = f"tinylens survey '{tmp_path / 'my lenses'}' --config t.yaml --out out --no-worker-wait 2"
    assert "2 lenses were not fitted (e.g. lens_b). The 1 finished lens is kept" in text, text
    assert text.endswith(f"To fit the rest (a lens cut short resumes from its checkpoint), run: {command}"), text
    assert "Traceback" not in result.output and given["no_worker_wait"] == 2.0


def test_a_survey_whose_every_lens_came_back_before_the_watch_stopped_it_ends_as_fitted(tmp_path, monkeypatch):
    """The watch can stop a local survey whose last lens has come back and is being taken in (its
    row read, the catalogue written) while the cluster has no worker left: nothing is left to
    cancel, and every lens is in the catalogue. The survey raised NoWorkersLeft all the same
    ('... so the survey stopped; no lens was left to fit', exit code 2 on the command line); it now
    ends as a survey that fitted every lens. (An in-process cluster said to have no worker, the
    last row held until the watch has seen none for its whole wait of 0.5 s: ~3 s.)"""
    from distributed import LocalCluster, Client

    from survey_mocks import echo_truth_path

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path)
    calls = [0]

    def no_worker(client):  # as the survey's watch is told once the cluster's workers are gone
        calls[0] += 1
        return 0

    monkeypatch.setattr(runner, "connected_workers", no_worker)
    real = runner._task_row

    def held_row(*args, **kwargs):  # the watch asks every 0.1 s at least: 10 asks span the wait of 0.5 s
        assert _wait_for(lambda: calls[0] >= 10, 60)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "_task_row", held_row)
    lenses = [discovery.Lens("lens_a", tmp_path / "in" / "lens_a")]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False, client=client, no_worker_wait=0.5)
    assert frame["lens_id"].tolist() == ["lens_a"] and frame["status"].tolist() == ["ok"]
    assert pd.read_csv(tmp_path / filenames.CATALOG_CSV)["status"].tolist() == ["ok"]


def test_an_answer_that_comes_after_the_survey_ended_stops_nothing():
    """The watch's thread may be waiting for the scheduler's answer as the survey ends (its join gives
    it NO_WORKER_JOIN_SECONDS): an answer of no worker that came after the end still called on_stall, which cancelled
    the tasks of a client being closed, or said the spell after the survey's last lines. Once the
    block has ended an answer counts for nothing. (The second ask answered only after the exit began.)"""
    now, gate, asked = [0.0], threading.Event(), [0]
    stalls: list[float] = []

    def workers() -> int:
        asked[0] += 1
        if asked[0] == 2:
            gate.wait(60)  # the scheduler slow to answer
        return 0

    watch = survey_watch.NoWorkerWatch(workers, 0.5, stalls.append, clock=lambda: now[0])
    watch.__enter__()
    assert _wait_for(lambda: asked[0] >= 2, 60)  # the first ask began the spell; the second waits for its answer

    def answer_once_ended() -> None:
        _wait_for(watch._stop.is_set, 60)
        now[0] = 100.0  # the whole wait and more without a worker
        gate.set()

    threading.Thread(target=answer_once_ended, daemon=True).start()
    watch.__exit__(None, None, None)
    assert stalls == [], stalls


def test_a_local_cluster_keeps_a_nanny_between_its_workers_restarts_however_slow():
    """distributed's SpecCluster closes a nanny for good where, 15 s (lost-worker-timeout) after a
    worker of it was removed, none of its name is connected: under load a nanny that restarts a
    worker killed again and again was caught between two restarts and closed, and the worker-death
    tests (their surveys given the scheduler's address) waited for ever. The survey tests' nannies
    are now kept for an hour: longer than any of them runs."""
    import dask
    from dask.utils import parse_timedelta

    assert parse_timedelta(dask.config.get("distributed.deploy.lost-worker-timeout")) >= 3600


LOST_WORKER_TIMEOUT = "distributed.deploy.lost-worker-timeout"


def test_the_surveys_own_cluster_keeps_its_nanny_where_the_users_setting_would_close_it(tmp_path, monkeypatch):
    """distributed's SpecCluster reads lost-worker-timeout at each worker's removal and closes the
    nanny for good where none of its workers is connected that long after: a worker killed again
    and again (each restart 7-12 s under load) was caught between two restarts at the default 15 s,
    and the survey's local cluster went on with a worker fewer, or none. A user's setting shorter
    than any restart (100 ms: the same moment, made certain) closed the nanny of the killed worker
    of a survey's own one-worker cluster, which then stopped for want of workers; the survey's
    cluster now reads its own timeout at the removal, its nanny starts the worker again, every lens
    is fitted, and the user's setting is as it was. (~15 s.)"""
    import dask
    from dask.utils import parse_timedelta
    from distributed.deploy.spec import SpecCluster

    from survey_mocks import fit_killing_its_first_worker

    monkeypatch.setattr(runner, "fit_lens", fit_killing_its_first_worker)
    read_at_removal: list[object] = []  # the timeout in force where the cluster reads it (its loop's thread)
    update = SpecCluster._update_worker_status

    def noting(self, op, msg):
        if op == "remove":
            read_at_removal.append(dask.config.get(LOST_WORKER_TIMEOUT))
        return update(self, op, msg)

    monkeypatch.setattr(SpecCluster, "_update_worker_status", noting)
    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in ("lens_once", "lens_plain")]
    with dask.config.set({LOST_WORKER_TIMEOUT: "100ms"}):  # the user's own setting
        frame = runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False, no_worker_wait=90.0)
        assert dask.config.get(LOST_WORKER_TIMEOUT) == "100ms"
    assert dict(zip(frame["lens_id"], frame["status"])) == {"lens_once": "ok", "lens_plain": "ok"}
    assert attempts.attempts(lenses[0].output(tmp_path)) == 2  # the restarted worker fitted it again
    assert read_at_removal, "no worker was removed"  # the kill's, and the close's
    assert all(parse_timedelta(value) >= 365 * 86400 for value in read_at_removal), read_at_removal


def test_the_nannies_timeout_is_the_surveys_only_while_it_runs():
    """Within nannies_kept the timeout is the survey's; outside it (after an error too) the user's
    Dask configuration is as it was, and a setting longer than the survey's is left alone."""
    import copy

    import dask

    before = copy.deepcopy(dask.config.config)
    for users in ("100ms", 15, "2h"):
        with dask.config.set({LOST_WORKER_TIMEOUT: users}):
            with survey_cluster.nannies_kept():
                assert dask.config.get(LOST_WORKER_TIMEOUT) == survey_cluster.NANNY_KEPT == "365 days"
            with pytest.raises(KeyboardInterrupt), survey_cluster.nannies_kept():
                raise KeyboardInterrupt
            assert dask.config.get(LOST_WORKER_TIMEOUT) == users
    with dask.config.set({LOST_WORKER_TIMEOUT: "1000 days"}), survey_cluster.nannies_kept():
        assert dask.config.get(LOST_WORKER_TIMEOUT) == "1000 days"
    assert dask.config.config == before


def test_the_nannies_timeout_holds_for_a_survey_in_a_thread_until_the_last_survey_ends():
    """Dask's configuration is the process's: two surveys run in threads of one Python process (a
    library user's) each held the timeout with a dask.config.set of their own, so the first to end
    put the user's setting back while the other's cluster still ran (its nannies closed again at
    the user's timeout), and two entering at once could leave 365 days behind for good. The timeout
    is now the surveys' from the first one's start until the last one's end, then the user's."""
    import threading

    import dask

    second_in, first_out = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def second():
        with survey_cluster.nannies_kept():
            second_in.set()
            first_out.wait(10)
            seen["second, after the first ended"] = dask.config.get(LOST_WORKER_TIMEOUT)

    with dask.config.set({LOST_WORKER_TIMEOUT: "100ms"}):  # the user's own setting
        thread = threading.Thread(target=second)
        with survey_cluster.nannies_kept():
            thread.start()
            assert second_in.wait(10)
        first_out.set()
        thread.join(10)
        assert not thread.is_alive()
        assert seen == {"second, after the first ended": survey_cluster.NANNY_KEPT}
        assert dask.config.get(LOST_WORKER_TIMEOUT) == "100ms"


def test_a_survey_stopped_for_want_of_workers_before_any_lens_finished_says_none_finished():
    """A local survey whose workers all died before its first lens finished said 'The 0 finished
    lenses are kept (the catalogue's rows, ...)': there are none to keep. It now says that no lens
    had finished, and still which were not fitted and how to go on."""
    text = survey_watch.NoWorkersLeft(90.0, ["lens_a", "lens_b"], 0).text("tinylens survey in --out out")
    assert "0 finished" not in text and "are kept" not in text, text
    assert "2 lenses were not fitted (e.g. lens_a). No lens had finished. To fit the rest" in text, text
    assert text.endswith("run: tinylens survey in --out out"), text
    one = survey_watch.NoWorkersLeft(90.0, ["lens_b"], 1).text()
    assert "1 lens was not fitted (lens_b). The 1 finished lens is kept (the catalogue's rows" in one, one


def test_the_survey_ending_just_after_the_watch_read_its_flag_is_not_stopped_after_its_end():
    """The watch read whether the survey had ended, then called on_stall: a survey that ended normally
    in that instant was told to stop after its end (its tasks cancelled on a client being closed, or
    the spell said after its last lines). The end now waits for the check under way: on_stall comes
    before __exit__ returns, never after. (The end is let in right after the flag is read.)"""
    ended = threading.Event()  # __exit__ returned
    stalls: list[bool] = []  # for each on_stall: whether the block had ended by then

    def on_stall(seconds: float) -> None:
        stalls.append(ended.is_set())

    now = [0.0]
    watch = survey_watch.NoWorkerWatch(lambda: 0, 10.0, on_stall, clock=lambda: now[0])  # not entered: checks driven here
    armed = threading.Event()

    def exit_() -> None:
        watch.__exit__(None, None, None)
        ended.set()

    class EndRightAfterTheRead(threading.Event):
        def is_set(self) -> bool:
            flag = super().is_set()
            if not flag and armed.is_set() and threading.current_thread() is threading.main_thread():
                armed.clear()
                threading.Thread(target=exit_, daemon=True).start()
                ended.wait(2.0)  # the end, let in: returns at once where nothing holds it back
            return flag

    watch._stop = EndRightAfterTheRead()
    assert not watch.check() and stalls == []  # the spell starts
    now[0] = 10.0  # the whole wait without a worker: this ask stops the survey, the end let in as it reads the flag
    armed.set()
    watch.check()
    assert ended.wait(60)
    assert stalls == [False], stalls  # called before the end returned, never after it
    now[0] = 100.0
    assert not watch.check() and stalls == [False]  # nor by a later ask


def test_the_end_waits_for_the_watchs_thread_as_long_as_its_constant_says(monkeypatch):
    """__exit__ joined the watch's thread with a literal 5 s, which no setting reached: it now waits
    NO_WORKER_JOIN_SECONDS, set in one place. (The thread a stand-in that records the join's time limit.)"""
    monkeypatch.setattr(survey_watch, "NO_WORKER_JOIN_SECONDS", 0.25, raising=False)
    joins: list[float | None] = []
    watch = survey_watch.NoWorkerWatch(lambda: 1, 10.0, lambda seconds: None)
    watch._thread = types.SimpleNamespace(join=lambda timeout=None: joins.append(timeout))
    watch.__exit__(None, None, None)
    assert joins == [0.25] and watch._stop.is_set()


def test_a_second_ctrl_c_while_the_end_waits_for_an_unanswered_stop_still_writes_the_catalogue(tmp_path, monkeypatch):
    """A Ctrl-C while the watch's stop waited for its unanswered cancel (up to CONNECT_TIMEOUT, 30 s)
    left the survey's end waiting for the watch as long, with nothing said; a second Ctrl-C then cut
    the end short before it wrote the catalogue, and catalog.csv stayed as the survey had started (no
    lens_a, whose row the survey had taken), looking like a result. That wait now cannot skip the
    catalogue: it is written, then the Ctrl-C stops the survey. (An in-process cluster said to have no
    worker, the wait 0.5 s, the cancel a stand-in that never answers; the first Ctrl-C sent as SIGINT
    to this thread, the second raised once the end has waited 1 s for the watch's lock: ~4 s.)"""
    from distributed import Client, LocalCluster

    from survey_mocks import HELD_FITS_RELEASED, echo_truth_path_held, lens_a_taken as noting_lens_a

    monkeypatch.setattr(runner, "fit_lens", echo_truth_path_held)  # lens_c's fit held: the survey still out
    monkeypatch.setattr(runner, "connected_workers", lambda client: 0)
    monkeypatch.setattr(survey_cluster, "CONNECT_TIMEOUT", "120s")
    lens_a_taken = noting_lens_a(monkeypatch)
    (in_rows, ending, never), cancels = (threading.Event() for _ in range(3)), []
    main, in_flight_limit = threading.main_thread().ident, runner._in_flight_limit

    def rows_then_limit(*args, **kwargs):  # asked for more tasks once lens_a's row is in the survey's rows
        if lens_a_taken.is_set():
            in_rows.set()
        return in_flight_limit(*args, **kwargs)

    monkeypatch.setattr(runner, "_in_flight_limit", rows_then_limit)

    class CutWait:  # the watch's lock: the end's wait for it, the stop under way, cut short by a second Ctrl-C
        def __init__(self, lock: threading.Lock) -> None:
            self._lock = lock

        def __enter__(self) -> None:
            if threading.get_ident() != main:  # the watch's thread: its stop holds the lock
                self._lock.acquire()
            elif not self._lock.acquire(timeout=1.0):  # the end waits for the stop under way (a second
                ending.set()  # SIGINT sent then could come before the lock's wait began, and be missed, or
                raise KeyboardInterrupt  # a third one after it, in pytest: raised as a Ctrl-C raises it there)

        def __exit__(self, *exc) -> None:
            self._lock.release()

    class Watch(survey_watch.NoWorkerWatch):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._ending = CutWait(self._ending)

    monkeypatch.setattr(runner, "NoWorkerWatch", Watch)

    def unanswered_cancel(futures, *args, **kwargs):  # on the stop's thread: the cluster never answers
        cancels.append(len(futures))
        if in_rows.wait(60):
            signal.pthread_kill(main, signal.SIGINT)  # the first Ctrl-C, once (the loop's waits are timed)
        never.wait(300)

    lenses = [discovery.Lens(name, tmp_path / "in" / name) for name in ("lens_a", "lens_c")]
    HELD_FITS_RELEASED.clear()
    try:
        with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            monkeypatch.setattr(client, "cancel", unanswered_cancel)
            try:
                with pytest.raises(KeyboardInterrupt):
                    runner._fit_lenses(lenses, {}, {}, tmp_path, [], 1, None, False, client=client, no_worker_wait=0.5)
            finally:
                never.set()
                HELD_FITS_RELEASED.set()  # lens_c's fit ends: the cluster closes without waiting for it
    finally:
        HELD_FITS_RELEASED.clear()
    assert len(cancels) == 1 and ending.is_set(), cancels  # asked once; the end reached
    catalog = pd.read_csv(tmp_path / filenames.CATALOG_CSV)
    assert catalog["lens_id"].tolist() == ["lens_a"] and catalog["status"].tolist() == ["ok"]
    assert pd.read_parquet(tmp_path / filenames.CATALOG_PARQUET)["lens_id"].tolist() == ["lens_a"]
    assert not [p.name for p in tmp_path.rglob("*") if ".tmp" in p.name]  # nothing half-written


def test_a_ctrl_c_while_the_end_waits_for_a_stop_under_way_still_ends_the_watchs_thread():
    """The watch's end set its stop flag only once it held the lock that a stop under way holds
    (its cancel given up to CONNECT_TIMEOUT): a Ctrl-C in that wait left the flag unset, and the
    watch's thread went on asking the closed client for its workers every poll until the process
    ended (a notebook's run_survey: for ever). The flag is now set first: the thread ends once the
    stop returns. (A stop held on an event, the Ctrl-C raised in the end's wait for the lock: ~1 s.)"""
    stalling, release, stalls = threading.Event(), threading.Event(), []

    def on_stall(seconds: float) -> None:  # the stop under way, its cancel not answered yet
        stalls.append(seconds)
        stalling.set()
        release.wait(30)

    watch = survey_watch.NoWorkerWatch(lambda: 0, 0.2, on_stall)
    real = watch._ending

    class CutWait:  # the end's wait for the lock cut short by a Ctrl-C, as one raises it there
        def __enter__(self) -> None:
            if threading.current_thread() is threading.main_thread():
                if not real.acquire(timeout=0.2):
                    raise KeyboardInterrupt
            else:
                real.acquire()

        def __exit__(self, *exc) -> None:
            real.release()

    watch.__enter__()
    try:
        assert stalling.wait(30)
        watch._ending = CutWait()
        with pytest.raises(KeyboardInterrupt):
            watch.__exit__(None, None, None)
        release.set()  # the stop returns
        watch._thread.join(10)
        assert not watch._thread.is_alive(), "the watch's thread goes on after the survey's end"
        assert len(stalls) == 1
    finally:
        release.set()
        watch._stop.set()
