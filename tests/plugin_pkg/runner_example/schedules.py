"""The learning-rate schedule warmup.

A schedule gives each member a factor its step rule's learning rate is multiplied by before
each epoch; it never sees the step rule, so warmup composes with every step rule that declares
a rate (``StepRule.rate``), runner's and a third party's alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Param, RateSchedule

Array = np.ndarray


class Warmup(RateSchedule):
    """Linear warmup: the rate grows from eta / w to eta over the first w epochs, then stays."""

    name = "warmup"
    params = (Param("warmup", int, 10, "epochs the rate takes to reach its full value", low=1),)

    def factor(
        self,
        epoch: int,
        epochs: int,
        loss: Array,
        state: dict[str, Array],
        warmup: int = 10,
        **params: Any,
    ) -> Array:
        return np.full(len(loss), min(1.0, epoch / warmup))
