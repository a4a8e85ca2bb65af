"""Standard errors, rank groups and significance marks for an aggregated leaderboard.

For each (task, budget) column the cells' predictions files are loaded, each seed's main score
becomes a resampling statistic (`resample.metric_stat`), and one seeded bootstrap over the test
jets - the same resamples for every row and seed - gives every cell its standard error and every
pair of rows a paired test (`significance`). Cells whose results have no predictions file (made
before they were kept), or whose files are missing, changed or scored on other test jets, still
get a standard error from what their JSONs hold, but no rank group or marks; the notes say which.

Stated bounds (checked for every cell; misses are listed in the notes): SE <= 0.005 absolute for
accuracy, balanced accuracy and ARI scores; SE <= 5 % of the mean for SIC and rejections.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import hash_arrays, hash_json
from jetbench.leaderboard.aggregate import OK, STALE, Entry, Leaderboard, Row
from jetbench.leaderboard.predictions import load_predictions
from jetbench.leaderboard.resample import Stat, metric_stat, resample_counts
from jetbench.leaderboard.roc import ColumnCurves, column_curves, curve_specs
from jetbench.leaderboard.significance import (
    Replicates,
    adjust,
    cell_error,
    paired_test,
    rank_groups,
)
from jetbench.metrics.predictions import Predictions
from jetbench.tasks import get_task

N_BOOT = 1000  # main scores: the SE of an SE from 1000 resamples is ~2 %
N_BOOT_WP = 200  # working points (many curves x rows x seeds): the SE to ~5 %
ABSOLUTE_BOUND = 0.005
RELATIVE_BOUND = 0.05
ABSOLUTE = ("accuracy", "balanced_accuracy", "ari", "edge_ari")
RELATIVE = ("sic", "max_sic", "rej", "rejection")


def se_bound(metric: str, mean: float) -> tuple[float, str] | None:
    """(largest allowed SE, how it is stated) for a main score, or None when none is stated."""
    if metric in ABSOLUTE:
        return ABSOLUTE_BOUND, f"{ABSOLUTE_BOUND} absolute"
    if metric in RELATIVE or "rej" in metric:
        return RELATIVE_BOUND * abs(mean), f"{RELATIVE_BOUND:.0%} relative"
    return None


@dataclass
class Loaded:
    """A cell whose every seed has a verified predictions file."""

    row: Row
    cell: Entry
    preds: list[Predictions]


def _load_cell(cell: Entry) -> tuple[list[Predictions] | None, str]:
    """The cell's predictions per seed, or None and why ("": none recorded, the common case of
    results made before predictions were kept, which the notes count instead of flagging)."""
    if not cell.results or any(r.predictions is None or p is None
                               for r, p in zip(cell.results, cell.paths, strict=True)):
        return None, ""
    try:
        return [load_predictions(p, r) for r, p in zip(cell.results, cell.paths, strict=True)], ""
    except JetbenchError as err:
        return None, str(err)


def _test_set(p: Predictions) -> str:
    arrays = {"jet_index": p.jet_index, "y": p.y}
    if p.mask is not None:
        arrays["mask"] = p.mask
    return hash_arrays(arrays)


def load_column(lb: Leaderboard, col: tuple[str, int]) -> list[Loaded]:
    """Cells of a column with predictions on one common test set (the others get a flag)."""
    loaded = []
    for row in lb.rows:
        cell = row.cells[col]
        preds, why = _load_cell(cell)
        if preds is None:
            if why:
                cell.flags.append(f"no significance: {why}")
            continue
        loaded.append(Loaded(row, cell, preds))
    keys = Counter(_test_set(p) for x in loaded for p in x.preds)
    if len(keys) > 1:
        common = keys.most_common(1)[0][0]
        same = [all(_test_set(p) == common for p in x.preds) for x in loaded]
        for x, ok in zip(loaded, same, strict=True):
            if not ok:
                x.cell.flags.append("no significance: scored on other test jets than the rest "
                                    "of the column")
        loaded = [x for x, ok in zip(loaded, same, strict=True) if ok]
    return loaded


def _task_metrics(task: str) -> tuple[list[tuple[str, dict[str, Any]]], str] | None:
    try:
        spec = get_task(task)
    except (JetbenchError, KeyError, ValueError):
        return None
    return [(m.name, dict(m.options or {})) for m in spec.metrics], spec.main_score


def _replicates(loaded: list[Loaded], metric: str, options: dict[str, Any], n_boot: int,
                seed: int) -> list[Replicates | None]:
    """Per cell: per-seed scores and their values on the column's shared bootstrap resamples.

    A cell whose re-scored predictions do not give its JSON's score gets None (and a flag).
    """
    stats: list[list[Stat] | None] = []
    for x in loaded:
        per_seed = []
        for p, stored in zip(x.preds, x.cell.scores, strict=True):
            st = metric_stat(metric, p.metric_input(), options)
            got = float(st(np.ones((1, len(p))))[0])
            if not math.isclose(got, stored, rel_tol=1e-9, abs_tol=1e-12):
                per_seed = None
                x.cell.flags.append(f"no significance: {metric} re-scored from the predictions "
                                    f"file is {got!r}, the JSON says {stored!r}")
                break
            per_seed.append(st)
        stats.append(per_seed)
    if not any(stats):
        return [None] * len(loaded)
    n = len(next(x for x, s in zip(loaded, stats, strict=True) if s).preds[0])
    boot: list[list[list[np.ndarray]]] = [[[] for _ in (s or [])] for s in stats]
    for w in resample_counts(n, n_boot, seed):
        for i, per_seed in enumerate(stats):
            for k, st in enumerate(per_seed or []):
                boot[i][k].append(st(w))
    reps: list[Replicates | None] = []
    for x, per_seed, b in zip(loaded, stats, boot, strict=True):
        reps.append(None if not per_seed else Replicates(
            tuple(x.cell.seeds), np.asarray(x.cell.scores, np.float64),
            np.stack([np.concatenate(v) for v in b])))
    return reps


def column_seed(task: str, budget: int, seed: int) -> int:
    """The bootstrap seed of a column: fixed by (task, budget, seed), so rebuilds agree."""
    return int(hash_json([task, budget, seed]), 16) % (2 ** 32)


def _significance(lb: Leaderboard, col: tuple[str, int], cells: list[tuple[Row, Entry]],
                  reps: list[Replicates]) -> None:
    means = [c.mean for _, c in cells]
    cache: dict[tuple[int, int], Any] = {}

    def compare(i: int, j: int):
        if (i, j) not in cache:
            cache[(i, j)] = paired_test(reps[i], reps[j])
        return cache[(i, j)]

    groups, p_best = rank_groups(means, compare, lb.alpha)
    for (_, c), g, p in zip(cells, groups, p_best, strict=True):
        c.group, c.p_best = g, float(p)
    refs = {r.protocol: i for i, (r, _) in enumerate(cells) if r.encoder == lb.reference}
    tests = [(i, compare(i, refs[r.protocol])) for i, (r, _) in enumerate(cells)
             if r.protocol in refs and refs[r.protocol] != i]
    adjusted = adjust([t.p if t is not None else math.nan for _, t in tests])
    for (i, t), p in zip(tests, adjusted, strict=True):
        if t is not None:
            cells[i][1].p_ref, cells[i][1].diff_ref = float(p), t.diff
    lb.significance.add(col)


def _bound_notes(lb: Leaderboard, col: tuple[str, int]) -> list[str]:
    metric = lb.main_scores.get(col[0], "")
    misses, stated = [], ""
    for r in lb.rows:
        c = r.cells[col]
        if c.se is None or c.mean is None:
            continue
        bound = se_bound(metric, c.mean)
        if bound is None:
            return []
        stated = bound[1]
        if c.se > bound[0]:
            rel = f" ({c.se / abs(c.mean):.0%})" if "relative" in stated and c.mean else ""
            misses.append(f"{r.encoder}/{r.protocol} {c.se:.3g}{rel}")
    if not misses:
        return []
    return [f"{col[0]} {metric} @{col[1]}: standard error above the stated bound ({stated}) in "
            f"{len(misses)} cell(s): " + ", ".join(misses)]


def chance_level(metric: str, options: dict[str, Any], preds: Predictions) -> float | None:
    """The main score of a classifier that ignores its input (the plots' dotted line).

    accuracy: always the most common class; balanced accuracy: 1/classes; ARI and AUC: their
    chance-corrected zero and 0.5; SIC at FPR f: sqrt(f) (TPR = FPR); max SIC: 1.
    """
    y = preds.y[preds.y >= 0] if preds.kind != "vertex" else None
    if metric == "accuracy" and y is not None and len(y):
        counts = np.bincount(y)
        return float(counts.max() / counts.sum())
    if metric == "balanced_accuracy" and y is not None and len(y):
        return 1.0 / len(np.unique(y))
    fixed = {"ari": 0.0, "edge_ari": 0.0, "auc": 0.5, "macro_auc": 0.5, "max_sic": 1.0,
             "sic": math.sqrt(float(options.get("fpr", 0.01)))}
    return fixed.get(metric)


@dataclass
class Annotations:
    """What the figures need beyond the table: ROC data per column and chance level per task."""

    curves: dict[tuple[str, int], ColumnCurves]
    chance: dict[str, float]


def _annotate_column(lb: Leaderboard, col: tuple[str, int], n_boot: int, n_boot_wp: int,
                     seed: int, chance: dict[str, float]) -> tuple[int, ColumnCurves | None]:
    """SEs, significance and ROC data of one column; returns (cells without bootstrap, curves)."""
    task, budget = col
    loaded = load_column(lb, col)
    known = _task_metrics(task)
    metric = lb.main_scores.get(task, "")
    options = dict(known[0]).get(metric, {}) if known else {}
    if loaded and task not in chance:
        level = chance_level(metric, options, loaded[0].preds[0])
        if level is not None:
            chance[task] = level
    reps: list[Replicates | None] = [None] * len(loaded)
    if loaded and known is not None:
        reps = _replicates(loaded, metric, options, n_boot, column_seed(task, budget, seed))
    for x, rep in zip(loaded, reps, strict=True):
        if rep is not None:
            err = cell_error(rep)
            x.cell.se, x.cell.se_test, x.cell.se_seed = err.se, err.se_test, err.se_seed
            x.cell.se_method = "bootstrap"
    ranked = [(x.row, x.cell, rep) for x, rep in zip(loaded, reps, strict=True)
              if rep is not None and x.cell.status == OK]
    if len(ranked) >= 2:
        _significance(lb, col, [(r, c) for r, c, _ in ranked], [rep for _, _, rep in ranked])
    lb.notes.extend(_bound_notes(lb, col))
    n_json = sum(r.cells[col].mean is not None and r.cells[col].se_method != "bootstrap"
                 for r in lb.rows)
    if known is None or not loaded:
        return n_json, None
    specs = curve_specs(loaded[0].preds[0].labels, known[0], loaded[0].preds[0].kind)
    rows = [(x.row.encoder, x.row.protocol, x.cell.seeds, x.preds) for x in loaded
            if x.cell.status != STALE]
    cc = column_curves(task, budget, specs, rows, n_boot_wp, column_seed(task, budget, seed + 1))
    return n_json, (cc if cc.rows else None)


def annotate(lb: Leaderboard, n_boot: int = N_BOOT, n_boot_wp: int = N_BOOT_WP,
             seed: int = 0) -> Annotations:
    """Fill every cell's SE, rank group and p-values; return the columns' ROC data.

    Deterministic: the resamples of a column depend only on (task, budget, seed).
    """
    curves: dict[tuple[str, int], ColumnCurves] = {}
    chance: dict[str, float] = {}
    n_json = 0
    for col in lb.columns:
        n, cc = _annotate_column(lb, col, n_boot, n_boot_wp, seed, chance)
        n_json += n
        if cc is not None:
            curves[col] = cc
            lb.working_points.extend(cc.table)
    if n_json:
        lb.notes.append(f"{n_json} cell(s) without (usable) predictions files: SE from the result "
                        "JSONs (stored per-seed bootstrap error + seed spread), no rank group or "
                        "marks")
    return Annotations(curves, chance)
