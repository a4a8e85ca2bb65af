"""The embedding cache as a folder the user can see and bound: its size cap, listing and clearing.

`jetbench.protocols.embeddings` writes one file per (encoder revision, store) under
`data_dir()/embeddings/<encoder>/<revision>/`; a training loop that calls `jetbench.evaluate()`
every epoch makes a new revision each time (~80 MB at cpu scale), so without a cap the folder
only grows. Each read or write records the use (with the encoder and task as tags); after a
write, the least recently used files go until the folder fits under the cap:
$JETBENCH_EMBED_CACHE_GB gigabytes (default 20; 0 keeps only the file just written).
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from jetbench.core.errors import JetbenchError
from jetbench.core.log import get_logger
from jetbench.core.lru import Entry, LruDir, remove
from jetbench.core.paths import data_dir

CAP_ENV = "JETBENCH_EMBED_CACHE_GB"
DEFAULT_CAP_GB = 20.0


def cache_root() -> Path:
    return data_dir() / "embeddings"


def cap_bytes() -> int:
    """The cap from $JETBENCH_EMBED_CACHE_GB (default 20 GB)."""
    raw = os.environ.get(CAP_ENV, "")
    try:
        gb = float(raw) if raw.strip() else DEFAULT_CAP_GB
    except ValueError:
        raise JetbenchError(f"{CAP_ENV}={raw!r}: expected a number of gigabytes") from None
    if gb < 0:
        raise JetbenchError(f"{CAP_ENV}={raw!r}: must be 0 or more")
    return int(gb * 1e9)


def cache_dir() -> LruDir:
    """The cache folder with its cap; entries are the .npz files."""
    return LruDir(cache_root(), cap_bytes(), pattern="*.npz")


def record_use(path: Path, encoder: str, task: str | None = None) -> None:
    """Note that `path` was just read or written, by `encoder` for `task`."""
    tags = {"encoder": encoder} | ({"task": task} if task else {})
    cache_dir().used(path, **tags)


def enforce_cap(just_written: Path) -> list[Entry]:
    """Evict least recently used files until the cache fits its cap (never `just_written`)."""
    gone = cache_dir().evict(keep=[just_written])
    if gone:
        get_logger().info(f"embedding cache over {cap_bytes() / 1e9:g} GB: removed "
                          f"{len(gone)} least recently used file(s), "
                          f"{sum(e.size for e in gone) / 1e6:.0f} MB ({CAP_ENV} sets the cap)")
    return gone


def _encoder(entry: Entry) -> str:
    """The encoder an entry belongs to: its tag, else its folder (entries from before tags)."""
    tagged = entry.tags.get("encoder")
    if tagged:
        return tagged[0]
    rel = entry.path.relative_to(cache_root()).parts
    return rel[0] if len(rel) > 1 else "?"


@dataclass(frozen=True)
class Group:
    encoder: str
    tasks: str  # comma-separated; '?' for files written before tasks were recorded
    files: int
    bytes: int
    last_used: float


def summary() -> list[Group]:
    """Sizes per encoder and task set, largest first."""
    groups: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in cache_dir().entries():
        groups[(_encoder(entry), ",".join(entry.tags.get("task", [])) or "?")].append(entry)
    out = [Group(enc, tasks, len(es), sum(e.size for e in es), max(e.last_used for e in es))
           for (enc, tasks), es in groups.items()]
    return sorted(out, key=lambda g: (-g.bytes, g.encoder, g.tasks))


def clear(encoder: str | None = None, task: str | None = None, everything: bool = False
          ) -> tuple[int, int]:
    """Delete the files of `encoder` and/or used by `task` (both given: both must match), or
    all of them; returns (files, bytes) removed. A file several tasks share goes with any."""
    if not everything and encoder is None and task is None:
        raise JetbenchError("say what to clear: --encoder NAME, --task NAME or --all")
    files = n_bytes = 0
    for entry in cache_dir().entries():
        if not everything and (
                (encoder is not None and _encoder(entry) != encoder)
                or (task is not None and task not in entry.tags.get("task", []))):
            continue
        if remove(entry.path):
            files, n_bytes = files + 1, n_bytes + entry.size
    return files, n_bytes


__all__ = ["CAP_ENV", "Group", "cache_dir", "cache_root", "cap_bytes", "clear", "enforce_cap",
           "record_use", "summary"]
