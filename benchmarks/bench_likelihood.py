"""Likelihood speed and accuracy of tinylens against lenstronomy, side by side in one run.

The benchmark lens is the seed paper's (section 3.1.4): 200x200 pixels at 0.074", SIE +
external shear, a Sersic lens light and a Sersic source with amplitudes solved linearly, a
21x21 PSF, and 4x4 supersampling as lenstronomy's accuracy reference.

    python benchmarks/bench_likelihood.py                 # everything
    python benchmarks/bench_likelihood.py --quick         # fewer repeats and sizes
    python benchmarks/bench_likelihood.py --json out.json # also write the numbers

Timings are medians over repeats (the machines are shared and noisy); compilation is
excluded and reported separately. Not a test: nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lens_setup import benchmark_truth, lenstronomy_models, tinylens_config  # noqa: E402

import jax  # noqa: E402

import tinylens  # noqa: E402


def median_time(fn, repeats: int, min_time: float = 0.2) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs (each run repeated to >= min_time)."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-6)
    inner = max(1, int(min_time / one))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return float(np.median(times))


def time_lenstronomy(size: int, repeats: int, nsub: int = 4):
    """Median time of one lenstronomy likelihood (linear amplitudes solved)."""
    truth = benchmark_truth()
    fit, kw, _ = lenstronomy_models(size, nsub=nsub)
    call = lambda: fit.likelihood_data_given_model(kwargs_lens=kw["lens"], kwargs_source=kw["source"], kwargs_lens_light=kw["lens_light"])
    return median_time(call, repeats), truth


def tinylens_problem(tmp: Path, size: int, numerics: dict | None = None):
    cfg = tinylens_config(tmp / f"s{size}", size, numerics=numerics)
    return tinylens.load(cfg)


def time_tinylens(problem, batch: int, repeats: int) -> tuple[float, float]:
    """(seconds per likelihood, compile seconds) for a batch of ``batch`` vectors."""
    rng = np.random.default_rng(0)
    from lens_setup import truth_vector

    t = truth_vector(problem.param_names)
    thetas = t + 1e-3 * rng.normal(size=(batch, t.size))
    t0 = time.perf_counter()
    if batch == 1:
        problem.log_likelihood(thetas[0])
        compile_s = time.perf_counter() - t0
        per = median_time(lambda: problem.log_likelihood(thetas[0]), repeats)
    else:
        problem.log_likelihood(thetas)
        compile_s = time.perf_counter() - t0
        per = median_time(lambda: problem.log_likelihood(thetas), repeats) / batch
    return per, compile_s


def accuracy(tmp: Path, size: int) -> dict:
    """Max pixel difference over peak from the same model at 16x16 supersampling."""
    from lens_setup import truth_vector

    fit4, kw, images = lenstronomy_models(size, nsub=4, with_images=True)
    _, _, images16 = lenstronomy_models(size, nsub=16, with_images=True)
    peak = np.abs(images16).max()
    out = {"lenstronomy_4x4": float(np.abs(images - images16).max() / peak)}
    with tempfile.TemporaryDirectory() as d:
        ref = tinylens_problem(Path(d), size, {"mode": "uniform", "nsub": 16})
        theta = truth_vector(ref.param_names)
        # fixed amplitudes: reuse the 16x16 amplitudes for every numerics choice
        img16 = ref.model_image(theta)["total"]
        for label, numerics in [("tinylens_default", None), ("tinylens_uniform_4x4", {"mode": "uniform", "nsub": 4})]:
            p = tinylens_problem(Path(d), size, numerics)
            img = p.model_image(theta)["total"]
            out[label] = float(np.abs(img - img16).max() / np.abs(img16).max())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from tinylens.results.tables import unwritable_file

    if args.json is not None and (why := unwritable_file(args.json)):  # found now, not after the timings
        ap.error(f"--json {args.json}: {why}")
    with tempfile.TemporaryDirectory(prefix="bench_likelihood_") as tmp:
        results = measure(Path(tmp), args.quick)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def measure(tmp: Path, quick: bool) -> dict:
    """Print the timings and accuracies, and return them; the benchmark lens's files go to ``tmp``."""
    repeats = 5 if quick else 11
    results: dict = {"device": str(jax.devices()[0]), "cpu_count": os.cpu_count()}
    print(f"device: {results['device']}, CPUs: {results['cpu_count']}")

    print("\n== Benchmark lens 200x200, SIE+shear, Sersic lens + source (linear), 21x21 PSF ==")
    t_len, _ = time_lenstronomy(200, repeats)
    results["lenstronomy_ms"] = t_len * 1e3
    print(f"lenstronomy (4x4 supersampling, linear solve): {t_len * 1e3:9.3f} ms per likelihood")
    problem = tinylens_problem(tmp, 200)
    results["tinylens"] = {}
    best = np.inf
    batches = [1, 4, 16, 64, 256] if quick else [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    for b in batches:
        per, comp = time_tinylens(problem, b, repeats)
        best = min(best, per)
        results["tinylens"][b] = {"ms": per * 1e3, "compile_s": comp}
        print(f"tinylens batch {b:5d}: {per * 1e3:9.4f} ms per likelihood   ratio {t_len / per:8.1f}x   (compile {comp:.1f} s)")
    results["best_ratio"] = t_len / best
    print(f"best ratio lenstronomy / tinylens: {t_len / best:.1f}x")

    print("\n== Accuracy: max |model - model(16x16)| / peak ==")
    acc = accuracy(tmp, 200)
    results["accuracy"] = acc
    for k, v in acc.items():
        print(f"{k:24s} {v:.2e}")

    print("\n== Scaling with image size (best of batch 1 and 64) ==")
    results["scaling"] = {}
    sizes = [50, 100, 200] if quick else [50, 100, 200, 300, 400]
    for n in sizes:
        p = tinylens_problem(tmp, n)
        t1, _ = time_tinylens(p, 1, repeats)
        t64, _ = time_tinylens(p, 64, repeats)
        tl, _ = time_lenstronomy(n, max(3, repeats // 2))
        results["scaling"][n] = {"tinylens_b1_ms": t1 * 1e3, "tinylens_b64_ms": t64 * 1e3, "lenstronomy_ms": tl * 1e3}
        print(f"{n:4d} px: tinylens b1 {t1 * 1e3:8.3f} ms, b64 {t64 * 1e3:8.3f} ms; lenstronomy {tl * 1e3:8.2f} ms; ratio {tl / min(t1, t64):6.1f}x")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["peak_rss_mb"] = peak
    print(f"\npeak memory (RSS of this process): {peak:.0f} MB")
    return results


if __name__ == "__main__":
    main()
