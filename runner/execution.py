"""Running population tasks: in this process, on a local process pool, or on a dask cluster.

:func:`run_tasks` is the one entry point the sweep uses, whatever executes the work:

- ``jobs == 1`` and no ``timeout``: each task runs in the calling process, one after another.
- ``jobs > 1`` (or a ``timeout``, which needs a process that can be stopped): a
  :class:`concurrent.futures.ProcessPoolExecutor` on the ``spawn`` start method (safe with the
  driver's threads and open MLflow connections), each worker limited to one BLAS thread.
- ``scheduler="tcp://host:port"``: ``distributed.Client(address).get_executor(pure=False)``
  (:mod:`runner.dask_executor`); dask is imported only then.

Whatever runs the tasks, the results come back to the driving process, which alone calls
``on_start`` and ``on_result`` — each at most once per task, ``on_start`` always before
``on_result``. The driver keeps at most two tasks per worker submitted, so an interruption loses
little and memory stays bounded.

Faults are confined to the task that causes them. A worker process that dies (a plugin calling
``os._exit``, the kernel's out-of-memory killer) breaks the pool: it is rebuilt and only the tasks
without a result are resubmitted; a task whose worker dies twice gets ``failed`` results.
A task running longer than ``timeout`` seconds gets ``failed`` results and its worker is stopped.
On Ctrl-C the pool's processes are killed and :class:`KeyboardInterrupt` is re-raised with an
``in_flight`` attribute listing the tasks that were submitted but have no result.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from runner.driver import (
    MAX_WORKER_DEATHS,
    POLL_SECONDS,
    TASKS_PER_WORKER,
    Driver,
    OnResult,
    OnStart,
    Worker,
    default_worker,
    error_reason,
    failed_results,
)
from runner.errors import ExecutionError
from runner.spec import RunResult

if TYPE_CHECKING:
    from runner.population import PopulationTask

BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MAX_IDLE_BREAKS = 3  # pool breaks in a row with no task running: workers cannot start


def default_jobs() -> int:
    """How many worker processes to use by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def run_tasks(
    tasks: Sequence[PopulationTask],
    *,
    jobs: int,
    scheduler: str | None,
    timeout: float | None,
    on_result: OnResult,
    on_start: OnStart | None = None,
    worker: Worker | None = None,
) -> None:
    """Run every task and hand each one's results to ``on_result`` in this process.

    ``worker`` computes one task's results (default :func:`runner.population.run_population`);
    it must be a module-level function (or a :func:`functools.partial` of one) so that worker
    processes can import it. ``timeout`` (seconds per task) is enforced by stopping the worker
    process, so with ``jobs == 1`` and a timeout the tasks run in one worker process rather
    than in the calling process.

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
    driver = Driver(tasks, on_result, on_start)
    if scheduler:
        from runner.dask_executor import run_dask

        run_dask(driver, scheduler, jobs=jobs, timeout=timeout, worker=worker)
    elif jobs == 1 and timeout is None:
        _run_inline(driver, worker)
    else:
        _run_pool(driver, jobs=jobs, timeout=timeout, worker=worker)


# --- in the calling process -------------------------------------------------------------------


def _run_inline(driver: Driver, worker: Worker | None) -> None:
    work = worker or default_worker()
    try:
        for index, task in enumerate(driver.tasks):
            driver.submit(index)
            driver.start(index)
            try:
                results = work(task)
            except Exception as exc:
                results = failed_results(task, error_reason(exc))
            driver.deliver(index, results)
    except KeyboardInterrupt:
        raise driver.interrupted() from None


# --- on a local process pool ------------------------------------------------------------------

_started_reports: Any = None  # in a pool worker: where it reports (task index, pid) on start


def _init_pool_worker(started_reports: Any) -> None:
    """Worker initializer: ignore Ctrl-C (the driver stops us), one BLAS thread, report queue."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
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


