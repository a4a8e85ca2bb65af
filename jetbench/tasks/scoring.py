"""Score a task's predictions with the metrics its YAML names."""

from __future__ import annotations

import numpy as np

from jetbench.data.format import JetBatch, dataset_info
from jetbench.metrics.predictions import Predictions
from jetbench.metrics.scoring import N_BOOT, TaskScores, score
from jetbench.tasks.registry import get_task
from jetbench.tasks.spec import TaskSpec


def score_task(task: str | TaskSpec, y_true: np.ndarray, scores: np.ndarray, batch: JetBatch,
               n_boot: int = N_BOOT, seed: int = 0) -> TaskScores:
    """All metrics of the task on a test split.

    y_true: what `task_targets` returns for `batch`. scores: probabilities — jet tasks [N, C]
    (binary: [N] or [N, 2]); track tasks [N, P, C]; vertexing [N, P, P] same-vertex
    probabilities (entries i < j are read). Shapes are checked by the task's kind. Undefined
    values (e.g. an AUC with one class present) are left out, except the main score. `n_boot` = 0
    skips the bootstrap.
    """
    spec = get_task(task)
    inp = spec.kind.metric_input(y_true, scores, batch)
    return score(inp, spec.metrics, spec.main_score, spec.binned, batch,
                 dataset_info(spec.dataset).labels, n_boot, seed, what=f"task '{spec.name}'")


def score_predictions(task: str | TaskSpec, preds: Predictions, n_boot: int = N_BOOT,
                      seed: int = 0) -> TaskScores:
    """`score_task` on a predictions file's stored values: what a cell reports, and what
    re-scoring the file gives (bit for bit)."""
    y, scores, view = preds.padded()
    return score_task(task, y, scores, view, n_boot=n_boot, seed=seed)  # type: ignore[arg-type]
