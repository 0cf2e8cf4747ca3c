"""The conformance checks of optimizers: step rules (in place, per member, descent), strategies.

Imports :mod:`runner.engine` (the parameter layout) and :mod:`runner.plugin`.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from runner.engine.buffers import layer_views
from runner.plugin.kinds import StepRule, Strategy
from runner.plugin.params import Param
from runner.testing._assertions import (
    assert_array,
    assert_equal,
    assert_finite,
    call,
    fail,
    resolve_params,
)
from runner.testing._numeric import SHAPE, Array

# -- step rules ---------------------------------------------------------------------------------

#: ``(fan_in, fan_out)`` of the layers of the 2-3-1 network whose parameters the checks step
_LAYERS = ((2, 3), (3, 1))
#: the shapes of its parameters in the one layout every step rule is given: W1, W2, b1, b2
_PARAM_SHAPES = tuple((n_out, n_in) for n_in, n_out in _LAYERS) + tuple(
    (n_out, 1) for _, n_out in _LAYERS
)


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
        fail(rule, check, f"init_state must return a dict, got {type(state).__name__}")
    for key, arrays in state.items():
        if not isinstance(arrays, list):
            fail(rule, check, f"state[{key!r}] must be a list of arrays")
        for i, s in enumerate(arrays):
            if isinstance(s, np.ndarray) and s.ndim == 0:
                continue  # shared by the whole population (a step count)
            if not isinstance(s, np.ndarray) or s.shape[0] != P:
                shape = getattr(s, "shape", type(s).__name__)
                fail(
                    rule,
                    check,
                    f"state[{key!r}][{i}] must have the population axis first: expected "
                    f"shape ({P}, ...), got {shape}",
                )


def _block_views(arrays: list[Array]) -> list[Array]:
    """Copies of ``W1, W2, b1, b2`` as the training loop passes them, through the same function
    (:func:`runner.engine.buffers.layer_views`): each layer's ``W`` and ``b`` are views into one
    ``[W | b]`` block, so neither is contiguous on its own."""
    L = len(arrays) // 2
    return layer_views(
        [np.concatenate([W, b], axis=-1) for W, b in zip(arrays[:L], arrays[L:], strict=True)]
    )


def _run_steps(
    rule: StepRule,
    params: list[Array],
    grads: list[list[Array]],
    hyper: dict[str, Any],
    check: str,
) -> dict[str, list[Array]]:
    P = params[0].shape[0]
    state = call(rule, f"{check}: init_state", rule.init_state, params)
    _check_state(rule, f"{check}: init_state", state, P)
    for k, g in enumerate(grads, start=1):
        before = [p.copy() for p in params]
        ids = [id(p) for p in params]
        call(rule, f"{check}: step {k}", rule.step, params, g, state, **hyper)
        if [id(p) for p in params] != ids:
            fail(rule, f"{check}: step {k}", "params must be updated in place, not replaced")
        for i, (p, old) in enumerate(zip(params, before, strict=True)):
            assert_array(rule, f"{check}: step {k}, params[{i}]", p, old.shape, old.dtype)
            assert_finite(rule, f"{check}: step {k}, params[{i}]", p)
            if np.array_equal(p, old):
                fail(
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
    descent: bool = True,
) -> None:
    """Check a step rule against the contract of :class:`runner.StepRule`.

    A step rule has no derivative of its own, so there is no finite-difference check; instead:

    - ``step`` updates the parameter arrays in place (same objects), keeping shapes and dtypes
      (float64 and float32), and moves every array when its gradient is not zero, to finite
      values (a NaN or an infinity never passes);
    - every array of ``init_state`` has the population axis first, or is 0-d (shared by the
      whole population, as a step count);
    - parameters come in the training loop's layout, ``[W^1, W^2, b^1, b^2]`` of a 2-3-1
      network, and passed as views into one ``[W | b]`` block per layer (as the training loop
      passes them) end bitwise where contiguous arrays end;
    - with every ``per_member`` hyperparameter given as a ``(P, 1, 1)`` array of different
      values, each member's parameters and state after three steps are bitwise what running that
      member alone (with ``(1, 1, 1)`` arrays) gives;
    - a rule that declares itself ``elementwise`` gives bitwise the same parameters and state
      when all parameters come as one flat array, with every per-member hyperparameter spread
      to one value per entry (as the training loop passes them), as with one array per layer;
    - on the convex quadratic ``f(w) = 1/2 w^T A w`` (eigenvalues of ``A`` in [0.05, 0.5]) each of
      five steps with the default hyperparameters (or ``params``) decreases ``f`` (unless
      ``descent`` is False: :func:`check_plugin` checks descent at the defaults or the values
      it is given only, not at every explored value).
    """
    shared = resolve_params(step_rule, params)
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
        views = _block_views(start)
        _run_steps(step_rule, views, grads, hyper, f"{label}, as views into [W | b] blocks")
        for i, (v, w) in enumerate(zip(views, together, strict=True)):
            assert_equal(
                step_rule,
                f"views into [W | b] blocks vs contiguous arrays, params[{i}] ({np.dtype(dtype)})",
                v,
                w,
            )
        for p in range(P):
            one = slice(p, p + 1)
            alone = [w[one].copy() for w in start]
            hyper_p = shared | {k: v[one] for k, v in per_member.items()}
            check = f"member {p} alone ({np.dtype(dtype)})"
            state_p = _run_steps(
                step_rule, alone, [[g[one] for g in gs] for gs in grads], hyper_p, check
            )
            for i, (w_p, w) in enumerate(zip(alone, together, strict=True)):
                assert_equal(
                    step_rule,
                    f"per-member hyperparameters: member {p} alone vs in the population, "
                    f"params[{i}] ({np.dtype(dtype)})",
                    w_p,
                    w[one],
                )
            for key, arrays in state.items():
                for i, (s_p, s) in enumerate(zip(state_p.get(key, []), arrays, strict=False)):
                    assert_equal(
                        step_rule,
                        f"per-member hyperparameters: member {p} alone vs in the population, "
                        f"state[{key!r}][{i}] ({np.dtype(dtype)})",
                        s_p,
                        s[one] if s.ndim else s,
                    )
        if step_rule.elementwise:
            _check_elementwise(step_rule, start, grads, shared, per_member, together, state)

    if descent:
        _check_descends(step_rule, shared, rng)


def _check_elementwise(
    rule: StepRule,
    start: list[Array],
    grads: list[list[Array]],
    shared: dict[str, Any],
    per_member: dict[str, Array],
    together: list[Array],
    state: dict[str, list[Array]],
) -> None:
    """The rule on one flat array, each member's parameters together, as the core packs them."""
    P, dtype = start[0].shape[0], start[0].dtype
    K = sum(int(np.prod(w.shape[1:])) for w in start)

    def pack(arrays: list[Array]) -> Array:
        return np.concatenate([a.reshape(P, -1) for a in arrays], axis=1).ravel()

    check = f"elementwise: all parameters as one flat array ({np.dtype(dtype)})"
    flat = [pack(start)]
    hyper = shared | {k: np.repeat(v.ravel(), K) for k, v in per_member.items()}
    flat_state = call(rule, f"{check}: init_state", rule.init_state, flat)
    for k, gs in enumerate(grads):
        call(rule, f"{check}: step {k}", rule.step, flat, [pack(gs)], flat_state, **hyper)
    assert_equal(rule, f"{check}: params", flat[0], pack(together))
    for key, arrays in state.items():
        packed = flat_state.get(key, [])
        if len(arrays) == len(packed) == 1 and arrays[0].ndim == 0:  # shared by the population
            assert_equal(rule, f"{check}: state[{key!r}]", np.asarray(packed[0]), arrays[0])
            continue
        if len(packed) != 1 or packed[0].shape != flat[0].shape:
            fail(
                rule,
                check,
                f"state[{key!r}] must be one array shaped like the flat parameters, or 0-d",
            )
        assert_equal(rule, f"{check}: state[{key!r}]", packed[0], pack(arrays))


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
    state = call(rule, "descent on a quadratic: init_state", rule.init_state, ws)
    value = f(ws)
    for k in range(1, 6):
        call(rule, f"descent on a quadratic: step {k}", rule.step, ws, grad(ws), state, **hyper)
        new = f(ws)
        worse = np.flatnonzero(~(new < value))
        if worse.size:
            p = int(worse[0])
            fail(
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
    kw = resolve_params(strategy, params)
    k = call(strategy, "members", strategy.members, **kw)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        fail(strategy, "members", f"expected an integer >= 1, got {k!r}")
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
        i = call(strategy, check, strategy.select, arr, **kw)
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < arr.size:
            fail(strategy, check, f"expected an integer index in [0, {arr.size}), got {i!r}")
        if expected is not None and int(i) != expected:
            why = (
                "a non-finite loss while a finite one exists"
                if not np.isfinite(arr[int(i)])
                else f"loss {arr[int(i)]:g}"
            )
            fail(
                strategy,
                check,
                f"expected index {expected} (the lowest finite loss, {arr[expected]:g}), got "
                f"{int(i)} ({why})",
            )
