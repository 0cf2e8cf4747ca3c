"""Sweep tables: read a table file with pandas and turn its rows into validated run specifications.

One row is one configuration. The core columns (:data:`CORE`) name the plugins of the row and the
training settings; every other column is a parameter of one of the row's chosen plugins, bare
(``learning_rate``: every chosen plugin that declares it) or qualified by the part it belongs to
(``output_activation.beta``: that part only). Columns whose name starts with ``#`` are comments;
their text becomes the description of the row's runs.

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from runner.engine.data import DataKey, Prepared
from runner.engine.settings import (
    BOUNDS,
    LAYERS_ACCEPTED,
    NETWORK_PARTS,
    NETWORK_SETTINGS,
    OBJECTIVE_SETTINGS,
    PARTS,
    hidden_layers,
    limits,
    row_parts,
)
from runner.errors import TableError, did_you_mean, first_line
from runner.plugin.kinds import Success, task_misfit
from runner.plugin.params import Param, Plugin, kind_label
from runner.plugin.registry import Registry, get_registry
from runner.spec import NOT_HASHED, RunSpec, freeze
from runner.table.cells import (
    MAX_RUNS_PER_ROW,
    as_text,
    cell_values,
    is_blank,
    is_long,
    show_value,
)
from runner.table.columns import CORE, article
from runner.table.names import name_runs
from runner.table.readers import not_a_file, read_table


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

    rows: list[int]  # in table order, each once
    columns: dict[str, tuple[str, Any]]  # parameter -> (column, value as written)


#: How many further rows a problem shared by many rows lists before it counts the rest.
_ROWS_SHOWN = 5


def _value_key(tag: Any, value: Any) -> tuple[Any, ...] | None:
    """A dict key for one cell value of one parameter, or None when the value is unhashable.

    Its type is part of it (1, 1.0 and True are equal but do not coerce alike), and a float is
    keyed by its exact bits (-0.0 is not 0.0; every NaN is the same).
    """
    key = (tag, type(value), value.hex() if isinstance(value, float) else value)
    try:
        hash(key)
    except TypeError:
        return None
    return key


@dataclass(frozen=True)
class _Parts:
    """What a combination's plugin and parameter cells resolve to (see :meth:`_Builder.parts`):
    shared by every combination that has the same ones. Read it only."""

    names: dict[str, str]  # part -> plugin name
    chosen: dict[str, Plugin]
    resolved: dict[str, dict[str, Any]]  # part -> parameter -> value
    frozen: dict[str, Any]  # "<part>_params" -> frozen parameters
    files: Any  # frozen "<part>.<name>" -> digest
    versions: Any
    sources: dict[str, tuple[str, Any]]
    normalizes: bool


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
    # what was worked out once for a table and is the same for every combination that repeats
    # it: a value coerced, a part's parameters resolved, the versions of a choice of plugins
    coerced_values: dict[tuple[Any, ...], tuple[Any, str]] = field(default_factory=dict)
    resolved_parts: dict[tuple[Any, ...], tuple[dict[str, Any], Any, dict[str, str]]] = field(
        default_factory=dict
    )
    found_parts: dict[tuple[Any, ...], _Parts] = field(default_factory=dict)
    settings: frozenset[str] = frozenset(name for name in CORE if name not in PARTS)
    #: the core settings the header names bare (a plugin parameter of the same name, such as
    #: leaky_relu's alpha, is then reached only qualified: activation.alpha)
    core_in_header: frozenset[str] = frozenset()
    built: dict[tuple[Any, ...], tuple[RunSpec, DataKey | None, dict[str, tuple[str, Any]]]] = (
        field(default_factory=dict)
    )
    core_settings: list[tuple[str, Param, Any, Any]] = field(default_factory=list)
    core_defaults: dict[str, Any] = field(default_factory=dict)
    row_alternatives: tuple[Any, tuple[tuple[int, ...], ...]] = (None, ())
    row_plugins: dict[tuple[Any, ...], dict[str, list[Plugin]]] = field(default_factory=dict)
    #: the bounds in force (runner.engine.settings.BOUNDS, as lifted by the sweep's flags)
    bounds: dict[str, int] = field(default_factory=limits)
    #: each prepared data-set configuration's (training samples, inputs, outputs)
    shapes: dict[DataKey, tuple[int, int, int]] = field(default_factory=dict)
    fits: dict[DataKey, dict[tuple[str, str], _FitUse]] = field(default_factory=dict)

    def add(self, line: str, row: int = 0) -> None:
        self.problems.setdefault(line, row)

    def cell(self, row: int, column: str, value: Any, accepted: str) -> None:
        if is_long(value):  # quoted once, shortened: not again in full by what is accepted
            for echo in (repr(value), repr(str(value)), str(value)):  # quoted ones first
                accepted = accepted.replace(echo, "the value")
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
        self.core_in_header = frozenset(n for n in names if n in self.settings)
        out: dict[str, Column] = {}
        for name in names:
            if not name or name.startswith("#") or name in CORE or name in out:
                continue
            if name in known:
                out[name] = known[name]
                continue
            hint = did_you_mean(name, [*CORE, *known])
            bare = sorted(k for k in known if "." not in k)
            shown = show_value(name)
            self.add(
                f"{self.file}: header, column {shown}: "
                f"{'the name' if is_long(name) else shown} is not a known column; {hint}"
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
        that belongs to one of them is skipped, not wrong, in combinations without it. A
        combination built before (by an earlier row) gives the same RunSpec again, and counts
        this row among its data set's uses; one with problems is checked again, to report them
        in this row too.
        """
        key = _value_key(
            self.alternatives_key(alternatives),
            tuple(
                (name, type(v), v.hex() if isinstance(v, float) else v) for name, v in combo.items()
            ),
        )
        done = self.built.get(key) if key is not None else None
        if done is None:
            done = self.build_new(row, combo, columns, alternatives)
            if done is None:
                return None
            if key is not None:
                self.built[key] = done
        spec, data, sources = done
        if data is None:  # an objective: no data set to prepare or fit
            return spec
        self.note_fit(data, spec, row, combo)
        use = self.data_uses.get(data)
        if use is None:
            use = self.data_uses[data] = _DataUse([], sources)
        if not use.rows or use.rows[-1] != row:  # rows come in order: each is added once
            use.rows.append(row)
        return spec

    def build_new(
        self,
        row: int,
        combo: dict[str, Any],
        columns: dict[str, Column],
        alternatives: dict[str, list[Plugin]],
    ) -> tuple[RunSpec, DataKey | None, dict[str, tuple[str, Any]]] | None:
        """:meth:`build` for a combination not built before: the RunSpec, its data-set key
        (None for an objective row) and the columns the data set's parameters came from."""
        core = self.core(row, combo)
        parts = self.parts(row, combo, columns, alternatives)
        if core is None or parts is None:
            return None
        # an objective row keeps the network's parts at their defaults (they do not apply)
        defaults = {part: CORE[part].default for part in NETWORK_PARTS}
        spec = RunSpec(
            **(defaults | parts.names),
            **core,
            **parts.frozen,
            row=row,
            source=self.file,
            versions=parts.versions,
            files=parts.files,
        )
        if spec.objective:
            return spec, None, parts.sources
        return spec, DataKey.of(spec, parts.normalizes), parts.sources

    def alternatives_key(self, alternatives: dict[str, list[Plugin]]) -> tuple[Any, ...]:
        """The plugins a row names for each part, as a key (worked out once per row)."""
        if self.row_alternatives[0] is not alternatives:
            ids = tuple(tuple(id(obj) for obj in alternatives[part]) for part in PARTS)
            self.row_alternatives = (alternatives, ids)
        return self.row_alternatives[1]

    def parts(
        self,
        row: int,
        combo: dict[str, Any],
        columns: dict[str, Column],
        alternatives: dict[str, list[Plugin]],
    ) -> _Parts | None:
        """The plugins of one combination and their resolved parameters, or None after
        reporting problems. They depend on the plugin and parameter columns only: a row that
        varies a core setting (``seed: 0..9999``) works them out once."""
        key = _value_key(
            self.alternatives_key(alternatives),
            tuple(
                (name, type(v), v.hex() if isinstance(v, float) else v)
                for name, v in combo.items()
                if name not in self.settings
            ),
        )
        done = self.found_parts.get(key) if key is not None else None
        if done is None:
            done = self.new_parts(row, combo, columns, alternatives)
            if done is not None and key is not None:
                self.found_parts[key] = done
        return done

    def new_parts(
        self,
        row: int,
        combo: dict[str, Any],
        columns: dict[str, Column],
        alternatives: dict[str, list[Plugin]],
    ) -> _Parts | None:
        """:meth:`parts` for a choice of plugins and parameters not seen before."""
        plugins: dict[str, Plugin | None] = {}
        applicable = row_parts(combo.get("objective"))
        foreign = False
        for part in PARTS:
            if part in applicable:
                value = combo.get(part, CORE[part].default)
                plugins[part], why = self.plugin(part, as_text(value))
                if why:
                    self.cell(row, part, value, why)
            elif part in combo:  # a network's part on an objective row
                self.cell(row, part, combo[part], self.not_applicable(part))
                foreign = True
        cost, output = plugins.get("cost"), plugins.get("output_activation")
        reason = cost.accepts(output) if cost and output else None
        if reason:
            column = (
                "output_activation"
                if "cost" not in combo and "output_activation" in combo
                else "cost"
            )
            self.cell(row, column, combo.get(column, CORE[column].default), reason)
        shadowed = self.shadowed(row, combo, columns, plugins)
        given, sources = self.params(row, combo, columns, plugins, alternatives)
        if given is None or reason or shadowed or foreign or None in plugins.values():
            return None

        resolved: dict[str, dict[str, Any]] = {}
        frozen: dict[str, Any] = {}
        files: dict[str, str] = {}
        missing = False
        for part, obj in plugins.items():
            assert obj is not None
            resolved[part], frozen[f"{part}_params"], part_files = self.resolve(
                part, obj, given[part]
            )
            files.update(part_files)
            for p in obj.params:
                if p.required and resolved[part][p.name] is None:
                    need = f"{obj.label()} requires {p.name}"
                    self.cell(row, p.name, "", f"{need} ({p.accepted()}: {p.help})")
                    missing = True
        if missing:
            return None
        if not self.within_restarts(row, combo, columns, plugins["strategy"], resolved):
            return None

        chosen: dict[str, Plugin] = plugins  # type: ignore[assignment]
        return _Parts(
            names={part: obj.name for part, obj in chosen.items()},
            chosen=chosen,
            resolved=resolved,
            frozen=frozen,
            files=freeze(files),
            versions=freeze(
                {f"{o.kind}:{o.name}": f"{o.distribution}=={o.version}" for o in chosen.values()}
            ),
            sources=sources,
            normalizes=bool(output.normalizes) if output is not None else False,  # type: ignore[attr-defined]
        )

    def shadowed(
        self,
        row: int,
        combo: dict[str, Any],
        columns: dict[str, Column],
        plugins: dict[str, Plugin | None],
    ) -> bool:
        """Report a bare core column (``alpha``) that a chosen plugin's parameter of the same
        name could be meant by, unless the table also has the qualified column: the table says
        which it means, never a silent guess. True when there was one."""
        found = False
        for part, obj in plugins.items():
            for p in obj.params if obj is not None else ():
                qualified = f"{part}.{p.name}"
                if p.name in self.core_in_header and qualified not in columns:
                    self.cell(
                        row,
                        p.name,
                        combo.get(p.name, ""),
                        f"the column {p.name!r} is the core setting ({CORE[p.name].help}), but "
                        f"{obj.label()} takes a parameter {p.name!r} too: name that one "
                        f"{qualified!r} (a column of its own, blank for its default)",
                    )
                    found = True
        return found

    def resolve(
        self, part: str, obj: Plugin, given: dict[str, Any]
    ) -> tuple[dict[str, Any], Any, dict[str, str]]:
        """``obj.resolve(given)``, frozen, and the digests of the files among its values; once
        per distinct (part, plugin, values). The dict returned is shared: read it only."""
        # the values are coerced to their parameters' types: only a float's sign of zero is
        # not told apart by equality; the order of the items is the row's, the same every time
        key = (
            part,
            id(obj),
            tuple((k, v.hex() if isinstance(v, float) else v) for k, v in given.items()),
        )
        try:
            return self.resolved_parts[key]
        except KeyError:
            pass
        except TypeError:  # a value of a custom type that is not hashable: not kept
            key = None
        values = obj.resolve(given)  # values were coerced one by one
        files = {
            f"{part}.{name}": file_digest(value)
            for name, value in values.items()
            if isinstance(value, Path) and value.is_file()
        }
        done = (values, freeze(values), files)
        if key is not None:
            self.resolved_parts[key] = done
        return done

    def coerce(self, tag: Any, value: Any, convert: Any) -> tuple[Any, str]:
        """``convert(value)`` and '', or None and its ValueError's message; once per distinct
        (``tag``, value), ``tag`` naming the conversion."""
        key: tuple[Any, ...] | None = (
            tag,
            type(value),
            value.hex() if isinstance(value, float) else value,
        )
        try:
            done = self.coerced_values.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable value (a list in a list of a JSON table)
            done = key = None
        if done is None:
            try:
                done = (convert(value), "")
            except ValueError as exc:
                done = (None, str(exc))
            if key is not None:
                self.coerced_values[key] = done
        return done

    def core(self, row: int, combo: dict[str, Any]) -> dict[str, Any] | None:
        """The row's core settings (not the plugin names), or None when one is not valid."""
        if not self.core_settings:
            self.core_settings = [
                (name, param, "hidden", _layers)
                if name == "hidden"
                else (name, param, "success", _success)
                if name == "success"
                else (name, param, id(param), functools.partial(_coerce, param, param.type is str))
                for name, param in CORE.items()
                if name not in PARTS
            ]
            self.core_defaults = {  # the defaults are valid: coerced once, not per combination
                name: None if param.default is None else convert(param.default)
                for name, param, _, convert in self.core_settings
            }
        out = dict(self.core_defaults)
        ok = True
        objective = "objective" in combo
        for name, _, tag, convert in self.core_settings:
            if name not in combo:
                continue
            value = combo[name]
            if objective and name in NETWORK_SETTINGS:
                self.cell(row, name, value, self.not_applicable(name))
                ok = False
                continue
            if objective and name in OBJECTIVE_SETTINGS:
                param = OBJECTIVE_SETTINGS[name]
                tag, convert = id(param), functools.partial(_coerce, param, param.type is str)
            if value is None:
                out[name] = None
                continue
            out[name], why = self.coerce(tag, value, convert)
            if why:
                self.cell(row, name, value, why)
                ok = False
        over = {
            "epochs": ok and out["epochs"] > self.bounds["epochs"],
            "hidden": ok and max(out["hidden"], default=0) > self.bounds["units"],
        }
        for name, bound in (("epochs", "epochs"), ("hidden", "units")):
            if over[name]:
                self.cell(
                    row,
                    name,
                    combo.get(name, CORE[name].default),
                    BOUNDS[bound].accepted(self.bounds[bound]),
                )
                ok = False
        return out if ok else None

    def within_restarts(
        self,
        row: int,
        combo: dict[str, Any],
        columns: dict[str, Column],
        strategy: Plugin | None,
        resolved: dict[str, dict[str, Any]],
    ) -> bool:
        """Whether the networks the strategy trains per configuration are within the bound;
        reports the column that set them (the strategy's parameter, else ``strategy``)."""
        try:
            members = int(strategy.members(**resolved["strategy"]))  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - a plugin's own error: training will report it
            return True
        limit = self.bounds["restarts"]
        if members <= limit:
            return True
        given = [
            c
            for c in combo
            if c in columns
            and columns[c][0] in (None, "strategy")
            and _declares(strategy, columns[c][1])  # type: ignore[arg-type]
        ]
        column = given[0] if given else "strategy"
        value = combo.get(column, CORE["strategy"].default)
        self.cell(row, column, value, BOUNDS["restarts"].accepted(limit))
        return False

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
        applicable = row_parts(combo.get("objective"))
        in_row = sorted((c for c in combo if c in columns), key=lambda c: columns[c][0] is not None)
        for column in in_row:
            (part, name), value = columns[column], combo[column]
            if part and part not in applicable:  # objective.n on a network row, or the reverse
                self.cell(row, column, value, self.not_applicable(part))
                ok = False
                continue
            targets = [part] if part else [p for p, obj in chosen.items() if _declares(obj, name)]
            elsewhere = any(  # another combination of the row uses the column
                _declares(obj, name) for p in ([part] if part else PARTS) for obj in alternatives[p]
            )
            if part and part in chosen and not _declares(chosen[part], name) and not elsewhere:
                accepted = f"parameter {name!r} does not belong to {_takes(part, chosen[part])}"
                self.cell(row, column, value, accepted)
                ok = False
            elif not targets and len(chosen) == len(applicable) and not elsewhere:
                self.cell(row, column, value, self.not_theirs(name, chosen))
                ok = False
            for target in (t for t in targets if t in chosen and _declares(chosen[t], name)):
                param = chosen[target].param(name)
                convert = functools.partial(_coerce, param, param.type in (str, Path))
                coerced, why = self.coerce(id(param), value, convert)
                if why:
                    self.cell(row, column, value, f"{why} ({param.help})")
                    ok = False
                    continue
                if isinstance(coerced, Path):  # relative to the table's folder, not the cwd
                    coerced = Path(os.path.normpath(self.folder / coerced.expanduser()))
                    kind = not_a_file(coerced)
                    if kind and kind != "no such file":  # that one is the plugin's to say
                        why = f"{coerced} {kind}; accepted: {param.accepted()} ({param.help})"
                        self.cell(row, column, value, why)
                        ok = False
                        continue
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
        if parts and not any(part in chosen for part in parts):  # parts the row does not have
            return f"{self.not_applicable(parts[0])}; it is a parameter of {', '.join(owners)}"
        return (
            f"parameter {name!r} does not belong to the chosen plugins of this row "
            f"({'; '.join(_takes(part, chosen[part]) for part in parts if part in chosen)}); "
            f"it is a parameter of {', '.join(owners)}"
        )

    def not_applicable(self, column: str) -> str:
        """What a row is told of a column that is not for its kind of row: a network's setting
        or part (or its plugins' parameters) on a row that names an objective, or an
        objective's on a network row."""
        if column == "objective":
            return (
                "it applies only to a row that names an objective (a network row leaves the "
                "objective column blank)"
            )
        takes = [n for n in CORE if n not in NETWORK_SETTINGS and n not in NETWORK_PARTS]
        return (
            "it does not apply to an objective row; what applies: "
            f"{', '.join(takes)} and the parameters of its objective, optimizer, strategy and "
            "schedule (epochs counts the iterations; leave the network's columns blank)"
        )

    # data sets
    def check_data(self) -> None:
        """Prepare every distinct data-set configuration once; report those that fail."""
        for key, use in self.data_uses.items():
            dataset, test_size = key.dataset, key.test_size
            also = _also(use.rows[1:])
            try:
                prepared = key.prepare(self.registry.by_kind["dataset"][dataset])  # type: ignore[arg-type]
            except Exception as exc:  # a data-set plugin's own error, whatever its type
                message = first_line(exc)
                column, value = _blame(use, dict(key.params), message, dataset, test_size)
                why = f"data set {dataset!r} cannot be prepared: {message}{also}"
                self.cell(use.rows[0], column, value, why)
                continue
            samples = int(prepared.X.shape[-1]) + prepared.n_test
            if samples > self.bounds["samples"]:
                column, value = _blame(use, dict(key.params), "", dataset, 0.0)
                bound = BOUNDS["samples"].accepted(self.bounds["samples"])
                why = f"data set {dataset!r} has {samples} samples; {bound}{also}"
                self.cell(use.rows[0], column, value, why)
            self.shapes[key] = (int(prepared.X.shape[-1]), int(prepared.X.shape[0]), prepared.n_out)
            self.check_fit(key, prepared)

    # the task decides which costs and output activations fit
    def note_fit(self, key: DataKey, spec: RunSpec, row: int, combo: dict[str, Any]) -> None:
        """Remember that ``row`` pairs its cost and output activation with its data set."""
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
            also = _also(list(use.rows)[1:])
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


