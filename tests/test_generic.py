"""Properties every DGP and every estimator must have (picked up automatically).

- A DGP draws replication after replication: generating R at once or in
  pieces from one generator gives identical arrays (the runner splits
  chunks into cache-sized sub-batches and relies on this).
- Batch arrays have the replication as leading axis and the declared names.
- Every estimator's kernel equals its reference twin on the data of every
  DGP that provides what it needs.
"""

import numpy as np
import pytest
from conftest import applicable_pairs, assert_close, option_combinations, run_estimator

from causalmc import estimators
from causalmc.sims import dgps

DGPS = list(dgps.registry().values())
EXAMPLES = [(d, i) for d in DGPS for i in range(len(d.examples))]


PAIRS = applicable_pairs()
# Replications per comparison: the twins are plain Python, some quadratic in the units (matching with ties), so
# a big replication (a 700-unit cohort, a 50 × 40 panel with placebo re-solves) is compared on two.
REPS, REPS_BIG, BIG = 6, 2, 300


def _replications(dgp, params):
    """REPS, or REPS_BIG when one replication's largest array holds more than BIG values."""
    one = dgp.generate(np.random.default_rng(11), 1, params)
    largest = max(int(np.prod(v.shape[1:])) for k, v in one.items() if not k.startswith(dgps.TRUTH_PREFIX))
    return REPS_BIG if largest > BIG else REPS


def test_every_estimator_is_exercised_by_some_dgp():
    assert {e.name for _, e in PAIRS} == set(estimators.registry())


@pytest.mark.parametrize("dgp, example", EXAMPLES, ids=lambda x: x.name if hasattr(x, "name") else str(x))
def test_dgp_batches_are_replication_major(dgp, example):
    params = dgp.example_params()[example]
    whole = dgp.generate(np.random.default_rng(7), 7, params)
    rng = np.random.default_rng(7)
    parts = [dgp.generate(rng, m, params) for m in (3, 1, 3)]
    truths = {k for k in whole if k.startswith(dgps.TRUTH_PREFIX)}  # further terms' truths
    assert set(whole) - truths == {*dgp.provides, "truth"}
    for name, array in whole.items():
        assert array.shape[0] == 7, name
        np.testing.assert_array_equal(array, np.concatenate([p[name] for p in parts]), err_msg=name)


@pytest.mark.parametrize("dgp, example", EXAMPLES, ids=lambda x: x.name if hasattr(x, "name") else str(x))
def test_dgp_is_deterministic_and_seed_sensitive(dgp, example):
    params = dgp.example_params()[example]
    a = dgp.generate(np.random.default_rng(3), 4, params)
    b = dgp.generate(np.random.default_rng(3), 4, params)
    c = dgp.generate(np.random.default_rng(4), 4, params)
    for name in dgp.provides:
        np.testing.assert_array_equal(a[name], b[name])
    assert any(not np.array_equal(a[name], c[name]) for name in dgp.provides)


def test_dgp_parameters_are_documented():
    for dgp in DGPS:
        assert dgp.generate.__module__ and dgps.registry()[dgp.name] is dgp
        for p in dgp.params:
            assert p.doc, f"{dgp.name}.{p.name} has no meaning"
            if p.default is not None:
                assert p.validate(p.default) == p.default


@pytest.mark.parametrize("dgp, spec", PAIRS, ids=lambda x: x.name)
def test_kernel_equals_twin_on_every_dgp(dgp, spec):
    """On every example of the DGP the estimator applies to (and it applies to at least one)."""
    compared = 0
    for params in dgp.example_params():
        batch = dgp.generate(np.random.default_rng(11), _replications(dgp, params), params)
        truth = dgps.pop_truths(batch, dgp.estimand)
        shapes = {k: v.shape[1:] for k, v in batch.items()}
        for options in option_combinations(spec):
            if spec.applies and spec.applies(shapes, options):
                continue
            out, status = run_estimator(spec.name, batch, options, truth=truth)
            ref, ref_status = run_estimator(spec.name, batch, options, truth=truth, reference=True)
            np.testing.assert_array_equal(status, ref_status)
            assert_close(out, ref, what=f"{spec.name} {options} on {dgp.name} {params}")
            compared += 1
    assert compared, f"no example of {dgp.name} exercises {spec.name}"
