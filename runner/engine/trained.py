"""A trained network: its architecture, its weights on disk, and prediction with both.

:class:`Architecture` is what it takes to rebuild a network for prediction: layer sizes, plugin
names and parameters, the input scaling and the task. It is built the same way by the sweep's
worker (:mod:`runner.engine.population`) and the estimators (:mod:`runner.engine.estimators`),
and :meth:`Architecture.network` is the one place a :class:`~runner.engine.network.Network` is
built from it. On disk a network is two files: ``weights.npz`` (``W1..WL``, ``b1..bL``; loaded
by :func:`runner.engine.npz.load_npz`, its arrays checked against the layer sizes first) and
``architecture.json`` (:meth:`Architecture.to_json`; runs recorded by every earlier version of
runner have the same layout). :class:`TrainedNetwork`
predicts for inputs with one sample per row, scaled as the training data were.

Knows nothing of MLflow (:mod:`runner.tracking.pyfunc` serves a trained network as a model);
imports the rest of :mod:`runner.engine` and :mod:`runner.plugin`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runner.engine.data import Prepared, Scaling, labels
from runner.engine.network import Network
from runner.engine.npz import load_npz
from runner.plugin.kinds import Activation, Cost
from runner.plugin.registry import Registry, get_registry

WEIGHTS_FILE = "weights.npz"
ARCHITECTURE_FILE = "architecture.json"


def save_weights(path: Path | str, weights: list[np.ndarray], biases: list[np.ndarray]) -> Path:
    """Write ``W1..WL`` and ``b1..bL`` (layer m is 1-based, as in the notes) to one ``.npz``."""
    arrays = {f"W{m}": np.asarray(w) for m, w in enumerate(weights, start=1)}
    arrays.update({f"b{m}": np.asarray(b) for m, b in enumerate(biases, start=1)})
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(path)


#: the most bytes a weights file may declare when no architecture says its layer sizes
MAX_WEIGHT_BYTES = 512 * 2**20


def weight_shapes(sizes: Sequence[int]) -> dict[str, tuple[int, int]]:
    """The arrays of a network of layer sizes ``n_0..n_L``: ``W_m`` (n_m, n_{m-1}), ``b_m``
    (n_m, 1)."""
    out = {}
    for m in range(1, len(sizes)):
        out[f"W{m}"], out[f"b{m}"] = (sizes[m], sizes[m - 1]), (sizes[m], 1)
    return out


def load_weights(
    path: Path | str, sizes: Sequence[int] | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Read what :func:`save_weights` wrote (never unpickles). With the network's layer
    ``sizes`` (its architecture's) the file must hold exactly their arrays, checked from its
    headers before anything is decompressed (:func:`runner.engine.npz.load_npz`); without, it
    may declare at most :data:`MAX_WEIGHT_BYTES`."""
    shapes = weight_shapes(sizes) if sizes is not None else None
    bound = MAX_WEIGHT_BYTES
    if shapes is not None:  # float64 at most: the network's own size
        bound = sum(8 * math.prod(shape) for shape in shapes.values())
    data = load_npz(path, max_bytes=bound, shapes=shapes, what="the network")
    n_layers = sum(1 for key in data if key.startswith("W"))
    try:
        weights = [data[f"W{m}"] for m in range(1, n_layers + 1)]
        biases = [data[f"b{m}"] for m in range(1, n_layers + 1)]
    except KeyError as exc:
        raise ValueError(f"{path}: weights file lacks {exc.args[0]}") from None
    return weights, biases


