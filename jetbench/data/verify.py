"""Checksums of the real files a split reads, against the strongest record there is.

A downloaded file is trusted by the chain that fetched it: the dataset definition pins the
published checksums (Quark-Gluon: sha256 and md5; Top Tagging, JetClass tarballs: md5), and
`jetbench data download` writes the sha256 of every file it verified — and, with `--extract`, of
every file unpacked from a verified archive — to `SHA256SUMS` in the download folder. Before a
split reads a file, its content is checked against the pinned sha256, else the pinned md5, else
the recorded sha256; a file with none of them is refused. Hashing ~200 GB of JetClass takes a
while, so a passed check leaves a stamp keyed by (path, size, mtime, expected digest) that later
runs find instead of re-hashing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from jetbench.core.errors import JetbenchError
from jetbench.core.files import write_text
from jetbench.core.hashing import hash_json
from jetbench.core.paths import data_dir
from jetbench.data.download import RECORD, read_record
from jetbench.data.format import DatasetInfo

BLOCK = 1 << 20


def _digests(path: Path) -> dict[str, str]:
    h = {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            for x in h.values():
                x.update(block)
    return {k: v.hexdigest() for k, v in h.items()}


def expected_digest(path: Path, root: Path, info: DatasetInfo,
                    record: dict[str, str] | None = None) -> tuple[str, str, str]:
    """(algorithm, digest, where it comes from) that `path` must match."""
    pins = {f.name: f for f in info.files}
    # by the path inside the folder, not the resolved one: a download folder may hold symlinks
    pin = pins.get(path.name) if path.absolute().parent == root.absolute() else None
    if pin is not None and pin.sha256:
        return "sha256", pin.sha256, f"pinned sha256 of {info.name}/{pin.name}"
    if pin is not None and pin.md5:
        return "md5", pin.md5, f"pinned md5 of {info.name}/{pin.name}"
    record = read_record(root) if record is None else record
    rel = path.absolute().relative_to(root.absolute()).as_posix()
    if rel in record:
        return "sha256", record[rel].lower(), f"sha256 recorded in {root / RECORD}"
    raise JetbenchError(f"{path}: no checksum pinned for it and not listed in {root / RECORD}; "
                        f"fetch it with `jetbench data download {info.name}` (which verifies and "
                        "records it)")


def verify_real_file(path: str | os.PathLike, root: str | os.PathLike, info: DatasetInfo,
                     record: dict[str, str] | None = None) -> str:
    """The sha256 of `path` (a file under the dataset's download folder `root`), after checking
    it; a mismatch is one JetbenchError line. `record`: the folder's SHA256SUMS, if read already."""
    path, root = Path(path), Path(root)
    if not path.is_file():
        raise JetbenchError(f"{path}: real data file not found")
    algo, want, source = expected_digest(path, root, info, record)
    st = path.stat()
    stamp = data_dir() / "verified" / hash_json([str(path.resolve()), st.st_size, st.st_mtime_ns,
                                                  algo, want])
    if stamp.exists():
        sha = stamp.read_text().strip()
        if len(sha) == 64:
            return sha
    got = _digests(path)
    if got[algo] != want:
        raise JetbenchError(f"{path}: {algo} {got[algo][:12]}... does not match the {source} "
                            f"({want[:12]}...); wrong or modified file, refusing to read it")
    write_text(stamp, got["sha256"])
    return got["sha256"]
