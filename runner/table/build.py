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

Its parts: :mod:`~runner.table.readers` reads a file by its extension, :mod:`~runner.table.cells`
turns a cell into its values, :mod:`~runner.table.columns` defines the columns,
:mod:`~runner.table.names` names the runs; this module checks every row against the installed
plugins and builds the specifications. :func:`specs_from_rows` does the same for rows a program
holds (dicts of cells), with the same checks and messages. Imports :mod:`runner.engine`,
:mod:`runner.plugin`, :mod:`runner.spec` and :mod:`runner.errors`.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runner.engine.data import DataKey, Prepared
from runner.engine.settings import LAYERS_ACCEPTED, PARTS, hidden_layers
from runner.errors import TableError, did_you_mean, first_line
from runner.plugin.kinds import task_misfit
from runner.plugin.params import Plugin, kind_label
from runner.plugin.registry import Registry, get_registry
from runner.spec import RunSpec, freeze
from runner.table.cells import MAX_RUNS_PER_ROW, as_text, cell_values, is_blank, show_value
from runner.table.columns import CORE, article
from runner.table.names import run_name
from runner.table.readers import read_table


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return f"sha256:{sha.hexdigest()}"


def file_digest(path: Path) -> str:
    """``sha256:<hex>`` of a file's content (read once per size and modification time)."""
    stat = path.stat()
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)


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
class _FitUse:
    """Where one pairing of a cost and an output activation meets one data-set configuration:
    its first row with the cells as written, and every row (in order, once each)."""

    row: int
    written: dict[str, Any]  # "cost" / "output_activation" -> the cell as written
    rows: dict[int, None] = field(default_factory=dict)


@dataclass
class _Builder:
    """Turns the rows of one table into RunSpecs, collecting every problem on the way."""

    registry: Registry
    file: str
    folder: Path
    problems: dict[str, int] = field(default_factory=dict)  # line -> row (0: the header)
    data_uses: dict[DataKey, _DataUse] = field(default_factory=dict)
    found: dict[tuple[str, Any], tuple[Plugin | None, str]] = field(default_factory=dict)
    fits: dict[DataKey, dict[tuple[str, str], _FitUse]] = field(default_factory=dict)

    def add(self, line: str, row: int = 0) -> None:
        self.problems.setdefault(line, row)

    def cell(self, row: int, column: str, value: Any, accepted: str) -> None:
        line = (
            f"{self.file}: row {row}, column {column!r}: {show_value(value)} is not valid: "
            f"{accepted}"
        )
        self.add(line, row)

    def lines(self) -> list[str]:
        """Every problem once: the header's first, then by row, each row's in the order found."""
        return sorted(self.problems, key=self.problems.__getitem__)

    # columns
    def known(self) -> dict[str, Column]:
        """Every parameter column the installed plugins accept, bare and qualified."""
        known: dict[str, Column] = {}
        for part, kind in PARTS.items():
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
            hint = did_you_mean(name, [*CORE, *known])
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
        kind = PARTS[part]
        label, installed = kind_label(kind), ", ".join(self.registry.names(kind))
        obj = self.registry.by_kind[kind].get(name) if isinstance(name, str) else None
        if obj is None:
            for other, objs in self.registry.by_kind.items():
                if other != kind and isinstance(name, str) and name in objs:
                    where = " or ".join(repr(p) for p, k in PARTS.items() if k == other)
                    return None, (
                        f"{name!r} is {article(kind_label(other))}, not {article(label)} "
                        f"(it belongs in the {where} column); installed {label}s: {installed}"
                    )
            return None, self.registry.unknown_message(kind, str(name))
        if part == "activation" and obj.output_only:  # type: ignore[attr-defined]
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
            plugins[part], why = self.plugin(part, as_text(combo.get(part, CORE[part].default)))
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
                    need = f"{obj.label()} requires {p.name}"
                    self.cell(row, p.name, "", f"{need} ({p.accepted()}: {p.help})")
                    missing = True
        if missing:
            return None

        chosen: dict[str, Plugin] = plugins  # type: ignore[assignment]
        files = {
            f"{part}.{name}": file_digest(value)
            for part, values in resolved.items()
            for name, value in values.items()
            if isinstance(value, Path) and value.is_file()
        }
        spec = RunSpec(
            **{part: obj.name for part, obj in chosen.items()},
            **core,
            **{f"{part}_params": freeze(values) for part, values in resolved.items()},
            row=row,
            source=self.file,
            name=run_name(chosen, resolved, core["seed"]),
            versions=freeze(
                {f"{o.kind}:{o.name}": f"{o.distribution}=={o.version}" for o in chosen.values()}
            ),
            files=freeze(files),
        )
        self.note_fit(spec, row, combo, chosen)
        key = DataKey.of(spec, output.normalizes)  # type: ignore[union-attr]
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
                    out[name] = hidden_layers(value)
                    if out[name] is None:
                        raise ValueError(LAYERS_ACCEPTED)
                else:
                    out[name] = param.coerce(as_text(value) if param.type is str else value)
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
                    coerced = param.coerce(as_text(value) if param.type in (str, Path) else value)
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
            for part, kind in PARTS.items()
            if any(_declares(o, name) for o in self.registry.by_kind[kind].values())
        ]
        owners = [o.label() for o in self.registry.all() if _declares(o, name)]
        return (
            f"parameter {name!r} does not belong to the chosen plugins of this row "
            f"({'; '.join(_takes(part, chosen[part]) for part in parts)}); it is a parameter of "
            f"{', '.join(owners)}"
        )

    # data sets
    def check_data(self) -> None:
        """Prepare every distinct data-set configuration once; report those that fail."""
        for key, use in self.data_uses.items():
            dataset, test_size = key.dataset, key.test_size
            try:
                prepared = key.prepare(self.registry.by_kind["dataset"][dataset])  # type: ignore[arg-type]
            except Exception as exc:  # a data-set plugin's own error, whatever its type
                message = first_line(exc)
                column, value = _blame(use, dict(key.params), message, dataset, test_size)
                also = f" (also rows {', '.join(map(str, use.rows[1:]))})" if use.rows[1:] else ""
                why = f"data set {dataset!r} cannot be prepared: {message}{also}"
                self.cell(use.rows[0], column, value, why)
            else:
                self.check_fit(key, prepared)

    # the task decides which costs and output activations fit
    def note_fit(
        self, spec: RunSpec, row: int, combo: dict[str, Any], chosen: dict[str, Plugin]
    ) -> None:
        """Remember that ``row`` pairs its cost and output activation with its data set."""
        key = DataKey.of(spec, chosen["output_activation"].normalizes)
        pairs = self.fits.setdefault(key, {})
        pair = (spec.cost, spec.output_activation)
        if pair not in pairs:
            written = {
                part: combo.get(part, CORE[part].default) for part in ("cost", "output_activation")
            }
            pairs[pair] = _FitUse(row, written)
        pairs[pair].rows[row] = None

    def check_fit(self, key: DataKey, prepared: Prepared) -> None:
        """Report every row whose cost or output activation does not fit the task and targets of
        the data set ``key`` prepares to (:func:`~runner.plugin.kinds.task_misfit`), naming what
        would fit."""
        task = prepared.task
        targets = [prepared.Y] + ([prepared.Y_test] if prepared.n_test else [])
        span = (min(float(y.min()) for y in targets), max(float(y.max()) for y in targets))
        costs, outputs = self.registry.by_kind["cost"], self.registry.by_kind["activation"]
        for (cost, output), use in self.fits.get(key, {}).items():
            misfits = {
                part: why
                for part, obj in (("cost", costs[cost]), ("output_activation", outputs[output]))
                if (why := task_misfit(obj, task, span))  # type: ignore[arg-type]
            }
            if not misfits:
                continue
            fitting = {
                label: ", ".join(
                    sorted(n for n, o in objs.items() if not task_misfit(o, task, span))  # type: ignore[arg-type]
                )
                or "none installed"
                for label, objs in (("costs", costs), ("output activations", outputs))
            }
            column = next(iter(misfits))
            others = list(use.rows)[1:]
            also = (
                f" (also rows {', '.join(map(str, others[:5]))}"
                f"{f' and {len(others) - 5} more' if len(others) > 5 else ''})"
                if others
                else ""
            )
            name = (
                key.dataset
                if prepared.name in ("", key.dataset)
                else f"{key.dataset}: {prepared.name}"
            )
            why = (
                f"data set {name!r} is a {task} task; "
                f"{'; '.join(misfits.values())}{also}; what fits it: "
                f"costs {fitting['costs']}; output activations {fitting['output activations']}"
            )
            self.cell(use.row, column, use.written[column], why)


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
    frame = read_table(path)
    return _specs(frame, str(path), path.resolve().parent, registry)


