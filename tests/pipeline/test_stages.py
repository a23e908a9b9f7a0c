"""The pipeline's stages on lenses simulated by lenstronomy (the independent oracle)."""

from __future__ import annotations

import json
import math
import time
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import tinylens
from oracle import LENS_TRUTH, exact_r_sersic, lenstronomy_image, noisy_problem, table1_components, truth_vector
from tinylens.config.schema import Pipeline
from tinylens.errors import CheckpointWarning
from tinylens.pipeline.lens_light import fit_lens_light, image_moments
from tinylens.pipeline.optimize import Objective
from tinylens.pipeline.run import _load_state, optimise, stage1_skipped, stage2_done

PIX = 0.074
SIGMA = 0.1


def _problem(write_fits, image, kernel, components=None):
    return noisy_problem(write_fits, image, kernel, components, sigma=SIGMA, pixel_scale=PIX)


def test_image_moments_of_an_elliptical_gaussian():
    from tinylens.numerics.grid import pixel_coordinates
    from tinylens.profiles.ellipticity import e1e2_to_qphi

    x, y = pixel_coordinates((101, 101), 0.05)
    q, phi = 0.6, 0.4
    xr = np.cos(phi) * (x - 0.1) + np.sin(phi) * (y + 0.2)
    yr = -np.sin(phi) * (x - 0.1) + np.cos(phi) * (y + 0.2)
    img = 100 * np.exp(-0.5 * (xr**2 / 0.4**2 + yr**2 / (0.4 * q) ** 2))
    m = image_moments(img, np.full(img.shape, 1e-3), 0.05)
    assert np.allclose(m.center, (0.1, -0.2), atol=0.01)
    q_m, phi_m = e1e2_to_qphi(np.float64(m.e1), np.float64(m.e2))
    assert abs(float(q_m) - q) < 0.03 and abs(float(phi_m) - phi) < 0.03



def test_image_moments_without_significant_light_stay_at_the_centre_they_were_asked_about():
    """With no significant light within ``radius`` of ``center`` (stage 3's compact start, measured
    about stage 1's lens centre inside half the Einstein radius, with the arc left out), the
    moments fell back to the image centre, (0, 0): the compact start moved the lens light, and a
    linked mass centre, off the lens onto whatever lay at the image's middle. They stay at ``center``."""
    from tinylens.numerics.grid import pixel_coordinates

    x, y = pixel_coordinates((50, 50), 0.08)
    img = 100 * np.exp(-0.5 * (x**2 + y**2) / 0.2**2)  # a neighbour at the image centre
    noise = np.full(img.shape, 1.0)
    m = image_moments(img, noise, 0.08, radius=0.3, center=(1.2, -1.0))
    assert m.center == pytest.approx((1.2, -1.0)) and (m.e1, m.e2) == (0.0, 0.0)
    assert image_moments(np.zeros(img.shape), noise, 0.08).center == (0.0, 0.0)  # the default centre

def test_lens_light_stage_recovers_the_lens_galaxy(write_fits):
    truth = {**LENS_TRUTH, "source_light": [dict(LENS_TRUTH["source_light"][0], amp=0.0)]}
    image, kernel = lenstronomy_image(truth=truth)
    problem = _problem(write_fits, image, kernel)
    res = fit_lens_light(problem)
    names = problem.param_names
    light = LENS_TRUTH["lens_light"][0]
    got = dict(zip(names, res.fit.theta))
    assert got["lens_light.0.R_sersic"] == pytest.approx(exact_r_sersic(light["R_sersic"], light["n_sersic"]), rel=0.05)
    assert got["lens_light.0.n_sersic"] == pytest.approx(light["n_sersic"], abs=0.3)
    assert got["lens_light.0.e1"] == pytest.approx(light["e1"], abs=0.02)
    assert got["lens_light.0.e2"] == pytest.approx(light["e2"], abs=0.02)
    assert got["lens_mass.0.center_x"] == pytest.approx(light["center_x"], abs=0.01)  # the linked centre
    assert not res.arc.found  # no source: no arc


def test_stages_1_to_3_find_the_lens(write_fits):
    image, kernel = lenstronomy_image()
    problem = _problem(write_fits, image, kernel)
    state = optimise(Objective(problem), Pipeline())
    assert state["stages"]["arc"]["found"]
    assert abs(state["stages"]["arc"]["theta_E_guess"] - 1.2) < 0.2 * 1.2
    best = np.asarray(state["best"])
    truth = truth_vector(problem.param_names)
    names = problem.param_names
    assert best[names.index("lens_mass.0.theta_E")] == pytest.approx(1.2, rel=0.01)
    for name in ("lens_mass.0.e1", "lens_mass.0.e2", "source_light.0.center_x", "source_light.0.center_y"):
        assert best[names.index(name)] == pytest.approx(truth[names.index(name)], abs=0.03)


def test_stages_1_to_3_find_a_faint_lens_inside_a_bright_ring(write_fits):
    """An arc that outshines the lens galaxy (like lens_00015 of the 20-mock survey): stage 1
    spreads the lens light into a disc that fills the ring, and without the compact-light start
    stage 3 ended at theta_E 0.972 with the mass centre pinned on its prior edge (y = 0.5)."""
    truth = {
        "lens_mass": [{"theta_E": 0.9, "e1": 0.12, "e2": 0.24, "center_x": 0.07, "center_y": -0.05},
                      {"gamma1": 0.0, "gamma2": 0.0}],
        "lens_light": [{"amp": 0.02, "R_sersic": 1.5, "n_sersic": 4.0, "e1": 0.17, "e2": 0.18,
                        "center_x": 0.07, "center_y": -0.05}],
        "source_light": [{"amp": 200.0, "R_sersic": 0.28, "n_sersic": 1.0, "e1": 0.0, "e2": 0.0,
                          "center_x": 0.056, "center_y": 0.38}],
    }
    image, kernel = lenstronomy_image(truth=truth)
    problem = _problem(write_fits, image, kernel)
    best = dict(zip(problem.param_names, optimise(Objective(problem), Pipeline())["best"]))
    assert best["lens_mass.0.theta_E"] == pytest.approx(0.9, rel=0.01)
    assert best["lens_mass.0.center_x"] == pytest.approx(0.07, abs=0.02)
    assert best["lens_mass.0.center_y"] == pytest.approx(-0.05, abs=0.02)
    assert best["source_light.0.center_y"] == pytest.approx(0.38, abs=0.03)


def _stages_at_the_truth(write_fits, monkeypatch):
    """The test lens's problem with stages 1-3 replaced by the truth (for orchestration tests):
    ``(problem, param_names, index of theta_E, best vector)``."""
    from tinylens.pipeline import run as run_mod

    image, kernel = lenstronomy_image()
    problem = _problem(write_fits, image, kernel)
    names = problem.param_names
    best = truth_vector(names)
    monkeypatch.setattr(run_mod, "optimise", lambda objective, settings, progress=False, **_: {
        "best": best.tolist(), "stages": {}, "n_evals": 7, "arc_mask": [], "time_s": 0.0})
    return problem, names, names.index("lens_mass.0.theta_E"), best


def test_box_is_widened_when_the_posterior_reaches_it(write_fits, monkeypatch, capsys):
    """Orchestration with a stand-in sampler whose 'posterior' is a Gaussian in theta_E wider
    than the first box: the pipeline widens the box, samples again, and corrects the evidence."""
    from tinylens.inference import InferenceResult
    from tinylens.pipeline import run as run_mod
    from tinylens.pipeline import box as bx

    problem, names, i_te, best = _stages_at_the_truth(write_fits, monkeypatch)
    boxes = []

    def sampler(boxed, settings, progress=False, checkpoint_dir=None):
        lo = np.array([p.support[0] for p in boxed.priors])
        hi = np.array([p.support[1] for p in boxed.priors])
        boxes.append((lo, hi))
        rng = np.random.default_rng(len(boxes))
        n = 4000
        s = boxed.prior_transform(rng.uniform(size=(n, boxed.ndim)))
        s[:, i_te] = np.clip(rng.normal(best[i_te], 0.15, n), lo[i_te], hi[i_te])  # sigma 0.15" >> box
        return InferenceResult("fake", names, s, np.full(n, -np.log(n)), np.zeros(n), -10.0, n, 1.0, True, {})

    res = run_mod.run_pipeline(problem, sampler, Pipeline(max_widen=1), progress=True)
    assert len(boxes) == 2
    w1 = boxes[0][1][i_te] - boxes[0][0][i_te]
    w2 = boxes[1][1][i_te] - boxes[1][0][i_te]
    assert 3 * w1 * (1 - 1e-6) <= w2 <= max(3 * w1, 2 * 20 * 0.15) * (1 + 1e-6)  # 3x, or 20 posterior sigma
    assert res.n_likelihood_evals == 2 * 4000 + 7
    lo, hi = boxes[-1]
    assert res.log_evidence == pytest.approx(-10.0 + bx.log_box_mass(problem.priors, lo, hi))
    # the sampler's live log Z is the box's: the line before it says what the result adds
    said = " ".join(capsys.readouterr().err.split())
    assert (f"sampling in the box (run 2; the log Z shown is the box's, the result adds the box's log prior mass, "
            f"{bx.log_box_mass(problem.priors, lo, hi):.2f})") in said
    assert res.info["pipeline"]["crowded_edges"]  # still crowded after the allowed widening
    assert not res.converged


@pytest.mark.parametrize("arc", ["found", "none found"])
def test_without_an_arc_the_box_keeps_theta_Es_whole_prior(write_fits, monkeypatch, arc):
    """Where stage 2 found no arc, stage 3's theta_E (here 0.01", where a 'source' modelling
    leftover lens light takes it) got a box of 0.1 % of its prior's range, U(0, 3.5), above it:
    the sampler was held near 0 and widening by 3 twice never reached the rest of the prior. The
    box gives theta_E its whole prior there, also after widening for other parameters; where an
    arc was found the box is as before."""
    from tinylens.inference import InferenceResult
    from tinylens.pipeline import run as run_mod

    problem, names, i_te, best = _stages_at_the_truth(write_fits, monkeypatch)
    best[i_te] = 0.01
    found = arc == "found"

    def stages(stage_record):
        monkeypatch.setattr(run_mod, "optimise", lambda objective, settings, progress=False, **_: {
            "best": best.tolist(), "stages": stage_record, "n_evals": 7, "arc_mask": [], "time_s": 0.0})

    i_e1, i_e2 = names.index("lens_mass.0.e1"), names.index("lens_mass.0.e2")
    boxes = []

    def sampler(boxed, settings, progress=False, checkpoint_dir=None):
        lo = np.array([p.support[0] for p in boxed.priors])
        hi = np.array([p.support[1] for p in boxed.priors])
        boxes.append((lo, hi))
        s = boxed.prior_transform(np.random.default_rng(len(boxes)).uniform(size=(500, boxed.ndim)))
        if len(boxes) == 1:  # two mass parameters piled on the box's edges: every range is re-centred
            s[:, i_e1], s[:, i_e2] = hi[i_e1], lo[i_e2]
            s[:, i_te] = np.clip(lo[i_te] + np.abs(np.random.default_rng(0).normal(0.0, 0.005, 500)), lo[i_te], hi[i_te])
        return InferenceResult("fake", names, s, np.full(500, -np.log(500)), np.zeros(500), -10.0, 500, 1.0, True, {})

    stages({})  # no stage 2 record: the box as it always was
    run_mod.run_pipeline(problem, sampler, Pipeline(max_widen=1), progress=False)
    before, boxes[:] = list(boxes), []
    stages({"arc": {"found": found, "theta_E_floor": 0.0}})
    res = run_mod.run_pipeline(problem, sampler, Pipeline(max_widen=1), progress=False)
    assert len(boxes) == 2  # widened once for e1 and e2
    prior = problem.priors[i_te].support
    assert prior == (0.0, 3.5)
    if found:
        for (lo, hi), (lo0, hi0) in zip(boxes, before):
            np.testing.assert_array_equal(lo, lo0)
            np.testing.assert_array_equal(hi, hi0)
        assert boxes[0][1][i_te] < 0.02  # the box around the best fit
    else:
        assert all((lo[i_te], hi[i_te]) == prior for lo, hi in boxes)
        assert res.info["pipeline"]["box"]["lens_mass.0.theta_E"] == [0.0, 3.5]
        assert not any(edge.startswith("lens_mass.0.theta_E") for edge in res.info["pipeline"]["crowded_edges"])


