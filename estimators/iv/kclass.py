"""k-class IV estimators: 2SLS, LIML, Fuller, and 2SLS reported only past a first-stage pre-test."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from numba import njit

from .. import status as st
from ..inference import normal_critical, write_failure, write_wald
from ..spec import Estimator, Setting
from .common import (
    CLASSICAL,
    EXX,
    EXY,
    FSTAT,
    FULLER,
    HC1,
    LIML,
    N_STATS,
    NEEDS,
    QXX,
    QXY,
    SE_OPTION,
    SE_TYPES,
    SXX,
    SXY,
    SYY,
    TSLS,
    iv_statistics,
    liml_lambda,
    reference_fit,
    reference_robust_f,
    robust_first_stage_f,
    robust_sums,
)


@njit(cache=True)
def kclass_kernel(y, x, z, method, alpha, se_code, crit, f_min, truth, out, status):
    """Batched 2SLS / LIML / Fuller with first-stage diagnostics.

    Parameters
    ----------
    y, x : float64 arrays, shape (R, n)
    z : float64 array, shape (R, K, n)
    method : int
        TSLS, LIML or FULLER.
    alpha : float
        Fuller's constant (FULLER only).
    se_code : int
        CLASSICAL or HC1.
    crit : float
        Normal critical value z_{1−α/2}.
    f_min : float
        Pre-test threshold: replications with first-stage F ≤ f_min get
        status ``screened_out`` (their F is still recorded); −inf for none.
    truth : float64 array, shape (R,)
    out : float64 array, shape (R, 8)
        estimate, se, ci_low, ci_high, reject, first_stage_f,
        first_stage_f_robust (hc1 only, else NaN), kappa.
    status : int8 array, shape (R,)
    """
    n_reps, k, n = z.shape
    work = np.empty((k + 2, n))
    cp = np.empty((k + 2, k + 2))
    means = np.empty(k + 2)
    szz = np.empty((k, k))
    a = np.empty(k)
    q = np.empty(N_STATS)
    meat = np.empty((k, k))
    szx = np.empty(k)
    for r in range(n_reps):
        code = iv_statistics(x[r], z[r], y[r], work, cp, means, szz, a, q)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        lam = 0.0
        if method != TSLS:
            lam = liml_lambda(q)
            if method == FULLER:
                lam -= alpha / (n - k - 1)
        denominator = q[QXX] - lam * q[EXX]
        if not (denominator > 0.0):
            write_failure(out, status, r, st.SINGULAR)
            out[r, 5] = q[FSTAT]
            continue
        beta = (q[QXY] - lam * q[EXY]) / denominator
        robust_f = np.nan
        if se_code == CLASSICAL:
            ssr = q[SYY] - 2.0 * beta * q[SXY] + beta * beta * q[SXX]
            var = max(ssr, 0.0) / (n - 2) / denominator
        else:
            for j in range(k):
                szx[j] = cp[1 + j, 0]
            var = robust_sums(x[r], z[r], y[r], means, a, beta, True, meat) / denominator**2 * n / (n - 2)
            robust_f = robust_first_stage_f(meat, szx, k, n)
        f_used = robust_f if se_code == HC1 else q[FSTAT]
        if f_min > -np.inf and not (f_used > f_min):
            write_failure(out, status, r, st.SCREENED_OUT)
        else:
            write_wald(out, status, r, beta, math.sqrt(var), crit, truth[r])
        out[r, 5] = q[FSTAT]
        out[r, 6] = robust_f
        out[r, 7] = lam + 1.0


KCLASS_DIAGNOSTICS = ("first_stage_f", "first_stage_f_robust", "kappa")


def _run_kclass(batch, truth, options, level, out, status, method):
    kclass_kernel(
        batch["y"],
        batch["x"],
        batch["z"],
        method,
        float(options.get("alpha", 0.0)),
        SE_TYPES.index(options["se"]),
        normal_critical(level),
        float(options.get("f_min", -np.inf)),
        truth,
        out,
        status,
    )


def _reference_kclass(batch, truth, options, level, out, status, method):
    crit = normal_critical(level)
    alpha = float(options.get("alpha", 0.0))
    f_min = float(options.get("f_min", -np.inf))
    for r in range(batch["y"].shape[0]):
        code, fit = reference_fit(batch, r, method, alpha)
        if code != st.OK:
            write_failure(out, status, r, code)
            continue
        beta, A, xhat, resid, kappa, f, Z, n, k = fit
        a_inv = np.linalg.inv(A)
        robust_f = np.nan
        if options["se"] == "classical":
            cov = resid @ resid / (n - 2) * a_inv
        else:
            cov = a_inv @ (xhat.T * resid**2) @ xhat @ a_inv * n / (n - 2)
            robust_f = reference_robust_f(batch["x"][r], Z)
        f_used = robust_f if options["se"] == "hc1" else f
        if f_min > -np.inf and not f_used > f_min:
            write_failure(out, status, r, st.SCREENED_OUT)
        else:
            write_wald(out, status, r, beta[1], np.sqrt(cov[1, 1]), crit, truth[r])
        out[r, 5:8] = f, robust_f, kappa


_FULLER_ALPHA = Setting("alpha", 1.0, "Fuller's constant (1 is nearly unbiased)", minimum=0.0, min_exclusive=True)
_F_MIN = Setting("f_min", 10.0, "report 2SLS only when the first-stage F exceeds this", minimum=0.0)

ESTIMATORS = (
    Estimator(
        name="tsls",
        summary="two-stage least squares, normal interval; records the first-stage F",
        needs=NEEDS,
        run=partial(_run_kclass, method=TSLS),
        reference=partial(_reference_kclass, method=TSLS),
        options=(SE_OPTION,),
        diagnostics=KCLASS_DIAGNOSTICS,
    ),
    Estimator(
        name="liml",
        summary="limited-information maximum likelihood (k-class, κ = smallest eigenvalue)",
        needs=NEEDS,
        run=partial(_run_kclass, method=LIML),
        reference=partial(_reference_kclass, method=LIML),
        options=(SE_OPTION,),
        diagnostics=KCLASS_DIAGNOSTICS,
    ),
    Estimator(
        name="fuller",
        summary="Fuller's modified LIML, κ = κ_LIML − alpha/(n − K − 1)",
        needs=NEEDS,
        run=partial(_run_kclass, method=FULLER),
        reference=partial(_reference_kclass, method=FULLER),
        options=(SE_OPTION, _FULLER_ALPHA),
        diagnostics=KCLASS_DIAGNOSTICS,
    ),
    Estimator(
        name="tsls_pretest",
        summary="2SLS reported only when the first-stage F exceeds f_min (else screened_out)",
        needs=NEEDS,
        run=partial(_run_kclass, method=TSLS),
        reference=partial(_reference_kclass, method=TSLS),
        options=(SE_OPTION, _F_MIN),
        diagnostics=KCLASS_DIAGNOSTICS,
    ),
)
