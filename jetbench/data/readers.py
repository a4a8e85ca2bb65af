"""Streaming readers: any supported file -> canonical `JetBatch`es, a chunk at a time.

Supported: JetClass and BTag ROOT files (TTree "tree", real branch names), Top Tagging Landscape
HDF5 tables, Quark-Gluon npz files, the MPM paper-2 HDF5 layout, and our own canonical store.
Memory stays flat as files grow: ROOT files are read with `TTree.iterate` over the needed
branches only, HDF5 files in slices, npz members as streams.
"""

from __future__ import annotations

import contextlib
import glob
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import h5py

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import sha256_file
from jetbench.data import schemas
from jetbench.data.convert import batch_from_branches, required_branches
from jetbench.data.fileerrors import damaged_file_errors
from jetbench.data.format import JetBatch, dataset_info
from jetbench.data.paper_h5 import infer_paper_dataset, iter_paper_h5
from jetbench.data.quarkgluon import NPZ_MAGIC, iter_quarkgluon_npz
from jetbench.data.store import JetStore, StoreWriter
from jetbench.data.toptag import KEY as TOPTAG_KEY
from jetbench.data.toptag import iter_toptag_h5

ROOT_MAGIC = b"root"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# jets per ROOT step: bounded memory (padded JetClass: 128 x 7 floats per jet)
ROOT_STEP = 10_000
# file format -> dataset it holds when the caller does not say
DEFAULT_DATASET = {"toptag_h5": "toptag", "quarkgluon_npz": "quarkgluon"}
Paths = str | os.PathLike | Sequence[str | os.PathLike]


def expand_paths(paths: Paths) -> list[Path]:
    """Files from a path, a glob pattern, or a list of either (sorted within each pattern)."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if glob.has_magic(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise JetbenchError(f"{text}: no files match this pattern")
            out.extend(Path(m) for m in matches)
        else:
            if not Path(text).is_file():
                raise JetbenchError(f"{text}: no such file")
            out.append(Path(text))
    if not out:
        raise JetbenchError("no input files given")
    return out


def file_format(path: Path) -> str:
    """'root', 'store', 'toptag_h5', 'paper_h5' or 'quarkgluon_npz', from the file's magic
    bytes (and, for HDF5, its top-level layout)."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(ROOT_MAGIC):
        return "root"
    if head.startswith(NPZ_MAGIC):
        return "quarkgluon_npz"
    if head == HDF5_MAGIC:
        try:
            with h5py.File(path, "r") as h5:
                if "content_hash" in h5.attrs:
                    return "store"
                return "toptag_h5" if isinstance(h5.get(TOPTAG_KEY), h5py.Group) else "paper_h5"
        except Exception as err:  # OSError mostly; damaged files raise others
            raise JetbenchError(f"{path}: not a readable HDF5 file ({err})") from None
    if not head:
        raise JetbenchError(f"{path}: empty file")
    raise JetbenchError(f"{path}: not a ROOT or HDF5 file (or a Quark-Gluon npz)")


def _root_errors(path: Path):
    """uproot's many failure types on a damaged file -> one JetbenchError line."""
    return damaged_file_errors(path, "ROOT file")


def _open_tree(path: Path):
    import uproot  # lazy: uproot and awkward load only for ROOT input

    with _root_errors(path):
        f = uproot.open(path, array_cache=None)
    with _root_errors(path):
        trees = [k.split(";")[0] for k, c in f.classnames().items() if c == "TTree"]
    if schemas.JETCLASS_TREE not in trees:
        f.close()
        raise JetbenchError(f"{path}: no TTree '{schemas.JETCLASS_TREE}' (found: "
                            f"{', '.join(trees) or 'none'})")
    with _root_errors(path):
        return f, f[schemas.JETCLASS_TREE]


def infer_root_dataset(path: Path) -> str:
    """jetclass if the tree has part_px, btag if it has trk_pt."""
    f, tree = _open_tree(path)
    with f:
        keys = set(tree.keys())
    if "part_px" in keys:
        return "jetclass"
    if "trk_pt" in keys:
        return "btag"
    raise JetbenchError(f"{path}: cannot tell the dataset (no 'part_px' or 'trk_pt' branch); "
                        "pass --dataset")


