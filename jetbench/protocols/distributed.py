"""Data-parallel helpers for `torchrun` (DESIGN §8): gloo on CPU, nccl on GPU, rank 0 writes.

Gradients are averaged by an explicit all-reduce after `backward()` instead of wrapping the model in
DistributedDataParallel: the fine-tuning schedule runs the backbone without gradients during its
frozen phase, which DDP's reducer does not allow without `find_unused_parameters`; an explicit
all-reduce is exact, simple, and costs nothing at the sizes jetbench trains on CPU.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def init_from_env(device: str = "cpu") -> bool:
    """Join the process group if launched by torchrun (WORLD_SIZE > 1); True if distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
    return True


def shutdown() -> None:
    """Leave the process group (end of a torchrun job)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """Only rank 0 writes files and prints tables."""
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def broadcast_module(module: nn.Module) -> None:
    """Make every rank start from rank 0's weights (heads are seeded, but be exact)."""
    if world_size() > 1:
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(params: list[nn.Parameter]) -> None:
    """All-reduce the gradients that exist (frozen parameters have none on every rank)."""
    if world_size() <= 1:
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
    if world_size() <= 1:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()
