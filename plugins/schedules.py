"""Built-in learning-rate schedules: constant, invscaling, step, exponential, cosine, adaptive.

A schedule gives every member, before each epoch, the factor its step rule's learning rate is
multiplied by (:class:`runner.RateSchedule`); it never sees parameters or gradients, so it
composes with every step rule that declares a rate, a third party's included. The factors are
computed for the whole population at once, one value per member, and a member's factors depend
on its own parameters and losses only. ``epoch`` counts from 1; ``e = epoch - 1`` is the number
of epochs already trained.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from runner import Param, RateSchedule, hookimpl

Array = np.ndarray


def _ones(loss: Array) -> Array:
    return np.ones(len(loss))


class Constant(RateSchedule):
    """The learning rate as it is: factor 1."""

    name = "constant"
    constant = True

    def factor(
        self, epoch: int, epochs: int, loss: Array, state: dict[str, Array], **params: Any
    ) -> Array:
        return _ones(loss)


class InverseScaling(RateSchedule):
    """scikit-learn's invscaling, by epochs: eta_e = eta / (e + 1)^power_t."""

    name = "invscaling"
    params = (
        Param("power_t", float, 0.5, "exponent of the inverse scaling", low=0.0, per_member=True),
    )

    def factor(
        self,
        epoch: int,
        epochs: int,
        loss: Array,
        state: dict[str, Array],
        power_t: Any = 0.5,
        **params: Any,
    ) -> Array:
        return _ones(loss) / float(epoch) ** np.asarray(power_t, dtype=np.float64)


class StepDecay(RateSchedule):
    """Step decay: eta_e = eta gamma^floor(e / step_size)."""

    name = "step"
    params = (
        Param("step_size", int, 100, "epochs between two decays", low=1),
        Param(
            "gamma",
            float,
            0.5,
            "factor of each decay",
            low=0.0,
            high=1.0,
            low_open=True,
            per_member=True,
        ),
    )

    def factor(
        self,
        epoch: int,
        epochs: int,
        loss: Array,
        state: dict[str, Array],
        step_size: int = 100,
        gamma: Any = 0.5,
        **params: Any,
    ) -> Array:
        return _ones(loss) * np.asarray(gamma, dtype=np.float64) ** ((epoch - 1) // step_size)


class Exponential(RateSchedule):
    """Exponential decay: eta_e = eta gamma^e."""

    name = "exponential"
    params = (
        Param(
            "gamma",
            float,
            0.99,
            "factor of each epoch",
            low=0.0,
            high=1.0,
            low_open=True,
            per_member=True,
        ),
    )

    def factor(
        self,
        epoch: int,
        epochs: int,
        loss: Array,
        state: dict[str, Array],
        gamma: Any = 0.99,
        **params: Any,
    ) -> Array:
        return _ones(loss) * np.asarray(gamma, dtype=np.float64) ** (epoch - 1)


class Cosine(RateSchedule):
    """Cosine annealing over the run: eta_e = eta (f + (1 - f) (1 + cos(pi e / E)) / 2), from
    eta at the first epoch to ``f`` eta (``min_factor``) after the last of E epochs."""

    name = "cosine"
    params = (
        Param(
            "min_factor",
            float,
            0.0,
            "the last epochs' fraction of the rate",
            low=0.0,
            high=1.0,
            per_member=True,
        ),
    )

    def factor(
        self,
        epoch: int,
        epochs: int,
        loss: Array,
        state: dict[str, Array],
        min_factor: Any = 0.0,
        **params: Any,
    ) -> Array:
        f = np.asarray(min_factor, dtype=np.float64)
        # at most the last epoch's e / E = (E - 1) / E: the rate never reaches 0 while training
        wave = 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / max(epochs, 1)))
        return _ones(loss) * (f + (1.0 - f) * wave)


class Adaptive(RateSchedule):
    """scikit-learn's adaptive: the rate is kept while the training loss improves, and
    multiplied by ``drop`` (0.2: divided by 5) each time the loss has failed to fall below its
    best by ``threshold`` for more than ``plateau`` epochs in a row (then the count starts
    again)."""

    name = "adaptive"
    needs_loss = True
    params = (
        Param(
            "plateau",
            int,
            10,
            "epochs without improvement the rate is kept through (scikit-learn: n_iter_no_change)",
            low=1,
        ),
        Param(
            "drop",
            float,
            0.2,
            "factor of each drop",
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
            per_member=True,
        ),
        Param(
            "threshold",
            float,
            1e-4,
            "the least fall of the loss that counts",
            low=0.0,
            per_member=True,
        ),
    )

    def init_state(self, P: int) -> dict[str, Array]:
        return {
            "best": np.full(P, np.inf),
            "waited": np.zeros(P),
            "factor": np.ones(P),
        }

    def factor(
        self,
        epoch: int,
        epochs: int,
        loss: Array,
        state: dict[str, Array],
        plateau: int = 10,
        drop: Any = 0.2,
        threshold: Any = 1e-4,
        **params: Any,
    ) -> Array:
        best, waited, factor = state["best"], state["waited"], state["factor"]
        if epoch > 1:
            seen = np.isfinite(loss)
            stalled = seen & ~(loss < best - threshold)
            waited[:] = np.where(stalled, waited + 1, np.where(seen, 0, waited))
            np.minimum(best, np.where(seen, loss, np.inf), out=best)
            dropping = waited > plateau
            factor[:] = np.where(dropping, factor * drop, factor)
            waited[dropping] = 0
        return factor.copy()


@hookimpl
def register_schedules(register: Any) -> None:
    for cls in (Constant, InverseScaling, StepDecay, Exponential, Cosine, Adaptive):
        register(cls())
