"""The YAML configuration schema (TinyLensGpu's format, accepted unchanged), as pydantic models.

Every section forbids unknown keys, so a typo such as ``pixle_scale`` is reported (with the
allowed keys and the closest match) instead of being silently ignored. A key given with no value
(``inference:`` on its own) means "use the defaults".

What is checked here is only what the YAML itself can tell: types, ranges, prior settings and
the structure of parameter links. Profile names and parameter names are checked against the
profile registry by :mod:`tinylens.config.model_spec`; the FITS files by :mod:`tinylens.data`.

Errors raised by the validators carry the sub-key they are about (``ctx["key"]``) and a short
form of the offending value (``ctx["value"]``); :mod:`tinylens.config.loader` turns them into
one readable :class:`~tinylens.errors.ConfigError`.
"""

from __future__ import annotations

import copy
import datetime
import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from annotated_types import Ge, Gt, Lt
from pydantic import (AfterValidator, AllowInfNan, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, PrivateAttr, Tag,
                      ValidationInfo, field_validator, model_validator)
from pydantic_core import PydanticCustomError

from tinylens import filenames
from tinylens.errors import counted, cut_value, did_you_mean
from tinylens.results.table_formats import table_name_problem

#: The three component lists of ``model_components``, in TinyLensGpu's order.
COMPONENT_LISTS = ("lens_mass_list", "source_light_list", "lens_light_list")
LIGHT_LISTS = ("source_light_list", "lens_light_list")

#: Error type of the schema's own checks (see :func:`fail`).
ERROR_TYPE = "tinylens"
#: The key of a :data:`ERROR_TYPE` error's context that marks a value of the wrong kind (:func:`fail`).
WRONG_TYPE = "wrong_type"
#: The key of a :data:`ERROR_TYPE` error's context that marks a key given no value (``key: ~``, or
#: nothing after the colon), which the loader says as it says every such key (:func:`fail`).
NO_VALUE = "no_value"

#: A Gaussian prior whose mean lies more than this many sigma outside ``limits`` is refused.
MAX_GAUSSIAN_SIGMAS_OUTSIDE = 6.0

#: The words that PyYAML (YAML 1.1) reads, unquoted, as each boolean (in lower, title or upper case).
YAML_BOOL_WORDS = {True: ("yes", "on", "true"), False: ("no", "off", "false")}


def _bool_words(value: bool) -> str:
    """``yes, on or true``: the words of :data:`YAML_BOOL_WORDS` that YAML reads as ``value``, joined
    once for :func:`bool_words_read` and :func:`bool_words_note`."""
    *words, last = YAML_BOOL_WORDS[value]
    return f"{', '.join(words)} or {last}"


def bool_words_read(value: bool) -> str:
    """``YAML reads an unquoted yes, on or true as true``: the words of :data:`YAML_BOOL_WORDS` that
    YAML read as ``value``, said where a boolean was refused, as the user wrote one of the words."""
    return f"YAML reads an unquoted {_bool_words(value)} as {str(value).lower()}"


def bool_words_note(value: bool) -> str:
    """``in a YAML file, an unquoted yes, on or true reads as true``: the words of :data:`YAML_BOOL_WORDS`
    that a YAML file reads as ``value``, said neutrally where a boolean was refused and the config may be
    a Python mapping (``{"nlive": True}``), where no YAML was read, as :func:`whole_float_note` says an
    infinity."""
    return f"in a YAML file, an unquoted {_bool_words(value)} reads as {str(value).lower()}"


def infinity_read(value: float) -> str:
    """``YAML reads .inf, and a number written beyond ... (such as 1.0e+400), as this infinity``: said where
    the infinity ``value`` (-inf with its minus) was refused, as the config may write 1.0e+400, which
    PyYAML reads as .inf, and shows no infinity."""
    sign = "-" if value < 0 else ""
    return (f"YAML reads {sign}.inf, and a number written beyond the range of a float "
            f"(about +-1.8e308, such as {sign}1.0e+400), as this infinity")


def whole_float_note(value: Any) -> str:
    """For a float refused where a whole number goes, why, where its being a float is not the reason
    shown (with a leading space, in brackets): an infinity, with how a YAML file comes to hold one (said
    neutrally: the settings may come from a Python mapping, where no YAML was read), a
    whole float beyond :data:`MAX_EXACT_WHOLE` (``nlive: 1.0e+20``) as too large; else empty."""
    if not isinstance(value, float) or math.isnan(value):
        return ""
    if math.isinf(value):
        sign = "-" if value < 0 else ""
        return (f" (an infinity: a YAML file's {sign}.inf, or a number written there beyond the range of a float, "
                f"about +-1.8e308, such as {sign}1.0e+400, reads as one)")
    if value.is_integer() and abs(value) > MAX_EXACT_WHOLE:
        return f" (beyond 2**53 = {MAX_EXACT_WHOLE}, the largest whole number a float keeps exactly)"
    return ""


#: The key of the context of :func:`_not_bool`'s error that holds the boolean refused, for the loader to
#: say its note as the config's source allows (:func:`not_a_number_message`).
BOOLEAN_GIVEN = "boolean_given"


def not_a_number_message(value: bool, from_yaml: bool = True) -> str:
    """``should be a number, not true (...)``: what :func:`_not_bool` says of the boolean ``value``, with
    the words YAML read as it (:func:`bool_words_read`) for a config read from a YAML file, and said
    neutrally (:func:`bool_words_note`) for a Python mapping (``{"zeropoint": True}``), where no YAML was read."""
    note = bool_words_read(value) if from_yaml else bool_words_note(value)
    return f"should be a number, not {str(value).lower()} ({note})"


def _not_bool(value: Any) -> Any:
    """YAML's true/false (also yes/no, on/off) is no number, though Python reads it as 1/0. The
    message names the words YAML reads as the value, as the config may say ``zeropoint: yes``,
    which YAML 1.1 reads as true: the value parsed is all the schema sees. The boolean is kept in
    the error's context (:data:`BOOLEAN_GIVEN`), for the loader to say it neutrally where the config
    was a Python mapping."""
    if isinstance(value, bool):
        context = fail(not_a_number_message(value), wrong_type=True).context or {}
        raise PydanticCustomError(ERROR_TYPE, "{msg}", {**context, BOOLEAN_GIVEN: value})
    return value


