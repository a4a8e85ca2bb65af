"""Pretraining targets by the name an encoder config uses (`target: flow`, ...)."""

from __future__ import annotations

from typing import Any

from jetbench.encoders.generative import CFMTarget, FlowTarget
from jetbench.encoders.targets import (
    BinningTarget,
    KMeansTarget,
    RegressionTarget,
    Target,
    VQVAETarget,
)

TARGETS: dict[str, type[Target]] = {
    "reg": RegressionTarget,
    "kmeans": KMeansTarget,
    "binning": BinningTarget,
    "vqvae": VQVAETarget,
    "flow": FlowTarget,
    "cfm": CFMTarget,
}


def build_target(kind: str, in_dim: int, cfg: dict[str, Any]) -> Target:
    """The target named `kind` with head input width `in_dim` and its config."""
    if kind not in TARGETS:
        raise ValueError(f"unknown target '{kind}'; known: {', '.join(sorted(TARGETS))}")
    return TARGETS[kind](in_dim, **cfg)
