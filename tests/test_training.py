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


# -- the L2 penalty alpha -------------------------------------------------------------------------


def _penalized_cost(
    network: Network, W: list, b: list, X: np.ndarray, Y: np.ndarray, alpha: np.ndarray
) -> np.ndarray:
    """scikit-learn's regularized cost: C + alpha/(2 S) sum ||W^m||^2 (biases not penalized)."""
    squares = sum((w**2).sum(axis=(1, 2)) for w in W)
    return network.loss(W, b, X, Y) + 0.5 * alpha * squares / X.shape[-1]


@pytest.mark.parametrize("sizes", [(2, 3, 1), (2, 8, 6, 1)])
def test_the_penalized_gradient_matches_finite_differences_of_the_penalized_cost(
    sizes: tuple[int, ...],
) -> None:
    from runner.engine.buffers import ParameterBuffers

    network = Network(sizes, ACT["tanh"], ACT["sigmoid"], COST["cross_entropy"])
    alpha = np.array([0.0, 0.5, 3.0])
    rngs = [member_rng(s) for s in range(3)]
    W, b = network.init_population(REGISTRY.initializers["normal"], {}, rngs)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 7)), (rng.random((1, 7)) > 0.5).astype(float)
    work = ParameterBuffers(W, b, network.order, REGISTRY.step_rules["gd"], {"learning_rate": 0.1})
    work.penalize(alpha)
    loss, _, _ = network.backprop(work.blocks, with_ones(X, network.order), Y, True, work.gblocks)
    loss = work.add_penalty(X.shape[-1], loss)
    np.testing.assert_allclose(loss, _penalized_cost(network, W, b, X, Y, alpha), rtol=1e-12)
    h = 1e-6
    for m in range(len(W)):
        for arrays, grads in (
            (W, [g[..., :-1] for g in work.gblocks]),
            (b, [g[..., -1:] for g in work.gblocks]),
        ):
            numeric = np.zeros_like(arrays[m])
            for index in np.ndindex(arrays[m].shape[1:]):
                for sign in (1, -1):
                    moved = [a.copy() for a in arrays]
                    moved[m][(slice(None), *index)] += sign * h
                    Wm, bm = (moved, b) if arrays is W else (W, moved)
                    numeric[(slice(None), *index)] += (
                        sign * _penalized_cost(network, Wm, bm, X, Y, alpha) / (2 * h)
                    )
            np.testing.assert_allclose(grads[m], numeric, rtol=1e-6, atol=1e-8)


def test_alpha_shrinks_the_weights_not_the_biases_per_member_and_enters_the_loss() -> None:
    network = Network((2, 4, 1), ACT["tanh"], ACT["identity"], COST["squared_error"])
    X, Y = _regression()
    rngs = [member_rng(0), member_rng(0)]  # the same start, two penalties
    W, b = network.init_population(REGISTRY.initializers["normal"], {}, rngs)
    hyper = {"learning_rate": 0.05}
    result = train(
        network,
        W,
        b,
        X,
        Y,
        REGISTRY.step_rules["gd"],
        hyper,
        Schedule(epochs=300),
        [],
        alpha=np.array([0.0, 5.0]),
    )
    free, penalized = result[0], result[1]
    norm = [sum((w**2).sum() for w in r.weights) for r in (free, penalized)]
    assert norm[1] < 0.5 * norm[0]
    # the recorded loss is the cost minimized, the penalty included: at epoch 1, of the start
    W1, b1 = network.init_population(
        REGISTRY.initializers["normal"], {}, [member_rng(0), member_rng(0)]
    )
    start = _penalized_cost(network, W1, b1, X, Y, np.array([0.0, 5.0]))
    first = train(
        network,
        W1,
        b1,
        X,
        Y,
        REGISTRY.step_rules["gd"],
        hyper,
        Schedule(epochs=1),
        [],
        alpha=np.array([0.0, 5.0]),
    )
    assert [m.history["loss"][1][0] for m in first] == pytest.approx(start, rel=1e-12)
    assert start[1] > start[0]
    # alone it trains bitwise as in the population
    W1, b1 = network.init_population(
        REGISTRY.initializers["normal"], {}, [member_rng(0), member_rng(0)]
    )
    alone = train(
        network,
        W1,
        b1,
        X,
        Y,
        REGISTRY.step_rules["gd"],
        hyper,
        Schedule(epochs=300),
        [],
        alpha=np.array([5.0, 5.0]),
    )
    assert _same_weights(alone[0], penalized)


