"""An objective row's population: its starts descend together, each configuration keeps one.

The objective counterpart of the network path of :func:`runner.engine.population.run_population`
(which builds the members and calls :func:`minimize`): every member (one configuration's
restart) starts at a point drawn uniformly from the objective's box by ``member_rng(seed,
restart)`` (:func:`~runner.engine.descent.uniform_starts`), all of them descend in one
vectorized :func:`~runner.engine.descent.descend` call with their own hyperparameters and
schedule, each configuration's strategy selects by final f (inf for a diverged member), and
the kept member becomes one :class:`~runner.spec.RunResult`: the final f, gradient norm and
point (``x1..xn``), the histories of f and the gradient norm (step = iteration), the trajectory,
which known minimum it reached, and the class of its end point by the Hessian test (for two
variables also the notes' r, s, t and rt - s^2: ``hessian_r``, ``hessian_s``, ``hessian_t``,
``hessian_determinant``); where the objective declares no minimum, no ``runner.reached_global``
(its runs have no success to count). A member's path is bitwise the same alone or in any
population, so a thousand starts cost about one descend call. Numbers only; imports the
rest of :mod:`runner.engine`, :mod:`runner.plugin` and :mod:`runner.spec`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runner.engine.descent import (
    Descent,
    DescentSchedule,
    classify_hessians,
    descend,
    determinant_test,
    hessians,
    reached,
    uniform_starts,
)
from runner.engine.network import member_rng
from runner.engine.training import MAX_POINTS, RateControl
from runner.plugin.kinds import Minimum, Objective, StepRule, Strategy
from runner.plugin.params import Plugin
from runner.spec import RunResult, RunSpec

Array = np.ndarray

#: the final point's coordinates are metrics ``x1..xn`` up to this dimension (beyond it, only
#: the trajectory artifact holds them)
MAX_COORDINATES = 10


@dataclass(frozen=True)
class Members:
    """A population's members as :func:`runner.engine.population.run_population` builds them:
    each configuration's strategy, every member's configuration (``owners``) and ``(seed,
    restart)`` key, the step rule's per-member hyperparameters and the schedule (or None)."""

    strategies: Sequence[Strategy]
    owners: Array
    keys: Sequence[tuple[int, int]]
    hyper: dict[str, Any]
    rate: RateControl | None


def wanted(setting: str | None) -> bool:
    """Whether the column ``critical_points`` asks for the end point's test: auto (or blank)
    is on for an objective, whose Hessian is n x n."""
    return setting != "false"


def descent_schedule_of(
    first: RunSpec, log_every: int = 0, max_points: int = MAX_POINTS
) -> DescentSchedule:
    """How an objective's points descend: ``first``'s iterations and stop rules, recorded as
    ``log_every`` and ``max_points`` say (also what the plan's budget estimates)."""
    return DescentSchedule(
        iterations=first.epochs,
        gradient_tolerance=first.gradient_tolerance,
        target=first.target_loss,
        log_every=log_every,
        max_points=max_points,
    )


