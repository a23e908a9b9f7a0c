"""``tinylens demo [DIR]``: simulate a CSST-like lens, write it with a config, and fit it.

Nothing is downloaded: the lens is made with :mod:`tinylens.simulate` (SIE + external shear,
a de Vaucouleurs-like Sersic lens galaxy and a Sersic source lensed into an arc), with the
paper's Table 1 priors in the written ``model_config.yaml``.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import typer
import yaml
from rich.markup import escape

from tinylens.cli.common import TinyLensCommand, console, path_value, print_warning, reported_warnings
from tinylens.cli.simulate_population import whole_value
from tinylens.errors import OutputError
from tinylens.jsonfile import read_json_file
from tinylens.results.truth import TRUTH_FILE

#: Observation set-up: CSST-like pixels and PSF, 300 s exposure; image units are e-/s.
OBSERVATION: dict[str, Any] = {
    "shape": [100, 100],
    "pixel_scale": 0.074,
    "psf_fwhm": 0.15,
    "psf_size": 21,
    "sky_sigma": 0.03,
    "exposure_time": 300.0,
    "nsub_simulation": 8,
    "seed": 20250,
}

#: True parameters, tinylens conventions (exact Sersic b_n); amplitudes are Ie in e-/s/pixel.
TRUTH: dict[str, list[dict[str, float]]] = {
    "lens_mass": [
        {"theta_E": 1.25, "e1": 0.10, "e2": -0.06, "center_x": 0.02, "center_y": -0.01},
        {"gamma1": 0.03, "gamma2": -0.02},
    ],
    "lens_light": [
        {"R_sersic": 0.9, "n_sersic": 4.0, "e1": 0.08, "e2": -0.05, "center_x": 0.02, "center_y": -0.01, "Ie": 0.8},
    ],
    "source_light": [
        {"R_sersic": 0.15, "n_sersic": 1.2, "e1": -0.10, "e2": 0.12, "center_x": 0.14, "center_y": 0.09, "Ie": 2.0},
    ],
}

COMPONENTS = {"lens_mass_list": ["SIE", "SHEAR"], "lens_light_list": ["Sersic"], "source_light_list": ["Sersic"]}

#: Sampler settings for a 2-core laptop: 200 live points (the paper used 300) and a posterior of 1000
#: effective samples (plenty for medians and a corner plot; nautilus's default is 10000).
SAMPLER_SETTINGS: dict[str, Any] = {"nlive": 200, "batch_size": 1024, "n_eff": 1000}

#: Parameters compared with the truth after the fit.
COMPARED = (
    "lens_mass.0.theta_E",
    "lens_mass.0.e1",
    "lens_mass.0.e2",
    "lens_mass.1.gamma1",
    "lens_mass.1.gamma2",
    "lens_light.0.R_sersic",
    "lens_light.0.n_sersic",
    "source_light.0.R_sersic",
    "source_light.0.n_sersic",
)


# -- config -----------------------------------------------------------------------------------
def _free(prior_type: str, a: float, b: float, limits: tuple[float, float] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"prior_type": prior_type, "prior_settings": [a, b]}
    if limits is not None:
        spec["limits"] = list(limits)
    spec["fixed"] = False
    return spec


def _link(parameter: str) -> dict[str, Any]:
    return {"fixed": True, "fixed_value": {"component_type": "lens_mass_list", "component_idx": 0, "parameter": parameter}}


def table1_model_components() -> dict[str, Any]:
    """The paper's Table 1 model: SIE + shear; Sersic lens light (centre linked to the mass);
    Sersic source; amplitudes solved linearly."""
    ell = (-1.0, 1.0)
    return {
        "lens_mass_list": [
            {
                "type": "SIE",
                "params": {
                    "theta_E": _free("uniform", 0.0, 3.5),
                    "e1": _free("gaussian", 0.0, 0.3, ell),
                    "e2": _free("gaussian", 0.0, 0.3, ell),
                    "center_x": _free("gaussian", 0.0, 0.1),
                    "center_y": _free("gaussian", 0.0, 0.1),
                },
            },
            {"type": "SHEAR", "params": {"gamma1": _free("uniform", -0.2, 0.2), "gamma2": _free("uniform", -0.2, 0.2)}},
        ],
        "lens_light_list": [
            {
                "type": "Sersic",
                "params": {
                    "R_sersic": _free("uniform", 0.001, 4.0),
                    "n_sersic": _free("gaussian", 4.0, 1.0, (0.3, 8.0)),
                    "e1": _free("gaussian", 0.0, 0.3, ell),
                    "e2": _free("gaussian", 0.0, 0.3, ell),
                    "center_x": _link("center_x"),
                    "center_y": _link("center_y"),
                    "Ie": {"use_linear": True},
                },
            }
        ],
        "source_light_list": [
            {
                "type": "Sersic",
                "params": {
                    "R_sersic": _free("uniform", 0.001, 2.0),
                    "n_sersic": _free("uniform", 0.3, 2.5),
                    "e1": _free("gaussian", 0.0, 0.3, ell),
                    "e2": _free("gaussian", 0.0, 0.3, ell),
                    "center_x": _free("gaussian", 0.0, 1.0),
                    "center_y": _free("gaussian", 0.0, 1.0),
                    "Ie": {"use_linear": True},
                },
            }
        ],
    }


def demo_config() -> dict[str, Any]:
    """The demo's ``model_config.yaml`` (TinyLensGpu schema; paths relative to its folder)."""
    return {
        "dataset": {
            "data_path": "image.fits",
            "noise_path": "noise.fits",
            "psf_path": "psf.fits",
            "pixel_scale": OBSERVATION["pixel_scale"],
        },  # no nsub: it is read in uniform supersampling only, and the demo's is adaptive (the default)
        "model_components": table1_model_components(),
        "inference": {"type": "sampler", "method": "nautilus", "settings": dict(SAMPLER_SETTINGS)},
        "solver_type": "nnls",
        "output": {"path": "output"},
    }


