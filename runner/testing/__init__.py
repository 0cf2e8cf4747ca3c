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
from runner.testing._assertions import missing_required
from runner.testing._numeric import RTOL, relative_error, sample_outputs, sample_targets, sample_z
from runner.testing.activations import check_activation
from runner.testing.costs import check_cost
from runner.testing.datasets import check_dataset
from runner.testing.initializers import check_initializer
from runner.testing.network import check_network_gradients
from runner.testing.optimizers import check_step_rule, check_strategy

__all__ = [
    "RTOL",
    "check_activation",
    "check_cost",
    "check_dataset",
    "check_initializer",
    "check_network_gradients",
    "check_plugin",
    "check_step_rule",
    "check_strategy",
    "relative_error",
    "sample_outputs",
    "sample_targets",
    "sample_z",
]


def check_plugin(obj: Plugin, params: Mapping[str, Any] | None = None) -> str | None:
    """Run the check for ``obj.kind`` on ``obj``; return None, or why it was skipped.

    A data set source with required parameters (a file path) is skipped unless ``params`` gives
    them: the reason is returned rather than raised. Every failed check raises AssertionError.
    """
    kind = getattr(obj, "kind", None)
    if kind == "activation":
        check_activation(obj, params)  # type: ignore[arg-type]
    elif kind == "cost":
        check_cost(obj, params)  # type: ignore[arg-type]
    elif kind == "step_rule":
        check_step_rule(obj, params)  # type: ignore[arg-type]
    elif kind == "strategy":
        check_strategy(obj, params)  # type: ignore[arg-type]
    elif kind == "initializer":
        check_initializer(obj, params)  # type: ignore[arg-type]
    elif kind == "dataset":
        missing = missing_required(obj, params or {})
        if missing:
            return f"skipped: needs the parameters {', '.join(missing)}"
        check_dataset(obj, params)  # type: ignore[arg-type]
    else:
        raise ValueError(f"{obj!r} is of no kind the kit checks (kind {kind!r})")
    return None
