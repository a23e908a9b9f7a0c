"""Resolve a validated config's ``model_components`` against the profile registry.

The result, a :class:`ModelSpec`, says for every parameter of every component where its value
comes from: a free parameter (an index into the sampled vector), a constant, or a linear
amplitude solved by the inversion. Links (``fixed_value: {component_type, component_idx,
parameter}``) are followed here, once, so the likelihood never sees them. A parameter
``relative_to`` another is that parameter plus a free offset (the prior is the offset's).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from tinylens.config.schema import show
from tinylens.errors import ConfigError, ConfigTypeError, ConfigValueError, ConfigWarning, did_you_mean, in_config_file, key_name, listed, outside_stacklevel, retold, visible
from tinylens.priors import Prior

if TYPE_CHECKING:
    from tinylens.profiles.light import LightProfile
    from tinylens.profiles.mass import MassProfile

LISTS = ("lens_mass_list", "lens_light_list", "source_light_list")
#: Suffix of a free offset's name: ``lens_mass.0.e1_offset`` for an ``e1`` ``relative_to`` another.
OFFSET_SUFFIX = "_offset"
#: A prior with more than this fraction of its mass outside its parameter's domain gets a warning.
OUTSIDE_WARN_FRACTION = 0.01
#: Open intervals outside which a parameter describes no galaxy (an ellipticity of modulus 1 or
#: more, a size or slope the profile's formula does not accept). A fixed value outside, or a prior
#: that lies wholly outside, is refused when the config is read: the likelihood would be clipped
#: to nonsense or be non-finite there, and a sampler would search it for ever.
DOMAINS: Mapping[str, tuple[float, float, str]] = {
    "e1": (-1.0, 1.0, "an ellipticity component is in (-1, 1)"),
    "e2": (-1.0, 1.0, "an ellipticity component is in (-1, 1)"),
    "theta_E": (0.0, np.inf, "an Einstein radius is > 0"),
    "R_sersic": (0.0, np.inf, "a Sérsic half-light radius is > 0"),
    "n_sersic": (0.0, np.inf, "a Sérsic index is > 0"),
    "sigma": (0.0, np.inf, "a Gaussian's width is > 0"),
    "gamma": (1.0, 3.0, "the EPL slope gamma is in (1, 3)"),
}


@dataclass(frozen=True)
class Ref:
    """Where a parameter's value comes from: ``free`` (index), ``const`` (value), ``linear``, or
    ``offset``: the free entry ``index`` added to the parameter ``base`` refers to."""

    kind: str
    index: int = -1
    value: float = 0.0
    base: Ref | None = None

    def read(self, theta: Any) -> Any:
        """The value in ``theta`` (one free vector, or a stack of them along leading axes; NumPy
        or JAX): an array for ``free`` and ``offset``, the float ``value`` for ``const``."""
        if self.kind == "free":
            return theta[..., self.index]
        if self.kind == "offset":
            return self.base.read(theta) + theta[..., self.index]
        return self.value

    @property
    def indices(self) -> tuple[int, ...]:
        """The free entries this value depends on."""
        if self.kind == "free":
            return (self.index,)
        if self.kind == "offset":
            return (self.index, *self.base.indices)
        return ()


@dataclass(frozen=True)
class Component:
    """One resolved model component."""

    list_name: str
    idx: int
    profile: MassProfile | LightProfile
    params: Mapping[str, Ref]
    settings: Mapping[str, Any] = field(default_factory=dict)
    amplitude: Ref | None = None  # light only: linear, free or constant

    @property
    def label(self) -> str:
        return f"{self.list_name.removesuffix('_list')}.{self.idx}"

    @property
    def n_basis(self) -> int:
        return self.profile.n_basis(self.settings)

    @property
    def linear(self) -> bool:
        return self.amplitude is not None and self.amplitude.kind == "linear"

    def __repr__(self) -> str:
        """One line for a notebook (``problem.spec.lens_mass[0]``): the label, the profile and where
        each parameter comes from (:func:`ref_text`); the dataclass's own repr printed the profile's
        functions and every reference's fields (about 1,000 characters)."""
        params = ", ".join(f"{name}={ref_text(ref)}" for name, ref in self.params.items())
        amplitude = "" if self.amplitude is None else f"; amplitude {ref_text(self.amplitude)}"
        settings = f"; settings {dict(self.settings)}" if self.settings else ""
        return f"Component({self.label} {self.profile.name}: {params}{amplitude}{settings})"


