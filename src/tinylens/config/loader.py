"""Read a YAML configuration into a validated :class:`~tinylens.config.schema.Config`.

Every problem (missing file, YAML syntax, schema) becomes one :class:`ConfigError` whose text
names the file, the key path (``model_components.lens_mass_list[0].params.theta_E``), the
offending value and what was expected; never a raw yaml/pydantic traceback. The schema's problems
are a ConfigTypeError where each is a value of the wrong kind, a ConfigValueError where each is a
wrong value, an unknown key or a missing one, and a plain ConfigError where they are of both kinds
(:func:`error_class`).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import math
import os
import re
import shlex
import types
import typing
import unicodedata
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tinylens.config.schema import (BOOLEAN_GIVEN, ERROR_TYPE, FIXED_VALUE_TAGS, MAX_EXACT_WHOLE, NO_VALUE, UNKNOWN_KEYS, WRONG_TYPE, YAML_BOOL_WORDS, Config,
                                    _unknown_keys, bool_words_read, described, infinity_read, key_id, key_read_note, mapping_expected, not_a_number_message, show,
                                    unused_keys, written_key)
from tinylens.errors import (BEYOND_FLOAT, MISSING_ERRNOS, ON_COMMAND_LINE, ConfigError, ConfigFileError, ConfigTypeError, ConfigValueError, ConfigWarning, counted, did_you_mean, ls_command,
                             key_name, no_float_holds, outside_stacklevel, visible, windows_path_advice)

#: At most this many schema problems are listed in one error.
MAX_LISTED_ERRORS = 20

#: What a config given as a mapping (not a file) is called in messages.
MAPPING = "configuration mapping"

#: Whether a mapping validated now was parsed from a YAML file (:func:`mapping_from_yaml`), so that its
#: problems say what YAML read (``YAML reads an unquoted yes, on or true as true``), as a file's do.
_MAPPING_FROM_YAML: contextvars.ContextVar[bool] = contextvars.ContextVar("tinylens_mapping_from_yaml", default=False)


@contextlib.contextmanager
def mapping_from_yaml() -> Iterator[None]:
    """Within it, a config given as a mapping (:data:`MAPPING`) is one parsed from a YAML file: a
    survey's template filled in for a lens (:func:`tinylens.survey.template.check_template`), whose
    user wrote ``zeropoint: yes`` in the template, not ``True`` in Python; its messages say what YAML
    read, as a config file's do, not the neutral note of a Python mapping."""
    token = _MAPPING_FROM_YAML.set(True)
    try:
        yield
    finally:
        _MAPPING_FROM_YAML.reset(token)


#: TinyLensGpu's older name of the ``inference`` section (:func:`legacy_sampling`).
LEGACY_SAMPLING = "sampling"

#: Keys whose value is a list of exactly two numbers.
PAIR_KEYS = ("prior_settings", "limits")

#: The last part of the location pydantic gives the error of a mapping's key (of ``params``, ``settings``).
DICT_KEY = "[key]"

#: pydantic's error types for a value shorter than allowed (``too_short`` where the key may be null).
TOO_SHORT = ("string_too_short", "too_short")

#: pydantic's error types for a value that is no integer (``4.5``, ``'abc'``, a list), said in the
#: words of the inference settings' messages (``should be a whole number``) instead of its own
#: ("should be a valid integer, got a number with a fractional part").
NOT_WHOLE = ("int_type", "int_parsing", "int_from_float")

#: pydantic's error types of a value that is no mapping (for ``params``, ``settings``) or no list
#: (``lens_mass_list``), said by :func:`_not_a` in a YAML user's words, not "should be a valid dictionary".
NOT_A = ("dict_type", "list_type")


def as_path(source: Any) -> Any:
    """``source`` (a config or a truth file as given) with a path of any :class:`os.PathLike` kind
    that is not a :class:`~pathlib.Path` (pytest's ``tmpdir``, a ``py.path.local``) as a Path;
    anything else as it is."""
    if isinstance(source, os.PathLike) and not isinstance(source, Path):
        path = os.fspath(source)
        return Path(path) if isinstance(path, str) else source
    return source


def not_a_config(source: Any) -> str:
    """What was given as a config that is none, and, for tinylens's own objects that hold one (a
    :class:`~tinylens.problem.Problem`, a :class:`~tinylens.fit.FitResult`), which of it to give."""
    kind = type(source).__name__
    if kind == "Problem" and hasattr(source, "config") and hasattr(source, "base_dir"):
        return ("got a Problem (what tinylens.load returns): give the config it was loaded from, or "
                "problem.config with base_dir=problem.base_dir.")
    if kind == "FitResult" and hasattr(source, "config") and hasattr(source, "config_dir"):
        return "got a FitResult: to fit its lens again, give result.config with base_dir=result.config_dir."
    return f"got {kind} {source!r:.60}."


def not_a_path(value: Any, of_result: str, of_problem: str | None = None) -> str:
    """What was given where a path is wanted that is none: tinylens's own result (a
    :class:`~tinylens.fit.FitResult`) or problem by the attribute of it that holds the path wanted
    (``of_result``, ``of_problem``: its repr is several lines, the first of which named no path),
    anything else by its type and the first 60 characters of its repr, on one line."""
    kind = type(value).__name__
    if kind == "FitResult" and hasattr(value, "output_dir") and hasattr(value, "config_dir"):
        return f"got a FitResult (what tinylens.fit and tinylens.read_result return): give {of_result}."
    if of_problem and kind == "Problem" and hasattr(value, "base_dir"):
        return f"got a Problem (what tinylens.load returns): give {of_problem}."
    return f"got {kind} {' '.join(repr(value).split()):.60}."


def yaml_mapping_text(text: str) -> bool:
    """Whether the one-line ``text`` reads as YAML of a config's keys and values (``dataset:
    {data_path: x}``, ``{dataset: ...}``: a mapping with a top-level key of the config), which a
    file's path does not (``model.yaml``, ``C:\\lens\\model.yaml``: a plain text to YAML; ``lens 1:
    SIE.yaml``, ``D:\\runs\\lens 1: SIE.yaml``, ``{lens}``: a mapping, but of no config key)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(data, Mapping) and any(isinstance(key, str) and key in Config.model_fields for key in data)


def names_a_path(text: str) -> bool:
    """Whether ``text``, taken as a path, is an existing file or folder (False where the system
    refuses to look: a name too long for it, a NUL character, a folder on the way that may not be
    entered)."""
    try:
        return home_expanded(text).exists()
    except (OSError, ValueError, ConfigError):
        return False


def load_config(source: str | os.PathLike[str] | Mapping[str, Any] | Config) -> tuple[Config, Path]:
    """Validate a YAML file (path) or an already-parsed mapping.

    Returns the config and the base directory that relative paths resolve against: the YAML
    file's folder, or the current directory for a mapping.
    """
    source = as_path(source)
    if isinstance(source, Config):
        return source, Path.cwd()
    if isinstance(source, Mapping):
        return validate_config(source, MAPPING), Path.cwd()
    if not isinstance(source, (str, Path)):
        raise ConfigTypeError(f"A configuration must be a YAML file path or a mapping; {not_a_config(source)}")
    if isinstance(source, str) and not source.strip():  # before the multi-line check: "\n" is empty, no YAML text;
        # Path("") is the current folder, "(it holds no .yaml file)"
        raise ConfigValueError(f"A configuration must be a YAML file path or a mapping; got an empty path ({source!r}: an "
                               "unset variable?): give the config's YAML file.")
    if isinstance(source, str) and "\n" in source:
        raise ConfigValueError("A configuration must be a YAML file path or a mapping; this string holds several lines, "
                               "so it looks like the YAML text itself: give yaml.safe_load(text) (a mapping) instead.")
    if isinstance(source, str) and yaml_mapping_text(source) and not names_a_path(source):
        raise ConfigValueError("A configuration must be a YAML file path or a mapping; this string is no file and reads as "
                               "YAML of keys and values, so it looks like the YAML text itself: give yaml.safe_load(text) "
                               "(a mapping) instead.")
    path = home_expanded(source)
    data, key_words = parse_yaml_keys(read_text(path), path)
    return validate_config(data, f"config file {path}", key_words), path.resolve().parent


def check_folder_argument(name: str, value: Any) -> None:
    """A ConfigError naming the argument ``name`` when its ``value`` is neither None nor a path
    (:class:`~tinylens.errors.ConfigTypeError`, a TypeError too), or is an empty text (:class:`~tinylens.errors.ConfigValueError`, a ValueError too: ``Path("")`` is the current folder: an unset variable would write or read
    there, where the command line refuses an empty ``--output``)."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        wanted = {"base_dir": ("result.config_dir", "problem.base_dir")}.get(name, ("result.output_dir", None))
        raise ConfigTypeError(f"{name} must be a folder (a str or pathlib.Path); {not_a_path(value, *wanted)}")
    if isinstance(value, str) and not value.strip():
        raise ConfigValueError(f"{name} is an empty path ({value!r}: an unset variable?), which would be the current "
                               f"folder; give a folder, or leave {name} out (None) for the default.")


