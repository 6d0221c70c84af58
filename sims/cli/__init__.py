"""Command line: ``python run_bench.py [suite|run|solve|summary|check|list|bench] ...``.

Exit codes: 0 success; 1 an expectation of a scenario does not hold (or a
benchmark target is missed); 2 bad input (a scenario file, a run directory,
an argument), with nothing written; 130 interrupted.

The package: `parser` (every command's options and help), `runs` (suite,
run, plan, sample, estimate, list), `results` (commands on finished run
folders), `solve` (the design parameter at which a measure reaches a target).
"""

from __future__ import annotations

import os
import sys

from .. import api
from ..frames import FrameError
from ..plugins import PluginError
from ..report import reference
from ..run.folder import RunDirError, WriteError
from ..scenario import ScenarioError
from . import results, runs, solve
from .parser import DEFAULT_OUT, build_parser
from .runs import REPO_SCENARIOS, read_dataset, scenarios_folder

__all__ = ["COMMANDS", "DEFAULT_OUT", "REPO_SCENARIOS", "build_parser", "main", "read_dataset", "scenarios_folder"]

COMMANDS = tuple(
    "suite run solve plan sample estimate summary check compare report figures pages list docs bench".split()
)
HANDLERS = {
    "suite": runs.suite,
    "run": runs.run_files,
    "solve": solve.command,
    "plan": runs.plan,
    "sample": runs.sample,
    "estimate": runs.estimate,
    "list": runs.list_all,
    "summary": results.summary,
    "check": results.check,
    "compare": results.compare,
    "report": results.rerender,
    "figures": results.figures,
    "pages": results.pages,
}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["suite", *argv]  # no command: the default suite
    args = build_parser().parse_args(argv)
    command = args.command
    try:
        if command in HANDLERS:
            return HANDLERS[command](args)
        if command == "docs":
            return reference.command(args.out, build_parser())
        if command == "bench":
            from ..bench import main as bench_main

            return bench_main(args)
    except (ScenarioError, RunDirError, FileNotFoundError, PluginError, api.UsageError, FrameError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except WriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("\ninterrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    raise AssertionError(command)


