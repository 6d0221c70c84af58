"""Inference that survives few clusters or few treated units, for two-way fixed effects with a common start.

The unit-level form.  With a common start the twfe regressor is
D̈_it = c_i·h_t (c_i = d_i − d̄ the centred treatment, h_t = post_t − P̄),
so the D coefficient, its residuals' unit scores and everything below
depend on the outcome only through the unit contrasts
z_i = Σ_t h_t ÿ_it (ÿ two-way demeaned; z is centred over units):

    γ̂ = Σ c_i z_i / S_c,   S_c = Σ c_i²,   β̂ = γ̂ / Σ_t h_t²,
    r = M z,   M x = x − x̄ − c·Σ c_i x_i / S_c   (residual maker of [1, c]),

and unit i's CR1 score is c_i·r_i·(Σ h_t²).  The twfe regression is the
regression of z on [1, c] across units, scores weighted by c.

``cr2``  Bell & McCaffrey (2002) CR2 by unit with their Satterthwaite
degrees of freedom under the working model of independent homoskedastic
errors (K_BM of Imbens & Kolesár 2016; clubSandwich ``coef_test(vcov =
"CR2", test = "Satterthwaite")`` on ``lm`` with unit and period dummies;
fixtures in ``tests/fixtures/twfe_cr2/``).
Unit i's block of I − H is (1 − 1/G)(I − J/T) − c_i²h h'/(S_c Σh²); its
pseudo-inverse square root (the zero eigenvalue along 1, from the unit's
own dummy, dropped as clubSandwich drops eigenvalues ≤ 1e-12) maps D̈_i
to D̈_i/√m_i, m_i = 1 − 1/G − c_i²/S_c, so

    V_CR2 = Σ_i c_i² r_i² / m_i / S_c²      (in γ units),

and a unit with m_i ≤ 1e-12 (the one treated unit when only one is)
contributes nothing, as with clubSandwich.  The degrees of freedom
ν = (tr M_BM)² / tr(M_BM²) with the G × G matrix
M_BM = diag(α²) − αα'/G − u u'/S_c, α_i = c_i/√m_i, u_i = α_i c_i
(the Gram matrix of the CR2 contrast vectors under the working model),
each trace in O(G).

``wild``  The restricted wild cluster bootstrap (WCR, MacKinnon & Webb;
boottest, wildboottest ``impose_null=True``, ``bootstrap_type="11"``): for
a null γ0, unit i's restricted residual contrast z_i − γ0 c_i is multiplied
by a weight v_i (Rademacher ±1, or Webb's six points ±√(1/2), ±1, ±√(3/2));
the bootstrap t is Σ c w / √(Σ c² (M w)²) with w = v ∘ (z − γ0 c), the
CR1 factor cancelling.  p(γ0) = #{b : |t*_b| > |t(γ0)|}/B, strict as in
wildboottest; Rademacher weights are enumerated (2^G patterns) when
2^G ≤ B.
``ri``  Randomization inference: the treatment assignment permuted across
units (B permutations), the t statistic of the sharp null y(0) = y − γ0·D̈
recomputed with the permuted c;
p(γ0) = (1 + #{π : |t_π| ≥ |t(γ0)|}) / (B + 1).

``pairs``  The pairs cluster bootstrap-t (`pairs_test`): whole units
resampled with replacement, symmetric percentile-t interval.

The wild and ri t statistics are (a − γ0·b) / √(q0 − 2γ0·q1 + γ0²·q2) with five
numbers per draw, so p(γ0) costs O(B) once they are stored.  ``reject``
tests the truth (p ≤ α); the interval is {γ0 : p(γ0) > α} found by
bisection outward from γ̂ (where p = 1), each bound to 2⁻⁵² of its
bracket; infinite when p stays above α (say, too few distinct draws).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..inference import write_failure
from ..spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE
from .conventions import panel_dummies

RADEMACHER, WEBB = 0, 1
WEIGHTS = {"rademacher": RADEMACHER, "webb": WEBB}
WILD, RI, PAIRS = 0, 1, 2
TIE = 1e-10  # |t_b| and |t0| within this relative distance tie (v = ±1, permutations within a group)
DOF, P_VALUE = 5, 6  # twfe's diagnostic columns
EIGEN_TOLERANCE = 1e-12  # clubSandwich: eigenvalues of a cluster's I − H at or below this count as 0
BISECTIONS = 52
EXPANSIONS = 20  # doublings of the bracket (to 2^21 CR1 standard errors) before a bound is declared infinite
WEBB_POINTS = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])


@njit(cache=True)
def cr2_unit_level(c, r, s_c):
    """CR2 variance of γ̂ (times S_c², before dividing) and the Bell–McCaffrey degrees of freedom.

    Parameters
    ----------
    c : float64 array, shape (G,)
        Centred treatment c_i = d_i − d̄.
    r : float64 array, shape (G,)
        Residual contrasts r = M z.
    s_c : float
        S_c = Σ c_i².

    Returns
    -------
    meat : float
        Σ_i c_i² r_i² / m_i, so that V_CR2(γ̂) = meat / S_c².
    nu : float
        (tr M_BM)² / tr(M_BM²); NaN when every contrast vanishes.
    """
    g = c.shape[0]
    meat = 0.0
    sum_a2 = 0.0
    sum_a4 = 0.0
    sum_u2 = 0.0
    sum_au = 0.0
    sum_a2u2 = 0.0
    for i in range(g):
        m = 1.0 - 1.0 / g - c[i] * c[i] / s_c
        if m <= EIGEN_TOLERANCE:
            continue  # pseudo-inverse: the direction is dropped
        meat += c[i] * c[i] * r[i] * r[i] / m
        a2 = c[i] * c[i] / m  # α_i²
        u2 = a2 * c[i] * c[i]  # u_i² = α_i²·c_i²
        sum_a2 += a2
        sum_a4 += a2 * a2
        sum_u2 += u2
        sum_au += a2 * c[i]  # α_i·u_i = α_i²·c_i
        sum_a2u2 += a2 * u2
    trace = sum_a2 * (1.0 - 1.0 / g) - sum_u2 / s_c
    frobenius = (
        sum_a4 * (1.0 - 2.0 / g)
        + sum_a2 * sum_a2 / (g * g)
        + sum_u2 * sum_u2 / (s_c * s_c)
        - 2.0 * sum_a2u2 / s_c
        + 2.0 * sum_au * sum_au / (g * s_c)
    )
    nu = trace * trace / frobenius if frobenius > 0.0 else math.nan
    return meat, nu


@njit(cache=True)
def _residualise(x, c, s_c, out):
    """out = M x: x minus its mean and its projection on c (c centred)."""
    g = x.shape[0]
    mean = 0.0
    cx = 0.0
    for i in range(g):
        mean += x[i]
        cx += c[i] * x[i]
    mean /= g
    slope = cx / s_c
    for i in range(g):
        out[i] = x[i] - mean - c[i] * slope


@njit(cache=True)
def _draw_coefficients(c_draw, p, q, s_c, mp, mq):
    """(a, b, q0, q1, q2) of one draw: numerator a − γ0·b and Σ c_draw²(M p − γ0·M q)² expanded."""
    _residualise(p, c_draw, s_c, mp)
    _residualise(q, c_draw, s_c, mq)
    a = 0.0
    b = 0.0
    q0 = 0.0
    q1 = 0.0
    q2 = 0.0
    for i in range(c_draw.shape[0]):
        w = c_draw[i] * c_draw[i]
        a += c_draw[i] * p[i]
        b += c_draw[i] * q[i]
        q0 += w * mp[i] * mp[i]
        q1 += w * mp[i] * mq[i]
        q2 += w * mq[i] * mq[i]
    return a, b, q0, q1, q2


@njit(cache=True)
def wild_weights(rng, weights_code, enumerate_signs, b, g, v):
    """Draw b's weights into v (G): Rademacher or Webb from one uniform each, or the b-th sign pattern."""
    if enumerate_signs:
        for i in range(g):
            v[i] = 1.0 if (b >> i) & 1 else -1.0
        return
    for i in range(g):
        u = rng.random()
        if weights_code == RADEMACHER:
            v[i] = 1.0 if u < 0.5 else -1.0
        else:
            v[i] = WEBB_POINTS[min(int(u * 6.0), 5)]


