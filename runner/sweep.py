"""A sweep from table to tracking store: validate, plan populations, execute, record.

The pipeline of ``docs/architecture.md``: the table becomes validated
:class:`~runner.spec.RunSpec`\\ s (:mod:`runner.table`); the specifications not yet FINISHED in the
experiment are grouped into populations that share shapes and plugins
(:func:`plan_populations`); an executor trains them (:mod:`runner.execution`); the one recorder
in this process writes every result to MLflow as it arrives (:mod:`runner.tracking`). Nothing is
written for a table that does not validate. May import every room but the CLI; the table,
execution and tracking rooms are imported when a sweep runs, not when this module is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.engine import budget, curvature
from runner.engine.data import DataKey
from runner.engine.minimize import descent_schedule_of
from runner.engine.population import PopulationTask, schedule_of
from runner.engine.training import MAX_POINTS
from runner.errors import RunnerError, TableError
from runner.plugin.registry import Registry, get_registry
from runner.spec import RunResult, RunSpec

#: the most networks one population trains at once; larger groups are split to bound memory.
#: The driver holds the results of every population in flight (about 11 KB a run with its
#: history and weights) while it records them, so this also bounds the driver's memory
MAX_MEMBERS = 2_000
#: below this many networks a population is not split further to feed more workers
MIN_SPLIT_MEMBERS = 8
#: a plan estimated to take longer than this many hours is refused unless --max-hours says more
MAX_HOURS = 24.0
#: without --timeout, a population may train this many times its estimated time (the budget's,
#: runner/engine/budget.py), and at least GUARD_FLOOR seconds, before its runs fail as timed
#: out: a guard against a plugin's loop that never ends, far beyond any honest slowness
GUARD_FACTOR = 20.0
GUARD_FLOOR = 600.0


class SweepInterrupted(RunnerError):
    """Ctrl-C, SIGTERM or SIGHUP: the runs that were training were marked KILLED; the same
    command again finishes the rest. The exit code is 128 + the signal (130, 143, 129)."""

    def __init__(self, message: str, *, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


class FailFast(RunnerError):
    """``--fail-fast`` stopped the sweep at its first failed run."""

    exit_code = 1


@dataclass
class SweepSummary:
    """What a sweep did, for the command line to report."""

    table: Path
    experiment: str
    tracking_uri: str
    planned: int = 0
    skipped: int = 0
    finished: int = 0
    diverged: int = 0
    failed: int = 0
    killed: int = 0
    taken: int = 0  # left to another sweep that claimed them while this one ran
    populations: int = 0
    parent_run_id: str | None = None
    best: tuple[str, RunResult] | None = None
    #: a dry run's plan, every configuration; after a sweep, the runs kept for its report (the
    #: best :data:`KEPT` by its ranking and the first :data:`KEPT` failed): a sweep of any size
    #: keeps counts and these, never every result
    results: list[tuple[str | None, RunResult]] = field(default_factory=list)
    #: what a running sweep keeps of its results (see :class:`Leaderboard`)
    leaderboard: Leaderboard | None = field(default=None, repr=False)
    ui_command: str = ""
    dry_run: bool = False
    rank_by: str | None = None
    ranking: Ranking | None = None
    #: the plan's estimated peak memory (bytes) and training time (seconds), when checked
    estimate: budget.Estimate | None = None
    #: the per-configuration statistics of the experiment at the sweep's end (:func:`study`)
    study: Study | None = None
    #: what waits in the local spool at the end (the store was away): results, ends of sweeps,
    #: and the folder; the next sweep of the experiment from this folder replays them
    spooled: int = 0
    spooled_ends: int = 0
    spool: Path | None = None

    @property
    def to_run(self) -> int:
        return self.planned - self.skipped

    def counts(self) -> dict[str, int]:
        return {
            "planned": self.planned,
            "skipped": self.skipped,
            "finished": self.finished,
            "diverged": self.diverged,
            "failed": self.failed,
            "killed": self.killed,
            "taken": self.taken,
        }


class Observer:
    """Callbacks the command line uses to show progress; every method may be left as is."""

    def planned(self, summary: SweepSummary, tasks: list[PopulationTask]) -> None: ...

    def result(self, summary: SweepSummary, result: RunResult, run_id: str | None) -> None: ...


def plan_populations(
    specs: list[RunSpec],
    registry: Registry | None = None,
    *,
    jobs: int = 1,
    max_members: int = MAX_MEMBERS,
    log_every: int = 0,
    max_points: int = MAX_POINTS,
) -> list[PopulationTask]:
    """Group specifications that can train together, then split to bound memory and feed workers.

    Members of one population share layer sizes, plugins, data and batching; learning rates,
    momenta (any step-rule parameter declared ``per_member``), seeds and restarts may differ.
    """
    registry = registry or get_registry()
    groups: dict[tuple[Any, ...], list[RunSpec]] = defaultdict(list)
    for spec in specs:
        rule = registry.get("step_rule", spec.optimizer)
        rate = registry.get("schedule", spec.schedule)
        per_member = frozenset(p.name for p in (*rule.params, *rate.params) if p.per_member)
        groups[spec.population_key(per_member)].append(spec)

    def members(spec: RunSpec) -> int:
        strategy = registry.get("strategy", spec.strategy)
        return strategy.members(**spec.params_of("strategy"))

    total = sum(members(s) for s in specs)
    # aim for at least `jobs` pieces of work overall, never pieces smaller than MIN_SPLIT_MEMBERS
    target = max_members
    if jobs > 1 and total:
        target = min(max_members, max(MIN_SPLIT_MEMBERS, math.ceil(total / jobs)))
    tasks: list[PopulationTask] = []
    for group in groups.values():
        group_members = sum(members(s) for s in group)
        quota = group_members / math.ceil(group_members / target)  # equal shares, each <= target
        chunk: list[RunSpec] = []
        size = 0
        for spec in group:
            chunk.append(spec)
            size += members(spec)
            if size >= quota:
                tasks.append(PopulationTask(tuple(chunk), log_every, max_points))
                chunk, size = [], 0
        if chunk:
            tasks.append(PopulationTask(tuple(chunk), log_every, max_points))
    # the largest populations first, so the slowest work starts early
    tasks.sort(key=lambda t: -sum(members(s) * s.epochs for s in t.specs))
    return tasks


def run_sweep(
    table: Path | str,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    rerun: bool = False,
    dry_run: bool = False,
    fail_fast: bool = False,
    log_every: int = 0,
    timeout: float | None = None,
    rank_by: str | None = None,
    observer: Observer | None = None,
    bounds: Mapping[str, int | None] | None = None,
    max_memory: float | None = None,
    max_hours: float = MAX_HOURS,
    report: bool = False,
) -> SweepSummary:
    """Run every configuration of ``table`` not yet FINISHED in its experiment.

    Raises :class:`~runner.errors.TableError` (nothing written) for a table that does not
    validate, :class:`~runner.errors.TrackingError` for an unusable store,
    :class:`SweepInterrupted` after Ctrl-C, SIGTERM or SIGHUP (each stops the sweep the same
    way; a second one during the stop is ignored) and :class:`FailFast` under ``fail_fast``.

    ``bounds`` lifts the upper bounds of :data:`runner.engine.settings.BOUNDS` (name -> limit).
    A plan whose estimated memory (:mod:`runner.engine.budget`) exceeds ``max_memory`` bytes
    (default: what the machine has available) or whose estimated time exceeds ``max_hours`` is
    refused with the estimate, a :class:`~runner.errors.TableError`, before the store is opened
    (not checked with a ``scheduler``: the cluster's machines are not this one).

    With ``report`` (``runner sweep`` asks for it unless ``--no-report``), a sweep that
    finishes logs the experiment's study (:func:`study`: the per-configuration table and the
    figures) to its parent run and keeps it in the summary; the figures take seconds.
    """
    from runner import execution, tracking
    from runner.table import load_specs

    observer = observer or Observer()
    path = Path(table)
    check_experiment_name(experiment or path.stem, given=bool(experiment), table=path)
    with execution.stopping_on_signals(), _stopped_before_recording():
        registry = get_registry()
        shapes: dict[DataKey, tuple[int, int, int]] = {}
        specs = load_specs(path, registry, bounds=bounds, shapes=shapes)
        estimate = None
        if not scheduler:
            estimate = check_budget(
                path,
                plan_populations(specs, registry, jobs=jobs, log_every=log_every),
                shapes,
                registry,
                jobs=jobs,
                max_memory=max_memory,
                max_hours=max_hours,
            )

        uri = tracking.resolve_uri(tracking_uri)
        summary = SweepSummary(table=path, experiment=experiment or path.stem, tracking_uri=uri)
        summary.planned = len(specs)
        summary.rank_by = rank_by
        summary.estimate = estimate
        if dry_run:
            summary.dry_run = True
            done = set() if rerun else tracking.finished_hashes_readonly(uri, summary.experiment)
            summary.skipped = sum(s.spec_hash() in done for s in specs)
            todo = [s for s in specs if s.spec_hash() not in done]
            tasks = plan_populations(todo, registry, jobs=jobs, log_every=log_every)
            summary.populations = len(tasks)
            observer.planned(summary, tasks)
            summary.results = [
                (None, RunResult(s, s.spec_hash(), "done" if s.spec_hash() in done else "planned"))
                for s in specs
            ]
            return summary

        tracker = tracking.Tracker(uri)
        done = None if rerun else tracking.finished_hashes_at_rest(uri, summary.experiment)
        if done is not None and all(s.spec_hash() in done for s in specs):
            summary.skipped = len(specs)  # all done, the store at rest: MLflow is not needed
            summary.ui_command = tracker.ui_command(
                tracking.experiment_id_at_rest(uri, summary.experiment)
            )
            observer.planned(summary, [])
            return summary
        tracker.check()
        experiment_id = tracker.experiment(summary.experiment)
        summary.ui_command = tracker.ui_command(experiment_id)
        tracker.replay_spool(experiment_id)
        tracker.reap_stale(experiment_id)
        done = set() if rerun else tracker.finished_hashes(experiment_id)
        todo = [s for s in specs if s.spec_hash() not in done]
        summary.skipped = len(specs) - len(todo)
        tasks = plan_populations(todo, registry, jobs=jobs, log_every=log_every)
        if timeout is None and not scheduler:
            tasks = guarded(tasks, shapes, registry)
        summary.populations = len(tasks)
        observer.planned(summary, tasks)
        if not todo:  # nothing to do: no sweep run, nothing written
            return summary

        settings = {
            "jobs": str(jobs),
            "scheduler": scheduler or "",
            "rerun": str(rerun),
            "log_every": str(log_every or "auto"),
            "timeout": str(timeout or ""),
        }
        with execution.signals_deferred():  # the sweep's run exists whole, or not at all
            parent = tracker.start_sweep(experiment_id, path, summary.counts(), settings)
        summary.parent_run_id = parent
        recorded: set[str] = set()

        def on_submit(task: PopulationTask) -> PopulationTask | None:
            with execution.signals_deferred():  # a spec is claimed whole, or not at all
                mine = tracker.claim(experiment_id, parent, task.specs, rerun=rerun)
            summary.taken += len(task.specs) - len(mine)
            if not mine:
                return None
            return (
                task
                if len(mine) == len(task.specs)
                else dataclasses.replace(task, specs=tuple(mine))
            )

        def on_result(task: PopulationTask, results: list[RunResult]) -> None:
            for result in results:
                if result.spec_hash in recorded:  # a re-executed task: record every spec once
                    continue
                with execution.signals_deferred():  # a run is recorded whole, and counted
                    recorded.add(result.spec_hash)
                    run_id = tracker.record(experiment_id, parent, result)
                    _count(summary, result, run_id)
                observer.result(summary, result, run_id)
                if fail_fast and result.status == "failed":
                    raise FailFast(
                        f"run {result.spec.run_name()} (table row {result.spec.row}) failed: "
                        f"{result.reason}; stopping (--fail-fast)"
                    )
            with execution.signals_deferred():  # the bulk write it does is whole, or not at all
                tracker.heartbeat(parent)

        def stopped(started: list[PopulationTask], queued: list[PopulationTask], why: str) -> None:
            """Mark KILLED what was training, give back the claims of what never started."""
            training = [s for task in started for s in task.specs if s.spec_hash() not in recorded]
            summary.killed = tracker.mark_killed(experiment_id, parent, training, why)
            tracker.release(parent, [s for task in queued for s in task.specs])

        try:
            execution.run_tasks(
                tasks,
                jobs=jobs,
                scheduler=scheduler,
                timeout=timeout,
                on_result=on_result,
                on_submit=on_submit,
            )
        except KeyboardInterrupt as exc:
            # later stop signals are ignored from here on (stopping_on_signals): the stop completes
            signum = execution.signum_of(exc)
            name = execution.signal_name(signum)
            started = getattr(exc, "started", [])
            queued = [t for t in getattr(exc, "in_flight", []) if t not in started]
            stopped(started, queued, f"interrupted ({name})")
            _finish(tracker, parent, summary, "KILLED")
            _count_spooled(tracker, experiment_id, summary)
            spooled = (
                f" ({summary.spooled} of them wait in the spool {summary.spool}: the store was "
                "away)"
                if summary.spooled
                else ""
            )
            raise SweepInterrupted(
                f"interrupted ({name}): {summary.finished + summary.diverged} runs recorded"
                f"{spooled}, {summary.killed} marked KILLED; run the same command again to "
                "finish the rest",
                signum=signum,
            ) from None
        except BaseException as exc:  # --fail-fast, or the store failed
            why = (
                "the sweep stopped: --fail-fast"
                if isinstance(exc, FailFast)
                else "the sweep failed"
            )
            # best effort, as the store may be what failed: the error itself is what is raised
            with execution.signals_deferred(), contextlib.suppress(Exception):
                stopped(tasks, [], why)  # whatever this sweep still holds a claim on
            with execution.signals_deferred(), contextlib.suppress(Exception):
                _finish(tracker, parent, summary, "FAILED")
            raise
        tracker.catch_up(experiment_id)  # the store came back: what it missed, recorded now
        _finish(tracker, parent, summary, "FINISHED")
        _count_spooled(tracker, experiment_id, summary)
    if report:
        with execution.stopping_on_signals():
            try:
                summary.study = report_to_parent(summary)
            except KeyboardInterrupt as exc:  # the runs are recorded; only the view is not made
                signum = execution.signum_of(exc)
                raise SweepInterrupted(
                    f"interrupted ({execution.signal_name(signum)}) while the sweep's report was "
                    "made: every run is recorded; runner report makes the report from the store",
                    signum=signum,
                ) from None
    return summary


def check_budget(
    table: Path,
    tasks: list[PopulationTask],
    shapes: Mapping[DataKey, tuple[int, int, int]],
    registry: Registry,
    *,
    jobs: int,
    max_memory: float | None = None,
    max_hours: float = MAX_HOURS,
) -> budget.Estimate:
    """The plan's estimate (:mod:`runner.engine.budget`); :class:`TableError`, one line with
    the estimate, when its memory exceeds ``max_memory`` bytes (default: what the machine has
    available) or its time ``max_hours``. ``shapes`` are the data sets' (samples, inputs,
    outputs) as the table's validation prepared them."""
    estimates: list[budget.Estimate] = []
    largest: tuple[int, str] | None = None  # (bytes, what the largest population is)
    for task in tasks:
        one = _task_estimate(task, shapes, registry)
        if one is None:
            continue
        estimates.append(one[0])
        if largest is None or one[0].memory > largest[0]:
            largest = (one[0].memory, one[1])
    workers = max(1, min(jobs, len(estimates)))
    total = budget.sweep_estimate(estimates, workers)
    limit = budget.available_memory() if max_memory is None else max_memory
    if largest is not None and limit is not None and total.memory > limit:
        said = "the machine has" if max_memory is None else "--max-memory-gb allows"
        raise TableError(
            f"{table}: the plan needs an estimated {budget.show_bytes(total.memory)} of memory "
            f"({workers} population{'s' if workers > 1 else ''} at once; the largest, from row "
            f"{largest[1]}) but {said} {budget.show_bytes(limit)}; use smaller layers, fewer "
            "restarts or --jobs, or --max-memory-gb N to lift the check"
        )
    if total.seconds > max_hours * 3600:
        raise TableError(
            f"{table}: the plan needs an estimated {budget.show_seconds(total.seconds)} on "
            f"{workers} worker{'s' if workers > 1 else ''} (at {budget.FLOPS:.0e} flop/s a core)"
            f"; at most {max_hours:g} hours (--max-hours N lifts the check)"
        )
    return total


