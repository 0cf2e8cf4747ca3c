"""Parity with scikit-learn's MLPClassifier at its adam defaults, with alpha and early stopping.

What it measures
    scikit-learn's ``MLPClassifier(solver="adam", alpha=1e-4, early_stopping=True,
    random_state=seed)`` (all else its defaults: one hidden layer of 100 relu units, learning
    rate 1e-3, beta1 0.9, beta2 0.999, eps 1e-8, batches of min(200, n), at most 200 epochs,
    validation_fraction 0.1, n_iter_no_change 10, tol 1e-4, shuffled batches) against the
    runner's equivalent ``runner.MLPClassifier(hidden=(100,), activation="relu",
    initializer="xavier", optimizer="adam", optimizer_params={"learning_rate": 1e-3},
    alpha=1e-4, early_stopping=True, validation_fraction=0.1, patience=10, tol=1e-4,
    epochs=200, batch_size=200, random_state=seed)`` on digits and breast_cancer. For each of
    10 seeds both engines get the same split (``train_test_split(test_size=0.25, stratify=y,
    random_state=seed)``, inputs standardized on the training part) and the same seed; each
    holds out its own 10% validation part of the training samples, drawn from that seed.

    Printed: test accuracy mean +- sd over the seeds, seconds per fit (median, this process's
    CPU time unless ``--clock wall``), epochs trained (mean) and the ratio of the seconds per
    fit (scikit-learn / runner). The fits of the two engines alternate seed by seed so that a
    drift in the machine's speed moves both. Nothing is asserted.

Run:  nice -n 10 python benchmarks/parity.py [--quick] [--threads N] [--clock cpu|wall]
"""

from __future__ import annotations

import statistics
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

THREADS = _common.limit_threads()

import numpy as np  # noqa: E402

#: the data sets, by their scikit-learn loader
DATASETS = ("digits", "breast_cancer")


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def split(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def sklearn_model(seed: int, epochs: int):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        solver="adam", alpha=1e-4, early_stopping=True, random_state=seed, max_iter=epochs
    )


def runner_model(seed: int, epochs: int):
    from runner import MLPClassifier

    return MLPClassifier(
        hidden=(100,),
        activation="relu",
        initializer="xavier",
        optimizer="adam",
        optimizer_params={"learning_rate": 1e-3},
        alpha=1e-4,
        early_stopping=True,
        validation_fraction=0.1,
        patience=10,
        tol=1e-4,
        epochs=epochs,
        batch_size=200,
        random_state=seed,
    )


def fit_once(make, data: tuple[np.ndarray, ...]) -> tuple[float, float, int]:
    """``(seconds, test accuracy, epochs)`` of one fit."""
    X_train, X_test, y_train, y_test = data
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning at --quick
        seconds, _ = _common.timed(lambda: model.fit(X_train, y_train))
    return seconds, float(model.score(X_test, y_test)), int(model.n_iter_)


def main() -> None:
    p = _common.parser(__doc__)
    _common.add_clock(p)
    args = p.parse_args()
    _common.set_clock(args.clock)
    seeds = list(range(2 if args.quick else 10))
    epochs = 20 if args.quick else 200
    print(
        "MLPClassifier(solver='adam', alpha=1e-4, early_stopping=True) defaults, 100 relu units, "
        f"at most {epochs} epochs, vs the runner's equivalent; seeds {seeds[0]}..{seeds[-1]}"
    )
    print(_common.machine())
    rows = []
    for name in DATASETS:
        X, y = load(name)
        warm = split(X, y, 0)
        fit_once(lambda: runner_model(0, 2), warm)  # imports and the plugin registry
        fit_once(lambda: sklearn_model(0, 2), warm)
        figures = {"runner": ([], [], []), "sklearn": ([], [], [])}
        for seed in seeds:
            data = split(X, y, seed)
            for engine, make in (
                ("runner", lambda s=seed: runner_model(s, epochs)),
                ("sklearn", lambda s=seed: sklearn_model(s, epochs)),
            ):
                for store, value in zip(figures[engine], fit_once(make, data), strict=True):
                    store.append(value)
        r_sec = statistics.median(figures["runner"][0])
        for engine in ("runner", "sklearn"):
            times, accs, iters = figures[engine]
            sec = statistics.median(times)
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            rows.append(
                [
                    name,
                    engine,
                    f"{statistics.mean(accs):.4f} +- {sd:.4f}",
                    _common.fmt_time(sec),
                    f"{statistics.mean(iters):.1f}",
                    f"{sec / r_sec:.2f}",
                ]
            )
    _common.table(
        f"Test accuracy over {len(seeds)} seeds, seconds per fit (ratio = seconds / runner's)",
        ["data set", "engine", "test accuracy mean +- sd", "s per fit (median)", "epochs", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
