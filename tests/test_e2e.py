"""End to end, as a user runs it: ``python -m runner sweep`` as a real subprocess.

Covers the README's main path on a store the sweep creates itself; a sweep stopped every way a
machine stops one (SIGTERM or SIGHUP to the driver, kill -9, Ctrl-C twice to the whole process
group, as a terminal sends it) and resumed to exactly one FINISHED run per configuration, with
no process outliving its sweep; and bad input (exit code 2, one line per problem, no traceback,
nothing written). What a repeated sweep skips is tests/test_sweep.py's.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import alive, default_sigint, descendants

ROOT = Path(__file__).resolve().parent.parent


def runner_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "runner", *args]


def status_counts(db: Path) -> dict[str, int]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db) as con:
            rows = con.execute(
                "select r.status, count(*) from runs r join tags t on t.run_uuid = r.run_uuid "
                "where t.key = 'runner.spec_hash' group by r.status"
            ).fetchall()
    except sqlite3.OperationalError:  # MLflow is still creating its tables
        return {}
    return dict(rows)


def finished_hashes(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "select t.value from runs r join tags t on t.run_uuid = r.run_uuid "
            "where t.key = 'runner.spec_hash' and r.status = 'FINISHED'"
        ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.slow
def test_xor_sweep_from_the_command_line(tmp_path: Path):
    env = {**os.environ, "MLFLOW_TRACKING_URI": ""}
    env.pop("MLFLOW_TRACKING_URI")
    proc = subprocess.run(
        runner_cmd("sweep", str(ROOT / "experiments" / "xor.csv"), "--jobs", "1"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert status_counts(tmp_path / "mlflow.db") == {"FINISHED": 30}
    # the printed UI command works as pasted, from any folder, with this environment off PATH
    (command,) = [line for line in proc.stdout.splitlines() if " ui --backend-store-uri " in line]
    command, _, page = command.partition("  # then open ")  # a shell comment: it pastes
    assert command.endswith(f" ui --backend-store-uri sqlite:///{tmp_path / 'mlflow.db'}")
    assert page.endswith(  # Model training, runner's saved view
        "/#/experiments/1/runs?workflowType=machine_learning&viewStateShareKey=runner"
    )
    program = shlex.split(command)[0]
    bare = {**env, "PATH": "/usr/bin:/bin"}
    version = subprocess.run([program, "--version"], cwd="/", env=bare, capture_output=True)
    assert version.returncode == 0 and b"version" in version.stdout, version.stderr


def test_an_objective_table_sweeps_on_two_worker_processes(tmp_path: Path):
    """Objective results cross from spawned workers to the driver (the trajectory with them)."""
    table = tmp_path / "himmelblau.csv"
    table.write_text(
        "objective,optimizer,learning_rate,momentum,restarts,epochs,seed\n"
        "himmelblau,gd|momentum,0.01,0.9,3,300,0..1\n"
    )
    proc = subprocess.run(
        runner_cmd("sweep", str(table), "--jobs", "2", "--tracking-uri", "sqlite:///mlflow.db"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert status_counts(tmp_path / "mlflow.db") == {"FINISHED": 4}
    assert len(list((tmp_path / "mlartifacts").rglob("trajectory.npz"))) == 4


def run_counts(db: Path) -> dict[str, int]:
    """Every run of the store (sweeps and configurations) by status."""
    with sqlite3.connect(db) as con:
        return dict(con.execute("select status, count(*) from runs group by status").fetchall())


@pytest.mark.slow
def test_a_sweep_stopped_by_sigterm_kill_9_and_two_ctrl_c_resumes_to_one_run_each(
    tmp_path: Path, sqlite_uri: str
):
    table = tmp_path / "slow.csv"
    # eight populations (one per hidden size) of two networks, each about a second of work
    table.write_text(
        "dataset,hidden,activation,learning_rate,epochs,seed\n"
        "xor,2|3|4|5|6|7|8|9,sigmoid,1.0,10000,0..1\n"
    )
    db = Path(sqlite_uri.removeprefix("sqlite:///"))
    args = runner_cmd("sweep", str(table), "--jobs", "2", "--tracking-uri", sqlite_uri)

    def stop(signals: list[int], whole_group: bool) -> tuple[int, str, list[int]]:
        """Start the sweep, let two more runs finish, send ``signals`` 0.2 s apart; return its
        exit code, its stderr and the processes it had started."""
        before = status_counts(db).get("FINISHED", 0)
        proc = subprocess.Popen(
            args,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=default_sigint,
        )
        deadline = time.monotonic() + 120
        while status_counts(db).get("FINISHED", 0) < before + 2 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        workers = descendants(proc.pid)
        for signum in signals:
            (os.killpg if whole_group else os.kill)(proc.pid, signum)
            time.sleep(0.2)
        try:
            _, err = proc.communicate(timeout=60)  # a guard against a hang, not a measurement
        except subprocess.TimeoutExpired:  # the test fails, and leaves no sweep running behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        deadline = time.monotonic() + 10
        while [pid for pid in workers if alive(pid)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in workers if alive(pid)] == [], "a process outlived its sweep"
        return proc.returncode, err, workers

    # SIGTERM to the driver alone, as `timeout` or a batch scheduler sends it
    code, err, workers = stop([signal.SIGTERM], whole_group=False)
    assert code == 143 and "Traceback" not in err, err
    assert "interrupted (SIGTERM)" in err and "run the same command again" in err
    assert len(workers) >= 2
    assert run_counts(db).get("RUNNING", 0) == 0
    # SIGHUP, as a closed terminal or ssh session sends it: the same stop, exit 129
    code, err, _ = stop([signal.SIGHUP], whole_group=False)
    assert code == 129 and "interrupted (SIGHUP)" in err and "Traceback" not in err, err
    assert run_counts(db).get("RUNNING", 0) == 0
    # kill -9 of the driver: its workers die with it, its runs are left RUNNING...
    code, _, _ = stop([signal.SIGKILL], whole_group=False)
    assert code == -signal.SIGKILL
    assert run_counts(db).get("RUNNING", 0) >= 1
    # ...until the next sweep marks them KILLED; two Ctrl-C 0.2 s apart stop that one
    code, err, _ = stop([signal.SIGINT, signal.SIGINT], whole_group=True)
    assert code == 130 and "Traceback" not in err, (
        err
    )  # the second one, if it came in time, ignored
    counts = run_counts(db)
    assert counts.get("RUNNING", 0) == 0 and counts.get("KILLED", 0) >= 2  # kill -9's, Ctrl-C's
    assert len(set(finished_hashes(db))) == len(finished_hashes(db)) >= 8

    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    hashes = finished_hashes(db)
    assert len(hashes) == 16 and len(set(hashes)) == 16
    assert run_counts(db).get("RUNNING", 0) == 0


@pytest.mark.slow
def test_two_sweeps_of_one_table_at_once_record_every_configuration_once(tmp_path: Path):
    """On a fresh store (they race to create it) and then on the initialised one."""
    db = tmp_path / "store" / "mlflow.db"
    db.parent.mkdir()
    for epochs, name in enumerate(("fresh", "initialised"), start=1000):
        table = tmp_path / f"{name}.csv"  # twelve configurations of their own for each pair
        table.write_text(
            "dataset,hidden,activation,learning_rate,epochs,seed\n"
            f"xor,2|3|4|5,sigmoid,1.0,{epochs},0..2\n"
        )
        args = runner_cmd("sweep", str(table), "--jobs", "1", "--tracking-uri", f"sqlite:///{db}")
        both = [
            subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        outcomes = [proc.communicate(timeout=300) for proc in both]  # a guard, not a measure
        for proc, (_, err) in zip(both, outcomes, strict=True):
            assert proc.returncode == 0, err.decode()
        hashes = finished_hashes(db)
        assert len(hashes) == 12 * (1 + (name == "initialised")) and len(set(hashes)) == len(hashes)
        assert run_counts(db).get("RUNNING", 0) == 0


@pytest.mark.slow
def test_a_store_locked_by_another_writer_delays_the_sweep_but_never_fails_it(
    tracking_template_db: Path, tmp_path: Path
):
    """A reader or writer holding SQLite's lock (``mlflow ui``, a script, a second sweep) for
    longer than SQLite's own 5 s busy timeout: the sweep waits it out, says nothing about a
    locked database, and records every configuration once."""
    db = tmp_path / "mlflow.db"
    db.write_bytes(tracking_template_db.read_bytes())
    table = tmp_path / "t.csv"
    table.write_text("dataset,hidden,learning_rate,epochs,seed\nxor,2|3,1.0,300,0..3\n")
    args = runner_cmd("sweep", str(table), "--jobs", "1", "--tracking-uri", f"sqlite:///{db}")
    proc = subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not run_counts(db) and time.monotonic() < deadline:  # the sweep's own run is there
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("begin exclusive")  # no one else reads or writes until the commit
    time.sleep(8)  # training takes well under a second: every record waits for the lock
    finished = "select count(*) from runs where status = 'FINISHED'"
    assert proc.poll() is None and holder.execute(finished).fetchone() == (0,)
    holder.execute("commit")
    holder.close()
    _, err = proc.communicate(timeout=300)  # a guard against a hang, not a measurement
    assert proc.returncode == 0, err
    assert "database is locked" not in err and "Traceback" not in err, err
    hashes = finished_hashes(db)
    assert len(hashes) == len(set(hashes)) == 8
    assert run_counts(db).get("RUNNING", 0) == 0


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MB tmpfs mounted for the test (root only): ``fill()`` leaves it 300 KB (room for a
    few runs, whatever the size of a run's history, and not for a whole store), ``free()``
    gives it room again."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")

    filler = folder / "filler"

    def fill() -> None:
        filler.write_bytes(b"\0" * max(0, shutil.disk_usage(folder).free - 300_000))

    def free() -> None:
        filler.unlink()
        subprocess.run(["mount", "-o", "remount,size=64m", str(folder)], check=True)

    try:
        yield folder, fill, free
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_the_rerun_completes_the_set(
    small_disk, tracking_template_db: Path, tmp_path: Path
):
    disk, fill, free = small_disk
    db = disk / "mlflow.db"
    db.write_bytes(tracking_template_db.read_bytes())
    fill()
    table = tmp_path / "many.csv"
    table.write_text("dataset,hidden,learning_rate,epochs,seed\nxor,2|3,1.0,1000,0..9\n")
    args = runner_cmd("sweep", str(table), "--jobs", "2", "--tracking-uri", f"sqlite:///{db}")
    full = subprocess.run(args, cwd=disk, capture_output=True, text=True, timeout=300)
    assert full.returncode == 1, full.stderr
    errors = [line for line in full.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in full.stderr, full.stderr
    assert "database or disk is full" in errors[0] and "free space" in errors[0]
    free()
    done = subprocess.run(args, cwd=disk, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    hashes = finished_hashes(db)
    assert len(hashes) == 20 and len(set(hashes)) == 20
    assert run_counts(db).get("RUNNING", 0) == 0
    assert not list((disk / ".runner-spool").rglob("run-*"))  # the spool was replayed, emptied


@pytest.mark.slow
def test_a_disk_that_fills_while_the_store_is_created_leaves_no_half_made_store(
    small_disk, tmp_path: Path
):
    """MLflow's migrations cut short by a full disk used to leave a half-made store that failed
    every later sweep ("table ... already exists"): runner's creation leaves none, and remakes a
    half-made one (migrations begun, no experiment, no run) that plain MLflow left."""
    disk, fill, free = small_disk
    db = disk / "mlflow.db"
    fill()
    table = tmp_path / "t.csv"
    table.write_text("dataset,hidden,epochs,seed\nxor,2,10,0..1\n")
    args = runner_cmd("sweep", str(table), "--jobs", "1", "--tracking-uri", f"sqlite:///{db}")
    full = subprocess.run(args, cwd=disk, capture_output=True, text=True, timeout=300)
    assert full.returncode != 0 and "Traceback" not in full.stderr, full.stderr
    assert len([line for line in full.stderr.splitlines() if line.startswith("Error:")]) == 1
    assert not db.exists() and not list(disk.glob(".mlflow.db.creating-*"))
    create = f"import mlflow; mlflow.MlflowClient('sqlite:///{db}').search_experiments()"
    plain = subprocess.run([sys.executable, "-c", create], capture_output=True)
    assert plain.returncode != 0 and db.stat().st_size > 0  # MLflow's own half-made store
    free()
    done = subprocess.run(args, cwd=disk, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(set(finished_hashes(db))) == 2 and run_counts(db) == {"FINISHED": 3}


def test_bad_table_exits_2_without_traceback_or_store(tmp_path: Path):
    table = tmp_path / "bad.csv"
    table.write_text("dataset,hidden,cost,seed\nxr,2-x,cross_entropy,5..1\n")
    proc = subprocess.run(
        runner_cmd("sweep", str(table)), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("Error: ") for line in lines)
    assert "Traceback" not in proc.stderr and not proc.stdout
    assert not (tmp_path / "mlflow.db").exists()


# -- a tracking server that goes away mid-sweep ----------------------------------------------

#: eight populations (one per hidden size) of two networks, each a fraction of a second of work
OUTAGE_TABLE = "dataset,hidden,activation,learning_rate,epochs,seed\nxor,2|3|4|5|6|7|8|9,sigmoid,1.0,4000,0..1\n"  # noqa: E501
OUTAGE_ENV = {"RUNNER_RETRY_SECONDS": "0.5"}  # spool after half a second, not thirty


def child_counts(db: Path) -> tuple[dict[str, int], list[str]]:
    """The server's configuration runs by status (deleted ones left out), and the spec hashes
    of the FINISHED ones (one entry per run)."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "select r.status, t.value from runs r join tags t on t.run_uuid = r.run_uuid "
            "join tags k on k.run_uuid = r.run_uuid and k.key = 'runner.kind' and k.value = 'run' "
            "where t.key = 'runner.spec_hash' and r.lifecycle_stage = 'active'"
        ).fetchall()
    counts: dict[str, int] = {}
    for status, _ in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts, [h for status, h in rows if status == "FINISHED"]


