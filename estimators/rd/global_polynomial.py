"""``rd_global``: the global polynomial RD estimate, the contrast Gelman & Imbens (2019) warn about.

One ordinary least-squares regression on all n units, with D = 1(x ≥ 0) and order P (option ``order``,
default 4):

    y = α + τ·D + Σ_{k=1..P} β_k x^k + Σ_{k=1..P} δ_k D·x^k + ε,

so a polynomial of order P in x on each side of the cutoff 0, and τ̂ the jump of the fitted polynomials at
0.  It is statsmodels' ``OLS(y, X).fit(cov_type=...)`` with X = [1, D, x, …, x^P, D·x, …, D·x^P] and τ̂ the
coefficient on D.  The same fit is computed as two separate fits of y on r(u) = (1, u, …, u^P)' on each
side, each side's x mapped onto u ∈ [−1, 1] (for conditioning; the cutoff to u₀ = +1 on the left, −1 on the
right; the regressors span the same space, so τ̂, the residuals and the leverages are those of X): with
Γ± = Σ_{side} r r', β± = Γ±⁻¹ Σ r y,

    τ̂ = r(u₀₊)'β₊ − r(u₀₋)'β₋,   a_i = ±r(u₀)'Γ±⁻¹ r(u_i) (+ right of the cutoff, − left),   h_i = r'Γ±⁻¹ r,
    ê_i = y_i − r(u_i)'β±,   k = 2(P + 1).

Standard errors (option ``se``; statsmodels' ``HC0`` … ``HC3``):

``hc0``  Σ a_i² ê_i²          ``hc1``  HC0 · n/(n − k) (the default; Stata's ``robust``)
``hc2``  Σ a_i² ê_i²/(1 − h_i)    ``hc3``  Σ a_i² ê_i²/(1 − h_i)²

and with ``cluster`` (the ids' array) CR1, statsmodels' ``cov_type = "cluster"`` (with its default
correction): G/(G − 1)·(n − 1)/(n − k)·Σ_g (Σ_{i∈g} a_i ê_i)², clusters pooled across the cutoff.  The
interval is the normal one, τ̂ ± z·se.

The estimate targets the sharp design's jump; in a fuzzy design it is the jump of E[y | x] (the intention to
treat at the cutoff), not the Wald ratio the DGP's truth is, so use it on sharp designs.

Statuses: ``no_residual_df`` when n ≤ k, ``singular`` when a side has fewer than P + 1 distinct x (Γ not
positive definite), ``leverage_one`` for hc2/hc3 when some 1 − h_i ≤ 1e-10, ``too_few_clusters`` with
fewer than two clusters.  Diagnostics: ``n_left``, ``n_right``, the units on each side.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import status as st
from ..inference import normal_critical, spd_inverse, write_failure, write_wald
from ..ols import LEVERAGE_TOLERANCE
from ..spec import Estimator, Setting
from .clusters import cluster_meat, count_clusters
from .conventions import option_needs
from .fits import _fit, _gram, _powers

SE_TYPES = ("hc0", "hc1", "hc2", "hc3")
HC0, HC1, HC2, HC3 = range(4)
DIAGNOSTICS = ("n_left", "n_right")
N_LEFT, N_RIGHT = 5, 6


@njit(cache=True, error_model="numpy")
def _side(u, u0, y, order, sign, a, e, h):
    """One side's fit in powers of u: writes a_i (signed), ê_i and h_i; returns (fit at u0, ok)."""
    k = order + 1
    inv = np.empty((k, k))
    if not spd_inverse(_gram(u, np.ones(u.shape[0]), k), k, inv):
        return np.nan, False
    beta = _fit(u, y, np.ones(u.shape[0]), inv, k)
    row, at_cutoff = np.empty(k), np.empty(k)
    _powers(u0, k, row)
    for c in range(k):  # r(u0)'Γ⁻¹: the fit at the cutoff as a row of weights
        at_cutoff[c] = 0.0
        for d in range(k):
            at_cutoff[c] += row[d] * inv[d, c]
    for i in range(u.shape[0]):
        _powers(u[i], k, row)
        fitted = ai = hi = 0.0
        for c in range(k):
            fitted += row[c] * beta[c]
            ai += at_cutoff[c] * row[c]
            for d in range(k):
                hi += row[c] * inv[c, d] * row[d]
        a[i], e[i], h[i] = sign * ai, y[i] - fitted, hi
    _powers(u0, k, row)
    return (row * beta).sum(), True


