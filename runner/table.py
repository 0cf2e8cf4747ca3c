"""Sweep tables: read a table file with pandas and turn its rows into validated run specifications.

One row is one configuration. The core columns (:data:`CORE`) name the plugins of the row and the
training settings; every other column is a parameter of one of the row's chosen plugins, bare
(``learning_rate``: every chosen plugin that declares it) or qualified by the part it belongs to
(``output_activation.beta``: that part only). Columns whose name starts with ``#`` are comments.

A cell may hold several values, ``0.1|0.5|1.0``, or an inclusive integer range, ``0..9``; a row
expands to the Cartesian product of its cells, the leftmost column varying slowest. A blank cell
means the default; a row that is blank or holds only comments is skipped. In a JSON table a list
is a list of alternative values. A parameter column applies only to the combinations whose plugins
declare it. File-path parameters are resolved relative to the table's folder and stored absolute.

:func:`load_specs` validates the whole table against the installed plugins before anything runs:
each problem becomes one line naming the file, the row (the first data row is "row 1", so row N is
line N + 1 of a CSV file), the column, the value and what would be accepted, and all of them are
raised together in one :class:`~runner.errors.TableError`. Cells are read as data, never evaluated.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runner.errors import TableError
from runner.manager import KIND_LABELS, Registry, get_registry
from runner.params import Param, Plugin
from runner.spec import RunSpec, freeze

# fmt: off
#: The core columns and their defaults: the one place the table format names default plugins.
CORE: dict[str, Param] = {p.name: p for p in (
    Param("dataset", str, "xor", "the data set"),
    Param("hidden", str, "2", "hidden layer sizes: 2, 16-16; 0 or none: no hidden layer"),
    Param("activation", str, "sigmoid", "activation of the hidden layers"),
    Param("output_activation", str, "sigmoid", "activation of the output layer"),
    Param("cost", str, "cross_entropy", "the cost minimized"),
    Param("initializer", str, "normal", "how initial weights and biases are drawn"),
    Param("optimizer", str, "gd", "the step rule that moves the weights"),
    Param("strategy", str, "restarts", "which initial points to train and which to keep"),
    Param("epochs", int, 1000, "passes over the training set", low=1),
    Param("batch_size", int, 0, "samples per step; 0: the full batch", low=0),
    Param("seed", int, 0, "seed of the initial weights", low=0),
    Param("data_seed", int, 0, "seed of generated data and of the train/test split", low=0),
    Param("test_size", float, 0.0, "fraction held out for testing", low=0, high=1, high_open=True),
    Param("scaling", str, "none", "input scaling, fitted on the training split",
          choices=("none", "standard", "minmax")),
    Param("target_loss", float, None, "stop once the loss is this low (blank: never)", low=0),
    Param("gradient_tolerance", float, None, "stop once the gradient norm is this small "
          "(blank: never)", low=0, low_open=True),
    Param("dtype", str, "float64", "floating-point type", choices=("float64", "float32")),
)}

#: The plugin-naming core columns ("parts"): the kind each names, the RunSpec field of its params.
PARTS: dict[str, tuple[str, str]] = {
    "dataset":           ("dataset", "dataset_params"),
    "activation":        ("activation", "activation_params"),
    "output_activation": ("activation", "output_params"),
    "cost":              ("cost", "cost_params"),
    "initializer":       ("initializer", "initializer_params"),
    "optimizer":         ("step_rule", "optimizer_params"),
    "strategy":          ("strategy", "strategy_params"),
}
# fmt: on

#: Table formats by file extension.
FORMATS = {
    ".csv": "CSV",
    ".tsv": "TSV",
    ".json": "JSON records",
    ".parquet": "Parquet",
    ".xlsx": "Excel",
}

#: A row may expand to at most this many runs.
MAX_RUNS_PER_ROW = 100_000

_INT_RANGE = re.compile(r"^([+-]?\d+)\s*\.\.\s*([+-]?\d+)$")
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RANGE = re.compile(rf"^{_NUMBER}\s*\.\.\s*{_NUMBER}$")
_LAYERS = (
    "positive integer layer sizes joined by '-' (e.g. 2 or 16-16), or 0/none for no hidden layer"
)


# --- reading ------------------------------------------------------------------------------------


def read_table(path: Path | str) -> pd.DataFrame:
    """The table at ``path`` as a DataFrame, read by its extension.

    Columns are the header names stripped of whitespace (duplicates kept, for :func:`load_specs`
    to report); the index is the data row number, the first data row being 1; blank rows are kept
    so the numbers match the file. CSV, TSV and Excel cells are text ('' when blank); JSON and
    Parquet cells may be numbers, None, or (JSON) lists of alternatives. Raises
    :class:`TableError` when the file is missing or is not a table.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        shown = path.suffix or "(no extension)"
        raise TableError(f"{path}: unsupported table format {shown!r}; accepted: {_formats()}")
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
            f"{path}: not a readable {FORMATS[suffix]} table ({_first_line(exc)}); "
            f"accepted formats: {_formats()}"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = range(1, len(frame) + 1)
    return frame


