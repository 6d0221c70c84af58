"""What the difference-in-differences estimators share: data, SE options, critical values, CR1.

Data with a common start: ``panel_y`` (R, G, T) outcomes, ``treated``
(R, G) 0/1, ``start`` (R,) the first treated period t0 (1-indexed);
post_t = 1(t ≥ t0) and D_it = treated_i·post_t.

Clustered standard errors are CR1 by unit,
CR0·G/(G − 1)·(N − 1)/(N − K), with t(G − 1) intervals.  What counts in K
differs between packages: ``cluster`` counts every fixed effect (Stata
``regress`` with dummies, statsmodels, linearmodels PanelOLS with
``debiased=True, group_debias=True``); ``cluster_nested`` counts the unit
effects, nested in the clusters, as one (reghdfe, pyfixest ``CRV1``).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit
from scipy import stats

from .. import status as st
from ..inference import write_failure, write_wald
from ..spec import Setting

CLASSICAL, HC1, CLUSTER, CLUSTER_NESTED, HC0, HC2, HC3, CR2, WILD, RI, PAIRS = range(11)
SE_CODES = {
    "classical": CLASSICAL,
    "hc0": HC0,
    "hc1": HC1,
    "hc2": HC2,
    "hc3": HC3,
    "cluster": CLUSTER,
    "cluster_nested": CLUSTER_NESTED,
    "cr2": CR2,
    "wild": WILD,
    "ri": RI,
    "pairs": PAIRS,
}

NEEDS = ("panel_y", "treated", "start")


@cache
def f_critical_table(level: float, max_q: int, df_den: int) -> np.ndarray:
    """F(q, df_den) critical values indexed by q = 0..max_q (index 0 is NaN)."""
    table = np.full(max_q + 1, np.nan)
    if df_den > 0:
        table[1:] = stats.f.ppf(level, np.arange(1, max_q + 1), df_den)
    table.setflags(write=False)
    return table


@njit(cache=True)
def two_way_cluster_k(se_code, g, t, k):
    """K in CR1's (N − 1)/(N − K) for k regressors beside unit and period effects.

    CLUSTER counts every fixed effect (G + T − 1 + k: Stata ``regress`` with
    dummies, statsmodels); CLUSTER_NESTED counts the unit effects, nested in
    the clusters, as one (k + T: reghdfe, pyfixest CRV1).
    """
    return (g + t - 1 + k) if se_code == CLUSTER else (k + t)


@njit(cache=True)
def cluster_problem(g, n_obs, k_cr):
    """The status when CR1 by unit cannot be computed (fewer than two clusters, no residual df), else OK."""
    if g < 2:
        return st.TOO_FEW_CLUSTERS
    if n_obs - k_cr <= 0:
        return st.NO_RESIDUAL_DF
    return st.OK


def panel_dummies(g: int, t: int):
    """For the plain twins: a balanced panel's long unit and period ids (unit-major) and its fixed-effect design,
    G unit dummies and T − 1 period dummies (period 1 the reference)."""
    unit = np.repeat(np.arange(g), t)
    period = np.tile(np.arange(1, t + 1), g)
    dummies = np.column_stack(
        [(unit == i).astype(float) for i in range(g)] + [(period == s).astype(float) for s in range(2, t + 1)]
    )
    return unit, period, dummies


def reference_ols(X, y, unit, se, level, truth, out, status, r, column, k_fixed_effects=0, nested_k=None):
    """OLS of y on X with classical, hc0 … hc3 or cluster(unit) covariance; writes coefficient `column`.

    `k_fixed_effects` counts parameters absorbed outside X (for the
    residual degrees of freedom); `nested_k` is K under the nested-cluster
    convention.
    """
    n, k = X.shape
    if n == 0 or np.linalg.matrix_rank(X) < k or np.ptp(X[:, column]) == 0:
        write_failure(out, status, r, st.NO_VARIATION)
        return None
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    resid = y - X @ beta
    xtx_inv = np.linalg.inv(X.T @ X)
    k_total = k + k_fixed_effects
    df = n - k_total
    if df <= 0:
        write_failure(out, status, r, st.NO_RESIDUAL_DF)
        return None
    if se == "classical":
        cov, crit = resid @ resid / df * xtx_inv, stats.t.ppf(0.5 + level / 2, df)
    elif se in ("hc0", "hc1", "hc2", "hc3"):
        h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
        if se in ("hc2", "hc3") and (1 - h <= 1e-10).any():
            write_failure(out, status, r, st.LEVERAGE_ONE)
            return None
        omega = resid**2 * {"hc0": 1.0, "hc1": n / df, "hc2": 1 / (1 - h), "hc3": 1 / (1 - h) ** 2}[se]
        cov, crit = xtx_inv @ (X.T * omega) @ X @ xtx_inv, stats.t.ppf(0.5 + level / 2, df)
    else:
        groups = np.unique(unit)
        scores = np.array([X[unit == g].T @ resid[unit == g] for g in groups])
        n_groups = len(groups)
        if n_groups < 2:
            write_failure(out, status, r, st.TOO_FEW_CLUSTERS)
            return None
        k_cr = nested_k if se == "cluster_nested" else k_total
        cov = xtx_inv @ scores.T @ scores @ xtx_inv * n_groups / (n_groups - 1) * (n - 1) / (n - k_cr)
        crit = stats.t.ppf(0.5 + level / 2, n_groups - 1)
    write_wald(out, status, r, beta[column], np.sqrt(cov[column, column]), crit, truth)
    return beta, cov


def se_option(choices, doc):
    """The ``se`` option of a DiD estimator: its first choice is the default."""
    return Setting("se", choices[0], doc, choices=choices)
