"""What a sweep shows a person: a progress bar while it runs, a results table when it ends.

Progress goes to stderr (rich), so stdout keeps only the plan and the results. Imports
:mod:`runner.sweep` (the summary it reports) and what that names.
"""

from __future__ import annotations

import math
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from runner.engine.population import PopulationTask
from runner.spec import RunResult
from runner.sweep import Observer, SweepSummary, ranked


class RichObserver(Observer):
    """A live progress bar: runs done of total, elapsed, ETA, failures and divergences so far."""

    def __init__(self, console: Console | None = None, enabled: bool = True) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task_id: Any = None
        self.started = time.perf_counter()

    def planned(self, summary: SweepSummary, tasks: list[PopulationTask]) -> None:
        if summary.dry_run:
            return
        self.console.print(
            f"[bold]{summary.table}[/]: {summary.planned} configurations, "
            f"{summary.skipped} already done, {summary.to_run} to run "
            f"in {len(tasks)} populations"
        )
        if self.enabled and summary.to_run and not summary.dry_run:
            self.progress = Progress(
                TextColumn("[bold]training"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=self.console,
                transient=False,
            )
            self.progress.start()
            self.task_id = self.progress.add_task("runs", total=summary.to_run, status="")

    def result(self, summary: SweepSummary, result: RunResult, run_id: str | None) -> None:
        if self.progress is not None:
            status = f"failed {summary.failed}  diverged {summary.diverged}"
            self.progress.update(self.task_id, advance=1, status=status)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"


def print_plan(summary: SweepSummary, console: Console) -> None:
    """The expanded plan of a dry run: every configuration still to run."""
    table = Table(title=f"plan for {summary.table} (dry run; nothing written)")
    for column in ("row", "run name", "hidden", "dataset", "cost", "epochs", "hash"):
        table.add_column(column)
    for _, result in summary.results:
        spec = result.spec
        table.add_row(
            str(spec.row),
            spec.run_name(),
            "-".join(map(str, spec.hidden)) or "none",
            spec.dataset,
            spec.cost,
            str(spec.epochs),
            result.spec_hash,
        )
    console.print(table)
    console.print(
        f"{summary.to_run} to run, {summary.skipped} already done, {summary.planned} in total, "
        f"in {summary.populations} populations"
    )
    if summary.estimate is not None:
        from runner.engine.budget import show_bytes, show_seconds

        console.print(
            f"estimated for the whole table: {show_bytes(summary.estimate.memory)} of memory at "
            f"once, {show_seconds(summary.estimate.seconds)} of training (model: "
            "runner/engine/budget.py)"
        )


def print_results(summary: SweepSummary, console: Console, n: int = 10) -> None:
    """The best configurations by loss with their run ids, the counts and the UI command."""
    rows = ranked(summary, n)
    if rows:
        has_test = any("test_loss" in r.metrics for _, r in rows)
        table = Table(title=f"best {len(rows)} runs of {summary.experiment}")
        table.add_column("run id", no_wrap=True, min_width=32)
        table.add_column("run name", overflow="fold")
        for column in ("row", "status", "train loss", "test loss", "accuracy", "epochs"):
            if column != "test loss" or has_test:
                table.add_column(column, no_wrap=True)
        for run_id, r in rows:
            m = r.metrics
            acc = m.get("test_accuracy", m.get("train_accuracy"))
            cells = [run_id or "-", r.spec.run_name(), str(r.spec.row), r.status]
            cells.append(_fmt(m.get("train_loss")))
            if has_test:
                cells.append(_fmt(m.get("test_loss")))
            cells += [_fmt(acc), _fmt(m.get("epochs"))]
            table.add_row(*cells)
        console.print(table)
    failed = [r for _, r in summary.results if r.status == "failed"]
    for r in failed[:10]:
        console.print(f"[red]failed[/] {r.spec.run_name()} (row {r.spec.row}): {r.reason}")
    taken = f", {summary.taken} left to another sweep running now" if summary.taken else ""
    console.print(
        f"finished {summary.finished}, diverged {summary.diverged}, failed {summary.failed}, "
        f"skipped {summary.skipped} (already done){taken}, of {summary.planned} planned"
    )
    if summary.ui_command:
        console.print("Open the results:")
        console.print(summary.ui_command, soft_wrap=True, markup=False, highlight=False)
