"""The causal graph of a ``dag`` scenario: its ``[dag]`` table validated into canonical form.

`parse_graph` checks every key (types, links, parents, terms, parameters,
a cycle) and raises `ConfigError` naming the key and what is allowed; a
valid graph becomes a canonical JSON text (variables, parents and
parameters sorted by name), the form that enters the run's identity and
that `causalmc.sims.dgps.dag` compiles.  The grammar is in `dag`'s
docstring.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .. import frames
from . import ConfigError

TYPES = ("normal", "binary", "uniform", "categorical")
LINKS = ("logit", "probit")
TERMS = ("square", "product", "exp", "indicator")
TABLE_KEYS = ("treatment", "outcome", "controls", "parameters", "variables")
VARIABLE_KEYS = ("type", "link", "intercept", "noise", "parents", "terms", "probs")
TREATMENT_TYPES = ("binary", "normal", "uniform")
CONTINUOUS = ("normal", "uniform")
ENGINE_PARAMS = ("n", "graph")  # the DGP's own parameters: no graph parameter may take these names
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


# -- validation: the [dag] table -> canonical graph ----------------------------------------


@dataclass(frozen=True)
class Graph:
    """A validated graph: its canonical JSON and its parameters' defaults."""

    text: str
    parameters: tuple[tuple[str, float], ...]  # (name, default), in declaration order

    @property
    def spec(self) -> dict:
        return json.loads(self.text)


def parse_graph(table) -> Graph:
    """Validate a ``[dag]`` table; raise `ConfigError` naming the key (relative to ``dag``) and what is allowed."""
    if not isinstance(table, Mapping):
        raise ConfigError("", f"must be a table ([dag]), not {type(table).__name__}")
    _known_keys(table, "", TABLE_KEYS)
    parameters = _parameters(table.get("parameters", {}))
    raw = table.get("variables")
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(
            "variables", 'missing or empty; allowed: a table per variable, e.g. [dag.variables.T] type = "binary"'
        )
    for name in raw:
        if not _NAME.match(name):
            raise ConfigError(
                f"variables.{name}", f"{name!r} is not a variable name; allowed: a letter, then letters, digits, '_'"
            )
        if is_reserved(name):
            raise ConfigError(
                f"variables.{name}",
                f"{name!r} is reserved (a batch array or its frame column: y, x, treatment, controls, w1, …); "
                "allowed: any other name",
            )
    names = sorted(raw)
    variables = {name: _variable(f"variables.{name}", raw[name], names, parameters) for name in raw}
    treatment = _variable_name(table, "treatment", names)
    outcome = _variable_name(table, "outcome", names)
    if outcome == treatment:
        raise ConfigError("outcome", f"{outcome!r} is the treatment too; allowed: another variable")
    if variables[treatment]["type"] not in TREATMENT_TYPES:
        raise ConfigError(
            "treatment",
            f"{treatment!r} is {variables[treatment]['type']}; allowed: a variable of type {', '.join(TREATMENT_TYPES)}",
        )
    controls = table.get("controls")
    if not isinstance(controls, list) or not all(isinstance(c, str) for c in controls):
        raise ConfigError(
            "controls", f"{controls!r}: allowed: a list of variable names (the default adjustment set), [] for none"
        )
    for c in controls:
        if c not in variables or c in (treatment, outcome) or controls.count(c) > 1:
            others = ", ".join(n for n in names if n not in (treatment, outcome))
            raise ConfigError(
                "controls",
                f"{c!r} is not allowed; allowed: distinct variables other than treatment and outcome: {others}",
            )
    order(variables)  # refuses a cycle
    used = {ref for spec in variables.values() for ref in _numbers(spec) if isinstance(ref, str)}
    for name in dict(parameters):
        if name not in used:
            raise ConfigError(
                f"parameters.{name}", "declared but no number of the graph names it; allowed: remove it, or use it"
            )
    canonical = {
        "treatment": treatment,
        "outcome": outcome,
        "controls": list(controls),
        "parameters": dict(parameters),
        "variables": variables,
    }
    return Graph(json.dumps(canonical, sort_keys=True, separators=(",", ":"), allow_nan=False), parameters)


