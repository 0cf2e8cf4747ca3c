"""Shared fixtures of the test suite, in blocks; each block says what it is for.

The suite runs on pytest-xdist workers (``-n auto`` in pyproject.toml); what is expensive to make
and never changed (a migrated MLflow store, the installed example plugin distribution) is made
once per run for all workers, by :func:`made_once`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# --- example plugin distribution ---
# tests/plugin_pkg is a separate distribution, runner-example-plugins, in the style of pluggy's
# docs/examples/eggsample. These fixtures build it into a wheel and install it for real (dist-info,
# entry points) with pip into a temporary directory -- never into the virtualenv -- so the tests
# see it exactly as a user who ran `pip install` would. Building needs setuptools>=70.1 (or the
# `wheel` package) in the environment; nothing is fetched from the network.

PLUGIN_PKG = Path(__file__).parent / "plugin_pkg"
EXAMPLE_DISTRIBUTION = "runner-example-plugins"


def made_once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """The folder ``name``, shared by every worker of this test run, filled by ``make`` once.

    The first worker to get here makes it under a lock (the others wait), in a scratch folder
    renamed into place when complete, so no worker ever sees it half made.
    """
    base = factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not folder.exists():
            scratch = root / f"shared-{name}.making"
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir()
            make(scratch)
            scratch.rename(folder)
    return folder


def pip_install_target(
    sources: Path | list[Path], target: Path, *, from_folder: bool = False
) -> Path:
    """Build the projects in ``sources`` into wheels and install those into ``target``, as a
    user installs a published plugin; with ``from_folder``, install the folders themselves
    (``pip install DIR``, whose source runner digests into the hash). Return ``target``.

    Each source is copied first so that the build leaves nothing (build/, *.egg-info) in the tree.
    """
    sources = [sources] if isinstance(sources, Path) else sources
    copies = []
    for source in sources:
        copy = target.parent / f"{target.name}-src" / source.name
        shutil.copytree(
            source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
        )
        copies.append(str(copy))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]
    installed = copies
    if not from_folder:
        wheels = target.parent / f"{target.name}-wheels"
        _pip(sources, [*pip, "wheel", *offline, "--wheel-dir", str(wheels), *copies])
        installed = [str(wheel) for wheel in sorted(wheels.glob("*.whl"))]
    _pip(sources, [*pip, "install", *offline, "--target", str(target), *installed])
    return target


def _pip(sources: list[Path], command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        names = ", ".join(source.name for source in sources)
        pytest.fail(
            f"could not build and install {names} (pip exited {done.returncode}); building "
            f"needs setuptools>=70.1 or wheel:\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )


ONE_MODULE_PYPROJECT = """\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "1.0.0"

[project.entry-points.runner]
{entry_point} = "{module}"

