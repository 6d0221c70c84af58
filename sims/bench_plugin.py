"""The plugins the ``plugin`` and ``compiled_plugin`` benchmark workloads load.

``sm_ols_plugin``: plain Python on one tidy dataset at a time: the
statsmodels OLS of y on 1 + x + w1 that the confounding workload's
reference loop runs (estimate, standard error, interval).

``ols_as_plugin``: the shipped ``ols`` kernel registered again from this
plugin, to measure what coming from a plugin costs a compiled estimator.
"""

from dataclasses import replace

import numpy as np

import causalmc
from causalmc.estimators import registry


def sm_ols(data, *, level):
    """OLS of y on 1 + x + w1 by statsmodels: the coefficient on x, its classical SE and t interval."""
    import statsmodels.api as sm

    design = np.column_stack([np.ones(len(data)), data["x"].to_numpy(), data["w1"].to_numpy()])
    fit = sm.OLS(data["y"].to_numpy(), design).fit()
    low, high = fit.conf_int(1 - level)[1]
    return {"estimate": fit.params[1], "se": fit.bse[1], "ci_low": low, "ci_high": high}


causalmc.estimator(name="sm_ols_plugin", needs=("y", "x", "controls"))(sm_ols)
ESTIMATORS = (replace(registry()["ols"], name="ols_as_plugin", summary="the shipped ols kernel, from a plugin"),)
