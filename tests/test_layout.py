"""The rooms of the package and the one way imports run between them (docs/architecture.md).

Every ``import`` of every module under ``runner/`` and ``plugins/`` is read with :mod:`ast`
(function-level and ``TYPE_CHECKING`` imports included: they are dependencies too). A module may
import its own room and the rooms below it: cli -> sweep -> table / execution / tracking /
testing / analysis -> engine -> plugin -> spec / errors / version / environ. No module imports
another that imports it back, through any chain.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "runner"
PLUGINS = ROOT / "plugins"

#: each room and its rank: a module may import rooms of a lower rank and its own room only
RANKS = {
    "runner.version": 0,
    "runner.errors": 0,
    "runner.spec": 0,
    "runner.environ": 0,
    "runner.plugin": 1,
    "runner.engine": 2,
    "runner.table": 3,
    "runner.execution": 3,
    "runner.tracking": 3,
    "runner.testing": 3,
    "runner.analysis": 3,  # the study of a sweep: statistics and figures of runs it is given
    "runner.sweep": 4,
    "runner.cli": 5,
    "runner.model": 5,  # the public face of trained networks: engine and tracking
    "runner": 6,  # the package's __init__, the public API: imported by plugins, by no room
    "runner.__main__": 6,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(parts)


def room(module: str) -> str:
    """The room a runner module belongs to: the longest prefix in RANKS."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in RANKS:
            return ".".join(parts[:n])
    raise AssertionError(f"{module} belongs to no room of tests/test_layout.py's RANKS")


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a.b`` where that is a
    module of ours, else as ``a``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in MODULES else node.module)
    return out


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
IMPORTS = {name: imports(path) for name, path in MODULES.items()}
GRAPH = {name: {m for m in targets if m in MODULES} for name, targets in IMPORTS.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle of ``graph`` (module -> the modules it imports), each once."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = path[path.index(node) :]
            if not any(set(cycle) == set(c) for c in found):
                found.append(cycle + [node])
            return
        if node in done:
            return
        for target in sorted(graph.get(node, ())):
            visit(target, [*path, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return found


def test_the_cycle_finder_finds_a_cycle_and_nothing_else() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_module_imports_itself_back() -> None:
    assert cycles(GRAPH) == []


def test_every_module_belongs_to_a_room_with_a_docstring_saying_what_it_may_import() -> None:
    for name, path in MODULES.items():
        room(name)
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert "import" in doc.lower(), f"{name}: its docstring does not say what it imports"
    for package in sorted({room(name) for name in MODULES}):
        path = MODULES[package]
        if path.name == "__init__.py" and package != "runner":
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            assert "may import" in doc.lower(), f"{package} does not say what it may import"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_one_way(name: str) -> None:
    here = room(name)
    for target in sorted(GRAPH[name]):
        there = room(target)
        allowed = there == here or RANKS[there] < RANKS[here]
        assert allowed, f"{name} (room {here}) imports {target} (room {there})"


def test_built_in_plugins_use_the_public_api_only() -> None:
    for path in sorted(PLUGINS.glob("*.py")):
        for target in imports(path):
            top = target.split(".")[0]
            assert top != "mlflow", f"{path.name} imports mlflow"
            if top == "runner":
                assert target == "runner" or target.startswith("runner.plugins"), (
                    f"plugins/{path.name} imports {target}; plugins use `from runner import ...`"
                )


def test_every_package_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    packages = {module_name(p.parent) for p in PACKAGE.rglob("__init__.py")}
    assert packages | {"runner.plugins"} == listed


#: heavy libraries, and the only rooms that may import them (inside functions, see below)
LIBRARY_ROOMS = {
    "mlflow": {"runner.tracking"},
    "pandas": {"runner.table"},
    "sklearn": {"runner.engine"},
    "dask": {"runner.execution"},
    "distributed": {"runner.execution"},
    "rich": {"runner.cli"},
    "click": {"runner.cli"},
    "matplotlib": {"runner.analysis"},
}


@pytest.mark.parametrize("library", sorted(LIBRARY_ROOMS))
def test_heavy_libraries_are_imported_in_their_rooms_only(library: str) -> None:
    importers = {room(name) for name, targets in IMPORTS.items() for t in targets
                 if t.split(".")[0] == library}  # fmt: skip
    assert importers <= LIBRARY_ROOMS[library], f"{library} imported by {importers}"


#: a module, and the libraries importing it must not import (they are imported where used)
LAZY = {
    "runner": ("sklearn", "pandas", "mlflow", "matplotlib", "dask", "distributed", "pytest"),
    "runner.cli": ("mlflow", "pandas", "sklearn", "matplotlib", "dask", "rich"),
    "runner.sweep": ("mlflow", "pandas", "sklearn", "dask"),
    "runner.model": ("mlflow", "pandas", "sklearn"),
    "runner.tracking": ("mlflow", "pandas"),
    "runner.engine.population": ("mlflow", "pandas", "sklearn"),
    "runner.testing": ("pytest", "mlflow", "pandas"),
    "runner.analysis": ("mlflow", "pandas", "matplotlib"),
}


@pytest.mark.parametrize("module", sorted(LAZY))
def test_importing_a_module_imports_no_heavy_library(module: str) -> None:
    code = f"import sys, {module}; print(' '.join(m for m in {LAZY[module]!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [], f"importing {module} imported {done.stdout.strip()}"