def guarded(
    tasks: list[PopulationTask], shapes: Mapping[DataKey, tuple[int, int, int]], registry: Registry
) -> list[PopulationTask]:
    """``tasks``, each with the deadline of the sweep's guard against a population that never
    ends (a plugin's endless loop): :data:`GUARD_FACTOR` times its estimated time, at least
    :data:`GUARD_FLOOR` seconds; none where there is no estimate. ``--timeout`` replaces it."""
    out = []
    for task in tasks:
        one = _task_estimate(task, shapes, registry)
        deadline = None if one is None else max(GUARD_FLOOR, GUARD_FACTOR * one[0].seconds)
        out.append(dataclasses.replace(task, deadline=deadline))
    return out


def _task_estimate(
    task: PopulationTask, shapes: Mapping[DataKey, tuple[int, int, int]], registry: Registry
) -> tuple[budget.Estimate, str] | None:
    """One population's estimate (its training, and the critical-point test of the runs that
    ask for it) and what it is, as a refusal names it; None where the data set's shape is not
    known."""
    first = task.specs[0]
    members = sum(
        registry.get("strategy", s.strategy).members(**s.params_of("strategy")) for s in task.specs
    )
    plural = "s" if members > 1 else ""
    if first.objective:
        objective = registry.get("objective", first.objective)
        every = descent_schedule_of(first, task.log_every, task.max_points).every()
        one = budget.descent_estimate(
            objective.dimension(**first.params_of("objective")),  # type: ignore[attr-defined]
            members,
            first.epochs,
            first.epochs // every + 1,
        )
        return (
            one,
            f"{first.row}: {members} point{plural} of {first.objective}, {first.epochs} iterations",
        )
    output = registry.get("activation", first.output_activation)
    shape = shapes.get(DataKey.of(first, output.normalizes))  # type: ignore[attr-defined]
    if shape is None:
        return None
    samples, inputs, outputs = shape
    schedule = schedule_of(first, task)
    sizes = (inputs, *first.hidden, outputs)
    one = budget.estimate(
        sizes,
        members,
        samples,
        schedule,
        4 if first.dtype == "float32" else 8,
        validation_fraction=first.validation_fraction,
    )
    tested = sum(curvature.wanted(s.critical_points, sizes) for s in task.specs)
    if tested:
        test = budget.critical_point_estimate(sizes, tested, samples)
        one = budget.Estimate(one.memory + test.memory, one.seconds + test.seconds)
    hidden = "-".join(map(str, first.hidden)) or "none"
    what = (
        f"{first.row}: {members} network{plural} of hidden {hidden}, {first.epochs} epochs, "
        f"{first.dtype}" + (f", {tested} critical-point tests" if tested else "")
    )
    return one, what


