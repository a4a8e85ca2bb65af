"""Protocol objects on a toy encoder and toy tasks (no task registry or real encoders needed):
frozen never touches the backbone, linear is affine in the cached embeddings, the cache is reused
and sparse, fine-tuning trains a copy with a freeze phase, scratch re-initialises weights only."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from jetbench.core.errors import JetbenchError
from jetbench.data.store import write_store
from jetbench.protocols import Split, get_protocol, list_protocols
from jetbench.protocols import embeddings as emb_mod
from jetbench.protocols.finetune import reinitialise
from jetbench.protocols.training import TrainSettings
from tests.conftest import random_batch, toy_task


class ToyEncoder(nn.Module):
    """Per-constituent linear map + id embedding; jet = masked mean. Counts encode() calls."""

    def __init__(self, dim: int = 16, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.meta = SimpleNamespace(name="toy", revision="r0")
        self.embed_dim = dim
        self.lin = nn.Linear(7, dim)
        self.ids = nn.Embedding(8, dim)
        self.register_buffer("shift", torch.linspace(-1, 1, 7))
        self.calls = 0
        self.jets_seen = 0

    def encode(self, batch):
        self.calls += 1
        self.jets_seen += batch["mask"].shape[0]
        mask = batch["mask"]
        raw = batch["csts"]
        feats = torch.cat([torch.log1p(raw[..., :1].clamp(min=0)), raw[..., 1:]], -1)
        x = torch.tanh(self.lin(feats - self.shift) + self.ids(batch["csts_id"]))
        x = x * mask[..., None]
        jet = x.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return jet, x, mask


def _learnable(n: int, seed: int):
    b = random_batch(n, "btag", seed)
    n = b.mask.sum(1)
    mean = lambda f: (b.csts[..., f] * b.mask).sum(1) / n  # noqa: E731
    b.labels = (mean(1) > 0).astype(np.int16) + (mean(2) > 0.2).astype(np.int16)
    kind = (b.csts[..., 1] > 0) * 2 + (b.csts[..., 2] > 0)
    b.track_type = np.where(b.mask, kind, -1).astype(np.int8)
    b.vtx_id = np.where(b.mask, (b.csts[..., 3] > 0).astype(np.int16), -1).astype(np.int16)
    return b


TOY = {"jet_class": ("toyjet", 3), "track_class": ("toytrack", 4), "vertex_pair": ("toyvtx", 2)}
TASKS = {kind: toy_task(kind, n, name=name) for kind, (name, n) in TOY.items()}


def _targets(task, batch):
    if task.head == "jet_class":
        return batch.labels.astype(np.int64)
    if task.head == "track_class":
        return batch.track_type.astype(np.int64)
    return batch.vtx_id.astype(np.int64)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    paths = {}
    for i, (name, n) in enumerate([("train", 600), ("val", 200), ("test", 200)]):
        paths[name] = root / f"{name}.h5"
        write_store(paths[name], _learnable(n, seed=10 + i), "btag")
    return {k: Split.from_store(k, v) for k, v in paths.items()}


def _state(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def test_registry_lists_protocols():
    assert list_protocols() == ["frozen", "linear", "finetune", "scratch"]
    with pytest.raises(JetbenchError, match="known: finetune, frozen, linear, scratch"):
        get_protocol("fine-tune")
    with pytest.raises(JetbenchError, match="unknown setting"):
        get_protocol("frozen", scale="smoke", nonsense=1)
    a = get_protocol("finetune", "cpu", budget=1000)
    b = get_protocol("finetune", "cpu", budget=50_000)
    # cpu (v3): the head learns first at every budget; few labels also ramp the backbone slowly
    assert a.settings["freeze_steps"] == b.settings["freeze_steps"] == 150
    assert a.settings["ramp_steps"] > b.settings["ramp_steps"] and a.hash() != b.hash()
    p1 = get_protocol("finetune", "paper", budget=1000)
    p2 = get_protocol("finetune", "paper", budget=50_000_000)
    assert p1.settings["freeze_steps"] < p2.settings["freeze_steps"]
    assert get_protocol("scratch", "paper").settings["freeze_steps"] == 0
    assert get_protocol("finetune", "paper").settings["lr"] == 1e-4


def test_frozen_never_changes_backbone_and_reuses_cache(splits):
    enc = ToyEncoder()
    before = _state(enc)
    proto = get_protocol("frozen", "smoke", max_steps=30)
    proto.fit(enc, TASKS["jet_class"], splits["train"], splits["val"], progress=False)
    for k, v in enc.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert enc.jets_seen == 800  # train + val embedded once
    scores = proto.score(splits["test"])
    assert scores.shape == (200, 3) and np.allclose(scores.sum(1), 1, atol=1e-5)
    seen = enc.jets_seen
    get_protocol("frozen", "smoke").fit(enc, TASKS["jet_class"], splits["train"], splits["val"],
                                        seed=1, progress=False).score(splits["test"])
    assert enc.jets_seen == seen  # everything came from the on-disk cache
    for k, v in enc.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_embedding_cache_is_sparse_and_exact(splits):
    enc = ToyEncoder(seed=3)
    tr = splits["train"]
    sub1 = Split.from_store("train", tr.path, np.array([5, 1, 3]))
    sub2 = Split.from_store("train", tr.path, np.array([2, 3, 9, 1]))
    emb_mod.embed(enc, sub1, progress=False)
    assert enc.jets_seen == 3
    got = emb_mod.embed(enc, sub2, progress=False)
    assert enc.jets_seen == 5  # only rows 2 and 9 were new
    ref = emb_mod.embed(enc, sub2, progress=False, use_cache=False)
    assert np.array_equal(got.rows, [2, 3, 9, 1])
    assert np.allclose(got.jet, ref.jet) and np.array_equal(got.offsets, ref.offsets)
    assert np.allclose(got.tokens.astype(np.float32), ref.tokens.astype(np.float32))
    batch = tr.load_rows(np.array([2, 3, 9, 1]))
    assert np.array_equal(np.diff(got.offsets), batch.mask.sum(1))
    with torch.no_grad():
        enc.lin.weight.add_(0.1)  # new weights -> new fingerprint -> not the stale cache
    assert emb_mod.cache_path(enc, sub2) != emb_mod.cache_path(ToyEncoder(seed=3), sub2)


def test_linear_predictions_are_affine_in_the_embedding(splits):
    enc = ToyEncoder()
    proto = get_protocol("linear", "smoke", max_steps=40)
    proto.fit(enc, TASKS["jet_class"], splits["train"], splits["val"], progress=False)
    p = proto.score(splits["test"]).astype(np.float64)
    z = emb_mod.embed(enc, splits["test"], progress=False).jet.astype(np.float64)
    logodds = np.log(p[:, 1:]) - np.log(p[:, :1])
    design = np.hstack([z, np.ones((len(z), 1))])
    coef, *_ = np.linalg.lstsq(design, logodds, rcond=None)
    resid = np.abs(design @ coef - logodds).max()
    assert resid < 1e-3 * max(np.abs(logodds).max(), 1.0)
    # and a frozen (non-linear) head is not
    frozen = get_protocol("frozen", "smoke", max_steps=40).fit(enc, TASKS["jet_class"],
                                                              splits["train"], splits["val"],
                                                              progress=False)
    q = frozen.score(splits["test"]).astype(np.float64)
    lq = np.log(q[:, 1:]) - np.log(q[:, :1])
    cq, *_ = np.linalg.lstsq(design, lq, rcond=None)
    assert np.abs(design @ cq - lq).max() > 100 * resid


@pytest.mark.parametrize("kind", ["track_class", "vertex_pair"])
def test_linear_track_and_pair_heads_have_no_hidden_layer(splits, kind):
    proto = get_protocol("linear", "smoke").fit(ToyEncoder(), TASKS[kind], splits["train"],
                                                splits["val"], progress=False)
    linears = [m for m in proto.model.head.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 1
    scores = proto.score(splits["test"])
    n_slots = 15
    assert scores.shape == ((200, n_slots, 4) if kind == "track_class" else (200, n_slots, n_slots))


def test_finetune_trains_a_copy_after_the_freeze_phase(splits):
    enc = ToyEncoder()
    before = _state(enc)
    # only the frozen phase: the backbone copy must not move
    proto = get_protocol("finetune", "smoke", max_steps=3, freeze_steps=3, ramp_steps=2)
    proto.fit(enc, TASKS["jet_class"], splits["train"], splits["val"], progress=False)
    for k, v in proto.encoder.state_dict().items():
        assert torch.equal(v, before[k]), k
    proto = get_protocol("finetune", "smoke", max_steps=8, freeze_steps=2, ramp_steps=2)
    proto.fit(enc, TASKS["jet_class"], splits["train"], splits["val"], progress=False)
    assert not torch.equal(proto.encoder.lin.weight, before["lin.weight"])
    for k, v in enc.state_dict().items():  # the caller's model is untouched
        assert torch.equal(v, before[k]), k


def test_schedule_freeze_ramp_and_cosine():
    s = TrainSettings(max_steps=100, batch_size=8, lr=1.0, warmup_steps=10, freeze_steps=20,
                      ramp_steps=10)
    assert [s.backbone_factor(i) for i in (0, 19, 20, 24, 29, 50)] == [0, 0, 0.1, 0.5, 1.0, 1.0]
    assert s.lr_factor(0) == pytest.approx(0.1) and s.lr_factor(10) == pytest.approx(1.0)
    assert s.lr_factor(99) == pytest.approx(0.01, abs=0.01)
    half = TrainSettings(max_steps=100, batch_size=8, lr=1.0, freeze_steps=20, ramp_steps=10,
                         backbone_lr_scale=0.5)
    assert [half.backbone_factor(i) for i in (19, 24, 29, 50)] == [0, 0.25, 0.5, 0.5]


def test_cpu_finetune_budget_counts_backbone_steps_only():
    """cpu fine-tuning: 150 frozen steps on top of the 21k-jet backbone budget (ramp 150 steps for
    <= 1k labels, 30 above);
    validation no more often than every 25 steps; scratch has no frozen phase and full rate."""

    class Limits:
        batch_size, max_epochs, max_steps, patience, checkpoint = 128, 50, 2000, 8, "best"

    class Task:
        def training(self, scale):
            return Limits()

    ft = get_protocol("finetune", "cpu", budget=1000).train_settings(Task(), 1000)
    assert (ft.freeze_steps, ft.ramp_steps, ft.backbone_lr_scale) == (150, 150, 0.5)
    assert ft.max_steps == 150 + 21_000 // 128
    assert ft.eval_every == 25 and ft.patience == 3  # ceil(8 epochs x 8 steps / 25)
    sc = get_protocol("scratch", "cpu", budget=1000).train_settings(Task(), 1000)
    assert (sc.freeze_steps, sc.backbone_lr_scale, sc.max_steps) == (0, 1.0, 21_000 // 128)
    assert sc.backbone_factor(0) == 1.0
    big = get_protocol("finetune", "cpu", budget=21_000).train_settings(Task(), 21_000)
    assert (big.freeze_steps, big.ramp_steps) == (150, 30)
    assert big.max_steps == 150 + 21_000 // 128


def test_scratch_reinitialises_weights_but_keeps_buffers():
    enc = ToyEncoder()
    with torch.no_grad():
        enc.shift.mul_(3)
    fresh = reinitialise(ToyEncoder(), seed=5)
    again = reinitialise(copy.deepcopy(enc), seed=5)
    assert torch.equal(again.shift, enc.shift)
    assert not torch.equal(again.lin.weight, enc.lin.weight)
    assert torch.equal(again.lin.weight, fresh.lin.weight)  # seeded


@pytest.mark.parametrize("kind", ["jet_class", "track_class", "vertex_pair"])
def test_frozen_head_learns_toy_tasks(splits, kind):
    proto = get_protocol("frozen", "smoke", max_steps=60, eval_every=20, patience=3, lr=3e-3,
                         batch_size=64)
    task = toy_task(kind, TOY[kind][1], name=TOY[kind][0], batch_size=64)  # the task sets the batch
    proto.fit(ToyEncoder(), task, splits["train"], splits["val"], progress=False)
    scores = proto.score(splits["test"])
    test = splits["test"].load()
    y = _targets(TASKS[kind], test)
    if kind == "jet_class":
        assert (scores.argmax(1) == y).mean() > 0.6  # 3 classes, majority class ~0.4
    elif kind == "track_class":
        assert (scores.argmax(-1)[test.mask] == y[test.mask]).mean() > 0.6  # 4 classes
    else:
        b, i, j = np.nonzero(np.triu(test.mask[:, :, None] & test.mask[:, None, :], 1))
        assert roc_auc_score(y[b, i] == y[b, j], scores[b, i, j]) > 0.75