def test_box_that_widening_cannot_move_is_not_sampled_again(write_fits, monkeypatch):
    """If widening leaves the box as it was, the pipeline stops (flagged unconverged) instead
    of sampling the same box again (a resumed checkpoint: the same answer, at a cost)."""
    from tinylens.inference import InferenceResult
    from tinylens.pipeline import run as run_mod
    from tinylens.pipeline import box as bx

    problem, names, i_te, best = _stages_at_the_truth(write_fits, monkeypatch)
    monkeypatch.setattr(bx, "widen", lambda lower, upper, *args, **kw: (lower.copy(), upper.copy()))
    calls = []

    def sampler(boxed, settings, progress=False, checkpoint_dir=None):
        calls.append(1)
        hi = boxed.priors[i_te].support[1]
        s = boxed.prior_transform(np.random.default_rng(0).uniform(size=(1000, boxed.ndim)))
        s[:, i_te] = hi  # piled on the box's upper edge
        return InferenceResult("fake", names, s, np.full(1000, -np.log(1000)), np.zeros(1000), -10.0, 1000, 1.0,
                               True, {})

    res = run_mod.run_pipeline(problem, sampler, Pipeline(max_widen=2), progress=False)
    assert len(calls) == 1
    assert "lens_mass.0.theta_E:upper" in res.info["pipeline"]["crowded_edges"] and not res.converged


@pytest.mark.parametrize("converged", [True, False])
def test_a_box_whose_run_its_budget_stopped_is_not_widened(write_fits, monkeypatch, capsys, converged):
    """A sampler run stopped by its budget (nautilus's n_like_max, unconverged) has a small,
    unreliable posterior, yet the pipeline read crowded edges from it, widened the box and sampled
    again with the whole budget each box (2048 + 4096 + 4096 calls for n_like_max 4000). Its edges
    are no evidence: the fit now ends there, unconverged and flagged; a converged run's box is widened."""
    from tinylens.fitting.summary import unconverged_warnings
    from tinylens.inference import InferenceResult
    from tinylens.pipeline import run as run_mod

    problem, names, i_te, best = _stages_at_the_truth(write_fits, monkeypatch)
    calls = []

    def sampler(boxed, settings, progress=False, checkpoint_dir=None):
        calls.append(boxed.priors[i_te].support)
        hi = boxed.priors[i_te].support[1]
        s = boxed.prior_transform(np.random.default_rng(0).uniform(size=(1000, boxed.ndim)))
        s[:, i_te] = hi  # piled on the box's upper edge
        return InferenceResult("nautilus", names, s, np.full(1000, -np.log(1000)), np.zeros(1000), -10.0, 4000,
                               1.0, converged, {"settings": {"n_like_max": 4000}})

    res = run_mod.run_pipeline(problem, sampler, Pipeline(max_widen=2), progress=True)
    said = " ".join(capsys.readouterr().err.split())
    pipeline = res.info["pipeline"]
    assert not res.converged and pipeline["sampler_converged"] is converged
    assert "lens_mass.0.theta_E:upper" in pipeline["crowded_edges"]  # still said, and flagged box_edge
    if converged:
        assert len(calls) == 3 and calls[1][1] > calls[0][1]  # widened max_widen times
        return
    assert len(calls) == 1 and len(pipeline["sampling_runs"]) == 1
    assert res.n_likelihood_evals == 4000 + 7
    assert pipeline["box"]["lens_mass.0.theta_E"] == list(calls[0])
    assert "the sampler stopped before converging: the box is not widened" in said, said
    assert "widening" not in said, said
    assert any("its n_like_max was reached" in text for text in unconverged_warnings(res)), unconverged_warnings(res)


def test_a_resumed_pipeline_counts_the_time_and_calls_of_its_earlier_runs(write_fits, monkeypatch, tmp_path):
    """A fit killed in its second sampling run (after widening the box) and started again: the
    stages and the first run are not redone, and the result's time and likelihood calls include
    theirs (and what the resumed sampler's checkpoint recorded), not only the last process's."""
    from tinylens.inference import InferenceResult
    from tinylens.pipeline import run as run_mod

    problem, names, i_te, best = _stages_at_the_truth(write_fits, monkeypatch)
    monkeypatch.setattr(run_mod, "optimise", lambda objective, settings, progress=False, **_: {
        "best": best.tolist(), "stages": {}, "n_evals": 7, "arc_mask": [], "time_s": 5.0})
    rng = np.random.default_rng(0)

    def result(boxed, sigma, n, wall, info):
        lo, hi = boxed.priors[i_te].support
        s = boxed.prior_transform(rng.uniform(size=(n, boxed.ndim)))
        s[:, i_te] = np.clip(rng.normal(best[i_te], sigma, n), lo, hi)
        return InferenceResult("fake", names, s, np.full(n, -np.log(n)), np.zeros(n), -10.0, n, wall, True, info)

    def killed(boxed, settings, progress=False, checkpoint_dir=None):
        if "killed" in calls:
            raise KeyboardInterrupt  # the second run: the job is killed
        calls.append("killed")
        return result(boxed, 0.15, 4000, 1.0, {})  # wider than the box: widened

    calls: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run_mod.run_pipeline(problem, killed, Pipeline(max_widen=1), progress=False, checkpoint_dir=tmp_path)

    def resumed(boxed, settings, progress=False, checkpoint_dir=None):
        calls.append("resumed")  # its checkpoint held 0.5 s of sampling; 2.0 s in all
        return result(boxed, 1e-4, 3000, 2.0, {"earlier_time_s": 0.5})

    monkeypatch.setattr(run_mod, "optimise", lambda *a, **k: pytest.fail("stages 1-3 run again"))
    started = time.perf_counter()
    res = run_mod.run_pipeline(problem, resumed, Pipeline(max_widen=1), progress=False, checkpoint_dir=tmp_path)
    here = time.perf_counter() - started
    assert calls == ["killed", "resumed"]  # max_widen=1 counts the earlier run: no third box
    assert [r["n_likelihood_evals"] for r in res.info["pipeline"]["sampling_runs"]] == [4000, 3000]
    assert res.n_likelihood_evals == 4000 + 3000 + 7
    assert res.info["earlier_time_s"] == pytest.approx(5.0 + 1.0 + 0.5)  # stages, first run, checkpoint
    assert 6.5 <= res.wall_time_s <= 6.5 + here


def test_a_resumed_pipeline_says_what_it_resumed_not_only_whether_its_last_run_did(write_fits, monkeypatch, tmp_path):
    """A fit killed in its second sampling run and started again reused its stages, resumed its
    second run from the checkpoint and, the box widened again, sampled a third afresh; its result
    said only 'resumed: false' (the third run's). info.pipeline now says what this process
    resumed: the stages (resumed_stages) and which sampling run resumed its checkpoint
    (resumed_run, counted over the fit's runs; None where none did), info.resumed staying the
    last run's; a fit started afresh resumed neither."""
    from tinylens.inference import InferenceResult
    from tinylens.pipeline import run as run_mod

    problem, names, i_te, best = _stages_at_the_truth(write_fits, monkeypatch)
    rng = np.random.default_rng(0)

    def result(boxed, sigma, info):
        lo, hi = boxed.priors[i_te].support
        s = boxed.prior_transform(rng.uniform(size=(3000, boxed.ndim)))
        s[:, i_te] = np.clip(rng.normal(best[i_te], sigma, 3000), lo, hi)
        return InferenceResult("fake", names, s, np.full(3000, -np.log(3000)), np.zeros(3000), -10.0, 3000, 1.0,
                               True, info)

    def first(boxed, settings, progress=False, checkpoint_dir=None):
        if calls:
            raise KeyboardInterrupt  # the second run: the job is killed
        calls.append("fresh")
        return result(boxed, 0.15, {"resumed": False})  # wider than the box: widened

    def again(boxed, settings, progress=False, checkpoint_dir=None):
        calls.append("resumed" if len(calls) == 1 else "fresh")
        return result(boxed, 0.15 if len(calls) == 2 else 1e-4, {"resumed": len(calls) == 2})

    calls: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run_mod.run_pipeline(problem, first, Pipeline(max_widen=2), progress=False, checkpoint_dir=tmp_path)
    res = run_mod.run_pipeline(problem, again, Pipeline(max_widen=2), progress=False, checkpoint_dir=tmp_path)
    assert calls == ["fresh", "resumed", "fresh"] and len(res.info["pipeline"]["sampling_runs"]) == 3
    assert res.info["resumed"] is False  # the last run's, as before
    assert res.info["pipeline"]["resumed_stages"] is True and res.info["pipeline"]["resumed_run"] == 2
    calls.clear()
    (tmp_path / "new").mkdir()
    fresh = run_mod.run_pipeline(problem, again, Pipeline(max_widen=0), progress=False, checkpoint_dir=tmp_path / "new")
    assert fresh.info["pipeline"]["resumed_stages"] is False and fresh.info["pipeline"]["resumed_run"] is None


def test_prior_centred_moves_an_improbable_stage_1_centre(write_fits):
    """Stage 1 can centre the 'lens light' on a bright image of the arc (mock lens_00069: 5 prior
    sigmas off); prior_centred then gives the starts the mass prior's centre, and only then."""
    from tinylens.pipeline.mass_source import prior_centred
    from tinylens.pipeline.params import get_param

    image, kernel = lenstronomy_image()
    problem = _problem(write_fits, image, kernel)
    spec, names = problem.spec, problem.param_names
    theta = np.array(truth_vector(names), dtype=float)
    ix, iy = names.index("lens_mass.0.center_x"), names.index("lens_mass.0.center_y")
    theta[ix], theta[iy] = 0.1, -0.05  # within 3 sigma of N(0, 0.1): kept
    assert prior_centred(problem, theta) is None
    theta[ix], theta[iy] = -0.48, 0.35
    moved = prior_centred(problem, theta)
    assert moved[ix] == pytest.approx(0.0, abs=1e-6) and moved[iy] == pytest.approx(0.0, abs=1e-6)
    assert get_param(moved, spec.lens_light[0], "center_x") == pytest.approx(0.0, abs=1e-6)  # linked to the mass
    others = [i for i in range(problem.ndim) if i not in (ix, iy)]
    assert np.array_equal(moved[others], theta[others])


def test_relight_refits_a_wrong_lens_light_with_the_source_held(write_fits):
    """Stage 3's last step: mass and source right, lens light wrong (too small, too disc-like, as
    on mock lens_00087); fitting the lens light again with the source in the model finds it."""
    from tinylens.pipeline.mass_source import relight
    from tinylens.pipeline.params import light_only_indices

    image, kernel = lenstronomy_image()
    problem = _problem(write_fits, image, kernel)
    names = problem.param_names
    truth = np.array(truth_vector(names), dtype=float)
    wrong = truth.copy()
    wrong[names.index("lens_light.0.R_sersic")] *= 0.5
    wrong[names.index("lens_light.0.n_sersic")] = 2.0
    light_only = light_only_indices(problem.spec)
    objective = Objective(problem)
    fit = relight(objective, wrong)
    light = LENS_TRUTH["lens_light"][0]
    got = dict(zip(names, fit.theta))
    assert got["lens_light.0.R_sersic"] == pytest.approx(exact_r_sersic(light["R_sersic"], light["n_sersic"]), rel=0.05)
    assert got["lens_light.0.n_sersic"] == pytest.approx(light["n_sersic"], abs=0.3)
    held = [i for i in range(problem.ndim) if i not in light_only]
    assert np.allclose(fit.theta[held], wrong[held], rtol=0, atol=1e-9)  # mass and source held
    start_log_post = -objective.value_and_grad(wrong, np.ones(problem.ndim, bool))[0]
    assert fit.log_post > start_log_post + 100


def test_revive_relights_a_dark_source_that_the_optimiser_cannot_move(write_fits):
    """A source the NNLS switches off (zero amplitude: here compact and where no arc maps) has
    zero gradients, and so have the Einstein radius and the shear: an optimiser of those stays
    put. Stage 3's revival puts the source back where the arc maps and tries sizes again, and
    finds the lens (SLACS J0008-0004 ended stage 3 with its whole source dark)."""
    from tinylens.pipeline.arc import find_arc
    from tinylens.pipeline.mass_source import dark_sources, revive

    image, kernel = lenstronomy_image()
    problem = _problem(write_fits, image, kernel)
    names = problem.param_names
    truth = np.array(truth_vector(names), dtype=float)
    dark = truth.copy()
    dark[names.index("source_light.0.center_x")] += 1.5
    dark[names.index("source_light.0.R_sersic")] = 0.05
    dark[names.index("lens_mass.0.theta_E")] = 1.0
    assert dark_sources(problem, dark) == [0]
    assert dark_sources(problem, truth) == []
    objective = Objective(problem)
    _, grad = objective.value_and_grad(dark, np.ones(problem.ndim, bool))
    for name in ("lens_mass.0.theta_E", "lens_mass.1.gamma1", "source_light.0.R_sersic", "source_light.0.n_sersic"):
        assert grad[names.index(name)] == 0.0  # exactly: nothing tells the optimiser where to go
    stuck = objective.minimize(dark, [names.index(n) for n in ("lens_mass.0.theta_E", "source_light.0.R_sersic")])
    i = names.index("lens_mass.0.theta_E")
    assert stuck.theta[i] == pytest.approx(1.0, abs=1e-6)
    d = problem.dataset
    arc = find_arc(d.data - problem.model_image(truth)["lens_light"], d.noise, d.pixel_scale, (0.0, 0.0))
    fit = revive(objective, stuck.theta, arc)
    assert fit.theta[i] == pytest.approx(1.2, rel=0.01)
    assert fit.log_post > stuck.log_post + 1000
    assert revive(objective, fit.theta, arc) is None  # nothing dark any more


