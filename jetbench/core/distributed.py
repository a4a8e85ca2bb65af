"""Data parallelism under `torchrun` (gloo on CPU, nccl on CUDA): the one module for it.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; without them every function here is a no-op, so
training code has a single path. Rank 0 alone writes files and prints.

Two ways to keep ranks in sync live here, each used where it is the right one:
- `wrap_ddp` (DistributedDataParallel, gradients all-reduced during backward): pretraining, where
  every step trains the whole model and overlapping communication with backward pays off.
- `average_gradients` (one explicit all-reduce after backward): protocol training and the online
  probe. Fine-tuning runs the backbone without gradients during its frozen phase, which DDP's
  reducer does not allow without `find_unused_parameters` and a graph walk every step; the
  explicit all-reduce is exact, simple, and costs nothing at the sizes jetbench trains on CPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we created the process group, so we destroy it

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str | torch.device = "cpu") -> DistInfo:
    """Join the process group torchrun prepared (if any); return this process's place in it."""
    if not launched_by_torchrun():
        return DistInfo()
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if str(device).startswith("cuda") else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")),
                    owns)


def teardown(info: DistInfo) -> None:
    """Leave the group if `setup` created it (pretraining inside `jetbench run` leaves it be)."""
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def shutdown() -> None:
    """Leave any process group (the end of a torchrun job)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """Only rank 0 writes files and prints tables."""
    return rank() == 0


def barrier() -> None:
    if active():
        dist.barrier()


def broadcast_object(obj: T) -> T:
    """Rank 0's `obj` (picklable) on every rank: e.g. the name of a folder rank 0 just made."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_module(module: nn.Module) -> None:
    """Make every rank start from rank 0's weights (heads are seeded, but be exact)."""
    if active():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(params: Iterable[nn.Parameter]) -> None:
    """All-reduce the gradients that exist, as one flat tensor (frozen parameters have none on
    every rank)."""
    if not active():
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size()
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def all_reduce_sum(values: list[float]) -> list[float]:
    """Sum a few floats over ranks (validation loss numerators and counts)."""
    if not active():
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


def sum_tensor(x: torch.Tensor) -> torch.Tensor:
    """Sum of `x` over ranks (identity in a single process)."""
    if active():
        x = x.clone()
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def gather_tensor(x: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's equally shaped `x` (used to checkpoint the per-rank RNG states)."""
    if not active():
        return [x]
    out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(out, x.contiguous())
    return out


def wrap_ddp(module: nn.Module, info: DistInfo, device: torch.device,
             find_unused_parameters: bool = False) -> nn.Module:
    """`module` inside DistributedDataParallel when there are several ranks, else as it is."""
    if info.world_size == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP  # lazy: only under torchrun

    ids = [info.local_rank] if device.type == "cuda" else None
    return DDP(module, device_ids=ids, find_unused_parameters=find_unused_parameters)