def _also(rows: list[int]) -> str:
    """`` (also rows 2, 3, 4, 5, 6 and 80 more)``: the other rows a problem is found in."""
    if not rows:
        return ""
    shown = ", ".join(map(str, rows[:_ROWS_SHOWN]))
    more = f" and {len(rows) - _ROWS_SHOWN} more" if len(rows) > _ROWS_SHOWN else ""
    return f" (also row{'s' if len(rows) > 1 else ''} {shown}{more})"


def _layers(value: Any) -> tuple[int, ...]:
    try:
        layers = hidden_layers(value)
    except ValueError:  # a size of more digits than int() reads
        layers = None
    if layers is None:
        raise ValueError(LAYERS_ACCEPTED)
    return layers


def _coerce(param: Param, text: bool, value: Any) -> Any:
    return param.coerce(as_text(value) if text else value)


def _success(value: Any) -> str:
    """A ``success`` cell as the canonical criterion (``test_accuracy>=0.95``); ValueError
    naming what is accepted."""
    return Success.parse(as_text(value)).text()


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


def load_specs(
    path: Path | str,
    registry: Registry | None = None,
    *,
    bounds: Mapping[str, int | None] | None = None,
    shapes: dict[DataKey, tuple[int, int, int]] | None = None,
) -> list[RunSpec]:
    """Read and validate the sweep table at ``path``: one RunSpec per configuration.

    Specifications come in table order, each row expanded with its leftmost column varying
    slowest; one equal to an earlier one (the same hash) is dropped. Raises :class:`TableError`
    listing every problem of the table, one line each; nothing else escapes for a bad table.
    ``bounds`` lifts upper bounds of :data:`runner.engine.settings.BOUNDS` (name -> limit); the
    number of configurations is counted before any is built, so a table over that bound fails
    at once. ``shapes``, when given, is filled with each prepared data-set configuration's
    (training samples, inputs, outputs), for estimating what the plan costs.
    """
    path = Path(path)
    frame = read_table(path)
    return _specs(frame, str(path), path.resolve().parent, registry, bounds, shapes)


