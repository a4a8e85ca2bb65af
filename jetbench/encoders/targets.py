"""Prediction targets of masked particle modelling, shared by MPMv1 and MPMv2 (docs/design.md,
'Encoders').

A target owns its prediction head and its loss. The model hands it the head input `h` [M, d] at
the masked/dropped particles, their transformed features `x` [M, 7], and the labels the target
computed from the full jets (`labels`), so tokenisers that need the whole jet (VQ-VAE) work too.

  reg      per-particle MLP -> 7 features, L1 (MPMv2) or MSE (MPMv1)
  kmeans   CE over the index of the nearest k-means centroid (fitted on transformed features)
  binning  CE over one token combining equal-frequency bins of every feature
  vqvae    CE over the codes of a separately trained, frozen VQ-VAE (jetbench.encoders.vqvae)
  flow/cfm conditional density models (jetbench.encoders.generative)
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jetbench.core.errors import JetbenchError
from jetbench.core.scales import PerScale
from jetbench.encoders.vqvae import VQVAE, fit_vqvae

N_FEATURES = 7


def mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """The per-particle prediction head: Linear -> SiLU -> Linear."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.SiLU(), nn.Linear(hidden, out_dim))


class Target(nn.Module, abc.ABC):
    """Base: no fitted state, no labels; subclasses implement `loss`."""

    kind = "target"

    def fit(self, data: dict[str, Tensor], seed: int) -> None:
        """Fit tokeniser state on transformed sample tensors {"x", "ids", "mask"}."""

    def labels(self, x: Tensor, ids: Tensor, mask: Tensor, select: Tensor) -> Tensor | None:
        """Per-particle labels [M] at `select` (row-major order), computed from the full jets."""
        return None

    @abc.abstractmethod
    def loss(self, h: Tensor, x: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, float]]:
        """(scalar loss, logs) for head input h [M, d] and transformed features x [M, 7]."""


class RegressionTarget(Target):
    kind = "reg"

    def __init__(self, in_dim: int, hidden: int = 128, loss: str = "l1") -> None:
        super().__init__()
        if loss not in ("l1", "mse"):
            raise ValueError(f"regression loss must be 'l1' or 'mse', got {loss!r}")
        self.head = mlp(in_dim, hidden, N_FEATURES)
        self.kind_loss = loss

    def loss(self, h: Tensor, x: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, float]]:
        pred = self.head(h)
        fn = F.l1_loss if self.kind_loss == "l1" else F.mse_loss
        value = fn(pred, x)
        return value, {f"reg_{self.kind_loss}": float(value.detach())}


class ClassTarget(Target):
    """A tokenised target: head -> logits over `n_classes`, CE with label smoothing."""

    def __init__(self, in_dim: int, n_classes: int, hidden: int, smoothing: float) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.smoothing = smoothing
        self.head = mlp(in_dim, hidden, n_classes)

    def loss(self, h: Tensor, x: Tensor, labels: Tensor | None) -> tuple[Tensor, dict[str, float]]:
        logits = self.head(h)
        value = F.cross_entropy(logits, labels, label_smoothing=self.smoothing)
        acc = (logits.argmax(-1) == labels).float().mean()
        return value, {f"{self.kind}_ce": float(value.detach()), f"{self.kind}_acc": float(acc)}


def _real_points(data: dict[str, Tensor], max_points: int, seed: int) -> Tensor:
    x = data["x"][data["mask"]]
    if len(x) > max_points:
        g = torch.Generator().manual_seed(seed)
        x = x[torch.randperm(len(x), generator=g)[:max_points].to(x.device)]
    return x


class KMeansTarget(ClassTarget):
    kind = "kmeans"

    def __init__(
        self,
        in_dim: int,
        k: int = 512,
        hidden: int = 128,
        smoothing: float = 0.1,
        max_points: int = 100_000,
    ) -> None:
        super().__init__(in_dim, k, hidden, smoothing)
        self.max_points = max_points
        self.register_buffer("centroids", torch.zeros(k, N_FEATURES))

    def fit(self, data: dict[str, Tensor], seed: int) -> None:
        from sklearn.cluster import MiniBatchKMeans  # lazy: scikit-learn takes seconds to import; only fitting needs it

        x = _real_points(data, self.max_points, seed).cpu().numpy().astype(np.float64)
        if len(x) < self.n_classes:
            raise JetbenchError(
                f"k-means target: {len(x)} constituents in the sample, fewer than "
                f"k = {self.n_classes}; use a larger pretraining sample or smaller k"
            )
        km = MiniBatchKMeans(
            n_clusters=self.n_classes,
            random_state=seed,
            n_init=1,
            batch_size=max(4096, 4 * self.n_classes),
        ).fit(x)
        self.centroids.copy_(torch.as_tensor(km.cluster_centers_, dtype=torch.float32))

    def labels(self, x: Tensor, ids: Tensor, mask: Tensor, select: Tensor) -> Tensor:
        pts = x[select].float()
        # ||a-c||^2 = |c|^2 - 2 a.c (+|a|^2, constant per row): one matmul, no [M, k, 7] tensor
        score = (self.centroids**2).sum(-1) - 2 * pts @ self.centroids.T
        return score.argmin(-1)


