"""Run specifications and results: one configuration of a sweep, and what training it gave.

A :class:`RunSpec` holds plugin names and resolved parameter values only, so it pickles to any
worker and hashes the same everywhere. Its :meth:`~RunSpec.spec_hash` (the canonical sorted
content plus the versions of the plugins it uses) identifies it in the tracking store, which is
how a repeated sweep skips what is already done. A :class:`RunResult` is what a worker returns
for one specification. Neither knows where it came from or goes: the table builds specs
(:mod:`runner.table`), the engine trains them (:mod:`runner.engine`), the recorder stores the
results (:mod:`runner.tracking`). This module imports nothing of runner's; see
``docs/architecture.md`` for the vocabulary (configuration, run, member, population).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

Params = tuple[tuple[str, Any], ...]

#: RunSpec fields that take no part in the hash as they are: where the spec came from, what it is
#: called, what its row's comment says, the plugins' versions (those enter the hash on their own,
#: under "plugins") and the digests of its files (those stand in the hash for the files' paths);
#: and ``critical_points`` and ``success``, which ask for a test after training and say how the
#: study reads a run: neither changes its result
NOT_HASHED = frozenset(
    {
        "row",
        "source",
        "versions",
        "name",
        "files",
        "note",
        "critical_points",
        "success",
        "configuration_index",
    }
)

#: RunSpec fields added after the first stores were written, with the value every spec had
#: before: a field at that value is left out of the hash, so that no table's hashes change
#: (the runs recorded before it are still recognised); any other value enters it
ADDED_LATER = {
    "alpha": 0.0,
    "schedule": "constant",
    "schedule_params": (),
    "early_stopping": False,
    "validation_fraction": 0.1,
    "patience": 10,
    "tol": 1e-4,
    "objective": "",
    "objective_params": (),
}

#: the parts among :data:`ADDED_LATER`, with the kind of plugin each names: at its default
#: plugin, the plugin's version is left out of the hash too
ADDED_PARTS = {"schedule": "schedule", "objective": "objective"}

#: RunSpec fields under the names the hash was first computed with: renaming a field must not
#: change the hash, or every run recorded before the rename would be trained again
HASH_NAMES = {"scaling": "scale", "output_activation_params": "output_params"}

#: distributions under the names the hash was first computed with: this project's distribution
#: was "runner" until it took a name of its own on the package index, and its built-in plugins'
#: pins must hash as they did, or every run recorded before would be trained again
HASH_DISTRIBUTIONS = {"runner-mlp": "runner"}


def pinned_versions(versions: Params) -> dict[str, str]:
    """The plugins' version pins (``"kind:name" -> "dist==version"``) as the hash takes them."""
    out = {}
    for key, pin in versions:
        dist, sep, version = str(pin).partition("==")
        out[key] = f"{HASH_DISTRIBUTIONS.get(dist, dist)}{sep}{version}"
    return out


def freeze(params: dict[str, Any]) -> Params:
    """A dict of parameters as a sorted tuple of pairs (hashable, canonical)."""
    return tuple(sorted((k, str(v) if isinstance(v, Path) else v) for k, v in params.items()))


