"""The forward model and eq. 5 against lenstronomy-simulated lenses."""

from __future__ import annotations

import numpy as np
import pytest

import tinylens
from oracle import lenstronomy_image, table1_components, truth_vector, x64

PIX = 0.074
SIGMA = 0.2


def _config(write_fits, image, noise, kernel, nsub=4, solver="nnls"):
    return {
        "dataset": {
            "data_path": write_fits("image.fits", image),
            "noise_path": write_fits("noise.fits", noise),
            "psf_path": write_fits("psf.fits", kernel),
            "pixel_scale": PIX,
            "nsub": nsub,
            "supersampling": {"mode": "uniform"},
        },
        "model_components": table1_components(),
        "solver_type": solver,
    }


@pytest.fixture(scope="module")
def clean_image():
    return lenstronomy_image(shape=(64, 64), pixel_scale=PIX)


def test_model_image_matches_lenstronomy(clean_image, write_fits):
    image, kernel = clean_image
    with x64():
        problem = tinylens.load(_config(write_fits, image, np.full_like(image, SIGMA), kernel), dtype=np.float64)
        theta = truth_vector(problem.param_names)
        model = problem.model_image(theta)
    peak = np.abs(image).max()
    assert np.max(np.abs(model["total"] - image)) / peak < 1e-5
    # The two light components are separated correctly, too.
    assert np.allclose(model["lens_light"] + model["lensed_source"], model["total"])
    amps = problem.amplitudes(theta)
    assert set(amps) == {"lens_light.0", "source_light.0"}
    assert all((a >= 0).all() for a in amps.values())


def test_chi2_at_truth_and_wrong_e2(clean_image, write_fits):
    image, kernel = clean_image
    rng = np.random.default_rng(1)
    noisy = image + rng.normal(0, SIGMA, image.shape)
    problem = tinylens.load(_config(write_fits, noisy, np.full_like(image, SIGMA), kernel))
    theta = truth_vector(problem.param_names)
    n = image.size
    ll = problem.log_likelihood(theta)
    chi2 = -2 * (ll + problem.imaging.log_norm)
    assert abs(chi2 / n - 1) < 3 * np.sqrt(2 / n)
    # eq. 5's normalisation term is included
    assert problem.imaging.log_norm == pytest.approx(0.5 * n * np.log(2 * np.pi * SIGMA**2), rel=1e-9)
    flipped = theta.copy()
    flipped[problem.param_names.index("lens_mass.0.e2")] *= -1
    chi2_flipped = -2 * (problem.log_likelihood(flipped) + problem.imaging.log_norm)
    assert chi2_flipped - chi2 > 100


def test_float32_default_close_to_float64(clean_image, write_fits):
    image, kernel = clean_image
    rng = np.random.default_rng(2)
    noisy = image + rng.normal(0, SIGMA, image.shape)
    cfg = _config(write_fits, noisy, np.full_like(image, SIGMA), kernel)
    p32 = tinylens.load(cfg)
    assert p32.imaging.data.dtype == np.float32
    theta = truth_vector(p32.param_names)
    with x64():
        p64 = tinylens.load(cfg, dtype=np.float64)
        ll64 = p64.log_likelihood(theta)
    assert p32.log_likelihood(theta) == pytest.approx(ll64, abs=0.5)


def test_batch_equals_single_calls_and_nan_isolated(clean_image, write_fits):
    image, kernel = clean_image
    rng = np.random.default_rng(3)
    noisy = image + rng.normal(0, SIGMA, image.shape)
    problem = tinylens.load(_config(write_fits, noisy, np.full_like(image, SIGMA), kernel))
    thetas = problem.prior_transform(rng.uniform(size=(128, problem.ndim)))
    batch = problem.log_likelihood(thetas)
    single = np.array([problem.log_likelihood(t) for t in thetas])
    assert batch.shape == (128,)
    np.testing.assert_allclose(batch, single, rtol=1e-5, atol=1e-3)
    bad = thetas[:8].copy()
    bad[3, 0] = np.nan
    out = problem.log_likelihood(bad)
    assert out[3] == -np.inf
    np.testing.assert_allclose(np.delete(out, 3), np.delete(batch[:8], 3), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan], ids=["+inf", "-inf", "nan"])
