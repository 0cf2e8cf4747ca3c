"""Run names: what a configuration is called in the tracking store and the terminal.

A name is read off the plugins' declarations, never off concrete plugins: the hidden activation,
the step rule, each step-rule parameter that declares a ``short`` form (``lr0.5``, ``m0.9``), the
strategy's parameters with a ``short`` form when the strategy trains more than one member per
configuration (``restarts5``), the L2 penalty and the learning-rate schedule where they are not
the defaults (``alpha0.0001``, ``cosine``), and the seed: ``sigmoid-momentum-lr0.5-m0.9-seed3``.
Imports :mod:`runner.plugin` only.
"""

from __future__ import annotations

from typing import Any

from runner.plugin.params import Plugin


def _shown(short: str, value: Any) -> str:
    return f"{short}{value:g}" if isinstance(value, float) else f"{short}{value}"


def run_name(
    plugins: dict[str, Plugin],
    params: dict[str, dict[str, Any]],
    seed: int,
    alpha: float = 0.0,
) -> str:
    """The name of one configuration: ``plugins`` and ``params`` by part (see the docstring)."""
    rule, strategy = plugins["optimizer"], plugins["strategy"]
    parts = [plugins["activation"].name, rule.name]
    for p in rule.params:
        value = params["optimizer"].get(p.name)
        if p.short and value is not None:
            parts.append(_shown(p.short, value))
    if alpha:
        parts.append(_shown("alpha", float(alpha)))
    schedule = plugins.get("schedule")
    if schedule is not None and not schedule.constant:  # type: ignore[attr-defined]
        parts.append(schedule.name)
    if strategy.members(**params["strategy"]) > 1:  # type: ignore[attr-defined]
        for p in strategy.params:
            value = params["strategy"].get(p.name)
            if p.short and value is not None:
                parts.append(_shown(p.short, value))
    parts.append(f"seed{seed}")
    return "-".join(parts)
