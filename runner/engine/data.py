"""Data preparation: load a data set, split it, scale its inputs and encode its targets.

A :class:`~runner.plugin.kinds.Dataset` holds one sample per row; the network wants samples as
columns, as in the notes (``X`` of shape ``(N_0, S)``, ``Y`` of shape ``(N_out, S)``).
:func:`prepare` does the whole way from a data-set plugin and its parameters to a
:class:`Prepared`, drawing every random choice (the generated points, the split) from one
generator seeded with the run's ``data_seed``; :func:`prepare_dataset` does the part after
loading, for arrays a caller already has (the estimators). Scaling is fitted on the training
split only (:class:`Scaling`, the one scaling of inputs). :func:`describe_data` says what a
run trained on (the data set's name, digest, shape and targets, as plain data for the tracking
store's dataset inputs). Names no concrete data set; imports
:mod:`runner.plugin`, :mod:`runner.engine.settings` and :mod:`runner.spec`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from runner.engine.settings import SETTINGS
from runner.plugin.kinds import Dataset, DatasetSource
from runner.spec import RunSpec

Array = np.ndarray

SCALES: tuple[str, ...] = SETTINGS["scaling"].choices or ()
TASKS = ("classification", "regression")


@dataclass(frozen=True)
class Scaling:
    """Input scaling ``x -> (x - shift) / spread``, fitted on a training split.

    ``kind`` is ``standard`` (mean and standard deviation), ``minmax`` (minimum and range, to
    [0, 1]) or ``none`` (0 and 1); ``shift`` and ``spread`` are float64 ``(n_features, 1)``. The
    one scaling of inputs: the sweep's data, the estimators and a reloaded network all apply it.
    """

    kind: str
    shift: Array
    spread: Array

    @classmethod
    def fit(cls, X_rows: Array, kind: str) -> Scaling:
        """Fit on samples as rows ``(S, n_features)``. A constant column gets spread 1, so it
        becomes 0 (never NaN)."""
        X = np.asarray(X_rows, dtype=np.float64)
        n = X.shape[1]
        if kind == "none":
            return cls(kind, np.zeros((n, 1)), np.ones((n, 1)))
        if kind == "standard":
            shift, spread = X.mean(axis=0), X.std(axis=0)
        elif kind == "minmax":
            shift, spread = X.min(axis=0), X.max(axis=0) - X.min(axis=0)
        else:
            raise ValueError(f"scaling {kind!r} is not one of {', '.join(SCALES)}")
        tiny = np.finfo(np.float64).eps * np.maximum(np.abs(shift), 1.0)
        spread = np.where(spread > tiny, spread, 1.0)
        return cls(kind, shift[:, None], spread[:, None])

    @property
    def n_features(self) -> int:
        return int(self.shift.shape[0])

    def apply(self, X_rows: Array, dtype: Any = np.float64) -> Array:
        """Samples as rows ``(S, n_features)`` -> scaled columns ``(n_features, S)`` of
        ``dtype`` (computed in float64, then cast)."""
        X = np.asarray(X_rows, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"expected inputs of shape (samples, {self.n_features}), got {X.shape}"
            )
        return np.ascontiguousarray((X.T - self.shift) / self.spread, dtype=dtype)


@dataclass(frozen=True)
class Prepared:
    """A data set ready for a network: inputs and targets with samples as columns.

    ``X``/``Y`` are the training split, ``X_test``/``Y_test`` the held-out one (None when
    ``test_size`` is 0). Inputs were scaled by ``scaling``, fitted on the training split.
    Classification targets are one unit per class (``one_hot``), or, for two classes, a single
    0/1 unit; :func:`labels` turns network outputs back into class labels ``0..n_classes-1``.
    """

    X: Array  # (N_0, S)
    Y: Array  # (N_out, S)
    X_test: Array | None
    Y_test: Array | None
    task: str
    n_classes: int
    feature_names: tuple[str, ...]
    name: str
    scaling: Scaling
    one_hot: bool
    #: :func:`digest` of the data set as loaded, before the split ("" when not computed)
    digest: str = ""
    #: the first rows of its inputs as loaded (unscaled), an example of what a model takes
    example: tuple[tuple[float, ...], ...] = ()

    @property
    def n_out(self) -> int:
        return int(self.Y.shape[0])

    @property
    def n_test(self) -> int:
        return 0 if self.X_test is None else int(self.X_test.shape[1])


def check_dataset(dataset: Dataset, source: str = "") -> None:
    """Raise ValueError with one clear line when ``dataset`` breaks the Dataset conventions."""
    who = f"data set {source or dataset.name or '?'!r}"
    X, y = np.asarray(dataset.X), np.asarray(dataset.y)
    if dataset.task not in TASKS:
        raise ValueError(f"{who}: task {dataset.task!r} is not one of {', '.join(TASKS)}")
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{who}: X must have shape (samples, features), got {X.shape}")
    if not np.issubdtype(X.dtype, np.number) or not np.all(np.isfinite(X)):
        raise ValueError(f"{who}: X must hold finite numbers")
    if dataset.feature_names and len(dataset.feature_names) != X.shape[1]:
        raise ValueError(
            f"{who}: {len(dataset.feature_names)} feature names for {X.shape[1]} features"
        )
    if y.shape[:1] != X.shape[:1]:
        raise ValueError(f"{who}: {X.shape[0]} samples in X but y has shape {y.shape}")
    if dataset.task == "classification":
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{who}: class labels y must be integers of shape (S,)")
        if dataset.n_classes < 2:
            raise ValueError(f"{who}: classification needs n_classes >= 2, got {dataset.n_classes}")
        if y.min() < 0 or y.max() >= dataset.n_classes:
            raise ValueError(
                f"{who}: labels must lie in 0..{dataset.n_classes - 1}, got {y.min()}..{y.max()}"
            )
    else:
        if y.ndim not in (1, 2) or not np.issubdtype(y.dtype, np.number):
            raise ValueError(f"{who}: regression targets y must be numbers of shape (S, n_targets)")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{who}: regression targets must be finite")


def output_size(dataset: Dataset, one_hot: bool) -> int:
    """How many output units the targets of ``dataset`` need (see :func:`encode_targets`)."""
    if dataset.task == "classification":
        return 1 if dataset.n_classes == 2 and not one_hot else int(dataset.n_classes)
    y = np.asarray(dataset.y)
    return 1 if y.ndim == 1 else int(y.shape[1])


def encode_targets(dataset: Dataset, one_hot: bool) -> Array:
    """Targets as columns, float64: ``(1, S)`` of 0/1 for two classes unless ``one_hot``,
    ``(K, S)`` one-hot for classification otherwise, ``(n_targets, S)`` for regression."""
    y = np.asarray(dataset.y)
    if dataset.task == "regression":
        return np.ascontiguousarray(y.reshape(len(y), -1).T, dtype=np.float64)
    if output_size(dataset, one_hot) == 1:
        return (y == 1).astype(np.float64)[None, :]
    Y = np.zeros((dataset.n_classes, len(y)))
    Y[y, np.arange(len(y))] = 1.0
    return Y


def split(
    dataset: Dataset, test_size: float, rng: np.random.Generator
) -> tuple[Dataset, Dataset | None]:
    """Shuffle ``dataset`` and hold out ``ceil(test_size * S)`` samples as a test set.

    Classification splits are stratified: each class gives its share of the test set (largest
    remainders round), and every class keeps at least one training sample. ``test_size == 0``
    returns the data set unchanged, in its own order, and None.
    """
    if not 0.0 <= test_size < 1.0:
        raise ValueError(f"test_size must be in [0, 1), got {test_size}")
    if test_size == 0.0:
        return dataset, None
    y = np.asarray(dataset.y)
    S = len(y)
    wanted = max(1, math.ceil(test_size * S - 1e-9))
    if dataset.task == "classification":
        train, test = _stratified(y, dataset.n_classes, wanted, rng)
    else:
        if S < 2:
            raise ValueError(f"data set {dataset.name!r}: too few samples ({S}) to hold any out")
        order = rng.permutation(S)
        n_test = min(wanted, S - 1)
        train, test = order[n_test:], order[:n_test]
    return _take(dataset, train), _take(dataset, test)


def _stratified(
    y: Array, n_classes: int, wanted: int, rng: np.random.Generator
) -> tuple[Array, Array]:
    counts = np.bincount(y, minlength=n_classes)
    room = np.maximum(counts - 1, 0)  # each class present keeps one training sample
    n_test = min(wanted, int(room.sum()))
    if n_test == 0:
        raise ValueError(
            "too few samples to hold out a test set: every class has a single sample "
            f"(class counts {counts.tolist()})"
        )
    exact = n_test * counts / counts.sum()
    alloc = np.minimum(np.floor(exact).astype(np.int64), room)
    order = np.lexsort((np.arange(n_classes), -(exact - alloc)))  # largest remainder first
    remaining = n_test - int(alloc.sum())
    while remaining > 0:
        for k in order:
            if remaining and alloc[k] < room[k]:
                alloc[k] += 1
                remaining -= 1
    train, test = [], []
    for k in range(n_classes):
        members = rng.permutation(np.flatnonzero(y == k))
        test.append(members[: alloc[k]])
        train.append(members[alloc[k] :])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _take(dataset: Dataset, index: Array) -> Dataset:
    return replace(dataset, X=np.asarray(dataset.X)[index], y=np.asarray(dataset.y)[index])


@dataclass(frozen=True)
class DataKey:
    """Everything that determines a prepared data set: the same key, the same arrays.

    Its fields are a run specification's data settings, and whether the targets are one-hot
    (the output activation normalizes). The table prepares each distinct key once to validate
    it; a worker prepares each once per process.
    """

    dataset: str
    params: tuple[tuple[str, Any], ...]
    data_seed: int
    test_size: float
    scaling: str
    one_hot: bool
    dtype: str

    @classmethod
    def of(cls, spec: RunSpec, one_hot: bool) -> DataKey:
        return cls(
            spec.dataset,
            spec.dataset_params,
            spec.data_seed,
            spec.test_size,
            spec.scaling,
            bool(one_hot),
            spec.dtype,
        )

    def prepare(self, source: DatasetSource) -> Prepared:
        """:func:`prepare` the data set ``source`` (the plugin named ``dataset``) this way."""
        return prepare(
            source,
            dict(self.params),
            data_seed=self.data_seed,
            test_size=self.test_size,
            scaling=self.scaling,
            one_hot=self.one_hot,
            dtype=np.dtype(self.dtype),
        )


def prepare(
    source: DatasetSource,
    params: dict[str, Any],
    *,
    data_seed: int,
    test_size: float,
    scaling: str,
    one_hot: bool,
    dtype: Any = np.float64,
) -> Prepared:
    """Load ``source`` with ``params``, then :func:`prepare_dataset`.

    One generator, ``numpy.random.default_rng(data_seed)``, draws the generated points first and
    the split second, so a ``data_seed`` fixes both. ``params`` are resolved against the source's
    declared parameters (defaults filled in, values coerced; ValueError if one does not fit).
    """
    rng = np.random.default_rng(data_seed)
    dataset = source.load(rng, **source.resolve(params))
    check_dataset(dataset, source.name)
    if not dataset.name:
        dataset = replace(dataset, name=source.name)
    prepared = prepare_dataset(
        dataset, test_size=test_size, scaling=scaling, one_hot=one_hot, dtype=dtype, rng=rng
    )
    rows = np.asarray(dataset.X, dtype=np.float64)[:EXAMPLE_ROWS]
    example = tuple(tuple(float(x) for x in row) for row in rows)
    return replace(prepared, digest=digest(dataset), example=example)


#: rows of a data set kept as an example of a model's input
EXAMPLE_ROWS = 5


def digest(dataset: Dataset) -> str:
    """sha256 (8 hex digits, as MLflow's own dataset digests) of a data set's arrays as loaded:
    their shapes, dtypes and every value, so that the same points give the same digest."""
    h = hashlib.sha256()
    for array in (dataset.X, dataset.y):
        a = np.ascontiguousarray(array)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:8]


def describe_data(key: DataKey, data: Prepared) -> dict[str, Any]:
    """What a run trained on, as plain data: the data set's name and :func:`digest`, its
    parameters and data seed, its shape (samples, features by name, targets) and the split.
    The tracking room turns it into the store's dataset input."""
    columns = 1 if data.task == "classification" else data.n_out  # class labels: one column
    targets = [f"y{j + 1}" for j in range(columns)] if columns > 1 else ["y"]
    return {
        "name": key.dataset,
        "digest": data.digest,
        "params": {k: v for k, v in key.params},
        "data_seed": key.data_seed,
        "samples": int(data.X.shape[1]) + data.n_test,
        "train_samples": int(data.X.shape[1]),
        "test_samples": data.n_test,
        "features": list(data.feature_names),
        "task": data.task,
        "classes": data.n_classes,
        "targets": targets,
        "example": [list(row) for row in data.example],
    }


def prepare_dataset(
    dataset: Dataset,
    *,
    test_size: float,
    scaling: str,
    one_hot: bool,
    dtype: Any = np.float64,
    rng: np.random.Generator | None = None,
) -> Prepared:
    """Split ``dataset`` (``rng`` draws the split), fit ``scaling`` on the training split, scale
    the inputs and encode the targets (:func:`encode_targets`), both as columns of ``dtype``.

    Raises ValueError when the data set cannot be split or the scaling is unknown.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    train, test = split(dataset, test_size, rng)
    fitted = Scaling.fit(train.X, scaling)

    def targets(part: Dataset) -> Array:
        return np.ascontiguousarray(encode_targets(part, one_hot), dtype=dtype)

    names = tuple(dataset.feature_names) or tuple(f"x{j + 1}" for j in range(dataset.n_features))
    return Prepared(
        X=fitted.apply(train.X, dtype),
        Y=targets(train),
        X_test=None if test is None else fitted.apply(test.X, dtype),
        Y_test=None if test is None else targets(test),
        task=dataset.task,
        n_classes=int(dataset.n_classes) if dataset.task == "classification" else 0,
        feature_names=names,
        name=dataset.name,
        scaling=fitted,
        one_hot=bool(one_hot),
    )


def labels(a: Array) -> Array:
    """Class labels from outputs ``(..., N_out, S)``: ``a > 0.5`` for one unit, else the argmax."""
    a = np.asarray(a)
    if a.shape[-2] == 1:
        return (a[..., 0, :] > 0.5).astype(np.int64)
    return a.argmax(axis=-2)


def accuracy(a: Array, Y: Array) -> Array:
    """Fraction of samples classified right, per member: ``a`` is ``(P, N_out, S)``, ``Y`` is
    ``(N_out, S)`` or ``(P, N_out, S)`` (encoded as by :func:`encode_targets`); returns ``(P,)``."""
    a, Y = np.asarray(a), np.asarray(Y)
    if a.shape[-2:] != Y.shape[-2:]:
        raise ValueError(f"outputs of shape {a.shape} do not match targets of shape {Y.shape}")
    if a.shape[-1] == 0:
        return np.full(a.shape[0], np.nan)
    return (labels(a) == labels(Y)).sum(axis=-1) / a.shape[-1]


def validation_split(
    X: Array, Y: Array, task: str, fraction: float, seed: int
) -> tuple[Array, Array, Array, Array]:
    """The training columns ``X``/``Y`` less ``ceil(fraction * S)`` samples held out for early
    stopping: ``(X, Y, X_valid, Y_valid)``. Drawn from ``seed`` (a population shares its split),
    stratified for classification as :func:`split` is."""
    rng = np.random.default_rng([int(seed), 0x5A11D])
    S = X.shape[-1]
    wanted = max(1, math.ceil(fraction * S - 1e-9))
    if task == "classification":
        n_classes = 2 if Y.shape[0] == 1 else Y.shape[0]
        keep, held = _stratified(labels(Y), n_classes, wanted, rng)
        keep, held = np.sort(keep), np.sort(held)
    else:
        if S < 2:
            raise ValueError(f"too few samples ({S}) to hold any out for early stopping")
        order = rng.permutation(S)
        n = min(wanted, S - 1)
        keep, held = np.sort(order[n:]), np.sort(order[:n])
    return X[:, keep], Y[:, keep], X[:, held], Y[:, held]
