"""A replication's numbers do not depend on where its data lie in memory or on its place in the batch.

Kernels compiled with ``fastmath`` let LLVM sum in SIMD lanes.  A loop that both sums and writes to an array is
vectorised behind a run-time check that the arrays it reads and writes are far enough apart; when the check
fails (small arrays that happen to lie close together on the heap), the loop runs scalar and sums in another
order.  Such a kernel's last bits then depend on heap addresses: on the size of the batch, on what the process
did before, so that a record and `causalmc.estimate` on the same data could differ by a few ulp (CI saw ipw's
ATT standard error differ by 15 ulp, from `weighted_gram`).  Such loops write and sum in separate loops now
(`moments`' module docstring names the two that still wait for a revision).  Whether the check fails depends on
where the allocator puts a kernel's own scratch arrays, so this test shifts the batch's arrays in many ways; with
the old `weighted_gram` it failed on rct's ipw.

Convention: exact equality (NaN equal to NaN).  Every estimator on every DGP example it applies to, every choice of
its string options: one replication alone against the same replication copied five times into a batch whose
arrays start at shifted offsets of larger buffers (the padding NaN or a garbage value, so a read past an array's
end would show too).  A resampling estimator draws per replication, so its copies are compared one at a time,
each alone at a shifted offset with the same seed.
"""

import numpy as np
import pytest
from conftest import applicable_pairs, option_combinations, run_estimator

from causalmc.sims import dgps

PAIRS = applicable_pairs()
COPIES = 5
# Largest replication (values in its largest array) placed in a batch of copies: beyond it the kernels' arrays
# are long enough that no run-time check can fail, and the copies would only cost time.
LARGEST = 5000
VARIANTS = 12


def _shifted(array: np.ndarray, offset: int, padding, extra: int) -> np.ndarray:
    """`array` copied into a buffer `offset` elements from its start, the buffer's other elements `padding`."""
    buffer = np.full(array.size + 8 + extra, padding, dtype=array.dtype)
    out = buffer[offset : offset + array.size].reshape(array.shape)
    out[...] = array
    return out


def _batch_of_copies(one: dict, copies: int, variant: int) -> dict:
    padding = {0: np.nan, 1: 1e300, 2: -3.0}[variant % 3]
    batch = {}
    for a, (name, array) in enumerate(sorted(one.items())):
        stacked = np.concatenate([array] * copies)
        pad = padding if stacked.dtype.kind == "f" else 7
        batch[name] = _shifted(stacked, (3 * a + variant) % 8, pad, (5 * variant + a) % 24)
    return batch


def _assert_same(got, expected, what):
    (out, status), (out0, status0) = got, expected
    np.testing.assert_array_equal(status, status0, err_msg=what)
    same = (out == out0) | (np.isnan(out) & np.isnan(out0))
    assert same.all(), f"{what}: {out[~same][:4]} against {out0[~same][:4]}"


@pytest.mark.parametrize("dgp, spec", PAIRS, ids=lambda x: x.name)
def test_numbers_do_not_depend_on_memory_addresses_or_batch_position(dgp, spec):
    compared = 0
    for params in dgp.example_params():
        one = dgp.generate(np.random.default_rng(23), 1, params)
        dgps.pop_truths(one, dgp.estimand)  # the truths only set `reject`: zeros on both sides
        shapes = {k: v.shape[1:] for k, v in one.items()}
        large = max(v.size for v in one.values()) > LARGEST
        for options in option_combinations(spec):
            if spec.applies and spec.applies(shapes, options):
                continue
            alone = run_estimator(spec.name, one, options)
            what = f"{spec.name} {options} on {dgp.name} {params}"
            for variant in range(VARIANTS):
                if spec.resampling or large:
                    got = run_estimator(spec.name, _batch_of_copies(one, 1, variant), options)
                    _assert_same(got, alone, f"{what}, alone at offset variant {variant}")
                    continue
                out, status = run_estimator(spec.name, _batch_of_copies(one, COPIES, variant), options)
                for r in range(COPIES):
                    _assert_same((out[r : r + 1], status[r : r + 1]), alone, f"{what}, copy {r} of variant {variant}")
            compared += 1
    assert compared, f"no example of {dgp.name} exercises {spec.name}"
