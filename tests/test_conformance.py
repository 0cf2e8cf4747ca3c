"""The conformance kit on every installed plugin, and proof that it catches real mistakes.

The parametrized tests cover every plugin of ``get_registry()``, so a new built-in is checked with
no new test. The rest build deliberately wrong plugins (the notes' slips among them) and assert
the kit rejects each with a message that says what is wrong.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import made_once, one_module_project, pip_install_target

import runner.testing as kit
from runner import (
    Activation,
    Cost,
    Dataset,
    DatasetSource,
    Initializer,
    Minimum,
    Objective,
    StepRule,
    Strategy,
)
from runner.cli import cli
from runner.engine.network import Network
from runner.plugin.params import Param, Plugin
from runner.plugin.registry import get_registry

REGISTRY = get_registry()
PLUGINS = REGISTRY.all()


def _id(obj: Plugin) -> str:
    return f"{obj.kind}-{obj.name}"


def _alternative_params(obj: Plugin) -> dict[str, Any]:
    """A valid non-default value for every optional numeric parameter of ``obj``."""
    out: dict[str, Any] = {}
    for p in obj.params:
        if p.required or p.type not in (int, float) or isinstance(p.default, bool):
            continue
        if p.default is None:
            continue
        for candidate in (p.default * 1.5, p.default * 0.5, p.default + 1):
            value = round(candidate) if p.type is int else candidate
            try:
                if p.coerce(value) != p.default:
                    out[p.name] = p.coerce(value)
                    break
            except ValueError:
                continue
    return out


WITH_ALTERNATIVES = [obj for obj in PLUGINS if _alternative_params(obj)]


# -- every installed plugin passes --------------------------------------------------------------


@pytest.mark.parametrize("obj", PLUGINS, ids=_id)
def test_every_plugin_conforms(obj: Plugin) -> None:
    reason = kit.check_plugin(obj)
    if reason is not None:  # only sources that cannot load without a file are skipped
        assert obj.kind == "dataset"
        required = [p.name for p in obj.params if p.required]
        assert required and all(name in reason for name in required), reason


@pytest.mark.parametrize("obj", WITH_ALTERNATIVES, ids=_id)
def test_every_plugin_conforms_with_non_default_params(obj: Plugin) -> None:
    params = _alternative_params(obj)
    assert kit.check_plugin(obj, params) is None


@pytest.mark.parametrize("cost", list(REGISTRY.costs.values()), ids=lambda c: c.name)
def test_costs_conform_through_activations_with_non_default_params(cost: Cost) -> None:
    pairs = [(act, _alternative_params(act)) for act in REGISTRY.activations.values()]
    kit.check_cost(cost, activations=pairs)


def test_required_params_are_checked_when_given(tmp_path: Path) -> None:
    source = REGISTRY.datasets["csv"]
    assert kit.check_plugin(source) is not None
    rows = ["a,b,label", *(f"{i},{i * i % 7},{i % 2}" for i in range(10))]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    params = {"path": str(tmp_path / "data.csv"), "target": "label"}
    assert kit.check_plugin(source, params) is None
    with pytest.raises(ValueError, match="path"):
        kit.check_dataset(source)


def test_the_kit_names_no_built_in_plugin() -> None:
    """(That it needs no pytest: tests/test_layout.py.)"""
    source = "\n".join(p.read_text() for p in Path(kit.__file__).parent.glob("*.py"))
    for obj in PLUGINS:
        if obj.distribution == "runner-mlp":
            assert not re.search(rf"[\"']{re.escape(obj.name)}[\"']", source), obj.name


# -- deliberately wrong plugins -----------------------------------------------------------------


class Logistic(Activation):
    """A correct logistic, the base of the broken ones below."""

    name = "test_logistic"
    output_range = (0.0, 1.0)

    def forward(self, z: np.ndarray, **params: Any) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    def derivative(self, z: np.ndarray, a: np.ndarray, **params: Any) -> np.ndarray:
        return a * (1.0 - a)


def _fails(check: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    return str(info.value)


def test_correct_reference_plugins_pass() -> None:
    kit.check_activation(Logistic())
    kit.check_cost(SquaredError(), activations=[Logistic()])


def test_a_wrong_activation_derivative_is_caught() -> None:
    class WrongDerivative(Logistic):
        name = "wrong_derivative"

        def derivative(self, z: np.ndarray, a: np.ndarray, **params: Any) -> np.ndarray:
            return a * (1.0 + a)  # should be a (1 - a)

    message = _fails(kit.check_activation, WrongDerivative())
    assert "activation 'wrong_derivative'" in message
    assert "central differences" in message and "max relative error" in message


def test_a_wrong_derivative_beside_a_right_backward_is_caught() -> None:
    class WrongOnlyDerivative(Logistic):
        name = "wrong_only_derivative"

        def derivative(self, z: np.ndarray, a: np.ndarray, **params: Any) -> np.ndarray:
            return 2.0 * a * (1.0 - a)

        def backward(self, z: np.ndarray, a: np.ndarray, grad_a: np.ndarray, **p: Any) -> Any:
            return grad_a * a * (1.0 - a)

    message = _fails(kit.check_activation, WrongOnlyDerivative())
    assert "derivative(z, a)" in message and "relative error" in message


def test_the_notes_sigmoid_sign_slip_is_caught() -> None:
    class NotesSigmoid(Logistic):
        name = "notes_sigmoid"

        def forward(self, z: np.ndarray, **params: Any) -> np.ndarray:
            return 1.0 / (1.0 + np.exp(z))  # the notes' 1/(1+e^{z}); its derivative is -a(1-a)

    message = _fails(kit.check_activation, NotesSigmoid())
    assert "notes_sigmoid" in message and "central differences" in message


def test_an_activation_outside_its_range_or_changing_dtype_is_caught() -> None:
    class Shifted(Logistic):
        name = "shifted"

        def forward(self, z: np.ndarray, **params: Any) -> np.ndarray:
            return super().forward(z) + 0.5

    assert "outside output_range" in _fails(kit.check_activation, Shifted())

    class Upcasting(Logistic):
        name = "upcasting"

        def forward(self, z: np.ndarray, **params: Any) -> np.ndarray:
            return super().forward(z.astype(np.float64))

    message = _fails(kit.check_activation, Upcasting())
    assert "float32" in message and "dtype" in message


def test_an_activation_that_mixes_members_is_caught() -> None:
    class Coupled(Logistic):
        name = "coupled"

        def forward(self, z: np.ndarray, **params: Any) -> np.ndarray:
            return super().forward(z - z.mean(axis=0, keepdims=True))

    message = _fails(kit.check_activation, Coupled())
    assert "population broadcasting" in message and "member" in message


class SquaredError(Cost):
    """A correct squared error, the base of the broken costs below."""

    name = "test_squared_error"

    def value(self, a: np.ndarray, y: np.ndarray, **params: Any) -> np.ndarray:
        return (0.5 * (a - y) ** 2).sum(axis=-2).mean(axis=-1)

    def derivative(self, a: np.ndarray, y: np.ndarray, **params: Any) -> np.ndarray:
        return a - y


class SignSlipSquaredError(SquaredError):
    name = "sign_slip"

    def derivative(self, a: np.ndarray, y: np.ndarray, **params: Any) -> np.ndarray:
        return y - a  # the notes' slip: dC/da is a - y


def test_the_notes_cost_sign_slip_is_caught() -> None:
    message = _fails(kit.check_cost, SignSlipSquaredError(), activations=[])
    assert "cost 'sign_slip'" in message
    assert "derivative(a, y)" in message and "max relative error" in message


def test_a_cost_that_forgets_the_mean_over_samples_is_caught() -> None:
    class SummedError(SquaredError):
        name = "summed"

        def value(self, a: np.ndarray, y: np.ndarray, **params: Any) -> np.ndarray:
            return (0.5 * (a - y) ** 2).sum(axis=(-2, -1))

    message = _fails(kit.check_cost, SummedError(), activations=[])
    assert "S x central differences" in message


def test_a_canonical_link_declared_where_it_does_not_hold_is_caught() -> None:
    class LinkedSquaredError(SquaredError):
        name = "linked_squared_error"
        link = "logit"  # wrong: squared error through a logistic is not a - y

    class SteepLogistic(Activation):
        name = "steep_logistic"
        output_range = (0.0, 1.0)
        link = "logit"  # right, but the slope is left at 1 instead of 2

        def forward(self, z: Any, **params: Any) -> Any:
            return 1.0 / (1.0 + np.exp(-2.0 * z))

        def derivative(self, z: Any, a: Any, **params: Any) -> Any:
            return 2.0 * a * (1.0 - a)

    sigmoid, tanh = REGISTRY.activations["sigmoid"], REGISTRY.activations["tanh"]
    cross_entropy = REGISTRY.costs["cross_entropy"]
    kit.check_cost(LinkedSquaredError(), activations=[tanh])  # no shared link: the chain rule
    message = _fails(kit.check_cost, LinkedSquaredError(), activations=[sigmoid])
    assert "exact delta s (a - y) through output activation 'sigmoid'" in message
    kit.check_cost(cross_entropy, activations=[sigmoid])
    message = _fails(kit.check_cost, cross_entropy, activations=[SteepLogistic()])
    assert "through output activation 'steep_logistic' (canonical link 'logit')" in message


def test_a_step_rule_that_climbs_is_caught() -> None:
    class Ascent(StepRule):
        name = "ascent"
        params = (Param("learning_rate", float, 0.1, "step", low=0.0, per_member=True),)

        def step(self, params: list, grads: list, state: dict, learning_rate: Any = 0.1) -> None:
            for p, g in zip(params, grads, strict=True):
                p += learning_rate * g  # the notes' MLP update, as written, climbs

    message = _fails(kit.check_step_rule, Ascent())
    assert "step rule 'ascent'" in message and "descent on the convex quadratic" in message
    assert "expected a decrease" in message


def test_a_step_rule_that_couples_members_or_skips_biases_is_caught() -> None:
    class GlobalNorm(StepRule):
        name = "global_norm"
        params = (Param("learning_rate", float, 0.1, "step", low=0.0, per_member=True),)

        def step(self, params: list, grads: list, state: dict, learning_rate: Any = 0.1) -> None:
            norm = np.sqrt(sum((g * g).sum() for g in grads))  # over the whole population
            for p, g in zip(params, grads, strict=True):
                p -= learning_rate * g / norm

    message = _fails(kit.check_step_rule, GlobalNorm())
    assert "member" in message and "alone" in message

    class WeightsOnly(StepRule):
        name = "weights_only"

        def step(self, params: list, grads: list, state: dict, **hyper: Any) -> None:
            for p, g in zip(params[:1], grads[:1], strict=True):
                p -= 0.1 * g

    assert "did not change" in _fails(kit.check_step_rule, WeightsOnly())

    class Replacing(StepRule):
        name = "replacing"

        def step(self, params: list, grads: list, state: dict, **hyper: Any) -> None:
            params[:] = [p - 0.1 * g for p, g in zip(params, grads, strict=True)]

    assert "in place" in _fails(kit.check_step_rule, Replacing())

    class Flattening(StepRule):
        name = "flattening"

        def step(self, params: list, grads: list, state: dict, **hyper: Any) -> None:
            for p, g in zip(params, grads, strict=True):
                flat = p.reshape(-1)  # a copy, not a view, for a part of a [W | b] block
                flat -= 0.1 * g.reshape(-1)

    assert "views into [W | b] blocks" in _fails(kit.check_step_rule, Flattening())


class WeightDecayOnW(StepRule):
    """Gradient descent that also shrinks the weights, not the biases: not elementwise, it tells
    them apart by the documented layout ``[W^1..W^L, b^1..b^L]``; it records what it was given."""

    name = "weight_decay_on_w"
    params = (Param("learning_rate", float, 0.1, "step", low=0.0, per_member=True),)

    def __init__(self) -> None:
        self.layouts: list[list[tuple[int, ...]]] = []

    def init_state(self, params: list) -> dict:
        self.layouts.append([p.shape[1:] for p in params])
        return {}

    def step(self, params: list, grads: list, state: dict, learning_rate: Any = 0.1) -> None:
        n_layers = len(params) // 2
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            p -= learning_rate * g
            if i < n_layers:
                p *= 0.99


def test_a_non_elementwise_step_rule_gets_one_layout_in_the_kit_and_in_training() -> None:
    from runner.engine.network import member_rng
    from runner.engine.training import Schedule, train

    rule = WeightDecayOnW()
    kit.check_step_rule(rule)
    kit_layouts, rule.layouts = rule.layouts, []
    tanh, identity = REGISTRY.activations["tanh"], REGISTRY.activations["identity"]
    network = Network((2, 3, 1), tanh, identity, REGISTRY.costs["squared_error"])
    W, b = network.init_population(
        REGISTRY.initializers["normal"], {}, [member_rng(s) for s in range(3)]
    )
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 6)), rng.standard_normal((1, 6))
    _, dW, db, _ = network.gradients(W, b, X, Y)
    # one step of the rule on the layout it is documented to get, by hand
    expected = [a.copy() for a in [*W, *b]]
    rule.step(expected, [*dW, *db], {}, learning_rate=np.full((3, 1, 1), 0.1))
    rule.layouts = []
    train(network, W, b, X, Y, rule, {"learning_rate": np.full(3, 0.1)}, Schedule(epochs=1), [])
    assert rule.layouts == [[(3, 2), (1, 3), (3, 1), (1, 1)]]  # W1, W2, b1, b2
    assert kit_layouts and all(layout == rule.layouts[0] for layout in kit_layouts)
    for got, want in zip([*W, *b], expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


def _textbook_adam(w: float, grads: list[float], lr: float, wd: float) -> float:
    """Algorithm 1 of Kingma and Ba (2015) on one scalar, with AdamW's decoupled decay."""
    beta1, beta2, eps, m, v = 0.9, 0.999, 1e-8, 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        w -= lr * (m_hat / (np.sqrt(v_hat) + eps) + wd * w)
    return w


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_conforms_and_follows_the_textbook_loop_per_member(weight_decay: float) -> None:
    from runner.engine.network import member_rng
    from runner.engine.training import Schedule, train

    adam = REGISTRY.step_rules["adam"]
    assert adam.elementwise
    assert kit.check_plugin(adam, {"weight_decay": weight_decay}) is None
    # three members with their own rates, trained by the training loop (one flat buffer)
    tanh, identity = REGISTRY.activations["tanh"], REGISTRY.activations["identity"]
    network = Network((2, 3, 1), tanh, identity, REGISTRY.costs["squared_error"])
    W, b = network.init_population(
        REGISTRY.initializers["normal"], {}, [member_rng(s) for s in range(3)]
    )
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((2, 6)), rng.standard_normal((1, 6))
    rates = np.array([0.1, 0.01, 0.001])
    # the gradients each step sees, from the textbook loop's own weights, one member at a time
    start = [a.copy() for a in [*W, *b]]
    expected = []
    for p in range(3):
        Wp, bp = [w[p : p + 1].copy() for w in W], [v[p : p + 1].copy() for v in b]
        flat = [a for a in [*Wp, *bp]]
        m = [np.zeros_like(a) for a in flat]
        v = [np.zeros_like(a) for a in flat]
        for t in range(1, 6):
            _, dW, db, _ = network.gradients(Wp, bp, X, Y)
            for a, g, m_, v_ in zip(flat, [*dW, *db], m, v, strict=True):
                m_[...] = 0.9 * m_ + 0.1 * g
                v_[...] = 0.999 * v_ + 0.001 * g * g
                m_hat, v_hat = m_ / (1 - 0.9**t), v_ / (1 - 0.999**t)
                a -= rates[p] * (m_hat / (np.sqrt(v_hat) + 1e-8) + weight_decay * a)
        expected.append(flat)
    hyper = adam.resolve({"weight_decay": weight_decay}) | {"learning_rate": rates}
    train(network, W, b, X, Y, adam, hyper, Schedule(epochs=5), [])
    for p in range(3):
        for got, want in zip([*W, *b], expected[p], strict=True):
            np.testing.assert_allclose(got[p : p + 1], want, rtol=1e-10, atol=1e-13)
    assert not all(np.array_equal(a, c) for a, c in zip([*W, *b], start, strict=True))
    # and one scalar against the formula written out
    w = [np.array([[[1.0]]])]
    state = adam.init_state(w)
    for g in (0.5, -0.2, 0.3):
        adam.step(w, [np.array([[[g]]])], state, learning_rate=0.01, weight_decay=weight_decay)
    assert w[0].item() == pytest.approx(
        _textbook_adam(1.0, [0.5, -0.2, 0.3], 0.01, weight_decay), rel=1e-12
    )


