"""runner: a plugin-based experiment runner for multi-layer perceptrons trained by backpropagation.

The public API: the hook marker for plugins, the plugin base classes, and helpers to build and
train networks from installed plugins.
"""

from __future__ import annotations

from typing import Any

from runner.errors import PluginError, RunnerError, TableError, TrackingError
from runner.hookspecs import hookimpl
from runner.kinds import (
    Activation,
    Cost,
    Dataset,
    DatasetSource,
    Initializer,
    StepRule,
    Strategy,
)
from runner.params import Param, Plugin

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "Cost",
    "Dataset",
    "DatasetSource",
    "Initializer",
    "MLPClassifier",
    "MLPRegressor",
    "Param",
    "Plugin",
    "PluginError",
    "RunnerError",
    "StepRule",
    "Strategy",
    "TableError",
    "TrackingError",
    "__version__",
    "hookimpl",
]


#: names exported lazily, so that ``import runner`` never imports scikit-learn
_LAZY = {"MLPClassifier": "runner.estimators", "MLPRegressor": "runner.estimators"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'runner' has no attribute {name!r}")
