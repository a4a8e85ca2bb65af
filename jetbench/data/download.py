"""Download of the real datasets from Zenodo: checksummed, resumable, atomic.

Layout of a source (Zenodo itself, or a mirror given by `--mirror`/JETBENCH_MIRROR with the same
paths): file `{base}/records/{id}/files/{name}`, record metadata `{base}/api/records/{id}`.

Checksums: Zenodo publishes an md5 per file (record API: `files[].checksum = "md5:<hex>"`), no
sha256. A checksum pinned in our manifest (the dataset definitions in
jetbench/data/datasets/*.yaml) always wins over the source's, since a mirror could serve a
different file with a matching md5: we verify a pinned sha256 (Quark-Gluon has them), else a
pinned md5 (JetClass: the values of the particle_transformer `get_datasets.py`, which name the
same tarballs; Top Tagging, Quark-Gluon: the published ones), else the md5 from the record API.
The sha256 of every file we fetch is computed while downloading and written to `SHA256SUMS` in the
destination (with `--extract`, also the sha256 of every file unpacked from an archive, whose
checksum was verified first): that record is what the real-data splits check the files they
read against (`jetbench.data.verify`). A partial `<name>.part` is resumed with an
HTTP Range request; the final name appears only after the checksum matched; a mismatch removes
the partial file.

The record API is untrusted input too: a file name must be a plain name (no path separators,
`..`, NUL or control characters) before it is joined to the destination.
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
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.core.files import atomic_path
from jetbench.core.log import progress_bar
from jetbench.core.preflight import check_output_dir
from jetbench.data.definitions import DATASETS

ZENODO = "https://zenodo.org"
CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None
    pinned: bool = False  # the checksum comes from jetbench's manifest, not from the source


# the records and pinned checksums live in the dataset definitions (jetbench/data/datasets/*.yaml)
RECORDS: dict[str, int] = {n: d.zenodo_record for n, d in DATASETS.items() if d.zenodo_record}
MANIFEST: dict[str, tuple[RemoteFile, ...]] = {
    n: tuple(RemoteFile(f.name, md5=f.md5, sha256=f.sha256, size=f.size,
                        pinned=bool(f.md5 or f.sha256)) for f in d.files)
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
    entries = meta.get("files") if isinstance(meta, dict) else None
    if not isinstance(entries, list) or not entries:
        raise JetbenchError(f"{url}: record lists no files")
    known = {f.name: f for f in MANIFEST[dataset]}
    return tuple(_remote(entry, known, url) for entry in entries)


def _remote(entry: Any, known: dict[str, RemoteFile], url: str) -> RemoteFile:
    """One file of the record API, its name checked and any pinned checksum kept."""
    if not isinstance(entry, dict):
        raise JetbenchError(f"{url}: malformed file entry {str(entry)[:80]!r}")
    name = plain_name(entry.get("key") or entry.get("filename"), url)
    if name in known and (known[name].sha256 or known[name].md5):
        pin = known[name]
        size = pin.size if pin.size is not None else _size(entry)
        return RemoteFile(name, md5=pin.md5, sha256=pin.sha256, size=size, pinned=True)
    algo, _, digest = str(entry.get("checksum", "")).partition(":")
    md5 = digest.lower() if algo == "md5" and _is_hex(digest, 32) else None
    return RemoteFile(name, md5=md5, size=_size(entry))


def plain_name(name: Any, where: str) -> str:
    """`name` if it is a plain file name (safe to join to a folder); else a one-line error."""
    if (not isinstance(name, str) or not name or name in (".", "..") or len(name) > 255
            or any(c in name for c in "/\\:") or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise JetbenchError(f"{where}: file name {str(name)[:80]!r} is not a plain file name; "
                            "refusing a record that could write outside the destination")
    return name


def _size(entry: dict) -> int | None:
    size = entry.get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789abcdefABCDEF" for c in text)


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
        source = "pinned" if remote.pinned else "published"
        raise JetbenchError(f"{dest.name}: {want[0]} {got[want[0]]} does not match the {source} "
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


RECORD = "SHA256SUMS"


def read_record(dest: str | os.PathLike) -> dict[str, str]:
    """The download record of a folder: {path relative to it: sha256} (`sha256sum -c` format),
    empty when there is none."""
    path = Path(dest) / RECORD
    out: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            digest, _, name = line.partition("  ")
            if name:
                out[name] = digest
    return out


def record_sums(dest: str | os.PathLike, sums: dict[str, str]) -> None:
    """Add (or replace) entries of the download record, atomically."""
    dest = Path(dest)
    old = read_record(dest)
    old.update(sums)
    with atomic_path(dest / RECORD) as tmp:
        tmp.write_text("".join(f"{d}  {n}\n" for n, d in sorted(old.items())))


def _hash_file(path: Path) -> str:
    return _hashers(path)["sha256"].hexdigest()


def extract_archive(path: Path, dest: Path) -> Path:
    """Unpack a tar archive into dest/<stem>/ (safe member filter; atomic directory rename) and
    record the sha256 of every extracted file (`<stem>/<member>`) in the download record: the
    archive's checksum was verified, so these are the published files' contents."""
    target = dest / path.name.split(".")[0]
    if not target.exists():
        tmp = dest / f".{target.name}.extract-{os.getpid()}"
        try:
            with tarfile.open(path) as tar:
                tar.extractall(tmp, filter="data")
            os.replace(tmp, target)
        except (tarfile.TarError, OSError) as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise JetbenchError(f"{path}: cannot extract ({err})") from None
    prefix = f"{target.name}/"
    if not any(name.startswith(prefix) for name in read_record(dest)):
        record_sums(dest, {p.relative_to(dest).as_posix(): _hash_file(p)
                           for p in sorted(target.rglob("*")) if p.is_file()})
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
    missing = [r for r in remotes if not (dest / plain_name(r.name, base)).exists()]
    check_output_dir(dest, "download folder", sum(r.size or 0 for r in missing))
    out, sums = [], {}
    try:
        for remote in remotes:
            path = dest / plain_name(remote.name, base)
            sha = _verified(path, remote)
            if sha is None:
                url = f"{base}/{urllib.parse.quote(remote.name)}?download=1"
                sha = download_file(url, path, remote, progress)
            sums[remote.name] = sha
            out.append(extract_archive(path, dest) if extract and tarfile.is_tarfile(path)
                       else path)
    finally:
        if sums:
            with contextlib.suppress(OSError):
                record_sums(dest, sums)
    return out
