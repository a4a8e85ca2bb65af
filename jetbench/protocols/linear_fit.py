"""The linear probe as a convex fit solved to convergence: standardised inputs, full-batch L-BFGS,
L2 strength chosen on the validation split.

A linear probe is meant to measure what is *linearly decodable* from an embedding, so the number
must not depend on how long a stochastic optimiser happened to run. Measured on a random-init
`scratch` encoder (jetclass, 10k labels): minibatch AdamW on raw embeddings (linear v2: lr 1e-2,
~200 steps) reached 0.25 accuracy, 2000 steps 0.29, the same on standardised features 0.34-0.37,
while the exact logistic regression (sklearn, lbfgs) reaches 0.40. Embedding features are means
over LayerNorm-ed tokens, so their scales differ by 5x and their offsets dominate: without
standardisation the problem is badly conditioned.

The training inputs of the head are built once (cut into chunks) and kept in memory (rebuilt per
pass beyond `MAX_RESIDENT_ITEMS`); each L-BFGS evaluation is one pass of the linear head over them
with the gradient accumulated chunk by chunk, i.e. the exact full-batch gradient.

Design path: when the head's only trained part is its final linear layer and the head and loss
expose design hooks (`design_layer`, `design`, `design_logits`; `flat_targets`, `flat_loss`:
`PairHead(linear=True)` with `PairLoss`), each chunk is converted once into (X, t): the rows that
layer reads and the flat targets the loss compares them with. An evaluation is then one linear
layer and the flat loss per chunk. For vertexing this skips, per evaluation, the pair indexing, the
gather of |z_i - z_j| over millions of pairs and the [B, P, P] scatters and gathers (a 21k-jet
vertexing cell took ~8 min on the generic path; `bench/bench_linear_pairs.py`, 5k jets, one thread:
124 s -> 7.8 s). It is bit-identical to the generic path: the same layer runs on the same rows in
the same order, so the logits and the loss are the same numbers; backwards, the loss's gather hands
each pair's gradient to its (b, i, j) slot, the second `index_put` writes the (b, j, i) slots the
loss never reads (gradient exactly 0), and the first `index_put` passes the slot's gradient back to
its logit, so every logit receives the same gradient (g + 0 = g) and the weight gradient is the
same product of the same tensors. Chunk boundaries and weights are kept, so the per-chunk
accumulation order is unchanged too (`tests/test_linear_fit.py` asserts equal weights, losses and
iteration counts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn


class Standardise(nn.Module):
    """(x - mean) / std per feature, fitted once on the training embeddings (buffers, not trained)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) * self.scale


