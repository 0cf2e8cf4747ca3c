"""runner.tracking and runner.model against real MLflow stores.

Every test writes to a real SQLite store of its own (copied from one migrated template, see the
"tracking" block of conftest.py) or to a real `mlflow server` subprocess, with results of real
training runs on xor and moons. Nothing is mocked.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port, tracking_spec

import runner
from runner import tracking
from runner.errors import TrackingError
from runner.model import TrainedNetwork, load_network
from runner.spec import RunResult
from runner.table import load_specs, specs_from_rows
from runner.tracking import records as run_record

XOR_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])


@pytest.fixture
def tracker(sqlite_uri: str, tmp_path: Path) -> tracking.Tracker:
    return tracking.Tracker(sqlite_uri, retry_seconds=2.0, spool_dir=tmp_path / "spool")


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "xor.csv"
    path.write_text("activation,seed\nsigmoid,0\nsigmoid,1\n")
    return path


def sweep(tracker: tracking.Tracker, table: Path) -> tuple[str, str]:
    experiment_id = tracker.experiment("xor")
    settings = {"jobs": "1", "scheduler": "", "log_every": "auto"}
    parent = tracker.start_sweep(experiment_id, table, {"planned": 2}, settings)
    return experiment_id, parent


def children(tracker: tracking.Tracker, experiment_id: str, parent: str) -> list:
    query = f"tags.`mlflow.parentRunId` = '{parent}'"
    return tracker.client.search_runs([experiment_id], filter_string=query)


# -- where the store is and whether it can be used -----------------------------------------


def test_resolve_uri_prefers_option_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.resolve_uri(None) == tracking.DEFAULT_URI == "sqlite:///mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.resolve_uri(None) == "http://127.0.0.1:5000"
    assert tracking.resolve_uri("sqlite:///other.db") == "sqlite:///other.db"


def test_ui_command_names_the_absolute_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    local = tracking.Tracker("sqlite:///mlflow.db")
    assert local.uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    program = Path(sys.executable).parent / "mlflow"  # this environment's, on PATH or not
    assert local.ui_command() == f"{program} ui --backend-store-uri sqlite:///{tmp_path}/mlflow.db"
    assert local.artifact_location("xor") == (tmp_path / "mlartifacts" / "xor").as_uri()
    assert local.artifact_location("../a b") == (tmp_path / "mlartifacts" / "a_b").as_uri()
    assert "http://127.0.0.1:5000" in tracking.Tracker("http://127.0.0.1:5000").ui_command()


def test_check_reports_unusable_stores_in_one_line(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "junk.db").write_text("not a database " * 100)
    cases = {
        closed: "Connection refused",
        f"sqlite:///{tmp_path}/missing/mlflow.db": "does not exist",
        f"sqlite:///{tmp_path}/a-file/mlflow.db": "does not exist",
        f"sqlite:///{tmp_path}/junk.db": "not a database",
        "htp://127.0.0.1:5000": "unsupported scheme",
    }
    for uri, cause in cases.items():
        with pytest.raises(TrackingError) as info:
            tracking.Tracker(uri).check()
        message = str(info.value)
        assert "\n" not in message and cause in message and uri in message, message
    assert not (tmp_path / "missing").exists()  # a mistyped folder is not created


def test_a_new_store_is_the_migrated_template_s_copy_as_mlflow_would_make_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first new store is migrated by MLflow and kept as this MLflow version's template;
    later ones are copies of it (seconds of migrations saved), with the same schema and
    revision and a Default experiment as MLflow's creation makes it; a template MLflow refuses
    is dropped and the store migrated."""
    import sqlite3

    def read(db: Path, query: str) -> list:
        with sqlite3.connect(db) as con:
            return con.execute(query).fetchall()

    cache = tmp_path / "cache"
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(cache))
    monkeypatch.chdir(tmp_path)
    stores = [tmp_path / name / "mlflow.db" for name in ("migrated", "copied", "refused")]
    for db in stores:
        db.parent.mkdir()
    tracking.Tracker(f"sqlite:///{stores[0]}").check()
    (template,) = cache.glob("mlflow-*.db")
    read(template, "INSERT INTO experiment_tags VALUES ('from', 'template', '0')")
    tracking.Tracker(f"sqlite:///{stores[1]}").check()
    assert read(stores[1], "SELECT value FROM experiment_tags") == [("template",)]
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
    revision = "SELECT version_num FROM alembic_version"
    default = "SELECT name, artifact_location FROM experiments"
    for query in (schema, revision, default):
        assert read(stores[1], query) == read(stores[0], query)
    assert read(stores[1], default) == [("Default", str(tmp_path / "mlruns" / "0"))]
    read(template, "UPDATE alembic_version SET version_num = 'not-a-revision'")
    tracking.Tracker(f"sqlite:///{stores[2]}").check()
    assert read(stores[2], revision) == read(stores[0], revision) == read(template, revision)
    assert not list(tmp_path.rglob(".mlflow.db.creating-*"))


def test_check_accepts_a_working_store(sqlite_uri: str) -> None:
    tracking.Tracker(sqlite_uri).check()


