"""The benchmark lens (seed paper, section 3.1.4) for lenstronomy and for tinylens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy.special import gammaincinv

PIX = 0.074
PSF_SIZE = 21
SIGMA = 0.05


def benchmark_truth() -> dict:
    return {
        "lens": [
            {"theta_E": 1.6, "e1": 0.1, "e2": -0.05, "center_x": 0.0, "center_y": 0.0},
            {"gamma1": 0.02, "gamma2": -0.01},
        ],
        "lens_light": [{"amp": 10.0, "R_sersic": 1.0, "n_sersic": 4.0, "e1": 0.1, "e2": -0.05, "center_x": 0.0, "center_y": 0.0}],
        "source": [{"amp": 5.0, "R_sersic": 0.3, "n_sersic": 1.0, "e1": 0.05, "e2": 0.1, "center_x": 0.05, "center_y": 0.02}],
    }


def psf_kernel() -> np.ndarray:
    r = np.arange(PSF_SIZE) - PSF_SIZE // 2
    xx, yy = np.meshgrid(r, r)
    fwhm = 0.15 / PIX
    k = np.exp(-0.5 * (xx**2 + yy**2) / (fwhm / 2.3548) ** 2)
    return k / k.sum()


def lenstronomy_models(size: int, nsub: int = 4, with_images: bool = False):
    """(ImageLinearFit, kwargs, image) for the benchmark lens at ``size`` x ``size``."""
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_linear_solve import ImageLinearFit
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel

    kw = benchmark_truth()
    kwargs_data = {
        "image_data": np.zeros((size, size)),
        "background_rms": SIGMA,
        "exposure_time": np.inf,
        "transform_pix2angle": np.eye(2) * PIX,
        "ra_at_xy_0": -(size - 1) / 2 * PIX,
        "dec_at_xy_0": -(size - 1) / 2 * PIX,
    }
    models = dict(
        lens_model_class=LensModel(["SIE", "SHEAR"]),
        source_model_class=LightModel(["SERSIC_ELLIPSE"]),
        lens_light_model_class=LightModel(["SERSIC_ELLIPSE"]),
        kwargs_numerics={"supersampling_factor": nsub, "supersampling_convolution": False},
    )
    psf = PSF(psf_type="PIXEL", kernel_point_source=psf_kernel())
    image = ImageModel(ImageData(**kwargs_data), psf, **models).image(kw["lens"], kw["source"], kw["lens_light"])
    rng = np.random.default_rng(42)
    kwargs_data["image_data"] = image + rng.normal(0, SIGMA, image.shape)
    fit = ImageLinearFit(ImageData(**kwargs_data), psf, **models)
    return fit, kw, (image if with_images else None)


def exact_r(r: float, n: float) -> float:
    return r * (gammaincinv(2 * n, 0.5) / (1.9992 * n - 0.3271)) ** n


def truth_vector(param_names) -> np.ndarray:
    kw = benchmark_truth()
    key = {"lens_mass": "lens", "lens_light": "lens_light", "source_light": "source"}
    out = []
    for name in param_names:
        kind, idx, p = name.split(".")
        d = kw[key[kind]][int(idx)]
        out.append(exact_r(d[p], d["n_sersic"]) if p == "R_sersic" else d[p])
    return np.array(out)


def _free(kind, a, b):
    return {"prior_type": kind, "prior_settings": [a, b]}


def tinylens_config(folder: Path, size: int, numerics: dict | None = None) -> dict:
    """Write the benchmark lens's FITS files into ``folder``; return a tinylens config dict."""
    folder.mkdir(parents=True, exist_ok=True)
    _, _, image = lenstronomy_models(size, with_images=True)
    rng = np.random.default_rng(42)
    paths = {}
    for name, arr in [("image", image + rng.normal(0, SIGMA, image.shape)), ("noise", np.full(image.shape, SIGMA)), ("psf", psf_kernel())]:
        paths[name] = str(folder / f"{name}.fits")
        fits.PrimaryHDU(arr).writeto(paths[name], overwrite=True)
    sersic = lambda: {"R_sersic": _free("uniform", 0.01, 3.0), "n_sersic": _free("uniform", 0.5, 6.0), "e1": _free("gaussian", 0, 0.3), "e2": _free("gaussian", 0, 0.3), "Ie": {"use_linear": True}}
    lens_light = sersic()
    lens_light.update({"center_x": _free("gaussian", 0, 0.1), "center_y": _free("gaussian", 0, 0.1)})
    source = sersic()
    source.update({"center_x": _free("gaussian", 0, 0.5), "center_y": _free("gaussian", 0, 0.5)})
    dataset = {"data_path": paths["image"], "noise_path": paths["noise"], "psf_path": paths["psf"], "pixel_scale": PIX}
    if numerics is not None:
        dataset["supersampling"] = numerics
    return {
        "dataset": dataset,
        "model_components": {
            "lens_mass_list": [
                {"type": "SIE", "params": {"theta_E": _free("uniform", 0.1, 3.5), "e1": _free("gaussian", 0, 0.3), "e2": _free("gaussian", 0, 0.3), "center_x": _free("gaussian", 0, 0.1), "center_y": _free("gaussian", 0, 0.1)}},
                {"type": "SHEAR", "params": {"gamma1": _free("uniform", -0.2, 0.2), "gamma2": _free("uniform", -0.2, 0.2)}},
            ],
            "lens_light_list": [{"type": "Sersic", "params": lens_light}],
            "source_light_list": [{"type": "Sersic", "params": source}],
        },
    }
