"""Built-in optimizers: the step rules gd, momentum and nesterov, and the strategy restarts.

A step rule moves the parameters from their gradients; a strategy decides which initial points
to train and which result to keep. They compose freely: restarts never looks at gradients, so it
works with any step rule, a third party's included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Param, StepRule, Strategy, hookimpl

Array = np.ndarray

LEARNING_RATE = Param(
    "learning_rate",
    float,
    0.1,
    "step size eta",
    low=0.0,
    low_open=True,
    per_member=True,
    short="lr",
)
MOMENTUM = Param(
    "momentum",
    float,
    0.9,
    "fraction alpha of the previous update carried into the next",
    low=0.0,
    high=1.0,
    high_open=True,
    per_member=True,
    short="m",
)


class GradientDescent(StepRule):
    """Plain gradient descent: w <- w - eta dC/dw."""

    name = "gd"
    params = (LEARNING_RATE,)
    elementwise = True

    def step(
        self,
        params: list[Array],
        grads: list[Array],
        state: dict[str, list[Array]],
        learning_rate: Any = 0.1,
        **hyper: Any,
    ) -> None:
        for p, g in zip(params, grads, strict=True):
            p -= learning_rate * g


class Momentum(StepRule):
    """Momentum: dw_t = -eta dC/dw + alpha dw_{t-1}; w <- w + dw_t."""

    name = "momentum"
    params = (LEARNING_RATE, MOMENTUM)
    elementwise = True

    def init_state(self, params: list[Array]) -> dict[str, list[Array]]:
        return {"update": [np.zeros_like(p) for p in params]}

    def step(
        self,
        params: list[Array],
        grads: list[Array],
        state: dict[str, list[Array]],
        learning_rate: Any = 0.1,
        momentum: Any = 0.9,
        **hyper: Any,
    ) -> None:
        for p, g, dw in zip(params, grads, state["update"], strict=True):
            dw *= momentum
            dw -= learning_rate * g
            p += dw


class Nesterov(StepRule):
    """Nesterov momentum, in the look-ahead form: v <- mu v - eta g; w <- w + mu v - eta g."""

    name = "nesterov"
    params = (LEARNING_RATE, MOMENTUM)
    elementwise = True

    def init_state(self, params: list[Array]) -> dict[str, list[Array]]:
        return {"velocity": [np.zeros_like(p) for p in params]}

    def step(
        self,
        params: list[Array],
        grads: list[Array],
        state: dict[str, list[Array]],
        learning_rate: Any = 0.1,
        momentum: Any = 0.9,
        **hyper: Any,
    ) -> None:
        for p, g, v in zip(params, grads, state["velocity"], strict=True):
            step = learning_rate * g
            v *= momentum
            v -= step
            p += momentum * v
            p -= step


class Restarts(Strategy):
    """Random restarts: train k initial points, keep the one with the lowest final training loss."""

    name = "restarts"
    params = (
        Param(
            "restarts",
            int,
            1,
            "number of initial points trained per configuration",
            low=1,
            short="restarts",
        ),
    )

    def members(self, restarts: int = 1, **params: Any) -> int:
        return int(restarts)

    def select(self, final_losses: Array, **params: Any) -> int:
        losses = np.where(np.isfinite(final_losses), final_losses, np.inf)
        return int(np.argmin(losses))


@hookimpl
def register_optimizers(register: Any) -> None:
    for cls in (GradientDescent, Momentum, Nesterov, Restarts):
        register(cls())
