"""The critical-point test at trained weights: gradient norm, Hessian of the training cost, class.

The notes' second-derivative test, in n dimensions (ERRATA 3): at a point where the gradient
vanishes, the Hessian's eigenvalues decide. All positive: a *minimum*; all negative: a
*maximum*; both signs: a *saddle*; an eigenvalue zero (within :data:`EIGEN_TOL`) and no two
signs: *degenerate* (the test fails). Each class is qualified *stationary* or *not stationary*
by the gradient norm against :data:`GRADIENT_TOL`: training that stopped early, or is still
crawling along a plateau, has not reached a critical point, and the class then describes the
curvature where it stopped, not an extremum.

The Hessian is the Jacobian of the analytic gradient (:meth:`Network.backprop`), by central
differences: column j is ``(g(theta + h_j e_j) - g(theta - h_j e_j)) / (2 h_j)``, then
symmetrized. Every column of every member is one member of one larger population, so the
whole population's Hessians come from a few vectorized backprop passes (:data:`MAX_ROWS`
rows at a time). ``h_j = STEP * max(1, |theta_j|)`` with STEP = eps^(1/3) (about 6e-6), where
the truncation error (h^2, times third derivatives) and the rounding error (eps |g| / h) of a
central difference balance: the entries are good to about 1e-10, far inside EIGEN_TOL.

The parameters are ordered as the folded layers ``theta^m = [W^m | b^m]`` (see
:func:`~runner.engine.network.fold`), layer by layer, each row-major. The cost is the one
trained: the mean over the training samples of the run's cost (no mini-batches). Numbers only;
imports the rest of :mod:`runner.engine` and :mod:`runner.plugin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from runner.engine.network import Network, fold, with_ones

Array = np.ndarray

#: the relative step of the central differences: eps^(1/3) for float64
STEP = float(np.finfo(np.float64).eps) ** (1 / 3)

#: an eigenvalue within this of zero, relative to the largest |eigenvalue| (or absolute, when
#: that is below 1), counts as zero: a thousand times the finite differences' error of ~1e-10,
#: and small enough that a curvature of 1e-6 along a direction, where the cost changes by
#: 1e-6 x^2 / 2 over a step x, is what the test calls flat
EIGEN_TOL = 1e-6

#: a gradient norm at most this is stationary: gradient descent at a learning rate of order 1
#: then moves the weights by less than 1e-5 per epoch, and a second-order step to the nearby
#: critical point (||g|| / |eigenvalue|) is small wherever the curvature is not flat
GRADIENT_TOL = 1e-5

#: the most rows (members times differenced directions, times 2) one backprop pass computes
MAX_ROWS = 20_000

#: the most Hessian entries held at once (members are taken in chunks below it): 64 MB; and
#: the most entries one backprop pass holds: each row's shifted parameters and gradient (2 n
#: for n parameters) and every layer's z, a and delta at every sample (3 u S for u units and S
#: samples), so that the test's memory does not grow with the network or the data set
MAX_ENTRIES = 8_000_000


def rows_per_pass(n: int, units: int, samples: int) -> int:
    """How many rows (members times differenced directions, times 2) one backprop pass of the
    test takes for ``n`` parameters, ``units`` units and ``samples`` samples: at most
    :data:`MAX_ROWS`, at most :data:`MAX_ENTRIES` entries, and at least 2."""
    return max(2, min(MAX_ROWS, MAX_ENTRIES // (2 * n + 3 * units * samples)))


#: the class names, as the tag ``runner.critical_point`` carries them (with " stationary" or
#: " not stationary")
CLASSES = ("minimum", "maximum", "saddle", "degenerate")

#: at most this many parameters get the test when the column ``critical_points`` is auto
AUTO_LIMIT = 300


@dataclass(frozen=True)
class CriticalPoint:
    """One network's critical-point test (see the module docstring)."""

    kind: str  # minimum | maximum | saddle | degenerate
    stationary: bool
    gradient_norm: float
    eigenvalues: Array  # ascending

    @property
    def label(self) -> str:
        """``"minimum stationary"``, ``"saddle not stationary"``, ...: the tag's value."""
        return f"{self.kind} {'stationary' if self.stationary else 'not stationary'}"

    @property
    def n_negative(self) -> int:
        return int(np.sum(self.eigenvalues < -zero_tolerance(self.eigenvalues)))

    @property
    def n_zero(self) -> int:
        return int(np.sum(np.abs(self.eigenvalues) <= zero_tolerance(self.eigenvalues)))

    def metrics(self) -> dict[str, float]:
        """The metrics a run logs: smallest and largest eigenvalue, counts, gradient norm."""
        return {
            "hessian_min_eigenvalue": float(self.eigenvalues[0]),
            "hessian_max_eigenvalue": float(self.eigenvalues[-1]),
            "hessian_negative": float(self.n_negative),
            "hessian_zero": float(self.n_zero),
            "critical_gradient_norm": float(self.gradient_norm),
        }


