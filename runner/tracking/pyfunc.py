"""Trained networks in and out of MLflow: a recorded run's network, and the pyfunc model.

:func:`load_network` downloads a run's ``weights.npz`` and ``architecture.json`` and rebuilds
the :class:`~runner.engine.trained.TrainedNetwork`. ``RunnerPyfuncModel`` (an
``mlflow.pyfunc.PythonModel``) is created on first access, so importing this module never
imports mlflow; :func:`save_pyfunc` writes a network as an MLflow "model from code" (no pickle
involved) whose code imports ``runner.model.RunnerPyfuncModel``, the public name every saved
model refers to. Imports :mod:`runner.engine` and the rest of :mod:`runner.tracking`.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from runner.engine.trained import ARCHITECTURE_FILE, WEIGHTS_FILE, TrainedNetwork
from runner.tracking.store import resolve_uri
from runner.version import __version__

#: the models-from-code entry point MLflow runs when it loads a saved pyfunc model
PYFUNC_CODE = '''"""MLflow models-from-code entry point: a network trained by runner."""
import mlflow

from runner.model import RunnerPyfuncModel

mlflow.models.set_model(RunnerPyfuncModel())
'''


def load_network(run_id: str, tracking_uri: str | None = None) -> TrainedNetwork:
    """Download a recorded run's ``weights.npz`` and ``architecture.json`` and rebuild it.

    ``tracking_uri`` defaults as for a sweep (``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``).
    """
    from mlflow import MlflowClient

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
                    f"runner=={__version__}",
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


def pyfunc_class() -> type:
    """``RunnerPyfuncModel``, made (and mlflow imported) on the first call."""
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

        RunnerPyfuncModel.__module__ = "runner.model"
        RunnerPyfuncModel.__qualname__ = "RunnerPyfuncModel"
        _PYFUNC_CLASS = RunnerPyfuncModel
    return _PYFUNC_CLASS