def specs_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    source: str = "<rows>",
    folder: Path | str | None = None,
    registry: Registry | None = None,
    bounds: Mapping[str, int | None] | None = None,
) -> list[RunSpec]:
    """Validate rows a program holds, one dict of cells per configuration, as a table's rows.

    Cells mean what they mean in a table file (``"0..9"``, ``"0.1|0.5"``, a list of
    alternatives; a missing key is a blank cell). ``source`` names the rows in messages;
    relative file paths are resolved against ``folder`` (default: the working directory).
    Raises :class:`TableError` as :func:`load_specs` does; ``bounds`` as there.
    """
    records = [dict(row) for row in rows]
    names = list(dict.fromkeys(str(key) for record in records for key in record))
    frame = pd.DataFrame(
        [[record.get(name) for name in names] for record in records], columns=names, dtype=object
    )
    frame.index = range(1, len(frame) + 1)
    return _specs(frame, source, Path(folder or ".").resolve(), registry, bounds)


def _specs(
    frame: pd.DataFrame,
    file: str,
    folder: Path,
    registry: Registry | None,
    bounds: Mapping[str, int | None] | None = None,
    shapes: dict[DataKey, tuple[int, int, int]] | None = None,
) -> list[RunSpec]:
    registry = registry if registry is not None else get_registry()
    builder = _Builder(registry, file, folder, bounds=limits(bounds))
    if shapes is not None:
        builder.shapes = shapes
    names = list(frame.columns)
    _check_header(builder, frame)
    columns = builder.parameter_columns(names)
    usable: dict[str, int] = {}  # each column's first place
    for i, name in enumerate(names):
        if name in CORE or name in columns:
            usable.setdefault(name, i)
    content = [i for i, name in enumerate(names) if not name.startswith("#")]
    comments = [i for i, name in enumerate(names) if name.startswith("#")]
    _count_configurations(builder, frame, usable, content)

    specs: list[RunSpec] = []
    seen: set[RunSpec] = set()
    data_rows = 0
    row = 0
    try:
        for row, values in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
            if all(is_blank(values[i]) for i in content):
                continue  # blank, or only comments
            data_rows += 1
            note = "\n\n".join(
                as_text(values[i]).strip() for i in comments if not is_blank(values[i])
            )
            for spec in _expand(builder, int(row), values, usable, columns):
                if spec not in seen:  # equal content (row, source aside) means an equal hash
                    seen.add(spec)
                    specs.append(spec)
                    if note:  # the row's comment, the run's description (not in the hash)
                        object.__setattr__(spec, "note", note)
    except MemoryError:
        count = len(specs)
        specs.clear()
        seen.clear()
        raise TableError(
            f"{file}: row {row}: not enough memory to expand the table this far ({count} "
            "configurations in the rows before); split it into smaller tables, or give fewer "
            "values per cell"
        ) from None
    if data_rows == 0:
        builder.add(f"{file}: the table has no data rows; add one row per configuration")
    _check_outside_the_hash(builder, specs)
    builder.check_data()
    problems = builder.lines()
    if problems:
        summary = problems[0] if len(problems) == 1 else f"{file}: {len(problems)} problems"
        raise TableError(summary, problems=problems)
    name_runs(specs, registry)
    return specs


