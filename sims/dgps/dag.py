"""A structural causal model written as data: the ``[dag]`` table of a scenario.

The scenario describes a directed acyclic graph of variables V_1..V_m,
each a function of its parents and its own noise; nothing in it is
executed.  For units i = 1..n, independently, in topological order:

    eta_v  = a_v + Σ_{p ∈ parents(v)} b_vp · V_p + Σ_terms c · g(V…)     the index
    normal       V = eta_v + s_v · e_v,        e_v ~ N(0, 1)
    uniform      V = eta_v + s_v · u_v,        u_v ~ U(0, 1)   (a root: U(a, a + s))
    binary       V = 1(u_v < F(eta_v)),        u_v ~ U(0, 1)
    categorical  V = Σ_{k=1}^{K−1} 1(u_v < F(eta_v − c_k)) ∈ {0, …, K−1},   u_v ~ U(0, 1)

with F the logistic (link "logit", the default) or the standard normal
(link "probit") distribution function, a_v the intercept, s_v the noise
scale and b_vp the coefficients.  A categorical variable is an ordered
logit (probit) with cut points c_k = −F⁻¹(p_k + … + p_{K−1}) for its
``probs`` p_0..p_{K−1}, so that at eta_v = 0 it takes value k with
probability p_k (binary is the case K = 2 with c_1 = 0: the intercept sets
the base rate).  As a parent a categorical variable enters through its
code 0..K−1; indicator terms give categories their own effects.  Terms
(the whitelist) g:

    square      V_a²                   nonlinear confounding
    product     V_a · V_b              with a = the treatment: effect heterogeneity
    exp         exp(V_a)
    indicator   1(V_a > t)             a threshold t

Every number (intercept, noise, coefficient, threshold) is a constant or
the name of a parameter declared in ``[dag.parameters]`` with its
default; such a parameter is a float parameter of the scenario like any
other (``[params]``, ``[grid]``), filled in when the data are drawn, so a
grid over it needs no recompilation.

Truth: the effect of intervening on the treatment T, computed from the
model with each unit's noise draws held fixed (its exogenous state); the
descendants of T (mediators …) are recomputed under the intervention, the
other variables keep their values.  For a binary T, per replication,

    ate = (1/n) Σ_i [Y_i(do(T = 1)) − Y_i(do(T = 0))]          the estimand
    att = mean of the same over the units with T_i = 1  ("truth:att"; NaN without treated units)

the sample average effects.  For a continuous T (normal or uniform) the
effect of a unit increase of each unit's own treatment,

    ate = (1/n) Σ_i [Y_i(do(T = T_i + 1)) − Y_i(do(T = T_i))]

(no att).  When every variable on a directed path from T to Y is normal or
uniform with only linear dependence on T's descendants, this is the sum
over directed paths T → … → Y of the products of their coefficients
(`path_sum`).

Batch arrays: ``y`` (R, n) the outcome; ``x`` (R, n) the treatment as a
float; ``treatment`` (R, n) the same array, only for a binary treatment;
``controls`` (R, p, n) the declared controls, in their order (absent
when there are none: the estimators then need an explicit ``adjust``); and every
other variable as an (R, n) array of its own name (estimators adjust for
them by name: ``adjust = ["C", "M"]``).  Draw order per replication: unit
after unit, and for each unit one draw per variable in topological order
(ties broken by name): a standard normal for a normal variable, a uniform
for any other.

Grammar (every key shown; defaults in comments)::

    dgp = "dag"

    [dag]
    treatment = "T"              # a binary, normal or uniform variable
    outcome = "Y"
    controls = ["C"]             # the default adjustment set ([] for none)

    [dag.parameters]             # names usable as numbers below, with defaults
    tau = 1.0
    het = 0.5

    [dag.variables.C]
    type = "categorical"         # normal | binary | uniform | categorical
    probs = [0.3, 0.4, 0.3]      # categorical only
    link = "logit"               # binary and categorical: logit (default) | probit

    [dag.variables.T]
    type = "binary"
    intercept = -0.5             # default 0
    parents = { C = 0.8 }        # parent = coefficient (a number or a parameter)

    [dag.variables.Y]
    type = "normal"
    noise = 2.0                  # normal and uniform: the noise scale, default 1
    parents = { T = "tau", C = 1.0 }
    terms = [
        { product = ["T", "C"], coef = "het" },
        { square = "C", coef = 0.3 },
        { exp = "C", coef = 0.1 },
        { indicator = "C", above = 1.5, coef = 1.0 },
    ]

    [params]                     # or [grid] tau = [0, 1, 2]
    n = 1000
    tau = 2.0

Variables may come in any order; a variable named in a term is a parent
as well.  The scenario is refused (exit 2, the key named) on a cycle, an
unknown parent, type, link or term, a number naming an undeclared
parameter (or a declared one no number uses), a name that is a reserved
batch array (``y``, ``x``, ``treatment``, ``controls``, ``w1`` …), and an
estimator that needs ``treatment`` when the treatment is not binary.

Identity.  The validated graph is written as canonical JSON (variables,
parents and parameters sorted by name, defaults filled in, numbers as
floats; terms and controls in their order) into the string parameter
``graph`` of every cell: it enters the run's fingerprint and the cell keys
(so a changed coefficient, edge, type or parameter default changes the
seeds), and workers rebuild the compiled program from it (`program`,
cached by its text).  The same graph written with its variables in another
order is the same graph: same text, same draws, same keys.  The canonical
JSON is itself a ``[dag]`` table: a scenario without one may give it as
``[params] graph = '…'`` (as a run's manifest records it).

Speed.  One compiled interpreter (`_simulate`) runs every graph: the graph
is an instruction table of small integer and float arrays, and the numbers
are slots filled from the cell's parameters when drawing, so neither a new
graph nor a new parameter value compiles anything.  About 10 ns per
variable and unit on the bad_controls graph, draws included.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache, lru_cache, partial
from statistics import NormalDist

import numpy as np
from numba import njit

from causalmc.estimators.spec import Setting

from . import TRUTH_PREFIX, ConfigError, Dgp
from .dag_graph import (
    equations,
    CONTINUOUS,
    Graph,
    LINKS,
    TERMS,
    TYPES,
    order,
    parents_of,
    parse_graph,
    term_kind,
    term_vars,
)

# Codes of the compiled program (the interpreter's instruction table).
NORMAL, BINARY, UNIFORM, CATEGORICAL = range(4)
LOGIT, PROBIT = range(2)
LINEAR, SQUARE, PRODUCT, EXP, INDICATOR = range(5)
# Columns of a variable's row: type, link, intercept slot, noise slot, its terms [start, end), its cuts [start, end).
V_TYPE, V_LINK, V_INTERCEPT, V_NOISE, V_TERM0, V_TERM1, V_CUT0, V_CUT1 = range(8)
# Columns of a term's row: kind, variable a, variable b, coefficient slot, threshold slot.
T_KIND, T_A, T_B, T_COEF, T_THRESHOLD = range(5)


# -- the compiled program and its interpreter ------------------------------------------------


@dataclass(frozen=True)
class Program:
    """A graph compiled to arrays, variables in topological order."""

    names: tuple[str, ...]
    variables: np.ndarray  # int64 (m, 8): see V_TYPE …
    terms: np.ndarray  # int64 (n_terms, 5): see T_KIND …
    cuts: np.ndarray  # float64: the cut points of the discrete variables
    slots: tuple  # per slot: a constant (float) or a parameter name
    treatment: int
    outcome: int
    binary: bool  # the treatment is binary
    affected: np.ndarray  # int64: the variables recomputed under do(T): descendants of T that are Y or its ancestors
    controls: np.ndarray  # int64: the declared controls
    others: tuple[str, ...]  # the batch arrays of their own name: every variable but T and Y, in topological order

    def values(self, params: Mapping) -> np.ndarray:
        return np.array([params[s] if isinstance(s, str) else s for s in self.slots], dtype=np.float64)


@lru_cache(maxsize=64)
def program(text: str) -> Program:
    """Compile a graph's canonical JSON (cached by its text, so each worker compiles a graph once)."""
    spec = json.loads(text)
    variables = spec["variables"]
    names = order(variables)
    index = {name: i for i, name in enumerate(names)}
    slots: list = []

    def slot(value) -> int:
        slots.append(value)
        return len(slots) - 1

    rows, terms, cuts = [], [], []
    for name in names:
        v = variables[name]
        kind, link = TYPES.index(v["type"]), LINKS.index(v.get("link", "logit"))
        row = [kind, link, slot(v["intercept"]), slot(v.get("noise", 0.0)), len(terms)]
        for parent, coef in v["parents"].items():
            terms.append([LINEAR, index[parent], index[parent], slot(coef), slot(0.0)])
        for term in v["terms"]:
            a = index[term_vars(term)[0]]
            b = index[term_vars(term)[-1]]
            terms.append([(SQUARE, PRODUCT, EXP, INDICATOR)[TERMS.index(term_kind(term))], a, b, slot(term["coef"]),
                          slot(term.get("above", 0.0))])  # fmt: skip
        row += [len(terms), len(cuts)]
        if kind == BINARY:
            cuts.append(0.0)
        elif kind == CATEGORICAL:
            inverse = _logit if link == LOGIT else NormalDist().inv_cdf
            survival = np.cumsum(v["probs"][::-1])[::-1][1:]  # P(V ≥ k) at eta = 0, k = 1..K−1
            cuts += [-inverse(float(s)) for s in survival]
        row.append(len(cuts))
        rows.append(row)
    t, y = index[spec["treatment"]], index[spec["outcome"]]
    descendants = _descendants(variables, spec["treatment"])
    ancestors = _ancestors(variables, spec["outcome"]) | {spec["outcome"]}
    affected = [index[n] for n in names if n in descendants and n in ancestors]
    return Program(
        names=tuple(names),
        variables=np.array(rows, dtype=np.int64).reshape(-1, 8),
        terms=np.array(terms, dtype=np.int64).reshape(-1, 5),
        cuts=np.array(cuts, dtype=np.float64),
        slots=tuple(slots),
        treatment=t,
        outcome=y,
        binary=variables[spec["treatment"]]["type"] == "binary",
        affected=np.array(affected, dtype=np.int64),
        controls=np.array([index[c] for c in spec["controls"]], dtype=np.int64),
        others=tuple(n for n in names if n not in (spec["treatment"], spec["outcome"])),
    )


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _descendants(variables: Mapping, root: str) -> set[str]:
    children = {n: {c for c, s in variables.items() if n in parents_of(s)} for n in variables}
    found, stack = set(), [root]
    while stack:
        for child in children[stack.pop()]:
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _ancestors(variables: Mapping, leaf: str) -> set[str]:
    found, stack = set(), [leaf]
    while stack:
        for parent in parents_of(variables[stack.pop()]):
            if parent not in found:
                found.add(parent)
                stack.append(parent)
    return found


