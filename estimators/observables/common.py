"""What the selection-on-observables estimators share: the data they read and their options.

Data: ``y`` (R, n) the outcome, ``treatment`` (R, n) 1 for treated units and
0 for controls, and the covariates they adjust for, shape (R, p, n),
variable-major like every block.  Option ``adjust`` names them: absent, the
DGP's declared ``controls``; a list of batch arrays of shape (R, n) (the
variables of a ``dag`` DGP by name), stacked in that order; the empty list,
no adjustment at all.

Option ``estimand``: ``ate`` (the average effect over all units) or ``att``
(over the treated units).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..spec import Setting

ESTIMANDS = ("ate", "att")
ATE, ATT = range(2)

ADJUST_OPTION = Setting(
    "adjust",
    None,
    "covariates to adjust for: batch arrays by name (a dag's variables), [] for none; absent: the DGP's controls",
    kind=tuple,
)
ESTIMAND_OPTION = Setting(
    "estimand", "ate", "the target: ate (all units) or att (the treated units)", choices=ESTIMANDS
)


def adjustment_arrays(options: Mapping) -> tuple[str, ...]:
    """The batch arrays ``adjust`` reads (an estimator's ``option_needs``)."""
    adjust = options.get("adjust")
    return ("controls",) if adjust is None else tuple(adjust)


def covariates(batch: Mapping[str, np.ndarray], options: Mapping) -> np.ndarray:
    """The covariates to adjust for, shape (R, p, n) (p = 0 for ``adjust = []``), C-contiguous float64."""
    adjust = options.get("adjust")
    if adjust is None:
        return np.ascontiguousarray(batch["controls"], dtype=np.float64)
    n_reps, n = batch["y"].shape
    out = np.empty((n_reps, len(adjust), n))
    for j, name in enumerate(adjust):
        out[:, j, :] = batch[name]
    return out
