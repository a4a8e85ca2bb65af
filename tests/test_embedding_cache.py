"""The embedding cache folder: cap from the environment, listing per encoder/task, clearing."""

from __future__ import annotations

import json

import pytest

from jetbench.cli import main
from jetbench.core.errors import JetbenchError
from jetbench.protocols import embedding_cache as ec


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JETBENCH_DATA", str(tmp_path))
    monkeypatch.delenv(ec.CAP_ENV, raising=False)
    return ec.cache_root()


def _entry(root, encoder, revision, store, size, task=None):
    path = root / encoder / revision / f"{store}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"e" * size)
    ec.record_use(path, encoder, task)
    return path


def test_cap_from_environment(cache, monkeypatch):
    assert ec.cap_bytes() == 20 * 10**9
    monkeypatch.setenv(ec.CAP_ENV, "0.5")
    assert ec.cap_bytes() == 5 * 10**8
    monkeypatch.setenv(ec.CAP_ENV, "lots")
    with pytest.raises(JetbenchError, match="expected a number of gigabytes"):
        ec.cap_bytes()


def test_writes_over_the_cap_evict_the_least_recently_used(cache, monkeypatch, capsys):
    monkeypatch.setenv(ec.CAP_ENV, str(250 / 1e9))  # 250 bytes
    old = _entry(cache, "mpm_flow", "r1", "s1", 100, "btag")
    mid = _entry(cache, "mpm_flow", "r2", "s1", 100, "btag")
    assert ec.enforce_cap(mid) == []
    new = _entry(cache, "scratch", "r1", "s1", 100, "jetclass")
    assert [e.path for e in ec.enforce_cap(new)] == [old]
    assert not old.exists() and mid.exists() and new.exists()
    assert "removed 1 least recently used file(s)" in capsys.readouterr().err


def test_list_and_clear_by_encoder_task_or_all(cache, capsys):
    _entry(cache, "mpm_flow", "r1", "s1", 300, "btag")
    shared = _entry(cache, "mpm_flow", "r1", "s2", 200, "btag")
    ec.record_use(shared, "mpm_flow", "vertexing")  # one store, two tasks
    _entry(cache, "scratch", "r1", "s1", 50, "jetclass")
    legacy = cache / "ssfm" / "r9" / "s1.npz"  # written before uses were recorded
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"e" * 10)
    assert main(["cache", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    groups = [(g["encoder"], g["tasks"], g["files"], g["bytes"]) for g in listing["groups"]]
    assert groups == [("mpm_flow", "btag", 1, 300), ("mpm_flow", "btag,vertexing", 1, 200),
                      ("scratch", "jetclass", 1, 50), ("ssfm", "?", 1, 10)]
    assert listing["bytes"] == 560
    assert main(["cache", "list"]) == 0
    assert "560 B of 20.0 GB" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 2
    assert "say what to clear" in capsys.readouterr().err
    assert ec.clear(task="vertexing") == (1, 200)  # the shared file goes with either task
    assert ec.clear(encoder="mpm_flow", task="jetclass") == (0, 0)  # both must match
    assert main(["cache", "clear", "--encoder", "ssfm"]) == 0
    assert capsys.readouterr().out == "removed 1 file(s), 10 B\n"
    assert ec.clear(everything=True) == (2, 350)
    assert ec.summary() == []