def read_config_first(config: Any, base_dir: Any, dtype: Any) -> tuple[Config, Path]:
    """What :func:`tinylens.problem.load_from` checks and reads before the data: ``base_dir``
    (:func:`check_folder_argument`), the ``dtype`` (where it is None, that ``TINYLENS_PRECISION``
    names a precision) and the config (:func:`load_config`: its config and default folder), in that
    order, then its ``model_components`` (:func:`~tinylens.config.model_spec.check_model_components`:
    an unknown profile or parameter, a prior that allows no value). This imports JAX only for a
    ``dtype`` given (``import tinylens`` does itself where ``TINYLENS_PRECISION`` asks for float64,
    to turn on x64): a config with a mistake (an unknown key, a wrong value, a missing file, a
    mistake in its model) is said in a fraction of a second, not after the seconds that JAX,
    astropy and pandas take to import (``tinylens validate``, ``tinylens fit``)."""
    from tinylens.precision import chosen_dtype, get_precision

    check_folder_argument("base_dir", base_dir)
    if dtype is None:
        get_precision()  # what chosen_dtype(None) refuses (a TINYLENS_PRECISION typo), before any file is read
    else:
        chosen_dtype(dtype)
    read = load_config(config)
    from tinylens.config.model_spec import check_model_components

    check_model_components(read[0].model_components, as_path(config))  # load_from's message, JAX not imported
    return read


def resolve_path(base_dir: str | Path, p: str | Path) -> Path:
    """``p`` with ``~`` expanded; a relative path is taken relative to ``base_dir``."""
    path = home_expanded(p)
    return path if path.is_absolute() else home_expanded(base_dir) / path


def home_expanded(p: str | Path) -> Path:
    """``p`` with a leading ``~`` or ``~user`` expanded; a :class:`~tinylens.errors.ConfigValueError`
    (a ConfigError and a ValueError) naming ``p`` when that home folder is unknown (no such user),
    where :meth:`Path.expanduser` raises a bare RuntimeError."""
    try:
        return Path(p).expanduser()
    except RuntimeError:
        raise ConfigValueError(f"{p}: {unknown_home(p)}") from None


def unknown_home(p: str | Path) -> str:
    """Why ``p``'s leading ``~...`` cannot be expanded: the user it names is not known here."""
    user = Path(p).parts[0][1:]
    return (f"there is no user '{user}' on this machine, so '~{user}' cannot be expanded; give the full path" if user
            else "the home folder ('~') is not known here ($HOME is not set); give the full path")


# -- reading ----------------------------------------------------------------------------------
def read_text(path: Path) -> str:
    """The file's text, or a ConfigError naming the path and the reason: a ConfigFileError (an
    OSError too) where the file cannot be read, a ConfigValueError where its text is not UTF-8."""
    try:
        path.stat()
    except PermissionError:  # a folder on its way this user may not enter: Path.exists raised it bare
        from tinylens.data.fits_io import blocked_folder_note

        raise ConfigFileError(f"Config file {path}{blocked_folder_note(path) or ' cannot be reached: permission denied'}."
                          ) from None
    except OSError as exc:  # missing: said below; a name the system refuses (too long), or a failing disk, here
        if exc.errno not in MISSING_ERRNOS:
            raise ConfigFileError(f"Config file {path} cannot be reached: {exc.strerror or exc}. Check the path and its "
                              "spelling.") from None
    except ValueError:  # a NUL character in the name: not found, said below
        pass
    if not path.exists():
        raise ConfigFileError(f"Config file not found: {path} (looked in {path.parent.resolve()}). Check the path and its spelling.")
    if path.is_dir():
        if not path.parts:  # Path("") is Path("."): an empty variable given from Python reads as the current folder
            # (the command line refuses an empty path itself: there, '.' was typed)
            hedge = "" if ON_COMMAND_LINE.get() else " (from Python, Path('') is '.' too: an unset variable?)"
            raise ConfigFileError(f"Config path . is the current folder ({Path.cwd()}), not a YAML file{hedge}; "
                              f"{yaml_files_in(path)}")
        raise ConfigFileError(f"Config path {path} is a folder; {yaml_files_in(path)}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigValueError(f"Config file {path} is not a UTF-8 text file; is it really the YAML configuration?") from None
    except PermissionError as exc:
        ls, chmod = ls_command(path, option="-l"), shlex.join(["chmod", "a+r", str(path)])
        raise ConfigFileError(f"Config file {path} cannot be read: {exc.strerror or exc}: this user may not read it. Check "
                          f"its permissions ({ls}), and make it readable ({chmod}) or ask its owner to.") from None
    except OSError as exc:
        raise ConfigFileError(f"Config file {path} cannot be read: {exc.strerror or exc}.") from None


def yaml_files_in(folder: Path, shown: int = 5) -> str:
    """Which config to give instead of ``folder``: the YAML files it holds (a few, by name), or
    that it holds none (it named model_config.yaml, which a folder of another fit or a population's
    lens does not hold)."""
    try:
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".yaml", ".yml") and p.is_file())
    except OSError:
        found = []
    if not found:
        return "give the config's YAML file (it holds no .yaml or .yml file)." + population_lens_hint(folder)
    if len(found) == 1:
        return f"give the YAML file inside it: {found[0]}."
    more = f" and {len(found) - shown} more" if len(found) > shown else ""
    return f"give one of the YAML files inside it: {', '.join(map(str, found[:shown]))}{more}."


def population_lens_hint(folder: Path) -> str:
    """For a lens folder of a ``tinylens simulate-population`` folder (one holding its
    ``population.json`` and ``template.yaml``), given as a config: how its template loads or fits
    it, with its leading space; empty for another folder."""
    parent = folder.absolute().parent
    template = parent / "template.yaml"
    try:
        if not ((parent / "population.json").is_file() and template.is_file()):
            return ""
    except OSError:
        return ""
    return (f" It is a lens folder of the simulate-population folder {parent}, whose template loads or fits it "
            f"with the lens folder as base_dir: tinylens.load({str(template)!r}, base_dir={str(folder)!r}) in Python "
            f"(tinylens.fit the same); on the command line, tinylens survey fits a folder of lens folders with it.")


