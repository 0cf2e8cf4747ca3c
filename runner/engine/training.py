"""The training loop over a population: epochs, mini-batches, stop criteria and metric history.

Every member of a population trains independently of the others, in one vectorized pass. A
member stops when its loss reaches ``target_loss``, its gradient norm falls below
``gradient_tolerance`` (both: converged), its loss or weights leave a finite, sane range
(diverged: NaN or infinite, beyond :data:`LOSS_BOUND` or :data:`WEIGHT_BOUND`, or more than
:data:`LOSS_GROWTH` times its first value; the loss is checked at every epoch where it is
computed, the weights at every recorded epoch), or the epochs run out. A stopped member's
weights and history are taken out at once; its row keeps being computed, unused, until enough
rows have stopped that dropping them from the arrays pays, so the others never wait and a
member's result is bitwise the same alone or in any population.
One call of :func:`train` is a private ``_Loop``: an epoch's step (full batch or mini-batches),
its stop rules, the history it records and the stopped members it takes out, each a method.
Imports the rest of :mod:`runner.engine` and :mod:`runner.plugin`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from runner.engine.buffers import ParameterBuffers, pad
from runner.engine.network import MIN_CONTIGUOUS, Network, with_ones
from runner.engine.settings import SETTINGS
from runner.plugin.kinds import RateSchedule, StepRule

Array = np.ndarray

#: drop stopped rows from the working arrays once they are this fraction of them
COMPACT_FRACTION = 0.25

#: bytes of shuffled samples a mini-batch epoch gathers at a time for the whole population
GATHER_BYTES = 32 * 2**20


#: at most this many epochs of each metric are recorded per run unless asked otherwise
MAX_POINTS = 200

#: the type metric histories are kept in: float64, so that a loss of 1e40 reads 1e40, where
#: float32 would have overflowed to inf (3.4e38) and been stored as 1.797e308
HISTORY_DTYPE = np.float64

#: a loss of larger magnitude is divergence, whatever the data: no fit that still means anything
#: has a cost this large (squared errors of targets of magnitude 1e15 would; scale such targets)
LOSS_BOUND = 1e30
#: a loss whose magnitude grew to more than this many times its first value (the cost of the
#: initial weights, or 1 where that is smaller) diverged: training made it worse by six orders
LOSS_GROWTH = 1e6
#: a weight or bias of larger magnitude is divergence: no sane network needs it, every unit it
#: feeds is saturated, and float64 spaces its numbers 0.125 apart there, so that a step smaller
#: than 0.06 no longer moves it; a clipped cost (cross-entropy) can look fine with such weights
WEIGHT_BOUND = 1e15


@dataclass(frozen=True)
class Schedule:
    """How long and how to train: epochs, batching, stop criteria and how often to record."""

    epochs: int = SETTINGS["epochs"].default
    batch_size: int = SETTINGS["batch_size"].default  # 0 or >= the samples: full batch
    target_loss: float | None = SETTINGS["target_loss"].default
    gradient_tolerance: float | None = SETTINGS["gradient_tolerance"].default
    log_every: int = 0  # 0: choose so that at most ``max_points`` epochs are recorded
    max_points: int = MAX_POINTS
    #: bytes the metric history of one population may take; a very large population records
    #: fewer points rather than more memory (200 float64 points of 3 metrics fit 27,000 members)
    history_bytes: int = 128 * 2**20
    #: early stopping (with a validation split given to :func:`train`): a member stops once its
    #: validation score has failed to beat its best by ``tol`` for more than ``patience`` epochs
    #: in a row, and ends with the weights of its best score (scikit-learn's rule)
    early_stopping: bool = SETTINGS["early_stopping"].default
    patience: int = SETTINGS["patience"].default
    tol: float = SETTINGS["tol"].default

    def every(self, members: int = 1, metrics: int = 1) -> int:
        """Record every this many epochs: ``log_every``, else at most ``max_points`` points;
        wider, whatever ``log_every`` says, where ``members`` x ``metrics`` histories would
        exceed ``history_bytes`` (the budget always holds; a run records the interval it had as
        its tag ``runner.log_every``)."""
        itemsize = np.dtype(HISTORY_DTYPE).itemsize
        by_budget = max(1, self.history_bytes // (itemsize * max(1, members) * max(1, metrics)))
        widest = max(1, math.ceil(self.epochs / by_budget))  # the narrowest the budget allows
        if self.log_every > 0:
            return max(self.log_every, widest)
        return max(1, math.ceil(self.epochs / min(self.max_points, by_budget)))


@dataclass
class MemberResult:
    """What one member of a population ends with."""

    weights: list[Array]
    biases: list[Array]
    status: str  # "finished" | "diverged"
    converged: bool
    epochs: int
    history: dict[str, tuple[Array, Array]] = field(default_factory=dict)
    reason: str = ""
    stop_reason: str = ""  # one of STOP_REASONS
    best_epoch: int = 0  # early stopping: the epoch of the best validation score (else 0)


#: why a member stopped, by the code :attr:`PopulationResult.stopped` holds
STOP_REASONS = ("epochs", "target_loss", "gradient_tolerance", "early_stopping", "diverged")


@dataclass(frozen=True)
class Validation:
    """The samples early stopping holds out: ``X1 = [X; 1]`` ``(N_0 + 1, S_v)``, targets ``Y``
    ``(N_L, S_v)``; the score is the accuracy where ``labels`` is given, else R^2 (as
    scikit-learn scores)."""

    X1: Array
    Y: Array


@dataclass(frozen=True)
class RateControl:
    """A learning-rate schedule for a population: the plugin and its resolved parameters, a
    ``per_member`` one as one value per member (see :class:`runner.RateSchedule`)."""

    schedule: RateSchedule
    params: dict[str, Any]


@dataclass
class _History:
    """Metric values at the recorded steps for every member (NaN where not recorded).

    Step = epoch: step s holds the values of the weights after s epochs, step 0 the initial
    weights. With full batches the loop computes epoch e's metrics from the weights before its
    update, so they are step e - 1 (``shift`` 1); with mini-batches an epoch's metrics are the
    means over its batches, step e (``shift`` 0), and step 0 is computed once before the first
    epoch (:meth:`record_step`). ``shifts`` gives a metric a shift of its own (the validation
    score is of the weights after an epoch's update in both cases: shift 0). ``starts`` says
    from which recorded point a metric has values (a mini-batch run has no gradient norm at
    step 0).
    """

    every: int
    n_members: int
    names: tuple[str, ...]
    shift: int = 1
    starts: dict[str, int] = field(default_factory=dict)
    shifts: dict[str, int] = field(default_factory=dict)
    values: dict[str, Array] = field(init=False)
    last: dict[str, Array] = field(init=False)

    def __post_init__(self) -> None:
        self.values = {}
        self.last = {name: np.full(self.n_members, np.nan) for name in self.names}

    def shift_of(self, name: str) -> int:
        """The shift of the metric ``name``: its value computed in epoch e is step e - shift."""
        return self.shifts.get(name, self.shift)

    def allocate(self, epochs: int) -> None:
        least = min(self.shift, *self.shifts.values()) if self.shifts else self.shift
        n_points = (epochs - least) // self.every + 1 if epochs > 0 else 0
        # one row per member, so that a member's history is a contiguous view, never a copy
        self.values = {
            name: np.full((self.n_members, n_points), np.nan, dtype=HISTORY_DTYPE)
            for name in self.names
        }
        self.steps = np.arange(n_points) * self.every

    def record(self, epoch: int, ids: Array, metrics: dict[str, Array]) -> None:
        """The metrics the loop computed in ``epoch`` (1, 2, ...), where they are recorded."""
        for name in self.names:
            step = epoch - self.shift_of(name)
            if name in metrics and step % self.every == 0:
                self.values[name][ids, step // self.every] = metrics[name]

    def record_step(self, step: int, ids: Array, metrics: dict[str, Array]) -> None:
        if step % self.every == 0:
            k = step // self.every
            for name in self.names:
                if name in metrics:
                    self.values[name][ids, k] = metrics[name]

    def finish(self, ids: Array, metrics: dict[str, Array]) -> None:
        for name in self.names:  # a metric not computed at that epoch stays NaN
            if name in metrics:
                self.last[name][ids] = metrics[name]

    def of(self, member: int, stop_epoch: int) -> dict[str, tuple[Array, Array]]:
        out = {}
        for name in self.names:
            last_step = stop_epoch - self.shift_of(name)  # the step of its last epoch's value
            n = last_step // self.every + 1 if stop_epoch > 0 else 0
            steps = self.steps[:n]  # views: shared steps, the member's own row of values
            vals = self.values[name][member, :n]
            s = steps
            if n and last_step % self.every:
                s = np.append(steps, last_step)
                vals = np.append(vals, self.last[name][member])
            first = min(self.starts.get(name, 0), len(s))
            out[name] = (s[first:], vals[first:])
        return out


@dataclass
class PopulationResult:
    """What a whole population ends with, as arrays with the population axis first.

    Indexing gives one member's :class:`MemberResult`, built on demand from views into these
    arrays, so a population of 100,000 networks holds no 100,000 Python objects.
    """

    W: list[Array]
    b: list[Array]
    diverged: Array  # bool (P,)
    converged: Array  # bool (P,)
    epochs: Array  # int (P,)
    reasons: dict[int, str]
    history: _History
    stopped: Array | None = None  # int (P,): the index in STOP_REASONS of why each stopped
    #: the step rule's state at the end, for the rows still in the working arrays (all of them
    #: unless finished rows were dropped): what a later ``train(state=...)`` goes on from
    state: dict[str, list[Array]] | None = None
    best_epoch: Array | None = None  # int (P,): early stopping's best epoch, 0 without it

    def __len__(self) -> int:
        return len(self.epochs)

    def __getitem__(self, i: int) -> MemberResult:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        return MemberResult(
            weights=[w[i] for w in self.W],
            biases=[b[i] for b in self.b],
            status="diverged" if self.diverged[i] else "finished",
            converged=bool(self.converged[i]),
            epochs=int(self.epochs[i]),
            history=self.history.of(i, int(self.epochs[i])),
            reason=self.reasons.get(i, ""),
            stop_reason="" if self.stopped is None else STOP_REASONS[int(self.stopped[i])],
            best_epoch=0 if self.best_epoch is None else int(self.best_epoch[i]),
        )

    def __iter__(self) -> Iterator[MemberResult]:
        return (self[i] for i in range(len(self)))


def train(
    network: Network,
    W: list[Array],
    b: list[Array],
    X: Array,
    Y: Array,
    step_rule: StepRule,
    hyper: dict[str, Any],
    schedule: Schedule,
    rngs: list[np.random.Generator],
    labels: Callable[[Array], Array] | None = None,
    *,
    test: tuple[Array, Array] | None = None,
    alpha: Array | None = None,
    rate: RateControl | None = None,
    validation: Validation | None = None,
    state: dict[str, list[Array]] | None = None,
) -> PopulationResult:
    """Train every member of a population; ``result[i]`` is member i's :class:`MemberResult`.

    ``W`` and ``b`` are updated in place. ``X`` is ``(N_0, S)`` and ``Y`` is ``(N_L, S)``, shared
    by all members. ``hyper`` maps each step-rule hyperparameter to a scalar or to an array of one
    value per member; ``rngs`` are the members' generators, used to shuffle mini-batches.
    ``labels`` turns outputs ``(P, N_L, S)`` into class labels ``(P, S)`` (and targets
    ``(N_L, S)`` into ``(S,)``) to record accuracy; without it no accuracy is recorded.
    ``test`` (``X_test``, ``Y_test``) adds the histories ``test_loss`` (and ``test_accuracy``),
    computed where the others are recorded. Histories have step = epoch, step 0 the initial
    weights (see :class:`_History`).
    ``alpha`` is every member's L2 penalty on the weights (None or all 0: none); it joins the
    loss and its gradient at every step. ``rate`` schedules the step rule's learning rate
    (:attr:`StepRule.rate`) member by member. ``validation`` holds the samples early stopping
    scores (``schedule.early_stopping``); the score is recorded as ``validation_score``, of the
    weights after each epoch with full batches too (step e after epoch e; step 0, the initial
    weights, is recorded but never counts as a best).
    ``state`` is the step rule's state to go on from (``result.state`` of a run of the same
    population), instead of a fresh ``init_state``.
    """
    loop = _Loop(network, W, b, X, Y, schedule, labels, test, validation)
    loop.prepare(step_rule, hyper, rngs, alpha, rate, state)
    with np.errstate(all="ignore"):
        loop.run()
    return loop.result()


def _history_for(
    schedule: Schedule,
    P: int,
    labels: Callable[[Array], Array] | None,
    test: tuple[Array, Array] | None,
    stopping_early: bool,
    full_batch: bool,
) -> _History:
    """The empty history of a population of ``P`` rows: its metrics, their shifts, allocated."""
    names = ("loss", "accuracy", "gradient_norm") if labels else ("loss", "gradient_norm")
    if test is not None:
        names += ("test_loss", "test_accuracy") if labels else ("test_loss",)
    if stopping_early:
        names = (*names, "validation_score")
    history = _History(
        schedule.every(P, len(names)),
        P,
        names,
        # full batches: an epoch's metrics are those of the weights before its update (shift 1)
        1 if full_batch else 0,
        {} if full_batch else {"gradient_norm": 1},  # mini-batches: no gradient norm at step 0
        # the validation score is of the weights after an epoch's update, whatever the batches
        {"validation_score": 0},
    )
    history.allocate(schedule.epochs)
    return history


class _Stops(NamedTuple):
    """Which working rows stop at an epoch, and why (boolean masks over the rows)."""

    diverged: Array
    done: Array  # converged: target loss or gradient tolerance
    target_met: Array  # the loss reached the target (else a done row met the gradient tolerance)
    patient: Array  # early stopping ran out of patience
    stopping: Array  # any of them, or the last epoch
    size: Array | None  # every row's largest weight magnitude, where it was checked


class _Loop:
    """The state of one :func:`train` call over the working rows.

    Row r of the working arrays belongs to member ``ids[r]``; ``alive[r]`` says it still trains
    (a stopped row is computed, unused, until :meth:`compact` drops it). The arrays indexed by
    member (``final``, ``stop_epoch``, ...) hold what each member ends with once it stops.
    """

    def __init__(
        self,
        network: Network,
        W: list[Array],
        b: list[Array],
        X: Array,
        Y: Array,
        schedule: Schedule,
        labels: Callable[[Array], Array] | None,
        test: tuple[Array, Array] | None,
        validation: Validation | None,
    ) -> None:
        self.network, self.schedule, self.labels, self.test = network, schedule, labels, test
        self.validation = validation
        self.n_members = n_members = W[0].shape[0]
        self.L = len(W)
        # a population-contiguous population is computed with at least MIN_CONTIGUOUS rows (see
        # runner.engine.network.TINY); the extra rows copy the first member and are dropped at
        # the end
        self.min_rows = MIN_CONTIGUOUS if network.order == "F" else 1
        self.extra = max(0, self.min_rows - n_members)
        self.P = P = n_members + self.extra
        self.n_samples = X.shape[-1]
        self.full_batch = schedule.batch_size <= 0 or schedule.batch_size >= self.n_samples
        self.stopping_early = schedule.early_stopping and validation is not None
        self.target = labels(Y) if labels else None  # every sample's class, (S,)
        self.shift = 1 if self.full_batch else 0
        self.history = _history_for(schedule, P, labels, test, self.stopping_early, self.full_batch)
        self.every = self.history.every
        self.W, self.b, self.X, self.Y = W, b, X, Y
        self.X1 = with_ones(X)  # the inputs with a row of ones under them: the biases are folded

    def prepare(
        self,
        step_rule: StepRule,
        hyper: dict[str, Any],
        rngs: list[np.random.Generator],
        alpha: Array | None,
        rate: RateControl | None,
        state: dict[str, list[Array]] | None,
    ) -> None:
        """The working rows (the members and the extra rows, with the step rule's buffers and
        state), the L2 penalty, the rate schedule and early stopping; every row alive, no member
        stopped."""
        schedule, P, extra = self.schedule, self.P, self.extra
        self.rngs = list(rngs) + [np.random.default_rng(0) for _ in range(extra)] if rngs else []
        padded = [pad(w, extra) for w in self.W], [pad(v, extra) for v in self.b]
        self.work = work = ParameterBuffers(*padded, self.network.order, step_rule, hyper, extra)
        if state is not None:
            work.state = {k: [a.copy() for a in v] for k, v in state.items()}
        self.penalized = alpha is not None and bool(np.any(np.asarray(alpha) != 0))
        if self.penalized:
            work.penalize(alpha)  # type: ignore[arg-type]
        self.scheduler = (
            _Scheduler(rate, work, P, self.n_members, schedule.epochs) if rate else None
        )
        self.watcher = (
            _EarlyStopping(self.network, work, self.validation, self.labels, schedule, P)  # type: ignore[arg-type]
            if self.stopping_early
            else None
        )
        self.params = work.params
        self.ids = np.arange(P)  # the member each working row belongs to
        self.alive = np.ones(P, dtype=bool)  # rows still training
        self.final = [p.copy(order="K") for p in self.params]  # if no epoch runs
        self.diverged_members = np.zeros(P, dtype=bool)
        self.converged = np.zeros(P, dtype=bool)
        self.stop_epoch = np.zeros(P, dtype=np.int64)
        self.reasons: dict[int, str] = {}
        self.first = np.full(P, np.nan)  # every member's loss at epoch 1, for LOSS_GROWTH
        self.row_limit = np.full(P, LOSS_BOUND)  # the largest sane magnitude of each row's loss
        self.stopped = np.zeros(P, dtype=np.int8)  # the index in STOP_REASONS of why
        always = schedule.target_loss is not None or schedule.gradient_tolerance is not None
        # a schedule that reacts to the loss, and early stopping, look at every epoch
        self.always = (
            always or self.watcher is not None or bool(self.scheduler and self.scheduler.needs_loss)
        )
        self.loss: Array | None = np.full(P, np.nan)  # the previous epoch's loss of every row
        self.Y_rows: Array | None = None
        self.all_alive = True  # no stopped row is waiting to be dropped

    def run(self) -> None:
        """Every epoch, until the last or until no member trains."""
        schedule, every, shift = self.schedule, self.every, self.shift
        self.record_initial()
        for epoch in range(1, schedule.epochs + 1):
            if self.scheduler is not None:
                self.scheduler.before(epoch, self.loss)
            # the gradient norm and accuracy only where they are recorded or decide a stop
            recorded = (epoch - shift) % every == 0 or epoch == schedule.epochs
            if self.full_batch:
                metrics = self.full_batch_epoch(epoch, recorded)
                if metrics is None:  # nothing is recorded and no member can stop at this epoch
                    continue
            else:
                metrics = self.minibatch_epoch(recorded)
            self.loss = metrics["loss"]
            stops = self.stop_rules(epoch, metrics)
            alive = self.alive
            if (epoch - shift) % every == 0 or (self.watcher is not None and epoch % every == 0):
                self.history.record(
                    epoch, self.ids[alive], {k: v[alive] for k, v in metrics.items()}
                )
            if stops.stopping.any():
                self.take_out(epoch, metrics, stops)
                if not self.alive.any():
                    break
                self.compact()

    def record_initial(self) -> None:
        """Step 0, the initial weights: the validation score, and with mini-batches the rest
        (full batches compute them in epoch 1)."""
        if self.schedule.epochs <= 0:
            return
        network, history, ids, L = self.network, self.history, self.ids, self.L
        if self.watcher is not None:
            history.record_step(0, ids, {"validation_score": self.watcher.measure()})
        if not self.full_batch:
            params, labels, n_samples = self.params, self.labels, self.n_samples
            a0 = network.predict(params[:L], params[L:], self.X)
            initial = {"loss": network.cost.value(a0, self.Y, **network.cost_params)}
            if self.penalized:  # the loss the history records is the penalized one
                initial["loss"] = initial["loss"] + _penalty_value(self.work, n_samples)
            if labels:
                initial["accuracy"] = (labels(a0) == self.target).sum(axis=-1) / n_samples
            if self.test is not None:
                initial.update(_test_metrics(network, params, self.test, labels))
            history.record_step(0, ids, initial)

    def full_batch_epoch(self, epoch: int, recorded: bool) -> dict[str, Array] | None:
        """One step of every row on all samples: backprop (forward z = W a + b, a = f(z); the
        deltas backward) and the step rule's update. The metrics are of the weights before the
        update; None where nothing is recorded and no member can stop (the cost not computed)."""
        network, work, n_samples = self.network, self.work, self.n_samples
        # targets as one contiguous row per member: broadcasting a (N_L, S) operand against
        # (P, N_L, S) costs ~5x a same-shape operation in numpy (made again after a compaction)
        Y_rows = self.Y_rows
        if Y_rows is None:
            shape = (len(self.ids), *self.Y.shape)
            Y_rows = self.Y_rows = np.broadcast_to(self.Y, shape).copy(order=network.order)
        # the cost itself only where it is recorded or decides a stop; in between, a diverging
        # member shows as a non-finite output-layer bias gradient
        needed = recorded or self.always or epoch == 1
        loss, _, a_out = network.backprop(
            work.blocks, self.X1, Y_rows, needed, work.gblocks, work.inputs
        )
        if self.penalized:
            loss = work.add_penalty(n_samples, loss)
        if loss is None:
            out_bias = work.grads[-1] if self.all_alive else work.grads[-1][self.alive]
            if math.isfinite(out_bias.sum()):
                work.step()
                self.loss = None
                return None
            loss = network.cost.value(a_out, Y_rows, **network.cost_params)
            if self.penalized:
                loss = loss + _penalty_value(work, n_samples)
        metrics = {"loss": loss}
        if needed or not np.isfinite(loss[self.alive]).all():
            metrics["gradient_norm"] = np.sqrt(work.squared_norm())
            if self.labels:
                metrics["accuracy"] = (self.labels(a_out) == self.target).sum(axis=-1) / n_samples
        if self.test is not None and recorded:  # the weights before the update, as the rest
            metrics.update(_test_metrics(network, self.params, self.test, self.labels))
        work.step()
        return metrics

    def minibatch_epoch(self, recorded: bool) -> dict[str, Array]:
        """One epoch of shuffled mini-batches (:func:`_minibatch_epoch`); its metrics."""
        metrics = _minibatch_epoch(
            self.network,
            self.work,
            self.X1,
            self.Y,
            self.rngs,
            self.schedule,
            self.labels,
            self.target,
            full=recorded or self.always,
            penalized=self.penalized,
        )
        if self.test is not None and recorded:  # the weights after the epoch, as its step
            metrics.update(_test_metrics(self.network, self.params, self.test, self.labels))
        return metrics

    def stop_rules(self, epoch: int, metrics: dict[str, Array]) -> _Stops:
        """Which rows stop after ``epoch``: diverged (loss beyond its limit, or a weight beyond
        :data:`WEIGHT_BOUND` where checked), converged, out of patience, or out of epochs. Adds
        the validation score to ``metrics`` under early stopping."""
        schedule, alive, loss = self.schedule, self.alive, metrics["loss"]
        if epoch == 1:
            self.first[self.ids] = loss
            self.row_limit = _loss_limit(loss)
        # NaN compares False: a NaN loss or weight is never sane
        sane = np.abs(loss) <= self.row_limit
        size = None
        if epoch % self.every == 0 or epoch == schedule.epochs:  # every `every` epochs, and last
            size = self.work.max_abs()
            sane &= size <= WEIGHT_BOUND
        diverged = alive & ~sane
        done = np.zeros_like(alive)
        if schedule.target_loss is not None:
            done |= loss <= schedule.target_loss
        if schedule.gradient_tolerance is not None:
            done |= metrics["gradient_norm"] < schedule.gradient_tolerance
        done &= alive & ~diverged
        # a member that reached its target loss stopped for it, else for its gradient norm
        target_met = np.zeros_like(alive)
        if schedule.target_loss is not None:
            target_met = loss <= schedule.target_loss
        patient = np.zeros_like(alive)
        if self.watcher is not None:
            # the score of the weights after this epoch's update: step `epoch` of its history
            # (shift 0), where full batches record the rest at step epoch - 1
            metrics["validation_score"] = self.watcher.score(epoch, alive)
            patient = alive & ~diverged & ~done & self.watcher.out_of_patience()
        stopping = diverged | done | patient | (alive & (epoch == schedule.epochs))
        return _Stops(diverged, done, target_met, patient, stopping, size)

    def take_out(self, epoch: int, metrics: dict[str, Array], stops: _Stops) -> None:
        """The stopping rows' members end now: their weights (early stopping's best), last
        metrics, epoch, whether converged, why they stopped and why they diverged."""
        rows = np.flatnonzero(stops.stopping)
        members = self.ids[rows]
        self.history.finish(members, {k: v[rows] for k, v in metrics.items()})
        diverged, done, watcher = stops.diverged, stops.done, self.watcher
        ends = self.params if watcher is None else watcher.ends(self.params, diverged)
        for f, p in zip(self.final, ends, strict=True):
            f[members] = p[rows]
        self.stop_epoch[members] = epoch
        self.converged[members] = done[rows]
        self.stopped[members] = np.select(
            [diverged[rows], stops.target_met[rows] & done[rows], done[rows], stops.patient[rows]],
            [4, 1, 2, 3],
            0,
        )
        if watcher is not None:
            watcher.best_epoch_of[members] = watcher.best_epoch[rows]
        loss, size = metrics["loss"], stops.size
        for row, member in zip(rows, members, strict=True):
            if diverged[row]:
                self.diverged_members[member] = True
                largest = math.nan if size is None else size[row]
                self.reasons[int(member)] = _why(epoch, loss[row], self.first[member], largest)
        self.alive &= ~stops.stopping
        self.all_alive = False

    def compact(self) -> None:
        """Drop the stopped rows from the working arrays once they are :data:`COMPACT_FRACTION`
        of them (and enough rows remain)."""
        alive = self.alive
        n_alive = int(alive.sum())
        if alive.size - n_alive < COMPACT_FRACTION * alive.size or n_alive < self.min_rows:
            return
        keep = np.flatnonzero(alive)
        self.ids, self.alive, self.row_limit = self.ids[keep], alive[keep], self.row_limit[keep]
        self.loss = self.loss[keep]  # type: ignore[index]
        self.work.keep(keep, self.ids)
        if self.scheduler is not None:
            self.scheduler.keep(keep)
        if self.watcher is not None:
            self.watcher.keep(keep)
        self.params = self.work.params
        self.Y_rows = None  # fewer rows: the full batch's targets are made again
        self.all_alive = True
        self.rngs = [self.rngs[i] for i in keep] if self.rngs else self.rngs

    def result(self) -> PopulationResult:
        """What the population ends with (the extra rows dropped); the caller's ``W``, ``b`` set to
        it."""
        n, L, watcher = self.n_members, self.L, self.watcher
        final = [f[:n] for f in self.final]
        self.W[:] = final[:L]
        self.b[:] = final[L:]
        return PopulationResult(
            W=final[:L],
            b=final[L:],
            diverged=self.diverged_members[:n],
            converged=self.converged[:n],
            epochs=self.stop_epoch[:n],
            reasons={i: r for i, r in self.reasons.items() if i < n},
            history=self.history,
            stopped=self.stopped[:n],
            state=self.work.state,
            best_epoch=None if watcher is None else watcher.best_epoch_of[:n],
        )


def _test_metrics(
    network: Network,
    params: list[Array],
    test: tuple[Array, Array],
    labels: Callable[[Array], Array] | None,
) -> dict[str, Array]:
    """The cost (and accuracy) of the working rows' weights on the test split."""
    X_test, Y_test = test
    L = network.n_layers
    a = network.predict(params[:L], params[L:], X_test)
    out = {"test_loss": network.cost.value(a, Y_test, **network.cost_params)}
    if labels:
        out["test_accuracy"] = (labels(a) == labels(Y_test)).sum(axis=-1) / X_test.shape[-1]
    return out


