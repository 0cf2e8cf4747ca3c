"""The hooks a plugin may implement: one docstring-only function per hook, and the markers.

Each registration hook takes a ``register`` callback; call it once per plugin object. A plugin
module implements any of them with ``@runner.hookimpl`` and is found through the entry-point group
``runner`` (``docs/plugins.md`` documents every hook with an example). Imports nothing of
runner's.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("runner")
hookimpl = pluggy.HookimplMarker("runner")


@hookspec
def register_activations(register: Any) -> None:
    """Register activation functions: ``register(MyActivation())``, a :class:`runner.Activation`."""


@hookspec
def register_costs(register: Any) -> None:
    """Register costs: ``register(MyCost())``, a :class:`runner.Cost`."""


@hookspec
def register_optimizers(register: Any) -> None:
    """Register step rules (:class:`runner.StepRule`) and strategies (:class:`runner.Strategy`)."""


@hookspec
def register_schedules(register: Any) -> None:
    """Register learning-rate schedules: ``register(MySchedule())``, a ``runner.RateSchedule``."""


@hookspec
def register_initializers(register: Any) -> None:
    """Register weight initializers: ``register(MyInit())``, a :class:`runner.Initializer`."""


@hookspec
def register_datasets(register: Any) -> None:
    """Register data sets: ``register(MyData())``, a :class:`runner.DatasetSource` (its
    optional ``success(**params)`` says what counts as a run's success on it: a
    :class:`runner.Success`, such as a test accuracy to reach)."""


@hookspec
def register_objectives(register: Any) -> None:
    """Register analytic objectives to minimize: ``register(MyFunction())``, a
    :class:`runner.Objective`."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``runner`` command line: ``cli`` is a click group whose commands
    join the top-level ``runner`` group when the hook returns (a name a built-in command or
    another distribution's has is refused, and the distribution left out)."""
