"""Running population tasks on a dask cluster: ``run_tasks(..., scheduler="tcp://host:port")``.

The tasks go through ``distributed.Client(address).get_executor(pure=False)``; each worker reports
the start of a task as an event on a topic of this run, so that ``on_start`` is called in the
driving process. dask itself reschedules the tasks of a worker that died; a task whose workers
keep dying ends with dask's ``KilledWorker`` and is failed. A timed-out task's future is
cancelled and, if its worker has a nanny, the worker is restarted (dask cannot interrupt a
running task otherwise). On Ctrl-C the futures are cancelled; tasks already running on the
cluster finish there and their results are discarded. :func:`runner.execution.run_tasks`
imports this module only when a scheduler is given, and dask is imported only inside
:func:`run_dask`, so ``runner`` works without dask installed. Imports the rest of
:mod:`runner.execution`.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from runner.errors import ExecutionError, error_reason
from runner.execution.ledger import (
    MAX_WORKER_DEATHS,
    TASKS_PER_WORKER,
    TaskLedger,
    Worker,
    default_worker,
)
from runner.execution.loop import Lost, TaskLoop
from runner.spec import RunResult

if TYPE_CHECKING:
    from runner.engine.population import PopulationTask

CONNECT_SECONDS = 10  # how long to wait for a dask scheduler to answer
DASK_HINT = "dask is not installed: pip install 'runner[dask]'"


def _dask_work(worker: Worker | None, index: int, task: PopulationTask, topic: str) -> Any:
    """What a dask worker runs for one task: report the start as an event, then compute."""
    with contextlib.suppress(Exception):
        from distributed import get_worker

        this = get_worker()
        this.log_event(topic, {"index": index, "worker": this.address})
    return (worker or default_worker())(task)


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
            f"cannot reach the dask scheduler at {address}: {error_reason(exc)}"
        ) from None


class DaskCluster:
    """The :class:`~runner.execution.loop.Backend` of the task loop for a dask cluster."""

    def __init__(self, ledger: TaskLedger, client: Any, address: str, jobs: int, worker: Any):
        self.ledger = ledger
        self.client = client
        self.address = address
        self.worker = worker
        self.topic = f"runner-start-{uuid.uuid4().hex}"
        self.reports: queue.SimpleQueue = queue.SimpleQueue()
        client.subscribe_topic(self.topic, lambda event: self.reports.put(event[1]))
        self.executor = client.get_executor(pure=False)
        self.limit = TASKS_PER_WORKER * max(sum(client.nthreads().values()), jobs, 1)
        self.lost: Counter[int] = Counter()
        self.restarts: list[threading.Thread] = []

    def submit(self, index: int, task: PopulationTask) -> Future:
        return self.executor.submit(_dask_work, self.worker, index, task, self.topic)

    def started(self) -> list[tuple[int, Any]]:
        out = []
        while True:
            try:
                report = self.reports.get_nowait()
            except queue.Empty:
                return out
            out.append((int(report["index"]), str(report["worker"])))

    def outcome(self, future: Future) -> list[RunResult] | str:
        if future.cancelled():  # not by us: the cluster lost it
            raise Lost
        exc = future.exception()
        if exc is None:
            return future.result()
        if type(exc).__name__ == "KilledWorker":
            return "worker process died (dask gave up: KilledWorker)"
        return error_reason(exc)

    def recover(self, loop: TaskLoop, lost: list[int], broken: bool) -> list[int]:
        """Run lost tasks again, up to MAX_WORKER_DEATHS times each; a lost scheduler ends it."""
        if self.client.status not in ("running", "connecting"):
            raise ExecutionError(f"lost the dask scheduler at {self.address}")
        again = []
        for index in lost:
            loop.running.pop(index, None)
            self.lost[index] += 1
            if self.lost[index] > MAX_WORKER_DEATHS:
                self.ledger.fail(index, "lost by the dask cluster")
            else:
                again.append(index)
        return again

    def expire(self, loop: TaskLoop, expired: list[int]) -> list[int]:
        """Cancel the expired tasks' futures and restart their workers in the background."""
        waiting = {i: f for f, i in loop.in_flight.items()}
        stuck = set()
        for index in expired:
            future = waiting[index]
            future.cancel()
            del loop.in_flight[future]
            stuck.add(loop.running.pop(index)[0])
        self.restarts.append(_restart_dask_workers(self.client, stuck))
        return []

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.executor.shutdown(wait=False)

    def close(self) -> None:
        for thread in self.restarts:  # let restarts finish before the client goes away
            thread.join(timeout=2 * CONNECT_SECONDS)


def run_dask(
    ledger: TaskLedger, address: str, *, jobs: int, timeout: float | None, worker: Worker | None
) -> None:
    """Run every task of the ledger on the dask cluster at ``address``."""
    client = _connect(address)
    backend = None
    try:
        backend = DaskCluster(ledger, client, address, jobs, worker)
        TaskLoop(ledger, backend, timeout).run()
    finally:
        if backend is not None:
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(backend.topic)
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
