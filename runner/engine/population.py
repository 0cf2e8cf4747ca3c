"""Training one population of compatible run specifications, in whichever process runs it.

A :class:`PopulationTask` is plain data (specifications and logging settings) so that it can be
sent to a worker process or a dask worker. :func:`run_population` trains every member of every
specification in one vectorized pass (:func:`train_members`, which the estimators share), lets
each specification's strategy choose which of its members to keep, and returns one
:class:`~runner.spec.RunResult` per specification. A plugin whose installed version differs
from the one the table was validated and hashed with fails its runs instead of training them.
Never talks to the tracking store; imports the rest of :mod:`runner.engine`, :mod:`runner.plugin`
and :mod:`runner.spec`.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runner.engine import curvature
from runner.engine.buffers import member_hyper
from runner.engine.data import (
    DataKey,
    Prepared,
    accuracy,
    describe_data,
    labels,
    validation_split,
)
from runner.engine.deadline import time_limit
from runner.engine.minimize import Members, minimize
from runner.engine.network import Network, member_rng, with_ones
from runner.engine.settings import PARTS, row_parts
from runner.engine.trained import Architecture
from runner.engine.training import (
    MAX_POINTS,
    PopulationResult,
    RateControl,
    Schedule,
    Validation,
    train,
)
from runner.errors import error_reason, plugin_failure
from runner.plugin.kinds import Initializer, RateSchedule, StepRule
from runner.plugin.params import Plugin, kind_label
from runner.plugin.registry import Registry, get_registry
from runner.spec import RunResult, RunSpec


@dataclass(frozen=True)
class PopulationTask:
    """Specifications that share shapes and plugins, trained together."""

    specs: tuple[RunSpec, ...]
    log_every: int = 0
    max_points: int = MAX_POINTS
    #: seconds the population may train before its runs fail as timed out (None: no limit;
    #: the sweep's guard, :data:`runner.sweep.GUARD_FACTOR`)
    deadline: float | None = None

    @property
    def hashes(self) -> tuple[str, ...]:
        return tuple(s.spec_hash() for s in self.specs)


class VersionMismatch(Exception):
    """A plugin installed here is not the version the specification was validated with."""


class TimedOut(Exception):
    """A population trained past its :attr:`PopulationTask.deadline`."""


def run_population(task: PopulationTask) -> list[RunResult]:
    """Train the task's population; a failure is confined to the specifications that cause it.

    If training the whole population raises, each specification is retried alone, so a plugin
    that raises for one configuration marks only that run FAILED (with its traceback); so does
    one that calls ``sys.exit`` or raises ``KeyboardInterrupt`` (a stop signal still stops:
    :func:`runner.errors.plugin_failure`). A population still training at its ``deadline``
    fails whole, as timed out (:func:`runner.engine.deadline.time_limit`), not retried.
    """

    def expired() -> TimedOut:
        return TimedOut(
            f"timed out after {task.deadline:g} s, far beyond the plan's estimate (a plugin's "
            "loop that never ends?); --timeout SECONDS sets the limit"
        )

    try:
        with time_limit(task.deadline, expired):
            return _train_population(task)
    except BaseException as exc:  # a plugin's sys.exit or KeyboardInterrupt too, not a signal's
        if not plugin_failure(exc):
            raise
        if len(task.specs) > 1 and not isinstance(exc, (VersionMismatch, TimedOut)):
            results: list[RunResult] = []
            for spec in task.specs:
                alone = dataclasses.replace(task, specs=(spec,))
                results.extend(run_population(alone))
            return results
        where = traceback.format_exc()
        return [
            RunResult(
                spec=spec,
                spec_hash=spec.spec_hash(),
                status="failed",
                reason=error_reason(exc) + _raised_in(exc, spec),
                traceback=where,
            )
            for spec in task.specs
        ]


def _raised_in(exc: BaseException, spec: RunSpec) -> str:
    """`` (in activation 'x' of distribution 'd')``: the plugin of ``spec`` whose method raised
    ``exc`` (the innermost such frame of its traceback), so that a failed run names the
    distribution at fault; "" when no plugin's method is in it."""
    try:
        registry = get_registry()
        plugins = [
            registry.get(PARTS[part], getattr(spec, part)) for part in row_parts(spec.objective)
        ]
    except Exception:  # naming the culprit is a courtesy; the failure is the error itself
        return ""
    found = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        owner = frame.f_locals.get("self")
        if any(owner is p for p in plugins):
            found = owner
    if found is None:
        return ""
    return f" (in {found.label()} of distribution {found.distribution!r})"


