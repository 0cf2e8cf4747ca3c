"""The local spool: results kept on disk while the tracking store is away, until the next sweep.

Layout: ``<spool root>/<store key>/<experiment id>/``, the store key being the first 12 hex digits
of the SHA-256 of the store's URI (``store.txt`` beside the experiment folders names the store).
An experiment's folder holds ``run-<spec hash>-<record id>.json`` plus ``.npz`` per result and
``sweep-<parent run id>.json`` for the end of a sweep (counts, best run, status, best model) that
could not be recorded.

Serialization is JSON plus ``.npz``, never pickle (arrays are loaded by
:func:`runner.engine.npz.load_npz`, their shapes and sizes checked against the JSON first);
non-finite floats are written as ``{"$float": "nan"}`` so that the JSON stays standard. The JSON
is written last and atomically, so a half-written item is never replayed. What was read back
is checked against what a result can be (:func:`result_problem`: its names, tags, numbers and
shapes) before it is replayed, and a replayed run carries the tag :data:`REPLAYED_TAG`. This
module knows nothing of MLflow: :meth:`runner.tracking.tracker.Tracker.replay_spool` records
what it reads back. Imports :mod:`runner.spec` and :mod:`runner.engine` (the npz reader, a
network's shapes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from runner.engine.npz import load_npz
from runner.engine.trained import weight_shapes
from runner.spec import RunResult, RunSpec

SPOOL_DIR = ".runner-spool"
#: the tag a run recorded from the spool carries (the item's file name), for audits
REPLAYED_TAG = "runner.replayed_from_spool"


# -- the folders -------------------------------------------------------------------------------


def spool_folder(root: Path, uri: str, experiment_id: str) -> Path:
    """Where the results of experiment ``experiment_id`` of the store at ``uri`` wait."""
    key = hashlib.sha256(uri.encode()).hexdigest()[:12]
    return root / key / str(experiment_id)


def spool_result(folder: Path, uri: str, result: RunResult, record: dict[str, Any]) -> Path:
    """Write one result and its ``record`` (a RunRecord's JSON) into ``folder``; returns the
    JSON path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder.parent / "store.txt").write_text(uri + "\n")
    stem = folder / f"run-{result.spec_hash}-{record['record_id']}"
    return result_to_spool(result, stem, record)


def spool_sweep_end(folder: Path, parent_id: str, fields: dict[str, Any]) -> None:
    """Merge ``fields`` (counts, best, status; or best_model) into the spooled end of a sweep."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sweep-{parent_id}.json"
    data = json.loads(path.read_text()) if path.exists() else {"parent_id": parent_id}
    data.update(fields)
    write_json(path, data)


def spooled_results(folder: Path) -> list[Path]:
    """The JSON files of the results spooled in ``folder``, sorted by name."""
    return sorted(folder.glob("run-*.json"))


def spooled_sweep_ends(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """``(path, data)`` of every sweep end spooled in ``folder``, sorted by name."""
    for path in sorted(folder.glob("sweep-*.json")):
        yield path, json.loads(path.read_text())


def remove_result(path: Path) -> None:
    """Delete a spooled result (its JSON and its ``.npz``) once it is recorded."""
    path.unlink()
    path.with_suffix(".npz").unlink(missing_ok=True)


# -- serialization: JSON + npz, never pickle ------------------------------------------------------

_FLOAT_KEY = "$float"


def to_jsonable(obj: Any, nonfinite: Any = "tagged") -> Any:
    """JSON-ready data; non-finite floats become ``{"$float": "nan"}`` (or ``nonfinite``)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, nonfinite) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v, nonfinite) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), nonfinite)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return {_FLOAT_KEY: repr(obj)} if nonfinite == "tagged" else nonfinite
    if isinstance(obj, Path):
        return str(obj)
    return obj


