"""Task kinds by their YAML `head:` value. A new kind = one module with a `TaskKind` subclass,
added to `KINDS` here (its `head` string becomes a valid `head:` in task YAMLs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from jetbench.tasks.kinds.base import TaskKind
from jetbench.tasks.kinds.jet import JetKind
from jetbench.tasks.kinds.track import TrackKind
from jetbench.tasks.kinds.vertex import VertexKind

if TYPE_CHECKING:
    from jetbench.tasks.spec import TaskSpec

KINDS: dict[str, type[TaskKind]] = {k.head: k for k in (JetKind, TrackKind, VertexKind)}


def build_head(task: TaskSpec, in_dim: int, linear: bool = False) -> nn.Module:
    """The head of `task`'s kind on `in_dim`-wide embeddings (`linear` for the linear probe)."""
    return task.kind.build_head(in_dim, linear)


def task_loss(task: TaskSpec) -> nn.Module:
    """The loss of `task`'s kind with the task's loss settings."""
    return task.kind.loss()


__all__ = ["KINDS", "JetKind", "TaskKind", "TrackKind", "VertexKind", "build_head", "task_loss"]
