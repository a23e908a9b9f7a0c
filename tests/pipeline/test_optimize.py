"""Optimisation of many starts at once (Objective.minimize_many) against the starts one by one."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tinylens
from oracle import lenstronomy_image, noisy_problem, truth_vector
from tinylens.config.schema import Pipeline
from tinylens.errors import ConfigError
from tinylens.inference.optimizer import BAD
from tinylens.pipeline.optimize import Objective
from tinylens.pipeline.run import _stage_fingerprint, stage_threads


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    folder = tmp_path_factory.mktemp("optimize")

    def write_fits(name, array):
        from astropy.io import fits

        path = folder / name
        fits.writeto(path, np.asarray(array, dtype=float), overwrite=True)
        return str(path)

    image, kernel = lenstronomy_image()
    return noisy_problem(write_fits, image, kernel)


def _jobs(problem):
    """Three starts that must end apart: theta_E held at 1.0, 1.2 and 1.4, the source free."""
    names = problem.param_names
    truth = truth_vector(names)
    free = [names.index(n) for n in ("source_light.0.center_x", "source_light.0.center_y", "source_light.0.R_sersic")]
    jobs = []
    for theta_E in (1.0, 1.2, 1.4):
        start = truth.copy()
        start[names.index("lens_mass.0.theta_E")] = theta_E
        start[free[0]] += 0.05
        start[free[1]] -= 0.05
        jobs.append((start, free))
    return jobs


def test_batched_evaluations_equal_the_single_ones(problem):
    objective = Objective(problem)
    rng = np.random.default_rng(1)
    truth = truth_vector(problem.param_names)
    thetas = truth + rng.normal(0, 0.01, (3, problem.ndim))
    frees = np.ones((3, problem.ndim), bool)
    frees[1, :5] = False
    many = objective.value_and_grad_many(thetas, frees)
    for theta, free, (value, grad) in zip(thetas, frees, many):
        one_value, one_grad = objective.value_and_grad(theta, free)
        assert value == pytest.approx(one_value, rel=1e-5)
        np.testing.assert_allclose(grad, one_grad, rtol=1e-3, atol=1e-3 * np.abs(one_grad).max())
        assert np.all(grad[~free] == 0)


def test_a_nan_row_leaves_the_rest_of_its_batch_alone(problem):
    objective = Objective(problem)
    truth = truth_vector(problem.param_names)
    thetas = np.stack([truth, np.full(problem.ndim, np.nan), truth * 1.01])
    frees = np.ones((3, problem.ndim), bool)
    many = objective.value_and_grad_many(thetas, frees)
    assert many[1][0] == BAD and np.all(many[1][1] == 0)  # the optimiser's "non-finite" value
    for i in (0, 2):
        value, grad = objective.value_and_grad(thetas[i], frees[i])
        assert many[i][0] == pytest.approx(value, rel=1e-5) and np.all(np.isfinite(many[i][1]))


def test_starts_in_step_match_the_starts_one_by_one(problem):
    jobs = _jobs(problem)
    i_E = problem.param_names.index("lens_mass.0.theta_E")
    counts = {"one": 0, "many": 0}
    one_by_one = Objective(problem, counter=lambda n: counts.__setitem__("one", counts["one"] + n))
    in_step = Objective(problem, counter=lambda n: counts.__setitem__("many", counts["many"] + n), threads=2)
    serial = one_by_one.minimize_many(jobs)
    batched = in_step.minimize_many(jobs)  # three starts in two threads: a thread takes a second start
    assert [f.theta[i_E] for f in batched] == pytest.approx([1.0, 1.2, 1.4])  # each fit in its job's place
    for a, b in zip(serial, batched):
        assert b.log_post == pytest.approx(a.log_post, abs=0.05)
        np.testing.assert_allclose(b.theta, a.theta, atol=2e-3)
    best = max(batched, key=lambda f: f.log_post)
    assert best.theta[i_E] == pytest.approx(1.2)  # the truth's start wins
    # evaluations counted once each; the rows that pad a batch are not counted
    assert counts["many"] == sum(f.n_evals for f in batched)
    assert counts["one"] == sum(f.n_evals for f in serial)


def test_a_failing_batch_reaches_every_waiting_start(problem, monkeypatch):
    objective = Objective(problem, threads=3)
    calls = {"n": 0}
    real = objective.value_and_grad_many

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("device lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(objective, "value_and_grad_many", failing)
    outcome = {}

    def run():
        try:
            objective.minimize_many(_jobs(problem))
        except RuntimeError as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "minimize_many hung after a failed batch"
    assert outcome == {"error": "device lost"}


@pytest.mark.parametrize("bad_at", [0, 3])
def test_a_start_that_fails_stops_the_others_and_its_error_is_raised(problem, bad_at):
    jobs = _jobs(problem)
    good_start, free = jobs[1]
    jobs.insert(bad_at, (good_start, [problem.ndim + 5]))  # no such parameter: IndexError at once
    counted = {"n": 0}
    objective = Objective(problem, counter=lambda n: counted.__setitem__("n", counted["n"] + n), threads=2)
    outcome = {}

    def run():
        try:
            objective.minimize_many(jobs)
        except Exception as exc:  # noqa: BLE001 - the type is the assertion
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive()
    assert isinstance(outcome.get("error"), IndexError), outcome  # the real failure, not a cancelled start
    # the starts still running stop at their next evaluation. Bad first: the one start beside it
    # stops after at most one. Bad last: it starts when the first good start ends, and the third
    # good start, running since the second ended, stops short of its end.
    n_evals = [f.n_evals for f in Objective(problem, threads=2).minimize_many(_jobs(problem))]
    allowed = 1 if bad_at == 0 else sum(n_evals) - 10
    assert counted["n"] <= allowed, (counted["n"], n_evals)


def test_threads_come_from_the_config_or_the_device():
    assert stage_threads(Pipeline(threads=3)) == 3
    import jax

    assert stage_threads(Pipeline()) == (1 if jax.default_backend() == "cpu" else 8)


def test_threads_do_not_invalidate_a_pipeline_checkpoint(problem):
    plain = _stage_fingerprint(problem, Pipeline())
    assert _stage_fingerprint(problem, Pipeline(threads=8)) == plain
    assert _stage_fingerprint(problem, Pipeline(n_sigma=5)) != plain


#: The stage fingerprint of :func:`_still_problem` with the default pipeline, by precision, as tinylens
#: computed it before 5837b9d (its stage states on disk carry it).
STILL_STAMPS = {"float32": "5bff190fc17fc869a6c027cb3bcedb713dd894b8ceb5704de5cc9bfb52e93bde",
                "float64": "0e9c39e84b6788d93991184978503771b40d224dd53840e532db9ae69109ee0e"}


def _still_problem(folder):
    """A problem whose data are whole numbers (the same bytes on any machine) and the table-1 model."""
    from astropy.io import fits

    from oracle import table1_components

    def write_fits(name, array):
        fits.writeto(folder / name, np.asarray(array, dtype=float))
        return str(folder / name)

    image = (np.arange(400).reshape(20, 20) % 7).astype(float)
    return tinylens.load({"dataset": {"data_path": write_fits("image.fits", image),
                                      "noise_path": write_fits("noise.fits", np.full((20, 20), 0.5)),
                                      "psf_path": write_fits("psf.fits", np.ones((3, 3))), "pixel_scale": 0.125},
                          "model_components": table1_components()})


def test_the_default_pipelines_stage_fingerprint_is_the_one_its_stage_states_were_written_with(tmp_path):
    """5837b9d sorted the keys of each mapping in a fingerprint's settings; the pipeline's settings
    are one (in the schema's order, enabled first), so the stage fingerprint of every fit changed,
    the default's included: a stopped fit resumed after it found its checkpoint.pipeline.json of
    another fit and did stages 1-3 again. It is the one it was (stamps computed before 5837b9d)."""
    problem = _still_problem(tmp_path)
    assert _stage_fingerprint(problem, Pipeline()) == STILL_STAMPS[problem.precision]


def test_a_thread_count_below_one_is_refused_by_name(problem):
    config = problem.config.model_dump()
    config["pipeline"] = {"threads": 0}
    with pytest.raises(ConfigError, match="pipeline.threads"):
        tinylens.load(config, base_dir=problem.base_dir)


def test_a_start_saving_its_fit_does_not_hold_up_the_starts_in_step(problem):
    """With pipeline.threads > 1 a start of stage 3 that had ended saved checkpoint.pipeline.json
    (``done``) while still counted among the starts in step, so the others' next evaluations
    waited until its write ended (each save, on a slow or network disk, stalled every start). It
    now leaves the step first: the other start goes on evaluating while the save runs, to the same
    fit as with no save."""
    quick = (_jobs(problem)[0][0], [])  # nothing free: it ends after its first evaluation
    jobs = [quick, _jobs(problem)[1]]
    objective = Objective(problem, threads=2)
    evaluated, calls = threading.Condition(), {"n": 0}
    real = objective.value_and_grad_many

    def counted(*args, **kwargs):
        out = real(*args, **kwargs)
        with evaluated:
            calls["n"] += 1
            evaluated.notify_all()
        return out

    objective.value_and_grad_many = counted
    went_on = []

    def slow_save(i, fit):  # a save that lasts until the other start has evaluated thrice (at most 60 s)
        if i == 0:
            with evaluated:
                before = calls["n"]
                went_on.append(evaluated.wait_for(lambda: calls["n"] >= before + 3, timeout=60))

    fits = objective.minimize_many(jobs, done=slow_save)
    assert went_on == [True], "the other start waited for the save"
    unsaved = Objective(problem, threads=2).minimize_many(jobs)
    assert np.array_equal(fits[1].theta, unsaved[1].theta) and fits[1].n_evals == unsaved[1].n_evals
    assert fits[1].log_post == unsaved[1].log_post
