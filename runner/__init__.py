"""runner: a plugin-based experiment runner for multi-layer perceptrons trained by backpropagation.

The public API: the hook marker for plugins, the plugin base classes, and helpers to build and
train networks from installed plugins.
"""

from __future__ import annotations

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
