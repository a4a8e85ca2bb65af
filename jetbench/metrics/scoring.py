"""Score a task's predictions with the metrics its YAML names: values, binned values and the
bootstrap standard error of the main score.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.metrics.registry import METRICS, MetricInput, Prepared
from jetbench.metrics.vertexing import n_secondary_vertices

if TYPE_CHECKING:
    from jetbench.data.format import JetBatch
    from jetbench.metrics.predictions import Predictions
    from jetbench.tasks.spec import BinSpec, TaskSpec

N_BOOT = 200


class TaskScores(NamedTuple):
    """metrics {name: value}; binned {"<metric>@<variable>": {bin: value}}; stderr {main: se}."""

    metrics: dict[str, float]
    binned: dict[str, dict[str, float]]
    stderr: dict[str, float]


def metric_input(spec: TaskSpec, y_true: np.ndarray, scores: np.ndarray,
                 batch: JetBatch) -> MetricInput:
    """Check shapes against the task's head and wrap them for the metric functions."""
    from jetbench.tasks.spec import HEAD_KIND

    kind = HEAD_KIND[spec.head]
    y, s = np.asarray(y_true), np.asarray(scores, np.float64)
    n, p = batch.mask.shape
    expect = {"jet": ((n,), [(n,), (n, spec.n_classes)]),
              "track": ((n, p), [(n, p, spec.n_classes)]),
              "vertex": ((n, p), [(n, p, p)])}[kind]
    if y.shape != expect[0]:
        raise JetbenchError(f"task '{spec.name}': targets have shape {y.shape}, "
                            f"expected {expect[0]}")
    if s.shape not in expect[1]:
        raise JetbenchError(f"task '{spec.name}': predictions have shape {s.shape}, expected "
                            f"{' or '.join(map(str, expect[1]))}")
    if not np.all(np.isfinite(s)):
        raise JetbenchError(f"task '{spec.name}': predictions contain NaN or inf")
    return MetricInput(kind, y.astype(np.int64), s, spec.labels,
                       None if kind == "jet" else batch.mask)


def _prepare(spec: TaskSpec, name: str, inp: MetricInput) -> Prepared:
    ref = next(m for m in spec.metrics if m.name == name)
    metric = METRICS[name]
    return metric.prepare(inp, metric.parse_options(ref.options))


def bin_values(by: str, spec: TaskSpec, inp: MetricInput,
               batch: JetBatch) -> tuple[np.ndarray, Any]:
    """Per-jet value of a binning variable, and a function naming a bin."""
    from jetbench.data.format import dataset_info

    if by == "n_tracks":
        return batch.mask.sum(1), str
    if by == "n_sv":
        if batch.vtx_id is None:
            raise JetbenchError(f"task '{spec.name}': binning by n_sv needs vertex truth (vtx_id)")
        return n_secondary_vertices(batch.vtx_id, batch.mask), str
    labels = dataset_info(spec.dataset).labels
    return batch.labels.astype(np.int64), lambda i: labels[int(i)]


def _binned(spec: TaskSpec, b: BinSpec, inp: MetricInput, batch: JetBatch) -> dict[str, float]:
    values, name = bin_values(b.by, spec, inp, batch)
    bins = b.bins if b.bins is not None else np.unique(values)
    out = {}
    for v in bins:
        sel = values == v
        if not sel.any():
            continue
        x = _prepare(spec, b.metric, inp.subset(sel))(None)
        if np.isfinite(x):
            out[name(v)] = float(x)
    return out


def bootstrap_se(prepared: Prepared, n: int, n_boot: int = N_BOOT, seed: int = 0) -> float:
    """Standard deviation of a metric over `n_boot` resamples of the n jets (with replacement)."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n_boot):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        vals.append(prepared(counts))
    vals = np.asarray(vals, np.float64)
    vals = vals[np.isfinite(vals)]
    return float(np.std(vals, ddof=1)) if len(vals) > 1 else float("nan")


def score_task(task: str | TaskSpec, y_true: np.ndarray, scores: np.ndarray, batch: JetBatch,
               n_boot: int = N_BOOT, seed: int = 0) -> TaskScores:
    """All metrics of the task on a test split.

    y_true: what `jetbench.tasks.task_targets` returns for `batch`. scores: probabilities —
    jet tasks [N, C] (binary: [N] or [N, 2]); track tasks [N, P, C]; vertexing [N, P, P]
    same-vertex probabilities (entries i < j are read). Undefined values (e.g. an AUC with one
    class present) are left out, except the main score. `n_boot` = 0 skips the bootstrap.
    """
    from jetbench.tasks import get_task

    spec = get_task(task)
    inp = metric_input(spec, y_true, scores, batch)
    metrics: dict[str, float] = {}
    main_prepared = None
    for ref in spec.metrics:
        prepared = _prepare(spec, ref.name, inp)
        value = prepared(None)
        if ref.name == spec.main_score:
            main_prepared = prepared
            metrics[ref.name] = float(value)
        elif isinstance(value, dict):
            metrics.update({k: float(v) for k, v in value.items() if np.isfinite(v)})
        elif np.isfinite(value):
            metrics[ref.name] = float(value)
    binned = {f"{b.metric}@{b.by}": _binned(spec, b, inp, batch) for b in spec.binned}
    stderr = {}
    if n_boot > 0 and main_prepared is not None and len(inp) > 1:
        stderr[spec.main_score] = bootstrap_se(main_prepared, len(inp), n_boot, seed)
    return TaskScores(metrics, binned, stderr)


def score_predictions(spec: TaskSpec, preds: Predictions, n_boot: int = N_BOOT,
                      seed: int = 0) -> TaskScores:
    """`score_task` on a predictions file's stored values: what a cell reports, and what
    re-scoring the file gives (bit for bit)."""
    y, scores, view = preds.padded()
    return score_task(spec, y, scores, view, n_boot=n_boot, seed=seed)  # type: ignore[arg-type]