def test_a_schedule_that_couples_members_or_reads_an_undeclared_loss_is_caught() -> None:
    from runner import RateSchedule

    class MeanOfMembers(RateSchedule):
        name = "mean_of_members"
        params = (Param("gamma", float, 0.9, "decay", low=0.0, high=1.0, per_member=True),)

        def factor(self, epoch, epochs, loss, state, gamma=0.9, **params):  # type: ignore[no-untyped-def]
            return np.full(len(loss), np.mean(np.asarray(gamma) ** epoch))

    assert "alone vs in the population" in _fails(kit.check_schedule, MeanOfMembers())

    class LossWatcher(RateSchedule):
        name = "loss_watcher"  # reads the loss without declaring needs_loss

        def factor(self, epoch, epochs, loss, state, **params):  # type: ignore[no-untyped-def]
            return np.where(np.nan_to_num(loss, nan=1.0) < 0.5, 0.5, 1.0)

    assert "ignore the loss" in _fails(kit.check_schedule, LossWatcher())

    class Negative(RateSchedule):
        name = "negative"

        def factor(self, epoch, epochs, loss, state, **params):  # type: ignore[no-untyped-def]
            return np.full(len(loss), 1.0 - epoch / 10)

    assert "finite factors > 0" in _fails(kit.check_schedule, Negative())

    class OneForAll(RateSchedule):
        name = "one_for_all"

        def factor(self, epoch, epochs, loss, state, **params):  # type: ignore[no-untyped-def]
            return np.float64(1.0)

    assert "one factor per member" in _fails(kit.check_schedule, OneForAll())


