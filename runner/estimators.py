"""scikit-learn compatible estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

They train runner's own networks, with the installed plugins, inside scikit-learn tooling
(``Pipeline``, ``cross_val_score``, ``GridSearchCV``, ``clone``). Plugin names (activations,
costs, initializers, step rules) are looked up in the installed registry when :meth:`fit` runs,
so a third-party plugin works by name as it does in a sweep table; an unknown name raises
ValueError with the registry's "did you mean ...?" message. The defaults are the sweep table's.

:meth:`fit` follows the sweep's path exactly (see :mod:`runner.population`): the inputs are
scaled with :func:`runner.data.fit_scale`, the targets encoded as the sweep encodes them (one
0/1 unit for two classes, one unit per class otherwise or under a normalizing output such as
softmax), every restart ``r`` draws its weights from ``member_rng(random_state, r)``, all
restarts train together as one population with :func:`runner.training.train`, and the one with
the lowest final training loss is kept (the ``restarts`` strategy). Given the same data, seed
and plugins, the weights are bitwise those a sweep records.

Fitted weights use scikit-learn's orientation: ``coefs_[i]`` has shape ``(n_in, n_out)``, the
transpose of runner's ``W``; ``intercepts_[i]`` has shape ``(n_out,)``. ``architecture_`` is the
JSON-ready description a sweep records, and :meth:`trained_network` gives the
:class:`~runner.model.TrainedNetwork` that predicts with it.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from runner.data import SCALES, encode_targets, fit_scale, labels
from runner.kinds import Dataset
from runner.manager import get_registry
from runner.model import TrainedNetwork
from runner.network import Network, member_rng
from runner.params import Plugin
from runner.training import Schedule, train

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    _sk_validate_data = None

Array = np.ndarray

#: the strategy that picks among restarts, as a sweep table's default ``strategy`` column
STRATEGY = "restarts"
DTYPES = ("float64", "float32")


def _validate(estimator: BaseEstimator, X: Any, y: Any = "no_validation", **kwargs: Any) -> Any:
    """scikit-learn's input validation (``validate_data``; ``_validate_data`` before 1.6)."""
    if _sk_validate_data is not None:
        return _sk_validate_data(estimator, X, y, **kwargs)
    return estimator._validate_data(X, y, **kwargs)  # pragma: no cover - older scikit-learn


def _plugin(kind: str, name: Any) -> Plugin:
    """The installed plugin of ``kind`` called ``name``; ValueError with did-you-mean if none."""
    registry = get_registry()
    if not isinstance(name, str) or name not in registry.by_kind[kind]:
        raise ValueError(registry.unknown_message(kind, str(name)))
    return registry.by_kind[kind][name]


