"""The objective goldstein_price: a third party's analytic function to minimize.

It gives its value and gradient and no Hessian (the Hessian is optional: the core differences
the gradient centrally where it needs one), a box to draw starts from, and its known minima and
saddles; the critical points of Goldstein and Price's function lie at round numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Minimum, Objective

Array = np.ndarray


class GoldsteinPrice(Objective):
    """Goldstein and Price's function: its global minimum at (0, -1), f = 3, three local ones."""

    name = "goldstein_price"

    def dimension(self, **params: Any) -> int:
        return 2

    def box(self, **params: Any) -> tuple[Array, Array]:
        return np.array([-2.0, -2.0]), np.array([2.0, 2.0])

    @staticmethod
    def _parts(x: Array) -> tuple[Array, ...]:
        u, v = x[:, 0], x[:, 1]
        a = u + v + 1.0
        b = 19.0 - 14.0 * u + 3.0 * u * u - 14.0 * v + 6.0 * u * v + 3.0 * v * v
        c = 2.0 * u - 3.0 * v
        d = 18.0 - 32.0 * u + 12.0 * u * u + 48.0 * v - 36.0 * u * v + 27.0 * v * v
        return u, v, a, b, c, d

    def value(self, x: Array, **params: Any) -> Array:
        _, _, a, b, c, d = self._parts(x)
        return (1.0 + a * a * b) * (30.0 + c * c * d)

    def gradient(self, x: Array, **params: Any) -> Array:
        u, v, a, b, c, d = self._parts(x)
        first, second = 1.0 + a * a * b, 30.0 + c * c * d
        # the first factor has the same partial derivative in u and in v
        d_first = 2.0 * a * b + a * a * (6.0 * u + 6.0 * v - 14.0)
        d_second_u = 4.0 * c * d + c * c * (24.0 * u - 36.0 * v - 32.0)
        d_second_v = -6.0 * c * d + c * c * (54.0 * v - 36.0 * u + 48.0)
        return np.stack(
            [d_first * second + first * d_second_u, d_first * second + first * d_second_v], axis=1
        )

    def minima(self, **params: Any) -> tuple[Minimum, ...]:
        return (
            Minimum((0.0, -1.0), 3.0, "global (0, -1)"),
            Minimum((-0.6, -0.4), 30.0, "local (-0.6, -0.4)", global_=False),
            Minimum((1.8, 0.2), 84.0, "local (1.8, 0.2)", global_=False),
            Minimum((1.2, 0.8), 840.0, "local (1.2, 0.8)", global_=False),
        )

    def saddles(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        return ((-0.4, -0.6), (1.2, -0.2), (1.4, 0.6), (0.6, 0.4))