def _formats() -> str:
    return ", ".join(f"{ext} ({name})" for ext, name in FORMATS.items())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_text(path: Path) -> pd.DataFrame:
    if b"\x00" in path.read_bytes()[:65536]:
        raise TableError(f"{path}: not a text table (binary content); accepted: {_formats()}")
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


def _read_excel(path: Path) -> pd.DataFrame:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise TableError(
            f"{path}: reading .xlsx tables needs openpyxl: pip install openpyxl "
            "(or install runner with its 'excel' extra)"
        ) from None
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
        raise TableError(f"{path}: not UTF-8 text; accepted: {_formats()}") from None
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
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise TableError(
            f"{path}: reading .parquet tables needs pyarrow: pip install pyarrow "
            "(or install runner with its 'parquet' extra)"
        ) from None
    return pd.read_parquet(path).astype(object)


# --- cells --------------------------------------------------------------------------------------


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _is_blank(value: Any) -> bool:
    value = _native(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True  # how pandas hands over a missing JSON/Parquet number; the text "nan" is not
    return isinstance(value, str) and not value.strip()


def _alternatives(cell: Any) -> tuple[list[Any], list[tuple[Any, str]]]:
    """The values a cell stands for, and a (value, what is accepted) pair per bad part."""
    cell = _native(cell)
    if isinstance(cell, list | tuple | np.ndarray):
        return [_native(v) for v in cell if not _is_blank(v)], []
    if _is_blank(cell):
        return [], []
    if not isinstance(cell, str):
        return [cell], []
    values: list[Any] = []
    bad: list[tuple[Any, str]] = []
    pieces = [piece.strip() for piece in cell.split("|")]
    if not all(pieces):
        bad.append((cell, "values separated by '|', none of them empty (e.g. 0.1|0.5)"))
    for piece in filter(None, pieces):
        match = _INT_RANGE.match(piece)
        if match:
            first, last = int(match.group(1)), int(match.group(2))
            if first > last:
                bad.append((piece, f"a range first..last that counts up; write '{last}..{first}'"))
            elif last - first >= MAX_RUNS_PER_ROW:
                bad.append((piece, f"a range of at most {MAX_RUNS_PER_ROW} values"))
            else:
                values.extend(range(first, last + 1))
        elif _NUMBER_RANGE.match(piece):
            bad.append((piece, "a range of integers first..last; list other values as 0.1|0.5"))
        else:
            values.append(piece)
    return values, bad


def _layers(value: Any) -> tuple[int, ...] | None:
    """Hidden layer sizes from a cell value, or None when it is not a valid one."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return () if value == 0 else (value,) if value > 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in ("0", "none"):
        return ()
    parts = [part.strip() for part in text.split("-")]
    if not all(re.fullmatch(r"[0-9]+", part) and int(part) > 0 for part in parts):
        return None
    return tuple(int(part) for part in parts)


def _as_text(value: Any) -> Any:
    """A number from a JSON/Parquet cell as text, for parameters that take text or paths."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value.strip() if isinstance(value, str) else value
    return f"{value:g}" if isinstance(value, float) else str(value)


def _show(value: Any) -> str:
    return repr(str(value)) if isinstance(value, Path) else repr(value)


def _article(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _declares(obj: Plugin, name: str) -> bool:
    return any(p.name == name for p in obj.params)


def _takes(part: str, obj: Plugin) -> str:
    return f"{part} {obj.name!r} takes: {', '.join(p.name for p in obj.params) or 'no parameters'}"


# --- validation ---------------------------------------------------------------------------------

Column = tuple[str | None, str]  # (part, parameter) of a parameter column; part None when bare


@dataclass
class _DataUse:
    """Where one distinct data-set configuration is used, for reporting its problems."""

    rows: list[int]
    columns: dict[str, tuple[str, Any]]  # parameter -> (column, value as written)


@dataclass
class _Builder:
    """Turns the rows of one table into RunSpecs, collecting every problem on the way."""

    registry: Registry
    file: str
    folder: Path
    problems: dict[str, int] = field(default_factory=dict)  # line -> row (0: the header)
    data_uses: dict[tuple[Any, ...], _DataUse] = field(default_factory=dict)
    found: dict[tuple[str, Any], tuple[Plugin | None, str]] = field(default_factory=dict)

    def add(self, line: str, row: int = 0) -> None:
        self.problems.setdefault(line, row)

    def cell(self, row: int, column: str, value: Any, accepted: str) -> None:
        line = f"{self.file}: row {row}, column {column!r}: {_show(value)} is not valid: {accepted}"
        self.add(line, row)

    def lines(self) -> list[str]:
        """Every problem once: the header's first, then by row, each row's in the order found."""
        return sorted(self.problems, key=self.problems.__getitem__)

    # columns
    def known(self) -> dict[str, Column]:
        """Every parameter column the installed plugins accept, bare and qualified."""
        known: dict[str, Column] = {}
        for part, (kind, _) in PARTS.items():
            for obj in self.registry.by_kind[kind].values():
                for p in obj.params:
                    known.setdefault(p.name, (None, p.name))
                    known[f"{part}.{p.name}"] = (part, p.name)
        return known

    def parameter_columns(self, names: list[str]) -> dict[str, Column]:
        """The parameter columns among ``names``; reports the unknown ones."""
        known = self.known()
        out: dict[str, Column] = {}
        for name in names:
            if not name or name.startswith("#") or name in CORE or name in out:
                continue
            if name in known:
                out[name] = known[name]
                continue
            close = difflib.get_close_matches(name, [*CORE, *known], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            bare = sorted(k for k in known if "." not in k)
            self.add(
                f"{self.file}: header, column {name!r}: {name!r} is not a known column; {hint}"
                f"accepted: {', '.join(CORE)}; a parameter of an installed plugin "
                f"({', '.join(bare)}), optionally qualified by its part as in "
                "'output_activation.beta'; or a comment column starting with '#'"
            )
        return out

    # plugins
    def plugin(self, part: str, name: Any) -> tuple[Plugin | None, str]:
        """The plugin a part's cell names, or None and what would be accepted."""
        if not isinstance(name, str):
            return self._find(part, name)
        if (part, name) not in self.found:
            self.found[part, name] = self._find(part, name)
        return self.found[part, name]

    def _find(self, part: str, name: Any) -> tuple[Plugin | None, str]:
        kind = PARTS[part][0]
        label, installed = KIND_LABELS[kind], ", ".join(self.registry.names(kind))
        obj = self.registry.by_kind[kind].get(name) if isinstance(name, str) else None
        if obj is None:
            for other, objs in self.registry.by_kind.items():
                if other != kind and isinstance(name, str) and name in objs:
                    where = " or ".join(repr(p) for p, (k, _) in PARTS.items() if k == other)
                    return None, (
                        f"{name!r} is {_article(KIND_LABELS[other])}, not {_article(label)} "
                        f"(it belongs in the {where} column); installed {label}s: {installed}"
                    )
            return None, self.registry.unknown_message(kind, str(name))
        if part == "activation" and getattr(obj, "output_only", False):
            hidden = sorted(n for n, a in self.registry.activations.items() if not a.output_only)
            return None, (
                f"activation {name!r} works only on the output layer; hidden activations: "
                f"{', '.join(hidden)}"
            )
        return obj, ""

    # one configuration
    def build(
        self,
        row: int,
        combo: dict[str, Any],
        columns: dict[str, Column],
        alternatives: dict[str, list[Plugin]],
    ) -> RunSpec | None:
        """The RunSpec of one combination of a row's values, or None after reporting problems.

        ``alternatives`` lists every plugin the row names for each part: a parameter column
        that belongs to one of them is skipped, not wrong, in combinations without it.
        """
        core = self.core(row, combo)
        plugins: dict[str, Plugin | None] = {}
        for part in PARTS:
            plugins[part], why = self.plugin(part, _as_text(combo.get(part, CORE[part].default)))
            if why:
                self.cell(row, part, combo.get(part, CORE[part].default), why)
        cost, output = plugins["cost"], plugins["output_activation"]
        reason = cost.accepts(output) if cost and output else None
        if reason:
            column = (
                "output_activation"
                if "cost" not in combo and "output_activation" in combo
                else "cost"
            )
            self.cell(row, column, combo.get(column, CORE[column].default), reason)
        given, sources = self.params(row, combo, columns, plugins, alternatives)
        if core is None or given is None or reason or None in plugins.values():
            return None

        resolved: dict[str, dict[str, Any]] = {}
        missing = False
        for part, obj in plugins.items():
            assert obj is not None
            resolved[part] = obj.resolve(given[part])  # values were coerced one by one
            for p in obj.params:
                if p.required and resolved[part][p.name] is None:
                    need = f"{KIND_LABELS[obj.kind]} {obj.name!r} requires {p.name}"
                    self.cell(row, p.name, "", f"{need} ({p.accepted()}: {p.help})")
                    missing = True
        if missing:
            return None

        names = {part: obj.name for part, obj in plugins.items()}
        spec = RunSpec(
            **names,
            hidden=core.pop("hidden"),
            scale=core.pop("scaling"),
            **core,
            **{PARTS[part][1]: freeze(values) for part, values in resolved.items()},
            row=row,
            source=self.file,
            versions=freeze(
                {f"{o.kind}:{o.name}": f"{o.distribution}=={o.version}" for o in plugins.values()}
            ),
        )
        key = (
            spec.dataset,
            spec.dataset_params,
            spec.data_seed,
            spec.test_size,
            spec.scale,
            bool(output.normalizes),
            spec.dtype,
        )
        use = self.data_uses.setdefault(key, _DataUse([], sources))
        if row not in use.rows:
            use.rows.append(row)
        return spec

    def core(self, row: int, combo: dict[str, Any]) -> dict[str, Any] | None:
        """The row's core settings (not the plugin names), or None when one is not valid."""
        out: dict[str, Any] = {}
        ok = True
        for name, param in CORE.items():
            if name in PARTS:
                continue
            value = combo.get(name, param.default)
            if value is None:
                out[name] = None
                continue
            try:
                if name == "hidden":
                    out[name] = _layers(value)
                    if out[name] is None:
                        raise ValueError(_LAYERS)
                else:
                    out[name] = param.coerce(_as_text(value) if param.type is str else value)
            except ValueError as exc:
                self.cell(row, name, value, str(exc))
                ok = False
        return out if ok else None

    def params(
        self,
        row: int,
        combo: dict[str, Any],
        columns: dict[str, Column],
        plugins: dict[str, Plugin | None],
        alternatives: dict[str, list[Plugin]],
    ) -> tuple[dict[str, dict[str, Any]] | None, dict[str, tuple[str, Any]]]:
        """Each part's given parameters, coerced (None if one is not valid), and the columns
        the data set's came from. A qualified column overrides the bare one for its part."""
        given: dict[str, dict[str, Any]] = {part: {} for part in PARTS}
        sources: dict[str, tuple[str, Any]] = {}
        ok = True
        chosen = {part: obj for part, obj in plugins.items() if obj is not None}
        in_row = sorted((c for c in combo if c in columns), key=lambda c: columns[c][0] is not None)
        for column in in_row:
            (part, name), value = columns[column], combo[column]
            targets = [part] if part else [p for p, obj in chosen.items() if _declares(obj, name)]
            elsewhere = any(  # another combination of the row uses the column
                _declares(obj, name) for p in ([part] if part else PARTS) for obj in alternatives[p]
            )
            if part and part in chosen and not _declares(chosen[part], name) and not elsewhere:
                accepted = f"parameter {name!r} does not belong to {_takes(part, chosen[part])}"
                self.cell(row, column, value, accepted)
                ok = False
            elif not targets and len(chosen) == len(PARTS) and not elsewhere:
                self.cell(row, column, value, self.not_theirs(name, chosen))
                ok = False
            for target in (t for t in targets if t in chosen and _declares(chosen[t], name)):
                param = chosen[target].param(name)
                try:
                    coerced = param.coerce(_as_text(value) if param.type in (str, Path) else value)
                except ValueError as exc:
                    self.cell(row, column, value, f"{exc} ({param.help})")
                    ok = False
                    continue
                if isinstance(coerced, Path):  # relative to the table's folder, not the cwd
                    coerced = Path(os.path.normpath(self.folder / coerced.expanduser()))
                given[target][name] = coerced
                if target == "dataset":
                    sources[name] = (column, value)
        return (given if ok else None), sources

    def not_theirs(self, name: str, chosen: dict[str, Plugin]) -> str:
        parts = [
            part
            for part, (kind, _) in PARTS.items()
            if any(_declares(o, name) for o in self.registry.by_kind[kind].values())
        ]
        owners = [
            f"{KIND_LABELS[o.kind]} {o.name!r}" for o in self.registry.all() if _declares(o, name)
        ]
        return (
            f"parameter {name!r} does not belong to the chosen plugins of this row "
            f"({'; '.join(_takes(part, chosen[part]) for part in parts)}); it is a parameter of "
            f"{', '.join(owners)}"
        )

    # data sets
    def check_data(self) -> None:
        """Prepare every distinct data-set configuration once; report those that fail."""
        from runner.data import prepare

        for key, use in self.data_uses.items():
            dataset, params, data_seed, test_size, scale, one_hot, dtype = key
            try:
                prepare(
                    self.registry.by_kind["dataset"][dataset],
                    dict(params),
                    data_seed=data_seed,
                    test_size=test_size,
                    scale=scale,
                    one_hot=one_hot,
                    dtype=np.dtype(dtype),
                )
            except Exception as exc:  # a data-set plugin's own error, whatever its type
                message = _first_line(exc)
                column, value = _blame(use, dict(params), message, dataset, test_size)
                also = f" (also rows {', '.join(map(str, use.rows[1:]))})" if use.rows[1:] else ""
                why = f"data set {dataset!r} cannot be prepared: {message}{also}"
                self.cell(use.rows[0], column, value, why)


def _blame(
    use: _DataUse, params: dict[str, Any], message: str, dataset: str, test_size: float
) -> tuple[str, Any]:
    """The column most likely at fault for a data-set error: a value the message quotes, else a
    file path, else test_size when the message is about the split, else the data set's name."""
    paths = []
    for name, (column, written) in use.columns.items():
        value = params.get(name)
        if isinstance(value, str) and os.path.isabs(value):
            paths.append((column, written))
        elif repr(value) in message or repr(str(value)) in message:
            return column, written
    if paths:
        return paths[0]
    if test_size > 0 and "test" in message:
        return "test_size", test_size
    return "dataset", dataset


# --- the public entry points --------------------------------------------------------------------


def load_specs(path: Path | str, registry: Registry | None = None) -> list[RunSpec]:
    """Read and validate the sweep table at ``path``: one RunSpec per configuration.

    Specifications come in table order, each row expanded with its leftmost column varying
    slowest; one equal to an earlier one (the same hash) is dropped. Raises :class:`TableError`
    listing every problem of the table, one line each; nothing else escapes for a bad table.
    """
    path = Path(path)
    registry = registry if registry is not None else get_registry()
    frame = read_table(path)
    builder = _Builder(registry, str(path), path.resolve().parent)
    names = list(frame.columns)
    _check_header(builder, frame)
    columns = builder.parameter_columns(names)
    usable = {name: names.index(name) for name in names if name in CORE or name in columns}

    specs: list[RunSpec] = []
    seen: set[RunSpec] = set()
    data_rows = 0
    content = [i for i, name in enumerate(names) if not name.startswith("#")]
    for row, values in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        if all(_is_blank(values[i]) for i in content):
            continue  # blank, or only comments
        data_rows += 1
        for spec in _expand(builder, int(row), values, usable, columns):
            if spec not in seen:  # equal content (row, source aside) means an equal hash
                seen.add(spec)
                specs.append(spec)
    if data_rows == 0:
        builder.add(f"{path}: the table has no data rows; add one row per configuration")
    builder.check_data()
    problems = builder.lines()
    if problems:
        summary = problems[0] if len(problems) == 1 else f"{path}: {len(problems)} problems"
        raise TableError(summary, problems=problems)
    return specs


def _check_header(builder: _Builder, frame: pd.DataFrame) -> None:
    names = list(frame.columns)
    for i, name in enumerate(names):
        filled = [(r, v) for r, v in frame.iloc[:, i].items() if not _is_blank(v)]
        if not name and filled:
            builder.add(
                f"{builder.file}: header, column {i + 1}: the column has no name but holds values "
                f"(row {filled[0][0]}: {_show(filled[0][1])}); name it, or start its name with '#'"
            )
    for name in dict.fromkeys(names):
        where = [i + 1 for i, n in enumerate(names) if n == name]
        if name and len(where) > 1:
            builder.add(
                f"{builder.file}: header, column {name!r}: {name!r} appears {len(where)} times "
                f"(columns {', '.join(map(str, where))}); give each column once and list several "
                "values in one cell as a|b"
            )


def _expand(
    builder: _Builder,
    row: int,
    values: tuple[Any, ...],
    usable: dict[str, int],
    columns: dict[str, Column],
) -> list[RunSpec]:
    """Every combination of the row's cells (leftmost column slowest) as a RunSpec."""
    choices: list[tuple[str, list[Any]]] = []
    broken = False
    for name, i in usable.items():
        alternatives, bad = _alternatives(values[i])
        for value, accepted in bad:
            builder.cell(row, name, value, accepted)
            broken = True
        if alternatives:
            choices.append((name, alternatives))
    named = dict(choices)
    alternatives = {
        part: [
            obj
            for n in named.get(part, [CORE[part].default])
            if (obj := builder.plugin(part, _as_text(n))[0])
        ]
        for part in PARTS
    }
    total = math.prod(len(a) for _, a in choices)
    if total > MAX_RUNS_PER_ROW:
        builder.add(
            f"{builder.file}: row {row}: the row expands to {total} runs; at most "
            f"{MAX_RUNS_PER_ROW} per row (split it over several rows)",
            row,
        )
        return []
    specs = []
    keys = [name for name, _ in choices]
    for combo in itertools.product(*(a for _, a in choices)):
        spec = builder.build(row, dict(zip(keys, combo, strict=True)), columns, alternatives)
        if spec is not None and not broken:
            specs.append(spec)
    return specs


def describe_columns(registry: Registry | None = None) -> list[tuple[str, str, str]]:
    """``(column, default, what it accepts and means)`` for every column a table may have."""
    registry = registry if registry is not None else get_registry()
    rows: list[tuple[str, str, str]] = []
    for name, param in CORE.items():
        if name in PARTS:
            kind = PARTS[name][0]
            names = [
                n
                for n in registry.names(kind)
                if name != "activation" or not registry.activations[n].output_only
            ]
            accepted = f"the name of {_article(KIND_LABELS[kind])}: {', '.join(names)}"
        else:
            accepted = param.accepted()
        default = "(blank)" if param.default is None else str(param.default)
        rows.append((name, default, _LAYERS if name == "hidden" else f"{param.help}; {accepted}"))
    helps: dict[str, dict[tuple[str, str, str], list[str]]] = {}
    defaults: dict[str, set[str]] = {}
    for part, (kind, _) in PARTS.items():
        if part == "output_activation":
            continue  # the same plugins as the hidden layers'
        for obj in sorted(registry.by_kind[kind].values(), key=lambda o: o.name):
            for p in obj.params:
                key = (KIND_LABELS[kind], p.help, p.accepted())
                helps.setdefault(p.name, {}).setdefault(key, []).append(repr(obj.name))
                defaults.setdefault(p.name, set()).add(
                    "(blank)" if p.default is None else str(p.default)
                )
    for name in sorted(set(helps) - set(CORE)):
        text = "; ".join(
            f"{label} {', '.join(owners)}: {meaning} ({accepted})"
            for (label, meaning, accepted), owners in helps[name].items()
        )
        rows.append((name, ", ".join(sorted(defaults[name])), text))
    rows.append(("#...", "", "a comment column, ignored"))
    return rows
