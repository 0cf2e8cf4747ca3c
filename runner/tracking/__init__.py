"""The tracking room: everything that reaches MLflow, and nothing else does.

- :mod:`~runner.tracking.tracker`: the recorder, :class:`Tracker` (experiments, sweep and run
  records, retries, the spool's replay);
- :mod:`~runner.tracking.records`: what a run holds (tags, params, metric points, artifacts);
- :mod:`~runner.tracking.bulk`: the bulk recorder (whole runs, many per transaction, into the
  tables of a SQL store at the installed MLflow's schema revision);
- :mod:`~runner.tracking.writers`: writer threads, each with its own client, for a server;
- :mod:`~runner.tracking.spool`: results kept on disk while the store is away (JSON + npz);
- :mod:`~runner.tracking.store`: where the store is (URIs) and which failures are transient;
- :mod:`~runner.tracking.pyfunc`: a recorded run's network, and the MLflow pyfunc model.

May import :mod:`runner.engine`, :mod:`runner.plugin`, :mod:`runner.spec`, :mod:`runner.errors`
and :mod:`runner.environ` (``docs/architecture.md``); mlflow is imported inside functions only.
"""

from __future__ import annotations

from runner.tracking.pyfunc import load_network
from runner.tracking.records import LARGEST_FLOAT
from runner.tracking.spool import result_from_spool, result_to_spool
from runner.tracking.store import DEFAULT_URI, resolve_uri
from runner.tracking.tracker import (
    Tracker,
    experiment_id_at_rest,
    finished_hashes_at_rest,
    finished_hashes_readonly,
)

__all__ = [
    "DEFAULT_URI",
    "LARGEST_FLOAT",
    "Tracker",
    "experiment_id_at_rest",
    "finished_hashes_at_rest",
    "finished_hashes_readonly",
    "load_network",
    "resolve_uri",
    "result_from_spool",
    "result_to_spool",
]
