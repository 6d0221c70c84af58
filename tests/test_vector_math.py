"""The vectorised elementwise functions against numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from causalmc.estimators.vector_math import EXP_MAX, EXP_MIN, exp_into, sum_log1p


def test_exp_is_within_two_ulp_of_numpy(rng):
    x = np.concatenate(
        [rng.uniform(EXP_MIN, EXP_MAX, 200_000), rng.uniform(-1, 1, 200_000), -np.abs(rng.normal(0, 5, 200_000))]
    )
    x = np.concatenate([x, [0.0, EXP_MIN, EXP_MAX, np.log(2.0), -np.log(2.0) / 2]])
    out, bits = np.empty_like(x), np.empty(x.size, np.int64)
    exp_into(x, out, bits)
    expected = np.exp(x)
    assert np.all(np.abs(out - expected) <= 2 * np.spacing(expected))


def test_exp_clamps_its_argument():
    x = np.array([-1000.0, -np.inf, 800.0])
    out, bits = np.empty(3), np.empty(3, np.int64)
    exp_into(x, out, bits)
    expected = np.exp([EXP_MIN, EXP_MIN, EXP_MAX])
    assert np.all(np.abs(out - expected) <= 2 * np.spacing(expected))


@pytest.mark.parametrize("n", [0, 1, 999, 1000, 1001, 5000])
def test_sum_log1p_equals_the_elementwise_sum(rng, n):
    x = rng.random(n)
    x[: n // 10] = 1.0  # the largest factor, 2
    assert abs(sum_log1p(x) - np.sum(np.log1p(x))) <= 1e-13 * max(1.0, n / 1000)