def test_a_non_finite_parameter_gives_minus_inf_for_its_row_only(tmp_path, value):
    """A NaN parameter gave log L = -inf, but +-inf in the source's size or position gave a finite
    one (the size floored, or a source moved off to infinity: an empty model of amplitude 0), a
    point a sampler or optimiser would take as fine. Each
    of +inf, -inf and NaN, in each parameter, now gives -inf for its row, in a batch and under
    jax.vmap, the other rows as they were."""
    import jax
    import jax.numpy as jnp

    from tiny_lens import FREE_TRUTH, write_tiny_lens

    problem = tinylens.load(write_tiny_lens(tmp_path / "lens"))
    truth = np.array([FREE_TRUTH[n] for n in problem.param_names])
    rows = truth * np.linspace(0.95, 1.05, 4)[:, None]
    good = problem.log_likelihood(rows)
    assert np.isfinite(good).all()
    per_param = []
    for i in range(problem.ndim):
        bad = rows.copy()
        bad[1, i] = value
        out = problem.log_likelihood(bad)
        assert out[1] == -np.inf, (problem.param_names[i], out[1])
        np.testing.assert_array_equal(np.delete(out, 1), np.delete(good, 1))
        per_param.append(bad[1])
    vmapped = np.asarray(jax.vmap(problem.log_likelihood_jax)(jnp.asarray(np.vstack([rows, per_param]))))
    assert (vmapped[len(rows):] == -np.inf).all(), vmapped
    np.testing.assert_allclose(vmapped[:len(rows)], good, rtol=1e-5)
    assert problem.log_prior(np.array(per_param)).tolist() == [-np.inf] * problem.ndim  # so the posterior, too


def test_masked_pixels_carry_no_weight(clean_image, write_fits, tmp_path):
    image, kernel = clean_image
    rng = np.random.default_rng(4)
    noisy = image + rng.normal(0, SIGMA, image.shape)
    cfg = _config(write_fits, noisy, np.full_like(image, SIGMA), kernel)
    cfg["dataset"]["mask"] = {"type": "annulus", "r_min": 0.5, "r_max": 2.0}
    problem = tinylens.load(cfg)
    theta = truth_vector(problem.param_names)
    ll = problem.log_likelihood(theta)
    corrupted = noisy.copy()
    corrupted[~problem.dataset.mask] = 1e6  # only masked-out pixels change
    cfg["dataset"]["data_path"] = write_fits("image2.fits", corrupted)
    assert tinylens.load(cfg).log_likelihood(theta) == pytest.approx(ll, rel=1e-6)
    assert problem.imaging.n_used == problem.dataset.mask.sum() < image.size


def test_a_vector_of_the_wrong_shape_is_refused_by_name(clean_image, write_fits):
    """A vector one entry short or long, a 3-D batch, a scalar or text: every method that takes
    parameters refuses it (it used to give the full vector's value, or a JAX broadcasting error),
    naming n and the parameters; the shapes it takes still work."""
    from tinylens.errors import ParameterError, TinyLensError

    image, kernel = clean_image
    problem = tinylens.load(_config(write_fits, image, np.full_like(image, SIGMA), kernel))
    n = problem.ndim
    theta = problem.prior_transform(np.full(n, 0.5))
    wrong = [theta[:-1], np.r_[theta, 0.0], np.stack([theta] * 2)[None], 1.0, None, "abc"]
    methods = {"log_likelihood": True, "log_prior": True, "prior_transform": True, "model_image": False,
               "amplitudes": False}
    for name, takes_batch in methods.items():
        for value in wrong + ([] if takes_batch else [np.stack([theta] * 2)]):
            with pytest.raises(ParameterError) as err:
                getattr(problem, name)(value)
            message = str(err.value)
            assert f"with n = {n}, the free parameters ({problem.param_names[0]}, " in message, message
            assert isinstance(err.value, TinyLensError) and isinstance(err.value, ValueError)
    assert np.isfinite(problem.log_likelihood(theta)) and problem.log_likelihood(np.stack([theta] * 3)).shape == (3,)
    assert problem.model_image(theta)["total"].shape == image.shape


