"""Label budgets: the one place that says which budgets a task allows.

A budget is the number of labelled training jets (for CWoLa: signal jets; every background jet
is used). `budget_cap` is the largest one a definition allows without producing data (None when
the train split reads real files, whose size is known only once read); `check_budget` is the check
every entry point uses — the task YAML, `jetbench run`/`sweep` before any work, and
`budget_indices` once the data exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.core.scales import check_scale

if TYPE_CHECKING:
    from jetbench.tasks.spec import TaskSpec


def budget_cap(spec: TaskSpec, scale: str) -> int | None:
    """Largest budget known from the definition alone (None: real files, known once read)."""
    if spec.cwola is not None:
        return spec.data.class_size(scale, "train", spec.cwola.signal)
    return spec.data.split_size(scale, "train")


def check_budget(spec: TaskSpec, scale: str, budget: int, cap: int | None = None) -> int:
    """`budget` as an int if it is a positive whole number within `cap` (default: the
    definition's `budget_cap`); else one error line naming the task and the maximum."""
    check_scale(scale)
    if int(budget) != budget or budget <= 0:
        raise JetbenchError(f"task '{spec.name}': budget must be a positive whole number, "
                            f"got {budget}")
    cap = budget_cap(spec, scale) if cap is None else cap
    if cap is not None and budget > cap:
        if spec.cwola is not None:
            what = f"budget {budget} signal jets, the train split has {cap} ({spec.cwola.signal})"
        else:
            what = f"budget {budget} exceeds the {cap} jets of the train split"
        raise JetbenchError(f"task '{spec.name}' ({scale}): {what}; the maximum budget is {cap}")
    return int(budget)


def resolve_budget(spec: TaskSpec, scale: str, budget: int | None) -> int:
    """The budget a cell runs with: the task's default at the scale, or a checked `budget`."""
    if budget is None:
        return spec.default_budget(scale)
    return check_budget(spec, scale, budget)


def balanced_order(labels: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """`perm` reordered round-robin over classes: 1st of each class, then 2nd of each, ...

    Any prefix is as class-balanced as the classes allow, and prefixes are nested.
    """
    lab = labels[perm]
    rank = np.empty(len(perm), np.int64)
    for c in np.unique(lab):
        idx = np.flatnonzero(lab == c)
        rank[idx] = np.arange(len(idx))
    return perm[np.lexsort((np.arange(len(perm)), rank))]
