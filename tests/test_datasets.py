"""Tests of the built-in data sets (plugins/datasets.py) and data preparation (runner/data.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runner import Dataset, DatasetSource, Param
from runner.engine.data import (
    Prepared,
    Scaling,
    accuracy,
    check_dataset,
    encode_targets,
    labels,
    output_size,
    prepare,
    split,
)
from runner.plugin.registry import get_registry

DATASETS = get_registry().datasets
FIXED = sorted(name for name in DATASETS if name != "csv")
GENERATED = ["moons", "circles", "spirals"]


def load(name: str, seed: int = 0, **params: Any) -> Dataset:
    source = DATASETS[name]
    return source.load(np.random.default_rng(seed), **source.resolve(params))


class Table(DatasetSource):
    """A small data set given as arrays, for tests of the preparation steps."""

    name = "table"

    def __init__(self, X: Any, y: Any, task: str = "classification", n_classes: int = 2) -> None:
        self.dataset = Dataset(np.asarray(X, dtype=np.float64), np.asarray(y), task, n_classes)

    def load(self, rng: np.random.Generator, **params: Any) -> Dataset:
        return self.dataset


# --- every registered data set ------------------------------------------------------------------


def test_the_built_in_data_sets_are_registered() -> None:
    expected = {"xor", "and", "or", "parity", "moons", "circles", "spirals", "csv"}
    expected |= {"iris", "digits", "breast_cancer", "wine"}
    assert expected <= set(DATASETS)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_parameters_are_declared_with_help(name: str) -> None:
    for param in DATASETS[name].params:
        assert isinstance(param, Param)
        assert param.help.strip()
        if not param.required:
            assert param.coerce(param.default) == param.default


@pytest.mark.parametrize("name", FIXED)
def test_every_data_set_loads_with_consistent_shapes(name: str) -> None:
    ds = load(name)
    check_dataset(ds, name)
    assert ds.name == name
    assert ds.X.dtype == np.float64 and ds.X.ndim == 2
    assert len(ds.feature_names) == ds.n_features
    if ds.task == "classification":
        assert ds.y.dtype == np.int64 and ds.y.shape == (ds.n_samples,)
        assert set(np.unique(ds.y)) == set(range(ds.n_classes))
    else:
        assert ds.y.dtype == np.float64 and ds.y.shape[0] == ds.n_samples and ds.y.ndim == 2
        assert ds.n_classes == 0


def test_scikit_learn_sets_have_their_known_sizes() -> None:
    sizes = {n: (load(n).X.shape, load(n).n_classes) for n in ("iris", "wine", "breast_cancer")}
    assert sizes == {"iris": ((150, 4), 3), "wine": ((178, 13), 3), "breast_cancer": ((569, 30), 2)}
    first = load("iris")
    first.X[0, 0] = -1.0  # a caller changing its copy does not change the next load
    assert load("iris").X[0, 0] == pytest.approx(5.1)


def test_gates_are_their_truth_tables() -> None:
    for name, truth in {"xor": [0, 1, 1, 0], "and": [0, 0, 0, 1], "or": [0, 1, 1, 1]}.items():
        ds = load(name)
        assert ds.y.tolist() == truth
        x1, x2 = ds.X.T.astype(int)
        assert ds.y.tolist() == {"xor": x1 ^ x2, "and": x1 & x2, "or": x1 | x2}[name].tolist()


def test_parity_holds_every_input_once() -> None:
    ds = load("parity", bits=4)
    assert ds.X.shape == (16, 4)
    assert len({tuple(row) for row in ds.X}) == 16
    assert ds.y.tolist() == (ds.X.sum(axis=1).astype(int) % 2).tolist()
    with pytest.raises(ValueError, match=r"\[2, 16\]"):
        DATASETS["parity"].resolve({"bits": 1})


# --- generated sets -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", GENERATED)
def test_generated_sets_follow_the_seed(name: str) -> None:
    a, b, c = load(name, seed=3), load(name, seed=3), load(name, seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)
    small = load(name, n_samples=51)
    assert small.X.shape == (51, 2) and small.y.shape == (51,)
    counts = np.bincount(small.y)
    assert counts.max() - counts.min() <= 1


def test_noiseless_shapes_lie_on_their_curves() -> None:
    moons = load("moons", noise=0.0)
    top = moons.X[moons.y == 0]
    np.testing.assert_allclose(np.hypot(*top.T), 1.0)
    bottom = moons.X[moons.y == 1] - [1.0, 0.5]
    np.testing.assert_allclose(np.hypot(*bottom.T), 1.0)
    circles = load("circles", noise=0.0, factor=0.3)
    radius = np.hypot(*circles.X.T)
    np.testing.assert_allclose(radius[circles.y == 0], 1.0)
    np.testing.assert_allclose(radius[circles.y == 1], 0.3)
    spirals = load("spirals", noise=0.0, classes=3, n_samples=90)
    assert spirals.n_classes == 3 and np.bincount(spirals.y).tolist() == [30, 30, 30]
    radius = np.hypot(*spirals.X.T)
    assert radius.min() == pytest.approx(0.1) and radius.max() == pytest.approx(1.0)


def test_generated_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        DATASETS["moons"].resolve({"noise": -0.1})
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        DATASETS["circles"].resolve({"factor": 1.0})
    with pytest.raises(ValueError, match="n_samples \\(3\\) must be at least classes \\(4\\)"):
        load("spirals", n_samples=3, classes=4)


# --- csv ----------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_classification_maps_sorted_labels(tmp_path: Path) -> None:
    path = write(tmp_path, "x,kind,y\n1,b,2.5\n2,a,3\n3,c,-1\n4,b,0\n")
    ds = load("csv", path=str(path), target="kind")
    assert ds.task == "classification" and ds.n_classes == 3
    assert ds.y.tolist() == [1, 0, 2, 1]
    assert ds.feature_names == ("x", "y")
    np.testing.assert_array_equal(ds.X, [[1, 2.5], [2, 3], [3, -1], [4, 0]])
    assert ds.X.dtype == np.float64 and ds.name == "data"
    numeric = write(tmp_path, "x,label\n0,10\n1,2\n2,10\n", "numbers.csv")
    assert load("csv", path=numeric, target="label").y.tolist() == [1, 0, 1]  # 2 < 10
    whole = write(tmp_path, "x,label\n0,1.0\n1,2.0\n2,1.0\n", "whole.csv")
    assert load("csv", path=whole, target="label").n_classes == 2  # whole floats are labels


def test_csv_regression_and_a_relative_path(tmp_path: Path, monkeypatch: Any) -> None:
    write(tmp_path, "a,b,price\n1,0,10.5\n0,1,-2\n1,1,3\n")
    monkeypatch.chdir(tmp_path)
    ds = load("csv", path="data.csv", target="price", task="regression")
    assert ds.task == "regression" and ds.n_classes == 0
    assert ds.y.shape == (3, 1) and ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.y[:, 0], [10.5, -2, 3])
    np.testing.assert_array_equal(encode_targets(ds, one_hot=False), [[10.5, -2, 3]])


CSV_ERRORS = [
    # (file content or None for a missing file, params, words the message must contain)
    (None, {"target": "y"}, ["missing.csv", "no such file"]),
    ("a,b,label\n1,2,0\n3,4,1\n", {"target": "lable"}, ["'lable'", "did you mean 'label'", "a, b"]),
    ("a,b,y\n1,2,0\n3,oops,1\n", {"target": "y"}, ["column 'b'", "data row 2", "'oops'", "number"]),
    ("a,b,y\n1,2,0\n3,,1\n", {"target": "y"}, ["column 'b'", "data row 2", "missing"]),
    ("a,b,y\n1,2,0\n3,4,\n", {"target": "y"}, ["column 'y'", "data row 2", "missing"]),
    ("a,y\n1,0\n3,high\n", {"target": "y", "task": "regression"}, ["column 'y'", "'high'"]),
    ("a,y\n1,0\n3,0\n", {"target": "y"}, ["single value"]),
    (
        "a,y\n1,0\n2,0.37\n3,0.74\n",
        {"target": "y"},
        ["column 'y'", "data row 2", "0.37", "integer or text labels", "task=regression"],
    ),
    ("y\n1\n0\n", {"target": "y"}, ["no feature columns"]),
    ("", {"target": "y"}, ["empty"]),
]


@pytest.mark.parametrize(("content", "params", "words"), CSV_ERRORS)
def test_csv_errors_are_one_clear_line(
    tmp_path: Path, content: str | None, params: dict[str, str], words: list[str]
) -> None:
    path = tmp_path / "missing.csv" if content is None else write(tmp_path, content)
    with pytest.raises(ValueError) as info:
        load("csv", path=str(path), **params)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    for word in words:
        assert word in message


def test_csv_declares_required_parameters() -> None:
    csv = DATASETS["csv"]
    assert csv.param("path").required and csv.param("path").type is Path
    assert csv.param("target").required
    assert csv.param("task").choices == ("classification", "regression")
    with pytest.raises(ValueError, match="no path"):
        load("csv", target="y")


# --- split --------------------------------------------------------------------------------------


def test_split_is_stratified_reproducible_and_a_partition() -> None:
    iris = load("iris")
    train, test = split(iris, 0.2, np.random.default_rng(5))
    assert test is not None
    assert np.bincount(test.y).tolist() == [10, 10, 10]
    assert np.bincount(train.y).tolist() == [40, 40, 40]
    rows = {tuple(r) + (y,) for r, y in zip(iris.X, iris.y, strict=True)}
    parts = [tuple(r) + (y,) for p in (train, test) for r, y in zip(p.X, p.y, strict=True)]
    assert sorted(parts) == sorted(tuple(r) + (y,) for r, y in zip(iris.X, iris.y, strict=True))
    assert set(parts) == rows
    again, _ = split(iris, 0.2, np.random.default_rng(5))
    other, _ = split(iris, 0.2, np.random.default_rng(6))
    np.testing.assert_array_equal(train.X, again.X)
    assert not np.array_equal(train.X, other.X)


def test_split_keeps_a_training_sample_of_every_class() -> None:
    xor = load("xor")
    train, test = split(xor, 0.9, np.random.default_rng(0))
    assert sorted(train.y.tolist()) == [0, 1] and sorted(test.y.tolist()) == [0, 1]
    train, test = split(load("and"), 0.5, np.random.default_rng(0))  # and: three 0s, one 1
    assert test is not None and 1 in train.y.tolist() and 1 not in test.y.tolist()
    single = Dataset(np.eye(2), np.array([0, 1]), "classification", 2)
    with pytest.raises(ValueError, match="single sample"):
        split(single, 0.5, np.random.default_rng(0))


def test_split_of_regression_and_of_nothing() -> None:
    diabetes = load("diabetes")
    train, test = split(diabetes, 0.25, np.random.default_rng(1))
    assert test is not None and (train.n_samples, test.n_samples) == (331, 111)
    same, none = split(diabetes, 0.0, np.random.default_rng(1))
    assert same is diabetes and none is None
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"test_size must be in \[0, 1\)"):
            split(diabetes, bad, np.random.default_rng(1))


# --- scaling, encoding, prepare -----------------------------------------------------------------


def test_standard_scaling_uses_train_statistics_only() -> None:
    wine = DATASETS["wine"]
    got = prepare(wine, {}, data_seed=9, test_size=0.3, scaling="standard", one_hot=True)
    rng = np.random.default_rng(9)
    train, test = split(wine.load(rng), 0.3, rng)
    assert test is not None
    mean, std = train.X.mean(axis=0), train.X.std(axis=0)
    np.testing.assert_allclose(got.X, ((train.X - mean) / std).T)
    np.testing.assert_allclose(got.X_test, ((test.X - mean) / std).T)
    np.testing.assert_allclose(got.X.mean(axis=1), 0.0, atol=1e-12)
    assert not np.allclose(got.X_test.mean(axis=1), 0.0, atol=1e-3)
    np.testing.assert_allclose(got.scaling.apply(test.X), got.X_test)


def test_minmax_scaling_and_constant_columns() -> None:
    X = [[1.0, 5.0, 0.0], [3.0, 5.0, 1.0], [2.0, 5.0, 0.0], [9.0, 5.0, 1.0], [4.0, 5.0, 0.0]]
    source = Table(X, [0, 1, 0, 1, 0])
    for scale in ("standard", "minmax"):
        p = prepare(source, {}, data_seed=0, test_size=0.0, scaling=scale, one_hot=False)
        assert np.all(np.isfinite(p.X))
        np.testing.assert_array_equal(p.X[1], 0.0)  # the constant column
    p = prepare(source, {}, data_seed=0, test_size=0.0, scaling="minmax", one_hot=False)
    np.testing.assert_allclose(p.X[0], [0.0, 0.25, 0.125, 1.0, 0.375])
    none = Scaling.fit(np.array(X), "none")
    assert np.all(none.shift == 0.0) and np.all(none.spread == 1.0)
    with pytest.raises(ValueError, match="scaling 'unit'"):
        prepare(source, {}, data_seed=0, test_size=0.0, scaling="unit", one_hot=False)


def test_encode_targets_on_small_cases() -> None:
    binary = Dataset(np.zeros((3, 1)), np.array([1, 0, 1]), "classification", 2)
    np.testing.assert_array_equal(encode_targets(binary, one_hot=False), [[1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(encode_targets(binary, one_hot=True), [[0, 1, 0], [1, 0, 1]])
    three = Dataset(np.zeros((3, 1)), np.array([2, 0, 1]), "classification", 3)
    expected = [[0, 1, 0], [0, 0, 1], [1, 0, 0]]
    for one_hot in (False, True):
        np.testing.assert_array_equal(encode_targets(three, one_hot), expected)
        assert output_size(three, one_hot) == 3
    assert (output_size(binary, False), output_size(binary, True)) == (1, 2)
    two_targets = Dataset(np.zeros((2, 1)), np.array([[1.0, 2.0], [3.0, 4.0]]), "regression")
    np.testing.assert_array_equal(encode_targets(two_targets, False), [[1, 3], [2, 4]])
    assert output_size(two_targets, False) == 2


def test_accuracy_on_small_cases() -> None:
    Y = np.array([[1.0, 0.0, 1.0, 0.0]])
    a = np.array([[[0.9, 0.2, 0.4, 0.6]], [[0.6, 0.4, 0.7, 0.1]]])  # (P=2, 1, S=4)
    np.testing.assert_allclose(accuracy(a, Y), [0.5, 1.0])
    np.testing.assert_allclose(accuracy(a, np.stack([Y, 1.0 - Y])), [0.5, 0.0])
    Y3 = np.eye(3)  # sample s has class s
    a3 = np.array([[[0.8, 0.1, 0.3], [0.1, 0.2, 0.3], [0.1, 0.7, 0.4]]])  # argmax 0, 2, 2
    np.testing.assert_allclose(accuracy(a3, Y3), [2 / 3])
    np.testing.assert_array_equal(labels(a3), [[0, 2, 2]])
    with pytest.raises(ValueError, match="do not match"):
        accuracy(a3, Y)


def test_prepare_end_to_end() -> None:
    moons = DATASETS["moons"]
    params = {"n_samples": "40", "noise": 0.2}  # strings from a table are coerced
    p = prepare(moons, params, data_seed=2, test_size=0.25, scaling="none", one_hot=False)
    assert isinstance(p, Prepared)
    assert (p.X.shape, p.Y.shape, p.X_test.shape, p.Y_test.shape) == (
        (2, 30),
        (1, 30),
        (2, 10),
        (1, 10),
    )
    assert (p.task, p.n_classes, p.n_out, p.feature_names) == ("classification", 2, 1, ("x1", "x2"))
    assert p.Y.sum() == 15 and p.Y_test.sum() == 5  # stratified: the classes are balanced
    q = prepare(
        moons, params, data_seed=2, test_size=0.25, scaling="none", one_hot=True, dtype=np.float32
    )
    assert q.X.dtype == np.float32 and q.Y.shape == (2, 30)
    np.testing.assert_allclose(q.X, p.X, rtol=1e-6)
    np.testing.assert_array_equal(labels(q.Y[None]), labels(p.Y[None]))
    xor = prepare(DATASETS["xor"], {}, data_seed=0, test_size=0.0, scaling="none", one_hot=False)
    assert xor.X_test is None and xor.Y_test is None and xor.n_test == 0
    np.testing.assert_array_equal(xor.X, [[0, 1, 0, 1], [0, 0, 1, 1]])
    np.testing.assert_array_equal(xor.Y, [[0, 1, 1, 0]])


def test_prepare_rejects_a_data_set_that_breaks_the_conventions() -> None:
    bad = Table(np.zeros((3, 2)), [0, 1, 2], n_classes=2)
    with pytest.raises(ValueError, match=r"data set 'table': labels must lie in 0..1"):
        prepare(bad, {}, data_seed=0, test_size=0.0, scaling="none", one_hot=False)
    nan = Table([[0.0], [np.nan]], [0, 1])
    with pytest.raises(ValueError, match="finite"):
        prepare(nan, {}, data_seed=0, test_size=0.0, scaling="none", one_hot=False)
