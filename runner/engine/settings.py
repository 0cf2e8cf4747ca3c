"""The core settings of a run: the one place their defaults, bounds and meanings are declared.

Every run has these settings besides its plugins' own parameters. The sweep table's core columns
(:mod:`runner.table`), the run specification the table builds (:class:`runner.spec.RunSpec`),
the training schedule and the scikit-learn estimators' keywords all read them from
:data:`SETTINGS`; this is the one place the table format and the estimators name default plugins
(the estimators take scikit-learn's defaults where they differ from the table's:
:data:`ESTIMATOR_DEFAULTS`). :data:`PARTS` are the settings that name a plugin, with the kind
each names; a part's plugin parameters live in the RunSpec field ``<part>_params``. A row either
names an ``objective`` (an analytic function minimized by the step rules:
:data:`OBJECTIVE_PARTS`, and no :data:`NETWORK_SETTINGS`) or leaves it blank and is a network
(:data:`NETWORK_PARTS`, the step rule, strategy and schedule); :func:`row_parts` says which.
:data:`BOUNDS` are the upper bounds on how much work a sweep may ask for (epochs, restarts,
units, samples, configurations), each lifted by its own ``runner sweep`` flag
(:attr:`Bound.flag`); :func:`limits` gives the bounds in force.

Imports :mod:`runner.plugin` only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.plugin.params import Param

#: What the ``hidden`` setting accepts.
LAYERS_ACCEPTED = (
    "positive integer layer sizes joined by '-' (e.g. 2 or 16-16), or 0/none for no hidden layer"
)

# fmt: off
#: The core settings and their defaults.
SETTINGS: dict[str, Param] = {p.name: p for p in (
    Param("objective", str, None, "an analytic objective f(x) to minimize instead of a network "
          "(blank: a network on the data set); on its row epochs counts iterations"),
    Param("dataset", str, "xor", "the data set"),
    Param("hidden", str, "2", "hidden layer sizes: 2, 16-16; 0 or none: no hidden layer"),
    Param("activation", str, "sigmoid", "activation of the hidden layers"),
    Param("output_activation", str, "sigmoid", "activation of the output layer"),
    Param("cost", str, "cross_entropy", "the cost minimized"),
    Param("initializer", str, "normal", "how initial weights and biases are drawn"),
    Param("optimizer", str, "gd", "the step rule that moves the weights"),
    Param("strategy", str, "restarts", "which initial points to train and which to keep"),
    Param("epochs", int, 1000, "passes over the training set", low=1),
    Param("batch_size", int, 0, "samples per step; 0: the full batch", low=0),
    Param("seed", int, 0, "seed of the initial weights", low=0),
    Param("data_seed", int, 0, "seed of generated data and of the train/test split", low=0),
    Param("test_size", float, 0.0, "fraction held out for testing", low=0, high=1, high_open=True),
    Param("scaling", str, "none", "input scaling, fitted on the training split",
          choices=("none", "standard", "minmax")),
    Param("target_loss", float, None, "stop once the loss is this low (blank: never)", low=0),
    Param("gradient_tolerance", float, None, "stop once the gradient norm is this small "
          "(blank: never)", low=0, low_open=True),
    Param("dtype", str, "float64", "floating-point type", choices=("float64", "float32")),
    Param("alpha", float, 0.0, "L2 penalty on the weights, not the biases: alpha/(2 S) ||W||^2 "
          "joins the cost of S samples (scikit-learn's alpha)", low=0),
    Param("schedule", str, "constant", "how the learning rate changes from epoch to epoch"),
    Param("early_stopping", bool, False, "hold out validation_fraction of the training split; "
          "stop when its score stops improving, keeping the best weights"),
    Param("validation_fraction", float, 0.1, "fraction of the training split held out for "
          "early stopping", low=0, high=1, low_open=True, high_open=True),
    Param("patience", int, 10, "epochs the score may fail to improve by tol before training "
          "stops (scikit-learn's n_iter_no_change)", low=1),
    Param("tol", float, 1e-4, "the least improvement of the score that counts", low=0),
    Param("critical_points", str, "auto", "the critical-point test at the final weights "
          "(auto: for objectives, and networks of at most 300 parameters)",
          choices=("auto", "true", "false")),
    Param("success", str, None, "what counts as a run's success in the study: "
          "test_accuracy>=X or train_accuracy>=X (blank: what the data set declares)"),
)}

#: The settings that name a plugin ("parts"), and the kind of plugin each names.
PARTS: dict[str, str] = {
    "dataset":           "dataset",
    "activation":        "activation",
    "output_activation": "activation",
    "cost":              "cost",
    "initializer":       "initializer",
    "optimizer":         "step_rule",
    "strategy":          "strategy",
    "schedule":          "schedule",
    "objective":         "objective",
}
# fmt: on

#: The parts of a network row: a row that leaves ``objective`` blank (its default, None).
NETWORK_PARTS = ("dataset", "activation", "output_activation", "cost", "initializer")

#: The parts of a row that names an objective: the objective, and how the points move.
OBJECTIVE_PARTS = ("objective", "optimizer", "strategy", "schedule")

#: The core settings that mean something for a network only: on a row that names an
#: objective they stay blank (its spec keeps their defaults). ``dtype`` is among them: descent
#: on an objective runs in float64.
NETWORK_SETTINGS = (
    "hidden",
    "batch_size",
    "test_size",
    "scaling",
    "data_seed",
    "alpha",
    "early_stopping",
    "validation_fraction",
    "patience",
    "tol",
    "dtype",
    "success",
)


#: The core settings an objective row accepts differently: a function's value, unlike a cost,
#: may be negative (the six-hump camel's minima are -1.03), so its ``target_loss`` is any number.
OBJECTIVE_SETTINGS: dict[str, Param] = {
    "target_loss": Param(
        "target_loss", float, None, "stop once the function's value is this low (blank: never)"
    ),
}


def row_parts(objective: Any) -> tuple[str, ...]:
    """The parts a row resolves: those of an objective row where ``objective`` names one
    (anything but None or ""), else a network row's (every part but the objective)."""
    if objective not in (None, ""):
        return OBJECTIVE_PARTS
    return tuple(part for part in PARTS if part != "objective")


