"""A trained network rebuilt for prediction, and the MLflow pyfunc model that serves it.

:class:`TrainedNetwork` holds one network's weights ``W^m`` (N_m, N_{m-1}) and biases ``b^m``
(N_m, 1) together with the architecture recorded at training time (layer sizes, plugin names and
parameters, input preprocessing). It rebuilds the :class:`~runner.network.Network` from the
installed plugins and predicts for inputs with one sample per row, applying the same scaling
``(x - shift) / spread`` the training data had. On disk a network is two files:
``weights.npz`` (``W1..WL``, ``b1..bL``; loadable with ``allow_pickle=False``) and
``architecture.json``.

``RunnerPyfuncModel`` (an ``mlflow.pyfunc.PythonModel``) is created on first access, so importing
this module never imports mlflow; :func:`save_pyfunc` writes it as an MLflow "model from code"
(no pickle involved).
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runner.data import labels
from runner.network import Network

WEIGHTS_FILE = "weights.npz"
ARCHITECTURE_FILE = "architecture.json"

#: the models-from-code entry point MLflow runs when it loads a saved pyfunc model
PYFUNC_CODE = '''"""MLflow models-from-code entry point: a network trained by runner."""
import mlflow

from runner.model import RunnerPyfuncModel

mlflow.models.set_model(RunnerPyfuncModel())
'''


def save_weights(path: Path | str, weights: list[np.ndarray], biases: list[np.ndarray]) -> Path:
    """Write ``W1..WL`` and ``b1..bL`` (layer m is 1-based, as in the notes) to one ``.npz``."""
    arrays = {f"W{m}": np.asarray(w) for m, w in enumerate(weights, start=1)}
    arrays.update({f"b{m}": np.asarray(b) for m, b in enumerate(biases, start=1)})
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return Path(path)


def load_weights(path: Path | str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Read what :func:`save_weights` wrote (never unpickles)."""
    with np.load(path, allow_pickle=False) as data:
        n_layers = sum(1 for key in data.files if key.startswith("W"))
        try:
            weights = [data[f"W{m}"] for m in range(1, n_layers + 1)]
            biases = [data[f"b{m}"] for m in range(1, n_layers + 1)]
        except KeyError as exc:
            raise ValueError(f"{path}: weights file lacks {exc.args[0]}") from None
    return weights, biases


@dataclass
class TrainedNetwork:
    """One trained network, ready to predict; plugins are looked up by name in ``registry``."""

    architecture: dict[str, Any]
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    registry: Any = field(default=None, repr=False)
    network: Network = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.registry is None:
            from runner.manager import get_registry

            self.registry = get_registry()
        arch = self.architecture
        sizes = tuple(int(n) for n in arch["sizes"])
        dtype = np.dtype(arch.get("dtype", "float64"))
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
        self.network = Network(
            sizes=sizes,
            hidden=self.registry.get("activation", arch["hidden_activation"]),
            output=self.registry.get("activation", arch["output_activation"]),
            cost=self.registry.get("cost", arch["cost"]),
            hidden_params=dict(arch.get("hidden_params") or {}),
            output_params=dict(arch.get("output_params") or {}),
            cost_params=dict(arch.get("cost_params") or {}),
            dtype=dtype,
        )
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
        return str(self.architecture.get("task", "regression"))

    @property
    def feature_names(self) -> list[str]:
        return list(self.architecture.get("feature_names") or [])

    def transform(self, X_rows: Any) -> np.ndarray:
        """Inputs with one sample per row ``(S, N_0)`` -> scaled columns ``(N_0, S)``."""
        X = np.asarray(X_rows, dtype=self.network.dtype)
        if X.ndim == 1 and X.shape[0] == self.n_in:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"expected inputs of shape (samples, {self.n_in}), got {X.shape}")
        pre = self.architecture.get("preprocessing") or {}
        shift = np.asarray(pre.get("shift", np.zeros(self.n_in)), dtype=np.float64).reshape(-1, 1)
        spread = np.asarray(pre.get("spread", np.ones(self.n_in)), dtype=np.float64).reshape(-1, 1)
        return np.ascontiguousarray(((X.T - shift) / spread).astype(self.network.dtype))

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

    def save(self, directory: Path | str) -> tuple[Path, Path]:
        """Write ``weights.npz`` and ``architecture.json`` into ``directory``."""
        directory = Path(directory)
        weights = save_weights(directory / WEIGHTS_FILE, self.weights, self.biases)
        arch = directory / ARCHITECTURE_FILE
        arch.write_text(json.dumps(self.architecture, indent=2, sort_keys=True))
        return weights, arch

    @classmethod
    def from_files(
        cls, weights: Path | str, architecture: Path | str, registry: Any = None
    ) -> TrainedNetwork:
        """Rebuild from a ``weights.npz`` and an ``architecture.json``."""
        W, b = load_weights(weights)
        arch = json.loads(Path(architecture).read_text())
        return cls(arch, W, b, registry)

    @classmethod
    def from_directory(cls, directory: Path | str, registry: Any = None) -> TrainedNetwork:
        directory = Path(directory)
        return cls.from_files(directory / WEIGHTS_FILE, directory / ARCHITECTURE_FILE, registry)


