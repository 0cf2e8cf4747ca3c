"""runner_example: one example plugin of every kind, registered through runner's hooks.

The entry point ``example = "runner_example"`` in the group ``runner`` names this module; the plugin
manager registers it and calls each ``@hookimpl`` function below with a ``register`` callback (or,
for ``register_commands``, with the ``runner`` click group).
"""

from __future__ import annotations

from typing import Any

from runner import hookimpl
from runner_example.activations import Swish
from runner_example.commands import hello
from runner_example.costs import Huber
from runner_example.datasets import Checkerboard
from runner_example.initializers import LeCun
from runner_example.objectives import GoldsteinPrice
from runner_example.optimizers import AMSGrad, BestOfLast
from runner_example.schedules import Warmup

__version__ = "0.2.0"

__all__ = [
    "AMSGrad",
    "BestOfLast",
    "Checkerboard",
    "GoldsteinPrice",
    "Huber",
    "LeCun",
    "Swish",
    "Warmup",
    "__version__",
]


@hookimpl
def register_activations(register: Any) -> None:
    register(Swish())


@hookimpl
def register_costs(register: Any) -> None:
    register(Huber())


@hookimpl
def register_optimizers(register: Any) -> None:
    register(AMSGrad())
    register(BestOfLast())


@hookimpl
def register_schedules(register: Any) -> None:
    register(Warmup())


@hookimpl
def register_initializers(register: Any) -> None:
    register(LeCun())


@hookimpl
def register_datasets(register: Any) -> None:
    register(Checkerboard())


@hookimpl
def register_objectives(register: Any) -> None:
    register(GoldsteinPrice())


@hookimpl
def register_commands(cli: Any) -> None:
    cli.add_command(hello)
