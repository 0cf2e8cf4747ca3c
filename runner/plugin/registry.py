"""The plugin-manager factory and the registry of the plugin objects its hooks register.

The built-in plugins are found exactly as a third-party package's are: through the entry-point
group ``runner`` (this project's own ``pyproject.toml`` lists them). ``RUNNER_PLUGINS`` restricts
which third-party entry points load: a comma-separated list of entry-point or distribution names;
set but empty, none load. The built-ins always load. An entry of ``RUNNER_PLUGINS`` that names
no installed distribution or entry point is reported (:meth:`Registry.warnings`).

:func:`get_plugin_manager` registers each entry point's module under the name
``<distribution>:<entry point>``; :func:`collect` calls every registration hook through
``pm.hook`` (so pluggy's tracing applies), one distribution at a time, with a ``register``
callback that knows who calls it.

A distribution fails alone: one whose module does not import, whose hook implementation takes
another argument than the hook passes or is named like no hook, whose hook raises or registers
something that is not a plugin of the hook's kinds, or which registers a name already taken (by
the built-ins, or by a distribution earlier in the order: the built-ins, then the others by
name) is left out whole, as a :class:`Broken` entry of :attr:`Registry.broken` with a one-line
reason naming the distribution, the hook and what was expected. That holds for a module or
hook that calls ``sys.exit`` or raises ``KeyboardInterrupt`` too; a real Ctrl-C while plugins
load still stops the program (:func:`_interrupts_marked`). Everything that does not need it
works; a lookup of a name it registered before it broke, or of its entry-point or distribution
name, says that distribution's error (:meth:`Registry.unknown_message`), and so does a lookup of
any unknown name while some distribution is broken or left out by ``RUNNER_PLUGINS`` (one of
them may provide it).

Imports the rest of :mod:`runner.plugin` and :mod:`runner.errors`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import itertools
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from runner.errors import PluginError, did_you_mean, error_reason, first_line, plugin_failure
from runner.plugin import hookspecs
from runner.plugin.kinds import KINDS
from runner.plugin.params import Plugin, kind_label

GROUP = "runner"
OWN_DISTRIBUTION = "runner-mlp"  # the distribution that installs this project
ENV_VAR = "RUNNER_PLUGINS"

#: hook name -> the kinds of object it may register
HOOK_KINDS: dict[str, tuple[str, ...]] = {
    "register_activations": ("activation",),
    "register_costs": ("cost",),
    "register_optimizers": ("step_rule", "strategy"),
    "register_schedules": ("schedule",),
    "register_initializers": ("initializer",),
    "register_datasets": ("dataset",),
    "register_objectives": ("objective",),
}
#: hook name -> the arguments runner passes it
HOOK_ARGUMENTS: dict[str, tuple[str, ...]] = {
    name: tuple(inspect.signature(spec).parameters)
    for name, spec in vars(hookspecs).items()
    if name.startswith("register_") and callable(spec)
}

#: the kinds whose parameters may be declared per_member (see runner.plugin.kinds)
PER_MEMBER_KINDS = frozenset({"step_rule", "schedule"})
#: at most this many distributions are named in one message
_NAMED = 3
#: the core columns of a sweep table (the names of ``runner.engine.settings.SETTINGS``, kept
#: equal by a test) that no plugin parameter may be named like: a table's column of that name
#: is always the core setting, so such a parameter would take its value only from a qualified
#: column (``activation.seed``), and a table using both would fail only then. ``alpha``, the L2
#: penalty, is left out: leaky_relu's slope had the name before the penalty was core
RESERVED_PARAMS = frozenset({
    "activation", "batch_size", "cost", "critical_points", "data_seed", "dataset", "dtype",
    "early_stopping", "epochs", "gradient_tolerance", "hidden", "initializer", "objective",
    "optimizer", "output_activation", "patience", "scaling", "schedule", "seed", "strategy",
    "success", "target_loss", "test_size", "tol", "validation_fraction",
})  # fmt: skip
#: core columns a plugin parameter may share a name with (a table qualifies it)
SHARED_PARAMS = frozenset({"alpha"})


def reserved_message(obj: Plugin, name: str) -> str:
    """Why ``obj`` may not declare a parameter ``name`` (one of :data:`RESERVED_PARAMS`)."""
    return (
        f"{obj.label()} declares a parameter {name!r}, the name of a core column of sweep "
        f"tables (a table's {name!r} column is always the core setting); name it otherwise"
    )


def _selection() -> list[str] | None:
    """The names ``RUNNER_PLUGINS`` lists, as written; None when it is not set."""
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def _entry_points() -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=GROUP)


def _normalize(name: str) -> str:
    """A distribution or entry-point name compared as PEP 503 does: case and -_. runs ignored."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Origin:
    """The distribution an object comes from, its version ("" when not installed), the place of
    the registering module among the plugin manager's (registries list in that order: the
    built-ins, then the other distributions by name), and its entry point ("" for a module
    registered directly)."""

    distribution: str
    version: str
    order: int = 0
    entry_point: str = ""


