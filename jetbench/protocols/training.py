"""The one training loop every protocol uses, and prediction.

Step-based, on the shared toolkit (`jetbench.core.optim`): AdamW, linear warm-up then cosine
decay; the backbone's learning rate is 0 for
`freeze_steps` (it runs without gradients then, which also saves its backward pass) and ramps
linearly to the head's over `ramp_steps`. Validation loss is measured every `eval_every` steps;
training stops after `patience` evaluations without improvement and the best weights are restored.

Batches come from the source: an in-memory one is shuffled here (`batches`, one permutation per
epoch); a streaming one (`loader.StreamSource`, paper-scale splits) brings its own epochs. With
`precision="bf16"` the forward passes run under `torch.autocast(..., dtype=torch.bfloat16)` (on
CUDA the paper-scale default; on CPU only when asked, since it is slower there at these widths);
weights, optimiser state and the loss stay float32.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from jetbench.core import distributed as dd
from jetbench.core.errors import JetbenchError
from jetbench.core.log import progress_bar
from jetbench.core.optim import EarlyStopping, adamw, warmup_cosine
from jetbench.protocols.data import batches
from jetbench.tasks import TaskKind

PRECISIONS = ("fp32", "bf16")


def autocast(device: str | torch.device, precision: str = "fp32") -> contextlib.AbstractContextManager:
    """The forward-pass context for `precision`: bf16 autocast on the device's type, or nothing."""
    if precision not in PRECISIONS:
        raise JetbenchError(f"unknown precision '{precision}'; use {' or '.join(PRECISIONS)}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


class TaskModel(nn.Module):
    """Head on top of an encoder, or on cached encoder outputs when `encoder` is None."""

    def __init__(self, head: nn.Module, encoder: nn.Module | None = None):
        super().__init__()
        self.head = head
        self.encoder = encoder

    def forward(self, inputs: dict[str, torch.Tensor], backbone_grad: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.encoder is None:
            jet, tokens, mask = inputs["jet"], inputs["tokens"], inputs["mask"]
        else:
            with torch.set_grad_enabled(backbone_grad and torch.is_grad_enabled()):
                jet, tokens, mask = self.encoder.encode(inputs)
        return self.head(jet, tokens, mask), mask


def encode_parameters(encoder: nn.Module) -> list[nn.Parameter]:
    """The parameters on the encode path (jetbench encoders exclude pretraining decoders)."""
    fn = getattr(encoder, "encoder_parameters", None)
    return list(fn()) if callable(fn) else list(encoder.parameters())


@dataclass
class TrainSettings:
    max_steps: int
    batch_size: int
    lr: float
    max_train_jets: int = 0
    weight_decay: float = 1e-5
    warmup_steps: int = 0
    eval_every: int = 50
    patience: int = 5
    val_max: int = 5000
    freeze_steps: int = 0
    ramp_steps: int = 0
    backbone_lr_scale: float = 1.0
    clip_norm: float = 1.0
    checkpoint: str = "best"  # "best" (early stopping) or "last"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainSettings:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def lr_factor(self, step: int) -> float:
        """Warm-up then cosine to 1% of the peak."""
        return warmup_cosine(step, self.warmup_steps, self.max_steps, floor=0.01)

    def backbone_factor(self, step: int) -> float:
        """0 while frozen, then a linear ramp up to `backbone_lr_scale` x the head's rate."""
        if step < self.freeze_steps:
            return 0.0
        if self.ramp_steps <= 0:
            return self.backbone_lr_scale
        return self.backbone_lr_scale * min((step - self.freeze_steps + 1) / self.ramp_steps, 1.0)


@dataclass
class History:
    steps: int = 0
    best_step: int = 0
    best_val_loss: float = float("inf")
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[tuple[int, float]] = field(default_factory=list)


def _train_batches(src: Any, global_bs: int, rng: np.random.Generator, device: str
                   ) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor]]:
    """(inputs, targets) for every step, epoch after epoch; each rank takes its share of a
    global batch. In-memory sources are shuffled here, one permutation per epoch drawn when the
    previous epoch is used up; a streaming source (`epochs`) shuffles and shards itself."""
    epochs = getattr(src, "epochs", None)
    if callable(epochs):
        yield from epochs(device, global_bs)
        return
    world, rank = dd.world_size(), dd.rank()
    while True:
        queue = [b for b in batches(len(src), global_bs, rng) if len(b) >= world]
        if not queue:
            raise JetbenchError(f"{len(src)} training jets cannot fill one batch per rank "
                                f"({world} ranks)")
        for idx in queue:
            yield src.get(idx[rank::world], device)


@torch.no_grad()
def validation_loss(model: TaskModel, loss_fn: nn.Module, src: Any, idx: np.ndarray,
                    batch_size: int, device: str, precision: str = "fp32") -> float:
    """Mean per-batch loss weighted by batch size, summed over ranks (each takes a shard)."""
    was = model.training
    model.eval()
    shard = idx[dd.rank()::dd.world_size()]
    total, count = 0.0, 0.0
    for start in range(0, len(shard), batch_size):
        b = shard[start:start + batch_size]
        inputs, y = src.get(b, device)
        with autocast(device, precision):
            out, mask = model(inputs)
        total += float(loss_fn(out.float(), y, mask)) * len(b)
        count += len(b)
    model.train(was)
    total, count = dd.all_reduce_sum([total, count])
    return total / max(count, 1.0)


