"""The pretraining loop: AdamW + paper LR schedule + grad clipping, online probe, logs, checkpoints.

One `PretrainLoop` owns everything that changes while training (model, optimiser, probe, data
position, RNG, log records), so a checkpoint is exactly `state_dict()` plus the encoder, and a
resumed run continues the same stream of batches and random draws as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from jetbench.core import distributed
from jetbench.core.errors import JetbenchError
from jetbench.core.log import get_logger, progress_bar
from jetbench.core.optim import WarmupExpDecay, adamw
from jetbench.encoders import save_encoder
from jetbench.pretraining.checkpointing import TrainState, save_train_state
from jetbench.pretraining.config import PretrainConfig
from jetbench.pretraining.data import PretrainData
from jetbench.pretraining.probe import OnlineProbe
from jetbench.pretraining.sampler import BatchSampler, rank_slice
from jetbench.tracking import NullTracker, Tracker


class PretrainForward(torch.nn.Module):
    """Makes `pretrain_loss` the forward of a module, so DDP can hook the backward through it."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return self.model.pretrain_loss(batch)


def step_seed(seed: int, rank: int) -> int:
    """Seed of the per-rank torch RNG used by masking/dropout during training."""
    return 1_000_003 * (seed + 1) + rank


class PretrainLoop:
    """Train `model` with `model.pretrain_loss` on batches of `data` for `cfg.steps` updates."""

    def __init__(
        self,
        model: torch.nn.Module,
        data: PretrainData,
        cfg: PretrainConfig,
        device: torch.device,
        info: distributed.DistInfo,
        n_classes: int,
    ):
        self.model, self.data, self.cfg, self.device, self.info = model.to(device), data, cfg, device, info
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = adamw(self.params, cfg.lr, cfg.weight_decay, fused=True)
        self.schedule = WarmupExpDecay.scaled(cfg.steps, cfg.lr, cfg.half_life_fraction)
        self.sampler = BatchSampler(len(data), cfg.batch_size, cfg.seed, data.block_chunks)
        self.probe = OnlineProbe(model.embed_dim, n_classes, cfg.probe_lr).to(device)
        # `find_unused_parameters`: a pretraining step need not touch every parameter (heads of
        # targets that are off, mask tokens when nothing was masked, the frozen tokeniser)
        self.forward = distributed.wrap_ddp(PretrainForward(model), info, device,
                                            find_unused_parameters=True)
        self.step = 0
        self.log: list[dict] = []
        self.elapsed = 0.0
        self.fit_seconds = 0.0
        self._window: list[torch.Tensor] = []
        self._window_logs: dict[str, float] = {}
        self._lr = 0.0
        torch.manual_seed(step_seed(cfg.seed, info.rank))

    # ---- one update -------------------------------------------------------------------------
    def train_step(self) -> torch.Tensor:
        """One optimiser update on this rank's slice of the next global batch; returns the loss."""
        self._lr = self.schedule.apply(self.optimizer, self.step)
        index = rank_slice(self.sampler.next(), self.info.rank, self.info.world_size)
        batch, labels = self.data.gather(index, self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            loss, logs = self.forward(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
        self.optimizer.step()
        if self.cfg.probe_every and self.step % self.cfg.probe_every == 0:
            self.probe_step(batch, labels)
        self._window.append(torch.stack([loss.detach().float(), grad_norm.detach().float()]))
        for k, v in logs.items():
            self._window_logs[k] = self._window_logs.get(k, 0.0) + float(v)
        return loss

    @torch.no_grad()
    def probe_step(self, batch: dict[str, torch.Tensor], labels: torch.Tensor) -> None:
        """Probe the embedding of the full (unmasked) jets; eval mode so no dropout is drawn."""
        self.model.eval()
        try:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                jet, _, _ = self.model.encode(batch)
        finally:
            self.model.train()
        self.probe.update(jet.detach(), labels)

    # ---- logging ----------------------------------------------------------------------------
    def record(self, wall: float) -> dict:
        """Close the current log window: means over its steps (and over ranks)."""
        n = len(self._window)
        sums = torch.stack(self._window).sum(0).double().cpu() if n else torch.zeros(2, dtype=torch.float64)
        keys = sorted(self._window_logs)
        packed = torch.cat(
            [
                sums,
                torch.tensor([self._window_logs[k] for k in keys] + [float(n)], dtype=torch.float64),
            ]
        )
        packed = distributed.sum_tensor(packed.to(self.device)).cpu()
        count = max(float(packed[-1]), 1.0)
        if not torch.isfinite(packed[0]):  # checked per window, not per step: no GPU sync each step
            raise FloatingPointError(
                f"pretraining loss became non-finite between steps {self.step - n} and {self.step}; "
                "the last checkpoint is intact (try a lower --batch-size or check the data)"
            )
        rec = {
            "step": self.step,
            "loss": float(packed[0]) / count,
            "grad_norm": float(packed[1]) / count,
            "lr": self._lr,
            "probe_acc": self.probe.pop_accuracy(),
            "wall": round(wall, 3),
        }
        rec.update({k: float(packed[2 + i]) / count for i, k in enumerate(keys)})
        self.log.append(rec)
        self._window, self._window_logs = [], {}
        return rec

    # ---- checkpoint state ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """All but the encoder weights that a resumed run needs (a collective under DDP)."""
        rng = {"torch": distributed.gather_tensor(torch.get_rng_state())}
        if self.device.type == "cuda":
            rng["cuda"] = distributed.gather_tensor(torch.cuda.get_rng_state(self.device).to(self.device))
        return {
            "config": self.cfg.to_dict(),
            "schedule": self.schedule.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "probe": self.probe.train_state(),
            "sampler": self.sampler.state_dict(),
            "rng": rng,
            "world_size": self.info.world_size,
            "elapsed": self.elapsed,
            "fit_seconds": self.fit_seconds,
            "window": [w.cpu() for w in self._window],
            "window_logs": dict(self._window_logs),
        }

    def load(self, saved: TrainState) -> None:
        """Continue from a checkpoint (the model was already loaded from it)."""
        state = saved.state
        fixed = (
            "name",
            "scale",
            "steps",
            "batch_size",
            "sample_size",
            "seed",
            "lr",
            "weight_decay",
            "grad_clip",
            "probe_every",
            "probe_lr",
        )
        diff = [
            f"{k}={state['config'][k]} (now {getattr(self.cfg, k)})"
            for k in fixed
            if state["config"].get(k) != getattr(self.cfg, k)
        ]
        if diff:
            raise JetbenchError(
                f"{saved.path}: checkpoint was made with {', '.join(diff)}; "
                "resume with the same settings or start again without --resume"
            )
        self.optimizer.load_state_dict(state["optimizer"])
        self.probe.load_train_state(state["probe"])
        self.sampler.load_state_dict(state["sampler"])
        self.step, self.log, self.elapsed = saved.step, list(saved.log), float(state["elapsed"])
        self.fit_seconds = float(state["fit_seconds"])
        self._window = [w.to(self.device) for w in state["window"]]
        self._window_logs = dict(state["window_logs"])
        if int(state["world_size"]) == self.info.world_size:
            torch.set_rng_state(state["rng"]["torch"][self.info.rank].cpu())
            if self.device.type == "cuda" and "cuda" in state["rng"]:
                torch.cuda.set_rng_state(state["rng"]["cuda"][self.info.rank].cpu(), self.device)
        elif self.info.is_main:
            get_logger().warning(
                f"checkpoint was written by {state['world_size']} processes, this run has "
                f"{self.info.world_size}: random draws will differ from an uninterrupted run")

    def checkpoint(self, root: Path) -> None:
        state = self.state_dict()
        if self.info.is_main:
            save_train_state(root, self.step, self.model, state, self.log)
        distributed.barrier()

    # ---- the run ----------------------------------------------------------------------------
    def snapshot(self, folder: Path) -> None:
        """The encoder as it is now, in its own checkpoint folder (rank 0; weights only)."""
        if self.info.is_main:
            save_encoder(self.model, folder / f"step_{self.step:07d}")

    def run(self, root: Path, progress: bool = True, tracker: Tracker | None = None,
            snapshots: Path | None = None) -> None:
        """Train until `cfg.steps`, logging, probing, checkpointing and snapshotting on the way;
        each log record also goes to `tracker` (experiment tracking, main process only)."""
        cfg = self.cfg
        tracker = tracker if tracker is not None and self.info.is_main else NullTracker()
        self.model.train()
        bar = progress_bar(total=cfg.steps, initial=self.step, desc=f"pretrain {cfg.name}",
                           unit="step", enabled=progress and self.info.is_main)
        start, before = time.perf_counter(), self.elapsed
        with bar, _deferred_interrupt(self.info.world_size == 1) as stop:
            while self.step < cfg.steps:
                self.train_step()
                self.step += 1
                bar.update(1)
                self.elapsed = before + time.perf_counter() - start
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    rec = self.record(self.elapsed)
                    tracker.log_metrics(self.step, rec)
                    acc = rec["probe_acc"]
                    bar.set_postfix(
                        loss=f"{rec['loss']:.4g}",
                        probe="-" if acc is None else f"{acc:.3f}",
                        lr=f"{rec['lr']:.2e}",
                        refresh=False,
                    )
                if snapshots is not None and cfg.snapshot_every and self.step % cfg.snapshot_every == 0:
                    self.snapshot(snapshots)
                if stop["requested"] or (self.step % cfg.ckpt_every == 0 and self.step < cfg.steps):
                    self.checkpoint(root)
                if stop["requested"]:
                    get_logger().info(f"interrupted; checkpoint saved at step {self.step} in "
                                      f"{root} (continue with --resume)")
                    raise KeyboardInterrupt


@contextlib.contextmanager
def _deferred_interrupt(enabled: bool) -> Iterator[dict]:
    """First Ctrl-C: stop after the current step and checkpoint; a second one aborts at once.

    Stopping mid-update would checkpoint half-updated weights; deferring keeps them consistent.
    Only in a single main-thread process: DDP ranks must stop at the same step.
    """
    flag = {"requested": False}
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag["requested"]:
            raise KeyboardInterrupt
        flag["requested"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
