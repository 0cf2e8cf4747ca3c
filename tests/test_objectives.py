"""Objectives as numerics: gradient descent on the built-in objectives reaches the minimum of the
basin it starts in, and the second-derivative test classes their known critical points.

The objectives come from the registry (every built-in with known minima, at its defaults); the
descent is :func:`runner.engine.descent.descend` with the built-in gd rule and one learning
rate per member. (Their derivatives against central differences: tests/test_conformance.py.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from runner import Objective
from runner.engine.buffers import member_hyper
from runner.engine.curvature import zero_tolerance
from runner.engine.descent import (
    REACH,
    DescentSchedule,
    classify_end,
    descend,
    determinant_test,
    determinant_verdict,
    hessians,
    reached,
)
from runner.plugin.registry import get_registry

REGISTRY = get_registry()
BUILTINS = [o for o in REGISTRY.objectives.values() if o.distribution == "runner-mlp"]
#: x^4 + y^4's minimum is degenerate (its Hessian vanishes): no curvature to set a rate by
DEGENERATE_MINIMA = {"quartic"}
WITH_MINIMA = [o for o in BUILTINS if o.minima(**o.defaults()) and o.name not in DEGENERATE_MINIMA]
WITH_CRITICAL_POINTS = [o for o in BUILTINS if o.minima(**o.defaults()) or o.saddles()]
GD = REGISTRY.step_rules["gd"]


def _gd(learning_rates: Any) -> dict[str, Any]:
    """gd's hyperparameters with one learning rate per member."""
    return member_hyper(GD, [GD.resolve({"learning_rate": float(r)}) for r in learning_rates])


def _labels(objective: Objective, params: dict[str, Any], x: np.ndarray) -> list[str | None]:
    return [m.label if m is not None else None for m in reached(objective, params, x)]


@pytest.mark.parametrize("objective", WITH_MINIMA, ids=lambda o: o.name)
def test_gd_from_inside_a_basin_reaches_its_minimum(objective: Objective) -> None:
    """Each known minimum, started from 1% of the box away in every coordinate (alternating
    signs), with its own learning rate 1 / (the largest curvature there): the textbook 1/L;
    stopped by a gradient norm that puts it well within reach of a minimum."""
    params = objective.defaults()
    minima = objective.minima(**params)
    points = np.array([m.point for m in minima])
    low, high = objective.box(**params)
    signs = np.where(np.arange(len(low)) % 2 == 0, 1.0, -1.0)
    starts = points + 0.01 * (high - low) * signs
    curvatures = np.linalg.eigvalsh(hessians(objective, params, points))
    largest = curvatures[:, -1]
    # stop where the gradient puts a quadratic's minimum within a quarter of the reach
    tolerance = 0.25 * REACH * np.linalg.norm(high - low) * curvatures[:, 0].min()
    schedule = DescentSchedule(iterations=20_000, gradient_tolerance=tolerance)
    descent = descend(objective, params, starts, GD, _gd(1.0 / largest), schedule)
    assert descent.stop_reason == ["gradient_tolerance"] * len(minima)
    assert _labels(objective, params, descent.final_x) == [m.label for m in minima]


def test_gd_from_each_quadrant_reaches_himmelblaus_minimum_there() -> None:
    himmelblau = REGISTRY.objectives["himmelblau"]
    quadrants = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    starts = np.vstack([2.5 * quadrants, 4.5 * quadrants])  # near the middle, and at the corners
    rates = [0.001, 0.002, 0.005, 0.01] * 2
    schedule = DescentSchedule(iterations=5000, gradient_tolerance=1e-6)
    descent = descend(himmelblau, {}, starts, GD, _gd(rates), schedule)
    expected = {(1, 1): "(3, 2)", (-1, 1): "(-2.81, 3.13)", (-1, -1): "(-3.78, -3.28)"}
    expected[(1, -1)] = "(3.58, -1.85)"
    want = [expected[(int(np.sign(u)), int(np.sign(v)))] for u, v in starts]
    assert _labels(himmelblau, {}, descent.final_x) == want
    assert descent.converged.all()


def _critical_points(objective: Objective) -> tuple[np.ndarray, np.ndarray]:
    """The known minima and saddles at the defaults, each ``(k, n)`` (k may be 0)."""
    params = objective.defaults()
    n = objective.dimension(**params)
    minima = [m.point for m in objective.minima(**params)]
    saddles = list(objective.saddles(**params))
    return np.array(minima).reshape(-1, n), np.array(saddles).reshape(-1, n)


@pytest.mark.parametrize("objective", WITH_CRITICAL_POINTS, ids=lambda o: o.name)
def test_the_hessian_test_classes_the_known_critical_points(objective: Objective) -> None:
    """Minimum at every known minimum, saddle at every known saddle (the monkey saddle's origin
    is degenerate: the test fails there), each stationary; for two variables the notes'
    rt - s^2 test says the same."""
    params = objective.defaults()
    minima, saddles = _critical_points(objective)
    degenerate = objective.name == "monkey_saddle"
    low = "degenerate" if objective.name in DEGENERATE_MINIMA else "minimum"
    for points, kind in ((minima, low), (saddles, "degenerate" if degenerate else "saddle")):
        if not len(points):
            continue
        g = np.linalg.norm(objective.gradient(points, **params), axis=1)
        classes = classify_end(objective, params, points, g)
        assert [(c.kind, c.stationary) for c in classes] == [(kind, True)] * len(points)
        if points.shape[1] != 2:
            continue
        for H in hessians(objective, params, points):
            determinant, r = determinant_test(H)
            if kind == "minimum":
                assert determinant > 0 and r > 0
            elif kind == "saddle":
                assert determinant < 0
            else:  # the test fails: rt - s^2 is 0 to rounding
                assert abs(determinant) <= zero_tolerance(np.linalg.eigvalsh(H))


