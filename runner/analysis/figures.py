"""The figures of a study, as PNG files: where people would rather look than read.

- ``learning_curves.png``: the training loss by epoch per configuration, each run faint, the
  median and the 10-90% band over the runs (a run that stopped keeps its last value); where
  early stopping kept the weights of an earlier epoch, the curve ends where training stopped
  and a marker shows the kept weights' loss at their epoch; the title says when the curves are
  a sample (the first :data:`MAX_CURVES` seeds of a configuration);
- ``final_loss.png``: every run's final training loss per configuration on a log scale, a
  panel per cost (the learning curves share a scale only within one cost too), runs that
  succeeded and those that did not in two colours, so plateaus stand apart;
- ``decision_boundaries.png``: for two-dimensional inputs, each configuration's best and worst
  run (by final training loss) over the plane, with the training points, the data set's
  feature names on the axes and a colour bar of the network's output;
- ``success_vs_<column>.png``: the success rate against each swept numeric column, one line per
  combination of the other swept columns (one per optimizer, ...), the 95% Wilson intervals as
  error bars; drawn only where some line has two values of the column or more (a column that
  changes only with the optimizer is no axis to compare along);
- ``critical_points.png``: the critical-point classes per configuration and every tested run's
  curvature against its loss; where no run ended at a stationary point, one line says so in
  place of the classes (all "not stationary", they would say nothing);
- ``paired.png``: each paired comparison (:mod:`runner.analysis.paired`) as one bar of its
  seeds, both succeeded, only A, only B, neither, with its verdict;
- for the runs of analytic objectives, ``<objective>_contours.png``, ``<objective>_basins.png``
  and ``<objective>_restarts.png`` (:mod:`runner.analysis.landscapes`); the figures above show
  the networks' configurations only.

Every figure labels its series by :func:`runner.analysis.labels.distinct_labels`: cut to fit,
and never two alike where the names differ (only at their end, say). matplotlib (Agg, no
display) is imported inside :func:`draw_all` only. At most
:data:`MAX_GROUPS` configurations are drawn (the first, in table order). Imports
:mod:`runner.analysis`, :mod:`runner.engine` and :mod:`runner.plugin`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from runner.analysis.labels import distinct_labels
from runner.analysis.runs import RunRow
from runner.analysis.stats import Group, succeeded
from runner.engine.settings import PARTS

#: the most configurations one figure shows
MAX_GROUPS = 12
#: the most runs of one configuration whose curves are fetched and drawn (the first seeds)
MAX_CURVES = 50
#: the colours of solved and unsolved runs
SOLVED, UNSOLVED = "#1b7837", "#c2185b"
#: the colour of each critical-point class
CLASS_COLOURS = {
    "minimum": "#2166ac",
    "maximum": "#b2182b",
    "saddle": "#ef8a62",
    "degenerate": "#999999",
}


def draw_all(
    groups: Sequence[Group],
    out: Path,
    load: Callable[[str], Any] | None = None,
    pairs: Sequence[Any] = (),
) -> list[Path]:
    """Every figure that applies to ``groups``, written to the folder ``out``; their paths.
    ``load(run_id)`` gives a run's :class:`~runner.engine.trained.TrainedNetwork` (for the
    decision boundaries); ``pairs`` are the paired comparisons (:mod:`runner.analysis.paired`)
    drawn in ``paired.png``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from runner.analysis import landscapes, paired

    networks = [g for g in groups if not g.objective]
    shown = networks[:MAX_GROUPS]
    paths: list[Path] = []
    drawings: list[tuple[str, Callable[[], Any]]] = [
        ("learning curves", lambda: _learning_curves(plt, shown, out)),
        ("final loss", lambda: _final_loss(plt, shown, out)),
        ("critical points", lambda: _critical_points(plt, shown, out)),
        ("success against columns", lambda: _against_columns(plt, networks, out)),
        ("objectives", lambda: landscapes.draw(plt, groups, out)),
        ("paired comparisons", lambda: paired.draw(plt, pairs, out)),
    ]
    if load is not None:
        drawings.append(
            ("decision boundaries", lambda: _decision_boundaries(plt, shown, out, load))
        )
    with plt.rc_context({"figure.dpi": 110, "font.size": 9, "axes.titlesize": 9}):
        for what, draw in drawings:
            try:
                made = draw()
            except Exception as exc:  # one figure's problem leaves the others (and the table)
                logging.getLogger(__name__).warning("figure %s not drawn: %s", what, exc)
                plt.close("all")
                continue
            paths += made if isinstance(made, list) else [made] if made is not None else []
    return paths