@dataclass(frozen=True)
class RunSpec:
    """One fully resolved configuration: what to train, on what, for how long.

    Every core setting is given (the table's builder, :mod:`runner.table`, fills in the
    defaults of :mod:`runner.engine.settings`); each part's plugin parameters are a frozen
    ``*_params`` tuple, named ``<part>_params`` after the table column that names the plugin.
    ``row``, ``source``, ``name`` and ``versions`` take no part in the content
    (:data:`NOT_HASHED`); the versions enter the hash separately.
    """

    # the hashes, computed once, live in slots: a key added to the instance's dict would turn
    # its shared-key dict (~300 bytes) into a dict of its own (~1.6 KB), 140 MB at 100,000 specs
    __slots__ = ("__dict__", "_hash", "_configuration")

    dataset: str
    hidden: tuple[int, ...]
    activation: str
    output_activation: str
    cost: str
    initializer: str
    optimizer: str
    strategy: str
    seed: int
    epochs: int
    batch_size: int
    data_seed: int
    test_size: float
    scaling: str
    target_loss: float | None
    gradient_tolerance: float | None
    dtype: str
    dataset_params: Params = ()
    activation_params: Params = ()
    output_activation_params: Params = ()
    cost_params: Params = ()
    initializer_params: Params = ()
    optimizer_params: Params = ()
    strategy_params: Params = ()
    alpha: float = 0.0
    schedule: str = "constant"
    schedule_params: Params = ()
    early_stopping: bool = False
    validation_fraction: float = 0.1
    patience: int = 10
    tol: float = 1e-4
    critical_points: str | None = "auto"
    #: what counts as the run's success in the study (``test_accuracy>=0.95``); None: what its
    #: data set declares
    success: str | None = None
    #: an analytic objective minimized instead of a network ("": a network on ``dataset``);
    #: its runs leave the network's fields at their defaults and ``epochs`` counts iterations
    objective: str = ""
    objective_params: Params = ()
    row: int = field(default=0, compare=False)
    source: str = field(default="", compare=False)
    name: str = field(default="", compare=False)
    versions: Params = field(default=(), compare=False)
    files: Params = field(default=(), compare=False)
    #: the text of its row's comment columns (``# note``): the run's description
    note: str = field(default="", compare=False)
    #: its configuration's place among its table's, by first appearance (-1: not named by a
    #: table); the MLflow UI draws the seeds of one configuration in one colour by it
    configuration_index: int = field(default=-1, compare=False)

    def content(self) -> dict[str, Any]:
        """Everything that determines the result, as JSON-ready data, under the names of
        :data:`HASH_NAMES` (no row, source, name or versions). A file parameter (``files``:
        ``"<part>.<name>"`` -> ``"sha256:..."``) stands there as its file's digest, not its
        path: a moved folder is still the same configuration, an edited file is not."""
        data: dict[str, Any] = {}
        for f in fields(self):
            if f.name in NOT_HASHED:
                continue
            value = getattr(self, f.name)
            if f.name in ADDED_LATER and value == ADDED_LATER[f.name]:
                continue
            if f.name.endswith("_params"):
                value = dict(value)
            elif f.name == "hidden":
                value = list(value)
            data[HASH_NAMES.get(f.name, f.name)] = value
        for key, digest in self.files:
            part, _, name = key.partition(".")
            data[HASH_NAMES.get(f"{part}_params", f"{part}_params")][name] = digest
        return data

    def __getstate__(self) -> tuple[dict[str, Any], dict[str, str]]:
        cached = {k: getattr(self, k) for k in ("_hash", "_configuration") if hasattr(self, k)}
        return self.__dict__, cached

    def __setstate__(self, state: tuple[dict[str, Any], dict[str, str]]) -> None:
        values, cached = state
        self.__dict__.update(values)
        for key, value in cached.items():
            object.__setattr__(self, key, value)

    def spec_hash(self) -> str:
        """A stable identifier: sha256 of the canonical content and the plugins' versions.

        Computed once per object (specifications are immutable).
        """
        cached = getattr(self, "_hash", None)
        if cached is None:
            payload = {"spec": self.content(), "plugins": self.hashed_versions()}
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
            cached = hashlib.sha256(text.encode()).hexdigest()[:16]
            object.__setattr__(self, "_hash", cached)
        return cached

    def hashed_versions(self) -> dict[str, str]:
        """The plugins' versions as the hash sees them: without those of the parts added later
        (:data:`ADDED_PARTS`) while they name their default plugin."""
        versions = dict(self.versions)
        for part, kind in ADDED_PARTS.items():
            if getattr(self, part) == ADDED_LATER[part]:
                versions.pop(f"{kind}:{ADDED_LATER[part]}", None)
        return pinned_versions(tuple(versions.items()))

    def configuration_id(self) -> str:
        """The configuration this run replicates: like :meth:`spec_hash`, without the seed.

        The runs of one table row that differ only in ``seed`` share it (the tag
        ``runner.configuration``), so they can be grouped and counted as replicates.
        """
        cached = getattr(self, "_configuration", None)
        if cached is None:
            content = self.content()
            content.pop("seed")
            payload = {"spec": content, "plugins": self.hashed_versions()}
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
            cached = hashlib.sha256(text.encode()).hexdigest()[:16]
            object.__setattr__(self, "_configuration", cached)
        return cached

    def params_of(self, part: str) -> dict[str, Any]:
        """The parameters of one part (``"optimizer"``, ``"output_activation"``, ...) as a dict."""
        return dict(getattr(self, f"{part}_params"))

    def run_name(self) -> str:
        """The name the table gave the run (see :func:`runner.table.names.name_runs`), or the
        data set and hash for a specification built without one."""
        return self.name or f"{self.objective or self.dataset}-{self.spec_hash()}"

    def population_key(self, per_member: frozenset[str]) -> tuple[Any, ...]:
        """What members of one vectorized population must share.

        ``per_member`` names the step-rule and schedule parameters that may differ between
        members; the seed, ``alpha`` and the strategy (how many initial points) may always
        differ. An objective's members share its parameters; they never share a population
        with a network's (the objective leads the key).
        """
        shared_opt = tuple((k, v) for k, v in self.optimizer_params if k not in per_member)
        return (
            self.objective,
            self.objective_params,
            self.dataset,
            self.dataset_params,
            self.data_seed,
            self.test_size,
            self.scaling,
            self.hidden,
            self.activation,
            self.activation_params,
            self.output_activation,
            self.output_activation_params,
            self.cost,
            self.cost_params,
            self.initializer,
            self.initializer_params,
            self.optimizer,
            shared_opt,
            self.epochs,
            self.batch_size,
            self.target_loss,
            self.gradient_tolerance,
            self.dtype,
            self.schedule,
            tuple((k, v) for k, v in self.schedule_params if k not in per_member),
            self.early_stopping,
            self.validation_fraction,
            self.patience,
            self.tol,
        )


@dataclass
class RunResult:
    """What a worker returns for one specification: status, metrics, history and weights.

    ``traceback`` is the whole traceback of a ``failed`` run whose plugin raised (the one-line
    ``reason`` says what happened; the traceback says where). ``dataset`` says what it trained
    on (``runner.engine.data.describe_data``; empty when training never reached the data).
    ``tags`` are tags the run carries besides those of its spec (``runner.critical_point``).
    """

    spec: RunSpec
    spec_hash: str
    status: str  # "finished" | "diverged" | "failed"
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    history: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    weights: list[Any] = field(default_factory=list)
    biases: list[Any] = field(default_factory=list)
    restart_losses: list[float] = field(default_factory=list)
    architecture: dict[str, Any] = field(default_factory=dict)
    wall_time: float = 0.0
    traceback: str = ""
    dataset: dict[str, Any] = field(default_factory=dict)
    #: why training stopped: epochs, target_loss, gradient_tolerance, early_stopping, diverged
    stop_reason: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    #: an objective run's path (its selected member's): ``{"steps": int64 (T,), "points":
    #: float64 (T, n)}``, decimated to a few hundred points; empty for a network
    trajectory: dict[str, Any] = field(default_factory=dict)