class StandardisedHead(nn.Module):
    """A linear head reading standardised jet embeddings and tokens (padding stays zero)."""

    def __init__(self, head: nn.Module, dim: int) -> None:
        super().__init__()
        self.head = head
        self.jet_norm = Standardise(dim)
        self.token_norm = Standardise(dim)

    def standardise(self, inputs: dict) -> dict:
        """The head's inputs, standardised (what `forward` feeds the head)."""
        tokens, mask = inputs["tokens"], inputs["mask"]
        t = self.token_norm(tokens) * mask.unsqueeze(-1).to(tokens.dtype)
        return {**inputs, "jet": self.jet_norm(inputs["jet"]), "tokens": t}

    def forward(self, jet: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.standardise({"jet": jet, "tokens": tokens, "mask": mask})
        return self.head(x["jet"], x["tokens"], mask)


@dataclass
class LinearFit:
    l2: float
    train_loss: float
    val_loss: float
    iterations: int
    val_losses: dict[float, float]


# up to this many items the head inputs are built once and kept; beyond (paper scale) each pass
# rebuilds them chunk by chunk from the source (same gradient, more time)
MAX_RESIDENT_ITEMS = 250_000


@dataclass
class _Design:
    """One chunk on the design path: final-layer rows, flat targets, items (jets) it holds."""
    x: torch.Tensor
    t: torch.Tensor
    items: int


class _Chunks:
    """The source's items in fixed chunks (resident when small enough), in source order, each
    passed through `self._map` (once when resident, per pass otherwise)."""

    def __init__(self, src: Any, chunk: int, device: str) -> None:
        self.src, self.chunk, self.device, self.n = src, chunk, device, len(src)
        self._map: Callable[[Any], Any] | None = None
        # a source that says so (on-disk embeddings of a streamed split) is re-read every pass
        small = self.n <= MAX_RESIDENT_ITEMS and getattr(src, "keep_resident", True)
        self.resident = [self._get(s) for s in self._starts()] if small else None

    def _starts(self) -> range:
        return range(0, self.n, self.chunk)

    def _get(self, start: int) -> Any:
        item = self.src.get(np.arange(start, min(start + self.chunk, self.n)), self.device)
        if self._map is not None:
            with torch.no_grad():
                item = self._map(item)
        return item

    def __iter__(self) -> Iterator[Any]:
        if self.resident is not None:
            return iter(self.resident)
        return (self._get(s) for s in self._starts())

    @torch.no_grad()
    def mapped(self, fn: Callable[[Any], Any]) -> _Chunks:
        """These chunks with `fn` applied once (resident), or on every pass beyond
        `MAX_RESIDENT_ITEMS` (same values, more time)."""
        out = _Chunks.__new__(_Chunks)
        out.src, out.chunk, out.device, out.n = self.src, self.chunk, self.device, self.n
        out.resident = None if self.resident is None else [fn(c) for c in self.resident]
        inner = self._map
        out._map = None if self.resident is not None else (
            fn if inner is None else (lambda c: fn(inner(c))))
        return out


def _prepare(model: StandardisedHead, loss_fn: nn.Module,
             design: bool) -> Callable[[tuple[dict, torch.Tensor]], Any]:
    """What a chunk becomes before the fit: the head's inputs standardised (standardising
    [N, P, D] tokens per evaluation cost ~100x the fit of a jet-level head), then, on the design
    path, its final-layer rows and flat targets."""
    head = model.head

    def prep(chunk: tuple[dict, torch.Tensor]) -> Any:
        inputs, y = chunk
        inputs = model.standardise(inputs)
        if not design:
            return inputs, y
        mask = inputs["mask"]
        return _Design(head.design(inputs["jet"], inputs["tokens"], mask),
                       loss_fn.flat_targets(y, mask), len(y))

    return prep


def has_design(head: nn.Module, loss_fn: nn.Module) -> bool:
    """Whether the fit can use the design path: head and loss expose the hooks and the head's
    final layer holds every trained parameter (so the rows it reads never change)."""
    if not all(callable(getattr(o, a, None)) for o, a in (
            (head, "design_layer"), (head, "design"), (head, "design_logits"),
            (loss_fn, "flat_targets"), (loss_fn, "flat_loss"))):
        return False
    layer = head.design_layer()
    if layer is None:
        return False
    trained = {id(p) for p in head.parameters() if p.requires_grad}
    return trained == {id(p) for p in layer.parameters() if p.requires_grad}


def _weights(head: nn.Module) -> list[nn.Parameter]:
    """Parameters the L2 penalty applies to: weight matrices, not biases."""
    return [p for name, p in head.named_parameters() if p.requires_grad and p.ndim > 1]


def _chunk_loss(model: nn.Module, loss_fn: nn.Module, chunk: Any) -> tuple[torch.Tensor, int]:
    """Mean loss over one chunk and the items it holds (design or generic chunk)."""
    if isinstance(chunk, _Design):
        return loss_fn.flat_loss(model.design_logits(chunk.x), chunk.t), chunk.items
    inputs, y = chunk
    out = model(inputs["jet"], inputs["tokens"], inputs["mask"])
    return loss_fn(out, y, inputs["mask"]), len(y)


def _mean_loss(model: nn.Module, loss_fn: nn.Module, chunks: _Chunks, n: int,
               grad: bool) -> float:
    """Mean loss of `model` (the bare head; `chunks` hold standardised inputs or designs) over
    all items; with `grad`, its exact gradient accumulated chunk by chunk."""
    total = 0.0
    for chunk in chunks:
        with torch.set_grad_enabled(grad):
            loss, items = _chunk_loss(model, loss_fn, chunk)
            loss = loss * (items / n)
            if grad:
                loss.backward()
        total += float(loss.detach())
    return total


@torch.no_grad()
def _fit_standardisation(model: StandardisedHead, chunks: _Chunks) -> None:
    """Feature means and spreads of the jet embeddings and of the real tokens (float64 sums)."""
    stats = {}
    for key in ("jet", "tokens"):
        n, s1, s2 = 0, 0.0, 0.0
        for inputs, _ in chunks:
            x = inputs["jet"] if key == "jet" else inputs["tokens"][inputs["mask"]]
            x = x.double()
            n, s1, s2 = n + len(x), s1 + x.sum(0), s2 + (x * x).sum(0)
        stats[key] = (n, s1, s2)
    for key, norm in (("jet", model.jet_norm), ("tokens", model.token_norm)):
        n, s1, s2 = stats[key] if stats[key][0] > 1 else stats["jet"]
        mean = s1 / n
        var = ((s2 - n * mean * mean) / max(n - 1, 1)).clamp_min(0.0)
        norm.mean.copy_(mean.float())
        norm.scale.copy_((1.0 / var.sqrt().clamp_min(1e-6)).float())


def _minimise(model: nn.Module, loss_fn: nn.Module, train: _Chunks, n_train: int,
              params: list[nn.Parameter], weights: list[nn.Parameter], l2: float,
              max_iter: int) -> int:
    """L-BFGS from zero weights on mean loss + l2/2 |W|^2; returns the loss evaluations used."""
    with torch.no_grad():
        for p in params:
            p.zero_()
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, history_size=20,
                            tolerance_grad=1e-7, tolerance_change=1e-10,
                            line_search_fn="strong_wolfe")
    evals = 0

    def closure() -> torch.Tensor:
        nonlocal evals
        opt.zero_grad(set_to_none=False)
        evals += 1
        data = _mean_loss(model, loss_fn, train, n_train, grad=True)
        penalty = 0.5 * l2 * sum((w * w).sum() for w in weights)
        penalty.backward()
        return torch.tensor(data + float(penalty.detach()))

    opt.step(closure)
    return evals


