"""Bounded work, said up front: tables that ask for too much, and stores that cannot keep results.

Each case is a generated table (and flags) that `runner sweep` must refuse before anything runs:
exit code 2, one line on stderr naming what is wrong and the flag that lifts the bound, nothing
written to the store. Through click's CliRunner, except the one case that is about the memory a
real process takes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _specs import spec_of
from click.testing import CliRunner
from conftest import free_port

from runner.cli import cli
from runner.engine.population import PopulationTask, run_population
from runner.engine.settings import BOUNDS
from runner.engine.training import HISTORY_DTYPE, Schedule

# (id, table, extra flags, the start of stderr's first line, after "Error: <table>: ")
REFUSED = [
    (
        "epochs-1e12",
        "dataset,epochs\nxor,1000000000000\n",
        [],
        "row 1, column 'epochs': '1000000000000' is not valid: at most 1000000 epochs per run "
        "(--max-epochs N lifts the bound)",
    ),
    (
        "epochs-1e30",
        "dataset,epochs\nxor," + "1" + "0" * 30 + "\n",
        [],
        "row 1, column 'epochs': '1" + "0" * 30 + "' is not valid: at most 1000000 epochs",
    ),
    (
        "restarts-1e8",
        "dataset,restarts\nxor,100000000\n",
        [],
        "row 1, column 'restarts': '100000000' is not valid: at most 10000 networks (restarts) "
        "trained per configuration (--max-restarts N lifts the bound)",
    ),
    (
        "units-second-layer",
        "dataset,hidden\nxor,2-20000\n",
        [],
        "row 1, column 'hidden': '2-20000' is not valid: at most 10000 units per hidden layer "
        "(--max-units N lifts the bound)",
    ),
    (
        "samples",
        "dataset,n_samples\nmoons,200\n",
        ["--max-samples", "100"],
        "row 1, column 'dataset': 'moons' is not valid: data set 'moons' has 200 samples; at "
        "most 100 samples per data set (--max-samples N lifts the bound)",
    ),
    (
        "configurations-over-rows",
        "dataset,seed\nxor,0..59999\nxor,0..59999\nxor,0..9\n",
        [],
        "row 2: the table expands to 120010 configurations; at most 100000 configurations per "
        "table (--max-configurations N lifts the bound)",
    ),
    (
        "configurations-lowered",
        "dataset,seed,learning_rate\nxor,0..5,0.1|0.5\n",
        ["--max-configurations", "10"],
        "row 1: the table expands to 12 configurations; at most 10 configurations per table",
    ),
    (
        "time-once-epochs-are-lifted",
        "dataset,epochs\nxor,1000000000000\n",
        ["--max-epochs", "1000000000000"],
        "the plan needs an estimated 581 days on 1 worker (at 1e+09 flop/s a core); at most 24 "
        "hours (--max-hours N lifts the check)",
    ),
    (
        "time-lowered",
        "dataset,epochs,seed\nxor,1000000,0..99\n",
        ["--max-hours", "0.01", "--jobs", "1"],
        "the plan needs an estimated",
    ),
    (
        "memory",
        "dataset,hidden,epochs\nxor,10000-10000,1\n",
        ["--max-memory-gb", "0.5"],
        "the plan needs an estimated 3.7 GB of memory (1 population at once; the largest, from "
        "row 1: 1 network of hidden 10000-10000, 1 epochs, float64) but --max-memory-gb allows "
        "512.0 MB",
    ),
    (
        # the plan above fits in 4 GB; early stopping's copy of the best weights does not
        "memory-early-stopping",
        "dataset,hidden,epochs,early_stopping\nxor,10000-10000,1,true\n",
        ["--max-memory-gb", "4"],
        "the plan needs an estimated 4.5 GB of memory",
    ),
    (  # the critical-point test's Hessians and backprop passes are in the plan
        "critical-points-digits",
        "dataset,hidden,epochs,seed,critical_points\ndigits,64,2,0..19,true\n",
        ["--max-memory-gb", "0.2", "--jobs", "1"],
        "the plan needs an estimated 656.1 MB of memory (1 population at once; the largest, "
        "from row 1: 20 networks of hidden 64, 2 epochs, float64, 20 critical-point tests)",
    ),
    (  # descent on an objective takes time too
        "objective-iterations",
        "objective,epochs,seed\nhimmelblau,1000000,0..999\n",
        ["--max-hours", "0.01", "--jobs", "1"],
        "the plan needs an estimated 4 minutes on 1 worker",
    ),
]


def sweep(tmp_path: Path, table_text: str, *flags: str, uri: str | None = None):
    table = tmp_path / "t.csv"
    table.write_text(table_text)
    uri = uri or f"sqlite:///{tmp_path}/store/m.db"
    (tmp_path / "store").mkdir(exist_ok=True)
    args = ["sweep", str(table), "--tracking-uri", uri, "--quiet", *flags]
    return table, CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.mark.parametrize(
    ("text", "flags", "expected"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_a_plan_over_a_bound_is_one_line_and_nothing_is_written(
    tmp_path: Path, text: str, flags: list[str], expected: str
) -> None:
    table, result = sweep(tmp_path, text, *flags)
    lines = result.stderr.splitlines()
    assert (result.exit_code, len(lines)) == (2, 1), result.output
    assert lines[0].startswith(f"Error: {table}: {expected}"), lines[0]
    assert list((tmp_path / "store").iterdir()) == []  # no store, no lock file


def test_every_bound_has_its_flag() -> None:
    helps = CliRunner().invoke(cli, ["sweep", "--help"]).output
    for bound in BOUNDS.values():
        assert bound.flag in helps


def test_a_lifted_bound_lets_the_table_through(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("dataset,epochs\nxor,2000000\n")
    args = ["sweep", str(table), "--dry-run", "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]
    refused = CliRunner().invoke(cli, args)
    lifted = CliRunner().invoke(cli, [*args, "--max-epochs", "2000000"])
    assert (refused.exit_code, lifted.exit_code) == (2, 0), lifted.output


def test_a_dry_run_says_the_estimate(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("dataset,seed\nxor,0..3\n")
    args = ["sweep", str(table), "--dry-run", "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]
    result = CliRunner().invoke(cli, args)
    assert "estimated for the whole table: " in result.output


# --- stores that would not keep the results --------------------------------------------------

STORES = [
    ("sqlite://", "Error: tracking URI 'sqlite://' is an in-memory database"),
    ("sqlite:///:memory:", "Error: tracking URI 'sqlite:///:memory:' is an in-memory database"),
    ("sqlite:///file:x?mode=memory&uri=true", "Error: tracking URI "),
    ("FOLDER", "is a folder, not a database file; give a file in it"),
    ("SERVER", "Error: cannot reach tracking server http://127.0.0.1:"),
]


@pytest.mark.parametrize(("uri", "expected"), STORES, ids=[s[0] for s in STORES])
@pytest.mark.parametrize("dry_run", [False, True], ids=["sweep", "dry-run"])
def test_a_store_that_cannot_keep_results_is_one_line(
    tmp_path: Path, uri: str, expected: str, dry_run: bool
) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    if uri == "FOLDER":
        uri = f"sqlite:///{folder}"
    elif uri == "SERVER":
        uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    flags = ["--dry-run"] if dry_run else []
    _, result = sweep(tmp_path, "dataset\nxor\n", *flags, uri=uri)
    lines = result.stderr.splitlines()
    assert (result.exit_code, len(lines)) == (2, 1), result.output
    assert lines[0].startswith("Error: ") and expected in lines[0], lines[0]
    assert list(folder.iterdir()) == []


# --- workers and history -----------------------------------------------------------------------


def test_jobs_beyond_the_cores_are_capped_with_a_warning(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("dataset\nxor\n")
    many = str(512)  # more cores than any machine that runs this suite
    args = [
        "sweep",
        str(table),
        "--jobs",
        many,
        "--dry-run",
        "--tracking-uri",
        f"sqlite:///{tmp_path}/m.db",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.stderr.splitlines()[0].startswith(f"Warning: --jobs {many} is more than the ")
    forced = CliRunner().invoke(cli, [*args, "--force-jobs"])
    assert "Warning" not in forced.stderr


@pytest.mark.parametrize("log_every", [0, 1, 7])
def test_the_history_budget_holds_whatever_log_every_says(log_every: int) -> None:
    schedule = Schedule(epochs=1_000_000, log_every=log_every)
    members, metrics = 20_000, 3
    every = schedule.every(members, metrics)
    itemsize = np.dtype(HISTORY_DTYPE).itemsize
    assert itemsize * members * metrics * (schedule.epochs // every) <= schedule.history_bytes
    assert every >= log_every


def test_a_run_records_the_interval_it_logged_at() -> None:
    task = PopulationTask((spec_of(epochs=20, seed=0),), log_every=3)
    (result,) = run_population(task)
    assert result.metrics["log_every"] == 3
    steps, _ = result.history["loss"]
    assert list(steps[:3]) == [0, 3, 6]  # step 0: the initial weights


# --- one real process: a table of 900,000 configurations fails in bounded memory ---------------

MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)
sys.stdout.write(f"{done.returncode}\\n{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n")
sys.stdout.write(done.stderr)
"""


def test_900k_configurations_fail_at_once_in_bounded_memory(tmp_path: Path) -> None:
    """Expanding 900k configurations took 2.4 GB; counting them takes what start-up takes."""
    table = tmp_path / "big.csv"
    rows = "".join(f"xor,0..99999,{epochs}\n" for epochs in range(1, 10))
    table.write_text("dataset,seed,epochs\n" + rows)
    runner = Path(sys.executable).with_name("runner")
    command = [str(runner), "sweep", str(table), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, timeout=180
    )
    code, max_rss_kb, *stderr = done.stdout.splitlines()
    assert (int(code), len(stderr)) == (2, 1), done.stdout
    assert "the table expands to 900000 configurations; at most 100000" in stderr[0]
    assert int(max_rss_kb) < 600 * 1024, f"{int(max_rss_kb) / 1024:.0f} MB"
    assert not (tmp_path / "m.db").exists()
