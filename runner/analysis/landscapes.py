"""The figures of a study's objective runs: the landscape, the basins, the restarts' payoff.

For each objective the study's runs minimized (:attr:`runner.analysis.Group.objective`), three
PNG files named after it:

- ``<objective>_contours.png``: f over the objective's box (filled contours on a log scale of
  ``f - f_min + 1``, so that Rosenbrock's valley and Himmelblau's four bowls both show), every
  drawn run's trajectory from its start (dot) to its end (diamond), coloured by configuration,
  the known minima marked x (global red, local black, labelled), the saddles + and the known
  local maxima as triangles (with f there);
- ``<objective>_basins.png``: for each distinct step-rule configuration of the objective's runs
  (the rule, its parameters, its schedule, the iterations and the stop rules; at most
  :data:`MAX_BASIN_PANELS`), a grid of :data:`BASIN_GRID` x :data:`BASIN_GRID` starts over the
  box moved by that rule in one vectorized :func:`runner.engine.descent.descend`, each start
  coloured by the known minimum it reached (:func:`runner.engine.descent.reached`), light grey
  for none, dark grey for diverged (:func:`basin_map` computes it);
- ``<objective>_restarts.png``: the share of runs that reached the global minimum against the
  number of restarts, one line per step-rule configuration, with 95% Wilson intervals
  (:func:`restarts_points` computes them).

Of each configuration the first :data:`MAX_TRAJECTORIES` seeds' trajectories are fetched and
drawn (:func:`runner.sweep.study` bounds what it reads from the store). An objective of more than
two variables is drawn on the plane of its first two coordinates through its (first) global
minimum, the other coordinates held there (the box's centre where no minimum is known): the
contours are that slice, the trajectories their first two coordinates, the basin map's starts
lie on the plane; the titles say so. An objective of one variable, or one that is not installed
here, is left out with a warning. The objective and the step rules are found by name in the
installed plugins (:mod:`runner.plugin.registry`); matplotlib is imported by the caller
(:func:`runner.analysis.figures.draw_all`). Imports :mod:`runner.analysis`,
:mod:`runner.engine` and :mod:`runner.plugin`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runner.analysis.labels import distinct_labels
from runner.analysis.runs import RunRow
from runner.analysis.stats import ENDED, Group, succeeded, wilson
from runner.engine.descent import DescentSchedule, descend, reached
from runner.plugin.kinds import Minimum, Objective

#: the most configurations whose trajectories the contour plot shows (the first, in table order)
MAX_GROUPS = 12
#: the most trajectories of one configuration fetched and drawn (its first seeds)
MAX_TRAJECTORIES = 25
#: the basin map's starts per axis (BASIN_GRID squared starts in all)
BASIN_GRID = 150
#: the most start-iterations one basin panel may cost; a longer descent gets a coarser grid
BASIN_WORK = BASIN_GRID * BASIN_GRID * 20_000
#: the most step-rule configurations the basin map shows (the first, in table order)
MAX_BASIN_PANELS = 4
#: the contour grid's points per axis
CONTOUR_GRID = 300
#: a basin map's class of a start that reached no known minimum, and of one that diverged
NONE, DIVERGED = -1, -2
#: the colours of configurations (trajectories, restart lines) and of minima (basins)
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
    "#8c564b", "#e377c2", "#bcbd22", "#393b79", "#637939", "#843c39",
)  # fmt: skip
NONE_COLOUR, DIVERGED_COLOUR = "#d9d9d9", "#6e6e6e"
#: the table columns that are no part of a step-rule configuration
NOT_RULE = ("seed", "restarts", "strategy")

#: the colour of a known local maximum's marker
MAXIMUM_COLOUR = "#fdb863"

log = logging.getLogger(__name__)


# --- what the runs name: the objective, the step rule, the descent ----------------------------


def _names(plugin: Any) -> list[str]:
    return [p.name for p in plugin.params]


def objective_of(row: RunRow) -> tuple[Objective, dict[str, Any]]:
    """The installed objective ``row`` minimized and its resolved parameters (KeyError when it is
    not installed here)."""
    from runner.plugin.registry import get_registry

    objective = get_registry().get("objective", row.objective or "")
    return objective, objective.resolve(row.given("objective", _names(objective)))  # type: ignore[return-value]


@dataclass(frozen=True)
class RuleSetting:
    """A step-rule configuration of an objective's runs: what a basin map descends with."""

    optimizer: str
    rule_params: tuple[tuple[str, Any], ...]
    schedule: str
    schedule_params: tuple[tuple[str, Any], ...]
    iterations: int
    gradient_tolerance: float | None
    target: float | None

    @classmethod
    def of(cls, row: RunRow) -> RuleSetting:
        from runner.plugin.registry import get_registry

        registry = get_registry()
        rule = registry.get("step_rule", row.params.get("optimizer", "gd"))
        schedule = registry.get("schedule", row.params.get("schedule", "constant"))

        def number(column: str) -> float | None:
            value = row.params.get(column)
            return None if value in (None, "", "None", "none") else float(value)  # type: ignore[arg-type]

        return cls(
            rule.name,
            tuple(sorted(rule.resolve(row.given("optimizer", _names(rule))).items())),
            schedule.name,
            tuple(sorted(schedule.resolve(row.given("schedule", _names(schedule))).items())),
            int(float(row.params.get("epochs", 1000))),
            number("gradient_tolerance"),
            number("target_loss"),
        )

    def label(self) -> str:
        """``momentum lr=0.01 m=0.9, 2000 iterations`` (and the schedule, the stop rules)."""
        from runner.plugin.registry import get_registry

        registry = get_registry()
        shorts = {
            p.name: p.short or p.name for p in registry.get("step_rule", self.optimizer).params
        }
        text = " ".join([self.optimizer] + [f"{shorts.get(k, k)}={v:g}" if isinstance(v, float)
                        else f"{shorts.get(k, k)}={v}" for k, v in self.rule_params])  # fmt: skip
        if self.schedule != "constant":
            text += f", {self.schedule} schedule"
        text += f", {self.iterations} iterations"
        if self.gradient_tolerance is not None:
            text += f", |grad| <= {self.gradient_tolerance:g}"
        return text

    def descend(self, objective: Objective, params: dict[str, Any], starts: np.ndarray) -> Any:
        """The descent of every start in ``starts`` ``(P, n)`` under this configuration, its
        path recorded at the start and the end only."""
        from runner.engine.buffers import member_hyper
        from runner.engine.population import rate_control
        from runner.plugin.registry import get_registry

        registry = get_registry()
        rule = registry.get("step_rule", self.optimizer)
        owners = np.zeros(len(starts), dtype=np.int64)
        hyper = member_hyper(rule, [dict(self.rule_params)], owners)  # type: ignore[arg-type]
        rate = rate_control(
            registry.get("schedule", self.schedule),  # type: ignore[arg-type]
            [dict(self.schedule_params)],
            owners,
        )
        schedule = DescentSchedule(
            self.iterations, self.gradient_tolerance, self.target, max_points=1
        )
        return descend(objective, params, starts, rule, hyper, schedule, rate=rate)  # type: ignore[arg-type]