def check_experiment_name(name: str, *, given: bool = True, table: Path | None = None) -> None:
    """RunnerError (one line, exit 2) when ``name`` cannot be an experiment's name
    (:func:`runner.tracking.store.experiment_problem`): before anything is read or created.
    ``given``: it came from ``--experiment``, not from the name of ``table``."""
    from runner.tracking.store import experiment_problem

    problem = experiment_problem(name)
    if problem:
        where = "--experiment" if given or table is None else f"{table} (its file name)"
        raise RunnerError(f"{where}: {problem}")


@contextlib.contextmanager
def _stopped_before_recording() -> Iterator[None]:
    """A stop signal before the sweep's run existed: nothing to record, one line."""
    from runner.execution import signum_of

    try:
        yield
    except KeyboardInterrupt as exc:
        raise SweepInterrupted(
            "interrupted before anything was recorded", signum=signum_of(exc)
        ) from None


def _count(summary: SweepSummary, result: RunResult, run_id: str | None) -> None:
    if result.status == "failed":
        summary.failed += 1
    elif result.status == "diverged":
        summary.diverged += 1
    else:
        summary.finished += 1
    if summary.leaderboard is None:
        summary.leaderboard = Leaderboard(summary.rank_by)
    summary.leaderboard.add(run_id, result)


