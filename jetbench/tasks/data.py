"""A task's data: its split stores, label budgets, targets and manifest (docs/design.md, 'Tasks').

- `task_split(task, split, scale)`: the canonical store of a split, produced on first use
  (`jetbench.datasets`), CWoLa-mixed for the train and val splits of a `cwola:` task — or, for a
  split of real files (the paper scale), the index of a file set read in place; open either
  with `jetbench.data.fileset.open_jets`.
- `budget_indices(task, scale, budget, seed)`: the first `budget` jets of the train split after a
  fixed shuffle seeded by (task, scale) — not by the run seed unless the task says
  `budget_shuffle: run` — so smaller budgets are inside larger ones. Class-balanced tasks take the
  shuffled jets round-robin over classes. CWoLa: every background jet + the first `budget` signal
  jets after the fixed shuffle.
- `task_targets(task, batch)`: what the head learns (the task kind's targets); for CWoLa the
  mixture label (0/1) on train/val stores and the true label on the test store, never relabelled.
- `manifest_hash(task, scale)`: what results carry as data provenance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jetbench.core.errors import unknown_name
from jetbench.data.fileset import open_jets, read_labels
from jetbench.data.format import JetBatch
from jetbench.datasets import (
    SPLITS,
    cwola_layout,
    cwola_rule,
    data_split,
    record_manifest,
    split_entry,
    stable_seed,
)
from jetbench.tasks.budgets import balanced_order, check_budget
from jetbench.tasks.registry import get_task
from jetbench.tasks.spec import TaskSpec


def split_rule(spec: TaskSpec, split: str, scale: str) -> dict[str, Any] | None:
    """How a task's split store derives from its parts beyond concatenation (CWoLa mixing)."""
    if spec.cwola is None or split == "test":
        return None
    return cwola_rule(spec.cwola.background, spec.cwola.signal, spec.name, scale, split)


def task_split(task: str | TaskSpec, split: str, scale: str, workers: int | None = None,
               progress: bool = True) -> Path:
    """Canonical store of a task's 'train' | 'val' | 'test' split at a scale (cached)."""
    spec = get_task(task)
    if split not in SPLITS:
        raise unknown_name("split", split, SPLITS)
    return data_split(spec.data, split, scale, split_rule(spec, split, scale), workers, progress)


def _read_labels(path: Path) -> np.ndarray:
    return np.asarray(read_labels(path), np.int64)


def budget_indices(task: str | TaskSpec, scale: str, budget: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices into the train store for a label budget (nested over budgets)."""
    spec = get_task(task)
    check_budget(spec, scale, budget)  # before any data is produced
    path = task_split(spec, "train", scale)
    salt = [seed] if spec.budget_shuffle == "run" else []
    rng = np.random.default_rng(stable_seed("budget", spec.name, scale, *salt))
    if spec.cwola is not None:
        layout = cwola_layout(path)
        n_bkg, n_sig = layout["n_background"], layout["n_signal"]
        check_budget(spec, scale, budget, cap=n_sig)
        chosen = n_bkg + rng.permutation(n_sig)[:budget]
        return np.concatenate([np.arange(n_bkg), np.sort(chosen)]).astype(np.int64)
    labels = _read_labels(path)
    check_budget(spec, scale, budget, cap=len(labels))
    order = rng.permutation(len(labels))
    if spec.class_balanced:
        order = balanced_order(labels, order)
    return np.sort(order[:budget]).astype(np.int64)


def task_targets(task: str | TaskSpec, batch: JetBatch) -> np.ndarray:
    """What the head learns: jet labels [N] (jet_class), track_type [N, P] (track_class) or
    vertex ids [N, P] (vertex_pair; pair target = same id), with -1 on padding."""
    return get_task(task).kind.targets(batch)


def manifest(task: str | TaskSpec, scale: str, workers: int | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Definitions and content hashes of the task's splits (producing the data if needed)."""
    spec = get_task(task)
    splits = {split: split_entry(spec.data, scale, split, split_rule(spec, split, scale),
                                 task_split(spec, split, scale, workers, progress))
              for split in SPLITS}
    return {"task": spec.name, "version": spec.version, "scale": scale, "dataset": spec.dataset,
            "data": spec.data.name, "profile": spec.data.profile, "splits": splits,
            "budgets": {"class_balanced": spec.class_balanced, "shuffle": spec.budget_shuffle}}


def manifest_hash(task: str | TaskSpec, scale: str, workers: int | None = None,
                  progress: bool = True) -> str:
    """Hash of `manifest(task, scale)`; verifies disjoint splits the first time it is seen."""
    spec = get_task(task)
    m = manifest(spec, scale, workers, progress)
    paths = {s: task_split(spec, s, scale) for s in SPLITS}
    return record_manifest(m, f"{spec.name}-v{spec.version}-{scale}", paths)


def prepare_task(task: str | TaskSpec, scale: str, workers: int | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """Produce and check every split of a task; return paths, sizes and the manifest hash."""
    spec = get_task(task)
    h = manifest_hash(spec, scale, workers, progress)
    splits = {}
    for split in SPLITS:
        path = task_split(spec, split, scale)
        with open_jets(path) as store:
            splits[split] = {"path": str(path), "n_jets": len(store),
                             "content_hash": store.content_hash}
    return {"task": spec.name, "version": spec.version, "scale": scale, "manifest_hash": h,
            "splits": splits}
