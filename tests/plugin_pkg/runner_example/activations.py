"""The swish activation, g(z) = z sigmoid(beta z) (Ramachandran et al., 2017)."""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Activation, Param

Array = np.ndarray


def _sigmoid(x: Array) -> Array:
    # 1 / (1 + e^{-x}) = (1 + tanh(x / 2)) / 2, which never overflows
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class Swish(Activation):
    """Swish, g(z) = z sigmoid(beta z): smooth, non-monotonic, unbounded above."""

    name = "swish"
    # the minimum of z sigmoid(beta z) is about -0.2785 / beta; (-inf, inf) is a safe superset
    params = (Param("beta", float, 1.0, "steepness of the gate", low=0.0, low_open=True),)

    def forward(self, z: Array, beta: float = 1.0, **params: Any) -> Array:
        return z * _sigmoid(beta * z)

    def derivative(self, z: Array, a: Array, beta: float = 1.0, **params: Any) -> Array:
        # g' = s + beta z s (1 - s) with s = sigmoid(beta z); as a = z s, that is s + beta a (1 - s)
        s = _sigmoid(beta * z)
        return s + beta * a * (1.0 - s)