[tool.setuptools]
packages = ["{module}"]
"""


def one_module_project(root: Path, dist: str, module: str, source: str, entry_point: str) -> Path:
    """Write a project for the distribution ``dist`` under ``root``: one package ``module``
    whose ``__init__.py`` is ``source``, found through the entry point ``entry_point`` of the
    group runner. Return its folder, for :func:`pip_install_target`."""
    project = root / dist
    (project / module).mkdir(parents=True)
    pyproject = ONE_MODULE_PYPROJECT.format(dist=dist, entry_point=entry_point, module=module)
    (project / "pyproject.toml").write_text(pyproject)
    (project / module / "__init__.py").write_text(source)
    return project


def clear_registry_cache() -> None:
    """Forget the cached registry so that the next get_registry() discovers plugins again (and
    what the study learnt from it: the data sets' parameters and criteria of success)."""
    from runner.analysis import stats
    from runner.plugin.registry import get_registry

    get_registry.cache_clear()
    stats._dataset_params.cache_clear()
    stats._declared.cache_clear()


@pytest.fixture(scope="session")
def install_distribution(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[Path | list[Path]], Path]:
    """A function that installs the projects in folders into a fresh directory and returns it."""

    def install(sources: Path | list[Path]) -> Path:
        first = sources if isinstance(sources, Path) else sources[0]
        return pip_install_target(sources, tmp_path_factory.mktemp(first.name) / "site")

    return install


@pytest.fixture(scope="session")
def example_plugin_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory runner-example-plugins is installed in (put it on sys.path to use it)."""
    folder = made_once(
        tmp_path_factory, "example-plugins", lambda f: pip_install_target(PLUGIN_PKG, f / "site")
    )
    return folder / "site"


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


TETHERED = Path(__file__).with_name("_tethered.py")


def tethered(command: list[str]) -> list[str]:
    """``command`` run through tests/_tethered.py: stopped with its whole process group when
    this test process dies, even by SIGKILL (start it with ``start_new_session=True``)."""
    return [sys.executable, str(TETHERED), *command]


def stop_group(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM to the process group ``process`` leads (a server and the workers it started),
    SIGKILL after ``timeout`` seconds; nothing when it has ended."""
    import signal

    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
    """The address of a dask LocalCluster: 2 worker processes of one thread each, with nannies.

    Each worker holds only the task it runs (worker-saturation 1.0), so a worker that dies
    takes no bystanders with it, and dask's count of deaths per task stays exact. The cluster
    would close a worker's nanny 15 s (lost-worker-timeout) after any death of that worker if
    the worker happens to be gone at that moment -- e.g. being restarted after a timeout -- so
    that check is pushed out of the session.
    """
    distributed = pytest.importorskip("distributed")
    import dask

    settings = {
        "distributed.scheduler.worker-saturation": 1.0,
        "distributed.deploy.lost-worker-timeout": "1 hour",
    }
    with (
        dask.config.set(settings),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
    ):
        yield cluster.scheduler_address


@pytest.fixture
def dask_cli_cluster(tmp_path: Path) -> Iterator[str]:
    """`dask scheduler` and one `dask worker` started as subprocesses on 127.0.0.1; their address.

    Both are stopped by pid (SIGTERM, then SIGKILL if they linger), worker first, when the test
    ends.
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
                    subprocess.Popen(
                        tethered(command),
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        with distributed.Client(address, timeout="60s", set_as_default=False) as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for process in reversed(processes):  # the worker first, while its scheduler still answers
            stop_group(process, timeout=20)


def default_sigint() -> None:
    """``preexec_fn`` of a child that is sent Ctrl-C: SIGINT back to its default, so that the
    child's Python raises KeyboardInterrupt even when the suite runs with SIGINT ignored
    (``nohup pytest &``, a background job), which children would otherwise inherit."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def sigint_handled() -> Iterator[None]:
    """Python's own Ctrl-C handler in this process for the test, whatever the suite started
    with; the previous handler afterwards."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        import psutil
    except ImportError:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from psutil if available, else from /proc."""
    try:
        import psutil

        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except ImportError:
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        found, frontier = [], [pid]
        while frontier:
            parent = frontier.pop()
            children = [p for p, pp in parents.items() if pp == parent]
            found += children
            frontier += children
        return found


# --- end of execution ---


# --- tracking ---
# Real MLflow stores for tests/test_tracking.py. Creating a SQLite store runs MLflow's schema
# migrations (seconds), so one empty store is made per session and copied for each test. Results
# are real: runner.engine.population.run_population on small data sets. `mlflow_server` starts a
# real `mlflow server` subprocess on 127.0.0.1 and stops it by its process group in the finalizer.


def tracking_spec(**fields: object) -> object:
    """A small RunSpec on xor (sigmoid, momentum, three restarts) with ``fields`` replaced:
    ``row`` and ``source`` as recorded, every other field a table cell."""
    from _specs import spec_of

    cells: dict[str, object] = dict(
        dataset="xor", hidden="3", initializer="xavier", optimizer="momentum",
        learning_rate=2.0, momentum=0.9, restarts=3, epochs=300, seed=0,
    )  # fmt: skip
    cells.update(fields)
    return spec_of(source="experiments/xor.csv", **cells)


@pytest.fixture(scope="session", autouse=True)
def runner_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """runner's cache (the template store new SQLite stores are copied from) in this test
    run's temporary folder, shared by its workers and subprocesses, never the user's."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "runner-cache"
    saved = os.environ.get("RUNNER_CACHE_DIR")
    os.environ["RUNNER_CACHE_DIR"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("RUNNER_CACHE_DIR", None)
    else:
        os.environ["RUNNER_CACHE_DIR"] = saved


@pytest.fixture(scope="session")
def tracking_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated MLflow SQLite database to copy."""

    def migrate(folder: Path) -> None:
        from mlflow import MlflowClient

        MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments(max_results=1)

    return made_once(tmp_path_factory, "mlflow-template", migrate) / "mlflow.db"


@pytest.fixture
def sqlite_uri(tmp_path: Path, tracking_template_db: Path) -> str:
    """The URI of a fresh SQLite store of this test's own (tmp_path/store/mlflow.db)."""
    folder = tmp_path / "store"
    folder.mkdir()
    shutil.copyfile(tracking_template_db, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture(scope="session")
def xor_results() -> list:
    """Two finished RunResults on xor (seeds 0 and 1, three restarts each), one population."""
    from runner.engine.population import PopulationTask, run_population

    specs = (tracking_spec(seed=0, row=1), tracking_spec(seed=1, row=2))
    results = run_population(PopulationTask(specs))
    assert [r.status for r in results] == ["finished", "finished"]
    return results


@pytest.fixture(scope="session")
def moons_result() -> object:
    """A finished RunResult on moons with standard scaling and a test split."""
    from runner.engine.population import PopulationTask, run_population

    spec = tracking_spec(
        dataset="moons", n_samples=60, noise=0.1, hidden="5", activation="tanh",
        scaling="standard", test_size=0.25, data_seed=4, epochs=200, learning_rate=0.5,
        restarts=1,
    )  # fmt: skip
    (result,) = run_population(PopulationTask((spec,)))
    assert result.status == "finished", result.reason
    return result


@pytest.fixture(scope="session")
def objective_result() -> object:
    """A finished RunResult of himmelblau descended by gd from three starts (no network)."""
    from _specs import spec_of

    from runner.engine.population import PopulationTask, run_population

    spec = spec_of(
        source="experiments/objectives.csv", objective="himmelblau", optimizer="gd",
        learning_rate=0.01, restarts=3, epochs=300, seed=2,
    )  # fmt: skip
    (result,) = run_population(PopulationTask((spec,)))
    assert result.status == "finished", result.reason
    return result


def npz_bomb(path: Path, arrays: dict[str, tuple[int, ...]], fill: bool = True) -> Path:
    """An ``.npz`` of float64 zeros of the given shapes, deflated as it is written (a few
    hundred KB that inflate to what the shapes declare): what a memory bomb looks like. Without
    ``fill`` only the headers are written (a declaration of any size, in a tiny file)."""
    import zipfile

    import numpy as np
    from numpy.lib import format as npy

    chunk = bytes(2**20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, shape in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as fh:
                npy.write_array_header_1_0(
                    fh, {"descr": np.dtype("<f8").str, "fortran_order": False, "shape": shape}
                )
                left = 8 * int(np.prod(shape)) if fill else 0
                while left > 0:
                    fh.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
    return path


class MlflowServer:
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend; start/stop by process group."""

    def __init__(
        self, folder: Path, template: Path | None, backend: str | None = None, workers: int = 1
    ) -> None:
        self.folder = folder
        self.db = folder / "server.db"
        if template is not None:
            shutil.copyfile(template, self.db)
        self.backend = backend or f"sqlite:///{self.db}"
        self.workers = workers
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> None:
        import time
        import urllib.request

        mlflow_cli = Path(sys.executable).with_name("mlflow")
        command = [
            str(mlflow_cli) if mlflow_cli.exists() else "mlflow", "server",
            "--backend-store-uri", self.backend, "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(self.workers),
            "--artifacts-destination", str(self.folder / "artifacts"),
        ]  # fmt: skip
        with open(self.folder / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                tethered(command),
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() reaches its workers
                env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            )
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        text = (self.folder / "server.log").read_text(errors="replace")[-3000:]
        pytest.fail(f"mlflow server did not come up on {self.uri}:\n{text}", pytrace=False)

    def stop(self) -> None:

        process, self.process = self.process, None
        if process is not None:
            stop_group(process, timeout=15)  # the server and the workers it started


@pytest.fixture
def mlflow_server(tmp_path: Path, tracking_template_db: Path) -> Iterator[MlflowServer]:
    """A started MlflowServer; stopped (by its process group) when the test ends."""
    (tmp_path / "server").mkdir()
    server = MlflowServer(tmp_path / "server", tracking_template_db)
    try:
        server.start()
        yield server
    finally:
        server.stop()


class Postgres:
    """A real PostgreSQL (Debian's binaries) on 127.0.0.1 in a temporary data directory, run as
    the user ``postgres`` when this process is root (PostgreSQL refuses root); stopped by the
    postmaster's pid."""

    def __init__(self) -> None:
        import glob
        import tempfile

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            pytest.skip("PostgreSQL is not installed (Debian's postgresql package; .ci/run "
                        "installs it where apt-get is available)")  # fmt: skip
        self.bin = Path(found[-1]).parent
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                pytest.skip("PostgreSQL refuses to run as root, and runuser is missing")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.folder = Path(tempfile.mkdtemp(prefix="runner-pg-"))
        if self.as_user:
            shutil.chown(self.folder, "postgres")
        self.data = self.folder / "data"
        self.port = free_port()
        self.pid: int | None = None

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "runner",
                  "--auth=trust", "-E", "UTF8", "--no-sync")  # fmt: skip
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "postgres.log"), "-w", "-t", "60", "start")  # fmt: skip
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])

    def database(self, name: str) -> str:
        """A fresh database ``name``; its SQLAlchemy URI (through psycopg2, the test extras'
        driver; a bare postgresql:// is psycopg 3's in SQLAlchemy 2.1)."""
        import psycopg2

        con = psycopg2.connect(host="127.0.0.1", port=self.port, user="runner", dbname="postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        con.close()
        return f"postgresql+psycopg2://runner@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        import signal
        import time

        pid, self.pid = self.pid, None
        if pid is not None:
            os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
            end = time.monotonic() + 30
            while alive(pid) and time.monotonic() < end:
                time.sleep(0.1)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A started PostgreSQL, shared by the session (each test makes its own database)."""
    pytest.importorskip("psycopg2", reason="psycopg2-binary is in the test extras")
    server = Postgres()
    try:
        server.start()
        yield server
    finally:
        server.stop()


# --- end of tracking ---


# --- a recorded study for tests/test_analysis.py and tests/test_cli.py ---
# One real sweep of a small XOR table into a SQLite store of its own, made once per session (and
# per xdist worker): the plain gd row of the notes (some seeds stuck) and its 3-restart twin,
# six seeds each, the critical-point test on. Tests read it; none writes to it.

STUDY_TABLE = """dataset,hidden,optimizer,learning_rate,restarts,epochs,seed,critical_points
xor,2,gd,1.0,1,1500,0..5,true
xor,2,gd,1.0,3,1500,0..5,true
"""


def swept_store(
    tmp_path_factory: pytest.TempPathFactory,
    template: Path,
    name: str,
    table: tuple[str, str],
    check: Callable[[Any], bool],
) -> tuple:
    """``(tracking uri, table path, the sweep's parent run id)`` of one real sweep (with its
    study) of ``table`` (file name, text) into a SQLite store of its own, made once for every
    worker; ``check`` says the sweep went as its tests expect."""

    def make(scratch: Path) -> None:
        # the store lives beside the scratch folder, never renamed: its runs record where their
        # artifacts are
        from runner.sweep import run_sweep

        folder = scratch.parent / f"{name}-data"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        shutil.copyfile(template, folder / "mlflow.db")
        path = folder / table[0]
        path.write_text(table[1])
        summary = run_sweep(path, tracking_uri=f"sqlite:///{folder / 'mlflow.db'}", jobs=1,
                            report=True)  # fmt: skip
        assert check(summary), summary.results
        (folder / "parent").write_text(str(summary.parent_run_id))

    folder = made_once(tmp_path_factory, name, make).parent / f"{name}-data"
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    return uri, folder / table[0], (folder / "parent").read_text()


@pytest.fixture(scope="session")
def study_store(tmp_path_factory: pytest.TempPathFactory, tracking_template_db: Path) -> tuple:
    """``(tracking uri, table path, the sweep's parent run id)`` of the recorded study above."""
    return swept_store(
        tmp_path_factory,
        tracking_template_db,
        "study-store",
        ("xor_study.csv", STUDY_TABLE),
        lambda summary: summary.finished == 12 and summary.study is not None,
    )


# --- a recorded objective study (tests/test_analysis.py, tests/test_cli.py) ---
# One real sweep of a small Himmelblau table into a SQLite store of its own, made once per session
# (and per xdist worker): gd from one start and from four, momentum, and a step too long for
# Himmelblau's curvature (some of its seeds diverge). Tests read it; none writes to it.

OBJECTIVE_TABLE = """\
objective,optimizer,learning_rate,momentum,restarts,epochs,gradient_tolerance,seed
himmelblau,gd,0.01,,1,30,1e-6,0..5
himmelblau,gd,0.01,,4,30,1e-6,0..5
himmelblau,momentum,0.005,0.9,1,100,1e-6,0..5
himmelblau,gd,0.03,,1,100,1e-6,0..3
"""


@pytest.fixture(scope="session")
def objective_store(tmp_path_factory: pytest.TempPathFactory, tracking_template_db: Path) -> tuple:
    """``(tracking uri, table path, the sweep's parent run id)`` of the objective study above."""
    return swept_store(
        tmp_path_factory,
        tracking_template_db,
        "objective-store",
        ("objectives.csv", OBJECTIVE_TABLE),
        lambda summary: summary.finished + summary.diverged == 22,
    )


#: the second-derivative lesson: minima (Himmelblau), no minimum at all (x^2 - y^2) and a
#: degenerate minimum that Adam reaches (x^4 + y^4, where rt - s^2 = 0)
LESSON_TABLE = """\
objective,optimizer,learning_rate,restarts,epochs,gradient_tolerance,seed
himmelblau,gd,0.01,1,1000,1e-6,0..2
saddle,gd,0.01,1,100,1e-6,0..2
quartic,adam,0.01,1,20000,,0..2
"""


@pytest.fixture(scope="session")
def lesson_store(tmp_path_factory: pytest.TempPathFactory, tracking_template_db: Path) -> tuple:
    """``(tracking uri, table path)`` of a real sweep of :data:`LESSON_TABLE` (no figures)."""

    def make(scratch: Path) -> None:
        from runner.sweep import run_sweep

        folder = scratch.parent / "lesson-store-data"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        shutil.copyfile(tracking_template_db, folder / "mlflow.db")
        (folder / "lesson.csv").write_text(LESSON_TABLE)
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        summary = run_sweep(folder / "lesson.csv", tracking_uri=uri, jobs=1, report=False)
        assert summary.finished == 9, summary.results

    folder = made_once(tmp_path_factory, "lesson-store", make).parent / "lesson-store-data"
    return f"sqlite:///{folder / 'mlflow.db'}", folder / "lesson.csv"
