"""``tinylens simulate-population``: files, truth catalogue, reproducibility from the seed, and
the simulated physics checked independently (numpy noise model, scipy Sersic fluxes,
lenstronomy's lens-equation solver for the image count)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from scipy.special import gamma, gammaincinv
from scipy.stats import norm
from typer.testing import CliRunner

from tinylens.cli.main import app
from tinylens.survey.population import PopulationOptions

SEED = 11
#: Small images and 2x supersampling keep the test fast; theta_E small enough for the field.
OPTIONS = {"size": 56, "nsub": 2, "theta_E_range": [0.6, 1.2], "snr_range": [8.0, 40.0]}
REQUIRED_TRUTH = ("lens_id", "lens_mass.0.theta_E", "lens_mass.0.q", "lens_mass.0.phi_deg", "source_light.0.R_sersic",
                  "source_light.0.q", "source.mag", "arc_snr_max")


def _cli_args(n: int, outdir: Path, seed: int) -> list[str]:
    sets = [f"--set={k}={json.dumps(v)}" for k, v in OPTIONS.items() if k != "size"]
    return ["simulate-population", str(n), str(outdir), "--seed", str(seed), "--size", str(OPTIONS["size"]), "-q", *sets]


@pytest.fixture(scope="module")
def populations(tmp_path_factory) -> dict[str, Path]:
    """``two``: 2 lenses (CLI, seed 11); ``one``: 1 lens (API, seed 11); ``other``: 1 lens, seed 12."""
    from tinylens.survey.population import simulate_population

    root = tmp_path_factory.mktemp("population")
    result = CliRunner().invoke(app, _cli_args(2, root / "two", SEED))
    assert result.exit_code == 0, result.output
    assert "2 lenses in" in result.output and "tinylens survey" in result.output
    simulate_population(1, root / "one", seed=SEED, **OPTIONS)
    simulate_population(1, root / "other", seed=SEED + 1, **OPTIONS)
    return {"two": root / "two", "one": root / "one", "other": root / "other"}


def _image(folder: Path, name: str) -> np.ndarray:
    return fits.getdata(folder / f"{name}.fits").astype(float)


def test_files_and_truth_catalogue(populations):
    two = populations["two"]
    for name in ("lens_00000", "lens_00001"):
        for f in ("image.fits", "noise.fits", "psf.fits", "truth.json"):
            assert (two / name / f).is_file()
        assert _image(two / name, "image").shape == (OPTIONS["size"], OPTIONS["size"])
    for f in ("truth.csv", "truth.parquet", "population.json", "template.yaml"):
        assert (two / f).is_file()
    truth = pd.read_csv(two / "truth.csv")
    assert list(truth["lens_id"]) == ["lens_00000", "lens_00001"]
    assert set(REQUIRED_TRUTH) <= set(truth.columns)
    pd.testing.assert_frame_equal(truth, pd.read_parquet(two / "truth.parquet"), check_exact=False, check_dtype=False, rtol=1e-7)
    assert truth["lens_mass.0.theta_E"].between(*OPTIONS["theta_E_range"]).all()
    assert truth["lens_mass.0.q"].between(0.5, 1.0).all() and truth["source_light.0.q"].between(0.4, 1.0).all()
    assert json.loads((two / "population.json").read_text())["seed"] == SEED
    psf = _image(two / "lens_00000", "psf")
    assert psf.sum() == pytest.approx(1.0, rel=1e-5)
    # a Gaussian of FWHM 0.15" integrated over 0.074" pixels: neighbour / centre = P(1) / P(0)
    sigma = 0.15 / 0.074 / (2 * np.sqrt(2 * np.log(2)))
    pixel = lambda k: norm.cdf((k + 0.5) / sigma) - norm.cdf((k - 0.5) / sigma)
    c = psf.shape[0] // 2
    assert psf[c, c + 1] / psf[c, c] == pytest.approx(pixel(1) / pixel(0), rel=1e-3)


def test_each_lens_truth_records_the_precision_it_was_simulated_in(populations, tmp_path):
    """A lens's truth.json recorded its seed and options but not the precision its images were
    simulated in (which population.json records, and which changes them): it records it too."""
    import tinylens
    from oracle import x64
    from tinylens.survey.population import simulate_population

    record = json.loads((populations["one"] / "population.json").read_text())
    assert json.loads((populations["one"] / "lens_00000" / "truth.json").read_text())["precision"] == record["precision"] \
        == "float32"
    with x64():
        tinylens.set_precision("float64")
        try:
            simulate_population(1, tmp_path / "pop64", seed=SEED, **OPTIONS)
        finally:
            tinylens.set_precision("float32")
    truth = json.loads((tmp_path / "pop64" / "lens_00000" / "truth.json").read_text())
    assert truth["precision"] == "float64" and truth["seed"] == SEED


def test_reproducible_from_seed_and_independent_of_n(populations):
    two, one, other = populations["two"], populations["one"], populations["other"]
    for f in ("image", "noise", "psf"):
        np.testing.assert_array_equal(_image(two / "lens_00000", f), _image(one / "lens_00000", f))
    pd.testing.assert_frame_equal(pd.read_csv(two / "truth.csv").iloc[:1], pd.read_csv(one / "truth.csv"))
    assert not np.array_equal(_image(one / "lens_00000", "image"), _image(other / "lens_00000", "image"))
    assert not np.array_equal(_image(two / "lens_00000", "image"), _image(two / "lens_00001", "image"))


def _noise_free(truth_components: dict, opts: dict, psf: np.ndarray, components: dict | None = None) -> dict[str, np.ndarray]:
    """Noise-free images of ``truth_components`` (default profiles: the population without a disc)."""
    from tinylens.simulate import simulate_images
    from tinylens.survey.population import COMPONENTS

    shape = (opts["size"], opts["size"])
    with jax.disable_jit():  # op by op, as the population is made: no compilation for one image
        parts = simulate_images(components or COMPONENTS, truth_components, shape, opts["pixel_scale"], psf, nsub=opts["nsub"])
    return {k: np.asarray(v) for k, v in parts.items()}


def _sersic_flux(comp: dict, pixel_scale: float) -> float:
    """Total flux of a Sersic of amplitude ``Ie`` per pixel (scipy; area-preserving ellipse)."""
    n, r = comp["n_sersic"], comp["R_sersic"]
    b = gammaincinv(2 * n, 0.5)
    return comp["Ie"] / pixel_scale**2 * 2 * np.pi * n * r**2 * np.exp(b) * b ** (-2 * n) * gamma(2 * n)


@pytest.mark.parametrize("name", ["lens_00000", "lens_00001"])
def test_noise_snr_and_magnitude_follow_the_stated_model(populations, name):
    folder = populations["two"] / name
    truth = json.loads((folder / "truth.json").read_text())
    opts = truth["observation"]
    image, noise, psf = (_image(folder, f) for f in ("image", "noise", "psf"))
    parts = _noise_free(truth["components"], opts, psf)
    arc = parts["lensed_source"]  # the source's true amplitude is in the components
    model = parts["lens_light"] + arc
    # noise map: sky + Poisson of the noise-free model; residuals are unit normal
    expected = np.sqrt(opts["sky_sigma"] ** 2 + np.clip(model, 0, None) / opts["exposure_time"])
    np.testing.assert_allclose(noise, expected, rtol=1e-4)
    chi = (image - model) / noise
    assert abs(chi.mean()) < 5 / np.sqrt(chi.size) and chi.std() == pytest.approx(1.0, abs=0.08)
    # the maximum per-pixel arc SNR is the one recorded, inside the requested range
    snr = (arc / noise).max()
    assert snr == pytest.approx(truth["derived"]["arc_snr_max"], rel=1e-3)
    assert OPTIONS["snr_range"][0] * 0.999 <= snr <= OPTIONS["snr_range"][1] * 1.001
    # unlensed source magnitude from the analytic Sersic total flux (area-preserving ellipse)
    flux = _sersic_flux(truth["components"]["source_light"][0], opts["pixel_scale"])
    assert truth["derived"]["source.mag"] == pytest.approx(opts["zeropoint"] - 2.5 * np.log10(flux), abs=1e-4)


def _total_snr(arc: np.ndarray, noise: np.ndarray) -> float:
    """Summed arc SNR over the pixels where the arc alone is above the noise (numpy, from the files)."""
    used = arc / noise > 1
    return float(arc[used].sum() / np.sqrt((noise[used] ** 2).sum()))


def test_detection_floor_redraws_lenses_below_it(populations, tmp_path):
    from tinylens.survey.population import simulate_population

    first = json.loads((populations["one"] / "lens_00000" / "truth.json").read_text())
    floor = 1.5 * first["derived"]["arc_snr_total"]  # seed 11's first draw is below it
    simulate_population(1, tmp_path / "floor", seed=SEED, snr_total_min=floor, **OPTIONS)
    folder = tmp_path / "floor" / "lens_00000"
    truth = json.loads((folder / "truth.json").read_text())
    assert truth["params"] != first["params"]  # drawn again
    arc = _noise_free(truth["components"], truth["observation"], _image(folder, "psf"))["lensed_source"]
    total = _total_snr(arc, _image(folder, "noise"))
    assert total == pytest.approx(truth["derived"]["arc_snr_total"], rel=1e-3)
    assert total >= floor


def test_unreachable_detection_floor_is_a_config_error(tmp_path, monkeypatch):
    from tinylens.errors import ConfigError
    from tinylens.survey import population

    monkeypatch.setattr(population, "MAX_DRAWS", 2)
    with pytest.raises(ConfigError, match="lower snr_total_min"):
        population.simulate_population(1, tmp_path / "pop", seed=SEED, snr_total_min=1e9, **OPTIONS)
    assert not (tmp_path / "pop" / "truth.csv").exists()


@pytest.mark.parametrize("name", ["lens_00000", "lens_00001"])
def test_source_is_multiply_imaged_by_lenstronomy(populations, name):
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver

    truth = json.loads((populations["two"] / name / "truth.json").read_text())
    comps = truth["components"]
    kwargs = [comps["lens_mass"][0], {**comps["lens_mass"][1], "ra_0": 0.0, "dec_0": 0.0}]
    src = comps["source_light"][0]
    x, _ = LensEquationSolver(LensModel(["SIE", "SHEAR"])).image_position_from_source(
        src["center_x"], src["center_y"], kwargs, min_distance=0.01, search_window=6.0, precision_limit=1e-8)
    assert len(x) >= 2
    assert truth["derived"]["n_images"] >= 2


def test_template_loads_with_each_lens(populations):
    import tinylens
    from tinylens.survey.runner import find_lenses, lens_config, load_template

    two = populations["two"]
    template = load_template(two / "template.yaml")
    for lens in find_lenses(two):
        problem = tinylens.load(lens_config(template, lens, two / "fits"))
        assert problem.dataset.data.shape == (OPTIONS["size"], OPTIONS["size"])
        assert problem.dataset.pixel_scale == pytest.approx(0.074)
        # the fit names the paper's six quantities as the truth table does, so `tinylens report` joins them
        from tinylens.results.derived import shape_quantities
        from tinylens.results.report import PAPER_QUANTITIES

        shapes = shape_quantities(problem, problem.prior_transform(np.full((1, problem.ndim), 0.5)))
        fitted = {*problem.param_names, *shapes, "source.mag"}  # source.mag: derived when a zeropoint is set
        assert problem.dataset.zeropoint == pytest.approx(25.7)
        truth = pd.read_csv(two / "truth.csv")
        for q in PAPER_QUANTITIES:
            assert q.name in fitted and q.name in truth.columns


def test_shear_free_population_fits_an_sie_alone(tmp_path):
    """``shear_max=0`` (the paper's section 3.1.3 mocks): no shear in the truth, none in the template."""
    import yaml

    import tinylens
    from tinylens.survey.population import simulate_population
    from tinylens.survey.runner import find_lenses, lens_config, load_template

    truth = simulate_population(1, tmp_path / "sie", seed=SEED, shear_max=0, **OPTIONS)
    assert truth["lens_mass.1.gamma1"].abs().max() == 0 and truth["lens_mass.1.gamma2"].abs().max() == 0
    template = yaml.safe_load((tmp_path / "sie" / "template.yaml").read_text())
    assert [m["type"] for m in template["model_components"]["lens_mass_list"]] == ["SIE"]
    problem = tinylens.load(lens_config(load_template(tmp_path / "sie" / "template.yaml"),
                                        find_lenses(tmp_path / "sie")[0], tmp_path / "fits"))
    assert not any(name.startswith("lens_mass.1") for name in problem.param_names)


def test_lens_folders_not_in_the_population_are_named_for_one_and_for_several(populations, tmp_path):
    """A population written again into its folder beside lens folders not its own warned of
    '1 lens folder(s) not in this population (e.g. lens_00007); they are ...'; it now says '1 lens
    folder ... (lens_00007); it is not listed' and, of several, '2 lens folders ... (e.g. ...)'."""
    import shutil

    from tinylens.survey.population import simulate_population, stale_text

    pop = tmp_path / "pop"
    shutil.copytree(populations["one"], pop)
    (pop / "lens_00007").mkdir()
    with pytest.warns(UserWarning) as caught:
        simulate_population(1, pop, seed=SEED, **OPTIONS)
    assert [str(w.message) for w in caught if "not in this population" in str(w.message)] == [
        f"{pop} holds 1 lens folder not in this population (lens_00007); it is not listed in truth.csv"]
    assert stale_text(pop, ["lens_00007", "lens_00008"]) == (
        f"{pop} holds 2 lens folders not in this population (e.g. lens_00007); they are not listed in truth.csv")


def test_bulge_and_disc_lenses(tmp_path):
    """``lens_disc_fraction_range``: a flatter exponential disc holding that share of the lens
    galaxy's flux; everything drawn before it is as in the population without a disc."""
    from tinylens.survey.population import components, simulate_population

    fraction, disc_q = (0.3, 0.6), (0.2, 0.4)
    with_disc = components(PopulationOptions(lens_disc_fraction_range=fraction))
    bright = {**OPTIONS, "lens_mag_range": (18.0, 18.5)}  # a lens galaxy bright enough that its disc shows
    plain = simulate_population(2, tmp_path / "plain", seed=SEED, **bright)
    discs = simulate_population(2, tmp_path / "disc", seed=SEED, lens_disc_fraction_range=fraction,
                                lens_disc_q_range=disc_q, **bright)
    assert "lens_light.1.R_sersic" not in plain.columns
    drawn_first = ["lens_mass.0.theta_E", "lens_mass.0.e1", "lens_mass.0.e2", "lens_mass.1.gamma1", "lens_light.0.e1",
                   "lens_light.0.R_sersic", "source_light.0.R_sersic", "source_light.0.n_sersic", "source_light.0.e1"]
    pd.testing.assert_frame_equal(plain[drawn_first], discs[drawn_first])
    # the total magnitude is the one drawn; the disc takes its share of it
    np.testing.assert_allclose(discs["lens_light.mag"], plain["lens_light.mag"], atol=1e-6)
    for name in ("lens_00000", "lens_00001"):
        folder = tmp_path / "disc" / name
        truth = json.loads((folder / "truth.json").read_text())
        opts = truth["observation"]
        bulge, disc = truth["components"]["lens_light"]
        assert (bulge["n_sersic"], disc["n_sersic"]) == (4.0, 1.0)
        assert (disc["center_x"], disc["center_y"]) == (bulge["center_x"], bulge["center_y"])
        f_bulge, f_disc = (_sersic_flux(c, opts["pixel_scale"]) for c in (bulge, disc))
        assert fraction[0] <= f_disc / (f_bulge + f_disc) <= fraction[1]
        assert truth["derived"]["lens_light.1.flux"] == pytest.approx(f_disc, rel=1e-4)
        assert truth["derived"]["lens_light.mag"] == pytest.approx(opts["zeropoint"] - 2.5 * np.log10(f_bulge + f_disc), abs=1e-4)
        assert disc_q[0] <= truth["derived"]["lens_light.1.q"] <= disc_q[1]
        assert 1.0 <= disc["R_sersic"] / bulge["R_sersic"] <= 2.5  # lens_disc_re_ratio_range's default
        # the image holds the disc: its residuals are noise with the disc, not without it
        image, noise, psf = (_image(folder, f) for f in ("image", "noise", "psf"))
        comps = truth["components"]
        model = _noise_free(comps, opts, psf, with_disc)["total"]
        chi = (image - model) / noise
        assert chi.std() == pytest.approx(1.0, abs=0.08)
        without_disc = _noise_free({**comps, "lens_light": comps["lens_light"][:1]}, opts, psf)["total"]
        assert (((model - without_disc) / noise) ** 2).sum() > 500  # chi^2 a fit without the disc would add


@pytest.mark.parametrize("value", ["[0.5,1.0]", "[-0.1,0.3]", "[0.6,0.2]"])
def test_disc_fraction_out_of_range_is_refused(tmp_path, value):
    result = CliRunner().invoke(app, ["simulate-population", "2", str(tmp_path / "pop"), "--set",
                                      f"lens_disc_fraction_range={value}"])
    assert result.exit_code == 2, result.output
    assert "lens_disc_fraction_range must be (low, high) with 0 <= low <= high < 1" in " ".join(result.output.split())
    assert not (tmp_path / "pop" / "truth.csv").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["0", "{out}"], "number of lenses must be >= 1"),
        (["99999999999999999999", "{out}"], "number of lenses must be <= 1000000 (each takes seconds to simulate"),
        (["2", "{out}", "--set", "snr_range=5"], "snr_range must be a pair"),
        (["2", "{out}", "--set", "size=abc"], "size must be an integer"),
        (["2", "{out}", "--set", "snr_total_min=-1"], "snr_total_min must be >= 0"),
        (["2", "{out}", "--set", "colour=red"], "unknown population option ['colour']; known: "),  # was 'option(s)'
        (["2", "{out}", "--set", "colour=red", "--set", "flavour=sweet"], "unknown population options ['colour', 'flavour']; known: "),
        # the known options were listed, 28 of them, and the one meant left to be found among them
        (["2", "{out}", "--set", "snr_rnge=[5,50]"], "Did you mean 'snr_range' instead of 'snr_rnge'?"),
        (["2", "{out}", "--set", "Theta_E_Range=[0.5,2]"], "Did you mean 'theta_E_range' instead of 'Theta_E_Range'?"),
        (["2", "{out}", "--set", "nokey"], "--set expects KEY=VALUE"),
        (["2", "{out}", "--psf", "airy"], "--psf must be 'gaussian' or 'moffat'"),
        (["2", "{file}/sub"], "is a file, not a folder). Choose another output folder."),
    ],
)
def test_cli_errors(tmp_path, args, expected):
    (tmp_path / "file").write_text("x")
    paths = {"out": tmp_path / "pop", "file": tmp_path / "file"}
    result = CliRunner().invoke(app, ["simulate-population", *[a.format(**paths) for a in args]])
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert not (tmp_path / "pop" / "truth.csv").exists()


