"""Built-in objectives: analytic functions of n variables with their gradients, Hessians, boxes
and known minima, minimized by the same step rules and strategies as the networks.

Each implements :class:`runner.Objective` on points ``x`` of shape ``(P, n)``; the formulas
follow the usual test-function literature (the box is the one starting points are drawn from).
Every one gives its analytic gradient and Hessian. The critical points that are not at round
numbers (Himmelblau's, the six-hump camel's) were found by Newton's method on the analytic
gradient and Hessian from the literature's values, and are given to 15-16 digits, so that the
gradient vanishes there to rounding. Declared: bowl, rosenbrock, beale, booth and rastrigin
their global minimum (rosenbrock's local minimum for 4 <= n <= 7 and rastrigin's many local ones
are not declared), himmelblau its four minima, four saddles and its local maximum,
six_hump_camel its two global and four local minima, seven saddles and two maxima, beale its
saddle (0, 1), the saddles their origin (they declare no minimum: they have none) and quartic
its degenerate minimum at the origin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Minimum, Objective, Param, hookimpl

Array = np.ndarray


def _box(low: list[float], high: list[float]) -> tuple[Array, Array]:
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def _cube(n: int, half: float) -> tuple[Array, Array]:
    return np.full(n, -half), np.full(n, half)


def _label(point: tuple[float, ...]) -> str:
    """``"(1, 3)"``; ``"(1, ..., 1)"`` for a point of more than three equal coordinates."""
    if len(point) > 3 and len(set(point)) == 1:
        return f"({point[0]:.3g}, ..., {point[0]:.3g})"
    return "(" + ", ".join(f"{c:.3g}" for c in point) + ")"


def _diagonal(d: Array) -> Array:
    """``(P, n)`` diagonals into ``(P, n, n)`` diagonal matrices."""
    P, n = d.shape
    H = np.zeros((P, n, n))
    idx = np.arange(n)
    H[:, idx, idx] = d
    return H


def _two_by_two(r: Array, s: Array, t: Array) -> Array:
    """The Hessians ``[[r, s], [s, t]]``, shape ``(P, 2, 2)``, from ``(P,)`` arrays."""
    return np.stack([np.stack([r, s], axis=1), np.stack([s, t], axis=1)], axis=1)


def _dimension_param(what: str) -> Param:
    return Param("n", int, 2, f"number of variables of the {what}", low=2, high=100)


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
        return _two_by_two(r, s, t)

    def minima(self, **params: Any) -> tuple[Minimum, ...]:
        points = (
            (3.0, 2.0),
            (-2.805118086952745, 3.131312518250573),
            (-3.779310253377747, -3.283185991286170),
            (3.584428340330492, -1.848126526964404),
        )
        return tuple(Minimum(p, 0.0, f"({p[0]:.3g}, {p[1]:.3g})") for p in points)

    def maxima(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        return ((-0.2708445906673476, -0.9230385564799815),)  # f = 181.617

    def saddles(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        return (
            (3.385154183607021, 0.07385187983774928),
            (0.08667750455539634, 2.884254701174776),
            (-3.0730257507643897, -0.08135304428796751),
            (-0.12796134673068005, -1.9537149802445766),
        )


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
    """The monkey saddle x^3 - 3 x y^2: a degenerate critical point at the origin.

    Its Hessian vanishes there, where the second-derivative test fails; unbounded below."""

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
        return _two_by_two(6.0 * u, -6.0 * v, -6.0 * u)

    def saddles(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        return ((0.0, 0.0),)


class Quartic(Objective):
    """The quartic bowl x^4 + y^4: one minimum, at the origin (f = 0), a degenerate one.

    Its Hessian diag(12 x^2, 12 y^2) vanishes there, so r t - s^2 = 0 and the second-derivative
    test fails, though the point is a minimum (f > 0 everywhere else)."""

    name = "quartic"

    def dimension(self, **params: Any) -> int:
        return 2

    def box(self, **params: Any) -> tuple[Array, Array]:
        return _box([-1.0, -1.0], [1.0, 1.0])

    def value(self, x: Array, **params: Any) -> Array:
        return np.sum(x**4, axis=1)

    def gradient(self, x: Array, **params: Any) -> Array:
        return 4.0 * x**3

    def hessian(self, x: Array, **params: Any) -> Array:
        return _diagonal(12.0 * x * x)

    def minima(self, **params: Any) -> tuple[Minimum, ...]:
        return (Minimum((0.0, 0.0), 0.0, "(0, 0)"),)


class Bowl(Objective):
    """A quadratic bowl in n variables, (x^2 + condition y^2) / 2 for two; minimum at 0, f = 0.

    f = sum lambda_i x_i^2 / 2 with the curvatures lambda_i spaced log-uniformly from 1 to the
    condition number (``condition ** (i / (n - 1))``)."""

    name = "bowl"
    params = (
        _dimension_param("bowl"),
        Param(
            "condition",
            float,
            10.0,
            "condition number: the ratio of the largest curvature to the smallest (1)",
            low=0.0,
            low_open=True,
        ),
    )

    @staticmethod
    def curvatures(n: int = 2, condition: float = 10.0) -> Array:
        """The Hessian's eigenvalues, ``condition ** (i / (n - 1))`` for i = 0 .. n-1."""
        return np.asarray(condition, dtype=np.float64) ** (np.arange(n) / (n - 1))

    def dimension(self, n: int = 2, **params: Any) -> int:
        return n

    def box(self, n: int = 2, **params: Any) -> tuple[Array, Array]:
        return _cube(n, 2.0)

    def value(self, x: Array, n: int = 2, condition: float = 10.0, **params: Any) -> Array:
        return 0.5 * np.sum(self.curvatures(n, condition) * x * x, axis=1)

    def gradient(self, x: Array, n: int = 2, condition: float = 10.0, **params: Any) -> Array:
        return self.curvatures(n, condition) * x

    def hessian(self, x: Array, n: int = 2, condition: float = 10.0, **params: Any) -> Array:
        return _diagonal(np.broadcast_to(self.curvatures(n, condition), x.shape))

    def minima(self, n: int = 2, **params: Any) -> tuple[Minimum, ...]:
        origin = (0.0,) * n
        return (Minimum(origin, 0.0, _label(origin)),)