def _count_spooled(tracker: Any, experiment_id: str, summary: SweepSummary) -> None:
    summary.spooled, summary.spooled_ends, summary.spool = tracker.waiting(experiment_id)


def _finish(tracker: Any, parent: str, summary: SweepSummary, status: str) -> None:
    board = summary.leaderboard or Leaderboard(summary.rank_by)
    summary.ranking = board.ranking()
    summary.results = board.entries(summary.ranking)
    best = ranked(summary, 1)
    if summary.ranking.metric is not None and best and best[0][0] is not None:
        if best[0][1].status == "finished" and summary.ranking.value(best[0][1]) is not None:
            summary.best = best[0]  # type: ignore[assignment]
    best_id = summary.best[0] if summary.best else None
    tracker.end_sweep(parent, summary.counts(), best_id, status)
    network = summary.best is not None and not summary.best[1].spec.objective
    if best_id is not None and status == "FINISHED" and network:  # an objective has no model
        example = summary.best[1].dataset.get("example") if summary.best else None
        tracker.log_best_model(parent, best_id, example)


#: the final metrics a sweep may be ranked by (``--rank-by``); the accuracies rank high first
#: (``f``, an objective's final value, ranks low first, as the losses do)
RANK_METRICS = ("test_accuracy", "train_accuracy", "test_loss", "train_loss", "f")


