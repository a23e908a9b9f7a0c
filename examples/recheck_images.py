"""Rerun the ``not_multiply_imaged`` check on stored results, after that check changed.

The check first tested only the source's centre; it now tests the centre and points of the
source's half-light ellipse (:func:`tinylens.results.quality.source_image_counts`), so results
stored before the change can carry a false alarm (SLACS J0216-0813). This reads each
``result.json`` under the given folders (survey outputs or single result folders; a result.json
itself is taken too) that carries the flag, recounts the images at its best fit, and prints one
row per such result::

    python examples/recheck_images.py slacs_run [more_runs ...]

Nothing is rewritten: the stored results stay as they were made.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tinylens.errors import TinyLensError, counted
from tinylens.results.quality import source_image_counts
from tinylens.results.stored import load_stored, result_files, without_results

FLAG = "not_multiply_imaged"


def recheck(path: Path) -> dict | None:
    """The image counts of a stored result flagged ``not_multiply_imaged``; None if not flagged."""
    try:
        flags = json.loads(path.read_text()).get("quality", {}).get("flags", [])
        if FLAG not in flags:
            return None
        stored, problem, best = load_stored(path, base_dir_option=None)
    except TinyLensError as err:  # moved data, a refused config, a TINYLENS_PRECISION typo: said by load_stored, naming the file
        raise SystemExit(f"error: {err}") from None  # (before OSError and ValueError, which some of them are too)
    except (OSError, ValueError, AttributeError) as err:
        raise SystemExit(f"error: {path}: not a readable result.json ({type(err).__name__}: {err})") from None
    counts = source_image_counts(problem, best)
    critical = set(stored["quality"].get("critical", [])) - {FLAG}
    others = [f for f in stored["quality"]["flags"] if f in critical]
    still = counts is not None and counts.max() < 2
    return {"result": str(path.parent), "centre_images": None if counts is None else int(counts[0]),
            "half_light_images": None if counts is None else int(counts.max()), "flag_now": still,
            "trusted_now": not still and not others, "other_critical": ",".join(others)}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    empty = without_results(argv)
    if empty:  # each named: a mistyped folder among several is not skipped unseen
        print(f"no result.json under {', '.join(empty)} (give survey outputs, result folders or result.json files)",
              file=sys.stderr)
        return 1
    files = result_files(argv)
    rows = [r for r in map(recheck, files) if r is not None]
    print(f"{counted(len(files), 'result')}, {len(rows)} flagged {FLAG}")
    for r in rows:
        print("  ".join(f"{k}={v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
