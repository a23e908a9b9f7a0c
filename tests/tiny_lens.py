"""A tiny lens for fast fitting tests: lenstronomy simulates it, tinylens fits 4 parameters.

32 x 32 pixels of 0.1", a round isothermal lens (SIE with e1 = e2 = 0, no shear, no lens light)
and a round n = 1 Sersic source. Free: the Einstein radius, the source size and the source
position; everything else is fixed to the truth, so that one fit takes seconds.
A plain module (not conftest) so that test files import it by a name no other folder shares."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from astropy.io import fits

from oracle import LENS_TRUTH, exact_r_sersic, lenstronomy_image

SHAPE = (32, 32)
PIXEL_SCALE = 0.1
SIGMA = 0.05
NOISE_SEED = 3

TRUTH: dict[str, list[dict[str, float]]] = {
    "lens_mass": [{"theta_E": 1.0, "e1": 0.0, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}, {"gamma1": 0.0, "gamma2": 0.0}],
    "lens_light": [{**LENS_TRUTH["lens_light"][0], "amp": 0.0}],
    "source_light": [{"amp": 30.0, "R_sersic": 0.15, "n_sersic": 1.0, "e1": 0.0, "e2": 0.0, "center_x": 0.1, "center_y": -0.06}],
}

#: The free parameters and their true values in tinylens's conventions (exact Sersic b_n).
FREE_TRUTH = {
    "lens_mass.0.theta_E": 1.0,
    "source_light.0.R_sersic": exact_r_sersic(0.15, 1.0),
    "source_light.0.center_x": 0.1,
    "source_light.0.center_y": -0.06,
}


#: Nautilus settings for fast test fits on a 2-core CPU: one network per bound (nautilus's default,
#: four, spends most of a small fit training them) and a modest posterior sample.
FAST_NAUTILUS = {"nlive": 100, "n_eff": 300, "n_networks": 1, "seed": 4}


def _free(a: float, b: float) -> dict[str, Any]:
    return {"prior_type": "uniform", "prior_settings": [a, b], "fixed": False}


def _fixed(value: float) -> dict[str, Any]:
    return {"fixed": True, "fixed_value": value}


def tiny_config(inference: dict[str, Any] | None = None, output: str = "output") -> dict[str, Any]:
    """The tiny lens's config (data paths relative to its folder); ``inference`` replaces the default
    (nautilus with :data:`FAST_NAUTILUS`)."""
    return {
        "dataset": {
            "data_path": "image.fits",
            "noise_path": "noise.fits",
            "psf_path": "psf.fits",
            "pixel_scale": PIXEL_SCALE,
            "nsub": 2,
            "supersampling": {"mode": "uniform"},
        },
        "model_components": {
            "lens_mass_list": [
                {
                    "type": "SIE",
                    "params": {
                        "theta_E": _free(0.5, 1.5),
                        "e1": _fixed(0.0),
                        "e2": _fixed(0.0),
                        "center_x": _fixed(0.0),
                        "center_y": _fixed(0.0),
                    },
                }
            ],
            "source_light_list": [
                {
                    "type": "Sersic",
                    "params": {
                        "R_sersic": _free(0.02, 0.5),
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
        "inference": copy.deepcopy(inference or {"type": "sampler", "method": "nautilus", "settings": FAST_NAUTILUS}),
        "output": {"path": output},
    }


def unbounded_tiny_fit(folder: Path, inference: dict[str, Any]) -> dict[str, Any]:
    """The tiny lens written into ``folder`` and a config to fit it with ``inference``: data paths
    absolute, output in ``folder/results``, no pipeline nor figures, and the source's ``center_x``
    prior limited to ``[-inf, inf]`` (numbers result.json writes as null)."""
    write_tiny_lens(folder)
    config = tiny_config(inference)
    config["model_components"]["source_light_list"][0]["params"]["center_x"]["limits"] = [-math.inf, math.inf]
    config["pipeline"], config["output"]["draw_figures"] = {"enabled": False}, "none"
    for key in ("data_path", "noise_path", "psf_path"):
        config["dataset"][key] = str(folder / config["dataset"][key])
    config["output"]["path"] = str(folder / "results")
    return config


def tiny_data() -> dict[str, np.ndarray]:
    """``image`` (noisy), ``noise`` and ``psf`` of the tiny lens."""
    clean, psf = lenstronomy_image(shape=SHAPE, pixel_scale=PIXEL_SCALE, psf_size=9, fwhm_pix=1.5, truth=TRUTH)
    rng = np.random.default_rng(NOISE_SEED)
    return {"image": clean + rng.normal(0, SIGMA, SHAPE), "noise": np.full(SHAPE, SIGMA), "psf": psf}


def write_tiny_lens(folder: Path, inference: dict[str, Any] | None = None, data: dict[str, np.ndarray] | None = None) -> Path:
    """Write image/noise/psf FITS and model_config.yaml into ``folder``; return the config's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in (data or tiny_data()).items():
        fits.writeto(folder / f"{name}.fits", np.asarray(array, dtype=float), overwrite=True)
    path = folder / "model_config.yaml"
    path.write_text(yaml.safe_dump(tiny_config(inference), sort_keys=False))
    return path


def write_tiny_lens_shear_first(folder: Path) -> Path:
    """:func:`write_tiny_lens` with a fixed, zero SHEAR listed before the main deflector
    (``lens_mass_list: [SHEAR, SIE]``), whose parameters are then ``lens_mass.1.*``."""
    path = write_tiny_lens(folder)
    cfg = yaml.safe_load(path.read_text())
    shear = {"type": "SHEAR", "params": {"gamma1": _fixed(0.0), "gamma2": _fixed(0.0)}}
    cfg["model_components"]["lens_mass_list"].insert(0, shear)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def write_stored_result(folder: Path, problem, theta, **content: Any) -> Path:
    """``folder/result.json`` as a fit stores it, for ``problem`` with best fit ``theta``: its config
    and ``config_dir``, ``max_likelihood`` and ``median`` (both ``theta``), and ``content``."""
    folder.mkdir(parents=True)
    values = dict(zip(problem.param_names, map(float, theta)))
    stored = {"config": problem.config.model_dump(mode="json"), "config_dir": str(problem.base_dir),
              "max_likelihood": values, "median": values, **content}
    path = folder / "result.json"
    path.write_text(json.dumps(stored))
    return path


def refuse_unlink(monkeypatch: Any, refused: Path, code: int = 1, text: str = "Operation not permitted") -> None:
    """Make ``Path.unlink`` of ``refused`` fail with ``OSError(code, text)`` (by default EPERM, a
    PermissionError, as the system answers for someone else's file in a folder with the sticky bit;
    which a test run as root cannot meet for real); every other path is deleted as usual."""
    import pathlib

    unlink = pathlib.Path.unlink

    def guarded(self, *args, **kwargs):
        if self == refused:
            raise OSError(code, text, str(self))
        return unlink(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "unlink", guarded)