# -- data -------------------------------------------------------------------------------------
def flat_truth(truth: dict[str, list[dict[str, float]]] = TRUTH) -> dict[str, float]:
    """Truth keyed like fitted parameters: ``lens_mass.0.theta_E`` etc."""
    from tinylens.results.truth import flat_params

    return flat_params(truth)


def simulate_demo(seed: int | None = None) -> dict[str, np.ndarray]:
    """The demo lens: ``image`` (noisy), ``noise``, ``psf`` and the noise-free ``model``; ``seed``
    (default ``OBSERVATION["seed"]``) draws the noise, a non-negative integer, else a ConfigError."""
    from tinylens.simulate import add_noise, gaussian_psf, simulate_image
    from tinylens.survey.population import check_seed

    # numpy's ValueError for -1, TypeError for 2.5; called from Python, the argument is named, not --seed
    seed = None if seed is None else check_seed(seed, "simulate_demo's seed (the random seed of the noise)")
    obs = OBSERVATION
    psf = gaussian_psf(obs["psf_fwhm"], obs["pixel_scale"], obs["psf_size"])
    model = simulate_image(COMPONENTS, TRUTH, tuple(obs["shape"]), obs["pixel_scale"], psf, nsub=obs["nsub_simulation"])
    rng = np.random.default_rng(obs["seed"] if seed is None else seed)
    image, noise = add_noise(model, obs["sky_sigma"], exposure_time=obs["exposure_time"], rng=rng)
    return {"image": image, "noise": noise, "psf": psf, "model": model}


DEMO_FILES = ("image.fits", "noise.fits", "psf.fits", TRUTH_FILE, "model_config.yaml")
DEMO_HEADER = "# tinylens demo:"
#: What the suggested fit command's --truth is for (the config's header and --no-fit say it).
TRUTH_NOTE = "--truth: the true values beside the fit and on the corner plot, as the demo's own fit shows them"


def found_folder(directory: Path) -> Path:
    """``directory`` as the system finds it once the folders it names are made
    (:func:`os.path.realpath`): in ``typo/../lens``, where ``typo`` is not there, no file can be
    found until ``typo`` is made, and then the folder is ``lens``, which may hold the user's files."""
    return Path(os.path.realpath(directory))


