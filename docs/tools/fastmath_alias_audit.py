"""List the vectorised loops of the package's kernels that sum in SIMD lanes behind a run-time alias check.

Such a loop both writes an array and reduces (``fastmath`` reassociation): LLVM vectorises it behind a check that
the arrays it writes lie a vector block away from those it reads, and runs the scalar loop, which sums in another
order, when they do not.  Its last bits then depend on heap addresses (`causalmc.estimators.moments`' module
docstring).  The audit compiles every kernel afresh (numba's cache holds no IR, so run it with an empty
``NUMBA_CACHE_DIR``), running every estimator on every DGP example, and reads the optimised LLVM IR: a block
``vector.memcheck`` from which the guarded loop's vector blocks reach a horizontal reduction (``bin.rdx``,
``rdx.shuf`` or ``llvm.vector.reduce.f*``).  Block names are LLVM's own, kept in numba's IR.

    NUMBA_CACHE_DIR=$(mktemp -d) python docs/tools/fastmath_alias_audit.py

About 4 minutes.  Prints one line per (module, dispatcher, function holding the loop: the dispatcher's own or
one inlined into it).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import warnings

import numpy as np
from numba.core.registry import CPUDispatcher

import causalmc.estimators as package
from causalmc import estimators
from causalmc.sims import dgps

LABEL = re.compile(r"^([A-Za-z0-9_.$\"-]+):", re.M)
LOOP_BLOCKS = ("vector.", "vec.epilog", "middle.block", "iter.check")
LOOP_EXITS = ("middle.block", "vec.epilog.middle.block")
REDUCTION = ("bin.rdx", "rdx.shuf", "llvm.vector.reduce.f")


def compile_everything() -> None:
    """Run every estimator, with each choice of each string option, on two replications of every DGP example."""
    for dgp in dgps.registry().values():
        for params in dgp.example_params():
            batch = dgp.generate(np.random.default_rng(1), 2, params)
            dgps.pop_truths(batch, dgp.estimand)
            shapes = {k: v.shape[1:] for k, v in batch.items()}
            for spec in estimators.registry().values():
                if not set(spec.arrays(spec.default_options())) <= set(dgp.provides):
                    continue
                choices = [{}] + [{o.name: c} for o in spec.options if o.choices for c in o.choices]
                for choice in choices:
                    options = spec.default_options() | choice
                    if (spec.check and spec.check(options, 0.95)) or (spec.applies and spec.applies(shapes, options)):
                        continue
                    terms = spec.terms(shapes, options) if spec.terms else ()
                    shape = (2, len(terms)) if terms else (2,)
                    out, status = np.full((*shape, spec.width), np.nan), np.zeros(shape, np.int8)
                    extra = {"rng": np.random.default_rng(0)} if spec.resampling else {}
                    try:
                        spec.run(batch, np.zeros(shape), options, 0.95, out, status, **extra)
                    except Exception:  # noqa: BLE001 - an estimator that cannot run here compiles nothing to audit
                        continue


def python_name(mangled: str) -> str:
    """``causalmc.estimators.moments.dot`` from numba's Itanium-mangled ``_ZN8causalmc10estimators7moments3dotB…``."""
    if not mangled.startswith("_ZN"):
        return mangled
    parts, i = [], 3
    while i < len(mangled) and mangled[i].isdigit():
        j = i
        while mangled[j].isdigit():
            j += 1
        size = int(mangled[i:j])
        parts.append(mangled[j : j + size])
        i = j + size
    return ".".join(parts)


def guarded_reductions(ir: str):
    """Names of the LLVM functions in `ir` with a reducing loop behind a ``vector.memcheck``."""
    for function in re.split(r"\ndefine ", ir)[1:]:
        name = re.search(r"@(\S+)\(", function.split("\n")[0])
        parts = LABEL.split(function)
        blocks = {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
        for start in (b for b in blocks if b.startswith("vector.memcheck")):
            pending, seen = [start], set()
            while pending:
                block = pending.pop()
                if block in seen:
                    continue
                seen.add(block)
                text = blocks.get(block, "")
                if any(mark in text for mark in REDUCTION):
                    yield python_name(name.group(1)) if name else "?"
                    pending = []
                    break
                if block.startswith(LOOP_EXITS):
                    continue  # what follows the loop's exit is another loop
                pending += [b for b in re.findall(r"label %([\w.]+)", text) if b.startswith(LOOP_BLOCKS)]


def main() -> None:
    compile_everything()
    found, seen = set(), set()
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        for attribute, obj in vars(module).items():
            if not isinstance(obj, CPUDispatcher) or id(obj) in seen:
                continue
            seen.add(id(obj))
            for signature in obj.signatures:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a cached kernel has no IR: hence the empty cache
                    ir = obj.inspect_llvm(signature)
                found |= {(module.__name__, attribute, fn) for fn in guarded_reductions(ir)}
    for row in sorted(found):
        print(*row)
    print(f"{len(seen)} dispatchers inspected, {len(found)} guarded reductions")


if __name__ == "__main__":
    main()
