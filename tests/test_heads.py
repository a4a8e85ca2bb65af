"""Heads and losses: shapes, padding invariance, symmetry, and that each can fit a toy target."""

from __future__ import annotations

import pytest
import torch

from jetbench.tasks import build_head, task_loss
from jetbench.tasks.heads import ClassAttentionHead, PairHead, pair_index, reference_class_attention
from jetbench.tasks.kinds.vertex import focal_loss
from tests.conftest import toy_task as _task

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tokens(B=6, P=9, D=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(B, P, D, generator=g)
    counts = torch.tensor([1, 2, 5, 9, 3, 7])[:B]
    mask = torch.arange(P)[None] < counts[:, None]
    return tokens.mean(1), tokens, mask


def test_class_attention_ignores_padding():
    torch.manual_seed(0)
    head = ClassAttentionHead(16, 3).eval()
    jet, tokens, mask = _tokens()
    out = head(jet, tokens, mask)
    assert out.shape == (6, 3) and torch.isfinite(out).all()
    garbage = tokens.clone()
    garbage[~mask] = 1e3
    assert torch.allclose(head(jet, garbage, mask), out, atol=1e-5)
    # extra padding slots change nothing either
    pad = torch.cat([tokens, torch.zeros(6, 4, 16)], 1)
    pmask = torch.cat([mask, torch.zeros(6, 4, dtype=torch.bool)], 1)
    assert torch.allclose(head(jet, pad, pmask), out, atol=1e-5)


def test_class_attention_equals_materialised_keys_and_values():
    torch.manual_seed(1)
    head = ClassAttentionHead(16, 3).eval().double()  # float64: the check is algebra, not rounding
    for p in head.parameters():  # move LayerNorm affine and biases away from their 1/0 init
        p.data.add_(0.3 * torch.randn_like(p))
    _, tokens, mask = _tokens()
    tokens = tokens.double().requires_grad_()
    fast, ref = head(None, tokens, mask), reference_class_attention(head, tokens, mask)
    assert float((fast - ref).abs().max()) < 1e-10 and float(ref.std()) > 0.1
    g_fast = torch.autograd.grad(fast.square().sum(), [tokens, *head.parameters()])
    g_ref = torch.autograd.grad(ref.square().sum(), [tokens, *head.parameters()])
    for a, b in zip(g_fast, g_ref, strict=True):
        assert float((a - b).abs().max()) < 1e-9 * float(b.abs().max())
        assert float(b.abs().max()) > 0  # every parameter (and the tokens) gets a gradient


def test_head_hyperparameters_match_paper():
    head = build_head(_task("jet_class", 10), in_dim=32)
    assert len(head.blocks) == 2 and head.proj.out_features == 128
    assert head.blocks[0].heads == 4 and head.blocks[0].attn_drop == 0.2
    track = build_head(_task("track_class", 4), in_dim=32)
    assert len(track.net.blocks) == 3 and track.net.inp.out_features == 128
    binary = build_head(_task("jet_class", 2, loss={"name": "bce"}), in_dim=32)
    assert binary(*_tokens(D=32)).shape == (6,)


def test_pair_head_symmetric_and_only_real_pairs():
    torch.manual_seed(0)
    head = PairHead(16).eval()
    jet, tokens, mask = _tokens()
    out = head(jet, tokens, mask)
    assert out.shape == (6, 9, 9)
    assert torch.allclose(out, out.transpose(1, 2))
    b, i, j = pair_index(mask)
    assert len(b) == sum(n * (n - 1) // 2 for n in [1, 2, 5, 9, 3, 7])
    valid = torch.zeros_like(out, dtype=torch.bool)
    valid[b, i, j] = True
    valid[b, j, i] = True
    assert (out[~valid] == 0).all() and (out[valid] != 0).all()


def test_focal_loss_downweights_easy_examples():
    target = torch.ones(2)
    easy, hard = torch.tensor([4.0]), torch.tensor([-1.0])
    ratio_focal = focal_loss(easy, target[:1], 3) / focal_loss(hard, target[:1], 3)
    ratio_bce = focal_loss(easy, target[:1], 0) / focal_loss(hard, target[:1], 0)
    assert ratio_focal < ratio_bce * 0.01
    half = focal_loss(torch.tensor([0.0]), torch.tensor([1.0]), 0).item()
    assert half == pytest.approx(0.6931, abs=1e-4)


def test_track_loss_uses_class_weights_and_ignores_padding():
    loss = task_loss(_task("track_class", 4))
    assert loss.weights.tolist() == pytest.approx([0.3868, 1.4342, 3.3482, 2.3896])
    _, tokens, mask = _tokens()
    logits = torch.randn(6, 9, 4)
    targets = torch.randint(0, 4, (6, 9))
    a = loss(logits, targets, mask)
    logits2 = logits.clone()
    logits2[~mask] = 100.0
    assert torch.allclose(a, loss(logits2, targets.masked_fill(~mask, -1), mask))


@pytest.mark.parametrize("kind,n", [("jet_class", 3), ("track_class", 4), ("vertex_pair", 2)])
def test_heads_fit_a_learnable_toy_target(kind, n):
    torch.manual_seed(1)
    task = _task(kind, n)
    B, P, D = 64, 8, 8
    tokens = torch.randn(B, P, D)
    mask = torch.arange(P)[None] < torch.randint(3, P + 1, (B,))[:, None]
    if kind == "jet_class":
        y = (tokens[:, 0, 0] > 0).long() + (tokens[:, 0, 1] > 0.5).long()
    elif kind == "track_class":
        y = (tokens[..., 0] > 0).long() * 2 + (tokens[..., 1] > 0).long()
    else:
        y = (tokens[..., 0] > 0).long()  # vertex id: same sign of feature 0 = same vertex
    head, loss = build_head(task, D), task_loss(task)
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        opt.zero_grad()
        val = loss(head(tokens.mean(1), tokens, mask), y, mask)
        first = first if first is not None else val.item()
        val.backward()
        opt.step()
    assert val.item() < 0.5 * first
