"""Elementwise functions over whole arrays that LLVM can vectorise.

numba compiles ``math.exp`` and ``math.log`` to one scalar libm call per
element (SVML, which vectorises them, needs an llvmlite built with Intel's
patches, which the PyPI wheels are not).  In an iterative fit over n units
the exponential then costs more than all the sums: these loops do the same
with plain arithmetic that compiles to SIMD instructions, about four times
faster at n = 1000.

A loop that divides is vectorised only under ``error_model="numpy"``
(a division by zero gives inf or NaN): numba's default, Python's, tests
every divisor to raise ZeroDivisionError, which keeps the loop scalar.
LLVM also gives up on a loop that writes to many arrays it cannot prove
apart, so the hot loops write to few.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .moments import FAST

# ln 2 split in two (Cody & Waite 1980): k·LN2_HI is exact for |k| < 2¹¹, so the reduced argument is exact
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
# 1/j! for j = 2 ... 13: the Taylor polynomial of eʳ on |r| ≤ ln2/2 is then within 4e-18 of it
_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13 = (1.0 / math.factorial(j) for j in range(2, 14))
# exp's argument is clamped to this range, so that 2ᵏ is a normal number
EXP_MIN, EXP_MAX = -708.0, 709.0
# products of this many factors in [1, 2] cannot overflow (2¹⁰⁰⁰ < 1.8e308)
_LOG_BLOCK = 1000


@njit(cache=True, fastmath={"contract"})
def exp_into(x, out, bits):
    """out = exp(x) elementwise, within 2 ulp of libm's (tested), for x clamped to [EXP_MIN, EXP_MAX].

    eˣ = 2ᵏ·eʳ with k = round(x/ln 2) and r = x − k ln 2 (|r| ≤ ln2/2),
    eʳ by its Taylor polynomial of degree 13 in Estrin's scheme, 2ᵏ by
    writing k + 1023 into a double's exponent field.

    Parameters
    ----------
    x : float64 array, shape (n,)
    out : float64 array, shape (n,)
        Not `x`: the loop is vectorised only when they do not overlap.
    bits : int64 array, shape (n,)
        Scratch.
    """
    for i in range(x.shape[0]):
        v = min(max(x[i], EXP_MIN), EXP_MAX)
        k = math.floor(v * _INV_LN2 + 0.5)
        r = (v - k * _LN2_HI) - k * _LN2_LO
        r2 = r * r
        r4 = r2 * r2
        low = (1.0 + r) + r2 * (_C2 + r * _C3)
        mid = (_C4 + r * _C5) + r2 * (_C6 + r * _C7)
        high = (_C8 + r * _C9) + r2 * (_C10 + r * _C11) + r4 * (_C12 + r * _C13)
        out[i] = low + r4 * (mid + r4 * high)
        bits[i] = (np.int64(k) + 1023) << 52
    scale = bits.view(np.float64)
    for i in range(x.shape[0]):
        out[i] *= scale[i]


@njit(cache=True, fastmath=FAST)
def sum_log1p(x):
    """Σᵢ log(1 + xᵢ) for 0 ≤ xᵢ ≤ 1, as the logarithms of products of up to 1000 factors: one ``log`` per
    block instead of one per element.  The relative error of a block's product is at most its length times
    the unit roundoff, so the sum is within about 1e-13 · n/1000 of the elementwise one.

    Parameters
    ----------
    x : float64 array, shape (n,)
    """
    n = x.shape[0]
    total = 0.0
    for start in range(0, n, _LOG_BLOCK):
        product = 1.0
        for i in range(start, min(start + _LOG_BLOCK, n)):
            product *= 1.0 + x[i]
        total += math.log(product)
    return total