@pytest.mark.parametrize("seed, size", [("1.1e1", "5.6e1"), ("11.0", "56.0")])
def test_a_whole_seed_or_size_written_as_a_float_is_that_integer(populations, tmp_path, seed, size):
    """N took 1e3 and 2.0 as the whole numbers they are, but --seed and --size refused 1e3
    (typer's 'Input should be a valid integer'): they take N's forms, so --seed 1.1e1 --size 5.6e1
    makes the lens that --seed 11 --size 56 makes."""
    sets = [f"--set={k}={json.dumps(v)}" for k, v in OPTIONS.items() if k != "size"]
    out = tmp_path / "pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(out), "--seed", seed, "--size", size, "-q", *sets])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "population.json").read_text())
    assert record["seed"] == SEED and record["observation"]["size"] == OPTIONS["size"]
    for f in ("image", "noise"):
        np.testing.assert_array_equal(_image(out / "lens_00000", f), _image(populations["one"] / "lens_00000", f))


@pytest.mark.parametrize(("args", "expected"), [
    (["--seed", "2.5"], "the random seed (--seed) must be a non-negative integer, got 2.5"),
    (["--seed", "1e-3"], "the random seed (--seed) must be a non-negative integer, got 0.001"),
    (["--seed", "nan"], "the random seed (--seed) must be a non-negative integer, got nan"),
    (["--size", "2.5"], "--size must be an integer (like 100), got 2.5"),
    (["--size=abc"], "--size must be an integer (like 100), got 'abc'"),
])
def test_a_seed_or_size_that_is_no_whole_number_gets_its_own_message(tmp_path, args, expected):
    """--seed 2.5 and --size 2.5 were refused in typer's words ('Invalid value for '--seed':
    Input should be a valid integer'); they are refused as N is, by the population's own check."""
    result = CliRunner().invoke(app, ["simulate-population", "1", str(tmp_path / "pop"), *args])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"Error: {expected}" in text and "Invalid value" not in text, text
    assert isinstance(result.exception, SystemExit) and list(tmp_path.iterdir()) == []


