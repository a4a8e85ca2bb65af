"""Pretraining loop: LR schedule, sampler, atomic checkpoints, exact resume, probe, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pretrain_toy
import pytest
import torch
from conftest import random_batch
from safetensors.torch import load_file

from jetbench.data.store import write_store
from jetbench.pretraining import WarmupExpDecay, pretrain
from jetbench.pretraining.checkpointing import (
    STATE_DIR,
    join_tensors,
    latest_checkpoint,
    split_tensors,
)
from jetbench.pretraining.probe import OnlineProbe
from jetbench.pretraining.sampler import BatchSampler, rank_slice

TOY = "pretrain_toy:make_toy"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("pretrain-data") / "pretrain.h5"
    write_store(path, random_batch(400, seed=3), "jetclass")
    return path


def run(store, out, **kw):
    args = {
        "steps": 12,
        "batch_size": 16,
        "data": store,
        "progress": False,
        "log_every": 1,
        "ckpt_every": 4,
    }
    return pretrain(TOY, "smoke", out=out, **{**args, **kw})


def weights(path):
    return load_file(str(path / "model.safetensors"))


def log(path):
    return [json.loads(line) for line in (path / "pretrain_log.jsonl").read_text().splitlines()]


# ---- schedule -----------------------------------------------------------------------------------
def test_schedule_by_hand():
    s = WarmupExpDecay.scaled(1_000_000)
    assert (s.warmup_steps, s.half_life, s.base_lr) == (
        50_000,
        100_000,
        1e-3,
    )  # the paper's numbers
    assert s.lr(0) == pytest.approx(1e-3 / 50_000)
    assert s.lr(24_999) == pytest.approx(0.5e-3)  # linear warm-up: halfway = half the LR
    assert s.lr(49_999) == pytest.approx(1e-3)
    assert s.lr(50_000) == pytest.approx(1e-3)
    assert s.lr(150_000) == pytest.approx(0.5e-3)  # one half-life after warm-up
    assert s.lr(250_000) == pytest.approx(0.25e-3)
    small = WarmupExpDecay.scaled(2_000)  # scaled proportionally: 5 % warm-up, 10 % half-life
    assert (small.warmup_steps, small.half_life) == (100, 200)
    assert small.lr(100 + 200) == pytest.approx(small.lr(100) / 2)
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
    assert small.apply(opt, 49) == opt.param_groups[0]["lr"] == pytest.approx(0.5e-3)
    # the cpu scale stretches the half-life to 35 % of its 1200 steps: warm-up 60, half-life 420
    from jetbench.pretraining.config import PretrainConfig

    cfg = PretrainConfig.for_scale("mpm_flow", "cpu")
    cpu = WarmupExpDecay.scaled(cfg.steps, cfg.lr, cfg.half_life_fraction)
    assert (cpu.warmup_steps, cpu.half_life) == (60, 420)
    assert cpu.lr(1199) == pytest.approx(1e-3 * 0.5 ** (1139 / 420))  # ~15 % of the peak at the end


# ---- sampler ------------------------------------------------------------------------------------
def test_sampler_epochs_resume_and_rank_slices():
    a = BatchSampler(100, 30, seed=1)
    epoch0 = np.concatenate([a.next() for _ in range(3)])
    assert len(set(epoch0.tolist())) == 90  # no repeats within an epoch; the 10-jet tail is skipped
    assert a.next().tolist() != epoch0[:30].tolist() and a.epoch == 1  # reshuffled next epoch
    b = BatchSampler(100, 30, seed=1)
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.next(), b.next())
    index = np.arange(8)
    assert np.array_equal(np.concatenate([rank_slice(index, r, 2) for r in range(2)]), index)
    with pytest.raises(Exception, match="split evenly"):
        rank_slice(np.arange(9), 0, 2)


def test_block_sampler_visits_each_jet_once_per_epoch_in_block_order():
    s = BatchSampler(5120, 128, seed=2, block_chunks=2)  # 5 chunks of 1024 -> blocks of 2, 2, 1
    epoch = np.concatenate([s.next() for _ in range(40)])
    assert sorted(epoch.tolist()) == list(range(5120)) and s.epoch == 0
    first_block = set((epoch[:2048] // 1024).tolist())
    assert len(first_block) == 2  # the first 2048 jets come from two chunks only
    s.next()
    assert s.epoch == 1


def test_streamed_data_serves_the_same_jets(tmp_path, monkeypatch):
    from jetbench.pretraining import data as data_module

    path = tmp_path / "big.h5"
    jets = random_batch(2500, seed=4)
    write_store(path, jets, "jetclass")
    memory = data_module.PretrainData(path)
    monkeypatch.setattr(data_module, "BLOCK_CHUNKS", 1)
    stream = data_module.PretrainData(path, max_bytes=0)
    assert memory.in_memory and not stream.in_memory and stream.block_chunks == 1
    index = np.array([2400, 3, 1500, 1024, 1023, 7])
    a, la = memory.gather(index, torch.device("cpu"))
    b, lb = stream.gather(index, torch.device("cpu"))
    assert torch.equal(la, lb) and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(la, torch.from_numpy(jets.labels[index].astype(np.int64)))
    sample = stream.sample(1500, seed=0)  # whole chunks of the store
    assert len(sample) == 1500 and sample.validate() is sample


def test_state_tree_roundtrip_keeps_int_keys():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.ones(4, 3)).sum().backward()
    opt.step()
    skeleton, tensors = split_tensors({"opt": opt.state_dict(), "x": [1, 2.5, None, "a"]})
    json.dumps(skeleton)  # plain JSON, no pickle anywhere
    back = join_tensors(json.loads(json.dumps(skeleton)), tensors)
    assert set(back["opt"]["state"]) == {0, 1}  # int parameter indices survive JSON
    assert torch.equal(back["opt"]["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    opt2 = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters())
    opt2.load_state_dict(back["opt"])
    assert len(opt2.state) == 2


# ---- end to end, checkpoints and resume ---------------------------------------------------------
def test_run_writes_checkpoint_log_and_summary(store, tmp_path):
    out = run(store, tmp_path / "a")
    summary = json.loads((out / "pretrain_log.json").read_text())
    records = log(out)
    assert [r["step"] for r in records] == list(range(1, 13))
    assert summary["steps"] == 12 and summary["loss_start"] == records[0]["loss"]
    assert all(math.isfinite(r["loss"]) and 0 <= r["probe_acc"] <= 1 for r in records)
    schedule = WarmupExpDecay.scaled(12)
    assert [r["lr"] for r in records] == pytest.approx([schedule.lr(i) for i in range(12)])
    assert not (out / STATE_DIR).exists()  # training state removed once the final checkpoint exists
    assert (out / "model.safetensors").read_bytes()[:1] != b"\x80"  # safetensors, not a pickle


@pytest.mark.parametrize("how", ["error", "sigint"])
def test_resume_after_interruption_gives_identical_weights(store, tmp_path, how):
    ref = run(store, tmp_path / "ref")
    pretrain_toy.INTERRUPT.update(at=7, how=how)  # inside the 7th step
    try:
        with pytest.raises(RuntimeError if how == "error" else KeyboardInterrupt):
            run(store, tmp_path / "cut")
    finally:
        pretrain_toy.INTERRUPT.clear()
    state = latest_checkpoint(tmp_path / "cut" / STATE_DIR)
    # a crash falls back to the last periodic checkpoint; Ctrl-C finishes the step and saves it
    assert state.name == ("step-000000004" if how == "error" else "step-000000007")
    assert not (tmp_path / "cut" / "pretrain_log.json").exists()
    out = run(store, tmp_path / "cut", resume=True)
    got, want = weights(out), weights(ref)
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert [r["loss"] for r in log(out)] == [r["loss"] for r in log(ref)]
    assert [r["probe_acc"] for r in log(out)] == [r["probe_acc"] for r in log(ref)]


def test_non_finite_loss_stops_before_checkpointing(store, tmp_path):
    pretrain_toy.INTERRUPT.update(at=6, how="nan")  # steps 6.. produce NaN; checkpoint at 4 is clean
    try:
        with pytest.raises(FloatingPointError, match="between steps 5 and 6"):
            run(store, tmp_path / "nan", log_every=1)
    finally:
        pretrain_toy.INTERRUPT.clear()
    state = latest_checkpoint(tmp_path / "nan" / STATE_DIR)
    assert state.name == "step-000000004"
    assert all(torch.isfinite(t).all() for t in load_file(str(state / "model" / "model.safetensors")).values())


def test_checkpoint_write_is_atomic(store, tmp_path, monkeypatch):
    from jetbench.pretraining import checkpointing

    real_save, calls = checkpointing.save_file, []

    def failing_save(tensors, path, *a, **k):
        calls.append(path)
        if len(calls) == 2:  # the second checkpoint dies half-way
            with open(path, "wb") as f:
                f.write(b"partial")
            raise OSError("disk full")
        return real_save(tensors, path, *a, **k)

    monkeypatch.setattr(checkpointing, "save_file", failing_save)
    with pytest.raises(OSError, match="disk full"):
        run(store, tmp_path / "x")
    root = tmp_path / "x" / STATE_DIR
    assert sorted(p.name for p in root.iterdir()) == [
        "latest.json",
        "step-000000004",
    ]  # no temp leftovers
    assert latest_checkpoint(root).name == "step-000000004"
    monkeypatch.setattr(checkpointing, "save_file", real_save)
    out = run(store, tmp_path / "x", resume=True)
    assert all(
        torch.equal(a, b)
        for a, b in zip(weights(out).values(), weights(run(store, tmp_path / "y")).values(), strict=True)
    )


def test_resume_with_other_settings_is_refused(store, tmp_path):
    pretrain_toy.INTERRUPT.update(at=6, how="error")
    try:
        with pytest.raises(RuntimeError):
            run(store, tmp_path / "z")
    finally:
        pretrain_toy.INTERRUPT.clear()
    from jetbench.core.errors import JetbenchError

    with pytest.raises(JetbenchError, match="batch_size=16 \\(now 32\\)"):
        run(store, tmp_path / "z", resume=True, batch_size=32)


# ---- probe --------------------------------------------------------------------------------------
def test_probe_never_sends_gradients_into_the_encoder():
    torch.manual_seed(0)
    model = pretrain_toy.ToyEncoder()
    from jetbench.encoders.base import tensor_batch

    batch = tensor_batch(random_batch(32, seed=5))
    torch.manual_seed(1)
    model.pretrain_loss(batch)[0].backward()
    before = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    probe = OnlineProbe(model.embed_dim, 10)
    jet, _, _ = model.encode(batch)  # with autograd on: the probe must detach it itself
    assert jet.requires_grad
    w0 = probe.linear.weight.detach().clone()
    probe.update(jet, batch["labels"])
    after = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert after.keys() == before.keys()
    assert all(torch.equal(after[n], before[n]) for n in before)
    assert not torch.equal(probe.linear.weight, w0)  # while the probe itself did learn
    assert probe.pop_accuracy() is not None and probe.pop_accuracy() is None


# ---- CLI ----------------------------------------------------------------------------------------
def test_cli_unknown_encoder_is_one_line_exit_2(capsys):
    from jetbench.cli import main

    assert main(["pretrain", "--encoder", "mpm_flwo", "--scale", "smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown encoder 'mpm_flwo'" in err


def test_cli_pretrain_prints_checkpoint(store, tmp_path, capsys):
    from jetbench.cli import main

    code = main(
        [
            "pretrain",
            "--encoder",
            TOY,
            "--scale",
            "smoke",
            "--steps",
            "3",
            "--batch-size",
            "8",
            "--data",
            str(store),
            "--out",
            str(tmp_path / "c"),
            "--no-progress",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "c")
    assert json.loads((tmp_path / "c" / "pretrain_log.json").read_text())["steps"] == 3


# ---- real encoders --------------------------------------------------------------------------------
def test_real_encoder_smoke_end_to_end(store, tmp_path):
    from jetbench.encoders import load_encoder, tensor_batch

    out = pretrain(
        "mpm_reg", "smoke", steps=4, batch_size=16, data=store, out=tmp_path / "reg", progress=False, log_every=1
    )
    summary = json.loads((out / "pretrain_log.json").read_text())
    assert summary["steps"] == 4 and math.isfinite(summary["loss_end"])
    model = load_encoder(out)
    jet, tokens, mask = model.encode(tensor_batch(random_batch(8, seed=9)))
    assert jet.shape == (8, model.embed_dim) and torch.isfinite(tokens).all()
    assert summary["probe_acc_end"] is not None


def test_real_encoder_resume_is_exact(store, tmp_path, monkeypatch):
    """mpm_reg draws its masks (and impact-parameter noise) from torch's RNG: checkpointed too."""
    from jetbench.pretraining.loop import PretrainLoop

    kw = {"steps": 5, "batch_size": 16, "data": store, "progress": False, "ckpt_every": 2}
    ref = pretrain("mpm_reg", "smoke", out=tmp_path / "ref", **kw)
    real_step = PretrainLoop.train_step

    def dying_step(self):
        if self.step == 3:
            raise RuntimeError("node lost")
        return real_step(self)

    monkeypatch.setattr(PretrainLoop, "train_step", dying_step)
    with pytest.raises(RuntimeError, match="node lost"):
        pretrain("mpm_reg", "smoke", out=tmp_path / "cut", **kw)
    monkeypatch.setattr(PretrainLoop, "train_step", real_step)
    out = pretrain("mpm_reg", "smoke", out=tmp_path / "cut", resume=True, **kw)
    got, want = weights(out), weights(ref)
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_encoder_without_pretraining_is_fitted_and_saved(store, tmp_path):
    from jetbench.encoders import create_encoder, load_encoder

    out = pretrain("scratch", "smoke", data=store, out=tmp_path / "scratch", progress=False)
    summary = json.loads((out / "pretrain_log.json").read_text())
    assert summary["steps"] == 0 and summary["fit_preprocessing_seconds"] > 0
    saved = load_encoder(out).state_dict()
    torch.manual_seed(0)
    fresh = create_encoder("scratch", "smoke").state_dict()  # same init seed, transform not fitted
    assert any(not torch.equal(saved[k], fresh[k]) for k in fresh if "transform" in k)
    assert all(torch.equal(saved[k], fresh[k]) for k in fresh if "transform" not in k)


