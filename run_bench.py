#!/usr/bin/env python3
"""causalmc command line; see ``python run_bench.py --help``."""

import sys

from causalmc.sims.cli import main

if __name__ == "__main__":
    sys.exit(main())
