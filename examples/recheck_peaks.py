"""The ``peaks_apart`` check on stored results, including those made before it existed.

``peaks_apart`` (:func:`tinylens.results.quality.peaks_apart`) asks whether the arc's significant
image peaks meet on the source plane under the best-fit mass; a peak that lands more than one
Einstein radius from the source is an image the model leaves out (SLACS J2303+1422's wrong fit,
0.89" against 1.62"). This reads each ``result.json`` under the given folders (survey outputs or
single result folders), computes the check at its best fit and writes one row per result::

    python examples/recheck_peaks.py slacs_run [more_runs ...] [-o peaks.csv]

``trusted_now`` is the stored verdict, withdrawn where the check is raised and critical under the
result's own ``quality.critical`` (or the default list). Nothing stored is rewritten.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import pandas as pd

from tinylens.results.quality import PEAKS_APART_THETA_E, critical_flags, peaks_apart
from tinylens.results.stored import load_stored, result_files
from tinylens.results.tables import write_csv

FLAG = "peaks_apart"


def recheck(path: Path) -> dict:
    """The check at the best fit of the ``result.json`` at ``path``, as a row."""
    stored, problem, best = load_stored(path)
    apart = peaks_apart(problem, best)
    raised = apart is not None and apart > PEAKS_APART_THETA_E
    critical = FLAG in critical_flags(problem)
    quality = stored.get("quality", {})
    return {"result": str(path.parent), "peaks_apart_theta_E": apart, "flag_now": raised, "critical": critical,
            "trusted_stored": quality.get("trusted"),
            "trusted_now": bool(quality.get("trusted")) and not (raised and critical)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", help="survey outputs or result folders")
    ap.add_argument("-o", "--output", help="also write the rows as CSV")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    files = result_files(args.folders)
    if not files:
        print(f"no result.json under {', '.join(args.folders)}", file=sys.stderr)
        return 1
    rows = [recheck(f) for f in files]
    for r in rows:
        apart = "-" if r["peaks_apart_theta_E"] is None else f"{r['peaks_apart_theta_E']:.2f}"
        print(f"{r['result']}: peaks_apart {apart} theta_E{'  RAISED' if r['flag_now'] else ''}"
              f"  trusted {r['trusted_stored']} -> {r['trusted_now']}")
    print(f"{len(rows)} results, {sum(r['flag_now'] for r in rows)} with {FLAG}")
    if args.output:
        write_csv(args.output, pd.DataFrame(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
