"""Digits 64-64-10 with mini-batches: seconds per run and test accuracy, runner vs peers.

What it measures
    scikit-learn's digits (1797 8x8 images, 10 classes), split once by
    ``runner.engine.data.prepare`` (test_size 0.25, stratified, data_seed 0, standard scaling
    fitted on the training part); every engine trains on exactly that split. Network 64-64-10:
    tanh hidden, softmax output, categorical cross-entropy, Xavier/Glorot-uniform
    initialization, mini-batches of 32 shuffled every epoch, momentum 0.9 (classical, not
    Nesterov), learning rate 0.1, 50 epochs, float64.

    runner        ``run_population`` on one ``RunSpec`` per seed, each run alone (P = 1), end to
                  end (data, initialization, training, final evaluation); and all seeds as ONE
                  population (per-run time = population time / seeds).
    sklearn       ``MLPClassifier(hidden_layer_sizes=(64,), activation="tanh", solver="sgd",
                  batch_size=32, learning_rate_init=0.1, momentum=0.9,
                  nesterovs_momentum=False, alpha=0, max_iter=50, tol=0,
                  n_iter_no_change=10**9)`` per seed.
    PyTorch       a plain CPU loop (float64, ``torch.optim.SGD(momentum=0.9)``, which is the same
                  update as the runner's for a constant learning rate), started from the
                  runner's initial weights, with its own shuffling.

    Reported: median seconds per run, mean test accuracy over the seeds, and the ratio of each
    peer's seconds per run to the runner's single-run figure; and the scikit-learn ratio paired
    seed by seed (the runner's and scikit-learn's single runs alternate, so that a drift in the
    machine's speed moves both). One thread per engine
    (``--threads`` changes that). Times are this process's CPU time
    (``--clock wall`` for wall time), so that other jobs on the machine disturb them less.
    Nothing is asserted about time.

Run:  python benchmarks/digits.py [--quick] [--threads N] [--clock cpu|wall]
"""

from __future__ import annotations

import statistics
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

THREADS = _common.limit_threads()

HIDDEN = 64
LEARNING_RATE = 0.1
MOMENTUM = 0.9
BATCH = 32
TEST_SIZE = 0.25
SCALE = "standard"
DATA_SEED = 0


def spec(seed: int, epochs: int):
    """The RunSpec of one table row with these settings."""
    from runner.table import specs_from_rows

    (one,) = specs_from_rows(
        [
            {
                "dataset": "digits",
                "hidden": HIDDEN,
                "activation": "tanh",
                "output_activation": "softmax",
                "cost": "categorical_cross_entropy",
                "initializer": "xavier",
                "optimizer": "momentum",
                "learning_rate": LEARNING_RATE,
                "momentum": MOMENTUM,
                "seed": seed,
                "epochs": epochs,
                "batch_size": BATCH,
                "data_seed": DATA_SEED,
                "test_size": TEST_SIZE,
                "scaling": SCALE,
            }
        ]
    )
    return one


def split():
    """The split every engine uses, as rows: (X_train, y_train, X_test, y_test)."""
    from runner.engine.data import labels, prepare
    from runner.plugin.registry import get_registry

    data = prepare(
        get_registry().get("dataset", "digits"),
        {},
        data_seed=DATA_SEED,
        test_size=TEST_SIZE,
        scaling=SCALE,
        one_hot=True,
    )
    return data.X.T.copy(), labels(data.Y), data.X_test.T.copy(), labels(data.Y_test)


def initial_weights(seed: int):
    from runner.engine.network import Network, member_rng
    from runner.plugin.registry import get_registry

    reg = get_registry()
    net = Network(
        (64, HIDDEN, 10),
        reg.get("activation", "tanh"),
        reg.get("activation", "softmax"),
        reg.get("cost", "categorical_cross_entropy"),
    )
    W, b = net.init_population(reg.get("initializer", "xavier"), {}, [member_rng(seed)])
    return [w[0] for w in W], [v[0] for v in b]


def runner_once(seed, epochs):
    """``(seconds, test accuracy)`` of one runner run alone, end to end."""
    from runner.engine.population import PopulationTask, run_population

    task = PopulationTask((spec(seed, epochs),))
    seconds, (result,) = _common.timed(lambda: run_population(task))
    return seconds, result.metrics["test_accuracy"]


def runner_population(seeds, epochs):
    """``(seconds per run, test accuracies)`` of all seeds trained as one population."""
    from runner.engine.population import PopulationTask, run_population

    together, results = _common.timed(
        lambda: run_population(PopulationTask(tuple(spec(s, epochs) for s in seeds)))
    )
    return together / len(seeds), [r.metrics["test_accuracy"] for r in results]


