"""The conformance check of objectives: the box, shapes, derivatives, and the declared points.

Imports :mod:`runner.engine` (the Hessian and the zero tolerance of the critical-point test) and
:mod:`runner.plugin`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from runner.engine.curvature import zero_tolerance
from runner.engine.descent import hessians
from runner.plugin.kinds import Minimum, Objective
from runner.testing._assertions import (
    assert_array,
    assert_close,
    assert_equal,
    assert_finite,
    call,
    fail,
    resolve_params,
)
from runner.testing._numeric import RTOL, Array, differences

#: how many points the check draws uniformly from the box by default
POINTS = 16


def _show(point: Any) -> str:
    return "(" + ", ".join(f"{float(c):.10g}" for c in np.ravel(point)) + ")"


def check_objective(
    objective: Objective,
    params: Mapping[str, Any] | None = None,
    *,
    points: int | Array = POINTS,
    seed: int = 0,
    rtol: float = RTOL,
) -> None:
    """Check an objective against the contract of :class:`runner.Objective`.

    The points checked are ``points`` drawn uniformly from the box with ``seed`` (or the rows of
    ``points`` when it is an array ``(k, n)``), the box's centre and its two corners, and the
    declared minima, saddles and maxima.

    - ``dimension()`` is an integer n >= 1 and ``box()`` two finite arrays of shape ``(n,)``,
      ``low < high``;
    - ``value(x)`` is float64 of shape ``(P,)``, ``gradient(x)`` of shape ``(P, n)``, both
      finite, and each member's rows are bitwise what computing that member alone gives;
    - the gradient matches central differences of the value, and the Hessian (when
      ``hessian`` gives one, shape ``(P, n, n)``) central differences of the gradient and is
      symmetric; each point is judged on its own scale (its largest entry, at least a hundredth
      of the largest over all points and at least 1; see :func:`runner.testing.relative_error`);
    - every declared minimum is a ``runner.Minimum`` of n coordinates inside the box, where the
      gradient vanishes (norm at most ``rtol`` times the median gradient norm of the drawn
      points, at least ``rtol``), the value is the declared one (within ``rtol`` times
      max(1, |value|)) and the Hessian is positive semidefinite (its own, or central
      differences of the gradient); the minima declared ``global_`` are exactly those of the
      lowest value, and no checked point lies below it;
    - every declared saddle has n coordinates, lies inside the box, has a vanishing gradient,
      and a Hessian that is not positive definite (else it would be a minimum);
    - every declared maximum has n coordinates, lies inside the box, has a vanishing gradient
      and a negative definite Hessian (the second-derivative test's local maximum).
    """
    kw = resolve_params(objective, params)
    n = call(objective, "dimension", objective.dimension, **kw)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        fail(objective, "dimension", f"expected an integer >= 1, got {n!r}")
    n = int(n)
    low, high = _box(objective, kw, n)
    minima = call(objective, "minima", objective.minima, **kw)
    saddles = call(objective, "saddles", objective.saddles, **kw)
    minima = _declared_minima(objective, minima, n, low, high)
    saddles = _declared_saddles(objective, saddles, n, low, high)
    maxima = call(objective, "maxima", objective.maxima, **kw)
    maxima = _declared_saddles(objective, maxima, n, low, high, "maximum")

    if isinstance(points, int | np.integer):
        drawn = np.random.default_rng(seed).uniform(low, high, (int(points), n))
    else:
        drawn = np.asarray(points, dtype=np.float64)
        if drawn.ndim != 2 or drawn.shape[1] != n:
            raise ValueError(f"points: expected an array (k, {n}), got shape {drawn.shape}")
    fixed = [(low + high) / 2, low, high, *(np.asarray(m.point) for m in minima), *saddles, *maxima]
    x = np.vstack([drawn, np.asarray(fixed, dtype=np.float64).reshape(-1, n)])
    P = len(x)

    f = _value(objective, kw, x, "value")
    g = _gradient(objective, kw, x, "gradient")
    for p in range(P):
        one = slice(p, p + 1)
        check = f"population broadcasting (point {p} alone)"
        assert_equal(objective, f"{check}: value", _value(objective, kw, x[one], check), f[one])
        assert_equal(
            objective, f"{check}: gradient", _gradient(objective, kw, x[one], check), g[one]
        )

    def values(z: Array) -> Array:
        return _value(objective, kw, z[:, :, 0], "value (central differences)")

    fd = differences(values, x[:, :, None])[:, :, 0]
    assert_close(
        objective,
        "gradient(x) vs central differences of value(x)",
        g,
        fd,
        rtol,
        scale=_member_scale(g, fd),
    )

    H = call(objective, "hessian", objective.hessian, x, **kw)
    if H is not None:
        assert_array(objective, "hessian", H, (P, n, n), np.float64)
        assert_finite(objective, "hessian", H)

        def gradients(z: Array) -> Array:
            return _gradient(objective, kw, z[:, :, 0], "gradient (central differences)")

        fd_h = differences(gradients, x[:, :, None])[:, :, 0, :]  # [p, j, i] = dg_i / dx_j
        scale = _member_scale(H, fd_h)[:, :, None]
        assert_close(
            objective,
            "hessian(x) is symmetric",
            H,
            np.swapaxes(H, 1, 2),
            rtol,
            got_name="H[i, j]",
            expected_name="H[j, i]",
            scale=scale,
        )
        assert_close(
            objective,
            "hessian(x) vs central differences of gradient(x)",
            H,
            fd_h,
            rtol,
            scale=scale,
        )

    norms = np.linalg.norm(g[: len(drawn)], axis=1)
    g_tol = rtol * max(1.0, float(np.median(norms)) if norms.size else 1.0)
    _check_minima(objective, kw, minima, f, g_tol, rtol)
    _check_saddles(objective, kw, saddles, g_tol)
    _check_maxima(objective, kw, maxima, g_tol)


def _box(objective: Objective, kw: dict[str, Any], n: int) -> tuple[Array, Array]:
    box = call(objective, "box", objective.box, **kw)
    try:
        low, high = (np.asarray(c, dtype=np.float64) for c in box)
    except (TypeError, ValueError):
        fail(objective, "box", f"expected (low, high), two arrays of shape ({n},), got {box!r}")
    for name, corner in (("low", low), ("high", high)):
        if corner.shape != (n,):
            fail(
                objective,
                "box",
                f"expected {name} of shape ({n},) for dimension {n}, got shape {corner.shape}",
            )
        assert_finite(objective, f"box: {name}", corner)
    if not np.all(low < high):
        i = int(np.flatnonzero(~(low < high))[0])
        fail(
            objective, "box", f"expected low < high, got low {low[i]:g} >= high {high[i]:g} at {i}"
        )
    return low, high


def _value(objective: Objective, kw: dict[str, Any], x: Array, check: str) -> Array:
    f = call(objective, check, objective.value, x, **kw)
    assert_array(objective, check, f, (len(x),), np.float64)
    assert_finite(objective, check, f)
    return f


def _gradient(objective: Objective, kw: dict[str, Any], x: Array, check: str) -> Array:
    g = call(objective, check, objective.gradient, x, **kw)
    assert_array(objective, check, g, x.shape, np.float64)
    assert_finite(objective, check, g)
    return g


#: a point's scale is at least this fraction of the largest over all points checked
SCALE_FLOOR = 1e-2


def _member_scale(got: Array, expected: Array) -> Array:
    """Each point's scale, shape ``(P, 1)``: its largest magnitude in either array, at least
    :data:`SCALE_FLOOR` times the largest of all points, and at least 1.

    Near a critical point the gradient vanishes but the differences' truncation error (h^4
    times fifth derivatives) does not: the floors keep that error from counting there, while
    a point far from the steepest ones is still judged on much less than their scale."""
    axes = tuple(range(1, got.ndim))
    largest = np.maximum(np.abs(got).max(axis=axes), np.abs(expected).max(axis=axes))
    floor = max(1.0, SCALE_FLOOR * float(largest.max(initial=0.0)))
    return np.maximum(largest, floor)[:, None]


def _inside(objective: Objective, what: str, point: Array, low: Array, high: Array) -> None:
    if not np.all((low <= point) & (point <= high)):
        fail(
            objective,
            what,
            f"{_show(point)} lies outside the box, expected within {_show(low)} .. {_show(high)}",
        )


def _declared_minima(
    objective: Objective, minima: Any, n: int, low: Array, high: Array
) -> list[Minimum]:
    out = []
    for m in minima:
        if not isinstance(m, Minimum):
            fail(objective, "minima", f"expected runner.Minimum objects, got {m!r}")
        what = f"minimum {m.label!r}"
        if len(m.point) != n:
            fail(
                objective,
                what,
                f"expected a point of {n} coordinates (the dimension), got {len(m.point)}",
            )
        _inside(objective, what, np.asarray(m.point, dtype=np.float64), low, high)
        out.append(m)
    return out


def _declared_saddles(
    objective: Objective, saddles: Any, n: int, low: Array, high: Array, what: str = "saddle point"
) -> list[Array]:
    """The declared saddles (or, ``what`` = ``"maximum"``, maxima) as points in the box."""
    out = []
    for s in saddles:
        point = np.asarray(s, dtype=np.float64)
        if point.shape != (n,):
            fail(
                objective,
                f"{what} {s!r}",
                f"expected a point of {n} coordinates (the dimension), got shape {point.shape}",
            )
        _inside(objective, f"{what} {_show(point)}", point, low, high)
        out.append(point)
    return out


def _check_minima(
    objective: Objective,
    kw: dict[str, Any],
    minima: list[Minimum],
    f_checked: Array,
    g_tol: float,
    rtol: float,
) -> None:
    if not minima:
        return
    x = np.asarray([m.point for m in minima], dtype=np.float64)
    f = _value(objective, kw, x, "value at the minima")
    g = np.linalg.norm(_gradient(objective, kw, x, "gradient at the minima"), axis=1)
    H = call(objective, "hessian at the minima", hessians, objective, kw, x)
    for k, m in enumerate(minima):
        what = f"minimum {m.label!r} at {_show(m.point)}"
        _stationary(objective, what, g[k], g_tol)
        if not abs(f[k] - m.value) <= rtol * max(1.0, abs(m.value)):
            fail(objective, what, f"declared value {m.value!r}, but f there is {float(f[k])!r}")
        lam = np.linalg.eigvalsh(H[k])
        if not lam[0] >= -zero_tolerance(lam):
            fail(
                objective,
                what,
                f"expected a positive semidefinite Hessian, got the eigenvalue {lam[0]:.6g}",
            )
    lowest = min(m.value for m in minima)
    f_tol = rtol * max(1.0, abs(lowest))
    for m in minima:
        is_lowest = m.value <= lowest + f_tol
        if m.global_ != is_lowest:
            expected = (
                "True (it is the lowest)" if is_lowest else f"False (the lowest is {lowest!r})"
            )
            fail(
                objective,
                f"minimum {m.label!r} at {_show(m.point)}",
                f"declared global_={m.global_} with value {m.value!r}, expected global_={expected}",
            )
    below = int(np.argmin(f_checked))
    if f_checked[below] < lowest - f_tol:
        fail(
            objective,
            "global minimum",
            f"declared lowest value {lowest!r}, but f is {float(f_checked[below])!r} at a checked "
            f"point of the box (row {below})",
        )


def _stationary(objective: Objective, what: str, norm: float, g_tol: float) -> None:
    """A declared critical point's gradient vanishes (its norm is at most ``g_tol``)."""
    if not norm <= g_tol:
        fail(objective, what, f"expected the gradient to vanish, got norm {norm:.3g} > {g_tol:.3g}")


