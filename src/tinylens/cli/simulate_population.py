"""``tinylens simulate-population N OUTDIR [--seed S]``: a CSST-like mock lens population.

Writes one folder per lens (``image.fits``, ``noise.fits``, ``psf.fits``, ``truth.json``),
``truth.csv`` / ``truth.parquet``, ``population.json`` and a ``template.yaml`` for
``tinylens survey``. See :mod:`tinylens.survey.population` for the distributions.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
import shlex
from pathlib import Path
from typing import Any, Iterator

import click
import typer
from rich.markup import escape

from tinylens.cli.common import TinyLensCommand, console, path_value, reported_warnings
from tinylens.errors import ConfigError, ConfigValueError, OutputError, lens_count, retold
from tinylens.jsonfile import read_json_file


def dashed_number(token: str) -> bool:
    """Whether ``token``, which click would read as a short option, is a number after a minus in
    any form Python reads (``-3``, ``-2.5``, ``-.5``, ``-1e3``, ``-inf``, ``-nan``)."""
    if not token.startswith("-"):
        return False
    try:
        float(token)
    except ValueError:
        return False
    return True


def free_positions(args: list[str], takes_value: set[str]) -> Iterator[tuple[int, str]]:
    """The tokens of ``args`` before ``--`` with their places, less the values of the options in
    ``takes_value`` (the ``1`` of ``--seed 1``), as click reads them."""
    skip = False
    for i, token in enumerate(args):
        if skip:
            skip = False
            continue
        if token == "--":
            return
        yield i, token
        skip = token in takes_value


def free_tokens(args: list[str], takes_value: set[str]) -> Iterator[str]:
    """The tokens of :func:`free_positions`, without their places."""
    return (token for _, token in free_positions(args, takes_value))


def first_position(args: list[str], takes_value: set[str]) -> int | None:
    """The place in ``args`` of the first positional token, skipping options and the values of those
    in ``takes_value`` (``--seed 1``); None when there is none, or it follows ``--``."""
    return next((i for i, t in free_positions(args, takes_value) if not t.startswith("-") or dashed_number(t)), None)


def asks_for_help(args: list[str], takes_value: set[str], help_names: list[str]) -> bool:
    """Whether ``args`` hold a help option (``--help``) as click would read it: anywhere before
    ``--``, and not as the value of an option in ``takes_value`` (``--psf --help``)."""
    return any(t in help_names for t in free_tokens(args, takes_value))


class Typed(int):
    """A whole number given on the command line that no float holds (``1e400``, or 5000 digits, which
    Python's ``int`` does not read from text), as typed: its ``repr`` and ``str`` are the text typed,
    which messages show (cut), not the ``inf`` of ``float(token)``. Its value is the number, at most
    10^:data:`~tinylens.survey.options.MAX_SEED_DIGITS` in size (``1e99999999`` is not computed):
    beyond every count, size and seed taken, refused all the same."""

    text: str

    def __new__(cls, value: int, text: str) -> Typed:
        made = super().__new__(cls, value)
        made.text = text
        return made

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def _huge_whole(token: str) -> Typed | None:
    """``token`` as a :class:`Typed` where it spells a whole number no float holds; else None."""
    from tinylens.survey.options import MAX_SEED_DIGITS

    try:
        number = decimal.Decimal(token.strip().replace("_", ""))
    except (decimal.InvalidOperation, ValueError):
        return None
    # a float holds it (1e308, as 1e23: the integer of that float, as ever): read as before, a seed unchanged
    if not number.is_finite() or math.isfinite(float(number)) or number != number.to_integral_value():
        return None
    cap = 10**MAX_SEED_DIGITS
    size = cap if number.adjusted() >= MAX_SEED_DIGITS else min(abs(int(number)), cap)
    return Typed(-size if number < 0 else size, token.strip())


def count_value(token: str) -> int | float | str:
    """``token`` as an integer (``3``), else as a float (``1.5``, ``nan``, ``-inf``), else the
    text itself (``abc``). A whole number no float holds (``1e400``, 5000 digits) is a
    :class:`Typed`, shown as typed, not as the ``inf`` float() makes of it."""
    try:
        return int(token)
    except ValueError:
        pass
    huge = _huge_whole(token)
    if huge is not None:
        return huge
    try:
        return float(token)
    except ValueError:
        return token


def number_value(token: str) -> float | str:
    """``token`` as a float (``0.1``, ``2``, ``nan``), for an option that takes a number: a whole number
    no float holds (``1e400``) a :class:`Typed`, shown as typed, and no number (``abc``) the text, passed
    on for the option's own check to refuse by name, in one line, not in click's box of usage. A whole
    number is read as the float of its text, as click read it: ``-0`` is -0.0, and one of more digits than
    a float holds (``1`` and 400 zeros, which ``float`` of the integer raised OverflowError on) a
    :class:`Typed` too."""
    value = count_value(token)
    if type(value) is not int:
        return value
    number = float(token)
    return number if math.isfinite(number) else _huge_whole(token) or number


def whole_value(token: str) -> int | float | str:
    """``token`` read as N is (:func:`count_value`), a whole number written as a float (``2.0``,
    ``1e3``) as the integer it is: what ``--seed`` and ``--size`` take. Anything else (``2.5``,
    ``abc``) is passed on as read, for the population's own checks to refuse by name."""
    value = count_value(token)
    return int(value) if isinstance(value, float) and value.is_integer() else value  # a Typed as it is


class CountCommand(TinyLensCommand):
    """The command, with a count N that click would refuse in its own words refused as the count it
    is: one after a minus (``-3``, ``-nan``), which click takes for an unknown option ("No such
    option: -3"), and one that is no whole number (``1.5``, ``nan``, ``abc``: "Input should be a
    valid integer"). A whole one written as a float (``2.0``, ``1e3``) is passed on as the integer
    it is, which typer reads (it refused ``1e3``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        takes_value = {name for p in self.params if p.param_type_name == "option" and not getattr(p, "is_flag", False)
                       for name in (*p.opts, *p.secondary_opts)}
        i = first_position(args, takes_value)
        n = None if i is None else args[i]
        if n is not None and (dashed_number(n) or not isinstance(count_value(n), int) or isinstance(count_value(n), Typed)):
            help_names = self.get_help_option_names(ctx) if self.add_help_option else []
            if asks_for_help(args, takes_value, help_names) and not ctx.resilient_parsing:
                click.echo(ctx.get_help(), color=ctx.color)  # as click's --help: the check (or click, at -3) would stop first
                ctx.exit()
            from tinylens.survey.options import check_count_and_seed

            count, _ = check_count_and_seed(count_value(n), 0)  # a ConfigError: below 1, or no whole number
            args = [*args[:i], str(count), *args[i + 1:]]
        return super().parse_args(ctx, args)


def parse_settings(items: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` as options, each value read as YAML (``snr_range=[5, 20]``), a number in
    exponent notation that PyYAML reads as text (``sky_sigma=1e-3``) as the number, as a config's is
    (:func:`~tinylens.config.schema.exponent_numbers`): the options refuse text for a number. A whole
    number with leading zeros is the decimal typed (``size=010`` is 10, ``08`` 8), not YAML 1.1's octal
    (8, and ``08`` text), and ``1:30`` text, not the base-60 90, as a config reads them
    (:class:`~tinylens.config.loader.DecimalNumbersLoader`); a text option's number (``psf_type=007``),
    word YAML reads as true or false (``psf_type=off``) or date stays the text given, less a comment
    after it (``psf_type=off # note`` is ``off``), which YAML drops from a config file's line too."""
    import yaml

    from tinylens.config.loader import DecimalNumbersLoader
    from tinylens.config.schema import exponent_numbers

    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigValueError(f"--set expects KEY=VALUE (e.g. --set snr_range=[5,20]); got {item!r}.")
        try:
            value = yaml.load(text, Loader=DecimalNumbersLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError:
            raise ConfigValueError(f"--set {key.strip()}: cannot read the value {text!r}.") from None
        if key.strip() in TEXT_OPTIONS:
            # a number, true/false (an unquoted on, off, yes, no) or a date: the text typed, as a text is
            options[key.strip()] = _written(text) if isinstance(value, (int, float, datetime.date)) else value
        else:
            options[key.strip()] = _infinities(exponent_numbers(value))
    return options


def _written(text: str) -> str:
    """The value of ``--set KEY=text`` as typed, as YAML reads a config file's line ``key: text``:
    without a comment after it (``off # note`` is ``off``), which YAML drops; ``text`` stripped
    where it is no single plain value."""
    import yaml

    from tinylens.config.loader import DecimalNumbersLoader

    node = yaml.compose(text, Loader=DecimalNumbersLoader)  # noqa: S506 - a SafeLoader subclass; read above
    return node.value if isinstance(node, yaml.ScalarNode) else text.strip()


#: The population options that are texts (``psf_type``): their ``--set`` value stays the text given
#: (``psf_type=1e5`` is refused as the text '1e5', not as the number 100000).
TEXT_OPTIONS = frozenset({"psf_type"})
#: The texts that Python's float reads as infinite or not a number and YAML does not (it reads ``.inf``).
NOT_FINITE_WORDS = frozenset({"inf", "infinity", "nan"})


def _infinities(value: Any) -> Any:
    """``value`` (lists searched too) with each text :data:`NOT_FINITE_WORDS` names, signed or not
    (``inf``, ``-inf``, ``nan``), the float it writes, so that the options refuse it as a number that
    is not finite (``sky_sigma must be finite, got inf``), not as a text."""
    if isinstance(value, str) and value.strip().lstrip("+-").lower() in NOT_FINITE_WORDS:
        return float(value)
    if isinstance(value, list):
        return [_infinities(v) for v in value]
    return value


#: Arguments of :func:`simulate_population` that are not population options: what sets each instead.
NOT_SETTINGS = {"n": "the N argument", "outdir": "the OUTDIR argument", "seed": "--seed", "progress": "--quiet"}


def merge_options(settings: dict[str, Any], named: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    """``--set`` options and the named ones (``{key: (flag, value or None)}``) as population options;
    a ConfigValueError for a ``--set`` key that is not an option or that a named option contradicts."""
    for key in settings:
        if key in NOT_SETTINGS:
            raise ConfigValueError(f"--set {key}: {key} is not a population option; use {NOT_SETTINGS[key]} instead.")
    options = dict(settings)
    for key, (flag, value) in named.items():
        if value is None:
            continue
        if key in settings and settings[key] != value:
            raise ConfigValueError(f"{flag} {value} and --set {key}={settings[key]} disagree; give {key} once.")
        options[key] = value
    return options


def simulate_population_command(
    n: int = typer.Argument(..., metavar="N", help="Number of lenses.", show_default=False),
    outdir: Path = typer.Argument(..., parser=path_value, metavar="OUTDIR", help="Output folder (one sub-folder per lens).", show_default=False),
    seed: int = typer.Option(0, "--seed", "-s", parser=whole_value, metavar="N", help="Random seed (>= 0): the same seed and options give the same lenses."),
    psf: str | None = typer.Option(None, "--psf", metavar="gaussian|moffat", help="PSF shape: gaussian (default) or moffat."),
    size: int | None = typer.Option(None, "--size", parser=whole_value, metavar="PIXELS", help="Image size in pixels (default 100)."),
    pixel_scale: float | None = typer.Option(None, "--pixel-scale", parser=number_value, metavar="ARCSEC", help="Arcsec per pixel (default 0.074)."),
    psf_fwhm: float | None = typer.Option(None, "--psf-fwhm", parser=number_value, metavar="ARCSEC", help="PSF FWHM in arcsec (default 0.15)."),
    settings: list[str] | None = typer.Option(None, "--set", metavar="KEY=VALUE", help="Any other population option as KEY=VALUE, e.g. "
                                              "\"snr_range=[5,50]\", \"theta_E_range=[0.5,2]\", sky_sigma=0.03 (repeatable; quote values with brackets for zsh)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Simulate N CSST-like strong lenses (SIE + shear, de Vaucouleurs lens light, Sersic source) with truth tables.

    --set "lens_disc_fraction_range=[0.3,0.7]" adds an exponential disc to each lens galaxy;
    --set shear_max=0 gives lenses without external shear (the paper's mocks);
    --set snr_total_min=20 keeps only lenses above a detection floor in summed arc SNR (the paper's CSST mocks, Cao et al. 2024: ~20 to ~1000).

    OUTDIR holds one population: a folder made with another N, seed or option is refused, and so is one holding other files (no population.json).
    """  # each line one line of source: typer keeps the line breaks after the first paragraph
    from tinylens.survey.options import PopulationOptions, check_count_and_seed, check_seed, population_folder

    named = {"psf_type": ("--psf", psf), "size": ("--size", size), "pixel_scale": ("--pixel-scale", pixel_scale),
             "psf_fwhm": ("--psf-fwhm", psf_fwhm)}
    options = merge_options(parse_settings(settings or []), named)
    check_seed(seed)  # refused as --seed here; simulate_population names its Python argument
    # simulate_population's first checks, in its order, before it is imported: the seconds JAX, pandas and the
    # simulator take to load are not waited for to refuse a mistyped option (--set snr_rnage=5,20, --psf gausian)
    check_count_and_seed(n, seed)
    population_folder(outdir)
    flags = {named[k][0]: k for k in named if named[k][1] is not None}
    try:
        PopulationOptions.from_kwargs(**options)
    except ConfigError as exc:  # pixel_scale must be > 0: said as --pixel-scale where that option gave it
        if set(options) - set(PopulationOptions.__dataclass_fields__):  # an unknown --set key: the keys it lists,
            raise  # and the one it suggests, are --set's (--size 20 --set sise=30: 'Did you mean size', not '--size')
        raise retold(exc, flags_named(str(exc), flags)) from None
    from tinylens.survey.population import simulate_population

    # what it says of the options (a PSF wider than the image, a source too small for the pixels) by the flags too
    with reported_warnings(lambda text: flags_named(text, flags)):
        try:
            truth = simulate_population(n, outdir, seed=seed, progress=not quiet, **options)
        except ConfigValueError as exc:
            raise retold(exc, flags_named(str(exc), flags)) from None
        except OutputError as exc:  # a folder of another population: its settings named as given here
            shown = getattr(exc, "settings_shown", None)
            if not shown:
                raise
            typed = flags_named(shown, {**flags, **ARGUMENT_NAMES})  # the folder's path, before, left as it is
            raise retold(exc, str(exc).replace(f"({shown})", f"({typed})", 1)) from None
    snr = truth["arc_snr_max"]
    console.print(f"{lens_count(len(truth))} in [bold]{escape(str(outdir))}[/] (arc SNR {snr.min():.1f} - {snr.max():.1f}); "
                  f"truth table {escape(str(outdir / 'truth.csv'))}. Fit them with: {escape(survey_command(outdir))}",
                  soft_wrap=True)


#: The population settings the command line takes as arguments, by what sets each (as :func:`flags_named` takes them).
ARGUMENT_NAMES = {"N": "n", "--seed": "seed"}


def flags_named(message: str, flags: dict[str, str]) -> str:
    """``message`` (about population options, by their keys) with each of ``flags``'s keys (flag ->
    key: ``{"--pixel-scale": "pixel_scale"}``) said as the flag that gave it: ``--pixel-scale must be >
    0, got -0.0``, not ``pixel_scale``, which the command line has no such option as. A text in quotes is a
    value as given, left as it is: ``--psf size --size 50`` got 'size', not '--size'."""
    for flag, key in flags.items():
        message = re.sub(rf"{QUOTED_TEXT}|(?<![\w-])(?:population option )?{re.escape(key)}(?!\w)",
                         lambda m: m.group(0) if m.group(0)[:1] in "'\"" else flag, message)
    return message


#: A text as ``repr`` writes it in a message (``'size'``, ``"it's"``): a quote no letter comes just before
#: (not the one of ``template.yaml's``), to the same quote unescaped.
QUOTED_TEXT = r"(?<!\w)(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"


def survey_command(outdir: Path) -> str:
    """The command that fits the population in ``outdir`` (results to a folder RESULTS), its paths quoted."""
    return shlex.join(["tinylens", "survey", str(outdir), "--config", str(outdir / "template.yaml"), "--out", "RESULTS"])


def stopped_hint(outdir: Path | None, command: str) -> str:
    """What a run stopped by Ctrl-C or SIGTERM kept in ``outdir`` (None: stopped before it had the
    folder), and the command (``command``) that makes the population again."""

    from tinylens.survey.population import POPULATION_RECORD

    if outdir is None or not outdir.is_dir():
        return f"Nothing was kept. To start again, run: {command}"
    try:
        record = read_json_file(outdir / POPULATION_RECORD, non_finite=True)  # a hint: each value is checked below
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict):
        return f"To start again, run: {command}"
    if record.get("complete") is True:  # the run writes a JSON true once all is written; a hand-edited NaN or 1 is not
        return f"{outdir} holds its finished population as before (the run writes the same files again)."
    lenses = sum(1 for p in outdir.glob("lens_*") if p.is_dir())
    n = record.get("n")
    if isinstance(n, float) and n.is_integer():  # JSON's 3.0 is the whole number it reads as
        n = int(n)
    # a hand-edited "n" (missing, null, text, 2.5, fewer than the lens folders there) says no count: left out
    known = isinstance(n, int) and not isinstance(n, bool) and n >= lenses
    kept = f"{lenses} of {lens_count(n)}" if known else lens_count(lenses)
    return (f"{outdir} holds an unfinished population ({kept}, no truth "
            f"table): a survey of it would fit only {'that one' if lenses == 1 else 'those'}. To make all of it (from the first lens), run: {command} (or delete {outdir}).")


def register(app: typer.Typer) -> None:
    """Add the ``simulate-population`` command to ``app``."""
    app.command("simulate-population", cls=CountCommand)(simulate_population_command)
