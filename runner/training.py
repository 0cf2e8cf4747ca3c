"""The training loop over a population: epochs, mini-batches, stop criteria and metric history.

Every member of a population trains independently of the others, in one vectorized pass. A
member stops when its loss reaches ``target_loss``, its gradient norm falls below
``gradient_tolerance`` (both: converged), its loss turns NaN or infinite (diverged), or the epochs
run out. A stopped member's weights and history are taken out at once; its row keeps being
computed, unused, until enough rows have stopped that dropping them from the arrays pays, so the
others never wait and a member's result is bitwise the same alone or in any population.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runner.kinds import StepRule
from runner.network import Network

Array = np.ndarray

#: drop stopped rows from the working arrays once they are this fraction of them
COMPACT_FRACTION = 0.25


@dataclass(frozen=True)
class Schedule:
    """How long and how to train: epochs, batching, stop criteria and how often to record."""

    epochs: int = 1000
    batch_size: int = 0  # 0 or >= the number of samples: full batch
    target_loss: float | None = None
    gradient_tolerance: float | None = None
    log_every: int = 0  # 0: choose so that at most ``max_points`` epochs are recorded
    max_points: int = 200
    #: bytes the metric history of one population may take; a very large population records
    #: fewer points rather than more memory (200 points of 3 metrics fit 50,000 members)
    history_bytes: int = 128 * 2**20

    def every(self, members: int = 1, metrics: int = 1) -> int:
        """Record every this many epochs: ``log_every``, else at most ``max_points`` points,
        fewer where ``members`` x ``metrics`` float32 histories would exceed ``history_bytes``."""
        if self.log_every > 0:
            return self.log_every
        by_budget = max(1, self.history_bytes // (4 * max(1, members) * max(1, metrics)))
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


@dataclass
class _History:
    """Metric values at the recorded epochs for every member (NaN where not recorded)."""

    every: int
    n_members: int
    names: tuple[str, ...]
    values: dict[str, Array] = field(init=False)
    last: dict[str, Array] = field(init=False)

    def __post_init__(self) -> None:
        self.values = {}
        self.last = {name: np.full(self.n_members, np.nan) for name in self.names}

    def allocate(self, epochs: int) -> None:
        n_points = epochs // self.every
        # one row per member, so that a member's history is a contiguous view, never a copy
        self.values = {
            name: np.full((self.n_members, n_points), np.nan, dtype=np.float32)
            for name in self.names
        }
        self.steps = np.arange(1, n_points + 1) * self.every

    def record(self, epoch: int, ids: Array, metrics: dict[str, Array]) -> None:
        if epoch % self.every == 0:
            k = epoch // self.every - 1
            for name in self.names:
                self.values[name][ids, k] = metrics[name]

    def finish(self, ids: Array, metrics: dict[str, Array]) -> None:
        for name in self.names:  # a metric not computed at that epoch stays NaN
            if name in metrics:
                self.last[name][ids] = metrics[name]

    def of(self, member: int, stop_epoch: int) -> dict[str, tuple[Array, Array]]:
        n = stop_epoch // self.every
        steps = self.steps[:n]  # views: shared steps, the member's own row of float32 values
        out = {}
        for name in self.names:
            vals = self.values[name][member, :n]
            if stop_epoch % self.every:
                s = np.append(steps, stop_epoch)
                vals = np.append(vals, self.last[name][member])
            else:
                s = steps
            out[name] = (s, vals)
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
        )

    def __iter__(self) -> Iterator[MemberResult]:
        return (self[i] for i in range(len(self)))


def gradient_norm(grads: list[Array]) -> Array:
    """The Euclidean norm of every member's whole gradient, shape ``(P,)``."""
    total = np.zeros(grads[0].shape[0])
    for g in grads:
        total += np.einsum("pij,pij->p", g, g)
    return np.sqrt(total)


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
    accuracy: Callable[[Array, Array], Array] | None = None,
) -> PopulationResult:
    """Train every member of a population; ``result[i]`` is member i's :class:`MemberResult`.

    ``W`` and ``b`` are updated in place. ``X`` is ``(N_0, S)`` and ``Y`` is ``(N_L, S)``, shared
    by all members. ``hyper`` maps each step-rule hyperparameter to a scalar or to an array of one
    value per member; ``rngs`` are the members' generators, used to shuffle mini-batches.
    """
    P = W[0].shape[0]
    n_samples = X.shape[-1]
    full_batch = schedule.batch_size <= 0 or schedule.batch_size >= n_samples
    names = ("loss", "accuracy", "gradient_norm") if accuracy else ("loss", "gradient_norm")
    history = _History(schedule.every(P, len(names)), P, names)
    history.allocate(schedule.epochs)

    params = [*W, *b]
    L = len(W)
    state = step_rule.init_state(params)
    dtype = W[0].dtype
    per_member = {k: _as_member_array(v, P, dtype) for k, v in hyper.items() if np.ndim(v) > 0}
    shared = {k: v for k, v in hyper.items() if np.ndim(v) == 0}

    ids = np.arange(P)  # the member each working row belongs to
    alive = np.ones(P, dtype=bool)  # rows still training (a stopped row stays until compaction)
    rngs = list(rngs)
    final = [p.copy() for p in params]  # what a member ends with if no epoch runs
    diverged_members = np.zeros(P, dtype=bool)
    converged = np.zeros(P, dtype=bool)
    stop_epoch = np.zeros(P, dtype=np.int64)
    reasons: dict[int, str] = {}

    every = history.every
    always = schedule.target_loss is not None or schedule.gradient_tolerance is not None
    hyp: dict[str, Any] = {}
    Y_rows: Array | None = None
    all_alive = True  # no stopped row is waiting to be dropped
    with np.errstate(all="ignore"):
        for epoch in range(1, schedule.epochs + 1):
            if not hyp:  # per-member values of the live rows; reset when rows are dropped
                hyp = {k: v[ids].reshape(-1, 1, 1) for k, v in per_member.items()} | shared
            # the gradient norm and accuracy only where they are recorded or decide a stop
            recorded = epoch % every == 0 or epoch == schedule.epochs
            if full_batch:
                # targets as one contiguous row per member: broadcasting a (N_L, S) operand
                # against (P, N_L, S) costs ~5x a same-shape operation in numpy
                if Y_rows is None or len(Y_rows) != len(ids):
                    Y_rows = np.ascontiguousarray(np.broadcast_to(Y, (len(ids), *Y.shape)))
                # the cost itself only where it is recorded or decides a stop; in between, a
                # diverging member shows as a non-finite output-layer bias gradient
                needed = recorded or always
                loss, dW, db, a_out = network.gradients(
                    params[:L], params[L:], X, Y_rows, with_loss=needed
                )
                grads = [*dW, *db]
                if loss is None:
                    out_bias = db[-1] if all_alive else db[-1][alive]
                    if np.isfinite(out_bias).all():
                        # nothing is recorded and no member can stop at this epoch
                        step_rule.step(params, grads, state, **hyp)
                        continue
                    loss = network.cost.value(a_out, Y_rows, **network.cost_params)
                metrics = {"loss": loss}
                if needed or not np.isfinite(loss[alive]).all():
                    metrics["gradient_norm"] = gradient_norm(grads)
                    if accuracy:
                        metrics["accuracy"] = accuracy(a_out, Y_rows)
                step_rule.step(params, grads, state, **hyp)
            else:
                metrics = _minibatch_epoch(
                    network,
                    params,
                    L,
                    X,
                    Y,
                    step_rule,
                    state,
                    hyp,
                    rngs,
                    schedule,
                    accuracy,
                    full=recorded or always,
                )

            loss = metrics["loss"]
            diverged = alive & ~np.isfinite(loss)
            done = np.zeros_like(alive)
            if schedule.target_loss is not None:
                done |= loss <= schedule.target_loss
            if schedule.gradient_tolerance is not None:
                done |= metrics["gradient_norm"] < schedule.gradient_tolerance
            done &= alive & ~diverged
            stopping = diverged | done | (alive & (epoch == schedule.epochs))

            if epoch % every == 0:
                history.record(epoch, ids[alive], {k: v[alive] for k, v in metrics.items()})
            if stopping.any():
                rows = np.flatnonzero(stopping)
                members = ids[rows]
                history.finish(members, {k: v[rows] for k, v in metrics.items()})
                for f, p in zip(final, params, strict=True):
                    f[members] = p[rows]
                stop_epoch[members] = epoch
                converged[members] = done[rows]
                for row, member in zip(rows, members, strict=True):
                    if diverged[row]:
                        diverged_members[member] = True
                        reasons[int(member)] = f"loss became {loss[row]} at epoch {epoch}"
                alive &= ~stopping
                all_alive = False
                if not alive.any():
                    break
                if (~alive).sum() >= COMPACT_FRACTION * alive.size:
                    keep = np.flatnonzero(alive)
                    params[:] = [p[keep] for p in params]
                    for arrays in state.values():
                        arrays[:] = [s[keep] for s in arrays]
                    ids, alive = ids[keep], alive[keep]
                    all_alive = True
                    rngs = [rngs[i] for i in keep] if rngs else rngs
                    hyp = {}

    W[:] = final[:L]
    b[:] = final[L:]
    return PopulationResult(
        W=final[:L],
        b=final[L:],
        diverged=diverged_members,
        converged=converged,
        epochs=stop_epoch,
        reasons=reasons,
        history=history,
    )


