"""The size-capped cache folder: least recently used entries are evicted first."""

from __future__ import annotations

import os

from jetbench.core.lru import LruDir, remove, sidecar


class Clock:
    """A clock the test moves by hand, so 'older' does not depend on timer resolution."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _write(cache: LruDir, rel: str, size: int, **tags: str):
    path = cache.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    cache.used(path, **tags)
    return path


def test_cap_evicts_the_oldest_entry(tmp_path):
    cache = LruDir(tmp_path, cap_bytes=300, pattern="*.npz", clock=Clock())
    a = _write(cache, "enc/r1/a.npz", 100)
    b = _write(cache, "enc/r1/b.npz", 100)
    c = _write(cache, "enc/r2/c.npz", 100)
    assert cache.evict(keep=[c]) == [] and cache.total() == 300  # at the cap, not over it
    d = _write(cache, "other/r1/d.npz", 100)
    gone = cache.evict(keep=[d])
    assert [e.path for e in gone] == [a]  # the oldest one, and only as many as needed
    assert not a.exists() and not sidecar(a).exists()
    assert b.exists() and c.exists() and d.exists() and cache.total() == 300


def test_a_read_makes_an_entry_recent(tmp_path):
    cache = LruDir(tmp_path, cap_bytes=250, pattern="*.npz", clock=Clock())
    a = _write(cache, "a.npz", 100)
    b = _write(cache, "b.npz", 100)
    cache.used(a)  # read again: now b is the least recently used
    c = _write(cache, "c.npz", 100)
    assert [e.path.name for e in cache.evict(keep=[c])] == ["b.npz"]
    assert a.exists() and not b.exists()


def test_the_entry_just_written_is_kept_even_alone_over_the_cap(tmp_path):
    cache = LruDir(tmp_path, cap_bytes=50, pattern="*.npz", clock=Clock())
    old = _write(cache, "old.npz", 40)
    big = _write(cache, "big.npz", 200)
    assert [e.path for e in cache.evict(keep=[big])] == [old]
    assert big.exists() and cache.total() == 200


def test_access_time_is_recorded_by_the_cache_not_the_filesystem(tmp_path):
    cache = LruDir(tmp_path, cap_bytes=150, pattern="*.npz", clock=Clock())
    a = _write(cache, "a.npz", 100)
    b = _write(cache, "b.npz", 100)
    # the filesystem says a is the newer file; the cache's record says a is older
    os.utime(a, (5e9, 5e9))
    os.utime(b, (1.0, 1.0))
    assert [e.path for e in cache.evict()] == [a]


def test_tags_accumulate_and_unrecorded_entries_use_mtime(tmp_path):
    cache = LruDir(tmp_path, cap_bytes=10**6, pattern="*.npz", clock=Clock())
    a = _write(cache, "mpm/r/a.npz", 10, encoder="mpm", task="btag")
    cache.used(a, task="vertexing")
    legacy = tmp_path / "mpm" / "r" / "legacy.npz"
    legacy.write_bytes(b"y" * 7)
    os.utime(legacy, (10.0, 10.0))
    (tmp_path / "mpm" / "r" / "x.lock").write_text("")  # other files are not entries
    entries = cache.entries()
    assert [e.path.name for e in entries] == ["legacy.npz", "a.npz"]  # mtime 10 < clock 1001
    assert entries[0].tags == {} and entries[0].last_used == 10.0
    assert entries[1].tags == {"encoder": ["mpm"], "task": ["btag", "vertexing"]}
    assert remove(a) and not a.exists() and remove(a)  # removing twice is fine
    assert LruDir(tmp_path / "missing", 1).entries() == []
