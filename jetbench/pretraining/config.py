"""Pretraining settings: the paper's optimiser recipe and per-scale run lengths."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from jetbench.core.errors import JetbenchError
from jetbench.core.scales import PerScale

# steps, batch size, jets for fit_preprocessing, probe period, LR half-life (fraction of the
# steps), torch threads, snapshot period. `paper` is the MPMv2 run (1M steps of 1000 jets, half-life
# 10 % of the steps).
# `cpu` is the reference recipe measured in docs/pretraining.md: 1200 steps of 128 jets (~154k
# jet-views, ~2.4 epochs of the 64k-jet pretraining split) in about 21 minutes of one core per
# encoder (two encoders pretrain at once on a 2-core machine).
# Measured on mpm_reg (JetClass linear probe on held-out train+val jets): the probe keeps rising
# up to ~1800 steps (0.44 at init, 0.52 at 600, 0.54 at 900-1200 steps); the LR halves every 35 %
# of the run (the paper's 10 % leaves the last half of a short run below 3 % of the peak); 64k
# generated jets score like 16k at equal steps (0.529 vs 0.525 at 600 steps) — more jets cost
# generation but never hurt, and 5 epochs over 64k overfit less than 19 over 16k.
# `threads` pins torch's intra-op threads (0 = leave them alone): float sums depend on how work is
# split over threads, so the same command gives the same checkpoint bits on a busy or an idle
# machine only with a fixed count; one thread per encoder lets a 2-core machine pretrain two
# encoders at once with no loss of efficiency (bf16 autocast is slower on CPU at these widths:
# bench/bench_pretrain_precision.py). Snapshots keep the encoder every `snapshot_every` steps for
# the learning curve (not needed to use the checkpoint).
SCALE_DEFAULTS: PerScale[dict[str, float]] = PerScale({
    "smoke": {"steps": 20, "batch_size": 32, "sample_size": 2_000, "probe_every": 1,
              "half_life": 0.1, "threads": 1, "snapshot_every": 0},
    "cpu": {"steps": 1200, "batch_size": 128, "sample_size": 20_000, "probe_every": 8,
            "half_life": 0.35, "threads": 1, "snapshot_every": 200},
    "paper": {"steps": 1_000_000, "batch_size": 1_000, "sample_size": 500_000, "probe_every": 10,
              "half_life": 0.1, "threads": 0, "snapshot_every": 0},
}, "pretraining")


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that decides a pretraining run (stored in every checkpoint and the summary)."""

    name: str
    scale: str
    steps: int
    batch_size: int
    sample_size: int
    seed: int = 0
    lr: float = 1e-3
    weight_decay: float = 1e-5
    grad_clip: float = 1.0
    log_every: int = 0
    ckpt_every: int = 0
    probe_every: int = 1
    half_life_fraction: float = 0.1
    # the probe chases a drifting embedding with few updates: a high LR tracks it (measured on an
    # mpm_flow checkpoint: 40 updates of 128 jets reach 0.20 accuracy at 1e-2, 0.14 at 1e-3)
    probe_lr: float = 1e-2
    threads: int = 0  # torch intra-op threads during the run; 0 = as the process has them
    snapshot_every: int = 0  # keep the encoder every N steps under <out>/snapshots (0 = never)

    @classmethod
    def for_scale(
        cls,
        name: str,
        scale: str,
        steps: int | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        **overrides,
    ) -> PretrainConfig:
        d = SCALE_DEFAULTS.at(scale)
        steps = d["steps"] if steps is None else steps
        batch_size = d["batch_size"] if batch_size is None else batch_size
        if steps < 0:
            raise JetbenchError(f"--steps must be >= 0, got {steps}")
        if batch_size < 1:
            raise JetbenchError(f"--batch-size must be >= 1, got {batch_size}")
        values = {
            "sample_size": d["sample_size"],
            "probe_every": d["probe_every"],
            "half_life_fraction": d["half_life"],
            "threads": int(d["threads"]),
            "snapshot_every": int(d["snapshot_every"]),
            "ckpt_every": max(1, min(10_000, steps // 10)),
            **{k: v for k, v in overrides.items() if v is not None},
        }
        if "log_every" not in values:  # ~50 records, each window holding probe steps
            period = max(values["probe_every"], 1)
            values["log_every"] = period * -(-max(1, min(100, steps // 50)) // period)
        return cls(name=name, scale=scale, steps=steps, batch_size=batch_size, seed=seed, **values)

    def to_dict(self) -> dict:
        return asdict(self)

