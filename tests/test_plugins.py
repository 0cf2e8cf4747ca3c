"""Third-party plugin packages are first-class: discovery, listing, commands, training and errors.

``tests/plugin_pkg`` is a separate distribution, ``runner-example-plugins``, with one plugin of
every kind. The "example plugin distribution" block of ``conftest.py`` builds it into a wheel and
installs it with pip into a temporary directory; these tests put that directory on ``sys.path`` (or
on ``PYTHONPATH`` of a subprocess), exactly as if a user had run ``pip install``.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import default_sigint, made_once, one_module_project, pip_install_target

import runner
from runner.cli import cli
from runner.engine.network import Network, member_rng
from runner.engine.training import Schedule, train
from runner.plugin import hookspecs
from runner.plugin.registry import HOOK_KINDS, collect, get_plugin_manager, get_registry

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
PLUGIN_PKG = Path(__file__).resolve().parent / "plugin_pkg"
DISTRIBUTION = "runner-example-plugins"
VERSION = "0.2.0"
#: kind -> the one plugin of that kind the example distribution registers
EXAMPLE = {
    "activation": "swish",
    "cost": "huber",
    "step_rule": "amsgrad",
    "strategy": "best_of_last",
    "schedule": "warmup",
    "initializer": "lecun",
    "dataset": "checkerboard",
    "objective": "goldstein_price",
}

#: every hook in runner.plugin.hookspecs -> the test that exercises it (test_every_hook_is_tested)
HOOK_TESTS = {
    "register_activations": "test_register_activations_swish",
    "register_costs": "test_register_costs_huber",
    "register_optimizers": "test_register_optimizers_amsgrad_and_best_of_last",
    "register_schedules": "test_register_schedules_warmup",
    "register_initializers": "test_register_initializers_lecun",
    "register_datasets": "test_register_datasets_checkerboard",
    "register_objectives": "test_register_objectives_goldstein_price",
    "register_commands": "test_register_commands_example_hello",
}


@pytest.fixture(autouse=True)
def fresh_registry() -> Any:
    """Every test discovers plugins afresh, and leaves no cached registry to the next one."""
    get_registry.cache_clear()
    yield
    get_registry.cache_clear()


def hook_names() -> set[str]:
    """The names of the hooks declared in runner.plugin.hookspecs."""
    return {
        name
        for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(f, "runner_spec")
    }


def registered_by(hook: str) -> list[Any]:
    """Call the example distribution's implementation of ``hook``; return what it registered."""
    pm = get_plugin_manager()
    [impl] = [
        i for i in getattr(pm.hook, hook).get_hookimpls() if i.plugin_name.startswith(DISTRIBUTION)
    ]
    objects: list[Any] = []
    impl.function(objects.append)
    return objects


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m runner ARGS`` in a real subprocess."""
    command = [sys.executable, "-m", "runner", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def central_difference(f: Any, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f(x) / dx elementwise for a function acting elementwise, by central differences."""
    return (f(x + h) - f(x - h)) / (2 * h)


# --- discovery ---------------------------------------------------------------------------------


def test_entry_point_discovery_finds_one_plugin_of_each_kind(example_plugins: Path) -> None:
    dist = metadata.distribution(DISTRIBUTION)
    assert dist.version == VERSION
    [ep] = [ep for ep in dist.entry_points if ep.group == "runner"]
    assert (ep.name, ep.value) == ("example", "runner_example")

    registry = get_registry()
    third_party = sorted((o.kind, o.name) for o in registry.all() if o.distribution != "runner-mlp")
    assert third_party == sorted(EXAMPLE.items())
    for kind, name in EXAMPLE.items():
        obj = registry.get(kind, name)
        assert isinstance(obj, runner.plugin.kinds.KINDS[kind])
        assert (obj.distribution, obj.version) == (DISTRIBUTION, VERSION)
    import runner_example

    assert runner_example.__version__ == VERSION
    assert Path(runner_example.__file__).is_relative_to(example_plugins)


def test_builtins_come_from_runners_own_entry_points(example_plugins: Path) -> None:
    own = metadata.distribution("runner-mlp")
    modules = {ep.value for ep in own.entry_points if ep.group == "runner"}
    assert modules, "runner registers its built-ins through [project.entry-points.runner]"
    builtins = [o for o in get_registry().all() if o.distribution != DISTRIBUTION]
    assert {o.kind for o in builtins} == set(EXAMPLE)
    for obj in builtins:
        assert (obj.distribution, obj.version) == ("runner-mlp", own.version)
        assert type(obj).__module__ in modules


@pytest.mark.parametrize(
    ("value", "loaded"),
    [
        ("", False),
        ("runner-example-plugins", True),
        ("example", True),
        ("Runner_Example_Plugins", True),
        ("some-other-package", False),
        ("some-other-package, example", True),
    ],
)
def test_runner_plugins_env_var_selects_third_party_plugins(
    example_plugins: Path, monkeypatch: pytest.MonkeyPatch, value: str, loaded: bool
) -> None:
    monkeypatch.setenv("RUNNER_PLUGINS", value)
    registry = get_registry()
    distributions = {o.distribution for o in registry.all()}
    assert distributions == ({"runner-mlp", DISTRIBUTION} if loaded else {"runner-mlp"})
    assert ("swish" in registry.activations) is loaded
    assert "sigmoid" in registry.activations  # the built-ins always load


def test_without_the_package_only_builtins_are_found() -> None:
    assert {o.distribution for o in get_registry().all()} == {"runner-mlp"}


# --- one test per hook (test_every_hook_is_tested keeps this complete) -------------------------


def test_register_activations_swish(example_plugins: Path) -> None:
    [swish] = registered_by("register_activations")
    assert type(swish) is type(get_registry().activations["swish"])
    z = np.linspace(-6.0, 6.0, 61).reshape(1, 61, 1) * np.array([1.0, 0.5]).reshape(2, 1, 1)
    for beta in (1.0, 2.5):
        a = swish.forward(z, beta=beta)
        assert a.shape == z.shape
        np.testing.assert_allclose(a, z / (1.0 + np.exp(-beta * z)), rtol=1e-12, atol=1e-15)
        numeric = central_difference(lambda x, b=beta: swish.forward(x, beta=b), z)
        np.testing.assert_allclose(swish.derivative(z, a, beta=beta), numeric, atol=1e-8)
    assert swish.resolve({"beta": "2"}) == {"beta": 2.0}
    with pytest.raises(ValueError, match="> 0"):
        swish.resolve({"beta": 0})


def test_register_costs_huber(example_plugins: Path) -> None:
    [huber] = registered_by("register_costs")
    assert type(huber) is type(get_registry().costs["huber"])
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 2.0, (3, 2, 7))  # (P, N, S): errors on both sides of delta
    y = rng.normal(0.0, 1.0, (3, 2, 7))
    for delta in (0.5, 1.0):
        value = huber.value(a, y, delta=delta)
        assert value.shape == (3,)
        d = np.abs(a - y)
        small = np.where(d <= delta, 0.5 * d**2, delta * (d - delta / 2))
        np.testing.assert_allclose(value, small.sum(axis=1).mean(axis=1))
        # the derivative is per sample: the mean over S samples scales the total by 1/S
        numeric = np.empty_like(a)
        h = 1e-6
        for index in np.ndindex(a.shape):
            up, down = a.copy(), a.copy()
            up[index] += h
            down[index] -= h
            p = index[0]
            diff = huber.value(up, y, delta=delta)[p] - huber.value(down, y, delta=delta)[p]
            numeric[index] = diff / (2 * h) * a.shape[-1]
        np.testing.assert_allclose(huber.derivative(a, y, delta=delta), numeric, atol=1e-6)


