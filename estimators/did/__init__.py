"""Difference-in-differences estimators, by design.

- `pooled`: 2 × 2 comparisons of cell means (``did``, ``before_after``,
  ``post_gap``) on panels with a common start;
- `twoway`: two-way fixed effects and the event-study pre-trend test with a
  common start (``twfe``, ``pretrend``);
- `collapsed`: Bertrand, Duflo & Mullainathan's collapse (``twfe_collapsed``);
- `fgls`: Prais–Winsten feasible GLS with AR(1) errors within unit (``twfe_ar1``);
- `few_clusters`: twfe's inference for few clusters or few treated units
  (CR2, the wild cluster bootstrap, randomization inference, the pairs
  bootstrap);
- `staggered`: cohorts adopting in different periods (``twfe_staggered``,
  ``event_study``);
- `callaway_santanna` (``cs``) and `sun_abraham` (``sunab``): the
  heterogeneity-robust estimators built from cohort × period means, on the
  cohort and event-time helpers of `cohorts`;
- `imputation`: unit and period effects fitted on the untreated cells
  (``imputation``, ``did2s``).

`conventions` holds what they share: the data, the ``se`` options and what
each counts in K, critical values, the plain reference regression.
"""

from . import callaway_santanna, collapsed, fgls, imputation, pooled, staggered, sun_abraham, twoway

ESTIMATORS = (
    *pooled.ESTIMATORS,
    *twoway.ESTIMATORS,
    *collapsed.ESTIMATORS,
    *fgls.ESTIMATORS,
    *staggered.ESTIMATORS,
    *callaway_santanna.ESTIMATORS,
    *sun_abraham.ESTIMATORS,
    *imputation.ESTIMATORS,
)
