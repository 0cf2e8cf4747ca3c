"""scikit-learn compatible estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

They train runner's own networks, with the installed plugins, inside scikit-learn tooling
(``Pipeline``, ``cross_val_score``, ``GridSearchCV``, ``clone``). Plugin names (activations,
costs, initializers, step rules, strategies) are looked up in the installed registry when
:meth:`fit` runs, so a third-party plugin works by name as it does in a sweep table; an unknown
name raises ValueError with the registry's "did you mean ...?" message. The estimators'
defaults are scikit-learn's ``MLPClassifier()`` / ``MLPRegressor()`` defaults (100 relu units,
Glorot-uniform weights, adam at learning rate 1e-3, batches of min(200, n), 200 epochs, alpha
1e-4: :data:`~runner.engine.settings.ESTIMATOR_DEFAULTS`), the other keywords' are the sweep
table's (:mod:`runner.engine.settings`); every keyword is checked against
a declared :class:`~runner.plugin.params.Param`, as scikit-learn checks its
``_parameter_constraints``.

:meth:`fit` takes the sweep's path (:mod:`runner.engine.population`): the data are prepared by
:func:`~runner.engine.data.prepare_dataset` (scaled, targets encoded as the sweep encodes them),
the architecture is an :class:`~runner.engine.trained.Architecture`, every member ``r`` of the
strategy draws its weights from ``member_rng(random_state, r)`` and all train together through
:func:`~runner.engine.population.train_members`; the strategy keeps one. Given the same data,
seed and plugins, the weights are bitwise those a sweep records (with early stopping, where the
estimator draws its validation split from ``random_state`` and a sweep from ``data_seed``, when
the two are equal). :meth:`partial_fit` trains one epoch at a time, carrying the step rule's
state from call to call; ``warm_start`` starts :meth:`fit` from the last fit's weights.

Fitted weights use scikit-learn's orientation: ``coefs_[i]`` has shape ``(n_in, n_out)``, the
transpose of runner's ``W``; ``intercepts_[i]`` has shape ``(n_out,)``. ``architecture_`` is the
JSON-ready description a sweep records, and :meth:`trained_network` gives the
:class:`~runner.engine.trained.TrainedNetwork` that predicts with it. Imports scikit-learn, the
rest of :mod:`runner.engine` and :mod:`runner.plugin`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from runner.engine.buffers import member_hyper
from runner.engine.data import Prepared, labels, prepare_dataset
from runner.engine.population import evaluate, rate_control, train_members
from runner.engine.settings import (
    CLASSIFIER_OUTPUT,
    ESTIMATOR_DEFAULTS,
    LAYERS_ACCEPTED,
    PARTS,
    REGRESSOR_DEFAULTS,
    SETTINGS,
    default,
    hidden_layers,
)
from runner.engine.trained import Architecture, TrainedNetwork
from runner.engine.training import Schedule
from runner.plugin.kinds import Activation, Dataset
from runner.plugin.params import Param, Plugin
from runner.plugin.registry import Registry, get_registry

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    _sk_validate_data = None

Array = np.ndarray

#: the estimators' defaults that are scikit-learn's, not the table's
HIDDEN: tuple[int, ...] = ESTIMATOR_DEFAULTS["hidden"]
ACTIVATION: str = ESTIMATOR_DEFAULTS["activation"]
INITIALIZER: str = ESTIMATOR_DEFAULTS["initializer"]
OPTIMIZER: str = ESTIMATOR_DEFAULTS["optimizer"]
EPOCHS: int = ESTIMATOR_DEFAULTS["epochs"]
BATCH_SIZE: int = ESTIMATOR_DEFAULTS["batch_size"]
ALPHA: float = ESTIMATOR_DEFAULTS["alpha"]

#: the keywords checked against a declared parameter (besides plugin names and their params)
CONSTRAINTS: dict[str, Param] = {
    name: SETTINGS[name]
    for name in (
        "epochs",
        "batch_size",
        "target_loss",
        "gradient_tolerance",
        "scaling",
        "dtype",
        "alpha",
        "early_stopping",
        "validation_fraction",
        "patience",
        "tol",
    )
} | {
    "warm_start": Param("warm_start", bool, False, "start fit from the weights of the last fit"),
    "restarts": Param("restarts", int, 1, "shorthand for strategy_params={'restarts': n}", low=1),
    "random_state": Param("random_state", int, 0, "the seed (None: a fresh one)", low=0),
}


def _validate(estimator: BaseEstimator, X: Any, y: Any = "no_validation", **kwargs: Any) -> Any:
    """scikit-learn's input validation (``validate_data``; ``_validate_data`` before 1.6)."""
    if _sk_validate_data is not None:
        return _sk_validate_data(estimator, X, y, **kwargs)
    return estimator._validate_data(X, y, **kwargs)  # pragma: no cover - older scikit-learn