def test_runner_check_checks_schedules() -> None:
    result = CliRunner().invoke(cli, ["check", "cosine", "adaptive"])
    assert result.exit_code == 0, result.output
    assert "schedule cosine" in result.output and "schedule adaptive" in result.output


def test_a_step_rule_that_claims_elementwise_but_scales_per_layer_is_caught() -> None:
    class LayerNormalized(StepRule):
        """Each layer's step scaled by that layer's gradient size: fine per layer, not flat."""

        name = "layer_normalized"
        elementwise = True
        params = (Param("learning_rate", float, 0.1, "step", low=0.0, per_member=True),)

        def step(self, params: list, grads: list, state: dict, learning_rate: Any = 0.1) -> None:
            for p, g in zip(params, grads, strict=True):
                size = np.sqrt((g * g).mean(axis=tuple(range(1, g.ndim)), keepdims=True))
                p -= learning_rate * g / (1.0 + size)

    message = _fails(kit.check_step_rule, LayerNormalized())
    assert "elementwise: all parameters as one flat array" in message
    LayerNormalized.elementwise = False  # the same rule, honest about it, passes
    kit.check_step_rule(LayerNormalized())


def test_a_strategy_that_keeps_a_diverged_member_is_caught() -> None:
    class PlainArgmin(Strategy):  # the base class's select: argmin picks a NaN
        name = "plain_argmin"

    message = _fails(kit.check_strategy, PlainArgmin())
    assert "strategy 'plain_argmin'" in message and "non-finite" in message

    class Zero(Strategy):
        name = "zero_members"

        def members(self, **params: Any) -> int:
            return 0

    assert "integer >= 1" in _fails(kit.check_strategy, Zero())