class _DuplicateKey(yaml.constructor.ConstructorError):
    """A key given twice in one mapping: YAML's syntax allows it, a config does not."""


INT_TAG, FLOAT_TAG, STR_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:str"
#: A whole number as the config reads it: binary, hexadecimal, or decimal with leading zeros
#: allowed (``010``, ``08``), underscores aside; not YAML 1.1's base-60 ``1:30``.
WHOLE_NUMBER = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?[0-9][0-9_]*)$")
#: A float as PyYAML reads one, less YAML 1.1's base-60 form (``1:30.5``, read as 90.5).
PLAIN_FLOAT = re.compile(r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
                         r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
#: A whole number written with leading zeros (``007``, ``-010``, ``08``), underscores aside.
LEADING_ZEROS = re.compile(r"[-+]?0[0-9_]*[0-9][0-9_]*")


class DecimalNumbersLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but reading numbers as they are typed, not as YAML 1.1 does: a whole
    number with leading zeros is the decimal it writes (YAML 1.1 reads ``seed: 010`` as the octal 8
    and ``08`` as text), and digits with colons stay text (YAML 1.1 reads ``1:30`` as the base-60
    90). Hexadecimal (``0x10``), binary, floats and the rest are PyYAML's. Configs and
    ``simulate-population --set`` read their values with it."""

    yaml_implicit_resolvers = {first: [(tag, {INT_TAG: WHOLE_NUMBER, FLOAT_TAG: PLAIN_FLOAT}.get(tag, pattern))
                                       for tag, pattern in resolvers]
                               for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        written = self.construct_scalar(node)
        if isinstance(written, str) and LEADING_ZEROS.fullmatch(written):
            return int(written.replace("_", ""), 10)
        return super().construct_yaml_int(node)


DecimalNumbersLoader.add_constructor(INT_TAG, DecimalNumbersLoader.construct_yaml_int)


class _UniqueKeyLoader(DecimalNumbersLoader):
    """A safe YAML loader (:class:`DecimalNumbersLoader`) that refuses a key given twice in one
    mapping (PyYAML keeps the last), and keeps, in ``key_words``, the words written for each key
    it read as no text (``on:``, which YAML 1.1 reads as true), mapping by mapping (:class:`KeyWords`)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.key_words = KeyWords()

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, tuple[Any, yaml.ScalarNode]] = {}
        for key_node, _ in () if isinstance(node, yaml.ScalarNode) else node.value:  # a scalar: PyYAML's error, at it
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            # the key as read, as the mapping holds it: on and yes (both true), 1 and 01, true and 1 are one key
            key = self.construct_object(key_node)
            try:
                first = seen.get(key)
            except TypeError:  # no key a mapping can hold: PyYAML's error, at it
                continue
            if first is not None:
                held, first = first
                same = "" if first.value == key_node.value else (
                    f", written '{visible(str(first.value))}', which YAML reads as the same key, {show(held)}")
                raise _DuplicateKey(
                    f"in the mapping that starts at line {node.start_mark.line + 1}",
                    node.start_mark,
                    f"found the key '{visible(str(key_node.value))}' twice (first at line "
                    f"{first.start_mark.line + 1}{same})",
                    key_node.start_mark,
                )
            seen[key] = key, key_node
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_map(self, node: yaml.MappingNode) -> Iterator[dict]:
        """PyYAML's, and the words of the map's keys read as no text, kept for the map it gives."""
        data: dict = {}
        yield data
        data.update(self.construct_mapping(node))
        for key_node, _ in node.value:  # a << merge's keys among them, as construct_mapping leaves them
            if isinstance(key_node, yaml.ScalarNode) and key_node.style is None and key_node.tag not in (
                    STR_TAG, "tag:yaml.org,2002:merge"):
                self.key_words.add(data, self.construct_object(key_node), key_node.value)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's, but a value its tag cannot be built from (``!!int x``, ``!!timestamp 3``,
        a date such as 2020-13-45) raises a ConstructorError at the value, not a bare
        ValueError or AttributeError from inside PyYAML."""
        pending = len(self.state_generators)
        try:
            data = super().construct_object(node, deep=deep)
        except UNBUILDABLE as exc:
            raise _unbuildable(node, exc) from None
        # a list or mapping (!!set, !!pairs) is filled in later, by a generator PyYAML runs after this returns
        self.state_generators[pending:] = [_marked(g, node) for g in self.state_generators[pending:]]
        return data


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:map", _UniqueKeyLoader.construct_yaml_map)

#: What PyYAML's constructors raise, bare, for a value that their tag cannot be built from.
UNBUILDABLE = (ValueError, TypeError, KeyError, AttributeError, OverflowError)


def _marked(generator: Iterator[Any], node: yaml.Node) -> Iterator[Any]:
    """Run a PyYAML constructor's generator, raising a ConstructorError at ``node`` for what it
    cannot build, as :meth:`_UniqueKeyLoader.construct_object` does."""
    try:
        yield from generator
    except UNBUILDABLE as exc:
        raise _unbuildable(node, exc) from None


def _unbuildable(node: yaml.Node, exc: Exception) -> yaml.constructor.ConstructorError:
    """The ConstructorError, at ``node``, of a value that its YAML tag cannot be built from (``exc``):
    the value and the tag, and PyYAML's reason where it gives one."""
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    value = f"the value {node.value!r}" if isinstance(node, yaml.ScalarNode) else f"this {node.id}"
    reason = f" ({exc})" if isinstance(exc, ValueError) and str(exc) else ""
    return yaml.constructor.ConstructorError(None, None, f"{value} cannot be read as {tag}{reason}", node.start_mark)


def parse_yaml(text: str, path: Path | str) -> Any:
    """Parse YAML text; a syntax error (a ConfigValueError) names the file, line and column. A file with no value (empty,
    comments alone, or ``null``) lacks the sections a config must have: a ConfigValueError, as a
    mapping without them is."""
    return parse_yaml_keys(text, path)[0]


class KeyWords:
    """The words written for the keys YAML read as no text (``on:`` as true, ``~:`` as null), mapping
    by mapping: the same true may be ``on`` in one section and ``yes`` in another. A mapping is the one
    the loader built, found by its identity (kept alive here, so that no other takes its id)."""

    def __init__(self) -> None:
        self._words: dict[int, dict[tuple[str, Any], str]] = {}
        self._held: list[Any] = []

    def add(self, mapping: dict, key: Any, word: str) -> None:
        """``key`` of ``mapping`` written ``word``; a key given again (a ``<<`` merge's key that the
        mapping's own overrides) is the word written last, whose value the mapping holds."""
        if id(mapping) not in self._words:
            self._held.append(mapping)
        self._words.setdefault(id(mapping), {})[key_id(key)] = word

    def __bool__(self) -> bool:
        """Whether any key was written as words YAML read as no text."""
        return bool(self._words)

    def of(self, mapping: Any) -> dict[tuple[str, Any], str]:
        """The words of ``mapping``'s keys, by :func:`~tinylens.config.schema.key_id`; empty for
        another value, or a mapping the loader did not build."""
        return self._words.get(id(mapping), {})


