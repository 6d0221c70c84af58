"""rd's bandwidth selectors, fuzzy, kink and clustered designs ≡ its twin ≡ rdrobust 2.1.1 (Python), to 1e-8.

Conventions held to rdrobust (``rdrobust(y, x, c=0, p=p, q=p+1, deriv=ν, fuzzy=t, cluster=g, bwselect=...,
masspoints=..., kernel=..., vce=...)``), each batched over several random datasets in one test:

- bandwidths: rdbwselect's ten methods with stdvars, bwrestrict, scaleregul 1; ``masspoints = "adjust"`` (pilot
  from the distinct x, bwcheck 10 when a side has ≥ 20 % repeated x) or ``"off"`` (pilot from N, no floor);
  h and b on each side (rdrobust's ``bws``), the cer rules scaling h by N^(−p/((3+p)(3+2p))) (G₋+G₊ clusters);
- kink: ``deriv = 1`` estimates ν!·(β₊[ν] − β₋[ν]) with ν!² in the variance;
- fuzzy: the local Wald ratio, its bias correction through s = (1/τ_T, −τ_Y/τ_T²), the delta-method variances;
  the first stage's three rows are rdrobust's ``tau_T``, ``se_T``, ``ci_T``;
- covariates (``covs``): one γ for both sides from the h-weighted partialled cross-products, each row the sharp
  (or fuzzy) one of y − z'γ; the bandwidths partial z out on each pilot window; collinear covariates dropped
  (``covs_drop``): the same projection;
- clusters: rdrobust's CR1 for vce nn, hc0, hc1, cr1 alike (plain residuals, (n−1)/(n−k)·G/(G−1) per side with
  n, G the side's window units and clusters and k = p+1 or q+1); cr2 (also hc2) and cr3 (also hc3): each cluster's
  plain residuals adjusted by (I − H_gg)^(−1/2) (principal root) or (I − H_gg)⁻¹, H_gg the cluster's block of the
  hat matrix of the p fit with h (conventional) or the q fit with b (robust, also when h ≠ b), no further factor.

Tolerance: 1e-8 relative, except that an estimate or interval end is held to 1e-8·(|value| + se): the estimate is a
difference of two intercepts (or slopes) of fits in powers of x whose Gram matrices are ill-conditioned at
p = 2 (powers up to x⁶ in a narrow window), so where the two sides nearly cancel (τ̂ ≈ 1e-4) rdrobust's QR and
Cholesky inverses and ours agree to ~1e-12 absolutely, not to 1e-8 of the tiny difference.
"""

import warnings

import numpy as np
from conftest import assert_close, run_estimator, st
from rdrobust import rdrobust

from causalmc.estimators.rd.conventions import BWSELECT


def designs(rng, n_reps, n, ties=False, clusters=0):
    """x = 2·Beta(2, 4) − 1 (on a 0.01 grid with `ties`), a take-up t with a jump of 0.5 and non-compliance on both
    sides, y with a kink and a jump, heteroskedastic noise; cluster ids 0 … G − 1 with a shared shock."""
    x = 2 * rng.beta(2, 4, (n_reps, n)) - 1
    if ties:
        x = np.round(x, 2)
    t = (rng.uniform(size=(n_reps, n)) < 0.2 + 0.5 * (x >= 0) + 0.2 * x).astype(float)
    g = rng.integers(0, clusters, (n_reps, n)) if clusters else np.zeros((n_reps, n), int)
    shock = rng.standard_normal((n_reps, max(clusters, 1)))
    noise = (0.1 + 0.2 * np.abs(x)) * rng.standard_normal((n_reps, n)) + 0.1 * np.take_along_axis(shock, g, 1)
    z = 0.5 * x + rng.standard_normal((n_reps, n))  # continuous at the cutoff
    dummy = (rng.uniform(size=(n_reps, n)) < 0.4).astype(float)
    y = 0.4 + 0.8 * x - 1.5 * x**2 + 0.6 * x * (x >= 0) + 0.3 * t + 0.2 * z - 0.1 * dummy + noise
    return {"x": x, "y": y, "takeup": t, "cluster": g, "z": z, "dummy": dummy, "both": z + dummy}


