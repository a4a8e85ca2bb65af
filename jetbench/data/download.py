"""Download of the real datasets from Zenodo: checksummed, resumable, atomic.

Layout of a source (Zenodo itself, or a mirror given by `--mirror`/JETBENCH_MIRROR with the same
paths): file `{base}/records/{id}/files/{name}`, record metadata `{base}/api/records/{id}`.

Checksums: Zenodo publishes an md5 per file (record API: `files[].checksum = "md5:<hex>"`), no
sha256. We verify, in order of preference, a sha256 from our manifest (the dataset definitions
in jetbench/data/datasets/*.yaml; Quark-Gluon has them), else the md5 from the record API, else
the md5 in our manifest (JetClass: the values of the particle_transformer `get_datasets.py`,
which name the same tarballs; Top Tagging, Quark-Gluon: the published ones). The
sha256 of every file we fetch is computed while downloading and written to `SHA256SUMS` in the
destination, so later conversions can record it. A partial `<name>.part` is resumed with an
HTTP Range request; the final name appears only after the checksum matched.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import http.client
import json
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.core.files import atomic_path
from jetbench.core.log import progress_bar
from jetbench.data.definitions import DATASETS

ZENODO = "https://zenodo.org"
CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None


# the records and pinned checksums live in the dataset definitions (jetbench/data/datasets/*.yaml)
RECORDS: dict[str, int] = {n: d.zenodo_record for n, d in DATASETS.items() if d.zenodo_record}
MANIFEST: dict[str, tuple[RemoteFile, ...]] = {
    n: tuple(RemoteFile(f.name, md5=f.md5, sha256=f.sha256, size=f.size) for f in d.files)
    for n, d in DATASETS.items() if d.zenodo_record
}


def base_url(mirror: str | None = None) -> str:
    return (mirror or os.environ.get("JETBENCH_MIRROR") or ZENODO).rstrip("/")


def _open(url: str, headers: dict[str, str] | None = None, timeout: float = 60.0):
    req = urllib.request.Request(url, headers={"User-Agent": "jetbench", **(headers or {})})
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416:
            raise
        raise JetbenchError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise JetbenchError(f"{url}: cannot connect ({reason})") from None


def record_files(dataset: str, mirror: str | None = None) -> tuple[RemoteFile, ...]:
    """File list of the dataset's record: from the record API if it answers, else our manifest."""
    if dataset not in RECORDS:
        raise unknown_name("dataset", dataset, RECORDS)
    url = f"{base_url(mirror)}/api/records/{RECORDS[dataset]}"
    try:
        with _open(url, timeout=30.0) as resp:
            meta = json.load(resp)
    except JetbenchError:
        return MANIFEST[dataset]
    except ValueError as err:
        raise JetbenchError(f"{url}: record metadata is not JSON ({err})") from None
    known = {f.name: f for f in MANIFEST[dataset]}
    files = []
    for entry in meta.get("files", []):
        name = entry.get("key") or entry.get("filename")
        algo, _, digest = str(entry.get("checksum", "")).partition(":")
        md5 = digest if algo == "md5" and digest else (known[name].md5 if name in known else None)
        sha = known[name].sha256 if name in known else None
        files.append(RemoteFile(name, md5=md5, sha256=sha, size=entry.get("size")))
    if not files:
        raise JetbenchError(f"{url}: record lists no files")
    return tuple(files)


def _hashers(part: Path | None) -> dict[str, Any]:
    """sha256 and md5 of what a partial file already holds (to continue hashing on resume)."""
    h = {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}
    if part is not None and part.exists():
        with open(part, "rb") as f:
            while block := f.read(CHUNK):
                for x in h.values():
                    x.update(block)
    return h


def _request_from(url: str, part: Path):
    """Open `url`, asking for the rest of `part` if it exists; return (response, offset)."""
    offset = part.stat().st_size if part.exists() else 0
    if offset:
        try:
            resp = _open(url, {"Range": f"bytes={offset}-"})
        except urllib.error.HTTPError:  # 416: the part is not a prefix we can extend
            part.unlink()
            return _open(url), 0
        if resp.status == 206:
            return resp, offset
        part.unlink()  # server ignored the Range header: it sends the whole file again
        return resp, 0
    return _open(url), 0


