"""A lens-modelling problem: data, model and priors behind one small API.

>>> problem = tinylens.load("model_config.yaml")
>>> theta = problem.prior_transform(np.full(problem.ndim, 0.5))
>>> problem.log_likelihood(theta)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from tinylens import likelihood as lk
from tinylens.config import Config
from tinylens.config.loader import as_path, check_folder_argument, home_expanded, read_config_first  # noqa: F401 (check_folder_argument: also imported from here)
from tinylens.config.model_spec import ModelSpec, build_model_spec, spec_of_config
from tinylens.data import Dataset, load_dataset
from tinylens.data.dataset import check_used_pixels, same_value
from tinylens.data.value_range import check_bad_data_values, check_float32_range
from tinylens.errors import ConfigValueError, ParameterError, counted, listed
from tinylens.forward import blurred_columns, column_owner, component_values, amplitude_value, _light
from tinylens.numerics.adaptive import groups_from_map, nsub_map
from tinylens.numerics.convolution import kernel_fft
from tinylens.numerics.grid import pixel_coordinates, point_grid, uniform_groups
from tinylens.compilation import enable_persistent_cache
from tinylens.precision import check_dtype, chosen_dtype, get_dtype
from tinylens.priors import log_prior, prior_transform

#: Largest number of ray-traced points evaluated at once (batch x sub-pixels), to bound memory.
MAX_POINTS_PER_CALL = 2**22
#: The most supersampled points one model image may have (a few GB while the grid is built).
MAX_SUPERSAMPLED_POINTS = 2**25


def _same_source(built: tuple, now: tuple) -> bool:
    """Whether an imaging built from ``built`` (:meth:`Problem._imaging_source`, then the imaging) is
    that of ``now``: the same dataset object (its arrays are read-only), an equal dtype and supersampling."""
    return built[0] is now[0] and built[1] == now[1] and built[2] == now[2]


def imaging_precisions(imaging: lk.Imaging) -> set[str]:
    """The precisions of ``imaging``'s arrays (``{"float32"}``): each float array's dtype, each
    complex one's (the PSF's transform) that of its real part."""
    leaves = (a for a in jax.tree.leaves(imaging) if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.inexact))
    return {np.finfo(a.dtype).dtype.name for a in leaves}


def _chunks(n: int, max_chunk: int, pad_to: int) -> list[int]:
    """Split a batch of ``n`` into power-of-two chunk sizes (at most ``max_chunk``).

    Only power-of-two shapes are ever compiled, so a fit compiles a handful of shapes and
    never recompiles; the remainder below ``pad_to`` is padded up to one chunk of ``pad_to``.
    """
    sizes = [max_chunk] * (n // max_chunk)
    rest = n % max_chunk
    bit = max_chunk >> 1
    while rest >= pad_to and bit >= pad_to:
        if rest >= bit:
            sizes.append(bit)
            rest -= bit
        bit >>= 1
    if rest:
        sizes.append(pad_to)
    return sizes


@dataclass
class Problem:
    """Data + model + priors. Build with :func:`tinylens.load`.

    ``dtype`` is the precision the problem computes in (:mod:`tinylens.precision`); what its
    methods return is float64 numpy (arrays, or Python floats) in either precision, the values
    of a float32 problem being its float32 results widened. A copy by ``dataclasses.replace`` with
    another ``dataset``, ``dtype`` or supersampling (``config.dataset.supersampling``) builds its
    own :attr:`imaging` from them; one with only another ``spec`` keeps it (as :meth:`derive`). An
    ``imaging`` given is of the problem's ``dtype``, else a ConfigValueError.
    One with a ``config`` of other ``model_components`` (or ``dataset`` keys) builds its ``spec``
    (reads its ``dataset``, from ``base_dir``) from them, unless it is given a ``spec`` (``dataset``) too.
    """

    config: Config
    base_dir: Path
    dataset: Dataset
    spec: ModelSpec
    dtype: Any = field(default_factory=get_dtype)
    imaging: lk.Imaging | None = None
    #: What :attr:`imaging` was built from (:meth:`_imaging_source`) and that imaging, which
    #: ``dataclasses.replace`` carries over with it: the imaging of other data is not kept, unless
    #: the copy is given one (it is not the one carried over).
    _built_from: tuple | None = field(default=None, repr=False, compare=False)
    #: The spec and dataset the problem was made with and the config's sections they stand for
    #: (:meth:`_config_sources`), carried over by ``dataclasses.replace`` as :attr:`_built_from` is.
    _made_from: tuple | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._follow_config()
        source = self._imaging_source()
        check_dtype(self.dtype)  # where an imaging is given too
        carried = self._built_from is not None and self.imaging is self._built_from[3]
        if carried and not _same_source(self._built_from, source):
            self.imaging = None  # carried over by dataclasses.replace from another dataset, dtype or supersampling
        if self.imaging is None:
            d = self.dataset
            check_used_pixels(d)
            check_bad_data_values(d)
            if jnp.dtype(self.dtype) == jnp.float32:
                check_float32_range(d)
            self.imaging = lk.make_imaging(d.data, d.noise, d.psf, d.mask, d.pixel_scale, d.nsub, self.dtype,
                                           self._groups(lk.evaluated_pixels(d.mask, d.psf.shape)))
        self._check_imaging_dtype()
        self._built_from = (*source, self.imaging)
        self._compile()

    def _check_imaging_dtype(self) -> None:
        """Refuse an :attr:`imaging` given in another precision than :attr:`dtype` (its arrays are
        not cast: a float32 imaging cast to float64 would hold float32's rounding), as a ConfigValueError."""
        want = np.dtype(self.dtype).name
        found = imaging_precisions(self.imaging) - {want}
        if found:
            raise ConfigValueError(
                f"imaging: it holds {' and '.join(sorted(found))} arrays, but the problem's dtype is {want}: it would "
                f"compute in a mix of both. Make the imaging in {want} (tinylens.likelihood.make_imaging(..., "
                "dtype=problem.dtype)), or give its precision with it: dataclasses.replace(problem, dtype=..., "
                "imaging=...).")

    def _config_sources(self) -> tuple[Any, dict[str, Any]]:
        """The config's sections that :attr:`spec` and :attr:`dataset` are loaded from: its
        ``model_components``, and its ``dataset`` keys but the supersampling (that of :attr:`imaging`)."""
        return self.config.model_components, self.config.dataset.model_dump(exclude={"supersampling"})

    def _follow_config(self) -> None:
        """Where ``dataclasses.replace`` gave another ``config`` and carried over the ``spec`` (the
        ``dataset``) made from the old one's other ``model_components`` (``dataset`` keys), build
        them from the new config, as :func:`load` does: their likelihood would be that of the old."""
        components, section = self._config_sources()
        if self._made_from is not None:
            spec, dataset, old_components, old_section = self._made_from
            if self.spec is spec and components != old_components:
                self.spec = build_model_spec(components)
            if self.dataset is dataset and section != old_section:
                self.dataset = load_dataset(self.config.dataset, self.base_dir, "problem.base_dir",
                                            survey_hint=False)
        self._made_from = (self.spec, self.dataset, components, section)

    #: The fields that a built problem's imaging, compiled likelihood and caches are made from.
    _BUILT_FROM_FIELDS = frozenset({"config", "dataset", "spec", "dtype", "imaging"})

    def __setattr__(self, name: str, value: Any) -> None:
        """Refuse to set a field that what the problem precomputed is made from, once built (its
        likelihood would still be that of the old value): a new problem is made by ``dataclasses.replace``."""
        if name in self._BUILT_FROM_FIELDS and "_batch" in self.__dict__:
            raise AttributeError(
                f"problem.{name} cannot be set on a built problem: its imaging and compiled likelihood were made from "
                f"the {name} it has, and would be kept. Make a new problem with it instead: "
                f"dataclasses.replace(problem, {name}=...)" + (" or problem.derive(spec=...)." if name == "spec" else ".")
            )
        super().__setattr__(name, value)

    def _imaging_source(self) -> tuple[Dataset, Any, Any]:
        """What :attr:`imaging` is built from: the dataset, the dtype and the supersampling."""
        return self.dataset, self.dtype, self.config.dataset.supersampling

    def _compile(self) -> None:
        """The batch sizes for this machine's backend and the jitted likelihood and solver."""
        self.solver = self.config.solver_type
        spec, solver = self.spec, self.solver
        self.max_chunk = max(1, 1 << int(np.log2(max(1, MAX_POINTS_PER_CALL // max(self.imaging.grid.n_points, 1)))))
        # On a CPU, evaluating a batch one vector at a time inside one compiled loop keeps the
        # working set in cache and is faster than vmap; accelerators want the vmapped batch.
        on_cpu = jax.default_backend() == "cpu"
        vmap_size = 1 if on_cpu else self.max_chunk
        # CPU: split batches into power-of-two chunks (no padding waste); accelerators: one
        # padded power-of-two batch, as wide as memory allows.
        self.max_chunk = min(self.max_chunk, 256) if on_cpu else self.max_chunk
        self.min_chunk = min(8, self.max_chunk) if on_cpu else self.max_chunk

        # The compiled functions take the imaging as an argument (not as constants), so problems
        # with equal shapes share their compilation (JAX's persistent cache, see tinylens.compilation).
        def batch(tb, im):
            one = lambda t: lk.log_likelihood(spec, im, t, solver)
            # batch_size=None is a plain loop (no vmap inside), so lax.cond branches stay branches.
            return jax.lax.map(one, tb, batch_size=None if vmap_size == 1 else min(vmap_size, tb.shape[0]))

        self._batch = jax.jit(batch)
        self._solve = jax.jit(lambda t, im: lk.solve(spec, im, t, solver))

    def __repr__(self) -> str:
        """One line for a notebook: the free parameters, the data and the precision (the
        dataclass's own repr printed the config and every array)."""
        ny, nx = self.dataset.data.shape
        names = f": {listed(self.param_names)}" if self.param_names else ""  # all fixed: a likelihood to evaluate
        return (f"Problem({self.ndim} free parameters{names}; data {ny} x {nx} pixels of "
                f"{self.dataset.pixel_scale:g}\"; {self.precision}; base_dir={str(self.base_dir)!r})")

    def __eq__(self, other: object) -> bool:
        """Whether ``other`` is a problem of the same config, base folder, data, model, precision
        and imaging (its arrays equal), so that ``problem in problems`` works: the dataclass's own
        comparison raised numpy's "truth value of an array ... is ambiguous" for two loads of one config."""
        if not isinstance(other, Problem):
            return NotImplemented
        if (self.config, Path(self.base_dir), self.dataset, self.spec, np.dtype(self.dtype)) != \
                (other.config, Path(other.base_dir), other.dataset, other.spec, np.dtype(other.dtype)):
            return False
        mine, theirs = jax.tree.flatten(self.imaging), jax.tree.flatten(other.imaging)
        return mine[1] == theirs[1] and all(map(same_value, mine[0], theirs[0]))

    #: Compiled functions and caches of a problem, rebuilt after pickling (multiprocessing).
    _UNPICKLED = ("_batch", "_solve", "_images", "_full")

    def __getstate__(self) -> dict[str, Any]:
        """Without the compiled functions (local closures: not picklable) and with the imaging's
        arrays as numpy ones, so that a problem (or its bound methods) can go to other processes."""
        state = {k: v for k, v in self.__dict__.items() if k not in self._UNPICKLED}
        state["imaging"] = jax.tree.map(lambda a: np.asarray(a) if isinstance(a, jax.Array) else a, self.imaging)
        state["_built_from"] = self._built_from[:3]  # its imaging is the one above, restored by __setstate__
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A problem whose arrays are float64 needs x64: turn it on (as tinylens.precision does).
        if np.asarray(state["imaging"].data).dtype == np.float64 and not jax.config.jax_enable_x64:
            jax.config.update("jax_enable_x64", True)
        self.__dict__.update(state)
        self.imaging = jax.tree.map(lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a, self.imaging)
        self._built_from = (*self._built_from[:3], self.imaging)
        self._compile()

    def _groups(self, select: np.ndarray | None = None):
        """Pixel groups of the supersampling (``select``: the pixels evaluated; default all)."""
        d = self.dataset
        self._check_points(select)
        if np.isscalar(self.nsub_map):
            return uniform_groups(d.data.shape, d.pixel_scale, self.nsub_map, select)
        return groups_from_map(self.nsub_map, d.pixel_scale, select)

    def _check_points(self, select: np.ndarray | None) -> None:
        """Refuse a supersampling that would not fit in memory, before any grid is built: a
        ConfigValueError naming the config's key (its factors are too large for the image)."""
        factors = np.broadcast_to(np.asarray(self.nsub_map, dtype=np.int64), self.dataset.data.shape)
        if select is not None:
            factors = factors[select]
        n_points = int(np.sum(factors**2))
        if n_points <= MAX_SUPERSAMPLED_POINTS:
            return
        ss = self.config.dataset.supersampling
        if ss.mode == "uniform":
            key = "dataset.supersampling.nsub" if ss.nsub else "dataset.nsub"
            what = f"{self.nsub_map} per axis (uniform supersampling)"
        else:
            key, what = "dataset.supersampling.levels", f"{ss.levels} (adaptive supersampling)"
        raise ConfigValueError(
            f"{key}: {what} makes {n_points:,} supersampled points for {factors.size:,} pixels, more than the "
            f"{MAX_SUPERSAMPLED_POINTS:,} a model image may have (it would not fit in memory). Use smaller "
            "factors, a mask, or a smaller cut-out of the image."
        )

    @cached_property
    def nsub_map(self) -> np.ndarray | int:
        """Supersampling factor per pixel (adaptive) or one integer (uniform)."""
        d = self.dataset
        ss = self.config.dataset.supersampling
        if ss.mode == "uniform":
            return int(ss.nsub or d.nsub)
        return nsub_map(d.data, d.noise, d.mask, tuple(ss.levels), ss.tolerance)

    def derive(self, *, spec: ModelSpec | None = None, imaging: lk.Imaging | None = None) -> Problem:
        """A problem on the same data with another model ``spec`` (e.g. components removed, other
        priors) or ``imaging`` (e.g. other pixel weights); the pipeline's stages are built so."""
        return dataclasses.replace(self, spec=spec or self.spec, imaging=imaging or self.imaging)

    # -- parameters -------------------------------------------------------------------------
    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the free non-linear parameters, e.g. ``lens_mass.0.theta_E``."""
        return self.spec.param_names

    @property
    def ndim(self) -> int:
        """The number of free parameters: the length of a parameter vector ``theta``."""
        return len(self.spec.param_names)

    @property
    def priors(self):
        """The prior of each free parameter (:class:`tinylens.priors.Prior`), in :attr:`param_names`'s order."""
        return self.spec.priors

    @property
    def precision(self) -> str:
        """``"float32"`` or ``"float64"``: what the problem computes in."""
        return np.dtype(self.imaging.data.dtype).name

    def _expected(self, what: str, batch: bool) -> str:
        shapes = "(n,) or a batch (B, n)" if batch else "(n,)"
        return (f"{what} of shape {shapes} with n = {self.ndim}, the free parameters "
                f"({listed(self.param_names)}, in this order)")

    def vector(self, theta: Any, batch: bool = True, what: str = "theta") -> np.ndarray:
        """``theta`` as a float array of shape ``(n,)`` (or ``(B, n)`` where ``batch``), else a
        :class:`~tinylens.errors.ParameterError` that names the shape and the parameters."""
        expected = self._expected(what, batch)
        if isinstance(theta, Mapping):  # a fit's values (result.median, ...) are by name
            raise ParameterError(f"expected {expected}; got a mapping by parameter name; give its values in the order "
                                 f"of problem.param_names: [{what}[name] for name in problem.param_names]")
        try:
            array = np.asarray(theta, dtype=float)
        except jax.errors.TracerArrayConversionError:  # a TypeError too, whose message named the shape it has
            raise ParameterError(
                f"{what} is traced by JAX (jax.jit, grad or vmap), where problem.log_likelihood, log_prior, "
                "prior_transform, amplitudes, model_image and params_dict cannot go: they take numpy values. Under "
                "JAX use problem.log_likelihood_jax(theta), the likelihood of one vector in pure JAX."
            ) from None
        except (TypeError, ValueError):
            raise ParameterError(f"expected {expected}; got {type(theta).__name__} {theta!r:.60}") from None
        if array.ndim not in ((1, 2) if batch else (1,)) or array.shape[-1] != self.ndim:
            raise ParameterError(f"expected {expected}; got shape {array.shape}")
        return array

    def prior_transform(self, u: np.ndarray) -> np.ndarray:
        """Unit cube to parameters, ``(n,)`` or ``(B, n)``; a ParameterError for u outside [0, 1]."""
        u = self.vector(u, what="u")
        outside = ~((u >= 0.0) & (u <= 1.0))  # NaN too
        if outside.any():
            where = np.argwhere(outside)[0]
            raise ParameterError(f"u must lie in the unit cube [0, 1]; got {float(u[tuple(where)])} for "
                                 f"{self.param_names[where[-1]]} ({counted(int(outside.sum()), 'value')} outside).")
        return prior_transform(self.spec.priors, u)

    def log_prior(self, theta: np.ndarray) -> np.ndarray:
        """Sum of the priors' log densities for ``(n,)`` (a float) or a batch ``(B, n)`` (an array
        ``(B,)``); ``-inf`` outside a prior's support or ``limits``."""
        return log_prior(self.spec.priors, self.vector(theta))

    # -- likelihood -------------------------------------------------------------------------
    def log_likelihood(self, theta: np.ndarray) -> np.ndarray | float:
        """Eq. 5 for ``(n,)`` (a float) or a batch ``(B, n)`` (an array ``(B,)``)."""
        theta = self.vector(theta)
        if theta.ndim == 1:
            return float(self.log_likelihood(theta[None, :])[0])
        b = theta.shape[0]
        out = np.empty(b)
        start = 0
        for size in _chunks(b, self.max_chunk, pad_to=self.min_chunk):
            part = theta[start : start + size]
            n = part.shape[0]
            if n < size:  # pad with copies of the last row; results beyond n are dropped
                part = np.concatenate([part, np.repeat(part[-1:], size - n, axis=0)])
            out[start : start + n] = np.asarray(self._batch(jnp.asarray(part, self.dtype), self.imaging))[:n]
            start += n
        return out

    def log_likelihood_jax(self, theta: jnp.ndarray) -> jnp.ndarray:
        """Pure JAX eq. 5 for one vector: differentiable, for use under jit/vmap/grad. A vector
        of another length is a ParameterError (JAX would clamp the missing indices silently).
        Computed in the problem's dtype, whatever ``theta``'s (its gradient has ``theta``'s), and
        returned as a JAX scalar of that dtype."""
        theta = jnp.asarray(theta)
        if theta.shape != (self.ndim,):
            raise ParameterError(f"expected {self._expected('theta', batch=False)}; got shape {theta.shape} "
                                 "(under vmap: the shape of one vector)")
        return lk.log_likelihood(self.spec, self.imaging, theta.astype(self.imaging.data.dtype), self.solver)

    # -- images -----------------------------------------------------------------------------
    @cached_property
    def _full(self) -> lk.Imaging:
        """The imaging with every pixel evaluated (for model images)."""
        shape = self.dataset.data.shape
        grid = point_grid(self._groups(), shape, self.dtype)
        kernel = kernel_fft(np.asarray(self.dataset.psf, self.dtype), shape)
        return dataclasses.replace(self.imaging, grid=grid, kernel=kernel, crop=(0, shape[0], 0, shape[1]))

    def amplitudes(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Amplitudes of each light component (solved, sampled or fixed), by label: float64 arrays,
        as :meth:`model_image`'s images, in either precision."""
        t = jnp.asarray(self.vector(theta, batch=False), self.dtype)
        fit = self._solve(t, self.imaging)
        owners = column_owner(self.spec)
        amps = np.asarray(fit.amplitudes, dtype=float)
        out: dict[str, np.ndarray] = {}
        for comp in self.spec.light:
            if comp.linear:
                out[comp.label] = amps[[i for i, o in enumerate(owners) if o == comp.label]]
            else:
                out[comp.label] = np.atleast_1d(np.asarray(amplitude_value(comp, t), dtype=float))
        return out

    def source_grid(self, shape: tuple[int, int] | None = None):
        """Source-plane pixel centres: the image's grid at half the pixel size."""
        d = self.dataset
        shape = shape or d.data.shape
        return pixel_coordinates(shape, d.pixel_scale / 2.0)

    def model_image(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Images for ``theta``: ``total``, ``lens_light``, ``lensed_source`` (PSF-convolved,
        amplitudes solved) and ``source_plane`` (unlensed source on :meth:`source_grid`)."""
        xs, ys = self.source_grid()
        planes = self._images(jnp.asarray(self.vector(theta, batch=False), self.dtype), self.imaging, self._full,
                              jnp.asarray(xs, self.dtype), jnp.asarray(ys, self.dtype))
        return {k: np.asarray(v, dtype=float) for k, v in planes.items()}

    @cached_property
    def _images(self):
        """The jitted body of :meth:`model_image` (compiled on first use)."""
        spec = self.spec
        owners = column_owner(spec)
        lens_labels = {c.label for c in spec.lens_light}
        is_lens = np.array([o in lens_labels for o in owners], dtype=bool)
        k = len(owners)

        def images(t, imaging, full, xs, ys):
            a = lk.solve(spec, imaging, t, self.solver).amplitudes
            cols = blurred_columns(spec, t, full.grid, full.kernel)
            lens = cols[..., :k][..., is_lens] @ a[is_lens] + cols[..., k]
            src = cols[..., :k][..., ~is_lens] @ a[~is_lens] + cols[..., k + 1]
            if spec.source_light:
                lin, fixed = _light(spec.source_light, t, xs, ys)
                plane = lin @ a[~is_lens] + fixed
            else:
                plane = jnp.zeros_like(xs)
            return {"total": lens + src, "lens_light": lens, "lensed_source": src, "source_plane": plane}

        return jax.jit(images)

    def params_dict(self, theta: np.ndarray) -> dict[str, dict[str, float]]:
        """All parameter values (free, fixed and linked) of every component, by label."""
        t = jnp.asarray(self.vector(theta, batch=False), self.dtype)
        out = {}
        for comp in self.spec.lens_mass + self.spec.light:
            out[comp.label] = {k: float(v) for k, v in component_values(comp, t).items()}
        return out


#: What a ``base_dir`` given to :func:`load` is, in the message for a file missing from it.
LOAD_ORIGIN = "the base_dir given to tinylens.load / tinylens.fit"


def load(config: str | os.PathLike[str] | Mapping[str, Any] | Config, *, dtype: Any = None,
         base_dir: str | os.PathLike[str] | None = None) -> Problem:
    """Load a TinyLensGpu-schema YAML (its path, a mapping of its content, or a loaded
    :class:`~tinylens.config.schema.Config`) and its data into a :class:`Problem`.

    Relative paths in the config resolve against ``base_dir`` if given, else the YAML file's
    folder (the current directory for a dict or a Config: a Problem's ``problem.config`` reloads
    with ``load(problem.config, base_dir=problem.base_dir)``). A stored ``result.json`` reloads with
    ``load(r["config"], base_dir=r["config_dir"])``. ``dtype``: float32 or float64 (default: the
    precision of :mod:`tinylens.precision`); float64 while JAX's x64 is off is a ConfigValueError.
    """
    return load_from(config, base_dir, LOAD_ORIGIN, dtype=dtype)


def load_from(config: str | os.PathLike[str] | Mapping[str, Any] | Config, base_dir: str | os.PathLike[str] | None,
              origin: str, *, dtype: Any = None, read: tuple[Config, Path] | None = None) -> Problem:
    """:func:`load`, where ``origin`` says what a given ``base_dir`` is in the message for a
    missing file, which for a config file also says how to check a survey template (a template is
    a file, ``--config TEMPLATE``: not a notebook's dict, nor a fit's stored config). ``read``:
    what :func:`~tinylens.config.loader.read_config_first` returned for the same ``config``,
    ``base_dir`` and ``dtype`` (:func:`tinylens.load` and :func:`tinylens.fit` read the config before
    they import this module and JAX), else it is called here."""
    config = as_path(config)
    cfg, default_dir = read_config_first(config, base_dir, dtype) if read is None else read
    enable_persistent_cache()  # before anything compiles; a config's mistakes are said first
    dtype = chosen_dtype(dtype)
    if base_dir is not None:
        base_dir = home_expanded(base_dir)
    elif isinstance(config, (str, Path)):
        base_dir, origin = default_dir, "the config file's folder"
    else:
        base_dir, origin = default_dir, ("the current folder, as the config is not a file: give base_dir= to "
                                         "tinylens.load / tinylens.fit to take them from elsewhere")
        if isinstance(config, Config):  # a loaded Config (problem.config) keeps no folder of its own
            origin = ("the current folder, as a loaded Config, such as a Problem's problem.config, keeps no folder: "
                      "give base_dir= to tinylens.load / tinylens.fit, base_dir=problem.base_dir for a Problem's")
    spec = spec_of_config(cfg.model_components, config)
    dataset = load_dataset(cfg.dataset, base_dir, origin, survey_hint=isinstance(config, (str, Path)))
    return Problem(cfg, base_dir, dataset, spec, dtype)
