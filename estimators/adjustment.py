"""The covariates an estimator adjusts for (option ``adjust``).

Covariates have shape (R, p, n), variable-major like every block.  Option
``adjust`` names them: absent, the DGP's declared ``controls``; a list of
batch arrays of shape (R, n) (the variables of a ``dag`` DGP by name) or
blocks of shape (R, p, n) (``controls`` itself: its p variables), stacked in
that order; the empty list, no adjustment at all.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .spec import Setting

ADJUST_OPTION = Setting(
    "adjust",
    None,
    "covariates to adjust for: batch arrays by name (a dag's variables), [] for none; absent: the DGP's controls",
    kind=tuple,
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
    arrays = [np.reshape(batch[name], (n_reps, -1, n)) for name in adjust]  # a variable is a block of one
    out = np.empty((n_reps, sum(a.shape[1] for a in arrays), n))
    j = 0
    for a in arrays:
        out[:, j : j + a.shape[1], :] = a
        j += a.shape[1]
    return out