def test_stages_find_mock_lens_00040_where_stage_1_sits_on_an_arc_image(tmp_path, monkeypatch):
    """Mock lens_00040 of ``simulate-population --seed 1`` (with shear; a double, arc S/N 9, the
    lens galaxy fainter than the brighter image): stage 1 centres the 'lens light' on that image,
    0.55" from the lens (5 prior sigmas). The starts moved to the prior's centre must hold it
    there while mass and source are fitted; with the centre free they slid back onto the image
    and stages 1-3 ended at theta_E 3.44" (true 0.967"), 131 in log P below the optimum reached
    from the truth."""
    from tinylens.pipeline import mass_source
    from tinylens.survey import population as pop
    from tinylens.survey.runner import find_lenses, lens_config

    opts = pop.PopulationOptions.from_kwargs()
    psf = pop.make_psf(opts)
    lens = pop.simulate_lens(np.random.default_rng(np.random.SeedSequence(1).spawn(41)[40]), opts, psf)
    pop.write_lens(tmp_path / "lens_00040", lens, psf, opts, {"lens_id": "lens_00040"})
    problem = tinylens.load(lens_config(pop.template_config(opts), find_lenses(tmp_path)[0], tmp_path / "out"))
    truth = pop.flat_params(lens["truth"])
    moved = []
    original = mass_source.prior_centred
    monkeypatch.setattr(mass_source, "prior_centred", lambda *a, **k: moved.append(original(*a, **k)) or moved[-1])
    best = dict(zip(problem.param_names, optimise(Objective(problem), Pipeline())["best"]))
    assert moved and moved[0] is not None  # stage 1 did sit on the image: the case under test
    assert best["lens_mass.0.theta_E"] == pytest.approx(truth["lens_mass.0.theta_E"], rel=0.01)
    assert np.hypot(best["lens_mass.0.center_x"] - truth["lens_mass.0.center_x"],
                    best["lens_mass.0.center_y"] - truth["lens_mass.0.center_y"]) < 0.05


def test_peak_source_guess_meets_the_images_where_the_arc_pixels_do_not(write_fits):
    """SLACS J2303+1422 with two-MGE lens light: the arc region also held light that is not the
    source's (lens-light leftovers, a neighbour), so the arc pixels mapped to the source plane
    put a large source where the NNLS left it dark at every start near the right Einstein
    radius. The images' peaks (here exact, from lenstronomy's image finder, plus a leftover on
    the lens centre that must be ignored) meet where the source is."""
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver

    from tinylens.numerics.grid import pixel_coordinates
    from tinylens.pipeline.arc import Arc
    from tinylens.pipeline.mass_source import peak_source_guess, source_guess, starts

    image, kernel = lenstronomy_image()
    problem = _problem(write_fits, image, kernel)
    truth = np.array(truth_vector(problem.param_names), dtype=float)
    mass = [dict(LENS_TRUTH["lens_mass"][0]), dict(LENS_TRUTH["lens_mass"][1], ra_0=0.0, dec_0=0.0)]
    src = LENS_TRUTH["source_light"][0]
    x, y = LensEquationSolver(LensModel(["SIE", "SHEAR"])).image_position_from_source(
        src["center_x"], src["center_y"], mass, min_distance=0.02, search_window=4.0, precision_limit=1e-8)
    assert len(x) >= 2
    center = (LENS_TRUTH["lens_mass"][0]["center_x"], LENS_TRUTH["lens_mass"][0]["center_y"])
    peaks = np.vstack([np.stack([x, y], axis=1), [[center[0] + 0.1, center[1]]]])  # + a leftover on the lens
    gx, gy = pixel_coordinates(problem.dataset.data.shape, PIX)
    polluted = np.hypot(gx - 1.5, gy + 1.5) < 0.3  # the arc region holds only a neighbour's light
    arc = Arc(polluted, np.zeros_like(gx), 1.2, peaks, int(polluted.sum()))

    sx, sy, size = peak_source_guess(problem, truth, arc, center, r_min=3 * PIX)
    assert (sx, sy) == (pytest.approx(src["center_x"], abs=0.01), pytest.approx(src["center_y"], abs=0.01))
    assert size == pytest.approx(2 * PIX)  # the images meet to a point: the smallest size
    px, py, _ = source_guess(problem, truth, arc)
    assert np.hypot(px - sx, py - sy) > 3 * PIX  # the arc pixels' guess is elsewhere
    one = Arc(polluted, np.zeros_like(gx), 1.2, peaks[:1], int(polluted.sum()))
    assert peak_source_guess(problem, truth, one, center, r_min=3 * PIX) is None  # one image: no meeting point

    out = starts(problem, truth, arc, 1.2, factors=(1.0,))
    names = problem.param_names
    ix, iy = names.index("source_light.0.center_x"), names.index("source_light.0.center_y")
    for pixels_start, peaks_start in zip(out[::2], out[1::2]):  # each mass start: both guesses
        assert (pixels_start[ix], pixels_start[iy]) == pytest.approx(source_guess(problem, pixels_start, arc)[:2], abs=1e-6)
        assert (peaks_start[ix], peaks_start[iy]) == pytest.approx(
            peak_source_guess(problem, peaks_start, arc, center, r_min=3 * PIX)[:2], abs=1e-3)


def test_stage_3_stops_when_no_start_has_a_finite_posterior(write_fits, nan_sie):
    """A mass model that is finite nowhere (nan_sie): stage 3 must say so rather than hand
    nautilus a box around nothing (it used to sample such a model for as long as it was let)."""
    from oracle import table1_components

    from tinylens.errors import ConfigValueError

    nan_sie()
    image, kernel = lenstronomy_image()
    problem = _problem(write_fits, image, kernel, table1_components())
    with pytest.raises(ConfigValueError, match="stage 3 .* not finite at any of its"):
        optimise(Objective(problem), Pipeline())


def _tiny_lens_with_a_gaussian_light(tmp_path):
    """The tiny lens written in ``tmp_path``, loaded with a centred round Gaussian lens light (its
    sigma free, its flux linear), so that the pipeline's stage 1 fits it."""
    from tiny_lens import tiny_config, write_tiny_lens

    write_tiny_lens(tmp_path)
    config = tiny_config()
    config["model_components"]["lens_light_list"] = [{"type": "Gaussian", "params": {
        "sigma": {"prior_type": "uniform", "prior_settings": [0.05, 2.0]},
        **{name: {"fixed": True, "fixed_value": 0.0} for name in ("center_x", "center_y", "e1", "e2")},
        "flux": {"use_linear": True}}}]
    return tinylens.load(config, base_dir=tmp_path)


def test_stage_1_says_so_when_no_start_has_a_finite_lens_light_posterior(tmp_path, monkeypatch):
    """A lens light that is finite nowhere (a Gaussian profile made NaN): stage 1's fits all
    scored the optimiser's 'non-finite' value, stage 2 found no arc in a NaN residual, and the
    error came from stage 3, blaming the priors of the mass and source. Stage 1 says so itself,
    naming the lens light's priors."""
    import dataclasses

    import jax.numpy as jnp

    from tinylens.errors import ConfigValueError
    from tinylens.profiles.light import LIGHT_PROFILES

    real = LIGHT_PROFILES["Gaussian"]
    monkeypatch.setitem(LIGHT_PROFILES, "Gaussian", dataclasses.replace(
        real, basis=lambda x, y, p, settings: real.basis(x, y, p, settings) * jnp.nan))
    problem = _tiny_lens_with_a_gaussian_light(tmp_path)
    with pytest.raises(ConfigValueError) as err:
        optimise(Objective(problem), Pipeline())
    said = str(err.value)
    assert said.startswith("pipeline stage 1 (lens light): ") and "not finite at any of its 4 starts" in said, said
    assert "Check the priors of the lens light (lens_light.0.sigma)" in said and "mass" not in said, said


def test_stages_1_to_3_take_a_model_of_the_lens_light_alone(tmp_path, capsys):
    """TinyLensGpu's lens-light-only models (lens_mass_list and source_light_list empty): stage 3
    holds the lens light and fits mass and source, of which there is nothing, and scipy's
    L-BFGS-B refused the empty vector ('not enough values to unpack'), a traceback from tinylens fit.
    Its progress line said '3/4 mass and source fitted' all the same, and stage 2's an Einstein
    radius of the arc ('theta_E ~ 1.012"') for a model with no mass to have one."""
    from tiny_lens import tiny_config, write_tiny_lens

    write_tiny_lens(tmp_path)
    config = tiny_config()
    config["model_components"] = {"lens_mass_list": [], "source_light_list": [], "lens_light_list": [{
        "type": "Sersic", "params": {
            "R_sersic": {"prior_type": "uniform", "prior_settings": [0.05, 2.0]},
            "n_sersic": {"prior_type": "uniform", "prior_settings": [0.5, 6.0]},
            "center_x": {"fixed": True, "fixed_value": 0.0}, "center_y": {"fixed": True, "fixed_value": 0.0},
            "Ie": {"use_linear": True}}}]}
    problem = tinylens.load(config, base_dir=tmp_path)
    state = optimise(Objective(problem), Pipeline(), progress=True)
    best = np.asarray(state["best"])
    said = " ".join(capsys.readouterr().err.split())
    assert "3/4 no mass or source to fit, lens light fitted again: log P" in said and "mass and source fitted" not in said
    assert "2/4 arc: " in said and "pixels, no mass to estimate an Einstein radius for" in said, said
    assert "theta_E" not in said, said
    arc = SimpleNamespace(found=True, n_pixels=268)  # a model with a mass still has its estimate
    assert stage2_done(SimpleNamespace(lens_mass=[object()]), arc, 1.0123) == 'arc: 268 pixels, theta_E ~ 1.012"'
    assert list(problem.param_names) == ["lens_light.0.R_sersic", "lens_light.0.n_sersic"]
    assert best.shape == (2,) and np.all(np.isfinite(best)) and np.isfinite(problem.log_likelihood(best))
    assert np.isfinite(state["stages"]["mass_source"]["log_posterior"])


@pytest.mark.parametrize("text", ["[]", "null", "3", "{not json", '{"fingerprint": "other"}'])
def test_a_stage_state_that_is_not_this_fits_is_not_reused(tmp_path, text):
    """A checkpoint.pipeline.json holding JSON that is no object ([] say) made the fit stop with
    "'list' object has no attribute 'get'"; like an unreadable one or another fit's, it is ignored."""
    path = tmp_path / "checkpoint.pipeline.json"
    path.write_text(text)
    assert _load_state(path, "stamp", 3) is None and path.read_text() == text  # not this fit's: left as it is
    state = {"fingerprint": "stamp", "best": [1.0, 0.1, 0.0], "stages": {}, "n_evals": 3, "time_s": 2.5,
             "arc_mask": [4, 5]}
    path.write_text(json.dumps(state))
    assert _load_state(path, "stamp", 3) == state


_STATE = {"fingerprint": "stamp", "best": [1.0, 0.1, 0.0], "stages": {"arc": {"found": True, "theta_E_floor": 0.4}},
          "n_evals": 3, "time_s": 2.5, "arc_mask": [4, 5], "box": [[0.5, None, -0.3], [1.5, 0.5, 0.3]],
          "runs": [{"n_likelihood_evals": 100, "wall_time_s": 1.5, "crowded": []}], "threads": 1}