def test_an_initializer_drawing_from_the_global_generator_is_caught() -> None:
    class GlobalRandom(Initializer):
        name = "global_random"

        def initialize(self, rng: Any, fan_in: int, fan_out: int, **params: Any) -> Any:
            W = np.random.standard_normal((fan_out, fan_in))  # noqa: NPY002
            return W, np.zeros((fan_out, 1))

    message = _fails(kit.check_initializer, GlobalRandom())
    assert "determinism" in message

    class Transposed(Initializer):
        name = "transposed"

        def initialize(self, rng: Any, fan_in: int, fan_out: int, **params: Any) -> Any:
            return rng.standard_normal((fan_in, fan_out)), np.zeros((fan_out, 1))

    assert "expected shape (3, 2)" in _fails(kit.check_initializer, Transposed())


def test_a_dataset_with_bad_labels_or_names_is_caught() -> None:
    class BadLabels(DatasetSource):
        name = "bad_labels"

        def load(self, rng: Any, **params: Any) -> Dataset:
            X = rng.standard_normal((6, 2))
            return Dataset(X, np.arange(6), "classification", 2, ("u", "v"), self.name)

    assert "labels in [0, 2)" in _fails(kit.check_dataset, BadLabels())

    class BadNames(DatasetSource):
        name = "bad_names"

        def load(self, rng: Any, **params: Any) -> Dataset:
            X = np.zeros((4, 3))
            return Dataset(X, np.array([0, 1, 0, 1]), "classification", 2, ("u",), self.name)

    assert "feature_names" in _fails(kit.check_dataset, BadNames())

    class Unseeded(DatasetSource):
        name = "unseeded"

        def load(self, rng: Any, **params: Any) -> Dataset:
            X = np.random.default_rng().standard_normal((4, 1))
            return Dataset(X, np.array([0, 1, 0, 1]), "classification", 2, ("u",), self.name)

    assert "determinism" in _fails(kit.check_dataset, Unseeded())


