"""Data manifests: what a result carries as data provenance, and the disjointness check.

A manifest lists each split's definition (parts, rule) with the content hash and size of its
store; the same definitions give the same hash on any machine (no paths in it; real files enter
by sha256). The first time a manifest is seen, the splits are checked to be disjoint on jet
identities and the manifest is recorded as JSON under <data dir>/manifests/, so later calls only
read the store headers.
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
from jetbench.data.fileset import FileSet, is_fileset, open_jets
from jetbench.datasets.spec import DataSpec, FilePart


def part_definition(part: Any) -> dict[str, Any]:
    d = part.model_dump(mode="json")
    if isinstance(part, FilePart):
        d.pop("path")  # machine-specific; the sha256 pins the content
    return d


def split_entry(data: DataSpec, scale: str, split: str, rule: dict[str, Any] | None,
                path: Path) -> dict[str, Any]:
    """One split of a manifest: its definition and the content of its store."""
    with open_jets(path) as store:
        return {"parts": [part_definition(p) for p in data.parts(scale, split)], "rule": rule,
                "n_jets": len(store), "content_hash": store.content_hash}


def record_manifest(manifest: dict[str, Any], label: str, paths: dict[str, Path]) -> str:
    """Hash of `manifest`; the first time it is seen, check the stores at `paths` are disjoint
    and keep a record under <data dir>/manifests/<label>-<hash>.json."""
    h = hash_json(manifest)
    record = data_dir() / "manifests" / f"{label}-{h}.json"
    if not record.exists():
        check_disjoint(paths)
        write_json(record, {"manifest_hash": h, "disjoint_checked": True, "manifest": manifest})
    return h


def _identity_chunks(path: str | Path, chunk: int = 20_000) -> Iterator[np.ndarray]:
    with open_jets(path) as store:
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
    memory stays at the size of the smaller splits. Splits that read real files in place are
    checked on their file segments instead (decoding 100M jets to compare them would take
    hours): no two splits may read the same jets of a file (same sha256, overlapping range).
    """
    names = list(paths)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if Path(paths[a]).resolve() == Path(paths[b]).resolve():
                raise JetbenchError(f"splits '{a}' and '{b}' are the same store {paths[a]}")
    if all(is_fileset(p) for p in paths.values()):
        _check_segments_disjoint(paths)
        return
    sizes = {}
    for name, p in paths.items():
        with open_jets(p) as store:
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


def _check_segments_disjoint(paths: dict[str, Path]) -> None:
    """File-set splits: no file range (by content sha256) read by two splits."""
    ranges: dict[str, list[tuple[int, int, str]]] = {}
    for name, p in paths.items():
        for seg in FileSet.load(p).segments:
            for a, b, other in ranges.get(seg.sha256, []):
                shared = min(b, seg.stop) - max(a, seg.start)
                if shared > 0 and other != name:
                    raise JetbenchError(f"splits '{other}' and '{name}' share {shared} jets "
                                        f"(file {seg.path})")
            ranges.setdefault(seg.sha256, []).append((seg.start, seg.stop, name))