def test_prior_transform_refuses_u_outside_the_unit_cube_and_takes_its_edges(clean_image, write_fits):
    """u of -0.1, 1.5 or NaN used to be mapped outside the prior without a word."""
    from tinylens.errors import ParameterError

    image, kernel = clean_image
    problem = tinylens.load(_config(write_fits, image, np.full_like(image, SIGMA), kernel))
    n = problem.ndim
    for bad in (-0.1, 1.5, np.nan):
        u = np.full((3, n), 0.5)
        u[1, n - 1] = bad
        with pytest.raises(ParameterError, match=rf"unit cube \[0, 1\]; got {bad} for {problem.param_names[-1]} \(1 value"):
            problem.prior_transform(u)
    u = np.full((3, n), 0.5)
    u[:2, n - 1] = 1.5
    with pytest.raises(ParameterError, match=rf"got 1.5 for {problem.param_names[-1]} \(2 values outside\)\.$"):
        problem.prior_transform(u)  # said '(2 value(s) outside)'
    edges = problem.prior_transform(np.stack([np.zeros(n), np.ones(n)]))
    lows = [p.transform(np.array(0.0)) for p in problem.priors]
    assert np.array_equal(edges[0], np.asarray(lows, dtype=float))


@pytest.mark.parametrize("kind, low, high, limits", [
    ("log_uniform", 3.57, 6.47, {}),  # exp(log 3.57) is 3.5699999999999994
    ("log_uniform", 0.01, 10.0, {"lo": 0.3, "hi": 2.9}),  # limits
    ("uniform", -0.7, 0.9, {}),
])
def test_a_priors_edges_are_inside_it(kind, low, high, limits):
    """u = 0 and u = 1 map to the ends of the prior's range, where its density is not zero;
    rounding put them outside it, of log prior -inf: LogU(3.57, 6.47)'s lower edge at
    exp(log(3.57)) = 3.5699999999999994, U(-0.7, 0.9)'s upper one at -0.7 + 1.6 = 0.9000000000000001."""
    from tinylens.priors import Prior, log_prior, prior_transform

    prior = Prior(kind, low, high, **limits)
    lo, hi = prior.support
    edges = prior_transform((prior,), np.array([[0.0], [1.0]]))
    assert lo <= edges[0, 0] < edges[1, 0] <= hi and edges[:, 0] == pytest.approx([lo, hi], rel=1e-12)
    assert np.all(np.isfinite(log_prior((prior,), edges)))
    assert prior.cdf(edges[:, 0]) == pytest.approx([0.0, 1.0], abs=1e-12)


@pytest.mark.parametrize("mean, sigma, lo, hi", [
    (0.0, 0.1, 1.0, 2.0),  # 10 sigma above the mean
    (0.0, 0.1, 1.0, np.inf),
    (0.0, 0.1, -2.0, -1.0),  # below it
    (2.0, 0.5, 1.5, 4.0),  # about it
])
def test_a_gaussian_prior_truncated_far_from_its_mean_is_the_truncated_normal(mean, sigma, lo, hi):
    """N(0, 0.1) in [1, 2]: the normal CDF at 10 sigma rounds to 1, so the transform put every u at 1
    (the parameter fixed at its limit, silently), its log density was +inf and its CDF NaN; and
    bounds(), the optimisers' box, was (1.0, 0.5), empty, for limits beyond 5 sigma on either side.
    They now follow scipy's truncated normal, and the box holds all but 1e-6 of its mass."""
    from scipy.stats import truncnorm

    from tinylens.priors import Prior

    prior = Prior("gaussian", mean, sigma, lo, hi)
    truth = truncnorm((lo - mean) / sigma, (hi - mean) / sigma, loc=mean, scale=sigma)
    u = np.array([1e-6, 0.1, 0.5, 0.9, 1 - 1e-6])
    x = prior.transform(u)
    assert x == pytest.approx(truth.ppf(u), abs=1e-12 * sigma)
    assert prior.log_pdf(x) == pytest.approx(truth.logpdf(x), abs=1e-9)
    assert prior.cdf(x) == pytest.approx(u, abs=1e-12)
    box_lo, box_hi = prior.bounds()
    assert lo <= box_lo < box_hi <= hi and truth.cdf(box_hi) - truth.cdf(box_lo) > 1 - 1e-6