@njit(cache=True)
def _simulate(rng, variables, terms, cuts, values, treatment, outcome, binary, affected, out, ate, att):
    """Draw and evaluate the graph for every unit of every replication; the sample effects per replication.

    `out` has shape (m, R, n): each variable's (R, n) array contiguous.  Per
    unit: one draw per variable, then pass 0 evaluates every variable (the
    observed world) and passes 1, 2 only T's affected descendants, from the
    observed values with T set (do(T = 1), do(T = 0); for a continuous T one
    pass, do(T = T_i + 1)), the noise held fixed.  The instruction loop is
    written once, inline: as a called function its array arguments cost
    more than the arithmetic.
    """
    m, n_reps, n = out.shape
    noise = np.empty(m)
    state = np.empty(m)  # the observed world
    world = np.empty(m)  # the world of the current intervention
    y_do = np.empty(2)  # Y in the worlds of passes 1 and 2
    passes = 3 if binary else 2
    for r in range(n_reps):
        total = 0.0
        total_treated = 0.0
        treated = 0
        for i in range(n):
            for v in range(m):
                noise[v] = rng.standard_normal() if variables[v, V_TYPE] == NORMAL else rng.random()
            for p in range(passes):
                if p == 0:
                    length = m
                    current = state
                else:
                    length = affected.shape[0]
                    current = world
                    world[:] = state
                    world[treatment] = (2.0 - p) if binary else state[treatment] + 1.0
                for q in range(length):
                    v = q if p == 0 else affected[q]
                    eta = values[variables[v, V_INTERCEPT]]
                    for j in range(variables[v, V_TERM0], variables[v, V_TERM1]):
                        kind = terms[j, T_KIND]
                        a = current[terms[j, T_A]]
                        c = values[terms[j, T_COEF]]
                        if kind == LINEAR:
                            eta += c * a
                        elif kind == SQUARE:
                            eta += c * a * a
                        elif kind == PRODUCT:
                            eta += c * a * current[terms[j, T_B]]
                        elif kind == EXP:
                            eta += c * math.exp(a)
                        elif a > values[terms[j, T_THRESHOLD]]:  # INDICATOR
                            eta += c
                    kind = variables[v, V_TYPE]
                    if kind == NORMAL or kind == UNIFORM:
                        value = eta + values[variables[v, V_NOISE]] * noise[v]
                    else:  # the number of cut points below: u < F(eta − c_k)
                        value = 0.0
                        for k in range(variables[v, V_CUT0], variables[v, V_CUT1]):
                            x = eta - cuts[k]
                            if variables[v, V_LINK] == LOGIT:
                                cdf = 1.0 / (1.0 + math.exp(-x))
                            else:
                                cdf = 0.5 * math.erfc(-x / math.sqrt(2.0))
                            if noise[v] < cdf:
                                value += 1.0
                    current[v] = value
                if p == 0:
                    for v in range(m):
                        out[v, r, i] = state[v]
                else:
                    y_do[p - 1] = world[outcome]
            if binary:
                effect = y_do[0] - y_do[1]
            else:
                effect = y_do[0] - state[outcome]
            total += effect
            if binary and state[treatment] == 1.0:
                total_treated += effect
                treated += 1
        ate[r] = total / n
        att[r] = total_treated / treated if treated > 0 else np.nan


