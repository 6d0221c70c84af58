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
- clusters: rdrobust's CR1 for vce nn, hc0, hc1 alike (plain residuals, (n−1)/(n−k)·G/(G−1) per side with n, G
  the side's window units and clusters and k = p+1 or q+1).

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
    return {"x": x, "y": y, "treatment": t, "cluster": g, "z": z, "dummy": dummy, "both": z + dummy}


def fit(batch, r, options):
    """rdrobust on replication r with the estimator's options."""
    kwargs = {k: options[k] for k in ("p", "deriv", "kernel", "vce", "bwselect", "masspoints") if k in options}
    if "h" in options:
        kwargs |= {"h": options["h"], "b": options.get("b", options["h"])}
    if "fuzzy" in options:
        kwargs["fuzzy"] = batch["treatment"][r]
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
        ({"deriv": 1, "p": 1, "bwselect": "msetwo", "fuzzy": "treatment", "vce": "hc2"}, batch),
        ({"fuzzy": "treatment", "h": 0.35, "b": 0.5, "kernel": "uniform"}, batch),
        ({"fuzzy": "treatment", "bwselect": "mserd"}, batch),
        ({"fuzzy": "treatment", "bwselect": "cerrd", "vce": "hc3", "kernel": "epanechnikov"}, tied),
        ({"fuzzy": "treatment", "bwselect": "certwo", "vce": "hc0", "p": 2}, tied),
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
        {"cluster": "cluster", "fuzzy": "treatment", "bwselect": "mserd"},
    ]
    for options in cases:
        check(batch, options, 3, "clustered")
    capsys.readouterr()


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
        {"covs": ["z", "dummy"], "fuzzy": "treatment", "bwselect": "mserd", "vce": "hc3"},
        {"covs": ["z"], "cluster": "cluster", "fuzzy": "treatment", "bwselect": "msesum"},
    ]
    for options in cases:
        check(batch, options, 3, "covariates")
    capsys.readouterr()
