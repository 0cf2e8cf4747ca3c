"""Running population tasks on a local process pool (``--jobs N``, or any ``--timeout``).

A :class:`concurrent.futures.ProcessPoolExecutor` on the ``spawn`` start method (safe with the
driver's threads and open MLflow connections), each worker limited to one BLAS thread and
reporting the start of each task; workers ignore Ctrl-C and SIGHUP (the driver stops them) and
die with the driver however it ends. A worker process that dies (a plugin calling ``os._exit``,
the kernel's out-of-memory killer) breaks the pool: it is rebuilt and only the tasks without a
result are resubmitted; a task whose worker dies twice gets ``failed`` results. A task over the
timeout is failed and the pool's workers are stopped (a process pool cannot stop one task).
Imports the rest of :mod:`runner.execution`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from runner.environ import environ
from runner.errors import ExecutionError, error_reason
from runner.execution.ledger import (
    MAX_WORKER_DEATHS,
    TASKS_PER_WORKER,
    TaskLedger,
    Worker,
    default_worker,
)
from runner.execution.loop import Lost, TaskLoop
from runner.execution.signals import STOP_SIGNALS, signals_blocked
from runner.spec import RunResult

if TYPE_CHECKING:
    from runner.engine.population import PopulationTask

BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MAX_IDLE_BREAKS = 3  # pool breaks in a row with no task running: workers cannot start
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies

_started_reports: Any = None  # in a pool worker: where it reports (task index, pid) on start


def _die_with_the_driver() -> None:
    """Have the kernel kill this worker when the driver dies, however it dies (Linux)."""
    parent = os.getppid()
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the driver died before the request was in place
        os._exit(1)


def _init_pool_worker(started_reports: Any) -> None:
    """Worker initializer: ignore Ctrl-C and SIGHUP (the driver stops us; SIGTERM stays as it
    is, the pool stops its workers with it), die with the driver, one BLAS thread, the
    start-report queue."""
    for signum in STOP_SIGNALS:
        if signum != signal.SIGTERM:
            signal.signal(signum, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, set(STOP_SIGNALS))
    if sys.platform.startswith("linux"):
        _die_with_the_driver()
    for var in BLAS_THREAD_VARS:
        os.environ[var] = "1"
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)  # for libraries loaded before the variables were set
    global _started_reports
    _started_reports = started_reports


def _pool_work(worker: Worker | None, index: int, task: PopulationTask) -> list[RunResult]:
    """What a pool worker runs for one task: report the start, then compute."""
    if _started_reports is not None:
        _started_reports.put((index, os.getpid()))
    return (worker or default_worker())(task)


def _death_reason(code: int | None) -> str:
    if code is None:
        return "worker process died"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"worker process died (exit code {code}, {signal.Signals(-code).name})"
    return f"worker process died (exit code {code})"


class ProcessPool:
    """A ProcessPoolExecutor that can be torn down and rebuilt, and says which worker ran what;
    the :class:`~runner.execution.loop.Backend` of the task loop for local processes."""

    def __init__(self, ledger: TaskLedger, jobs: int, worker: Worker | None):
        self.ledger = ledger
        self.jobs = jobs
        self.limit = TASKS_PER_WORKER * jobs
        self.worker = worker
        self.context = multiprocessing.get_context("spawn")
        self.executor: ProcessPoolExecutor | None = None
        self.deaths: Counter[int] = Counter()
        self.idle_breaks = 0  # breaks in a row with no task running and no result in between
        self.done_at_last_break = 0
        self._open()

    def _open(self) -> None:
        self.reports = self.context.SimpleQueue()
        self.processes: dict[int, Any] = {}  # pid -> multiprocessing.Process
        self.executor = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=self.context,
            initializer=_init_pool_worker,
            initargs=(self.reports,),
        )

    def _note_processes(self) -> None:
        # the executor spawns workers lazily and keeps them in a private dict; remember them
        # here so that their exit codes can be read after the pool has broken
        self.processes.update(getattr(self.executor, "_processes", None) or {})

    # -- the Backend of the task loop --------------------------------------------------------

    def submit(self, index: int, task: PopulationTask) -> Future:
        assert self.executor is not None
        try:
            with signals_blocked():
                future = self.executor.submit(_pool_work, self.worker, index, task)
        except BrokenProcessPool:
            raise Lost from None
        self._note_processes()
        return future

    def started(self) -> list[tuple[int, Any]]:
        out = []
        with contextlib.suppress(OSError, EOFError, ValueError):
            while not self.reports.empty():
                out.append(self.reports.get())
        return out

    def outcome(self, future: Future) -> list[RunResult] | str:
        if future.cancelled():
            raise Lost
        exc = future.exception()
        if exc is None:
            return future.result()
        if isinstance(exc, BrokenProcessPool):
            raise Lost
        return error_reason(exc)  # the worker function raised, or its results did not pickle

    def recover(self, loop: TaskLoop, lost: list[int], broken: bool) -> list[int]:
        """A worker died: the pool is broken and every unfinished future fails with it. Rebuild
        it; the task a worker died in counts a death (failed at MAX_WORKER_DEATHS)."""
        codes, late = self._restart(kill=False)
        loop.note_started(late)
        lost += loop.settle_all()
        was_running = {i: codes.get(loop.running[i][0]) for i in lost if i in loop.running}
        # the pool terminates the other workers with SIGTERM; the culprit died otherwise. A worker
        # whose exit code is not known yet (not reaped within the join's timeout on a loaded
        # machine) is blamed only when no worker is known to have died otherwise
        others = {i: c for i, c in was_running.items() if c != -signal.SIGTERM}
        known = {i: c for i, c in others.items() if c is not None}
        culprits = known or others or was_running
        loop.running.clear()
        done = len(self.ledger.done)
        self.idle_breaks = 0 if culprits or done > self.done_at_last_break else self.idle_breaks + 1
        self.done_at_last_break = done
        if self.idle_breaks >= MAX_IDLE_BREAKS:
            shown = sorted({str(c) for c in codes.values()})
            raise ExecutionError(
                "worker processes keep dying before running any task "
                f"(exit codes {', '.join(shown)})"
            )
        for index, code in culprits.items():
            self.deaths[index] += 1
            if self.deaths[index] >= MAX_WORKER_DEATHS:
                self.ledger.fail(index, _death_reason(code))
        return lost

    def expire(self, loop: TaskLoop, expired: list[int]) -> list[int]:
        """Free the workers: stop the whole pool, and run the other tasks it held again."""
        _, late = self._restart(kill=True)
        loop.note_started(late)
        again = loop.settle_all()
        loop.running.clear()
        return again

    def abort(self) -> None:
        self._stop(kill=True)

    def close(self) -> None:
        self._stop(kill=False)

    # -- stopping ----------------------------------------------------------------------------

    def _stop(self, *, kill: bool) -> tuple[dict[int, int | None], list[tuple[int, int]]]:
        """Stop the pool (killing its workers if asked); every future it held is then settled.

        Returns the workers' exit codes by pid and the start reports not yet read.
        """
        if self.executor is not None:
            self._note_processes()
        if kill:
            for process in self.processes.values():
                with contextlib.suppress(Exception):
                    process.kill()
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
        for process in self.processes.values():
            with contextlib.suppress(Exception):
                process.join(timeout=5)
        codes = {pid: process.exitcode for pid, process in self.processes.items()}
        late = self.started()
        with contextlib.suppress(Exception):
            self.reports.close()
        return codes, late

    def _restart(self, *, kill: bool) -> tuple[dict[int, int | None], list[tuple[int, int]]]:
        stopped = self._stop(kill=kill)
        self._open()
        return stopped


def run_pool(
    ledger: TaskLedger, *, jobs: int, timeout: float | None, worker: Worker | None
) -> None:
    """Run every task of the ledger on ``jobs`` worker processes."""
    try:
        pickle.dumps(worker)
    except Exception as exc:
        raise ExecutionError(
            f"the worker function cannot be sent to worker processes: {error_reason(exc)}"
        ) from None
    # workers spawned meanwhile inherit one-thread BLAS settings (before numpy loads)
    with environ(dict.fromkeys(BLAS_THREAD_VARS, "1")):
        TaskLoop(ledger, ProcessPool(ledger, jobs, worker), timeout).run()
