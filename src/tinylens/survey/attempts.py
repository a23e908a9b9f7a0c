"""A lens's attempts: the lock its task holds while fitting it (:func:`lens_lock`), the record of
each attempt (the worker, the template's digest: :func:`note_attempt`, :func:`fit_digest`) and
the stage its fit has reached (:func:`fit_stage`), kept in the lens's output folder so that the
survey can say which lenses are being fitted, and how far along, and which worker tried them.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tinylens import filenames
from tinylens.atomic import sync_appended
from tinylens.errors import SURVEY_RERUN
from tinylens.jsonfile import read_json_file
from tinylens.precision import get_precision
from tinylens.survey.discovery import Lens
from tinylens.survey.provenance import template_digest


@contextlib.contextmanager
def lens_lock(folder: Path) -> Iterator[None]:
    """Hold the lock ``folder/.lock`` (waiting for another holder; released when the holder dies)."""
    from tinylens.locks import folder_lock

    folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(folder, filenames.LENS_LOCK, wait=True, rerun=SURVEY_RERUN):
        yield


#: How an :data:`tinylens.filenames.ATTEMPTS` line ends with the Dask worker whose task started the fit.
ATTEMPT_WORKER = ", worker "

#: The word before the template's digest in a line of :data:`tinylens.filenames.ATTEMPTS` (:func:`note_attempt`).
ATTEMPT_TEMPLATE = "template"


def note_attempt(folder: Path, digest: str | None = None) -> None:
    """Record in ``folder``'s :data:`tinylens.filenames.ATTEMPTS` that a fit of its lens starts, with
    the ``digest`` of its template and precision (:func:`fit_digest`) where given
    (``template 0123456789abcdef``: what its checkpoints are of, :func:`attempted_digest`), and on
    which Dask worker where a worker's task starts it (``, worker tcp://...``, :func:`attempt_workers`)."""
    import socket

    made = f" {ATTEMPT_TEMPLATE} {digest}" if digest else ""
    try:
        from distributed import get_worker

        worker = f"{ATTEMPT_WORKER}{get_worker().address}"
    except Exception:  # not in a Dask worker's task (ValueError): the line names none
        worker = ""
    line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} process {os.getpid()} on {socket.gethostname()}{made}{worker}\n"
    path = folder / filenames.ATTEMPTS
    with open(path, "a+b") as handle:  # appended to (O_APPEND), and read for a cut last line
        handle.seek(0)
        written = handle.read()
        whole = written.rfind(b"\n") + 1
        if whole < len(written):  # a line cut by a crash mid-write, no record (attempt_lines): not joined to this one
            handle.truncate(whole)
        handle.write(line.encode())
        sync_appended(handle, path)  # the whole line on the disk before the fit starts (TINYLENS_FSYNC)


def attempt_lines(folder: Path) -> list[str]:
    """The lines of ``folder``'s :data:`tinylens.filenames.ATTEMPTS`, one per fit started
    (:func:`note_attempt`); none where the file is missing or cannot be read. A last line without
    its newline (cut where its node crashed mid-write: a truncated digest or worker address) is
    left out: its fit never started, the line being written before it."""
    try:
        written = (folder / filenames.ATTEMPTS).read_bytes()
        return written[:written.rfind(b"\n") + 1].decode().splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def attempt_workers(folder: Path) -> list[str]:
    """The Dask worker that started each fit of ``folder``'s lens (:func:`note_attempt`), one per
    :func:`attempts`, ``""`` where its line names none (written outside a worker, or by an older tinylens)."""
    return [line.rpartition(ATTEMPT_WORKER)[2] if ATTEMPT_WORKER in line else "" for line in attempt_lines(folder)]


def fit_digest(config: Mapping[str, Any], precision: str | None = None) -> str | None:
    """:func:`~tinylens.survey.provenance.template_digest` of ``config`` (a template, or a lens's
    config made of it) in ``precision`` (default: this process's); None where it cannot be made."""
    try:
        return template_digest(config, precision or get_precision())
    except Exception:  # noqa: BLE001 - a template the check refuses: its fit fails, no digest to keep
        return None


def attempted_digest(folder: Path) -> str | None:
    """The digest (:func:`fit_digest`) of the template of the last fit started in the lens's output
    ``folder``, as its :data:`tinylens.filenames.ATTEMPTS` line records it (before the worker it names,
    if any); None where none is recorded (no fit started, one by a tinylens that did not record it, a
    file that cannot be read)."""
    lines = attempt_lines(folder)
    words = lines[-1].partition(ATTEMPT_WORKER)[0].split() if lines else []
    return words[-1] if len(words) >= 2 and words[-2] == ATTEMPT_TEMPLATE else None


