"""The CLI room: the ``runner`` command line parses arguments and reports; the work happens
elsewhere (:mod:`runner.sweep`, :mod:`runner.testing`, :mod:`runner.plugin.registry`).

Expected problems arrive as :class:`runner.errors.RunnerError` and leave as one line on stderr
with the error's exit code (2 for bad input), never a traceback. MLflow, pandas, rich and dask
are imported only inside the commands that need them, so ``runner --help`` stays fast;
:mod:`runner.cli.report` is the terminal report. May import every room (``docs/architecture.md``).
"""

from __future__ import annotations

import functools
import gc
import json
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from runner.engine.settings import BOUNDS
from runner.errors import PluginError, RunnerError, TableWarning, did_you_mean
from runner.execution.signals import STOP_SIGNALS, signal_name, signum_of
from runner.version import __version__


class RunnerGroup(click.Group):
    """A click group that turns a RunnerError into one clear line and its exit code (after the
    full traceback with ``--traceback``), and that reports the plugin distributions left out."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", TableWarning)
                shown = warnings.showwarning
                warnings.showwarning = functools.partial(_show_warning, shown)
                return super().invoke(ctx)
        except RunnerError as exc:
            if ctx.params.get("traceback"):
                _print_traceback(exc)
            for line in exc.problems:
                click.echo(f"Error: {line}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt as exc:  # a stop signal outside a sweep's own handling
            _interrupted(exc)

    def get_help(self, ctx: click.Context) -> str:
        _report_plugin_warnings(tracebacks=False)
        return super().get_help(ctx)


def _show_warning(shown: Any, message: Any, category: type, *args: Any, **kwargs: Any) -> None:
    """A :class:`TableWarning` as one ``Warning:`` line on stderr; any other as Python shows it."""
    if issubclass(category, TableWarning):
        click.echo(f"Warning: {message}", err=True)
    else:
        shown(message, category, *args, **kwargs)


def _interrupted(exc: KeyboardInterrupt, said: str = "") -> None:
    """A stop signal where no command handles it (starting up, say): one line, and the exit
    code 128 + the signal (130 for Ctrl-C), as a sweep stopped by it exits; never click's
    ``Aborted!`` with 1."""
    signum = signum_of(exc)
    click.echo(f"Error: interrupted ({signal_name(signum)}){' ' if said else ''}{said}", err=True)
    sys.exit(128 + signum)


def _print_traceback(exc: BaseException) -> None:
    import traceback

    click.echo("".join(traceback.format_exception(exc)).rstrip("\n"), err=True)


def _tracebacks() -> bool:
    """Whether ``runner --traceback`` was given."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().params.get("traceback"))


def _report_plugin_warnings(tracebacks: bool) -> None:
    """One ``Warning:`` line on stderr per plugin distribution left out (and per
    ``RUNNER_PLUGINS`` entry that names nothing), with the full traceback if asked for."""
    registry = _registry()
    for broken in registry.broken:
        if tracebacks and broken.exception is not None:
            _print_traceback(broken.exception)
    for line in registry.warnings():
        click.echo(f"Warning: {line}", err=True)