@njit(cache=True)
def permute(rng, c, keys, c_draw):
    """c_draw = c permuted by the order of G uniform keys (the same permutation numpy's argsort gives)."""
    g = c.shape[0]
    for i in range(g):
        keys[i] = rng.random()
    order = np.argsort(keys, kind="mergesort")
    for i in range(g):
        c_draw[i] = c[order[i]]


@njit(cache=True)
def resample(rng, method, weights_code, n_draws, c, z, s_c, coefficients):
    """Fill coefficients[:B] (B × 5) with every draw's (a, b, q0, q1, q2); return B (2^G when enumerating)."""
    g = c.shape[0]
    enumerate_signs = method == WILD and weights_code == RADEMACHER and g < 62 and (1 << g) <= n_draws
    n_used = (1 << g) if enumerate_signs else n_draws
    v = np.empty(g)
    p = np.empty(g)
    q = np.empty(g)
    mp = np.empty(g)
    mq = np.empty(g)
    c_draw = np.empty(g)
    for b in range(n_used):
        if method == WILD:
            wild_weights(rng, weights_code, enumerate_signs, b, g, v)
            for i in range(g):
                p[i] = v[i] * z[i]
                q[i] = v[i] * c[i]
            coefficients[b, :] = _draw_coefficients(c, p, q, s_c, mp, mq)
        else:
            permute(rng, c, v, c_draw)
            coefficients[b, :] = _draw_coefficients(c_draw, z, c, s_c, mp, mq)
    return n_used


