"""Trained networks in and out of MLflow: a recorded run's network, and the pyfunc model.

:func:`load_network` downloads a run's ``weights.npz`` and ``architecture.json`` and rebuilds
the :class:`~runner.engine.trained.TrainedNetwork`. ``RunnerPyfuncModel`` (an
``mlflow.pyfunc.PythonModel``) is created on first access, so importing this module never
imports mlflow; :func:`save_pyfunc` writes a network as an MLflow "model from code" (no pickle
involved) whose code imports ``runner.model.RunnerPyfuncModel``, the public name every saved
model refers to, and :func:`log_pyfunc` logs one as an MLflow 3 logged model of its run. Every
saved model has a signature, an input example, and requirements naming :data:`DISTRIBUTION`,
the distribution that installs this project. Imports :mod:`runner.engine` and the rest of
:mod:`runner.tracking`.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Iterator
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


#: the distribution that installs this project, as a saved model's requirements name it
DISTRIBUTION = "runner-mlp"


def requirements() -> list[str]:
    """What a saved model needs installed: this project, mlflow and numpy, at these versions."""
    import mlflow

    return [
        f"{DISTRIBUTION}=={__version__}",
        f"mlflow=={mlflow.__version__}",
        f"numpy=={np.__version__}",
    ]


def example_rows(network: TrainedNetwork) -> np.ndarray:
    """Two inputs in the range the network was trained on, from its input scaling (the
    training split's centre or minimum, and one spread beyond it): an input example when no
    rows of the data set are at hand."""
    pre = network.architecture.get("preprocessing") or {}
    shift = np.asarray(pre.get("shift", np.zeros(network.n_in)), dtype=np.float64)
    spread = np.asarray(pre.get("spread", np.ones(network.n_in)), dtype=np.float64)
    return np.stack([shift, shift + spread])


def model_parts(network_dir: Path | str, folder: Path | str, example: Any = None) -> dict[str, Any]:
    """The keyword arguments of ``mlflow.pyfunc.save_model`` / ``log_model`` for the network in
    ``network_dir``: the code (written into ``folder``), the two files as artifacts, the
    signature (one double column per feature, by name; the outputs, one column each), an input
    example (``example``, rows of inputs as loaded, else :func:`example_rows`) and the
    requirements. Nothing is pickled and nothing is inferred by loading the model elsewhere."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    network_dir = Path(network_dir)
    code = Path(folder) / "runner_network.py"
    code.write_text(PYFUNC_CODE)
    network = TrainedNetwork.from_directory(network_dir)
    names = network.feature_names or [f"x{j + 1}" for j in range(network.n_in)]
    rows = np.asarray(example if example is not None and len(example) else example_rows(network))
    signature = ModelSignature(
        inputs=Schema([ColSpec("double", name) for name in names]),
        outputs=Schema([TensorSpec(np.dtype(np.float64), (-1, network.n_out))]),
    )
    # records, one per row: a DataFrame's rows by column, as the signature reads them
    records = [dict(zip(names, map(float, row), strict=True)) for row in rows]
    return {
        "python_model": str(code),
        "artifacts": {
            "weights": str(network_dir / WEIGHTS_FILE),
            "architecture": str(network_dir / ARCHITECTURE_FILE),
        },
        "signature": signature,
        "input_example": records,
        # given explicitly: inferring them would load the model in a subprocess
        "pip_requirements": requirements(),
    }


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's chatter while a model is saved (its own input-example check and warnings)."""
    loggers = [logging.getLogger(n) for n in ("mlflow.pyfunc", "mlflow.models", "mlflow.utils")]
    levels = [x.level for x in loggers]
    for x in loggers:
        x.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        for x, level in zip(loggers, levels, strict=True):
            x.setLevel(level)


def save_pyfunc(network_dir: Path | str, path: Path | str, example: Any = None) -> Path:
    """Save the network in ``network_dir`` (weights.npz, architecture.json) as an MLflow pyfunc
    model folder at ``path``; ``mlflow.pyfunc.load_model`` then gives a model whose
    ``predict(frame)`` (a DataFrame with the feature columns by name, as its signature says;
    one row per sample) returns the network outputs."""
    import mlflow.pyfunc

    with tempfile.TemporaryDirectory(prefix="runner-pyfunc-") as tmp, _quiet():
        mlflow.pyfunc.save_model(path=str(path), **model_parts(network_dir, tmp, example))
    return Path(path)


def log_pyfunc(
    network_dir: Path | str,
    tracking_uri: str,
    experiment_id: str,
    run_id: str,
    name: str,
    *,
    step: int = 0,
    example: Any = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Log the network in ``network_dir`` as an MLflow 3 logged model ``name`` of run
    ``run_id`` of experiment ``experiment_id`` (its source run: the model takes the run's
    params, and its metrics at ``step`` are linked to it) in the store at ``tracking_uri``;
    returns the model id.
    ``mlflow.pyfunc.load_model(f"models:/{id}")`` and ``runs:/<run_id>/<name>`` load it."""
    import mlflow.pyfunc
    from mlflow.models import Model
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    # MLflow puts a model of a run that is not the active one into the active experiment (the
    # default one, 0): the run's experiment is made the active one for the call
    active = fluent._active_experiment_id
    fluent._active_experiment_id = experiment_id
    with (
        tempfile.TemporaryDirectory(prefix="runner-pyfunc-") as tmp,
        _quiet(),
        _use_tracking_uri(tracking_uri),
        contextlib.ExitStack() as restore,
    ):
        restore.callback(setattr, fluent, "_active_experiment_id", active)
        # what mlflow.pyfunc.log_model does, for a run that is not the active one
        info = Model.log(
            artifact_path=None,
            name=name,
            flavor=mlflow.pyfunc,
            run_id=run_id,
            step=step,
            model_type="mlp",
            tags=tags,
            flavor_name="pyfunc.ModelFromCode",
            **model_parts(network_dir, tmp, example),
        )
    return str(info.model_id)


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
