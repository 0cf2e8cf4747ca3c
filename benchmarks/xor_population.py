"""XOR population throughput: training time per network, runner vs scikit-learn vs PyTorch.

What it measures
    1000 configurations of the notes' XOR network (2-2-1, sigmoid hidden and output, binary
    cross-entropy, normal initialization, plain gradient descent, full batch of the 4 points,
    1000 epochs): 10 learning rates (geometric, 0.1 .. 10) x 100 seeds.

    runner      all 1000 as ONE population: ``runner.engine.population.run_population`` on a
                ``PopulationTask`` of ``RunSpec``s (end to end: data, initialization, training,
                final evaluation, one RunResult with history and weights per network), and the
                training loop alone (``runner.engine.training.train`` on the same population).
    sklearn     ``MLPClassifier(hidden_layer_sizes=(2,), activation="logistic", solver="sgd",
                batch_size=4, learning_rate_init=lr, momentum=0, alpha=0, max_iter=1000, tol=0,
                n_iter_no_change=10**9, shuffle=False)``: one network at a time, on a sample of
                20 networks (2 seeds x the 10 learning rates); mean time per network.
    torch loop  a plain PyTorch CPU loop (float64, autograd, ``torch.optim.SGD``) one network at
                a time on the same sample, started from the runner's initial weights so the
                final losses can be compared (the "max |loss diff|" line).
    torch batch the whole population at once in PyTorch (batched matmul over 1000 networks,
                autograd): the same vectorization trick in another engine, for reference.

    The runner's two figures are the best of 3 runs; the peers' are means over the sample.
    Ratios are per-network time of the peer divided by the runner's (end to end). Every engine
    runs on one thread (``--threads`` changes that). Times are this process's CPU time
    (``--clock wall`` for wall time), so that other jobs on the machine disturb them less.
    Nothing is asserted about time.

Run:  python benchmarks/xor_population.py [--quick] [--threads N] [--clock cpu|wall]
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

THREADS = _common.limit_threads()

EPOCHS = 1000
REPEATS = 3  # the runner's figures are the best of this many runs (each under a second)
X_ROWS = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
Y_LABELS = [0, 1, 1, 0]


def specs(learning_rates, seeds, epochs):
    """One RunSpec per (learning rate, seed), as a sweep table would give them: one row is
    validated, and the others are that row's spec with the seed and rate replaced (validating
    100,000 rows would dominate the memory benchmark's set-up)."""
    import dataclasses

    from runner.spec import freeze
    from runner.table import specs_from_rows

    (base,) = specs_from_rows([{"learning_rate": 1.0, "seed": 0, "epochs": epochs}])
    return tuple(
        dataclasses.replace(
            base, seed=int(seed), optimizer_params=freeze({"learning_rate": float(lr)}), name=""
        )
        for lr in learning_rates
        for seed in seeds
    )


def runner_end_to_end(all_specs):
    """Seconds for run_population over all specs, and the results."""
    from runner.engine.population import PopulationTask, run_population

    return _common.timed(lambda: run_population(PopulationTask(all_specs)))


def runner_train_only(all_specs, epochs):
    """Seconds for runner.engine.training.train alone on the same population (data and init
    excluded)."""
    import numpy as np

    from runner.engine.network import Network, member_rng
    from runner.engine.training import Schedule, train
    from runner.plugin.registry import get_registry

    reg = get_registry()
    sig = reg.get("activation", "sigmoid")
    net = Network((2, 2, 1), sig, sig, reg.get("cost", "cross_entropy"))
    rngs = [member_rng(s.seed) for s in all_specs]
    W, b = net.init_population(reg.get("initializer", "normal"), {"scale": 1.0}, rngs)
    X = np.array(X_ROWS).T.copy()
    Y = np.array([Y_LABELS], dtype=float)
    lr = np.array([s.params_of("optimizer")["learning_rate"] for s in all_specs])
    from runner.engine.data import labels

    rule = reg.get("step_rule", "gd")
    return _common.timed(
        lambda: train(
            net, W, b, X, Y, rule, {"learning_rate": lr}, Schedule(epochs=epochs), rngs, labels
        )
    )[0]