@click.group(cls=RunnerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runner")
@click.option(
    "--traceback", is_flag=True, help="Show the full Python traceback of any error or warning."
)
def cli(traceback: bool) -> None:
    """Train grids of multi-layer perceptrons by backpropagation and track them in MLflow.

    \b
    Examples:
      runner sweep experiments/xor.csv          train every row of a table
      runner sweep experiments/xor.csv --dry-run
      runner report experiments/xor.csv --out report/   statistics, figures
      runner plugins                            what is installed
      runner check sigmoid momentum             conformance-check plugins
      mlflow ui --backend-store-uri sqlite:///mlflow.db
    """
    _report_plugin_warnings(tracebacks=traceback)


def _registry() -> Any:
    from runner.plugin.registry import get_registry

    return get_registry()


#: words users say for a kind beyond its name and the table's columns (PARTS)
KIND_WORDS = {
    "optimiser": "step_rule",
    "loss": "cost",
    "data": "dataset",
    "function": "objective",
    "initialiser": "initializer",
    "init": "initializer",
    "lr_schedule": "schedule",
}


def kind_of(word: str) -> str:
    """The kind a user's word names: a kind (``step_rule``), the table's column for it
    (``optimizer``), a word of :data:`KIND_WORDS` (``loss``), any in the plural, any case, with
    ``-`` or a space for ``_``. Raises RunnerError (exit 2) naming the kinds accepted."""
    from runner.engine.settings import PARTS
    from runner.plugin.kinds import KINDS

    words = {**{k: k for k in KINDS}, **PARTS, **KIND_WORDS}
    said = "_".join(word.strip().lower().replace("-", " ").split())
    for form in (said, said.removesuffix("s"), said.removesuffix("es")):
        if form in words:
            return words[form]
    columns = sorted(c for c, kind in PARTS.items() if c != kind)
    raise RunnerError(
        f"--kind {word!r} is not a kind of plugin; {did_you_mean(said, words)}accepted: "
        f"{', '.join(sorted(KINDS))} (or the table's columns {', '.join(columns)})"
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option(
    "--kind",
    help="Only plugins of this kind (activation, cost, optimizer or step_rule, dataset, ...).",
)
def plugins(as_json: bool, kind: str | None) -> None:
    """List every installed plugin with its kind, distribution, version and parameters, and
    every plugin distribution left out as broken, with its error.

    \b
    Examples:
      runner plugins
      runner plugins --kind optimizer
      runner plugins --json
    """
    wanted = None if kind is None else kind_of(kind)
    registry = _registry()
    rows = [obj for obj in registry.all() if wanted is None or obj.kind == wanted]
    if as_json:
        described = [_describe(obj) for obj in rows] + [
            _describe_broken(b) for b in registry.broken
        ]
        click.echo(json.dumps(described, indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from runner.cli.report import plugin_blocks

    console = Console()
    described = [
        (obj, obj.summary() + (_objective_line(obj) if obj.kind == "objective" else ""))
        for obj in rows
    ]
    for block in plugin_blocks(described):
        console.print(block)
    if registry.broken:
        left_out = Table(title="broken plugin distributions (left out)", box=box.SIMPLE_HEAD)
        left_out.add_column("status", no_wrap=True)
        left_out.add_column("distribution", no_wrap=True)
        left_out.add_column("error", overflow="fold", ratio=1)
        for b in registry.broken:
            where = f"{b.version}, entry points {', '.join(b.entry_points)}"
            left_out.add_row(
                "broken", f"{b.distribution}\n[dim]{escape(where)}[/]", escape(b.reason)
            )
        console.print(left_out)


def _describe(obj: Any) -> dict[str, Any]:
    return {
        "status": "ok",
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
        **(_objective_facts(obj) if obj.kind == "objective" else {}),
    }


def _objective_facts(obj: Any) -> dict[str, Any]:
    """An objective's dimension, known minima, saddles and maxima at its parameters' defaults, as
    ``runner plugins --json`` lists them (empty when the objective raises on its defaults)."""
    try:
        defaults = obj.defaults()
        return {
            "dimension": int(obj.dimension(**defaults)),
            "minima": [
                {
                    "label": m.label,
                    "point": [float(c) for c in m.point],
                    "value": float(m.value),
                    "global": bool(m.global_),
                }
                for m in obj.minima(**defaults)
            ],
            "saddles": [[float(c) for c in s] for s in obj.saddles(**defaults)],
            "maxima": [[float(c) for c in s] for s in obj.maxima(**defaults)],
        }
    except Exception:  # a plugin's failure is runner check's to report, not the listing's
        return {}


def _objective_line(obj: Any) -> str:
    """`` (2 variables; 4 minima, 1 global; 4 saddles)``: the listing's facts of an objective."""
    facts = _objective_facts(obj)
    if not facts:
        return ""
    minima = facts["minima"]
    n_global = sum(m["global"] for m in minima)
    parts = [f"{facts['dimension']} variables"]
    if minima:
        word = "minimum" if len(minima) == 1 else "minima"
        parts.append(f"{len(minima)} known {word}, {n_global} global")
    if facts["saddles"]:
        parts.append(f"{len(facts['saddles'])} saddle" + ("s" if len(facts["saddles"]) > 1 else ""))
    if facts["maxima"]:
        parts.append(f"{len(facts['maxima'])} maxim" + ("a" if len(facts["maxima"]) > 1 else "um"))
    if not minima:
        parts.append("no minimum")
    return f" ({'; '.join(parts)}{', at the defaults' if obj.params else ''})"


def _describe_broken(broken: Any) -> dict[str, Any]:
    """A broken distribution as ``runner plugins --json`` lists it: ``status`` "broken", no kind
    and name, its entry points, its error, and the plugins it registered before it broke."""
    return {
        "status": "broken",
        "kind": None,
        "name": None,
        "distribution": broken.distribution,
        "version": broken.version,
        "entry_points": list(broken.entry_points),
        "error": broken.message(),
        "registered": [{"kind": kind, "name": name} for kind, name in broken.names],
        "description": "",
        "parameters": [],
    }


def _check_params(pins: tuple[str, ...], targets: list[Any]) -> list[dict[str, Any]]:
    """Each target's pinned parameters from ``--param name=value``: a name applies to every
    target that declares it; a name none declares, or a value it does not accept, is an error."""
    pinned: list[dict[str, Any]] = [{} for _ in targets]
    for pin in pins:
        name, sep, value = pin.partition("=")
        name = name.strip()
        if not sep or not name:
            raise RunnerError(f"--param {pin!r}: expected name=value, as in --param beta=2")
        owners = [i for i, obj in enumerate(targets) if any(p.name == name for p in obj.params)]
        if not owners:
            declared = sorted({p.name for obj in targets for p in obj.params})
            raise RunnerError(
                f"--param {pin!r}: none of the checked plugins declares {name!r}; "
                f"{did_you_mean(name, declared)}they take: {', '.join(declared) or 'no parameters'}"
            )
        for i in owners:
            param = targets[i].param(name)
            try:
                pinned[i][name] = param.coerce(value)
            except ValueError as exc:
                raise RunnerError(
                    f"--param {pin!r}: {value!r} is not valid for {targets[i].label()}: {exc}"
                ) from None
    return pinned


@cli.command()
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--param",
    "pins",
    multiple=True,
    metavar="NAME=VALUE",
    help="Check with this parameter pinned (repeatable); the others are explored.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds the check of one parameter setting may take before it fails as timed out "
    "(default: runner.testing.CHECK_SECONDS, 60).",
)
def check(names: tuple[str, ...], pins: tuple[str, ...], timeout: float | None) -> None:
    """Run the conformance kit on installed plugins, by name (or ``all``).

    Derivatives are checked against central finite differences; shapes, dtypes and population
    broadcasting are checked too, with each declared parameter at several values across its
    declared range (its bounds, its default and values between). Exits 1 when any plugin fails.

    \b
    Examples:
      runner check sigmoid cross_entropy
      runner check swish --param beta=2
      runner check all
    """
    from runner.testing import CHECK_SECONDS, check_plugin, parameter_settings

    registry = _registry()
    if names == ("all",):
        targets = registry.all()
    else:
        targets = []
        for name in names:
            found = [obj for obj in registry.all() if obj.name == name]
            if not found:
                claimed = registry.claimed_by(name)
                if claimed is not None:
                    raise RunnerError(f"plugin {name!r} is not available: {claimed.message()}")
                known = sorted({obj.name for obj in registry.all()})
                hint = (did_you_mean(name, known) or did_you_mean(name.lower(), known)).strip()
                raise RunnerError(
                    f"no installed plugin is called {name!r}"
                    + (f"; {hint}" if hint else "")
                    + registry.why_missing()
                )
            targets.extend(found)
    failed = 0
    for obj, params in zip(targets, _check_params(pins, targets), strict=True):
        try:
            skipped = check_plugin(obj, params, timeout=timeout or CHECK_SECONDS)
        except AssertionError as exc:
            failed += 1
            if _tracebacks():
                _print_traceback(exc)
            click.echo(f"FAIL {obj.kind} {obj.name} ({obj.distribution}): {exc}")
        else:
            if skipped:
                click.echo(f"skip {obj.kind} {obj.name} ({obj.distribution}): {skipped}")
            else:
                settings = len(parameter_settings(obj, params))
                word = "setting" if settings == 1 else "settings"
                click.echo(
                    f"ok   {obj.kind} {obj.name} ({obj.distribution}): {settings} parameter {word}"
                )
    if failed:
        click.echo(f"{failed} of {len(targets)} plugins failed", err=True)
        sys.exit(1)


def _bound_options(command: Any) -> Any:
    """A ``--max-<name> N`` option for each upper bound of :data:`BOUNDS`, declared there."""
    for bound in reversed(BOUNDS.values()):
        command = click.option(
            bound.flag,
            f"max_{bound.name}",
            type=click.IntRange(min=1),
            help=f"Allow at most N {bound.what} (default: {bound.default}).",
        )(command)
    return command


#: the options that say which store and experiment a command reads or writes (sweep, report)
tracking_uri_option = click.option(
    "--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)."
)
experiment_option = click.option(
    "--experiment", help="MLflow experiment name (default: the table's file name)."
)


#: the exit code of a sweep that left results in the spool (the store was away): sysexits'
#: EX_TEMPFAIL, "try again later"
SPOOLED_EXIT_CODE = 75

#: the best runs a sweep lists under its study (their ids, to open or load one); 10 without one
BEST_AFTER_A_STUDY = 3

#: every exit code of ``runner sweep`` and what it means: its --help and the README list these
SWEEP_EXIT_CODES: dict[int, str] = {
    0: "every run finished or diverged",
    1: "some run failed, or the store could not be written",
    RunnerError.exit_code: "bad input",
    SPOOLED_EXIT_CODE: "results wait in the spool (the store was away); the same command "
    "records them once it is back",
    **{code: f"stopped by {signal.Signals(signum).name}" for signum, code in STOP_SIGNALS.items()},
}


@cli.command()
@click.argument("table", type=click.Path(dir_okay=False, path_type=Path))
@tracking_uri_option
@experiment_option
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    help="Worker processes (default: all cores; 1 runs in-process; capped at the cores).",
)
@click.option("--force-jobs", is_flag=True, help="Start --jobs N workers even beyond the cores.")
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
    help="Seconds a population may train before it is marked FAILED (default: a guard, 20 "
    "times its estimated time and at least 10 minutes).",
)
@click.option(
    "--rank-by",
    type=click.Choice(["test_accuracy", "train_accuracy", "test_loss", "train_loss", "f"]),
    help="The metric that ranks the runs and picks the best model (default: accuracy for "
    "classification; the loss when every run has the same cost; f for objective rows).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option(
    "--no-report",
    is_flag=True,
    help="Skip the study at the end (per-configuration table, figures on the sweep's run).",
)
@_bound_options
@click.option(
    "--max-memory-gb",
    type=click.FloatRange(min=0, min_open=True),
    help="Refuse a plan estimated to need more memory (default: what the machine has free).",
)
@click.option(
    "--max-hours",
    type=click.FloatRange(min=0, min_open=True),
    help="Refuse a plan estimated to take longer (default: 24).",
)
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
    rank_by: str | None,
    quiet: bool,
    no_report: bool,
    force_jobs: bool,
    max_memory_gb: float | None,
    max_hours: float | None,
    **max_bounds: int | None,
) -> None:
    """Train every configuration of TABLE and record each run in MLflow.

    TABLE is a .csv, .tsv, .json, .parquet or .xlsx file with one configuration per row; a cell
    may hold several values (0.1|0.5|1.0) or an inclusive integer range (0..9), and the row
    expands to every combination. Configurations already FINISHED in the experiment are skipped,
    so an interrupted sweep resumes where it stopped.

    \b
    Exit codes:
      {exit_codes}

    \b
    Examples:
      runner sweep experiments/xor.csv
      runner sweep experiments/xor.csv --dry-run
      runner sweep experiments/digits.csv --jobs 2 --experiment digits-grid
      runner sweep experiments/moons.csv --tracking-uri http://127.0.0.1:5000
      runner sweep experiments/xor.csv --scheduler tcp://10.0.0.5:8786
    """
    # the first line a terminal shows, before the table's reader (pandas), the terminal's (rich)
    # and the store's (mlflow) libraries are imported: those take seconds on a busy machine
    # (not written where stderr is no terminal: there a bad table's errors are all it says)
    if sys.stderr.isatty():
        store = "looking in" if dry_run else "opening"
        click.echo(f"{Path(table).name}: reading the table, {store} the tracking store", err=True)

    from rich.console import Console

    from runner.cli.report import RichObserver, print_plan, print_results
    from runner.execution import default_jobs, ignore_after_a_stop, usable_jobs
    from runner.sweep import MAX_HOURS, run_sweep

    out = Console()  # the terminal's width (80 when it is no terminal), never a forced one
    if jobs and not scheduler:
        jobs, note = usable_jobs(jobs, force=force_jobs)
        if note:
            click.echo(f"Warning: {note}", err=True)
    if _PROGRAM[0]:  # this process ends with its sweep (not so a CliRunner's caller)
        ignore_after_a_stop()
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
            rank_by=rank_by,
            observer=observer,
            bounds={name.removeprefix("max_"): value for name, value in max_bounds.items()},
            max_memory=None if max_memory_gb is None else max_memory_gb * 2**30,
            max_hours=MAX_HOURS if max_hours is None else max_hours,
            report=not no_report,
        )
    finally:
        observer.close()
    if summary.dry_run:
        print_plan(summary, out)
        return
    if summary.study is not None:  # the answer first: the study, then the few best runs' ids
        from runner.cli.report import print_study

        print_study(summary.study, out)
        out.print()
    print_results(summary, out, n=BEST_AFTER_A_STUDY if summary.study is not None else 10)
    if summary.spooled or summary.spooled_ends:  # before 1: the store still misses results
        sys.exit(SPOOLED_EXIT_CODE)
    if summary.failed:
        sys.exit(1)


