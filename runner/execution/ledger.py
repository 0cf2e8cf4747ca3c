"""The books of one :func:`runner.execution.run_tasks` call, kept in the driving process.

:class:`TaskLedger` records which tasks were submitted, started and delivered, whatever runs
them. It calls ``on_start`` and ``on_result`` at most once per task, ``on_start`` always before
``on_result``, and on Ctrl-C (or another stop signal) builds the :class:`KeyboardInterrupt`
whose ``in_flight`` lists the tasks submitted but without a result and ``started`` those that had
begun. Imports :mod:`runner.spec`, :mod:`runner.engine` and the signals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from runner.execution.signals import Stopped, signum_of
from runner.spec import RunResult

if TYPE_CHECKING:
    from runner.engine.population import PopulationTask

Worker = Callable[["PopulationTask"], list[RunResult]]
OnResult = Callable[["PopulationTask", list[RunResult]], None]
OnStart = Callable[["PopulationTask"], None]
#: called before a task is submitted: the task to run (perhaps with fewer specifications), or
#: None when none of it is to run any more
OnSubmit = Callable[["PopulationTask"], "PopulationTask | None"]

MAX_WORKER_DEATHS = 2  # a task whose worker dies this often is marked failed
TASKS_PER_WORKER = 2  # bound on submitted-but-unfinished tasks, per worker
POLL_SECONDS = 0.2  # how often the driver looks at start reports and deadlines


def failed_results(task: PopulationTask, reason: str) -> list[RunResult]:
    """One ``failed`` result, with ``reason``, for each specification of the task."""
    return [
        RunResult(spec=spec, spec_hash=spec.spec_hash(), status="failed", reason=reason)
        for spec in task.specs
    ]


class TaskLedger:
    """Which tasks were submitted, started and delivered; calls the callbacks exactly once."""

    def __init__(
        self,
        tasks: list[PopulationTask],
        on_result: OnResult,
        on_start: OnStart | None,
        on_submit: OnSubmit | None = None,
    ):
        self.tasks = tasks
        self.on_result = on_result
        self.on_start = on_start
        self.on_submit = on_submit
        self.submitted: dict[int, None] = {}  # insertion-ordered set of task indices
        self.started: set[int] = set()
        self.done: set[int] = set()

    def submit(self, index: int) -> PopulationTask | None:
        """The task to hand to a worker now (``on_submit`` may have narrowed it), or None when
        nothing of it is left to run (it is then done, with no results)."""
        # noted before the actual submission: an interruption in between errs towards in_flight
        self.submitted[index] = None
        if self.on_submit is not None and index not in self.started:
            task = self.on_submit(self.tasks[index])
            if task is None:
                self.done.add(index)
                return None
            self.tasks[index] = task
        return self.tasks[index]

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

    def interrupted(self, cause: BaseException) -> KeyboardInterrupt:
        """The KeyboardInterrupt to raise when ``cause`` (Ctrl-C, a stop signal) stopped the
        tasks: its ``in_flight`` lists the tasks submitted without a result, ``started`` those of
        them that had started, and ``signum`` the signal."""
        exc = Stopped(signum_of(cause))
        exc.in_flight = [self.tasks[i] for i in self.submitted if i not in self.done]  # type: ignore[attr-defined]
        exc.started = [  # type: ignore[attr-defined]
            self.tasks[i] for i in self.submitted if i in self.started and i not in self.done
        ]
        return exc


def default_worker() -> Worker:
    """The worker used when none is given: :func:`runner.engine.population.run_population`."""
    from runner.engine.population import run_population

    return run_population