def initial_weights(spec):
    """The runner's initial weights of one specification (P = 1)."""
    from runner.engine.network import Network, member_rng
    from runner.plugin.registry import get_registry

    reg = get_registry()
    sig = reg.get("activation", "sigmoid")
    net = Network((2, 2, 1), sig, sig, reg.get("cost", "cross_entropy"))
    W, b = net.init_population(
        reg.get("initializer", "normal"), {"scale": 1.0}, [member_rng(spec.seed)]
    )
    return [w[0] for w in W], [v[0] for v in b]


def sklearn_sample(sample, epochs):
    """Per-network seconds of MLPClassifier on the sample, and how many reached accuracy 1."""
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y = np.array(X_ROWS), np.array(Y_LABELS)
    total, solved = 0.0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        for spec in sample:
            model = MLPClassifier(
                hidden_layer_sizes=(2,),
                activation="logistic",
                solver="sgd",
                batch_size=4,
                learning_rate_init=spec.params_of("optimizer")["learning_rate"],
                momentum=0.0,
                alpha=0.0,
                max_iter=epochs,
                tol=0.0,
                n_iter_no_change=10**9,
                shuffle=False,
                random_state=spec.seed,
            )
            seconds, _ = _common.timed(lambda m=model: m.fit(X, y))
            total += seconds
            solved += int(model.score(X, y) == 1.0)
            assert model.n_iter_ == epochs, "sklearn stopped early; the comparison would be unfair"
    return total / len(sample), solved


def torch_loop_sample(torch, sample, epochs):
    """Per-network seconds of a plain PyTorch loop, final losses, and how many solved."""
    X = torch.tensor(X_ROWS, dtype=torch.float64)
    y = torch.tensor([[v] for v in Y_LABELS], dtype=torch.float64)
    total, solved, losses = 0.0, 0, []
    for spec in sample:
        W, b = initial_weights(spec)
        model = torch.nn.Sequential(
            torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1), torch.nn.Sigmoid()
        ).double()
        with torch.no_grad():
            for layer, w, bias in zip((model[0], model[2]), W, b, strict=True):
                layer.weight.copy_(torch.from_numpy(w))
                layer.bias.copy_(torch.from_numpy(bias[:, 0]))
        opt = torch.optim.SGD(model.parameters(), lr=spec.params_of("optimizer")["learning_rate"])
        loss_fn = torch.nn.BCELoss()

        def fit(model=model, opt=opt, loss_fn=loss_fn):
            for _ in range(epochs):
                opt.zero_grad()
                loss = loss_fn(model(X), y)
                loss.backward()
                opt.step()

        seconds, _ = _common.timed(fit)
        total += seconds
        with torch.no_grad():
            out = model(X)
            losses.append(float(loss_fn(out, y)))
            solved += int(bool(((out > 0.5).double() == y).all()))
    return total / len(sample), losses, solved


def torch_batched(torch, all_specs, epochs):
    """Seconds to train the whole population at once in PyTorch (bmm + autograd)."""
    import numpy as np

    P = len(all_specs)
    W0, b0 = zip(*(initial_weights(s) for s in all_specs), strict=True)
    W1 = torch.tensor(np.stack([w[0] for w in W0]), requires_grad=True)  # (P, 2, 2)
    W2 = torch.tensor(np.stack([w[1] for w in W0]), requires_grad=True)  # (P, 1, 2)
    b1 = torch.tensor(np.stack([v[0] for v in b0]), requires_grad=True)  # (P, 2, 1)
    b2 = torch.tensor(np.stack([v[1] for v in b0]), requires_grad=True)  # (P, 1, 1)
    X = torch.tensor(X_ROWS, dtype=torch.float64).T.contiguous()  # (2, 4)
    Y = torch.tensor([Y_LABELS], dtype=torch.float64)  # (1, 4)
    lr = torch.tensor(
        [s.params_of("optimizer")["learning_rate"] for s in all_specs], dtype=torch.float64
    ).view(P, 1, 1)
    params = (W1, b1, W2, b2)

    def fit():
        for _ in range(epochs):
            a1 = torch.sigmoid(W1 @ X + b1)
            a2 = torch.sigmoid(W2 @ a1 + b2).clamp(1e-15, 1 - 1e-15)
            cost = -(Y * a2.log() + (1 - Y) * (1 - a2).log()).mean(dim=(1, 2))
            grads = torch.autograd.grad(cost.sum(), params)
            with torch.no_grad():
                for p, g in zip(params, grads, strict=True):
                    p -= lr * g

    return _common.timed(fit)[0]