def plane_of(objective: Objective, params: dict[str, Any]) -> np.ndarray:
    """The point the drawn plane passes through: the first global minimum (else the first
    minimum, else the box's centre); its first two coordinates vary in the figures."""
    minima = objective.minima(**params)
    chosen = [m for m in minima if m.global_] or list(minima)
    if chosen:
        return np.asarray(chosen[0].point, dtype=np.float64)
    low, high = (np.asarray(c, dtype=np.float64) for c in objective.box(**params))
    return (low + high) / 2


# --- the basin map ------------------------------------------------------------------------------


@dataclass
class BasinMap:
    """Which known minimum each start of a grid over the box reached.

    ``starts`` ``(G*G, n)`` run over x1 fastest (``xs``), then x2 (``ys``); ``classes`` ``(G,
    G)`` is indexed ``[y, x]``: the index of the reached minimum in ``minima``, :data:`NONE`
    or :data:`DIVERGED`."""

    xs: np.ndarray
    ys: np.ndarray
    starts: np.ndarray
    classes: np.ndarray
    minima: tuple[Minimum, ...]

    def counts(self) -> dict[str, int]:
        """Starts per class: each minimum's label, ``none`` and ``diverged``."""
        flat = self.classes.ravel()
        out = {m.label: int(np.sum(flat == k)) for k, m in enumerate(self.minima)}
        out["none"] = int(np.sum(flat == NONE))
        out["diverged"] = int(np.sum(flat == DIVERGED))
        return out