@njit(cache=True)
def p_value(method, coefficients, n_used, observed, gamma0):
    """p(γ0) of the wild bootstrap (strict count over B) or of randomization inference ((1 + count)/(B + 1))."""
    a0, b0, q00, q01, q02 = observed
    num0 = abs(a0 - gamma0 * b0)
    den0 = math.sqrt(max(q00 - 2.0 * gamma0 * q01 + gamma0 * gamma0 * q02, 0.0))
    count = 0
    for b in range(n_used):
        a, bb, q0, q1, q2 = (
            coefficients[b, 0],
            coefficients[b, 1],
            coefficients[b, 2],
            coefficients[b, 3],
            coefficients[b, 4],
        )
        num = abs(a - gamma0 * bb)
        den = math.sqrt(max(q0 - 2.0 * gamma0 * q1 + gamma0 * gamma0 * q2, 0.0))
        # |t_b| vs |t0| cross-multiplied: a zero denominator is an infinite t, never a division.
        if method == WILD:
            count += num * den0 > num0 * den * (1.0 + TIE)
        else:
            count += num * den0 * (1.0 + TIE) >= num0 * den
    if method == WILD:
        return count / n_used
    return (1.0 + count) / (n_used + 1.0)


@njit(cache=True)
def inverted_bound(method, coefficients, n_used, observed, estimate, step, alpha, direction):
    """The end of {γ0 : p(γ0) > α} on one side of γ̂ (direction ±1): doubling, then bisection."""
    inside = estimate
    outside = estimate + direction * step
    expansions = 0
    while p_value(method, coefficients, n_used, observed, outside) > alpha:
        inside = outside
        step *= 2.0
        outside = estimate + direction * step
        expansions += 1
        if expansions > EXPANSIONS:
            return direction * math.inf
    for _ in range(BISECTIONS):
        middle = 0.5 * (inside + outside)
        if p_value(method, coefficients, n_used, observed, middle) > alpha:
            inside = middle
        else:
            outside = middle
    return 0.5 * (inside + outside)


