"""Pretraining settings: the paper's optimiser recipe and per-scale run lengths."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from jetbench.core.errors import JetbenchError
from jetbench.core.scales import PerScale

# steps, batch size, jets for fit_preprocessing, probe period. `cpu` is sized so that mpm_flow
# pretrains in about five minutes on a free 2-core machine: bench/bench_pretrain.py measured 113 jets
# per CPU-second for its full step (batch 128, one thread), i.e. ~0.7 s per step on two cores, and
# 400 steps (~3 epochs of the 16k-jet split). `paper` is the MPMv2 run. The probe embeds the full
# jets once more (without gradients); every 4th step that costs ~5 % of the step time.
# `half_life` is the LR half-life as a fraction of the steps: the paper's 10 % everywhere except
# cpu, where 400 steps at 10 % left steps 220-400 below 3e-5 (the online probe stalled at 0.20).
SCALE_DEFAULTS: PerScale[dict[str, float]] = PerScale({
    "smoke": {"steps": 20, "batch_size": 32, "sample_size": 2_000, "probe_every": 1,
              "half_life": 0.1},
    "cpu": {"steps": 400, "batch_size": 128, "sample_size": 20_000, "probe_every": 4,
            "half_life": 0.35},
    "paper": {"steps": 1_000_000, "batch_size": 1_000, "sample_size": 500_000, "probe_every": 10,
              "half_life": 0.1},
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
            "ckpt_every": max(1, min(10_000, steps // 10)),
            **{k: v for k, v in overrides.items() if v is not None},
        }
        if "log_every" not in values:  # ~50 records, each window holding probe steps
            period = max(values["probe_every"], 1)
            values["log_every"] = period * -(-max(1, min(100, steps // 50)) // period)
        return cls(name=name, scale=scale, steps=steps, batch_size=batch_size, seed=seed, **values)

    def to_dict(self) -> dict:
        return asdict(self)

