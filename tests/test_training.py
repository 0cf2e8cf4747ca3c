"""The training loop: stop criteria, divergence, mini-batch reproducibility, metric history."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from runner.engine import training
from runner.engine.network import Network, fold, member_rng, with_ones
from runner.engine.training import MemberResult, Schedule, train
from runner.plugin.registry import get_registry

REGISTRY = get_registry()
ACT = REGISTRY.activations
COST = REGISTRY.costs

XOR_X = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
XOR_Y = np.array([[0.0, 1.0, 1.0, 0.0]])


def _xor() -> Network:
    return Network((2, 2, 1), ACT["sigmoid"], ACT["sigmoid"], COST["cross_entropy"])


def _regression(seed: int = 3, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2, n))
    return X, np.sin(X[:1]) + 0.5 * X[1:]


def _run(
    network: Network,
    seeds: list[int],
    X: np.ndarray,
    Y: np.ndarray,
    schedule: Schedule,
    hyper: dict[str, Any],
    rule: str = "gd",
    initializer: str = "normal",
) -> tuple[list[np.ndarray], list[np.ndarray], list[MemberResult]]:
    rngs = [member_rng(s) for s in seeds]
    W, b = network.init_population(REGISTRY.initializers[initializer], {}, rngs)
    results = train(network, W, b, X, Y, REGISTRY.step_rules[rule], hyper, schedule, rngs)
    return W, b, results


def _same_weights(a: MemberResult, b: MemberResult) -> bool:
    pairs = zip(a.weights + a.biases, b.weights + b.biases, strict=True)
    return all(np.array_equal(x, y) for x, y in pairs)


# -- stop criteria ------------------------------------------------------------------------------


def test_target_loss_stops_a_member_and_marks_it_converged() -> None:
    network = _xor()
    seeds = list(range(12))
    schedule = Schedule(epochs=3000, target_loss=0.1)
    hyper = {"learning_rate": np.full(len(seeds), 1.0)}
    _, _, results = _run(network, seeds, XOR_X, XOR_Y, schedule, hyper)
    converged = [r for r in results if r.converged]
    assert 0 < len(converged) < len(results)  # some reach the target, some stay stuck
    for seed, r in zip(seeds, results, strict=True):
        steps, losses = r.history["loss"]
        # step = epoch: the loss that stopped it is that of the weights after epochs - 1 epochs
        assert r.status == "finished" and steps[0] == 0 and steps[-1] == r.epochs - 1
        if r.converged:
            assert r.epochs < schedule.epochs and losses[-1] <= 0.1
            assert (losses[:-1] > 0.1).all()  # it stopped at the first epoch at the target
            W = [w[None] for w in r.weights]
            b = [x[None] for x in r.biases]
            assert network.loss(W, b, XOR_X, XOR_Y)[0] <= 0.1
            # stopping early changes nothing for the member: alone it stops at the same epoch
            _, _, (alone,) = _run(network, [seed], XOR_X, XOR_Y, schedule, {"learning_rate": 1.0})
            assert alone.epochs == r.epochs and _same_weights(alone, r)
        else:
            assert r.epochs == schedule.epochs and losses[-1] > 0.1


def test_gradient_tolerance_stops_a_member_at_the_least_squares_solution() -> None:
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 50))
    true_W, true_b = np.array([[1.5, -2.0, 0.5]]), 0.25
    Y = true_W @ X + true_b
    identity = ACT["identity"]
    network = Network((3, 1), identity, identity, COST["squared_error"])
    schedule = Schedule(epochs=20000, gradient_tolerance=1e-8, log_every=1)
    _, _, results = _run(network, [0, 1, 2], X, Y, schedule, {"learning_rate": 0.3})
    for r in results:
        assert r.converged and r.status == "finished"
        assert 0 < r.epochs < schedule.epochs
        steps, norms = r.history["gradient_norm"]
        assert steps[-1] == r.epochs - 1 and norms[-1] < 1e-8 and norms[0] > 1e-8
        np.testing.assert_allclose(r.weights[0], true_W, atol=1e-6)
        np.testing.assert_allclose(r.biases[0], [[true_b]], atol=1e-6)


@pytest.mark.parametrize("sizes", [(2, 3, 1), (5, 6, 2)], ids=["tiny", "blas"])
def test_the_recorded_gradient_norm_is_the_norm_of_the_whole_gradient_of_each_member(
    sizes: tuple[int, ...],
) -> None:
    # the first recorded point is the gradient at the initial weights, before the first step
    network = Network(sizes, ACT["tanh"], ACT["identity"], COST["squared_error"])
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((sizes[0], 9)), rng.standard_normal((sizes[-1], 9))
    W0, b0 = network.init_population(
        REGISTRY.initializers["normal"], {}, [member_rng(s) for s in range(4)]
    )
    _, dW, db, _ = network.gradients(W0, b0, X, Y)
    expected = [np.sqrt(sum((g[p] ** 2).sum() for g in dW + db)) for p in range(4)]
    _, _, results = _run(network, [0, 1, 2, 3], X, Y, Schedule(epochs=2, log_every=1), {})
    recorded = [r.history["gradient_norm"][1][0] for r in results]
    np.testing.assert_allclose(recorded, expected, rtol=1e-12)  # the history is float64


# -- divergence ---------------------------------------------------------------------------------


def test_a_diverging_member_is_marked_and_the_others_finish_as_they_would_alone() -> None:
    X, Y = _regression()
    network = Network((2, 3, 1), ACT["tanh"], ACT["identity"], COST["squared_error"])
    seeds = list(range(8))
    rates = np.array([0.05, 0.05, 0.1, 1e6, 0.1, 0.02, 0.1, 30])  # two absurd rates
    schedule = Schedule(epochs=300)
    hyper = {"learning_rate": rates, "momentum": 0.9}
    _, _, results = _run(network, seeds, X, Y, schedule, hyper, "momentum", "xavier")
    diverged = [i for i, r in enumerate(results) if r.status == "diverged"]
    assert diverged == [3, 7]
    for i in diverged:
        r = results[i]
        assert not r.converged and r.epochs < schedule.epochs
        assert r.reason.startswith(("loss", "a weight")) and f"epoch {r.epochs}" in r.reason
    assert results[3].epochs != results[7].epochs  # stopped rows leave at different epochs
    for i, r in enumerate(results):
        if i in diverged:
            continue
        assert r.status == "finished" and r.epochs == schedule.epochs and r.reason == ""
        assert np.isfinite(r.history["loss"][1]).all()
        alone_hyper = {"learning_rate": rates[i : i + 1], "momentum": 0.9}
        _, _, (alone,) = _run(network, [i], X, Y, schedule, alone_hyper, "momentum", "xavier")
        assert _same_weights(alone, r), f"member {i} differs from training it alone"


def test_weights_beyond_their_bound_diverge_though_the_clipped_loss_looks_fine() -> None:
    # lr 1e308 throws the weights to ~1e307; the clipped cross-entropy stays finite (~18)
    network = _xor()
    _, _, (wild, sane) = _run(
        network,
        [0, 0],
        XOR_X,
        XOR_Y,
        Schedule(epochs=20),
        {"learning_rate": np.array([1e308, 1.0])},
    )
    assert (wild.status, sane.status) == ("diverged", "finished")
    assert wild.reason.startswith("a weight reached magnitude") and "beyond 1e+15" in wild.reason
    assert np.isfinite(wild.history["loss"][1]).all()
    assert max(np.abs(w).max() for w in wild.weights + wild.biases) > training.WEIGHT_BOUND


def test_a_loss_grown_by_orders_of_magnitude_diverges_while_still_finite() -> None:
    X, Y = _regression()
    network = Network((2, 3, 1), ACT["relu"], ACT["identity"], COST["squared_error"])
    (result,) = _run(network, [1], X, Y, Schedule(epochs=200, log_every=1), {"learning_rate": 3.0})[
        2
    ]
    losses = result.history["loss"][1]
    assert result.status == "diverged" and result.epochs < 200
    assert result.reason.startswith(f"loss grew from {losses[0]:.3g} to {losses[-1]:.3g}")
    assert np.isfinite(losses).all() and losses[-1] <= training.LOSS_BOUND
    assert losses[-1] > training.LOSS_GROWTH * max(losses[0], 1.0)


def test_a_loss_beyond_its_bound_is_recorded_in_float64_and_diverges() -> None:
    # targets of 1e20: the very first loss, ~5e39, overflows float32 (3.4e38) but not float64
    X, Y = _regression()
    network = Network((2, 3, 1), ACT["tanh"], ACT["identity"], COST["squared_error"])
    (result,) = _run(network, [0], X, Y * 1e20, Schedule(epochs=10), {"learning_rate": 0.1})[2]
    expected = network.loss(*_run(network, [0], X, Y, Schedule(epochs=0), {})[:2], X, Y * 1e20)
    steps, losses = result.history["loss"]
    assert losses.dtype == np.float64
    assert (result.status, result.epochs, steps.tolist()) == ("diverged", 1, [0])
    assert losses[0] == expected[0] and losses[0] > np.finfo(np.float32).max
    assert result.reason == f"loss reached {losses[0]:.3g}, beyond 1e+30, at epoch 1"


# -- mini-batches -------------------------------------------------------------------------------


def test_mini_batch_training_with_shuffling_is_reproducible() -> None:
    X, Y = _regression(n=50)
    network = Network((2, 4, 1), ACT["tanh"], ACT["identity"], COST["squared_error"])
    schedule = Schedule(epochs=20, batch_size=8)  # 50 samples: six batches of 8 and one of 2
    hyper = {"learning_rate": 0.05}

    def run(seeds: list[int]) -> list[MemberResult]:
        return _run(network, seeds, X, Y, schedule, hyper, "gd", "xavier")[2]

    first, again = run([0, 1, 2]), run([0, 1, 2])
    for a, b in zip(first, again, strict=True):
        assert _same_weights(a, b)
        assert np.array_equal(a.history["loss"][1], b.history["loss"][1])

    # the order of samples comes from each member's own generator: the same initial weights
    # shuffled by other generators end elsewhere, and full batches end elsewhere again
    rngs = [member_rng(s) for s in range(3)]
    W, b = network.init_population(REGISTRY.initializers["xavier"], {}, rngs)
    W2, b2 = [w.copy() for w in W], [x.copy() for x in b]
    other = [member_rng(s, restart=7) for s in range(3)]
    shuffled = train(network, W2, b2, X, Y, REGISTRY.step_rules["gd"], hyper, schedule, other)
    for a, b_ in zip(first, shuffled, strict=True):
        assert not _same_weights(a, b_)
    full = Schedule(epochs=20)
    whole = train(network, W, b, X, Y, REGISTRY.step_rules["gd"], hyper, full, rngs)
    for a, b_ in zip(first, whole, strict=True):
        assert not _same_weights(a, b_)


def test_a_batch_size_of_the_whole_set_is_full_batch_training() -> None:
    X, Y = _regression(n=20)
    network = Network((2, 3, 1), ACT["tanh"], ACT["identity"], COST["squared_error"])
    hyper = {"learning_rate": 0.1}
    _, _, full = _run(network, [4], X, Y, Schedule(epochs=30), hyper)
    _, _, same = _run(network, [4], X, Y, Schedule(epochs=30, batch_size=20), hyper)
    assert _same_weights(full[0], same[0])


# -- history ------------------------------------------------------------------------------------


def test_history_is_decimated_to_max_points_with_step_equal_to_epoch() -> None:
    network = _xor()
    hyper = {"learning_rate": 1.0}
    schedule = Schedule(epochs=1000, max_points=50)
    _, _, results = _run(network, [0, 1, 2], XOR_X, XOR_Y, schedule, hyper)
    _, _, dense = _run(
        network, [0, 1, 2], XOR_X, XOR_Y, Schedule(epochs=100, max_points=100), hyper
    )
    for r, d in zip(results, dense, strict=True):
        for name in ("loss", "gradient_norm"):
            steps, values = r.history[name]
            assert len(steps) == len(values) <= 50 + 1  # and the last epoch's
            assert np.array_equal(steps, [*range(0, 1000, 20), 999])
            assert np.isfinite(values).all()
            # step = epoch: the decimated points are the dense history's values at those epochs
            d_steps, d_values = d.history[name]
            assert np.array_equal(d_steps, np.arange(0, 100))
            np.testing.assert_allclose(values[:5], d_values[0::20], rtol=1e-6)
    # the loss recorded at step 0 is the loss of the initial weights
    rngs = [member_rng(s) for s in [0, 1, 2]]
    W, b = network.init_population(REGISTRY.initializers["normal"], {}, rngs)
    start = network.loss(W, b, XOR_X, XOR_Y)
    np.testing.assert_allclose([d.history["loss"][1][0] for d in dense], start, rtol=1e-6)


def test_history_of_an_early_stopped_member_ends_at_its_last_epoch() -> None:
    network = _xor()
    schedule = Schedule(epochs=5000, max_points=40, target_loss=0.1)
    _, _, results = _run(network, list(range(8)), XOR_X, XOR_Y, schedule, {"learning_rate": 1.0})
    every = schedule.every()
    assert every == 125
    stopped = [r for r in results if r.epochs < schedule.epochs]
    assert stopped and any(r.epochs % every for r in stopped)
    for r in results:
        steps, values = r.history["loss"]
        assert len(steps) <= schedule.max_points + 1 and steps[-1] == r.epochs - 1
        assert steps[0] == 0 and (np.diff(steps) > 0).all() and (steps[:-1] % every == 0).all()
        assert values[-1] <= 0.1 if r.converged else values[-1] > 0.1


def test_zero_epochs_returns_the_initial_weights() -> None:
    network = _xor()
    rngs = [member_rng(s) for s in range(3)]
    W, b = network.init_population(REGISTRY.initializers["normal"], {}, rngs)
    start = [w.copy() for w in W + b]
    results = train(
        network, W, b, XOR_X, XOR_Y, REGISTRY.step_rules["gd"], {}, Schedule(epochs=0), rngs
    )
    for p, r in enumerate(results):
        assert r.epochs == 0 and len(r.history["loss"][0]) == 0
        for x, s in zip(r.weights + r.biases, start, strict=True):
            assert np.array_equal(x, s[p])


# -- memory layout and the packed step ----------------------------------------------------------


def test_tiny_networks_are_population_contiguous_and_larger_ones_are_not() -> None:
    tiny = _xor()
    larger = Network((8, 6, 3), ACT["tanh"], ACT["softmax"], COST["categorical_cross_entropy"])
    assert tiny.order == "F" and larger.order == "C"
    rngs = [member_rng(s) for s in range(5)]
    W, b = tiny.init_population(REGISTRY.initializers["normal"], {}, rngs)
    assert all(x.flags.f_contiguous and not x.flags.c_contiguous for x in W[:1])
    W, b = larger.init_population(REGISTRY.initializers["xavier"], {}, rngs)
    assert all(x.flags.c_contiguous for x in W + b)


@pytest.mark.parametrize("sizes", [(4, 4, 1), (8, 6, 3)], ids=["contiguous", "row-major"])
def test_every_product_keeps_the_networks_memory_order(sizes: tuple[int, ...]) -> None:
    # [W | b] of a (4, 4, 1) network is 4 x 5 and 1 x 5: its products are still computed as
    # tiny ones, along the population, because the layer's weights are tiny
    network = Network(sizes, ACT["tanh"], ACT["sigmoid"], COST["squared_error"])
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((sizes[0], 7)), rng.random((sizes[-1], 7))
    W, b = network.init_population(
        REGISTRY.initializers["xavier"], {}, [member_rng(s) for s in range(5)]
    )
    theta = fold(W, b, network.order)
    _, dtheta, a_out = network.backprop(theta, with_ones(X), Y)
    contiguous = "f_contiguous" if network.order == "F" else "c_contiguous"
    assert network.order == ("F" if sizes[0] == 4 else "C")
    assert all(getattr(x.flags, contiguous) for x in [*theta, *dtheta, a_out])


def test_a_population_stopping_down_to_one_live_row_equals_each_member_alone() -> None:
    # target_loss stops most members early; the rows left shrink to one live member while
    # the population-contiguous arrays keep at least two rows
    network = _xor()
    seeds = list(range(12))
    schedule = Schedule(epochs=2000, target_loss=0.05)
    rates = np.linspace(0.5, 3.0, len(seeds))
    _, _, together = _run(network, seeds, XOR_X, XOR_Y, schedule, {"learning_rate": rates})
    assert len({m.epochs for m in together}) > 3  # members really stopped at different epochs
    for i, seed in enumerate(seeds):
        hyper = {"learning_rate": rates[i : i + 1]}
        _, _, (alone,) = _run(network, [seed], XOR_X, XOR_Y, schedule, hyper)
        assert _same_weights(alone, together[i]) and alone.epochs == together[i].epochs


@pytest.mark.parametrize("sizes", [(2, 4, 1), (6, 8, 3)], ids=["contiguous", "row-major"])
def test_mini_batches_gathered_in_chunks_equal_one_gather_per_epoch(
    sizes: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(4)
    X = rng.standard_normal((sizes[0], 50))
    labels = rng.integers(0, sizes[-1], 50) if sizes[-1] > 1 else (X[0] > 0).astype(int)
    Y = np.eye(sizes[-1])[labels].T if sizes[-1] > 1 else labels[None].astype(float)
    output, cost = (
        (ACT["softmax"], COST["categorical_cross_entropy"])
        if sizes[-1] > 1
        else (ACT["sigmoid"], COST["cross_entropy"])
    )
    network = Network(sizes, ACT["tanh"], output, cost)
    schedule = Schedule(epochs=5, batch_size=8)
    hyper = {"learning_rate": np.linspace(0.05, 0.2, 6), "momentum": 0.9}
    _, _, whole = _run(network, list(range(6)), X, Y, schedule, hyper, "momentum", "xavier")
    monkeypatch.setattr(training, "GATHER_BYTES", 1)  # one batch per gather
    _, _, chunked = _run(network, list(range(6)), X, Y, schedule, hyper, "momentum", "xavier")
    for a, b in zip(whole, chunked, strict=True):
        assert _same_weights(a, b)
        assert np.array_equal(a.history["loss"][1], b.history["loss"][1])


def test_a_row_major_mini_batch_population_equals_each_member_alone() -> None:
    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, 40))
    Y = np.eye(3)[rng.integers(0, 3, 40)].T
    network = Network((6, 8, 3), ACT["tanh"], ACT["softmax"], COST["categorical_cross_entropy"])
    assert network.order == "C"
    schedule = Schedule(epochs=8, batch_size=16)
    rates = np.linspace(0.05, 0.3, 7)
    hyper = {"learning_rate": rates, "momentum": 0.9}
    _, _, together = _run(network, list(range(7)), X, Y, schedule, hyper, "momentum", "xavier")
    for i in range(7):
        alone_hyper = {"learning_rate": rates[i : i + 1], "momentum": 0.9}
        _, _, (alone,) = _run(network, [i], X, Y, schedule, alone_hyper, "momentum", "xavier")
        assert _same_weights(alone, together[i])
        for name in ("loss", "gradient_norm"):
            assert np.array_equal(alone.history[name][1], together[i].history[name][1])


@pytest.mark.parametrize("rule", ["gd", "momentum", "nesterov"])
def test_the_packed_step_equals_the_per_layer_step(rule: str) -> None:
    builtin = REGISTRY.step_rules[rule]
    per_layer = type(builtin)()
    per_layer.elementwise = False  # the same rule, stepped one layer at a time
    network = _xor()
    seeds = list(range(20))
    hyper = {"learning_rate": np.linspace(0.2, 2.0, len(seeds)), "momentum": 0.8}
    schedule = Schedule(epochs=200)
    results = []
    for step_rule in (builtin, per_layer):
        rngs = [member_rng(s) for s in seeds]
        W, b = network.init_population(REGISTRY.initializers["normal"], {}, rngs)
        results.append(train(network, W, b, XOR_X, XOR_Y, step_rule, hyper, schedule, rngs))
    for packed, layered in zip(*results, strict=True):
        assert _same_weights(packed, layered)
