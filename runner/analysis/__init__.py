"""The analysis room: a sweep as a study, read from what the store holds.

Owns the per-configuration statistics of a sweep's runs (:mod:`runner.analysis.stats`: counts,
success with a Wilson interval, final losses as median and IQR and as mean and sd, epochs to
converge, the restarts' own success, the critical-point classes), the one adapter from a
tracked run to the plain record the statistics read (:mod:`runner.analysis.runs`), the
figures (:mod:`runner.analysis.figures`, matplotlib's Agg backend, imported there only when
drawing) and the critical-point test of one trained network (:func:`critical_point`, whose
numbers live in :mod:`runner.engine.curvature`, where the sweep's workers run it).

It reads runs as plain objects (MLflow's run entities, or anything shaped like them) and never
talks to a store itself: :mod:`runner.sweep` fetches them through :mod:`runner.tracking` and
logs what this room makes. May import :mod:`runner.engine`, :mod:`runner.plugin`,
:mod:`runner.spec` and :mod:`runner.errors` (and matplotlib, lazily).
"""

from __future__ import annotations

from runner.analysis.runs import RunRow, run_row
from runner.analysis.stats import Group, succeeded, summarize, wilson
from runner.analysis.tables import flat_rows, table_columns, write_csv
from runner.engine.curvature import CriticalPoint, classify, critical_point

__all__ = [
    "CriticalPoint",
    "Group",
    "RunRow",
    "classify",
    "critical_point",
    "run_row",
    "flat_rows",
    "succeeded",
    "summarize",
    "table_columns",
    "wilson",
    "write_csv",
]
