"""The local spool: results kept on disk while the tracking store is away, until the next sweep.

Layout: ``<spool root>/<store key>/<experiment id>/``, the store key being the first 12 hex digits
of the SHA-256 of the store's URI (``store.txt`` beside the experiment folders names the store).
An experiment's folder holds ``run-<spec hash>-<record id>.json`` plus ``.npz`` per result and
``sweep-<parent run id>.json`` for the end of a sweep (counts, best run, status, best model) that
could not be recorded.

Serialization is JSON plus ``.npz``, never pickle (arrays are loaded with ``allow_pickle=False``);
non-finite floats are written as ``{"$float": "nan"}`` so that the JSON stays standard. The JSON
is written last and atomically, so a half-written item is never replayed. This module knows
nothing of MLflow: :meth:`runner.tracking.tracker.Tracker.replay_spool` records what it reads
back. Imports :mod:`runner.spec` only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from runner.spec import RunResult, RunSpec

SPOOL_DIR = ".runner-spool"


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


def result_from_spool(path: Path | str) -> tuple[RunResult, dict[str, Any]]:
    """Read what :func:`result_to_spool` wrote: ``(result, extra)``."""
    path = Path(path)
    data = from_jsonable(json.loads(path.read_text()))
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as arrays:
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
