"""The kinds of plugin: the base classes a plugin object derives from, and what each must provide.

Array conventions, shared by every kind (they follow the backprop notes, z = W a + b):

- a layer's pre-activation ``z`` and activation ``a`` have shape ``(P, N, S)``: ``P`` networks of a
  population, ``N`` units, ``S`` samples as columns;
- a weight matrix ``W`` has shape ``(P, N_m, N_{m-1})`` and a bias ``b`` shape ``(P, N_m, 1)``;
- a step rule's hyperparameter declared ``per_member`` arrives as an array of shape ``(P, 1, 1)``,
  so it broadcasts against every parameter array; a shared one arrives as a plain Python number.
  Only step rules and schedules may declare ``per_member`` parameters (a schedule's arrive as
  ``(P,)`` arrays): the parameters of every other kind are shared by a whole population (the
  registry refuses the flag elsewhere).

The core calls these methods and reads these declarations, nothing else; it never names a
concrete plugin. What the core needs to know about a pairing of two plugins is declared, so that
a third-party plugin is treated exactly as a built-in one: a cost and an output activation that
share a canonical ``link`` give the exact output delta ``s (a - y)`` (:func:`canonical_delta`).
Which kind of problem (:data:`TASKS`) an output activation and a cost serve is declared too
(``tasks``), and :func:`task_misfit` is the one judgement of whether they fit a data set's task
and targets. Imports :mod:`runner.plugin.params` only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from runner.plugin.params import Plugin

Array = np.ndarray

#: the kinds of problem a data set poses (:attr:`Dataset.task`)
TASKS: tuple[str, ...] = ("classification", "regression")


def _bounded(interval: tuple[float, float]) -> bool:
    return bool(np.isfinite(interval[0]) and np.isfinite(interval[1]))


class Activation(Plugin):
    """An activation function g, applied unit by unit: a = g(z).

    Subclasses implement :meth:`forward` and :meth:`derivative` (da/dz, elementwise, which may use
    the already computed ``a``). An activation that couples units (softmax) overrides
    :meth:`backward` instead, the vector-Jacobian product dC/dz from dC/da.
    """

    kind: ClassVar[str] = "activation"
    #: the interval the outputs lie in; costs use it to decide which activations they accept
    output_range: ClassVar[tuple[float, float]] = (-np.inf, np.inf)
    #: True when the outputs of a layer form a probability distribution over its units (softmax)
    normalizes: ClassVar[bool] = False
    #: True when the activation only makes sense on the output layer
    output_only: ClassVar[bool] = False
    #: the canonical link this activation is the inverse of ("logit" for the logistic,
    #: "softmax" for softmax, "identity" for the identity), or None. An output activation and a
    #: cost that declare the same link pair exactly: dC/dz^L = s (a - y) (:func:`canonical_delta`)
    link: ClassVar[str | None] = None
    #: the tasks this activation serves on the output layer, from :data:`TASKS`; None (the
    #: default) derives them from the other declarations (:meth:`serves`)
    tasks: ClassVar[tuple[str, ...] | None] = None

    def serves(self) -> tuple[str, ...]:
        """The tasks this activation serves as an output layer: ``tasks`` where declared, else
        classification for one that normalizes, both for a bounded ``output_range`` (class
        probabilities, or targets inside it) and regression for an unbounded one."""
        if self.tasks is not None:
            return tuple(self.tasks)
        if self.normalizes:
            return ("classification",)
        return TASKS if _bounded(self.output_range) else ("regression",)

    def link_slope(self, **params: Any) -> float:
        """The ``s`` of the exact pairing: g(z) is the inverse link applied to ``s z`` (the
        logistic with steepness beta has ``s = beta``)."""
        return 1.0

    def forward(self, z: Array, **params: Any) -> Array:
        raise NotImplementedError

    def derivative(self, z: Array, a: Array, **params: Any) -> Array:
        raise NotImplementedError

    def backward(self, z: Array, a: Array, grad_a: Array, **params: Any) -> Array:
        """dC/dz given dC/da; for an elementwise activation, ``grad_a * g'(z)``."""
        return grad_a * self.derivative(z, a, **params)