def download_file(url: str, dest: str | os.PathLike, remote: RemoteFile,
                  progress: bool = True) -> str:
    """Fetch one file into `dest` (resuming `dest.part`); verify; return its sha256."""

    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    resp, offset = _request_from(url, part)
    hashers = _hashers(part if offset else None)
    total = remote.size
    if total is None and resp.headers.get("Content-Length"):
        total = offset + int(resp.headers["Content-Length"])
    bar = progress_bar(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                       desc=dest.name, enabled=progress, leave=False)
    try:
        with resp, open(part, "ab" if offset else "wb") as out, bar:
            while block := resp.read(CHUNK):
                out.write(block)
                for h in hashers.values():
                    h.update(block)
                bar.update(len(block))
    except (OSError, http.client.HTTPException) as err:
        raise JetbenchError(f"{url}: download interrupted ({err or type(err).__name__}); "
                            f"{part} kept, rerun to resume") from None
    if total is not None and part.stat().st_size < total:
        raise JetbenchError(f"{url}: connection closed after {part.stat().st_size} of {total} "
                            f"bytes; {part} kept, rerun to resume")
    got = {k: h.hexdigest() for k, h in hashers.items()}
    want = ("sha256", remote.sha256) if remote.sha256 else ("md5", remote.md5)
    if want[1] is None:
        part.unlink()
        raise JetbenchError(f"{dest.name}: no checksum known (neither manifest nor record API); "
                            "refusing an unverified file")
    if got[want[0]] != want[1].lower():
        part.unlink()
        raise JetbenchError(f"{dest.name}: {want[0]} {got[want[0]]} does not match the published "
                            f"{want[1]}; corrupted download removed")
    os.replace(part, dest)
    return got["sha256"]


def _verified(path: Path, remote: RemoteFile) -> str | None:
    """sha256 of an existing complete file if it matches its checksum, else None."""
    if not path.exists() or (remote.size is not None and path.stat().st_size != remote.size):
        return None
    h = _hashers(path)
    ok = (h["sha256"].hexdigest() == remote.sha256 if remote.sha256
          else remote.md5 is not None and h["md5"].hexdigest() == remote.md5.lower())
    return h["sha256"].hexdigest() if ok else None


def _record_sums(dest: Path, sums: dict[str, str]) -> None:
    path = dest / "SHA256SUMS"
    old = {}
    if path.exists():
        for line in path.read_text().splitlines():
            digest, _, name = line.partition("  ")
            if name:
                old[name] = digest
    old.update(sums)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{d}  {n}\n" for n, d in sorted(old.items())))


def extract_archive(path: Path, dest: Path) -> Path:
    """Unpack a tar archive into dest/<stem>/ (safe member filter; atomic directory rename)."""
    target = dest / path.name.split(".")[0]
    if target.exists():
        return target
    tmp = dest / f".{target.name}.extract-{os.getpid()}"
    try:
        with tarfile.open(path) as tar:
            tar.extractall(tmp, filter="data")
        os.replace(tmp, target)
    except (tarfile.TarError, OSError) as err:

        shutil.rmtree(tmp, ignore_errors=True)
        raise JetbenchError(f"{path}: cannot extract ({err})") from None
    return target


def download(dataset: str, dest: str | os.PathLike, mirror: str | None = None,
             files: str | None = None, extract: bool = False, progress: bool = True) -> list[Path]:
    """Download (and verify) the files of `dataset` matching the glob `files` into `dest`."""
    remotes = record_files(dataset, mirror)
    if files:
        remotes = tuple(r for r in remotes if fnmatch.fnmatch(r.name, files))
        if not remotes:
            raise JetbenchError(f"no {dataset} file matches '{files}'")
    dest = Path(dest)
    base = f"{base_url(mirror)}/records/{RECORDS[dataset]}/files"
    out, sums = [], {}
    try:
        for remote in remotes:
            path = dest / remote.name
            sha = _verified(path, remote)
            if sha is None:
                sha = download_file(f"{base}/{remote.name}?download=1", path, remote, progress)
            sums[remote.name] = sha
            out.append(extract_archive(path, dest) if extract and tarfile.is_tarfile(path)
                       else path)
    finally:
        if sums:
            with contextlib.suppress(OSError):
                _record_sums(dest, sums)
    return out
