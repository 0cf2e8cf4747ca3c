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
:func:`runner.analysis.run_row` to read; from a SQLite store, the runs and the histories are
read straight from its tables with the standard library instead (:class:`StoredRun`, shaped
like MLflow's entities), in one read transaction: MLflow's import, client and ORM cost seconds,
a plain read of a thousand runs a fraction of one. Where those tables are not as expected,
MLflow reads the store. mlflow is imported inside functions only; imports
:mod:`runner.tracking.store`, :mod:`runner.tracking.spool` (a trajectory's bound),
:mod:`runner.engine.npz` and :mod:`runner.errors`.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.engine.npz import load_npz
from runner.errors import TrackingError, first_line
from runner.tracking.spool import MAX_TRAJECTORY_BYTES
from runner.tracking.store import (
    cause_of,
    normalize_uri,
    read_only,
    resolve_uri,
    sqlite_damage_problem,
    sqlite_path,
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
    path = sqlite_path(normalize_uri(uri))
    direct = None if path is None else _sqlite_child_runs(path, experiment, uri)
    if direct is not None:
        runs, names = direct
        return _chosen(uri, experiment, runs, names, table)
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
    return _chosen(uri, experiment, runs if names is None else [], names, table)


def _chosen(
    uri: str, experiment: str, runs: list[Any], names: list[str] | None, table: str | None
) -> list[Any]:
    """The runs of :func:`study_runs` (one per spec hash, of ``table`` where given), or its
    one line when the experiment is not there (``names``: the experiments there are)."""
    if names is not None:
        from runner.errors import did_you_mean

        raise TrackingError(
            f"tracking store {uri}: no experiment {experiment!r}; "
            f"{did_you_mean(experiment, names)}the store has {', '.join(names) or 'none'}"
        )
    if table is not None:
        runs = [r for r in runs if r.data.tags.get("runner.table") == table]
    return _one_per_spec(runs)


@dataclass(frozen=True)
class RunInfo:
    """What a study reads of a run's info, as MLflow's ``RunInfo`` has it."""

    run_id: str
    run_name: str
    start_time: int
    status: str
    artifact_uri: str


@dataclass(frozen=True)
class RunData:
    """A run's tags, params and metrics (each metric's latest value), as MLflow's ``RunData``."""

    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]


@dataclass(frozen=True)
class StoredRun:
    """A run read straight from a SQLite store, shaped like MLflow's ``Run``."""

    info: RunInfo
    data: RunData


#: every configuration's run of an experiment, as MLflow's search for the tag runner.kind = run
#: sees them (active runs only)
_CHILDREN = (
    "select r.run_uuid from runs r join tags k on k.run_uuid = r.run_uuid "
    "and k.key = 'runner.kind' and k.value = 'run' "
    "where r.experiment_id = ? and r.lifecycle_stage = 'active'"
)


def _sqlite_child_runs(
    path: Path, experiment: str, uri: str = ""
) -> tuple[list[StoredRun], list[str] | None] | None:
    """``(runs, None)``: the configurations' runs of ``experiment`` in the SQLite store at
    ``path``, read with the standard library in one read transaction (no mlflow import, no
    ORM: a thousand runs in a fraction of a second); ``([], names)`` when the experiment is
    not there; None when the tables are not as expected (MLflow then reads the store)."""
    try:
        with read_only(path, timeout=10) as con:
            con.execute("begin")  # one snapshot, whatever a sweep writes meanwhile
            found = con.execute(
                "select experiment_id from experiments where name = ? and lifecycle_stage = "
                "'active'",
                (experiment,),
            ).fetchone()
            if found is None:
                names = [r[0] for r in con.execute(
                    "select name from experiments where lifecycle_stage = 'active' "
                    "order by experiment_id"
                )]  # fmt: skip
                return [], names
            ident = (found[0],)
            tags: dict[str, dict[str, str]] = defaultdict(dict)
            params: dict[str, dict[str, str]] = defaultdict(dict)
            metrics: dict[str, dict[str, float]] = defaultdict(dict)
            for run, key, value in con.execute(
                f"select run_uuid, key, value from tags where run_uuid in ({_CHILDREN})", ident
            ):
                tags[run][key] = value
            for run, key, value in con.execute(
                f"select run_uuid, key, value from params where run_uuid in ({_CHILDREN})", ident
            ):
                params[run][key] = value
            for run, key, value, is_nan in con.execute(
                "select run_uuid, key, value, is_nan from latest_metrics "
                f"where run_uuid in ({_CHILDREN})",
                ident,
            ):
                metrics[run][key] = math.nan if is_nan else float(value)
            runs = [
                StoredRun(
                    RunInfo(run, name or "", int(start or 0), status, artifact_uri or ""),
                    RunData(tags[run], params[run], metrics[run]),
                )
                for run, name, start, status, artifact_uri in con.execute(
                    "select run_uuid, name, start_time, status, artifact_uri from runs "
                    f"where run_uuid in ({_CHILDREN})",
                    ident,
                )
            ]
    except sqlite3.DatabaseError as exc:
        uri = uri or f"sqlite:///{path}"
        damaged = sqlite_damage_problem(uri, path)
        if damaged:
            raise TrackingError(damaged) from None
        if isinstance(exc, sqlite3.OperationalError):  # a lock held too long, another layout
            return None  # MLflow reads it, and says what is wrong
        raise TrackingError(f"tracking store {uri}: cannot read it ({exc})") from None
    return runs, None


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
    """``run_id -> (steps, values)`` of metric ``key`` (runs without it left out); from a
    SQLite store straight from its ``metrics`` table, in one query."""
    path = sqlite_path(normalize_uri(resolve_uri(tracking_uri)))
    if path is not None:
        direct = _sqlite_histories(path, run_ids, key)
        if direct is not None:
            return direct
    client = _client(tracking_uri)
    out: dict[str, tuple[list[int], list[float]]] = {}
    for run_id in run_ids:
        points = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
        if points:
            out[run_id] = ([p.step for p in points], [p.value for p in points])
    return out


def _sqlite_histories(
    path: Path, run_ids: Sequence[str], key: str
) -> dict[str, tuple[list[int], list[float]]] | None:
    """:func:`metric_histories` from the SQLite store at ``path``; None when it cannot be read
    so (MLflow then reads it)."""
    out: dict[str, tuple[list[int], list[float]]] = {}
    try:
        with read_only(path, timeout=10) as con:
            con.execute("create temp table wanted (run_uuid text primary key)")
            con.executemany("insert or ignore into wanted values (?)", ((r,) for r in run_ids))
            rows = con.execute(
                "select m.run_uuid, m.step, m.value, m.is_nan from metrics m "
                "join wanted w on w.run_uuid = m.run_uuid where m.key = ? "
                "order by m.run_uuid, m.step, m.timestamp",
                (key,),
            ).fetchall()
    except sqlite3.Error:
        return None
    for run, step, value, is_nan in rows:
        steps, values = out.setdefault(run, ([], []))
        steps.append(int(step))
        values.append(math.nan if is_nan else float(value))
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
