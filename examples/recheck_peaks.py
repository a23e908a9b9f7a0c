"""The ``peaks_apart`` check on stored results, including those made before it existed.

``peaks_apart`` (:func:`tinylens.results.quality.peaks_apart`) asks whether the arc's significant
image peaks meet on the source plane under the best-fit mass; a peak that lands more than one
Einstein radius from the source is an image the model leaves out (SLACS J2303+1422's wrong fit,
0.89" against 1.62"). This reads each ``result.json`` under the given folders (survey outputs or
single result folders; a result.json itself is taken too), computes the check at its best fit and
writes one row per result::

    python examples/recheck_peaks.py slacs_run [more_runs ...] [-o peaks.csv]

or at the best fits of stages 1-3 kept by ``examples/stages_only.py --states DIR``::

    python examples/recheck_peaks.py DIR/*.json --lens-dir LENSES \\
        --template examples/slacs/template_2mge_sie.yaml

LENSES is the folder of lens folders those stages were run on (docs/slacs.md): the SLACS
development set is ../shared/data/slacs_dev only from a checkout beside shared/, as the project's is.

``trusted_now`` is the stored verdict, withdrawn where the check is raised and critical under the
result's own ``quality.critical`` (or the default list). Nothing stored is rewritten.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import tinylens
from tinylens.errors import TinyLensError, counted
from tinylens.results.quality import PEAKS_APART_THETA_E, critical_flags, peaks_apart
from tinylens.results.stored import load_stage_state, load_stored, result_files, without_results
from tinylens.results.tables import unwritable_file, write_csv
from tinylens.survey.runner import find_lenses, lens_config, load_template

FLAG = "peaks_apart"


def _row(where: str, problem, theta: np.ndarray, quality: dict | None) -> dict:
    """The check at ``theta``; ``quality``: the stored result's (None for a state, which has none)."""
    apart = peaks_apart(problem, theta)
    raised = apart is not None and apart > PEAKS_APART_THETA_E
    critical = FLAG in critical_flags(problem)
    row = {"result": where, "peaks_apart_theta_E": apart, "flag_now": raised, "critical": critical,
           "trusted_stored": None, "trusted_now": None}
    if quality is not None:
        row.update(trusted_stored=quality.get("trusted"),
                   trusted_now=bool(quality.get("trusted")) and not (raised and critical))
    return row


def recheck(path: Path) -> dict:
    """The check at the best fit of the ``result.json`` at ``path``, as a row."""
    try:
        stored, problem, best = load_stored(path, base_dir_option=None)
    except TinyLensError as err:  # moved data, an unreadable result.json
        raise SystemExit(f"error: {err}") from None
    return _row(str(path.parent), problem, best, stored.get("quality", {}))


def recheck_state(path: Path, lenses: dict, template: dict) -> dict:
    """The check at the stage-3 best fit kept in ``path`` (``LENS.json`` of ``stages_only.py``)."""
    lens = Path(path).stem
    if lens not in lenses:
        raise SystemExit(f"error: {path}: no lens {lens!r} in --lens-dir (a state file is named LENS.json)")
    try:  # a missing or unreadable FITS file of the lens folder, a template that does not fit it
        problem = tinylens.load(lens_config(template, lenses[lens], "recheck_out"))
        _, best = load_stage_state(path, problem.param_names)
    except TinyLensError as exc:
        raise SystemExit(f"error: {exc}") from None
    return _row(str(path), problem, best, None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+",
                    help="survey outputs, result folders or result.json files (or state files, with --template)")
    ap.add_argument("-o", "--output", help="also write the rows as CSV")
    ap.add_argument("--template", help="the template the states were made with")
    ap.add_argument("--lens-dir", help="the lens folders of the states")
    args = ap.parse_args(argv)
    if args.output and (why := unwritable_file(args.output)):
        ap.error(f"-o {args.output}: {why}")
    warnings.simplefilter("ignore")
    if args.lens_dir and not args.template:
        ap.error("--lens-dir needs --template (the template the states were made with)")
    if args.template:
        if not args.lens_dir:
            ap.error("--template needs --lens-dir")
        try:
            lenses = {lens.lens_id: lens for lens in find_lenses(args.lens_dir)}
            template = load_template(args.template)
        except TinyLensError as err:
            raise SystemExit(f"error: {err}") from None
        states: dict[Path, Path] = {}
        for f in map(Path, args.folders):  # each file once, as first named (DIR/*.json DIR/lens.json)
            states.setdefault(f.resolve(), f)
        rows = [recheck_state(path, lenses, template) for path in states.values()]
    else:
        empty = without_results(args.folders)
        if empty:  # each named: a mistyped folder among several is not skipped unseen
            states = any(Path(f).is_file() and Path(f).suffix == ".json" for f in empty)
            hint = "; a state file of stages_only.py --states needs --template and --lens-dir" if states else ""
            print(f"no result.json under {', '.join(empty)} (give survey outputs, result folders or result.json "
                  f"files{hint})", file=sys.stderr)
            return 1
        files = result_files(args.folders)
        rows = [recheck(f) for f in files]
    for r in rows:
        apart = "-" if r["peaks_apart_theta_E"] is None else f"{r['peaks_apart_theta_E']:.2f}"
        trust = "" if r["trusted_stored"] is None else f"  trusted {r['trusted_stored']} -> {r['trusted_now']}"
        print(f"{r['result']}: peaks_apart {apart} theta_E{'  RAISED' if r['flag_now'] else ''}{trust}")
    print(f"{counted(len(rows), 'result')}, {sum(r['flag_now'] for r in rows)} with {FLAG}")
    if args.output:
        write_csv(args.output, pd.DataFrame(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
