"""The step rule amsgrad and the strategy best_of_last.

AMSGrad (Reddi, Kale and Kumar, 2018: Adam that steps by the largest running mean of squared
gradients seen so far; runner's own adam is a built-in) shows a step rule with hyperparameters
the core has never heard of (``beta1``, ``beta2``, ``epsilon``): declaring them is all it takes
for a sweep table to get those columns. Its state holds arrays with the population axis first,
so the core can drop finished members from it; every operation is elementwise, so a member's
update is bitwise the same alone or in any population.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Param, StepRule, Strategy

Array = np.ndarray


class AMSGrad(StepRule):
    """AMSGrad: Adam's step, divided by the largest bias-corrected mean square seen so far."""

    name = "amsgrad"
    params = (
        Param(
            "learning_rate",
            float,
            0.001,
            "step size alpha",
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
        Param(
            "epsilon", float, 1e-8, "added to the denominator for stability", low=0.0, low_open=True
        ),
    )

    def init_state(self, params: list[Array]) -> dict[str, list[Array]]:
        population = params[0].shape[0]
        return {
            "m": [np.zeros_like(p) for p in params],
            "v": [np.zeros_like(p) for p in params],
            "v_max": [np.zeros_like(p) for p in params],
            # one step count per member, shape (P, 1, 1), so it broadcasts and can be compacted
            "t": [np.zeros((population, 1, 1), dtype=params[0].dtype)],
        }

    def step(
        self,
        params: list[Array],
        grads: list[Array],
        state: dict[str, list[Array]],
        learning_rate: Any = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        **hyper: Any,
    ) -> None:
        t = state["t"][0]
        t += 1.0
        correction1 = 1.0 - beta1**t
        correction2 = 1.0 - beta2**t
        moments = zip(params, grads, state["m"], state["v"], state["v_max"], strict=True)
        for p, g, m, v, v_max in moments:
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * (g * g)
            np.maximum(v_max, v, out=v_max)
            p -= learning_rate * (m / correction1) / (np.sqrt(v_max / correction2) + epsilon)


class BestOfLast(Strategy):
    """Train several initial points and keep the lowest final loss; a tie goes to the last one."""

    name = "best_of_last"
    params = (Param("tries", int, 3, "number of initial points trained per configuration", low=1),)

    def members(self, tries: int = 3, **params: Any) -> int:
        return int(tries)

    def select(self, final_losses: Array, **params: Any) -> int:
        losses = np.where(np.isfinite(final_losses), final_losses, np.inf)  # diverged: worst
        last_first = losses[::-1]
        return int(len(losses) - 1 - np.argmin(last_first))
