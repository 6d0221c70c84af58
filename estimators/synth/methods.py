"""The registered estimators (``sdid``, ``sc``, ``difp``, ``mc``, ``sdid_staggered``, ``sc_staggered``): options,
the kernel's wrapper and the twin's.

Their conventions: `kernel` (``sdid``, ``sc``, ``difp`` on a panel with a
common start, as R synthdid 0.0.9), `completion` (``mc``) and `staggered`
(``sdid_staggered``, ``sc_staggered``: each adoption cohort fitted as
``sdid``/``sc`` on the never-treated units and the cohort, over every
period; τ̂ = Σ_a N1_a·T1_a·τ̂_a / Σ_a N1_a·T1_a; the bootstrap and placebo
re-fit every cohort of a draw, σ̂ and ζ included, as Stata's ``sdid``
2.0.6; the jackknife keeps the weights).
"""

from __future__ import annotations

from functools import partial

from ..inference import normal_critical
from ..spec import Estimator, Setting
from .completion import reference_mc, run_mc
from .kernel import DIFP, JACKKNIFE, NO_SE, PLACEBO, SC, SDID, BOOTSTRAP, synth_kernel
from .reference import reference_synth
from .staggered import staggered_kernel
from .staggered_reference import reference_staggered

NEEDS = ("panel_y", "treated", "start")
SE_CODES = {"bootstrap": BOOTSTRAP, "jackknife": JACKKNIFE, "placebo": PLACEBO, "none": NO_SE}
DIAGNOSTICS = ("controls_effective", "unit_weight_max", "periods_effective", "time_weight_max")

SE = Setting(
    "se",
    "bootstrap",
    "synthdid's vcov: bootstrap (units resampled, weights re-solved; needs 2+ treated units), "
    "jackknife (units left out, weights fixed; needs 2+ treated units), placebo (controls relabelled as treated, "
    "weights re-solved; needs more controls than treated units) or none (the point estimate alone: no se, interval or "
    "test; the cheapest, for RMSE and bias)",
    choices=tuple(SE_CODES),
)
STAGGERED_SE = Setting(
    "se",
    "bootstrap",
    "Stata sdid's vce: bootstrap (units resampled, each cohort re-fitted, ζ included; needs 2+ adopters), jackknife "
    "(units left out, weights fixed; needs 2+ units in every cohort) or placebo (adoption periods given to random "
    "never-treated units, re-fitted; needs more never-treated units than adopters)",
    choices=("bootstrap", "jackknife", "placebo"),
)
DRAWS = Setting("draws", 200, "B, placebo or bootstrap draws (synthdid's replications)", kind=int, minimum=2)
def _run(batch, truth, options, level, out, status, method, rng=None):
    synth_kernel(
        batch["panel_y"], batch["treated"], batch["start"], method, SE_CODES[options["se"]],
        options["draws"], normal_critical(level), truth, out, status, rng,
    )  # fmt: skip


def _run_staggered(batch, truth, options, level, out, status, method, rng=None):
    staggered_kernel(
        batch["panel_y"], batch["cohort"], method, SE_CODES[options["se"]], options["draws"], normal_critical(level),
        truth, out, status, rng,
    )  # fmt: skip


def _needs_periods(shapes, options):
    t = shapes["panel_y"][1]
    return None if t >= 3 else f"synthdid's noise level needs two pre-periods and one post-period (this panel has {t})"


# 1: the Frank-Wolfe step from the Gram matrix alone, ‖Ax − b‖² carried by its change (1.5× faster; numbers
#    move by up to 2e-10 relative, synthdid-py still equal to 1e-8)
SOLVER_REVISION = 1


def _declare(name, method, summary):
    return Estimator(
        name=name,
        summary=summary,
        needs=NEEDS,
        run=partial(_run, method=method),
        reference=partial(reference_synth, method=method),
        options=(SE, DRAWS),
        diagnostics=DIAGNOSTICS,
        applies=_needs_periods,
        resampling=True,
        revision=SOLVER_REVISION,
    )


def _declare_staggered(name, method, summary):
    return Estimator(
        name=name,
        summary=summary,
        needs=("panel_y", "cohort"),
        run=partial(_run_staggered, method=method),
        reference=partial(reference_staggered, method=method),
        options=(STAGGERED_SE, DRAWS),
        diagnostics=("cohorts",),
        applies=_needs_periods,
        resampling=True,
        revision=SOLVER_REVISION,
    )


MC = Estimator(
    name="mc",
    summary="nuclear-norm matrix completion with unit and period effects, λ cross-validated (MCPanel's mcnnm_cv)",
    needs=NEEDS,
    run=run_mc,
    reference=reference_mc,
    options=(
        Setting("se", "placebo", "the vignette's placebo se: controls relabelled as treated, each draw refitted",
                choices=("placebo",)),  # fmt: skip
        Setting("draws", 50, "B, placebo draws, each a cross-validated fit (the vignette's 200 cost 4× the time)",
                kind=int, minimum=2),  # fmt: skip
        Setting("lambdas", 20, "λ values on the grid (the vignette's num_lam_L; the last is 0)", kind=int, minimum=3),
    ),
    diagnostics=("lambda", "rank"),
    applies=_needs_periods,
    resampling=True,
)

ESTIMATORS = (
    _declare("sdid", SDID, "synthetic difference-in-differences (Arkhangelsky et al. 2021; R synthdid)"),
    _declare("sc", SC, "synthetic control: unit weights without intercept, no time weights (synthdid's sc_estimate)"),
    _declare("difp", DIFP, "de-meaned synthetic control (the paper's DIFP): unit weights with an intercept, uniform "
             "time weights"),  # fmt: skip
    MC,
    _declare_staggered("sdid_staggered", SDID, "synthetic difference-in-differences under staggered adoption: sdid "
                       "per adoption cohort against the never treated, weighted by treated cells (Stata sdid)"),
    _declare_staggered("sc_staggered", SC, "synthetic control under staggered adoption: sc per adoption cohort "
                       "against the never treated, weighted by treated cells (Stata sdid, method(sc))"),
)
