"""Objective rows: one start against a thousand, as one population, on Himmelblau.

What it measures
    Himmelblau's function minimized by plain gradient descent (learning rate 0.01, 1000
    iterations, no stop rule, so every member runs every iteration): one configuration with
    1 start (``restarts`` = 1) against one with 1000 starts (``restarts`` = 1000), each through
    ``runner.engine.population.run_population`` end to end (the starts drawn from the box, the
    descent, the selection, the reached minima, the Hessian test of the kept end point, one
    RunResult with its histories and trajectory). Wall time, best of 3 (``--clock cpu`` for
    this process's CPU time); the ratio is 1000 starts' time over 1 start's: the issue asks
    that a thousand starts cost about as much as one. Nothing is asserted about time.

Run:  python benchmarks/objectives.py [--quick] [--threads N] [--clock cpu|wall]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

THREADS = _common.limit_threads()

ITERATIONS = 1000
REPEATS = 3


def spec(restarts: int, iterations: int):  # noqa: ANN201 - a RunSpec
    from runner.table import specs_from_rows

    (one,) = specs_from_rows(
        [
            {
                "objective": "himmelblau",
                "optimizer": "gd",
                "learning_rate": 0.01,
                "restarts": restarts,
                "epochs": iterations,
                "seed": 0,
            }
        ]
    )
    return one


def best_time(restarts: int, iterations: int, repeats: int) -> float:
    from runner.engine.population import PopulationTask, run_population

    task = PopulationTask((spec(restarts, iterations),))
    times = []
    for _ in range(repeats):
        seconds, (result,) = _common.timed(lambda: run_population(task))
        assert result.status == "finished", result.reason
        times.append(seconds)
    return min(times)


def main() -> None:
    p = _common.parser(__doc__)
    _common.add_clock(p)
    p.set_defaults(clock="wall")
    args = p.parse_args()
    _common.set_clock(args.clock)
    iterations = 100 if args.quick else ITERATIONS
    repeats = 1 if args.quick else REPEATS
    print(_common.machine())
    best_time(1, 10, 1)  # warm up: imports, the registry
    one = best_time(1, iterations, repeats)
    many = best_time(1000, iterations, repeats)
    clock = _common.CLOCK["name"]
    _common.table(
        f"himmelblau, gd, {iterations} iterations ({clock} time, best of {repeats})",
        ("starts", "time", "per start"),
        [
            ("1", _common.fmt_time(one), _common.fmt_time(one)),
            ("1000", _common.fmt_time(many), _common.fmt_time(many / 1000)),
            ("ratio 1000 / 1", f"{many / max(one, 1e-9):.2f}", ""),
        ],
    )


if __name__ == "__main__":
    main()