def _exponent_whole(value: Any) -> Any:
    """A whole number written in exponent notation (``1e1``, which PyYAML reads as text) as the
    int it writes; ``1.5e0`` refused as no whole number. Anything else as it is."""
    if not (isinstance(value, str) and EXPONENT_NUMBER.fullmatch(value.strip())):
        return value
    number = float(value)
    if math.isinf(number):  # 1e400: a whole number, which no float holds (not 'should be a whole number')
        from tinylens.errors import BEYOND_FLOAT

        raise fail(f"should be a whole number a float holds; got {cut_value(value.strip(), 100)}{BEYOND_FLOAT}")
    if not number.is_integer():
        raise fail(f"should be a whole number; got {value.strip()}")
    return int(number) if abs(number) <= MAX_EXACT_WHOLE else number  # too large: as the float is judged


def _no_overflowing_text(value: Any) -> Any:
    """A text that spells a finite number no float holds (``"1000...0"`` of 400 digits, quoted, or ``1e400``,
    which PyYAML reads as text) refused as the unquoted 400 digits are, not read as the infinity ``float()``
    makes of it (a limit of ``.inf`` is no limit: ``limits: [0, "1000...0"]`` had none, without a word)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return value
        if math.isinf(number) and text.lstrip("+-").lower() not in ("inf", "infinity"):
            from tinylens.errors import BEYOND_FLOAT

            raise fail(f"should be a number a float holds, or -.inf or .inf for no limit; got {cut_value(repr(value), 100)}"
                       f"{BEYOND_FLOAT}")
    return value


NotBool = BeforeValidator(_not_bool)
# Constraints as metadata, not Field(): pydantic < 2.10 shares one Field object among the uses
# of an alias, so one field's default (tolerance: 1e-3) became another's (a missing pixel_scale).
FiniteFloat = Annotated[float, NotBool, AllowInfNan(False)]
# AllowInfNan before the bound: a NaN (or -inf) is "not a finite number", not "not greater than 0"
PositiveFloat = Annotated[float, NotBool, AllowInfNan(False), Gt(0)]
NonNegativeFloat = Annotated[float, NotBool, AllowInfNan(False), Ge(0)]
Number = Annotated[float, NotBool, BeforeValidator(lambda value: _no_overflowing_text(value))]
Whole = Annotated[int, NotBool, BeforeValidator(_exponent_whole)]


def _path_text(value: Any) -> Any:
    """A ``pathlib.Path`` (any ``os.PathLike``), as a notebook's config dict may hold, as its text."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


#: A file or folder path: text, or a ``pathlib.Path`` taken as its text (``str`` refused it).
PathText = Annotated[str, BeforeValidator(_path_text)]
ListName = Literal["lens_mass_list", "source_light_list", "lens_light_list"]
PriorType = Literal["uniform", "gaussian", "log_uniform"]


#: A number in exponent notation that PyYAML (YAML 1.1) reads as text: ``1e6``, ``1e-2``, ``1.5e3``
#: (it needs a dot and a signed exponent, ``1.0e+6``); YAML 1.2 and a reader's eye take it as a number.
EXPONENT_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)[eE][-+]?\d+")
#: The largest whole number kept exactly by a float.
MAX_EXACT_WHOLE = 2**53


def exponent_numbers(value: Any) -> Any:
    """``value`` (mappings and lists searched too) with each string in exponent notation made the
    number it writes: an int when whole (``maxcall: 1e6``), else a float (``dlogz: 1e-2``).

    For the keys the schema passes on untyped (``inference.settings``, a component's ``settings``);
    its typed numbers already read such text as numbers."""
    if isinstance(value, str) and EXPONENT_NUMBER.fullmatch(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) <= MAX_EXACT_WHOLE else number
    if isinstance(value, Mapping):
        return {k: exponent_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exponent_numbers(v) for v in value]
    return value


#: The ``inference.settings`` that are whole numbers (counts, a seed), which the samplers size
#: arrays and loops with: :func:`whole_settings` takes a float with no fraction written for one
#: (``nlive: 200.0``) as the whole number. :data:`tinylens.inference.common.VALUE_RULES` checks them.
WHOLE_SETTINGS = frozenset({"nlive", "n_live", "batch_size", "n_batch", "queue_size", "n_update", "maxiter", "maxcall",
                            "popsize", "n_starts", "n_draws", "walks", "n_shell", "slices", "n_networks",
                            "n_like_new_bound", "bootstrap", "seed", "n_points_min", "ncdim"})


#: The settings of nautilus's ``neural_network_kwargs`` (scikit-learn's MLPRegressor) that are
#: whole numbers (or lists of them, ``hidden_layer_sizes``), read by :func:`whole_settings` too.
NETWORK_WHOLE_SETTINGS = frozenset({"hidden_layer_sizes", "batch_size", "max_iter", "random_state",
                                    "n_iter_no_change", "max_fun"})


def whole_settings(settings: Any, whole: frozenset[str] = WHOLE_SETTINGS) -> Any:
    """``settings`` (a mapping; anything else as it is) with each of ``whole`` given as a float
    with no fraction (``200.0``, not ``200.5``), or a list of such floats, made the int it writes,
    as :func:`exponent_numbers` makes ``2e2``; in ``neural_network_kwargs`` so are the
    :data:`NETWORK_WHOLE_SETTINGS` (``max_iter: 10000.0``)."""
    if not isinstance(settings, Mapping):
        return settings
    out = {k: _whole_value(v) if k in whole else v for k, v in settings.items()}
    if whole is WHOLE_SETTINGS and isinstance(out.get("neural_network_kwargs"), Mapping):
        out["neural_network_kwargs"] = whole_settings(out["neural_network_kwargs"], NETWORK_WHOLE_SETTINGS)
    return out


def _whole_value(value: Any) -> Any:
    """``value`` as an int where it is a float with no fraction; a list of them, each so."""
    if isinstance(value, list):
        return [_whole_value(v) for v in value]
    return int(value) if _whole_float(value) else value


def _whole_float(value: Any) -> bool:
    """A float that is exactly a whole number a float keeps exactly (not a NaN or an infinity)."""
    return isinstance(value, float) and value.is_integer() and abs(value) <= MAX_EXACT_WHOLE


#: How YAML writes the values Python writes ``True``, ``False`` and ``None``.
YAML_WORDS = {True: "true", False: "false", None: "null"}


