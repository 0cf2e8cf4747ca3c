"""The columns of a sweep table: the core settings and every parameter an installed plugin declares.

The core columns are the core settings (:data:`runner.engine.settings.SETTINGS`, whose defaults
are the one place the table format names default plugins); :data:`~runner.engine.settings.PARTS`
are the core columns that name a plugin. Every parameter an installed plugin declares is a
column too, bare (``beta``) or qualified by its part (``output_activation.beta``);
:func:`describe_columns` lists them all with their defaults and what they accept. Imports
:mod:`runner.engine` and :mod:`runner.plugin`.
"""

from __future__ import annotations

from runner.engine.settings import LAYERS_ACCEPTED, PARTS, SETTINGS
from runner.plugin.params import kind_label
from runner.plugin.registry import Registry, get_registry

#: The core columns: the core settings.
CORE = SETTINGS


def article(noun: str) -> str:
    """``noun`` with its indefinite article: "an activation", "a cost"."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def describe_columns(registry: Registry | None = None) -> list[tuple[str, str, str]]:
    """``(column, default, what it accepts and means)`` for every column a table may have."""
    registry = registry if registry is not None else get_registry()
    rows: list[tuple[str, str, str]] = []
    for name, param in CORE.items():
        if name in PARTS:
            kind = PARTS[name]
            names = [
                n
                for n in registry.names(kind)
                if name != "activation" or not registry.activations[n].output_only  # type: ignore[attr-defined]
            ]
            accepted = f"the name of {article(kind_label(kind))}: {', '.join(names)}"
        else:
            accepted = param.accepted()
        default = "(blank)" if param.default is None else str(param.default)
        rows.append(
            (name, default, LAYERS_ACCEPTED if name == "hidden" else f"{param.help}; {accepted}")
        )
    helps: dict[str, dict[tuple[str, str, str], list[str]]] = {}
    defaults: dict[str, set[str]] = {}
    for part, kind in PARTS.items():
        if part == "output_activation":
            continue  # the same plugins as the hidden layers'
        for obj in sorted(registry.by_kind[kind].values(), key=lambda o: o.name):
            for p in obj.params:
                key = (kind_label(kind), p.help, p.accepted())
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
    rows.append(("#...", "", "a comment column: its text is the description of the row's runs"))
    return rows
