"""`frozen` and `linear`: the backbone never trains; heads learn from cached embeddings.

The encoder runs once per (encoder weights, store) in eval mode without gradients
(`jetbench.protocols.embeddings`); every budget and seed of a sweep reuses those embeddings.
"""

from __future__ import annotations

from typing import Any

import torch

from jetbench.core.scales import PerScale
from jetbench.protocols.base import Protocol
from jetbench.protocols.data import EmbeddingSource, Split
from jetbench.protocols.embeddings import embed

# The task YAML sets batch size, epochs and patience. cpu: a head step on cached embeddings costs
# ~1/3 of a fine-tuning step, so the head may see twice the fine-tuning jet budget for less time.
_FROZEN = PerScale({
    "smoke": dict(max_steps=10, batch_size=32, max_train_jets=0, lr=1e-3, weight_decay=1e-5,
                  warmup_steps=2, eval_every=5, patience=2, val_max=128, embed_batch=64,
                  cache=True),
    "cpu": dict(max_steps=2000, batch_size=256, max_train_jets=50_000, lr=1e-3,
                weight_decay=1e-5, warmup_steps=20, eval_every=50, patience=4, val_max=2000,
                embed_batch=512, cache=True),
    "paper": dict(max_steps=1_000_000, batch_size=500, max_train_jets=0, lr=1e-4,
                  weight_decay=1e-5, warmup_steps=1000, eval_every=1000, patience=10,
                  val_max=100_000, embed_batch=1000, cache=True),
}, "frozen protocol")
# a linear probe: no hidden layer, larger step size (convex problem), no dropout to speak of
_LINEAR = PerScale({scale: {**s, "lr": 1e-2, "weight_decay": 0.0, "linear_head": True}
                    for scale, s in _FROZEN.items()}, "linear protocol")


class FrozenProtocol(Protocol):
    """Backbone in eval() with no gradients; the task head (docs/design.md, 'Heads') trains on
    its outputs."""

    name = "frozen"
    version = 2  # v2: the class-attention head without materialised keys/values (same function;
    #              float rounding and the attention-dropout random stream differ from v1)
    DEFAULTS = _FROZEN

    def prepare_encoder(self, encoder: torch.nn.Module, seed: int) -> torch.nn.Module:
        return encoder  # used as is: `embed` runs it in eval mode and restores its mode

    def source(self, split: Split) -> Any:
        emb = embed(self.encoder, split, self.device, batch_size=int(self.settings["embed_batch"]),
                    progress=self.progress,
                    use_cache=bool(self.settings["cache"]) and self.use_cache,
                    refresh=self.refresh_cache, stats=self.measured, task=self.task.name)
        return EmbeddingSource(emb.jet, emb.tokens, emb.offsets, self.targets(split.load()))


class LinearProtocol(FrozenProtocol):
    """Linear probe: logistic regression on the jet embedding; per-track linear; linear on
    |z_i - z_j| for vertex pairs."""

    name = "linear"
    version = 2
    DEFAULTS = _LINEAR
