"""Forward and backward passes over a population of multi-layer perceptrons.

Notation follows the backprop notes: layer m computes z^m = W^m a^{m-1} + b^m and a^m = g(z^m),
with a^0 the input. Every array carries a leading population axis: ``W[m]`` has shape
``(P, N_m, N_{m-1})``, ``b[m]`` shape ``(P, N_m, 1)`` and activations ``(P, N_m, S)`` with the
``S`` samples as columns. The inputs ``X`` have shape ``(N_0, S)`` when all members see the same
samples, or ``(P, N_0, S)`` when each member has its own mini-batch.

Memory layout: a network whose layers are all tiny (:data:`TINY`) keeps its population arrays
population-contiguous (Fortran order: the population axis varies fastest in memory), so that every
product and elementwise step runs along the population, as one vectorized loop, instead of over
many tiny per-member rows. The shapes, and so every plugin's view of the arrays, are the same in
either order; only :attr:`Network.order` tells them apart.

Backpropagation: delta^L = dC/dz^L from the cost (its exact simplification where one holds), then
delta^m = g'(z^m) * (W^{m+1})^T delta^{m+1}, and dC/dW^m = delta^m (a^{m-1})^T / S,
dC/db^m = mean over samples of delta^m. The division by S is taken once, on delta^L.

Training folds each layer's bias into its weights: with theta^m = [W^m | b^m] and the layer's input
given a row of ones, [a^{m-1}; 1], the forward product is z^m = theta^m [a^{m-1}; 1] and the
gradient of both is one product, dC/dtheta^m = delta^m [a^{m-1}; 1]^T / S. That is the same
mathematics in two calls per layer fewer (:meth:`Network.backprop`); :meth:`Network.forward`, used
for predictions, keeps the plain z = W a + b. Imports :mod:`runner.plugin` only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from runner.plugin.kinds import Activation, Cost, Initializer, canonical_delta

Array = np.ndarray


def _t(a: Array) -> Array:
    """Transpose the last two axes (a^T for every member)."""
    return a.swapaxes(-1, -2)


#: per-member matrices with at most this many rows and columns are multiplied with einsum (numpy's
#: own loops); numpy's matmul makes one BLAS call per member, which dominates for tiny networks.
#: Both compute every member's product the same way whatever the population size, so a member is
#: bitwise the same alone or in a population (one big reshaped GEMM would not be: OpenBLAS picks
#: its kernel by the whole matrix's size). In population-contiguous order einsum's loops run
#: along the population; with a population of one they would run another way, so such
#: populations are trained with at least :data:`MIN_CONTIGUOUS` rows.
TINY = 4

#: the fewest rows a population-contiguous population is computed with (see :data:`TINY`)
MIN_CONTIGUOUS = 2


def is_tiny(n_out: int, n_in: int) -> bool:
    """Whether a layer's per-member products go through einsum rather than matmul."""
    return n_out <= TINY and n_in <= TINY


def memory_order(sizes: tuple[int, ...]) -> str:
    """``"F"`` (population-contiguous) when every layer is tiny, else ``"C"``."""
    tiny = all(is_tiny(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False))
    return "F" if tiny else "C"


def weighted_input(W: Array, a: Array, tiny: bool, order: str = "K") -> Array:
    """W a for every member; ``a`` is shared ``(N_in, S)`` or per member ``(P, N_in, S)``.

    ``tiny`` says the layer's products go through einsum (:func:`is_tiny`), and ``order`` is
    the memory order of their results (einsum's ``order``)."""
    if tiny:
        sub = "pij,js->pis" if a.ndim == 2 else "pij,pjs->pis"
        return np.einsum(sub, W, a, order=order)
    return W @ a


def delta_outer(
    delta: Array, a: Array, tiny: bool, order: str = "K", out: Array | None = None
) -> Array:
    """delta a^T for every member, summed over samples: shape ``(P, N_out, N_in)``."""
    if tiny:
        sub = "pis,js->pij" if a.ndim == 2 else "pis,pjs->pij"
        return np.einsum(sub, delta, a, order=order, out=out)
    return np.matmul(delta, _t(a), out=out)


