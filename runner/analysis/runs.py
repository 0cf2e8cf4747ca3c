"""A tracked run as the statistics read it: :class:`RunRow`, made by the one adapter
:func:`run_row`.

Every name the analysis reads from a run is here, in :data:`FINALS`, :data:`COUNTS`,
:data:`CURVE`, :data:`OBJECTIVE_CURVE`, :data:`TRAJECTORY_FILE` and :func:`run_row`: the final
metrics, the counts and flags the run keeps as tags (``runner.converged``,
``runner.stop_epoch``, ...) and the numbers that are no curve (``runner.<name>``: the
Hessian's eigenvalues, an end point's ``x1``), the loss curve's history. Runs recorded before
these were tags (metrics ``converged``, ``epochs``, ``hessian_min_eigenvalue``) are read too.

A run of an analytic objective (the tag ``runner.objective``) has no training loss: its curve is
``f`` by iteration, its finals ``f``, ``gradient_norm`` and the end point ``x1..xn``, its tags
say which known minimum it reached (``runner.reached``, a label or ``none``) and whether that one
is global (``runner.reached_global``), and its artifact ``trajectory.npz`` holds its path.
Reads runs shaped like MLflow's entities (``run.info.run_id``, ``run.data.metrics``,
``.params``, ``.tags``) without importing MLflow; imports nothing of runner's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: the final metrics a row keeps, by the names the analysis uses (the store's names today)
FINALS = {
    "train_loss": "train_loss",
    "test_loss": "test_loss",
    "train_accuracy": "train_accuracy",
    "test_accuracy": "test_accuracy",
    "hessian_min_eigenvalue": "hessian_min_eigenvalue",
    "hessian_max_eigenvalue": "hessian_max_eigenvalue",
    "critical_gradient_norm": "critical_gradient_norm",
    "f": "f",
    "gradient_norm": "gradient_norm",
    "hessian_determinant": "hessian_determinant",
    "hessian_r": "hessian_r",  # the notes' test of two variables: r = f_xx, s = f_xy, t = f_yy
    "hessian_s": "hessian_s",
    "hessian_t": "hessian_t",
}

#: an objective run's end point: the metrics ``x1``, ``x2``, ... (kept in the finals as named)
POINT = re.compile(r"^x[1-9][0-9]*$")

#: the counts a row keeps with its finals, by name, and the tags the run keeps them in
COUNTS = {
    "hessian_negative": "runner.hessian_negative",
    "restarts_succeeded": "runner.restarts_succeeded",
    "best_epoch": "runner.best_epoch",  # early stopping: the epoch whose weights were kept
}

#: the metric history that is the loss curve (training loss by epoch, from epoch 0)
CURVE = "train_loss"

#: an objective run's curve: the value f by iteration, from iteration 0 (the start)
OBJECTIVE_CURVE = "f"

#: an objective run's path: arrays ``steps`` (T,) and ``points`` (T, n), read without pickle
TRAJECTORY_FILE = "trajectory.npz"

#: the tags of an objective run: its objective, the minimum it reached, whether that is global
OBJECTIVE_TAG, REACHED_TAG, REACHED_GLOBAL_TAG = (
    "runner.objective", "runner.reached", "runner.reached_global",
)  # fmt: skip

#: the tag of a run whose table row says what counts as its success (``test_accuracy>=0.95``)
SUCCESS_TAG = "runner.success"

#: what an objective run's ``runner.reached`` says when it reached no known minimum
NO_MINIMUM = "none"

#: where a run recorded after runner 0.1.0 keeps a number that is no curve: the tag
#: ``runner.<name>`` (``runner.hessian_min_eigenvalue``, ``runner.x1``); older runs, a metric
VALUE_TAG = "runner."

#: the per-restart final losses (step = restart index)
RESTART_LOSS = "restart_loss"


@dataclass
class RunRow:
    """One child run as plain data: what the statistics and the figures read."""

    run_id: str
    configuration: str  # the tag runner.configuration: the spec hash without the seed
    seed: int | None
    status: str  # finished | diverged | failed | killed | training
    name: str  # the run's name with its seed left out: the configuration's name
    row: int | None  # the table row
    params: dict[str, str]
    finals: dict[str, float]
    converged: bool | None
    epochs: float | None
    restarts: int
    critical_point: str | None  # the tag runner.critical_point
    curve: tuple[list[int], list[float]] | None = None
    restart_losses: list[float] = field(default_factory=list)
    objective: str | None = None  # the objective an objective run minimized; None: a network
    reached: str | None = None  # the label of the known minimum it reached, or NO_MINIMUM
    reached_global: bool | None = None  # whether that minimum is a global one
    trajectory: tuple[Any, Any] | None = None  # (steps (T,), points (T, n)), where fetched
    success: str | None = None  # the tag runner.success: its table row's criterion of success

    @property
    def point(self) -> list[float] | None:
        """An objective run's end point (its metrics ``x1..xn``), None when it has none."""
        coords = sorted(
            ((int(k[1:]), v) for k, v in self.finals.items() if POINT.match(k)),
            key=lambda kv: kv[0],
        )
        return [v for _, v in coords] if coords else None

    def given(self, part: str, names: Iterable[str]) -> dict[str, str]:
        """The values this run recorded for the parameters ``names`` of the plugin its ``part``
        names, as records.param_column writes them: ``<part>.<name>``, else the bare name."""
        out = {}
        for name in names:
            value = self.params.get(f"{part}.{name}", self.params.get(name))
            if value is not None:
                out[name] = value
        return out

    def param(self, column: str) -> str | None:
        """The value of a table column: ``learning_rate`` finds ``optimizer.learning_rate``."""
        if column in self.params:
            return self.params[column]
        found = [v for k, v in self.params.items() if k.rsplit(".", 1)[-1] == column]
        return found[0] if len(found) == 1 else None


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if not math.isnan(out) else None


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "1.0")
    return bool(value)