@pytest.mark.parametrize("edit, said", [
    ({"best": "abc"}, "'best' is \"abc\", not a list of 3 numbers"),
    ({"best": [1.0, 0.1]}, "'best' holds 2 values, not the 3 of this model's free parameters"),
    ({"best": [1.0, "NaN", 0.0]}, "'best' holds \"NaN\", not a finite number"),
    ({"best": [1.0, float("nan"), 0.0]}, "'best' holds NaN, not a finite number"),
    ({"best": None}, "'best' is null, not a list of 3 numbers"),
    ({"best": [1.0, 10**400, 0.0]}, "'best' holds 1000000000000000000000000000000000000... (401 characters), not a finite number"),
    ({"n_evals": 10**400}, "'n_evals' is 1000000000000000000000000000000000000... (401 characters), not a whole number from 0 to 1e+15"),
    ({"time_s": "long"}, "'time_s' is \"long\", not a number of seconds from 0 to 1e+09"),
    ({"time_s": float("nan")}, "'time_s' is NaN, not a number of seconds from 0 to 1e+09"),
    ({"n_evals": "3"}, "'n_evals' is \"3\", not a whole number from 0 to 1e+15"),
    ({"n_evals": 2.5}, "'n_evals' is 2.5, not a whole number from 0 to 1e+15"),
    ({"stages": []}, "'stages' is [], not an object of the stages' records"),
    ({"stages": {"arc": {"theta_E_floor": "x"}}}, "'stages.arc.theta_E_floor' is \"x\", not a finite number"),
    ({"arc_mask": 7}, "'arc_mask' is 7, not a list of pixels"),
    ({"box": [[0.5, 0.0, -0.3]]}, "'box' is [[0.5, 0.0, -0.3]], not its lower and upper bounds"),
    ({"box": [[0.5, 0.0, -0.3], [1.5, 0.5]]}, "'box upper bounds' holds 2 values, not the 3 of this model's"),
    ({"box": [[0.5, 0.0, float("nan")], [1.5, 0.5, 0.3]]}, "'box lower bounds' holds NaN, not a finite number"),
    ({"box": [[0.5, 0.0, 0.4], [1.5, 0.5, 0.3]]}, "'box' has a lower bound above its upper bound"),
    ({"runs": [{"n_likelihood_evals": "many", "wall_time_s": 1.0}]}, "... (52 characters), not a list of sampling runs (their n_likelihood_evals and wall_time_s)"),
    ({"runs": [{"n_likelihood_evals": 1e308, "wall_time_s": 1.0}] * 2},
     "'runs[0].n_likelihood_evals' is 1e+308, not a whole number from 0 to 1e+15"),
    ({"runs": [{"n_likelihood_evals": 100, "wall_time_s": 1.0}, {"n_likelihood_evals": -5, "wall_time_s": 1.0}]},
     "'runs[1].n_likelihood_evals' is -5, not a whole number from 0 to 1e+15"),
    ({"runs": [{"n_likelihood_evals": 2.5, "wall_time_s": 1.0}]}, "'runs[0].n_likelihood_evals' is 2.5, not a whole number"),
    ({"n_evals": 1e308}, "'n_evals' is 1e+308, not a whole number from 0 to 1e+15"),
    ({"time_s": 1e308}, "'time_s' is 1e+308, not a number of seconds from 0 to 1e+09"),
    ({"time_s": -1.0}, "'time_s' is -1.0, not a number of seconds from 0 to 1e+09"),
    ({"runs": [{"n_likelihood_evals": 100, "wall_time_s": 1e308}] * 2},
     "'runs[0].wall_time_s' is 1e+308, not a number of seconds from 0 to 1e+09"),
    ({"runs": [{"n_likelihood_evals": 100, "wall_time_s": 1.0}, {"n_likelihood_evals": 100, "wall_time_s": -2.0}]},
     "'runs[1].wall_time_s' is -2.0, not a number of seconds from 0 to 1e+09"),
    ({"threads": "abc"}, "'threads' is \"abc\", not a whole number from 1 to 256"),
    ({"threads": 0}, "'threads' is 0, not a whole number from 1 to 256"),
    ({"threads": 1e308}, "'threads' is 1e+308, not a whole number from 1 to 256"),
])
def test_a_stage_state_of_this_fit_edited_or_damaged_is_deleted_with_a_warning(tmp_path, edit, said):
    """A checkpoint.pipeline.json of this fit (its fingerprint) whose content was edited or
    damaged (a text for a number, a list of the wrong length, NaN) made the fit stop with a bare
    ValueError or TypeError from np.asarray, float or int; it is now not reused: a
    CheckpointWarning names the file and what is wrong, the file is deleted and the stages are
    done again. A state with nothing wrong (its optional box, runs and threads included) is reused."""
    path = tmp_path / "checkpoint.pipeline.json"
    path.write_text(json.dumps(_STATE))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)
        assert _load_state(path, "stamp", 3) == _STATE
    path.write_text(json.dumps({**_STATE, **edit}))
    with pytest.warns(CheckpointWarning) as caught:
        assert _load_state(path, "stamp", 3) is None
    text = str(caught[0].message)
    assert text.startswith(f"The pipeline state {path} is this fit's but cannot be used ("), text
    assert said in text and text.endswith("): it is deleted and stages 1-3 are done again."), text
    assert len(caught) == 1 and not path.exists()


def test_a_stage_state_with_counts_up_to_their_bounds_is_reused(tmp_path):
    """The bounds on a state's counts (an edited 1e308 made the fit's total an OverflowError) leave
    MAX_STATE_EVALS evaluations and MAX_STATE_SECONDS seconds in stages 1-3 and in each run, whose sums a fit's
    result holds, and 256 threads."""
    from tinylens.pipeline.run import MAX_STATE_EVALS, MAX_STATE_SECONDS

    top = int(MAX_STATE_EVALS)
    state = {**_STATE, "n_evals": top, "threads": 256, "time_s": MAX_STATE_SECONDS,
             "runs": [{"n_likelihood_evals": top, "wall_time_s": MAX_STATE_SECONDS}] * 2}
    path = tmp_path / "checkpoint.pipeline.json"
    path.write_text(json.dumps(state))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointWarning)
        assert _load_state(path, "stamp", 3) == state
    assert int(sum(r["n_likelihood_evals"] for r in state["runs"]) + state["n_evals"]) == 3 * top
    assert math.isfinite(sum(r["wall_time_s"] for r in state["runs"]) + state["time_s"])


@pytest.mark.parametrize("key", ["best", "stages", "n_evals", "time_s"])
def test_a_stage_state_without_a_key_every_state_has_is_not_reused(tmp_path, key):
    """Every checkpoint.pipeline.json tinylens has written has best, stages, n_evals and time_s
    (and arc_mask); one without (a {"fingerprint": ..., "n_evals": 3} was once read as this fit's
    state) made the fit stop with a KeyError. It is said, deleted and the stages are done again."""
    path = tmp_path / "checkpoint.pipeline.json"
    path.write_text(json.dumps({k: v for k, v in _STATE.items() if k != key}))
    with pytest.warns(CheckpointWarning, match=f"cannot be used \\(it has no '{key}'\\): it is deleted"):
        assert _load_state(path, "stamp", 3) is None
    assert not path.exists()


def test_a_resumed_fit_over_the_full_priors_keeps_their_infinite_bounds(write_fits, monkeypatch, tmp_path):
    """``pipeline: {bounded: false}`` samples the full priors, whose Gaussian centres have no
    bounds: checkpoint.pipeline.json stored them as null (JSON has no infinity), a resumed fit read
    them back as NaN, and its log-evidence came out NaN (null in result.json). The resumed fit
    samples the same priors and reports the same log-evidence as the first."""
    from tinylens.inference import InferenceResult
    from tinylens.pipeline import run as run_mod

    problem, names, i_te, best = _stages_at_the_truth(write_fits, monkeypatch)
    assert not np.isfinite(problem.priors[names.index("lens_mass.0.center_x")].support).all()
    seen = []

    def sampler(boxed, settings, progress=False, checkpoint_dir=None):
        seen.append([p.support for p in boxed.priors])
        s = boxed.prior_transform(np.random.default_rng(0).uniform(size=(500, boxed.ndim)))
        return InferenceResult("fake", names, s, np.full(500, -np.log(500)), np.zeros(500), -10.0, 500, 1.0, True, {})

    first = run_mod.run_pipeline(problem, sampler, Pipeline(bounded=False), progress=False, checkpoint_dir=tmp_path)
    again = run_mod.run_pipeline(problem, sampler, Pipeline(bounded=False), progress=False, checkpoint_dir=tmp_path)
    assert seen[0] == seen[1]
    assert np.isfinite(first.log_evidence) and again.log_evidence == pytest.approx(first.log_evidence)
    assert again.info["pipeline"]["box"] == first.info["pipeline"]["box"]


def test_the_stage_lines_say_which_stages_the_config_switched_off(tmp_path, capsys):
    """``pipeline: {arc: false}`` starts theta_E at its prior's median with no floor, but stage 2's
    line read 'arc: 268 pixels, theta_E ~ 1.000"', the median given as the arc's radius; and with
    stage 1 off (or no lens light in the model) no '1/4' line said so. The lines now say it."""
    from tiny_lens import tiny_config, write_tiny_lens

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)  # no lens light; theta_E U(0.5, 1.5)
    state = optimise(Objective(problem), Pipeline(arc=False), progress=True)
    said = " ".join(capsys.readouterr().err.split())
    assert "1/4 no lens light in the model: the arc is searched in the data as they are" in said, said
    assert ("pixels; theta_E starts at its prior's median, 1.000\", with no floor (pipeline.arc: false)"
            in said), said
    arc = state["stages"]["arc"]
    assert arc["theta_E_start"] == pytest.approx(1.0) and arc["theta_E_floor"] == 0.0
    with_light = SimpleNamespace(lens_light=[object()])
    assert stage1_skipped(with_light) == ("lens light not fitted alone (pipeline.lens_light: false): "
                                          "the arc is searched in the data as they are")
    mass = SimpleNamespace(lens_mass=[object()])
    assert stage2_done(mass, SimpleNamespace(found=False), 1.75, used=False) == (
        "no arc found; theta_E starts at its prior's median, 1.750\", with no floor (pipeline.arc: false)")
    assert stage2_done(mass, SimpleNamespace(found=False), 1.75).startswith("no arc found")
    assert "theta_E ~" not in said  # the median is no estimate of the arc's


def test_the_sampling_line_says_the_full_priors_are_sampled_when_bounded_is_off(write_fits, monkeypatch, capsys):
    """``pipeline: {bounded: false}``: stage 4's line said 'sampling in the box'; it says the full priors."""
    from tinylens.inference import InferenceResult
    from tinylens.pipeline import run as run_mod

    problem, names, i_te, best = _stages_at_the_truth(write_fits, monkeypatch)

    def sampler(boxed, settings, progress=False, checkpoint_dir=None):
        s = boxed.prior_transform(np.random.default_rng(0).uniform(size=(200, boxed.ndim)))
        return InferenceResult("fake", names, s, np.full(200, -np.log(200)), np.zeros(200), -10.0, 200, 1.0, True, {})

    run_mod.run_pipeline(problem, sampler, Pipeline(bounded=False), progress=True)
    said = " ".join(capsys.readouterr().err.split())
    assert "4/4 sampling the full priors (pipeline.bounded: false) (run 1;" in said, said  # no floor: none named
    run_mod.run_pipeline(problem, sampler, Pipeline(), progress=True)
    assert "4/4 sampling in the box (run 1;" in " ".join(capsys.readouterr().err.split())


def test_the_sampling_line_names_stage_3s_floor_only_where_there_is_one():
    """With ``bounded: false`` the line said 'theta_E above stage 3's floor' also where there was none
    (``pipeline.arc: false``, whose stage 2 line says 'with no floor', or no fit reached it)."""
    from tinylens.pipeline.run import sampling_where

    assert sampling_where(False, 0.0) == "the full priors (pipeline.bounded: false)"
    assert sampling_where(False, 0.512) == "the full priors (pipeline.bounded: false; theta_E above stage 3's floor of 0.512\")"
    assert sampling_where(True, 0.512) == "in the box"


@pytest.mark.parametrize("theta_E", ["free", "fixed", "prior above the floor"])
def test_the_sampling_line_names_the_floor_only_where_it_cuts_a_free_theta_E(tmp_path, monkeypatch, capsys, theta_E):
    """With ``bounded: false`` and theta_E fixed (here at 1.0"), stage 4's line read 'theta_E
    above stage 3's floor of 0.700"', a floor that cut nothing: the box is floored only where
    theta_E is a free parameter; so did a floor of 0.300" below the prior's lower bound of 0.5" (the
    floor is then no cut). The line names the floor only where it cuts a free theta_E's prior."""
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens.inference import InferenceResult
    from tinylens.pipeline import run as run_mod
    from tinylens.pipeline.params import prior_middle

    write_tiny_lens(tmp_path)
    config = tiny_config()
    if theta_E == "fixed":
        config["model_components"]["lens_mass_list"][0]["params"]["theta_E"] = {"fixed": True, "fixed_value": 1.0}
    problem = tinylens.load(config, base_dir=tmp_path)
    floor = 0.3 if theta_E == "prior above the floor" else 0.7  # the prior: 0.5 to 1.5
    monkeypatch.setattr(run_mod, "optimise", lambda objective, settings, progress=False, **_: {
        "best": prior_middle(problem).tolist(), "stages": {"arc": {"found": True, "theta_E_floor": floor}},
        "n_evals": 7, "arc_mask": [], "time_s": 0.0})

    def sampler(boxed, settings, progress=False, checkpoint_dir=None):
        s = boxed.prior_transform(np.random.default_rng(0).uniform(size=(200, boxed.ndim)))
        return InferenceResult("fake", problem.param_names, s, np.full(200, -np.log(200)), np.zeros(200), -10.0, 200,
                               1.0, True, {})

    res = run_mod.run_pipeline(problem, sampler, Pipeline(bounded=False), progress=True)
    said = " ".join(capsys.readouterr().err.split())
    if theta_E == "free":
        assert res.info["pipeline"]["box"]["lens_mass.0.theta_E"] == [0.7, 1.5]
        assert "4/4 sampling the full priors (pipeline.bounded: false; theta_E above stage 3's floor of 0.700\")" in said
    else:
        if theta_E == "fixed":
            assert "lens_mass.0.theta_E" not in problem.param_names
        else:
            assert res.info["pipeline"]["box"]["lens_mass.0.theta_E"] == [0.5, 1.5]
        assert "4/4 sampling the full priors (pipeline.bounded: false) (run 1;" in said, said