def generate(rng, n_reps, p):
    prog = program(p["graph"])
    n = p["n"]
    out = np.empty((len(prog.names), n_reps, n))
    ate, att = np.empty(n_reps), np.empty(n_reps)
    _simulate(rng, prog.variables, prog.terms, prog.cuts, prog.values(p), prog.treatment, prog.outcome, prog.binary,
              prog.affected, out, ate, att)  # fmt: skip
    batch = {"y": out[prog.outcome], "x": out[prog.treatment]}
    if prog.binary:
        batch["treatment"] = batch["x"]
    if prog.controls.size:
        batch["controls"] = np.ascontiguousarray(out[prog.controls].transpose(1, 0, 2))
    index = {name: i for i, name in enumerate(prog.names)}
    for name in prog.others:
        batch[name] = out[index[name]]
    batch["truth"] = ate
    if prog.binary:
        batch[f"{TRUTH_PREFIX}att"] = att
    return batch


def provides(text: str) -> tuple[str, ...]:
    """The batch arrays a graph's generator fills (besides the truths)."""
    prog = program(text)
    return (
        "y",
        "x",
        *(("treatment",) if prog.binary else ()),
        *(("controls",) if prog.controls.size else ()),
        *prog.others,
    )


def path_sum(text: str, params: Mapping) -> float:
    """Σ over directed paths T → … → Y of the products of their linear coefficients.

    The effect of the treatment when every variable on those paths is
    normal or uniform and depends on T's descendants only linearly;
    ValueError otherwise.  Parameter names are read from `params`.
    """
    spec = json.loads(text)
    variables, t, y = spec["variables"], spec["treatment"], spec["outcome"]
    descendants = _descendants(variables, t) | {t}
    on_paths = (descendants - {t}) & (_ancestors(variables, y) | {y})
    for name in on_paths:
        v = variables[name]
        nonlinear = [term_kind(term) for term in v["terms"] if set(term_vars(term)) & descendants]
        if v["type"] not in CONTINUOUS or nonlinear:
            raise ValueError(f"{name} ({v['type']}, terms {nonlinear}) is not linear in the treatment's descendants")

    def number(value):
        return float(params[value]) if isinstance(value, str) else value

    def paths_from(node) -> float:  # Σ over paths node → … → Y of the coefficient products
        if node == y:
            return 1.0
        children = [c for c in on_paths if node in variables[c]["parents"]]
        return sum(number(variables[c]["parents"][node]) * paths_from(c) for c in sorted(children))

    return paths_from(t)


