"""Built-in optimizers: the step rules gd, momentum, nesterov and adam, and the strategy restarts.

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
    implied_params = {"momentum": 0.0}  # momentum's update at momentum 0
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


class Adam(StepRule):
    """Adam (Kingma and Ba, 2015) with decoupled weight decay (AdamW, Loshchilov and Hutter):

    m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;
    w <- w - eta (m_hat / (sqrt(v_hat) + eps) + lambda w),
    with the bias-corrected m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t) at step t.
    The decay lambda (``weight_decay``) acts on every parameter, biases included, apart from the
    gradient (the core's ``alpha`` is the L2 penalty that enters the cost instead). The step count
    is one 0-d array the whole population shares: every member takes every step.
    """

    name = "adam"
    params = (
        Param(
            "learning_rate",
            float,
            0.001,
            "step size eta",
            low=0.0,
            low_open=True,
            per_member=True,
            short="lr",
        ),
        Param(
            "beta1",
            float,
            0.9,
            "decay of the running mean of gradients",
            low=0.0,
            high=1.0,
            high_open=True,
        ),
        Param(
            "beta2",
            float,
            0.999,
            "decay of the running mean of squared gradients",
            low=0.0,
            high=1.0,
            high_open=True,
        ),
        Param("eps", float, 1e-8, "added to the denominator for stability", low=0.0, low_open=True),
        Param(
            "weight_decay",
            float,
            0.0,
            "decoupled weight decay lambda (AdamW), times the learning rate",
            low=0.0,
            per_member=True,
        ),
    )
    elementwise = True

    def init_state(self, params: list[Array]) -> dict[str, list[Array]]:
        return {
            "m": [np.zeros_like(p) for p in params],
            "v": [np.zeros_like(p) for p in params],
            "t": [np.zeros((), dtype=np.float64)],
        }

    def step(
        self,
        params: list[Array],
        grads: list[Array],
        state: dict[str, list[Array]],
        learning_rate: Any = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: Any = 0.0,
        **hyper: Any,
    ) -> None:
        t = state["t"][0]
        t += 1.0
        correction1 = 1.0 - beta1 ** float(t)
        correction2 = 1.0 - beta2 ** float(t)
        decays = np.ndim(weight_decay) > 0 or weight_decay != 0.0
        for p, g, m, v in zip(params, grads, state["m"], state["v"], strict=True):
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * (g * g)
            denominator = np.sqrt(v / correction2)
            denominator += eps
            update = m / denominator
            update *= learning_rate / correction1
            if decays:
                update += (learning_rate * weight_decay) * p
            p -= update


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
    for cls in (GradientDescent, Momentum, Nesterov, Adam, Restarts):
        register(cls())
