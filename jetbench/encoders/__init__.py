"""Encoders: the contract, the registry, checkpoints and the reference MPM models
(docs/design.md, 'Encoders').

The names below are imported on first use (PEP 562), so `jetbench.encoders.cards` — what
`jetbench list encoders` reads — loads without torch and the models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Batch": "base", "Encoder": "base", "EncoderMeta": "base", "PretrainableEncoder": "base",
    "tensor_batch": "base", "load_encoder": "checkpoint", "save_encoder": "checkpoint",
    "ENTRY_POINT_GROUP": "registry", "create_encoder": "registry", "list_encoders": "registry",
    "register_encoder": "registry",
}

if TYPE_CHECKING:
    from jetbench.encoders.base import Batch, Encoder, EncoderMeta, PretrainableEncoder, tensor_batch
    from jetbench.encoders.checkpoint import load_encoder, save_encoder
    from jetbench.encoders.registry import ENTRY_POINT_GROUP, create_encoder, list_encoders, register_encoder


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"jetbench.encoders.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'jetbench.encoders' has no attribute '{name}'")


__all__ = [
    "ENTRY_POINT_GROUP", "Batch", "Encoder", "EncoderMeta", "PretrainableEncoder", "create_encoder",
    "list_encoders", "load_encoder", "register_encoder", "save_encoder", "tensor_batch",
]