def basin_map(
    objective: Objective, params: dict[str, Any], setting: RuleSetting, grid: int = BASIN_GRID
) -> BasinMap:
    """The basin map of ``objective`` under ``setting``: ``grid`` x ``grid`` starts over its box
    (on the plane through :func:`plane_of` for more than two variables), all in one descent."""
    low, high = (np.asarray(c, dtype=np.float64) for c in objective.box(**params))
    xs, ys = np.linspace(low[0], high[0], grid), np.linspace(low[1], high[1], grid)
    gx, gy = np.meshgrid(xs, ys)
    starts = np.tile(plane_of(objective, params), (grid * grid, 1))
    starts[:, 0], starts[:, 1] = gx.ravel(), gy.ravel()
    done = setting.descend(objective, params, starts)
    minima = tuple(objective.minima(**params))
    index = {m: k for k, m in enumerate(minima)}
    found = reached(objective, params, done.final_x)
    classes = np.array([NONE if m is None else index[m] for m in found], dtype=np.int64)
    classes[done.diverged] = DIVERGED
    return BasinMap(xs, ys, starts, classes.reshape(grid, grid), minima)


# --- the restarts' payoff -----------------------------------------------------------------------


@dataclass(frozen=True)
class RestartsPoint:
    """The runs of one step-rule configuration and one number of restarts: ``k`` of ``n``
    reached the global minimum, ``rate`` with its 95% Wilson interval."""

    restarts: int
    k: int
    n: int
    rate: float
    low: float
    high: float


def _rule_key(row: RunRow) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in row.params.items() if k not in NOT_RULE))


def _implied(optimizer: str) -> set[str]:
    """The params step rule ``optimizer`` records without taking them (gd's ``momentum``)."""
    from runner.plugin.registry import get_registry

    try:
        return set(get_registry().get("step_rule", optimizer).implied_params)
    except KeyError:
        return set()


def restarts_points(rows: Sequence[RunRow]) -> dict[str, list[RestartsPoint]]:
    """Line label -> its points by restarts: the ended runs of one objective, pooled by every
    parameter but the seed and the restarts. A line is labelled by the columns that differ
    between the lines (by the step rule alone when there is one line)."""
    lines: dict[tuple[tuple[str, str], ...], dict[int, list[bool]]] = {}
    for row in rows:
        outcome = succeeded(row) if row.status in ENDED else None
        if outcome is None:
            continue
        lines.setdefault(_rule_key(row), {}).setdefault(row.restarts, []).append(outcome)
    varying = sorted(
        {k for key in lines for k, v in key if any(dict(o).get(k) != v for o in lines)},
        key=lambda k: (k != "optimizer", k),  # the step rule first
    )
    out: dict[str, list[RestartsPoint]] = {}
    for key, by_restarts in lines.items():
        shown = dict(key)
        implied = _implied(shown.get("optimizer", ""))  # gd's momentum 0: not its own setting
        label = ", ".join(f"{k}={shown[k]}" for k in varying if k in shown and k not in implied)
        label = label or shown.get("optimizer", "")
        points = []
        for restarts, outcomes in sorted(by_restarts.items()):
            k, n = sum(outcomes), len(outcomes)
            points.append(RestartsPoint(restarts, k, n, k / n, *wilson(k, n)))
        out[label] = points
    return out


# --- drawing ------------------------------------------------------------------------------------


def by_objective(groups: Sequence[Group]) -> dict[str, list[Group]]:
    """The objective groups of a study by objective name, in table order."""
    out: dict[str, list[Group]] = {}
    for g in groups:
        if g.objective:
            out.setdefault(g.objective, []).append(g)
    return out


