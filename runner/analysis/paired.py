"""Paired comparisons: two configurations that share their seeds and differ in one setting,
compared seed by seed.

A seed pairs two runs: seed s of A and seed s of B start from the same draw of initial weights
(or starts) wherever the setting leaves it alone, so "does momentum help?" is asked of the
same starting points. Each shared seed falls in one cell of four: both succeeded, only A, only
B, neither. Only the seeds where the two disagree, ``b`` (only A) and ``c`` (only B), say
which is better:

- **McNemar's exact test**: if A and B succeed alike, each disagreeing seed is A's or B's with
  probability 1/2, so the two-sided p-value is ``min(1, 2 P(X <= min(b, c)))`` for
  ``X ~ Binomial(b + c, 1/2)`` (1 when no seed disagrees);
- **the paired difference** of success rates, B minus A, ``(c - b) / n`` over the ``n``
  shared seeds, with the 95% interval of Agresti and Min (2005, "Simple improved confidence
  intervals for comparing matched proportions", Statistics in Medicine 24, 729-740): a half
  added to each of the four cells, then the Wald interval, clipped to [-1, 1].

With fewer than :data:`FEWEST_DISAGREEING` disagreeing seeds no split can reach p < 0.05 (five
seeds all one way give 2 / 2^5 = 0.0625): the verdict then says that these seeds cannot tell
the two apart, whatever the counts.

"Differ in one setting" is read from the runs' params: a part (the optimizer, the strategy,
...) is one setting with the parameters its plugins declare (gd against momentum is one
setting, the optimizer, though momentum has a parameter gd lacks), and every other param is a
setting of its own; the seed is what pairs, not a setting. Imports :mod:`runner.analysis`,
:mod:`runner.engine.settings` and :mod:`runner.plugin` (and matplotlib, lazily, in
:func:`draw`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.analysis.stats import Z95, Group, succeeded
from runner.engine.settings import PARTS

#: disagreeing seeds below this can never give p < 0.05 in McNemar's exact test
FEWEST_DISAGREEING = 6
#: the level below which a pair is said to differ
ALPHA = 0.05
#: the most pairs the terminal lists (all are in the JSON and the CSV)
SHOWN = 8
#: params that take no part in what a configuration is
NOT_SETTINGS = frozenset({"seed"})


def mcnemar_exact(b: int, c: int) -> float:
    """The two-sided p-value of McNemar's exact test for ``b`` and ``c`` disagreeing pairs."""
    m = b + c
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2.0**m
    return min(1.0, 2.0 * tail)


def paired_interval(both: int, only_a: int, only_b: int, neither: int) -> tuple[float, float]:
    """The 95% interval of the paired difference of success rates, B minus A (Agresti-Min)."""
    b, c = only_a + 0.5, only_b + 0.5
    n = both + only_a + only_b + neither + 2.0
    d = (c - b) / n
    se = math.sqrt(max(0.0, (b + c) - (c - b) ** 2 / n)) / n
    return max(-1.0, d - Z95 * se), min(1.0, d + Z95 * se)


@dataclass(frozen=True)
class Pair:
    """Two configurations compared seed by seed."""

    a: str  # the configurations' labels
    b: str
    setting: str  # what differs: a column, or a part with its plugins' parameters
    a_value: str
    b_value: str
    both: int
    only_a: int
    only_b: int
    neither: int

    @property
    def seeds(self) -> int:
        return self.both + self.only_a + self.only_b + self.neither

    @property
    def p(self) -> float:
        return mcnemar_exact(self.only_a, self.only_b)

    @property
    def difference(self) -> tuple[float, float, float]:
        """B's success rate minus A's over the shared seeds, with its 95% interval."""
        low, high = paired_interval(self.both, self.only_a, self.only_b, self.neither)
        return (self.only_b - self.only_a) / self.seeds, low, high

    def verdict(self) -> str:
        """What the comparison says, in words."""
        disagree = self.only_a + self.only_b
        if disagree < FEWEST_DISAGREEING:
            return (
                f"{self.seeds} seeds cannot tell them apart: "
                f"{'no seed disagrees' if not disagree else f'only {disagree} disagree'}"
                f"{'s' if disagree == 1 else ''}, and fewer than {FEWEST_DISAGREEING} "
                f"disagreeing never give p < {ALPHA:g}"
            )
        if self.p >= ALPHA:
            return f"no clear difference over {self.seeds} seeds (p = {self.p:.2g})"
        better = self.b_value if self.only_b > self.only_a else self.a_value
        return f"{self.setting} {better} succeeds more often (p = {self.p:.2g})"

    def to_json(self) -> dict[str, Any]:
        d, low, high = self.difference
        return {
            "a": self.a,
            "b": self.b,
            "setting": self.setting,
            "a_value": self.a_value,
            "b_value": self.b_value,
            "seeds": self.seeds,
            "both": self.both,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "neither": self.neither,
            "mcnemar_p": self.p,
            "difference": d,
            "difference_low": low,
            "difference_high": high,
            "verdict": self.verdict(),
        }


