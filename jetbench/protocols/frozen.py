"""`frozen` and `linear`: the backbone never trains; heads learn from cached embeddings.

The encoder runs once per (encoder weights, store) in eval mode without gradients
(`jetbench.protocols.embeddings`); every budget and seed of a sweep reuses those embeddings.
A split too large to hold (`FrozenProtocol.streams_embeddings`: the paper scale) bypasses that
cache: it is embedded chunk by chunk (`jetbench.protocols.embedding_store`), scored as it goes, or, to fit the head,
written to a folder that lives for the fit and is read back batch by batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from jetbench.core import distributed as dd
from jetbench.core.scales import PerScale
from jetbench.protocols import embedding_store as stream
from jetbench.protocols.base import Protocol
from jetbench.protocols.data import EmbeddingSource, Split, max_in_memory_bytes
from jetbench.protocols.embeddings import embed
from jetbench.protocols.linear_fit import StandardisedHead, fit_linear
from jetbench.protocols.training import History, predict
from jetbench.tasks import TaskSpec

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
# a linear probe: no hidden layer; a convex fit solved to convergence (L-BFGS on standardised
# embeddings, L2 strength chosen on the validation split: jetbench/protocols/linear_fit.py)
_LINEAR = PerScale({scale: {**s, "linear_head": True, "solver": "lbfgs",
                            "l2_grid": [1e-5, 1e-4, 1e-3], "max_iter": 300, "chunk": 4096}
                    for scale, s in _FROZEN.items()}, "linear protocol")


class FrozenProtocol(Protocol):
    """Backbone in eval() with no gradients; the task head (docs/design.md, 'Heads') trains on
    its outputs."""

    name = "frozen"
    version = 2  # v2: the class-attention head without materialised keys/values (same function;
    #              float rounding and the attention-dropout random stream differ from v1)
    DEFAULTS = _FROZEN

    def __init__(self, scale: str = "cpu", budget: int | None = None, **overrides: Any):
        super().__init__(scale, budget, **overrides)
        self._stores: list[stream.EmbeddingStore] = []  # on-disk training embeddings of a fit

    def prepare_encoder(self, encoder: torch.nn.Module, seed: int) -> torch.nn.Module:
        return encoder  # used as is: `embed` runs it in eval mode and restores its mode

    def fit(self, *args: Any, **kwargs: Any) -> FrozenProtocol:
        """As `Protocol.fit`; the on-disk embeddings of a streamed training split go after it."""
        try:
            super().fit(*args, **kwargs)
            if self._stores:
                dd.barrier()  # every rank has finished reading before rank 0 deletes
            return self
        finally:
            while self._stores:
                self._stores.pop().remove()

    def _embed_options(self) -> dict[str, Any]:
        return {"device": self.device, "batch_size": int(self.settings["embed_batch"]),
                "progress": self.progress, "stats": self.measured}

    def streams_embeddings(self, split: Split) -> bool:
        """Embed chunk by chunk (not through the cache): when the split streams, and at the
        paper scale also when only its embeddings could outgrow the in-memory limit (1M JetClass
        jets are 3.6 GB as jets, up to 65 GB as D = 256 tokens). Never at smoke/cpu scale for a
        split that is loaded whole, so those results stay as they were."""
        if split.streams():
            return True
        return (self.scale == "paper" and split.path is not None
                and stream.embedded_bytes(split, int(self.encoder.embed_dim)) > max_in_memory_bytes())

    def source(self, split: Split) -> Any:
        if self.streams_embeddings(split):  # too large: on disk, chunk by chunk, for this fit
            store = stream.stream_embeddings(self.encoder, split, self.targets,
                                             **self._embed_options())
            self._stores.append(store)
            return store
        emb = embed(self.encoder, split, self.device, batch_size=int(self.settings["embed_batch"]),
                    progress=self.progress,
                    use_cache=bool(self.settings["cache"]) and self.use_cache,
                    refresh=self.refresh_cache, stats=self.measured, task=self.task.name)
        return EmbeddingSource(emb.jet, emb.tokens, emb.offsets, self.targets(split.load()))

    def score(self, split: Split) -> np.ndarray:
        """As `Protocol.score`; a split too large to hold is embedded and predicted a chunk at a
        time (chunks a multiple of the prediction batch: the head sees the same batches)."""
        if self.model is None or not len(split) or not self.streams_embeddings(split):
            return super().score(split)
        pb = int(self.settings.get("predict_batch", 512))
        chunk = max(1, stream.CHUNK // pb) * pb
        n_slots = split.load_rows(split.rows()[:1]).n_slots
        parts = [predict(self.model, EmbeddingSource(e.jet, e.tokens, e.offsets, y),
                         self.task.kind, n_slots, batch_size=pb, device=self.device,
                         precision=self.precision)
                 for e, y in stream.embedded_chunks(self.encoder, split, self.targets,
                                                    chunk=chunk, **self._embed_options())]
        return np.concatenate(parts)


class LinearProtocol(FrozenProtocol):
    """Linear probe: logistic regression on the jet embedding; per-track linear; linear on
    |z_i - z_j| for vertex pairs — each on standardised embeddings, solved to convergence."""

    name = "linear"
    # v3: L-BFGS to convergence on standardised inputs, L2 chosen on validation. v2 (minibatch
    # AdamW, lr 1e-2, ~200 steps on raw embeddings) stopped far from the optimum: 0.25 vs 0.40
    # jetclass accuracy on a random-init encoder, which hid any difference between encoders.
    version = 3
    DEFAULTS = _LINEAR

    def wrap_head(self, head: torch.nn.Module, in_dim: int) -> torch.nn.Module:
        return StandardisedHead(head, in_dim)

    def train_head(self, task: TaskSpec, src_train: Any, src_val: Any, seed: int) -> History:
        s = self.settings
        fit = fit_linear(self.model.head, task.kind.loss(), src_train, src_val,
                         l2_grid=tuple(s["l2_grid"]), max_iter=int(s["max_iter"]),
                         chunk=int(s["chunk"]), device=self.device)
        self.fit_info = {"l2": fit.l2, "val_losses": {str(k): v for k, v in fit.val_losses.items()}}
        return History(steps=fit.iterations, best_step=fit.iterations, best_val_loss=fit.val_loss,
                       train_loss=[fit.train_loss], val_loss=[(fit.iterations, fit.val_loss)])
