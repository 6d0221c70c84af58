"""mc: nuclear-norm matrix completion with unit and period effects, held to the optimality conditions of its convex
program and to cvxpy's solution of it.

Convention (MCPanel's ``mcnnm_fit``): min (1/|Ω|)·Σ_Ω (Y − L − u1' − 1v')² + λ‖L‖_* over the observed cells Ω
(all but the treated block).  causaltensor, the issue's suggested oracle, pins numpy < 2 (its 0.1.12 wheel
downgrades numpy to 1.26, which the test extra's doubleml refuses), so cvxpy (Clarabel, an interior-point
solver) solves the same program instead; its tolerance (~1e-8 on the objective) bounds the agreement of the
fitted values at 1e-5.  The kernel's cyclic updates, run to convergence, meet the KKT conditions to 1e-7.
"""

import cvxpy as cp
import numpy as np
import pytest
from conftest import assert_close, kernel_and_twin

from causalmc.estimators import status as st
from causalmc.estimators.synth import completion


@pytest.fixture(scope="module")
def panel():
    """A rank-2 panel with unit and period effects and noise, 12 × 10, the last 3 units missing from period 8 on."""
    rng = np.random.default_rng(31)
    y = rng.normal(size=(12, 2)) @ rng.normal(size=(2, 10)) + rng.normal(size=(12, 1)) + rng.normal(size=(1, 10))
    y += 0.3 * rng.normal(size=(12, 10))
    mask = np.ones((12, 10))
    mask[9:, 7:] = 0.0
    return y, mask


def converged(y, mask, lam):
    """The kernel's updates from the two-way fit, 20,000 rounds with no relative-decrease stop: (L, u, v, rank)."""
    u, v, lam_max = completion.initial_effects(y, mask)
    low = np.zeros_like(y)
    rank = completion.fit_at(y, mask, low, u, v, lam * lam_max, 20_000, -1.0)
    return low, u, v, rank, lam_max


@pytest.mark.parametrize("share", [0.05, 0.2])
def test_the_fit_meets_the_optimality_conditions(panel, share):
    """At λ = share·λ_max: the residual R = P_Ω(Y − L − u − v) sums to zero in every row and column (u, v optimal),
    and G = 2R/(λ|Ω|) is a subgradient of ‖·‖_* at L = U S V': U'GV = I, U'G(I − VV') = 0, (I − UU')GV = 0 and
    ‖(I − UU')G(I − VV')‖₂ ≤ 1."""
    y, mask = panel
    low, u, v, rank, lam_max = converged(y, mask, share)
    lam = share * lam_max
    resid = mask * (y - low - u[:, None] - v[None, :])
    scale = np.abs(y).max()
    assert np.abs(resid.sum(axis=1)).max() < 1e-9 * scale and np.abs(resid.sum(axis=0)).max() < 1e-9 * scale
    left, sing, right = np.linalg.svd(low)
    assert 0 < rank < min(y.shape) and np.all(sing[rank:] < 1e-9 * sing[0])
    U, V = left[:, :rank], right[:rank].T
    G = 2 * resid / (lam * mask.sum())
    assert_close(U.T @ G @ V, np.eye(rank), rtol=1e-7)
    assert np.abs(U.T @ G @ (np.eye(10) - V @ V.T)).max() < 1e-7
    assert np.abs((np.eye(12) - U @ U.T) @ G @ V).max() < 1e-7
    assert np.linalg.norm((np.eye(12) - U @ U.T) @ G @ (np.eye(10) - V @ V.T), 2) <= 1 + 1e-7


def test_the_fit_equals_cvxpys_solution_of_the_same_program(panel):
    """cvxpy (Clarabel, gap and feasibility tolerances 1e-10) on min (1/|Ω|)‖P_Ω(Y − L − u1' − 1v')‖² + λ‖L‖_*:
    our objective is no larger than its (up to 1e-10), and the fitted L + u1' + 1v' agree to 1e-5 of the panel's
    scale on every cell, the treated block's counterfactuals included (at Clarabel's default tolerances its
    solution is 7e-5 away; at 1e-10, 4e-7: the bound is its accuracy, not ours)."""
    y, mask = panel
    low, u, v, rank, lam_max = converged(y, mask, 0.1)
    lam = 0.1 * lam_max
    L, a, b = cp.Variable(y.shape), cp.Variable(12), cp.Variable(10)
    fitted = L + cp.reshape(a, (12, 1), order="C") @ np.ones((1, 10))
    fitted = fitted + np.ones((12, 1)) @ cp.reshape(b, (1, 10), order="C")
    objective = cp.sum_squares(cp.multiply(mask, y - fitted)) / mask.sum() + lam * cp.normNuc(L)
    cp.Problem(cp.Minimize(objective)).solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    ours = low + u[:, None] + v[None, :]

    def value(fit, low_rank):
        return np.sum((mask * (y - fit)) ** 2) / mask.sum() + lam * np.linalg.svd(low_rank, compute_uv=False).sum()

    assert value(ours, low) <= value(fitted.value, L.value) + 1e-10
    assert np.abs(ours - fitted.value).max() < 1e-5 * np.abs(y).max()