@pytest.mark.parametrize("mean, sigma, lo, hi", [
    (0.0, 0.01, 1.0, 2.0),  # 100 sigma above the mean
    (0.0, 0.1, -5.0, -4.0),  # 40 sigma below it
    (3.0, 0.01, 3.5, np.inf),  # 50 sigma above, unbounded
    (0.0, 1.0, -np.inf, -1000.0),
])
def test_a_gaussian_prior_truncated_beyond_37_sigma_is_the_truncated_normal(mean, sigma, lo, hi):
    """The normal's CDF underflows to 0 beyond 37.5 sigma (and ndtri's argument was clipped at
    1e-300, 37 sigma), so N(0, 0.01) in [1, 2] put every u at its limit 1 (the parameter silently
    fixed there), of log density +inf and CDF NaN; its mass is now taken from the CDF's logarithm
    there, and transform, cdf and log_pdf follow scipy's truncated normal (compared at many
    random priors, 35 to 60 sigma off, and 200 and 1000 sigma)."""
    from scipy.stats import truncnorm

    from tinylens.priors import Prior

    prior = Prior("gaussian", mean, sigma, lo, hi)
    truth = truncnorm((lo - mean) / sigma, (hi - mean) / sigma, loc=mean, scale=sigma)
    u = np.array([1e-6, 0.1, 0.5, 0.9, 1 - 1e-6])
    x = prior.transform(u)
    assert np.all(np.diff(x) > 0) and x == pytest.approx(truth.ppf(u), abs=1e-9 * sigma)
    assert prior.log_pdf(x) == pytest.approx(truth.logpdf(x), abs=1e-9)
    assert prior.cdf(x) == pytest.approx(u, abs=1e-6)
    assert prior.transform(np.array([0.0, 1.0])) == pytest.approx(prior.support, rel=1e-12)


@pytest.mark.parametrize("mean, sigma, lo, hi", [
    (0.0, 1.0, 4.99, 10.0),  # beginning just inside 5 sigma: the box was (4.99, 5.0), 5 % of the prior
    (0.0, 1.0, 4.5, np.inf),
    (1.0, 0.1, 0.0, 0.65),  # below the mean
    (0.0, 1.0, 3.5, 10.0),
])
def test_a_gaussian_priors_box_holds_its_mass_where_its_limit_is_just_inside_5_sigma(mean, sigma, lo, hi):
    """bounds(), the optimisers' and the pipeline's box, was the support cut to 5 sigma of the mean,
    and only a support wholly beyond 5 sigma got its own quantiles (4550c85): N(0, 1) in [4.99, 10]
    got (4.99, 5.0), which holds 5 % of the prior (0.5 % at 4.999), so lbfgs and
    differential_evolution searched a sliver of it; such a box now holds all but 1e-6 of it too."""
    from scipy.stats import truncnorm

    from tinylens.priors import Prior

    truth = truncnorm((lo - mean) / sigma, (hi - mean) / sigma, loc=mean, scale=sigma)
    box_lo, box_hi = Prior("gaussian", mean, sigma, lo, hi).bounds()
    assert lo <= box_lo < box_hi <= hi and truth.cdf(box_hi) - truth.cdf(box_lo) > 1 - 1e-6


@pytest.mark.parametrize("lo, hi, box", [
    (-np.inf, np.inf, (-5.0, 5.0)), (0.0, np.inf, (0.0, 5.0)), (1.0, np.inf, (1.0, 5.0)), (-2.0, 3.0, (-2.0, 3.0)),
    (-np.inf, -3.0, (-5.0, -3.0)),
])
def test_a_gaussian_priors_box_about_its_mean_is_its_support_within_5_sigma(lo, hi, box):
    """The box of a support that 5 sigma about the mean holds but for 1e-3 of it is unchanged."""
    from tinylens.priors import Prior

    assert Prior("gaussian", 0.0, 1.0, lo, hi).bounds() == box
