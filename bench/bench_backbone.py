"""Train-step throughput (jets/s) of the MPM backbone vs torch.nn.TransformerEncoder, and of MPMv2.

Not a test: prints ratios measured in one run. Compared at the same width, depth and heads, with
the feed-forward parameter-matched (SwiGLU hidden 2d has 3 matrices = TransformerEncoder with
dim_feedforward 3d). A train step = forward + backward + Adam step with a trivial loss on the
jet embedding. Two batches:
  jetclass-like  P = 128 slots, ~50 real particles per jet (padding at the end, as canonical data);
                 ours compacts to the longest jet, TransformerEncoder uses a key-padding mask
  dense          every slot real (pure per-token efficiency, no padding to skip)
Then full pretraining steps (mpm_flow, mpm_reg: transform + drop 40% + encoder on kept +
decoder + heads) relative to the backbone train step on the jetclass-like batch.
Measurements are interleaved (A B A B ...) and the median per-step time is used, because this
machine is shared. Run: python bench/bench_backbone.py [--scale cpu] [--batch 128] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from torch import nn

from jetbench.data.format import JetBatch
from jetbench.encoders import create_encoder, tensor_batch


def jetclass_like(
    n: int, n_slots: int, mean: float, seed: int = 0, dense: bool = False
) -> JetBatch:
    rng = np.random.default_rng(seed)
    counts = (
        np.full(n, n_slots) if dense else np.clip(rng.normal(mean, 15, n), 5, n_slots).astype(int)
    )
    mask = np.arange(n_slots)[None] < counts[:, None]
    csts = rng.normal(size=(n, n_slots, 7)).astype(np.float32)
    csts[..., 0] = -np.sort(-rng.exponential(20.0, size=(n, n_slots)), axis=1)
    csts[~mask] = 0
    ids = np.where(mask, rng.integers(0, 8, (n, n_slots)), 0).astype(np.int8)
    return JetBatch(
        csts=csts,
        csts_id=ids,
        mask=mask,
        jets=np.ones((n, 5), np.float32),
        labels=np.zeros(n, np.int16),
    )


class TorchReference(nn.Module):
    """Same embedding and pooling around nn.TransformerEncoder (pre-norm, batch_first)."""

    def __init__(self, dim: int, depth: int, heads: int) -> None:
        super().__init__()
        self.feat = nn.Linear(7, dim)
        self.ids = nn.Embedding(8, dim)
        layer = nn.TransformerEncoderLayer(
            dim,
            heads,
            dim_feedforward=3 * dim,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mask = batch["mask"]
        h = self.encoder(
            self.feat(batch["csts"]) + self.ids(batch["csts_id"]), src_key_padding_mask=~mask
        )
        w = mask.unsqueeze(-1).float()
        return (h * w).sum(1) / w.sum(1).clamp(min=1)


def step_fn(module: nn.Module, forward, batch):
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-4)

    def step() -> None:
        loss = forward(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def interleaved(steps: dict[str, callable], repeats: int, warmup: int) -> dict[str, float]:
    """Median seconds per call of each step function, measured round-robin."""
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(repeats):
        for k, fn in steps.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="cpu")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    sample = jetclass_like(512, 128, 50, seed=1)
    models = {
        "ours": create_encoder("scratch", args.scale),
        "ours_0reg": create_encoder("scratch", args.scale, n_registers=0),  # what registers cost
        "mpm_flow": create_encoder("mpm_flow", args.scale),
        "mpm_reg": create_encoder("mpm_reg", args.scale),
    }
    for m in models.values():
        m.fit_preprocessing(sample, seed=0)
        m.train()
    cfg = models["ours"].get_config()
    ref = TorchReference(cfg["dim"], cfg["depth"], cfg["heads"]).train()
    n_ours = sum(p.numel() for p in models["ours"].encoder_parameters())
    n_ref = sum(p.numel() for p in ref.parameters())
    print(f"scale {args.scale}: d={cfg['dim']} depth={cfg['depth']} heads={cfg['heads']}, "
          f"batch {args.batch}, threads {args.threads}; params ours {n_ours:,} / torch {n_ref:,}")

    for label, dense in (("jetclass-like P=128, ~50 real", False), ("dense P=64, all real", True)):
        b = tensor_batch(jetclass_like(args.batch, 64 if dense else 128, 50, seed=2, dense=dense))
        steps = {"torch": step_fn(ref, lambda x: ref(x).pow(2).mean(), b)}
        for name in ("ours", "ours_0reg"):
            m = models[name]
            steps[name] = step_fn(m, lambda x, m=m: m.encode(x)[0].pow(2).mean(), b)
        if not dense:
            for name in ("mpm_flow", "mpm_reg"):
                m = models[name]
                steps[name] = step_fn(m, lambda x, m=m: m.pretrain_loss(x)[0], b)
        sec = interleaved(steps, args.repeats, args.warmup)
        rate = {k: args.batch / v for k, v in sec.items()}
        print(f"\n[{label}] train-step jets/s: "
              + ", ".join(f"{k} {v:,.0f}" for k, v in rate.items()))
        print(f"  ours / nn.TransformerEncoder = {rate['ours'] / rate['torch']:.2f}x "
              "(target >= 0.9x)")
        print(f"  ours without the 8 registers / nn.TransformerEncoder = "
              f"{rate['ours_0reg'] / rate['torch']:.2f}x")
        for name in ("mpm_flow", "mpm_reg"):
            if name in rate:
                print(f"  {name} full pretraining step / backbone train step = "
                      f"{rate[name] / rate['ours']:.2f}x ({rate[name]:,.0f} jets/s)")


if __name__ == "__main__":
    main()