@contextlib.contextmanager
def _single_blas_thread_env() -> Iterator[None]:
    """Worker processes started meanwhile inherit one-thread BLAS settings (before numpy loads)."""
    saved = {var: os.environ.get(var) for var in BLAS_THREAD_VARS}
    os.environ.update(dict.fromkeys(BLAS_THREAD_VARS, "1"))
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT while worker processes are spawned, so they start with it blocked.

    A Ctrl-C to the whole process group then cannot interrupt a worker that is still
    importing; the worker's initializer ignores SIGINT and unblocks it. In the driver the signal
    stays pending and arrives as soon as the block ends, so it is never lost.
    """
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not (
        threading.main_thread()
    ):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold back Ctrl-C until the block is done, then raise it as it would have been raised.

    For work that must not be cut in half, such as writing one run to the tracking store: a
    KeyboardInterrupt in the middle of it would leave a run half-written and, on SQLite, a
    transaction open that locks the store for the writes that follow (marking the rest
    KILLED). Python runs signal handlers in the main thread only, so elsewhere this does
    nothing. The handler is swapped rather than the signal masked, because any other thread
    without the mask (a progress display's) would still let the signal through.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and previous is not signal.SIG_IGN:
            if callable(previous):
                previous(signal.SIGINT, None)
            else:
                raise KeyboardInterrupt


class _ProcessPool:
    """A ProcessPoolExecutor that can be torn down and rebuilt, and says which worker ran what."""

    def __init__(self, jobs: int, worker: Worker | None):
        self.jobs = jobs
        self.worker = worker
        self.context = multiprocessing.get_context("spawn")
        self.executor: ProcessPoolExecutor | None = None
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

    def submit(self, index: int, task: PopulationTask) -> Future:
        assert self.executor is not None
        with _sigint_blocked():
            future = self.executor.submit(_pool_work, self.worker, index, task)
        self._note_processes()
        return future

    def started(self) -> list[tuple[int, int]]:
        """(task index, worker pid) for every task that began since the last call."""
        out = []
        with contextlib.suppress(OSError, EOFError, ValueError):
            while not self.reports.empty():
                out.append(self.reports.get())
        return out

    def stop(self, *, kill: bool) -> tuple[dict[int, int | None], list[tuple[int, int]]]:
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

    def restart(self, *, kill: bool) -> tuple[dict[int, int | None], list[tuple[int, int]]]:
        stopped = self.stop(kill=kill)
        self._open()
        return stopped

    def kill(self) -> None:
        self.stop(kill=True)

    def close(self) -> None:
        self.stop(kill=False)


def _death_reason(code: int | None) -> str:
    if code is None:
        return "worker process died"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"worker process died (exit code {code}, {signal.Signals(-code).name})"
    return f"worker process died (exit code {code})"


def _run_pool(driver: Driver, *, jobs: int, timeout: float | None, worker: Worker | None) -> None:
    tasks = driver.tasks
    todo = deque(range(len(tasks)))
    in_flight: dict[Future, int] = {}
    running: dict[int, tuple[int, float]] = {}  # task index -> (worker pid, start time)
    deaths: Counter[int] = Counter()
    idle_breaks = 0  # breaks in a row with no task running and no result in between
    done_at_last_break = 0

    def note_started(reports: list[tuple[int, int]]) -> None:
        for index, pid in reports:
            running[index] = (pid, time.monotonic())
            driver.start(index)

    def settle(futures: list[Future]) -> list[int]:
        """Deliver what finished; return the indices of tasks lost with their worker."""
        lost = []
        for future in futures:
            index = in_flight.pop(future)
            if future.cancelled():
                lost.append(index)
                continue
            exc = future.exception()
            if exc is None:
                running.pop(index, None)
                driver.deliver(index, future.result())
            elif isinstance(exc, BrokenProcessPool):
                lost.append(index)
            else:  # the worker function raised, or its results did not pickle
                running.pop(index, None)
                driver.fail(index, error_reason(exc))
        return lost

    def requeue(indices: list[int]) -> None:
        for index in sorted(indices, reverse=True):
            if index not in driver.done:
                todo.appendleft(index)

    try:
        pickle.dumps(worker)
    except Exception as exc:
        raise ExecutionError(
            f"the worker function cannot be sent to worker processes: {error_reason(exc)}"
        ) from None
    with _single_blas_thread_env():
        pool = _ProcessPool(jobs, worker)
        try:
            while todo or in_flight:
                broken = False
                while todo and len(in_flight) < TASKS_PER_WORKER * jobs:
                    index = todo.popleft()
                    driver.submit(index)
                    try:
                        in_flight[pool.submit(index, tasks[index])] = index
                    except BrokenProcessPool:  # a worker died since the last look
                        todo.appendleft(index)
                        broken = True
                        break
                finished, _ = wait(in_flight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                note_started(pool.started())
                lost = settle(list(finished))
                if lost or broken:
                    # a worker died: the pool is broken and every unfinished future fails with it
                    codes, late = pool.restart(kill=False)
                    note_started(late)
                    lost += settle(list(in_flight))
                    was_running = {i: codes.get(running[i][0]) for i in lost if i in running}
                    # the pool terminates the other workers with SIGTERM; the culprit died otherwise
                    culprits = {i: c for i, c in was_running.items() if c != -signal.SIGTERM}
                    culprits = culprits or was_running
                    running.clear()
                    if culprits or len(driver.done) > done_at_last_break:
                        idle_breaks = 0
                    else:
                        idle_breaks += 1
                    done_at_last_break = len(driver.done)
                    if idle_breaks >= MAX_IDLE_BREAKS:
                        shown = sorted({str(c) for c in codes.values()})
                        raise ExecutionError(
                            "worker processes keep dying before running any task "
                            f"(exit codes {', '.join(shown)})"
                        )
                    for index, code in culprits.items():
                        deaths[index] += 1
                        if deaths[index] >= MAX_WORKER_DEATHS:
                            driver.fail(index, _death_reason(code))
                    requeue(lost)
                elif timeout is not None:
                    now = time.monotonic()
                    waiting = {i: f for f, i in in_flight.items()}
                    expired = [
                        i
                        for i, (_, began) in running.items()
                        if now - began > timeout and i in waiting and not waiting[i].done()
                    ]
                    if expired:
                        for index in expired:
                            driver.fail(index, f"timeout after {timeout:g} s")
                        # free the workers: stop the whole pool, resubmit the others' tasks
                        _, late = pool.restart(kill=True)
                        note_started(late)
                        requeue(settle(list(in_flight)))
                        running.clear()
        except KeyboardInterrupt:
            pool.kill()
            raise driver.interrupted() from None
        except BaseException:
            pool.kill()
            raise
        pool.close()