def _as_member_array(value: Any, P: int, dtype: Any) -> Array:
    arr = np.asarray(value, dtype=dtype).reshape(-1)
    if arr.size == 1:
        return np.full(P, arr[0])
    if arr.size != P:
        raise ValueError(f"a per-member hyperparameter has {arr.size} values for {P} members")
    return arr


def _minibatch_epoch(
    network: Network,
    params: list[Array],
    L: int,
    X: Array,
    Y: Array,
    step_rule: StepRule,
    state: dict[str, list[Array]],
    hyp: dict[str, Any],
    rngs: list[np.random.Generator],
    schedule: Schedule,
    accuracy: Callable[[Array, Array], Array] | None,
    full: bool = True,
) -> dict[str, Array]:
    """One epoch of shuffled mini-batches, every member with its own order of samples.

    The epoch's loss and accuracy are the sample-weighted means over its batches; its gradient
    norm is the root of the sample-weighted mean of the squared batch norms.
    """
    n_samples = X.shape[-1]
    B = schedule.batch_size
    order = np.stack([rng.permutation(n_samples) for rng in rngs])  # (P, S)
    P = order.shape[0]
    sums = {"loss": np.zeros(P)}
    if full:
        sums["gradient_norm"] = np.zeros(P)
    if full and accuracy:
        sums["accuracy"] = np.zeros(P)
    for start in range(0, n_samples, B):
        idx = order[:, start : start + B]
        # (N, P, B) gathered, viewed as (P, N, B); transpose is moveaxis without its overhead
        Xb = X[:, idx].transpose(1, 0, 2)
        Yb = Y[:, idx].transpose(1, 0, 2)
        n = idx.shape[1]
        loss, dW, db, a_out = network.gradients(params[:L], params[L:], Xb, Yb)
        grads = [*dW, *db]
        sums["loss"] += n * loss
        if full:
            g = gradient_norm(grads)
            sums["gradient_norm"] += n * g * g
        if full and accuracy:
            sums["accuracy"] += n * accuracy(a_out, Yb)
        step_rule.step(params, grads, state, **hyp)
    out = {k: v / n_samples for k, v in sums.items()}
    if full:
        out["gradient_norm"] = np.sqrt(out["gradient_norm"])
    return out
