"""The encoder contract every submission implements, and its typed metadata (docs/design.md,
'Encoders').

An encoder is an `nn.Module` with `encode(batch) -> (jet [B, D], tokens [B, P, D], mask [B, P])`
and `meta`. Encoders that learn from the unlabelled pretraining split also implement
`fit_preprocessing` (input transform, tokenizers) and `pretrain_loss`.

Batch = dict of tensors: "csts" float32 [B, P, 7] raw canonical features, "csts_id" int64 [B, P],
"mask" bool [B, P] (extra keys such as "labels" are ignored). `tensor_batch` converts a JetBatch.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

from jetbench.core.errors import JetbenchError
from jetbench.data.format import JetBatch
from jetbench.encoders import identity

Batch = Mapping[str, Tensor]


class EncoderMeta(BaseModel):
    """What a result must say about the encoder that produced it."""

    model_config = ConfigDict(frozen=True)

    name: str
    revision: str  # hash of code, config and weights (jetbench.encoders.identity)
    n_params: int  # parameters on the encode() path (decoders/pretraining heads excluded)
    embed_dim: int
    pretraining_data: tuple[str, ...] = ()
    license: str = "MIT"


def tensor_batch(batch: JetBatch | Mapping[str, Any], device: str | torch.device = "cpu") -> dict[str, Tensor]:
    """JetBatch (numpy) or a dict of arrays -> the encoder's tensor dict on `device`."""
    arrays = batch.arrays() if isinstance(batch, JetBatch) else batch
    out = {
        "csts": torch.as_tensor(np.asarray(arrays["csts"]), dtype=torch.float32),
        "csts_id": torch.as_tensor(np.asarray(arrays["csts_id"]).astype(np.int64)),
        "mask": torch.as_tensor(np.asarray(arrays["mask"]), dtype=torch.bool),
    }
    if "labels" in arrays and arrays["labels"] is not None:
        out["labels"] = torch.as_tensor(np.asarray(arrays["labels"]).astype(np.int64))
    return {k: v.to(device) for k, v in out.items()}


def check_batch(batch: Batch, n_features: int = 7) -> tuple[Tensor, Tensor, Tensor]:
    """Validate the tensor dict; return (csts float32, csts_id long, mask bool)."""
    for key in ("csts", "csts_id", "mask"):
        if key not in batch:
            raise JetbenchError(f"encoder batch: missing key '{key}' (have {sorted(batch)})")
    csts, ids, mask = batch["csts"], batch["csts_id"], batch["mask"]
    if csts.dim() != 3 or csts.shape[-1] != n_features:
        raise JetbenchError(f"encoder batch: 'csts' has shape {tuple(csts.shape)}, expected [B, P, {n_features}]")
    if ids.shape != csts.shape[:2] or mask.shape != csts.shape[:2]:
        raise JetbenchError(
            f"encoder batch: 'csts_id' {tuple(ids.shape)} / 'mask' {tuple(mask.shape)} "
            f"do not match 'csts' {tuple(csts.shape[:2])}"
        )
    mask = mask.bool()
    if not bool((torch.isfinite(csts).all(-1) | ~mask).all()):  # padding content is ignored
        raise JetbenchError("encoder batch: non-finite value (NaN/inf) in 'csts'")
    ids = ids.long()
    if bool((((ids < 0) | (ids > 7)) & mask).any()):
        raise JetbenchError("encoder batch: 'csts_id' outside 0..7 at a real constituent")
    return csts.float(), ids.clamp(0, 7), mask  # clamp: padding ids may be anything


class Encoder(nn.Module, abc.ABC):
    """Base class of every encoder. Subclasses set `embed_dim` and implement `encode`.

    `get_config()` must return the JSON-able keyword arguments that rebuild the module with
    `cls(**config)`; the checkpoint stores them next to the weights.
    """

    embed_dim: int
    name: str = "encoder"
    license: str = "MIT"
    pretraining_data: tuple[str, ...] = ()

    @abc.abstractmethod
    def encode(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """(jet [B, D], tokens [B, P, D] with zeros at padding, mask [B, P])."""

    def get_config(self) -> dict[str, Any]:
        return dict(getattr(self, "_config", {}))

    def encoder_parameters(self) -> list[nn.Parameter]:
        """Parameters used by `encode` (what a downstream task fine-tunes); default: all."""
        return list(self.parameters())

    @property
    def meta(self) -> EncoderMeta:
        return EncoderMeta(
            name=self.name,
            revision=identity.revision(self),
            n_params=sum(p.numel() for p in self.encoder_parameters()),
            embed_dim=int(self.embed_dim),
            pretraining_data=tuple(self.pretraining_data),
            license=self.license,
        )


class PretrainableEncoder(Encoder):
    """An encoder with an unsupervised stage on the pretraining split.

    The pretraining loop (jetbench.pretraining) calls `fit_preprocessing` once on a sample, then
    `pretrain_loss` per step in train mode, and skips the steps when `needs_pretraining` is False.
    """

    needs_pretraining: bool = True

    @abc.abstractmethod
    def fit_preprocessing(self, sample: JetBatch, seed: int) -> None:
        """Fit data-dependent state (input transform, k-means centroids, bins, VQ-VAE)."""

    @abc.abstractmethod
    def pretrain_loss(self, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """(scalar loss to minimise, float logs for the progress bar)."""