# -- the DGP, and its set-up by a scenario's [dag] table -------------------------------------


N_SETTING = Setting("n", 1000, "number of units", minimum=2)


def configure(table, params: Mapping) -> Dgp:
    """The dag DGP of one graph: its parameters, arrays and checks.

    The graph is the scenario's ``[dag]`` table; without one, the canonical
    JSON in ``[params] graph`` (a run's manifest has it; it is a ``[dag]``
    table too).  Raises `ConfigError` with the key from the scenario's root.
    """
    root = "dag"
    if table is None:
        text = params.get("graph") if isinstance(params, Mapping) else None
        if not isinstance(text, str):
            raise ConfigError("dag", "missing; the dag DGP is described by a [dag] table (sims/dgps/dag.py)")
        root = "params.graph"
        try:
            table = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(root, f"not the JSON of a graph ({exc}); allowed: a [dag] table instead") from None
    try:
        return _configured(parse_graph(table))
    except ConfigError as exc:
        raise ConfigError(f"{root}.{exc.key}" if exc.key else root, exc.message) from None


def _describe(params: Mapping) -> str:
    """The graph's structural equations, then the grammar's documentation (the report's model section)."""
    return equations(json.loads(params["graph"])) + "\n\n" + inspect.cleandoc(__doc__)


