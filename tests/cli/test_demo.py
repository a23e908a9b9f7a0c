"""``tinylens demo DIR --no-fit`` writes a valid, realistic lens that ``tinylens validate`` accepts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from astropy.io import fits
from typer.testing import CliRunner

import tinylens
from tinylens.cli.main import app
from tinylens.config.model_spec import free_parameter_names


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo") / "tinylens_demo"
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    # the command it suggests fits with the truth, as the demo's own fit does (without --truth
    # the fit neither printed nor plotted the true values)
    command = f"tinylens fit {folder / 'model_config.yaml'} --truth {folder / 'truth.json'}"
    assert f"Fit it with: {command}" in " ".join(result.output.split())
    assert f"#   {command}\n" in (folder / "model_config.yaml").read_text()
    return folder


def test_demo_writes_data_config_and_truth(demo_dir):
    for name in ("image.fits", "noise.fits", "psf.fits", "truth.json", "model_config.yaml"):
        assert (demo_dir / name).is_file(), name
    image = fits.getdata(demo_dir / "image.fits")
    noise = fits.getdata(demo_dir / "noise.fits")
    psf = fits.getdata(demo_dir / "psf.fits")
    assert image.shape == noise.shape == (100, 100)
    assert psf.shape == (21, 21) and psf.sum() == pytest.approx(1.0)
    assert np.all(noise > 0) and np.all(np.isfinite(image))
    truth = json.loads((demo_dir / "truth.json").read_text())
    assert truth["params"]["lens_mass.0.theta_E"] > 0
    assert truth["observation"]["pixel_scale"] == 0.074
    cfg = yaml.safe_load((demo_dir / "model_config.yaml").read_text())
    assert cfg["inference"]["method"] == "nautilus"
    params = cfg["model_components"]["lens_mass_list"][0]["params"]
    assert params["theta_E"]["prior_settings"] == [0.0, 3.5]
    link = cfg["model_components"]["lens_light_list"][0]["params"]["center_x"]["fixed_value"]
    assert link == {"component_type": "lens_mass_list", "component_idx": 0, "parameter": "center_x"}


def test_the_demo_config_sets_no_supersampling_factor_that_its_fit_does_not_read(demo_dir):
    """The demo's model_config.yaml set dataset.nsub: 4, which the adaptive supersampling it is
    fitted with (the default, which picks each pixel's factor from its levels) does not read, so a
    user who raised it for a finer model changed nothing; it sets none, and its supersampling is
    adaptive."""
    from tinylens.config.loader import load_config

    path = demo_dir / "model_config.yaml"
    assert "nsub" not in yaml.safe_load(path.read_text())["dataset"]
    assert load_config(path)[0].dataset.supersampling.mode == "adaptive"


def test_demo_validates(demo_dir):
    result = CliRunner().invoke(app, ["validate", str(demo_dir / "model_config.yaml")])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "17 free parameters" in out and "100 x 100 pixels" in out and "linear amplitudes 2" in out
    assert "U(0, 3.5)" in out and "N(4, 1)" in out


def test_demo_truth_fits_the_data(demo_dir):
    """At the true parameters the model (amplitudes solved) leaves chi^2 per pixel ~ 1, the lensed
    arc is well detected, and the solved amplitudes are the true ones."""
    truth = json.loads((demo_dir / "truth.json").read_text())["params"]
    problem = tinylens.load(demo_dir / "model_config.yaml")
    theta = np.array([truth[name] for name in problem.param_names])
    assert free_parameter_names(problem.config.model_components) == problem.param_names  # a sampler's first count
    n = problem.dataset.n_used
    chi2 = -2 * (problem.log_likelihood(theta) + problem.imaging.log_norm)
    assert abs(chi2 / n - 1) < 5 * np.sqrt(2 / n) + 0.01  # + the fit's coarser supersampling
    model = problem.model_image(theta)
    assert np.sum(model["lensed_source"] / problem.dataset.noise > 3) > 300  # an arc, not a dot
    amps = problem.amplitudes(theta)
    assert amps["lens_light.0"][0] == pytest.approx(truth["lens_light.0.Ie"], rel=0.02)
    assert amps["source_light.0"][0] == pytest.approx(truth["source_light.0.Ie"], rel=0.02)


def test_demo_refuses_a_folder_with_files_it_did_not_write(tmp_path):
    (tmp_path / "model_config.yaml").write_text("mine\n")
    result = CliRunner().invoke(app, ["demo", str(tmp_path), "--no-fit"])
    assert result.exit_code == 2, result.output
    assert "model_config.yaml" in result.output and "not written by 'tinylens demo'" in " ".join(result.output.split())
    assert (tmp_path / "model_config.yaml").read_text() == "mine\n"
    assert not (tmp_path / "image.fits").exists()



def test_demo_refuses_a_folder_with_files_it_did_not_write_given_through_a_missing_one(tmp_path):
    """FOLDER typo/../mine, where typo is not there: no file of it could be found before the demo
    made typo, so the user's image.fits in mine was overwritten. It is refused as mine itself is."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "image.fits").write_text("mine\n")
    folder = tmp_path / "typo" / ".." / "mine"
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert f"{folder} already holds image.fits, not written by 'tinylens demo'" in " ".join(result.output.split())
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["image.fits"]
    assert (tmp_path / "mine" / "image.fits").read_text() == "mine\n"
    assert not (tmp_path / "typo").exists()  # refused before any folder is made


def test_demo_refuses_a_population_folder(tmp_path):
    """simulate-population refuses a demo's folder, but the demo wrote its five files among a
    population's lens folders and truth tables."""
    population = tmp_path / "pop"
    made = CliRunner().invoke(app, ["simulate-population", "1", str(population), "--quiet"])
    assert made.exit_code == 0, made.output
    before = sorted(p.name for p in population.iterdir())
    result = CliRunner().invoke(app, ["demo", str(population), "--no-fit"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    text = " ".join(result.output.split())
    assert f"{population} holds a population written by 'tinylens simulate-population'" in text
    assert "Give a new or empty folder: tinylens demo FOLDER." in text
    assert sorted(p.name for p in population.iterdir()) == before


@pytest.mark.parametrize("below", ["", "sub"])
def test_a_file_given_as_the_folder_is_refused_by_name(tmp_path, below):
    (tmp_path / "afile").write_text("mine\n")
    folder = tmp_path / "afile" / below if below else tmp_path / "afile"
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert f"Output folder {folder} cannot be written ({tmp_path / 'afile'} is a file, not a folder)" in result.output
    assert (tmp_path / "afile").read_text() == "mine\n"


def test_the_demos_truth_records_the_precision_its_images_were_simulated_in(demo_dir, tmp_path):
    """truth.json did not say in which precision the demo's images were simulated, though they
    differ in float64 (TINYLENS_PRECISION=float64): it records it, as a fit's result.json does."""
    from oracle import x64

    from tinylens.cli.demo import write_demo

    assert json.loads((demo_dir / "truth.json").read_text())["precision"] == "float32"
    with x64():
        tinylens.set_precision("float64")
        try:
            write_demo(tmp_path / "demo64")
        finally:
            tinylens.set_precision("float32")
    assert json.loads((tmp_path / "demo64" / "truth.json").read_text())["precision"] == "float64"
    assert not np.array_equal(fits.getdata(tmp_path / "demo64" / "image.fits"), fits.getdata(demo_dir / "image.fits"))


def test_demo_runs_again_in_its_own_folder(demo_dir):
    result = CliRunner().invoke(app, ["demo", str(demo_dir), "--no-fit"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("earlier", [False, True])
def test_a_demo_stopped_while_writing_leaves_no_half_written_file(demo_dir, tmp_path, monkeypatch, earlier):
    """Ctrl-C while image.fits was written left half a FITS file under its own name, which a fit
    of the folder (or the demo run again over an earlier demo's files) took for the data: each file
    is now written under a temporary name and renamed, so image.fits is whole or absent."""
    import shutil
    from pathlib import Path

    from tinylens.cli.demo import write_demo

    folder = tmp_path / "demo"
    if earlier:
        shutil.copytree(demo_dir, folder)
    else:
        folder.mkdir()
    before = sorted(p.name for p in folder.iterdir())
    image = (folder / "image.fits").read_bytes() if earlier else None
    write = Path.write_bytes

    def half_then_stop(self, data):  # image.fits's bytes, made in memory, written to its file
        if ".image.unfinished-" not in self.name:
            return write(self, data)
        with open(self, "wb") as f:  # the first half of the file, then Ctrl-C
            f.write(data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", half_then_stop)
    with pytest.raises(KeyboardInterrupt):
        write_demo(folder)
    assert sorted(p.name for p in folder.iterdir()) == before  # no temporary file left either
    if earlier:
        assert (folder / "image.fits").read_bytes() == image


@pytest.mark.parametrize("stop", ["simulating", "writing"])
def test_a_stopped_demo_leaves_no_folder_it_made(tmp_path, monkeypatch, stop):
    """'tinylens demo runs/today/demo' stopped (Ctrl-C) before its files were written left the
    folders it had made, runs/today/demo, behind (empty, or with the files written so far); they
    are removed, and a folder that was there before (runs) is kept."""
    from tinylens.cli import demo
    from tinylens.cli.demo import write_demo

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    if stop == "simulating":
        monkeypatch.setattr(demo, "simulate_demo", stopped)
    else:
        monkeypatch.setattr(fits.HDUList, "writeto", stopped)
    (tmp_path / "runs").mkdir()
    with pytest.raises(KeyboardInterrupt):
        write_demo(tmp_path / "runs" / "today" / "demo")
    assert [p.name for p in tmp_path.iterdir()] == ["runs"] and list((tmp_path / "runs").iterdir()) == []


def test_a_demo_stopped_in_the_users_empty_folder_can_be_run_again_there(tmp_path, monkeypatch):
    """Stopped (Ctrl-C) after image.fits, in a folder the user had made: image.fits was left
    without the demo's model_config.yaml, so the demo run again there refused the folder ('already
    holds image.fits, not written by tinylens demo'); the files the stopped run wrote are removed."""
    from pathlib import Path

    from tinylens.cli.demo import write_demo

    folder = tmp_path / "mine"
    folder.mkdir()
    written, write = [], Path.write_bytes

    def write_or_stop(self, data):  # the images' bytes, made in memory, written to their temporaries
        written.append(self)
        if len(written) == 2:  # noise.fits, after image.fits
            raise KeyboardInterrupt
        return write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_or_stop)
    with pytest.raises(KeyboardInterrupt):
        write_demo(folder)
    assert ".noise.unfinished-" in written[-1].name and list(folder.iterdir()) == []
    monkeypatch.setattr(Path, "write_bytes", write)
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["image.fits", "noise.fits", "psf.fits", "truth.json", "model_config.yaml"])


def test_demo_fits_with_its_truth_and_prints_the_fit_beside_it(tmp_path, monkeypatch):
    """The demo knows its truth: it gives it to the fit (marked on the corner plot, see
    tests/cli/test_fit_cli.py) and prints the compared parameters beside it."""
    from types import SimpleNamespace

    import tinylens.cli.fit as cli_fit
    from tinylens.cli.demo import COMPARED, flat_truth

    calls = []
    truth = flat_truth()
    fitted = {name: truth[name] + 0.01 for name in COMPARED}
    result = SimpleNamespace(median=fitted, interval_68={n: (v - 0.02, v + 0.02) for n, v in fitted.items()},
                             param_names=tuple(fitted), log_evidence=1.0, info={}, total_time_s=1.0, n_likelihood_evals=10,
                             wall_time_s=1.0, output_dir=tmp_path / "output", converged=True, method="nautilus")
    monkeypatch.setattr(cli_fit, "run_fit", lambda *a, **k: calls.append(k) or result)
    out = CliRunner().invoke(app, ["demo", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert calls[0]["truth"] == truth
    text = " ".join(out.output.split())
    table = text[text.index("Fitted vs true"):]
    table = " ".join(table.replace("│", " ").split())
    assert "lens_mass.0.theta_E 1.25 1.260 1.240 to 1.280 +0.5" in table


def test_the_suggested_fit_command_runs_from_a_folder_with_a_space(tmp_path):
    """The command --no-fit suggests (and the config's header) split a folder with a space in it
    into two arguments: 'tinylens fit my demo/model_config.yaml' fits nothing."""
    import shlex

    folder = tmp_path / "my demo"
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("Fit it with: "))
    header = next(line for line in (folder / "model_config.yaml").read_text().splitlines() if "tinylens fit" in line)
    expected = ["tinylens", "fit", str(folder / "model_config.yaml"), "--truth", str(folder / "truth.json")]
    assert shlex.split(line.removeprefix("Fit it with: ")) == expected
    assert shlex.split(header.removeprefix("#")) == expected


def test_the_demo_folder_is_printed_as_given(tmp_path):
    """A '[' in the folder's name was read as rich markup in the 'Wrote ... to FOLDER' line."""
    folder = tmp_path / "my [bold]demo"
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert f"model_config.yaml to {folder}" in " ".join(result.output.split())


def test_a_folder_given_with_a_tilde_is_in_the_home_folder(tmp_path, monkeypatch):
    """'tinylens demo "~/my demo"' (quoted, so the shell leaves '~') made a folder named '~' in the
    current folder, then failed writing image.fits into ~/my demo (astropy expands '~'), or, where
    that folder existed, split the demo's files between the two."""
    import shlex

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    result = CliRunner().invoke(app, ["demo", "~/my demo", "--no-fit"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    folder = home / "my demo"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["image.fits", "noise.fits", "psf.fits", "truth.json", "model_config.yaml"])
    assert list(work.iterdir()) == []
    line = next(line for line in result.output.splitlines() if line.startswith("Fit it with: "))
    assert shlex.split(line.removeprefix("Fit it with: "))[2] == str(folder / "model_config.yaml")


def test_the_wrote_line_keeps_the_folder_on_one_line(tmp_path):
    """At 80 columns (a pipe, a narrow terminal) rich broke the 'Wrote ... to FOLDER' line at a
    space inside the folder's name, so a copied path was two lines; the line now soft-wraps, as
    the 'Fit it with:' line does."""
    folder = tmp_path / "my demo"
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert f"model_config.yaml to {folder}\n" in result.output


def test_the_seed_draws_the_noise_and_truth_records_it(demo_dir, tmp_path):
    """tinylens demo had no --seed, though simulate_demo and write_demo take one: --seed 7 (or
    7e0, read as N and simulate-population's --seed are) draws another noise realisation of the
    same lens, recorded in truth.json; the demo run again in that folder without --seed rewrites
    it whole as the default demo, the same bytes as a folder it never wrote another seed to."""
    from tinylens.cli.demo import simulate_demo

    folder = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit", "--seed", "7e0"])
    assert result.exit_code == 0, result.output
    truth = json.loads((folder / "truth.json").read_text())
    assert truth["observation"]["seed"] == 7
    assert truth["params"] == json.loads((demo_dir / "truth.json").read_text())["params"]
    image = fits.getdata(folder / "image.fits")
    np.testing.assert_array_equal(image, np.asarray(simulate_demo(7)["image"], dtype=np.float64))
    assert not np.array_equal(image, fits.getdata(demo_dir / "image.fits"))
    again = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"])
    assert again.exit_code == 0, again.output
    for name in ("image.fits", "noise.fits", "psf.fits", "truth.json"):
        assert (folder / name).read_bytes() == (demo_dir / name).read_bytes(), name


def test_new_data_beside_an_earlier_fits_outputs_are_warned_of_by_folder(tmp_path):
    """'tinylens demo DIR' (which fits) then 'tinylens demo DIR --seed 7 --no-fit' left the first
    fit's output folder (result.json, tables, figures) beside data it was not fitted to, unsaid;
    a warning now names the folder and what to do. None where the data are the same (the demo
    run again with its seed) or where no fit left anything."""
    folder = tmp_path / "demo"
    first = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"], env={"COLUMNS": "400"})
    assert first.exit_code == 0 and "Warning" not in first.output, first.output
    (folder / "output").mkdir()  # what the demo's own fit of the default seed leaves
    for name in ("result.json", "result_summary.csv", "model_results.png"):
        (folder / "output" / name).write_text("{}")
    same = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"], env={"COLUMNS": "400"})
    assert same.exit_code == 0 and "Warning" not in same.output, same.output
    other = CliRunner().invoke(app, ["demo", str(folder), "--seed", "7", "--no-fit"], env={"COLUMNS": "400"})
    assert other.exit_code == 0, other.output
    text = " ".join(other.output.split())
    assert (f"Warning: {folder / 'output'} holds the outputs of an earlier fit (model_results.png, result.json, "
            "result_summary.csv) of data this demo has replaced (another seed or precision): they are not of the data "
            f"just written. Fit it again to replace them (tinylens fit {folder / 'model_config.yaml'} --truth "
            f"{folder / 'truth.json'}), or delete {folder / 'output'}.") in text
    assert sorted(p.name for p in (folder / "output").iterdir()) == ["model_results.png", "result.json",
                                                                    "result_summary.csv"]  # warned of, not deleted


def test_a_first_demo_beside_an_output_folder_says_no_data_were_replaced(tmp_path):
    """The first demo in a folder that already holds an output folder (the user's own fits, their
    default output.path) was warned of as if it had replaced an earlier demo's data ('holds the
    outputs of an earlier fit ... of data this demo has replaced (another seed or precision)'):
    with no earlier truth.json nothing was replaced, and nothing is said."""
    folder = tmp_path / "project"
    (folder / "output").mkdir(parents=True)
    (folder / "output" / "result.json").write_text("{}")
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output and "replaced" not in result.output, result.output
    assert [p.name for p in (folder / "output").iterdir()] == ["result.json"]


def test_a_ctrl_c_that_leaves_a_demo_file_not_put_back_is_said_as_a_plain_warning(demo_dir, tmp_path, monkeypatch):
    """The demo stopped by Ctrl-C while its files were renamed into place, where image.fits, replaced
    already, could not be put back, printed where its earlier version is kept in Python's warning
    format ('<file>:<line>: UserWarning: ...' and a line of source); it is now said as the command
    line's other warnings are ('Warning: ...'), before 'Interrupted.' and exit 130."""
    import os
    import shutil

    folder = tmp_path / "demo"
    shutil.copytree(demo_dir, folder)
    earlier = (folder / "image.fits").read_bytes()
    replace, stopped = os.replace, []

    def stopped_then_not_put_back(src, dst, *rest, **kwargs):  # Ctrl-C at truth.json's rename; image.fits not put back
        if os.path.basename(dst) == "truth.json" and not stopped:
            stopped.append(dst)
            raise KeyboardInterrupt
        if os.path.basename(dst) == "image.fits" and stopped:
            raise PermissionError(13, "Permission denied", src, None, dst)
        return replace(src, dst, *rest, **kwargs)

    monkeypatch.setattr(os, "replace", stopped_then_not_put_back)
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit", "--seed", "7"])
    monkeypatch.setattr(os, "replace", replace)
    (kept,) = folder.glob(".image.kept-*")
    assert stopped and result.exit_code == 130 and kept.read_bytes() == earlier, result.output
    said = " ".join(result.output.split())
    assert "Warning: Replacing files that belong together was stopped (KeyboardInterrupt)" in said, result.output
    assert kept.name in said and "UserWarning" not in said and "Interrupted." in said, result.output


@pytest.mark.parametrize(("seed", "shown"), [("-1", "-1"), ("2.5", "2.5"), ("abc", "'abc'")])
def test_a_seed_that_is_no_non_negative_integer_is_refused_by_name(tmp_path, seed, shown):
    """--seed -1 reached numpy's default_rng, whose ValueError was a traceback; each value that is
    no seed is refused as simulate-population refuses it, before any folder is made."""
    result = CliRunner().invoke(app, ["demo", str(tmp_path / "demo"), "--no-fit", "--seed", seed])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    text = " ".join(result.output.split())
    assert f"Error: the random seed (--seed) must be a non-negative integer, got {shown}" in text, text
    assert "Traceback" not in result.output and list(tmp_path.iterdir()) == []


def test_a_reseeded_demo_stopped_while_writing_leaves_the_earlier_demo_whole(demo_dir, tmp_path, monkeypatch):
    """The demo run again in its folder with another --seed, stopped part-way (a full disk, Ctrl-C)
    after image.fits, left the new seed's image beside the earlier truth.json, which records the
    earlier seed: the folder read as a whole demo whose truth names a seed its image was not drawn
    with. The five files are replaced only once all are written, so the earlier demo stays whole."""
    import shutil

    import errno
    import os
    from pathlib import Path

    folder = tmp_path / "demo"
    shutil.copytree(demo_dir, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    written, write = [], Path.write_bytes

    def full_disk_at_the_psf(self, data):  # the images' bytes, made in memory, written to their temporaries
        written.append(self)
        if len(written) == 3:  # psf.fits, after image.fits and noise.fits
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk_at_the_psf)
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit", "--seed", "7"])
    assert result.exit_code != 0 and "No space left on device" in result.output, result.output
    assert ".psf.unfinished-" in written[-1].name and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no temporary file left either
    monkeypatch.setattr(Path, "write_bytes", write)
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert json.loads((folder / "truth.json").read_text())["observation"]["seed"] == 7
    assert (folder / "image.fits").read_bytes() != before["image.fits"]


def _fitted_stamp(folder) -> dict:
    """The stamp of the demo's files in ``folder`` as a fit of them records it in result.json's
    info.inputs: size, modification time and SHA-256 by dataset key."""
    import hashlib

    stamp = {}
    for key, name in (("data_path", "image.fits"), ("noise_path", "noise.fits"), ("psf_path", "psf.fits")):
        stat = (folder / name).stat()
        stamp[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                      "sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest()}
    return stamp


def test_the_stale_outputs_warning_compares_the_files_written_with_those_the_fit_recorded(tmp_path):
    """'tinylens demo DIR' (fit), then 'demo DIR --seed 7 --no-fit' (warned of), then 'demo DIR
    --no-fit' (back to the fitted data) was warned of again, and 'demo DIR --seed 7 --no-fit' run
    twice only once: the warning compared truth.json with the one just replaced, not with the data
    the fit was of. It now compares the files just written with the stamp of those the fit records
    (info.inputs): the same contents (rewritten, so with other modification times) are silent."""
    folder = tmp_path / "demo"
    env = {"COLUMNS": "400"}
    first = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"], env=env)
    assert first.exit_code == 0, first.output
    (folder / "output").mkdir()  # what the demo's fit of these files leaves
    (folder / "output" / "result.json").write_text(json.dumps({"info": {"inputs": _fitted_stamp(folder)}}))
    (folder / "output" / "model_results.png").write_text("")
    warning = f"Warning: {folder / 'output'} holds the outputs of an earlier fit (model_results.png, result.json)"
    for args, warned in ((["--seed", "7"], True), (["--seed", "7"], True), ([], False), ([], False),
                         (["--seed", "20250"], False), (["--seed", "8"], True)):
        result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit", *args], env=env)
        assert result.exit_code == 0, result.output
        assert (warning in " ".join(result.output.split())) is warned, (args, result.output)
    assert sorted(p.name for p in (folder / "output").iterdir()) == ["model_results.png", "result.json"]


def test_the_stale_outputs_warning_does_not_take_a_killed_fits_folder_test_for_an_output(tmp_path):
    """A fit killed (SIGKILL) while ensure_writable tested its output folder leaves the empty
    .write-test-XXXXXXXX it writes there; the demo's warning of an earlier fit's outputs listed it
    as one, or warned of a folder that holds no output at all. It now leaves such names out."""
    import os
    import tempfile

    from tinylens.cli.demo import stale_outputs_warning, write_demo

    folder = tmp_path / "demo"
    write_demo(folder, 7)
    (folder / "output").mkdir()
    _, probe = tempfile.mkstemp(dir=folder / "output", prefix=".write-test-")  # as ensure_writable names it
    earlier = {"seed": 8}  # another demo's truth.json: the outputs, if any, are not of these data
    assert stale_outputs_warning(folder, earlier) == ""
    (folder / "output" / "model_results.png").write_text("")
    warning = stale_outputs_warning(folder, earlier)
    assert "(model_results.png)" in warning and os.path.basename(probe) not in warning, warning


def test_the_stale_outputs_warning_does_not_take_a_killed_writes_temporaries_for_outputs(tmp_path):
    """A fit killed (SIGKILL) while it wrote its result.json or a figure leaves the hidden
    .<stem>.unfinished-XXXXXXXX<suffix> temporary it wrote first; the demo's warning of an earlier
    fit's outputs listed such temporaries as outputs, or warned of a folder that holds no output
    at all. It now leaves them out, as it does a killed fit's folder test."""
    from tinylens.atomic import hidden_name
    from tinylens.cli.demo import stale_outputs_warning, write_demo

    folder = tmp_path / "demo"
    write_demo(folder, 7)
    out = folder / "output"
    out.mkdir()
    temporaries = [hidden_name(out / "result.json"), hidden_name(out / "model_results.png")]
    for temporary in temporaries:  # as atomic_path names them
        temporary.write_text("")
    earlier = {"seed": 8}  # another demo's truth.json: the outputs, if any, are not of these data
    assert stale_outputs_warning(folder, earlier) == ""
    (out / "model_results.png").write_text("")
    warning = stale_outputs_warning(folder, earlier)
    assert "(model_results.png)" in warning and ".unfinished-" not in warning, warning


def test_a_full_disk_while_the_demo_is_written_names_the_file(tmp_path, full_disk):
    """A write that found the disk full (an OSError naming no file) while the demo wrote its
    truth.json said 'A file cannot be written'; it now names that file, and the folder is left
    as it was (nothing half-written, no earlier file replaced)."""
    full_disk("write_text", ".truth.unfinished-")
    folder = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, repr(result.exception)
    assert f"Error: {folder / 'truth.json'} cannot be written (No space left on device" in said, said
    assert not folder.exists()


def test_each_demo_file_is_written_once_to_its_temporary_and_renamed_once(tmp_path, monkeypatch):
    """The demo wrote each of its files to a temporary of its temporary (write_atomic inside
    written_together), renamed onto the temporary and then onto the file, only so that a full
    disk's error, which names no file, named the demo's file; write_together names it itself, so
    each file is written once, to one temporary, and renamed once, in the order of DEMO_FILES."""
    import errno
    import os
    import re

    from tinylens.cli.demo import DEMO_FILES

    renamed, replace = [], os.replace

    def recorded(src, dst, *args, **kwargs):
        renamed.append((os.path.basename(src), os.path.basename(dst)))
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", recorded)
    result = CliRunner().invoke(app, ["demo", str(tmp_path / "demo"), "--no-fit"])
    assert result.exit_code == 0, result.output
    assert [dst for _, dst in renamed] == list(DEMO_FILES), renamed
    for src, dst in renamed:
        stem, suffix = os.path.splitext(dst)
        assert re.fullmatch(rf"\.{re.escape(stem)}\.unfinished-[a-z0-9_]{{8}}{re.escape(suffix)}", src), (src, dst)

    from tinylens.results.tables import write_together

    def unnamed_full_disk(tmp):  # a write that found the disk full names no file
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def full_disk_of_the_temporary(tmp):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

    for writer in (unnamed_full_disk, full_disk_of_the_temporary):
        files = {tmp_path / "w" / "a.txt": lambda tmp: tmp.write_text("a"), tmp_path / "w" / "b.txt": writer}
        (tmp_path / "w").mkdir(exist_ok=True)
        with pytest.raises(OSError) as raised:
            write_together(files)
        assert raised.value.filename == str(tmp_path / "w" / "b.txt") and raised.value.errno == errno.ENOSPC
        assert list((tmp_path / "w").iterdir()) == []


def test_a_full_disk_while_the_demo_writes_an_image_names_it_and_says_why(tmp_path, monkeypatch):
    """A full disk while the demo wrote image.fits was said as astropy's writer says it, with no
    error number: 'Cannot write the FITS file .../.image.unfinished-XXXX.fits: Not enough space on
    disk: ...', naming a hidden temporary file and not what to do; it is now the message of any
    full disk, naming image.fits, and the folder is left as it was."""
    import errno
    import os
    from pathlib import Path

    from astropy.io import fits

    def on_the_full_disk(target) -> bool:
        return isinstance(target, (str, os.PathLike)) and ".image.unfinished-" in Path(target).name

    real_writeto, real_write_bytes = fits.PrimaryHDU.writeto, Path.write_bytes

    def writeto(self, target, *args, **kwargs):  # astropy's error for a full disk: no errno, no file
        if on_the_full_disk(target):
            raise OSError("Not enough space on disk: requested 80000, available 0. 10000 requested and 7832 written")
        return real_writeto(self, target, *args, **kwargs)

    def write_bytes(self, data):  # the system's: ENOSPC, naming no file
        if on_the_full_disk(self):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_bytes(self, data)

    monkeypatch.setattr(fits.PrimaryHDU, "writeto", writeto)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    folder = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, repr(result.exception)
    assert f"Error: {folder / 'image.fits'} cannot be written (No space left on device: the disk, or your quota on it, " \
           "is full)" in said, said
    assert "unfinished" not in said and "free some space and run the command again" in said, said
    assert not folder.exists()


def test_the_demo_run_again_keeps_the_users_edits_of_its_config(demo_dir, tmp_path):
    """'tinylens demo DIR' run again (another --seed) over an earlier demo whose model_config.yaml
    the user had edited (the sampler's settings) wrote the demo's own config over the edits. The
    edited config is now kept, byte for byte, and said to be; the data are written as before, and
    a config as the demo wrote it (its header naming the folder otherwise) is written again."""
    import shutil

    folder = tmp_path / "demo"
    shutil.copytree(demo_dir, folder)
    config = folder / "model_config.yaml"
    settings = yaml.safe_load(config.read_text())
    settings["inference"]["settings"]["n_like_max"] = 12345
    edited = config.read_text().split("\n", 1)[0] + "\n# my settings\n" + yaml.safe_dump(settings, sort_keys=False)
    config.write_text(edited)
    result = CliRunner().invoke(app, ["demo", str(folder), "--no-fit", "--seed", "7"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert config.read_text() == edited
    assert "kept its model_config.yaml" in " ".join(result.output.split()), result.output
    assert json.loads((folder / "truth.json").read_text())["observation"]["seed"] == 7
    shutil.copy(demo_dir / "model_config.yaml", config)  # the demo's own, written from demo_dir's path
    again = CliRunner().invoke(app, ["demo", str(folder), "--no-fit"], env={"COLUMNS": "400"})
    assert again.exit_code == 0, again.output
    assert "kept its" not in " ".join(again.output.split()) and str(folder / "model_config.yaml") in config.read_text()


def test_the_stale_outputs_warning_looks_in_the_output_folder_of_the_config_it_kept(tmp_path):
    """A demo run again over an earlier one keeps the user's edited model_config.yaml; where the
    edit moved output.path, the warning of an earlier fit's outputs still looked in the demo's
    own output folder: it missed those in the folder the kept config fits into, and said of the
    demo's folder to 'fit it again to replace them', which that fit does not. It now looks in the
    output folder of the config that the printed fit command runs."""
    from tinylens.cli.demo import demo_record, stale_outputs_warning, write_demo

    folder = tmp_path / "demo"
    write_demo(folder, 7)
    config = folder / "model_config.yaml"
    edited = config.read_text().replace("\n  path: output\n", "\n  path: mine\n")
    assert "path: mine" in edited
    config.write_text(edited)
    for name in ("output", "mine"):  # fits of the data seeded 7: before the edit, and after it
        (folder / name).mkdir()
        (folder / name / "model_results.png").write_text("")
    earlier = demo_record(folder)
    write_demo(folder, 8)
    assert config.read_text() == edited
    warning = stale_outputs_warning(folder, earlier)
    assert f"{folder / 'mine'} holds the outputs" in warning and str(folder / "output") not in warning, warning


def test_the_demos_output_folder_is_read_as_the_fit_reads_its_config(tmp_path):
    """A demo config edited to ``output: {path: 1:30}``: the fit (tinylens.load, whose YAML keeps
    digits with colons as text) writes to the folder ``1:30``, while the demo read the file with
    plain yaml.safe_load (base 60: 90, a number) and fell back to its own folder, looking for the
    fit's result where there is none. Both now read the folder ``1:30``."""
    from tinylens.cli.demo import config_output_folder

    result = CliRunner().invoke(app, ["demo", str(tmp_path), "--no-fit"])
    assert result.exit_code == 0, result.output
    config = tmp_path / "model_config.yaml"
    text = config.read_text()
    assert text.count("\noutput:\n  path: output\n") == 1
    config.write_text(text.replace("\noutput:\n  path: output\n", "\noutput:\n  path: 1:30\n"))
    assert tinylens.load(config).config.output.path == "1:30"
    assert config_output_folder(tmp_path) == tmp_path / "1:30"