@dataclass(frozen=True)
class Bound:
    """An upper bound on the work one sweep may ask for, lifted by ``--max-<name> N``.

    The bounds catch a typo (``epochs`` = 10^12 for 10^4) before it runs for days or fills the
    memory; a sweep that means it says so with the bound's flag.
    """

    name: str
    default: int
    what: str  # what is counted, as a message says it after the number

    @property
    def flag(self) -> str:
        return f"--max-{self.name}"

    def accepted(self, limit: int) -> str:
        """What a value over ``limit`` is told: ``at most 1000000 epochs per run (...)``."""
        return f"at most {limit} {self.what} ({self.flag} N lifts the bound)"


# fmt: off
#: The upper bounds and their defaults (``runner sweep --max-<name> N`` lifts one).
BOUNDS: dict[str, Bound] = {b.name: b for b in (
    Bound("epochs", 1_000_000, "epochs per run"),
    Bound("restarts", 10_000, "networks (restarts) trained per configuration"),
    Bound("units", 10_000, "units per hidden layer"),
    Bound("samples", 1_000_000, "samples per data set"),
    Bound("configurations", 100_000, "configurations per table"),
)}
# fmt: on


def limits(given: Mapping[str, int | None] | None = None) -> dict[str, int]:
    """The bounds in force: each of :data:`BOUNDS` at its default unless ``given`` lifts it
    (a None value keeps the default). KeyError for a name that is not a bound."""
    out = {name: bound.default for name, bound in BOUNDS.items()}
    for name, value in (given or {}).items():
        if name not in BOUNDS:
            raise KeyError(name)
        if value is not None:
            out[name] = int(value)
    return out


#: What a classifier's output layer defaults to, by the number of classes; a regressor's output
#: and cost (see runner.engine.estimators)
CLASSIFIER_OUTPUT = {"two classes": "sigmoid", "more classes": "softmax"}
REGRESSOR_DEFAULTS = {"output_activation": "identity", "cost": "squared_error"}

#: The estimators' defaults where they differ from the table's: scikit-learn's
#: ``MLPClassifier()`` / ``MLPRegressor()`` (one hidden layer of 100 relu units, Glorot-uniform
#: weights, adam at its learning rate 1e-3, batches of 200 (the full batch when there are fewer
#: samples: scikit-learn's min(200, n)), at most 200 epochs (``max_iter``), alpha 1e-4). The
#: table keeps the notes' defaults, so that a row's spec, and its hash, never change.
ESTIMATOR_DEFAULTS: dict[str, Any] = {
    "hidden": (100,),
    "activation": "relu",
    "initializer": "xavier",
    "optimizer": "adam",
    "epochs": 200,
    "batch_size": 200,
    "alpha": 1e-4,
}


def default(name: str) -> Any:
    """The default of setting ``name`` (``hidden`` as layer sizes)."""
    value = SETTINGS[name].default
    return hidden_layers(value) if name == "hidden" else value


def hidden_layers(value: Any) -> tuple[int, ...] | None:
    """Hidden layer sizes from a cell or keyword value, or None when it is not a valid one.

    ``2``, ``"16-16"``, ``(16, 16)``; ``0``, ``"none"`` or ``()`` for no hidden layer.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return () if value == 0 else (value,) if value > 0 else None
    if isinstance(value, tuple | list):
        ok = all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value)
        return tuple(int(n) for n in value) if ok else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in ("0", "none"):
        return ()
    parts = [part.strip() for part in text.split("-")]
    if not all(re.fullmatch(r"[0-9]+", part) and int(part) > 0 for part in parts):
        return None
    return tuple(int(part) for part in parts)
