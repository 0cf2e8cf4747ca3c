"""Forward and backward passes over a population of multi-layer perceptrons.

Notation follows the backprop notes: layer m computes z^m = W^m a^{m-1} + b^m and a^m = g(z^m),
with a^0 the input. Every array carries a leading population axis: ``W[m]`` has shape
``(P, N_m, N_{m-1})``, ``b[m]`` shape ``(P, N_m, 1)`` and activations ``(P, N_m, S)`` with the
``S`` samples as columns. The inputs ``X`` have shape ``(N_0, S)`` when all members see the same
samples, or ``(P, N_0, S)`` when each member has its own mini-batch.

Backpropagation: delta^L = dC/dz^L from the cost (its exact simplification where one holds), then
delta^m = g'(z^m) * (W^{m+1})^T delta^{m+1}, and dC/dW^m = delta^m (a^{m-1})^T / S,
dC/db^m = mean over samples of delta^m.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runner.kinds import Activation, Cost

Array = np.ndarray


def _t(a: Array) -> Array:
    """Transpose the last two axes (a^T for every member)."""
    return np.swapaxes(a, -1, -2)


#: per-member matrices with at most this many rows and columns are multiplied with einsum (numpy's
#: own loops); numpy's matmul makes one BLAS call per member, which dominates for tiny networks.
#: Both compute every member's product the same way whatever the population size, so a member is
#: bitwise the same alone or in a population (one big reshaped GEMM would not be: OpenBLAS picks
#: its kernel by the whole matrix's size).
TINY = 4


def weighted_input(W: Array, a: Array) -> Array:
    """W a for every member; ``a`` is shared ``(N_in, S)`` or per member ``(P, N_in, S)``."""
    if W.shape[-1] <= TINY and W.shape[-2] <= TINY:
        return np.einsum("pij,js->pis" if a.ndim == 2 else "pij,pjs->pis", W, a)
    return W @ a


def delta_outer(delta: Array, a: Array) -> Array:
    """delta a^T for every member, summed over samples: shape ``(P, N_out, N_in)``."""
    if delta.shape[-2] <= TINY and a.shape[-2] <= TINY:
        return np.einsum("pis,js->pij" if a.ndim == 2 else "pis,pjs->pij", delta, a)
    return delta @ _t(a)


def back_propagate(W: Array, delta: Array) -> Array:
    """W^T delta for every member: dC/da of the layer below."""
    if W.shape[-1] <= TINY and W.shape[-2] <= TINY:
        return np.einsum("pji,pjs->pis", W, delta)
    return _t(W) @ delta


@dataclass
class Network:
    """The shape and plugins of a population of networks; the weights are passed in.

    ``sizes`` are the layer sizes from input to output; ``hidden`` and ``output`` the activations
    with their parameters; ``cost`` the cost with its parameters.
    """

    sizes: tuple[int, ...]
    hidden: Activation
    output: Activation
    cost: Cost
    hidden_params: dict[str, Any] = field(default_factory=dict)
    output_params: dict[str, Any] = field(default_factory=dict)
    cost_params: dict[str, Any] = field(default_factory=dict)
    dtype: Any = np.float64

    @property
    def n_layers(self) -> int:
        """The number of weight layers, L."""
        return len(self.sizes) - 1

    def activation(self, m: int) -> tuple[Activation, dict[str, Any]]:
        """The activation of layer ``m`` (1-based, as in the notes) with its parameters."""
        if m == self.n_layers:
            return self.output, self.output_params
        return self.hidden, self.hidden_params

    def forward(self, W: list[Array], b: list[Array], X: Array) -> tuple[list[Array], list[Array]]:
        """Return ``(zs, activations)``: ``zs[m-1] = z^m`` and ``activations[m] = a^m``."""
        a = X
        zs: list[Array] = []
        activations: list[Array] = [X]
        for m in range(1, self.n_layers + 1):
            z = weighted_input(W[m - 1], a)
            z += b[m - 1]
            g, params = self.activation(m)
            a = g.forward(z, **params)
            zs.append(z)
            activations.append(a)
        return zs, activations

    def predict(self, W: list[Array], b: list[Array], X: Array) -> Array:
        """The output a^L of every member, shape ``(P, N_L, S)``."""
        return self.forward(W, b, X)[1][-1]

    def loss(self, W: list[Array], b: list[Array], X: Array, Y: Array) -> Array:
        """The cost of every member on ``(X, Y)``, shape ``(P,)``."""
        return self.cost.value(self.predict(W, b, X), Y, **self.cost_params)

    def output_delta(self, z: Array, a: Array, Y: Array) -> Array:
        """Per-sample dc/dz^L: the cost's exact simplification if any, else the chain rule."""
        delta = self.cost.delta(z, a, Y, self.output, self.output_params, **self.cost_params)
        if delta is None:
            grad_a = self.cost.derivative(a, Y, **self.cost_params)
            delta = self.output.backward(z, a, grad_a, **self.output_params)
        return delta

    def gradients(
        self, W: list[Array], b: list[Array], X: Array, Y: Array, with_loss: bool = True
    ) -> tuple[Array | None, list[Array], list[Array], Array]:
        """Backpropagation: ``(loss, dC/dW, dC/db, a^L)`` for every member at once.

        With ``with_loss=False`` the cost itself is not evaluated (only its derivative is
        needed for the gradients) and ``loss`` is None.
        """
        zs, activations = self.forward(W, b, X)
        a_out = activations[-1]
        loss = self.cost.value(a_out, Y, **self.cost_params) if with_loss else None
        n_samples = X.shape[-1]
        L = self.n_layers
        dW: list[Array] = [None] * L  # type: ignore[list-item]
        db: list[Array] = [None] * L  # type: ignore[list-item]
        delta = self.output_delta(zs[-1], a_out, Y)
        for m in range(L, 0, -1):
            dW[m - 1] = delta_outer(delta, activations[m - 1]) / n_samples
            db[m - 1] = np.einsum("pis->pi", delta)[..., None] / n_samples
            if m > 1:  # no delta is needed for the input layer
                g, params = self.activation(m - 1)
                grad_a = back_propagate(W[m - 1], delta)
                delta = g.backward(zs[m - 2], activations[m - 1], grad_a, **params)
        return loss, dW, db, a_out

    def init_population(
        self,
        initializer: Any,
        init_params: dict[str, Any],
        rngs: Iterable[np.random.Generator],
        members: int | None = None,
    ) -> tuple[list[Array], list[Array]]:
        """Draw every member's weights from its own generator, layer by layer, W before b.

        A member's weights depend only on its generator, so they are the same whether it is
        initialized alone or inside any population. ``rngs`` may be a lazy iterable (then give
        ``members``), so that a large population never holds all its generators at once.
        """
        P = len(rngs) if members is None else members  # type: ignore[arg-type]
        W = [np.empty((P, n_out, n_in), self.dtype) for n_in, n_out in self.layer_shapes()]
        b = [np.empty((P, n_out, 1), self.dtype) for _, n_out in self.layer_shapes()]
        for p, rng in enumerate(rngs):
            for m, (n_in, n_out) in enumerate(self.layer_shapes()):
                w, bias = initializer.initialize(rng, n_in, n_out, **init_params)
                W[m][p] = w
                b[m][p] = bias
        return W, b

    def layer_shapes(self) -> list[tuple[int, int]]:
        """``(fan_in, fan_out)`` of every weight layer."""
        return list(zip(self.sizes[:-1], self.sizes[1:], strict=False))


def member_rng(seed: int, restart: int = 0) -> np.random.Generator:
    """The generator of one member: seeded from the run's seed and its restart index only."""
    return np.random.default_rng([int(seed), int(restart)])