def is_reserved(name: str) -> bool:
    """Whether a variable may not take this name: a batch array with a declared role, its frame column(s), truth."""
    if name == "truth":
        return True
    for array, role in frames.ROLES.items():
        if name in (array, role.column):
            return True
        if role.level == "block" and re.fullmatch(re.escape(role.column) + "[0-9]+", name):
            return True
    return False


def _known_keys(table: Mapping, key: str, allowed) -> None:
    for k in table:
        if k not in allowed:
            raise ConfigError(_join(key, k), f"unknown key; allowed: {', '.join(allowed)}")


def _join(key: str, k: str) -> str:
    return f"{key}.{k}" if key else k


def _parameters(table) -> tuple[tuple[str, float], ...]:
    if not isinstance(table, Mapping):
        raise ConfigError("parameters", "must be a table of name = default number, e.g. [dag.parameters] tau = 1.0")
    out = []
    for name, default in table.items():
        key = f"parameters.{name}"
        if not _NAME.match(name) or name in ENGINE_PARAMS:
            raise ConfigError(
                key,
                f"{name!r} cannot name a parameter; allowed: a letter, then letters, digits, '_', not {' or '.join(ENGINE_PARAMS)}",
            )
        if isinstance(default, bool) or not isinstance(default, int | float) or not math.isfinite(default):
            raise ConfigError(key, f"{default!r} is not allowed; allowed: a number (the parameter's default)")
        out.append((name, float(default)))
    return tuple(out)


def _number(key: str, value, parameters, minimum: float | None = None):
    """A constant (as a float) or the name of a declared parameter."""
    declared = [name for name, _ in parameters]
    if isinstance(value, str):
        if value not in declared:
            allowed = f"one of {', '.join(declared)}" if declared else "none is declared"
            raise ConfigError(
                key,
                f"{value!r} is not a declared parameter; allowed: a number, or a name declared in [dag.parameters] ({allowed})",
            )
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(
            key, f"{value!r} is not allowed; allowed: a number or the name of a parameter in [dag.parameters]"
        )
    if minimum is not None and value < minimum:
        raise ConfigError(key, f"{value!r} is out of range; allowed: a number ≥ {minimum:g}")
    return float(value)


def _variable_name(table: Mapping, key: str, names) -> str:
    value = table.get(key)
    if value not in names:
        raise ConfigError(key, f"{value!r} is not a variable; allowed: one of {', '.join(names)}")
    return value


def _variable(key: str, raw, names, parameters) -> dict:
    """One variable's table, normalised: every field explicit, parents sorted, terms as written."""
    if not isinstance(raw, Mapping):
        raise ConfigError(key, f'must be a table, e.g. [dag.{key}] type = "normal"')
    _known_keys(raw, key, VARIABLE_KEYS)
    kind = raw.get("type")
    if kind not in TYPES:
        raise ConfigError(
            f"{key}.type", f"{'missing' if kind is None else f'unknown type {kind!r}'}; allowed: {', '.join(TYPES)}"
        )
    spec = {"type": kind, "intercept": _number(f"{key}.intercept", raw.get("intercept", 0.0), parameters)}
    discrete = kind in ("binary", "categorical")
    for field, ok, allowed_for in (("link", discrete, "binary and categorical"), ("noise", not discrete, "normal and uniform"),
                                   ("probs", kind == "categorical", "categorical")):  # fmt: skip
        if field in raw and not ok:
            raise ConfigError(
                f"{key}.{field}", f"a {kind} variable has no {field}; allowed for {allowed_for} variables"
            )
    if discrete:
        link = raw.get("link", "logit")
        if link not in LINKS:
            raise ConfigError(f"{key}.link", f"unknown link {link!r}; allowed: {', '.join(LINKS)}")
        spec["link"] = link
    else:
        spec["noise"] = _number(f"{key}.noise", raw.get("noise", 1.0), parameters, minimum=0.0)
    if kind == "categorical":
        spec["probs"] = _probs(f"{key}.probs", raw.get("probs"))
    parents = raw.get("parents", {})
    if not isinstance(parents, Mapping):
        raise ConfigError(
            f"{key}.parents", f"{parents!r}: allowed: a table of parent = coefficient, e.g. {{ C = 0.5 }}"
        )
    for parent in parents:
        if parent not in names:
            raise ConfigError(f"{key}.parents", f"unknown variable {parent!r}; allowed: {', '.join(names)}")
    spec["parents"] = {p: _number(f"{key}.parents.{p}", parents[p], parameters) for p in sorted(parents)}
    terms = raw.get("terms", [])
    if not isinstance(terms, list):
        raise ConfigError(f"{key}.terms", 'must be a list of term tables, e.g. [{ square = "C", coef = 0.5 }]')
    spec["terms"] = [_term(f"{key}.terms[{j}]", t, names, parameters) for j, t in enumerate(terms)]
    return spec