class Cost(Plugin):
    """A cost C(a, y): the mean over samples of a per-sample cost summed over output units.

    :meth:`value` returns one number per member, shape ``(P,)``; :meth:`derivative` returns the
    per-sample dc/da, shape ``(P, N, S)`` (the core divides by ``S``). A cost that is the
    negative log-likelihood of a distribution declares that distribution's canonical ``link``;
    with an output activation of the same link the core uses the exact per-sample output delta
    ``dc/dz = s (a - y)`` instead of the chain rule (:func:`canonical_delta`).
    """

    kind: ClassVar[str] = "cost"
    #: the interval the outputs must lie in for the cost to be defined
    input_range: ClassVar[tuple[float, float]] = (-np.inf, np.inf)
    #: True when the cost needs outputs that form a distribution (categorical cross-entropy)
    needs_normalized: ClassVar[bool] = False
    #: the canonical link of the cost's distribution ("logit" for binary cross-entropy,
    #: "softmax" for categorical cross-entropy, "identity" for squared error), or None
    link: ClassVar[str | None] = None
    #: the tasks this cost serves, from :data:`TASKS`; None (the default) derives them from
    #: the other declarations (:meth:`serves`)
    tasks: ClassVar[tuple[str, ...] | None] = None
    #: the least value the cost can take (0 for a sum of non-negative terms; -inf, the
    #: default, when unknown): a recorded loss below it is refused as no result of the cost
    lower_bound: ClassVar[float] = -np.inf

    def serves(self) -> tuple[str, ...]:
        """The tasks this cost serves: ``tasks`` where declared, else classification for one
        that needs normalized or bounded outputs (a likelihood of classes) and both otherwise."""
        if self.tasks is not None:
            return tuple(self.tasks)
        if self.needs_normalized or _bounded(self.input_range):
            return ("classification",)
        return TASKS

    def value(self, a: Array, y: Array, **params: Any) -> Array:
        raise NotImplementedError

    def derivative(self, a: Array, y: Array, **params: Any) -> Array:
        raise NotImplementedError

    def accepts(self, activation: Activation) -> str | None:
        """None when ``activation`` may feed this cost, else the reason it may not."""
        lo, hi = activation.output_range
        need_lo, need_hi = self.input_range
        if lo < need_lo or hi > need_hi:
            return (
                f"cost {self.name!r} needs outputs in [{need_lo:g}, {need_hi:g}] but "
                f"{activation.name!r} gives ({lo:g}, {hi:g})"
            )
        if self.needs_normalized and not activation.normalizes:
            return f"cost {self.name!r} needs an output activation that normalizes (softmax)"
        if activation.normalizes and not self.needs_normalized:
            return (
                f"output activation {activation.name!r} normalizes across units; "
                f"pair it with a categorical cost, not {self.name!r}"
            )
        return None


def task_misfit(plugin: Activation | Cost, task: str, targets: tuple[float, float]) -> str | None:
    """Why ``plugin`` (an output activation or a cost) does not fit a data set of ``task`` whose
    encoded targets span ``targets`` (lowest, highest), or None when it fits: it must serve the
    task, and the targets must lie in the interval its outputs lie in (an activation's
    ``output_range``) or must lie in (a cost's ``input_range``)."""
    is_cost = isinstance(plugin, Cost)
    label = f"cost {plugin.name!r}" if is_cost else f"output activation {plugin.name!r}"
    serves = plugin.serves()
    if task not in serves:
        return f"{label} serves {' and '.join(serves) or 'no task'}, not {task}"
    lo, hi = plugin.input_range if is_cost else plugin.output_range  # type: ignore[union-attr]
    if targets[0] < lo or targets[1] > hi:
        what = "needs outputs in" if is_cost else "gives outputs in"
        return f"{label} {what} [{lo:g}, {hi:g}], the targets span [{targets[0]:g}, {targets[1]:g}]"
    return None


def canonical_delta(
    cost: Cost, activation: Activation, activation_params: dict[str, Any], a: Array, y: Array
) -> Array | None:
    """The exact per-sample output delta dc/dz = s (a - y) where ``cost`` and the output
    ``activation`` declare the same canonical link, else None (the core then uses the chain rule
    ``activation.backward(z, a, cost.derivative(a, y))``)."""
    if cost.link is None or cost.link != activation.link:
        return None
    slope = activation.link_slope(**activation_params)
    return a - y if slope == 1.0 else slope * (a - y)


