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

import math
from collections.abc import Mapping

from numba import njit

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
    "max_standardised_difference",
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


@njit(cache=True)
def max_standardised_difference(d, cov, w1, w0):
    """The largest absolute standardised mean difference of a covariate after weighting.

    max over covariates j of |Σw₁x/Σw₁ − Σw₀x/Σw₀| / √((s₁² + s₀²)/2), with
    w₁ the treated units' weights, w₀ the controls' (each 0 outside its
    arm) and s_a² the unweighted within-arm variances (divisor n_a − 1),
    the pooled SD before weighting (Austin & Stuart 2015).  NaN without
    covariates or with fewer than two units in an arm.

    Parameters
    ----------
    d : float64 array, shape (n,)
    cov : float64 array, shape (p, n)
    w1, w0 : float64 arrays, shape (n,)
    """
    p, n = cov.shape
    n1 = s1 = s0 = 0.0
    for i in range(n):
        n1 += d[i] > 0.5
        s1 += w1[i]
        s0 += w0[i]
    worst = math.nan
    if n1 < 2.0 or n - n1 < 2.0:  # a within-arm variance needs two units
        return worst
    for j in range(p):
        m1 = m0 = 0.0
        for i in range(n):
            if d[i] > 0.5:
                m1 += cov[j, i]
            else:
                m0 += cov[j, i]
        m1 /= n1
        m0 /= n - n1
        v1 = v0 = a1 = a0 = 0.0
        for i in range(n):
            x = cov[j, i]
            if d[i] > 0.5:
                v1 += (x - m1) ** 2
            else:
                v0 += (x - m0) ** 2
            a1 += w1[i] * x
            a0 += w0[i] * x
        smd = abs(a1 / s1 - a0 / s0) / math.sqrt((v1 / (n1 - 1.0) + v0 / (n - n1 - 1.0)) / 2.0)
        if not smd <= worst:  # NaN-aware maximum (worst starts as NaN)
            worst = smd
    return worst
