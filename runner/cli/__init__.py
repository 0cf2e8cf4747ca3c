"""The CLI room: the ``runner`` command line parses arguments and reports; the work happens
elsewhere (:mod:`runner.sweep`, :mod:`runner.testing`, :mod:`runner.plugin.registry`).

Expected problems arrive as :class:`runner.errors.RunnerError` and leave as one line on stderr
with the error's exit code (2 for bad input), never a traceback. MLflow, pandas, rich and dask
are imported only inside the commands that need them, so ``runner --help`` stays fast;
:mod:`runner.cli.report` is the terminal report. May import every room (``docs/architecture.md``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from runner.errors import RunnerError, did_you_mean
from runner.version import __version__


class RunnerGroup(click.Group):
    """A click group that turns a RunnerError into one clear line and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RunnerError as exc:
            for line in exc.problems:
                click.echo(f"Error: {line}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=RunnerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runner")
def cli() -> None:
    """Train grids of multi-layer perceptrons by backpropagation and track them in MLflow.

    \b
    Examples:
      runner sweep experiments/xor.csv          train every row of a table
      runner sweep experiments/xor.csv --dry-run
      runner plugins                            what is installed
      runner check sigmoid momentum             conformance-check plugins
      mlflow ui --backend-store-uri sqlite:///mlflow.db
    """


def _registry() -> Any:
    from runner.plugin.registry import get_registry

    return get_registry()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option("--kind", help="Only plugins of this kind (activation, cost, step_rule, ...).")
def plugins(as_json: bool, kind: str | None) -> None:
    """List every installed plugin with its kind, distribution, version and parameters.

    \b
    Examples:
      runner plugins
      runner plugins --kind dataset
      runner plugins --json
    """
    registry = _registry()
    rows = [obj for obj in registry.all() if kind is None or obj.kind == kind]
    if as_json:
        click.echo(json.dumps([_describe(obj) for obj in rows], indent=2))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="runner plugins")
    for column in ("kind", "name", "distribution", "version", "parameters", "description"):
        table.add_column(column)
    for obj in rows:
        params = "\n".join(
            escape(f"{p.name}={p.default!r} ({p.accepted()})")
            + (" \\[per member]" if p.per_member else "")
            for p in obj.params
        )
        table.add_row(
            obj.kind, obj.name, obj.distribution, obj.version, params or "-", obj.summary()
        )
    Console(width=max(140, Console().width)).print(table)


def _describe(obj: Any) -> dict[str, Any]:
    return {
        "kind": obj.kind,
        "name": obj.name,
        "distribution": obj.distribution,
        "version": obj.version,
        "description": obj.summary(),
        "parameters": [
            {
                "name": p.name,
                "type": p.type.__name__,
                "default": p.default if not hasattr(p.default, "__fspath__") else str(p.default),
                "accepted": p.accepted(),
                "per_member": p.per_member,
                "help": p.help,
            }
            for p in obj.params
        ],
        # the tasks an activation (as the output layer) or a cost serves, declared or derived
        **({"tasks": list(obj.serves())} if obj.kind in ("activation", "cost") else {}),
    }


@cli.command()
@click.argument("names", nargs=-1, required=True)
def check(names: tuple[str, ...]) -> None:
    """Run the conformance kit on installed plugins, by name (or ``all``).

    Derivatives are checked against central finite differences; shapes, dtypes and population
    broadcasting are checked too. Exits 1 when any plugin fails.

    \b
    Examples:
      runner check sigmoid cross_entropy
      runner check all
    """
    from runner.testing import check_plugin

    registry = _registry()
    if names == ("all",):
        targets = registry.all()
    else:
        targets = []
        for name in names:
            found = [obj for obj in registry.all() if obj.name == name]
            if not found:
                known = sorted({obj.name for obj in registry.all()})
                hint = did_you_mean(name, known).strip()
                raise RunnerError(
                    f"no installed plugin is called {name!r}" + (f"; {hint}" if hint else "")
                )
            targets.extend(found)
    failed = 0
    for obj in targets:
        try:
            skipped = check_plugin(obj)
        except AssertionError as exc:
            failed += 1
            click.echo(f"FAIL {obj.kind} {obj.name} ({obj.distribution}): {exc}")
        else:
            word, note = ("skip", f": {skipped}") if skipped else ("ok  ", "")
            click.echo(f"{word} {obj.kind} {obj.name} ({obj.distribution}){note}")
    if failed:
        click.echo(f"{failed} of {len(targets)} plugins failed", err=True)
        sys.exit(1)


@cli.command()
@click.argument("table", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)."
)
@click.option("--experiment", help="MLflow experiment name (default: the table's file name).")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    help="Worker processes (default: all cores; 1 runs in-process).",
)
@click.option(
    "--scheduler", help="A dask.distributed scheduler, tcp://HOST:PORT (needs runner[dask])."
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the expanded plan and what is already done; write nothing.",
)
@click.option(
    "--rerun", is_flag=True, help="Train configurations that already have a FINISHED run again."
)
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed run.")
@click.option(
    "--log-every",
    type=click.IntRange(min=0),
    default=0,
    help="Record metrics every N epochs (default: at most ~200 points per run).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a population may train before it is marked FAILED.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def sweep(
    table: Path,
    tracking_uri: str | None,
    experiment: str | None,
    jobs: int | None,
    scheduler: str | None,
    dry_run: bool,
    rerun: bool,
    fail_fast: bool,
    log_every: int,
    timeout: float | None,
    quiet: bool,
) -> None:
    """Train every configuration of TABLE and record each run in MLflow.

    TABLE is a .csv, .tsv, .json, .parquet or .xlsx file with one configuration per row; a cell
    may hold several values (0.1|0.5|1.0) or an inclusive integer range (0..9), and the row
    expands to every combination. Configurations already FINISHED in the experiment are skipped,
    so an interrupted sweep resumes where it stopped. Exit code: 0 all runs finished or diverged,
    1 some run failed, 2 bad input, 130 interrupted.

    \b
    Examples:
      runner sweep experiments/xor.csv
      runner sweep experiments/xor.csv --dry-run
      runner sweep experiments/digits.csv --jobs 2 --experiment digits-grid
      runner sweep experiments/moons.csv --tracking-uri http://127.0.0.1:5000
      runner sweep experiments/xor.csv --scheduler tcp://10.0.0.5:8786
    """
    from rich.console import Console

    from runner.cli.report import RichObserver, print_plan, print_results
    from runner.execution import default_jobs
    from runner.sweep import run_sweep

    out = Console(width=max(150, Console().width))
    observer = RichObserver(enabled=not quiet)
    try:
        summary = run_sweep(
            table,
            tracking_uri=tracking_uri,
            experiment=experiment,
            jobs=jobs or (1 if scheduler else default_jobs()),
            scheduler=scheduler,
            rerun=rerun,
            dry_run=dry_run,
            fail_fast=fail_fast,
            log_every=log_every,
            timeout=timeout,
            observer=observer,
        )
    finally:
        observer.close()
    if summary.dry_run:
        print_plan(summary, out)
        return
    print_results(summary, out)
    if summary.failed:
        sys.exit(1)


def _add_plugin_commands() -> None:
    """Let installed plugins add commands through the ``register_commands`` hook.

    The registry's own plugin manager is used, so entry points are loaded once per process.
    """
    try:
        _registry().plugin_manager.hook.register_commands(cli=cli)
    except RunnerError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)


def main() -> None:
    """The console-script entry point."""
    _add_plugin_commands()
    cli()
