"""The bulk recorder: whole runs, many per transaction, written straight into the tables of an
MLflow SQL store (sqlite://, postgresql://, mysql:// URIs the driver opens itself).

MLflow's public API writes a run in a few transactions and builds one ORM object (and one
validation) per metric point; this module writes the same rows through MLflow's own table
definitions (:mod:`mlflow.store.tracking.dbmodels.models`: ``runs``, ``tags``, ``params``,
``metrics``, ``latest_metrics``, and ``datasets``, ``inputs``, ``input_tags`` for the runs' dataset
inputs) with SQLAlchemy Core bulk inserts, so that a thousand runs cost
one transaction. The rows are the ones the public API writes: a run created as
``MlflowClient.create_run`` creates it (``mlflow.runName`` tag, ``user_id`` from ``mlflow.user``,
source type UNKNOWN, the artifact URI ``<experiment's artifact location>/<run id>/artifacts``),
metric points deduplicated as ``log_batch`` does, ``latest_metrics`` holding the point with the
greatest ``(step, timestamp, value)`` per key, a dataset input as ``log_inputs`` writes it (one
``datasets`` row per name and digest in the experiment, an ``inputs`` edge from it to the run,
the input's tags), and the status and end time ``set_terminated`` sets.

It is used only when the store's schema revision (its ``alembic_version`` table) is the head
revision of the installed MLflow's migrations (:func:`schema_revisions`): the tables are then
exactly the ones the models describe. Any other store, or any doubt, gets None from
:func:`open_writer` and the caller writes through the public API.

A transaction holds whole runs: every row of every run of a :meth:`SqlWriter.complete` call is
committed together, or none is. A run already completed (a commit that went through although
its caller saw an error) is left out of a second call, so that a retry never duplicates.
mlflow and sqlalchemy are imported inside functions only; imports nothing of runner's.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: rows per ``IN (...)`` list (well within every database's limit of bound variables)
_CHUNK = 500

#: the key of the PostgreSQL advisory lock two sweeps' claims take turns under
CLAIM_LOCK = 0x72756E6E6572  # "runner"


@dataclass
class BulkRun:
    """One run as the bulk recorder writes it.

    ``create`` says whether the run's row is new (else the run exists, RUNNING: a claim);
    ``tags`` are set (a new value replaces an old one), ``params`` and ``metrics`` (``(key,
    value, timestamp, step)``, finite values) added; ``dataset`` (the dataset's fields and the
    input's tags, :func:`runner.tracking.records.run_dataset`) becomes its dataset input;
    ``status`` and ``end_ms`` end the run unless ``status`` is RUNNING.
    """

    run_id: str
    experiment_id: str
    name: str
    start_ms: int
    artifact_uri: str
    status: str = "RUNNING"
    end_ms: int | None = None
    create: bool = True
    tags: dict[str, str] = field(default_factory=dict)
    params: list[tuple[str, str]] = field(default_factory=list)
    metrics: list[tuple[str, float, int, int]] = field(default_factory=list)
    dataset: tuple[dict[str, str], dict[str, str]] | None = None


def schema_revisions(engine: Any) -> tuple[str | None, str]:
    """``(the store's alembic revision, the installed MLflow's head revision)``."""
    from mlflow.store.db.utils import _get_latest_schema_revision, _get_schema_version

    return _get_schema_version(engine), _get_latest_schema_revision()


def open_writer(client: Any) -> SqlWriter | None:
    """A :class:`SqlWriter` on the store of ``client`` (an ``MlflowClient``), or None when the
    store is not a SQL store this process opens itself, or its schema revision is not the
    installed MLflow's head (then the public API is the way)."""
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = client._tracking_client.store
        if not isinstance(store, SqlAlchemyStore):
            return None
        current, head = schema_revisions(store.engine)
    except Exception as exc:  # an MLflow without these internals: the public API it is
        log.info("runner: bulk recorder not used: %s", exc)
        return None
    if current != head:
        log.info(
            "runner: bulk recorder not used: store at schema revision %s, MLflow expects %s",
            current,
            head,
        )
        return None
    return SqlWriter(store.engine)


def artifact_uri(location: str, run_id: str) -> str:
    """Where MLflow's SQL store puts a new run's artifacts."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.utils.uri import append_to_uri_path

    return append_to_uri_path(location, run_id, SqlAlchemyStore.ARTIFACTS_FOLDER_NAME)


def latest_points(
    metrics: Iterable[tuple[str, float, int, int]],
) -> dict[str, tuple[str, float, int, int]]:
    """Per key, the point MLflow keeps in ``latest_metrics``: the greatest (step, timestamp,
    value)."""
    latest: dict[str, tuple[str, float, int, int]] = {}
    for point in metrics:
        key, value, timestamp, step = point
        old = latest.get(key)
        if old is None or (step, timestamp, value) > (old[3], old[2], old[1]):
            latest[key] = point
    return latest


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class SqlWriter:
    """Writes :class:`BulkRun` s into one SQL store, many runs per transaction."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._locations: dict[str, str] = {}

    def artifact_uri(self, experiment_id: str, run_id: str) -> str:
        """The artifact URI MLflow gives a new run of the experiment."""
        if experiment_id not in self._locations:
            from mlflow.store.tracking.dbmodels.models import SqlExperiment
            from sqlalchemy import select

            table = SqlExperiment.__table__
            query = select(table.c.artifact_location).where(
                table.c.experiment_id == int(experiment_id)
            )
            with self.engine.connect() as conn:
                self._locations[experiment_id] = conn.execute(query).scalar_one()
        return artifact_uri(self._locations[experiment_id], run_id)

    def finished_hashes(self, experiment_id: str) -> set[str]:
        """The ``runner.spec_hash`` tags of the experiment's active FINISHED runs tagged
        ``runner.kind`` = ``run``: what ``search_runs`` with that filter finds, in one query that
        reads two tags a run instead of building every run whole (at 100,000 runs: seconds,
        not minutes, and no page of whole runs in memory)."""
        from mlflow.store.tracking.dbmodels.models import SqlRun, SqlTag
        from sqlalchemy import and_, select

        runs_t, tags_t = SqlRun.__table__, SqlTag.__table__
        kind, spec = tags_t.alias("kind"), tags_t.alias("spec")
        query = (
            select(spec.c.value)
            .select_from(runs_t)
            .join(kind, and_(kind.c.run_uuid == runs_t.c.run_uuid, kind.c.key == "runner.kind"))
            .join(
                spec, and_(spec.c.run_uuid == runs_t.c.run_uuid, spec.c.key == "runner.spec_hash")
            )
            .where(
                runs_t.c.experiment_id == int(experiment_id),
                runs_t.c.status == "FINISHED",
                runs_t.c.lifecycle_stage == "active",
                kind.c.value == "run",
            )
        )
        with self.engine.connect() as conn:
            return {value for (value,) in conn.execute(query)}

    @contextlib.contextmanager
    def claim_lock(self) -> Iterator[None]:
        """The store's lock for claims, held for the block: what the file lock beside a SQLite
        store is, on a server database (PostgreSQL's session advisory lock :data:`CLAIM_LOCK`,
        MySQL's named lock), so that two sweeps never claim one spec. SQLite: nothing here."""
        dialect = self.engine.dialect.name
        if dialect not in ("postgresql", "mysql"):
            yield
            return
        if dialect == "postgresql":
            take = f"SELECT pg_advisory_lock({CLAIM_LOCK})"
            give = f"SELECT pg_advisory_unlock({CLAIM_LOCK})"
        else:
            take = "SELECT GET_LOCK('runner.claims', -1)"
            give = "SELECT RELEASE_LOCK('runner.claims')"
        with self.engine.connect() as conn:
            conn.exec_driver_sql(take)
            conn.commit()
            try:
                yield
            finally:
                conn.exec_driver_sql(give)
                conn.commit()

    def _insert(self, conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` (dicts keyed by column) into ``table``: on SQLite straight through the
        driver's executemany (SQLAlchemy's per-row processing cost more than SQLite itself),
        elsewhere as a Core bulk insert (batched into multi-row INSERTs by SQLAlchemy)."""
        if not rows:
            return
        if self.engine.dialect.name != "sqlite":
            from sqlalchemy import insert

            conn.execute(insert(table), rows)
            return
        names = list(rows[0])
        columns = ", ".join(self.engine.dialect.identifier_preparer.quote(n) for n in names)
        sql = f"INSERT INTO {table.name} ({columns}) VALUES ({', '.join('?' * len(names))})"
        conn.exec_driver_sql(sql, [tuple(row[n] for n in names) for row in rows])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A connection in a transaction, committed when the block ends, else rolled back."""
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout = 20000")  # wait, as MLflow does
                # pages kept in memory until the commit: SQLite locks readers out only then
                # (a spill to the file would take the exclusive lock for the rest of the write)
                conn.exec_driver_sql("PRAGMA cache_size = -65536")
            yield conn

    def _drop_tags(self, conn: Any, pairs: list[tuple[str, str]]) -> None:
        """Delete the tags ``(run id, key)`` (before new values of them are inserted)."""
        if not pairs:
            return
        from mlflow.store.tracking.dbmodels.models import SqlTag
        from sqlalchemy import and_, bindparam, delete

        tags_t = SqlTag.__table__
        conn.execute(
            delete(tags_t).where(
                and_(tags_t.c.run_uuid == bindparam("rid"), tags_t.c.key == bindparam("k"))
            ),
            [{"rid": rid, "k": k} for rid, k in pairs],
        )

    def end_runs(
        self,
        ends: Sequence[tuple[str, int, dict[str, str]]],
        status: str = "KILLED",
        *,
        delete: bool = False,
    ) -> int:
        """End many RUNNING runs in one transaction, as ``set_terminated`` (and, with
        ``delete``, ``delete_run``) end one: each ``(run id, end time, tags)`` gets ``status``,
        its end time and its tags set. A run no longer RUNNING is left alone. Returns how many
        were ended. (Tens of thousands of claims given back or reaped at once: one call each
        through the public API took minutes.)"""
        from mlflow.store.tracking.dbmodels.models import SqlRun, SqlTag
        from sqlalchemy import and_, bindparam, select, update

        runs_t, tags_t = SqlRun.__table__, SqlTag.__table__
        by_id = {run_id: (end, tags) for run_id, end, tags in ends}
        with self._transaction() as conn:
            running: list[str] = []
            for chunk in _chunks(list(by_id)):
                query = select(runs_t.c.run_uuid).where(
                    and_(runs_t.c.run_uuid.in_(chunk), runs_t.c.status == "RUNNING")
                )
                running += [row[0] for row in conn.execute(query)]
            if not running:
                return 0
            values: dict[str, Any] = {"status": status, "end_time": bindparam("end")}
            if delete:
                values |= {"lifecycle_stage": "deleted", "deleted_time": bindparam("end")}
            conn.execute(
                update(runs_t).where(runs_t.c.run_uuid == bindparam("rid")).values(**values),
                [{"rid": run_id, "end": by_id[run_id][0]} for run_id in running],
            )
            tags = [
                {"key": key, "value": value, "run_uuid": run_id}
                for run_id in running
                for key, value in by_id[run_id][1].items()
            ]
            self._drop_tags(conn, [(t["run_uuid"], t["key"]) for t in tags])
            self._insert(conn, tags_t, tags)
        return len(running)

    def write(self, runs: Sequence[BulkRun]) -> list[str]:
        """Write ``runs`` in one transaction: create the new ones, add their params, metrics and
        latest metrics, set their tags and dataset inputs, end them. A run that is gone,
        deleted, or no longer RUNNING (completed by an earlier call whose commit went through),
        and a new run whose id exists already, is left out. Returns the ids of the runs written.

        Another sweep's transaction may add the same new dataset between this one's look and its
        insert (a server database): the unique key then refuses the insert, the transaction is
        rolled back whole, and it is done once more, seeing that dataset."""
        from sqlalchemy.exc import IntegrityError

        try:
            return self._write(runs)
        except IntegrityError:
            return self._write(runs)

    def _write(self, runs: Sequence[BulkRun]) -> list[str]:
        from mlflow.store.tracking.dbmodels.models import (
            SqlLatestMetric,
            SqlMetric,
            SqlParam,
            SqlRun,
            SqlTag,
        )
        from sqlalchemy import bindparam, select, update

        runs_t, tags_t = SqlRun.__table__, SqlTag.__table__
        params_t, metrics_t, latest_t = (
            SqlParam.__table__,
            SqlMetric.__table__,
            SqlLatestMetric.__table__,
        )
        with self._transaction() as conn:
            ids = [r.run_id for r in runs]
            state: dict[str, tuple[str, str]] = {}
            for chunk in _chunks(ids):
                query = select(runs_t.c.run_uuid, runs_t.c.status, runs_t.c.lifecycle_stage)
                for run_uuid, status, stage in conn.execute(
                    query.where(runs_t.c.run_uuid.in_(chunk))
                ):
                    state[run_uuid] = (status, stage)
            todo = [
                r
                for r in runs
                if (
                    r.run_id not in state
                    if r.create
                    else state.get(r.run_id) == ("RUNNING", "active")
                )
            ]
            if not todo:
                return []
            new = [r for r in todo if r.create]
            if new:
                self._insert(
                    conn,
                    runs_t,
                    [
                        {
                            "run_uuid": r.run_id,
                            "name": r.name,
                            "source_type": "UNKNOWN",
                            "source_name": "",
                            "entry_point_name": "",
                            "user_id": r.tags.get("mlflow.user", "unknown"),
                            "status": r.status,
                            "start_time": r.start_ms,
                            "end_time": r.end_ms,
                            "deleted_time": None,
                            "source_version": "",
                            "lifecycle_stage": "active",
                            "artifact_uri": r.artifact_uri,
                            "experiment_id": int(r.experiment_id),
                        }
                        for r in new
                    ],
                )
            old = [r for r in todo if not r.create]
            self._drop_tags(conn, [(r.run_id, k) for r in old for k in r.tags])
            tag_rows = [
                {"key": k, "value": v, "run_uuid": r.run_id}
                for r in todo
                for k, v in r.tags.items()
            ]
            tag_rows += [
                {"key": "mlflow.runName", "value": r.name, "run_uuid": r.run_id}
                for r in new
                if "mlflow.runName" not in r.tags
            ]
            self._insert(conn, tags_t, tag_rows)
            param_rows = [
                {"key": k, "value": v, "run_uuid": r.run_id} for r in todo for k, v in r.params
            ]
            self._insert(conn, params_t, param_rows)
            metric_rows, latest_rows = [], []
            for r in todo:
                for point in dict.fromkeys(r.metrics):  # each point once, as log_batch
                    metric_rows.append(_metric_row(r.run_id, point))
                for point in latest_points(r.metrics).values():
                    latest_rows.append(_metric_row(r.run_id, point))
            self._insert(conn, metrics_t, metric_rows)
            self._insert(conn, latest_t, latest_rows)
            self._write_inputs(conn, [r for r in todo if r.dataset is not None])
            ended = [r for r in old if r.status != "RUNNING"]
            if ended:
                conn.execute(
                    update(runs_t)
                    .where(runs_t.c.run_uuid == bindparam("rid"))
                    .values(status=bindparam("s"), end_time=bindparam("e")),
                    [{"rid": r.run_id, "s": r.status, "e": r.end_ms} for r in ended],
                )
        return [r.run_id for r in todo]

    def _write_inputs(self, conn: Any, runs: Sequence[BulkRun]) -> None:
        """The runs' dataset inputs, as ``log_inputs`` writes them: a ``datasets`` row for each
        (experiment, name, digest) not yet there, an ``inputs`` edge dataset -> run unless the
        run has it, and the input's tags."""
        if not runs:
            return
        from mlflow.store.tracking.dbmodels.models import SqlDataset, SqlInput, SqlInputTag
        from sqlalchemy import and_, select

        datasets_t, inputs_t = SqlDataset.__table__, SqlInput.__table__
        wanted: dict[tuple[int, str, str], dict[str, str]] = {}
        for r in runs:
            fields = r.dataset[0]  # type: ignore[index]
            wanted.setdefault((int(r.experiment_id), fields["name"], fields["digest"]), fields)
        known: dict[tuple[int, str, str], str] = {}
        for experiment_id in {k[0] for k in wanted}:
            digests = sorted({k[2] for k in wanted if k[0] == experiment_id})
            for chunk in _chunks(digests):
                query = select(
                    datasets_t.c.name, datasets_t.c.digest, datasets_t.c.dataset_uuid
                ).where(
                    and_(
                        datasets_t.c.experiment_id == experiment_id,
                        datasets_t.c.digest.in_(chunk),
                    )
                )
                for name, digest, dataset_uuid in conn.execute(query):
                    known[(experiment_id, name, digest)] = dataset_uuid
        new_datasets = []
        for key, fields in wanted.items():
            if key not in known:
                known[key] = uuid.uuid4().hex
                new_datasets.append(
                    {
                        "dataset_uuid": known[key],
                        "experiment_id": key[0],
                        "name": fields["name"],
                        "digest": fields["digest"],
                        "dataset_source_type": fields["source_type"],
                        "dataset_source": fields["source"],
                        "dataset_schema": fields.get("schema"),
                        "dataset_profile": fields.get("profile"),
                    }
                )
        self._insert(conn, datasets_t, new_datasets)
        linked: set[tuple[str, str]] = set()  # (dataset uuid, run id) edges already there
        for chunk in _chunks([r.run_id for r in runs]):
            query = select(inputs_t.c.source_id, inputs_t.c.destination_id).where(
                and_(
                    inputs_t.c.source_type == "DATASET",
                    inputs_t.c.destination_type == "RUN",
                    inputs_t.c.destination_id.in_(chunk),
                )
            )
            linked.update((source, run) for source, run in conn.execute(query))
        input_rows, tag_rows = [], []
        for r in runs:
            fields, tags = r.dataset  # type: ignore[misc]
            source = known[(int(r.experiment_id), fields["name"], fields["digest"])]
            if (source, r.run_id) in linked:
                continue
            linked.add((source, r.run_id))
            input_uuid = uuid.uuid4().hex
            input_rows.append(
                {
                    "input_uuid": input_uuid,
                    "source_type": "DATASET",
                    "source_id": source,
                    "destination_type": "RUN",
                    "destination_id": r.run_id,
                    "step": 0,
                }
            )
            tag_rows += [{"input_uuid": input_uuid, "name": k, "value": v} for k, v in tags.items()]
        self._insert(conn, inputs_t, input_rows)
        self._insert(conn, SqlInputTag.__table__, tag_rows)


def _metric_row(run_id: str, point: tuple[str, float, int, int]) -> dict[str, Any]:
    """A ``metrics`` or ``latest_metrics`` row of one (key, value, timestamp, step) point."""
    key, value, timestamp, step = point
    return {
        "key": key,
        "value": value,
        "timestamp": timestamp,
        "step": step,
        "is_nan": False,
        "run_uuid": run_id,
    }
