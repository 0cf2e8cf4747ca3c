"""The columns of a sweep table: the core columns and their defaults, and what each column means.

:data:`CORE` is the one place the table format names default plugins. :data:`PARTS` are the core
columns that name a plugin; every parameter an installed plugin declares is a column too, and
:func:`describe_columns` lists them all with their defaults and what they accept.
"""

from __future__ import annotations

from runner.cells import LAYERS_ACCEPTED
from runner.manager import KIND_LABELS, Registry, get_registry
from runner.params import Param

# fmt: off
#: The core columns and their defaults: the one place the table format names default plugins.
CORE: dict[str, Param] = {p.name: p for p in (
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
)}

#: The plugin-naming core columns ("parts"): the kind each names, the RunSpec field of its params.
PARTS: dict[str, tuple[str, str]] = {
    "dataset":           ("dataset", "dataset_params"),
    "activation":        ("activation", "activation_params"),
    "output_activation": ("activation", "output_params"),
    "cost":              ("cost", "cost_params"),
    "initializer":       ("initializer", "initializer_params"),
    "optimizer":         ("step_rule", "optimizer_params"),
    "strategy":          ("strategy", "strategy_params"),
}
# fmt: on


def article(noun: str) -> str:
    """``noun`` with its indefinite article: "an activation", "a cost"."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def describe_columns(registry: Registry | None = None) -> list[tuple[str, str, str]]:
    """``(column, default, what it accepts and means)`` for every column a table may have."""
    registry = registry if registry is not None else get_registry()
    rows: list[tuple[str, str, str]] = []
    for name, param in CORE.items():
        if name in PARTS:
            kind = PARTS[name][0]
            names = [
                n
                for n in registry.names(kind)
                if name != "activation" or not registry.activations[n].output_only
            ]
            accepted = f"the name of {article(KIND_LABELS[kind])}: {', '.join(names)}"
        else:
            accepted = param.accepted()
        default = "(blank)" if param.default is None else str(param.default)
        rows.append(
            (name, default, LAYERS_ACCEPTED if name == "hidden" else f"{param.help}; {accepted}")
        )
    helps: dict[str, dict[tuple[str, str, str], list[str]]] = {}
    defaults: dict[str, set[str]] = {}
    for part, (kind, _) in PARTS.items():
        if part == "output_activation":
            continue  # the same plugins as the hidden layers'
        for obj in sorted(registry.by_kind[kind].values(), key=lambda o: o.name):
            for p in obj.params:
                key = (KIND_LABELS[kind], p.help, p.accepted())
                helps.setdefault(p.name, {}).setdefault(key, []).append(repr(obj.name))
                defaults.setdefault(p.name, set()).add(
                    "(blank)" if p.default is None else str(p.default)
                )
    for name in sorted(set(helps) - set(CORE)):
        text = "; ".join(
            f"{label} {', '.join(owners)}: {meaning} ({accepted})"
            for (label, meaning, accepted), owners in helps[name].items()
        )
        rows.append((name, ", ".join(sorted(defaults[name])), text))
    rows.append(("#...", "", "a comment column, ignored"))
    return rows
