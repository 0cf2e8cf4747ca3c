"""How the conformance kit fails: messages naming the plugin and check, and the assertions.

Every failed check raises :class:`AssertionError` as ``"<kind> '<name>' (from <dist>): <check>:
<detail>"``; an exception a plugin method raises becomes such a failure too. The declared
parameters of a plugin are checked here before any check calls it; :func:`deadline` ends a check
that does not end. Imports :mod:`runner.engine` and :mod:`runner.plugin`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

import numpy as np

from runner.engine.deadline import time_limit
from runner.plugin.params import Param, Plugin, kind_label
from runner.plugin.registry import RESERVED_PARAMS, reserved_message
from runner.testing._numeric import Array, relative_error

# -- messages -----------------------------------------------------------------------------------


def plugin_label(obj: Any) -> str:
    kind = getattr(obj, "kind", type(obj).__name__)
    name = getattr(obj, "name", "") or type(obj).__name__
    dist = getattr(obj, "distribution", "")
    return f"{kind_label(str(kind))} {name!r}" + (f" (from {dist})" if dist else "")


def fail(obj: Any, check: str, detail: str) -> NoReturn:
    raise AssertionError(f"{plugin_label(obj)}: {check}: {detail}")


class TimedOut(AssertionError):
    """A check ran out of its time (:func:`deadline`): a failed check like any other."""


@contextlib.contextmanager
def deadline(obj: Any, seconds: float | None) -> Iterator[None]:
    """Fail the check in the block with :class:`TimedOut` (``timed out after N s``) once it has
    run ``seconds``: an endless loop in a plugin then fails its check instead of hanging (in
    the main thread only: :func:`runner.engine.deadline.time_limit`)."""

    def expired() -> TimedOut:
        return TimedOut(
            f"{plugin_label(obj)}: timed out after {seconds:g} s (a loop that does not end at "
            "these parameter values?)"
        )

    with time_limit(seconds, expired):
        yield


def call(obj: Any, check: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a plugin method; an exception it raises becomes an AssertionError naming the check."""
    try:
        return fn(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as exc:  # whatever a plugin raises is a failed check
        fail(obj, check, f"raised {type(exc).__name__}: {exc}")


def assert_close(
    obj: Any,
    check: str,
    got: Array,
    expected: Array,
    rtol: float,
    got_name: str = "analytic",
    expected_name: str = "central differences",
    scale: Array | float | None = None,
    alternatives: tuple[Array, ...] = (),
) -> None:
    """Fail unless ``got`` matches ``expected`` within ``rtol``, element by element, or (where
    it does not) one of ``alternatives`` (one-sided differences beside a kink)."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        fail(obj, check, f"expected shape {expected.shape}, got {got.shape}")
    err = relative_error(got, expected, scale=scale)
    for other in alternatives:
        err = np.fmin(err, relative_error(got, np.asarray(other), scale=scale))
    nan = np.isnan(err)
    worst_flat = int(np.flatnonzero(nan)[0]) if nan.any() else int(np.argmax(err))
    worst = np.unravel_index(worst_flat, err.shape) if err.ndim else ()
    max_err = float(err[worst])
    if not max_err <= rtol:
        where = f" at index {tuple(int(i) for i in worst)}" if worst else ""
        fail(
            obj,
            check,
            f"{got_name} {float(got[worst]):.10g} vs {expected_name} {float(expected[worst]):.10g}"
            f"{where}; max relative error {max_err:.3g} > {rtol:g}",
        )


def assert_array(obj: Any, check: str, x: Any, shape: tuple[int, ...], dtype: Any) -> Array:
    if not isinstance(x, np.ndarray):
        fail(obj, check, f"expected a numpy array, got {type(x).__name__}")
    if x.shape != tuple(shape):
        fail(obj, check, f"expected shape {tuple(shape)}, got {x.shape}")
    if dtype is not None and x.dtype != dtype:
        fail(obj, check, f"expected dtype {np.dtype(dtype)}, got {x.dtype}")
    return x


def assert_finite(obj: Any, check: str, x: Array) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        fail(obj, check, f"expected finite values, got {x[index]} at index {index}")


def assert_equal(obj: Any, check: str, got: Array, expected: Array) -> None:
    """Bitwise equality (NaN equal to NaN), with the first differing element in the message."""
    if got.shape != expected.shape:
        fail(obj, check, f"expected shape {expected.shape}, got {got.shape}")
    if got.dtype != expected.dtype:
        fail(obj, check, f"expected dtype {expected.dtype}, got {got.dtype}")
    if not np.array_equal(got, expected, equal_nan=True):
        differ = ~((got == expected) | (np.isnan(got) & np.isnan(expected)))
        index = tuple(int(i) for i in np.argwhere(differ)[0])
        fail(
            obj,
            check,
            f"expected {expected[index].item()!r}, got {got[index].item()!r} at index {index} "
            "(bitwise equality)",
        )


# -- declared parameters ------------------------------------------------------------------------


def missing_required(obj: Plugin, given: Mapping[str, Any]) -> list[str]:
    return [p.name for p in obj.params if p.required and p.name not in given]


def resolve_params(obj: Plugin, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check the plugin's declarations and merge ``params`` over its defaults."""
    declared = obj.params
    if not isinstance(declared, tuple) or not all(isinstance(p, Param) for p in declared):
        fail(obj, "declared parameters", "params must be a tuple of runner.Param")
    names = [p.name for p in declared]
    if len(set(names)) != len(names):
        fail(obj, "declared parameters", f"a parameter name is declared twice: {names}")
    for name in names:
        if name in RESERVED_PARAMS:
            fail(obj, "declared parameters", reserved_message(obj, name))
    for p in declared:
        if p.required or p.default is None:
            continue
        try:
            p.coerce(p.default)
        except ValueError as exc:
            fail(
                obj,
                "declared parameters",
                f"the default {p.default!r} of {p.name!r} is not {exc}",
            )
    return obj.resolve(params)