def resolve_plugins(specs: Sequence[RunSpec], registry: Registry) -> dict[str, Plugin]:
    """Each part's installed plugin (the specifications share them: a network's parts, or an
    objective's, :func:`~runner.engine.settings.row_parts`); :class:`VersionMismatch` when one
    is not the version a specification records (``versions``, from validation)."""
    first = specs[0]
    plugins = {
        part: registry.get(PARTS[part], getattr(first, part)) for part in row_parts(first.objective)
    }
    installed = {f"{o.kind}:{o.name}": f"{o.distribution}=={o.version}" for o in plugins.values()}
    for versions in {spec.versions for spec in specs}:
        for key, validated in versions:
            here = installed.get(key)
            if here is not None and here != validated:
                kind, _, name = key.partition(":")
                raise VersionMismatch(
                    f"{kind_label(kind)} {name!r} is {here} in this process, but the table was "
                    f"validated and hashed with {validated}; install the same version everywhere"
                )
    return plugins


@functools.lru_cache(maxsize=16)
def _prepared(key: DataKey) -> Prepared:
    """The data of ``key``, prepared once per process."""
    return key.prepare(get_registry().get("dataset", key.dataset))


def train_members(
    network: Network,
    data: Prepared,
    initializer: Initializer,
    init_params: dict[str, Any],
    keys: Sequence[tuple[int, int]],
    step_rule: StepRule,
    hyper: dict[str, Any],
    schedule: Schedule,
    *,
    alpha: Any = None,
    rate: RateControl | None = None,
    validation: tuple[float, int] = (0.1, 0),
    start: tuple[list[Any], list[Any]] | None = None,
    state: dict[str, list[Any]] | None = None,
) -> PopulationResult:
    """Draw every member's initial weights from ``member_rng(seed, restart)`` for its key in
    ``keys`` and train them all on ``data``; accuracy is recorded for classification, and the
    test split's loss (and accuracy) where it has one.

    ``alpha`` (one L2 penalty per member) and ``rate`` (a learning-rate schedule) are
    :func:`~runner.engine.training.train`'s; with ``schedule.early_stopping`` the fraction
    ``validation[0]`` of the training samples, drawn from the seed ``validation[1]``, is held
    out and scored. ``start`` gives the initial weights and biases instead of drawing them (a
    warm start), and ``state`` the step rule's state to go on from (``result.state``)."""
    X, Y, held = data.X, data.Y, None
    if schedule.early_stopping:
        X, Y, X_valid, Y_valid = validation_split(X, Y, data.task, *validation)
        held = Validation(with_ones(X_valid), Y_valid)
    full_batch = schedule.batch_size <= 0 or schedule.batch_size >= X.shape[-1]
    # the generators shuffle mini-batches after drawing the initial weights; with full batches
    # they are needed only for the draw, one at a time (a generator takes ~1 KB)
    rngs = [] if full_batch else [member_rng(seed, restart) for seed, restart in keys]
    draws = (member_rng(seed, restart) for seed, restart in keys) if full_batch else rngs
    if start is None:
        W, b = network.init_population(initializer, init_params, draws, len(keys))
    else:
        order = network.order
        W = [np.asarray(w, network.dtype, order=order) for w in start[0]]  # type: ignore[call-overload]
        b = [np.asarray(v, network.dtype, order=order) for v in start[1]]  # type: ignore[call-overload]
    to_labels = labels if data.task == "classification" else None
    test = (data.X_test, data.Y_test) if data.X_test is not None and data.n_test else None
    return train(
        network,
        W,
        b,
        X,
        Y,
        step_rule,
        hyper,
        schedule,
        rngs,
        to_labels,
        alpha=alpha,
        rate=rate,
        validation=held,
        state=state,
        test=test,
    )


