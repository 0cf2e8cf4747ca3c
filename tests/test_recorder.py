"""The bulk recorder (runner.tracking.bulk) against real SQLite stores, and through a real driver.

Both recorders (the bulk one, and MLflow's public API) are given the same results in two fresh
stores and read back through MlflowClient field by field; a store whose schema revision is not
the installed MLflow's head is written through the public API; and a `runner sweep` killed with
-9 in the middle of a bulk write leaves no run half written, and its rerun completes the set
exactly once.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import tracking_spec

from runner import tracking
from runner.spec import RunResult

#: tags that name the recording itself (ids, or the parent of each store's own sweep)
OWN_TAGS = {"runner.record_id", "mlflow.parentRunId"}


def store(tmp_path: Path, template: Path, name: str) -> str:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copyfile(template, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


def results_of_every_kind(xor_results: list[RunResult]) -> list[RunResult]:
    """Finished (claimed and not), diverged with NaN and inf values, and failed."""
    first, second = xor_results
    steps, values = first.history["loss"]
    values = np.array(values, dtype=float)
    values[7:] = np.nan
    diverged_spec = tracking_spec(seed=5, row=3)
    diverged = dataclasses.replace(
        first,
        spec=diverged_spec,
        spec_hash=diverged_spec.spec_hash(),
        status="diverged",
        reason="loss became NaN at epoch 14",
        metrics={**first.metrics, "train_loss": math.nan, "gradient_bound": math.inf},
        history={**first.history, "loss": (steps, values)},
        restart_losses=[math.nan, 0.5, 0.25],
    )
    failed_spec = tracking_spec(seed=6, row=4)
    failed = RunResult(
        failed_spec, failed_spec.spec_hash(), "failed", "ValueError: boom", traceback="Trace\n"
    )
    return [first, second, diverged, failed]


def record_all(tracker: tracking.Tracker, results: list[RunResult], table: Path) -> str:
    """A sweep as run_sweep writes it: the first result claimed, the others not."""
    tracker.check()
    experiment_id = tracker.experiment("xor")
    parent = tracker.start_sweep(experiment_id, table, {"planned": len(results)}, {"jobs": "1"})
    assert tracker.claim(experiment_id, parent, [results[0].spec]) == [results[0].spec]
    for result in results:
        tracker.record(experiment_id, parent, result)
    tracker.end_sweep(parent, {"finished": 2}, None, "FINISHED")
    return parent


def run_view(client, run) -> dict:
    """Everything of a run that does not depend on when or under which ids it was written."""
    info, data = run.info, run.data
    histories = {}
    for key in data.metrics:
        points = client.get_metric_history(info.run_id, key)
        assert all(info.start_time <= p.timestamp <= info.end_time for p in points)
        histories[key] = sorted((p.step, p.value) for p in points)
    artifacts = sorted((a.path, a.is_dir) for a in client.list_artifacts(info.run_id))
    inputs = sorted(
        (
            tuple(sorted(vars(d.dataset).items())),
            tuple(sorted((t.key, t.value) for t in d.tags)),
        )
        for d in run.inputs.dataset_inputs
    )
    return {
        "name": info.run_name,
        "status": info.status,
        "user": info.user_id,
        "stage": info.lifecycle_stage,
        "artifact_uri": info.artifact_uri.endswith(f"/{info.run_id}/artifacts"),
        "ends_after_start": info.end_time >= info.start_time,
        "params": data.params,
        "tags": {k: v for k, v in data.tags.items() if k not in OWN_TAGS},
        "metrics": data.metrics,
        "histories": histories,
        "artifacts": artifacts,
        "inputs": inputs,
    }


def test_both_recorders_write_the_same_runs(
    tmp_path: Path,
    tracking_template_db: Path,
    xor_results: list[RunResult],
    moons_result: RunResult,
    objective_result: RunResult,
) -> None:
    table = tmp_path / "xor.csv"
    table.write_text("activation,seed\nsigmoid,0\n")
    results = [*results_of_every_kind(xor_results), moons_result, objective_result]
    views, datasets = {}, {}
    for bulk in (False, True):
        uri = store(tmp_path, tracking_template_db, f"bulk-{bulk}")
        tracker = tracking.Tracker(uri, bulk=bulk, spool_dir=tmp_path / "spool")
        parent = record_all(tracker, results, table)
        assert (tracker.bulk is not None) == bulk
        client = tracker.client
        runs = client.search_runs(
            [tracker.experiment("xor")], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'"
        )
        assert len(runs) == len(results)
        views[bulk] = {r.data.tags["runner.spec_hash"]: run_view(client, r) for r in runs}
        db = uri.removeprefix("sqlite:///")
        with sqlite3.connect(db) as con:
            datasets[bulk] = con.execute("select name, digest from datasets").fetchall()
    assert set(views[True]) == {r.spec_hash for r in results}
    # one dataset row per data set, however many runs trained on it; the failed run has none
    assert (
        sorted(datasets[True])
        == sorted(datasets[False])
        == sorted({(r.dataset["name"], r.dataset["digest"]) for r in results if r.dataset})
    )
    assert len(datasets[True]) == 2
    # no dataset input for the failed run, nor for the objective's (it has no data)
    assert [len(v["inputs"]) for v in views[True].values()].count(0) == 2
    for spec_hash, public in views[False].items():
        assert views[True][spec_hash] == public, spec_hash


def test_a_store_at_another_schema_revision_is_written_through_the_public_api(
    sqlite_uri: str, tmp_path: Path, xor_results: list[RunResult]
) -> None:
    tracker = tracking.Tracker(sqlite_uri, spool_dir=tmp_path / "spool")
    tracker.check()  # MLflow opened the store at its head revision
    experiment_id = tracker.experiment("xor")
    with sqlite3.connect(sqlite_uri.removeprefix("sqlite:///")) as con:  # then it moved on
        con.execute("update alembic_version set version_num = 'ffffffffffff'")
    assert tracker.bulk is None
    run_id = tracker.record(experiment_id, None, xor_results[0])  # written before it returns
    run = tracker.client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert set(run.data.metrics) >= {"train_loss", "train_accuracy"}
    assert float(run.data.tags["runner.wall_time"]) == xor_results[0].metrics["wall_time"]
    assert run.data.tags["runner.stop_epoch"] == str(int(xor_results[0].metrics["epochs"]))


# -- a driver killed in the middle of a bulk write ------------------------------------------

RUNS = 150


def child_runs(db: Path) -> list[tuple[str, str, int, int, str]]:
    """(spec hash, status, params, metric points, runner.status) of every child run."""
    with sqlite3.connect(db, timeout=30) as con:
        return con.execute(
            "select h.value, r.status, "
            "(select count(*) from params p where p.run_uuid = r.run_uuid), "
            "(select count(*) from metrics m where m.run_uuid = r.run_uuid), "
            "(select value from tags s where s.run_uuid = r.run_uuid and s.key = 'runner.status') "
            "from runs r join tags h on h.run_uuid = r.run_uuid "
            "where h.key = 'runner.spec_hash' and r.lifecycle_stage = 'active'"
        ).fetchall()


def claimed(db: Path) -> int:
    try:
        return sum(status == "RUNNING" for _, status, *_ in child_runs(db))
    except sqlite3.OperationalError:  # the tables are being created, or a write holds the lock
        return 0


@pytest.mark.slow
def test_a_driver_killed_in_a_bulk_write_leaves_no_half_run_and_the_rerun_completes(
    tmp_path: Path, sqlite_uri: str
) -> None:
    db = Path(sqlite_uri.removeprefix("sqlite:///"))
    journal = db.with_name(db.name + "-journal")
    table = tmp_path / "xor.csv"
    table.write_text(f"dataset,hidden,epochs,seed\nxor,2,300,0..{RUNS - 1}\n")
    command = [sys.executable, "-m", "runner", "sweep", str(table), "--jobs", "1",
               "--tracking-uri", sqlite_uri]  # fmt: skip
    driver = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        end = time.monotonic() + 240
        while claimed(db) < RUNS:  # every spec claimed: the next write is the results'
            assert driver.poll() is None and time.monotonic() < end, driver.stderr.read()
            time.sleep(0.05)
        while not journal.exists():  # the bulk write began
            assert driver.poll() is None and time.monotonic() < end, driver.stderr.read()
            time.sleep(0.002)
        os.kill(driver.pid, signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait(timeout=60)

    runs = child_runs(db)
    assert len(runs) == RUNS
    done = [r for r in runs if r[1] == "FINISHED"]
    assert len(done) < RUNS  # the kill came before the write was committed
    assert all(params > 0 and metrics > 0 for _, _, params, metrics, _ in done)
    for _, status, params, metrics, runner_status in runs:  # every other run: a bare claim
        if status != "FINISHED":
            assert (status, params, metrics, runner_status) == ("RUNNING", 0, 0, "training")

    rerun = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    runs = child_runs(db)
    finished = [spec_hash for spec_hash, status, *_ in runs if status == "FINISHED"]
    assert len(finished) == len(set(finished)) == RUNS
    assert {status for _, status, *_ in runs} <= {"FINISHED", "KILLED"}


# -- PostgreSQL: the bulk recorder on it, and a tracking server on it -------------------------


def finished_once(uri: str, experiment: str, specs: list) -> list:
    """The FINISHED child runs of ``experiment``, asserted to be exactly one per spec."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    query = "attributes.status = 'FINISHED' and tags.`runner.kind` = 'run'"
    runs = client.search_runs([found.experiment_id], filter_string=query, max_results=5000)
    hashes = [r.data.tags["runner.spec_hash"] for r in runs]
    assert sorted(hashes) == sorted(s.spec_hash() for s in specs)
    return runs