def test_register_optimizers_amsgrad_and_best_of_last(example_plugins: Path) -> None:
    amsgrad, best_of_last = registered_by("register_optimizers")
    registry = get_registry()
    assert type(amsgrad) is type(registry.step_rules["amsgrad"])
    assert type(best_of_last) is type(registry.strategies["best_of_last"])
    assert {p.name for p in amsgrad.params} == {"learning_rate", "beta1", "beta2", "epsilon"}
    assert [p.name for p in amsgrad.params if p.per_member] == ["learning_rate"]

    rng = np.random.default_rng(2)
    shapes = [(3, 4, 2), (3, 4, 1)]
    params = [rng.normal(size=s) for s in shapes]
    state = amsgrad.init_state(params)
    assert all(s.shape[0] == 3 for arrays in state.values() for s in arrays)
    rates = np.array([0.1, 0.01, 0.001]).reshape(3, 1, 1)
    alone = [[p[i : i + 1].copy() for p in params] for i in range(3)]
    alone_state = [amsgrad.init_state(ps) for ps in alone]
    arrays = list(params)
    for _ in range(4):
        grads = [rng.normal(size=s) for s in shapes]
        amsgrad.step(params, grads, state, learning_rate=rates, beta1=0.8)
        for i in range(3):
            member_grads = [g[i : i + 1] for g in grads]
            amsgrad.step(
                alone[i], member_grads, alone_state[i], learning_rate=rates[i : i + 1], beta1=0.8
            )
    assert all(p is q for p, q in zip(params, arrays, strict=True))  # updated in place
    for i in range(3):  # bitwise the same alone or in a population
        for p, q in zip(params, alone[i], strict=True):
            assert np.array_equal(p[i : i + 1], q)

    # one scalar parameter against the textbook formula
    w, m, v, v_max = [np.array([[[1.0]]])], 0.0, 0.0, 0.0
    s = amsgrad.init_state(w)
    for t, g in enumerate([0.5, -0.2, 0.3], start=1):
        expected = w[0].item()
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        v_max = max(v_max, v)
        expected -= 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v_max / (1 - 0.999**t)) + 1e-8)
        amsgrad.step(w, [np.array([[[g]]])], s, learning_rate=0.01)
        assert w[0].item() == pytest.approx(expected, rel=1e-12)

    assert best_of_last.members(**best_of_last.resolve({"tries": 5})) == 5
    assert best_of_last.select(np.array([0.3, 0.1, np.nan, 0.1, np.inf])) == 3  # tie: the last
    assert best_of_last.select(np.array([np.nan, 0.4, -np.inf])) == 1  # non-finite: never kept
    assert best_of_last.select(np.array([np.nan, np.inf])) in (0, 1)