def show(value: Any, width: int = 100) -> str:
    """A short, readable form of a value for error messages (``true``, ``false``, ``null`` as YAML
    writes them)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_defaults=True)
    text = _yaml_repr(value, frozenset())
    return cut_value(text, width, value)


def _yaml_repr(value: Any, outer: frozenset[int]) -> str:
    """``repr(value)`` with ``true``, ``false`` and ``null`` for Python's words, inside lists
    (a tuple is one) and mappings too; ``[...]`` for a list inside itself (YAML's ``&a [*a]``)."""
    if value is None or isinstance(value, bool):
        return YAML_WORDS[value]
    if isinstance(value, datetime.date):  # YAML's 2024-06-01, as written, not datetime.date(2024, 6, 1)
        return value.isoformat()
    if isinstance(value, (set, frozenset)):  # from Python: in a fixed order, as repr's is the hash's
        return "{" + ", ".join(sorted(_yaml_repr(v, outer) for v in value)) + "}"
    if not isinstance(value, (list, tuple, dict)):
        return repr(value)
    if id(value) in outer:
        return "{...}" if isinstance(value, dict) else "[...]"
    inner = outer | {id(value)}
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_yaml_repr(k, inner)}: {_yaml_repr(v, inner)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(_yaml_repr(v, inner) for v in value) + "]"


#: What YAML calls the types of the values it reads (Python's names: str, int, float, list); a set,
#: which a config dict built in Python may hold, is named, as it is shown in braces like a mapping.
YAML_TYPES = {str: "the text", int: "the number", float: "the number", list: "the list", set: "the set",
              frozenset: "the set"}


def described(value: Any) -> str:
    """``value`` with what YAML calls its type, for a message: ``the text 'abc'``, ``the number
    3``, ``the list [1, 2]``; ``true``, ``false`` and ``null`` on their own."""
    kind = YAML_TYPES.get(type(value))
    return f"{kind} {show(value)}" if kind else show(value)


def mapping_expected(value: Any) -> str:
    """What a key that takes a mapping (a section, ``inference.settings``, a component's ``params``)
    says of ``value``, which is none: ``expected a mapping (key: value pairs)``, with the ``- `` that
    makes YAML read the keys as a list's items where ``value`` is a list (``pipeline:`` then
    ``- enabled: false``); not of an empty list (``pipeline: []``), written with neither dashes nor keys."""
    dashes = ", with no '- ' before its keys" if isinstance(value, list) and value else ""
    return f"expected a mapping (key: value pairs{dashes})"


def fail(message: str, key: str | None = None, value: Any = ..., wrong_type: bool = False,
         no_value: bool = False) -> PydanticCustomError:
    """An error about sub-key ``key`` (dotted, relative to the model) of the model being validated.

    Use as ``raise fail(...)``. ``value`` (when given) is shown as "got ..." in the message.
    ``wrong_type`` says the value is of a kind the key cannot take (true for a number, a list for a
    section), which the loader raises as a ConfigTypeError; else it is a value the key cannot take
    (or an unknown or missing key), a ConfigValueError (:func:`~tinylens.config.loader.error_class`).
    ``no_value``: the key was given no value (null), which the loader says in the words it has for
    any key given none, with ``message`` (``should be ...``) for what to give.
    """
    ctx: dict[str, Any] = {"msg": message, "key": key}
    if no_value:
        ctx[NO_VALUE] = True
    if value is not ...:
        ctx["value"] = show(value)
    if wrong_type:
        ctx[WRONG_TYPE] = True
    return PydanticCustomError(ERROR_TYPE, "{msg}", ctx)


class StrictModel(BaseModel):
    """Base of every section: unknown keys are refused, an empty section means defaults."""

    # protected_namespaces: TinyLensGpu's key ``model_components`` starts with ``model_``, which
    # pydantic < 2.10 warns about on every load
    model_config = ConfigDict(extra="forbid", validate_default=True, protected_namespaces=())
    #: Keys of TinyLensGpu's that this section does not support, each with why it is refused.
    unsupported_keys: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        if data is None:
            return {}
        if isinstance(data, BaseModel):
            return data
        allowed = list(cls.model_fields)
        if not isinstance(data, Mapping):
            switch = f"; write {{enabled: {str(data).lower()}}} to switch it {'on' if data else 'off'}" \
                if isinstance(data, bool) and "enabled" in allowed else ""
            raise fail(f"{mapping_expected(data)} with keys {', '.join(allowed)}; got {described(data)}{switch}",
                       wrong_type=True)
        unknown = [k for k in data if k not in cls.model_fields]
        if unknown:
            raise _unknown_keys(unknown, allowed, cls.unsupported_keys)
        return data


#: The entry of an unknown key's error context that holds what its message is made of (the keys, the
#: allowed ones, the unsupported ones): the loader makes it again naming each key as written there.
UNKNOWN_KEYS = "unknown_keys"


def key_id(key: Any) -> tuple[str, Any]:
    """What the words of a key YAML read as no text are found under: its type's name with it, as
    true and 1 are one key of a dict."""
    return type(key).__name__, key


def written_key(key: Any, words: Mapping[tuple[str, Any], str]) -> tuple[str, str] | None:
    """For a key that YAML read as no text (``on`` as true, ``~`` as null, ``2024-01-01`` as a
    date, ``7`` as a number), the key as written (``words``, from the loader, by :func:`key_id`)
    and how YAML read it (``as true``); None for a text key, or one whose
    words are not known (a mapping given in Python)."""
    if isinstance(key, str):
        return None
    try:
        written = words.get(key_id(key))
    except TypeError:  # an unhashable key, from Python
        return None
    if written is None:
        return None
    if key is None or isinstance(key, bool):
        read = f"as {YAML_WORDS[key]}"
    elif isinstance(key, (int, float)):
        read = "as a number"
    else:
        read = "as a date" if isinstance(key, datetime.date) else f"as {type(key).__name__}"
    return written, read


def key_read_note(key: Any, words: Mapping[tuple[str, Any], str]) -> str:
    """`` (YAML read the key on, unquoted, as true: ...)`` for a key YAML read as no text, with
    its leading space (for an empty key, ``? : 1``, to name it: quoting nothing gives no name);
    empty for another."""
    read = written_key(key, words)
    if read is None:
        return ""
    if not read[0].strip():  # ``? : 1`` or ``: 1``: no word to quote, the key was never named
        return f" (YAML read an empty key {read[1]}: write the key's name before its colon, or delete the line)"
    return (f" (YAML read the key {read[0]}, unquoted, {read[1]}: write it in quotes, {read[0]!r}, to give "
            "it as text)")


def _unknown_keys(unknown: list[Any], allowed: list[str], unsupported: Mapping[str, str],
                  words: Mapping[tuple[str, Any], str] | None = None) -> PydanticCustomError:
    """The error for keys a section does not have, with the closest allowed key; a key of
    TinyLensGpu's that tinylens does not support (``unsupported``) is said to be one. A key YAML
    read as no text (``on:``, read as true) is named as written (``words``, from the loader), with
    how YAML read it and to quote it."""
    words = words or {}
    names = {i: (written_key(k, words) or (k,))[0] for i, k in enumerate(unknown)}
    key = str(names[0]) if len(unknown) == 1 else None
    notes = [unsupported[k] if key else f"{k}: {unsupported[k]}" for k in unknown if k in unsupported]
    rest = [i for i, k in enumerate(unknown) if k not in unsupported]
    if rest:
        noun = "key" if len(rest) == 1 else "keys"
        shown = [names[i] for i in rest]
        read = "".join(key_read_note(unknown[i], words) for i in rest)
        notes.append(f"unknown {noun} {', '.join(repr(k) for k in shown)}{read}.{did_you_mean(shown, allowed)} "
                     f"Allowed keys here: {', '.join(allowed)}")
    error = fail("; ".join(notes), key=key)
    return PydanticCustomError(ERROR_TYPE, error.message_template,
                               {**(error.context or {}), UNKNOWN_KEYS: (unknown, allowed, dict(unsupported))})


# -- parameters -------------------------------------------------------------------------------
class ParamLink(StrictModel):
    """``fixed_value`` that ties a parameter to another component's parameter."""

    component_type: ListName = Field(description="lens_mass_list, source_light_list or lens_light_list")
    component_idx: Whole = Field(ge=0, description="index in that list, starting at 0")
    parameter: str = Field(min_length=1, description="the parameter's name, e.g. center_x")


def _fixed_value_kind(value: Any) -> str:
    return "link" if isinstance(value, (Mapping, ParamLink)) else "number"


#: A number, or a link to another parameter. Errors' locations hold the tag ("number"/"link")
#: right after ``fixed_value``; the loader drops it.
FixedValue = Annotated[
    Union[Annotated[FiniteFloat, Tag("number")], Annotated[ParamLink, Tag("link")]],
    Discriminator(_fixed_value_kind),
]
FIXED_VALUE_TAGS = ("number", "link")


class ParamSpec(StrictModel):
    """One parameter: free (with a prior), fixed (to a value or a link) or a linear amplitude.

    ``use_linear: true`` wins over everything else (TinyLensGpu's behaviour). For a fixed
    parameter any prior keys are ignored, except that ``limits``, when given, must be ordered.

    ``relative_to`` (a tinylens extension; a link as in ``fixed_value``) makes a free parameter's
    prior one on its *difference* from another parameter: the value is that parameter plus a
    sampled offset with this prior. A link with scatter, e.g. a mass ellipticity drawn around the
    lens light's: ``e1: {prior_type: gaussian, prior_settings: [0, 0.1], relative_to:
    {component_type: lens_light_list, component_idx: 0, parameter: e1}}``.
    """

    prior_type: PriorType | None = None
    prior_settings: tuple[FiniteFloat, FiniteFloat] | None = None
    limits: tuple[Number, Number] | None = None
    fixed: bool = False
    fixed_value: FixedValue | None = None
    use_linear: bool = False
    relative_to: ParamLink | None = None

    @field_validator("prior_settings", "limits", mode="before")
    @classmethod
    def _ordered_pair(cls, value: Any, info: ValidationInfo) -> Any:
        """A set (from Python) has no order, which pydantic took in its hash's: ``{1.0, 0.2}``, a
        gaussian's mean 1 and sigma 0.2, became mean 0.2 and sigma 1. It is refused, with the order
        the key takes (``limits`` is always ``[lower, upper]``, as its own checks say)."""
        if isinstance(value, (set, frozenset)):
            order = "[mean, sigma] or [min, max]" if info.field_name == "prior_settings" else "[lower, upper]"
            raise fail(f"should be a list of two numbers [a, b], in order ({order}), not a set, whose items have no "
                       "order", value=value, wrong_type=True)
        return value

    @property
    def is_free(self) -> bool:
        """Sampled (neither fixed nor solved linearly)."""
        return not (self.fixed or self.use_linear)

    @property
    def link(self) -> ParamLink | None:
        """The link this parameter follows, if it is fixed to another parameter."""
        if self.fixed and not self.use_linear and isinstance(self.fixed_value, ParamLink):
            return self.fixed_value
        return None

    @model_validator(mode="after")
    def _consistent(self) -> ParamSpec:
        if self.relative_to is not None and not self.is_free:
            how = "solved linearly ('use_linear: true')" if self.use_linear else "fixed ('fixed: true')"
            raise fail(
                f"'relative_to' puts a free parameter's prior on its difference from another "
                f"parameter, but this one is {how}; remove 'relative_to', or make the parameter free "
                "with a prior on the difference",
                key="relative_to",
            )
        if self.use_linear:
            return self
        if self.limits is not None:
            _check_limits(self.limits)
        if self.fixed:
            if self.fixed_value is None:
                raise fail(
                    "'fixed: true' needs a 'fixed_value' (a number, or a link "
                    "{component_type, component_idx, parameter})",
                    key="fixed_value",
                )
            return self
        _check_free_prior(self)
        return self


def _check_limits(limits: tuple[float, float]) -> None:
    lo, hi = limits
    if math.isnan(lo) or math.isnan(hi):
        raise fail("limits must be numbers [lower, upper], not NaN", key="limits", value=limits)
    if not lo < hi:
        raise fail(
            "limits [lower, upper] need lower < upper (they truncate the prior)", key="limits", value=limits
        )


def _check_free_prior(spec: ParamSpec) -> None:
    """A free parameter needs a prior that is well defined and overlaps its limits."""
    if spec.prior_type is None or spec.prior_settings is None:
        missing = "prior_type" if spec.prior_type is None else "prior_settings"
        hint = (
            " It has a fixed_value but 'fixed' is false: add 'fixed: true' to fix it."
            if spec.fixed_value is not None
            else " Or fix it ('fixed: true' with a 'fixed_value'), or solve it linearly ('use_linear: true')."
        )
        raise fail(
            f"a free parameter needs 'prior_type' (uniform, gaussian or log_uniform) and "
            f"'prior_settings' ([min, max] or [mean, sigma]); '{missing}' is missing.{hint}",
            key="fixed" if spec.fixed_value is not None else missing,
        )
    a, b = spec.prior_settings
    lo, hi = spec.limits if spec.limits is not None else (-math.inf, math.inf)
    if spec.prior_type == "gaussian":
        _check_gaussian(a, b, lo, hi, spec.prior_settings)
    else:
        _check_bounded(spec.prior_type, a, b, lo, hi, spec.prior_settings)


def _check_gaussian(mean: float, sigma: float, lo: float, hi: float, settings: Any) -> None:
    if not sigma > 0:
        raise fail("a gaussian prior's settings are [mean, sigma] with sigma > 0", key="prior_settings", value=settings)
    reach = MAX_GAUSSIAN_SIGMAS_OUTSIDE * sigma
    if mean + reach < lo or mean - reach > hi:
        raise fail(
            f"the gaussian prior (mean {mean:g}, sigma {sigma:g}) puts essentially no probability "
            f"inside the limits [{lo:g}, {hi:g}]; move the mean or widen the limits",
            key="prior_settings",
            value=settings,
        )


def _check_bounded(kind: str, a: float, b: float, lo: float, hi: float, settings: Any) -> None:
    if not a < b:
        raise fail(
            f"a {kind} prior's settings are [min, max] with min < max; this range is "
            f"{'empty' if a == b else 'inverted'}",
            key="prior_settings",
            value=settings,
        )
    if kind == "log_uniform" and not a > 0:
        raise fail("a log_uniform prior needs 0 < min < max", key="prior_settings", value=settings)
    if not max(a, lo) < min(b, hi):
        raise fail(
            f"the {kind} prior range [{a:g}, {b:g}] lies outside the limits [{lo:g}, {hi:g}], "
            "so no value is allowed; widen the limits or move the prior",
            key="prior_settings",
            value=settings,
        )


# -- model components -------------------------------------------------------------------------
class Component(StrictModel):
    """One profile: its registry name, its parameters and profile-specific settings."""

    type: str = Field(min_length=1, description="the profile's name, e.g. SIE, SHEAR or Sersic")
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("settings", mode="before")
    @classmethod
    def _settings(cls, value: Any) -> Any:
        return {} if value is None else exponent_numbers(value)


class ModelComponents(StrictModel):
    """The three component lists; at least one light component overall."""

    lens_mass_list: list[Component] = Field(default_factory=list)
    source_light_list: list[Component] = Field(default_factory=list)
    lens_light_list: list[Component] = Field(default_factory=list)

    @field_validator(*COMPONENT_LISTS, mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @model_validator(mode="after")
    def _structure(self) -> ModelComponents:
        if not any(getattr(self, name) for name in LIGHT_LISTS):
            raise fail(
                "at least one light component is needed: lens_light_list and source_light_list are both empty"
            )
        for list_name, idx, name, link, field in self.links():
            _check_link(self, list_name, idx, name, link, field)
        return self

    def links(self) -> list[tuple[str, int, str, ParamLink, str]]:
        """Every link as ``(list_name, component_idx, parameter, link, field)``, ``field`` being
        ``fixed_value`` (a fixed link) or ``relative_to`` (a link with a prior on the offset)."""
        out = []
        for list_name in COMPONENT_LISTS:
            for idx, comp in enumerate(getattr(self, list_name)):
                for name, spec in comp.params.items():
                    if spec.link:
                        out.append((list_name, idx, name, spec.link, "fixed_value"))
                    if spec.relative_to is not None:
                        out.append((list_name, idx, name, spec.relative_to, "relative_to"))
        return out


def _check_link(comps: ModelComponents, list_name: str, idx: int, name: str, link: ParamLink,
                field: str = "fixed_value") -> None:
    """Structural check only: the target component exists. Loops (a parameter linked to itself,
    directly or not) and unknown parameter names are found by :mod:`tinylens.config.model_spec`."""
    key = f"{list_name}[{idx}].params.{name}.{field}"
    n = len(getattr(comps, link.component_type))
    if link.component_idx >= n:
        have = f"only {counted(n, 'component')}" if n else "no components"
        raise fail(
            f"the link points to {link.component_type}[{link.component_idx}], but "
            f"{link.component_type} has {have} (indices start at 0)",
            key=key,
            value=link,
        )


# -- dataset ----------------------------------------------------------------------------------
class MaskShape(StrictModel):
    """A simple mask in arcsec around (center_x, center_y): pixels inside are used."""

    type: Literal["circle", "annulus"] = Field(description="circle or annulus")
    r_max: PositiveFloat = Field(description="outer radius in arcsec, > 0")
    r_min: NonNegativeFloat | None = None
    center_x: FiniteFloat = 0.0
    center_y: FiniteFloat = 0.0

    @model_validator(mode="after")
    def _radii(self) -> MaskShape:
        if self.type == "annulus":
            if self.r_min is None:
                raise fail("an annulus mask needs 'r_min' (inner radius, arcsec)", key="r_min")
            if not self.r_min < self.r_max:
                raise fail(
                    f"an annulus needs r_min < r_max; got r_min {self.r_min:g} and r_max {self.r_max:g}",
                    key="r_min",
                )
        elif self.r_min is not None:
            raise fail("'r_min' only applies to type: annulus (a circle has only r_max)", key="r_min", value=self.r_min)
        return self


#: The largest supersampling factor per axis (pixels of 1/64 of a pixel are plenty for any profile).
MAX_NSUB = 64


class Supersampling(StrictModel):
    """How pixels are supersampled (a tinylens key, not in TinyLensGpu's schema).

    ``adaptive`` (default): each pixel gets the smallest factor from ``levels`` that keeps its
    estimated supersampling error below ``tolerance`` x the image's peak, the highest around
    bright peaks (see :mod:`tinylens.numerics.adaptive`). ``uniform``: ``dataset.nsub`` for
    every pixel, as TinyLensGpu does.
    """

    mode: Literal["adaptive", "uniform"] = "adaptive"
    levels: list[Whole] = Field(default_factory=lambda: [1, 2, 4, 8, 16], min_length=1)
    tolerance: PositiveFloat = 1e-3
    nsub: Whole | None = Field(None, ge=1, le=MAX_NSUB, description="uniform mode only: overrides dataset.nsub")

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        if any(v < 1 or v > MAX_NSUB for v in value):
            raise ValueError(f"levels must be integers from 1 to {MAX_NSUB} (factors per axis)")
        return sorted(set(value))


#: The largest magnitude zeropoint in absolute value, 2**43 (8.8e12), exclusive: from it on, a
#: float64 holds a magnitude ``zeropoint - 2.5 log10(flux)`` only to 2**-9 = 0.002 mag or coarser
#: (at 1e300, to 1e284: every magnitude of a fit is the zeropoint itself, whatever the flux).
MAX_ZEROPOINT = 2.0**43


class Dataset(StrictModel):
    """Where the data are and how to sample them. Paths are relative to the YAML's folder."""

    data_path: PathText = Field(min_length=1, description="path to the image FITS file")
    noise_path: PathText = Field(min_length=1, description="path to the noise (1-sigma) FITS file")
    psf_path: PathText = Field(min_length=1, description="path to the PSF FITS file (odd-sized)")
    pixel_scale: PositiveFloat = Field(description="arcsec per pixel, a number > 0")
    nsub: Whole = Field(4, ge=1, le=MAX_NSUB, description=f"supersampling factor per axis, an integer from 1 to {MAX_NSUB}")
    mask_path: PathText | None = Field(None, min_length=1, description="FITS mask, as in TinyLensGpu: 0 = pixel used, non-zero or NaN = left out")
    mask: MaskShape | None = None
    zeropoint: FiniteFloat | None = Field(None, description="magnitude zeropoint")
    supersampling: Supersampling = Field(default_factory=Supersampling)

    @field_validator("zeropoint")
    @classmethod
    def _zeropoint(cls, value: float | None) -> float | None:
        if value is not None and abs(value) >= MAX_ZEROPOINT:
            raise ValueError(
                f"must be a magnitude zeropoint below 2**43 = {MAX_ZEROPOINT:.3g} in absolute value: a float holds a "
                f"magnitude (zeropoint - 2.5 log10(flux)) of this one only to {math.ulp(value):.2g} mag (of 1e300, every "
                "magnitude of the fit is the zeropoint itself, whatever the flux); give the AB magnitude of one unit of "
                "the image (1 e-/s: CSST's is 25.7)")
        return value


# -- inference, output ------------------------------------------------------------------------
#: The method of each inference type when ``inference.method`` is left out.
DEFAULT_METHODS = {"sampler": "nautilus", "optimizer": "differential_evolution"}


class Inference(StrictModel):
    """Which search to run; ``method`` and ``settings`` are checked by :mod:`tinylens.inference`.

    ``method`` left out is the type's default (:data:`DEFAULT_METHODS`): ``nautilus`` for a
    sampler, ``differential_evolution`` for an optimizer. ``type`` and ``method`` are read in
    lower case, as TinyLensGpu reads them (``type: Sampler, method: Nautilus``)."""

    type: Literal["sampler", "optimizer"] = "sampler"
    method: str = Field("nautilus", min_length=1)
    settings: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _type_default_method(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = {**data, **{k: data[k].lower() for k in ("type", "method") if isinstance(data.get(k), str)}}
        if isinstance(data, Mapping) and data.get("method") is None and isinstance(data.get("type"), str) \
                and data["type"] in DEFAULT_METHODS:
            data = {**data, "method": DEFAULT_METHODS[data["type"]]}
        return data

    @field_validator("settings", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else whole_settings(exponent_numbers(value))


#: Keys (dotted paths) that set how fast a fit runs or what it prints, not what it finds: a
#: saved stage checkpoint and a survey's record of its template leave them out when comparing.
SPEED_ONLY_KEYS: tuple[str, ...] = ("pipeline.threads", "inference.settings.checkpoint_every",
                                    "inference.settings.verbose")


def without_speed_only(config: Mapping[str, Any], section: str = "") -> dict[str, Any]:
    """A copy of ``config`` (a parsed template, or its ``section``) without the
    :data:`SPEED_ONLY_KEYS`; a block they leave empty is dropped too."""
    return without_keys(config, SPEED_ONLY_KEYS, section)


def without_keys(config: Mapping[str, Any], keys: Sequence[str], section: str = "") -> dict[str, Any]:
    """A copy of ``config`` (a parsed template, or its ``section``) without the dotted ``keys``
    (those of ``section``); a block they leave empty, or that was empty on their path, is dropped too."""
    out = copy.deepcopy(dict(config))
    prefix = f"{section}." if section else ""
    for key in keys:
        if key.startswith(prefix):
            _remove(out, key.removeprefix(prefix).split("."))
    return out


def _remove(block: Any, path: list[str]) -> None:
    head, *rest = path
    if not isinstance(block, dict) or head not in block:
        return
    if rest:
        _remove(block[head], rest)
        if block[head] == {}:
            del block[head]
    else:
        del block[head]


#: The most times the pipeline's box may be widened: each widening runs the sampler again (minutes to hours)
#: in a box at least 1.5 times as wide (4e17 times after 100). A dynesty history's file names are checked for
#: every run a fit may make before it starts, so that max_widen: 100000000000000000000 hung there, without a word.
MAX_WIDEN = 100


class Pipeline(StrictModel):
    """The automated pipeline around the sampler (a tinylens key; see :mod:`tinylens.pipeline`).

    With ``enabled`` (the default) a sampler run is preceded by: a fit of the lens light alone
    (``lens_light``), a search for the arc in the lens-subtracted image that gives a first
    Einstein radius (``arc``), and multi-start fits of mass and source; the sampler then works in
    the priors truncated to a box around the best fit (``bounded``: ``n_sigma`` Laplace widths,
    widened up to ``max_widen`` times if the posterior reaches an edge). ``enabled: false`` runs
    the sampler alone over the full priors, as TinyLensGpu does. ``threads`` sets how many of
    the independent starts of stages 1 and 3 run at once (:func:`tinylens.pipeline.run.stage_threads`).
    """

    enabled: bool = True
    lens_light: bool = Field(True, description="stage 1: fit the lens light alone first")
    arc: bool = Field(True, description="stage 2: start the mass at the arc's radius")
    bounded: bool = Field(True, description="stage 4: sample in a box around the best fit")
    n_sigma: PositiveFloat = Field(10.0, description="box half-width in Laplace standard deviations")
    max_widen: Whole = Field(2, ge=0, le=MAX_WIDEN, description="how often the box may be widened")
    arc_threshold: PositiveFloat = Field(3.0, description="significance (sigma) of arc pixels")
    min_theta_E_fraction: Annotated[FiniteFloat, Ge(0.0), Lt(1.0)] = Field(
        0.4, description="stages 3-4 keep theta_E above this fraction of the arc peaks' radius (0: no floor)")
    threads: Optional[Whole] = Field(None, ge=1, le=256, description="starts of stages 1 and 3 optimised at once, "
                                   "their evaluations batched (default: 1 on a CPU, 8 on a GPU); the fits "
                                   "agree up to float rounding")


QualityFlag = Literal["unconverged", "prior_edge", "light_prior_edge", "box_edge", "multimodal", "unmodelled_flux",
                      "arc_residuals", "not_multiply_imaged", "peaks_apart", "no_arc", "tiny_einstein_radius"]


class Quality(StrictModel):
    """Which quality flags make a result untrusted (a tinylens key; see :mod:`tinylens.results.quality`).

    ``critical`` left out: the defaults (``tinylens.results.quality.CRITICAL``). A Sersic source
    cannot reproduce a real, clumpy source, so on HST data ``unmodelled_flux`` fires on nearly
    every lens, right or wrong (the SLACS template leaves it out).
    """

    critical: Optional[list[QualityFlag]] = Field(None, description="flags that make a result untrusted")


def _plain_file_name(name: str) -> str:
    """An output file's name: written inside ``output.path``, so no folders in it."""
    if not name.strip() or "/" in name or "\\" in name or name in (".", ".."):
        raise fail("should be a plain file name (written inside output.path; no folders)", value=name)
    return name


FileName = Annotated[PathText, AfterValidator(_plain_file_name)]  # a pathlib.Path as its text, as output.path


def _table_file_name(name: str) -> str:
    """A table's name: one a file of the format it says can be written under (no ``.parquet.gz``)."""
    problem = table_name_problem(name)
    if problem is not None:
        raise fail(f"cannot be written as its name says: {problem}", value=name)
    return name


TableName = Annotated[FileName, AfterValidator(_table_file_name)]

def previous_names(names: Mapping[str, str]) -> dict[str, str]:
    """The names (casefolded) a survey renames ``result.json`` and the output files ``names``
    (by dotted key under ``output``) to when a lens's files changed, each with what it holds."""
    held = {filenames.RESULT: filenames.RESULT, **{name: f"output.{key} ('{name}')" for key, name in names.items()}}
    return {filenames.previous_name(name).casefold(): what for name, what in held.items()}


class Figures(StrictModel):
    """File names of the result figures (inside ``output.path``)."""

    results: FileName = "model_results.png"
    corner: FileName = "model_corner.png"


class Tables(StrictModel):
    """File names of the result tables (inside ``output.path``)."""

    samples: TableName = "result_samples.csv"
    summary: TableName = "result_summary.csv"


class DatasetFigures(StrictModel):
    """File names of the data figures (inside ``output.path``)."""

    subplot: FileName = "dataset_subplot.png"


class Output(StrictModel):
    """Where results go; relative ``path`` is relative to the YAML's folder."""

    path: PathText = Field("output", min_length=1)
    figures: Figures = Field(default_factory=Figures)
    tables: Tables = Field(default_factory=Tables)
    datasets: DatasetFigures = Field(default_factory=DatasetFigures)
    corner_parameters: Union[Literal["mass", "all"], list[str]] = Field(
        "mass",
        description="tinylens key: parameters of the corner plot: 'mass' (the lens-mass parameters, "
        "as the paper's Figure 3; all parameters if the model has no free mass parameter), 'all', or a list of names",
    )
    draw_figures: Literal["all", "untrusted", "none"] = Field(
        "all",
        description="tinylens key: which fits draw their three figures: 'all', 'untrusted' (only a fit that its "
        "quality flags do not trust, the ones to look at in a large survey; drawing takes about 4 s per fit), "
        "or 'none'",
    )
    keep_checkpoint: bool = Field(
        False,
        description="tinylens key: keep the checkpoints after a converged fit (the sampler's is large; by "
        "default they are removed once result.json is written); a fit that did not converge (its call cap or "
        "timeout reached) keeps them either way, so that it can be continued",
    )

    @field_validator("corner_parameters", mode="before")
    @classmethod
    def _corner_parameters(cls, value: Any) -> Any:
        """One message for a value that is neither choice nor a list of names (pydantic gave one per
        member of the union, under its internal names: ``corner_parameters.literal['mass','all']``);
        a tuple of names, from Python, is a list as pydantic reads it. An empty list, which would
        leave the corner plot nothing to draw after the whole fit, is refused."""
        if isinstance(value, (list, tuple)) and not value:
            raise fail("should name at least one parameter, or be 'mass' or 'all' (an empty list leaves the corner "
                       "plot nothing to draw)", value=[])
        if (isinstance(value, str) and value in ("mass", "all")) or \
                (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
            return value
        if value is None:  # nothing after the colon, or ~: said as any key given no value is
            raise fail("should be 'mass', 'all' or a list of parameter names", wrong_type=True, no_value=True)
        hint = did_you_mean([value], ["mass", "all"]) if isinstance(value, str) else ""
        got = described(value) if isinstance(value, (set, frozenset)) else show(value)  # not a mapping's braces
        raise fail("should be 'mass', 'all' or a list of parameter names (e.g. [lens_mass.0.theta_E, lens_mass.0.e1])"
                   f"; got {got}.{hint}", wrong_type=not isinstance(value, str))  # a text: a choice misspelled

    @model_validator(mode="after")
    def _distinct_files(self) -> Output:
        """Each table and figure gets a file of its own, none of tinylens's own files, nor the name
        a survey sets one of them aside under (compared ignoring case, as macOS and Windows file
        systems do). A table or figure named as one of tinylens's own files
        (:func:`tinylens.filenames.is_reserved`) would overwrite it, or be deleted with the checkpoints."""
        names = self.file_names()
        set_aside = previous_names(names)
        seen: dict[str, str] = {}
        for key, name in names.items():
            if filenames.is_reserved(name):
                raise fail(f"'{name}' is a file tinylens writes itself in output.path (its own files: "
                           f"{', '.join(filenames.RESERVED)}, {filenames.RUN_HISTORIES}); choose another name",
                           key=key, value=name)
            if name.casefold() in set_aside:
                raise fail(f"'{name}' is where a survey keeps {set_aside[name.casefold()]} of a lens's earlier fit "
                           "when the lens's files changed: one would overwrite the other; choose another name",
                           key=key, value=name)
            if name.casefold() in seen:
                raise fail(f"the same file as output.{seen[name.casefold()]}: one would overwrite the other; "
                           "give each table and figure its own name", key=key, value=name)
            seen[name.casefold()] = key
        return self

    def file_names(self) -> dict[str, str]:
        """The output files by their dotted key under ``output`` (``tables.samples``, ...)."""
        sections = {"tables": self.tables, "figures": self.figures, "datasets": self.datasets}
        return {f"{section}.{key}": name for section, model in sections.items() for key, name in model.model_dump().items()}


class Config(StrictModel):
    """A whole configuration file."""

    unsupported_keys: ClassVar[dict[str, str]] = {
        "position_likelihood": "TinyLensGpu's position likelihood (which lowers the likelihood of models that trace "
                               "the listed image positions to source-plane points more than threshold_arcsec apart) is "
                               "not supported by tinylens: remove the section; tinylens fits the image's pixels alone",
    }

    dataset: Dataset = Field(description="data_path, noise_path, psf_path and pixel_scale")
    model_components: ModelComponents = Field(description="lens_mass_list, source_light_list, lens_light_list")
    inference: Inference = Field(default_factory=Inference)
    pipeline: Pipeline = Field(default_factory=Pipeline)
    quality: Quality = Field(default_factory=Quality)
    solver_type: Literal["nnls", "normal"] = "nnls"
    output: Output = Field(default_factory=Output)
    #: Whether ``inference`` was read from TinyLensGpu's older ``sampling`` section
    #: (:func:`~tinylens.config.loader.legacy_sampling`), whose keys the checks of its method and
    #: settings then name (``sampling.nlive``, not ``inference.settings.nlive``); no key of the
    #: config: left out of its dumps, and so of a survey's template digest.
    _inference_from_sampling: bool = PrivateAttr(default=False)
    #: Whether that ``sampling`` section gives its ``sampler`` (left out, ``inference.method`` is the
    #: default one, and the section itself is named for it); no key of the config either.
    _sampler_written: bool = PrivateAttr(default=False)

    #: The private attributes above: how the file wrote its inference, which its messages follow,
    #: not what it fits; two configs that differ only there are equal (:meth:`__eq__`).
    WRITTEN_ONLY: ClassVar[tuple[str, ...]] = ("_inference_from_sampling", "_sampler_written")

    def __eq__(self, other: object) -> bool:
        """Whether ``other`` is a config of the same content, as pydantic compares models (their
        type, keys and values), whichever way the file wrote its inference (:data:`WRITTEN_ONLY`:
        ``inference:``, TinyLensGpu's older ``sampling:`` with its ``sampler`` or without it), so
        that two loads of one fit compare equal (and so their problems, :class:`~tinylens.problem.Problem`)."""
        if not isinstance(other, Config):
            return super().__eq__(other)
        if type(self) is not type(other):
            return False

        def kept(config: Config) -> dict[str, Any]:
            return {k: v for k, v in (config.__pydantic_private__ or {}).items() if k not in self.WRITTEN_ONLY}

        return (kept(self) == kept(other) and self.__pydantic_extra__ == other.__pydantic_extra__
                and self.__dict__ == other.__dict__)

    __hash__ = None  # as pydantic's models that are not frozen


#: Keys that another key switches off (:func:`unused_keys`): each pipeline key by the pipeline switch
#: that must be on for it to be read, what happens instead when that switch is off, and each
#: supersampling key by the mode that reads it. Given a value other than its default, it does nothing.
_PIPELINE_OFF = {"n_sigma": "bounded", "max_widen": "bounded", "min_theta_E_fraction": "arc"}
_PIPELINE_INSTEAD = {"bounded": "the sampler runs over the full priors, with no box",
                     "arc": "theta_E starts at its prior's median, with no floor"}
_SUPERSAMPLING_MODE = {"nsub": "uniform", "levels": "adaptive", "tolerance": "adaptive"}
#: Why differential evolution's ``updating: immediate`` is not followed: tinylens evaluates each
#: generation's population in one batch (scipy's ``vectorized``), which scipy updates ``deferred``.
DE_IMMEDIATE = ("inference.settings.updating: 'immediate' is run as 'deferred': tinylens evaluates each generation "
                "of differential evolution in one batch, so the best member is updated once per generation, not "
                "after each trial; remove the setting, or write 'deferred'")


def immediate_updating(inference: Inference) -> bool:
    """Whether ``inference`` is a differential evolution asking for ``updating: immediate``."""
    return (inference.type, inference.method) == ("optimizer", "differential_evolution") \
        and inference.settings.get("updating") == "immediate"


def _changed(model: BaseModel) -> list[str]:
    """The keys of ``model`` whose value is not their default, in the schema's order (a value
    equal to its default leaves a reloaded ``result.json`` config, which lists every key, unflagged)."""
    defaults = type(model)()
    return [k for k in type(model).model_fields if getattr(model, k) != getattr(defaults, k)]


def unused_keys(config: Config) -> list[str]:
    """One line per key ``config`` sets (to other than its default) that its other keys switch
    off, so that it does nothing: the ``pipeline`` around an optimiser, or with ``enabled: false``;
    the box's keys with ``bounded: false``; the theta_E floor with ``arc: false``; a lens mass
    without a source to lens; and a supersampling key of the other mode. TinyLensGpu's own keys (``dataset.nsub``) are not listed.
    Also a differential evolution's ``updating: immediate`` (TinyLensGpu's demo has it), which the
    batched population makes ``deferred`` (:data:`DE_IMMEDIATE`)."""
    out: list[str] = []
    if immediate_updating(config.inference):
        out.append(DE_IMMEDIATE)
    pipe = config.pipeline
    changed = [k for k in _changed(pipe) if k != "enabled"]
    if config.inference.type != "sampler" and changed:
        keys = ", ".join(f"pipeline.{k}" for k in changed)
        out.append(f"{keys}: not used with inference.type: {config.inference.type}; the pipeline runs only "
                   "around a sampler (remove the pipeline section, or set inference.type: sampler)")
    elif not pipe.enabled and changed:
        out.append(f"{', '.join(f'pipeline.{k}' for k in changed)}: not used with pipeline.enabled: false, which "
                   f"runs the sampler alone over the full priors (remove {'them' if len(changed) > 1 else 'it'}, "
                   "or set pipeline.enabled: true)")
    elif pipe.enabled:
        for switch in ("bounded", "arc"):
            keys = [k for k in changed if _PIPELINE_OFF.get(k) == switch]
            if keys and not getattr(pipe, switch):
                out.append(f"{', '.join(f'pipeline.{k}' for k in keys)}: not used with pipeline.{switch}: false "
                           f"({_PIPELINE_INSTEAD[switch]}); remove {'them' if len(keys) > 1 else 'it'}, "
                           f"or set pipeline.{switch}: true")
    comps = config.model_components
    if comps.lens_mass_list and not comps.source_light_list:
        out.append("model_components.lens_mass_list: not used without a source_light_list, as only a source is "
                   "lensed: the data do not constrain the mass, whose parameters are sampled over their priors "
                   "(remove the lens_mass_list, or add a source)")
    ss = config.dataset.supersampling
    keys = [k for k in _changed(ss) if _SUPERSAMPLING_MODE.get(k, ss.mode) != ss.mode]
    if keys:
        other = "uniform" if ss.mode == "adaptive" else "adaptive"
        out.append(f"{', '.join(f'dataset.supersampling.{k}' for k in keys)}: only read with dataset.supersampling."
                   f"mode: {other}, not in {ss.mode} mode{' (the default)' if ss.mode == 'adaptive' else ''}; "
                   f"set mode: {other} to use {'them' if len(keys) > 1 else 'it'}, or remove "
                   f"{'them' if len(keys) > 1 else 'it'}")
    return out