def _resolve(plugin: Plugin, given: Any, what: str) -> dict[str, Any]:
    """``given`` merged over the plugin's declared defaults; ValueError naming what is wrong."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValueError(f"{what} must be a dict, got {type(given).__name__}")
    declared = [p.name for p in plugin.params]
    for key, value in given.items():
        if key not in declared:
            raise ValueError(
                f"{what}: {plugin.kind} {plugin.name!r} has no parameter {key!r}; "
                f"it takes: {', '.join(declared) or 'no parameters'}"
            )
        try:
            plugin.param(key).coerce(value)
        except ValueError as exc:
            raise ValueError(f"{what}: {key}={value!r} is not valid: {exc}") from None
    return plugin.resolve(given)


def _integer(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _optional_number(name: str, value: Any, positive: bool) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be None or a number {bound}, got {value!r}")
    return float(value)


def _layers(hidden: Any) -> tuple[int, ...]:
    """Hidden layer sizes: a tuple of positive integers (an int is one layer; () none)."""
    sizes = (hidden,) if isinstance(hidden, numbers.Integral) else hidden
    try:
        out = tuple(_integer("hidden", n, 1) for n in sizes)
    except (TypeError, ValueError):
        raise ValueError(
            f"hidden must be a tuple of positive layer sizes, got {hidden!r}"
        ) from None
    return out


@dataclass
class _Setup:
    """The plugins and resolved parameters of one fit."""

    hidden: tuple[int, ...]
    activation: Plugin
    output: Plugin
    cost: Plugin
    initializer: Plugin
    step_rule: Plugin
    strategy: Plugin
    hidden_params: dict[str, Any]
    output_params: dict[str, Any]
    cost_params: dict[str, Any]
    initializer_params: dict[str, Any]
    optimizer_params: dict[str, Any]
    strategy_params: dict[str, Any]


class _MLP(BaseEstimator):
    """What the classifier and the regressor share: checking settings, training, predicting."""

    # set by the subclasses' __init__ (scikit-learn wants every parameter spelled out there)
    hidden: Any
    activation: str
    output_activation: str | None
    cost: str | None
    initializer: str
    optimizer: str
    optimizer_params: dict[str, Any] | None
    restarts: int
    epochs: int
    batch_size: int
    target_loss: float | None
    gradient_tolerance: float | None
    scaling: str
    dtype: str
    random_state: int | None

    def _setup(self, output_name: str, cost_name: str | None) -> _Setup:
        """Look up every plugin by name and resolve its parameters (ValueError if wrong)."""
        hidden = _layers(self.hidden)
        activation = _plugin("activation", self.activation)
        if hidden and getattr(activation, "output_only", False):
            raise ValueError(f"activation {activation.name!r} works only on the output layer")
        output = _plugin("activation", output_name)
        if cost_name is None:
            cost_name = self._default_cost(output)
        cost = _plugin("cost", cost_name)
        reason = cost.accepts(output)
        if reason:
            raise ValueError(reason)
        initializer = _plugin("initializer", self.initializer)
        step_rule = _plugin("step_rule", self.optimizer)
        strategy = _plugin("strategy", STRATEGY)
        restarts = _integer("restarts", self.restarts, 1)
        return _Setup(
            hidden=hidden,
            activation=activation,
            output=output,
            cost=cost,
            initializer=initializer,
            step_rule=step_rule,
            strategy=strategy,
            hidden_params=activation.resolve({}),
            output_params=output.resolve({}),
            cost_params=cost.resolve({}),
            initializer_params=initializer.resolve({}),
            optimizer_params=_resolve(step_rule, self.optimizer_params, "optimizer_params"),
            strategy_params=_resolve(strategy, {"restarts": restarts}, "restarts"),
        )

    def _default_cost(self, output: Plugin) -> str:
        raise NotImplementedError

    def _schedule(self) -> Schedule:
        return Schedule(
            epochs=_integer("epochs", self.epochs, 1),
            batch_size=_integer("batch_size", self.batch_size, 0),
            target_loss=_optional_number("target_loss", self.target_loss, positive=False),
            gradient_tolerance=_optional_number(
                "gradient_tolerance", self.gradient_tolerance, positive=True
            ),
            log_every=1,  # a loss per epoch, as scikit-learn's loss_curve_
        )

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.SeedSequence().entropy)
        return _integer("random_state", self.random_state, 0)

    def _fit(self, X: Array, Y: Array, setup: _Setup, task: str, n_classes: int) -> None:
        """Scale ``X`` (rows), train every restart on targets ``Y`` (columns), keep the best."""
        if self.scaling not in SCALES:
            raise ValueError(f"scaling must be one of {', '.join(SCALES)}, got {self.scaling!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        dtype = np.dtype(self.dtype)
        schedule = self._schedule()
        seed = self._seed()
        shift, spread = fit_scale(X, self.scaling)
        X_cols = np.ascontiguousarray((np.asarray(X, dtype=np.float64).T - shift) / spread, dtype)
        Y_cols = np.ascontiguousarray(Y, dtype=dtype)
        network = Network(
            sizes=(X_cols.shape[0], *setup.hidden, Y_cols.shape[0]),
            hidden=setup.activation,
            output=setup.output,
            cost=setup.cost,
            hidden_params=setup.hidden_params,
            output_params=setup.output_params,
            cost_params=setup.cost_params,
            dtype=dtype,
        )
        n_members = setup.strategy.members(**setup.strategy_params)
        rngs = [member_rng(seed, restart) for restart in range(n_members)]
        W, b = network.init_population(setup.initializer, setup.initializer_params, rngs)
        hyper: dict[str, Any] = {}
        for p in setup.step_rule.params:
            value = setup.optimizer_params[p.name]
            hyper[p.name] = np.full(n_members, value, dtype=np.float64) if p.per_member else value
        members = train(network, W, b, X_cols, Y_cols, setup.step_rule, hyper, schedule, rngs)
        with np.errstate(all="ignore"):
            losses = network.loss(W, b, X_cols, Y_cols)
        chosen = int(setup.strategy.select(losses, **setup.strategy_params))
        best = members[chosen]

        self.seed_ = seed
        self.coefs_ = [np.ascontiguousarray(w.T) for w in best.weights]
        self.intercepts_ = [np.ascontiguousarray(bias[:, 0]) for bias in best.biases]
        self.loss_ = float(losses[chosen])
        _, curve = best.history["loss"]
        self.loss_curve_ = [float(v) for v in curve]
        self.n_iter_ = int(best.epochs)
        self.converged_ = bool(best.converged)
        self.diverged_ = best.status == "diverged"
        self.restart_losses_ = np.asarray(losses, dtype=np.float64)
        self.best_restart_ = chosen
        self.output_activation_ = setup.output.name
        self.cost_ = setup.cost.name
        self.architecture_ = {
            "sizes": list(network.sizes),
            "hidden_activation": setup.activation.name,
            "hidden_params": setup.hidden_params,
            "output_activation": setup.output.name,
            "output_params": setup.output_params,
            "cost": setup.cost.name,
            "cost_params": setup.cost_params,
            "dtype": self.dtype,
            "task": task,
            "n_classes": n_classes,
            "feature_names": [str(n) for n in getattr(self, "feature_names_in_", [])]
            or [f"x{j + 1}" for j in range(X_cols.shape[0])],
            "preprocessing": {
                "scale": self.scaling,
                "shift": shift.ravel().tolist(),
                "spread": spread.ravel().tolist(),
                "one_hot": bool(setup.output.normalizes),
            },
        }
        if self.diverged_:
            warnings.warn(
                f"training diverged in every restart ({best.reason}); try a smaller learning rate",
                ConvergenceWarning,
                stacklevel=3,
            )

    def trained_network(self) -> TrainedNetwork:
        """The fitted network as a :class:`~runner.model.TrainedNetwork` (save, reload, serve)."""
        check_is_fitted(self, "coefs_")
        weights = [np.asarray(c).T for c in self.coefs_]
        biases = [np.asarray(i)[:, None] for i in self.intercepts_]
        return TrainedNetwork(self.architecture_, weights, biases)

    def _outputs(self, X: Any) -> Array:
        """Network outputs for ``X``, one row per sample: ``(S, N_L)``."""
        check_is_fitted(self, "coefs_")
        X = _validate(self, X, reset=False, dtype=np.float64)
        network = self.trained_network()
        with np.errstate(all="ignore"):
            return network.predict(X)


class MLPClassifier(ClassifierMixin, _MLP):
    """A multi-layer perceptron classifier trained by runner (see the module docstring).

    ``hidden`` is the tuple of hidden layer sizes; ``activation`` the hidden layers' activation;
    ``output_activation`` defaults to ``"sigmoid"`` for two classes and ``"softmax"`` for more;
    ``cost`` to ``"categorical_cross_entropy"`` under a normalizing output (softmax), else
    ``"cross_entropy"``. ``optimizer`` names a step rule and ``optimizer_params`` its
    parameters (``{"learning_rate": 1.0, "momentum": 0.9}``). ``restarts`` initial points are
    trained and the one with the lowest final training loss kept. ``epochs``, ``batch_size``
    (0: full batch), ``target_loss`` and ``gradient_tolerance`` are the sweep's stop settings;
    ``scaling`` is ``"none"``, ``"standard"`` or ``"minmax"``.
    """

    def __init__(
        self,
        hidden: Any = (2,),
        activation: str = "sigmoid",
        output_activation: str | None = None,
        cost: str | None = None,
        initializer: str = "normal",
        optimizer: str = "gd",
        optimizer_params: dict[str, Any] | None = None,
        restarts: int = 1,
        epochs: int = 1000,
        batch_size: int = 0,
        target_loss: float | None = None,
        gradient_tolerance: float | None = None,
        scaling: str = "none",
        dtype: str = "float64",
        random_state: int | None = 0,
    ) -> None:
        self.hidden = hidden
        self.activation = activation
        self.output_activation = output_activation
        self.cost = cost
        self.initializer = initializer
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.restarts = restarts
        self.epochs = epochs
        self.batch_size = batch_size
        self.target_loss = target_loss
        self.gradient_tolerance = gradient_tolerance
        self.scaling = scaling
        self.dtype = dtype
        self.random_state = random_state

    def _default_cost(self, output: Plugin) -> str:
        return "categorical_cross_entropy" if output.normalizes else "cross_entropy"

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Train on inputs ``X`` (one sample per row) and class labels ``y``; return self."""
        X, y = _validate(self, X, y, dtype=np.float64)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, index = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                "a classifier needs samples of at least 2 classes; "
                f"got 1 class: {self.classes_[0]!r}"
            )
        output = self.output_activation
        if output is None:
            output = "sigmoid" if n_classes == 2 else "softmax"
        setup = self._setup(output, self.cost)
        dataset = Dataset(X, index, "classification", n_classes)
        Y = encode_targets(dataset, one_hot=setup.output.normalizes)
        self._fit(X, Y, setup, "classification", n_classes)
        return self

    def predict_proba(self, X: Any) -> Array:
        """Class probabilities, shape ``(S, n_classes)``, columns in the order of ``classes_``.

        One sigmoid unit ``p`` gives ``[1 - p, p]``; a normalizing output (softmax) is returned
        as it is; other outputs are clipped at 0 and divided by their row sums.
        """
        a = self._outputs(X).astype(np.float64)
        if a.shape[1] == 1:
            p = np.clip(a[:, 0], 0.0, 1.0)
            return np.column_stack([1.0 - p, p])
        a = np.clip(a, 0.0, None)
        total = a.sum(axis=1, keepdims=True)
        uniform = np.full_like(a, 1.0 / a.shape[1])
        with np.errstate(all="ignore"):
            return np.where(total > 0, a / np.where(total > 0, total, 1.0), uniform)

    def predict(self, X: Any) -> Array:
        """Class labels: ``a > 0.5`` for one output unit, else the unit with the largest output."""
        index = labels(self._outputs(X).T)  # checks that the estimator is fitted first
        return self.classes_[index]


