"""Reading ``.npz`` files safely: the one place runner loads one.

An ``.npz`` is a zip of ``.npy`` files, each a header (shape, dtype) and then the data. A few
megabytes of zeros compress to nothing, so a file's size says nothing of what it inflates to:
:func:`load_npz` reads every header inside the zip (:mod:`numpy.lib.format`, no data
decompressed) and refuses, with one line naming the file and the array, a file whose arrays are
not of the shapes the caller expects or that declare more bytes than its bound (derived by the
caller from the network or trajectory the file holds) before anything is loaded. Arrays are
numeric and loaded with ``allow_pickle=False``: never unpickled. Imports numpy and
:mod:`runner.engine.budget` (how a size is said) only.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from runner.engine.budget import show_bytes

#: an array's declared shape and dtype
Header = tuple[tuple[int, ...], np.dtype]


def npz_headers(path: Path | str) -> dict[str, Header]:
    """The declared ``(shape, dtype)`` of every array of an ``.npz``, data left compressed;
    :class:`ValueError` for a file that is no ``.npz`` of numeric arrays."""
    out: dict[str, Header] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"holds {info.filename!r}, which is no .npy array")
                with archive.open(info) as fh:
                    version = npy.read_magic(fh)
                    read = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
                    if version not in read:
                        raise ValueError(f"{info.filename}: .npy format {version} is not read")
                    shape, _, dtype = read[version](fh)
                if dtype.hasobject or dtype.kind not in "biuf":
                    raise ValueError(f"{info.filename} holds {dtype}, not numbers")
                out[info.filename.removesuffix(".npy")] = (tuple(shape), dtype)
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not an .npz file ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not an .npz of numeric arrays: {exc}") from None
    return out


def declared_bytes(header: Header) -> int:
    shape, dtype = header
    return math.prod(shape) * dtype.itemsize


def load_npz(
    path: Path | str,
    *,
    max_bytes: int,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    what: str = "its contents",
) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``, once its headers show each named in ``shapes``
    present with that shape and all of them together at most ``max_bytes`` (``what`` says what
    the bound is of, for the message). :class:`ValueError`, one line, otherwise."""
    headers = npz_headers(path)
    for name, want in (shapes or {}).items():
        if name not in headers:
            raise ValueError(f"{path}: lacks the array {name}")
        if headers[name][0] != tuple(want):
            raise ValueError(
                f"{path}: {name} declares shape {headers[name][0]}, not the {tuple(want)} "
                f"{what} has"
            )
    total = sum(declared_bytes(h) for h in headers.values())
    if total > max_bytes:
        name = max(headers, key=lambda n: declared_bytes(headers[n]))
        shape, dtype = headers[name]
        raise ValueError(
            f"{path}: its arrays declare {show_bytes(total)} ({name}: {shape} {dtype}), more "
            f"than the {show_bytes(max_bytes)} {what} can take; refused before loading"
        )
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}
