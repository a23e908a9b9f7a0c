"""The SLACS templates of examples/slacs load through the survey's path and hold the model they describe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinylens
from oracle import lenstronomy_image
from tinylens.survey.runner import find_lenses, lens_config, load_template

SLACS = Path(__file__).resolve().parents[2] / "examples" / "slacs"


@pytest.fixture(scope="module")
def lens_folder(tmp_path_factory):
    """One lens folder as the survey finds it (image, noise and PSF made by lenstronomy)."""
    from astropy.io import fits

    root = tmp_path_factory.mktemp("lenses")
    folder = root / "J0000+0000"
    folder.mkdir()
    image, kernel = lenstronomy_image()
    noise = np.full_like(image, 0.1)
    for name, array in {"image.fits": image + np.random.default_rng(0).normal(0, 0.1, image.shape),
                        "noise.fits": noise, "psf.fits": kernel}.items():
        fits.PrimaryHDU(array).writeto(folder / name)
    return root


@pytest.mark.parametrize("name, shear, lens_light", [
    ("template.yaml", True, ["Sersic", "Sersic"]),
    ("template_mge.yaml", True, ["MGE"]),
    ("template_mge_sie.yaml", False, ["MGE"]),
])
def test_slacs_template_loads_with_its_model(lens_folder, tmp_path, name, shear, lens_light):
    config = lens_config(load_template(SLACS / name), find_lenses(lens_folder)[0], tmp_path)
    problem = tinylens.load(config)
    names = problem.param_names
    assert ("lens_mass.1.gamma1" in names) is shear
    assert [c["type"] for c in config["model_components"]["lens_light_list"]] == lens_light
    # lens light and source share one centre and one ellipticity each: no second set is free
    assert not any(n.startswith(("lens_light.1.e", "source_light.1.e", "source_light.1.center")) for n in names)
    assert np.isfinite(problem.log_likelihood(problem.prior_transform(np.full(problem.ndim, 0.5))))
