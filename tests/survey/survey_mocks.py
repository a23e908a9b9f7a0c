"""Tiny mock lenses for survey tests: 32 x 32 pixels, SIS + one Sersic source, 4 free parameters,
so that one nautilus fit takes seconds. (A plain module: test files import it by a unique name.)"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

SHAPE = (32, 32)
PIXEL_SCALE = 0.1
NSUB = 2
SOURCE = {"Ie": 5.0, "R_sersic": 0.15, "n_sersic": 1.0, "e1": 0.0, "e2": 0.0, "center_x": 0.08, "center_y": -0.05}
#: Good lenses of the mock survey and their Einstein radii (arcsec).
THETA_E = {"lens_a": 0.8, "lens_b": 1.0, "lens_c": 1.2}


def _free(a: float, b: float) -> dict[str, Any]:
    return {"prior_type": "uniform", "prior_settings": [a, b], "fixed": False}


def _fixed(value: float) -> dict[str, Any]:
    return {"fixed": True, "fixed_value": value}


def template_config() -> dict[str, Any]:
    """SIS (theta_E free) lensing a round n = 1 Sersic (size and centre free, amplitude linear)."""
    return {
        "dataset": {
            "data_path": "image.fits",
            "noise_path": "noise.fits",
            "psf_path": "psf.fits",
            "pixel_scale": PIXEL_SCALE,
            "nsub": NSUB,
            "supersampling": {"mode": "uniform"},
        },
        "model_components": {
            "lens_mass_list": [
                {"type": "SIS", "params": {"theta_E": _free(0.5, 1.5), "center_x": _fixed(0.0), "center_y": _fixed(0.0)}}
            ],
            "source_light_list": [
                {
                    "type": "Sersic",
                    "params": {
                        "R_sersic": _free(0.05, 0.5),
                        "n_sersic": _fixed(1.0),
                        "e1": _fixed(0.0),
                        "e2": _fixed(0.0),
                        "center_x": _free(-0.3, 0.3),
                        "center_y": _free(-0.3, 0.3),
                        "Ie": {"use_linear": True},
                    },
                }
            ],
        },
        "inference": {"type": "sampler", "method": "nautilus",
                      "settings": {"nlive": 50, "n_eff": 200, "n_networks": 1}},
        "output": {"path": "not_used"},
    }


def write_lens(folder: Path, theta_e: float, seed: int, mask: bool = False) -> Path:
    """Simulate a noisy mock lens into ``folder`` (image, noise, psf and optionally mask FITS)."""
    from tinylens.data.fits_io import write_fits_image
    from tinylens.simulate import add_noise, gaussian_psf, simulate_image

    folder.mkdir(parents=True, exist_ok=True)
    psf = gaussian_psf(0.2, PIXEL_SCALE, 5)
    truth = {"lens_mass": [{"theta_E": theta_e, "center_x": 0.0, "center_y": 0.0}], "source_light": [SOURCE]}
    model = simulate_image({"lens_mass_list": ["SIS"], "source_light_list": ["Sersic"]}, truth, SHAPE, PIXEL_SCALE, psf, nsub=NSUB)
    image, noise = add_noise(model, 0.5, rng=seed)
    for name, array in (("image", image), ("noise", noise), ("psf", psf)):
        write_fits_image(folder / f"{name}.fits", array)
    if mask:
        yy, xx = np.indices(SHAPE)
        write_fits_image(folder / "mask.fits", np.hypot(yy - 15.5, xx - 15.5) >= 15)  # non-zero: left out
    return folder


def write_broken_lens(folder: Path, seed: int = 0) -> Path:
    """A lens folder whose image.fits is random bytes (noise and psf are fine)."""
    write_lens(folder, 1.0, seed)
    (folder / "image.fits").write_bytes(np.random.default_rng(seed).bytes(2880))
    return folder


def fit_or_kill_worker(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                       precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` (run on Dask workers: importable by name): the fit of
    ``lens_kill`` kills its worker process, as running out of memory would; any other lens gives
    an ``ok`` row at once."""
    import os
    import signal
    import time

    from tinylens.survey import attempts
    from tinylens.survey import rows as survey_rows

    folder = Path(lens_out)
    folder.mkdir(parents=True, exist_ok=True)
    getattr(attempts, "note_attempt", lambda folder: None)(folder)  # as fit_lens does when its fit starts
    if lens_id == "lens_kill":
        time.sleep(1.0)  # the lenses submitted after it are queued on this worker by now
        os.kill(os.getpid(), signal.SIGKILL)
    row = {"lens_id": lens_id, "status": "ok", "reason": ""}
    survey_rows.write_row(folder, row)
    return row


