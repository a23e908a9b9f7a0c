"""How much of a compact Sersic's flux a uniform supersampling misses: the figures of
docs/config.md's ``dataset.supersampling`` section, recomputed.

A circular Sersic (n = 4 by default) centred on a pixel's centre is drawn on 0.05" pixels by
taking each sub-pixel's centre (as tinylens does), and the sum over the image is compared with
the analytic total flux ``L = 2 pi n R_sersic^2 Ie e^(b_n) Gamma(2n) / b_n^(2n)``, ``b_n`` from
scipy (``P(2n, b_n) = 1/2``). The profile here is numpy's, independent of tinylens; with
``--tinylens`` the same sums are also made with tinylens's own Sersic and sub-pixel grid.

    python benchmarks/supersampling_flux.py
    python benchmarks/supersampling_flux.py --tinylens

The image is wide enough (--half pixels either side of the centre) that the light beyond it is
below 1e-6 of the total for the default sizes. Not a test.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.special import gammaincinv, gammaln

PIXEL = 0.05  # arcsec
FACTORS = (2, 4, 8, 16, 32, 64)  # 1x1 samples the cusp itself at the centre: meaningless


def analytic_flux(r_sersic: float, n: float) -> float:
    """Total flux of the unit-``Ie`` circular Sersic."""
    b = gammaincinv(2 * n, 0.5)
    return float(np.exp(np.log(2 * np.pi * n) + 2 * np.log(r_sersic) + b + gammaln(2 * n) - 2 * n * np.log(b)))


def numpy_sersic(r: np.ndarray, r_sersic: float, n: float) -> np.ndarray:
    b = gammaincinv(2 * n, 0.5)
    return np.exp(-b * ((r / r_sersic) ** (1 / n) - 1))


def drawn_flux(r_sersic: float, n: float, nsub: int, half: int, profile=None) -> float:
    """The sum of the image (pixel value = mean over its nsub x nsub sub-pixel centres, times the
    pixel's area) of the Sersic centred on the centre of the middle pixel."""
    profile = profile or (lambda x, y: numpy_sersic(np.hypot(x, y), r_sersic, n))
    offsets = ((np.arange(nsub) + 0.5) / nsub - 0.5) * PIXEL
    centres = np.arange(-half, half + 1) * PIXEL
    xs = (centres[:, None] + offsets[None, :]).ravel()  # every sub-pixel centre along one axis
    total = 0.0
    for start in range(0, xs.size, 512):  # rows in blocks: 64x64 on 121 pixels is 6e7 points
        y = xs[start:start + 512, None]
        total += float(np.sum(profile(xs[None, :], y), dtype=np.float64))
    return total * (PIXEL / nsub) ** 2


def tinylens_profile(r_sersic: float, n: float):
    import jax

    jax.config.update("jax_enable_x64", True)
    from tinylens.profiles.light import sersic

    p = {"R_sersic": r_sersic, "n_sersic": n, "center_x": 0.0, "center_y": 0.0, "e1": 0.0, "e2": 0.0}
    return lambda x, y: np.asarray(sersic.intensity(*np.broadcast_arrays(x, y), p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=float, default=4.0, help="Sersic index (default 4)")
    parser.add_argument("--radii", type=float, nargs="+", default=[0.01, 0.002], help="R_sersic in arcsec")
    parser.add_argument("--half", type=int, default=60, help="pixels either side of the centre (default 60: 3\")")
    parser.add_argument("--tinylens", action="store_true", help="also with tinylens's own Sersic")
    args = parser.parse_args()
    for r_sersic in args.radii:
        truth = analytic_flux(r_sersic, args.n)
        print(f"Sersic n = {args.n:g}, R_sersic = {r_sersic:g}\", {PIXEL:g}\" pixels, centred on a pixel "
              f"({2 * args.half + 1}x{2 * args.half + 1} pixels); analytic total flux {truth:.6g}")
        print("  factor   short of the total (numpy)" + ("   (tinylens)" if args.tinylens else ""))
        for nsub in FACTORS:
            short = 1 - drawn_flux(r_sersic, args.n, nsub, args.half) / truth
            line = f"  {nsub:>2}x{nsub:<3}  {100 * short:8.2f} %"
            if args.tinylens:
                ours = 1 - drawn_flux(r_sersic, args.n, nsub, args.half, tinylens_profile(r_sersic, args.n)) / truth
                line += f"                   {100 * ours:8.2f} %"
            print(line)


if __name__ == "__main__":
    main()