def _grid(
    plt: Any, n: int, size: tuple[float, float] = (3.6, 2.7), sharey: bool = True
) -> tuple[Any, list[Any]]:
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False, sharey=sharey
    )
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _save(plt: Any, fig: Any, path: Path, title_inches: float = 0.0) -> Path:
    """Lay ``fig`` out (leaving ``title_inches`` at the top for its suptitle) and write it."""
    top = 1.0 - title_inches / fig.get_figheight() if title_inches else 1.0
    fig.tight_layout(rect=(0.0, 0.0, 1.0, top))
    fig.savefig(path)
    plt.close(fig)
    return path


def _trained(row: RunRow) -> tuple[list[int], list[float]] | None:
    """A run's loss curve as training went: without the last point of a run whose early
    stopping kept the weights of an earlier epoch (that point is the kept weights' loss, which
    :func:`_kept` draws apart)."""
    if not row.curve or not row.curve[0]:
        return None
    steps, values = row.curve
    if _kept(row) is not None and len(steps) > 1:
        return list(steps[:-1]), list(values[:-1])
    return list(steps), list(values)


def _kept(row: RunRow) -> tuple[float, float] | None:
    """``(epoch, loss)`` of the weights early stopping kept, where they are an earlier epoch's
    than the last one trained; None otherwise."""
    best = row.finals.get("best_epoch")
    loss = row.finals.get("train_loss")
    if not best or loss is None or not row.curve or not row.curve[0]:
        return None
    return (best, loss) if best < row.curve[0][-1] else None


def _curve_matrix(rows: list[RunRow]) -> tuple[np.ndarray, np.ndarray] | None:
    """Steps and a (runs, steps) matrix of losses; a stopped run keeps its last value."""
    curves = [c for c in map(_trained, rows) if c is not None]
    if not curves:
        return None
    steps = np.unique(np.concatenate([np.asarray(s) for s, _ in curves]))
    M = np.empty((len(curves), len(steps)))
    for i, (s, v) in enumerate(curves):
        idx = np.searchsorted(np.asarray(s), steps, side="right") - 1
        vals = np.asarray(v, dtype=float)
        M[i] = np.where(idx >= 0, vals[np.clip(idx, 0, None)], np.nan)
    return steps, M


def _learning_curves(plt: Any, groups: list[Group], out: Path) -> Path | None:
    mats = [(g, _curve_matrix(g.rows)) for g in groups]
    mats = [(g, m) for g, m in mats if m is not None]
    if not mats:
        return None
    costs = {g.cost for g, _ in mats}
    fig, axes = _grid(plt, len(mats), sharey=len(costs) == 1)  # one loss scale per cost only
    titles = distinct_labels([g.label for g, _ in mats], 34)  # what fits over a panel
    for ax, title, (group, (steps, M)) in zip(axes, titles, mats, strict=True):
        positive = np.where(M > 0, M, np.nan)
        for line in positive:
            ax.plot(steps, line, color="0.55", lw=0.5, alpha=min(0.5, 8 / len(M)))
        with np.errstate(all="ignore"):
            lo, med, hi = np.nanpercentile(positive, [10, 50, 90], axis=0)
        ax.fill_between(steps, lo, hi, color="#4393c3", alpha=0.3, lw=0, label="10-90%")
        ax.plot(steps, med, color="#053061", lw=1.8, label="median")
        kept = np.array([k for k in map(_kept, group.rows) if k is not None]).reshape(-1, 2)
        if len(kept):
            ax.scatter(kept[:, 0], kept[:, 1], marker="D", s=22, facecolors="none",
                       edgecolors="#b2182b", lw=1.1, zorder=3,
                       label="kept: best validation epoch")  # fmt: skip
        ax.set_yscale("log")
        ax.set_title(title, loc="left")
        ax.set_xlabel("epoch")
        ax.grid(True, which="major", alpha=0.3)
    for ax, (group, _) in zip(axes, mats, strict=True):
        if len(costs) > 1 or ax is axes[0]:
            ax.set_ylabel(f"training loss ({group.cost})" if group.cost else "training loss")
    axes[0].legend(loc="lower left", frameon=False)
    drawn = sum(len(m[1]) for _, m in mats)
    runs = sum(g.runs for g, _ in mats)
    said = f"{drawn} runs" if drawn == runs else f"a sample of {drawn} of {runs} runs"
    fig.suptitle(f"learning curves ({said})", x=0.01, ha="left")
    return _save(plt, fig, out / "learning_curves.png")


