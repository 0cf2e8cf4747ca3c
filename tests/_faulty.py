"""Worker functions for the execution tests: they crash, hang, raise or dawdle on purpose.

They live here, not among the built-in plugins, and are passed to ``run_tasks(worker=...)`` as
``functools.partial`` objects, so spawned worker processes import them from this module (the
tests directory is on their ``sys.path`` / ``PYTHONPATH``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from _specs import xor_spec  # noqa: F401 (the execution tests' specifications)

from runner.engine.population import PopulationTask, run_population
from runner.spec import RunResult


def crash_once(marker_dir: str, task: PopulationTask) -> list[RunResult]:
    """Kill the worker process the first time a task is seen, then compute normally."""
    marker = Path(marker_dir) / task.hashes[0]
    if not marker.exists():
        marker.touch()
        os._exit(3)
    return run_population(task)


def crash_for_seeds(seeds: tuple[int, ...], task: PopulationTask) -> list[RunResult]:
    """Kill the worker process every time for tasks whose first seed is in ``seeds``."""
    if task.specs[0].seed in seeds:
        os._exit(3)
    return run_population(task)


def hang_for_seeds(seeds: tuple[int, ...], task: PopulationTask) -> list[RunResult]:
    """Never return for tasks whose first seed is in ``seeds``."""
    if task.specs[0].seed in seeds:
        while True:
            time.sleep(1)
    return run_population(task)


def raise_for_seeds(seeds: tuple[int, ...], task: PopulationTask) -> list[RunResult]:
    """Raise outside run_population's own error handling, for tasks with a seed in ``seeds``."""
    if task.specs[0].seed in seeds:
        raise RuntimeError(f"boom for seed {task.specs[0].seed}")
    return run_population(task)


def slow(seconds: float, task: PopulationTask) -> list[RunResult]:
    """Sleep, then compute: a task that is still running when the driver is interrupted."""
    time.sleep(seconds)
    return run_population(task)


def interrupt_for_seeds(seeds: tuple[int, ...], task: PopulationTask) -> list[RunResult]:
    """Raise KeyboardInterrupt, as Ctrl-C would, while running a task with a seed in ``seeds``."""
    if task.specs[0].seed in seeds:
        raise KeyboardInterrupt
    return run_population(task)


def blas_settings(task: PopulationTask) -> list[RunResult]:
    """Report, as the reason of failed results, the BLAS thread settings the worker runs with."""
    from threadpoolctl import threadpool_info

    from runner.execution import BLAS_THREAD_VARS, failed_results

    variables = [os.environ.get(var, "unset") for var in BLAS_THREAD_VARS]
    threads = {str(pool["num_threads"]) for pool in threadpool_info()}
    return failed_results(task, " ".join(variables + sorted(threads)))


class DiesWhenUnpickled:
    """A worker function that kills the process unpickling it: workers die before any task runs."""

    def __reduce__(self) -> tuple:
        return (os._exit, (5,))

    def __call__(self, task: PopulationTask) -> list[RunResult]:
        return run_population(task)