def _probs(key: str, probs) -> list[float]:
    if (
        not isinstance(probs, list)
        or len(probs) < 2
        or not all(not isinstance(p, bool) and isinstance(p, int | float) and 0 < p < 1 for p in probs)
        or abs(sum(probs) - 1.0) > 1e-9
    ):
        raise ConfigError(
            key, f"{probs!r}: allowed: a list of K ≥ 2 probabilities in (0, 1) summing to 1 (categories 0..K−1)"
        )
    return [float(p) for p in probs]


def _term(key: str, raw, names, parameters) -> dict:
    if not isinstance(raw, Mapping):
        raise ConfigError(key, f'{raw!r} must be a table, e.g. {{ square = "C", coef = 0.5 }}')
    kinds = [k for k in raw if k in TERMS]
    if len(kinds) != 1:
        found = ", ".join(repr(k) for k in raw if k not in ("coef", "above")) or "none"
        raise ConfigError(
            key, f"unknown term ({found}); allowed: exactly one of {', '.join(TERMS)} naming its variable(s), and coef"
        )
    kind = kinds[0]
    allowed = (kind, "coef", "above") if kind == "indicator" else (kind, "coef")
    _known_keys(raw, key, allowed)
    variables = raw[kind]
    if kind == "product":
        if not isinstance(variables, list) or len(variables) != 2:
            raise ConfigError(f"{key}.product", f'{variables!r}: allowed: a list of two variables, e.g. ["T", "C"]')
    else:
        variables = [variables]
    for v in variables:
        if v not in names:
            raise ConfigError(f"{key}.{kind}", f"unknown variable {v!r}; allowed: {', '.join(names)}")
    if "coef" not in raw:
        raise ConfigError(f"{key}.coef", "missing; allowed: a number or the name of a parameter")
    term = {kind: raw[kind], "coef": _number(f"{key}.coef", raw["coef"], parameters)}
    if kind == "indicator":
        if "above" not in raw:
            raise ConfigError(
                f"{key}.above", "missing; the indicator is 1(variable > above); allowed: a number or a parameter"
            )
        term["above"] = _number(f"{key}.above", raw["above"], parameters)
    return term


def _numbers(spec: Mapping) -> list:
    """Every number of a variable's spec (constants and parameter names), in slot order."""
    values = [spec["intercept"], spec.get("noise", 0.0), *spec["parents"].values()]
    for term in spec["terms"]:
        values += [term["coef"], term.get("above", 0.0)]
    return values


def term_kind(term: Mapping) -> str:
    """A term's kind: the one key of `TERMS` it has."""
    return next(k for k in TERMS if k in term)


def term_vars(term: Mapping) -> list[str]:
    """The variables a term names (two for a product)."""
    variables = term[term_kind(term)]
    return list(variables) if isinstance(variables, list) else [variables]


def parents_of(spec: Mapping) -> set[str]:
    """A variable's parents: its linear parents and every variable its terms name."""
    return set(spec["parents"]) | {v for term in spec["terms"] for v in term_vars(term)}


