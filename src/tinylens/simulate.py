"""Simulate lens images with tinylens's own forward model (mock data, tests, populations).

The model is the one the likelihood uses (eq. 2 and 3 of the paper): light profiles, the lens
equation, ``nsub x nsub`` supersampling, binning and a 'same'-size PSF convolution with zero
padding. Any registered profiles can be combined::

    from tinylens.simulate import simulate_image, add_noise, gaussian_psf

    psf = gaussian_psf(fwhm=0.15, pixel_scale=0.074, size=21)
    image = simulate_image(
        {"lens_mass_list": ["SIE", "SHEAR"], "lens_light_list": ["Sersic"], "source_light_list": ["Sersic"]},
        truth={
            "lens_mass": [{"theta_E": 1.2, "e1": 0.1, "e2": 0.0, "center_x": 0.0, "center_y": 0.0},
                          {"gamma1": 0.02, "gamma2": -0.01}],
            "lens_light": [{"Ie": 2.0, "R_sersic": 0.8, "n_sersic": 4.0, "e1": 0.1, "e2": 0.0,
                            "center_x": 0.0, "center_y": 0.0}],
            "source_light": [{"Ie": 3.0, "R_sersic": 0.2, "n_sersic": 1.0, "e1": 0.0, "e2": 0.1,
                              "center_x": 0.05, "center_y": 0.1}],
        },
        shape=(100, 100), pixel_scale=0.074, psf=psf,
    )
    noisy, noise = add_noise(image, sky_sigma=0.02, exposure_time=300.0, rng=1)

Amplitudes (``Ie`` for a Sersic, ``amp`` for a Gaussian, the weights of an MGE) can be given
in ``truth`` under the profile's amplitude name, or in ``amplitudes`` keyed by component label
(``"lens_light.0"``, ``"source_light.0"``; a list for profiles with several amplitudes).

An argument these functions cannot take is a :class:`~tinylens.errors.ConfigValueError` naming
it (a ValueError, and a :class:`~tinylens.errors.TinyLensError` as a config's mistakes are), or a
:class:`~tinylens.errors.ConfigTypeError` (a TypeError too) for ``components`` or ``truth`` that
are no mapping.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
from scipy import special

from tinylens.config.model_spec import LISTS, Component, ModelSpec, Ref, unknown_setting
from tinylens.errors import ConfigTypeError, ConfigValueError, counted, did_you_mean, plural, visible
from tinylens.forward import blurred_columns, column_owner
from tinylens.numerics.convolution import kernel_fft
from tinylens.numerics.grid import point_grid, uniform_groups
from tinylens.precision import chosen_dtype
from tinylens.simulate_limits import (  # noqa: F401 (also imported from here)
    COLUMN_BYTES,
    GRID_COLUMNS,
    MAX_ELECTRONS,
    MAX_GRID,
    MAX_MOFFAT_BETA,
    MAX_SKY_SIGMA,
    POINT_BYTES,
    coordinates_problem,
    grid_fits,
    is_whole,
    largest_psf_size,
    max_points,
    moffat_beta_problem,
    sky_sigma_problem,
)

__all__ = ["simulate_image", "simulate_images", "add_noise", "gaussian_psf", "moffat_psf", "model_spec_from_truth"]


# -- the model --------------------------------------------------------------------------------
def _registry(list_name: str) -> Mapping[str, Any]:
    from tinylens.profiles.light import LIGHT_PROFILES
    from tinylens.profiles.mass import MASS_PROFILES

    return MASS_PROFILES if list_name == "lens_mass_list" else LIGHT_PROFILES


def _components_mapping(config_or_components: Any) -> Mapping[str, Any]:
    """Accept a full config dict (with ``model_components``) or the components mapping itself."""
    if isinstance(config_or_components, Mapping) and "model_components" in config_or_components:
        return config_or_components["model_components"]
    if not isinstance(config_or_components, Mapping):
        raise ConfigTypeError("components must be a mapping such as {'lens_mass_list': ['SIE'], ...}")
    unknown = set(config_or_components) - {*LISTS, *(ln.removesuffix("_list") for ln in LISTS)}
    if unknown:
        raise ConfigValueError(f"unknown {plural(len(unknown), 'component list')} {sorted(unknown)}; use {', '.join(LISTS)}")
    return config_or_components


def _list_key(mapping: Mapping[str, Any], list_name: str, absent: str) -> str:
    """The key ``mapping`` gives the list ``list_name`` under, as written: ``lens_mass_list`` or
    ``lens_mass`` (:func:`_entries` reads the first that holds something); ``absent`` (one of the
    two) where it gives neither."""
    short = list_name.removesuffix("_list")
    for key in (list_name, short):
        if mapping.get(key):
            return key
    return next((key for key in (list_name, short) if key in mapping), absent)


def _check_truth_lists(truth: Mapping[str, Any]) -> None:
    """A ConfigValueError naming the keys of ``truth`` that are no component list (``lens_mass``,
    ``lens_light``, ``source_light``, with or without ``_list``): truth by parameter name
    (``{'lens_mass.0.theta_E': 1.2}``, as :func:`tinylens.fit` takes it and a truth.json's
    ``params`` holds it), a truth.json's whole content (its lists are under ``components``) or a
    misspelt list were passed over, and the error said instead that a list had 0 entries, or a list
    the model lacks was drawn without a word."""
    lists = [*LISTS, *(ln.removesuffix("_list") for ln in LISTS)]
    unknown = [key for key in truth if key not in lists]
    if not unknown:
        return
    shown = ", ".join(repr(key) for key in unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
    nested = "one mapping of values per component, by list: {'lens_mass': [{'theta_E': 1.2, ...}], ...}"
    if isinstance(truth.get("components"), Mapping):
        hint = f"this looks like a truth.json's content: give its truth['components'], {nested}"
    elif any(isinstance(key, str) and "." in key for key in unknown):
        hint = (f"truth by parameter name, as tinylens.fit takes it, is not what simulate takes: give {nested} "
                "(a truth.json's 'components')")
    else:
        hint = f"its keys are {', '.join(repr(name) for name in lists[len(LISTS):])} (or the same with _list)."
        hint += did_you_mean([str(key) for key in unknown], lists)
    raise ConfigValueError(f"truth has {shown}, no component list; {hint}")


def _entries(mapping: Mapping[str, Any], list_name: str, what: str = "components") -> list[Any]:
    """The list ``list_name`` (with or without ``_list``) of ``mapping``, empty when absent; a
    ValueError, naming the key as ``mapping`` writes it, for a single string or mapping
    (``"Sersic"`` was read as 6 one-letter profiles)."""
    value = mapping.get(list_name) or mapping.get(list_name.removesuffix("_list")) or []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ConfigValueError(f"{what}['{_list_key(mapping, list_name, list_name)}'] must be a list (e.g. [{value!r}]), "
                               f"got {value!r}")
    return list(value)


def _entry_type(entry: Any, where: str = "a component") -> tuple[str, dict]:
    """``"SIE"`` or ``{"type": "SIE", "settings": {...}}`` -> (type, settings); a ValueError
    naming ``where`` for anything else (a type that is no string, such as ['SIE'], gave an
    unhashable-type TypeError, and settings that are no mapping dict()'s own message)."""
    if isinstance(entry, str):
        return entry, {}
    if not isinstance(entry, Mapping) or "type" not in entry:
        raise ConfigValueError(f"{where} must be a profile name or a mapping with its 'type' (e.g. {{'type': 'SIE'}}), "
                               f"got {entry!r}")
    if not isinstance(entry["type"], str):
        raise ConfigValueError(f"{where}['type'] must be a profile name (e.g. 'SIE'), got {entry['type']!r}")
    settings = entry.get("settings") or {}
    if not isinstance(settings, Mapping):
        raise ConfigValueError(f"{where}['settings'] must be a mapping (e.g. {{'n_gauss': 20}}), got {settings!r}")
    return entry["type"], dict(settings)


def _finite(value: Any, where: str) -> float:
    """``value`` as a float when it is a finite number, else a ValueError naming ``where``: a NaN
    parameter made every pixel NaN, and 'abc' or None gave float()'s own message."""
    number = _number(value)
    if isinstance(value, bool) or not np.isfinite(number):
        raise ConfigValueError(f"{where} must be a finite number, got {value!r}")
    return number


def _numeric_fixed(entry: Any, where: str = "a component") -> dict[str, float]:
    """Numeric ``fixed_value`` of a TinyLensGpu-style component entry (used when truth omits one);
    a ValueError naming ``where`` for params, or a parameter's spec, that is no mapping (params of
    [1] gave an AttributeError, and a spec of 4.0 was passed over without a word)."""
    if isinstance(entry, str):
        return {}
    params = entry.get("params") or {}
    if not isinstance(params, Mapping):
        raise ConfigValueError(f"{where}['params'] must be a mapping of parameter names to their specs "
                               f"(e.g. {{'n_sersic': {{'fixed': True, 'fixed_value': 4.0}}}}), got {params!r}")
    out = {}
    for name, spec in params.items():
        if not isinstance(spec, Mapping):
            raise ConfigValueError(f"{where}['params'][{name!r}] must be a mapping such as "
                                   f"{{'fixed': True, 'fixed_value': 4.0}}, got {spec!r}")
        if spec.get("fixed") and isinstance(spec.get("fixed_value"), (int, float)):
            out[name] = float(spec["fixed_value"])
    return out


def _canonical(profile: Any, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    amp_name = getattr(profile, "amplitude", None)
    allowed = set(profile.params) | ({amp_name} if amp_name else set())
    out = {}
    for name, v in values.items():
        canon = profile.aliases.get(name, name)
        if canon not in allowed:  # named as a config's is: a hidden character written out, with the name it looks like
            names = sorted(allowed | set(profile.aliases))
            raise ConfigValueError(f"{where}: unknown parameter '{visible(str(name))}' for {profile.name}; allowed: "
                                   f"{', '.join(names)}.{did_you_mean([str(name)], names)}")
        out[canon] = v
    return out


def model_spec_from_truth(
    config_or_components: Any, truth: Mapping[str, Sequence[Mapping[str, float]]], amplitudes: Mapping[str, Any] | None = None
) -> tuple[ModelSpec, np.ndarray]:
    """A :class:`ModelSpec` with every parameter fixed to ``truth`` and every amplitude linear,
    plus the amplitude vector (in column order) that the linear columns are weighted with."""
    spec, amps, _ = _spec_from_truth(config_or_components, truth, amplitudes)
    return spec, amps


def _spec_from_truth(
    config_or_components: Any, truth: Mapping[str, Sequence[Mapping[str, float]]], amplitudes: Mapping[str, Any] | None = None
) -> tuple[ModelSpec, np.ndarray, dict[tuple[str, int, str], str]]:
    """:func:`model_spec_from_truth`'s spec and amplitudes, and where each parameter's value was
    given, by (list, index, parameter): ``truth['lens_mass'][0]['slope']`` or
    ``lens_mass_list[0]['params']['gamma']['fixed_value']``, as written (a default: absent)."""
    mapping = _components_mapping(config_or_components)
    if not isinstance(truth, Mapping):
        raise ConfigTypeError(f"truth must be a mapping such as {{'lens_light': [{{'Ie': 1.0, ...}}]}}, got {truth!r}")
    _check_truth_lists(truth)
    try:
        amplitudes = dict(amplitudes if amplitudes is not None else {})
    except (TypeError, ValueError):  # dict()'s own 'cannot convert dictionary update sequence element #0'
        raise ConfigTypeError(f"amplitudes must be a mapping of component labels to amplitudes such as "
                              f"{{'lens_light.0': 2.0}}, or None, got {reprlib.repr(amplitudes)}") from None
    built: dict[str, list[Component]] = {ln: [] for ln in LISTS}
    amp_vec: list[float] = []
    sources: dict[tuple[str, int, str], str] = {}
    for list_name in LISTS:
        registry = _registry(list_name)
        entries = _entries(mapping, list_name)
        values_list = _entries(truth, list_name, "truth")
        # each list, component and value named as written: truth's lists as the module's example
        # writes them (lens_mass), the components' as a config does (lens_mass_list), where absent
        truth_list = _list_key(truth, list_name, list_name.removesuffix("_list"))
        components_list = _list_key(mapping, list_name, list_name)
        if len(values_list) != len(entries):
            given = "1 entry" if len(values_list) == 1 else f"{len(values_list)} entries"
            raise ConfigValueError(f"truth['{truth_list}'] has {given} for {counted(len(entries), 'component')}")
        for idx, (entry, raw_values) in enumerate(zip(entries, values_list)):
            component = f"{components_list}[{idx}]"
            type_name, settings = _entry_type(entry, component)
            if type_name not in registry:
                raise ConfigValueError(f"{component}: unknown profile '{type_name}'; allowed: {', '.join(sorted(registry))}")
            profile = registry[type_name]
            unknown = unknown_setting(profile, settings)
            if unknown:  # as a config's are: a misspelt n_gauss was passed over, and the default drawn
                raise ConfigValueError(f"{component}['settings']: {unknown[1]}")
            where = f"truth['{truth_list}'][{idx}]"
            if not isinstance(raw_values, Mapping):
                raise ConfigValueError(f"{where} must be a mapping of parameter values, got {raw_values!r}")
            fixed = _numeric_fixed(entry, component)
            values = {**_canonical(profile, fixed, f"{component}['params']"), **_canonical(profile, raw_values, where)}
            # where each value was given: a component's fixed_value, or truth's (which wins), by the name written there
            given_at = {profile.aliases.get(name, name): f"{component}['params']['{name}']['fixed_value']" for name in fixed}
            given_at.update({profile.aliases.get(name, name): f"{where}['{name}']" for name in raw_values})
            params = {}
            for name in profile.params:
                if name in values:
                    params[name] = Ref("const", value=_finite(values[name], given_at[name]))
                    sources[list_name, idx, name] = given_at[name]
                elif name in profile.defaults:
                    params[name] = Ref("const", value=float(profile.defaults[name]))
                else:
                    raise ConfigValueError(f"{where}: missing parameter '{name}' of {profile.name}")
            full_settings = dict(getattr(profile, "settings_defaults", {}) or {})
            full_settings.update(settings)
            amplitude = None
            label = f"{list_name.removesuffix('_list')}.{idx}"
            if list_name != "lens_mass_list":
                amp = amplitudes.get(label, values.get(profile.amplitude))
                if amp is None:
                    raise ConfigValueError(f"{where}: no amplitude; give '{profile.amplitude}' or amplitudes['{label}']")
                shown = f"amplitudes['{label}']" if label in amplitudes else given_at.get(
                    profile.amplitude, f"{where}['{profile.amplitude}']")
                try:
                    amp = np.atleast_1d(np.asarray(amp, dtype=float))
                except (TypeError, ValueError):
                    amp = np.array([np.nan])
                if not np.all(np.isfinite(amp)):
                    given = amplitudes.get(label, values.get(profile.amplitude))
                    raise ConfigValueError(f"{shown} must be a finite number, or a list of them (one per amplitude), got {given!r}")
                n_basis = profile.n_basis(full_settings)
                if amp.size != n_basis:  # named where the amplitudes were given: a component's fixed_value is not truth's
                    given_in = shown if label not in amplitudes and not shown.startswith(where) else where
                    raise ConfigValueError(f"{given_in}: {profile.name} needs {counted(n_basis, 'amplitude')}, got {amp.size}")
                amp_vec.extend(amp.tolist())
                amplitude = Ref("linear")
            built[list_name].append(Component(list_name, idx, profile, params, full_settings, amplitude))
    labels = [c.label for ln in ("lens_light_list", "source_light_list") for c in built[ln]]
    unused = [label for label in amplitudes if label not in labels]
    if unused:
        raise ConfigValueError(f"amplitudes has {', '.join(map(repr, unused))}, no light component of the model; its "
                               f"labels: {', '.join(map(repr, labels)) or 'none'} (a list's name without _list, a dot, the index)")
    if not built["lens_light_list"] and not built["source_light_list"]:
        raise ConfigValueError("nothing to simulate: give at least one lens_light_list or source_light_list component")
    if built["source_light_list"] and not built["lens_mass_list"]:
        raise ConfigValueError("a source_light_list needs at least one lens_mass_list component")
    spec = ModelSpec(
        lens_mass=tuple(built["lens_mass_list"]),
        lens_light=tuple(built["lens_light_list"]),
        source_light=tuple(built["source_light_list"]),
        param_names=(),
        priors=(),
    )
    return spec, np.asarray(amp_vec, dtype=float), sources


# -- argument checks --------------------------------------------------------------------------
def _whole(value: Any, name: str, low: int = 1) -> int:
    """``value`` as an int when it is a whole number >= ``low`` (``8`` or ``8.0``), else a
    ValueError naming the argument ``name``: ``int()`` truncated 2.5 to 2 without a word."""
    if not is_whole(value) or int(value) < low:
        raise ConfigValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


def _number(value: Any) -> float:
    """``value`` as a float; nan for what is no number ('abc', None)."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def _positive(value: Any, name: str) -> float:
    """``value`` as a float when it is a finite number > 0, else a ValueError naming ``name``."""
    number = _number(value)
    if isinstance(value, bool) or not (np.isfinite(number) and number > 0):
        raise ConfigValueError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def _shape(shape: Any) -> tuple[int, int]:
    """``shape`` as ``(rows, columns)``, two whole numbers >= 1 (a tuple, a list, a numpy or JAX
    array), else a ValueError naming it."""
    if isinstance(shape, (str, bytes, Mapping)) or _ndim(shape) != 1 or len(shape) != 2:
        raise ConfigValueError(f"shape must be (rows, columns), two whole numbers >= 1, got {shape!r}")
    return _whole(shape[0], "shape[0] (rows)"), _whole(shape[1], "shape[1] (columns)")


def _check_grid(shape: tuple[int, int], nsub: int, columns: int = GRID_COLUMNS) -> None:
    """A ValueError naming ``shape`` and ``nsub`` when the image's supersampled grid is over
    :data:`MAX_GRID^2` points (a shape of 10^6 asked numpy for terabytes, or swapped the machine), or over
    :func:`max_points` for a model of more ``columns`` (a 60-Gaussian MGE at the bound took ~27 GB)."""
    points = shape[0] * nsub * shape[1] * nsub
    if columns > GRID_COLUMNS and points <= MAX_GRID**2 and not grid_fits(shape, nsub, columns):
        raise ConfigValueError(f"shape {shape} at nsub {nsub} is too large for a model of {columns} light columns (one per "
                               f"amplitude: each of an MGE's Gaussians is one): the image is simulated on ({shape[0]} x {nsub}) "
                               f"x ({shape[1]} x {nsub}) = {points:.3g} points, over the {max_points(columns):.3g} allowed "
                               f"for {columns} columns (about 4 GB of memory); lower shape, nsub or the number of Gaussians")
    if not grid_fits(shape, nsub):
        raise ConfigValueError(f"shape {shape} at nsub {nsub} is too large: the image is simulated on ({shape[0]} x {nsub}) x "
                               f"({shape[1]} x {nsub}) = {points:.3g} points, over the {MAX_GRID} x {MAX_GRID} (about 4 GB "
                               "of memory) allowed; lower shape or nsub")


def _check_in_range(spec: ModelSpec, dtype: Any, sources: Mapping[tuple[str, int, str], str] | None = None) -> None:
    """A ValueError naming the first parameter of ``spec`` whose size overflows ``dtype`` when the
    image is computed in it (a centre_x of 1e300 gave an image of NaN in float32, without a word),
    where ``sources`` (:func:`_spec_from_truth`'s) says it was given."""
    largest = float(np.finfo(dtype).max)
    for comp in (*spec.lens_mass, *spec.lens_light, *spec.source_light):
        for name, ref in comp.params.items():
            if abs(ref.value) > largest:
                said = (sources or {}).get((comp.list_name, comp.idx, name),
                                           f"truth['{comp.list_name}'][{comp.idx}]['{name}']")
                raise ConfigValueError(f"{said} is {ref.value:g}, beyond the "
                                       f"{largest:.3g} a {np.dtype(dtype).name} holds (the precision the image is "
                                       "computed in: tinylens.precision)")


def _ndim(value: Any) -> int:
    """How many axes ``value`` has as an array (0 for a number, a set or None); -1 for a ragged list."""
    try:
        return np.ndim(value)
    except ValueError:  # numpy's 'inhomogeneous shape'
        return -1


def _check_finite(values: np.ndarray, name: str) -> None:
    """A ConfigValueError naming ``name`` and how many of its pixels are NaN or infinite, where any is."""
    bad = int((~np.isfinite(values)).sum())
    if bad:
        raise ConfigValueError(f"{name} has {counted(bad, 'NaN or infinite pixel')}; every pixel must be finite")


def _kernel(psf: Any) -> np.ndarray:
    """``psf`` as a float array divided by its sum, else a ValueError: not numbers in rows of one
    length ('abc' or a ragged list gave numpy's own message), not 2-D and odd-sized, a pixel not
    finite, or a sum not positive (each made every pixel of the image NaN or infinite)."""
    try:
        psf = np.asarray(psf, dtype=float)
    except (TypeError, ValueError):
        raise ConfigValueError(f"psf must be a 2-D odd-sized kernel of numbers, got {reprlib.repr(psf)}") from None
    if psf.ndim != 2 or psf.shape[0] % 2 == 0 or psf.shape[1] % 2 == 0:
        raise ConfigValueError(f"psf must be a 2-D odd-sized kernel, got shape {psf.shape}")
    _check_finite(psf, "psf")
    if not psf.sum() > 0:
        raise ConfigValueError(f"psf sums to {psf.sum():.6g}; its pixels must sum to a positive number (ideally 1)")
    return psf / psf.sum()


def simulate_images(
    config_or_components: Any,
    truth: Mapping[str, Sequence[Mapping[str, float]]],
    shape: tuple[int, int],
    pixel_scale: float,
    psf: np.ndarray,
    nsub: int = 8,
    amplitudes: Mapping[str, Any] | None = None,
    dtype: Any = None,
) -> dict[str, np.ndarray]:
    """Noise-free images ``total``, ``lens_light`` and ``lensed_source`` (PSF-convolved).

    ``psf`` must be odd-sized and finite, with a positive sum; it is normalised to unit sum here.
    ``shape`` is (rows, columns), ``pixel_scale`` (arcsec) > 0, ``nsub`` a whole number >= 1, the
    supersampled grid at most ``MAX_GRID x MAX_GRID`` points (:data:`MAX_GRID`, memory; fewer, :func:`max_points`,
    for a model of over :data:`GRID_COLUMNS` amplitudes, such as an MGE of many Gaussians), and the
    pixels' coordinates and ``truth``'s values within ``dtype``'s range (pixel_scale x the larger side); a
    ValueError (:class:`~tinylens.errors.ConfigValueError`) names an argument that is not. Computed in ``dtype``, by
    default tinylens's precision (:mod:`tinylens.precision`: float32, relative error ~1e-6,
    unless ``set_precision("float64")``); float64 while JAX's x64 is off is a ConfigError.
    """
    spec, amps, sources = _spec_from_truth(config_or_components, truth, amplitudes)
    psf = _kernel(psf)
    shape, pixel_scale, nsub = _shape(shape), _positive(pixel_scale, "pixel_scale"), _whole(nsub, "nsub")
    _check_grid(shape, nsub, len(column_owner(spec)))
    dtype = chosen_dtype(dtype)
    if problem := coordinates_problem(pixel_scale, shape, dtype):
        raise ConfigValueError(problem)
    _check_in_range(spec, dtype, sources)
    grid = point_grid(uniform_groups(shape, pixel_scale, nsub), shape, dtype)
    kernel = kernel_fft(np.asarray(psf, dtype=dtype), shape)
    cols = np.asarray(blurred_columns(spec, jnp.zeros((0,), dtype), grid, kernel), dtype=float)
    owners = column_owner(spec)
    k = len(owners)
    lens_labels = {c.label for c in spec.lens_light}
    is_lens = np.array([o in lens_labels for o in owners], dtype=bool)
    lin = cols[..., :k]
    with np.errstate(over="ignore", invalid="ignore"):  # amplitudes that overflow: refused below, by name
        lens = lin[..., is_lens] @ amps[is_lens] if is_lens.any() else np.zeros(shape)
        src = lin[..., ~is_lens] @ amps[~is_lens] if (~is_lens).any() else np.zeros(shape)
        images = {"total": lens + src, "lens_light": lens, "lensed_source": src}
    if np.all(np.isfinite(lin)):
        _check_overflow(images, owners, amps)
    return images


def _check_overflow(images: Mapping[str, np.ndarray], owners: Sequence[str], amps: np.ndarray) -> None:
    """A ValueError naming the largest amplitude where the images of finite unit-amplitude columns
    overflow a float64 (an Ie of 1e308 gave an image of inf with numpy's 'overflow encountered')."""
    bad = int((~np.isfinite(images["total"])).sum())
    if not bad:
        return
    i = int(np.argmax(np.abs(amps)))
    raise ConfigValueError(f"the amplitudes make {counted(bad, 'pixel')} of the image overflow a float64 (inf or NaN): "
                           f"the largest, {amps[i]:g} for '{owners[i]}' (its Ie, amp or amplitudes[{owners[i]!r}]), is "
                           "too large")


def simulate_image(
    config_or_components: Any,
    truth: Mapping[str, Sequence[Mapping[str, float]]],
    shape: tuple[int, int],
    pixel_scale: float,
    psf: np.ndarray,
    nsub: int = 8,
    amplitudes: Mapping[str, Any] | None = None,
    dtype: Any = None,
) -> np.ndarray:
    """Noise-free, PSF-convolved image of the components with parameters ``truth``.

    ``config_or_components``: a ``model_components`` mapping whose lists hold profile names or
    TinyLensGpu component entries (only ``type``, ``settings`` and numeric fixed values are
    read), or a whole config dict. ``truth``: per list (``lens_mass``, ``lens_light``,
    ``source_light``, with or without ``_list``) one dict of parameter values per component.
    ``dtype``: as in :func:`simulate_images`.
    """
    return simulate_images(config_or_components, truth, shape, pixel_scale, psf, nsub, amplitudes, dtype)["total"]


# -- noise ------------------------------------------------------------------------------------
def _generator(rng: Any) -> np.random.Generator:
    """``rng`` as a numpy Generator (a Generator, a non-negative integer seed, a SeedSequence or
    None), else a ValueError naming it: numpy's own said 'expected non-negative integer'."""
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise ConfigValueError(f"rng must be a numpy Generator, a non-negative integer seed or None, got {rng!r}") from None


def _image(image: Any) -> np.ndarray:
    """``image`` as a float array, else a ValueError naming it: not numbers in rows of one length
    ('abc' or a ragged list gave numpy's own message, None an image of one NaN pixel), or a pixel not finite."""
    if image is None or isinstance(image, (str, bytes)):
        raise ConfigValueError(f"image must be an array of numbers (counts per second), got {reprlib.repr(image)}")
    try:
        image = np.asarray(image, dtype=float)
    except (TypeError, ValueError):
        raise ConfigValueError(f"image must be an array of numbers (counts per second), got {reprlib.repr(image)}") from None
    _check_finite(image, "image")
    return image


def add_noise(
    image: np.ndarray,
    sky_sigma: float,
    exposure_time: float | None = None,
    gain: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Add sky (Gaussian) and source (Poisson) noise; return ``(noisy, noise_map)``.

    ``image`` is in counts per second (background-subtracted), ``sky_sigma`` the background
    noise in the same units. With ``exposure_time`` (s), the source light is Poisson-sampled in
    ``image * exposure_time * gain`` electrons (``gain`` in e-/count); ``None`` skips Poisson
    noise. The noise map is the true 1-sigma per pixel:
    ``sqrt(sky_sigma^2 + max(image, 0) / (exposure_time * gain))``. A ValueError
    (:class:`~tinylens.errors.ConfigValueError`) names an argument that is out of range (a NaN pixel, a negative seed, an exposure_time of 0 or of 1e-300, an exposure_time * gain over a float64's range, a sky_sigma over
    :data:`MAX_SKY_SIGMA`).
    """
    rng = _generator(rng)
    image = _image(image)
    if isinstance(sky_sigma, bool) or not (np.isfinite(_number(sky_sigma)) and _number(sky_sigma) >= 0):
        raise ConfigValueError(f"sky_sigma must be a finite number >= 0, got {sky_sigma!r}")
    sky_sigma = float(sky_sigma)
    if problem := sky_sigma_problem(sky_sigma):
        raise ConfigValueError(problem)
    var = np.full(image.shape, sky_sigma ** 2)
    noisy = image + rng.normal(0.0, 1.0, image.shape) * sky_sigma
    if exposure_time is not None:
        scale = _positive(exposure_time, "exposure_time") * _positive(gain, "gain")
        if not np.isfinite(scale):  # 0 x inf electrons was NaN, said as an exposure 'too small'
            raise ConfigValueError(f"exposure_time * gain = {exposure_time!r} * {gain!r} overflows a float64: is "
                                   "exposure_time in seconds, and gain in e-/count?")
        electrons = np.clip(image, 0.0, None) * scale
        if electrons.size and electrons.max() > MAX_ELECTRONS:
            raise ConfigValueError(f"image * exposure_time * gain reaches {electrons.max():.3g} electrons in a pixel, "
                                   f"over the {MAX_ELECTRONS:g} a Poisson draw takes: is the image in counts per second, and "
                                   "exposure_time in seconds?")
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            poisson_var = electrons / scale**2  # (image / scale): inf, or NaN, where scale**2 underflows to 0
        if not np.all(np.isfinite(poisson_var)):
            raise ConfigValueError(f"exposure_time * gain = {exposure_time!r} * {gain!r} is too small for this image: the "
                                   "Poisson variance, max(image, 0) / (exposure_time * gain), overflows a float64; is the "
                                   "image in counts per second, and exposure_time in seconds?")
        noisy = noisy + (rng.poisson(electrons) - electrons) / scale
        var = var + poisson_var
    noise = np.sqrt(var)
    if not np.all(noise > 0):
        raise ConfigValueError("noise map has zero pixels: give sky_sigma > 0")
    return noisy, noise


# -- PSFs -------------------------------------------------------------------------------------
def _check_size(size: Any) -> int:
    """``size`` as an int when it is a positive odd whole number, else a ValueError naming it
    (``int()`` took 2.5 as 2, and 'abc' gave int()'s own message)."""
    if not is_whole(size) or int(size) < 1 or int(size) % 2 == 0:
        raise ConfigValueError(f"PSF size must be a positive odd number of pixels, got {size!r}")
    return int(size)


def _check_psf_grid(size: int, oversample: int = 1) -> None:
    """A ValueError naming ``size`` (and ``oversample``) when the PSF's grid, ``size x oversample``
    points a side, is over :data:`MAX_GRID` (a size of 10^6 + 1 asked numpy for terabytes): an odd
    ``size`` over :func:`largest_psf_size`, the bound simulate-population checks."""
    if oversample > 1 and size > largest_psf_size(oversample):
        raise ConfigValueError(f"PSF size x oversample must be <= {MAX_GRID}, got {size} x {oversample} = {size * oversample}: "
                               f"the PSF is built on (size x oversample)^2 points (memory); lower size or oversample")
    if size > largest_psf_size(1):
        raise ConfigValueError(f"PSF size must be <= {largest_psf_size(1)} pixels, got {size}: the PSF is built on size^2 "
                               f"points, at most {MAX_GRID} on a side (memory)")


def _check_widths(fwhm: Any, pixel_scale: Any) -> tuple[float, float]:
    """``fwhm`` and ``pixel_scale`` as floats when both are finite and > 0, else a ValueError naming
    the one that is not (a width of 0 or nan gave a PSF of NaN, a negative one a PSF without a word)."""
    return _positive(fwhm, "fwhm"), _positive(pixel_scale, "pixel_scale")


def _unit_sum(psf: np.ndarray, fwhm: float, pixel_scale: float) -> np.ndarray:
    """``psf`` divided by its sum, else a ValueError naming ``fwhm`` and ``pixel_scale`` where every
    pixel's share under- or overflowed (a sum of 0 or inf: a PSF of NaN was returned without a word)."""
    total = psf.sum()
    if not (np.isfinite(total) and total > 0):
        with np.errstate(over="ignore"):
            width = fwhm / pixel_scale
        raise ConfigValueError(f"fwhm {fwhm:g} at pixel_scale {pixel_scale:g} is a PSF {width:.3g} pixels wide, too "
                               "wide or too narrow to be computed over pixels (every pixel's share under- or overflows); "
                               "fwhm and pixel_scale are in arcsec (CSST: 0.15 and 0.074)")
    return psf / total


def gaussian_psf(fwhm: float, pixel_scale: float, size: int) -> np.ndarray:
    """Odd-sized, centred, unit-sum Gaussian PSF integrated over each pixel; ``fwhm`` in arcsec
    (``fwhm`` and ``pixel_scale`` > 0, ``size`` odd and at most :data:`MAX_GRID`, else a ValueError naming it)."""
    size = _check_size(size)
    fwhm, pixel_scale = _check_widths(fwhm, pixel_scale)
    _check_psf_grid(size)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # a width of 0 or inf: _unit_sum refuses it
        sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0))) / pixel_scale  # in pixels
        half = size // 2
        edges = np.arange(-half, 0) - 0.5  # left edges of the pixels left of the centre, all < 0
        left = np.diff(special.ndtr(np.append(edges, -0.5) / sigma))  # lower tail: no cancellation
        centre = 1.0 - 2.0 * special.ndtr(-0.5 / sigma)
        p = np.concatenate([left, [centre], left[::-1]])
        psf = np.outer(p, p)
    return _unit_sum(psf, fwhm, pixel_scale)


def moffat_psf(fwhm: float, pixel_scale: float, size: int, beta: float = 3.0, oversample: int = 11) -> np.ndarray:
    """Odd-sized, centred, unit-sum Moffat PSF ``(1 + (r/alpha)^2)^-beta`` averaged over each
    pixel (``oversample^2`` points per pixel); ``fwhm`` in arcsec (``fwhm`` and ``pixel_scale``
    > 0, ``size`` odd, ``beta`` > 1 and <= :data:`MAX_MOFFAT_BETA`, ``oversample`` a whole number >= 1, ``size x oversample`` at most
    :data:`MAX_GRID`, else a ValueError naming it)."""
    size = _check_size(size)
    fwhm, pixel_scale = _check_widths(fwhm, pixel_scale)
    oversample = _whole(oversample, "oversample")
    _check_psf_grid(size, oversample)
    if isinstance(beta, bool) or not (np.isfinite(_number(beta)) and _number(beta) > 1):
        raise ConfigValueError(f"Moffat beta must be a finite number > 1, got {beta!r}")
    beta = float(beta)
    if problem := moffat_beta_problem(beta):
        raise ConfigValueError(problem)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # a width of 0 or inf: _unit_sum refuses it
        alpha = fwhm / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0)) / pixel_scale  # in pixels
        n = size * oversample
        r1 = (np.arange(n) + 0.5) / oversample - size / 2.0
        xx, yy = np.meshgrid(r1, r1)
        fine = (1.0 + (xx**2 + yy**2) / alpha**2) ** (-beta)
        psf = fine.reshape(size, oversample, size, oversample).mean(axis=(1, 3))
    return _unit_sum(psf, fwhm, pixel_scale)
