"""The conformance kit: checks plugin authors call in their own tests, and ``runner check`` runs.

Every check raises :class:`AssertionError` with a message that names the plugin, the check that
failed, what was expected and what came out (for derivatives, the largest relative error against
central finite differences). The kit needs no test framework; call it from pytest, unittest or a
plain script::

    from runner.testing import check_plugin

    def test_my_activation():
        check_plugin(MyActivation())

    def test_my_activation_with_params():
        check_plugin(MyActivation(), {"steepness": 3.0})

Derivatives are compared in float64 with fourth-order central differences,
``(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h`` with ``h = 1e-3``, at points drawn from a
fixed seed away from zero (``|z| >= 0.05``), so that activations with a kink at zero pass; an
activation with a kink elsewhere may need another ``seed``. The relative error of an element is
``|got - expected| / max(|got|, |expected|, 1e-3 * largest magnitude)``: elements far below the
scale of the array (of the member, for whole networks) are judged against that scale, so that
rounding in the difference quotient does not count as an error.

The kit names no concrete plugin: it calls only the methods that :mod:`runner.kinds` defines.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

import numpy as np

from runner.kinds import Activation, Cost, Dataset, DatasetSource, Initializer, StepRule, Strategy
from runner.network import Network
from runner.params import Param, Plugin

__all__ = [
    "RTOL",
    "check_activation",
    "check_cost",
    "check_dataset",
    "check_initializer",
    "check_network_gradients",
    "check_plugin",
    "check_step_rule",
    "check_strategy",
    "relative_error",
    "sample_outputs",
    "sample_targets",
    "sample_z",
]

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

_LABELS = {
    "activation": "activation",
    "cost": "cost",
    "step_rule": "step rule",
    "strategy": "strategy",
    "initializer": "initializer",
    "dataset": "dataset",
}


# -- messages -----------------------------------------------------------------------------------


def _label(obj: Any) -> str:
    kind = getattr(obj, "kind", type(obj).__name__)
    name = getattr(obj, "name", "") or type(obj).__name__
    dist = getattr(obj, "distribution", "")
    return f"{_LABELS.get(kind, kind)} {name!r}" + (f" (from {dist})" if dist else "")


def _fail(obj: Any, check: str, detail: str) -> NoReturn:
    raise AssertionError(f"{_label(obj)}: {check}: {detail}")


def _call(obj: Any, check: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a plugin method; an exception it raises becomes an AssertionError naming the check."""
    try:
        return fn(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as exc:  # whatever a plugin raises is a failed check
        _fail(obj, check, f"raised {type(exc).__name__}: {exc}")


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


def _assert_close(
    obj: Any,
    check: str,
    got: Array,
    expected: Array,
    rtol: float,
    got_name: str = "analytic",
    expected_name: str = "central differences",
    scale: Array | float | None = None,
) -> None:
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        _fail(obj, check, f"expected shape {expected.shape}, got {got.shape}")
    err = relative_error(got, expected, scale=scale)
    nan = np.isnan(err)
    worst_flat = int(np.flatnonzero(nan)[0]) if nan.any() else int(np.argmax(err))
    worst = np.unravel_index(worst_flat, err.shape) if err.ndim else ()
    max_err = float(err[worst])
    if not max_err <= rtol:
        where = f" at index {tuple(int(i) for i in worst)}" if worst else ""
        _fail(
            obj,
            check,
            f"{got_name} {float(got[worst]):.10g} vs {expected_name} {float(expected[worst]):.10g}"
            f"{where}; max relative error {max_err:.3g} > {rtol:g}",
        )


def _assert_array(obj: Any, check: str, x: Any, shape: tuple[int, ...], dtype: Any) -> Array:
    if not isinstance(x, np.ndarray):
        _fail(obj, check, f"expected a numpy array, got {type(x).__name__}")
    if x.shape != tuple(shape):
        _fail(obj, check, f"expected shape {tuple(shape)}, got {x.shape}")
    if dtype is not None and x.dtype != dtype:
        _fail(obj, check, f"expected dtype {np.dtype(dtype)}, got {x.dtype}")
    return x


def _assert_finite(obj: Any, check: str, x: Array) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        _fail(obj, check, f"expected finite values, got {x[index]} at index {index}")


def _assert_equal(obj: Any, check: str, got: Array, expected: Array) -> None:
    """Bitwise equality (NaN equal to NaN), with the first differing element in the message."""
    if got.shape != expected.shape:
        _fail(obj, check, f"expected shape {expected.shape}, got {got.shape}")
    if got.dtype != expected.dtype:
        _fail(obj, check, f"expected dtype {expected.dtype}, got {got.dtype}")
    if not np.array_equal(got, expected, equal_nan=True):
        differ = ~((got == expected) | (np.isnan(got) & np.isnan(expected)))
        index = tuple(int(i) for i in np.argwhere(differ)[0])
        _fail(
            obj,
            check,
            f"expected {expected[index].item()!r}, got {got[index].item()!r} at index {index} "
            "(bitwise equality)",
        )


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


# -- declared parameters ------------------------------------------------------------------------


def _missing_required(obj: Plugin, given: Mapping[str, Any]) -> list[str]:
    return [p.name for p in obj.params if p.required and p.name not in given]


def _resolve(obj: Plugin, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check the plugin's declarations and merge ``params`` over its defaults."""
    declared = obj.params
    if not isinstance(declared, tuple) or not all(isinstance(p, Param) for p in declared):
        _fail(obj, "declared parameters", "params must be a tuple of runner.Param")
    names = [p.name for p in declared]
    if len(set(names)) != len(names):
        _fail(obj, "declared parameters", f"a parameter name is declared twice: {names}")
    for p in declared:
        if p.required or p.default is None:
            continue
        try:
            p.coerce(p.default)
        except ValueError as exc:
            _fail(
                obj,
                "declared parameters",
                f"the default {p.default!r} of {p.name!r} is not {exc}",
            )
    given = dict(params or {})
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ValueError(f"{_label(obj)} declares no parameter {', '.join(unknown)}")
    return obj.resolve(given)


# -- activations --------------------------------------------------------------------------------


def check_activation(
    activation: Activation,
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    rtol: float = RTOL,
) -> None:
    """Check an activation against the contract of :class:`runner.Activation`.

    - ``forward`` returns an array of the input's shape and dtype (float64 and float32), finite,
      inside ``output_range`` and, if ``normalizes``, summing to 1 over units;
    - on a population ``(P, N, S)`` each member's slice of ``forward`` and ``backward`` is
      bitwise what computing that member alone gives;
    - ``backward(z, a, grad_a)`` matches central differences of ``sum(grad_a * forward(z))``
      with respect to ``z`` (float64, relative error below ``rtol``);
    - when the activation is elementwise (changing one ``z`` changes only its own ``a``),
      ``derivative(z, a)`` matches the central differences of ``forward`` too.
    """
    kw = _resolve(activation, params)
    rng = np.random.default_rng(seed)
    P, N, S = SHAPE
    lo, hi = (float(v) for v in activation.output_range)

    for dtype in (np.float64, np.float32):
        check = f"forward ({np.dtype(dtype)})"
        for z in (sample_z(rng, SHAPE, dtype), sample_z(rng, SHAPE, dtype, 0.0, 30.0)):
            a = _call(activation, check, activation.forward, z, **kw)
            _assert_array(activation, check, a, z.shape, dtype)
            _assert_finite(activation, check, a)
            if a.min() < lo or a.max() > hi:
                bad = a[(a < lo) | (a > hi)][0]
                _fail(
                    activation,
                    check,
                    f"output {bad} lies outside output_range [{lo:g}, {hi:g}]",
                )
            if activation.normalizes:
                sums = a.astype(np.float64).sum(axis=-2)
                tol = 10 * N * np.finfo(dtype).eps
                if np.abs(sums - 1.0).max() > tol:
                    _fail(
                        activation,
                        check,
                        f"normalizes is set but the outputs of a sample sum to "
                        f"{sums.flat[np.argmax(np.abs(sums - 1.0))]!r}, expected 1",
                    )
        grad_a = rng.standard_normal(SHAPE).astype(dtype)
        check = f"backward ({np.dtype(dtype)})"
        d = _call(activation, check, activation.backward, z, a, grad_a, **kw)
        _assert_array(activation, check, d, z.shape, dtype)

    z = sample_z(rng)
    a = _call(activation, "forward", activation.forward, z, **kw)
    grad_a = rng.standard_normal(SHAPE)
    back = _call(activation, "backward", activation.backward, z, a, grad_a, **kw)
    for p in range(P):
        one = slice(p, p + 1)
        check = f"population broadcasting (member {p} alone)"
        a_p = _call(activation, check, activation.forward, z[one], **kw)
        _assert_equal(activation, f"{check}: forward", a_p, a[one])
        d_p = _call(activation, check, activation.backward, z[one], a[one], grad_a[one], **kw)
        _assert_equal(activation, f"{check}: backward", d_p, back[one])

    # central differences: perturb unit n of sample s in every member at once (members are
    # independent, as checked above)
    fd_back = np.empty(SHAPE)
    fd_diag = np.empty(SHAPE)
    elementwise = True
    for n in range(N):
        for s in range(S):
            back_sum = np.zeros(P)
            diag_sum = np.zeros(P)
            for offset, weight in STENCIL:
                zk = z.copy()
                zk[:, n, s] += offset * STEP
                change = _call(activation, "forward", activation.forward, zk, **kw) - a
                back_sum += weight * (grad_a * change).sum(axis=(1, 2))
                diag_sum += weight * change[:, n, s]
                change[:, n, s] = 0.0
                elementwise &= not change.any()
            fd_back[:, n, s] = back_sum / (12 * STEP)
            fd_diag[:, n, s] = diag_sum / (12 * STEP)
    _assert_close(
        activation,
        "backward(z, a, grad_a) vs central differences of sum(grad_a * forward(z))",
        back,
        fd_back,
        rtol,
    )
    if elementwise:
        deriv = _call(activation, "derivative", activation.derivative, z, a, **kw)
        _assert_array(activation, "derivative", deriv, z.shape, np.float64)
        _assert_close(
            activation, "derivative(z, a) vs central differences of forward", deriv, fd_diag, rtol
        )
        z32 = z.astype(np.float32)
        a32 = activation.forward(z32, **kw)
        deriv32 = _call(activation, "derivative (float32)", activation.derivative, z32, a32, **kw)
        _assert_array(activation, "derivative (float32)", deriv32, z.shape, np.float32)


# -- costs --------------------------------------------------------------------------------------


def _output_activations(
    cost: Cost, activations: Iterable[Any] | None
) -> list[tuple[Activation, dict[str, Any]]]:
    """The (activation, parameters) pairs to check ``cost`` with: given, or every registered one."""
    if activations is None:
        from runner.manager import get_registry

        candidates: list[Any] = list(get_registry().activations.values())
    else:
        candidates = list(activations)
    pairs = []
    for item in candidates:
        act, act_params = item if isinstance(item, tuple) else (item, None)
        reason = _call(cost, f"accepts({act.name!r})", cost.accepts, act)
        if reason is not None and not isinstance(reason, str):
            _fail(
                cost,
                f"accepts({act.name!r})",
                f"expected None or a reason (str), got {type(reason).__name__}",
            )
        if reason is None:
            pairs.append((act, act.resolve(act_params or {})))
    return pairs


def check_cost(
    cost: Cost,
    params: Mapping[str, Any] | None = None,
    activations: Iterable[Activation | tuple[Activation, Mapping[str, Any]]] | None = None,
    *,
    seed: int = 0,
    rtol: float = RTOL,
) -> None:
    """Check a cost against the contract of :class:`runner.Cost`.

    Outputs ``a`` are drawn inside ``input_range`` and targets ``y`` valid for the cost (see
    :func:`sample_targets`). Checks that:

    - ``value`` has shape ``(P,)``, is finite, and keeps float32 as float32; ``derivative`` has
      the shape and dtype of ``a``; each member's slice of both is bitwise what it gets alone;
    - ``derivative`` (per sample) matches ``S`` times the central differences of ``value``
      (which is a mean over the ``S`` samples) with respect to ``a``;
    - for every output activation the cost ``accepts`` (``activations``: objects or
      ``(activation, params)`` pairs; by default every registered activation), the output-layer
      dc/dz through the activation matches ``S`` times the central differences of
      ``value(forward(z))``: the cost's ``delta`` when it returns one (and then it must also
      equal the chain rule ``backward(z, a, derivative(a, y))``), otherwise the chain rule.
    """
    kw = _resolve(cost, params)
    rng = np.random.default_rng(seed)
    P, N, S = SHAPE

    for dtype in (np.float64, np.float32):
        a = sample_outputs(cost, rng, SHAPE, dtype)
        y = sample_targets(cost, rng, SHAPE, dtype)
        check = f"value ({np.dtype(dtype)})"
        v = _call(cost, check, cost.value, a, y, **kw)
        _assert_array(cost, check, v, (P,), dtype)
        _assert_finite(cost, check, v)
        check = f"derivative ({np.dtype(dtype)})"
        d = _call(cost, check, cost.derivative, a, y, **kw)
        _assert_array(cost, check, d, SHAPE, dtype)
        _assert_finite(cost, check, d)

    a = sample_outputs(cost, rng)
    y = sample_targets(cost, rng)
    v = cost.value(a, y, **kw)
    d = cost.derivative(a, y, **kw)
    for p in range(P):
        one = slice(p, p + 1)
        check = f"population broadcasting (member {p} alone)"
        _assert_equal(
            cost, f"{check}: value", _call(cost, check, cost.value, a[one], y[one], **kw), v[one]
        )
        _assert_equal(
            cost,
            f"{check}: derivative",
            _call(cost, check, cost.derivative, a[one], y[one], **kw),
            d[one],
        )

    fd = _differences(lambda x: cost.value(x, y, **kw), a) * S
    _assert_close(
        cost,
        "derivative(a, y) (per sample) vs S x central differences of value (a mean over samples)",
        d,
        fd,
        rtol,
    )

    for act, act_params in _output_activations(cost, activations):
        where = f"through output activation {act.name!r}"
        z = sample_z(rng)
        a = _call(cost, f"{where}: forward", act.forward, z, **act_params)
        y = sample_targets(cost, rng)
        fd = _differences(lambda x: cost.value(act.forward(x, **act_params), y, **kw), z) * S  # noqa: B023
        grad_a = cost.derivative(a, y, **kw)
        chain = _call(cost, f"{where}: backward", act.backward, z, a, grad_a, **act_params)
        delta = _call(cost, f"delta {where}", cost.delta, z, a, y, act, act_params, **kw)
        if delta is None:
            _assert_close(
                cost,
                f"chain rule backward(z, a, derivative(a, y)) {where} vs S x central differences "
                "of value(forward(z))",
                chain,
                fd,
                rtol,
            )
            continue
        _assert_array(cost, f"delta {where}", delta, SHAPE, None)
        _assert_close(
            cost,
            f"delta {where} vs S x central differences of value(forward(z))",
            delta,
            fd,
            rtol,
            got_name="delta",
        )
        _assert_close(
            cost,
            f"delta {where} vs the chain rule backward(z, a, derivative(a, y))",
            delta,
            chain,
            rtol,
            got_name="delta",
            expected_name="chain rule",
        )


def _differences(f: Callable[[Array], Array], x: Array) -> Array:
    """Central differences of a per-member function ``f(x) -> (P,)`` for every element of ``x``.

    Element ``[:, i, j]`` is perturbed in every member at once: a member's value depends on its
    own slice only.
    """
    out = np.empty(x.shape)
    f0 = np.asarray(f(x), dtype=np.float64)
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            total = np.zeros(x.shape[0])
            for offset, weight in STENCIL:
                xk = x.copy()
                xk[:, i, j] += offset * STEP
                total += weight * (np.asarray(f(xk), dtype=np.float64) - f0)
            out[:, i, j] = total / (12 * STEP)
    return out


# -- step rules ---------------------------------------------------------------------------------

_PARAM_SHAPES = ((3, 2), (3, 1), (1, 3), (1, 1))  # W1, b1, W2, b2 of a 2-3-1 network


def _member_values(param: Param, base: Any, P: int) -> Array:
    """``P`` valid values of a per-member hyperparameter around ``base``, shape ``(P, 1, 1)``."""
    values = []
    for factor in np.linspace(0.5, 1.0, P):
        try:
            values.append(float(param.coerce(base * factor)))
        except (TypeError, ValueError):
            values.append(float(base))
    return np.asarray(values, dtype=np.float64).reshape(P, 1, 1)


def _check_state(rule: StepRule, check: str, state: Any, P: int) -> None:
    if not isinstance(state, dict):
        _fail(rule, check, f"init_state must return a dict, got {type(state).__name__}")
    for key, arrays in state.items():
        if not isinstance(arrays, list):
            _fail(rule, check, f"state[{key!r}] must be a list of arrays")
        for i, s in enumerate(arrays):
            if not isinstance(s, np.ndarray) or s.ndim < 1 or s.shape[0] != P:
                shape = getattr(s, "shape", type(s).__name__)
                _fail(
                    rule,
                    check,
                    f"state[{key!r}][{i}] must have the population axis first: expected "
                    f"shape ({P}, ...), got {shape}",
                )


def _run_steps(
    rule: StepRule,
    params: list[Array],
    grads: list[list[Array]],
    hyper: dict[str, Any],
    check: str,
) -> dict[str, list[Array]]:
    P = params[0].shape[0]
    state = _call(rule, f"{check}: init_state", rule.init_state, params)
    _check_state(rule, f"{check}: init_state", state, P)
    for k, g in enumerate(grads, start=1):
        before = [p.copy() for p in params]
        ids = [id(p) for p in params]
        _call(rule, f"{check}: step {k}", rule.step, params, g, state, **hyper)
        if [id(p) for p in params] != ids:
            _fail(rule, f"{check}: step {k}", "params must be updated in place, not replaced")
        for i, (p, old) in enumerate(zip(params, before, strict=True)):
            _assert_array(rule, f"{check}: step {k}, params[{i}]", p, old.shape, old.dtype)
            if np.array_equal(p, old):
                _fail(
                    rule,
                    f"{check}: step {k}",
                    f"params[{i}] did not change although its gradient is not zero",
                )
        _check_state(rule, f"{check}: step {k}", state, P)
    return state


def check_step_rule(
    step_rule: StepRule,
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
) -> None:
    """Check a step rule against the contract of :class:`runner.StepRule`.

    A step rule has no derivative of its own, so there is no finite-difference check; instead:

    - ``step`` updates the parameter arrays in place (same objects), keeping shapes and dtypes
      (float64 and float32), and moves every array when its gradient is not zero;
    - every array of ``init_state`` has the population axis first;
    - with every ``per_member`` hyperparameter given as a ``(P, 1, 1)`` array of different
      values, each member's parameters and state after three steps are bitwise what running that
      member alone (with ``(1, 1, 1)`` arrays) gives;
    - on the convex quadratic ``f(w) = 1/2 w^T A w`` (eigenvalues of ``A`` in [0.05, 0.5]) each of
      five steps with the default hyperparameters (or ``params``) decreases ``f``.
    """
    shared = _resolve(step_rule, params)
    rng = np.random.default_rng(seed)
    P = SHAPE[0]
    per_member = {
        p.name: _member_values(p, shared[p.name], P)
        for p in step_rule.params
        if p.per_member and isinstance(shared.get(p.name), numbers.Real)
    }
    hyper = shared | per_member

    for dtype in (np.float64, np.float32):
        label = f"population of {P} ({np.dtype(dtype)})"
        start = [rng.standard_normal((P, *s)).astype(dtype) for s in _PARAM_SHAPES]
        grads = [
            [rng.standard_normal((P, *s)).astype(dtype) for s in _PARAM_SHAPES] for _ in range(3)
        ]
        together = [w.copy() for w in start]
        state = _run_steps(step_rule, together, grads, hyper, label)
        for p in range(P):
            one = slice(p, p + 1)
            alone = [w[one].copy() for w in start]
            hyper_p = shared | {k: v[one] for k, v in per_member.items()}
            check = f"member {p} alone ({np.dtype(dtype)})"
            state_p = _run_steps(
                step_rule, alone, [[g[one] for g in gs] for gs in grads], hyper_p, check
            )
            for i, (w_p, w) in enumerate(zip(alone, together, strict=True)):
                _assert_equal(
                    step_rule,
                    f"per-member hyperparameters: member {p} alone vs in the population, "
                    f"params[{i}] ({np.dtype(dtype)})",
                    w_p,
                    w[one],
                )
            for key, arrays in state.items():
                for i, (s_p, s) in enumerate(zip(state_p.get(key, []), arrays, strict=False)):
                    _assert_equal(
                        step_rule,
                        f"per-member hyperparameters: member {p} alone vs in the population, "
                        f"state[{key!r}][{i}] ({np.dtype(dtype)})",
                        s_p,
                        s[one],
                    )

    _check_descends(step_rule, shared, rng)


def _check_descends(rule: StepRule, hyper: dict[str, Any], rng: np.random.Generator) -> None:
    P = 2
    sizes = [int(np.prod(s)) for s in _PARAM_SHAPES]
    n = sum(sizes)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (q * np.linspace(0.05, 0.5, n)) @ q.T
    A = 0.5 * (A + A.T)
    splits = np.cumsum(sizes)[:-1]

    def flat(ws: list[Array]) -> Array:
        return np.concatenate([w.reshape(P, -1) for w in ws], axis=1)

    def f(ws: list[Array]) -> Array:
        x = flat(ws)
        return 0.5 * np.einsum("pi,ij,pj->p", x, A, x)

    def grad(ws: list[Array]) -> list[Array]:
        g = flat(ws) @ A
        return [
            part.reshape(P, *s)
            for part, s in zip(np.split(g, splits, axis=1), _PARAM_SHAPES, strict=True)
        ]

    ws = [rng.standard_normal((P, *s)) for s in _PARAM_SHAPES]
    state = _call(rule, "descent on a quadratic: init_state", rule.init_state, ws)
    value = f(ws)
    for k in range(1, 6):
        _call(rule, f"descent on a quadratic: step {k}", rule.step, ws, grad(ws), state, **hyper)
        new = f(ws)
        worse = np.flatnonzero(~(new < value))
        if worse.size:
            p = int(worse[0])
            _fail(
                rule,
                "descent on the convex quadratic f(w) = 1/2 w^T A w",
                f"step {k} took f from {value[p]:.6g} to {new[p]:.6g} for member {p}; expected "
                f"a decrease (hyperparameters {hyper})",
            )
        value = new


# -- strategies ---------------------------------------------------------------------------------


def check_strategy(strategy: Strategy, params: Mapping[str, Any] | None = None) -> None:
    """Check a strategy against the contract of :class:`runner.Strategy`.

    ``members`` is an integer >= 1; ``select`` returns an integer index into the losses it gets,
    picks the lowest finite loss, never a NaN or infinite one while a finite one exists, and
    still returns a valid index when none is finite.
    """
    kw = _resolve(strategy, params)
    k = _call(strategy, "members", strategy.members, **kw)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        _fail(strategy, "members", f"expected an integer >= 1, got {k!r}")
    nan, inf = np.nan, np.inf
    cases: list[tuple[list[float], int | None]] = [
        ([0.25], 0),
        ([0.5, 0.1, 0.3], 1),
        ([0.3, 0.2, 0.9, 0.7], 1),
        ([nan, 0.3, inf, 0.2, nan], 3),
        ([inf, 0.7, nan], 1),
        ([-inf, 0.4, 0.6], 1),
        ([nan, nan, 0.8], 2),
        ([nan, inf], None),
        ([nan], None),
    ]
    losses_k = np.random.default_rng(0).uniform(0.0, 1.0, int(k))
    cases.append((list(losses_k), int(np.argmin(losses_k))))
    for losses, expected in cases:
        arr = np.asarray(losses, dtype=np.float64)
        check = f"select({losses})"
        i = _call(strategy, check, strategy.select, arr, **kw)
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < arr.size:
            _fail(strategy, check, f"expected an integer index in [0, {arr.size}), got {i!r}")
        if expected is not None and int(i) != expected:
            why = (
                "a non-finite loss while a finite one exists"
                if not np.isfinite(arr[int(i)])
                else f"loss {arr[int(i)]:g}"
            )
            _fail(
                strategy,
                check,
                f"expected index {expected} (the lowest finite loss, {arr[expected]:g}), got "
                f"{int(i)} ({why})",
            )


# -- initializers -------------------------------------------------------------------------------


def check_initializer(
    initializer: Initializer, params: Mapping[str, Any] | None = None, *, seed: int = 0
) -> None:
    """Check an initializer against the contract of :class:`runner.Initializer`.

    ``initialize(rng, fan_in, fan_out)`` returns float arrays of shapes ``(fan_out, fan_in)`` and
    ``(fan_out, 1)``, all finite; equal seeds give bitwise equal weights whatever the state of
    numpy's global generator (draw only from ``rng``); different seeds give different weights.
    """
    kw = _resolve(initializer, params)

    def draw(s: int, fan_in: int, fan_out: int, check: str) -> tuple[Array, Array]:
        out = _call(
            initializer,
            check,
            initializer.initialize,
            np.random.default_rng(s),
            fan_in,
            fan_out,
            **kw,
        )
        if not isinstance(out, tuple) or len(out) != 2:
            _fail(initializer, check, f"expected a tuple (W, b), got {type(out).__name__}")
        return out

    for fan_in, fan_out in ((1, 1), (2, 3), (5, 2), (16, 8)):
        check = f"initialize(rng, fan_in={fan_in}, fan_out={fan_out})"
        W, b = draw(seed, fan_in, fan_out, check)
        for name, x, shape in (("W", W, (fan_out, fan_in)), ("b", b, (fan_out, 1))):
            _assert_array(initializer, f"{check}: {name}", x, shape, None)
            if not np.issubdtype(x.dtype, np.floating):
                _fail(initializer, f"{check}: {name}", f"expected a float dtype, got {x.dtype}")
            _assert_finite(initializer, f"{check}: {name}", x)

    # a plugin that draws from numpy's global generator instead of rng fails determinism
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(1)  # noqa: NPY002
        W1, b1 = draw(seed, 16, 8, "determinism")
        np.random.seed(2)  # noqa: NPY002
        W2, b2 = draw(seed, 16, 8, "determinism")
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    _assert_equal(initializer, f"determinism: W for equal seeds {seed}", W2, W1)
    _assert_equal(initializer, f"determinism: b for equal seeds {seed}", b2, b1)
    W3, b3 = draw(seed + 1, 16, 8, "different seeds")
    if np.array_equal(W3, W1) and np.array_equal(b3, b1):
        _fail(
            initializer,
            "different seeds",
            f"seeds {seed} and {seed + 1} gave the same weights; draw them from rng",
        )


# -- data sets ----------------------------------------------------------------------------------


def check_dataset(
    source: DatasetSource, params: Mapping[str, Any] | None = None, *, seed: int = 0
) -> None:
    """Check a data set source against the contract of :class:`runner.DatasetSource`.

    ``load(rng, **params)`` returns a :class:`runner.Dataset` whose ``X`` is a 2-D float array
    with at least one sample and one feature, all finite; whose ``y`` holds integer labels in
    ``[0, n_classes)`` of shape ``(S,)`` with ``n_classes >= 2`` for classification, or finite
    floats of shape ``(S, n_targets)`` for regression; with one feature name per column; and the
    same arrays for the same ``data_seed``. A source with required parameters (a path to a file)
    needs them in ``params``; :func:`check_plugin` skips it when they are not given.
    """
    missing = _missing_required(source, params or {})
    if missing:
        raise ValueError(
            f"{_label(source)} needs the parameters {', '.join(missing)}; pass them as params"
        )
    kw = _resolve(source, params)
    ds = _call(source, "load", source.load, np.random.default_rng(seed), **kw)
    if not isinstance(ds, Dataset):
        _fail(source, "load", f"expected a runner.Dataset, got {type(ds).__name__}")
    X, y = ds.X, ds.y
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        _fail(
            source, "X", f"expected a 2-D array (samples, features), got {getattr(X, 'shape', X)!r}"
        )
    if not np.issubdtype(X.dtype, np.floating):
        _fail(source, "X", f"expected a float dtype, got {X.dtype}")
    _assert_finite(source, "X", X)
    S, F = X.shape
    if not isinstance(y, np.ndarray):
        _fail(source, "y", f"expected a numpy array, got {type(y).__name__}")
    if ds.task == "classification":
        if ds.n_classes < 2:
            _fail(source, "n_classes", f"expected at least 2 classes, got {ds.n_classes}")
        _assert_array(source, "y (classification labels)", y, (S,), None)
        if not np.issubdtype(y.dtype, np.integer):
            _fail(source, "y (classification labels)", f"expected an integer dtype, got {y.dtype}")
        if y.min() < 0 or y.max() >= ds.n_classes:
            _fail(
                source,
                "y (classification labels)",
                f"expected labels in [0, {ds.n_classes}), got {y.min()}..{y.max()}",
            )
    elif ds.task == "regression":
        if y.ndim != 2 or y.shape[0] != S or y.shape[1] < 1:
            _fail(
                source, "y (regression targets)", f"expected shape ({S}, n_targets), got {y.shape}"
            )
        if not np.issubdtype(y.dtype, np.floating):
            _fail(source, "y (regression targets)", f"expected a float dtype, got {y.dtype}")
        _assert_finite(source, "y (regression targets)", y)
    else:
        _fail(source, "task", f"expected 'classification' or 'regression', got {ds.task!r}")
    names = tuple(ds.feature_names)
    if len(names) != F or not all(isinstance(n, str) for n in names):
        _fail(source, "feature_names", f"expected {F} names (one per column of X), got {names!r}")
    again = _call(source, "load (again)", source.load, np.random.default_rng(seed), **kw)
    _assert_equal(source, f"determinism: X for equal data_seed {seed}", again.X, X)
    _assert_equal(source, f"determinism: y for equal data_seed {seed}", again.y, y)


# -- whole networks -----------------------------------------------------------------------------


class _NetworkLabel:
    """Stands in for a plugin in the messages of :func:`check_network_gradients`."""

    kind = "network"

    def __init__(self, network: Network) -> None:
        self.name = (
            f"{'-'.join(map(str, network.sizes))} {network.hidden.name}/{network.output.name}"
            f"/{network.cost.name}"
        )


def check_network_gradients(
    network: Network,
    W: list[Array],
    b: list[Array],
    X: Array,
    Y: Array,
    *,
    rtol: float = RTOL,
) -> None:
    """Check ``network.gradients`` against central differences of ``network.loss``.

    Every weight and bias of every member is perturbed (the arrays passed in are not changed);
    the relative error must stay below ``rtol``, each member judged on the scale of its own
    whole gradient. Use float64; keep pre-activations away from kinks (``|z| > 0.02`` is enough
    for inputs of order one) and out of saturation, where the cost's value gets too coarse for
    differences to resolve ``rtol``.
    """
    label = _NetworkLabel(network)
    loss, dW, db, a_out = network.gradients(W, b, X, Y)
    expected_loss = network.loss(W, b, X, Y)
    _assert_close(
        label, "loss returned by gradients", loss, expected_loss, rtol, "gradients", "loss"
    )
    P = W[0].shape[0]
    _assert_array(label, "output a^L", a_out, (P, network.sizes[-1], X.shape[-1]), None)
    checks = []
    for name, arrays, grads in (("W", W, dW), ("b", b, db)):
        for m, (x, g) in enumerate(zip(arrays, grads, strict=True), start=1):
            _assert_array(label, f"dC/d{name}^{m}", g, x.shape, None)

            def loss_at(xm: Array, name: str = name, m: int = m) -> Array:
                Ws, bs = list(W), list(b)
                (Ws if name == "W" else bs)[m - 1] = xm
                return network.loss(Ws, bs, X, Y)

            checks.append((f"dC/d{name}^{m}", g, _differences(loss_at, x)))
    scale = np.zeros((P, 1, 1))
    for _, g, fd in checks:
        magnitude = np.maximum(np.abs(g), np.abs(fd))
        scale = np.fmax(scale, magnitude.reshape(P, -1).max(axis=1).reshape(P, 1, 1))
    for what, g, fd in checks:
        check = f"{what} (backprop vs central differences of the loss)"
        _assert_close(label, check, g, fd, rtol, scale=scale)


# -- dispatch -----------------------------------------------------------------------------------


def check_plugin(obj: Plugin, params: Mapping[str, Any] | None = None) -> str | None:
    """Run the check for ``obj.kind`` on ``obj``; return None, or why it was skipped.

    A data set source with required parameters (a file path) is skipped unless ``params`` gives
    them: the reason is returned rather than raised. Every failed check raises AssertionError.
    """
    kind = getattr(obj, "kind", None)
    if kind == "activation":
        check_activation(obj, params)  # type: ignore[arg-type]
    elif kind == "cost":
        check_cost(obj, params)  # type: ignore[arg-type]
    elif kind == "step_rule":
        check_step_rule(obj, params)  # type: ignore[arg-type]
    elif kind == "strategy":
        check_strategy(obj, params)  # type: ignore[arg-type]
    elif kind == "initializer":
        check_initializer(obj, params)  # type: ignore[arg-type]
    elif kind == "dataset":
        missing = _missing_required(obj, params or {})
        if missing:
            return f"skipped: needs the parameters {', '.join(missing)}"
        check_dataset(obj, params)  # type: ignore[arg-type]
    else:
        raise ValueError(f"{obj!r} is of no kind the kit checks (kind {kind!r})")
    return None