def fit_linear(model: StandardisedHead, loss_fn: nn.Module, train_src: Any, val_src: Any, *,
               l2_grid: tuple[float, ...] = (1e-5, 1e-4, 1e-3), max_iter: int = 300,
               chunk: int = 4096, device: str = "cpu", design: bool = True) -> LinearFit:
    """Fit `model.head` in place: for each L2 strength an L-BFGS run to convergence from zero
    weights; keep the one with the lowest validation loss (the test split is never looked at).
    `design=False` forces the generic path (the reference the design path must equal)."""
    model.to(device)
    loss_fn.to(device)
    train = _Chunks(train_src, chunk, device)
    val = _Chunks(val_src, chunk, device)
    _fit_standardisation(model, train)
    prep = _prepare(model, loss_fn, design and has_design(model.head, loss_fn))
    train, val = train.mapped(prep), val.mapped(prep)
    params = [p for p in model.head.parameters() if p.requires_grad]
    weights = _weights(model.head)
    n_train, n_val = len(train_src), len(val_src)
    best: tuple[float, float, dict, float, int] | None = None
    val_losses: dict[float, float] = {}
    model.train()
    for l2 in l2_grid:
        iters = _minimise(model.head, loss_fn, train, n_train, params, weights, l2, max_iter)
        train_loss = _mean_loss(model.head, loss_fn, train, n_train, grad=False)
        v = _mean_loss(model.head, loss_fn, val, n_val, grad=False)
        val_losses[l2] = v
        if best is None or v < best[1]:
            state = {k: t.detach().clone() for k, t in model.state_dict().items()}
            best = (l2, v, state, train_loss, iters)
    l2, v, state, train_loss, iters = best
    model.load_state_dict(state)
    return LinearFit(l2, train_loss, v, iters, val_losses)