@njit(cache=True, error_model="numpy")
def global_kernel(x, y, g, order, se_code, clustered, crit, truth, out, status):
    """The global polynomial jump at 0 on every replication (module docstring).

    Parameters
    ----------
    x, y : float64 arrays, shape (R, n)
        Running variable and outcome.
    g : float64 array, shape (R, n)
        Cluster ids 0 … G − 1 (read when `clustered`).
    order : int
        P, the polynomial's order on each side (k = 2(P + 1) coefficients).
    se_code : int
        HC0 … HC3 (`SE_TYPES`); with `clustered`, CR1.
    crit : float
        Normal critical value.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 7)
        estimate, se, ci_low, ci_high, reject, n_left, n_right.
    status : int8 array, shape (R,)
    """
    n_reps, n = x.shape
    k = 2 * (order + 1)
    a, e, h = np.empty(n), np.empty(n), np.empty(n)
    for r in range(n_reps):
        right = x[r] >= 0.0
        n_right = right.sum()
        if n <= k:
            write_failure(out, status, r, st.NO_RESIDUAL_DF)
        elif clustered and count_clusters(g[r]) < 2:
            write_failure(out, status, r, st.TOO_FEW_CLUSTERS)
        else:
            left_idx, right_idx = np.nonzero(~right)[0], np.nonzero(right)[0]
            fits = 0.0
            ok = True
            for idx, sign in ((left_idx, -1.0), (right_idx, 1.0)):
                au, ae, ah = np.empty(idx.shape[0]), np.empty(idx.shape[0]), np.empty(idx.shape[0])
                # each side mapped onto [−1, 1] (u0 the cutoff's image), where powers of u are far better
                # conditioned than on [0, 1]; the fit at the cutoff, residuals and leverages do not change
                reach = np.abs(x[r][idx]).max() if idx.shape[0] else 1.0
                reach = reach if reach > 0.0 else 1.0  # every unit at the cutoff: its one point maps to u = ∓1
                u = 2.0 * x[r][idx] / reach + 1.0 if sign < 0 else 2.0 * x[r][idx] / reach - 1.0
                intercept, good = _side(u, 1.0 if sign < 0 else -1.0, y[r][idx], order, sign, au, ae, ah)
                ok = ok and good
                fits += sign * intercept
                a[idx], e[idx], h[idx] = au, ae, ah
            if not ok:
                write_failure(out, status, r, st.SINGULAR)
            elif (se_code == HC2 or se_code == HC3) and not ((1.0 - h).min() > LEVERAGE_TOLERANCE):
                write_failure(out, status, r, st.LEVERAGE_ONE)
            else:
                scores = a * e
                if clustered:
                    var = cluster_meat(scores, g[r], k)
                elif se_code == HC2:
                    var = (scores**2 / (1.0 - h)).sum()
                elif se_code == HC3:
                    var = (scores**2 / (1.0 - h) ** 2).sum()
                else:
                    var = (scores**2).sum() * (n / (n - k) if se_code == HC1 else 1.0)
                write_wald(out, status, r, fits, np.sqrt(var), crit, truth[r])
        out[r, N_LEFT] = n - n_right
        out[r, N_RIGHT] = n_right


