"""The conformance check of initializers: shapes, finite values, determinism from ``rng`` alone.

Imports :mod:`runner.plugin`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from runner.plugin.kinds import Initializer
from runner.testing._assertions import (
    assert_array,
    assert_equal,
    assert_finite,
    call,
    fail,
    resolve_params,
)
from runner.testing._numeric import Array


def check_initializer(
    initializer: Initializer, params: Mapping[str, Any] | None = None, *, seed: int = 0
) -> None:
    """Check an initializer against the contract of :class:`runner.Initializer`.

    ``initialize(rng, fan_in, fan_out)`` returns float arrays of shapes ``(fan_out, fan_in)`` and
    ``(fan_out, 1)``, all finite; equal seeds give bitwise equal weights whatever the state of
    numpy's global generator (draw only from ``rng``); different seeds give different weights.
    """
    kw = resolve_params(initializer, params)

    def draw(s: int, fan_in: int, fan_out: int, check: str) -> tuple[Array, Array]:
        out = call(
            initializer,
            check,
            initializer.initialize,
            np.random.default_rng(s),
            fan_in,
            fan_out,
            **kw,
        )
        if not isinstance(out, tuple) or len(out) != 2:
            fail(initializer, check, f"expected a tuple (W, b), got {type(out).__name__}")
        return out

    for fan_in, fan_out in ((1, 1), (2, 3), (5, 2), (16, 8)):
        check = f"initialize(rng, fan_in={fan_in}, fan_out={fan_out})"
        W, b = draw(seed, fan_in, fan_out, check)
        for name, x, shape in (("W", W, (fan_out, fan_in)), ("b", b, (fan_out, 1))):
            assert_array(initializer, f"{check}: {name}", x, shape, None)
            if not np.issubdtype(x.dtype, np.floating):
                fail(initializer, f"{check}: {name}", f"expected a float dtype, got {x.dtype}")
            assert_finite(initializer, f"{check}: {name}", x)

    # a plugin that draws from numpy's global generator instead of rng fails determinism
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(1)  # noqa: NPY002
        W1, b1 = draw(seed, 16, 8, "determinism")
        np.random.seed(2)  # noqa: NPY002
        W2, b2 = draw(seed, 16, 8, "determinism")
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    assert_equal(initializer, f"determinism: W for equal seeds {seed}", W2, W1)
    assert_equal(initializer, f"determinism: b for equal seeds {seed}", b2, b1)
    W3, b3 = draw(seed + 1, 16, 8, "different seeds")
    if np.array_equal(W3, W1) and np.array_equal(b3, b1):
        fail(
            initializer,
            "different seeds",
            f"seeds {seed} and {seed + 1} gave the same weights; draw them from rng",
        )