def zero_tolerance(eigenvalues: Array, tol: float = EIGEN_TOL) -> float:
    """What counts as zero among ``eigenvalues``: ``tol`` times max(1, largest |eigenvalue|)."""
    scale = float(np.max(np.abs(eigenvalues))) if eigenvalues.size else 0.0
    return tol * max(1.0, scale if np.isfinite(scale) else 1.0)


def classify(
    eigenvalues: Array,
    gradient_norm: float,
    eigen_tol: float = EIGEN_TOL,
    gradient_tol: float = GRADIENT_TOL,
) -> CriticalPoint:
    """The class of a point from its Hessian's eigenvalues and its gradient norm.

    Both signs beyond the tolerance make a saddle even where another eigenvalue is zero (no
    extremum has curvature of both signs); otherwise any zero eigenvalue is degenerate."""
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    zero = zero_tolerance(lam, eigen_tol)
    if not np.all(np.isfinite(lam)):
        kind = "degenerate"
    elif lam[0] < -zero and lam[-1] > zero:
        kind = "saddle"
    elif np.any(np.abs(lam) <= zero):
        kind = "degenerate"
    elif lam[0] > 0:
        kind = "minimum"
    else:
        kind = "maximum"
    stationary = bool(np.isfinite(gradient_norm) and gradient_norm <= gradient_tol)
    return CriticalPoint(kind, stationary, float(gradient_norm), lam)


def n_parameters(sizes: tuple[int, ...]) -> int:
    """The number of weights and biases of a network with layer sizes ``sizes``."""
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False))


def wanted(setting: str | None, sizes: tuple[int, ...]) -> bool:
    """Whether the column ``critical_points`` (auto | true | false) asks for the test."""
    if setting in (None, "", "auto"):
        return n_parameters(sizes) <= AUTO_LIMIT
    return setting == "true"


def _shapes(network: Network) -> list[tuple[int, int]]:
    return [(n_out, n_in + 1) for n_in, n_out in network.layer_shapes()]


def flatten(W: list[Array], b: list[Array]) -> Array:
    """Every member's parameters as one row, ``(P, n)``, in the folded order (module docstring)."""
    theta = fold(W, b, "C")
    return np.concatenate([t.reshape(t.shape[0], -1) for t in theta], axis=1)


def _unflatten(network: Network, flat: Array) -> list[Array]:
    out, start = [], 0
    for rows, cols in _shapes(network):
        size = rows * cols
        part = flat[:, start : start + size].reshape(-1, rows, cols)
        out.append(np.asarray(part, order=network.order))  # type: ignore[call-overload]
        start += size
    return out


def gradient(network: Network, flat: Array, X: Array, Y: Array) -> Array:
    """dC/dtheta of every row of ``flat`` (``(R, n)``), by backprop on the samples ``X, Y``."""
    X1 = with_ones(X, network.order)
    rows = flat.shape[0]
    pad = 1 if network.order == "F" and rows == 1 else 0  # einsum's population loops, see TINY
    if pad:
        flat = np.concatenate([flat, flat])
    with np.errstate(all="ignore"):
        _, dtheta, _ = network.backprop(_unflatten(network, flat), X1, Y, with_loss=False)
    g = np.concatenate([d.reshape(d.shape[0], -1) for d in dtheta], axis=1)
    return g[:rows]


