"""Difference in means between treated and control units (Neyman).

estimate  ȳ₁ − ȳ₀
se        √(s₁²/n₁ + s₀²/n₀), s² the sample variances (divisor n − 1): the
          conservative Neyman variance of a completely randomised experiment,
          equal to Welch's unequal-variance standard error and to the HC2
          standard error of y ~ 1 + treatment (tested).
interval  option ``df``: ``normal`` critical values, or ``welch``: t(ν) with
          the Welch–Satterthwaite degrees of freedom
          ν = (s₁²/n₁ + s₀²/n₀)² / ((s₁²/n₁)²/(n₁ − 1) + (s₀²/n₀)²/(n₀ − 1))
          (scipy ``ttest_ind(equal_var=False)``).
Diagnostic ``dof``: the degrees of freedom used (inf for normal).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import stats

from . import status as st
from .inference import normal_critical, write_failure, write_t_intervals, write_wald
from .spec import ESTIMATE, SE, Estimator, Setting

DF_TYPES = ("normal", "welch")
NORMAL, WELCH = range(2)
DOF = 5  # the diagnostic column


@njit(cache=True)
def diff_means_kernel(y, treatment, df_code, crit, truth, out, status):
    """Batched difference in means with the Neyman standard error.

    Parameters
    ----------
    y : float64 array, shape (R, n)
    treatment : float64 array, shape (R, n)
        1 for treated units, 0 for controls.
    df_code : int
        NORMAL (the interval is written here with `crit`) or WELCH (the
        kernel writes estimate, se and ν; the wrapper the interval).
    crit : float
        Normal critical value z_{1−α/2} (NORMAL).
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 6)
        Estimate, se, ci_low, ci_high, reject, dof.
    status : int8 array, shape (R,)

    Notes
    -----
    Two passes (means, then centred sums of squares).  Status
    ``no_variation`` when a group has fewer than two units or both groups
    have constant outcomes.
    """
    n_reps, n = y.shape
    for r in range(n_reps):
        n1 = 0
        s1 = 0.0
        s0 = 0.0
        for i in range(n):
            if treatment[r, i] > 0.5:
                n1 += 1
                s1 += y[r, i]
            else:
                s0 += y[r, i]
        n0 = n - n1
        if n1 < 2 or n0 < 2:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        m1 = s1 / n1
        m0 = s0 / n0
        q1 = 0.0
        q0 = 0.0
        for i in range(n):
            if treatment[r, i] > 0.5:
                q1 += (y[r, i] - m1) ** 2
            else:
                q0 += (y[r, i] - m0) ** 2
        v1 = q1 / (n1 - 1) / n1
        v0 = q0 / (n0 - 1) / n0
        se = np.sqrt(v1 + v0)
        if df_code == NORMAL:
            write_wald(out, status, r, m1 - m0, se, crit, truth[r])
            out[r, DOF] = np.inf if status[r] == st.OK else np.nan
        elif not (se > 0.0):
            write_failure(out, status, r, st.NO_VARIATION)
        else:
            out[r, ESTIMATE] = m1 - m0
            out[r, SE] = se
            out[r, DOF] = (v1 + v0) ** 2 / (v1 * v1 / (n1 - 1) + v0 * v0 / (n0 - 1))
            status[r] = st.OK


def _run(batch, truth, options, level, out, status):
    df_code = DF_TYPES.index(options["df"])
    diff_means_kernel(batch["y"], batch["treatment"], df_code, normal_critical(level), truth, out, status)
    if df_code == WELCH:
        write_t_intervals(out, status, truth, level, out[:, DOF])


def _reference(batch, truth, options, level, out, status):
    """scipy's t-test of the two groups: ``ttest_ind(equal_var=False)`` (Welch), its interval for welch."""
    crit = normal_critical(level)
    for r in range(batch["y"].shape[0]):
        y, d = batch["y"][r], batch["treatment"][r] == 1
        y1, y0 = y[d], y[~d]
        if len(y1) < 2 or len(y0) < 2 or (np.ptp(y1) == 0 and np.ptp(y0) == 0):
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        test = stats.ttest_ind(y1, y0, equal_var=False)
        estimate = y1.mean() - y0.mean()
        se = np.sqrt(np.var(y1, ddof=1) / len(y1) + np.var(y0, ddof=1) / len(y0))
        if options["df"] == "welch":
            ci = test.confidence_interval(level)
            write_wald(out, status, r, estimate, se, (ci.high - ci.low) / (2 * se), truth[r])
            out[r, DOF] = test.df
        else:
            write_wald(out, status, r, estimate, se, crit, truth[r])
            out[r, DOF] = np.inf


ESTIMATORS = (
    Estimator(
        name="diff_means",
        summary="treated minus control mean, Neyman/Welch standard error, normal or Welch t interval",
        needs=("y", "treatment"),
        run=_run,
        reference=_reference,
        options=(
            Setting(
                "df",
                "normal",
                "interval and test: normal, or welch (t with Welch–Satterthwaite degrees of freedom)",
                choices=DF_TYPES,
            ),
        ),
        diagnostics=("dof",),
    ),
)
