"""Descent on an analytic objective: a population of points moved by a step rule, iteration by
iteration, with the stop rules, the metric history, the trajectories and the end point's class.

The notes' gradient descent on f(x, y), before any network: ``x`` holds one point per member,
shape ``(P, n)``. Each iteration computes f and its gradient at every live point, records them
(every ``every`` iterations, and at a member's last), stops the members that are done, and lets
the step rule move the rest: ``params`` is ``[x]`` as one array of shape ``(P, n, 1)``, its
per-member hyperparameters arrays of shape ``(P, 1, 1)`` (see :class:`runner.Objective`). A
member stops when its gradient norm falls to ``gradient_tolerance`` or its value to
``target`` (converged), when its value or point leaves a finite, sane range (diverged), or when
the iterations run out. A stopped member's row is held where it stopped (the step rule's update
of it is undone), so a member's path is bitwise the same alone or in any population.

Step = iteration: step s holds the values at the point after s steps, step 0 the start.
:func:`classify_end` is the second-derivative test at the end points, through the objective's
Hessian where it has one and central differences of its gradient where not
(:mod:`runner.engine.curvature`'s steps and classes), :func:`determinant_verdict` the notes'
two-variable form of it (r, s, t and rt - s^2); :func:`reached` says which known minimum
an end point sits at. Numbers only; imports the rest of :mod:`runner.engine` and
:mod:`runner.plugin`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runner.engine.curvature import STEP, CriticalPoint, classify, zero_tolerance
from runner.engine.training import MAX_POINTS, RateControl
from runner.plugin.kinds import Minimum, Objective, StepRule

Array = np.ndarray

#: a value of larger magnitude is divergence
VALUE_BOUND = 1e30
#: a coordinate of larger magnitude is divergence
POINT_BOUND = 1e15
#: an end point within this fraction of the box's diagonal of a known minimum has reached it
REACH = 1e-3


@dataclass(frozen=True)
class DescentSchedule:
    """How long to descend, when to stop, how often to record."""

    iterations: int = 1000
    gradient_tolerance: float | None = None
    target: float | None = None
    log_every: int = 0  # 0: at most ``max_points`` recorded steps
    max_points: int = MAX_POINTS

    def every(self) -> int:
        if self.log_every > 0:
            return self.log_every
        return max(1, math.ceil(self.iterations / self.max_points))


@dataclass
class Descent:
    """Where every member of a population ended, and how it got there.

    ``steps`` are the recorded steps (``0, every, 2 every, ...``); ``f``, ``gradient_norm`` and
    ``path`` hold each recorded step's values, shape ``(T, P)``, ``(T, P)`` and ``(T, P, n)``,
    NaN after a member stopped; a member's last values are ``final_*`` at ``stop_step``
    (:meth:`history` and :meth:`trajectory` put them together).
    """

    steps: Array
    f: Array
    gradient_norm: Array
    path: Array
    final_x: Array  # (P, n)
    final_f: Array  # (P,)
    final_gradient_norm: Array  # (P,)
    stop_step: Array  # (P,) int: the iterations each member took
    stop_reason: list[str]  # one of runner.engine.training.STOP_REASONS
    reasons: list[str] = field(default_factory=list)  # why a diverged member diverged

    @property
    def diverged(self) -> Array:
        return np.asarray([r == "diverged" for r in self.stop_reason])

    @property
    def converged(self) -> Array:
        return np.asarray([r in ("target_loss", "gradient_tolerance") for r in self.stop_reason])

    def _upto(self, m: int) -> Array:
        return np.flatnonzero(self.steps < self.stop_step[m])

    def history(self, m: int) -> dict[str, tuple[Array, Array]]:
        """Member ``m``'s ``f`` and ``gradient_norm`` by step, its last step included."""
        rows = self._upto(m)
        steps = np.append(self.steps[rows], self.stop_step[m]).astype(np.int64)
        return {
            "f": (steps, np.append(self.f[rows, m], self.final_f[m])),
            "gradient_norm": (
                steps,
                np.append(self.gradient_norm[rows, m], self.final_gradient_norm[m]),
            ),
        }

    def trajectory(self, m: int) -> tuple[Array, Array]:
        """Member ``m``'s path: the recorded steps and the points there, ``(T,)`` and ``(T, n)``,
        from its start to its end point."""
        rows = self._upto(m)
        steps = np.append(self.steps[rows], self.stop_step[m]).astype(np.int64)
        return steps, np.vstack([self.path[rows, m], self.final_x[m][None, :]])


