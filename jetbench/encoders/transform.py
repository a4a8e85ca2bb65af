"""Input transform: per-feature quantile map to a standard normal (paper 2), applied in torch.

Fitted once with sklearn's QuantileTransformer (500 quantiles) on the real constituents of the
pretraining sample; the quantile table is stored as buffers (so it travels in the safetensors
checkpoint) and applied with the same interpolation formula as sklearn, on any device.

Neutral particles (photons, neutral hadrons) have no track, so their impact parameters (d0, σd0,
z0, σz0) carry no information; after the transform they are replaced by N(0, 1) noise, as in
paper 2. That noise is drawn only in training mode (or when a seeded generator is passed); in eval
mode they are set to 0, the noise mean, so `encode()` in eval is deterministic.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from jetbench.core.errors import JetbenchError

NEUTRAL_IDS = (0, 2)  # photon, neutral hadron
IMPACT_FEATURES = (3, 4, 5, 6)  # d0, σd0, z0, σz0
_BOUND = 1e-7  # sklearn's BOUNDS_THRESHOLD


def _interp(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """np.interp per row: x [F, N], xp [F, Q] non-decreasing, fp [Q] -> [F, N]."""
    Q = xp.shape[1]
    x = torch.maximum(torch.minimum(x, xp[:, -1:]), xp[:, :1])
    hi = torch.searchsorted(xp, x.contiguous(), right=True).clamp(1, Q - 1)
    x0, x1 = torch.gather(xp, 1, hi - 1), torch.gather(xp, 1, hi)
    y0, y1 = fp[hi - 1], fp[hi]
    dx = x1 - x0
    t = torch.where(dx > 0, (x - x0) / torch.where(dx > 0, dx, torch.ones_like(dx)), torch.ones_like(dx))
    return y0 + t * (y1 - y0)


class QuantileInputTransform(nn.Module):
    """Raw canonical features [.., 7] -> approximately N(0, 1) per feature."""

    def __init__(self, n_features: int = 7, n_quantiles: int = 500) -> None:
        super().__init__()
        self.register_buffer("quantiles", torch.zeros(n_features, n_quantiles))
        self.register_buffer("references", torch.linspace(0.0, 1.0, n_quantiles))
        self.register_buffer("fitted", torch.tensor(False))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    def fit(self, csts: np.ndarray, mask: np.ndarray, seed: int, max_samples: int = 1_000_000) -> None:
        """Fit on the real constituents (at most `max_samples`, drawn with `seed`)."""
        from sklearn.preprocessing import QuantileTransformer  # lazy: seconds to import; fit only

        x = np.asarray(csts, np.float64)[np.asarray(mask, bool)]
        if len(x) < 2:
            raise JetbenchError("cannot fit the input transform on fewer than 2 constituents")
        rng = np.random.default_rng(seed)
        if len(x) > max_samples:
            x = x[rng.choice(len(x), max_samples, replace=False)]
        n_q = self.quantiles.shape[1]
        qt = QuantileTransformer(
            n_quantiles=min(n_q, len(x)),
            output_distribution="normal",
            subsample=len(x),
            random_state=seed,
        ).fit(x)
        table = qt.quantiles_  # [q, F] at levels qt.references_
        if table.shape[0] != n_q:  # small sample: resample the table onto the fixed grid
            levels = self.references.cpu().numpy().astype(np.float64)
            table = np.stack(
                [np.interp(levels, qt.references_, table[:, f]) for f in range(table.shape[1])],
                axis=1,
            )
        self.quantiles.copy_(torch.as_tensor(table.T, dtype=torch.float32))
        self.fitted.fill_(True)

    def forward(self, csts: Tensor, ids: Tensor, mask: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if not self.is_fitted:
            raise JetbenchError(
                "the encoder's input transform is not fitted; call fit_preprocessing(sample, seed) or load a checkpoint"
            )
        shape = csts.shape
        x = csts.reshape(-1, shape[-1]).T.float()  # [F, N]
        q, r = self.quantiles, self.references
        # sklearn's symmetric interpolation (robust to repeated quantiles, e.g. neutrals' d0 = 0)
        u = 0.5 * (_interp(x, q, r) - _interp(-x, -q.flip(1), -r.flip(0)))
        u = torch.where(x + _BOUND > q[:, -1:], torch.ones_like(u), u)
        u = torch.where(x - _BOUND < q[:, :1], torch.zeros_like(u), u)
        lo = torch.special.ndtri(torch.tensor(_BOUND - np.spacing(1), dtype=torch.float64)).item()
        z = torch.special.ndtri(u.double()).clamp(lo, -lo).float()
        z = z.T.reshape(shape)
        neutral = (ids == NEUTRAL_IDS[0]) | (ids == NEUTRAL_IDS[1])
        impact = torch.zeros(shape[-1], dtype=torch.bool, device=z.device)
        impact[list(IMPACT_FEATURES)] = True
        replace = (neutral & mask).unsqueeze(-1) & impact
        if self.training or generator is not None:
            fill = torch.randn(shape, generator=generator, device=z.device, dtype=z.dtype)
        else:
            fill = torch.zeros_like(z)
        z = torch.where(replace, fill, z)
        return z * mask.unsqueeze(-1).to(z.dtype)
