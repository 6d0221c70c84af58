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
from ..moments import FAST, total
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


@njit(cache=True, error_model="numpy")
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
    n1 = total(d)
    n0 = n - n1
    s1, s0 = total(w1), total(w0)
    worst = math.nan
    if n1 < 2.0 or n0 < 2.0:  # a within-arm variance needs two units
        return worst
    for j in range(p):
        row = cov[j]
        sum_x, sum1_x, weighted1, weighted0 = _four_sums(d, w1, w0, row)
        m1 = sum1_x / n1
        m0 = (sum_x - sum1_x) / n0
        # a second pass, about each arm's own mean: exact where a one-pass Σx² − n·m² would cancel
        v1, v0 = _arm_squares(d, row, m1, m0)
        smd = abs(weighted1 / s1 - weighted0 / s0) / math.sqrt((v1 / (n1 - 1.0) + v0 / (n0 - 1.0)) / 2.0)
        if not smd <= worst:  # NaN-aware maximum (worst starts as NaN)
            worst = smd
    return worst


@njit(cache=True, fastmath=FAST)
def _four_sums(d, w1, w0, x):
    """(Σx, Σdx, Σw₁x, Σw₀x) in one pass."""
    sum_x = sum1_x = weighted1 = weighted0 = 0.0
    for i in range(x.shape[0]):
        sum_x += x[i]
        sum1_x += d[i] * x[i]
        weighted1 += w1[i] * x[i]
        weighted0 += w0[i] * x[i]
    return sum_x, sum1_x, weighted1, weighted0


@njit(cache=True, fastmath=FAST)
def _arm_squares(d, x, m1, m0):
    """(Σ over treated of (x − m1)², Σ over controls of (x − m0)²), d 0 or 1."""
    v1 = v0 = 0.0
    for i in range(d.shape[0]):
        c1 = x[i] - m1
        c0 = x[i] - m0
        v1 += d[i] * c1 * c1
        v0 += (1.0 - d[i]) * c0 * c0
    return v1, v0