def uniform_starts(
    objective: Objective, params: dict[str, Any], rngs: list[np.random.Generator]
) -> Array:
    """One start per generator, drawn uniformly from the objective's box: shape ``(P, n)``."""
    low, high = (np.asarray(c, dtype=np.float64) for c in objective.box(**params))
    return np.vstack([rng.uniform(low, high) for rng in rngs]) if rngs else np.empty((0, low.size))


def descend(
    objective: Objective,
    params: dict[str, Any],
    x0: Array,
    rule: StepRule,
    hyper: dict[str, Any],
    schedule: DescentSchedule,
    *,
    rate: RateControl | None = None,
) -> Descent:
    """Move every start in ``x0`` (shape ``(P, n)``) by ``rule`` on ``objective``.

    ``hyper`` holds the rule's hyperparameters, a per-member one as one value per member (shape
    ``(P,)``, from :func:`runner.engine.buffers.member_hyper`); ``rate`` a learning-rate
    schedule, whose factor multiplies the rule's rate hyperparameter before every iteration
    (iteration t is the schedule's epoch t + 1 of ``iterations``)."""
    x = np.array(x0, dtype=np.float64, order="C")
    P, n = x.shape
    every = schedule.every()
    T = schedule.iterations // every + 1
    steps = np.arange(T, dtype=np.int64) * every
    f_rec = np.full((T, P), np.nan)
    g_rec = np.full((T, P), np.nan)
    path = np.full((T, P, n), np.nan)
    final_x = x.copy()
    final_f = np.full(P, np.nan)
    final_g = np.full(P, np.nan)
    stop_step = np.full(P, schedule.iterations, dtype=np.int64)
    stop_reason = ["epochs"] * P
    reasons = [""] * P
    live = np.ones(P, dtype=bool)

    per_member = {p.name for p in rule.params if p.per_member}
    shaped = {
        k: (np.asarray(v, dtype=np.float64).reshape(P, 1, 1) if k in per_member else v)
        for k, v in hyper.items()
    }
    base_rate = shaped.get(rule.rate) if rule.rate else None
    rate_state = rate.schedule.init_state(P) if rate is not None else {}
    x3 = x.reshape(P, n, 1)  # a view: the rule moves x in place
    state = rule.init_state([x3])
    previous_f = np.full(P, np.nan)

    for t in range(schedule.iterations + 1):
        with np.errstate(all="ignore"):
            f = np.asarray(objective.value(x, **params), dtype=np.float64).reshape(P)
            g = np.asarray(objective.gradient(x, **params), dtype=np.float64).reshape(P, n)
            g_norm = np.sqrt(np.einsum("pi,pi->p", g, g))
        if t % every == 0:
            row = t // every
            f_rec[row, live] = f[live]
            g_rec[row, live] = g_norm[live]
            path[row, live] = x[live]
        bad = live & ~(
            np.isfinite(f)
            & (np.abs(f) <= VALUE_BOUND)
            & np.all(np.isfinite(g), axis=1)
            & np.all(np.abs(x) <= POINT_BOUND, axis=1)
        )
        done = live & ~bad
        if schedule.gradient_tolerance is not None:
            by_gradient = done & (g_norm <= schedule.gradient_tolerance)
        else:
            by_gradient = np.zeros(P, dtype=bool)
        by_target = done & ~by_gradient
        by_target &= f <= schedule.target if schedule.target is not None else False
        by_epochs = done & ~by_gradient & ~by_target & (t == schedule.iterations)
        for mask, why in (
            (bad, "diverged"),
            (by_gradient, "gradient_tolerance"),
            (by_target, "target_loss"),
            (by_epochs, "epochs"),
        ):
            if not mask.any():  # most iterations stop no member
                continue
            for m in np.flatnonzero(mask):
                stop_reason[m] = why
                stop_step[m] = t
                if why == "diverged":
                    reasons[m] = f"f or the point left the finite range at iteration {t}"
            final_x[mask] = x[mask]
            final_f[mask] = f[mask]
            final_g[mask] = g_norm[mask]
            live &= ~mask
        if not live.any() or t == schedule.iterations:
            break
        if rate is not None and base_rate is not None:
            factor = rate.schedule.factor(
                t + 1, schedule.iterations, previous_f, rate_state, **rate.params
            )
            shaped[rule.rate] = base_rate * np.asarray(factor, dtype=np.float64).reshape(P, 1, 1)
        previous_f = f
        if live.all():
            rule.step([x3], [g.reshape(P, n, 1)], state, **shaped)
            continue
        held = x[~live].copy()
        g[~live] = 0.0
        rule.step([x3], [g.reshape(P, n, 1)], state, **shaped)
        x[~live] = held
    return Descent(
        steps, f_rec, g_rec, path, final_x, final_f, final_g, stop_step, stop_reason, reasons
    )


