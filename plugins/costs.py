"""Built-in costs: squared_error, cross_entropy (binary) and categorical_cross_entropy.

Each cost is an object holding its function and its derivative together (as in mnielsen's
``network2.py``). Each declares the canonical link of its distribution (binary cross-entropy:
logit, categorical cross-entropy: softmax, squared error: identity); with an output activation
of the same link (sigmoid, softmax, identity) the core uses the exact ``dc/dz = s (a - y)``,
everywhere else the chain rule. Probabilities are clipped to [eps, 1 - eps] so that saturated
outputs give large but finite values. Squared error serves both tasks; the cross-entropies,
likelihoods of classes, serve classification only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Cost, hookimpl

Array = np.ndarray


_EPS = {np.dtype(t): np.finfo(t).eps for t in (np.float16, np.float32, np.float64)}


def _eps(a: Array) -> Any:
    """The machine epsilon of ``a``'s dtype (looked up once per dtype: np.finfo costs a call)."""
    return _EPS.get(a.dtype) or np.finfo(a.dtype).eps


def _clip(a: Array) -> Array:
    """``a`` limited to [eps, 1 - eps] (two ufuncs: np.clip costs several times more per call)."""
    eps = _eps(a)
    out = np.maximum(a, eps)
    return np.minimum(out, 1.0 - eps, out=out)


def _mean_over_samples(c: Array) -> Array:
    """Per-sample costs (P, N, S) summed over units, averaged over samples: shape (P,)."""
    return np.einsum("...ns->...", c) / c.shape[-1]


class SquaredError(Cost):
    """C = 1/2 (a - y)^T (a - y), averaged over samples; dC/da = a - y."""

    name = "squared_error"
    lower_bound = 0.0
    link = "identity"
    tasks = ("classification", "regression")

    def value(self, a: Array, y: Array, **params: Any) -> Array:
        d = a - y
        return _mean_over_samples(0.5 * d * d)

    def derivative(self, a: Array, y: Array, **params: Any) -> Array:
        return a - y


class CrossEntropy(Cost):
    """Binary cross-entropy C = -[y log a + (1 - y) log(1 - a)], for outputs in (0, 1)."""

    name = "cross_entropy"
    lower_bound = 0.0
    input_range = (0.0, 1.0)
    tasks = ("classification",)
    link = "logit"

    def value(self, a: Array, y: Array, **params: Any) -> Array:
        a = _clip(a)
        # sum_k y log a + (1 - y) log(1 - a), the products summed inside einsum
        total = np.einsum("...ns,...ns->...", y, np.log(a))
        total += np.einsum("...ns,...ns->...", 1.0 - y, np.log1p(-a))
        return -total / a.shape[-1]

    def derivative(self, a: Array, y: Array, **params: Any) -> Array:
        a = _clip(a)
        return (a - y) / (a * (1.0 - a))


class CategoricalCrossEntropy(Cost):
    """C = -sum_k y_k log a_k for one-hot y, with outputs that form a distribution (softmax)."""

    name = "categorical_cross_entropy"
    lower_bound = 0.0
    input_range = (0.0, 1.0)
    tasks = ("classification",)
    needs_normalized = True
    link = "softmax"

    def value(self, a: Array, y: Array, **params: Any) -> Array:
        # only the lower clip matters: log(a) <= 0 for every a <= 1
        log_a = np.log(np.maximum(a, _eps(a)))
        return np.einsum("...ns,...ns->...", y, log_a) * (-1.0 / a.shape[-1])

    def derivative(self, a: Array, y: Array, **params: Any) -> Array:
        return -y / _clip(a)


@hookimpl
def register_costs(register: Any) -> None:
    for cls in (SquaredError, CrossEntropy, CategoricalCrossEntropy):
        register(cls())
