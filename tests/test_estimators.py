"""The scikit-learn estimators: they learn, they use the sweep's engine, and they follow sklearn.

The equivalence tests build the RunSpec a sweep table would give and compare the weights that
:func:`runner.engine.population.run_population` records with the estimator's, bit for bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _specs import spec_of
from sklearn.base import clone
from sklearn.datasets import load_digits, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from runner import MLPClassifier, MLPRegressor
from runner.engine.population import PopulationTask, run_population
from runner.plugin.registry import get_registry
from runner.spec import RunSpec

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])

#: the notes' network, as the table's defaults give it (the estimators default to scikit-learn's)
NOTES: dict[str, Any] = {
    "hidden": (2,),
    "activation": "sigmoid",
    "initializer": "normal",
    "optimizer": "gd",
    "epochs": 1000,
    "batch_size": 0,
    "alpha": 0.0,
}

#: the regressor's hidden layers and step rule before it took scikit-learn's defaults
TANH_GD: dict[str, Any] = {"activation": "tanh", "optimizer": "gd"}


def test_the_defaults_are_scikit_learns() -> None:
    from sklearn import neural_network

    adam = get_registry().get("step_rule", "adam")
    for ours, theirs in (
        (MLPClassifier(), neural_network.MLPClassifier()),
        (MLPRegressor(), neural_network.MLPRegressor()),
    ):
        p, q = ours.get_params(), theirs.get_params()
        assert p["hidden"] == q["hidden_layer_sizes"] == (100,)
        assert p["activation"] == q["activation"] == "relu"
        assert p["optimizer"] == q["solver"] == "adam"
        assert adam.resolve(p["optimizer_params"] or {})["learning_rate"] == q["learning_rate_init"]
        assert (p["batch_size"], q["batch_size"]) == (200, "auto")  # auto: min(200, n)
        assert p["epochs"] == q["max_iter"] == 200
        assert p["alpha"] == q["alpha"] == 1e-4
        assert p["early_stopping"] is q["early_stopping"] is False


def test_the_defaults_learn_digits() -> None:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=400, test_size=400, random_state=0, stratify=y
    )
    clf = MLPClassifier().fit(X_train, y_train)  # raw pixels, as scikit-learn's example takes
    assert clf.n_iter_ == 200 and [c.shape for c in clf.coefs_] == [(64, 100), (100, 10)]
    assert clf.score(X_test, y_test) > 0.9


def test_xor_is_learned() -> None:
    clf = MLPClassifier(**NOTES, optimizer_params={"learning_rate": 1.0}, random_state=3)
    clf.fit(XOR_X, XOR_Y)
    assert clf.score(XOR_X, XOR_Y) == 1.0
    assert [c.shape for c in clf.coefs_] == [(2, 2), (2, 1)]
    assert [i.shape for i in clf.intercepts_] == [(2,), (1,)]
    assert len(clf.loss_curve_) == clf.n_iter_ == 1000
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert (clf.output_activation_, clf.cost_) == ("sigmoid", "cross_entropy")


def test_labels_of_any_type_come_back() -> None:
    y = np.array(["same", "differ", "differ", "same"])
    clf = MLPClassifier(**NOTES, optimizer_params={"learning_rate": 1.0}, random_state=3).fit(
        XOR_X, y
    )
    assert list(clf.classes_) == ["differ", "same"]
    assert list(clf.predict(XOR_X)) == list(y)


def _spec(dataset: str, est: Any, output: str, cost: str) -> RunSpec:
    """The RunSpec a sweep table row with the estimator's settings resolves to."""
    return spec_of(
        dataset=dataset,
        hidden="-".join(map(str, est.hidden)),
        activation=est.activation,
        output_activation=output,
        cost=cost,
        initializer=est.initializer,
        optimizer=est.optimizer,
        **(est.optimizer_params or {}),
        restarts=est.restarts,
        seed=est.random_state,
        epochs=est.epochs,
        batch_size=est.batch_size,
        scaling=est.scaling,
        alpha=est.alpha,
        schedule=est.schedule,
        **(est.schedule_params or {}),
    )


