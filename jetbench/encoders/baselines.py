"""Baselines without a pretraining objective (DESIGN §5).

`scratch`: the MPM backbone from random initialisation (fine-tuned downstream = "from scratch").
`nobackbone`: feature + id embeddings only, 0 transformer layers — the task head does all the work.
Both still fit the input transform on the pretraining sample, so their inputs match the MPM models.
"""

from __future__ import annotations

from typing import Any

from jetbench.encoders.model import BACKBONE_SCALES, SetEncoder
from jetbench.encoders.registry import build, register_encoder


class RandomInitEncoder(SetEncoder):
    """A `SetEncoder` used as initialised: pretraining is skipped."""

    needs_pretraining = False


@register_encoder
def scratch(scale: str = "cpu", **overrides: Any) -> RandomInitEncoder:
    return build(RandomInitEncoder, "scratch", dict(BACKBONE_SCALES[scale]), overrides)


@register_encoder
def nobackbone(scale: str = "cpu", **overrides: Any) -> RandomInitEncoder:
    return build(RandomInitEncoder, "nobackbone", {**BACKBONE_SCALES[scale], "depth": 0}, overrides)
