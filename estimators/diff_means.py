"""Difference in means between treated and control units (Neyman).

estimate  ȳ₁ − ȳ₀
se        √(s₁²/n₁ + s₀²/n₀), s² the sample variances (divisor n − 1): the
          conservative Neyman variance of a completely randomised experiment,
          equal to Welch's unequal-variance standard error and to the HC2
          standard error of y ~ 1 + treatment.
interval  normal critical values.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import status as st
from .inference import normal_critical, write_failure, write_wald
from .spec import Estimator


@njit(cache=True)
def diff_means_kernel(y, treatment, crit, truth, out, status):
    """Batched difference in means with the Neyman standard error.

    Parameters
    ----------
    y : float64 array, shape (R, n)
    treatment : float64 array, shape (R, n)
        1 for treated units, 0 for controls.
    crit : float
        Normal critical value z_{1−α/2}.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 5)
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
        se = np.sqrt(q1 / (n1 - 1) / n1 + q0 / (n0 - 1) / n0)
        write_wald(out, status, r, m1 - m0, se, crit, truth[r])


def _run(batch, truth, options, level, out, status):
    diff_means_kernel(batch["y"], batch["treatment"], normal_critical(level), truth, out, status)


def _reference(batch, truth, options, level, out, status):
    """Plain numpy: split by treatment, np.mean and np.var(ddof=1)."""
    crit = normal_critical(level)
    for r in range(batch["y"].shape[0]):
        y, d = batch["y"][r], batch["treatment"][r] == 1
        y1, y0 = y[d], y[~d]
        if len(y1) < 2 or len(y0) < 2:
            write_failure(out, status, r, st.NO_VARIATION)
            continue
        se = np.sqrt(np.var(y1, ddof=1) / len(y1) + np.var(y0, ddof=1) / len(y0))
        write_wald(out, status, r, y1.mean() - y0.mean(), se, crit, truth[r])


ESTIMATORS = (
    Estimator(
        name="diff_means",
        summary="treated minus control mean, Neyman/Welch standard error, normal interval",
        needs=("y", "treatment"),
        run=_run,
        reference=_reference,
    ),
)