def draw(plt: Any, groups: Sequence[Group], out: Path) -> list[Path]:
    """Every objective figure of ``groups`` (the three of each objective), written to ``out``."""
    paths: list[Path] = []
    for name, mine in by_objective(groups).items():
        try:
            objective, params = objective_of(mine[0].rows[0])
        except (KeyError, ValueError) as exc:
            log.warning("figures of objective %s not drawn: %s", name, exc)
            continue
        if objective.dimension(**params) < 2:
            log.warning("figures of objective %s not drawn: it has one variable", name)
            continue
        for what, drawing in (
            ("contours", _contours),
            ("basins", _basins),
            ("restarts", _restarts),
        ):
            try:
                made = drawing(plt, name, objective, params, mine, out)
            except Exception as exc:  # one figure's problem leaves the others
                log.warning("figure %s_%s not drawn: %s", name, what, exc)
                plt.close("all")
                continue
            if made is not None:
                paths.append(made)
    return paths


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def _slice_note(objective: Objective, params: dict[str, Any]) -> str:
    n = objective.dimension(**params)
    if n <= 2:
        return ""
    point = plane_of(objective, params)
    rest = ", ".join(f"{v:.3g}" for v in point[2:6]) + (", ..." if n > 6 else "")
    axes = "x3" if n == 3 else f"x3..x{n}"
    return f" (slice {axes} = {rest}; paths projected)"


def _mark_critical(ax: Any, objective: Objective, params: dict[str, Any], labels: bool) -> None:
    """The known minima as x (global red, local black; all black on a basin map, whose colours
    are the minima's), labelled where ``labels``; the saddles as +; the maxima as triangles
    (labelled with f there where ``labels``)."""
    import matplotlib.patheffects as pe

    halo = [pe.withStroke(linewidth=3.5, foreground="white")]
    for m in objective.minima(**params):
        colour = "#b2182b" if m.global_ and labels else "black"
        ax.scatter([m.point[0]], [m.point[1]], marker="x", s=70, lw=2.2, color=colour, zorder=6,
                   path_effects=halo)  # fmt: skip
        if labels and m.label:
            ax.annotate(m.label, (m.point[0], m.point[1]), xytext=(6, 6),
                        textcoords="offset points", fontsize=7.5, color=colour, zorder=7,
                        path_effects=halo)  # fmt: skip
    for s in objective.saddles(**params):
        ax.scatter([s[0]], [s[1]], marker="+", s=90, lw=2.2, color="black", zorder=6,
                   path_effects=halo)  # fmt: skip
    for top in objective.maxima(**params):
        ax.scatter([top[0]], [top[1]], marker="^", s=60, lw=1.2, color=MAXIMUM_COLOUR,
                   edgecolors="black", zorder=6)  # fmt: skip
        if labels:
            f = float(objective.value(np.asarray([top], dtype=np.float64), **params)[0])
            ax.annotate(f"max f = {f:.4g}", (top[0], top[1]), xytext=(6, -10),
                        textcoords="offset points", fontsize=7.5, color="black", zorder=7,
                        path_effects=halo)  # fmt: skip


def _legend_of_critical(objective: Objective, params: dict[str, Any]) -> list[Any]:
    from matplotlib.lines import Line2D

    minima = objective.minima(**params)
    handles = []
    if any(m.global_ for m in minima):
        handles.append(Line2D([], [], marker="x", ls="", color="#b2182b", mew=2,
                              label="global minimum"))  # fmt: skip
    if any(not m.global_ for m in minima):
        handles.append(Line2D([], [], marker="x", ls="", color="black", mew=2,
                              label="local minimum"))  # fmt: skip
    if objective.saddles(**params):
        handles.append(Line2D([], [], marker="+", ls="", color="black", mew=2, ms=9,
                              label="saddle"))  # fmt: skip
    if objective.maxima(**params):
        handles.append(Line2D([], [], marker="^", ls="", color=MAXIMUM_COLOUR, mec="black",
                              label="local maximum"))  # fmt: skip
    return handles


