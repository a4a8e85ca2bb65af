"""Device choice: one rule for `--device` everywhere (run, sweep, pretrain)."""

from __future__ import annotations

import torch

from jetbench.core.errors import JetbenchError


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; an unusable choice is a one-line error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise JetbenchError(f"unknown device '{device}'; use auto, cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise JetbenchError(f"device '{device}' requested but CUDA is not available")
    return torch.device(device)