def reference_global(batch, truth, options, level, out, status):
    """Plain numpy twin of `global_kernel`: the regression on X = [1, D, x, …, x^P, D·x, …, D·x^P] as written."""
    order, crit = options["order"], normal_critical(level)
    clustered = options.get("cluster") is not None
    for r in range(batch["x"].shape[0]):
        x, y = np.asarray(batch["x"][r], float), np.asarray(batch["y"][r], float)
        n = x.shape[0]
        d = (x >= 0).astype(float)
        powers = (x[:, None] / np.abs(x).max()) ** np.arange(1, order + 1)  # scaled: the coefficient on D is unchanged
        design = np.column_stack([np.ones(n), d, powers, d[:, None] * powers])
        k = design.shape[1]
        out[r, N_LEFT], out[r, N_RIGHT] = n - d.sum(), d.sum()
        if n <= k:
            out[r, :N_LEFT], status[r] = np.nan, st.NO_RESIDUAL_DF
            continue
        groups = np.asarray(batch[options["cluster"]][r]) if clustered else None
        if clustered and np.unique(groups).size < 2:
            out[r, :N_LEFT], status[r] = np.nan, st.TOO_FEW_CLUSTERS
            continue
        if min(np.unique(x[d == 0]).size, np.unique(x[d == 1]).size) < order + 1:
            out[r, :N_LEFT], status[r] = np.nan, st.SINGULAR
            continue
        # X = QR: (X'X)⁻¹X' = R⁻¹Q' and h_i = ‖Q_i‖² (to rounding in h itself, so 1 − h keeps its digits near 1)
        q_mat, r_mat = np.linalg.qr(design)
        rows = np.linalg.solve(r_mat, q_mat.T)
        beta = rows @ y
        resid = y - design @ beta
        a = rows[1]  # the row of (X'X)⁻¹X' for D
        lev = (q_mat**2).sum(axis=1)
        se_type = options["se"]
        if clustered:
            sums = np.array([(a * resid)[groups == c].sum() for c in np.unique(groups)])
            n_g = sums.size
            var = n_g / (n_g - 1) * (n - 1) / (n - k) * (sums**2).sum()
        elif se_type in ("hc2", "hc3") and (1 - lev).min() <= LEVERAGE_TOLERANCE:
            out[r, :N_LEFT], status[r] = np.nan, st.LEVERAGE_ONE
            continue
        else:
            power = {"hc0": 0, "hc1": 0, "hc2": 1, "hc3": 2}[se_type]
            var = ((a * resid) ** 2 / (1 - lev) ** power).sum() * (n / (n - k) if se_type == "hc1" else 1.0)
        write_wald(out, status, r, beta[1], np.sqrt(var), crit, truth[r])


def _run(batch, truth, options, level, out, status):
    clustered = options.get("cluster") is not None
    g = np.asarray(batch[options["cluster"]], np.float64) if clustered else np.zeros_like(batch["x"], np.float64)
    global_kernel(
        np.asarray(batch["x"], np.float64), np.asarray(batch["y"], np.float64), g, options["order"],
        SE_TYPES.index(options["se"]), clustered, normal_critical(level), truth, out, status,
    )  # fmt: skip


def _check(options, level):
    if options.get("cluster") is not None and options["se"] != "hc1":
        return "cluster gives CR1, the clustered analogue of hc1: leave se at 'hc1' (cr2/cr3 are not implemented)"
    return None


ESTIMATORS = (
    Estimator(
        name="rd_global",
        summary="RD at 0 by a global polynomial of order P on each side (OLS on all units, HC or CR1 se)",
        needs=("x", "y"),
        run=_run,
        reference=reference_global,
        options=(
            Setting("order", 4, "order P of the polynomial in x on each side of the cutoff", minimum=0, maximum=8),
            Setting("se", "hc1", "standard errors: hc0, hc1 (n/(n−k)), hc2, hc3 (statsmodels' HC*)", choices=SE_TYPES),
            Setting("cluster", None, "the DGP's array of cluster ids 0 … G − 1: CR1 variance", kind=str),
        ),
        diagnostics=DIAGNOSTICS,
        check=_check,
        option_needs=option_needs,
    ),
)