def parse_yaml_keys(text: str, path: Path | str) -> tuple[Any, KeyWords]:
    """:func:`parse_yaml`'s value, and the words written for each key YAML read as no text
    (``on:`` read as true; :attr:`_UniqueKeyLoader.key_words`), which :func:`validate_config`
    names such a key by."""
    loader = None
    try:
        loader = _UniqueKeyLoader(text)  # its reader refuses a character YAML does not allow here
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        raise ConfigValueError(_yaml_error_message(exc, path)) from None
    except yaml.reader.ReaderError as exc:
        raise ConfigValueError(_reader_error_message(exc, text, path)) from None
    except yaml.YAMLError as exc:
        raise ConfigValueError(f"YAML syntax error in config file {path}: {exc}.") from None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        raise ConfigValueError(f"Config file {path} is empty; it needs at least the 'dataset' and 'model_components' sections.")
    return data, loader.key_words  # type: ignore[union-attr] - set, or an error raised above


def _yaml_error_message(exc: yaml.MarkedYAMLError, path: Path | str) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = exc.problem or "invalid YAML"
    context = f" ({exc.context}{_started_at(exc)})" if exc.context else ""
    heading = "YAML syntax error"
    hint = "Check the indentation, colons and quotes on that line and the one before it."
    if isinstance(exc, _DuplicateKey):
        heading, hint = "Duplicate YAML key", "Remove or rename one of them."  # the syntax is fine: the key is not
    elif "\\t" in repr(problem):
        hint = _tab_hint(exc.problem_mark)
    elif structure := _structure_hint(exc):
        heading, hint = structure  # the syntax is fine: a key, a merge or an !!omap is not
    elif tag := _tag_hint(exc):
        heading, hint = tag  # the syntax is fine: the tag, or the value, is not
    elif "escape" in problem and "double-quoted" in (exc.context or ""):
        hint = _backslash_hint(exc)
    elif unclosed := _unclosed(exc):
        hint = unclosed
    elif lookalike := _lookalike(exc):
        hint = lookalike
    return f"{heading} in config file {path}{where}: {problem}{context}. {hint}"


def _tab_hint(mark: yaml.Mark | None) -> str:
    """The hint for a tab where PyYAML found one: in the indentation of a line, on a line that
    looks blank, or between the items of a line (after a colon, before a comment), where PyYAML
    takes no tab either, though it is no indentation."""
    indentation = "YAML does not allow tab characters for indentation; indent with spaces."
    if mark is None or not mark.buffer:
        return indentation
    lines = LINE_BREAK.split(mark.buffer.removeprefix(BOM))
    line = lines[mark.line] if mark.line < len(lines) else ""
    if not line.strip():
        return f"Line {mark.line + 1} looks blank but holds a tab, which YAML reads as indentation and does not allow: delete it."
    if line[:mark.column].strip(" \t-"):
        return ("This tab is not indentation, but PyYAML (which tinylens reads YAML with) does not take a tab between "
                "the items of a line either (after a colon, before a comment, at the end of a line): type a space instead.")
    return indentation


def _tag_hint(exc: yaml.MarkedYAMLError) -> tuple[str, str] | None:
    """The heading and hint for a YAML tag that the safe loader has no constructor for
    (``!!python/object/apply:...``, a ``!custom`` tag), or for a value that its tag cannot be
    built from (``!!int x``, ``!!binary xx``, a date such as 2020-13-45), the tag shown as
    written at the error's mark where it can be; else None."""
    if not isinstance(exc, yaml.constructor.ConstructorError):
        return None
    problem, written = exc.problem or "", _written_tag(exc.problem_mark)
    if "constructor for the tag" in problem:
        tag = f"The tag {written} is not supported: a" if written else "A"
        return "Unsupported YAML tag", (f"{tag} config takes no YAML tags (!!... or !name). Remove it and write "
                                        "the value plainly (a number, text, a list or a mapping).")
    if written and "twice" not in problem:
        return "Invalid YAML value", (f"A config needs no YAML tags (!!... or !name): remove the tag {written} "
                                      "and write the value plainly (a number, text, a list or a mapping).")
    if "cannot be read as" in problem:  # a value YAML reads by its form: a date that is none
        return "Invalid YAML value", "To write it as text, put it in quotes."
    return None


def _written_tag(mark: yaml.Mark | None) -> str | None:
    """The YAML tag as written at ``mark`` (``!<...>``, ``!!name``, ``!name``, after an ``&anchor``), or None."""
    text = mark.buffer[mark.pointer:] if mark is not None and mark.buffer else ""
    written = re.match(r"(?:&[^\s,\[\]{}]+\s+)?(!<[^>\s]*>|![^\s,\[\]{}]*)", text)
    return written[1] if written else None


#: PyYAML's context for an !!omap or !!pairs value that is no list of one-key mappings, and its tag.
PAIRS_CONTEXT = {"while constructing an ordered map": "!!omap", "while constructing pairs": "!!pairs"}


def _structure_hint(exc: yaml.MarkedYAMLError) -> tuple[str, str] | None:
    """The heading and hint for YAML whose syntax is fine but that PyYAML cannot build: a list or
    mapping used as a key (``? [a]``, ``{[a]: 1}``), a merge key ``<<`` given no mapping
    (``{<<: 3}``), an !!omap or !!pairs value that is no list of one-key mappings; else None."""
    if not isinstance(exc, yaml.constructor.ConstructorError):
        return None
    problem = exc.problem or ""
    if problem == "found unhashable key":
        return "Invalid YAML key", ("A key must be plain text (such as pixel_scale), not a list or a mapping (a line "
                                    "that starts with '? ' makes the item after it a key): write the key as a word, in "
                                    "quotes if it holds brackets or braces.")
    if "for merging" in problem:
        return "Invalid YAML merge key", ("The merge key << must merge a mapping (such as <<: *name, where &name "
                                          "marks a mapping) or a list of mappings into this one: give it one, or "
                                          "remove it.")
    if exc.context in PAIRS_CONTEXT:
        tag = _written_tag(exc.context_mark) or PAIRS_CONTEXT[exc.context]
        return "Invalid YAML value", (f"{tag} takes a list of one-key mappings ('- key: value'), and a config needs "
                                      f"no YAML tags (!!... or !name): remove the tag {tag} and write the value "
                                      "plainly (a number, text, a list or a mapping).")
    return None


#: The hint for a backslash in double quotes that starts no escape sequence YAML knows
#: (``\d`` of ``"C:\data\image.fits"``): a Windows path, most likely. :func:`_backslash_hint`
#: gives it with the user's own path where it can.
BACKSLASH_HINT = ("In double quotes a backslash starts an escape sequence (\\n, \\t, \\x..), so a Windows path "
                  f"cannot be written there as it is. {windows_path_advice()}")


def _backslash_hint(exc: yaml.MarkedYAMLError) -> str:
    """:data:`BACKSLASH_HINT`, its advice showing the user's path: the double-quoted text that
    starts at the error's context, where it is closed on its line and holds no single quote."""
    start = exc.context_mark
    text = start.buffer[start.pointer:] if start is not None and start.buffer else ""
    quoted = re.match(r'"([^"\'\r\n]+)"', text)
    if quoted is None:
        return BACKSLASH_HINT
    return BACKSLASH_HINT.replace(windows_path_advice(), windows_path_advice(quoted[1]))