@njit(cache=True)
def resampling_test(
    rng, method, weights_code, n_draws, c, z, s_c, scale, se, truth, alpha, coefficients, out, status, r
):
    """Write estimate, se (CR1), the inverted interval, the test of the truth and its p-value (out[r, 6]).

    ``scale`` = Σ h_t² converts γ to β; ``truth`` is on the β scale.
    """
    g = c.shape[0]
    # The observed statistic is the draw v = 1 (the identity permutation), computed the same way, so
    # that draws equal to it (v = ±1, permutations within the treated) tie with it exactly.
    observed = _draw_coefficients(c, z, c, s_c, np.empty(g), np.empty(g))
    if not (observed[2] > 0.0):
        write_failure(out, status, r, st.NO_VARIATION)
        return
    gamma = observed[0] / s_c
    n_used = resample(rng, method, weights_code, n_draws, c, z, s_c, coefficients)
    step = 2.0 * se * scale  # about one CR1 half-width: the first bracket
    out[r, ESTIMATE] = gamma / scale
    out[r, SE] = se
    out[r, CI_LOW] = inverted_bound(method, coefficients, n_used, observed, gamma, step, alpha, -1.0) / scale
    out[r, CI_HIGH] = inverted_bound(method, coefficients, n_used, observed, gamma, step, alpha, 1.0) / scale
    if math.isfinite(truth):
        p = p_value(method, coefficients, n_used, observed, truth * scale)
        out[r, REJECT] = 1.0 if p <= alpha else 0.0
        out[r, P_VALUE] = p
    else:
        out[r, REJECT] = math.nan
        out[r, P_VALUE] = math.nan
    status[r] = st.OK


@njit(cache=True)
def pairs_test(rng, n_draws, c, z, s_c, scale, se, truth, alpha, t_draws, out, status, r):
    """The pairs cluster bootstrap-t: whole units resampled with replacement, symmetric percentile-t interval.

    Each draw takes G units with replacement (unit ⌊G·u⌋ per uniform u),
    each copy its own unit and cluster, and refits the unit-level
    regression: t*_b = (γ*_b − γ̂)/se*_b with CR1 (its factor is the same
    for every draw and cancels).  A draw without treated or without control
    units, or with one distinct unit of each (a perfect fit), is left out.  With q the
    ⌈(1 − α)(B' + 1)⌉-th smallest |t*| of the B' usable draws, the interval
    is β̂ ± q·se and p(β0) = #{|t*_b| > |t(β0)|}/B'.  Fewer usable draws
    than 1/α is status ``no_variation``.
    """
    g = c.shape[0]
    index = np.empty(g, dtype=np.int64)
    seen = np.zeros(g, dtype=np.int64)
    gamma = 0.0
    q00 = 0.0
    for i in range(g):
        gamma += c[i] * z[i]
    gamma /= s_c
    for i in range(g):
        resid = z[i] - c[i] * gamma
        q00 += c[i] * c[i] * resid * resid
    n_used = 0
    for b in range(n_draws):
        d_mean = 0.0
        z_mean = 0.0
        distinct_treated = 0
        distinct_control = 0
        for i in range(g):
            index[i] = min(int(rng.random() * g), g - 1)
            d_mean += c[index[i]]
            z_mean += z[index[i]]
            if seen[index[i]] != b + 1:  # first copy of this unit in draw b
                seen[index[i]] = b + 1
                if c[index[i]] > 0.0:
                    distinct_treated += 1
                else:
                    distinct_control += 1
        # Unusable: no treated or no control unit, or one of each (a perfect fit, se* = 0).
        if distinct_treated == 0 or distinct_control == 0 or distinct_treated + distinct_control < 3:
            continue
        d_mean /= g
        z_mean /= g
        s_draw = 0.0
        cz = 0.0
        for i in range(g):
            dc = c[index[i]] - d_mean
            s_draw += dc * dc
            cz += dc * (z[index[i]] - z_mean)
        slope = cz / s_draw
        meat = 0.0
        for i in range(g):
            dc = c[index[i]] - d_mean
            resid = z[index[i]] - z_mean - dc * slope
            meat += dc * dc * resid * resid
        if not (meat > 0.0):
            continue
        t_draws[n_used] = abs(slope - gamma) * s_draw / math.sqrt(meat)
        n_used += 1
    if n_used * alpha < 1.0 or not (q00 > 0.0):
        write_failure(out, status, r, st.NO_VARIATION)
        return
    ordered = np.sort(t_draws[:n_used])
    rank = min(int(math.ceil((1.0 - alpha) * (n_used + 1))), n_used)
    crit = ordered[rank - 1]
    estimate = gamma / scale
    half_width = crit * math.sqrt(q00) / s_c / scale  # q times the se the draws' t used (no CR1 factor)
    out[r, ESTIMATE] = estimate
    out[r, SE] = se
    out[r, CI_LOW] = estimate - half_width
    out[r, CI_HIGH] = estimate + half_width
    if math.isfinite(truth):
        t0 = abs(gamma - truth * scale) * s_c / math.sqrt(q00)
        count = 0
        for b in range(n_used):
            count += ordered[b] > t0 * (1.0 + TIE)
        p = count / n_used
        out[r, REJECT] = 1.0 if p <= alpha else 0.0
        out[r, P_VALUE] = p
    else:
        out[r, REJECT] = math.nan
        out[r, P_VALUE] = math.nan
    status[r] = st.OK