def _penalty_value(work: ParameterBuffers, n_samples: int) -> Array:
    """Every row's alpha/(2 S) sum ||W^m||^2, leaving the gradients as they are."""
    squares = sum(np.einsum("pij,pij->p", t[..., :-1], t[..., :-1]) for t in work.blocks)
    return 0.5 * (work.alpha[:, 0, 0] / n_samples) * squares  # type: ignore[index]


class _Scheduler:
    """A learning-rate schedule, applied to a population's rows before every epoch."""

    def __init__(
        self, rate: RateControl, work: ParameterBuffers, P: int, n_members: int, epochs: int
    ) -> None:
        rule = work.rule
        if rule.rate is None or rule.rate not in {p.name for p in rule.params}:
            raise ValueError(
                f"{rule.label()} declares no learning rate a schedule could scale; "
                "use the schedule 'constant' with it"
            )
        self.schedule, self.epochs, self.work = rate.schedule, epochs, work
        self.needs_loss = rate.schedule.needs_loss
        self.params = {
            k: pad(np.asarray(v, np.float64), P - n_members) if np.ndim(v) else v
            for k, v in rate.params.items()
        }
        self.state = rate.schedule.init_state(P)
        work.scheduled(rule.rate)

    def before(self, epoch: int, loss: Array | None) -> None:
        if loss is None or not self.needs_loss:  # the loss is computed where it is needed
            loss = np.full(len(self.work.ids), np.nan)
        factor = self.schedule.factor(epoch, self.epochs, loss, self.state, **self.params)
        self.work.set_factor(np.asarray(factor, dtype=np.float64))

    def keep(self, keep: Array) -> None:
        self.params = {k: v[keep] if np.ndim(v) else v for k, v in self.params.items()}
        self.state = {k: v[keep] for k, v in self.state.items()}


