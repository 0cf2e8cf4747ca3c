"""What one MLflow run holds for a result, as plain data: tags, params, metric points, artifacts.

:class:`runner.tracking.tracker.Tracker` builds MLflow's entities from what these functions
return and writes them. Values MLflow cannot store are handled here: NaN metric points are left
out (their names are returned, for the tag ``runner.nonfinite``) and +-inf becomes +-1.797e308,
the value MLflow's SQL stores would substitute anyway. :func:`batches` splits a run's entities
into ``log_batch`` calls within MLflow's limits. :class:`RunRecord` is where one run's recording
stands (its ids and times), kept with a spooled result. mlflow itself is not imported here;
imports :mod:`runner.engine` (the weights file), :mod:`runner.spec` and the spool's JSON form.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runner.engine.trained import ARCHITECTURE_FILE, WEIGHTS_FILE, save_weights
from runner.spec import HASH_NAMES, RunResult, RunSpec
from runner.tracking.drivers import this_driver
from runner.tracking.spool import to_jsonable
from runner.version import __version__

RESTARTS_FILE = "restarts.json"
TRACEBACK_FILE = "traceback.txt"

# MLflow's limits (mlflow.utils.validation): per log_batch call and per value
MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTITIES = 1000, 100, 100, 1000
MAX_PARAM_LENGTH, MAX_TAG_LENGTH = 6000, 8000
LARGEST_FLOAT = 1.7976931348623157e308


def storable_float(value: Any) -> float | None:
    """A value MLflow can store: None for NaN, +-inf clamped to the largest float."""
    value = float(value)
    if math.isnan(value):
        return None
    if math.isinf(value):
        return math.copysign(LARGEST_FLOAT, value)
    return value


def now_ms() -> int:
    """Now, in milliseconds since the epoch (MLflow's timestamps)."""
    return int(time.time() * 1000)


def user_name() -> str:
    """The user recorded as ``mlflow.user``."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


def run_tags(
    spec: RunSpec, spec_hash: str, parent_id: str | None, record_id: str
) -> dict[str, str]:
    """The tags of a child run (``runner.*`` and MLflow's own), each cut to MLflow's limit."""
    tags = {
        "runner.kind": "run",
        "runner.spec_hash": spec_hash,
        "runner.configuration": spec.configuration_id(),
        "runner.seed": str(spec.seed),
        "runner.table": spec.source,
        "runner.table_row": str(spec.row),
        "runner.plugins": json.dumps(dict(spec.versions), sort_keys=True),
        "runner.version": __version__,
        "runner.record_id": record_id,
        "runner.driver": this_driver(),
        "mlflow.user": user_name(),
        "mlflow.source.name": "runner sweep",
        "mlflow.source.type": "LOCAL",
    }
    if parent_id:
        tags["mlflow.parentRunId"] = parent_id
    return {k: fit(v, MAX_TAG_LENGTH) for k, v in tags.items()}


def flat_params(spec: RunSpec) -> dict[str, str]:
    """Every parameter as the run shows it: the settings by name, each part's plugin
    parameters as ``<part>.<name>`` (``optimizer.learning_rate``), the names of the hash."""
    out: dict[str, str] = {}
    for key, value in spec.content().items():
        if isinstance(value, dict):
            prefix = key.removesuffix("_params")
            for k, v in value.items():
                out[f"{prefix}.{k}"] = str(v)
        elif isinstance(value, list):
            out[key] = "-".join(str(v) for v in value) or "none"
        else:
            out[key] = str(value)
    if spec.early_stopping:  # its settings are in force, though the hash leaves out defaults
        for key in ("validation_fraction", "patience", "tol"):
            out.setdefault(key, str(getattr(spec, key)))
    for key, digest in spec.files:  # the file's path to read, its digest beside it
        part, _, name = key.partition(".")
        prefix = HASH_NAMES.get(f"{part}_params", f"{part}_params").removesuffix("_params")
        out[f"{prefix}.{name}"] = str(spec.params_of(part)[name])
        out[f"{prefix}.{name}_sha256"] = digest.removeprefix("sha256:")
    return out


def run_params(spec: RunSpec) -> list[tuple[str, str]]:
    """The spec's flat parameters as ``(key, value)``, each value cut to MLflow's limit."""
    return [(k, fit(v, MAX_PARAM_LENGTH)) for k, v in flat_params(spec).items()]


def fit(value: str, limit: int) -> str:
    """``value``, or when longer than ``limit`` its start and a note of its full length, so a
    cut value says it is one (the run's ``architecture.json`` holds the layer sizes whole)."""
    if len(value) <= limit:
        return value
    tail = f"… (cut: {len(value)} characters in all)"
    return value[: limit - len(tail)] + tail


def run_metrics(
    result: RunResult, start_ms: int, end_ms: int
) -> tuple[list[tuple[str, float, int, int]], set[str]]:
    """``(key, value, timestamp, step)`` for the histories (step = epoch, timestamps spread over
    the run's wall time), the final metrics (at the last epoch) and ``restart_loss`` per restart
    (step = restart index); plus the names that had NaN values, which are left out."""
    out: list[tuple[str, float, int, int]] = []
    nonfinite: set[str] = set()
    last = int(result.metrics.get("epochs", 0) or 0)
    for steps, _ in result.history.values():
        if len(steps):
            last = max(last, int(np.max(steps)))
    span = max(end_ms - start_ms, 0)

    def add(key: str, value: Any, step: int, timestamp: int) -> None:
        finite = storable_float(value)
        if finite is None:
            nonfinite.add(key)
        else:
            out.append((key, finite, timestamp, step))

    for name, (steps, values) in result.history.items():
        for step, value in zip(
            np.asarray(steps).tolist(), np.asarray(values).tolist(), strict=True
        ):
            add(name, value, int(step), start_ms + (span * int(step)) // max(last, 1))
    for name, value in result.metrics.items():
        add(name, value, last, end_ms)
    for i, value in enumerate(result.restart_losses):
        add("restart_loss", value, i, end_ms)
    return out, nonfinite


def batches(metrics: list, params: list, tags: list) -> Iterator[tuple[list, list, list]]:
    """Split into log_batch calls within MLflow's limits (1000 metrics, 100 params, 100 tags,
    1000 entities per call)."""
    m, p, t = list(metrics), list(params), list(tags)
    while m or p or t:
        ps, p = p[:MAX_PARAMS], p[MAX_PARAMS:]
        ts, t = t[:MAX_TAGS], t[MAX_TAGS:]
        room = min(MAX_METRICS, MAX_ENTITIES - len(ps) - len(ts))
        ms, m = m[:room], m[room:]
        yield ms, ps, ts


def write_artifacts(result: RunResult, folder: Path) -> bool:
    """weights.npz, architecture.json, restarts.json and (a failed run) traceback.txt of a
    result; False if it has none."""
    wrote = False
    if result.weights:
        save_weights(folder / WEIGHTS_FILE, result.weights, result.biases)
        wrote = True
    if result.architecture:
        text = json.dumps(to_jsonable(result.architecture, None), indent=2, sort_keys=True)
        (folder / ARCHITECTURE_FILE).write_text(text)
        wrote = True
    if result.traceback:
        (folder / TRACEBACK_FILE).write_text(result.traceback)
        wrote = True
    if result.restart_losses:
        selected = result.metrics.get("selected_restart")
        restarts = {
            "strategy": result.spec.strategy,
            "strategy_params": dict(result.spec.strategy_params),
            "final_losses": [storable_float(x) for x in result.restart_losses],
            "selected": None if selected is None else int(selected),
        }
        (folder / RESTARTS_FILE).write_text(json.dumps(to_jsonable(restarts, None), indent=2))
        wrote = True
    return wrote


@dataclass
class RunRecord:
    """Where the recording of one result stands: the run's ids and its start and end times.

    ``run_id`` is None until the run exists; ``record_id`` (the tag ``runner.record_id``) tells
    this recording's run from any other run of the same specification.
    """

    record_id: str
    experiment_id: str
    parent_id: str | None
    start_ms: int
    end_ms: int
    run_id: str | None = None
    artifact_uri: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
