"""Declared parameters, and the base class every plugin object derives from.

A plugin declares what it accepts as a tuple of :class:`Param`; the sweep table's columns are
validated and documented from these declarations, so a third-party optimizer with a ``beta2``
parameter gets a ``beta2`` column without any change to the core. The core settings of a run
(epochs, seed, ...) are declared with the same class (:mod:`runner.engine.settings`).
:meth:`Plugin.resolve` is the one "merge given values over the declared defaults and check
them" that the table, the estimators and the conformance kit share. Imports nothing of runner's
but :mod:`runner.errors`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from runner.errors import did_you_mean

_TYPE_NAMES = {
    float: "number",
    int: "integer",
    str: "text",
    bool: "true/false",
    Path: "file path",
}
_TRUE = {"true", "yes", "1", "on"}
_INTEGER = re.compile(r"[+-]?[0-9]+")
#: a number as a table writes one: ASCII digits, no digit-group underscores (Python's float()
#: and int() also read "1_0" as 10 and full-width or Arabic-Indic digits: a typo, read
#: silently); linear in the text's length (no two parts match the same digits)
NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(NUMBER)
_MAX_DIGITS = 4300  # the longest integer Python reads from text
_FALSE = {"false", "no", "0", "off"}


def kind_label(kind: str) -> str:
    """A kind as prose says it: ``step_rule`` is "step rule"."""
    return kind.replace("_", " ")


@dataclass(frozen=True)
class Param:
    """One parameter a plugin accepts.

    ``low``/``high`` bound numbers (inclusive unless ``low_open``/``high_open``); ``choices`` lists
    the accepted values of any type. ``per_member`` parameters may differ between the members of
    one vectorized population (learning rates, momenta); the others are shared by all members.
    Only step rules may declare ``per_member`` parameters (the registry refuses them elsewhere).
    ``short``, when given, is how the parameter appears in run names (``lr`` for
    ``learning_rate``: ``sigmoid-gd-lr0.5-seed3``).
    """

    name: str
    type: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] | None = None
    per_member: bool = False
    required: bool = False
    short: str | None = None

    def accepted(self) -> str:
        """A short phrase describing what this parameter accepts, for error messages and docs."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        kind = _TYPE_NAMES.get(self.type, self.type.__name__)
        noun = f"{'an' if kind == 'integer' else 'a'} {kind}"
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return f"{noun} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{noun} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{noun} {'<' if self.high_open else '<='} {self.high:g}"
        return noun

    def coerce(self, value: Any) -> Any:
        """Return ``value`` as this parameter's type; raise ``ValueError`` if it is not one.

        Strings are parsed as data only (never evaluated). The message of the error is the phrase
        from :meth:`accepted`.
        """
        v = _convert(value, self.type)
        if v is None:
            raise ValueError(self.accepted())
        if self.choices is not None and v not in self.choices:
            raise ValueError(self.accepted())
        if self.type in (int, float):
            if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
                raise ValueError(self.accepted())
            if self.high is not None and (v > self.high or (self.high_open and v == self.high)):
                raise ValueError(self.accepted())
        return v


def _convert(value: Any, kind: type) -> Any:
    """Convert a cell to ``kind``, or None when it is not one (NaN and inf never are)."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        return None
    if kind is int:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return int(value) if math.isfinite(value) and value.is_integer() else None
        if isinstance(value, str):
            text = value.strip()
            if _INTEGER.fullmatch(text):  # exactly, not through a float: 2**53 + 1 stays odd
                return int(text) if len(text) <= _MAX_DIGITS else None
            if not _NUMBER.fullmatch(text):
                return None
            try:
                f = float(text)
            except ValueError:
                return None
            return int(f) if math.isfinite(f) and f.is_integer() else None
        if hasattr(value, "item"):  # numpy scalar
            return _convert(value.item(), kind)
        return None
    if kind is float:
        if isinstance(value, bool):
            return None
        if isinstance(value, str) and not _NUMBER.fullmatch(value.strip()):
            return None
        if isinstance(value, int | float | str) or hasattr(value, "item"):
            try:
                f = float(value.strip() if isinstance(value, str) else value)
            except (TypeError, ValueError):
                return None
            return f if math.isfinite(f) else None
        return None
    if kind is str:
        if isinstance(value, str) and value.strip():
            return value.strip()
        return None
    if kind is Path:
        if isinstance(value, Path):
            return value
        if isinstance(value, str) and value.strip():
            return Path(value.strip())
        return None
    return value if isinstance(value, kind) else None


class Plugin:
    """Base class of every plugin object: a registered ``name`` and its declared ``params``.

    Subclasses set ``kind`` (which registry they belong to), ``name`` and ``params``. The plugin
    manager fills in ``distribution`` and ``version`` when it registers the object.
    """

    kind: ClassVar[str] = "plugin"
    name: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    description: ClassVar[str] = ""
    #: parameters it does not take but has at a fixed value, as other plugins of its kind
    #: declare them (plain gradient descent is momentum at ``momentum`` 0): the run logs them
    #: as params, so a comparison across plugins places it where it belongs; never hashed
    implied_params: ClassVar[dict[str, Any]] = {}
    distribution: str = ""
    version: str = ""

    def param(self, name: str) -> Param:
        """The declared parameter called ``name`` (KeyError if there is none)."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        """Every declared parameter with its default value."""
        return {p.name: p.default for p in self.params}

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Merge ``given`` over the declared defaults, coercing every value.

        Raises ValueError, one line: for a name the plugin does not declare (naming what it
        takes, with a did-you-mean), or a value its parameter does not accept.
        """
        out = self.defaults()
        for key, value in (given or {}).items():
            try:
                param = self.param(key)
            except KeyError:
                names = [p.name for p in self.params]
                raise ValueError(
                    f"{self.label()} has no parameter {key!r}; {did_you_mean(key, names)}"
                    f"it takes: {', '.join(names) or 'no parameters'}"
                ) from None
            try:
                out[key] = param.coerce(value)
            except ValueError as exc:
                raise ValueError(f"{key}={value!r} is not valid: {exc} ({param.help})") from None
        return out

    def label(self) -> str:
        """``step rule 'adam'``: the kind and name, as messages say it."""
        return f"{kind_label(self.kind)} {self.name!r}"

    def summary(self) -> str:
        """The first paragraph of the description or docstring, on one line (a docstring's
        line breaks are not the sentence's); one that leads into a formula ends with a full
        stop instead of its colon."""
        text = self.description or (type(self).__doc__ or "")
        first = " ".join(text.strip().split("\n\n")[0].split())
        return first[:-1] + "." if first.endswith(":") else first

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name!r} from {self.distribution or '?'}>"
