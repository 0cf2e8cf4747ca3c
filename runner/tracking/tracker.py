"""The recorder: the one place that writes to MLflow (experiments, sweep and run records) and
falls back on the local spool.

Layout (``docs/architecture.md``, "Tracking layout"): one experiment per table, tagged a
model-training experiment and described (which table); one parent run per sweep invocation (the
table as an artifact, the sweep settings as params, the counts planned / finished / diverged /
failed / skipped / killed and the best run's final values as tags ``runner.count.*`` and
``runner.best.*``, never metrics, so the chart view shows the children's curves; a description
linking the best run; the best network as the MLflow logged model ``best_model`` of the best
run); one child run per specification (every parameter under its table column, tags
``runner.*``, its data set as a dataset input, metric histories with step = epoch from 0, the
last step holding the final values; flags and counts as tags; artifacts ``weights.npz``,
``architecture.json``, ``restarts.json``, and ``traceback.txt`` for a run whose plugin raised).
Everything is written through one :class:`MlflowClient` with ``log_batch`` calls, in the
driving process only. mlflow is imported lazily, inside
:class:`Tracker`, never when this module is imported.

Non-finite metric values: NaN points are not logged (MLflow charts and sorting break on them); the
run's tag ``runner.nonfinite`` lists the metrics that had any. +-inf is logged as +-1.797e308, the
value MLflow's SQL stores would substitute anyway, so SQLite and server stores agree.

Spool: a store that goes away mid-sweep does not lose results. :meth:`Tracker.record` retries
transient failures with backoff (``retry_seconds`` in all); if the store stays away the result is
written to ``.runner-spool/<store key>/<experiment id>/`` as JSON plus ``.npz`` (never pickle) and
``record`` returns None. :meth:`Tracker.replay_spool`, called at the start of the next sweep,
records what was spooled and deletes it. A spooled result only counts as done once recorded.
The spool's layout and serialization are in :mod:`runner.tracking.spool`; what a run consists of
(tags, params, metric points, artifacts) is in :mod:`runner.tracking.records`. Imports the rest
of :mod:`runner.tracking`, :mod:`runner.engine`, :mod:`runner.spec` and :mod:`runner.errors`, and
:mod:`runner.plugin`'s registry (the least value a cost takes, to check a spooled loss).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
import shlex
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from runner.engine.trained import ARCHITECTURE_FILE, WEIGHTS_FILE
from runner.environ import environ
from runner.errors import StoreWriteError, TrackingError, error_reason
from runner.spec import RunResult, RunSpec
from runner.tracking.bulk import BulkRun, SqlWriter, open_writer
from runner.tracking.drivers import driver_gone, this_driver
from runner.tracking.pyfunc import log_pyfunc
from runner.tracking.records import (
    MAX_PARAM_LENGTH,
    MAX_TAG_LENGTH,
    RANKED_VALUES,
    TAG_NUMBERS,
    VIEW_KEY,
    VIEW_TAG,
    RunRecord,
    batches,
    fit,
    now_ms,
    result_tags,
    run_dataset,
    run_metrics,
    run_params,
    run_tags,
    saved_view,
    storable_float,
    user_name,
    write_artifacts,
)
from runner.tracking.spool import (
    REPLAYED_TAG,
    SPOOL_DIR,
    key_problem,
    remove_result,
    result_from_spool,
    result_problem,
    spool_folder,
    spool_result,
    spool_sweep_end,
    spooled_results,
    spooled_sweep_ends,
)
from runner.tracking.store import (
    SCHEMES,
    cause_of,
    create_whole,
    is_disk_full,
    is_transient,
    keep_template,
    local_folder,
    normalize_uri,
    read_only,
    sqlite_damage,
    sqlite_damage_problem,
    sqlite_path,
    sqlite_read_problem,
    store_lock,
    store_problem,
    template_path,
    unfinished_store,
)
from runner.tracking.writers import DEFAULT_WRITERS, WriterPool
from runner.version import __version__

ARTIFACT_FOLDER = "mlartifacts"
#: how far back a look for runs other sweeps FINISHED reaches beyond the last look, for the
#: time between a run's end time and its FINISHED status, and clocks that differ a little
CLOCK_SLACK_MS = 120_000
BEST_MODEL = "best_model"
DATASET_RACE_RETRIES = 3  # log_inputs again after losing the race to insert a new data set

#: the experiment tag MLflow 3's UI reads (and its experiment-kind selector writes) for what
#: an experiment holds; the UI's own mode (GenAI or Model training) follows the page's
#: ``workflowType`` (see :meth:`Tracker.ui_url`)
EXPERIMENT_KIND, TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"


def count_tags(counts: dict[str, int]) -> dict[str, str]:
    """A sweep's counts as tags of its run (``runner.count.finished``): numbers that are not
    curves, kept out of the chart view."""
    return {f"runner.count.{k}": str(int(v)) for k, v in counts.items()}


RUN_STATUS = {"finished": "FINISHED", "diverged": "FINISHED", "failed": "FAILED"}
#: the bulk recorder writes its buffer when it holds this many runs, or this many metric points
FLUSH_RUNS, FLUSH_POINTS = 500, 120_000

log = logging.getLogger(__name__)

#: the environment variable that sets how long a record retries a store that went away
RETRY_VAR, DEFAULT_RETRY_SECONDS = "RUNNER_RETRY_SECONDS", 30.0


def retry_window() -> float:
    """Seconds a record keeps retrying a store that went away before it keeps the result in
    the spool: ``RUNNER_RETRY_SECONDS`` when set, else 30; :class:`TrackingError` (one line)
    for a value that is no number of seconds."""
    text = os.environ.get(RETRY_VAR, "").strip()
    if not text:
        return DEFAULT_RETRY_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 1e6:  # NaN fails too
        raise TrackingError(
            f"{RETRY_VAR}={text!r}: not a number of seconds; use a number from 0 (e.g. 30)"
        )
    return seconds


class Tracker:
    """Writes sweeps and runs to one MLflow store; see the module docstring for the layout.

    ``retry_seconds`` bounds how long one record keeps retrying a store that went away before it
    spools (default :func:`retry_window`); ``spool_dir`` defaults to ``.runner-spool`` in the
    working directory. ``bulk`` allows the bulk recorder (:mod:`runner.tracking.bulk`) on a
    SQL store whose schema is the installed MLflow's: claims and results are then written many
    runs per transaction, results when :data:`FLUSH_RUNS` wait, at each :meth:`heartbeat` and
    before the sweep ends.
    ``writers`` bounds the threads that complete claimed runs on an http(s) server at once
    (:mod:`runner.tracking.writers`; default :data:`DEFAULT_WRITERS`, 1 writes in this thread).
    """

    #: runs per search_runs page when listing finished runs
    page_size = 1000

    def __init__(
        self,
        uri: str,
        *,
        retry_seconds: float | None = None,
        spool_dir: Path | str | None = None,
        check_timeout: float = 5.0,
        bulk: bool = True,
        writers: int | None = None,
    ) -> None:
        self.uri = normalize_uri(uri)
        self.retry_seconds = retry_window() if retry_seconds is None else float(retry_seconds)
        self.check_timeout = float(check_timeout)
        self.spool_root = Path(spool_dir or SPOOL_DIR).resolve()
        self._client: Any = None
        self._away = False  # the last call gave up: the next ones try once, not for 30 s
        self._recorded: dict[tuple[str, str], str | None] = {}
        self._claims: dict[tuple[str, str], RunRecord] = {}  # (parent, spec hash) -> its run
        self._since_ms = now_ms()  # FINISHED runs up to then are known (finished_hashes)
        self._others: set[str] = set()  # spec hashes other sweeps took since (see _taken)
        self._last_beat = time.monotonic()
        self._experiments: dict[str, str] = {}  # parent run id -> experiment id
        self._writer: SqlWriter | bool | None = None if bulk else False  # False: public API
        self._pending: list[tuple[RunResult, RunRecord, BulkRun]] = []  # written at flush
        self._pending_points = 0  # the metric points of those runs
        http = urlparse(self.uri).scheme in ("http", "https")
        self.writers = max(1, writers or DEFAULT_WRITERS) if http else 1
        self._pool: WriterPool | None = None  # while writes are in flight on writer threads
        self._pool_env = contextlib.ExitStack()  # MLflow's HTTP settings while the pool lives
        # http clients: fail fast inside one call and let our own loop do the waiting
        self._http_env = {
            key: value
            for key, value in (
                ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"),
                ("MLFLOW_HTTP_REQUEST_TIMEOUT", "30"),
                ("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true"),  # no "View run" per run
            )
            if key not in os.environ
        }

    # -- the store -------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._pool is not None and (own := self._pool.client()) is not None:
            return own  # a writer thread's own client
        if self._client is None:
            from mlflow import MlflowClient

            _quiet_mlflow()
            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    @property
    def bulk(self) -> SqlWriter | None:
        """The bulk recorder of this store, or None where the public API writes."""
        if self._writer is None:
            self._writer = open_writer(self.client) or False
        return self._writer or None

    def _call(self, deadline: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, retried with backoff on transient failures until
        ``deadline`` (a ``time.monotonic()`` value) would pass."""
        delay = 0.25
        # writer threads run inside the pool's settings: os.environ is the process's, not theirs
        own = self._pool is not None and threading.current_thread().name.startswith("runner-w")
        while True:
            try:
                with contextlib.nullcontext() if own else environ(self._http_env):
                    result = fn(*args, **kwargs)
                if self._away:
                    self._away = False
                    log.warning(
                        "tracking store %s is back; results are recorded again (those kept in "
                        "the spool meanwhile are replayed at the end of the sweep)",
                        self.uri,
                    )
                return result
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _went_away(self, exc: BaseException, experiment_id: str | None) -> None:
        """The store stopped answering: one warning line the first time (the calls after it try
        once each, and results are kept in the spool)."""
        if not self._away:
            log.warning(
                "tracking store %s is away (%s); keeping results in %s until it is back",
                self.uri,
                cause_of(exc),
                self._spool_folder(experiment_id) if experiment_id else self.spool_root,
            )
        self._away = True

    def _deadline(self, seconds: float | None = None) -> float:
        if self._away:
            return time.monotonic()  # one attempt only
        return time.monotonic() + (self.retry_seconds if seconds is None else seconds)

    def _fail(self, what: str, exc: BaseException) -> TrackingError:
        """One line for a failed store call; a full disk is a write failure (exit code 1)."""
        if is_disk_full(exc):
            return StoreWriteError(
                f"tracking store {self.uri}: {what}: {cause_of(exc)}; free space, then run the "
                "same command again (what could not be written is done again, or replayed)"
            )
        return TrackingError(f"tracking store {self.uri}: {what}: {cause_of(exc)}")

    def check(self) -> None:
        """Raise :class:`TrackingError` (one line) unless the store can be reached and used."""
        scheme = urlparse(self.uri).scheme
        if scheme.split("+", 1)[0] not in SCHEMES:  # postgresql+psycopg2: a database's driver
            raise TrackingError(
                f"tracking URI {self.uri!r}: unsupported scheme {scheme + ':' if scheme else ''!r}"
                "; use sqlite:///path/to/mlflow.db or http://host:port"
            )
        problem = store_problem(self.uri, timeout=self.check_timeout)
        if problem:
            raise TrackingError(problem)
        path = sqlite_path(self.uri)
        if path is not None:
            folder = path.parent
            if not folder.is_dir():
                raise TrackingError(
                    f"tracking store {self.uri}: folder {folder} does not exist; create it first"
                )
            if not os.access(folder, os.W_OK | os.X_OK):
                raise TrackingError(f"tracking store {self.uri}: folder {folder} is not writable")
            if path.exists() and not os.access(path, os.R_OK | os.W_OK):
                raise TrackingError(f"tracking store {self.uri}: {path} is not writable")
            damaged = sqlite_damage_problem(self.uri, path)
            if damaged:
                raise TrackingError(damaged)
        quick = {
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, round(self.check_timeout))),
        }
        try:
            # the first use of a fresh SQLite store creates and migrates its tables: one
            # process at a time, so that two first sweeps never race on the migration
            with environ(quick), store_lock(path):
                if path is not None and unfinished_store(path):
                    create_whole(path, _make_store)
                self.client.search_experiments(max_results=1)
        except Exception as exc:
            if scheme.startswith("http"):
                raise TrackingError(
                    f"cannot reach tracking server {self.uri}: {cause_of(exc)} "
                    "(is `mlflow server` running there?)"
                ) from None
            raise self._fail("cannot be used", exc) from None

    def ui_command(self, experiment_id: str | None = None) -> str:
        """The exact command (or instruction) that shows this store in the MLflow UI; with an
        experiment, the page to open after it (a shell comment, so the line still pastes)."""
        if urlparse(self.uri).scheme in ("http", "https"):
            where = self.ui_url(experiment_id, self.uri.rstrip("/")) if experiment_id else self.uri
            return f"open {where} in a browser (the tracking server's own UI)"
        mlflow = Path(sys.executable).parent / "mlflow"  # this environment's, PATH or not
        program = shlex.quote(str(mlflow)) if mlflow.exists() else "mlflow"
        command = f"{program} ui --backend-store-uri {shlex.quote(self.uri)}"
        return f"{command}  # then open {self.ui_url(experiment_id)}" if experiment_id else command

    @staticmethod
    def ui_url(experiment_id: str, base: str = "http://127.0.0.1:5000") -> str:
        """The experiment's page in the MLflow UI, in its Model training mode: MLflow 3.17's UI
        picks its mode (GenAI or Model training) from the page's ``workflowType`` (else the
        browser's last choice, GenAI at first), not from the experiment's tags; it opens
        runner's saved view of the runs (:func:`saved_view`: every configuration)."""
        return (
            f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
            f"&viewStateShareKey={VIEW_KEY}"
        )

    def artifact_location(self, experiment: str) -> str | None:
        """For a SQLite store: ``mlartifacts/<experiment>/`` beside the database file, as a
        ``file:`` URI (``mlflow ui`` run anywhere then serves the artifacts)."""
        path = sqlite_path(self.uri)
        if path is None:
            return None  # a server decides where its artifacts go
        folder = re.sub(r"[^A-Za-z0-9._-]+", "_", experiment).strip("._") or "experiment"
        return (path.parent / ARTIFACT_FOLDER / folder).resolve().as_uri()

    def experiment(self, name: str) -> str:
        """The id of experiment ``name``, created if missing."""
        deadline = self._deadline()
        try:
            found = self._call(deadline, self.client.get_experiment_by_name, name)
            if found is None:
                try:
                    return self._call(
                        deadline,
                        self.client.create_experiment,
                        name,
                        artifact_location=self.artifact_location(name),
                        tags={"runner.version": __version__},
                    )
                except Exception as exc:
                    if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                        raise
                    found = self._call(deadline, self.client.get_experiment_by_name, name)
        except Exception as exc:
            raise self._fail(f"cannot open experiment {name!r}", exc) from None
        if found is None or found.lifecycle_stage == "deleted":
            ident = found.experiment_id if found else "?"
            raise TrackingError(
                f"tracking store {self.uri}: experiment {name!r} was deleted; restore it "
                f"(mlflow experiments restore --experiment-id {ident}) or choose another name"
            )
        return found.experiment_id

    def _runs(self, experiment_id: str, query: str, deadline: float) -> Iterator[Any]:
        """Every run of the experiment that ``query`` (an MLflow filter) selects, page by page."""
        token = None
        while True:
            page = self._call(
                deadline,
                self.client.search_runs,
                [experiment_id],
                filter_string=query,
                max_results=self.page_size,
                page_token=token,
            )
            yield from page
            token = page.token
            if not token:
                return

    def finished_hashes(self, experiment_id: str) -> set[str]:
        """Spec hashes that have a FINISHED run in the experiment (diverged runs included)."""
        query = "attributes.status = 'FINISHED' and tags.`runner.kind` = 'run'"
        self._since_ms = now_ms()
        try:
            if self.bulk is not None:  # two tags a run, not every run built whole
                return self._call(self._deadline(), self.bulk.finished_hashes, experiment_id)
            runs = self._runs(experiment_id, query, self._deadline())
            hashes = {r.data.tags.get("runner.spec_hash") for r in runs}
        except Exception as exc:
            raise self._fail("cannot list finished runs", exc) from None
        hashes.discard(None)
        return hashes

    def reap_stale(self, experiment_id: str) -> int:
        """Mark KILLED every run of the experiment left RUNNING by a driver that is gone (killed
        with -9, its machine lost; see :mod:`runner.tracking.drivers`); leave alone the runs of
        a live one. Returns how many were marked."""
        try:
            query = "attributes.status = 'RUNNING'"
            _, reaped = self._live_or_reap(experiment_id, query, self._deadline())
        except Exception as exc:
            raise self._fail("cannot mark the runs of a dead sweep KILLED", exc) from None
        return reaped

    def _live_or_reap(self, experiment_id: str, query: str, deadline: float) -> tuple[list, int]:
        """The RUNNING runs ``query`` selects whose driver lives; those whose driver is gone are
        marked KILLED on the way. Returns ``(live runs, how many were marked)``."""
        from mlflow.entities import RunTag

        running = list(self._runs(experiment_id, query, deadline))
        beats = {r.info.run_id: r.data.tags.get("runner.heartbeat") for r in running}
        live, reaped, now = [], 0, time.time()
        gone_runs: list[tuple[str, int, dict[str, str]]] = []  # (run id, end time, tags)
        gone: dict[tuple[Any, Any], bool] = {}  # (driver, last seen): decided once per look
        for run in running:
            tags = run.data.tags
            parent = tags.get("mlflow.parentRunId")
            if parent and parent not in beats:
                parent_run = self._call(deadline, self.client.get_run, parent)
                beats[parent] = parent_run.data.tags.get("runner.heartbeat")
            beat = beats[parent] if parent else beats[run.info.run_id]
            started = run.info.start_time / 1000 if run.info.start_time else None
            driver = (tags.get("runner.driver"), beat or started)
            if driver not in gone:
                gone[driver] = driver_gone(*driver, now)
            if not gone[driver]:
                live.append(run)
                continue
            why = "its sweep's driver is gone (killed, or its machine lost)"
            status = (
                "runner.sweep_status" if tags.get("runner.kind") == "sweep" else "runner.status"
            )
            end = max(run.info.start_time or 0, now_ms())
            gone_runs.append((run.info.run_id, end, {status: "killed", "runner.reason": why}))
        if self.bulk is not None:  # tens of thousands of a killed sweep's claims at once
            return live, self._call(deadline, self.bulk.end_runs, gone_runs, "KILLED")
        for run_id, end, marks in gone_runs:
            batch = [RunTag(key, value) for key, value in marks.items()]
            self._call(deadline, self.client.log_batch, run_id, [], [], batch)
            self._call(deadline, self.client.set_terminated, run_id, "KILLED", end)
            reaped += 1
        return live, reaped

    # -- claims: what this sweep trains, and no other -----------------------------------------

    def claim(
        self, experiment_id: str, parent_id: str, specs: Sequence[RunSpec], *, rerun: bool = False
    ) -> list[RunSpec]:
        """The specs this sweep is to train now, each claimed by a RUNNING child run that
        :meth:`record` completes; left out are those FINISHED (unless ``rerun``) or claimed by
        another live sweep since this one looked. On a SQLite store the check and the claims
        happen under the store's lock (on a PostgreSQL or MySQL store the driver opens itself,
        under the database's lock), so two sweeps never claim one spec; against a tracking
        server, two sweeps claiming one spec in the same instant may both train it. A store
        that is away gets no claims: the specs train, and their results are spooled."""
        todo = [s for s in specs if (parent_id, s.spec_hash()) not in self._claims]
        if not todo:
            return list(specs)
        deadline = self._deadline()
        try:
            claim_lock = self.bulk.claim_lock() if self.bulk else contextlib.nullcontext()
            with store_lock(sqlite_path(self.uri)), claim_lock:
                taken = self._taken(experiment_id, parent_id, deadline, rerun)
                fresh = [spec for spec in todo if spec.spec_hash() not in taken]
                if self.bulk is not None:  # one transaction for all the claims
                    self._bulk_claims(experiment_id, parent_id, fresh, deadline)
                for spec in fresh:
                    if (parent_id, spec.spec_hash()) not in self._claims:
                        self._claims[(parent_id, spec.spec_hash())] = self._claim_run(
                            experiment_id, parent_id, spec, deadline
                        )
        except Exception as exc:
            if not is_transient(exc):
                raise self._fail("cannot claim runs", exc) from None
            self._went_away(exc, experiment_id)
            return list(specs)
        return [s for s in specs if (parent_id, s.spec_hash()) in self._claims]

    def _taken(self, experiment_id: str, parent_id: str, deadline: float, rerun: bool) -> set[str]:
        """Spec hashes other sweeps took: claimed by their live runs, or FINISHED since this
        sweep first looked (unless ``rerun``), in this look or an earlier one.

        The RUNNING runs are read before the FINISHED ones: a claim that finishes between the
        two reads is then seen by one of them (read the other way round, it could slip past
        both). The FINISHED read reaches back :data:`CLOCK_SLACK_MS` beyond the last look, for
        the time between a run's end time and its showing FINISHED.
        """
        # the store leaves out this sweep's own runs: at scale they are tens of thousands
        others = f"tags.`mlflow.parentRunId` != '{parent_id}'"
        query = f"attributes.status = 'RUNNING' and tags.`runner.kind` = 'run' and {others}"
        taken, _ = self._live_or_reap(experiment_id, query, deadline)
        if not rerun:
            since, self._since_ms = self._since_ms - CLOCK_SLACK_MS, now_ms()
            query = f"attributes.status = 'FINISHED' and attributes.end_time >= {since}"
            taken += self._runs(experiment_id, f"{query} and {others}", deadline)
        self._others.update(run.data.tags.get("runner.spec_hash") for run in taken)
        self._others.discard(None)
        return self._others

    def _claim_run(
        self, experiment_id: str, parent_id: str, spec: RunSpec, deadline: float
    ) -> RunRecord:
        now = now_ms()
        record = RunRecord(uuid.uuid4().hex, experiment_id, parent_id, now, now)
        tags = run_tags(spec, spec.spec_hash(), parent_id, record.record_id)
        tags["runner.status"] = "training"
        run = self._call(
            deadline, self.client.create_run, experiment_id, now, tags, run_name=spec.run_name()
        )
        record.run_id, record.artifact_uri = run.info.run_id, run.info.artifact_uri
        return record

    def _bulk_claims(
        self, experiment_id: str, parent_id: str, specs: Sequence[RunSpec], deadline: float
    ) -> None:
        """Claim ``specs`` in one transaction of the bulk recorder (what :meth:`_claim_run`
        does one run at a time)."""
        writer, now, records, runs = self.bulk, now_ms(), [], []
        assert writer is not None
        for spec in specs:
            record = RunRecord(uuid.uuid4().hex, experiment_id, parent_id, now, now)
            record.run_id = uuid.uuid4().hex
            record.artifact_uri = writer.artifact_uri(experiment_id, record.run_id)
            tags = run_tags(spec, spec.spec_hash(), parent_id, record.record_id)
            tags["runner.status"] = "training"
            runs.append(
                BulkRun(
                    record.run_id,
                    experiment_id,
                    spec.run_name(),
                    now,
                    record.artifact_uri,
                    tags=tags,
                )
            )
            records.append((spec, record))
        self._call(deadline, writer.write, runs)
        for spec, record in records:
            self._claims[(parent_id, spec.spec_hash())] = record

    def release(self, parent_id: str, specs: Sequence[RunSpec], seconds: float = 1.0) -> None:
        """Give back the claims of specs that never started (a stop): their runs are ended and
        deleted (MLflow's UI and searches leave deleted runs out), and the specs are simply
        still to do. Best effort, for at most ``seconds``."""
        deadline = self._deadline(seconds)
        if self.bulk is not None:  # every claim in one transaction, however many
            records = [self._claims.pop((parent_id, s.spec_hash()), None) for s in specs]
            ends = [(r.run_id, now_ms(), {}) for r in records if r is not None]
            with contextlib.suppress(Exception):  # a claim left behind is reaped, as below
                self._call(deadline, self.bulk.end_runs, ends, "KILLED", delete=True)
            return
        for spec in specs:
            record = self._claims.pop((parent_id, spec.spec_hash()), None)
            if record is None or time.monotonic() > deadline:
                continue
            try:
                self._call(deadline, self.client.set_terminated, record.run_id, "KILLED", now_ms())
                self._call(deadline, self.client.delete_run, record.run_id)
            except Exception:  # a claim left behind is reaped as a dead driver's by the next sweep
                return

    def heartbeat(self, parent_id: str, every: float = 60.0) -> None:
        """Note on the sweep's run that its driver still works, at most every ``every`` s.
        Best effort: a store that is away is not waited for. Writes the bulk recorder's
        buffer first, so that runs land as populations finish."""
        self.flush()
        now = time.monotonic()
        if now - self._last_beat < every:
            return
        self._last_beat = now
        from mlflow.entities import RunTag

        tag = RunTag("runner.heartbeat", f"{time.time():.0f}")
        with contextlib.suppress(Exception):
            self._call(time.monotonic(), self.client.log_batch, parent_id, [], [], [tag])

    # -- sweeps ----------------------------------------------------------------------------

    def start_sweep(
        self,
        experiment_id: str,
        table_path: Path | str,
        planned: dict[str, int],
        settings: dict[str, str],
    ) -> str:
        """Create the parent run of a sweep; returns its id."""
        from mlflow.entities import Param

        table = Path(table_path)
        now = now_ms()
        tags = {
            "runner.kind": "sweep",
            "runner.driver": this_driver(),
            "runner.heartbeat": f"{time.time():.0f}",
            "runner.table": str(table),
            "runner.version": __version__,
            "mlflow.user": user_name(),
            "mlflow.source.name": "runner sweep",
            "mlflow.source.type": "LOCAL",
        }
        tags.update(count_tags(planned))
        tags["mlflow.note.content"] = f"A sweep of the table `{table}`; it is running."
        params = [Param("table", fit(str(table), MAX_PARAM_LENGTH))]
        params += [Param(k, fit(str(v), MAX_PARAM_LENGTH)) for k, v in settings.items()]
        name = f"sweep {table.stem} {datetime.now():%Y-%m-%d %H:%M}"
        deadline = self._deadline()
        try:
            try:
                self._describe_experiment(experiment_id, table, deadline)
            except Exception as exc:  # noqa: BLE001 - a description is not worth a sweep
                # two sweeps describing one experiment at once: one insert of the tag loses
                log.debug("experiment %s not described: %s", experiment_id, cause_of(exc))
            run = self._call(
                deadline, self.client.create_run, experiment_id, now, tags, run_name=name
            )
            run_id = run.info.run_id
            for m, p, t in batches([], params, []):
                self._call(deadline, self.client.log_batch, run_id, m, p, t)
            if table.is_file():
                self._call(deadline, self.client.log_artifact, run_id, str(table))
        except Exception as exc:
            raise self._fail("cannot start the sweep's run", exc) from None
        self._experiments[run_id] = experiment_id
        return run_id

    def end_sweep(
        self, parent_id: str, counts: dict[str, int], best: str | None, status: str
    ) -> None:
        """Final counts, the best run's id (tag ``runner.best_run_id``) and metrics (``best_*``),
        and the parent's terminal status (FINISHED, KILLED or FAILED)."""
        self.flush()
        try:
            self._end_sweep(parent_id, counts, best, status, self._deadline())
        except Exception as exc:
            if not is_transient(exc) or parent_id not in self._experiments:
                raise self._fail("cannot close the sweep's run", exc) from None
            self._went_away(exc, self._experiments[parent_id])
            self._spool_end(parent_id, counts=counts, best=best, status=status)

    def _end_sweep(
        self, parent_id: str, counts: dict[str, int], best: str | None, status: str, deadline: float
    ) -> None:
        from mlflow.entities import RunTag

        now = now_ms()
        values = {"runner.sweep_status": status.lower(), **count_tags(counts)}
        parent = self._call(deadline, self.client.get_run, parent_id)
        table = parent.data.tags.get("runner.table", "")
        done = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        note = f"A sweep of the table `{table}` ({status.lower()}): {done or 'nothing run'}."
        if best:
            run = self._call(deadline, self.client.get_run, best)
            name = run.info.run_name or best
            values["runner.best_run_id"] = best
            values["runner.best_run_name"] = name
            for key in RANKED_VALUES:  # the final values, which rank runs
                value = run.data.metrics.get(key)
                if value is not None and (value := storable_float(value)) is not None:
                    values[f"runner.best.{key}"] = f"{value:.6g}"
            shown = ", ".join(
                f"{key} {values[f'runner.best.{key}']}"
                for key in RANKED_VALUES
                if f"runner.best.{key}" in values
            )
            link = f"#/experiments/{run.info.experiment_id}/runs/{best}"
            note += f"\n\nBest run: [{name}]({link}) ({shown})."
        values["mlflow.note.content"] = note
        tags = [RunTag(k, fit(v, MAX_TAG_LENGTH)) for k, v in values.items()]
        for m, p, t in batches([], [], tags):
            self._call(deadline, self.client.log_batch, parent_id, m, p, t)
        self._call(deadline, self.client.set_terminated, parent_id, status.upper(), now)

    def _describe_experiment(self, experiment_id: str, table: Path, deadline: float) -> None:
        """Mark the experiment as one of model training (the tag ``mlflow.experimentKind``)
        with runner's saved view of its runs (:func:`saved_view`, kept once written), and
        describe it (``mlflow.note.content``), unless someone wrote another description:
        a description runner wrote is kept in ``runner.note`` too, so it is told from one a
        user edited in the UI, which is left alone."""
        found = self._call(deadline, self.client.get_experiment, experiment_id)
        tags = dict(found.tags)
        note = (
            f"Runs of the table `{table}` ({table.resolve()}), trained by runner "
            f"{__version__}: one child run per configuration, under a parent run per sweep. "
            "A run's params are the table's columns; its name says what varies across the "
            "table and its seed; the tag `runner.configuration` is the same for the seeds of "
            "one configuration (Group by it to aggregate them)."
        )
        view = tags.get(VIEW_TAG) or saved_view(now_ms())
        wanted = {EXPERIMENT_KIND: TRAINING_KIND, VIEW_TAG: view}
        if tags.get("mlflow.note.content") in (None, tags.get("runner.note")):
            wanted.update({"mlflow.note.content": note, "runner.note": note})
        for key, value in wanted.items():
            if tags.get(key) != value:
                self._call(deadline, self.client.set_experiment_tag, experiment_id, key, value)

    def log_best_model(
        self, parent_id: str, best_run_id: str, example: list[list[float]] | None = None
    ) -> str | None:
        """Log the best run's network as the MLflow 3 logged model ``best_model`` of that run
        (its source run: the model shows the run's params and final metrics), an output of the
        sweep's run too, with ``example`` (rows of inputs) as its input example; the sweep's
        tag ``runner.best_model`` is ``models:/<model id>``. Both
        ``mlflow.pyfunc.load_model(f"models:/{model_id}")`` and
        ``runs:/<best run id>/best_model`` load it. Returns the model id (None: spooled)."""
        try:
            return self._log_best_model(parent_id, best_run_id, self._deadline(), example)
        except Exception as exc:
            if not is_transient(exc) or parent_id not in self._experiments:
                raise self._fail("cannot log the best model", exc) from None
            self._went_away(exc, self._experiments[parent_id])
            self._spool_end(parent_id, best_model=best_run_id, best_example=example)
            return None

    def _log_best_model(
        self,
        parent_id: str,
        best_run_id: str,
        deadline: float,
        example: list[list[float]] | None = None,
    ) -> str:
        from mlflow.entities import LoggedModelOutput, RunTag

        experiment_id = self._call(deadline, self.client.get_run, best_run_id).info.experiment_id
        model_id = self._logged_best(experiment_id, parent_id, best_run_id, deadline)
        if model_id is None:
            with tempfile.TemporaryDirectory(prefix="runner-best-") as tmp:
                network_dir = Path(tmp, "network")
                network_dir.mkdir()
                for name in (WEIGHTS_FILE, ARCHITECTURE_FILE):
                    self._call(
                        deadline,
                        self.client.download_artifacts,
                        best_run_id,
                        name,
                        str(network_dir),
                    )
                model_id = self._call(
                    deadline,
                    log_pyfunc,
                    network_dir,
                    self.uri,
                    experiment_id,
                    best_run_id,
                    BEST_MODEL,
                    step=self._final_step(best_run_id, deadline),
                    example=example,
                    tags={
                        "runner.sweep_run_id": parent_id,
                        "mlflow.source.name": "runner sweep",  # as the runs say, not argv[0]
                        "mlflow.source.type": "LOCAL",
                    },
                )
        parent = self._call(deadline, self.client.get_run, parent_id)
        outputs = parent.outputs.model_outputs if parent.outputs else []
        if model_id not in {o.model_id for o in outputs}:
            self._call(
                deadline, self.client.log_outputs, parent_id, [LoggedModelOutput(model_id, 0)]
            )
        tags = [
            RunTag("runner.best_model", f"models:/{model_id}"),
            RunTag("runner.best_run_id", best_run_id),
        ]
        self._call(deadline, self.client.log_batch, parent_id, [], [], tags)
        return model_id

    def _logged_best(
        self, experiment_id: str, parent_id: str, best_run_id: str, deadline: float
    ) -> str | None:
        """The id of the ``best_model`` this sweep already logged for ``best_run_id`` (a retry,
        or a spooled end replayed after it was logged), else None."""
        models = self._call(
            deadline,
            self.client.search_logged_models,
            experiment_ids=[experiment_id],
            filter_string=f"name = '{BEST_MODEL}'",
        )
        for model in models:
            ready = str(getattr(model.status, "name", model.status)).upper() != "FAILED"
            if (
                model.source_run_id == best_run_id
                and model.tags.get("runner.sweep_run_id") == parent_id
                and ready
            ):
                return model.model_id
        return None

    def _final_step(self, run_id: str, deadline: float) -> int:
        """The step of a run's final metrics (its last epoch): the logged model links the
        metrics of that step."""
        points = self._call(deadline, self.client.get_metric_history, run_id, "train_loss")
        return max((p.step for p in points), default=0)

    # -- runs ------------------------------------------------------------------------------

    def record(self, experiment_id: str, parent_id: str | None, result: RunResult) -> str | None:
        """Write one result as a child run of ``parent_id``; returns its run id, or None when
        the store stayed away and the result was spooled. Once per spec hash and parent. The
        bulk recorder and the writer threads return the id at once and write the run by the
        next :meth:`flush` (whose failures are handled, spooled or raised, as here)."""
        key = (parent_id or "", result.spec_hash)
        if key in self._recorded:
            return self._recorded[key]
        now = now_ms()
        record = self._claims.pop(key, None)
        if record is not None:  # the run this sweep claimed when it handed the spec out
            record.end_ms = max(now, record.start_ms)
        else:
            record = RunRecord(
                record_id=uuid.uuid4().hex,
                experiment_id=experiment_id,
                parent_id=parent_id,
                start_ms=now - max(0, int(result.wall_time * 1000)),
                end_ms=now,
            )
        if self.writers > 1 and record.run_id is not None:  # a claim: completed on a writer
            self._recorded[key] = record.run_id
            if self._pool is None:
                self._pool_env.enter_context(environ(self._http_env))
                self._pool = WriterPool(self.writers, self._new_client)
            for future, args in self._pool.submit(self._write_in_thread, result, record):
                self._settled(future, *args)
            return record.run_id
        try:
            if self.bulk is not None:
                run_id: str | None = self._buffer(result, record)
            else:
                run_id = self._write_run(result, record, self._deadline())
        except Exception as exc:
            run_id = self._record_failed(result, record, exc)
        self._recorded[key] = run_id
        return run_id

    def _new_client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def _write_in_thread(self, result: RunResult, record: RunRecord) -> str:
        return self._write_run(result, record, self._deadline())

    def _settled(self, future: Any, result: RunResult, record: RunRecord) -> None:
        """A write of a writer thread is done: a failure is handled as :meth:`record` does."""
        exc = future.exception()
        if exc is not None:
            key = (record.parent_id or "", result.spec_hash)
            self._recorded[key] = self._record_failed(result, record, exc)

    def _record_failed(self, result: RunResult, record: RunRecord, exc: BaseException) -> None:
        """A record that failed: raised unless the store is away or full, else spooled."""
        experiment_id = record.experiment_id
        full = is_disk_full(exc)
        if not is_transient(exc) and not full:
            if getattr(exc, "error_code", None) is None:
                raise exc  # a bug, not the store
            raise self._fail(f"cannot record run {result.spec.run_name()}", exc) from None
        if full:  # what was written of the run is marked, if anything can be written
            self._abandon(record, f"not recorded: {cause_of(exc)}; kept in the spool")
            self._away = True
        else:
            self._went_away(exc, experiment_id)
        try:
            self._spool_result(result, record)
        except OSError as spool_exc:
            spool = self._spool_folder(experiment_id)
            raise StoreWriteError(
                f"tracking store {self.uri}: cannot record run {result.spec.run_name()} "
                f"({cause_of(exc)}), nor keep it in the spool {spool} "
                f"({cause_of(spool_exc)}); free space, then run the same command again"
            ) from None

    def _buffer(self, result: RunResult, record: RunRecord) -> str:
        """Write a result's artifacts and keep its run for the bulk recorder's next
        :meth:`flush` (at once when the buffer is full); returns the run's id."""
        writer = self.bulk
        assert writer is not None
        create = record.run_id is None  # not claimed (the store was away): a new run
        if create:
            record.run_id = uuid.uuid4().hex
            record.artifact_uri = writer.artifact_uri(record.experiment_id, record.run_id)
        try:
            self._write_artifacts(result, record, self._deadline())
        except BaseException:
            if create:
                record.run_id = record.artifact_uri = None
            raise
        spec = result.spec
        metrics, nonfinite = run_metrics(result, record.start_ms, record.end_ms)
        tags = result_tags(result, nonfinite)
        if create:
            tags = {**run_tags(spec, result.spec_hash, record.parent_id, record.record_id), **tags}
        run = BulkRun(
            record.run_id,
            record.experiment_id,
            spec.run_name(),
            record.start_ms,
            record.artifact_uri or "",
            status=RUN_STATUS.get(result.status, "FAILED"),
            end_ms=record.end_ms,
            create=create,
            tags=tags,
            params=run_params(spec),
            metrics=metrics,
            dataset=run_dataset(result),
        )
        self._pending.append((result, record, run))
        self._pending_points += len(run.metrics)
        if len(self._pending) >= FLUSH_RUNS or self._pending_points >= FLUSH_POINTS:
            self.flush()
        return record.run_id

    def flush(self) -> int:
        """Write the runs the bulk recorder holds, in one transaction; a store that stays away
        (or whose disk is full: then :class:`StoreWriteError`) gets them spooled. Returns how
        many runs were written. Nothing is lost when a stop signal cuts it short: the buffer
        stays for the next call. Waits for the writer threads' writes first."""
        if self._pool is not None:
            for future, args in self._pool.settle():
                self._settled(future, *args)
            pool, self._pool = self._pool, None
            pool.close()
            self._pool_env.close()
        if not self._pending:
            return 0
        writer = self.bulk
        assert writer is not None
        try:
            written = self._call(self._deadline(), writer.write, [r for _, _, r in self._pending])
        except Exception as exc:
            if not is_transient(exc) and not is_disk_full(exc):
                raise self._fail("cannot record runs", exc) from None
            pending, self._pending, self._pending_points = self._pending, [], 0
            self._spool_pending(pending, exc)
            if is_disk_full(exc):  # one line and exit code 1, as for a run written alone
                raise self._fail("cannot record runs", exc) from None
            return 0
        self._pending, self._pending_points = [], 0
        return len(written)

    def _spool_pending(
        self, pending: list[tuple[RunResult, RunRecord, BulkRun]], exc: BaseException
    ) -> None:
        """Keep in the spool the results a flush could not write (see :meth:`record`)."""
        self._went_away(exc, pending[0][1].experiment_id)
        for result, record, run in pending:
            if run.create:  # never written: the replay creates it
                record.run_id = record.artifact_uri = None
                self._recorded[(record.parent_id or "", result.spec_hash)] = None
            try:
                self._spool_result(result, record)
            except OSError as spool_exc:
                raise StoreWriteError(
                    f"tracking store {self.uri}: cannot record run {result.spec.run_name()} "
                    f"({cause_of(exc)}), nor keep it in the spool "
                    f"{self._spool_folder(record.experiment_id)} ({cause_of(spool_exc)}); "
                    "free space, then run the same command again"
                ) from None

    def _write_artifacts(self, result: RunResult, record: RunRecord, deadline: float) -> None:
        """A run's files, where its artifact URI says."""
        folder = local_folder(record.artifact_uri)
        if folder is not None:  # a local store: write in place, no copy, no lookup of the run
            folder.mkdir(parents=True, exist_ok=True)
            write_artifacts(result, folder)
        else:
            with tempfile.TemporaryDirectory(prefix="runner-run-") as tmp:
                if write_artifacts(result, Path(tmp)):
                    self._call(deadline, self.client.log_artifacts, record.run_id, tmp)

    def _abandon(self, record: RunRecord, reason: str) -> None:
        """Mark FAILED, with ``reason``, the run of a record that could not be written whole;
        best effort (where nothing can be written, the next sweep marks it KILLED)."""
        if record.run_id is None:
            return
        from mlflow.entities import RunTag

        with contextlib.suppress(Exception):
            tags = [RunTag("runner.status", "failed"), RunTag("runner.reason", reason[:5000])]
            self.client.log_batch(record.run_id, [], [], tags)
        with contextlib.suppress(Exception):
            self.client.set_terminated(record.run_id, "FAILED", now_ms())

    def _write_run(self, result: RunResult, record: RunRecord, deadline: float) -> str:
        """Create (or complete, if ``record.run_id`` exists) one child run. Every step after
        create_run is idempotent (same metric timestamps), so a retry never duplicates."""
        spec = result.spec
        if record.run_id is None:
            tags = run_tags(spec, result.spec_hash, record.parent_id, record.record_id)
            tags["runner.status"] = result.status
            run = self._call(
                deadline,
                self.client.create_run,
                record.experiment_id,
                record.start_ms,
                tags,
                run_name=spec.run_name(),
            )
            record.run_id = run.info.run_id
            record.artifact_uri = run.info.artifact_uri
        run_id = record.run_id
        metrics, nonfinite = run_metrics(result, record.start_ms, record.end_ms)
        tags = list(result_tags(result, nonfinite).items())
        self._log(deadline, run_id, metrics, run_params(spec), tags)
        self._log_dataset(deadline, run_id, result)
        self._write_artifacts(result, record, deadline)
        status = RUN_STATUS.get(result.status, "FAILED")
        self._call(deadline, self.client.set_terminated, run_id, status, record.end_ms)
        return run_id

    def _log(
        self,
        deadline: float,
        run_id: str,
        metrics: list[tuple[str, float, int, int]],
        params: list[tuple[str, str]],
        tags: list[tuple[str, str]],
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        for m, p, t in batches(
            [Metric(*x) for x in metrics], [Param(*x) for x in params], [RunTag(*x) for x in tags]
        ):
            self._call(deadline, self.client.log_batch, run_id, m, p, t)

    def _log_dataset(self, deadline: float, run_id: str, result: RunResult) -> None:
        """The result's data set as the run's dataset input (:func:`records.run_dataset`);
        ``log_inputs`` keeps one dataset per name and digest in the experiment, and an input
        logged twice once, so a retry never duplicates. Two writers (threads, or sweeps) logging
        the same new data set at once race in the store's check-then-insert: the loser's unique
        violation is answered by logging again, which then finds the winner's dataset row."""
        found = run_dataset(result)
        if found is None:
            return
        from mlflow.entities import Dataset, DatasetInput, InputTag

        fields, tags = found
        entry = DatasetInput(Dataset(**fields), [InputTag(k, v) for k, v in tags.items()])
        for attempt in range(DATASET_RACE_RETRIES + 1):
            try:
                self._call(deadline, self.client.log_inputs, run_id, [entry])
                return
            except Exception as exc:
                if attempt == DATASET_RACE_RETRIES or not _lost_dataset_race(exc):
                    raise
                time.sleep(0.05 * (attempt + 1))

    def mark_killed(
        self,
        experiment_id: str,
        parent_id: str,
        specs: Sequence[RunSpec],
        reason: str,
        seconds: float = 2.0,
    ) -> int:
        """Mark KILLED, with ``reason``, the claimed runs of specs that were training when the
        sweep stopped (Ctrl-C, SIGTERM, a failure), for at most ``seconds``: a stop must be quick,
        and a claim left RUNNING is marked by the next sweep. Best effort: a store that is away
        is not waited for. Returns how many runs were marked."""
        deadline = self._deadline(seconds)
        if self.bulk is not None:  # every claim in one transaction, however many
            return self._bulk_mark_killed(parent_id, specs, reason, deadline)
        marked = 0
        for spec in specs:
            key = (parent_id, spec.spec_hash())
            record = self._claims.get(key)
            if record is None or key in self._recorded or time.monotonic() > deadline:
                continue
            tags = [("runner.status", "killed"), ("runner.reason", reason[:5000])]
            try:
                self._log(deadline, record.run_id, [], run_params(spec), tags)  # type: ignore[arg-type]
                self._call(deadline, self.client.set_terminated, record.run_id, "KILLED", now_ms())
            except Exception as exc:  # the next sweep marks them KILLED
                self._away = self._away or is_transient(exc)
                log.warning(
                    "tracking store %s: runs not marked KILLED: %s", self.uri, cause_of(exc)
                )
                return marked
            del self._claims[key]
            self._recorded[key] = record.run_id
            marked += 1
        return marked

    def _bulk_mark_killed(
        self, parent_id: str, specs: Sequence[RunSpec], reason: str, deadline: float
    ) -> int:
        """:meth:`mark_killed` through the bulk recorder: each claim ends KILLED with its
        parameters and reason, all in one transaction."""
        assert self.bulk is not None
        now, runs, keys = now_ms(), [], []
        for spec in specs:
            key = (parent_id, spec.spec_hash())
            record = self._claims.get(key)
            if record is None or key in self._recorded or record.run_id is None:
                continue
            tags = {"runner.status": "killed", "runner.reason": reason[:5000]}
            runs.append(
                BulkRun(
                    record.run_id, record.experiment_id, spec.run_name(), record.start_ms,
                    record.artifact_uri or "", status="KILLED", end_ms=now, create=False,
                    tags=tags, params=run_params(spec),
                )
            )  # fmt: skip
            keys.append((key, record.run_id))
        try:
            written = set(self._call(deadline, self.bulk.write, runs))
        except Exception as exc:  # the next sweep marks them KILLED
            self._away = self._away or is_transient(exc)
            log.warning("tracking store %s: runs not marked KILLED: %s", self.uri, cause_of(exc))
            return 0
        for key, run_id in keys:
            if run_id in written:
                del self._claims[key]
                self._recorded[key] = run_id
        return len(written)

    # -- the spool (runner.tracking.spool) -----------------------------------------------------

    def _spool_folder(self, experiment_id: str) -> Path:
        return spool_folder(self.spool_root, self.uri, experiment_id)

    def _spool_result(self, result: RunResult, record: RunRecord) -> Path:
        folder = self._spool_folder(record.experiment_id)
        return spool_result(folder, self.uri, result, record.to_json())

    def _spool_end(self, parent_id: str, **fields: Any) -> None:
        spool_sweep_end(self._spool_folder(self._experiments[parent_id]), parent_id, fields)

    def spooled_count(self, experiment_id: str) -> int:
        """How many results wait in the spool for this store and experiment."""
        return len(spooled_results(self._spool_folder(experiment_id)))

    def waiting(self, experiment_id: str) -> tuple[int, int, Path]:
        """What waits in the spool for this store and experiment: ``(results, ends of sweeps,
        its folder)``; the next sweep of the experiment from this folder replays them."""
        folder = self._spool_folder(experiment_id)
        return len(spooled_results(folder)), len(list(spooled_sweep_ends(folder))), folder

    def catch_up(self, experiment_id: str) -> int:
        """Before a sweep ends: write what the bulk recorder holds and, when results wait in
        the spool and the store answers again, replay them now (one try, not a wait: a store
        still away leaves them for the next sweep). Returns how many were recorded."""
        self.flush()
        if not self.spooled_count(experiment_id):
            return 0
        try:
            self._call(time.monotonic(), self.client.get_experiment, experiment_id)
            return self.replay_spool(experiment_id)
        except Exception as exc:  # noqa: BLE001 - still away: the next sweep replays them
            log.debug("spool not replayed yet: %s", cause_of(exc))
            return 0

    def replay_spool(self, experiment_id: str, parent_id: str | None = None) -> int:
        """Record every result spooled for this store and experiment (under ``parent_id``, or
        the sweep run they came from), then close sweeps whose end was spooled. Each item is
        deleted once recorded; returns how many results were recorded.

        The spool proves itself before anything of it is recorded: a result's spec hash must
        recompute from its own specification, the run it would complete must be this store's
        and experiment's run of that spec, its sweep run a sweep of this experiment, and its
        artifacts go where the store puts the run's (never where the item says). An item that
        fails, or cannot be read, is moved to ``rejected/`` beside it with a one-line warning
        naming the file, and the replay goes on. Each is claimed first, as a sweep claims a
        spec (:meth:`_replay_claim`): one whose configuration is FINISHED already is dropped,
        one a live sweep is training waits; so a replay records each spec hash at most once.
        """
        folder = self._spool_folder(experiment_id)
        if not folder.is_dir():
            return 0
        done = dropped = 0
        try:
            for path in spooled_results(folder):
                deadline = time.monotonic() + self.retry_seconds
                try:
                    result, data = result_from_spool(path)
                    record = RunRecord.from_json(data)
                except Exception as exc:  # not JSON, an npz with objects, a missing field
                    self._set_aside(path, f"unreadable: {error_reason(exc)}")
                    continue
                record.experiment_id = experiment_id
                why = self._spool_problem(result, record, deadline)
                if why:
                    self._set_aside(path, why)
                    continue
                if parent_id is not None and record.run_id is None:
                    record.parent_id = parent_id
                created = record.run_id is None
                outcome = self._replay_claim(result, record, deadline)
                if outcome == "elsewhere":  # another sweep recorded it: exactly once
                    remove_result(path)
                    dropped += 1
                    continue
                if outcome == "wait":  # another live sweep trains it now: kept for later
                    continue
                result = dataclasses.replace(result, tags={**result.tags, REPLAYED_TAG: path.name})
                try:
                    run_id = self._write_run(result, record, deadline)
                except Exception as exc:
                    if is_transient(exc) or is_disk_full(exc):
                        raise
                    self._refused(record, created, exc)  # never RUNNING, never again
                    self._set_aside(path, f"the store refused it: {cause_of(exc)}")
                    continue
                self._recorded[(record.parent_id or "", result.spec_hash)] = run_id
                remove_result(path)
                done += 1
            for path, data in spooled_sweep_ends(folder):
                deadline = time.monotonic() + self.retry_seconds
                why = self._sweep_end_problem(data, experiment_id, deadline)
                if why:
                    self._set_aside(path, why)
                    continue
                if "status" in data:
                    self._end_sweep(
                        data["parent_id"], data["counts"], data["best"], data["status"], deadline
                    )
                if data.get("best_model"):
                    self._log_best_model(
                        data["parent_id"], data["best_model"], deadline, data.get("best_example")
                    )
                path.unlink()
        except TrackingError:
            raise
        except Exception as exc:
            raise self._fail(f"cannot replay spooled results from {folder}", exc) from None
        if done:
            log.warning(
                "runner: recorded %d result%s kept in the spool %s while the store was away",
                done, "s" if done > 1 else "", folder,
            )  # fmt: skip
        if dropped:
            log.warning(
                "runner: %d spooled result%s not replayed: %s configuration%s already FINISHED "
                "in experiment %s (recorded by another sweep)",
                dropped, "s" if dropped > 1 else "", "their" if dropped > 1 else "its",
                "s were" if dropped > 1 else " was", experiment_id,
            )  # fmt: skip
        with contextlib.suppress(OSError):
            folder.rmdir()
        return done

    def _refused(self, record: RunRecord, created: bool, exc: BaseException) -> None:
        """A spooled result the store refused: the run its replay created is deleted, a claim
        of its sweep ends FAILED with the reason (best effort; so is a claim ever left RUNNING,
        by the next sweep)."""
        self._abandon(record, f"its spooled result was refused: {cause_of(exc)}"[:5000])
        if created and record.run_id is not None:
            with contextlib.suppress(Exception):
                self.client.delete_run(record.run_id)

    def _replay_claim(self, result: RunResult, record: RunRecord, deadline: float) -> str:
        """Claim the run a spooled result is to complete, as a sweep claims a spec: its run
        (the one it was claimed with, else a new RUNNING one) exists first, then the store is
        asked for any other run of its spec hash. ``"record"``: none, write it; ``"elsewhere"``:
        one is FINISHED (the claim is given back, the item is a duplicate); ``"wait"``: a live
        sweep has claimed it (the claim is given back, the item stays in the spool). Two
        replays of one spec at once thus never both record it (on a SQLite store the look and
        the claim happen under the store's lock)."""
        spec_hash = result.spec_hash
        created = record.run_id is None
        with store_lock(sqlite_path(self.uri)):
            if created:
                claim = self._claim_run(
                    record.experiment_id, record.parent_id or "", result.spec, deadline
                )
                record.run_id, record.artifact_uri = claim.run_id, claim.artifact_uri
                record.record_id = claim.record_id
            mine = f"tags.`runner.spec_hash` = '{spec_hash}' and tags.`runner.kind` = 'run' "
            mine += f"and attributes.run_id != '{record.run_id}'"
            finished = f"attributes.status = 'FINISHED' and {mine}"
            running = f"attributes.status = 'RUNNING' and {mine}"
            if next(iter(self._runs(record.experiment_id, finished, deadline)), None):
                outcome = "elsewhere"
            elif self._live_or_reap(record.experiment_id, running, deadline)[0]:
                outcome = "wait"
            else:
                outcome = "record"
            if outcome == "record":
                return outcome
        why = "its configuration was recorded by another sweep"
        if created:  # a claim of its own: given back, as release() does
            self._call(deadline, self.client.set_terminated, record.run_id, "KILLED", now_ms())
            self._call(deadline, self.client.delete_run, record.run_id)
        elif outcome == "elsewhere":  # the claim its sweep made: ended, saying why
            tags = [("runner.status", "killed"), ("runner.reason", why)]
            self._log(deadline, record.run_id, [], run_params(result.spec), tags)  # type: ignore[arg-type]
            self._call(deadline, self.client.set_terminated, record.run_id, "KILLED", now_ms())
        return outcome

    def _spool_problem(self, result: RunResult, record: RunRecord, deadline: float) -> str:
        """Why a spooled result may not be recorded ("" when it may); sets the record's run
        (None when it is to be created again) and artifact place from the store."""
        if result.spec.spec_hash() != result.spec_hash:
            return f"its spec hash {result.spec_hash} is not its configuration's"
        if result.status not in RUN_STATUS:
            return f"its status {result.status!r} is none a run may have"
        own = run_tags(result.spec, result.spec_hash, record.parent_id, record.record_id)
        reserved = {*own, *result_tags(dataclasses.replace(result, tags={}), set()), *RESERVED}
        why = result_problem(result, _loss_floor(result.spec), reserved)
        keys = [(k, "param") for k, _ in run_params(result.spec)] + [(k, "tag") for k in own]
        for key, what in keys:
            why = why or key_problem(key, what)
        if why:
            return why
        if record.parent_id is not None:
            why = self._sweep_problem(record.parent_id, record.experiment_id, deadline)
            if why:
                return why
        record.artifact_uri = None
        if record.run_id is None:
            return ""
        run = self._get_run(record.run_id, deadline)
        if run is None:  # deleted or never written: record the result anew
            record.run_id = None
            return ""
        tags = run.data.tags
        ours = (
            run.info.experiment_id == record.experiment_id
            and tags.get("runner.spec_hash") == result.spec_hash
            and tags.get("runner.record_id") == record.record_id
            and tags.get("mlflow.parentRunId") == record.parent_id
        )
        if not ours:
            return f"run {record.run_id} is not this result's run in this experiment"
        record.artifact_uri = run.info.artifact_uri
        if not self._artifacts_inside(record.experiment_id, run.info.artifact_uri, deadline):
            return f"run {record.run_id} keeps its artifacts outside the store's"
        return ""

    def _sweep_problem(self, run_id: str, experiment_id: str, deadline: float) -> str:
        run = self._get_run(run_id, deadline)
        if run is None or run.info.experiment_id != experiment_id:
            return f"its sweep run {run_id} is not in this experiment"
        if run.data.tags.get("runner.kind") != "sweep":
            return f"run {run_id} is not a sweep's run"
        return ""

    def _sweep_end_problem(self, data: dict[str, Any], experiment_id: str, deadline: float) -> str:
        """Why a spooled end of a sweep may not be recorded ("" when it may)."""
        parent = data.get("parent_id")
        if not isinstance(parent, str):
            return "it names no sweep run"
        why = self._sweep_problem(parent, experiment_id, deadline)
        if why:
            return why
        for best in {data.get("best"), data.get("best_model")} - {None}:
            run = self._get_run(str(best), deadline)
            if run is None or run.data.tags.get("mlflow.parentRunId") != parent:
                return f"its best run {best} is not a run of sweep {parent}"
        if "status" in data and str(data["status"]).upper() not in ("FINISHED", "KILLED", "FAILED"):
            return f"its status {data['status']!r} is none a sweep may end with"
        return ""

    def _get_run(self, run_id: str, deadline: float) -> Any:
        """The run ``run_id`` of this store, or None when there is none (or it was deleted)."""
        try:
            run = self._call(deadline, self.client.get_run, run_id)
        except Exception as exc:
            if is_transient(exc):
                raise
            return None
        return None if run.info.lifecycle_stage == "deleted" else run

    def _artifacts_inside(
        self, experiment_id: str, artifact_uri: str | None, deadline: float
    ) -> bool:
        """Whether a local run's artifact folder lies in its experiment's artifact location."""
        folder = local_folder(artifact_uri)
        if folder is None:
            return True  # a server's: it decides, and the client only sends files to it
        experiment = self._call(deadline, self.client.get_experiment, experiment_id)
        root = local_folder(experiment.artifact_location)
        return root is not None and folder.resolve().is_relative_to(root.resolve())

    def _set_aside(self, path: Path, why: str) -> None:
        """Move a spooled item the replay will not record to ``rejected/`` beside it."""
        rejected = path.parent / "rejected"
        rejected.mkdir(exist_ok=True)
        for part in (path, path.with_suffix(".npz")):
            with contextlib.suppress(OSError):
                part.replace(rejected / part.name)
        log.warning("runner: set aside spooled %s (%s): %s", path.name, rejected, why)


#: tags the recorder writes on a run whatever its result (a result's own may not be one)
RESERVED = frozenset(
    {"runner.status", "runner.reason", "runner.stop_reason", "runner.nonfinite", REPLAYED_TAG}
    | set(TAG_NUMBERS.values())
)


def _loss_floor(spec: RunSpec) -> float:
    """The least loss a spec's cost can give (its plugin's ``lower_bound``); -inf for an
    objective, or a cost no plugin installed now provides."""
    if spec.objective:
        return -math.inf
    from runner.plugin.registry import get_registry

    try:
        return float(getattr(get_registry().get("cost", spec.cost), "lower_bound", -math.inf))
    except Exception:  # noqa: BLE001 - the hash says which plugin it was: it proves itself
        return -math.inf


def finished_hashes_readonly(uri: str, experiment: str) -> set[str]:
    """Spec hashes FINISHED in experiment ``experiment`` of ``uri``, creating nothing: a SQLite
    file that does not exist, or a missing experiment, has none. For dry runs."""
    problem = store_problem(normalize_uri(uri))
    if problem:
        raise TrackingError(problem)
    path = sqlite_path(normalize_uri(uri))
    if path is not None and unfinished_store(path):
        return set()  # nothing recorded; MLflow would write its schema into it
    problem = sqlite_read_problem(normalize_uri(uri))
    if problem:
        raise TrackingError(problem)
    quick = finished_hashes_at_rest(uri, experiment)
    if quick is not None:
        return quick
    tracker = Tracker(uri)
    tracker.check()
    try:
        found = tracker.client.get_experiment_by_name(experiment)
    except Exception as exc:
        raise tracker._fail(f"cannot open experiment {experiment!r}", exc) from None
    if found is None or found.lifecycle_stage == "deleted":
        return set()
    return tracker.finished_hashes(found.experiment_id)


def finished_hashes_at_rest(
    uri: str, experiment: str, spool_dir: Path | str | None = None
) -> set[str] | None:
    """Spec hashes FINISHED in experiment ``experiment`` of a SQLite store, read straight from
    its tables with the standard library (no mlflow import, no schema check, no search), when
    the store is at rest: the file exists and is sound, the experiment exists, no run of it is
    RUNNING (nothing for :meth:`Tracker.reap_stale` to do, no claim of a live sweep) and no
    result of it waits in the spool. None in every other case, and on any doubt: then the
    :class:`Tracker` decides. A sweep whose every configuration is in the set has nothing to
    do, and returns without paying for MLflow (seconds on a busy machine)."""
    path = sqlite_path(normalize_uri(uri))
    if path is None or not path.is_file() or store_problem(normalize_uri(uri)):
        return None
    if sqlite_damage(path):
        return None
    try:
        with read_only(path, timeout=5) as con:
            found = con.execute(
                "select experiment_id, lifecycle_stage from experiments where name = ?",
                (experiment,),
            ).fetchone()
            if found is None or found[1] != "active":
                return None
            experiment_id = str(found[0])
            spool = spool_folder(
                Path(spool_dir or SPOOL_DIR).resolve(), normalize_uri(uri), experiment_id
            )
            if spool.exists():
                return None
            running = con.execute(
                "select count(*) from runs where experiment_id = ? and status = 'RUNNING' "
                "and lifecycle_stage = 'active'",
                (found[0],),
            ).fetchone()[0]
            if running:
                return None
            rows = con.execute(
                "select h.value from runs r "
                "join tags h on h.run_uuid = r.run_uuid and h.key = 'runner.spec_hash' "
                "join tags k on k.run_uuid = r.run_uuid and k.key = 'runner.kind' "
                "and k.value = 'run' "
                "where r.experiment_id = ? and r.status = 'FINISHED' "
                "and r.lifecycle_stage = 'active'",
                (found[0],),
            ).fetchall()
    except sqlite3.Error:  # locked, damaged, another layout: the tracker will say
        return None
    return {str(row[0]) for row in rows}


def experiment_id_at_rest(uri: str, experiment: str) -> str | None:
    """The id of experiment ``experiment`` in a SQLite store, read with the standard library
    (no mlflow import), for the UI address a sweep with nothing to do still prints; None
    where it is not there or cannot be read so."""
    path = sqlite_path(normalize_uri(uri))
    if path is None or not path.is_file():
        return None
    try:
        with read_only(path) as con:
            found = con.execute(
                "select experiment_id from experiments where name = ? and lifecycle_stage = "
                "'active'",
                (experiment,),
            ).fetchone()
    except sqlite3.Error:
        return None
    return None if found is None else str(found[0])


def _lost_dataset_race(exc: BaseException) -> bool:
    """Whether ``exc`` is a store refusing a second copy of a dataset row (the primary key of
    MLflow's ``datasets`` table: experiment, name, digest), as PostgreSQL, MySQL and SQLite
    word it."""
    text = str(exc)
    return (
        "dataset_pk" in text
        or "UNIQUE constraint failed: datasets." in text
        or ("Duplicate entry" in text and "datasets" in text)
    )


def _make_store(scratch: Path) -> None:
    """MLflow's tables in the new SQLite file ``scratch``: a copy of the empty store this
    MLflow version migrated once (:func:`~runner.tracking.store.template_path`), else MLflow's
    own migrations, the result then kept as that template. A copy's Default experiment is
    given the folder and the time MLflow's creation would have given it, and MLflow checks the
    copy's schema revision on opening it, as it checks every store's; a copy it refuses is
    dropped, template and all, and the store migrated instead."""
    from mlflow.version import VERSION

    template = template_path(VERSION)
    if template is not None and template.is_file():
        try:
            shutil.copyfile(template, scratch)
            _as_if_created_now(scratch)
            _open_and_let_go(scratch)
            return
        except Exception:
            template.unlink(missing_ok=True)
            scratch.unlink(missing_ok=True)
    _open_and_let_go(scratch)
    if template is not None:
        keep_template(scratch, template)


def _as_if_created_now(db: Path) -> None:
    """The Default experiment (id 0) of a copied store as MLflow's creation of this store would
    make it: its artifacts under ``./mlruns`` of the working folder (or the server's root),
    created now."""
    from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
    from mlflow.tracking._tracking_service.utils import _SERVER_ARTIFACT_ROOT_ENV_VAR
    from mlflow.utils.uri import append_to_uri_path, resolve_uri_if_local

    root = os.environ.get(_SERVER_ARTIFACT_ROOT_ENV_VAR, DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH)
    where = append_to_uri_path(resolve_uri_if_local(root), "0")
    now = int(time.time() * 1000)
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        con.execute(
            "UPDATE experiments SET artifact_location = ?, creation_time = ?, "
            "last_update_time = ? WHERE experiment_id = 0",
            (where, now, now),
        )


def _open_and_let_go(db: Path) -> None:
    """Open the SQLite store ``db`` as MLflow does (creating and migrating its tables where
    there are none, checking their revision), then close MLflow's handle on it."""
    from mlflow import MlflowClient
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    _quiet_mlflow()
    uri = f"sqlite:///{db.resolve()}"
    try:
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    finally:  # the file is renamed or removed next: no pooled handle on it may stay
        engine = SqlAlchemyStore._engine_map.pop(uri, None)
        if engine is not None:
            engine.dispose()


def _quiet_mlflow() -> None:
    """No schema set-up chatter from MLflow, and no traceback of a failed database call, which
    MLflow logs before raising it: the tracker handles every failure and says so in one line."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