@dataclass
class _Fit:
    """The plugins of one fit, by part, and each part's resolved parameters."""

    plugins: dict[str, Plugin]
    params: dict[str, dict[str, Any]]


class _MLP(BaseEstimator):
    """What the classifier and the regressor share: one ``__init__``, checking the keywords,
    training and predicting. The subclasses only give the defaults and the targets."""

    def __init__(
        self,
        *,
        hidden: Any,
        activation: str,
        output_activation: str | None,
        cost: str | None,
        initializer: str,
        optimizer: str,
        strategy: str,
        activation_params: dict[str, Any] | None,
        output_activation_params: dict[str, Any] | None,
        cost_params: dict[str, Any] | None,
        initializer_params: dict[str, Any] | None,
        optimizer_params: dict[str, Any] | None,
        strategy_params: dict[str, Any] | None,
        schedule: str,
        schedule_params: dict[str, Any] | None,
        alpha: float,
        early_stopping: bool,
        validation_fraction: float,
        patience: int,
        tol: float,
        warm_start: bool,
        restarts: int,
        epochs: int,
        batch_size: int,
        target_loss: float | None,
        gradient_tolerance: float | None,
        scaling: str,
        dtype: str,
        random_state: int | None,
    ) -> None:
        self.hidden = hidden
        self.activation = activation
        self.output_activation = output_activation
        self.cost = cost
        self.initializer = initializer
        self.optimizer = optimizer
        self.strategy = strategy
        self.activation_params = activation_params
        self.output_activation_params = output_activation_params
        self.cost_params = cost_params
        self.initializer_params = initializer_params
        self.optimizer_params = optimizer_params
        self.strategy_params = strategy_params
        self.schedule = schedule
        self.schedule_params = schedule_params
        self.alpha = alpha
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.tol = tol
        self.warm_start = warm_start
        self.restarts = restarts
        self.epochs = epochs
        self.batch_size = batch_size
        self.target_loss = target_loss
        self.gradient_tolerance = gradient_tolerance
        self.scaling = scaling
        self.dtype = dtype
        self.random_state = random_state

    # -- the keywords ----------------------------------------------------------------------

    def _checked(self, name: str) -> Any:
        value = getattr(self, name)
        param = CONSTRAINTS[name]
        if value is None and param.default is None:
            return None
        try:
            if param.type is bool:
                if not isinstance(value, bool | np.bool_):
                    raise ValueError(param.accepted())
                return bool(value)
            if isinstance(value, bool) or (param.type is not str and isinstance(value, str)):
                raise ValueError(param.accepted())
            return param.coerce(value)
        except ValueError:
            raise ValueError(f"{name} must be {param.accepted()}, got {value!r}") from None

    def _plugins(self, output: str, cost: str | None, registry: Registry) -> _Fit:
        """Look up every plugin by name and resolve its parameters (ValueError if wrong)."""
        names = {
            "activation": self.activation,
            "output_activation": output,
            "cost": cost,
            "initializer": self.initializer,
            "optimizer": self.optimizer,
            "strategy": self.strategy,
            "schedule": self.schedule,
        }
        plugins: dict[str, Plugin] = {}
        for part, name in names.items():
            if name is None:  # the cost: the one that pairs exactly with the output
                name = _canonical_cost(plugins["output_activation"], registry)  # type: ignore[arg-type]
            plugins[part] = registry.find(PARTS[part], name)
        if self._layers() and plugins["activation"].output_only:  # type: ignore[attr-defined]
            raise ValueError(f"activation {self.activation!r} works only on the output layer")
        reason = plugins["cost"].accepts(plugins["output_activation"])  # type: ignore[attr-defined]
        if reason:
            raise ValueError(reason)
        params = {}
        for part, obj in plugins.items():
            given = getattr(self, f"{part}_params")
            if given is not None and not isinstance(given, dict):
                raise ValueError(f"{part}_params must be a dict, got {type(given).__name__}")
            given = dict(given or {})
            if part == "strategy":
                restarts = self._checked("restarts")
                if restarts != 1 or any(p.name == "restarts" for p in obj.params):
                    given.setdefault("restarts", restarts)
            try:
                params[part] = obj.resolve(given)
            except ValueError as exc:
                raise ValueError(f"{part}_params: {exc}") from None
        return _Fit(plugins, params)

    def _layers(self) -> tuple[int, ...]:
        layers = hidden_layers(self.hidden)
        if layers is None:
            raise ValueError(
                f"hidden must be {LAYERS_ACCEPTED} (a tuple of sizes), got {self.hidden!r}"
            )
        return layers

    def _schedule(self, incremental: bool = False) -> Schedule:
        """The training schedule; ``incremental`` (:meth:`partial_fit`): one epoch, no early
        stopping (as scikit-learn's)."""
        return Schedule(
            epochs=1 if incremental else self._checked("epochs"),
            batch_size=self._checked("batch_size"),
            target_loss=self._checked("target_loss"),
            gradient_tolerance=self._checked("gradient_tolerance"),
            log_every=1,  # a loss per epoch, as scikit-learn's loss_curve_
            early_stopping=False if incremental else self._checked("early_stopping"),
            patience=self._checked("patience"),
            tol=self._checked("tol"),
        )

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.SeedSequence().entropy)
        return self._checked("random_state")

    # -- training --------------------------------------------------------------------------

    def _fit(
        self, dataset: Dataset, output: str, cost: str | None, incremental: bool = False
    ) -> None:
        """Prepare ``dataset``, train every member the strategy asks for, keep its choice.

        With ``warm_start`` (or ``incremental``, :meth:`partial_fit`: one epoch, the step
        rule's state carried on too) a fitted estimator starts from its weights, and from the
        input scaling it fitted first."""
        registry = get_registry()
        fit = self._plugins(output, cost, registry)
        plugins, params = fit.plugins, fit.params
        dtype = self._checked("dtype")
        schedule = self._schedule(incremental)
        alpha = self._checked("alpha")
        fraction = self._checked("validation_fraction")
        warm_start = self._checked("warm_start")
        go_on = (incremental or warm_start) and hasattr(self, "coefs_")
        seed = self.seed_ if go_on else self._seed()
        data: Prepared = prepare_dataset(
            dataset,
            test_size=0.0,
            scaling=self._checked("scaling"),
            one_hot=plugins["output_activation"].normalizes,  # type: ignore[attr-defined]
            dtype=np.dtype(dtype),
        )
        if go_on:  # the scaling of the first fit, so that the weights mean what they meant
            scaling = self._scaling
            data = replace(data, X=scaling.apply(dataset.X, np.dtype(dtype)), scaling=scaling)
        architecture = Architecture.of(
            self._layers(),
            (plugins["activation"], plugins["output_activation"], plugins["cost"]),  # type: ignore[arg-type]
            (params["activation"], params["output_activation"], params["cost"]),
            data,
            dtype,
        )
        network = architecture.network(registry)
        strategy = plugins["strategy"]
        n_members = strategy.members(**params["strategy"])  # type: ignore[attr-defined]
        step_rule = plugins["optimizer"]
        owners = np.zeros(n_members, np.intp)
        hyper = member_hyper(step_rule, [params["optimizer"]], owners)  # type: ignore[arg-type]
        start = None
        if go_on:
            if [c.shape for c in self.coefs_] != [(i, o) for i, o in network.layer_shapes()]:
                raise ValueError(
                    f"the fitted layer sizes {[c.shape for c in self.coefs_]} do not fit these "
                    "data and settings; fit without warm_start"
                )
            start = (
                [np.repeat(np.asarray(c.T, dtype)[None], n_members, 0) for c in self.coefs_],
                [
                    np.repeat(np.asarray(i, dtype)[None, :, None], n_members, 0)
                    for i in self.intercepts_
                ],
            )
        carried = getattr(self, "_state", None) if incremental and go_on else None
        members = train_members(
            network,
            data,
            plugins["initializer"],  # type: ignore[arg-type]
            params["initializer"],
            [(seed, restart) for restart in range(n_members)],
            step_rule,  # type: ignore[arg-type]
            hyper,
            schedule,
            alpha=np.full(n_members, alpha),
            rate=None
            if incremental
            else rate_control(plugins["schedule"], [params["schedule"]], owners),  # type: ignore[arg-type]
            validation=(fraction, seed),
            start=start,
            state=carried,
        )
        losses = evaluate(network, members, data)["train_loss"]
        scores = np.where(members.diverged, np.inf, losses)  # as a sweep's strategy sees them
        chosen = int(strategy.select(scores, **params["strategy"]))  # type: ignore[attr-defined]
        best = members[chosen]

        self.seed_ = seed
        self._scaling = data.scaling
        self._state = members.state
        self.coefs_ = [np.ascontiguousarray(w.T) for w in best.weights]
        self.intercepts_ = [np.ascontiguousarray(bias[:, 0]) for bias in best.biases]
        self.loss_ = float(losses[chosen])
        _, curve = best.history["loss"]  # step 0 on; as scikit-learn, one loss per epoch
        earlier = list(getattr(self, "loss_curve_", [])) if go_on else []
        self.loss_curve_ = earlier + [float(v) for v in curve[len(curve) - int(best.epochs) :]]
        self.n_iter_ = int(best.epochs) + (int(getattr(self, "n_iter_", 0)) if go_on else 0)
        self.stop_reason_ = best.stop_reason
        if schedule.early_stopping:
            steps, scores = best.history["validation_score"]
            scores = scores[steps > 0]  # as scikit-learn's: one score per epoch, after it
            self.validation_scores_ = [float(v) for v in scores]
            self.best_validation_score_ = float(np.max(scores)) if len(scores) else float("nan")
            self.best_epoch_ = int(best.best_epoch)
        self.converged_ = bool(best.converged)
        self.diverged_ = best.status == "diverged"
        self.restart_losses_ = np.asarray(losses, dtype=np.float64)
        self.best_restart_ = chosen
        self.output_activation_ = plugins["output_activation"].name
        self.cost_ = plugins["cost"].name
        self.architecture_ = architecture.to_json()
        if self.diverged_:
            warnings.warn(
                f"training diverged in every restart ({best.reason}); try a smaller learning rate",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _dataset(self, X: Array, y: Array, task: str, n_classes: int = 0) -> Dataset:
        names = getattr(self, "feature_names_in_", None)  # set only for inputs with column names
        feature_names = tuple(str(n) for n in names) if names is not None else ()
        return Dataset(X, y, task, n_classes, feature_names)

    def trained_network(self) -> TrainedNetwork:
        """The fitted network as a :class:`~runner.engine.trained.TrainedNetwork`."""
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


def _canonical_cost(output: Activation, registry: Registry) -> str:
    """The cost that pairs exactly with ``output`` (the same canonical link), preferring the
    table's default cost; ValueError when none does."""
    pairs = sorted(
        name
        for name, cost in registry.costs.items()
        if cost.link is not None and cost.link == output.link and cost.accepts(output) is None  # type: ignore[attr-defined]
    )
    if not pairs:
        raise ValueError(
            f"no installed cost pairs with the output activation {output.name!r}; give cost="
        )
    preferred = SETTINGS["cost"].default
    return preferred if preferred in pairs else pairs[0]


class MLPClassifier(ClassifierMixin, _MLP):
    """A multi-layer perceptron classifier trained by runner (see the module docstring).

    Its defaults are scikit-learn's ``MLPClassifier()``: ``hidden=(100,)``, ``relu``,
    ``xavier`` (Glorot uniform), ``adam`` (learning rate 1e-3), ``batch_size=200``,
    ``epochs=200``, ``alpha=1e-4``. ``hidden`` is the tuple of hidden layer sizes;
    ``activation`` the hidden layers' activation; ``output_activation`` defaults to
    ``"sigmoid"`` for two classes and ``"softmax"`` for more; ``cost`` to the cost that pairs
    exactly with the output (cross-entropy for sigmoid, categorical cross-entropy for softmax).
    ``optimizer`` names a step rule and ``strategy`` a strategy; each ``<part>_params`` dict
    sets that plugin's parameters (``optimizer_params={"learning_rate": 1.0, "momentum":
    0.9}``). ``restarts`` is the restarts strategy's number of initial points: all are trained
    and the one with the lowest final training loss kept. ``epochs``, ``batch_size`` (0, or at
    least the number of samples: the full batch), ``target_loss`` and ``gradient_tolerance``
    are the sweep's stop settings; ``scaling`` is ``"none"``, ``"standard"`` or ``"minmax"``.
    ``alpha`` is scikit-learn's L2 penalty on the weights; ``schedule`` names a learning-rate
    schedule (``schedule_params`` its parameters); ``early_stopping`` holds out
    ``validation_fraction`` of the samples and stops once their score (accuracy) has not
    beaten its best by ``tol`` for more than ``patience`` epochs, keeping the best weights
    (``validation_scores_``, ``best_validation_score_``, ``best_epoch_``). ``warm_start``
    starts :meth:`fit` from the last fit's weights; :meth:`partial_fit` trains one epoch at a
    time. ``stop_reason_`` says why training stopped.
    """

    def __init__(
        self,
        hidden: Any = HIDDEN,
        activation: str = ACTIVATION,
        output_activation: str | None = None,
        cost: str | None = None,
        initializer: str = INITIALIZER,
        optimizer: str = OPTIMIZER,
        optimizer_params: dict[str, Any] | None = None,
        restarts: int = 1,
        epochs: int = EPOCHS,
        batch_size: int = BATCH_SIZE,
        target_loss: float | None = default("target_loss"),
        gradient_tolerance: float | None = default("gradient_tolerance"),
        scaling: str = default("scaling"),
        dtype: str = default("dtype"),
        random_state: int | None = 0,
        *,
        strategy: str = default("strategy"),
        activation_params: dict[str, Any] | None = None,
        output_activation_params: dict[str, Any] | None = None,
        cost_params: dict[str, Any] | None = None,
        initializer_params: dict[str, Any] | None = None,
        strategy_params: dict[str, Any] | None = None,
        schedule: str = default("schedule"),
        schedule_params: dict[str, Any] | None = None,
        alpha: float = ALPHA,
        early_stopping: bool = default("early_stopping"),
        validation_fraction: float = default("validation_fraction"),
        patience: int = default("patience"),
        tol: float = default("tol"),
        warm_start: bool = False,
    ) -> None:
        super().__init__(**_keywords(locals()))

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
        output = (
            self.output_activation
            or CLASSIFIER_OUTPUT["two classes" if n_classes == 2 else "more classes"]
        )
        self._fit(self._dataset(X, index, "classification", n_classes), output, self.cost)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch on ``X``, ``y`` from the weights and the step rule's state so far (the
        first call draws them, and needs ``classes``, every class ``y`` may ever hold);
        neither early stopping nor the learning-rate schedule applies. Returns self."""
        first = not hasattr(self, "coefs_")
        X, y = _validate(self, X, y, dtype=np.float64, reset=first)
        y = column_or_1d(y, warn=True)
        if first:
            if classes is None:
                raise ValueError("the first call of partial_fit needs classes=")
            self.classes_ = np.unique(np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError(f"a classifier needs at least 2 classes; got {self.classes_!r}")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {classes!r} are not those of the first call")
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y holds labels not in classes: {unknown.tolist()}")
        n_classes = len(self.classes_)
        index = np.searchsorted(self.classes_, y)
        output = (
            self.output_activation
            or CLASSIFIER_OUTPUT["two classes" if n_classes == 2 else "more classes"]
        )
        dataset = self._dataset(X, index, "classification", n_classes)
        self._fit(dataset, output, self.cost, incremental=True)
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

    The parameters and defaults are the classifier's (scikit-learn's ``MLPRegressor()``), with
    an ``identity`` output and the ``squared_error`` cost. Targets may be
    one column (predictions of shape ``(S,)``) or several (``(S, n_targets)``). Early stopping
    scores the validation samples by R^2 (averaged over the targets), scikit-learn's score.
    """

    def __init__(
        self,
        hidden: Any = HIDDEN,
        activation: str = ACTIVATION,
        output_activation: str | None = None,
        cost: str | None = None,
        initializer: str = INITIALIZER,
        optimizer: str = OPTIMIZER,
        optimizer_params: dict[str, Any] | None = None,
        restarts: int = 1,
        epochs: int = EPOCHS,
        batch_size: int = BATCH_SIZE,
        target_loss: float | None = default("target_loss"),
        gradient_tolerance: float | None = default("gradient_tolerance"),
        scaling: str = default("scaling"),
        dtype: str = default("dtype"),
        random_state: int | None = 0,
        *,
        strategy: str = default("strategy"),
        activation_params: dict[str, Any] | None = None,
        output_activation_params: dict[str, Any] | None = None,
        cost_params: dict[str, Any] | None = None,
        initializer_params: dict[str, Any] | None = None,
        strategy_params: dict[str, Any] | None = None,
        schedule: str = default("schedule"),
        schedule_params: dict[str, Any] | None = None,
        alpha: float = ALPHA,
        early_stopping: bool = default("early_stopping"),
        validation_fraction: float = default("validation_fraction"),
        patience: int = default("patience"),
        tol: float = default("tol"),
        warm_start: bool = False,
    ) -> None:
        super().__init__(**_keywords(locals()))

    def fit(self, X: Any, y: Any) -> MLPRegressor:
        """Train on inputs ``X`` (one sample per row) and targets ``y``; return self."""
        X, y = _validate(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        output = self.output_activation or REGRESSOR_DEFAULTS["output_activation"]
        cost = self.cost or REGRESSOR_DEFAULTS["cost"]
        self._fit(self._dataset(X, y.reshape(len(y), -1), "regression"), output, cost)
        return self

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One epoch on ``X``, ``y`` from the weights and the step rule's state so far (the
        first call draws them); neither early stopping nor the learning-rate schedule applies.
        Returns self."""
        first = not hasattr(self, "coefs_")
        X, y = _validate(
            self, X, y, dtype=np.float64, multi_output=True, y_numeric=True, reset=first
        )
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        output = self.output_activation or REGRESSOR_DEFAULTS["output_activation"]
        cost = self.cost or REGRESSOR_DEFAULTS["cost"]
        dataset = self._dataset(X, y.reshape(len(y), -1), "regression")
        self._fit(dataset, output, cost, incremental=True)
        return self

    def predict(self, X: Any) -> Array:
        """Predicted targets: shape ``(S,)`` if ``y`` was one column, else ``(S, n_targets)``."""
        a = self._outputs(X)
        return a[:, 0] if self._y_1d else a

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _keywords(local: dict[str, Any]) -> dict[str, Any]:
    """A subclass ``__init__``'s arguments, to hand to the one shared ``__init__``."""
    return {k: v for k, v in local.items() if k not in ("self", "__class__")}
