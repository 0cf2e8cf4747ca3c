"""The table room: a sweep table file (or rows a program holds) into validated run specifications.

- :mod:`~runner.table.readers`: a file into a DataFrame, by its extension;
- :mod:`~runner.table.cells`: a cell into its values (``0.1|0.5``, ``0..9``, blanks);
- :mod:`~runner.table.columns`: the core columns and the plugins' parameter columns;
- :mod:`~runner.table.names`: run names, from the plugins' declarations;
- :mod:`~runner.table.build`: every row checked against the installed plugins, every problem one
  line naming the file, row, column and value; :func:`load_specs` and :func:`specs_from_rows`.

May import :mod:`runner.engine`, :mod:`runner.plugin`, :mod:`runner.spec` and
:mod:`runner.errors` (``docs/architecture.md``); pandas is imported here only.
"""

from __future__ import annotations

from runner.table.build import load_specs, specs_from_rows
from runner.table.cells import MAX_RUNS_PER_ROW
from runner.table.columns import CORE, describe_columns
from runner.table.readers import read_table

__all__ = [
    "CORE",
    "MAX_RUNS_PER_ROW",
    "describe_columns",
    "load_specs",
    "read_table",
    "specs_from_rows",
]
