"""Which parameter values the conformance kit tries: each declared parameter across its range.

:func:`explored_values` gives one parameter's values: for a number its lower end, the point
halfway to the default, the default, the point halfway to the upper end, and the upper end. A
number that declares no bound at all is tried at its default only: the kit tries values the
plugin says it takes, never a guess at its range (declare ``low``/``high`` to have it explored).
An end is the declared bound when it is closed; a tenth of the way from an open bound to the
default (``beta > 0`` with default 1 is tried at 0.1); ``REACH`` scales beyond the default on an
unbounded side, and at most ``FAR`` scales from the default when a bound lies farther (a
parameter's scale is ``max(|default|, 1)``). Integers are rounded; a true/false parameter is
tried both ways, a parameter with ``choices`` at each choice; text and paths only at their
default. :func:`parameter_settings` varies one parameter at a time, the others at their
defaults or pinned. Imports :mod:`runner.plugin`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.plugin.params import Param, Plugin

#: how far beyond its default an unbounded side of a number is tried, in scales of it
REACH = 2.0
#: how far from its default a bound is tried at most, in scales of it
FAR = 100.0


def _end(bound: float | None, is_open: bool, default: float, direction: int, scale: float) -> float:
    if bound is None:
        return default + direction * REACH * scale
    if abs(bound - default) > FAR * scale:
        return default + direction * FAR * scale
    if is_open:
        return bound + (default - bound) / 10
    return float(bound)


def explored_values(param: Param) -> list[Any]:
    """The values the kit tries ``param`` at, the default first; empty for a required one."""
    if param.required or param.default is None:
        return []
    default = param.default
    if param.choices is not None:
        candidates: list[Any] = list(param.choices)
    elif param.type is bool:
        candidates = [False, True]
    elif param.low is None and param.high is None and param.type in (int, float):
        candidates = []  # no declared range: any other value may be one it does not take
    elif param.type in (int, float) and not isinstance(default, bool):
        d, scale = float(default), max(abs(float(default)), 1.0)
        low = _end(param.low, param.low_open, d, -1, scale)
        high = _end(param.high, param.high_open, d, +1, scale)
        candidates = [low, (low + d) / 2, (d + high) / 2, high]
        if param.type is int:
            candidates = [round(v) for v in candidates]
    else:
        candidates = []
    out = [default]
    for value in candidates:
        try:
            value = param.coerce(value)
        except ValueError:
            continue
        if value not in out:
            out.append(value)
    return out


def parameter_settings(
    obj: Plugin, pinned: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The parameter sets the kit checks ``obj`` with: ``pinned`` alone (every other parameter
    at its default) first, then each parameter that is not pinned at each of its other
    :func:`explored_values`, one at a time."""
    base = dict(pinned or {})
    settings = [base]
    for param in obj.params:
        if param.name in base:
            continue
        for value in explored_values(param)[1:]:
            settings.append({**base, param.name: value})
    return settings


def describe_setting(obj: Plugin, given: Mapping[str, Any]) -> str:
    """``beta=2.5, gamma=1``: every declared parameter's value in a setting, as failures say."""
    values = obj.defaults() | dict(given)
    return ", ".join(f"{name}={value!r}" for name, value in values.items())
