"""A driver process for the Ctrl-C tests: runs slow tasks on a pool and reports what it lost.

Prints ``started <hash>`` when a task starts and, after a KeyboardInterrupt, ``in_flight <hash>``
for every task submitted without a result, then exits with 130.
"""

from __future__ import annotations

import functools
import sys

import _faulty

from runner.engine.population import PopulationTask
from runner.execution import run_tasks


def main() -> int:
    jobs = int(sys.argv[1])
    tasks = [PopulationTask((_faulty.xor_spec(seed, epochs=10),)) for seed in range(8)]
    try:
        run_tasks(
            tasks,
            jobs=jobs,
            scheduler=None,
            timeout=None,
            on_result=lambda task, results: print("result", task.hashes[0], flush=True),
            on_start=lambda task: print("started", task.hashes[0], flush=True),
            worker=functools.partial(_faulty.slow, 600.0),
        )
    except KeyboardInterrupt as exc:
        for task in exc.in_flight:
            print("in_flight", task.hashes[0], flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