def minimize(
    specs: Sequence[RunSpec],
    plugins: dict[str, Plugin],
    members: Members,
    *,
    log_every: int = 0,
    max_points: int = MAX_POINTS,
    started: float | None = None,
) -> list[RunResult]:
    """Descend every member of ``specs`` (which share the objective, its parameters, the step
    rule and its shared parameters, the iterations and the stop rules) and return one result
    per configuration (its selected member's; see the module docstring)."""
    started = time.perf_counter() if started is None else started
    first = specs[0]
    objective: Objective = plugins["objective"]  # type: ignore[assignment]
    rule: StepRule = plugins["optimizer"]  # type: ignore[assignment]
    params = first.params_of("objective")
    x0 = uniform_starts(objective, params, [member_rng(s, r) for s, r in members.keys])
    schedule = descent_schedule_of(first, log_every, max_points)
    run = descend(objective, params, x0, rule, members.hyper, schedule, rate=members.rate)
    ends = reached(objective, params, run.final_x)
    diverged_ = run.diverged  # each member's flags, worked out once
    converged = run.converged
    elapsed = time.perf_counter() - started

    chosen_of: list[int] = []
    for i, spec in enumerate(specs):
        mine = np.flatnonzero(members.owners == i)
        scores = np.where(diverged_[mine], np.inf, run.final_f[mine])
        scores = np.where(np.isnan(scores), np.inf, scores)
        pick = members.strategies[i].select(scores, **spec.params_of("strategy"))
        chosen_of.append(int(mine[pick]))
    tested = [
        i
        for i, spec in enumerate(specs)
        if wanted(spec.critical_points) and not diverged_[chosen_of[i]]
    ]
    at = np.asarray([chosen_of[i] for i in tested], dtype=np.intp)
    H = hessians(objective, params, run.final_x[at])  # once: the class and, for two, rt - s^2
    points = classify_hessians(H, run.final_gradient_norm[at])
    position = {i: j for j, i in enumerate(tested)}  # a configuration's row of H and points
    two = run.final_x.shape[1] == 2

    known = bool(objective.minima(**params))
    results = []
    for i, spec in enumerate(specs):
        mine = np.flatnonzero(members.owners == i)
        m = chosen_of[i]
        metrics = _metrics(run, m, mine, ends, known, diverged_, converged)
        metrics["wall_time"] = elapsed * len(mine) / len(members.owners)
        metrics["log_every"] = float(schedule.every())
        diverged = bool(diverged_[m])
        end = ends[m] if not diverged else None
        tags = {
            "runner.objective": spec.objective,
            "runner.reached": _label(end) if end is not None else "none",
        }
        if known:  # an objective that declares no minimum has none to reach: no success
            tags["runner.reached_global"] = str(end is not None and end.global_).lower()
        if i in position:
            j = position[i]
            metrics.update(points[j].metrics())
            tags["runner.critical_point"] = points[j].label
            if two:  # the notes' test: r = f_xx, s = f_xy, t = f_yy and rt - s^2
                metrics["hessian_determinant"] = determinant_test(H[j])[0]
                metrics.update(
                    hessian_r=float(H[j, 0, 0]),
                    hessian_s=float(H[j, 0, 1]),
                    hessian_t=float(H[j, 1, 1]),
                )
        steps, path = run.trajectory(m)
        results.append(
            RunResult(
                spec=spec,
                spec_hash=spec.spec_hash(),
                status="diverged" if diverged else "finished",
                reason=run.reasons[m] if diverged else "",
                metrics=metrics,
                history=run.history(m),
                restart_losses=[float(v) for v in run.final_f[mine]],
                wall_time=metrics["wall_time"],
                stop_reason=run.stop_reason[m],
                tags=tags,
                trajectory={
                    "steps": np.asarray(steps, dtype=np.int64),
                    "points": np.asarray(path, dtype=np.float64),
                },
            )
        )
    return results


def _label(minimum: Minimum) -> str:
    return minimum.label or "(" + ", ".join(f"{c:.3g}" for c in minimum.point) + ")"


def _metrics(
    run: Descent,
    m: int,
    mine: Array,
    ends: list[Minimum | None],
    known: bool,
    diverged: Array,
    converged: Array,
) -> dict[str, float]:
    """The kept member ``m``'s numbers: final f, gradient norm and point, iterations, flags and
    counts (how many of the configuration's members ``mine`` reached a global minimum, where
    the objective knows its minima)."""
    x = run.final_x[m]
    metrics = {
        "f": float(run.final_f[m]),
        "gradient_norm": float(run.final_gradient_norm[m]),
    }
    if x.size <= MAX_COORDINATES:
        metrics.update({f"x{k}": float(v) for k, v in enumerate(x, start=1)})
    metrics.update(
        iterations=float(run.stop_step[m]),
        epochs=float(run.stop_step[m]),
        converged=float(converged[m]),
        diverged=float(diverged[m]),
        restarts=float(len(mine)),
        selected_restart=float(m - mine[0]),
    )
    if known:
        metrics["restarts_succeeded"] = float(
            sum(
                1
                for k in mine
                if not diverged[k] and ends[k] is not None and ends[k].global_  # type: ignore[union-attr]
            )
        )
    return metrics