def rate_control(
    schedule: RateSchedule, configured: Sequence[dict[str, Any]], owners: Any
) -> RateControl | None:
    """The schedule of a population's members (``configured``: each configuration's resolved
    schedule parameters; ``owners``: every member's configuration), or None for one that
    declares itself constant."""
    if schedule.constant:
        return None
    return RateControl(schedule, member_hyper(schedule, configured, owners))  # type: ignore[arg-type]


def evaluate(network: Network, result: PopulationResult, data: Prepared) -> dict[str, Any]:
    """Final loss (and accuracy) of every member on the training and test sets."""
    out: dict[str, Any] = {}
    sets = [("train", data.X, data.Y)]
    if data.X_test is not None:
        sets.append(("test", data.X_test, data.Y_test))
    with np.errstate(all="ignore"):
        for label, X, Y in sets:
            a = network.predict(result.W, result.b, X)
            out[f"{label}_loss"] = network.cost.value(a, Y, **network.cost_params)
            if data.task == "classification":
                out[f"{label}_accuracy"] = accuracy(a, Y)
    return out


def _train_population(task: PopulationTask) -> list[RunResult]:
    """Every member of the population (one per specification and restart) trained or descended
    together; one result per specification, of the member its strategy keeps."""
    start = time.perf_counter()
    registry = get_registry()
    first = task.specs[0]
    plugins = resolve_plugins(task.specs, registry)
    strategies = [registry.get("strategy", spec.strategy) for spec in task.specs]
    owners_arr, keys = _restarts(task.specs, strategies)
    step_rule = plugins["optimizer"]
    hyper = member_hyper(step_rule, [s.params_of("optimizer") for s in task.specs], owners_arr)
    rate = rate_control(
        plugins["schedule"],  # type: ignore[arg-type]
        [s.params_of("schedule") for s in task.specs],
        owners_arr,
    )
    if first.objective:  # an analytic objective: its starts descend, no network, no data
        members_of = Members(strategies, owners_arr, keys, hyper, rate)  # type: ignore[arg-type]
        return minimize(
            task.specs,
            plugins,
            members_of,
            log_every=task.log_every,
            max_points=task.max_points,
            started=start,
        )

    output = plugins["output_activation"]
    key = DataKey.of(first, output.normalizes)  # type: ignore[attr-defined]
    data = _prepared(key)
    architecture = _architecture(first, plugins, data)
    network = architecture.network(registry)
    alpha = np.asarray([s.alpha for s in task.specs], dtype=np.float64)[owners_arr]
    members = train_members(
        network,
        data,
        plugins["initializer"],
        first.params_of("initializer"),
        keys,
        step_rule,
        hyper,
        schedule_of(first, task),
        alpha=alpha,
        rate=rate,
        validation=(first.validation_fraction, first.data_seed),
    )
    final = evaluate(network, members, data)
    elapsed = time.perf_counter() - start
    recorded = architecture.to_json()
    trained_on = describe_data(key, data)
    results = []
    for i, spec in enumerate(task.specs):
        mine = np.flatnonzero(owners_arr == i)
        wall_time = elapsed * len(mine) / len(owners_arr)  # its share of the population's time
        results.append(
            _kept(spec, strategies[i], mine, members, final, wall_time, recorded, trained_on)
        )
    _test_critical_points(network, data, results)
    return results


