"""Encoders: the contract, the registry, checkpoints and the reference MPM models
(docs/design.md, 'Encoders')."""

from __future__ import annotations

from jetbench.encoders.base import (
    Batch,
    Encoder,
    EncoderMeta,
    PretrainableEncoder,
    tensor_batch,
)
from jetbench.encoders.checkpoint import load_encoder, save_encoder
from jetbench.encoders.registry import (
    ENTRY_POINT_GROUP,
    create_encoder,
    list_encoders,
    register_encoder,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Batch",
    "Encoder",
    "EncoderMeta",
    "PretrainableEncoder",
    "create_encoder",
    "list_encoders",
    "load_encoder",
    "register_encoder",
    "save_encoder",
    "tensor_batch",
]
