"""Pretraining losses fall: 100 Adam steps of every smoke-size pretrainable encoder, fixed batch.

The batch is structured so that masked particles are predictable from the rest of the jet (all
particles of a jet share a latent; ids follow the jet), as in real jets; on pure noise only the
marginals could be learned.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jetbench.data.format import JetBatch
from jetbench.encoders import PretrainableEncoder, create_encoder, list_encoders, tensor_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")
STEPS = 100


def learnable_batch(n: int = 24, n_slots: int = 24, seed: int = 0) -> JetBatch:
    """Jets whose particles share a per-jet latent: features = f(latent, rank) + small noise."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(8, n_slots + 1, n)
    mask = np.arange(n_slots)[None] < counts[:, None]
    z = rng.normal(size=(n, 1, 3))
    rank = np.arange(n_slots)[None, :, None] / n_slots
    mix = rng.normal(size=(3, 7))
    csts = z @ mix + 2.0 * rank * mix[0] + 0.1 * rng.normal(size=(n, n_slots, 7))
    csts[..., 0] = np.exp(2.0 + z[..., 0] - 3.0 * rank[..., 0])  # pT decreasing with rank
    csts = np.where(mask[..., None], csts, 0).astype(np.float32)
    ids = np.where(z[:, :, 1] > 0, 1, 3) + 2 * (rank[..., 0] > 0.5) * (z[:, :, 2] > 0)
    ids = np.where(mask, ids, 0).astype(np.int8)  # charged only: every feature is informative
    jets = np.ones((n, 5), np.float32)
    return JetBatch(csts=csts, csts_id=ids, mask=mask, jets=jets, labels=np.zeros(n, np.int16))


PRETRAINED = [n for n in list_encoders() if create_encoder(n, "smoke").needs_pretraining]


TASK_LOG = {"reg": "reg_", "kmeans": "kmeans_ce", "binning": "binning_ce", "vqvae": "vqvae_ce",
            "flow": "flow_nll", "cfm": "cfm_mse"}


def loss_curve(name: str, steps: int = STEPS, **overrides) -> tuple[np.ndarray, np.ndarray]:
    """(total loss per step, the target's own loss per step)."""
    torch.manual_seed(0)
    model: PretrainableEncoder = create_encoder(name, "smoke", **overrides)
    sample = learnable_batch(64, seed=1)
    model.fit_preprocessing(sample, seed=0)
    batch = tensor_batch(learnable_batch(24, seed=2))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    target = getattr(model, "target", None)
    prefix = TASK_LOG[target.kind] if target is not None else "loss"
    losses, task = [], []
    for _ in range(steps):
        loss, logs = model.pretrain_loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        task.append(next(v for k, v in logs.items() if k.startswith(prefix)))
    return np.array(losses), np.array(task)


def fell_clearly(curve: np.ndarray) -> bool:
    """Last-10 mean at least 20% of |first-10 mean| below the first-10 mean (NLL may be < 0)."""
    first, last = curve[:10].mean(), curve[-10:].mean()
    return bool(first - last > 0.2 * abs(first))


@pytest.mark.parametrize("name", PRETRAINED)
def test_loss_falls(name):
    """Total loss and the target's own term (not just the MPMv2 id term) fall clearly."""
    losses, task = loss_curve(name)
    print(f"{name}: loss {losses[:10].mean():.3f} -> {losses[-10:].mean():.3f}, "
          f"target term {task[:10].mean():.3f} -> {task[-10:].mean():.3f}")
    assert np.isfinite(losses).all()
    assert fell_clearly(losses) and fell_clearly(task)


@pytest.mark.parametrize("ordering", ["none", "backbone"])
def test_mpmv1_other_orderings_train(ordering):
    losses, _ = loss_curve("mpmv1_reg", ordering=ordering)
    assert fell_clearly(losses)
