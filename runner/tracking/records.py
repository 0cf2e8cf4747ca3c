"""What one MLflow run holds for a result, as plain data: tags, params, metric points, artifacts.

:class:`runner.tracking.tracker.Tracker` builds MLflow's entities from what these functions
return and writes them. Values MLflow cannot store are handled here: NaN metric points are left
out (their names are returned, for the tag ``runner.nonfinite``) and +-inf becomes +-1.797e308,
the value MLflow's SQL stores would substitute anyway. :func:`batches` splits a run's entities
into ``log_batch`` calls within MLflow's limits. :class:`RunRecord` is where one run's recording
stands (its ids and times), kept with a spooled result. mlflow itself is not imported here;
imports :mod:`runner.engine` (the weights file), :mod:`runner.spec`, the spool's JSON form and
:mod:`runner.plugin`'s registry (the parameters a plugin implies).
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runner.engine.settings import NETWORK_PARTS, NETWORK_SETTINGS, PARTS, SETTINGS, row_parts
from runner.engine.trained import ARCHITECTURE_FILE, WEIGHTS_FILE, save_weights
from runner.spec import NOT_HASHED, RunResult, RunSpec
from runner.tracking.drivers import this_driver
from runner.tracking.spool import to_jsonable
from runner.version import __version__

RESTARTS_FILE = "restarts.json"
TRACEBACK_FILE = "traceback.txt"
#: an objective run's path: ``np.savez`` of ``steps`` (int64, (T,)) and ``points`` (float64,
#: (T, n)); read it with ``allow_pickle=False``
TRAJECTORY_FILE = "trajectory.npz"

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


#: the colours the MLflow UI draws configurations in (its own palette's distinct hues), the
#: n-th configuration of a table in the n-th (tag ``mlflow.runColor``), its seeds alike
COLOURS = (
    "#c83243", "#137dae", "#308613", "#8a63bf", "#de7921", "#04867d",
    "#b45091", "#a6630c", "#434a93", "#1f272d", "#facb66", "#5f7281",
)  # fmt: skip

#: the key of the view of an experiment's runs that runner saves (MLflow 3's UI lists it under
#: Views, and opens it from the page address's ``viewStateShareKey``), and its tag
VIEW_KEY = "runner"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"


def saved_view(now: int) -> str:
    """The saved view's tag value, MLflow 3's envelope (name, times, the state as JSON): every
    run shown (the UI's default shows the first 10, often all one configuration's seeds),
    grouped by ``runner.configuration_name``, each run charted on its own, in its
    configuration's colour (a group's colour is the UI's hash of its name: near shades)."""
    state = {
        "runsHiddenMode": "SHOW_ALL",
        "groupBy": {
            "aggregateFunction": "average",
            "groupByKeys": [{"mode": "tag", "groupByData": "runner.configuration_name"}],
        },
        "useGroupedValuesInCharts": False,
    }
    view = {"name": "every configuration", "createdAt": now, "updatedAt": now}
    return json.dumps({**view, "state": json.dumps(state)})


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
    tags.update(file_tags(spec))
    if spec.name:  # the configuration's name, readable where Group by shows its groups
        tags["runner.configuration_name"] = configuration_name(spec)
    if spec.configuration_index >= 0:
        tags["mlflow.runColor"] = COLOURS[spec.configuration_index % len(COLOURS)]
    if spec.note:  # the row's comment: the run's description in the UI
        tags["mlflow.note.content"] = spec.note
    if spec.success:  # the row's own criterion of success (the study reads it)
        tags["runner.success"] = spec.success
    if parent_id:
        tags["mlflow.parentRunId"] = parent_id
    return {k: fit(v, MAX_TAG_LENGTH) for k, v in tags.items()}


#: the parts whose plugins are of one kind, so that a bare parameter column means both: their
#: parameters are always shown qualified (``activation.beta``, ``output_activation.beta``)
SHARED_KIND = ("activation", "output_activation")


def param_column(spec: RunSpec, part: str, name: str) -> str:
    """The table column that sets parameter ``name`` of ``part`` alone in ``spec``: the bare
    name (``learning_rate``, ``restarts``, a third party's ``beta2``) when no core setting
    and no other part of the spec has a parameter of that name, else ``<part>.<name>``. The
    parameters of the two activations are always qualified."""
    if part in SHARED_KIND or name in SETTINGS:
        return f"{part}.{name}"
    for other in PARTS:
        if other != part and any(k == name for k, _ in getattr(spec, f"{other}_params")):
            return f"{part}.{name}"
    return name


