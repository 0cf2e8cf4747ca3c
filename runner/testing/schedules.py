"""The conformance checks of learning-rate schedules: shapes, signs, state, and members apart.

Imports :mod:`runner.plugin`.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from runner.plugin.kinds import RateSchedule
from runner.testing._assertions import assert_equal, call, fail, resolve_params
from runner.testing._numeric import SHAPE, Array

#: the epochs the checks run a schedule through
_EPOCHS = 40


def _member_values(value: Any, P: int, param: Any) -> Array:
    """``P`` valid values of a per-member parameter around ``value``, shape ``(P,)``."""
    out = []
    for factor in np.linspace(0.5, 1.0, P):
        try:
            out.append(float(param.coerce(value * factor)))
        except (TypeError, ValueError):
            out.append(float(value))
    return np.asarray(out, dtype=np.float64)


def _losses(P: int, rng: np.random.Generator) -> Array:
    """Per-member training losses over the epochs: falling, then flat, with noise; ``(E, P)``."""
    e = np.arange(_EPOCHS)[:, None]
    fall = np.maximum(1.0 - e / (10.0 + 5.0 * np.arange(P)), 0.1)
    return fall + 1e-3 * rng.standard_normal((_EPOCHS, P))


def _run(
    schedule: RateSchedule, hyper: dict[str, Any], losses: Array, check: str
) -> tuple[Array, dict[str, Array]]:
    """The factors of every epoch, ``(E, P)``, and the state at the end."""
    P = losses.shape[1]
    state = call(schedule, f"{check}: init_state", schedule.init_state, P)
    if not isinstance(state, dict):
        fail(schedule, f"{check}: init_state", f"must return a dict, got {type(state).__name__}")
    factors = []
    for epoch in range(1, _EPOCHS + 1):
        loss = np.full(P, np.nan) if epoch == 1 else losses[epoch - 2].copy()
        label = f"{check}: factor at epoch {epoch}"
        got = call(schedule, label, schedule.factor, epoch, _EPOCHS, loss, state, **hyper)
        got = np.asarray(got)
        if got.shape != (P,):
            fail(schedule, label, f"expected one factor per member, shape ({P},), got {got.shape}")
        if not (np.isfinite(got).all() and (got > 0).all()):
            fail(schedule, label, f"expected finite factors > 0, got {got.tolist()}")
        for key, s in state.items():
            if not isinstance(s, np.ndarray) or s.ndim < 1 or s.shape[0] != P:
                shape = getattr(s, "shape", type(s).__name__)
                fail(
                    schedule,
                    label,
                    f"state[{key!r}] must have the population axis first: expected shape "
                    f"({P}, ...), got {shape}",
                )
        factors.append(got.astype(np.float64))
    return np.stack(factors), state


def check_schedule(
    schedule: RateSchedule, params: Mapping[str, Any] | None = None, *, seed: int = 0
) -> None:
    """Check a learning-rate schedule against the contract of :class:`runner.RateSchedule`.

    Over 40 epochs of falling, then flat losses, ``factor`` returns one finite factor > 0 per
    member, shape ``(P,)``; ``init_state`` returns a dict of arrays with the population axis
    first; with every ``per_member`` parameter given as different values, each member's factors
    are bitwise what running that member alone gives (and a schedule that does not declare
    ``needs_loss`` gives the same factors whatever the losses); a schedule that declares itself
    ``constant`` gives 1 at every epoch.
    """
    shared = resolve_params(schedule, params)
    P = SHAPE[0]
    per_member = {
        p.name: _member_values(shared[p.name], P, p)
        for p in schedule.params
        if p.per_member and isinstance(shared.get(p.name), numbers.Real)
    }
    hyper = shared | per_member
    rng = np.random.default_rng(seed)
    losses = _losses(P, rng)
    together, _ = _run(schedule, hyper, losses, f"population of {P}")
    for p in range(P):
        alone_hyper = shared | {k: v[p : p + 1] for k, v in per_member.items()}
        alone, _ = _run(schedule, alone_hyper, losses[:, p : p + 1], f"member {p} alone")
        assert_equal(
            schedule,
            f"per-member parameters: member {p} alone vs in the population, factors",
            alone[:, 0],
            together[:, p],
        )
    if not schedule.needs_loss:
        other, _ = _run(schedule, hyper, losses[::-1].copy(), "other losses")
        assert_equal(
            schedule,
            "a schedule without needs_loss gives factors that ignore the loss",
            other,
            together,
        )
    if schedule.constant and not (together == 1.0).all():
        fail(schedule, "declared constant", "expected the factor 1 at every epoch")
