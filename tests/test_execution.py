"""Running tasks in-process, on a process pool and on dask: same results, faults confined.

Everything here runs for real: spawned pool workers, a dask LocalCluster, `dask scheduler` and
`dask worker` subprocesses, and a driver subprocess interrupted with SIGINT. The faulty worker
functions (crash, hang, raise) come from tests/_faulty.py, never from the built-in plugins.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import _faulty
import numpy as np
import pytest
from conftest import (
    EXECUTION_TESTS_DIR,
    alive,
    default_sigint,
    descendants,
    env_with_tests_on_path,
    free_port,
)

from runner.engine.population import PopulationTask
from runner.errors import ExecutionError
from runner.execution import (
    TASKS_PER_WORKER,
    default_jobs,
    failed_results,
    run_tasks,
    signals_deferred,
    stopping_on_signals,
)
from runner.execution.signals import Stopped
from runner.spec import RunResult


def xor_tasks(n: int) -> list[PopulationTask]:
    """``n`` tasks of one specification each (seeds 0..n-1); the last one holds two seeds."""
    tasks = [PopulationTask((_faulty.xor_spec(seed),)) for seed in range(n - 1)]
    tasks.append(PopulationTask((_faulty.xor_spec(n - 1), _faulty.xor_spec(100 + n))))
    return tasks


class Recorder:
    """on_start / on_result callbacks that check their contract as they are called."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.results: dict[str, list[RunResult]] = {}
        self.calls: list[str] = []

    def on_start(self, task: PopulationTask) -> None:
        key = task.hashes[0]
        assert key not in self.started, "on_start called twice for one task"
        self.started.append(key)

    def on_result(self, task: PopulationTask, results: list[RunResult]) -> None:
        key = task.hashes[0]
        self.calls.append(key)
        assert key in self.started, "on_result before on_start"
        assert key not in self.results, "on_result called twice for one task"
        assert [r.spec_hash for r in results] == list(task.hashes)
        self.results[key] = results

    def by_seed(self) -> dict[int, RunResult]:
        return {r.spec.seed: r for rs in self.results.values() for r in rs}


def run(tasks: list[PopulationTask], **options) -> Recorder:
    recorder = Recorder()
    options.setdefault("scheduler", None)
    options.setdefault("timeout", None)
    run_tasks(tasks, on_result=recorder.on_result, on_start=recorder.on_start, **options)
    assert sorted(recorder.calls) == sorted(t.hashes[0] for t in tasks)  # each exactly once
    return recorder


def assert_same_results(a: dict[int, RunResult], b: dict[int, RunResult]) -> None:
    assert a.keys() == b.keys()
    for seed in a:
        x, y = a[seed], b[seed]
        assert (x.spec_hash, x.status, x.reason) == (y.spec_hash, y.status, y.reason)
        assert {k: v for k, v in x.metrics.items() if k != "wall_time"} == {
            k: v for k, v in y.metrics.items() if k != "wall_time"
        }
        assert x.restart_losses == y.restart_losses
        assert len(x.weights) == len(y.weights) > 0
        for u, v in zip(x.weights + x.biases, y.weights + y.biases, strict=True):
            assert u.dtype == v.dtype and u.tobytes() == v.tobytes()  # bitwise
        assert x.history.keys() == y.history.keys()
        for key in x.history:
            for u, v in zip(x.history[key], y.history[key], strict=True):
                np.testing.assert_array_equal(u, v)


def test_default_jobs_is_the_usable_cpu_count() -> None:
    jobs = default_jobs()
    assert 1 <= jobs <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert jobs == len(os.sched_getaffinity(0))


def test_bad_settings_are_execution_errors() -> None:
    with pytest.raises(ExecutionError, match="jobs"):
        run_tasks(xor_tasks(2), jobs=0, scheduler=None, timeout=None, on_result=print)
    with pytest.raises(ExecutionError, match="timeout"):
        run_tasks(xor_tasks(2), jobs=2, scheduler=None, timeout=0, on_result=print)


def test_failed_results_cover_every_spec() -> None:
    task = xor_tasks(1)[0]
    results = failed_results(task, "why")
    assert [r.spec_hash for r in results] == list(task.hashes)
    assert {(r.status, r.reason) for r in results} == {("failed", "why")}