def back_propagate(W: Array, delta: Array, tiny: bool, order: str = "K") -> Array:
    """W^T delta for every member: dC/da of the layer below."""
    if tiny:
        return np.einsum("pji,pjs->pis", W, delta, order=order)
    return _t(W) @ delta


def with_ones(a: Array, order: str = "C", out: Array | None = None) -> Array:
    """[a; 1]: ``a``, shaped ``(N, S)`` or ``(P, N, S)``, with a row of ones under it.

    ``out`` is reused when its shape fits: its last row already holds the ones, so only ``a`` is
    copied in. That is what folds a layer's bias into its weights (z = [W | b] [a; 1])."""
    shape = (*a.shape[:-2], a.shape[-2] + 1, a.shape[-1])
    if out is None or out.shape != shape:
        out = np.ones(shape, a.dtype, order=order)  # type: ignore[call-overload]
    out[..., :-1, :] = a
    return out


def fold(W: list[Array], b: list[Array], order: str = "C") -> list[Array]:
    """theta^m = [W^m | b^m] for every layer, shape ``(P, N_m, N_{m-1} + 1)``: new arrays in
    memory order ``order``."""
    return [
        np.asarray(np.concatenate([w, v], axis=-1), order=order)  # type: ignore[call-overload]
        for w, v in zip(W, b, strict=True)
    ]


