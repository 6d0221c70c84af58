"""Sums over observations that LLVM vectorises: centred cross-products, weighted sums and Gram matrices.

OLS, 2SLS, LIML, the first-stage F and the Anderson–Rubin statistic are all
functions of the centred cross-product matrix of a few variables (the
intercept is partialled out by centring, Frisch–Waugh–Lovell).  Each
variable is shifted by its first value, which keeps the one-pass formula
Σab − n·ā·b̄ accurate when a mean is large relative to its spread.

The weighted sums X'v, Gram matrices X'WX and linear indices Xβ of a design
X = [1, covᵀ] serve the estimators that reweight or iterate over units (the
propensity score, ``ipw``, ``aipw``, ``ipwra``).

``FAST`` lets LLVM reassociate these sums into SIMD lanes.  The order of
summation then depends only on n, never on the data or on memory
addresses, so results stay bit-for-bit reproducible across processes; they
differ from a left-to-right sum by rounding only (~1e-16 relative).

That holds only for a loop that sums without writing to an array.  A loop
that does both is vectorised behind a run-time check that the arrays it
writes lie at least a vector block (256 bytes) away from those it reads;
when they do not (small arrays close together on the heap), the scalar
loop runs and sums in another order, so the last bits would depend on where
the allocator put the arrays: on the batch size, on the process's history.
So a loop compiled with ``FAST`` writes or sums, not both
(tests/test_memory_independence.py).  Three still do both: the Frank–Wolfe
step of ``synth.solver``, the score loop of the staggered event study and
``callaway_santanna.cs_cells`` (no ``fastmath`` of its own: numba compiles a
callee with its caller's).  Splitting them moves their numbers (up to 2e-8
relative in ``sdid_cps``, 5e-12 in ``cs``), so it waits for a revision of
those estimators and new runs of their scenarios
(docs/tools/fastmath_alias_audit.py lists such loops).
"""

from __future__ import annotations

from numba import njit

FAST = {"reassoc", "contract"}


@njit(cache=True, fastmath=FAST)
def dot(a, b):
    """Σᵢ aᵢbᵢ.  Not inlined: inlined into a caller compiled without FAST, the sum would stay scalar."""
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@njit(cache=True, fastmath=FAST, inline="always")
def _shifted_copy(src, dst):
    shift = src[0]
    for i in range(src.shape[0]):
        dst[i] = src[i] - shift


@njit(cache=True, fastmath=FAST, inline="always")
def _fused_two(a, b, cp, means):
    """m = 2 in one pass: all five sums share the loop and its SIMD lanes."""
    n = a.shape[0]
    a0, b0 = a[0], b[0]
    sa = sb = saa = sab = sbb = 0.0
    for i in range(n):
        da = a[i] - a0
        db = b[i] - b0
        sa += da
        sb += db
        saa += da * da
        sab += da * db
        sbb += db * db
    ma, mb = sa / n, sb / n
    means[0], means[1] = ma, mb
    cp[0, 0] = saa - n * ma * ma
    cp[0, 1] = cp[1, 0] = sab - n * ma * mb
    cp[1, 1] = sbb - n * mb * mb


@njit(cache=True, fastmath=FAST, inline="always")
def _fused_three(a, b, c, cp, means):
    """m = 3 in one pass (nine sums)."""
    n = a.shape[0]
    a0, b0, c0 = a[0], b[0], c[0]
    sa = sb = sc = saa = sab = sac = sbb = sbc = scc = 0.0
    for i in range(n):
        da = a[i] - a0
        db = b[i] - b0
        dc = c[i] - c0
        sa += da
        sb += db
        sc += dc
        saa += da * da
        sab += da * db
        sac += da * dc
        sbb += db * db
        sbc += db * dc
        scc += dc * dc
    ma, mb, mc = sa / n, sb / n, sc / n
    means[0], means[1], means[2] = ma, mb, mc
    cp[0, 0] = saa - n * ma * ma
    cp[0, 1] = cp[1, 0] = sab - n * ma * mb
    cp[0, 2] = cp[2, 0] = sac - n * ma * mc
    cp[1, 1] = sbb - n * mb * mb
    cp[1, 2] = cp[2, 1] = sbc - n * mb * mc
    cp[2, 2] = scc - n * mc * mc