@dataclass(frozen=True)
class Ranking:
    """How the runs of one sweep compare: by ``metric`` (None when nothing compares like with
    like: losses of different costs, with no ``--rank-by``), and a line saying so."""

    metric: str | None
    says: str

    def value(self, result: RunResult) -> float | None:
        """The run's value of the metric, None when it has none (or a non-finite one)."""
        value = result.metrics.get(self.metric) if self.metric else None
        return value if value is not None and math.isfinite(value) else None

    def key(self, result: RunResult) -> tuple[Any, ...]:
        """Sort key, best first: finished runs with a value, by value; then the rest. Ties (and
        every run, with no metric) are ordered by loss within their cost, never across costs
        (an objective's runs by f, within their objective)."""
        loss = result.metrics.get("test_loss", result.metrics.get("train_loss"))
        if loss is None:
            loss = result.metrics.get("f", math.inf)
        within_cost = (result.spec.objective or result.spec.cost, _finite(loss))
        if self.metric is None:
            return (result.status != "finished", *within_cost)
        value = self.value(result)
        higher = self.metric.endswith("accuracy")
        order = math.inf if value is None else (-value if higher else value)
        return (result.status != "finished", value is None, order, *within_cost)


def _finite(value: float) -> float:
    return value if math.isfinite(value) else math.inf