#: the table's columns that take no part in a configuration's spec hash
UNHASHED_COLUMNS = tuple(sorted(NOT_HASHED & set(CORE)))


def _check_outside_the_hash(builder: _Builder, specs: list[RunSpec]) -> None:
    """Refuse two configurations that differ only in a column outside the spec hash
    (``critical_points``): they would be one run in the store, claimed twice and recorded
    once. Only a table giving such a column more than one value pays for the check."""
    for column in UNHASHED_COLUMNS:
        values = {getattr(spec, column) for spec in specs}
        if len(values) < 2:
            continue
        first: dict[RunSpec, RunSpec] = {}
        default = RunSpec.__dataclass_fields__[column].default
        for spec in specs:
            other = first.setdefault(replace(spec, **{column: default}), spec)
            if getattr(other, column) != getattr(spec, column):
                builder.cell(
                    spec.row,
                    column,
                    getattr(spec, column),
                    f"row {other.row}'s {getattr(other, column)!r} is the same configuration "
                    f"({column} is not part of the spec hash, so both would be one run); give "
                    "one value per configuration",
                )
                return


def _count_configurations(
    builder: _Builder, frame: pd.DataFrame, usable: dict[str, int], content: list[int]
) -> None:
    """Raise :class:`TableError` at once, before any configuration is built, when the table
    expands to more configurations than the bound: the product of each row's cell sizes,
    counted without expanding (a row over its own limit is left to :func:`_expand`)."""
    limit = builder.bounds["configurations"]
    total = 0
    first: int | None = None  # the row at which the count passes the bound
    for row, values in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        if all(is_blank(values[i]) for i in content):
            continue
        count = 1
        for i in usable.values():
            count *= max(1, len(cell_values(values[i])[0]))
        total += count if count <= MAX_RUNS_PER_ROW else 0
        if first is None and total > limit:
            first = int(row)
    if first is not None:
        line = (
            f"{builder.file}: row {first}: the table expands to {total} configurations; "
            f"{BOUNDS['configurations'].accepted(limit)}"
        )
        raise TableError(line)


