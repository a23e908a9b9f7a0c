"""What a survey's results were made from, so that a rerun does not reuse them for other inputs.

Two records live in the survey's output folder:

* ``survey.json``: the lens folder, the template (as parsed, without its ``output`` block,
  which does not change a fit, nor the lens files a survey sets for each lens) and the precision the lenses are fitted in
  (:func:`tinylens.precision.get_precision`). A rerun with another template, lens folder or
  precision is refused while the folder holds results: its finished lenses would otherwise be
  reused for a model they were not fitted with, or in a catalogue of mixed precision.
* ``lenses/<lens_id>/inputs.json``: size, modification time and SHA-256 of each input file of
  the lens (image, noise, PSF, mask; the mask's also how it is read, :data:`MASK_READ_AS`), and
  the precision of its fit, written when its fit starts. A lens whose files changed since (or
  whose mask was read the other way round, before tinylens read masks as TinyLensGpu does) is
  fitted again; one finished in another precision (kept by a
  run with ``--reuse-finished``) is refused as survey.json's precision is. Files are compared by
  size and modification time first and hashed only when those differ, so a resumed survey of
  many lenses does not read all its data again.

A fit keeps the same stamp of its files (without the precision, which its ``info`` records
apart) in its ``result.json``, as ``info.inputs`` (:data:`FIT_INPUTS_KEY`), taken when it loads
them: what it was fitted to, for :func:`changed_inputs` to tell whether they changed since. A
survey's fit stamps the files its task stamped for ``inputs.json`` just before; each is read once
(:func:`file_stamp` keeps the digests of the files it hashed last, by :func:`file_identity`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from tinylens.config.loader import (
    LEGACY_SAMPLING,
    MAPPING,
    KeyWords,
    key_as_written,
    legacy_sampling,
    reads_sampling,
    validate_config,
)
from tinylens.config.schema import exponent_numbers, without_keys, without_speed_only
from tinylens.data.dataset import MASK_READ_AS  # a stamp without it: a lens fitted before, fitted again
from tinylens.errors import TinyLensError, cut_value, listed
from tinylens.jsonfile import NON_FINITE, read_json_file, read_json_object, read_result_object, unreadable_reason

MANIFEST_FILE = "survey.json"
#: ``dataset`` keys naming a lens's input files.
INPUT_KEYS = ("data_path", "noise_path", "psf_path", "mask_path")
#: The ``dataset`` keys a survey sets in each lens's config, whatever its template gives.
LENS_PATHS = INPUT_KEYS[:3]
#: The text that stands in for a lens's file path where only its being path text counts (the
#: schema takes any such text alike): :func:`fits_read`'s, and the survey runner's.
LENS_PATH_STANDIN = "lens path"
#: The key of a fit's ``result.json`` ``info`` that records the stamp of its input files.
FIT_INPUTS_KEY = "inputs"
#: The key of a fit's ``result.json`` ``info`` that records where its ``config`` holds a number that
#: is not finite (:func:`config_not_finite`), which ``config`` itself stores as null: a survey tells
#: a fit of ``n_points_min: .inf`` from one of ``n_points_min: null`` by it (:func:`recorded_config`).
CONFIG_NOT_FINITE_KEY = "config_not_finite"
#: The key of ``inputs.json`` that records the precision of the lens's fit (the others: files).
PRECISION_KEY = "precision"
#: The sampler settings (of ``inference.settings``) that bound how long it runs, not what it
#: fits: a survey continued with them changed (a raised ``n_like_max``) is of the same template,
#: and its lenses they stopped before converging are fitted further (the fit resumes its checkpoint).
BUDGET_SETTINGS = ("n_like_max", "timeout")
#: The key of ``survey.json`` that records where its template holds a number that is not finite
#: (:func:`not_finite_values`), which the template itself stores as null.
NOT_FINITE_KEY = "not_finite"
#: Differences listed in a refusal, at most.
MAX_LISTED = 4
#: The precision of a ``survey.json`` that records none, and whose finished fits record none
#: either (:func:`fitted_precision`): written before it was, when a survey's workers ignored the
#: survey process's ``set_precision`` and fitted in float32 unless ``TINYLENS_PRECISION`` said
#: otherwise in their own environment.
UNRECORDED_PRECISION = "float32"
#: Digests :func:`file_stamp` keeps, of the files it hashed last: a survey's task stamps a lens's
#: files (``inputs.json``) and its fit stamps them again (``info.inputs``) a moment later.
MAX_DIGESTS = 256
_digests: OrderedDict[tuple[int, ...], str] = OrderedDict()
_digests_lock = threading.Lock()


def file_identity(info: os.stat_result) -> tuple[int, ...]:
    """What tells a file's content apart without reading it, from its ``stat``: the entry (device,
    inode), size, modification time and change time (ns; set by every write, rename or ``touch``,
    and never by hand, so a file rewritten with its old modification time is told apart too)."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def file_sha256(path: Path) -> str:
    """The SHA-256 of the content of the file ``path`` (hex), read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_stamp(path: str | Path) -> dict[str, Any]:
    """Size, modification time (ns) and SHA-256 of the file ``path``; the SHA-256 is read again
    only where the file is not one of the last :data:`MAX_DIGESTS` hashed, as they were then
    (:func:`file_identity`)."""
    path = Path(path)
    key = file_identity(path.stat())
    with _digests_lock:
        digest = _digests.get(key)
    info = None
    if digest is None:
        digest = file_sha256(path)
        info = path.stat()
        if file_identity(info) == key:  # not written to while it was read
            with _digests_lock:
                _digests[key] = digest
                while len(_digests) > MAX_DIGESTS:
                    _digests.popitem(last=False)
    size, mtime_ns = (key[2], key[3]) if info is None else (info.st_size, info.st_mtime_ns)
    return {"size": size, "mtime_ns": mtime_ns, "sha256": digest}


def input_files(config: Mapping[str, Any]) -> dict[str, Path]:
    """The input files a lens's config names, by ``dataset`` key (a ``[HDU]`` suffix removed)."""
    dataset = config.get("dataset") or {}
    files = {}
    for key in INPUT_KEYS:
        value = dataset.get(key)
        if isinstance(value, str) and value:
            files[key] = Path(value[: value.rindex("[")] if value.endswith("]") and "[" in value else value)
    return files


