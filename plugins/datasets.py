"""Built-in data sets: logic gates, parity, generated 2-D sets, scikit-learn's bundled sets, CSV.

Every data set is a :class:`runner.DatasetSource` whose ``load(rng, **params)`` returns a
:class:`runner.Dataset` with ``X`` of shape ``(S, n_features)`` (one row per sample). Generated sets
(moons, circles, spirals) draw their noise and their order from ``rng``, which the core seeds from
the run's ``data_seed``, so one seed gives bitwise the same points everywhere. scikit-learn and
pandas are imported inside ``load``, only when such a set is asked for. Each says what counts
as a run's success on it (``success``): every training sample right for the gates, parity and a
CSV file; test accuracy 0.9 (0.95 for digits and breast_cancer) for the generated and bundled
classification sets.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from runner import Dataset, DatasetSource, Param, Success, did_you_mean, hookimpl

Array = np.ndarray

_INPUTS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


class _Accurate(DatasetSource):
    """A data set whose classes overlap or whose samples are many: a run succeeds when its test
    accuracy (its training accuracy where nothing is held out) reaches :attr:`accuracy`, what
    a network that learned the data reaches (at the default noise, for generated sets);
    classifying every training sample right, the gates' and parity's success, is too strict."""

    accuracy = 0.9

    def success(self, **params: Any) -> Success | None:
        return Success("test_accuracy", self.accuracy)


# --- logic gates and parity ---------------------------------------------------------------------


class _Gate(DatasetSource):
    truth: tuple[int, int, int, int] = (0, 0, 0, 0)

    def load(self, rng: np.random.Generator, **params: Any) -> Dataset:
        return Dataset(
            X=_INPUTS.copy(),
            y=np.array(self.truth, dtype=np.int64),
            task="classification",
            n_classes=2,
            feature_names=("x1", "x2"),
            name=self.name,
        )


class Xor(_Gate):
    """The four points of exclusive or; the notes' example."""

    name = "xor"
    truth = (0, 1, 1, 0)


class And(_Gate):
    """The four points of logical and."""

    name = "and"
    truth = (0, 0, 0, 1)


class Or(_Gate):
    """The four points of logical or."""

    name = "or"
    truth = (0, 1, 1, 1)


class Parity(DatasetSource):
    """n-bit parity: all 2^bits binary inputs, labelled 1 when an odd number of bits are set."""

    name = "parity"
    params = (Param("bits", int, 3, "number of input bits", low=2, high=16),)

    def load(self, rng: np.random.Generator, bits: int = 3, **params: Any) -> Dataset:
        codes = np.arange(2**bits)
        shifts = np.arange(bits - 1, -1, -1)  # most significant bit first
        X = ((codes[:, None] >> shifts) & 1).astype(np.float64)
        y = (X.sum(axis=1).astype(np.int64) % 2).astype(np.int64)
        names = tuple(f"x{j + 1}" for j in range(bits))
        return Dataset(X, y, "classification", 2, names, self.name)


# --- generated 2-D sets -------------------------------------------------------------------------


def _n_samples(default: int) -> Param:
    return Param("n_samples", int, default, "number of points drawn", low=2, high=1_000_000)


def _noise(default: float) -> Param:
    return Param("noise", float, default, "standard deviation of the Gaussian noise", low=0.0)


def _generated(
    name: str, points: Array, y: Array, n_classes: int, noise: float, rng: np.random.Generator
) -> Dataset:
    """Add ``noise`` to ``points`` and shuffle them, both drawn from ``rng``."""
    X = points + noise * rng.standard_normal(points.shape)
    order = rng.permutation(len(y))
    return Dataset(
        X[order], y[order].astype(np.int64), "classification", n_classes, ("x1", "x2"), name
    )


class Moons(_Accurate):
    """Two interleaving half circles (class 0 on top, class 1 below), with Gaussian noise."""

    name = "moons"
    params = (_n_samples(200), _noise(0.1))

    def load(
        self, rng: np.random.Generator, n_samples: int = 200, noise: float = 0.1, **params: Any
    ) -> Dataset:
        n_outer = n_samples // 2
        n_inner = n_samples - n_outer
        t_outer = np.linspace(0.0, np.pi, n_outer)
        t_inner = np.linspace(0.0, np.pi, n_inner)
        outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
        inner = np.column_stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)])
        y = np.repeat([0, 1], [n_outer, n_inner])
        return _generated(self.name, np.vstack([outer, inner]), y, 2, noise, rng)