def test_register_schedules_warmup(example_plugins: Path) -> None:
    from runner.engine.population import rate_control

    (warmup,) = registered_by("register_schedules")
    assert type(warmup) is type(get_registry().schedules["warmup"])
    factors = [warmup.factor(e, 10, np.zeros(2), {}, warmup=4)[0] for e in range(1, 7)]
    assert factors == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    # it scales a third party's step rule as it does runner's: amsgrad at a quarter, then half
    # of its rate trains as amsgrad given those rates by hand
    registry = get_registry()
    network = Network(
        (2, 3, 1),
        registry.activations["tanh"],
        registry.activations["identity"],
        registry.costs["squared_error"],
    )
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 8)), rng.standard_normal((1, 8))
    amsgrad = registry.step_rules["amsgrad"]
    control = rate_control(warmup, [warmup.resolve({"warmup": 4})], np.zeros(1, np.intp))
    W, b = network.init_population(registry.initializers["normal"], {}, [member_rng(0)])
    train(network, W, b, X, Y, amsgrad, amsgrad.resolve({}), Schedule(epochs=2), [], rate=control)
    W0, b0 = network.init_population(registry.initializers["normal"], {}, [member_rng(0)])
    params, state = [*W0, *b0], amsgrad.init_state([*W0, *b0])
    for factor in (0.25, 0.5):
        _, dW, db, _ = network.gradients(params[:2], params[2:], X, Y)
        amsgrad.step(
            params,
            [*dW, *db],
            state,
            **(amsgrad.resolve({}) | {"learning_rate": np.full((1, 1, 1), 0.001 * factor)}),
        )
    for got, want in zip([*W, *b], params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_register_initializers_lecun(example_plugins: Path) -> None:
    [lecun] = registered_by("register_initializers")
    assert type(lecun) is type(get_registry().initializers["lecun"])
    W, b = lecun.initialize(np.random.default_rng(3), 400, 300, gain=2.0)
    assert W.shape == (300, 400) and b.shape == (300, 1)
    assert not b.any()
    assert W.std() == pytest.approx(2.0 / np.sqrt(400), rel=0.02)
    again, _ = lecun.initialize(np.random.default_rng(3), 400, 300, gain=2.0)
    assert np.array_equal(W, again)


def test_register_datasets_checkerboard(example_plugins: Path) -> None:
    [board] = registered_by("register_datasets")
    assert type(board) is type(get_registry().datasets["checkerboard"])
    data = board.load(np.random.default_rng(4), **board.resolve({"n_samples": 500, "tiles": 3}))
    assert data.X.shape == (500, 2) and data.y.shape == (500,)
    assert (data.task, data.n_classes, data.name) == ("classification", 2, "checkerboard")
    cells = np.floor(data.X * 3).astype(int)
    assert np.array_equal(data.y, cells.sum(axis=1) % 2)
    assert set(np.unique(data.y)) == {0, 1}
    same = board.load(np.random.default_rng(4), n_samples=500, tiles=3)
    assert np.array_equal(data.X, same.X)


def test_register_objectives_goldstein_price(example_plugins: Path) -> None:
    from runner.engine.buffers import member_hyper
    from runner.engine.descent import DescentSchedule, descend, reached

    [price] = registered_by("register_objectives")
    registry = get_registry()
    assert type(price) is type(registry.objectives["goldstein_price"])
    assert price.hessian(np.zeros((1, 2))) is None  # the Hessian is optional
    x = np.array([[0.0, -1.0], [1.2, 0.8], [0.5, 0.5]])
    u, v = x[:, 0], x[:, 1]
    first = 1 + (u + v + 1) ** 2 * (19 - 14 * u + 3 * u**2 - 14 * v + 6 * u * v + 3 * v**2)
    second = 30 + (2 * u - 3 * v) ** 2 * (18 - 32 * u + 12 * u**2 + 48 * v - 36 * u * v + 27 * v**2)
    np.testing.assert_allclose(price.value(x), first * second, rtol=1e-12)
    assert [m.value for m in price.minima() if m.global_] == [3.0]
    # a runner step rule takes a third party's objective to the minimum of the basin it starts in
    gd = registry.step_rules["gd"]
    start = np.array([[0.05, -0.95], [-0.55, -0.45]])
    hyper = member_hyper(gd, [gd.resolve({"learning_rate": lr}) for lr in (1e-4, 2e-4)])
    end = descend(price, {}, start, gd, hyper, DescentSchedule(iterations=3000))
    labels = [m.label if m else None for m in reached(price, {}, end.final_x)]
    assert labels == ["global (0, -1)", "local (-0.6, -0.4)"]


def test_register_commands_example_hello(example_plugins: Path) -> None:
    group = click.Group("runner")
    get_plugin_manager().hook.register_commands(cli=group)
    assert "example-hello" in group.commands
    result = CliRunner().invoke(group, ["example-hello", "--name", "Ada"])
    assert result.exit_code == 0, result.output
    assert f"Hello, Ada! {DISTRIBUTION} {VERSION} is installed." in result.output


# --- the command line --------------------------------------------------------------------------


def assert_lists_example_plugins(rows: list[dict[str, Any]]) -> None:
    registry = get_registry()
    by_name = {(row["kind"], row["name"]): row for row in rows}
    for kind, name in EXAMPLE.items():
        row = by_name[(kind, name)]
        assert (row["distribution"], row["version"]) == (DISTRIBUTION, VERSION)
        declared = registry.get(kind, name).params
        assert [p["name"] for p in row["parameters"]] == [p.name for p in declared]
    amsgrad = {p["name"]: p for p in by_name[("step_rule", "amsgrad")]["parameters"]}
    assert amsgrad["beta2"]["default"] == 0.999
    assert amsgrad["beta2"]["accepted"] == "a number in [0, 1)"
    assert amsgrad["learning_rate"]["per_member"] is True
    assert by_name[("activation", "sigmoid")]["distribution"] == "runner-mlp"
    price = by_name[("objective", "goldstein_price")]
    assert price["dimension"] == 2
    assert [(m["label"], m["point"], m["value"], m["global"]) for m in price["minima"]][:2] == [
        ("global (0, -1)", [0.0, -1.0], 3.0, True),
        ("local (-0.6, -0.4)", [-0.6, -0.4], 30.0, False),
    ]
    assert len(price["minima"]) == 4 and len(price["saddles"]) == 4


def test_plugins_command_lists_example_plugins(example_plugins: Path) -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    assert_lists_example_plugins(json.loads(result.output))

    table = CliRunner().invoke(cli, ["plugins", "--kind", "step_rule"])
    assert table.exit_code == 0, table.output
    for text in ("amsgrad", DISTRIBUTION, VERSION, "beta2=0.999", "epsilon=1e-08"):
        assert text in table.output
    assert "swish" not in table.output

    objectives = CliRunner().invoke(cli, ["plugins", "--kind", "objective"], terminal_width=200)
    assert objectives.exit_code == 0, objectives.output
    line = " ".join(objectives.output.split())  # the description may wrap
    assert "goldstein_price" in line and "himmelblau" in line
    assert "(2 variables; 4 known minima, 1 global; 4 saddles)" in line


@pytest.mark.slow
def test_plugins_command_in_a_subprocess(
    example_plugins: Path, example_plugin_env: dict[str, str], tmp_path: Path
) -> None:
    done = run_cli("plugins", "--json", env=example_plugin_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert_lists_example_plugins(json.loads(done.stdout))


@pytest.mark.slow
def test_plugin_command_in_a_subprocess(example_plugin_env: dict[str, str], tmp_path: Path) -> None:
    done = run_cli("example-hello", env=example_plugin_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Hello, world! {DISTRIBUTION} {VERSION} is installed.",
        "plugins: swish huber amsgrad best_of_last warmup lecun checkerboard goldstein_price",
    ]
    help_text = run_cli("--help", env=example_plugin_env, cwd=tmp_path).stdout
    assert "example-hello" in help_text


def test_conformance_kit_passes_on_example_plugins(example_plugins: Path) -> None:
    from runner.testing import check_plugin  # what a plugin author's own tests do

    registry = get_registry()
    for kind, name in EXAMPLE.items():
        check_plugin(registry.get(kind, name))


def test_runner_check_passes_on_example_plugins(example_plugins: Path) -> None:
    result = CliRunner().invoke(cli, ["check", *EXAMPLE.values()])
    assert result.exit_code == 0, result.output
    for kind, name in EXAMPLE.items():
        assert f"ok   {kind} {name} ({DISTRIBUTION})" in result.output


# --- sweep tables get the plugins' parameters as columns ---------------------------------------

TABLE = """\
dataset,tiles,hidden,activation,output_activation,cost,delta,initializer,optimizer,learning_rate,beta2,strategy,tries,epochs
checkerboard,3,8-8,swish,sigmoid,huber,0.5,lecun,amsgrad,0.01|0.003,0.99,best_of_last,4,300
"""


def test_sweep_table_columns_come_from_the_plugins_declarations(
    example_plugins: Path, tmp_path: Path
) -> None:
    from runner.errors import TableError
    from runner.table import load_specs

    assert TABLE in DOCS.read_text(encoding="utf-8")  # the table docs/plugins.md shows
    table = tmp_path / "example.csv"
    table.write_text(TABLE)
    specs = load_specs(table)
    assert [dict(s.optimizer_params) for s in specs] == [
        {"learning_rate": lr, "beta1": 0.9, "beta2": 0.99, "epsilon": 1e-8} for lr in (0.01, 0.003)
    ]
    spec = specs[0]
    assert (spec.activation, spec.cost, spec.optimizer, spec.strategy) == (
        "swish",
        "huber",
        "amsgrad",
        "best_of_last",
    )
    assert dict(spec.dataset_params) == {"n_samples": 200, "tiles": 3}
    assert dict(spec.cost_params) == {"delta": 0.5}
    assert dict(spec.strategy_params) == {"tries": 4}
    assert dict(spec.versions)["step_rule:amsgrad"] == f"{DISTRIBUTION}=={VERSION}"

    table.write_text(TABLE.replace(",0.99,", ",1.5,"))
    with pytest.raises(TableError) as caught:
        load_specs(table)
    assert "'beta2'" in str(caught.value) and "a number in [0, 1)" in str(caught.value)


# --- training with third-party plugins ---------------------------------------------------------


def test_training_uses_every_example_plugin(example_plugins: Path) -> None:
    registry = get_registry()
    swish, huber = registry.activations["swish"], registry.costs["huber"]
    amsgrad, strategy = registry.step_rules["amsgrad"], registry.strategies["best_of_last"]
    lecun, board = registry.initializers["lecun"], registry.datasets["checkerboard"]

    data = board.load(np.random.default_rng(0), **board.resolve({"n_samples": 64}))
    X, Y = data.X.T, data.y.astype(float).reshape(1, -1)  # (N_0, S) and (N_L, S)
    network = Network(
        sizes=(2, 8, 1),
        hidden_activation=swish,
        output_activation=swish,
        cost=huber,
        hidden_params=swish.resolve({"beta": 1.5}),
        output_params=swish.resolve({}),
        cost_params=huber.resolve({"delta": 0.5}),
    )
    members = strategy.members(**strategy.resolve({}))
    rngs = [member_rng(7, restart) for restart in range(members)]
    W, b = network.init_population(lecun, lecun.resolve({}), rngs)

    # backpropagation through swish and huber agrees with central differences of the loss
    _, dW, _, _ = network.gradients(W, b, X, Y)
    h = 1e-6
    for index in [(0, 0, 0), (1, 3, 1), (2, 7, 0)]:
        up = [w.copy() for w in W]
        down = [w.copy() for w in W]
        up[0][index] += h
        down[0][index] -= h
        p = index[0]
        numeric = (network.loss(up, b, X, Y)[p] - network.loss(down, b, X, Y)[p]) / (2 * h)
        assert dW[0][index] == pytest.approx(numeric, abs=1e-7)

    before = network.loss(W, b, X, Y)
    rates = [amsgrad.param("learning_rate").coerce(lr) for lr in (0.05, 0.02, 0.01)]
    hyper = amsgrad.resolve({}) | {"learning_rate": np.array(rates)}  # one rate per member
    results = train(network, W, b, X, Y, amsgrad, hyper, Schedule(epochs=40), rngs)
    final = np.array([r.history["loss"][1][-1] for r in results])
    assert [r.status for r in results] == ["finished"] * members
    assert np.all(final < before)
    assert np.all(network.loss(W, b, X, Y) < before)  # train left the final weights in W, b
    keep = strategy.select(final)
    assert final[keep] == final.min()


def test_a_worker_with_another_plugin_version_fails_the_run_naming_both(
    example_plugins: Path,
    install_distribution: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runner.engine.population import PopulationTask
    from runner.execution import run_tasks
    from runner.table import specs_from_rows

    (spec,) = specs_from_rows([{"activation": "swish", "optimizer": "amsgrad", "epochs": 5}])
    assert dict(spec.versions)["step_rule:amsgrad"] == f"{DISTRIBUTION}=={VERSION}"
    newer = tmp_path / "plugin_pkg"
    shutil.copytree(PLUGIN_PKG, newer, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    pyproject = newer / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'"{VERSION}"', '"0.3.0"'))
    # worker processes start with this path: they find 0.3.0 where this process validated 0.2.0
    monkeypatch.syspath_prepend(str(install_distribution(newer)))
    results: list = []
    run_tasks(
        [PopulationTask((spec,))],
        jobs=2,
        scheduler=None,
        timeout=None,
        on_result=lambda task, got: results.extend(got),
    )
    (result,) = results
    assert result.status == "failed" and not result.weights
    assert result.reason.startswith("VersionMismatch: activation 'swish' is ")
    assert f"{DISTRIBUTION}==0.3.0 in this process" in result.reason
    assert f"validated and hashed with {DISTRIBUTION}=={VERSION}" in result.reason


# --- task fit: the data set's task decides which costs and output activations fit ---------------

FIT_HEADER = "dataset,hidden,activation,output_activation,cost,learning_rate,epochs\n"
FOR_REGRESSION = "costs squared_error; output activations identity, leaky_relu, relu, softplus"
#: table row -> the first line of the error (after "Error: <table>: row 1, ")
MISFITS = {
    "diabetes,4,tanh,sigmoid,cross_entropy,0.1,5": (
        "column 'cost': 'cross_entropy' is not valid: data set 'diabetes' is a regression task; "
        "cost 'cross_entropy' serves classification, not regression; output activation "
        "'sigmoid' gives outputs in [0, 1], the targets span [25, 346]; what fits it: "
        + FOR_REGRESSION
    ),
    "diabetes,4,tanh,softmax,categorical_cross_entropy,0.1,5": (
        "column 'cost': 'categorical_cross_entropy' is not valid: data set 'diabetes' is a "
        "regression task; cost 'categorical_cross_entropy' serves classification, not "
        "regression; output activation 'softmax' serves classification, not regression; what "
        "fits it: " + FOR_REGRESSION
    ),
    "xor,2,tanh,identity,squared_error,0.1,5": (
        "column 'output_activation': 'identity' is not valid: data set 'xor' is a classification "
        "task; output activation 'identity' serves regression, not classification; what fits "
        "it: costs categorical_cross_entropy, cross_entropy, squared_error; output activations "
        "sigmoid, softmax, tanh"
    ),
    "xor,2,tanh,relu,squared_error,0.1,5": (
        "column 'output_activation': 'relu' is not valid: data set 'xor' is a classification "
        "task; output activation 'relu' serves regression, not classification; what fits it: "
        "costs categorical_cross_entropy, cross_entropy, squared_error; output activations "
        "sigmoid, softmax, tanh"
    ),
}


@pytest.mark.parametrize("row", sorted(MISFITS))
def test_a_cost_or_output_that_does_not_fit_the_task_is_one_line_and_exit_2(
    row: str, tmp_path: Path
) -> None:
    table = tmp_path / "misfit.csv"
    table.write_text(FIT_HEADER + row + "\n")
    store = tmp_path / "store"
    store.mkdir()
    result = CliRunner().invoke(
        cli, ["sweep", str(table), "--tracking-uri", f"sqlite:///{store}/mlflow.db"]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"Error: {table}: row 1, {MISFITS[row]}"]
    assert list(store.iterdir()) == []  # nothing written


def test_a_misfit_shared_by_many_rows_is_one_line_naming_them() -> None:
    from runner.errors import TableError
    from runner.table import specs_from_rows

    rows = [{"dataset": "xor", "output_activation": "identity", "cost": "squared_error"}] * 8
    rows = [dict(row, seed=seed) for seed, row in enumerate(rows)]
    with pytest.raises(TableError) as caught:
        specs_from_rows(rows, source="t.csv")
    (line,) = caught.value.problems
    assert line.startswith("t.csv: row 1, column 'output_activation': 'identity' is not valid")
    assert "(also rows 2, 3, 4, 5, 6 and 2 more)" in line


def test_undeclared_tasks_follow_from_the_declared_ranges() -> None:
    from runner import Activation, Cost

    class Bounded(Activation):
        output_range = (-2.0, 2.0)

    class Normalizing(Activation):
        output_range = (0.0, 1.0)
        normalizes = True

    class Likelihood(Cost):
        input_range = (0.0, 1.0)

    both = ("classification", "regression")
    assert Activation().serves() == ("regression",)  # unbounded: fits numbers
    assert Bounded().serves() == both  # class probabilities, or targets inside its range
    assert Normalizing().serves() == ("classification",)
    assert Cost().serves() == both
    assert Likelihood().serves() == ("classification",)


def test_third_party_plugins_fit_by_their_declarations(example_plugins: Path) -> None:
    from runner.errors import TableError
    from runner.table import specs_from_rows

    # huber declares no tasks and takes any output: it serves both tasks
    fine = [
        {"dataset": "diabetes", "output_activation": "identity", "cost": "huber"},
        {"dataset": "checkerboard", "output_activation": "sigmoid", "cost": "huber"},
    ]
    assert len(specs_from_rows(fine)) == 2
    # swish declares no tasks and is unbounded above: it serves regression, not classification
    bad = [{"dataset": "checkerboard", "output_activation": "swish", "cost": "huber"}]
    with pytest.raises(TableError, match="output activation 'swish' serves regression, not"):
        specs_from_rows(bad)


def test_runner_plugins_shows_the_tasks_each_cost_and_activation_serves(
    example_plugins: Path,
) -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    tasks = {(d["kind"], d["name"]): d.get("tasks") for d in json.loads(result.output)}
    assert tasks["activation", "swish"] == ["regression"]  # undeclared: unbounded above
    assert tasks["activation", "softmax"] == ["classification"]
    assert tasks["cost", "huber"] == ["classification", "regression"]
    assert tasks["cost", "cross_entropy"] == ["classification"]
    assert tasks["step_rule", "amsgrad"] is None


def test_a_plugin_installed_from_a_folder_is_hashed_with_its_source(
    example_plugins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pip install DIR`` (or ``-e DIR``) may change a plugin under the same version: the
    plugin's source digest joins its version, so an edited plugin is trained again."""
    from conftest import clear_registry_cache, pip_install_target

    from runner.table import specs_from_rows

    row = {"activation": "swish", "epochs": 5}
    wheel_pin = dict(specs_from_rows([row])[0].versions)["activation:swish"]
    site = pip_install_target(PLUGIN_PKG, tmp_path / "site", from_folder=True)
    monkeypatch.syspath_prepend(str(site))  # ahead of the wheel's copy, imported afresh
    for module in [m for m in sys.modules if m.split(".")[0] == "runner_example"]:
        monkeypatch.delitem(sys.modules, module)

    def pin_and_hash() -> tuple[str, str]:
        clear_registry_cache()
        (spec,) = specs_from_rows([row])
        return dict(spec.versions)["activation:swish"], spec.spec_hash()

    pin, first = pin_and_hash()
    assert wheel_pin == f"{DISTRIBUTION}=={VERSION}"
    assert re.fullmatch(rf"{DISTRIBUTION}=={re.escape(VERSION)}\+src\.[0-9a-f]{{12}}", pin)
    assert pin_and_hash() == (pin, first)  # the same source, the same hash
    helper = site / "runner_example" / "datasets.py"  # not the activation's module: its package
    helper.write_text(helper.read_text() + "\n# edited\n")
    edited, second = pin_and_hash()
    assert edited != pin and second != first


# --- broken packages ---------------------------------------------------------------------------
# A corpus of real distributions, each broken in one way, built and installed once per test run
# (made_once) into one folder. Each fails alone: `runner --help` and a sweep of built-ins work,
# `runner plugins` lists it broken, a table naming one of its plugins fails with its error.

DUPLICATE_SOURCE = '''\
"""Registers an activation of its own, and one whose name the built-ins already use."""

from runner import Activation, hookimpl


class Doubled(Activation):
    name = "dupact"

    def forward(self, z, **params):
        return 2.0 * z

    def derivative(self, z, a, **params):
        return z * 0 + 2.0


class AnotherSigmoid(Doubled):
    name = "sigmoid"


@hookimpl
def register_activations(register):
    register(Doubled())
    register(AnotherSigmoid())
'''

BROKEN_IMPORT_SOURCE = '''\
"""Needs a package that is not installed, so importing it fails."""

import runner_dependency_that_is_not_installed  # noqa: F401
'''

MISSPELLED_SOURCE = '''\
"""Implements register_activation (singular): a hook runner does not have."""

from runner import Activation, hookimpl


class Doubled(Activation):
    name = "doubled"

    def forward(self, z, **params):
        return 2.0 * z

    def derivative(self, z, a, **params):
        return z * 0 + 2.0


@hookimpl
def register_activation(register):
    register(Doubled())
'''

PER_MEMBER_SOURCE = '''\
"""Declares a per-member parameter on an activation, where nothing would honour it."""

from runner import Activation, Param, hookimpl


class Scaled(Activation):
    name = "scaled"
    params = (Param("gain", float, 1.0, "slope", per_member=True),)

    def forward(self, z, gain=1.0, **params):
        return gain * z

    def derivative(self, z, a, gain=1.0, **params):
        return z * 0 + gain


@hookimpl
def register_activations(register):
    register(Scaled())
'''

ARGUMENT_SOURCE = '''\
"""Names the argument of its hook `reg`, where the hook passes `register`."""

from runner import Activation, hookimpl


class Tripled(Activation):
    name = "argact"

    def forward(self, z, **params):
        return 3.0 * z

    def derivative(self, z, a, **params):
        return z * 0 + 3.0


@hookimpl
def register_activations(reg):
    reg(Tripled())
'''

RAISES_SOURCE = '''\
"""Registers one activation, then its hook raises."""

from runner import Activation, hookimpl


class Half(Activation):
    name = "halfact"

    def forward(self, z, **params):
        return 0.5 * z

    def derivative(self, z, a, **params):
        return z * 0 + 0.5


@hookimpl
def register_activations(register):
    register(Half())
    raise RuntimeError("the hook blew")
'''

STRING_SOURCE = '''\
"""Passes a name to register instead of a plugin object."""

from runner import hookimpl


@hookimpl
def register_costs(register):
    register("huber")
'''

COMMAND_RAISES_SOURCE = '''\
"""Registers an activation; its register_commands hook raises."""

from runner import Activation, hookimpl


class Quarter(Activation):
    name = "cmdact"

    def forward(self, z, **params):
        return 0.25 * z

    def derivative(self, z, a, **params):
        return z * 0 + 0.25


@hookimpl
def register_activations(register):
    register(Quarter())


@hookimpl
def register_commands(cli):
    raise ValueError("no commands today")
'''


@dataclass(frozen=True)
class BadPackage:
    """One broken distribution of the corpus: its source, a plugin a table may name (its part
    and name), and what its one-line error says."""

    dist: str
    module: str
    source: str
    part: str
    plugin: str
    expected: tuple[str, ...]

    @property
    def entry_point(self) -> str:
        return self.module.rsplit("_", 1)[-1]


#: the corpus: each distribution breaks one rule; the key names the rule
BAD = {
    "broken_import": BadPackage(
        "runner-broken-import", "runner_broken_import", BROKEN_IMPORT_SOURCE, "activation",
        "mish",
        ("entry point 'import' (runner_broken_import) failed to load",
         "ModuleNotFoundError: No module named 'runner_dependency_that_is_not_installed'"),
    ),
    "collision": BadPackage(
        "runner-dup-sigmoid", "runner_dup_sigmoid", DUPLICATE_SOURCE, "activation", "dupact",
        ("two plugins register the activation 'sigmoid': distribution 'runner-mlp' and "
         "distribution 'runner-dup-sigmoid'",),
    ),
    "argument_name": BadPackage(
        "runner-bad-argument", "runner_bad_argument", ARGUMENT_SOURCE, "activation", "argact",
        ("its hook register_activations(reg) takes 'reg', which runner does not pass; "
         "expected register_activations(register)",),
    ),
    "hook_raises": BadPackage(
        "runner-hook-raises", "runner_hook_raises", RAISES_SOURCE, "activation", "halfact",
        ("its hook register_activations raised RuntimeError: the hook blew; expected it to "
         "call register with an activation (an instance of runner.Activation)",),
    ),
    "not_a_plugin": BadPackage(
        "runner-registers-a-string", "runner_registers_string", STRING_SOURCE, "cost", "huber",
        ("its hook register_costs called register with 'huber', which is no plugin object; "
         "register expects a cost (an instance of runner.Cost)",),
    ),
    "misspelled_hook": BadPackage(
        "runner-misspelled-hook", "runner_misspelled_hook", MISSPELLED_SOURCE, "activation",
        "doubled",
        ("it implements 'register_activation', which is not a runner hook; did you mean "
         "'register_activations'?",),
    ),
    "per_member": BadPackage(
        "runner-per-member-gain", "runner_per_member", PER_MEMBER_SOURCE, "activation",
        "scaled",
        ("is broken: activation 'scaled' declares its parameter 'gain' per_member, which only "
         "step rules and schedules may do",),
    ),
}  # fmt: skip
#: broken only where the command line asks plugins for their commands (runner.cli.main)
COMMAND_RAISES = BadPackage(
    "runner-command-raises", "runner_command_raises", COMMAND_RAISES_SOURCE, "activation",
    "cmdact",
    ("its hook register_commands raised ValueError: no commands today; expected it to add "
     "click commands to cli and return",),
)  # fmt: skip


@pytest.fixture(scope="session")
def bad_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every distribution of the corpus, installed into one folder with one pip call (once per
    test run); RUNNER_PLUGINS picks the one a test loads (the others are never imported)."""

    def make(folder: Path) -> None:
        sources = [
            one_module_project(folder / "src", b.dist, b.module, b.source, b.entry_point)
            for b in [*BAD.values(), COMMAND_RAISES]
        ]
        pip_install_target(sources, folder / "site")

    return made_once(tmp_path_factory, "broken-plugin-packages", make) / "site"


@pytest.fixture
def one_bad(bad_site: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], BadPackage]:
    """A function that makes the corpus's distribution ``which`` the one third party loaded."""
    monkeypatch.syspath_prepend(str(bad_site))

    def select(which: str) -> BadPackage:
        monkeypatch.setenv("RUNNER_PLUGINS", BAD[which].dist)
        get_registry.cache_clear()
        return BAD[which]

    return select


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Warning: ")]


@pytest.mark.parametrize("which", sorted(BAD))
def test_a_broken_distribution_is_left_out_alone(which: str, one_bad: Any) -> None:
    bad = one_bad(which)
    registry = get_registry()  # raises nothing
    [broken] = registry.broken
    assert broken.distribution == bad.dist and "\n" not in broken.message()
    for fragment in bad.expected:
        assert fragment in broken.message()
    assert {o.distribution for o in registry.all()} == {"runner-mlp"}
    assert (
        "sigmoid" in registry.activations
        and registry.activations["sigmoid"].distribution == "runner-mlp"
    )
    assert registry.warnings() == [f"{broken.message()}; its plugins are left out"]


@pytest.mark.parametrize("which", sorted(BAD))
def test_runner_plugins_lists_a_broken_distribution_with_its_error(
    which: str, one_bad: Any
) -> None:
    bad = one_bad(which)
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    [warning] = warnings_of(result.stderr)
    assert warning.startswith(f"Warning: distribution {bad.dist!r} is broken: ")
    rows = json.loads(result.stdout)
    [row] = [r for r in rows if r["status"] == "broken"]
    assert (row["distribution"], row["version"]) == (bad.dist, "1.0.0")
    assert all(fragment in row["error"] for fragment in bad.expected)
    assert {r["distribution"] for r in rows if r["status"] == "ok"} == {"runner-mlp"}

    table = CliRunner().invoke(cli, ["plugins"])
    assert table.exit_code == 0, table.output
    assert "broken" in table.stdout and bad.dist in table.stdout and "sigmoid" in table.stdout


@pytest.mark.parametrize("which", sorted(BAD))
def test_a_table_naming_a_plugin_of_a_broken_distribution_fails_with_its_error(
    which: str, one_bad: Any, tmp_path: Path
) -> None:
    bad = one_bad(which)
    table = tmp_path / "t.csv"
    table.write_text(f"dataset,{bad.part},epochs\nxor,{bad.plugin},5\n")
    store = tmp_path / "mlflow.db"
    result = CliRunner().invoke(cli, ["sweep", str(table), "--tracking-uri", f"sqlite:///{store}"])
    assert result.exit_code == 2, result.output
    [error] = [line for line in result.stderr.splitlines() if not line.startswith("Warning: ")]
    assert error.startswith(f"Error: {table}: row 1, column {bad.part!r}: '{bad.plugin}' ")
    assert f"distribution {bad.dist!r} is broken: " in error
    assert all(fragment in error for fragment in bad.expected)
    assert "Traceback" not in result.output and not store.exists()


@pytest.mark.parametrize("which", sorted(BAD))
def test_traceback_flag_shows_the_full_traceback(which: str, one_bad: Any) -> None:
    bad = one_bad(which)
    plain = CliRunner().invoke(cli, ["plugins", "--json"])
    assert "Traceback" not in plain.stderr
    result = CliRunner().invoke(cli, ["--traceback", "plugins", "--json"])
    assert result.exit_code == 0, result.output
    assert "Traceback (most recent call last)" in result.stderr
    assert warnings_of(result.stderr)[0].startswith(f"Warning: distribution {bad.dist!r}")


def test_traceback_flag_shows_the_traceback_of_an_error(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("dataset,activation,epochs\nxor,sigmod,5\n")
    result = CliRunner().invoke(cli, ["--traceback", "sweep", str(table)])
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "TableError" in result.stderr and result.stderr.rstrip().splitlines()[-1].startswith(
        f"Error: {table}: row 1"
    )


def test_distributions_left_out_by_runner_plugins_are_never_imported(
    bad_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(bad_site))
    monkeypatch.setenv("RUNNER_PLUGINS", "")
    before = set(sys.modules)
    registry = get_registry()
    assert {o.distribution for o in registry.all()} == {"runner-mlp"} and not registry.broken
    modules = {b.module for b in [*BAD.values(), COMMAND_RAISES]}
    assert not modules & (set(sys.modules) - before)


def test_an_unknown_runner_plugins_entry_is_warned_about(
    example_plugins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNNER_PLUGINS", "runner-example-plugin, example")
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    assert warnings_of(result.stderr) == [
        "Warning: RUNNER_PLUGINS names 'runner-example-plugin', which is no installed plugin "
        f"distribution or entry point; did you mean {DISTRIBUTION!r}? installed: "
        f"{DISTRIBUTION}, runner-mlp"
    ]


def test_unknown_plugin_messages_say_what_runner_plugins_left_out(
    example_plugins: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RUNNER_PLUGINS", "")
    left_out = f"RUNNER_PLUGINS='' leaves out the installed distribution {DISTRIBUTION!r}"
    check = CliRunner().invoke(cli, ["check", "swish"])
    assert check.exit_code == 2
    assert check.stderr.startswith("Error: no installed plugin is called 'swish'; ")
    assert left_out in check.stderr and check.stderr.count("\n") == 1
    table = tmp_path / "t.csv"
    table.write_text("dataset,activation,epochs\nxor,swish,5\n")
    sweep = CliRunner().invoke(cli, ["sweep", str(table), "--dry-run"])
    assert sweep.exit_code == 2 and left_out in sweep.stderr


def test_a_plugin_of_a_broken_distribution_named_to_check_says_its_error(one_bad: Any) -> None:
    bad = one_bad("hook_raises")
    result = CliRunner().invoke(cli, ["check", bad.plugin])
    assert result.exit_code == 2
    [error] = [line for line in result.stderr.splitlines() if not line.startswith("Warning: ")]
    assert (
        error == f"Error: plugin 'halfact' is not available: {get_registry().broken[0].message()}"
    )


@pytest.mark.slow
def test_broken_packages_leave_help_and_a_sweep_of_built_ins_working(
    bad_site: Path, tmp_path: Path, sqlite_uri: str
) -> None:
    """Every broken distribution of the corpus installed and loaded at once, in real processes."""
    env = {k: v for k, v in os.environ.items() if k != "RUNNER_PLUGINS"}
    env["PYTHONPATH"] = str(bad_site)
    done = run_cli("--help", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "sweep" in done.stdout and "Traceback" not in done.stderr
    warned = warnings_of(done.stderr)
    assert len(warned) == len(done.stderr.splitlines()) == len(BAD) + 1
    for bad in [*BAD.values(), COMMAND_RAISES]:
        [line] = [w for w in warned if w.startswith(f"Warning: distribution {bad.dist!r} ")]
        assert all(fragment in line for fragment in bad.expected)

    table = tmp_path / "xor.csv"
    table.write_text("dataset,hidden,activation,epochs,seed\nxor,2,tanh,20,0..1\n")
    sweep = run_cli("sweep", str(table), "--jobs", "1", "--quiet", "--tracking-uri", sqlite_uri,
                    env=env, cwd=tmp_path)  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr
    assert "Traceback" not in sweep.stderr
    assert len(warnings_of(sweep.stderr)) == len(BAD) + 1


# --- hostile packages: sys.exit, KeyboardInterrupt, shadowed commands (issue 25.6) -------------

HOSTILE_SOURCES = {
    # dist: (module, source)
    "runner-exits-at-import": ("runner_exits_at_import", "import sys\n\nsys.exit(3)\n"),
    "runner-interrupts-at-import": (
        "runner_interrupts_at_import",
        "raise KeyboardInterrupt\n",
    ),
    "runner-shadows-sweep": (
        "runner_shadows_sweep",
        textwrap.dedent("""\
            import click

            from runner import hookimpl


            @hookimpl
            def register_commands(cli):
                @cli.command("shadow-extra")
                def extra():
                    click.echo("extra")

                @cli.command("sweep")
                def sweep():
                    click.echo("hijacked")
            """),
    ),
    "runner-shadows-report": (
        "runner_shadows_report",
        textwrap.dedent("""\
            import click

            from runner import hookimpl


            @click.command("report")
            def report():
                click.echo("hijacked")


            @hookimpl
            def register_commands(cli):
                cli.add_command(report)
            """),
    ),
    "runner-hostile-activations": (
        "runner_hostile_activations",
        textwrap.dedent("""\
            import sys

            from runner import Activation, hookimpl


            class Exits(Activation):
                name = "exiter"

                def forward(self, z, **params):
                    sys.exit(3)

                def derivative(self, z, a, **params):
                    return z * 0 + 1.0


            class Interrupts(Exits):
                name = "interrupter"

                def forward(self, z, **params):
                    raise KeyboardInterrupt


            @hookimpl
            def register_activations(register):
                register(Exits())
                register(Interrupts())
            """),
    ),
    "runner-dawdles": (
        "runner_dawdles",
        textwrap.dedent('''\
            import os
            import pathlib
            import time

            import click
            import numpy as np

            from runner import Activation, hookimpl


            def dawdle():
                pathlib.Path(os.environ["RUNNER_TEST_MARK"]).write_text("dawdling")
                time.sleep(60)


            class Dawdler(Activation):
                """tanh, but slow on the grid of a figure (training sees 4 samples)."""

                name = "dawdler"

                def forward(self, z, **params):
                    if z.size >= 10_000:
                        dawdle()
                    return np.tanh(z)

                def derivative(self, z, a, **params):
                    return 1.0 - a * a


            @click.command("dawdle")
            def dawdle_command():
                dawdle()


            @hookimpl
            def register_activations(register):
                register(Dawdler())


            @hookimpl
            def register_commands(cli):
                cli.add_command(dawdle_command)
            '''),
    ),
    "runner-slow-import": (
        "runner_slow_import",
        textwrap.dedent("""\
            import os
            import pathlib
            import time

            pathlib.Path(os.environ["RUNNER_TEST_MARK"]).write_text("importing")
            time.sleep(60)
            """),
    ),
}


@pytest.fixture(scope="session")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile distributions, installed into one folder once per test run; RUNNER_PLUGINS
    picks the one a test loads."""

    def make(folder: Path) -> None:
        sources = [
            one_module_project(folder / "src", dist, module, source, module.rsplit("_", 1)[-1])
            for dist, (module, source) in HOSTILE_SOURCES.items()
        ]
        pip_install_target(sources, folder / "site")

    return made_once(tmp_path_factory, "hostile-plugin-packages", make) / "site"


def hostile_env(site: Path, dist: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(site), RUNNER_PLUGINS=dist)
    return env


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dist", "said"),
    [
        ("runner-exits-at-import", "SystemExit: 3"),
        ("runner-interrupts-at-import", "KeyboardInterrupt"),
    ],
)
def test_a_package_exiting_or_interrupting_at_import_is_left_out_alone(
    dist: str, said: str, hostile_site: Path, tmp_path: Path
) -> None:
    env = hostile_env(hostile_site, dist)
    for args in (["--help"], ["plugins", "--json"]):
        done = run_cli(*args, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() and "Traceback" not in done.stderr
        [line] = done.stderr.splitlines()
        assert line.startswith(f"Warning: distribution {dist!r} is broken: entry point ")
        assert line.endswith(f"failed to load: {said}; its plugins are left out")
    assert "sweep" in run_cli("--help", env=env, cwd=tmp_path).stdout


@pytest.mark.slow
@pytest.mark.parametrize("command", ["sweep", "report"])
def test_a_plugin_command_cannot_shadow_a_built_in(
    command: str, hostile_site: Path, tmp_path: Path
) -> None:
    dist = f"runner-shadows-{command}"
    env = hostile_env(hostile_site, dist)
    done = run_cli("--help", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"Warning: distribution {dist!r} is broken: its hook register_commands adds the command "
        f"{command!r}, which is runner's own command; a plugin's command takes a name of its "
        "own; its plugins are left out"
    ]
    assert "shadow-extra" not in done.stdout  # the distribution is left out whole
    own = run_cli(command, "--help", env=env, cwd=tmp_path)
    assert own.returncode == 0 and "hijacked" not in own.stdout
    assert getattr(cli.commands[command], "help", "").split("\n")[0] in own.stdout


@pytest.mark.slow
def test_an_activation_exiting_or_interrupting_fails_its_run_alone(
    hostile_site: Path, tmp_path: Path, sqlite_uri: str
) -> None:
    env = hostile_env(hostile_site, "runner-hostile-activations")
    table = tmp_path / "t.csv"
    table.write_text(
        "dataset,hidden,activation,epochs,seed\nxor,2,exiter,5,0\nxor,2,interrupter,5,0\n"
        "xor,2,tanh,5,0\n"
    )
    done = run_cli("sweep", str(table), "--jobs", "1", "--quiet", "--no-report",
                   "--tracking-uri", sqlite_uri, env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    said = " ".join(done.stdout.split())  # the lines as a terminal of any width shows them
    of = "of distribution 'runner-hostile-activations')"
    assert f"failed exiter-seed0 (row 1): SystemExit: 3 (in activation 'exiter' {of}" in said
    assert (
        "failed interrupter-seed0 (row 2): KeyboardInterrupt (in activation "
        f"'interrupter' {of}" in said
    )
    assert "finished 1, diverged 0, failed 2, skipped 0" in said


def ctrl_c_when_marked(site: Path, dist: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """``runner ARGS`` in a real subprocess, sent a real SIGINT once the plugin code of
    ``dist`` marks that it runs (and then sleeps); its exit code, stdout and stderr."""
    mark = tmp_path / "marked"
    env = dict(hostile_env(site, dist), RUNNER_TEST_MARK=str(mark))
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", *args], env=env, cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_sigint,
    )  # fmt: skip
    try:
        for _ in range(2400):
            if mark.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        assert mark.exists(), f"the plugin code never ran: {process.communicate()}"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, stderr


@pytest.mark.slow
def test_ctrl_c_while_the_plugins_load_stops_with_130(hostile_site: Path, tmp_path: Path) -> None:
    """A real SIGINT while a package imports is a stop, not that package's failure."""
    dist = "runner-slow-import"
    code, stdout, stderr = ctrl_c_when_marked(hostile_site, dist, tmp_path, "--help")
    assert code == 130, stderr
    assert stderr.splitlines() == [
        "Error: interrupted (Ctrl-C) while the plugins loaded; nothing was done"
    ]
    assert "broken" not in stderr and not stdout


@pytest.mark.slow
def test_ctrl_c_in_a_command_exits_130_not_aborted(hostile_site: Path, tmp_path: Path) -> None:
    """Ctrl-C where no sweep handles it (a command starting up): one line and 130, not click's
    "Aborted!" and 1 (issue 25.11)."""
    code, _, stderr = ctrl_c_when_marked(hostile_site, "runner-dawdles", tmp_path, "dawdle")
    assert code == 130, stderr
    assert stderr.splitlines() == ["Error: interrupted (Ctrl-C)"]


@pytest.mark.slow
def test_ctrl_c_during_the_end_of_sweep_report_exits_130(
    hostile_site: Path, tmp_path: Path, sqlite_uri: str
) -> None:
    """A real SIGINT while the study at a sweep's end draws its figures: the run is recorded,
    the exit code is 130 and one line says so (issue 25.11)."""
    table = tmp_path / "t.csv"
    table.write_text("dataset,hidden,activation,epochs,seed\nxor,2,dawdler,5,0\n")
    code, _, stderr = ctrl_c_when_marked(hostile_site, "runner-dawdles", tmp_path, "sweep",
                                         str(table), "--jobs", "1", "--quiet",
                                         "--tracking-uri", sqlite_uri)  # fmt: skip
    assert code == 130, stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert stderr.splitlines()[-1] == (
        "Error: interrupted (Ctrl-C) while the sweep's report was made: every run is "
        "recorded; runner report makes the report from the store"
    )
    env = hostile_env(hostile_site, "runner-dawdles")
    report = run_cli("report", str(table), "--json", "--tracking-uri", sqlite_uri, env=env,
                     cwd=tmp_path)  # fmt: skip
    assert report.returncode == 0, report.stderr
    [group] = json.loads(report.stdout)["groups"]
    assert group["counts"]["finished"] == 1


# --- every hook is tested and documented -------------------------------------------------------


def test_every_hook_is_tested() -> None:
    assert set(HOOK_TESTS) == hook_names()
    assert set(HOOK_KINDS) | {"register_commands"} == hook_names()
    for hook, test_name in HOOK_TESTS.items():
        test = globals().get(test_name)
        assert callable(test), f"{hook}: no test called {test_name}"


def test_example_distribution_implements_every_hook(example_plugins: Path) -> None:
    pm = get_plugin_manager()
    implemented = {
        hook
        for hook in hook_names()
        if any(
            i.plugin_name.startswith(DISTRIBUTION) for i in getattr(pm.hook, hook).get_hookimpls()
        )
    }
    assert implemented == hook_names()


HOOK_HEADING = re.compile(r"^### `(\w+)(\(.*\)(?: -> .+)?)`$", re.MULTILINE)


def documented_hooks() -> dict[str, tuple[str, str]]:
    """Hook name -> (signature, the section's first python block) from docs/plugins.md."""
    text = DOCS.read_text(encoding="utf-8")
    headings = list(HOOK_HEADING.finditer(text))
    out = {}
    for match in headings:
        rest = text[match.end() :]
        section = re.split(r"^#{1,3} ", rest, maxsplit=1, flags=re.MULTILINE)[0]
        block = re.search(r"^```python\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
        out[match.group(1)] = (match.group(2), block.group(1) if block else "")
    return out


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    documented = documented_hooks()
    assert set(documented) == hook_names()
    for name in hook_names():
        spec = getattr(hookspecs, name)
        assert documented[name][0] == str(inspect.signature(spec, eval_str=True)), name


def load_doc_example(name: str, source: str, tmp_path: Path) -> Any:
    """Import a code block of the docs as a module of its own."""
    path = tmp_path / f"doc_example_{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("hook", sorted(HOOK_TESTS))
def test_every_documented_example_runs(
    hook: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNNER_PLUGINS", "")  # the built-ins and the example from the docs only
    _, source = documented_hooks()[hook]
    assert source, f"docs/plugins.md has no python example for {hook}"
    module = load_doc_example(hook, source, tmp_path)
    pm = get_plugin_manager(extra=[module])
    if hook == "register_commands":
        group = click.Group("runner")
        pm.hook.register_commands(cli=group)
        assert group.commands, "the example adds no command"
        for command in group.commands.values():
            result = CliRunner().invoke(group, [command.name])
            assert result.exit_code == 0, result.output
        return
    builtins = collect(get_plugin_manager())
    registry = collect(pm)
    new = [o for o in registry.all() if o.name not in builtins.by_kind[o.kind]]
    assert new, f"the example for {hook} registers nothing"
    for obj in new:
        assert obj.kind in HOOK_KINDS[hook]
        from runner.testing import check_plugin

        check_plugin(obj)
