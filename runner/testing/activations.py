"""The conformance check of activations: shapes, ranges, population broadcasting, derivatives.

Imports :mod:`runner.plugin`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from runner.plugin.kinds import Activation
from runner.testing._assertions import (
    assert_array,
    assert_close,
    assert_equal,
    assert_finite,
    call,
    fail,
    resolve_params,
)
from runner.testing._numeric import RTOL, SHAPE, STENCIL, STEP, sample_z


def check_activation(
    activation: Activation,
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    rtol: float = RTOL,
) -> None:
    """Check an activation against the contract of :class:`runner.Activation`.

    - ``forward`` returns an array of the input's shape and dtype (float64 and float32), finite,
      inside ``output_range`` and, if ``normalizes``, summing to 1 over units;
    - on a population ``(P, N, S)`` each member's slice of ``forward`` and ``backward`` is
      bitwise what computing that member alone gives;
    - ``backward(z, a, grad_a)`` matches central differences of ``sum(grad_a * forward(z))``
      with respect to ``z`` (float64, relative error below ``rtol``);
    - when the activation is elementwise (changing one ``z`` changes only its own ``a``),
      ``derivative(z, a)`` matches the central differences of ``forward`` too (checked first, so
      that a wrong derivative is named as such and not by the ``backward`` built on it).

    Failures name the method the author wrote: an activation that does not override
    ``backward`` (the inherited one is ``grad_a * derivative(z, a)``) fails as ``derivative``.
    """
    kw = resolve_params(activation, params)
    own_backward = type(activation).backward is not Activation.backward
    back = "backward" if own_backward else "derivative (through the inherited backward)"
    rng = np.random.default_rng(seed)
    P, N, S = SHAPE
    lo, hi = (float(v) for v in activation.output_range)

    for dtype in (np.float64, np.float32):
        check = f"forward ({np.dtype(dtype)})"
        for z in (sample_z(rng, SHAPE, dtype), sample_z(rng, SHAPE, dtype, 0.0, 30.0)):
            a = call(activation, check, activation.forward, z, **kw)
            assert_array(activation, check, a, z.shape, dtype)
            assert_finite(activation, check, a)
            if a.min() < lo or a.max() > hi:
                bad = a[(a < lo) | (a > hi)][0]
                fail(
                    activation,
                    check,
                    f"output {bad} lies outside output_range [{lo:g}, {hi:g}]",
                )
            if activation.normalizes:
                sums = a.astype(np.float64).sum(axis=-2)
                tol = 10 * N * np.finfo(dtype).eps
                if np.abs(sums - 1.0).max() > tol:
                    fail(
                        activation,
                        check,
                        f"normalizes is set but the outputs of a sample sum to "
                        f"{sums.flat[np.argmax(np.abs(sums - 1.0))]!r}, expected 1",
                    )
        grad_a = rng.standard_normal(SHAPE).astype(dtype)
        check = f"{back} ({np.dtype(dtype)})"
        d = call(activation, check, activation.backward, z, a, grad_a, **kw)
        assert_array(activation, check, d, z.shape, dtype)

    z = sample_z(rng)
    a = call(activation, "forward", activation.forward, z, **kw)
    grad_a = rng.standard_normal(SHAPE)
    back_z = call(activation, back, activation.backward, z, a, grad_a, **kw)
    for p in range(P):
        one = slice(p, p + 1)
        check = f"population broadcasting (member {p} alone)"
        a_p = call(activation, check, activation.forward, z[one], **kw)
        assert_equal(activation, f"{check}: forward", a_p, a[one])
        d_p = call(activation, check, activation.backward, z[one], a[one], grad_a[one], **kw)
        assert_equal(activation, f"{check}: {back}", d_p, back_z[one])

    # central differences: perturb unit n of sample s in every member at once (members are
    # independent, as checked above)
    fd_back = np.empty(SHAPE)
    fd_diag = np.empty(SHAPE)
    elementwise = True
    for n in range(N):
        for s in range(S):
            back_sum = np.zeros(P)
            diag_sum = np.zeros(P)
            for offset, weight in STENCIL:
                zk = z.copy()
                zk[:, n, s] += offset * STEP
                change = call(activation, "forward", activation.forward, zk, **kw) - a
                back_sum += weight * (grad_a * change).sum(axis=(1, 2))
                diag_sum += weight * change[:, n, s]
                change[:, n, s] = 0.0
                elementwise &= not change.any()
            fd_back[:, n, s] = back_sum / (12 * STEP)
            fd_diag[:, n, s] = diag_sum / (12 * STEP)
    if elementwise:
        deriv = call(activation, "derivative", activation.derivative, z, a, **kw)
        assert_array(activation, "derivative", deriv, z.shape, np.float64)
        assert_close(
            activation, "derivative(z, a) vs central differences of forward", deriv, fd_diag, rtol
        )
        z32 = z.astype(np.float32)
        a32 = activation.forward(z32, **kw)
        deriv32 = call(activation, "derivative (float32)", activation.derivative, z32, a32, **kw)
        assert_array(activation, "derivative (float32)", deriv32, z.shape, np.float32)
    what = (
        "backward(z, a, grad_a)"
        if own_backward
        else "derivative(z, a), through the inherited backward(z, a, grad_a) = grad_a * "
        "derivative(z, a),"
    )
    assert_close(
        activation,
        f"{what} vs central differences of sum(grad_a * forward(z))",
        back_z,
        fd_back,
        rtol,
    )