def specs_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    source: str = "<rows>",
    folder: Path | str | None = None,
    registry: Registry | None = None,
) -> list[RunSpec]:
    """Validate rows a program holds, one dict of cells per configuration, as a table's rows.

    Cells mean what they mean in a table file (``"0..9"``, ``"0.1|0.5"``, a list of
    alternatives; a missing key is a blank cell). ``source`` names the rows in messages;
    relative file paths are resolved against ``folder`` (default: the working directory).
    Raises :class:`TableError` as :func:`load_specs` does.
    """
    records = [dict(row) for row in rows]
    names = list(dict.fromkeys(str(key) for record in records for key in record))
    frame = pd.DataFrame(
        [[record.get(name) for name in names] for record in records], columns=names, dtype=object
    )
    frame.index = range(1, len(frame) + 1)
    return _specs(frame, source, Path(folder or ".").resolve(), registry)


def _specs(
    frame: pd.DataFrame, file: str, folder: Path, registry: Registry | None
) -> list[RunSpec]:
    registry = registry if registry is not None else get_registry()
    builder = _Builder(registry, file, folder)
    names = list(frame.columns)
    _check_header(builder, frame)
    columns = builder.parameter_columns(names)
    usable = {name: names.index(name) for name in names if name in CORE or name in columns}

    specs: list[RunSpec] = []
    seen: set[RunSpec] = set()
    data_rows = 0
    content = [i for i, name in enumerate(names) if not name.startswith("#")]
    for row, values in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        if all(is_blank(values[i]) for i in content):
            continue  # blank, or only comments
        data_rows += 1
        for spec in _expand(builder, int(row), values, usable, columns):
            if spec not in seen:  # equal content (row, source aside) means an equal hash
                seen.add(spec)
                specs.append(spec)
    if data_rows == 0:
        builder.add(f"{file}: the table has no data rows; add one row per configuration")
    builder.check_data()
    problems = builder.lines()
    if problems:
        summary = problems[0] if len(problems) == 1 else f"{file}: {len(problems)} problems"
        raise TableError(summary, problems=problems)
    return specs


def _check_header(builder: _Builder, frame: pd.DataFrame) -> None:
    names = list(frame.columns)
    for i, name in enumerate(names):
        filled = [(r, v) for r, v in frame.iloc[:, i].items() if not is_blank(v)]
        if not name and filled:
            builder.add(
                f"{builder.file}: header, column {i + 1}: the column has no name but holds values "
                f"(row {filled[0][0]}: {show_value(filled[0][1])}); name it, or start its name "
                "with '#'"
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
        alternatives, bad = cell_values(values[i])
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
            if (obj := builder.plugin(part, as_text(n))[0])
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