@dataclass(frozen=True)
class ModelSpec:
    """All components and the free parameters, in sampling order."""

    lens_mass: tuple[Component, ...]
    lens_light: tuple[Component, ...]
    source_light: tuple[Component, ...]
    param_names: tuple[str, ...]
    priors: tuple[Prior, ...]
    #: free index of each offset -> the parameter it is relative to, e.g. ``lens_light.0.e1``
    relative_to: Mapping[int, str] = field(default_factory=dict)

    @property
    def light(self) -> tuple[Component, ...]:
        return self.lens_light + self.source_light

    @property
    def n_linear(self) -> int:
        return sum(c.n_basis for c in self.light if c.linear)

    def __repr__(self) -> str:
        """One line for a notebook (``problem.spec``): the components and the free parameters; the
        dataclass's own repr printed every component's profile functions and references (4,000
        characters for the demo). The components stay attributes, each with its own repr."""
        components = ", ".join(f"{c.label} {c.profile.name}" for c in (*self.lens_mass, *self.light)) or "none"
        return (f"ModelSpec({components}; {len(self.param_names)} free parameters"
                f"{': ' + listed(self.param_names) if self.param_names else ''})")


def ref_text(ref: Ref) -> str:
    """Where a value comes from, in short: ``free[3]`` (entry 3 of the free vector), ``0.5`` (fixed, every digit),
    ``linear`` (solved), ``free[3] + free[9]`` (an offset from another)."""
    if ref.kind == "free":
        return f"free[{ref.index}]"
    if ref.kind == "const":
        return repr(float(ref.value)) if np.ndim(ref.value) == 0 else repr(ref.value)
    if ref.kind == "offset":
        return f"{ref_text(ref.base)} + free[{ref.index}]"
    return ref.kind


def _label(list_name: str, idx: int, name: str) -> str:
    """A parameter's name in tables and the free vector, e.g. ``lens_mass.0.theta_E``."""
    return f"{list_name.removesuffix('_list')}.{idx}.{name}"


def _path(list_name: str, idx: int, *rest: str) -> str:
    """``model_components.lens_mass_list[0].params.theta_E``: each of ``rest`` as
    :func:`~tinylens.config.loader.dotted` writes a key, an empty one or one of spaces in quotes (no bare trailing dot)."""
    return "model_components." + f"{list_name}[{idx}]" + "".join("." + key_name(r) for r in rest)


#: The mass and the light profiles a config's components are resolved against: those of
#: :mod:`tinylens.profiles` (:func:`profile_registries`), or their names alone
#: (:mod:`tinylens.profiles.catalog`, :func:`check_model_components`).
Registries = tuple[Mapping[str, Any], Mapping[str, Any]]


def profile_registries() -> Registries:
    """The profiles a model is built of, :data:`~tinylens.profiles.mass.MASS_PROFILES` and
    :data:`~tinylens.profiles.light.LIGHT_PROFILES` (imported here: they import JAX)."""
    from tinylens.profiles.light import LIGHT_PROFILES
    from tinylens.profiles.mass import MASS_PROFILES

    return MASS_PROFILES, LIGHT_PROFILES


def _registry(list_name: str, registries: Registries) -> Mapping[str, Any]:
    return registries[0] if list_name == "lens_mass_list" else registries[1]


def _is_light(profile: Any) -> bool:
    """Whether ``profile`` is a light profile (it has an amplitude), of either registry."""
    return getattr(profile, "amplitude", None) is not None


def _names(profile: Any) -> list[str]:
    """Every name a profile's parameters go by: its parameters, amplitude and aliases."""
    return sorted({*profile.params, getattr(profile, "amplitude", None) or "", *profile.aliases} - {""})


def _hint(name: str, registries: Registries, list_name: str) -> str:
    """A "did you mean" for a profile name: one of its list's registry, or one that belongs in another list."""
    registry = _registry(list_name, registries)
    elsewhere, other = ((registries[1], "lens_light_list or source_light_list") if list_name == "lens_mass_list"
                        else (registries[0], "lens_mass_list"))
    if name in elsewhere:
        return f" '{name}' is a profile of {other}, not of {list_name}."
    return did_you_mean([name], sorted(registry))