def shown(value: Any) -> str:
    """A parameter's value as a table cell writes it (``0.5``, ``16-16``, ``none`` for no
    hidden layer, ``true``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "-".join(str(v) for v in value) or "none"
    return str(value)


def configuration_name(spec: RunSpec) -> str:
    """The run's name without its seed (``momentum-lr0.5-restarts1``), the same for the seeds of
    one configuration; where the name had to take its spec hash, the configuration id's
    first digits instead."""
    name, found = re.subn(r"-seed\d+-[0-9a-f]{8}$", "", spec.name)
    if found:
        return f"{name}-{spec.configuration_id()[:8]}"
    return re.sub(r"-?seed\d+$", "", spec.name) or spec.dataset


def flat_params(spec: RunSpec) -> dict[str, str]:
    """Every parameter as the run shows it, under the table's column names, one to one: the
    core settings by name (``scaling``, ``hidden``), each part's plugin parameters under
    :func:`param_column` (``learning_rate``, ``output_activation.beta``), defaults as their
    value. A setting or parameter that is unset (``target_loss`` left blank) is left out:
    blank is how a table writes it, and no cell value means "unset". The spec hash does not
    read these names (it hashes :meth:`~runner.spec.RunSpec.content`); nor the parameters its
    plugins imply (:func:`implied_params`: a gd run's ``momentum`` 0). An objective run shows
    only what applies to it (no data set, layers or other network settings: they stay at their
    defaults); a network run has no ``objective``."""
    out: dict[str, str] = {}
    parts = row_parts(spec.objective)
    foreign = {p for p in PARTS if p not in parts}
    if spec.objective:
        foreign |= {*NETWORK_PARTS, *NETWORK_SETTINGS}
    for f in dataclasses.fields(spec):
        if f.name in NOT_HASHED or f.name.endswith("_params") or f.name in foreign:
            continue
        value = getattr(spec, f.name)
        if value is not None:
            out[f.name] = shown(value)
    for part in parts:
        for name, value in getattr(spec, f"{part}_params"):
            if value is not None:
                out[param_column(spec, part, name)] = shown(value)
    for part, name, value in implied_params(spec):
        out.setdefault(param_column(spec, part, name), shown(value))
    return out


def implied_params(spec: RunSpec) -> list[tuple[str, str, Any]]:
    """``(part, name, value)`` of the parameters the spec's plugins have at a fixed value
    without taking them (a plugin's ``implied_params``: gd's ``momentum`` 0), for its params
    only: a parameter of that name in another part of the spec wins, and the spec hash never
    reads them. A plugin that is not installed implies nothing."""
    from runner.plugin.registry import get_registry

    registry, out = get_registry(), []
    for part in row_parts(spec.objective):
        plugin = registry.by_kind[PARTS[part]].get(getattr(spec, part))
        for name, value in getattr(plugin, "implied_params", {}).items():
            if not any(name == k for p in PARTS for k, _ in getattr(spec, f"{p}_params")):
                out.append((part, name, value))
    return out


def file_tags(spec: RunSpec) -> dict[str, str]:
    """``runner.sha256.<column>``: the content digest of each file a spec reads, beside the
    file's path (the param), as the spec hash knows the file."""
    out = {}
    for key, digest in spec.files:
        part, _, name = key.partition(".")
        out[f"runner.sha256.{param_column(spec, part, name)}"] = digest.removeprefix("sha256:")
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


#: the engine's history names as the run shows them: one name per quantity, the history and
#: its final value alike
HISTORY_NAMES = {"loss": "train_loss", "accuracy": "train_accuracy"}

#: the final values that end a history of the same name, at the run's last epoch (an
#: objective run's ``f`` and ``gradient_norm``, at its last iteration)
FINAL_VALUES = ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "f", "gradient_norm")

#: the final values that rank runs, which a sweep's best run shows as ``runner.best.<name>``
RANKED_VALUES = ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "f")

#: results' numbers that are flags or counts, not curves: tags of the run (``diverged`` is
#: the tag ``runner.status``)
TAG_NUMBERS = {
    "converged": "runner.converged",
    "epochs": "runner.stop_epoch",
    "restarts": "runner.restarts",
    "selected_restart": "runner.selected_restart",
    "log_every": "runner.log_every",
    "best_epoch": "runner.best_epoch",
    "restarts_succeeded": "runner.restarts_succeeded",
    "hessian_negative": "runner.hessian_negative",
    "hessian_zero": "runner.hessian_zero",
}
NOT_LOGGED = frozenset({"diverged", "stopped_early"})  # the status, the stop reason say them

#: the prefix of the tags that hold a result's single numbers (``runner.wall_time``)
VALUE_TAG = "runner."


def single_values(result: RunResult) -> dict[str, float]:
    """The result's numbers that are one value, not a curve: no history of that name and no
    final value of one (``wall_time``, the critical-point test's ``hessian_min_eigenvalue``,
    ``critical_gradient_norm``, an objective run's end point ``x1``, ``x2``). The run keeps
    them as tags (``runner.wall_time``), so MLflow's chart view charts curves only (a lone
    value at the last step charts as a dot on a one-step axis) and the run page lists them."""
    curves = {HISTORY_NAMES.get(name, name) for name in result.history} | set(FINAL_VALUES)
    return {
        name: value
        for name, value in result.metrics.items()
        if name not in curves and name not in TAG_NUMBERS and name not in NOT_LOGGED
    }


