"""Downloads against a local HTTP server on 127.0.0.1 (Range support switchable), never the net;
also a hostile mirror: path-traversal file names and checksums that disagree with the pinned ones."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
from pathlib import Path

import pytest
from branch_factory import btag_branches, jetclass_branches

from jetbench.cli import main
from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import sha256_file
from jetbench.data.download import (
    MANIFEST,
    RECORDS,
    RemoteFile,
    download,
    plain_name,
    record_files,
)
from jetbench.data.readers import read_any
from jetbench.data.rootio import write_root


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with optional HTTP Range support; records every request."""

    def log_message(self, *args) -> None:
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        rng = self.headers.get("Range")
        self.server.requests.append((self.path.split("?")[0], rng))
        if not os.path.isfile(path):
            self.send_error(404, "File not found")
            return None
        data = Path(path).read_bytes()
        if rng and self.server.ranges:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_error(416, "Range Not Satisfiable")
                return None
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            body = data[start:]
        else:
            self.send_response(200)
            body = data
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    _Handler.timeout = 5
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Handler(*a, directory=str(root)))
    httpd.requests, httpd.ranges = [], True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.root = root
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _publish(server, dataset: str, files: dict[str, bytes], api: bool = True,
             checksums: dict[str, str] | None = None) -> None:
    """Serve files like a Zenodo record (file paths + record API JSON with md5 checksums)."""
    rec = RECORDS[dataset]
    folder = server.root / "records" / str(rec) / "files"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        md5 = (checksums or {}).get(name, hashlib.md5(data).hexdigest())
        entries.append({"key": name, "size": len(data), "checksum": f"md5:{md5}"})
    if api:
        (server.root / "api" / "records").mkdir(parents=True, exist_ok=True)
        (server.root / "api" / "records" / str(rec)).write_text(json.dumps({"files": entries}))


def _btag_file(tmp_path, n=200, seed=0) -> bytes:
    path = write_root(tmp_path / f"src{seed}.root", btag_branches(n, seed=seed), "btag")
    return path.read_bytes()


def test_full_download_verifies_and_is_readable(tmp_path, server):
    data = _btag_file(tmp_path)
    _publish(server, "btag", {"test_small.root": data, "validate_small.root": data[::-1]})
    out = download("btag", tmp_path / "dl", mirror=server.url, files="test_*", progress=False)
    assert [p.name for p in out] == ["test_small.root"]
    assert out[0].read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["SHA256SUMS", "test_small.root"]
    sums = (tmp_path / "dl" / "SHA256SUMS").read_text()
    assert sums == f"{hashlib.sha256(data).hexdigest()}  test_small.root\n"
    assert sum(len(b) for b in read_any(out[0])) == 200
    n_requests = len(server.requests)
    download("btag", tmp_path / "dl", mirror=server.url, files="test_*", progress=False)
    assert len(server.requests) == n_requests + 1  # only the record API: file already verified