class _Tally:
    """What :func:`ranking` looks at in a set of runs, as counts: how many runs, how many have
    each metric that decides the ranking, and their costs (a handful of names)."""

    DECIDING = ("test_loss", "test_accuracy", "train_accuracy")

    def __init__(self) -> None:
        self.runs = 0
        self.having = dict.fromkeys(self.DECIDING, 0)
        self.costs: set[str] = set()
        self.objectives = 0  # runs of an objective: ranked by f, within one objective
        self.objective_names: set[str] = set()

    def add(self, result: RunResult) -> None:
        self.runs += 1
        if result.spec.objective:
            self.objectives += 1
            self.objective_names.add(result.spec.objective)
            return
        for name in self.DECIDING:
            self.having[name] += name in result.metrics
        self.costs.add(result.spec.cost)

    def ranking(self, rank_by: str | None) -> Ranking:
        if rank_by:
            return Ranking(rank_by, f"ranked by {rank_by} (--rank-by)")
        if self.objectives and self.objectives == self.runs:
            names = sorted(self.objective_names)
            if len(names) == 1:
                return Ranking("f", "ranked by f (the objective's final value)")
            return Ranking(
                None,
                f"the runs minimize different objectives ({', '.join(names)}), whose values do "
                "not compare: no best run chosen",
            )
        if self.objectives:
            return Ranking(
                None,
                "objective runs (f) and network runs (losses) do not compare: no "
                f"best model chosen; --rank-by METRIC ranks them ({', '.join(RANK_METRICS)})",
            )
        every = {name: self.runs > 0 and n == self.runs for name, n in self.having.items()}
        split = "test" if every["test_loss"] else "train"
        if every[f"{split}_accuracy"]:
            return Ranking(f"{split}_accuracy", f"ranked by {split} accuracy")
        costs = sorted(self.costs)
        if len(costs) <= 1:
            return Ranking(f"{split}_loss", f"ranked by {split} loss")
        return Ranking(
            None,
            f"the runs use different costs ({', '.join(costs)}), whose losses do not compare: "
            "no best model chosen; --rank-by METRIC ranks them "
            f"({', '.join(RANK_METRICS)})",
        )