def xor_table(folder: Path, seeds: int) -> Path:
    path = folder / "pg.csv"
    path.write_text(f"dataset,hidden,epochs,learning_rate,seed\nxor,2,200,1.0|2.0,0..{seeds - 1}\n")
    return path


@pytest.mark.slow
def test_a_sweep_on_postgresql_is_bulk_recorded_once_per_spec(
    postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner.sweep import run_sweep
    from runner.table import load_specs

    monkeypatch.chdir(tmp_path)  # the store's default artifact root is ./mlruns
    uri = postgres.database("bulk")
    table = xor_table(tmp_path, 20)
    summary = run_sweep(table, tracking_uri=uri)
    assert summary.finished + summary.diverged == 40
    assert tracking.Tracker(uri).bulk is not None  # the store is at MLflow's head revision
    runs = finished_once(uri, "pg", load_specs(table))
    from mlflow import MlflowClient

    names = {a.path for a in MlflowClient(uri).list_artifacts(runs[0].info.run_id)}
    assert {"weights.npz", "architecture.json"} <= names


@pytest.mark.slow
def test_two_sweeps_at_once_on_postgresql_claim_each_configuration_once(
    postgres, tmp_path: Path
) -> None:
    """The database's advisory lock stands where SQLite's lock file does."""
    from runner.table import load_specs

    uri = postgres.database("twice")
    tracking.Tracker(uri).check()  # created and migrated first: the race here is the claims'
    table = tmp_path / "pg.csv"  # populations of one, so that the two sweeps interleave
    table.write_text("dataset,hidden,epochs,learning_rate,seed\nxor,2|3|4|5|6|7,300,1.0,0..1\n")
    args = [sys.executable, "-m", "runner", "sweep", str(table), "--jobs", "1", "-q"]
    args += ["--tracking-uri", uri]
    both = [
        subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for proc in both:
        _, err = proc.communicate(timeout=300)  # a guard against a hang, not a measurement
        assert proc.returncode == 0, err.decode()
    finished_once(uri, "pg", load_specs(table))


@pytest.mark.slow
def test_a_sweep_through_an_mlflow_server_on_postgresql_records_every_run_once(
    postgres, tmp_path: Path
) -> None:
    from conftest import MlflowServer

    from runner.sweep import run_sweep
    from runner.table import load_specs

    (tmp_path / "server").mkdir()
    server = MlflowServer(tmp_path / "server", None, backend=postgres.database("srv"), workers=2)
    try:
        server.start(timeout=240)  # MLflow migrates the fresh database first
        table = xor_table(tmp_path, 10)
        summary = run_sweep(table, tracking_uri=server.uri)
        assert summary.finished + summary.diverged == 20
        finished_once(server.uri, "pg", load_specs(table))
    finally:
        server.stop()


# -- a reader while a bulk sweep writes -----------------------------------------------------


@pytest.mark.slow
def test_a_reader_polling_search_runs_during_a_bulk_sweep_sees_runs_land_and_no_lock(
    tmp_path: Path, sqlite_uri: str
) -> None:
    runs = 300  # three bulk transactions (FLUSH_POINTS) of ~600 metric points a run
    table = tmp_path / "xor.csv"
    table.write_text(f"dataset,hidden,epochs,seed\nxor,2,300,0..{runs - 1}\n")
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_search_reader.py")), sqlite_uri, str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        sweep = subprocess.run(
            [sys.executable, "-m", "runner", "sweep", str(table), "--jobs", "1",
             "--tracking-uri", sqlite_uri],
            cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    assert sweep.returncode == 0, sweep.stderr
    assert "locked" not in sweep.stderr
    lines = out.splitlines()
    assert [line for line in lines if not line.startswith("finished ")] == []  # no error
    seen = {int(line.split()[1]) for line in lines}
    assert len(seen & set(range(1, runs))) >= 1  # runs showed as they landed, not all at the end


# -- writer threads against a tracking server ------------------------------------------------


@pytest.mark.slow
def test_writer_threads_complete_each_claim_once_and_spool_when_the_server_goes(
    mlflow_server, tmp_path: Path, xor_results: list[RunResult]
) -> None:
    table = tmp_path / "xor.csv"
    table.write_text("activation,seed\nsigmoid,0\n")
    first, second = xor_results
    spool = tmp_path / "spool"
    tracker = tracking.Tracker(mlflow_server.uri, retry_seconds=1.0, spool_dir=spool, writers=4)
    tracker.check()
    experiment_id = tracker.experiment("xor")
    parent = tracker.start_sweep(experiment_id, table, {"planned": 2}, {"jobs": "1"})
    claims = tracker.claim(experiment_id, parent, [first.spec, second.spec])
    assert claims == [first.spec, second.spec]
    ran = tracker.record(experiment_id, parent, first)  # on a writer thread
    tracker.flush()  # waits for the writers
    assert tracker.client.get_run(ran).info.status == "FINISHED"

    mlflow_server.stop()
    away = tracker.record(experiment_id, parent, second)
    tracker.flush()  # the writer's failure settles here: spooled, not raised
    assert len(list(spool.rglob("run-*.json"))) == 1

    mlflow_server.start()  # same port, same database
    again = tracking.Tracker(mlflow_server.uri, spool_dir=spool)
    again.check()
    assert again.replay_spool(experiment_id) == 1
    runs = again.client.search_runs(
        [experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'"
    )
    assert sorted((r.info.run_id, r.info.status) for r in runs) == sorted(
        [(ran, "FINISHED"), (away, "FINISHED")]  # the spooled result completed its own claim
    )