class StepRule(Plugin):
    """How parameters move given their gradients: plain gradient descent, momentum, ...

    ``params`` and ``grads`` are lists of arrays with the population axis first, in one layout
    for every caller (the training loop and the conformance kit alike, both from
    :func:`runner.engine.buffers.layer_views`): the weights of every layer, then their biases,
    ``[W^1, ..., W^L, b^1, ..., b^L]``, with ``W^m`` of shape ``(P, N_m, N_{m-1})`` and ``b^m`` of
    shape ``(P, N_m, 1)``. Each layer's ``W^m`` and ``b^m`` are views into one ``[W^m | b^m]``
    block, so neither is contiguous on its own. :meth:`step` updates ``params`` in place.
    ``state`` is whatever :meth:`init_state` returned: a dict whose values are lists of arrays
    with the population axis first (the core keeps it aligned with the population when finished
    members are dropped), or 0-d arrays the whole population shares (every member takes every
    step, so a step count is one number). Hyperparameters declared
    ``per_member=True`` arrive as arrays of shape ``(P, 1, 1)``.

    A rule that sets :attr:`elementwise` promises that it updates every entry of every parameter
    by the same formula from that entry's own gradient, state and hyperparameters. The core then
    passes all parameters as one flat array (one array of gradients, state arrays shaped like
    it or 0-d), and each per-member hyperparameter as an array of the same shape holding every
    entry's member's value, or as a plain number when all members share it: an update is a few
    calls on one long array instead of a few calls per layer. ``runner.testing.check_step_rule``
    checks the promise.
    """

    kind: ClassVar[str] = "step_rule"
    #: True when :meth:`step` treats every entry alike and independently (see above)
    elementwise: ClassVar[bool] = False
    #: the hyperparameter a :class:`RateSchedule` multiplies (declared ``per_member``);
    #: None for a rule that has no learning rate (it takes the constant schedule only)
    rate: ClassVar[str | None] = "learning_rate"

    def init_state(self, params: list[Array]) -> dict[str, list[Array]]:
        return {}

    def step(
        self,
        params: list[Array],
        grads: list[Array],
        state: dict[str, list[Array]],
        **hyper: Any,
    ) -> None:
        raise NotImplementedError


class RateSchedule(Plugin):
    """How the learning rate changes from epoch to epoch: a factor each member's rate is
    multiplied by, whatever the step rule (a third party's included).

    :meth:`factor` returns, before the steps of epoch ``epoch`` (1-based) of ``epochs``, one
    factor per member, shape ``(P,)``, finite and > 0; the core multiplies the step rule's
    :attr:`StepRule.rate` hyperparameter by it, member by member. Parameters declared
    ``per_member`` arrive as arrays of shape ``(P,)``, the others as plain numbers. ``state`` is
    what :meth:`init_state` returned for ``P`` members: a dict of arrays with the population axis
    first (the core drops the rows of finished members); a schedule that reacts to the training
    loss declares :attr:`needs_loss`, and then gets ``loss``, every member's loss at the previous
    epoch (NaN before the first), at every epoch. A member's factors depend on its own values
    only, so they are the same alone or in any population (``runner.testing.check_schedule``).
    """

    kind: ClassVar[str] = "schedule"
    #: True when :meth:`factor` reads the previous epoch's loss
    needs_loss: ClassVar[bool] = False
    #: True when the factor is always 1: the core then leaves the rate alone, at no cost
    constant: ClassVar[bool] = False

    def init_state(self, P: int) -> dict[str, Array]:
        return {}

    def factor(
        self, epoch: int, epochs: int, loss: Array, state: dict[str, Array], **params: Any
    ) -> Array:
        raise NotImplementedError


class Strategy(Plugin):
    """Which initial points to train for one configuration, and which result to keep.

    :meth:`members` says how many independent initial points (members of the population) one
    configuration uses; :meth:`select` gets their final training losses (``inf`` for a diverged
    member) and returns the index of the one to keep. Every step rule composes with every strategy:
    the strategy never sees gradients.
    """

    kind: ClassVar[str] = "strategy"

    def members(self, **params: Any) -> int:
        return 1

    def select(self, final_losses: Array, **params: Any) -> int:
        return int(np.argmin(final_losses))


class Initializer(Plugin):
    """Initial weights and biases of one layer of one network, drawn from ``rng``."""

    kind: ClassVar[str] = "initializer"

    def initialize(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, **params: Any
    ) -> tuple[Array, Array]:
        """Return ``(W, b)`` with shapes ``(fan_out, fan_in)`` and ``(fan_out, 1)``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Dataset:
    """A data set as plain arrays: ``X`` has one row per sample.

    For classification ``y`` holds integer class labels ``0..n_classes-1``, shape ``(S,)``; for
    regression it holds float targets, shape ``(S, n_targets)``.
    """

    X: Array
    y: Array
    task: str  # "classification" | "regression"
    n_classes: int = 0
    feature_names: tuple[str, ...] = field(default=())
    name: str = ""

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])


@dataclass(frozen=True)
class Success:
    """What counts as a run's success on a data set: its final ``metric`` at least ``at_least``.

    ``metric`` is ``test_accuracy`` (the held-out samples'; a run that holds none out is judged
    by its training accuracy instead) or ``train_accuracy``; ``at_least`` lies in [0, 1].
    :meth:`parse` reads the text a table cell gives (``test_accuracy>=0.95``), :meth:`text`
    writes it back and :meth:`says` in words (``test accuracy >= 0.95``).
    """

    metric: str
    at_least: float

    METRICS: ClassVar[tuple[str, ...]] = ("test_accuracy", "train_accuracy")
    ACCEPTED: ClassVar[str] = (
        "test_accuracy>=X or train_accuracy>=X with X in [0, 1] (e.g. test_accuracy>=0.95)"
    )

    def __post_init__(self) -> None:
        if self.metric not in self.METRICS or not 0.0 <= self.at_least <= 1.0:
            raise ValueError(f"give {self.ACCEPTED}")

    @classmethod
    def parse(cls, text: str) -> Success:
        """The criterion a cell writes (``test_accuracy>=0.95``); ValueError naming what is
        accepted otherwise."""
        metric, sep, number = str(text).partition(">=")
        try:
            return cls(metric.strip(), float(number)) if sep else cls("", math.nan)
        except ValueError:
            raise ValueError(f"give {cls.ACCEPTED}") from None

    def text(self) -> str:
        return f"{self.metric}>={self.at_least:g}"

    def says(self) -> str:
        return f"{self.metric.replace('_', ' ')} >= {self.at_least:g}"

    def met(self, finals: Mapping[str, float]) -> bool | None:
        """Whether a run's final metrics meet it (None when the run has no accuracy)."""
        value = finals.get(self.metric)
        if value is None and self.metric == "test_accuracy":
            value = finals.get("train_accuracy")  # nothing held out: the training samples
        return None if value is None else bool(value >= self.at_least)


