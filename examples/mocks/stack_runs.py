"""Stack the catalogues of several mock surveys, and their truth tables, into one pair that
``tinylens report`` reads as a single sample.

Two populations simulated apart (say ``--seed 1`` and ``--seed 2``) both name their lenses
``lens_00000, ...``; each run's ``lens_id`` gets the run's label in front (``s1/lens_00000``), so
catalogue and truth still join one to one::

    python examples/mocks/stack_runs.py stacked \\
        --run s1 runSIE/catalog.csv mocksSIE/truth.csv \\
        --run s2 runSIE2/catalog.csv mocksSIE2/truth.csv
    tinylens report stacked/catalog.csv --truth stacked/truth.csv --where "arc_snr_total >= 20"

A label given again, with the same truth table, is a partial refit of that run: its rows
replace the earlier ones of the lenses it holds (``--run s2 runSIE2/catalog.csv
mocksSIE2/truth.csv --run s2 runSIE2_dbl/catalog.csv mocksSIE2/truth.csv``).

Writes ``OUT/catalog.csv`` and ``OUT/truth.csv`` (each atomically). Columns missing from one run
are left empty in its rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from tinylens.errors import TinyLensError
from tinylens.results.report import read_table
from tinylens.results.tables import write_csv


def stack(runs: list[tuple[str, str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(catalog, truth)`` of ``runs`` = ``[(label, catalog path, truth path), ...]`` with
    ``lens_id`` prefixed ``label/``; a label given again replaces its earlier rows of the lenses
    it holds. A label given again with another truth table, or a catalogue naming lenses its
    truth table lacks (the wrong truth.csv for that run), is a ValueError."""
    catalogs: dict[str, pd.DataFrame] = {}
    truths: dict[str, tuple[Path, pd.DataFrame]] = {}
    for label, catalog_path, truth_path in runs:
        catalog = read_table(Path(catalog_path), "catalogue")
        if "status" not in catalog.columns:  # e.g. the truth table given first: stacked, the report refuses it
            raise ValueError(f"run {label!r}: the catalogue {catalog_path} has no 'status' column; give the "
                             "catalog.csv of 'tinylens survey' first, then the population's truth.csv")
        if label in truths:
            if Path(truth_path).resolve() != truths[label][0]:
                raise ValueError(f"run {label!r} is given with two truth tables ({truths[label][0]} and {truth_path}); "
                                 "a label given again is a refit of the same population")
            truth = truths[label][1]
        else:
            truth = read_table(Path(truth_path), "truth table")
            truths[label] = (Path(truth_path).resolve(), truth)
        unknown = sorted(set(catalog["lens_id"].astype(str)) - set(truth["lens_id"].astype(str)))
        if unknown:
            raise ValueError(f"run {label!r}: {len(unknown)} lenses of {catalog_path} are not in {truth_path} "
                             f"(first: {unknown[0]}); is that the truth table of this run's population?")
        catalog = catalog.assign(lens_id=catalog["lens_id"].astype(str))
        earlier = catalogs.get(label)
        if earlier is not None:
            catalog = pd.concat([earlier[~earlier["lens_id"].isin(catalog["lens_id"])], catalog], ignore_index=True)
        catalogs[label] = catalog
    prefixed = lambda frame, label: frame.assign(lens_id=label + "/" + frame["lens_id"].astype(str))  # noqa: E731
    return (pd.concat([prefixed(c, label) for label, c in catalogs.items()], ignore_index=True),
            pd.concat([prefixed(t, label) for label, (_, t) in truths.items()], ignore_index=True))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the stacked catalog.csv and truth.csv")
    parser.add_argument("--run", nargs=3, action="append", required=True, metavar=("LABEL", "CATALOG", "TRUTH"),
                        help="one survey: a short label, its catalog.csv and the population's truth.csv "
                             "(repeatable; a label given again replaces that run's rows of the lenses it holds)")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"{args.out} is a file: give a folder for the stacked catalog.csv and truth.csv")
    inputs = {Path(path).resolve() for run in args.run for path in run[1:]}
    clash = [str(args.out / name) for name in ("catalog.csv", "truth.csv") if (args.out / name).resolve() in inputs]
    if clash:
        parser.error(f"{args.out}: the stacked tables would replace the input {clash[0]}; give another folder")
    try:
        catalog, truth = stack([tuple(r) for r in args.run])
    except (ValueError, TinyLensError) as err:
        raise SystemExit(f"error: {err}") from None
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "catalog.csv", catalog)
    write_csv(args.out / "truth.csv", truth)
    print(f"{len(catalog)} fits and {len(truth)} true lenses from {len(args.run)} runs in {args.out}")


if __name__ == "__main__":
    main()
