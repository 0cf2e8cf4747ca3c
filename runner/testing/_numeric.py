"""The numbers behind the conformance kit: tolerances, the inputs it draws, finite differences.

Derivatives are compared in float64 with fourth-order central differences,
``(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h`` with ``h = 1e-3``, at points drawn from a
fixed seed away from zero (``|z| >= 0.05``). :func:`relative_error` judges elements far below the
scale of an array against that scale, so that rounding in the difference quotient does not count
as an error. Imports :mod:`runner.plugin`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from runner.plugin.kinds import Cost

Array = np.ndarray

#: largest accepted relative error between an analytic derivative and central differences
RTOL = 1e-6
#: the step h of the central differences (float64)
STEP = 1e-3
#: (offset in steps, weight) of the fourth-order central difference; the sum is divided by 12 h
STENCIL = ((2, -1.0), (1, 8.0), (-1, -8.0), (-2, 1.0))
#: elements smaller than this fraction of an array's largest magnitude are judged against it
FLOOR = 1e-3
#: population, units and samples of the arrays the checks draw
SHAPE = (3, 4, 5)


def relative_error(
    got: Array, expected: Array, floor: float = FLOOR, scale: Array | float | None = None
) -> Array:
    """Elementwise ``|got - expected| / max(|got|, |expected|, floor * scale)``.

    ``scale`` defaults to the largest finite magnitude in either array; pass an array that
    broadcasts (one value per member, say) to judge each member on its own scale. NaN wherever
    either side is NaN, so that ``not (err.max() <= rtol)`` catches it.
    """
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    magnitude = np.maximum(np.abs(got), np.abs(expected))
    if scale is None:
        finite = magnitude[np.isfinite(magnitude)]
        scale = float(finite.max()) if finite.size else 0.0
    scale = np.maximum(scale, np.finfo(np.float64).tiny)
    return np.abs(got - expected) / np.maximum(magnitude, floor * scale)


#: (offset in steps, weight) of the fourth-order forward difference; the sum is divided by 12 h
#: (the backward one mirrors it: offsets and weights negated)
ONE_SIDED = ((0, -25.0), (1, 48.0), (2, -36.0), (3, 16.0), (4, -3.0))


def differences(f: Callable[[Array], Array], x: Array) -> Array:
    """Central differences of a per-member function ``f(x) -> (P,)`` for every element of ``x``.

    Element ``[:, i, j]`` is perturbed in every member at once: a member's value depends on its
    own slice only. A function with several values per member, ``f(x) -> (P, m)`` (a gradient),
    gives its Jacobian, ``x.shape + (m,)``: element ``[:, i, j, k]`` is d f_k / d x_ij.
    """
    return _differences(f, x, (STENCIL,))[0]


def sided_differences(f: Callable[[Array], Array], x: Array) -> tuple[Array, Array, Array]:
    """Central, forward and backward fourth-order differences of ``f`` (as :func:`differences`).

    Where a kink of ``f`` (Huber's at ``|a - y| = delta``) lies within the central stencil, the
    one-sided difference on the kink-free side still gives the derivative at ``x``; on smooth
    ground the three agree.
    """
    backward = tuple((-offset, -weight) for offset, weight in ONE_SIDED)
    central, fwd, bwd = _differences(f, x, (STENCIL, ONE_SIDED, backward))
    return central, fwd, bwd


def _differences(
    f: Callable[[Array], Array], x: Array, stencils: tuple[tuple[tuple[int, float], ...], ...]
) -> list[Array]:
    f0 = np.asarray(f(x), dtype=np.float64)
    outs = [np.empty(x.shape + f0.shape[1:]) for _ in stencils]
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            values = {0: f0}
            for out, stencil in zip(outs, stencils, strict=True):
                total = np.zeros(f0.shape)
                for offset, weight in stencil:
                    if offset not in values:
                        xk = x.copy()
                        xk[:, i, j] += offset * STEP
                        values[offset] = np.asarray(f(xk), dtype=np.float64)
                    total += weight * (values[offset] - f0)
                out[:, i, j] = total / (12 * STEP)
    return outs


# -- inputs the checks draw ---------------------------------------------------------------------


def sample_z(
    rng: np.random.Generator,
    shape: tuple[int, ...] = SHAPE,
    dtype: Any = np.float64,
    low: float = 0.05,
    high: float = 2.0,
) -> Array:
    """Pre-activations with ``low <= |z| <= high``: away from a kink at zero, not saturated."""
    z = rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)
    return z.astype(dtype)


def sample_targets(
    cost: Cost, rng: np.random.Generator, shape: tuple[int, ...] = SHAPE, dtype: Any = np.float64
) -> Array:
    """Targets ``y`` valid for ``cost``, shape ``(P, N, S)``.

    One-hot columns when the cost needs normalized outputs; the two ends of the cost's
    ``input_range`` (0 and 1 for a probability) when it is bounded; otherwise normal draws.
    """
    lo, hi = (float(v) for v in cost.input_range)
    if cost.needs_normalized:
        P, N, S = shape
        y = np.zeros(shape)
        classes = rng.integers(0, N, size=(P, S))
        np.put_along_axis(y, classes[:, None, :], 1.0, axis=1)
    elif np.isfinite(lo) and np.isfinite(hi):
        y = np.where(rng.random(shape) < 0.5, lo, hi)
    elif np.isfinite(lo):
        y = lo + rng.exponential(1.0, shape)
    elif np.isfinite(hi):
        y = hi - rng.exponential(1.0, shape)
    else:
        y = rng.standard_normal(shape)
    return y.astype(dtype)


def sample_outputs(
    cost: Cost, rng: np.random.Generator, shape: tuple[int, ...] = SHAPE, dtype: Any = np.float64
) -> Array:
    """Outputs ``a`` strictly inside the cost's ``input_range`` (columns summing to 1 if needed)."""
    lo, hi = (float(v) for v in cost.input_range)
    if cost.needs_normalized:
        e = rng.uniform(0.5, 1.5, shape)
        a = e / e.sum(axis=-2, keepdims=True)
    elif np.isfinite(lo) and np.isfinite(hi):
        a = lo + (hi - lo) * rng.uniform(0.1, 0.9, shape)
    elif np.isfinite(lo):
        a = lo + rng.uniform(0.1, 3.0, shape)
    elif np.isfinite(hi):
        a = hi - rng.uniform(0.1, 3.0, shape)
    else:
        a = rng.uniform(-2.0, 2.0, shape)
    return a.astype(dtype)
