"""Difference-in-differences estimators, by design.

- `pooled`: 2 × 2 comparisons of cell means (``did``, ``before_after``,
  ``post_gap``) on panels with a common start;
- `twoway`: two-way fixed effects and the event-study pre-trend test with a
  common start (``twfe``, ``pretrend``);
- `collapsed`: Bertrand, Duflo & Mullainathan's collapse (``twfe_collapsed``);
- `staggered`: cohorts adopting in different periods (``twfe_staggered``,
  ``event_study``);
- `cohort_means`: the heterogeneity-robust estimators built from cohort ×
  period means (``cs``, ``sunab``);
- `imputation`: unit and period effects fitted on the untreated cells
  (``imputation``, ``did2s``).

`conventions` holds what they share: the data, the ``se`` options and what
each counts in K, critical values, the plain reference regression.
"""

from . import cohort_means, collapsed, imputation, pooled, staggered, twoway

ESTIMATORS = (
    *pooled.ESTIMATORS,
    *twoway.ESTIMATORS,
    *collapsed.ESTIMATORS,
    *staggered.ESTIMATORS,
    *cohort_means.ESTIMATORS,
    *imputation.ESTIMATORS,
)