def order(variables: Mapping) -> list[str]:
    """The topological order, ties broken by name; a cycle is a `ConfigError` naming it."""
    parents = {name: parents_of(spec) for name, spec in variables.items()}
    done, out = set(), []
    while len(out) < len(parents):
        ready = sorted(n for n in parents if n not in done and parents[n] <= done)
        if not ready:
            cycle = _cycle({n: p - done for n, p in parents.items() if n not in done})
            raise ConfigError(
                f"variables.{cycle[0]}.parents",
                f"the graph has a cycle: {' → '.join([*cycle, cycle[0]])}; allowed: a directed acyclic graph",
            )
        done.add(ready[0])
        out.append(ready[0])
    return out


def _cycle(parents: Mapping[str, set]) -> list[str]:
    """A cycle among variables that all still have parents left (walk to a parent until one repeats)."""
    path, node = [], min(parents)
    while node not in path:
        path.append(node)
        node = min(parents[node])
    cycle = list(reversed(path[path.index(node) :]))  # parent → child order
    start = cycle.index(min(cycle))
    return cycle[start:] + cycle[:start]


def equations(spec: Mapping) -> str:
    """The graph's structural equations as text (for the report), variables in topological order.

    ``spec`` is a canonical graph (`Graph.spec`).  Each line reads as the
    model draws it, e.g. ``Y = 1·T + 0.5·M + gamma·C + ε_Y,  ε_Y ~ N(0, 1)``.
    """
    variables = spec["variables"]
    lines = []
    for name in order(variables):
        var = variables[name]
        index = _linear_index(var)
        kind = var["type"]
        noise = _number_text(var.get("noise", 1.0))
        if kind == "normal":
            lines.append(f"{name} = {_sum(index, _times(noise, f'ε_{name}'))},  ε_{name} ~ N(0, 1)")
        elif kind == "uniform":
            lines.append(f"{name} = {_sum(index, _times(noise, f'U_{name}'))},  U_{name} ~ U(0, 1)")
        elif kind == "binary":
            link = "logit⁻¹" if var.get("link", "logit") == "logit" else "Φ"
            lines.append(f"P({name} = 1) = {link}({_sum(index) or '0'})")
        else:
            link = "logit" if var.get("link", "logit") == "logit" else "probit"
            probs = ", ".join(f"{p:g}" for p in var["probs"])
            lines.append(f"{name} ∈ {{0 … {len(var['probs']) - 1}}}: ordered {link} in η = {_sum(index) or '0'}, "
                         f"category probabilities ({probs}) at η = 0")  # fmt: skip
    treatment, outcome = spec["treatment"], spec["outcome"]
    lines += [
        "",
        f"treatment {treatment}, outcome {outcome}, controls: {', '.join(spec['controls']) or 'none'}",
        f"truth: the mean over units of {outcome}(do({treatment} = 1)) − {outcome}(do({treatment} = 0)) with each "
        "unit's noise held fixed (for a continuous treatment, of a unit increase)",
    ]
    if spec["parameters"]:
        lines.append("parameters (defaults): " + ", ".join(f"{k} = {v:g}" for k, v in spec["parameters"].items()))
    return "\n".join(lines)


def _number_text(value) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def _times(coef: str, what: str) -> str:
    return what if coef == "1" else f"{coef}·{what}"


def _linear_index(var: Mapping) -> list[str]:
    """The pieces of a variable's index: intercept, coefficient·parent, then its terms."""
    pieces = [] if var["intercept"] == 0 else [_number_text(var["intercept"])]
    pieces += [_times(_number_text(c), parent) for parent, c in var["parents"].items()]
    for term in var["terms"]:
        kind, names, coef = term_kind(term), term_vars(term), _number_text(term["coef"])
        text = {
            "square": f"{names[0]}²",
            "product": "·".join(names),
            "exp": f"exp({names[0]})",
            "indicator": f"1[{names[0]} > {_number_text(term.get('above', 0.0))}]",
        }[kind]
        pieces.append(_times(coef, text))
    return pieces


def _sum(pieces, *more) -> str:
    return " + ".join([*pieces, *more])