def hessians(network: Network, flat: Array, X: Array, Y: Array) -> tuple[Array, Array]:
    """``(gradients (P, n), Hessians (P, n, n))`` of the cost at every member's parameters."""
    P, n = flat.shape
    H = np.empty((P, n, n))
    h = STEP * np.maximum(1.0, np.abs(flat))  # (P, n)
    rows = rows_per_pass(n, sum(network.sizes[1:]), X.shape[1])
    per_pass = max(1, rows // (2 * P))  # directions per backprop pass
    for start in range(0, n, per_pass):
        js = np.arange(start, min(n, start + per_pass))
        k = len(js)
        shifted = np.repeat(flat[None], 2 * k, axis=0)  # (2k, P, n)
        steps = h[:, js].T  # (k, P)
        shifted[np.arange(k), :, js] += steps
        shifted[k + np.arange(k), :, js] -= steps
        g = gradient(network, shifted.reshape(2 * k * P, n), X, Y).reshape(2 * k, P, n)
        H[:, :, js] = ((g[:k] - g[k:]) / (2 * steps[:, :, None])).transpose(1, 2, 0)
    H = 0.5 * (H + H.swapaxes(1, 2))
    return gradient(network, flat, X, Y), H


def critical_points(
    network: Network,
    W: list[Array],
    b: list[Array],
    X: Array,
    Y: Array,
    eigen_tol: float = EIGEN_TOL,
    gradient_tol: float = GRADIENT_TOL,
) -> list[CriticalPoint]:
    """The critical-point test of every member of a population (``W[m]`` is ``(P, N_m,
    N_{m-1})``) on the training samples ``X (N_0, S)``, ``Y (N_L, S)``."""
    flat = flatten(W, b).astype(np.float64)
    P, n = flat.shape
    rows = rows_per_pass(n, sum(network.sizes[1:]), X.shape[1])
    chunk = max(1, min(MAX_ENTRIES // max(1, n * n), rows // 2))
    out: list[CriticalPoint] = []
    for start in range(0, P, chunk):
        g, H = hessians(network, flat[start : start + chunk], X, Y)
        finite = np.all(np.isfinite(H), axis=(1, 2))
        eig = np.full(g.shape, np.nan)
        if finite.any():
            eig[finite] = np.linalg.eigvalsh(H[finite])
        norms = np.sqrt(np.sum(g * g, axis=1))
        out += [
            classify(e, float(s), eigen_tol, gradient_tol) for e, s in zip(eig, norms, strict=True)
        ]
    return out


def critical_point(trained: Any, X_rows: Any, y: Any, **tolerances: float) -> CriticalPoint:
    """The test for one :class:`~runner.engine.trained.TrainedNetwork` on samples ``X_rows``
    (one per row, unscaled, as the network predicts them) and targets ``y``: class labels for
    a classifier (encoded as it was trained), target values for a regressor."""
    X = trained.transform(X_rows)
    Y = _targets(trained, y)
    return critical_points(trained.network, trained._W, trained._b, X, Y, **tolerances)[0]


def _targets(trained: Any, y: Any) -> Array:
    """Targets ``(N_L, S)`` as training encoded them."""
    y = np.asarray(y)
    n_out = trained.n_out
    if trained.task == "classification":
        labels = y.astype(np.int64).ravel()
        if n_out == 1:
            return labels[None, :].astype(trained.network.dtype)
        Y = np.zeros((n_out, labels.size), dtype=trained.network.dtype)
        Y[labels, np.arange(labels.size)] = 1
        return Y
    y = y.astype(trained.network.dtype)
    return y.reshape(1, -1) if y.ndim == 1 else y.T