@pytest.mark.parametrize("bounded", [True, False])
def test_a_posterior_against_the_theta_E_floor_is_a_box_edge_with_or_without_the_box(write_fits, monkeypatch,
                                                                                     bounded):
    """Stage 3's theta_E floor is the one edge of the sampling box that ``pipeline: {bounded:
    false}`` keeps. A posterior piled against it was flagged (box_edge, unconverged) in the box,
    but not without it: nothing told the user the fit wanted a smaller Einstein radius than the
    floor allowed. Now both say which edge."""
    from tinylens.inference import InferenceResult
    from tinylens.pipeline import run as run_mod
    from tinylens.results.quality import assess

    problem, names, i_te, best = _stages_at_the_truth(write_fits, monkeypatch)
    floor = best[i_te] - 1e-3  # inside the box; the 'posterior' below piles on it
    monkeypatch.setattr(run_mod, "optimise", lambda objective, settings, progress=False, **_: {
        "best": best.tolist(), "stages": {"arc": {"theta_E_floor": floor}}, "n_evals": 7, "arc_mask": [],
        "time_s": 0.0})
    calls = []

    def sampler(boxed, settings, progress=False, checkpoint_dir=None):
        calls.append(1)
        lo = boxed.priors[i_te].support[0]
        assert lo == pytest.approx(floor)
        s = boxed.prior_transform(np.random.default_rng(0).uniform(size=(500, boxed.ndim)))
        s[:, i_te] = lo + np.abs(np.random.default_rng(1).normal(0, 1e-4, 500))
        return InferenceResult("fake", names, s, np.full(500, -np.log(500)), np.zeros(500), -10.0, 500, 1.0, True, {})

    res = run_mod.run_pipeline(problem, sampler, Pipeline(bounded=bounded), progress=False)
    assert res.info["pipeline"]["crowded_edges"] == ["lens_mass.0.theta_E:lower"] and not res.converged
    assert res.info["pipeline"]["sampler_converged"]  # the sampler did: fit's closing lines name the floor instead
    assert not bounded or len(calls) <= 3  # the box is widened at most max_widen times
    assert bounded or len(calls) == 1  # without the box there is nothing to widen
    checks = assess(problem, res)["checks"]
    assert checks["box_edge"] and checks["unconverged"]


def test_stage_3s_theta_E_floor_holds_with_a_shear_listed_first(tmp_path):
    """With ``lens_mass_list: [SHEAR, SIE]`` the floor read the SHEAR's theta_E, which it has not:
    stage 3 kept fits far inside the arc and the sampling box was never cut at the floor."""
    from tiny_lens import write_tiny_lens_shear_first
    from tinylens.pipeline.mass_source import plausible
    from tinylens.pipeline.optimize import Fit
    from tinylens.pipeline.run import _floored, _theta_E_middle

    problem = tinylens.load(write_tiny_lens_shear_first(tmp_path))
    i = problem.param_names.index("lens_mass.1.theta_E")
    lower = np.array([p.support[0] for p in problem.priors])
    upper = np.array([p.support[1] for p in problem.priors])
    assert _floored(problem, lower, upper, 0.8)[i] == 0.8
    assert _theta_E_middle(problem) == pytest.approx(1.0)  # U(0.5, 1.5)
    inside, outside = np.array(lower), np.array(lower)
    inside[i], outside[i] = 0.6, 1.0
    fits = [Fit(inside, 10.0, 1, ""), Fit(outside, 0.0, 1, "")]
    assert [f.log_post for f in plausible(fits, problem.spec, 0.8)] == [0.0]


def test_the_stage_2_line_says_where_theta_E_starts_when_no_arc_is_found(tmp_path, capsys):
    """An arc too faint for the arc finder: stage 3 started theta_E at its prior's median, with no
    floor, as with ``pipeline.arc: false``, but stage 2's line said only 'no arc found', neither
    where the Einstein radius then starts nor why nothing was found. It now says both."""
    from tiny_lens import tiny_config, tiny_data, write_tiny_lens

    data = tiny_data()
    data["image"] = 0.03 * data["image"] + np.random.default_rng(7).normal(0, 0.05, data["image"].shape)  # arc 30 times fainter
    write_tiny_lens(tmp_path, data=data)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)  # no lens light; theta_E U(0.5, 1.5)
    state = optimise(Objective(problem), Pipeline(), progress=True)
    said = " ".join(capsys.readouterr().err.split())
    assert not state["stages"]["arc"]["found"] and state["stages"]["arc"]["theta_E_floor"] == 0.0
    assert ("2/4 no arc found (no 12 pixels together above pipeline.arc_threshold, 3 sigma, beyond the lens "
            "centre; flagged no_arc): theta_E starts at its prior's median, 1.000\", with no floor") in said, said


@pytest.mark.parametrize("change", ["fixed value", "profile", "source's fixed index"])
def test_stages_of_another_model_with_the_same_free_parameters_are_not_reused(tmp_path, change):
    """The stages' checkpoint (and the sampler's) was told by the data, the free parameters and
    their priors alone: a stopped fit started again after a fixed value was changed (e1: 0 -> 0.3),
    SIE replaced by SIS (e1, e2 fixed), or a source's fixed Sersic index changed (1 -> 4), said 'stages 1-3
    reused from checkpoint.pipeline.json' and sampled the old model's box (and resumed its sampler),
    a result of the old model presented as the new one's."""
    import copy

    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens.pipeline.run import _stage_fingerprint

    write_tiny_lens(tmp_path)
    config = tiny_config()
    changed = copy.deepcopy(config)
    mass = changed["model_components"]["lens_mass_list"][0]
    if change == "fixed value":
        mass["params"]["e1"] = {"fixed": True, "fixed_value": 0.3}
    elif change == "profile":
        mass["type"] = "SIS"
        del mass["params"]["e1"], mass["params"]["e2"]
    else:
        changed["model_components"]["source_light_list"][0]["params"]["n_sersic"] = {"fixed": True, "fixed_value": 4.0}
    before, after = (tinylens.load(c, base_dir=tmp_path) for c in (config, changed))
    assert before.param_names == after.param_names and before.priors == after.priors
    assert _stage_fingerprint(before, Pipeline()) != _stage_fingerprint(after, Pipeline())
    assert _stage_fingerprint(before, Pipeline()) == _stage_fingerprint(tinylens.load(config, base_dir=tmp_path), Pipeline())


def test_the_compact_lens_light_start_is_measured_about_an_off_centre_lens(write_fits):
    """Stage 3's compact lens-light start (for an arc that outshines the lens galaxy) measured the
    light within half the Einstein radius of the image centre, not of the lens: for a lens 0.64"
    off centre it put the lens light, and the mass centre of its starts, at (0.14", -0.13"), on the
    lens galaxy's wing. It is measured about stage 1's lens centre."""
    from tinylens.cli.demo import _free, table1_model_components
    from tinylens.pipeline.arc import Arc
    from tinylens.pipeline.lens_light import compact_light
    from tinylens.pipeline.params import get_param, prior_middle, set_param
    from tinylens.simulate import gaussian_psf, simulate_image

    truth = {"lens_mass": [{"theta_E": 1.0, "e1": 0.1, "e2": -0.05, "center_x": 0.5, "center_y": -0.4},
                           {"gamma1": 0.0, "gamma2": 0.0}],
             "lens_light": [{"R_sersic": 0.6, "n_sersic": 4.0, "e1": 0.0, "e2": 0.0, "center_x": 0.5, "center_y": -0.4,
                             "Ie": 0.8}]}
    psf = gaussian_psf(0.15, 0.08, 15)
    image = simulate_image({"lens_mass_list": ["SIE", "SHEAR"], "lens_light_list": ["Sersic"]}, truth, (50, 50), 0.08,
                           psf, nsub=2)
    components = table1_model_components()
    for name in ("center_x", "center_y"):
        components["lens_mass_list"][0]["params"][name] = _free("uniform", -1.0, 1.0)
    config = {"dataset": {"data_path": write_fits("image.fits", image), "pixel_scale": 0.08,
                          "noise_path": write_fits("noise.fits", np.full(image.shape, 0.03)),
                          "psf_path": write_fits("psf.fits", psf), "supersampling": {"mode": "uniform", "nsub": 1}},
              "model_components": components}
    problem = tinylens.load(config)
    theta = prior_middle(problem)
    light = problem.spec.lens_light[0]
    set_param(theta, light, "center_x", 0.5, problem.spec)  # where stage 1 found it
    set_param(theta, light, "center_y", -0.4, problem.spec)
    no_arc = Arc(np.zeros(image.shape, bool), np.zeros(image.shape), float("nan"))
    compact = compact_light(problem, theta, no_arc, 1.0)
    got = (get_param(compact, light, "center_x"), get_param(compact, light, "center_y"))
    assert got == pytest.approx((0.5, -0.4), abs=0.03), got


STAR = (0.45, -0.35)  # a bright star beside the lens, inside a third of the image and half theta_E


def _problem_with_a_masked_star(write_fits):
    """The oracle lens with a bright star added beside it, masked by a mask file (0 = used)."""
    from tinylens.numerics.grid import pixel_coordinates

    image, kernel = lenstronomy_image()
    x, y = pixel_coordinates(image.shape, PIX)
    r_star = np.hypot(x - STAR[0], y - STAR[1])
    star = 500.0 * np.exp(-0.5 * (r_star / 0.06) ** 2)
    noisy = image + star + np.random.default_rng(5).normal(0, SIGMA, image.shape)
    return tinylens.load({
        "dataset": {"data_path": write_fits("image.fits", noisy), "noise_path": write_fits("noise.fits", np.full_like(image, SIGMA)),
                    "psf_path": write_fits("psf.fits", kernel), "mask_path": write_fits("mask.fits", (r_star < 0.3).astype(float)),
                    "pixel_scale": PIX, "nsub": 2, "supersampling": {"mode": "uniform"}},
        "model_components": table1_components(),
    })


class _Started(Exception):
    """Raised by a spy of :func:`.lens_light.starts` once it has seen the measured moments."""


def _first_moments(monkeypatch, call):
    """The moments that ``call()`` hands to :func:`.lens_light.starts` first (nothing is fitted)."""
    from tinylens.pipeline import lens_light as ll

    seen = []

    def spy(problem, moments, base):
        seen.append(moments)
        raise _Started

    monkeypatch.setattr(ll, "starts", spy)
    with pytest.raises(_Started):
        call()
    return seen[0]


def _near_the_lens(moments, tol=0.1):
    light = LENS_TRUTH["lens_light"][0]
    return np.hypot(moments.center[0] - light["center_x"], moments.center[1] - light["center_y"]) < tol


def test_image_moments_leave_out_the_pixels_the_fit_does_not_use(write_fits):
    """A masked star pulled the moments' centre 0.4" towards it; the pixels the fit uses do not."""
    problem = _problem_with_a_masked_star(write_fits)
    d = problem.dataset
    assert not _near_the_lens(image_moments(d.data, d.noise, PIX))  # every pixel: the star counts
    assert _near_the_lens(image_moments(d.data, d.noise, PIX, used=d.mask))


def test_stage_1_and_stage_3_starts_are_measured_on_the_pixels_the_fit_uses(write_fits, monkeypatch):
    """Stage 1's starts, stage 3's compact lens light and relit lens light were measured on every
    pixel, a masked star's too."""
    from tinylens.pipeline.arc import Arc
    from tinylens.pipeline.lens_light import compact_light, lens_center
    from tinylens.pipeline.mass_source import relight

    problem = _problem_with_a_masked_star(write_fits)
    truth = np.array(truth_vector(problem.param_names), dtype=float)
    no_arc = Arc(np.zeros(problem.dataset.data.shape, bool), np.zeros(problem.dataset.data.shape), float("nan"))
    compact = compact_light(problem, truth, no_arc, LENS_TRUTH["lens_mass"][0]["theta_E"])
    assert _near_the_lens(SimpleNamespace(center=lens_center(problem, compact)))
    assert _near_the_lens(_first_moments(monkeypatch, lambda: fit_lens_light(problem)))
    assert _near_the_lens(_first_moments(monkeypatch, lambda: relight(Objective(problem), truth)))


