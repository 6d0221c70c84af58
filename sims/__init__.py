"""causalmc engine: scenarios, data-generating processes, runner, summaries, figures."""

__version__ = "0.1.0"

# Bump when a change alters the numbers a scenario produces (a DGP's draws,
# a kernel's formula, the seeding) or the layout of its records.  It is part of every run's fingerprint,
# so results written by an older engine are never silently mixed with new ones.
# 2: records gained the `term` column, and ols/diff_means the `dof` diagnostic
#    (a run folder of version 1 would mix two record layouts).
NUMBERS_VERSION = 2
