"""End to end, as a user runs it: ``python -m runner sweep`` as a real subprocess.

Covers the README's main path on a store the sweep creates itself, Ctrl-C and resume (SIGINT to
the whole process group, as a terminal sends it), and bad input (exit code 2, one line per
problem, no traceback, nothing written). What a repeated sweep skips is tests/test_sweep.py's.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import default_sigint

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
    assert "mlflow ui --backend-store-uri sqlite:///" in proc.stdout
    assert status_counts(tmp_path / "mlflow.db") == {"FINISHED": 30}


@pytest.mark.slow
def test_ctrl_c_marks_killed_and_the_same_command_finishes_the_rest(
    tmp_path: Path, sqlite_uri: str
):
    table = tmp_path / "slow.csv"
    # five populations (one per hidden size) of two networks, each a second or so of work
    table.write_text(
        "dataset,hidden,activation,learning_rate,epochs,seed\n"
        "xor,2|3|4|5|6,sigmoid,1.0,20000,0..1\n"
    )
    db = Path(sqlite_uri.removeprefix("sqlite:///"))
    args = runner_cmd("sweep", str(table), "--jobs", "2", "--tracking-uri", sqlite_uri)
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
    while status_counts(db).get("FINISHED", 0) < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)  # a guard against a hang, not a measurement
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "run the same command again" in err
    first = status_counts(db)
    assert first.get("FINISHED", 0) >= 2
    assert first.get("FINISHED", 0) < 10
    assert first.get("KILLED", 0) >= 1
    assert first.get("RUNNING", 0) == 0  # Ctrl-C never leaves a run half-written

    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    hashes = finished_hashes(db)
    assert len(hashes) == 10 and len(set(hashes)) == 10


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
