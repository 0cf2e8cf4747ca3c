"""The cells of a sweep table: blanks, several values (``0.1|0.5``), ranges (``0..9``), layers.

A cell may hold several values, ``0.1|0.5|1.0``, or an inclusive integer range, ``0..9``; in a JSON
table a list is a list of alternative values, none of them blank (null), as none of the
``|``-separated ones may be empty. A blank cell means the default. The ``hidden`` cell
holds layer sizes joined by ``-`` (``16-16``), or ``0``/``none`` for no hidden layer
(:func:`runner.engine.settings.hidden_layers`). Cells are read as data, never evaluated.
Imports :mod:`runner.plugin.params` only (the one pattern of a number a table may write).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runner.plugin.params import NUMBER

#: A row may expand to at most this many runs.
MAX_RUNS_PER_ROW = 100_000

#: A range bound has at most this many digits (Python reads no longer integer from text).
MAX_DIGITS = 4300

#: A problem line quotes at most this many characters of a cell.
SHOWN = 60

# Each pattern matches in time linear in the cell's length: no two parts of one may match the
# same digits (``\d+\.?\d*`` would try every split of a run of digits, and a cell of 10,000
# digits followed by a letter would take seconds).
_INT_RANGE = re.compile(r"([+-]?[0-9]+)\s*\.\.\s*([+-]?[0-9]+)")
_NUMBER_RANGE = re.compile(rf"{NUMBER}\s*\.\.\s*{NUMBER}")


def native(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def is_blank(value: Any) -> bool:
    """Whether a cell is empty: None, a missing value, NaN from pandas, or only whitespace."""
    value = native(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True  # how pandas hands over a missing JSON/Parquet number; the text "nan" is not
    return isinstance(value, str) and not value.strip()


def cell_values(cell: Any) -> tuple[list[Any], list[tuple[Any, str]]]:
    """The values a cell stands for, and a (value, what is accepted) pair per bad part."""
    cell = native(cell)
    if isinstance(cell, list | tuple | np.ndarray):
        values = [native(v) for v in cell]
        if any(is_blank(v) for v in values):  # as '0.1|' is: a blank alternative means nothing
            accepted = "a list of values, none of them blank (e.g. [0.1, 0.5])"
            return [v for v in values if not is_blank(v)], [(values, accepted)]
        return values, []
    if is_blank(cell):
        return [], []
    if not isinstance(cell, str):
        return [cell], []
    values: list[Any] = []
    bad: list[tuple[Any, str]] = []
    pieces = [piece.strip() for piece in cell.split("|")]
    if not all(pieces):
        bad.append((cell, "values separated by '|', none of them empty (e.g. 0.1|0.5)"))
    for piece in filter(None, pieces):
        match = _INT_RANGE.fullmatch(piece)
        if match and max(len(match.group(1)), len(match.group(2))) > MAX_DIGITS:
            bad.append((piece, f"a range first..last of integers of at most {MAX_DIGITS} digits"))
        elif match:
            first, last = int(match.group(1)), int(match.group(2))
            if first > last:
                bad.append((piece, f"a range first..last that counts up; write '{last}..{first}'"))
            elif last - first >= MAX_RUNS_PER_ROW:
                bad.append((piece, f"a range of at most {MAX_RUNS_PER_ROW} values"))
            else:
                values.extend(range(first, last + 1))
        elif _NUMBER_RANGE.fullmatch(piece):
            bad.append((piece, "a range of integers first..last; list other values as 0.1|0.5"))
        else:
            values.append(piece)
    return values, bad


def as_text(value: Any) -> Any:
    """A number from a JSON/Parquet cell as text, for parameters that take text or paths."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value.strip() if isinstance(value, str) else value
    return f"{value:g}" if isinstance(value, float) else str(value)


def show_value(value: Any) -> str:
    """A cell value as a problem line quotes it: its repr, or, when that is longer than
    :data:`SHOWN` characters, its first ones and its length (``'1111…' (1000000 characters)``)."""
    value = str(value) if isinstance(value, Path) else value
    if isinstance(value, str) and len(value) > SHOWN:
        return f"{value[:SHOWN]!r}… ({len(value)} characters)"
    shown = repr(value)
    return shown if len(shown) <= SHOWN else f"{shown[:SHOWN]}… ({len(shown)} characters)"


def is_long(value: Any) -> bool:
    """Whether :func:`show_value` shortens ``value``."""
    return len(str(value) if isinstance(value, str | Path) else repr(value)) > SHOWN
