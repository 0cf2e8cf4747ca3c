"""Peak memory of training 100,000 XOR networks as one population.

What it measures
    Each measurement runs in a fresh child process; the parent reads the child's peak resident
    set size with ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` (through an intermediate
    process per measurement, so one child's peak never hides another's). Modes:

    imports     ``import runner`` + the plugin registry + numpy: the floor every worker pays.
    train       ``runner.engine.training.train`` on one population of N XOR networks (2-2-1,
                sigmoid, cross-entropy, gd, 1000 epochs, per-member learning rates), metric
                history kept as the training loop keeps it; returns N ``MemberResult`` s.
    population  ``runner.engine.population.run_population`` on a ``PopulationTask`` of N
                ``RunSpec`` s: what a sweep worker does for one population (specs, data,
                training, evaluation, N ``RunResult`` s with history and weights).

    The child also reports its resident size after each phase (from /proc/self/status), which
    shows where the memory goes; an estimate of the big buffers (weights, history, results)
    is printed beside it. Nothing is asserted; the target is < 300 MB for N = 100,000.

Run:  python benchmarks/memory.py [--quick] [--networks N] [--epochs E]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

_common.limit_threads()

TARGET_MB = 300
MODES = ("imports", "train", "population")


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB, from /proc/self/status."""
    values = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def child(mode: str, n: int, epochs: int) -> None:
    """Do the work of one mode and print its phases as JSON on the last line."""
    phases: list[tuple[str, float, float]] = []

    def mark(name: str) -> None:
        phases.append((name, *_rss_mb()))

    mark("interpreter")
    import numpy as np

    import runner
    from runner.plugin.registry import get_registry

    get_registry()
    mark("imports + registry")
    assert runner.__version__
    start = time.perf_counter()
    if mode == "train":
        from runner.engine.data import labels
        from runner.engine.network import Network, member_rng
        from runner.engine.training import Schedule, train

        reg = get_registry()
        sig = reg.get("activation", "sigmoid")
        net = Network((2, 2, 1), sig, sig, reg.get("cost", "cross_entropy"))
        # full batch: each member's generator is needed only to draw its weights, one at a time
        rngs = (member_rng(i) for i in range(n))
        W, b = net.init_population(reg.get("initializer", "normal"), {}, rngs, n)
        lr = np.geomspace(0.1, 10.0, n)
        X = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
        Y = np.array([[0.0, 1.0, 1.0, 0.0]])
        mark("weights initialized")
        results = train(
            net, W, b, X, Y, reg.get("step_rule", "gd"), {"learning_rate": lr},
            Schedule(epochs=epochs), [], labels,
        )  # fmt: skip
        mark("trained (results held)")
        assert len(results) == n
    elif mode == "population":
        from xor_population import specs

        from runner.engine.population import PopulationTask, run_population

        all_specs = specs(np.geomspace(0.1, 10.0, 10), range(n // 10), epochs)
        mark("specs built")
        results = run_population(PopulationTask(all_specs))
        mark("trained (results held)")
        assert len(results) == len(all_specs)
    seconds = time.perf_counter() - start
    print(json.dumps({"phases": phases, "seconds": seconds}))


def measure(mode: str, n: int, epochs: int) -> None:
    """Run one child and print its phases plus its peak RSS as the kernel accounted it."""
    command = [sys.executable, __file__, "--child", mode, str(n), str(epochs)]
    done = subprocess.run(command, capture_output=True, text=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KB -> MB on Linux
    if done.returncode != 0:
        print(json.dumps({"error": done.stderr.strip().splitlines()[-1:], "peak": peak}))
        return
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["peak"] = peak
    print(json.dumps(report))


def estimate(n: int, epochs: int) -> list[list[str]]:
    """The big buffers of an N-network XOR population, from the shapes the code uses."""
    from runner.engine.training import Schedule

    n_params = 2 * 2 + 2 + 2 * 1 + 1  # W1, b1, W2, b2
    metrics = 3  # loss, accuracy, gradient_norm
    every = Schedule(epochs=epochs).every(n, metrics)  # the history budget may thin the points
    points = epochs // every
    mb = 1024 * 1024
    weights = n * n_params * 8
    history = points * n * metrics * 4  # float32 (P, points) per metric in training._History
    return [
        ["weights + final copy (float64)", f"{2 * weights / mb:.1f}"],
        [
            f"history buffers ({metrics} x float32 (P, {points}), every {every} epochs); "
            "members' histories are views into them",
            f"{history / mb:.1f}",
        ],
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        measure(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    p = _common.parser(__doc__)
    p.add_argument("--networks", type=int, default=None, help="population size (100000)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (1000)")
    p.add_argument(
        "--modes", default=",".join(MODES), help="comma-separated subset of " + ", ".join(MODES)
    )
    args = p.parse_args()
    n = args.networks or (10_000 if args.quick else 100_000)
    epochs = args.epochs or (100 if args.quick else 1000)
    print(f"XOR 2-2-1, {n} networks as one population, {epochs} epochs; target < {TARGET_MB} MB")
    print(_common.machine())

    rows, phase_rows = [], []
    for mode in args.modes.split(","):
        command = [sys.executable, __file__, "--measure", mode, str(n), str(epochs)]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        report = json.loads(out.stdout.strip().splitlines()[-1])
        if "error" in report:
            rows.append([mode, "-", "-", f"failed: {report['error']}"])
            continue
        peak = report["peak"]
        verdict = "" if mode == "imports" else ("under" if peak < TARGET_MB else "OVER")
        rows.append([mode, f"{peak:.0f}", f"{report['seconds']:.1f}", verdict])
        for name, rss, hwm in report["phases"]:
            phase_rows.append([mode, name, f"{rss:.0f}", f"{hwm:.0f}"])
    _common.table(
        f"Peak RSS of the child (ru_maxrss), MB; target < {TARGET_MB} MB",
        ["mode", "peak RSS MB", "work s", "vs target"],
        rows,
    )
    _common.table(
        "Resident size after each phase (MB; peak so far)",
        ["mode", "phase", "RSS", "peak"],
        phase_rows,
    )
    _common.table("Estimated big buffers (MB)", ["buffer", "MB"], estimate(n, epochs))


if __name__ == "__main__":
    main()
