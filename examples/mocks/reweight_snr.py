"""The paper's outlier statistics for another signal-to-noise distribution, from the same fits.

``tinylens simulate-population`` draws each lens's maximum per-pixel arc S/N (``arc_snr_max``)
log-uniformly in ``snr_range``, i.e. with density ``p0(S) ~ 1 / S``. A survey's lenses follow
some other distribution; a flux-limited sample, for instance, crowds near its threshold,
``p(S) ~ S^-(1 + slope)`` (``slope`` 1.5 for Euclidean counts). Weighting each fitted mock by
``p(S_i) / p0(S_i) ~ S_i^-slope`` (importance weights) gives, from one survey, the NMAD, the
fraction beyond 4 NMAD and the fraction expected from the posterior widths that the same
pipeline would give on that population, without fitting a new one. ``N_eff`` (Kish's effective
sample size, ``1 / sum w_i^2`` for normalised weights) says how many lenses the estimate rests on.

    python examples/mocks/reweight_snr.py runSIE/catalog.csv mocksSIE/truth.csv --slopes 0,0.5,1,1.5,2

With ``slope`` 0 the numbers are those of ``tinylens report`` (same deviations, NMAD and
widths, :mod:`tinylens.results.report`).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy.stats import norm

from tinylens.errors import TinyLensError, lens_count
from tinylens.results.report import (MIN_FOR_OUTLIERS, MIN_FOR_SCATTER, NMAD_FACTOR, OUTLIER_SIGMA, PAPER_QUANTITIES,
                                     comparison_frame, counts_outliers, read_table)

SNR_COLUMN = "arc_snr_max"


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """Quantile ``q`` of ``x`` under weights ``w``, each value standing at the middle of its
    weight (equal weights give numpy's median)."""
    order = np.argsort(x)
    cum = (np.cumsum(w[order]) - 0.5 * w[order]) / w.sum()
    return float(np.interp(q, cum, x[order]))


def weighted_nmad(zeta: np.ndarray, w: np.ndarray) -> float:
    """``1.48 x`` the weighted median of ``|zeta - weighted median(zeta)|``."""
    centre = weighted_quantile(zeta, w, 0.5)
    return NMAD_FACTOR * weighted_quantile(np.abs(zeta - centre), w, 0.5)


def snr_weights(snr: np.ndarray, slope: float) -> np.ndarray:
    """Normalised importance weights from log-uniform S/N to ``p(S) ~ S^-(1 + slope)``."""
    w = np.asarray(snr, dtype=float) ** -slope
    return w / w.sum()


def reweighted_stats(zeta: np.ndarray, sigma: np.ndarray, snr: np.ndarray, slope: float,
                     k: float = OUTLIER_SIGMA) -> dict[str, float]:
    """NMAD, fraction beyond ``k`` NMAD, that fraction expected from the widths ``sigma`` and
    ``N_eff`` under the weights of :func:`snr_weights`; lenses without a deviation are left out.
    Like ``tinylens report``, the two fractions are NaN where the outliers are not counted (fewer
    than :data:`~tinylens.results.report.MIN_FOR_OUTLIERS` lenses, or an NMAD of 0: no scale), and
    the NMAD is NaN for fewer than :data:`~tinylens.results.report.MIN_FOR_SCATTER` (one deviation has
    no scatter)."""
    keep = np.isfinite(zeta) & np.isfinite(snr)
    zeta, sigma, snr = zeta[keep], sigma[keep], snr[keep]
    w = snr_weights(snr, slope)
    band = k * weighted_nmad(zeta, w)
    row = {"slope": slope, "n_eff": float(1 / np.sum(w**2)), "median_snr": weighted_quantile(snr, w, 0.5),
           "nmad": band / k if zeta.size >= MIN_FOR_SCATTER else np.nan, "outlier_fraction": np.nan,
           "expected_fraction": np.nan}
    if counts_outliers(zeta.size, band / k):  # else every deviation but the median's would be an outlier
        has_width = np.isfinite(sigma) & (sigma > 0)
        row["outlier_fraction"] = float(np.sum(w * (np.abs(zeta) > band)))
        row["expected_fraction"] = float(np.sum(w[has_width] * 2 * norm.sf(band / sigma[has_width])))
    return row


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("catalog", help="survey catalogue (csv or parquet)")
    parser.add_argument("truth", help="truth table of the mock population (with arc_snr_max)")
    parser.add_argument("--slopes", default="0,0.5,1,1.5,2", help="comma-separated slopes")
    quantities = {q.name: q for q in PAPER_QUANTITIES}
    parser.add_argument("--parameter", default="lens_mass.0.theta_E", choices=quantities, help="compared parameter")
    args = parser.parse_args(argv)
    try:
        slopes = [float(s) for s in args.slopes.split(",")]
    except ValueError:
        parser.error(f"--slopes {args.slopes!r}: give numbers separated by commas, e.g. 0,0.5,1")
    try:
        catalog, truth = read_table(args.catalog, "catalogue"), read_table(args.truth, "truth table")
    except TinyLensError as err:
        raise SystemExit(f"error: {err}") from None
    if SNR_COLUMN not in truth.columns:
        raise SystemExit(f"error: the truth table {args.truth} has no {SNR_COLUMN} column "
                         "(is it the truth.csv of tinylens simulate-population?)")
    quantity = quantities[args.parameter]
    try:
        compared = comparison_frame(catalog, truth, [quantity])
    except TinyLensError as err:
        raise SystemExit(f"error: {err}") from None
    joined = compared.merge(truth[["lens_id", SNR_COLUMN]].astype({"lens_id": str}), on="lens_id")
    zeta, sigma = joined[f"{quantity.name}_dev"].to_numpy(float), joined[f"{quantity.name}_sigma"].to_numpy(float)
    snr = joined[SNR_COLUMN].to_numpy(float)
    if not (np.isfinite(zeta) & np.isfinite(snr)).any():
        raise SystemExit(f"error: no lens of {args.catalog} has both a fitted and a true {quantity.name} "
                         f"and an {SNR_COLUMN} in {args.truth}")
    table = pd.DataFrame([reweighted_stats(zeta, sigma, snr, s) for s in slopes])
    print(f"{quantity.name}: {lens_count(len(joined))}")
    if table["outlier_fraction"].isna().all():
        print(f"(outliers not counted: fewer than {MIN_FOR_OUTLIERS} fitted lenses, or an NMAD of 0)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return table


if __name__ == "__main__":
    main()
