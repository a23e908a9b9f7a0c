"""dynesty and the optimisers find the truth of a tiny lenstronomy-simulated lens.

The reference is independent of the searches: the true parameters, the Fisher-matrix errors
(``jax.hessian`` of eq. 5 at the truth, float64) and the likelihood at the truth, which the
maximum must reach (the maximum of the likelihood is at least as high as its value at the truth)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tinylens
from oracle import x64
from tiny_lens import FREE_TRUTH, tiny_config, write_tiny_lens
from tinylens.inference import run_inference
from tinylens.pipeline.run import stage_threads
from tinylens.results.tables import summarize


@pytest.fixture(scope="module")
def lens_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    write_tiny_lens(folder)
    return folder


def load(lens_dir, inference: dict):
    """The tiny lens with ``inference`` as its search (float32, as fits run)."""
    config = tiny_config(inference)
    for key in ("data_path", "noise_path", "psf_path"):
        config["dataset"][key] = str(lens_dir / config["dataset"][key])
    return tinylens.load(config)


@pytest.fixture(scope="module")
def reference(lens_dir):
    """Truth vector and Fisher 1-sigma errors."""
    with x64():
        problem = tinylens.load(load(lens_dir, {}).config.model_dump(), dtype=jnp.float64)
        truth = np.array([FREE_TRUTH[n] for n in problem.param_names])
        hess = np.asarray(jax.jit(jax.hessian(problem.log_likelihood_jax))(jnp.asarray(truth)))
    sigma = np.sqrt(np.diag(np.linalg.inv(-hess)))
    assert np.all(np.isfinite(sigma)) and np.all(sigma > 0)
    return {"truth": truth, "sigma": sigma}


def check_best_fit(problem, res, reference, n_sigma: float = 4.0) -> None:
    """The best fit is within ``n_sigma`` Fisher errors of the truth and at least as likely
    (up to float32 rounding of a sum over 1024 pixels)."""
    best = res.max_likelihood
    pulls = (best - reference["truth"]) / reference["sigma"]
    assert np.all(np.abs(pulls) < n_sigma), dict(zip(problem.param_names, pulls.round(2)))
    assert problem.log_likelihood(best) > problem.log_likelihood(reference["truth"]) - 0.1
    assert best[0] == pytest.approx(reference["truth"][0], rel=0.01)  # theta_E


def test_dynesty_recovers_truth(lens_dir, reference):
    problem = load(lens_dir, {"type": "sampler", "method": "dynesty",
                              "settings": {"nlive": 100, "sample": "unif", "dlogz": 0.5, "batch_size": 32, "seed": 1}})
    res = run_inference(problem, progress=False)
    assert res.method == "dynesty" and np.isfinite(res.log_evidence) and res.converged
    # the pipeline's stages count their (gradient) evaluations too
    stages = res.info["pipeline"]["stage_gradient_evals"]
    assert res.n_likelihood_evals == res.info["n_like_this_run"] + stages and res.info["n_like_this_run"] > 1000
    assert res.info["pipeline"]["threads"] == stage_threads(problem.config.pipeline)  # 1 on a CPU
    stats = summarize(dict(zip(problem.param_names, res.samples.T)), res.weights)
    for name, true, sig in zip(problem.param_names, reference["truth"], reference["sigma"]):
        lo, hi = stats[name]["interval_997"]
        assert lo <= true <= hi, (name, true, lo, hi)
        lo68, hi68 = stats[name]["interval_68"]
        assert 0.5 < (hi68 - lo68) / (2 * sig) < 2.0, (name, hi68 - lo68, sig)  # widths as Fisher predicts
    check_best_fit(problem, res, reference)


@pytest.mark.parametrize(
    "method, settings",
    [
        ("differential_evolution", {"popsize": 10, "maxiter": 200, "seed": 2}),
        ("lbfgs", {"n_starts": 4, "n_draws": 256, "seed": 2}),
    ],
)
def test_optimiser_finds_truth(lens_dir, reference, method, settings):
    problem = load(lens_dir, {"type": "optimizer", "method": method, "settings": settings})
    res = run_inference(problem, progress=False)
    assert res.method == method and res.log_evidence is None
    assert res.samples.shape == (1, problem.ndim) and res.weights == pytest.approx([1.0])
    assert res.n_likelihood_evals > 0
    check_best_fit(problem, res, reference)


def test_lbfgs_with_no_finite_start_is_an_error_not_a_fit(lens_dir, monkeypatch):
    """Where log L is not finite at any start, the objective is a constant stand-in with zero
    gradient there, so L-BFGS-B stopped at once, said it converged, and the fit came back
    "converged" at a prior draw with log L = -inf. It is now a ConfigError that says why (a ConfigValueError)."""
    from tinylens.errors import ConfigValueError
    from tinylens.problem import Problem

    problem = load(lens_dir, {"type": "optimizer", "method": "lbfgs", "settings": {"n_starts": 3, "n_draws": 32}})
    monkeypatch.setattr(Problem, "log_likelihood", lambda self, theta: np.full(np.shape(np.atleast_2d(theta))[0], -np.inf)
                        if np.ndim(theta) == 2 else -np.inf)
    monkeypatch.setattr(Problem, "log_likelihood_jax", lambda self, theta: jnp.sum(theta) * 0 - jnp.inf)
    with pytest.raises(ConfigValueError, match=r"lbfgs\): log L \+ log prior, or its gradient, is not finite at any of its "
                       r"3 starts \(the best of n_draws = 32 draws.*Raise inference.settings.n_draws"):
        run_inference(problem, progress=False)


def test_differential_evolution_with_no_finite_point_is_an_error_not_a_fit(lens_dir, monkeypatch):
    """As lbfgs's: where log L is not finite at any point its population tries, every member
    scored the same stand-in, scipy said 'Optimization terminated successfully', and the fit came
    back converged at log L = -inf. It is now a ConfigError that says why (a ConfigValueError)."""
    from tinylens.errors import ConfigValueError
    from tinylens.problem import Problem

    problem = load(lens_dir, {"type": "optimizer", "method": "differential_evolution",
                              "settings": {"maxiter": 3, "popsize": 4, "polish": False}})
    monkeypatch.setattr(Problem, "log_likelihood", lambda self, theta: np.full(np.shape(np.atleast_2d(theta))[0], -np.inf)
                        if np.ndim(theta) == 2 else -np.inf)
    with pytest.raises(ConfigValueError, match=r"differential_evolution\): log L \+ log prior is not finite at any of the "
                       r"\d+ points its population tried"):
        run_inference(problem, progress=False)


def test_tinylensgpus_immediate_updating_is_said_to_run_deferred(lens_dir, reference):
    """TinyLensGpu's differential_evolution demo asks for 'updating: immediate', which scipy cannot
    follow for the batched population tinylens evaluates: the config loaded silently and the fit
    printed scipy's "the 'vectorized' keyword has overridden updating='immediate'" (a keyword the
    config does not have). Loading now warns, naming the setting and what runs; the fit runs
    deferred updating without scipy's warning, and finds the truth."""
    import warnings

    from tinylens.errors import ConfigWarning

    settings = {"strategy": "best1bin", "maxiter": 200, "popsize": 10, "tol": 0.01, "mutation": [0.5, 1.0],
                "recombination": 0.7, "seed": 2, "polish": True, "init": "latinhypercube", "atol": 0,
                "updating": "immediate"}
    with pytest.warns(ConfigWarning, match=r"inference.settings.updating: 'immediate' is run as 'deferred'"):
        problem = load(lens_dir, {"type": "optimizer", "method": "differential_evolution", "settings": settings})
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*updating")
        res = run_inference(problem, progress=False)
    check_best_fit(problem, res, reference)
    settings["updating"] = "deferred"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        load(lens_dir, {"type": "optimizer", "method": "differential_evolution", "settings": settings})