def _final_loss(plt: Any, groups: list[Group], out: Path) -> Path | None:
    """Every run's final training loss per configuration, one panel per cost, each with a
    scale of its own (losses of two costs are not comparable); a group pooling several costs
    (``--by``) is left out."""
    data = [
        (g, [(r.finals["train_loss"], succeeded(r)) for r in g.rows if "train_loss" in r.finals])
        for g in groups
        if g.cost != "mixed"
    ]
    data = [(g, pts) for g, pts in data if pts]
    if not data:
        return None
    costs = list(dict.fromkeys(g.cost for g, _ in data))
    widths = [sum(g.cost == c for g, _ in data) for c in costs]
    fig, axes = plt.subplots(
        1, len(costs), figsize=(max(5.0, 1.2 * len(data) + 2.5 * len(costs)), 4.2),
        squeeze=False, gridspec_kw={"width_ratios": widths},
    )  # fmt: skip
    rng = np.random.default_rng(0)  # the jitter only: the same picture every time
    labels = distinct_labels([g.name for g, _ in data], 30)
    for ax, cost in zip(axes[0], costs, strict=True):
        seen: set[str] = set()  # each panel's legend says what its colours are
        mine = [(g, pts) for g, pts in data if g.cost == cost]
        ticks = [t for (g, _), t in zip(data, labels, strict=True) if g.cost == cost]
        for i, (_, pts) in enumerate(mine):
            losses = np.array([max(p[0], 1e-12) for p in pts])
            ok = np.array([bool(p[1]) for p in pts])
            x = i + rng.uniform(-0.28, 0.28, len(pts))
            for mask, colour, name in (
                (ok, SOLVED, "succeeded"),
                (~ok, UNSOLVED, "did not succeed"),
            ):
                if mask.any():
                    ax.scatter(x[mask], losses[mask], s=12, color=colour, alpha=0.7, lw=0,
                               label=None if name in seen else name)  # fmt: skip
                    seen.add(name)
            ax.hlines(np.median(losses), i - 0.38, i + 0.38, color="black", lw=1.5)
        ax.set_yscale("log")
        ax.set_xlim(-0.6, len(mine) - 0.4)
        ax.set_xticks(range(len(mine)))
        ax.set_xticklabels(ticks, rotation=15, ha="right")
        ax.set_ylabel(f"final training loss, {cost} (log scale)")
        ax.grid(True, axis="y", which="major", alpha=0.3)
        ax.legend(frameon=False, loc="best")
    axes[0][0].set_title("final loss of every run (bar: median)", loc="left")
    return _save(plt, fig, out / "final_loss.png")


def _class_order(label: str) -> tuple[int, bool]:
    kind = label.split()[0]
    kinds = list(CLASS_COLOURS)
    return (kinds.index(kind) if kind in kinds else len(kinds), "not" in label)


