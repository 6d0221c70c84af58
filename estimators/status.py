"""Per-replication status codes shared by every kernel.

A kernel never raises for a numerical reason: it writes one of these codes
and NaN numbers for the replication, and the summary counts the failures.
The codes are plain module-level integers so numba freezes them as
compile-time constants.
"""

OK = 0
SINGULAR = 1  # a cross-product matrix is not positive definite
NO_VARIATION = 2  # the regressor of interest, a group or a period is empty or constant
SCREENED_OUT = 3  # a pre-test (e.g. first-stage F <= 10) declined to report
TOO_FEW_CLUSTERS = 4  # cluster-robust inference needs at least two clusters
NO_RESIDUAL_DF = 5  # the fit leaves no degrees of freedom for a variance
ERROR = 6  # a user's (plugin) estimator raised, or returned something unreadable
NON_FINITE = 7  # a user's (plugin) estimator returned a NaN or infinite estimate
LEVERAGE_ONE = 8  # an observation (or a cluster: I − H_gg singular) has leverage 1: HC2, HC3, CR2, CR3 divide by it
NO_COMPARISON = 9  # a cohort or period the term needs has no comparison (untreated) units
SEPARATION = 10  # the propensity model does not converge: (quasi-)complete separation, scores at 0 or 1
NO_OVERLAP = 11  # a stratum, a match or the weights lack treated or control units (after trimming)
TOO_FEW_OBSERVATIONS = 12  # a side of a cutoff has too few distinct points in the window for its polynomial
ONE_TREATED = 13  # the variance needs two or more treated units (synthdid's bootstrap and jackknife return NA)
FEW_CONTROLS = 14  # the placebo variance needs more controls than treated units (synthdid stops)
ONE_DONOR = 15  # the fixed-weights jackknife with one control of nonzero weight (synthdid returns NA)
LEARNER_FAILED = 16  # a nuisance learner failed: non-finite data or predictions, or a scikit-learn fit raised
EMPTY_FOLD = 17  # a cross-fitting training set (or its treatment arm) is empty, or one class for a classifier

NAMES = (
    "ok",
    "singular",
    "no_variation",
    "screened_out",
    "too_few_clusters",
    "no_residual_df",
    "error",
    "non_finite",
    "leverage_one",
    "no_comparison",
    "separation",
    "no_overlap",
    "too_few_observations",
    "one_treated",
    "few_controls",
    "one_donor",
    "learner_failed",
    "empty_fold",
)