def _check_saddles(
    objective: Objective, kw: dict[str, Any], saddles: list[Array], g_tol: float
) -> None:
    """Each declared saddle: a vanishing gradient, a Hessian that is not positive definite."""
    _check_points(objective, kw, saddles, g_tol, "saddle point")


def _check_maxima(
    objective: Objective, kw: dict[str, Any], maxima: list[Array], g_tol: float
) -> None:
    """Each declared maximum: a vanishing gradient, a negative definite Hessian."""
    _check_points(objective, kw, maxima, g_tol, "maximum")


def _check_points(
    objective: Objective, kw: dict[str, Any], points: list[Array], g_tol: float, what: str
) -> None:
    if not points:
        return
    plural = {"saddle point": "saddles", "maximum": "maxima"}[what]
    x = np.asarray(points, dtype=np.float64)
    g = np.linalg.norm(_gradient(objective, kw, x, f"gradient at the {plural}"), axis=1)
    H = call(objective, f"hessian at the {plural}", hessians, objective, kw, x)
    for k, point in enumerate(points):
        label = f"{what} {_show(point)}"
        _stationary(objective, label, g[k], g_tol)
        lam = np.linalg.eigvalsh(H[k])
        zero = zero_tolerance(lam)
        if what == "saddle point" and lam[0] > zero:
            fail(
                objective,
                label,
                "expected a Hessian with an eigenvalue <= 0, got a positive definite one "
                f"(smallest eigenvalue {lam[0]:.6g}): a minimum, not a saddle",
            )
        if what == "maximum" and not lam[-1] < -zero:
            fail(
                objective,
                label,
                "expected a negative definite Hessian, got largest eigenvalue "
                f"{lam[-1]:.6g}: not a local maximum",
            )
