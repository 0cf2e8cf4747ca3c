"""How long `runner report` takes on a store of a thousand runs, against a plain read.

What it measures
    A 1000-run XOR sweep (``xor,2,0.5|1.0|2.0|4.0,1000,0..249``, issue 13's table) is recorded
    once into a SQLite store in a scratch folder (``--runs N``: another size; ``--quick``: 100
    runs). Then, interleaved, ``--repeats`` times each (the median is quoted):

    - ``runner report`` of that table, as a whole process (the console script beside this
      interpreter): the per-configuration tables, the paired comparisons and the notes;
    - the floor: a whole ``python`` process reading the same summary with the standard
      library's sqlite3 (per configuration: the runs, the successes and the median final
      training loss).

    Wall time and the children's CPU time, and the ratio report / floor. Target (issue 24):
    at most 5x the floor.

Run:  python benchmarks/report.py [--quick] [--runs N] [--repeats R]
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

RUNNER = Path(sys.executable).with_name("runner")
TARGET = 5.0

FLOOR = """
import sqlite3, statistics, sys
con = sqlite3.connect(sys.argv[1])
rows = con.execute(
    "select c.value, a.value, l.value from runs r "
    "join tags k on k.run_uuid = r.run_uuid and k.key = 'runner.kind' and k.value = 'run' "
    "join tags c on c.run_uuid = r.run_uuid and c.key = 'runner.configuration' "
    "join latest_metrics a on a.run_uuid = r.run_uuid and a.key = 'train_accuracy' "
    "join latest_metrics l on l.run_uuid = r.run_uuid and l.key = 'train_loss'"
).fetchall()
groups = {}
for configuration, accuracy, loss in rows:
    groups.setdefault(configuration, []).append((accuracy == 1.0, loss))
for configuration, runs in groups.items():
    print(configuration[:8], len(runs), sum(s for s, _ in runs),
          statistics.median(l for _, l in runs))
"""


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one whole process (its children's rusage)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--runs", type=int, default=1000, help="runs in the store (a multiple of 4)")
    p.add_argument("--repeats", type=int, default=5, help="runs of each command (median)")
    args = p.parse_args()
    runs = 100 if args.quick else args.runs
    repeats = 2 if args.quick else args.repeats
    print(_common.machine())
    with tempfile.TemporaryDirectory(prefix="runner-report-bench-") as tmp:
        folder = Path(tmp)
        table = folder / "k.csv"
        seeds = max(1, runs // 4)
        table.write_text(f"dataset,hidden,learning_rate,epochs,seed\n"
                         f"xor,2,0.5|1.0|2.0|4.0,1000,0..{seeds - 1}\n")  # fmt: skip
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}"}
        sweep = [str(RUNNER), "sweep", str(table), "--quiet", "--no-report", "--jobs", "1"]
        subprocess.run(sweep, cwd=folder, env=env, check=True, stdout=subprocess.DEVNULL)
        report = [str(RUNNER), "report", str(table), "--tracking-uri", env["MLFLOW_TRACKING_URI"]]
        floor = [sys.executable, "-c", FLOOR, str(folder / "mlflow.db")]
        figures: dict[str, list[tuple[float, float]]] = {"report": [], "floor": []}
        for _ in range(repeats):  # interleaved: A B A B ...
            figures["report"].append(timed(report, folder))
            figures["floor"].append(timed(floor, folder))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for k, v in figures.items()}  # fmt: skip
    _common.table(
        f"runner report on a {4 * seeds}-run SQLite store (median of {repeats})",
        ["command", "wall", "cpu", "wall / floor", "cpu / floor"],
        [
            [
                name,
                _common.fmt_time(w),
                _common.fmt_time(c),
                f"{w / med['floor'][0]:.1f}x",
                f"{c / med['floor'][1]:.1f}x",
            ]
            for name, (w, c) in med.items()
        ],  # fmt: skip
    )
    print(f"target: report at most {TARGET:g}x the floor")


if __name__ == "__main__":
    main()
