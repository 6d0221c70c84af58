"""What the selection-on-observables estimators share: the data they read and their options.

Data: ``y`` (R, n) the outcome, ``treatment`` (R, n) 1 for treated units and
0 for controls, and the covariates they adjust for (option ``adjust``, see
`causalmc.estimators.adjustment`).

Option ``estimand``: ``ate`` (the average effect over all units) or ``att``
(over the treated units).  It is also the estimator's term, so the records
compare an ATT with the DGP's ATT (``truth:att``), never with its ATE:
`one_term` lets a kernel written for one term serve that contract.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..adjustment import ADJUST_OPTION, adjustment_arrays, covariates
from ..spec import Setting

__all__ = [
    "ADJUST_OPTION",
    "ATE",
    "ATT",
    "ESTIMANDS",
    "ESTIMAND_OPTION",
    "adjustment_arrays",
    "covariates",
    "estimand_term",
    "one_term",
]

ESTIMANDS = ("ate", "att")
ATE, ATT = range(2)

ESTIMAND_OPTION = Setting(
    "estimand", "ate", "the target: ate (all units) or att (the treated units)", choices=ESTIMANDS
)


def estimand_term(shapes: Mapping, options: Mapping) -> tuple[str]:
    """The estimator's one term: its estimand (an `Estimator.terms`)."""
    return (options.get("estimand", "ate"),)


def one_term(run):
    """A runner of the multi-term shapes ((R, 1) truths, (R, 1, width) outputs) from one of the one-term shapes."""

    def run_one_term(batch, truth, options, level, out, status, **kwargs):
        return run(batch, truth[:, 0], options, level, out[:, 0], status[:, 0], **kwargs)

    return run_one_term
