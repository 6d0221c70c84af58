"""Run the `run:` steps of a GitHub Actions workflow locally, in order, as a job would.

``python examples/ci/run_workflow.py examples/ci/causalmc-benchmarks.yml``
runs in a scratch copy of nothing: it works in the current directory (a
clone of the repository), with the job's ``env``, ``GITHUB_STEP_SUMMARY``
pointing at a file it prints at the end, and bash ``-e`` as GitHub's
default shell.  ``uses:`` steps (checkout, caches, artifacts) are GitHub's
own and are skipped; a step with an ``if:`` other than ``always()`` is
skipped too.  Exits with the first failing step's code.  .ci/run uses it
so the documented workflow is known to work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml


def main(path: str) -> int:
    workflow = yaml.safe_load(Path(path).read_text())
    summary = Path(tempfile.mkdtemp()) / "step_summary.md"
    summary.touch()
    failed = 0
    for name, job in workflow["jobs"].items():
        env = os.environ | {k: str(v) for k, v in job.get("env", {}).items()}
        env |= {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": os.getcwd(), "CI": "true"}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # this venv's python and causalmc
        for step in job["steps"]:
            if "run" not in step:
                continue
            condition = step.get("if")
            if condition is not None and condition != "always()":
                print(f"[{name}] skip: {step.get('name', step['run'])} (if: {condition})", flush=True)
                continue
            if failed and condition != "always()":
                continue
            print(f"[{name}] {step.get('name', step['run'])}", flush=True)
            code = subprocess.run(["bash", "-e", "-c", step["run"]], env=env).returncode
            if code and not failed:
                print(f"[{name}] step failed with exit code {code}", flush=True)
                failed = code
    print("---- GITHUB_STEP_SUMMARY ----")
    print(summary.read_text())
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
