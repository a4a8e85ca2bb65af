"""Splits read in place from real files: parts -> verified file segments -> a `FileSet` index.

A split whose parts are all real files (a `{path, sha256}` file, or `{files: glob}` of the
dataset's download folder) is not copied into a store: its index lists (file, sha256, jet range)
segments and the readers decode the files as the split is read. The index is cached under
<data dir>/splits/, keyed by the part definitions, the rule and the (path, size, mtime) of every
matched file, so a re-download or an edited file re-verifies; building it checks every file's
checksum (`jetbench.data.verify`, stamped so this happens once) and reads each file's jet count.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import hash_json
from jetbench.core.log import get_logger
from jetbench.core.paths import real_data_dir
from jetbench.data.download import RECORD, read_record
from jetbench.data.fileset import SUFFIX, FileSet, Segment
from jetbench.data.format import DatasetInfo, dataset_info
from jetbench.data.ranged import JetFile, detect_format
from jetbench.data.verify import verify_real_file
from jetbench.datasets import cache
from jetbench.datasets.mixing import mix_fileset
from jetbench.datasets.spec import DataSpec, DownloadPart, FilePart

MAX_FILES = 100_000  # more matches than any public dataset has files: a glob that is too wide


def matched_files(part: DownloadPart, dataset: str) -> tuple[Path, list[Path]]:
    """The download folder and the files of `part` in it, sorted by path."""
    root = real_data_dir(dataset)
    if not root.is_dir():
        raise JetbenchError(f"{root}: no {dataset} download folder; fetch the files with "
                            f"`jetbench data download {dataset}"
                            f"{' --extract' if dataset == 'jetclass' else ''}` (or point "
                            "JETBENCH_REAL_DATA at the folder holding it)")
    found = []
    for p in sorted(root.glob(part.files)):
        rel = p.relative_to(root).as_posix()
        if not p.is_file() or p.name == RECORD or p.name.endswith(".part"):
            continue
        if part.exclude and (fnmatch.fnmatch(rel, part.exclude) or fnmatch.fnmatch(p.name, part.exclude)):
            continue
        found.append(p)
        if len(found) > MAX_FILES:
            raise JetbenchError(f"{root}: '{part.files}' matches more than {MAX_FILES} files")
    if not found:
        raise JetbenchError(f"{root}: no file matches '{part.files}'; fetch the {dataset} files "
                            f"with `jetbench data download {dataset}"
                            f"{' --extract' if dataset == 'jetclass' else ''}`")
    return root, found


def _stat(path: Path) -> list[Any]:
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def index_key(data: DataSpec, scale: str, split: str, rule: dict[str, Any] | None) -> str:
    """Cache key of a split's index: definitions, rule and the state of every file it reads."""
    files: list[Any] = []
    for part in data.parts(scale, split):
        if isinstance(part, DownloadPart):
            files.append([_stat(p) for p in matched_files(part, data.dataset)[1]])
        else:
            path = cache.resolve_file(part)
            files.append(_stat(path) if path.exists() else [str(path)])
    return hash_json({"dataset": data.dataset, "parts": [p.model_dump(mode="json")
                                                          for p in data.parts(scale, split)],
                      "files": files, "rule": rule})


def _cut(segments: list[Segment], start: int, stop: int | None, where: str) -> list[Segment]:
    """The jets [start, stop) of the concatenated segments."""
    total = sum(len(s) for s in segments)
    stop = total if stop is None else stop
    if stop > total or start >= stop:
        raise JetbenchError(f"{where}: jet range [{start}, {stop}) outside the {total} jets "
                            "of its files")
    out, row = [], 0
    for s in segments:
        a, b = max(start - row, 0), min(stop - row, len(s))
        if a < b:
            out.append(Segment(s.path, s.sha256, s.start + a, s.start + b, s.fmt))
        row += len(s)
    return out


def _file_segments(part: FilePart, info: DatasetInfo) -> list[Segment]:
    path = cache.resolve_file(part)
    cache.verify_sha256(path, part.sha256)
    if detect_format_or_none(path, info) is None:  # paper HDF5: converted once, then read
        src = cache.file_source(part, info.name)
        path = src.path
    f = JetFile(path, info)
    try:
        whole = Segment(str(path.resolve()), part.sha256, 0, len(f), f.fmt)
    finally:
        f.close()
    return _cut([whole], part.start, part.stop, str(path))


def detect_format_or_none(path: Path, info: DatasetInfo) -> str | None:
    """The ranged-reader format of a file, or None for files that must be converted first."""
    from jetbench.data.readers import file_format  # lazy: readers import uproot helpers

    return None if file_format(path) == "paper_h5" else detect_format(path, info)


def _download_segments(part: DownloadPart, info: DatasetInfo, what: str) -> list[Segment]:
    root, files = matched_files(part, info.name)
    record = read_record(root)
    segments = []
    for p in files:
        sha = verify_real_file(p, root, info, record)
        f = JetFile(p, info)
        try:
            segments.append(Segment(str(p.resolve()), sha, 0, len(f), f.fmt))
        finally:
            f.close()
    out = _cut(segments, part.start, part.stop, f"{root}/{part.files}")
    n = sum(len(s) for s in out)
    if part.expect is not None and n != part.expect:
        get_logger().warning(f"{what}: '{part.files}' holds {n} jets in {len(files)} file(s), the "
                             f"published dataset {part.expect}; reading what is there (the "
                             "data manifest records the count)")
    return out


def build_fileset(data: DataSpec, scale: str, split: str, rule: dict[str, Any] | None,
                  out: Path) -> None:
    """Verify the split's files, list their segments (CWoLa-relabelled by `rule`), save."""
    info = dataset_info(data.dataset)
    what = f"{data.name} {split} split ({scale})"
    segments: list[Segment] = []
    for part in data.parts(scale, split):
        segments += (_download_segments(part, info, what) if isinstance(part, DownloadPart)
                     else _file_segments(part, info))
    meta = {"data": data.name, "scale": scale, "split": split, "rule": rule}
    fs = FileSet(info, segments, metadata=meta)
    if rule is not None:
        fs = mix_fileset(fs, rule["background"], rule["signal"], rule["seed"], meta)
    fs.save(out)


def fileset_split(data: DataSpec, split: str, scale: str, rule: dict[str, Any] | None) -> Path:
    """The cached index of a split that reads real files in place (built on first use)."""
    key = index_key(data, scale, split, rule)
    label = f"{data.name}-{scale}-{split}" + ("-cwola" if rule else "")
    store = cache.derived_path(label, key)
    path = store.with_name(store.stem + SUFFIX)
    return cache.ensure(path, lambda out: build_fileset(data, scale, split, rule, out))
