"""Are a mock's error bars the right size? Fresh noise on its true image, the optimum of each.

For one lens of ``tinylens simulate-population``: its noise-free image is made again from
``truth.json`` (the population's own model and grid), ``-n`` new noise realisations are drawn as
the population draws them (sky + Poisson), and each is fitted by L-BFGS from the truth with the
stored fit's model and priors. The spread of those optima is what a parameter's error really is;
it is compared with the Laplace width of the Fisher matrix at the truth (the width the posterior
has when it is Gaussian) and with the stored fit's own 68 % half-width (``RUN/catalog.csv``)::

    python examples/mocks/noise_realisations.py runSIE_new mocksSIE lens_00003 -n 100 [-p lens_mass.0.theta_E] [-o optima.csv]

A spread equal to the widths (ratio 1 within ``1 / sqrt(2 (n - 1))``) says the error bars are
right and a lens far from its truth in a survey is the noise's doing; a spread smaller than the
widths says the posteriors are too wide. About 2 s per realisation for a 100 x 100 mock.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits

import tinylens
from tinylens.pipeline.optimize import Objective
from tinylens.errors import TinyLensError
from tinylens.results.stored import load_stored
from tinylens.results.tables import unwritable_file, write_csv
from tinylens.simulate import add_noise, simulate_images
from tinylens.survey.population import PopulationOptions, components
from truth_check import catalogue_widths, true_vector  # the sibling script (this folder is on sys.path)


def true_image(truth: dict, psf: np.ndarray) -> np.ndarray:
    """The noise-free image of ``truth.json``'s lens, on the population's own grid."""
    opts = PopulationOptions.from_kwargs(**truth["observation"])
    shape = (opts.size, opts.size)
    return simulate_images(components(opts), truth["components"], shape, opts.pixel_scale, psf, nsub=opts.nsub)["total"]


def optima(stored: dict, clean: np.ndarray, psf: np.ndarray, observation: dict, start: np.ndarray, n: int,
           seed: int = 0) -> np.ndarray:
    """``(n, ndim)`` L-BFGS optima from ``start`` over ``n`` noise realisations of ``clean``."""
    rng = np.random.default_rng(seed)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fits.writeto(folder / "psf.fits", psf)
        config = copy.deepcopy(stored["config"])
        config["dataset"].update(data_path=str(folder / "image.fits"), noise_path=str(folder / "noise.fits"),
                                 psf_path=str(folder / "psf.fits"))
        for _ in range(n):
            image, noise = add_noise(clean, observation["sky_sigma"], exposure_time=observation["exposure_time"], rng=rng)
            fits.writeto(folder / "image.fits", image, overwrite=True)
            fits.writeto(folder / "noise.fits", noise, overwrite=True)
            out.append(Objective(tinylens.load(config)).minimize(start).theta)
    return np.array(out)


def fisher_widths(problem, theta: np.ndarray) -> np.ndarray:
    """Laplace widths ``sqrt(diag(F^-1))`` of ``problem`` at ``theta``."""
    return np.sqrt(np.diag(np.linalg.pinv(Objective(problem).fisher(theta))))


def _over(value: float, width: float) -> float:
    """``value / width``; NaN for a width of 0 (a fit stopped on one sample) or NaN."""
    return value / width if width > 0 else float("nan")


def summary(values: np.ndarray, truth: float, width_fisher: float, width_fit: float) -> dict[str, float]:
    """Spread (std, NMAD) and mean offset of ``values``, against the two widths."""
    std = float(np.std(values, ddof=1))
    nmad = float(1.4826 * np.median(np.abs(values - np.median(values))))
    return {"truth": truth, "mean": float(np.mean(values)), "std": std, "nmad": nmad,
            "width_fisher": width_fisher, "width_fit": width_fit, "std_over_fisher": _over(std, width_fisher),
            "nmad_over_fisher": _over(nmad, width_fisher), "std_over_fit": _over(std, width_fit),
            "offset_in_fisher": _over(float(np.mean(values)) - truth, width_fisher)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="survey output folder (RUN/lenses/LENS/result.json, RUN/catalog.csv)")
    ap.add_argument("lens_dir", type=Path, help="the population's folder (LENS/truth.json, LENS/psf.fits)")
    ap.add_argument("lens", help="lens name")
    ap.add_argument("-n", type=int, default=100, help="noise realisations (default 100)")
    ap.add_argument("-p", "--parameter", action="append", help="parameter to report (repeatable; default theta_E)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--output", type=Path, help="also write every optimum as CSV")
    args = ap.parse_args(argv)
    if args.n < 2:
        raise SystemExit("error: -n must be at least 2 (a spread needs two optima)")
    if args.output is not None and (why := unwritable_file(args.output)):
        ap.error(f"-o {args.output}: {why}")
    warnings.simplefilter("ignore")
    stored_path = args.run / "lenses" / args.lens / "result.json"
    truth_path = args.lens_dir / args.lens / "truth.json"
    for path in (stored_path, truth_path):
        if not path.is_file():
            raise SystemExit(f"error: no {path}")
    try:
        stored, problem, _ = load_stored(stored_path, base_dir_option=None)
    except TinyLensError as err:  # moved data, an unreadable result.json
        raise SystemExit(f"error: {err}") from None
    truth = json.loads(truth_path.read_text())
    names = list(problem.param_names)
    start = true_vector(truth_path, names)
    parameters = args.parameter or ["lens_mass.0.theta_E"]
    unknown = [p for p in parameters if p not in names]
    if unknown:
        raise SystemExit(f"error: {unknown} not free parameters of the fit; choose from {names}")
    psf = fits.getdata(args.lens_dir / args.lens / "psf.fits").astype(float)
    found = optima(stored, true_image(truth, psf), psf, truth["observation"], start, args.n, args.seed)
    widths = fisher_widths(problem, start)
    fit_widths = catalogue_widths(args.run, args.lens)
    for p in parameters:
        i = names.index(p)
        s = summary(found[:, i], start[i], float(widths[i]), float(fit_widths.get(p, np.nan)))
        print(f"{args.lens} {p}: true {s['truth']:.5g}; optima over {args.n} realisations: std {s['std']:.3g}, "
              f"NMAD {s['nmad']:.3g}, mean offset {s['offset_in_fisher']:+.2f} Fisher widths; Fisher width "
              f"{s['width_fisher']:.3g} (std / it {s['std_over_fisher']:.2f}, NMAD / it {s['nmad_over_fisher']:.2f} "
              f"+- {1 / np.sqrt(2 * (args.n - 1)):.2f}); the fit's 68 % half-width {s['width_fit']:.3g} "
              f"(std / it {s['std_over_fit']:.2f})")
    if args.output:
        write_csv(args.output, pd.DataFrame(found, columns=names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