def fit(batch, r, options):
    """rdrobust on replication r with the estimator's options."""
    kwargs = {k: options[k] for k in ("p", "deriv", "kernel", "vce", "bwselect", "masspoints") if k in options}
    if "h" in options:
        kwargs |= {"h": options["h"], "b": options.get("b", options["h"])}
    if "fuzzy" in options:
        kwargs["fuzzy"] = batch["takeup"][r]
    if "cluster" in options:
        kwargs["cluster"] = batch["cluster"][r]
    if "covs" in options:
        kwargs["covs"] = np.column_stack([batch[name][r] for name in options["covs"]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rdrobust(batch["y"][r], batch["x"][r], c=0, **kwargs)


def close_rows(actual, expected, what):
    """Rows (estimate, se, ci_low, ci_high): se to 1e-8 relative, the others to 1e-8·(|value| + se)."""
    assert_close(actual[:, 1], expected[:, 1], what=f"{what} se")
    scale = np.abs(expected[:, [0, 2, 3]]) + expected[:, [1]]
    bad = np.abs(actual[:, [0, 2, 3]] - expected[:, [0, 2, 3]]) > 1e-8 * scale
    assert not bad.any(), f"{what}: {actual[:, [0, 2, 3]][bad]} != {expected[:, [0, 2, 3]][bad]}"


def check(batch, options, n_reps, what):
    """Kernel ≡ twin ≡ rdrobust: rows, h and b on each side, N_h, the first stage's rows."""
    out, status = run_estimator("rd", batch, options, 0.95, None)
    ref, ref_status = run_estimator("rd", batch, options, 0.95, None, reference=True)
    assert (status == st.OK).all() and (ref_status == st.OK).all(), (status, ref_status)
    assert_close(out[:, :, 5:], ref[:, :, 5:], what=f"{what} {options} diagnostics, kernel vs twin")
    for r in range(n_reps):
        for j in range(out.shape[1]):
            close_rows(out[r, j : j + 1, :4], ref[r, j : j + 1, :4], what=f"{what} {options} kernel vs twin")
    for r in range(n_reps):
        got = fit(batch, r, options)
        rows = np.column_stack([got.coef.values[:, 0], got.se.values[:, 0], got.ci.values])
        close_rows(out[r, :3, :4], rows, what=f"{what} {options} rows")
        bws = got.bws.values  # rows h, b; columns left, right
        assert_close(out[r, 0, [5, 9, 6, 10]], [bws[0, 0], bws[0, 1], bws[1, 0], bws[1, 1]], what=f"{what} h, b")
        assert_close(out[r, 0, 7:9], np.asarray(got.N_h, float), what=f"{what} N_h")
        if "fuzzy" in options:
            first = np.column_stack([got.tau_T.values[:, 0], got.se_T.values[:, 0], got.ci_T.values])
            close_rows(out[r, 3:, :4], first, what=f"{what} {options} first stage")
    return out


def test_every_bandwidth_selector_equals_rdrobust(rng, capsys):
    """Each of rdbwselect's ten methods (kernels, vce, p = 1, 2 in turn) on continuous x, and with x on a 0.01 grid
    under masspoints adjust and off: h₋, h₊, b₋, b₊ and the three rows equal rdrobust's."""
    kernels, vces = ("triangular", "epanechnikov", "uniform"), ("nn", "hc0", "hc1", "hc2", "hc3")
    continuous, tied = designs(rng, 2, 400), designs(rng, 2, 400, ties=True)
    for i, method in enumerate(BWSELECT[1:]):
        options = {"bwselect": method, "kernel": kernels[i % 3], "vce": vces[i % 5], "p": 1 + i % 2}
        check(continuous, options, 2, "continuous x")
        check(tied, options | {"masspoints": ("adjust", "off")[i % 2]}, 2, "x with mass points")
    capsys.readouterr()  # rdrobust prints its mass-point notice


def test_kink_and_fuzzy_designs_equal_rdrobust(rng, capsys):
    """deriv = 1 (sharp and fuzzy kink, p = 2 and p = 1), fuzzy jumps with fixed h, b and with mserd, msetwo,
    cerrd, with and without mass points: rows and the first stage's rows equal rdrobust's."""
    batch, tied = designs(rng, 3, 500), designs(rng, 2, 500, ties=True)
    cases = [
        ({"deriv": 1, "p": 2, "h": 0.5, "b": 0.7}, batch),
        ({"deriv": 1, "p": 2, "bwselect": "mserd", "vce": "hc1"}, batch),
        ({"deriv": 1, "p": 1, "bwselect": "msetwo", "fuzzy": "takeup", "vce": "hc2"}, batch),
        ({"fuzzy": "takeup", "h": 0.35, "b": 0.5, "kernel": "uniform"}, batch),
        ({"fuzzy": "takeup", "bwselect": "mserd"}, batch),
        ({"fuzzy": "takeup", "bwselect": "cerrd", "vce": "hc3", "kernel": "epanechnikov"}, tied),
        ({"fuzzy": "takeup", "bwselect": "certwo", "vce": "hc0", "p": 2}, tied),
    ]
    for options, data in cases:
        out = check(data, options, data["x"].shape[0], "kink/fuzzy")
        assert out.shape[1] == (6 if "fuzzy" in options else 3)
    capsys.readouterr()


def test_clustered_variance_equals_rdrobust(rng, capsys):
    """cluster with vce nn, hc0, hc1 (all rdrobust's CR1), fixed bandwidths and mserd, cerrd (G₋+G₊ in the cer
    rule), msetwo; sharp and fuzzy: rows and bandwidths equal rdrobust's."""
    batch = designs(rng, 3, 400, clusters=40)
    cases = [
        {"cluster": "cluster", "h": 0.4},
        {"cluster": "cluster", "h": 0.3, "b": 0.5, "vce": "hc0", "p": 2},
        {"cluster": "cluster", "bwselect": "mserd", "vce": "hc1"},
        {"cluster": "cluster", "bwselect": "cerrd"},
        {"cluster": "cluster", "bwselect": "msetwo", "kernel": "uniform"},
        {"cluster": "cluster", "fuzzy": "takeup", "bwselect": "mserd"},
    ]
    for options in cases:
        check(batch, options, 3, "clustered")
    capsys.readouterr()


def spread_clusters(batch, n_clusters):
    """The same data with unit i of rank k in x in cluster k mod G: every cluster spans the whole range of x."""
    ranks = np.argsort(np.argsort(batch["x"], axis=1), axis=1)
    return batch | {"cluster": ranks % n_clusters}


def test_cr2_and_cr3_equal_rdrobust(rng, capsys):
    """vce cr2 and cr3 (and hc2, hc3, rdrobust's aliases with a cluster): h = b, h < b, h > b, p = 1, 2, a kink,
    fuzzy designs, covariates, mserd, msetwo, cerrd and msecomb2 (the selector's fits adjusted with their own
    leverage): rows, the first stage's rows and the bandwidths equal rdrobust's on random clusters (40 on 400
    units).  cr2 with h > b on clusters spread over x (cluster = rank of x mod 8): where a cluster has units in the
    h-window but fewer than q + 1 distinct x in the b-window, rdrobust's eigen-decomposition of the cluster's
    rank-deficient Gram keeps or drops numerically null directions by rounding (its se then moves with the units of
    x: `test_cr2_with_h_above_b_is_invariant_to_the_units_of_x`); the kernel takes the principal (I − H_gg)^(−1/2)."""
    batch = designs(rng, 3, 400, clusters=40)
    spread = spread_clusters(designs(rng, 3, 400, clusters=8), 8)
    cases = [
        ({"vce": "cr2", "h": 0.4}, batch),
        ({"vce": "cr3", "h": 0.4, "kernel": "uniform"}, batch),
        ({"vce": "cr2", "h": 0.3, "b": 0.5, "p": 2}, batch),
        ({"vce": "hc3", "h": 0.5, "b": 0.3, "deriv": 1, "p": 2}, batch),
        ({"vce": "cr2", "h": 0.5, "b": 0.3, "kernel": "epanechnikov"}, spread),
        ({"vce": "hc2", "h": 0.6, "b": 0.4, "p": 2, "fuzzy": "takeup"}, spread),
        ({"vce": "cr3", "h": 0.35, "b": 0.5, "fuzzy": "takeup", "covs": ["z"]}, batch),
        ({"vce": "cr2", "bwselect": "mserd"}, batch),
        ({"vce": "cr3", "bwselect": "mserd", "p": 2}, batch),
        ({"vce": "cr2", "bwselect": "msetwo", "fuzzy": "takeup"}, batch),
        ({"vce": "cr3", "bwselect": "cerrd", "covs": ["z", "dummy"]}, batch),
        ({"vce": "cr2", "bwselect": "msecomb2", "fuzzy": "takeup", "covs": ["z"]}, batch),
    ]
    for options, data in cases:
        check(data, options | {"cluster": "cluster"}, 3, "cr2/cr3")
    capsys.readouterr()


def test_cr2_with_h_above_b_is_invariant_to_the_units_of_x(rng):
    """cr2 with h > b on small clusters (40 on 400 units): the kernel's (and twin's) rows with x, h, b multiplied by
    0.5, 2 and 10 equal those at scale 1 to 1e-10 (the se of an estimate does not depend on the units of x)."""
    batch = designs(rng, 2, 400, clusters=40)
    options = {"vce": "cr2", "h": 0.5, "b": 0.3, "cluster": "cluster"}
    base, status = run_estimator("rd", batch, options, 0.95, None)
    assert (status == st.OK).all()
    for scale in (0.5, 2.0, 10.0):
        scaled = batch | {"x": scale * batch["x"]}
        moved = options | {"h": 0.5 * scale, "b": 0.3 * scale}
        for reference in (False, True):
            out, _ = run_estimator("rd", scaled, moved, 0.95, None, reference=reference)
            assert_close(out[:, :, :4], base[:, :, :4], rtol=1e-10, what=f"cr2 at scale {scale}")


def test_a_cluster_with_all_the_leverage_is_a_status(rng):
    """cr2 and cr3 need every I − H_gg invertible: on the right of the cutoff one cluster holds every unit but one
    of the window, so the others have fewer than p + 1 = 2 distinct x: ``leverage_one`` (NaN rows) from kernel and
    twin, where cr1 still gives numbers; with mserd, the selector's fits meet the same: ``singular``."""
    batch = designs(rng, 2, 300, clusters=10)
    right = batch["x"] >= 0
    first_right = np.argmin(np.where(right, batch["x"], np.inf), axis=1)  # the unit nearest the cutoff on the right
    g = np.where(right, 10, batch["cluster"])
    g[np.arange(2), first_right] = 11
    batch = batch | {"cluster": g}
    for vce in ("cr2", "cr3"):
        for options, code in (({"h": 0.4}, st.LEVERAGE_ONE), ({"bwselect": "mserd"}, st.SINGULAR)):
            options = options | {"vce": vce, "cluster": "cluster"}
            for reference in (False, True):
                out, status = run_estimator("rd", batch, options, 0.95, None, reference=reference)
                assert (status == code).all() and np.isnan(out[:, :, :4]).all(), (options, status)
    _, status = run_estimator("rd", batch, {"vce": "cr1", "h": 0.4, "cluster": "cluster"}, 0.95, None)
    assert (status == st.OK).all()


def test_covariate_adjustment_equals_rdrobust(rng, capsys):
    """covs (a continuous covariate, a dummy, and a third collinear with them, which rdrobust's covs_drop removes)
    with fixed bandwidths, mserd, msetwo, cerrd, with a kink, a fuzzy design and clusters: rows and bandwidths
    equal rdrobust's."""
    batch = designs(rng, 3, 500, clusters=50)
    cases = [
        {"covs": ["z"], "h": 0.4, "b": 0.6},
        {"covs": ["z", "dummy"], "bwselect": "mserd"},
        {"covs": ["z", "dummy", "both"], "bwselect": "mserd", "vce": "hc1"},
        {"covs": ["z"], "bwselect": "msetwo", "vce": "hc2", "kernel": "epanechnikov"},
        {"covs": ["dummy", "z"], "bwselect": "cerrd", "p": 2, "deriv": 1},
        {"covs": ["z", "dummy"], "fuzzy": "takeup", "bwselect": "mserd", "vce": "hc3"},
        {"covs": ["z"], "cluster": "cluster", "fuzzy": "takeup", "bwselect": "msesum"},
    ]
    for options in cases:
        check(batch, options, 3, "covariates")
    capsys.readouterr()