def is_objective(run: Any) -> bool:
    """Whether a tracked run minimized an analytic objective (not a network)."""
    return bool(run.data.tags.get(OBJECTIVE_TAG) or run.data.params.get("objective"))


def curve_name(run: Any) -> str:
    """The metric history that is a tracked run's curve: :data:`CURVE` or
    :data:`OBJECTIVE_CURVE`."""
    return OBJECTIVE_CURVE if is_objective(run) else CURVE


def run_row(
    run: Any,
    curve: tuple[list[int], list[float]] | None = None,
    restart_losses: list[float] | None = None,
    trajectory: tuple[Any, Any] | None = None,
) -> RunRow:
    """The adapter: a tracked run (and, where fetched, its curve, restart losses and, for an
    objective run, its trajectory)."""
    metrics, tags, params = run.data.metrics, run.data.tags, dict(run.data.params)
    seed_tag = tags.get("runner.seed", params.get("seed"))
    name = tags.get("mlflow.runName", getattr(run.info, "run_name", "") or "")
    name = tags.get("runner.configuration_name") or re.sub(r"-seed\d+$", "", name)
    row = tags.get("runner.table_row")
    converged = tags.get("runner.converged", metrics.get("converged"))
    epochs = tags.get("runner.stop_epoch", metrics.get("epochs", metrics.get("iterations")))
    restarts = tags.get("runner.restarts", metrics.get("restarts", 1))
    finals = {
        k: v
        for k, key in FINALS.items()
        if (v := _float(metrics.get(key, tags.get(f"{VALUE_TAG}{key}")))) is not None
    }
    for k, tag in COUNTS.items():
        if (v := _float(tags.get(tag, metrics.get(k)))) is not None:
            finals[k] = v
    objective = tags.get(OBJECTIVE_TAG) or params.get("objective") or None
    if objective:
        numbers = {k.removeprefix(VALUE_TAG): v for k, v in tags.items() if k.startswith(VALUE_TAG)}
        finals.update(
            (k, v)
            for k, m in {**numbers, **metrics}.items()
            if POINT.match(k) and (v := _float(m)) is not None
        )
    return RunRow(
        run_id=run.info.run_id,
        configuration=tags.get("runner.configuration", ""),
        seed=None if seed_tag is None else int(seed_tag),
        status=tags.get("runner.status", "unknown"),
        name=name,
        row=None if row is None or not row.isdigit() else int(row),
        params=params,
        finals=finals,
        converged=_flag(converged),
        epochs=_float(epochs),
        restarts=int(_float(restarts) or 1),
        critical_point=tags.get("runner.critical_point"),
        curve=curve,
        restart_losses=list(restart_losses or []),
        objective=objective,
        reached=tags.get(REACHED_TAG) if objective else None,
        reached_global=_flag(tags.get(REACHED_GLOBAL_TAG)) if objective else None,
        trajectory=trajectory,
        success=tags.get(SUCCESS_TAG) or None,
    )
