"""Wall time of a whole ``tinylens fit`` per lens on the CSST-like mock population.

For each lens: the fit's wall time, the number of likelihood calls, the time spent inside the
(batched) likelihood and the rest (the sampler's own work: nautilus trains neural networks to
bound the likelihood), the pipeline's stages before sampling, and the outputs (tables, figures,
derived quantities and quality flags), each timed separately.

    python benchmarks/bench_fit.py                       # 5 mocks, made on the fly
    python benchmarks/bench_fit.py -n 10 --seed 3
    python benchmarks/bench_fit.py --lens-dir MOCKS --config MOCKS/template.yaml
    python benchmarks/bench_fit.py --json fit_times.json

Medians are reported: the machines are shared and noisy. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml


def lens_folders(lens_dir: Path) -> list[Path]:
    return sorted(p for p in lens_dir.iterdir() if (p / "image.fits").exists())


def config_for(template: dict, lens: Path, out: Path) -> dict:
    """``template`` filled in for the lens folder ``lens`` as ``tinylens survey`` does (its mask.fits
    included, when it has one), its outputs under ``out``."""
    from tinylens.survey.runner import Lens, lens_config

    return lens_config(template, Lens(lens.name, lens.resolve()), out)


def _truth(lens_dir: Path) -> dict[str, float]:
    """True Einstein radii from a population's truth.csv, if there is one."""
    path = lens_dir / "truth.csv"
    if not path.exists():
        return {}
    import pandas as pd

    t = pd.read_csv(path)
    return dict(zip(t["lens_id"], t["lens_mass.0.theta_E"])) if "lens_mass.0.theta_E" in t else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5, help="number of lenses: mocks simulated, or the first n of --lens-dir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lens-dir", type=Path)
    ap.add_argument("--config", type=Path, help="template YAML (default: LENS_DIR/template.yaml)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from tinylens.results.tables import unwritable_file

    if args.json is not None and (why := unwritable_file(args.json)):  # found now, not after the timings
        ap.error(f"--json {args.json}: {why}")

    import tinylens

    if args.n < 1:
        ap.error(f"-n {args.n}: give at least one lens")
    if args.lens_dir is not None and not args.lens_dir.is_dir():
        ap.error(f"--lens-dir {args.lens_dir}: no such folder")
    try:
        return run(args)
    except (tinylens.TinyLensError, OSError, yaml.YAMLError) as err:
        raise SystemExit(f"error: {err}") from None


def run(args: argparse.Namespace) -> None:
    """Time the fits in a temporary folder (the mocks and the fits' outputs), deleted at the end."""
    with tempfile.TemporaryDirectory(prefix="bench_fit_") as work:
        time_fits(args, Path(work))


def time_fits(args: argparse.Namespace, work: Path) -> None:
    """Fit each lens into ``work`` (where the mocks are made, without --lens-dir) and print the timings."""
    import tinylens

    lens_dir = args.lens_dir
    if lens_dir is None:
        from tinylens.survey.population import simulate_population

        lens_dir = work / "mocks"
        simulate_population(args.n, lens_dir, seed=args.seed, progress=False)
    from tinylens.survey.runner import load_template

    template = load_template(args.config or lens_dir / "template.yaml")
    lenses = lens_folders(lens_dir)[: args.n]
    if not lenses:
        raise SystemExit(f"error: no lens folder (with image.fits) in {lens_dir}")
    source = lens_dir if args.lens_dir is not None else f"the mock population of seed {args.seed}"
    print(f"{len(lenses)} lenses from {source}; CPUs: {os.cpu_count()}")
    print(f"{'lens':>12} {'wall s':>8} {'stages s':>8} {'calls':>8} {'like s':>8} {'ms/call':>8} {'sampler s':>9} "
          f"{'outputs s':>9} {'theta_E':>8} {'true':>8}")
    rows = []
    truth = _truth(lens_dir)
    for lens in lenses:
        t0 = time.perf_counter()
        res = tinylens.fit(config_for(template, lens, work / "out"), progress=False)
        total = time.perf_counter() - t0
        like = float(res.info.get("likelihood_time_s", np.nan))
        pipe = res.info.get("pipeline") or {}
        stages = float(pipe.get("stage_time_s", 0.0))
        sampling = float(sum(r["wall_time_s"] for r in pipe["sampling_runs"])) if pipe else res.wall_time_s
        calls = int(sum(r["n_likelihood_evals"] for r in pipe["sampling_runs"])) if pipe else res.n_likelihood_evals
        row = {
            "lens_id": lens.name,
            "total_s": total,
            "stages_s": stages,
            "sampling_s": sampling,
            "n_like": calls,
            "likelihood_s": like,
            "sampler_overhead_s": sampling - like,
            "outputs_s": total - res.wall_time_s,
            "theta_E": res.median.get("lens_mass.0.theta_E"),
            "theta_E_true": truth.get(lens.name, np.nan),
        }
        rows.append(row)
        print(f"{lens.name:>12} {total:8.1f} {stages:8.1f} {calls:8d} {like:8.1f} {1e3 * like / max(calls, 1):8.3f} "
              f"{row['sampler_overhead_s']:9.1f} {row['outputs_s']:9.1f} {row['theta_E']:8.4f} {row['theta_E_true']:8.4f}",
              flush=True)
    med = {k: float(np.median([r[k] for r in rows])) for k in rows[0] if k not in ("lens_id", "theta_E", "theta_E_true")}
    print("\nmedian over lenses: " + ", ".join(f"{k} {v:.1f}" for k, v in med.items()))
    print(f"likelihood share of the sampling time: {med['likelihood_s'] / med['sampling_s']:.0%}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "median": med}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