def _field(
    objective: Objective, params: dict[str, Any], grid: int = CONTOUR_GRID
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    low, high = (np.asarray(c, dtype=np.float64) for c in objective.box(**params))
    gx, gy = np.meshgrid(np.linspace(low[0], high[0], grid), np.linspace(low[1], high[1], grid))
    points = np.tile(plane_of(objective, params), (grid * grid, 1))
    points[:, 0], points[:, 1] = gx.ravel(), gy.ravel()
    with np.errstate(all="ignore"):
        f = np.asarray(objective.value(points, **params), dtype=np.float64).reshape(gx.shape)
    return gx, gy, f


def _contours(
    plt: Any,
    name: str,
    objective: Objective,
    params: dict[str, Any],
    groups: list[Group],
    out: Path,
) -> Path:
    from matplotlib.lines import Line2D

    groups = groups[:MAX_GROUPS]
    gx, gy, f = _field(objective, params)
    finite = f[np.isfinite(f)]
    floor = min([float(finite.min())] + [m.value for m in objective.minima(**params)])
    with np.errstate(all="ignore"):
        level = np.log10(np.where(np.isfinite(f), f, finite.max()) - floor + 1.0)
    levels = np.linspace(0.0, float(np.nanmax(level)) or 1.0, 24)
    fig, ax = plt.subplots(figsize=(7.6, 6.2))
    filled = ax.contourf(gx, gy, level, levels=levels, cmap="Greys_r", alpha=0.55)
    ax.contour(gx, gy, level, levels=levels[::2], colors="0.35", linewidths=0.4)
    bar = fig.colorbar(filled, ax=ax, shrink=0.85, pad=0.02)
    ticks = levels[::4]
    bar.set_ticks(ticks)
    bar.set_ticklabels([f"{10**t - 1 + floor:.3g}" for t in ticks])
    bar.set_label("f (log scale of f - f_min + 1)")
    handles: list[Any] = []
    low, high = (np.asarray(c, dtype=np.float64) for c in objective.box(**params))
    drawn = outside = 0
    names = distinct_labels([g.name for g in groups])
    for i, group in enumerate(groups):
        colour = PALETTE[i % len(PALETTE)]
        mine = 0
        for row in group.rows[:MAX_TRAJECTORIES]:
            if row.trajectory is not None:
                _, points = row.trajectory
                points = points[np.all(np.isfinite(points), axis=1)]  # a diverged run's last
                if not len(points):
                    continue
                ax.plot(points[:, 0], points[:, 1], color=colour, lw=0.8, alpha=0.7, zorder=3)
                start, end = points[0], points[-1]
            elif row.point is not None and len(row.point) >= 2:
                start, end = None, row.point
            else:
                continue
            if start is not None:
                ax.scatter([start[0]], [start[1]], s=14, color=colour, zorder=4, lw=0)
            ax.scatter([end[0]], [end[1]], s=34, marker="D", color=colour, edgecolors="black",
                       lw=0.6, zorder=5)  # fmt: skip
            mine += 1
            outside += not bool(np.all((low[:2] <= end[:2]) & (end[:2] <= high[:2])))
        if mine:
            drawn += mine
            handles.append(Line2D([], [], color=colour, lw=1.5, label=f"{names[i]} ({mine})"))
    _mark_critical(ax, objective, params, labels=True)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_aspect("equal" if _square(low, high) else "auto")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    note = _slice_note(objective, params)
    if outside:
        note += f"; {outside} ended outside the box"
    ax.set_title(f"{name}: {drawn} trajectories, start (dot) to end (diamond){note}", loc="left")
    marks = [
        Line2D([], [], marker="o", ls="", color="0.3", ms=4, label="start"),
        Line2D([], [], marker="D", ls="", color="0.3", mec="black", ms=5, label="end"),
    ]
    ax.legend(handles=handles + marks + _legend_of_critical(objective, params), frameon=False,
              fontsize=7.5, loc="upper left", bbox_to_anchor=(0.0, -0.1),
              ncol=2 if len(handles) > 4 else 1)  # fmt: skip
    return _save(plt, fig, out / f"{name}_contours.png")


def _square(low: np.ndarray, high: np.ndarray) -> bool:
    width, height = float(high[0] - low[0]), float(high[1] - low[1])
    return 0.5 <= width / height <= 2.0


def _settings(groups: list[Group]) -> list[RuleSetting]:
    out: list[RuleSetting] = []
    for g in groups:
        for row in g.rows:
            setting = RuleSetting.of(row)
            if setting not in out:
                out.append(setting)
    return out


def _basins(
    plt: Any,
    name: str,
    objective: Objective,
    params: dict[str, Any],
    groups: list[Group],
    out: Path,
) -> Path | None:
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    minima = objective.minima(**params)
    if not minima:
        log.warning("basin map of %s not drawn: it declares no known minimum", name)
        return None
    settings = _settings(groups)
    shown = settings[:MAX_BASIN_PANELS]
    cols = min(len(shown), 2)
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.4 * cols, 5.0 * rows + 0.6), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[len(shown) :]:
        ax.set_visible(False)
    colours = [DIVERGED_COLOUR, NONE_COLOUR] + [
        PALETTE[k % len(PALETTE)] for k in range(len(minima))
    ]
    cmap = ListedColormap(colours)
    low, high = (np.asarray(c, dtype=np.float64) for c in objective.box(**params))
    for ax, setting in zip(flat, shown, strict=False):
        grid = max(40, min(BASIN_GRID, int(math.sqrt(BASIN_WORK / max(setting.iterations, 1)))))
        basins = basin_map(objective, params, setting, grid)
        ax.imshow(basins.classes + 2, origin="lower", cmap=cmap, vmin=-0.5,
                  vmax=len(colours) - 0.5, interpolation="nearest", aspect="auto",
                  extent=(low[0], high[0], low[1], high[1]))  # fmt: skip
        _mark_critical(ax, objective, params, labels=False)
        counts = basins.counts()
        total = grid * grid
        handles = [
            Patch(
                color=PALETTE[k % len(PALETTE)], label=f"{m.label}: {counts[m.label] / total:.0%}"
            )
            for k, m in enumerate(minima)
        ]
        for what, colour in (("none", NONE_COLOUR), ("diverged", DIVERGED_COLOUR)):
            if counts[what]:
                handles.append(Patch(color=colour, label=f"{what}: {counts[what] / total:.0%}"))
        ax.legend(handles=handles, fontsize=7, frameon=False, loc="upper left",
                  bbox_to_anchor=(0.0, -0.11), ncol=2)  # fmt: skip
        ax.set_title(setting.label(), loc="left", fontsize=8.5)
        ax.set_xlabel("x1 (start)", labelpad=1)
        ax.set_ylabel("x2 (start)")
    extra = f"; {len(settings) - len(shown)} more not shown" if len(settings) > len(shown) else ""
    fig.suptitle(
        f"{name}: which minimum each start reaches{_slice_note(objective, params)}{extra}",
        x=0.01, ha="left",
    )  # fmt: skip
    fig.tight_layout()
    return _save(plt, fig, out / f"{name}_basins.png")