# ---------------------------------------------------------------------------
# Plain reference twins: the full design with unit and period dummies, at the
# observation level, with explicit matrices (no unit-level shortcut).
# ---------------------------------------------------------------------------


def reference_cr2(X, y, unit, column=0):
    """CR2 by unit of coefficient `column` and its Bell–McCaffrey degrees of freedom, from the full matrices.

    Returns (estimate, se, nu).  A_g = (I − H)_gg^(−1/2) by eigendecomposition,
    eigenvalues ≤ 1e-12 dropped; ν = (tr Q'Q)²/tr((Q'Q)²) with
    q_g = (I − H)_{·g} A_g X_g (X'X)⁻¹ e_column.
    """
    n = X.shape[0]
    xtx_inv = np.linalg.inv(X.T @ X)
    beta = xtx_inv @ X.T @ y
    i_minus_h = np.eye(n) - X @ xtx_inv @ X.T
    resid = i_minus_h @ y
    row = xtx_inv[column]
    groups = np.unique(unit)
    terms, q = [], []
    for g in groups:
        idx = np.flatnonzero(unit == g)
        values, vectors = np.linalg.eigh(i_minus_h[np.ix_(idx, idx)])
        keep = values > EIGEN_TOLERANCE
        adjust = (vectors[:, keep] / np.sqrt(values[keep])) @ vectors[:, keep].T
        contrast = adjust @ X[idx] @ row  # A_g X_g (X'X)⁻¹ e_column
        terms.append(contrast @ resid[idx])
        q.append(i_minus_h[:, idx] @ contrast)
    q = np.column_stack(q)
    gram = q.T @ q
    nu = np.trace(gram) ** 2 / np.sum(gram * gram)
    return beta[column], math.sqrt(np.sum(np.square(terms))), nu


def reference_draws(rng, method, weights, n_draws, n_units):
    """The wild weights (B × G), the permutations or the resampled units (B × G unit indices), as the kernel draws."""
    if method == PAIRS:
        return np.minimum((rng.random((n_draws, n_units)) * n_units).astype(np.int64), n_units - 1)
    if method == WILD:
        if weights == "rademacher" and n_units < 62 and 2**n_units <= n_draws:
            patterns = np.arange(2**n_units)[:, None] >> np.arange(n_units)[None, :]
            return np.where(patterns & 1, 1.0, -1.0)
        u = rng.random((n_draws, n_units))
        return (
            np.where(u < 0.5, 1.0, -1.0) if weights == "rademacher" else WEBB_POINTS[np.minimum((u * 6).astype(int), 5)]
        )
    return np.argsort(rng.random((n_draws, n_units)), axis=1, kind="mergesort")


def _affine_t_parts(X, y_a, y_b, unit, column):
    """For outcomes y_a − β0·y_b regressed on X: coefficient `column` = n_a − β0·n_b and the unit scores s_a − β0·s_b."""
    xtx_inv = np.linalg.inv(X.T @ X)
    row = xtx_inv[column]
    coef = (X @ row) @ np.column_stack([y_a, y_b])
    resid = np.column_stack([y_a, y_b]) - X @ (xtx_inv @ X.T @ np.column_stack([y_a, y_b]))
    groups = np.unique(unit)
    scores = np.array([(X[unit == g] @ row) @ resid[unit == g] for g in groups])  # G × 2
    return coef, scores


