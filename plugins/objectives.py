"""Built-in objectives: analytic functions of n variables with their gradients, Hessians, boxes
and known minima, minimized by the same step rules and strategies as the networks.

Each implements :class:`runner.Objective` on points ``x`` of shape ``(P, n)``; the formulas
follow the usual test-function literature (the box is the one starting points are drawn from).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Minimum, Objective, hookimpl

Array = np.ndarray


def _box(low: list[float], high: list[float]) -> tuple[Array, Array]:
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


class Himmelblau(Objective):
    """Himmelblau's function (x^2 + y - 11)^2 + (x + y^2 - 7)^2: four minima, all at f = 0."""

    name = "himmelblau"

    def dimension(self, **params: Any) -> int:
        return 2

    def box(self, **params: Any) -> tuple[Array, Array]:
        return _box([-5.0, -5.0], [5.0, 5.0])

    def value(self, x: Array, **params: Any) -> Array:
        u, v = x[:, 0], x[:, 1]
        return (u * u + v - 11.0) ** 2 + (u + v * v - 7.0) ** 2

    def gradient(self, x: Array, **params: Any) -> Array:
        u, v = x[:, 0], x[:, 1]
        a, b = u * u + v - 11.0, u + v * v - 7.0
        return np.stack([4.0 * u * a + 2.0 * b, 2.0 * a + 4.0 * v * b], axis=1)

    def hessian(self, x: Array, **params: Any) -> Array:
        u, v = x[:, 0], x[:, 1]
        r = 12.0 * u * u + 4.0 * v - 42.0
        s = 4.0 * (u + v)
        t = 4.0 * u + 12.0 * v * v - 26.0
        return np.stack([np.stack([r, s], axis=1), np.stack([s, t], axis=1)], axis=1)

    def minima(self, **params: Any) -> tuple[Minimum, ...]:
        points = (
            (3.0, 2.0),
            (-2.805118086952745, 3.131312518250573),
            (-3.779310253377747, -3.283185991286170),
            (3.584428340330492, -1.848126526964404),
        )
        return tuple(Minimum(p, 0.0, f"({p[0]:.3g}, {p[1]:.3g})") for p in points)


class Saddle(Objective):
    """The saddle x^2 - y^2: one critical point, a saddle at the origin; unbounded below."""

    name = "saddle"

    def dimension(self, **params: Any) -> int:
        return 2

    def box(self, **params: Any) -> tuple[Array, Array]:
        return _box([-1.0, -1.0], [1.0, 1.0])

    def value(self, x: Array, **params: Any) -> Array:
        return x[:, 0] ** 2 - x[:, 1] ** 2

    def gradient(self, x: Array, **params: Any) -> Array:
        return np.stack([2.0 * x[:, 0], -2.0 * x[:, 1]], axis=1)

    def hessian(self, x: Array, **params: Any) -> Array:
        H = np.zeros((len(x), 2, 2))
        H[:, 0, 0], H[:, 1, 1] = 2.0, -2.0
        return H

    def saddles(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        return ((0.0, 0.0),)


class MonkeySaddle(Objective):
    """The monkey saddle x^3 - 3 x y^2: its Hessian vanishes at the origin, where the
    second-derivative test fails (a degenerate critical point); unbounded below."""

    name = "monkey_saddle"

    def dimension(self, **params: Any) -> int:
        return 2

    def box(self, **params: Any) -> tuple[Array, Array]:
        return _box([-1.0, -1.0], [1.0, 1.0])

    def value(self, x: Array, **params: Any) -> Array:
        u, v = x[:, 0], x[:, 1]
        return u**3 - 3.0 * u * v * v

    def gradient(self, x: Array, **params: Any) -> Array:
        u, v = x[:, 0], x[:, 1]
        return np.stack([3.0 * u * u - 3.0 * v * v, -6.0 * u * v], axis=1)

    def hessian(self, x: Array, **params: Any) -> Array:
        u, v = x[:, 0], x[:, 1]
        r, s, t = 6.0 * u, -6.0 * v, -6.0 * u
        return np.stack([np.stack([r, s], axis=1), np.stack([s, t], axis=1)], axis=1)

    def saddles(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        return ((0.0, 0.0),)


@hookimpl
def register_objectives(register: Any) -> None:
    for objective in (Himmelblau(), Saddle(), MonkeySaddle()):
        register(objective)