def _restarts(
    plt: Any,
    name: str,
    objective: Objective,
    params: dict[str, Any],
    groups: list[Group],
    out: Path,
) -> Path | None:
    fig = restarts_figure(plt, name, objective, params, groups)
    return None if fig is None else _save(plt, fig, out / f"{name}_restarts.png")


def restarts_figure(
    plt: Any, name: str, objective: Objective, params: dict[str, Any], groups: Sequence[Group]
) -> Any:
    """The restarts figure (a matplotlib figure: one errorbar line per
    :func:`restarts_points` line), None where the objective knows no global minimum."""
    if not any(m.global_ for m in objective.minima(**params)):
        log.warning("restarts figure of %s not drawn: it declares no global minimum", name)
        return None
    lines = restarts_points([r for g in groups for r in g.rows])
    if not lines:
        return None
    values = sorted({p.restarts for pts in lines.values() for p in pts})
    log2 = values[0] > 0 and values[-1] / values[0] >= 4
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, (label, pts) in enumerate(lines.items()):
        dodge = (i - (len(lines) - 1) / 2) * 0.04  # side by side, not on top of one another
        x = np.array([p.restarts for p in pts], dtype=float)
        x = x * 2**dodge if log2 else x + dodge * max(1.0, values[-1] - values[0]) / 4
        rate = np.array([p.rate for p in pts])
        err = np.clip([[p.rate - p.low for p in pts], [p.high - p.rate for p in pts]], 0, None)
        colour = PALETTE[i % len(PALETTE)]
        ax.errorbar(x, rate, yerr=err, marker="o", capsize=3, lw=1.4, color=colour, label=label)
    if log2:
        ax.set_xscale("log", base=2)
    ax.set_xticks(values)
    ax.set_xticklabels([str(v) for v in values])
    ax.set_xlim(values[0] - 0.5 if not log2 else values[0] / 1.4,
                values[-1] + 0.5 if not log2 else values[-1] * 1.4)  # fmt: skip
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("restarts (starts drawn from the box; the best kept)")
    ax.set_ylabel("reached the global minimum (95% Wilson)")
    n = sum(p.n for pts in lines.values() for p in pts)
    ax.set_title(f"{name}: reaching the global minimum against restarts ({n} runs)", loc="left")
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False, fontsize=7.5, loc="upper left", bbox_to_anchor=(0.0, -0.14))
    return fig