class Rosenbrock(Objective):
    """Rosenbrock's narrow curved valley in n variables, its minimum at (1, ..., 1), f = 0.

    f = sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 over i = 1 .. n-1. Only the global minimum is
    declared (for 4 <= n <= 7 there is a local one too, near (-1, 1, ..., 1))."""

    name = "rosenbrock"
    params = (_dimension_param("valley"),)

    def dimension(self, n: int = 2, **params: Any) -> int:
        return n

    def box(self, n: int = 2, **params: Any) -> tuple[Array, Array]:
        return _cube(n, 2.0)

    def value(self, x: Array, **params: Any) -> Array:
        head, tail = x[:, :-1], x[:, 1:]
        return np.sum(100.0 * (tail - head * head) ** 2 + (1.0 - head) ** 2, axis=1)

    def gradient(self, x: Array, **params: Any) -> Array:
        head, tail = x[:, :-1], x[:, 1:]
        valley = tail - head * head
        g = np.zeros_like(x)
        g[:, :-1] = -400.0 * head * valley - 2.0 * (1.0 - head)
        g[:, 1:] += 200.0 * valley
        return g

    def hessian(self, x: Array, **params: Any) -> Array:
        P, n = x.shape
        head, tail = x[:, :-1], x[:, 1:]
        d = np.zeros_like(x)
        d[:, :-1] = 1200.0 * head * head - 400.0 * tail + 2.0
        d[:, 1:] += 200.0
        H = _diagonal(d)
        idx = np.arange(n - 1)
        H[:, idx, idx + 1] = H[:, idx + 1, idx] = -400.0 * head
        return H

    def minima(self, n: int = 2, **params: Any) -> tuple[Minimum, ...]:
        ones = (1.0,) * n
        return (Minimum(ones, 0.0, _label(ones)),)