def sklearn_once(seed, epochs, data):
    """``(seconds, test accuracy)`` of one scikit-learn fit."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y, X_test, y_test = data
    model = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,),
        activation="tanh",
        solver="sgd",
        batch_size=BATCH,
        learning_rate_init=LEARNING_RATE,
        momentum=MOMENTUM,
        nesterovs_momentum=False,
        alpha=0.0,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=10**9,
        shuffle=True,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        seconds, _ = _common.timed(lambda: model.fit(X, y))
    return seconds, model.score(X_test, y_test)


def run_torch(torch, seeds, epochs, data):
    X, y, X_test, y_test = (torch.from_numpy(a) for a in data)
    times, accs = [], []
    for seed in seeds:
        gen = torch.Generator().manual_seed(seed)
        model = torch.nn.Sequential(
            torch.nn.Linear(64, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, 10)
        ).double()
        W, b = initial_weights(seed)
        with torch.no_grad():
            for layer, w, bias in zip((model[0], model[2]), W, b, strict=True):
                layer.weight.copy_(torch.from_numpy(w))
                layer.bias.copy_(torch.from_numpy(bias[:, 0]))
        opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
        loss_fn = torch.nn.CrossEntropyLoss()  # log-softmax + negative log-likelihood

        def fit(model=model, opt=opt, gen=gen, loss_fn=loss_fn):
            n = X.shape[0]
            for _ in range(epochs):
                order = torch.randperm(n, generator=gen)
                for start in range(0, n, BATCH):
                    idx = order[start : start + BATCH]
                    opt.zero_grad()
                    loss_fn(model(X[idx]), y[idx]).backward()
                    opt.step()

        seconds, _ = _common.timed(fit)
        times.append(seconds)
        with torch.no_grad():
            accs.append(float((model(X_test).argmax(1) == y_test).double().mean()))
    return times, accs


def main() -> None:
    p = _common.parser(__doc__)
    _common.add_clock(p)
    args = p.parse_args()
    _common.set_clock(args.clock)
    epochs = 5 if args.quick else 50
    seeds = list(range(2 if args.quick else 5))
    data = split()
    print(
        f"digits 64-{HIDDEN}-10 tanh/softmax/categorical_cross_entropy, batch {BATCH}, momentum "
        f"{MOMENTUM}, lr {LEARNING_RATE}, {epochs} epochs, {SCALE} scaling; train "
        f"{len(data[1])} / test {len(data[3])} samples; seeds {seeds}"
    )
    print(_common.machine())
    runner_once(0, 1)  # warm up imports and the plugin registry
    sklearn_once(0, 1, data)

    # the single runs of the two engines alternate, seed by seed, so that a drift in the
    # machine's speed moves both; the paired ratio is the median of the per-seed ratios
    r_times, r_accs, s_times, s_accs = [], [], [], []
    for seed in seeds:
        for once, times, accs in (
            (lambda s=seed: runner_once(s, epochs), r_times, r_accs),
            (lambda s=seed: sklearn_once(s, epochs, data), s_times, s_accs),
        ):
            seconds, acc = once()
            times.append(seconds)
            accs.append(acc)
    r_pop, r_pop_accs = runner_population(seeds, epochs)
    r_sec = statistics.median(r_times)

    def row(name, times_or_sec, accs, ref=True):
        sec = times_or_sec if isinstance(times_or_sec, float) else statistics.median(times_or_sec)
        ratio = f"{sec / r_sec:.2f}" if ref else "1.00"
        acc = f"{statistics.mean(accs):.4f} ({min(accs):.3f}-{max(accs):.3f})"
        return [name, _common.fmt_time(sec), acc, ratio]

    rows = [
        row("runner, one run at a time", r_times, r_accs, ref=False),
        row(f"runner, {len(seeds)} seeds as one population", r_pop, r_pop_accs),
    ]
    rows.append(row("sklearn MLPClassifier", s_times, s_accs))
    torch = _common.torch_or_none(THREADS)
    if torch is not None:
        t_times, t_accs = run_torch(torch, seeds, epochs, data)
        rows.append(row("PyTorch loop (float64)", t_times, t_accs))
    _common.table(
        "Seconds per run and test accuracy (ratio = peer seconds per run / runner one run)",
        ["engine", "s per run (median)", "test accuracy mean (min-max)", "ratio"],
        rows,
    )
    paired = sorted(s / r for s, r in zip(s_times, r_times, strict=True))
    print(
        f"sklearn / runner one run, paired seed by seed: median {statistics.median(paired):.2f} "
        f"(min {paired[0]:.2f}, max {paired[-1]:.2f})"
    )


if __name__ == "__main__":
    main()
