"""Regression-discontinuity estimators.

- `local_polynomial`: ``rd``, the sharp design's local polynomial estimate
  at the cutoff with rdrobust's conventional, bias-corrected and robust
  bias-corrected rows (Calonico, Cattaneo & Titiunik 2014) as three terms;
- `reference`: its plain numpy twin, written after rdrobust's matrices;
- `bandwidth`: rdrobust's data-driven ``mserd`` bandwidths (rdbwselect);
- `fits`: the numba weighted polynomial fits and residuals both use;
- `clusters`: rdrobust's cluster-robust variances cr1, cr2 and cr3 of a fit (the kernel's and the selector's);
- `conventions`: the terms, option codes and rdrobust's constants both share;
- `global_polynomial`: ``rd_global``, one OLS fit of a polynomial of order P on each side (Gelman & Imbens
  2019's warning) and its twin;
- `density`: ``rd_density``, the manipulation test of Cattaneo, Jansson & Ma (2020) with rddensity's
  bandwidths, `density_reference` its twin, `density_constants` their options and kernel constants.
"""

from . import density, global_polynomial, local_polynomial
from .conventions import TERMS

ESTIMATORS = (*local_polynomial.ESTIMATORS, *global_polynomial.ESTIMATORS, *density.ESTIMATORS)

__all__ = ["ESTIMATORS", "TERMS"]