#: Characters that look like a space (or, the last, a colon) but that YAML does not read as one:
#: a no-break space, typographic and zero-width spaces, and the fullwidth colon, as text copied
#: from a web page or a document may hold.
LOOKALIKES = re.compile("[\u00a0\u1680\u2000-\u200d\u202f\u205f\u2060\u3000\ufeff\uff1a]")
FULLWIDTH_COLON = "\uff1a"


def _lookalike(exc: yaml.MarkedYAMLError) -> str | None:
    """The hint for a character that looks like a space or colon but is not one to YAML, on the
    line of the error, of its context or the line before them, else None."""
    marks = [m for m in (exc.context_mark, exc.problem_mark) if m is not None]
    if not marks or not marks[-1].buffer:
        return None
    lines = LINE_BREAK.split(marks[-1].buffer.removeprefix(BOM))
    for number in range(max(min(m.line for m in marks) - 1, 0), min(max(m.line for m in marks) + 1, len(lines))):
        found = LOOKALIKES.search(lines[number])
        if found:
            char = found.group()
            looks = "a colon" if char == FULLWIDTH_COLON else "a space"
            return (f"Line {number + 1}, column {found.start() + 1} holds a {unicodedata.name(char, 'space').lower()} "
                    f"(U+{ord(char):04X}), which looks like {looks} but is not one to YAML (text copied from a web "
                    f"page or a document?): where {looks} is meant, type one.")
    return None


#: YAML's line breaks (YAML 1.1, as PyYAML reads it).
LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
#: The byte order mark some editors write first, which YAML skips.
BOM = "\ufeff"


def _reader_error_message(exc: yaml.reader.ReaderError, text: str, path: Path | str) -> str:
    """A character that YAML does not allow anywhere (a control character such as NUL), found
    by its line and column: PyYAML gives only its offset, in "<unicode string>"."""
    start = len(BOM) if text.startswith(BOM) else 0
    lines = LINE_BREAK.split(text[start:exc.position])
    where = f"YAML syntax error in config file {path} at line {len(lines)}, column {len(lines[-1]) + 1}"
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    if code == 0:
        return (f"{where}: the NUL character (U+0000) is not allowed in YAML. A file cut short by a crash or a "
                "full disk is often padded with NUL characters: check that the file is complete, and delete them.")
    kind = "control character" if unicodedata.category(chr(code)) == "Cc" else "character"
    return f"{where}: the {kind} U+{code:04X} is not allowed in YAML. Delete it (an editor may not show it)."


#: Each character that opens a YAML quoted value or bracketed list or mapping: what it is, and what closes it.
CLOSERS = {'"': ("quote", '"'), "'": ("quote", "'"), "[": ("bracket", "]"), "{": ("brace", "}")}


def _started_at(exc: yaml.MarkedYAMLError) -> str:
    """`` that starts at line L, column C`` for an error's context (a quoted value, a bracketed
    list) begun on an earlier line than the problem was found on, else ``""``."""
    start, end = exc.context_mark, exc.problem_mark
    if start is None or end is None or start.line == end.line or "line" in (exc.context or ""):
        return ""
    return f" that starts at line {start.line + 1}, column {start.column + 1}"


def _unclosed(exc: yaml.MarkedYAMLError) -> str | None:
    """The hint for a quote or bracket opened on an earlier line than the error and not closed
    before it (PyYAML reports where it gave up: the end of the file, for a quote), or, for a
    bracket closed after the error, for the comma missing between its items; else None (a
    block mapping whose first key is quoted begins with a quote, but its error is elsewhere)."""
    start, end = exc.context_mark, exc.problem_mark
    if start is None or end is None or start.line == end.line or not start.buffer:
        return None
    opener = start.buffer[start.pointer:start.pointer + 1]
    if opener not in CLOSERS or OPENED_CONTEXT[opener] not in (exc.context or ""):
        return None
    what, closer = CLOSERS[opener]
    closed = _closed_on(start.buffer, start.pointer, end.pointer) if opener in "[{" else None
    if closed is not None:
        return (f"The {what} {opener} opened at line {start.line + 1}, column {start.column + 1} is closed on line "
                f"{closed + 1}: is a comma missing between its items, before line {end.line + 1}, column "
                f"{end.column + 1}?")
    return (f"The {what} {opener} opened at line {start.line + 1}, column {start.column + 1} is not closed before "
            f"line {end.line + 1}: add the closing {closer} on line {start.line + 1}.")


#: How PyYAML's error context names what each of :data:`CLOSERS` opened.
OPENED_CONTEXT = {'"': "quoted scalar", "'": "quoted scalar", "[": "flow sequence", "{": "flow mapping"}


def _closed_on(text: str, opened: int, failed: int) -> int | None:
    """The line (from 0) on which the bracket or brace at offset ``opened`` of ``text`` is closed,
    where that is after the offset ``failed`` of an error inside it; None where it is not."""
    pending = []  # the closers of the brackets open at each point
    for offset in range(opened, len(text)):
        char = text[offset]
        if char in "[{":
            pending.append(CLOSERS[char][1])
        elif char in "]}":
            if char != pending.pop():  # closed by the other kind: this bracket is not closed
                return None
            if not pending:
                return len(LINE_BREAK.findall(text, 0, offset)) if offset >= failed else None
    return None


# -- validation -------------------------------------------------------------------------------
def validate_config(data: Any, origin: str, key_words: KeyWords | None = None, written: Any = None) -> Config:
    """Validate parsed YAML; ``origin`` names it in messages (e.g. ``config file a.yaml``). A key
    that the config's other keys switch off (:func:`~tinylens.config.schema.unused_keys`) loads
    with a :class:`ConfigWarning`. A top level that is no mapping is a ConfigTypeError, a fit's
    ``result.json`` given as a config (a mapping of other keys) a ConfigValueError; the
    schema's problems are one error of the class :func:`error_class` gives them. ``key_words``
    (:func:`parse_yaml_keys`): the words written for the keys YAML read as no text, which name them;
    ``written``: the parsed document whose mappings ``key_words`` know, where ``data`` is a copy of
    it with some mappings made again (a survey's template with its lens files filled in), by the
    same keys; default ``data`` itself."""
    if not isinstance(data, Mapping):
        dashes = " (with no '- ' before its keys)" if isinstance(data, list) and data else ""  # not of '[]'
        raise ConfigTypeError(
            f"The top level of {origin} must be a mapping{dashes} with the sections "
            f"{', '.join(Config.model_fields)}; got {described(data)}."
        )
    if stored_result(data):
        what = "The configuration mapping is a fit's result (result.json's content)" if origin == MAPPING else (
            f"{origin[:1].upper()}{origin[1:]} is a fit's result.json")
        raise ConfigValueError(f"{what}, not a config: its config is under 'config', with its relative paths from "
                               f"'config_dir'. Give the config file it was fitted from{_fitted_in(data)}, or, in Python, "
                               "for r the result.json read with json.load: tinylens.load(r['config'], "
                               "base_dir=r['config_dir']). To look at the fit itself, read it back with "
                               "tinylens.read_result(its folder).")
    read, unread = legacy_sampling(data)
    from_sampling = "inference" in read and "inference" not in data  # legacy_sampling made it of sampling
    try:
        config = Config.model_validate(read)
    except ValidationError as exc:
        raise error_class(exc)(format_validation_error(exc, origin, from_sampling=from_sampling,
                                                       key_words=key_words,
                                                       data=data if written is None else written)) from None
    config._inference_from_sampling = from_sampling
    config._sampler_written = from_sampling and _sampler_written(data)
    where = "" if origin == MAPPING else f"In {origin}: "
    for line in [*unread, *unused_keys(config)]:
        warnings.warn(f"{where}{line}.", ConfigWarning, stacklevel=outside_stacklevel())
    return config