sweep.help = (sweep.help or "").replace(
    "{exit_codes}",
    "\n      ".join(f"{code:<4} {meaning}" for code, meaning in SWEEP_EXIT_CODES.items()),
)


@cli.command()
@click.argument("table", required=False, type=click.Path(dir_okay=False, path_type=Path))
@tracking_uri_option
@experiment_option
@click.option(
    "--by",
    "by",
    multiple=True,
    help="Group the runs by this table column (repeatable) instead of by configuration.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the figures (PNG) and the table (summary.csv) to this folder.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def report(
    table: Path | None,
    tracking_uri: str | None,
    experiment: str | None,
    by: tuple[str, ...],
    out: Path | None,
    as_json: bool,
) -> None:
    """Per-configuration statistics of TABLE's experiment, from the store alone.

    Groups the child runs of every sweep of the experiment by configuration (a row's expansion
    with the seed taken out; its seeds are the replicates) and prints, for each: the runs, the
    success rate (every training sample classified right, or target_loss reached) with its 95%
    Wilson interval, the final training loss's median and interquartile range; under the
    table, how the runs ended, mean and sd, the test loss, epochs to converge, the restarts'
    own success and the critical-point classes. Works on a partial or resumed sweep.

    \b
    Examples:
      runner report experiments/xor.csv
      runner report experiments/xor.csv --out report/ --by learning_rate
      runner report --experiment xor --tracking-uri http://127.0.0.1:5000 --json
    """
    if table is None and not experiment:
        raise click.UsageError("give a TABLE or --experiment NAME")
    from runner.sweep import study

    name = experiment or table.stem  # type: ignore[union-attr]
    made = study(name, tracking_uri=tracking_uri, by=by, out=out)
    if as_json:
        click.echo(json.dumps(made.to_json(), indent=2, default=str))
        return
    from rich.console import Console

    from runner.cli.report import print_study

    print_study(made, Console())


