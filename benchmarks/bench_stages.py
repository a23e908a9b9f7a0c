"""Wall time of the pipeline's stages 1-3 (lens light, arc, mass and source) by ``pipeline.threads``.

The stages' optimiser runs many independent starts; with ``threads`` > 1 they run that many at a
time in step, each step's evaluations batched into one compiled call
(:meth:`tinylens.pipeline.optimize.Objective.minimize_many`). On a GPU a batch costs about what
one evaluation does; on a CPU it costs what its rows do one by one. Each setting is timed after
a first run that compiles everything (excluded), and the best fit of each is compared with that
of one thread.

    python benchmarks/bench_stages.py                      # the demo lens; threads 1, 2, 8
    python benchmarks/bench_stages.py --threads 1,8,16 --reps 3
    python benchmarks/bench_stages.py --config my_lens.yaml --json stage_times.json

Medians are reported: the machines are shared and noisy. Not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


#: How the timings name the demo lens, whose temporary folder is deleted before they start.
DEMO = "the demo lens (tinylens demo)"


def lens_name(config: Path | None) -> str:
    """The lens the timings are of: its YAML, or :data:`DEMO` without one."""
    return DEMO if config is None else str(config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, help="a lens's YAML (default: the demo lens, written to a temporary folder)")
    ap.add_argument("--threads", default="1,2,8", help="comma-separated thread counts (default 1,2,8)")
    ap.add_argument("--reps", type=int, default=1, help="timed runs per setting (default 1)")
    ap.add_argument("--json", type=Path, help="write the timings here")
    args = ap.parse_args()
    from tinylens.results.tables import unwritable_file

    if args.json is not None and (why := unwritable_file(args.json)):  # found now, not after the timings
        ap.error(f"--json {args.json}: {why}")

    import jax

    from tinylens.pipeline.optimize import Objective
    from tinylens.pipeline.run import optimise
    from tinylens.problem import load

    from tinylens.errors import TinyLensError

    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        ap.error(f"--threads {args.threads!r}: give whole numbers separated by commas, e.g. 1,2,8")
    if min(threads) < 1 or args.reps < 1:
        ap.error("--threads and --reps must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        config = args.config
        if config is None:
            from tinylens.cli.demo import write_demo

            config = write_demo(Path(tmp) / "demo")
        try:
            problem = load(str(config))
        except TinyLensError as err:
            raise SystemExit(f"error: {err}") from None
    settings = problem.config.pipeline
    name = lens_name(args.config)  # the demo's temporary folder is gone by now
    print(f"{name}: {problem.ndim} free parameters, JAX on {jax.default_backend()} ({jax.devices()[0]})")
    rows, reference = [], None
    for n in threads:
        t0 = time.perf_counter()
        optimise(Objective(problem, threads=n), settings)  # compiles (or reads the compilation cache)
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            state = optimise(Objective(problem, threads=n), settings)
            times.append(time.perf_counter() - t0)
        best = np.asarray(state["best"])
        reference = best if reference is None else reference
        row = {"threads": n, "median_s": float(np.median(times)), "first_run_s": first, "times_s": times,
               "gradient_calls": int(state["n_evals"]),
               "log_posterior": float(state["stages"]["mass_source"]["log_posterior"]),
               "max_abs_diff_from_first_setting": float(np.max(np.abs(best - reference)))}
        rows.append(row)
        print(f"threads {n:3d}: median {row['median_s']:7.2f} s over {args.reps} (first run {first:.2f} s), "
              f"{row['gradient_calls']} gradient calls, log P {row['log_posterior']:.3f}, "
              f"best fit within {row['max_abs_diff_from_first_setting']:.1e} of threads={threads[0]}", flush=True)
    base = rows[0]["median_s"]
    for row in rows[1:]:
        print(f"threads {row['threads']}: {base / row['median_s']:.2f}x the speed of threads {rows[0]['threads']}")
    if args.json:
        args.json.write_text(json.dumps({"config": name, "backend": jax.default_backend(), "runs": rows}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