def ranking(results: list[RunResult], rank_by: str | None = None) -> Ranking:
    """How to compare ``results``: ``rank_by`` when given; else accuracy when every finished
    run has one (classification; the test set's when every run has a test set); else the loss,
    when every finished run has the same cost. Losses of different costs never compare."""
    finished, every = _Tally(), _Tally()
    for result in results:
        every.add(result)
        if result.status == "finished":
            finished.add(result)
    return (finished if finished.runs else every).ranking(rank_by)


#: runs kept per way of ranking them while a sweep runs: its report shows the best 10
KEPT = 10


class Leaderboard:
    """What a sweep keeps of its results, whatever its size: the counts that decide its
    :func:`ranking`, the best :data:`KEPT` runs under each ranking it may turn out to have
    (``rank_by``, or each of :data:`RANK_METRICS` and none), and the first :data:`KEPT` failed
    runs; each without its history and weights (they are in the store). At the end,
    :meth:`entries` are what :func:`ranked` would pick from all the results."""

    def __init__(self, rank_by: str | None = None, kept: int | None = None) -> None:
        self.rank_by = rank_by
        self.kept = KEPT if kept is None else kept
        self.finished, self.every = _Tally(), _Tally()
        metrics = (rank_by,) if rank_by else (*RANK_METRICS, None)
        # per metric: (sort key, arrival, run id, result), trimmed to the best `kept`
        self.boards: dict[str | None, list[tuple[Any, ...]]] = {m: [] for m in metrics}
        self.failed: list[tuple[int, str | None, RunResult]] = []
        self.seen = 0

    def add(self, run_id: str | None, result: RunResult) -> None:
        result = dataclasses.replace(
            result, history={}, weights=[], biases=[], architecture={}, traceback=""
        )
        self.seen += 1
        self.every.add(result)
        if result.status == "finished":
            self.finished.add(result)
        if result.status == "failed":
            if len(self.failed) < self.kept:
                self.failed.append((self.seen, run_id, result))
            return
        for metric, board in self.boards.items():
            board.append((Ranking(metric, "").key(result), self.seen, run_id, result))
            if len(board) >= 2 * self.kept:
                self._trim(board)

    def _trim(self, board: list[tuple[Any, ...]]) -> None:
        board.sort(key=lambda entry: entry[:2])  # by key, then arrival: as a stable sort does
        del board[self.kept :]

    def held(self) -> int:
        """How many results it holds (at most ``(rankings + 1) * 2 * kept``)."""
        return len(self.failed) + sum(len(board) for board in self.boards.values())

    def ranking(self) -> Ranking:
        """The ranking :func:`ranking` gives for every result added."""
        return (self.finished if self.finished.runs else self.every).ranking(self.rank_by)

    def entries(self, rank: Ranking) -> list[tuple[str | None, RunResult]]:
        """The best runs by ``rank`` and the failed ones kept, in the order they came."""
        board = self.boards.get(rank.metric, [])
        self._trim(board)
        kept = [(seen, run_id, r) for _, seen, run_id, r in board] + self.failed
        return [(run_id, r) for _, run_id, r in sorted(kept, key=lambda entry: entry[0])]


def ranked(summary: SweepSummary, n: int = 10) -> list[tuple[str | None, RunResult]]:
    """The best ``n`` recorded runs (failed ones left out) by the sweep's :func:`ranking`."""
    rows = [(rid, r) for rid, r in summary.results if r.status not in ("failed", "done")]
    rank = summary.ranking or ranking([r for _, r in rows], summary.rank_by)
    return sorted(rows, key=lambda item: rank.key(item[1]))[:n]


# --- the study: per-configuration statistics and figures from the store (runner.analysis) ---


@dataclass
class Study:
    """An experiment's runs as a study: its groups (:class:`runner.analysis.Group`), and the
    figures and CSV written, when a folder was given."""

    experiment: str
    tracking_uri: str
    groups: list[Any]
    files: list[Path] = field(default_factory=list)
    by: tuple[str, ...] = ()
    #: the paired comparisons (:mod:`runner.analysis.paired`), by configuration only
    pairs: list[Any] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "tracking_uri": self.tracking_uri,
            "by": list(self.by),
            "groups": [g.to_json() for g in self.groups],
            "pairs": [p.to_json() for p in self.pairs],
            "files": [str(p) for p in self.files],
        }


