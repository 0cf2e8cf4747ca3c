"""Issue 13's scale figure: a 100,000-run XOR sweep on the default SQLite store, stopped with
Ctrl-C part-way and resumed, with the driver's peak memory.

What it does (in ``--workdir``, default a fresh temporary folder, whose ``mlflow.db`` is the
default store ``sqlite:///mlflow.db`` of a ``runner sweep`` run there)
    table       ``dataset,hidden,activation,cost,initializer,optimizer,learning_rate,epochs,seed``
                / ``xor,2,sigmoid,cross_entropy,normal,gd,0.5|1.0|2.0|4.0,1000,0..S-1``
                (``--seeds S``, default 25,000: 4 S runs).
    first       ``runner sweep xor.csv -q`` (default ``--jobs``: every core) in a session of its
                own; after ``--interrupt-after`` seconds (default 600; 0: never) its process group
                gets SIGINT, as a terminal's Ctrl-C sends it. The exit code is 130.
    resume      the same command again, to the end.
    check       SQL on the store: child runs per spec hash (``runner.spec_hash`` tags) by
                status; exactly one FINISHED run per configuration and none RUNNING is what
                issue 13 asks.

    While each command runs, the driver's ``VmRSS`` and ``VmHWM`` (peak) and its workers' are
    read from ``/proc`` every second; the driver's resident size is printed once a minute, so
    that a size growing with the sweep shows. Wall time per command and runs/s (runs FINISHED in
    the store at its end, less those before it, over its wall time). Nothing is asserted.

Run:  nice -n 10 python benchmarks/scale.py [--quick] [--seeds S] [--interrupt-after SEC]
      [--jobs N] [--workdir DIR]
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

HEADER = "dataset,hidden,activation,cost,initializer,optimizer,learning_rate,epochs,seed"


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in kB (empty when it is gone)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    pids = [int(p) for p in found]
    return pids + [c for p in pids for c in _children(p)]


class Sampler(threading.Thread):
    """Reads the driver's and its descendants' memory once a second until the driver ends."""

    def __init__(self, process: subprocess.Popen, started: float) -> None:
        super().__init__(daemon=True)
        self.process, self.started = process, started
        self.driver_peak = self.worker_peak = 0  # kB
        self.last_print = started

    def run(self) -> None:
        while self.process.poll() is None:
            driver = _status(self.process.pid)
            self.driver_peak = max(self.driver_peak, driver.get("VmHWM", 0))
            for child in _children(self.process.pid):
                self.worker_peak = max(self.worker_peak, _status(child).get("VmHWM", 0))
            now = time.monotonic()
            if now - self.last_print >= 60 and driver:
                self.last_print = now
                rss = driver.get("VmRSS", 0) / 1024
                print(
                    f"  {now - self.started:7.0f} s  driver RSS {rss:6.0f} MB"
                    f" (peak so far {self.driver_peak / 1024:.0f} MB)",
                    flush=True,
                )
            time.sleep(1.0)


def finished(db: Path) -> int:
    """Child runs FINISHED in the store (0 before it exists)."""
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60) as conn:
        query = (
            "select count(*) from runs r join tags t on t.run_uuid = r.run_uuid and "
            "t.key = 'runner.spec_hash' where r.status = 'FINISHED' "
            "and r.lifecycle_stage = 'active'"
        )
        return conn.execute(query).fetchone()[0]


def sweep(command: list[str], workdir: Path, interrupt_after: float) -> dict[str, float]:
    """Run one ``runner sweep`` command; SIGINT to its process group after ``interrupt_after``."""
    before = finished(workdir / "mlflow.db")
    started = time.monotonic()
    log = (workdir / "sweep.log").open("a")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the default
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    sampler = Sampler(process, started)
    sampler.start()
    interrupted = False
    try:
        while process.poll() is None:
            if interrupt_after and not interrupted and time.monotonic() - started > interrupt_after:
                os.killpg(process.pid, signal.SIGINT)
                interrupted = True
                print(f"  {time.monotonic() - started:7.0f} s  SIGINT sent", flush=True)
            time.sleep(0.5)
    except BaseException:
        os.killpg(process.pid, signal.SIGINT)
        process.wait()
        raise
    wall = time.monotonic() - started
    sampler.join()
    after = finished(workdir / "mlflow.db")
    return {
        "code": process.returncode,
        "wall": wall,
        "runs": after - before,
        "finished": after,
        "driver": sampler.driver_peak / 1024,
        "worker": sampler.worker_peak / 1024,
    }


def check(db: Path) -> dict[str, int]:
    """Child runs by status, configurations with more than one FINISHED run, and RUNNING."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60) as conn:
        rows = conn.execute(
            "select r.status, count(*), count(distinct t.value) from runs r join tags t "
            "on t.run_uuid = r.run_uuid and t.key = 'runner.spec_hash' "
            "where r.lifecycle_stage = 'active' group by r.status"
        ).fetchall()
        doubled = conn.execute(
            "select count(*) from (select t.value from runs r join tags t on t.run_uuid = "
            "r.run_uuid and t.key = 'runner.spec_hash' where r.status = 'FINISHED' and "
            "r.lifecycle_stage = 'active' group by t.value having count(*) > 1)"
        ).fetchone()[0]
    out = {f"{status} runs": n for status, n, _ in rows}
    out |= {f"{status} configurations": d for status, _, d in rows}
    out["configurations FINISHED more than once"] = doubled
    return out


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--seeds", type=int, default=25_000, help="seeds per learning rate")
    p.add_argument("--interrupt-after", type=float, default=600.0, help="seconds; 0: never")
    p.add_argument("--jobs", type=int, default=0, help="--jobs of the sweep (0: its default)")
    p.add_argument("--workdir", type=Path, default=None, help="default: a fresh temporary folder")
    args = p.parse_args()
    if args.quick:
        args.seeds, args.interrupt_after = 250, 45.0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="runner-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if (workdir / "mlflow.db").exists():
        sys.exit(f"{workdir / 'mlflow.db'} exists: give a fresh --workdir")
    table = workdir / "xor.csv"
    row = f"xor,2,sigmoid,cross_entropy,normal,gd,0.5|1.0|2.0|4.0,1000,0..{args.seeds - 1}"
    table.write_text(f"{HEADER}\n{row}\n")
    runner = str(Path(sys.executable).parent / "runner")
    command = [runner, "sweep", table.name, "-q"]
    if args.jobs:
        command += ["--jobs", str(args.jobs)]
    print(f"workdir {workdir}; {4 * args.seeds} runs; command: {' '.join(command[1:])}")
    phases = []
    for name, interrupt in (("first", args.interrupt_after), ("resume", 0.0)):
        print(f"{name}:", flush=True)
        figures = sweep(command, workdir, interrupt)
        phases.append(figures)
        print(
            f"{name}: exit {figures['code']}, {figures['wall']:.0f} s wall, {figures['runs']} runs "
            f"({figures['runs'] / figures['wall']:.1f} runs/s), {figures['finished']} FINISHED "
            f"in the store; peak RSS driver {figures['driver']:.0f} MB, workers "
            f"{figures['worker']:.0f} MB",
            flush=True,
        )
        if figures["code"] == 0:
            break
    wall = sum(f["wall"] for f in phases)
    total = phases[-1]["finished"]
    print(
        f"total: {wall:.0f} s wall over {len(phases)} commands, {total} runs, "
        f"{total / wall:.1f} runs/s; driver peak {max(f['driver'] for f in phases):.0f} MB"
    )
    for key, value in check(workdir / "mlflow.db").items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
