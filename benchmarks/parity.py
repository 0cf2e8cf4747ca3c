"""Parity with scikit-learn's MLPClassifier: its bare defaults, and with early stopping.

What it measures
    The bare defaults: ``runner.MLPClassifier(random_state=seed)`` against scikit-learn's
    ``MLPClassifier(random_state=seed)`` (both: 100 relu units, adam at learning rate 1e-3,
    batches of min(200, n), at most 200 epochs, alpha 1e-4; scikit-learn also stops once the
    training loss has not improved by tol 1e-4 for 10 epochs, the runner trains all 200) on
    digits, on the raw pixels and standardized. Then, with early stopping, scikit-learn's
    ``MLPClassifier(solver="adam", alpha=1e-4, early_stopping=True, random_state=seed)`` (all
    else its defaults: one hidden layer of 100 relu units, learning rate 1e-3, beta1 0.9, beta2
    0.999, eps 1e-8, batches of min(200, n), at most 200 epochs, validation_fraction 0.1,
    n_iter_no_change 10, tol 1e-4, shuffled batches) against the runner's equivalent
    ``runner.MLPClassifier(hidden=(100,), activation="relu", initializer="xavier",
    optimizer="adam", optimizer_params={"learning_rate": 1e-3}, alpha=1e-4, early_stopping=True,
    validation_fraction=0.1, patience=10, tol=1e-4, epochs=200, batch_size=200,
    random_state=seed)`` on digits and breast_cancer. For each of 100 seeds (``--seeds N``; 10
    take about 40 s, 100 about 6 minutes on 2 shared cores, of which the bare defaults' 200
    epochs take 3.5; ``--early-stopping-only`` leaves those rows out) both engines get the same
    split (``train_test_split(test_size=0.25, stratify=y, random_state=seed)``, inputs
    standardized on the training part but in the raw-pixels row) and the same seed; each holds
    out its own stratified 10% validation part of the training samples, drawn from that seed.

    Printed, in one table with a row per data set and setting: test accuracy mean +- sd over the
    seeds for each engine; the PAIRED difference runner - scikit-learn, seed by seed, as its
    mean and 95% t-interval, also in test samples; whether the runner is "not less accurate", a
    non-inferiority test: the interval's lower end lies above -0.01, so that a loss of more than
    one point of accuracy is ruled out (:data:`MARGIN`); seconds per fit (median, this process's
    CPU time unless ``--clock wall``) and their ratio (scikit-learn / runner); epochs trained
    (mean). The fits of the two engines alternate seed by seed so that a drift in the machine's
    speed moves both. Nothing is asserted.

    ``--shared-validation`` is a diagnostic: scikit-learn holds out the very samples the
    runner holds out (its private ``train_test_split`` is replaced for its fits in this
    process), so that the two differ only in their algorithm and their random draws of
    weights and batches, not in which samples they validate on.

Run:  nice -n 10 python benchmarks/parity.py [--seeds N] [--shared-validation] [--quick]
      [--early-stopping-only] [--threads N] [--clock cpu|wall]
"""

from __future__ import annotations

import contextlib
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

THREADS = _common.limit_threads()

import numpy as np  # noqa: E402

#: the rows: (data set, by its scikit-learn loader; setting; inputs standardized)
CASES = (
    ("digits", "defaults", False),
    ("digits", "defaults", True),
    ("digits", "early stopping", True),
    ("breast_cancer", "early stopping", True),
)


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def split(X: np.ndarray, y: np.ndarray, seed: int, scaled: bool = True) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    if not scaled:
        return X_train, X_test, y_train, y_test
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def sklearn_model(seed: int, epochs: int, setting: str = "early stopping"):
    from sklearn.neural_network import MLPClassifier

    if setting == "defaults":
        return MLPClassifier(random_state=seed, max_iter=epochs)
    return MLPClassifier(
        solver="adam", alpha=1e-4, early_stopping=True, random_state=seed, max_iter=epochs
    )


def runner_model(seed: int, epochs: int, setting: str = "early stopping"):
    from runner import MLPClassifier

    if setting == "defaults":  # scikit-learn's defaults are the estimator's
        return MLPClassifier(random_state=seed, epochs=epochs)
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


@contextlib.contextmanager
def shared_validation(seed: int) -> Iterator[None]:
    """scikit-learn's fits in this block hold out the samples the runner holds out with
    ``random_state=seed`` (``runner.engine.data.validation_split`` of the same fraction)."""
    from sklearn.neural_network import _multilayer_perceptron as mlp

    from runner.engine.data import validation_split

    original = mlp.train_test_split

    def runner_split(X, y, *, test_size, **ignored):  # y: binarized as the runner encodes it
        Y = np.asarray(y, dtype=np.float64).T
        index = np.arange(Y.shape[1], dtype=np.float64)[None]
        _, _, held, _ = validation_split(index, Y, "classification", test_size, seed)
        held = held[0].astype(np.intp)
        keep = np.setdiff1d(np.arange(Y.shape[1]), held)
        return X[keep], X[held], y[keep], y[held]

    mlp.train_test_split = runner_split
    try:
        yield
    finally:
        mlp.train_test_split = original


