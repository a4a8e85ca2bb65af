"""Score predictions with a list of metrics: values, binned values and the bootstrap standard
error of the main score. Which metrics, which main score and which bins a task wants is the
task's business (`jetbench.tasks.score_task` calls `score` with them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.data.format import JetBatch
from jetbench.metrics.registry import METRICS, MetricInput, Prepared
from jetbench.metrics.vertexing import n_secondary_vertices

N_BOOT = 200


class MetricUse(Protocol):
    """A metric named with its options (a task's `metrics:` entry)."""

    name: str
    options: Mapping[str, Any]


class BinUse(Protocol):
    """A metric recomputed per value of a jet variable (a task's `binned:` entry)."""

    metric: str
    by: str
    bins: tuple[int, ...] | None


class TaskScores(NamedTuple):
    """metrics {name: value}; binned {"<metric>@<variable>": {bin: value}}; stderr {main: se}."""

    metrics: dict[str, float]
    binned: dict[str, dict[str, float]]
    stderr: dict[str, float]


def prepare(use: MetricUse, inp: MetricInput) -> Prepared:
    metric = METRICS[use.name]
    return metric.prepare(inp, metric.parse_options(dict(use.options)))


def bin_values(by: str, batch: JetBatch, dataset_labels: tuple[str, ...],
               what: str = "scores") -> tuple[np.ndarray, Callable[[Any], str]]:
    """Per-jet value of a binning variable, and a function naming a bin."""
    if by == "n_tracks":
        return batch.mask.sum(1), str
    if by == "n_sv":
        if batch.vtx_id is None:
            raise JetbenchError(f"{what}: binning by n_sv needs vertex truth (vtx_id)")
        return n_secondary_vertices(batch.vtx_id, batch.mask), str
    return batch.labels.astype(np.int64), lambda i: dataset_labels[int(i)]


def _binned(use: MetricUse, b: BinUse, inp: MetricInput, batch: JetBatch,
            dataset_labels: tuple[str, ...], what: str) -> dict[str, float]:
    values, name = bin_values(b.by, batch, dataset_labels, what)
    bins = b.bins if b.bins is not None else np.unique(values)
    out = {}
    for v in bins:
        sel = values == v
        if not sel.any():
            continue
        x = prepare(use, inp.subset(sel))(None)
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


def score(inp: MetricInput, metrics: Sequence[MetricUse], main_score: str,
          binned: Sequence[BinUse], batch: JetBatch, dataset_labels: tuple[str, ...],
          n_boot: int = N_BOOT, seed: int = 0, what: str = "scores") -> TaskScores:
    """Every metric on `inp`; undefined values (e.g. an AUC with one class present) are left out,
    except the main score. `n_boot` = 0 skips the bootstrap of the main score."""
    values: dict[str, float] = {}
    main_prepared = None
    for use in metrics:
        prepared = prepare(use, inp)
        value = prepared(None)
        if use.name == main_score:
            main_prepared = prepared
            values[use.name] = float(value)
        elif isinstance(value, dict):
            values.update({k: float(v) for k, v in value.items() if np.isfinite(v)})
        elif np.isfinite(value):
            values[use.name] = float(value)
    by_name = {m.name: m for m in metrics}
    bins = {f"{b.metric}@{b.by}": _binned(by_name[b.metric], b, inp, batch, dataset_labels, what)
            for b in binned}
    stderr = {}
    if n_boot > 0 and main_prepared is not None and len(inp) > 1:
        stderr[main_score] = bootstrap_se(main_prepared, len(inp), n_boot, seed)
    return TaskScores(values, bins, stderr)
