"""Synthetic control and synthetic difference-in-differences, as the R package synthdid 0.0.9 computes them.

On a panel with a common start (``panel_y``, ``treated``, ``start``):

- `solver`: Frank–Wolfe with exact line search on the simplex, synthdid's
  two rounds with sparsification, the noise level;
- `kernel`: ``sdid``, ``sc`` and ``difp`` (their weights and estimate) and
  synthdid's placebo, bootstrap and jackknife variances, batched;
- `reference`: the plain twin, R's algorithm on whole matrices;
- `staggered`: ``sdid_staggered`` and ``sc_staggered`` on a staggered panel
  (``panel_y``, ``cohort``): the common-start fit per adoption cohort against
  the never treated, weighted by treated cells (Stata ``sdid``), with its twin
  `staggered_reference`;
- `completion`: ``mc``, nuclear-norm matrix completion with unit and period
  effects and cross-validated λ (MCPanel's ``mcnnm_cv``), with its twin;
- `methods`: the registered estimators and their options.
"""

from . import methods

ESTIMATORS = methods.ESTIMATORS
