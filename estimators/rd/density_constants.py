"""What the ``rd_density`` kernel and its twin share: options, columns, and the kernel constants of the test.

Kernel moments on [0, 1] (one side of the cutoff), exact in rational arithmetic: with K restricted to
[0, 1] (triangular 1 − u, Epanechnikov 0.75(1 − u²), uniform 0.5) and m_k = ∫₀¹ K(u) u^k du, for a fit
of order P (indices 0..P)

    S_ab = m_{a+b},   C_a = m_{a+P+1},
    G_ab = ∫₀¹∫₀¹ K(x) K(y) [x^{a+1} y^b 1(x < y) + x^a y^{b+1} 1(x > y)] dx dy

(Cattaneo, Jansson & Ma 2020, Section 2; rddensity's ``Sgenerate``, ``Cgenerate`` and ``Ggenerate`` compute
the same integrals by quadrature).  The plug-in variance of a side's density uses κ_P = (S⁻¹GS⁻¹)_11 and
the bias of the bandwidth selector (S⁻¹C)_1.

The pilot constants ``PILOT_B`` and ``PILOT_C`` (p = 1..7) are rddensity's (``rdbwdensity``'s ``Cb`` and
``Cc``, version 3.0): the normal-reference constants of its preliminary bandwidths.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

import numpy as np

from .conventions import KERNELS

BWSELECT = ("comb", "each", "diff", "sum", "fixed")  # rddensity's bwselect, and h as given
COMB, EACH, DIFF, SUM, FIXED = range(5)
VCE = ("jackknife", "plugin")
JACKKNIFE, PLUGIN = range(2)
TERM = "density_jump"  # f₊(0) − f₋(0), the term of ``rd_density``'s records
DIAGNOSTICS = ("t_stat", "p_value", "f_left", "f_right", "h_left", "h_right", "n_h_left", "n_h_right")
T_STAT, P_VALUE, F_LEFT, F_RIGHT, H_LEFT, H_RIGHT, N_LEFT, N_RIGHT = range(5, 13)
P_MAX = 7
PILOT_B = (
    25884.444444494150957,
    3430865.4551236177795,
    845007948.04262602329,
    330631733667.03808594,
    187774809656037.3125,
    145729502641999264.0,
    146013502974449876992.0,
)
PILOT_C = (
    4.8000000000000246914,
    548.57142857155463389,
    100800.00000020420703,
    29558225.458100609481,
    12896196859.612621307,
    7890871468221.609375,
    6467911284037581.0,
)
# K on [0, 1] as polynomial coefficients (of u⁰, u¹, …), in KERNELS' order
_KERNEL_POLYNOMIALS = (
    (Fraction(1), Fraction(-1)),
    (Fraction(3, 4), Fraction(0), Fraction(-3, 4)),
    (Fraction(1, 2),),
)


def _moment(coefs, k: int) -> Fraction:
    return sum((c / (k + j + 1) for j, c in enumerate(coefs)), Fraction(0))


@cache
def moments(kernel: str, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(S, C, G) of the module docstring for a fit of `order` with `kernel`, as float arrays."""
    coefs = _KERNEL_POLYNOMIALS[KERNELS.index(kernel)]
    size = order + 1
    s = [[_moment(coefs, a + b) for b in range(size)] for a in range(size)]
    c = [_moment(coefs, a + order + 1) for a in range(size)]
    g = [[Fraction(0)] * size for _ in range(size)]
    for a in range(size):
        for b in range(size):
            # ∫ y^b K(y) ∫₀^y x^{a+1} K(x) dx dy  +  ∫ y^{b+1} K(y) (m_a − ∫₀^y x^a K(x) dx) dy
            total = _moment(coefs, a) * _moment(coefs, b + 1)
            for i, ki in enumerate(coefs):
                for j, kj in enumerate(coefs):
                    top = Fraction(1, a + b + i + j + 3)
                    total += ki * kj * (top / (a + i + 2) - top / (a + i + 1))
            g[a][b] = total
    as_float = np.vectorize(float, otypes=[float])
    return as_float(np.array(s, dtype=object)), as_float(np.array(c, dtype=object)), as_float(np.array(g, dtype=object))


@cache
def plugin_constant(kernel: str, order: int) -> float:
    """κ_P = (S⁻¹GS⁻¹)_11: a side's density estimate f̂ of order P has plug-in variance f̂·κ_P/(n·h)."""
    s, _, g = moments(kernel, order)
    s_inv = np.linalg.inv(s)
    return float((s_inv @ g @ s_inv)[1, 1])


@cache
def bias_constant(kernel: str, order: int) -> float:
    """(S⁻¹C)_1: the leading bias of a side's density estimate of order P per unit of its (P+1)-th derivative."""
    s, c, _ = moments(kernel, order)
    return float(np.linalg.solve(s, c)[1])


def kernel_arguments(options) -> tuple:
    """The kernel's (and twin's) arguments after x: p, the codes of kernel, bwselect, h and vce, then κ_p, κ_q,
    (S⁻¹C)_1 of order p and the pilot constants."""
    p, name = options["p"], options["kernel"]
    return (
        p,
        KERNELS.index(name),
        BWSELECT.index(options["bwselect"]),
        float(options["h"]),
        VCE.index(options["vce"]),
        plugin_constant(name, p),
        plugin_constant(name, p + 1),
        bias_constant(name, p),
        PILOT_B[p - 1],
        PILOT_C[p - 1],
    )