def _prior(spec: Any, where: str) -> Prior:
    if spec.prior_type is None or spec.prior_settings is None:
        raise ConfigValueError(
            f"{where}: a free parameter needs 'prior_type' (uniform, gaussian or log_uniform) "
            "and 'prior_settings'; or set 'fixed: true' with a 'fixed_value'."
        )
    a, b = (float(v) for v in spec.prior_settings)
    lo, hi = (float(v) for v in spec.limits) if spec.limits is not None else (-np.inf, np.inf)
    try:
        return Prior(spec.prior_type, a, b, lo, hi)
    except ValueError:
        raise ConfigValueError(
            f"{where}: prior {spec.prior_type} {list(spec.prior_settings)} and limits "
            f"[{lo:g}, {hi:g}] leave an empty range; widen the prior or the limits."
        ) from None


def unknown_setting(profile: Any, given: Mapping[Any, Any]) -> tuple[str, str] | None:
    """The first key of ``given`` (by name) that ``profile`` takes no setting of, and what to say
    of it (``unknown setting 'n_gaus'. Did you mean 'n_gauss' instead of 'n_gaus'? Allowed: ...``);
    None when ``profile`` takes every one. Shared by a config's components and simulate's."""
    defaults = dict(getattr(profile, "settings_defaults", {}) or {})
    unknown = sorted(str(key) for key in given if key not in defaults)
    if not unknown:
        return None
    allowed = f"Allowed: {', '.join(sorted(defaults))}." if defaults else f"{profile.name} takes no settings."
    hint = did_you_mean(unknown[:1], sorted(defaults))
    return unknown[0], f"unknown setting '{visible(unknown[0])}'.{hint} {allowed}"


def _settings(profile: Any, given: Mapping[str, Any], list_name: str, idx: int) -> dict[str, Any]:
    """A component's ``settings``, its profile's defaults filled in, checked: unknown keys and
    values the profile cannot use raise ConfigValueError (a setting of a kind it cannot use, where the
    profile's check raises a TypeError, ConfigTypeError)."""
    defaults = dict(getattr(profile, "settings_defaults", {}) or {})
    unknown = unknown_setting(profile, given)
    if unknown:
        raise ConfigValueError(f"{_path(list_name, idx, 'settings', unknown[0])}: {unknown[1]}")
    settings = {**defaults, **given}
    if _is_light(profile):
        try:
            profile.n_basis(settings)
        except (TypeError, ValueError) as exc:  # a setting of the wrong kind, or a wrong value
            kind = ConfigTypeError if isinstance(exc, TypeError) else ConfigValueError
            raise kind(f"{_path(list_name, idx, 'settings')}: {exc} (given: {show(dict(given))}).") from None
    return settings


#: What a parameter the config must give is given as, for the message that it is missing.
GIVE_IT = "a prior (prior_type, prior_settings), or 'fixed: true' with a 'fixed_value'"


def _check_required(profile: Any, given: Mapping[str, Any], list_name: str, idx: int) -> None:
    """Raise ConfigValueError naming every parameter of ``profile`` without a default that ``given``
    (a component's parameters, by canonical name) leaves out, all at once."""
    missing = [name for name in profile.params if name not in given and name not in profile.defaults]
    if len(missing) == 1:
        raise ConfigValueError(f"{_path(list_name, idx, 'params', missing[0])}: required parameter of {profile.name} is "
                          f"missing from the config; give it {GIVE_IT}.")
    if missing:
        raise ConfigValueError(f"{_path(list_name, idx, 'params')}: required parameters of {profile.name} are missing from "
                          f"the config: {', '.join(missing)}; give each {GIVE_IT}.")


