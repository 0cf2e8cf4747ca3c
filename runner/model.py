"""Trained networks for users: ``load_network(run_id)``, ``TrainedNetwork``, the pyfunc model.

The public face of :mod:`runner.engine.trained` and :mod:`runner.tracking.pyfunc`, at the name
the README and every saved MLflow model use (a saved ``best_model`` imports
``runner.model.RunnerPyfuncModel``). ``RunnerPyfuncModel`` is made on first access, so
importing this module never imports mlflow.
"""

from __future__ import annotations

from typing import Any

from runner.engine.trained import TrainedNetwork, load_weights, save_weights
from runner.tracking.pyfunc import load_network, save_pyfunc

__all__ = [  # noqa: F822 (RunnerPyfuncModel is made on first access, by __getattr__)
    "RunnerPyfuncModel",
    "TrainedNetwork",
    "load_network",
    "load_weights",
    "save_pyfunc",
    "save_weights",
]


def __getattr__(name: str) -> Any:
    if name == "RunnerPyfuncModel":
        from runner.tracking.pyfunc import pyfunc_class

        return pyfunc_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
