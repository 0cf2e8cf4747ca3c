"""The Huber cost: squared error near the target, absolute error far from it."""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Cost, Param

Array = np.ndarray


class Huber(Cost):
    """Huber loss: 1/2 d^2 where |d| <= delta, delta (|d| - delta / 2) beyond, with d = a - y."""

    name = "huber"
    params = (
        Param(
            "delta",
            float,
            1.0,
            "where the cost turns from quadratic to linear",
            low=0.0,
            low_open=True,
        ),
    )

    def value(self, a: Array, y: Array, delta: float = 1.0, **params: Any) -> Array:
        d = np.abs(a - y)
        c = np.where(d <= delta, 0.5 * d * d, delta * (d - 0.5 * delta))
        return c.sum(axis=-2).mean(axis=-1)  # summed over output units, mean over samples: (P,)

    def derivative(self, a: Array, y: Array, delta: float = 1.0, **params: Any) -> Array:
        return np.clip(a - y, -delta, delta)  # per sample, (P, N, S)
