"""Built-in weight initializers: normal (the notes' randn), xavier, he and uniform."""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Initializer, Param, hookimpl

Array = np.ndarray


class Normal(Initializer):
    """W and b drawn from N(0, scale^2): the notes' ``np.random.randn`` when scale is 1."""

    name = "normal"
    params = (Param("scale", float, 1.0, "standard deviation", low=0.0, low_open=True),)

    def initialize(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float = 1.0, **params: Any
    ) -> tuple[Array, Array]:
        W = scale * rng.standard_normal((fan_out, fan_in))
        b = scale * rng.standard_normal((fan_out, 1))
        return W, b


class Xavier(Initializer):
    """Glorot uniform: W ~ U(-l, l) with l = sqrt(6 / (fan_in + fan_out)); b = 0."""

    name = "xavier"

    def initialize(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, **params: Any
    ) -> tuple[Array, Array]:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_out, fan_in)), np.zeros((fan_out, 1))


class He(Initializer):
    """He normal, for rectifiers: W ~ N(0, 2 / fan_in); b = 0."""

    name = "he"

    def initialize(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, **params: Any
    ) -> tuple[Array, Array]:
        W = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
        return W, np.zeros((fan_out, 1))


class Uniform(Initializer):
    """W and b drawn from U(-scale, scale)."""

    name = "uniform"
    params = (Param("scale", float, 1.0, "half-width of the interval", low=0.0, low_open=True),)

    def initialize(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float = 1.0, **params: Any
    ) -> tuple[Array, Array]:
        return rng.uniform(-scale, scale, (fan_out, fan_in)), rng.uniform(
            -scale, scale, (fan_out, 1)
        )


@hookimpl
def register_initializers(register: Any) -> None:
    for cls in (Normal, Xavier, He, Uniform):
        register(cls())
