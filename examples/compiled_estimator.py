"""An example compiled plugin: a numba kernel with its plain reference twin.

This is the contract of the shipped estimators (`causalmc.Estimator`), and
a plugin's kernel runs at the same speed as a built-in one.  Load it with
``--plugin examples/compiled_estimator.py``; it runs on any DGP that
provides ``y`` and ``treatment`` (e.g. ``rct``).

``welch``: the difference in means ȳ₁ − ȳ₀ with the unequal-variance
standard error √(s₁²/n₁ + s₀²/n₀) (s² with divisor n − 1) and the
Welch–Satterthwaite degrees of freedom

    ν = (s₁²/n₁ + s₀²/n₀)² / ((s₁²/n₁)²/(n₁ − 1) + (s₀²/n₀)²/(n₀ − 1)),

t(ν) intervals and test (scipy ``ttest_ind(equal_var=False)``).  Records
ν as the diagnostic ``welch_df``.  A group with fewer than two units is
status ``no_variation``.  (The shipped ``diff_means`` with ``df = "welch"``
computes the same; this file shows the contract a user's compiled
estimator follows, and the tests hold the two to each other.)
"""

import numpy as np
from numba import njit
from scipy import stats

import causalmc
from causalmc import Estimator
from causalmc.estimators import status as st

ESTIMATE, SE, CI_LOW, CI_HIGH, REJECT, WELCH_DF = range(6)


@njit(cache=True)
def welch_kernel(y, treatment, out, status):
    """Per replication: difference in means, its Welch SE and degrees of freedom.

    Parameters
    ----------
    y, treatment : float64 arrays, shape (R, n)
    out : float64 array, shape (R, 6)
        Fills ESTIMATE, SE and WELCH_DF; the wrapper adds the interval.
    status : int8 array, shape (R,)
    """
    n_reps, n = y.shape
    for r in range(n_reps):
        n1 = 0.0
        s1 = 0.0
        s0 = 0.0
        for i in range(n):
            if treatment[r, i] == 1.0:
                n1 += 1.0
                s1 += y[r, i]
            else:
                s0 += y[r, i]
        n0 = n - n1
        if n1 < 2.0 or n0 < 2.0:
            out[r, :] = np.nan
            status[r] = st.NO_VARIATION
            continue
        m1, m0 = s1 / n1, s0 / n0
        v1 = 0.0
        v0 = 0.0
        for i in range(n):
            if treatment[r, i] == 1.0:
                v1 += (y[r, i] - m1) ** 2
            else:
                v0 += (y[r, i] - m0) ** 2
        a, b = v1 / (n1 - 1.0) / n1, v0 / (n0 - 1.0) / n0
        out[r, ESTIMATE] = m1 - m0
        out[r, SE] = np.sqrt(a + b)
        out[r, WELCH_DF] = (a + b) ** 2 / (a * a / (n1 - 1.0) + b * b / (n0 - 1.0))
        status[r] = st.OK if a + b > 0.0 else st.NO_VARIATION


def _interval(out, status, truth, level):
    """t(ν) interval and test, vectorised over the replications (scipy is not compiled)."""
    ok = status == st.OK
    crit = stats.t.ppf(0.5 + level / 2.0, out[ok, WELCH_DF])
    est, se = out[ok, ESTIMATE], out[ok, SE]
    out[ok, CI_LOW], out[ok, CI_HIGH] = est - crit * se, est + crit * se
    out[ok, REJECT] = (np.abs(est - truth[ok]) > crit * se).astype(float)
    out[~ok] = np.nan


def run(batch, truth, options, level, out, status):
    welch_kernel(batch["y"], batch["treatment"], out, status)
    _interval(out, status, truth, level)


def reference(batch, truth, options, level, out, status):
    """scipy's Welch t-test, one replication at a time."""
    for r in range(len(truth)):
        y, d = batch["y"][r], batch["treatment"][r] == 1.0
        if d.sum() < 2 or (~d).sum() < 2:
            out[r], status[r] = np.nan, st.NO_VARIATION
            continue
        test = stats.ttest_ind(y[d], y[~d], equal_var=False)
        ci = test.confidence_interval(level)
        estimate = y[d].mean() - y[~d].mean()
        se = estimate / test.statistic
        crit = (ci.high - ci.low) / (2 * se)
        out[r] = (estimate, se, ci.low, ci.high, float(abs(estimate - truth[r]) > crit * se), test.df)
        status[r] = st.OK


causalmc.register(
    Estimator(
        name="welch",
        summary="difference in means, Welch SE and Welch–Satterthwaite t(ν) intervals (compiled plugin)",
        needs=("y", "treatment"),
        run=run,
        reference=reference,
        diagnostics=("welch_df",),
    )
)
