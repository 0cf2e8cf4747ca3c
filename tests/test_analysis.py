"""The study of a sweep: the critical-point test, per-configuration statistics, `runner report`'s
figures and tables (runner.engine.curvature, runner.analysis).

The critical-point test is checked against the notes' two-variable test ``rt - s^2`` on
functions whose answers are known, its Hessian against second differences of the cost itself,
and on XOR 2-2-1 against a Hessian computed by an independent, plain numpy network.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import math
import pathlib

import numpy as np
import pytest
from _specs import row_of, spec_of

from runner.analysis import summarize, wilson
from runner.engine import curvature
from runner.engine.curvature import classify
from runner.engine.population import PopulationTask, run_population
from runner.engine.trained import TrainedNetwork
from runner.errors import RunnerError
from runner.sweep import study

# --- the critical-point test ---------------------------------------------------------------------


def notes_test(r: float, s: float, t: float) -> str:
    """The notes' test on f(x, y) at a critical point: r = f_xx, s = f_xy, t = f_yy."""
    det = r * t - s * s
    if det > 0:
        return "minimum" if r > 0 else "maximum"
    return "saddle" if det < 0 else "degenerate"


def hessian_2d(f, x: float, y: float, h: float = 1e-4) -> tuple[float, float, float]:
    """r, s, t of f at (x, y), by central second differences of f itself."""
    r = (f(x + h, y) - 2 * f(x, y) + f(x - h, y)) / h**2
    t = (f(x, y + h) - 2 * f(x, y) + f(x, y - h)) / h**2
    s = (f(x + h, y + h) - f(x + h, y - h) - f(x - h, y + h) + f(x - h, y - h)) / (4 * h * h)
    return r, s, t


# f, a critical point, the known answer
KNOWN = [
    (lambda x, y: x * x + y * y, (0.0, 0.0), "minimum"),
    (lambda x, y: -(x * x) - 3 * y * y + x * y, (0.0, 0.0), "maximum"),
    (lambda x, y: x * x - y * y, (0.0, 0.0), "saddle"),
    (lambda x, y: x * y, (0.0, 0.0), "saddle"),
    (lambda x, y: x**3 - 3 * x + y * y, (1.0, 0.0), "minimum"),  # f_x = 3x^2 - 3
    (lambda x, y: x**3 - 3 * x + y * y, (-1.0, 0.0), "saddle"),
    (lambda x, y: x**4 + y * y, (0.0, 0.0), "degenerate"),  # r = 0: the test fails
]


@pytest.mark.parametrize(("f", "point", "answer"), KNOWN)
def test_the_classes_are_the_notes_two_variable_test(f, point, answer) -> None:
    r, s, t = hessian_2d(f, *point)
    assert notes_test(*(round(v, 6) for v in (r, s, t))) == answer
    point_class = classify(np.linalg.eigvalsh(np.array([[r, s], [s, t]])), 0.0)
    assert (point_class.kind, point_class.stationary) == (answer, True)


def test_a_point_with_a_gradient_is_not_stationary_whatever_its_curvature() -> None:
    point = classify(np.array([1.0, 2.0]), gradient_norm=0.1)
    assert point.label == "minimum not stationary"
    assert classify(np.array([1.0, 2.0]), gradient_norm=1e-9).label == "minimum stationary"


def test_both_signs_are_a_saddle_even_beside_a_zero_eigenvalue() -> None:
    assert classify(np.array([-1.0, 0.0, 1.0]), 0.0).kind == "saddle"
    assert classify(np.array([0.0, 1.0, 2.0]), 0.0).kind == "degenerate"
    assert classify(np.array([-2.0, -1.0, 1e-9]), 0.0).kind == "degenerate"


def xor_net(seed: int, epochs: int = 5000) -> TrainedNetwork:
    (result,) = run_population(PopulationTask((xor_spec(seed, epochs),)))
    return TrainedNetwork(result.architecture, result.weights, result.biases)


def xor_spec(seed: int, epochs: int = 5000, **cells):
    cells = {"critical_points": "true", **cells}
    return spec_of(dataset="xor", hidden="2", learning_rate=1.0, epochs=epochs, seed=seed, **cells)


XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def plain_cost(theta: np.ndarray) -> float:
    """XOR's cross-entropy of a 2-2-1 sigmoid network, written out from scratch: theta is
    [W1 | b1] (2x3) then [W2 | b2] (1x3), row-major, the order of runner.engine.curvature."""
    W1, b1 = theta[:6].reshape(2, 3)[:, :2], theta[:6].reshape(2, 3)[:, 2:]
    W2, b2 = theta[6:].reshape(1, 3)[:, :2], theta[6:].reshape(1, 3)[:, 2:]
    a1 = 1 / (1 + np.exp(-(W1 @ XOR_X.T + b1)))
    a2 = 1 / (1 + np.exp(-(W2 @ a1 + b2)))[0]
    return float(np.mean(-XOR_Y * np.log(a2) - (1 - XOR_Y) * np.log(1 - a2)))


