"""The streaming loader (paper-scale splits) and the bf16 autocast path, on tiny stores:
every row once per epoch whatever the number of workers or ranks, loader flags right for the
device, streamed training and scoring agree with the in-memory path, and a fine-tuning step runs
under bf16 autocast on CPU when the precision option asks for it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jetbench.core.errors import JetbenchError
from jetbench.data.store import write_store
from jetbench.protocols import Split, get_protocol
from jetbench.protocols.data import RawSource
from jetbench.protocols.loader import ChunkStream, StreamSource, loader_options
from jetbench.protocols.training import TaskModel, TrainSettings, autocast, predict, train
from tests.conftest import random_batch, toy_task
from tests.test_protocols import ToyEncoder

N = 300


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("loader") / "jets.h5"
    batch = random_batch(N, "btag", seed=3)
    write_store(path, batch, "btag")
    return path, batch


def _labels(batch):
    return batch.labels.astype(np.int64)


def _rows(ds: ChunkStream, workers: int) -> list[int]:
    loader = torch.utils.data.DataLoader(ds, **loader_options("cpu", workers))
    return [int(r) for _, _, rows in loader for r in rows]


@pytest.mark.parametrize("workers", [0, 2])
def test_each_epoch_yields_every_row_once(store, workers):
    path, batch = store
    rows = np.sort(np.random.default_rng(0).choice(N, 200, replace=False))
    ds = ChunkStream(path, rows, _labels, batch_size=16, seed=5, chunk=32, streams=3,
                     workers=workers)
    seen = _rows(ds, workers)
    assert sorted(seen) == rows.tolist()  # each once, nothing else
    ds.set_epoch(1)
    again = _rows(ds, workers)
    assert sorted(again) == rows.tolist() and again != seen  # a new order per epoch
    for inputs, y, r in torch.utils.data.DataLoader(ds, **loader_options("cpu", workers)):
        np.testing.assert_array_equal(y.numpy(), batch.labels[r.numpy()])  # targets follow rows
        p = inputs["mask"].shape[1]
        np.testing.assert_array_equal(inputs["csts"].numpy(), batch.csts[r.numpy(), :p])
        assert inputs["mask"].shape[0] <= 16 and inputs["csts_id"].dtype == torch.int64


def test_ranks_share_the_rows_without_overlap(store):
    path, _ = store
    rows = np.arange(N)
    parts = [_rows(ChunkStream(path, rows, _labels, 10, seed=1, chunk=20, rank=r, world=2,
                               workers=2), 2) for r in (0, 1)]
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == rows.tolist()


def test_loader_options_follow_the_device():
    cpu, gpu = loader_options("cpu", 0), loader_options("cuda:0", 4)
    assert cpu["pin_memory"] is False and "prefetch_factor" not in cpu and cpu["num_workers"] == 0
    assert gpu["pin_memory"] is True and gpu["prefetch_factor"] >= 2 and gpu["num_workers"] == 4
    assert gpu["batch_size"] is None and gpu["persistent_workers"] is False  # epoch reaches workers


def test_streamed_training_and_scoring_match_the_in_memory_path(store):
    path, batch = store
    spec = toy_task("jet_class", 3)
    kind = spec.kind
    model = TaskModel(kind.build_head(16, linear=False), ToyEncoder(16))
    mem = RawSource(batch, kind.targets(batch))
    stream = StreamSource(path, np.arange(N), kind.targets, batch_size=64, workers=2, chunk=50)
    expect = predict(model, mem, kind, batch.n_slots, batch_size=64)
    got = predict(model, stream, kind, batch.n_slots, batch_size=64)
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6)  # placed back by row
    s = TrainSettings(max_steps=6, batch_size=32, lr=1e-3, eval_every=3, patience=5, val_max=64)
    hist = train(model, kind.loss(), stream, mem, s, seed=0)
    assert hist.steps == 6 and np.isfinite(hist.train_loss).all()


def test_bf16_autocast_finetune_step_on_cpu(store):
    """`precision='bf16'` runs the forward pass under CPU bf16 autocast (linear layers compute
    in bfloat16); weights and loss stay float32; fp32 runs without autocast."""
    path, batch = store
    spec = toy_task("jet_class", 3)
    kind = spec.kind
    seen: dict[str, torch.dtype] = {}
    model = TaskModel(kind.build_head(16, linear=False), ToyEncoder(16))
    model.encoder.lin.register_forward_hook(lambda m, i, o: seen.__setitem__("lin", o.dtype))
    src = RawSource(batch, kind.targets(batch))
    s = TrainSettings(max_steps=2, batch_size=32, lr=1e-3, eval_every=2, patience=5, val_max=32)
    hist = train(model, kind.loss(), src, src, s, seed=0, precision="bf16")
    assert seen["lin"] == torch.bfloat16 and np.isfinite(hist.train_loss).all()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    train(model, kind.loss(), src, src, s, seed=0, precision="fp32")
    assert seen["lin"] == torch.float32
    scores = predict(model, src, kind, batch.n_slots, precision="bf16")
    assert scores.dtype == np.float32 and np.isfinite(scores).all()
    with pytest.raises(JetbenchError, match="unknown precision 'fp16'"):
        autocast("cpu", "fp16")


def test_finetune_protocol_streams_a_split_too_large_to_hold(store, monkeypatch):
    """Above JETBENCH_MAX_IN_MEMORY_GB the protocol reads the split through the loader (the
    paper-scale path) and validates on a val_max sample; the fit and the scores still work."""
    path, batch = store
    monkeypatch.setenv("JETBENCH_MAX_IN_MEMORY_GB", "1e-6")
    monkeypatch.setenv("JETBENCH_LOADER_WORKERS", "2")
    spec = toy_task("jet_class", 3)
    proto = get_protocol("finetune", scale="smoke")
    proto.precision = "bf16"
    train_split = Split.from_store("train", path, np.arange(0, 200))
    assert train_split.streams()
    assert isinstance(proto.fit(ToyEncoder(16), spec, train_split,
                                Split.from_store("val", path, np.arange(200, 300)), seed=0)
                      .source(train_split), StreamSource)
    scores = proto.score(Split.from_store("test", path, np.arange(200, 300)))
    assert scores.shape == (100, 3) and np.allclose(scores.sum(1), 1, atol=1e-2)


@pytest.mark.parametrize("head,n_classes", [("jet_class", 3), ("track_class", 4)])
def test_chunked_test_predictions_equal_the_loaded_ones(store, monkeypatch, head, n_classes):
    """A test split too large to load is turned into stored predictions chunk by chunk: the
    same arrays as from the loaded split."""
    from jetbench.evaluation import run as run_mod

    path, batch = store
    spec = toy_task(head, n_classes)
    rows = np.arange(N)
    shape = (N, n_classes) if head == "jet_class" else (N, batch.n_slots, n_classes)
    scores = np.random.default_rng(0).dirichlet(np.ones(n_classes), shape[:-1]).astype(np.float32)
    whole = run_mod.test_predictions(spec, Split.from_store("test", path, rows), scores)
    monkeypatch.setenv("JETBENCH_MAX_IN_MEMORY_GB", "1e-6")
    monkeypatch.setattr(run_mod, "SCORE_CHUNK", 70)
    chunked = run_mod.test_predictions(spec, Split.from_store("test", path, rows), scores)
    for key, a in whole.arrays().items():
        np.testing.assert_array_equal(chunked.arrays()[key], a, err_msg=key)