def test_stage_1_and_relit_starts_are_measured_about_the_priors_lens_centre(write_fits, monkeypatch):
    """A cutout with the lens 1.3" off its middle, and centre priors N(1.0, 0.1), N(-0.8, 0.1)
    that say so: stage 1 and :func:`relight` measured the light within a third of the image of
    (0, 0), which held half the galaxy and the arc, and started the lens light at (0.61", -0.61"),
    four prior sigmas off. Both are measured about the priors' lens centre."""
    from tinylens.cli.demo import _free, table1_model_components
    from tinylens.pipeline.mass_source import relight
    from tinylens.pipeline.params import prior_middle
    from tinylens.simulate import gaussian_psf, simulate_image

    lens = (1.0, -0.8)
    centre = {"center_x": lens[0], "center_y": lens[1]}
    truth = {"lens_mass": [{"theta_E": 1.25, "e1": 0.1, "e2": -0.06, **centre}, {"gamma1": 0.0, "gamma2": 0.0}],
             "lens_light": [{"R_sersic": 0.9, "n_sersic": 4.0, "e1": 0.08, "e2": -0.05, "Ie": 0.8, **centre}],
             "source_light": [{"R_sersic": 0.15, "n_sersic": 1.2, "e1": 0.0, "e2": 0.0, "center_x": lens[0] + 0.1,
                               "center_y": lens[1] + 0.1, "Ie": 2.0}]}
    psf = gaussian_psf(0.15, 0.08, 11)
    image = simulate_image({"lens_mass_list": ["SIE", "SHEAR"], "lens_light_list": ["Sersic"],
                            "source_light_list": ["Sersic"]}, truth, (60, 60), 0.08, psf, nsub=2)
    components = table1_model_components()
    for name, value in centre.items():
        components["lens_mass_list"][0]["params"][name] = _free("gaussian", value, 0.1)
    problem = tinylens.load({
        "dataset": {"data_path": write_fits("image.fits", image + np.random.default_rng(2).normal(0, 0.02, image.shape)),
                    "noise_path": write_fits("noise.fits", np.full(image.shape, 0.02)), "pixel_scale": 0.08,
                    "psf_path": write_fits("psf.fits", psf), "supersampling": {"mode": "uniform", "nsub": 1}},
        "model_components": components})

    def near(moments):
        return np.hypot(moments.center[0] - lens[0], moments.center[1] - lens[1]) < 0.1

    assert near(_first_moments(monkeypatch, lambda: fit_lens_light(problem))), "stage 1"
    assert near(_first_moments(monkeypatch, lambda: relight(Objective(problem), prior_middle(problem)))), "relight"


def _lens_light_alone(folder, n_sersic: dict):
    """The lens in ``folder`` (a tiny lens's files) modelled by one centred Sersic lens light alone,
    its R_sersic U(0.05, 2) and its n_sersic of prior ``n_sersic``."""
    from tiny_lens import tiny_config

    config = tiny_config()
    config["model_components"] = {"lens_mass_list": [], "source_light_list": [], "lens_light_list": [{
        "type": "Sersic", "params": {
            "R_sersic": {"prior_type": "uniform", "prior_settings": [0.05, 2.0]}, "n_sersic": n_sersic,
            "center_x": {"fixed": True, "fixed_value": 0.0}, "center_y": {"fixed": True, "fixed_value": 0.0},
            "Ie": {"use_linear": True}}}]}
    return tinylens.load(config, base_dir=folder)


@pytest.mark.parametrize("arc", [True, False])
def test_a_model_without_a_lens_mass_records_no_theta_E_start(tmp_path, arc):
    """result.json's stages.arc.theta_E_start of a model of the lens light alone was 1.0 (with
    pipeline.arc: false, or no arc found) or the arc's radius, a start for an Einstein radius the
    model does not have; it is null (None), and the state stays JSON as the checkpoint writes it."""
    from tiny_lens import write_tiny_lens

    write_tiny_lens(tmp_path)
    problem = _lens_light_alone(tmp_path, {"prior_type": "uniform", "prior_settings": [0.5, 6.0]})
    state = optimise(Objective(problem), Pipeline(arc=arc))
    assert state["stages"]["arc"]["found"]  # the tiny lens's arc: theta_E_start was its radius, or 1.0 without pipeline.arc
    assert state["stages"]["arc"]["theta_E_start"] is None
    assert json.loads(json.dumps(state))["stages"]["arc"]["theta_E_start"] is None


def test_a_model_without_a_lens_mass_has_no_theta_E_floor(tmp_path):
    """Stage 2 of a model of the lens light alone set a theta_E floor from the arc's peaks (0.350"
    on the tiny lens), recorded as stages.arc.theta_E_floor, and with pipeline.bounded: false
    stage 4's line read 'theta_E above stage 3's floor of 0.350"' for a model with no theta_E;
    the floor is 0 (none) there."""
    from tiny_lens import write_tiny_lens
    from tinylens.pipeline.run import sampling_where

    write_tiny_lens(tmp_path)
    problem = _lens_light_alone(tmp_path, {"prior_type": "uniform", "prior_settings": [0.5, 6.0]})
    arc = optimise(Objective(problem), Pipeline(bounded=False))["stages"]["arc"]
    assert arc["found"] and arc["theta_E_floor"] == 0.0 and arc["theta_E_others"] == []
    assert sampling_where(False, arc["theta_E_floor"]) == "the full priors (pipeline.bounded: false)"


def test_stage_1_records_the_log_likelihood_whether_or_not_it_found_an_arc(tmp_path):
    """result.json's stages.lens_light.log_likelihood was the log-likelihood where stage 1 found an
    arc and fitted again without it, but log L + log prior (here about 2 lower: n = 2 under a
    N(4, 1) prior) where it found none, a galaxy with no visible arc. It is the log-likelihood of
    the best stage-1 fit either way."""
    from tiny_lens import PIXEL_SCALE, SHAPE, write_tiny_lens
    from tinylens.simulate import gaussian_psf, simulate_image

    truth = {"lens_light": [{"R_sersic": 0.5, "n_sersic": 2.0, "e1": 0.0, "e2": 0.0, "center_x": 0.0,
                             "center_y": 0.0, "Ie": 1.0}]}
    psf = gaussian_psf(0.15, PIXEL_SCALE, 9)
    galaxy = simulate_image({"lens_light_list": ["Sersic"]}, truth, SHAPE, PIXEL_SCALE, psf, nsub=2)
    noisy = galaxy + np.random.default_rng(3).normal(0, 0.05, SHAPE)
    write_tiny_lens(tmp_path, data={"image": noisy, "noise": np.full(SHAPE, 0.05), "psf": psf})
    problem = _lens_light_alone(tmp_path, {"prior_type": "gaussian", "prior_settings": [4.0, 1.0], "limits": [0.5, 6.0]})
    res = fit_lens_light(problem)
    assert not res.arc.found
    assert res.fit.log_post == pytest.approx(float(problem.log_likelihood(res.fit.theta)), rel=1e-5)
    state = optimise(Objective(problem), Pipeline())
    assert not state["stages"]["arc"]["found"]
    stage1 = state["stages"]["lens_light"]["log_likelihood"]
    assert stage1 == pytest.approx(res.fit.log_post, rel=1e-5)


def test_without_an_arc_stage_3s_sources_start_behind_the_lens(tmp_path):
    """Where stage 2 finds no arc (a faint one, under the threshold), every stage-3 start put the
    source at the image's middle, (0, 0), whatever the lens's centre: for a lens at (0.8", -0.6")
    that is a source 1" from it on the source plane, imaged once, beside the lens. It starts
    behind the lens, at the mass centre."""
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens.pipeline.arc import Arc
    from tinylens.pipeline.mass_source import starts
    from tinylens.pipeline.params import get_param, prior_middle

    write_tiny_lens(tmp_path)
    config = tiny_config()
    mass = config["model_components"]["lens_mass_list"][0]["params"]
    source = config["model_components"]["source_light_list"][0]["params"]
    for name, value in (("center_x", 0.8), ("center_y", -0.6)):
        mass[name] = {"fixed": True, "fixed_value": value}
        source[name] = {"prior_type": "uniform", "prior_settings": [-1.5, 1.5]}
    problem = tinylens.load(config, base_dir=tmp_path)
    shape = problem.dataset.data.shape
    no_arc = Arc(np.zeros(shape, bool), np.zeros(shape), float("nan"))
    comp = problem.spec.source_light[0]
    got = {(round(get_param(t, comp, "center_x"), 6), round(get_param(t, comp, "center_y"), 6))
           for t in starts(problem, prior_middle(problem), no_arc, 1.0)}
    assert got == {(0.8, -0.6)}


def test_the_stages_gradient_calls_add_up_to_the_pipelines(tmp_path):
    """result.json's stages.mass_source.n_evals left out the tries of relight (the lens light fitted
    again with the source held) and of revive that were not kept, so the stages' calls fell short
    of stage_gradient_evals (here 379 + 125 of 650). Stage 3 counts every call it made."""
    from tiny_lens import write_tiny_lens

    write_tiny_lens(tmp_path)
    problem = _lens_light_alone(tmp_path, {"prior_type": "uniform", "prior_settings": [0.5, 6.0]})
    calls = []
    objective = Objective(problem)
    real = objective.value_and_grad
    objective.value_and_grad = lambda *a, **k: (calls.append(1), real(*a, **k))[1]
    state = optimise(objective, Pipeline())
    stages = state["stages"]
    assert stages["lens_light"]["n_evals"] + stages["mass_source"]["n_evals"] == state["n_evals"]
    assert stages["mass_source"]["n_evals"] == len(calls)  # stage 1 fits with an objective of its own


class _SamplingReached(Exception):
    """Raised by :func:`_no_sampling` where the pipeline's stage 4 would start sampling."""


def _no_sampling(problem, settings, progress=False, checkpoint_dir=None):
    raise _SamplingReached


def _stages_of_a_run(problem, out, capsys=None):
    """The stages' state that :func:`run_pipeline` leaves in ``out`` when stopped at its sampling
    (its box saved), and, with ``capsys``, what it said."""
    from tinylens import filenames
    from tinylens.pipeline.run import run_pipeline

    out.mkdir(exist_ok=True)
    with pytest.raises(_SamplingReached):
        run_pipeline(problem, _no_sampling, Pipeline(), progress=capsys is not None, checkpoint_dir=out)
    said = " ".join(capsys.readouterr().err.split()) if capsys is not None else ""
    return json.loads((out / filenames.PIPELINE_STATE).read_text()), said


def _timeless(stages: dict) -> dict:
    """``stages`` without their times (which a resumed fit adds up, not repeats)."""
    return {name: {key: value for key, value in record.items() if key != "time_s"} for name, record in stages.items()}


def _stop(*args, **kwargs):
    raise KeyboardInterrupt


def _stopped_run(problem, out, monkeypatch, owner, name, stop=_stop, pipeline=None) -> dict:
    """The partial stages' state that :func:`run_pipeline` leaves in the new folder ``out`` when
    stopped (a KeyboardInterrupt) by ``stop`` standing in for ``owner.name``."""
    from tinylens import filenames
    from tinylens.pipeline.run import run_pipeline

    out.mkdir()
    with monkeypatch.context() as patched:
        patched.setattr(owner, name, stop)
        with pytest.raises(KeyboardInterrupt):
            run_pipeline(problem, _no_sampling, pipeline or Pipeline(), progress=False, checkpoint_dir=out)
    return json.loads((out / filenames.PIPELINE_STATE).read_text())["partial"]


def _stopped_at_the_fourth_start(problem, out, monkeypatch, pipeline=None) -> dict:
    """:func:`_stopped_run` stopped as stage 3's fourth start begins (its first three ended)."""
    real = Objective.minimize
    made = []

    def stopped_at_the_fourth(self, *args, **kwargs):
        if len(made) == 3:
            raise KeyboardInterrupt
        made.append(1)
        return real(self, *args, **kwargs)

    return _stopped_run(problem, out, monkeypatch, Objective, "minimize", stopped_at_the_fourth, pipeline)


def test_a_fit_stopped_in_stage_3_resumes_from_the_starts_that_ended(tmp_path, monkeypatch, capsys):
    """checkpoint.pipeline.json was written only once stages 1-3 had all ended: a fit stopped by
    Ctrl-C or a SLURM wall time in stage 3 (minutes of multi-start L-BFGS per SLACS lens on a
    laptop) kept nothing and did stages 1-3 again. The state is now saved after stage 2 and after
    each start of stage 3, and a fit started again makes only the starts that had not ended, to the
    same result, to the last digit, as a fit never stopped."""
    from tiny_lens import tiny_config, write_tiny_lens

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)
    real = Objective.minimize
    every = []
    with monkeypatch.context() as counted:
        counted.setattr(Objective, "minimize", lambda self, *a, **k: every.append(1) or real(self, *a, **k))
        whole, _ = _stages_of_a_run(problem, tmp_path / "whole")

    out = tmp_path / "stopped"
    partial = _stopped_at_the_fourth_start(problem, out, monkeypatch)
    assert partial["done"] == 2 and [f["i"] for f in partial["fits"]] == [0, 1, 2], partial["fits"]

    again = []
    monkeypatch.setattr(Objective, "minimize", lambda self, *a, **k: again.append(1) or real(self, *a, **k))
    resumed, said = _stages_of_a_run(problem, out, capsys)
    assert "stages 1-2 and 3 starts of stage 3 reused from checkpoint.pipeline.json" in said, said
    assert "2/4" not in said and "3/4 mass and source fitted" in said, said
    assert resumed["best"] == whole["best"] and resumed["box"] == whole["box"]
    assert resumed["n_evals"] == whole["n_evals"] and resumed["arc_mask"] == whole["arc_mask"]
    assert _timeless(resumed["stages"]) == _timeless(whole["stages"])
    assert len(every) > 3 and len(again) == len(every) - 3, (len(again), len(every))  # the 3 that ended: not again


