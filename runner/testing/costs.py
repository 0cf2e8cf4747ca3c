"""The conformance check of costs: value and derivative, and dc/dz through output activations.

Imports :mod:`runner.plugin`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from runner.plugin.kinds import Activation, Cost, canonical_delta
from runner.testing._assertions import (
    assert_array,
    assert_close,
    assert_equal,
    assert_finite,
    call,
    fail,
    resolve_params,
)
from runner.testing._numeric import (
    RTOL,
    SHAPE,
    sample_outputs,
    sample_targets,
    sample_z,
    sided_differences,
)


def _output_activations(
    cost: Cost, activations: Iterable[Any] | None
) -> list[tuple[Activation, dict[str, Any]]]:
    """The (activation, parameters) pairs to check ``cost`` with: given, or every registered one."""
    if activations is None:
        from runner.plugin.registry import get_registry

        candidates: list[Any] = list(get_registry().activations.values())
    else:
        candidates = list(activations)
    pairs = []
    for item in candidates:
        act, act_params = item if isinstance(item, tuple) else (item, None)
        reason = call(cost, f"accepts({act.name!r})", cost.accepts, act)
        if reason is not None and not isinstance(reason, str):
            fail(
                cost,
                f"accepts({act.name!r})",
                f"expected None or a reason (str), got {type(reason).__name__}",
            )
        if reason is None:
            pairs.append((act, act.resolve(act_params or {})))
    return pairs


def check_cost(
    cost: Cost,
    params: Mapping[str, Any] | None = None,
    activations: Iterable[Activation | tuple[Activation, Mapping[str, Any]]] | None = None,
    *,
    seed: int = 0,
    rtol: float = RTOL,
) -> None:
    """Check a cost against the contract of :class:`runner.Cost`.

    Outputs ``a`` are drawn inside ``input_range`` and targets ``y`` valid for the cost (see
    :func:`sample_targets`). Checks that:

    - ``value`` has shape ``(P,)``, is finite, and keeps float32 as float32; ``derivative`` has
      the shape and dtype of ``a``; each member's slice of both is bitwise what it gets alone;
    - ``derivative`` (per sample) matches ``S`` times the central differences of ``value`` (or,
      where a kink of the cost lies within the stencil, the one-sided differences beside it)
      (which is a mean over the ``S`` samples) with respect to ``a``;
    - for every output activation the cost ``accepts`` (``activations``: objects or
      ``(activation, params)`` pairs; by default every registered activation), the output-layer
      dc/dz through the activation matches ``S`` times the central differences of
      ``value(forward(z))``: the exact delta ``s (a - y)`` where the cost and the activation
      declare the same canonical ``link`` (and then it must also equal the chain rule
      ``backward(z, a, derivative(a, y))``), otherwise the chain rule.
    """
    kw = resolve_params(cost, params)
    rng = np.random.default_rng(seed)
    P, N, S = SHAPE

    for dtype in (np.float64, np.float32):
        a = sample_outputs(cost, rng, SHAPE, dtype)
        y = sample_targets(cost, rng, SHAPE, dtype)
        check = f"value ({np.dtype(dtype)})"
        v = call(cost, check, cost.value, a, y, **kw)
        assert_array(cost, check, v, (P,), dtype)
        assert_finite(cost, check, v)
        check = f"derivative ({np.dtype(dtype)})"
        d = call(cost, check, cost.derivative, a, y, **kw)
        assert_array(cost, check, d, SHAPE, dtype)
        assert_finite(cost, check, d)

    a = sample_outputs(cost, rng)
    y = sample_targets(cost, rng)
    v = cost.value(a, y, **kw)
    d = cost.derivative(a, y, **kw)
    for p in range(P):
        one = slice(p, p + 1)
        check = f"population broadcasting (member {p} alone)"
        assert_equal(
            cost, f"{check}: value", call(cost, check, cost.value, a[one], y[one], **kw), v[one]
        )
        assert_equal(
            cost,
            f"{check}: derivative",
            call(cost, check, cost.derivative, a[one], y[one], **kw),
            d[one],
        )

    fd, *sides = (S * x for x in sided_differences(lambda x: cost.value(x, y, **kw), a))
    assert_close(
        cost,
        "derivative(a, y) (per sample) vs S x central differences of value (a mean over samples)",
        d,
        fd,
        rtol,
        alternatives=tuple(sides),
    )

    for act, act_params in _output_activations(cost, activations):
        where = f"through output activation {act.name!r}"
        z = sample_z(rng)
        a = call(cost, f"{where}: forward", act.forward, z, **act_params)
        y = sample_targets(cost, rng)
        fd, *sides = (
            S * x
            for x in sided_differences(
                lambda x: cost.value(act.forward(x, **act_params), y, **kw),  # noqa: B023
                z,
            )
        )
        grad_a = cost.derivative(a, y, **kw)
        chain = call(cost, f"{where}: backward", act.backward, z, a, grad_a, **act_params)
        delta = call(cost, f"exact delta {where}", canonical_delta, cost, act, act_params, a, y)
        if delta is None:
            assert_close(
                cost,
                f"chain rule backward(z, a, derivative(a, y)) {where} vs S x central differences "
                "of value(forward(z))",
                chain,
                fd,
                rtol,
                alternatives=tuple(sides),
            )
            continue
        where = f"{where} (canonical link {cost.link!r})"
        assert_array(cost, f"exact delta {where}", delta, SHAPE, None)
        assert_close(
            cost,
            f"exact delta s (a - y) {where} vs S x central differences of value(forward(z))",
            delta,
            fd,
            rtol,
            got_name="delta",
            alternatives=tuple(sides),
        )
        assert_close(
            cost,
            f"exact delta s (a - y) {where} vs the chain rule backward(z, a, derivative(a, y))",
            delta,
            chain,
            rtol,
            got_name="delta",
            expected_name="chain rule",
        )