def check_not_users(directory: Path) -> None:
    """Refuse a folder that holds files of the demo's names that an earlier demo did not write
    (its model_config.yaml does not start with the demo's header): they would be overwritten.
    A population of ``tinylens simulate-population`` (its ``population.json``) is refused too,
    as that command refuses a demo's folder: the two would be mixed in one folder. The files are
    looked for where the system finds the folder once made (:func:`found_folder`)."""
    from tinylens.survey.population import POPULATION_RECORD

    found = found_folder(directory)
    if (found / POPULATION_RECORD).exists():
        raise OutputError(f"{directory} holds a population written by 'tinylens simulate-population' (its "
                          f"{POPULATION_RECORD}); the demo's files would be mixed with the population's. Give a new "
                          "or empty folder: tinylens demo FOLDER.")
    present = [name for name in DEMO_FILES if (found / name).exists()]
    if not present:
        return
    config = found / "model_config.yaml"
    try:
        ours = config.is_file() and config.read_text(errors="replace").startswith(DEMO_HEADER)
    except OSError:
        ours = False
    if not ours:
        raise OutputError(f"{directory} already holds {', '.join(present)}, not written by 'tinylens demo'; the demo "
                          f"would overwrite {'it' if len(present) == 1 else 'them'}. Give another folder: tinylens demo FOLDER.")


def edited_config(directory: Path) -> bool:
    """Whether the folder ``directory`` holds an earlier demo's model_config.yaml (its header)
    whose settings differ from those the demo writes: edited by the user (or written by another
    tinylens version), which the demo keeps. Its header, whose fit command names the folder as it
    was typed, is not compared; an unreadable file is not kept (:func:`check_not_users` refuses it)."""
    try:
        text = (found_folder(directory) / "model_config.yaml").read_text()
    except (OSError, UnicodeDecodeError):
        return False
    if not text.startswith(DEMO_HEADER):
        return False
    body = "".join(itertools.dropwhile(lambda line: line.startswith("#"), text.splitlines(keepends=True)))
    return body != demo_config_body()


def write_demo(directory: Path, seed: int | None = None) -> Path:
    """Write image.fits, noise.fits, psf.fits, truth.json and model_config.yaml; return the config path.
    An earlier demo's model_config.yaml whose settings were edited is kept (:func:`edited_config`).
    A folder that holds such files from anything but an earlier demo is refused (OutputError).
    ``seed`` (a non-negative integer, else a ConfigError; default ``OBSERVATION["seed"]``) draws
    the noise, and truth.json records it; an earlier demo's files are rewritten whatever their
    seed. A leading ``~`` is the home folder. Each file is written under a temporary name, and all
    are renamed once all are written (:func:`~tinylens.atomic.write_together`): a run stopped part-way leaves no
    half-written file that a fit would read as data, no earlier demo's file beside this one's (its
    truth.json recording another seed than its images were drawn with), and no
    folder (``directory``, its parents) or file that it made: the folder is as it was, so the
    demo runs again there."""
    from tinylens.results.tables import ensure_writable, missing_folders, remove_made_folders
    from tinylens.survey.population import check_seed

    # numpy's ValueError for -1 was a traceback; the command checks its --seed itself
    seed = None if seed is None else check_seed(seed, "write_demo's seed (the random seed of the noise)")
    directory = Path(directory).expanduser()
    check_not_users(directory)
    made = missing_folders(directory)
    found = found_folder(directory)
    new = [found / name for name in DEMO_FILES if not (found / name).exists()] if found.is_dir() else []
    try:
        return _write_demo_files(ensure_writable(directory, "another folder for the demo (tinylens demo FOLDER)"), seed)
    except BaseException:
        remove_made_folders(made)
        for path in new:  # without model_config.yaml, they would make the folder the user's to the next demo
            path.unlink(missing_ok=True)
        raise


def _write_demo_files(directory: Path, seed: int | None) -> Path:
    """The demo's five files in the folder ``directory``, replaced together once all are written
    (:func:`~tinylens.atomic.write_together`); the config's path."""
    from tinylens.data.fits_io import fits_image_bytes
    from tinylens.atomic import write_together

    data = simulate_demo(seed)
    # the images made in memory, as astropy's writer says a full disk with no error number
    images = {f"{name}.fits": fits_image_bytes(np.asarray(data[name], dtype=np.float64))
              for name in ("image", "noise", "psf")}
    truth = json.dumps(demo_truth(data, seed), indent=2) + "\n"
    config = demo_config_text(directory)
    writers: dict[Path, Callable[[Path], Any]] = {
        directory / name: (lambda tmp, content=content: tmp.write_bytes(content)) for name, content in images.items()}
    writers[directory / TRUTH_FILE] = lambda tmp: tmp.write_text(truth)
    if not edited_config(directory):  # the user's edits of an earlier demo's config are kept
        writers[directory / "model_config.yaml"] = lambda tmp: tmp.write_text(config)
    write_together(writers)  # in the order of DEMO_FILES
    return directory / "model_config.yaml"


