"""The data manifest of a (task, scale): split definitions + content hashes of the stores.

Results carry `manifest_hash(task, scale)`; the same (task, version, scale) gives the same hash on
any machine (no paths in it; real files enter by sha256). The first time a manifest is seen, the
splits are checked to be disjoint on jet identities and the manifest is recorded as JSON under
<data dir>/manifests/, so later calls only read three store headers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.core.files import write_json
from jetbench.core.hashing import hash_json
from jetbench.core.paths import data_dir
from jetbench.data.store import JetStore
from jetbench.tasks.registry import get_task
from jetbench.tasks.spec import SPLITS, FilePart, TaskSpec
from jetbench.tasks.splits import split_rule, task_split


def _part_definition(part: Any) -> dict:
    d = part.model_dump(mode="json")
    if isinstance(part, FilePart):
        d.pop("path")  # machine-specific; the sha256 pins the content
    return d


def manifest(task: str | TaskSpec, scale: str, workers: int | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Definitions and content hashes of the task's splits (producing the data if needed)."""
    spec = get_task(task)
    splits = {}
    for split in SPLITS:
        path = task_split(spec, split, scale, workers, progress)
        with JetStore(path) as store:
            splits[split] = {
                "parts": [_part_definition(p) for p in spec.data.parts(scale, split)],
                "rule": split_rule(spec, split, scale),
                "n_jets": len(store),
                "content_hash": store.content_hash,
            }
    return {"task": spec.name, "version": spec.version, "scale": scale, "dataset": spec.dataset,
            "data": spec.data.name, "profile": spec.data.profile, "splits": splits,
            "budgets": {"class_balanced": spec.class_balanced, "shuffle": spec.budget_shuffle}}


def manifest_hash(task: str | TaskSpec, scale: str, workers: int | None = None,
                  progress: bool = True) -> str:
    """Hash of `manifest(task, scale)`; verifies disjoint splits the first time it is seen."""
    spec = get_task(task)
    m = manifest(spec, scale, workers, progress)
    h = hash_json(m)
    record = data_dir() / "manifests" / f"{spec.name}-v{spec.version}-{scale}-{h}.json"
    if not record.exists():
        paths = {s: task_split(spec, s, scale) for s in SPLITS}
        check_disjoint(paths)
        write_json(record, {"manifest_hash": h, "disjoint_checked": True, "manifest": m})
    return h


def _identity_chunks(path: str | Path, chunk: int = 20_000) -> Iterator[np.ndarray]:
    with JetStore(path) as store:
        for batch in store.iter_chunks(chunk):
            csts = np.ascontiguousarray(batch.csts)
            yield np.array([hashlib.blake2b(row.tobytes(), digest_size=16).digest()
                            for row in csts], dtype="S16")


def jet_identities(path: str | Path, chunk: int = 20_000) -> np.ndarray:
    """16-byte digest of every jet's constituent array (the jet's identity), in store order."""
    parts = list(_identity_chunks(path, chunk))
    return np.concatenate(parts) if parts else np.zeros(0, "S16")


def check_disjoint(paths: dict[str, Path]) -> None:
    """Raise if any two of the named stores share a jet (identical constituent arrays).

    The largest store is streamed chunk by chunk against the others' sorted identities, so
    memory stays at the size of the smaller splits.
    """
    names = list(paths)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if Path(paths[a]).resolve() == Path(paths[b]).resolve():
                raise JetbenchError(f"splits '{a}' and '{b}' are the same store {paths[a]}")
    sizes = {}
    for name, p in paths.items():
        with JetStore(p) as store:
            sizes[name] = len(store)
    *small, largest = sorted(names, key=lambda n: sizes[n])
    known = {n: np.unique(jet_identities(paths[n])) for n in small}
    shared = {(a, b): len(np.intersect1d(known[a], known[b]))
              for i, a in enumerate(small) for b in small[i + 1:]}
    for ids in _identity_chunks(paths[largest]):
        for n in small:
            shared[(n, largest)] = shared.get((n, largest), 0) + int(np.isin(ids, known[n]).sum())
    for (a, b), count in shared.items():
        if count:
            raise JetbenchError(f"splits '{a}' and '{b}' share {count} jets "
                                f"({paths[a]}, {paths[b]})")


def prepare_task(task: str | TaskSpec, scale: str, workers: int | None = None,
                 progress: bool = True) -> dict[str, Any]:
    """Produce and check every split of a task; return paths, sizes and the manifest hash."""
    spec = get_task(task)
    h = manifest_hash(spec, scale, workers, progress)
    splits = {}
    for split in SPLITS:
        path = task_split(spec, split, scale)
        with JetStore(path) as store:
            splits[split] = {"path": str(path), "n_jets": len(store),
                             "content_hash": store.content_hash}
    return {"task": spec.name, "version": spec.version, "scale": scale, "manifest_hash": h,
            "splits": splits}