def train(model: TaskModel, loss_fn: nn.Module, train_src: Any, val_src: Any, s: TrainSettings,
          seed: int = 0, device: str = "cpu", progress: bool = True,
          desc: str = "train", precision: str = "fp32") -> History:
    """Train `model` in place (head, plus encoder when it has one); return the loss history."""
    model.to(device)
    loss_fn.to(device)
    dd.broadcast_module(model)
    head_params = [p for p in model.head.parameters() if p.requires_grad]
    backbone_params = [] if model.encoder is None else [p for p in encode_parameters(model.encoder)
                                                          if p.requires_grad]
    groups = [{"params": head_params, "lr": s.lr}]
    if backbone_params:
        groups.append({"params": backbone_params, "lr": 0.0})
    opt = adamw(groups, s.lr, s.weight_decay, fused=False)
    params = head_params + backbone_params
    rng = np.random.default_rng(seed)
    val_idx = np.random.default_rng(seed + 1).permutation(len(val_src))[:s.val_max]
    global_bs = min(s.batch_size, len(train_src))
    stream = _train_batches(train_src, global_bs, rng, device)
    hist = History()
    best_state = copy.deepcopy(model.state_dict())
    stopper = EarlyStopping(s.patience)
    bar = progress_bar(total=s.max_steps, desc=desc, unit="step",
                       enabled=progress and dd.is_main(), leave=False)
    model.train()
    for step in range(s.max_steps):
        inputs, y = next(stream)
        head_lr = s.lr * s.lr_factor(step)
        opt.param_groups[0]["lr"] = head_lr
        frozen = s.backbone_factor(step) == 0.0
        if backbone_params:
            opt.param_groups[1]["lr"] = head_lr * s.backbone_factor(step)
        with autocast(device, precision):
            out, mask = model(inputs, backbone_grad=not frozen)
        loss = loss_fn(out.float(), y, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dd.average_gradients(params)
        if s.clip_norm:
            nn.utils.clip_grad_norm_(params, s.clip_norm)
        opt.step()
        hist.train_loss.append(loss.item())
        hist.steps = step + 1
        bar.update(1)
        last = step + 1 == s.max_steps
        if (step + 1) % s.eval_every == 0 or last:
            v = validation_loss(model, loss_fn, val_src, val_idx, s.batch_size, device, precision)
            hist.val_loss.append((step + 1, v))
            bar.set_postfix(loss=f"{loss.item():.4f}", val=f"{v:.4f}")
            if stopper.update(v, step + 1):
                hist.best_val_loss, hist.best_step = v, step + 1
                best_state = copy.deepcopy(model.state_dict())
            # never stop while the backbone has not had its full learning rate yet
            ramped = step + 1 >= s.freeze_steps + s.ramp_steps or not backbone_params
            if s.checkpoint == "best" and stopper.exhausted and ramped:
                break
    bar.close()
    stream.close()  # stops a streaming source's loader workers
    if s.checkpoint == "best":
        model.load_state_dict(best_state)
    return hist


@torch.no_grad()
def predict(model: TaskModel, src: Any, kind: TaskKind, n_slots: int, batch_size: int = 512,
            device: str = "cpu", progress: bool = False, precision: str = "fp32") -> np.ndarray:
    """Scores for every item of `src`, in order: the kind's probabilities, per-track outputs padded
    back to `n_slots`. A streaming source is read once through its loader, results placed by row."""
    model.eval()
    if callable(getattr(src, "ordered", None)):
        return _predict_stream(model, src, kind, n_slots, batch_size, device, precision)
    outs = []
    for idx in progress_bar(batches(len(src), batch_size, None), desc="score", leave=False,
                            enabled=progress):
        inputs, _ = src.get(idx, device)
        with autocast(device, precision):
            out, mask = model(inputs)
        s = kind.to_scores(out.float(), mask).float().cpu()
        outs.append(kind.pad_scores(s, n_slots).numpy())
    return np.concatenate(outs) if outs else np.zeros((0,), np.float32)


def _predict_stream(model: TaskModel, src: Any, kind: TaskKind, n_slots: int, batch_size: int,
                    device: str, precision: str) -> np.ndarray:
    order = np.argsort(src.rows, kind="stable")
    sorted_rows = src.rows[order]
    out_all: np.ndarray | None = None
    for inputs, _, rows in src.ordered(device, batch_size):
        with autocast(device, precision):
            out, mask = model(inputs)
        s = kind.pad_scores(kind.to_scores(out.float(), mask).float().cpu(), n_slots).numpy()
        if out_all is None:
            out_all = np.zeros((len(src),) + s.shape[1:], s.dtype)
        out_all[order[np.searchsorted(sorted_rows, rows.numpy())]] = s
    return out_all if out_all is not None else np.zeros((0,), np.float32)
