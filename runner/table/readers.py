"""Reading a sweep table file into a DataFrame, by its extension: CSV, TSV, JSON, Parquet, Excel.

Cells are read as data, never evaluated: CSV, TSV and Excel cells as text, JSON and Parquet cells
as the values the file holds. A file that is missing, empty, binary, not UTF-8 or not a table of
its format raises one :class:`~runner.errors.TableError` line saying so. openpyxl (Excel) and
pyarrow (Parquet) are imported only for files that need them. Imports :mod:`runner.errors`.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from runner.errors import TableError, first_line

#: Table formats by file extension.
FORMATS = {
    ".csv": "CSV",
    ".tsv": "TSV",
    ".json": "JSON records",
    ".parquet": "Parquet",
    ".xlsx": "Excel",
}


def read_table(path: Path | str) -> pd.DataFrame:
    """The table at ``path`` as a DataFrame, read by its extension.

    Columns are the header names stripped of whitespace (duplicates kept, for
    :func:`runner.table.build.load_specs` to report); the index is the data row number, the first
    data row being 1; blank rows are kept so the numbers match the file. CSV, TSV and Excel cells
    are text ('' when blank); JSON and Parquet cells may be numbers, None, or (JSON) lists of
    alternatives. Raises :class:`TableError` when the file is missing or is not a table.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        shown = path.suffix or "(no extension)"
        raise TableError(
            f"{path}: unsupported table format {shown!r}; accepted: {accepted_formats()}"
        )
    if not path.is_file():
        raise TableError(f"{path}: {'not a file' if path.exists() else 'no such file'}")
    readers = {
        ".csv": _read_text,
        ".tsv": _read_text,
        ".xlsx": _read_excel,
        ".json": _read_json,
        ".parquet": _read_parquet,
    }
    try:
        frame = readers[suffix](path)
    except TableError:
        raise
    except OSError as exc:
        raise TableError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    except Exception as exc:  # a parser's own error on a file that is not a table
        raise TableError(
            f"{path}: not a readable {FORMATS[suffix]} table ({first_line(exc)}); "
            f"accepted formats: {accepted_formats()}"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = range(1, len(frame) + 1)
    return frame


def accepted_formats() -> str:
    """The accepted extensions and their formats, for messages."""
    return ", ".join(f"{ext} ({name})" for ext, name in FORMATS.items())


def _read_text(path: Path) -> pd.DataFrame:
    if b"\x00" in path.read_bytes()[:65536]:
        raise TableError(
            f"{path}: not a text table (binary content); accepted: {accepted_formats()}"
        )
    try:
        raw = pd.read_csv(
            path,
            sep="\t" if path.suffix.lower() == ".tsv" else ",",
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError:
        raise TableError(f"{path}: the file is empty; expected a header line and rows") from None
    except UnicodeDecodeError:
        raise TableError(f"{path}: not UTF-8 text; save the table as UTF-8") from None
    return _with_header(raw)


def _needs(path: Path, package: str, extra: str) -> None:
    """Raise a TableError saying how to install ``package`` when it cannot be imported."""
    try:
        importlib.import_module(package)
    except ImportError:
        raise TableError(
            f"{path}: reading {path.suffix.lower()} tables needs {package}: pip install "
            f"{package} (or install runner with its {extra!r} extra)"
        ) from None


def _read_excel(path: Path) -> pd.DataFrame:
    _needs(path, "openpyxl", "excel")
    raw = pd.read_excel(
        path, sheet_name=0, header=None, dtype=str, keep_default_na=False, engine="openpyxl"
    )
    if raw.shape[0] == 0:
        raise TableError(f"{path}: the first sheet is empty; expected a header row and rows")
    return _with_header(raw)


def _with_header(raw: pd.DataFrame) -> pd.DataFrame:
    raw = raw.fillna("")
    names = [str(c) for c in raw.iloc[0].tolist()]
    return pd.DataFrame(raw.iloc[1:].to_numpy(dtype=object), columns=names)


def _read_json(path: Path) -> pd.DataFrame:
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        repeated.extend(key for key in dict.fromkeys(keys) if keys.count(key) > 1)
        return dict(items)

    try:
        records = json.loads(path.read_text(encoding="utf-8-sig"), object_pairs_hook=pairs)
    except UnicodeDecodeError:
        raise TableError(f"{path}: not UTF-8 text; accepted: {accepted_formats()}") from None
    except json.JSONDecodeError as exc:
        raise TableError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise TableError(
            f"{path}: a JSON table is a list of records, one object per configuration "
            '(e.g. [{"activation": "sigmoid", "seed": "0..9"}])'
        )
    if repeated:
        raise TableError(
            f"{path}: header, column {repeated[0]!r}: {repeated[0]!r} appears twice in one record; "
            "give each column once and list several values as a list"
        )
    names = list(dict.fromkeys(key for record in records for key in record))
    rows = [[record.get(name) for name in names] for record in records]
    return pd.DataFrame(rows, columns=names, dtype=object)


def _read_parquet(path: Path) -> pd.DataFrame:
    _needs(path, "pyarrow", "parquet")
    return pd.read_parquet(path).astype(object)
