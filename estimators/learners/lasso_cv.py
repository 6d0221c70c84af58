"""``lasso_cv``: the lasso with the penalty chosen by K-fold cross-validation (scikit-learn's ``LassoCV``;
glmnet's ``cv.glmnet`` for the 1-SE rule).

The objective at each α and its solver, `lasso_gram_cd`, are `lasso`'s.  As scikit-learn's ``LassoCV``:

- the grid: α_max = max_j |q_j| / n on the whole training data (the
  smallest α with w = 0), then ``n_alphas`` values log-spaced from α_max
  down to ``eps`` · α_max;
- the folds: K contiguous blocks in the order of the rows, the first
  n mod K of size ⌊n/K⌋ + 1 (scikit-learn's ``KFold`` without shuffling,
  what ``LassoCV(cv=K)`` uses), or with ``folds = "shuffled"`` the same
  block sizes over a permutation of the rows drawn from the learner's
  seed;
- on each fold's training rows, the path from α_max down, each fit warm
  started from the previous ones (the previous solution, extrapolated
  along the path from the last two when both converged: `_extrapolate`;
  the warm start changes how many sweeps a fit takes, not the convergence
  test it must pass); the
  fold's mean squared prediction error on its held-out rows at each α;
- the rule: ``min`` takes the α of the smallest CV error, the mean of the
  K fold errors (scikit-learn; the first, i.e. largest, α on ties);
  ``1se`` takes the largest α whose CV error is at most the minimum plus
  its standard error sd_k(fold errors) / √K (glmnet's ``lambda.1se``, with
  the folds weighted equally: glmnet weights them by their size, which
  differs by at most one row here);
- the refit: the lasso at the chosen α on all the training data, from
  w = 0.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import status as st
from ..moments import FAST
from ..spec import Setting
from .base import ALPHA, CONVERGED, INFO_FIELDS, ITERATIONS, NONZERO, REGRESSION, Learner
from .lasso import MAX_ITER_OPTION, REVISION, TOL_OPTION, finish_fit, diagonal_inverse, lasso_gram_cd, lasso_reference
from .linear import linear_predict, no_rows

RULES = ("min", "1se")
RULE_MIN, RULE_1SE = range(2)
FOLDINGS = ("contiguous", "shuffled")
# numpy's finfo(float64).resolution: scikit-learn's grid when α_max is below it (y uncorrelated with every column)
RESOLUTION = 1e-15


@njit(cache=True)
def alpha_grid(xty, n, n_alphas, eps, alphas):
    """scikit-learn's grid: α_max = max|q_j|/n, then n_alphas values log-spaced from α_max down to eps·α_max
    (all RESOLUTION when α_max is below it).  alphas (n_alphas,) out, descending."""
    alpha_max = 0.0
    for j in range(xty.shape[0]):
        alpha_max = max(alpha_max, abs(xty[j]))
    alpha_max /= n
    if alpha_max <= RESOLUTION:
        alphas[:] = RESOLUTION
        return
    top = math.log10(alpha_max)
    bottom = math.log10(alpha_max * eps)
    for a in range(n_alphas):
        t = a / (n_alphas - 1) if n_alphas > 1 else 0.0
        alphas[a] = 10.0 ** (top + (bottom - top) * t)


@njit(cache=True)
def contiguous_folds(n, n_folds, fold):
    """fold (n,) int64 out: scikit-learn's KFold without shuffling, K contiguous blocks, the first n mod K of
    size ⌊n/K⌋ + 1."""
    base = n // n_folds
    extra = n % n_folds
    i = 0
    for k in range(n_folds):
        size = base + (1 if k < extra else 0)
        for _ in range(size):
            fold[i] = k
            i += 1


@njit(cache=True, fastmath=FAST)
def fold_moments(x, y, fold, n_folds, sxx, sxy, sx, sy, syy, counts):
    """Per-fold sums of the data centred at its overall means x̄, ȳ: for fold k, Σ x̃x̃ᵀ, Σ x̃ỹ, Σ x̃, Σ ỹ, Σ ỹ²
    and the count, with x̃ = x − x̄, ỹ = y − ȳ.  One pass over the rows gives every fold's training and
    held-out cross-products (`_part`), so cross-validation forms no Gram matrix row by row again.

    Shapes: x (n, p), y (n,), fold (n,); out sxx (K, p, p), sxy (K, p), sx (K, p), sy (K,), syy (K,), counts (K,).
    """
    n, p = x.shape
    xmean = np.zeros(p)
    ymean = 0.0
    for i in range(n):
        ymean += y[i]
        for j in range(p):
            xmean[j] += x[i, j]
    ymean /= n
    for j in range(p):
        xmean[j] /= n
    sxx[:] = 0.0
    sxy[:] = 0.0
    sx[:] = 0.0
    sy[:] = 0.0
    syy[:] = 0.0
    counts[:] = 0
    row = np.empty(p)
    for i in range(n):
        k = fold[i]
        yc = y[i] - ymean
        for j in range(p):
            row[j] = x[i, j] - xmean[j]
        counts[k] += 1
        sy[k] += yc
        syy[k] += yc * yc
        for j in range(p):
            sx[k, j] += row[j]
            sxy[k, j] += row[j] * yc
            for m in range(j + 1):
                sxx[k, j, m] += row[j] * row[m]
    for k in range(n_folds):
        for j in range(p):
            for m in range(j):
                sxx[k, m, j] = sxx[k, j, m]


@njit(cache=True)
def _part(sxx, sxy, sx, sy, syy, count, gram, xty, mean):
    """Centre a part's sums at its own means: gram = Σx̃x̃ᵀ − c·m mᵀ, xty = Σx̃ỹ − c·m m_y, mean = (m, m_y);
    returns the centred Σỹ²."""
    p = sx.shape[0]
    for j in range(p):
        mean[j] = sx[j] / count
    my = sy / count
    mean[p] = my
    for j in range(p):
        xty[j] = sxy[j] - count * mean[j] * my
        for m in range(p):
            gram[j, m] = sxx[j, m] - count * mean[j] * mean[m]
    return syy - count * my * my


@njit(cache=True)
def lasso_cv_fit(x, y, fold, n_folds, n_alphas, eps, rule, tol, max_iter, coef, info, alphas, cv_mse):
    """The lasso at the α chosen by K-fold cross-validation (module docstring); returns a status code.

    Parameters
    ----------
    x : float64 array, shape (n, p)
    y : float64 array, shape (n,)
    fold : int64 array, shape (n,)
        The fold of each row, 0 … K − 1 (`contiguous_folds`, or a permutation of it).
    n_folds : int
        K ≥ 2.
    n_alphas : int
    eps : float
        The grid's smallest α over its largest.
    rule : int
        RULE_MIN or RULE_1SE.
    tol, max_iter
        As `lasso_fit`, for every fit.
    coef : float64 array, shape (p + 1,)
        Out: (b, w) refitted on all rows at the chosen α.
    info : float64 array, shape (4,)
        Out: `INFO_FIELDS`: the chosen α, the refit's non-zero slopes, 1.0 when every fit converged, the sweeps
        of all fits.
    alphas : float64 array, shape (n_alphas,)
        Out: the grid, descending.
    cv_mse : float64 array, shape (n_alphas, n_folds)
        Out: each fold's mean squared prediction error at each α.

    Returns
    -------
    int
        ``ok``; ``too_few_observations`` when a fold is empty or holds every row; then coef is NaN.

    Notes
    -----
    The Gram matrices come from one pass over the rows (`fold_moments`), and
    a fold's held-out error from its own centred sums: with the held-out
    rows' means (m_t, m_ty) and centred cross-products (C, c, c_yy), and the
    training fit (b, w),
    Σ (y − b − xᵀw)² = c_yy − 2wᵀc + wᵀCw + n_t (m_ty − b − m_tᵀw)²,
    O(p²) per α instead of O(n_t p).
    """
    n, p = x.shape
    if n < n_folds:
        return no_rows(coef, info)
    for i in range(n):
        if fold[i] < 0 or fold[i] >= n_folds:
            coef[:] = np.nan
            info[:] = np.nan
            return st.TOO_FEW_OBSERVATIONS
    sxx = np.empty((n_folds, p, p))
    sxy = np.empty((n_folds, p))
    sx = np.empty((n_folds, p))
    sy = np.empty(n_folds)
    syy = np.empty(n_folds)
    counts = np.empty(n_folds, np.int64)
    fold_moments(x, y, fold, n_folds, sxx, sxy, sx, sy, syy, counts)
    for k in range(n_folds):
        if counts[k] == 0 or counts[k] == n:
            coef[:] = np.nan
            info[:] = np.nan
            return st.TOO_FEW_OBSERVATIONS
    # the whole data's sums, and each fold's training sums as the whole minus the fold
    txx = sxx.sum(axis=0)
    txy = sxy.sum(axis=0)
    tx = sx.sum(axis=0)
    ty = sy.sum()
    tyy = syy.sum()
    gram = np.empty((p, p))
    xty = np.empty(p)
    mean = np.empty(p + 1)
    test_gram = np.empty((p, p))
    test_xty = np.empty(p)
    test_mean = np.empty(p + 1)
    _part(txx, txy, tx, ty, tyy, n, gram, xty, mean)
    alpha_grid(xty, n, n_alphas, eps, alphas)
    w = np.empty(p)
    gw = np.empty(p)
    previous = np.empty(p)
    gw_previous = np.empty(p)
    inverse = np.empty(p)
    all_converged = True
    sweeps = 0
    for k in range(n_folds):
        n_test = counts[k]
        n_train = n - n_test
        yy = _part(txx - sxx[k], txy - sxy[k], tx - sx[k], ty - sy[k], tyy - syy[k], n_train, gram, xty, mean)
        test_yy = _part(sxx[k], sxy[k], sx[k], sy[k], syy[k], n_test, test_gram, test_xty, test_mean)
        diagonal_inverse(gram, inverse)
        w[:] = 0.0
        gw[:] = 0.0
        previous[:] = 0.0
        settled = 0  # the fits in a row that converged: the secant step needs the last two
        for a in range(n_alphas):
            if settled >= 2 and alphas[a - 1] != alphas[a - 2]:
                ratio = (alphas[a] - alphas[a - 1]) / (alphas[a - 1] - alphas[a - 2])
                _extrapolate(ratio, gram, w, gw, previous, gw_previous)
            else:
                previous[:] = w
                gw_previous[:] = gw
            done, converged = lasso_gram_cd(gram, inverse, xty, yy, n_train, alphas[a], tol, max_iter, w, gw)
            sweeps += done
            all_converged = all_converged and converged
            settled = settled + 1 if converged else 0
            cv_mse[a, k] = _held_out_mse(w, test_gram, test_xty, test_yy, test_mean, mean, n_test)
    chosen = choose_alpha(cv_mse, rule)
    yy = _part(txx, txy, tx, ty, tyy, n, gram, xty, mean)
    w[:] = 0.0
    gw[:] = 0.0
    diagonal_inverse(gram, inverse)
    done, converged = lasso_gram_cd(gram, inverse, xty, yy, n, alphas[chosen], tol, max_iter, w, gw)
    xmean = np.empty(p)
    for j in range(p):
        xmean[j] = mean[j]
    info[ALPHA] = alphas[chosen]
    nonzero = finish_fit(w, xmean, 0.0, coef)
    # back from the centred coordinates: b = ȳ − x̄ᵀw with the whole data's means
    ymean = 0.0
    overall = np.zeros(p)
    for i in range(n):
        ymean += y[i]
        for j in range(p):
            overall[j] += x[i, j]
    coef[0] = ymean / n
    for j in range(p):
        coef[0] -= overall[j] / n * w[j]
    info[NONZERO] = nonzero
    info[CONVERGED] = 1.0 if (converged and all_converged) else 0.0
    info[ITERATIONS] = sweeps + done
    return st.OK


@njit(cache=True, fastmath=FAST)
def _held_out_mse(w, test_gram, test_xty, test_yy, test_mean, mean, n_test):
    """The held-out rows' mean squared error of the training fit, from their centred sums (`lasso_cv_fit`'s Notes):
    (c_yy − 2wᵀc + wᵀCw) / n_t + (m_ty − b − m_tᵀw)², b − m_y = −mᵀw with (m, m_y) = `mean`, the training means.

    Shapes: w (p,), test_gram C (p, p), test_xty c (p,), test_mean and mean (p + 1,).
    """
    p = w.shape[0]
    gap = test_mean[p] - mean[p]
    rss = test_yy
    for j in range(p):
        if w[j] != 0.0:
            gap -= (test_mean[j] - mean[j]) * w[j]
            cw = 0.0
            for m in range(p):
                cw += test_gram[j, m] * w[m]
            rss += w[j] * (cw - 2.0 * test_xty[j])
    return max(rss, 0.0) / n_test + gap * gap


@njit(cache=True)
def _extrapolate(ratio, gram, w, gw, previous, gw_previous):
    """The warm start for the next α on the path: w ← w + ratio·(w − previous) on the slopes non-zero now (a slope
    the step would carry across zero becomes 0; one that entered at this α moves as if it had entered at the
    previous one, previous = 0); previous ← the incoming w, and G·w and G·previous (gw, gw_previous) kept up to
    date.  `ratio` is (α_next − α_now) / (α_now − α_before).

    While the active set and its signs hold, the lasso's solution is linear in α (w_A = G_AA⁻¹(q_A − nα s_A)),
    so this secant step lands on the next solution up to the last two fits' convergence error: coordinate descent
    then needs about 2.4 sweeps per α instead of 6.9 from the previous solution (on the ``dml`` benchmark's data).
    G·w is linear in w too, so the step moves it by ratio·(Gw − G·previous), O(p), corrected by a row of G for
    each slope that enters, leaves or is stopped at zero (few along a path) instead of a row per slope.
    """
    p = w.shape[0]
    for k in range(p):
        now = gw[k]
        gw[k] = now + ratio * (now - gw_previous[k])
        gw_previous[k] = now
    for j in range(p):
        old = w[j]
        step = ratio * (old - previous[j])  # what the line above moved G·w by along slope j
        correction = 0.0  # the move of slope j less that step
        if old == 0.0:
            correction = -step  # zero stays zero
        elif (old + step > 0.0) == (old > 0.0):
            w[j] = old + step
        else:
            w[j] = 0.0
            correction = -old - step
        previous[j] = old
        if correction != 0.0:
            for k in range(p):
                gw[k] += correction * gram[j, k]


@njit(cache=True)
def choose_alpha(cv_mse, rule):
    """The index of the chosen α in a descending grid: the smallest mean of the fold errors (the first on ties),
    or under RULE_1SE the first (largest α) whose mean is at most that minimum plus its standard error."""
    n_alphas, n_folds = cv_mse.shape
    means = np.empty(n_alphas)
    for a in range(n_alphas):
        s = 0.0
        for k in range(n_folds):
            s += cv_mse[a, k]
        means[a] = s / n_folds
    best = 0
    for a in range(1, n_alphas):
        if means[a] < means[best]:
            best = a
    if rule == RULE_MIN:
        return best
    ss = 0.0
    for k in range(n_folds):
        ss += (cv_mse[best, k] - means[best]) ** 2
    bound = means[best] + math.sqrt(ss / (n_folds - 1) / n_folds)
    for a in range(n_alphas):
        if means[a] <= bound:
            return a
    return best


def folds_of(n: int, n_folds: int, folding: str, seed: int) -> np.ndarray:
    """The fold of each of n rows: contiguous blocks (`contiguous_folds`), or those block labels permuted by a
    generator seeded with `seed` (``folding = "shuffled"``)."""
    fold = np.empty(n, np.int64)
    contiguous_folds(n, n_folds, fold)
    return fold if folding == "contiguous" else np.random.default_rng(seed).permutation(fold)


def lasso_cv_reference(x, y, fold, n_folds, n_alphas, eps, rule, tol, max_iter):
    """The plain twin of `lasso_cv_fit`: (status, coef, chosen α, alphas, cv_mse, converged)."""
    n, p = x.shape
    counts = np.bincount(fold, minlength=n_folds)
    if (counts == 0).any() or (counts == n).any():
        return st.TOO_FEW_OBSERVATIONS, np.full(p + 1, np.nan), np.nan, None, None, False
    xty = (x - x.mean(axis=0)).T @ (y - y.mean())
    alpha_max = np.max(np.abs(xty)) / n if p else 0.0
    alphas = np.full(n_alphas, RESOLUTION) if alpha_max <= RESOLUTION else np.geomspace(alpha_max, alpha_max * eps, n_alphas)
    cv_mse = np.empty((n_alphas, n_folds))
    converged = True
    for k in range(n_folds):
        train, test = fold != k, fold == k
        w = np.zeros(p)
        for a, alpha in enumerate(alphas):
            coef, _, done = lasso_reference(x[train], y[train], alpha, tol, max_iter, w)
            converged &= done
            w = coef[1:]
            cv_mse[a, k] = np.mean((y[test] - coef[0] - x[test] @ w) ** 2)
    means = cv_mse.mean(axis=1)
    best = int(np.argmin(means))
    if rule == "1se":
        bound = means[best] + cv_mse[best].std(ddof=1) / math.sqrt(n_folds)
        best = int(np.flatnonzero(means <= bound)[0])
    coef, _, done = lasso_reference(x, y, alphas[best], tol, max_iter)
    return st.OK, coef, alphas[best], alphas, cv_mse, converged and done


def _lasso_cv(x, y, x_test, options, seed):
    fold = folds_of(x.shape[0], options["cv"], options["folds"], seed)
    coef = np.empty(x.shape[1] + 1)
    info = np.empty(len(INFO_FIELDS))
    alphas = np.empty(options["n_alphas"])
    cv_mse = np.full((options["n_alphas"], options["cv"]), np.nan)
    code = lasso_cv_fit(
        x, y, fold, options["cv"], options["n_alphas"], options["eps"], RULES.index(options["rule"]),
        options["tol"], options["max_iter"], coef, info, alphas, cv_mse,
    )  # fmt: skip
    pred = np.empty(x_test.shape[0])
    linear_predict(x_test, coef, pred)
    return code, pred, info, {"coef": coef, "alphas": alphas, "cv_mse": cv_mse, "fold": fold}


def _lasso_cv_plain(x, y, x_test, options, seed):
    fold = folds_of(x.shape[0], options["cv"], options["folds"], seed)
    code, coef, alpha, alphas, cv_mse, converged = lasso_cv_reference(
        x, y, fold, options["cv"], options["n_alphas"], options["eps"], options["rule"], options["tol"],
        options["max_iter"],
    )  # fmt: skip
    info = np.array([alpha, np.count_nonzero(coef[1:]) if code == st.OK else np.nan, float(converged), np.nan])
    return code, coef[0] + x_test @ coef[1:], info, {"coef": coef, "alphas": alphas, "cv_mse": cv_mse, "fold": fold}


LEARNERS = (
    Learner(
        "lasso_cv",
        "the lasso with α chosen by K-fold cross-validation over scikit-learn's grid (LassoCV; glmnet's 1-SE rule)",
        REGRESSION,
        (
            Setting("cv", 5, "the number of folds K", minimum=2),
            Setting("folds", "contiguous", "contiguous blocks (KFold without shuffling) or shuffled by the seed",
                    choices=FOLDINGS),
            Setting("rule", "min", "min: the smallest CV error (LassoCV); 1se: the largest α within one standard "
                    "error of it (glmnet's lambda.1se)", choices=RULES),
            Setting("n_alphas", 100, "the number of α on the grid", minimum=2),
            Setting("eps", 1e-3, "the grid's smallest α over its largest", minimum=0.0, maximum=1.0,
                    min_exclusive=True, max_exclusive=True),
            TOL_OPTION,
            MAX_ITER_OPTION,
        ),
        fit=_lasso_cv,
        reference=_lasso_cv_plain,
        revision=REVISION,
    ),
)  # fmt: skip
