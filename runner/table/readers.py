"""Reading a sweep table file into a DataFrame, by its extension: CSV, TSV, JSON, Parquet, Excel.

Cells are read as data, never evaluated: CSV, TSV and Excel cells as text, JSON and Parquet cells
as the values the file holds, integers exactly (never through a float). A file that is missing,
not a regular file, empty, binary, not UTF-8 (or UTF-16/32 with a byte-order mark) or not a
table of its format, a CSV row with another number of fields than the header, and an Excel
formula without a saved result each raise one :class:`~runner.errors.TableError` line saying so;
header cells with spaces around them are read without and warned of
(:class:`~runner.errors.TableWarning`).
Only the first bytes of a file are read to tell text from binary content. openpyxl (Excel) and
pyarrow (Parquet) are imported only for files that need them. Imports :mod:`runner.errors` and
:mod:`runner.table.cells`.
"""

from __future__ import annotations

import codecs
import csv
import importlib
import itertools
import json
import math
import stat
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from runner.errors import TableError, TableWarning, first_line
from runner.table.cells import MAX_DIGITS

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
    kind = not_a_file(path)
    if kind:
        raise TableError(f"{path}: {kind}")
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
    _spaced_header(path, [str(c) for c in frame.columns])
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = range(1, len(frame) + 1)
    return frame


def _spaced_header(path: Path, names: list[str]) -> None:
    """One :class:`TableWarning` line when header cells have spaces around them: they are read
    without (`` learning_rate`` is ``learning_rate``), and the user hears of it."""
    spaced = [name for name in names if name != name.strip()]
    if spaced:
        more = f" (and {len(spaced) - 1} more)" if len(spaced) > 1 else ""
        warnings.warn(
            f"{path}: header cell {spaced[0]!r}{more} has spaces around it; "
            f"read as {spaced[0].strip()!r}",
            TableWarning,
            stacklevel=3,
        )


