"""The plugin-manager factory and the registry of the plugin objects its hooks register.

The built-in plugins are found exactly as a third-party package's are: through the entry-point
group ``runner`` (this project's own ``pyproject.toml`` lists them). ``RUNNER_PLUGINS`` restricts
which third-party entry points load: a comma-separated list of entry-point or distribution names;
set but empty, none load. The built-ins always load.

:func:`get_plugin_manager` registers each entry point's module under the name
``<distribution>:<entry point>``; :func:`collect` calls every registration hook through
``pm.hook`` (so pluggy's tracing and hook wrappers apply) with one ``register`` callback. Which
distribution registered an object is read off the object's class: the registered plugin module
(or package) that defines it. A hook implementation whose name matches no hook, such as a
misspelled ``register_activation``, is an error naming the plugin and the closest hook.

Imports the rest of :mod:`runner.plugin` and :mod:`runner.errors`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from runner.errors import PluginError, did_you_mean
from runner.plugin import hookspecs
from runner.plugin.kinds import KINDS
from runner.plugin.params import Plugin, kind_label

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

#: the kinds whose parameters may be declared per_member (see runner.plugin.kinds)
PER_MEMBER_KINDS = frozenset({"step_rule"})


def _allowed() -> set[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {_normalize(name.strip()) for name in value.split(",") if name.strip()}


def _entry_points() -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=GROUP)


def get_plugin_manager(extra: Iterable[ModuleType | object] = ()) -> pluggy.PluginManager:
    """A fresh plugin manager with the built-ins, allowed third-party plugins and ``extra``.

    Raises :class:`PluginError`, one line, for a plugin that fails to import (naming its
    distribution and error) or that implements a hook runner does not have.
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
        name = f"{dist}:{ep.name}"
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
    for obj in extra:
        pm.register(obj)
    _check_hook_names(pm)
    return pm


def _check_hook_names(pm: pluggy.PluginManager) -> None:
    """Refuse a hook implementation whose name matches no hook (pluggy ignores it silently)."""
    hooks = sorted(name for name in vars(hookspecs) if name.startswith("register_"))
    for name, caller in sorted(vars(pm.hook).items()):
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            raise PluginError(
                f"plugin {impl.plugin_name!r} implements {name!r}, which is not a runner hook; "
                f"{did_you_mean(name, hooks)}the hooks are: {', '.join(hooks)}"
            )