def _check_header(builder: _Builder, frame: pd.DataFrame) -> None:
    names = list(frame.columns)
    where: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        where.setdefault(name, []).append(i + 1)
        if name:
            continue
        filled = next(((r, v) for r, v in frame.iloc[:, i].items() if not is_blank(v)), None)
        if filled:
            builder.add(
                f"{builder.file}: header, column {i + 1}: the column has no name but holds values "
                f"(row {filled[0]}: {show_value(filled[1])}); name it, or start its name "
                "with '#'"
            )
    for name, columns in where.items():
        if name and len(columns) > 1:
            shown = show_value(name)
            builder.add(
                f"{builder.file}: header, column {shown}: {shown} appears {len(columns)} times "
                f"(columns {', '.join(map(str, columns))}); give each column once and list several "
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
    key = _value_key("plugins", tuple(tuple(named.get(part, ())) for part in PARTS))
    alternatives = builder.row_plugins.get(key) if key is not None else None
    if alternatives is None:  # the same dict for rows that name the same plugins
        applicable = row_parts(named["objective"][0] if "objective" in named else None)
        alternatives = {
            part: [
                obj
                for n in named.get(part, [CORE[part].default])
                if (obj := builder.plugin(part, as_text(n))[0])
            ]
            if part in applicable
            else []
            for part in PARTS
        }
        if key is not None:
            builder.row_plugins[key] = alternatives
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