def pairs(groups: Sequence[Group], registry: Any = None) -> list[Pair]:
    """Every two of ``groups`` that share at least two seeds with an outcome and differ in one
    setting, in table order; ``registry`` says which parameters each plugin declares (the
    installed plugins' by default)."""
    if registry is None:
        from runner.plugin.registry import get_registry

        registry = get_registry()
    settings = [_settings(g) for g in groups]
    outcomes = [_by_seed(g) for g in groups]
    found: list[Pair] = []
    for i, a in enumerate(groups):
        for j in range(i + 1, len(groups)):
            shared = sorted(outcomes[i].keys() & outcomes[j].keys())
            mine, theirs = settings[i], settings[j]
            if len(shared) < 2 or mine is None or theirs is None:
                continue
            differing, own = _differing(mine, theirs, registry)
            if len(differing) != 1:
                continue
            (setting,) = differing
            cells = [(outcomes[i][s], outcomes[j][s]) for s in shared]
            found.append(
                Pair(
                    a=a.label,
                    b=groups[j].label,
                    setting=setting,
                    a_value=_shown(mine, setting, own),
                    b_value=_shown(theirs, setting, own),
                    both=sum(x and y for x, y in cells),
                    only_a=sum(x and not y for x, y in cells),
                    only_b=sum(y and not x for x, y in cells),
                    neither=sum(not x and not y for x, y in cells),
                )
            )
    return found


def _differing(
    mine: dict[str, str], theirs: dict[str, str], registry: Any
) -> tuple[set[str], set[str]]:
    """The settings two configurations differ in, and the params that go with a differing
    part: a parameter only one of its two plugins declares (momentum's ``momentum``, which gd
    lacks) is that part's, not a setting of its own; one both declare (``learning_rate``)
    is."""
    differing = {k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k)}
    own: set[str] = set()
    for part in differing & PARTS.keys():
        kind = PARTS[part]
        one = set(_declared(registry, kind, mine.get(part)))
        other = set(_declared(registry, kind, theirs.get(part)))
        own |= set(_keys(part, one ^ other))
    return differing - own, own


def _by_seed(group: Group) -> dict[int, bool]:
    """Each seed's outcome in ``group`` (seeds without one, or run twice, left out)."""
    seen: dict[int, list[bool]] = {}
    for row in group.rows:
        outcome = succeeded(row)
        if row.seed is not None and outcome is not None:
            seen.setdefault(row.seed, []).append(outcome)
    return {seed: o[0] for seed, o in seen.items() if len(o) == 1}


def _settings(group: Group) -> dict[str, str] | None:
    """A configuration's params without the seed; None when the group's runs do not agree on
    them (a ``--by`` group)."""
    params = {k: v for k, v in group.rows[0].params.items() if k not in NOT_SETTINGS}
    for row in group.rows[1:]:
        if {k: v for k, v in row.params.items() if k not in NOT_SETTINGS} != params:
            return None
    return params


def _declared(registry: Any, kind: str, name: str | None) -> tuple[str, ...]:
    try:
        return tuple(p.name for p in registry.get(kind, name).params)
    except Exception:  # a plugin no longer installed: its parameters stand on their own
        return ()


def _keys(part: str, names: Iterable[str]) -> list[str]:
    """The param keys a part's parameters are recorded under: bare, or qualified."""
    return [key for n in names for key in (n, f"{part}.{n}")]


def _shown(settings: dict[str, str], setting: str, own: set[str]) -> str:
    """A setting's value as the report says it: ``momentum (momentum=0.9)`` for a part, with
    the parameters that are its own."""
    value = settings.get(setting)
    if value is None:
        return "(unset)"
    params = [f"{k}={settings[k]}" for k in sorted(own) if k in settings]
    return f"{value} ({', '.join(params)})" if setting in PARTS and params else str(value)


def write_csv(found: Sequence[Pair], path: Path) -> Path:
    """The pairs as a CSV table, one row each (the columns of :meth:`Pair.to_json`)."""
    rows = [p.to_json() for p in found]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["a", "b"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def draw(plt: Any, found: Sequence[Pair], out: Path) -> Path | None:
    """``paired.png``: a panel per pair (the first 12), its shared seeds as one bar of the four
    cells (both succeeded, only A, only B, neither) and its verdict under it."""
    if not found:
        return None
    shown = list(found)[:12]
    cells = (
        ("both", "#1b7837", "both succeed"),
        ("only_a", "#2166ac", "only A"),
        ("only_b", "#ef8a62", "only B"),
        ("neither", "#c2185b", "neither"),
    )
    fig, axes = plt.subplots(len(shown), 1, figsize=(8.0, 0.6 + 1.25 * len(shown)), squeeze=False)
    for ax, pair in zip(axes[:, 0], shown, strict=True):
        left = 0
        for field, colour, label in cells:
            width = getattr(pair, field)
            ax.barh(0, width, left=left, color=colour, height=0.8, label=label)
            if width:
                ax.text(left + width / 2, 0, str(width), ha="center", va="center", fontsize=8,
                        color="white", fontweight="bold")  # fmt: skip
            left += width
        ax.set_xlim(0, pair.seeds)
        ax.set_ylim(-0.5, 0.5)
        ax.set_yticks([])
        ax.set_title(
            f"{pair.setting}: A {pair.a_value}  against  B {pair.b_value}  ({pair.seeds} seeds)",
            fontsize=8,
            loc="left",
        )
        d, low, high = pair.difference
        ax.set_xlabel(
            f"B - A {100 * d:+.0f}% [{100 * low:+.0f}% to {100 * high:+.0f}%], McNemar p = "
            f"{pair.p:.2g}: {pair.verdict()}",
            fontsize=7,
        )
        ax.tick_params(axis="x", labelsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=4, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - 0.35 / fig.get_figheight()))
    path = out / "paired.png"
    fig.savefig(path)
    plt.close(fig)
    return path


__all__ = ["Pair", "draw", "mcnemar_exact", "paired_interval", "pairs", "write_csv"]
