"""Priors on the free non-linear parameters and the unit-cube transform for nested sampling.

Each prior is TinyLensGpu's ``prior_type`` with ``prior_settings``, optionally truncated to
``limits``:

* ``uniform``: ``prior_settings = [low, high]``;
* ``gaussian``: ``prior_settings = [mean, sigma]``;
* ``log_uniform``: ``prior_settings = [low, high]`` with ``low > 0`` (uniform in ``ln x``).

The transforms run on the host in NumPy, vectorised over a batch of points: samplers call
them on the CPU anyway, and they cost nothing next to a likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


#: Sigmas from a Gaussian prior's mean beyond which its truncated support's mass is computed from
#: the logarithm of the normal's CDF: ``ndtr`` underflows past 37.5 sigma (to 0: every point at
#: the support's end, and a log density of +inf), and ``ndtri`` of below 1e-300 is clipped.
FAR_SIGMA = 30.0


#: The most of a Gaussian prior's mass that its box (:meth:`Prior.bounds`) within ``nsigma`` of its
#: mean may leave out; a support that begins nearer ``nsigma`` gets its own quantiles instead.
BOX_LEFT_OUT = 1e-3


@dataclass(frozen=True)
class Prior:
    """A one-dimensional prior: ``kind`` in uniform | gaussian | log_uniform."""

    kind: str
    a: float
    b: float
    lo: float = -np.inf
    hi: float = np.inf

    def __post_init__(self) -> None:
        lo, hi = self.support
        if not lo < hi:
            raise ValueError(f"empty prior range: {self.describe()}")

    @property
    def support(self) -> tuple[float, float]:
        """The interval where the density is non-zero."""
        if self.kind in ("uniform", "log_uniform"):
            return max(self.a, self.lo), min(self.b, self.hi)
        return self.lo, self.hi

    def transform(self, u: np.ndarray) -> np.ndarray:
        """Map ``u`` in [0, 1] to the parameter (inverse CDF)."""
        u = np.asarray(u, dtype=float)
        lo, hi = self.support
        if self.kind == "uniform":  # clipped: rounding put u = 1 past hi (-0.7 + 1.6 = 0.9000000000000001)
            return np.clip(lo + u * (hi - lo), lo, hi)
        if self.kind == "log_uniform":  # and exp(log(3.57)) below 3.57
            return np.clip(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo))), lo, hi)
        sign, za, zb = self._gaussian_frame()
        v = u if sign > 0 else 1.0 - u
        if zb > -FAR_SIGMA:
            pa, pb = float(special.ndtr(za)), float(special.ndtr(zb))
            z = special.ndtri(np.clip(pa + v * (pb - pa), 1e-300, 1 - 1e-16))
        else:  # the same p from its logarithm: log pb + log(v + (1 - v) pa / pb)
            la, lb = special.log_ndtr(za), special.log_ndtr(zb)
            with np.errstate(divide="ignore"):  # log(0) = -inf at v = 0 where pa / pb underflows: the end itself
                z = special.ndtri_exp(lb + np.log(v + (1.0 - v) * np.exp(la - lb)))
        return np.clip(self.a + sign * self.b * z, lo, hi)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The prior's CDF: the inverse of :meth:`transform`."""
        x = np.asarray(x, dtype=float)
        lo, hi = self.support
        if self.kind == "uniform":
            return np.clip((x - lo) / (hi - lo), 0.0, 1.0)
        if self.kind == "log_uniform":
            return np.clip(np.log(np.maximum(x, lo) / lo) / np.log(hi / lo), 0.0, 1.0)
        sign, za, zb = self._gaussian_frame()
        zx = sign * (x - self.a) / self.b
        if zb > -FAR_SIGMA:
            pa, pb = float(special.ndtr(za)), float(special.ndtr(zb))
            below = (special.ndtr(zx) - pa) / (pb - pa)  # reflected: the share above x
        else:  # the same ratio, each CDF divided by pb (from their logarithms)
            la, lb = special.log_ndtr(za), special.log_ndtr(zb)
            below = (np.exp(special.log_ndtr(zx) - lb) - np.exp(la - lb)) / -np.expm1(la - lb)
        return np.clip(below if sign > 0 else 1.0 - below, 0.0, 1.0)

    def _gaussian_frame(self) -> tuple[float, float, float]:
        """``(sign, za, zb)``, ``za <= zb``: the support's ends in units of sigma about the mean,
        reflected (``sign`` -1) where the support lies above the mean, so that the standard normal's
        CDF at both is in the lower tail, where ``ndtr`` keeps its precision (``ndtr(9)`` rounds to 1,
        and N(0, 0.1) in [1, 2] put every point at 1, of log density +inf) down to
        :data:`FAR_SIGMA`, beyond which the callers take its logarithm (``log_ndtr``)."""
        lo, hi = self.support
        sign = -1.0 if lo > self.a else 1.0
        za, zb = sorted((sign * (lo - self.a) / self.b, sign * (hi - self.a) / self.b))
        return sign, za, zb

    def _gaussian_log_norm(self) -> float:
        """The log of the truncated Gaussian density's norm: sigma sqrt(2 pi) times the normal's mass on the support."""
        _, za, zb = self._gaussian_frame()
        if zb > -FAR_SIGMA:
            return float(np.log(self.b * np.sqrt(2 * np.pi) * (float(special.ndtr(zb)) - float(special.ndtr(za)))))
        lb = float(special.log_ndtr(zb))
        return float(np.log(self.b * np.sqrt(2 * np.pi))) + lb + float(np.log(-np.expm1(special.log_ndtr(za) - lb)))

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """Log density, ``-inf`` outside the support."""
        x = np.asarray(x, dtype=float)
        lo, hi = self.support
        inside = (x >= lo) & (x <= hi)
        if self.kind == "uniform":
            val = np.full_like(x, -np.log(hi - lo))
        elif self.kind == "log_uniform":
            val = -np.log(np.where(x > 0, x, 1.0)) - np.log(np.log(hi / lo))
        else:
            val = -0.5 * ((x - self.a) / self.b) ** 2 - self._gaussian_log_norm()
        return np.where(inside, val, -np.inf)

    def bounds(self, nsigma: float = 5.0) -> tuple[float, float]:
        """A finite box holding essentially all prior mass (for optimisers): a Gaussian's support
        within ``nsigma`` of its mean, or, where that holds less than all but :data:`BOX_LEFT_OUT`
        of the prior (a support beginning beyond about 3.4 sigma), its quantiles of that mass."""
        lo, hi = self.support
        if self.kind == "gaussian":
            lo = max(lo, self.a - nsigma * self.b)
            hi = min(hi, self.a + nsigma * self.b)
            if not lo < hi or float(np.diff(self.cdf(np.array([lo, hi])))[0]) < 1.0 - BOX_LEFT_OUT:
                # the support lies (mostly) beyond nsigma of the mean: its own quantiles of as much mass
                tail = special.ndtr(-nsigma)
                lo, hi = self.transform(np.array([tail, 1.0 - tail]))
        return float(lo), float(hi)

    def describe(self) -> str:
        """Human-readable form, e.g. ``U(0, 3.5)`` or ``N(0, 0.3) in [-1, 1]``."""
        name = {"uniform": "U", "gaussian": "N", "log_uniform": "LogU"}[self.kind]
        s = f"{name}({self.a:g}, {self.b:g})"
        if np.isfinite(self.lo) or np.isfinite(self.hi):
            s += f" in [{self.lo:g}, {self.hi:g}]"
        return s


def prior_transform(priors: tuple[Prior, ...], u: np.ndarray) -> np.ndarray:
    """Unit cube to parameters for ``u`` of shape ``(n,)`` or ``(B, n)``."""
    u = np.asarray(u, dtype=float)
    out = np.empty_like(u)
    for i, p in enumerate(priors):
        out[..., i] = p.transform(u[..., i])
    return out


def log_prior(priors: tuple[Prior, ...], theta: np.ndarray) -> np.ndarray:
    """Sum of log densities for ``theta`` of shape ``(n,)`` or ``(B, n)``."""
    theta = np.asarray(theta, dtype=float)
    return sum(p.log_pdf(theta[..., i]) for i, p in enumerate(priors))
