"""Instrumental-variables estimators and weak-instrument-robust inference, by kind.

- `common`: the centred cross-product statistics every kernel starts from
  (documented there, with the k-class formulas and standard errors), LIML's
  root, the robust sums, and the plain reference fit the twins share;
- `kclass`: ``tsls``, ``liml``, ``fuller``, ``tsls_pretest``;
- `anderson_rubin`: the Anderson–Rubin test (classical, hc1, cluster) and its
  inverted confidence set;
- `clr`: Moreira's conditional likelihood-ratio test and its confidence set;
- `tf`: the Stock–Yogo and tF critical-value tables and ``tsls_tf``.
"""

from . import anderson_rubin, clr, kclass, tf
from .anderson_rubin import reference_ar_statistic
from .tf import TF_MAX_F, stock_yogo, tf_critical, tf_table

ESTIMATORS = (*kclass.ESTIMATORS, *anderson_rubin.ESTIMATORS, *clr.ESTIMATORS, *tf.ESTIMATORS)

__all__ = ["ESTIMATORS", "TF_MAX_F", "reference_ar_statistic", "stock_yogo", "tf_critical", "tf_table"]