@pytest.mark.parametrize(
    ("dataset", "est", "output", "cost"),
    [
        (
            "xor",
            MLPClassifier(
                hidden=(3,),
                optimizer="momentum",
                optimizer_params={"learning_rate": 0.5, "momentum": 0.8},
                restarts=4,
                epochs=300,
                random_state=5,
            ),
            "sigmoid",
            "cross_entropy",
        ),
        (
            "iris",
            MLPClassifier(
                hidden=(5,),
                activation="tanh",
                initializer="xavier",
                optimizer="gd",
                optimizer_params={"learning_rate": 0.2},
                restarts=3,
                epochs=20,
                batch_size=16,
                scaling="standard",
                random_state=2,
            ),
            "softmax",
            "categorical_cross_entropy",
        ),
        (
            "iris",
            MLPClassifier(
                hidden=(6,),
                activation="relu",
                initializer="xavier",
                optimizer="adam",
                optimizer_params={"learning_rate": 0.01, "weight_decay": 0.001},
                alpha=0.01,
                schedule="cosine",
                schedule_params={"min_factor": 0.1},
                epochs=30,
                batch_size=32,
                scaling="standard",
                random_state=4,
            ),
            "softmax",
            "categorical_cross_entropy",
        ),
    ],
    ids=["xor-momentum-restarts", "iris-softmax-minibatch", "iris-adam-alpha-cosine"],
)
def test_weights_equal_the_sweeps(dataset: str, est: MLPClassifier, output: str, cost: str) -> None:
    [result] = run_population(PopulationTask((_spec(dataset, est, output, cost),)))
    assert result.status == "finished", result.reason
    source = get_registry().get("dataset", dataset)
    data = source.load(np.random.default_rng(0), **source.resolve({}))

    est = clone(est).fit(data.X, data.y)

    assert (est.output_activation_, est.cost_) == (output, cost)
    assert len(est.coefs_) == len(result.weights)
    for W, coef in zip(result.weights, est.coefs_, strict=True):
        assert np.array_equal(W, coef.T)
    for b, intercept in zip(result.biases, est.intercepts_, strict=True):
        assert np.array_equal(b[:, 0], intercept)
    assert est.restart_losses_.tolist() == result.restart_losses
    assert est.best_restart_ == result.metrics["selected_restart"]
    assert est.loss_ == result.metrics["train_loss"]


def test_digits_softmax_with_minibatches() -> None:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    clf = MLPClassifier(
        hidden=(32,),
        activation="tanh",
        initializer="xavier",
        optimizer="gd",
        optimizer_params={"learning_rate": 0.5},
        epochs=10,
        batch_size=32,
        scaling="minmax",
    ).fit(X_train, y_train)
    assert clf.output_activation_ == "softmax"
    assert clf.score(X_test, y_test) > 0.9
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X_test))


