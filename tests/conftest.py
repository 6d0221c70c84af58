"""Shared test helpers.

Random datasets for the oracle tests come from a generator seeded per test
from the test's name, so a failure is reproducible; the seeds are not chosen
to pass (any seed must, set CAUSALMC_TEST_SEED to try another).
Monte Carlo claims are asserted within 4 MCSE of their expected values.
"""

from __future__ import annotations

import itertools
import os
import shutil
import zlib

import numpy as np
import pytest

from causalmc import estimators
from causalmc.estimators import status as st
from causalmc.estimators.spec import CI_HIGH, CI_LOW, ESTIMATE, REJECT, SE

RTOL = 1e-8


def seed_for(name: str) -> int:
    """A per-test seed: stable across runs, shifted by CAUSALMC_TEST_SEED."""
    return zlib.crc32(name.encode()) + int(os.environ.get("CAUSALMC_TEST_SEED", "0"))


@pytest.fixture
def rng(request):
    return np.random.default_rng(seed_for(request.node.nodeid))


# Set by .ci/run, which installs Chromium: there a missing browser is a failure, not a skip.
REQUIRE_BROWSER = "CAUSALMC_REQUIRE_BROWSER"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of a headless Chromium (the first of chromium, chromium-browser, google-chrome on PATH).

    Without one a test using it is skipped, so the README's test command passes on a fresh machine with no browser;
    when CAUSALMC_REQUIRE_BROWSER is set to anything but "0" (.ci/run sets 1) it errors at set-up instead, so CI
    cannot pass without running the browser tests.
    """
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    reason = (
        "no headless Chromium (chromium/chromium-browser/google-chrome on PATH); "
        ".ci/run installs Debian's chromium package"
    )
    if os.environ.get(REQUIRE_BROWSER, "") not in ("", "0"):
        pytest.fail(f"{reason}, and {REQUIRE_BROWSER} is set: this run must test in a browser", pytrace=False)
    pytest.skip(reason)


def figures_of_runs(scenarios, folder) -> dict:
    """Run each scenario (TOML text) into `folder`, one process; return {file name: the Figure saved to it}, so a
    test reads what was drawn (lines, scales, tick labels, the legend's place), not only that a file exists."""
    import matplotlib.figure

    import causalmc

    saved = {}
    original = matplotlib.figure.Figure.savefig

    def record(fig, path, *args, **kwargs):
        saved[str(path).rsplit("/", 1)[-1]] = fig
        return original(fig, path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matplotlib.figure.Figure, "savefig", record)
        runs = [causalmc.run(text, out=folder, jobs=1, progress=False) for text in scenarios]
    return saved, runs


def write_scenario(folder, name: str, body: str, reps: int = 3):
    """A scenario file `folder/name.toml`: its name, replications and a fixed seed, then `body` (dgp, estimators,
    tables); returns its path."""
    path = folder / f"{name}.toml"
    path.write_text(f'name = "{name}"\nreps = {reps}\nseed = 20261203\n{body}', encoding="utf-8")
    return path


def run_estimator(name, batch, options=None, level=0.95, truth=None, reference=False, seed=0):
    """Run an estimator (or its twin) on a batch; return (out, status)."""
    spec = estimators.registry()[name]
    opts = spec.default_options() | (options or {})
    n_reps = next(iter(batch.values())).shape[0]
    # One term: (R,) truths, (R, width) outputs; several: (R, m) and (R, m, width).
    terms = spec.terms({k: v.shape[1:] for k, v in batch.items()}, opts) if spec.terms else ()
    shape = (n_reps, len(terms)) if terms else (n_reps,)
    if isinstance(truth, dict):  # a DGP's truths by term (`dgps.pop_truths`): the estimand's first
        estimand = next(iter(truth.values()))
        truth = np.column_stack([truth.get(t, np.full(n_reps, np.nan)) for t in terms]) if terms else estimand
    truth = np.zeros(shape) if truth is None else truth
    out = np.full((*shape, spec.width), -999.0)
    status = np.full(shape, -1, dtype=np.int8)
    kernel = spec.reference if reference else spec.run
    extra = {"rng": np.random.default_rng(seed)} if spec.resampling else {}
    kernel(batch, truth, opts, level, out, status, **extra)
    return out, status


def kernel_and_twin(name, batch, options=None, level=0.95, truth=None, rtol=RTOL, all_ok=True):
    """Run the kernel and its twin; assert they agree (statuses too) and, unless `all_ok` is False, succeed on every
    replication; return the kernel's (out, status)."""
    out, status = run_estimator(name, batch, options, level, truth)
    ref, ref_status = run_estimator(name, batch, options, level, truth, reference=True)
    assert (status == ref_status).all(), (status, ref_status)
    assert not all_ok or (status == st.OK).all(), status
    assert_close(out, ref, rtol=rtol, what=f"{name} kernel vs twin")
    return out, status


def assert_close(actual, expected, rtol=RTOL, what=""):
    """|actual − expected| ≤ rtol·|expected| + 1e-11; NaN matches NaN.

    The absolute 1e-11 is for values at zero that are differences of O(1) numbers (a density jump of 0 on
    symmetric mass points is f̂₊ − f̂₋ with each side agreeing to ~1e-12); every compared statistic is O(1)-scaled."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    with np.errstate(invalid="ignore"):  # inf − inf where both are infinite
        bad = ~(
            (np.abs(actual - expected) <= rtol * np.abs(expected) + 1e-11)
            | (np.isnan(actual) & np.isnan(expected))
            | (actual == expected)
        )
    assert not bad.any(), f"{what}: {actual[bad][:5]} != {expected[bad][:5]}"


__all__ = [
    "CI_HIGH",
    "CI_LOW",
    "ESTIMATE",
    "REJECT",
    "SE",
    "assert_close",
    "kernel_and_twin",
    "option_combinations",
    "run_estimator",
    "seed_for",
    "st",
    "write_scenario",
]


def run_single_term(*args, **kwargs):
    """`run_estimator` for an estimator that declares one term (its estimand, e.g. ipw's ``ate`` or ``att``):
    (R, width) outputs and (R,) statuses."""
    out, status = run_estimator(*args, **kwargs)
    return out[:, 0], status[:, 0]


def kernel_and_twin_single_term(*args, **kwargs):
    """`kernel_and_twin` for an estimator that declares one term: (R, width) outputs and (R,) statuses."""
    out, status = kernel_and_twin(*args, **kwargs)
    return out[:, 0], status[:, 0]


def applicable_pairs():
    """(DGP, estimator) pairs where the DGP provides what the estimator needs
    and the estimator applies to at least one of the DGP's examples."""
    from causalmc.sims import dgps

    def applies(dgp, spec):
        if not set(spec.arrays(spec.default_options())) <= set(dgp.provides):
            return False
        if spec.applies is None:
            return True
        for params in dgp.example_params():
            batch = dgp.generate(np.random.default_rng(0), 1, params)
            if spec.applies({k: v.shape[1:] for k, v in batch.items()}, spec.default_options()) is None:
                return True
        return False

    return [(d, e) for d in dgps.registry().values() for e in estimators.registry().values() if applies(d, e)]


def pytest_sessionstart(session):
    """Compile the suite scenarios' kernels on every core at once before the tests: a fresh clone's numba cache is
    empty, and compiling one kernel after another in this process would take minutes.

    Under pytest-xdist only the controlling process compiles, before it starts the test workers (xdist's own
    session start runs last), so the workers load the kernels from numba's cache."""
    if hasattr(session.config, "workerinput"):
        return
    from causalmc.sims import api
    from causalmc.sims.cli import scenarios_folder
    from causalmc.sims.scenario import load, suite_files

    suite = [load(f) for f in suite_files(scenarios_folder())]
    api.compile_kernels(suite, os.cpu_count() or 1)


def option_combinations(spec, level=0.95):
    """Every combination of the choices of the string options (others at their defaults) the estimator accepts.

    A resampling estimator's integer options (B draws) are at their minimum: the twin's cost grows with them.
    """
    choices = [[(o.name, c) for c in o.choices] for o in spec.options if o.choices]
    base = spec.default_options()
    if spec.resampling:
        base |= {o.name: o.minimum for o in spec.options if o.kind is int and o.minimum is not None}
    combos = [base | dict(chosen) for chosen in itertools.product(*choices)]
    return [c for c in combos if spec.check is None or spec.check(c, level) is None]


@pytest.fixture(scope="session")
def suite_outcome(tmp_path_factory):
    """Run a shipped scenario once per session with its suite replications (cached by name).

    The seed is the scenario's own, shifted by CAUSALMC_TEST_SEED when set, so
    the Monte Carlo claims can be rechecked on fresh draws.
    """
    from causalmc.sims.run import pipeline
    from causalmc.sims.run.plan import make_plan
    from causalmc.sims.cli import scenarios_folder
    from causalmc.sims.scenario import load

    folder = tmp_path_factory.mktemp("suite")
    cache = {}
    shift = int(os.environ.get("CAUSALMC_TEST_SEED", "0"))

    def get(name):
        if name not in cache:
            scenario = load(scenarios_folder() / f"{name}.toml")
            scenario = scenario.with_overrides(reps=scenario.suite_reps, seed=scenario.seed + shift)
            cache[name] = (scenario, pipeline.run_scenario(make_plan(scenario), folder, jobs=2, figures=False))
        return cache[name]

    return get
