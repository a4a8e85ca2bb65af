"""A folder of cache files under a size cap: the least recently used entries go first.

Why not the filesystem's access time: many filesystems are mounted `noatime`/`relatime`, so
reading a file does not reliably update it. The cache records each use itself, in a small JSON
sidecar next to the entry (`.NAME.used`: when it was last used and free-form tags such as the
encoder and the tasks that used it, which `jetbench cache list` groups by). A sidecar per entry
instead of one index file means no folder-wide lock: callers already hold the entry's own lock
when they read or write it, and that is when they record the use.

Eviction runs after a write (`evict(keep=...)`): it deletes the oldest entries until the folder's
entries fit under the cap, never the ones just written. An entry that cannot be deleted (open on
Windows) is skipped; its size still counts, so the next oldest goes instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jetbench.core.files import atomic_path

SIDECAR_SUFFIX = ".used"


@dataclass(frozen=True)
class Entry:
    """One cache file: its size, when it was last used and its tags (tag -> sorted values)."""

    path: Path
    size: int
    last_used: float
    tags: dict[str, list[str]] = field(default_factory=dict)


def sidecar(path: Path) -> Path:
    """Where the use record of cache file `path` lives (hidden, next to it)."""
    return path.with_name(f".{path.name}{SIDECAR_SUFFIX}")


class LruDir:
    """Cache files matching `pattern` anywhere under `root`, kept under `cap_bytes` in total."""

    def __init__(self, root: str | os.PathLike, cap_bytes: int, pattern: str = "*",
                 clock: Callable[[], float] = time.time):
        self.root, self.cap_bytes, self.pattern, self.clock = Path(root), int(cap_bytes), pattern, clock

    def _read_record(self, path: Path) -> dict:
        try:
            record = json.loads(sidecar(path).read_text())
            return record if isinstance(record, dict) else {}
        except (OSError, ValueError):
            return {}

    def used(self, path: str | os.PathLike, **tags: str) -> None:
        """Record that `path` was just read or written; add `tags` to the ones it has."""
        path = Path(path)
        merged = {k: set(v) for k, v in self._read_record(path).get("tags", {}).items()}
        for key, value in tags.items():
            merged.setdefault(key, set()).add(str(value))
        record = {"last_used": self.clock(), "tags": {k: sorted(v) for k, v in sorted(merged.items())}}
        with atomic_path(sidecar(path)) as tmp:
            tmp.write_text(json.dumps(record, sort_keys=True))

    def entries(self) -> list[Entry]:
        """Every entry, least recently used first. Entries without a record (written before
        records existed) count as used when they were last modified."""
        out = []
        for path in self.root.rglob(self.pattern) if self.root.is_dir() else ():
            if path.name.startswith(".") or not path.is_file():
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # evicted or replaced by another process meanwhile
                continue
            record = self._read_record(path)
            last = record.get("last_used")
            out.append(Entry(path, stat.st_size, float(last) if isinstance(last, int | float)
                             else stat.st_mtime, record.get("tags", {})))
        return sorted(out, key=lambda e: (e.last_used, str(e.path)))

    def total(self) -> int:
        return sum(e.size for e in self.entries())

    def evict(self, keep: Iterable[str | os.PathLike] = ()) -> list[Entry]:
        """Delete least recently used entries (never those in `keep`) until the total fits the
        cap; returns the deleted entries."""
        keep_set = {Path(p).resolve() for p in keep}
        entries = self.entries()
        total = sum(e.size for e in entries)
        gone = []
        for entry in entries:
            if total <= self.cap_bytes:
                break
            if entry.path.resolve() in keep_set:
                continue
            if remove(entry.path):
                total -= entry.size
                gone.append(entry)
        return gone


def remove(path: str | os.PathLike) -> bool:
    """Delete a cache file and its use record; False if the file could not be deleted."""
    path = Path(path)
    try:
        path.unlink(missing_ok=True)
    except OSError:  # open elsewhere (Windows): leave it for the next eviction
        return False
    with contextlib.suppress(OSError):
        sidecar(path).unlink(missing_ok=True)
    return True


__all__ = ["Entry", "LruDir", "remove", "sidecar"]