@dataclass(frozen=True)
class Architecture:
    """The shape, plugins and preprocessing of one trained network (see the module docstring)."""

    sizes: tuple[int, ...]
    hidden_activation: str
    hidden_params: dict[str, Any]
    output_activation: str
    output_params: dict[str, Any]
    cost: str
    cost_params: dict[str, Any]
    dtype: str
    task: str
    n_classes: int
    feature_names: tuple[str, ...]
    scaling: Scaling
    one_hot: bool

    @classmethod
    def of(
        cls,
        hidden: tuple[int, ...],
        plugins: tuple[Activation, Activation, Cost],
        params: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
        data: Prepared,
        dtype: str,
    ) -> Architecture:
        """The architecture of a network with ``hidden`` layers trained on ``data``:
        ``plugins`` are the hidden and output activations and the cost, ``params`` theirs."""
        (hidden_act, output_act, cost), (hidden_params, output_params, cost_params) = (
            plugins,
            params,
        )
        return cls(
            sizes=(data.X.shape[0], *hidden, data.n_out),
            hidden_activation=hidden_act.name,
            hidden_params=dict(hidden_params),
            output_activation=output_act.name,
            output_params=dict(output_params),
            cost=cost.name,
            cost_params=dict(cost_params),
            dtype=dtype,
            task=data.task,
            n_classes=data.n_classes,
            feature_names=data.feature_names,
            scaling=data.scaling,
            one_hot=data.one_hot,
        )

    def network(self, registry: Registry | None = None) -> Network:
        """The :class:`Network` this architecture describes, its plugins looked up by name."""
        registry = registry if registry is not None else get_registry()
        return Network(
            sizes=self.sizes,
            hidden_activation=registry.get("activation", self.hidden_activation),
            output_activation=registry.get("activation", self.output_activation),
            cost=registry.get("cost", self.cost),
            hidden_params=dict(self.hidden_params),
            output_params=dict(self.output_params),
            cost_params=dict(self.cost_params),
            dtype=np.dtype(self.dtype),
        )

    def to_json(self) -> dict[str, Any]:
        """The recorded form, ``architecture.json``."""
        return {
            "sizes": list(self.sizes),
            "hidden_activation": self.hidden_activation,
            "hidden_params": self.hidden_params,
            "output_activation": self.output_activation,
            "output_params": self.output_params,
            "cost": self.cost,
            "cost_params": self.cost_params,
            "dtype": self.dtype,
            "task": self.task,
            "n_classes": self.n_classes,
            "feature_names": list(self.feature_names),
            "preprocessing": {
                "scale": self.scaling.kind,
                "shift": self.scaling.shift.ravel().tolist(),
                "spread": self.scaling.spread.ravel().tolist(),
                "one_hot": self.one_hot,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Architecture:
        """Read :meth:`to_json`'s form (missing preprocessing: no scaling)."""
        sizes = tuple(int(n) for n in data["sizes"])
        pre = data.get("preprocessing") or {}
        n_in = sizes[0]
        scaling = Scaling(
            str(pre.get("scale", "none")),
            np.asarray(pre.get("shift", np.zeros(n_in)), dtype=np.float64).reshape(-1, 1),
            np.asarray(pre.get("spread", np.ones(n_in)), dtype=np.float64).reshape(-1, 1),
        )
        return cls(
            sizes=sizes,
            hidden_activation=str(data["hidden_activation"]),
            hidden_params=dict(data.get("hidden_params") or {}),
            output_activation=str(data["output_activation"]),
            output_params=dict(data.get("output_params") or {}),
            cost=str(data["cost"]),
            cost_params=dict(data.get("cost_params") or {}),
            dtype=str(data.get("dtype", "float64")),
            task=str(data.get("task", "regression")),
            n_classes=int(data.get("n_classes") or 0),
            feature_names=tuple(str(n) for n in data.get("feature_names") or ()),
            scaling=scaling,
            one_hot=bool(pre.get("one_hot", False)),
        )


@dataclass
class TrainedNetwork:
    """One trained network, ready to predict; plugins are looked up by name in ``registry``.

    ``architecture`` is the recorded form (:meth:`Architecture.to_json`); ``weights`` are the
    ``W^m`` of shape ``(N_m, N_{m-1})`` and ``biases`` the ``b^m`` of shape ``(N_m, 1)``.
    """

    architecture: dict[str, Any]
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    registry: Registry | None = field(default=None, repr=False)
    network: Network = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._architecture = Architecture.from_json(self.architecture)
        sizes = self._architecture.sizes
        if len(self.weights) != len(sizes) - 1 or len(self.biases) != len(sizes) - 1:
            raise ValueError(
                f"{len(self.weights)} weight and {len(self.biases)} bias layers "
                f"for layer sizes {list(sizes)}"
            )
        for m, (w, b) in enumerate(zip(self.weights, self.biases, strict=True), start=1):
            if w.shape != (sizes[m], sizes[m - 1]) or b.shape != (sizes[m], 1):
                raise ValueError(
                    f"layer {m}: W{m} {w.shape} and b{m} {b.shape} do not fit sizes {list(sizes)}"
                )
        self.network = self._architecture.network(self.registry)
        dtype = self.network.dtype
        # the population axis of size 1 the network code expects
        self._W = [np.asarray(w, dtype=dtype)[None] for w in self.weights]
        self._b = [np.asarray(b, dtype=dtype)[None] for b in self.biases]

    @property
    def n_in(self) -> int:
        return int(self.network.sizes[0])

    @property
    def n_out(self) -> int:
        return int(self.network.sizes[-1])

    @property
    def task(self) -> str:
        return self._architecture.task

    @property
    def feature_names(self) -> list[str]:
        return list(self._architecture.feature_names)

    def transform(self, X_rows: Any) -> np.ndarray:
        """Inputs with one sample per row ``(S, N_0)`` (or one sample) -> scaled columns."""
        X = np.asarray(X_rows, dtype=np.float64)
        if X.ndim == 1 and X.shape[0] == self.n_in:
            X = X[None, :]
        return self._architecture.scaling.apply(X, self.network.dtype)

    def output(self, X_rows: Any) -> np.ndarray:
        """The output layer a^L as columns ``(N_L, S)``."""
        return self.network.predict(self._W, self._b, self.transform(X_rows))[0]

    def predict(self, X_rows: Any) -> np.ndarray:
        """Network outputs, one row per sample: shape ``(S, N_L)``."""
        return np.ascontiguousarray(self.output(X_rows).T)

    def predict_labels(self, X_rows: Any) -> np.ndarray:
        """Class labels ``0..n_classes-1`` (``a > 0.5`` for one output unit, else the argmax)."""
        if self.task != "classification":
            raise ValueError("this network was trained for regression; it predicts no labels")
        return labels(self.output(X_rows))

    @classmethod
    def from_files(
        cls, weights: Path | str, architecture: Path | str, registry: Registry | None = None
    ) -> TrainedNetwork:
        """Rebuild from a ``weights.npz`` and an ``architecture.json`` (whose layer sizes bound
        what the weights file may inflate to)."""
        arch = json.loads(Path(architecture).read_text())
        sizes = arch.get("sizes") if isinstance(arch, dict) else None
        valid = isinstance(sizes, list) and all(isinstance(n, int) and n > 0 for n in sizes)
        W, b = load_weights(weights, sizes if valid else None)
        return cls(arch, W, b, registry)

    @classmethod
    def from_directory(
        cls, directory: Path | str, registry: Registry | None = None
    ) -> TrainedNetwork:
        """Rebuild from a folder holding ``weights.npz`` and ``architecture.json``."""
        directory = Path(directory)
        return cls.from_files(directory / WEIGHTS_FILE, directory / ARCHITECTURE_FILE, registry)