def demo_truth(data: dict[str, np.ndarray], seed: int | None) -> dict[str, Any]:
    """The demo's truth.json of its simulated ``data`` (:func:`simulate_demo`), drawn with ``seed``."""
    from tinylens.precision import get_precision

    return {
        "description": "tinylens demo lens: SIE + shear, Sersic lens light, Sersic source (exact b_n).",
        "params": flat_truth(),
        "components": TRUTH,
        "observation": {**OBSERVATION, "seed": OBSERVATION["seed"] if seed is None else seed},
        "precision": get_precision(),  # the images were simulated in it: they differ in float64
        "max_snr_per_pixel": float(np.max(data["model"] / data["noise"])),
    }


def demo_config_text(directory: Path) -> str:
    """The demo's model_config.yaml in ``directory``: its header (how to fit it), then :func:`demo_config`."""
    header = (
        f"{DEMO_HEADER} a simulated CSST-like lens (0.074\"/pixel) with the priors of Table 1 of\n"
        "# Cao et al. (TinyLensGPU). Paths are relative to this file. Fit with\n"
        f"# ({TRUTH_NOTE}):\n"
        f"#   {demo_fit_command(directory)}\n"
    )
    return header + demo_config_body()


def demo_config_body() -> str:
    """The settings of the demo's model_config.yaml: :func:`demo_config` as YAML, below its header."""
    return yaml.dump(demo_config(), Dumper=_ConfigDumper, sort_keys=False)


def demo_fit_command(directory: Path) -> str:
    """The command that fits the demo written to ``directory`` with its truth, as the demo does
    (without --truth, a fit of it neither prints nor plots the true values)."""
    return shlex.join(["tinylens", "fit", str(directory / "model_config.yaml"), "--truth", str(directory / TRUTH_FILE)])


def demo_record(directory: Path) -> Any:
    """The content of the truth.json in the demo's folder ``directory`` (its seed, precision and
    true values: what its images were drawn from), or None where there is none to read."""
    try:
        return read_json_file(found_folder(directory) / TRUTH_FILE)
    except (OSError, ValueError):
        return None


def stale_outputs_warning(directory: Path, earlier: Any) -> str:
    """What to say of the outputs an earlier fit left in the demo's output folder once the demo
    has written new data to ``directory``: they are of other data than these where the stamp of
    the fitted files its result.json records (``info.inputs``) differs from that of the files
    just written (:func:`fitted_other_files`), in the output folder of the config there
    (:func:`config_output_folder`); for a result.json that records none, where the
    truth.json written is not ``earlier``'s (another seed or precision: :func:`demo_record`
    before the demo wrote). ``""`` where the folder holds nothing (but the folder test or the hidden
    temporaries of a fit killed then, :data:`~tinylens.results.tables.WRITE_TEST_NAME` and
    :data:`~tinylens.atomic.UNFINISHED_NAME`), the data are those fitted, or
    there was no earlier demo's truth.json (``earlier`` None: the first demo in a folder replaced
    no demo's data)."""
    from tinylens.atomic import UNFINISHED_NAME
    from tinylens.errors import listed
    from tinylens.results.tables import WRITE_TEST_NAME

    out = config_output_folder(directory)
    try:  # a folder test or a half-written temporary a killed fit left is no output
        names = sorted(p.name for p in found_folder(out).iterdir()
                       if not (WRITE_TEST_NAME.fullmatch(p.name) or UNFINISHED_NAME.fullmatch(p.name)))
    except OSError:  # none, or not a folder
        return ""
    if not names or earlier is None:
        return ""
    other = fitted_other_files(directory, found_folder(out))
    replaced = demo_record(directory) != earlier if other is None else other
    if not replaced:
        return ""
    return (f"{out} holds the outputs of an earlier fit ({listed(names)}) of data this demo has replaced (another seed "
            f"or precision): they are not of the data just written. Fit it again to replace them "
            f"({demo_fit_command(directory)}), or delete {out}.")