@cache
def _configured(graph: Graph) -> Dgp:
    uses_as_noise = sorted(
        {spec["noise"] for spec in graph.spec["variables"].values() if isinstance(spec.get("noise"), str)}
    )
    return replace(
        DAG,
        params=(
            N_SETTING,
            Setting(
                "graph", graph.text, "the graph as canonical JSON (written from the [dag] table)", choices=(graph.text,)
            ),
            *(Setting(name, default, "a number of the graph ([dag.parameters])") for name, default in graph.parameters),
        ),
        provides=provides(graph.text),
        check=partial(_check_noise, tuple(uses_as_noise)) if uses_as_noise else None,
        describe=_describe,
        examples=({},),
    )


def _check_noise(names, params) -> list[tuple[tuple[str, ...], str]]:
    return [
        ((name,), f"{params[name]:g} is a noise scale; allowed: a number ≥ 0") for name in names if params[name] < 0
    ]


def _example(table: Mapping, **params) -> dict:
    graph = parse_graph(table)
    return {"graph": graph.text, **dict(graph.parameters), **params}


# The examples share the names of their non-treatment, non-outcome variables and a binary treatment, so one
# `provides` holds for all (continuous treatments and other names: tests/test_dag.py).
_LINEAR = {
    "treatment": "T",
    "outcome": "Y",
    "controls": ["C"],
    "variables": {
        "C": {"type": "normal"},
        "V": {"type": "uniform", "intercept": -1.0, "noise": 2.0},
        "T": {"type": "binary", "parents": {"C": 0.8}},
        "M": {"type": "normal", "parents": {"T": 0.5, "C": 0.3}},
        "Y": {"type": "normal", "intercept": 1.0, "parents": {"T": 1.0, "M": 1.0, "C": 1.0, "V": 0.5}},
        "K": {"type": "normal", "parents": {"T": 1.0, "Y": 1.0}},
    },
}
_NONLINEAR = {
    "treatment": "T",
    "outcome": "Y",
    "controls": ["C", "V"],
    "parameters": {"tau": 1.0, "het": 0.5},
    "variables": {
        "Y": {
            "type": "normal",
            "noise": 0.5,
            "parents": {"T": "tau", "M": 1.0, "C": 0.5},
            "terms": [{"product": ["T", "V"], "coef": "het"}, {"exp": "V", "coef": 0.2}, {"square": "V", "coef": -0.3}],
        },
        "T": {
            "type": "binary",
            "link": "probit",
            "intercept": -0.2,
            "parents": {"C": 0.4, "V": 0.5},
            "terms": [{"indicator": "C", "above": 1.5, "coef": 0.7}, {"square": "V", "coef": 0.2}],
        },
        "C": {"type": "categorical", "probs": [0.3, 0.4, 0.3]},
        "V": {"type": "normal", "parents": {"C": 0.5}},
        "M": {"type": "binary", "parents": {"T": 1.0, "V": 0.5}},
        "K": {"type": "categorical", "link": "probit", "probs": [0.5, 0.3, 0.2], "parents": {"T": 0.5, "Y": 0.5}},
    },
}

DAG = Dgp(
    name="dag",
    summary="a structural causal model written in the scenario's [dag] table; truth by intervention on the treatment",
    params=(
        N_SETTING,
        Setting(
            "graph",
            _example(_LINEAR)["graph"],
            "the graph as canonical JSON (written from the scenario's [dag] table)",
            choices=(_example(_LINEAR)["graph"],),
        ),
    ),
    provides=provides(_example(_LINEAR)["graph"]),
    generate=generate,
    examples=({"n": 40}, _example(_NONLINEAR, n=30), _example(_NONLINEAR, n=5, tau=-1.0, het=2.0)),
    estimand="ate",
    configure=configure,
)
DGPS = (DAG,)