def _critical_points(plt: Any, groups: list[Group], out: Path) -> Path | None:
    """Left: each configuration's classes as shares of its tested runs (hatched: not
    stationary). Then every tested run's final loss against its largest and its smallest
    Hessian eigenvalue, coloured by class, solved runs as dots and unsolved ones as crosses:
    the curvature that tells stuck runs apart. Where no tested run ended at a stationary point,
    the class panel (all hatched) says nothing: one line above the curvature says so instead."""
    counted = [(g, g.critical_points) for g in groups if g.critical_points]
    if not counted:
        return None
    labels = sorted({k for _, c in counted for k in c}, key=_class_order)
    if not any(not label.endswith("not stationary") for label in labels):
        fig, (scatter, smallest) = plt.subplots(1, 2, figsize=(10.0, 4.2))
        fig.suptitle("no run ended at a stationary point (its gradient had not vanished): none "
                     "is a minimum, saddle or maximum of the cost", x=0.01, ha="left")  # fmt: skip
        _curvature_panels(scatter, smallest, counted)
        return _save(plt, fig, out / "critical_points.png", title_inches=0.35)
    fig, (ax, scatter, smallest) = plt.subplots(1, 3, figsize=(14.0, 3.0 + 0.5 * len(counted)))
    y = np.arange(len(counted))[::-1]
    left = np.zeros(len(counted))
    for label in labels:
        kind = label.split()[0]
        n = np.array([c.get(label, 0) for _, c in counted])
        widths = n / np.array([sum(c.values()) for _, c in counted])
        hatch = "//" if "not stationary" in label else None
        bars = ax.barh(y, widths, left=left, color=CLASS_COLOURS.get(kind, "0.5"), hatch=hatch,
                       edgecolor="white", label=label)  # fmt: skip
        for bar, count in zip(bars, n, strict=True):
            if count and bar.get_width() > 0.06:
                x, y_mid = bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height() / 2
                ax.text(x, y_mid, str(count), ha="center", va="center", color="white",
                        fontsize=8, bbox={"facecolor": "black", "alpha": 0.3, "lw": 0})  # fmt: skip
        left += widths
    ax.set_yticks(y)
    ax.set_yticklabels(distinct_labels([g.name for g, _ in counted], 30))
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the tested runs (hatched: not stationary)")
    ax.set_title("critical-point class at the final weights", loc="left")
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2, fontsize=8)
    _curvature_panels(scatter, smallest, counted)
    return _save(plt, fig, out / "critical_points.png")


def _curvature_panels(scatter: Any, smallest: Any, counted: list[tuple[Group, Any]]) -> None:
    """Every tested run's final loss against its largest (``scatter``) and its smallest
    (``smallest``) Hessian eigenvalue, coloured by class, solved runs as dots, unsolved ones as
    crosses."""
    for panel, key, what in (
        (scatter, "hessian_max_eigenvalue", "largest"),
        (smallest, "hessian_min_eigenvalue", "smallest"),
    ):
        points: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        for g, _ in counted:
            for r in g.rows:
                lam, loss = r.finals.get(key), r.finals.get("train_loss")
                if r.critical_point is None or lam is None or loss is None:
                    continue
                point = (max(lam, 1e-12) if what == "largest" else lam, max(loss, 1e-12))
                points.setdefault((r.critical_point, bool(succeeded(r))), []).append(point)
        for (label, ok), pts in sorted(points.items(), key=lambda kv: _class_order(kv[0][0])):
            xy = np.array(pts)
            panel.scatter(xy[:, 0], xy[:, 1], s=18 if ok else 28, marker="o" if ok else "x",
                          color=CLASS_COLOURS.get(label.split()[0], "0.5"), alpha=0.75,
                          lw=0 if ok else 1.2,
                          label=f"{label}, {'solved' if ok else 'not solved'}")  # fmt: skip
        if what == "largest":
            panel.set_xscale("log")
        else:  # both signs: linear within 1e-6 of zero, logarithmic beyond
            panel.set_xscale("symlog", linthresh=1e-6)
            panel.axvline(0, color="black", lw=0.8)
        panel.set_yscale("log")
        panel.set_xlabel(f"{what} Hessian eigenvalue")
        panel.grid(True, which="major", alpha=0.3)
    scatter.set_ylabel("final training loss")
    scatter.set_title("curvature against loss, every tested run", loc="left")
    smallest.legend(frameon=False, fontsize=7, loc="best")


