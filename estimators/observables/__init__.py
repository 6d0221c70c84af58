"""Selection on observables: adjust for the covariates that close the backdoor.

- `propensity`: the logit or probit propensity score, fitted by Newton
  iterations in the kernels, and its score and information for sandwiches;
- `weighting`: inverse probability weighting (``ipw``), the doubly robust
  ``aipw`` and ``ipwra``;
- `regression`: Lin's interacted regression (``lin``) and exact
  post-stratification (``stratify``);
- `matching`: nearest-neighbour matching (``match``) with Abadie–Imbens
  standard errors;
- `balancing`: entropy balancing (``entropy_balancing``).

`common` holds the data they read and the ``adjust`` and ``estimand``
options.  Every module here that defines ``ESTIMATORS`` is collected, so
adding an estimator is adding a file.
"""

import importlib
import pkgutil

ESTIMATORS = tuple(
    estimator
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
    for estimator in getattr(importlib.import_module(f"{__name__}.{info.name}"), "ESTIMATORS", ())
)
