"""The working buffers of a training population: parameters, gradients and the step rule's state.

Every layer's weights and bias are one block theta^m = [W^m | b^m] (see
:meth:`runner.engine.network.Network.backprop`); parameters and gradients each live in one flat
buffer of ``P x K`` entries (``K`` per member) with a view per block (``blocks``/``gblocks``)
and, inside those, per layer in the one layout every step rule is given (:func:`layer_views`:
``W^1..W^L``, then ``b^1..b^L``). The buffers are in the population's memory order:
population-contiguous (``F``) buffers hold each block with the population varying fastest, so
the buffer is a ``(K, P)`` matrix; ``C`` buffers hold each member's parameters together, a
``(P, K)`` matrix. Either way a member's squared gradient norm is one product over ``K``, and
dropping rows is one gather. An elementwise step rule
(:attr:`runner.plugin.kinds.StepRule.elementwise`) steps the whole buffer at once; any other gets
the per-layer views and ``(P, 1, 1)`` per-member hyperparameters (:func:`member_hyper` builds
them from the members' configurations).

Imports :mod:`runner.plugin` only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from runner.plugin.kinds import StepRule

Array = np.ndarray


def layer_views(blocks: Sequence[Array]) -> list[Array]:
    """The parameters a step rule is given, from the blocks ``[W^m | b^m]`` of every layer:
    ``[W^1, ..., W^L, b^1, ..., b^L]``, views into the blocks. The training loop and the
    conformance kit both lay parameters out through this function."""
    return [t[..., :-1] for t in blocks] + [t[..., -1:] for t in blocks]


def member_hyper(
    rule: StepRule, configured: Sequence[dict[str, Any]], owners: Array | None = None
) -> dict[str, Any]:
    """A step rule's hyperparameters for a population: a per-member parameter as one float64
    value per member, any other as the one value all members share.

    ``configured`` holds each configuration's resolved step-rule parameters and ``owners`` the
    configuration of every member (default: one member per configuration); the members of one
    population share every parameter that is not ``per_member`` (the population key of
    :class:`runner.spec.RunSpec` sees to it).
    """
    out: dict[str, Any] = {}
    for p in rule.params:
        if p.per_member:
            values = np.asarray([c[p.name] for c in configured], dtype=np.float64)
            out[p.name] = values if owners is None else values[owners]
        else:
            out[p.name] = configured[0][p.name]
    return out


class ParameterBuffers:
    """The working arrays of a population's live rows, and the step rule that moves them
    (the layout is in the module docstring)."""

    def __init__(
        self,
        W: list[Array],
        b: list[Array],
        order: str,
        rule: StepRule,
        hyper: dict[str, Any],
        extra: int = 0,
    ) -> None:
        """``W`` and ``b`` include ``extra`` padding rows, copies of the first member."""
        P, dtype = W[0].shape[0], W[0].dtype
        self.order, self.rule = order, rule
        self.elementwise = rule.elementwise
        self.shapes = [(w.shape[1], w.shape[2] + 1) for w in W]  # [W | b] of every layer
        self.sizes = [math.prod(shape) for shape in self.shapes]
        self.K = sum(self.sizes)
        self.per_member = {
            k: pad(_as_member_array(v, P - extra, dtype), extra)
            for k, v in hyper.items()
            if np.ndim(v) > 0
        }
        self.shared = {k: v for k, v in hyper.items() if np.ndim(v) == 0}
        self.flat = np.empty(P * self.K, dtype)
        self.blocks, self.params = self._views(self.flat)
        for view, a in zip(self.params, [*W, *b], strict=True):
            view[...] = a
        self.gflat = np.empty_like(self.flat)
        self.gblocks, self.grads = self._views(self.gflat)
        self.inputs: list[Array | None] = [None] * (len(W) - 1)  # see Network.backprop
        self.state = rule.init_state([self.flat] if self.elementwise else self.params)
        if self.elementwise:
            for name, arrays_ in self.state.items():
                if any(s.ndim and s.shape != self.flat.shape for s in arrays_):
                    raise ValueError(
                        f"step rule {rule.name!r} is elementwise, but its state {name!r} is "
                        "neither shaped like the parameters it was given nor 0-d"
                    )
        self.ids = np.arange(P)  # the member of every row (padding rows copy member 0's values)
        self.rate: str | None = None  # the hyperparameter a schedule scales (see set_factor)
        self.factor: Array | None = None
        self.alpha: Array | None = None  # each row's L2 penalty, (P, 1, 1), or None
        self.best: Array | None = None  # each row's best parameters so far, like flat
        self.hyper = self._hyper(self.ids)

    def scheduled(self, rate: str) -> None:
        """Let a learning-rate schedule scale the hyperparameter ``rate`` row by row
        (:meth:`set_factor`); a shared value becomes one value per member."""
        if rate in self.shared:
            self.per_member[rate] = np.full(len(self.ids), self.shared.pop(rate), self.flat.dtype)
        self.rate = rate

    def set_factor(self, factor: Array) -> None:
        """Every row's learning rate is its configured one times ``factor`` (one per row)."""
        self.factor = np.asarray(factor)
        self.hyper = self._hyper(self.ids)

    def penalize(self, alpha: Array) -> None:
        """Add the L2 penalty ``alpha`` (one per member) on the weights to every cost and
        gradient :meth:`add_penalty` is given."""
        self.alpha = pad(np.asarray(alpha, np.float64), len(self.ids) - len(alpha))[self.ids]
        self.alpha = self.alpha.astype(self.flat.dtype).reshape(-1, 1, 1)

    def add_penalty(self, n_samples: int, loss: Array | None) -> Array | None:
        """The penalty alpha/(2 S) sum ||W^m||^2 of ``S = n_samples`` samples joins ``loss`` and
        its gradient alpha/S W^m the weights' gradients (never the biases'): scikit-learn's L2."""
        c = self.alpha / n_samples
        squares = 0.0
        for theta, g in zip(self.blocks, self.gblocks, strict=True):
            W = theta[..., :-1]
            g[..., :-1] += c * W
            if loss is not None:
                squares = squares + np.einsum("pij,pij->p", W, W)
        if loss is None:
            return None
        return loss + 0.5 * c[:, 0, 0] * squares

    def remember(self, rows: Array) -> None:
        """Keep the parameters of ``rows`` as their best so far."""
        if self.best is None:
            self.best = self.flat.copy()
        B, M = self._matrix(self.best), self._matrix(self.flat)
        if self.order == "F":
            B[:, rows] = M[:, rows]
        else:
            B[rows] = M[rows]

    def best_params(self) -> list[Array]:
        """The best parameters (:meth:`remember`) in the step rules' layout."""
        return self._views(self.best if self.best is not None else self.flat)[1]

    def _matrix(self, flat: Array) -> Array:
        """The flat buffer as ``(K, P)`` (population-contiguous) or ``(P, K)``."""
        return flat.reshape(self.K, -1) if self.order == "F" else flat.reshape(-1, self.K)

    def _views(self, flat: Array) -> tuple[list[Array], list[Array]]:
        """The blocks [W^m | b^m] of ``flat``, and the W^1..W^L, b^1..b^L inside them."""
        M = self._matrix(flat)
        blocks, start = [], 0
        for shape, size in zip(self.shapes, self.sizes, strict=True):
            if self.order == "F":
                block = M[start : start + size].reshape((*shape[::-1], -1)).T
            else:
                block = M[:, start : start + size].reshape((-1, *shape))
            blocks.append(block)
            start += size
        return blocks, layer_views(blocks)

    def _hyper(self, ids: Array) -> dict[str, Any]:
        """Per-member hyperparameters of the rows ``ids`` in the form the step rule takes."""
        out: dict[str, Any] = {}
        for name, values in self.per_member.items():
            v = values[ids]
            if name == self.rate and self.factor is not None:
                v = v * self.factor.astype(v.dtype)
            if not self.elementwise:
                out[name] = v.reshape(-1, 1, 1)
            elif (v == v[0]).all():
                out[name] = v[0]  # a scalar of the parameters' dtype
            elif self.order == "F":
                out[name] = np.tile(v, self.K)
            else:
                out[name] = np.repeat(v, self.K)
        return out | self.shared

    def step(self) -> None:
        if self.elementwise:
            self.rule.step([self.flat], [self.gflat], self.state, **self.hyper)
        else:
            self.rule.step(self.params, self.grads, self.state, **self.hyper)

    def squared_norm(self) -> Array:
        """Every member's squared gradient norm, shape ``(P,)``."""
        G = self._matrix(self.gflat)
        return np.einsum("kp,kp->p", G, G) if self.order == "F" else np.vecdot(G, G)

    def max_abs(self) -> Array:
        """Every member's largest parameter magnitude, shape ``(P,)`` (NaN where one is NaN)."""
        M = self._matrix(self.flat)
        axis = 0 if self.order == "F" else 1
        return np.maximum(M.max(axis=axis), -M.min(axis=axis))

    def keep(self, keep: Array, ids: Array) -> None:
        """Drop every row but ``keep``; ``ids`` are the members of the rows kept."""
        self.flat = self._keep(self.flat, keep)
        self.blocks, self.params = self._views(self.flat)
        self.gflat = np.empty_like(self.flat)
        self.gblocks, self.grads = self._views(self.gflat)
        self.inputs = [None] * len(self.inputs)
        self.ids = ids
        if self.alpha is not None:
            self.alpha = self.alpha[keep]
        if self.factor is not None:
            self.factor = self.factor[keep]
        if self.best is not None:
            self.best = self._keep(self.best, keep)
        for arrays in self.state.values():  # a 0-d entry is the population's, kept as it is
            if self.elementwise:
                arrays[:] = [self._keep(s, keep) if s.ndim else s for s in arrays]
            else:
                arrays[:] = [_rows(s, keep, self.order) if s.ndim else s for s in arrays]
        self.hyper = self._hyper(ids)

    def _keep(self, flat: Array, keep: Array) -> Array:
        M = self._matrix(flat)
        return (M[:, keep] if self.order == "F" else M[keep]).ravel()


def pad(a: Array, extra: int) -> Array:
    """``a`` with ``extra`` copies of its first row appended (the same array when none)."""
    if not extra:
        return a
    return np.concatenate([a, np.repeat(a[:1], extra, axis=0)])


def _rows(a: Array, keep: Array, order: str) -> Array:
    """The rows ``keep`` of a population array, in the population's memory order."""
    rows = a[keep]
    return np.asfortranarray(rows) if order == "F" else rows


def _as_member_array(value: Any, P: int, dtype: Any) -> Array:
    arr = np.asarray(value, dtype=dtype).reshape(-1)
    if arr.size == 1:
        return np.full(P, arr[0])
    if arr.size != P:
        raise ValueError(f"a per-member hyperparameter has {arr.size} values for {P} members")
    return arr
