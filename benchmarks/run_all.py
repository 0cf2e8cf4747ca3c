"""Run every benchmark in turn, each in its own process, and print their tables.

Each script runs as ``python benchmarks/NAME.py`` with the options given here (``--quick`` for a
smoke run of all of them in a minute or two). The exit status is 1 if a script failed to run,
never because of a time: no benchmark asserts anything about time.

Run:  python benchmarks/run_all.py [--quick] [--only xor_population,digits,...]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

BENCHMARKS = (
    "xor_population",
    "digits",
    "parity",
    "memory",
    "startup",
    "latency",
    "tracking",
    "parallel",
    "table",
    "objectives",
    "report",
)
#: scripts with their own options: they take --quick but not --threads
OWN_OPTIONS = ("parallel",)


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument("--only", default="", help="comma-separated subset of " + ", ".join(BENCHMARKS))
    args = p.parse_args()
    chosen = [b for b in (args.only.split(",") if args.only else BENCHMARKS) if b]
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    here = Path(__file__).resolve().parent
    quick = ["--quick"] if args.quick else []
    failed, spent = [], []
    for name in chosen:
        print(f"\n===== {name} =====", flush=True)
        start = time.perf_counter()
        extra = quick if name in OWN_OPTIONS else [*quick, "--threads", str(args.threads)]
        done = subprocess.run([sys.executable, str(here / f"{name}.py"), *extra], check=False)
        spent.append(
            [name, f"{time.perf_counter() - start:.0f}", "ok" if done.returncode == 0 else "FAILED"]
        )
        if done.returncode != 0:
            failed.append(name)
    _common.table("Benchmarks run", ["benchmark", "wall s", "status"], spent)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
