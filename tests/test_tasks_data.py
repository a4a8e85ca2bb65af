"""Splits, cache, budgets, CWoLa samples, targets and manifests — with a fast fake generator
(random canonical jets, deterministic in the seed) patched in for `jetbench.generate.generate_file`.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import jetbench.generate as gen
from jetbench.cli import main as cli_main
from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import sha256_file
from jetbench.data.fileset import is_fileset, open_jets
from jetbench.data.format import dataset_info
from jetbench.data.store import JetStore, verify_store, write_store
from jetbench.tasks import (
    budget_indices,
    check_disjoint,
    cwola_layout,
    get_task,
    jet_identities,
    manifest_hash,
    pretrain_split,
    task_split,
    task_targets,
)
from tests.conftest import random_batch
from tests.test_tasks_registry import base_task


class FakeGenerator:
    """Stands in for the Pythia generator: logs each call (to a file, so forked processes count)."""

    def __init__(self, log: Path, delay: float = 0.0):
        self.log, self.delay = log, delay

    def __call__(self, profile, n, seed, out, workers=1, fmt="h5", classes=None, progress=True):
        with open(self.log, "a") as f:
            f.write(f"{profile} {n} {seed}\n")
        time.sleep(self.delay)
        labels = dataset_info(profile).labels
        cls = list(classes or labels)
        batch = random_batch(n, profile, seed)
        batch.labels = np.array([labels.index(cls[i % len(cls)]) for i in range(n)], np.int16)
        write_store(out, batch, profile, {"profile": profile, "seed": seed, "classes": cls})
        return Path(out)

    @property
    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setenv("JETBENCH_DATA", str(tmp_path / "data"))
    g = FakeGenerator(tmp_path / "calls.log")
    monkeypatch.setattr(gen, "generate_file", g, raising=False)
    monkeypatch.setattr(gen, "GENERATOR_VERSION", "fake-1", raising=False)
    return g


def test_split_generated_once_then_reused(fake):
    path = task_split("btag", "train", "smoke")
    assert fake.calls == ["btag 150 2101"]
    t0 = time.perf_counter()
    again = task_split("btag", "train", "smoke")
    assert again == path and fake.calls == ["btag 150 2101"]  # second use: no generation
    assert time.perf_counter() - t0 < 0.05
    with JetStore(path) as s:
        assert len(s) == 150 and s.dataset == "btag"
    # vertexing and trackid share btag's data: nothing new to generate
    assert task_split("vertexing", "train", "smoke") == path
    assert len(fake.calls) == 1


def test_generator_version_is_part_of_the_key(fake, monkeypatch):
    p1 = task_split("btag", "val", "smoke")
    monkeypatch.setattr(gen, "GENERATOR_VERSION", "fake-2")
    p2 = task_split("btag", "val", "smoke")
    assert p1 != p2 and len(fake.calls) == 2


def test_manifest_hash_stable_and_splits_disjoint(fake, tmp_path, monkeypatch):
    h1 = manifest_hash("jetclass", "smoke")
    assert manifest_hash("jetclass", "smoke") == h1
    n_calls = len(fake.calls)
    # a fresh machine (empty cache) regenerates the same jets -> the same manifest hash
    monkeypatch.setenv("JETBENCH_DATA", str(tmp_path / "elsewhere"))
    assert manifest_hash("jetclass", "smoke") == h1 and len(fake.calls) == 2 * n_calls
    assert manifest_hash("btag", "smoke") != h1
    paths = {s: task_split("jetclass", s, "smoke") for s in ("train", "val", "test")}
    paths["pretrain"] = pretrain_split("smoke")
    ids = {s: set(jet_identities(p).tolist()) for s, p in paths.items()}
    assert sum(map(len, ids.values())) == 200 + 100 + 200 + 200
    for a in ids:
        for b in ids:
            assert a == b or not ids[a] & ids[b]
    check_disjoint(paths)
    copy = tmp_path / "copy.h5"
    shutil.copy(paths["train"], copy)
    with pytest.raises(JetbenchError, match="share 200 jets"):
        check_disjoint({"train": paths["train"], "test": copy})


def test_budgets_nested_balanced_and_fixed(fake):
    b50 = budget_indices("jetclass", "smoke", 50)
    b100 = budget_indices("jetclass", "smoke", 100)
    b200 = budget_indices("jetclass", "smoke", 200)
    assert set(b50) < set(b100) < set(b200) and len(b200) == 200
    assert np.array_equal(b50, budget_indices("jetclass", "smoke", 50, seed=7))  # not run-seeded
    with JetStore(task_split("jetclass", "train", "smoke")) as s:
        labels = s[b50].labels
    assert np.bincount(labels, minlength=10).tolist() == [5] * 10
    with pytest.raises(JetbenchError, match="exceeds the 200 jets"):
        budget_indices("jetclass", "smoke", 201)
    with pytest.raises(JetbenchError, match="positive whole number"):
        budget_indices("jetclass", "smoke", 0)
    with pytest.raises(JetbenchError, match="unknown scale 'gpu'"):
        budget_indices("jetclass", "gpu", 10)


def test_run_seeded_budget_shuffle(fake, tmp_path):
    t = base_task("tinyrun")
    t["budget_shuffle"] = "run"
    (tmp_path / "tinyrun.yaml").write_text(yaml.safe_dump(t))
    spec = get_task("tinyrun", [tmp_path])
    a, b = budget_indices(spec, "smoke", 30, seed=0), budget_indices(spec, "smoke", 30, seed=1)
    assert not np.array_equal(a, b)
    assert set(budget_indices(spec, "smoke", 15, seed=1)) < set(b)


def test_cwola_mixed_samples_and_true_test_labels(fake):
    spec = get_task("cwola")
    train = task_split(spec, "train", "smoke")
    assert cwola_layout(train) == {"n_background": 100, "n_signal": 20,
                                   "n_background_mixture1": 50}
    i10, i20 = budget_indices(spec, "smoke", 10), budget_indices(spec, "smoke", 20)
    assert set(i10) < set(i20) and len(i10) == 110 and set(range(100)) <= set(i10)
    with JetStore(train) as s:
        y = task_targets(spec, s[i10])
    assert y[:100].sum() == 50 and y[100:].sum() == 10  # QCD halves 0/1, signal joins 1
    with JetStore(task_split(spec, "test", "smoke")) as s:
        y_test = task_targets(spec, s.read())
        truth = s.read().labels
    assert y_test.sum() == 50 and np.array_equal(y_test == 1, truth == 8)
    with pytest.raises(JetbenchError, match="signal jets, the train split has 20"):
        budget_indices(spec, "smoke", 21)
    verify_store(train)


def test_targets_per_head(fake):
    batch = random_batch(20, "btag", seed=1)
    batch.mask[:, 10:] = False
    tt = task_targets("trackid", batch)
    vx = task_targets("vertexing", batch)
    assert tt.shape == vx.shape == (20, 15)
    assert (tt[:, 10:] == -1).all() and (vx[:, 10:] == -1).all()
    assert np.array_equal(tt[:, :10], batch.track_type[:, :10])
    assert np.array_equal(task_targets("btag", batch), batch.labels)
    batch.vtx_id = None
    with pytest.raises(JetbenchError, match="needs 'vtx_id'"):
        task_targets("vertexing", batch)
    with pytest.raises(JetbenchError, match="neither QCD nor Tbqq"):
        task_targets("cwola", random_batch(50, "jetclass", seed=2))


def _ask(_):
    return str(task_split("btag", "test", "smoke"))


def test_two_processes_asking_at_once_generate_once(fake, monkeypatch):
    monkeypatch.setattr(gen, "generate_file", FakeGenerator(fake.log, delay=1.0))
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        paths = pool.map(_ask, [0, 1])
    assert paths[0] == paths[1]
    assert fake.calls == ["btag 150 2103"]
    verify_store(paths[0])
    assert not list(Path(paths[0]).parent.glob(".*.tmp-*"))


def test_real_file_parts_with_ranges_and_sha256(fake, tmp_path):
    src = tmp_path / "real.h5"
    write_store(src, random_batch(90, "btag", seed=42), "btag")
    digest = sha256_file(str(src))
    t = base_task("tinyfile")
    ranges = {"train": (0, 60), "val": (60, 75), "test": (75, 90)}
    t["data"] = {"dataset": "btag", "scales": {s: {k: {"path": str(src), "sha256": digest,
                                                       "start": a, "stop": b}
                                                   for k, (a, b) in ranges.items()}
                                               for s in ("smoke", "cpu", "paper")}}
    (tmp_path / "tinyfile.yaml").write_text(yaml.safe_dump(t))
    spec = get_task("tinyfile", [tmp_path])
    val = task_split(spec, "val", "smoke")
    assert is_fileset(val)  # a range of a real file is read in place, not copied
    with open_jets(val) as s, JetStore(src) as full:
        assert len(s) == 15 and np.array_equal(s.read().csts, full[60:75].csts)
    assert len(budget_indices(spec, "smoke", 30)) == 30 and fake.calls == []
    manifest_hash(spec, "smoke")
    t["data"]["scales"]["smoke"]["test"]["sha256"] = "0" * 64
    (tmp_path / "tinyfile.yaml").write_text(yaml.safe_dump(t))
    with pytest.raises(JetbenchError, match="does not match the task's"):
        task_split(get_task("tinyfile", [tmp_path]), "test", "smoke")


def test_cli_data_prepare(fake, capsys):
    assert cli_main(["data", "prepare", "btag", "--scale", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "manifest hash " + manifest_hash("btag", "smoke") in out and "disjoint" in out
    assert cli_main(["list", "tasks"]) == 0
    listing = capsys.readouterr().out
    assert "vertexing" in listing and "balanced_accuracy" in listing and "1k*" in listing


@pytest.mark.slow
def test_real_generator_smoke_btag(monkeypatch, tmp_path):
    """End to end with the embedded Pythia generator (smoke btag: 3 x 150 jets)."""
    if not hasattr(gen, "generate_file"):
        pytest.skip("the embedded generator (jetbench.generate.generate_file) is not installed")
    from jetbench.tasks import prepare_task

    monkeypatch.setenv("JETBENCH_DATA", str(tmp_path / "data"))
    info = prepare_task("btag", "smoke", workers=2, progress=False)
    assert [v["n_jets"] for v in info["splits"].values()] == [150, 150, 150]
    with JetStore(task_split("btag", "train", "smoke")) as s:
        batch = s[budget_indices("btag", "smoke", 60)]
    assert np.bincount(batch.labels, minlength=3).tolist() == [20, 20, 20]
    vx = task_targets("vertexing", batch)
    assert (vx[~batch.mask] == -1).all() and (vx[batch.mask] >= 0).all()