def run_metrics(
    result: RunResult, start_ms: int, end_ms: int
) -> tuple[list[tuple[str, float, int, int]], set[str]]:
    """``(key, value, timestamp, step)`` for the histories, step = epoch: step 0 is the initial
    weights, the last step (the epoch the run stopped at) holds the final evaluated values
    (``train_loss``, ``train_accuracy``, ``test_loss``, ``test_accuracy``: one name per
    quantity, :data:`HISTORY_NAMES`), timestamps spread over the run's wall time. Numbers that
    are no curve are tags (:func:`single_values`, flags and counts). Each restart's final
    loss is not a curve over epochs: it is in ``restarts.json``, not charted. Plus the names
    that had NaN values, which are left out."""
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
        key = HISTORY_NAMES.get(name, name)
        final = key in FINAL_VALUES and key in result.metrics  # the final value ends it
        for step, value in zip(
            np.asarray(steps).tolist(), np.asarray(values).tolist(), strict=True
        ):
            if not (final and int(step) >= last):
                add(key, value, int(step), start_ms + (span * int(step)) // max(last, 1))
    single = single_values(result)
    for name, value in result.metrics.items():
        if name not in TAG_NUMBERS and name not in NOT_LOGGED and name not in single:
            add(name, value, last, end_ms)
    nonfinite.update(name for name, value in single.items() if storable_float(value) is None)
    return out, nonfinite


def result_tags(result: RunResult, nonfinite: set[str]) -> dict[str, str]:
    """The tags a result completes its run with: ``runner.status`` (and ``runner.reason``),
    why training stopped (``runner.stop_reason``),
    the flags and counts of :data:`TAG_NUMBERS` (``runner.converged`` = ``true``/``false``,
    ``runner.stop_epoch``, ``runner.restarts``, ``runner.selected_restart``), the single
    numbers of :func:`single_values` (``runner.wall_time`` = ``0.0123``, in full precision)
    and the names of the numbers that had NaN values (``runner.nonfinite``)."""
    tags = {"runner.status": result.status}
    if result.reason:
        tags["runner.reason"] = result.reason[:5000]
    if result.stop_reason:
        tags["runner.stop_reason"] = result.stop_reason
    for name, tag in TAG_NUMBERS.items():
        value = result.metrics.get(name)
        if value is None or not math.isfinite(value):
            continue
        tags[tag] = str(bool(value)).lower() if name == "converged" else str(int(value))
    for name, value in single_values(result).items():
        if (stored := storable_float(value)) is not None:
            tags[f"{VALUE_TAG}{name}"] = repr(stored)
    if nonfinite:
        tags["runner.nonfinite"] = ",".join(sorted(nonfinite))
    tags.update(result.tags)  # the worker's own (runner.critical_point)
    return tags


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
    result, trajectory.npz of an objective run's; False if it has none."""
    wrote = False
    if result.trajectory:
        with open(folder / TRAJECTORY_FILE, "wb") as fh:
            np.savez(
                fh,
                steps=np.asarray(result.trajectory["steps"], dtype=np.int64),
                points=np.asarray(result.trajectory["points"], dtype=np.float64),
            )
        wrote = True
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


#: the input tag MLflow's UI shows beside a run's dataset
DATASET_CONTEXT = "mlflow.data.context"


def run_dataset(result: RunResult) -> tuple[dict[str, str], dict[str, str]] | None:
    """A result's dataset input, as MLflow's ``log_inputs`` stores it: the dataset's fields
    (name, digest, source type, source, schema and profile, JSON as text) and the input's tags
    (the context "training" and the run's split); None when the result has no data set (a run
    that failed before its data were loaded).

    The dataset is the data set as its plugin loaded it (its digest covers every value), one
    per experiment however many runs train on it; how a run split it is the input's.
    """
    data = result.dataset
    if not data or not data.get("digest"):
        return None
    label = "long" if data.get("task") == "classification" else "double"
    columns = [{"type": "double", "name": str(f), "required": True} for f in data["features"]]
    columns += [{"type": label, "name": str(t), "required": True} for t in data["targets"]]
    source = {"runner.dataset": str(data["name"]), "runner.data_seed": str(data["data_seed"])}
    source |= {f"runner.dataset.{k}": str(v) for k, v in sorted(data["params"].items())}
    profile = {
        "num_rows": int(data["samples"]),
        "num_elements": int(data["samples"]) * len(columns),
        "features": len(data["features"]),
        "targets": list(data["targets"]),
        "task": data.get("task", ""),
    }
    if data.get("task") == "classification":
        profile["classes"] = int(data.get("classes") or 0)
    dataset = {
        "name": fit(str(data["name"]), 500),
        "digest": str(data["digest"]),
        "source_type": "code",
        "source": json.dumps({"tags": source}),
        "schema": json.dumps({"mlflow_colspec": columns}),
        "profile": json.dumps(profile),
    }
    tags = {
        DATASET_CONTEXT: "training",
        "runner.train_samples": str(data["train_samples"]),
        "runner.test_samples": str(data["test_samples"]),
    }
    return dataset, tags
