"""Running population tasks: in this process, on a local process pool, or on a dask cluster.

:func:`run_tasks` is the one entry point the sweep uses, whatever executes the work:

- ``jobs == 1`` and no ``timeout``: each task runs in the calling process, one after another.
- ``jobs > 1`` (or a ``timeout``, which needs a process that can be stopped): a
  :class:`concurrent.futures.ProcessPoolExecutor` on the ``spawn`` start method (safe with the
  driver's threads and open MLflow connections), each worker limited to one BLAS thread.
- ``scheduler="tcp://host:port"``: ``distributed.Client(address).get_executor(pure=False)``;
  dask is imported only then.

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
import queue
import signal
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from runner.errors import ExecutionError
from runner.spec import RunResult

if TYPE_CHECKING:
    from runner.population import PopulationTask

Worker = Callable[["PopulationTask"], list[RunResult]]
OnResult = Callable[["PopulationTask", list[RunResult]], None]
OnStart = Callable[["PopulationTask"], None]

BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MAX_WORKER_DEATHS = 2  # a task whose worker dies this often is marked failed
MAX_IDLE_BREAKS = 3  # pool breaks in a row with no task running: workers cannot start
TASKS_PER_WORKER = 2  # bound on submitted-but-unfinished tasks, per worker
POLL_SECONDS = 0.2  # how often the driver looks at start reports and deadlines
CONNECT_SECONDS = 10  # how long to wait for a dask scheduler to answer
DASK_HINT = "dask is not installed: pip install 'runner[dask]'"


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
    driver = _Driver(tasks, on_result, on_start)
    if scheduler:
        _run_dask(driver, scheduler, jobs=jobs, timeout=timeout, worker=worker)
    elif jobs == 1 and timeout is None:
        _run_inline(driver, worker)
    else:
        _run_pool(driver, jobs=jobs, timeout=timeout, worker=worker)


def failed_results(task: PopulationTask, reason: str) -> list[RunResult]:
    """One ``failed`` result, with ``reason``, for each specification of the task."""
    return [
        RunResult(spec=spec, spec_hash=spec.spec_hash(), status="failed", reason=reason)
        for spec in task.specs
    ]


class _Driver:
    """The driving process's bookkeeping: which tasks were submitted, started and delivered."""

    def __init__(self, tasks: list[PopulationTask], on_result: OnResult, on_start: OnStart | None):
        self.tasks = tasks
        self.on_result = on_result
        self.on_start = on_start
        self.submitted: dict[int, None] = {}  # insertion-ordered set of task indices
        self.started: set[int] = set()
        self.done: set[int] = set()

    def submit(self, index: int) -> None:
        # noted before the actual submission: an interruption in between errs towards in_flight
        self.submitted[index] = None

    def start(self, index: int) -> None:
        if index in self.started or index in self.done:
            return
        self.started.add(index)
        if self.on_start is not None:
            self.on_start(self.tasks[index])

    def deliver(self, index: int, results: list[RunResult]) -> None:
        """Hand a task's results to ``on_result``, unless that already happened."""
        if index in self.done:
            return
        self.start(index)
        self.on_result(self.tasks[index], results)
        self.done.add(index)

    def fail(self, index: int, reason: str) -> None:
        self.deliver(index, failed_results(self.tasks[index], reason))

    def interrupted(self) -> KeyboardInterrupt:
        exc = KeyboardInterrupt()
        exc.in_flight = [self.tasks[i] for i in self.submitted if i not in self.done]  # type: ignore[attr-defined]
        return exc


def _default_worker() -> Worker:
    from runner.population import run_population

    return run_population


def _error_reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --- in the calling process -------------------------------------------------------------------


def _run_inline(driver: _Driver, worker: Worker | None) -> None:
    work = worker or _default_worker()
    try:
        for index, task in enumerate(driver.tasks):
            driver.submit(index)
            driver.start(index)
            try:
                results = work(task)
            except Exception as exc:
                results = failed_results(task, _error_reason(exc))
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
    return (worker or _default_worker())(task)


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


