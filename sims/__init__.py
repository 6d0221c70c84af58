"""causalmc engine: scenarios, data-generating processes, runner, summaries, figures."""

__version__ = "0.1.0"

# Bump when a change alters the numbers a scenario produces (a DGP's draws,
# a kernel's formula, the seeding).  It is part of every run's fingerprint,
# so results written by an older engine are never silently mixed with new ones.
NUMBERS_VERSION = 1