def study(
    experiment: str,
    *,
    tracking_uri: str | None = None,
    by: tuple[str, ...] = (),
    out: Path | None = None,
) -> Study:
    """The study of ``experiment`` from the store alone (every sweep of it, finished or not):
    its groups, and with ``out`` the figures (PNG) and the table (CSV) written there."""
    from runner import analysis
    from runner.analysis import figures, landscapes, paired, runs
    from runner.tracking import load_network, reading, resolve_uri

    check_experiment_name(experiment)
    if out is not None:
        check_out_folder(out)
    uri = resolve_uri(tracking_uri)
    found = reading.study_runs(experiment, uri)
    curves: dict[str, tuple[list[int], list[float]]] = {}
    paths: dict[str, tuple[Any, Any]] = {}
    if out is not None:  # the curves of the first figures.MAX_CURVES seeds of each configuration
        ended = [r for r in found if r.data.tags.get("runner.status") in ("finished", "diverged")]
        ended.sort(key=lambda r: int(r.data.tags.get("runner.seed") or 0))
        per: dict[str, int] = defaultdict(int)
        ids: dict[str, list[str]] = defaultdict(list)  # curve name -> run ids
        drawn = []  # the objective runs whose trajectories are drawn
        for r in ended:
            configuration = r.data.tags.get("runner.configuration", "")
            per[configuration] += 1
            if per[configuration] <= figures.MAX_CURVES:
                ids[runs.curve_name(r)].append(r.info.run_id)
            if runs.is_objective(r) and per[configuration] <= landscapes.MAX_TRAJECTORIES:
                drawn.append(r.info.run_id)
        for name, mine in ids.items():
            curves.update(reading.metric_histories(mine, name, uri))
        paths = reading.trajectories(drawn, runs.TRAJECTORY_FILE, uri)
    rows = [
        analysis.run_row(r, curves.get(r.info.run_id), trajectory=paths.get(r.info.run_id))
        for r in found
    ]
    groups = analysis.summarize(rows, by)
    result = Study(experiment, uri, groups, by=tuple(by), pairs=[] if by else paired.pairs(groups))
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
            result.files = figures.draw_all(
                groups, out, load=lambda rid: load_network(rid, uri), pairs=result.pairs
            )
            result.files.append(analysis.write_csv(groups, out / "summary.csv"))
            if result.pairs:
                result.files.append(paired.write_csv(result.pairs, out / "paired.csv"))
        except OSError as exc:
            raise RunnerError(f"--out {out}: cannot write there ({_why(exc)})") from None
    return result


def _why(exc: OSError) -> str:
    return f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)


def check_out_folder(out: Path) -> None:
    """RunnerError (one line, exit 2) when the folder ``out`` cannot be made or written:
    a file on its way, or a parent that is not writable. Checked before the store is read;
    nothing is created."""
    if out.exists() and not out.is_dir():
        raise RunnerError(f"--out {out}: it is a file, not a folder")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise RunnerError(f"--out {out}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunnerError(f"--out {out}: {parent} is not writable")


def report_to_parent(summary: SweepSummary) -> Study | None:
    """At a sweep's end: the experiment's study, its figures, table and CSV logged to the
    sweep's parent run. A problem here never fails the sweep (its runs are recorded): it is
    one warning line, and ``runner report`` makes the same from the store."""
    import logging
    import tempfile

    from runner import analysis
    from runner.errors import first_line
    from runner.tracking import reading

    try:
        with tempfile.TemporaryDirectory(prefix="runner-report-") as tmp:
            made = study(summary.experiment, tracking_uri=summary.tracking_uri, out=Path(tmp))
            if summary.parent_run_id is not None:
                reading.log_report(
                    summary.parent_run_id,
                    analysis.table_columns(made.groups),
                    made.files,
                    summary.tracking_uri,
                )
            made.files = []
            return made
    except Exception as exc:  # the report is a view of what is recorded, not part of it
        logging.getLogger(__name__).warning(
            "the sweep's report was not made (%s); runner report makes it from the store",
            first_line(exc),
        )
        return None
