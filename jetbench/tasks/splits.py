"""Fixed splits, label budgets and targets of a task (DESIGN §4).

- `task_split(task, split, scale)`: the canonical store of a split, produced on first use.
  Train/val/test come from different generator seeds (or disjoint ranges of real files), so they
  are disjoint by construction; `manifest.check_disjoint` verifies it on jet identities.
- `budget_indices(task, scale, budget, seed)`: the first `budget` jets of the train split after a
  fixed shuffle seeded by (task, scale) — not by the run seed unless the task says
  `budget_shuffle: run` — so smaller budgets are inside larger ones. Class-balanced tasks take the
  shuffled jets round-robin over classes.
- CWoLa (`cwola:` in the task): the train and val stores are mixed samples — background jets
  first, a seeded half of them labelled as the signal class ("mixture 1"), then the signal pool.
  `budget_indices(cwola, scale, n_signal)` = every background jet + the first n_signal signal
  jets after the fixed shuffle; `task_targets` then gives the mixture label (0/1) for train/val
  and the true label (signal vs background) for the test store, which is never relabelled.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import hash_json
from jetbench.data.format import JetBatch, dataset_info
from jetbench.tasks import cache
from jetbench.tasks.registry import get_data, get_task
from jetbench.tasks.spec import (
    PRETRAIN_SPLIT,
    SCALES,
    SPLITS,
    CwolaSpec,
    DataSpec,
    GeneratedPart,
    TaskSpec,
)

PRETRAIN_DATA = "jetclass"


def split_rule(spec: TaskSpec, split: str, scale: str) -> dict | None:
    """How a task's split store derives from its parts beyond concatenation (CWoLa mixing)."""
    if spec.cwola is None or split == "test":
        return None
    return {"rule": "cwola", "background": spec.cwola.background, "signal": spec.cwola.signal,
            "seed": cache.stable_seed("cwola-halves", spec.name, scale, split)}


def data_split(data: DataSpec, split: str, scale: str, rule: dict | None = None,
               workers: int | None = None, progress: bool = True) -> Path:
    """The store of one split of a dataset definition (optionally CWoLa-mixed)."""
    if scale not in SCALES:
        from jetbench.core.errors import unknown_name

        raise unknown_name("scale", scale, SCALES)
    parts = data.parts(scale, split)
    what = f"{data.name} {split} split ({scale})"
    sources = []
    for part in parts:
        if isinstance(part, GeneratedPart):
            sources.append(cache.generated_source(str(data.profile), data.dataset, part, what,
                                                  workers, progress))
        else:
            sources.append(cache.file_source(part, data.dataset))
    if rule is None and len(sources) == 1 and sources[0].whole:
        return sources[0].path
    key = hash_json({"sources": [s.key for s in sources], "rule": rule})
    label = f"{data.name}-{scale}-{split}" + ("-cwola" if rule else "")
    meta = {"data": data.name, "scale": scale, "split": split, "sources": [s.key for s in sources],
            "rule": rule}

    def build(out: Path) -> None:
        if rule is None:
            cache.build_concat(out, sources, data.dataset, meta)
        else:
            cache.build_mixture(out, sources, data.dataset, rule["background"], rule["signal"],
                                rule["seed"], meta)

    return cache.ensure(cache.derived_path(label, key), build)


def task_split(task: str | TaskSpec, split: str, scale: str, workers: int | None = None,
               progress: bool = True) -> Path:
    """Canonical store of a task's 'train' | 'val' | 'test' split at a scale (cached)."""
    spec = get_task(task)
    if split not in SPLITS:
        from jetbench.core.errors import unknown_name

        raise unknown_name("split", split, SPLITS)
    return data_split(spec.data, split, scale, split_rule(spec, split, scale), workers, progress)


def pretrain_split(scale: str, workers: int | None = None, progress: bool = True) -> Path:
    """The jetclass pretraining store of a scale (its own seed; labels never used for training)."""
    return data_split(get_data(PRETRAIN_DATA), PRETRAIN_SPLIT, scale, None, workers, progress)


def _read_labels(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return np.asarray(f["labels"][:], np.int64)


def cwola_layout(path: Path) -> dict[str, int]:
    """{'n_background', 'n_signal', ...} of a CWoLa mixed store."""
    from jetbench.data.store import JetStore

    with JetStore(path) as store:
        layout = store.metadata.get("cwola")
    if not layout:
        raise JetbenchError(f"{path}: not a CWoLa mixed store (no 'cwola' metadata)")
    return layout


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


def budget_indices(task: str | TaskSpec, scale: str, budget: int, seed: int = 0) -> np.ndarray:
    """Sorted row indices into the train store for a label budget (nested over budgets).

    For CWoLa the budget is the number of signal jets; the rows are every background jet plus
    that many signal jets.
    """
    spec = get_task(task)
    spec.scale(scale)  # unknown scale -> error listing the known ones
    if int(budget) != budget or budget <= 0:
        raise JetbenchError(f"task '{spec.name}': budget must be a positive whole number, "
                            f"got {budget}")
    path = task_split(spec, "train", scale)
    salt = [seed] if spec.budget_shuffle == "run" else []
    rng = np.random.default_rng(cache.stable_seed("budget", spec.name, scale, *salt))
    if spec.cwola is not None:
        layout = cwola_layout(path)
        n_bkg, n_sig = layout["n_background"], layout["n_signal"]
        if budget > n_sig:
            raise JetbenchError(f"task '{spec.name}' ({scale}): budget {budget} signal jets, "
                                f"the train split has {n_sig}")
        chosen = n_bkg + rng.permutation(n_sig)[:budget]
        return np.concatenate([np.arange(n_bkg), np.sort(chosen)]).astype(np.int64)
    labels = _read_labels(path)
    if budget > len(labels):
        raise JetbenchError(f"task '{spec.name}' ({scale}): budget {budget} exceeds the "
                            f"{len(labels)} jets of the train split")
    order = rng.permutation(len(labels))
    if spec.class_balanced:
        order = balanced_order(labels, order)
    return np.sort(order[:budget]).astype(np.int64)


def _cwola_targets(cw: CwolaSpec, labels: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    sig, bkg = names.index(cw.signal), names.index(cw.background)
    bad = (labels != sig) & (labels != bkg)
    if bad.any():
        raise JetbenchError(f"CWoLa targets: jet {int(np.argmax(bad))} is "
                            f"'{names[labels[bad][0]]}', neither {cw.background} nor {cw.signal}")
    return (labels == sig).astype(np.int64)


def task_targets(task: str | TaskSpec, batch: JetBatch) -> np.ndarray:
    """What the head learns: jet labels [N] (jet_class), track_type [N, P] (track_class) or
    vertex ids [N, P] (vertex_pair; pair target = same id), with -1 on padding."""
    spec = get_task(task)
    if spec.head in ("track_class", "vertex_pair"):
        key = "track_type" if spec.head == "track_class" else "vtx_id"
        arr = getattr(batch, key)
        if arr is None:
            raise JetbenchError(f"task '{spec.name}' needs '{key}' in the batch (track datasets)")
        return np.where(batch.mask, arr, -1).astype(np.int64)
    names = dataset_info(spec.dataset).labels
    labels = batch.labels.astype(np.int64)
    if spec.cwola is not None:
        return _cwola_targets(spec.cwola, labels, names)
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
