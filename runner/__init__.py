"""runner: a plugin-based experiment runner for multi-layer perceptrons trained by backpropagation.

The public API: the hook marker for plugins, the plugin base classes and parameter declarations,
the error family, and the scikit-learn estimators (imported on first use, so that
``import runner`` never imports scikit-learn). The rooms behind it, and the way imports run
between them, are described in ``docs/architecture.md``.
"""

from __future__ import annotations

from typing import Any

from runner.errors import PluginError, RunnerError, TableError, TrackingError, did_you_mean
from runner.plugin.hookspecs import hookimpl
from runner.plugin.kinds import (
    Activation,
    Cost,
    Dataset,
    DatasetSource,
    Initializer,
    Minimum,
    Objective,
    RateSchedule,
    StepRule,
    Strategy,
    Success,
)
from runner.plugin.params import Param, Plugin
from runner.version import __version__

__all__ = [
    "Activation",
    "Cost",
    "Dataset",
    "DatasetSource",
    "Initializer",
    "MLPClassifier",
    "MLPRegressor",
    "Minimum",
    "Objective",
    "Param",
    "Plugin",
    "PluginError",
    "RateSchedule",
    "RunnerError",
    "StepRule",
    "Strategy",
    "Success",
    "TableError",
    "TrackingError",
    "__version__",
    "did_you_mean",
    "hookimpl",
]


#: names exported lazily, so that ``import runner`` never imports scikit-learn
_LAZY = {"MLPClassifier": "runner.engine.estimators", "MLPRegressor": "runner.engine.estimators"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'runner' has no attribute {name!r}")
