"""Result JSONs -> leaderboard rows: mean +- std over seeds per (encoder, protocol, task, budget).

A row is one encoder under one protocol; its cells are the benchmark's (task, budget) pairs. The
rules that keep the table honest:
- only results of the benchmark's scale, tasks, protocols and budgets count (the rest are counted
  and named in the notes);
- a result whose task/protocol version or hash differs from the current definition is *stale*: a
  cell uses its current results only and falls back to stale ones (flagged) only when it has none;
- a cell needs `min_seeds` seeds; a row is complete only when every cell is, and only complete
  rows are ranked (mean rank over cells) - an incomplete row is shown but never averaged.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from jetbench.evaluation import Cell, Result
from jetbench.leaderboard.benchmarks import Benchmark, resolve_budgets
from jetbench.leaderboard.current import Definitions

OK, FEW_SEEDS, STALE, MISSING = "ok", "few-seeds", "stale", "missing"


@dataclass
class Entry:
    """One (task, budget) entry of a row: the cells of its seeds, aggregated."""

    task: str
    budget: int
    status: str = MISSING
    seeds: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    mean: float | None = None
    std: float | None = None  # sample std (ddof = 1); None for fewer than two seeds
    flags: list[str] = field(default_factory=list)
    # filled by `jetbench.leaderboard.noise` (standard error, significance; see its docs)
    se: float | None = None  # standard error of the seed mean
    se_test: float | None = None  # its test-set part
    se_seed: float | None = None  # its seed-spread part
    se_method: str = ""  # "bootstrap" (from predictions files), "stored" or "seeds" (fallbacks)
    group: int | None = None  # rank group in the column (1 = not told apart from the best)
    p_best: float | None = None  # adjusted p (Benjamini-Hochberg) vs the column's best row
    p_ref: float | None = None  # adjusted p vs the reference (random-init) row
    diff_ref: float | None = None  # mean - reference mean over common seeds
    # the results behind `seeds` and their JSON paths (not written to the summary)
    results: list[Result] = field(default_factory=list, repr=False)
    paths: list[Path | None] = field(default_factory=list, repr=False)

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("results", "paths")}


@dataclass
class Row:
    encoder: str
    protocol: str
    cells: dict[tuple[str, int], Entry]
    revisions: list[str] = field(default_factory=list)
    n_params: int | None = None
    mean_rank: float | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(c.status == OK for c in self.cells.values())

    @property
    def status(self) -> str:
        if self.complete:
            return "complete"
        counts = Counter(c.status for c in self.cells.values() if c.status != OK)
        parts = [f"{counts[s]} {s}" for s in (MISSING, FEW_SEEDS, STALE) if counts[s]]
        return "incomplete (" + ", ".join(parts) + ")"


@dataclass
class Leaderboard:
    benchmark: Benchmark
    columns: list[tuple[str, int]]  # (task, budget) in benchmark order
    main_scores: dict[str, str]  # task -> main score name
    rows: list[Row]
    notes: list[str]
    n_results: int  # results read
    n_used: int  # results inside the benchmark grid
    reference: str = "scratch"  # encoder whose row (same protocol) is the random-init reference
    alpha: float = 0.05  # significance level of the rank groups and marks
    significance: set[tuple[str, int]] = field(default_factory=set)  # columns with paired tests
    working_points: list[dict[str, Any]] = field(default_factory=list)  # see noise/roc modules

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (also what the HTML page embeds)."""
        return {
            "benchmark": self.benchmark.model_dump(mode="json"),
            "columns": [{"task": t, "budget": b, "main_score": self.main_scores.get(t, "")}
                        for t, b in self.columns],
            "rows": [{
                "encoder": r.encoder, "protocol": r.protocol, "revisions": r.revisions,
                "n_params": r.n_params, "mean_rank": r.mean_rank, "status": r.status,
                "complete": r.complete, "flags": r.flags,
                "cells": [r.cells[c].to_dict() for c in self.columns],
            } for r in self.rows],
            "notes": self.notes, "n_results": self.n_results, "n_used": self.n_used,
            "reference": self.reference, "alpha": self.alpha,
            "significance": [{"task": t, "budget": b} for t, b in self.columns
                             if (t, b) in self.significance],
            "working_points": self.working_points,
        }


def staleness(r: Result, defs: Definitions) -> list[str]:
    """Why `r` was measured under a different task/protocol definition than the current one."""
    out = []
    for kind, name, version, got_hash, table in (
        ("task", r.task, r.task_version, r.provenance.task_hash, defs.tasks),
        ("protocol", r.protocol, r.protocol_version, r.provenance.protocol_hash, defs.protocols),
    ):
        cur = table.get(name)
        if cur is None:
            continue
        if version != cur.version:
            out.append(f"{kind} {name} v{version} (current v{cur.version})")
        elif not cur.is_current(got_hash, r.budget):
            out.append(f"{kind} {name} hash {got_hash[:10]} (current {cur.hash_for(r.budget)[:10]})")
    return out