class Circles(_Accurate):
    """Two concentric circles (class 0 outside, class 1 inside), with Gaussian noise."""

    name = "circles"
    params = (
        _n_samples(200),
        _noise(0.05),
        Param(
            "factor",
            float,
            0.5,
            "radius of the inner circle relative to the outer one",
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        ),
    )

    def load(
        self,
        rng: np.random.Generator,
        n_samples: int = 200,
        noise: float = 0.05,
        factor: float = 0.5,
        **params: Any,
    ) -> Dataset:
        n_outer = n_samples // 2
        n_inner = n_samples - n_outer
        t_outer = np.linspace(0.0, 2.0 * np.pi, n_outer, endpoint=False)
        t_inner = np.linspace(0.0, 2.0 * np.pi, n_inner, endpoint=False)
        outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
        inner = factor * np.column_stack([np.cos(t_inner), np.sin(t_inner)])
        y = np.repeat([0, 1], [n_outer, n_inner])
        return _generated(self.name, np.vstack([outer, inner]), y, 2, noise, rng)


class Spirals(_Accurate):
    """Interleaved spiral arms, one per class, winding out from near the origin, with noise."""

    name = "spirals"
    params = (
        _n_samples(200),
        _noise(0.05),
        Param("classes", int, 2, "number of spiral arms (classes)", low=2, high=100),
        Param("turns", float, 1.0, "turns each arm makes", low=0.0, low_open=True, high=20.0),
    )

    def load(
        self,
        rng: np.random.Generator,
        n_samples: int = 200,
        noise: float = 0.05,
        classes: int = 2,
        turns: float = 1.0,
        **params: Any,
    ) -> Dataset:
        if n_samples < classes:
            raise ValueError(
                f"spirals: n_samples ({n_samples}) must be at least classes ({classes})"
            )
        counts = np.full(classes, n_samples // classes)
        counts[: n_samples % classes] += 1
        arms = []
        for k, n_k in enumerate(counts):
            t = np.linspace(0.0, 1.0, n_k)
            radius = 0.1 + 0.9 * t
            angle = 2.0 * np.pi * (turns * t + k / classes)
            arms.append(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
        y = np.repeat(np.arange(classes), counts)
        return _generated(self.name, np.vstack(arms), y, classes, noise, rng)


# --- scikit-learn's bundled sets ----------------------------------------------------------------


@functools.cache
def _bunch(loader: str) -> tuple[Array, Array, tuple[str, ...], int]:
    from sklearn import datasets

    bunch = getattr(datasets, loader)()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target)
    names = tuple(str(n) for n in bunch.feature_names)
    n_classes = len(bunch.target_names) if "target_names" in bunch else 0
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y, names, n_classes


class _Bundled(_Accurate):
    loader = ""

    def load(self, rng: np.random.Generator, **params: Any) -> Dataset:
        X, y, names, n_classes = _bunch(self.loader)
        if n_classes:
            return Dataset(
                X.copy(), y.astype(np.int64), "classification", n_classes, names, self.name
            )
        return Dataset(
            X.copy(), y.astype(np.float64).reshape(-1, 1), "regression", 0, names, self.name
        )


class Iris(_Bundled):
    """Fisher's iris flowers: 150 samples, 4 measurements, 3 species (scikit-learn)."""

    name = "iris"
    loader = "load_iris"


class Digits(_Bundled):
    """Handwritten digits: 1797 images of 8x8 pixels, 10 classes (scikit-learn)."""

    name = "digits"
    loader = "load_digits"
    accuracy = 0.95


class BreastCancer(_Bundled):
    """Wisconsin breast cancer: 569 samples, 30 features, malignant or benign (scikit-learn)."""

    name = "breast_cancer"
    loader = "load_breast_cancer"
    accuracy = 0.95


class Wine(_Bundled):
    """Wine recognition: 178 samples, 13 chemical measurements, 3 cultivars (scikit-learn)."""

    name = "wine"
    loader = "load_wine"


class Diabetes(_Bundled):
    """Diabetes progression: 442 patients, 10 features, one regression target (scikit-learn)."""

    name = "diabetes"
    loader = "load_diabetes"

    def success(self, **params: Any) -> None:
        return None  # a regression: success is a row's target_loss


# --- a CSV file ---------------------------------------------------------------------------------


class Csv(DatasetSource):
    """A CSV file with a header row: one column is the target, every other one a numeric feature."""

    name = "csv"
    params = (
        Param(
            "path",
            Path,
            None,
            "the CSV file (relative paths: to the table's folder)",
            required=True,
        ),
        Param("target", str, None, "the column that holds the target", required=True),
        Param(
            "task",
            str,
            "classification",
            "what the target is: class labels or numbers to fit",
            choices=("classification", "regression"),
        ),
    )

    def load(
        self,
        rng: np.random.Generator,
        path: Path | str | None = None,
        target: str | None = None,
        task: str = "classification",
        **params: Any,
    ) -> Dataset:
        if path is None or not str(path).strip():
            raise ValueError("csv dataset: no path given")
        if target is None or not str(target).strip():
            raise ValueError(f"{path}: csv dataset: no target column given")
        if task not in ("classification", "regression"):
            raise ValueError(f"{path}: task {task!r} is not classification or regression")
        frame = _read_csv(Path(path))
        columns = [str(c) for c in frame.columns]
        frame.columns = columns
        if target not in columns:
            raise ValueError(
                f"{path}: no target column {target!r}; {did_you_mean(target, columns)}"
                f"columns: {', '.join(columns)}"
            )
        features = [c for c in columns if c != target]
        if not features:
            raise ValueError(f"{path}: no feature columns besides the target {target!r}")
        if len(frame) == 0:
            raise ValueError(f"{path}: no data rows")
        X = np.column_stack([_numeric(frame[c], path, c) for c in features])
        column = frame[target]
        _no_missing(column, path, target)
        if task == "regression":
            y = _numeric(column, path, target).reshape(-1, 1)
            return Dataset(X, y, "regression", 0, tuple(features), Path(path).stem)
        _labels(column, path, target)
        classes = sorted(column.unique().tolist())
        if len(classes) < 2:
            raise ValueError(
                f"{path}: target column {target!r} has a single value {classes[0]!r}; "
                "classification needs at least two"
            )
        index = {value: k for k, value in enumerate(classes)}
        y = np.array([index[v] for v in column.tolist()], dtype=np.int64)
        return Dataset(X, y, "classification", len(classes), tuple(features), Path(path).stem)


def _read_csv(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: cannot read as CSV: {first}") from None


def _no_missing(column: Any, path: Path | str, name: str) -> None:
    missing = np.flatnonzero(column.isna().to_numpy())
    if missing.size:
        raise ValueError(
            f"{path}: column {name!r}, data row {missing[0] + 1}: value is missing (NaN)"
        )


def _labels(column: Any, path: Path | str, name: str) -> None:
    """ValueError when a classification target holds a number with a fraction (0.37): such a
    column is a quantity to fit, not class labels, and would be read as one class per value."""
    if column.dtype.kind != "f":
        return
    fraction = np.flatnonzero(column.to_numpy() % 1 != 0)
    if fraction.size:
        row = int(fraction[0])
        raise ValueError(
            f"{path}: column {name!r}, data row {row + 1}: value {column.tolist()[row]!r} is not a "
            "class label; task=classification takes integer or text labels "
            "(task=regression fits numbers)"
        )


def _numeric(column: Any, path: Path | str, name: str) -> Array:
    """The column as finite float64 values; ValueError naming the first bad value otherwise."""
    import pandas as pd

    _no_missing(column, path, name)
    values = pd.to_numeric(column, errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise ValueError(
            f"{path}: column {name!r}, data row {row + 1}: "
            f"value {column.iloc[row]!r} is not a number"
        )
    out = values.to_numpy(dtype=np.float64)
    infinite = np.flatnonzero(~np.isfinite(out))
    if infinite.size:
        row = int(infinite[0])
        raise ValueError(
            f"{path}: column {name!r}, data row {row + 1}: value {column.iloc[row]!r} is not finite"
        )
    return out


BUILT_IN = (
    Xor,
    And,
    Or,
    Parity,
    Moons,
    Circles,
    Spirals,
    Iris,
    Digits,
    BreastCancer,
    Wine,
    Diabetes,
    Csv,
)


@hookimpl
def register_datasets(register: Any) -> None:
    for cls in BUILT_IN:
        register(cls())
