"""The task registry: YAML task definitions (tasks/*.yaml), fixed splits, label budgets, targets
and data manifests (DESIGN §4).

    get_task(name) / list_tasks()                   validated TaskSpec objects
    task_split(task, split, scale) -> Path          canonical store, generated on first use, cached
    pretrain_split(scale) -> Path                   jetclass pretraining store
    budget_indices(task, scale, budget, seed)       rows of the train store (nested over budgets)
    task_targets(task, batch)                       labels [N], track types / vertex ids [N,P]
    manifest_hash(task, scale)                      what results carry as data provenance
"""

from jetbench.tasks.manifest import (
    check_disjoint,
    jet_identities,
    manifest,
    manifest_hash,
    prepare_task,
)
from jetbench.tasks.registry import get_data, get_task, list_tasks, load_registry, load_task_file
from jetbench.tasks.spec import SCALES, SPLITS, DataSpec, TaskSpec
from jetbench.tasks.splits import (
    balanced_order,
    budget_indices,
    cwola_layout,
    data_split,
    pretrain_split,
    task_split,
    task_targets,
)

__all__ = [
    "SCALES", "SPLITS", "DataSpec", "TaskSpec", "balanced_order", "budget_indices",
    "check_disjoint", "cwola_layout", "data_split", "get_data", "get_task", "jet_identities",
    "list_tasks", "load_registry", "load_task_file", "manifest", "manifest_hash",
    "prepare_task", "pretrain_split", "task_split", "task_targets",
]