def test_a_damaged_store_is_refused_before_anything_is_written(
    tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    experiment_id, parent = sweep(tracker, table)
    tracker.record(experiment_id, parent, xor_results[0])
    tracker.flush()  # the bulk recorder writes what it holds
    path = Path(tracker.uri.removeprefix("sqlite:///"))
    size = path.stat().st_size
    with open(path, "r+b") as f:  # random bytes in the middle of the file
        f.seek(size // 2)
        f.write(np.random.default_rng(0).bytes(4096))
    with pytest.raises(TrackingError) as info:
        tracking.Tracker(tracker.uri).check()
    message = str(info.value)
    assert "\n" not in message and f"{path} is damaged (SQLite's quick check: " in message
    assert path.stat().st_size == size


def test_a_store_another_program_holds_locked_is_not_called_damaged(sqlite_uri: str) -> None:
    """A lock is no damage: a sweep is never told to restore a sound store from a copy."""
    import sqlite3

    from runner.tracking.store import sqlite_damage, sqlite_read_problem

    path = Path(sqlite_uri.removeprefix("sqlite:///"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program writing, a lock held
    try:
        assert sqlite_damage(path) == ""
        assert "is locked by another program" in sqlite_read_problem(sqlite_uri)
    finally:
        holder.close()
    assert sqlite_damage(path) == "" and sqlite_read_problem(sqlite_uri) == ""


# -- one run ---------------------------------------------------------------------------------


def test_record_writes_name_params_tags_histories_and_artifacts(
    tracker: tracking.Tracker, table: Path, xor_results: list[RunResult], tmp_path: Path
) -> None:
    result = xor_results[0]
    experiment_id, parent = sweep(tracker, table)
    run_id = tracker.record(experiment_id, parent, result)
    tracker.flush()  # the bulk recorder writes what it holds
    run = tracker.client.get_run(run_id)

    assert run.info.run_name == result.spec.run_name()
    assert run.info.status == "FINISHED"
    assert run.data.params == run_record.flat_params(result.spec)
    tags = run.data.tags
    assert tags["mlflow.parentRunId"] == parent
    assert tags["runner.spec_hash"] == result.spec_hash == result.spec.spec_hash()
    assert tags["runner.table_row"] == "1"
    assert tags["runner.configuration"] == result.spec.configuration_id()
    assert tags["runner.seed"] == str(result.spec.seed)
    assert tags["runner.table"] == "experiments/xor.csv"
    assert tags["runner.status"] == "finished"
    assert json.loads(tags["runner.plugins"]) == dict(result.spec.versions)
    assert tags["runner.version"] == runner.__version__
    assert "runner.reason" not in tags and "runner.nonfinite" not in tags

    # one name per quantity: the history from step 0, its last step the final evaluated value
    last = int(result.metrics["epochs"])
    for name, (steps, values) in result.history.items():
        key = run_record.HISTORY_NAMES.get(name, name)
        expected = list(zip(np.asarray(steps).tolist(), np.asarray(values).tolist(), strict=True))
        if key in result.metrics:
            expected = [(s, v) for s, v in expected if s < last] + [(last, result.metrics[key])]
        history = sorted(tracker.client.get_metric_history(run_id, key), key=lambda m: m.step)
        assert [m.step for m in history] == [s for s, _ in expected]  # step = epoch
        assert history[0].step == 0
        np.testing.assert_allclose([m.value for m in history], [v for _, v in expected])
        stamps = [m.timestamp for m in history]
        assert stamps == sorted(stamps)
        assert run.info.start_time <= stamps[0] and stamps[-1] <= run.info.end_time
    assert {"loss", "accuracy", "gradient_norm"} <= set(result.history)
    # only curves are metrics (MLflow's chart view charts each): a single number is a tag
    assert set(run.data.metrics) == {"train_loss", "train_accuracy", "gradient_norm"}
    for name in run.data.metrics:
        assert len(tracker.client.get_metric_history(run_id, name)) > 1, name
    for name in ("train_loss", "train_accuracy"):
        assert run.data.metrics[name] == pytest.approx(result.metrics[name], rel=1e-12), name
    # the wall time and the critical-point test's numbers (an XOR-sized network takes it by
    # default), whole; each restart's final loss is no curve over epochs: restarts.json has them
    for name in ("wall_time", "hessian_min_eigenvalue", "hessian_max_eigenvalue"):
        assert float(tags[f"runner.{name}"]) == result.metrics[name], name
    assert "runner.critical_gradient_norm" in tags
    # flags and counts are tags, not curves
    assert tags["runner.converged"] == str(bool(result.metrics["converged"])).lower()
    assert tags["runner.stop_epoch"] == str(last)
    assert tags["runner.restarts"] == "3"
    assert tags["runner.selected_restart"] == str(int(result.metrics["selected_restart"]))
    assert tags["runner.configuration_name"] == "xor"  # a table of one configuration

    assert run.info.artifact_uri.startswith((tmp_path / "store" / "mlartifacts" / "xor").as_uri())
    names = {a.path for a in tracker.client.list_artifacts(run_id)}
    assert names == {"weights.npz", "architecture.json", "restarts.json"}
    folder = Path(tracker.client.download_artifacts(run_id, "", str(tmp_path / "download")))
    with np.load(folder / "weights.npz", allow_pickle=False) as weights:
        assert sorted(weights.files) == ["W1", "W2", "b1", "b2"]
        for m in (1, 2):
            np.testing.assert_array_equal(weights[f"W{m}"], result.weights[m - 1])
            np.testing.assert_array_equal(weights[f"b{m}"], result.biases[m - 1])
    assert json.loads((folder / "architecture.json").read_text()) == result.architecture
    restarts_json = json.loads((folder / "restarts.json").read_text())
    assert restarts_json["final_losses"] == result.restart_losses
    assert restarts_json["selected"] == int(result.metrics["selected_restart"])


COLUMNS = (
    "dataset,hidden,activation,output_activation,cost,optimizer,learning_rate,momentum,"
    "strategy,restarts,scaling,output_activation.beta,beta2,epochs,seed\n"
    "xor,2,sigmoid,sigmoid,cross_entropy,momentum,0.5,0.9,restarts,3,minmax,2.0,,10,1\n"
    "xor,2-3,tanh,sigmoid,cross_entropy,adam,0.01,,restarts,1,standard,,0.99,10,0\n"
)


def test_params_are_the_tables_columns_for_built_in_and_third_party_plugins(
    tmp_path: Path, example_plugins: Path
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(COLUMNS)
    header, *lines = COLUMNS.splitlines()
    rows = [dict(zip(header.split(","), line.split(","), strict=True)) for line in lines]
    specs = load_specs(path)
    assert [s.optimizer for s in specs] == ["momentum", "adam"]  # adam: the example plugins'
    for spec, row in zip(specs, rows, strict=True):
        params = run_record.flat_params(spec)
        # each cell the table gave is the param of its column, as written
        assert {c: params[c] for c, cell in row.items() if cell} == {
            c: cell for c, cell in row.items() if cell
        }
        # defaults are their values; an unset setting is left out, never "None"
        assert params["batch_size"] == "0" and params["output_activation.beta"]
        assert "target_loss" not in params and "None" not in params.values()
        # one to one: the params, given back as a row of a table, are the same configuration
        (again,) = specs_from_rows([params])
        assert again.spec_hash() == spec.spec_hash()
    assert run_record.flat_params(specs[1])["beta2"] == "0.99"
    assert run_record.flat_params(specs[0])["activation.beta"] == "1.0"  # the hidden sigmoid's


def test_record_once_per_spec_hash(
    tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    experiment_id, parent = sweep(tracker, table)
    first = tracker.record(experiment_id, parent, xor_results[0])
    assert tracker.record(experiment_id, parent, xor_results[0]) == first
    tracker.flush()  # the bulk recorder writes what it holds
    assert [r.info.run_id for r in children(tracker, experiment_id, parent)] == [first]


def test_nonfinite_values_are_left_out_or_clamped(
    tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    base = xor_results[0]
    steps, values = base.history["loss"]
    values = np.array(values, dtype=float)
    values[5:] = np.nan
    result = dataclasses.replace(
        base,
        status="diverged",
        reason="loss became NaN at epoch 12",
        metrics={**base.metrics, "train_loss": math.nan, "gradient_bound": math.inf},
        history={"gradient_norm": (steps, values)},
        restart_losses=[math.nan, 0.5],
    )
    experiment_id, parent = sweep(tracker, table)
    run_id = tracker.record(experiment_id, parent, result)
    tracker.flush()  # the bulk recorder writes what it holds
    run = tracker.client.get_run(run_id)
    assert run.info.status == "FINISHED"  # diverged is a result, not a failure
    assert run.data.tags["runner.status"] == "diverged"
    assert run.data.tags["runner.reason"] == "loss became NaN at epoch 12"
    assert run.data.tags["runner.nonfinite"] == "gradient_norm,train_loss"
    assert "train_loss" not in run.data.metrics
    assert float(run.data.tags["runner.gradient_bound"]) == tracking.LARGEST_FLOAT  # one number
    loss = tracker.client.get_metric_history(run_id, "gradient_norm")
    assert sorted(m.step for m in loss) == np.asarray(steps[:5]).tolist()
    assert all(math.isfinite(m.value) for m in loss)


def test_failed_run_keeps_params_and_reason(
    tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    spec = tracking_spec(seed=7, row=3)
    result = RunResult(spec, spec.spec_hash(), "failed", reason="ValueError: plugin raised")
    experiment_id, parent = sweep(tracker, table)
    run_id = tracker.record(experiment_id, parent, result)
    tracker.flush()
    run = tracker.client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["runner.reason"] == "ValueError: plugin raised"
    assert run.data.params == run_record.flat_params(spec)
    assert tracker.client.list_artifacts(run.info.run_id) == []


def test_long_histories_are_logged_in_batches_within_limits(
    tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    n = 2500
    steps = np.arange(1, n + 1)
    history = {name: (steps, np.linspace(1.0, 0.0, n)) for name in ("loss", "accuracy")}
    metrics = {**xor_results[0].metrics, "epochs": n + 1}
    result = dataclasses.replace(xor_results[0], history=history, metrics=metrics)
    experiment_id, parent = sweep(tracker, table)
    run_id = tracker.record(experiment_id, parent, result)
    tracker.flush()  # the bulk recorder writes what it holds
    for name in ("train_loss", "train_accuracy"):  # and the final value
        assert len(tracker.client.get_metric_history(run_id, name)) == n + 1

    batches = list(run_record.batches(list(range(2500)), list(range(250)), list(range(30))))
    for metrics, params, tags in batches:
        assert len(metrics) <= 1000 and len(params) <= 100 and len(tags) <= 100
        assert len(metrics) + len(params) + len(tags) <= 1000
    assert sum(len(b[0]) for b in batches) == 2500 and sum(len(b[1]) for b in batches) == 250


# -- a sweep ---------------------------------------------------------------------------------


def test_finished_hashes_killed_runs_and_end_of_sweep(
    tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    experiment_id, parent = sweep(tracker, table)
    finished = xor_results[0]
    diverged = dataclasses.replace(xor_results[1], status="diverged", reason="loss became NaN")
    failed_spec = tracking_spec(seed=2, row=3)
    killed_spec = tracking_spec(seed=3, row=4)
    best = tracker.record(experiment_id, parent, finished)
    tracker.record(experiment_id, parent, diverged)
    tracker.record(
        experiment_id, parent, RunResult(failed_spec, failed_spec.spec_hash(), "failed", "boom")
    )
    tracker.flush()  # the bulk recorder writes what it holds
    assert tracker.claim(experiment_id, parent, [killed_spec]) == [killed_spec]
    tracker.mark_killed(experiment_id, parent, [finished.spec, killed_spec], "interrupted")

    assert tracker.finished_hashes(experiment_id) == {finished.spec_hash, diverged.spec_hash}
    public = tracking.Tracker(tracker.uri, bulk=False)  # search_runs, page by page
    public.page_size = 1  # every run on a page of its own: the listing must follow page tokens
    assert public.finished_hashes(experiment_id) == tracker.finished_hashes(experiment_id)
    runs = children(tracker, experiment_id, parent)
    assert len(runs) == 4  # the recorded spec was not marked KILLED
    (killed,) = [r for r in runs if r.data.tags["runner.spec_hash"] == killed_spec.spec_hash()]
    assert killed.info.status == "KILLED"
    assert killed.info.run_name == killed_spec.run_name()
    assert killed.data.tags["runner.status"] == "killed"
    assert killed.data.tags["runner.reason"] == "interrupted"
    assert killed.data.params == run_record.flat_params(killed_spec)

    counts = {"planned": 4, "skipped": 0, "finished": 1, "diverged": 1, "failed": 1, "killed": 1}
    tracker.end_sweep(parent, counts, best, "KILLED")
    run = tracker.client.get_run(parent)
    assert run.info.status == "KILLED"
    assert re.fullmatch(r"sweep xor \d{4}-\d\d-\d\d \d\d:\d\d", run.info.run_name)
    assert run.data.metrics == {}  # the summary is tags: the chart view shows the runs' curves
    assert {k: int(run.data.tags[f"runner.count.{k}"]) for k in counts} == counts
    assert run.data.tags["runner.best_run_id"] == best
    best_loss = float(run.data.tags["runner.best.train_loss"])
    assert best_loss == pytest.approx(finished.metrics["train_loss"], rel=1e-5)
    # its description links the best run, in the UI's own address form
    link = f"](#/experiments/{experiment_id}/runs/{best})"
    assert link in run.data.tags["mlflow.note.content"]
    assert str(table) in run.data.tags["mlflow.note.content"]
    assert run.data.params == {
        "table": str(table),
        "jobs": "1",
        "scheduler": "",
        "log_every": "auto",
    }
    assert [a.path for a in tracker.client.list_artifacts(parent)] == ["xor.csv"]


def test_the_experiment_is_marked_model_training_and_says_which_table(
    tracker: tracking.Tracker, table: Path
) -> None:
    experiment_id, _ = sweep(tracker, table)
    tags = tracker.client.get_experiment(experiment_id).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"
    assert f"`{table}`" in tags["mlflow.note.content"]
    # a description a user wrote in the UI is left alone by the next sweep
    tracker.client.set_experiment_tag(experiment_id, "mlflow.note.content", "mine")
    sweep(tracker, table)
    assert tracker.client.get_experiment(experiment_id).tags["mlflow.note.content"] == "mine"


def test_a_claimed_spec_is_recorded_in_its_claim_and_taken_from_other_sweeps(
    tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    first, second = xor_results
    experiment_id, parent = sweep(tracker, table)
    assert tracker.claim(experiment_id, parent, [first.spec, second.spec]) == [
        first.spec,
        second.spec,
    ]
    claims = {r.data.tags["runner.spec_hash"]: r for r in children(tracker, experiment_id, parent)}
    assert {r.info.status for r in claims.values()} == {"RUNNING"}
    assert {r.data.tags["runner.status"] for r in claims.values()} == {"training"}

    other = tracking.Tracker(tracker.uri)  # another sweep, live: this very process drives it
    _, other_parent = sweep(other, table)
    assert other.claim(experiment_id, other_parent, [first.spec, second.spec]) == []
    run_id = tracker.record(experiment_id, parent, first)
    tracker.flush()  # the bulk recorder writes what it holds
    assert run_id == claims[first.spec_hash].info.run_id  # the claim became the run
    assert tracker.client.get_run(run_id).info.status == "FINISHED"
    assert tracker.client.get_run(run_id).data.tags["runner.status"] == "finished"
    tracker.release(parent, [second.spec])  # never started: no run left behind
    assert len(children(tracker, experiment_id, parent)) == 1
    third = tracking.Tracker(tracker.uri)  # a later sweep: what is FINISHED is not to do
    _, third_parent = sweep(third, table)
    todo = [
        s
        for s in (first.spec, second.spec)
        if s.spec_hash() not in third.finished_hashes(experiment_id)
    ]
    assert third.claim(experiment_id, third_parent, todo) == [second.spec]


def test_runs_left_running_by_a_dead_driver_are_killed_and_claimed_again(
    tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    from runner.tracking.drivers import this_driver

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True)  # fmt: skip
    ghost = json.loads(this_driver()) | {"pid": int(dead.stdout)}
    experiment_id, parent = sweep(tracker, table)
    spec = xor_results[0].spec
    tracker.claim(experiment_id, parent, [spec])
    for run in [tracker.client.get_run(parent), *children(tracker, experiment_id, parent)]:
        tracker.client.set_tag(run.info.run_id, "runner.driver", json.dumps(ghost))
    again = tracking.Tracker(tracker.uri)
    _, next_parent = sweep(again, table)
    assert again.reap_stale(experiment_id) == 2  # the dead sweep's run and its claim
    assert again.claim(experiment_id, next_parent, [spec]) == [spec]
    stale = tracker.client.get_run(parent)
    assert stale.info.status == "KILLED"
    assert "driver is gone" in stale.data.tags["runner.reason"]


def test_finished_hashes_readonly_creates_nothing(
    tmp_path: Path, tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    missing = tmp_path / "none" / "mlflow.db"
    assert tracking.finished_hashes_readonly(f"sqlite:///{missing}", "xor") == set()
    assert not missing.parent.exists()
    experiment_id, parent = sweep(tracker, table)
    tracker.record(experiment_id, parent, xor_results[0])
    tracker.flush()  # the bulk recorder writes what it holds
    assert tracking.finished_hashes_readonly(tracker.uri, "xor") == {xor_results[0].spec_hash}
    assert tracking.finished_hashes_readonly(tracker.uri, "other") == set()


def test_finished_hashes_at_rest_reads_a_store_with_nothing_running_and_no_spool(
    tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    experiment_id, parent = sweep(tracker, table)
    tracker.record(experiment_id, parent, xor_results[0])
    tracker.flush()
    spool = tracker.spool_root
    at_rest = tracking.finished_hashes_at_rest
    assert at_rest(tracker.uri, "xor", spool) is None  # the sweep's run is RUNNING: not at rest
    tracker.end_sweep(parent, {"finished": 1}, None, "FINISHED")
    assert at_rest(tracker.uri, "xor", spool) == tracking.finished_hashes_readonly(
        tracker.uri, "xor"
    ) == {xor_results[0].spec_hash}  # fmt: skip
    assert at_rest(tracker.uri, "other", spool) is None  # no such experiment: the tracker says
    tracker._spool_folder(experiment_id).mkdir(parents=True)  # a result waits to be replayed
    assert at_rest(tracker.uri, "xor", spool) is None


# -- prediction ------------------------------------------------------------------------------


def test_load_network_predicts_as_the_trained_network(
    tracker: tracking.Tracker, table: Path, moons_result: RunResult
) -> None:
    from runner.engine.data import labels, prepare
    from runner.engine.network import Network
    from runner.plugin.registry import get_registry

    experiment_id, parent = sweep(tracker, table)
    run_id = tracker.record(experiment_id, parent, moons_result)
    tracker.flush()  # the bulk recorder writes what it holds
    network = load_network(run_id, tracker.uri)

    spec, registry = moons_result.spec, get_registry()
    data = prepare(
        registry.get("dataset", "moons"),
        spec.params_of("dataset"),
        data_seed=spec.data_seed,
        test_size=spec.test_size,
        scaling=spec.scaling,
        one_hot=False,
    )
    scaling = data.scaling
    assert scaling.kind == "standard" and not np.allclose(scaling.spread, 1.0)
    trained = Network(
        sizes=(2, 5, 1),
        hidden_activation=registry.get("activation", "tanh"),
        output_activation=registry.get("activation", "sigmoid"),
        cost=registry.get("cost", "cross_entropy"),
    )
    W = [w[None] for w in moons_result.weights]
    b = [v[None] for v in moons_result.biases]
    for X, Y, accuracy in (
        (data.X, data.Y, "train_accuracy"),
        (data.X_test, data.Y_test, "test_accuracy"),
    ):
        raw_rows = (X * scaling.spread + scaling.shift).T  # the inputs as a user has them
        expected = trained.predict(W, b, X)[0].T
        np.testing.assert_allclose(network.predict(raw_rows), expected, rtol=1e-10, atol=1e-12)
        predicted = network.predict_labels(raw_rows)
        assert np.mean(predicted == labels(Y)) == pytest.approx(moons_result.metrics[accuracy])


def test_memory_bombs_are_refused_from_their_headers_before_anything_inflates(
    tracker: tracking.Tracker,
    table: Path,
    tmp_path: Path,
    moons_result: RunResult,
    objective_result: RunResult,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A few hundred KB that inflate to 128 MB: a run's weights.npz (load_network), a spooled
    result's npz (the replay) and an objective run's trajectory.npz (the report) are each
    refused with one line from the .npy headers inside the zip, nothing decompressed."""
    from conftest import npz_bomb

    from runner.engine.trained import load_weights
    from runner.tracking import reading
    from runner.tracking.store import local_folder

    experiment_id, parent = sweep(tracker, table)
    run_id = tracker.record(experiment_id, parent, moons_result)
    path_run = tracker.record(experiment_id, parent, objective_result)
    tracker.flush()
    artifacts = local_folder(tracker.client.get_run(run_id).info.artifact_uri)
    npz_bomb(artifacts / "weights.npz", {"W1": (4000, 4000), "b1": (5, 1)})
    assert (artifacts / "weights.npz").stat().st_size < 1_000_000
    with pytest.raises(ValueError, match=r"W1 declares shape \(4000, 4000\), not the \(5, 2\)"):
        load_network(run_id, tracker.uri)
    npz_bomb(tmp_path / "weights.npz", {"W1": (20000, 20000)}, fill=False)  # 3.2 GB declared
    with pytest.raises(ValueError, match=r"declare 3.0 GB \(W1: \(20000, 20000\) float64\)"):
        load_weights(tmp_path / "weights.npz")  # no architecture: the default bound

    folder = local_folder(tracker.client.get_run(path_run).info.artifact_uri)
    npz_bomb(folder / "trajectory.npz", {"steps": (10,), "points": (4_000_000, 4)})
    assert reading.trajectories([path_run], "trajectory.npz", tracker.uri) == {}
    assert f"run {path_run}'s trajectory is not drawn" in caplog.text
    assert "more than the 64.0 MB a trajectory can take" in caplog.text

    item = tracker._spool_result(
        moons_result, run_record.RunRecord("bomb", experiment_id, parent, 1, 2)
    )
    npz_bomb(item.with_suffix(".npz"), {"W1": (4000, 4000)})
    assert tracker.replay_spool(experiment_id) == 0
    (rejected,) = (item.parent / "rejected").glob("*.npz")
    assert rejected.name == item.with_suffix(".npz").name
    assert "W1 declares shape (4000, 4000), not the (5, 2) its result has" in caplog.text


def test_trained_network_rejects_inputs_of_the_wrong_width(xor_results: list[RunResult]) -> None:
    result = xor_results[0]
    network = TrainedNetwork(result.architecture, result.weights, result.biases)
    with pytest.raises(ValueError, match=r"shape \(samples, 2\)"):
        network.predict(np.zeros((4, 3)))
    assert network.predict_labels(XOR_INPUTS).tolist() == [0, 1, 1, 0]


def test_best_model_is_a_logged_model_of_its_run_and_loads_from_models_and_runs(
    tracker: tracking.Tracker,
    table: Path,
    xor_results: list[RunResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mlflow.pyfunc
    import pandas as pd

    result = xor_results[0]
    assert result.metrics["train_accuracy"] == 1.0
    experiment_id, parent = sweep(tracker, table)
    best = tracker.record(experiment_id, parent, result)
    tracker.flush()  # the bulk recorder writes what it holds
    tracker.end_sweep(parent, {"finished": 1}, best, "FINISHED")
    model_id = tracker.log_best_model(parent, best, result.dataset["example"])
    assert tracker.client.get_run(parent).data.tags["runner.best_model"] == f"models:/{model_id}"
    assert tracker.log_best_model(parent, best) == model_id  # logged once

    [logged] = tracker.client.search_logged_models([experiment_id])  # the Models tab's list
    assert (logged.model_id, logged.name, logged.source_run_id) == (model_id, "best_model", best)
    assert {m.key: m.value for m in logged.metrics}["train_accuracy"] == 1.0
    assert logged.params["learning_rate" if "learning_rate" in logged.params else
                         "optimizer.learning_rate"] == "2.0"  # fmt: skip
    assert model_id in {o.model_id for o in tracker.client.get_run(parent).outputs.model_outputs}
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracker.uri)
    info = mlflow.models.get_model_info(f"models:/{model_id}")
    assert info.signature.inputs.input_names() == ["x1", "x2"]
    assert info.saved_input_example_info is not None
    requirements = Path(mlflow.pyfunc.get_model_dependencies(f"models:/{model_id}")).read_text()
    assert "runner-mlp==" in requirements and "runner==" not in requirements

    expected = load_network(best, tracker.uri).predict(XOR_INPUTS)
    frame = pd.DataFrame(XOR_INPUTS[:, ::-1], columns=["x2", "x1"])  # matched by feature name
    for uri in (f"models:/{model_id}", f"runs:/{best}/best_model"):
        predicted = mlflow.pyfunc.load_model(uri).predict(frame)
        np.testing.assert_allclose(predicted, expected)
    assert (np.asarray(predicted).ravel() > 0.5).tolist() == [0, 1, 1, 0]


# -- the spool -------------------------------------------------------------------------------


def test_spool_round_trip_keeps_everything(tmp_path: Path, xor_results: list[RunResult]) -> None:
    base = xor_results[0]
    result = dataclasses.replace(
        base,
        metrics={**base.metrics, "test_loss": math.nan, "bound": -math.inf},
        restart_losses=[math.nan, math.inf, 0.25],
        reason="note",
    )
    path = tracking.result_to_spool(result, tmp_path / "item", {"parent_id": "abc"})
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    back, extra = tracking.result_from_spool(path)
    assert extra == {"parent_id": "abc"}
    assert back.spec == result.spec and back.spec.spec_hash() == result.spec.spec_hash()
    assert (back.spec.row, back.spec.source, back.spec.versions) == (
        result.spec.row,
        result.spec.source,
        result.spec.versions,
    )
    for field in ("spec_hash", "status", "reason", "architecture", "wall_time"):
        assert getattr(back, field) == getattr(result, field), field
    np.testing.assert_equal(back.metrics, result.metrics)  # NaN equals NaN here
    np.testing.assert_equal(back.restart_losses, result.restart_losses)
    assert list(back.history) == list(result.history)
    for name, (steps, values) in result.history.items():
        np.testing.assert_array_equal(back.history[name][0], steps)
        np.testing.assert_array_equal(back.history[name][1], values)
        assert back.history[name][1].dtype == np.asarray(values).dtype
    for got, want in zip(back.weights + back.biases, result.weights + result.biases, strict=True):
        np.testing.assert_array_equal(got, want)


def test_spool_round_trip_keeps_an_objective_runs_trajectory(
    tmp_path: Path, objective_result: RunResult
) -> None:
    path = tracking.result_to_spool(objective_result, tmp_path / "item")
    back, _ = tracking.result_from_spool(path)
    assert back.spec == objective_result.spec and back.tags == objective_result.tags
    assert sorted(back.trajectory) == ["points", "steps"]
    for name, array in objective_result.trajectory.items():
        np.testing.assert_array_equal(back.trajectory[name], array)
        assert back.trajectory[name].dtype == array.dtype


def test_every_real_result_passes_the_spools_check(
    tmp_path: Path,
    xor_results: list[RunResult],
    moons_result: RunResult,
    objective_result: RunResult,
) -> None:
    """What a worker returns, networks and an objective's descent alike, is what a result can
    be: the check set-asides forged items by, never honest ones."""
    from runner.tracking.spool import result_problem
    from runner.tracking.tracker import RESERVED, _loss_floor

    for i, result in enumerate([*xor_results, moons_result, objective_result]):
        back, _ = tracking.result_from_spool(tracking.result_to_spool(result, tmp_path / str(i)))
        assert result_problem(back, _loss_floor(back.spec), RESERVED) == "", result.spec
    assert _loss_floor(moons_result.spec) == 0.0  # squared error's least value


def test_replay_completes_a_run_created_before_the_store_went_away(
    tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    result = xor_results[0]
    experiment_id, parent = sweep(tracker, table)
    # the state a record leaves when the store vanishes right after create_run
    tags = run_record.run_tags(result.spec, result.spec_hash, parent, "r1")
    partial = tracker.client.create_run(experiment_id, tags=tags, run_name="partial")
    record = run_record.RunRecord(
        "r1", experiment_id, parent, 1_000_000, 1_060_000, run_id=partial.info.run_id
    )
    tracker._spool_result(result, record)
    assert tracker.spooled_count(experiment_id) == 1
    assert tracker.finished_hashes(experiment_id) == set()  # spooled is not yet done

    assert tracker.replay_spool(experiment_id) == 1
    assert tracker.spooled_count(experiment_id) == 0
    (run,) = children(tracker, experiment_id, parent)
    assert run.info.run_id == partial.info.run_id and run.info.status == "FINISHED"
    assert tracker.finished_hashes(experiment_id) == {result.spec_hash}


def _forge(kind: str, tracker: tracking.Tracker, experiment_id: str, parent: str, good: RunResult):
    """A spooled item an adversary (or a broken disk) could leave: ``kind`` says how it lies."""
    other = tracker.client.create_run(experiment_id, tags={"runner.kind": "run"})
    record = run_record.RunRecord("forged", experiment_id, parent, 1_000_000, 1_060_000)
    result = dataclasses.replace(good)
    if kind == "fake hash":  # a configuration never trained, claimed done
        result = dataclasses.replace(good, spec_hash="0123456789abcdef")
    elif kind == "foreign run":  # would complete (and flip) another run
        record.run_id = other.info.run_id
    elif kind == "outside artifacts":  # its own run, but files to be written elsewhere
        tags = run_record.run_tags(good.spec, good.spec_hash, parent, "forged")
        run = tracker.client.create_run(experiment_id, tags=tags)
        record.run_id, record.artifact_uri = run.info.run_id, Path("/tmp/elsewhere").as_uri()
        return result, record, run.info.run_id
    elif kind == "foreign sweep":
        record.parent_id = other.info.run_id
    elif kind == "crafted tag key":  # once made every later sweep exit 2, a run left RUNNING
        result = dataclasses.replace(good, tags={"../../x": "1"})
    elif kind == "status tag":  # would relabel the run
        result = dataclasses.replace(good, tags={"runner.spec_hash": "0123456789abcdef"})
    elif kind == "negative loss":  # squared error is never below 0
        result = dataclasses.replace(good, metrics={**good.metrics, "train_loss": -123.0})
    elif kind == "negative restart loss":
        result = dataclasses.replace(good, restart_losses=[0.1, -5.0])
    elif kind == "accuracy above 1":
        result = dataclasses.replace(good, metrics={**good.metrics, "train_accuracy": 7.0})
    elif kind == "wrong shape":  # weights of another network
        result = dataclasses.replace(good, weights=[np.zeros((5, 2)), *good.weights[1:]])
    elif kind == "short history":
        steps, values = good.history["loss"]
        result = dataclasses.replace(good, history={**good.history, "loss": (steps, values[:3])})
    path = tracker._spool_result(result, record)
    if kind == "object array":
        with open(path.with_suffix(".npz"), "wb") as fh:
            np.savez(fh, W1=np.array([{"x": 1}], dtype=object), b1=np.zeros((2, 1)))
    return result, record, None


@pytest.mark.parametrize(
    "kind",
    [
        "fake hash", "foreign run", "foreign sweep", "object array", "outside artifacts",
        "crafted tag key", "status tag", "negative loss", "negative restart loss",
        "accuracy above 1", "wrong shape",
        "short history",
    ],
)  # fmt: skip
def test_a_spool_item_that_does_not_prove_itself_is_set_aside(
    kind: str, tracker: tracking.Tracker, table: Path, xor_results: list[RunResult]
) -> None:
    good, honest = xor_results
    experiment_id, parent = sweep(tracker, table)
    result, record, run_id = _forge(kind, tracker, experiment_id, parent, good)
    if kind == "outside artifacts":
        tracker._spool_result(result, record)
    tracker._spool_result(honest, run_record.RunRecord("honest", experiment_id, parent, 1, 2))
    before = {r.info.run_id: r.info.status for r in children(tracker, experiment_id, parent)}

    replayed = tracker.replay_spool(experiment_id)
    folder = tracker._spool_folder(experiment_id)
    after = {r.info.run_id: r for r in children(tracker, experiment_id, parent)}
    if kind == "outside artifacts":  # recorded, but where the store keeps the run's files
        assert replayed == 2 and after[run_id].info.status == "FINISHED"
        assert after[run_id].info.artifact_uri.startswith(tracker.artifact_location("xor") or "")
        assert not Path("/tmp/elsewhere").exists()
        return
    assert replayed == 1  # the honest item; the forged one is set aside, the replay goes on
    assert [p.name.split("-")[-1] for p in (folder / "rejected").glob("*.json")] == ["forged.json"]
    assert tracker.finished_hashes(experiment_id) == {honest.spec_hash}
    for rid, status in before.items():  # no run of the store was touched
        assert after[rid].info.status == status
    (new,) = [after[rid] for rid in after.keys() - before.keys()]  # nothing else, none RUNNING
    assert new.info.status == "FINISHED" and new.data.tags["runner.spec_hash"] == honest.spec_hash
    assert new.data.tags["runner.replayed_from_spool"].startswith(f"run-{honest.spec_hash}-")
    assert tracker.replay_spool(experiment_id) == 0  # set aside for good: not tried again


def test_a_spooled_result_already_finished_elsewhere_is_not_recorded_again(
    tracker: tracking.Tracker,
    table: Path,
    tmp_path: Path,
    xor_results: list[RunResult],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two folders sharing one store both kept a result while it was away: the first replay
    records it, the second finds it FINISHED and drops its copy (exactly once per spec hash);
    a copy whose sweep had claimed a run ends that claim KILLED, saying why."""
    first, second = xor_results
    experiment_id, parent = sweep(tracker, table)
    other = tracking.Tracker(tracker.uri, retry_seconds=2.0, spool_dir=tmp_path / "other")
    other_parent = other.start_sweep(experiment_id, table, {"planned": 2}, {})
    claim = other.claim(experiment_id, other_parent, [second.spec])
    assert claim == [second.spec]
    claimed = other._claims[(other_parent, second.spec_hash)]
    for result in (first, second):  # both folders kept both results
        tracker._spool_result(result, run_record.RunRecord(f"a{result.spec.seed}", experiment_id,
                                                           parent, 1, 2))  # fmt: skip
    other._spool_result(first, run_record.RunRecord("b0", experiment_id, other_parent, 1, 2))
    other._spool_result(second, claimed)

    assert tracker.replay_spool(experiment_id) == 1  # second: the other sweep's live claim
    assert tracker.spooled_count(experiment_id) == 1  # ... so it waits, kept
    assert other.replay_spool(experiment_id) == 1  # its claim of second: recorded
    assert "1 spooled result not replayed" in caplog.text  # first: FINISHED already
    assert tracker.replay_spool(experiment_id) == 0  # second: FINISHED now, dropped
    assert tracker.spooled_count(experiment_id) == other.spooled_count(experiment_id) == 0
    query = "attributes.status = 'FINISHED' and tags.`runner.kind` = 'run'"
    done = [r.data.tags["runner.spec_hash"] for r in tracker.client.search_runs(
        [experiment_id], filter_string=query)]  # fmt: skip
    assert sorted(done) == sorted([first.spec_hash, second.spec_hash])
    running = tracker.client.search_runs([experiment_id], "attributes.status = 'RUNNING'")
    assert {r.data.tags.get("runner.kind") for r in running} <= {"sweep"}


@pytest.mark.slow
def test_server_away_spools_and_next_sweep_replays(
    mlflow_server, tmp_path: Path, table: Path, xor_results: list[RunResult]
) -> None:
    first, second = xor_results
    spool = tmp_path / "spool"
    tracker = tracking.Tracker(mlflow_server.uri, retry_seconds=1.0, spool_dir=spool)
    tracker.check()
    experiment_id, parent = sweep(tracker, table)
    best = tracker.record(experiment_id, parent, first)
    assert best is not None
    np.testing.assert_allclose(  # artifacts went through the server's artifact proxy
        load_network(best, mlflow_server.uri).predict(XOR_INPUTS),
        TrainedNetwork(first.architecture, first.weights, first.biases).predict(XOR_INPUTS),
    )

    mlflow_server.stop()
    assert tracker.record(experiment_id, parent, second) is None
    (spooled,) = spool.rglob("run-*.json")
    assert spooled.exists() and spooled.with_suffix(".npz").exists()
    tracker.end_sweep(parent, {"planned": 2, "finished": 2}, best, "FINISHED")  # spooled too
    with pytest.raises(TrackingError, match="Connection refused") as info:
        tracking.Tracker(mlflow_server.uri).check()
    assert "\n" not in str(info.value)

    mlflow_server.start()  # same port, same database
    again = tracking.Tracker(mlflow_server.uri, spool_dir=spool)
    again.check()
    assert again.experiment("xor") == experiment_id
    assert again.finished_hashes(experiment_id) == {first.spec_hash}
    assert again.replay_spool(experiment_id) == 1
    assert again.finished_hashes(experiment_id) == {first.spec_hash, second.spec_hash}
    assert not any(p.is_file() for p in spool.rglob("*.json"))
    replayed = [r for r in children(again, experiment_id, parent) if r.info.run_id != best]
    assert [r.data.tags["runner.spec_hash"] for r in replayed] == [second.spec_hash]
    closed = again.client.get_run(parent)
    assert closed.info.status == "FINISHED"
    assert closed.data.tags["runner.best_run_id"] == best
    assert closed.data.tags["runner.count.finished"] == "2"


def test_a_value_longer_than_mlflow_keeps_says_it_was_cut() -> None:
    spec = dataclasses.replace(tracking_spec(), hidden=(1,) * 3500)  # "1-1-...-1": 6999 chars
    params = dict(run_record.run_params(spec))
    assert len(params["hidden"]) == run_record.MAX_PARAM_LENGTH
    assert params["hidden"].endswith("… (cut: 6999 characters in all)")
    assert params["hidden"].startswith("1-1-1")


def test_a_sqlite_store_is_read_straight_from_its_tables_as_mlflow_reads_it(study_store) -> None:
    """The study's direct read of a SQLite store (no mlflow, no ORM) gives what MLflow's
    search gives: the same runs with the same info, tags, params, latest metrics, and the same
    metric histories."""
    from mlflow import MlflowClient

    from runner.tracking import reading

    uri, table, _ = study_store
    direct, names = reading._sqlite_child_runs(Path(uri.removeprefix("sqlite:///")), table.stem)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(table.stem)
    through_mlflow = reading._child_runs(client, experiment.experiment_id)
    assert names is None and len(direct) == len(through_mlflow) == 12

    def by_id(runs: list) -> dict:
        return {r.info.run_id: r for r in runs}

    mine, theirs = by_id(direct), by_id(through_mlflow)
    assert mine.keys() == theirs.keys()
    for run_id, run in theirs.items():
        got = mine[run_id]
        assert (got.info.run_name, got.info.start_time, got.info.status) == (
            run.info.run_name, run.info.start_time, run.info.status
        )  # fmt: skip
        assert got.data.tags == run.data.tags and got.data.params == run.data.params
        assert got.data.metrics == pytest.approx(run.data.metrics, nan_ok=True)
    ids = sorted(mine)[:3]
    histories = reading.metric_histories(ids, "train_loss", uri)
    for run_id in ids:
        points = sorted(client.get_metric_history(run_id, "train_loss"), key=lambda m: m.step)
        assert histories[run_id] == ([p.step for p in points], [p.value for p in points])
    _, missing = reading._sqlite_child_runs(Path(uri.removeprefix("sqlite:///")), "nope")
    assert missing == [e.name for e in client.search_experiments(order_by=["experiment_id"])]


def test_runner_report_on_a_sqlite_store_never_imports_mlflow(study_store) -> None:
    uri, table, _ = study_store
    code = (
        "import sys\nfrom runner.cli import cli\n"
        f"cli(['report', {str(table)!r}, '--tracking-uri', {uri!r}], standalone_mode=False)\n"
        "print('MLFLOW', 'mlflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "per configuration" in done.stdout and "MLFLOW False" in done.stdout