def load_network(run_id: str, tracking_uri: str | None = None) -> TrainedNetwork:
    """Download a recorded run's ``weights.npz`` and ``architecture.json`` and rebuild it.

    ``tracking_uri`` defaults as for a sweep (``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``).
    """
    from mlflow import MlflowClient

    from runner.tracking import resolve_uri

    client = MlflowClient(resolve_uri(tracking_uri))
    with tempfile.TemporaryDirectory(prefix="runner-model-") as tmp:
        for name in (WEIGHTS_FILE, ARCHITECTURE_FILE):
            client.download_artifacts(run_id, name, tmp)
        return TrainedNetwork.from_directory(tmp)


def save_pyfunc(network_dir: Path | str, path: Path | str) -> Path:
    """Save the network in ``network_dir`` (weights.npz, architecture.json) as an MLflow pyfunc
    model folder at ``path``; ``mlflow.pyfunc.load_model`` then gives a model whose
    ``predict(X)`` (DataFrame or array, one row per sample) returns the network outputs."""
    import mlflow.pyfunc

    import runner

    network_dir, path = Path(network_dir), Path(path)
    quiet = logging.getLogger("mlflow.pyfunc")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "no signature": none is given on purpose, see _inputs
    try:
        with tempfile.TemporaryDirectory(prefix="runner-pyfunc-") as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            code = Path(tmp) / "runner_network.py"
            code.write_text(PYFUNC_CODE)
            mlflow.pyfunc.save_model(
                path=str(path),
                python_model=str(code),
                artifacts={
                    "weights": str(network_dir / WEIGHTS_FILE),
                    "architecture": str(network_dir / ARCHITECTURE_FILE),
                },
                # given explicitly: inferring them would load the model in a subprocess
                pip_requirements=[
                    f"runner=={runner.__version__}",
                    f"mlflow=={mlflow.__version__}",
                    f"numpy=={np.__version__}",
                ],
            )
    finally:
        quiet.setLevel(level)
    return path


def _inputs(network: TrainedNetwork, model_input: Any) -> np.ndarray:
    """A DataFrame's feature columns by name when it has them all, else its columns in order."""
    columns = getattr(model_input, "columns", None)
    if columns is not None:
        names = network.feature_names
        if names and all(name in columns for name in names):
            model_input = model_input[names]
        return model_input.to_numpy(dtype=np.float64)
    return np.asarray(model_input, dtype=np.float64)


_PYFUNC_CLASS: type | None = None


def _pyfunc_class() -> type:
    global _PYFUNC_CLASS
    if _PYFUNC_CLASS is None:
        import mlflow.pyfunc

        class RunnerPyfuncModel(mlflow.pyfunc.PythonModel):
            """A runner network as an MLflow pyfunc model (artifacts: weights, architecture)."""

            def load_context(self, context: Any) -> None:
                self.network = TrainedNetwork.from_files(
                    context.artifacts["weights"], context.artifacts["architecture"]
                )

            # np.ndarray as the hint: MLflow then neither converts nor validates the input
            def predict(
                self, context: Any, model_input: np.ndarray, params: dict | None = None
            ) -> np.ndarray:
                return self.network.predict(_inputs(self.network, model_input))

        RunnerPyfuncModel.__module__ = __name__
        _PYFUNC_CLASS = RunnerPyfuncModel
    return _PYFUNC_CLASS


def __getattr__(name: str) -> Any:
    if name == "RunnerPyfuncModel":
        return _pyfunc_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