class Beale(Objective):
    """Beale's function: flat plateaus, steep ridges, its minimum at (3, 0.5), f = 0.

    f = (1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2, with a saddle at
    (0, 1)."""

    name = "beale"

    def dimension(self, **params: Any) -> int:
        return 2

    def box(self, **params: Any) -> tuple[Array, Array]:
        return _box([-4.5, -4.5], [4.5, 4.5])

    @staticmethod
    def _terms(x: Array) -> tuple[Array, ...]:
        u, v = x[:, 0], x[:, 1]
        t1 = 1.5 - u + u * v
        t2 = 2.25 - u + u * v * v
        t3 = 2.625 - u + u * v**3
        return u, v, t1, t2, t3

    def value(self, x: Array, **params: Any) -> Array:
        _, _, t1, t2, t3 = self._terms(x)
        return t1 * t1 + t2 * t2 + t3 * t3

    def gradient(self, x: Array, **params: Any) -> Array:
        u, v, t1, t2, t3 = self._terms(x)
        gu = 2.0 * (t1 * (v - 1.0) + t2 * (v * v - 1.0) + t3 * (v**3 - 1.0))
        gv = 2.0 * (t1 * u + t2 * 2.0 * u * v + t3 * 3.0 * u * v * v)
        return np.stack([gu, gv], axis=1)

    def hessian(self, x: Array, **params: Any) -> Array:
        u, v, t1, t2, t3 = self._terms(x)
        # d t_k / du = v^k - 1 and d t_k / dv = k u v^(k-1)
        du = (v - 1.0, v * v - 1.0, v**3 - 1.0)
        dv = (u, 2.0 * u * v, 3.0 * u * v * v)
        r = 2.0 * sum(a * a for a in du)
        t = 2.0 * (sum(b * b for b in dv) + t2 * 2.0 * u + t3 * 6.0 * u * v)
        s = 2.0 * (sum(a * b for a, b in zip(du, dv, strict=True)) + t1 + t2 * 2.0 * v)
        s = s + 2.0 * t3 * 3.0 * v * v
        return _two_by_two(r, s, t)

    def minima(self, **params: Any) -> tuple[Minimum, ...]:
        return (Minimum((3.0, 0.5), 0.0, "(3, 0.5)"),)

    def saddles(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        return ((0.0, 1.0),)


class Booth(Objective):
    """Booth's function (x + 2y - 7)^2 + (2x + y - 5)^2: a quadratic, its minimum (1, 3), f = 0."""

    name = "booth"

    def dimension(self, **params: Any) -> int:
        return 2

    def box(self, **params: Any) -> tuple[Array, Array]:
        return _box([-10.0, -10.0], [10.0, 10.0])

    def value(self, x: Array, **params: Any) -> Array:
        u, v = x[:, 0], x[:, 1]
        return (u + 2.0 * v - 7.0) ** 2 + (2.0 * u + v - 5.0) ** 2

    def gradient(self, x: Array, **params: Any) -> Array:
        u, v = x[:, 0], x[:, 1]
        return np.stack([10.0 * u + 8.0 * v - 34.0, 8.0 * u + 10.0 * v - 38.0], axis=1)

    def hessian(self, x: Array, **params: Any) -> Array:
        P = len(x)
        return _two_by_two(np.full(P, 10.0), np.full(P, 8.0), np.full(P, 10.0))

    def minima(self, **params: Any) -> tuple[Minimum, ...]:
        return (Minimum((1.0, 3.0), 0.0, "(1, 3)"),)


#: the six-hump camel's critical points (Newton's method from the literature's values)
_CAMEL_GLOBAL = (0.08984201310031806, -0.7126564030207396)
_CAMEL_LOCAL = (
    ((1.703606714969981, -0.7960835686726251), -0.2154638243837197),
    ((1.607104752920198, 0.5686514548841313), 2.104250310311259),
)
_CAMEL_MAXIMUM = (1.2302298765166526, 0.16233458445899498)
_CAMEL_SADDLES = (
    (1.109205336804786, -0.7682680925095399),
    (1.638067984189779, 0.2286740690443941),
    (1.296070267167109, 0.6050843880386585),
)


class SixHumpCamel(Objective):
    """The six-hump camel: two global minima at f = -1.0316, four local ones, seven saddles.

    f = (4 - 2.1 x^2 + x^4 / 3) x^2 + x y + (4 y^2 - 4) y^2, and two local maxima (f = 2.496)."""

    name = "six_hump_camel"

    def dimension(self, **params: Any) -> int:
        return 2

    def box(self, **params: Any) -> tuple[Array, Array]:
        return _box([-3.0, -2.0], [3.0, 2.0])

    def value(self, x: Array, **params: Any) -> Array:
        u, v = x[:, 0], x[:, 1]
        u2, v2 = u * u, v * v
        return (4.0 - 2.1 * u2 + u2 * u2 / 3.0) * u2 + u * v + (4.0 * v2 - 4.0) * v2

    def gradient(self, x: Array, **params: Any) -> Array:
        u, v = x[:, 0], x[:, 1]
        gu = 8.0 * u - 8.4 * u**3 + 2.0 * u**5 + v
        gv = u - 8.0 * v + 16.0 * v**3
        return np.stack([gu, gv], axis=1)

    def hessian(self, x: Array, **params: Any) -> Array:
        u, v = x[:, 0], x[:, 1]
        r = 8.0 - 25.2 * u * u + 10.0 * u**4
        t = 48.0 * v * v - 8.0
        return _two_by_two(r, np.ones_like(u), t)

    def minima(self, **params: Any) -> tuple[Minimum, ...]:
        value = -1.031628453489877
        u, v = _CAMEL_GLOBAL
        out = [
            Minimum((u, v), value, "global (0.0898, -0.713)"),
            Minimum((-u, -v), value, "global (-0.0898, 0.713)"),
        ]
        for (u, v), f in _CAMEL_LOCAL:
            for sign in (1.0, -1.0):
                p = (sign * u, sign * v)
                out.append(Minimum(p, f, "local " + _label(p), global_=False))
        return tuple(out)

    def maxima(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        u, v = _CAMEL_MAXIMUM
        return ((u, v), (-u, -v))  # f = 2.496

    def saddles(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        out = [(0.0, 0.0)]
        for u, v in _CAMEL_SADDLES:
            out.extend([(u, v), (-u, -v)])
        return tuple(out)


class Rastrigin(Objective):
    """Rastrigin's function: a bowl under a grid of local minima, the global one at 0, f = 0.

    f = A n + sum x_i^2 - A cos(2 pi x_i) in n variables (the local minima are not declared)."""

    name = "rastrigin"
    params = (
        _dimension_param("function"),
        Param("A", float, 10.0, "amplitude of the cosine ripples", low=0.0, low_open=True),
    )

    def dimension(self, n: int = 2, **params: Any) -> int:
        return n

    def box(self, n: int = 2, **params: Any) -> tuple[Array, Array]:
        return _cube(n, 5.12)

    def value(self, x: Array, A: float = 10.0, **params: Any) -> Array:
        return np.sum(x * x - A * np.cos(2.0 * np.pi * x) + A, axis=1)

    def gradient(self, x: Array, A: float = 10.0, **params: Any) -> Array:
        return 2.0 * x + 2.0 * np.pi * A * np.sin(2.0 * np.pi * x)

    def hessian(self, x: Array, A: float = 10.0, **params: Any) -> Array:
        return _diagonal(2.0 + 4.0 * np.pi**2 * A * np.cos(2.0 * np.pi * x))

    def minima(self, n: int = 2, **params: Any) -> tuple[Minimum, ...]:
        origin = (0.0,) * n
        return (Minimum(origin, 0.0, "global " + _label(origin)),)


@hookimpl
def register_objectives(register: Any) -> None:
    for objective in (
        Bowl(),
        Rosenbrock(),
        Himmelblau(),
        Beale(),
        Booth(),
        SixHumpCamel(),
        Rastrigin(),
        Saddle(),
        MonkeySaddle(),
        Quartic(),
    ):
        register(objective)
