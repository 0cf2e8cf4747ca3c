"""The suite's own promises: a server or cluster a test starts never outlives the test run, even
a pytest killed with SIGKILL (the fixtures start them through tests/_tethered.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import alive, descendants, env_with_tests_on_path

INNER = """
import time


def test_{name}({fixture}):
    print("STARTED", flush=True)
    time.sleep(600)
"""


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["mlflow_server", "dask_cli_cluster"])
def test_what_a_test_starts_dies_with_a_pytest_killed_by_sigkill(
    tmp_path: Path, fixture: str
) -> None:
    test = tmp_path / "test_inner.py"
    test.write_text(INNER.format(name=fixture, fixture=fixture))
    command = [
        sys.executable, "-m", "pytest", "-p", "conftest", "-o", "addopts=", "-p",
        "no:cacheprovider", "-s", "-q", str(test), "--basetemp", str(tmp_path / "inner"),
    ]  # fmt: skip
    inner = subprocess.Popen(
        command, cwd=tmp_path, env=env_with_tests_on_path(), stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        for line in inner.stdout:  # type: ignore[union-attr]
            if "STARTED" in line or time.monotonic() > deadline:
                break
        assert inner.poll() is None, "the inner test run ended before its fixture started"
        started = descendants(inner.pid)  # the server or cluster, and the workers it started
        assert len(started) >= 2, started
        inner.send_signal(signal.SIGKILL)
        inner.wait()
        deadline = time.monotonic() + 30
        while [p for p in started if alive(p)] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in started if alive(p)]
    finally:
        if inner.poll() is None:
            inner.kill()
            inner.wait()