def reference_resampling_parts(X, y, unit, treated, post, method, draws, column=0):
    """Each draw's (a, b, q0, q1, q2) and the observed ones, computed on the full design.

    The t statistic of a draw at β0 is (a − β0 b)/√(q0 − 2β0 q1 + β0² q2)
    (the CR1 factor, common to all, left out).  Wild: the restricted
    residuals ẽ = M₁(y − β0 D) (M₁ sweeps the dummies) multiplied by each
    unit's weight; the bootstrap coefficient minus β0 and its residuals are
    those of regressing v∘ẽ on X.  RI: y − β0·D regressed on the design
    with the treatment permuted across units.
    """
    d = X[:, column]
    dummies = np.delete(X, column, axis=1)
    swept_y, swept_d = ((np.eye(len(y)) - dummies @ np.linalg.pinv(dummies)) @ np.column_stack([y, d])).T

    def parts_of(draw):
        if method == WILD:
            v = draw[unit]
            coef, scores = _affine_t_parts(X, v * swept_y, v * swept_d, unit, column)
        else:
            permuted = X.copy()
            permuted[:, column] = treated[draw][unit] * post
            coef, scores = _affine_t_parts(permuted, y, d, unit, column)
        return coef[0], coef[1], scores[:, 0] @ scores[:, 0], scores[:, 0] @ scores[:, 1], scores[:, 1] @ scores[:, 1]

    # The observed statistic is the identity draw, computed the same way (exact ties, as in the kernel).
    observed = parts_of(np.ones(len(treated)) if method == WILD else np.arange(len(treated)))
    return np.array([parts_of(draw) for draw in draws]), observed


def reference_p_value(method, parts, observed, beta0):
    """p(β0) from the draws' parts, the ties rule of the kernel included."""
    a, b, q0, q1, q2 = parts.T
    num = np.abs(a - beta0 * b)
    den = np.sqrt(np.maximum(q0 - 2 * beta0 * q1 + beta0**2 * q2, 0.0))
    num0 = abs(observed[0] - beta0 * observed[1])
    den0 = math.sqrt(max(observed[2] - 2 * beta0 * observed[3] + beta0**2 * observed[4], 0.0))
    if method == WILD:
        return np.count_nonzero(num * den0 > num0 * den * (1 + TIE)) / len(parts)
    return (1 + np.count_nonzero(num * den0 * (1 + TIE) >= num0 * den)) / (len(parts) + 1)


def reference_bound(method, parts, observed, estimate, step, alpha, direction):
    """One end of {β0 : p(β0) > α}: the kernel's doubling and bisection, in plain Python."""
    inside, outside = estimate, estimate + direction * step
    expansions = 0
    while reference_p_value(method, parts, observed, outside) > alpha:
        inside, step = outside, 2 * step
        outside = estimate + direction * step
        expansions += 1
        if expansions > EXPANSIONS:
            return direction * math.inf
    for _ in range(BISECTIONS):
        middle = 0.5 * (inside + outside)
        if reference_p_value(method, parts, observed, middle) > alpha:
            inside = middle
        else:
            outside = middle
    return 0.5 * (inside + outside)


def reference_pairs(X, y, unit, draws):
    """The pairs bootstrap-t on the full design: each draw's panel stacked from the drawn units' rows (a copy is its
    own unit and cluster), refitted with dummies; returns (|t*| of the usable draws, β̂, CR1 se without its factor)."""
    g = len(np.unique(unit))
    t = len(y) // g
    _, _, dummies = panel_dummies(g, t)
    d_unit = X[:, 0].reshape(g, t)
    y_unit = y.reshape(g, t)

    treated = d_unit.max(axis=1) > 0

    def fit(d_rows, y_rows):
        design = np.column_stack([d_rows.reshape(-1), dummies])
        inv = np.linalg.inv(design.T @ design)
        beta = inv @ design.T @ y_rows.reshape(-1)
        resid = y_rows.reshape(-1) - design @ beta
        scores = [(design[unit == i] @ inv[0]) @ resid[unit == i] for i in range(g)]
        return beta[0], math.sqrt(np.sum(np.square(scores)))

    estimate, se = fit(d_unit, y_unit)
    usable = []
    for draw in draws:
        distinct = np.unique(draw)
        n_treated = np.count_nonzero(treated[distinct])
        if n_treated == 0 or n_treated == len(distinct) or len(distinct) < 3:
            continue  # no treated, no control, or one of each: D absent or a perfect fit
        refit = fit(d_unit[draw], y_unit[draw])
        usable.append(abs(refit[0] - estimate) / refit[1])
    return np.array(usable), estimate, se