def test_binary_predict_proba_is_one_minus_p_and_p() -> None:
    clf = MLPClassifier(**NOTES, optimizer_params={"learning_rate": 1.0}, random_state=3).fit(
        XOR_X, XOR_Y
    )
    proba = clf.predict_proba(XOR_X)
    assert proba.shape == (4, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(proba.argmax(axis=1), clf.predict(XOR_X))
    assert np.all(proba[[1, 2], 1] > 0.9) and np.all(proba[[0, 3], 1] < 0.1)


def test_regressor_fits_a_smooth_function() -> None:
    x = np.linspace(-3.0, 3.0, 200)[:, None]
    y = np.sin(x[:, 0])
    reg = MLPRegressor(
        hidden=(10,),
        **TANH_GD,
        optimizer_params={"learning_rate": 0.3},
        epochs=1000,
    )
    reg.fit(x, y)
    assert reg.score(x, y) > 0.9
    assert reg.predict(x).shape == (200,)
    assert (reg.output_activation_, reg.cost_) == ("identity", "squared_error")


def test_regressor_with_several_targets_predicts_every_one() -> None:
    x = np.linspace(-1.0, 1.0, 40)[:, None]
    Y = np.column_stack([x[:, 0], -0.5 * x[:, 0]])
    reg = MLPRegressor(
        hidden=(4,),
        **TANH_GD,
        optimizer_params={"learning_rate": 0.2},
        epochs=500,
    )
    reg.fit(x, Y)
    assert reg.predict(x).shape == (40, 2)
    assert reg.score(x, Y) > 0.9


def test_clone_get_params_set_params_round_trip() -> None:
    clf = MLPClassifier(hidden=(4, 3), optimizer="momentum", optimizer_params={"momentum": 0.5})
    params = clf.get_params()
    assert params["hidden"] == (4, 3) and params["optimizer_params"] == {"momentum": 0.5}
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == params
    twin.set_params(epochs=7, activation="tanh")
    assert (twin.epochs, twin.activation) == (7, "tanh")
    assert clf.epochs == 200  # the original is untouched
    assert MLPRegressor().get_params()["initializer"] == "xavier"


def test_cross_val_score_and_pipeline() -> None:
    X, y = make_moons(n_samples=120, noise=0.1, random_state=0)
    clf = MLPClassifier(
        hidden=(8,),
        activation="tanh",
        initializer="xavier",
        optimizer="gd",
        optimizer_params={"learning_rate": 1.0},
    )
    pipe = make_pipeline(StandardScaler(), clf.set_params(epochs=300))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.8
    assert pipe.fit(X, y).score(X, y) > 0.9


def test_target_loss_stops_training_early() -> None:
    clf = MLPClassifier(
        **NOTES, optimizer_params={"learning_rate": 1.0}, random_state=3, target_loss=0.05
    )
    clf.fit(XOR_X, XOR_Y)
    assert clf.converged_ and not clf.diverged_
    assert clf.n_iter_ < clf.epochs
    assert len(clf.loss_curve_) == clf.n_iter_
    assert clf.loss_ <= 0.05


def test_divergence_warns() -> None:
    x = np.linspace(-3.0, 3.0, 50)[:, None]
    reg = MLPRegressor(
        hidden=(4,),
        **TANH_GD,
        optimizer_params={"learning_rate": 50.0},
        epochs=100,
    )
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(x, 10 * np.sin(x[:, 0]))
    assert reg.diverged_ and reg.n_iter_ < 100


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"activation": "sigmod"}, "did you mean 'sigmoid'"),
        ({"optimizer": "momentun"}, "did you mean 'momentum'"),
        ({"initializer": "xavir"}, "did you mean 'xavier'"),
        ({"cost": "cross_entropi"}, "did you mean 'cross_entropy'"),
        ({"optimizer_params": {"learning_rat": 0.1}}, "has no parameter 'learning_rat'"),
        ({"optimizer_params": {"learning_rate": -1}}, "learning_rate=-1 is not valid"),
        ({"output_activation": "softmax", "cost": "cross_entropy"}, "categorical"),
        ({"hidden": (2, 0)}, "hidden must be"),
        ({"restarts": 0}, "restarts must be"),
        ({"scaling": "zscore"}, "scaling must be"),
    ],
)
def test_bad_settings_raise_value_error(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MLPClassifier(**settings).fit(XOR_X, XOR_Y)


def test_third_party_plugins_work_by_name(example_plugins: Path) -> None:
    X, y = make_moons(n_samples=100, noise=0.1, random_state=1)
    clf = MLPClassifier(
        hidden=(8,),
        activation="swish",
        initializer="lecun",
        optimizer="amsgrad",
        optimizer_params={"learning_rate": 0.05, "beta2": 0.99},
        epochs=300,
        scaling="standard",
    ).fit(X, y)
    assert clf.score(X, y) > 0.9


def test_early_stopping_keeps_the_best_validation_weights() -> None:
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(
        hidden=(32,),
        activation="relu",
        initializer="xavier",
        optimizer="adam",
        optimizer_params={"learning_rate": 0.01},
        alpha=1e-4,
        early_stopping=True,
        patience=3,
        epochs=500,
        batch_size=200,
        random_state=0,
    ).fit(X, y)
    assert clf.stop_reason_ == "early_stopping"
    assert len(clf.validation_scores_) == clf.n_iter_ < 500
    assert clf.n_iter_ - clf.best_epoch_ == 3 + 1  # more than `patience` epochs without a gain
    assert clf.best_validation_score_ == max(clf.validation_scores_) > 0.9
    assert clf.score(X, y) > 0.95


def test_full_batch_early_stopping_has_a_validation_score_per_epoch() -> None:
    X, y = make_moons(n_samples=200, noise=0.25, random_state=0)
    clf = MLPClassifier(
        hidden=(8,),
        activation="tanh",
        initializer="xavier",
        optimizer="adam",
        optimizer_params={"learning_rate": 0.05},
        early_stopping=True,
        patience=3,
        epochs=300,
        batch_size=0,
        scaling="standard",
        random_state=0,
    ).fit(X, y)
    # as scikit-learn's: the score after each of the n_iter_ epochs, the last one included
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.validation_scores_[clf.best_epoch_ - 1] == clf.best_validation_score_


def test_partial_fit_goes_on_as_one_fit_would() -> None:
    X, y = make_moons(n_samples=80, noise=0.2, random_state=0)
    settings = {"hidden": (6,), "optimizer": "adam", "scaling": "standard", "random_state": 1}
    whole = MLPClassifier(epochs=4, **settings).fit(X, y)
    steps = MLPClassifier(epochs=1000, **settings)
    with pytest.raises(ValueError, match="needs classes="):
        clone(steps).partial_fit(X, y)
    for _ in range(4):  # the step rule's state (adam's moments and step count) carries on
        steps.partial_fit(X, y, classes=[0, 1])
    assert steps.n_iter_ == 4 and steps.loss_curve_ == whole.loss_curve_
    for a, b in zip(
        steps.coefs_ + steps.intercepts_, whole.coefs_ + whole.intercepts_, strict=True
    ):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="labels not in classes"):
        steps.partial_fit(X, y + 5)


