"""The one submit / settle / timeout loop that drives a pool of workers, local or on dask.

:class:`TaskLoop` keeps at most ``backend.limit`` tasks submitted, so an interruption loses
little and memory stays bounded; it notes which tasks started (from the backend's reports), hands
each finished task's results to the ledger, and fails a task that runs longer than ``timeout``.
What differs between a local process pool and a dask cluster is behind :class:`Backend`: how a
task is submitted, how its start is reported, what a finished future means, how lost tasks are
recovered and how an expired task's worker is freed. Imports the rest of
:mod:`runner.execution`.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import TYPE_CHECKING, Any, Protocol

from runner.execution.ledger import POLL_SECONDS, TaskLedger
from runner.spec import RunResult

if TYPE_CHECKING:
    from runner.engine.population import PopulationTask


class Lost(Exception):
    """A task's future says the worker, or the backend, is gone: the task was not computed."""


class Backend(Protocol):
    """What the loop needs of the thing that runs tasks."""

    #: the most tasks submitted and not yet settled
    limit: int

    def submit(self, index: int, task: PopulationTask) -> Future:
        """Submit one task; raise :class:`Lost` if the backend broke and must recover first."""

    def started(self) -> list[tuple[int, Any]]:
        """``(task index, where it runs)`` for every task that began since the last call."""

    def outcome(self, future: Future) -> list[RunResult] | str:
        """A finished future's results, or the reason its task failed; raise :class:`Lost`
        when the task was lost with its worker."""

    def recover(self, loop: TaskLoop, lost: list[int], broken: bool) -> list[int]:
        """Deal with tasks lost with their workers (``broken``: a submission failed); returns
        the tasks to run again (the others were failed through the ledger)."""

    def expire(self, loop: TaskLoop, expired: list[int]) -> list[int]:
        """Free the workers of tasks over the timeout (already failed); returns the tasks to
        run again."""

    def abort(self) -> None:
        """Stop at once (Ctrl-C, an error in a callback)."""

    def close(self) -> None:
        """Stop after every task was settled."""


class TaskLoop:
    """Drives ``backend`` through every task of ``ledger`` (see the module docstring)."""

    def __init__(self, ledger: TaskLedger, backend: Backend, timeout: float | None) -> None:
        self.ledger = ledger
        self.backend = backend
        self.timeout = timeout
        self.todo = deque(range(len(ledger.tasks)))
        self.in_flight: dict[Future, int] = {}
        self.running: dict[int, tuple[Any, float]] = {}  # index -> (where, start time)

    def run(self) -> None:
        """Run every task; Ctrl-C aborts the backend and raises the ledger's KeyboardInterrupt."""
        try:
            while self.todo or self.in_flight:
                broken = self._submit()
                finished, _ = wait(
                    self.in_flight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED
                )
                self.note_started(self.backend.started())
                lost = self.settle(list(finished))
                if lost or broken:
                    self.requeue(self.backend.recover(self, lost, broken))
                elif self.timeout is not None:
                    expired = self._expired()
                    if expired:
                        for index in expired:
                            self.ledger.fail(index, f"timeout after {self.timeout:g} s")
                        self.requeue(self.backend.expire(self, expired))
        except KeyboardInterrupt as exc:
            self.backend.abort()
            raise self.ledger.interrupted(exc) from None
        except BaseException:
            self.backend.abort()
            raise
        self.backend.close()

    def _submit(self) -> bool:
        """Submit up to the limit; True when the backend broke on a submission."""
        while self.todo and len(self.in_flight) < self.backend.limit:
            index = self.todo.popleft()
            task = self.ledger.submit(index)
            if task is None:
                continue
            try:
                future = self.backend.submit(index, task)
            except Lost:  # a worker died since the last look
                self.todo.appendleft(index)
                return True
            self.in_flight[future] = index
        return False

    def note_started(self, reports: list[tuple[int, Any]]) -> None:
        for index, where in reports:
            if index not in self.ledger.done:
                self.running[index] = (where, time.monotonic())
                self.ledger.start(index)

    def settle(self, futures: list[Future]) -> list[int]:
        """Deliver what finished; return the indices of tasks lost with their worker (they stay
        in ``running``, so that the backend can tell which worker held them)."""
        lost = []
        for future in futures:
            index = self.in_flight.pop(future)
            try:
                outcome = self.backend.outcome(future)
            except Lost:
                lost.append(index)
                continue
            self.running.pop(index, None)
            if isinstance(outcome, str):
                self.ledger.fail(index, outcome)
            else:
                self.ledger.deliver(index, outcome)
        return lost

    def settle_all(self) -> list[int]:
        """Settle every future still in flight (after the backend stopped its workers)."""
        return self.settle(list(self.in_flight))

    def requeue(self, indices: list[int]) -> None:
        for index in sorted(indices, reverse=True):
            if index not in self.ledger.done:
                self.todo.appendleft(index)

    def _expired(self) -> list[int]:
        now = time.monotonic()
        waiting = {i: f for f, i in self.in_flight.items()}
        return [
            index
            for index, (_, began) in self.running.items()
            if now - began > self.timeout and index in waiting and not waiting[index].done()  # type: ignore[operator]
        ]
