"""Regression adjustment that lets the effect vary with the covariates.

``lin``       Lin (2013): OLS of y on [1, d, x̃, d·x̃] with x̃ = x − x̄ the
              covariates centred at their full-sample means; the coefficient
              on d is the regression-adjustment estimate of the ATE
              (Σᵢ m̂₁(xᵢ) − m̂₀(xᵢ) over all units, with m̂ₐ the arm-wise
              least-squares fits: Stata ``teffects ra``, statsmodels
              ``TreatmentEffect.ra``).  Standard errors are `ols`'s (option
              ``se``, default ``hc2`` as Lin recommends, ``df`` default
              normal); they treat x̄ as fixed, so they estimate the variance
              of the sample ATE, not the population ATE that ``teffects ra``'s
              sandwich adds Var(τ(x))/n for.
``stratify``  Exact post-stratification on discrete covariates: strata s are
              the distinct covariate rows; with n_s units, n₁ₛ treated and
              n₀ₛ controls, means ȳₐₛ and sample variances s²ₐₛ (divisor
              n − 1),

                  ATE: τ̂ = Σₛ (nₛ/n)(ȳ₁ₛ − ȳ₀ₛ),   se² = Σₛ (nₛ/n)² (s²₁ₛ/n₁ₛ + s²₀ₛ/n₀ₛ)
                  ATT: τ̂ = Σₛ (n₁ₛ/n₁)(ȳ₁ₛ − ȳ₀ₛ), se² = Σₛ (n₁ₛ/n₁)² (s²₁ₛ/n₁ₛ + s²₀ₛ/n₀ₛ)

              the Neyman variance of a stratified experiment, equal for the
              ATE to the HC2 variance of the fully interacted regression of y
              on d, the centred stratum dummies and their products with d.
              Normal interval.  A stratum without treated or control units is
              status ``no_overlap``; one with a single treated or control unit
              has no variance estimate (``leverage_one``, as for HC2).
              Diagnostic ``strata``: the number of strata.
"""

from __future__ import annotations


import numpy as np
from numba import njit

from .. import ols
from .. import status as st
from ..inference import normal_critical, write_failure, write_wald
from ..spec import Estimator, Setting
from .common import (
    ADJUST_OPTION,
    ATE,
    ESTIMAND_OPTION,
    ESTIMANDS,
    adjustment_arrays,
    covariates,
    estimand_term,
    one_term,
)

# -- lin ----------------------------------------------------------------------


def _lin_batch(batch, options) -> dict:
    """y, x = d and the controls block [x̃, d·x̃] (R, 2p, n) of the interacted regression."""
    d = np.asarray(batch["treatment"], dtype=np.float64)
    cov = covariates(batch, options)
    centred = cov - cov.mean(axis=2, keepdims=True)
    return {"y": batch["y"], "x": d, "controls": np.concatenate([centred, centred * d[:, None, :]], axis=1)}


def _lin_options(options) -> dict:
    return {"se": options["se"], "df": options["df"], "adjust": None}


def _run_lin(batch, truth, options, level, out, status):
    ols.run_ols(_lin_batch(batch, options), truth, _lin_options(options), level, out, status, adjusted=True)


def _reference_lin(batch, truth, options, level, out, status):
    ols.reference_ols(_lin_batch(batch, options), truth, _lin_options(options), level, out, status, adjusted=True)


# -- stratify -----------------------------------------------------------------


