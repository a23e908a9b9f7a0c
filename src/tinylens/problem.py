"""A lens-modelling problem: data, model and priors behind one small API.

>>> problem = tinylens.load("model_config.yaml")
>>> theta = problem.prior_transform(np.full(problem.ndim, 0.5))
>>> problem.log_likelihood(theta)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from tinylens import likelihood as lk
from tinylens.config import Config, load_config
from tinylens.config.model_spec import ModelSpec, build_model_spec
from tinylens.data import Dataset, load_dataset
from tinylens.forward import blurred_columns, column_owner, component_values, amplitude_value, _light
from tinylens.numerics.grid import pixel_coordinates, uniform_groups
from tinylens.precision import get_dtype
from tinylens.priors import log_prior, prior_transform

#: Largest number of ray-traced points evaluated at once (batch x sub-pixels), to bound memory.
MAX_POINTS_PER_CALL = 2**22


def _bucket(n: int) -> int:
    """Round a batch size up to a power of two so a fit compiles only a few shapes."""
    return 1 << max(0, (n - 1).bit_length())


@dataclass
class Problem:
    """Data + model + priors. Build with :func:`tinylens.load`."""

    config: Config
    base_dir: Path
    dataset: Dataset
    spec: ModelSpec
    dtype: Any = field(default_factory=get_dtype)
    imaging: lk.Imaging | None = None

    def __post_init__(self) -> None:
        if self.imaging is None:
            d = self.dataset
            self.imaging = lk.make_imaging(d.data, d.noise, d.psf, d.mask, d.pixel_scale, d.nsub, self.dtype)
        self.solver = self.config.solver_type
        self._single = jax.jit(lambda t: lk.log_likelihood(self.spec, self.imaging, t, self.solver))
        self._batch = jax.jit(jax.vmap(lambda t: lk.log_likelihood(self.spec, self.imaging, t, self.solver)))
        n_points = sum(g.x.size for g in self.imaging.groups)
        self.max_chunk = max(1, 1 << int(np.log2(max(1, MAX_POINTS_PER_CALL // max(n_points, 1)))))

    # -- parameters -------------------------------------------------------------------------
    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the free non-linear parameters, e.g. ``lens_mass.0.theta_E``."""
        return self.spec.param_names

    @property
    def ndim(self) -> int:
        return len(self.spec.param_names)

    @property
    def priors(self):
        return self.spec.priors

    def prior_transform(self, u: np.ndarray) -> np.ndarray:
        """Unit cube to parameters, ``(n,)`` or ``(B, n)``."""
        return prior_transform(self.spec.priors, u)

    def log_prior(self, theta: np.ndarray) -> np.ndarray:
        return log_prior(self.spec.priors, theta)

    # -- likelihood -------------------------------------------------------------------------
    def log_likelihood(self, theta: np.ndarray) -> np.ndarray | float:
        """Eq. 5 for ``(n,)`` (a float) or a batch ``(B, n)`` (an array ``(B,)``)."""
        theta = np.asarray(theta, dtype=float)
        if theta.ndim == 1:
            return float(self._single(jnp.asarray(theta, self.dtype)))
        b = theta.shape[0]
        chunk = min(_bucket(b), self.max_chunk)
        out = np.empty(b)
        for start in range(0, b, chunk):
            part = theta[start : start + chunk]
            n = part.shape[0]
            if n < chunk:
                part = np.concatenate([part, np.repeat(part[-1:], chunk - n, axis=0)])
            out[start : start + n] = np.asarray(self._batch(jnp.asarray(part, self.dtype)))[:n]
        return out

    def log_likelihood_jax(self, theta: jnp.ndarray) -> jnp.ndarray:
        """Pure JAX eq. 5 for one vector: differentiable, for use under jit/vmap/grad."""
        return lk.log_likelihood(self.spec, self.imaging, theta, self.solver)

    # -- images -----------------------------------------------------------------------------
    @cached_property
    def _full(self) -> lk.Imaging:
        d = self.dataset
        groups = uniform_groups(d.data.shape, d.pixel_scale, d.nsub)
        return self.imaging._replace(groups=groups)

    def amplitudes(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Amplitudes of each light component (solved, sampled or fixed), by label."""
        t = jnp.asarray(theta, self.dtype)
        fit = lk.solve(self.spec, self.imaging, t, self.solver)
        owners = column_owner(self.spec)
        amps = np.asarray(fit.amplitudes)
        out: dict[str, np.ndarray] = {}
        for comp in self.spec.light:
            if comp.linear:
                out[comp.label] = amps[[i for i, o in enumerate(owners) if o == comp.label]]
            else:
                out[comp.label] = np.atleast_1d(np.asarray(amplitude_value(comp, t)))
        return out

    def source_grid(self, shape: tuple[int, int] | None = None):
        """Source-plane pixel centres: the image's grid at half the pixel size."""
        d = self.dataset
        shape = shape or d.data.shape
        return pixel_coordinates(shape, d.pixel_scale / 2.0)

    def model_image(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Images for ``theta``: ``total``, ``lens_light``, ``lensed_source`` (PSF-convolved,
        amplitudes solved) and ``source_plane`` (unlensed source on :meth:`source_grid`)."""
        t = jnp.asarray(theta, self.dtype)
        amps = lk.solve(self.spec, self.imaging, t, self.solver).amplitudes
        full = self._full
        cols = np.asarray(blurred_columns(self.spec, t, full.groups, full.shape, full.kernel))
        owners = column_owner(self.spec)
        lens_labels = {c.label for c in self.spec.lens_light}
        is_lens = np.array([o in lens_labels for o in owners], dtype=bool)
        a = np.asarray(amps)
        k = len(owners)
        lens = cols[..., :k][..., is_lens] @ a[is_lens] + cols[..., k]
        src = cols[..., :k][..., ~is_lens] @ a[~is_lens] + cols[..., k + 1]
        xs, ys = self.source_grid()
        lin, fixed = _light(self.spec.source_light, t, jnp.asarray(xs, self.dtype), jnp.asarray(ys, self.dtype))
        source_plane = np.asarray(lin) @ a[~is_lens] + np.asarray(fixed) if self.spec.source_light else np.zeros_like(xs)
        return {"total": lens + src, "lens_light": lens, "lensed_source": src, "source_plane": source_plane}

    def params_dict(self, theta: np.ndarray) -> dict[str, dict[str, float]]:
        """All parameter values (free, fixed and linked) of every component, by label."""
        t = jnp.asarray(theta, self.dtype)
        out = {}
        for comp in self.spec.lens_mass + self.spec.light:
            out[comp.label] = {k: float(v) for k, v in component_values(comp, t).items()}
        return out


def load(config: str | Path | dict, *, dtype=None) -> Problem:
    """Load a TinyLensGpu-schema YAML (path or dict) and its data into a :class:`Problem`.

    Relative paths in the config resolve against the YAML file's folder.
    """
    cfg, base_dir = load_config(config)
    spec = build_model_spec(cfg.model_components)
    dataset = load_dataset(cfg.dataset, base_dir)
    return Problem(cfg, base_dir, dataset, spec, dtype or get_dtype())
