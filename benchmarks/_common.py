"""Helpers shared by the benchmark scripts: thread limits, timing, optional imports, tables.

Every benchmark limits BLAS/OpenMP to one thread (unless ``--threads N`` is given) *before* numpy
is imported, so figures are per core and the peers (scikit-learn, PyTorch) run under the same
limit. Import this module first in a benchmark script.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

#: the clock of :func:`timed`: "cpu" (this process's CPU time, robust when other jobs share the
#: cores) or "wall"; compute benchmarks offer ``--clock``
CLOCK = {"name": "wall", "fn": time.perf_counter}

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark has: --quick and --threads."""
    p = argparse.ArgumentParser(
        description=(doc or "").split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP/torch threads for every engine (default 1: per-core figures)",
    )
    return p


def add_clock(p: argparse.ArgumentParser) -> None:
    """Add ``--clock cpu|wall`` (default cpu) to a compute benchmark's parser."""
    p.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: CPU time of this process (default; robust on a shared machine); wall: wall time",
    )


def set_clock(name: str) -> None:
    """Make :func:`timed` use the CPU time of this process ("cpu") or wall time ("wall")."""
    CLOCK["name"] = name
    CLOCK["fn"] = time.process_time if name == "cpu" else time.perf_counter


def limit_threads(argv: Sequence[str] | None = None) -> int:
    """Set the thread variables from ``--threads`` (default 1) before numpy is imported."""
    argv = list(sys.argv[1:] if argv is None else argv)
    threads = 1
    for i, arg in enumerate(argv):
        if arg.startswith("--threads="):
            threads = int(arg.split("=", 1)[1])
        elif arg == "--threads" and i + 1 < len(argv):
            threads = int(argv[i + 1])
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    return threads


def have(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None


def torch_or_none(threads: int) -> Any:
    """``torch`` with ``threads`` intra-op threads, or None (and a note) if not installed."""
    if not have("torch"):
        print("PyTorch: not installed (pip install torch==2.13.0 for the CPU wheel); rows skipped")
        return None
    import torch

    torch.set_num_threads(threads)
    return torch


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call of ``fn``, on the clock chosen with :func:`set_clock`."""
    clock = CLOCK["fn"]
    start = clock()
    out = fn()
    return clock() - start, out


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``fn``."""
    return statistics.median(timed(fn)[0] for _ in range(repeats))


def machine() -> str:
    """One line naming the machine and the versions that matter."""
    import numpy as np

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.machine()} {cores} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, threads per engine {os.environ.get('OMP_NUM_THREADS', 'default')}"
        f", clock: {CLOCK['name']}"
    )


def fmt_time(seconds: float) -> str:
    """Seconds with a unit that keeps three significant figures readable."""
    if seconds != seconds:  # NaN
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a plain-text table (Markdown-compatible, so it can be pasted into the README)."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    sys.stdout.flush()