def second_differences(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """The Hessian of f at x by central second differences of f itself (no gradient)."""
    n = len(x)
    H = np.empty((n, n))
    E = np.eye(n) * h
    for i in range(n):
        for j in range(n):
            H[i, j] = (
                f(x + E[i] + E[j]) - f(x + E[i] - E[j]) - f(x - E[i] + E[j]) + f(x - E[i] - E[j])
            ) / (4 * h * h)
    return H


@pytest.mark.parametrize("seed", [0, 1])
def test_the_hessian_is_the_cost_s_own_second_differences(seed: int) -> None:
    net = xor_net(seed, epochs=300)
    flat = curvature.flatten(net._W, net._b)
    X, Y = net.transform(XOR_X), XOR_Y[None, :].astype(float)
    _, H = curvature.hessians(net.network, flat, X, Y)
    independent = second_differences(plain_cost, flat[0])
    assert np.abs(H[0] - independent).max() < 1e-6 * max(1.0, np.abs(independent).max())


def test_the_test_s_memory_is_bounded_and_its_passes_change_no_hessian(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backprop pass of the test holds at most MAX_ENTRIES entries (rows of shifted
    parameters, gradients and every layer's z, a, delta at every sample), however large the
    network or the data set; taken two rows at a time, the Hessians are the same numbers."""
    assert curvature.rows_per_pass(4810, 74, 1437) * (2 * 4810 + 3 * 74 * 1437) <= (
        curvature.MAX_ENTRIES
    )
    assert curvature.rows_per_pass(10**6, 10**4, 10**6) == 2
    nets = [xor_net(seed, epochs=50) for seed in (0, 1, 2)]
    W = [np.concatenate([n._W[m] for n in nets]) for m in range(2)]
    b = [np.concatenate([n._b[m] for n in nets]) for m in range(2)]
    flat = curvature.flatten(W, b)
    X, Y = nets[0].transform(XOR_X), XOR_Y[None, :].astype(float)
    _, whole = curvature.hessians(nets[0].network, flat, X, Y)
    monkeypatch.setattr(curvature, "MAX_ENTRIES", 1)
    _, in_passes = curvature.hessians(nets[0].network, flat, X, Y)
    np.testing.assert_array_equal(in_passes, whole)
    points = curvature.critical_points(nets[0].network, W, b, X, Y)
    assert [p.label for p in points] == [
        curvature.critical_point(n, XOR_X, XOR_Y).label for n in nets
    ]


@pytest.mark.parametrize("seed", [0, 1, 8, 11, 19])
def test_xor_classes_agree_with_an_independent_hessian(seed: int) -> None:
    """Seeds 0, 8, 11, 19 are stuck at loss ~0.35, seed 1 solves XOR (5000 epochs of gd)."""
    net = xor_net(seed)
    point = curvature.critical_point(net, XOR_X, XOR_Y)
    flat = curvature.flatten(net._W, net._b)[0]
    eig = np.linalg.eigvalsh(second_differences(plain_cost, flat, h=1e-3))
    h = 1e-6
    grad = np.array(
        [(plain_cost(flat + e) - plain_cost(flat - e)) / (2 * h) for e in np.eye(9) * h]
    )
    independent = classify(eig, float(np.linalg.norm(grad)))
    assert point.label == independent.label
    np.testing.assert_allclose(point.eigenvalues, eig, atol=1e-6)
    assert point.gradient_norm == pytest.approx(np.linalg.norm(grad), rel=1e-4)


def test_a_sweep_worker_logs_the_test_of_the_kept_network() -> None:
    specs = (xor_spec(0, 2000), xor_spec(1, 2000), xor_spec(2, 2000, critical_points="false"))
    first, second, off = run_population(PopulationTask(specs))
    for result in (first, second):
        net = TrainedNetwork(result.architecture, result.weights, result.biases)
        alone = curvature.critical_point(net, XOR_X, XOR_Y)
        assert result.tags["runner.critical_point"] == alone.label
        assert result.metrics["hessian_min_eigenvalue"] == pytest.approx(alone.eigenvalues[0])
        assert result.metrics["hessian_negative"] == alone.n_negative
    assert "runner.critical_point" not in off.tags and "hessian_min_eigenvalue" not in off.metrics


def test_auto_tests_small_networks_only() -> None:
    assert curvature.wanted("auto", (2, 2, 1)) and curvature.wanted(None, (64, 4, 1))
    assert not curvature.wanted("auto", (64, 64, 10)) and curvature.wanted("true", (64, 64, 10))
    assert not curvature.wanted("false", (2, 2, 1))


def test_the_column_does_not_change_a_spec_s_hash() -> None:
    spec = xor_spec(3)
    assert dataclasses.replace(spec, critical_points="false").spec_hash() == spec.spec_hash()


# --- per-configuration statistics from the store -----------------------------------------------


def test_the_wilson_interval_is_the_textbook_one() -> None:
    low, high = wilson(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    assert all(math.isnan(x) for x in wilson(0, 0))


def client_of(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(uri)


def recorded_runs(uri: str, experiment: str) -> list:
    client = client_of(uri)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], "tags.`runner.kind` = 'run'")


def test_a_configuration_s_statistics_are_its_seeds_as_the_store_holds_them(study_store) -> None:
    uri, table, _ = study_store
    made = study(table.stem, tracking_uri=uri)
    assert [g.runs for g in made.groups] == [6, 6]
    runs = recorded_runs(uri, table.stem)
    for group in made.groups:
        mine = [r for r in runs if r.data.tags["runner.configuration"] == group.key[0]]
        assert sorted(int(r.data.tags["runner.seed"]) for r in mine) == list(range(6))
        solved = sum(r.data.metrics["train_accuracy"] == 1.0 for r in mine)
        k, n, rate, low, high = group.success
        assert (k, n) == (solved, 6) and low <= rate <= high
        losses = [r.data.metrics["train_loss"] for r in mine]
        assert group.spread("train_loss").median == pytest.approx(np.median(losses))
        assert group.spread("train_loss").q3 == pytest.approx(np.percentile(losses, 75))
        classes = collections.Counter(r.data.tags["runner.critical_point"] for r in mine)
        assert group.critical_points == dict(classes)


def test_the_restarts_own_success_counts_every_member_tried(study_store) -> None:
    uri, table, _ = study_store
    plain, restarts = study(table.stem, tracking_uri=uri).groups
    assert plain.members is None  # one member per run: nothing more to say
    k, n, *_ = restarts.members
    assert n == 18 and 0 <= k <= 18
    # a restart's first member is the plain row's run of the same seed (member_rng(seed, 0))
    first_solved = sum(r.finals["train_accuracy"] == 1.0 for r in plain.rows)
    assert k >= first_solved


def test_grouping_by_a_column_pools_configurations(study_store) -> None:
    uri, table, _ = study_store
    (group,) = study(table.stem, tracking_uri=uri, by=("learning_rate",)).groups
    assert group.label == "learning_rate=1.0" and group.runs == 12
    by_restarts = study(table.stem, tracking_uri=uri, by=("restarts",)).groups
    assert [g.label for g in by_restarts] == ["restarts=1", "restarts=3"]


def test_grouping_by_a_column_no_run_has_is_one_clear_error(study_store) -> None:
    uri, table, _ = study_store
    with pytest.raises(RunnerError, match=r"--by learning_rat: .*did you mean 'learning_rate'"):
        study(table.stem, tracking_uri=uri, by=("learning_rat",))


def test_a_sweep_logs_its_study_to_its_parent_run(study_store) -> None:
    uri, table, parent = study_store
    client = client_of(uri)
    names = {a.path for a in client.list_artifacts(parent, "report")}
    expected = {"summary.json", "summary.csv", "learning_curves.png", "final_loss.png"}
    expected |= {
        "critical_points.png",
        "decision_boundaries.png",
        "success_vs_restarts.png",  # the table column restarts
    }
    assert {f"report/{n}" for n in expected} <= names
    path = client.download_artifacts(parent, "report/summary.csv")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    groups = study(table.stem, tracking_uri=uri).groups
    assert [int(r["runs"]) for r in rows] == [6, 6]
    assert [r["successes"] for r in rows] == [str(g.success[0]) for g in groups]


def test_figures_are_png_images(study_store, tmp_path) -> None:
    uri, table, _ = study_store
    made = study(table.stem, tracking_uri=uri, out=tmp_path)
    pngs = [p for p in made.files if p.suffix == ".png"]
    assert len(pngs) == 6 and tmp_path / "paired.png" in pngs
    for path in pngs:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_killed_sweep_s_report_is_its_finished_half(sqlite_uri, tmp_path) -> None:
    """The store as a sweep killed halfway leaves it: half the runs recorded, the rest KILLED."""
    from runner.tracking import Tracker

    specs = [xor_spec(seed, 800, critical_points="false") for seed in range(6)]
    specs = [dataclasses.replace(s, source="halfway.csv") for s in specs]
    tracker = Tracker(sqlite_uri)
    experiment_id = tracker.experiment("halfway")
    parent = tracker.start_sweep(experiment_id, tmp_path / "halfway.csv", {"planned": 6}, {})
    tracker.claim(experiment_id, parent, specs)
    done = run_population(PopulationTask(tuple(specs[:3])))
    for result in done:
        tracker.record(experiment_id, parent, result)
    tracker.mark_killed(experiment_id, parent, specs[3:], "interrupted (SIGTERM)")
    tracker.end_sweep(parent, {"finished": 3, "killed": 3}, None, "KILLED")
    (group,) = study("halfway", tracking_uri=sqlite_uri).groups
    assert group.counts == {"finished": 3, "diverged": 0, "failed": 0, "killed": 3}
    solved = sum(r.metrics["train_accuracy"] == 1.0 for r in done)
    assert group.success[:2] == (solved, 3)
    assert group.spread("train_loss").n == 3
    assert group.spread("train_loss").median == pytest.approx(
        np.median([r.metrics["train_loss"] for r in done])
    )


def test_target_loss_decides_success_and_converged_runs_give_epochs() -> None:
    rows = [row_of(0), row_of(1), row_of(2, finals={"train_loss": 0.5}, converged=False)]
    rows.append(row_of(3, status="diverged", finals={}))
    rows.append(row_of(4, status="failed", finals={}))  # an error, not an outcome
    (group,) = summarize(rows)
    assert group.success[:2] == (2, 4)
    assert group.epochs_to_converge.median == 100.5 and group.epochs_to_converge.n == 2
    assert group.counts == {"finished": 3, "diverged": 1, "failed": 1, "killed": 0}


def classified(seed: int, dataset: str, train: float, test: float | None, **params: str):
    """A finished classification run on ``dataset`` with these final accuracies."""
    finals = {"train_loss": 0.1, "train_accuracy": train}
    if test is not None:
        finals["test_accuracy"] = test
    return row_of(seed, params={"dataset": dataset, **params}, finals=finals)


def test_success_is_what_the_data_set_declares() -> None:
    moons = [classified(0, "moons", 0.97, 0.96), classified(1, "moons", 0.99, 0.85)]
    (group,) = summarize(moons)
    assert group.success[:2] == (1, 2)  # test accuracy >= 0.9, not every training sample
    assert group.success_means == "test accuracy >= 0.9, as moons declares"
    (digits,) = summarize([classified(0, "digits", 1.0, 0.94), classified(1, "digits", 1.0, 0.96)])
    assert digits.success[:2] == (1, 2)  # digits asks for 0.95
    # nothing held out: the training accuracy is judged
    (whole,) = summarize([classified(0, "moons", 0.95, None), classified(1, "moons", 0.8, None)])
    assert whole.success[:2] == (1, 2)


def test_xor_still_means_every_training_sample_right() -> None:
    (group,) = summarize([classified(0, "xor", 1.0, None), classified(1, "xor", 0.75, None)])
    assert group.success[:2] == (1, 2)
    assert group.success_means == "classified every training sample"


def test_a_table_s_success_column_overrides_the_data_set(sqlite_uri, tmp_path) -> None:
    from runner.sweep import run_sweep

    table = tmp_path / "strict.csv"
    table.write_text(
        "dataset,n_samples,test_size,hidden,activation,optimizer,learning_rate,epochs,seed,success\n"
        "moons,60,0.25,6,tanh,momentum,0.5,150,0..1,train_accuracy>=1\n"
        "moons,60,0.25,5,tanh,momentum,0.5,150,2,test_accuracy>=0\n"
    )
    summary = run_sweep(table, tracking_uri=sqlite_uri, jobs=1, report=False)
    assert summary.finished == 3
    strict, lax = study("strict", tracking_uri=sqlite_uri).groups
    assert strict.success_means == "train accuracy >= 1, as the table says"
    assert lax.success_means == "test accuracy >= 0, as the table says" and lax.success[:2] == (
        1,
        1,
    )
    assert strict.success[0] == sum(r.finals["train_accuracy"] == 1.0 for r in strict.rows)


def test_the_flat_table_names_the_cost_and_gives_the_accuracy() -> None:
    from runner.analysis import flat_rows

    rows = [classified(s, "moons", 0.97, 0.9 + 0.02 * s, cost=c)
            for s, c in enumerate(["cross_entropy", "cross_entropy", "squared_error"])]  # fmt: skip
    one, mixed = flat_rows(summarize(rows[:2]) + summarize(rows, by=("dataset",)))
    assert (one["cost"], one["test_accuracy_median"], one["train_loss_median"]) == (
        "cross_entropy",
        pytest.approx(0.91),
        0.1,
    )
    assert mixed["cost"] == "mixed" and mixed["train_loss_median"] is None  # no pooled loss


def test_a_row_s_target_loss_overrides_the_data_set() -> None:
    runs = [classified(0, "moons", 0.97, 0.96, target_loss="0.05")]
    (group,) = summarize(runs)
    assert group.success[:2] == (0, 1) and group.success_means == "reached target_loss"


def test_a_spooled_result_keeps_its_tags(tmp_path, xor_results) -> None:
    from runner.tracking import result_from_spool, result_to_spool

    result = dataclasses.replace(
        xor_results[0], tags={"runner.critical_point": "saddle stationary"}
    )
    back, _ = result_from_spool(result_to_spool(result, tmp_path / "item"))
    assert back.tags == {"runner.critical_point": "saddle stationary"}


# --- objective runs: the study of an analytic objective's runs -------------------------------
# objective_store (conftest.py): a real sweep of a small Himmelblau table.

PNG = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """The width and height a PNG file's header says."""
    data = path.read_bytes()
    assert data[:8] == PNG
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def objective_study(objective_store, out=None):
    uri, table, _ = objective_store
    return study(table.stem, tracking_uri=uri, out=out)


def test_an_objective_run_is_read_by_its_f_and_succeeds_at_a_global_minimum(objective_store):
    from runner.analysis import run_row, succeeded

    uri, table, _ = objective_store
    runs = recorded_runs(uri, table.stem)
    assert len(runs) == 22
    for run in runs:
        row, tags = run_row(run), run.data.tags
        assert row.objective == "himmelblau" and row.finals["f"] == run.data.metrics["f"]
        assert row.point == [float(tags["runner.x1"]), float(tags["runner.x2"])]
        expected = tags["runner.status"] == "finished" and tags["runner.reached_global"] == "true"
        assert succeeded(row) is expected
    statuses = collections.Counter(r.data.tags["runner.status"] for r in runs)
    assert statuses == {"finished": 20, "diverged": 2}  # both outcomes are read


def test_an_objective_study_counts_the_minima_its_runs_reached(objective_store):
    from runner.analysis import flat_rows

    uri, table, _ = objective_store
    runs = recorded_runs(uri, table.stem)
    groups = objective_study(objective_store).groups
    assert [g.runs for g in groups] == [6, 6, 6, 4]
    for group, flat in zip(groups, flat_rows(groups), strict=True):
        mine = [r for r in runs if r.data.tags["runner.configuration"] == group.key[0]]
        reached = collections.Counter(r.data.tags["runner.reached"] for r in mine)
        data = group.to_json()
        assert data["minima_reached"] == dict(reached)
        assert data["success_means"] == "reached the global minimum"
        assert flat["objective"] == "himmelblau"
        said = dict(part.rsplit(": ", 1) for part in flat["minima_reached"].split("; "))
        assert {k: int(n) for k, n in said.items()} == dict(reached)
        k = sum(r.data.tags["runner.reached_global"] == "true" for r in mine)
        assert data["success"]["k"] == flat["successes"] == k
    assert groups[3].minima_reached == {"none": 4}  # the step too long: diverged or bouncing


def test_an_objective_study_draws_its_three_figures_as_pngs(objective_store, tmp_path):
    made = objective_study(objective_store, out=tmp_path)
    names = sorted(p.name for p in made.files)
    assert names == [
        "himmelblau_basins.png",
        "himmelblau_contours.png",
        "himmelblau_restarts.png",
        "paired.csv",  # one start against four, on the same seeds
        "paired.png",
        "summary.csv",
    ]  # fmt: skip  (and no network figure: there is no network)
    drawn = [r for g in made.groups for r in g.rows if r.trajectory is not None]
    assert len(drawn) == 22  # every run's trajectory, within MAX_TRAJECTORIES per configuration
    for path in (p for p in made.files if p.name.startswith("himmelblau_")):
        width, height = png_size(path)
        assert 500 <= width <= 2000 and 400 <= height <= 2000, (path.name, width, height)
        assert path.stat().st_size > 20_000  # drawn, not an empty canvas


def test_a_run_s_trajectory_is_read_back_as_recorded(objective_store, tmp_path):
    from runner.analysis.runs import TRAJECTORY_FILE
    from runner.tracking import reading

    uri, table, _ = objective_store
    runs = recorded_runs(uri, table.stem)[:3]
    ids = [r.info.run_id for r in runs] + [runs[0].data.tags["mlflow.parentRunId"]]
    read = reading.trajectories(ids, TRAJECTORY_FILE, uri)
    assert set(read) == set(ids[:3])  # the parent has none: left out
    client = client_of(uri)
    for run in runs:
        path = client.download_artifacts(run.info.run_id, TRAJECTORY_FILE, str(tmp_path))
        with np.load(path, allow_pickle=False) as data:
            np.testing.assert_array_equal(read[run.info.run_id][0], data["steps"])
            np.testing.assert_array_equal(read[run.info.run_id][1], data["points"])
        assert read[run.info.run_id][1][-1].tolist() == [
            float(run.data.tags["runner.x1"]), float(run.data.tags["runner.x2"])
        ]  # fmt: skip


def plain_descent(objective, optimizer: str, hyper: dict, starts, iterations: int):
    """The engine's descent of ``starts`` alone, built here from the plugins by hand."""
    from runner.engine import descent
    from runner.plugin.registry import get_registry

    rule = get_registry().get("step_rule", optimizer)
    per_member = {k: np.full(len(starts), v) for k, v in hyper.items()}
    schedule = descent.DescentSchedule(iterations, 1e-6)
    return descent.descend(objective, {}, starts, rule, per_member, schedule)


@pytest.mark.parametrize("row", [1, 4])  # gd lr 0.01 (every basin), gd lr 0.03 (diverges)
def test_the_basin_map_colours_each_start_by_the_minimum_it_reaches(objective_store, row):
    from runner.analysis import landscapes
    from runner.engine import descent

    (first, *_) = [g for g in objective_study(objective_store).groups if g.rows[0].row == row]
    objective, params = landscapes.objective_of(first.rows[0])
    setting = landscapes.RuleSetting.of(first.rows[0])
    basins = landscapes.basin_map(objective, params, setting, grid=40)
    counts = basins.counts()
    assert sum(counts.values()) == 40 * 40
    picks = np.random.default_rng(0).choice(40 * 40, size=12, replace=False)
    hyper = dict(setting.rule_params)
    alone = plain_descent(
        objective, setting.optimizer, hyper, basins.starts[picks], setting.iterations
    )
    reached = descent.reached(objective, params, alone.final_x)
    minima = objective.minima()
    for i, pick in enumerate(picks):
        expected = (
            landscapes.DIVERGED if alone.diverged[i]
            else landscapes.NONE if reached[i] is None else minima.index(reached[i])
        )  # fmt: skip
        assert basins.classes.ravel()[pick] == expected
    if row == 1:
        assert all(counts[m.label] > 300 for m in minima)  # four basins of about a quarter
    else:
        assert counts["diverged"] > 0 and sum(counts[m.label] for m in minima) < 40


def test_the_restarts_figure_shows_each_configuration_s_wilson_interval(objective_store):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from runner.analysis import landscapes

    groups = objective_study(objective_store).groups
    lines = landscapes.restarts_points([r for g in groups for r in g.rows])
    gd, momentum, long_step = (
        "optimizer=gd, epochs=30, learning_rate=0.01",
        "optimizer=momentum, epochs=100, learning_rate=0.005, momentum=0.9",
        "optimizer=gd, epochs=100, learning_rate=0.03",
    )
    assert set(lines) == {gd, momentum, long_step}
    # table rows 1 and 2 are one line at 1 and 4 restarts; rows 3 and 4 a line each
    points = [lines[gd][0], lines[gd][1], lines[momentum][0], lines[long_step][0]]
    assert [p.restarts for p in points] == [1, 4, 1, 1]
    for group, point in zip(groups, points, strict=True):
        assert (point.k, point.n, point.rate, point.low, point.high) == group.success
    objective, params = landscapes.objective_of(groups[0].rows[0])
    fig = landscapes.restarts_figure(plt, "himmelblau", objective, params, groups)
    drawn = {}
    for container in fig.axes[0].containers:  # each line's points and error bars as drawn
        line, _, (bars,) = container.lines
        ends = [(a[1], b[1]) for a, b in bars.get_segments()]
        drawn[container.get_label()] = (list(line.get_xydata()[:, 1]), ends)
    plt.close(fig)
    assert set(drawn) == set(lines)
    for label, pts in lines.items():
        rates, ends = drawn[label]
        assert rates == [p.rate for p in pts]
        np.testing.assert_allclose(ends, [(p.low, p.high) for p in pts], rtol=1e-12)


def test_a_sweep_logs_its_objective_figures_to_its_parent_run(objective_store):
    from runner.sweep import SweepSummary, report_to_parent

    uri, table, parent = objective_store
    summary = SweepSummary(table, table.stem, uri, parent_run_id=parent)
    assert report_to_parent(summary) is not None
    names = {a.path for a in client_of(uri).list_artifacts(parent, "report")}
    figures = {f"report/himmelblau_{n}.png" for n in ("contours", "basins", "restarts")}
    assert figures | {"report/summary.csv", "report/summary.json"} <= names


SLICES = [
    (2, ""),
    (3, " (slice x3 = 1; paths projected)"),
    (4, " (slice x3..x4 = 1, 1; paths projected)"),
]


@pytest.mark.parametrize(("n", "said"), SLICES)
def test_a_figure_of_more_than_two_variables_says_which_plane_it_shows(n, said):
    from runner.analysis import landscapes
    from runner.plugin.registry import get_registry

    rosenbrock = get_registry().get("objective", "rosenbrock")
    assert landscapes._slice_note(rosenbrock, {"n": n}) == said  # through the global minimum


# --- the figures, as drawn (each Figure caught as it is saved) -----------------------------------


@pytest.fixture
def drawn(monkeypatch):
    """The matplotlib figures saved while a test runs, with the path each was saved to."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    saved: dict[str, Figure] = {}
    save = Figure.savefig

    def keep(fig, path, *args, **kwargs):
        saved[pathlib.Path(path).name] = fig
        return save(fig, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return plt, saved


def curve_row(seed: int, values: list[float], best_epoch: float | None = None, **fields):
    finals = {"train_loss": values[-1], "train_accuracy": 1.0}
    if best_epoch is not None:
        finals["best_epoch"] = best_epoch
    curve = (list(range(len(values))), values)
    fields.setdefault("params", {"dataset": "xor"})
    return row_of(seed, finals=finals, curve=curve, **fields)


def test_kept_best_validation_weights_are_drawn_apart_not_as_the_curve_s_end(drawn, tmp_path):
    from runner.analysis import figures

    plt, saved = drawn
    # trained to epoch 5, the weights of epoch 3 kept: their loss (0.4) is the curve's last point
    rows = [curve_row(s, [1.0, 0.6, 0.5, 0.45, 0.3, 0.4], best_epoch=3) for s in range(3)]
    steps, M = figures._curve_matrix(rows)
    assert list(steps) == [0, 1, 2, 3, 4] and M[:, -1].tolist() == [0.3] * 3  # no jump up
    figures._learning_curves(plt, summarize(rows), tmp_path)
    ax = saved["learning_curves.png"].axes[0]
    (kept,) = ax.collections[1:]  # after the band: the kept weights' markers
    assert kept.get_offsets().tolist() == [[3.0, 0.4]] * 3
    assert "kept: best validation epoch" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_curves_of_a_sample_of_the_runs_say_so(drawn, tmp_path):
    from runner.analysis import figures

    plt, saved = drawn
    rows = [curve_row(s, [1.0, 0.5]) for s in range(2)] + [
        row_of(s, params={"dataset": "xor"}) for s in range(2, 5)
    ]
    figures._learning_curves(plt, summarize(rows), tmp_path)
    title = saved["learning_curves.png"]._suptitle.get_text()
    assert title == "learning curves (a sample of 2 of 5 runs)"


def group_of(configuration: str, optimizer: str, learning_rate: str, restarts: str, ok: int):
    params = {"dataset": "xor", "optimizer": optimizer, "learning_rate": learning_rate,
              "restarts": restarts}  # fmt: skip
    finals = [{"train_loss": 0.01, "train_accuracy": 1.0 if s < ok else 0.75} for s in range(4)]
    return [row_of(s, configuration=configuration, params=params, finals=f)
            for s, f in enumerate(finals)]  # fmt: skip


def test_success_is_drawn_against_a_column_along_lines_of_one_optimizer(drawn, tmp_path):
    from runner.analysis import figures

    plt, saved = drawn
    rows = group_of("a", "gd", "1.0", "1", 3) + group_of("b", "momentum", "0.5", "1", 3)
    rows += group_of("c", "gd", "1.0", "5", 4)
    paths = figures._against_columns(plt, summarize(rows), tmp_path)
    # the learning rate changes only with the optimizer: no line runs along it
    assert [p.name for p in paths] == ["success_vs_restarts.png"]
    ax = saved["success_vs_restarts.png"].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["optimizer=gd, learning_rate=1.0", "optimizer=momentum, learning_rate=0.5"]


def test_decision_boundaries_name_their_axes_and_the_colours(drawn, tmp_path):
    from runner.analysis import figures

    plt, saved = drawn
    net = xor_net(0, epochs=300)
    rows = [row_of(s, params={"dataset": "xor"}, finals={"train_loss": 0.1 * (s + 1)})
            for s in range(2)]  # fmt: skip
    figures._decision_boundaries(plt, summarize(rows), tmp_path, lambda run_id: net)
    fig = saved["decision_boundaries.png"]
    panels, bar = fig.axes[:2], fig.axes[-1]
    assert [(a.get_xlabel(), a.get_ylabel()) for a in panels] == [("x1", "x2")] * 2
    assert bar.get_ylabel() == "output: P(class 1); line at 0.5"
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()  # the figure is closed once saved
    title = fig._suptitle.get_window_extent(renderer)
    for panel in panels:  # the figure's title clear of the panels' own
        assert panel.title.get_window_extent(renderer).y1 <= title.y0


def test_critical_points_none_stationary_are_one_line_not_a_class_panel(drawn, tmp_path):
    from runner.analysis import figures

    plt, saved = drawn
    finals = {"train_loss": 0.1, "train_accuracy": 1.0, "hessian_max_eigenvalue": 0.5,
              "hessian_min_eigenvalue": -0.01}  # fmt: skip
    rows = [row_of(s, params={"dataset": "moons"}, finals=finals,
                   critical_point="saddle not stationary") for s in range(3)]  # fmt: skip
    figures._critical_points(plt, summarize(rows), tmp_path)
    fig = saved["critical_points.png"]
    assert len(fig.axes) == 2  # the two curvature panels, no panel of hatched classes
    assert fig._suptitle.get_text().startswith("no run ended at a stationary point")


def test_losses_of_two_costs_are_drawn_on_scales_of_their_own(drawn, tmp_path):
    from runner.analysis import figures

    plt, saved = drawn
    rows = [
        curve_row(s, [1.0, 0.5], configuration=c, params={"dataset": "moons", "cost": c})
        for s, c in enumerate(["cross_entropy", "cross_entropy", "squared_error"])
    ]
    groups = summarize(rows)
    figures._final_loss(plt, groups, tmp_path)
    labels = [ax.get_ylabel() for ax in saved["final_loss.png"].axes]
    assert labels == [
        f"final training loss, {c} (log scale)" for c in ("cross_entropy", "squared_error")
    ]
    figures._learning_curves(plt, groups, tmp_path)
    curves = saved["learning_curves.png"].axes
    assert [ax.get_ylabel() for ax in curves] == [
        "training loss (cross_entropy)",
        "training loss (squared_error)",
    ]
    assert curves[0].get_shared_y_axes().get_siblings(curves[0]) == [curves[0]]


# --- paired comparisons ------------------------------------------------------------------------


@pytest.mark.parametrize(("b", "c"), [(0, 0), (0, 5), (2, 7), (14, 18), (30, 10), (1, 1)])
def test_mcnemar_s_exact_p_is_the_two_sided_binomial_test(b: int, c: int) -> None:
    from scipy.stats import binomtest

    from runner.analysis.paired import mcnemar_exact

    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_the_paired_difference_s_interval_covers_it_95_times_in_100() -> None:
    """Agresti-Min's interval, checked by simulation: 4000 studies of 40 paired seeds whose
    true cell probabilities are known; the interval holds the true difference about 95% of
    the time (binomial sd 0.34%: the bounds are 3 sd)."""
    from runner.analysis.paired import paired_interval

    rng = np.random.default_rng(0)
    probabilities = np.array([0.55, 0.1, 0.2, 0.15])  # both, only A, only B, neither
    truth = probabilities[2] - probabilities[1]
    held = 0
    for cells in rng.multinomial(40, probabilities, size=4000):
        low, high = paired_interval(*map(int, cells))
        held += low <= truth <= high
    assert 0.94 <= held / 4000 <= 0.97


def _seeds(config: str, optimizer: str, outcomes: list[bool], **params: str):
    rows = [
        row_of(configuration=config, seed=seed, params={"optimizer": optimizer, **params},
               finals={"train_accuracy": 1.0 if solved else 0.5})
        for seed, solved in enumerate(outcomes)
    ]  # fmt: skip
    return rows


def test_pairs_are_configurations_that_differ_in_one_setting_on_shared_seeds() -> None:
    from runner.analysis.paired import pairs

    gd = [True, True, False, False, True, False]
    momentum = [True, False, True, True, True, False]
    groups = summarize(
        _seeds("gd", "gd", gd, learning_rate="1.0")
        + _seeds("m", "momentum", momentum, learning_rate="1.0", momentum="0.1")
        + _seeds("slow", "momentum", momentum[:4], learning_rate="0.5", momentum="0.9")
    )
    found = {(p.a, p.b): p for p in pairs(groups)}
    labels = [g.label for g in groups]
    # gd against momentum at one learning rate: the optimizer, momentum's own parameter with it
    both = found[(labels[0], labels[1])]
    assert (both.setting, both.a_value, both.b_value) == (
        "optimizer",
        "gd",
        "momentum (momentum=0.1)",
    )
    assert (both.both, both.only_a, both.only_b, both.neither) == (2, 1, 2, 1)
    assert both.difference[0] == pytest.approx(1 / 6)
    assert "cannot tell them apart" in both.verdict()
    # momentum 0.1 at 1.0 against momentum 0.9 at 0.5: two settings, no pair; nor gd and that
    assert set(found) == {(labels[0], labels[1])}


def test_the_study_pairs_configurations_in_the_terminal_the_json_the_csv_and_a_figure(
    study_store, tmp_path
) -> None:
    """The recorded study's two configurations share seeds 0..5 and differ in restarts: the
    pair's cells are the seeds' outcomes as the store holds them."""
    uri, table, _ = study_store
    made = study(table.stem, tracking_uri=uri, out=tmp_path)
    (pair,) = made.pairs
    one, three = made.groups
    by_seed = [{r.seed: r.finals["train_accuracy"] == 1.0 for r in g.rows} for g in made.groups]
    cells = collections.Counter((by_seed[0][s], by_seed[1][s]) for s in range(6))
    assert (pair.setting, pair.a_value, pair.b_value) == ("restarts", "1", "3")
    assert (pair.both, pair.only_a, pair.only_b, pair.neither) == (
        cells[(True, True)], cells[(True, False)], cells[(False, True)], cells[(False, False)]
    )  # fmt: skip
    assert made.to_json()["pairs"][0]["mcnemar_p"] == pair.p
    with open(tmp_path / "paired.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["setting"], int(row["seeds"])) == ("restarts", 6)


def test_single_numbers_are_read_from_tags_and_from_the_metrics_of_older_stores(sqlite_uri):
    """Runs recorded now keep numbers that are no curve as tags (``runner.x1``); runs of
    older stores kept them as metrics: a row reads the same from both."""
    from mlflow import MlflowClient

    from runner.analysis import run_row

    client = MlflowClient(sqlite_uri)
    experiment = client.create_experiment("both")
    numbers = {"x1": 3.0, "x2": 2.0, "hessian_min_eigenvalue": 8.5, "critical_gradient_norm": 1e-9}
    rows = []
    for as_tags in (True, False):
        run = client.create_run(experiment, tags={"runner.objective": "himmelblau"})
        client.log_metric(run.info.run_id, "f", 1e-12, step=0)
        for name, value in numbers.items():
            if as_tags:
                client.set_tag(run.info.run_id, f"runner.{name}", repr(value))
            else:
                client.log_metric(run.info.run_id, name, value, step=40)
        rows.append(run_row(client.get_run(run.info.run_id)))
    new, old = rows
    assert new.finals == old.finals == {"f": 1e-12, **numbers}
    assert new.point == old.point == [3.0, 2.0]


# --- labels that tell the series apart -----------------------------------------------------------

LONG = "Himmelblau, plain gradient descent from one start at a rate of "  # 64 characters


def test_labels_of_names_alike_but_at_their_end_differ_and_fit() -> None:
    from runner.analysis.labels import distinct_labels

    names = [LONG + "0.01", LONG + "0.02", LONG + "0.02 with momentum"]
    labels = distinct_labels(names, 30)
    assert len(set(labels)) == 3 and all(len(label) <= 30 for label in labels)
    assert labels[0].endswith("0.01") and labels[2].endswith("momentum")
    assert distinct_labels(["a", "b"]) == ["a", "b"]  # short names as they are
    middle = [LONG + s + LONG for s in ("x", "y")]  # the same at both ends
    assert len(set(distinct_labels(middle, 20))) == 2


def test_every_figure_tells_apart_configurations_whose_names_differ_after_48(drawn, tmp_path):
    from runner.analysis import figures, landscapes

    plt, saved = drawn
    names = [LONG + "0.01", LONG + "0.02"]
    assert names[0][:48] == names[1][:48]
    finals = {"train_loss": 0.1, "train_accuracy": 1.0, "hessian_max_eigenvalue": 0.5,
              "hessian_min_eigenvalue": 0.1}  # fmt: skip
    rows = [
        curve_row(s, [1.0, 0.1], configuration=c, name=name, critical_point="minimum")
        for c, name in zip("ab", names, strict=True)
        for s in range(2)
    ]
    for row in rows:
        row.finals = dict(finals)
    groups = summarize(rows)
    net = xor_net(0, epochs=300)
    figures._learning_curves(plt, groups, tmp_path)
    figures._final_loss(plt, groups, tmp_path)
    figures._critical_points(plt, groups, tmp_path)
    figures._decision_boundaries(plt, groups, tmp_path, lambda run_id: net)

    def texts(fig, what):
        return [t.get_text() for ax in fig.axes for t in what(ax)]

    def title(ax):
        return [ax._left_title]

    titles = texts(saved["learning_curves.png"], title)
    ticks = texts(saved["final_loss.png"], lambda ax: ax.get_xticklabels())
    classes = [t.get_text() for t in saved["critical_points.png"].axes[0].get_yticklabels()]
    panels = texts(saved["decision_boundaries.png"], lambda ax: [ax._left_title, ax.title])
    panels = {t.split("\n")[0] for t in panels if t}
    for labels in (titles, ticks, [c for c in classes if c], panels):
        assert len(set(labels)) == 2, labels

    path = np.array([[1.0, 1.0], [3.0, 2.0]])
    objective = [
        row_of(
            s,
            configuration=c,
            name=name,
            objective="himmelblau",
            finals={"f": 0.0},
            params={"objective": "himmelblau", "optimizer": "gd", "learning_rate": "0.01"},
            trajectory=(np.array([0, 1]), path),
        )  # fmt: skip
        for c, name in zip("ab", names, strict=True)
        for s in range(2)
    ]
    landscapes.draw(plt, summarize(objective), tmp_path)
    legend = saved["himmelblau_contours.png"].axes[0].get_legend()
    shown = [t.get_text() for t in legend.get_texts() if t.get_text().endswith("(2)")]
    assert len(shown) == 2 and len(set(shown)) == 2, shown


def test_himmelblau_s_declared_maximum_is_drawn_on_its_contours(drawn, tmp_path):
    from runner.analysis import landscapes

    plt, saved = drawn
    rows = [
        row_of(
            s,
            objective="himmelblau",
            finals={"f": 0.0},
            params={"objective": "himmelblau", "optimizer": "gd", "learning_rate": "0.01"},
            trajectory=(np.array([0, 1]), np.array([[1.0, 1.0], [3.0, 2.0]])),
        )  # fmt: skip
        for s in range(2)
    ]
    landscapes.draw(plt, summarize(rows), tmp_path)
    ax = saved["himmelblau_contours.png"].axes[0]
    offsets = [c.get_offsets().tolist() for c in ax.collections if len(c.get_offsets()) == 1]
    assert [[-0.2708445906673476, -0.9230385564799815]] in offsets
    texts = [t.get_text() for t in ax.texts]
    assert "max f = 181.6" in texts
    assert "local maximum" in [t.get_text() for t in ax.get_legend().get_texts()]