def build_model_spec(components: Any, registries: Registries | None = None) -> ModelSpec:
    """Resolve ``config.model_components`` into a :class:`ModelSpec` or raise a
    :class:`~tinylens.errors.ConfigValueError` (a ConfigError and a ValueError, as a schema's wrong
    value, unknown key or missing key is): an unknown profile or parameter, a missing one, a link to
    nothing, a prior or fixed value that allows no value; a setting of the wrong kind is a ConfigTypeError.
    ``registries``: the profiles to resolve them against (default :func:`profile_registries`)."""
    registries = profile_registries() if registries is None else registries
    raw: dict[tuple[str, int], tuple[Any, Any]] = {}  # (list, idx) -> (profile, component cfg)
    for list_name in LISTS:
        registry = _registry(list_name, registries)
        for idx, comp in enumerate(getattr(components, list_name) or []):
            if comp.type not in registry:
                raise ConfigValueError(
                    f"{_path(list_name, idx, 'type')}: unknown profile '{comp.type}'.{_hint(comp.type, registries, list_name)} "
                    f"Allowed in {list_name}: {', '.join(sorted(registry))}."
                )
            raw[(list_name, idx)] = (registry[comp.type], comp)
    if not any(ln != "lens_mass_list" for ln, _ in raw):
        raise ConfigValueError("model_components: at least one light component (lens_light_list or source_light_list) is needed.")
    if any(ln == "source_light_list" for ln, _ in raw) and not any(ln == "lens_mass_list" for ln, _ in raw):
        raise ConfigValueError("model_components: a source_light_list needs at least one lens_mass_list component to deflect it.")

    # Canonical parameter specs per component, aliases applied and names checked.
    specs: dict[tuple[str, int], dict[str, Any]] = {}
    for (list_name, idx), (profile, comp) in raw.items():
        allowed = set(profile.params) | ({profile.amplitude} if _is_light(profile) else set())
        out: dict[str, Any] = {}
        given_as: dict[str, str] = {}
        for name, spec in (comp.params or {}).items():
            canon = profile.aliases.get(name, name)
            if canon not in allowed:
                names = sorted(allowed | set(profile.aliases))
                raise ConfigValueError(
                    f"{_path(list_name, idx, 'params', name)}: unknown parameter '{visible(name)}' for "
                    f"{comp.type}.{did_you_mean([name], names)} Allowed: {', '.join(names)}."
                )
            if canon in out:  # an alias and its parameter: one of them would be ignored
                alias = name if name != canon else given_as[canon]
                raise ConfigValueError(
                    f"{_path(list_name, idx, 'params', name)}: the same parameter of {comp.type} as "
                    f"'{given_as[canon]}' ('{alias}' is another name for '{canon}'); give one of them."
                )
            out[canon] = spec
            given_as[canon] = name
        _check_required(profile, out, list_name, idx)
        specs[(list_name, idx)] = out

    free_names: list[str] = []
    free_priors: list[Prior] = []
    relative_to: dict[int, str] = {}
    resolved: dict[tuple[str, int, str], Ref] = {}

    def target_of(link: Any) -> tuple[str, int, str]:
        """The ``(list, idx, canonical parameter name)`` a link points to."""
        target = (link.component_type, int(link.component_idx), link.parameter)
        if (target[0], target[1]) in raw:
            profile = raw[(target[0], target[1])][0]
            target = (target[0], target[1], profile.aliases.get(target[2], target[2]))
        return target

    def resolve(key: tuple[str, int, str], chain: tuple, field: str = "fixed_value") -> Ref:
        if key in resolved:
            return resolved[key]
        list_name, idx, name = key
        where = _path(list_name, idx, "params", name)
        if key in chain:
            loop = " -> ".join(f"{k[0]}[{k[1]}].{k[2]}" for k in chain + (key,))
            raise ConfigValueError(f"{where}: parameter links form a loop: {loop}.")
        if (list_name, idx) not in specs:
            src = chain[-1] if chain else key
            raise ConfigValueError(
                f"{_path(src[0], src[1], 'params', src[2], field)}: the link points to "
                f"{list_name}[{idx}], which does not exist."
            )
        profile = raw[(list_name, idx)][0]
        spec = specs[(list_name, idx)].get(name)
        if spec is None:
            if name in profile.defaults:
                ref = Ref("const", value=float(profile.defaults[name]))
            elif chain:
                src = chain[-1]
                raise ConfigValueError(
                    f"{_path(src[0], src[1], 'params', src[2], field)}: the link points to "
                    f"{list_name}[{idx}].{name}, which {profile.name} does not have or the config does not set."
                    f"{did_you_mean([name], _names(profile)) if name not in _names(profile) else ''}"
                )
            else:
                raise ConfigValueError(f"{where}: required parameter of {profile.name} is missing from the config.")
        elif getattr(spec, "use_linear", False):
            amplitude = getattr(profile, "amplitude", None)
            if name != amplitude:
                which = f"{profile.name}'s amplitude '{amplitude}'" if amplitude else f"no parameter of {profile.name}"
                raise ConfigValueError(
                    f"{where}: 'use_linear: true' is for a light profile's amplitude ({which}); "
                    f"'{name}' enters the model non-linearly: give it a prior, or fix it ('fixed: true' with a 'fixed_value')."
                )
            ref = Ref("linear")
        elif spec.fixed:
            fv = spec.fixed_value
            if fv is None:
                raise ConfigValueError(f"{where}: 'fixed: true' needs a 'fixed_value'.")
            if isinstance(fv, (int, float)):
                ref = Ref("const", value=float(fv))
            else:
                ref = resolve(target_of(fv), chain + (key,))
                if ref.kind == "linear":
                    raise ConfigValueError(f"{where}: cannot link to a linear amplitude.")
        else:
            prior = _prior(spec, where)
            base = None
            if spec.relative_to is not None:
                target = target_of(spec.relative_to)
                base = resolve(target, chain + (key,), "relative_to")
                if base.kind == "linear":
                    raise ConfigValueError(f"{where}.relative_to: cannot be relative to a linear amplitude.")
            label = _label(list_name, idx, name)
            if base is None:
                ref = Ref("free", index=len(free_names))
            else:
                ref = Ref("offset", index=len(free_names), base=base)
                relative_to[ref.index] = _label(*target)
                label += OFFSET_SUFFIX
            free_names.append(label)
            free_priors.append(prior)
        resolved[key] = ref
        return ref

    built: dict[str, list[Component]] = {ln: [] for ln in LISTS}
    for (list_name, idx), (profile, comp) in raw.items():
        params = {name: resolve((list_name, idx, name), ()) for name in profile.params}
        amplitude = None
        settings = _settings(profile, getattr(comp, "settings", None) or {}, list_name, idx)
        if _is_light(profile):
            if profile.amplitude in specs[(list_name, idx)]:
                amplitude = resolve((list_name, idx, profile.amplitude), ())
            else:  # an amplitude the config does not mention is solved linearly
                amplitude = Ref("linear")
            if amplitude.kind != "linear" and profile.n_basis(settings) != 1:
                raise ConfigValueError(
                    f"{_path(list_name, idx, 'params', profile.amplitude)}: {profile.name} has "
                    f"{profile.n_basis(settings)} amplitudes; they must be solved linearly (use_linear: true)."
                )
        built[list_name].append(Component(list_name, idx, profile, params, settings, amplitude))
        _check_domains(list_name, idx, params, free_priors, relative_to)
    return ModelSpec(
        lens_mass=tuple(built["lens_mass_list"]),
        lens_light=tuple(built["lens_light_list"]),
        source_light=tuple(built["source_light_list"]),
        param_names=tuple(free_names),
        priors=tuple(free_priors),
        relative_to=relative_to,
    )


