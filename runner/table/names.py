"""Run names: what a configuration is called in the tracking store and the terminal.

A name is made of what varies across the table, and the seed: each setting or plugin parameter
that takes more than one value among the table's configurations gives one short token, in a
fixed order (the data set, the layers, the activations, the cost, the initializer, the step
rule, the strategy, then the other settings), and the seed ends it:
``momentum-lr0.5-m0.9-seed3``, ``tanh-squared_error-seed1``. A plugin's name stands alone
(``tanh``; the output layer's as ``out_softmax``); a parameter that declares a ``short`` form
shows it (``lr0.5``, ``m0.9``, ``restarts5``), others ``name=value`` (``beta2=0.99``,
``output_activation.beta=2`` when two parts have the parameter); a setting its short key
(``h16-16``, ``e300``, ``b32``, ``test0.25``, ``scaling=minmax``). A table where nothing but
the seed varies names its runs by the data set (``xor-seed0``). A run of an objective row is
named by its objective first, then what varies among its own settings
(``himmelblau-gd-lr0.01-restarts5-seed0``); a network's parts never show in it, and beside
objective rows a network's run says its data set. Two
configurations whose tokens read the same (values equal to six digits, files of one name in
two folders) get the first 8 digits of their spec hash appended, so names are unique within a
table and the same every time. Shorts are read off the plugins' declarations, never off
concrete plugins. Each spec also gets its configuration's place among the table's, by first
appearance (``configuration_index``: the UI's colour of the configuration). Imports
:mod:`runner.plugin`, :mod:`runner.engine.settings` and :mod:`runner.spec`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner.engine.settings import NETWORK_SETTINGS, PARTS, row_parts
from runner.plugin.registry import Registry
from runner.spec import RunSpec

#: the settings (not plugins) that may vary, with the short key of their token
SETTING_KEYS = {
    "hidden": "h",
    "epochs": "e",
    "batch_size": "b",
    "data_seed": "data_seed",
    "test_size": "test",
    "scaling": "scaling=",
    "target_loss": "target",
    "gradient_tolerance": "gtol",
    "dtype": "",
    "alpha": "alpha",
    "early_stopping": "early_stopping=",
    "validation_fraction": "valid",
    "patience": "patience",
    "tol": "tol",
    "critical_points": "critical_points=",
}

#: a name longer than this is cut, and its spec hash's first digits appended
MAX_NAME = 160

Facet = tuple[str, str]  # (part or setting, parameter name or "")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return "-".join(str(v) for v in value) or "0"
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return Path(value).name  # a file parameter: its file's name, not its folder
    return str(value)


def _facets(spec: RunSpec) -> dict[Facet, Any]:
    """Every setting and plugin parameter of ``spec`` that a name may show, in name order: an
    objective's first, and none of a network's on an objective's spec (nor the reverse)."""
    out: dict[Facet, Any] = {}
    parts = row_parts(spec.objective)
    for part in ("objective", *(p for p in PARTS if p != "objective")):
        if part not in parts:
            continue
        out[part, ""] = getattr(spec, part)
        for name, value in getattr(spec, f"{part}_params"):
            out[part, name] = value
        if part == "dataset":  # the layers after the data, before the activations
            out["hidden", ""] = spec.hidden
    for setting in SETTING_KEYS:
        if setting in parts or not spec.objective or setting not in NETWORK_SETTINGS:
            out[setting, ""] = getattr(spec, setting)
    return out


def _key(value: Any) -> Any:
    """A hashable, type-aware key of a value (1 and 1.0 and True differ)."""
    try:
        hash(value)
    except TypeError:
        return (type(value), repr(value))
    return (type(value), value)


def name_runs(specs: Sequence[RunSpec], registry: Registry) -> None:
    """Give every spec of one table its name (see the module's docstring), in place: the
    specs were just built, and ``name`` takes no part in their equality or hash."""
    facets = [_facets(spec) for spec in specs]
    seen: dict[Facet, set[Any]] = {}
    for these in facets:
        for facet, value in these.items():
            seen.setdefault(facet, set()).add(_key(value))
    # a parameter only some plugins have varies when it takes two values among them (the
    # plugin's name already tells a configuration with it from one without)
    varying = [f for f, values in seen.items() if len(values) > 1]
    varying.sort(key=lambda facet: facet[0] != "objective")  # what is minimized leads
    for these in facets:
        for facet in varying:
            these.setdefault(facet, None)
    # one parameter name in two parts reads qualified
    counts: dict[str, int] = {}
    for _, name in varying:
        if name:
            counts[name] = counts.get(name, 0) + 1
    shorts: dict[tuple[str, str, str], str | None] = {}

    def token(facet: Facet, value: Any, spec: RunSpec) -> str | None:
        part, name = facet
        if value is None:
            return None  # the configuration has no such parameter, or leaves it unset
        if not name:
            if part in SETTING_KEYS:
                return f"{SETTING_KEYS[part]}{_value(value)}"
            return f"out_{value}" if part == "output_activation" else str(value)
        plugin = getattr(spec, part)
        key = (part, plugin, name)
        if key not in shorts:
            obj = registry.by_kind[PARTS[part]].get(plugin)
            param = next((p for p in obj.params if p.name == name), None) if obj else None
            shorts[key] = param.short if param is not None and param.short else None
        short = shorts[key]
        if short and counts.get(name, 0) <= 1:
            return f"{short}{_value(value)}"
        label = f"{part}.{name}" if counts.get(name, 0) > 1 else name
        return f"{label}={_value(value)}"

    kinds = {bool(spec.objective) for spec in specs}
    mixed = len(kinds) > 1  # objective rows and network rows in one table
    names: list[str] = []
    for spec, these in zip(specs, facets, strict=True):
        tokens = [t for f in varying if (t := token(f, these[f], spec)) is not None]
        if spec.objective and ("objective", "") not in varying:
            tokens.insert(0, spec.objective)  # an objective's run always says what it minimizes
        elif mixed and not spec.objective and ("dataset", "") not in varying:
            tokens.insert(0, spec.dataset)  # beside objective runs, a network's says its data
        name = "-".join([*(tokens or [spec.dataset]), f"seed{spec.seed}"])
        if len(name) > MAX_NAME:
            name = f"{name[: MAX_NAME - 9]}-{spec.spec_hash()[:8]}"
        names.append(name)
    taken: dict[str, int] = {}
    for name in names:
        taken[name] = taken.get(name, 0) + 1
    places: dict[str, int] = {}
    for spec, name in zip(specs, names, strict=True):
        if taken[name] > 1:  # tokens that read the same for two configurations
            name = f"{name}-{spec.spec_hash()[:8]}"
        object.__setattr__(spec, "name", name)
        place = places.setdefault(spec.configuration_id(), len(places))
        object.__setattr__(spec, "configuration_index", place)
