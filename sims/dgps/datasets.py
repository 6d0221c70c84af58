"""The datasets that ship with causalmc: each one a definition, in one registry.

A shipped dataset is more than a file: it says which columns are the unit,
the period and the default outcome, which slice of its periods a design
uses when the scenario gives none (BDM's 1979–1999 for the CPS), where it
comes from and under which licence.  A DGP that reads data files declares
the datasets it accepts (`Dgp.shipped_data`) and parameters named like the
keys of `Dataset.defaults`; the scenario loader fills every such parameter
the scenario leaves unset from the dataset's definition, for each cell,
*before* the cell's identity is computed and before the DGP sees it
(`Scenario.cells`).  So the DGP never needs a dataset's name: it receives
the file's path and explicit columns and periods.

A dataset is recognised by its content, not by how the scenario names it:
``data = "cps"``, a path to the shipped ``cps.csv`` or a copy of it anywhere
are the same dataset with the same defaults, as they already were the same
run identity (a data file enters it by its SHA-256).  A file of the user's
own is no dataset: its columns must be given and it is used whole unless
``first_period`` / ``last_period`` slice it.

Provenance and licences: ``sims/dgps/data/README.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Dataset:
    """A shipped dataset's definition.

    Parameters
    ----------
    name : str
        The name a scenario uses (``data = "cps"``).
    file : str
        File name under ``sims/dgps/data/``.
    summary : str
        One line for listings: what the rows and columns are.
    defaults : mapping
        DGP parameter -> value taken when the scenario leaves the parameter
        unset: the unit, period and outcome columns, and the default slice
        (``first_period``, ``last_period``).
    source : str
        Where the file comes from (package, version, file).
    licence : str
        The licence it is shipped under (its notice, where one is required,
        beside the file).
    """

    name: str
    file: str
    summary: str
    defaults: Mapping = field(default_factory=dict)
    source: str = ""
    licence: str = ""

    @property
    def path(self) -> Path:
        return DATA / self.file

    def unsliced(self) -> Dataset:
        """The same dataset with no default slice (a design that uses every period)."""
        return replace(self, defaults={**self.defaults, "first_period": None, "last_period": None})


CASTLE = Dataset(
    name="castle",
    file="castle.csv",
    summary="castle-doctrine panel: 50 US states x 2000-2010, logs of crime rates (Cheng & Hoekstra 2013)",
    defaults={"unit": "state", "period": "year", "outcome": "l_homicide", "first_period": None, "last_period": None},
    source="causaldata 0.1.5 (PyPI), causaldata/castle/castle.dta",
    licence="MIT",
)
CPS = Dataset(
    name="cps",
    file="cps.csv",
    summary=(
        "CPS state panel of Bertrand, Duflo & Mullainathan as rebuilt by Arkhangelsky et al. (2021): 50 US states x "
        "1979-2018, women's log weekly wage, hours, unemployment rate; default slice BDM's 1979-1999"
    ),
    defaults={
        "unit": "state",
        "period": "year",
        "outcome": "log_wage",
        "first_period": 1979,
        "last_period": 1999,
        "assignment": "min_wage",
    },
    source="synthdid-py 0.1.0 (PyPI), synthdid/data/CPS.csv, from the R package synthdid",
    licence="BSD-3-Clause (notice in cps_LICENSE.txt)",
)
PENN = Dataset(
    name="penn",
    file="penn.csv",
    summary="Penn World Table: 111 countries x 1960-2007, log GDP per capita, democracy and education indicators",
    defaults={
        "unit": "country",
        "period": "year",
        "outcome": "log_gdp",
        "first_period": None,
        "last_period": None,
        "assignment": "dem",
    },
    source="synthdid-py 0.1.0 (PyPI), synthdid/data/PENN.csv, from the R package synthdid",
    licence="BSD-3-Clause (notice in penn_LICENSE.txt)",
)
CALIFORNIA_PROP99 = Dataset(
    name="california_prop99",
    file="california_prop99.csv",
    summary=(
        "cigarette sales: 39 US states x 1970-2000, packs per capita; California treated from 1989 "
        "(Proposition 99; Abadie, Diamond & Hainmueller 2010)"
    ),
    defaults={"unit": "state", "period": "year", "outcome": "packs_per_capita", "first_period": None,
              "last_period": None},  # fmt: skip
    source="synthdid-py 0.1.0 (PyPI), synthdid/data/california_prop99.csv, from the R package synthdid",
    licence="BSD-3-Clause (notice in california_prop99_LICENSE.txt)",
)
DATASETS: dict[str, Dataset] = {d.name: d for d in (CASTLE, CPS, PENN, CALIFORNIA_PROP99)}


def named(names) -> dict[str, Dataset]:
    """The shipped datasets of these names, by name (what a DGP declares as its `shipped_data`)."""
    return {name: DATASETS[name] for name in names}


def with_defaults(params: Mapping, dataset: Dataset | None) -> dict:
    """`params` with every parameter the dataset defines and the scenario left unset (None) taken from it."""
    if dataset is None:
        return dict(params)
    return {k: dataset.defaults[k] if v is None and k in dataset.defaults else v for k, v in params.items()}