def _restarts(
    specs: Sequence[RunSpec], strategies: list[Any]
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """One member per (specification, restart): the specification each belongs to, and its
    key (the specification's seed, the restart)."""
    owners: list[int] = []
    keys: list[tuple[int, int]] = []
    for i, (spec, strategy) in enumerate(zip(specs, strategies, strict=True)):
        for restart in range(strategy.members(**spec.params_of("strategy"))):
            owners.append(i)
            keys.append((spec.seed, restart))
    return np.asarray(owners), keys


def _architecture(first: RunSpec, plugins: dict[str, Plugin], data: Prepared) -> Architecture:
    """The network every member of the population shares: ``first``'s layers and plugins, the
    data's input and output sizes."""
    return Architecture.of(
        first.hidden,
        (plugins["activation"], plugins["output_activation"], plugins["cost"]),
        (
            first.params_of("activation"),
            first.params_of("output_activation"),
            first.params_of("cost"),
        ),
        data,
        first.dtype,
    )


def schedule_of(first: RunSpec, task: PopulationTask) -> Schedule:
    """How the population trains: ``first``'s epochs, batches and stop rules, the task's
    recording (also what the plan's budget estimates)."""
    return Schedule(
        epochs=first.epochs,
        batch_size=first.batch_size,
        target_loss=first.target_loss,
        gradient_tolerance=first.gradient_tolerance,
        log_every=task.log_every,
        max_points=task.max_points,
        early_stopping=first.early_stopping,
        patience=first.patience,
        tol=first.tol,
    )


def _kept(
    spec: RunSpec,
    strategy: Any,
    mine: np.ndarray,
    members: PopulationResult,
    final: dict[str, Any],
    wall_time: float,
    architecture: dict[str, Any],
    dataset: dict[str, Any],
) -> RunResult:
    """The result of ``spec``: the member of its own (``mine``) its strategy keeps, with that
    member's final metrics and how its restarts went; ``wall_time`` is its share of the
    population's, ``architecture`` and ``dataset`` what they all trained."""
    losses = final["train_loss"][mine]
    # a diverged member's final loss may look good (a clipped cost): the strategy sees inf
    scores = np.where(members.diverged[mine], np.inf, losses)
    chosen = int(mine[strategy.select(scores, **spec.params_of("strategy"))])
    m = members[chosen]
    metrics = {k: float(v[chosen]) for k, v in final.items()}
    succeeded = _succeeded(spec, final, members, mine)
    if succeeded is not None:  # how many of the members succeeded on their own
        metrics["restarts_succeeded"] = float(np.sum(succeeded))
    metrics.update(
        epochs=float(m.epochs),
        converged=float(m.converged),
        diverged=float(m.status == "diverged"),
        wall_time=wall_time,
        restarts=float(len(mine)),
        selected_restart=float(chosen - mine[0]),
        log_every=float(members.history.every),
    )
    if spec.early_stopping:
        metrics.update(
            best_epoch=float(m.best_epoch),
            stopped_early=float(m.stop_reason == "early_stopping"),
        )
    return RunResult(
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
        wall_time=wall_time,
        dataset=dataset,
        stop_reason=m.stop_reason,
    )


def _succeeded(spec: RunSpec, final: dict[str, Any], members: PopulationResult, mine: Any) -> Any:
    """Which of a configuration's members (restarts) succeeded on their own: reached
    ``target_loss`` where one is given, else classified every training sample right (for
    classification); None where neither applies. A diverged member never succeeds."""
    alive = ~members.diverged[mine]
    if spec.target_loss is not None:
        return alive & (final["train_loss"][mine] <= spec.target_loss)
    if "train_accuracy" in final:
        return alive & (final["train_accuracy"][mine] == 1.0)
    return None


def _test_critical_points(network: Network, data: Prepared, results: list[RunResult]) -> None:
    """The critical-point test (:mod:`runner.engine.curvature`) at the kept weights of every
    finished run that asks for it, in one vectorized pass: its metrics and the tag
    ``runner.critical_point``."""
    chosen = [
        r
        for r in results
        if r.status == "finished" and curvature.wanted(r.spec.critical_points, network.sizes)
    ]
    if not chosen:
        return
    W = [
        np.stack([np.asarray(r.weights[m], np.float64) for r in chosen])
        for m in range(len(chosen[0].weights))
    ]
    b = [
        np.stack([np.asarray(r.biases[m], np.float64) for r in chosen])
        for m in range(len(chosen[0].biases))
    ]
    X, Y = np.asarray(data.X, np.float64), np.asarray(data.Y, np.float64)
    float_network = dataclasses.replace(network, dtype=np.float64)
    for result, point in zip(
        chosen, curvature.critical_points(float_network, W, b, X, Y), strict=True
    ):
        result.metrics.update(point.metrics())
        result.tags["runner.critical_point"] = point.label
