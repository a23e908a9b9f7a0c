"""The floors of the Sersic profile (:mod:`tinylens.profiles.light.sersic`), without JAX.

The profile imports them from here, and so does the check of a population's options
(:mod:`tinylens.survey.options`), which refuses radii and indices under them before JAX loads.
"""

SMOOTHING = 1e-4  # arcsec, floor of R and R_sersic (lenstronomy's default smoothing)
N_MIN = 0.05  # n_sersic is floored here