class _EarlyStopping:
    """Early stopping: every row's score on the validation samples, its patience, and its best
    parameters (scikit-learn's ``_update_no_improvement_count``). The score is scikit-learn's
    ``score``: the accuracy for classification, the coefficient of determination R^2 (averaged
    over the outputs) for regression; a score that is not finite counts as -inf."""

    def __init__(
        self,
        network: Network,
        work: ParameterBuffers,
        validation: Validation,
        labels: Callable[[Array], Array] | None,
        schedule: Schedule,
        P: int,
    ) -> None:
        self.network, self.work, self.validation = network, work, validation
        self.labels, self.patience, self.tol = labels, schedule.patience, schedule.tol
        self.target = labels(validation.Y) if labels else None
        Y = np.asarray(validation.Y, dtype=np.float64)
        #: the total sum of squares of every output (regression's R^2 divides by it)
        self.total = ((Y - Y.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
        self.best = np.full(P, -np.inf)
        self.waited = np.zeros(P, dtype=np.int64)
        self.best_epoch = np.zeros(P, dtype=np.int64)  # by row
        self.best_epoch_of = np.zeros(P, dtype=np.int64)  # by member

    def measure(self) -> Array:
        """Every row's score with its weights now, changing nothing."""
        a = self.network.output_folded(self.work.blocks, self.validation.X1)
        if self.labels is not None:
            score = (self.labels(a) == self.target).mean(axis=-1)
        else:  # R^2 per output; a constant output scores 1 if predicted exactly, else 0
            residual = ((a - self.validation.Y) ** 2).sum(axis=-1, dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                r2 = 1.0 - residual / self.total
            r2 = np.where(self.total > 0, r2, np.where(residual == 0, 1.0, 0.0))
            score = r2.mean(axis=-1)
        return np.where(np.isfinite(score), score, -np.inf)

    def score(self, epoch: int, alive: Array) -> Array:
        """Every row's score after this epoch's steps; the best so far kept where it improved."""
        score = self.measure()
        self.waited = np.where(score < self.best + self.tol, self.waited + 1, 0)
        better = np.flatnonzero(alive & (score > self.best))
        if better.size:
            self.best[better] = score[better]
            self.best_epoch[better] = epoch
            self.work.remember(better)
        return score

    def out_of_patience(self) -> Array:
        return self.waited > self.patience

    def ends(self, params: list[Array], diverged: Array) -> list[Array]:
        """What the rows end with: their best parameters; a diverged row, or one never scored
        finite, its last ones."""
        if self.work.best is None:
            return params
        last = diverged | (self.best_epoch == 0)
        return [
            np.where(last.reshape(-1, *([1] * (p.ndim - 1))), p, b)
            for p, b in zip(params, self.work.best_params(), strict=True)
        ]

    def keep(self, keep: Array) -> None:
        self.best, self.waited = self.best[keep], self.waited[keep]
        self.best_epoch = self.best_epoch[keep]


def _loss_limit(first: Array) -> Array:
    """The largest sane loss magnitude of members whose first loss is ``first``:
    :data:`LOSS_BOUND`, or :data:`LOSS_GROWTH` times the first loss (or 1) where that is less.
    A NaN first loss gives a NaN limit, which nothing is within."""
    return np.minimum(LOSS_BOUND, LOSS_GROWTH * np.maximum(np.abs(first), 1.0))


def _why(epoch: int, loss: float, first: float, size: float) -> str:
    """The one-line reason a member diverged at ``epoch``: its loss is not finite, or beyond
    its :func:`_loss_limit`, or a weight is beyond :data:`WEIGHT_BOUND`."""
    if not math.isfinite(loss):
        return f"loss became {loss} at epoch {epoch}"
    if abs(loss) > LOSS_BOUND:
        return f"loss reached {loss:.3g}, beyond {LOSS_BOUND:g}, at epoch {epoch}"
    if abs(loss) > LOSS_GROWTH * max(abs(first), 1.0):
        return (
            f"loss grew from {first:.3g} to {loss:.3g}, more than {LOSS_GROWTH:g} times, "
            f"by epoch {epoch}"
        )
    return f"a weight reached magnitude {size:.3g}, beyond {WEIGHT_BOUND:g}, at epoch {epoch}"


def _minibatch_epoch(
    network: Network,
    work: ParameterBuffers,
    X1: Array,
    Y: Array,
    rngs: list[np.random.Generator],
    schedule: Schedule,
    labels: Callable[[Array], Array] | None,
    target: Array | None,
    full: bool = True,
    penalized: bool = False,
) -> dict[str, Array]:
    """One epoch of shuffled mini-batches, every member with its own order of samples.

    The epoch's loss is the sample-weighted mean over its batches, its accuracy the fraction of
    samples its batches classified right, and its gradient norm the root of the sample-weighted
    mean of the squared batch norms. ``X1`` are the inputs with their row of ones. The means are
    summed batch by batch, elementwise, so that a member's values are bitwise the same alone or
    in any population (a matrix product over the batches would sum in an order that depends on
    the population's size).
    """
    n_samples = X1.shape[-1]
    B = schedule.batch_size
    order = np.stack([rng.permutation(n_samples) for rng in rngs])  # (P, S)
    P = len(order)
    # every member's shuffled samples are gathered a chunk of batches at a time (the whole
    # epoch unless that would take more than GATHER_BYTES), and batches are views into it
    per_sample = P * (X1.shape[0] + Y.shape[0]) * X1.itemsize
    chunk = max(B, GATHER_BYTES // per_sample // B * B)
    loss_sum: Array | float = 0.0
    norm_sum: Array | float = 0.0
    correct: list[Array] = []
    for first in range(0, n_samples, chunk):
        idx = order[:, first : first + chunk]
        # population-contiguous: gathered as (N, S, P) and viewed as (P, N, S); else gathered
        # as (N, P, S) and viewed as (P, N, S)
        if network.order == "F":
            Xe, Ye = X1[:, idx.T].transpose(2, 0, 1), Y[:, idx.T].transpose(2, 0, 1)
        else:
            Xe, Ye = X1[:, idx].transpose(1, 0, 2), Y[:, idx].transpose(1, 0, 2)
        predicted: list[Array] = []  # the chunk's predicted labels, compared at its end
        for start in range(0, idx.shape[1], B):
            stop = start + B
            Xb, Yb = Xe[:, :, start:stop], Ye[:, :, start:stop]
            loss, _, a_out = network.backprop(work.blocks, Xb, Yb, True, work.gblocks, work.inputs)
            if penalized:  # scikit-learn's L2 on a batch of B samples: alpha/(2 B) ||W||^2
                loss = work.add_penalty(Xb.shape[-1], loss)
            weight = Xb.shape[-1] / n_samples
            loss_sum = loss_sum + weight * loss.astype(np.float64)
            if full:
                norm_sum = norm_sum + weight * work.squared_norm().astype(np.float64)
                if labels:
                    predicted.append(labels(a_out))
            work.step()
        if predicted:
            chunk_labels = np.concatenate(predicted, axis=-1)
            correct.append((chunk_labels == target[idx]).sum(axis=-1))
    metrics = {"loss": np.asarray(loss_sum)}
    if full:
        metrics["gradient_norm"] = np.sqrt(norm_sum)
        if labels:
            metrics["accuracy"] = np.sum(correct, axis=0) / n_samples
    return metrics
