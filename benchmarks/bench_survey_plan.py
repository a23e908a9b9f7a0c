"""Wall time of a survey's plan and closing summary over lenses its sampler's budget stopped.

A survey continued with a raised ``n_like_max`` (:func:`tinylens.survey.runner.plan`) decides for
each lens flagged ``unconverged`` whether its fit is of the template's settings and is fitted
further; its closing lines (:func:`tinylens.survey.resume.budget_stopped`) count them. Each lens
here is a folder of placeholder files (a plan reads only their names; every fourth has its own
mask.fits) with a result.json of a fit that n_like_max 300 stopped.

    python benchmarks/bench_survey_plan.py                  # 1000 lenses
    python benchmarks/bench_survey_plan.py --lenses 10000 --older

Not a test; the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from tinylens.results.tables import write_json
from tinylens.survey import runner

#: The summary numbers every result.json holds (their values do not matter here).
RESULT = {"median": {"lens_mass.0.theta_E": 1.0}, "interval_68": {"lens_mass.0.theta_E": [0.9, 1.1]},
          "interval_997": {"lens_mass.0.theta_E": [0.8, 1.2]}, "log_evidence": -1.0, "n_likelihood_evals": 300,
          "wall_time_s": 1.0, "quality": {"trusted": False, "flags": []}}


def template() -> dict[str, Any]:
    """An SIS lensing a Sersic source (amplitude linear), nautilus stopped at 300 likelihood calls."""
    free, fixed = {"prior_type": "uniform", "prior_settings": [0.5, 1.5]}, {"fixed": True, "fixed_value": 0.0}
    return {"dataset": {"data_path": "image.fits", "noise_path": "noise.fits", "psf_path": "psf.fits",
                        "pixel_scale": 0.1},
            "model_components": {
                "lens_mass_list": [{"type": "SIS", "params": {"theta_E": free, "center_x": fixed, "center_y": fixed}}],
                "source_light_list": [{"type": "Sersic", "params": {
                    "R_sersic": {"fixed": True, "fixed_value": 0.2}, "n_sersic": {"fixed": True, "fixed_value": 1.0},
                    "e1": fixed, "e2": fixed, "center_x": fixed, "center_y": fixed, "Ie": {"use_linear": True}}}]},
            "inference": {"type": "sampler", "method": "nautilus", "settings": {"nlive": 50, "n_like_max": 300}}}


def stopped_lenses(root: Path, n: int, older: bool) -> tuple[list[runner.Lens], dict[str, dict[str, Any]]]:
    """``n`` lenses under ``root`` with their stopped fits in ``root / 'out'`` (``older``: each
    result.json as an older tinylens wrote it, without pipeline.n_sigma and the quality block)."""
    config, lenses, rows = template(), [], {}
    for i in range(n):
        lens = runner.Lens(f"lens_{i:05d}", root / "lenses" / f"lens_{i:05d}")
        lens.folder.mkdir(parents=True)
        for name in ("image.fits", "noise.fits", "psf.fits", *(("mask.fits",) if i % 4 == 0 else ())):
            (lens.folder / name).write_bytes(b"placeholder")
        fitted = runner.fitted_config(runner.lens_config(config, lens, root / "out"))
        if older:
            del fitted["pipeline"]["n_sigma"], fitted["quality"]
        lens.output(root / "out").mkdir(parents=True)
        write_json(lens.output(root / "out") / "result.json",
                   {**RESULT, "method": "nautilus", "converged": False, "config": fitted,
                    "info": {"settings": dict(config["inference"]["settings"]),
                             "pipeline": {"sampler_converged": False, "sampling_runs": [{"n_likelihood_evals": 300}]}}})
        rows[lens.lens_id] = {**runner.flat_row(lens.lens_id, RESULT), "flags": "unconverged"}
        lenses.append(lens)
    return lenses, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lenses", type=int, default=1000, help="how many stopped lenses (default 1000)")
    parser.add_argument("--older", action="store_true", help="result.json files of an older tinylens")
    args = parser.parse_args()
    if args.lenses < 1:
        parser.error(f"--lenses must be at least 1; got {args.lenses}")
    with tempfile.TemporaryDirectory(prefix="bench_survey_plan_") as tmp:
        root = Path(tmp)
        lenses, rows = stopped_lenses(root, args.lenses, args.older)
        raised = json.loads(json.dumps(template()))
        raised["inference"]["settings"]["n_like_max"] = 3000
        t0 = time.perf_counter()
        further = runner.plan(lenses, rows, root / "out", template=raised)
        planned = time.perf_counter() - t0
        t0 = time.perf_counter()
        stopped = runner.budget_stopped(list(rows.values()), root / "out", template(), root / "lenses")
        summed = time.perf_counter() - t0
    n = args.lenses
    print(f"{n} stopped lenses{' (older result.json)' if args.older else ''}: plan {planned:.2f} s "
          f"({1e3 * planned / n:.2f} ms a lens, {len(further)} fitted further); budget_stopped {summed:.2f} s "
          f"({1e3 * summed / n:.2f} ms a lens, {len(stopped)} counted)")


if __name__ == "__main__":
    main()