@dataclass
class Network:
    """The shape and plugins of a population of networks; the weights are passed in.

    ``sizes`` are the layer sizes from input to output; ``hidden_activation`` and
    ``output_activation`` the activations with their parameters; ``cost`` the cost with its
    parameters.
    """

    sizes: tuple[int, ...]
    hidden_activation: Activation
    output_activation: Activation
    cost: Cost
    hidden_params: dict[str, Any] = field(default_factory=dict)
    output_params: dict[str, Any] = field(default_factory=dict)
    cost_params: dict[str, Any] = field(default_factory=dict)
    dtype: Any = np.float64

    @cached_property
    def order(self) -> str:
        """The memory order of this network's population arrays: ``"F"`` or ``"C"``."""
        return memory_order(self.sizes)

    @cached_property
    def n_layers(self) -> int:
        """The number of weight layers, L."""
        return len(self.sizes) - 1

    def activation(self, m: int) -> tuple[Activation, dict[str, Any]]:
        """The activation of layer ``m`` (1-based, as in the notes) with its parameters."""
        if m == self.n_layers:
            return self.output_activation, self.output_params
        return self.hidden_activation, self.hidden_params

    @cached_property
    def _tiny(self) -> list[bool]:
        """Whether each layer's products go through einsum (decided on W^m, folded or not)."""
        return [is_tiny(n_out, n_in) for n_in, n_out in self.layer_shapes()]

    @cached_property
    def _activations(self) -> list[tuple[Activation, dict[str, Any]]]:
        return [self.activation(m) for m in range(1, self.n_layers + 1)]

    def forward(self, W: list[Array], b: list[Array], X: Array) -> tuple[list[Array], list[Array]]:
        """Return ``(zs, activations)``: ``zs[m-1] = z^m`` and ``activations[m] = a^m``."""
        a = X
        order = self.order
        zs: list[Array] = []
        activations: list[Array] = [X]
        for W_m, b_m, (g, params), tiny in zip(W, b, self._activations, self._tiny, strict=True):
            z = weighted_input(W_m, a, tiny, order)
            z += b_m
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
        """Per-sample dc/dz^L: ``s (a - y)`` where the cost and the output activation share a
        canonical link (:func:`~runner.plugin.kinds.canonical_delta`), else the chain rule."""
        output, params = self.output_activation, self.output_params
        delta = canonical_delta(self.cost, output, params, a, Y)
        if delta is None:
            grad_a = self.cost.derivative(a, Y, **self.cost_params)
            delta = output.backward(z, a, grad_a, **params)
        return delta

    def output_folded(self, theta: list[Array], X1: Array) -> Array:
        """a^L of every member from the folded blocks ``theta`` (:func:`fold`) and ``X1 = [X; 1]``:
        z^m = theta^m [a^{m-1}; 1], the forward pass of :meth:`backprop` alone."""
        a1, order = X1, self.order
        for m, (theta_m, (g, params)) in enumerate(zip(theta, self._activations, strict=True)):
            a = g.forward(weighted_input(theta_m, a1, self._tiny[m], order), **params)
            if m < self.n_layers - 1:
                a1 = with_ones(a, order)
        return a

    def backprop(
        self,
        theta: list[Array],
        X1: Array,
        Y: Array,
        with_loss: bool = True,
        out: list[Array] | None = None,
        inputs: list[Array | None] | None = None,
    ) -> tuple[Array | None, list[Array], Array]:
        """Backpropagation with folded biases: ``(loss, dC/dtheta, a^L)`` for every member.

        ``theta[m-1] = [W^m | b^m]`` (see :func:`fold`) and ``X1 = [X; 1]`` (:func:`with_ones`).
        With ``with_loss=False`` the cost itself is not evaluated (only its derivative is needed
        for the gradients) and ``loss`` is None. ``out`` gives arrays shaped like ``theta`` to
        write the gradients into; ``inputs`` holds the ``[a^m; 1]`` of the hidden layers from one
        call to the next (a list of ``L - 1`` entries, None at first), so that their rows of ones
        are written once. These are the training loop's preallocated buffers.
        """
        L, order, tiny = self.n_layers, self.order, self._tiny
        inputs = inputs if inputs is not None else [None] * (L - 1)
        a1 = X1  # [a^{m-1}; 1]
        zs: list[Array] = []
        activations: list[Array] = []
        for m, (theta_m, (g, params)) in enumerate(zip(theta, self._activations, strict=True)):
            z = weighted_input(theta_m, a1, tiny[m], order)
            a = g.forward(z, **params)
            zs.append(z)
            activations.append(a)
            if m < L - 1:
                a1 = inputs[m] = with_ones(a, order, inputs[m])
        a_out = activations[-1]
        loss = self.cost.value(a_out, Y, **self.cost_params) if with_loss else None
        dtheta = out if out is not None else [None] * L
        # the mean over samples is taken once, on delta^L: every later delta is linear in it
        delta = self.output_delta(zs[-1], a_out, Y) / X1.shape[-1]
        for m in range(L, 0, -1):
            a1 = inputs[m - 2] if m > 1 else X1
            dtheta[m - 1] = delta_outer(delta, a1, tiny[m - 1], order, dtheta[m - 1])
            if m > 1:  # no delta is needed for the input layer
                g, params = self._activations[m - 2]
                grad_a = back_propagate(theta[m - 1][..., :-1], delta, tiny[m - 1], order)
                delta = g.backward(zs[m - 2], activations[m - 2], grad_a, **params)
        return loss, dtheta, a_out  # type: ignore[return-value]

    def gradients(
        self, W: list[Array], b: list[Array], X: Array, Y: Array, with_loss: bool = True
    ) -> tuple[Array | None, list[Array], list[Array], Array]:
        """Backpropagation: ``(loss, dC/dW, dC/db, a^L)`` for every member at once.

        The same computation as :meth:`backprop`, on separate weights and biases."""
        theta, X1 = fold(W, b, self.order), with_ones(X, self.order)
        loss, dtheta, a_out = self.backprop(theta, X1, Y, with_loss)
        return loss, [d[..., :-1] for d in dtheta], [d[..., -1:] for d in dtheta], a_out

    def init_population(
        self,
        initializer: Initializer,
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
        shapes, order = self.layer_shapes(), self.order
        W = [np.empty((P, n_out, n_in), self.dtype, order=order) for n_in, n_out in shapes]
        b = [np.empty((P, n_out, 1), self.dtype, order=order) for _, n_out in shapes]
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