def test_lambda_max_is_where_l_starts_to_move(panel):
    """From the two-way fit, L stays 0 at λ_max = 2σ_max(P_Ω(Y − u − v))/|Ω| (SVT's threshold λ|Ω|/2 reaches the
    largest singular value) and not below it."""
    y, mask = panel
    u, v, lam_max = completion.initial_effects(y, mask)
    for factor, moves in ((1.0, False), (0.9, True)):
        low = np.zeros_like(y)
        rank = completion.fit_at(y, mask, low, u.copy(), v.copy(), factor * lam_max, 400)
        assert (rank > 0) == moves and (np.abs(low).max() > 0) == moves


def test_the_lambda_grid_is_mcpanels():
    """lambdas − 1 values log-spaced from λ_max to λ_max/1000, then 0."""
    grid = completion.lambda_grid(2.0, 5)
    assert_close(grid, [2.0, 0.2, 0.02, 0.002, 0.0])
    assert_close(completion.lambda_grid(0.5, 20)[[0, 18, 19]], [0.5, 0.5e-3, 0.0])


def test_kernel_equals_twin_and_statuses():
    """The cross-validated fit and its placebo se, kernel and twin alike on three panels; N0 ≤ N1 few_controls,
    no pre-period no_variation."""
    rng = np.random.default_rng(8)
    y = rng.normal(size=(4, 9, 7)) + rng.normal(size=(4, 9, 1))
    treated = np.zeros((4, 9))
    treated[:, 6:] = 1.0
    treated[2, 3:] = 1.0  # 3 controls, 6 treated
    batch = {"panel_y": y, "treated": treated, "start": np.array([5, 6, 5, 1])}
    out, status = kernel_and_twin("mc", batch, {"draws": 3, "lambdas": 6}, all_ok=False)
    assert list(status) == [st.OK, st.OK, st.FEW_CONTROLS, st.NO_VARIATION]
    assert (out[:2, 1] > 0).all() and (out[:2, completion.LAMBDA] >= 0).all()


SCENARIO = """\
name = "mc_seam"
dgp = "did_panel"
reps = 4
seed = 21
chunk_size = 2
estimators = [{ name = "mc", draws = 5, lambdas = 6 }]
[params]
n_units = 12
n_periods = 8
treated_share = 0.25
start_min = 5
start_max = 7
tau = 1.0
"""


def test_mc_through_run_and_estimate(tmp_path):
    """causalmc.run: every record ok with the chosen λ ≥ 0 and the rank of L in [0, 8] and τ̂ ± 1.96·se;
    causalmc.estimate on a sampled frame equals the twin on the frame's arrays with the same seed (to 1e-8)."""
    import causalmc

    path = tmp_path / "mc.toml"
    path.write_text(SCENARIO)
    records = causalmc.run(path, out=tmp_path / "out", progress=False, figures=False).records()
    assert len(records) == 4 and (records["status"] == "ok").all()
    assert (records["lambda"] >= 0).all() and records["rank"].between(0, 8).all()
    assert np.allclose(records["ci_high"] - records["ci_low"], 2 * 1.959963984540054 * records["se"])
    frame = causalmc.sample(path, rep=2)
    result = causalmc.estimate("mc", frame, draws=5, lambdas=6, seed=3)
    wide = frame.pivot(index="unit", columns="period", values="y").to_numpy()
    batch = {
        "panel_y": wide[None],
        "treated": frame.groupby("unit")["treated"].first().to_numpy()[None],
        "start": np.array([int(frame["start"].iloc[0])]),
    }
    out = np.empty((1, 7))
    status = np.empty(1, np.int8)
    completion.reference_mc(batch, np.zeros(1), {"draws": 5, "lambdas": 6}, 0.95, out, status, np.random.default_rng(3))
    assert result["status"] == "ok" and status[0] == st.OK
    assert_close([result["estimate"], result["se"], result["lambda"], result["rank"]], out[0, [0, 1, 5, 6]])
