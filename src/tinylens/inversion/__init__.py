"""Linear inversion: solve for light-profile amplitudes given the design matrix (paper eq. 7)."""

from tinylens.inversion.nnls import gram, nnls_gram, solve_amplitudes, solve_normal

__all__ = ["gram", "nnls_gram", "solve_amplitudes", "solve_normal"]