def _run_pool(driver: _Driver, *, jobs: int, timeout: float | None, worker: Worker | None) -> None:
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
                driver.fail(index, _error_reason(exc))
        return lost

    def requeue(indices: list[int]) -> None:
        for index in sorted(indices, reverse=True):
            if index not in driver.done:
                todo.appendleft(index)

    try:
        pickle.dumps(worker)
    except Exception as exc:
        raise ExecutionError(
            f"the worker function cannot be sent to worker processes: {_error_reason(exc)}"
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


# --- on a dask cluster ------------------------------------------------------------------------


def _dask_work(worker: Worker | None, index: int, task: PopulationTask, topic: str) -> Any:
    """What a dask worker runs for one task: report the start as an event, then compute."""
    with contextlib.suppress(Exception):
        from distributed import get_worker

        this = get_worker()
        this.log_event(topic, {"index": index, "worker": this.address})
    return (worker or _default_worker())(task)


def _probe(address: str) -> None:
    """Fail fast, with a clear message, if nothing listens at a tcp:// scheduler address."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme != "tcp":
        return
    host, _, port = rest.rpartition(":")
    if not host:
        host, port = rest, "8786"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS):
            pass
    except ValueError:
        raise ExecutionError(f"invalid dask scheduler address {address!r}") from None
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise ExecutionError(f"cannot reach the dask scheduler at {address}: {why}") from None


def _connect(address: str) -> Any:
    try:
        import distributed
    except ImportError:
        raise ExecutionError(DASK_HINT) from None
    _probe(address)
    try:
        return distributed.Client(address, timeout=f"{CONNECT_SECONDS}s", set_as_default=False)
    except Exception as exc:
        raise ExecutionError(
            f"cannot reach the dask scheduler at {address}: {_error_reason(exc)}"
        ) from None


def _run_dask(
    driver: _Driver, address: str, *, jobs: int, timeout: float | None, worker: Worker | None
) -> None:
    """Run on a dask cluster; dask itself reschedules tasks whose worker died.

    A task whose workers keep dying ends with dask's ``KilledWorker`` and is marked failed. A
    timed-out task's future is cancelled and, if its worker has a nanny, the worker is restarted
    (dask cannot interrupt a running task otherwise). On Ctrl-C the futures are cancelled; tasks
    already running on the cluster finish there and their results are discarded.
    """
    client = _connect(address)
    tasks = driver.tasks
    topic = f"runner-start-{uuid.uuid4().hex}"
    reports: queue.SimpleQueue = queue.SimpleQueue()
    executor = None
    restarts: list[threading.Thread] = []
    try:
        client.subscribe_topic(topic, lambda event: reports.put(event[1]))
        executor = client.get_executor(pure=False)
        threads = sum(client.nthreads().values())
        limit = TASKS_PER_WORKER * max(threads, jobs, 1)
        todo = deque(range(len(tasks)))
        in_flight: dict[Future, int] = {}
        running: dict[int, tuple[str, float]] = {}  # task index -> (worker address, start time)
        lost: Counter[int] = Counter()
        while todo or in_flight:
            while todo and len(in_flight) < limit:
                index = todo.popleft()
                driver.submit(index)
                future = executor.submit(_dask_work, worker, index, tasks[index], topic)
                in_flight[future] = index
            finished, _ = wait(in_flight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            while True:
                try:
                    report = reports.get_nowait()
                except queue.Empty:
                    break
                index = int(report["index"])
                if index not in driver.done:
                    running[index] = (str(report["worker"]), time.monotonic())
                    driver.start(index)
            for future in finished:
                index = in_flight.pop(future)
                running.pop(index, None)
                if future.cancelled():  # not by us: the cluster lost it
                    if client.status not in ("running", "connecting"):
                        raise ExecutionError(f"lost the dask scheduler at {address}")
                    lost[index] += 1
                    if lost[index] > MAX_WORKER_DEATHS:
                        driver.fail(index, "lost by the dask cluster")
                    elif index not in driver.done:
                        todo.appendleft(index)
                    continue
                exc = future.exception()
                if exc is None:
                    driver.deliver(index, future.result())
                elif type(exc).__name__ == "KilledWorker":
                    driver.fail(index, "worker process died (dask gave up: KilledWorker)")
                else:
                    driver.fail(index, _error_reason(exc))
            if timeout is not None:
                now = time.monotonic()
                waiting = {i: f for f, i in in_flight.items()}
                stuck = set()
                for index, (where, began) in list(running.items()):
                    future = waiting.get(index)
                    if future is None or future.done() or now - began <= timeout:
                        continue
                    future.cancel()
                    del in_flight[future]
                    del running[index]
                    driver.fail(index, f"timeout after {timeout:g} s")
                    stuck.add(where)
                if stuck:
                    restarts.append(_restart_dask_workers(client, stuck))
        for thread in restarts:  # let restarts finish before the client goes away
            thread.join(timeout=2 * CONNECT_SECONDS)
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            executor.shutdown(wait=False)  # type: ignore[union-attr]
        raise driver.interrupted() from None
    finally:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(topic)
        with contextlib.suppress(Exception):
            client.close(timeout=5)


def _restart_dask_workers(client: Any, addresses: set[str]) -> threading.Thread:
    """Restart, in the background, the workers whose thread is stuck in a timed-out task.

    Only workers with a nanny are restarted (the scheduler would shut down the others for good);
    the driver does not wait for them to come back.
    """

    def restart() -> None:
        with contextlib.suppress(Exception):
            known = client.scheduler_info().get("workers", {})
            nannied = [a for a in addresses if known.get(a, {}).get("nanny")]
            if not nannied:
                return
            try:
                client.sync(
                    client.scheduler.restart_workers,
                    workers=nannied,
                    timeout=CONNECT_SECONDS,
                    wait_for_workers=False,
                    on_error="return",
                    stimulus_id=f"runner-timeout-{time.time()}",
                )
            except TypeError:  # an older scheduler: restart and wait for the workers
                client.restart_workers(nannied, timeout=30, raise_for_error=False)

    thread = threading.Thread(target=restart, name="runner-restart-workers", daemon=True)
    thread.start()
    return thread
