"""What a sweep shows a person: a progress bar while it runs, a results table when it ends.

Progress goes to stderr (rich), so stdout keeps only the plan and the results. Imports
:mod:`runner.sweep` (the summary it reports) and what that names.
"""

from __future__ import annotations

import math
import re
import shlex
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

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
        table = f"[bold]{escape(str(summary.table))}[/]"
        if summary.to_run == 0:
            self.console.print(
                f"{table}: {summary.planned} configurations, all already done: nothing to run"
            )
        else:
            self.console.print(
                f"{table}: {summary.planned} configurations, {summary.skipped} already done, "
                f"{summary.to_run} to run in {_populations(len(tasks))}"
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


class Pieces:
    """Text that wraps only between its pieces, never inside one: a run name between its
    tokens (:func:`name_pieces`), so a number or a word is never cut; a piece wider than the
    whole line is folded, as a last resort. Measures at least its widest piece."""

    def __init__(self, pieces: Sequence[str | Text], style: str = "") -> None:
        self.pieces = [Text(p) if isinstance(p, str) else p for p in pieces if p]
        self.style = style

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        widths = [p.cell_len for p in self.pieces] or [0]
        return Measurement(max(widths), max(sum(widths), max(widths))).clamp(
            max_width=options.max_width
        )

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        out, line = Text(style=self.style, overflow="fold"), 0
        for piece in self.pieces:
            if line and line + piece.cell_len > options.max_width:
                out.append("\n")
                line = 0
            out.append_text(piece)
            line += piece.cell_len
        yield out


def name_pieces(name: str) -> list[str]:
    """A run name's tokens, each with the ``-`` that ends it: where a name may break
    (``rosenbrock-``, ``lr0.0005-``, ``seed3``), and after a space (a label ``row 3 ...``); a
    minus sign (``x=-1``, ``gtol1e-06``) stays with its number."""
    return re.split(r"(?<=[^=\-]-)(?<!\de-)(?=.)|(?<= )(?=\S)", name)


def _name_cell(name: str, *below: Text) -> Any:
    """A run name that breaks only between its tokens, with lines under it (its run id, whole)."""
    return Group(Pieces(name_pieces(name)), *below) if below else Pieces(name_pieces(name))


def plugin_blocks(plugins: Sequence[tuple[Any, str]]) -> Iterator[Any]:
    """``runner plugins`` in blocks that read at 80 columns: a heading per kind and
    distribution (``step_rule (column optimizer), from runner-mlp 0.1.0``), under it one
    block per plugin, its name beside its description (as given, one paragraph) and one line
    per parameter: ``learning_rate=0.1: a number > 0, per member``, wrapped only at spaces."""
    from runner.engine.settings import PARTS

    groups: dict[tuple[str, str, str], list[tuple[Any, str]]] = {}
    for obj, description in plugins:
        groups.setdefault((obj.kind, obj.distribution, obj.version), []).append((obj, description))
    for (kind, distribution, version), members in groups.items():
        columns = [c for c, k in PARTS.items() if k == kind]
        heading = Text(kind, style="bold")
        if columns and columns != [kind]:  # the table's columns that name a plugin of the kind
            heading.append(f" (column{'s' * (len(columns) > 1)} {', '.join(columns)})")
        heading.append(f", from {distribution} {version}", style="dim")
        grid = Table.grid(padding=(0, 2), pad_edge=True)
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for obj, description in members:
            details = Text(description or "-")
            for p in obj.params:
                said = p.accepted() + (", per member" if p.per_member else "")
                details.append(f"\n{p.name}={p.default!r}: {said}", style="cyan")
            grid.add_row(Text(obj.name, style="bold"), details)
        yield Group(heading, grid, Text())


def _how_ended(g: Any) -> str:
    """How a configuration's runs ended: ``10 runs: finished 9, diverged 1``."""
    said = ", ".join(f"{k} {v}" for k, v in g.counts.items() if v or k == "finished")
    return f"{g.runs} runs: {said}"


def _restarts_alone(members: tuple[int, int, float, float, float]) -> str:
    """How often a configuration's restarts succeeded each on its own: k/n, % and interval."""
    k, n, rate, low, high = members
    return f"restarts alone {k}/{n} = {_pct(rate)}% [{_pct(low)}-{_pct(high)}]"


def _span(low: float, high: float) -> str:
    """An interquartile range as text: ``0.1-0.3``, or ``-1.03 to -0.42`` where a dash would
    read as a minus sign."""
    sep = " to " if low < 0 or high < 0 else "-"
    return f"{low:.2g}{sep}{high:.2g}"


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"


def print_plan(summary: SweepSummary, console: Console) -> None:
    """The expanded plan of a dry run: every configuration, to run or already done."""
    wide = console.width >= 120
    table = Table(title=f"plan for {summary.table} (dry run; nothing written)", box=box.SIMPLE)
    table.add_column("row", justify="right")
    table.add_column("run name", overflow="fold", ratio=1)
    columns = ("hidden", "dataset", "cost", "epochs") if wide else ("epochs",)
    for column in columns:
        table.add_column(column, overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("hash", no_wrap=True)
    for _, result in summary.results:
        spec = result.spec
        cells = {
            "hidden": "-".join(map(str, spec.hidden)) or "none",
            "dataset": spec.dataset,
            "cost": spec.cost,
            "epochs": str(spec.epochs),
        }
        status = "done" if result.status == "done" else "to run"
        table.add_row(
            str(spec.row), _name_cell(spec.run_name()), *(cells[c] for c in columns), status,
            result.spec_hash,
        )  # fmt: skip
    console.print(table)
    console.print(
        f"{summary.to_run} to run, {summary.skipped} already done, {summary.planned} in total"
        + (f", in {_populations(summary.populations)}" if summary.to_run else "")
    )
    if summary.estimate is not None:
        from runner.engine.budget import show_bytes, show_seconds

        console.print(
            f"estimated for the whole table: {show_bytes(summary.estimate.memory)} of memory at "
            f"once, {show_seconds(summary.estimate.seconds)} of training (model: "
            "runner/engine/budget.py)"
        )


def _populations(n: int) -> str:
    return f"{n} population{'' if n == 1 else 's'}"


def print_results(summary: SweepSummary, console: Console, n: int = 10) -> None:
    """The best runs, ranked like with like (:func:`runner.sweep.ranking`), with their run ids
    (:func:`best_table`): no table where no best run is chosen (runs that do not compare), only
    the line saying why; the counts; the UI command."""
    rows = ranked(summary, n)
    rank = summary.ranking
    if rows and (rank is None or rank.metric is not None):
        console.print(best_table(summary, rows, wide=console.width >= 120))
    if rank is not None and rank.metric is None:
        console.print(escape(rank.says), soft_wrap=False)
    failed = [r for _, r in summary.results if r.status == "failed"]
    for r in failed[:10]:
        console.print(
            f"[red]failed[/] {escape(r.spec.run_name())} (row {r.spec.row}): {escape(r.reason)}"
        )
    taken = f", {summary.taken} left to another sweep running now" if summary.taken else ""
    if summary.planned and summary.skipped == summary.planned:
        console.print(
            f"nothing to do: all {summary.planned} configurations are already done in "
            f"experiment {escape(summary.experiment)} (--rerun trains them again)"
        )
    else:
        console.print(
            f"finished {summary.finished}, diverged {summary.diverged}, failed {summary.failed}, "
            f"skipped {summary.skipped} (already done){taken}, of {summary.planned} planned"
            + escape(spooled_note(summary))
        )
    if summary.spooled or summary.spooled_ends:  # how they get recorded, whole lines to paste
        told = f"They wait in the spool {summary.spool}; once the store is back, record them "
        for line in (told + "from this folder with:", replay_command(summary)):
            console.print(line, soft_wrap=True, markup=False, highlight=False)
    if summary.ui_command:
        console.print("Open the results:")
        console.print(summary.ui_command, soft_wrap=True, markup=False, highlight=False)


#: (header, metric) of the best runs' columns: a network's and an objective's
NETWORK_COLUMNS = (("train loss", "train_loss"), ("test loss", "test_loss"),
                   ("accuracy", "test_accuracy"), ("accuracy", "train_accuracy"))  # fmt: skip
OBJECTIVE_COLUMNS = (("f", "f"), ("|grad f|", "gradient_norm"))


def best_table(
    summary: SweepSummary, rows: list[tuple[str | None, RunResult]], wide: bool
) -> Table:
    """The best runs' table: a network's losses and accuracy (the test set's when it has one),
    an objective's f and gradient norm, each only where some run has it, and the epochs (or
    iterations) trained. Names break only between tokens, run ids never (a copied id is whole);
    below 120 columns a run's id goes under its name and the row and status are left out."""
    title = f"best {len(rows)} runs of {summary.experiment}"
    if summary.ranking is not None:
        title += f", {summary.ranking.says}"
    table = Table(title=escape(title), box=box.SIMPLE)
    if wide:
        table.add_column("run id", no_wrap=True, min_width=32)
    table.add_column("run name" if wide else "run name / run id", min_width=32, ratio=1)
    having = {key for _, r in rows for key in r.metrics}
    metrics = [(h, k) for h, k in OBJECTIVE_COLUMNS + NETWORK_COLUMNS if k in having]
    if "test_accuracy" in having:
        metrics.remove(("accuracy", "train_accuracy"))
    networks = any(not r.spec.objective for _, r in rows)
    for column in (["row", "status"] if wide else []) + [c for c, _ in metrics]:
        table.add_column(column, no_wrap=True, justify="right")
    table.add_column("epochs" if networks else "iterations", no_wrap=True, justify="right")
    for run_id, r in rows:
        name = r.spec.run_name()
        if wide:
            cells: list[Any] = [run_id or "-", _name_cell(name), str(r.spec.row), r.status]
        else:
            status = [Text(f" ({r.status})", style="red")] if r.status != "finished" else []
            cells = [Group(Pieces([*name_pieces(name), *status]), Text(run_id or "-", style="dim"))]
        cells += [_fmt(r.metrics.get(key)) for _, key in metrics]
        cells.append(_fmt(r.metrics.get("epochs")))
        table.add_row(*cells)
    return table


def replay_command(summary: SweepSummary) -> str:
    """The command that replays what a sweep left in the spool: the same sweep, from the
    same folder (the spool is ``.runner-spool`` there)."""
    args = ["runner", "sweep", str(summary.table), "--tracking-uri", summary.tracking_uri]
    if summary.experiment != summary.table.stem:
        args += ["--experiment", summary.experiment]
    return shlex.join(args)


def spooled_note(summary: SweepSummary) -> str:
    """``"; 35 results not in the store yet ..."`` when results (or the sweep's end) wait in
    the spool, else ``""``: the summary line says so."""
    if not summary.spooled and not summary.spooled_ends:
        return ""
    n = summary.spooled
    what = f"{n} result{'s' if n != 1 else ''}" if n else "the sweep's end"
    return f"; {what} not in the store yet (the tracking store was away)"


def _pct(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.0f}"


def _cost_of(g: Any) -> str:
    """The cost a configuration's losses are of (:attr:`~runner.analysis.Group.cost`), ``f``
    for an objective's."""
    return g.cost or "f"


def _accuracy(g: Any) -> tuple[float, bool] | None:
    """A configuration's median final accuracy, and whether it is the test samples' (else the
    training samples': nothing held out); None for runs without one (regression, objectives)."""
    for final, test in (("test_accuracy", True), ("train_accuracy", False)):
        spread = g.spread(final)
        if spread is not None:
            return spread.median, test
    return None


def _stationary(g: Any) -> bool:
    """Whether any run of a configuration ended at a stationary point (its critical-point
    class says ``stationary``, not ``not stationary``)."""
    return any(not label.endswith("not stationary") for label in g.critical_points)


def _numbers(numbers: list[int]) -> str:
    """``1-3, 5``: configuration numbers as runs of consecutive ones."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)


def print_study(study: Any, console: Console) -> None:
    """The per-configuration tables of a study (:func:`runner.sweep.study`), one per cost, so
    that no two losses of different costs stand side by side (objectives' f in a table of its
    own): runs, success with its 95% Wilson interval, the median accuracy (classification),
    the final loss median and IQR; a line saying what success is; under them, per
    configuration, how the runs ended, mean and sd, the test loss, epochs to converge, the
    restarts' own success and the critical-point classes. Fits 80 columns."""
    groups = study.groups
    if not groups:
        console.print(f"no runs in experiment {escape(study.experiment)} yet")
        return
    by = f" by {', '.join(study.by)}" if study.by else ""
    costs = list(dict.fromkeys(_cost_of(g) for g in groups))
    ordered = [g for cost in costs for g in groups if _cost_of(g) == cost]
    number = {id(g): i for i, g in enumerate(ordered, start=1)}
    names = Counter(g.name for g in groups)  # a name two configurations share: with its row
    starred = False
    for cost in costs:
        mine = [g for g in ordered if _cost_of(g) == cost]
        objectives = cost == "f"
        loss_of = (
            "f" if objectives else "losses of several costs: not shown" if cost == "mixed"
            else f"loss: {cost}"
        )  # fmt: skip
        table = Table(
            title=escape(f"{study.experiment}: per configuration{by} ({loss_of})"),
            box=box.SIMPLE_HEAD,
            padding=(0, 1),
            pad_edge=False,
            show_edge=False,
            collapse_padding=True,
        )
        accuracies = {id(g): _accuracy(g) for g in mine}
        tests = {a[1] for a in accuracies.values() if a is not None}
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("configuration", overflow="fold")
        table.add_column("global\nminimum" if objectives else "success", justify="right",
                         no_wrap=True)  # fmt: skip
        table.add_column("\n% [95% CI]", justify="right", no_wrap=True)
        if tests:
            header = {frozenset({True}): "test", frozenset({False}): "train"}.get(
                frozenset(tests), ""
            )
            table.add_column(f"{header}\nacc.", justify="right", no_wrap=True)
        if cost != "mixed":
            header = "f" if objectives else "loss"
            table.add_column(f"{header}\nmedian", justify="right", no_wrap=True)
            table.add_column("\nIQR", justify="right", no_wrap=True)
        for g in mine:
            s = g.success
            cells = [
                str(number[id(g)]),
                _name_cell(g.name if names[g.name] == 1 else g.label),
                _success_cell(g),
                "-" if s is None else f"{_pct(s[2])} [{_pct(s[3])}-{_pct(s[4])}]",
            ]
            if tests:
                acc = accuracies[id(g)]
                star = "*" if acc is not None and not acc[1] and len(tests) > 1 else ""
                starred = starred or bool(star)
                cells.append("-" if acc is None else f"{acc[0]:.3f}{star}")
            if cost != "mixed":
                loss = g.spread("f" if objectives else "train_loss")
                cells.append("-" if loss is None else f"{loss.median:.3g}")
                cells.append("-" if loss is None else _span(loss.q1, loss.q3))
            table.add_row(*cells)
        if cost != costs[0]:
            console.print()
        console.print(table)
    meanings: dict[str, list[int]] = {}
    for g in ordered:
        if not g.objective:
            meanings.setdefault(g.success_means, []).append(number[id(g)])
    if meanings:
        said = [m if len(meanings) == 1 else f"{m} ({_numbers(n)})" for m, n in meanings.items()]
        held = any("test accuracy" in m for m in meanings) and any(
            a is not None and not a[1] for a in map(_accuracy, ordered)
        )
        console.print(
            "success: " + "; ".join(said)
            + (" (where nothing is held out, the training accuracy)" if held else ""),
            highlight=False,
        )  # fmt: skip
    if starred:
        console.print("acc.: of the test samples; *: of the training samples (none held out)")
    groups = ordered
    tested = [g for g in groups if g.critical_points and not g.objective]
    # end points where the gradient has not vanished are no critical points: where no run of
    # the study ended at one, one line says so instead of a class per configuration
    none_stationary = bool(tested) and not any(map(_stationary, tested))
    console.print()
    for i, g in enumerate(groups, start=1):
        if g.objective:
            _print_objective_notes(i, g, console)
            continue
        parts = [_how_ended(g)]
        one_cost = _cost_of(g) != "mixed"  # a pooled loss of several costs means nothing
        loss = g.spread("train_loss") if one_cost else None
        if loss is not None:
            parts.append(f"train loss mean {loss.mean:.3g} ± {loss.sd:.2g}")
        test = g.spread("test_loss") if one_cost else None
        if test is not None:
            parts.append(
                f"test loss median {test.median:.3g} (IQR {_span(test.q1, test.q3)}), "
                f"mean {test.mean:.3g} ± {test.sd:.2g}"
            )
        epochs = g.epochs_to_converge
        if epochs is not None:
            parts.append(f"converged in {epochs.median:.0f} epochs (median of {epochs.n})")
        if g.members is not None:
            parts.append(_restarts_alone(g.members))
        if g.critical_points and not none_stationary:
            if _stationary(g):
                unsolved = g.critical_unsolved
                parts.append(
                    "critical points: "
                    + ", ".join(
                        f"{k} {n}" + (f" ({unsolved[k]} unsolved)" if unsolved.get(k) else "")
                        for k, n in g.critical_points.items()
                    )
                )
            else:
                tested = sum(g.critical_points.values())
                parts.append(f"critical points: none of {tested} stationary")
        if g.critical_points:  # the curvature at the end points, stationary or not
            curvature = g.curvature()
            said = [
                f"{name} {c.median:.2g} ({_span(c.q1, c.q3)})"
                for name in ("solved", "unsolved")
                if (c := curvature[f"{name}_max_eigenvalue"]) is not None
            ]
            if said:
                parts.append("largest eigenvalue median (IQR): " + ", ".join(said))
        console.print(
            f"{i}. {escape(g.label)}: " + escape("; ".join(parts)), soft_wrap=False, highlight=False
        )
    listed = not none_stationary and any(g.critical_points and _stationary(g) for g in groups)
    if listed:
        console.print(CRITICAL_LEGEND, highlight=False)
    if none_stationary:
        console.print(
            "critical points: no run ended at a stationary point (its gradient had not "
            "vanished), so none is a minimum, saddle or maximum of the cost; train longer or "
            "set gradient_tolerance to reach one",
            highlight=False,
        )
    if "f" in costs:
        from runner.engine.descent import REACH

        console.print(
            f"minima reached: the known minimum a run's end point lies within {100 * REACH:g}% "
            "of the box's diagonal of; none: no known minimum that near, or diverged",
            highlight=False,
        )
    print_second_derivative(groups, console)
    print_pairs(getattr(study, "pairs", []), console)
    if study.files:
        console.print(f"figures and table written: {len(study.files)} files")
        for path in study.files:
            console.print(f"  {escape(str(path))}", soft_wrap=True)


#: the critical-point classes in plain words, under a study that lists them
CRITICAL_LEGEND = (
    "critical points, in words: minimum, the cost curves up in every direction (an unsolved "
    "run there is stuck); saddle, up in some directions and down in others (a way down "
    "exists); maximum, down in all; degenerate, flat in some direction (the test cannot "
    "tell); stationary, the gradient had vanished there; not stationary, it had not yet"
)


def print_pairs(pairs: list[Any], console: Console) -> None:
    """The paired comparisons (:mod:`runner.analysis.paired`): for two configurations that
    share their seeds and differ in one setting, the seeds both solve, only one solves, or
    neither; McNemar's exact p; the paired difference of success rates with its 95% interval;
    and a verdict in words. The first :data:`~runner.analysis.paired.SHOWN` pairs."""
    if not pairs:
        return
    from runner.analysis.paired import SHOWN

    console.print()
    console.print(
        "paired by seed (two configurations that differ in one setting, on the same seeds):",
        highlight=False,
    )
    for pair in pairs[:SHOWN]:
        d, low, high = pair.difference
        console.print(
            escape(
                f"- {pair.setting} {pair.a_value} (A) against {pair.b_value} (B), "
                f"{pair.seeds} seeds: both {pair.both}, only A {pair.only_a}, only B "
                f"{pair.only_b}, neither {pair.neither}; B - A {_signed_pct(d)} "
                f"[{_signed_pct(low)} to {_signed_pct(high)}], McNemar p = {pair.p:.2g}: "
                f"{pair.verdict()}"
            ),
            highlight=False,
        )
    if len(pairs) > SHOWN:
        console.print(f"  ({len(pairs) - SHOWN} more pairs in the JSON and paired.csv)")


def _success_cell(g: Any) -> str:
    """``k/n``; ``no minimum`` for an objective that declares none (no count implies one)."""
    s = g.success
    if s is None:
        return "no minimum" if g.objective and g.no_minimum else "-"
    return f"{s[0]}/{s[1]}"


def print_second_derivative(groups: Sequence[Any], console: Console) -> None:
    """The notes' second-derivative test at the end points of each two-variable objective's
    configuration (numbered as in the study's table): how many end points got each verdict,
    and one of them with its r = f_xx, s = f_xy, t = f_yy and rt - s^2. Fits 80 columns."""
    tests = [(i, g.second_derivative_test()) for i, g in enumerate(groups, start=1)]
    tests = [(i, t) for i, t in tests if t is not None]
    if not tests:
        return
    table = Table(
        title="second-derivative test at the end points",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("verdicts", overflow="fold")
    for header in ("seed", "r", "s", "t", "rt - s^2"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for i, test in tests:
        e = test["example"]
        counts = ", ".join(f"{k} {n}" for k, n in test["counts"].items())
        table.add_row(
            str(i), counts, str(e["seed"]), *(f"{e[k]:.3g}" for k in ("r", "s", "t", "rt_s2")),
            e["verdict"],
        )  # fmt: skip
    console.print()
    console.print(table)
    console.print(
        "r = f_xx, s = f_xy, t = f_yy at an end point where the gradient vanished: "
        "rt - s^2 > 0 and r > 0 a minimum, r < 0 a maximum; rt - s^2 < 0 a saddle; "
        "rt - s^2 = 0 the test fails (degenerate)",
        highlight=False,
    )


def _signed_pct(x: float) -> str:
    return f"{100 * x:+.0f}%"


def _print_objective_notes(i: int, g: Any, console: Console) -> None:
    """The note under the study's table of a configuration of an objective's runs: how they
    ended, f, which known minima they reached, iterations to converge, the restarts' own
    success, the critical-point classes at the end points."""
    parts = [_how_ended(g)]
    s = g.success
    if s is not None:
        parts.append(f"reached the global minimum {s[0]}/{s[1]}")
    if g.minima_reached:
        parts.append(
            "minima reached: " + ", ".join(f"{k} {n}" for k, n in g.minima_reached.items())
        )
    f = g.spread("f")
    if f is not None:
        parts.append(f"f mean {f.mean:.3g} ± {f.sd:.2g}")
    iterations = g.epochs_to_converge
    if iterations is not None:
        parts.append(f"converged in {iterations.median:.0f} iterations (median of {iterations.n})")
    if g.members is not None:
        parts.append(_restarts_alone(g.members))
    if g.critical_points:
        parts.append("end points: " + ", ".join(f"{k} {n}" for k, n in g.critical_points.items()))
    console.print(
        f"{i}. {escape(g.label)}: " + escape("; ".join(parts)), soft_wrap=False, highlight=False
    )
