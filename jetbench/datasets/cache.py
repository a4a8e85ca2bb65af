"""Split data on disk: each generator call and each real file becomes a canonical store under
`paths.data_dir()`, produced on first use and reused afterwards at the cost of a `stat`.

Keys are content-derived: a generated part is named by (profile, classes, n, seed, generator
version), a real file by its sha256, a derived split store (concatenation, jet range, CWoLa
mixture) by the keys of its sources and its rule. Producers hold an exclusive file lock on the
target while they work and write through a temporary file renamed into place, so two processes
asking for the same data at once produce it once and never see half a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import hash_json, sha256_file
from jetbench.core.locks import file_lock
from jetbench.core.log import get_logger
from jetbench.core.paths import data_dir
from jetbench.data.store import JetStore, StoreWriter
from jetbench.datasets.spec import FilePart, GeneratedPart

CHUNK = 20_000


def default_workers() -> int:
    """Generator worker processes: $JETBENCH_WORKERS, else every core."""
    env = os.environ.get("JETBENCH_WORKERS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise JetbenchError(f"JETBENCH_WORKERS={env!r}: expected a whole number") from None
    return os.cpu_count() or 1


def stable_seed(*parts: Any) -> int:
    """A 32-bit seed derived from names (same on every machine and Python run)."""
    return int(hash_json(list(parts))[:8], 16)


def ensure(target: Path, build: Callable[[Path], None]) -> Path:
    """Return `target`, building it first (under the lock, atomically) if it does not exist."""
    if target.exists():
        return target
    with file_lock(target):
        if not target.exists():  # another process may have built it while we waited
            build(target)
        if not target.exists():
            raise JetbenchError(f"{target}: producer finished without writing the file")
    return target


@dataclass(frozen=True)
class Source:
    """A materialised part: a canonical store, the jet range used, and its cache key."""

    path: Path
    key: str
    start: int = 0
    stop: int | None = None

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.stop is None


def generator_version() -> str:
    import jetbench.generate as gen  # lazy: the generator package loads Pythia 8 and FastJet

    return str(gen.GENERATOR_VERSION)


def generated_source(profile: str, dataset: str, part: GeneratedPart, what: str,
                     workers: int | None = None, progress: bool = True) -> Source:
    """The store of one generator call, generating it on first use."""
    classes = list(part.classes) if part.classes else None
    key = hash_json({"profile": profile, "classes": classes, "n": part.n, "seed": part.seed,
                     "generator": generator_version()})
    path = data_dir() / "generated" / f"{profile}_n{part.n}_s{part.seed}_{key[:12]}.h5"

    def build(out: Path) -> None:
        import jetbench.generate as gen  # lazy: the generator package loads Pythia 8 and FastJet

        n_workers = workers or default_workers()
        get_logger().info(f"generating {what}: {part.n} {profile} jets"
                          f"{' of ' + ','.join(classes) if classes else ''} (seed {part.seed}, "
                          f"{n_workers} workers) -> {out}")
        gen.generate_file(profile, part.n, part.seed, out, workers=n_workers, classes=classes,
                          progress=progress)
        _check_generated(out, part.n, dataset)

    return Source(ensure(path, build), key)


def _check_generated(path: Path, n: int, dataset: str) -> None:
    if not path.exists():
        raise JetbenchError(f"{path}: the generator did not write the store")
    with JetStore(path) as store:
        got, ds = len(store), store.dataset
    if got != n or ds != dataset:
        path.unlink()
        raise JetbenchError(f"{path}: generator wrote {got} '{ds}' jets, expected {n} '{dataset}'")


def is_store(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return "content_hash" in f.attrs
    except OSError:
        return False


def resolve_file(part: FilePart) -> Path:
    """Real-file path: ~ and $VARS expanded; relative paths are under <data dir>/real/."""
    p = Path(os.path.expandvars(part.path)).expanduser()
    return p if p.is_absolute() else data_dir() / "real" / p


def verify_sha256(path: Path, expected: str) -> None:
    """Check a real file's sha256 once; a stamp keyed by (path, size, mtime) skips re-hashing."""
    if not path.exists():
        raise JetbenchError(f"{path}: real data file not found "
                            f"(expected sha256 {expected[:12]}...)")
    st = path.stat()
    stamp = data_dir() / "verified" / hash_json([str(path.resolve()), st.st_size, st.st_mtime_ns,
                                                  expected])
    if stamp.exists():
        return
    got = sha256_file(str(path))
    if got != expected:
        raise JetbenchError(f"{path}: sha256 {got[:12]}... does not match the task's "
                            f"{expected[:12]}... (wrong or modified file)")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()


def file_source(part: FilePart, dataset: str) -> Source:
    """A real file as a canonical store (converted once, cached by sha256), with its jet range."""
    src = resolve_file(part)
    verify_sha256(src, part.sha256)
    path = src
    if not is_store(src):
        from jetbench.data.readers import convert_file  # lazy: readers load uproot and awkward

        out = data_dir() / "converted" / f"{dataset}_{part.sha256[:16]}.h5"
        path = ensure(out, lambda o: convert_file(src, dataset, o))
    return Source(path, hash_json([part.sha256, part.start, part.stop]), part.start, part.stop)


def chunks(src: Source) -> Iterator:
    """The source's jets in store order, CHUNK jets at a time (flat memory)."""
    with JetStore(src.path) as store:
        stop = len(store) if src.stop is None else min(src.stop, len(store))
        if src.start >= stop:
            raise JetbenchError(f"{src.path}: jet range [{src.start}, {src.stop}) is empty "
                                f"(the file has {len(store)} jets)")
        for a in range(src.start, stop, CHUNK):
            yield store[a:min(a + CHUNK, stop)]


def labels_of(src: Source) -> np.ndarray:
    with h5py.File(src.path, "r") as f:
        return np.asarray(f["labels"][src.start:src.stop])


def build_concat(out: Path, sources: list[Source], dataset: str, metadata: dict) -> None:
    with StoreWriter(out, dataset, metadata) as w:
        for src in sources:
            for batch in chunks(src):
                w.append(batch)


def derived_path(label: str, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)
    return data_dir() / "splits" / f"{safe}_{key[:12]}.h5"