def _swept_numeric(groups: list[Group]) -> dict[str, list[str]]:
    """The columns whose values differ between groups and are all numbers (the seed aside)."""
    values: dict[str, set[str]] = {}
    for g in groups:
        first = g.rows[0]
        for key, value in first.params.items():
            values.setdefault(key, set()).add(value)
    out = {}
    for key, vals in values.items():
        if key == "seed" or len(vals) < 2:
            continue
        try:
            [float(v) for v in vals]
        except ValueError:
            continue
        out[key] = sorted(vals, key=float)
    return out


def _against_columns(plt: Any, groups: list[Group], out: Path) -> list[Path]:
    swept = _swept_numeric(groups)
    paths = []
    # the lines: one per combination of the other swept columns, the plugins' names first
    # ("optimizer=momentum, ..."), so that no line mixes step rules
    swept_all = sorted(_all_swept(groups), key=lambda k: (k not in PARTS, k))
    others_of = {key: [k for k in swept_all if k != key and k != "seed"] for key in swept}
    for key in swept:
        lines: dict[tuple[str, ...], list[tuple[float, Any]]] = {}
        for g in groups:
            s = g.success
            if s is None:
                continue
            first = g.rows[0]
            other = tuple(f"{k}={first.params.get(k)}" for k in others_of[key])
            lines.setdefault(other, []).append((float(first.params[key]), s))
        if not any(len({x for x, _ in pts}) > 1 for pts in lines.values()):
            continue  # no line runs along the column: it changes only with another one
        fig, ax = plt.subplots(figsize=(6.0, 4.0))
        values = [float(v) for v in swept[key]]
        log = min(values) > 0 and max(values) / min(values) >= 10
        span = (math.log10(max(values) / min(values)) if log else max(values) - min(values)) or 1
        for i, (other, pts) in enumerate(sorted(lines.items())):
            pts.sort(key=lambda p: p[0])
            dodge = (i - (len(lines) - 1) / 2) * 0.012 * span  # lines side by side, not on top
            x = np.array([p[0] for p in pts])
            x = x * 10**dodge if log else x + dodge
            rate = np.array([p[1][2] for p in pts])
            err = np.array([[p[1][2] - p[1][3] for p in pts], [p[1][4] - p[1][2] for p in pts]])
            err = np.clip(err, 0.0, None)
            ax.errorbar(x, rate, yerr=err, marker="o", capsize=3, label=", ".join(other) or None)
        ax.set_xlabel(key)
        if log:
            ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("success rate (95% Wilson interval)")
        ax.set_title(f"success against {key}", loc="left")
        ax.grid(True, alpha=0.3)
        if any(lines):
            ax.legend(frameon=False, fontsize=7)
        name = key.replace(".", "_").replace("/", "_")
        paths.append(_save(plt, fig, out / f"success_vs_{name}.png"))
    return paths


def _all_swept(groups: list[Group]) -> list[str]:
    values: dict[str, set[str]] = {}
    for g in groups:
        for key, value in g.rows[0].params.items():
            values.setdefault(key, set()).add(value)
    return sorted(k for k, v in values.items() if len(v) > 1)


def _points(row: RunRow) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]] | None:
    """The training data set's raw points, labels and feature names, rebuilt from the run's
    parameters."""
    try:
        from runner.plugin.registry import get_registry

        source = get_registry().get("dataset", row.params["dataset"])
        params = {
            k.split(".", 1)[1]: v
            for k, v in row.params.items()
            if k.startswith("dataset.") and not k.endswith("_sha256")
        }
        declared = {p.name: p for p in source.params}
        typed = {k: declared[k].type(v) if k in declared else v for k, v in params.items()}
        rng = np.random.default_rng(int(row.params.get("data_seed", 0)))
        data = source.load(rng, **source.resolve(typed))
        X, y = np.asarray(data.X, dtype=float), np.asarray(data.y)
        names = tuple(data.feature_names) if len(data.feature_names) == 2 else ("x1", "x2")
        return (X, y, names) if X.ndim == 2 and X.shape[1] == 2 else None
    except Exception:  # a data set that cannot be rebuilt here: the boundary alone
        return None


