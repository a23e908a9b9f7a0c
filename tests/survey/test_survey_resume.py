"""A real survey of small mock lenses on a local Dask cluster of two workers: killed mid-run and
started again it ends with exactly one ``ok`` row per lens (fitted near the truth), a ``failed``
row for the broken lens folder, and the lenses finished before the kill not fitted again. A
worker killed while fitting loses nothing: its lens is fitted again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from survey_mocks import THETA_E
from tinylens.survey import rows as survey_rows
from tinylens.survey import runner

GOOD = sorted(THETA_E)
ALL = sorted([*GOOD, "lens_bad"])
#: The lenses of the kill-and-resume survey: two good ones and the broken one.
KILL_GOOD = GOOD[:2]
#: Longest wait for a survey step (the machine may be shared: generous).
TIMEOUT = 400


def _survey_command(lenses: Path, template: Path, out: Path, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "tinylens", "survey", str(lenses), "--config", str(template), "--out", str(out),
            "--workers", str(workers)]


def _env() -> dict[str, str]:
    src = str(Path(runner.__file__).resolve().parents[2])  # this checkout's src, whatever is installed
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]), "MPLBACKEND": "Agg"}


def _rows(out: Path) -> dict[str, dict]:
    return survey_rows.read_rows(out)


def _subset(lenses: Path, names: list[str], folder: Path) -> Path:
    """A lens folder holding links to some of the mock lenses (and the 'notes' non-lens folder)."""
    folder.mkdir()
    for name in [*names, "notes"]:
        (folder / name).symlink_to(lenses / name, target_is_directory=True)
    return folder


def _check_catalogue(out: Path, good: list[str] = GOOD) -> pd.DataFrame:
    """One row per lens folder, ok for the good ones (theta_E near the truth), failed for the broken one."""
    frame = pd.read_parquet(out / "catalog.parquet")
    assert list(frame["lens_id"]) == sorted([*good, "lens_bad"])  # sorted, unique, no row for 'notes'
    status = dict(zip(frame["lens_id"], frame["status"]))
    assert status == {**dict.fromkeys(good, "ok"), "lens_bad": "failed"}
    bad = frame.set_index("lens_id").loc["lens_bad"]
    assert "image.fits" in bad["reason"] and "FITS" in bad["reason"]
    ok = frame.set_index("lens_id").loc[good]
    for lens_id in good:
        assert ok.loc[lens_id, "lens_mass.0.theta_E_median"] == pytest.approx(THETA_E[lens_id], rel=0.03)
        assert ok.loc[lens_id, "lens_mass.0.theta_E_lo997"] < ok.loc[lens_id, "lens_mass.0.theta_E_hi997"]
    assert (ok["n_likelihood_evals"] > 0).all() and ok["log_evidence"].notna().all() and (ok["wall_time_s"] > 0).all()
    assert (ok["total_time_s"] > ok["wall_time_s"]).all()  # the whole fit: the search and more
    csv = pd.read_csv(out / "catalog.csv")
    assert list(csv["lens_id"]) == list(frame["lens_id"]) and list(csv["status"]) == list(frame["status"])
    for lens_id in good:
        assert (out / "lenses" / lens_id / "result.json").is_file()
        assert not (out / "lenses" / lens_id / "checkpoint.hdf5").exists()  # removed once finished
    return frame


@pytest.mark.slow
def test_survey_killed_mid_run_resumes_with_one_row_per_lens(mock_survey, tmp_path):
    """~2 min on 2 idle cores: each run starts fresh worker processes (imports, compilation)."""
    out = tmp_path / "out"
    lenses = _subset(mock_survey["lenses"], [*KILL_GOOD, "lens_bad"], tmp_path / "lenses")
    command = _survey_command(lenses, mock_survey["template"], out)
    log = open(tmp_path / "first.log", "w")
    # One worker for the run that is killed: with two, both good lenses were fitted side by side
    # and often finished within one 0.1 s poll of each other (3 of 13 runs), leaving nothing to
    # kill mid-fit. One at a time, the other good lens is still to be fitted when the first is done.
    first = subprocess.Popen(_survey_command(lenses, mock_survey["template"], out, workers=1), env=_env(),
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    finished: list[str] = []
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and first.poll() is None:
            finished = [k for k, r in _rows(out).items() if r["status"] == "ok"]
            if finished:
                break
            time.sleep(0.1)
        assert first.poll() is None, f"the survey ended before it could be killed:\n{(tmp_path / 'first.log').read_text()}"
        assert finished, "no lens finished in time"
        os.killpg(first.pid, signal.SIGKILL)  # the survey, its scheduler and both workers at once
        first.wait(30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        log.close()
    before = _rows(out)
    assert set(before) >= set(finished) and not set(KILL_GOOD) <= {k for k, r in before.items() if r["status"] == "ok"}
    stamps = {k: (out / "lenses" / k / "result.json").stat().st_mtime_ns for k in finished}

    second = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "2 ok" in second.stdout and "1 failed" in second.stdout
    # no terminal: plain progress lines on stderr, the last with nothing left
    assert "survey: 3/3 done (2 ok, 1 failed), 0 left" in second.stderr
    frame = _check_catalogue(out, KILL_GOOD)
    for k, stamp in stamps.items():  # finished before the kill: kept, not fitted again
        assert (out / "lenses" / k / "result.json").stat().st_mtime_ns == stamp

    # a third run has nothing to do and leaves the catalogue as it is
    again = runner.run_survey(lenses, mock_survey["template"], out, progress=False)
    pd.testing.assert_frame_equal(again, frame)


@pytest.mark.slow
def test_killed_worker_loses_only_its_lens(mock_survey, tmp_path):
    """A worker process killed while fitting: Dask reruns its lens on a worker (the nanny
    restarts the dead one), the other lenses are unaffected, and each lens has one row.
    ~2-3 min on 2 idle cores."""
    from distributed import Client, LocalCluster

    out = tmp_path / "out"
    killed: dict[str, object] = {}
    stop = threading.Event()

    def kill_a_busy_worker(client: Client) -> None:
        while not stop.is_set():
            busy = [lens for lens in GOOD if (out / "lenses" / lens / "checkpoint.hdf5").exists()
                    and not (out / "lenses" / lens / "row.json").exists()]
            processing = {w: keys for w, keys in client.processing().items() if keys}
            if busy and processing:
                worker = next(iter(processing))
                pid = client.run(os.getpid, workers=[worker])[worker]
                killed.update(pid=pid, rows_before=set(_rows(out)))
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.1)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        killer = threading.Thread(target=kill_a_busy_worker, args=(client,), daemon=True)
        killer.start()
        try:
            frame = runner.run_survey(mock_survey["lenses"], mock_survey["template"], out,
                                      scheduler=cluster.scheduler_address, progress=False)
        finally:
            stop.set()
            killer.join(10)
    assert "pid" in killed, "no worker was killed: every lens finished before a checkpoint was seen"
    assert set(GOOD) - killed["rows_before"], "the worker was killed after every lens had finished"
    assert list(frame["lens_id"]) == ALL
    _check_catalogue(out, GOOD)