def spec_of_config(components: Any, config: Any, registries: Registries | None = None) -> ModelSpec:
    """:func:`build_model_spec` of a config's ``components``, its ConfigError prefixed with
    ``In config file PATH:`` where ``config`` (as given to :func:`tinylens.load`) is a file's path, of the
    same class (:func:`~tinylens.errors.retold`: a ConfigValueError stays one, an ImportError keeps its
    ``name``)."""
    try:
        return build_model_spec(components, registries)
    except ConfigError as exc:
        where = in_config_file(config)
        if not where:
            raise
        raise retold(exc, f"{where}{exc}") from None


def free_parameter_names(components: Any) -> tuple[str, ...]:
    """The free parameters of a config's ``components`` (``config.model_components``), in sampling
    order: the ``param_names`` of the model :func:`build_model_spec` builds of them, resolved against
    the profiles' names alone (:mod:`tinylens.profiles.catalog`), so without JAX or the data; its
    warnings are left to the build itself. A sampler's settings that need the number of free
    parameters (dynesty's least ``nlive``, nautilus's, ``periodic``) are so checked once the config
    is read (:func:`tinylens.inference.check_inference_first`). Raises :func:`build_model_spec`'s
    ConfigError for components it refuses."""
    from tinylens.profiles.catalog import LIGHT_NAMES, MASS_NAMES

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        return tuple(build_model_spec(components, (MASS_NAMES, LIGHT_NAMES)).param_names)


def check_model_components(components: Any, config: Any) -> None:
    """Raise the ConfigError :func:`spec_of_config` raises for ``components``, if any, without
    importing JAX: they are resolved against the profiles' names alone
    (:mod:`tinylens.profiles.catalog`), its warnings left to the build itself. An unknown profile
    or parameter, a prior or fixed value no profile parameter allows is so said in a fraction of a
    second, not after the seconds JAX takes to import (:func:`~tinylens.config.loader.read_config_first`)."""
    from tinylens.profiles.catalog import LIGHT_NAMES, MASS_NAMES

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        spec_of_config(components, config, (MASS_NAMES, LIGHT_NAMES))


def _mass_outside(prior: Prior, lo: float, hi: float) -> float:
    """The prior probability of a value ``<= lo`` or ``>= hi``."""
    below = float(prior.cdf(lo)) if np.isfinite(lo) else 0.0
    above = 1.0 - float(prior.cdf(hi)) if np.isfinite(hi) else 0.0
    return below + above