class MLPRegressor(RegressorMixin, _MLP):
    """A multi-layer perceptron regressor trained by runner (see the module docstring).

    The parameters are the classifier's; the defaults differ: ``tanh`` hidden layers, an
    ``identity`` output, ``squared_error`` cost and ``xavier`` initial weights. Targets may be
    one column (predictions of shape ``(S,)``) or several (``(S, n_targets)``).
    """

    def __init__(
        self,
        hidden: Any = (2,),
        activation: str = "tanh",
        output_activation: str | None = None,
        cost: str | None = None,
        initializer: str = "xavier",
        optimizer: str = "gd",
        optimizer_params: dict[str, Any] | None = None,
        restarts: int = 1,
        epochs: int = 1000,
        batch_size: int = 0,
        target_loss: float | None = None,
        gradient_tolerance: float | None = None,
        scaling: str = "none",
        dtype: str = "float64",
        random_state: int | None = 0,
    ) -> None:
        self.hidden = hidden
        self.activation = activation
        self.output_activation = output_activation
        self.cost = cost
        self.initializer = initializer
        self.optimizer = optimizer
        self.optimizer_params = optimizer_params
        self.restarts = restarts
        self.epochs = epochs
        self.batch_size = batch_size
        self.target_loss = target_loss
        self.gradient_tolerance = gradient_tolerance
        self.scaling = scaling
        self.dtype = dtype
        self.random_state = random_state

    def _default_cost(self, output: Plugin) -> str:
        return "squared_error"

    def fit(self, X: Any, y: Any) -> MLPRegressor:
        """Train on inputs ``X`` (one sample per row) and targets ``y``; return self."""
        X, y = _validate(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        setup = self._setup(self.output_activation or "identity", self.cost)
        Y = encode_targets(Dataset(X, y, "regression"), one_hot=False)
        self._fit(X, Y, setup, "regression", 0)
        return self

    def predict(self, X: Any) -> Array:
        """Predicted targets: shape ``(S,)`` if ``y`` was one column, else ``(S, n_targets)``."""
        a = self._outputs(X)
        return a[:, 0] if self._y_1d else a

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
