"""The plugin-manager factory and the registry of plugin objects it collects.

The built-in plugins are found exactly as a third-party package's are: through the entry-point
group ``runner`` (this project's own ``pyproject.toml`` lists them). ``RUNNER_PLUGINS`` restricts
which third-party entry points load: a comma-separated list of entry-point or distribution names;
set but empty, none load. The built-ins always load.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from runner import hookspecs
from runner.errors import PluginError
from runner.kinds import KINDS
from runner.params import Plugin

GROUP = "runner"
OWN_DISTRIBUTION = "runner"
ENV_VAR = "RUNNER_PLUGINS"

#: hook name -> the kinds of object it may register
HOOK_KINDS: dict[str, tuple[str, ...]] = {
    "register_activations": ("activation",),
    "register_costs": ("cost",),
    "register_optimizers": ("step_rule", "strategy"),
    "register_initializers": ("initializer",),
    "register_datasets": ("dataset",),
}

KIND_LABELS = {
    "activation": "activation",
    "cost": "cost",
    "step_rule": "step rule",
    "strategy": "strategy",
    "initializer": "initializer",
    "dataset": "dataset",
}


def _allowed() -> set[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {_normalize(name.strip()) for name in value.split(",") if name.strip()}


def _entry_points() -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=GROUP)


def get_plugin_manager(extra: Iterable[ModuleType | object] = ()) -> pluggy.PluginManager:
    """A fresh plugin manager with the built-ins, allowed third-party plugins and ``extra``.

    A plugin that fails to import raises :class:`PluginError` naming its distribution and error.
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    allowed = _allowed()
    for ep in sorted(_entry_points(), key=lambda e: (e.dist.name if e.dist else "", e.name)):
        dist = ep.dist.name if ep.dist else "?"
        own = _normalize(dist) == OWN_DISTRIBUTION
        wanted = {_normalize(ep.name), _normalize(dist)}
        if not own and allowed is not None and not (wanted & allowed):
            continue
        name = _plugin_name(dist, ep.name)
        if pm.get_plugin(name) is not None or pm.is_blocked(name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # any import failure of somebody else's package
            raise PluginError(
                f"plugin {ep.name!r} from distribution {dist!r} failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        pm.register(plugin, name=name)
        version = ep.dist.version if ep.dist else ""
        _PROVENANCE[id(plugin)] = (dist, version)
    for obj in extra:
        pm.register(obj)
    return pm


def _plugin_name(dist: str, entry_point: str) -> str:
    return f"{dist}:{entry_point}"


def _normalize(name: str) -> str:
    """A distribution or entry-point name compared as PEP 503 does: case and -_. runs ignored."""
    return re.sub(r"[-_.]+", "-", name).lower()


_PROVENANCE: dict[int, tuple[str, str]] = {}


def _provenance(plugin: object) -> tuple[str, str]:
    if id(plugin) in _PROVENANCE:
        return _PROVENANCE[id(plugin)]
    module = getattr(plugin, "__name__", type(plugin).__module__)
    return (f"<{module}>", "")


def did_you_mean(name: object, names: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the closest of ``names``, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), list(names), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


@dataclass
class Registry:
    """Every registered plugin object, by kind and name, and the manager they came from."""

    by_kind: dict[str, dict[str, Plugin]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    plugin_manager: pluggy.PluginManager | None = None

    def add(self, obj: Plugin, distribution: str, version: str) -> None:
        kind = obj.kind
        if kind not in self.by_kind:
            raise PluginError(f"{distribution}: {obj!r} is of unknown kind {kind!r}")
        if not obj.name:
            raise PluginError(f"{distribution}: a {kind} was registered without a name")
        existing = self.by_kind[kind].get(obj.name)
        if existing is not None:
            raise PluginError(
                f"two plugins register the {KIND_LABELS[kind]} {obj.name!r}: "
                f"distribution {existing.distribution!r} and distribution {distribution!r}"
            )
        obj.distribution = distribution
        obj.version = version
        self.by_kind[kind][obj.name] = obj

    def names(self, kind: str) -> list[str]:
        return sorted(self.by_kind[kind])

    def get(self, kind: str, name: str) -> Plugin:
        """The plugin of ``kind`` called ``name``; KeyError carries a did-you-mean message."""
        try:
            return self.by_kind[kind][name]
        except KeyError:
            raise KeyError(self.unknown_message(kind, name)) from None

    def unknown_message(self, kind: str, name: str) -> str:
        label = KIND_LABELS[kind]
        names = self.names(kind)
        hint = did_you_mean(name, names)
        return f"unknown {label} {name!r}; {hint}installed: {', '.join(names) or 'none'}"

    def all(self) -> list[Plugin]:
        return [obj for kind in KINDS for _, obj in sorted(self.by_kind[kind].items())]

    def __getattr__(self, attr: str) -> dict[str, Plugin]:
        plural = {
            "activations": "activation",
            "costs": "cost",
            "step_rules": "step_rule",
            "strategies": "strategy",
            "initializers": "initializer",
            "datasets": "dataset",
        }
        if attr in plural:
            return self.by_kind[plural[attr]]
        raise AttributeError(attr)


def collect(pm: pluggy.PluginManager) -> Registry:
    """Call every registration hook, one implementation at a time, and build the registry."""
    registry = Registry(plugin_manager=pm)
    for hook_name, kinds in HOOK_KINDS.items():
        caller = getattr(pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            dist, version = _provenance(impl.plugin)
            register = _registrar(registry, dist, version, kinds)
            impl.function(*([register] if impl.argnames else []))
    return registry


def _registrar(
    registry: Registry, dist: str, version: str, kinds: tuple[str, ...]
) -> Callable[[Any], None]:
    def register(obj: Any) -> None:
        if not isinstance(obj, Plugin) or obj.kind not in kinds:
            raise PluginError(
                f"distribution {dist!r} registered {obj!r} from the wrong hook; "
                f"expected {' or '.join(KIND_LABELS[k] for k in kinds)} objects"
            )
        registry.add(obj, dist, version)

    return register


@functools.cache
def get_registry() -> Registry:
    """The registry of every installed plugin, built once per process."""
    return collect(get_plugin_manager())