def _interval(ref: Ref, priors: list[Prior]) -> tuple[float, float]:
    """The closed interval a parameter's value can take: a constant's value, a free parameter's
    prior :attr:`~tinylens.priors.Prior.support` (infinite for an untruncated Gaussian), or an
    offset's support added to its base's interval."""
    if ref.kind == "const":
        return ref.value, ref.value
    lo, hi = priors[ref.index].support
    if ref.kind == "offset":
        base_lo, base_hi = _interval(ref.base, priors)
        lo, hi = base_lo + lo, base_hi + hi
    return float(lo), float(hi)


def _allows(name: str, ref: Ref, priors: list[Prior], relative_to: Mapping[int, str]) -> str:
    """What the config allows for ``name``, for a message: ``e1 fixed at 0.8``, ``e1 with prior
    U(0.75, 0.9)``, or the interval of a value relative to another parameter."""
    if ref.kind == "const":
        return f"{name} fixed at {ref.value:g}"
    if ref.kind == "free":
        return f"{name} with prior {priors[ref.index].describe()}"
    lo, hi = _interval(ref, priors)
    return (f"{name} in [{lo:g}, {hi:g}] ({relative_to[ref.index]} plus an offset with prior "
            f"{priors[ref.index].describe()})")


def _check_domains(list_name: str, idx: int, params: Mapping[str, Ref], priors: list[Prior],
                   relative_to: Mapping[int, str]) -> None:
    """Refuse a constant outside its parameter's :data:`DOMAINS`, a free parameter whose prior lies
    wholly outside it, and ellipticities with ``e1^2 + e2^2 >= 1``: fixed, or everywhere the
    priors of ``e1`` and ``e2`` (one of them possibly fixed) allow."""
    for name, ref in params.items():
        if name not in DOMAINS:
            continue
        lo, hi, rule = DOMAINS[name]
        where = _path(list_name, idx, "params", name)
        if ref.kind == "const" and not lo < ref.value < hi:
            raise ConfigValueError(f"{where}: fixed value {ref.value:g} is not allowed: {rule}.")
        if ref.kind == "free":
            a, b = priors[ref.index].support
            if b <= lo or a >= hi:
                raise ConfigValueError(
                    f"{where}: the prior allows only [{a:g}, {b:g}], where no value is allowed: {rule}. "
                    "Change the prior or its limits."
                )
            outside = _mass_outside(priors[ref.index], lo, hi)
            if outside > OUTSIDE_WARN_FRACTION:
                warnings.warn(
                    f"{where}: {100 * outside:.3g} % of the prior ({priors[ref.index].describe()}) lies where "
                    f"no value is allowed ({rule}); a sampler spends that part of the prior on a clipped or "
                    "non-finite model. Narrow the prior or give it limits inside the allowed values.",
                    ConfigWarning,
                    stacklevel=outside_stacklevel(),
                )
    e1, e2 = params.get("e1"), params.get("e2")
    if e1 is None or e2 is None:
        return
    if e1.kind == e2.kind == "const" and e1.value**2 + e2.value**2 >= 1:
        raise ConfigValueError(
            f"{_path(list_name, idx, 'params')}: fixed e1 = {e1.value:g} and e2 = {e2.value:g} give "
            f"|e| = {np.hypot(e1.value, e2.value):.3g}; an ellipticity's modulus must be < 1 "
            "(|e| = (1 - q) / (1 + q) for axis ratio q)."
        )
    # The e1 x e2 box the priors allow (it holds every pair they allow, so this never refuses a
    # config that reaches |e| < 1); its point nearest the origin has the smallest |e| in it.
    (lo1, hi1), (lo2, hi2) = _interval(e1, priors), _interval(e2, priors)
    near1, near2 = float(np.clip(0.0, lo1, hi1)), float(np.clip(0.0, lo2, hi2))
    if near1**2 + near2**2 >= 1:
        raise ConfigValueError(
            f"{_path(list_name, idx, 'params')}: {_allows('e1', e1, priors, relative_to)} and "
            f"{_allows('e2', e2, priors, relative_to)} allow no ellipticity with |e| < 1: the smallest is "
            f"|e| = {np.hypot(near1, near2):.3g}, at e1 = {near1:g}, e2 = {near2:g}; an ellipticity's "
            "modulus must be < 1 (|e| = (1 - q) / (1 + q) for axis ratio q), so every model a fit tries "
            "would be invalid. Change the priors or their limits."
        )