def test_differential_evolution_without_an_updating_setting_runs_without_scipys_warning(lens_dir):
    """A config that gives no ``updating`` (scipy's default, 'immediate') had every
    differential_evolution fit warn "differential_evolution: the 'vectorized' keyword has
    overridden updating='immediate' to updating='deferred'", of a keyword the config does not
    have and a user can do nothing about; it runs deferred, as it did, without the warning."""
    import warnings

    problem = load(lens_dir, {"type": "optimizer", "method": "differential_evolution",
                              "settings": {"maxiter": 3, "popsize": 4, "polish": False, "seed": 1}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_inference(problem, progress=False)
    assert res.method == "differential_evolution" and np.isfinite(res.log_likelihood).all()
    assert [str(w.message) for w in caught] == []


def test_dynesty_weighs_the_prior_where_the_likelihood_is_not_finite(lens_dir, monkeypatch):
    """A likelihood that is -inf (or NaN) over 99 % of the prior: dynesty draws its first live
    points again until enough are finite, and counts the volume they leave out, but only when it
    is told -inf; the finite -1e300 tinylens gave it instead made those points the live points'
    bulk, and the run stopped at once with the prior as its posterior and log Z -1e300. The
    evidence and the posterior are those of the likelihood's analytic integral."""
    from scipy.stats import norm

    from tinylens.inference import dynesty_runner
    from tinylens.problem import Problem

    problem = load(lens_dir, {"type": "sampler", "method": "dynesty"})
    i, j = problem.param_names.index("lens_mass.0.theta_E"), problem.param_names.index("source_light.0.center_x")
    (mu_i, sd_i, half_i), (mu_j, sd_j, half_j) = (1.0, 0.02, 0.05), (0.1, 0.01, 0.03)  # finite over 10 % of each prior

    def gaussian_in_a_corner(self, theta):
        theta = np.atleast_2d(theta)
        log_l = norm.logpdf(theta[:, i], mu_i, sd_i) + norm.logpdf(theta[:, j], mu_j, sd_j)
        outside = (np.abs(theta[:, i] - mu_i) > half_i) | (np.abs(theta[:, j] - mu_j) > half_j)
        return np.where(outside, np.where(theta[:, i] > mu_i, np.nan, -np.inf), log_l)

    monkeypatch.setattr(Problem, "log_likelihood", gaussian_in_a_corner)
    widths = [p.support[1] - p.support[0] for p in problem.priors]
    log_z = (np.log(2 * norm.cdf(half_i / sd_i) - 1) + np.log(2 * norm.cdf(half_j / sd_j) - 1)
             - np.log(widths[i]) - np.log(widths[j]))
    res = dynesty_runner.run(problem, {"nlive": 100, "sample": "unif", "seed": 0}, progress=False)
    assert res.converged
    assert abs(res.log_evidence - log_z) < 3 * res.info["log_evidence_err"], (res.log_evidence, log_z)
    stats = summarize(dict(zip(problem.param_names, res.samples.T)), res.weights)
    for k, mu, sd in ((i, mu_i, sd_i), (j, mu_j, sd_j)):
        lo, hi = stats[problem.param_names[k]]["interval_68"]
        assert abs((lo + hi) / 2 - mu) < 0.3 * sd and 0.7 < (hi - lo) / (2 * sd) < 1.3, (k, lo, hi)
    assert res.weights.sum() == pytest.approx(1.0) and not np.any(np.isnan(res.log_likelihood))


def test_dynesty_with_no_finite_point_is_an_error_not_a_traceback(lens_dir, monkeypatch):
    """Since dynesty is told -inf (f863ec8), a log L that is not finite anywhere in the priors
    made it draw its first live points 1,000 times over and raise its own RuntimeError, a
    traceback (and, in a survey, a task retried with its checkpoints removed), where it had run
    to a result at log Z -1e300. It is now a ConfigError that says why (a ConfigValueError), as lbfgs's and
    differential_evolution's are."""
    from tinylens.errors import ConfigValueError
    from tinylens.inference import dynesty_runner
    from tinylens.problem import Problem

    problem = load(lens_dir, {"type": "sampler", "method": "dynesty"})
    monkeypatch.setattr(Problem, "log_likelihood", lambda self, theta: np.where(
        np.atleast_2d(theta)[:, 0] > np.inf, 0.0, np.nan))  # NaN everywhere, as an impossible model gives
    with pytest.raises(ConfigValueError, match=r"dynesty\): log L is not finite at any of the 10,000 points dynesty drew "
                       r"from the priors for its first live points \(1,000 draws of nlive = 10\).*Check the priors"):
        dynesty_runner.run(problem, {"nlive": 10, "sample": "unif", "seed": 0}, progress=False)


def test_dynesty_with_no_finite_point_stops_at_its_maxcall(lens_dir, monkeypatch):
    """dynesty draws its first live points until one has a finite log L, past any maxcall: with
    nlive 50 and maxcall 300 it made 50,000 calls (1,000 draws) before it gave up. tinylens now
    counts those draws itself and stops at the budget, with the ConfigError that says why (a ConfigValueError)."""
    from tinylens.errors import ConfigValueError
    from tinylens.inference import dynesty_runner
    from tinylens.problem import Problem

    problem = load(lens_dir, {"type": "sampler", "method": "dynesty"})
    calls = []

    def nan_everywhere(self, theta):
        calls.append(len(np.atleast_2d(theta)))
        return np.full(len(np.atleast_2d(theta)), np.nan)

    monkeypatch.setattr(Problem, "log_likelihood", nan_everywhere)
    with pytest.raises(ConfigValueError, match=r"dynesty\): log L is not finite at any of the 300 points dynesty drew from "
                       r"the priors for its first live points \(6 draws of nlive = 50: maxcall is 300\).*Check the"):
        dynesty_runner.run(problem, {"nlive": 50, "maxcall": 300, "sample": "unif", "seed": 0}, progress=False)
    assert sum(calls) == 300, sum(calls)
    calls.clear()  # a budget below one draw still makes one
    with pytest.raises(ConfigValueError, match=r"at any of the 50 points .*\(1 draw of nlive = 50: maxcall is 20\)"):
        dynesty_runner.run(problem, {"nlive": 50, "maxcall": 20, "sample": "unif", "seed": 0}, progress=False)
    assert sum(calls) == 50, sum(calls)


def test_dynesty_with_few_finite_points_stops_at_its_maxcall(lens_dir, monkeypatch):
    """dynesty draws its first live points until enough have a finite log L, past any maxcall:
    with log L finite at 1 % of the prior, nlive 50 and maxcall 300 it made 2,000 calls
    (28,620 at 0.1 % with nlive 60 and maxcall 3,000), then returned a result of live points
    alone. tinylens now stops it at the budget, its calls at most maxcall (whole draws of nlive),
    with a ConfigError that says why (a ConfigValueError); a budget that covers the draws samples as before."""
    from tinylens.errors import ConfigValueError
    from tinylens.inference import dynesty_runner
    from tinylens.problem import Problem

    problem = load(lens_dir, {"type": "sampler", "method": "dynesty"})
    calls = []

    def finite_at_one_percent(self, theta):
        theta = np.atleast_2d(theta)
        calls.append(len(theta))
        scattered = np.modf(np.abs(theta[:, 0]) * 1e6)[0]  # uniform in [0, 1) for any prior
        return np.where(scattered < 0.01, -0.5 * np.sum(theta**2, axis=1), -np.inf)

    monkeypatch.setattr(Problem, "log_likelihood", finite_at_one_percent)
    with pytest.raises(ConfigValueError) as caught:
        dynesty_runner.run(problem, {"nlive": 50, "maxcall": 300, "sample": "unif", "seed": 0}, progress=False)
    said = str(caught.value)
    assert said.startswith("inference (dynesty): maxcall (300) was spent on dynesty's first live points before it "
                           "could sample: log L is finite at only "), said
    assert "of the 300 points it drew from the priors (6 draws of nlive = 50)" in said and "Raise maxcall" in said
    assert sum(calls) == 300, sum(calls)
    calls.clear()
    res = dynesty_runner.run(problem, {"nlive": 50, "maxcall": 20000, "sample": "unif", "seed": 0}, progress=False)
    assert sum(calls) == res.n_likelihood_evals > 300 and np.all(np.isfinite(res.log_likelihood[-10:]))


@pytest.mark.parametrize("stop", ["too few finite", "bug", "ctrl-c", "bug after resume"])
def test_an_error_of_dynestys_likelihood_calls_is_raised_once_without_a_dump_per_thread(lens_dir, monkeypatch, capfd,
                                                                                      tmp_path, stop):
    """dynesty's wrapper of the likelihood prints "Exception while calling loglikelihood function"
    and a traceback for any exception, and every proposal thread waiting on a batch that raised
    raised its error: with 1 % of the prior finite, nlive 50 and maxcall 300, the ConfigError came
    after 50 such dumps. The batcher now goes without the wrapper (also in a sampler restored from a
    checkpoint written with it) and the run raises the batch's error once: no dump, the ConfigError,
    a Ctrl-C, or a bug of the likelihood, whose traceback still reaches the line that raised it, and
    goes through one proposal's thread (every thread raised the same exception, whose traceback then
    held the frames of all of them, one after another)."""
    import traceback

    from tinylens.errors import ConfigError
    from tinylens.inference import dynesty_runner
    from tinylens.problem import Problem

    problem = load(lens_dir, {"type": "sampler", "method": "dynesty"})
    calls = []
    raise_after = {"too few finite": None, "bug": 400, "ctrl-c": 400, "bug after resume": 600}[stop]

    def log_like(self, theta):
        theta = np.atleast_2d(theta)
        calls.append(len(theta))
        if raise_after is not None and sum(calls) > raise_after:
            if stop == "ctrl-c":
                raise KeyboardInterrupt
            raise ZeroDivisionError("a bug of the likelihood")
        if stop == "too few finite":  # finite at 1 % of the prior
            return np.where(np.modf(np.abs(theta[:, 0]) * 1e6)[0] < 0.01, -0.5 * np.sum(theta**2, axis=1), -np.inf)
        return -0.5 * np.sum(theta**2, axis=1)

    monkeypatch.setattr(Problem, "log_likelihood", log_like)
    # the bugs come after the 50 first live points, in dynesty's proposals
    settings = {"nlive": 50, "maxcall": 300 if stop == "too few finite" else 5000, "seed": 0,
                **({"sample": "unif"} if stop == "too few finite" else {})}
    checkpoint_dir = None
    if stop == "bug after resume":  # a checkpoint of a sampler with dynesty's wrapper, as written before
        checkpoint_dir = tmp_path
        with monkeypatch.context() as m:
            m.setattr(dynesty_runner, "unwrap", lambda loglikelihood: None)
            dynesty_runner.run(problem, {**settings, "maxcall": 300, "checkpoint_every": 0}, progress=False,
                               checkpoint_dir=tmp_path)
    capfd.readouterr()
    expected = {"too few finite": ConfigError, "ctrl-c": KeyboardInterrupt}.get(stop, ZeroDivisionError)
    with pytest.raises(expected) as caught:
        dynesty_runner.run(problem, {**settings, "checkpoint_every": 0}, progress=False, checkpoint_dir=checkpoint_dir)
    printed = "".join(capfd.readouterr())
    assert printed.count("Exception while calling") == 0 and printed.count("Traceback") == 0, printed[:2000]
    if stop == "too few finite":
        assert str(caught.value).startswith("inference (dynesty): maxcall (300) was spent on dynesty's first live ")
    if expected is ZeroDivisionError:
        frames = [frame.name for frame in traceback.extract_tb(caught.tb)]
        assert frames[-1] == "log_like" and frames.count("task") == 1, frames  # through one proposal's thread


def test_the_batching_pool_calls_the_batcher_that_dynestys_wrapper_calls(monkeypatch, capfd):
    """dynesty 2 draws its first live points by mapping its wrapper of the likelihood itself over
    the pool (dynesty 3 maps its LogLikelihood, out of which the runner takes the wrapper): the
    wrapper prints "Exception while calling loglikelihood function" and a traceback for any
    exception, once for every thread waiting on a batch that raised. The pool now calls the
    batcher that the wrapper calls: the batch's values as before, and its error once, printed nowhere."""
    from dynesty.dynesty import _function_wrapper

    from tinylens.errors import ConfigError
    from tinylens.inference import dynesty_runner

    def log_like(theta):
        if np.any(theta[:, 0] > 100):
            raise ConfigError("inference: refused")
        return -np.sum(theta**2, axis=1)

    monkeypatch.setitem(dynesty_runner._LIKELIHOODS, "pool-test", log_like)
    pool = dynesty_runner.BatchingPool(dynesty_runner.Batcher("pool-test"), 8)
    wrapped = _function_wrapper(pool.batcher, [], {}, name="loglikelihood")
    points = np.arange(24.0).reshape(12, 2)
    try:
        assert pool.map(wrapped, points) == [-np.sum(p**2) for p in points]
        capfd.readouterr()
        with pytest.raises(ConfigError, match="^inference: refused$"):
            pool.map(wrapped, points + 1000)
    finally:
        pool.close()
    printed = "".join(capfd.readouterr())
    assert printed.count("Exception while calling") == 0 and printed.count("Traceback") == 0, printed[:2000]


@pytest.mark.parametrize("settings, calls", [({"n_live": 20}, "20,224"), ({"n_live": 20, "n_like_max": 600}, "768")])
def test_nautilus_with_no_finite_point_is_an_error_not_an_endless_run(lens_dir, monkeypatch, settings, calls):
    """Where log L is not finite anywhere in the priors (NaN, which the runner gives nautilus as
    -inf since 5130cd0, or -inf), nautilus builds no bound from points all alike and drew from the
    priors for ever, its memory growing; with n_like_max it came back at log Z -inf, its posterior
    prior draws of log L -inf. Both are now a ConfigError that says why (a ConfigValueError): after as many draws as
    dynesty makes (1,000 times n_live, counted in whole batches of 256), or where the run ends."""
    from tinylens.errors import ConfigValueError
    from tinylens.inference import nautilus_runner
    from tinylens.problem import Problem

    problem = load(lens_dir, {"type": "sampler", "method": "nautilus"})
    monkeypatch.setattr(Problem, "log_likelihood", lambda self, theta: np.where(
        np.atleast_2d(theta)[:, 0] > np.inf, 0.0, np.nan))
    with pytest.raises(ConfigValueError, match=rf"nautilus\): log L is not finite at any of the {calls} points nautilus "
                       r"drew from the priors.*Check the priors"):
        nautilus_runner.run(problem, {**settings, "seed": 0}, progress=False)


def test_nautilus_takes_a_nan_from_the_likelihood_as_impossible(lens_dir, monkeypatch):
    """nautilus fails on a NaN log-likelihood; tinylens's turns NaN into -inf itself, but a
    likelihood that gave one stopped the run. The runner now hands nautilus -inf for it: a Gaussian
    that is NaN over half the prior, far from its peak, gives the evidence and the posterior of
    its analytic integral."""
    from scipy.stats import norm

    from tinylens.inference import nautilus_runner
    from tinylens.problem import Problem

    problem = load(lens_dir, {"type": "sampler", "method": "nautilus"})
    i = problem.param_names.index("lens_mass.0.theta_E")
    lo, hi = problem.priors[i].support
    mu, sd = lo + 0.25 * (hi - lo), 0.02 * (hi - lo)

    def gaussian_nan_above_the_middle(self, theta):
        theta = np.atleast_2d(theta)
        return np.where(theta[:, i] > (lo + hi) / 2, np.nan, norm.logpdf(theta[:, i], mu, sd))

    monkeypatch.setattr(Problem, "log_likelihood", gaussian_nan_above_the_middle)
    res = nautilus_runner.run(problem, {"nlive": 200, "n_networks": 1, "seed": 0}, progress=False)
    assert res.converged and abs(res.log_evidence - -np.log(hi - lo)) < 0.1, (res.log_evidence, -np.log(hi - lo))
    low, high = summarize(dict(zip(problem.param_names, res.samples.T)), res.weights)[problem.param_names[i]]["interval_68"]
    assert abs((low + high) / 2 - mu) < 0.1 * sd and 0.9 < (high - low) / (2 * sd) < 1.1, (low, high)
    assert not np.any(np.isnan(res.log_likelihood))


def test_dynesty_starts_at_most_queue_size_threads(lens_dir, monkeypatch):
    """dynesty maps its first ``nlive`` points through tinylens's pool too, which ran each in a
    thread of its own: 40000 live points (40000 threads waiting on one batch) did not get through
    them in 10 minutes. The pool now runs at most
    ``queue_size`` at once, and hands the likelihood batches of at most that many points; the
    likelihood values reach dynesty as before (a Gaussian: its log Z, to its error)."""
    import threading

    from scipy.stats import norm

    from tinylens.inference import dynesty_runner
    from tinylens.problem import Problem

    problem = load(lens_dir, {"type": "sampler", "method": "dynesty"})
    lo, hi = np.array([p.support for p in problem.priors]).T
    mu, sd = (lo + hi) / 2, (hi - lo) / 20
    batches, threads = [], []

    def gaussian(self, theta):
        theta = np.atleast_2d(theta)
        batches.append(len(theta))
        threads.append(threading.active_count())
        return norm.logpdf(theta, mu, sd).sum(axis=1)

    monkeypatch.setattr(Problem, "log_likelihood", gaussian)
    before = threading.active_count()
    res = dynesty_runner.run(problem, {"nlive": 200, "batch_size": 8, "sample": "unif", "seed": 1}, progress=False)
    assert max(batches) <= 8, max(batches)
    assert max(threads) <= before + 8, (max(threads), before)
    log_z = -np.log(hi - lo).sum()  # the Gaussian lies well inside the box: it integrates to 1
    assert abs(res.log_evidence - log_z) < 4 * res.info["log_evidence_err"], (res.log_evidence, log_z)


def test_dynesty_keeps_one_set_of_threads_for_a_run_and_stops_them_at_its_end(lens_dir, monkeypatch):
    """The batching pool started a thread pool of its own for every group of ``queue_size``
    proposals (thousands in a run); it now keeps one for the whole run, and stops its threads when
    the run ends, and when it fails, leaving no likelihood registered either."""
    import threading

    from scipy.stats import norm

    from tinylens.errors import ConfigError
    from tinylens.inference import dynesty_runner
    from tinylens.problem import Problem

    started = []

    class Counted(dynesty_runner.ThreadPoolExecutor):
        def __init__(self, *args, **kwargs):
            started.append(kwargs.get("max_workers"))
            super().__init__(*args, **kwargs)

    def ours() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("tinylens-dynesty")]

    monkeypatch.setattr(dynesty_runner, "ThreadPoolExecutor", Counted)
    problem = load(lens_dir, {"type": "sampler", "method": "dynesty"})
    lo, hi = np.array([p.support for p in problem.priors]).T
    mu, sd = (lo + hi) / 2, (hi - lo) / 20
    monkeypatch.setattr(Problem, "log_likelihood", lambda self, theta: norm.logpdf(np.atleast_2d(theta), mu, sd).sum(1))
    res = dynesty_runner.run(problem, {"nlive": 50, "batch_size": 8, "sample": "unif", "seed": 1}, progress=False)
    assert res.n_likelihood_evals > 50 * 8 and started == [8], (res.n_likelihood_evals, len(started))
    assert abs(res.log_evidence - -np.log(hi - lo).sum()) < 4 * res.info["log_evidence_err"]
    assert ours() == [] and dynesty_runner._LIKELIHOODS == {}
    started.clear()
    monkeypatch.setattr(Problem, "log_likelihood", lambda self, theta: np.full(len(np.atleast_2d(theta)), np.nan))
    with pytest.raises(ConfigError, match="not finite"):
        dynesty_runner.run(problem, {"nlive": 50, "batch_size": 8, "maxcall": 200, "seed": 1}, progress=False)
    assert started == [8] and ours() == [] and dynesty_runner._LIKELIHOODS == {}
