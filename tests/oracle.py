"""Test helpers: lenses simulated by lenstronomy (the independent oracle) and Table 1 configs.

A plain module (not conftest) so that test files import it by a name no other folder shares."""

from __future__ import annotations

import contextlib

import jax
import numpy as np
from scipy.special import gammaincinv


@contextlib.contextmanager
def x64():
    """Run a block with JAX float64 enabled, restoring the previous setting afterwards."""
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old)


def gaussian_kernel(size: int, fwhm_pix: float) -> np.ndarray:
    """Odd-sized, normalised, centred Gaussian kernel."""
    r = np.arange(size) - size // 2
    xx, yy = np.meshgrid(r, r)
    k = np.exp(-0.5 * (xx**2 + yy**2) / (fwhm_pix / 2.3548) ** 2)
    return k / k.sum()


def exact_r_sersic(r_lenstronomy: float, n: float) -> float:
    """tinylens R_sersic giving the same profile shape as lenstronomy's (which uses
    b_n = 1.9992 n - 0.3271): R' = R (b_exact / b_approx)^n."""
    b_exact = gammaincinv(2 * n, 0.5)
    b_approx = 1.9992 * n - 0.3271
    return r_lenstronomy * (b_exact / b_approx) ** n


LENS_TRUTH = {
    "lens_mass": [
        {"theta_E": 1.2, "e1": 0.12, "e2": -0.06, "center_x": 0.02, "center_y": -0.03},
        {"gamma1": 0.03, "gamma2": -0.02},
    ],
    "lens_light": [{"amp": 40.0, "R_sersic": 0.8, "n_sersic": 3.5, "e1": 0.1, "e2": -0.05, "center_x": 0.02, "center_y": -0.03}],
    "source_light": [{"amp": 30.0, "R_sersic": 0.2, "n_sersic": 1.2, "e1": -0.1, "e2": 0.15, "center_x": 0.08, "center_y": 0.05}],
}


def lenstronomy_image(
    shape=(64, 64), pixel_scale=0.074, psf_size=11, fwhm_pix=2.0, nsub=4, truth=LENS_TRUTH
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free SIE + shear lens with Sersic lens and source light, made by lenstronomy."""
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel

    ny, nx = shape
    kwargs_data = {
        "image_data": np.zeros(shape),
        "transform_pix2angle": np.eye(2) * pixel_scale,
        "ra_at_xy_0": -(nx - 1) / 2 * pixel_scale,
        "dec_at_xy_0": -(ny - 1) / 2 * pixel_scale,
    }
    kernel = gaussian_kernel(psf_size, fwhm_pix)
    model = ImageModel(
        ImageData(**kwargs_data),
        PSF(psf_type="PIXEL", kernel_point_source=kernel),
        lens_model_class=LensModel(["SIE", "SHEAR"]),
        source_model_class=LightModel(["SERSIC_ELLIPSE"]),
        lens_light_model_class=LightModel(["SERSIC_ELLIPSE"]),
        kwargs_numerics={"supersampling_factor": nsub, "supersampling_convolution": False},
    )
    image = model.image(
        kwargs_lens=truth["lens_mass"],
        kwargs_source=truth["source_light"],
        kwargs_lens_light=truth["lens_light"],
    )
    return np.asarray(image), kernel


def free(prior_type: str, a: float, b: float, limits=None) -> dict:
    spec = {"prior_type": prior_type, "prior_settings": [a, b], "fixed": False}
    if limits is not None:
        spec["limits"] = list(limits)
    return spec


def table1_components() -> dict:
    """The paper's Table 1 model: SIE + shear, Sersic lens light (centre linked), Sersic source."""
    link = lambda p: {"fixed": True, "fixed_value": {"component_type": "lens_mass_list", "component_idx": 0, "parameter": p}}
    return {
        "lens_mass_list": [
            {
                "type": "SIE",
                "params": {
                    "theta_E": free("uniform", 0.0, 3.5),
                    "e1": free("gaussian", 0.0, 0.3, (-1, 1)),
                    "e2": free("gaussian", 0.0, 0.3, (-1, 1)),
                    "center_x": free("gaussian", 0.0, 0.1),
                    "center_y": free("gaussian", 0.0, 0.1),
                },
            },
            {"type": "SHEAR", "params": {"gamma1": free("uniform", -0.2, 0.2), "gamma2": free("uniform", -0.2, 0.2)}},
        ],
        "lens_light_list": [
            {
                "type": "Sersic",
                "params": {
                    "R_sersic": free("uniform", 0.001, 4.0),
                    "n_sersic": free("gaussian", 4.0, 1.0, (0.3, 8.0)),
                    "e1": free("gaussian", 0.0, 0.3, (-1, 1)),
                    "e2": free("gaussian", 0.0, 0.3, (-1, 1)),
                    "center_x": link("center_x"),
                    "center_y": link("center_y"),
                    "Ie": {"use_linear": True},
                },
            }
        ],
        "source_light_list": [
            {
                "type": "Sersic",
                "params": {
                    "R_sersic": free("uniform", 0.001, 2.0),
                    "n_sersic": free("uniform", 0.3, 2.5),
                    "e1": free("gaussian", 0.0, 0.3, (-1, 1)),
                    "e2": free("gaussian", 0.0, 0.3, (-1, 1)),
                    "center_x": free("gaussian", 0.0, 1.0),
                    "center_y": free("gaussian", 0.0, 1.0),
                    "Ie": {"use_linear": True},
                },
            }
        ],
    }


def truth_vector(param_names, truth=LENS_TRUTH) -> np.ndarray:
    """The true free-parameter vector in tinylens's order (R_sersic converted to exact b_n)."""
    out = []
    for name in param_names:
        kind, idx, p = name.split(".")
        d = truth[kind][int(idx)]
        v = d[p]
        if p == "R_sersic":
            v = exact_r_sersic(v, d["n_sersic"])
        out.append(v)
    return np.array(out)


def noisy_problem(write_fits, image: np.ndarray, kernel: np.ndarray, components=None, sigma: float = 0.1,
                  pixel_scale: float = 0.074, seed: int = 5):
    """A tinylens problem for ``image`` (e.g. from :func:`lenstronomy_image`) with Gaussian noise of
    ``sigma`` added, 2x2 uniform supersampling and ``components`` (default :func:`table1_components`)."""
    import tinylens

    noisy = image + np.random.default_rng(seed).normal(0, sigma, image.shape)
    return tinylens.load({
        "dataset": {"data_path": write_fits("image.fits", noisy), "noise_path": write_fits("noise.fits", np.full_like(image, sigma)),
                    "psf_path": write_fits("psf.fits", kernel), "pixel_scale": pixel_scale, "nsub": 2,
                    "supersampling": {"mode": "uniform"}},
        "model_components": components or table1_components(),
    })