class BinningTarget(ClassTarget):
    """Equal-frequency bins per feature, combined into one token index (mixed radix)."""

    kind = "binning"

    def __init__(
        self,
        in_dim: int,
        bins: list[int] | tuple[int, ...] = (8, 8, 8, 2, 2, 2, 2),
        hidden: int = 128,
        smoothing: float = 0.0,
    ) -> None:
        bins = [int(b) for b in bins]
        if len(bins) != N_FEATURES or min(bins) < 1:
            raise ValueError(f"binning needs {N_FEATURES} positive bin counts, got {bins}")
        super().__init__(in_dim, math.prod(bins), hidden, smoothing)
        self.bins = bins
        width = max(max(bins) - 1, 1)
        self.register_buffer("edges", torch.full((N_FEATURES, width), float("inf")))
        strides = np.cumprod([1] + bins[:-1])
        self.register_buffer("strides", torch.as_tensor(strides, dtype=torch.long))

    def fit(self, data: dict[str, Tensor], seed: int) -> None:
        x = _real_points(data, 1_000_000, seed).cpu().numpy().astype(np.float64)
        edges = self.edges.clone()
        for f, b in enumerate(self.bins):
            if b > 1:
                edges[f, : b - 1] = torch.as_tensor(np.quantile(x[:, f], np.arange(1, b) / b))
        self.edges.copy_(edges)

    def labels(self, x: Tensor, ids: Tensor, mask: Tensor, select: Tensor) -> Tensor:
        pts = x[select].float().T.contiguous()  # [7, M]
        idx = torch.searchsorted(self.edges, pts, right=True)  # [7, M], < bins[f] (inf padding)
        return (idx * self.strides[:, None]).sum(0)


class VQVAETarget(ClassTarget):
    """Codes of a frozen VQ-VAE trained in `fit`; it stays in eval mode (codebook never moves)."""

    kind = "vqvae"

    def __init__(
        self,
        in_dim: int,
        hidden: int = 128,
        smoothing: float = 0.05,
        vq: dict[str, Any] | None = None,
        fit_steps: int = 500,
        fit_batch: int = 128,
        fit_lr: float = 1e-3,
    ) -> None:
        self.vq_cfg = dict(vq or {})
        vqvae = VQVAE(**self.vq_cfg)
        super().__init__(in_dim, vqvae.codebook_size, hidden, smoothing)
        self.vqvae = vqvae
        self.fit_steps, self.fit_batch, self.fit_lr = fit_steps, fit_batch, fit_lr
        self.vqvae.requires_grad_(False)
        self.fit_logs: dict[str, float] = {}

    def train(self, mode: bool = True) -> VQVAETarget:
        super().train(mode)
        self.vqvae.eval()
        return self

    def fit(self, data: dict[str, Tensor], seed: int) -> None:
        self.vqvae.requires_grad_(True)
        self.fit_logs = fit_vqvae(self.vqvae, data, self.fit_steps, self.fit_batch, self.fit_lr, seed)
        self.vqvae.requires_grad_(False)
        self.vqvae.eval()

    def labels(self, x: Tensor, ids: Tensor, mask: Tensor, select: Tensor) -> Tensor:
        with torch.no_grad():
            codes = self.vqvae.codes(x, ids, mask)
        return codes[select]


# VQ-VAE tokeniser size and fitting budget per scale, the same for MPMv1 and MPMv2 (their recipes differ)
VQVAE_SCALES: PerScale[dict[str, Any]] = PerScale({
    "smoke": {"fit_steps": 30, "fit_batch": 32, "vq": {"dim": 16, "depth": 1, "heads": 2, "codebook_size": 32}},
    "cpu": {"fit_steps": 200, "fit_batch": 64, "vq": {"dim": 64, "depth": 2, "heads": 4, "codebook_size": 512}},
    "paper": {"fit_steps": 20000, "fit_batch": 256, "vq": {"dim": 128, "depth": 3, "heads": 8, "codebook_size": 512}},
}, "VQ-VAE tokeniser")


def vqvae_target_cfg(scale: str, hidden: int, smoothing: float, **recipe: Any) -> dict[str, Any]:
    """`VQVAETarget` config at a scale: the shared size plus a paper's head width, smoothing and
    VQ-VAE recipe (`recipe` = the remaining `VQVAE` keywords: code_dim, cosine, decay, ...)."""
    size = VQVAE_SCALES[scale]
    return {
        "hidden": hidden,
        "smoothing": smoothing,
        "fit_steps": size["fit_steps"],
        "fit_batch": size["fit_batch"],
        "vq": {**size["vq"], **recipe},
    }
