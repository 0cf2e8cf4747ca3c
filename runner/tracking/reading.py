"""Reading a study back from the store: an experiment's child runs, their histories, and logging
a report's files to a sweep's run.

:func:`study_runs` lists every child run of an experiment (all its sweeps: a partial one, a
resumed one, several invocations of the same table), one per spec hash (the latest with an
outcome); :func:`metric_histories` fetches one metric's history per run (the loss curves);
:func:`trajectories` an objective run's path from its ``.npz`` artifact (loaded by
:func:`runner.engine.npz.load_npz`, headers checked and size bounded first: a store's file is
data, never code, and no memory bomb);
:func:`log_report` puts a report's figures (as images), its table (as an MLflow table artifact
the UI shows) and its CSV on a run. Runs are returned as MLflow's entities, for
:func:`runner.analysis.run_row` to read. mlflow is imported inside functions only; imports
:mod:`runner.tracking.store`, :mod:`runner.tracking.spool` (a trajectory's bound),
:mod:`runner.engine.npz` and :mod:`runner.errors`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from runner.engine.npz import load_npz
from runner.errors import TrackingError, first_line
from runner.tracking.spool import MAX_TRAJECTORY_BYTES
from runner.tracking.store import (
    cause_of,
    normalize_uri,
    resolve_uri,
    sqlite_read_problem,
    store_problem,
)

log = logging.getLogger(__name__)

#: the order in which a spec's runs are preferred when it has several: an outcome first
_PREFERRED = {"finished": 0, "diverged": 0, "failed": 1, "killed": 2, "training": 3}


def _client(uri: str | None) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(resolve_uri(uri))


def study_runs(
    experiment: str, tracking_uri: str | None = None, table: str | None = None
) -> list[Any]:
    """The child runs of ``experiment`` (only those of ``table``, as runs record it, when
    given), one per spec hash. :class:`TrackingError` (one line) when the experiment does not
    exist or the store cannot be read."""
    uri = resolve_uri(tracking_uri)
    # a report reads: it creates no store, and writes no schema into an empty file
    problem = store_problem(normalize_uri(uri)) or sqlite_read_problem(normalize_uri(uri))
    if problem:
        raise TrackingError(problem)
    try:
        client = _client(uri)
        found = client.get_experiment_by_name(experiment)
        names = None
        if found is None or found.lifecycle_stage == "deleted":
            names = [e.name for e in client.search_experiments()]
        else:
            runs = _child_runs(client, found.experiment_id)
    except Exception as exc:  # anything MLflow or the database under it says, as one line
        raise TrackingError(f"tracking store {uri}: cannot read it ({cause_of(exc)})") from None
    if names is not None:
        from runner.errors import did_you_mean

        raise TrackingError(
            f"tracking store {uri}: no experiment {experiment!r}; "
            f"{did_you_mean(experiment, names)}the store has {', '.join(names) or 'none'}"
        )
    if table is not None:
        runs = [r for r in runs if r.data.tags.get("runner.table") == table]
    return _one_per_spec(runs)


def _child_runs(client: Any, experiment_id: str) -> list[Any]:
    """Every run of the experiment that records one configuration, page by page."""
    query = "tags.`runner.kind` = 'run'"
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string=query, max_results=5000, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _one_per_spec(runs: Iterable[Any]) -> list[Any]:
    best: dict[str, Any] = {}
    for run in runs:
        key = run.data.tags.get("runner.spec_hash") or run.info.run_id
        rank = (_PREFERRED.get(run.data.tags.get("runner.status", ""), 4), -run.info.start_time)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, run)
    return [run for _, run in best.values()]


def metric_histories(
    run_ids: Sequence[str], key: str, tracking_uri: str | None = None
) -> dict[str, tuple[list[int], list[float]]]:
    """``run_id -> (steps, values)`` of metric ``key`` (runs without it left out)."""
    client = _client(tracking_uri)
    out: dict[str, tuple[list[int], list[float]]] = {}
    for run_id in run_ids:
        points = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
        if points:
            out[run_id] = ([p.step for p in points], [p.value for p in points])
    return out


def trajectories(
    run_ids: Sequence[str], name: str, tracking_uri: str | None = None
) -> dict[str, tuple[Any, Any]]:
    """``run_id -> (steps (T,), points (T, n))`` from each run's artifact ``name`` (an ``.npz``
    of the arrays ``steps`` and ``points``); a run without it, or whose file is not such a pair
    of numeric arrays of one length, is left out. The caller bounds ``run_ids``."""
    import tempfile

    import numpy as np

    client = _client(tracking_uri)
    out: dict[str, tuple[Any, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="runner-trajectories-") as tmp:
        for i, run_id in enumerate(run_ids):
            folder = Path(tmp) / str(i)
            folder.mkdir()
            try:
                path = client.download_artifacts(run_id, name, str(folder))
            except Exception:  # no trajectory (a failed run, an older recording): no line
                continue
            try:
                data = load_npz(path, max_bytes=MAX_TRAJECTORY_BYTES, what="a trajectory")
                steps = np.asarray(data["steps"], dtype=np.int64)
                points = np.asarray(data["points"], dtype=np.float64)
            except (ValueError, KeyError) as exc:  # not drawn, and the report says why
                log.warning("runner: run %s's trajectory is not drawn: %s", run_id, first_line(exc))
                continue
            if steps.ndim == 1 and points.ndim == 2 and len(steps) == len(points) > 0:
                out[run_id] = (steps, points)
    return out


def log_report(
    run_id: str,
    table: dict[str, list[Any]],
    files: Sequence[Path],
    tracking_uri: str | None = None,
    artifact_dir: str = "report",
) -> None:
    """Log a report to run ``run_id``: ``table`` (column -> values) as the table artifact
    ``report/summary.json`` the UI shows, ``files`` (figures, the CSV) under ``report/``."""
    client = _client(tracking_uri)
    client.log_table(run_id, data=table, artifact_file=f"{artifact_dir}/summary.json")
    for path in files:
        client.log_artifact(run_id, str(path), artifact_dir)
