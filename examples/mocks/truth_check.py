"""Was a mock's miss the search or the data? The objective at the truth against the fit's.

For each lens of a survey of mocks: log P (log likelihood + log prior, the objective of the
pipeline's stages) at the true parameters, at the fit's maximum-likelihood sample, and at the
optimum that L-BFGS reaches from the truth (all parameters free). When the optimum from the truth
beats the fit by more than ``--gain`` (default 5), a better mode was there to find: the **search**
failed. Otherwise the data themselves prefer the fit's values (noise, or a degeneracy the images
cannot break)::

    python examples/mocks/truth_check.py runSIE2 mocksSIE2 lens_00078 lens_00004 [-o truth_check.csv] [--nsub 8]

With ``--nsub N`` it also asks whether the fit's supersampling moved the answer: L-BFGS from the
fit's best sample on the fit's own pixel grid, then again from there with every pixel
supersampled N x N (a simulation's uniform grid); the Einstein radius and each component's axis
ratio at both optima, and their shift in units of the fit's 68 % half-width (``RUN/catalog.csv``).

RUN is a survey output (``RUN/lenses/LENS/result.json``), LENS_DIR the population
(``LENS_DIR/LENS/truth.json`` of ``tinylens simulate-population``).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import tinylens
from tinylens.pipeline.optimize import Objective
from tinylens.pipeline.params import get_param
from tinylens.results.derived import shape_quantities
from tinylens.errors import TinyLensError
from tinylens.results.stored import load_stored
from tinylens.results.tables import unwritable_file, write_csv

#: log P by which the optimum from the truth must beat the fit to call the miss the search's.
SEARCH_GAIN = 5.0


def true_vector(truth_path: Path, names) -> np.ndarray:
    """The true parameters of ``truth.json`` (its ``params``) in the order ``names``."""
    params = json.loads(Path(truth_path).read_text())["params"]
    missing = [n for n in names if n not in params]
    if missing:
        raise SystemExit(f"error: {truth_path} has no true value for {missing}: was the lens fitted with another model?")
    return np.array([params[n] for n in names], float)


def check(problem, truth: np.ndarray, fit: np.ndarray, gain: float = SEARCH_GAIN) -> dict:
    """log P at ``truth``, at ``fit`` and at the optimum from ``truth``; the verdict."""
    objective = Objective(problem)
    every = np.ones(problem.ndim, bool)
    log_p = lambda theta: -objective.value_and_grad(theta, every)[0]  # noqa: E731
    from_truth = objective.minimize(truth)
    mass = problem.spec.lens_mass[0] if problem.spec.lens_mass else None
    theta_E = lambda t: get_param(t, mass, "theta_E") if mass is not None else float("nan")  # noqa: E731
    row = {"theta_E_true": theta_E(truth), "theta_E_fit": theta_E(fit), "theta_E_from_truth": theta_E(from_truth.theta),
           "log_P_truth": log_p(truth), "log_P_fit": log_p(fit), "log_P_from_truth": from_truth.log_post}
    row["verdict"] = "search" if row["log_P_from_truth"] > row["log_P_fit"] + gain else "data"
    return row


def on_grid(stored: dict, nsub: int):
    """The stored fit's problem with every pixel supersampled ``nsub`` x ``nsub``."""
    config = json.loads(json.dumps(stored["config"]))
    config["dataset"]["supersampling"] = {"mode": "uniform", "nsub": int(nsub)}
    return tinylens.load(config, base_dir=stored.get("config_dir"))