def test_resumed_partial_download(tmp_path, server):
    data = _btag_file(tmp_path, n=400)
    _publish(server, "btag", {"test.root": data})
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "test.root.part").write_bytes(data[: len(data) // 3])
    out = download("btag", dest, mirror=server.url, progress=False)
    assert sha256_file(str(out[0])) == hashlib.sha256(data).hexdigest()
    assert server.requests[-1] == (f"/records/{RECORDS['btag']}/files/test.root",
                                   f"bytes={len(data) // 3}-")
    assert not (dest / "test.root.part").exists()
    # a server that ignores Range sends everything again: the part is restarted, still correct
    server.ranges = False
    (dest / "test.root").unlink()
    (dest / "test.root.part").write_bytes(data[:100])
    out = download("btag", dest, mirror=server.url, progress=False)
    assert out[0].read_bytes() == data


def test_corrupted_file_is_rejected_and_removed(tmp_path, server):
    data = _btag_file(tmp_path)
    _publish(server, "btag", {"test.root": data}, checksums={"test.root": "0" * 32})
    with pytest.raises(JetbenchError, match="test.root: md5 .* does not match .*removed"):
        download("btag", tmp_path / "dl", mirror=server.url, progress=False)
    assert not (tmp_path / "dl" / "test.root").exists()
    assert not (tmp_path / "dl" / "test.root.part").exists()
    # a corrupted partial file (wrong prefix) is caught the same way
    _publish(server, "btag", {"test.root": data})
    (tmp_path / "dl" / "test.root.part").write_bytes(b"x" * 50)
    with pytest.raises(JetbenchError, match="does not match"):
        download("btag", tmp_path / "dl", mirror=server.url, progress=False)
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == []


def test_404_and_no_server_give_one_line(tmp_path, server):
    _publish(server, "btag", {}, api=False)
    with pytest.raises(JetbenchError) as err:
        download("btag", tmp_path / "dl", mirror=server.url, files="test.root", progress=False)
    assert str(err.value) == (f"{server.url}/records/{RECORDS['btag']}/files/test.root?download=1:"
                              " HTTP 404 File not found")
    with pytest.raises(JetbenchError, match="cannot connect"):
        download("btag", tmp_path / "dl", mirror="http://127.0.0.1:9", progress=False)
    with pytest.raises(JetbenchError, match="unknown dataset 'btagg'"):
        download("btagg", tmp_path / "dl", mirror=server.url)


def test_manifest_fallback_and_mirror_env(tmp_path, server, monkeypatch):
    monkeypatch.setenv("JETBENCH_MIRROR", server.url)
    names = [f.name for f in record_files("jetclass")]  # no API on the mirror: our manifest
    assert names == [f.name for f in MANIFEST["jetclass"]] and len(names) == 12
    assert all(f.md5 and len(f.md5) == 32 for f in MANIFEST["jetclass"])
    assert server.requests[-1][0] == f"/api/records/{RECORDS['jetclass']}"
    # btag files have no published checksum without the API: refuse rather than trust
    _publish(server, "btag", {"test.root": b"abc"}, api=False)
    with pytest.raises(JetbenchError, match="no checksum known"):
        download("btag", tmp_path / "dl", files="test.root", progress=False)
    assert not list((tmp_path / "dl").glob("test.root*"))


def test_jetclass_tarball_is_extracted(tmp_path, server, monkeypatch):
    src = write_root(tmp_path / "HToBB_000.root", jetclass_branches(50), "jetclass")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(src, arcname="val_5M/HToBB_000.root")
    name = "JetClass_Pythia_val_5M.tar"  # pinned md5 wins: pin the small stand-in's
    monkeypatch.setitem(MANIFEST, "jetclass", tuple(
        RemoteFile(f.name, md5=hashlib.md5(buf.getvalue()).hexdigest(), pinned=True)
        if f.name == name else f for f in MANIFEST["jetclass"]))
    _publish(server, "jetclass", {name: buf.getvalue()})
    out = download("jetclass", tmp_path / "dl", mirror=server.url, files="*val*", extract=True,
                   progress=False)
    assert out == [tmp_path / "dl" / "JetClass_Pythia_val_5M"]
    assert sum(len(b) for b in read_any(str(out[0] / "val_5M" / "*.root"))) == 50


# -- a hostile mirror: nothing lands outside --dest; a mismatch is one line and no file --------
def _api(server, dataset: str, entries: list[dict]) -> None:
    (server.root / "api" / "records").mkdir(parents=True, exist_ok=True)
    (server.root / "api" / "records" / str(RECORDS[dataset])).write_text(
        json.dumps({"files": entries}))


@pytest.mark.parametrize("name", ["../x", "../../etc/x", "/tmp/abs_x", "a/b", "..", ".",
                                  "sub\\x", "nul\x00x", "C:x", "", None, 7])
def test_remote_names_must_be_plain(tmp_path, server, name):
    _api(server, "btag", [{"key": name, "size": 3, "checksum": "md5:" + "0" * 32}])
    dest = tmp_path / "inside" / "dest"
    with pytest.raises(JetbenchError, match="is not a plain file name"):
        download("btag", dest, mirror=server.url, progress=False)
    assert not (tmp_path / "inside").exists()
    assert [p for p in tmp_path.rglob("*") if "www" not in p.parts] == []
    assert [r for r, _ in server.requests if "/files/" in r] == []  # nothing was fetched


def test_pinned_md5_wins_over_the_mirror(tmp_path, server, capsys):
    """The mirror serves another file under a pinned name, with that file's own md5."""
    name = "JetClass_Pythia_val_5M.tar"
    pinned = next(f.md5 for f in MANIFEST["jetclass"] if f.name == name)
    data = b"not the JetClass validation tarball" * 100
    _publish(server, "jetclass", {name: data})  # API md5 = md5(data): consistent, but not ours
    dest = tmp_path / "dl"
    code = main(["data", "download", "jetclass", "--mirror", server.url, "--dest", str(dest),
                 "--files", "*val*", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (f"jetbench: error: {name}: md5 {hashlib.md5(data).hexdigest()} does "
                           f"not match the pinned {pinned}; corrupted download removed")
    assert not list(dest.glob(f"{name}*")), "partial file removed"


def test_wrong_published_md5_is_refused_via_cli(tmp_path, server, capsys):
    _publish(server, "btag", {"test.root": b"abc" * 1000}, checksums={"test.root": "f" * 32})
    code = main(["data", "download", "btag", "--mirror", server.url, "--dest",
                 str(tmp_path / "dl"), "--no-progress"])
    assert code == 2 and "does not match the published" in capsys.readouterr().err
    assert list((tmp_path / "dl").iterdir()) == []


def test_plain_name_accepts_real_names():
    for name in ("JetClass_Pythia_train_100M_part0.tar", "train_small.root", "a b-c.d"):
        assert plain_name(name, "x") == name
