"""The execution room: running population tasks in this process, on a local process pool, or on
a dask cluster, behind one entry point.

:func:`run_tasks` is what the sweep calls, whatever executes the work:

- ``jobs == 1`` and no ``timeout``: each task runs in the calling process, one after another
  (:mod:`~runner.execution.inline`);
- ``jobs > 1`` (or a ``timeout``, which needs a process that can be stopped): a process pool
  (:mod:`~runner.execution.pool`);
- ``scheduler="tcp://host:port"``: a dask cluster (:mod:`~runner.execution.dask_cluster`); dask
  is imported only then.

The pool and the cluster are driven by one loop (:mod:`~runner.execution.loop`). Whatever runs
the tasks, the results come back to the driving process, which alone calls ``on_start`` and
``on_result`` — each at most once per task, ``on_start`` always before ``on_result``
(:mod:`~runner.execution.ledger`). Faults are confined to the task that causes them; on Ctrl-C
the workers are stopped and :class:`KeyboardInterrupt` is re-raised with an ``in_flight``
attribute listing the tasks that were submitted but have no result, ``started`` those of them
that had begun, and ``signum`` the signal; SIGTERM and SIGHUP stop a sweep as Ctrl-C does, and
:mod:`~runner.execution.signals` holds them back where they must not cut work in half.

May import :mod:`runner.engine`, :mod:`runner.spec`, :mod:`runner.errors` and
:mod:`runner.environ` (``docs/architecture.md``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from runner.errors import ExecutionError
from runner.execution.inline import run_inline
from runner.execution.ledger import (
    TASKS_PER_WORKER,
    OnResult,
    OnStart,
    OnSubmit,
    TaskLedger,
    Worker,
    failed_results,
)
from runner.execution.pool import BLAS_THREAD_VARS, run_pool
from runner.execution.signals import (
    STOP_SIGNALS,
    ignore_after_a_stop,
    signal_name,
    signals_deferred,
    signum_of,
    stopping_on_signals,
)

if TYPE_CHECKING:
    from runner.engine.population import PopulationTask

__all__ = [
    "BLAS_THREAD_VARS",
    "TASKS_PER_WORKER",
    "default_jobs",
    "usable_jobs",
    "failed_results",
    "run_tasks",
    "STOP_SIGNALS",
    "ignore_after_a_stop",
    "signals_deferred",
    "signal_name",
    "signum_of",
    "stopping_on_signals",
]


def default_jobs() -> int:
    """How many worker processes to use by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def usable_jobs(jobs: int, force: bool = False) -> tuple[int, str]:
    """``jobs`` capped at the CPUs this process may run on (unless ``force``), and a one-line
    note when it was capped ("" when not): more worker processes than cores only compete."""
    cores = default_jobs()
    if force or jobs <= cores:
        return jobs, ""
    return cores, (
        f"--jobs {jobs} is more than the {cores} core{'s' if cores > 1 else ''} this process "
        f"may use; starting {cores} worker{'s' if cores > 1 else ''} (--force-jobs starts {jobs})"
    )


def run_tasks(
    tasks: Sequence[PopulationTask],
    *,
    jobs: int,
    scheduler: str | None,
    timeout: float | None,
    on_result: OnResult,
    on_start: OnStart | None = None,
    on_submit: OnSubmit | None = None,
    worker: Worker | None = None,
) -> None:
    """Run every task and hand each one's results to ``on_result`` in this process.

    ``on_submit`` is called in this process before a task is first handed to a worker, and
    gives the task to run (the sweep claims its specifications there, and leaves out those
    another sweep took), or None to leave it out. ``worker`` computes one task's results (default
    :func:`runner.engine.population.run_population`); it must be a module-level function (or a
    :func:`functools.partial` of one) so that worker processes can import it. ``timeout``
    (seconds per task) is enforced by stopping the worker process, so with ``jobs == 1`` and a
    timeout the tasks run in one worker process rather than in the calling process.

    Raises :class:`~runner.errors.ExecutionError` if dask is wanted but missing, the scheduler
    cannot be reached, or worker processes cannot start; ``KeyboardInterrupt`` (with
    ``in_flight``) on Ctrl-C. Exceptions raised by the callbacks propagate after the workers are
    stopped.
    """
    if jobs < 1:
        raise ExecutionError(f"jobs must be at least 1, got {jobs}")
    if timeout is not None and not timeout > 0:
        raise ExecutionError(f"timeout must be a positive number of seconds, got {timeout}")
    tasks = list(tasks)
    if not tasks:
        return
    ledger = TaskLedger(tasks, on_result, on_start, on_submit)
    if scheduler:
        from runner.execution.dask_cluster import run_dask

        run_dask(ledger, scheduler, jobs=jobs, timeout=timeout, worker=worker)
    elif jobs == 1 and timeout is None:
        run_inline(ledger, worker)
    else:
        run_pool(ledger, jobs=jobs, timeout=timeout, worker=worker)