def hessians(objective: Objective, params: dict[str, Any], x: Array) -> Array:
    """The Hessian at every point of ``x`` ``(P, n)``: the objective's own where it gives one,
    else central differences of its gradient (``h_j = STEP max(1, |x_j|)``), symmetrized."""
    x = np.asarray(x, dtype=np.float64)
    given = objective.hessian(x, **params)
    if given is not None:
        H = np.asarray(given, dtype=np.float64)
    else:
        P, n = x.shape
        h = STEP * np.maximum(1.0, np.abs(x))  # (P, n)
        shifted = np.repeat(x[:, None, :], 2 * n, axis=1)  # (P, 2n, n)
        idx = np.arange(n)
        shifted[:, idx, idx] += h
        shifted[:, n + idx, idx] -= h
        grads = np.asarray(objective.gradient(shifted.reshape(-1, n), **params), np.float64)
        grads = grads.reshape(P, 2, n, n)  # (P, +/-, j, i): dg_i at x +/- h_j e_j
        H = (grads[:, 0] - grads[:, 1]) / (2.0 * h[:, :, None])
    return 0.5 * (H + np.swapaxes(H, -1, -2))


def classify_end(
    objective: Objective, params: dict[str, Any], x: Array, gradient_norm: Array
) -> list[CriticalPoint]:
    """The second-derivative test at each end point (the class by the Hessian's eigenvalues)."""
    return classify_hessians(hessians(objective, params, x), gradient_norm)


def classify_hessians(H: Array, gradient_norm: Array) -> list[CriticalPoint]:
    """The class of each point from its Hessian ``H`` ``(P, n, n)`` and gradient norm."""
    with np.errstate(all="ignore"):
        finite = np.all(np.isfinite(H), axis=(1, 2))
        eig = np.full(H.shape[:2], np.nan)
        if finite.any():
            eig[finite] = np.linalg.eigvalsh(H[finite])
    return [classify(eig[m], float(gradient_norm[m])) for m in range(len(H))]


def determinant_test(H: Array) -> tuple[float, float]:
    """The notes' two-variable test at one point: ``(r t - s^2, r)`` with r = f_xx, s = f_xy,
    t = f_yy (a minimum where both are > 0, a maximum where the first is > 0 and r < 0, a
    saddle where the first is < 0; the test fails where it is 0)."""
    r, s, t = float(H[0, 0]), float(H[0, 1]), float(H[1, 1])
    return r * t - s * s, r


#: the notes' verdicts of the two-variable test, as the study counts them
VERDICTS = ("minimum", "maximum", "saddle", "test fails")


def determinant_verdict(r: float, s: float, t: float) -> str:
    """The notes' verdict from r = f_xx, s = f_xy, t = f_yy (ERRATA 3): ``rt - s^2 > 0`` and
    r > 0 a local minimum, r < 0 a local maximum; ``rt - s^2 < 0`` a saddle; ``rt - s^2 = 0``
    the test fails. Zero within :data:`~runner.engine.curvature.EIGEN_TOL` in the sense the
    eigenvalue test uses: ``|rt - s^2|`` (the product of the two eigenvalues) at most the zero
    tolerance times the larger |eigenvalue|, so both tests call the same points degenerate."""
    determinant = r * t - s * s
    if not all(math.isfinite(v) for v in (r, s, t)):
        return "test fails"
    largest = abs(r + t) / 2 + math.hypot((r - t) / 2, s)  # the larger |eigenvalue|
    zero = zero_tolerance(np.asarray([largest]))
    if abs(determinant) <= zero * largest or largest <= zero:
        return "test fails"
    if determinant < 0:
        return "saddle"
    return "minimum" if r > 0 else "maximum"


def reached(
    objective: Objective, params: dict[str, Any], x: Array, reach: float = REACH
) -> list[Minimum | None]:
    """The known minimum each end point of ``x`` ``(P, n)`` sits at (within ``reach`` times the
    box's diagonal), or None."""
    minima = objective.minima(**params)
    if not minima:
        return [None] * len(x)
    low, high = (np.asarray(c, dtype=np.float64) for c in objective.box(**params))
    radius = reach * float(np.linalg.norm(high - low))
    centres = np.asarray([m.point for m in minima], dtype=np.float64)  # (K, n)
    with np.errstate(all="ignore"):
        distance = np.linalg.norm(np.asarray(x)[:, None, :] - centres[None], axis=2)  # (P, K)
    nearest = np.argmin(np.where(np.isfinite(distance), distance, np.inf), axis=1)
    out: list[Minimum | None] = []
    for m, k in enumerate(nearest):
        out.append(minima[k] if distance[m, k] <= radius else None)
    return out