def _fill_cell(cell: Entry, results: list[Result], defs: Definitions, min_seeds: int,
               paths: dict[int, Path]) -> None:
    by_cell: dict[Cell, list[Result]] = defaultdict(list)  # the entry's results, one cell per seed
    for r in results:
        by_cell[r.cell].append(r)
    current, stale = [], []
    for key in sorted(by_cell, key=lambda c: c.seed):
        group = sorted(by_cell[key], key=lambda r: r.created)
        if len(group) > 1:
            cell.flags.append(f"seed {key.seed}: {len(group)} results, kept the newest")
        fresh = [r for r in group if not staleness(r, defs)]
        (current if fresh else stale).append(fresh[-1] if fresh else group[-1])
    use = current or stale
    if stale and current:
        cell.flags.append(f"ignored {len(stale)} stale seed(s)")
    if not current and stale:
        cell.flags.extend(sorted({s for r in stale for s in staleness(r, defs)}))
    for r in use:
        value = r.metrics.get(r.main_score)
        if value is None or not math.isfinite(value):
            cell.flags.append(f"seed {r.seed}: main score '{r.main_score}' is "
                              f"{'missing' if value is None else value}")
            continue
        cell.seeds.append(r.seed)
        cell.scores.append(float(value))
        cell.results.append(r)
        cell.paths.append(paths.get(id(r)))
    if not cell.scores:
        cell.status = MISSING
        return
    arr = np.asarray(cell.scores)
    cell.mean = float(arr.mean())
    cell.std = float(arr.std(ddof=1)) if arr.size > 1 else None
    if not current:
        cell.status = STALE
    else:
        cell.status = OK if arr.size >= min_seeds else FEW_SEEDS
    json_error(cell)


def json_error(cell: Entry) -> None:
    """SE from the result JSONs alone: the mean stored per-seed bootstrap error (test set) and the
    seed spread, SE^2 = se_stored^2 + s^2/S ('stored'; 'seeds' when no error is stored).

    Without resamples shared by the seeds, the test-jet noise inside the seed spread cannot be
    taken out, so this counts it twice and errs on the large side. `noise.annotate` replaces it
    with the bootstrap SE wherever predictions files exist.
    """
    if cell.mean is None:
        return
    var_seed = cell.std ** 2 / cell.n_seeds if cell.std is not None else None
    stored = [r.stderr.get(r.main_score) for r in cell.results]
    cell.se_test = None
    cell.se_method = "seeds"
    if stored and all(s is not None and math.isfinite(s) for s in stored):
        cell.se_test, cell.se_method = float(np.mean(stored)), "stored"
    cell.se_seed = None if var_seed is None else math.sqrt(var_seed)
    if cell.se_test is None and var_seed is None:
        cell.se = None
    else:
        cell.se = math.sqrt((cell.se_test or 0.0) ** 2 + (var_seed or 0.0))


def _rank(rows: list[Row], columns: list[tuple[str, int]]) -> None:
    """Mean rank over cells among complete rows (rank 1 = best; main scores are higher-better)."""
    complete = [r for r in rows if r.complete]
    if not complete or not columns:
        return
    ranks = np.zeros((len(complete), len(columns)))
    for j, col in enumerate(columns):
        means = np.array([r.cells[col].mean for r in complete], dtype=float)
        # average rank for ties: count strictly better + half the other equal ones
        ranks[:, j] = [1 + (means > m).sum() + 0.5 * ((means == m).sum() - 1) for m in means]
    for r, rr in zip(complete, ranks.mean(axis=1), strict=True):
        r.mean_rank = float(rr)


def aggregate(results: list[Result], bench: Benchmark, defs: Definitions,
              paths: Sequence[Path | None] | None = None) -> Leaderboard:
    """Build the leaderboard of `bench` from `results`, judged against the definitions `defs`.

    `paths` (parallel to `results`) are the JSON files, kept on each cell so its predictions
    files can be found next to them.
    """
    where = {id(r): p for r, p in zip(results, paths or [], strict=False) if p is not None}
    budgets, notes = resolve_budgets(bench, defs)
    notes = list(defs.notes) + notes
    columns = [(t, b) for t in bench.tasks for b in budgets[t]]
    colset = set(columns)
    grid: dict[tuple[str, str], dict[tuple[str, int], list[Result]]] = defaultdict(
        lambda: defaultdict(list))
    outside: Counter[str] = Counter()
    for r in results:
        if r.scale != bench.scale:
            outside[f"scale {r.scale}"] += 1
        elif r.protocol not in bench.protocols:
            outside[f"protocol {r.protocol}"] += 1
        elif r.task not in bench.tasks:
            outside[f"task {r.task}"] += 1
        elif (r.task, r.budget) not in colset:
            outside[f"{r.task} budget {r.budget}"] += 1
        else:
            grid[(r.encoder, r.protocol)][(r.task, r.budget)].append(r)
    if outside:
        notes.append(f"{sum(outside.values())} result(s) outside the benchmark grid, not used: "
                     + ", ".join(f"{k} ({v})" for k, v in sorted(outside.items())))
    main_scores: dict[str, Counter[str]] = defaultdict(Counter)
    rows = []
    for (encoder, protocol), cells_in in sorted(grid.items()):
        row = Row(encoder, protocol, {c: Entry(*c) for c in columns})
        used = [r for rs in cells_in.values() for r in rs]
        row.revisions = sorted({r.encoder_revision for r in used})
        if len(row.revisions) > 1:
            row.flags.append("mixed encoder revisions: " + ", ".join(row.revisions))
        row.n_params = max(r.n_params for r in used)
        for col, rs in cells_in.items():
            _fill_cell(row.cells[col], rs, defs, bench.min_seeds, where)
            main_scores[col[0]].update(r.main_score for r in rs)
        rows.append(row)
    for task, counter in main_scores.items():
        if len(counter) > 1:
            notes.append(f"task '{task}': results disagree on the main score "
                         f"({', '.join(sorted(counter))}); each cell uses its own")
    _rank(rows, columns)
    rows.sort(key=lambda r: (not r.complete, r.mean_rank if r.mean_rank is not None else 0.0,
                             -sum(c.status == OK for c in r.cells.values()), r.encoder, r.protocol))
    scores = {t: d.main_score for t, d in defs.tasks.items() if d.main_score}
    scores.update({t: c.most_common(1)[0][0] for t, c in main_scores.items()})
    n_used = sum(len(v) for g in grid.values() for v in g.values())
    return Leaderboard(bench, columns, scores, rows, notes, len(results), n_used)