def test_alpha_in_mini_batches_is_the_penalty_of_each_batch() -> None:
    network = Network((2, 3, 1), ACT["tanh"], ACT["identity"], COST["squared_error"])
    X, Y = _regression(n=10)
    rngs = [member_rng(1)]
    W, b = network.init_population(REGISTRY.initializers["normal"], {}, rngs)
    start_W = [w.copy() for w in W]
    # one epoch of two batches of 5 with a zero learning rate: the loss is the mean of the
    # batches' penalized costs
    result = train(
        network,
        W,
        b,
        X,
        Y,
        REGISTRY.step_rules["gd"],
        {"learning_rate": 1e-300},
        Schedule(epochs=1, batch_size=5),
        [member_rng(1)],
        alpha=np.array([2.0]),
    )
    order = member_rng(1).permutation(10)
    costs = []
    for batch in (order[:5], order[5:]):
        costs.append(
            _penalized_cost(network, start_W, b, X[:, batch], Y[:, batch], np.array([2.0]))[0]
        )
    steps, losses = result[0].history["loss"]  # step 0 is the initial weights, step 1 the epoch
    assert steps[1] == 1 and losses[1] == pytest.approx(np.mean(costs), rel=1e-9)


# -- learning-rate schedules -------------------------------------------------------------------


def _scheduled(name: str, params: dict[str, Any], P: int = 1) -> training.RateControl:
    from runner.engine.population import rate_control

    schedule = REGISTRY.schedules[name]
    control = rate_control(schedule, [schedule.resolve(params)], np.zeros(P, np.intp))
    assert control is not None
    return control


