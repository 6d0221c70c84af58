"""Running scenarios, the engine's room: a plan's tasks computed on a pool of workers into a run folder.

`plan` (cells, chunks, tasks) → `pool` (loky or Dask) running `tasks` (a
worker's streams, DGP batch and kernels) → `execute` (the missing tasks,
records files and the manifest, in rounds with `adaptive`) → `pipeline`
(the summary, then figures and report); `folder` keeps the run folder
(manifest, resume, refusal) that the report and `causalmc.open` read too.
The package imports nothing here, so a reader of one module (the report
reading the manifest) loads no more than that module.
"""
