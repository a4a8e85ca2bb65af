"""Reference checkpoints shipped in the package: pinned, verified before loading, used by run."""

from __future__ import annotations

import multiprocessing as mp
import os

import pytest
import torch

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import sha256_file
from jetbench.encoders import create_encoder, load_encoder, save_encoder
from jetbench.encoders import shipped as sh
from jetbench.encoders.base import tensor_batch
from tests.conftest import random_batch


def test_every_shipped_checkpoint_matches_its_pin_and_encodes():
    keys = sh.list_shipped()
    for key in keys:
        name, scale = key.split("/")
        ship = sh.shipped(name, scale)
        folder = sh.verify(ship)
        assert sha256_file(str(folder / "model.safetensors")) == ship.weights_sha256
        model = load_encoder(folder)
        assert model.meta.name == name
        batch = tensor_batch(random_batch(8, "jetclass", seed=1))
        with torch.no_grad():
            jet, tokens, mask = model.encode(batch)
        assert jet.shape == (8, model.embed_dim) and torch.isfinite(jet).all()
        assert tokens.shape[:2] == mask.shape
    if os.environ.get("JETBENCH_EXPECT_SHIPPED"):  # release check: the reference set is there
        expected = {f"{n}/cpu" for n in os.environ["JETBENCH_EXPECT_SHIPPED"].split(",")}
        assert expected <= set(keys)


@pytest.fixture()
def fake_root(tmp_path, monkeypatch):
    """A package checkpoint folder with one smoke checkpoint of `scratch`, pinned."""
    torch.manual_seed(0)
    model = create_encoder("scratch", "smoke")
    model.fit_preprocessing(random_batch(64, "jetclass", seed=2), 0)
    folder = save_encoder(model, tmp_path / "scratch" / "smoke")
    sh.record("scratch", "smoke", folder, root=tmp_path)
    monkeypatch.setattr(sh, "ROOT", tmp_path)
    return tmp_path


def test_record_pins_files_and_verify_refuses_a_changed_byte(fake_root):
    ship = sh.shipped("scratch", "smoke", root=fake_root)
    assert set(ship.files) == {"model.safetensors", "config.json"}
    assert sh.verify(ship) == fake_root / "scratch" / "smoke"
    weights = fake_root / "scratch" / "smoke" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(JetbenchError, match="refusing to load"):
        sh.verify(ship)
    weights.unlink()
    with pytest.raises(JetbenchError, match="missing"):
        sh.verify(ship)


def test_run_uses_the_shipped_checkpoint_and_says_so(fake_root, monkeypatch, tmp_path_factory,
                                                     capsys):
    from jetbench.pretraining import api

    monkeypatch.setattr(api, "shipped", lambda name, scale: sh.shipped(name, scale, fake_root))
    ckpts = tmp_path_factory.mktemp("local-ckpts")
    monkeypatch.setenv("JETBENCH_CHECKPOINTS", str(ckpts))
    called = []
    monkeypatch.setattr(api, "_pretrain_now", lambda *a, **k: called.append(a))
    monkeypatch.setenv("JETBENCH_LOG_LEVEL", "info")
    model = api.ensure_pretrained("scratch", "smoke", device="cpu")
    # the jetbench logger writes to stderr itself (it does not propagate to caplog's root handler)
    assert "using the shipped smoke checkpoint of scratch" in capsys.readouterr().err
    assert not called and not any(ckpts.iterdir())  # nothing pretrained or written locally
    ref = load_encoder(fake_root / "scratch" / "smoke")
    for (k, a), (_, b) in zip(sorted(model.state_dict().items()), sorted(ref.state_dict().items()),
                              strict=True):
        assert torch.equal(a, b), k
    # --pretrain: the shipped one is skipped and a local one is made
    with pytest.raises(Exception):  # noqa: B017 - the stub pretrains nothing, so loading fails
        api.ensure_pretrained("scratch", "smoke", device="cpu", pretrain=True)
    assert called and called[0][:2] == ("scratch", "smoke")


def _burn(seconds: float) -> None:
    import time

    end = time.time() + seconds
    x = 0.0
    while time.time() < end:
        x += 1.0


def test_pretraining_gives_the_same_bits_on_a_busy_machine(tmp_path):
    """The recipe pins torch's threads, so load and the caller's thread setting do not matter."""
    from jetbench.pretraining import pretrain

    before = torch.get_num_threads()
    a = pretrain("mpm_reg", "smoke", device="cpu", out=tmp_path / "idle", progress=False)
    burners = [mp.get_context("spawn").Process(target=_burn, args=(60.0,)) for _ in range(4)]
    for p in burners:
        p.start()
    try:
        torch.set_num_threads(max(2, os.cpu_count() or 2))
        b = pretrain("mpm_reg", "smoke", device="cpu", out=tmp_path / "busy", progress=False)
    finally:
        torch.set_num_threads(before)
        for p in burners:
            p.terminate()
            p.join()
    ha, hb = (sha256_file(str(p / "model.safetensors")) for p in (a, b))
    assert ha == hb