def test_the_number_of_lenses_has_an_upper_limit():
    """Too many lenses is said to be too many (it was 'must be >= 1' for 10**20: float() rounded it)."""
    from tinylens.errors import ConfigError
    from tinylens.survey.population import MAX_LENSES, check_count_and_seed

    assert check_count_and_seed(MAX_LENSES, 0) == (MAX_LENSES, 0)
    for n in (MAX_LENSES + 1, 10**20, 1e20):
        with pytest.raises(ConfigError, match=f"number of lenses must be <= {MAX_LENSES} .*, got {re.escape(repr(n))}$"):
            check_count_and_seed(n, 0)


def test_a_population_that_cannot_be_made_leaves_no_folder_behind(tmp_path, monkeypatch):
    """An unreachable detection floor: the folder this call created is removed; one the user made stays."""
    from tinylens.errors import ConfigError
    from tinylens.survey import population
    from tinylens.survey.population import simulate_population

    monkeypatch.setattr(population, "MAX_DRAWS", 3)  # the floor is given up on sooner; 100 draws cost minutes

    with pytest.raises(ConfigError, match="snr_total_min"):
        simulate_population(1, tmp_path / "new", snr_total_min=1e9)
    assert not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()  # empty: a folder holding other files is refused before any lens
    with pytest.raises(ConfigError, match="snr_total_min"):
        simulate_population(1, tmp_path / "mine", snr_total_min=1e9)
    assert (tmp_path / "mine").is_dir()


