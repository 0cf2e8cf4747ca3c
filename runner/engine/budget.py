"""What a population costs before it trains: the memory it takes and the time it needs, and
what the machine has to give.

The estimates are models, stated here so that a refusal can be checked by hand:

- **memory** of one population of ``P`` members with ``p`` parameters each (weights and biases of
  layer sizes ``n_0..n_L``: ``p = sum (n_{l-1} + 1) n_l``), dtype of ``d`` bytes, ``S`` samples a
  step sees (the training set for full batches, else a batch) and ``u = n_1 + ... + n_L`` units:
  ``P d (PARAMETER_COPIES p + ACTIVATION_COPIES u S + n_L S)`` (parameters, gradients, a
  step rule's state and the final copy; each layer's z, a and delta; the targets, one row per
  member) plus the metric history the schedule keeps (``HISTORY_DTYPE``, members x metrics x
  points); with early stopping also ``P d (p + VALIDATION_COPIES u S_v)``, the copy of every
  member's best parameters and the z and a of every layer for the ``S_v = ceil(f S)``
  validation samples it scores each epoch (one more metric, the validation score);
- **time** of one population: ``epochs (EPOCH_SECONDS batches + FLOPS_PER_WEIGHT p S P /
  FLOPS)`` seconds, a forward and a backward pass per sample at an assumed ``FLOPS`` floating
  point operations a second on one core; a sweep takes at least its longest population and at
  least the sum over its workers;
- **the critical-point test** of ``P`` trained members (:func:`critical_point_estimate`):
  ``HESSIAN_COPIES`` of the Hessians held at once and one backprop pass (each bounded by
  :data:`~runner.engine.curvature.MAX_ENTRIES` where one member's Hessian fits, float64) in
  memory; in time, ``2 p`` gradients
  of every member on the ``S`` training samples and an eigendecomposition, ``P (2 p
  FLOPS_PER_WEIGHT p S + EIGEN_FLOPS p^3) / FLOPS``;
- **descent on an objective** of ``P`` points in ``n`` dimensions for ``T`` iterations
  recording ``R`` of them (:func:`descent_estimate`): ``8 P (STATE_COPIES n + R (2 + n))``
  bytes (the points, a step rule's state, f and the gradient norm and the path at every
  recorded iteration) and ``T (EPOCH_SECONDS + OBJECTIVE_FLOPS n P / FLOPS)`` seconds.

:func:`available_memory` is what the machine can give now (MemAvailable, else the free pages
``os.sysconf`` counts). Imports numpy, :mod:`runner.engine.training` and
:mod:`runner.engine.curvature` only.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from runner.engine.curvature import MAX_ENTRIES, rows_per_pass
from runner.engine.training import HISTORY_DTYPE, Schedule

#: copies of the parameters a member holds while it trains: parameters, gradients, up to two
#: state arrays of a step rule (velocity; two moments) and the copy it ends with
PARAMETER_COPIES = 5
#: arrays per unit and sample: z, a and delta
ACTIVATION_COPIES = 3
#: arrays per unit and validation sample early stopping's forward pass takes: z and a
VALIDATION_COPIES = 2
#: floating-point operations per weight and sample: 2 forward, 4 backward
FLOPS_PER_WEIGHT = 6
#: what one core is assumed to compute, floating-point operations a second
FLOPS = 1e9
#: the fixed cost of one step (batch) of a population in numpy, seconds
EPOCH_SECONDS = 50e-6
#: floating-point operations of a symmetric eigendecomposition, per cubed order
EIGEN_FLOPS = 4
#: copies of the Hessians held at once: the Hessians, the finite ones, LAPACK's working copy
HESSIAN_COPIES = 3
#: floating-point operations per coordinate of a point and iteration of descent on an
#: objective (its value, its gradient and the step rule's update)
OBJECTIVE_FLOPS = 100
#: arrays of a point's size a member of a descent holds: the point, its gradient and up to
#: three of a step rule's state
STATE_COPIES = 5


@dataclass(frozen=True)
class Estimate:
    """What one population is estimated to take: bytes of memory and seconds of one core."""

    memory: int
    seconds: float


def estimate(
    sizes: tuple[int, ...],
    members: int,
    samples: int,
    schedule: Schedule,
    itemsize: int = 8,
    metrics: int = 3,
    validation_fraction: float = 0.0,
) -> Estimate:
    """The estimate of the module docstring for a population of ``members`` networks of layer
    sizes ``sizes`` (inputs first) trained on ``samples`` samples under ``schedule``; with
    ``schedule.early_stopping``, ``validation_fraction`` of them are scored each epoch."""
    p = sum((a + 1) * b for a, b in zip(sizes, sizes[1:], strict=False))
    units = sum(sizes[1:])
    full_batch = schedule.batch_size <= 0 or schedule.batch_size >= samples
    seen = samples if full_batch else schedule.batch_size
    steps = 1 if full_batch else math.ceil(samples / schedule.batch_size)
    per_member = PARAMETER_COPIES * p + ACTIVATION_COPIES * units * seen + sizes[-1] * seen
    if schedule.early_stopping:
        held = math.ceil(validation_fraction * samples)
        per_member += p + VALIDATION_COPIES * units * held
        metrics += 1
    every = schedule.every(members, metrics)
    history = np.dtype(HISTORY_DTYPE).itemsize * members * metrics * (schedule.epochs // every)
    seconds = schedule.epochs * (
        steps * EPOCH_SECONDS + FLOPS_PER_WEIGHT * p * samples * members / FLOPS
    )
    return Estimate(memory=members * itemsize * per_member + history, seconds=seconds)


def critical_point_estimate(sizes: tuple[int, ...], members: int, samples: int) -> Estimate:
    """The critical-point test of ``members`` trained networks of layer sizes ``sizes`` on
    ``samples`` training samples (the module docstring's model)."""
    p = sum((a + 1) * b for a, b in zip(sizes, sizes[1:], strict=False))
    units = sum(sizes[1:])
    rows = rows_per_pass(p, units, samples)
    held = min(members, max(1, MAX_ENTRIES // max(1, p * p)), rows // 2) * p * p
    memory = 8 * (HESSIAN_COPIES * held + rows * (2 * p + 3 * units * samples))
    flops = members * (2 * p * FLOPS_PER_WEIGHT * p * samples + EIGEN_FLOPS * p**3)
    return Estimate(memory=memory, seconds=flops / FLOPS)


def descent_estimate(dimension: int, members: int, iterations: int, recorded: int) -> Estimate:
    """Descent of ``members`` points in ``dimension`` coordinates for ``iterations`` iterations,
    ``recorded`` of them kept in the history and the paths (the module docstring's model)."""
    memory = 8 * members * (STATE_COPIES * dimension + recorded * (2 + dimension))
    seconds = iterations * (EPOCH_SECONDS + OBJECTIVE_FLOPS * dimension * members / FLOPS)
    return Estimate(memory=memory, seconds=seconds)


def sweep_estimate(estimates: list[Estimate], workers: int) -> Estimate:
    """A sweep's peak memory (its ``workers`` largest populations at once) and its time (the
    longest population, or the total spread over the workers, whichever is longer)."""
    if not estimates:
        return Estimate(0, 0.0)
    workers = max(1, min(workers, len(estimates)))
    peak = sum(sorted((e.memory for e in estimates), reverse=True)[:workers])
    total = sum(e.seconds for e in estimates)
    return Estimate(peak, max(max(e.seconds for e in estimates), total / workers))


def available_memory() -> int | None:
    """Bytes of memory the machine can give now (MemAvailable of /proc/meminfo, else free
    pages by ``os.sysconf``), or None where neither says."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def show_bytes(n: float) -> str:
    """``2.6 GB``: bytes as a message says them."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def show_seconds(s: float) -> str:
    """``3.2 hours``: seconds as a message says them."""
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} minutes"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} hours"
    return f"{s / 86400:.3g} days"


__all__ = [
    "Estimate",
    "available_memory",
    "critical_point_estimate",
    "descent_estimate",
    "estimate",
    "show_bytes",
    "show_seconds",
    "sweep_estimate",
]