def fit_killing_its_first_worker(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                                 precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` (run on Dask workers: importable by name): the first fit
    of ``lens_once`` (and of ``lens_once_checkpointed``, which first writes a checkpoint) kills its
    worker process, as a node lost or a ``kill -9`` would; its next fit, and any other lens's, gives
    an ``ok`` row at once."""
    import os
    import signal
    import time

    from tinylens import filenames
    from tinylens.survey import attempts
    from tinylens.survey import rows as survey_rows

    folder = Path(lens_out)
    folder.mkdir(parents=True, exist_ok=True)
    attempts.note_attempt(folder)
    if lens_id.startswith("lens_once") and attempts.attempts(folder) == 1:
        if lens_id == "lens_once_checkpointed":
            (folder / filenames.CHECKPOINTS["nautilus"]).write_bytes(b"checkpoint")
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
    row = {"lens_id": lens_id, "status": "ok", "reason": ""}
    survey_rows.write_row(folder, row)
    return row


def fit_raising_then_killing_its_worker(lens_id: str, config: dict[str, Any], lens_out: str,
                                        truth_path: str | None = None, precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` (run on Dask workers: importable by name): the first fit
    of ``lens_flaky`` raises (Dask retries its task, no worker died), its second kills its worker
    process, as a node lost would; its third, and any other lens's, gives an ``ok`` row at once."""
    import os
    import signal
    import time


    from tinylens.survey import attempts
    from tinylens.survey import rows as survey_rows

    folder = Path(lens_out)
    folder.mkdir(parents=True, exist_ok=True)
    attempts.note_attempt(folder)
    if lens_id == "lens_flaky" and attempts.attempts(folder) == 1:
        raise RuntimeError("a passing fault: Dask retries the task")
    if lens_id == "lens_flaky" and attempts.attempts(folder) == 2:
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGKILL)
    row = {"lens_id": lens_id, "status": "ok", "reason": ""}
    survey_rows.write_row(folder, row)
    return row


