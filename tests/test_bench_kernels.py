"""Kernel micro-benchmarks (pytest-benchmark).

In the normal suite these run once, untimed (``--benchmark-disable`` in the
pytest configuration), which also checks they work.  Time them with
``pytest -n 0 --benchmark-enable --benchmark-only tests/test_bench_kernels.py`` (one process: pytest-benchmark does not
time under pytest-xdist) and compare commits
with ``--benchmark-autosave`` / ``--benchmark-compare``.  Timings are never
asserted: the machine is shared and noisy.
"""

import numpy as np
import pytest
from conftest import applicable_pairs

from causalmc.estimators import status as st
from causalmc.sims import dgps
from causalmc.sims.run import tasks

CASES = applicable_pairs()


@pytest.mark.parametrize("dgp, spec", CASES, ids=lambda x: x.name)
def test_kernel_speed(benchmark, dgp, spec):
    options = spec.default_options()
    reps = 4 if benchmark.disabled else 32  # the normal suite only checks that it runs (mc's 32 cost 15 s)
    for params in dgp.example_params():  # the first example the estimator applies to, benchmark-sized
        batch = dgp.generate(np.random.default_rng(0), reps, params | _bench_size(dgp))
        drawn = dgps.pop_truths(batch, dgp.estimand)
        shapes = {k: v.shape[1:] for k, v in batch.items()}
        if not (spec.applies and spec.applies(shapes, options)):
            break
    terms = spec.terms(shapes, options) if spec.terms else None
    names = terms or (dgp.estimand,)
    truth = np.empty((reps, len(names)))
    out = np.empty((reps, len(names), spec.width))
    status = np.empty((reps, len(names)), dtype=np.int8)
    benchmark(tasks.run_estimator, spec, batch, drawn, names, terms is None, options, 0.95, truth, out, status)
    assert np.isin(status, range(len(st.NAMES))).all()


@pytest.mark.parametrize("dgp", list(dgps.registry().values()), ids=lambda d: d.name)
def test_dgp_speed(benchmark, dgp):
    rng = np.random.default_rng(0)
    params = dgp.example_params()[0] | _bench_size(dgp)
    batch = benchmark(dgp.generate, rng, 32, params)
    assert batch["truth"].shape == (32,)


def _bench_size(dgp):
    """Benchmark-sized data: 1,000 units, one instrument (so every IV kernel applies)."""
    return {key: value for key, value in (("n", 1000), ("k_instruments", 1)) if key in dgp.param_map}
