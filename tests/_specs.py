"""Run specifications for tests, built as a table row builds them (validated, versions, name),
and tracked runs as the analysis reads them (:func:`row_of`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from runner.analysis import RunRow
from runner.spec import RunSpec
from runner.table import specs_from_rows


def spec_of(*, row: int = 1, source: str = "<test>", **cells: Any) -> RunSpec:
    """The one RunSpec a table row of ``cells`` gives; ``row`` and ``source`` as recorded."""
    (spec,) = specs_from_rows([cells], source=source)
    return dataclasses.replace(spec, row=row)


def xor_spec(seed: int, epochs: int = 200) -> RunSpec:
    """A 2-2-1 XOR configuration (gd, learning rate 1.0) for the execution tests."""
    return spec_of(learning_rate=1.0, seed=seed, epochs=epochs)


def row_of(seed: int, **fields: Any) -> RunRow:
    """A run as the adapter gives it, for statistics whose inputs are plain numbers."""
    values = dict(
        run_id=f"r{seed}", configuration="c", seed=seed, status="finished", name="n", row=1,
        params={"target_loss": "0.1", "gradient_tolerance": "None"}, finals={"train_loss": 0.05},
        converged=True, epochs=100.0 + seed, restarts=1, critical_point=None,
    )  # fmt: skip
    values.update(fields)
    return RunRow(**values)
