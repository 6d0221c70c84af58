"""Double/debiased machine learning: ``dml_plr``, ``dml_irm`` and ``dml_pliv`` (DoubleML's conventions).

Models (Chernozhukov et al. 2018; DoubleML for Python 0.11's ``DoubleMLPLR``,
``DoubleMLIRM`` and ``DoubleMLPLIV``), for outcome y, treatment d,
covariates x (option ``adjust``; absent: the DGP's ``controls``):

``dml_plr``   y = θd + g(x) + ζ,  d = m(x) + v.  Nuisances ``ml_l`` (E[y | x]),
              ``ml_m`` (E[d | x]) and, for ``score = "IV-type"``, ``ml_g``
              (E[y − θ̃d | x], θ̃ the partialling-out estimate from l̂ and m̂,
              as DoubleML fits it).  Reads ``d``, a continuous treatment.
``dml_irm``   y = g(d, x) + u,  d ∈ {0, 1} with P(d = 1 | x) = m(x): θ the
              ATE (``score = "ATE"``, term ``ate``) or the ATT (``"ATTE"``,
              term ``att``).  Nuisances ``ml_g`` (E[y | d = a, x], fitted on
              each arm: ĝ₀ and ĝ₁) and ``ml_m`` (the propensity, clipped to
              [a, 1 − a] with a = ``trimming_threshold``, DoubleML's default
              0.01).  Reads ``treatment`` as d.
``dml_pliv``  y = θd + g(x) + ζ,  z = m(x) + v with one instrument z: nuisances
              ``ml_l`` (E[y | x]), ``ml_m`` (E[z | x]), ``ml_r`` (E[d | x]);
              the partialling-out score.  Reads ``d`` and ``z`` (R, 1, n).

Each nuisance's learner is an option (``ml_l = "lasso_cv"``, a name of
`causalmc.estimators.learners.LEARNERS`) with its options as a table
(``ml_l_options = { cv = 5 }``); the defaults are the parametric baseline, ``ols``
for every regression and ``logistic`` for the IRM's propensity.  The scores, their solution, standard errors
and the median aggregation over ``n_rep`` splits are `scores`'; the folds, the
learner seeds (from the estimator's own stream) and the cross-fitting are
`crossfit`'s.  The interval is DoubleML's (the median of the splits'
normal intervals); with one split, θ̂ ± z·se.

Diagnostics, each the mean over the splits: ``loss_<nuisance>`` (out-of-fold
RMSE of a regression learner, log-loss of a classification learner),
``alpha_<nuisance>`` (the mean over folds of the penalty the learner used
or chose; NaN for learners without one); for ``dml_irm`` also ``ps_min``
and ``ps_max`` (the range of the propensities before clipping, over every
split) and ``trimmed_share`` (the share of clipped propensities).

Statuses: ``empty_fold`` and ``learner_failed`` (`crossfit`),
``no_variation`` (the IRM's treatment is not binary or an arm is empty, or a
score's mean derivative is 0 so θ is undefined), ``no_overlap`` (every propensity clipped).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .. import status as st
from ..adjustment import ADJUST_OPTION, adjustment_arrays, covariates
from ..inference import normal_critical
from ..learners import LEARNERS, validate_options
from ..observables.common import one_term
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE, Estimator, Setting
from .crossfit import Nuisance, cross_fit_one, draw_split, nuisance, out_of_fold_loss
from .scores import IRM_ATE, IRM_ATTE, PLIV_PO, PLR_IV, PLR_PO, aggregate, reference_estimate, score_elements, solve_split

PLR_SCORES = ("partialling out", "IV-type")
IRM_SCORES = ("ATE", "ATTE")


@dataclass
class Fit:
    """One replication's DML fit: what the records keep and what the oracle tests compare.

    ``thetas``, ``ses`` (S,) per split; ``predictions`` (S, 3, n) the score's
    nuisance arrays (a, b, c) of `scores.score_elements`; ``fold_of`` (S, n).
    """

    status: int = st.OK
    estimate: float = math.nan
    se: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    thetas: np.ndarray | None = None
    ses: np.ndarray | None = None
    predictions: np.ndarray | None = None
    fold_of: np.ndarray | None = None
    diagnostics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Model:
    """What distinguishes the three estimators: their nuisances, score and diagnostics."""

    name: str
    learner_options: tuple[str, ...]  # the options naming a learner (DoubleML's learner arguments)
    diagnostics: tuple[str, ...]

    def specs(self, options: Mapping) -> tuple[Nuisance, ...]:
        if self.name == "dml_irm":
            g = nuisance("ml_g", options, "y")
            return (Nuisance("ml_g0", g.learner, g.options, "y", 0), Nuisance("ml_g1", g.learner, g.options, "y", 1),
                    nuisance("ml_m", options, "d_binary"))
        if self.name == "dml_pliv":
            return nuisance("ml_l", options, "y"), nuisance("ml_m", options, "z"), nuisance("ml_r", options, "d")
        return nuisance("ml_l", options, "y"), nuisance("ml_m", options, "d"), nuisance("ml_g", options, "y_partial")

    def score(self, options: Mapping) -> int:
        if self.name == "dml_irm":
            return IRM_ATTE if options["score"] == "ATTE" else IRM_ATE
        if self.name == "dml_pliv":
            return PLIV_PO
        return PLR_IV if options["score"] == "IV-type" else PLR_PO


def _diagnostic_names(keys, irm=False):
    losses = tuple(f"loss_{k[3:]}" for k in keys)
    alphas = tuple(f"alpha_{k[3:]}" for k in keys)
    return losses + alphas + (("ps_min", "ps_max", "trimmed_share") if irm else ())


PLR = Model("dml_plr", ("ml_l", "ml_m", "ml_g"), _diagnostic_names(("ml_l", "ml_m", "ml_g")))
IRM = Model("dml_irm", ("ml_g", "ml_m"), _diagnostic_names(("ml_g0", "ml_g1", "ml_m"), irm=True))
PLIV = Model("dml_pliv", ("ml_l", "ml_m", "ml_r"), _diagnostic_names(("ml_l", "ml_m", "ml_r")))


def fit_one(model: Model, options: Mapping, y, d, z, x, rng, crit, specs=None, reference=False) -> Fit:
    """DML on one replication (module docstring).

    Parameters
    ----------
    y, d : float64 arrays, shape (n,)
    z : float64 array, shape (n,), or None (read by ``dml_pliv`` only)
    x : float64 array, shape (n, p), C-contiguous
    rng : numpy.random.Generator
        The estimator's own stream: folds and learner seeds (`crossfit`).
    crit : float
        Normal critical value of the interval.
    specs : tuple of Nuisance, optional
        ``model.specs(options)``, validated once per batch by the caller.
    reference : bool
        The learners' plain twins and the scores' numpy twin.
    """
    specs = specs or model.specs(options)
    score = model.score(options)
    n, folds, n_rep = y.shape[0], options["folds"], options["n_rep"]
    cross_fit = options["cross_fit"]
    targets = {"y": y, "d": d, "d_binary": d, "z": z}
    result = Fit(predictions=np.empty((n_rep, 3, n)), fold_of=np.empty((n_rep, n), dtype=np.int64))
    thetas, ses = np.empty(n_rep), np.empty(n_rep)
    losses = np.zeros((n_rep, 3))
    alphas = np.zeros((n_rep, 3))
    ps_range, clipped = [math.inf, -math.inf], 0
    if score in (IRM_ATE, IRM_ATTE) and not (((d == 0.0) | (d == 1.0)).all() and 0.0 < d.sum() < n):
        return Fit(status=st.NO_VARIATION)  # the IRM needs a binary treatment with both arms
    psi_a, psi_b = np.empty(n), np.empty(n)
    for s in range(n_rep):
        fold_of, seeds = draw_split(rng, n, folds, len(specs))
        result.fold_of[s] = fold_of
        for k, spec in enumerate(specs):
            if spec.target == "y_partial":
                if score != PLR_IV:
                    losses[s, k] = alphas[s, k] = math.nan
                    continue
                # DoubleML's ĝ: y − θ̃d with θ̃ the partialling-out estimate from l̂ and m̂
                v = d - result.predictions[s, 1]
                theta_initial = np.mean(v * (y - result.predictions[s, 0])) / np.mean(v * v)
                target = y - theta_initial * d
            else:
                target = targets[spec.target]
            code, pred, alpha = cross_fit_one(spec, x, target, d, fold_of, folds, cross_fit, seeds[k], reference)
            if code != st.OK:
                return Fit(status=code)
            slot = 0 if score == PLR_IV and k == 2 else k  # the IV-type score reads ĝ where partialling out reads l̂
            result.predictions[s, slot] = pred
            losses[s, k] = out_of_fold_loss(spec, target, pred, d)
            alphas[s, k] = np.mean(alpha)
        if score in (IRM_ATE, IRM_ATTE):
            m = result.predictions[s, 2]
            a = options["trimming_threshold"]
            ps_range = [min(ps_range[0], m.min()), max(ps_range[1], m.max())]
            outside = (m < a) | (m > 1.0 - a)
            if outside.all():
                return Fit(status=st.NO_OVERLAP)
            clipped += outside.sum()
            result.predictions[s, 2] = np.clip(m, a, 1.0 - a)
        if not reference:
            a_, b_, c_ = result.predictions[s]
            score_elements(score, y, d, z if z is not None else y, a_, b_, c_, psi_a, psi_b)
            thetas[s], ses[s] = solve_split(psi_a, psi_b)
    if reference:
        zz = z if z is not None else y
        estimate, se, low, high, thetas, ses = reference_estimate(score, y, d, zz, result.predictions, crit)
    else:
        estimate, se, low, high = aggregate(thetas, ses, crit)
    if not (np.isfinite(thetas).all() and np.isfinite(ses).all()):
        return Fit(status=st.NO_VARIATION)
    result.estimate, result.se, result.ci_low, result.ci_high = estimate, se, low, high
    result.thetas, result.ses = thetas, ses
    names = model.diagnostics
    with np.errstate(all="ignore"):
        for k in range(3):
            result.diagnostics[names[k]] = float(np.mean(losses[:, k]))
            result.diagnostics[names[3 + k]] = float(np.mean(alphas[:, k]))
    if score in (IRM_ATE, IRM_ATTE):
        result.diagnostics |= {"ps_min": ps_range[0], "ps_max": ps_range[1], "trimmed_share": clipped / (n * n_rep)}
    return result


def _runner(model: Model, treatment: str, reference: bool = False):
    def run(batch, truth, options, level, out, status, rng=None):
        specs = model.specs(options)
        cov = covariates(batch, options)
        y, d = batch["y"], batch[treatment]
        z = batch["z"][:, 0, :] if model is PLIV else None
        crit = normal_critical(level)
        for r in range(y.shape[0]):
            x = np.ascontiguousarray(cov[r].T)
            fit = fit_one(model, options, y[r], d[r], None if z is None else z[r], x, rng, crit, specs, reference)
            write(fit, model, truth[r], out[r], status, r)

    return run


def write(fit: Fit, model: Model, truth: float, row: np.ndarray, status: np.ndarray, r: int) -> None:
    """One replication's record: estimate, se, DoubleML's interval, the test of θ = truth, diagnostics."""
    status[r] = fit.status
    row[:] = np.nan
    if fit.status != st.OK:
        return
    row[ESTIMATE], row[SE], row[CI_LOW], row[CI_HIGH] = fit.estimate, fit.se, fit.ci_low, fit.ci_high
    row[REJECT] = float(not (fit.ci_low <= truth <= fit.ci_high)) if math.isfinite(truth) else math.nan
    for j, name in enumerate(model.diagnostics):
        row[5 + j] = fit.diagnostics.get(name, math.nan)


def _check(model: Model):
    def check(options, level):
        for key in model.learner_options:
            try:
                validate_options(options[key], options.get(f"{key}_options") or {})
            except ValueError as exc:
                return f"{key}: {exc}"
            # a propensity may come from a regression learner, as DoubleML allows (the clipping bounds it)
            if key != "ml_m" and LEARNERS[options[key]].kind == "classification":
                return f"{key} = {options[key]!r} is a classification learner; {key} needs a regression learner"
        return None

    return check


def _learner_revisions(model: Model):
    def revisions(options):
        """{"learner:<name>": revision} of the learners the options name, those with a revision."""
        named = {options.get(key) for key in model.learner_options}
        return {f"learner:{n}": LEARNERS[n].revision for n in sorted(named) if n in LEARNERS and LEARNERS[n].revision}

    return revisions


COMMON_OPTIONS = (
    Setting("folds", 5, "number of folds of each sample split (DoubleML's n_folds)", minimum=2),
    Setting("n_rep", 1, "number of repeated sample splits, aggregated by DoubleML's medians", minimum=1),
    Setting("cross_fit", True, "cross-fit the nuisances (false: fit and predict on the whole sample)"),
    ADJUST_OPTION,
)


def _learner_settings(keys_defaults):
    settings = []
    for key, default, what in keys_defaults:
        # any name: `check` validates it against LEARNERS with its options (no choices, so that the generic
        # tests do not sweep every learner of every nuisance)
        settings.append(Setting(key, default, f"learner of {what} (DoubleML's {key}): a learner's name"))
        settings.append(Setting(f"{key}_options", None, f"options of {key}'s learner, a table", kind=dict))
    return tuple(settings)


def _needs(options):
    return adjustment_arrays(options)


def _pliv_applies(shapes, options):
    z = shapes.get("z")
    if z is None or len(z) != 2 or z[0] != 1:
        return "dml_pliv takes one instrument"
    return None


ESTIMATORS = (
    Estimator(
        name="dml_plr",
        summary="double ML, partially linear regression (DoubleML's PLR): cross-fitted learners, partialling out or IV-type",
        needs=("y", "d"),
        run=_runner(PLR, "d"),
        reference=_runner(PLR, "d", reference=True),
        options=(
            Setting("score", "partialling out", "DoubleML's score", choices=PLR_SCORES),
            *_learner_settings((("ml_l", "ols", "E[y | x]"), ("ml_m", "ols", "E[d | x]"),
                                ("ml_g", "ols", "E[y - θd | x] (IV-type score)"))),
            *COMMON_OPTIONS,
        ),
        diagnostics=PLR.diagnostics,
        check=_check(PLR),
        part_revisions=_learner_revisions(PLR),
        option_needs=_needs,
        resampling=True,
    ),
    Estimator(
        name="dml_irm",
        summary="double ML, interactive regression (DoubleML's IRM): ATE or ATT with cross-fitted outcome and propensity",
        needs=("y", "treatment"),
        run=one_term(_runner(IRM, "treatment")),
        reference=one_term(_runner(IRM, "treatment", reference=True)),
        options=(
            Setting("score", "ATE", "DoubleML's score: ATE (term ate) or ATTE (term att)", choices=IRM_SCORES),
            *_learner_settings((("ml_g", "ols", "E[y | d, x], fitted on each arm"),
                                ("ml_m", "logistic", "the propensity P(d = 1 | x)"))),
            Setting("trimming_threshold", 0.01, "propensities clipped to [a, 1 - a] (DoubleML's truncate rule)",
                    minimum=0.0, maximum=0.5, max_exclusive=True),
            *COMMON_OPTIONS,
        ),
        diagnostics=IRM.diagnostics,
        check=_check(IRM),
        part_revisions=_learner_revisions(IRM),
        option_needs=_needs,
        resampling=True,
        terms=lambda shapes, options: ("att" if options.get("score") == "ATTE" else "ate",),
    ),
    Estimator(
        name="dml_pliv",
        summary="double ML, partially linear IV (DoubleML's PLIV, partialling out): one instrument z, endogenous d",
        needs=("y", "d", "z"),
        run=_runner(PLIV, "d"),
        reference=_runner(PLIV, "d", reference=True),
        options=(
            *_learner_settings((("ml_l", "ols", "E[y | x]"), ("ml_m", "ols", "E[z | x]"),
                                ("ml_r", "ols", "E[d | x]"))),
            *COMMON_OPTIONS,
        ),
        diagnostics=PLIV.diagnostics,
        check=_check(PLIV),
        part_revisions=_learner_revisions(PLIV),
        option_needs=_needs,
        applies=_pliv_applies,
        resampling=True,
    ),
)
