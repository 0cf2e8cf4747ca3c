"""Training one population of compatible run specifications, in whichever process runs it.

A :class:`PopulationTask` is plain data (specifications and logging settings) so that it can be
sent to a worker process or a dask worker. :func:`run_population` trains every member of every
specification in one vectorized pass, lets each specification's strategy choose which of its
members to keep, and returns one :class:`~runner.spec.RunResult` per specification. It never
talks to the tracking store.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from runner.data import Prepared, accuracy, labels, prepare
from runner.manager import get_registry
from runner.network import Network, member_rng
from runner.spec import RunResult, RunSpec
from runner.training import Schedule, train


@dataclass(frozen=True)
class PopulationTask:
    """Specifications that share shapes and plugins, trained together."""

    specs: tuple[RunSpec, ...]
    log_every: int = 0
    max_points: int = 200

    @property
    def hashes(self) -> tuple[str, ...]:
        return tuple(s.spec_hash() for s in self.specs)


def run_population(task: PopulationTask) -> list[RunResult]:
    """Train the task's population; a failure is confined to the specifications that cause it.

    If training the whole population raises, each specification is retried alone, so a plugin
    that raises for one configuration marks only that run FAILED.
    """
    try:
        return _train_population(task)
    except Exception as exc:
        if len(task.specs) > 1:
            results: list[RunResult] = []
            for spec in task.specs:
                alone = PopulationTask((spec,), task.log_every, task.max_points)
                results.extend(run_population(alone))
            return results
        spec = task.specs[0]
        return [
            RunResult(
                spec=spec,
                spec_hash=spec.spec_hash(),
                status="failed",
                reason=f"{type(exc).__name__}: {exc}",
            )
        ]


@functools.lru_cache(maxsize=16)
def _prepared(
    dataset: str,
    dataset_params: tuple[tuple[str, Any], ...],
    data_seed: int,
    test_size: float,
    scale: str,
    one_hot: bool,
    dtype: str,
) -> Prepared:
    source = get_registry().get("dataset", dataset)
    return prepare(
        source,
        dict(dataset_params),
        data_seed=data_seed,
        test_size=test_size,
        scale=scale,
        one_hot=one_hot,
        dtype=np.dtype(dtype),
    )


def _train_population(task: PopulationTask) -> list[RunResult]:
    start = time.perf_counter()
    registry = get_registry()
    first = task.specs[0]
    hidden_act = registry.get("activation", first.activation)
    output_act = registry.get("activation", first.output_activation)
    cost = registry.get("cost", first.cost)
    initializer = registry.get("initializer", first.initializer)
    step_rule = registry.get("step_rule", first.optimizer)
    dtype = np.dtype(first.dtype)

    data = _prepared(
        first.dataset,
        first.dataset_params,
        first.data_seed,
        first.test_size,
        first.scale,
        output_act.normalizes,
        first.dtype,
    )
    network = Network(
        sizes=(data.X.shape[0], *first.hidden, data.Y.shape[0]),
        hidden=hidden_act,
        output=output_act,
        cost=cost,
        hidden_params=first.params_of("activation"),
        output_params=first.params_of("output"),
        cost_params=first.params_of("cost"),
        dtype=dtype,
    )

    # one member per (specification, restart), each with its own generator
    owners: list[int] = []
    keys: list[tuple[int, int]] = []
    strategies = []
    for i, spec in enumerate(task.specs):
        strategy = registry.get("strategy", spec.strategy)
        strategies.append(strategy)
        for restart in range(strategy.members(**spec.params_of("strategy"))):
            owners.append(i)
            keys.append((spec.seed, restart))
    full_batch = first.batch_size <= 0 or first.batch_size >= data.X.shape[-1]
    # the generators shuffle mini-batches after drawing the initial weights; with full batches
    # they are needed only for the draw, one at a time (a generator takes ~1 KB)
    rngs = [] if full_batch else [member_rng(seed, restart) for seed, restart in keys]
    draws = (member_rng(seed, restart) for seed, restart in keys) if full_batch else rngs
    W, b = network.init_population(initializer, first.params_of("initializer"), draws, len(keys))

    hyper: dict[str, Any] = {}
    for p in step_rule.params:
        values = [task.specs[i].params_of("optimizer")[p.name] for i in owners]
        hyper[p.name] = np.asarray(values, dtype=np.float64) if p.per_member else values[0]

    schedule = Schedule(
        epochs=first.epochs,
        batch_size=first.batch_size,
        target_loss=first.target_loss,
        gradient_tolerance=first.gradient_tolerance,
        log_every=task.log_every,
        max_points=task.max_points,
    )
    classify = data.task == "classification"
    acc, to_labels = (accuracy, labels) if classify else (None, None)
    members = train(network, W, b, data.X, data.Y, step_rule, hyper, schedule, rngs, to_labels)

    with np.errstate(all="ignore"):
        final = _evaluate(network, W, b, data, acc)
    elapsed = time.perf_counter() - start
    architecture = _architecture(first, network, data)

    owners_arr = np.asarray(owners)
    results = []
    for i, spec in enumerate(task.specs):
        mine = np.flatnonzero(owners_arr == i)
        losses = final["train_loss"][mine]
        chosen = int(mine[strategies[i].select(losses, **spec.params_of("strategy"))])
        m = members[chosen]
        metrics = {k: float(v[chosen]) for k, v in final.items()}
        metrics.update(
            epochs=float(m.epochs),
            converged=float(m.converged),
            diverged=float(m.status == "diverged"),
            wall_time=elapsed * len(mine) / len(owners),
            restarts=float(len(mine)),
            selected_restart=float(chosen - mine[0]),
        )
        results.append(
            RunResult(
                spec=spec,
                spec_hash=spec.spec_hash(),
                status=m.status,
                reason=m.reason,
                metrics=metrics,
                history=m.history,
                weights=m.weights,
                biases=m.biases,
                restart_losses=[float(x) for x in losses],
                architecture=architecture,
                wall_time=metrics["wall_time"],
            )
        )
    return results


def _evaluate(network: Network, W: list, b: list, data: Prepared, acc: Any) -> dict[str, Any]:
    """Final loss (and accuracy) of every member on the training and test sets."""
    out: dict[str, Any] = {}
    sets = [("train", data.X, data.Y)]
    if data.X_test is not None:
        sets.append(("test", data.X_test, data.Y_test))
    for label, X, Y in sets:
        a = network.predict(W, b, X)
        out[f"{label}_loss"] = network.cost.value(a, Y, **network.cost_params)
        if acc is not None:
            out[f"{label}_accuracy"] = acc(a, Y)
    return out


def _architecture(spec: RunSpec, network: Network, data: Prepared) -> dict[str, Any]:
    """What it takes to rebuild the network for prediction, as JSON-ready data."""
    return {
        "sizes": list(network.sizes),
        "hidden_activation": spec.activation,
        "hidden_params": network.hidden_params,
        "output_activation": spec.output_activation,
        "output_params": network.output_params,
        "cost": spec.cost,
        "cost_params": network.cost_params,
        "dtype": spec.dtype,
        "task": data.task,
        "n_classes": data.n_classes,
        "feature_names": list(data.feature_names),
        "preprocessing": {
            "scale": data.scale,
            "shift": data.shift.ravel().tolist(),
            "spread": data.spread.ravel().tolist(),
            "one_hot": data.one_hot,
        },
    }
