"""What the selection-on-observables estimators share: the data they read and their options.

Data: ``y`` (R, n) the outcome, ``treatment`` (R, n) 1 for treated units and
0 for controls, and the covariates they adjust for (option ``adjust``, see
`causalmc.estimators.adjustment`).

Option ``estimand``: ``ate`` (the average effect over all units) or ``att``
(over the treated units).
"""

from __future__ import annotations

from ..adjustment import ADJUST_OPTION, adjustment_arrays, covariates
from ..spec import Setting

__all__ = ["ADJUST_OPTION", "ATE", "ATT", "ESTIMANDS", "ESTIMAND_OPTION", "adjustment_arrays", "covariates"]

ESTIMANDS = ("ate", "att")
ATE, ATT = range(2)

ESTIMAND_OPTION = Setting(
    "estimand", "ate", "the target: ate (all units) or att (the treated units)", choices=ESTIMANDS
)
