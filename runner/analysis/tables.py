"""A study's groups as flat rows: one per group, for the CSV, MLflow's table artifact and JSON.

A group of objective runs fills the objective's columns: ``objective``, ``minima_reached``
(``label: count; ...``, ``none`` for runs at no known minimum), the final f and, for two
variables, the notes' second-derivative test (its verdicts' counts and one end point's r, s, t
and rt - s^2); its
``success_*`` columns count the runs that reached the global minimum (``success_means`` says
what success is for each group). A network's group names the ``cost`` its losses are of and
gives the median accuracies; a group pooling several costs (``--by``) leaves its losses out.

:func:`flat_rows` is the one layout (column names below); :func:`table_columns` turns it into
column -> values (MLflow's ``log_table``), :func:`write_csv` into a CSV file (the csv module:
no pandas). Imports :mod:`runner.analysis.stats`.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner.analysis.stats import Group

#: the columns, in order
COLUMNS = (
    "group", "configurations", "runs", "finished", "diverged", "failed", "killed",
    "successes", "outcomes", "success_rate", "success_low", "success_high",
    "train_loss_median", "train_loss_q1", "train_loss_q3", "train_loss_mean", "train_loss_sd",
    "test_loss_median", "test_loss_q1", "test_loss_q3", "test_loss_mean", "test_loss_sd",
    "cost", "train_accuracy_median", "test_accuracy_median",
    "epochs_to_converge_median", "restart_successes", "restart_members", "restart_success_rate",
    "critical_points", "critical_points_unsolved",
    "solved_max_eigenvalue_median", "unsolved_max_eigenvalue_median",
    "objective", "success_means", "minima_reached", "f_median", "f_q1", "f_q3",
    "gradient_norm_median", "second_derivative_test", "second_derivative_example",
)  # fmt: skip


def flat_row(group: Group) -> dict[str, Any]:
    """One group's statistics under :data:`COLUMNS` (None where a statistic is undefined)."""
    data = group.to_json()
    counts = data["counts"]
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(
        group=group.label,
        configurations=" ".join(data["configurations"]),
        runs=group.runs,
        **{s: counts.get(s, 0) for s in ("finished", "diverged", "failed", "killed")},
    )
    if data["success"]:
        s = data["success"]
        row.update(successes=s["k"], outcomes=s["n"], success_rate=s["rate"],
                   success_low=s["low"], success_high=s["high"])  # fmt: skip
    for final in ("train_loss", "test_loss"):
        spread = data[final]
        if spread:
            for stat in ("median", "q1", "q3", "mean", "sd"):
                row[f"{final}_{stat}"] = spread[stat]
    row["cost"] = data["cost"]  # the cost the losses are of (mixed: they are not shown)
    if data["cost"] == "mixed":
        for final in ("train_loss", "test_loss"):
            for stat in ("median", "q1", "q3", "mean", "sd"):
                row[f"{final}_{stat}"] = None
    for final in ("train_accuracy", "test_accuracy"):
        row[f"{final}_median"] = (data[final] or {}).get("median")
    if data["epochs_to_converge"]:
        row["epochs_to_converge_median"] = data["epochs_to_converge"]["median"]
    if data["restarts_success"]:
        m = data["restarts_success"]
        row.update(restart_successes=m["k"], restart_members=m["n"], restart_success_rate=m["rate"])
    row["critical_points"] = "; ".join(f"{k}: {n}" for k, n in data["critical_points"].items())
    row["critical_points_unsolved"] = "; ".join(
        f"{k}: {n}" for k, n in data["critical_points_unsolved"].items()
    )
    for name in ("solved", "unsolved"):
        spread = data["curvature"][f"{name}_max_eigenvalue"]
        if spread:
            row[f"{name}_max_eigenvalue_median"] = spread["median"]
    row["success_means"] = data["success_means"]
    if data["objective"]:  # an objective's group: which minima, and f where its runs ended
        row["objective"] = data["objective"]
        row["minima_reached"] = "; ".join(f"{k}: {n}" for k, n in data["minima_reached"].items())
        for stat in ("median", "q1", "q3"):
            row[f"f_{stat}"] = (data["f"] or {}).get(stat)
        row["gradient_norm_median"] = (data["gradient_norm"] or {}).get("median")
    test = data["second_derivative_test"]
    if test:  # the notes' test: the verdicts, and one end point's r, s, t and rt - s^2
        row["second_derivative_test"] = "; ".join(f"{k}: {n}" for k, n in test["counts"].items())
        e = test["example"]
        row["second_derivative_example"] = (
            f"seed {e['seed']}: r {e['r']:.6g}, s {e['s']:.6g}, t {e['t']:.6g}, "
            f"rt - s^2 {e['rt_s2']:.6g}: {e['verdict']}"
        )
    return row


def flat_rows(groups: Sequence[Group]) -> list[dict[str, Any]]:
    return [flat_row(g) for g in groups]


def table_columns(groups: Sequence[Group]) -> dict[str, list[Any]]:
    """Column -> values, every value a string or a number (MLflow's table artifact)."""
    rows = flat_rows(groups)
    return {c: ["" if r[c] is None else r[c] for r in rows] for c in COLUMNS}


def write_csv(groups: Sequence[Group], path: Path) -> Path:
    """The groups' rows as a CSV file at ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        writer.writeheader()
        for row in flat_rows(groups):
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return Path(path)
