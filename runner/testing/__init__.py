"""The conformance kit: checks plugin authors call in their own tests, and ``runner check`` runs.

Every check raises :class:`AssertionError` with a message that names the plugin, the check that
failed, what was expected and what came out (for derivatives, the largest relative error against
central finite differences). The kit needs no test framework; call it from pytest, unittest or a
plain script::

    from runner.testing import check_plugin

    def test_my_activation():
        check_plugin(MyActivation())

    def test_my_activation_with_params():
        check_plugin(MyActivation(), {"steepness": 3.0})

``check_plugin`` checks each declared parameter at several values across its declared range (its
bounds, its default and values between; :func:`explored_values`), one parameter at a time, the
others at their defaults or at the values passed; a failure names the parameter values it failed
with. The ``check_*`` functions of each kind check one set of values, the one passed.

Derivatives are compared in float64 with fourth-order central differences,
``(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h`` with ``h = 1e-3``, at points drawn from a
fixed seed away from zero (``|z| >= 0.05``), so that activations with a kink at zero pass; an
activation with a kink elsewhere may need another ``seed``. The relative error of an element is
``|got - expected| / max(|got|, |expected|, 1e-3 * largest magnitude)``: elements far below the
scale of the array (of the member, for whole networks) are judged against that scale, so that
rounding in the difference quotient does not count as an error.

The kit names no concrete plugin: it calls only the methods that :mod:`runner.plugin.kinds`
defines. May import :mod:`runner.engine` and :mod:`runner.plugin` (``docs/architecture.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.plugin.params import Plugin
from runner.testing._assertions import deadline, missing_required, plugin_label
from runner.testing._explore import describe_setting, explored_values, parameter_settings
from runner.testing._numeric import RTOL, relative_error, sample_outputs, sample_targets, sample_z
from runner.testing.activations import check_activation
from runner.testing.costs import check_cost
from runner.testing.datasets import check_dataset
from runner.testing.initializers import check_initializer
from runner.testing.network import check_network_gradients
from runner.testing.objectives import check_objective
from runner.testing.optimizers import check_step_rule, check_strategy
from runner.testing.schedules import check_schedule

__all__ = [
    "CHECK_SECONDS",
    "RTOL",
    "check_activation",
    "check_cost",
    "check_dataset",
    "check_initializer",
    "check_network_gradients",
    "check_objective",
    "check_plugin",
    "check_schedule",
    "check_step_rule",
    "check_strategy",
    "explored_values",
    "parameter_settings",
    "relative_error",
    "sample_outputs",
    "sample_targets",
    "sample_z",
]


#: the seconds the check of one parameter setting may take before it fails as timed out
CHECK_SECONDS = 60.0


def check_plugin(
    obj: Plugin, params: Mapping[str, Any] | None = None, *, timeout: float | None = CHECK_SECONDS
) -> str | None:
    """Run the check for ``obj.kind`` on ``obj`` at every one of its
    :func:`parameter_settings`; return None, or why it was skipped.

    The check of each setting fails as ``timed out after N s`` once it has taken ``timeout``
    seconds (None: no limit; the limit needs the main thread: :func:`._assertions.deadline`).

    ``params`` pins parameters (they are not explored). A data set source with required
    parameters (a file path) is skipped unless ``params`` gives them: the reason is returned
    rather than raised. Every failed check raises AssertionError, its message naming the
    parameter values it failed with after the plugin (``activation 'swish' with beta=2.0: ...``).
    A step rule's descent on a quadratic is checked at the first setting only (the defaults, or
    ``params``): far from its defaults a step rule may rightly climb.
    """
    kind = getattr(obj, "kind", None)
    if kind not in _CHECKS:
        raise ValueError(f"{obj!r} is of no kind the kit checks (kind {kind!r})")
    if kind == "dataset":
        missing = missing_required(obj, params or {})
        if missing:
            return f"skipped: needs the parameters {', '.join(missing)}"
    for i, given in enumerate(parameter_settings(obj, params)):
        extra = {"descent": i == 0} if kind == "step_rule" else {}
        try:
            with deadline(obj, timeout):
                _CHECKS[kind](obj, given, **extra)
        except AssertionError as exc:
            label, message = plugin_label(obj), str(exc)
            if obj.params and message.startswith(label):
                shown = f"{label} with {describe_setting(obj, given)}"
                exc.args = (shown + message[len(label) :],)
            raise
    return None


_CHECKS: dict[str, Any] = {
    "activation": check_activation,
    "cost": check_cost,
    "step_rule": check_step_rule,
    "strategy": check_strategy,
    "schedule": check_schedule,
    "initializer": check_initializer,
    "dataset": check_dataset,
    "objective": check_objective,
}