def main() -> None:
    p = _common.parser(__doc__)
    _common.add_clock(p)
    args = p.parse_args()
    _common.set_clock(args.clock)
    import numpy as np

    n_seeds = 10 if args.quick else 100
    n_sample_seeds = 1 if args.quick else 2
    learning_rates = np.geomspace(0.1, 10.0, 10)
    all_specs = specs(learning_rates, range(n_seeds), EPOCHS)
    sample = specs(learning_rates, range(n_sample_seeds), EPOCHS)
    if args.quick:
        sample = sample[:3]
    P = len(all_specs)
    print(f"XOR 2-2-1, {EPOCHS} epochs, {P} networks; sample of {len(sample)} for one-by-one peers")
    print(_common.machine())

    # warm up imports and the plugin registry, outside the timings
    runner_end_to_end(specs([1.0], [0], 2))
    runs = [runner_end_to_end(all_specs) for _ in range(REPEATS)]
    e2e, results = min(runs, key=lambda run: run[0])
    loop = min(runner_train_only(all_specs, EPOCHS) for _ in range(REPEATS))
    runner_net = e2e / P
    solved_runner = sum(r.metrics.get("train_accuracy") == 1.0 for r in results)
    by_spec = {r.spec: r for r in results}

    rows = [
        [
            "runner population, end to end",
            _common.fmt_time(e2e),
            _common.fmt_time(runner_net),
            "1.0",
        ],
        [
            "runner train() loop only",
            _common.fmt_time(loop),
            _common.fmt_time(loop / P),
            f"{runner_net / (loop / P):.2f}",
        ],
    ]
    notes = [f"runner: {solved_runner}/{P} networks reach accuracy 1"]

    sk_net, sk_solved = sklearn_sample(sample, EPOCHS)
    rows.append(
        [
            f"sklearn MLPClassifier, 1 by 1 (x{len(sample)})",
            _common.fmt_time(sk_net * P) + " (est.)",
            _common.fmt_time(sk_net),
            f"{sk_net / runner_net:.0f}",
        ]
    )
    notes.append(f"sklearn: {sk_solved}/{len(sample)} of the sample reach accuracy 1")

    torch = _common.torch_or_none(THREADS)
    if torch is not None:
        t_net, t_losses, t_solved = torch_loop_sample(torch, sample, EPOCHS)
        rows.append(
            [
                f"PyTorch loop, 1 by 1 (x{len(sample)})",
                _common.fmt_time(t_net * P) + " (est.)",
                _common.fmt_time(t_net),
                f"{t_net / runner_net:.0f}",
            ]
        )
        diffs = [
            abs(by_spec[s].metrics["train_loss"] - loss)
            for s, loss in zip(sample, t_losses, strict=True)
        ]
        notes.append(
            f"PyTorch loop: {t_solved}/{len(sample)} reach accuracy 1; same initial weights as "
            f"runner, max |final loss runner - torch| = {max(diffs):.2e}"
        )
        tb = torch_batched(torch, all_specs, EPOCHS)
        rows.append(
            [
                "PyTorch batched population",
                _common.fmt_time(tb),
                _common.fmt_time(tb / P),
                f"{(tb / P) / runner_net:.1f}",
            ]
        )

    _common.table(
        "Training time per network (ratio = peer per-network time / runner end to end)",
        ["engine", "total", "per network", "ratio"],
        rows,
    )
    for line in notes:
        print(f"- {line}")


if __name__ == "__main__":
    main()
