"""The gradient check of whole networks: backprop against central differences of the loss.

Imports :mod:`runner.engine`.
"""

from __future__ import annotations

import numpy as np

from runner.engine.network import Network
from runner.testing._assertions import assert_array, assert_close
from runner.testing._numeric import RTOL, Array, differences


class _NetworkLabel:
    """Stands in for a plugin in the messages of :func:`check_network_gradients`."""

    kind = "network"

    def __init__(self, network: Network) -> None:
        sizes = "-".join(map(str, network.sizes))
        plugins = (network.hidden_activation, network.output_activation, network.cost)
        self.name = f"{sizes} {'/'.join(p.name for p in plugins)}"


def check_network_gradients(
    network: Network,
    W: list[Array],
    b: list[Array],
    X: Array,
    Y: Array,
    *,
    rtol: float = RTOL,
) -> None:
    """Check ``network.gradients`` against central differences of ``network.loss``.

    Every weight and bias of every member is perturbed (the arrays passed in are not changed);
    the relative error must stay below ``rtol``, each member judged on the scale of its own
    whole gradient. Use float64; keep pre-activations away from kinks (``|z| > 0.02`` is enough
    for inputs of order one) and out of saturation, where the cost's value gets too coarse for
    differences to resolve ``rtol``.
    """
    label = _NetworkLabel(network)
    loss, dW, db, a_out = network.gradients(W, b, X, Y)
    expected_loss = network.loss(W, b, X, Y)
    assert_close(
        label, "loss returned by gradients", loss, expected_loss, rtol, "gradients", "loss"
    )
    P = W[0].shape[0]
    assert_array(label, "output a^L", a_out, (P, network.sizes[-1], X.shape[-1]), None)
    checks = []
    for name, arrays, grads in (("W", W, dW), ("b", b, db)):
        for m, (x, g) in enumerate(zip(arrays, grads, strict=True), start=1):
            assert_array(label, f"dC/d{name}^{m}", g, x.shape, None)

            def loss_at(xm: Array, name: str = name, m: int = m) -> Array:
                Ws, bs = list(W), list(b)
                (Ws if name == "W" else bs)[m - 1] = xm
                return network.loss(Ws, bs, X, Y)

            checks.append((f"dC/d{name}^{m}", g, differences(loss_at, x)))
    scale = np.zeros((P, 1, 1))
    for _, g, fd in checks:
        magnitude = np.maximum(np.abs(g), np.abs(fd))
        scale = np.fmax(scale, magnitude.reshape(P, -1).max(axis=1).reshape(P, 1, 1))
    for what, g, fd in checks:
        check = f"{what} (backprop vs central differences of the loss)"
        assert_close(label, check, g, fd, rtol, scale=scale)
