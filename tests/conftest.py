"""Shared fixtures of the test suite, in blocks; each block says what it is for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# --- example plugin distribution ---
# tests/plugin_pkg is a separate distribution, runner-example-plugins, in the style of pluggy's
# docs/examples/eggsample. These fixtures build it into a wheel and install it for real (dist-info,
# entry points) with pip into a temporary directory -- never into the virtualenv -- so the tests
# see it exactly as a user who ran `pip install` would. Building needs setuptools>=70.1 (or the
# `wheel` package) in the environment; nothing is fetched from the network.

PLUGIN_PKG = Path(__file__).parent / "plugin_pkg"
EXAMPLE_DISTRIBUTION = "runner-example-plugins"


def pip_install_target(source: Path, target: Path) -> Path:
    """Build the project in ``source`` and install it into ``target`` with pip; return ``target``.

    The source is copied first so that the build leaves nothing (build/, *.egg-info) in the tree.
    """
    copy = target.parent / f"{target.name}-src"
    shutil.copytree(
        source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
        "--disable-pip-version-check", "--quiet", "--target", str(target), str(copy),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(
            f"could not build and install {source.name} (pip exited {done.returncode}); building "
            f"needs setuptools>=70.1 or wheel:\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )
    return target


def clear_registry_cache() -> None:
    """Forget the cached registry so that the next get_registry() discovers plugins again."""
    from runner.manager import get_registry

    get_registry.cache_clear()


@pytest.fixture(scope="session")
def install_distribution(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """A function that installs the project in a folder into a fresh directory and returns it."""

    def install(source: Path) -> Path:
        return pip_install_target(source, tmp_path_factory.mktemp(source.name) / "site")

    return install


@pytest.fixture(scope="session")
def example_plugin_dist(install_distribution: Callable[[Path], Path]) -> Path:
    """The directory runner-example-plugins is installed in (put it on sys.path to use it)."""
    return install_distribution(PLUGIN_PKG)


@pytest.fixture
def example_plugins(monkeypatch: pytest.MonkeyPatch, example_plugin_dist: Path) -> Iterator[Path]:
    """runner-example-plugins on sys.path, RUNNER_PLUGINS unset, and discovery run afresh."""
    monkeypatch.syspath_prepend(str(example_plugin_dist))
    monkeypatch.delenv("RUNNER_PLUGINS", raising=False)
    clear_registry_cache()
    yield example_plugin_dist
    clear_registry_cache()


@pytest.fixture
def example_plugin_env(example_plugin_dist: Path) -> dict[str, str]:
    """The environment of a subprocess that should see runner-example-plugins (PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if k != "RUNNER_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(example_plugin_dist), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return env


# --- end of example plugin distribution ---


# --- execution ---
# Dask clusters for tests/test_execution.py. Worker processes import the deliberately faulty worker
# functions of tests/_faulty.py, so they need this directory on their path: spawned processes
# inherit sys.path; the `dask` command-line processes get it through PYTHONPATH.

EXECUTION_TESTS_DIR = Path(__file__).resolve().parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_with_tests_on_path() -> dict[str, str]:
    """This process's environment with the tests directory first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(EXECUTION_TESTS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return env


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[str]:
    """The address of a dask LocalCluster: 2 worker processes of one thread each, with nannies."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def dask_cli_cluster(tmp_path: Path) -> Iterator[str]:
    """`dask scheduler` and one `dask worker` started as subprocesses on 127.0.0.1; their address.

    Both are stopped by pid (SIGTERM, then SIGKILL if they linger) when the test ends.
    """
    distributed = pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{free_port()}"
    env = env_with_tests_on_path()
    dask = [sys.executable, "-m", "dask"]
    commands = [
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
         "--no-dashboard"],
        [*dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--nworkers", "1",
         "--no-dashboard"],
    ]  # fmt: skip
    processes: list[subprocess.Popen] = []
    try:
        for i, command in enumerate(commands):
            with open(tmp_path / f"dask-{i}.log", "w") as log:
                processes.append(
                    subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
                )
        with distributed.Client(address, timeout="60s", set_as_default=False) as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- end of execution ---
