"""Running population tasks on a dask cluster: ``run_tasks(..., scheduler="tcp://host:port")``.

The tasks go through ``distributed.Client(address).get_executor(pure=False)``; each worker reports
the start of a task as an event on a topic of this run, so that ``on_start`` is called in the
driving process. dask itself reschedules the tasks of a worker that died. :func:`run_tasks
<runner.execution.run_tasks>` imports this module only when a scheduler is given, and dask is
imported only inside :func:`run_dask`, so ``runner`` works without dask installed.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Any

from runner.driver import (
    MAX_WORKER_DEATHS,
    POLL_SECONDS,
    TASKS_PER_WORKER,
    Driver,
    Worker,
    default_worker,
    error_reason,
)
from runner.errors import ExecutionError

if TYPE_CHECKING:
    from runner.population import PopulationTask

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


def run_dask(
    driver: Driver, address: str, *, jobs: int, timeout: float | None, worker: Worker | None
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
                    driver.fail(index, error_reason(exc))
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