@pytest.mark.parametrize(
    ("name", "params", "factor"),
    [
        ("invscaling", {"power_t": 0.5}, lambda e: 1 / np.sqrt(e + 1)),
        ("step", {"step_size": 3, "gamma": 0.5}, lambda e: 0.5 ** (e // 3)),
        ("exponential", {"gamma": 0.9}, lambda e: 0.9**e),
        ("cosine", {"min_factor": 0.1}, lambda e: 0.1 + 0.9 * (1 + np.cos(np.pi * e / 8)) / 2),
    ],
)
def test_a_schedule_scales_gradient_descents_step_epoch_by_epoch(
    name: str, params: dict[str, Any], factor: Any
) -> None:
    network = Network((2, 3, 1), ACT["tanh"], ACT["identity"], COST["squared_error"])
    X, Y = _regression()
    rngs = [member_rng(2)]
    W, b = network.init_population(REGISTRY.initializers["normal"], {}, rngs)
    W0, b0 = [w.copy() for w in W], [v.copy() for v in b]
    train(
        network,
        W,
        b,
        X,
        Y,
        REGISTRY.step_rules["gd"],
        {"learning_rate": 0.1},
        Schedule(epochs=8),
        [],
        rate=_scheduled(name, params),
    )
    for e in range(8):  # by hand: w <- w - eta f(e) dC/dw
        _, dW, db, _ = network.gradients(W0, b0, X, Y)
        for a, g in zip([*W0, *b0], [*dW, *db], strict=True):
            a -= 0.1 * factor(e) * g
    for got, want in zip([*W, *b], [*W0, *b0], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("rule", ["gd", "momentum", "nesterov", "adam"])
def test_a_per_member_schedule_trains_each_member_as_it_would_alone(rule: str) -> None:
    from runner.engine.population import rate_control

    network = Network((2, 3, 1), ACT["tanh"], ACT["identity"], COST["squared_error"])
    X, Y = _regression()
    schedule = REGISTRY.schedules["exponential"]
    configured = [schedule.resolve({"gamma": g}) for g in (0.9, 0.99, 0.5)]
    step_rule = REGISTRY.step_rules[rule]
    hyper = step_rule.resolve({})

    def run(members: list[int]) -> Any:
        rngs = [member_rng(m) for m in members]
        W, b = network.init_population(REGISTRY.initializers["normal"], {}, rngs)
        control = rate_control(schedule, [configured[m] for m in members], np.arange(len(members)))
        return train(network, W, b, X, Y, step_rule, hyper, Schedule(epochs=30), [], rate=control)

    together = run([0, 1, 2])
    for m in range(3):
        assert _same_weights(run([m])[0], together[m])


def test_the_adaptive_schedule_divides_the_rate_by_five_when_the_loss_stalls() -> None:
    schedule = REGISTRY.schedules["adaptive"]
    params = schedule.resolve({"plateau": 2})
    state = schedule.init_state(2)
    # member 0 improves every epoch; member 1 stalls from the start
    factors = []
    for epoch in range(1, 9):
        loss = np.array([1.0 / epoch, 1.0]) if epoch > 1 else np.full(2, np.nan)
        factors.append(schedule.factor(epoch, 8, loss, state, **params))
    f = np.array(factors)
    assert (f[:, 0] == 1.0).all()
    # member 1: epoch 2 sets its best, epochs 3, 4, 5 stall (more than plateau=2): divided by 5
    assert f[:4, 1].tolist() == [1.0, 1.0, 1.0, 1.0] and f[4, 1] == pytest.approx(0.2)
    assert f[7, 1] == pytest.approx(0.04)


def test_a_schedule_with_a_rule_without_a_rate_is_refused() -> None:
    from runner import StepRule

    class Sign(StepRule):
        name = "sign"
        rate = None

        def step(self, params: Any, grads: Any, state: Any, **hyper: Any) -> None:
            for p, g in zip(params, grads, strict=True):
                p -= 0.01 * np.sign(g)

    network = _xor()
    W, b = network.init_population(REGISTRY.initializers["normal"], {}, [member_rng(0)])
    with pytest.raises(ValueError, match="declares no learning rate a schedule could scale"):
        train(
            network,
            W,
            b,
            XOR_X,
            XOR_Y,
            Sign(),
            {},
            Schedule(epochs=2),
            [],
            rate=_scheduled("cosine", {}),
        )


# -- early stopping ------------------------------------------------------------------------------


def _classification(seed: int = 0, n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2, n))
    Y = ((X[0] * X[1] + 0.3 * rng.standard_normal(n)) > 0).astype(float)[None]
    return X, Y


def test_early_stopping_keeps_the_best_validation_weights_and_says_why_it_stopped() -> None:
    from runner.engine.data import labels

    network = Network((2, 16, 1), ACT["tanh"], ACT["sigmoid"], COST["cross_entropy"])
    X, Y = _classification()
    Xv, Yv = _classification(seed=1, n=40)
    rngs = [member_rng(s) for s in range(3)]
    W, b = network.init_population(REGISTRY.initializers["normal"], {}, rngs)
    schedule = Schedule(epochs=2000, early_stopping=True, patience=5, tol=1e-4, log_every=1)
    validation = training.Validation(with_ones(Xv), Yv)
    result = train(
        network,
        W,
        b,
        X,
        Y,
        REGISTRY.step_rules["adam"],
        {"learning_rate": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
        schedule,
        [],
        labels,
        validation=validation,
    )
    for member in result:
        assert member.stop_reason == "early_stopping" and member.epochs < 2000
        steps, scores = member.history["validation_score"]
        scores = scores[steps > 0]  # step 0, the initial weights, is never a best
        assert member.best_epoch == int(np.argmax(scores)) + 1  # the first best
        # stopped once more than `patience` epochs failed to beat the best by tol
        assert member.epochs - member.best_epoch > 5
        # it ends with the best epoch's weights: their validation score is the best
        a = network.predict([w[None] for w in member.weights], [v[None] for v in member.biases], Xv)
        assert (labels(a) == labels(Yv)).mean() == scores.max()
        assert not member.converged


def _early_stopped(batch_size: int, early_stopping: bool = True, epochs: int = 12) -> Any:
    """One member trained (with early stopping that never runs out of patience):
    ``(network, initial parameters, X_valid, Y_valid, result)``."""
    from runner.engine.data import labels

    network = Network((2, 8, 1), ACT["tanh"], ACT["sigmoid"], COST["cross_entropy"])
    X, Y = _classification()
    Xv, Yv = _classification(seed=1, n=40)
    rngs = [member_rng(0)]
    W, b = network.init_population(REGISTRY.initializers["normal"], {}, rngs)
    initial = [p.copy() for p in W + b]
    schedule = Schedule(
        epochs=epochs,
        batch_size=batch_size,
        early_stopping=early_stopping,
        patience=1000,
        log_every=1,
    )
    (member,) = train(
        network,
        W,
        b,
        X,
        Y,
        REGISTRY.step_rules["adam"],
        {"learning_rate": 0.05, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
        schedule,
        rngs,
        labels,
        validation=training.Validation(with_ones(Xv), Yv),
    )
    return network, initial, Xv, Yv, member


@pytest.mark.parametrize("batch_size", [0, 32])
def test_the_validation_score_history_covers_step_0_to_the_last_epoch(batch_size: int) -> None:
    from runner.engine.data import labels

    network, initial, Xv, Yv, member = _early_stopped(batch_size)

    def score(weights: list[np.ndarray], biases: list[np.ndarray]) -> float:
        return float((labels(network.predict(weights, biases, Xv)) == labels(Yv)).mean())

    steps, scores = member.history["validation_score"]
    assert steps.tolist() == list(range(member.epochs + 1))
    L = network.n_layers
    assert scores[0] == score(initial[:L], initial[L:])  # step 0: the initial weights
    # the last step: the weights after the last epoch (those a run without early stopping
    # ends with), not those of the epoch before
    last = _early_stopped(batch_size, early_stopping=False)[4]
    assert scores[-1] == score([w[None] for w in last.weights], [v[None] for v in last.biases])
    # the member ends with its best weights, whose epoch's score is in the history
    best = score([w[None] for w in member.weights], [v[None] for v in member.biases])
    assert scores[member.best_epoch] == best == scores[1:].max()


def test_early_stopping_scores_a_regression_by_r2() -> None:
    from sklearn.metrics import r2_score

    network = Network((2, 8, 1), ACT["tanh"], ACT["identity"], COST["squared_error"])
    X, Y = _regression(n=60)
    Xv, Yv = _regression(seed=4, n=30)
    rngs = [member_rng(0)]
    W, b = network.init_population(REGISTRY.initializers["xavier"], {}, rngs)
    (member,) = train(
        network,
        W,
        b,
        X,
        Y,
        REGISTRY.step_rules["adam"],
        {"learning_rate": 0.02, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
        Schedule(epochs=300, early_stopping=True, patience=5, tol=1e-3, log_every=1),
        [],
        validation=training.Validation(with_ones(Xv), Yv),
    )
    a = network.predict([w[None] for w in member.weights], [v[None] for v in member.biases], Xv)
    best = member.history["validation_score"][1][member.best_epoch]
    assert best == pytest.approx(r2_score(Yv[0], a[0, 0])) and best > 0.5


def test_without_early_stopping_a_member_stops_for_its_epochs() -> None:
    _, _, results = _run(_xor(), [0, 1], XOR_X, XOR_Y, Schedule(epochs=20), {"learning_rate": 1.0})
    assert [r.stop_reason for r in results] == ["epochs", "epochs"]
    _, _, results = _run(
        _xor(), [1], XOR_X, XOR_Y, Schedule(epochs=5000, target_loss=0.1), {"learning_rate": 1.0}
    )
    assert results[0].stop_reason == "target_loss"


def test_the_validation_split_is_stratified_and_leaves_the_rest_for_training() -> None:
    from runner.engine.data import labels, validation_split

    X, Y = _classification(n=100)
    Xt, Yt, Xv, Yv = validation_split(X, Y, "classification", 0.1, seed=3)
    assert Xv.shape == (2, 10) and Xt.shape == (2, 90)
    assert abs(labels(Yv).mean() - labels(Y).mean()) <= 0.1
    columns = {tuple(c) for c in np.concatenate([Xt, Xv], axis=1).T}
    assert columns == {tuple(c) for c in X.T}
    again = validation_split(X, Y, "classification", 0.1, seed=3)
    assert np.array_equal(again[2], Xv)