def test_in_process_pool_and_dask_give_identical_results(dask_cluster: str) -> None:
    tasks = xor_tasks(5)
    inline = run(tasks, jobs=1).by_seed()
    pool = run(tasks, jobs=2).by_seed()
    dask = run(tasks, jobs=1, scheduler=dask_cluster).by_seed()
    assert len(inline) == 6 and {r.status for r in inline.values()} == {"finished"}
    assert_same_results(inline, pool)
    assert_same_results(inline, dask)


def test_dask_scheduler_and_worker_processes_run_tasks(dask_cli_cluster: str) -> None:
    tasks = xor_tasks(3)
    assert_same_results(
        run(tasks, jobs=1).by_seed(), run(tasks, jobs=1, scheduler=dask_cli_cluster).by_seed()
    )


def test_pool_recovers_from_workers_that_die_once(tmp_path: Path) -> None:
    tasks = xor_tasks(4)
    worker = functools.partial(_faulty.crash_once, str(tmp_path))
    results = run(tasks, jobs=2, worker=worker).by_seed()
    assert {r.status for r in results.values()} == {"finished"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(t.hashes[0] for t in tasks)


def test_dask_recovers_from_workers_that_die_once(dask_cluster: str, tmp_path: Path) -> None:
    # dask itself reschedules what a dead worker held, and gives up on a task after more than
    # three deaths; with one task per worker, each task here is implicated in one death only
    tasks = xor_tasks(3)
    worker = functools.partial(_faulty.crash_once, str(tmp_path))
    results = run(tasks, jobs=1, scheduler=dask_cluster, worker=worker).by_seed()
    assert {r.status for r in results.values()} == {"finished"}
    assert len(list(tmp_path.iterdir())) == 3  # every task did kill a worker once


def test_a_task_that_always_kills_its_worker_fails_and_the_rest_finish() -> None:
    tasks = xor_tasks(5)  # the last task holds seeds 4 and 105
    worker = functools.partial(_faulty.crash_for_seeds, (1, 4))
    results = run(tasks, jobs=2, worker=worker).by_seed()
    for seed in (1, 4, 105):
        assert results[seed].status == "failed"
        assert results[seed].reason == "worker process died (exit code 3)"
    assert {results[s].status for s in (0, 2, 3)} == {"finished"}


def test_dask_gives_up_on_a_task_that_always_kills_its_worker(dask_cluster: str) -> None:
    worker = functools.partial(_faulty.crash_for_seeds, (1,))
    results = run(xor_tasks(3), jobs=1, scheduler=dask_cluster, worker=worker).by_seed()
    assert results[1].status == "failed"
    assert results[1].reason.startswith("worker process died")
    assert {results[s].status for s in (0, 2, 103)} == {"finished"}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_task_over_the_timeout_fails_and_the_rest_finish(jobs: int) -> None:
    worker = functools.partial(_faulty.hang_for_seeds, (1,))
    # generous: a fresh worker's first task also discovers plugins and loads the data
    results = run(xor_tasks(4), jobs=jobs, timeout=4, worker=worker).by_seed()
    assert results[1].status == "failed"
    assert results[1].reason == "timeout after 4 s"
    assert {results[s].status for s in (0, 2, 3, 104)} == {"finished"}


def test_dask_cancels_a_task_over_the_timeout_and_the_rest_finish(dask_cluster: str) -> None:
    worker = functools.partial(_faulty.hang_for_seeds, (1,))
    results = run(xor_tasks(4), jobs=1, scheduler=dask_cluster, timeout=4, worker=worker)
    by_seed = results.by_seed()
    assert by_seed[1].reason == "timeout after 4 s"
    assert {by_seed[s].status for s in (0, 2, 3, 104)} == {"finished"}
    # the stuck worker was restarted: the cluster runs tasks on two workers again
    distributed = pytest.importorskip("distributed")
    with distributed.Client(dask_cluster, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
        assert len(client.scheduler_info()["workers"]) == 2


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_exception_in_the_worker_fails_only_its_task(jobs: int) -> None:
    worker = functools.partial(_faulty.raise_for_seeds, (2,))
    results = run(xor_tasks(4), jobs=jobs, worker=worker).by_seed()
    assert results[2].status == "failed"
    assert results[2].reason == "RuntimeError: boom for seed 2"
    assert {results[s].status for s in (0, 1, 3, 104)} == {"finished"}


def test_in_process_interrupt_reports_the_running_task() -> None:
    tasks = xor_tasks(4)
    recorder = Recorder()
    worker = functools.partial(_faulty.interrupt_for_seeds, (2,))
    with pytest.raises(KeyboardInterrupt) as caught:
        run_tasks(
            tasks,
            jobs=1,
            scheduler=None,
            timeout=None,
            on_result=recorder.on_result,
            on_start=recorder.on_start,
            worker=worker,
        )
    assert caught.value.in_flight == [tasks[2]]
    assert recorder.calls == [tasks[0].hashes[0], tasks[1].hashes[0]]


@pytest.mark.parametrize("whole_group", [False, True], ids=["driver-alone", "process-group"])
def test_ctrl_c_stops_the_workers_and_reports_in_flight_tasks(whole_group: bool) -> None:
    jobs = 2
    driver = subprocess.Popen(
        [sys.executable, str(EXECUTION_TESTS_DIR / "_interrupt_driver.py"), str(jobs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_with_tests_on_path(),
        start_new_session=True,
        preexec_fn=default_sigint,
    )
    try:
        started = []
        while len(started) < jobs:  # both workers busy with a task that sleeps for minutes
            line = driver.stdout.readline()
            assert line, f"driver ended early: {driver.stderr.read()}"
            if line.startswith("started "):
                started.append(line.split()[1])
        workers = descendants(driver.pid)
        assert len(workers) >= jobs
        if whole_group:
            os.killpg(driver.pid, signal.SIGINT)
        else:
            os.kill(driver.pid, signal.SIGINT)
        out, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    assert driver.returncode == 130, err
    assert "Traceback" not in err
    lines = out.splitlines()
    assert not [line for line in lines if line.startswith("result ")]
    in_flight = [line.split()[1] for line in lines if line.startswith("in_flight ")]
    assert len(in_flight) == TASKS_PER_WORKER * jobs  # submitted, never finished
    assert set(started) <= set(in_flight)
    deadline = time.monotonic() + 30  # orphans are reaped asynchronously; wait, don't time
    while [pid for pid in workers if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in workers if alive(pid)] == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_stops_once_and_waits_for_a_deferred_block(signum, sigint_handled) -> None:
    steps = []
    with stopping_on_signals():
        with pytest.raises(Stopped) as caught:
            with signals_deferred():
                os.kill(os.getpid(), signum)
                time.sleep(0.05)  # the handler would have raised by now
                steps.append("finished")
        assert caught.value.signum == signum and steps == ["finished"]
        os.kill(os.getpid(), signal.SIGTERM)  # a second stop signal: ignored, the stop goes on
        time.sleep(0.05)
        steps.append("stopped")
    assert steps == ["finished", "stopped"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with signals_deferred():  # without a signal the block just runs
        steps.append("again")
    assert steps == ["finished", "stopped", "again"]


def test_an_unreachable_scheduler_is_an_execution_error() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(ExecutionError, match=address) as caught:
        run_tasks(xor_tasks(2), jobs=1, scheduler=address, timeout=None, on_result=print)
    assert caught.value.exit_code == 2


def test_missing_dask_is_an_execution_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    with pytest.raises(ExecutionError, match=r"pip install 'runner\[dask\]'"):
        run_tasks(
            xor_tasks(2), jobs=1, scheduler="tcp://127.0.0.1:8786", timeout=None, on_result=print
        )


def test_pool_workers_use_one_blas_thread_and_the_driver_env_is_restored() -> None:
    before = {var: os.environ.get(var) for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    results = run(xor_tasks(2), jobs=2, worker=_faulty.blas_settings).by_seed()
    assert {r.reason for r in results.values()} == {"1 1 1 1"}
    assert {var: os.environ.get(var) for var in before} == before


def test_workers_that_die_before_running_anything_are_an_execution_error() -> None:
    with pytest.raises(ExecutionError, match="keep dying before running any task"):
        run_tasks(
            xor_tasks(2),
            jobs=2,
            scheduler=None,
            timeout=None,
            on_result=print,
            worker=_faulty.DiesWhenUnpickled(),
        )


def test_a_worker_function_that_cannot_be_pickled_is_an_execution_error() -> None:
    with pytest.raises(ExecutionError, match="cannot be sent to worker processes"):
        run_tasks(
            xor_tasks(2), jobs=2, scheduler=None, timeout=None, on_result=print, worker=lambda t: []
        )