def test_a_plugin_that_raises_is_reported_as_a_failed_check() -> None:
    class Raising(Logistic):
        name = "raising"

        def backward(self, z: Any, a: Any, grad_a: Any, **params: Any) -> Any:
            raise RuntimeError("boom")

    message = _fails(kit.check_plugin, Raising())
    assert "activation 'raising'" in message and "RuntimeError: boom" in message


def test_a_wrong_network_gradient_is_caught() -> None:
    identity = REGISTRY.activations["identity"]

    class HalfSlope(type(identity)):  # type: ignore[misc]
        name = "half_slope"

        def link_slope(self, **params: Any) -> float:
            return 0.5  # the exact delta becomes 0.5 (a - y)

    tanh = REGISTRY.activations["tanh"]
    rng = np.random.default_rng(0)
    squared_error = REGISTRY.costs["squared_error"]  # declares the identity link
    good = Network((2, 3, 1), tanh, identity, squared_error)
    bad = Network((2, 3, 1), tanh, HalfSlope(), squared_error)
    W = [rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 1, 3))]
    b = [rng.standard_normal((2, 3, 1)), rng.standard_normal((2, 1, 1))]
    X, Y = rng.standard_normal((2, 5)), rng.standard_normal((1, 5))
    kit.check_network_gradients(good, W, b, X, Y)
    message = _fails(kit.check_network_gradients, bad, W, b, X, Y)
    assert "half_slope" in message and "central differences" in message


# -- the kit explores the declared parameters -----------------------------------------------------

WRONG_SWISH_SOURCE = '''\
"""Swish, g(z) = z sigmoid(beta z), whose derivative drops beta once: right only at beta = 1."""

import numpy as np

from runner import Activation, Param, hookimpl


class Swish(Activation):
    name = "swish"
    params = (Param("beta", float, 1.0, "steepness of the gate", low=0.0, low_open=True),)

    def forward(self, z, beta=1.0, **params):
        return z * 0.5 * (1.0 + np.tanh(0.5 * beta * z))

    def derivative(self, z, a, beta=1.0, **params):
        s = 0.5 * (1.0 + np.tanh(0.5 * beta * z))
        return s + a * (1.0 - s)  # should be s + beta a (1 - s)


@hookimpl
def register_activations(register):
    register(Swish())
'''
WRONG_SWISH = "runner-wrong-swish"


