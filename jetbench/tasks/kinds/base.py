"""The task-kind contract: what one `head:` value of a task YAML means, end to end.

A kind turns a jet batch into the targets a head learns, builds the head (full or linear) and
its loss, turns the head's logits into the probabilities the metrics read (padded back to the
store's slots), and wraps targets and predictions for `jetbench.metrics` after checking their
shapes. Protocols and scoring only ever talk to a task through its kind, so a new kind of task
(a regression target, a per-pair task) is one new module registered in `kinds/__init__.py`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from torch import nn

from jetbench.core.errors import JetbenchError
from jetbench.data.format import JetBatch, dataset_info
from jetbench.metrics.registry import MetricInput

if TYPE_CHECKING:
    from jetbench.tasks.spec import TaskSpec

Problem = tuple[str, str] | None


class TaskKind(ABC):
    """A task's kind, bound to its definition (`spec.kind`)."""

    head: ClassVar[str]  # the YAML `head:` value (part of the task hash: never rename)
    unit: ClassVar[str]  # what the metrics score: 'jet', 'track' or 'vertex' (jetbench.metrics)
    losses: ClassVar[tuple[str, ...]]  # loss names this kind trains with
    needs_tracks: ClassVar[bool] = False  # per-track truth (vertex ids, track origins) required

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec

    # -- definition: used while a TaskSpec validates --------------------------------------------
    @classmethod
    @abstractmethod
    def labels(cls, spec: TaskSpec) -> tuple[str, ...]:
        """Class names of what the head predicts."""

    @classmethod
    def check(cls, spec: TaskSpec) -> Problem:
        """Kind-specific problems of a definition as (field, message), or None."""
        if cls.needs_tracks and not dataset_info(spec.dataset).has_tracks:
            return "head", f"'{spec.head}' needs per-track truth; dataset '{spec.dataset}' has none"
        if spec.classes is not None:
            return "classes", "a class subset only applies to the jet_class head"
        if spec.cwola is not None:
            return "cwola", "CWoLa tasks use the jet_class head and no 'classes' list"
        return cls.check_loss(spec)

    @classmethod
    def check_loss(cls, spec: TaskSpec) -> Problem:
        loss = spec.loss
        n = len(cls.labels(spec))
        if loss.class_weights is not None and len(loss.class_weights) != n:
            return "loss.class_weights", (f"{len(loss.class_weights)} weights for {n} classes "
                                          f"{list(cls.labels(spec))}")
        if loss.name not in cls.losses:
            names = " or ".join(f"'{x}'" for x in cls.losses)
            return "loss.name", f"the {cls.head} head is trained with the {names} loss"
        return None

    # -- learning --------------------------------------------------------------------------------
    @abstractmethod
    def targets(self, batch: JetBatch) -> np.ndarray:
        """What the head learns for each jet of `batch` (-1 on padding for per-track kinds)."""

    @abstractmethod
    def build_head(self, in_dim: int, linear: bool = False) -> nn.Module:
        """The head on `in_dim`-wide embeddings; `linear` for the linear probe (no hidden layer)."""

    @abstractmethod
    def loss(self) -> nn.Module:
        """`loss(head output, targets, mask)` with the task's loss settings."""

    # -- prediction ------------------------------------------------------------------------------
    @abstractmethod
    def to_scores(self, out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Head logits -> probabilities (zero where nothing is predicted)."""

    def pad_scores(self, scores: torch.Tensor, n_slots: int) -> torch.Tensor:
        """Batch scores cut to the batch's longest jet -> the store's `n_slots` (per-track kinds)."""
        return scores

    # -- scoring ---------------------------------------------------------------------------------
    @abstractmethod
    def shapes(self, n: int, p: int) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
        """(target shape, accepted prediction shapes) for n jets of p slots."""

    def metric_input(self, y_true: np.ndarray, scores: np.ndarray, batch: JetBatch) -> MetricInput:
        """Check shapes and values, and wrap them for the metric functions."""
        name = self.spec.name
        y, s = np.asarray(y_true), np.asarray(scores, np.float64)
        target_shape, score_shapes = self.shapes(*batch.mask.shape)
        if y.shape != target_shape:
            raise JetbenchError(f"task '{name}': targets have shape {y.shape}, "
                                f"expected {target_shape}")
        if s.shape not in score_shapes:
            raise JetbenchError(f"task '{name}': predictions have shape {s.shape}, expected "
                                f"{' or '.join(map(str, score_shapes))}")
        if not np.all(np.isfinite(s)):
            raise JetbenchError(f"task '{name}': predictions contain NaN or inf")
        return MetricInput(self.unit, y.astype(np.int64), s, self.spec.labels,
                           None if self.unit == "jet" else batch.mask)
