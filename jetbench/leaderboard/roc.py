"""ROC curves and working points from saved predictions, drawn the way HEP papers draw them.

Which curves a task has follows its metrics: a `rejection` metric (JetClass) gives each class
against the background class with the discriminant p_c / (p_c + p_bkg); `btag_rejection` gives
b against light and b against c with the task's discriminant; any other binary jet task gives
class 1 against class 0. Track and vertex tasks have no jet-level ROC curve here.

The working-point table is the background rejection 1/εB at εS = 30 / 50 / 70 %: mean over seeds
± the standard error of `significance.combined_error` (bootstrap over test jets + seed spread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jetbench.leaderboard.resample import RocStat, resample_counts
from jetbench.leaderboard.significance import combined_error
from jetbench.metrics import classification as cl
from jetbench.metrics.predictions import Predictions

WORKING_POINTS = (0.3, 0.5, 0.7)
CURVE_GRID = np.round(np.linspace(0.02, 1.0, 50), 4)  # signal efficiencies drawn
MIN_BACKGROUND = 5  # curves are drawn only where at least this many background jets pass


@dataclass(frozen=True)
class CurveSpec:
    """One binary problem: its jets and discriminant, from a task's class probabilities."""

    name: str  # "Hbb vs QCD"
    signal: int
    background: int
    discriminant: Callable[[np.ndarray], np.ndarray]  # scores of the selected jets -> [n]

    def problem(self, preds: Predictions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(jet rows, is_signal, discriminant) of the jets in this problem."""
        y, s = preds.y, preds.scores.astype(np.float64)
        rows = np.flatnonzero((y == self.signal) | (y == self.background))
        return rows, y[rows] == self.signal, self.discriminant(s[rows])


def _ratio(sig: int, bkg: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda s: cl.ratio_score(s, sig, bkg)


def _db(b: int, c: int, light: int, f_c: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda s: cl.db_score(s, b, c, light, f_c)


def curve_specs(labels: tuple[str, ...], metrics: list[tuple[str, dict[str, Any]]],
                kind: str = "jet") -> list[CurveSpec]:
    """The ROC curves of a task with class names `labels` and metrics [(name, options)]."""
    if kind != "jet":
        return []
    names = {m for m, _ in metrics}
    opts = dict(metrics)
    if "rejection" in names:
        bkg = labels.index(opts["rejection"].get("background", "QCD"))
        return [CurveSpec(f"{lab} vs {labels[bkg]}", c, bkg, _ratio(c, bkg))
                for c, lab in enumerate(labels) if c != bkg]
    if "btag_rejection" in names and {"b", "c", "light"} <= set(labels):
        o = opts["btag_rejection"]
        b, c, light = (labels.index(x) for x in ("b", "c", "light"))
        out = []
        for other in (light, c):
            fn = (_db(b, c, light, float(o.get("f_c", 0.05)))
                  if o.get("discriminant", "ratio") == "db" else _ratio(b, other))
            out.append(CurveSpec(f"b vs {labels[other]}", b, other, fn))
        return out
    if len(labels) == 2:
        return [CurveSpec(f"{labels[1]} vs {labels[0]}", 1, 0, cl.positive_score)]
    return []


@dataclass
class RowCurve:
    """Seed-averaged rejection of one leaderboard row on one curve, for the ROC plot."""

    encoder: str
    protocol: str
    curve: str
    eff: np.ndarray
    rejection: np.ndarray  # mean over seeds of 1/εB at `eff`; NaN where < MIN_BACKGROUND pass
    n_seeds: int


@dataclass
class ColumnCurves:
    """Everything the ROC plot and working-point table of one (task, budget) column need."""

    task: str
    budget: int
    curves: list[str]
    rows: list[RowCurve] = field(default_factory=list)
    table: list[dict[str, Any]] = field(default_factory=list)  # working-point entries


def column_curves(task: str, budget: int, specs: list[CurveSpec],
                  rows: list[tuple[str, str, list[int], list[Predictions]]],
                  n_boot: int, seed: int) -> ColumnCurves:
    """ROC curves and the working-point table of one column.

    `rows`: (encoder, protocol, seeds, predictions per seed), all on the same test jets. One
    bootstrap (shared by every row, seed and curve) gives each table entry its test-set error.
    """
    out = ColumnCurves(task, budget, [c.name for c in specs])
    if not rows or not specs:
        return out
    n = len(rows[0][3][0])
    stats: list[tuple[int, int, RocStat]] = []  # (row, curve, stat) per seed, in order
    n_bkg: dict[int, int] = {}
    for i, (_, _, _, preds) in enumerate(rows):
        for k, spec in enumerate(specs):
            for p in preds:
                jets, is_sig, disc = spec.problem(p)
                stats.append((i, k, RocStat(is_sig, disc, jets)))
                n_bkg[k] = int(np.sum(~is_sig))
    one = np.ones((1, n))
    values = np.stack([st.rejection(one, WORKING_POINTS)[0] for _, _, st in stats])  # [M, E]
    drawn = np.stack([st.rejection(one, CURVE_GRID)[0] for _, _, st in stats])
    boot = [[] for _ in stats]
    for w in resample_counts(n, n_boot, seed):
        for m, (_, _, st) in enumerate(stats):
            boot[m].append(st.rejection(w, WORKING_POINTS))
    boots = [np.concatenate(b, axis=0) for b in boot]  # [B, E] each
    m = 0
    for encoder, protocol, seeds, preds in rows:
        for k, spec in enumerate(specs):
            sel = list(range(m, m + len(preds)))
            m += len(preds)
            mean = drawn[sel].mean(0)
            # below a few passing background jets 1/εB is counting noise (and then the floor 1/N_B)
            mean = np.where(mean <= n_bkg[k] / MIN_BACKGROUND, mean, np.nan)
            out.rows.append(RowCurve(encoder, protocol, spec.name, CURVE_GRID, mean, len(preds)))
            for e, eff in enumerate(WORKING_POINTS):
                err = combined_error(values[sel, e], np.stack([boots[j][:, e] for j in sel]))
                out.table.append({"task": task, "budget": budget, "curve": spec.name,
                                  "encoder": encoder, "protocol": protocol, "eff": eff,
                                  "mean": err.estimate, "se": err.se, "seeds": list(seeds)})
    return out