def test_a_fit_stopped_after_stage_2_does_not_search_the_arc_again(tmp_path, monkeypatch, capsys):
    """Stopped as stage 3 began (nothing of it ended), a fit started again took up stages 1-2 from
    checkpoint.pipeline.json (the arc not searched again) and ends as a fit never stopped."""
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens.pipeline import run

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)
    whole, _ = _stages_of_a_run(problem, tmp_path / "whole")
    out = tmp_path / "stopped"
    partial = _stopped_run(problem, out, monkeypatch, run, "fit_mass_source")
    assert partial["done"] == 2 and partial["fits"] == [] and partial["arc"]["n_pixels"] > 0
    monkeypatch.setattr(run, "find_arc", _stop)  # stage 2's search, not made again
    resumed, said = _stages_of_a_run(problem, out, capsys)
    assert "stages 1-2 reused from checkpoint.pipeline.json" in said and "2/4" not in said, said
    assert resumed["best"] == whole["best"] and resumed["n_evals"] == whole["n_evals"]
    assert _timeless(resumed["stages"]) == _timeless(whole["stages"])


def test_a_fit_stopped_after_stage_1_does_not_fit_the_lens_light_again(tmp_path, monkeypatch, capsys):
    """Stopped after stage 1 (the lens light fitted), a fit started again took stage 1 up from
    checkpoint.pipeline.json, not fitting the lens light again, and ends as a fit never stopped."""
    from tinylens.pipeline import run

    problem = _tiny_lens_with_a_gaussian_light(tmp_path)
    whole, _ = _stages_of_a_run(problem, tmp_path / "whole")
    out = tmp_path / "stopped"
    partial = _stopped_run(problem, out, monkeypatch, run, "stage2_done")  # its line, as stage 2 ends
    assert partial["done"] == 1 and "lens_light" in partial["stages"]
    monkeypatch.setattr(run, "fit_lens_light", _stop)
    resumed, said = _stages_of_a_run(problem, out, capsys)
    assert "stage 1 reused from checkpoint.pipeline.json" in said and "1/4" not in said and "2/4" in said, said
    assert resumed["best"] == whole["best"] and resumed["n_evals"] == whole["n_evals"]
    assert _timeless(resumed["stages"]) == _timeless(whole["stages"])


def test_a_damaged_partial_state_is_said_and_deleted_a_sound_one_is_read(tmp_path):
    """A partial stages' state of this fit (stages 1-3 not all done) is read back as it was
    written; one edited or damaged (a start's fit with a value too few, an arc pixel outside the
    image) is deleted with a CheckpointWarning naming what is wrong, as a whole state is."""
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens.pipeline.run import _stage_fingerprint

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)
    stamp = _stage_fingerprint(problem, Pipeline())
    pixels = problem.dataset.data.size
    fit = {"i": 0, "key": "ab", "theta": [0.5] * problem.ndim, "log_post": -3.5, "n_evals": 40, "message": "ok"}
    partial = {"done": 2, "theta": [0.1] * problem.ndim, "stages": {"arc": {}}, "n_evals": 12, "time_s": 1.5,
               "stage3_s": 0.5, "arc": {"mask": [3, 4], "theta_E": None, "peaks": [[0.1, 0.2]], "n_pixels": 2},
               "fits": [fit]}
    path = tmp_path / "checkpoint.pipeline.json"
    path.write_text(json.dumps({"fingerprint": stamp, "partial": partial}))
    assert _load_state(path, stamp, problem.ndim, pixels=pixels)["partial"] == partial
    for damaged, said in (({"fits": [{**fit, "theta": [0.5]}]}, "'partial.fits[0].theta' holds 1 values"),
                          ({"arc": {**partial["arc"], "mask": [pixels]}}, f"'partial.arc.mask' holds {pixels}"),
                          ({"done": 3}, "'partial.done' is 3")):
        path.write_text(json.dumps({"fingerprint": stamp, "partial": {**partial, **damaged}}))
        with pytest.warns(CheckpointWarning, match="is this fit's but cannot be used") as caught:
            assert _load_state(path, stamp, problem.ndim, pixels=pixels) is None
        assert said in str(caught[0].message) and not path.exists(), str(caught[0].message)


def test_a_partial_state_made_with_other_threads_is_not_taken_up(tmp_path, monkeypatch, capsys):
    """A fit stopped in stage 3 with pipeline.threads 2 (starts run in step, other digits and calls
    than one at a time) and started again with 1 (a speed-only setting, outside the fingerprint; the
    default differs between a GPU and a CPU) took up its 3 ended starts and made the others one at a
    time: a best fit and gradient-call count (169) of neither setting's fit (200 with 1, 173 with 2),
    and result.json said threads 1. Such a state is now not taken up: stages 1-3 are done again, as a
    fit never stopped with these threads does, and the progress line says why."""
    from tiny_lens import tiny_config, write_tiny_lens

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)
    whole, _ = _stages_of_a_run(problem, tmp_path / "whole")  # threads 1 on a CPU
    out = tmp_path / "stopped"
    partial = _stopped_at_the_fourth_start(problem, out, monkeypatch, Pipeline(threads=2))
    assert len(partial["fits"]) == 3, partial["fits"]
    resumed, said = _stages_of_a_run(problem, out, capsys)
    assert resumed["best"] == whole["best"] and resumed["n_evals"] == whole["n_evals"], resumed["n_evals"]
    assert resumed["threads"] == 1 and _timeless(resumed["stages"]) == _timeless(whole["stages"])
    assert "pipeline.threads 2" in said and "reused from" not in said, said


def test_a_stages_state_of_another_tinylens_version_is_not_taken_up(tmp_path, monkeypatch, capsys):
    """checkpoint.pipeline.json held no tinylens version, so a state written by an older tinylens,
    whose stages may find another fit, was taken up by a newer one, whole or partly (stages of two
    versions, of neither), and result.json gave the newer version as the one that made them. A
    state now records its version and one of another is not taken up: stages 1-3 are done again, a
    progress line and the fit's CheckpointWarning say why. Two runs of the same code (a dev
    install's version from git, the same string each time) take their state up as before."""
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens.fitting.resume import _warn_unresumed

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)
    monkeypatch.setattr(tinylens, "__version__", "0.2.0.dev5+g1a2b3c4")  # as setuptools-scm gives it
    whole, _ = _stages_of_a_run(problem, tmp_path / "whole")
    assert whole.get("version") == "0.2.0.dev5+g1a2b3c4", whole.get("version")
    again, said = _stages_of_a_run(problem, tmp_path / "whole", capsys)  # the same code: taken up
    assert "stages 1-3 reused from checkpoint.pipeline.json" in said and again["best"] == whole["best"], said
    out = tmp_path / "stopped"
    assert _stopped_at_the_fourth_start(problem, out, monkeypatch)["fits"]

    monkeypatch.setattr(tinylens, "__version__", "0.2.0.dev6+g9f8e7d6")  # a commit later
    with pytest.warns(CheckpointWarning, match="checkpoint.pipeline.json in ") as caught:
        _warn_unresumed(problem, out)
    warned = " ".join(str(caught[0].message).split())
    assert "written by tinylens 0.2.0.dev5+g1a2b3c4, and this is tinylens 0.2.0.dev6+g9f8e7d6" in warned, warned
    assert "other data" not in warned, warned
    for folder in (out, tmp_path / "whole"):  # the partial state, and the whole one with its box
        redone, said = _stages_of_a_run(problem, folder, capsys)
        assert "reused from" not in said and "2/4" in said and "3/4" in said, said
        assert "stages 1-3 done again: checkpoint.pipeline.json was written by tinylens 0.2.0.dev5" in said, said
        assert redone["version"] == "0.2.0.dev6+g9f8e7d6" and redone["best"] == whole["best"]
        assert redone["n_evals"] == whole["n_evals"] and _timeless(redone["stages"]) == _timeless(whole["stages"])


class _SearchReached(Exception):
    pass


def _sampler_reached(*args, **kwargs):
    raise _SearchReached


@pytest.mark.parametrize("case", ["resumed", "other priors"])
def test_a_fit_reads_the_stages_state_once_and_computes_their_fingerprint_once(tmp_path, monkeypatch, case):
    """A fit started beside a stages' state read the file three times (its look at the checkpoints,
    then run_pipeline's version check and its own read) and hashed the data for the stages'
    fingerprint twice where it resumed the state; six reads and five hashes where the state was
    another fit's (each of the checkpoint looks, and the warning's, read it again). It is now
    read once and the fingerprint computed once (fit.py's looked_at_once), what the fit does the
    same: the state resumed, or the stages done again and written."""
    from pathlib import Path

    from tiny_lens import write_tiny_lens
    from tinylens import filenames, jsonfile
    from tinylens.inference import nautilus_runner
    from tinylens.pipeline import run as pipeline_run

    config = write_tiny_lens(tmp_path)
    state = tmp_path / "output" / filenames.PIPELINE_STATE
    monkeypatch.setattr(nautilus_runner, "run", _sampler_reached)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(_SearchReached):
            tinylens.fit(config, progress=False)  # stages 1-3 done, their state and box saved
    before = json.loads(state.read_text())
    if case == "other priors":
        import yaml

        cfg = yaml.safe_load(config.read_text())
        cfg["model_components"]["lens_mass_list"][0]["params"]["theta_E"]["prior_settings"] = [0.4, 1.5]
        config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    reads, hashes, within = [], [], []
    real_read, real_fingerprint = Path.read_text, pipeline_run.fingerprint
    real_json_read = jsonfile.read_json_text

    def json_read(path):  # tinylens.jsonfile's reader, which reads the file by its own open
        if Path(path).name == filenames.PIPELINE_STATE:
            reads.append(path)
        within.append(1)
        try:
            return real_json_read(path)
        finally:
            within.pop()

    def read_text(self, *args, **kwargs):  # any other reader of the file
        if self.name == filenames.PIPELINE_STATE and not within:
            reads.append(self)
        return real_read(self, *args, **kwargs)

    def fingerprint(*args, **kwargs):
        hashes.append(1)
        return real_fingerprint(*args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    monkeypatch.setattr(pipeline_run, "fingerprint", fingerprint)
    monkeypatch.setattr(jsonfile, "read_json_text", json_read)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(_SearchReached):
            tinylens.fit(config, progress=False)
    monkeypatch.undo()
    assert (len(reads), len(hashes)) == (1, 1), (reads, hashes)
    after = json.loads(state.read_text())
    if case == "resumed":
        assert after == before
    else:  # another fit's: said, its stages done again for this prior
        said = " ".join(str(w.message) for w in caught)
        assert "of another fit (other priors than this config's)" in said, said
        assert after["fingerprint"] != before["fingerprint"]


@pytest.mark.parametrize("case", ["priors", "version"])
def test_a_switched_pipelines_warning_says_plainly_why_an_older_stages_state_is_not_taken_up(tmp_path, monkeypatch,
                                                                                            case):
    """Where the pipeline was turned back on (--no-pipeline dropped) and the stages' state, older
    than the fit without them, is not taken up either, the CheckpointWarning read 'checkpoint.pipeline.json,
    of a fit before it, of other priors than this config's' and, for a state of another tinylens,
    'of a fit before it, of one of another version: ...'. It now says that the state is older still,
    left by a fit before that one, and what it was made with, or what it is, in a plain clause."""
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens import filenames
    from tinylens.fitting.resume import _warn_unresumed
    from tinylens.inference import search_of
    from tinylens.pipeline.run import _stage_fingerprint, _stage_parts

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)
    pipeline = search_of(problem)[3]
    out = tmp_path / "output"
    out.mkdir()
    if case == "priors":  # another fit's, its recorded priors not this config's
        state = {"fingerprint": "another fit's", "parts": {**_stage_parts(problem, pipeline), "priors": "0" * 16}}
    else:  # this fit's, written by another tinylens
        state = {"fingerprint": _stage_fingerprint(problem, pipeline), "version": "0.0.1", "best": [0.0]}
    (out / filenames.PIPELINE_STATE).write_text(json.dumps(state))
    switched = "the earlier fit here ran without the pipeline's stages (--no-pipeline), this one with them"
    with pytest.warns(CheckpointWarning, match="checkpoint.pipeline.json in ") as caught:
        _warn_unresumed(problem, out, ([filenames.PIPELINE_STATE], False), switched)
    said = " ".join(str(caught[0].message).split())
    assert f"({switched}; checkpoint.pipeline.json is older still, left by a fit before that one, and " in said, said
    if case == "priors":
        assert "and it was made with other priors than this config's)" in said, said
    else:
        assert "and it is one of another version: checkpoint.pipeline.json was written by tinylens 0.0.1" in said, said
    assert "of a fit before it" not in said and "of one of" not in said, said


