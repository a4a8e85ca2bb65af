"""Pretraining step throughput: the full loop (`PretrainLoop.train_step`) vs the bare step.

The bare step is what any training script must do: `pretrain_loss` + backward + grad clip + AdamW on
a ready-made tensor batch. The loop adds batch sampling/gathering, the LR schedule, the online
probe and log bookkeeping. Both are timed in alternating rounds (the machine is shared, so load
drifts) and compared by median seconds per step. Target: loop >= 0.9x bare.

    python bench/bench_pretrain.py [--encoder mpm_flow] [--scale cpu] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from jetbench.core.distributed import DistInfo
from jetbench.core.optim import adamw
from jetbench.data.format import JetBatch
from jetbench.encoders import create_encoder
from jetbench.pretraining.config import PretrainConfig
from jetbench.pretraining.data import PretrainData
from jetbench.pretraining.loop import PretrainLoop


def synthetic_jets(n: int, seed: int = 0, slots: int = 128, mean_count: float = 40.0) -> JetBatch:
    """JetClass-shaped jets (falling pT, ~40 constituents of 128 slots) for timing only."""
    rng = np.random.default_rng(seed)
    counts = np.clip(rng.poisson(mean_count, n), 2, slots)
    mask = np.arange(slots)[None] < counts[:, None]
    csts = rng.normal(size=(n, slots, 7)).astype(np.float32)
    csts[..., 0] = -np.sort(-rng.exponential(20.0, size=(n, slots)), axis=1)
    csts[..., 4] = np.abs(csts[..., 4]) + 0.01
    csts[..., 6] = np.abs(csts[..., 6]) + 0.01
    csts[~mask] = 0
    ids = np.where(mask, rng.integers(0, 8, size=(n, slots)), 0).astype(np.int8)
    jets = np.abs(rng.normal(700, 100, size=(n, 5))).astype(np.float32)
    jets[:, 4] = counts
    return JetBatch(csts=csts, csts_id=ids, mask=mask, jets=jets, labels=rng.integers(0, 10, n).astype(np.int16))


def bare_step(model, params, opt, batch) -> None:
    loss, _ = model.pretrain_loss(batch)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default="mpm_flow")
    ap.add_argument("--scale", default="cpu")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3, help="steps per round")
    ap.add_argument("--probe-every", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1, help="1: CPU time free of OpenMP spin-waits on a busy box")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = PretrainConfig.for_scale(
        args.encoder,
        args.scale,
        steps=10_000,
        batch_size=args.batch_size,
        probe_every=args.probe_every,
    )
    jets = synthetic_jets(max(4 * cfg.batch_size, 2048))
    model = create_encoder(args.encoder, args.scale)
    model.fit_preprocessing(jets[:2048], 0)
    loop = PretrainLoop(model, PretrainData(jets), cfg, torch.device("cpu"), DistInfo(), n_classes=10)
    model.train()
    # the bare step sees batches of the same jets, gathered and trimmed beforehand (not timed)
    data = PretrainData(jets)
    rng = np.random.default_rng(1)
    batches = [
        data.gather(rng.choice(len(jets), cfg.batch_size, replace=False), torch.device("cpu"))[0]
        for _ in range(args.steps)
    ]
    bare_opt = adamw(loop.params, 1e-4, 1e-5, fused=True)  # the same optimiser: the ratio is loop overhead
    loop.train_step(), bare_step(model, loop.params, bare_opt, batches[0])  # warm-up (allocations)
    # alternate single steps so both see the same machine load; CPU time is the load-robust measure
    times: dict[str, list[tuple[float, float]]] = {"bare": [], "loop": []}
    for i in range(args.rounds * args.steps):
        for kind in ("bare", "loop") if i % 2 == 0 else ("loop", "bare"):
            wall, cpu = time.perf_counter(), time.process_time()
            if kind == "bare":
                bare_step(model, loop.params, bare_opt, batches[i % len(batches)])
            else:
                loop.train_step()
                loop.step += 1
            times[kind].append((time.perf_counter() - wall, time.process_time() - cpu))
    med = {k: [statistics.median(t[j] for t in v) for j in (0, 1)] for k, v in times.items()}
    # the loop's extra work timed on its own (CPU seconds): far less noisy than a difference of steps
    extra = {"gather": [], "probe": []}
    for _ in range(args.rounds):
        cpu = time.process_time()
        batch, labels = loop.data.gather(loop.sampler.next(), torch.device("cpu"))
        extra["gather"].append(time.process_time() - cpu)
        cpu = time.process_time()
        loop.probe_step(batch, labels)
        extra["probe"].append(time.process_time() - cpu)
    gather, probe = (statistics.median(v) for v in extra.values())
    per_step = gather + (probe / cfg.probe_every if cfg.probe_every else 0.0)
    load = os.getloadavg()[0]
    n_params = sum(p.numel() for p in loop.params)
    print(
        f"{args.encoder} ({args.scale}, batch {cfg.batch_size}, {n_params:,} params, "
        f"{torch.get_num_threads()} threads, load avg {load:.1f}, probe every {cfg.probe_every})"
    )
    for kind in ("bare", "loop"):
        wall, cpu = med[kind]
        print(
            f"  {kind:4s}: {cfg.batch_size / wall:8.1f} jets/s wall ({wall * 1000:.0f} ms/step), "
            f"{cfg.batch_size / cpu:8.1f} jets per CPU-second"
        )
    print(
        f"  loop / bare throughput ratio: {med['bare'][0] / med['loop'][0]:.3f} wall-clock, "
        f"{med['bare'][1] / med['loop'][1]:.3f} CPU time  (target >= 0.9)"
    )
    print(
        f"  loop extras (CPU): gather {gather * 1000:.0f} ms/step, probe {probe * 1000:.0f} ms every "
        f"{cfg.probe_every} steps -> {per_step / med['bare'][1]:.1%} of the bare step, expected ratio "
        f"{med['bare'][1] / (med['bare'][1] + per_step):.3f}"
    )


if __name__ == "__main__":
    main()
