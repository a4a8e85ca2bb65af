"""DDP plumbing for `torchrun --nproc_per_node N -m jetbench pretrain` (gloo on CPU, nccl on CUDA).

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; without them everything here is a no-op, so the loop
has a single code path. Rank 0 alone writes files and prints.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we created the process group, so we destroy it

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> DistInfo:
    """Join the process group torchrun prepared (if any); return this process's place in it."""
    if not launched_by_torchrun():
        return DistInfo()
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owns)


def teardown(info: DistInfo) -> None:
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def sum_tensor(x: torch.Tensor) -> torch.Tensor:
    """Sum of `x` over ranks (identity in a single process)."""
    if active():
        x = x.clone()
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def mean_float(value: float, device: torch.device) -> float:
    """Average of a Python float over ranks."""
    if not active():
        return value
    return float(sum_tensor(torch.tensor([value], dtype=torch.float64, device=device))[0]) / dist.get_world_size()


def average_gradients(params: Iterable[nn.Parameter]) -> None:
    """All-reduce gradients of a module that is not wrapped in DDP (the online probe)."""
    if not active():
        return
    world = dist.get_world_size()
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world


def barrier() -> None:
    if active():
        dist.barrier()


def gather_tensor(x: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's equally shaped `x` (used to checkpoint the per-rank RNG states)."""
    if not active():
        return [x]
    out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(out, x.contiguous())
    return out


class PretrainForward(nn.Module):
    """Makes `pretrain_loss` the forward of a module, so DDP can hook the backward through it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return self.model.pretrain_loss(batch)


def wrap(model: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """The module the loop calls: `PretrainForward`, inside DDP when there are several ranks.

    `find_unused_parameters` because a pretraining step need not touch every parameter (heads of
    targets that are off, mask tokens when nothing was masked, the frozen tokeniser).
    """
    forward = PretrainForward(model)
    if info.world_size == 1:
        return forward
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [info.local_rank] if device.type == "cuda" else None
    return DDP(forward, device_ids=ids, find_unused_parameters=True)