def not_a_file(path: Path) -> str:
    """Why ``path`` is not a regular file one can read ("no such file", "is a directory, not a
    file", "is not a regular file (a named pipe)"), or '' when it is one. Looks only at the
    file's status: a named pipe is never opened (reading one waits for a writer)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot read the file: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    for test, what in _SPECIAL:
        if test(mode):
            return f"is not a regular file ({what})"
    return "is not a regular file"


_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def accepted_formats() -> str:
    """The accepted extensions and their formats, for messages."""
    return ", ".join(f"{ext} ({name})" for ext, name in FORMATS.items())


#: How much of a file is looked at to tell text from binary content, and its encoding.
SNIFF_BYTES = 65536

_BOMS = (  # the longer first: UTF-32's little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def text_encoding(path: Path) -> tuple[str, str]:
    """The codec and name of a text table's encoding, from its first :data:`SNIFF_BYTES` bytes
    (only those are read): UTF-16 or UTF-32 with a byte-order mark, else UTF-8. Raises
    :class:`TableError` for binary content and for UTF-16 without a byte-order mark."""
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    for bom, codec, name in _BOMS:
        if head.startswith(bom):
            return codec, name
    if b"\x00" in head:
        pairs = head[: len(head) - len(head) % 2]
        nuls = sorted((pairs[0::2].count(0), pairs[1::2].count(0)))  # text: one side only
        if nuls[1] >= len(pairs) // 4 and nuls[0] <= len(pairs) // 16:
            raise TableError(
                f"{path}: UTF-16 text without a byte-order mark; save the table as UTF-8 "
                "(or as UTF-16 with its byte-order mark)"
            )
        raise TableError(
            f"{path}: not a text table (binary content); accepted: {accepted_formats()}"
        )
    return "utf-8-sig", "UTF-8"


def _read_text(path: Path) -> pd.DataFrame:
    codec, encoding = text_encoding(path)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # a long cell is the validation's to report, with its row
    try:
        with open(path, encoding=codec, newline="") as fh:
            reader = csv.reader(fh, delimiter=sep, strict=True)  # an open quote is no cell
            try:
                rows = list(reader)
            except csv.Error as exc:
                raise TableError(
                    f"{path}: line {reader.line_num}: not a readable {FORMATS[path.suffix.lower()]}"
                    f' table ({exc}); quote a cell as "a, b" and a quote in it as ""'
                ) from None
    except UnicodeDecodeError:
        raise TableError(f"{path}: not {encoding} text; save the table as UTF-8") from None
    finally:
        csv.field_size_limit(limit)
    if not rows:
        raise TableError(f"{path}: the file is empty; expected a header line and rows")
    width = len(rows[0])
    ragged = [
        f"{path}: row {row}: {len(fields)} field{'s' if len(fields) != 1 else ''}, but the "
        f"header has {width}; give every row one field per column (quote a cell that holds "
        f"{sep!r})"
        for row, fields in enumerate(rows[1:], start=1)
        if len(fields) != width and any(field.strip() for field in fields)
    ]
    if ragged:
        raise TableError(ragged[0], problems=ragged)
    blank = [""] * width
    return _with_header(
        pd.DataFrame([fields if len(fields) == width else blank for fields in rows], dtype=object)
    )


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
    """The first sheet's cells as text; a formula without a saved result is a problem (its
    value is unknown: openpyxl does not compute formulas, and a blank would mean the default)."""
    _needs(path, "openpyxl", "excel")
    import openpyxl
    from openpyxl.utils import get_column_letter

    values = openpyxl.load_workbook(path, read_only=True, data_only=True)
    formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        rows: list[list[Any]] = []
        unsaved: list[tuple[int, int, Any]] = []
        pairs = itertools.zip_longest(
            values.worksheets[0].iter_rows(values_only=True),
            formulas.worksheets[0].iter_rows(values_only=True),
            fillvalue=(),
        )
        for r, (cells, written) in enumerate(pairs):
            row = list(cells)
            for c, formula in enumerate(written):
                if formula is not None and (c >= len(row) or row[c] is None):
                    unsaved.append((r, c, getattr(formula, "text", formula)))
            while row and row[-1] is None:
                row.pop()
            rows.append(row)
    finally:
        values.close()
        formulas.close()
    while rows and not rows[-1]:
        rows.pop()
    if not rows:
        raise TableError(f"{path}: the first sheet is empty; expected a header row and rows")
    if unsaved:
        header = [_excel_text(v) for v in rows[0]]
        problems = []
        for r, c, formula in unsaved:
            where = (
                f"column {header[c].strip()!r}"
                if c < len(header) and header[c]
                else (f"column {c + 1}")
            )
            problems.append(
                f"{path}: {f'row {r}' if r else 'header'}, {where}: cell "
                f"{get_column_letter(c + 1)}{r + 1} holds the formula {formula!r} with no "
                "saved result; accepted: a value, or a formula saved with its result (open and "
                "save the file in a spreadsheet program that computes it)"
            )
        raise TableError(problems[0], problems=problems)
    width = max(len(row) for row in rows)
    text = [[_excel_text(v) for v in row] + [""] * (width - len(row)) for row in rows]
    return _with_header(pd.DataFrame(text, dtype=object))


def _excel_text(value: Any) -> str:
    """A spreadsheet value as text, as a CSV file would hold it: 5.0 is "5"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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

    codec, encoding = text_encoding(path)
    try:
        records = json.loads(
            path.read_text(encoding=codec),
            object_pairs_hook=pairs,
            parse_int=_json_int,
            parse_float=_json_float,
            parse_constant=str,  # NaN, Infinity: the text, rejected as a CSV's "nan" is
        )
    except UnicodeDecodeError:
        raise TableError(f"{path}: not {encoding} text; accepted: {accepted_formats()}") from None
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


def _json_int(text: str) -> int | str:
    """A JSON integer exactly; one too long for Python to read stays text (and is rejected)."""
    return int(text) if len(text) <= MAX_DIGITS else text


def _json_float(text: str) -> float | str:
    """A JSON number; one beyond the floats (1e400) stays text (and is rejected)."""
    value = float(text)
    return value if math.isfinite(value) else text


def _read_parquet(path: Path) -> pd.DataFrame:
    """The columns as the Python values they hold: integers exactly (a column of integers with
    nulls is not made float), nulls as None; NaN and infinities as text, rejected as a CSV's
    "nan" is (a blank is a null)."""
    _needs(path, "pyarrow", "parquet")
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    index = (table.schema.pandas_metadata or {}).get("index_columns", [])
    names = [name for name in table.column_names if name not in index]
    columns = {name: [_parquet_value(v) for v in table.column(name).to_pylist()] for name in names}
    return pd.DataFrame(columns, columns=names, dtype=object)


def _parquet_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_parquet_value(v) for v in value]
    return value