def config_output_folder(directory: Path) -> Path:
    """The output folder of the fit that the demo's fit command runs: the ``output.path`` of the
    model_config.yaml in ``directory`` (the demo's, or the user's edited one it kept,
    :func:`edited_config`), relative to ``directory``; the demo's own where none can be read."""
    from tinylens.config.loader import DecimalNumbersLoader

    try:  # read as the fit reads it (``1:30`` a text, ``010`` ten), so that both name one folder
        text = (found_folder(directory) / "model_config.yaml").read_text()
        path = yaml.load(text, Loader=DecimalNumbersLoader)["output"]["path"]
        return directory / Path(path).expanduser()
    except (OSError, ValueError, yaml.YAMLError, LookupError, TypeError, RuntimeError):  # unreadable, no such key, ~nobody
        return directory / demo_config()["output"]["path"]


def fitted_other_files(directory: Path, out: Path) -> bool | None:
    """Whether the fit whose result.json is in ``out`` was of other files than the demo's in
    ``directory`` as they are now, by the stamp of its input files it records
    (:func:`~tinylens.survey.provenance.changed_inputs`: equal sizes and times, or contents, are
    the same files); ``None`` where it records none (a fit from before it did, no result.json)."""
    from tinylens.filenames import RESULT
    from tinylens.jsonfile import read_result_object
    from tinylens.survey.provenance import INPUT_KEYS, changed_inputs, recorded_fit_inputs

    recorded = recorded_fit_inputs(read_result_object(out / RESULT) or {})
    if recorded is None:
        return None
    folder = found_folder(directory)
    files = {key: str(folder / name) for key, name in demo_config()["dataset"].items() if key in INPUT_KEYS}
    return bool(changed_inputs(recorded, {"dataset": files}))


class _ConfigDumper(yaml.SafeDumper):
    """Block-style YAML with short lists inline (``prior_settings: [0.0, 0.3]``), as TinyLensGpu writes it."""


_ConfigDumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=all(
    isinstance(x, (int, float, str)) for x in v)))


def demo(
    directory: Path = typer.Argument(Path("tinylens_demo"), parser=path_value, metavar="FOLDER", help="Folder for the data, config and results."),
    no_fit: bool = typer.Option(False, "--no-fit", help="Only write the simulated data and the config."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output from the sampler."),
    seed: int = typer.Option(OBSERVATION["seed"], "--seed", "-s", parser=whole_value, metavar="N",
                             help="Random seed (>= 0) of the noise: another seed gives another noisy image of the same lens."),
) -> None:
    """Simulate a realistic lens (no downloads), write it with a config, and fit it."""
    from tinylens.survey.population import check_seed

    directory = directory.expanduser()  # a quoted "~/demo": the suggested command quotes it, and a shell would not expand it
    seed = check_seed(seed)  # refused as --seed, before write_demo, which names its Python argument
    earlier = demo_record(directory)
    kept = edited_config(directory)
    with reported_warnings():  # said readably: a file a Ctrl-C left not put back (tinylens.atomic)
        config_path = write_demo(directory, seed)
    if kept:
        console.print(f"Wrote image.fits, noise.fits, psf.fits and truth.json to [bold]{escape(str(directory))}[/] and "
                      "kept its model_config.yaml, whose settings differ from the demo's (edited, or written by another "
                      "tinylens version); delete it to have the demo's written again.", soft_wrap=True)
    else:
        console.print(f"Wrote image.fits, noise.fits, psf.fits, truth.json and model_config.yaml to "
                      f"[bold]{escape(str(directory))}[/]", soft_wrap=True)
    if no_fit:
        stale = stale_outputs_warning(directory, earlier)  # a fit replaces them; without one they would stay
        if stale:
            print_warning(stale)
        console.print(f"Fit it with: {escape(demo_fit_command(directory))}\n({TRUTH_NOTE})", soft_wrap=True)
        return
    from tinylens.cli.fit import print_result, run_fit

    start = time.perf_counter()
    result = run_fit(config_path, quiet=quiet, truth=flat_truth())
    print_result(result, flat_truth(), COMPARED)
    console.print(f"Demo finished in {time.perf_counter() - start:.0f} s.")


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""
    app.command("demo", cls=TinyLensCommand)(demo)
