"""The survey's catalogue: one row per lens (:func:`catalog_frame`), written atomically as
``out/catalog.parquet`` and ``out/catalog.csv`` together (:func:`write_catalog`) each time the
survey flushes its rows, so that a reader never sees half a table, nor the two of different flushes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from tinylens.filenames import CATALOG_CSV, CATALOG_PARQUET, TEXT_COLUMNS
from tinylens.survey.rows import ID_COLUMNS, QUALITY_COLUMNS, SCALARS


# -- catalogue --------------------------------------------------------------------------------
def catalog_frame(rows: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per lens, sorted by ``lens_id``: ids, status and quality first, then the
    statistics, the scalars and ``warnings``. Every column the documentation lists is there even
    when no row has it (all lenses failed, rows recovered from ``result.json`` without warnings)."""
    fixed = [*ID_COLUMNS, *QUALITY_COLUMNS, *SCALARS, "warnings"]
    frame = pd.DataFrame([dict(rows[k], lens_id=k) for k in sorted(rows)])
    for column in fixed:
        if column not in frame:
            frame[column] = None
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str)
    frame["trusted"] = frame["trusted"].astype("boolean")
    frame["n_likelihood_evals"] = pd.to_numeric(frame["n_likelihood_evals"]).astype("Int64")
    stats = [c for c in frame.columns if c not in fixed]
    for column in [*stats, *(c for c in SCALARS if c != "n_likelihood_evals")]:  # the count is an Int64 above
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame[[*ID_COLUMNS, *QUALITY_COLUMNS, *stats, *SCALARS, "warnings"]].reset_index(drop=True)


def write_catalog(rows: Mapping[str, Mapping[str, Any]], out: str | Path) -> pd.DataFrame:
    """Write ``catalog.parquet`` and ``catalog.csv`` in ``out``, both or neither
    (:func:`~tinylens.results.tables.write_tables`): a survey stopped while writing them (Ctrl-C,
    a full disk) leaves the two of one flush, never a new Parquet beside an old CSV; return the frame."""
    from tinylens.results import tables

    frame = catalog_frame(rows)
    out = Path(out)
    tables.write_tables({out / CATALOG_PARQUET: frame, out / CATALOG_CSV: frame})
    return frame