def inputs_stamp(config: Mapping[str, Any], precision: str | None = None) -> dict[str, Any]:
    """A stamp of every input file of ``config`` (``None`` for one that cannot be read), and the
    ``precision`` the lens is fitted in, where given."""
    stamps: dict[str, Any] = {}
    for key, path in input_files(config).items():
        try:
            stamps[key] = file_stamp(path)
        except OSError:
            stamps[key] = None
        if key == "mask_path" and stamps[key] is not None:
            stamps[key]["read_as"] = MASK_READ_AS
    if precision is not None:
        stamps[PRECISION_KEY] = precision
    return stamps


def dataset_files(dataset: Any) -> dict[str, Any]:
    """A config naming, by ``dataset`` key, the files a loaded dataset (a
    :class:`~tinylens.data.dataset.Dataset`, its paths resolved) was read from, for
    :func:`inputs_stamp` and :func:`changed_inputs`."""
    paths = {key: getattr(dataset, key, None) for key in INPUT_KEYS}
    return {"dataset": {key: str(path) for key, path in paths.items() if path is not None}}


def recorded_fit_inputs(stored: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stamp of its input files that a fit's ``result.json`` content ``stored`` records
    (``info.inputs``, :data:`FIT_INPUTS_KEY`); ``None`` for a fit from before it was recorded,
    or one whose record is not such a stamp (edited)."""
    info = stored.get("info")
    stamp = info.get(FIT_INPUTS_KEY) if isinstance(info, dict) else None
    return stamp if isinstance(stamp, dict) and is_stamp(stamp, precision=False) else None


def is_stamp(content: Mapping[str, Any], precision: bool = True) -> bool:
    """Whether ``content`` is a stamp of input files (:func:`inputs_stamp`): each key a file's
    (:data:`INPUT_KEYS`) with ``None`` or an object, or, if ``precision``, the precision's
    (:data:`PRECISION_KEY`) with text; not one edited by hand into something else."""
    return all((key in INPUT_KEYS and (value is None or isinstance(value, dict)))
               or (precision and key == PRECISION_KEY and isinstance(value, str)) for key, value in content.items())


def changed_inputs(recorded: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """The ``dataset`` keys whose file differs from the ``recorded`` stamp (added, removed or
    with other content); size and modification time equal count as unchanged."""
    files = input_files(config)
    recorded = {k: v for k, v in recorded.items() if k != PRECISION_KEY}
    changed = []
    for key in sorted(set(files) | set(recorded)):
        if key not in recorded or key not in files:
            changed.append(key)  # a file added to the config, or no longer in it
            continue
        old, path = recorded[key], files[key]
        if old is None:  # it could not be read when the fit started
            if path.is_file():
                changed.append(key)
            continue
        if key == "mask_path" and old.get("read_as") != MASK_READ_AS:  # the same file, read the other way
            changed.append(key)
            continue
        try:
            info = path.stat()
        except OSError:
            changed.append(key)
            continue
        if info.st_size == old.get("size") and info.st_mtime_ns == old.get("mtime_ns"):
            continue
        try:
            same = info.st_size == old.get("size") and file_stamp(path)["sha256"] == old.get("sha256")
        except OSError:
            same = False
        if not same:
            changed.append(key)
    return changed


def unstamped_changes(config: Mapping[str, Any]) -> list[str]:
    """The ``dataset`` keys of a lens fitted before stamps were kept that count as changed: its
    ``mask_path``, whose file was then read the other way round (non-zero = used), as it was
    until masks were read as TinyLensGpu reads them (:data:`MASK_READ_AS`)."""
    return ["mask_path"] if "mask_path" in input_files(config) else []


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; ``None`` if missing or unreadable (:func:`~tinylens.jsonfile.read_json_object`)."""
    return read_json_object(path)


def read_manifest(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A survey's record ``survey.json`` at ``path`` and, where it is there but cannot be read, why
    (in words, :func:`~tinylens.jsonfile.unreadable_reason`): ``(record, None)``, ``(None, None)``
    where there is none, ``(None, why)`` where it is damaged (empty, cut short, a JSON value that is
    not an object). A NaN or an Infinity in it (written by another program, Python's json.dump of
    an edited record) is read as that number, which :func:`manifest_conflict` compares as such."""
    try:
        content = read_json_file(path, non_finite=True)
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as err:
        return None, unreadable_reason(err)
    if not isinstance(content, dict):
        return None, f"it holds a JSON {type(content).__name__}, not the survey's record"
    return content, None


def read_stamp(path: Path) -> dict[str, Any] | None:
    """The stamp in ``path`` (a lens's ``inputs.json``): ``None`` if missing, unreadable, or not
    such a stamp (edited by hand: a key other than the files' and the precision, a file's entry
    neither ``None`` nor an object, a precision that is not text), as for any other record that
    cannot be read."""
    content = read_json(path)
    return content if content is not None and is_stamp(content) else None


def template_key(template: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a template that decides a fit: all of it but ``output``, the keys in
    :data:`~tinylens.config.schema.SPEED_ONLY_KEYS`, the sampler's budget
    (:data:`BUDGET_SETTINGS`) and the lens files a survey sets for each lens
    (:func:`without_lens_paths`), as its fits read it (:func:`as_fits_read`; as written where it is
    not a valid config), JSON-normalised; TinyLensGpu's older ``sampling`` section read as
    its fits read it (:func:`~tinylens.config.loader.legacy_sampling`). A key recorded by an
    older tinylens (with the lens files as the template wrote them) keyed again is this key."""
    template = legacy_sampling(template)[0]
    plain = {k: v for k, v in template.items() if k != "output"}
    key = json.loads(json.dumps(as_fits_read(plain) or plain, sort_keys=True, default=str))
    return without_budget(without_speed_only(without_lens_paths(key)))


def without_lens_paths(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` (a parsed template) without the lens files a survey sets for each lens
    (:data:`LENS_PATHS`), whatever the template gives for them (a placeholder, ``null``, none):
    no part of what its fits fit. ``mask_path`` stays: a lens without its own mask uses the
    template's."""
    return without_keys(config, [f"dataset.{key}" for key in LENS_PATHS])


def as_fits_read(template: Mapping[str, Any]) -> dict[str, Any] | None:
    """``template`` (parsed, without ``output``) as its fits read it (:func:`fits_read`); None
    where it is not a valid config."""
    try:
        return fits_read(template)
    except TinyLensError:
        return None


def fits_read(template: Mapping[str, Any], origin: str = MAPPING, key_words: KeyWords | None = None) -> dict[str, Any]:
    """``template`` (parsed, without ``output``) as its fits read it: validated by the config's
    schema, its defaults filled and each typed value as the fit takes it (``pixel_scale: "0.05"``
    the number 0.05, a flag's ``1`` true); without the lens files a survey sets for each lens
    (:data:`LENS_PATHS`), whatever the template gives (``data_path: null``, a placeholder, too:
    validated as a lens's). ConfigError, naming ``origin`` (``template <path>``), where it is not
    a valid config; ``key_words``: the words written for its keys YAML read as no text
    (:func:`~tinylens.config.loader.parse_yaml_keys` of the template file), which name such a key."""
    dataset = template.get("dataset")
    filled = ({**template, "dataset": {**dataset, **dict.fromkeys(LENS_PATHS, LENS_PATH_STANDIN)}}
              if isinstance(dataset, Mapping) else template)
    with warnings.catch_warnings():  # the template's: shown by its check
        warnings.simplefilter("ignore")
        read = validate_config(filled, origin, key_words, written=template).model_dump(exclude={"output"})  # a NaN or .inf kept
    return without_lens_paths(read)


def fit_key(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a fit's ``config`` (as its ``result.json`` records it) that decides what it
    fits, as :func:`template_key` keys a template: all of it but ``output``, the speed-only keys,
    the budget and the lens's file paths (:data:`INPUT_KEYS`: their stamps tell whether the
    files are the same, wherever the lens folder now is)."""
    key = without_budget(without_speed_only({k: v for k, v in config.items() if k != "output"}))
    dataset = key.get("dataset")
    if isinstance(dataset, dict):
        key["dataset"] = {k: v for k, v in dataset.items() if k not in INPUT_KEYS}
    return key


def without_budget(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` (a parsed template or fit config) without the sampler settings
    :data:`BUDGET_SETTINGS`; a block they leave empty (``inference.settings``, then ``inference``)
    is dropped too, as :func:`~tinylens.config.schema.without_speed_only` drops one, so that a
    key made again of a key is the same (:func:`manifest_conflict` keys a ``survey.json`` again)."""
    return without_keys(config, [f"inference.settings.{name}" for name in BUDGET_SETTINGS])


def budget(config: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`BUDGET_SETTINGS` that ``config`` (a fit's config, as its ``result.json``
    records it) sets, by name (None: not set)."""
    inference = config.get("inference")
    settings = inference.get("settings") if isinstance(inference, Mapping) else None
    settings = settings if isinstance(settings, Mapping) else {}
    return {name: settings.get(name) for name in BUDGET_SETTINGS}


def _limit(value: Any) -> float:
    """A budget setting's value as a bound: a finite number as it is, anything else (None:
    unset, ``.inf``, null in a ``result.json``) as no bound at all (infinity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return math.inf
    return float(value)


def limit_raised(old: Any, new: Any) -> bool:
    """Whether a budget setting (``n_like_max``, ``timeout``) goes from ``old`` to a higher
    ``new``, or is removed (None, unset, ``.inf``) where it was set: a lowered limit, or one set
    where there was none, gives a stopped fit no more room."""
    return _limit(new) > _limit(old)


def differences(old: Any, new: Any, prefix: str = "", alike: Callable[[Any, Any], bool] | None = None,
                named: Callable[[str], str] = str) -> list[str]:
    """Dotted keys where two parsed templates differ (``inference.settings.n_live: 200 -> 100``),
    each value shown as written. Values a fit reads alike are no difference (:func:`read_alike`,
    or ``alike`` where given: :func:`stored_alike` for a template and its ``survey.json``).
    ``named``: each dotted key as said (:func:`key_namer`: as the template wrote it)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in old:
                found.append(f"{named(where)} added")
            elif key not in new:
                found.append(f"{named(where)} removed")
            else:
                found.extend(differences(old[key], new[key], where, alike, named))
        return found
    if not (alike or read_alike)(old, new):
        return [f"{named(prefix) if prefix else 'the template'}: {_short(old)} -> {_short(new)}"]
    return []


def key_namer(template: Mapping[str, Any] | None) -> Callable[[str], str]:
    """How a dotted key of a template's key (:func:`template_key`, whose inference is read as its
    fits read it) is said to the user of ``template`` (parsed, as written): where it writes
    TinyLensGpu's older ``sampling`` section, each key of its inference as
    :func:`~tinylens.config.loader.key_as_written` names it (``inference.settings.nlive`` as
    ``sampling.nlive``, ``inference.method`` as ``sampling.sampler``, or ``sampling`` where it
    leaves the sampler out, ``inference.type`` as ``sampling``), and ``inference.settings`` as a
    whole as the section's settings; every other key, and every key of another template (or
    none), as it is."""
    if not isinstance(template, Mapping) or not reads_sampling(template):
        return str

    def named(key: str) -> str:
        if key == "inference.settings":  # all of them, where one side has none: not the section itself
            return f"{LEGACY_SAMPLING}'s settings"
        return key_as_written(template, key)

    return named


def read_alike(old: Any, new: Any) -> bool:
    """Whether two values of parsed templates are read alike by a fit: equal, a number in exponent
    notation that YAML 1.1 reads as text (``1e3``) taken as the number it writes, as the config's
    schema takes it (:func:`~tinylens.config.schema.exponent_numbers`: ``1000``, ``1000.0``), and
    a NaN (``.nan``) as itself, though it equals nothing (lists and mappings compared item by item).
    ``true`` and ``1`` (equal to Python) are not: a key the schema passes on untyped passes them on
    as they are (a typed flag's ``1`` :func:`as_fits_read` already made ``true``)."""
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(map(read_alike, old, new))
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(read_alike(old[k], new[k]) for k in old)
    old, new = exponent_numbers(old), exponent_numbers(new)
    if isinstance(old, bool) != isinstance(new, bool):
        return False
    return old == new or (isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new))


def _short(value: Any, limit: int = 40) -> str:
    return cut_value(json.dumps(value, default=str), limit, value)


def manifest(lens_dir: Path, template_path: Path, template: Mapping[str, Any], precision: str) -> dict[str, Any]:
    """The content of ``survey.json``: ``precision`` is the one the lenses are fitted in
    (:func:`tinylens.precision.get_precision` of the survey's process)."""
    key = template_key(template)
    return {"lens_dir": str(lens_dir), "template_path": str(template_path), "template": key,
            NOT_FINITE_KEY: not_finite_values(key), "precision": precision}


def not_finite_values(key: Any, at: tuple[str | int, ...] = ()) -> list[list[Any]]:
    """Where a template's ``key`` (:func:`template_key`) holds a number that is not finite, which
    ``survey.json`` stores as null (as every tinylens JSON file does): ``[path, literal]`` each,
    ``path`` the list of keys (and list indices) down to it, ``literal`` ``"Infinity"``,
    ``"-Infinity"`` or ``"NaN"`` (:data:`~tinylens.jsonfile.NON_FINITE`), so that the record tells
    ``.inf``, ``-.inf``, ``.nan`` and null apart (:func:`with_not_finite` puts them back)."""
    if isinstance(key, Mapping):
        return [found for k, v in key.items() for found in not_finite_values(v, (*at, str(k)))]
    if isinstance(key, (list, tuple)):
        return [found for i, v in enumerate(key) for found in not_finite_values(v, (*at, i))]
    if isinstance(key, float) and not math.isfinite(key):
        return [[list(at), "NaN" if math.isnan(key) else ("Infinity" if key > 0 else "-Infinity")]]
    return []


def config_not_finite(config: Any) -> list[list[Any]]:
    """Where a fit's ``config`` (a loaded :class:`~tinylens.config.schema.Config`, or a mapping)
    holds a number that is not finite (:func:`not_finite_values` of it as Python holds it, before
    ``result.json`` writes each such number as null): its ``result.json``'s
    :data:`CONFIG_NOT_FINITE_KEY`."""
    return not_finite_values(config.model_dump() if hasattr(config, "model_dump") else config)


def recorded_config(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``config`` of the fit ``result`` (a parsed ``result.json``) with the numbers that are not
    finite put back where its ``info`` records them (:data:`CONFIG_NOT_FINITE_KEY`,
    :func:`with_not_finite`); None where it records none (a ``result.json`` of an older tinylens,
    or one edited by hand), whose nulls may stand for any of them, or none."""
    info, config = result.get("info"), result.get("config")
    if not isinstance(info, dict) or not isinstance(config, dict):
        return None
    restored = with_not_finite(config, info.get(CONFIG_NOT_FINITE_KEY))
    return restored if isinstance(restored, dict) else None


def with_not_finite(stored: Any, found: Any) -> Any:
    """A ``survey.json``'s ``stored`` template with the numbers ``found`` (its :data:`NOT_FINITE_KEY`:
    :func:`not_finite_values`) put back in place of the nulls that stand for them; None where
    ``found`` is no such record (a ``survey.json`` of an older tinylens, which has none, or one
    edited by hand: a path that leads to no null), whose nulls may stand for any of them."""
    if not isinstance(found, list):
        return None
    restored = json.loads(json.dumps(stored))
    for entry in found:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], list) and entry[0]
                and entry[1] in NON_FINITE):
            return None
        *parents, last = entry[0]
        place = restored
        for step in parents:
            place = _step(place, step)
        if _step(place, last, holds_null=True) is _MISSING:
            return None
        place[last] = float(entry[1])
    return restored


_MISSING = object()


def _step(place: Any, step: Any, holds_null: bool = False) -> Any:
    """``place[step]`` where ``place`` is a mapping and ``step`` one of its keys (text), or a list
    and ``step`` one of its indices; :data:`_MISSING` otherwise (or, with ``holds_null``, where
    that is not null)."""
    if isinstance(place, dict) and isinstance(step, str) and step in place:
        value = place[step]
    elif isinstance(place, list) and isinstance(step, int) and not isinstance(step, bool) and 0 <= step < len(place):
        value = place[step]
    else:
        return _MISSING
    return _MISSING if holds_null and value is not None else value


def recorded_precision(recorded: Mapping[str, Any]) -> str:
    """The precision a ``survey.json`` records (:data:`UNRECORDED_PRECISION` where it records none)."""
    return recorded.get("precision") or UNRECORDED_PRECISION


def fitted_precision(results: Iterable[Path]) -> str | None:
    """The precision the finished fits ``results`` (``result.json`` files) computed in, by their
    ``info.precision``, where those that record one agree; ``None`` otherwise. A survey.json older
    than its precision record says nothing of it, and its workers fitted in float64 when
    ``TINYLENS_PRECISION=float64`` was in their environment."""
    found = set()
    for path in results:
        info = (read_result_object(path) or {}).get("info")
        if isinstance(info, dict) and info.get("precision") in ("float32", "float64"):
            found.add(info["precision"])
    return found.pop() if len(found) == 1 else None


def manifest_conflict(recorded: Mapping[str, Any], current: Mapping[str, Any],
                      template: Mapping[str, Any] | None = None) -> str | None:
    """Why results made under ``recorded`` must not be reused under ``current``; ``None`` if they may.
    ``template``: the current template, parsed, whose keys the differences are named as (:func:`key_namer`)."""
    if recorded.get("lens_dir") != current["lens_dir"]:
        return f"were made from the lens folder {recorded.get('lens_dir')}, not {current['lens_dir']}"
    old, new = recorded_precision(recorded), recorded_precision(current)
    if old != new:
        return _precision_conflict(old, new, f"TINYLENS_PRECISION={old} continues the survey as it was begun")
    # Keyed again: a survey.json written before a key counted as speed-only still holds it. Its
    # numbers that are not finite put back where it records them; one of an older tinylens records
    # none, and each of its nulls is then alike to any of them (stored_alike).
    stored = recorded.get("template") or {}
    restored = with_not_finite(stored, recorded.get(NOT_FINITE_KEY))
    old_key, new_key = template_key(stored if restored is None else restored), current["template"]
    alike = stored_alike if restored is None else read_alike
    # the current template's values shown as written, and its keys named so (sampling.nlive, where it writes that)
    found = differences(old_key, new_key, alike=alike, named=key_namer(template))
    if found:
        shown = listed(found, MAX_LISTED, sep="; ")
        return (f"were made with another template ({recorded.get('template_path')}; differences: {shown})"
                + pipeline_switched(old_key, new_key))
    return None


def as_stored(key: Any) -> Any:
    """A template's ``key`` (:func:`template_key`) as ``survey.json`` stores it and
    :func:`manifest_conflict` reads it back: a value that is not finite (``f_live: .inf``, a
    ``.nan``) as null, as every tinylens JSON file writes one (``results.tables._jsonable``), so
    that a survey compares its template with its own record alike (both sides: a record of
    another writer may hold the NaN itself). A value a fit reads as one that is not finite
    (:func:`read_alike`: ``1e400``, text to YAML 1.1, the number infinity) is null too, so that
    ``f_live: 1e400`` and ``f_live: .inf``, alike to a fit, stay alike here."""
    if isinstance(key, Mapping):
        return {str(k): as_stored(v) for k, v in key.items()}
    if isinstance(key, (list, tuple)):
        return [as_stored(v) for v in key]
    read = exponent_numbers(key)
    if isinstance(read, float) and not math.isfinite(read):
        return None
    return key


def stored_alike(old: Any, new: Any) -> bool:
    """Whether two values of template keys are alike as ``survey.json`` stores them
    (:func:`as_stored`: one not finite as null) and a fit reads them (:func:`read_alike`)."""
    return read_alike(as_stored(old), as_stored(new))


def pipeline_on(key: Mapping[str, Any]) -> bool:
    """Whether a template's ``key`` (:func:`template_key`) runs the pipeline: ``pipeline.enabled``
    not false (the default, where a template that is no valid config leaves it out)."""
    section = key.get("pipeline")
    return not (isinstance(section, Mapping) and section.get("enabled") is False)


def pipeline_switched(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Where one of two template keys runs the pipeline and the other not, the words that say
    which, naming ``--no-pipeline`` (``run_survey``'s ``pipeline=False``), which turns it off;
    ``""`` otherwise."""
    was, now = pipeline_on(old), pipeline_on(new)
    if was == now:
        return ""
    off = "pipeline.enabled: false, as --no-pipeline (run_survey: pipeline=False) sets it"
    return (f": they were fitted with the pipeline's stages, this run without them ({off})" if was
            else f": they were fitted without the pipeline's stages ({off}), this run with them")


def stamps_conflict(stamps: Mapping[str, Mapping[str, Any]], current: Mapping[str, Any]) -> str | None:
    """Why the finished lenses whose ``inputs.json`` are ``stamps`` (by lens id) must not be reused
    under ``current`` (a ``survey.json``'s content): some were fitted in another precision (kept by
    a run with ``--reuse-finished``, which recorded its own in survey.json); ``None`` if none was."""
    new = recorded_precision(current)
    others = {k: v[PRECISION_KEY] for k, v in stamps.items() if v.get(PRECISION_KEY, new) != new}
    if not others:
        return None
    ids = sorted(others)
    return _precision_conflict(others[ids[0]], new, f"recorded in the inputs.json of {listed(ids, MAX_LISTED)}")


def _precision_conflict(old: str, new: str, detail: str) -> str:
    return f"were computed in {old} precision, not {new} (set by TINYLENS_PRECISION or tinylens.set_precision; {detail})"


def template_digest(config: Mapping[str, Any], precision: str) -> str:
    """16 hex digits that tell a fit's template apart without loading its lens: of :func:`template_key`
    of ``config`` (a template, or a lens's config made of it: the lens files and ``mask_path``, whose
    files ``inputs.json`` stamps, left out, so that both give the same digest) and the ``precision``
    the lens is fitted in. Two fits of different digests were made with other templates (or
    precisions); their checkpoints' fingerprints, which the fit compares, then differ unless the
    templates differ only where a fit's problem does not (a sampler setting not in the fingerprint)."""
    key = without_keys(template_key(config), ["dataset.mask_path"])
    text = json.dumps({"template": key, "precision": precision}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