@pytest.fixture(scope="session")
def wrong_swish_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runner-wrong-swish installed (once per test run) into a folder of its own."""

    def make(folder: Path) -> None:
        project = one_module_project(
            folder / "src", WRONG_SWISH, "runner_wrong_swish", WRONG_SWISH_SOURCE, "swish"
        )
        pip_install_target(project, folder / "site")

    return made_once(tmp_path_factory, "wrong-swish", make) / "site"


@pytest.fixture
def wrong_swish(wrong_swish_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Plugin]:
    """The installed wrong swish, discovered as runner check discovers it."""
    monkeypatch.syspath_prepend(str(wrong_swish_site))
    monkeypatch.delenv("RUNNER_PLUGINS", raising=False)
    get_registry.cache_clear()
    yield get_registry().activations["swish"]
    get_registry.cache_clear()


def test_explored_values_span_the_declared_range() -> None:
    values = kit.explored_values
    assert values(Param("beta", float, 1.0, "", low=0.0, low_open=True)) == [
        1.0,
        0.1,
        0.55,
        2.0,
        3.0,
    ]
    m = values(Param("m", float, 0.9, "", low=0.0, high=1.0, high_open=True))
    assert m == pytest.approx([0.9, 0.0, 0.45, 0.945, 0.99])
    assert values(Param("n", int, 200, "", low=2, high=1_000_000)) == [200, 2, 101, 10200, 20200]
    assert values(Param("k", int, 1, "", low=1)) == [1, 2, 3]
    assert values(Param("flag", bool, False, "")) == [False, True]
    assert values(Param("task", str, "a", "", choices=("a", "b"))) == ["a", "b"]
    assert values(Param("path", Path, None, "", required=True)) == []


def test_settings_vary_one_parameter_at_a_time_around_the_pinned_ones() -> None:
    class Two(Activation):
        name = "two"
        params = (
            Param("p", float, 1.0, "", low=0.0, high=2.0),
            Param("q", bool, False, ""),
        )

    settings = kit.parameter_settings(Two())
    assert settings == [{}, {"p": 0.0}, {"p": 0.5}, {"p": 1.5}, {"p": 2.0}, {"q": True}]
    assert kit.parameter_settings(Two(), {"p": 2.0}) == [{"p": 2.0}, {"p": 2.0, "q": True}]


def test_the_kit_catches_a_swish_wrong_only_when_beta_is_not_one(wrong_swish: Plugin) -> None:
    assert wrong_swish.distribution == WRONG_SWISH
    kit.check_activation(wrong_swish)  # at the default, beta = 1, it is right
    message = _fails(kit.check_plugin, wrong_swish)
    assert message.startswith(
        f"activation 'swish' (from {WRONG_SWISH}) with beta=0.1: derivative(z, a) vs central "
        "differences of forward: analytic "
    )
    assert re.search(r" at index \(\d+, \d+, \d+\); max relative error ", message)
    assert "backward" not in message
    assert kit.check_plugin(wrong_swish, {"beta": 1.0}) is None


def test_runner_check_fails_on_a_swish_wrong_only_when_beta_is_not_one(
    wrong_swish: Plugin,
) -> None:
    result = CliRunner().invoke(cli, ["check", "swish"])
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith(
        f"FAIL activation swish ({WRONG_SWISH}): activation 'swish' (from {WRONG_SWISH}) with "
        "beta=0.1: derivative(z, a) vs central differences of forward"
    )
    pinned = CliRunner().invoke(cli, ["check", "swish", "--param", "beta=1"])
    assert pinned.exit_code == 0, pinned.output
    assert pinned.stdout == f"ok   activation swish ({WRONG_SWISH}): 1 parameter setting\n"
    for bad, expected in (
        ("beta=0", "--param 'beta=0': '0' is not valid for activation 'swish': a number > 0"),
        ("gamma=1", "--param 'gamma=1': none of the checked plugins declares 'gamma'"),
        ("beta", "--param 'beta': expected name=value"),
    ):
        refused = CliRunner().invoke(cli, ["check", "swish", "--param", bad])
        assert refused.exit_code == 2 and refused.stderr.startswith(f"Error: {expected}")


def test_an_inherited_backward_fails_as_the_derivative_the_author_wrote() -> None:
    class Coupled(Logistic):
        """Couples units in forward, so no elementwise derivative can be right."""

        name = "test_coupled"
        output_range = (-np.inf, np.inf)

        def forward(self, z: np.ndarray, **params: Any) -> np.ndarray:
            return z + z.sum(axis=-2, keepdims=True)

        def derivative(self, z: np.ndarray, a: np.ndarray, **params: Any) -> np.ndarray:
            return np.ones_like(z)

    message = _fails(kit.check_activation, Coupled())
    assert "derivative(z, a), through the inherited backward(z, a, grad_a)" in message


# -- objectives ---------------------------------------------------------------------------------

OBJECTIVES = list(REGISTRY.objectives.values())
#: one non-default parameter setting of each objective that declares parameters
OBJECTIVE_PARAMS = {"rosenbrock": {"n": 3}, "rastrigin": {"n": 3}, "bowl": {"condition": 100.0}}


def _objective_settings() -> list[Any]:
    out = []
    for obj in OBJECTIVES:
        out.append(pytest.param(obj, {}, id=f"{obj.name}-defaults"))
        if obj.params:
            given = OBJECTIVE_PARAMS.get(obj.name) or _alternative_params(obj)
            shown = ",".join(f"{k}={v}" for k, v in given.items())
            out.append(pytest.param(obj, given, id=f"{obj.name}-{shown}"))
    return out


@pytest.mark.parametrize(("objective", "params"), _objective_settings())
def test_every_objective_has_gradient_and_hessian_matching_central_differences(
    objective: Objective, params: dict[str, Any]
) -> None:
    kw = objective.resolve(params)
    low, high = objective.box(**kw)
    x = np.random.default_rng(1).uniform(low, high, (5, objective.dimension(**kw)))
    if objective.distribution == "runner-mlp":  # the built-ins give the Hessian analytically
        assert objective.hessian(x, **kw).shape == (5, len(low), len(low))
    kit.check_objective(objective, params, points=64, seed=1)


class CamelCheck(Objective):
    """The six-hump camel, written here (a correct one), the base of the broken ones below."""

    name = "test_camel"

    def dimension(self, **params: Any) -> int:
        return 2

    def box(self, **params: Any) -> tuple[np.ndarray, np.ndarray]:
        return np.array([-3.0, -2.0]), np.array([3.0, 2.0])

    def value(self, x: np.ndarray, **params: Any) -> np.ndarray:
        u, v = x[:, 0], x[:, 1]
        return (4 - 2.1 * u**2 + u**4 / 3) * u**2 + u * v + (4 * v**2 - 4) * v**2

    def gradient(self, x: np.ndarray, **params: Any) -> np.ndarray:
        u, v = x[:, 0], x[:, 1]
        return np.stack([8 * u - 8.4 * u**3 + 2 * u**5 + v, u - 8 * v + 16 * v**3], axis=1)

    def hessian(self, x: np.ndarray, **params: Any) -> np.ndarray:
        u, v = x[:, 0], x[:, 1]
        H = np.empty((len(x), 2, 2))
        H[:, 0, 0], H[:, 1, 1] = 8 - 25.2 * u**2 + 10 * u**4, 48 * v**2 - 8
        H[:, 0, 1] = H[:, 1, 0] = 1.0
        return H

    def minima(self, **params: Any) -> tuple[Minimum, ...]:
        u, v, f = 0.08984201310031806, -0.7126564030207396, -1.031628453489877
        local = ((1.703606714969981, -0.7960835686726251), -0.2154638243837197)
        return (
            Minimum((u, v), f, "global +"),
            Minimum((-u, -v), f, "global -"),
            Minimum(local[0], local[1], "local", global_=False),
        )

    def saddles(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        return ((0.0, 0.0),)


def _broken_camel(**methods: Any) -> Objective:
    return type("BrokenCamel", (CamelCheck,), methods)()


def _minima_with(*extra: Minimum) -> Any:
    return lambda self, **params: CamelCheck().minima()[:2] + extra


BROKEN_OBJECTIVES = {
    # the notes' slip: d(x^4)/dx written 4 x^3 but d(x^6/3)/dx as x^5 (it is 2 x^5)
    "gradient": (
        {
            "gradient": lambda self, x, **p: (
                CamelCheck.gradient(self, x) - np.stack([x[:, 0] ** 5, 0 * x[:, 1]], axis=1)
            )
        },
        "gradient(x) vs central differences of value(x)",
    ),
    "hessian": (
        {
            "hessian": lambda self, x, **p: (
                CamelCheck.hessian(self, x) * np.array([[1, -1], [-1, 1]])
            )
        },
        "hessian(x) vs central differences of gradient(x)",
    ),
    "asymmetric hessian": (
        {
            "hessian": lambda self, x, **p: (
                CamelCheck.hessian(self, x) + np.array([[0, 0.5], [0, 0]])
            )
        },
        "hessian(x) is symmetric",
    ),
    "value shape": (
        {"value": lambda self, x, **p: CamelCheck.value(self, x)[:, None]},
        "value: expected shape",
    ),
    "box shape": (
        {"box": lambda self, **p: (np.zeros(3), np.ones(3))},
        "box: expected low of shape (2,) for dimension 2",
    ),
    # the literature's rounded location: the gradient there is 1e-3, not 0
    "minimum location": (
        {"minima": _minima_with(Minimum((1.7036, -0.7961), -0.2155, "rounded", global_=False))},
        "minimum 'rounded' at (1.7036, -0.7961): expected the gradient to vanish",
    ),
    "minimum value": (
        {
            "minima": _minima_with(
                Minimum((1.703606714969981, -0.7960835686726251), -0.2155, "local", global_=False)
            )
        },
        "declared value -0.2155, but f there is -0.21546382438",
    ),
    "global flag": (
        {
            "minima": _minima_with(
                Minimum((1.703606714969981, -0.7960835686726251), -0.2154638243837197, "local")
            )
        },
        "declared global_=True with value -0.2154638243837197, expected global_=False",
    ),
    "outside the box": (
        {"box": lambda self, **p: (np.array([-3.0, -0.5]), np.array([3.0, 2.0]))},
        "minimum 'global +': (0.0898420131, -0.712656403) lies outside the box, expected within "
        "(-3, -0.5) .. (3, 2)",
    ),
    "a maximum as a minimum": (
        {
            "minima": _minima_with(
                Minimum(
                    (1.2302298765166524, 0.16233458445899493),
                    2.496295351023577,
                    "max",
                    global_=False,
                )
            )
        },
        "expected a positive semidefinite Hessian",
    ),
    "a minimum as a saddle": (
        {"saddles": lambda self, **p: ((0.0, 0.0), (-0.08984201310031806, 0.7126564030207396))},
        "got a positive definite one (smallest eigenvalue 7.68",
    ),
}


@pytest.mark.parametrize("broken", list(BROKEN_OBJECTIVES))
def test_the_kit_catches_a_wrong_objective(broken: str) -> None:
    methods, expected = BROKEN_OBJECTIVES[broken]
    message = _fails(kit.check_objective, _broken_camel(**methods))
    assert message.startswith("objective 'test_camel': ")
    assert expected in message


def test_the_kit_passes_the_correct_objective_and_one_without_a_hessian() -> None:
    kit.check_objective(CamelCheck())
    assert kit.check_plugin(_broken_camel(hessian=lambda self, x, **p: None)) is None


def test_runner_check_checks_objectives() -> None:
    result = CliRunner().invoke(cli, ["check", "himmelblau", "rastrigin", "--param", "n=3"])
    assert result.exit_code == 0, result.output
    assert "ok   objective himmelblau (runner-mlp): 1 parameter setting" in result.output
    assert "ok   objective rastrigin (runner-mlp): 5 parameter settings" in result.output


# --- hostile plugins: NaN steps, checks that never end, core column names (issue 25.7) ---------

KIT_HOSTILE_SOURCE = '''\
"""A step rule that steps to NaN where rho > 1, a schedule whose loop never ends at every=0."""

import numpy as np

from runner import Activation, Param, RateSchedule, StepRule, hookimpl


class Nanny(StepRule):
    name = "nanny"
    params = (
        Param("learning_rate", float, 0.1, "step size", low=0, low_open=True, per_member=True),
        Param("rho", float, 0.9, "decay", low=0),
    )
    elementwise = True

    def init_state(self, params):
        return {}

    def step(self, params, grads, state, learning_rate=0.1, rho=0.9, **hyper):
        with np.errstate(invalid="ignore"):
            for p, g in zip(params, grads):
                p -= learning_rate * g * np.sqrt(1.0 - rho) / np.sqrt(0.1)


class Stepper(RateSchedule):
    name = "stepper"
    params = (Param("every", int, 10, "epochs between halvings", low=0),)

    def init_state(self, P):
        return {}

    def factor(self, epoch, epochs, loss, state, every=10, **hyper):
        e, halvings = 0, 0
        while e + every <= epoch:  # never ends at every=0
            e += every
            halvings += 1
        return np.full(np.shape(loss), 0.5**halvings)


@hookimpl
def register_optimizers(register):
    register(Nanny())


@hookimpl
def register_schedules(register):
    register(Stepper())
'''
KIT_HOSTILE = "runner-kit-hostile"
CORE_NAMED_SOURCE = '''\
"""An activation whose parameter is named like the core column seed."""

import numpy as np

from runner import Activation, Param, hookimpl


class Seeded(Activation):
    name = "seeded"
    params = (Param("seed", float, 1.0, "a gain named like a core column"),)

    def forward(self, z, seed=1.0, **params):
        return np.tanh(seed * z)

    def derivative(self, z, a, seed=1.0, **params):
        return seed * (1.0 - a * a)


@hookimpl
def register_activations(register):
    register(Seeded())
'''
CORE_NAMED = "runner-core-named"


@pytest.fixture(scope="session")
def kit_hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runner-kit-hostile and runner-core-named installed (once per test run) into a folder of
    their own."""

    def make(folder: Path) -> None:
        projects = [
            one_module_project(folder / "src", KIT_HOSTILE, "runner_kit_hostile",
                               KIT_HOSTILE_SOURCE, "hostile"),
            one_module_project(folder / "src", CORE_NAMED, "runner_core_named",
                               CORE_NAMED_SOURCE, "named"),
        ]  # fmt: skip
        pip_install_target(projects, folder / "site")

    return made_once(tmp_path_factory, "kit-hostile", make) / "site"


