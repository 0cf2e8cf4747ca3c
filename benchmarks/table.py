"""Validating big and hostile sweep tables: CPU seconds of ``load_specs``, growing linearly.

What it measures
    ``runner.table.load_specs`` (read, expand, validate against the installed plugins, build the
    specifications) on generated tables, in this process's CPU time (``--clock wall`` for wall
    time), after one small table has warmed up the plugin registry:

    identical rows      N rows ``sigmoid,1`` sharing one data set (one specification)
    distinct rows       N rows ``sigmoid,<i>`` (N specifications)
    one row of combos   one row ``sigmoid,0..N-1`` (N specifications)
    long number cell    a seed cell of D digits followed by a letter (rejected)
    long range bound    a seed cell ``0..<D digits>`` (rejected)

    Each table at two sizes, so that the ratio of the times says whether the work is linear (a
    ratio near the ratio of the sizes) or quadratic (its square).

Run:  python benchmarks/table.py [--quick] [--clock cpu|wall]
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from runner.errors import TableError  # noqa: E402
from runner.table import load_specs  # noqa: E402


def tables(small: int, digits: int) -> list[tuple[str, Callable[[int], str]]]:
    """(name, the table's text for size n) of each table measured."""
    return [
        ("identical rows", lambda n: "activation,seed\n" + "sigmoid,1\n" * n),
        (
            "distinct rows",
            lambda n: "activation,seed\n" + "".join(f"sigmoid,{i}\n" for i in range(n)),
        ),
        ("one row of combos", lambda n: f"activation,seed\nsigmoid,0..{n - 1}\n"),
        ("long number cell", lambda n: f"seed\n{'1' * (n * digits // small)}x\n"),
        ("long range bound", lambda n: f"seed\n0..{'1' * (n * digits // small)}\n"),
    ]


def validate(path: Path) -> str:
    try:
        return f"{len(load_specs(path))} specs"
    except TableError as exc:
        return "rejected: " + exc.problems[0][:60]
    except Exception as exc:  # what an earlier version did: a traceback
        return f"traceback: {type(exc).__name__}: {str(exc)[:40]}"


def main() -> None:
    p = _common.parser(__doc__)
    _common.add_clock(p)
    args = p.parse_args()
    _common.set_clock(args.clock)
    small, digits = (2_000, 2_000) if args.quick else (20_000, 10_000)
    print(_common.machine())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm = folder / "warm.csv"
        warm.write_text("activation,seed\nsigmoid,1\n")
        load_specs(warm)
        rows = []
        for name, text in tables(small, digits):
            times = []
            for n in (small, 2 * small):
                path = folder / "t.csv"
                path.write_text(text(n))
                seconds, outcome = _common.timed(lambda path=path: validate(path))
                times.append(seconds)
                size = f"{n * digits // small} digits" if "cell" in name or "bound" in name else n
                rows.append((name, str(size), _common.fmt_time(seconds), outcome))
            rows.append((name, "ratio 2x / 1x", f"{times[1] / max(times[0], 1e-9):.2f}", ""))
        _common.table("load_specs", ("table", "size", "time", "outcome"), rows)


if __name__ == "__main__":
    main()