def test_the_notes_two_saddles_are_a_saddle_and_a_degenerate_point() -> None:
    origin = np.zeros((1, 2))
    saddle, monkey = REGISTRY.objectives["saddle"], REGISTRY.objectives["monkey_saddle"]
    assert classify_end(saddle, {}, origin, np.zeros(1))[0].label == "saddle stationary"
    assert classify_end(monkey, {}, origin, np.zeros(1))[0].label == "degenerate stationary"
    assert determinant_test(hessians(saddle, {}, origin)[0]) == (-4.0, 2.0)
    assert determinant_test(hessians(monkey, {}, origin)[0]) == (0.0, 0.0)


# --- the notes' two-variable test: r, s, t, rt - s^2 and the verdict --------------------------


def _central_hessian(objective: Objective, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """f_xx, f_xy, f_yy by central differences of the value alone (not of the gradient)."""

    def f(dx: float, dy: float) -> float:
        return float(objective.value(x[None] + np.array([[dx, dy]]))[0])

    r = (f(h, 0) - 2 * f(0, 0) + f(-h, 0)) / h**2
    t = (f(0, h) - 2 * f(0, 0) + f(0, -h)) / h**2
    s = (f(h, h) - f(h, -h) - f(-h, h) + f(-h, -h)) / (4 * h * h)
    return np.array([[r, s], [s, t]])


def test_himmelblau_declares_its_local_maximum_where_the_gradient_vanishes_and_h_is_negative():
    from runner.testing import check_objective

    himmelblau = REGISTRY.objectives["himmelblau"]
    (top,) = himmelblau.maxima()
    x = np.array([top])
    assert np.allclose(top, (-0.270845, -0.923039), atol=1e-6)
    assert himmelblau.value(x)[0] == pytest.approx(181.617, abs=1e-3)
    assert np.linalg.norm(himmelblau.gradient(x)) < 1e-12
    H = _central_hessian(himmelblau, x[0])
    assert np.allclose(H, himmelblau.hessian(x)[0], rtol=1e-5, atol=1e-4)
    assert np.all(np.linalg.eigvalsh(H) < 0)  # negative definite: a maximum
    r, s, t = H[0, 0], H[0, 1], H[1, 1]
    assert determinant_verdict(r, s, t) == "maximum" and r * t - s * s > 0 and r < 0
    check_objective(himmelblau)  # its maxima checked with the rest


def test_a_declared_maximum_that_is_no_maximum_is_refused():
    from runner.testing import check_objective

    class Wrong(type(REGISTRY.objectives["himmelblau"])):
        def maxima(self, **params):
            return ((3.0, 2.0),)  # a minimum

    with pytest.raises(AssertionError, match=r"maximum \(3, 2\).*negative definite"):
        check_objective(Wrong())


def test_the_quartic_s_derivatives_match_central_differences_and_its_minimum_is_degenerate():
    from runner.testing import check_objective

    quartic = REGISTRY.objectives["quartic"]
    check_objective(quartic)
    for point in ([0.3, -0.7], [0.9, 0.2]):
        x = np.array(point)
        assert np.allclose(quartic.hessian(x[None])[0], _central_hessian(quartic, x), rtol=1e-5)
    H = quartic.hessian(np.zeros((1, 2)))[0]
    assert determinant_test(H) == (0.0, 0.0)
    assert determinant_verdict(H[0, 0], H[0, 1], H[1, 1]) == "test fails"


@pytest.mark.parametrize(
    ("r", "s", "t", "verdict"),
    [
        (2.0, 0.0, 2.0, "minimum"),
        (-2.0, 1.0, -2.0, "maximum"),
        (2.0, 0.0, -2.0, "saddle"),
        (1.0, 2.0, 1.0, "saddle"),  # r, t > 0 but s^2 > rt
        (0.0, 0.0, 0.0, "test fails"),
        (2.0, 0.0, 1e-9, "test fails"),  # one eigenvalue zero within the tolerance
        (1e-8, 0.0, 1e-7, "test fails"),
    ],
)
def test_the_notes_verdict_reads_rt_minus_s_squared_and_r(r, s, t, verdict):
    assert determinant_verdict(r, s, t) == verdict
    H = np.array([[[r, s], [s, t]]])
    kind = classify_end_kind(H)
    assert kind == {"test fails": "degenerate"}.get(verdict, verdict)  # the same as eigenvalues


def classify_end_kind(H: np.ndarray) -> str:
    from runner.engine.descent import classify_hessians

    return classify_hessians(H, np.zeros(1))[0].kind


@pytest.mark.parametrize(
    "objective", [o for o in BUILTINS if o.maxima(**o.defaults())], ids=lambda o: o.name
)
def test_every_declared_maximum_is_one_by_central_differences(objective: Objective) -> None:
    """Himmelblau's and the six-hump camel's maxima: the gradient vanishes and the Hessian of
    the value's central differences is negative definite there (rt - s^2 > 0, r < 0)."""
    for top in objective.maxima():
        x = np.asarray(top)
        assert np.linalg.norm(objective.gradient(x[None])) < 1e-10
        H = _central_hessian(objective, x)
        assert np.all(np.linalg.eigvalsh(H) < 0)
        assert determinant_verdict(H[0, 0], H[0, 1], H[1, 1]) == "maximum"
