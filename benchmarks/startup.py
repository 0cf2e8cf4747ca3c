"""Start-up time of the command line, and which heavy packages it imports.

What it measures
    The median wall time of several runs (subprocesses) of:
    ``python -c pass`` (the interpreter's floor), ``python -c "import runner"``, ``runner --help``,
    ``runner --version`` and ``runner plugins --json`` (which discovers every plugin). The
    ``runner`` console script next to the interpreter is used if installed, else
    ``python -m runner``. Target for ``runner --help``: < 0.3 s.

    Then, for ``runner --help``, ``python -X importtime`` lists every module imported: the table
    says whether mlflow, pandas, dask, distributed, sklearn, torch and rich were imported (they
    should not be: the help must not pay for them), and names the slowest imports
    (cumulative microseconds as importtime reports them).

Run:  python benchmarks/startup.py [--quick]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

HEAVY = ("mlflow", "pandas", "dask", "distributed", "sklearn", "torch", "rich", "numpy")
TARGET = 0.3


def runner_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m runner``."""
    script = Path(sys.executable).with_name("runner")
    if script.exists():
        return [str(script)]
    found = shutil.which("runner")
    return [found] if found else [sys.executable, "-m", "runner"]


def wall(command: list[str], repeats: int) -> float:
    """Median wall time of ``repeats`` runs (after one warm-up run that fills the OS caches)."""
    subprocess.run(command, capture_output=True, check=False)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr.decode()[-500:]}")
    return statistics.median(times)


def imported_modules(args: list[str]) -> dict[str, int]:
    """Module name -> cumulative import microseconds, from ``python -X importtime``."""
    command = [sys.executable, "-X", "importtime", "-m", "runner", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    modules: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if cumulative.isdigit():
            modules[name] = int(cumulative)
    return modules


def main() -> None:
    args = _common.parser(__doc__).parse_args()
    repeats = 3 if args.quick else 11
    env_note = "PYTHONPATH set" if os.environ.get("PYTHONPATH") else "installed package"
    print(f"median of {repeats} runs each; {env_note}")
    print(_common.machine())
    cli = runner_command()
    py = [sys.executable]
    commands = [
        ("python -c pass", [*py, "-c", "pass"]),
        ("python -c 'import runner'", [*py, "-c", "import runner"]),
        ("runner --help", [*cli, "--help"]),
        ("runner --version", [*cli, "--version"]),
        ("runner plugins --json", [*cli, "plugins", "--json"]),
    ]
    floor = None
    rows = []
    for name, command in commands:
        seconds = wall(command, repeats)
        floor = floor if floor is not None else seconds
        target = ""
        if name == "runner --help":
            target = "under" if seconds < TARGET else "OVER"
        rows.append([name, f"{seconds * 1e3:.0f}", f"{(seconds - floor) * 1e3:.0f}", target])
    _common.table(
        f"Wall time (ms); target for runner --help < {TARGET * 1e3:.0f} ms",
        ["command", "median ms", "above python floor", "vs target"],
        rows,
    )

    modules = imported_modules(["--help"])
    tops = {name.split(".")[0] for name in modules}
    _common.table(
        "Heavy packages imported by `runner --help`",
        ["package", "imported", "cumulative import ms"],
        [
            [
                pkg,
                "yes" if pkg in tops else "no",
                f"{modules[pkg] / 1e3:.0f}" if pkg in modules else "-",
            ]
            for pkg in HEAVY
        ],
    )
    top_level = {k: v for k, v in modules.items() if "." not in k}
    slowest = sorted(top_level.items(), key=lambda kv: -kv[1])[: 3 if args.quick else 8]
    _common.table(
        "Slowest top-level imports of `runner --help` (cumulative ms)",
        ["module", "ms"],
        [[name, f"{us / 1e3:.1f}"] for name, us in slowest],
    )


if __name__ == "__main__":
    main()
