"""The compile warm-up's cost model (`sims.run.warmup`): it must see through the registry's wrappers to the numba
call trees, or the largest groups are handed out last and one worker compiles while the other idles."""

from causalmc.estimators.rd import bandwidth, clusters, local_polynomial
from causalmc.sims import plugins
from causalmc.sims.cli import scenarios_folder
from causalmc.sims.run.warmup import _reached, compile_weight
from causalmc.sims.scenario import load


def test_the_call_tree_is_followed_through_the_registry():
    """rd's runner is reached through the registry's closure; its kernel through the runner; the bandwidth
    selector and the cluster-robust variance through the kernel's calls (module attributes and imported names)."""
    reached = _reached(plugins.estimator_registry()["rd"].run)
    for kernel in (local_polynomial.rd_kernel, bandwidth.select, clusters.clustered_variance):
        assert kernel in reached


def test_deep_call_trees_weigh_more_than_many_small_estimators():
    """rd (three estimators over deep call trees, the longest compile of the default suite) outweighs
    confounding (two small estimators)."""
    rd = [load(scenarios_folder() / "rd_coverage.toml")]
    small = [load(scenarios_folder() / "confounding.toml")]
    assert compile_weight(rd) > 3 * compile_weight(small) > 0
