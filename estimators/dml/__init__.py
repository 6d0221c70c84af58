"""Double/debiased machine learning (Chernozhukov et al. 2018) with DoubleML's conventions.

- `models`: ``dml_plr``, ``dml_irm`` and ``dml_pliv``, their options and diagnostics;
- `crossfit`: folds from the estimator's own stream and cross-fitted nuisance predictions
  from the learners of `causalmc.estimators.learners`;
- `scores`: the linear scores, their solution, standard errors and DoubleML's median
  aggregation over repeated splits (numba, with a numpy twin).
"""

from . import models

ESTIMATORS = (*models.ESTIMATORS,)

__all__ = ["ESTIMATORS"]
