"""θ_E of a mock survey from its stored posterior samples by several estimators, and under the
population's own prior: do the outliers beyond 4 NMAD depend on how the posterior is read?

For every fitted mock lens, from ``RUN/lenses/LENS/result_samples.csv`` (the weighted nautilus
samples): the posterior median (the catalogue's estimate), the posterior mean, the
maximum-likelihood sample, and the median after importance-reweighting the samples from the
fit's priors to the distributions the population was drawn from (``population.json`` beside
the truth table: θ_E and the source's R uniform in their ranges; lens and source axis ratios
uniform in theirs with uniform position angles). The paper's statistics for each::

    python examples/mocks/point_estimates.py --snr-min 20 \\
        --run s1 runSIE_new mocksSIE/truth.csv \\
        --run s2 runSIE2 mocksSIE2/truth.csv --run s2 runSIE2_dbl mocksSIE2/truth.csv

``--run LABEL RUN TRUTH`` is repeatable; a later run with the same label replaces the earlier
one's fits of the lenses it holds (a partial refit). Only a fit with Gaussian priors on the
mass's and the source's e1/e2 and uniform ones on θ_E and the source's R (the template of
``tinylens simulate-population``) can be reweighted; another is refused. An optimizer's fit
(``inference.type: optimizer``) has no posterior, only its one best point: such lenses are
said apart, by that point alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from tinylens.errors import TinyLensError, counted, lens_count
from tinylens.results.report import deviation_stats, read_table
from tinylens.results.tables import weighted_percentiles

THETA = "lens_mass.0.theta_E"
#: (population range, e1 name, e2 name) of the two ellipticities the reweighting replaces.
ELLIPTICITIES = {"lens_q_range": ("lens_mass.0.e1", "lens_mass.0.e2"),
                 "source_q_range": ("source_light.0.e1", "source_light.0.e2")}
#: (population range, parameter) of the uniform ranges the reweighting applies.
RANGES = {"theta_E_range": THETA, "source_re_range": "source_light.0.R_sersic"}


def e_density(e1: np.ndarray, e2: np.ndarray, q_range) -> np.ndarray:
    """Density in (e1, e2) of q uniform in ``q_range`` and a uniform position angle, with
    ``|e| = (1 - q) / (1 + q)`` (lenstronomy's convention): ``p(q) |dq/de| / (2 pi |e|)``."""
    e = np.hypot(e1, e2)
    q = (1 - e) / (1 + e)
    inside = (q >= q_range[0]) & (q <= q_range[1])
    return np.where(inside, 2 / (1 + e) ** 2 / (q_range[1] - q_range[0]) / (2 * np.pi * np.maximum(e, 1e-9)), 0.0)


def fitted_prior(config: dict, name: str) -> tuple[str, list[float]]:
    """``(prior_type, prior_settings)`` of parameter ``name`` (``component.index.param``) in a
    stored fit's config."""
    component, index, param = name.split(".")
    spec = config["model_components"][f"{component}_list"][int(index)]["params"][param]
    return spec["prior_type"], spec["prior_settings"]


def population_weights(samples: pd.DataFrame, config: dict, population: dict) -> np.ndarray:
    """Importance weights that turn a posterior under the fit's priors into one under the
    population's distributions (unnormalised; 0 outside the population's ranges)."""
    weights = samples["weight"].to_numpy(float).copy()
    for key, name in RANGES.items():
        kind, _ = fitted_prior(config, name)
        if kind != "uniform":
            raise SystemExit(f"error: {name} has a {kind} prior in the fit; the reweighting needs a uniform one")
        lo, hi = population[key]
        weights *= (samples[name] >= lo) & (samples[name] <= hi)
    for key, (n1, n2) in ELLIPTICITIES.items():
        for name in (n1, n2):
            kind, settings = fitted_prior(config, name)
            if kind != "gaussian":
                raise SystemExit(f"error: {name} has a {kind} prior in the fit; the reweighting needs a Gaussian one")
            mu, sigma = settings
            weights /= np.exp(-0.5 * ((samples[name] - mu) / sigma) ** 2)
        weights *= e_density(samples[n1].to_numpy(), samples[n2].to_numpy(), population[key])
    return weights


def estimates(samples: pd.DataFrame, config: dict, population: dict) -> dict[str, float]:
    """θ_E by each estimator for one lens, and the reweighted samples' effective size."""
    theta = samples[THETA].to_numpy(float)
    w = samples["weight"].to_numpy(float)
    pop = population_weights(samples, config, population)
    # the catalogue's median (tinylens.results.tables.statistics)
    median = lambda weights: float(weighted_percentiles(theta, weights, 50.0))  # noqa: E731
    out = {"median": median(w), "mean": float(np.sum(w * theta) / np.sum(w)),
           "max_likelihood": float(theta[np.argmax(samples["log_likelihood"].to_numpy())])}
    if pop.sum() > 0:
        out["population_prior_median"] = median(pop)
        out["population_prior_ess"] = float(pop.sum() ** 2 / np.sum(pop**2))
    else:
        out["population_prior_median"], out["population_prior_ess"] = np.nan, 0.0
    return out


def is_optimizer(config: dict) -> bool:
    """Whether a stored fit's ``config`` is an optimizer's, whose ``result_samples.csv`` holds its
    one best point, not posterior samples."""
    return (config.get("inference") or {}).get("type") == "optimizer"


def best_point(samples: pd.DataFrame) -> dict[str, float]:
    """θ_E of an optimizer's fit: its one point (the highest likelihood's, were there more)."""
    return {"best_point": float(samples[THETA].to_numpy(float)[np.argmax(samples["log_likelihood"].to_numpy())])}


def paper_statistics(estimate: pd.Series, truth: pd.Series) -> tuple[float, float]:
    """(NMAD of the relative deviations, number beyond 4 NMAD), by ``tinylens report``'s own
    :func:`~tinylens.results.report.deviation_stats` (the count NaN for too few lenses)."""
    stats = deviation_stats(((estimate - truth) / truth).to_numpy(float))
    return stats["nmad"], stats["n_outliers"]


def collect(runs: list[tuple[str, str, str]]) -> pd.DataFrame:
    """One row per lens (``label/lens``): each estimator's θ_E (or an optimizer's ``best_point``,
    ``posterior`` False), the truth and ``arc_snr_total``."""
    fits: dict[str, tuple[Path, Path]] = {}
    for label, run, truth_path in runs:
        lenses = Path(run) / "lenses"
        if not lenses.is_dir():
            raise SystemExit(f"error: {run} has no lenses/ folder: is it a `tinylens survey` output?")
        for folder in sorted(lenses.iterdir()):
            if (folder / "result_samples.csv").is_file():
                fits[f"{label}/{folder.name}"] = (folder, Path(truth_path))
    rows, truths, populations = [], {}, {}
    for lens_id, (folder, truth_path) in fits.items():
        if truth_path not in truths:
            population = truth_path.parent / "population.json"
            try:
                truths[truth_path] = read_table(truth_path, "truth table").set_index("lens_id")
            except TinyLensError as err:
                raise SystemExit(f"error: {err}") from None
            if not population.is_file():
                raise SystemExit(f"error: no {population} beside the truth table (written by tinylens simulate-population)")
            populations[truth_path] = json.loads(population.read_text())["observation"]
        truth = truths[truth_path]
        lens = lens_id.split("/", 1)[1]
        if lens not in truth.index:
            raise SystemExit(f"error: {lens} of {folder.parent.parent} is not in {truth_path}")
        try:
            config = json.loads((folder / "result.json").read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SystemExit(f"error: {folder / 'result.json'}: not a readable result.json ({type(err).__name__}: {err})") from None
        samples = pd.read_csv(folder / "result_samples.csv")
        posterior = not is_optimizer(config)
        row = estimates(samples, config, populations[truth_path]) if posterior else best_point(samples)
        rows.append({"lens_id": lens_id, "truth": truth.loc[lens, THETA], "posterior": posterior,
                     "arc_snr_total": truth.loc[lens].get("arc_snr_total", np.nan), **row})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", nargs=3, action="append", required=True, metavar=("LABEL", "RUN", "TRUTH"),
                        help="a survey output, its population's truth.csv (repeatable; a repeated label replaces fits)")
    parser.add_argument("--snr-min", type=float, default=0.0, help="keep lenses with arc_snr_total >= this")
    args = parser.parse_args(argv)
    table = collect([tuple(r) for r in args.run])
    if table.empty:
        raise SystemExit("error: no fitted lens (lenses/*/result_samples.csv) in " + ", ".join(r[1] for r in args.run))
    table = table[~(table["arc_snr_total"] < args.snr_min)]
    print(lens_count(len(table)))
    sampled, points = table[table["posterior"]], table[~table["posterior"]]
    if len(sampled) and len(points):
        print(f"{len(sampled)} sampled ({'a posterior each' if len(sampled) > 1 else 'with a posterior'}):")
    if len(sampled):
        for name in ("median", "mean", "max_likelihood"):
            print_statistics(name, sampled)
        print_statistics("population_prior_median", sampled,
                         f"; smallest effective sample {sampled['population_prior_ess'].min():.0f}")
    if len(points):
        each = "one point each" if len(points) > 1 else "one point"
        print(f"{counted(len(points), 'optimizer result')} ({each}, no posterior to read by several "
              "estimators or reweight to the population's prior):")
        print_statistics("best_point", points)


def print_statistics(name: str, table: pd.DataFrame, extra: str = "") -> None:
    """The line of the paper's statistics (:func:`paper_statistics`) of the estimator ``name``
    over the lenses of ``table``, ``extra`` after it."""
    nmad, beyond = paper_statistics(table[name], table["truth"])
    count = "-" if np.isnan(beyond) else f"{beyond:.0f}"
    print(f"{name:>24}: theta_E NMAD {100 * nmad:.3f} %, {count} beyond 4 NMAD{extra}")


if __name__ == "__main__":
    main()
