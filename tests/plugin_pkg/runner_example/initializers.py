"""The LeCun normal initializer: W ~ N(0, gain^2 / fan_in), b = 0."""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Initializer, Param

Array = np.ndarray


class LeCun(Initializer):
    """LeCun normal: W ~ N(0, gain^2 / fan_in) keeps the variance of z near gain^2; b = 0."""

    name = "lecun"
    params = (
        Param("gain", float, 1.0, "multiplies the standard deviation", low=0.0, low_open=True),
    )

    def initialize(
        self,
        rng: np.random.Generator,
        fan_in: int,
        fan_out: int,
        gain: float = 1.0,
        **params: Any,
    ) -> tuple[Array, Array]:
        W = rng.standard_normal((fan_out, fan_in)) * (gain / np.sqrt(fan_in))
        return W, np.zeros((fan_out, 1))