@njit(cache=True)
def stratify_kernel(y, d, cov, estimand, crit, truth, out, status):
    """Batched exact post-stratification (see the module docstring).

    Parameters
    ----------
    y, d : float64 arrays, shape (R, n)
        Outcome and 0/1 treatment.
    cov : float64 array, shape (R, p, n)
        Discrete covariates; each distinct row is a stratum.
    estimand : int
        ATE or ATT.
    crit : float
        Normal critical value.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 6)
        estimate, se, ci_low, ci_high, reject, strata.
    status : int8 array, shape (R,)
    """
    n_reps, p, n = cov.shape
    label = np.empty(n, np.int64)
    first = np.empty(n, np.int64)  # a member of each stratum, to compare rows with
    count = np.zeros((n, 2))
    total = np.zeros((n, 2))
    square = np.zeros((n, 2))
    for r in range(n_reps):
        strata = 0
        for i in range(n):
            found = -1
            for s in range(strata):
                same = True
                for j in range(p):
                    if cov[r, j, i] != cov[r, j, first[s]]:
                        same = False
                        break
                if same:
                    found = s
                    break
            if found < 0:
                found = strata
                first[strata] = i
                strata += 1
            label[i] = found
        count[:strata] = 0.0
        total[:strata] = 0.0
        for i in range(n):
            a = 1 if d[r, i] > 0.5 else 0
            count[label[i], a] += 1.0
            total[label[i], a] += y[r, i]
        n1 = 0.0
        code = st.OK
        for s in range(strata):
            n1 += count[s, 1]
            if count[s, 0] == 0.0 or count[s, 1] == 0.0:
                code = st.NO_OVERLAP
            elif code == st.OK and (count[s, 0] == 1.0 or count[s, 1] == 1.0):
                code = st.LEVERAGE_ONE
        if code != st.OK:
            write_failure(out, status, r, code)
            out[r, 5] = strata
            continue
        square[:strata] = 0.0
        for i in range(n):
            a = 1 if d[r, i] > 0.5 else 0
            s = label[i]
            e = y[r, i] - total[s, a] / count[s, a]
            square[s, a] += e * e
        estimate = var = 0.0
        for s in range(strata):
            share = (count[s, 0] + count[s, 1]) / n if estimand == ATE else count[s, 1] / n1
            estimate += share * (total[s, 1] / count[s, 1] - total[s, 0] / count[s, 0])
            for a in range(2):
                var += share * share * square[s, a] / (count[s, a] - 1.0) / count[s, a]
        write_wald(out, status, r, estimate, np.sqrt(var), crit, truth[r])
        out[r, 5] = strata


def _run_stratify(batch, truth, options, level, out, status):
    d = np.ascontiguousarray(batch["treatment"], dtype=np.float64)
    estimand = ESTIMANDS.index(options["estimand"])
    stratify_kernel(batch["y"], d, covariates(batch, options), estimand, normal_critical(level), truth, out, status)


def _reference_stratify(batch, truth, options, level, out, status):
    """Plain numpy: strata by np.unique over the covariate rows, then the formulas of the module docstring."""
    cov_all = covariates(batch, options)
    crit = normal_critical(level)
    for r in range(cov_all.shape[0]):
        y, d = batch["y"][r], np.asarray(batch["treatment"][r]) > 0.5
        rows = cov_all[r].T if cov_all.shape[1] else np.zeros((y.size, 1))
        _, label = np.unique(rows, axis=0, return_inverse=True)
        label = label.ravel()
        strata = label.max() + 1
        groups = [(y[(label == s) & d], y[(label == s) & ~d]) for s in range(strata)]
        sizes = np.array([(len(g1), len(g0)) for g1, g0 in groups])
        if (sizes <= 1).any():
            write_failure(out, status, r, st.NO_OVERLAP if (sizes == 0).any() else st.LEVERAGE_ONE)
            out[r, 5] = strata
            continue
        shares = sizes.sum(axis=1) / y.size if options["estimand"] == "ate" else sizes[:, 0] / sizes[:, 0].sum()
        gaps = np.array([g1.mean() - g0.mean() for g1, g0 in groups])
        variances = np.array([g1.var(ddof=1) / len(g1) + g0.var(ddof=1) / len(g0) for g1, g0 in groups])
        write_wald(out, status, r, shares @ gaps, np.sqrt(shares**2 @ variances), crit, truth[r])
        out[r, 5] = strata


ESTIMATORS = (
    Estimator(
        name="lin",
        summary="Lin's interacted regression y ~ d·(1 + centred covariates): the regression-adjustment ATE",
        needs=("y", "treatment"),
        run=one_term(_run_lin),
        reference=one_term(_reference_lin),
        terms=estimand_term,
        options=(
            Setting("se", "hc2", ols.SE_OPTION.doc, choices=ols.SE_TYPES),
            Setting("df", "normal", ols.DF_OPTION.doc, choices=ols.DF_TYPES),
            ADJUST_OPTION,
        ),
        diagnostics=("dof",),
        check=ols.check_options,
        option_needs=adjustment_arrays,
    ),
    Estimator(
        name="stratify",
        summary="exact post-stratification on discrete covariates, Neyman variance (ATE or ATT)",
        needs=("y", "treatment"),
        run=one_term(_run_stratify),
        reference=one_term(_reference_stratify),
        terms=estimand_term,
        options=(ESTIMAND_OPTION, ADJUST_OPTION),
        diagnostics=("strata",),
        option_needs=adjustment_arrays,
    ),
)
