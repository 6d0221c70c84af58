"""An example plugin: the estimators and the DGP a user would bring.

Load it with ``python run_bench.py run examples/heavy_tails.toml --plugin
examples/my_estimators.py`` or ``causalmc.run(..., plugins=["examples/my_estimators.py"])``.

- ``sm_ols_hc3``: plain Python, one dataset at a time, through statsmodels'
  formula interface (HC3 standard errors, t(n − k) intervals).
- ``numpy_ols``: vectorised over replications with numpy (the short
  regression of y on x, classical standard errors).
- ``median_regression``: plain Python returning only an estimate (least
  absolute deviations, an exact linear program solved by scipy's HiGHS):
  bias, spread and RMSE are measured, coverage is not.
- ``confounding_skewed``: the confounding design with heavy-tailed or
  skewed outcome errors, which no shipped DGP has.
"""

import numpy as np
import statsmodels.formula.api as smf
from scipy.optimize import linprog

import causalmc
from causalmc import Setting


@causalmc.estimator(name="sm_ols_hc3", needs=("y", "x", "controls"))
def sm_ols_hc3(data, *, level):
    """OLS of y on x and the controls by statsmodels, HC3 standard errors"""
    controls = " + ".join(c for c in data.columns if c.startswith("w"))
    fit = smf.ols(f"y ~ x + {controls}", data).fit(cov_type="HC3")
    low, high = fit.conf_int(1 - level).loc["x"]
    return {"estimate": fit.params["x"], "se": fit.bse["x"], "ci_low": low, "ci_high": high}


@causalmc.estimator(name="numpy_ols", needs=("y", "x"), batched=True)
def numpy_ols(batch, *, level):
    """Short regression of y on 1 + x, vectorised over replications (classical SE, t(n − 2))"""
    y, x = batch["y"], batch["x"]
    n = y.shape[1]
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    sxx = (xc * xc).sum(axis=1)
    slope = (xc * yc).sum(axis=1) / sxx
    resid = yc - slope[:, None] * xc
    se = np.sqrt((resid * resid).sum(axis=1) / (n - 2) / sxx)
    return {"estimate": slope, "se": se, "df": np.full(len(slope), n - 2.0)}


@causalmc.estimator(name="median_regression", needs=("y", "x", "controls"))
def median_regression(data, *, level):
    """Least absolute deviations of y on x and the controls, an exact linear program (estimate only)"""
    design = np.column_stack([np.ones(len(data)), data.drop(columns="y").to_numpy()])
    n, k = design.shape
    # min Σ(u⁺ + u⁻) subject to X b + u⁺ − u⁻ = y, u± ≥ 0, b free
    cost = np.concatenate([np.zeros(k), np.ones(2 * n)])
    equality = np.hstack([design, np.eye(n), -np.eye(n)])
    bounds = [(None, None)] * k + [(0, None)] * (2 * n)
    fit = linprog(cost, A_eq=equality, b_eq=data["y"].to_numpy(), bounds=bounds, method="highs")
    if not fit.success:
        raise RuntimeError(f"linprog: {fit.message}")
    return fit.x[1]  # the coefficient on x (columns: intercept, x, w1, …)


@causalmc.dgp(
    name="confounding_skewed",
    params=(
        Setting("n", 200, "number of units", minimum=4),
        Setting("beta", 1.0, "true effect of X on Y (the truth)"),
        Setting("gamma", 1.0, "effect of the confounder Z on X and on Y"),
        Setting(
            "errors",
            "t3",
            "outcome errors: t3 (t, 3 df), lognormal (skewed) or normal",
            choices=("t3", "lognormal", "normal"),
        ),
    ),
    provides=("y", "x", "controls"),
)
def confounding_skewed(rng, *, n, beta, gamma, errors):
    """Z confounds X → Y; outcome errors heavy-tailed (t3) or skewed (centred lognormal), variance 3 or e(e−1)

    Z ~ N(0, 1), X = gamma·Z + N(0, 1), Y = beta·X + gamma·Z + e, with e
    drawn as t(3), exp(N(0, 1)) − √e, or N(0, 1).  Truth: beta.
    """
    z = rng.standard_normal(n)
    x = gamma * z + rng.standard_normal(n)
    if errors == "t3":
        e = rng.standard_t(3, n)
    elif errors == "lognormal":
        e = np.exp(rng.standard_normal(n)) - np.exp(0.5)
    else:
        e = rng.standard_normal(n)
    y = beta * x + gamma * z + e
    return {"y": y, "x": x, "controls": z[None, :]}, beta