def _fitted_in(stored: Mapping[str, Any]) -> str:
    """`` (look in /data/lens1, its config_dir)`` for a result that records the folder its config's
    relative paths start from (a config file's own folder, unless base_dir was given), with its
    leading space; empty for one that records none."""
    folder = stored.get("config_dir")
    return f" (look in {folder}, its config_dir)" if isinstance(folder, str) and folder.strip() else ""


def stored_result(data: Mapping[str, Any]) -> bool:
    """Whether ``data`` is a fit's ``result.json`` (its content), not a config: a mapping under
    ``config`` beside the fit's ``config_dir`` or ``max_likelihood``, neither a config key."""
    return isinstance(data.get("config"), Mapping) and ("config_dir" in data or "max_likelihood" in data)


def legacy_sampling(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``data`` with TinyLensGpu's older section ``sampling: {sampler: nautilus, nlive: 200, ...}``
    read as its RunLensModel reads it, and a warning line for each section left unread.

    Without ``inference``, ``sampling`` is a sampler run: ``method`` its ``sampler`` (the type's
    default when left out), ``settings`` its other keys. Beside ``inference`` TinyLensGpu does
    not read it: it is dropped, with a warning. A ``sampling`` that is no mapping stays, and is
    reported as an unknown key."""
    out = dict(data)
    if LEGACY_SAMPLING not in out:
        return out, []
    if "inference" in out:
        del out[LEGACY_SAMPLING]
        return out, [f"{LEGACY_SAMPLING} (TinyLensGpu's older name of inference): not read, as the config "
                     "has an inference section; remove it"]
    section = out[LEGACY_SAMPLING]
    if section is not None and not isinstance(section, Mapping):
        return out, []
    settings = dict(section or {})
    del out[LEGACY_SAMPLING]
    out["inference"] = {"type": "sampler", "method": settings.pop("sampler", None), "settings": settings}
    return out, []


def _sampler_written(config: Any) -> bool:
    """Whether a ``config`` (a Config or a parsed one, as :func:`key_as_written` takes it) whose
    inference is read from TinyLensGpu's older ``sampling`` section gives its ``sampler``."""
    if isinstance(config, Mapping):
        return (config.get(LEGACY_SAMPLING) or {}).get("sampler") is not None
    return getattr(config, "_sampler_written", False)


def reads_sampling(data: Mapping[str, Any]) -> bool:
    """Whether the parsed config ``data``'s inference is read from TinyLensGpu's older ``sampling``
    section (:func:`legacy_sampling`): one that is a mapping (or empty), with no ``inference`` beside it."""
    section = data.get(LEGACY_SAMPLING)
    return LEGACY_SAMPLING in data and "inference" not in data and (section is None or isinstance(section, Mapping))


#: The endings of pydantic's error types that a value of the wrong kind has, not a wrong value of the
#: right kind: ``float_type`` (null or a list for a number), ``dict_type`` (a list for a section),
#: ``float_parsing`` (a text for a number), ``bool_parsing`` (``fixed: maybe``).
WRONG_TYPE_ENDINGS = ("_type", "_parsing")


def wrong_type(err: Mapping[str, Any]) -> bool:
    """Whether the pydantic error ``err`` is of a value of a kind its key cannot take (a text or
    null for a number, a number for a list, a list for a section): pydantic's ``*_type`` and
    ``*_parsing`` errors, and the schema's own marked so (:func:`~tinylens.config.schema.fail`).
    Else it is a value of the right kind that the key cannot take (a number out of range, one no
    whole number for a count, a text of no choice, a list of another length than a pair's), an
    unknown key or a missing one."""
    if err["type"] == ERROR_TYPE:
        return bool((err.get("ctx") or {}).get(WRONG_TYPE))
    return err["type"].endswith(WRONG_TYPE_ENDINGS) and not beyond_float(err)


def beyond_float(err: Mapping[str, Any]) -> bool:
    """Whether the pydantic error ``err`` is its ``float_type`` for a whole number no float holds (400
    digits written out, an int to YAML, where ``1e400`` is .inf): a number of the right kind, too large."""
    return err["type"] == "float_type" and no_float_holds(err.get("input"))


def error_class(exc: ValidationError) -> type[ConfigError]:
    """The class of the error a config's schema problems ``exc`` raise: a
    :class:`~tinylens.errors.ConfigTypeError` (a TypeError too) where each is a value of the wrong
    kind (:func:`wrong_type`), a :class:`~tinylens.errors.ConfigValueError` (a ValueError too) where
    each is a wrong value, an unknown key or a missing one, and, for a config with problems of both
    kinds, ConfigError, the class both are (what ``except ConfigError`` catches, and neither
    ``except TypeError`` nor ``except ValueError`` alone would rightly)."""
    kinds = {wrong_type(err) for err in exc.errors(include_url=False)}
    return ConfigError if len(kinds) > 1 else ConfigTypeError if kinds == {True} else ConfigValueError


def format_validation_error(exc: ValidationError, origin: str, from_sampling: bool = False,
                            key_words: KeyWords | None = None, data: Any = None) -> str:
    """One message listing each problem as ``(i) key.path: what is wrong; got value``;
    ``from_sampling``: the config's ``inference`` was read from TinyLensGpu's ``sampling`` section
    (:func:`legacy_sampling`), whose keys its problems are named by (:func:`as_written`);
    ``key_words``: the words written for the keys YAML read as no text (:func:`parse_yaml_keys`),
    which name such a key (an unknown one, one of a mapping of names: ``params``, ``settings``) and its
    value's problems, each by the words of its own mapping in ``data``, the config as parsed."""
    def words_at(loc: tuple[Any, ...]) -> dict[tuple[str, Any], str]:
        return {} if key_words is None else key_words.of(_value_at(data, as_written(loc) if from_sampling else loc))

    errors = [{**err, "loc": tuple(err["loc"])} for err in exc.errors(include_url=False)]
    names = {err["loc"][:-1]: written[0] for err in errors if err["loc"][-1:] == (DICT_KEY,)
             and (written := written_key(err.get("input"), words_at(err["loc"][:-2]))) is not None}
    entries, from_yaml = [], origin != MAPPING or _MAPPING_FROM_YAML.get()  # a survey's template: YAML read
    for err in errors:
        if err["type"] == ERROR_TYPE and UNKNOWN_KEYS in (err.get("ctx") or {}):  # named as written there
            err = {**err, "ctx": _unknown_keys(*err["ctx"][UNKNOWN_KEYS], words_at(clean_loc(err["loc"]))).context}
        prefix = next((p for p in names if err["loc"][:len(p)] == p), None)
        if prefix is not None:  # pydantic's 0 for the key false, 'None' for null: the key as written
            err = {**err, "loc": (*prefix[:-1], names[prefix], *err["loc"][len(prefix):])}
        if prefix is not None and err["loc"][-1:] == (DICT_KEY,):
            loc = err["loc"][:-1]
            where = dotted(as_written(loc) if from_sampling else loc)
            entries.append(f"{where}: a key here must be text{key_read_note(err.get('input'), words_at(loc[:-1]))}.")
        else:
            entries.append(describe_error(err, from_yaml=from_yaml, from_sampling=from_sampling))
    shown = entries[:MAX_LISTED_ERRORS]
    if len(entries) > len(shown):
        shown.append(f"... and {len(entries) - len(shown)} more")
    n = len(entries)
    lines = [f"Invalid {origin} ({counted(n, 'problem')}):"]
    lines += [f"  ({i}) {text}" for i, text in enumerate(shown, 1)]
    return "\n".join(lines)


def _value_at(data: Any, loc: tuple[Any, ...]) -> Any:
    """The value at the key path ``loc`` (keys and list indices) of ``data``; None where it has none."""
    for part in loc:
        if isinstance(data, Mapping) and isinstance(part, str) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def describe_error(err: Mapping[str, Any], from_yaml: bool = True, from_sampling: bool = False) -> str:
    """``path: message; got value`` for one pydantic error; ``from_yaml``: of a config read from a
    YAML file (False for a mapping given in Python, where YAML may have had no part);
    ``from_sampling``: of a config whose ``inference`` was its ``sampling`` section, named so."""
    loc = clean_loc(err["loc"])
    ctx = err.get("ctx") or {}
    if err["type"] == ERROR_TYPE:
        loc = loc + tuple(_split_key(ctx["key"])) if ctx.get("key") else loc
        message, value = ctx["msg"], ctx.get("value")
        if ctx.get(NO_VALUE):  # a key the schema's own check refuses null for, said as any key given none
            message, value = _no_value_message(loc, message), None
        elif isinstance(ctx.get(BOOLEAN_GIVEN), bool):  # YAML's reading named only where YAML was read
            message = not_a_number_message(ctx[BOOLEAN_GIVEN], from_yaml)
    elif _is_pair_error(err["type"], loc):
        loc = loc[:-1] if isinstance(loc[-1], int) else loc
        message, value = "should be a list of two numbers [a, b]", show(err.get("input"))
    elif err["type"] == "missing":
        message, value = _missing_message(loc), None
    elif err["type"] in TOO_SHORT and err.get("input") == "":
        message, value = "should not be empty", show("")
    elif err.get("input", ...) is None:
        message, value = _no_value_message(loc, _error_message(err)), None
    elif err["type"] in NOT_A:
        message, value = _not_a(err["type"], err.get("input")), described(err.get("input"))
    elif err["type"] == TOO_LARGE_INT:  # pydantic's 'Unable to parse input string as an integer, exceeded maximum size'
        message, value = f"should be {whole_range(loc)}", show(err.get("input"))
    elif beyond_float(err):  # pydantic's 'should be a valid number' for a number it is
        # limits take .inf on purpose (no limit): not 'finite' there, but what to write for none
        unlimited = len(loc) >= 2 and loc[-2] == "limits" and isinstance(loc[-1], int)
        message = "should be a number a float holds, or -.inf or .inf for no limit" if unlimited else "should be a finite number"
        value = f"{show(err['input'])}{BEYOND_FLOAT}"
    else:
        message, value = _error_message(err), show(err.get("input"))
    where = dotted(as_written(loc) if from_sampling else loc) or "top level"
    got = f"; got {value}" if value is not None else ""
    text = f"{message.rstrip('. ')}{got}"
    hints = f"{_choice_hint(err, loc)}{_unquoted_text_hint(err, from_yaml)}"
    if from_yaml and "YAML reads" not in text + hints:
        hints += _boolean_read(err.get("input")) + _infinity_read(err)
    return f"{where}: {text}{'' if text.endswith('?') else '.'}{hints}"


#: pydantic's error type for a whole float too large for its integers (``nsub: 1.0e+20``), which it says
#: as "Unable to parse input string as an integer, exceeded maximum size", naming neither bound nor key's range.
TOO_LARGE_INT = "int_parsing_size"


def whole_range(loc: tuple[Any, ...]) -> str:
    """``a whole number from 1 to 64``: the whole numbers the integer key at ``loc`` takes, by the bounds
    of its schema field (``ge``, ``le``), and 2**53 (:data:`~tinylens.config.schema.MAX_EXACT_WHOLE`, the
    largest a float keeps exactly) where it has no upper one, or no field (a list's item: ``levels``)."""
    info = _field_at(loc)[0] if loc and not isinstance(loc[-1], int) else None  # a list's item: its own check
    low = high = None
    for rule in info.metadata if info is not None else []:
        low = getattr(rule, "ge", low)
        high = getattr(rule, "le", high)
    if low is None and high is None:
        return f"a whole number of at most 2**53 = {MAX_EXACT_WHOLE} in absolute value"
    if high is None:
        return f"a whole number from {low} to 2**53 = {MAX_EXACT_WHOLE}"
    return f"a whole number from {low} to {high}" if low is not None else f"a whole number up to {high}"


def _infinity_read(err: Mapping[str, Any]) -> str:
    """For an infinity where a finite number belongs (``pixel_scale: 1.0e+400``, ``nsub: -1.0e+400``), that
    YAML reads a number beyond a float's range as it, with a leading space: the config shows no ``.inf``
    where the number overflowed, and the ``inf`` shown is not what was written; else empty."""
    given = err.get("input")
    if err["type"] != "finite_number" or not isinstance(given, float) or not math.isinf(given):
        return ""
    return f" {infinity_read(given)}."


def _boolean_read(given: Any) -> str:
    """For a true or false where no boolean belongs (``prior_settings: off``, ``output: no``: a
    list or a section expected), the words YAML reads, unquoted, as it, with a leading space:
    the user wrote one of them, not the false shown; else empty."""
    return f" {bool_words_read(given)}." if isinstance(given, bool) else ""


def key_as_written(config: Any, key: str) -> str:
    """The dotted ``key`` of ``config``'s inference (``inference.method``, ``inference.settings.nlive``)
    as the config file wrote it: where its inference was read from TinyLensGpu's older ``sampling``
    section (:func:`legacy_sampling`), ``sampling.sampler``, ``sampling.nlive`` (:func:`as_written`);
    else, and for another key, ``key`` itself. ``config``: a validated Config, or a config (a
    survey's template) as parsed from its YAML, not yet read by :func:`legacy_sampling`. Its
    ``inference.method`` where that section leaves out ``sampler`` is the section, ``sampling``, as
    are ``inference`` and ``inference.type`` (a sampler run: what the section makes the inference)."""
    from_sampling = reads_sampling(config) if isinstance(config, Mapping) else \
        getattr(config, "_inference_from_sampling", False)
    if not from_sampling or not (key == "inference" or key.startswith("inference.")):
        return key
    if key in ("inference", "inference.type"):  # the section itself, which no type key of it sets
        return LEGACY_SAMPLING
    if key == "inference.method" and not _sampler_written(config):  # the sampler left out: the section
        return LEGACY_SAMPLING
    return ".".join(as_written(tuple(key.split(".", 2))))


def settings_section(config: Any) -> str:
    """Where ``config`` (as :func:`key_as_written` takes it) gives its sampler's settings, as the config
    file wrote it: ``inference.settings``, or TinyLensGpu's older ``sampling`` section."""
    return key_as_written(config, "inference.settings.resume").rpartition(".")[0]


def as_written(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The key path ``loc`` of a config's ``inference``, read from TinyLensGpu's older ``sampling``
    section (:func:`legacy_sampling`), as the user wrote it there: ``inference.method`` as
    ``sampling.sampler``, ``inference.settings.nlive`` as ``sampling.nlive``; another path as it is."""
    if not loc or loc[0] != "inference":
        return loc
    rest = loc[1:]
    if rest[:1] == ("method",):
        return (LEGACY_SAMPLING, "sampler", *rest[1:])
    return (LEGACY_SAMPLING, *(rest[1:] if rest[:1] == ("settings",) else rest))


#: pydantic's error types of a value where text belongs: a text key, or one of a key's fixed texts.
TEXT_EXPECTED = ("string_type", "literal_error")


def _unquoted_text_hint(err: Mapping[str, Any], from_yaml: bool = True) -> str:
    """For a value that YAML read as no text where text belongs (``output.path: no``, which YAML 1.1
    reads as false, ``draw_figures: off``, ``path: 2024-06-01``, a date, ``path: 2024``, a number):
    how YAML read it and that quotes keep it the text written, with its leading space; else empty.
    For a mapping given in Python (not ``from_yaml``), to give the text as a str, and YAML's reading
    only as what it is if the mapping came from YAML."""
    given = err.get("input")
    if _schema_choice_error(err):  # a key of choices or a list whose own check refused the value (corner_parameters)
        err = {**err, "type": "literal_error"}
    if err["type"] not in TEXT_EXPECTED or isinstance(given, str):
        return ""
    if not from_yaml:
        hint = _unquoted_text_hint(err)
        if not hint:
            return ""
        as_str = "" if err["type"] == "literal_error" else " Give the text as a str."  # a choice's are listed
        return f"{as_str} If the mapping came from YAML:{hint}"
    if isinstance(given, bool):
        if err["type"] == "literal_error":  # none of the choices is such a word: they are listed
            return _boolean_read(given)
        quoted = ", ".join(repr(w) for w in YAML_BOOL_WORDS[given])
        return f" {bool_words_read(given)}: write the word in quotes ({quoted}) to give it as text."
    if isinstance(given, (int, float, datetime.date)) and err["type"] == "string_type":
        if type(given) is datetime.date:  # YAML reads a date only as YYYY-MM-DD: its text is the one written
            return f" YAML reads it, unquoted, as a date: write it in quotes ('{show(given)}') to give it as text."
        # a number or a time: many texts read as it (2024_06 and 0202406 as 202406, 0x1F as 31, 1.50 as 1.5),
        # so the one written is not known here, and quoting the number read would give another text
        kind = "number" if isinstance(given, (int, float)) else "date and time"
        return f" YAML reads it, unquoted, as a {kind}: write the text you mean in quotes to give it as text."
    return ""


def _schema_choice_error(err: Mapping[str, Any]) -> bool:
    """Whether ``err`` is the schema's own error (:func:`~tinylens.config.schema.fail`) about the
    value of a key whose choices are texts (``corner_parameters``: 'mass', 'all' or a list of names),
    not about one of its sub-keys: its message lists the choices, as pydantic's ``literal_error`` does."""
    if err["type"] != ERROR_TYPE or (err.get("ctx") or {}).get("key"):
        return False
    return bool(_literal_choices(_field_at(clean_loc(err["loc"]))[1]))


def _choice_hint(err: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    """For text not one of a key's fixed choices (``prior_type: uniformm``), the "did you mean"
    that a profile's name or setting gets (:func:`~tinylens.errors.did_you_mean`); else empty."""
    given = err.get("input")
    if err["type"] != "literal_error" or not isinstance(given, str):
        return ""
    choices = _literal_choices(_field_at(loc)[1])
    return did_you_mean([given], choices) if choices else ""


def _literal_choices(annotation: Any) -> list[str]:
    """The text values a ``Literal`` annotation (under ``Annotated`` or ``| None``) allows."""
    annotation = _unwrap(annotation) if annotation is not None else None
    if typing.get_origin(annotation) is not typing.Literal:
        return []
    return [str(choice) for choice in typing.get_args(annotation)]


def _not_a(kind: str, value: Any) -> str:
    """What a value that should be a mapping (``kind`` "dict_type") or a list ("list_type") is
    expected to be, as a section's own message says it, with the ``- `` that makes YAML read a
    mapping as a list, or the list it wants, where ``value`` shows it is the mix-up."""
    if kind == "dict_type":
        return mapping_expected(value)
    dashes = "each item on a line that starts with '- '" if isinstance(value, Mapping) else "[a, b, ...]"
    return f"expected a list ({dashes})"


def _is_pair_error(kind: str, loc: tuple[Any, ...]) -> bool:
    """A ``prior_settings``/``limits`` value that is not a list of exactly two items."""
    names = [p for p in loc if isinstance(p, str)]
    if not names or names[-1] not in PAIR_KEYS:
        return False
    return kind in ("tuple_type", "too_long", "too_short") or (kind == "missing" and isinstance(loc[-1], int))


def clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the union tags pydantic adds after ``fixed_value``."""
    out: list[Any] = []
    for part in loc:
        if out and out[-1] == "fixed_value" and part in FIXED_VALUE_TAGS:
            continue
        out.append(part)
    return tuple(out)


def _split_key(key: str) -> list[str]:
    """A dotted sub-key as loc parts (list indices stay glued to their name, e.g. ``a[1]``)."""
    return key.split(".")


def dotted(loc: tuple[Any, ...]) -> str:
    """``('a', 0, 'b')`` -> ``a[0].b``; a key's invisible characters as escapes (:func:`~tinylens.errors.visible`),
    an empty key or one of spaces alone in quotes (``inference.settings.''``, not a bare trailing dot)."""
    text = ""
    for part in loc:
        name = key_name(str(part))
        text += f"[{part}]" if isinstance(part, int) else (f".{name}" if text else name)
    return text


def _error_message(err: Mapping[str, Any]) -> str:
    """pydantic's message for ``err`` (``should be ...``); an integer's as a whole number's."""
    return "should be a whole number" if err["type"] in NOT_WHOLE else _pydantic_message(err["msg"])


def _pydantic_message(msg: str) -> str:
    msg = msg.removeprefix("Value error, ")
    return msg.replace("Input should be", "should be").replace("Input ", "value ")


def _no_value_message(loc: tuple[Any, ...], expected: str) -> str:
    """For a key given with no value (``data_path:`` on its own, or ``~``/``null``), which YAML
    reads as null: say so, and what to write (the field's description, else pydantic's
    ``expected``, e.g. "should be a valid number")."""
    what = _field_description(loc) or expected.removeprefix("should be ")
    empty = "is null" if loc and isinstance(loc[-1], int) else "has no value (nothing after the colon, or null)"
    return f"{empty}; give it a value: {what}"


def _missing_message(loc: tuple[Any, ...]) -> str:
    what = _field_description(loc)
    return "required key is missing" + (f" ({what})" if what else "")


def _field_description(loc: tuple[Any, ...]) -> str | None:
    """The ``description`` of the schema field at ``loc``, if it has one."""
    info = _field_at(loc)[0]
    return info.description if info is not None else None


def _field_at(loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """The schema field (pydantic's FieldInfo) of the last key of ``loc`` and the annotation of the
    value at ``loc`` (an item's, where ``loc`` ends in a list index or a mapping's key); ``(None,
    None)`` where ``loc`` leaves the schema."""
    model: Any = Config
    info = None
    for part in loc:
        model = _unwrap(model)
        if isinstance(part, str) and isinstance(model, type) and issubclass(model, BaseModel):
            info = model.model_fields.get(part)
            if info is None:
                return None, None
            model = info.annotation
        elif typing.get_origin(model) in (list, dict):
            model = typing.get_args(model)[-1]
        else:
            return None, None
    return info, model


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``| None``; of a union, keep its model (e.g. a link's ParamLink)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            return models[0] if models else args[0]
        else:
            return annotation
