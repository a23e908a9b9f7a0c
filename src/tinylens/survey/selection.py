"""Which lenses of a survey to fit: ``tinylens survey ... --only``.

After a survey, the lenses worth a second look are a list: ``inspect.csv`` of ``tinylens
report`` (the untrusted and failed fits), a selection made with pandas, a few ids typed by hand.
``--only`` takes any of them, so that those lenses can be fitted again with a richer template
(into a new ``--out``) without building a second lens folder:

* lens ids separated by commas: ``--only lens_0003,lens_0017``;
* a CSV (maybe compressed: ``inspect.csv.gz``), Parquet, FITS or ECSV table with a lens id column (``lens_id``, or one of
  :data:`tinylens.results.report.ID_ALIASES`), such as ``inspect.csv`` or a filtered catalogue
  (a compressed Parquet name, ``inspect.parquet.gz``, is refused: Parquet compresses inside the file);
* any other file: one id per line (blank lines and ``#`` comments skipped).

A table with an id column and no rows lists no lens on purpose (``inspect.csv`` of a survey whose
lenses are all trusted): :func:`read_lens_ids` gives ``[]`` for it, and the survey fits nothing and
says so (:func:`nothing_listed`). Anything else that names no lens is a mistake.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tinylens.errors import TinyLensError, lens_count, listed


def is_table_name(path: Path) -> bool:
    """Whether ``path`` names a table (a CSV, FITS or ECSV table, maybe compressed, or a Parquet
    table: :func:`~tinylens.results.table_formats.names_a_table`) rather than a file of ids; a
    compressed Parquet name (``inspect.parquet.gz``) too, so that it is refused as such, not read as ids."""
    from tinylens.results.table_formats import names_a_table, table_format

    return names_a_table(path.name) or table_format(path.name)[0] == "parquet"


def read_lens_ids(value: str) -> list[str]:
    """The lens ids that ``value`` names (a file, or ids separated by commas), in order, each once;
    ``[]`` for a table with an id column but no rows (see :func:`nothing_listed`)."""
    from tinylens.config.loader import home_expanded

    path = home_expanded(value)
    if path.is_file():
        if is_table_name(path):
            from tinylens.results.report import read_table

            table = read_table(path, "--only table")
            if not len(table):
                return []
            ids = [i for i in table["lens_id"] if isinstance(i, str)]
        else:
            try:
                lines = path.read_text().splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise TinyLensError(f"The --only file {path} cannot be read as text ({exc}).") from None
            ids = [line.split("#", 1)[0].strip() for line in lines]
        where = f"The --only file {path}"
    elif is_table_name(path) or path.suffix.lower() == ".txt" or "/" in value:
        raise TinyLensError(f"The --only file {path} {_not_a_file(path)}. Give an existing file (e.g. inspect.csv "
                            "of 'tinylens report') or lens ids separated by commas.")
    else:
        ids = [part.strip() for part in value.split(",")]
        where = f"--only {value!r}"
    ids = list(dict.fromkeys(i for i in ids if i))
    if not ids:
        raise TinyLensError(f"{where} names no lens.")
    return ids


def _not_a_file(path: Path) -> str:
    """Why ``path``, given as an ``--only`` file, is none: it does not exist, or it is a folder
    (a report's, whose inspect.csv is then named)."""
    if not path.is_dir():
        return "does not exist"
    inspect = path / "inspect.csv"
    return "is a folder, not a file" + (f" (it holds {inspect}, the lenses 'tinylens report' lists to inspect)"
                                        if inspect.is_file() else "")


def nothing_listed(value: str) -> str:
    """What the survey says of an ``--only`` table (``value``) that lists no lens."""
    from tinylens.config.loader import home_expanded

    return (f"Nothing to refit: {home_expanded(value)} lists no lens (an inspect.csv of 'tinylens report' is "
            "empty when every lens ended ok and trusted). Nothing was started or written.")


def select_lenses(lenses: Sequence, ids: Sequence[str], lens_dir: str | Path) -> list:
    """The lenses (:class:`tinylens.survey.discovery.Lens`) whose ids are ``ids``; TinyLensError
    naming the ids that are not lens folders of ``lens_dir``."""
    by_id = {lens.lens_id: lens for lens in lenses}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise TinyLensError(f"--only names {lens_count(len(unknown))} with no lens folder in {lens_dir}: "
                            f"{listed(unknown)}. "
                            "The ids are the names of the lens folders.")
    return [by_id[i] for i in ids]