def _add_plugin_commands() -> None:
    """Let installed plugins add commands through the ``register_commands`` hook.

    The registry's own plugin manager is used, so entry points are loaded once per process.
    Each distribution's hook adds its commands to a group of its own, and they join ``cli``
    when it returns: a distribution whose hook raises, or that names a command as a built-in
    or an earlier distribution's is named, is left out, alone, and reported with the others.
    """
    owners = {name: "runner's own" for name in cli.commands}

    def stage() -> tuple[dict[str, Any], Any]:
        group = click.Group("runner")

        def take(dist: str) -> None:
            for name in group.commands:
                if name in owners:
                    raise PluginError(
                        f"its hook register_commands adds the command {name!r}, which is "
                        f"{owners[name]} command; a plugin's command takes a name of its own"
                    )
            for name, command in group.commands.items():
                cli.add_command(command, name)
                owners[name] = f"distribution {dist!r}'s"

        return {"cli": group}, take

    _registry().call_each("register_commands", stage)


#: whether the command line runs as its own program (:func:`main`), not called by a caller
_PROGRAM = [False]


def main() -> None:
    """The console-script entry point."""
    _PROGRAM[0] = True
    try:
        try:
            _add_plugin_commands()
        except KeyboardInterrupt as exc:  # Ctrl-C while the plugins load: nothing has run
            _interrupted(exc, "while the plugins loaded; nothing was done")
        cli()
    finally:
        # Exit without the interpreter's final collections over every object of every library
        # imported (about 2 s on a loaded machine, of the 5 s a stop signal allows): atexit
        # handlers and finalizers still run, only the garbage collector skips what exists now.
        gc.freeze()