def test_warm_start_starts_from_the_last_fit() -> None:
    X, y = make_moons(n_samples=80, noise=0.2, random_state=0)
    settings = {
        "hidden": (6,),
        "optimizer": "gd",
        "optimizer_params": {"learning_rate": 0.5},
        "random_state": 2,
    }
    twice = MLPClassifier(epochs=50, warm_start=True, **settings).fit(X, y).fit(X, y)
    once = MLPClassifier(epochs=100, **settings).fit(X, y)
    assert twice.n_iter_ == 100
    for a, b in zip(twice.coefs_ + twice.intercepts_, once.coefs_ + once.intercepts_, strict=True):
        assert np.array_equal(a, b)  # gd carries no state: 50 + 50 epochs are 100
    cold = MLPClassifier(epochs=50, **settings).fit(X, y).fit(X, y)
    assert cold.n_iter_ == 50


def test_grid_search_over_alpha_and_the_schedule() -> None:
    from sklearn.model_selection import GridSearchCV

    X, y = make_moons(n_samples=120, noise=0.2, random_state=0)
    search = GridSearchCV(
        MLPClassifier(hidden=(8,), optimizer="adam", epochs=60, scaling="standard"),
        {
            "alpha": [0.0, 1e-3],
            "schedule": ["constant", "cosine"],
            "optimizer_params": [{"learning_rate": 0.05}],
        },
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert set(search.best_params_) == {"alpha", "schedule", "optimizer_params"}
    assert search.best_score_ > 0.8


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"alpha": -1.0}, "alpha must be a number >= 0"),
        ({"schedule": "cosin"}, "did you mean 'cosine'"),
        ({"schedule": "step", "schedule_params": {"gamma": 2.0}}, "schedule_params: "),
        ({"early_stopping": "yes"}, "early_stopping must be"),
        ({"validation_fraction": 1.0}, "validation_fraction must be"),
        ({"patience": 0}, "patience must be an integer >= 1"),
    ],
)
def test_bad_new_keywords_raise_value_error(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MLPClassifier(**settings).fit(XOR_X, XOR_Y)


def test_the_estimators_are_public_names_of_runner() -> None:
    import runner

    assert {"MLPClassifier", "MLPRegressor"} <= set(runner.__all__)
    assert runner.MLPClassifier is MLPClassifier and runner.MLPRegressor is MLPRegressor


_CHECKS = parametrize_with_checks(
    [
        MLPClassifier(
            **(NOTES | {"hidden": (5,), "epochs": 100}), optimizer_params={"learning_rate": 1.0}
        ),
        MLPRegressor(hidden=(5,), **TANH_GD, epochs=100, scaling="standard"),
    ]
)
# the array-API check only applies to estimators that accept non-numpy arrays; scikit-learn
# skips it without SCIPY_ARRAY_API, so it is left out rather than reported as skipped
_NAMES, _PARAMS = _CHECKS.args[0], list(_CHECKS.args[1])
_IDS = _CHECKS.kwargs["ids"]


def _check_name(param: Any) -> str:
    values = param.values if hasattr(param, "values") else param
    return " ".join(str(_IDS(v)) for v in values)


@pytest.mark.parametrize(
    _NAMES, [p for p in _PARAMS if "check_array_api_input" not in _check_name(p)], ids=_IDS
)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)