def _prefetched(items: Iterator, depth: int = 1) -> Iterator:
    """Run `items` in a background thread, `depth` ahead of the consumer.

    Decompression (zlib) and awkward/numpy kernels release the GIL, so reading the next ROOT
    chunk overlaps with converting the current one. Errors are re-raised in the consumer.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as err:  # handed to the consumer thread
            put((None, err))

    thread = threading.Thread(target=work, name="jetbench-root-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, err = q.get()
            if err is not None:
                raise err
            if item is done:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _raw_chunks(path: Path, tree, branches: list[str], step: int) -> Iterator[tuple]:
    """(arrays, first entry) per step; uproot failures become one JetbenchError line."""
    it = tree.iterate(branches, step_size=step, library="ak", report=True)
    while True:
        with _root_errors(path):
            try:
                arrays, report = next(it)
            except StopIteration:
                return
        yield arrays, report.tree_entry_start


def iter_root(paths: Paths, dataset: str | None = None,
              step: int | None = None) -> Iterator[JetBatch]:
    """Stream ROOT files of the real schema as canonical batches of at most `step` jets."""
    files = expand_paths(paths)
    dataset = dataset or infer_root_dataset(files[0])
    dataset_info(dataset)
    branches = list(required_branches(dataset))
    step = step or ROOT_STEP
    for path in files:
        f, tree = _open_tree(path)
        with f:
            present = set(tree.keys())
            missing = [b for b in branches if b not in present]
            if missing:
                raise JetbenchError(f"{path}: missing branches for {dataset}: {', '.join(missing)}")
            with contextlib.closing(_prefetched(_raw_chunks(path, tree, branches, step))) as chunks:
                for arrays, first in chunks:
                    cols = {b: arrays[b] for b in branches}
                    yield batch_from_branches(cols, dataset, where=str(path), first_jet=first)


def _detect(paths: Paths) -> tuple[list[Path], str]:
    files = expand_paths(paths)
    formats = {file_format(p) for p in files}
    if len(formats) > 1:
        raise JetbenchError(f"inputs mix file formats ({', '.join(sorted(formats))})")
    return files, formats.pop()


def read_any(path: Paths, dataset: str | None = None, chunk: int | None = None
             ) -> Iterator[JetBatch]:
    """Canonical batches from any supported file(s), format detected from the content.

    `dataset` is only needed when it cannot be inferred (ROOT: from the branches; paper HDF5:
    from the vertex keys; store: recorded). A given name must match the file.
    """
    if dataset is not None:
        dataset_info(dataset)
    files, fmt = _detect(path)
    if fmt == "root":
        yield from iter_root(files, dataset, chunk)
        return
    if fmt in DEFAULT_DATASET:
        info = _format_dataset(fmt, dataset)
        read = iter_toptag_h5 if fmt == "toptag_h5" else iter_quarkgluon_npz
        for p in files:
            yield from read(p, info, chunk or 20_000)
        return
    for p in files:
        if fmt == "paper_h5":
            yield from iter_paper_h5(p, dataset, chunk or 20_000)
            continue
        with JetStore(p) as store:
            if dataset is not None and store.dataset != dataset:
                raise JetbenchError(f"{p}: store holds dataset '{store.dataset}', not '{dataset}'")
            yield from store.iter_chunks(chunk or 20_000)


def _format_dataset(fmt: str, dataset: str | None):
    """The dataset a Top Tagging / Quark-Gluon file is read as (any dataset of that format)."""
    info = dataset_info(dataset or DEFAULT_DATASET[fmt])
    if info.file_format != fmt:
        raise JetbenchError(f"dataset '{info.name}' is stored as {info.file_format}, "
                            f"these files are {fmt}")
    return info


def _infer(files: list[Path], fmt: str) -> str:
    if fmt in DEFAULT_DATASET:
        return DEFAULT_DATASET[fmt]
    if fmt == "root":
        return infer_root_dataset(files[0])
    if fmt == "store":
        with JetStore(files[0]) as store:
            return store.dataset
    with h5py.File(files[0], "r") as f:
        return infer_paper_dataset(f, files[0])


def convert_file(src: Paths, dataset: str | None, out: str | os.PathLike) -> Path:
    """Convert file(s) into one canonical store; nothing is written if anything fails.

    The store metadata records the source file names, their sha256 and the source format.
    """
    if dataset is not None:
        dataset_info(dataset)
    files, fmt = _detect(src)
    dataset = dataset or _infer(files, fmt)
    out = Path(out)
    if any(out.resolve() == p.resolve() for p in files):
        raise JetbenchError(f"{out}: output would overwrite an input file")
    meta = {"source": "convert", "source_format": fmt,
            "source_files": [{"name": p.name, "sha256": sha256_file(str(p))} for p in files]}
    with StoreWriter(out, dataset, metadata=meta) as writer:
        for batch in read_any(files, dataset):
            writer.append(batch)
        if writer.n == 0:  # raised inside the block so the writer discards its temp file
            raise JetbenchError(f"{', '.join(map(str, files))}: no jets to convert")
    return out
