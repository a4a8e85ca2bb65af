"""Checkpoints never unpickle; registry names, specs, entry points; transform matches sklearn."""

from __future__ import annotations

import importlib.metadata
import json
import pickle
import struct

import numpy as np
import pytest
import torch
from torch import nn

from jetbench.core.errors import JetbenchError
from jetbench.encoders import Encoder, create_encoder, load_encoder, save_encoder, tensor_batch
from jetbench.encoders.registry import ENTRY_POINT_GROUP
from tests.conftest import random_batch


class TinyEncoder(Encoder):
    """A third-party encoder: mean of a linear map of the raw features."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.embed_dim = width
        self.lin = nn.Linear(7, width)
        self._config = {"width": width}

    def encode(self, batch):
        mask = batch["mask"]
        tokens = self.lin(batch["csts"]) * mask.unsqueeze(-1)
        jet = tokens.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return jet, tokens, mask


def tiny(width: int = 4) -> TinyEncoder:
    return TinyEncoder(width)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    model = create_encoder("mpm_kmeans", "smoke")
    model.fit_preprocessing(random_batch(32, seed=1), seed=0)
    path = tmp_path_factory.mktemp("ckpt") / "mpm_kmeans"
    save_encoder(model.eval(), path)
    return model, path


def _copy(src, dst):
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def _fix_sha(path):
    """Make config.json agree with a tampered tensor file (so the framing check is what refuses)."""
    from jetbench.core.hashing import sha256_file

    cfg = json.loads((path / "config.json").read_text())
    cfg["weights_sha256"] = sha256_file(str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps(cfg))


def test_checkpoint_holds_fitted_state(saved):
    model, path = saved
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["class"] == "jetbench.encoders.mpmv2:MPMv2" and cfg["config"]["target"] == "kmeans"
    assert cfg["meta"]["revision"] == model.meta.revision
    loaded = load_encoder(path)
    assert torch.equal(loaded.transform.quantiles, model.transform.quantiles)
    assert torch.equal(loaded.target.centroids, model.target.centroids)
    assert loaded.transform.is_fitted and not loaded.training


@pytest.mark.parametrize("payload", ["torch_save", "raw_pickle"])
def test_pickle_payload_refused(saved, tmp_path, payload):
    _, src = saved
    bad = _copy(src, tmp_path / "bad")
    target = bad / "model.safetensors"
    if payload == "torch_save":
        torch.save({"x": torch.zeros(2)}, target)  # zip archive containing data.pkl
    else:
        target.write_bytes(pickle.dumps({"x": np.zeros(2)}, protocol=4))
    _fix_sha(bad)
    with pytest.raises(JetbenchError, match="pickle") as err:
        load_encoder(bad)
    assert str(target) in str(err.value)


def test_tampered_header_refused(saved, tmp_path):
    _, src = saved
    bad = _copy(src, tmp_path / "bad")
    target = bad / "model.safetensors"
    raw = target.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    key = next(k for k in header if k != "__metadata__")
    del header["__metadata__"]  # room for the longer dtype name, same header length
    header[key]["dtype"] = "PICKLE"
    blob = json.dumps(header, separators=(",", ":")).encode()
    assert len(blob) <= n
    blob = blob.ljust(n)
    target.write_bytes(raw[:8] + blob + raw[8 + n :])
    _fix_sha(bad)
    with pytest.raises(JetbenchError, match="tampered") as err:
        load_encoder(bad)
    assert str(target) in str(err.value)


def test_corrupt_checkpoints_refused_with_path(saved, tmp_path):
    _, src = saved
    truncated = _copy(src, tmp_path / "trunc")
    w = truncated / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-100])
    with pytest.raises(JetbenchError, match="corrupt") as err:
        load_encoder(truncated)
    assert str(w) in str(err.value)
    _fix_sha(truncated)  # even with a matching hash, safetensors sees the short buffer
    with pytest.raises(JetbenchError, match="corrupt"):
        load_encoder(truncated)
    broken_cfg = _copy(src, tmp_path / "cfg")
    (broken_cfg / "config.json").write_text("{not json")
    with pytest.raises(JetbenchError, match="config.json"):
        load_encoder(broken_cfg)
    with pytest.raises(JetbenchError, match="no such checkpoint"):
        load_encoder(tmp_path / "missing")


def test_registry_errors_name_the_problem():
    with pytest.raises(JetbenchError, match="did you mean 'mpm_flow'"):
        create_encoder("mpm_flwo")
    with pytest.raises(JetbenchError, match="unknown scale"):
        create_encoder("scratch", "huge")
    with pytest.raises(JetbenchError, match="unknown option 'widht'"):
        create_encoder("scratch", "smoke", widht=3)
    with pytest.raises(JetbenchError, match="unknown option"):
        create_encoder("mpm_kmeans", "smoke", target_cfg={"kk": 3})
    with pytest.raises(JetbenchError, match="no attribute"):
        create_encoder("jetbench.encoders.baselines:nothing_here")


def test_overrides_and_specs():
    model = create_encoder("mpm_kmeans", "smoke", dim=16, target_cfg={"k": 8})
    assert model.embed_dim == 16 and model.target.n_classes == 8
    assert model.get_config()["target_cfg"]["smoothing"] == 0.1  # unchanged keys kept
    spec = create_encoder("jetbench.encoders.baselines:scratch", "smoke")
    assert spec.embed_dim == 32
    third = create_encoder("tests.test_encoders_checkpoint:tiny", width=3)
    assert third.meta.name == "tests.test_encoders_checkpoint:tiny" and third.embed_dim == 3


def test_entry_point_encoder(monkeypatch, tmp_path):
    ep = importlib.metadata.EntryPoint(name="tiny_ep", value="tests.test_encoders_checkpoint:tiny",
                                       group=ENTRY_POINT_GROUP)
    real = importlib.metadata.entry_points

    def fake(**kw):
        return [ep] if kw.get("group") == ENTRY_POINT_GROUP else real(**kw)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    from jetbench.encoders import list_encoders

    assert "tiny_ep" in list_encoders()
    model = create_encoder("tiny_ep", width=5)
    assert model.meta.name == "tiny_ep" and model.embed_dim == 5
    save_encoder(model, tmp_path / "tiny")  # third-party classes round-trip too
    batch = tensor_batch(random_batch(3, seed=0))
    assert torch.equal(load_encoder(tmp_path / "tiny").encode(batch)[0], model.encode(batch)[0])


def test_quantile_transform_matches_sklearn():
    from sklearn.preprocessing import QuantileTransformer

    model = create_encoder("scratch", "smoke")
    sample = random_batch(200, seed=4)
    sample.csts[..., 3][sample.mask & (sample.csts_id % 2 == 0)] = 0.0  # repeated values
    model.fit_preprocessing(sample, seed=0)
    x = sample.csts[sample.mask].astype(np.float64)
    ref = QuantileTransformer(n_quantiles=500, output_distribution="normal", subsample=len(x),
                              random_state=0).fit(x).transform(x)
    tb = tensor_batch(sample)
    charged = torch.ones_like(tb["csts_id"])  # no neutral replacement for this comparison
    ours = model.eval().transform(tb["csts"], charged, tb["mask"])[tb["mask"]].numpy()
    assert np.abs(ours - ref).max() < 1e-4
    assert abs(ours.mean()) < 0.05 and abs(ours.std() - 1) < 0.1


def test_unfitted_encoder_refuses_to_encode():
    model = create_encoder("scratch", "smoke")
    with pytest.raises(JetbenchError, match="not fitted"):
        model.encode(tensor_batch(random_batch(2)))
    with pytest.raises(JetbenchError, match="no pretraining objective"):
        model.pretrain_loss(tensor_batch(random_batch(2)))


def test_cli_lists_encoders(capsys):
    from jetbench.cli import main

    assert main(["list", "encoders", "--scale", "smoke"]) == 0
    out = capsys.readouterr().out
    for name in ("mpm_flow", "mpmv1_vqvae", "ssfm", "scratch"):
        assert name in out