def test_a_switched_pipelines_warning_of_two_files_gives_each_its_reason_in_a_sentence(tmp_path):
    """Where the pipeline was turned back on and neither the sampler's checkpoint nor the older
    stages' state is taken up, the CheckpointWarning kept 0cad75e's one parenthesis holding both
    causes ('checkpoint.hdf5, checkpoint.pipeline.json in <out>: of another fit (the earlier fit here
    ran without ... (--no-pipeline or ...), this one with them; checkpoint.pipeline.json is older still,
    ...)'), parentheses nested, where 2c30c0b's warning of files not resumed for different reasons
    says what the fit does and then each file's reason as a sentence; it now reads the same way."""
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens import filenames
    from tinylens.fitting.resume import _warn_unresumed
    from tinylens.inference import search_of
    from tinylens.pipeline.run import _stage_parts

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)
    pipeline = search_of(problem)[3]
    out = tmp_path / "output"
    out.mkdir()
    state = {"fingerprint": "another fit's", "parts": {**_stage_parts(problem, pipeline), "priors": "0" * 16}}
    (out / filenames.PIPELINE_STATE).write_text(json.dumps(state))
    switched = ("the earlier fit here ran without the pipeline's stages (--no-pipeline or pipeline.enabled: false), "
                "this one with them")
    names = [filenames.CHECKPOINTS["nautilus"], filenames.PIPELINE_STATE]
    with pytest.warns(CheckpointWarning) as caught:
        _warn_unresumed(problem, out, (names, False), switched)
    said = " ".join(str(caught[0].message).split())
    assert said == (f"checkpoint.hdf5, checkpoint.pipeline.json in {out}: this fit does not resume them: it starts "
                    f"from the beginning, and replaces them. checkpoint.hdf5 is of another fit: {switched}. "
                    "checkpoint.pipeline.json is older still, left by a fit before that one, and it was made with "
                    "other priors than this config's."), said


def test_a_stages_state_of_another_version_is_said_as_what_it_is_not_as_another_fits(tmp_path):
    """The stages' state of this very fit written by another tinylens was said by the fit's
    CheckpointWarning to be 'of another fit (one of another version: ...)': another fit's it is not
    (its fingerprint is this fit's), and the clause read awkwardly. It now says 'it is one of another
    version: ...', as the switched pipeline's warning does; another fit's state is said as before."""
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens import filenames
    from tinylens.fitting.resume import _warn_unresumed
    from tinylens.inference import search_of
    from tinylens.pipeline.run import _stage_fingerprint, _stage_parts

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)
    pipeline = search_of(problem)[3]
    out = tmp_path / "output"
    out.mkdir()

    def said(state) -> str:
        (out / filenames.PIPELINE_STATE).write_text(json.dumps(state))
        with pytest.warns(CheckpointWarning, match="checkpoint.pipeline.json in ") as caught:
            _warn_unresumed(problem, out, ([filenames.PIPELINE_STATE], False))
        return " ".join(str(caught[0].message).split())

    text = said({"fingerprint": _stage_fingerprint(problem, pipeline), "version": "0.0.1", "best": [0.0]})
    assert (f"checkpoint.pipeline.json in {out}: it is one of another version: checkpoint.pipeline.json was "
            "written by tinylens 0.0.1") in text, text
    assert "another fit" not in text and "(one of" not in text, text
    assert "so this fit does not resume it: it starts from the beginning, and replaces it." in text, text
    text = said({"fingerprint": "another fit's", "parts": {**_stage_parts(problem, pipeline), "priors": "0" * 16}})
    assert f"checkpoint.pipeline.json in {out}: of another fit (other priors than this config's)" in text, text


def test_checkpoints_not_resumed_for_different_reasons_are_each_said_plainly(tmp_path):
    """Where a sampler's checkpoint and the stages' state were not resumed for different reasons,
    the CheckpointWarning read 'checkpoint.hdf5, checkpoint.pipeline.json in <out>: of another fit
    (checkpoint.hdf5: other data, ...; checkpoint.pipeline.json: one of another version: ...)',
    a list of 'name: reason' inside one parenthesis, which called the state of this very fit
    another fit's. It now says what the fit does with them, then each one's reason in a sentence of
    its own, as the one-file texts do ('it is one of another version'); the same reason for both
    is said once, as before."""
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens import filenames
    from tinylens.fitting.resume import _warn_unresumed
    from tinylens.inference import search_of
    from tinylens.pipeline.run import _stage_fingerprint, _stage_parts

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)
    pipeline = search_of(problem)[3]
    out = tmp_path / "output"
    out.mkdir()
    sampler = filenames.CHECKPOINTS["nautilus"]
    (out / sampler).write_bytes(b"no parts recorded")  # an older tinylens's: what differs cannot be told
    both = [sampler, filenames.PIPELINE_STATE]
    changed = "other data, model, priors, precision or sampler settings than this config's"

    def said(state, names=both) -> str:
        (out / filenames.PIPELINE_STATE).write_text(json.dumps(state))
        with pytest.warns(CheckpointWarning) as caught:
            _warn_unresumed(problem, out, (names, False))
        return " ".join(str(caught[0].message).split())

    done = "this fit does not resume them: it starts from the beginning, and replaces them."
    text = said({"fingerprint": _stage_fingerprint(problem, pipeline), "version": "0.0.1", "best": [0.0]})
    assert text.startswith(f"{sampler}, {filenames.PIPELINE_STATE} in {out}: {done} "), text
    assert f"{sampler} is of another fit, made with {changed}." in text, text
    assert (f"{filenames.PIPELINE_STATE} is one of another version: {filenames.PIPELINE_STATE} was written by "
            "tinylens 0.0.1") in text, text
    assert text.endswith("(run the fit with the version that wrote it to take it up)."), text
    assert "of another fit (" not in text and ": one of" not in text and f"{sampler}:" not in text, text

    text = said({"fingerprint": "another fit's", "parts": {**_stage_parts(problem, pipeline), "priors": "0" * 16}})
    assert text == (f"{sampler}, {filenames.PIPELINE_STATE} in {out}: {done} {sampler} is of another fit, made "
                    f"with {changed}. {filenames.PIPELINE_STATE} is of another fit, made with other priors than "
                    "this config's."), text

    text = said({"fingerprint": "another fit's"})  # no parts: the same reason as the sampler's, said once
    assert text == (f"{sampler}, {filenames.PIPELINE_STATE} in {out}: of another fit ({changed}), so {done}"), text


def test_the_checkpoint_warning_names_what_keeps_a_stages_state_from_being_taken_up(tmp_path, monkeypatch):
    """A partial state dropped because it was made with pipeline.threads 2 (the fit now has 1) was
    said by the fit's CheckpointWarning to be of 'other data, model, priors, precision or sampler
    settings than this config's', none of which differed; only a progress line, which --quiet
    hides, named pipeline.threads. The warning now names it, and how to take the state up; and a
    state of a fit with another prior says it is the priors that differ, not a list of guesses."""
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens.fitting.resume import _warn_unresumed

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)
    out = tmp_path / "stopped"
    _stopped_at_the_fourth_start(problem, out, monkeypatch, Pipeline(threads=2))
    with pytest.warns(CheckpointWarning, match="checkpoint.pipeline.json in ") as caught:
        _warn_unresumed(problem, out)  # threads 1 on a CPU
    said = " ".join(str(caught[0].message).split())
    assert "pipeline.threads 2" in said and "set pipeline.threads: 2 to take it up" in said, said
    assert "other data" not in said, said

    cfg = tiny_config()
    cfg["model_components"]["lens_mass_list"][0]["params"]["theta_E"]["prior_settings"] = [0.4, 1.5]
    with pytest.warns(CheckpointWarning, match="checkpoint.pipeline.json in ") as caught:
        _warn_unresumed(tinylens.load(cfg, base_dir=tmp_path), out)
    said = " ".join(str(caught[0].message).split())
    assert "of another fit (other priors than this config's)" in said and "threads" not in said, said


def test_a_stages_state_of_another_version_does_not_have_the_sampler_checkpoint_said_to_be_replaced(tmp_path,
                                                                                                     monkeypatch):
    """A fit stopped in its sampling (a whole state, with its box, and the sampler's checkpoint of
    that box) and started again by another tinylens version: its CheckpointWarning said
    checkpoint.hdf5 was 'of another fit (other data, model, priors, precision or sampler settings
    than this config's)' and would be replaced, none of which differed, and the fit then resumed
    it (its redone stages found the same box: measured, info.resumed true). Whether the box is the
    same is known only once the stages are done again, so the warning now names the stages' state
    alone; the checkpoint is resumed where the box is the same, as the fit does."""
    from tiny_lens import tiny_config, write_tiny_lens
    from tinylens import filenames
    from tinylens.fitting.resume import _warn_unresumed
    from tinylens.inference import resumed_checkpoints, search_of
    from tinylens.pipeline.run import resumed_sampling

    write_tiny_lens(tmp_path)
    problem = tinylens.load(tiny_config(), base_dir=tmp_path)
    module, runner, settings, pipeline = search_of(problem)
    checkpoint = filenames.CHECKPOINTS["nautilus"]
    out = tmp_path / "stopped"
    monkeypatch.setattr(tinylens, "__version__", "0.2.0.dev5+g1a2b3c4")
    _stages_of_a_run(problem, out)
    boxed, run_settings = resumed_sampling(problem, runner, pipeline, out, settings,
                                           getattr(module, "settings_for_run", None), look_only=True)
    (out / checkpoint).write_bytes(b"stands in for the sampler's checkpoint of the box")
    (out / filenames.fingerprint_name(checkpoint)).write_text(module.checkpoint_stamp(boxed, run_settings))
    assert resumed_checkpoints(problem, out, look_only=True) == [filenames.PIPELINE_STATE, checkpoint]

    monkeypatch.setattr(tinylens, "__version__", "0.2.0.dev6+g9f8e7d6")
    with pytest.warns(CheckpointWarning, match="checkpoint.pipeline.json in ") as caught:
        _warn_unresumed(problem, out)
    said = " ".join(" ".join(str(w.message).split()) for w in caught)
    assert "written by tinylens 0.2.0.dev5+g1a2b3c4, and this is tinylens 0.2.0.dev6+g9f8e7d6" in said, said
    assert checkpoint not in said and "other data" not in said, said
    _stages_of_a_run(problem, out)  # the stages done again by this version: the same box
    assert checkpoint in resumed_checkpoints(problem, out, look_only=True)  # the checkpoint is resumed after all


def test_a_stages_state_written_again_is_read_again_where_the_file_systems_times_are_coarse(tmp_path, monkeypatch):
    """While looked_at_once is open the stages' state is read once per file, told by its device,
    inode, size and times: rewritten in place with its mtime put back (os.utime), its ctime tells
    it; but on a file system whose times are whole seconds and which reuses the inode, a state the
    fit wrote again within the same second, of the same size, was taken for the one read, and its
    old content returned. The fit's own writes of the state now forget what was kept of it."""
    import os
    import pathlib

    from tinylens import filenames
    from tinylens.pipeline import run as pipeline_run

    path = tmp_path / filenames.PIPELINE_STATE
    first = {"fingerprint": "f", "box": [[0.1], [0.9]]}
    path.write_text(json.dumps(first))
    with pipeline_run.looked_at_once():
        assert pipeline_run._read_state(path) == first
        mtime = path.stat().st_mtime_ns
        path.write_text(json.dumps({"fingerprint": "f", "box": [[0.2], [0.9]]}))  # in place, same size
        os.utime(path, ns=(mtime, mtime))
        assert path.stat().st_mtime_ns == mtime
        assert pipeline_run._read_state(path)["box"] == [[0.2], [0.9]]  # its ctime tells it

        real_stat, inode, then = pathlib.Path.stat, path.stat().st_ino, 1_000_000_000

        def coarse(self, *args, **kwargs):  # whole seconds, all within one, the inode reused
            info = real_stat(self, *args, **kwargs)
            if self.name != filenames.PIPELINE_STATE:
                return info
            fields = list(info)[:10]
            fields[1], fields[7:10] = inode, [then] * 3
            return os.stat_result(fields + [float(then)] * 3 + [then * 10**9] * 3)

        monkeypatch.setattr(pathlib.Path, "stat", coarse)
        state = {"fingerprint": "f"}
        pipeline_run._save_box(state, path, np.array([0.3]), np.array([0.9]))  # the fit's own writes
        assert pipeline_run._read_state(path)["box"] == [[0.3], [0.9]]
        size = path.stat().st_size
        pipeline_run._save_box(state, path, np.array([0.4]), np.array([0.9]))  # again, within the same second
        assert path.stat().st_size == size and path.stat().st_mtime_ns == then * 10**9  # looks the same
        assert pipeline_run._read_state(path)["box"] == [[0.4], [0.9]]
