"""How soon `runner sweep` says something, and how long a sweep with nothing to do takes.

What it measures
    Real ``runner sweep`` processes (the console script beside this interpreter) on
    ``experiments/xor.csv`` (30 configurations) with a SQLite store in a scratch folder:

    - *first line*: the wall time from starting the process to its first line on a terminal
      (stdout and stderr on one pseudo-terminal, read as it comes), on a store that does not
      exist yet and on one that holds the finished sweep;
    - *skipped sweep*: the wall time of a whole process whose every configuration is already
      FINISHED in the store (it trains and writes nothing).

    Each figure is the median of several runs (``--quick``: one). Targets: the first line
    within 0.5 s, a fully skipped sweep within 3 s. For scale on a shared machine, the same
    table gives ``python -c pass`` and ``runner --help`` measured in the same run.

Run:  python benchmarks/latency.py [--quick]
"""

from __future__ import annotations

import os
import pty
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "experiments" / "xor.csv"
FIRST_LINE, SKIPPED = 0.5, 3.0


def sweep(store: Path, *extra: str) -> list[str]:
    runner = Path(sys.executable).with_name("runner")
    command = [str(runner)] if runner.exists() else [sys.executable, "-m", "runner"]
    return [*command, "sweep", str(TABLE), "--tracking-uri", f"sqlite:///{store}", *extra]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(command: list[str], cwd: Path, whole: bool = True) -> tuple[float, float, str, float]:
    """(seconds to the first line on the terminal, seconds in all, that line, CPU seconds in
    all); with ``whole`` False the process is killed at its first line."""
    cpu = children_cpu()
    master, slave = pty.openpty()
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, close_fds=True
    )
    os.close(slave)
    seen, first = b"", None
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the process ended
            chunk = b""
        if not chunk:
            break
        seen += chunk
        if first is None and b"\n" in seen:
            first = time.perf_counter() - start
            if not whole:
                proc.kill()
                break
    proc.wait(timeout=600)
    os.close(master)
    total = time.perf_counter() - start
    line = seen.split(b"\n", 1)[0].decode(errors="replace").strip()
    return first if first is not None else total, total, line, children_cpu() - cpu


def main() -> None:
    args = _common.parser(__doc__).parse_args()
    repeats = 1 if args.quick else 5
    rows = []
    with tempfile.TemporaryDirectory(prefix="runner-latency-") as tmp:
        folder = Path(tmp)
        fresh_first, line = [], ""
        for i in range(repeats):  # a store that does not exist yet: stop at the first line
            store = folder / f"fresh-{i}" / "mlflow.db"
            store.parent.mkdir()
            first, _, line, _ = timed_run(sweep(store), store.parent, whole=False)
            fresh_first.append(first)
        store = folder / "done" / "mlflow.db"
        store.parent.mkdir()
        subprocess.run(sweep(store, "-q"), cwd=store.parent, check=True, capture_output=True)
        skipped = [timed_run(sweep(store), store.parent) for _ in range(repeats)]
        floor = [timed_run([sys.executable, "-c", "print()"], folder) for _ in range(repeats)]
        help_ = [timed_run([*sweep(store)[:-4], "--help"], folder) for _ in range(repeats)]
    med = statistics.median

    def whole(runs: list[tuple[float, float, str, float]]) -> str:
        return f"{med(r[1] for r in runs):.2f} s (CPU {med(r[3] for r in runs):.2f} s)"

    rows.append(("python -c 'print()' (the interpreter's floor)", whole(floor), ""))
    rows.append(("runner --help", whole(help_), ""))
    rows.append(("first line, fresh store", f"{med(fresh_first):.2f} s", f"< {FIRST_LINE} s"))
    first = med(s[0] for s in skipped)
    rows.append(("first line, finished store", f"{first:.2f} s", f"< {FIRST_LINE} s"))
    rows.append(("fully skipped sweep, whole process", whole(skipped), f"< {SKIPPED} s"))
    print(f"first line: {line!r}")
    _common.table("runner sweep latency", ["figure", "median wall time", "target"], rows)


if __name__ == "__main__":
    main()
