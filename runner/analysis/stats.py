"""Per-configuration statistics of a sweep's runs: :func:`summarize` into :class:`Group`\\ s.

A configuration is a table row's expansion with the seed taken out (the tag
``runner.configuration``); its replicates are its seeds. For each group: how many runs and how
each ended (``runner.status``); the success rate with a 95% Wilson interval (:func:`wilson`),
over the runs that ended (finished or diverged; a failed run is an error, not an outcome, and a
killed or still-training one has no outcome yet); the final training and test loss as median
and interquartile range and as mean and standard deviation (finished runs); the epochs to
converge where a stop rule applies; the restarts' own success (how many of all members tried
succeeded alone); the critical-point classes. ``by`` groups by table columns instead.

Success (:func:`criterion`) is what the run's table row says in its ``success`` column (the tag
``runner.success``: ``test_accuracy>=0.95``), else reaching ``target_loss`` where the run has
one; else what its data set declares (:meth:`runner.DatasetSource.success`, read from the
installed plugin with the run's data-set parameters: a test accuracy to reach, for moons or
digits); else, for classification, classifying every training sample right (XOR's "solved"). For
a run of an analytic objective it is reaching a global minimum of it (the tag
``runner.reached_global``), and its group counts which known minima its runs reached
(:attr:`Group.minima_reached`); an objective that declares no minimum (x^2 - y^2) gives its
runs no ``runner.reached_global`` and its group no success rate. For two variables the group
also gives the notes' second-derivative test at its end points
(:meth:`Group.second_derivative_test`: r, s, t, rt - s^2 and the verdict). A diverged run never
succeeds. Imports :mod:`runner.analysis.runs`, :mod:`runner.engine` (the test's verdict),
:mod:`runner.plugin` (the data sets' declarations) and :mod:`runner.errors`.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runner.analysis.runs import NO_MINIMUM, RunRow
from runner.engine.descent import determinant_verdict
from runner.errors import RunnerError, did_you_mean
from runner.plugin.kinds import Success

#: the z of a two-sided 95% interval
Z95 = 1.959963984540054

#: the statuses that are an outcome (the denominator of a success rate)
ENDED = ("finished", "diverged")

#: what success is for an objective that declares no minimum
NO_MINIMUM_MEANS = "no minimum: the objective declares none (f may fall without bound)"

#: the finals of the notes' two-variable test: r = f_xx, s = f_xy, t = f_yy
HESSIAN_RST = ("hessian_r", "hessian_s", "hessian_t")


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n`` (``(nan, nan)`` for n = 0)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the interval holds p exactly, where rounding would put an end a hair inside it
    return (min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def _none(value: str | None) -> bool:
    return value is None or value in ("", "None", "none")


#: the finals whose spread a group's JSON gives
SPREAD_FINALS = ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "f", "gradient_norm")

#: success where nothing else is declared: every training sample classified right
EVERY_SAMPLE = Success("train_accuracy", 1.0)


def declared_success(row: RunRow) -> Success | None:
    """What the run's data set declares success to be, with the run's data-set parameters
    (None: it declares none, or it is not installed here)."""
    dataset = row.param("dataset")
    if not dataset:
        return None
    names = _dataset_params(dataset)
    if names is None:
        return None
    return _declared(dataset, tuple(row.given("dataset", names).items()))


@functools.lru_cache(maxsize=256)
def _dataset_params(dataset: str) -> tuple[str, ...] | None:
    """The parameters data set ``dataset`` declares; None when it is not installed here."""
    from runner.plugin.registry import get_registry

    try:
        return tuple(p.name for p in get_registry().get("dataset", dataset).params)
    except KeyError:
        return None


@functools.lru_cache(maxsize=256)
def _declared(dataset: str, given: tuple[tuple[str, str], ...]) -> Success | None:
    """What ``dataset`` declares success to be with the parameters ``given`` (one entry per
    run's data-set configuration, not per run: a thousand seeds ask once)."""
    from runner.plugin.registry import get_registry

    source = get_registry().get("dataset", dataset)
    try:
        return source.success(**source.resolve(dict(given)))  # type: ignore[attr-defined]
    except ValueError:  # parameters this version of the plugin does not take
        return source.success(**source.defaults())  # type: ignore[attr-defined]


def criterion(row: RunRow) -> str | Success | None:
    """What success is for a network's run (module docstring): ``"target_loss"``, a
    :class:`~runner.plugin.kinds.Success`, or None for a regression that has neither."""
    if row.success:
        try:
            return Success.parse(row.success)
        except ValueError:  # a tag edited by hand in the store: the rest decides
            pass
    if not _none(row.param("target_loss")):
        return "target_loss"
    declared = declared_success(row)
    if declared is not None:
        return declared
    if "train_accuracy" in row.finals or row.status != "finished":
        return EVERY_SAMPLE
    return None


def succeeded(row: RunRow) -> bool | None:
    """Whether a run succeeded (module docstring); None when it has no outcome or none is
    defined (a regression without ``target_loss``)."""
    if row.status not in ENDED:
        return None
    if row.objective and row.reached_global is None:  # it declares no minimum to reach
        return None
    if row.status == "diverged":
        return False
    if row.objective:
        return row.reached_global
    rule = criterion(row)
    if rule == "target_loss":
        loss = row.finals.get("train_loss")
        return loss is not None and loss <= float(row.param("target_loss"))  # type: ignore[arg-type]
    if isinstance(rule, Success):
        return rule.met(row.finals)
    return None


@dataclass(frozen=True)
class Spread:
    """A sample of values: median and quartiles, mean and standard deviation."""

    n: int
    median: float
    q1: float
    q3: float
    mean: float
    sd: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
        if not v.size:
            return None
        q1, median, q3 = np.percentile(v, [25, 50, 75])
        sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
        return cls(int(v.size), float(median), float(q1), float(q3), float(v.mean()), sd)

    def to_json(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("n", "median", "q1", "q3", "mean", "sd")}


@dataclass
class Group:
    """The runs of one configuration (or of one value of the ``by`` columns) and their
    statistics."""

    key: tuple[Any, ...]
    label: str
    rows: list[RunRow] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The label without its table row: the configuration's name, or the ``by`` values."""
        return re.sub(r"^row \d+ ", "", self.label)

    @property
    def counts(self) -> dict[str, int]:
        out = Counter(r.status for r in self.rows)
        return {s: out.get(s, 0) for s in ("finished", "diverged", "failed", "killed")} | {
            s: n for s, n in out.items() if s not in ("finished", "diverged", "failed", "killed")
        }

    @property
    def runs(self) -> int:
        return len(self.rows)

    @property
    def outcomes(self) -> list[bool]:
        return [s for r in self.rows if (s := succeeded(r)) is not None]

    @property
    def success(self) -> tuple[int, int, float, float, float] | None:
        """``(k, n, rate, low, high)`` with the 95% Wilson interval; None when undefined."""
        outcomes = self.outcomes
        if not outcomes:
            return None
        k, n = sum(outcomes), len(outcomes)
        return (k, n, k / n, *wilson(k, n))

    @property
    def objective(self) -> str | None:
        """The objective the group's runs minimized; None for networks (or a mixed group)."""
        names = {r.objective for r in self.rows}
        return names.pop() if len(names) == 1 else None

    @property
    def cost(self) -> str | None:
        """The cost its runs' losses are of; ``mixed`` for a group (``--by``) that pools runs
        of several costs, whose pooled losses mean nothing; None for an objective's runs."""
        if self.objective:
            return None
        costs = {r.param("cost") for r in self.rows}
        return str(costs.pop()) if len(costs) == 1 else "mixed"

    @property
    def success_means(self) -> str:
        """What success is for this group, as the report says it (its runs' criteria, joined
        by " or " where they differ: a group of ``--by`` values may pool data sets)."""
        if self.objective:
            if self.no_minimum:
                return NO_MINIMUM_MEANS
            return "reached the global minimum"
        said = []
        for row in self.rows:
            rule = criterion(row)
            if not isinstance(rule, Success):
                text = (
                    "reached target_loss"
                    if rule == "target_loss"
                    else "none defined (a regression without target_loss)"
                )
            elif row.success:
                text = f"{rule.says()}, as the table says"
            elif rule == EVERY_SAMPLE:
                text = "classified every training sample"
            else:
                text = f"{rule.says()}, as {row.param('dataset')} declares"
            if text not in said:
                said.append(text)
        return " or ".join(said)

    @property
    def no_minimum(self) -> bool:
        """Whether the group's objective declares no minimum (x^2 - y^2 has none): none of
        its ended runs says whether it reached a global one."""
        ended = [r for r in self.rows if r.status in ENDED]
        return bool(self.objective and ended) and all(r.reached_global is None for r in ended)

    @property
    def minima_reached(self) -> dict[str, int]:
        """For an objective group: how many of its ended runs reached each known minimum (by
        label; ``none`` for no known minimum, diverged runs included), most often first."""
        if not self.objective:
            return {}
        ended = [r for r in self.rows if r.status in ENDED]
        return dict(
            Counter(
                r.reached if r.status == "finished" and r.reached else NO_MINIMUM for r in ended
            ).most_common()
        )

    def spread(self, final: str) -> Spread | None:
        return Spread.of([r.finals.get(final) for r in self.rows if r.status == "finished"])  # type: ignore[misc]

    @property
    def stop_rule(self) -> bool:
        """Whether a stop rule applies (``target_loss`` or ``gradient_tolerance`` given)."""
        return any(
            not _none(r.param("target_loss")) or not _none(r.param("gradient_tolerance"))
            for r in self.rows
        )

    @property
    def epochs_to_converge(self) -> Spread | None:
        """The epochs of the finished runs that converged, where a stop rule applies."""
        if not self.stop_rule:
            return None
        done = [r for r in self.rows if r.status == "finished" and r.converged]
        return Spread.of([r.epochs for r in done if r.epochs is not None])

    @property
    def members(self) -> tuple[int, int, float, float, float] | None:
        """The restarts' own success: ``(k, n, rate, low, high)`` over every member tried, for
        configurations of more than one member whose runs say how many succeeded."""
        rows = [r for r in self.rows if r.status in ENDED and r.restarts > 1]
        known = [r for r in rows if "restarts_succeeded" in r.finals]
        if not known:
            return None
        k = int(sum(r.finals["restarts_succeeded"] for r in known))
        n = sum(r.restarts for r in known)
        return (k, n, k / n, *wilson(k, n))

    @property
    def critical_points(self) -> dict[str, int]:
        """How many runs fell in each critical-point class (runs without the test left out)."""
        return dict(Counter(r.critical_point for r in self.rows if r.critical_point).most_common())

    @property
    def critical_unsolved(self) -> dict[str, int]:
        """How many runs of each critical-point class did not succeed."""
        return dict(
            Counter(
                r.critical_point for r in self.rows if r.critical_point and succeeded(r) is False
            )
        )

    def second_derivative_test(self) -> dict[str, Any] | None:
        """The notes' test at the end points of a two-variable objective's finished runs:
        ``counts`` of each verdict (``minimum``, ``maximum``, ``saddle``, ``test fails``;
        ``not stationary`` where the gradient had not vanished, so the point is no critical
        point and the test does not apply) and ``example``, the first such run's ``seed``,
        ``point``, ``r``, ``s``, ``t``, ``rt_s2`` (rt - s^2) and ``verdict``; None where no run
        has r, s and t."""
        tested = [
            r
            for r in self.rows
            if r.status == "finished" and all(k in r.finals for k in HESSIAN_RST)
        ]
        if not tested:
            return None
        counts: Counter[str] = Counter()
        example: dict[str, Any] | None = None
        for row in tested:
            r, s, t = (row.finals[k] for k in HESSIAN_RST)
            verdict = determinant_verdict(r, s, t)
            if row.critical_point and row.critical_point.endswith("not stationary"):
                verdict = "not stationary"
            counts[verdict] += 1
            if example is None:
                example = {"seed": row.seed, "point": row.point, "r": r, "s": s, "t": t,
                           "rt_s2": r * t - s * s, "verdict": verdict}  # fmt: skip
        return {"counts": dict(counts.most_common()), "example": example}

    def curvature(self) -> dict[str, Spread | None]:
        """The largest and smallest Hessian eigenvalue of the solved and the unsolved runs:
        the curvature that tells stuck runs from solved ones."""
        out: dict[str, Spread | None] = {}
        for outcome, name in ((True, "solved"), (False, "unsolved")):
            mine = [r for r in self.rows if r.critical_point and succeeded(r) is outcome]
            for key in ("hessian_max_eigenvalue", "hessian_min_eigenvalue"):
                out[f"{name}_{key.removeprefix('hessian_')}"] = Spread.of(
                    [r.finals[key] for r in mine if key in r.finals]
                )
        return out

    def to_json(self) -> dict[str, Any]:
        success, members = self.success, self.members
        spreads = {f: self.spread(f) for f in SPREAD_FINALS}
        epochs = self.epochs_to_converge
        return {
            "label": self.label,
            "key": list(self.key),
            "configurations": sorted({r.configuration for r in self.rows}),
            "runs": self.runs,
            "counts": self.counts,
            "objective": self.objective,
            "cost": self.cost,
            "success_means": self.success_means,
            "minima_reached": self.minima_reached,
            "second_derivative_test": self.second_derivative_test(),
            "success": None
            if success is None
            else dict(zip(("k", "n", "rate", "low", "high"), success, strict=True)),
            "restarts_success": None
            if members is None
            else dict(zip(("k", "n", "rate", "low", "high"), members, strict=True)),
            **{f: None if s is None else s.to_json() for f, s in spreads.items()},
            "epochs_to_converge": None if epochs is None else epochs.to_json(),
            "critical_points": self.critical_points,
            "critical_points_unsolved": self.critical_unsolved,
            "curvature": {
                k: None if v is None else v.to_json() for k, v in self.curvature().items()
            },
        }


def _label(rows: list[RunRow]) -> str:
    first = rows[0]
    where = f"row {first.row} " if first.row is not None else ""
    return f"{where}{first.name or first.configuration}"


def summarize(rows: Sequence[RunRow], by: Sequence[str] = ()) -> list[Group]:
    """The runs grouped by configuration (or by the table columns ``by``), in table order.

    :class:`RunnerError` (exit code 2) when a column of ``by`` is no parameter of the runs."""
    if by:
        known = sorted({k.rsplit(".", 1)[-1] for r in rows for k in r.params} | {
            k for r in rows for k in r.params
        })  # fmt: skip
        for column in by:
            if rows and all(r.param(column) is None for r in rows):
                raise RunnerError(
                    f"--by {column}: no run has this column{did_you_mean(column, known)}; "
                    f"the runs have {', '.join(c for c in known if '.' not in c)}"
                )
    groups: dict[tuple[Any, ...], Group] = {}
    for row in rows:
        if by:
            key: tuple[Any, ...] = tuple(row.param(c) for c in by)
            label = ", ".join(f"{c}={v}" for c, v in zip(by, key, strict=True))
        else:
            key, label = (row.configuration,), ""
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(key, label)
        group.rows.append(row)
    out = list(groups.values())
    for group in out:
        group.rows.sort(key=lambda r: (r.seed is None, r.seed or 0))
        if not by:
            group.label = _label(group.rows)
    names = Counter(g.label for g in out)
    for group in out:  # two configurations of one name (another table's): told apart by id
        if names[group.label] > 1:
            group.label += f" [{group.key[0][:6]}]"
    if by:
        return sorted(out, key=lambda g: tuple(_sortable(v) for v in g.key))
    return sorted(out, key=lambda g: (min((r.row or 0) for r in g.rows), g.label))


def _sortable(value: Any) -> tuple[int, Any]:
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, str(value))