def _hostile_module(site: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Any:
    import importlib

    monkeypatch.syspath_prepend(str(site))
    return importlib.import_module(name)


def test_a_parameter_without_a_declared_range_is_tried_at_its_default_only() -> None:
    assert kit.explored_values(Param("rho", float, 0.9, "")) == [0.9]
    assert kit.explored_values(Param("every", int, 10, "")) == [10]
    assert kit.explored_values(Param("rho", float, 0.9, "", low=0)) == [0.9, 0.0, 0.45, 1.9, 2.9]


def test_a_step_rule_stepping_to_nan_never_passes(
    kit_hostile_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nanny = _hostile_module(kit_hostile_site, monkeypatch, "runner_kit_hostile").Nanny()
    kit.check_plugin(nanny, {"rho": 0.5})  # finite steps: it conforms
    message = _fails(kit.check_plugin, nanny)
    assert message.startswith("step rule 'nanny' with learning_rate=0.1, rho=1.9: ")
    assert "expected finite values, got nan" in message


def test_a_parameter_named_like_a_core_column_fails_the_kit(
    kit_hostile_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = _hostile_module(kit_hostile_site, monkeypatch, "runner_core_named").Seeded()
    message = _fails(kit.check_plugin, seeded)
    assert (
        "declared parameters: activation 'seeded' declares a parameter 'seed', the name of a "
        "core column of sweep tables" in message
    )


@pytest.mark.slow
def test_runner_check_times_out_a_check_that_never_ends_and_refuses_core_names(
    kit_hostile_site: Path, tmp_path: Path
) -> None:
    """Real subprocesses with the package installed: the endless schedule fails as timed out
    (it hung with no output before), the core-named parameter is refused at registration."""
    env = dict(os.environ, PYTHONPATH=str(kit_hostile_site), RUNNER_PLUGINS=KIT_HOSTILE)
    named = dict(env, RUNNER_PLUGINS=CORE_NAMED)
    run = [sys.executable, "-m", "runner"]
    done = subprocess.run([*run, "check", "stepper", "--timeout", "1"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        f"FAIL schedule stepper ({KIT_HOSTILE}): schedule 'stepper' (from {KIT_HOSTILE}) with "
        "every=0: timed out after 1 s (a loop that does not end at these parameter values?)"
    ]
    refused = (
        f"distribution {CORE_NAMED!r} is broken: activation 'seeded' declares a parameter "
        "'seed', the name of a core column of sweep tables (a table's 'seed' column is always "
        "the core setting); name it otherwise"
    )
    seeded = subprocess.run([*run, "check", "seeded"], env=named, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert seeded.returncode == 2, seeded.stderr
    assert seeded.stderr.splitlines() == [
        f"Warning: {refused}; its plugins are left out",
        f"Error: plugin 'seeded' is not available: {refused}",
    ]


def test_the_reserved_parameter_names_are_the_core_columns() -> None:
    from runner.engine.settings import SETTINGS
    from runner.plugin.registry import RESERVED_PARAMS, SHARED_PARAMS

    assert set(RESERVED_PARAMS) == set(SETTINGS) - SHARED_PARAMS
    assert SHARED_PARAMS <= set(SETTINGS)


GUARD_SCRIPT = """
import sys
from pathlib import Path

import runner.sweep as sweep

sweep.GUARD_FLOOR = 2.0  # the guard's floor, down from ten minutes to a test's time
table, uri, jobs = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
summary = sweep.run_sweep(table, tracking_uri=uri, jobs=jobs, report=False)
for _, result in summary.results:
    if result.status == "failed":
        print("failed", result.spec.row, result.reason)
print("finished", summary.finished, "failed", summary.failed)
"""


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_sweep_with_a_schedule_that_never_ends_fails_that_run_and_goes_on(
    jobs: int, kit_hostile_site: Path, tmp_path: Path, sqlite_uri: str
) -> None:
    """Without --timeout the sweep's guard ends a population far past its estimate (it hung
    with no output before); the other row trains (issue 25.7). A real subprocess."""
    table = tmp_path / "endless.csv"
    table.write_text(
        "dataset,hidden,activation,epochs,seed,schedule,every\n"
        "xor,2,tanh,50,0,stepper,0\n"
        "xor,2,tanh,5,0,constant,\n"
    )
    env = dict(os.environ, PYTHONPATH=str(kit_hostile_site), RUNNER_PLUGINS=KIT_HOSTILE)
    command = [sys.executable, "-c", GUARD_SCRIPT, str(table), sqlite_uri, str(jobs)]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "failed 1 TimedOut: timed out after 2 s, far beyond the plan's estimate (a plugin's loop "
        "that never ends?); --timeout SECONDS sets the limit (in schedule 'stepper' of "
        "distribution 'runner-kit-hostile')",
        "finished 1 failed 1",
    ]