def test_ensure_pretrained_trains_once_then_loads(store, monkeypatch, capsys):
    import jetbench.datasets
    from jetbench.pretraining import default_checkpoint, ensure_pretrained

    monkeypatch.setattr(jetbench.datasets, "pretrain_split", lambda scale, progress=True: store)
    first = ensure_pretrained("scratch", "smoke", device="cpu")
    assert "pretraining it now" in capsys.readouterr().err
    assert (default_checkpoint("scratch", "smoke") / "pretrain_log.json").exists()
    second = ensure_pretrained("scratch", "smoke", device="cpu")
    assert capsys.readouterr().err == ""  # loaded, not retrained
    assert first.meta.revision == second.meta.revision


@pytest.mark.slow
def test_cli_pretrain_on_the_generated_smoke_split(tmp_path):
    from jetbench.cli import main

    assert main(["pretrain", "--encoder", "mpm_reg", "--scale", "smoke", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "pretrain_log.json").read_text())
    assert summary["steps"] == 20 and summary["loss_end"] < summary["loss_start"]


def test_plain_encoder_is_refused_with_one_line(tmp_path, capsys):
    from jetbench.cli import main

    assert main(["pretrain", "--encoder", "pretrain_toy:make_plain", "--scale", "smoke", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing to pretrain" in err
