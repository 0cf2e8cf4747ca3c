"""Built-in activation functions: identity, sigmoid, tanh, relu, leaky_relu, softplus, softmax.

Derivatives are written in terms of the output ``a`` where that is the natural form (sigmoid:
``beta a (1 - a)``, tanh: ``1 - a^2``), as in scikit-learn's ``neural_network/_base.py``. As an
output layer each declares the tasks it serves: unbounded outputs fit numbers (regression),
bounded ones class probabilities (and targets inside their range), softmax a distribution over
classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import Activation, Param, hookimpl

Array = np.ndarray


class Identity(Activation):
    """g(z) = z, for regression outputs."""

    name = "identity"
    link = "identity"
    tasks = ("regression",)

    def forward(self, z: Array, **params: Any) -> Array:
        return z.copy()

    def derivative(self, z: Array, a: Array, **params: Any) -> Array:
        return np.ones_like(z)

    def backward(self, z: Array, a: Array, grad_a: Array, **params: Any) -> Array:
        return grad_a


class Sigmoid(Activation):
    """The logistic g(z) = 1 / (1 + exp(-beta z)), with steepness beta."""

    name = "sigmoid"
    output_range = (0.0, 1.0)
    tasks = ("classification", "regression")  # regression: targets in [0, 1]
    link = "logit"
    params = (Param("beta", float, 1.0, "steepness of the logistic", low=0.0, low_open=True),)

    def link_slope(self, beta: float = 1.0, **params: Any) -> float:
        return beta

    def forward(self, z: Array, beta: float = 1.0, **params: Any) -> Array:
        # 1 / (1 + e^{-beta z}) in one buffer. Where e^{-beta z} overflows the result is 0, as it
        # should be; the form keeps full relative precision in the negative tail, where
        # (1 + tanh(beta z / 2)) / 2 cancels to 0 from about z = -37 on.
        a = np.multiply(z, -beta)
        with np.errstate(over="ignore"):
            np.exp(a, out=a)
        a += 1.0
        return np.divide(1.0, a, out=a)

    def derivative(self, z: Array, a: Array, beta: float = 1.0, **params: Any) -> Array:
        return beta * a * (1.0 - a)

    def backward(
        self, z: Array, a: Array, grad_a: Array, beta: float = 1.0, **params: Any
    ) -> Array:
        # grad_a * beta a (1 - a), in one buffer
        out = np.subtract(1.0, a)
        out *= a
        out *= grad_a
        if beta != 1.0:
            out *= beta
        return out


class Tanh(Activation):
    """The hyperbolic tangent, g(z) = tanh(z)."""

    name = "tanh"
    output_range = (-1.0, 1.0)
    tasks = ("classification", "regression")  # regression: targets in [-1, 1]

    def forward(self, z: Array, **params: Any) -> Array:
        return np.tanh(z)

    def derivative(self, z: Array, a: Array, **params: Any) -> Array:
        return 1.0 - a * a

    def backward(self, z: Array, a: Array, grad_a: Array, **params: Any) -> Array:
        # grad_a * (1 - a^2), in one buffer
        out = np.multiply(a, a)
        np.subtract(1.0, out, out=out)
        out *= grad_a
        return out


class ReLU(Activation):
    """The rectifier, g(z) = max(0, z)."""

    name = "relu"
    output_range = (0.0, np.inf)
    tasks = ("regression",)

    def forward(self, z: Array, **params: Any) -> Array:
        return np.maximum(z, 0.0)

    def derivative(self, z: Array, a: Array, **params: Any) -> Array:
        return (z > 0).astype(z.dtype)


class LeakyReLU(Activation):
    """g(z) = z for z > 0, alpha z otherwise."""

    name = "leaky_relu"
    tasks = ("regression",)
    params = (
        Param("alpha", float, 0.01, "slope for negative inputs", low=0.0, high=1.0, high_open=True),
    )

    def forward(self, z: Array, alpha: float = 0.01, **params: Any) -> Array:
        return np.where(z > 0, z, alpha * z)

    def derivative(self, z: Array, a: Array, alpha: float = 0.01, **params: Any) -> Array:
        return np.where(z > 0, 1.0, alpha).astype(z.dtype)


class Softplus(Activation):
    """g(z) = log(1 + exp(z)), a smooth rectifier; g'(z) is the logistic."""

    name = "softplus"
    output_range = (0.0, np.inf)
    tasks = ("regression",)

    def forward(self, z: Array, **params: Any) -> Array:
        return np.logaddexp(0.0, z)

    def derivative(self, z: Array, a: Array, **params: Any) -> Array:
        return 0.5 * (1.0 + np.tanh(0.5 * z))


class Softmax(Activation):
    """a_k = exp(z_k) / sum_j exp(z_j) over the units of the output layer."""

    name = "softmax"
    output_range = (0.0, 1.0)
    tasks = ("classification",)
    normalizes = True
    output_only = True
    link = "softmax"

    def forward(self, z: Array, **params: Any) -> Array:
        e = np.subtract(z, z.max(axis=-2, keepdims=True))  # exp never overflows
        np.exp(e, out=e)
        e /= e.sum(axis=-2, keepdims=True)
        return e

    def derivative(self, z: Array, a: Array, **params: Any) -> Array:
        """The diagonal of the Jacobian, a_k (1 - a_k); :meth:`backward` uses the whole of it."""
        return a * (1.0 - a)

    def backward(self, z: Array, a: Array, grad_a: Array, **params: Any) -> Array:
        # J = diag(a) - a a^T, so J^T g = a * (g - <g, a>)
        return a * (grad_a - (grad_a * a).sum(axis=-2, keepdims=True))


@hookimpl
def register_activations(register: Any) -> None:
    for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, Softplus, Softmax):
        register(cls())