def _decision_boundaries(
    plt: Any, groups: list[Group], out: Path, load: Callable[[str], Any]
) -> Path | None:
    panels: list[tuple[str, RunRow, Any, Any]] = []
    shown = groups[:6]
    for g, label in zip(shown, distinct_labels([g.label for g in shown], 30), strict=True):
        done = [r for r in g.rows if r.status == "finished" and "train_loss" in r.finals]
        if not done:
            continue
        ordered = sorted(done, key=lambda r: r.finals["train_loss"])
        picks = [("best", ordered[0])] + ([("worst", ordered[-1])] if len(ordered) > 1 else [])
        for which, row in picks:
            try:
                net = load(row.run_id)
            except Exception:
                continue
            if net.n_in != 2 or net.task != "classification":
                return None
            panels.append((f"{label}\n{which}: seed {row.seed}, loss "
                           f"{row.finals['train_loss']:.3g}", row, net, _points(row)))  # fmt: skip
    if not panels:
        return None
    fig, axes = plt.subplots(
        math.ceil(len(panels) / 2), 2, figsize=(7.0, 3.2 * math.ceil(len(panels) / 2)),
        squeeze=False,
    )  # fmt: skip
    flat = list(axes.ravel())
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    shading = None
    for ax, (title, _row, net, pts) in zip(flat, panels, strict=False):
        names = pts[2] if pts is not None else ("x1", "x2")
        if pts is not None:
            X, y, _ = pts
            lo, hi = X.min(axis=0), X.max(axis=0)
        else:
            lo, hi = np.array([-1.0, -1.0]), np.array([2.0, 2.0])
        pad = 0.25 * np.maximum(hi - lo, 1e-9)
        gx, gy = np.meshgrid(
            np.linspace(lo[0] - pad[0], hi[0] + pad[0], 200),
            np.linspace(lo[1] - pad[1], hi[1] + pad[1], 200),
        )
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        outputs = net.predict(grid)
        field = outputs[:, 0] if outputs.shape[1] == 1 else outputs.argmax(axis=1)
        levels = (np.linspace(0, 1, 11) if outputs.shape[1] == 1
                  else np.arange(outputs.shape[1] + 1) - 0.5)  # fmt: skip
        shading = ax.contourf(gx, gy, field.reshape(gx.shape), levels=levels, cmap="RdBu_r",
                              alpha=0.6)  # fmt: skip
        if outputs.shape[1] == 1:
            ax.contour(gx, gy, field.reshape(gx.shape), levels=[0.5], colors="black", linewidths=1)
        if pts is not None:
            X, y, _ = pts
            n_classes = max(int(y.max()) + 1, outputs.shape[1], 2)
            ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", vmin=0, vmax=n_classes - 1,
                       edgecolors="black", s=28, lw=0.7)  # fmt: skip
        ax.set_title(title, loc="left", fontsize=8)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.tick_params(labelsize=7)
    fig.suptitle("decision boundaries, best and worst run (dots: training samples by class)",
                 x=0.01, ha="left")  # fmt: skip
    top = 1.0 - 0.45 / fig.get_figheight()
    fig.tight_layout(rect=(0.0, 0.0, 0.86, top))
    if shading is not None:  # one colour bar for every panel: what the shading means
        bar = fig.colorbar(shading, cax=fig.add_axes((0.89, 0.12, 0.025, top - 0.2)))
        if net.n_out == 1:
            bar.set_label("output: P(class 1); line at 0.5", fontsize=8)
        else:
            bar.set_label("the class predicted", fontsize=8)
            bar.set_ticks(range(net.n_out))
    fig.savefig(out / "decision_boundaries.png")
    plt.close(fig)
    return out / "decision_boundaries.png"
