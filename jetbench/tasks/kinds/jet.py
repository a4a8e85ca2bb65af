"""`jet_class`: one label per jet (multi-class, a class subset, binary, or CWoLa mixtures)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.data.format import JetBatch, dataset_info
from jetbench.tasks.heads import ClassAttentionHead, LinearJetHead
from jetbench.tasks.kinds.base import Problem, TaskKind

if TYPE_CHECKING:
    from jetbench.tasks.spec import CwolaSpec, TaskSpec


class JetLoss(nn.Module):
    """Cross-entropy over classes, or BCE on one logit for binary tasks; label smoothing."""

    def __init__(self, binary: bool, smoothing: float) -> None:
        super().__init__()
        self.binary, self.smoothing = binary, smoothing

    def forward(self, out: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.binary:
            y = targets.float()
            if self.smoothing:
                y = y * (1 - self.smoothing) + 0.5 * self.smoothing
            return F.binary_cross_entropy_with_logits(out, y)
        return F.cross_entropy(out, targets.long(), label_smoothing=self.smoothing)


def cwola_targets(cw: CwolaSpec, labels: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Signal vs background as 1/0 (a mixed store's relabelled jets read as their mixture)."""
    sig, bkg = names.index(cw.signal), names.index(cw.background)
    bad = (labels != sig) & (labels != bkg)
    if bad.any():
        raise JetbenchError(f"CWoLa targets: jet {int(np.argmax(bad))} is "
                            f"'{names[labels[bad][0]]}', neither {cw.background} nor {cw.signal}")
    return (labels == sig).astype(np.int64)


class JetKind(TaskKind):
    head = "jet_class"
    unit = "jet"
    losses = ("cross_entropy", "bce")

    @classmethod
    def labels(cls, spec: TaskSpec) -> tuple[str, ...]:
        if spec.cwola is not None:
            return (spec.cwola.background, spec.cwola.signal)
        return spec.classes or dataset_info(spec.dataset).labels

    @classmethod
    def check(cls, spec: TaskSpec) -> Problem:
        labels = dataset_info(spec.dataset).labels
        for c in spec.classes or ():
            if c not in labels:
                return "classes", str(unknown_name("class", c, labels))
        if spec.cwola is not None:
            if spec.classes is not None:
                return "cwola", "CWoLa tasks use the jet_class head and no 'classes' list"
            for key in ("background", "signal"):
                c = getattr(spec.cwola, key)
                if c not in labels:
                    return f"cwola.{key}", str(unknown_name("class", c, labels))
            if spec.cwola.background == spec.cwola.signal:
                return "cwola.signal", "signal and background must differ"
        problem = cls.check_loss(spec)
        if problem is None and spec.loss.name == "bce" and len(cls.labels(spec)) != 2:
            return "loss.name", "'bce' is for binary jet tasks (2 classes)"
        return problem

    @property
    def binary(self) -> bool:
        """Binary tasks (e.g. cwola) use one logit + BCE; the task says so via its loss."""
        return self.spec.loss.name == "bce"

    def targets(self, batch: JetBatch) -> np.ndarray:
        spec = self.spec
        names = dataset_info(spec.dataset).labels
        labels = batch.labels.astype(np.int64)
        if spec.cwola is not None:
            return cwola_targets(spec.cwola, labels, names)
        if spec.classes is None:
            return labels
        mapping = np.full(len(names), -1, np.int64)
        for i, c in enumerate(spec.classes):
            mapping[names.index(c)] = i
        out = mapping[labels]
        if (out < 0).any():
            j = int(np.argmax(out < 0))
            raise JetbenchError(f"task '{spec.name}': jet {j} is '{names[labels[j]]}', not one of "
                                f"the task's classes {list(spec.classes)}")
        return out

    def build_head(self, in_dim: int, linear: bool = False) -> nn.Module:
        n_out = 1 if self.binary else self.spec.n_classes
        return LinearJetHead(in_dim, n_out) if linear else ClassAttentionHead(in_dim, n_out)

    def loss(self) -> nn.Module:
        return JetLoss(self.binary, float(self.spec.loss.label_smoothing))

    def to_scores(self, out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out) if self.binary else torch.softmax(out, dim=-1)

    def shapes(self, n: int, p: int) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
        return (n,), [(n,), (n, self.spec.n_classes)]
