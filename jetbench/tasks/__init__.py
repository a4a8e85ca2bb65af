"""The task registry: task YAMLs (shipped in `definitions/`), task kinds, label budgets, targets,
data manifests and scoring (docs/design.md, 'Tasks').

    get_task(name) / list_tasks()                   validated TaskSpec objects
    spec.kind                                       targets, head, loss, scores of its `head:`
    task_split(task, split, scale) -> Path          canonical store, generated on first use, cached
    budget_indices(task, scale, budget, seed)       rows of the train store (nested over budgets)
    task_targets(task, batch)                       labels [N], track types / vertex ids [N,P]
    manifest_hash(task, scale)                      what results carry as data provenance
    score_task(task, y, scores, batch)              the task's metrics
    score_predictions(task, predictions)            the same, from a saved predictions file
"""

from jetbench.core.scales import SCALES
from jetbench.datasets import (
    SPLITS,
    DataSpec,
    check_disjoint,
    cwola_layout,
    jet_identities,
    pretrain_split,
)
from jetbench.tasks.budgets import balanced_order, budget_cap, check_budget, resolve_budget
from jetbench.tasks.data import (
    budget_indices,
    manifest,
    manifest_hash,
    prepare_task,
    split_rule,
    task_split,
    task_targets,
)
from jetbench.tasks.kinds import KINDS, TaskKind, build_head, task_loss
from jetbench.tasks.registry import get_data, get_task, list_tasks, load_registry, load_task_file
from jetbench.tasks.scoring import score_predictions, score_task
from jetbench.tasks.spec import TaskSpec, TrainingSpec

# the five tasks of the core benchmark, one per kind of problem (and `jetbench mock-run`'s default)
CORE_TASKS = ("jetclass", "cwola", "btag", "vertexing", "trackid")

__all__ = [
    "CORE_TASKS", "KINDS", "SCALES", "SPLITS", "DataSpec", "TaskKind", "TaskSpec", "TrainingSpec",
    "balanced_order", "budget_cap", "budget_indices", "build_head", "check_budget",
    "check_disjoint", "cwola_layout", "get_data", "get_task", "jet_identities", "list_tasks",
    "load_registry", "load_task_file", "manifest", "manifest_hash", "prepare_task",
    "pretrain_split", "resolve_budget", "score_predictions", "score_task", "split_rule",
    "task_loss", "task_split", "task_targets",
]