@dataclass(frozen=True)
class Broken:
    """A distribution left out whole, and why: ``reason`` is one line; ``exception`` is what was
    raised (for ``--traceback``); ``names`` the (kind, name) pairs it registered before it broke."""

    distribution: str
    version: str
    entry_points: tuple[str, ...]
    reason: str
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    names: tuple[tuple[str, str], ...] = ()

    def message(self) -> str:
        """``distribution 'x' is broken: <reason>``, one line."""
        return f"distribution {self.distribution!r} is broken: {self.reason}"

    def claims(self, name: str, kind: str | None = None) -> bool:
        """Whether ``name`` is known to be this distribution's: a name it registered (of
        ``kind``, when given), or its entry-point or distribution name."""
        if any(n == name and kind in (None, k) for k, n in self.names):
            return True
        own = {_normalize(self.distribution), *(_normalize(e) for e in self.entry_points)}
        return _normalize(name) in own


class _Refused(Exception):
    """A distribution that breaks a rule: ``reason`` says which, one line."""

    def __init__(self, reason: str, cause: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause if cause is not None else self


class PluginManager(pluggy.PluginManager):
    """pluggy's plugin manager, plus what :func:`get_plugin_manager` found on the way: where each
    registered plugin comes from, the distributions it left out as broken, those
    ``RUNNER_PLUGINS`` left out, and the ``RUNNER_PLUGINS`` entries that name nothing."""

    def __init__(self) -> None:
        super().__init__(GROUP)
        self.origins: dict[str, Origin] = {}
        self.broken: list[Broken] = []
        self.excluded: list[tuple[str, str]] = []  # (distribution, entry point)
        self.unknown_selected: list[str] = []
        self.selection: str | None = os.environ.get(ENV_VAR)


def pinned(dist: str, version: str, plugin: object) -> str:
    """The version that pins a plugin module in spec hashes: ``version``, with
    ``+src.<digest>`` of its source (:func:`source_digest`) when the distribution was installed
    from a folder, where its source may change under the same version."""
    digest = source_digest(plugin) if version and _from_a_folder(dist) else ""
    return f"{version}{'.' if '+' in version else '+'}src.{digest}" if digest else version


def _from_a_folder(dist: str) -> bool:
    """Whether ``dist`` was installed from a folder (``pip install -e DIR`` or ``pip install
    DIR``: PEP 610's ``dir_info``).

    Runner's own distribution is not asked: its built-in plugins and its engine are one release,
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


def get_plugin_manager(extra: Iterable[ModuleType | object] = ()) -> PluginManager:
    """A fresh plugin manager with the built-ins, allowed third-party plugins and ``extra``.

    A distribution whose module fails to import, or whose hook implementations do not fit the
    hooks (a name that is no hook, an argument the hook does not pass), is not registered; it is
    listed in ``pm.broken`` with the reason. Nothing is raised for it.
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    selection = _selection()
    allowed = None if selection is None else {_normalize(name) for name in selection}
    installed: set[str] = set()

    def dist_of(ep: metadata.EntryPoint) -> str:
        return ep.dist.name if ep.dist else "?"

    def key(ep: metadata.EntryPoint) -> tuple[bool, str, str]:
        return (_normalize(dist_of(ep)) != OWN_DISTRIBUTION, _normalize(dist_of(ep)), ep.name)

    order = 0
    for dist_key, group in itertools.groupby(
        sorted(_entry_points(), key=key), key=lambda e: key(e)[1]
    ):
        eps = list(group)
        dist = dist_of(eps[0])
        version = eps[0].dist.version if eps[0].dist else ""
        installed |= {dist_key, *(_normalize(ep.name) for ep in eps)}
        own = dist_key == OWN_DISTRIBUTION
        chosen = []
        for ep in eps:
            if not own and allowed is not None and not ({_normalize(ep.name), dist_key} & allowed):
                pm.excluded.append((dist, ep.name))
            else:
                chosen.append(ep)
        registered: list[object] = []
        try:
            for ep in chosen:
                name = f"{dist}:{ep.name}"
                if pm.has_plugin(name) or pm.is_blocked(name):
                    continue
                with _interrupts_marked():
                    try:
                        plugin = ep.load()
                    except BaseException as exc:  # any import failure of somebody's package
                        if not plugin_failure(exc):
                            raise
                        raise _Refused(
                            f"entry point {ep.name!r} ({ep.value}) failed to load: "
                            f"{error_reason(exc)}",
                            exc,
                        ) from exc
                _register(pm, plugin, name)
                registered.append(plugin)
                pm.origins[name] = Origin(dist, pinned(dist, version, plugin), order, ep.name)
                order += 1
        except _Refused as refused:
            for plugin in registered:
                pm.unregister(plugin)
            pm.broken.append(
                Broken(
                    dist, version, tuple(ep.name for ep in chosen), refused.reason, refused.cause
                )
            )
    for obj in extra:
        module = getattr(obj, "__name__", type(obj).__module__)
        name = f"<{module}>:{id(obj)}"
        try:
            _register(pm, obj, name)
        except _Refused as refused:
            pm.broken.append(Broken(f"<{module}>", "", (), refused.reason, refused.cause))
            continue
        pm.origins[name] = Origin(f"<{module}>", "", order)
        order += 1
    if selection is not None:
        pm.unknown_selected = [n for n in selection if _normalize(n) not in installed]
    return pm


@contextlib.contextmanager
def _interrupts_marked() -> Iterator[None]:
    """While plugin code runs: a Ctrl-C raises a KeyboardInterrupt that says it is a signal
    (``signum``), so that one the code raises itself is told apart (:func:`plugin_failure`) and
    leaves its distribution out. Only Python's own Ctrl-C handler, in the main thread, is
    replaced; any other handler already says so or raises nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        exc = KeyboardInterrupt()
        exc.signum = signum  # type: ignore[attr-defined]
        raise exc

    signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _register(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Register ``plugin`` after checking its hook implementations; _Refused says what is wrong."""
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        hook = opts.get("specname") or attr
        if hook not in HOOK_ARGUMENTS:
            hooks = sorted(HOOK_ARGUMENTS)
            raise _Refused(
                f"it implements {hook!r}, which is not a runner hook; "
                f"{did_you_mean(hook, hooks)}the hooks are: {', '.join(hooks)}"
            )
        function = getattr(plugin, attr)
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            continue
        taken = [
            p.name
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        expected = HOOK_ARGUMENTS[hook]
        wrong = [n for n in taken if n not in expected]
        if wrong:
            names = ", ".join(repr(n) for n in wrong)
            raise _Refused(
                f"its hook {hook}({', '.join(taken)}) takes {names}, which runner does not pass; "
                f"expected {hook}({', '.join(expected)})"
            )
    try:
        pm.register(plugin, name=name)
    except (pluggy.PluginValidationError, ValueError) as exc:
        raise _Refused(f"pluggy refused it: {first_line(exc)}", exc) from exc


@dataclass
class Registry:
    """Every registered plugin object, by kind and name, and the manager they came from; the
    distributions left out (:attr:`broken`, :attr:`excluded`) and why."""

    by_kind: dict[str, dict[str, Plugin]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    plugin_manager: pluggy.PluginManager | None = None
    #: distributions left out whole, with the reason
    broken: list[Broken] = field(default_factory=list)
    #: (distribution, entry point) pairs RUNNER_PLUGINS left out
    excluded: list[tuple[str, str]] = field(default_factory=list)
    #: RUNNER_PLUGINS as set (None: not set)
    selection: str | None = None
    #: RUNNER_PLUGINS entries that name no installed distribution or entry point
    unknown_selected: list[str] = field(default_factory=list)

    def check(self, obj: Plugin, origin: Origin, taken: dict[tuple[str, str], str]) -> None:
        """Raise PluginError, one line, when ``obj`` may not be registered; ``taken`` maps
        (kind, name) to the distribution that already has it."""
        kind, dist = obj.kind, origin.distribution
        if kind not in self.by_kind:
            raise PluginError(f"distribution {dist!r}: {obj!r} is of unknown kind {kind!r}")
        if not isinstance(obj.name, str) or not obj.name:
            raise PluginError(
                f"distribution {dist!r}: a {kind_label(kind)} was registered without a name "
                "(set the class attribute name)"
            )
        for p in obj.params:
            if getattr(p, "name", None) in RESERVED_PARAMS:
                raise PluginError(f"distribution {dist!r}: {reserved_message(obj, p.name)}")
        if kind not in PER_MEMBER_KINDS:
            for p in obj.params:
                if p.per_member:
                    raise PluginError(
                        f"distribution {dist!r}: {obj.label()} declares its parameter "
                        f"{p.name!r} per_member, which only step rules and schedules may do"
                    )
        other = taken.get((kind, obj.name))
        if other is not None:
            raise PluginError(
                f"two plugins register the {kind_label(kind)} {obj.name!r}: "
                f"distribution {other!r} and distribution {dist!r} (pick another name)"
            )

    def _taken(self) -> dict[tuple[str, str], str]:
        return {
            (kind, name): obj.distribution
            for kind, objs in self.by_kind.items()
            for name, obj in objs.items()
        }

    def add(self, obj: Plugin, origin: Origin) -> None:
        """Register ``obj`` from ``origin``; PluginError, one line, when it may not be."""
        self.add_all([(origin, obj)])

    def add_all(self, items: list[tuple[Origin, Plugin]]) -> None:
        """Register every object of ``items`` or, raising PluginError, none of them."""
        taken = self._taken()
        for origin, obj in items:
            self.check(obj, origin, taken)
            taken[obj.kind, obj.name] = origin.distribution
        for origin, obj in items:
            obj.distribution = origin.distribution
            obj.version = origin.version
            self.by_kind[obj.kind][obj.name] = obj

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
        """Why there is no ``kind`` called ``name``, one line: the broken distribution it is
        known to come from, or the names installed, with a did-you-mean and the distributions
        left out that may provide it."""
        label = kind_label(kind)
        claimed = self.claimed_by(name, kind)
        if claimed is not None:
            return f"{label} {name!r} is not available: {claimed.message()}"
        names = self.names(kind)
        hint = did_you_mean(name, names)
        installed = ", ".join(names) or "none"
        return f"unknown {label} {name!r}; {hint}installed: {installed}{self.why_missing()}"

    def claimed_by(self, name: str, kind: str | None = None) -> Broken | None:
        """The broken distribution ``name`` is known to come from, if any."""
        return next((b for b in self.broken if b.claims(name, kind)), None)

    def why_missing(self) -> str:
        """``"; ..."`` naming the distributions left out that may provide a missing plugin, or
        ``""`` when none is."""
        out = ""
        if self.broken:
            shown = "; ".join(b.message() for b in self.broken[:_NAMED])
            more = f" (and {len(self.broken) - _NAMED} more)" if len(self.broken) > _NAMED else ""
            out += f"; it may come from a distribution left out: {shown}{more}"
        left_out = sorted({dist for dist, _ in self.excluded})
        if left_out:
            shown = ", ".join(repr(d) for d in left_out[:_NAMED])
            more = f" and {len(left_out) - _NAMED} more" if len(left_out) > _NAMED else ""
            out += (
                f"; {ENV_VAR}={self.selection!r} leaves out the installed distribution"
                f"{'s' if len(left_out) > 1 else ''} {shown}{more}, which may provide it"
            )
        return out

    def warnings(self) -> list[str]:
        """One line per distribution left out as broken and per ``RUNNER_PLUGINS`` entry that
        names nothing installed."""
        lines = [f"{b.message()}; its plugins are left out" for b in self.broken]
        if self.unknown_selected:
            pm = self.plugin_manager
            known = sorted(
                {d for d, _ in self.excluded}
                | {o.distribution for o in getattr(pm, "origins", {}).values()}
                | {b.distribution for b in self.broken}
            )
            for name in self.unknown_selected:
                lines.append(
                    f"{ENV_VAR} names {name!r}, which is no installed plugin distribution or "
                    f"entry point; {did_you_mean(name, known)}installed: {', '.join(known)}"
                )
        return lines

    def all(self) -> list[Plugin]:
        return [obj for kind in KINDS for _, obj in sorted(self.by_kind[kind].items())]

    def call_each(
        self,
        hook: str,
        stage: Callable[[], tuple[dict[str, Any], Callable[[str], None]]],
        expected: str = "add click commands to cli",
    ) -> None:
        """Call ``hook`` one distribution at a time, with the arguments ``stage()`` makes for
        that distribution; when its implementations have returned, the callback ``stage()``
        made with them is called with the distribution's name, to take what they made into
        use or to raise PluginError (one line) when it may not be. A distribution whose
        implementation raises, or whose result that callback refuses, is left out (listed in
        :attr:`broken`, its plugins removed)."""
        pm = self.plugin_manager
        if pm is None:
            return
        for dist, members in _by_distribution(pm):
            kwargs, take = stage()
            try:
                for _, plugin in members:
                    _call(pm, hook, plugin, kwargs, expected)
                take(dist)
            except (_Refused, PluginError) as refused:
                self._leave_out(pm, dist, members, refused, ())

    def _leave_out(
        self,
        pm: pluggy.PluginManager,
        dist: str,
        members: list[tuple[str, object]],
        refused: _Refused | PluginError,
        names: tuple[tuple[str, str], ...],
    ) -> None:
        origins = getattr(pm, "origins", {})
        first = origins.get(members[0][0], Origin(dist, ""))
        entry_points = tuple(
            origins[n].entry_point for n, _ in members if n in origins and origins[n].entry_point
        )
        for _, plugin in members:
            pm.unregister(plugin)
        for kind in self.by_kind:
            self.by_kind[kind] = {
                n: o for n, o in self.by_kind[kind].items() if o.distribution != dist
            }
        reason = refused.reason if isinstance(refused, _Refused) else str(refused)
        reason = reason.removeprefix(f"distribution {dist!r}: ")  # the message names it
        cause = refused.cause if isinstance(refused, _Refused) else refused
        self.broken.append(Broken(dist, first.version, entry_points, reason, cause, names))

    # the plugins of one kind, by name
    activations = property(lambda self: self.by_kind["activation"])
    costs = property(lambda self: self.by_kind["cost"])
    step_rules = property(lambda self: self.by_kind["step_rule"])
    schedules = property(lambda self: self.by_kind["schedule"])
    strategies = property(lambda self: self.by_kind["strategy"])
    initializers = property(lambda self: self.by_kind["initializer"])
    datasets = property(lambda self: self.by_kind["dataset"])
    objectives = property(lambda self: self.by_kind["objective"])


def _by_distribution(pm: pluggy.PluginManager) -> list[tuple[str, list[tuple[str, object]]]]:
    """The registered plugins grouped by distribution, in the manager's order."""
    origins = getattr(pm, "origins", {})
    groups: dict[str, list[tuple[str, object]]] = {}
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        module = getattr(plugin, "__name__", type(plugin).__module__)
        dist = origins[name].distribution if name in origins else f"<{module}>"
        groups.setdefault(dist, []).append((name, plugin))
    return list(groups.items())


def _call(
    pm: pluggy.PluginManager, hook: str, plugin: object, kwargs: dict[str, Any], expected: str
) -> None:
    """Call ``plugin``'s implementation of ``hook`` alone, through pluggy; _Refused on failure."""
    caller = getattr(pm.hook, hook)
    if not any(impl.plugin is plugin for impl in caller.get_hookimpls()):
        return
    others = [p for p in pm.get_plugins() if p is not plugin]
    with _interrupts_marked():
        try:
            pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs)
        except _Refused:
            raise
        except BaseException as exc:  # whatever somebody else's hook raises leaves it out, alone
            if not plugin_failure(exc):
                raise
            raise _Refused(
                f"its hook {hook} raised {error_reason(exc)}; expected it to {expected} and return",
                exc,
            ) from exc


def _expects(kinds: tuple[str, ...]) -> str:
    def one(kind: str) -> str:
        label = kind_label(kind)
        article = "an" if label[0] in "aeiou" else "a"
        return f"{article} {label} (an instance of runner.{KINDS[kind].__name__})"

    return " or ".join(one(k) for k in kinds)


def collect(pm: pluggy.PluginManager) -> Registry:
    """Call every registration hook through ``pm.hook``, one distribution at a time, and build
    the registry; a distribution that breaks a rule is left out whole (:attr:`Registry.broken`).

    The objects are added in the plugin manager's order (built-ins first), each distribution's
    in the order it registered them.
    """
    registry = Registry(
        plugin_manager=pm,
        broken=list(getattr(pm, "broken", [])),
        excluded=list(getattr(pm, "excluded", [])),
        selection=getattr(pm, "selection", os.environ.get(ENV_VAR)),
        unknown_selected=list(getattr(pm, "unknown_selected", [])),
    )
    origins = getattr(pm, "origins", {})
    for dist, members in _by_distribution(pm):
        staged: list[tuple[Origin, Plugin]] = []
        try:
            for name, plugin in members:
                module = getattr(plugin, "__name__", type(plugin).__module__)
                origin = origins.get(name, Origin(f"<{module}>", ""))
                for hook, kinds in HOOK_KINDS.items():
                    register = _registrar(staged, origin, hook, kinds)
                    _call(
                        pm,
                        hook,
                        plugin,
                        {"register": register},
                        f"call register with {_expects(kinds)}",
                    )
            registry.add_all(staged)
        except (_Refused, PluginError) as refused:
            names = tuple((obj.kind, obj.name) for _, obj in staged if isinstance(obj.name, str))
            registry._leave_out(pm, dist, members, refused, names)
    return registry


def _registrar(
    staged: list[tuple[Origin, Plugin]], origin: Origin, hook: str, kinds: tuple[str, ...]
) -> Callable[[Any], None]:
    def register(obj: Any) -> None:
        if isinstance(obj, Plugin) and obj.kind in kinds:
            staged.append((origin, obj))
            return
        if isinstance(obj, type):
            got = f"the class {obj.__name__}; register an instance: register({obj.__name__}())"
        elif isinstance(obj, Plugin):
            got = f"{obj.label()}, which belongs in the hook of its kind"
        else:
            text = repr(obj)
            got = f"{text[:60] + '...' if len(text) > 60 else text}, which is no plugin object"
        raise _Refused(
            f"its hook {hook} called register with {got}; register expects {_expects(kinds)}"
        )

    return register


@functools.cache
def get_registry() -> Registry:
    """The registry of every installed plugin, built once per process."""
    return collect(get_plugin_manager())