def fit_raising_and_killing_behind_a_killer(lens_id: str, config: dict[str, Any], lens_out: str,
                                            truth_path: str | None = None, precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` (run on Dask workers: importable by name): the first two
    fits of ``lens_killer`` kill their worker process after a second (a lens submitted after it
    waits there behind it, and Dask counts those deaths against it too); the first two fits of
    ``lens_flaky`` raise (Dask retries its task, no worker died), its next two kill their worker;
    every later fit, and any other lens's, gives an ``ok`` row at once."""
    import os
    import signal
    import time


    from tinylens.survey import attempts
    from tinylens.survey import rows as survey_rows

    folder = Path(lens_out)
    folder.mkdir(parents=True, exist_ok=True)
    attempts.note_attempt(folder)
    fits = attempts.attempts(folder)
    if lens_id == "lens_flaky" and fits <= 2:
        raise RuntimeError("a passing fault: Dask retries the task")
    if (lens_id == "lens_killer" and fits <= 2) or (lens_id == "lens_flaky" and fits <= 4):
        time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGKILL)
    row = {"lens_id": lens_id, "status": "ok", "reason": ""}
    survey_rows.write_row(folder, row)
    return row


def slow_echo_truth_path(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                         precision: str | None = None) -> dict[str, Any]:
    """:func:`echo_truth_path` after a second's work, as a fit takes a while: the lenses submitted
    meanwhile wait on the worker fitting it."""
    import time

    time.sleep(1.0)
    return echo_truth_path(lens_id, config, lens_out, truth_path, precision)


def echo_truth_path(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                    precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` (importable by name, for Dask workers): an ``ok`` row
    whose ``reason`` is the ``truth_path`` the survey gave the task, written as a real fit writes
    its files: its result.json (:func:`stand_in_result`) first, then its row.json."""
    from tinylens.survey import rows as survey_rows

    stand_in_result(Path(lens_out))
    row = {"lens_id": lens_id, "status": "ok", "reason": str(truth_path)}
    survey_rows.write_row(Path(lens_out), row)
    return row


def echo_after_sampler_import(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                              precision: str | None = None) -> dict[str, Any]:
    """:func:`echo_truth_path` (importable by name, for Dask workers) after importing the runner of
    ``config``'s sampler, as a real fit does: where this Python lacks the sampler's package, the
    failed row a real fit writes then (``task.missing_here_text``) instead."""
    import importlib

    from tinylens.inference import METHODS
    from tinylens.survey import task
    from tinylens.survey import rows as survey_rows

    method = (config.get("inference") or {}).get("method") or "nautilus"
    try:
        importlib.import_module(METHODS["sampler"][method].partition(":")[0])
    except ModuleNotFoundError as exc:
        row = survey_rows.failed_row(lens_id, survey_rows.one_line(task.missing_here_text(exc)))
        survey_rows.write_row(Path(lens_out), row)
        return row
    return echo_truth_path(lens_id, config, lens_out, truth_path, precision)


#: The lenses :func:`echo_truth_path_refused_first` has refused once (in-process workers share it).
REFUSED_ONCE: set[str] = set()


def echo_truth_path_refused_first(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                                  precision: str | None = None) -> dict[str, Any]:
    """:func:`echo_truth_path` (importable by name, for Dask workers), except that the first task of
    lens_a returns a refused row and writes nothing, as a worker refusing its lens does."""
    if lens_id == "lens_a" and lens_id not in REFUSED_ONCE:
        REFUSED_ONCE.add(lens_id)
        return {"lens_id": lens_id, "status": "refused", "worker": "tcp://10.0.0.9:1", "unseen": "stand-in"}
    return echo_truth_path(lens_id, config, lens_out, truth_path, precision)


def stand_in_result(folder: Path) -> Path:
    """Write the ``result.json`` of a fake fit in the lens folder ``folder``, as ``tinylens.fit``
    writes its result before ``task.fit_lens`` writes the ``ok`` row.json (``is_done`` takes an
    ``ok`` row for a finished lens only beside its result.json): a stand-in, no row is made of it."""
    from tinylens import filenames
    from tinylens.results.tables import write_json

    folder.mkdir(parents=True, exist_ok=True)
    return write_json(folder / filenames.RESULT, {"output_dir": str(folder), "stand_in": "survey_mocks"})


#: Set to let :func:`echo_truth_path_held`'s held fits end (the worker threads of an in-process cluster
#: share this module with the test that sets it).
HELD_FITS_RELEASED = threading.Event()
#: Set once one of :func:`echo_truth_path_held`'s held fits has noted its start, as a real fit does
#: (the hint says an external cluster's workers go on fitting only a lens whose fit started).
HELD_FIT_STARTED = threading.Event()


def echo_truth_path_held(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                         precision: str | None = None) -> dict[str, Any]:
    """:func:`echo_truth_path` (importable by name, for Dask workers), lens_a and lens_b at once and
    every other lens once :data:`HELD_FITS_RELEASED` is set (at most 30 s later): a worker thread of an
    in-process cluster is still fitting a lens when the survey is stopped as the second lens comes
    back, and lets it go as soon as the test releases it, not after a fixed wait. A held fit notes its
    start in the lens's .attempts first (attempts.note_attempt), as task.fit_lens does, and sets
    :data:`HELD_FIT_STARTED`."""
    if lens_id not in ("lens_a", "lens_b"):
        from tinylens.survey import attempts

        Path(lens_out).mkdir(parents=True, exist_ok=True)
        attempts.note_attempt(Path(lens_out))
        HELD_FIT_STARTED.set()
        HELD_FITS_RELEASED.wait(30.0)
    return echo_truth_path(lens_id, config, lens_out, truth_path, precision)


def fit_resting_in_stage_3(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                           precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` (importable by name, for Dask workers): a fit that notes
    its start, writes the pipeline state of stage 3 with one start ended, stays there a second
    (for the survey's heartbeat) and ends ``ok``."""
    import json
    import time

    from tinylens import filenames
    from tinylens.survey import attempts
    from tinylens.survey import rows as survey_rows

    folder = Path(lens_out)
    folder.mkdir(parents=True, exist_ok=True)
    attempts.note_attempt(folder)
    (folder / filenames.PIPELINE_STATE).write_text(json.dumps({"fingerprint": "f", "partial": {"done": 2, "fits": [{}]}}))
    time.sleep(1.0)
    stand_in_result(folder)
    row = {"lens_id": lens_id, "status": "ok", "reason": ""}
    survey_rows.write_row(folder, row)
    return row


def fit_telling_the_dtype(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                          precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` (run on Dask workers: importable by name): the real
    ``fit_lens`` with a ``tinylens.fit`` that fails at once, saying the dtype it would fit in."""
    import tinylens
    from tinylens.errors import TinyLensError
    from tinylens.precision import get_dtype
    from tinylens.survey import task

    def fit(*args: Any, **kwargs: Any) -> None:
        raise TinyLensError(f"would fit in {np.dtype(get_dtype()).name}")

    tinylens.fit = fit
    return task.fit_lens(lens_id, config, lens_out, **({} if precision is None else {"precision": precision}))


def fit_or_use_too_much_memory(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                               precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` (run on Dask workers: importable by name): the fit of
    ``lens_big`` takes memory, 100 MB every 20 ms up to 4 GB, as a lens too large for its worker
    would; any other lens gives an ``ok`` row at once."""
    import time


    from tinylens.survey import attempts
    from tinylens.survey import rows as survey_rows

    folder = Path(lens_out)
    folder.mkdir(parents=True, exist_ok=True)
    attempts.note_attempt(folder)
    if lens_id == "lens_big":
        held = []
        for _ in range(40):
            held.append(np.ones(100_000_000 // 8))
            time.sleep(0.02)
    row = {"lens_id": lens_id, "status": "ok", "reason": ""}
    survey_rows.write_row(folder, row)
    return row


def fit_or_hang(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` (run on Dask workers: importable by name): the fit of
    ``lens_hang`` takes two minutes (long enough for a test to stop the cluster under it); any
    other lens gives an ``ok`` row at once."""
    import time


    from tinylens.survey import attempts
    from tinylens.survey import rows as survey_rows

    folder = Path(lens_out)
    folder.mkdir(parents=True, exist_ok=True)
    attempts.note_attempt(folder)
    if lens_id == "lens_hang":
        time.sleep(120.0)
    row = {"lens_id": lens_id, "status": "ok", "reason": ""}
    survey_rows.write_row(folder, row)
    return row


def fit_raising_once_before_a_killer(lens_id: str, config: dict[str, Any], lens_out: str,
                                     truth_path: str | None = None, precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` (run on Dask workers: importable by name): the first fit
    of ``lens_retried`` raises after half a second (``lens_killer``, submitted after it, waits on the
    same worker by then, and Dask's retry of ``lens_retried`` waits there behind it); the first fit of
    ``lens_killer`` kills its worker process after a second, as running out of memory would; every
    later fit, and any other lens's, gives an ``ok`` row at once."""
    import os
    import signal
    import time


    from tinylens.survey import attempts
    from tinylens.survey import rows as survey_rows

    folder = Path(lens_out)
    folder.mkdir(parents=True, exist_ok=True)
    attempts.note_attempt(folder)
    if attempts.attempts(folder) == 1 and lens_id == "lens_retried":
        time.sleep(0.5)
        raise RuntimeError("a passing fault: Dask retries the task")
    if attempts.attempts(folder) == 1 and lens_id == "lens_killer":
        time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGKILL)
    row = {"lens_id": lens_id, "status": "ok", "reason": ""}
    survey_rows.write_row(folder, row)
    return row


#: Set by a test to let :func:`fit_written_then_held`'s held fits return.
WRITTEN_FITS_RELEASED = threading.Event()


def fit_written_then_held(lens_id: str, config: dict[str, Any], lens_out: str, truth_path: str | None = None,
                          precision: str | None = None) -> dict[str, Any]:
    """A stand-in for ``task.fit_lens`` (importable by name): an ``ok`` row, written with a
    ``result.json`` beside it; the fit of ``lens_held`` then holds until :data:`WRITTEN_FITS_RELEASED`
    (2 min at most), as a worker that finished the lens but died before its value reached the survey."""
    from tinylens.survey import attempts
    from tinylens.survey import rows as survey_rows

    folder = Path(lens_out)
    folder.mkdir(parents=True, exist_ok=True)
    attempts.note_attempt(folder)
    (folder / "result.json").write_text("{}\n")
    row = {"lens_id": lens_id, "status": "ok", "reason": ""}
    survey_rows.write_row(folder, row)
    if lens_id == "lens_held":
        WRITTEN_FITS_RELEASED.wait(120.0)
    return row


def lens_a_taken(monkeypatch: Any) -> threading.Event:
    """An event set once the survey has taken in lens_a's row (``runner._task_row`` of it gave a
    row: its fit's end reached the client), by wrapping ``_task_row`` through ``monkeypatch``."""
    from tinylens.survey import runner

    taken = threading.Event()
    task_row = runner._task_row

    def noting_lens_a(outcome: Any, lens: Any, *args: Any, **kwargs: Any) -> Any:
        row = task_row(outcome, lens, *args, **kwargs)
        if lens.lens_id == "lens_a" and row is not None:
            taken.set()
        return row

    monkeypatch.setattr(runner, "_task_row", noting_lens_a)
    return taken
