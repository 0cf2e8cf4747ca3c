"""Run specifications: one configuration of a sweep as plain, hashable data.

A :class:`RunSpec` holds plugin names and resolved parameter values only, so it pickles to any
worker and hashes the same everywhere. Its :meth:`~RunSpec.spec_hash` (the canonical sorted
content plus the versions of the plugins it uses) identifies it in the tracking store, which is
how a repeated sweep skips what is already done.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

Params = tuple[tuple[str, Any], ...]


def freeze(params: dict[str, Any]) -> Params:
    """A dict of parameters as a sorted tuple of pairs (hashable, canonical)."""
    return tuple(sorted((k, str(v) if isinstance(v, Path) else v) for k, v in params.items()))


@dataclass(frozen=True)
class RunSpec:
    """One fully resolved configuration: what to train, on what, for how long.

    ``row`` and ``source`` say where it came from in the table and take no part in the hash.
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
    dataset_params: Params = ()
    activation_params: Params = ()
    output_params: Params = ()
    cost_params: Params = ()
    initializer_params: Params = ()
    optimizer_params: Params = ()
    strategy_params: Params = ()
    batch_size: int = 0
    data_seed: int = 0
    test_size: float = 0.0
    scale: str = "none"
    target_loss: float | None = None
    gradient_tolerance: float | None = None
    dtype: str = "float64"
    row: int = field(default=0, compare=False)
    source: str = field(default="", compare=False)
    versions: Params = field(default=(), compare=False)

    def content(self) -> dict[str, Any]:
        """Everything that determines the result, as JSON-ready data (no row, no source)."""
        data: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("row", "source", "versions"):
                continue
            value = getattr(self, f.name)
            if f.name.endswith("_params"):
                value = dict(value)
            elif f.name == "hidden":
                value = list(value)
            data[f.name] = value
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

    def params_of(self, part: str) -> dict[str, Any]:
        """The parameters of one part (``"optimizer"``, ``"dataset"``, ...) as a dict."""
        return dict(getattr(self, f"{part}_params"))

    @property
    def learning_rate(self) -> Any:
        return dict(self.optimizer_params).get("learning_rate")

    def run_name(self) -> str:
        """A readable name such as ``sigmoid-momentum-lr0.5-seed3``."""
        parts = [self.activation, self.optimizer]
        if self.learning_rate is not None:
            parts.append(f"lr{self.learning_rate:g}")
        momentum = dict(self.optimizer_params).get("momentum")
        if momentum is not None:
            parts.append(f"m{momentum:g}")
        restarts = dict(self.strategy_params).get("restarts")
        if restarts is not None and restarts != 1:
            parts.append(f"{self.strategy}{restarts}")
        parts.append(f"seed{self.seed}")
        return "-".join(str(p) for p in parts)

    def flat_params(self) -> dict[str, str]:
        """Every parameter as MLflow would show it: ``optimizer.learning_rate`` style keys."""
        out: dict[str, str] = {}
        for key, value in self.content().items():
            if isinstance(value, dict):
                prefix = key.removesuffix("_params")
                for k, v in value.items():
                    out[f"{prefix}.{k}"] = str(v)
            elif isinstance(value, list):
                out[key] = "-".join(str(v) for v in value) or "none"
            else:
                out[key] = str(value)
        return out

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
            self.scale,
            self.hidden,
            self.activation,
            self.activation_params,
            self.output_activation,
            self.output_params,
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
    """What a worker returns for one specification: status, metrics, history and weights."""

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