class DatasetSource(Plugin):
    """A named data set: :meth:`load` returns a :class:`Dataset`; :meth:`success` says what
    counts as a run's success on it.

    ``rng`` is seeded from the run's ``data_seed``; generated data sets draw their noise from it,
    fixed ones ignore it.
    """

    kind: ClassVar[str] = "dataset"

    def load(self, rng: np.random.Generator, **params: Any) -> Dataset:
        raise NotImplementedError

    def success(self, **params: Any) -> Success | None:
        """What counts as a run's success on these data, for the study's success rates: a
        :class:`Success` (``Success("test_accuracy", 0.95)``), or None, the default: for
        classification every training sample classified right (XOR's sense of "solved"),
        for regression no success unless the row sets ``target_loss``. A row's
        ``target_loss`` overrides it."""
        return None


@dataclass(frozen=True)
class Minimum:
    """A known minimum of an :class:`Objective`: where it is, its value, and a short label
    (``"(3, 2)"``) that names it in tags and figures; ``global_`` when no minimum is lower."""

    point: tuple[float, ...]
    value: float
    label: str = ""
    global_: bool = True


class Objective(Plugin):
    """An analytic function f of n variables to minimize, instead of a network's cost.

    Points come a population at a time: ``x`` has shape ``(P, n)``, one point per row.
    :meth:`value` returns f at each, shape ``(P,)``; :meth:`gradient` returns df/dx, shape
    ``(P, n)``; :meth:`hessian` the matrix of second derivatives, shape ``(P, n, n)``, or None
    (the default: the core differences the gradient centrally). :meth:`dimension` is n for the
    given parameters; :meth:`box` the ``(low, high)`` corners, each of shape ``(n,)``, from which
    starting points are drawn uniformly (and over which figures are drawn). :meth:`minima` are
    the known minima (location, value, whether global), :meth:`saddles` the known saddle points
    and :meth:`maxima` the known local maxima, where they are known (all may be empty: Rastrigin
    declares its global minimum only; an objective that declares no minimum has none, and the
    study says "no minimum" rather than a success rate). A step rule moves the points as it
    moves a network's weights: ``params`` is ``[x]``, one array of shape ``(P, n, 1)``, and
    ``grads`` ``[df/dx]`` of the same shape.
    ``runner.testing.check_objective`` checks the gradient and the Hessian by central
    differences, the minima by their gradient and value, the saddles and the maxima by their
    gradient and the signs of their Hessian's eigenvalues.
    """

    kind: ClassVar[str] = "objective"

    def dimension(self, **params: Any) -> int:
        raise NotImplementedError

    def box(self, **params: Any) -> tuple[Array, Array]:
        raise NotImplementedError

    def value(self, x: Array, **params: Any) -> Array:
        raise NotImplementedError

    def gradient(self, x: Array, **params: Any) -> Array:
        raise NotImplementedError

    def hessian(self, x: Array, **params: Any) -> Array | None:
        return None

    def minima(self, **params: Any) -> tuple[Minimum, ...]:
        return ()

    def saddles(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        return ()

    def maxima(self, **params: Any) -> tuple[tuple[float, ...], ...]:
        """The known local maxima, each a point of n coordinates (none by default)."""
        return ()


#: the base class of each kind, in the order listings show them
KINDS: dict[str, type[Plugin]] = {
    "activation": Activation,
    "cost": Cost,
    "step_rule": StepRule,
    "strategy": Strategy,
    "schedule": RateSchedule,
    "initializer": Initializer,
    "dataset": DatasetSource,
    "objective": Objective,
}