@njit(cache=True, fastmath=FAST)
def centred_cross_products(first, block, last, work, cp, means):
    """Centred cross-products of the variables [first, block..., last].

    Parameters
    ----------
    first, last : float64 arrays, shape (n,)
    block : float64 array, shape (p, n)
        p ≥ 0 further variables, one per row.
    work : float64 array, shape (≥ p + 2, n)
        Scratch (used when p ≥ 2): the variables shifted by their first values.
    cp : float64 array, shape (≥ p + 2, ≥ p + 2)
        Receives S[a, c] = Σᵢ (vₐᵢ − v̄ₐ)(v_cᵢ − v̄_c) for the m = p + 2 variables.
    means : float64 array, shape (≥ p + 2,)
        Receives the means of the shifted variables (v̄ₐ − vₐ₀).

    Notes
    -----
    Up to three variables (the common designs: one regressor, one control
    or one instrument) all sums share one pass, which is about twice as
    fast as a pass per pair; more variables take a pass per pair over the
    shifted copies in `work`.
    """
    n = first.shape[0]
    p = block.shape[0]
    m = p + 2
    if p == 0:
        _fused_two(first, last, cp, means)
        return
    if p == 1:
        _fused_three(first, block[0], last, cp, means)
        return
    _shifted_copy(first, work[0])
    for j in range(p):
        _shifted_copy(block[j], work[1 + j])
    _shifted_copy(last, work[m - 1])
    for a in range(m):
        s = 0.0
        row = work[a]
        for i in range(n):
            s += row[i]
        means[a] = s / n
    for a in range(m):
        for c in range(a + 1):
            s = dot(work[a], work[c]) - n * means[a] * means[c]
            cp[a, c] = s
            cp[c, a] = s


# Sums over observations in a design X = [1, covᵀ] (covariates variable-major, shape (p, n)), for the
# estimators that reweight or iterate (the propensity score, ipw, aipw, ipwra).


@njit(cache=True, fastmath=FAST)
def total(v):
    """Σᵢ vᵢ."""
    s = 0.0
    for i in range(v.shape[0]):
        s += v[i]
    return s


@njit(cache=True, fastmath=FAST)
def weighted_sums(cov, v, out):
    """X'v for X = [1, covᵀ]: out[0] = Σᵢ vᵢ and out[j + 1] = Σᵢ vᵢ cov[j, i].

    Parameters
    ----------
    cov : float64 array, shape (p, n)
    v : float64 array, shape (n,)
    out : float64 array, shape (≥ p + 1,)
    """
    p, n = cov.shape
    total = 0.0
    for i in range(n):
        total += v[i]
    out[0] = total
    for j in range(p):
        row = cov[j]
        total = 0.0
        for i in range(n):
            total += v[i] * row[i]
        out[j + 1] = total


@njit(cache=True, fastmath=FAST)
def weighted_gram(cov, w, gram, scratch):
    """X'WX = Σᵢ wᵢ xᵢxᵢ' for xᵢ = [1, cov[:, i]], both triangles filled.

    Parameters
    ----------
    cov : float64 array, shape (p, n)
    w : float64 array, shape (n,)
    gram : float64 array, shape (≥ p + 1, ≥ p + 1)
    scratch : float64 array, shape (n,)
        Overwritten (wᵢ cov[a, i] of one covariate a at a time).
    """
    p, n = cov.shape
    total = 0.0
    for i in range(n):
        total += w[i]
    gram[0, 0] = total
    for a in range(p):
        row_a = cov[a]
        for i in range(n):  # not summed here: see the module docstring
            scratch[i] = w[i] * row_a[i]
        total = 0.0
        for i in range(n):
            total += scratch[i]
        gram[a + 1, 0] = gram[0, a + 1] = total
        for b in range(a + 1):
            row_b = cov[b]
            total = 0.0
            for i in range(n):
                total += scratch[i] * row_b[i]
            gram[a + 1, b + 1] = gram[b + 1, a + 1] = total


@njit(cache=True)
def linear_index(cov, coef, out):
    """out = X coef for X = [1, covᵀ]: out[i] = coef[0] + Σⱼ coef[j + 1] cov[j, i], shape (n,)."""
    p, n = cov.shape
    for i in range(n):
        out[i] = coef[0]
    for j in range(p):
        c = coef[j + 1]
        row = cov[j]
        for i in range(n):
            out[i] += c * row[i]
