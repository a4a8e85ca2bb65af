"""Encoder contract for every registered encoder (smoke size): symmetry, padding, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jetbench.encoders import (
    PretrainableEncoder,
    create_encoder,
    list_encoders,
    load_encoder,
    save_encoder,
    tensor_batch,
)
from tests.conftest import random_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")
NAMES = list_encoders()
_FITTED: dict[str, PretrainableEncoder] = {}


def fitted(name: str, **overrides) -> PretrainableEncoder:
    """A smoke-size encoder with its preprocessing fitted on a small random sample (cached)."""
    key = name + repr(sorted(overrides.items()))
    if key not in _FITTED:
        torch.manual_seed(0)
        model = create_encoder(name, "smoke", **overrides)
        model.fit_preprocessing(random_batch(64, seed=11), seed=0)
        _FITTED[key] = model
    return _FITTED[key]


@pytest.fixture(scope="module")
def batch():
    return tensor_batch(random_batch(6, seed=3))


def test_registry_lists_reference_encoders():
    expected = {
        "mpmv1_vqvae",
        "mpmv1_kmeans",
        "mpmv1_binning",
        "mpmv1_reg",
        "mpm_reg",
        "mpm_kmeans",
        "mpm_vqvae",
        "mpm_flow",
        "mpm_cfm",
        "ssfm",
        "scratch",
        "nobackbone",
    }
    assert expected <= set(NAMES)


def test_builtin_factories_are_module_attributes():
    """Variants made by register_variant keep their name and resolve as 'module:factory' specs."""
    from jetbench.encoders.registry import get_factory

    for name in ("mpmv1_kmeans", "mpm_flow", "ssfm", "nobackbone"):
        factory = get_factory(name)
        assert factory.__name__ == name
        assert get_factory(f"{factory.__module__}:{name}") is factory
    model = create_encoder("jetbench.encoders.mpmv2:mpm_kmeans", "smoke", drop_frac=0.5)
    assert model.name == "mpm_kmeans" and model.drop_frac == 0.5 and model.embed_dim == 32
    assert model.get_config()["target_cfg"]["k"] == 32 and model.get_config()["id_weight"] == 0.3


@pytest.mark.parametrize("name", NAMES)
def test_encode_shapes_and_meta(name, batch):
    model = fitted(name).eval()
    jet, tokens, mask = model.encode(batch)
    B, P = batch["mask"].shape
    D = model.embed_dim
    assert jet.shape == (B, D) and tokens.shape == (B, P, D) and torch.equal(mask, batch["mask"])
    assert torch.isfinite(jet).all() and torch.isfinite(tokens).all()
    assert tokens[~mask].abs().max() == 0  # zeros at padding
    meta = model.meta
    assert meta.name == name and meta.embed_dim == D and meta.n_params > 0
    assert len(meta.revision) == 16


@pytest.mark.parametrize("name", NAMES)
def test_permutation_symmetry(name, batch):
    """Tokens equivariant, jet embedding invariant (1e-5), under any permutation of the slots."""
    model = fitted(name).eval()
    perm = torch.randperm(batch["mask"].shape[1], generator=torch.Generator().manual_seed(1))
    shuffled = {k: v[:, perm] for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        jet, tokens, _ = model.encode(batch)
        jet_p, tokens_p, _ = model.encode(shuffled)
    assert (jet_p - jet).abs().max() < 1e-5
    assert (tokens_p - tokens[:, perm]).abs().max() < 1e-5


def test_backbone_ordering_breaks_permutation_invariance(batch):
    """MPMv1 with ordering='backbone' adds sequence positions at the input: not invariant."""
    model = fitted("mpmv1_reg", ordering="backbone").eval()
    perm = torch.randperm(batch["mask"].shape[1], generator=torch.Generator().manual_seed(1))
    shuffled = {k: v[:, perm] for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        jet, tokens, _ = model.encode(batch)
        jet_p, tokens_p, _ = model.encode(shuffled)
    assert (jet_p - jet).abs().max() > 1e-3
    assert (tokens_p - tokens[:, perm]).abs().max() > 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_extra_padding_changes_nothing(name, batch):
    model = fitted(name).eval()
    B, P = batch["mask"].shape
    padded = {
        "csts": torch.cat([batch["csts"], torch.zeros(B, 9, 7)], 1),
        "csts_id": torch.cat([batch["csts_id"], torch.zeros(B, 9, dtype=torch.long)], 1),
        "mask": torch.cat([batch["mask"], torch.zeros(B, 9, dtype=torch.bool)], 1),
    }
    # garbage in padded slots must be ignored too
    padded["csts"][:, :P][~batch["mask"]] = 123.0
    with torch.no_grad():
        jet, tokens, _ = model.encode(batch)
        jet_p, tokens_p, mask_p = model.encode(padded)
    assert (jet_p - jet).abs().max() < 1e-5
    assert (tokens_p[:, :P] - tokens).abs().max() < 1e-5
    assert tokens_p[:, P:].abs().max() == 0 and mask_p.shape == (B, P + 9)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_identical(name, batch, tmp_path):
    model = fitted(name).eval()
    save_encoder(model, tmp_path / name)
    loaded = load_encoder(tmp_path / name)
    with torch.no_grad():
        a = model.encode(batch)
        b = loaded.encode(batch)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    assert loaded.meta == model.meta
    if isinstance(model, PretrainableEncoder) and model.needs_pretraining:
        torch.manual_seed(5)
        la, _ = model.train().pretrain_loss(batch)
        torch.manual_seed(5)
        lb, _ = loaded.train().pretrain_loss(batch)
        model.eval()
        assert torch.allclose(la, lb, rtol=1e-5, atol=1e-6)  # fitted target state travels too


@pytest.mark.parametrize("name", NAMES)
def test_pretrain_step_finite(name, batch):
    model = fitted(name)
    if not (isinstance(model, PretrainableEncoder) and model.needs_pretraining):
        pytest.skip(f"{name} is not pretrained")
    model.train()
    loss, logs = model.pretrain_loss(batch)
    model.eval()
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert all(np.isfinite(v) for v in logs.values())
    loss.backward()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    unused = [n for n, p in trainable.items() if p.grad is None]
    assert not unused  # every trainable parameter is used: DDP needs no find_unused_parameters
    assert all(torch.isfinite(p.grad).all() for p in trainable.values())
    model.zero_grad(set_to_none=True)


def test_eval_is_deterministic_train_noise_is_seeded(batch):
    model = fitted("scratch")
    batch = dict(batch)
    batch["csts_id"] = torch.zeros_like(batch["csts_id"])  # all photons: impact params are noise
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.encode(batch)[0], model.encode(batch)[0])
        x_eval, _, mask = model.inputs(batch)
        assert x_eval[..., 3:][mask].abs().max() == 0
        model.train()
        g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
        assert torch.equal(model.inputs(batch, g1)[0], model.inputs(batch, g2)[0])
        noise = model.inputs(batch)[0][..., 3:][mask]
        assert 0.8 < noise.std() < 1.2
    model.eval()


def test_packed_transformer_equals_padded(monkeypatch):
    """Packing the real tokens (the fast path for ragged batches) is the same function as running
    the padded layout with a key mask: outputs and gradients agree at every real position."""
    from jetbench.encoders import backbone

    torch.manual_seed(0)
    model = backbone.Transformer(32, 2, 4, layerscale_init=0.5)
    x = torch.randn(5, 12, 32)
    valid = torch.arange(12)[None] < torch.tensor([12, 7, 3, 1, 9])[:, None]
    assert float(valid.float().mean()) <= backbone.PACK_BELOW

    def run(pack_below):
        monkeypatch.setattr(backbone, "PACK_BELOW", pack_below)
        model.zero_grad()
        xi = x.clone().requires_grad_(True)
        out = model(xi, valid)
        out[valid].pow(2).sum().backward()
        return out.detach(), xi.grad, [p.grad.clone() for p in model.parameters()]

    packed, gx_p, gp_p = run(1.0)
    padded, gx_d, gp_d = run(-1.0)
    assert torch.allclose(packed[valid], padded[valid], atol=1e-5)
    assert float(packed[~valid].abs().max()) == 0.0
    assert torch.allclose(gx_p[valid], gx_d[valid], atol=1e-5)
    for a, b in zip(gp_p, gp_d, strict=True):
        assert torch.allclose(a, b, atol=1e-4)
