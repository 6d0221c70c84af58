"""Sample splitting and cross-fitted nuisance predictions for the DML estimators.

Folds.  For each of the ``n_rep`` splits of a replication the estimator's own
stream draws a permutation π of the n units (``Generator.permutation``);
fold j holds π's entries from position s_j to s_{j+1} − 1, the first n mod K
folds one unit larger than the others, as scikit-learn's ``KFold(n_splits=K,
shuffle=True)`` sizes them (DoubleML's ``draw_sample_splitting``).  Then the
split's learner seeds: one integer in [0, 2³¹) per nuisance and fold, in
the nuisances' declared order (every nuisance draws, used or not, so that an
option never shifts another's seeds).

Cross-fitting.  The prediction of a nuisance at the units of fold j comes
from its learner trained on the other folds (restricted to one treatment
arm for the IRM's ĝ₀ and ĝ₁, as DoubleML conditions them); with
``cross_fit = false`` every nuisance is trained on the whole sample (its arm)
and predicts the whole sample, the overfitting the option is there to show.

Out-of-fold losses (diagnostics): the root mean squared error of a
regression learner's predictions, the log-loss −mean(t log p̂ + (1 − t)
log(1 − p̂)) of a classification learner's (p̂ clipped to [1e-15, 1 − 1e-15]),
over the units whose target the learner predicts (its arm for ĝ₀, ĝ₁).

Failures (status codes): ``empty_fold`` when a training set (or its part in
the arm) is empty, or holds one class only for a classification learner;
``learner_failed`` when the learner reports a failed fit or non-finite
predictions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .. import status as st
from ..learners import ALPHA, LEARNERS, validate_options

SEED_BOUND = 2**31
LOG_LOSS_CLIP = 1e-15


@dataclass(frozen=True)
class Nuisance:
    """One nuisance function of a score: which learner, trained on what.

    Parameters
    ----------
    key : str
        DoubleML's learner name (``ml_l`` …) and the suffix of its diagnostics.
    learner : str
        A name of `causalmc.estimators.learners.LEARNERS`.
    options : Mapping
        The learner's complete options (`validate_options`).
    target : str
        What it predicts: ``y``, ``d`` (``d_binary`` for the IRM's propensity) or ``z``, or ``y_partial`` (y − θ̃·d,
        the IV-type score's ĝ).
    arm : int
        −1: trained on every unit; 0 or 1: on the units with d equal to it.
    """

    key: str
    learner: str
    options: Mapping
    target: str
    arm: int = -1

    @property
    def classifier(self) -> bool:
        """Predicts a probability: a classification learner, or the scikit-learn bridge (kind ``either``) for a
        propensity (DoubleML's ml_m of the IRM)."""
        kind = LEARNERS[self.learner].kind
        return kind == "classification" or (kind == "either" and self.key == "ml_m" and self.target == "d_binary")


def nuisance(key: str, options: Mapping, target: str, arm: int = -1) -> Nuisance:
    """The nuisance `key` as an estimator's options choose it (``ml_l`` and ``ml_l_options`` …)."""
    name = options[key]
    return Nuisance(key, name, validate_options(name, options.get(f"{key}_options") or {}), target, arm)


def fold_assignment(rng: np.random.Generator, n: int, folds: int) -> np.ndarray:
    """The fold (0 … folds − 1) of each of n units, shape (n,), from one permutation (module docstring)."""
    order = rng.permutation(n)
    sizes = np.full(folds, n // folds)
    sizes[: n % folds] += 1
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[order] = np.repeat(np.arange(folds), sizes)
    return fold_of


def splits(fold_of: np.ndarray, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) index pairs of a fold assignment, DoubleML's ``smpls`` of one repetition."""
    units = np.arange(fold_of.shape[0])
    return [(units[fold_of != j], units[fold_of == j]) for j in range(folds)]


def cross_fit_one(spec: Nuisance, x, target, d, fold_of, folds, cross_fit, seeds, reference=False):
    """Cross-fitted predictions of one nuisance on one split.

    Parameters
    ----------
    x : float64 array, shape (n, p), C-contiguous
    target, d : float64 arrays, shape (n,)
    fold_of : int array, shape (n,)
    seeds : int array, shape (folds,)
    cross_fit : bool
        False: train on the whole sample (the arm) and predict every unit.

    Returns
    -------
    (status code, predictions (n,), alphas (folds or 1,))
    """
    n = target.shape[0]
    learner = LEARNERS[spec.learner]
    fit = learner.reference if reference else learner.fit
    in_arm = np.ones(n, dtype=bool) if spec.arm < 0 else d == spec.arm
    pred = np.full(n, np.nan)
    parts = range(folds) if cross_fit else (-1,)
    alphas = np.full(len(parts), np.nan)
    for k, j in enumerate(parts):
        test = fold_of == j if cross_fit else np.ones(n, dtype=bool)
        train = in_arm & ~test if cross_fit else in_arm
        t_train = target[train]
        if t_train.shape[0] == 0 or (spec.classifier and (t_train.min() == t_train.max())):
            return st.EMPTY_FOLD, pred, alphas
        code, p_test, info, _ = fit(
            np.ascontiguousarray(x[train]), t_train, np.ascontiguousarray(x[test]), spec.options, int(seeds[k])
        )
        if code != st.OK or not np.isfinite(p_test).all():
            return (code if code != st.OK else st.LEARNER_FAILED), pred, alphas
        pred[test] = p_test
        alphas[k] = info[ALPHA]
    return st.OK, pred, alphas


def out_of_fold_loss(spec: Nuisance, target, pred, d) -> float:
    """RMSE (regression learner) or log-loss (classification learner) over the nuisance's arm."""
    keep = slice(None) if spec.arm < 0 else d == spec.arm
    t, p = target[keep], pred[keep]
    if t.shape[0] == 0:
        return math.nan
    if spec.classifier:
        p = np.clip(p, LOG_LOSS_CLIP, 1.0 - LOG_LOSS_CLIP)
        return float(-np.mean(t * np.log(p) + (1.0 - t) * np.log(1.0 - p)))
    return float(np.sqrt(np.mean((t - p) ** 2)))


def draw_split(rng: np.random.Generator, n: int, folds: int, n_nuisances: int) -> tuple[np.ndarray, np.ndarray]:
    """One split's fold assignment (n,) and its learner seeds (n_nuisances, folds), in that draw order."""
    fold_of = fold_assignment(rng, n, folds)
    return fold_of, rng.integers(0, SEED_BOUND, size=(n_nuisances, folds))