def from_jsonable(obj: Any) -> Any:
    """What :func:`to_jsonable` wrote, with its tagged non-finite floats as floats again."""
    if isinstance(obj, dict):
        if set(obj) == {_FLOAT_KEY}:
            return float(obj[_FLOAT_KEY])
        return {k: from_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    return obj


def hashable(value: Any) -> Any:
    return tuple(hashable(v) for v in value) if isinstance(value, list) else value


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` whole or not at all (a scratch file, then a rename)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(to_jsonable(data), indent=1, sort_keys=True, allow_nan=False))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def spec_to_dict(spec: RunSpec) -> dict[str, Any]:
    """Every field of a spec (row, source and versions included) as JSON-ready data."""
    return to_jsonable({f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)})


#: RunSpec fields as spooled by runner 0.1.0 before they were renamed
_OLD_FIELDS = {"scale": "scaling", "output_params": "output_activation_params"}


def spec_from_dict(data: dict[str, Any]) -> RunSpec:
    data = from_jsonable(data)
    known = {f.name for f in dataclasses.fields(RunSpec)}
    kwargs = {}
    for key, value in data.items():
        key = _OLD_FIELDS.get(key, key)
        if key not in known:
            continue
        if key == "hidden":
            value = tuple(int(n) for n in value)
        elif key.endswith("_params") or key in ("versions", "files"):
            value = tuple((str(k), hashable(v)) for k, v in value)
        kwargs[key] = value
    return RunSpec(**kwargs)


def result_to_spool(result: RunResult, stem: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``stem.npz`` (weights ``W1..``/``b1..``, histories) and then ``stem.json`` (all the
    rest, plus ``extra``); returns the JSON path. The JSON is written last, atomically, so a
    half-written item is never replayed."""
    stem = Path(stem)
    arrays: dict[str, np.ndarray] = {}
    for m, (w, b) in enumerate(zip(result.weights, result.biases, strict=True), start=1):
        arrays[f"W{m}"], arrays[f"b{m}"] = np.asarray(w), np.asarray(b)
    names = list(result.history)
    for i, name in enumerate(names):
        steps, values = result.history[name]
        arrays[f"h{i}_steps"], arrays[f"h{i}_values"] = np.asarray(steps), np.asarray(values)
    for name, value in result.trajectory.items():  # an objective run's path: steps, points
        arrays[f"trajectory_{name}"] = np.asarray(value)
    try:
        with open(stem.with_suffix(".npz"), "wb") as fh:
            np.savez(fh, **arrays)
    except OSError:  # a full disk: leave no half-written item behind
        stem.with_suffix(".npz").unlink(missing_ok=True)
        raise
    data = {
        "format": 1,
        "spec": spec_to_dict(result.spec),
        "spec_hash": result.spec_hash,
        "status": result.status,
        "reason": result.reason,
        "metrics": result.metrics,
        "history": names,
        "layers": len(result.weights),
        "restart_losses": list(result.restart_losses),
        "architecture": result.architecture,
        "wall_time": result.wall_time,
        "traceback": result.traceback,
        "dataset": result.dataset,
        "stop_reason": result.stop_reason,
        "tags": dict(result.tags),
        "trajectory": sorted(result.trajectory),
        "extra": extra or {},
    }
    path = stem.with_suffix(".json")
    try:
        write_json(path, data)
    except OSError:
        stem.with_suffix(".npz").unlink(missing_ok=True)
        raise
    return path


#: the most bytes a spooled objective run's trajectory may declare
MAX_TRAJECTORY_BYTES = 64 * 2**20


def _declared(data: dict[str, Any]) -> tuple[dict[str, tuple[int, ...]], int]:
    """The shapes a spooled result's arrays must have (its network's, from the layer sizes its
    JSON says), and the bytes they may take in all: the network, a point per epoch of each
    history, and a trajectory's bound."""
    layers = int(data["layers"])
    sizes = (data.get("architecture") or {}).get("sizes") if layers else []
    if layers and (
        not isinstance(sizes, list)
        or len(sizes) != layers + 1
        or not all(isinstance(n, int) and n > 0 for n in sizes)
    ):
        raise ValueError(f"its {layers} layers have no layer sizes")
    shapes: dict[str, tuple[int, ...]] = dict(weight_shapes(sizes)) if layers else {}
    epochs = int((data.get("spec") or {}).get("epochs") or 0)
    bound = sum(8 * math.prod(shape) for shape in shapes.values())
    bound += len(data["history"]) * 2 * 8 * (max(epochs, 0) + 2)
    if data.get("trajectory"):
        bound += MAX_TRAJECTORY_BYTES
    return shapes, bound


def result_from_spool(path: Path | str) -> tuple[RunResult, dict[str, Any]]:
    """Read what :func:`result_to_spool` wrote: ``(result, extra)``."""
    path = Path(path)
    data = from_jsonable(json.loads(path.read_text()))
    shapes, bound = _declared(data)
    arrays = load_npz(path.with_suffix(".npz"), max_bytes=bound, shapes=shapes, what="its result")
    layers = range(1, int(data["layers"]) + 1)
    weights = [arrays[f"W{m}"] for m in layers]
    biases = [arrays[f"b{m}"] for m in layers]
    history = {
        name: (arrays[f"h{i}_steps"], arrays[f"h{i}_values"])
        for i, name in enumerate(data["history"])
    }
    trajectory = {str(k): arrays[f"trajectory_{k}"] for k in data.get("trajectory") or ()}
    result = RunResult(
        spec=spec_from_dict(data["spec"]),
        spec_hash=data["spec_hash"],
        status=data["status"],
        reason=data["reason"],
        metrics={k: float(v) for k, v in data["metrics"].items()},
        history=history,
        weights=weights,
        biases=biases,
        restart_losses=[float(x) for x in data["restart_losses"]],
        architecture=data["architecture"],
        wall_time=float(data["wall_time"]),
        traceback=str(data.get("traceback", "")),
        dataset=dict(data.get("dataset") or {}),
        stop_reason=str(data.get("stop_reason", "")),
        tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
        trajectory=trajectory,
    )
    return result, data["extra"]


# -- what a result can be: an item is checked before it is replayed -----------------------------

#: a tag a worker's result may carry besides those of its spec (``RunResult.tags``:
#: ``runner.critical_point``, an objective run's ``runner.reached``)
_RESULT_TAG = re.compile(r"runner\.[a-z][a-z0-9_]{0,99}")
#: a metric's or history's name as runner writes them
_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
#: a param's or tag's key MLflow stores: no path tricks (``..``, a leading ``/``)
_KEY = re.compile(r"[A-Za-z0-9_.\-: /]{1,250}")
#: the losses a result has, final and as histories
LOSSES = ("train_loss", "test_loss", "loss")
ACCURACIES = ("train_accuracy", "test_accuracy", "accuracy")


def key_problem(key: str, what: str) -> str:
    """Why ``key`` cannot be a param's or tag's key ("" when it can)."""
    if not _KEY.fullmatch(key) or key.startswith("/") or ".." in key.split("/"):
        return f"its {what} key {key[:60]!r} is none MLflow keeps (letters, digits, _-.:/ )"
    return ""


def result_problem(
    result: RunResult, loss_floor: float = -math.inf, reserved: Collection[str] = ()
) -> str:
    """Why a result read back from the spool is none a worker could have returned ("" when it
    could): names and tags it may carry (``runner.<name>``, none of the ``reserved`` tags the
    recorder writes itself), numbers of the right kind (a finished run's finite, its losses at
    least ``loss_floor``, the least value its cost takes; accuracies in [0, 1]), and arrays of
    the shapes its network and histories have."""
    spec, finished = result.spec, result.status == "finished"
    for key, value in result.tags.items():
        if not _RESULT_TAG.fullmatch(key) or key in reserved:
            return f"its tag {key[:60]!r} is none a result carries (runner.<name>, not its own)"
        if len(value) > 5000 or not value.isprintable():
            return f"its tag {key} is no short line of text"
    for name, value in result.metrics.items():
        if not _NAME.fullmatch(name):
            return f"its metric name {name[:60]!r} is none runner writes"
        why = _number_problem(name, value, finished, loss_floor)
        if why:
            return why
    epochs = result.metrics.get("epochs")
    if epochs is not None and not (0 <= epochs <= spec.epochs and float(epochs).is_integer()):
        return f"its epochs {epochs!r} is not a whole number from 0 to {spec.epochs}"
    if not (math.isfinite(result.wall_time) and result.wall_time >= 0):
        return f"its wall time {result.wall_time!r} is no duration"
    for loss in result.restart_losses:  # a restart may have diverged: inf and NaN are fine
        if math.isfinite(loss) and loss < loss_floor:
            return f"its restart loss {loss!r} is below {loss_floor:g}, the least its cost takes"
    for name, (steps, values) in result.history.items():
        steps, values = np.asarray(steps), np.asarray(values)
        if not _NAME.fullmatch(name):
            return f"its history name {name[:60]!r} is none runner writes"
        if steps.ndim != 1 or values.shape != steps.shape or steps.dtype.kind not in "iu":
            return f"its history {name} is not one whole-numbered step per value"
        if values.dtype.kind not in "fiu" or (len(steps) and (steps.min() < 0)):
            return f"its history {name} has steps below 0 or values that are not numbers"
        for value in values.tolist():  # a curve may pass through inf on its way
            why = _number_problem(name, value, False, loss_floor)
            if why:
                return f"its history {why.removeprefix('its ')}"
    return _network_problem(result) or _trajectory_problem(result)


def _number_problem(name: str, value: float, finished: bool, loss_floor: float) -> str:
    if not isinstance(value, float | int) or isinstance(value, bool):
        return f"its {name} {value!r} is not a number"
    if not math.isfinite(value):
        if finished and name in (*LOSSES, *ACCURACIES, "f", "gradient_norm"):
            return f"its {name} {value!r} is not finite, yet it finished"
        return ""
    if name in LOSSES and value < loss_floor:
        return f"its {name} {value!r} is below {loss_floor:g}, the least its cost takes"
    if name in ACCURACIES and not 0 <= value <= 1:
        return f"its {name} {value!r} is not within [0, 1]"
    if name == "gradient_norm" and value < 0:
        return f"its gradient_norm {value!r} is below 0"
    return ""


def _network_problem(result: RunResult) -> str:
    """Weights ``W_m`` of shape (n_m, n_{m-1}) and biases (n_m, 1), n the architecture's
    sizes, whose hidden ones are the spec's; a finished run's finite."""
    if not result.weights and not result.biases:
        return ""
    sizes = result.architecture.get("sizes")
    if not isinstance(sizes, list) or not all(isinstance(n, int) and n > 0 for n in sizes):
        return "its architecture has no layer sizes"
    if tuple(sizes[1:-1]) != tuple(result.spec.hidden):
        return f"its layer sizes {sizes} are not its configuration's (hidden {result.spec.hidden})"
    if len(result.weights) != len(sizes) - 1 or len(result.biases) != len(sizes) - 1:
        return f"it has {len(result.weights)} weight matrices for {len(sizes) - 1} layers"
    for m, (w, b) in enumerate(zip(result.weights, result.biases, strict=True), start=1):
        want = (sizes[m], sizes[m - 1])
        if np.shape(w) != want or np.shape(b) != (sizes[m], 1):
            return f"its W{m} or b{m} is not of the shape {want} its layers give"
        if np.asarray(w).dtype.kind != "f" or np.asarray(b).dtype.kind != "f":
            return f"its W{m} or b{m} is not an array of floats"
        if result.status == "finished" and not (np.isfinite(w).all() and np.isfinite(b).all()):
            return f"its W{m} or b{m} is not finite, yet it finished"
    return ""


def _trajectory_problem(result: RunResult) -> str:
    if not result.trajectory:
        return ""
    steps, points = result.trajectory.get("steps"), result.trajectory.get("points")
    if set(result.trajectory) != {"steps", "points"} or steps is None or points is None:
        return "its trajectory is not a pair of arrays steps, points"
    if steps.ndim != 1 or points.ndim != 2 or len(steps) != len(points):
        return "its trajectory is not one point per step"
    if steps.dtype.kind not in "iu" or points.dtype.kind != "f":
        return "its trajectory is not whole-numbered steps and points of floats"
    return ""
