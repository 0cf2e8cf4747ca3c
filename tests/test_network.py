"""Numerics of the core: whole-network gradients, XOR, and bitwise-equal populations.

Gradients are checked against central differences for every pairing of output activation and
cost that the cost accepts, with every hidden activation, so a new built-in plugin is covered
with no new test. Training a population must give every member bitwise what it gets alone.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from runner.engine.network import Network, member_rng
from runner.engine.training import MemberResult, Schedule, train
from runner.plugin.kinds import Activation, Cost, canonical_delta
from runner.plugin.registry import get_registry
from runner.testing import check_network_gradients, sample_targets

REGISTRY = get_registry()
ACTIVATIONS = REGISTRY.activations
HIDDEN = [a for a in ACTIVATIONS.values() if not a.output_only]
PAIRS = [
    (out, cost)
    for cost in REGISTRY.costs.values()
    for out in ACTIVATIONS.values()
    if cost.accepts(out) is None
]

XOR_X = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]])  # (N_0, S): samples as columns
XOR_Y = np.array([[0.0, 1.0, 1.0, 0.0]])


# -- whole-network gradients --------------------------------------------------------------------


def _away_from_kinks(network: Network, rng: np.random.Generator, P: int, S: int) -> tuple:
    """Weights, inputs and targets whose pre-activations all satisfy 0.02 < |z| < 6.

    Away from a kink at zero, and short of saturation, where the cost's value (through a
    saturated output) is too coarse for central differences to resolve 1e-6.
    """
    shapes = network.layer_shapes()
    for _ in range(1000):
        W = [rng.standard_normal((P, n_out, n_in)) / np.sqrt(n_in) for n_in, n_out in shapes]
        b = [0.3 * rng.standard_normal((P, n_out, 1)) for _, n_out in shapes]
        X = rng.standard_normal((network.sizes[0], S))
        zs, _ = network.forward(W, b, X)
        if all(0.02 < np.abs(z).min() and np.abs(z).max() < 6.0 for z in zs):
            Y = sample_targets(network.cost, rng, (1, network.sizes[-1], S))[0]
            return W, b, X, Y
    raise AssertionError("could not draw pre-activations away from zero")


@pytest.mark.parametrize("hidden", HIDDEN, ids=lambda a: a.name)
@pytest.mark.parametrize("output, cost", PAIRS, ids=lambda o: o.name)
def test_network_gradients_match_central_differences(
    hidden: Activation, output: Activation, cost: Cost
) -> None:
    network = Network((3, 4, 3, 2), hidden, output, cost)
    W, b, X, Y = _away_from_kinks(network, np.random.default_rng(0), P=2, S=5)
    check_network_gradients(network, W, b, X, Y)


def test_every_cost_has_an_output_activation_and_pairs_cover_the_exact_deltas() -> None:
    for cost in REGISTRY.costs.values():
        assert any(out.name for out, c in PAIRS if c is cost), cost.name
    # a cost's exact delta must be exercised by at least one pairing it accepts
    rng = np.random.default_rng(1)
    exercised = set()
    for out, cost in PAIRS:
        z = rng.standard_normal((1, 2, 3))
        a = out.forward(z)
        y = sample_targets(cost, rng, (1, 2, 3))
        if canonical_delta(cost, out, out.resolve({}), a, y) is not None:
            exercised.add(cost.name)
    assert exercised, "no pairing uses an exact output delta"


# -- XOR ----------------------------------------------------------------------------------------


def _xor_network(dtype: Any = np.float64) -> Network:
    sigmoid = ACTIVATIONS["sigmoid"]
    return Network((2, 2, 1), sigmoid, sigmoid, REGISTRY.costs["cross_entropy"], dtype=dtype)


def _train(
    network: Network,
    seeds: list[int],
    X: np.ndarray,
    Y: np.ndarray,
    rule: str = "gd",
    hyper: dict[str, Any] | None = None,
    schedule: Schedule | None = None,
    initializer: str = "normal",
) -> tuple[list[np.ndarray], list[np.ndarray], list[MemberResult]]:
    rngs = [member_rng(s) for s in seeds]
    W, b = network.init_population(REGISTRY.initializers[initializer], {}, rngs)
    hyper = hyper if hyper is not None else {"learning_rate": np.full(len(seeds), 1.0)}
    schedule = schedule or Schedule(epochs=1000)
    results = train(network, W, b, X, Y, REGISTRY.step_rules[rule], hyper, schedule, rngs)
    return W, b, results


def _assert_same_member(alone: MemberResult, member: MemberResult) -> None:
    for x, y in zip(alone.weights + alone.biases, member.weights + member.biases, strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    assert (alone.status, alone.epochs, alone.converged) == (
        member.status,
        member.epochs,
        member.converged,
    )
    for name, (steps, values) in alone.history.items():
        assert np.array_equal(steps, member.history[name][0])
        assert np.array_equal(values, member.history[name][1], equal_nan=True)


@pytest.fixture(scope="module")
def xor_thousand() -> tuple[list[np.ndarray], list[np.ndarray], list[MemberResult]]:
    """Seeds 0..999 of 2-2-1 sigmoid / cross-entropy / normal / gd lr 1.0, as one population."""
    return _train(_xor_network(), list(range(1000)), XOR_X, XOR_Y)


def test_xor_trains_to_accuracy_one_where_it_converges(xor_thousand: tuple) -> None:
    W, b, _ = xor_thousand
    network = _xor_network()
    first = [w[:100] for w in W], [x[:100] for x in b]  # seeds 0..99
    loss = network.loss(*first, XOR_X, XOR_Y)
    converged = loss < 0.1
    assert converged.sum() >= 60, f"only {converged.sum()} of seeds 0..99 reached loss < 0.1"
    predicted = network.predict(*first, XOR_X)[:, 0, :] > 0.5
    correct = (predicted == (XOR_Y[0] > 0.5)).all(axis=1)
    assert correct[converged].all(), np.flatnonzero(converged & ~correct)


def test_a_thousand_seeds_in_one_population_equal_each_seed_alone(xor_thousand: tuple) -> None:
    W, b, results = xor_thousand
    network = _xor_network()
    assert len(results) == 1000 and W[0].shape == (1000, 2, 2)
    for p, result in enumerate(results):  # the results and the arrays agree for all 1000
        for m in range(2):
            assert np.array_equal(result.weights[m], W[m][p])
            assert np.array_equal(result.biases[m], b[m][p])
    for seed in range(0, 1000, 50):
        Wa, ba, (alone,) = _train(network, [seed], XOR_X, XOR_Y)
        _assert_same_member(alone, results[seed])
        for m in range(2):
            assert np.array_equal(Wa[m][0], W[m][seed])


def test_momentum_population_with_per_member_rates_equals_each_member_alone() -> None:
    network = _xor_network()
    seeds = list(range(1000))
    rates = np.linspace(0.1, 2.0, len(seeds))
    hyper = {"learning_rate": rates, "momentum": 0.9}
    _, _, together = _train(network, seeds, XOR_X, XOR_Y, "momentum", hyper, Schedule(epochs=300))
    for seed in range(0, 1000, 50):
        alone_hyper = {"learning_rate": rates[seed : seed + 1], "momentum": 0.9}
        _, _, (alone,) = _train(
            network, [seed], XOR_X, XOR_Y, "momentum", alone_hyper, Schedule(epochs=300)
        )
        _assert_same_member(alone, together[seed])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_mini_batch_population_equals_each_member_alone(dtype: Any) -> None:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((2, 64)).astype(dtype)
    Y = (X[:1] * X[1:] > 0).astype(dtype)  # a noisy-free quadrant XOR of 64 points
    network = Network(
        (2, 4, 1), ACTIVATIONS["tanh"], ACTIVATIONS["sigmoid"], REGISTRY.costs["cross_entropy"],
        dtype=dtype,
    )  # fmt: skip
    seeds = list(range(200))
    rates = np.linspace(0.05, 0.5, len(seeds))
    schedule = Schedule(epochs=30, batch_size=16)
    hyper = {"learning_rate": rates, "momentum": 0.9}
    _, _, together = _train(network, seeds, X, Y, "momentum", hyper, schedule, "xavier")
    for seed in range(0, 200, 20):
        alone_hyper = {"learning_rate": rates[seed : seed + 1], "momentum": 0.9}
        _, _, (alone,) = _train(network, [seed], X, Y, "momentum", alone_hyper, schedule, "xavier")
        _assert_same_member(alone, together[seed])
        assert alone.weights[0].dtype == dtype


# -- float32 ------------------------------------------------------------------------------------


def test_float32_is_kept_throughout() -> None:
    network = _xor_network(np.float32)
    X, Y = XOR_X.astype(np.float32), XOR_Y.astype(np.float32)
    rngs = [member_rng(s) for s in range(10)]
    W, b = network.init_population(REGISTRY.initializers["normal"], {}, rngs)
    assert all(x.dtype == np.float32 for x in W + b)
    start = network.loss(W, b, X, Y)
    loss, dW, db, a_out = network.gradients(W, b, X, Y)
    assert all(x.dtype == np.float32 for x in [loss, a_out, *dW, *db])
    # float32 gradients agree with float64 ones to float32 precision
    W64, b64 = [w.astype(np.float64) for w in W], [x.astype(np.float64) for x in b]
    _, dW64, db64, _ = _xor_network().gradients(W64, b64, XOR_X, XOR_Y)
    for g32, g64 in zip(dW + db, dW64 + db64, strict=True):
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-6)

    hyper = {"learning_rate": np.full(10, 1.0)}
    results = train(network, W, b, X, Y, REGISTRY.step_rules["gd"], hyper, Schedule(300), rngs)
    assert all(x.dtype == np.float32 for x in W + b)
    assert all(w.dtype == np.float32 for r in results for w in r.weights + r.biases)
    end = network.loss(W, b, X, Y)
    assert end.dtype == np.float32 and np.isfinite(end).all()
    assert (end < start).all()
    assert network.predict(W, b, X).dtype == np.float32


def test_sigmoid_keeps_relative_precision_in_its_negative_tail() -> None:
    sigmoid = ACTIVATIONS["sigmoid"]
    z = np.array([[[-40.0, -300.0, -800.0, 0.0, 40.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exp(800) overflowing must not warn
        a = sigmoid.forward(z)
    exact = [np.exp(-40.0) / (1.0 + np.exp(-40.0)), np.exp(-300.0), 0.0, 0.5, 1.0]
    np.testing.assert_allclose(a[0, 0], exact, rtol=1e-15, atol=0)
    np.testing.assert_allclose(sigmoid.forward(z, beta=2.0)[0, 0, 0], np.exp(-80.0), rtol=1e-15)