def fit_once(make: Callable, data: tuple[np.ndarray, ...]) -> tuple[float, float, int]:
    """``(seconds, test accuracy, epochs)`` of one fit."""
    X_train, X_test, y_train, y_test = data
    model = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning at --quick
        seconds, _ = _common.timed(lambda: model.fit(X_train, y_train))
    return seconds, float(model.score(X_test, y_test)), int(model.n_iter_)


def paired(differences: list[float]) -> tuple[float, float, float]:
    """The mean of paired differences and its 95% t-interval ``(mean, low, high)``."""
    from scipy import stats

    n = len(differences)
    mean = statistics.mean(differences)
    if n < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.975, n - 1) * statistics.stdev(differences) / math.sqrt(n)
    return mean, mean - half, mean + half


#: the non-inferiority margin: the runner counts as "not less accurate" when the paired 95%
#: interval of runner - scikit-learn rules out a loss of more than one point of accuracy
MARGIN = 0.01


def verdict(mean: float, low: float, high: float) -> str:
    """Whether the runner is not less accurate: the non-inferiority test of the paired
    interval against :data:`MARGIN` (its lower end above -MARGIN)."""
    if math.isnan(low):
        return "-"
    if low > 0:
        return "yes: higher"
    if low > -MARGIN:
        return f"yes: a loss above {MARGIN:g} ruled out"
    if high < 0:
        return "no: lower"
    return f"undecided: a loss above {MARGIN:g} not ruled out (more seeds)"


def main() -> None:
    p = _common.parser(__doc__)
    _common.add_clock(p)
    p.add_argument(
        "--seeds",
        type=int,
        default=100,
        help="seeds 0..N-1 (default 100: the interval's half-width is about one test sample)",
    )
    p.add_argument(
        "--shared-validation",
        action="store_true",
        help="scikit-learn validates on the runner's validation samples (a diagnostic)",
    )
    p.add_argument(
        "--early-stopping-only",
        action="store_true",
        help="leave out the rows of the bare defaults (200 epochs each: most of the time)",
    )
    args = p.parse_args()
    _common.set_clock(args.clock)
    seeds = list(range(2 if args.quick else args.seeds))
    epochs = 20 if args.quick else 200
    began = time.perf_counter()
    cases = [c for c in CASES if not (args.early_stopping_only and c[1] == "defaults")]
    print(
        "MLPClassifier() (the bare defaults) and MLPClassifier(early_stopping=True) (with alpha "
        f"1e-4, adam, 100 relu units), at most {epochs} epochs, scikit-learn's against the "
        f"runner's; seeds {seeds[0]}..{seeds[-1]}"
        + ("; scikit-learn validates on the runner's samples" if args.shared_validation else "")
    )
    print(_common.machine())
    rows = []
    for name, setting, scaled in cases:
        X, y = load(name)
        warm = split(X, y, 0, scaled)
        fit_once(lambda t=setting: runner_model(0, 2, t), warm)  # imports and the plugin registry
        fit_once(lambda t=setting: sklearn_model(0, 2, t), warm)
        figures = {"runner": ([], [], []), "sklearn": ([], [], [])}
        for seed in seeds:
            data = split(X, y, seed, scaled)
            for engine, make in (  # interleaved: the engines alternate seed by seed
                ("runner", lambda s=seed, t=setting: runner_model(s, epochs, t)),
                ("sklearn", lambda s=seed, t=setting: sklearn_model(s, epochs, t)),
            ):
                shared = args.shared_validation and engine == "sklearn"
                with shared_validation(seed) if shared else contextlib.nullcontext():
                    figures_of_fit = fit_once(make, data)
                for store, value in zip(figures[engine], figures_of_fit, strict=True):
                    store.append(value)
        (r_times, r_accs, r_iters), (s_times, s_accs, s_iters) = (
            figures["runner"],
            figures["sklearn"],
        )
        mean, low, high = paired([r - s for r, s in zip(r_accs, s_accs, strict=True)])
        n_test = len(data[3])  # the same size for every seed
        r_sec, s_sec = statistics.median(r_times), statistics.median(s_times)

        def accuracy(accs: list[float]) -> str:
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            return f"{statistics.mean(accs):.4f} +- {sd:.4f}"

        rows.append(
            [
                f"{name}, {setting}" + ("" if scaled else ", raw inputs"),
                accuracy(r_accs),
                accuracy(s_accs),
                f"{mean:+.4f} [{low:+.4f}, {high:+.4f}] = {mean * n_test:+.1f} "
                f"[{low * n_test:+.1f}, {high * n_test:+.1f}] of {n_test} test samples",
                verdict(mean, low, high),
                _common.fmt_time(r_sec),
                _common.fmt_time(s_sec),
                f"{s_sec / r_sec:.2f}",
                f"{statistics.mean(r_iters):.1f} / {statistics.mean(s_iters):.1f}",
            ]
        )
    _common.table(
        f"Test accuracy over {len(seeds)} seeds (mean +- sd), the paired difference per seed "
        "(mean [95% t-interval]), seconds per fit (median)",
        [
            "data set, setting",
            "runner accuracy",
            "sklearn accuracy",
            "runner - sklearn, paired",
            "not less accurate",
            "runner s/fit",
            "sklearn s/fit",
            "sklearn / runner",
            "epochs runner / sklearn",
        ],
        rows,
    )
    took = time.perf_counter() - began
    print(f"\n{len(seeds)} seeds x {len(cases)} rows took {took:.0f} s (wall)")


if __name__ == "__main__":
    main()
