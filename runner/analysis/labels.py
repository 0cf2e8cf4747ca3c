"""Labels of a figure's series that fit a width and still tell the series apart.

A configuration's name can be long (a table's note), and configurations that differ only at
the end of their names would read the same once cut. :func:`distinct_labels` cuts each name
to the width; where two cut labels would be equal, it drops the part all the names share at
the start (keeping as much of it as fits) and at the end (``…``) and shows what differs;
where even that does not fit, each label starts with its number (``1: …``), so no two read
the same. Pure strings; imports nothing of the project.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

#: the mark of a cut
ELLIPSIS = "…"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + ELLIPSIS


def _shared_end(names: Sequence[str]) -> int:
    """How many characters all ``names`` share at their end (never a whole name)."""
    reversed_ = [n[::-1] for n in names]
    return min(len(os.path.commonprefix(reversed_)), min(len(n) for n in names) - 1)


def distinct_labels(names: Sequence[str], width: int = 48) -> list[str]:
    """One label per name, each at most ``width`` characters, no two equal where the names
    differ: the names as they are where they fit, else cut; where cutting makes two equal,
    what the names do not share (with ``…`` for the dropped start and end); numbered where
    that is still too long to tell them apart."""
    names = list(names)
    cut = [_cut(n, width) for n in names]
    if len(set(cut)) == len(set(names)) or len(names) < 2:
        return cut
    start = len(os.path.commonprefix(names))
    start = min(start, min(len(n) for n in names) - 1)
    start = names[0].rfind(" ", 0, start) + 1 if start > 0 else 0  # at a word
    end = _shared_end([n[start:] for n in names])
    labels = []
    for name in names:
        core = name[start : len(name) - end] if end else name[start:]
        tail = core + (ELLIPSIS if end else "")
        keep = min(start, width - len(tail) - 1)  # as much of the shared start as fits
        text = (name[:keep].rstrip() + ELLIPSIS if start else "") + tail
        labels.append(_cut(text, width) if len(text) > width else text)
    if len(set(labels)) == len(set(names)):
        return labels
    return [_cut(f"{k}: {label}", width) for k, label in enumerate(labels, start=1)]


__all__ = ["distinct_labels"]
