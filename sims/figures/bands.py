"""The uncertainty drawn around a point of a figure: ±1.96·MCSE, or a Wilson interval for a rate.

A rate p (coverage, rejection, power …) estimated from n replications has
the MCSE √(p(1−p)/n); the Wald band p ± 1.96·MCSE leaves [0, 1] near the
ends (a coverage of 0.99 from 100 replications reaches 1.01) and shrinks to
nothing at 0 and 1.  Rates are therefore drawn with the Wilson score
interval (Wilson 1927, JASA 22:209; the recommendation of Brown, Cai &
DasGupta 2001, Statistical Science 16:101), which stays in [0, 1] and has
width at the ends too.

The n of a rate is read back from its MCSE, n = p(1−p)/MCSE², which is
the replications the rate was measured over (fewer than ``n_ok`` when some
have no interval or no truth); at p = 0 or 1 the MCSE is 0 and ``n_ok``
(the replications with status ok) is used.
"""

from __future__ import annotations

import numpy as np

Z_BAND = 1.96
LEVEL = 0.95  # the level of Z_BAND
# The measures that are shares of replications (`causalmc.sims.summary`): drawn with Wilson intervals.
RATES = frozenset(
    {"coverage", "rejection", "power", "fail_rate", "unbounded_ci", "wrong_sign", "share_f_gt_10",
     "share_effective_f_weak"}
)  # fmt: skip


def wilson(p, n, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score intervals of rates `p` measured over `n` trials (arrays); NaN where p or n is missing.

    With k = round(p·n) successes, p̂ = k/n and z = Φ⁻¹(1 − (1 − level)/2):

        (p̂ + z²/(2n) ± z·√(p̂(1 − p̂)/n + z²/(4n²))) / (1 + z²/n)

    Vectorised here because scipy's ``binomtest(k, n).proportion_ci(method="wilson")`` takes one rate at a
    time (about a millisecond each: a second for a 400-cell figure); the tests hold this to statsmodels'
    ``proportion_confint(method="wilson")``.
    """
    from statistics import NormalDist

    p, n = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(n, dtype=float))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        trials = np.where(np.isfinite(n) & (n >= 1), np.rint(n), np.nan)
        share = np.minimum(np.rint(p * trials), trials) / trials
        centre = (share + z**2 / (2 * trials)) / (1 + z**2 / trials)
        half = z * np.sqrt(share * (1 - share) / trials + z**2 / (4 * trials**2)) / (1 + z**2 / trials)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def trials(p, mcse, fallback) -> np.ndarray:
    """The n behind rates `p` with MCSEs `mcse`: p(1−p)/MCSE², or `fallback` (n_ok) where the MCSE is 0."""
    p, mcse, fallback = (np.asarray(a, dtype=float) for a in (p, mcse, fallback))
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.rint(p * (1 - p) / mcse**2)
    return np.where(np.isfinite(n) & (mcse > 0), n, fallback)


def limits(data, y: str, err: str | None = None, rate: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ends of the band around column `y` of `data` (the MCSE in `err`, default ``y_mcse``).

    A rate (`rate`; by default when `y` is in `RATES`): its Wilson interval,
    n from the MCSE (`trials`) or the ``n_ok`` column; any other measure:
    y ± 1.96·MCSE.
    A missing MCSE draws no band (both ends at the value).
    """
    err = err or f"{y}_mcse"
    values = data[y].to_numpy(dtype=float)
    mcse = data[err].to_numpy(dtype=float) if err in data else np.full(len(values), np.nan)
    if y in RATES if rate is None else rate:
        fallback = data["n_ok"].to_numpy(dtype=float) if "n_ok" in data else np.full(len(values), np.nan)
        low, high = wilson(values, trials(values, mcse, fallback))
        # At p = 0 or 1 an end equals p in exact arithmetic; in floating point it can miss by 1e-16 (a bar of
        # negative length, which matplotlib refuses).
        low, high = np.minimum(low, values), np.maximum(high, values)
    else:
        band = Z_BAND * mcse
        low, high = values - band, values + band
    missing = ~np.isfinite(low) | ~np.isfinite(high)
    return np.where(missing, values, low), np.where(missing, values, high)


def caption(measures, kind: str = "bands") -> str:
    """What the bands (or bars) of a figure drawing `measures` (a name or several) are, for its title."""
    measures = {measures} if isinstance(measures, str) else set(measures)
    rates, others = measures & RATES, measures - RATES
    parts = ([f"{kind} ±1.96 MCSE"] if others else []) + (["rates: Wilson 95% intervals"] if rates else [])
    if rates and not others:
        parts = [f"{kind}: Wilson 95% intervals"]
    return "; ".join(parts)
