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
#: called, the plugins' versions (those enter the hash on their own, under "plugins") and the
#: digests of its files (those stand in the hash for the files' paths); and ``critical_points``,
#: which asks for a test after training and does not change what training gives
NOT_HASHED = frozenset({"row", "source", "versions", "name", "files", "critical_points"})

#: RunSpec fields under the names the hash was first computed with: renaming a field must not
#: change the hash, or every run recorded before the rename would be trained again
HASH_NAMES = {"scaling": "scale", "output_activation_params": "output_params"}


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
    critical_points: str | None = "auto"
    row: int = field(default=0, compare=False)
    source: str = field(default="", compare=False)
    name: str = field(default="", compare=False)
    versions: Params = field(default=(), compare=False)
    files: Params = field(default=(), compare=False)

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
            if f.name.endswith("_params"):
                value = dict(value)
            elif f.name == "hidden":
                value = list(value)
            data[HASH_NAMES.get(f.name, f.name)] = value
        for key, digest in self.files:
            part, _, name = key.partition(".")
            data[HASH_NAMES.get(f"{part}_params", f"{part}_params")][name] = digest
        return data

    def spec_hash(self) -> str:
        """A stable identifier: sha256 of the canonical content and the plugins' versions.

        Computed once per object (specifications are immutable).
        """
        cached = self.__dict__.get("_hash")
        if cached is None:
            payload = {"spec": self.content(), "plugins": dict(self.versions)}
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
            cached = hashlib.sha256(text.encode()).hexdigest()[:16]
            object.__setattr__(self, "_hash", cached)
        return cached

    def configuration_id(self) -> str:
        """The configuration this run replicates: like :meth:`spec_hash`, without the seed.

        The runs of one table row that differ only in ``seed`` share it (the tag
        ``runner.configuration``), so they can be grouped and counted as replicates.
        """
        cached = self.__dict__.get("_configuration")
        if cached is None:
            content = self.content()
            content.pop("seed")
            payload = {"spec": content, "plugins": dict(self.versions)}
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
            cached = hashlib.sha256(text.encode()).hexdigest()[:16]
            object.__setattr__(self, "_configuration", cached)
        return cached

    def params_of(self, part: str) -> dict[str, Any]:
        """The parameters of one part (``"optimizer"``, ``"output_activation"``, ...) as a dict."""
        return dict(getattr(self, f"{part}_params"))

    def run_name(self) -> str:
        """The name the table gave the run (see :func:`runner.table.names.run_name`), or the
        data set and hash for a specification built without one."""
        return self.name or f"{self.dataset}-{self.spec_hash()}"

    def population_key(self, per_member: frozenset[str]) -> tuple[Any, ...]:
        """What members of one vectorized population must share.

        ``per_member`` names the step-rule parameters that may differ between members; the
        seed and the strategy (how many initial points) may always differ.
        """
        shared_opt = tuple((k, v) for k, v in self.optimizer_params if k not in per_member)
        return (
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
        )


@dataclass
class RunResult:
    """What a worker returns for one specification: status, metrics, history and weights.

    ``traceback`` is the whole traceback of a ``failed`` run whose plugin raised (the one-line
    ``reason`` says what happened; the traceback says where). ``tags`` are tags the run carries
    besides those of its spec (``runner.critical_point``).
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
    tags: dict[str, str] = field(default_factory=dict)