def _normalize(name: str) -> str:
    """A distribution or entry-point name compared as PEP 503 does: case and -_. runs ignored."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Origin:
    """The distribution an object comes from, its version ("" when not installed), and the
    place of the registering module among the plugin manager's (registries list in that order:
    the built-ins, then the other distributions by name)."""

    distribution: str
    version: str
    order: int = 0


def _origins(pm: pluggy.PluginManager) -> dict[str, Origin]:
    """Module name -> origin, for every module registered with ``pm``.

    An entry point's plugin is registered as ``<distribution>:<entry point>``; anything else
    (an ``extra`` module of a test) is its own, uninstalled origin ``<module>``.
    """
    out: dict[str, Origin] = {}
    for order, (name, plugin) in enumerate(pm.list_name_plugin()):
        module = getattr(plugin, "__name__", type(plugin).__module__)
        dist, sep, _ = name.partition(":")
        if sep and dist != "?":
            try:
                version = metadata.version(dist)
            except metadata.PackageNotFoundError:
                version = ""
            digest = source_digest(plugin) if version and _from_a_folder(dist) else ""
            if digest:
                version += f"{'.' if '+' in version else '+'}src.{digest}"
            out[module] = Origin(dist, version, order)
        else:
            out.setdefault(module, Origin(f"<{module}>", "", order))
    return out


def _from_a_folder(dist: str) -> bool:
    """Whether ``dist`` was installed from a folder (``pip install -e DIR`` or ``pip install
    DIR``: PEP 610's ``dir_info``), where its source may change under the same version.

    Runner's own distribution is not: its built-in plugins and its engine are one release,
    covered together by runner's version (``--rerun`` trains again after editing a checkout).
    """
    if _normalize(dist) == OWN_DISTRIBUTION:
        return False
    try:
        text = metadata.distribution(dist).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return False
    try:
        return bool(text) and "dir_info" in json.loads(text)
    except (ValueError, TypeError):
        return False


def source_digest(plugin: object) -> str:
    """sha256 (12 hex digits) of the source of a registered plugin module's top-level package
    (every ``.py`` file under it, by relative path and content; a helper module beside the
    plugin counts as much as the plugin), or of the module's file alone when it is no package;
    "" when there is no file."""
    top = sys.modules.get(getattr(plugin, "__name__", "").split(".")[0])
    file = getattr(top, "__file__", None)
    if not file:
        return ""
    path = Path(file)
    files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
    digest = hashlib.sha256()
    for source in files:
        digest.update(source.relative_to(path.parent).as_posix().encode() + b"\0")
        digest.update(source.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def origin_of(obj: object, origins: dict[str, Origin]) -> Origin:
    """Where ``obj`` comes from: the registered module, or package, that defines its class."""
    module = type(obj).__module__
    candidates = [module]
    while "." in module:
        module = module.rsplit(".", 1)[0]
        candidates.append(module)
    for candidate in candidates:  # the module itself, then its parent packages
        if candidate in origins:
            return origins[candidate]
    for registered, origin in origins.items():  # elsewhere in a registered module's package
        if registered.split(".", 1)[0] == candidates[-1] and origin.version:
            return origin
    return Origin(f"<{type(obj).__module__}>", "", len(origins))


@dataclass
class Registry:
    """Every registered plugin object, by kind and name, and the manager they came from."""

    by_kind: dict[str, dict[str, Plugin]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    plugin_manager: pluggy.PluginManager | None = None

    def add(self, obj: Plugin, origin: Origin) -> None:
        kind, dist = obj.kind, origin.distribution
        if kind not in self.by_kind:
            raise PluginError(f"{dist}: {obj!r} is of unknown kind {kind!r}")
        if not obj.name:
            raise PluginError(f"{dist}: a {kind_label(kind)} was registered without a name")
        if kind not in PER_MEMBER_KINDS:
            for p in obj.params:
                if p.per_member:
                    raise PluginError(
                        f"distribution {dist!r}: {obj.label()} declares its parameter "
                        f"{p.name!r} per_member, which only step rules may do"
                    )
        existing = self.by_kind[kind].get(obj.name)
        if existing is not None:
            raise PluginError(
                f"two plugins register the {kind_label(kind)} {obj.name!r}: "
                f"distribution {existing.distribution!r} and distribution {dist!r}"
            )
        obj.distribution = dist
        obj.version = origin.version
        self.by_kind[kind][obj.name] = obj

    def names(self, kind: str) -> list[str]:
        return sorted(self.by_kind[kind])

    def get(self, kind: str, name: str) -> Plugin:
        """The plugin of ``kind`` called ``name``; KeyError carries a did-you-mean message."""
        try:
            return self.by_kind[kind][name]
        except KeyError:
            raise KeyError(self.unknown_message(kind, name)) from None

    def find(self, kind: str, name: Any) -> Plugin:
        """The plugin of ``kind`` called ``name``; ValueError with did-you-mean if there is none."""
        found = self.by_kind[kind].get(name) if isinstance(name, str) else None
        if found is None:
            raise ValueError(self.unknown_message(kind, str(name)))
        return found

    def unknown_message(self, kind: str, name: str) -> str:
        label = kind_label(kind)
        names = self.names(kind)
        hint = did_you_mean(name, names)
        return f"unknown {label} {name!r}; {hint}installed: {', '.join(names) or 'none'}"

    def all(self) -> list[Plugin]:
        return [obj for kind in KINDS for _, obj in sorted(self.by_kind[kind].items())]

    # the plugins of one kind, by name
    activations = property(lambda self: self.by_kind["activation"])
    costs = property(lambda self: self.by_kind["cost"])
    step_rules = property(lambda self: self.by_kind["step_rule"])
    strategies = property(lambda self: self.by_kind["strategy"])
    initializers = property(lambda self: self.by_kind["initializer"])
    datasets = property(lambda self: self.by_kind["dataset"])


def collect(pm: pluggy.PluginManager) -> Registry:
    """Call every registration hook through ``pm.hook`` and build the registry.

    pluggy calls the implementations last-registered first; the objects are added in the
    plugin manager's own order (built-ins first), each plugin's in the order it registered them.
    """
    registry = Registry(plugin_manager=pm)
    origins = _origins(pm)
    registered: list[tuple[Origin, int, Plugin]] = []
    for hook_name, kinds in HOOK_KINDS.items():
        getattr(pm.hook, hook_name)(register=_registrar(registered, origins, kinds))
    for origin, _, obj in sorted(registered, key=lambda item: (item[0].order, item[1])):
        registry.add(obj, origin)
    return registry


def _registrar(
    registered: list[tuple[Origin, int, Plugin]],
    origins: dict[str, Origin],
    kinds: tuple[str, ...],
) -> Callable[[Any], None]:
    def register(obj: Any) -> None:
        origin = origin_of(obj, origins)
        if not isinstance(obj, Plugin) or obj.kind not in kinds:
            raise PluginError(
                f"distribution {origin.distribution!r} registered {obj!r} from the wrong hook; "
                f"expected {' or '.join(kind_label(k) for k in kinds)} objects"
            )
        registered.append((origin, len(registered), obj))

    return register


@functools.cache
def get_registry() -> Registry:
    """The registry of every installed plugin, built once per process."""
    return collect(get_plugin_manager())
