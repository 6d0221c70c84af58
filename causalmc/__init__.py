"""causalmc: Monte Carlo benchmarks for causal-inference estimators."""

from causalmc.sims import __version__

__all__ = ["__version__"]