def fit_stage(folder: Path) -> str | None:
    """Where the fit in the lens's output ``folder`` has got to, as its pipeline's state file
    (:data:`tinylens.filenames.PIPELINE_STATE`, which the fit's worker writes after stage 1, after
    stage 2 and each start of stage 3, and before each sampling run) tells, numbered as
    ``tinylens fit``'s stage lines: ``stage 1/4 (lens light) done``, ``stage 3/4 (mass and
    source), 2 starts ended``, ``stage 4/4 (sampling, run 1)``. None where it tells nothing of the
    fit now running: no such file (a fit without the pipeline, or one in its first stage), one
    older than the fit's :data:`~tinylens.filenames.ATTEMPTS` line (an earlier fit's, which this
    one may not take up; both files written by the same worker, on its clock), or one that cannot
    be read (nor one nested too deep for :mod:`json`)."""
    path = folder / filenames.PIPELINE_STATE
    try:
        if path.stat().st_mtime < (folder / filenames.ATTEMPTS).stat().st_mtime:
            return None
        state = read_json_file(path, non_finite=True)  # a NaN read as the fit's own reader reads it (_read_state)
    except (OSError, ValueError):  # ValueError: not UTF-8, not JSON, or nested too deep to read (a damaged file)
        return None
    if not isinstance(state, dict):
        return None
    if "best" in state:  # stages 1-3 done: the box saved before each sampling run, with the runs before it
        runs = state.get("runs")
        return f"stage 4/4 (sampling, run {len(runs) + 1 if isinstance(runs, list) else 1})"
    partial = state.get("partial")
    if not isinstance(partial, dict):
        return None
    if partial.get("done") == 1:
        return "stage 1/4 (lens light) done"
    fits = partial.get("fits")
    n = len(fits) if isinstance(fits, list) else 0
    return f"stage 3/4 (mass and source), {n} start{'' if n == 1 else 's'} ended"


def lens_stage(lens: Lens, out: Path) -> str | None:
    """``lens_a: stage 3/4 (mass and source), 2 starts ended``: where the fit of ``lens`` (in the
    survey folder ``out``) has got to (:func:`fit_stage`); None where that is not told."""
    stage = fit_stage(lens.output(out))
    return f"{lens.lens_id}: {stage}" if stage else None


def stage_number(stage: str) -> int | None:
    """The stage a lens's fit is in, by what :func:`fit_stage` tells: ``stage 1/4 (lens light)
    done`` is stage 2 running; None for a text it did not write."""
    found = re.match(r"stage (\d)/4", stage)
    if found is None:
        return None
    return int(found.group(1)) + stage.endswith(" done")


def stages_in_flight(lenses: Sequence[Lens], out: Path, started: Mapping[str, int] | None = None) -> str | None:
    """Where the fits of the survey's ``lenses`` in flight (in the survey folder ``out``) have got
    to: that one lens's stage (:func:`lens_stage`: ``lens_a: stage 3/4 (mass and source), 2 starts
    ended``), else how many are in each stage, the furthest first (``lenses: 3 in stage 4/4, 1 in
    stage 2/4``), those of no stage told (not started, in stage 1, fitted without the pipeline) left
    out; None where none tells. ``started``: the fits of each lens started before the survey
    submitted it (:func:`attempts`); a lens of no fit started since (queued behind the others) is
    left out too, though an earlier survey's state in its folder (a resumed lens's) tells a stage."""
    def running(lens: Lens) -> bool:  # read only where a stage is told: one stat for most queued lenses
        return started is None or attempts(lens.output(out)) > started.get(lens.lens_id, 0)

    if len(lenses) == 1:
        where = lens_stage(lenses[0], out)
        return where if where and running(lenses[0]) else None
    counts: dict[int, int] = {}
    for lens in lenses:
        stage = fit_stage(lens.output(out))
        number = stage_number(stage) if stage and running(lens) else None
        if number is not None:
            counts[number] = counts.get(number, 0) + 1
    told = ", ".join(f"{counts[n]} in stage {n}/4" for n in sorted(counts, reverse=True))
    return f"lenses: {told}" if told else None


def snapshot(mapping: Mapping[Any, Lens]) -> list[Lens]:
    """The values of ``mapping``, which another thread changes, as they are now (read again where
    it changed while they were read)."""
    for _ in range(100):
        try:
            return list(mapping.values())
        except RuntimeError:  # changed size during iteration
            continue
    return []


def attempts(folder: Path) -> int:
    """How many fits of the lens whose output folder is ``folder`` have started (:func:`note_attempt`)."""
    return len(attempt_lines(folder))