def grid_shift(problem, fine, fit: np.ndarray, widths: dict[str, float] | None = None) -> dict:
    """theta_E and axis ratios at the optimum from ``fit`` on ``problem``'s grid and, from there, on
    ``fine``'s; each shift in units of ``widths`` (68 % half-widths by column name) when given."""
    own = Objective(problem).minimize(fit)
    other = Objective(fine).minimize(own.theta)
    row = {"log_P_grid_fit": own.log_post, "log_P_grid_fine": other.log_post}
    values = {}
    for label, theta in (("fit", own.theta), ("fine", other.theta)):
        shapes = {k: float(v[0]) for k, v in shape_quantities(problem, theta[None, :]).items() if k.endswith(".q")}
        mass = problem.spec.lens_mass[0] if problem.spec.lens_mass else None
        if mass is not None:
            shapes["lens_mass.0.theta_E"] = float(get_param(theta, mass, "theta_E"))
        values[label] = shapes
    for key, value in values["fit"].items():
        row[f"{key}_grid_fit"], row[f"{key}_grid_fine"] = value, values["fine"][key]
        if widths and np.isfinite(widths.get(key, np.nan)):
            row[f"{key}_shift_sigma"] = (values["fine"][key] - value) / widths[key]
    return row


def catalogue_widths(run: Path, lens: str) -> dict[str, float]:
    """68 % half-widths of ``lens`` in ``run/catalog.csv`` by column name (empty without one)."""
    path = run / "catalog.csv"
    if not path.is_file():
        return {}
    cat = pd.read_csv(path)
    rows = cat[cat["lens_id"] == lens]
    if rows.empty:
        return {}
    r = rows.iloc[0]
    return {c[: -len("_hi68")]: 0.5 * (r[c] - r[c[: -len("_hi68")] + "_lo68"])
            for c in cat.columns if c.endswith("_hi68") and c[: -len("_hi68")] + "_lo68" in cat.columns}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="survey output folder")
    ap.add_argument("lens_dir", type=Path, help="the population's folder (LENS/truth.json)")
    ap.add_argument("lenses", nargs="+", help="lens names")
    ap.add_argument("--gain", type=float, default=SEARCH_GAIN, help="log P margin for a search failure")
    ap.add_argument("--nsub", type=int, help="also re-optimise with every pixel supersampled NSUB x NSUB")
    ap.add_argument("-o", "--output", type=Path, help="also write the table as CSV")
    args = ap.parse_args(argv)
    if args.output is not None and (why := unwritable_file(args.output)):
        ap.error(f"-o {args.output}: {why}")
    if args.nsub is not None and args.nsub < 1:  # found before the optimisations, not by the grid's config after them
        ap.error(f"--nsub {args.nsub}: give a supersampling factor of at least 1")
    warnings.simplefilter("ignore")
    args.lenses = list(dict.fromkeys(args.lenses))  # each lens once (its L-BFGS is the slow part), as first named
    for lens in args.lenses:  # every input checked before the first (slow) lens
        for path in (args.run / "lenses" / lens / "result.json", args.lens_dir / lens / "truth.json"):
            if not path.is_file():
                raise SystemExit(f"error: no {path}")
    rows = []
    for lens in args.lenses:
        stored_path = args.run / "lenses" / lens / "result.json"
        try:
            stored, problem, fit = load_stored(stored_path, base_dir_option=None)
        except TinyLensError as err:  # moved data, an unreadable result.json
            raise SystemExit(f"error: {err}") from None
        row = {"lens": lens, **check(problem, true_vector(args.lens_dir / lens / "truth.json", problem.param_names), fit, args.gain)}
        if args.nsub:
            row.update(grid_shift(problem, on_grid(stored, args.nsub), fit, catalogue_widths(args.run, lens)))
        rows.append(row)
        print(f"{lens}: theta_E true {row['theta_E_true']:.4f} fit {row['theta_E_fit']:.4f} from truth "
              f"{row['theta_E_from_truth']:.4f}; log P truth {row['log_P_truth']:.1f} fit {row['log_P_fit']:.1f} "
              f"from truth {row['log_P_from_truth']:.1f} -> {row['verdict']}")
        if args.nsub:
            shifts = [f"{k[: -len('_shift_sigma')]} {v:+.2f}" for k, v in row.items() if k.endswith("_shift_sigma")]
            print(f"  uniform {args.nsub}x{args.nsub} grid: theta_E {row['lens_mass.0.theta_E_grid_fit']:.4f} -> "
                  f"{row['lens_mass.0.theta_E_grid_fine']:.4f}; shifts in sigma: {', '.join(shifts) or 'no widths'}")
    if args.output:
        write_csv(args.output, pd.DataFrame(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