def test_a_population_that_cannot_be_made_leaves_no_parent_folder_behind(tmp_path, monkeypatch):
    """OUTDIR mocks/run1/pop, refused (or stopped) after it was made: pop was removed, but the
    folders made for it, mocks and mocks/run1, were left behind empty; they are removed too, while
    a parent that was there before stays."""
    from tinylens.errors import ConfigError
    from tinylens.survey import population
    from tinylens.survey.population import simulate_population

    monkeypatch.setattr(population, "MAX_DRAWS", 3)  # the floor is given up on sooner
    (tmp_path / "mine").mkdir()
    with pytest.raises(ConfigError, match="snr_total_min"):
        simulate_population(1, tmp_path / "mine" / "mocks" / "run1" / "pop", **{**OPTIONS, "snr_total_min": 1e9})
    assert [p.name for p in tmp_path.iterdir()] == ["mine"] and list((tmp_path / "mine").iterdir()) == []



def test_a_refused_population_leaves_a_folder_that_was_there_as_it_was(tmp_path):
    """OUTDIR typo/../results, where typo is not there: no file of it could be found, so the folder
    was taken for one the run made, and when the run was refused (results holds the user's files)
    it was removed with those files. results is the folder, and it stays as it was."""
    from tinylens.errors import OutputError
    from tinylens.survey.population import simulate_population

    results = tmp_path / "results"
    results.mkdir()
    (results / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds notes.txt but no population.json"):
        simulate_population(1, tmp_path / "typo" / ".." / "results", **OPTIONS)
    assert (results / "notes.txt").read_text() == "mine"


def test_the_suggested_survey_command_runs_from_a_folder_with_a_space(tmp_path, monkeypatch):
    """The closing 'Fit them with:' line split a folder with a space (or '[' markup) in it."""
    import shlex

    import pandas as pd

    from tinylens.survey import population

    monkeypatch.setattr(population, "simulate_population", lambda n, outdir, **k: pd.DataFrame({"arc_snr_max": [5.0]}))
    folder = tmp_path / "my [bold]pop"
    result = CliRunner().invoke(app, ["simulate-population", "1", str(folder), "-q"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    command = " ".join(result.output.split()).split("Fit them with: ")[1]
    assert shlex.split(command) == ["tinylens", "survey", str(folder), "--config", str(folder / "template.yaml"),
                                    "--out", "RESULTS"]
    assert f"1 lens in {folder} (arc SNR" in result.output


def test_the_template_header_command_runs_from_a_folder_with_a_space(tmp_path):
    """template.yaml's header wrote 'tinylens survey my pop --config my pop/template.yaml', which
    a shell splits into extra arguments; its paths are quoted, as the command line's closing line's are."""
    import shlex

    from tinylens.survey.population import simulate_population

    folder = tmp_path / "my pop"
    simulate_population(1, folder)
    line = next(line for line in (folder / "template.yaml").read_text().splitlines() if "tinylens survey" in line)
    assert shlex.split(line.removeprefix("#")) == ["tinylens", "survey", str(folder), "--config",
                                                   str(folder / "template.yaml"), "--out", "RESULTS"]


def test_the_progress_goes_to_stderr_and_to_a_log_as_lines(tmp_path):
    """Without a terminal the progress bar was drawn once, at the end, on stdout (a batch job's
    log said nothing for the hours of a large population, and '> population.log' caught a bar of
    box characters): it is on stderr, as fit's and survey's are, in plain lines."""
    args = [a for a in _cli_args(2, tmp_path / "pop", SEED) if a != "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Simulating lenses" not in result.stdout and "2 lenses in" in result.stdout
    assert re.search(r"^Simulating lenses: 2/2 done, \d+:\d\d elapsed$", result.stderr, re.M), result.stderr
    assert "\r" not in result.stderr and "━" not in result.stderr and "\x1b" not in result.stderr


def test_the_progress_lines_of_a_log_come_every_30_seconds_and_at_the_end():
    from tinylens.survey.population import _logged

    now = iter([0.0, 10.0, 31.0, 40.0, 50.0, 62.0, 70.0])  # the start, then once each item is done
    lines: list[str] = []
    items = list(range(6))
    done = list(_logged(items, "Simulating lenses", lambda text, **kw: lines.append(text), clock=lambda: next(now)))
    assert done == items
    assert lines == ["Simulating lenses: 2/6 done, 0:31 elapsed", "Simulating lenses: 5/6 done, 1:02 elapsed",
                     "Simulating lenses: 6/6 done, 1:10 elapsed"]


def test_every_truth_column_a_fit_does_not_catalogue_is_explained_in_docs_survey_md(populations):
    """docs/survey.md section 7 listed a few of truth.csv's columns; `*.Ie`, `arc_snr_total`,
    `lens_snr_max` (and the totals lens_light.flux, lens_light.mag, source.flux) were written with
    no word of what they are. Every column of a population's truth.csv that is not a component's
    parameter or shape (`<kind>.<i>.<name>`) is now named in that section, and so is `.Ie`, the one
    component parameter a fit never catalogues."""
    import re

    doc = (Path(__file__).parents[2] / "docs" / "survey.md").read_text()
    section = doc[doc.index("## 7."):doc.index("## 8.")]
    named = set(re.findall(r"`([^`]+)`", section))
    truth = pd.read_csv(populations["two"] / "truth.csv")
    loose = [c for c in truth.columns if not re.match(r"^\w+\.\d+\.", c) and c != "lens_id"]
    assert {"arc_snr_total", "lens_snr_max", "source.magnification"} <= set(loose), loose
    assert [c for c in loose if c not in named] == []
    assert any(c.endswith(".Ie") for c in truth.columns) and "<light>.Ie" in named
    # Ie as stated there, e-/s per pixel at the half-light radius: the Sersic integral of it over
    # pixels of 0.074" (scipy's gamma functions) is the flux column, in e-/s
    assert "e-/s per pixel" in section
    for _, row in truth.iterrows():
        for light in ("lens_light.0", "source_light.0"):
            comp = {k: row[f"{light}.{k}"] for k in ("Ie", "R_sersic", "n_sersic")}
            assert row[f"{light}.flux"] == pytest.approx(_sersic_flux(comp, 0.074), rel=1e-6)
