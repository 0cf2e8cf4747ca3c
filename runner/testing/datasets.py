"""The conformance check of data set sources: arrays, labels or targets, names, determinism.

Imports :mod:`runner.plugin`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from runner.plugin.kinds import Dataset, DatasetSource
from runner.testing._assertions import (
    assert_array,
    assert_equal,
    assert_finite,
    call,
    fail,
    missing_required,
    plugin_label,
    resolve_params,
)


def check_dataset(
    source: DatasetSource, params: Mapping[str, Any] | None = None, *, seed: int = 0
) -> None:
    """Check a data set source against the contract of :class:`runner.DatasetSource`.

    ``load(rng, **params)`` returns a :class:`runner.Dataset` whose ``X`` is a 2-D float array
    with at least one sample and one feature, all finite; whose ``y`` holds integer labels in
    ``[0, n_classes)`` of shape ``(S,)`` with ``n_classes >= 2`` for classification, or finite
    floats of shape ``(S, n_targets)`` for regression; with one feature name per column; and the
    same arrays for the same ``data_seed``. A source with required parameters (a path to a file)
    needs them in ``params``; :func:`check_plugin` skips it when they are not given.
    """
    missing = missing_required(source, params or {})
    if missing:
        raise ValueError(
            f"{plugin_label(source)} needs the parameters {', '.join(missing)}; pass them as params"
        )
    kw = resolve_params(source, params)
    ds = call(source, "load", source.load, np.random.default_rng(seed), **kw)
    if not isinstance(ds, Dataset):
        fail(source, "load", f"expected a runner.Dataset, got {type(ds).__name__}")
    X, y = ds.X, ds.y
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        fail(
            source, "X", f"expected a 2-D array (samples, features), got {getattr(X, 'shape', X)!r}"
        )
    if not np.issubdtype(X.dtype, np.floating):
        fail(source, "X", f"expected a float dtype, got {X.dtype}")
    assert_finite(source, "X", X)
    S, F = X.shape
    if not isinstance(y, np.ndarray):
        fail(source, "y", f"expected a numpy array, got {type(y).__name__}")
    if ds.task == "classification":
        if ds.n_classes < 2:
            fail(source, "n_classes", f"expected at least 2 classes, got {ds.n_classes}")
        assert_array(source, "y (classification labels)", y, (S,), None)
        if not np.issubdtype(y.dtype, np.integer):
            fail(source, "y (classification labels)", f"expected an integer dtype, got {y.dtype}")
        if y.min() < 0 or y.max() >= ds.n_classes:
            fail(
                source,
                "y (classification labels)",
                f"expected labels in [0, {ds.n_classes}), got {y.min()}..{y.max()}",
            )
    elif ds.task == "regression":
        if y.ndim != 2 or y.shape[0] != S or y.shape[1] < 1:
            fail(
                source, "y (regression targets)", f"expected shape ({S}, n_targets), got {y.shape}"
            )
        if not np.issubdtype(y.dtype, np.floating):
            fail(source, "y (regression targets)", f"expected a float dtype, got {y.dtype}")
        assert_finite(source, "y (regression targets)", y)
    else:
        fail(source, "task", f"expected 'classification' or 'regression', got {ds.task!r}")
    names = tuple(ds.feature_names)
    if len(names) != F or not all(isinstance(n, str) for n in names):
        fail(source, "feature_names", f"expected {F} names (one per column of X), got {names!r}")
    again = call(source, "load (again)", source.load, np.random.default_rng(seed), **kw)
    assert_equal(source, f"determinism: X for equal data_seed {seed}", again.X, X)
    assert_equal(source, f"determinism: y for equal data_seed {seed}", again.y, y)