def claiming(db: Path) -> int:
    """How many sweeps hold a claim (a RUNNING configuration run) now."""
    with sqlite3.connect(db) as con:
        return con.execute(
            "select count(distinct t.value) from runs r join tags t on t.run_uuid = r.run_uuid "
            "and t.key = 'mlflow.parentRunId' where r.status = 'RUNNING'"
        ).fetchone()[0]


def start_outage_sweep(folder: Path, uri: str) -> subprocess.Popen:
    folder.mkdir(exist_ok=True)
    (folder / "outage.csv").write_text(OUTAGE_TABLE)
    args = runner_cmd("sweep", "outage.csv", "--jobs", "1", "--tracking-uri", uri, "--no-report")
    env = {**os.environ, **OUTAGE_ENV}
    return subprocess.Popen(args, cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def wait_for(what, proc: subprocess.Popen, seconds: float = 120) -> None:
    """Poll ``what()`` until it holds; the sweep must still run meanwhile."""
    deadline = time.monotonic() + seconds
    while not what():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "a guard against a hang"
        time.sleep(0.02)


@contextlib.contextmanager
def paused(proc: subprocess.Popen):
    """The process stopped (SIGSTOP) for the block, continued (SIGCONT) after it."""
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(proc.pid, signal.SIGCONT)


def spooled(folder: Path) -> list[Path]:
    return list((folder / ".runner-spool").rglob("run-*.json"))


@pytest.mark.slow
def test_a_server_killed_and_restarted_mid_sweep_gets_every_result_once_and_says_so(
    mlflow_server, tmp_path: Path
):
    db = mlflow_server.db
    proc = start_outage_sweep(tmp_path / "a", mlflow_server.uri)
    wait_for(lambda: db.exists() and child_counts(db)[0].get("FINISHED", 0) >= 2, proc)
    with paused(proc):  # the sweep waits while the server stops, and while it comes back
        mlflow_server.stop()
    wait_for(lambda: spooled(tmp_path / "a"), proc)  # a result kept: the store is away
    with paused(proc):
        mlflow_server.start()
    out, err = proc.communicate(timeout=300)  # a guard against a hang, not a measurement
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "is away" in err and "is back" in err, err  # told when it went and when it came
    assert "kept in the spool" in err and "recorded" in err, err  # ... and that it caught up
    counts, hashes = child_counts(db)
    assert len(hashes) == len(set(hashes)) == 16 and counts == {"FINISHED": 16}
    assert not spooled(tmp_path / "a")
    assert "wait in the spool" not in out and "not in the store" not in out


@pytest.mark.slow
def test_a_server_away_at_the_end_exits_75_with_the_command_and_two_folders_replay_once(
    mlflow_server, tmp_path: Path
):
    """Two folders sweep one table against one server at once; the server goes away mid-way
    and stays away: each sweep says how many results wait in its spool and the command that
    records them, and exits 75. Once the server is back, that command in each folder ends with
    every configuration FINISHED exactly once."""
    db = mlflow_server.db
    first = start_outage_sweep(tmp_path / "a", mlflow_server.uri)
    wait_for(lambda: db.exists() and claiming(db) == 1, first)
    # the second starts once the first holds a claim, and while the first waits: two sweeps
    # claiming one configuration in the same instant may both train it (a server has no
    # transaction; the README says so), and a busy machine starts a sweep slowly
    with paused(first):
        second = start_outage_sweep(tmp_path / "b", mlflow_server.uri)
        wait_for(lambda: claiming(db) == 2, second)
        with paused(second):  # both still have work when the server is gone
            mlflow_server.stop()
    commands = []
    for proc, folder in ((first, tmp_path / "a"), (second, tmp_path / "b")):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 75, err
        assert "Traceback" not in err and "is away" in err, err
        said = " ".join(out.split())  # the summary line, as wrapped to the terminal's width
        waiting = len(spooled(folder))
        assert waiting and f"of 16 planned; {waiting} results not in the store yet" in said, out
        lines = out.splitlines()  # the spool and the command: whole lines, to paste
        (told,) = [i for i, line in enumerate(lines) if line.startswith("They wait in the spool")]
        assert str(folder / ".runner-spool") in lines[told]
        commands.append(lines[told + 1])
    assert (
        commands[0]
        == commands[1]
        == (f"runner sweep outage.csv --tracking-uri {mlflow_server.uri}")
    )
    mlflow_server.start()
    for folder in (tmp_path / "a", tmp_path / "b"):
        args = runner_cmd(*shlex.split(commands[0])[1:], "--no-report")
        done = subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=300,
                              env={**os.environ, **OUTAGE_ENV})  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert "kept in the spool" in done.stderr or "already FINISHED" in done.stderr
        assert not spooled(folder)
    # both trained what the outage left, so the second folder's copies were duplicates (the
    # first's replay recorded them)
    assert "already FINISHED" in done.stderr, done.stderr
    counts, hashes = child_counts(db)
    assert sorted(hashes) == sorted(set(hashes)) and len(hashes) == 16
    assert counts.get("RUNNING", 0) == 0, counts
