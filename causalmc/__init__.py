"""causalmc: Monte Carlo benchmarks for causal-inference estimators.

Run a scenario, reopen a run, look at one simulated dataset, run any
estimator on your own data::

    import causalmc
    result = causalmc.run("scenarios/confounding.toml", reps=500)
    result.summary, result.records(), result.figures, result.expectations
    data = causalmc.sample("scenarios/confounding.toml", cell={"n": 100}, rep=3)
    causalmc.estimate("ols_adjusted", data, se="hc1")
    causalmc.solve("scenarios/solve_rct_power.toml", param="n", target="power=0.80")

Bring your own estimator or DGP (in a plugin file, loaded with
``plugins=["my_plugin.py"]`` or ``--plugin my_plugin.py``)::

    @causalmc.estimator(name="my_ols", needs=("y", "x"))
    def my_ols(data, *, level):
        fit = statsmodels.formula.api.ols("y ~ x", data).fit()
        return {"estimate": fit.params["x"], "se": fit.bse["x"], "df": fit.df_resid}

The engine lives in `causalmc.sims` (scenarios, runner, summary, figures)
and the kernels in `causalmc.estimators`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from causalmc.estimators.spec import Estimator, Setting
from causalmc.sims import __version__, adapters
from causalmc.sims.api import Run, estimate, open, run, sample
from causalmc.sims.dgps import Dgp
from causalmc.sims.plugins import PluginError, load_all as load_plugins, register
from causalmc.sims.solve import Solve, solve

__all__ = [
    "Dgp",
    "Estimator",
    "PluginError",
    "Run",
    "Setting",
    "__version__",
    "dgp",
    "estimate",
    "estimator",
    "load_plugins",
    "open",
    "register",
    "run",
    "sample",
    "Solve",
    "solve",
]


def estimator(
    *,
    name: str | None = None,
    needs: Sequence[str],
    options: Sequence[Setting] = (),
    diagnostics: Sequence[str] = (),
    df: float | None = None,
    batched: bool = False,
    summary: str | None = None,
    terms: Sequence[str] | Callable | None = None,
) -> Callable:
    """Register a plain-Python (or, with ``batched=True``, vectorised) estimator.

    Parameters
    ----------
    name : str, optional
        Registry name used in scenario files (default: the function's name).
    needs : sequence of str
        Batch arrays it reads (``y``, ``x``, ``controls``, ``z``, ``panel_y`` …).
    options : sequence of Setting
        Options a scenario may set; passed as keyword arguments.
    diagnostics : sequence of str
        Extra numbers the function returns, kept as record columns.
    df : float, optional
        Degrees of freedom of the t critical value used when the interval is
        derived from ``se`` (normal when None and not returned as ``df``).
    batched : bool
        False: ``f(data, *, level, **options)`` on one replication as a tidy
        DataFrame.  True: ``f(batch, *, level, **options)`` on a dict of
        arrays with a leading replication axis, returning arrays.
    summary : str, optional
        One line for ``run_bench.py list`` (default: the docstring's first line).
    terms : sequence of str or callable, optional
        For an estimator of several quantities: their names (or
        ``terms(shapes, options) -> names``); the function then returns a
        mapping from each name to its result, and each is recorded as its
        own term, held to the DGP's truth of that term.

    Notes
    -----
    The function returns the estimate, or a mapping with ``estimate`` and any
    of ``se``, ``ci_low``, ``ci_high``, ``reject``, ``df`` and the declared
    diagnostics; see `causalmc.sims.adapters` for what is derived.  The
    function itself is returned unchanged.
    """

    return _registering(
        adapters.user_estimator,
        name,
        needs=needs,
        options=options,
        diagnostics=diagnostics,
        summary=summary,
        df=df,
        batched=batched,
        terms=terms,
    )


def dgp(
    *,
    name: str | None = None,
    params: Sequence[Setting] = (),
    provides: Sequence[str],
    roles: Mapping[str, str] | None = None,
    examples: Sequence[Mapping] = ({},),
    check: Callable | None = None,
    batched: bool = False,
    summary: str | None = None,
    estimand: str = "effect",
) -> Callable:
    """Register a data-generating process written as a plain function.

    Parameters
    ----------
    name : str, optional
        Registry name (default: the function's name).
    params : sequence of Setting
        Declared parameters: defaults, ranges and meanings, validated like
        a shipped DGP's.  The function receives them as keyword arguments.
    provides : sequence of str
        The arrays it returns (besides the truth).
    roles : mapping, optional
        For arrays with names causalmc does not know and that are not plain
        per-observation vectors or (p, n) blocks: their level
        (``unit_period``, ``unit``, ``replication``…; see `causalmc.sims.frames`).
    examples, check
        As for a shipped `Dgp`.
    batched : bool
        False: ``draw(rng, **params)`` returns one replication, as
        ``(arrays, truth)``, ``(frame, truth)`` or a mapping with ``truth``.
        True: ``generate(rng, n_reps, **params)`` returns a batch (leading
        axis = replication) with ``truth``, drawn replication after
        replication.
    estimand : str
        The name of the term the truth is the value of (the term of every
        single-term estimator's records).  A draw may return, instead of a
        number, a mapping from term names to truths that includes it; a
        batched DGP adds arrays ``"truth:<term>"``.

    Notes
    -----
    Every draw must come from the generator passed in, so runs stay
    reproducible and resumable.  The function itself is returned unchanged.
    """

    return _registering(
        adapters.user_dgp,
        name,
        params=params,
        provides=provides,
        summary=summary,
        roles=roles,
        examples=examples,
        check=check,
        batched=batched,
        estimand=estimand,
    )


def _registering(adapter: Callable, name: str | None, **declared) -> Callable:
    """A decorator that registers ``adapter(function, name=..., **declared)`` and returns the function."""

    def wrap(function):
        register(adapter(function, name=name or function.__name__, **declared))
        return function

    return wrap
