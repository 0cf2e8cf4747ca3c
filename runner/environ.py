"""Environment variables set for the length of a block: the one save-and-restore of them.

The process pool sets single-thread BLAS variables while it spawns workers; the tracker sets
MLflow's HTTP settings around each call. Both go through :func:`environ`. Imports nothing of
runner's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping


@contextlib.contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block; restore what was there (or nothing)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
